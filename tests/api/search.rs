//! Message search on both backends: words, parts of words in any script, accents,
//! phrases, exclusions, filters, paging; and that it never leaks.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::chats::{direct, group, send};
use crate::helpers::{Backend, TestApp, TestUser, spawn_app};

backend_tests!(
    finds_words_parts_of_words_and_any_script,
    phrases_exclusions_and_filters_narrow_it,
    search_never_leaks,
    bad_queries_are_refused,
);

async fn search(app: &TestApp, user: &TestUser, query: &str) -> Value {
    app.get(format!("/search/messages?{query}"), Some(&user.token))
        .await
        .expect(200)
        .body
}

fn contents(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"]["content"].as_str().unwrap().to_string())
        .collect()
}

fn q(text: &str) -> String {
    let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
    format!("q={encoded}")
}

async fn finds_words_parts_of_words_and_any_script(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    send(&app, &alice, &chat, "Let's meet at the Café de Flore").await;
    send(&app, &bob, &chat, "東京タワーに行きましょう").await;
    send(&app, &alice, &chat, "Привет, как дела?").await;
    send(&app, &bob, &chat, "the deployment pipeline is green").await;
    send(&app, &alice, &chat, "pipelines everywhere").await;
    // Accents and case do not matter; the snippet marks the original text.
    let page = search(&app, &bob, &q("cafe")).await;
    assert_eq!(contents(&page), vec!["Let's meet at the Café de Flore"]);
    assert!(
        page["results"][0]["snippet_html"]
            .as_str()
            .unwrap()
            .contains("<mark>Café</mark>")
    );
    assert_eq!(page["results"][0]["chat_type"], "direct");
    // Parts of words, in CJK (no spaces) and in Cyrillic.
    assert_eq!(
        contents(&search(&app, &alice, &q("タワー")).await),
        vec!["東京タワーに行きましょう"]
    );
    assert_eq!(
        contents(&search(&app, &alice, &q("東京")).await),
        vec!["東京タワーに行きましょう"]
    );
    assert_eq!(
        contents(&search(&app, &alice, &q("ПРИВЕТ")).await),
        vec!["Привет, как дела?"]
    );
    assert_eq!(
        contents(&search(&app, &alice, &q("ploy")).await),
        vec!["the deployment pipeline is green"]
    );
    // A whole-word match ranks above a part-of-word match, even if older.
    assert_eq!(
        contents(&search(&app, &alice, &q("pipeline")).await),
        vec!["the deployment pipeline is green", "pipelines everywhere"]
    );
}

async fn phrases_exclusions_and_filters_narrow_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let team = group(&app, &alice, "team", &[&bob]).await;
    let other = direct(&app, &alice, &bob).await;
    send(&app, &alice, &team, "release plan for friday").await;
    send(&app, &bob, &team, "plan the release carefully").await;
    send(&app, &bob, &team, "draft release notes").await;
    send(&app, &alice, &other, "release party at https://example.com").await;
    assert_eq!(
        contents(&search(&app, &bob, &q("\"release plan\"")).await),
        vec!["release plan for friday"]
    );
    let without = contents(&search(&app, &bob, &q("release -draft -party")).await);
    assert_eq!(without.len(), 2, "{without:?}");
    let in_team = search(&app, &bob, &format!("{}&chat_id={team}", q("release"))).await;
    assert_eq!(contents(&in_team).len(), 3);
    assert_eq!(in_team["results"][0]["chat_name"], "team");
    let by_bob = search(
        &app,
        &alice,
        &format!("{}&sender_id={}", q("release"), bob.id),
    )
    .await;
    assert_eq!(contents(&by_bob).len(), 2);
    assert_eq!(
        contents(&search(&app, &alice, &format!("{}&has=link", q("release"))).await),
        vec!["release party at https://example.com"]
    );
    // Paging: two pages of two, no repeats.
    let first = search(&app, &alice, &format!("{}&limit=2", q("release"))).await;
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let second = search(
        &app,
        &alice,
        &format!("{}&limit=2&cursor={cursor}", q("release")),
    )
    .await;
    assert!(second["next_cursor"].is_null());
    let mut all = contents(&first);
    all.extend(contents(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4);
    // Time filters.
    let future = "2999-01-01T00:00:00Z";
    assert_eq!(
        contents(&search(&app, &alice, &format!("{}&after={future}", q("release"))).await).len(),
        0
    );
    assert_eq!(
        contents(&search(&app, &alice, &format!("{}&before={future}", q("release"))).await).len(),
        4
    );
}

