//! One task per WebSocket connection: it `select!`s over the client's frames, its
//! outbound queue, a heartbeat and the server's shutdown.
//!
//! On connect it subscribes to the user's topic and every chat of theirs *before*
//! reading anything, then sends `ready`; a `resume` replays missed messages after
//! that, and live messages already replayed are dropped by seq. So nothing falls in
//! the gap between the backlog and the live stream, and nothing comes twice.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use super::hub::{ConnId, Published, Subscriber};
use super::{chat_topic, user_topic};
use crate::auth::AuthUser;
use crate::domain::event::{ClientFrame, ServerEvent};
use crate::error::Error;
use crate::messages::{self, MarkRead, SendMessage};
use crate::state::AppState;
use crate::store::{Page, now};
use crate::users;

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
/// The most queued events written before one flush.
const BATCH: usize = 256;
/// A busy connection writes at most once this often (see [`Pacer`]).
/// Not perceptible in a conversation, and at 1,000 busy sockets it is 25,000 writes a
/// second instead of one per event (docs/BENCHMARKS.md has the measurements).
const WRITE_EVERY: Duration = Duration::from_millis(40);
/// Writes a quiet connection may make at once before pacing starts.
const WRITE_BURST: u32 = 4;
/// How long the closing handshake may take before the socket is simply dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// At most one typing event per user and chat this often.
const TYPING_EVERY: Duration = Duration::from_secs(3);

/// What every kind of connection shares: its place in the hub and its queue, and
/// the bookkeeping (presence, metrics, close frame) when it opens and closes.
struct Link {
    state: AppState,
    user_id: String,
    session_id: String,
    id: ConnId,
    subscriber: Subscriber,
}

impl Link {
    /// Opens a link following the user's own topic; the receiver is its queue.
    fn open(state: &AppState, user: &AuthUser) -> (Self, mpsc::Receiver<Arc<Published>>) {
        let (queue, events) = mpsc::channel(QUEUE);
        let user_id = &user.user_id;
        let link = Self {
            state: state.clone(),
            user_id: user_id.to_string(),
            session_id: user.session_id.clone(),
            id: state.realtime.hub.next_conn_id(),
            subscriber: Subscriber {
                queue,
                too_slow: CancellationToken::new(),
            },
        };
        metrics::gauge!("ws_connections").increment(1.0);
        state.presence.connected(user_id);
        link.follow(user_topic(user_id));
        users::announce_later(state, user_id, Duration::ZERO);
        (link, events)
    }

    fn follow(&self, topic: String) {
        self.state
            .realtime
            .hub
            .subscribe(self.id, topic, &self.subscriber);
    }

    /// Why the connection must end now, whatever else is going on: the server is
    /// stopping, or this reader fell too far behind.
    async fn ended(&self) -> (u16, &'static str) {
        tokio::select! {
            _ = self.state.shutdown.cancelled() => (close::RESTART, "server restarting"),
            _ = self.subscriber.too_slow.cancelled() => (close::TOO_SLOW, "too slow: reconnect and resume"),
        }
    }

    /// Whether the session this socket was opened with has ended (logout, password
    /// change, deletion). A database error is not taken as an ending.
    async fn session_ended(&self) -> bool {
        matches!(
            self.state
                .db
                .live_session_user(&self.session_id, now())
                .await,
            Ok(None)
        )
    }

    /// The close to send when `event` says sessions ended and this one is among them.
    async fn ended_by(&self, event: &Published) -> Option<(u16, &'static str)> {
        if event.checks_session && self.session_ended().await {
            return Some((close::UNAUTHORIZED, "session ended"));
        }
        None
    }

