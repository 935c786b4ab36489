//! Friend requests, friends, blocks and mutes.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, spawn_app};

backend_tests!(
    a_request_accepted_makes_friends,
    asking_someone_who_asked_you_accepts_both,
    requests_are_refused_to_yourself_twice_unknown_and_friends,
    only_the_right_person_accepts_declines_or_cancels,
    unfriending_ends_it_for_both,
    blocking_ends_friendship_and_stops_requests,
    block_and_unblock_are_idempotent_and_listed,
    mutes_are_listed_until_they_end,
);

async fn a_request_accepted_makes_friends(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let request = app
        .post(
            "/friends/requests",
            Some(&alice.token),
            json!({"user_id": bob.id}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(request["status"], "pending");
    assert_eq!(request["from_user"]["id"], alice.id);
    assert_eq!(request["to_user"]["id"], bob.id);
    let id = request["id"].as_str().unwrap();

    let incoming = app
        .get("/friends/requests", Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(incoming.as_array().unwrap().len(), 1);
    assert_eq!(incoming[0]["id"], id);
    let outgoing = app
        .get("/friends/requests?direction=outgoing", Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(outgoing[0]["id"], id);
    assert_eq!(
        app.get("/friends/requests", Some(&alice.token))
            .await
            .expect(200)
            .body,
        json!([])
    );
    app.get("/friends/requests?direction=sideways", Some(&alice.token))
        .await
        .expect(422);

    let friend = app
        .post(
            &format!("/friends/requests/{id}/accept"),
            Some(&bob.token),
            json!({}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(friend["user"]["id"], alice.id);
    assert!(friend["since"].is_string());
    for (me, other) in [(&alice, &bob), (&bob, &alice)] {
        let friends = app.get("/friends", Some(&me.token)).await.expect(200).body;
        assert_eq!(friends.as_array().unwrap().len(), 1);
        assert_eq!(friends[0]["user"]["id"], other.id);
        assert_eq!(friends[0]["user"]["is_friend"], true);
    }
    assert_eq!(
        app.get("/friends/requests", Some(&bob.token))
            .await
            .expect(200)
            .body,
        json!([])
    );
    // Accepting twice: the request is gone.
    app.post(
        &format!("/friends/requests/{id}/accept"),
        Some(&bob.token),
        json!({}),
    )
    .await
    .expect(404);
}

async fn asking_someone_who_asked_you_accepts_both(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.post(
        "/friends/requests",
        Some(&alice.token),
        json!({"user_id": bob.id}),
    )
    .await
    .expect(201);
    let reply = app
        .post(
            "/friends/requests",
            Some(&bob.token),
            json!({"user_id": alice.id}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["status"], "accepted");
    assert_eq!(
        app.get("/friends", Some(&alice.token))
            .await
            .expect(200)
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/friends/requests?direction=outgoing", Some(&alice.token))
            .await
            .expect(200)
            .body,
        json!([])
    );
}

async fn requests_are_refused_to_yourself_twice_unknown_and_friends(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let app_ref = &app;
    let send = |token: &str, user_id: serde_json::Value| {
        let token = token.to_string();
        async move {
            app_ref
                .post(
                    "/friends/requests",
                    Some(&token),
                    json!({"user_id": user_id}),
                )
                .await
        }
    };
    send(&alice.token, json!(alice.id)).await.expect(422);
    send(&alice.token, json!("01890000-0000-7000-8000-000000000000"))
        .await
        .expect(404);
    send(&alice.token, json!("garbage")).await.expect(404);
    send(&alice.token, json!(42)).await.expect(422);
    app.post("/friends/requests", Some(&alice.token), json!({}))
        .await
        .expect(422);
    app.post("/friends/requests", None, json!({"user_id": bob.id}))
        .await
        .expect(401);
    send(&alice.token, json!(bob.id)).await.expect(201);
    send(&alice.token, json!(bob.id)).await.expect(409);
    crate::users::befriend(&app, &alice, &carol).await;
    send(&alice.token, json!(carol.id)).await.expect(409);
    send(&carol.token, json!(alice.id)).await.expect(409);
}

async fn only_the_right_person_accepts_declines_or_cancels(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let request = app
        .post(
            "/friends/requests",
            Some(&alice.token),
            json!({"user_id": bob.id}),
        )
        .await
        .expect(201)
        .body;
    let id = request["id"].as_str().unwrap();
    let path = |action: &str| format!("/friends/requests/{id}/{action}");
    // A stranger to the request: it does not exist for them.
    app.post(&path("accept"), Some(&eve.token), json!({}))
        .await
        .expect(404);
    app.post(&path("decline"), Some(&eve.token), json!({}))
        .await
        .expect(404);
    app.request(
        Method::DELETE,
        &format!("/friends/requests/{id}"),
        Some(&eve.token),
        None,
    )
    .await
    .expect(404);
    // The sender cannot accept or decline; the recipient cannot cancel.
    app.post(&path("accept"), Some(&alice.token), json!({}))
        .await
        .expect(403);
    app.post(&path("decline"), Some(&alice.token), json!({}))
        .await
        .expect(403);
    app.request(
        Method::DELETE,
        &format!("/friends/requests/{id}"),
        Some(&bob.token),
        None,
    )
    .await
    .expect(403);
    app.post("/friends/requests/nope/accept", Some(&bob.token), json!({}))
        .await
        .expect(404);
    app.post(&path("accept"), None, json!({})).await.expect(401);
    assert_eq!(
        app.get("/friends", Some(&bob.token)).await.expect(200).body,
        json!([]),
        "nothing changed"
    );

    app.post(&path("decline"), Some(&bob.token), json!({}))
        .await
        .expect(204);
    assert_eq!(
        app.get("/friends/requests", Some(&bob.token))
            .await
            .expect(200)
            .body,
        json!([])
    );
    // Declined, Alice may ask again, and then cancel.
    let again = app
        .post(
            "/friends/requests",
            Some(&alice.token),
            json!({"user_id": bob.id}),
        )
        .await
        .expect(201)
        .body;
    let again_id = again["id"].as_str().unwrap();
    app.request(
        Method::DELETE,
        &format!("/friends/requests/{again_id}"),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    assert_eq!(
        app.get("/friends/requests", Some(&bob.token))
            .await
            .expect(200)
            .body,
        json!([])
    );
}

async fn unfriending_ends_it_for_both(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    crate::users::befriend(&app, &alice, &bob).await;
    app.request(Method::DELETE, &format!("/friends/{}", bob.id), None, None)
        .await
        .expect(401);
    app.request(
        Method::DELETE,
        &format!("/friends/{}", bob.id),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    assert_eq!(
        app.get("/friends", Some(&bob.token)).await.expect(200).body,
        json!([])
    );
    app.request(
        Method::DELETE,
        &format!("/friends/{}", bob.id),
        Some(&alice.token),
        None,
    )
    .await
    .expect(404);
    app.request(Method::DELETE, "/friends/garbage", Some(&alice.token), None)
        .await
        .expect(404);
}

async fn blocking_ends_friendship_and_stops_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    crate::users::befriend(&app, &alice, &bob).await;
    app.post(
        "/friends/requests",
        Some(&carol.token),
        json!({"user_id": alice.id}),
    )
    .await
    .expect(201);

    app.post(
        &format!("/users/{}/block", bob.id),
        Some(&alice.token),
        json!({}),
    )
    .await
    .expect(204);
    app.post(
        &format!("/users/{}/block", carol.id),
        Some(&alice.token),
        json!({}),
    )
    .await
    .expect(204);
    assert_eq!(
        app.get("/friends", Some(&bob.token)).await.expect(200).body,
        json!([])
    );
    assert_eq!(
        app.get("/friends/requests", Some(&alice.token))
            .await
            .expect(200)
            .body,
        json!([])
    );
    // No request across a block, in either direction.
    app.post(
        "/friends/requests",
        Some(&bob.token),
        json!({"user_id": alice.id}),
    )
    .await
    .expect(403);
    app.post(
        "/friends/requests",
        Some(&alice.token),
        json!({"user_id": bob.id}),
    )
    .await
    .expect(403);
    // The blocked person does not see Alice's status; Alice's profile of Bob says blocked.
    let seen = app
        .get(&format!("/users/{}/status", alice.id), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert!(seen["status"].is_null() && seen["last_seen"].is_null());
    let profile = app
        .get(&format!("/users/{}", bob.id), Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(profile["is_blocked"], true);

    app.request(
        Method::DELETE,
        &format!("/users/{}/block", bob.id),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    app.post(
        "/friends/requests",
        Some(&bob.token),
        json!({"user_id": alice.id}),
    )
    .await
    .expect(201);
}

async fn block_and_unblock_are_idempotent_and_listed(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let path = format!("/users/{}/block", bob.id);
    app.post(&path, None, json!({})).await.expect(401);
    app.post(
        &format!("/users/{}/block", alice.id),
        Some(&alice.token),
        json!({}),
    )
    .await
    .expect(422);
    app.post(
        "/users/01890000-0000-7000-8000-000000000000/block",
        Some(&alice.token),
        json!({}),
    )
    .await
    .expect(404);
    app.post(&path, Some(&alice.token), json!({}))
        .await
        .expect(204);
    app.post(&path, Some(&alice.token), json!({}))
        .await
        .expect(204);
    let blocked = app
        .get("/users/me/blocked", Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(blocked.as_array().unwrap().len(), 1);
    assert_eq!(blocked[0]["user"]["id"], bob.id);
    assert!(blocked[0]["since"].is_string());
    assert_eq!(
        app.get("/users/me/blocked", Some(&bob.token))
            .await
            .expect(200)
            .body,
        json!([])
    );
    app.request(Method::DELETE, &path, Some(&alice.token), None)
        .await
        .expect(204);
    app.request(Method::DELETE, &path, Some(&alice.token), None)
        .await
        .expect(204);
    assert_eq!(
        app.get("/users/me/blocked", Some(&alice.token))
            .await
            .expect(200)
            .body,
        json!([])
    );
}

async fn mutes_are_listed_until_they_end(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    app.post(
        &format!("/users/{}/mute", bob.id),
        Some(&alice.token),
        json!({}),
    )
    .await
    .expect(204);
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1200)).to_rfc3339();
    app.post(
        &format!("/users/{}/mute", carol.id),
        Some(&alice.token),
        json!({"until": soon}),
    )
    .await
    .expect(204);
    // Without a body at all, too.
    let reply = app
        .client
        .post(app.url(&format!("/users/{}/mute", bob.id)))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    app.post(
        &format!("/users/{}/mute", bob.id),
        Some(&alice.token),
        json!({"until": "2001-01-01T00:00:00Z"}),
    )
    .await
    .expect(422);
    app.post(
        &format!("/users/{}/mute", bob.id),
        Some(&alice.token),
        json!({"until": "tomorrow"}),
    )
    .await
    .expect(422);
    app.post(
        &format!("/users/{}/mute", alice.id),
        Some(&alice.token),
        json!({}),
    )
    .await
    .expect(422);

    let muted = app
        .get("/users/me/muted", Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(muted.as_array().unwrap().len(), 2);
    let carol_mute = muted
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == carol.id)
        .unwrap();
    assert!(carol_mute["until"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let muted = app
        .get("/users/me/muted", Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(muted.as_array().unwrap().len(), 1, "Carol's mute ran out");
    app.request(
        Method::DELETE,
        &format!("/users/{}/mute", bob.id),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    assert_eq!(
        app.get("/users/me/muted", Some(&alice.token))
            .await
            .expect(200)
            .body,
        json!([])
    );
}
