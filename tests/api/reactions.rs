//! Reactions, pins, mentions (@name, @all, @here) and forwarding: their rules, their
//! unhappy paths, and their realtime events.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::chats::{direct, group, send};
use crate::helpers::{Backend, TestApp, TestUser, spawn_app, spawn_app_with};
use crate::realtime::Client;

backend_tests!(
    reactions_are_idempotent_counted_and_live,
    reactions_refuse_what_is_not_an_emoji_or_not_yours_to_see,
    concurrent_reactions_count_exactly,
    pins_follow_the_chat_setting,
    mentions_by_name_all_and_here_are_stored_and_listed,
    forwarding_respects_both_chats_and_hides_where_from,
);

fn reaction(chat: &str, message: &str, emoji: &str) -> String {
    let encoded: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
    format!("/chats/{chat}/messages/{message}/reactions/{encoded}")
}

async fn react(app: &TestApp, user: &TestUser, method: Method, path: &str) -> u16 {
    app.request(method, path, Some(&user.token), None)
        .await
        .status
        .as_u16()
}

async fn last_message(app: &TestApp, user: &TestUser, chat: &str) -> Value {
    let history = app
        .get(format!("/chats/{chat}/messages"), Some(&user.token))
        .await
        .expect(200)
        .body;
    history.as_array().unwrap().last().unwrap().clone()
}

async fn reactions_are_idempotent_counted_and_live(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let message = send(&app, &alice, &chat, "hello").await;
    let id = message["id"].as_str().unwrap();
    let (mut a, _) = Client::connect(&app, &alice).await;
    let thumbs = reaction(&chat, id, "👍");
    assert_eq!(react(&app, &bob, Method::PUT, &thumbs).await, 204);
    let event = a.next_of("reaction.updated").await;
    assert_eq!(
        (
            event["emoji"].as_str(),
            event["count"].as_i64(),
            event["added"].as_bool()
        ),
        (Some("👍"), Some(1), Some(true))
    );
    assert_eq!(event["user_id"], bob.id);
    assert_eq!(
        react(&app, &bob, Method::PUT, &thumbs).await,
        204,
        "again: nothing changes"
    );
    assert_eq!(react(&app, &alice, Method::PUT, &thumbs).await, 204);
    // A skin tone and a ZWJ sequence are single emoji too.
    assert_eq!(
        react(&app, &alice, Method::PUT, &reaction(&chat, id, "👍🏽")).await,
        204
    );
    assert_eq!(
        react(&app, &alice, Method::PUT, &reaction(&chat, id, "👨‍👩‍👧")).await,
        204
    );
    let seen_by_bob = last_message(&app, &bob, &chat).await;
    assert_eq!(
        seen_by_bob["reactions"],
        json!([
            {"emoji": "👍", "count": 2, "me": true},
            {"emoji": "👍🏽", "count": 1, "me": false},
            {"emoji": "👨‍👩‍👧", "count": 1, "me": false},
        ])
    );
    let who = app.get(&thumbs, Some(&alice.token)).await.expect(200).body;
    let ids: Vec<&str> = who
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![bob.id.as_str(), alice.id.as_str()]);
    assert_eq!(react(&app, &bob, Method::DELETE, &thumbs).await, 204);
    assert_eq!(
        react(&app, &bob, Method::DELETE, &thumbs).await,
        204,
        "idempotent"
    );
    let after = last_message(&app, &bob, &chat).await;
    assert_eq!(
        after["reactions"][0],
        json!({"emoji": "👍", "count": 1, "me": false})
    );
}

