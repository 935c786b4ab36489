//! One task per WebSocket connection: it `select!`s over the client's frames, its
//! outbound queue, a heartbeat and the server's shutdown.
//!
//! On connect it subscribes to the user's topic and every chat of theirs *before*
//! reading anything, then sends `ready`; a `resume` replays missed messages after
//! that, and live messages already replayed are dropped by seq. So nothing falls in
//! the gap between the backlog and the live stream, and nothing comes twice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::hub::{ConnId, Published, Subscriber};
use super::{chat_topic, user_topic};
use crate::auth::AuthUser;
use crate::domain::event::{ClientFrame, ServerEvent};
use crate::error::Error;
use crate::messages::{self, MarkRead, SendMessage};
use crate::state::AppState;
use crate::store::{Page, now};

/// Close codes: 1012 service restart; 4008 too slow (resume by seq); 4401 not
/// authenticated; 4403 not a member; 4429 too many connections.
pub mod close {
    pub const RESTART: u16 = 1012;
    pub const TOO_SLOW: u16 = 4008;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const TOO_MANY: u16 = 4429;
}

/// Events waiting for one connection; beyond this the client is too slow.
const QUEUE: usize = 512;
/// The most messages a resume replays per chat; beyond it the client gets `resync`.
const RESUME_MAX: i64 = 500;
const HEARTBEAT: Duration = Duration::from_secs(20);
/// A peer silent for this long (no frame, no pong) is gone.
const DEAD_AFTER: Duration = Duration::from_secs(60);
/// At most one typing event per user and chat this often.
const TYPING_EVERY: Duration = Duration::from_secs(3);

struct Connection {
    state: AppState,
    user: AuthUser,
    id: ConnId,
    subscriber: Subscriber,
    /// Per chat, which messages this connection has sent, so that a resume and the
    /// live stream never send one twice, and a resume never skips one.
    delivered: HashMap<String, Delivered>,
    blocked: HashSet<String>,
    last_typing: HashMap<String, Instant>,
}

/// Runs a connection until it closes. `user` is already authenticated.
pub async fn run(mut socket: WebSocket, state: AppState, user: AuthUser) {
    let (queue, mut events) = mpsc::channel(QUEUE);
    let subscriber = Subscriber {
        queue,
        too_slow: CancellationToken::new(),
    };
    let id = state.realtime.hub.next_conn_id();
    let mut conn = Connection {
        blocked: state
            .db
            .block_ids(&user.user_id, true)
            .await
            .unwrap_or_default(),
        state,
        user,
        id,
        subscriber,
        delivered: HashMap::new(),
        last_typing: HashMap::new(),
    };
    let close = match conn.start(&mut socket).await {
        Ok(()) => conn.serve(&mut socket, &mut events).await,
        Err(_) => None,
    };
    conn.state.realtime.hub.disconnect(conn.id);
    conn.state.presence.disconnected(&conn.user.user_id);
    // Offline only once the grace time has passed without a reconnect.
    spawn_announce(
        &conn.state,
        &conn.user.user_id,
        super::presence::GRACE + Duration::from_secs(1),
    );
    metrics::gauge!("ws_connections").decrement(1.0);
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
}

impl Connection {
    /// Subscribes, then sends `ready`.
    async fn start(&mut self, socket: &mut WebSocket) -> Result<(), Error> {
        metrics::gauge!("ws_connections").increment(1.0);
        self.state.presence.connected(&self.user.user_id);
        let hub = &self.state.realtime.hub;
        hub.subscribe(self.id, user_topic(&self.user.user_id), &self.subscriber);
        let chats = self.state.db.ready_chats(&self.user.user_id).await?;
        for chat in &chats {
            hub.subscribe(self.id, chat_topic(&chat.id), &self.subscriber);
        }
        let presence = crate::users::visible_presence(&self.state, &self.user).await?;
        let ready = ServerEvent::Ready {
            user_id: self.user.user_id.clone(),
            chats,
            presence,
        };
        spawn_announce(&self.state, &self.user.user_id, Duration::ZERO);
        send_event(socket, &ready)
            .await
            .map_err(|_| Error::unauthorized())
    }

