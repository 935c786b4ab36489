//! The hub: topics (`chat:<id>`, `user:<id>`) and the connections subscribed to them.
//!
//! An event is serialized once and handed to every subscriber's bounded queue. A
//! subscriber whose queue is full is not waited for: it is told to go (its connection
//! closes with 4008 and the client resumes by seq), so one slow reader never holds up
//! the others and server memory stays bounded.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::domain::event::ServerEvent;

/// An event on its way out: its JSON, and what a connection needs to route it.
#[derive(Debug)]
pub struct Published {
    /// The event's JSON, shared by every connection that sends it (no copy each).
    pub json: Utf8Bytes,
    /// The chat of a new message and its seq, to drop what a resume already replayed.
    pub message_seq: Option<(String, i64)>,
    /// Who caused it: typing is not echoed to its author.
    pub actor: Option<String>,
    /// When it was published, for the send→deliver latency.
    pub at: Instant,
    /// Only typing may be dropped for a blocked author; everything else is delivered.
    pub is_typing: bool,
    /// Sessions of the user ended: each connection checks that its own still lives.
    pub checks_session: bool,
}

impl Published {
    pub fn new(event: &ServerEvent, actor: Option<&str>) -> Self {
        Self {
            json: serde_json::to_string(event)
                .unwrap_or_else(|_| "{}".into())
                .into(),
            message_seq: event
                .message_seq()
                .map(|(chat, seq)| (chat.to_string(), seq)),
            actor: actor.map(str::to_string),
            at: Instant::now(),
            is_typing: matches!(event, ServerEvent::Typing { .. }),
            checks_session: matches!(event, ServerEvent::SessionsChanged),
        }
    }
}

pub type ConnId = u64;

#[derive(Clone)]
pub struct Subscriber {
    pub queue: mpsc::Sender<Arc<Published>>,
    /// Cancelled when the queue overflows: the connection must close.
    pub too_slow: CancellationToken,
}

#[derive(Default)]
pub struct Hub {
    topics: RwLock<HashMap<String, HashMap<ConnId, Subscriber>>>,
    /// Each connection's topics, to unsubscribe it in one go.
    by_conn: RwLock<HashMap<ConnId, HashSet<String>>>,
    next_id: AtomicU64,
}

impl Hub {
    pub fn next_conn_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn subscribe(&self, conn: ConnId, topic: String, subscriber: &Subscriber) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        topics
            .entry(topic.clone())
            .or_default()
            .insert(conn, subscriber.clone());
        drop(topics);
        self.by_conn
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(conn)
            .or_default()
            .insert(topic);
    }

    pub fn unsubscribe(&self, conn: ConnId, topic: &str) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if let Some(subscribers) = topics.get_mut(topic) {
            subscribers.remove(&conn);
            if subscribers.is_empty() {
                topics.remove(topic);
            }
        }
        drop(topics);
        if let Some(mine) = self
            .by_conn
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&conn)
        {
            mine.remove(topic);
        }
    }

    /// Removes a connection from every topic.
    pub fn disconnect(&self, conn: ConnId) {
        let mine = self
            .by_conn
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&conn)
            .unwrap_or_default();
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        for topic in mine {
            if let Some(subscribers) = topics.get_mut(&topic) {
                subscribers.remove(&conn);
                if subscribers.is_empty() {
                    topics.remove(&topic);
                }
            }
        }
    }

    /// Hands an event to every subscriber of `topic` without waiting for any.
    pub fn deliver(&self, topic: &str, event: &Arc<Published>) {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        let Some(subscribers) = topics.get(topic) else {
            return;
        };
        for subscriber in subscribers.values() {
            match subscriber.queue.try_send(event.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    metrics::counter!("ws_queue_overflows_total").increment(1);
                    subscriber.too_slow.cancel();
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Subscribes (or unsubscribes) every connection on `from` to `to`: a user's
    /// connections start or stop following a chat the moment their membership changes.
    pub fn follow(&self, from: &str, to: &str, follow: bool) {
        let conns: Vec<(ConnId, Subscriber)> = {
            let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
            topics
                .get(from)
                .map(|s| s.iter().map(|(id, sub)| (*id, sub.clone())).collect())
                .unwrap_or_default()
        };
        for (conn, subscriber) in conns {
            if follow {
                self.subscribe(conn, to.to_string(), &subscriber);
            } else {
                self.unsubscribe(conn, to);
            }
        }
    }

    pub fn connections(&self) -> usize {
        self.by_conn.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}
