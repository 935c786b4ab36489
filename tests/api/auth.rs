//! Accounts and sessions: the happy paths and every unhappy one.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, spawn_app, spawn_app_with};
use crate::smtp::SmtpSink;

backend_tests!(
    register_returns_the_user_without_secrets,
    register_refuses_invalid_input_and_creates_nothing,
    register_refuses_taken_names_and_emails_whatever_their_case,
    malformed_bodies_get_json_errors,
    login_works_with_json_form_and_email,
    wrong_password_and_unknown_user_get_the_same_401,
    bad_tokens_get_401_with_www_authenticate,
    refresh_rotates_and_reuse_revokes_the_session,
    logout_ends_the_session_at_once,
    logout_all_ends_every_session,
    sessions_are_listed_and_can_be_ended,
    remember_me_keeps_the_session_longer,
    change_password_ends_the_other_sessions,
    password_recovery_through_an_emailed_link,
    password_recovery_without_smtp_writes_to_the_outbox,
    expired_reset_links_are_refused,
    auth_endpoints_are_rate_limited,
    the_api_is_mounted_under_api_too,
);

async fn register_returns_the_user_without_secrets(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app
        .post(
            "/auth/register",
            None,
            json!({"username": "Alice", "email": "Alice@Example.com", "password": "correct horse", "display_name": "Alice A."}),
        )
        .await
        .expect(201);
    let user = reply.body;
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["display_name"], "Alice A.");
    assert!(user["id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(
        user["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let text = user.to_string();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "{text}"
    );
    // Without a display name, the username stands in.
    let bob = app.register("bob").await;
    assert_eq!(bob["display_name"], "bob");
}

async fn register_refuses_invalid_input_and_creates_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let long = "x".repeat(200);
    let cases = [
        (
            json!({"username": "ab", "email": "a@example.com", "password": "correct horse"}),
            "username",
        ),
        (
            json!({"username": "al ice", "email": "a@example.com", "password": "correct horse"}),
            "username",
        ),
        (
            json!({"username": "alice", "email": "not-an-email", "password": "correct horse"}),
            "email",
        ),
        (
            json!({"username": "alice", "email": format!("{long}@example.com"), "password": "correct horse"}),
            "email",
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "p".repeat(129)}),
            "password",
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "correct horse", "display_name": long}),
            "display_name",
        ),
    ];
    for (body, field) in cases {
        let reply = app
            .post("/auth/register", None, body.clone())
            .await
            .expect(422);
        let errors = reply.body["detail"]
            .as_array()
            .expect("a list of errors")
            .clone();
        assert!(
            errors.iter().any(|e| e["loc"] == json!(["body", field])
                && e["msg"].is_string()
                && e["type"].is_string()),
            "{body} -> {errors:?}"
        );
    }
    // Several bad fields are all reported at once.
    let reply = app
        .post(
            "/auth/register",
            None,
            json!({"username": "a", "email": "b", "password": "c"}),
        )
        .await
        .expect(422);
    assert_eq!(reply.body["detail"].as_array().unwrap().len(), 3);
    // Nothing was created: the name is still free.
    app.register("alice").await;
}

async fn register_refuses_taken_names_and_emails_whatever_their_case(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("alice").await;
    let taken_name =
        json!({"username": "ALICE", "email": "other@example.com", "password": "correct horse"});
    let reply = app
        .post("/auth/register", None, taken_name)
        .await
        .expect(409);
    assert!(reply.body["detail"].as_str().unwrap().contains("username"));
    let taken_email =
        json!({"username": "alice2", "email": "ALICE@example.com", "password": "correct horse"});
    let reply = app
        .post("/auth/register", None, taken_email)
        .await
        .expect(409);
    assert!(reply.body["detail"].as_str().unwrap().contains("email"));
}