    /// The connection's loop. Returns the close frame to send, if any.
    async fn serve(
        &mut self,
        socket: &mut WebSocket,
        events: &mut mpsc::Receiver<Arc<Published>>,
    ) -> Option<(u16, &'static str)> {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut last_heard = Instant::now();
        let shutdown = self.state.shutdown.clone();
        let too_slow = self.subscriber.too_slow.clone();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Some((close::RESTART, "server restarting")),
                _ = too_slow.cancelled() => return Some((close::TOO_SLOW, "too slow: reconnect and resume")),
                frame = socket.recv() => {
                    let Some(Ok(frame)) = frame else { return None };
                    last_heard = Instant::now();
                    match frame {
                        Message::Text(text) => {
                            if self.handle_frame(socket, text.as_str()).await.is_err() {
                                return None;
                            }
                        }
                        Message::Binary(_) => {
                            let refusal = ServerEvent::Error { code: 422, detail: "frames are JSON text".into(), client_id: None };
                            if send_event(socket, &refusal).await.is_err() {
                                return None;
                            }
                        }
                        Message::Close(_) => return None,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                Some(event) = events.recv() => {
                    if self.forward(socket, &event).await.is_err() {
                        return None;
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > DEAD_AFTER {
                        return None;
                    }
                    // A session that was ended (logout, password change, deletion) ends its sockets too.
                    match self.state.db.live_session_user(&self.user.session_id, now()).await {
                        Ok(Some(_)) => {}
                        Ok(None) => return Some((close::UNAUTHORIZED, "session ended")),
                        Err(_) => {}
                    }
                    if socket.send(Message::Ping(Default::default())).await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Sends a published event on, unless this connection should not see it.
    async fn forward(
        &mut self,
        socket: &mut WebSocket,
        event: &Published,
    ) -> Result<(), axum::Error> {
        if event.is_typing
            && event
                .actor
                .as_ref()
                .is_some_and(|a| *a == self.user.user_id || self.blocked.contains(a))
        {
            return Ok(());
        }
        if let Some((chat_id, seq)) = &event.message_seq
            && !self
                .delivered
                .entry(chat_id.clone())
                .or_default()
                .first_time(*seq)
        {
            return Ok(());
        }
        metrics::histogram!("ws_publish_to_send_seconds").record(event.at.elapsed().as_secs_f64());
        metrics::counter!("ws_events_sent_total").increment(1);
        socket
            .send(Message::Text(Utf8Bytes::from(event.json.as_ref())))
            .await
    }

    /// One client frame. A bad frame gets an `error` event; only a broken socket ends it.
    async fn handle_frame(
        &mut self,
        socket: &mut WebSocket,
        text: &str,
    ) -> Result<(), axum::Error> {
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(err) => {
                let refusal = ServerEvent::Error {
                    code: 422,
                    detail: format!("invalid frame: {err}"),
                    client_id: None,
                };
                return send_event(socket, &refusal).await;
            }
        };
        let (state, user) = (&self.state, &self.user);
        let answer = match frame {
            ClientFrame::Ping => Ok(Some(ServerEvent::Pong)),
            ClientFrame::Auth { .. } => Ok(None),
            ClientFrame::MessageSend {
                chat_id,
                content,
                client_id,
                reply_to,
            } => {
                let req = SendMessage {
                    content,
                    client_id: client_id.clone(),
                    reply_to,
                };
                match messages::send(state, user, &chat_id, req).await {
                    Ok((message, _)) => Ok(Some(ServerEvent::Ack { client_id, message })),
                    Err(err) => Err((err, client_id)),
                }
            }
            ClientFrame::Read { chat_id, up_to_seq } => {
                messages::mark_read(state, user, &chat_id, MarkRead { up_to_seq })
                    .await
                    .map(|_| None)
                    .map_err(|e| (e, None))
            }
            ClientFrame::Presence { status } => {
                let idle = !matches!(status, crate::domain::Status::Online);
                state.presence.set_idle(&user.user_id, idle);
                spawn_announce(state, &user.user_id, Duration::ZERO);
                Ok(None)
            }
            ClientFrame::Typing { chat_id } => self
                .typing(&chat_id)
                .await
                .map(|_| None)
                .map_err(|e| (e, None)),
            ClientFrame::Resume { chats } => return self.resume(socket, chats).await,
        };
        match answer {
            Ok(Some(event)) => {
                if let Some((chat_id, seq)) = event_message(&event) {
                    // Our own ack counts as delivered: its live copy is not sent again.
                    self.delivered.entry(chat_id).or_default().first_time(seq);
                }
                send_event(socket, &event).await
            }
            Ok(None) => Ok(()),
            Err((err, client_id)) => {
                let (code, detail) = describe(&err);
                send_event(
                    socket,
                    &ServerEvent::Error {
                        code,
                        detail,
                        client_id,
                    },
                )
                .await
            }
        }
    }

    async fn typing(&mut self, chat_id: &str) -> Result<(), Error> {
        crate::chats::membership(&self.state, &self.user, chat_id).await?;
        let now = Instant::now();
        if let Some(last) = self.last_typing.get(chat_id)
            && now.duration_since(*last) < TYPING_EVERY
        {
            return Ok(());
        }
        self.last_typing.insert(chat_id.to_string(), now);
        let event = ServerEvent::Typing {
            chat_id: chat_id.into(),
            user_id: self.user.user_id.clone(),
        };
        self.state
            .realtime
            .to_chat(chat_id, &event, Some(&self.user.user_id));
        Ok(())
    }

    /// Replays each chat's messages after the seq the client saw.
    async fn resume(
        &mut self,
        socket: &mut WebSocket,
        chats: HashMap<String, i64>,
    ) -> Result<(), axum::Error> {
        for (chat_id, last_seq) in chats {
            if crate::chats::membership(&self.state, &self.user, &chat_id)
                .await
                .is_err()
            {
                let refusal = ServerEvent::Error {
                    code: 404,
                    detail: format!("chat {chat_id} not found"),
                    client_id: None,
                };
                send_event(socket, &refusal).await?;
                continue;
            }
            let rows = match self
                .state
                .db
                .history(&chat_id, Page::After(last_seq.max(0)), RESUME_MAX + 1)
                .await
            {
                Ok(rows) => rows,
                Err(_) => continue,
            };
            if rows.len() as i64 > RESUME_MAX {
                send_event(
                    socket,
                    &ServerEvent::Resync {
                        chat_id: chat_id.clone(),
                    },
                )
                .await?;
                continue;
            }
            let views = messages::views_of(&self.state, &self.user, rows)
                .await
                .unwrap_or_default();
            let delivered = self.delivered.entry(chat_id.clone()).or_default();
            delivered.client_has_up_to(last_seq);
            for message in views {
                if delivered.first_time(message.seq) {
                    send_event(socket, &ServerEvent::MessageCreated { message }).await?;
                }
            }
        }
        Ok(())
    }
}

/// Announces a user's presence after `delay`, off the connection's task.
fn spawn_announce(state: &AppState, user_id: &str, delay: Duration) {
    let (state, user_id) = (state.clone(), user_id.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if let Err(err) = crate::users::announce_presence(&state, &user_id).await {
            tracing::warn!(error = %err, "presence announcement failed");
        }
    });
}

/// The spec's `WS /ws/status`: `{user_id, status, last_seen}` on every change of the
/// people the user may see; the client may send `{"status": "away"}` (its chosen
/// status; an invalid one gets `{"error": "invalid status"}`).
pub async fn run_status(mut socket: WebSocket, state: AppState, user: AuthUser) {
    let (queue, mut events) = mpsc::channel(QUEUE);
    let subscriber = Subscriber {
        queue,
        too_slow: CancellationToken::new(),
    };
    let hub = state.realtime.hub.clone();
    let id = hub.next_conn_id();
    hub.subscribe(id, user_topic(&user.user_id), &subscriber);
    state.presence.connected(&user.user_id);
    spawn_announce(&state, &user.user_id, Duration::ZERO);
    metrics::gauge!("ws_connections").increment(1.0);
    let (shutdown, too_slow) = (state.shutdown.clone(), subscriber.too_slow.clone());
    let close = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Some((close::RESTART, "server restarting")),
            _ = too_slow.cancelled() => break Some((close::TOO_SLOW, "too slow")),
            frame = socket.recv() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(_)) => continue,
                };
                #[derive(serde::Deserialize)]
                struct StatusFrame {
                    status: crate::domain::Status,
                }
                let answer = match serde_json::from_str::<StatusFrame>(text.as_str()) {
                    Ok(frame) => {
                        let req = crate::users::StatusUpdate { status: frame.status, status_text: None, expires_at: None };
                        crate::users::set_status(&state, &user, &user.user_id, req).await.err().map(|e| describe(&e).1)
                    }
                    Err(_) => Some("invalid status".to_string()),
                };
                if let Some(error) = answer {
                    let refusal = serde_json::json!({"error": error});
                    if socket.send(Message::Text(refusal.to_string().into())).await.is_err() { break None; }
                }
            }
            Some(event) = events.recv() => {
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&event.json) else { continue };
                if value["type"] == "presence" {
                    let change = serde_json::json!({
                        "user_id": value["user_id"], "status": value["status"], "last_seen": value["last_seen"]
                    });
                    if socket.send(Message::Text(change.to_string().into())).await.is_err() { break None; }
                }
            }
        }
    };
    hub.disconnect(id);
    state.presence.disconnected(&user.user_id);
    spawn_announce(
        &state,
        &user.user_id,
        super::presence::GRACE + Duration::from_secs(1),
    );
    metrics::gauge!("ws_connections").decrement(1.0);
    if let Some((code, reason)) = close {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            })))
            .await;
    }
}

