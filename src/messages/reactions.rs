//! Reactions: one emoji per person per kind on a message, idempotent both ways.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::message_in;
use crate::auth::AuthUser;
use crate::domain::event::ServerEvent;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::now;
use crate::users::Profile;

/// How many people reacted with one emoji, and whether you did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reaction {
    pub emoji: String,
    pub count: i64,
    pub me: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reactor {
    pub user: Profile,
    pub reacted_at: DateTime<Utc>,
}

/// A single emoji, as Unicode defines them (with skin tones and sequences), else 422.
fn parse_emoji(raw: &str) -> Result<String> {
    let emoji = raw.trim();
    match emojis::get(emoji) {
        Some(found) if emoji.len() <= 64 => Ok(found.as_str().to_string()),
        _ => Err(Error::Validation(vec![crate::error::FieldError::new(
            "value_error",
            &["path", "emoji"],
            "must be a single emoji",
            serde_json::Value::from(raw.chars().take(64).collect::<String>()),
        )])),
    }
}

/// Reacts (again: nothing changes) to a message.
pub async fn add(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
    emoji: &str,
) -> Result<()> {
    let emoji = parse_emoji(emoji)?;
    let (chat, _, message) = message_in(state, viewer, chat_id, message_id).await?;
    if message.deleted_at.is_some() {
        return Err(Error::NotFound("Message was deleted".into()));
    }
    let max = state.config.reaction_kinds_max as i64;
    let before = state.db.reaction_count(&message.id, &emoji).await?;
    if !state
        .db
        .add_reaction(&message.id, &viewer.user_id, &emoji, max, now())
        .await?
    {
        return Err(Error::invalid(
            "emoji",
            format!("a message takes at most {max} different reactions"),
            emoji.as_str(),
        ));
    }
    let count = state.db.reaction_count(&message.id, &emoji).await?;
    if count != before {
        announce(
            state,
            &chat.id,
            &message.id,
            message.seq,
            &emoji,
            &viewer.user_id,
            true,
            count,
        );
    }
    Ok(())
}

/// Takes a reaction back (if it was not there, nothing changes).
pub async fn remove(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
    emoji: &str,
) -> Result<()> {
    let emoji = parse_emoji(emoji)?;
    let (chat, _, message) = message_in(state, viewer, chat_id, message_id).await?;
    let before = state.db.reaction_count(&message.id, &emoji).await?;
    state
        .db
        .remove_reaction(&message.id, &viewer.user_id, &emoji)
        .await?;
    let count = state.db.reaction_count(&message.id, &emoji).await?;
    if count != before {
        announce(
            state,
            &chat.id,
            &message.id,
            message.seq,
            &emoji,
            &viewer.user_id,
            false,
            count,
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn announce(
    state: &AppState,
    chat_id: &str,
    message_id: &str,
    seq: i64,
    emoji: &str,
    user_id: &str,
    added: bool,
    count: i64,
) {
    let event = ServerEvent::ReactionUpdated {
        chat_id: chat_id.into(),
        message_id: message_id.into(),
        seq,
        emoji: emoji.into(),
        user_id: user_id.into(),
        added,
        count,
    };
    state.realtime.to_chat(chat_id, &event, Some(user_id));
}

/// Who reacted with `emoji`, first first.
pub async fn who(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
    emoji: &str,
) -> Result<Vec<Reactor>> {
    let emoji = parse_emoji(emoji)?;
    let (_, _, message) = message_in(state, viewer, chat_id, message_id).await?;
    let rows = state.db.reactors(&message.id, &emoji).await?;
    let ids = rows.iter().map(|(id, _)| id.clone()).collect();
    let mut profiles = crate::contacts::profiles(state, viewer, ids).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| {
            Some(Reactor {
                user: profiles.remove(&id)?,
                reacted_at: at,
            })
        })
        .collect())
}
