//! Threads: a root's replies, following a thread, reading it, and the threads I
//! follow. Thin handlers over `crate::messages::threads` (replies are sent with
//! `POST /chats/{chat_id}/messages` and `thread_root_id`).

use axum::extract::{Path, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Query};
use super::{ErrorBody, ValidationErrorBody};
use crate::auth::AuthUser;
use crate::error::Result;
use crate::messages::threads::{
    self, FollowThread, FollowedQuery, FollowedThread, MarkThreadRead, ThreadQuery, ThreadReplies,
    ThreadView,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(replies))
        .routes(routes!(follow))
        .routes(routes!(mark_read))
        .routes(routes!(followed))
}

type MessagePath = Path<(String, String)>;

/// A thread: its root and a page of replies, oldest first (the newest page unless
/// `before` or `after` a seq).
#[utoipa::path(get, path = "/chats/{chat_id}/messages/{message_id}/thread", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path), ("message_id" = String, Path, description = "The root"), ThreadQuery),
    responses(
        (status = 200, description = "The root and replies", body = ThreadReplies),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such chat or message, or the message is a reply", body = ErrorBody),
        (status = 422, description = "Bad paging", body = ValidationErrorBody),
    ))]
async fn replies(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): MessagePath,
    Query(query): Query<ThreadQuery>,
) -> Result<axum::Json<ThreadReplies>> {
    Ok(axum::Json(
        threads::replies(&state, &auth, &chat_id, &message_id, query).await?,
    ))
}

/// Follow a thread (replies by others count as unread for you) or stop following it.
#[utoipa::path(put, path = "/chats/{chat_id}/messages/{message_id}/thread/follow", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path), ("message_id" = String, Path, description = "The root")),
    request_body = FollowThread,
    responses(
        (status = 200, description = "The thread as you now see it", body = ThreadView),
        (status = 404, description = "No such chat or message, or the message is a reply", body = ErrorBody),
        (status = 422, description = "Bad body", body = ValidationErrorBody),
    ))]
async fn follow(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): MessagePath,
    Json(req): Json<FollowThread>,
) -> Result<axum::Json<ThreadView>> {
    Ok(axum::Json(
        threads::follow(&state, &auth, &chat_id, &message_id, req).await?,
    ))
}

/// Mark a thread's replies read up to a seq (the pointer never moves back).
#[utoipa::path(post, path = "/chats/{chat_id}/messages/{message_id}/thread/read", tag = "messages", security(("bearer" = [])),
    params(("chat_id" = String, Path), ("message_id" = String, Path, description = "The root")),
    request_body = MarkThreadRead,
    responses(
        (status = 200, description = "The thread as you now see it", body = ThreadView),
        (status = 404, description = "No such chat or message, or the message is a reply", body = ErrorBody),
        (status = 422, description = "A negative seq, or a bad body", body = ValidationErrorBody),
    ))]
async fn mark_read(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, message_id)): MessagePath,
    Json(req): Json<MarkThreadRead>,
) -> Result<axum::Json<ThreadView>> {
    Ok(axum::Json(
        threads::mark_read(&state, &auth, &chat_id, &message_id, req).await?,
    ))
}

/// Threads I follow in chats I am in, newest reply first, with unread counts.
#[utoipa::path(get, path = "/threads", tag = "messages", security(("bearer" = [])),
    params(FollowedQuery),
    responses(
        (status = 200, description = "Threads", body = [FollowedThread]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 422, description = "Bad paging", body = ValidationErrorBody),
    ))]
async fn followed(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<FollowedQuery>,
) -> Result<axum::Json<Vec<FollowedThread>>> {
    Ok(axum::Json(threads::followed(&state, &auth, query).await?))
}
