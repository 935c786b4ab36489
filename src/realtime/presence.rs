//! Presence: who is around, kept in memory, apart from the status people choose.
//!
//! A user is around while they have a live connection or made a request within the
//! idle time. What others see combines that with their chosen status (see
//! [`visible_status`]). `last_seen` is kept here while people are active and written to
//! the database now and then, so a busy server does not write on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::domain::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Connected or recently active.
    Active,
    /// Connected, but idle for longer than the idle time.
    Idle,
    /// No connection, and no request for longer than the idle time.
    Gone,
}

struct Entry {
    /// The status last announced to others, so only changes are announced.
    announced: Option<Status>,
    connections: u32,
    /// When the last connection closed: the user stays around for a short grace time,
    /// so a reconnect does not flap their status.
    disconnected_at: Option<Instant>,
    last_active: Instant,
    last_seen: DateTime<Utc>,
    /// Seen since the last flush to the database.
    dirty: bool,
}

/// How long someone still shows as around after their last connection closed.
pub const GRACE: Duration = Duration::from_secs(15);

pub struct Presence {
    idle_after: Duration,
    users: Mutex<HashMap<String, Entry>>,
}

impl Presence {
    pub fn new(idle_after: Duration) -> Self {
        Self {
            idle_after,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that the user did something just now.
    pub fn touch(&self, user_id: &str) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let now = (Instant::now(), crate::store::now());
        match users.get_mut(user_id) {
            Some(entry) => {
                entry.last_active = now.0;
                entry.last_seen = now.1;
                entry.dirty = true;
            }
            None => {
                let entry = Entry {
                    announced: None,
                    connections: 0,
                    disconnected_at: None,
                    last_active: now.0,
                    last_seen: now.1,
                    dirty: true,
                };
                users.insert(user_id.to_string(), entry);
            }
        }
    }

    pub fn activity(&self, user_id: &str) -> Activity {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let Some(e) = users.get(user_id) else {
            return Activity::Gone;
        };
        let recently_active = e.last_active.elapsed() < self.idle_after;
        match (e.connections, e.disconnected_at) {
            (0, Some(at)) if at.elapsed() < GRACE => Activity::Active,
            (0, Some(_)) => Activity::Gone,
            (0, None) if recently_active => Activity::Active,
            (0, None) => Activity::Gone,
            _ if recently_active => Activity::Active,
            _ => Activity::Idle,
        }
    }

    /// A connection of the user opened.
    pub fn connected(&self, user_id: &str) {
        self.touch(user_id);
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = users.get_mut(user_id) {
            entry.connections += 1;
            entry.disconnected_at = None;
        }
    }

    /// A connection of the user closed.
    pub fn disconnected(&self, user_id: &str) {
        self.touch(user_id);
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = users.get_mut(user_id) {
            entry.connections = entry.connections.saturating_sub(1);
            if entry.connections == 0 {
                entry.disconnected_at = Some(Instant::now());
            }
        }
    }

    /// Records `status` as what others now see of the user; false if they saw it already.
    pub fn changed(&self, user_id: &str, status: Status) -> bool {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        match users.get_mut(user_id) {
            Some(entry) if entry.announced == Some(status) => false,
            Some(entry) => {
                entry.announced = Some(status);
                true
            }
            None => status != Status::Offline,
        }
    }

    /// The client says the user is idle (away) or back.
    pub fn set_idle(&self, user_id: &str, idle: bool) {
        if !idle {
            return self.touch(user_id);
        }
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = users.get_mut(user_id)
            && let Some(long_ago) = Instant::now().checked_sub(self.idle_after)
        {
            entry.last_active = long_ago;
        }
    }

    /// How many connections the user has open on this node.
    pub fn connections(&self, user_id: &str) -> u32 {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.get(user_id).map_or(0, |e| e.connections)
    }

    /// When the user was last active in this process, if they were.
    pub fn last_seen(&self, user_id: &str) -> Option<DateTime<Utc>> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.get(user_id).map(|e| e.last_seen)
    }

    /// Takes the `last_seen` times not yet written, and forgets users long gone.
    pub fn take_unsaved(&self) -> Vec<(String, DateTime<Utc>)> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let idle_after = self.idle_after;
        users.retain(|_, e| e.dirty || e.connections > 0 || e.last_active.elapsed() < idle_after);
        users
            .iter_mut()
            .filter(|(_, e)| e.dirty)
            .map(|(id, e)| {
                e.dirty = false;
                (id.clone(), e.last_seen)
            })
            .collect()
    }

    /// Forgets a user at once (their account was deleted or deactivated).
    pub fn forget(&self, user_id: &str) {
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(user_id);
    }
}

/// The status others see: nobody looks online without being around, and a chosen
/// away, busy or offline wins over being around.
pub fn visible_status(chosen: Status, activity: Activity) -> Status {
    match (activity, chosen) {
        (Activity::Gone, _) | (_, Status::Offline) => Status::Offline,
        (_, Status::Busy) => Status::Busy,
        (_, Status::Away) | (Activity::Idle, _) => Status::Away,
        (Activity::Active, Status::Online) => Status::Online,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_status_wins_over_activity_but_never_looks_online_when_gone() {
        use Activity::*;
        use Status::*;
        assert_eq!(visible_status(Online, Active), Online);
        assert_eq!(visible_status(Online, Idle), Away);
        assert_eq!(visible_status(Online, Gone), Offline);
        assert_eq!(visible_status(Busy, Active), Busy);
        assert_eq!(visible_status(Busy, Gone), Offline);
        assert_eq!(visible_status(Offline, Active), Offline);
        assert_eq!(visible_status(Away, Active), Away);
    }

    #[test]
    fn activity_follows_touches() {
        let presence = Presence::new(Duration::from_millis(50));
        assert_eq!(presence.activity("a"), Activity::Gone);
        presence.touch("a");
        assert_eq!(presence.activity("a"), Activity::Active);
        assert!(presence.last_seen("a").is_some());
        assert_eq!(presence.take_unsaved().len(), 1);
        assert!(presence.take_unsaved().is_empty(), "saved once");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(presence.activity("a"), Activity::Gone);
    }
}
