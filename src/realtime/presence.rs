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
    /// Listed by [`Presence::newly_idle`] (or idle by the client's word) since the
    /// last activity: its away has been announced, its return must be.
    idle_noted: bool,
}

/// How long someone still shows as around after their last connection closed.
pub const GRACE: Duration = Duration::from_secs(15);

pub struct Presence {
    idle_after: Duration,
    users: Mutex<HashMap<String, Entry>>,
    /// Announcements of one user take turns (striped by user id): two racing ones
    /// could otherwise read the user before and after a change and send them in the
    /// wrong order, leaving the stale status last.
    turns: [tokio::sync::Mutex<()>; 64],
}

impl Presence {
    pub fn new(idle_after: Duration) -> Self {
        Self {
            idle_after,
            users: Mutex::new(HashMap::new()),
            turns: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }

    /// Waits for this user's turn to announce their presence.
    pub async fn announce_turn(&self, user_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(user_id);
        self.turns[(hash % self.turns.len() as u64) as usize]
            .lock()
            .await
    }

    /// Notes that the user did something just now. True if they had been idle: their
    /// return should be announced.
    pub fn touch(&self, user_id: &str) -> bool {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let now = (Instant::now(), crate::store::now());
        match users.get_mut(user_id) {
            Some(entry) => {
                let woke = entry.idle_noted;
                entry.last_active = now.0;
                entry.last_seen = now.1;
                entry.dirty = true;
                entry.idle_noted = false;
                woke
            }
            None => {
                let entry = Entry {
                    announced: None,
                    connections: 0,
                    disconnected_at: None,
                    last_active: now.0,
                    last_seen: now.1,
                    dirty: true,
                    idle_noted: false,
                };
                users.insert(user_id.to_string(), entry);
                false
            }
        }
    }

    /// Connected users who went idle since the last call: their away is due.
    pub fn newly_idle(&self) -> Vec<String> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let idle_after = self.idle_after;
        users
            .iter_mut()
            .filter(|(_, e)| {
                e.connections > 0 && !e.idle_noted && e.last_active.elapsed() >= idle_after
            })
            .map(|(id, e)| {
                e.idle_noted = true;
                id.clone()
            })
            .collect()
    }

    /// How often [`sweep`] looks for users gone idle.
    fn sweep_every(&self) -> Duration {
        (self.idle_after / 4).clamp(Duration::from_millis(250), Duration::from_secs(15))
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
            self.touch(user_id);
            return;
        }
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = users.get_mut(user_id)
            && let Some(long_ago) = Instant::now().checked_sub(self.idle_after)
        {
            entry.last_active = long_ago;
            entry.idle_noted = true;
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

/// Announces away for everyone connected who went idle, until shutdown. No client
/// frame is needed: a device left alone turns its user away by itself.
pub async fn sweep(state: crate::state::AppState) {
    let mut tick = tokio::time::interval(state.presence.sweep_every());
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        for user_id in state.presence.newly_idle() {
            if let Err(err) = crate::users::announce_presence(&state, &user_id).await {
                tracing::warn!(error = %err, "presence announcement failed");
            }
        }
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

    #[test]
    fn idle_is_listed_once_and_waking_is_reported() {
        let presence = Presence::new(Duration::from_millis(30));
        presence.connected("a");
        presence.touch("b"); // not connected: never idle, only gone
        assert!(presence.newly_idle().is_empty());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(presence.activity("a"), Activity::Idle);
        assert_eq!(presence.newly_idle(), vec!["a".to_string()]);
        assert!(presence.newly_idle().is_empty(), "listed once");
        assert!(presence.touch("a"), "woke from idle");
        assert!(!presence.touch("a"));
    }
}
