//! `/friends/*`: friend requests and friends; thin handlers over `crate::contacts`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Query};
use super::{ErrorBody, ValidationErrorBody};
use crate::auth::AuthUser;
use crate::contacts::{
    self, FriendRequest, ListedUser, NewFriendRequest, RequestState, RequestsQuery,
};
use crate::error::Result;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_request, list_requests))
        .routes(routes!(accept))
        .routes(routes!(decline))
        .routes(routes!(cancel))
        .routes(routes!(list_friends))
        .routes(routes!(unfriend))
}

/// Ask someone to be friends. If they had already asked you, you become friends at
/// once (200, `status: accepted`).
#[utoipa::path(post, path = "/friends/requests", tag = "contacts", security(("bearer" = [])),
    request_body = NewFriendRequest,
    responses(
        (status = 201, description = "Request sent", body = FriendRequest),
        (status = 200, description = "They had asked you: now friends", body = FriendRequest),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "A block stands between you", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Already friends, or already asked", body = ErrorBody),
        (status = 422, description = "Yourself", body = ValidationErrorBody),
    ))]
async fn send_request(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<NewFriendRequest>,
) -> Result<(StatusCode, axum::Json<FriendRequest>)> {
    let request = contacts::send_request(&state, &auth, req).await?;
    let status = match request.status {
        RequestState::Pending => StatusCode::CREATED,
        RequestState::Accepted => StatusCode::OK,
    };
    Ok((status, axum::Json(request)))
}

/// Pending friend requests to you (`direction=incoming`, the default) or from you
/// (`outgoing`), newest first.
#[utoipa::path(get, path = "/friends/requests", tag = "contacts", security(("bearer" = [])),
    params(RequestsQuery),
    responses(
        (status = 200, description = "Requests", body = [FriendRequest]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 422, description = "Bad direction", body = ValidationErrorBody),
    ))]
async fn list_requests(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<RequestsQuery>,
) -> Result<axum::Json<Vec<FriendRequest>>> {
    Ok(axum::Json(
        contacts::list_requests(&state, &auth, query).await?,
    ))
}

/// Accept a friend request made to you.
#[utoipa::path(post, path = "/friends/requests/{request_id}/accept", tag = "contacts", security(("bearer" = [])),
    params(("request_id" = String, Path, description = "Friend request id")),
    responses(
        (status = 200, description = "Now friends", body = ListedUser),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "You sent it", body = ErrorBody),
        (status = 404, description = "No such request of yours", body = ErrorBody),
    ))]
async fn accept(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(request_id): Path<String>,
) -> Result<axum::Json<ListedUser>> {
    Ok(axum::Json(
        contacts::accept(&state, &auth, &request_id).await?,
    ))
}

/// Decline a friend request made to you.
#[utoipa::path(post, path = "/friends/requests/{request_id}/decline", tag = "contacts", security(("bearer" = [])),
    params(("request_id" = String, Path, description = "Friend request id")),
    responses(
        (status = 204, description = "Declined"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "You sent it", body = ErrorBody),
        (status = 404, description = "No such request of yours", body = ErrorBody),
    ))]
async fn decline(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(request_id): Path<String>,
) -> Result<StatusCode> {
    contacts::decline(&state, &auth, &request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancel a friend request you sent.
#[utoipa::path(delete, path = "/friends/requests/{request_id}", tag = "contacts", security(("bearer" = [])),
    params(("request_id" = String, Path, description = "Friend request id")),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "It was sent to you", body = ErrorBody),
        (status = 404, description = "No such request of yours", body = ErrorBody),
    ))]
async fn cancel(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(request_id): Path<String>,
) -> Result<StatusCode> {
    contacts::cancel(&state, &auth, &request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Your friends, most recent first.
#[utoipa::path(get, path = "/friends", tag = "contacts", security(("bearer" = [])), responses(
    (status = 200, description = "Friends", body = [ListedUser]),
    (status = 401, description = "Not authenticated", body = ErrorBody),
))]
async fn list_friends(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<axum::Json<Vec<ListedUser>>> {
    Ok(axum::Json(contacts::friends(&state, &auth).await?))
}

/// Stop being friends.
#[utoipa::path(delete, path = "/friends/{user_id}", tag = "contacts", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The friend's user id")),
    responses(
        (status = 204, description = "No longer friends"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "Not friends", body = ErrorBody),
    ))]
async fn unfriend(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
) -> Result<StatusCode> {
    contacts::unfriend(&state, &auth, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
