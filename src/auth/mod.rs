//! Accounts and sessions: register, log in, refresh, log out, passwords.
//!
//! A session is one logged-in device. It holds a rotating refresh token and is named
//! by every access token issued for it, so ending the session ends its tokens at once.

pub mod password;
pub mod tokens;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Email, Password, Username, new_id};
use crate::error::{Error, Result};
use crate::ratelimit::Action;
use crate::state::AppState;
use crate::store::{NewSession, SessionRow, UserRow, now};
use crate::users::{self, Profile};
use tokens::{random_token, token_hash};

/// Who is calling, once their access token has been checked.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub session_id: String,
    pub is_admin: bool,
}

/// Where a request came from, for sessions and rate limits.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub username: String,
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Username or email.
    pub username: String,
    pub password: String,
    /// Keep the session for 30 days of inactivity instead of 12 hours.
    #[serde(default)]
    pub remember_me: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; use it once at `POST /auth/refresh` to get a new pair.
    pub refresh_token: String,
    pub user: Profile,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub remember_me: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

const USER_AGENT_MAX: usize = 256;

pub async fn register(
    state: &AppState,
    req: RegisterRequest,
    client: &ClientInfo,
) -> Result<Profile> {
    let username = Username::parse(&req.username);
    let email = Email::parse(&req.email);
    let password = Password::parse(req.password, "password");
    // Report every invalid field at once, as FastAPI does.
    let errors: Vec<_> = [
        username.as_ref().err(),
        email.as_ref().err(),
        password.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    .flat_map(|e| match e {
        Error::Validation(list) => list.clone(),
        _ => Vec::new(),
    })
    .collect();
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (username, email, password) = (username?, email?, password?);
    let display_name = match req.display_name.as_deref() {
        Some(name) if !name.trim().is_empty() => users::parse_display_name(name)?,
        _ => username.as_str().to_string(),
    };
    state
        .rate_limits
        .check(Action::Register, client.ip.as_deref(), Some(email.as_str()))?;

    if state.db.username_exists(username.as_str()).await? {
        return Err(Error::Conflict("username already taken".into()));
    }
    if state.db.email_exists(email.as_str()).await? {
        return Err(Error::Conflict("email already registered".into()));
    }
    let now = now();
    let row = UserRow {
        id: new_id(),
        username: username.as_str().into(),
        email: email.as_str().into(),
        search_key: users::search_key(username.as_str(), &display_name),
        display_name,
        password_hash: state.passwords.hash(&password).await?,
        is_admin: false,
        is_active: true,
        created_at: now,
        updated_at: now,
        bio: String::new(),
        avatar_url: None,
        locale: None,
        time_zone: None,
        presence_visibility: "everyone".into(),
        direct_messages_from: "everyone".into(),
        send_read_receipts: true,
        status: "online".into(),
        status_text: None,
        status_expires_at: None,
        last_seen_at: None,
        deleted_at: None,
    };
    state.db.insert_user(&row).await?;
    tracing::info!(user_id = %row.id, "user registered");
    Ok(users::own_view(state, row))
}

pub async fn login(
    state: &AppState,
    req: LoginRequest,
    client: &ClientInfo,
) -> Result<TokenResponse> {
    let login = req.username.trim().to_lowercase();
    state
        .rate_limits
        .check(Action::Login, client.ip.as_deref(), Some(&login))?;
    let user = if login.len() <= Email::MAX {
        state.db.user_by_login(&login).await?
    } else {
        None
    };
    let verified = state
        .passwords
        .verify(
            &req.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await?;
    let user = match user {
        Some(user) if verified && user.is_active => user,
        _ => return Err(Error::Unauthorized("Incorrect username or password".into())),
    };
    start_session(state, user, req.remember_me, client).await
}

async fn start_session(
    state: &AppState,
    user: UserRow,
    remember_me: bool,
    client: &ClientInfo,
) -> Result<TokenResponse> {
    let now = now();
    let session_id = new_id();
    let refresh_token = random_token();
    let user_agent = client
        .user_agent
        .as_deref()
        .map(|ua| truncate(ua, USER_AGENT_MAX));
    state
        .db
        .create_session(NewSession {
            id: &session_id,
            user_id: &user.id,
            remember_me,
            user_agent: user_agent.as_deref(),
            ip: client.ip.as_deref(),
            now,
            expires_at: now + Duration::seconds(idle_secs(state, remember_me)),
            refresh_hash: &token_hash(&refresh_token),
        })
        .await?;
    token_response(state, user, &session_id, refresh_token, now)
}

fn token_response(
    state: &AppState,
    user: UserRow,
    session_id: &str,
    refresh_token: String,
    now: DateTime<Utc>,
) -> Result<TokenResponse> {
    let access_token = state
        .access_tokens
        .issue(&user.id, session_id, now.timestamp())?;
    state.presence.touch(&user.id);
    Ok(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: state.access_tokens.ttl_secs,
        refresh_token,
        user: users::own_view(state, user),
    })
}

fn idle_secs(state: &AppState, remember_me: bool) -> i64 {
    let secs = if remember_me {
        state.config.session_remember_secs
    } else {
        state.config.session_idle_secs
    };
    secs as i64
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// Trades a refresh token for a new pair. A token used twice means it was stolen
/// (by whoever used it first, or second): the whole session ends.
pub async fn refresh(
    state: &AppState,
    refresh_token: &str,
    client: &ClientInfo,
) -> Result<TokenResponse> {
    let old_hash = token_hash(refresh_token);
    state
        .rate_limits
        .check(Action::Refresh, client.ip.as_deref(), Some(&old_hash))?;
    let new_token = random_token();
    let now = now();
    let rotation = state
        .db
        .rotate_refresh_token(&old_hash, &token_hash(&new_token), now, |remember| {
            idle_secs(state, remember)
        })
        .await?;
    let session = match rotation {
        crate::store::Rotation::Rotated(session) => session,
        crate::store::Rotation::Reused => {
            tracing::warn!("a used refresh token was presented again: session revoked");
            return Err(Error::Unauthorized(
                "Refresh token reused: session revoked".into(),
            ));
        }
        crate::store::Rotation::Invalid => {
            return Err(Error::Unauthorized("Invalid refresh token".into()));
        }
    };
    let user = state.db.user_by_id(&session.user_id).await?;
    match user {
        Some(user) if user.is_active => token_response(state, user, &session.id, new_token, now),
        _ => Err(Error::Unauthorized("Invalid refresh token".into())),
    }
}

/// Checks a bearer token: a JWT we signed, unexpired, whose session is still live.
///
/// The session lookup is one primary-key read per request. It is what makes logout,
/// "log out everywhere" and password changes end access tokens at once, on every node,
/// without a revocation list to keep in sync; it costs less than the JSON we return.
pub async fn authenticate(state: &AppState, bearer: &str) -> Result<AuthUser> {
    let claims = state
        .access_tokens
        .verify(bearer)
        .ok_or_else(Error::unauthorized)?;
    let (user_id, is_admin) = state
        .db
        .live_session_user(&claims.sid, now())
        .await?
        .ok_or_else(Error::unauthorized)?;
    if user_id != claims.sub {
        return Err(Error::unauthorized());
    }
    users::note_activity(state, &user_id);
    Ok(AuthUser {
        user_id,
        session_id: claims.sid,
        is_admin,
    })
}

pub async fn me(state: &AppState, auth: &AuthUser) -> Result<Profile> {
    users::get(state, auth, &auth.user_id).await
}

pub async fn logout(state: &AppState, auth: &AuthUser) -> Result<()> {
    state
        .db
        .delete_session(&auth.user_id, &auth.session_id)
        .await?;
    sessions_ended(state, &auth.user_id);
    Ok(())
}

pub async fn logout_all(state: &AppState, auth: &AuthUser) -> Result<()> {
    state.db.delete_sessions_of(&auth.user_id).await?;
    sessions_ended(state, &auth.user_id);
    Ok(())
}

/// Sockets of ended sessions close now, not at their next heartbeat.
pub fn sessions_ended(state: &AppState, user_id: &str) {
    let event = crate::domain::event::ServerEvent::SessionsChanged;
    state.realtime.to_user(user_id, &event);
}

pub async fn sessions(state: &AppState, auth: &AuthUser) -> Result<Vec<SessionInfo>> {
    let rows = state.db.sessions_of(&auth.user_id, now()).await?;
    Ok(rows
        .into_iter()
        .map(|s: SessionRow| SessionInfo {
            current: s.id == auth.session_id,
            id: s.id,
            user_agent: s.user_agent,
            ip: s.ip,
            remember_me: s.remember_me,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
        })
        .collect())
}

pub async fn end_session(state: &AppState, auth: &AuthUser, session_id: &str) -> Result<()> {
    if !state.db.delete_session(&auth.user_id, session_id).await? {
        return Err(Error::NotFound("Session not found".into()));
    }
    sessions_ended(state, &auth.user_id);
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the password; every other session ends, this one stays.
pub async fn change_password(
    state: &AppState,
    auth: &AuthUser,
    req: ChangePasswordRequest,
) -> Result<()> {
    let new_password = Password::parse(req.new_password, "new_password")?;
    let user = state
        .db
        .user_by_id(&auth.user_id)
        .await?
        .ok_or_else(Error::unauthorized)?;
    if !state
        .passwords
        .verify(&req.current_password, Some(&user.password_hash))
        .await?
    {
        return Err(Error::Forbidden("Current password is incorrect".into()));
    }
    let hash = state.passwords.hash(&new_password).await?;
    state
        .db
        .set_password(&user.id, &hash, Some(&auth.session_id), now())
        .await?;
    sessions_ended(state, &user.id);
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    pub email: String,
}

/// Mails a single-use reset link if the address belongs to an account. The answer is
/// the same either way, and the mail goes out in the background so that the time
/// taken does not tell either.
pub async fn forgot_password(
    state: &AppState,
    req: ForgotPasswordRequest,
    client: &ClientInfo,
) -> Result<()> {
    let email = Email::parse(&req.email)?;
    state.rate_limits.check(
        Action::ForgotPassword,
        client.ip.as_deref(),
        Some(email.as_str()),
    )?;
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = send_reset_link(&state, &email).await {
            tracing::error!(error = ?err, "password reset mail failed");
        }
    });
    Ok(())
}

async fn send_reset_link(state: &AppState, email: &Email) -> anyhow::Result<()> {
    let Some(user) = state.db.user_by_login(email.as_str()).await? else {
        return Ok(());
    };
    if !user.is_active || user.email != email.as_str() {
        return Ok(());
    }
    let token = random_token();
    let now = now();
    let ttl = state.config.password_reset_ttl_secs;
    state
        .db
        .insert_password_reset(
            &token_hash(&token),
            &user.id,
            now,
            now + Duration::seconds(ttl as i64),
        )
        .await?;
    let link = format!(
        "{}/#/reset-password?token={token}",
        state.config.public_url()
    );
    let body = format!(
        "Hello {name},\n\nSomeone (hopefully you) asked to reset the password of your Block Chat \
         account \"{username}\".\n\nTo choose a new password, open this link within {minutes} minutes:\n\n\
         {link}\n\nThe link works once. If you did not ask for this, ignore this mail: your password \
         stays as it is.\n",
        name = user.display_name,
        username = user.username,
        minutes = ttl / 60,
    );
    state
        .mailer
        .send(&user.email, "Reset your Block Chat password", body)
        .await?;
    tracing::info!(user_id = %user.id, via = %state.mailer.describe(), "password reset link sent");
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The token from the emailed link.
    pub token: String,
    pub new_password: String,
}

/// Sets a new password with a token from a reset mail; every session ends.
pub async fn reset_password(state: &AppState, req: ResetPasswordRequest) -> Result<()> {
    let new_password = Password::parse(req.new_password, "new_password")?;
    let invalid = || {
        Error::invalid(
            "token",
            "invalid or expired reset token",
            serde_json::Value::Null,
        )
    };
    if req.token.len() > 128 {
        return Err(invalid());
    }
    // Hash before spending the token, so a slow hash cannot leave it spent for nothing.
    let hash = state.passwords.hash(&new_password).await?;
    let user_id = state
        .db
        .use_password_reset(&token_hash(&req.token), now())
        .await?
        .ok_or_else(invalid)?;
    state.db.set_password(&user_id, &hash, None, now()).await?;
    sessions_ended(state, &user_id);
    tracing::info!(%user_id, "password reset");
    Ok(())
}

/// Makes a new administrator, or promotes an existing user (for `blockchat create-admin`).
pub async fn create_admin(
    state: &AppState,
    username: &str,
    email: Option<&str>,
    password: Option<String>,
) -> Result<Profile> {
    let username = Username::parse(username)?;
    if let Some(user) = state.db.user_by_login(username.as_str()).await? {
        state.db.set_admin(&user.id, now()).await?;
        let user = state
            .db
            .user_by_id(&user.id)
            .await?
            .ok_or_else(|| Error::NotFound("user".into()))?;
        return Ok(users::own_view(state, user));
    }
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Error::invalid(
            "email",
            "a new administrator needs an email and a password",
            serde_json::Value::Null,
        ));
    };
    let user = register(
        state,
        RegisterRequest {
            username: username.as_str().into(),
            email: email.into(),
            password,
            display_name: None,
        },
        &ClientInfo::default(),
    )
    .await?;
    state.db.set_admin(&user.id, now()).await?;
    let row = state
        .db
        .user_by_id(&user.id)
        .await?
        .ok_or_else(|| Error::NotFound("user".into()))?;
    Ok(users::own_view(state, row))
}
