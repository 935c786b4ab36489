//! `App::build(config)`: everything the server needs, wired once, for `main` and tests.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::RustlsConfig;
use tokio_util::sync::CancellationToken;

use crate::auth::password::PasswordHashing;
use crate::auth::tokens::{AccessTokens, load_or_create_secret};
use crate::config::Config;
use crate::mail::Mailer;
use crate::ratelimit::RateLimits;
use crate::realtime::presence::Presence;
use crate::state::{AppState, Shared};
use crate::store::Db;

pub struct App {
    pub state: AppState,
    listener: std::net::TcpListener,
}

impl App {
    /// Opens the data directory and database (applying migrations) and binds the port.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let state = Self::state(config).await?;
        state.db.migrate().await?;
        let listener = std::net::TcpListener::bind(state.config.bind)
            .with_context(|| format!("cannot listen on {}", state.config.bind))?;
        Ok(Self { state, listener })
    }

    /// The shared state, without listening: for `migrate` and `create-admin`.
    pub async fn state(config: Config) -> anyhow::Result<AppState> {
        crate::telemetry::metrics_handle();
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
        let db = Db::connect(
            &config.database_url(),
            config.database_max_connections,
            config.sqlite_synchronous,
        )
        .await?;
        let secret = load_or_create_secret(&config)?;
        Ok(AppState::new(Shared {
            writer: crate::store::Writer::start(db.clone()),
            db,
            passwords: PasswordHashing::new(&config)?,
            access_tokens: AccessTokens::new(&secret, config.access_token_ttl_secs),
            files: crate::files::Files::new(&config, &secret)?,
            mailer: Mailer::new(&config)?,
            rate_limits: RateLimits::new(&config),
            presence: Presence::new(Duration::from_secs(config.presence_idle_secs)),
            realtime: crate::realtime::Realtime::default(),
            shutdown: CancellationToken::new(),
            config,
        }))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `state.shutdown` is cancelled, then lets open requests finish
    /// within the configured grace time.
    pub async fn run(self) -> anyhow::Result<()> {
        let Self { state, listener } = self;
        let handle: Handle<SocketAddr> = Handle::new();
        let janitor = tokio::spawn(janitor(state.clone()));
        tokio::spawn(crate::realtime::presence::sweep(state.clone()));
        tokio::spawn({
            let (handle, shutdown) = (handle.clone(), state.shutdown.clone());
            let grace = Duration::from_secs(state.config.shutdown_grace_secs);
            async move {
                shutdown.cancelled().await;
                handle.graceful_shutdown(Some(grace));
            }
        });
        let service =
            crate::http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        match (&state.config.tls_cert, &state.config.tls_key) {
            (Some(cert), Some(key)) => {
                let tls = RustlsConfig::from_pem_file(cert, key)
                    .await
                    .context("cannot load the TLS certificate and key")?;
                // TCP_NODELAY: small WebSocket frames go out at once instead of
                // waiting for the peer's delayed ACK (Nagle): p99 22 ms → 2 ms.
                axum_server::from_tcp_rustls(listener, tls)?
                    .map(|tls| tls.acceptor(NoDelayAcceptor::new()))
                    .handle(handle)
                    .serve(service)
                    .await?
            }
            _ => {
                axum_server::from_tcp(listener)?
                    .acceptor(NoDelayAcceptor::new())
                    .handle(handle)
                    .serve(service)
                    .await?
            }
        }
        // The janitor's last round (saving last_seen) needs the database: wait for it.
        let _ = janitor.await;
        state.db.close().await;
        Ok(())
    }
}

/// Every minute: save who was last seen when; forget expired sessions and reset
/// tokens, idle rate-limit keys; free the usernames of accounts deleted long enough ago.
/// Once more at shutdown, so no `last_seen` is lost.
async fn janitor(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        let stopping = tokio::select! {
            _ = state.shutdown.cancelled() => true,
            _ = tick.tick() => false,
        };
        if let Err(err) = tidy(&state).await {
            tracing::warn!(error = %err, "janitor failed");
        }
        if stopping {
            return;
        }
    }
}

async fn tidy(state: &AppState) -> crate::error::Result<()> {
    let now = crate::store::now();
    state
        .db
        .set_last_seen(&state.presence.take_unsaved())
        .await?;
    state.rate_limits.shrink();
    state.db.delete_expired(now).await?;
    let hold = chrono::Duration::days(state.config.deleted_username_hold_days as i64);
    state.db.release_deleted_usernames(now - hold).await?;
    crate::files::collect_garbage(state).await?;
    Ok(())
}
