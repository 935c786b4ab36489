//! The WebSocket gateway with real WebSocket clients: delivery, acks, typing, read
//! events, resume without gap or duplicate, membership changes, bad frames, shutdown.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::backend_tests;
use crate::chats::{direct, group, send};
use crate::helpers::{Backend, TestApp, TestUser, spawn_app};

backend_tests!(
    a_message_sent_over_http_or_ws_reaches_the_other_member,
    typing_and_read_events_reach_the_others_only,
    resume_replays_what_was_missed_without_gap_or_duplicate,
    membership_changes_act_at_once,
    bad_frames_get_errors_and_the_connection_lives,
    tokens_are_checked_before_or_right_after_the_upgrade,
    shutdown_closes_sockets_with_1012,
    the_specs_one_chat_socket_delivers_to_every_member_connected_there,
    presence_reaches_the_people_who_may_see_it,
    the_specs_status_socket_reports_changes_and_takes_a_status,
);

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Client {
    pub socket: Socket,
}

impl Client {
    pub async fn connect(app: &TestApp, user: &TestUser) -> (Self, Value) {
        let url = format!("ws://{}/ws?token={}", app.addr, user.token);
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgrade");
        let mut client = Self { socket };
        let ready = client.next().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (client, ready)
    }

    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    /// The next JSON event but presence, which comes and goes as people connect.
    pub async fn next(&mut self) -> Value {
        loop {
            let event = self.next_any().await;
            if event["type"] != "presence" {
                return event;
            }
        }
    }

    /// The next presence event about `user_id`.
    pub async fn presence_of(&mut self, user_id: &str) -> Value {
        loop {
            let event = self.next_any().await;
            if event["type"] == "presence" && event["user_id"] == user_id {
                return event;
            }
        }
    }

    /// The next JSON event of any kind (pings are answered by the library and skipped).
    pub async fn next_any(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("an event within 10 s")
                .expect("the socket is open")
                .expect("a frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next event of a type, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let event = self.next().await;
            if event["type"] == kind {
                return event;
            }
        }
    }

    /// Asserts nothing but pings arrives for a short while.
    pub async fn silent(&mut self) {
        let quiet = tokio::time::timeout(Duration::from_millis(300), async {
            loop {
                match self.socket.next().await {
                    Some(Ok(Message::Text(text))) if !text.contains("\"type\":\"presence\"") => {
                        return Some(text.to_string());
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                    _ => continue,
                }
            }
        })
        .await;
        if let Ok(Some(text)) = quiet {
            panic!("expected silence, got {text}");
        }
    }

    /// The close code the server ends the connection with.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("closes")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    }
}

async fn a_message_sent_over_http_or_ws_reaches_the_other_member(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let (mut a, ready) = Client::connect(&app, &alice).await;
    assert_eq!(ready["user_id"], alice.id);
    assert_eq!(ready["chats"][0]["id"], chat);
    let (mut b, _) = Client::connect(&app, &bob).await;

    let sent = send(&app, &alice, &chat, "over http").await;
    let got = b.next_of("message.created").await;
    assert_eq!(got["message"]["id"], sent["id"]);
    assert_eq!(got["message"]["seq"], 1);
    a.next_of("message.created").await; // Alice's other devices see it too.

    a.send(
        json!({"type": "message.send", "chat_id": chat, "content": "over *ws*", "client_id": "k1"}),
    )
    .await;
    let ack = a.next().await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["client_id"], "k1");
    assert_eq!(ack["message"]["seq"], 2);
    assert_eq!(ack["message"]["html"], "<p>over <em>ws</em></p>");
    let got = b.next_of("message.created").await;
    assert_eq!(got["message"]["id"], ack["message"]["id"]);
    a.silent().await; // The ack stands for the message: no second copy.

    // A retry over the socket is acknowledged with the first message.
    a.send(
        json!({"type": "message.send", "chat_id": chat, "content": "over *ws*", "client_id": "k1"}),
    )
    .await;
    assert_eq!(a.next().await["message"]["id"], ack["message"]["id"]);
    b.silent().await;

    // Edits and deletes reach members too.
    let path = format!("/chats/{chat}/messages/{}", sent["id"].as_str().unwrap());
    app.request(
        reqwest::Method::PUT,
        path.as_str(),
        Some(&alice.token),
        Some(json!({"content": "edited"})),
    )
    .await
    .expect(200);
    assert_eq!(
        b.next_of("message.updated").await["message"]["content"],
        "edited"
    );
    app.request(
        reqwest::Method::DELETE,
        path.as_str(),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    let deleted = b.next_of("message.deleted").await;
    assert_eq!(
        (deleted["message_id"].as_str(), deleted["seq"].as_i64()),
        (sent["id"].as_str(), Some(1))
    );
}

async fn typing_and_read_events_reach_the_others_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let chat = group(&app, &alice, "Team", &[&bob, &carol]).await;
    app.post(
        &format!("/users/{}/block", alice.id),
        Some(&carol.token),
        json!({}),
    )
    .await
    .expect(204);
    let (mut a, _) = Client::connect(&app, &alice).await;
    let (mut b, _) = Client::connect(&app, &bob).await;
    let (mut c, _) = Client::connect(&app, &carol).await;

