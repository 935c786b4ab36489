//! `/users/*`: profiles, status, search, blocks and mutes; thin handlers over
//! `crate::users` and `crate::contacts`. `{user_id}` may be `me`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Query};
use super::{ErrorBody, ValidationErrorBody};
use crate::auth::AuthUser;
use crate::contacts::{self, ListedUser, MuteRequest};
use crate::error::Result;
use crate::state::AppState;
use crate::users::{
    self, DeleteAccount, ListQuery, Page, Profile, ProfileUpdate, StatusUpdate, StatusView,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(get_status, set_status))
        .routes(routes!(block, unblock))
        .routes(routes!(blocked))
        .routes(routes!(mute, unmute))
        .routes(routes!(muted))
}

/// List and search people (paginated). Deactivated and deleted accounts, and people
/// on either side of a block with you, are not listed.
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "A page of people", body = Page<Profile>),
    (status = 401, description = "Not authenticated", body = ErrorBody),
    (status = 422, description = "Bad skip, limit or q", body = ValidationErrorBody),
))]
async fn list_users(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<Page<Profile>>> {
    Ok(axum::Json(users::list(&state, &auth, query).await?))
}

/// A profile, as you may see it: status and last seen follow the owner's privacy
/// settings; email and settings only for the owner and admins. A deleted account shows
/// as "Deleted user" with `is_deleted: true`; its messages in shared chats stay.
#[utoipa::path(get, path = "/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    responses(
        (status = 200, description = "The profile", body = Profile),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
async fn get_user(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
) -> Result<axum::Json<Profile>> {
    Ok(axum::Json(users::get(&state, &auth, &user_id).await?))
}

/// Edit a profile: your own, or anyone's as an admin. Changing the email needs
/// `current_password`; `is_active` is for admins (deactivating ends every session).
#[utoipa::path(put, path = "/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    request_body = ProfileUpdate,
    responses(
        (status = 200, description = "The updated profile", body = Profile),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not yours, or wrong password", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Email taken", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ValidationErrorBody),
    ))]
async fn update_user(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    Json(req): Json<ProfileUpdate>,
) -> Result<axum::Json<Profile>> {
    Ok(axum::Json(
        users::update(&state, &auth, &user_id, req).await?,
    ))
}

/// Delete an account: yours (with `{"password"}`), or anyone's as an admin. Sessions
/// end and personal data is erased; messages in shared chats stay, from "Deleted user".
/// The username is reserved for a while (`deleted_username_hold_days`), then free.
#[utoipa::path(delete, path = "/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    request_body(content = DeleteAccount, description = "Your password, to delete your own account"),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not yours, or wrong password", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
async fn delete_user(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    body: Option<Json<DeleteAccount>>,
) -> Result<StatusCode> {
    let req = body.map(|Json(req)| req).unwrap_or_default();
    users::delete(&state, &auth, &user_id, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Someone's status as you may see it (null when their privacy settings hide it).
#[utoipa::path(get, path = "/users/{user_id}/status", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    responses(
        (status = 200, description = "Status", body = StatusView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
async fn get_status(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
) -> Result<axum::Json<StatusView>> {
    Ok(axum::Json(users::status(&state, &auth, &user_id).await?))
}

/// Choose your status: online, away, busy (do not disturb) or offline (appear offline).
#[utoipa::path(put, path = "/users/{user_id}/status", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "Your id, or `me`")),
    request_body = StatusUpdate,
    responses(
        (status = 200, description = "Your status", body = StatusView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 422, description = "Invalid status", body = ValidationErrorBody),
    ))]
async fn set_status(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    Json(req): Json<StatusUpdate>,
) -> Result<axum::Json<StatusView>> {
    Ok(axum::Json(
        users::set_status(&state, &auth, &user_id, req).await?,
    ))
}

/// Block someone: friendship and requests end; they cannot ask you again, start a
/// direct chat with you, or see your status.
#[utoipa::path(post, path = "/users/{user_id}/block", tag = "contacts", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "Who to block")),
    responses(
        (status = 204, description = "Blocked"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "Yourself", body = ValidationErrorBody),
    ))]
async fn block(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
) -> Result<StatusCode> {
    contacts::block(&state, &auth, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unblock someone (nothing happens if they were not blocked).
#[utoipa::path(delete, path = "/users/{user_id}/block", tag = "contacts", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "Who to unblock")),
    responses(
        (status = 204, description = "Not blocked"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn unblock(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
) -> Result<StatusCode> {
    contacts::unblock(&state, &auth, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The people you blocked.
#[utoipa::path(get, path = "/users/me/blocked", tag = "contacts", security(("bearer" = [])), responses(
    (status = 200, description = "Blocked people", body = [ListedUser]),
    (status = 401, description = "Not authenticated", body = ErrorBody),
))]
async fn blocked(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<axum::Json<Vec<ListedUser>>> {
    Ok(axum::Json(contacts::blocked(&state, &auth).await?))
}

/// Mute someone, until a time or for good: no notifications from them.
#[utoipa::path(post, path = "/users/{user_id}/mute", tag = "contacts", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "Who to mute")),
    request_body(content = MuteRequest, description = "Optional `until`"),
    responses(
        (status = 204, description = "Muted"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "Yourself, or a past `until`", body = ValidationErrorBody),
    ))]
async fn mute(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    body: Option<Json<MuteRequest>>,
) -> Result<StatusCode> {
    let req = body.map(|Json(req)| req).unwrap_or_default();
    contacts::mute(&state, &auth, &user_id, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unmute someone.
#[utoipa::path(delete, path = "/users/{user_id}/mute", tag = "contacts", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "Who to unmute")),
    responses(
        (status = 204, description = "Not muted"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn unmute(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
) -> Result<StatusCode> {
    contacts::unmute(&state, &auth, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The people you muted (mutes that have run out are not listed).
#[utoipa::path(get, path = "/users/me/muted", tag = "contacts", security(("bearer" = [])), responses(
    (status = 200, description = "Muted people", body = [ListedUser]),
    (status = 401, description = "Not authenticated", body = ErrorBody),
))]
async fn muted(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<axum::Json<Vec<ListedUser>>> {
    Ok(axum::Json(contacts::muted(&state, &auth).await?))
}
