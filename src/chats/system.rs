//! System messages: what happened to a chat (created, joined, left, renamed...), kept
//! in its history like any message, with the event as JSON for clients to phrase.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Role;
use crate::domain::new_id;
use crate::store::MessageRow;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemEvent {
    Created {
        by: String,
        name: String,
        members: Vec<String>,
    },
    Added {
        by: String,
        users: Vec<String>,
    },
    Removed {
        by: String,
        user: String,
    },
    Left {
        user: String,
        new_owner: Option<String>,
    },
    Renamed {
        by: String,
        name: String,
    },
    RoleChanged {
        by: String,
        user: String,
        role: Role,
    },
}

impl SystemEvent {
    /// A plain-text line for clients that do not phrase events themselves.
    fn describe(&self) -> String {
        match self {
            Self::Created { name, .. } => format!("Group \"{name}\" created"),
            Self::Added { users, .. } => format!("{} member(s) added", users.len()),
            Self::Removed { .. } => "A member was removed".into(),
            Self::Left {
                new_owner: Some(_), ..
            } => "A member left and handed over ownership".into(),
            Self::Left { .. } => "A member left".into(),
            Self::Renamed { name, .. } => format!("Group renamed to \"{name}\""),
            Self::RoleChanged { role, .. } => format!("A member is now {}", role.as_str()),
        }
    }
}

/// A system message for `chat_id`, not yet given its seq.
pub fn message(chat_id: &str, event: SystemEvent, now: DateTime<Utc>) -> MessageRow {
    let content = event.describe();
    MessageRow {
        id: new_id(),
        chat_id: chat_id.into(),
        seq: 0,
        ord: 0,
        sender_id: None,
        kind: "system".into(),
        html: crate::messages::render::escape(&content),
        content,
        event: serde_json::to_string(&event).ok(),
        reply_to: None,
        client_id: None,
        created_at: now,
        edited_at: None,
        deleted_at: None,
        thread_root_id: None,
        also_in_chat: false,
        reply_count: 0,
        last_reply_seq: None,
        last_reply_at: None,
    }
}
