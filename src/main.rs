//! The `blockchat` command: parse the command line, load the config, run.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use blockchat::config::{Config, FlagOverrides};
use blockchat::{App, auth, telemetry};
use clap::{Parser, Subcommand};

/// Block Chat: a self-hosted, real-time chat server.
///
/// Settings come from defaults, then the --config TOML file, then BLOCKCHAT_* variables,
/// then these flags. See the README for every key.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML config file.
    #[arg(long, global = true, env = "BLOCKCHAT_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true)]
    bind: Option<SocketAddr>,
    /// Data directory [default: ./data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL, sqlite://... or postgres://... [default: SQLite in the data dir].
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Public base URL, for links in emails [default: from --bind].
    #[arg(long, global = true)]
    public_url: Option<String>,
    /// Log filter, e.g. `info` or `blockchat=debug` [default: info].
    #[arg(long, global = true)]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, then serve the API, the WebSockets and the web client.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create an administrator, or make an existing user one.
    CreateAdmin {
        #[arg(long)]
        username: String,
        /// Needed when the user does not exist yet.
        #[arg(long)]
        email: Option<String>,
        /// Read from standard input when not given (and the user is new).
        #[arg(long, env = "BLOCKCHAT_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let flags = FlagOverrides {
        bind: cli.bind,
        data_dir: cli.data_dir,
        database_url: cli.database_url,
        public_url: cli.public_url,
        log: cli.log,
    };
    let config = Config::load(cli.config.as_deref(), flags)?;
    telemetry::init_logging(&config);
    let _ = rustls::crypto::ring::default_provider().install_default();

    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let state = App::state(config).await?;
            state.db.migrate().await?;
            println!("migrations applied ({})", state.db.backend());
            Ok(())
        }
        Command::CreateAdmin {
            username,
            email,
            password,
        } => {
            let state = App::state(config).await?;
            state.db.migrate().await?;
            let password = match (password, &email) {
                (Some(p), _) => Some(p),
                (None, Some(_)) => {
                    eprintln!("password for the new administrator:");
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    Some(line.trim_end_matches(['\r', '\n']).to_string())
                }
                (None, None) => None,
            };
            let user = auth::create_admin(&state, &username, email.as_deref(), password)
                .await
                .map_err(|e| anyhow::anyhow!("{}", describe(e)))?;
            println!("{} ({}) is an administrator", user.username, user.id);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let state = app.state.clone();
    let scheme = if state.config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "Block Chat listening on {scheme}://{} ({} database)",
        app.local_addr(),
        state.db.backend()
    );
    tracing::info!(addr = %app.local_addr(), database = state.db.backend(), "listening");
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
    app.run().await.context("server failed")
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn describe(err: blockchat::error::Error) -> String {
    match err {
        blockchat::error::Error::Validation(list) => list
            .into_iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.loc.last().map(|l| l.to_string()).unwrap_or_default(),
                    e.msg
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}