async fn malformed_bodies_get_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app
        .post_raw("/auth/register", "application/json", "{\"username\": ")
        .await
        .expect(422);
    assert_eq!(reply.body["detail"][0]["type"], "json_invalid");
    let reply = app
        .post_raw("/auth/register", "application/json", "{\"username\": 5}")
        .await
        .expect(422);
    assert_eq!(reply.body["detail"][0]["loc"], json!(["body", "username"]));
    assert_eq!(reply.body["detail"][0]["type"], "type_error");
    let reply = app
        .post_raw(
            "/auth/register",
            "application/json",
            "{\"username\": \"alice\"}",
        )
        .await
        .expect(422);
    assert_eq!(reply.body["detail"][0]["type"], "missing");
    assert_eq!(reply.body["detail"][0]["msg"], "Field required");
    let reply = app
        .post_raw("/auth/register", "application/json", "[]")
        .await
        .expect(422);
    assert!(reply.body["detail"].is_array());
    let reply = app
        .post_raw("/auth/register", "application/json", "{} trailing")
        .await
        .expect(422);
    assert!(reply.body["detail"].is_array());
    let reply = app
        .post_raw("/auth/register", "text/plain", "hello")
        .await
        .expect(415);
    assert!(reply.body["detail"].is_string());
    let huge = format!("{{\"username\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let reply = app
        .post_raw("/auth/register", "application/json", huge)
        .await
        .expect(413);
    assert!(reply.body["detail"].is_string());
    // Framework-level errors are JSON too.
    let reply = app.get("/no/such/route", None).await.expect(404);
    assert_eq!(reply.body["detail"], "Not Found");
    let reply = app
        .request(Method::DELETE, "/auth/me", None, None)
        .await
        .expect(405);
    assert!(reply.body["detail"].is_string());
}

async fn login_works_with_json_form_and_email(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("alice").await;
    let reply = app.login("alice", "correct horse", false).await.expect(200);
    assert_eq!(reply.body["token_type"], "bearer");
    assert_eq!(reply.body["expires_in"], 900);
    assert_eq!(reply.body["user"]["username"], "alice");
    assert!(reply.body["refresh_token"].as_str().unwrap().len() >= 43);
    let token = reply.body["access_token"].as_str().unwrap();
    app.get("/auth/me", Some(token)).await.expect(200);

    // The OAuth2 password form, as FastAPI's OAuth2PasswordRequestForm takes it.
    let reply = app
        .post_raw(
            "/auth/login",
            "application/x-www-form-urlencoded",
            "username=Alice&password=correct+horse",
        )
        .await
        .expect(200);
    assert_eq!(reply.body["user"]["username"], "alice");
    let reply = app
        .post_raw(
            "/auth/login",
            "application/x-www-form-urlencoded",
            "username=alice",
        )
        .await
        .expect(422);
    assert_eq!(reply.body["detail"][0]["loc"], json!(["body", "password"]));

    // The email works as the username, in any case.
    app.login("ALICE@example.com", "correct horse", true)
        .await
        .expect(200);
}

async fn wrong_password_and_unknown_user_get_the_same_401(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("alice").await;
    let wrong = app
        .login("alice", "wrong password", false)
        .await
        .expect(401);
    let unknown = app
        .login("nobody", "wrong password", false)
        .await
        .expect(401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    let huge_login = app
        .login(&"x".repeat(5000), "whatever", false)
        .await
        .expect(401);
    assert_eq!(huge_login.body, unknown.body);
}

async fn bad_tokens_get_401_with_www_authenticate(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let claims = |exp_offset: i64| {
        let now = chrono::Utc::now().timestamp();
        let session = session_of(&alice.token);
        json!({"sub": alice.id, "sid": session, "iat": now, "exp": now + exp_offset})
    };
    let sign = |claims: Value, secret: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let secret = app.config.jwt_secret.clone().unwrap();
    let expired = sign(claims(-3600), &secret);
    let forged = sign(claims(600), "another-secret-that-is-long-enough-too");
    let mut tampered = alice.token.clone();
    tampered.insert(tampered.len() - 5, 'x');
    let other_user = sign(
        json!({"sub": "someone-else", "sid": session_of(&alice.token), "iat": 0, "exp": i64::MAX / 2}),
        &secret,
    );

    for token in [
        None,
        Some("garbage"),
        Some(expired.as_str()),
        Some(forged.as_str()),
        Some(tampered.as_str()),
        Some(other_user.as_str()),
    ] {
        let reply = app.get("/auth/me", token).await.expect(401);
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer"),
            "{token:?}"
        );
        assert!(reply.body["detail"].is_string());
    }
    // A header that is not a bearer token.
    let reply = app
        .client
        .get(app.url("/auth/me"))
        .basic_auth("alice", Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    // A token signed correctly, still valid: accepted.
    app.get("/auth/me", Some(&sign(claims(600), &secret)))
        .await
        .expect(200);
}

/// The session id inside an access token (its `sid` claim).
fn session_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["sid"].as_str().unwrap().to_string()
}

