//! The realtime load generator (issue 6): registers users, opens WebSockets across
//! chats, sends at a set rate, and reports sockets held, deliveries/s, send→deliver
//! latency, server RSS per socket, errors, and messages lost or duplicated (must be 0).
//!
//! By default it starts its own release server (`blockchat serve` on a free port, a
//! temporary data directory, cheap argon2 and no auth rate limits: this measures
//! realtime, not logins) and stops it at the end. `BLOCKCHAT_*` variables in the
//! environment reach that server too, e.g. `BLOCKCHAT_SQLITE_SYNCHRONOUS=normal`.
//!
//! ```sh
//! # 1. idle: hold as many authenticated sockets as fit (20,000 open files per process,
//! #    client and server each; one user per socket, or up to 20 with --per-user),
//! #    report the server's RSS per socket
//! cargo bench --bench loadgen -- idle --connections 19000
//!
//! # 2. fanout: one group of 1,000 connected members, rising send rate (50, 100, 200,
//! #    300... sends/s, 5 s each, until p99 passes 200 ms), deliveries/s and latency
//! #    per step, and the highest step with p99 under 50 ms
//! cargo bench --bench loadgen -- fanout --members 1000
//!
//! # 3. chats: 5,000 users in 1,000 chats (half direct, half groups), 2,000 sends/s
//! cargo bench --bench loadgen -- chats --users 5000 --chats 1000 --rate 2000 --seconds 10
//! cargo bench --bench loadgen -- chats --users 5000 --chats 1000 --rate 2000 --seconds 10 --postgres
//! ```
//!
//! `--postgres` creates a fresh database on `--postgres-admin` (default
//! `postgres://postgres@127.0.0.1:5432`) and drops it afterwards; `--database-url`
//! passes a database URL through as it is. `--url http://host:port` measures a server
//! that is already running instead (with `--pid` to read its RSS; its auth rate limits
//! must allow the registrations). `--json` adds the report as one JSON line on stdout.
//! The exit status is 1 when a message was lost, duplicated or unexpected.
//!
//! Latency is from the moment the sending socket writes the frame (stamped in the
//! message) to the moment a receiving socket has read it; both ends are this process,
//! so one clock. The client shares the machine with the server: each step reports the
//! cores both used.

mod engine;

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use engine::{Options, Report, Scenario};

