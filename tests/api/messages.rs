//! Messages: sending, rich text, history pages, edits, deletes, receipts, and seqs
//! that stay gap-free under concurrent senders.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::chats::{direct, group, send};
use crate::helpers::{Backend, spawn_app, spawn_app_with};

backend_tests!(
    a_sent_message_comes_back_committed_with_its_seq,
    retries_with_the_same_client_id_never_duplicate,
    bad_messages_are_refused_and_change_nothing,
    markdown_is_rendered_and_sanitized,
    history_pages_before_after_around_and_skip,
    the_author_edits_and_earlier_versions_are_kept,
    deletes_leave_tombstones_for_authors_and_group_admins,
    read_pointers_move_forward_and_count_exactly,
    read_status_respects_read_receipt_settings,
    mentions_are_recorded_and_counted,
    messages_from_blocked_people_are_marked,
    fifty_concurrent_senders_get_seqs_one_to_n,
);

async fn a_sent_message_comes_back_committed_with_its_seq(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let first = send(&app, &alice, &chat, "Hello **Bob**").await;
    assert_eq!(first["seq"], 1);
    assert_eq!(first["chat_id"], chat);
    assert_eq!(first["sender_id"], alice.id);
    assert_eq!(first["user_id"], alice.id);
    assert_eq!(first["content"], "Hello **Bob**");
    assert_eq!(first["html"], "<p>Hello <strong>Bob</strong></p>");
    assert_eq!(first["deleted"], false);
    assert_eq!(first["edited_at"], Value::Null);
    let second = send(&app, &bob, &chat, "Hi").await;
    assert_eq!(second["seq"], 2);
    let reply = app
        .post(
            &format!("/chats/{chat}/messages"),
            Some(&bob.token),
            json!({"content": "re", "reply_to": first["id"]}),
        )
        .await
        .expect(201);
    assert_eq!(reply.body["reply_to"], first["id"]);
    // Bob's own sends moved his read pointer.
    let mine = app
        .get(&format!("/chats/{chat}"), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(mine["me"]["read_seq"], 3);
    assert_eq!(mine["last_seq"], 3);
    // What the sender is answered (built without reading it back) is what history shows.
    let mentioning = send(&app, &alice, &chat, "ping @bob").await;
    let history = app
        .get(&format!("/chats/{chat}/messages"), Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(mentioning["mentions"], json!([bob.id]));
    assert_eq!(history.as_array().unwrap().last().unwrap(), &mentioning);
}

async fn retries_with_the_same_client_id_never_duplicate(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let path = format!("/chats/{chat}/messages");
    let body = json!({"content": "once", "client_id": "c-1"});
    let first = app
        .post(&path, Some(&alice.token), body.clone())
        .await
        .expect(201)
        .body;
    let again = app
        .post(&path, Some(&alice.token), body.clone())
        .await
        .expect(200)
        .body;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(again["client_id"], "c-1");
    // Concurrent retries of one send: one message.
    let sends = (0..10).map(|_| {
        app.post(
            &path,
            Some(&alice.token),
            json!({"content": "burst", "client_id": "c-2"}),
        )
    });
    let replies = futures_util::future::join_all(sends).await;
    let ids: std::collections::HashSet<_> = replies.iter().map(|r| r.body["id"].clone()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    // Another sender may use the same client_id.
    app.post(&path, Some(&bob.token), body).await.expect(201);
    let history = app.get(&path, Some(&alice.token)).await.expect(200).body;
    assert_eq!(history.as_array().unwrap().len(), 3);
    app.post(
        &path,
        Some(&alice.token),
        json!({"content": "x", "client_id": ""}),
    )
    .await
    .expect(422);
    app.post(
        &path,
        Some(&alice.token),
        json!({"content": "x", "client_id": "c".repeat(65)}),
    )
    .await
    .expect(422);
}

async fn bad_messages_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.message_max_chars = 100).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let path = format!("/chats/{chat}/messages");
    for body in [
        json!({"content": ""}),
        json!({"content": "   \n "}),
        json!({"content": "x".repeat(101)}),
        json!({"content": "bell\u{0007}"}),
        json!({"content": 42}),
        json!({}),
        json!({"content": "ok", "reply_to": "01890000-0000-7000-8000-000000000000"}),
        json!({"content": "ok", "reply_to": "not-an-id"}),
    ] {
        let reply = app
            .post(&path, Some(&alice.token), body.clone())
            .await
            .expect(422);
        assert!(reply.body["detail"].is_array(), "{body}");
    }
    app.post(
        &path,
        Some(&alice.token),
        json!({"content": "é".repeat(100)}),
    )
    .await
    .expect(201);
    app.post_raw(&path, "application/json", "{\"content\": \"x\"}")
        .await
        .expect(401);
    let history = app.get(&path, Some(&alice.token)).await.expect(200).body;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(
        history[0]["seq"], 1,
        "no seq was spent on a refused message"
    );
    app.post(
        "/chats/01890000-0000-7000-8000-000000000000/messages",
        Some(&alice.token),
        json!({"content": "x"}),
    )
    .await
    .expect(404);
    app.post(
        "/chats/nope/messages",
        Some(&alice.token),
        json!({"content": "x"}),
    )
    .await
    .expect(404);
}

async fn markdown_is_rendered_and_sanitized(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let cases = [
        (
            "*it* ~~no~~ `code`",
            "<p><em>it</em> <del>no</del> <code>code</code></p>",
        ),
        (
            "<script>alert(1)</script>",
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",
        ),
        (
            "[x](javascript:alert(1))",
            "<p><a target=\"_blank\" rel=\"nofollow noopener noreferrer\">x</a></p>",
        ),
    ];
    for (content, html) in cases {
        let message = send(&app, &alice, &chat, content).await;
        assert_eq!(message["html"], html, "{content}");
        assert_eq!(message["content"], content);
    }
}

async fn history_pages_before_after_around_and_skip(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    for i in 1..=30 {
        send(&app, &alice, &chat, &format!("m{i}")).await;
    }
    let seqs = |page: &Value| {
        page.as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let get = |query: &str| app.get(format!("/chats/{chat}/messages?{query}"), Some(&bob.token));
    assert_eq!(
        seqs(&get("limit=5").await.expect(200).body),
        vec![26, 27, 28, 29, 30]
    );
    assert_eq!(
        seqs(&get("before=26&limit=3").await.expect(200).body),
        vec![23, 24, 25]
    );
    assert_eq!(seqs(&get("after=28").await.expect(200).body), vec![29, 30]);
    assert_eq!(
        seqs(&get("around=10&limit=4").await.expect(200).body),
        vec![8, 9, 10, 11]
    );
    assert_eq!(
        seqs(&get("skip=5&limit=2").await.expect(200).body),
        vec![24, 25]
    );
    assert_eq!(
        seqs(&get("before=1").await.expect(200).body),
        Vec::<i64>::new()
    );
    assert_eq!(get("").await.expect(200).body.as_array().unwrap().len(), 30);
    for bad in [
        "limit=101",
        "limit=0",
        "skip=-1",
        "before=x",
        "before=5&after=1",
    ] {
        get(bad).await.expect(422);
    }
}

async fn the_author_edits_and_earlier_versions_are_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = group(&app, &alice, "Team", &[&bob]).await;
    let message = send(&app, &bob, &chat, "first draft").await;
    let path = format!("/chats/{chat}/messages/{}", message["id"].as_str().unwrap());
    let edit = |content: &str| json!({"content": content});
    app.request(
        Method::PUT,
        &path,
        Some(&alice.token),
        Some(edit("hijacked")),
    )
    .await
    .expect(403);
    app.request(Method::PUT, &path, Some(&bob.token), Some(edit("")))
        .await
        .expect(422);
    let edited = app
        .request(
            Method::PUT,
            &path,
            Some(&bob.token),
            Some(edit("second *draft*")),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(edited["content"], "second *draft*");
    assert_eq!(edited["html"], "<p>second <em>draft</em></p>");
    assert!(edited["edited_at"].is_string());
    assert_eq!(edited["seq"], message["seq"]);
    app.request(Method::PUT, &path, Some(&bob.token), Some(edit("final")))
        .await
        .expect(200);
    let versions = app
        .get(&format!("{path}/history"), Some(&alice.token))
        .await
        .expect(200)
        .body;
    let contents: Vec<_> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["second *draft*", "first draft"]);
    app.request(
        Method::PUT,
        &format!("/chats/{chat}/messages/01890000-0000-7000-8000-000000000000"),
        Some(&bob.token),
        Some(edit("x")),
    )
    .await
    .expect(404);
    // A system message is nobody's to edit.
    let system = app
        .get(
            format!("/chats/{chat}/messages?after=0&limit=1"),
            Some(&alice.token),
        )
        .await
        .expect(200)
        .body;
    let system_path = format!(
        "/chats/{chat}/messages/{}",
        system[0]["id"].as_str().unwrap()
    );
    app.request(
        Method::PUT,
        &system_path,
        Some(&alice.token),
        Some(edit("x")),
    )
    .await
    .expect(403);
}

async fn deletes_leave_tombstones_for_authors_and_group_admins(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let chat = group(&app, &alice, "Team", &[&bob, &carol]).await;
    let bobs = send(&app, &bob, &chat, "bob's").await;
    let carols = send(&app, &carol, &chat, "carol's").await;
    let path = |m: &Value| format!("/chats/{chat}/messages/{}", m["id"].as_str().unwrap());
    app.request(Method::DELETE, &path(&carols), Some(&bob.token), None)
        .await
        .expect(403);
    app.request(Method::DELETE, &path(&bobs), Some(&bob.token), None)
        .await
        .expect(204);
    app.request(Method::DELETE, &path(&bobs), Some(&bob.token), None)
        .await
        .expect(204);
    app.request(Method::DELETE, &path(&carols), Some(&alice.token), None)
        .await
        .expect(204);
    let history = app
        .get(&format!("/chats/{chat}/messages"), Some(&carol.token))
        .await
        .expect(200)
        .body;
    let tombstones: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["deleted"] == true)
        .collect();
    assert_eq!(tombstones.len(), 2);
    for t in tombstones {
        assert_eq!(
            (t["content"].as_str(), t["html"].as_str()),
            (Some(""), Some(""))
        );
        assert!(t["seq"].as_i64().unwrap() > 1, "the seq is kept");
    }
    app.request(
        Method::PUT,
        &path(&bobs),
        Some(&bob.token),
        Some(json!({"content": "undo"})),
    )
    .await
    .expect(404);
    // In a direct chat, only the author deletes.
    let dm = direct(&app, &alice, &bob).await;
    let message = send(&app, &bob, &dm, "mine").await;
    app.request(
        Method::DELETE,
        &format!("/chats/{dm}/messages/{}", message["id"].as_str().unwrap()),
        Some(&alice.token),
        None,
    )
    .await
    .expect(403);
}