async fn refresh_rotates_and_reuse_revokes_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let first = alice.refresh_token.clone();
    let reply = app
        .post("/auth/refresh", None, json!({"refresh_token": first}))
        .await
        .expect(200);
    let second = reply.body["refresh_token"].as_str().unwrap().to_string();
    let access = reply.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        session_of(&access),
        session_of(&alice.token),
        "same session"
    );
    app.get("/auth/me", Some(&access)).await.expect(200);

    // The first token again: theft detected, the whole session ends.
    let reply = app
        .post("/auth/refresh", None, json!({"refresh_token": first}))
        .await
        .expect(401);
    assert!(reply.body["detail"].as_str().unwrap().contains("reuse"));
    app.post("/auth/refresh", None, json!({"refresh_token": second}))
        .await
        .expect(401);
    app.get("/auth/me", Some(&access)).await.expect(401);
    app.get("/auth/me", Some(&alice.token)).await.expect(401);

    // Unknown and malformed refresh tokens.
    app.post("/auth/refresh", None, json!({"refresh_token": "nope"}))
        .await
        .expect(401);
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": "x".repeat(10_000)}),
    )
    .await
    .expect(401);
    app.post("/auth/refresh", None, json!({})).await.expect(422);
}

async fn logout_ends_the_session_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let other = app
        .login("alice", "correct horse", false)
        .await
        .expect(200)
        .body;
    app.post("/auth/logout", Some(&alice.token), json!({}))
        .await
        .expect(204);
    app.get("/auth/me", Some(&alice.token)).await.expect(401);
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": alice.refresh_token}),
    )
    .await
    .expect(401);
    app.post("/auth/logout", Some(&alice.token), json!({}))
        .await
        .expect(401);
    // The other device is still logged in.
    app.get("/auth/me", Some(other["access_token"].as_str().unwrap()))
        .await
        .expect(200);
}

async fn logout_all_ends_every_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let other = app
        .login("alice", "correct horse", true)
        .await
        .expect(200)
        .body;
    app.post("/auth/logout-all", None, json!({}))
        .await
        .expect(401);
    app.post("/auth/logout-all", Some(&alice.token), json!({}))
        .await
        .expect(204);
    app.get("/auth/me", Some(&alice.token)).await.expect(401);
    app.get("/auth/me", Some(other["access_token"].as_str().unwrap()))
        .await
        .expect(401);
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": other["refresh_token"]}),
    )
    .await
    .expect(401);
    app.get("/auth/me", Some(&bob.token)).await.expect(200);
}

