//! Direct and group chats, members and roles, my chat list and settings.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, TestUser, spawn_app, spawn_app_with};

backend_tests!(
    a_direct_chat_is_one_per_pair,
    direct_chats_respect_blocks_and_privacy,
    groups_start_with_their_owner_members_and_a_system_message,
    group_input_is_validated,
    my_chat_list_has_previews_counts_and_order,
    my_chat_list_searches_names_in_any_script,
    chat_info_and_settings_follow_roles,
    announcement_groups_let_only_admins_post,
    members_are_added_removed_and_leave,
    an_owner_who_leaves_hands_over_to_the_longest_standing_admin,
    roles_are_changed_by_the_owner_only,
    the_member_limit_holds,
    deleting_a_group_is_for_the_owner_and_hides_a_direct_chat,
    my_settings_are_mine,
    access_matrix_strangers_members_admins_owners_removed_and_blocked,
);

pub async fn direct(app: &TestApp, a: &TestUser, b: &TestUser) -> String {
    let reply = app
        .post(
            "/chats",
            Some(&a.token),
            json!({"type": "direct", "user_id": b.id}),
        )
        .await;
    assert!(reply.status == 201 || reply.status == 200, "{:?}", reply);
    reply.body["id"].as_str().unwrap().to_string()
}

pub async fn group(app: &TestApp, owner: &TestUser, name: &str, members: &[&TestUser]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let reply = app
        .post(
            "/chats",
            Some(&owner.token),
            json!({"type": "group", "name": name, "member_ids": ids}),
        )
        .await
        .expect(201);
    reply.body["id"].as_str().unwrap().to_string()
}

pub async fn send(app: &TestApp, user: &TestUser, chat_id: &str, content: &str) -> Value {
    app.post(
        &format!("/chats/{chat_id}/messages"),
        Some(&user.token),
        json!({"content": content}),
    )
    .await
    .expect(201)
    .body
}

async fn put(app: &TestApp, path: &str, user: &TestUser, body: Value) -> crate::helpers::Reply {
    app.request(Method::PUT, path, Some(&user.token), Some(body))
        .await
}

async fn delete(app: &TestApp, path: &str, user: &TestUser) -> crate::helpers::Reply {
    app.request(Method::DELETE, path, Some(&user.token), None)
        .await
}