#[derive(Parser)]
#[command(about = "Block Chat's realtime load generator")]
struct Cli {
    #[command(subcommand)]
    scenario: Option<Command>,
    /// Measure a server already running at this URL (http://host:port).
    #[arg(long, global = true)]
    url: Option<String>,
    /// With --url: the server's process id, to read its RSS.
    #[arg(long, global = true)]
    pid: Option<u32>,
    /// Database URL for the server we start (sqlite://... or postgres://...).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Run the server we start on a fresh PostgreSQL database, dropped at the end.
    #[arg(long, global = true)]
    postgres: bool,
    /// Where --postgres creates its database.
    #[arg(
        long,
        global = true,
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres_admin: String,
    /// After sending stops, how long to wait for the last deliveries.
    #[arg(long, global = true, default_value_t = 10.0)]
    drain_secs: f64,
    /// Also print the report as one JSON line.
    #[arg(long, global = true)]
    json: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Authenticated sockets that only hold on: the server's RSS per socket.
    Idle {
        #[arg(long, default_value_t = 19_000)]
        connections: usize,
        /// Sockets per user (the server allows 20).
        #[arg(long, default_value_t = 1)]
        per_user: usize,
        /// Chats the users are in (half direct, half groups), so sockets follow some.
        #[arg(long, default_value_t = 0)]
        chats: usize,
    },
    /// One group, every member connected; rising send rates.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        members: usize,
        /// Sends per second, one step each.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "50,100,200,300,400,500,600,800,1000,1200,1600"
        )]
        rates: Vec<u32>,
        #[arg(long, default_value_t = 5.0)]
        step_seconds: f64,
        /// Stop raising the rate after a step whose p99 is above this.
        #[arg(long, default_value_t = 200.0)]
        stop_above_ms: f64,
    },
    /// Many users in many direct chats and groups, one socket each, a total send rate.
    Chats {
        #[arg(long, default_value_t = 5000)]
        users: usize,
        #[arg(long, default_value_t = 1000)]
        chats: usize,
        /// Sends per second, in total.
        #[arg(long, default_value_t = 2000)]
        rate: u32,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    let Some(command) = cli.scenario.take() else {
        // Plain `cargo bench` runs every bench: say how to run this one, run nothing.
        eprintln!(
            "loadgen: name a scenario, e.g. `cargo bench --bench loadgen -- chats --help` (idle, fanout, chats)"
        );
        return Ok(());
    };
    let scenario = match command {
        Command::Idle {
            connections,
            per_user,
            chats,
        } => Scenario::Idle {
            connections,
            per_user,
            chats,
        },
        Command::Fanout {
            members,
            rates,
            step_seconds,
            stop_above_ms,
        } => Scenario::Fanout {
            members,
            rates,
            step_secs: step_seconds,
            stop_above_ms,
        },
        Command::Chats {
            users,
            chats,
            rate,
            seconds,
        } => Scenario::Chats {
            users,
            chats,
            rate,
            seconds,
        },
    };

    // Other work on the machine skews every number: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok());
    let (report, backend) = match &cli.url {
        Some(url) => {
            let options = Options {
                server_pid: cli.pid,
                progress: true,
                drain: Duration::from_secs_f64(cli.drain_secs),
                ..Options::new(url.clone())
            };
            (engine::run(&options, &scenario).await, "external".into())
        }
        None => run_with_own_server(&cli, &scenario).await?,
    };
    let report = report.map_err(anyhow::Error::msg)?;
    print_report(&report, &backend);
    if let Some(load) = load {
        println!("machine       load average {load:.2} at the start (1-minute)");
    }
    if cli.json {
        let mut value = serde_json::to_value(&report)?;
        value["backend"] = backend.into();
        value["load_average_at_start"] = load.into();
        println!("{value}");
    }
    if report.lost + report.duplicated + report.unexpected > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Starts a server (on a fresh PostgreSQL database with `--postgres`), runs the
/// scenario against it, stops it, and drops the database.
async fn run_with_own_server(
    cli: &Cli,
    scenario: &Scenario,
) -> anyhow::Result<(Result<Report, String>, String)> {
    let fresh_db = if cli.postgres {
        Some(format!(
            "blockchat_loadgen_{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        ))
    } else {
        None
    };
    let database_url = match &fresh_db {
        Some(name) => {
            admin_sql(&cli.postgres_admin, &format!("CREATE DATABASE {name}")).await?;
            Some(format!("{}/{name}", cli.postgres_admin))
        }
        None => cli.database_url.clone(),
    };
    let backend = match &database_url {
        Some(url) if url.starts_with("postgres") => "postgres".to_string(),
        _ => match std::env::var("BLOCKCHAT_SQLITE_SYNCHRONOUS") {
            Ok(sync) => format!("sqlite (synchronous={sync})"),
            Err(_) => "sqlite".to_string(),
        },
    };
    let result = async {
        let server = Server::start(database_url.as_deref()).await?;
        eprintln!(
            "[loadgen] server {} (pid {}, {backend})",
            server.url, server.pid
        );
        let options = Options {
            server_pid: Some(server.pid),
            progress: true,
            drain: Duration::from_secs_f64(cli.drain_secs),
            ..Options::new(server.url.clone())
        };
        let report = engine::run(&options, scenario).await;
        server.stop().await;
        anyhow::Ok(report)
    }
    .await;
    if let Some(name) = fresh_db {
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(err) = admin_sql(&cli.postgres_admin, &drop).await {
            eprintln!("[loadgen] could not drop {name}: {err:#}");
        }
    }
    Ok((result?, backend))
}

async fn admin_sql(admin: &str, sql: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let url = format!("{admin}/postgres");
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .with_context(|| format!("PostgreSQL at {url}"))?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .with_context(|| sql.to_string())?;
    Ok(())
}

/// `blockchat serve` as a child process.
struct Server {
    child: tokio::process::Child,
    pid: u32,
    url: String,
    _data_dir: tempfile::TempDir,
}

impl Server {
    async fn start(database_url: Option<&str>) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        // A free port: bind port 0, note it, let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_blockchat"));
        command
            .arg("serve")
            .env("BLOCKCHAT_DATA_DIR", data_dir.path())
            .env("BLOCKCHAT_BIND", format!("127.0.0.1:{port}"))
            .env("BLOCKCHAT_LOG", "warn")
            .env(
                "BLOCKCHAT_JWT_SECRET",
                "loadgen-secret-that-is-long-enough-for-hs256",
            )
            // Cheap password hashing and no auth rate limits: thousands of users are
            // registered and logged in during setup, and this bench measures realtime.
            .env("BLOCKCHAT_PASSWORD_HASH_MEMORY_KIB", "64")
            .env("BLOCKCHAT_PASSWORD_HASH_ITERATIONS", "1")
            .env("BLOCKCHAT_AUTH_RATE_PER_IP_PER_MINUTE", "1000000")
            .env("BLOCKCHAT_AUTH_RATE_PER_ACCOUNT_PER_MINUTE", "1000000")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(url) = database_url {
            command.env("BLOCKCHAT_DATABASE_URL", url);
        }
        let mut child = command.spawn().context("cannot start blockchat")?;
        let pid = child.id().context("the server exited at once")?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(response) = http.get(format!("{url}/healthz")).send().await
                && response.status().is_success()
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!("the server exited: {status}");
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the server did not answer /healthz within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            child,
            pid,
            url,
            _data_dir: data_dir,
        })
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn print_report(r: &Report, backend: &str) {
    let rss = |kib: Option<u64>| match kib {
        Some(kib) => format!("{:.1} MiB", kib as f64 / 1024.0),
        None => "?".into(),
    };
    println!();
    println!("scenario      {} ({backend})", r.scenario);
    println!(
        "sockets       {} held of {} wanted; {} users, {} chats",
        r.connections_held, r.connections_wanted, r.users, r.chats
    );
    println!(
        "setup         register+login {:.1} s, chats {:.1} s, sockets {:.1} s, quiet after {:.1} s",
        r.register_secs, r.create_chats_secs, r.connect_secs, r.settle_secs
    );
    println!(
        "server RSS    {} before the sockets, {} after, {} per socket",
        rss(r.rss_before_kib),
        rss(r.rss_after_kib),
        r.rss_per_connection_kib
            .map(|k| format!("{k:.1} KiB"))
            .unwrap_or_else(|| "?".into())
    );
    if r.scenario != "idle" {
        println!("sends         {} sent, {} acked", r.sends, r.acks);
        println!(
            "deliveries    {} of {} expected, {:.0}/s",
            r.deliveries, r.expected_deliveries, r.deliveries_per_sec
        );
        println!("send→deliver  {}", percentiles(&r.latency_ms));
        println!("send→ack      {}", percentiles(&r.ack_ms));
        if let [step] = r.steps.as_slice() {
            println!(
                "cpu           server {} cores, client {} cores",
                cores(step.server_cores),
                cores(step.client_cores)
            );
            if let Some(w) = step.writer {
                println!(
                    "writer        {:.0} batches, {:.1} sends and {:.2} ms each on average",
                    w.batches, w.sends_per_batch, w.ms_per_batch
                );
            }
        }
    }
    println!(
        "problems      {} lost, {} duplicated, {} unexpected, {} errors ({} sockets failed to open, {} closed by the server)",
        r.lost, r.duplicated, r.unexpected, r.errors, r.connect_failures, r.closes
    );
    for sample in &r.error_samples {
        println!("              e.g. {sample}");
    }
    if r.scenario == "fanout" {
        println!();
        println!(
            "  sends/s  deliveries/s   p50 ms   p90 ms   p99 ms   max ms   ack p99 ms   server cores   client cores"
        );
        for s in &r.steps {
            println!(
                "  {:>7}  {:>12.0}  {:>7.2}  {:>7.2}  {:>7.2}  {:>7.2}  {:>11.2}  {:>13}  {:>13}",
                s.rate,
                s.deliveries_per_sec,
                s.latency_ms.p50,
                s.latency_ms.p90,
                s.latency_ms.p99,
                s.latency_ms.max,
                s.ack_ms.p99,
                cores(s.server_cores),
                cores(s.client_cores)
            );
        }
        match r
            .steps
            .iter()
            .filter(|s| s.latency_ms.count > 0 && s.latency_ms.p99 < 50.0)
            .max_by_key(|s| s.rate)
        {
            Some(best) => println!(
                "best step with p99 < 50 ms: {} sends/s, {:.0} deliveries/s",
                best.rate, best.deliveries_per_sec
            ),
            None => println!("no step had p99 < 50 ms"),
        }
    }
}

fn cores(cores: Option<f64>) -> String {
    cores.map_or_else(|| "?".into(), |c| format!("{c:.2}"))
}

fn percentiles(p: &engine::Percentiles) -> String {
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
        p.p50, p.p90, p.p99, p.max, p.count
    )
}
