//! Forwarding: a message copied into other chats, its files by reference, with a
//! note of where it came from that only people in the source chat can follow.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{MessageView, check_may_post, commit, message_in, new_text};
use crate::auth::AuthUser;
use crate::chats;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::ForwardRow;

/// The most chats one forward may go to.
const TARGETS_MAX: usize = 10;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ForwardedFrom {
    /// Null unless you are in the chat it came from.
    pub chat_id: Option<String>,
    pub message_id: Option<String>,
    /// The original's seq in its chat (to load the history around it); null as above.
    pub seq: Option<i64>,
    pub sender_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ForwardRequest {
    pub to_chat_ids: Vec<String>,
}

/// Forwards a message to each chat of `to_chat_ids`: you must be able to read it and
/// to post in every target, or nothing is sent.
pub async fn forward(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
    req: ForwardRequest,
) -> Result<Vec<MessageView>> {
    let (source_chat, _, message) = message_in(state, viewer, chat_id, message_id).await?;
    if message.deleted_at.is_some() || message.kind != "text" {
        return Err(Error::NotFound("Message not found".into()));
    }
    let mut targets = req.to_chat_ids;
    let mut unique = std::collections::HashSet::new();
    targets.retain(|t| unique.insert(t.clone()));
    if targets.is_empty() || targets.len() > TARGETS_MAX {
        return Err(Error::invalid(
            "to_chat_ids",
            format!("between 1 and {TARGETS_MAX} chats"),
            targets.len(),
        ));
    }
    // Every target is checked before anything is sent.
    let mut checked = Vec::with_capacity(targets.len());
    for target in &targets {
        let (chat, me, blocked) = chats::membership_with_block(state, viewer, target).await?;
        check_may_post(&chat, &me, blocked)?;
        checked.push(chat);
    }
    let attachments: Vec<String> = state
        .db
        .attachments_of_many(std::slice::from_ref(&message.id))
        .await?
        .remove(&message.id)
        .unwrap_or_default()
        .into_iter()
        .map(|f| f.id)
        .collect();
    let from = ForwardRow {
        from_chat_id: source_chat.id.clone(),
        from_message_id: message.id.clone(),
        from_sender_id: message.sender_id.clone(),
        from_created_at: message.created_at,
    };
    let mut sent = Vec::with_capacity(checked.len());
    for chat in checked {
        let mut new = new_text(
            &chat,
            viewer,
            message.content.clone(),
            None,
            None,
            Vec::new(),
            attachments.clone(),
        );
        new.forwarded_from = Some(from.clone());
        sent.push(commit(state, viewer, new).await?.0);
    }
    Ok(sent)
}

/// Where these messages were forwarded from, as `viewer` may see it.
pub async fn sources_seen_by(
    state: &AppState,
    viewer: &AuthUser,
    message_ids: &[String],
) -> Result<HashMap<String, ForwardedFrom>> {
    let forwards = state.db.forwards_of_many(message_ids).await?;
    let mut in_chat: HashMap<String, bool> = HashMap::new();
    let mut seen = HashMap::with_capacity(forwards.len());
    for (message_id, (from, seq)) in forwards {
        let member = match in_chat.get(&from.from_chat_id) {
            Some(member) => *member,
            None => {
                let member = state
                    .db
                    .member(&from.from_chat_id, &viewer.user_id)
                    .await?
                    .is_some();
                in_chat.insert(from.from_chat_id.clone(), member);
                member
            }
        };
        seen.insert(
            message_id,
            ForwardedFrom {
                chat_id: member.then_some(from.from_chat_id),
                message_id: member.then_some(from.from_message_id),
                seq: seq.filter(|_| member),
                sender_id: from.from_sender_id,
                created_at: from.from_created_at,
            },
        );
    }
    Ok(seen)
}
