//! Threads: replies out of the main timeline (or in it too), counts on the root that
//! stay exact under concurrent replies and deletes, following and unread replies,
//! the followed-threads list, realtime events and resume, and the unhappy paths.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::chats::{direct, group, send};
use crate::helpers::{Backend, TestApp, TestUser, spawn_app};
use crate::realtime::Client;

backend_tests!(
    replies_stay_in_their_thread_and_count_for_followers,
    thread_rules_refuse_bad_roots_strangers_and_bad_input,
    concurrent_replies_and_deletes_count_exactly,
    thread_replies_come_live_and_by_resume,
);

async fn reply(app: &TestApp, user: &TestUser, chat: &str, root: &str, content: &str) -> Value {
    app.post(
        format!("/chats/{chat}/messages"),
        Some(&user.token),
        json!({"content": content, "thread_root_id": root}),
    )
    .await
    .expect(201)
    .body
}

async fn history(app: &TestApp, user: &TestUser, chat: &str) -> Vec<Value> {
    let body = app
        .get(format!("/chats/{chat}/messages"), Some(&user.token))
        .await
        .expect(200)
        .body;
    body.as_array().unwrap().clone()
}

async fn root_seen_by(app: &TestApp, user: &TestUser, chat: &str, root: &str) -> Value {
    app.get(
        format!("/chats/{chat}/messages/{root}/thread"),
        Some(&user.token),
    )
    .await
    .expect(200)
    .body["root"]
        .clone()
}

/// (unread_count, thread_unread_count) in my chat list.
async fn counts(app: &TestApp, user: &TestUser, chat: &str) -> (i64, i64) {
    let list = app.get("/chats", Some(&user.token)).await.expect(200).body;
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chat)
        .expect("the chat is listed")
        .clone();
    (
        item["unread_count"].as_i64().unwrap(),
        item["thread_unread_count"].as_i64().unwrap(),
    )
}

fn ids(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["id"].as_str().unwrap()).collect()
}