    a.send(json!({"type": "typing", "chat_id": chat})).await;
    let typing = b.next_of("typing").await;
    assert_eq!(
        (typing["chat_id"].as_str(), typing["user_id"].as_str()),
        (Some(chat.as_str()), Some(alice.id.as_str()))
    );
    a.silent().await; // never echoed
    c.silent().await; // not shown across a block
    a.send(json!({"type": "typing", "chat_id": chat})).await;
    b.silent().await; // at most one per few seconds

    let message = send(&app, &bob, &chat, "read this").await;
    a.next_of("message.created").await;
    a.send(json!({"type": "read", "chat_id": chat, "up_to_seq": message["seq"]}))
        .await;
    let read = b.next_of("read").await;
    assert_eq!(
        (read["user_id"].as_str(), read["read_seq"].as_i64()),
        (Some(alice.id.as_str()), message["seq"].as_i64())
    );
}

async fn resume_replays_what_was_missed_without_gap_or_duplicate(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let (mut b, _) = Client::connect(&app, &bob).await;
    send(&app, &alice, &chat, "seen live").await;
    let last_seen = b.next_of("message.created").await["message"]["seq"]
        .as_i64()
        .unwrap();
    drop(b);

    for i in 0..3 {
        send(&app, &alice, &chat, &format!("missed {i}")).await;
    }
    let (mut b, ready) = Client::connect(&app, &bob).await;
    assert_eq!(ready["chats"][0]["last_seq"], 4);
    // A message sent while the resume is under way arrives once, in order.
    let sender = {
        let (app_addr, token, chat) = (app.addr, alice.token.clone(), chat.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("http://{app_addr}/chats/{chat}/messages"))
                .bearer_auth(token)
                .json(&json!({"content": "during resume"}))
                .send()
                .await
                .unwrap()
        })
    };
    b.send(json!({"type": "resume", "chats": {chat.clone(): last_seen}}))
        .await;
    sender.await.unwrap();
    let mut seqs = Vec::new();
    while seqs.len() < 4 {
        let event = b.next_of("message.created").await;
        seqs.push(event["message"]["seq"].as_i64().unwrap());
    }
    assert_eq!(seqs, vec![2, 3, 4, 5], "no gap, no duplicate");
    b.silent().await;

    // A live message that arrives before the resume is asked for does not hide the
    // older ones the resume must replay.
    drop(b);
    send(&app, &alice, &chat, "missed while away").await; // seq 6
    let (mut b, _) = Client::connect(&app, &bob).await;
    send(&app, &alice, &chat, "live before resume").await; // seq 7
    assert_eq!(b.next_of("message.created").await["message"]["seq"], 7);
    b.send(json!({"type": "resume", "chats": {chat.clone(): 5}}))
        .await;
    assert_eq!(b.next_of("message.created").await["message"]["seq"], 6);
    b.silent().await;

    // Too much missed (over 500 messages): the client is told to reload the chat.
    let path = format!("/chats/{chat}/messages");
    let sends = (0..501).map(|i| {
        app.post(
            path.as_str(),
            Some(&alice.token),
            json!({"content": format!("bulk {i}")}),
        )
    });
    futures_util::future::join_all(sends).await;
    drop(b);
    let (mut b, _) = Client::connect(&app, &bob).await;
    b.send(json!({"type": "resume", "chats": {chat.clone(): 5}}))
        .await;
    assert_eq!(b.next().await, json!({"type": "resync", "chat_id": chat}));
    b.send(json!({"type": "resume", "chats": {"01890000-0000-7000-8000-000000000000": 0}}))
        .await;
    assert_eq!(b.next_of("error").await["code"], 404);
}

