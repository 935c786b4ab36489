//! Live updates beyond messages (friends, profiles, sessions, idle presence) and
//! connection management (a stalled reader is cut, the per-user cap), with real
//! WebSocket clients.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::backend_tests;
use crate::chats::direct;
use crate::helpers::{Backend, TestApp, TestUser, spawn_app, spawn_app_with};
use crate::realtime::{Client, Socket};

backend_tests!(
    friend_requests_and_friendships_reach_both_people_live,
    profile_changes_reach_the_people_who_share_a_chat,
    ending_a_session_closes_its_sockets_at_once_and_no_others,
    an_idle_connection_turns_away_and_activity_brings_it_back,
    a_stalled_reader_is_cut_with_4008_and_resumes_by_seq,
    a_user_may_hold_twenty_connections_and_no_more,
);

async fn friend_requests_and_friendships_reach_both_people_live(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let (mut a, _) = Client::connect(&app, &alice).await;
    let (mut b, _) = Client::connect(&app, &bob).await;
    let (mut e, _) = Client::connect(&app, &eve).await;

    let request = app
        .post(
            "/friends/requests",
            Some(&alice.token),
            json!({"user_id": bob.id}),
        )
        .await
        .expect(201)
        .body;
    for socket in [&mut a, &mut b] {
        let event = socket.next_of("friend.request").await;
        assert_eq!(event["request_id"], request["id"]);
        assert_eq!(event["from_user_id"], alice.id);
        assert_eq!(event["to_user_id"], bob.id);
    }
    let accept = format!(
        "/friends/requests/{}/accept",
        request["id"].as_str().unwrap()
    );
    app.post(&accept, Some(&bob.token), json!({}))
        .await
        .expect(200);
    assert_eq!(a.next_of("friend.added").await["user_id"], bob.id);
    assert_eq!(b.next_of("friend.added").await["user_id"], alice.id);

    app.request(
        Method::DELETE,
        format!("/friends/{}", bob.id),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    assert_eq!(a.next_of("friend.removed").await["user_id"], bob.id);
    assert_eq!(b.next_of("friend.removed").await["user_id"], alice.id);

    // A declined or cancelled request disappears on both sides.
    let again = app
        .post(
            "/friends/requests",
            Some(&bob.token),
            json!({"user_id": alice.id}),
        )
        .await
        .expect(201)
        .body;
    a.next_of("friend.request").await;
    let decline = format!(
        "/friends/requests/{}/decline",
        again["id"].as_str().unwrap()
    );
    app.post(&decline, Some(&alice.token), json!({}))
        .await
        .expect(204);
    for socket in [&mut a, &mut b] {
        let gone = socket.next_of("friend.request.removed").await;
        assert_eq!(gone["request_id"], again["id"]);
    }
    // Blocking someone who asked removes their request live too.
    let third = app
        .post(
            "/friends/requests",
            Some(&bob.token),
            json!({"user_id": alice.id}),
        )
        .await
        .expect(201)
        .body;
    a.next_of("friend.request").await;
    app.post(
        &format!("/users/{}/block", bob.id),
        Some(&alice.token),
        json!({}),
    )
    .await;
    let gone = b.next_of("friend.request.removed").await;
    assert_eq!(gone["request_id"], third["id"]);
    e.silent().await; // none of it concerns Eve
}

async fn profile_changes_reach_the_people_who_share_a_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let stranger = app.user("stranger").await;
    direct(&app, &alice, &bob).await;
    let (mut a, _) = Client::connect(&app, &alice).await;
    let (mut b, _) = Client::connect(&app, &bob).await;
    let (mut s, _) = Client::connect(&app, &stranger).await;
    app.request(
        Method::PUT,
        "/users/me",
        Some(&alice.token),
        Some(json!({"display_name": "Alice A."})),
    )
    .await
    .expect(200);
    assert_eq!(b.next_of("user.updated").await["user_id"], alice.id);
    assert_eq!(a.next_of("user.updated").await["user_id"], alice.id);
    s.silent().await;
    // A refused change announces nothing.
    app.request(
        Method::PUT,
        "/users/me",
        Some(&alice.token),
        Some(json!({"display_name": ""})),
    )
    .await
    .expect(422);
    b.silent().await;
}

async fn ending_a_session_closes_its_sockets_at_once_and_no_others(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let laptop = app
        .login("alice", "correct horse", false)
        .await
        .expect(200)
        .body;
    let laptop = TestUser {
        token: laptop["access_token"].as_str().unwrap().into(),
        ..alice.clone()
    };
    let (mut phone, _) = Client::connect(&app, &alice).await;
    let (mut desk, _) = Client::connect(&app, &laptop).await;
    app.post("/auth/logout", Some(&alice.token), json!({}))
        .await
        .expect(204);
    // Well before the next heartbeat (20 s): the logout itself closes it.
    let closed = tokio::time::timeout(Duration::from_secs(5), phone.close_code())
        .await
        .expect("closed at once");
    assert_eq!(closed, Some(4401));
    desk.next_of("sessions.changed").await;
    desk.send(json!({"type": "ping"})).await;
    assert_eq!(desk.next_of("pong").await["type"], "pong");

    // A password change ends the other sessions, and keeps the one that made it.
    let tablet = app
        .login("alice", "correct horse", false)
        .await
        .expect(200)
        .body;
    let tablet = TestUser {
        token: tablet["access_token"].as_str().unwrap().into(),
        ..alice.clone()
    };
    let (mut other, _) = Client::connect(&app, &tablet).await;
    let change = json!({"current_password": "correct horse", "new_password": "battery staple 2"});
    app.request(
        Method::PUT,
        "/auth/password",
        Some(&laptop.token),
        Some(change),
    )
    .await
    .expect(204);
    let closed = tokio::time::timeout(Duration::from_secs(5), other.close_code())
        .await
        .expect("closed at once");
    assert_eq!(closed, Some(4401));
    desk.send(json!({"type": "ping"})).await;
    assert_eq!(desk.next_of("pong").await["type"], "pong");
}