async fn sessions_are_listed_and_can_be_ended(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let phone = app
        .client
        .post(app.url("/auth/login"))
        .header("user-agent", "BlockChat-Phone/1.0")
        .json(&json!({"username": "alice", "password": "correct horse"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let sessions = app
        .get("/auth/sessions", Some(&alice.token))
        .await
        .expect(200)
        .body;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], session_of(&alice.token));
    let phone_session = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(phone_session["user_agent"], "BlockChat-Phone/1.0");
    assert_eq!(phone_session["ip"], "127.0.0.1");
    for key in ["created_at", "last_used_at", "expires_at"] {
        assert!(phone_session[key].is_string(), "{key}");
    }

    // Bob cannot end Alice's session, nor can anyone end an unknown one.
    let path = format!("/auth/sessions/{}", phone_session["id"].as_str().unwrap());
    app.request(Method::DELETE, &path, Some(&bob.token), None)
        .await
        .expect(404);
    app.request(
        Method::DELETE,
        "/auth/sessions/not-a-session",
        Some(&alice.token),
        None,
    )
    .await
    .expect(404);
    app.request(Method::DELETE, &path, None, None)
        .await
        .expect(401);
    app.get("/auth/me", Some(phone["access_token"].as_str().unwrap()))
        .await
        .expect(200);

    app.request(Method::DELETE, &path, Some(&alice.token), None)
        .await
        .expect(204);
    app.get("/auth/me", Some(phone["access_token"].as_str().unwrap()))
        .await
        .expect(401);
    let sessions = app
        .get("/auth/sessions", Some(&alice.token))
        .await
        .expect(200)
        .body;
    assert_eq!(sessions.as_array().unwrap().len(), 1);
}

async fn remember_me_keeps_the_session_longer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("alice").await;
    let short = app
        .login("alice", "correct horse", false)
        .await
        .expect(200)
        .body;
    let long = app
        .login("alice", "correct horse", true)
        .await
        .expect(200)
        .body;
    let sessions = app
        .get(
            "/auth/sessions",
            Some(short["access_token"].as_str().unwrap()),
        )
        .await
        .expect(200)
        .body;
    let expiry = |token: &Value| {
        let sid = session_of(token.as_str().unwrap());
        let session = sessions
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == sid)
            .unwrap()
            .clone();
        assert_eq!(session["remember_me"], token == &long["access_token"]);
        chrono::DateTime::parse_from_rfc3339(session["expires_at"].as_str().unwrap()).unwrap()
    };
    let from_now =
        |t: chrono::DateTime<chrono::FixedOffset>| t.timestamp() - chrono::Utc::now().timestamp();
    assert!(
        (from_now(expiry(&short["access_token"])) - 12 * 3600).abs() < 60,
        "12 hours"
    );
    assert!(
        (from_now(expiry(&long["access_token"])) - 30 * 24 * 3600).abs() < 60,
        "30 days"
    );
}

async fn change_password_ends_the_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let other = app
        .login("alice", "correct horse", false)
        .await
        .expect(200)
        .body;
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    app.request(
        Method::PUT,
        "/auth/password",
        None,
        Some(change("correct horse", "battery staple")),
    )
    .await
    .expect(401);
    app.request(
        Method::PUT,
        "/auth/password",
        Some(&alice.token),
        Some(change("wrong one", "battery staple")),
    )
    .await
    .expect(403);
    let reply = app
        .request(
            Method::PUT,
            "/auth/password",
            Some(&alice.token),
            Some(change("correct horse", "short")),
        )
        .await
        .expect(422);
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "new_password"])
    );
    app.login("alice", "correct horse", false).await.expect(200);

    app.request(
        Method::PUT,
        "/auth/password",
        Some(&alice.token),
        Some(change("correct horse", "battery staple")),
    )
    .await
    .expect(204);
    app.get("/auth/me", Some(&alice.token)).await.expect(200);
    app.get("/auth/me", Some(other["access_token"].as_str().unwrap()))
        .await
        .expect(401);
    app.login("alice", "correct horse", false).await.expect(401);
    app.login("alice", "battery staple", false)
        .await
        .expect(200);
}