async fn reactions_refuse_what_is_not_an_emoji_or_not_yours_to_see(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.reaction_kinds_max = 2).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let chat = direct(&app, &alice, &bob).await;
    let message = send(&app, &alice, &chat, "hello").await;
    let id = message["id"].as_str().unwrap();
    for bad in ["a", "👍👍", ":+1:", "👍 x"] {
        assert_eq!(
            react(&app, &bob, Method::PUT, &reaction(&chat, id, bad)).await,
            422,
            "{bad}"
        );
    }
    assert_eq!(
        react(&app, &eve, Method::PUT, &reaction(&chat, id, "👍")).await,
        404
    );
    let unknown = "0192f000-0000-7000-8000-000000000000";
    assert_eq!(
        react(&app, &bob, Method::PUT, &reaction(&chat, unknown, "👍")).await,
        404
    );
    let no_token = app
        .request(Method::PUT, reaction(&chat, id, "👍"), None, None)
        .await;
    assert_eq!(no_token.status, 401);
    // The limit of different emoji; more of one already there is fine.
    assert_eq!(
        react(&app, &bob, Method::PUT, &reaction(&chat, id, "👍")).await,
        204
    );
    assert_eq!(
        react(&app, &bob, Method::PUT, &reaction(&chat, id, "🎉")).await,
        204
    );
    assert_eq!(
        react(&app, &bob, Method::PUT, &reaction(&chat, id, "🔥")).await,
        422
    );
    assert_eq!(
        react(&app, &alice, Method::PUT, &reaction(&chat, id, "🎉")).await,
        204
    );
    // A deleted message takes no reactions and shows none.
    app.request(
        Method::DELETE,
        format!("/chats/{chat}/messages/{id}"),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    assert_eq!(
        react(&app, &bob, Method::PUT, &reaction(&chat, id, "👍")).await,
        404
    );
    assert_eq!(
        last_message(&app, &bob, &chat).await["reactions"],
        json!([])
    );
}

async fn concurrent_reactions_count_exactly(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.user("owner").await;
    let mut people = Vec::new();
    for i in 0..12 {
        people.push(app.user(&format!("person{i}")).await);
    }
    let refs: Vec<&TestUser> = people.iter().collect();
    let chat = group(&app, &owner, "crowd", &refs).await;
    let message = send(&app, &owner, &chat, "react!").await;
    let path = reaction(&chat, message["id"].as_str().unwrap(), "❤️");
    let all = people.iter().map(|p| {
        let (app, path) = (&app, path.clone());
        async move {
            react(app, p, Method::PUT, &path).await;
            react(app, p, Method::PUT, &path).await
        }
    });
    for status in futures_util::future::join_all(all).await {
        assert_eq!(status, 204);
    }
    let seen = last_message(&app, &owner, &chat).await;
    assert_eq!(seen["reactions"][0]["count"], 12);
}

async fn pins_follow_the_chat_setting(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let chat = group(&app, &alice, "team", &[&bob]).await;
    let first = send(&app, &bob, &chat, "first").await;
    let second = send(&app, &bob, &chat, "second").await;
    let pin = |m: &Value| format!("/chats/{chat}/pins/{}", m["id"].as_str().unwrap());
    let (mut a, _) = Client::connect(&app, &alice).await;
    app.post(pin(&first), Some(&bob.token), json!({}))
        .await
        .expect(204);
    let event = a.next_of("pin.updated").await;
    assert_eq!(
        (event["pinned"].as_bool(), event["by"].as_str()),
        (Some(true), Some(bob.id.as_str()))
    );
    app.post(pin(&second), Some(&alice.token), json!({}))
        .await
        .expect(204);
    app.post(pin(&second), Some(&alice.token), json!({}))
        .await
        .expect(204);
    let pins = app
        .get(format!("/chats/{chat}/pins"), Some(&bob.token))
        .await
        .expect(200)
        .body;
    let texts: Vec<&str> = pins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["second", "first"]);
    app.post(pin(&first), Some(&eve.token), json!({}))
        .await
        .expect(404);
    app.get(format!("/chats/{chat}/pins"), Some(&eve.token))
        .await
        .expect(404);
    // Admins only, once the owner says so.
    app.request(
        Method::PUT,
        format!("/chats/{chat}"),
        Some(&alice.token),
        Some(json!({"settings": {"pin": "admins"}})),
    )
    .await
    .expect(200);
    app.request(Method::DELETE, pin(&first), Some(&bob.token), None)
        .await
        .expect(403);
    app.request(Method::DELETE, pin(&first), Some(&alice.token), None)
        .await
        .expect(204);
    app.request(Method::DELETE, pin(&first), Some(&alice.token), None)
        .await
        .expect(404);
    // A deleted message leaves the pins.
    let id = second["id"].as_str().unwrap();
    app.request(
        Method::DELETE,
        format!("/chats/{chat}/messages/{id}"),
        Some(&bob.token),
        None,
    )
    .await
    .expect(204);
    let pins = app
        .get(format!("/chats/{chat}/pins"), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(pins, json!([]));
}