    /// Leaves the hub, tells presence (offline only once the grace time has passed
    /// without a reconnect), and sends the close frame, if any.
    async fn close(self, socket: &mut WebSocket, close: Option<(u16, &'static str)>) {
        self.state.realtime.hub.disconnect(self.id);
        self.state.presence.disconnected(&self.user_id);
        users::announce_later(
            &self.state,
            &self.user_id,
            super::presence::GRACE + Duration::from_secs(1),
        );
        metrics::gauge!("ws_connections").decrement(1.0);
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            };
            // The closing handshake: send ours, then read until the peer's close, so
            // that nothing it sends meanwhile (a pong) meets a closed socket and resets
            // the connection before it has read our frames. A stalled peer may never
            // take part: don't wait for it for long.
            let handshake = async {
                socket.send(Message::Close(Some(frame))).await?;
                while let Some(Ok(message)) = socket.recv().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
                Ok::<_, axum::Error>(())
            };
            let _ = tokio::time::timeout(CLOSE_WAIT, handshake).await;
        }
    }
}

struct Connection {
    link: Link,
    state: AppState,
    user: AuthUser,
    /// Per chat, which messages this connection has sent, so that a resume and the
    /// live stream never send one twice, and a resume never skips one.
    delivered: HashMap<String, Delivered>,
    blocked: HashSet<String>,
    last_typing: HashMap<String, Instant>,
}

/// Runs a connection until it closes. `user` is already authenticated.
pub async fn run(mut socket: WebSocket, state: AppState, user: AuthUser) {
    let (link, mut events) = Link::open(&state, &user);
    let mut conn = Connection {
        blocked: Box::pin(state.db.block_ids(&user.user_id, true))
            .await
            .unwrap_or_default(),
        link,
        state,
        user,
        delivered: HashMap::new(),
        last_typing: HashMap::new(),
    };
    let close = match Box::pin(conn.start(&mut socket)).await {
        Ok(()) => conn.serve(&mut socket, &mut events).await,
        Err(_) => None,
    };
    Box::pin(conn.link.close(&mut socket, close)).await;
}