/// The messages of one chat this connection has sent (or the client said it has):
/// every seq up to `upto`, and the scattered ones above it in `above`.
#[derive(Default)]
struct Delivered {
    upto: i64,
    above: std::collections::BTreeSet<i64>,
}

impl Delivered {
    /// The client has every message up to `seq` (it said so in a resume).
    fn client_has_up_to(&mut self, seq: i64) {
        self.upto = self.upto.max(seq);
        self.compact();
    }

    /// Records `seq` as sent; false if it was already.
    fn first_time(&mut self, seq: i64) -> bool {
        if seq <= self.upto || !self.above.insert(seq) {
            return false;
        }
        self.compact();
        // Live messages on a chat that was never resumed leave a gap below them; keep
        // the record bounded by forgetting the oldest (a resume re-sends nothing newer).
        while self.above.len() > 4096 {
            self.above.pop_first();
        }
        true
    }

    fn compact(&mut self) {
        while self.above.first().is_some_and(|s| *s <= self.upto + 1) {
            let s = self.above.pop_first().unwrap_or_default();
            self.upto = self.upto.max(s);
        }
    }
}

fn event_message(event: &ServerEvent) -> Option<(String, i64)> {
    match event {
        ServerEvent::Ack { message, .. } => Some((message.chat_id.clone(), message.seq)),
        _ => None,
    }
}