async fn replies_stay_in_their_thread_and_count_for_followers(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let chat = group(&app, &alice, "team", &[&bob, &carol]).await;
    let root = send(&app, &alice, &chat, "shall we ship friday?").await;
    let root_id = root["id"].as_str().unwrap();
    assert!(root["thread"].is_null(), "no thread before a reply");
    let (before_unread, _) = counts(&app, &alice, &chat).await;

    let first = reply(&app, &bob, &chat, root_id, "yes, after the review").await;
    assert_eq!(first["thread_root_id"], root_id);
    assert_eq!(first["also_in_chat"], false);
    // The main timeline and its unread counts leave thread-only replies out.
    assert_eq!(
        ids(&history(&app, &carol, &chat).await).last().copied(),
        Some(root_id)
    );
    assert_eq!(counts(&app, &alice, &chat).await, (before_unread, 1));
    assert_eq!(
        counts(&app, &carol, &chat).await.1,
        0,
        "carol does not follow"
    );
    assert_eq!(counts(&app, &bob, &chat).await.1, 0, "his own reply");

    // The root's author follows once a reply comes; the replier follows and has read it.
    let seen = root_seen_by(&app, &alice, &chat, root_id).await;
    assert_eq!(seen["thread"]["reply_count"], 1);
    assert_eq!(seen["thread"]["participant_ids"], json!([bob.id]));
    assert_eq!(seen["thread"]["last_reply_seq"], first["seq"]);
    assert_eq!(
        (
            &seen["thread"]["following"],
            &seen["thread"]["unread_count"]
        ),
        (&json!(true), &json!(1))
    );
    let seen = root_seen_by(&app, &carol, &chat, root_id).await;
    assert_eq!(
        (
            &seen["thread"]["following"],
            &seen["thread"]["unread_count"]
        ),
        (&json!(false), &json!(0))
    );

    // Reading the thread clears it; the pointer never moves back.
    let read = format!("/chats/{chat}/messages/{root_id}/thread/read");
    let view = app
        .post(
            &read,
            Some(&alice.token),
            json!({"up_to_seq": first["seq"]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(view["unread_count"], 0);
    app.post(&read, Some(&alice.token), json!({"up_to_seq": 0}))
        .await
        .expect(200);
    assert_eq!(counts(&app, &alice, &chat).await.1, 0);

    // Carol follows; a reply by alice is unread for her and for bob, not for alice.
    let follow = format!("/chats/{chat}/messages/{root_id}/thread/follow");
    let view = app
        .request(
            Method::PUT,
            &follow,
            Some(&carol.token),
            Some(json!({"following": true})),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (view["following"].as_bool(), view["reply_count"].as_i64()),
        (Some(true), Some(1))
    );
    let second = reply(&app, &alice, &chat, root_id, "friday it is").await;
    assert_eq!(counts(&app, &carol, &chat).await.1, 2);
    assert_eq!(counts(&app, &bob, &chat).await.1, 1);
    assert_eq!(counts(&app, &alice, &chat).await.1, 0);
    // Unfollowing stops the count.
    app.request(
        Method::PUT,
        &follow,
        Some(&carol.token),
        Some(json!({"following": false})),
    )
    .await
    .expect(200);
    assert_eq!(counts(&app, &carol, &chat).await.1, 0);

    // A reply also sent to the chat shows in the timeline and counts there.
    let (carol_unread, _) = counts(&app, &carol, &chat).await;
    let shown = app
        .post(
            format!("/chats/{chat}/messages"),
            Some(&bob.token),
            json!({"content": "everyone: friday", "thread_root_id": root_id, "also_in_chat": true}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(
        ids(&history(&app, &carol, &chat).await).last().copied(),
        shown["id"].as_str()
    );
    assert_eq!(counts(&app, &carol, &chat).await.0, carol_unread + 1);

    // The thread pages oldest first; `before` goes back.
    let path = format!("/chats/{chat}/messages/{root_id}/thread");
    let page = app.get(&path, Some(&carol.token)).await.expect(200).body;
    let all: Vec<Value> = page["replies"].as_array().unwrap().clone();
    assert_eq!(
        ids(&all),
        vec![
            first["id"].as_str().unwrap(),
            second["id"].as_str().unwrap(),
            shown["id"].as_str().unwrap()
        ]
    );
    assert_eq!(page["root"]["thread"]["reply_count"], 3);
    let older = app
        .get(
            format!("{path}?before={}&limit=1", shown["seq"]),
            Some(&carol.token),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        ids(older["replies"].as_array().unwrap()),
        vec![second["id"].as_str().unwrap()]
    );

    // The threads I follow, newest reply first, in chats I am in.
    let other = send(&app, &bob, &chat, "another topic").await;
    let other_id = other["id"].as_str().unwrap();
    reply(&app, &alice, &chat, other_id, "go on").await;
    let mine = app.get("/threads", Some(&bob.token)).await.expect(200).body;
    let roots: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["root"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(roots, vec![other_id, root_id]);
    assert_eq!(mine[0]["chat_id"], chat);
    assert_eq!(mine[0]["root"]["thread"]["unread_count"], 1);
    let last = mine[0]["root"]["thread"]["last_reply_at"].as_str().unwrap();
    let next = app
        .get(
            format!("/threads?before={}", urlencode(last)),
            Some(&bob.token),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(next.as_array().unwrap().len(), 1);
    assert_eq!(next[0]["root"]["id"], root_id);
    let none = app
        .get("/threads", Some(&carol.token))
        .await
        .expect(200)
        .body;
    assert_eq!(none, json!([]), "carol unfollowed");

    // Deleting a reply takes it off the count; the chat list preview skips replies.
    app.request(
        Method::DELETE,
        format!("/chats/{chat}/messages/{}", second["id"].as_str().unwrap()),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    let seen = root_seen_by(&app, &carol, &chat, root_id).await;
    assert_eq!(seen["thread"]["reply_count"], 2);
    let list = app.get("/chats", Some(&carol.token)).await.expect(200).body;
    assert_eq!(list["items"][0]["last_message"]["id"], other_id);

    // A mention in a thread-only reply makes carol follow; it counts in the thread,
    // not as a mention in the chat, whose reading cannot reach it.
    let topic = send(&app, &alice, &chat, "third topic").await;
    let (_, carol_threads) = counts(&app, &carol, &chat).await;
    reply(
        &app,
        &bob,
        &chat,
        topic["id"].as_str().unwrap(),
        "@carol have a look",
    )
    .await;
    assert_eq!(counts(&app, &carol, &chat).await.1, carol_threads + 1);
    let list = app.get("/chats", Some(&carol.token)).await.expect(200).body;
    assert_eq!(list["items"][0]["mention_count"], 0);
    let mentions = app
        .get("/mentions", Some(&carol.token))
        .await
        .expect(200)
        .body;
    assert_eq!(
        mentions[0]["content"], "@carol have a look",
        "still listed as hers"
    );

    // A member who leaves no longer has the chat's threads.
    app.request(
        Method::DELETE,
        format!("/chats/{chat}/members/{}", bob.id),
        Some(&bob.token),
        None,
    )
    .await
    .expect(204);
    let gone = app.get("/threads", Some(&bob.token)).await.expect(200).body;
    assert_eq!(gone, json!([]));
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

async fn thread_rules_refuse_bad_roots_strangers_and_bad_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let chat = direct(&app, &alice, &bob).await;
    let elsewhere = direct(&app, &alice, &eve).await;
    let root = send(&app, &alice, &chat, "root").await;
    let root_id = root["id"].as_str().unwrap();
    let foreign = send(&app, &alice, &elsewhere, "not in this chat").await;
    let first = reply(&app, &bob, &chat, root_id, "a reply").await;
    let gone = send(&app, &alice, &chat, "deleted soon").await;
    app.request(
        Method::DELETE,
        format!("/chats/{chat}/messages/{}", gone["id"].as_str().unwrap()),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    let before = history(&app, &alice, &chat).await;
    let send_path = format!("/chats/{chat}/messages");
    for (body, why) in [
        (
            json!({"content": "x", "thread_root_id": first["id"]}),
            "a reply is not a root",
        ),
        (
            json!({"content": "x", "thread_root_id": foreign["id"]}),
            "another chat's message",
        ),
        (
            json!({"content": "x", "thread_root_id": gone["id"]}),
            "a deleted message",
        ),
        (
            json!({"content": "x", "thread_root_id": "0192f000-0000-7000-8000-000000000000"}),
            "unknown",
        ),
        (
            json!({"content": "x", "thread_root_id": "../../etc"}),
            "not an id",
        ),
        (
            json!({"content": "x", "also_in_chat": true}),
            "also_in_chat alone",
        ),
        (json!({"content": "", "thread_root_id": root_id}), "empty"),
    ] {
        let refused = app.post(&send_path, Some(&bob.token), body).await;
        assert_eq!(refused.status, 422, "{why}: {:?}", refused.body);
        assert!(refused.body["detail"].is_array(), "{why}");
    }
    let not_member = app
        .post(
            &send_path,
            Some(&eve.token),
            json!({"content": "x", "thread_root_id": root_id}),
        )
        .await;
    assert_eq!(not_member.status, 404);
    assert_eq!(
        history(&app, &alice, &chat).await.len(),
        before.len(),
        "nothing sent"
    );
    assert_eq!(
        root_seen_by(&app, &alice, &chat, root_id).await["thread"]["reply_count"],
        1
    );

    let thread = format!("/chats/{chat}/messages/{root_id}/thread");
    let follow = format!("{thread}/follow");
    let read = format!("{thread}/read");
    assert_eq!(
        app.get(&thread, Some(&eve.token)).await.status,
        404,
        "a stranger"
    );
    assert_eq!(app.get(&thread, None).await.status, 401);
    assert_eq!(
        app.get(&thread, Some("forged.token.here")).await.status,
        401
    );
    for query in ["?limit=0", "?limit=101", "?before=3&after=1", "?limit=x"] {
        let bad = app.get(format!("{thread}{query}"), Some(&bob.token)).await;
        assert_eq!(bad.status, 422, "{query}");
    }
    let of_reply = format!(
        "/chats/{chat}/messages/{}/thread",
        first["id"].as_str().unwrap()
    );
    assert_eq!(app.get(&of_reply, Some(&bob.token)).await.status, 404);
    let unknown = format!("/chats/{chat}/messages/0192f000-0000-7000-8000-000000000000/thread");
    assert_eq!(app.get(&unknown, Some(&bob.token)).await.status, 404);
    assert_eq!(
        app.request(
            Method::PUT,
            &follow,
            Some(&eve.token),
            Some(json!({"following": true}))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.request(
            Method::PUT,
            &follow,
            Some(&bob.token),
            Some(json!({"following": "yes"}))
        )
        .await
        .status,
        422
    );
    assert_eq!(
        app.request(Method::PUT, &follow, Some(&bob.token), Some(json!({})))
            .await
            .status,
        422
    );
    let raw = app
        .client
        .post(app.url(&read))
        .bearer_auth(&bob.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 422);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["detail"][0]["type"], "json_invalid", "{body}");
    assert_eq!(
        app.post(&read, Some(&bob.token), json!({"up_to_seq": -1}))
            .await
            .status,
        422
    );
    assert_eq!(
        app.post(&read, Some(&eve.token), json!({"up_to_seq": 1}))
            .await
            .status,
        404
    );
    assert_eq!(
        app.get("/threads?limit=0", Some(&bob.token)).await.status,
        422
    );
    assert_eq!(
        app.get("/threads?before=yesterday", Some(&bob.token))
            .await
            .status,
        422
    );
    assert_eq!(app.get("/threads", None).await.status, 401);
    // None of that changed anything.
    let seen = root_seen_by(&app, &bob, &chat, root_id).await;
    assert_eq!(seen["thread"]["reply_count"], 1);
    assert_eq!(seen["thread"]["following"], true);
}

async fn concurrent_replies_and_deletes_count_exactly(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.user("owner").await;
    let mut people = Vec::new();
    for i in 0..10 {
        people.push(app.user(&format!("person{i}")).await);
    }
    let refs: Vec<&TestUser> = people.iter().collect();
    let chat = group(&app, &owner, "crowd", &refs).await;
    let root = send(&app, &owner, &chat, "discuss").await;
    let root_id = root["id"].as_str().unwrap();
    let sends = people.iter().flat_map(|p| {
        let (app, chat) = (&app, &chat);
        (0..3)
            .map(move |n| async move { reply(app, p, chat, root_id, &format!("reply {n}")).await })
    });
    let replies = futures_util::future::join_all(sends).await;
    let seen = root_seen_by(&app, &owner, &chat, root_id).await;
    assert_eq!(seen["thread"]["reply_count"], 30);
    assert_eq!(
        seen["thread"]["participant_ids"].as_array().unwrap().len(),
        10
    );
    assert_eq!(seen["thread"]["unread_count"], 30);
    let max_seq = replies.iter().map(|r| r["seq"].as_i64().unwrap()).max();
    assert_eq!(seen["thread"]["last_reply_seq"].as_i64(), max_seq);

    // Each of ten replies deleted by its author and by the owner (an admin) at once:
    // each counts off once.
    let deletes = replies.iter().take(10).flat_map(|r| {
        let path = format!("/chats/{chat}/messages/{}", r["id"].as_str().unwrap());
        let author = people
            .iter()
            .find(|p| r["sender_id"] == p.id.as_str())
            .unwrap();
        [(path.clone(), author), (path, &owner)].map(|(path, user)| {
            let app = &app;
            async move {
                app.request(Method::DELETE, path, Some(&user.token), None)
                    .await
                    .status
            }
        })
    });
    for status in futures_util::future::join_all(deletes).await {
        assert_eq!(status, 204);
    }
    let seen = root_seen_by(&app, &owner, &chat, root_id).await;
    assert_eq!(seen["thread"]["reply_count"], 20);
    assert_eq!(
        seen["thread"]["unread_count"], 20,
        "deleted replies are not unread"
    );
    assert_eq!(counts(&app, &owner, &chat).await.1, 20);
}

async fn thread_replies_come_live_and_by_resume(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let root = send(&app, &alice, &chat, "root").await;
    let root_id = root["id"].as_str().unwrap();
    let (mut a, ready) = Client::connect(&app, &alice).await;
    assert_eq!(ready["chats"][0]["thread_unread_count"], 0);
    let (mut b, _) = Client::connect(&app, &bob).await;
    // Over the socket, with the same body as HTTP.
    b.send(
        json!({"type": "message.send", "chat_id": chat, "content": "over ws",
        "client_id": "t1", "thread_root_id": root_id}),
    )
    .await;
    let ack = b.next_of("ack").await;
    assert_eq!(ack["message"]["thread_root_id"], root_id);
    let created = a.next_of("message.created").await;
    assert_eq!(created["message"]["thread_root_id"], root_id);
    // The root's author now follows, and hears so with the unread count.
    let state = a.next_of("thread.state").await;
    assert_eq!(
        (&state["following"], &state["unread_count"]),
        (&json!(true), &json!(1))
    );
    let updated = a.next_of("thread.updated").await;
    assert_eq!(
        (&updated["root_id"], &updated["thread"]["reply_count"]),
        (&json!(root_id), &json!(1))
    );
    assert_eq!(updated["thread"]["participant_ids"], json!([bob.id]));
    // Reading on one device tells the others.
    app.post(
        format!("/chats/{chat}/messages/{root_id}/thread/read"),
        Some(&alice.token),
        json!({"up_to_seq": ack["message"]["seq"]}),
    )
    .await
    .expect(200);
    let state = a.next_of("thread.state").await;
    assert_eq!(
        (&state["following"], &state["unread_count"]),
        (&json!(true), &json!(0))
    );
    let last_seq = ack["message"]["seq"].as_i64().unwrap();
    drop(a);

    // Missed while away: resume replays replies too.
    let missed = reply(&app, &bob, &chat, root_id, "while you were out").await;
    let (mut a, ready) = Client::connect(&app, &alice).await;
    assert_eq!(ready["chats"][0]["thread_unread_count"], 1);
    a.send(json!({"type": "resume", "chats": {chat.clone(): last_seq}}))
        .await;
    let replayed = a.next_of("message.created").await;
    assert_eq!(replayed["message"]["id"], missed["id"]);
    assert_eq!(replayed["message"]["thread_root_id"], root_id);
    // A deleted reply is announced with the new count.
    app.request(
        Method::DELETE,
        format!("/chats/{chat}/messages/{}", missed["id"].as_str().unwrap()),
        Some(&bob.token),
        None,
    )
    .await
    .expect(204);
    assert_eq!(
        a.next_of("message.deleted").await["message_id"],
        missed["id"]
    );
    assert_eq!(
        a.next_of("thread.updated").await["thread"]["reply_count"],
        1
    );
}