async fn an_idle_connection_turns_away_and_activity_brings_it_back(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.presence_idle_secs = 1).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let (mut b, _) = Client::connect(&app, &bob).await;
    let (mut a, _) = Client::connect(&app, &alice).await;
    // Nobody says anything: the server notices Alice is idle by itself.
    loop {
        if b.presence_of(&alice.id).await["status"] == "away" {
            break;
        }
    }
    a.send(json!({"type": "typing", "chat_id": chat})).await;
    loop {
        if b.presence_of(&alice.id).await["status"] == "online" {
            break;
        }
    }
}

/// Opens a socket whose reader never reads, with a tiny receive buffer, so that the
/// server's writes back up at once.
async fn stalled_socket(app: &TestApp, user: &TestUser) -> Socket {
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(app.addr).await.unwrap();
    let url = format!("ws://{}/ws?token={}", app.addr, user.token);
    let (socket, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("upgrade");
    socket
}

async fn queue_overflows(app: &TestApp) -> f64 {
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("ws_queue_overflows_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn a_stalled_reader_is_cut_with_4008_and_resumes_by_seq(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let mut stalled = stalled_socket(&app, &alice).await;
    // Bob sends big messages from a few sockets until the server gives up on Alice.
    let mut senders = Vec::new();
    for _ in 0..4 {
        senders.push(Client::connect(&app, &bob).await.0);
    }
    let content = "x".repeat(3_900);
    // The overflow counter is shared by every test in this process, so it only says
    // when to look; the close frame itself says Alice was cut. Concurrent sends may go
    // out of seq order, so she resumes from the end of what she has without a hole, as
    // a client does.
    let mut overflows = queue_overflows(&app).await;
    let mut seen = std::collections::BTreeSet::new();
    let mut sent = 0;
    let code = 'cut: loop {
        assert!(sent < 20_000, "the stalled reader was never cut");
        let batch = senders.iter_mut().map(|s| async {
            for _ in 0..25 {
                let frame = json!({"type": "message.send", "chat_id": chat, "content": content});
                s.send(frame).await;
                s.next_of("ack").await;
            }
        });
        futures_util::future::join_all(batch).await;
        sent += 100;
        let now = queue_overflows(&app).await;
        if now <= overflows {
            continue;
        }
        overflows = now;
        // Read what was buffered: a close means she was cut; silence, that it was
        // someone else's overflow, and she stalls again.
        loop {
            let Ok(frame) = tokio::time::timeout(Duration::from_secs(2), stalled.next()).await
            else {
                break;
            };
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let event: Value = serde_json::from_str(&text).unwrap();
                    if event["type"] == "message.created" {
                        let seq = event["message"]["seq"].as_i64().unwrap();
                        assert!(seen.insert(seq), "seq {seq} came twice");
                    }
                }
                Some(Ok(Message::Close(frame))) => break 'cut frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    };
    assert_eq!(code, Some(4008));
    let mut last_seq = 0;
    while seen.contains(&(last_seq + 1)) {
        last_seq += 1;
    }
    let (mut again, ready) = Client::connect(&app, &alice).await;
    let last = ready["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chat.as_str())
        .unwrap()["last_seq"]
        .as_i64()
        .unwrap();
    assert!(last > last_seq, "she missed some");
    again
        .send(json!({"type": "resume", "chats": {chat.clone(): last_seq}}))
        .await;
    if last - last_seq > 500 {
        assert_eq!(again.next_of("resync").await["chat_id"], chat.as_str());
    } else {
        for seq in last_seq + 1..=last {
            let event = again.next_of("message.created").await;
            assert_eq!(event["message"]["seq"], seq);
        }
    }
}

async fn a_user_may_hold_twenty_connections_and_no_more(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(Client::connect(&app, &alice).await.0);
    }
    let url = format!("ws://{}/ws?token={}", app.addr, alice.token);
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
        }
        other => panic!(
            "the 21st connection was not refused: {:?}",
            other.map(|_| ())
        ),
    }
    // Closing one frees a place.
    let mut one = held.pop().unwrap();
    one.socket.close(None).await.unwrap();
    drop(one);
    let mut tries = 0;
    loop {
        match tokio_tungstenite::connect_async(&url).await {
            Ok(_) => break,
            Err(_) if tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("no place after closing one: {err}"),
        }
    }
}
