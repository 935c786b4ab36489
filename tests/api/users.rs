//! Profiles, status, search and account deletion, seen from each viewer's side.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, TestUser, spawn_app, spawn_app_with};

backend_tests!(
    profiles_show_private_fields_only_to_the_owner_and_admins,
    unknown_users_are_404_and_me_is_an_alias,
    only_the_owner_or_an_admin_edits_a_profile,
    profile_edits_are_validated_and_change_nothing_when_invalid,
    changing_the_email_needs_the_current_password,
    status_is_chosen_by_the_owner_and_derived_for_others,
    privacy_decides_who_sees_presence,
    search_finds_names_in_any_script_prefix_first,
    search_hides_blocked_deactivated_and_deleted_people,
    search_paginates_and_validates_its_query,
    admins_deactivate_and_reactivate_accounts,
    deleting_an_account_erases_it_and_frees_the_name_later,
);

async fn admin(app: &TestApp) -> TestUser {
    let admin = app.user("admin").await;
    make_admin(app, "admin").await;
    // A new login carries the admin flag from the database.
    let tokens = app
        .login("admin", "correct horse", false)
        .await
        .expect(200)
        .body;
    TestUser {
        token: tokens["access_token"].as_str().unwrap().into(),
        ..admin
    }
}

async fn make_admin(app: &TestApp, username: &str) {
    let state = blockchat::App::state(app.config.clone()).await.unwrap();
    blockchat::auth::create_admin(&state, username, None, None)
        .await
        .unwrap();
    state.db.close().await;
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> crate::helpers::Reply {
    app.request(Method::PUT, path, Some(token), Some(body))
        .await
}

async fn profiles_show_private_fields_only_to_the_owner_and_admins(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let root = admin(&app).await;
    let path = format!("/users/{}", alice.id);

    let own = app.get(&path, Some(&alice.token)).await.expect(200).body;
    assert_eq!(own["email"], "alice@example.com");
    assert_eq!(own["privacy"]["presence"], "everyone");
    assert_eq!(own["is_active"], true);
    assert!(own.get("is_friend").is_none(), "no relation to yourself");

    let seen_by_bob = app.get(&path, Some(&bob.token)).await.expect(200).body;
    for private in [
        "email",
        "privacy",
        "locale",
        "is_admin",
        "is_active",
        "chosen_status",
    ] {
        assert!(
            seen_by_bob.get(private).is_none(),
            "{private} is private: {seen_by_bob}"
        );
    }
    for public in [
        "id",
        "username",
        "display_name",
        "bio",
        "avatar_url",
        "status",
        "status_text",
        "last_seen",
        "created_at",
    ] {
        assert!(seen_by_bob.get(public).is_some(), "{public} is public");
    }
    assert_eq!(seen_by_bob["is_friend"], false);

    let seen_by_admin = app.get(&path, Some(&root.token)).await.expect(200).body;
    assert_eq!(seen_by_admin["email"], "alice@example.com");
    app.get(&path, None).await.expect(401);
}

async fn unknown_users_are_404_and_me_is_an_alias(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let me = app
        .get("/users/me", Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(me["id"], alice.id);
    for id in [
        "01890000-0000-7000-8000-000000000000",
        "not-an-id",
        "%27%20OR%201=1",
    ] {
        app.get(&format!("/users/{id}"), Some(&alice.token))
            .await
            .expect(404);
        app.get(&format!("/users/{id}/status"), Some(&alice.token))
            .await
            .expect(404);
        put(
            &app,
            &format!("/users/{id}"),
            &alice.token,
            json!({"bio": "x"}),
        )
        .await
        .expect(404);
    }
}

async fn only_the_owner_or_an_admin_edits_a_profile(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let root = admin(&app).await;
    let path = format!("/users/{}", alice.id);

    put(&app, &path, &bob.token, json!({"bio": "hacked"}))
        .await
        .expect(403);
    app.request(
        Method::DELETE,
        &path,
        Some(&bob.token),
        Some(json!({"password": "correct horse"})),
    )
    .await
    .expect(403);
    put(&app, &path, &alice.token, json!({"bio": ""}))
        .await
        .expect(200);

    let edit = json!({
        "display_name": "Alice Liddell", "bio": "Down the\nrabbit hole", "avatar_url": "https://example.com/a.png",
        "locale": "en-GB", "time_zone": "Europe/London",
        "privacy": {"presence": "contacts", "direct_messages": "contacts", "read_receipts": false}
    });
    let profile = put(&app, &path, &alice.token, edit).await.expect(200).body;
    assert_eq!(profile["display_name"], "Alice Liddell");
    assert_eq!(profile["bio"], "Down the\nrabbit hole");
    assert_eq!(profile["locale"], "en-GB");
    assert_eq!(
        profile["privacy"],
        json!({"presence": "contacts", "direct_messages": "contacts", "read_receipts": false})
    );
    // Absent fields stay; null clears.
    let profile = put(&app, "/users/me", &alice.token, json!({"avatar_url": null}))
        .await
        .expect(200)
        .body;
    assert_eq!(profile["avatar_url"], Value::Null);
    assert_eq!(profile["time_zone"], "Europe/London");
    // Bob still sees nothing was done by him; an admin may edit.
    let profile = put(&app, &path, &root.token, json!({"display_name": "A. L."}))
        .await
        .expect(200)
        .body;
    assert_eq!(profile["display_name"], "A. L.");
    put(&app, &path, &bob.token, json!({"is_active": false}))
        .await
        .expect(403);
    put(&app, &path, &alice.token, json!({"is_active": false}))
        .await
        .expect(403);
    put(&app, &path, "garbage", json!({"bio": "x"}))
        .await
        .expect(401);
}

async fn profile_edits_are_validated_and_change_nothing_when_invalid(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let before = app
        .get("/users/me", Some(&alice.token))
        .await
        .expect(200)
        .body;
    let cases = [
        (json!({"display_name": ""}), "display_name"),
        (json!({"display_name": "x".repeat(65)}), "display_name"),
        (json!({"display_name": "bad\u{0007}bell"}), "display_name"),
        (json!({"bio": "b".repeat(501)}), "bio"),
        (json!({"avatar_url": "javascript:alert(1)"}), "avatar_url"),
        (json!({"avatar_url": "//evil.example/x.png"}), "avatar_url"),
        (json!({"locale": "en GB"}), "locale"),
        (json!({"time_zone": "../../etc/passwd"}), "time_zone"),
        (json!({"privacy": {"direct_messages": "nobody"}}), "privacy"),
        (json!({"privacy": {"presence": "martians"}}), "presence"),
        (json!({"bio": 5}), "bio"),
    ];
    for (body, field) in cases {
        let reply = put(&app, "/users/me", &alice.token, body.clone())
            .await
            .expect(422);
        assert!(
            reply.body["detail"][0]["loc"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == field),
            "{body}: {}",
            reply.body
        );
    }
    let mut after = app
        .get("/users/me", Some(&alice.token))
        .await
        .expect(200)
        .body;
    after["last_seen"] = before["last_seen"].clone(); // each request is activity
    assert_eq!(before, after, "nothing changed");
}

async fn changing_the_email_needs_the_current_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    put(
        &app,
        "/users/me",
        &alice.token,
        json!({"email": "new@example.com"}),
    )
    .await
    .expect(403);
    put(
        &app,
        "/users/me",
        &alice.token,
        json!({"email": "new@example.com", "current_password": "wrong pass"}),
    )
    .await
    .expect(403);
    put(
        &app,
        "/users/me",
        &alice.token,
        json!({"email": "nope", "current_password": "correct horse"}),
    )
    .await
    .expect(422);
    put(
        &app,
        "/users/me",
        &alice.token,
        json!({"email": "BOB@example.com", "current_password": "correct horse"}),
    )
    .await
    .expect(409);
    let profile = put(
        &app,
        "/users/me",
        &alice.token,
        json!({"email": "New@Example.com", "current_password": "correct horse"}),
    )
    .await
    .expect(200)
    .body;
    assert_eq!(profile["email"], "new@example.com");
    app.login("new@example.com", "correct horse", false)
        .await
        .expect(200);
}

async fn status_is_chosen_by_the_owner_and_derived_for_others(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let status_path = format!("/users/{}/status", alice.id);

    // Someone who never logged in is offline, never seen.
    let carol = app.register("carol").await;
    let seen = app
        .get(
            &format!("/users/{}/status", carol["id"].as_str().unwrap()),
            Some(&bob.token),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (seen["status"].as_str(), &seen["last_seen"]),
        (Some("offline"), &Value::Null)
    );
    // Alice has just logged in: she is around, so online.
    let seen = app
        .get(&status_path, Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(seen["user_id"], alice.id);
    assert_eq!(seen["status"], "online");
    assert!(seen["last_seen"].is_string());

    let busy = json!({"status": "busy", "status_text": "In a meeting", "expires_at": "2999-01-01T00:00:00Z"});
    let mine = put(&app, "/users/me/status", &alice.token, busy)
        .await
        .expect(200)
        .body;
    assert_eq!(mine["status"], "busy");
    let seen = app
        .get(&status_path, Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(
        (seen["status"].as_str(), seen["status_text"].as_str()),
        (Some("busy"), Some("In a meeting"))
    );

    // Appear offline: others see offline, the owner sees what they chose.
    put(
        &app,
        "/users/me/status",
        &alice.token,
        json!({"status": "offline"}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.get(&status_path, Some(&bob.token))
            .await
            .expect(200)
            .body["status"],
        "offline"
    );
    assert_eq!(
        app.get("/users/me", Some(&alice.token))
            .await
            .expect(200)
            .body["chosen_status"],
        "offline"
    );

    // Not yours, invalid, past expiry.
    put(&app, &status_path, &bob.token, json!({"status": "away"}))
        .await
        .expect(403);
    let reply = put(
        &app,
        "/users/me/status",
        &alice.token,
        json!({"status": "sleeping"}),
    )
    .await
    .expect(422);
    assert_eq!(reply.body["detail"][0]["loc"], json!(["body", "status"]));
    put(
        &app,
        "/users/me/status",
        &alice.token,
        json!({"status": "away", "expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await
    .expect(422);
    put(
        &app,
        "/users/me/status",
        &alice.token,
        json!({"status": "away", "status_text": "z".repeat(141)}),
    )
    .await
    .expect(422);
    app.get(&status_path, None).await.expect(401);
}

async fn privacy_decides_who_sees_presence(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let friend = app.user("friend").await;
    let stranger = app.user("stranger").await;
    let blocked = app.user("blocked").await;
    let root = admin(&app).await;
    befriend(&app, &alice, &friend).await;
    app.post(
        &format!("/users/{}/block", blocked.id),
        Some(&alice.token),
        json!({}),
    )
    .await
    .expect(204);

    let sees = |status: Value| !status["status"].is_null();
    let path = format!("/users/{}/status", alice.id);
    let check = |setting: &'static str, expect: [bool; 4]| {
        let (app, alice, friend, stranger, blocked, root, path) =
            (&app, &alice, &friend, &stranger, &blocked, &root, &path);
        async move {
            put(
                app,
                "/users/me",
                &alice.token,
                json!({"privacy": {"presence": setting}}),
            )
            .await
            .expect(200);
            let mut seen = [false; 4];
            for (i, viewer) in [friend, stranger, blocked, root].iter().enumerate() {
                let status = app.get(path, Some(&viewer.token)).await.expect(200).body;
                seen[i] = sees(status.clone());
                if !seen[i] {
                    assert!(
                        status["last_seen"].is_null() && status["status_text"].is_null(),
                        "{status}"
                    );
                }
            }
            assert_eq!(
                seen, expect,
                "presence = {setting}: [friend, stranger, blocked, admin]"
            );
        }
    };
    check("everyone", [true, true, false, true]).await;
    check("contacts", [true, false, false, true]).await;
    check("nobody", [false, false, false, true]).await;
    // The owner always sees their own.
    assert!(sees(
        app.get("/users/me/status", Some(&alice.token))
            .await
            .expect(200)
            .body
    ));
}

pub async fn befriend(app: &TestApp, a: &TestUser, b: &TestUser) {
    app.post(
        "/friends/requests",
        Some(&a.token),
        json!({"user_id": b.id}),
    )
    .await
    .expect(201);
    app.post(
        "/friends/requests",
        Some(&b.token),
        json!({"user_id": a.id}),
    )
    .await
    .expect(200);
}

async fn search_finds_names_in_any_script_prefix_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let viewer = app.user("viewer").await;
    for (username, display) in [
        ("jose", "José Núñez"),
        ("mariejose", "Marie-José Perec"),
        ("ivan", "Иван Петров"),
        ("tanaka", "田中太郎"),
        ("zoe", "Zoë Saldaña"),
    ] {
        let body = json!({"username": username, "email": format!("{username}@example.com"), "password": "correct horse", "display_name": display});
        app.post("/auth/register", None, body).await.expect(201);
    }
    let search = |q: &str| {
        let (app, token) = (&app, viewer.token.clone());
        let q = q.to_string();
        async move {
            let reply = app
                .client
                .get(app.url("/users"))
                .query(&[("q", q.as_str())])
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200);
            let page: Value = reply.json().await.unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    // Accents and case do not matter; names starting with the query come first.
    assert_eq!(search("jose").await, vec!["jose", "mariejose"]);
    assert_eq!(search("JOSÉ").await, vec!["jose", "mariejose"]);
    assert_eq!(search("nunez").await, vec!["jose"]);
    assert_eq!(search("иван").await, vec!["ivan"]);
    assert_eq!(search("ПЕТ").await, vec!["ivan"]);
    assert_eq!(search("太郎").await, vec!["tanaka"]);
    assert_eq!(search("田中").await, vec!["tanaka"]);
    assert_eq!(search("zoe saldana").await, vec!["zoe"]);
    // LIKE wildcards are taken literally.
    assert!(search("%").await.is_empty());
    assert!(search("_").await.is_empty());
}

async fn search_hides_blocked_deactivated_and_deleted_people(backend: Backend) {
    let app = spawn_app(backend).await;
    let viewer = app.user("viewer").await;
    let blocked_by_me = app.user("pat1").await;
    let blocker = app.user("pat2").await;
    let deactivated = app.user("pat3").await;
    let deleted = app.user("pat4").await;
    app.user("pat5").await;
    let root = admin(&app).await;
    app.post(
        &format!("/users/{}/block", blocked_by_me.id),
        Some(&viewer.token),
        json!({}),
    )
    .await
    .expect(204);
    app.post(
        &format!("/users/{}/block", viewer.id),
        Some(&blocker.token),
        json!({}),
    )
    .await
    .expect(204);
    put(
        &app,
        &format!("/users/{}", deactivated.id),
        &root.token,
        json!({"is_active": false}),
    )
    .await
    .expect(200);
    app.request(
        Method::DELETE,
        "/users/me",
        Some(&deleted.token),
        Some(json!({"password": "correct horse"})),
    )
    .await
    .expect(204);

    let page = app
        .get("/users?q=pat", Some(&viewer.token))
        .await
        .expect(200)
        .body;
    let names: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, vec![json!("pat5")]);
    assert_eq!(page["total"], 1);
    // The blocker is hidden from the blocked, too.
    let page = app
        .get("/users?q=viewer", Some(&blocker.token))
        .await
        .expect(200)
        .body;
    assert_eq!(page["total"], 0);
}

async fn search_paginates_and_validates_its_query(backend: Backend) {
    let app = spawn_app(backend).await;
    let viewer = app.user("viewer").await;
    for i in 0..7 {
        app.register(&format!("member{i}")).await;
    }
    let page = app
        .get("/users?q=member&skip=2&limit=3", Some(&viewer.token))
        .await
        .expect(200)
        .body;
    assert_eq!(page["total"], 7);
    assert_eq!(
        (page["skip"].as_i64(), page["limit"].as_i64()),
        (Some(2), Some(3))
    );
    let names: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["member2", "member3", "member4"]);
    let all = app
        .get("/users", Some(&viewer.token))
        .await
        .expect(200)
        .body;
    assert_eq!(all["total"], 8);
    assert_eq!(all["limit"], 20);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("skip=-1", "skip"),
        ("limit=abc", "limit"),
    ] {
        let reply = app
            .get(&format!("/users?{query}"), Some(&viewer.token))
            .await
            .expect(422);
        assert_eq!(
            reply.body["detail"][0]["loc"],
            json!(["query", field]),
            "{query}"
        );
    }
    let long = "q".repeat(101);
    app.get(&format!("/users?q={long}"), Some(&viewer.token))
        .await
        .expect(422);
    app.get("/users", None).await.expect(401);
}

async fn admins_deactivate_and_reactivate_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let root = admin(&app).await;
    let path = format!("/users/{}", alice.id);
    let profile = put(&app, &path, &root.token, json!({"is_active": false}))
        .await
        .expect(200)
        .body;
    assert_eq!(profile["is_active"], false);
    // Her sessions ended at once, and she cannot log in.
    app.get("/auth/me", Some(&alice.token)).await.expect(401);
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": alice.refresh_token}),
    )
    .await
    .expect(401);
    app.login("alice", "correct horse", false).await.expect(401);

    put(&app, &path, &root.token, json!({"is_active": true}))
        .await
        .expect(200);
    app.login("alice", "correct horse", false).await.expect(200);
}

async fn deleting_an_account_erases_it_and_frees_the_name_later(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.deleted_username_hold_days = 0).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    befriend(&app, &alice, &bob).await;
    let app_ref = &app;
    let delete = |token: &str, body: Option<Value>| {
        let token = token.to_string();
        async move {
            app_ref
                .request(Method::DELETE, "/users/me", Some(&token), body)
                .await
        }
    };
    delete(&alice.token, None).await.expect(403);
    delete(&alice.token, Some(json!({"password": "wrong pass"})))
        .await
        .expect(403);
    app.get("/auth/me", Some(&alice.token)).await.expect(200);

    delete(&alice.token, Some(json!({"password": "correct horse"})))
        .await
        .expect(204);
    app.get("/auth/me", Some(&alice.token)).await.expect(401);
    app.login("alice", "correct horse", false).await.expect(401);
    app.login("alice@example.com", "correct horse", false)
        .await
        .expect(401);

    // Others see a tombstone: the id stays, the personal data is gone.
    let seen = app
        .get(&format!("/users/{}", alice.id), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(seen["is_deleted"], true);
    assert_eq!(seen["display_name"], "Deleted user");
    assert_eq!(seen["bio"], "");
    assert!(seen["status"].is_null());
    assert_eq!(
        app.get("/friends", Some(&bob.token)).await.expect(200).body,
        json!([])
    );

    // The email is free at once; the username once the hold time passes (here: zero),
    // which the janitor applies on its next round (it runs at start and every minute).
    let again =
        json!({"username": "alice2", "email": "alice@example.com", "password": "correct horse"});
    app.post("/auth/register", None, again).await.expect(201);
    let state = blockchat::App::state(app.config.clone()).await.unwrap();
    state
        .db
        .release_deleted_usernames(chrono::Utc::now())
        .await
        .unwrap();
    state.db.close().await;
    let body =
        json!({"username": "alice", "email": "alice3@example.com", "password": "correct horse"});
    app.post("/auth/register", None, body).await.expect(201);
}
