//! What is live rather than stored: events to connected clients, who is around.
//!
//! Use cases publish through [`Realtime`] after their change is committed; the hub
//! hands events to connections (see `gateway`), through a broker so that several
//! nodes can share the work later.

pub mod broker;
pub mod gateway;
pub mod hub;
pub mod presence;

use std::sync::Arc;

use broker::{Broker, InProcess};
use hub::{Hub, Published};

use crate::domain::event::ServerEvent;

pub struct Realtime {
    pub hub: Arc<Hub>,
    broker: Box<dyn Broker>,
}

impl Default for Realtime {
    fn default() -> Self {
        let hub = Arc::new(Hub::default());
        Self {
            broker: Box::new(InProcess { hub: hub.clone() }),
            hub,
        }
    }
}

pub fn chat_topic(chat_id: &str) -> String {
    format!("chat:{chat_id}")
}

pub fn user_topic(user_id: &str) -> String {
    format!("user:{user_id}")
}

impl Realtime {
    /// To every member connected to a chat. `actor` is who caused it.
    pub fn to_chat(&self, chat_id: &str, event: &ServerEvent, actor: Option<&str>) {
        self.broker
            .publish(&chat_topic(chat_id), Arc::new(Published::new(event, actor)));
    }

    /// To every connection of one user.
    pub fn to_user(&self, user_id: &str, event: &ServerEvent) {
        self.broker
            .publish(&user_topic(user_id), Arc::new(Published::new(event, None)));
    }

    /// A user joined (or left) a chat: their connections start (or stop) receiving it
    /// now, before any event about it is published.
    pub fn follow_chat(&self, user_id: &str, chat_id: &str, follow: bool) {
        self.hub
            .follow(&user_topic(user_id), &chat_topic(chat_id), follow);
    }
}
