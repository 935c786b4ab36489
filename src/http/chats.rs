//! `/chats/*` (but messages): chats, members, roles, my settings; thin handlers over
//! `crate::chats`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Query};
use super::{ErrorBody, ValidationErrorBody};
use crate::auth::AuthUser;
use crate::chats::{
    self, AddMembers, Chat, ChatSummary, ChatUpdate, ListQuery, MyMembership, MySettingsUpdate,
    NewChat, RoleUpdate,
};
use crate::error::Result;
use crate::state::AppState;
use crate::users::Page;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_chats, create_chat))
        .routes(routes!(get_chat, update_chat, delete_chat))
        .routes(routes!(add_members))
        .routes(routes!(remove_member, set_role))
        .routes(routes!(my_settings))
}

/// My chats, pinned first, then by latest activity, each with its last message,
/// unread and mention counts and my settings. `q` searches chat names and, for
/// direct chats, the other person's names.
#[utoipa::path(get, path = "/chats", tag = "chats", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "A page of my chats", body = Page<ChatSummary>),
    (status = 401, description = "Not authenticated", body = ErrorBody),
    (status = 422, description = "Bad paging", body = ValidationErrorBody),
))]
async fn list_chats(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<Page<ChatSummary>>> {
    Ok(axum::Json(chats::list(&state, &auth, query).await?))
}

/// Create a group (`{"type": "group", "name", "member_ids"}`), or open the one direct
/// chat with someone (`{"type": "direct", "user_id"}`: 201 when new, 200 when it existed).
#[utoipa::path(post, path = "/chats", tag = "chats", security(("bearer" = [])), request_body = NewChat, responses(
    (status = 201, description = "Created", body = Chat),
    (status = 200, description = "The existing direct chat", body = Chat),
    (status = 401, description = "Not authenticated", body = ErrorBody),
    (status = 403, description = "Blocked, or their privacy settings say no", body = ErrorBody),
    (status = 404, description = "No such user", body = ErrorBody),
    (status = 422, description = "Invalid input", body = ValidationErrorBody),
))]
async fn create_chat(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<NewChat>,
) -> Result<(StatusCode, axum::Json<Chat>)> {
    let (chat, created) = chats::create(&state, &auth, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(chat)))
}

/// A chat with its members and their roles.
#[utoipa::path(get, path = "/chats/{chat_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id")),
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
    ))]
async fn get_chat(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
) -> Result<axum::Json<Chat>> {
    Ok(axum::Json(chats::get(&state, &auth, &chat_id).await?))
}

/// Rename a group, change its description or avatar (as its `edit_info` setting
/// allows), or, as an admin, its settings.
#[utoipa::path(put, path = "/chats/{chat_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id")),
    request_body = ChatUpdate,
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Your role does not allow it, or a direct chat", body = ErrorBody),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ValidationErrorBody),
    ))]
async fn update_chat(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
    Json(req): Json<ChatUpdate>,
) -> Result<axum::Json<Chat>> {
    Ok(axum::Json(
        chats::update(&state, &auth, &chat_id, req).await?,
    ))
}

/// The owner deletes a group for everyone; a direct chat is hidden for you until a
/// new message arrives.
#[utoipa::path(delete, path = "/chats/{chat_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id")),
    responses(
        (status = 204, description = "Deleted (or hidden)"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
    ))]
async fn delete_chat(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
) -> Result<StatusCode> {
    chats::delete(&state, &auth, &chat_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add people to a group (as its `add_members` setting allows).
#[utoipa::path(post, path = "/chats/{chat_id}/members", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id")),
    request_body = AddMembers,
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Your role does not allow it, a block, or a direct chat", body = ErrorBody),
        (status = 404, description = "No such chat or user", body = ErrorBody),
        (status = 422, description = "Over the member limit", body = ValidationErrorBody),
    ))]
async fn add_members(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
    Json(req): Json<AddMembers>,
) -> Result<axum::Json<Chat>> {
    Ok(axum::Json(
        chats::add_members(&state, &auth, &chat_id, req).await?,
    ))
}

/// Leave a group (yourself, or `me`), or remove a member as an admin. An owner who
/// leaves hands the group to the longest-standing admin, else member.
#[utoipa::path(delete, path = "/chats/{chat_id}/members/{user_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id"), ("user_id" = String, Path, description = "Member, or `me`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Your role does not allow it", body = ErrorBody),
        (status = 404, description = "No such chat or member", body = ErrorBody),
    ))]
async fn remove_member(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    chats::remove_member(&state, &auth, &chat_id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The owner changes a member's role; `owner` hands the group over.
#[utoipa::path(put, path = "/chats/{chat_id}/members/{user_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id"), ("user_id" = String, Path, description = "Member")),
    request_body = RoleUpdate,
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "No such chat or member", body = ErrorBody),
        (status = 422, description = "Invalid role", body = ValidationErrorBody),
    ))]
async fn set_role(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((chat_id, user_id)): Path<(String, String)>,
    Json(req): Json<RoleUpdate>,
) -> Result<axum::Json<Chat>> {
    Ok(axum::Json(
        chats::set_role(&state, &auth, &chat_id, &user_id, req).await?,
    ))
}

/// My own settings for a chat: muted until, notifications, pinned, archived.
#[utoipa::path(put, path = "/chats/{chat_id}/settings", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id")),
    request_body = MySettingsUpdate,
    responses(
        (status = 200, description = "My settings", body = MyMembership),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ValidationErrorBody),
    ))]
async fn my_settings(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
    Json(req): Json<MySettingsUpdate>,
) -> Result<axum::Json<MyMembership>> {
    Ok(axum::Json(
        chats::update_my_settings(&state, &auth, &chat_id, req).await?,
    ))
}
