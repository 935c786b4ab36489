//! `WS /ws`: the realtime gateway's door. Authentication happens here, before the
//! upgrade when the token is in the query (`?token=`), or as the first frame
//! (`{"type": "auth", "token"}`); then `realtime::gateway` runs the connection.

use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::auth::{self, AuthUser};
use crate::domain::event::ClientFrame;
use crate::error::Error;
use crate::realtime::gateway::{self, close};
use crate::state::AppState;

/// Frames larger than this are refused (the connection closes with 1009).
const MAX_MESSAGE: usize = 64 * 1024;
/// Per-connection read buffer: axum's default (128 KiB) would cost that much per idle
/// socket. Client frames are small (a send is well under 1 KiB); larger ones take a
/// few more reads.
const READ_BUFFER: usize = 1024;
/// How much outgoing data is gathered before it is written. Not an allocation (the
/// buffer grows as needed): the gateway flushes after each batch of events anyway,
/// and a lower mark would split one batch into several writes.
const WRITE_MARK: usize = 64 * 1024;
/// The most connections one user may hold on a node.
const MAX_PER_USER: u32 = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws", get(upgrade))
        .route("/ws/chat/{chat_id}", get(upgrade_chat))
        .route("/ws/status", get(upgrade_status))
}

/// The spec's status socket (`?token=` required).
async fn upgrade_status(
    State(state): State<AppState>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, Error> {
    check_origin(&state, &headers)?;
    let token = query.token.ok_or_else(Error::unauthorized)?;
    let user = auth::authenticate(&state, &token).await?;
    let ws = ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_MARK)
        .max_message_size(MAX_MESSAGE);
    Ok(ws.on_upgrade(move |socket| gateway::run_status(socket, state, user)))
}

/// The spec's one-chat socket. Authenticated like `/ws`; a non-member is closed with 4403.
async fn upgrade_chat(
    State(state): State<AppState>,
    Path(chat_id): Path<String>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, Error> {
    check_origin(&state, &headers)?;
    let token = query.token.ok_or_else(Error::unauthorized)?;
    let user = auth::authenticate(&state, &token).await?;
    let member = crate::chats::membership(&state, &user, &chat_id)
        .await
        .is_ok();
    let ws = ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_MARK)
        .max_message_size(MAX_MESSAGE);
    Ok(ws.on_upgrade(move |socket| async move {
        if member {
            gateway::run_chat_room(socket, state, user, chat_id).await
        } else {
            close_with(socket, close::FORBIDDEN, "not a member").await
        }
    }))
}

#[derive(Deserialize)]
struct WsQuery {
    token: Option<String>,
}

async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, Error> {
    check_origin(&state, &headers)?;
    let user = match &query.token {
        Some(token) => Some(auth::authenticate(&state, token).await?),
        None => None,
    };
    if let Some(user) = &user
        && state.presence.connections(&user.user_id) >= MAX_PER_USER
    {
        return Err(Error::RateLimited {
            retry_after: Duration::from_secs(5),
        });
    }
    let ws = ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_MARK)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE);
    Ok(ws.on_upgrade(move |socket| async move {
        match user {
            Some(user) => gateway::run(socket, state, user).await,
            None => authenticate_first_frame(socket, state).await,
        }
    }))
}

/// Refuses cross-site WebSocket hijacking: a browser page from another origin may not
/// open a socket with our user's credentials. Clients that send no Origin (apps,
/// servers) are not browsers and pass.
fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), Error> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let same_host = origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host);
    let allowed = same_host
        || state.config.cors_origins.iter().any(|o| o == origin)
        || state.config.public_url().eq_ignore_ascii_case(origin);
    if allowed {
        Ok(())
    } else {
        Err(Error::Forbidden("Origin not allowed".into()))
    }
}

/// Waits (briefly) for `{"type": "auth", "token"}`; anything else closes with 4401.
async fn authenticate_first_frame(mut socket: WebSocket, state: AppState) {
    let first = tokio::time::timeout(Duration::from_secs(10), socket.recv()).await;
    let user: Option<AuthUser> = match first {
        Ok(Some(Ok(Message::Text(text)))) => {
            match serde_json::from_str::<ClientFrame>(text.as_str()) {
                Ok(ClientFrame::Auth { token }) => auth::authenticate(&state, &token).await.ok(),
                _ => None,
            }
        }
        _ => None,
    };
    match user {
        Some(user) if state.presence.connections(&user.user_id) < MAX_PER_USER => {
            gateway::run(socket, state, user).await
        }
        Some(_) => close_with(socket, close::TOO_MANY, "too many connections").await,
        None => close_with(socket, close::UNAUTHORIZED, "not authenticated").await,
    }
}

async fn close_with(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
