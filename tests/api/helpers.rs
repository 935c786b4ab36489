//! `spawn_app`: the real server on port 0 with its own fresh database, SQLite or
//! PostgreSQL, and a typed HTTP client to talk to it.

use std::net::SocketAddr;

use blockchat::{App, Config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares each listed `async fn name(backend: Backend)` as two tests,
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await }) *
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Postgres).await }) *
        }
    };
}

/// The PostgreSQL server tests create their databases in.
fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub data_dir: TempDir,
    pub config: Config,
    /// The running server's state, for what no endpoint reaches (the janitor's work).
    pub state: blockchat::state::AppState,
    shutdown: tokio_util::sync::CancellationToken,
    postgres_db: Option<String>,
}

/// A config for tests: port 0, a temp data dir, cheap argon2, generous rate limits.
pub fn test_config(data_dir: &TempDir) -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().to_path_buf(),
        jwt_secret: Some("test-secret-that-is-long-enough-for-hs256".into()),
        password_hash_memory_kib: 64,
        password_hash_iterations: 1,
        auth_rate_per_ip_per_minute: 10_000,
        auth_rate_per_account_per_minute: 10_000,
        log: "warn".into(),
        ..Config::default()
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Spawns the app after `customize` has changed its config.
pub async fn spawn_app_with(backend: Backend, customize: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(&data_dir);
    let postgres_db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let name = format!("bc_test_{}", uuid::Uuid::new_v4().simple());
            create_postgres_db(&name).await;
            config.database_url = Some(format!("{}/{name}", postgres_admin_url()));
            Some(name)
        }
    };
    customize(&mut config);
    let app = App::build(config.clone()).await.expect("app builds");
    let addr = app.local_addr();
    let shutdown = app.state.shutdown.clone();
    let state = app.state.clone();
    tokio::spawn(async move { app.run().await.expect("server runs") });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        addr,
        client,
        data_dir,
        config,
        state,
        shutdown,
        postgres_db,
    }
}

async fn create_postgres_db(name: &str) {
    use sqlx::Connection;
    let url = format!("{}/postgres", postgres_admin_url());
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running at {url} for the tests: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
}

impl Drop for TestApp {
    /// Stops the server and drops the test's PostgreSQL database, even after a panic.
    fn drop(&mut self) {
        self.shutdown.cancel();
        let Some(name) = self.postgres_db.take() else {
            return;
        };
        let url = format!("{}/postgres", postgres_admin_url());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A response, read whole: status, headers and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }
}

/// A registered, logged-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub token: String,
    pub refresh_token: String,
}

impl TestApp {
    /// Begins the server's shutdown, as SIGTERM does.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with an optional JSON body and bearer token.
    pub async fn request(
        &self,
        method: Method,
        path: impl Into<String>,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(&path.into()));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        read(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: impl Into<String>, token: Option<&str>) -> Reply {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: impl Into<String>, token: Option<&str>, body: Value) -> Reply {
        self.request(Method::POST, path, token, Some(body)).await
    }

    /// Sends raw bytes with a given content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let req = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        read(req.send().await.expect("request sent")).await
    }

    pub async fn register(&self, username: &str) -> Value {
        let body = json!({"username": username, "email": format!("{username}@example.com"), "password": "correct horse"});
        self.post("/auth/register", None, body)
            .await
            .expect(201)
            .body
    }

    pub async fn login(&self, login: &str, password: &str, remember_me: bool) -> Reply {
        self.post(
            "/auth/login",
            None,
            json!({"username": login, "password": password, "remember_me": remember_me}),
        )
        .await
    }

    /// Registers `username` (password "correct horse") and logs in.
    pub async fn user(&self, username: &str) -> TestUser {
        let user = self.register(username).await;
        let tokens = self
            .login(username, "correct horse", false)
            .await
            .expect(200)
            .body;
        TestUser {
            id: user["id"].as_str().unwrap().into(),
            token: tokens["access_token"].as_str().unwrap().into(),
            refresh_token: tokens["refresh_token"].as_str().unwrap().into(),
        }
    }
}

async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}