async fn mentions_by_name_all_and_here_are_stored_and_listed(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let chat = group(&app, &alice, "team", &[&bob, &carol]).await;
    let (_b, _) = Client::connect(&app, &bob).await; // Bob is here; Carol is not connected
    let named = send(&app, &alice, &chat, "hi @bob").await;
    assert_eq!(named["mentions"], json!([bob.id]));
    let all = send(&app, &alice, &chat, "@all standup").await;
    let mut ids: Vec<&str> = all["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected = vec![bob.id.as_str(), carol.id.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    let mine = app
        .get("/mentions", Some(&carol.token))
        .await
        .expect(200)
        .body;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let mine = app
        .get("/mentions", Some(&bob.token))
        .await
        .expect(200)
        .body;
    let contents: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["@all standup", "hi @bob"], "newest first");
    let before = mine[0]["created_at"].as_str().unwrap();
    let older = app
        .get(
            format!("/mentions?before={}&limit=5", before.replace('+', "%2B")),
            Some(&bob.token),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(older.as_array().unwrap().len(), 1);
    app.get("/mentions?limit=0", Some(&bob.token))
        .await
        .expect(422);
    app.get("/mentions", None).await.expect(401);
    // @here: only those connected, and once the owner restricts it, admins only.
    // (Carol logged in for the test, so give her presence time to be gone is not
    // possible here: she counts as here while her login is recent.)
    app.request(
        Method::PUT,
        format!("/chats/{chat}"),
        Some(&alice.token),
        Some(json!({"settings": {"mention_all": "admins"}})),
    )
    .await
    .expect(200);
    let plain = send(&app, &bob, &chat, "@all who took my mug").await;
    assert_eq!(plain["mentions"], json!([]), "plain text for members now");
    let here = send(&app, &alice, &chat, "@here lunch").await;
    assert!(
        here["mentions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| *v == json!(bob.id))
    );
}

async fn forwarding_respects_both_chats_and_hides_where_from(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let source = group(&app, &alice, "source", &[&bob]).await;
    let to_carol = direct(&app, &bob, &carol).await;
    let announcements = group(&app, &alice, "news", &[&bob]).await;
    app.request(
        Method::PUT,
        format!("/chats/{announcements}"),
        Some(&alice.token),
        Some(json!({"settings": {"post": "admins"}})),
    )
    .await
    .expect(200);
    let original = send(&app, &alice, &source, "worth sharing").await;
    let path = format!(
        "/chats/{source}/messages/{}/forward",
        original["id"].as_str().unwrap()
    );
    // A target Bob may not post in: nothing is sent anywhere.
    let refused = app
        .post(
            &path,
            Some(&bob.token),
            json!({"to_chat_ids": [to_carol, announcements]}),
        )
        .await;
    assert_eq!(refused.status, 403);
    let history = app
        .get(format!("/chats/{to_carol}/messages"), Some(&carol.token))
        .await
        .expect(200)
        .body;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["content"] != "worth sharing")
    );
    let sent = app
        .post(
            &path,
            Some(&bob.token),
            json!({"to_chat_ids": [to_carol, to_carol]}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(sent.as_array().unwrap().len(), 1, "each target once");
    assert_eq!(sent[0]["content"], "worth sharing");
    assert_eq!(sent[0]["sender_id"], bob.id);
    // Bob is in the source chat and sees where from; Carol only that it was forwarded.
    assert_eq!(sent[0]["forwarded_from"]["chat_id"], source.as_str());
    assert_eq!(sent[0]["forwarded_from"]["seq"], original["seq"]);
    let seen_by_carol = last_message(&app, &carol, &to_carol).await;
    assert_eq!(seen_by_carol["content"], "worth sharing");
    assert!(seen_by_carol["forwarded_from"]["chat_id"].is_null());
    assert!(seen_by_carol["forwarded_from"]["message_id"].is_null());
    assert!(seen_by_carol["forwarded_from"]["seq"].is_null());
    assert_eq!(seen_by_carol["forwarded_from"]["sender_id"], alice.id);
    // Unhappy paths: not in the source, a target you are not in, bad bodies.
    app.post(
        &path,
        Some(&carol.token),
        json!({"to_chat_ids": [to_carol]}),
    )
    .await
    .expect(404);
    app.post(
        &path,
        Some(&bob.token),
        json!({"to_chat_ids": ["0192f000-0000-7000-8000-000000000000"]}),
    )
    .await
    .expect(404);
    app.post(&path, Some(&bob.token), json!({"to_chat_ids": []}))
        .await
        .expect(422);
    app.post(&path, Some(&bob.token), json!({"to": "x"}))
        .await
        .expect(422);
    app.post(&path, None, json!({"to_chat_ids": [to_carol]}))
        .await
        .expect(401);
}
