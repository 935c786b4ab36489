//! Pinned messages: who may pin is a chat setting (everyone, or admins).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{MessageView, message_in, views_of};
use crate::auth::AuthUser;
use crate::chats::{self, Policy, Role};
use crate::domain::event::ServerEvent;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::now;

/// The most messages one chat may have pinned.
const PINS_MAX: i64 = 50;

#[derive(Debug, Serialize, ToSchema)]
pub struct Pin {
    pub message: MessageView,
    pub pinned_by: Option<String>,
    pub pinned_at: DateTime<Utc>,
}

async fn may_pin(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
) -> Result<crate::store::MessageRow> {
    let (chat, me, message) = message_in(state, viewer, chat_id, message_id).await?;
    if !Policy::from_stored(&chat.pin_policy).allows(Role::from_stored(&me.role)) {
        return Err(Error::Forbidden(
            "Only admins can pin messages in this chat".into(),
        ));
    }
    if message.deleted_at.is_some() {
        return Err(Error::NotFound("Message was deleted".into()));
    }
    Ok(message)
}

pub async fn pin(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
) -> Result<()> {
    let message = may_pin(state, viewer, chat_id, message_id).await?;
    if !state
        .db
        .pin(
            &message.chat_id,
            &message.id,
            &viewer.user_id,
            PINS_MAX,
            now(),
        )
        .await?
    {
        return Err(Error::Conflict(format!(
            "A chat can have at most {PINS_MAX} pinned messages"
        )));
    }
    announce(state, &message.chat_id, &message.id, &viewer.user_id, true);
    Ok(())
}

pub async fn unpin(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
) -> Result<()> {
    let (chat, me, message) = message_in(state, viewer, chat_id, message_id).await?;
    if !Policy::from_stored(&chat.pin_policy).allows(Role::from_stored(&me.role)) {
        return Err(Error::Forbidden(
            "Only admins can unpin messages in this chat".into(),
        ));
    }
    if !state.db.unpin(&chat.id, &message.id).await? {
        return Err(Error::NotFound("This message is not pinned".into()));
    }
    announce(state, &chat.id, &message.id, &viewer.user_id, false);
    Ok(())
}

fn announce(state: &AppState, chat_id: &str, message_id: &str, by: &str, pinned: bool) {
    let event = ServerEvent::PinUpdated {
        chat_id: chat_id.into(),
        message_id: message_id.into(),
        pinned,
        by: by.into(),
    };
    state.realtime.to_chat(chat_id, &event, Some(by));
}

/// A chat's pinned messages, newest pin first.
pub async fn list(state: &AppState, viewer: &AuthUser, chat_id: &str) -> Result<Vec<Pin>> {
    let (chat, _) = chats::membership(state, viewer, chat_id).await?;
    let rows = state.db.pins(&chat.id).await?;
    let (pins, messages): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    let views = views_of(state, viewer, messages).await?;
    Ok(pins
        .into_iter()
        .zip(views)
        .map(|(pin, message)| Pin {
            message,
            pinned_by: pin.pinned_by,
            pinned_at: pin.pinned_at,
        })
        .collect())
}