// A connection's task is as large as the largest state of its future, and it lives
// as long as the socket; so what runs only now and then (a frame's use case, a
// database check) is boxed, and an idle connection keeps only its loop.
impl Connection {
    /// Subscribes to every chat, then sends `ready`.
    async fn start(&mut self, socket: &mut WebSocket) -> Result<(), Error> {
        let chats = self.state.db.ready_chats(&self.user.user_id).await?;
        for chat in &chats {
            self.link.follow(chat_topic(&chat.id));
        }
        let presence = crate::users::visible_presence(&self.state, &self.user).await?;
        let ready = ServerEvent::Ready {
            user_id: self.user.user_id.clone(),
            chats,
            presence,
        };
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
        let mut pacer = Pacer::new(Instant::now());
        // While the pacer holds writes back: the first event waiting, and when it goes.
        let mut held: Option<Arc<Published>> = None;
        let mut pause: Option<Pin<Box<Sleep>>> = None;
        loop {
            tokio::select! {
                why = self.link.ended() => return Some(why),
                frame = socket.recv() => {
                    let Some(Ok(frame)) = frame else { return None };
                    last_heard = Instant::now();
                    match frame {
                        Message::Text(text) => {
                            if Box::pin(self.handle_frame(socket, text.as_str())).await.is_err() {
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
                Some(event) = events.recv(), if held.is_none() => {
                    let now = Instant::now();
                    match pacer.next_write(now) {
                        Some(at) => {
                            // Busy: this event and whatever follows it go out together.
                            held = Some(event);
                            match pause.as_mut() {
                                Some(pause) => pause.as_mut().reset(at.into()),
                                None => pause = Some(Box::pin(tokio::time::sleep_until(at.into()))),
                            }
                        }
                        None => {
                            if let Err(why) = self.write_out(socket, event, events).await {
                                return why;
                            }
                            pacer.wrote(now);
                        }
                    }
                }
                () = until(&mut pause), if held.is_some() => {
                    if let Some(event) = held.take()
                        && let Err(why) = self.write_out(socket, event, events).await
                    {
                        return why;
                    }
                    pacer.wrote(Instant::now());
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > DEAD_AFTER {
                        return None;
                    }
                    // Ended sessions are announced, but a revoked refresh token ends one
                    // without knowing whose: check here too.
                    if Box::pin(self.link.session_ended()).await {
                        return Some((close::UNAUTHORIZED, "session ended"));
                    }
                    if socket.send(Message::Ping(Default::default())).await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Writes `first` and whatever else is queued behind it (up to [`BATCH`]), then
    /// flushes once: one write for many events when a chat is busy. `Err` carries how
    /// the connection ends.
    async fn write_out(
        &mut self,
        socket: &mut WebSocket,
        first: Arc<Published>,
        events: &mut mpsc::Receiver<Arc<Published>>,
    ) -> Result<(), Option<(u16, &'static str)>> {
        let mut next = Some(first);
        let (mut taken, mut sent) = (0, 0);
        while let Some(event) = next.take() {
            if event.checks_session
                && let Some(why) = Box::pin(self.link.ended_by(&event)).await
            {
                return Err(Some(why));
            }
            if self.should_send(&event) {
                METERS
                    .publish_to_send
                    .record(event.at.elapsed().as_secs_f64());
                socket
                    .feed(Message::Text(event.json.clone()))
                    .await
                    .map_err(|_| None)?;
                sent += 1;
            }
            taken += 1;
            if taken < BATCH {
                next = events.try_recv().ok();
            }
        }
        METERS.events_sent.increment(sent);
        socket.flush().await.map_err(|_| None)
    }

    /// Whether this connection sends `event`: not typing by itself or someone it
    /// blocked, and not a message it already sent.
    fn should_send(&mut self, event: &Published) -> bool {
        if event.is_typing
            && event
                .actor
                .as_ref()
                .is_some_and(|a| *a == self.user.user_id || self.blocked.contains(a))
        {
            return false;
        }
        let Some((chat_id, seq)) = &event.message_seq else {
            return true;
        };
        match self.delivered.get_mut(chat_id) {
            Some(delivered) => delivered.first_time(*seq),
            None => self
                .delivered
                .entry(chat_id.clone())
                .or_default()
                .first_time(*seq),
        }
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
        // What a person does counts as activity (a ping is the app's, not theirs).
        if !matches!(
            frame,
            ClientFrame::Ping | ClientFrame::Auth { .. } | ClientFrame::Presence { .. }
        ) {
            users::note_activity(state, &user.user_id);
        }
        let answer = match frame {
            ClientFrame::Ping => Ok(Some(ServerEvent::Pong)),
            ClientFrame::Auth { .. } => Ok(None),
            ClientFrame::MessageSend { chat_id, message } => {
                let client_id = message.client_id.clone();
                match messages::send(state, user, &chat_id, message).await {
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
                users::announce_later(state, &user.user_id, Duration::ZERO);
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
                .history(&chat_id, Page::After(last_seq.max(0)), RESUME_MAX + 1, true)
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

/// The spec's `WS /ws/status`: `{user_id, status, last_seen}` on every change of the
/// people the user may see; the client may send `{"status": "away"}` (its chosen
/// status; an invalid one gets `{"error": "invalid status"}`).
pub async fn run_status(mut socket: WebSocket, state: AppState, user: AuthUser) {
    let (link, mut events) = Link::open(&state, &user);
    let close = loop {
        tokio::select! {
            why = link.ended() => break Some(why),
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
                        let req = users::StatusUpdate { status: frame.status, status_text: None, expires_at: None };
                        Box::pin(users::set_status(&state, &user, &user.user_id, req)).await.err().map(|e| describe(&e).1)
                    }
                    Err(_) => Some("invalid status".to_string()),
                };
                if let Some(error) = answer
                    && send_json(&mut socket, &serde_json::json!({"error": error})).await.is_err()
                {
                    break None;
                }
            }
            Some(event) = events.recv() => {
                if let Some(why) = Box::pin(link.ended_by(&event)).await { break Some(why); }
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&event.json) else { continue };
                if value["type"] == "presence" {
                    let change = serde_json::json!({
                        "user_id": value["user_id"], "status": value["status"], "last_seen": value["last_seen"]
                    });
                    if send_json(&mut socket, &change).await.is_err() { break None; }
                }
            }
        }
    };
    Box::pin(link.close(&mut socket, close)).await;
}

/// When a connection writes. Each write is a system call, and on a busy socket one per
/// event is most of what the server does; so a quiet connection writes at once (up to
/// [`WRITE_BURST`] writes in a row), and a busy one at most once per [`WRITE_EVERY`],
/// each write taking everything queued meanwhile. A cell-rate algorithm (GCRA): the
/// theoretical time of the next write advances by `WRITE_EVERY` per write.
struct Pacer {
    next: Instant,
}

impl Pacer {
    fn new(now: Instant) -> Self {
        Self { next: now }
    }

    /// `None` to write now, or when to.
    fn next_write(&self, now: Instant) -> Option<Instant> {
        let earliest = self
            .next
            .checked_sub(WRITE_EVERY * (WRITE_BURST - 1))
            .unwrap_or(now);
        (earliest > now).then_some(earliest)
    }

    fn wrote(&mut self, now: Instant) {
        self.next = self.next.max(now) + WRITE_EVERY;
    }
}

/// Waits out the pacer's pause (or forever, when there is none).
async fn until(pause: &mut Option<Pin<Box<Sleep>>>) {
    match pause {
        Some(pause) => pause.as_mut().await,
        None => std::future::pending().await,
    }
}

/// The metrics counted per event, looked up once (a lookup costs more than the count).
struct Meters {
    events_sent: metrics::Counter,
    publish_to_send: metrics::Histogram,
}

static METERS: LazyLock<Meters> = LazyLock::new(|| Meters {
    events_sent: metrics::counter!("ws_events_sent_total"),
    publish_to_send: metrics::histogram!("ws_publish_to_send_seconds"),
});

/// The messages of one chat this connection has sent (or the client said it has):
/// every seq up to `upto`, and above it runs of consecutive seqs (first → last). A
/// socket that only ever gets live messages keeps one run per chat, however many.
#[derive(Default)]
struct Delivered {
    upto: i64,
    above: std::collections::BTreeMap<i64, i64>,
}

/// The most runs kept per chat; beyond it the oldest are forgotten (a resume then
/// re-sends nothing newer than them).
const DELIVERED_RUNS: usize = 1024;

impl Delivered {
    /// The client has every message up to `seq` (it said so in a resume).
    fn client_has_up_to(&mut self, seq: i64) {
        self.upto = self.upto.max(seq);
        self.compact();
    }

    /// Records `seq` as sent; false if it was already.
    fn first_time(&mut self, seq: i64) -> bool {
        if seq <= self.upto {
            return false;
        }
        let below = self.above.range(..=seq).next_back().map(|(&f, &l)| (f, l));
        if below.is_some_and(|(_, last)| last >= seq) {
            return false;
        }
        // Join the run ending just below and the one starting just above, if any.
        let first = match below {
            Some((first, last)) if last == seq - 1 => first,
            _ => seq,
        };
        let last = self.above.remove(&(seq + 1)).unwrap_or(seq);
        self.above.insert(first, last);
        self.compact();
        while self.above.len() > DELIVERED_RUNS {
            self.above.pop_first();
        }
        true
    }

    fn compact(&mut self) {
        while let Some((&first, &last)) = self.above.first_key_value()
            && first <= self.upto + 1
        {
            self.above.pop_first();
            self.upto = self.upto.max(last);
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

/// For the spec's sockets, whose frames are plain JSON rather than our events.
async fn send_json(socket: &mut WebSocket, value: &serde_json::Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(value.to_string().into())).await
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
    // The user's own topic (followed by every link) says when they are removed.
    let (link, mut events) = Link::open(&state, &user);
    link.follow(chat_topic(&chat_id));
    let close = loop {
        tokio::select! {
            why = link.ended() => break Some(why),
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
                            if send_json(&mut socket, &refusal).await.is_err() { break None; }
                            continue;
                        }
                    },
                    _ => text.to_string(),
                };
                users::note_activity(&state, &user.user_id);
                let req = SendMessage {
                    content,
                    client_id: None,
                    reply_to: None,
                    attachments: Vec::new(),
                    thread_root_id: None,
                    also_in_chat: false,
                };
                if let Err(err) = Box::pin(messages::send(&state, &user, &chat_id, req)).await {
                    if matches!(err, Error::NotFound(_)) {
                        break Some((close::FORBIDDEN, "not a member"));
                    }
                    if send_json(&mut socket, &serde_json::json!({"error": describe(&err).1})).await.is_err() {
                        break None;
                    }
                }
            }
            Some(event) = events.recv() => {
                if let Some(why) = Box::pin(link.ended_by(&event)).await { break Some(why); }
                let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&event.json) else { continue };
                match value["type"].as_str() {
                    Some("message.created") if value["message"]["chat_id"] == chat_id.as_str() => {
                        let mut message = value["message"].take();
                        message["is_read"] = serde_json::Value::Bool(false);
                        if send_json(&mut socket, &message).await.is_err() { break None; }
                    }
                    Some("member.removed") if value["user_id"] == user.user_id.as_str() => {
                        break Some((close::FORBIDDEN, "removed from the chat"));
                    }
                    _ => {}
                }
            }
        }
    };
    Box::pin(link.close(&mut socket, close)).await;
}

#[cfg(test)]
mod tests {
    use super::{Delivered, Pacer, WRITE_BURST, WRITE_EVERY};
    use std::time::Instant;

    #[test]
    fn a_quiet_connection_writes_at_once_and_a_busy_one_at_a_pace() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start);
        for _ in 0..WRITE_BURST {
            assert_eq!(pacer.next_write(start), None, "a burst goes out at once");
            pacer.wrote(start);
        }
        let at = pacer.next_write(start).expect("then writes are paced");
        assert_eq!(at, start + WRITE_EVERY);
        pacer.wrote(at);
        assert_eq!(pacer.next_write(at), Some(at + WRITE_EVERY));
        // Quiet for long enough, it may burst again.
        let later = at + WRITE_EVERY * WRITE_BURST;
        assert_eq!(pacer.next_write(later), None);
    }

    #[test]
    fn delivered_seqs_are_never_sent_twice_and_live_runs_stay_one() {
        let mut d = Delivered::default();
        for seq in 100..5000 {
            assert!(d.first_time(seq));
        }
        assert_eq!(d.above.len(), 1, "one run for a live-only socket");
        assert!(!d.first_time(100) && !d.first_time(4999) && !d.first_time(2500));
        // A resume from 40 re-sends 41..99 and nothing after.
        d.client_has_up_to(40);
        let resent: Vec<i64> = (41..6000).filter(|&s| d.first_time(s)).collect();
        assert_eq!(resent, (41..100).chain(5000..6000).collect::<Vec<_>>());
        assert!(d.above.is_empty() && d.upto == 5999, "all joined into upto");
        // Gaps stay gaps until filled, in any order.
        assert!(d.first_time(6010) && d.first_time(6008) && d.first_time(6009));
        assert_eq!(d.above.len(), 1);
        assert!(d.first_time(6000 + 1));
        assert_eq!(d.above.len(), 2);
        for seq in 6002..6008 {
            assert!(d.first_time(seq));
        }
        assert_eq!((d.upto, d.above.len()), (5999, 1));
        assert!(d.first_time(6000));
        assert_eq!((d.upto, d.above.len()), (6010, 0));
    }
}
