//! `/auth/*`: thin handlers over the use cases in `crate::auth`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, JsonOrForm};
use super::{ErrorBody, ValidationErrorBody};
use crate::auth::{
    self, AuthUser, ChangePasswordRequest, ClientInfo, ForgotPasswordRequest, LoginRequest,
    RegisterRequest, ResetPasswordRequest, SessionInfo, TokenResponse,
};
use crate::error::Result;
use crate::state::AppState;
use crate::users::Profile;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(me))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
        .routes(routes!(change_password))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
}

/// Create an account.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest, responses(
    (status = 201, description = "Account created", body = Profile),
    (status = 409, description = "Username or email taken", body = ErrorBody),
    (status = 422, description = "Invalid input", body = ValidationErrorBody),
    (status = 429, description = "Too many attempts", body = ErrorBody),
))]
async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<Profile>)> {
    let user = auth::register(&state, req, &client).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

/// Log in with a username or email and a password, as JSON or as the OAuth2 password form.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body(content(
        (LoginRequest = "application/json"),
        (LoginRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonOrForm(req): JsonOrForm<LoginRequest>,
) -> Result<axum::Json<TokenResponse>> {
    Ok(axum::Json(auth::login(&state, req, &client).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Trade a refresh token for a new access and refresh token. Each refresh token works
/// once; presenting a used one again ends its session.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, description = "New tokens", body = TokenResponse),
    (status = 401, description = "Invalid, expired or reused refresh token", body = ErrorBody),
))]
async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<RefreshRequest>,
) -> Result<axum::Json<TokenResponse>> {
    Ok(axum::Json(
        auth::refresh(&state, &req.refresh_token, &client).await?,
    ))
}

/// The current user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, description = "The current user", body = Profile),
    (status = 401, description = "Not authenticated", body = ErrorBody),
))]
async fn me(State(state): State<AppState>, auth: AuthUser) -> Result<axum::Json<Profile>> {
    Ok(axum::Json(auth::me(&state, &auth).await?))
}

/// End this session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "Logged out"),
    (status = 401, description = "Not authenticated", body = ErrorBody),
))]
async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode> {
    auth::logout(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the current user, this one included.
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "Logged out everywhere"),
    (status = 401, description = "Not authenticated", body = ErrorBody),
))]
async fn logout_all(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode> {
    auth::logout_all(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current user's live sessions, most recently used first.
#[utoipa::path(get, path = "/auth/sessions", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, description = "Sessions", body = [SessionInfo]),
    (status = 401, description = "Not authenticated", body = ErrorBody),
))]
async fn list_sessions(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<axum::Json<Vec<SessionInfo>>> {
    Ok(axum::Json(auth::sessions(&state, &auth).await?))
}

/// End one of the current user's sessions.
#[utoipa::path(delete, path = "/auth/sessions/{session_id}", tag = "auth", security(("bearer" = [])),
    params(("session_id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Session ended"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such session of yours", body = ErrorBody),
    ))]
async fn end_session(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(session_id): Path<String>,
) -> Result<StatusCode> {
    auth::end_session(&state, &auth, &session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password. Every other session ends.
#[utoipa::path(put, path = "/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Current password is wrong", body = ErrorBody),
        (status = 422, description = "Invalid new password", body = ValidationErrorBody),
    ))]
async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<ChangePasswordRequest>,
) -> Result<StatusCode> {
    auth::change_password(&state, &auth, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for a password-reset link by email. The answer is 202 whether or not the address
/// has an account.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotPasswordRequest, responses(
    (status = 202, description = "If the address has an account, a link is on its way"),
    (status = 422, description = "Not an email address", body = ValidationErrorBody),
    (status = 429, description = "Too many attempts", body = ErrorBody),
))]
async fn forgot_password(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<ForgotPasswordRequest>,
) -> Result<StatusCode> {
    auth::forgot_password(&state, req, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with the token from a reset link. Every session ends.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetPasswordRequest, responses(
    (status = 204, description = "Password changed; log in again"),
    (status = 422, description = "Invalid or expired token, or invalid password", body = ValidationErrorBody),
))]
async fn reset_password(
    State(state): State<AppState>,
    Json(req): Json<ResetPasswordRequest>,
) -> Result<StatusCode> {
    auth::reset_password(&state, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