async fn read_pointers_move_forward_and_count_exactly(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    for i in 0..5 {
        send(&app, &alice, &chat, &format!("m{i}")).await;
    }
    let read = |seq: i64| {
        app.request(
            Method::PUT,
            format!("/chats/{chat}/messages/read"),
            Some(&bob.token),
            Some(json!({"up_to_seq": seq})),
        )
    };
    let state = read(3).await.expect(200).body;
    assert_eq!(
        (state["read_seq"].as_i64(), state["unread_count"].as_i64()),
        (Some(3), Some(2))
    );
    let state = read(1).await.expect(200).body;
    assert_eq!(state["read_seq"], 3, "never moves back");
    let state = read(999).await.expect(200).body;
    assert_eq!(
        (state["read_seq"].as_i64(), state["unread_count"].as_i64()),
        (Some(5), Some(0)),
        "clamped to the end"
    );
    read(-1).await.expect(422);
    app.request(
        Method::PUT,
        &format!("/chats/{chat}/messages/read"),
        Some(&bob.token),
        Some(json!({"up_to_seq": "x"})),
    )
    .await
    .expect(422);
    // Deleted messages do not count as unread.
    let m = send(&app, &alice, &chat, "oops").await;
    send(&app, &alice, &chat, "real").await;
    app.request(
        Method::DELETE,
        &format!("/chats/{chat}/messages/{}", m["id"].as_str().unwrap()),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    let list = app.get("/chats", Some(&bob.token)).await.expect(200).body;
    assert_eq!(list["items"][0]["unread_count"], 1);
}

async fn read_status_respects_read_receipt_settings(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let dave = app.user("dave").await;
    let chat = group(&app, &alice, "Team", &[&bob, &carol, &dave]).await;
    app.request(
        Method::PUT,
        "/users/me",
        Some(&dave.token),
        Some(json!({"privacy": {"read_receipts": false}})),
    )
    .await
    .expect(200);
    let message = send(&app, &alice, &chat, "read me").await;
    let seq = message["seq"].as_i64().unwrap();
    for reader in [&bob, &dave] {
        app.request(
            Method::PUT,
            &format!("/chats/{chat}/messages/read"),
            Some(&reader.token),
            Some(json!({"up_to_seq": seq})),
        )
        .await
        .expect(200);
    }
    let path = format!(
        "/chats/{chat}/messages/{}/read-status",
        message["id"].as_str().unwrap()
    );
    let status = app.get(&path, Some(&alice.token)).await.expect(200).body;
    let read_by: Vec<_> = status["read_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(read_by, vec![bob.id.as_str()]);
    assert!(status["read_by"][0]["read_at"].is_string());
    assert_eq!(status["unread_by"], json!([carol.id]));
    // Dave's own unread count still works.
    let daves = app.get("/chats", Some(&dave.token)).await.expect(200).body;
    assert_eq!(daves["items"][0]["unread_count"], 0);
    app.get(
        &format!("/chats/{chat}/messages/nope/read-status"),
        Some(&alice.token),
    )
    .await
    .expect(404);
}

async fn mentions_are_recorded_and_counted(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let outsider = app.user("outsider").await;
    let chat = group(&app, &alice, "Team", &[&bob]).await;
    let message = send(
        &app,
        &alice,
        &chat,
        "@bob, @outsider and @alice: look (also @BOB.)",
    )
    .await;
    assert_eq!(
        message["mentions"],
        json!([bob.id]),
        "members only, not yourself, once"
    );
    let list = app.get("/chats", Some(&bob.token)).await.expect(200).body;
    assert_eq!(list["items"][0]["mention_count"], 1);
    let edited = app
        .request(
            Method::PUT,
            &format!("/chats/{chat}/messages/{}", message["id"].as_str().unwrap()),
            Some(&alice.token),
            Some(json!({"content": "never mind"})),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(edited["mentions"], json!([]));
    let list = app.get("/chats", Some(&bob.token)).await.expect(200).body;
    assert_eq!(list["items"][0]["mention_count"], 0);
    let _ = outsider;
}

async fn messages_from_blocked_people_are_marked(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = group(&app, &alice, "Team", &[&bob]).await;
    send(&app, &bob, &chat, "annoying").await;
    app.post(
        &format!("/users/{}/block", bob.id),
        Some(&alice.token),
        json!({}),
    )
    .await
    .expect(204);
    let history = app
        .get(&format!("/chats/{chat}/messages"), Some(&alice.token))
        .await
        .expect(200)
        .body;
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["sender_blocked"], true);
    // Only for the one who blocked.
    let theirs = app
        .get(&format!("/chats/{chat}/messages"), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert!(
        theirs
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .get("sender_blocked")
            .is_none()
    );
}

async fn fifty_concurrent_senders_get_seqs_one_to_n(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.user("owner").await;
    let mut senders = Vec::new();
    for i in 0..50 {
        senders.push(app.user(&format!("sender{i}")).await);
    }
    let refs: Vec<_> = senders.iter().collect();
    let chat = group(&app, &owner, "Crowd", &refs).await;
    let path = format!("/chats/{chat}/messages");
    let per_sender = 4;
    let sends = senders.iter().flat_map(|s| {
        (0..per_sender).map(|i| {
            app.post(
                &path,
                Some(&s.token),
                json!({"content": format!("{} #{i}", s.id)}),
            )
        })
    });
    let replies = futures_util::future::join_all(sends).await;
    assert!(
        replies.iter().all(|r| r.status == 201),
        "every send acknowledged"
    );
    let mut acked: Vec<i64> = replies
        .iter()
        .map(|r| r.body["seq"].as_i64().unwrap())
        .collect();
    acked.sort();
    let total = 50 * per_sender + 1; // and the "created" system message
    assert_eq!(
        acked,
        (2..=total as i64).collect::<Vec<_>>(),
        "gap-free, no duplicates"
    );
    // What is stored is what was acknowledged.
    let mut stored = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .get(
                &format!("{path}?after={after}&limit=100"),
                Some(&owner.token),
            )
            .await
            .expect(200)
            .body;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap()["seq"].as_i64().unwrap();
        stored.extend(page);
    }
    let seqs: Vec<i64> = stored.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=total as i64).collect::<Vec<_>>());
    for reply in &replies {
        let m = stored
            .iter()
            .find(|m| m["id"] == reply.body["id"])
            .expect("acknowledged means stored");
        assert_eq!(m["seq"], reply.body["seq"]);
        assert_eq!(m["content"], reply.body["content"]);
    }
}