async fn membership_changes_act_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let chat = group(&app, &alice, "Team", &[&bob]).await;
    let (mut b, _) = Client::connect(&app, &bob).await;
    let (mut c, _) = Client::connect(&app, &carol).await;

    // Carol is added: her open socket receives the chat from then on.
    app.post(
        &format!("/chats/{chat}/members"),
        Some(&alice.token),
        json!({"user_ids": [carol.id]}),
    )
    .await
    .expect(200);
    let system = c.next_of("message.created").await;
    assert_eq!(system["message"]["event"]["type"], "added");
    assert_eq!(
        c.next_of("member.added").await["user_ids"],
        json!([carol.id])
    );
    send(&app, &alice, &chat, "welcome").await;
    assert_eq!(
        c.next_of("message.created").await["message"]["content"],
        "welcome"
    );

    // Bob is removed: he hears of it, then nothing more.
    app.request(
        reqwest::Method::DELETE,
        format!("/chats/{chat}/members/{}", bob.id),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    let removed = b.next_of("member.removed").await;
    assert_eq!(removed["user_id"], bob.id);
    assert_eq!(
        c.next_of("message.created").await["message"]["event"]["type"],
        "removed"
    );
    send(&app, &alice, &chat, "after bob").await;
    assert_eq!(
        c.next_of("message.created").await["message"]["content"],
        "after bob"
    );
    b.silent().await;
}

async fn bad_frames_get_errors_and_the_connection_lives(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let stranger = app.user("stranger").await;
    let chat = direct(&app, &alice, &bob).await;
    let (mut a, _) = Client::connect(&app, &alice).await;
    let (mut s, _) = Client::connect(&app, &stranger).await;
    for frame in [
        "not json",
        "{}",
        "{\"type\": \"warp\"}",
        "{\"type\": \"message.send\"}",
    ] {
        a.socket.send(Message::text(frame)).await.unwrap();
        let error = a.next().await;
        assert_eq!(
            (error["type"].as_str(), error["code"].as_i64()),
            (Some("error"), Some(422)),
            "{frame}"
        );
    }
    a.send(json!({"type": "message.send", "chat_id": chat, "content": "", "client_id": "e1"}))
        .await;
    let error = a.next().await;
    assert_eq!(
        (error["code"].as_i64(), error["client_id"].as_str()),
        (Some(422), Some("e1"))
    );
    s.send(json!({"type": "message.send", "chat_id": chat, "content": "let me in"}))
        .await;
    assert_eq!(s.next().await["code"], 404);
    s.send(json!({"type": "typing", "chat_id": chat})).await;
    assert_eq!(s.next().await["code"], 404);
    a.send(json!({"type": "ping"})).await;
    assert_eq!(a.next().await["type"], "pong");

    // A frame over the size limit ends the connection.
    let huge = json!({"type": "message.send", "chat_id": chat, "content": "x".repeat(100_000)});
    let _ = a.socket.send(Message::text(huge.to_string())).await;
    let code = a.close_code().await;
    assert!(matches!(code, Some(1009) | None), "{code:?}");
}

async fn tokens_are_checked_before_or_right_after_the_upgrade(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    // A bad token in the query: 401 before any upgrade.
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?token=forged", app.addr)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected 401, got {other:?}"),
    }
    // A foreign origin: 403.
    let mut request = format!("ws://{}/ws?token={}", app.addr, alice.token)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
    // The token as the first frame.
    let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr))
        .await
        .unwrap();
    let mut client = Client { socket };
    client
        .send(json!({"type": "auth", "token": alice.token}))
        .await;
    assert_eq!(client.next().await["type"], "ready");
    // A bad first frame: closed with 4401.
    let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr))
        .await
        .unwrap();
    let mut client = Client { socket };
    client
        .send(json!({"type": "auth", "token": "forged"}))
        .await;
    assert_eq!(client.close_code().await, Some(4401));
    // Logging out ends the session's sockets at the next heartbeat; here we check the
    // token no longer opens one.
    app.post("/auth/logout", Some(&alice.token), json!({}))
        .await
        .expect(204);
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?token={}", app.addr, alice.token))
            .await;
    assert!(
        matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401)
    );
}

async fn shutdown_closes_sockets_with_1012(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let (mut a, _) = Client::connect(&app, &alice).await;
    app.stop();
    assert_eq!(a.close_code().await, Some(u16::from(CloseCode::Restart)));
}

