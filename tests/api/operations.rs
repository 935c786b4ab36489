//! What operators rely on: health, readiness, metrics, docs, headers, the CLI.

use crate::backend_tests;
use crate::helpers::{Backend, spawn_app};

backend_tests!(
    health_readiness_and_metrics,
    openapi_and_swagger_ui_are_served,
    responses_carry_security_headers_and_a_request_id,
    create_admin_makes_and_promotes_administrators,
);

async fn health_readiness_and_metrics(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let reply = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    app.register("alice").await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "http_requests_total{method=\"POST\",route=\"/auth/register\",status=\"201\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
    assert!(metrics.contains("db_pool_connections{pool=\"read\"}"));
}

async fn openapi_and_swagger_ui_are_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let spec = app.get("/openapi.json", None).await.expect(200).body;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/me",
        "/auth/sessions/{session_id}",
        "/auth/password/forgot",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is documented");
    }
    let reply = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.text().await.unwrap().contains("swagger"));
}

async fn responses_carry_security_headers_and_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.get("/auth/me", None).await;
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
    assert!(
        reply
            .header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(
        reply
            .header("x-request-id")
            .is_some_and(|id| id.len() == 36)
    );
    // CORS: a foreign origin is not allowed by default.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/auth/login"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

async fn create_admin_makes_and_promotes_administrators(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob = app.user("bob").await;
    let database_url = app.config.database_url();
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_blockchat"))
            .args([
                "--data-dir",
                app.data_dir.path().to_str().unwrap(),
                "--database-url",
                &database_url,
            ])
            .arg("create-admin")
            .args(args)
            .env(
                "BLOCKCHAT_JWT_SECRET",
                app.config.jwt_secret.as_deref().unwrap(),
            )
            .env("BLOCKCHAT_LOG", "warn")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, out) = run(&[
        "--username",
        "root",
        "--email",
        "root@example.com",
        "--password",
        "admin password",
    ]);
    assert!(ok, "{out}");
    let root = app
        .login("root", "admin password", false)
        .await
        .expect(200)
        .body;
    assert_eq!(root["user"]["is_admin"], true);

    let me = app.get("/auth/me", Some(&bob.token)).await.expect(200).body;
    assert_eq!(me["is_admin"], false);
    let (ok, out) = run(&["--username", "bob"]);
    assert!(ok, "{out}");
    let me = app.get("/auth/me", Some(&bob.token)).await.expect(200).body;
    assert_eq!(me["is_admin"], true);

    // A new admin without a valid password is refused, and nothing is created.
    let (ok, out) = run(&[
        "--username",
        "carol",
        "--email",
        "carol@example.com",
        "--password",
        "short",
    ]);
    assert!(!ok && out.contains("password"), "{out}");
    app.login("carol", "short", false).await.expect(401);
}

/// The web client is served at `/`; page paths get it too; API misses stay JSON.
#[tokio::test]
async fn the_web_client_is_served_at_the_root() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let etag = page.headers()["etag"].to_str().unwrap().to_string();
    assert!(page.text().await.unwrap().to_lowercase().contains("<html"));
    let again = app
        .client
        .get(app.url("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let deep = app
        .client
        .get(app.url("/chats/some/page"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(deep.status(), 200, "a client route gets the page");
    let api_miss = app.get("/no/such/thing", None).await.expect(404);
    assert_eq!(api_miss.body["detail"], "Not Found");
}
