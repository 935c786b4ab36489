//! The realtime wire protocol: what the server sends over a WebSocket, and what a
//! client may send. JSON objects with a `type`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::messages::MessageView;

/// A chat as the `ready` frame lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadyChat {
    pub id: String,
    pub last_seq: i64,
    pub read_seq: i64,
    pub unread_count: i64,
    /// Unread replies in threads I follow here (not part of `unread_count`).
    pub thread_unread_count: i64,
}

/// Someone's status as the receiver may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PresenceView {
    pub user_id: String,
    pub status: crate::domain::Status,
    pub status_text: Option<String>,
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
}

/// Events the server sends.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum ServerEvent {
    /// The first frame: who you are and where each of your chats stands.
    #[serde(rename = "ready")]
    Ready {
        user_id: String,
        chats: Vec<ReadyChat>,
        presence: Vec<PresenceView>,
    },
    /// Someone you may see changed status (online, away, busy, offline).
    #[serde(rename = "presence")]
    Presence(PresenceView),
    #[serde(rename = "message.created")]
    MessageCreated { message: MessageView },
    #[serde(rename = "message.updated")]
    MessageUpdated { message: MessageView },
    #[serde(rename = "message.deleted")]
    MessageDeleted {
        chat_id: String,
        message_id: String,
        seq: i64,
    },
    /// Someone's read pointer moved.
    #[serde(rename = "read")]
    Read {
        chat_id: String,
        user_id: String,
        read_seq: i64,
    },
    #[serde(rename = "typing")]
    Typing { chat_id: String, user_id: String },
    /// A chat appeared for you, or changed: reload it with `GET /chats/{id}`.
    #[serde(rename = "chat.updated")]
    ChatUpdated { chat_id: String },
    #[serde(rename = "chat.deleted")]
    ChatDeleted { chat_id: String },
    #[serde(rename = "member.added")]
    MemberAdded {
        chat_id: String,
        user_ids: Vec<String>,
    },
    #[serde(rename = "member.removed")]
    MemberRemoved { chat_id: String, user_id: String },
    /// A friend request to you, or from you (to your other devices): reload requests.
    #[serde(rename = "friend.request")]
    FriendRequest {
        request_id: String,
        from_user_id: String,
        to_user_id: String,
    },
    /// A pending request was declined or cancelled.
    #[serde(rename = "friend.request.removed")]
    FriendRequestRemoved { request_id: String },
    /// You and `user_id` are now friends.
    #[serde(rename = "friend.added")]
    FriendAdded { user_id: String },
    /// You and `user_id` are no longer friends (unfriended or blocked).
    #[serde(rename = "friend.removed")]
    FriendRemoved { user_id: String },
    /// Someone's profile changed (name, avatar, bio, or the account was deleted):
    /// reload it with `GET /users/{id}`.
    #[serde(rename = "user.updated")]
    UserUpdated { user_id: String },
    /// One or more of your sessions ended (logout, password change): a socket of an
    /// ended session is closed with 4401 at once; others may reload their sessions.
    #[serde(rename = "sessions.changed")]
    SessionsChanged,
    /// A thread gained or lost a reply.
    #[serde(rename = "thread.updated")]
    ThreadUpdated {
        chat_id: String,
        root_id: String,
        thread: crate::messages::threads::ThreadSummary,
    },
    /// I followed, unfollowed or read a thread (to my own devices).
    #[serde(rename = "thread.state")]
    ThreadState {
        chat_id: String,
        root_id: String,
        following: bool,
        unread_count: i64,
    },
    /// Someone reacted (`added`) or took a reaction back; `count` is the new total.
    #[serde(rename = "reaction.updated")]
    ReactionUpdated {
        chat_id: String,
        message_id: String,
        seq: i64,
        emoji: String,
        user_id: String,
        added: bool,
        count: i64,
    },
    /// A message was pinned or unpinned.
    #[serde(rename = "pin.updated")]
    PinUpdated {
        chat_id: String,
        message_id: String,
        pinned: bool,
        by: String,
    },
    /// The answer to a `message.send`: the committed message.
    #[serde(rename = "ack")]
    Ack {
        client_id: Option<String>,
        message: MessageView,
    },
    /// Too much was missed in this chat to replay: reload its history.
    #[serde(rename = "resync")]
    Resync { chat_id: String },
    /// A frame was refused; the connection lives on.
    #[serde(rename = "error")]
    Error {
        code: u16,
        detail: String,
        client_id: Option<String>,
    },
    #[serde(rename = "pong")]
    Pong,
}

/// Frames a client may send.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum ClientFrame {
    #[serde(rename = "auth")]
    Auth { token: String },
    #[serde(rename = "message.send")]
    MessageSend {
        chat_id: String,
        /// The same body as `POST /chats/{chat_id}/messages`.
        #[serde(flatten)]
        message: crate::messages::SendMessage,
    },
    #[serde(rename = "typing")]
    Typing { chat_id: String },
    #[serde(rename = "read")]
    Read { chat_id: String, up_to_seq: i64 },
    /// The last seq seen per chat: the server replays what came after.
    #[serde(rename = "resume")]
    Resume { chats: HashMap<String, i64> },
    /// Say you are away (idle) or back (`online`); your chosen status still wins.
    #[serde(rename = "presence")]
    Presence { status: crate::domain::Status },
    #[serde(rename = "ping")]
    Ping,
}

impl ServerEvent {
    /// The chat an event belongs to, and its seq when it carries a new message (so a
    /// resuming connection can drop what it already replayed).
    pub fn message_seq(&self) -> Option<(&str, i64)> {
        match self {
            Self::MessageCreated { message } => Some((&message.chat_id, message.seq)),
            _ => None,
        }
    }
}