async fn the_specs_one_chat_socket_delivers_to_every_member_connected_there(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let chat = group(&app, &alice, "Room", &[&bob]).await;
    let room = |user: &TestUser| format!("ws://{}/ws/chat/{chat}?token={}", app.addr, user.token);
    let (a, _) = tokio_tungstenite::connect_async(room(&alice))
        .await
        .unwrap();
    let (b, _) = tokio_tungstenite::connect_async(room(&bob)).await.unwrap();
    let (mut a, mut b) = (Client { socket: a }, Client { socket: b });

    a.socket.send(Message::text("plain hello")).await.unwrap();
    for client in [&mut a, &mut b] {
        let message = client.next().await;
        assert_eq!(message["content"], "plain hello");
        assert_eq!(message["user_id"], alice.id);
        assert_eq!(message["chat_id"], chat);
        assert_eq!(message["is_read"], false);
        assert!(
            message["id"].is_string()
                && message["created_at"].is_string()
                && message["seq"].is_i64()
        );
    }
    b.send(json!({"content": "json **hello**"})).await;
    assert_eq!(a.next().await["html"], "<p>json <strong>hello</strong></p>");
    b.next().await;
    // Messages sent elsewhere arrive here too.
    send(&app, &alice, &chat, "from http").await;
    assert_eq!(b.next().await["content"], "from http");
    b.send(json!({"nothing": 1})).await;
    assert!(b.next().await["error"].is_string());

    // Not a member: closed with 4403. No token: 401 before the upgrade.
    let (e, _) = tokio_tungstenite::connect_async(room(&eve)).await.unwrap();
    assert_eq!(Client { socket: e }.close_code().await, Some(4403));
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/chat/{chat}", app.addr)).await;
    assert!(
        matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401)
    );

    // Removed from the chat: the room closes.
    app.request(
        reqwest::Method::DELETE,
        format!("/chats/{chat}/members/{}", bob.id),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    assert_eq!(b.close_code().await, Some(4403));
}

async fn presence_reaches_the_people_who_may_see_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let stranger = app.user("stranger").await;
    direct(&app, &alice, &bob).await;
    let (mut b, _) = Client::connect(&app, &bob).await;
    let (mut s, _) = Client::connect(&app, &stranger).await;
    let (mut a, ready) = Client::connect(&app, &alice).await;
    // Alice's ready frame lists Bob's presence; Bob hears Alice come online... she was
    // already around (she just logged in), so he hears her next change instead.
    let bobs = ready["presence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user_id"] == bob.id)
        .cloned()
        .unwrap();
    assert_eq!(bobs["status"], "online");
    let busy = json!({"status": "busy", "status_text": "deep work"});
    app.request(
        reqwest::Method::PUT,
        "/users/me/status",
        Some(&alice.token),
        Some(busy),
    )
    .await
    .expect(200);
    let event = loop {
        let event = b.presence_of(&alice.id).await;
        if event["status"] == "busy" {
            break event;
        }
    };
    assert_eq!(event["status_text"], "deep work");
    loop {
        if a.presence_of(&alice.id).await["status"] == "busy" {
            break; // her own devices hear it
        }
    }
    s.silent().await; // a stranger shares no chat and is no friend

    // Privacy: nobody sees it.
    let hidden = json!({"privacy": {"presence": "nobody"}});
    app.request(
        reqwest::Method::PUT,
        "/users/me",
        Some(&alice.token),
        Some(hidden),
    )
    .await
    .expect(200);
    app.request(
        reqwest::Method::PUT,
        "/users/me/status",
        Some(&alice.token),
        Some(json!({"status": "away"})),
    )
    .await
    .expect(200);
    let heard = tokio::time::timeout(Duration::from_millis(500), b.presence_of(&alice.id)).await;
    assert!(heard.is_err(), "hidden presence was sent: {heard:?}");
    // Saying "away" over the socket is idle, not a chosen status.
    a.send(json!({"type": "presence", "status": "online"}))
        .await;
    a.send(json!({"type": "presence", "status": "asleep"}))
        .await;
    assert_eq!(a.next_of("error").await["code"], 422);
}

async fn the_specs_status_socket_reports_changes_and_takes_a_status(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    crate::users::befriend(&app, &alice, &bob).await;
    let (socket, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws/status?token={}",
        app.addr, bob.token
    ))
    .await
    .unwrap();
    let mut b = Client { socket };
    app.request(
        reqwest::Method::PUT,
        "/users/me/status",
        Some(&alice.token),
        Some(json!({"status": "away"})),
    )
    .await
    .expect(200);
    let change = loop {
        let change = b.next().await;
        if change["user_id"] == alice.id {
            break change;
        }
    };
    assert_eq!(change["status"], "away");
    assert!(change.get("last_seen").is_some());
    assert!(change.get("type").is_none(), "the spec's plain shape");
    b.send(json!({"status": "sleeping"})).await;
    assert_eq!(b.next().await, json!({"error": "invalid status"}));
    b.send(json!({"status": "busy"})).await;
    let mine = loop {
        let change = b.next().await;
        if change["user_id"] == bob.id {
            break change;
        }
    };
    assert_eq!(mine["status"], "busy");
    let refused = tokio_tungstenite::connect_async(format!("ws://{}/ws/status", app.addr)).await;
    assert!(
        matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401)
    );
}