/// The token in a reset mail's link (undoing quoted-printable's soft breaks and `=3D`).
fn reset_token_in(mail: &str) -> String {
    let mail = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start =
        mail.find("reset-password?token=").expect("a reset link") + "reset-password?token=".len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn password_recovery_through_an_emailed_link(backend: Backend) {
    let mut smtp = SmtpSink::start().await;
    let app = spawn_app_with(backend, |c| {
        c.smtp_host = Some("127.0.0.1".into());
        c.smtp_port = Some(smtp.addr.port());
        c.smtp_security = blockchat::config::SmtpSecurity::None;
        c.public_url = Some("https://chat.example.org".into());
    })
    .await;
    let alice = app.user("alice").await;

    // An unknown address gets the same answer, and no mail.
    app.post(
        "/auth/password/forgot",
        None,
        json!({"email": "nobody@example.com"}),
    )
    .await
    .expect(202);
    app.post(
        "/auth/password/forgot",
        None,
        json!({"email": "not an email"}),
    )
    .await
    .expect(422);
    app.post(
        "/auth/password/forgot",
        None,
        json!({"email": "ALICE@example.com"}),
    )
    .await
    .expect(202);
    let mail = smtp.next_mail().await;
    assert_eq!(mail.to, vec!["alice@example.com".to_string()]);
    assert!(
        mail.data
            .contains("https://chat.example.org/#/reset-password?token="),
        "{}",
        mail.data
    );
    let token = reset_token_in(&mail.data);
    assert_eq!(token.len(), 43);

    let reset = |token: &str, password: &str| json!({"token": token, "new_password": password});
    app.post("/auth/password/reset", None, reset(&token, "short"))
        .await
        .expect(422);
    app.post(
        "/auth/password/reset",
        None,
        reset("forged-token", "battery staple"),
    )
    .await
    .expect(422);
    app.post(
        "/auth/password/reset",
        None,
        reset(&token, "battery staple"),
    )
    .await
    .expect(204);
    // Every session ended; the link works once; the new password works.
    app.get("/auth/me", Some(&alice.token)).await.expect(401);
    app.post(
        "/auth/password/reset",
        None,
        reset(&token, "another password"),
    )
    .await
    .expect(422);
    app.login("alice", "correct horse", false).await.expect(401);
    app.login("alice", "battery staple", false)
        .await
        .expect(200);
    assert!(
        smtp.inbox.try_recv().is_err(),
        "no mail for the unknown address"
    );
}

async fn password_recovery_without_smtp_writes_to_the_outbox(backend: Backend) {
    let app = spawn_app(backend).await;
    app.user("alice").await;
    app.post(
        "/auth/password/forgot",
        None,
        json!({"email": "alice@example.com"}),
    )
    .await
    .expect(202);
    let outbox = app.data_dir.path().join("outbox");
    let mut mail = None;
    for _ in 0..200 {
        if let Some(entry) = std::fs::read_dir(&outbox).ok().and_then(|mut d| d.next()) {
            mail = Some(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mail = mail.expect("a mail in the outbox");
    let token = reset_token_in(&mail);
    app.post(
        "/auth/password/reset",
        None,
        json!({"token": token, "new_password": "battery staple"}),
    )
    .await
    .expect(204);
    app.login("alice", "battery staple", false)
        .await
        .expect(200);
}

async fn expired_reset_links_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.password_reset_ttl_secs = 1).await;
    app.user("alice").await;
    app.post(
        "/auth/password/forgot",
        None,
        json!({"email": "alice@example.com"}),
    )
    .await
    .expect(202);
    let outbox = app.data_dir.path().join("outbox");
    let mut path = None;
    for _ in 0..200 {
        if let Some(entry) = std::fs::read_dir(&outbox).ok().and_then(|mut d| d.next()) {
            path = Some(entry.unwrap().path());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let token = reset_token_in(&std::fs::read_to_string(path.expect("a mail")).unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.post(
        "/auth/password/reset",
        None,
        json!({"token": token, "new_password": "battery staple"}),
    )
    .await
    .expect(422);
    app.login("alice", "correct horse", false).await.expect(200);
}

async fn auth_endpoints_are_rate_limited(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.auth_rate_per_ip_per_minute = 100;
        c.auth_rate_per_account_per_minute = 3;
    })
    .await;
    app.register("alice").await;
    for _ in 0..3 {
        app.login("alice", "wrong password", false)
            .await
            .expect(401);
    }
    let reply = app.login("alice", "correct horse", false).await.expect(429);
    let retry_after: u64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert!(reply.body["detail"].is_string());
    // Another account from the same IP is not affected.
    app.register("bob").await;
    app.login("bob", "correct horse", false).await.expect(200);
}

async fn the_api_is_mounted_under_api_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let body =
        json!({"username": "alice", "email": "alice@example.com", "password": "correct horse"});
    app.post("/api/auth/register", None, body).await.expect(201);
    let tokens = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "alice", "password": "correct horse"}),
        )
        .await
        .expect(200);
    let me = app
        .get("/api/auth/me", tokens.body["access_token"].as_str())
        .await
        .expect(200);
    assert_eq!(me.body["username"], "alice");
}
