//! `/chats/{chat_id}/messages/*`: thin handlers over `crate::messages`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Query};
use super::{ErrorBody, ValidationErrorBody};
use crate::auth::AuthUser;
use crate::error::Result;
use crate::messages::{
    self, EditMessage, HistoryQuery, MarkRead, MessageVersion, MessageView, ReadState, ReadStatus,
    SendMessage,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history, send))
        .routes(routes!(mark_read))
        .routes(routes!(edit, delete))
        .routes(routes!(edit_history))
        .routes(routes!(read_status))
}

/// A page of history, oldest first: the newest page by default; `before`, `after` or
/// `around` a seq; or `skip`/`limit` from the newest.
#[utoipa::path(get, path = "/chats/{chat_id}/messages", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id"), HistoryQuery),
    responses(
        (status = 200, description = "Messages, oldest first", body = [MessageView]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
        (status = 422, description = "Bad paging", body = ValidationErrorBody),
    ))]
async fn history(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<axum::Json<Vec<MessageView>>> {
    Ok(axum::Json(
        messages::history(&state, &auth, &chat_id, query).await?,
    ))
}

/// Send a message (Markdown). It is committed, with its seq, before the answer comes.
/// A retry with the same `client_id` returns the first message (200).
#[utoipa::path(post, path = "/chats/{chat_id}/messages", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id")),
    request_body = SendMessage,
    responses(
        (status = 201, description = "Sent", body = MessageView),
        (status = 200, description = "Already sent with this client_id", body = MessageView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Announcement group, or a block", body = ErrorBody),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
        (status = 422, description = "Empty or too long, or a bad reply_to", body = ValidationErrorBody),
    ))]
async fn send(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
    Json(req): Json<SendMessage>,
) -> Result<(StatusCode, axum::Json<MessageView>)> {
    let (message, created) = messages::send(&state, &auth, &chat_id, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(message)))
}

/// Move my read pointer forward: everything up to `up_to_seq` is read.
#[utoipa::path(put, path = "/chats/{chat_id}/messages/read", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id")),
    request_body = MarkRead,
    responses(
        (status = 200, description = "Where my pointer stands", body = ReadState),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
        (status = 422, description = "Invalid seq", body = ValidationErrorBody),
    ))]
async fn mark_read(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
    Json(req): Json<MarkRead>,
) -> Result<axum::Json<ReadState>> {
    Ok(axum::Json(
        messages::mark_read(&state, &auth, &chat_id, req).await?,
    ))
}

/// Edit your message; the earlier version is kept.
#[utoipa::path(put, path = "/chats/{chat_id}/messages/{message_id}", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id"), ("message_id" = String, Path, description = "Message id")),
    request_body = EditMessage,
    responses(
        (status = 200, description = "The edited message", body = MessageView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the author", body = ErrorBody),
        (status = 404, description = "No such chat or message", body = ErrorBody),
        (status = 422, description = "Empty or too long", body = ValidationErrorBody),
    ))]
async fn edit(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): Path<(String, String)>,
    Json(req): Json<EditMessage>,
) -> Result<axum::Json<MessageView>> {
    Ok(axum::Json(
        messages::edit(&state, &auth, &chat_id, &message_id, req).await?,
    ))
}

/// Delete a message (yours, or any as a group admin): it stays as a tombstone.
#[utoipa::path(delete, path = "/chats/{chat_id}/messages/{message_id}", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id"), ("message_id" = String, Path, description = "Message id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not yours to delete", body = ErrorBody),
        (status = 404, description = "No such chat or message", body = ErrorBody),
    ))]
async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    messages::delete(&state, &auth, &chat_id, &message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Earlier versions of an edited message, newest first.
#[utoipa::path(get, path = "/chats/{chat_id}/messages/{message_id}/history", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id"), ("message_id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "Earlier versions", body = [MessageVersion]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such chat or message", body = ErrorBody),
    ))]
async fn edit_history(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): Path<(String, String)>,
) -> Result<axum::Json<Vec<MessageVersion>>> {
    Ok(axum::Json(
        messages::edit_history(&state, &auth, &chat_id, &message_id).await?,
    ))
}

/// Who has read a message, and who not yet. Members who turned read receipts off
/// appear in neither list.
#[utoipa::path(get, path = "/chats/{chat_id}/messages/{message_id}/read-status", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id"), ("message_id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "Readers", body = ReadStatus),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such chat or message", body = ErrorBody),
    ))]
async fn read_status(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): Path<(String, String)>,
) -> Result<axum::Json<ReadStatus>> {
    Ok(axum::Json(
        messages::read_status(&state, &auth, &chat_id, &message_id).await?,
    ))
}