/// The status code and message an HTTP client would get for this error.
fn describe(err: &Error) -> (u16, String) {
    let detail = match err {
        Error::Validation(list) => list
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.loc.last().and_then(|l| l.as_str()).unwrap_or("body"),
                    e.msg
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Error::Internal(_) => "internal error".into(),
        other => other.to_string(),
    };
    (err.status_code(), detail)
}

async fn send_event(socket: &mut WebSocket, event: &ServerEvent) -> Result<(), axum::Error> {
    let json = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    socket.send(Message::Text(json.into())).await
}

/// The spec's `WS /ws/chat/{chat_id}`: one chat per socket. The client sends text
/// (plain, or `{"content": ...}`); every member connected there receives each new
/// message as its JSON, with the spec's `user_id` and `is_read`. Sending goes through
/// the same use case as everywhere, so the same rules apply.
pub async fn run_chat_room(
    mut socket: WebSocket,
    state: AppState,
    user: AuthUser,
    chat_id: String,
) {
    let (queue, mut events) = mpsc::channel(QUEUE);
    let subscriber = Subscriber {
        queue,
        too_slow: CancellationToken::new(),
    };
    let hub = state.realtime.hub.clone();
    let id = hub.next_conn_id();
    // Removal from the chat unsubscribes the user's topic followers; follow it too.
    hub.subscribe(id, user_topic(&user.user_id), &subscriber);
    hub.subscribe(id, chat_topic(&chat_id), &subscriber);
    state.presence.connected(&user.user_id);
    metrics::gauge!("ws_connections").increment(1.0);
    let (shutdown, too_slow) = (state.shutdown.clone(), subscriber.too_slow.clone());
    let close = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Some((close::RESTART, "server restarting")),
            _ = too_slow.cancelled() => break Some((close::TOO_SLOW, "too slow")),
            frame = socket.recv() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(_)) => continue,
                };
                let content = match serde_json::from_str::<serde_json::Value>(text.as_str()) {
                    Ok(serde_json::Value::Object(object)) => match object.get("content").and_then(|c| c.as_str()) {
                        Some(content) => content.to_string(),
                        None => {
                            let refusal = serde_json::json!({"error": "expected text or {\"content\": ...}"});
                            if socket.send(Message::Text(refusal.to_string().into())).await.is_err() { break None; }
                            continue;
                        }
                    },
                    _ => text.to_string(),
                };
                let req = SendMessage { content, client_id: None, reply_to: None };
                if let Err(err) = messages::send(&state, &user, &chat_id, req).await {
                    if matches!(err, Error::NotFound(_)) {
                        break Some((close::FORBIDDEN, "not a member"));
                    }
                    let refusal = serde_json::json!({"error": describe(&err).1});
                    if socket.send(Message::Text(refusal.to_string().into())).await.is_err() { break None; }
                }
            }
            Some(event) = events.recv() => {
                let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&event.json) else { continue };
                match value["type"].as_str() {
                    Some("message.created") if value["message"]["chat_id"] == chat_id.as_str() => {
                        let mut message = value["message"].take();
                        message["is_read"] = serde_json::Value::Bool(false);
                        if socket.send(Message::Text(message.to_string().into())).await.is_err() { break None; }
                    }
                    Some("member.removed") if value["user_id"] == user.user_id.as_str() => {
                        break Some((close::FORBIDDEN, "removed from the chat"));
                    }
                    _ => {}
                }
            }
        }
    };
    hub.disconnect(id);
    state.presence.disconnected(&user.user_id);
    metrics::gauge!("ws_connections").decrement(1.0);
    if let Some((code, reason)) = close {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            })))
            .await;
    }
}
