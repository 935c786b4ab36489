//! What people do with messages besides sending them: reactions, pins, forwarding,
//! and my mentions. Thin handlers over `crate::messages::{reactions, pins, forward}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Query};
use super::{ErrorBody, ValidationErrorBody};
use crate::auth::AuthUser;
use crate::error::Result;
use crate::messages::forward::{self, ForwardRequest};
use crate::messages::pins::{self, Pin};
use crate::messages::reactions::{self, Reactor};
use crate::messages::{self, MentionsQuery, MessageView};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(react, unreact, reactors))
        .routes(routes!(pin, unpin))
        .routes(routes!(list_pins))
        .routes(routes!(mentions))
        .routes(routes!(forward))
}

/// Forward a message to other chats (its files by reference). You must be able to
/// post in every target, or nothing is sent.
#[utoipa::path(post, path = "/chats/{chat_id}/messages/{message_id}/forward", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path), ("message_id" = String, Path)),
    request_body = ForwardRequest,
    responses(
        (status = 201, description = "The new messages, one per target", body = [MessageView]),
        (status = 403, description = "May not post in a target", body = ErrorBody),
        (status = 404, description = "No such message, or a chat you are not in", body = ErrorBody),
        (status = 422, description = "No targets, or more than 10", body = ValidationErrorBody),
    ))]
async fn forward(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): Path<(String, String)>,
    Json(req): Json<ForwardRequest>,
) -> Result<(StatusCode, axum::Json<Vec<MessageView>>)> {
    let sent = forward::forward(&state, &auth, &chat_id, &message_id, req).await?;
    Ok((StatusCode::CREATED, axum::Json(sent)))
}

type ReactionPath = Path<(String, String, String)>;

/// React with an emoji (idempotent).
#[utoipa::path(put, path = "/chats/{chat_id}/messages/{message_id}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path), ("message_id" = String, Path), ("emoji" = String, Path, description = "One emoji, URL-encoded")),
    responses(
        (status = 204, description = "Reacted"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such chat or message", body = ErrorBody),
        (status = 422, description = "Not an emoji, or too many different reactions", body = ValidationErrorBody),
    ))]
async fn react(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id, emoji)): ReactionPath,
) -> Result<StatusCode> {
    reactions::add(&state, &auth, &chat_id, &message_id, &emoji).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take your reaction back (idempotent).
#[utoipa::path(delete, path = "/chats/{chat_id}/messages/{message_id}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path), ("message_id" = String, Path), ("emoji" = String, Path)),
    responses(
        (status = 204, description = "Not reacted"),
        (status = 404, description = "No such chat or message", body = ErrorBody),
        (status = 422, description = "Not an emoji", body = ValidationErrorBody),
    ))]
async fn unreact(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id, emoji)): ReactionPath,
) -> Result<StatusCode> {
    reactions::remove(&state, &auth, &chat_id, &message_id, &emoji).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who reacted with this emoji, first first.
#[utoipa::path(get, path = "/chats/{chat_id}/messages/{message_id}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path), ("message_id" = String, Path), ("emoji" = String, Path)),
    responses(
        (status = 200, description = "The people", body = [Reactor]),
        (status = 404, description = "No such chat or message", body = ErrorBody),
        (status = 422, description = "Not an emoji", body = ValidationErrorBody),
    ))]
async fn reactors(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id, emoji)): ReactionPath,
) -> Result<axum::Json<Vec<Reactor>>> {
    Ok(axum::Json(
        reactions::who(&state, &auth, &chat_id, &message_id, &emoji).await?,
    ))
}

/// Pin a message (who may: the chat's `pin` setting).
#[utoipa::path(post, path = "/chats/{chat_id}/pins/{message_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path), ("message_id" = String, Path)),
    responses(
        (status = 204, description = "Pinned"),
        (status = 403, description = "Only admins may pin here", body = ErrorBody),
        (status = 404, description = "No such chat or message", body = ErrorBody),
        (status = 409, description = "Too many pins", body = ErrorBody),
    ))]
async fn pin(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    pins::pin(&state, &auth, &chat_id, &message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unpin a message.
#[utoipa::path(delete, path = "/chats/{chat_id}/pins/{message_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path), ("message_id" = String, Path)),
    responses(
        (status = 204, description = "Unpinned"),
        (status = 403, description = "Only admins may unpin here", body = ErrorBody),
        (status = 404, description = "No such chat or message, or not pinned", body = ErrorBody),
    ))]
async fn unpin(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    pins::unpin(&state, &auth, &chat_id, &message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A chat's pinned messages, newest pin first.
#[utoipa::path(get, path = "/chats/{chat_id}/pins", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path)),
    responses(
        (status = 200, description = "Pins", body = [Pin]),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
    ))]
async fn list_pins(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
) -> Result<axum::Json<Vec<Pin>>> {
    Ok(axum::Json(pins::list(&state, &auth, &chat_id).await?))
}

/// Messages that mention me (by name, `@all` or `@here`), newest first.
#[utoipa::path(get, path = "/mentions", tag = "messages", security(("bearer" = [])),
    params(MentionsQuery),
    responses(
        (status = 200, description = "Messages", body = [MessageView]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 422, description = "Bad paging", body = ValidationErrorBody),
    ))]
async fn mentions(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<MentionsQuery>,
) -> Result<axum::Json<Vec<MessageView>>> {
    Ok(axum::Json(messages::mentions(&state, &auth, query).await?))
}