fn roles(chat: &Value) -> Vec<(String, String)> {
    let mut roles: Vec<_> = chat["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["username"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    roles.sort();
    roles
}

async fn a_direct_chat_is_one_per_pair(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let first = app
        .post(
            "/chats",
            Some(&alice.token),
            json!({"type": "direct", "user_id": bob.id}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(first["type"], "direct");
    assert_eq!(first["name"], Value::Null);
    assert_eq!(first["members"].as_array().unwrap().len(), 2);
    assert_eq!(first["me"]["role"], "member");
    let again = app
        .post(
            "/chats",
            Some(&alice.token),
            json!({"type": "direct", "user_id": bob.id}),
        )
        .await
        .expect(200)
        .body;
    let other_side = app
        .post(
            "/chats",
            Some(&bob.token),
            json!({"type": "direct", "user_id": alice.id}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["id"], other_side["id"]);

    app.post(
        "/chats",
        Some(&alice.token),
        json!({"type": "direct", "user_id": alice.id}),
    )
    .await
    .expect(422);
    app.post(
        "/chats",
        Some(&alice.token),
        json!({"type": "direct", "user_id": "01890000-0000-7000-8000-000000000000"}),
    )
    .await
    .expect(404);
    app.post("/chats", Some(&alice.token), json!({"type": "direct"}))
        .await
        .expect(422);
    app.post(
        "/chats",
        Some(&alice.token),
        json!({"type": "channel", "user_id": bob.id}),
    )
    .await
    .expect(422);
    app.post("/chats", None, json!({"type": "direct", "user_id": bob.id}))
        .await
        .expect(401);
}

async fn direct_chats_respect_blocks_and_privacy(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    app.post(
        &format!("/users/{}/block", alice.id),
        Some(&bob.token),
        json!({}),
    )
    .await
    .expect(204);
    app.post(
        "/chats",
        Some(&alice.token),
        json!({"type": "direct", "user_id": bob.id}),
    )
    .await
    .expect(403);
    app.post(
        "/chats",
        Some(&bob.token),
        json!({"type": "direct", "user_id": alice.id}),
    )
    .await
    .expect(403);

    put(
        &app,
        "/users/me",
        &carol,
        json!({"privacy": {"direct_messages": "contacts"}}),
    )
    .await
    .expect(200);
    app.post(
        "/chats",
        Some(&alice.token),
        json!({"type": "direct", "user_id": carol.id}),
    )
    .await
    .expect(403);
    crate::users::befriend(&app, &alice, &carol).await;
    app.post(
        "/chats",
        Some(&alice.token),
        json!({"type": "direct", "user_id": carol.id}),
    )
    .await
    .expect(201);
}

async fn groups_start_with_their_owner_members_and_a_system_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let body = json!({"type": "group", "name": "  Book club ", "description": "Monthly", "member_ids": [bob.id, carol.id, bob.id, alice.id]});
    let chat = app
        .post("/chats", Some(&alice.token), body)
        .await
        .expect(201)
        .body;
    assert_eq!(chat["type"], "group");
    assert_eq!(chat["name"], "Book club");
    assert_eq!(chat["description"], "Monthly");
    assert_eq!(
        roles(&chat),
        vec![
            ("alice".into(), "owner".into()),
            ("bob".into(), "member".into()),
            ("carol".into(), "member".into())
        ]
    );
    assert_eq!(
        chat["settings"],
        json!({"post": "everyone", "add_members": "everyone", "edit_info": "admins", "pin": "everyone", "mention_all": "everyone"})
    );
    assert_eq!(chat["last_seq"], 1);
    let id = chat["id"].as_str().unwrap();
    let history = app
        .get(&format!("/chats/{id}/messages"), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(history[0]["type"], "system");
    assert_eq!(history[0]["seq"], 1);
    assert_eq!(history[0]["event"]["type"], "created");
    assert_eq!(history[0]["sender_id"], Value::Null);
}

async fn group_input_is_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    for (body, status) in [
        (json!({"type": "group", "name": ""}), 422),
        (json!({"type": "group", "name": "   "}), 422),
        (json!({"type": "group", "name": "n".repeat(101)}), 422),
        (
            json!({"type": "group", "name": "ok", "description": "d".repeat(1001)}),
            422,
        ),
        (
            json!({"type": "group", "name": "ok", "member_ids": "bob"}),
            422,
        ),
        (
            json!({"type": "group", "name": "ok", "member_ids": ["01890000-0000-7000-8000-000000000000"]}),
            404,
        ),
        (json!({"type": "group"}), 422),
    ] {
        app.post("/chats", Some(&alice.token), body.clone())
            .await
            .expect(status);
    }
    let list = app.get("/chats", Some(&alice.token)).await.expect(200).body;
    assert_eq!(list["total"], 0, "nothing was created");
}

async fn my_chat_list_has_previews_counts_and_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let dm = direct(&app, &alice, &bob).await;
    let club = group(&app, &alice, "Club", &[&bob, &carol]).await;
    send(&app, &bob, &dm, "hi alice").await;
    send(&app, &bob, &dm, "are you there?").await;
    send(&app, &alice, &club, "my own message").await;
    send(&app, &carol, &club, "hello @alice and @bob").await;

    let list = app.get("/chats", Some(&alice.token)).await.expect(200).body;
    assert_eq!(list["total"], 2);
    let items = list["items"].as_array().unwrap();
    // Most recent activity first.
    assert_eq!(items[0]["id"], club);
    assert_eq!(items[1]["id"], dm);
    assert_eq!(items[0]["last_message"]["content"], "hello @alice and @bob");
    assert_eq!(
        items[0]["unread_count"], 1,
        "carol's message; my own does not count"
    );
    assert_eq!(items[0]["mention_count"], 1);
    assert_eq!(items[1]["unread_count"], 2);
    assert_eq!(items[1]["mention_count"], 0);
    assert_eq!(items[1]["other_user"]["username"], "bob");
    assert_eq!(items[1]["last_message"]["content"], "are you there?");
    for key in [
        "muted_until",
        "pinned",
        "archived",
        "notifications",
        "role",
        "read_seq",
    ] {
        assert!(items[0].get(key).is_some(), "{key}");
    }

    // Pinned chats come first, whatever their activity.
    put(
        &app,
        &format!("/chats/{dm}/settings"),
        &alice,
        json!({"pinned": true}),
    )
    .await
    .expect(200);
    let list = app.get("/chats", Some(&alice.token)).await.expect(200).body;
    assert_eq!(list["items"][0]["id"], dm);
    assert_eq!(list["items"][0]["pinned"], true);

    // Reading clears the counts.
    put(
        &app,
        &format!("/chats/{club}/messages/read"),
        &alice,
        json!({"up_to_seq": 1000}),
    )
    .await
    .expect(200);
    let list = app
        .get("/chats?limit=1&skip=1", Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(list["items"][0]["id"], club);
    assert_eq!(
        (
            list["items"][0]["unread_count"].as_i64(),
            list["items"][0]["mention_count"].as_i64()
        ),
        (Some(0), Some(0))
    );
    app.get("/chats?limit=0", Some(&alice.token))
        .await
        .expect(422);
    app.get("/chats", None).await.expect(401);
}

async fn my_chat_list_searches_names_in_any_script(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let body = json!({"username": "jose", "email": "jose@example.com", "password": "correct horse", "display_name": "José Núñez"});
    app.post("/auth/register", None, body).await.expect(201);
    let jose = {
        let tokens = app
            .login("jose", "correct horse", false)
            .await
            .expect(200)
            .body;
        TestUser {
            id: tokens["user"]["id"].as_str().unwrap().into(),
            token: tokens["access_token"].as_str().unwrap().into(),
            refresh_token: String::new(),
        }
    };
    let dm = direct(&app, &alice, &jose).await;
    let club = group(&app, &alice, "Клуб любителей книг", &[]).await;
    let search = |q: &'static str| {
        let (app, token) = (&app, alice.token.clone());
        async move {
            let reply = app
                .client
                .get(app.url("/chats"))
                .query(&[("q", q)])
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let page: Value = reply.json().await.unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("nunez").await, vec![dm.clone()]);
    assert_eq!(search("КНИГ").await, vec![club.clone()]);
    assert_eq!(search("").await.len(), 2);
    assert!(search("%").await.is_empty());
}

async fn chat_info_and_settings_follow_roles(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = group(&app, &alice, "Team", &[&bob]).await;
    let path = format!("/chats/{chat}");
    put(&app, &path, &bob, json!({"name": "Bob's team"}))
        .await
        .expect(403);
    put(
        &app,
        &path,
        &bob,
        json!({"settings": {"edit_info": "everyone"}}),
    )
    .await
    .expect(403);
    put(
        &app,
        &path,
        &alice,
        json!({"settings": {"edit_info": "everyone"}}),
    )
    .await
    .expect(200);
    let renamed = put(
        &app,
        &path,
        &bob,
        json!({"name": "Our team", "description": "All of us"}),
    )
    .await
    .expect(200)
    .body;
    assert_eq!(renamed["name"], "Our team");
    put(&app, &path, &bob, json!({"settings": {"post": "admins"}}))
        .await
        .expect(403);
    put(&app, &path, &alice, json!({"name": ""}))
        .await
        .expect(422);
    put(&app, &path, &alice, json!({"avatar_url": "javascript:x"}))
        .await
        .expect(422);
    put(&app, &path, &alice, json!({"settings": {"post": "nobody"}}))
        .await
        .expect(422);
    let history = app
        .get(&format!("/chats/{chat}/messages"), Some(&alice.token))
        .await
        .expect(200)
        .body;
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["event"]["type"], "renamed");
    assert_eq!(last["event"]["name"], "Our team");

    let dm = direct(&app, &alice, &bob).await;
    put(&app, &format!("/chats/{dm}"), &alice, json!({"name": "x"}))
        .await
        .expect(403);
}

async fn announcement_groups_let_only_admins_post(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = group(&app, &alice, "News", &[&bob]).await;
    put(
        &app,
        &format!("/chats/{chat}"),
        &alice,
        json!({"settings": {"post": "admins"}}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/chats/{chat}/messages"),
        Some(&bob.token),
        json!({"content": "hi"}),
    )
    .await
    .expect(403);
    send(&app, &alice, &chat, "Announcement").await;
}

async fn members_are_added_removed_and_leave(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let dave = app.user("dave").await;
    let chat = group(&app, &alice, "Team", &[&bob]).await;
    let members = format!("/chats/{chat}/members");

    // Anyone may add by default; adding a member twice does nothing.
    let added = app
        .post(
            &members,
            Some(&bob.token),
            json!({"user_ids": [carol.id, carol.id, bob.id]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(added["members"].as_array().unwrap().len(), 3);
    put(
        &app,
        &format!("/chats/{chat}"),
        &alice,
        json!({"settings": {"add_members": "admins"}}),
    )
    .await
    .expect(200);
    app.post(&members, Some(&bob.token), json!({"user_ids": [dave.id]}))
        .await
        .expect(403);
    app.post(
        &members,
        Some(&alice.token),
        json!({"user_ids": ["01890000-0000-7000-8000-000000000000"]}),
    )
    .await
    .expect(404);
    app.post(&members, Some(&alice.token), json!({"user_ids": "x"}))
        .await
        .expect(422);

    // A member cannot remove another; the owner can; a removed member loses access at once.
    delete(&app, &format!("{members}/{}", carol.id), &bob)
        .await
        .expect(403);
    delete(&app, &format!("{members}/{}", alice.id), &bob)
        .await
        .expect(403);
    delete(&app, &format!("{members}/{}", carol.id), &alice)
        .await
        .expect(204);
    app.get(&format!("/chats/{chat}"), Some(&carol.token))
        .await
        .expect(404);
    app.get(&format!("/chats/{chat}/messages"), Some(&carol.token))
        .await
        .expect(404);
    app.post(
        &format!("/chats/{chat}/messages"),
        Some(&carol.token),
        json!({"content": "still here?"}),
    )
    .await
    .expect(404);
    delete(&app, &format!("{members}/{}", carol.id), &alice)
        .await
        .expect(404);

    // Bob leaves.
    delete(&app, &format!("{members}/me"), &bob)
        .await
        .expect(204);
    let chat_now = app
        .get(&format!("/chats/{chat}"), Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(roles(&chat_now), vec![("alice".into(), "owner".into())]);
    let events: Vec<String> = app
        .get(&format!("/chats/{chat}/messages"), Some(&alice.token))
        .await
        .expect(200)
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["event"]["type"].as_str().map(str::to_string))
        .collect();
    assert_eq!(events, vec!["created", "added", "removed", "left"]);
    let dm = direct(&app, &alice, &bob).await;
    delete(&app, &format!("/chats/{dm}/members/me"), &alice)
        .await
        .expect(403);
}

async fn an_owner_who_leaves_hands_over_to_the_longest_standing_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let chat = group(&app, &alice, "Team", &[&bob, &carol]).await;
    put(
        &app,
        &format!("/chats/{chat}/members/{}", carol.id),
        &alice,
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    delete(&app, &format!("/chats/{chat}/members/{}", alice.id), &alice)
        .await
        .expect(204);
    let now = app
        .get(&format!("/chats/{chat}"), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(
        roles(&now),
        vec![
            ("bob".into(), "member".into()),
            ("carol".into(), "owner".into())
        ]
    );
    // Without admins, the longest-standing member takes over.
    delete(&app, &format!("/chats/{chat}/members/me"), &carol)
        .await
        .expect(204);
    let now = app
        .get(&format!("/chats/{chat}"), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(roles(&now), vec![("bob".into(), "owner".into())]);
    // The last one out: the group is gone.
    delete(&app, &format!("/chats/{chat}/members/me"), &bob)
        .await
        .expect(204);
    app.get(&format!("/chats/{chat}"), Some(&bob.token))
        .await
        .expect(404);
}

async fn roles_are_changed_by_the_owner_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let chat = group(&app, &alice, "Team", &[&bob, &carol]).await;
    let role_of = |user: &TestUser| format!("/chats/{chat}/members/{}", user.id);
    put(&app, &role_of(&bob), &alice, json!({"role": "admin"}))
        .await
        .expect(200);
    put(&app, &role_of(&carol), &bob, json!({"role": "admin"}))
        .await
        .expect(403);
    put(&app, &role_of(&carol), &alice, json!({"role": "emperor"}))
        .await
        .expect(422);
    put(&app, &role_of(&alice), &alice, json!({"role": "member"}))
        .await
        .expect(422);
    put(
        &app,
        &format!("/chats/{chat}/members/01890000-0000-7000-8000-000000000000"),
        &alice,
        json!({"role": "admin"}),
    )
    .await
    .expect(404);
    // An admin removes members, not the owner or other admins.
    delete(&app, &role_of(&alice), &bob).await.expect(403);
    // Handing over: the old owner becomes an admin.
    let now = put(&app, &role_of(&carol), &alice, json!({"role": "owner"}))
        .await
        .expect(200)
        .body;
    assert_eq!(
        roles(&now),
        vec![
            ("alice".into(), "admin".into()),
            ("bob".into(), "admin".into()),
            ("carol".into(), "owner".into())
        ]
    );
    delete(&app, &role_of(&bob), &alice).await.expect(403);
    delete(&app, &role_of(&bob), &carol).await.expect(204);
}

async fn the_member_limit_holds(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.group_member_limit = 3).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let dave = app.user("dave").await;
    let ids = json!([bob.id, carol.id, dave.id]);
    app.post(
        "/chats",
        Some(&alice.token),
        json!({"type": "group", "name": "Big", "member_ids": ids}),
    )
    .await
    .expect(422);
    let chat = group(&app, &alice, "Small", &[&bob, &carol]).await;
    app.post(
        &format!("/chats/{chat}/members"),
        Some(&alice.token),
        json!({"user_ids": [dave.id]}),
    )
    .await
    .expect(422);
    let now = app
        .get(&format!("/chats/{chat}"), Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(now["members"].as_array().unwrap().len(), 3);
}

async fn deleting_a_group_is_for_the_owner_and_hides_a_direct_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = group(&app, &alice, "Team", &[&bob]).await;
    delete(&app, &format!("/chats/{chat}"), &bob)
        .await
        .expect(403);
    delete(&app, &format!("/chats/{chat}"), &alice)
        .await
        .expect(204);
    app.get(&format!("/chats/{chat}"), Some(&bob.token))
        .await
        .expect(404);
    assert_eq!(
        app.get("/chats", Some(&bob.token)).await.expect(200).body["total"],
        0
    );

    let dm = direct(&app, &alice, &bob).await;
    send(&app, &bob, &dm, "one").await;
    delete(&app, &format!("/chats/{dm}"), &alice)
        .await
        .expect(204);
    assert_eq!(
        app.get("/chats", Some(&alice.token)).await.expect(200).body["total"],
        0,
        "hidden for alice"
    );
    assert_eq!(
        app.get("/chats", Some(&bob.token)).await.expect(200).body["total"],
        1,
        "not for bob"
    );
    send(&app, &bob, &dm, "two").await;
    let list = app.get("/chats", Some(&alice.token)).await.expect(200).body;
    assert_eq!(list["items"][0]["id"], dm, "back with a new message");
}

async fn my_settings_are_mine(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = group(&app, &alice, "Team", &[&bob]).await;
    let path = format!("/chats/{chat}/settings");
    let mine = put(&app, &path, &alice, json!({"muted_until": "2999-01-01T00:00:00Z", "notifications": "mentions", "archived": true}))
        .await
        .expect(200)
        .body;
    assert_eq!(mine["notifications"], "mentions");
    assert_eq!(mine["archived"], true);
    assert!(mine["muted_until"].is_string());
    let bobs = app
        .get(&format!("/chats/{chat}"), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(bobs["me"]["notifications"], "all");
    assert_eq!(bobs["me"]["archived"], false);
    put(&app, &path, &alice, json!({"notifications": "sometimes"}))
        .await
        .expect(422);
    let mine = put(&app, &path, &alice, json!({"muted_until": null}))
        .await
        .expect(200)
        .body;
    assert_eq!(mine["muted_until"], Value::Null);
}

/// Every chat endpoint, for each kind of caller: what they get, and that nothing changed.
async fn access_matrix_strangers_members_admins_owners_removed_and_blocked(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let removed = app.user("removed").await;
    let stranger = app.user("stranger").await;
    let extra = app.user("extra").await;
    let chat = group(&app, &owner, "Team", &[&admin, &member, &removed]).await;
    put(
        &app,
        &format!("/chats/{chat}/members/{}", admin.id),
        &owner,
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    delete(
        &app,
        &format!("/chats/{chat}/members/{}", removed.id),
        &owner,
    )
    .await
    .expect(204);
    let message = send(&app, &member, &chat, "hello").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    put(
        &app,
        &format!("/chats/{chat}"),
        &owner,
        json!({"settings": {"add_members": "admins"}}),
    )
    .await
    .expect(200);
    let before = app
        .get(&format!("/chats/{chat}"), Some(&owner.token))
        .await
        .expect(200)
        .body;
    let history_before = app
        .get(&format!("/chats/{chat}/messages"), Some(&owner.token))
        .await
        .expect(200)
        .body;

    // (method, path, body) and the status each caller gets: stranger, removed, member, admin.
    let m = format!("/chats/{chat}/messages/{message}");
    let cases: Vec<(Method, String, Value, [u16; 4])> = vec![
        (
            Method::GET,
            format!("/chats/{chat}"),
            Value::Null,
            [404, 404, 200, 200],
        ),
        (
            Method::GET,
            format!("/chats/{chat}/messages"),
            Value::Null,
            [404, 404, 200, 200],
        ),
        (
            Method::PUT,
            format!("/chats/{chat}"),
            json!({"name": "Mine"}),
            [404, 404, 403, 200],
        ),
        (
            Method::PUT,
            format!("/chats/{chat}"),
            json!({"settings": {"post": "admins"}}),
            [404, 404, 403, 200],
        ),
        (
            Method::DELETE,
            format!("/chats/{chat}"),
            Value::Null,
            [404, 404, 403, 403],
        ),
        (
            Method::POST,
            format!("/chats/{chat}/members"),
            json!({"user_ids": [extra.id]}),
            [404, 404, 403, 200],
        ),
        (
            Method::DELETE,
            format!("/chats/{chat}/members/{}", owner.id),
            Value::Null,
            [404, 404, 403, 403],
        ),
        (
            Method::PUT,
            format!("/chats/{chat}/members/{}", member.id),
            json!({"role": "admin"}),
            [404, 404, 403, 403],
        ),
        (
            Method::PUT,
            m.clone(),
            json!({"content": "edited"}),
            [404, 404, 200, 403],
        ),
        (
            Method::GET,
            format!("{m}/read-status"),
            Value::Null,
            [404, 404, 200, 200],
        ),
        (
            Method::GET,
            format!("{m}/history"),
            Value::Null,
            [404, 404, 200, 200],
        ),
        (
            Method::PUT,
            format!("/chats/{chat}/settings"),
            json!({"pinned": true}),
            [404, 404, 200, 200],
        ),
        (
            Method::PUT,
            format!("/chats/{chat}/messages/read"),
            json!({"up_to_seq": 1}),
            [404, 404, 200, 200],
        ),
    ];
    for (method, path, body, expected) in cases {
        for (caller, status) in [&stranger, &removed, &member, &admin]
            .into_iter()
            .zip(expected)
        {
            // Only callers expected to be refused are tried: success would change things.
            if status < 400 {
                continue;
            }
            let body = (!body.is_null()).then(|| body.clone());
            let reply = app
                .request(method.clone(), &path, Some(&caller.token), body)
                .await;
            assert_eq!(
                reply.status.as_u16(),
                status,
                "{method} {path} as {}: {}",
                caller.id,
                reply.body
            );
        }
        // Nobody at all.
        app.request(method.clone(), &path, None, None)
            .await
            .expect(401);
    }
    let after = app
        .get(&format!("/chats/{chat}"), Some(&owner.token))
        .await
        .expect(200)
        .body;
    assert_eq!(
        without_presence(before),
        without_presence(after),
        "nothing changed"
    );
    let history_after = app
        .get(&format!("/chats/{chat}/messages"), Some(&owner.token))
        .await
        .expect(200)
        .body;
    assert_eq!(history_before, history_after, "no message changed");

    // The allowed calls, once each, do work.
    put(
        &app,
        &format!("/chats/{chat}"),
        &admin,
        json!({"name": "Renamed"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/chats/{chat}/members"),
        Some(&admin.token),
        json!({"user_ids": [extra.id]}),
    )
    .await
    .expect(200);
    put(&app, &m, &member, json!({"content": "edited"}))
        .await
        .expect(200);
    delete(&app, &m, &admin).await.expect(204);

    // A blocked person in a direct chat: the chat is there, posting is not.
    let dm = direct(&app, &owner, &member).await;
    app.post(
        &format!("/users/{}/block", member.id),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect(204);
    app.post(
        &format!("/chats/{dm}/messages"),
        Some(&member.token),
        json!({"content": "hey"}),
    )
    .await
    .expect(403);
    // Nor for the one who blocked; a group they share stays open to both.
    app.post(
        &format!("/chats/{dm}/messages"),
        Some(&owner.token),
        json!({"content": "hey"}),
    )
    .await
    .expect(403);
    app.post(
        &format!("/chats/{chat}/messages"),
        Some(&owner.token),
        json!({"content": "still here"}),
    )
    .await
    .expect(201);
    app.get(&format!("/chats/{dm}/messages"), Some(&member.token))
        .await
        .expect(200);
    // Unblocked, both may post again.
    delete(&app, &format!("/users/{}/block", member.id), &owner)
        .await
        .expect(204);
    for who in [&owner, &member] {
        app.post(
            &format!("/chats/{dm}/messages"),
            Some(&who.token),
            json!({"content": "hey again"}),
        )
        .await
        .expect(201);
    }
}

/// A chat without its members' presence (which the callers' own requests change).
fn without_presence(mut chat: Value) -> Value {
    for member in chat["members"].as_array_mut().unwrap() {
        member["user"]["last_seen"] = Value::Null;
        member["user"]["status"] = Value::Null;
    }
    chat
}