async fn search_never_leaks(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let team = group(&app, &alice, "team", &[&bob, &eve]).await;
    send(&app, &alice, &team, "secret before").await;
    let private = direct(&app, &alice, &bob).await;
    send(&app, &alice, &private, "secret between us").await;
    // A stranger to a chat finds nothing of it.
    assert_eq!(
        contents(&search(&app, &eve, &q("secret")).await),
        vec!["secret before"]
    );
    // A removed member finds what they could see then, and nothing posted after.
    app.request(
        Method::DELETE,
        format!("/chats/{team}/members/{}", eve.id),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    send(&app, &alice, &team, "secret after").await;
    assert_eq!(
        contents(&search(&app, &eve, &q("secret")).await),
        vec!["secret before"]
    );
    assert_eq!(
        contents(&search(&app, &bob, &q("secret")).await),
        vec!["secret after", "secret between us", "secret before"]
    );
    // Edited-away and deleted words are not found.
    let edited = send(&app, &alice, &private, "the codeword is banana").await;
    let id = edited["id"].as_str().unwrap();
    app.request(
        Method::PUT,
        format!("/chats/{private}/messages/{id}"),
        Some(&alice.token),
        Some(json!({"content": "the codeword is cherry"})),
    )
    .await
    .expect(200);
    assert_eq!(
        contents(&search(&app, &bob, &q("banana")).await),
        Vec::<String>::new()
    );
    assert_eq!(
        contents(&search(&app, &bob, &q("cherry")).await),
        vec!["the codeword is cherry"]
    );
    app.request(
        Method::DELETE,
        format!("/chats/{private}/messages/{id}"),
        Some(&alice.token),
        None,
    )
    .await
    .expect(204);
    assert_eq!(
        contents(&search(&app, &bob, &q("cherry")).await),
        Vec::<String>::new()
    );
    // System messages are not searched.
    assert_eq!(
        contents(&search(&app, &bob, &q("added")).await),
        Vec::<String>::new()
    );
}

async fn bad_queries_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    for query in [
        "q=",
        "q=%20%20",
        "q=-only",
        "q=a&limit=0",
        "q=a&limit=51",
        "q=a&has=video",
        "q=a&cursor=x",
        "q=a&before=yesterday",
    ] {
        let reply = app
            .get(format!("/search/messages?{query}"), Some(&alice.token))
            .await;
        assert_eq!(reply.status, 422, "{query}: {}", reply.body);
    }
    app.get("/search/messages", Some(&alice.token))
        .await
        .expect(422);
    app.get(
        format!("/search/messages?q={}", "a".repeat(201)),
        Some(&alice.token),
    )
    .await
    .expect(422);
    app.get("/search/messages?q=a", None).await.expect(401);
    // Characters that mean something to FTS5, LIKE or tsquery are only text.
    for odd in [
        "\"",
        "%",
        "_",
        "*",
        "(",
        "a OR b",
        "NEAR(a b)",
        "\\",
        "'",
        ":",
        "!!!",
        "a & b | c",
    ] {
        let reply = app
            .get(format!("/search/messages?{}", q(odd)), Some(&alice.token))
            .await;
        assert!(
            reply.status == 200 || reply.status == 422,
            "{odd}: {}",
            reply.status
        );
    }
}
