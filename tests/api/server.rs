//! The server as a process and as a listener: TLS, session expiry, shutdown.

use std::time::Duration;

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, spawn_app_with};

backend_tests!(idle_sessions_expire, rate_limits_count_per_ip_too);

async fn idle_sessions_expire(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.session_idle_secs = 1).await;
    app.register("alice").await;
    let tokens = app
        .login("alice", "correct horse", false)
        .await
        .expect(200)
        .body;
    app.get("/auth/me", tokens["access_token"].as_str())
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Unused past its idle time, the session is over: its access token and refresh token too.
    app.get("/auth/me", tokens["access_token"].as_str())
        .await
        .expect(401);
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": tokens["refresh_token"]}),
    )
    .await
    .expect(401);
}

async fn rate_limits_count_per_ip_too(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.auth_rate_per_ip_per_minute = 4;
        c.auth_rate_per_account_per_minute = 100;
    })
    .await;
    for name in ["ann", "ben", "cid", "dan"] {
        app.login(name, "whatever pass", false).await.expect(401);
    }
    app.login("eve", "whatever pass", false).await.expect(429);
    // Each endpoint has its own budget.
    app.post(
        "/auth/password/forgot",
        None,
        json!({"email": "x@example.com"}),
    )
    .await
    .expect(202);
}

/// https works with the configured certificate, so wss will too.
#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.tls_cert = Some(cert_path.clone());
        c.tls_key = Some(key_path.clone());
    })
    .await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", app.addr)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/healthz", app.addr.port());
    let reply = client.get(&url).send().await.expect("https answers");
    assert_eq!(reply.status(), 200);
    // Plain http on the TLS port gets nothing useful.
    assert!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
    );
}

/// SIGTERM stops the server cleanly: it exits with success.
#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_blockchat"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--log",
            "warn",
        ])
        .env("BLOCKCHAT_PASSWORD_HASH_MEMORY_KIB", "64")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect(&line)
        .to_string();
    let reply = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(
        dir.path().join("jwt_secret").exists(),
        "a secret was generated"
    );
    assert!(
        dir.path().join("blockchat.db").exists(),
        "SQLite in the data dir"
    );

    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
}
