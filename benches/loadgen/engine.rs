//! The load generator's engine: given the base URL of a running server, it registers
//! users and creates chats over the real HTTP API, opens one WebSocket per planned
//! connection at `/ws`, sends at a set rate over those same sockets, and counts what
//! arrives: latency from send to delivery, acks, errors, and every message lost or
//! delivered twice. `benches/loadgen/main.rs` drives it at full size;
//! `tests/api/loadgen.rs` runs it small as a correctness check.
//!
//! Each connection is one light task: it reads frames and finds the few fields it
//! needs by position rather than parsing the whole JSON, since the client shares the
//! machine's cores with the server. Sends are scheduled by one task (open loop: at the
//! set rate whatever the answers) and written by the chosen connection's own task,
//! which stamps the send instant into the message (`lg <nanos> <step> <chat>`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt, stream};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one connection may take to upgrade and send `ready`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Sockets being opened at once.
const CONNECT_CONCURRENCY: usize = 64;
/// Once this many sockets failed to open, stop trying: a limit was reached.
const CONNECT_GIVE_UP: usize = 200;
/// Error texts kept for the report.
const ERROR_SAMPLES: usize = 8;
const PASSWORD: &str = "loadgen password";

/// Where the server is and how to run.
pub struct Options {
    /// `http://host:port` of a running server.
    pub base_url: String,
    /// The server's process id, to read its RSS; `None` leaves the RSS fields empty.
    pub server_pid: Option<u32>,
    /// Print each phase to stderr.
    pub progress: bool,
    /// After sending stops, how long to wait for the last deliveries.
    pub drain: Duration,
    /// Registrations and chat creations in flight at once.
    pub setup_concurrency: usize,
}

impl Options {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            server_pid: None,
            progress: false,
            drain: Duration::from_secs(10),
            setup_concurrency: 64,
        }
    }
}

pub enum Scenario {
    /// `connections` sockets that only hold on, `per_user` of them per user; the users
    /// are in `chats` chats (half direct, half groups) so each socket follows some.
    Idle {
        connections: usize,
        per_user: usize,
        chats: usize,
    },
    /// One group of `members`, each connected once; each rate (sends/s) for
    /// `step_secs`, rising until a step's p99 exceeds `stop_above_ms` or a socket closes.
    Fanout {
        members: usize,
        rates: Vec<u32>,
        step_secs: f64,
        stop_above_ms: f64,
    },
    /// `users` (one socket each) in `chats` chats, half direct and half groups; `rate`
    /// sends/s in total for `seconds`, each to a random chat by a random member of it.
    Chats {
        users: usize,
        chats: usize,
        rate: u32,
        seconds: f64,
    },
}

impl Scenario {
    fn name(&self) -> &'static str {
        match self {
            Scenario::Idle { .. } => "idle",
            Scenario::Fanout { .. } => "fanout",
            Scenario::Chats { .. } => "chats",
        }
    }
}

/// Latency percentiles in milliseconds (3 % precision; `max` exact).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// One rate step (the chats scenario has one).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub rate: u32,
    /// From the first send to the last delivery (or the end of the drain time).
    pub secs: f64,
    pub sends: u64,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    /// Send to delivery at the other members' sockets.
    pub latency_ms: Percentiles,
    /// Send to ack at the sender's socket (the message is committed).
    pub ack_ms: Percentiles,
    /// Cores the server kept busy during the step, on average (with its pid).
    pub server_cores: Option<f64>,
    /// Cores this process kept busy: is the client the bottleneck?
    pub client_cores: Option<f64>,
    /// The server's message writer during the step (from its `/metrics`).
    pub writer: Option<WriterStats>,
}

/// Group commits during a step: how many, how full, how long each took.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WriterStats {
    pub batches: f64,
    pub sends_per_batch: f64,
    pub ms_per_batch: f64,
}

/// The writer's counters as `/metrics` shows them: (batches, sends, seconds).
async fn writer_totals(options: &Options) -> Option<(f64, f64, f64)> {
    let text = reqwest::get(format!("{}/metrics", options.base_url))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    // Absent until the first batch.
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Some((
        value("message_batch_sends_count"),
        value("message_batch_sends_sum"),
        value("message_batch_duration_seconds_sum"),
    ))
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub users: usize,
    pub chats: usize,
    pub connections_wanted: usize,
    /// Sockets open at the end of the run (or, for idle, when the RSS was read).
    pub connections_held: usize,
    pub register_secs: f64,
    pub create_chats_secs: f64,
    pub connect_secs: f64,
    /// After the sockets opened, until the server fell quiet (presence announcements of
    /// every new connection): sending starts only then, so what is measured is sends.
    pub settle_secs: f64,
    pub sends: u64,
    pub acks: u64,
    /// What each acked message should have reached: the sockets in its chat but the sender's.
    pub expected_deliveries: u64,
    /// Distinct (socket, message) deliveries of our messages.
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub latency_ms: Percentiles,
    pub ack_ms: Percentiles,
    pub lost: u64,
    pub duplicated: u64,
    /// Deliveries of messages that were never acked, or to a socket not in the chat.
    pub unexpected: u64,
    /// Error frames, failed sends, sends never answered, sockets that failed to open or
    /// closed, socket errors.
    pub errors: u64,
    pub connect_failures: u64,
    /// Sockets the server closed (`error_samples` has their codes).
    pub closes: u64,
    pub error_samples: Vec<String>,
    /// The server's RSS before the sockets opened, and once they are all open (idle)
    /// or after the sending (the others).
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    pub rss_per_connection_kib: Option<f64>,
    pub steps: Vec<Step>,
}

/// Runs a scenario against the server at `options.base_url`.
pub async fn run(options: &Options, scenario: &Scenario) -> Result<Report, String> {
    let plan = Plan::of(scenario)?;
    let mut report = Report::new(scenario, &plan);
    let (users, chat_ids) = setup(options, &plan, &mut report).await?;

    report.rss_before_kib = options.server_pid.and_then(rss_kib);
    let steps = match scenario {
        Scenario::Fanout { rates, .. } => rates.len().max(1),
        _ => 1,
    };
    let shared = Arc::new(Shared::new(chat_ids, steps));
    let started = Instant::now();
    let stop_early = matches!(scenario, Scenario::Idle { .. });
    let conns = open_all(options, &plan, &users, &shared, stop_early).await;
    report.connect_secs = started.elapsed().as_secs_f64();
    options.say(format!(
        "opened {} of {} sockets in {:.1} s ({:.0}/s)",
        conns.len(),
        plan.conns.len(),
        report.connect_secs,
        conns.len() as f64 / report.connect_secs.max(1e-9)
    ));

    let settling = Instant::now();
    settle(&shared).await;
    report.settle_secs = settling.elapsed().as_secs_f64();
    options.say(format!(
        "the server was quiet {:.1} s after the last socket opened",
        report.settle_secs
    ));

    // Who can send where, and how many sockets each message should reach.
    let mut chat_conns: Vec<Vec<u32>> = vec![Vec::new(); plan.chats.len()];
    for conn in &conns {
        for &chat in &plan.user_chats[conn.user] {
            chat_conns[chat as usize].push(conn.id);
        }
    }
    let receivers: Vec<u64> = chat_conns
        .iter()
        .map(|c| c.len().saturating_sub(1) as u64)
        .collect();
    let driver = Driver {
        shared: &shared,
        conns: &conns,
        chat_conns: &chat_conns,
        receivers: &receivers,
        options,
    };
    driver.run(scenario, &mut report).await;
    report.connections_held = shared.alive.load(Ordering::Relaxed);
    report.rss_after_kib = options.server_pid.and_then(rss_kib);
    if let (Some(before), Some(after)) = (report.rss_before_kib, report.rss_after_kib)
        && report.connections_held > 0
    {
        report.rss_per_connection_kib =
            Some(after.saturating_sub(before) as f64 / report.connections_held as f64);
    }
    gather(conns, &shared, &receivers, &mut report).await;
    Ok(report)
}

/// Waits until no socket has received a frame for a second (at most two minutes).
async fn settle(shared: &Shared) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = shared.frames.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = shared.frames.load(Ordering::Relaxed);
        if now != last {
            (last, quiet_since) = (now, Instant::now());
        } else if quiet_since.elapsed() >= Duration::from_secs(1) {
            return;
        }
    }
}

/// Registers the users and creates the chats over HTTP; returns the users and the
/// chat ids in plan order.
async fn setup(
    options: &Options,
    plan: &Plan,
    report: &mut Report,
) -> Result<(Vec<User>, Vec<String>), String> {
    // The HTTP client goes at the end: its pooled connections would hold file
    // descriptors the sockets need.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let setup = Setup {
        http: &http,
        options,
    };
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    // The random tail of a v7 uuid: usernames differ from run to run on one server.
    let run_id = &run_id[run_id.len() - 8..];

    let started = Instant::now();
    let users = setup.register(run_id, plan.users).await?;
    report.register_secs = started.elapsed().as_secs_f64();
    options.say(format!(
        "registered and logged in {} users in {:.1} s ({:.0}/s)",
        users.len(),
        report.register_secs,
        users.len() as f64 / report.register_secs.max(1e-9)
    ));

    let started = Instant::now();
    let chat_ids = setup.create_chats(plan, &users).await?;
    report.create_chats_secs = started.elapsed().as_secs_f64();
    options.say(format!(
        "created {} chats in {:.1} s",
        chat_ids.len(),
        report.create_chats_secs
    ));
    Ok((users, chat_ids))
}

/// Stops the sockets, gathers what each saw, and fills in the counts.
async fn gather(conns: Vec<Conn>, shared: &Shared, receivers: &[u64], report: &mut Report) {
    let mut handles = Vec::with_capacity(conns.len());
    for conn in conns {
        drop(conn.commands);
        handles.push(conn.task);
    }
    let mut seen: Vec<Vec<Vec<u64>>> = vec![Vec::new(); receivers.len()];
    let mut acked: Vec<(u32, u32)> = Vec::new();
    for handle in handles {
        let Ok(result) = handle.await else {
            shared.error("a socket task panicked".into());
            continue;
        };
        report.duplicated += result.duplicated;
        report.unexpected += result.unexpected;
        acked.extend(result.acks);
        for (chat, bits) in result.chats.into_iter().zip(result.seen) {
            seen[chat as usize].push(bits);
        }
    }
    report.sends = shared.sends.load(Ordering::Relaxed);
    report.acks = acked.len() as u64;
    let unanswered = shared.pending.load(Ordering::Relaxed).max(0) as u64;
    if unanswered > 0 {
        shared.error(format!("{unanswered} sends never answered"));
        shared.errors.fetch_add(unanswered - 1, Ordering::Relaxed);
    }
    count_losses(report, &seen, &acked, receivers);

    (report.latency_ms, report.ack_ms) = shared.merged_steps();
    let deliveries: u64 = report.steps.iter().map(|s| s.deliveries).sum();
    let secs: f64 = report.steps.iter().map(|s| s.secs).sum();
    if secs > 0.0 {
        report.deliveries_per_sec = deliveries as f64 / secs;
    }
    report.errors = shared.errors.load(Ordering::Relaxed);
    report.connect_failures = shared.connect_failures.load(Ordering::Relaxed);
    report.closes = shared.closes.load(Ordering::Relaxed);
    report.error_samples = shared
        .samples
        .lock()
        .map(|samples| {
            samples
                .iter()
                .map(|(what, n)| match n {
                    1 => what.clone(),
                    n => format!("{n} × {what}"),
                })
                .collect()
        })
        .unwrap_or_default();
}

impl Report {
    fn new(scenario: &Scenario, plan: &Plan) -> Self {
        Self {
            scenario: scenario.name(),
            users: plan.users,
            chats: plan.chats.len(),
            connections_wanted: plan.conns.len(),
            connections_held: 0,
            register_secs: 0.0,
            create_chats_secs: 0.0,
            connect_secs: 0.0,
            settle_secs: 0.0,
            sends: 0,
            acks: 0,
            expected_deliveries: 0,
            deliveries: 0,
            deliveries_per_sec: 0.0,
            latency_ms: Percentiles::default(),
            ack_ms: Percentiles::default(),
            lost: 0,
            duplicated: 0,
            unexpected: 0,
            errors: 0,
            connect_failures: 0,
            closes: 0,
            error_samples: Vec::new(),
            rss_before_kib: None,
            rss_after_kib: None,
            rss_per_connection_kib: None,
            steps: Vec::new(),
        }
    }
}

/// Lost: what each acked message should have reached but did not; unexpected: what
/// arrived though no ack announced it (a send answered by an error, yet committed).
fn count_losses(
    report: &mut Report,
    seen: &[Vec<Vec<u64>>],
    acked: &[(u32, u32)],
    receivers: &[u64],
) {
    let mut counts: Vec<Vec<u32>> = seen
        .iter()
        .map(|sockets| {
            let words = sockets.iter().map(Vec::len).max().unwrap_or(0);
            let mut counts = vec![0u32; words * 64];
            for bits in sockets {
                for (w, &word) in bits.iter().enumerate() {
                    let mut word = word;
                    while word != 0 {
                        let bit = word.trailing_zeros() as usize;
                        counts[w * 64 + bit] += 1;
                        word &= word - 1;
                    }
                }
            }
            counts
        })
        .collect();
    let delivered: u64 = counts.iter().flatten().map(|&c| c as u64).sum();
    let mut expected_total = 0;
    let mut reached = 0;
    for &(chat, seq) in acked {
        let expected = receivers[chat as usize];
        let got = counts[chat as usize]
            .get_mut(seq as usize)
            .map(std::mem::take)
            .unwrap_or(0) as u64;
        expected_total += expected;
        reached += got.min(expected);
        report.lost += expected.saturating_sub(got);
    }
    report.expected_deliveries = expected_total;
    report.deliveries = delivered;
    report.unexpected += delivered - reached;
}

/// Who exists, which chats they are in, and which sockets to open.
struct Plan {
    users: usize,
    /// Members of each chat by user index; the first creates it.
    chats: Vec<PlannedChat>,
    user_chats: Vec<Vec<u32>>,
    /// The user of each socket.
    conns: Vec<usize>,
}

struct PlannedChat {
    direct: bool,
    members: Vec<usize>,
}

impl Plan {
    fn of(scenario: &Scenario) -> Result<Self, String> {
        match *scenario {
            Scenario::Idle {
                connections,
                per_user,
                chats,
            } => {
                let per_user = per_user.clamp(1, 20);
                let users = connections.div_ceil(per_user);
                let conns = (0..connections).map(|c| c / per_user).collect();
                Self::with_chats(users, chats, conns)
            }
            Scenario::Fanout { members, .. } => {
                if members < 2 {
                    return Err("fanout needs at least 2 members".into());
                }
                let chat = PlannedChat {
                    direct: false,
                    members: (0..members).collect(),
                };
                Ok(Self::new(members, vec![chat], (0..members).collect()))
            }
            Scenario::Chats { users, chats, .. } => {
                if chats == 0 {
                    return Err("chats needs at least one chat".into());
                }
                Self::with_chats(users, chats, (0..users).collect())
            }
        }
    }

    /// Half the chats direct (distinct pairs, drawn at random), half groups (every
    /// user in one, round robin), so each user is in a group and some in a direct chat.
    fn with_chats(users: usize, chats: usize, conns: Vec<usize>) -> Result<Self, String> {
        let directs = chats / 2;
        let groups = chats - directs;
        if 2 * directs > users || groups > users {
            return Err(format!(
                "{chats} chats need at least {} users",
                (2 * directs).max(groups)
            ));
        }
        let mut planned = Vec::with_capacity(chats);
        for g in 0..groups {
            planned.push(PlannedChat {
                direct: false,
                members: (g..users).step_by(groups).collect(),
            });
        }
        let mut order: Vec<usize> = (0..users).collect();
        let mut rng = Rng(0x5eed);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for pair in order.chunks_exact(2).take(directs) {
            planned.push(PlannedChat {
                direct: true,
                members: pair.to_vec(),
            });
        }
        Ok(Self::new(users, planned, conns))
    }

    fn new(users: usize, chats: Vec<PlannedChat>, conns: Vec<usize>) -> Self {
        let mut user_chats = vec![Vec::new(); users];
        for (c, chat) in chats.iter().enumerate() {
            for &u in &chat.members {
                user_chats[u].push(c as u32);
            }
        }
        Self {
            users,
            chats,
            user_chats,
            conns,
        }
    }
}

/// SplitMix64: a fixed, reproducible choice of pairs and senders without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct User {
    id: String,
    token: String,
}

struct Setup<'a> {
    http: &'a reqwest::Client,
    options: &'a Options,
}

impl Setup<'_> {
    /// Registers and logs in `count` users, `setup_concurrency` at a time.
    async fn register(&self, run_id: &str, count: usize) -> Result<Vec<User>, String> {
        let done = AtomicUsize::new(0);
        let results: Vec<Result<(usize, User), String>> = stream::iter(0..count)
            .map(|i| {
                let done = &done;
                async move {
                    let username = format!("lg{run_id}_{i}");
                    let profile = self
                        .post(
                            "/auth/register",
                            None,
                            json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}),
                        )
                        .await?;
                    let tokens = self
                        .post(
                            "/auth/login",
                            None,
                            json!({"username": username, "password": PASSWORD}),
                        )
                        .await?;
                    let user = User {
                        id: field(&profile, "id")?,
                        token: field(&tokens, "access_token")?,
                    };
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_multiple_of(2000) {
                        self.options.say(format!("  {n} users"));
                    }
                    Ok((i, user))
                }
            })
            .buffer_unordered(self.options.setup_concurrency.max(1))
            .collect()
            .await;
        let mut users: Vec<Option<User>> = (0..count).map(|_| None).collect();
        for result in results {
            let (i, user) = result?;
            users[i] = Some(user);
        }
        Ok(users.into_iter().flatten().collect())
    }

    /// Creates the planned chats; returns their ids in plan order.
    async fn create_chats(&self, plan: &Plan, users: &[User]) -> Result<Vec<String>, String> {
        let results: Vec<Result<(usize, String), String>> =
            stream::iter(plan.chats.iter().enumerate())
                .map(|(c, chat)| async move {
                    let creator = &users[chat.members[0]];
                    let body = if chat.direct {
                        json!({"type": "direct", "user_id": users[chat.members[1]].id})
                    } else {
                        let ids: Vec<&str> = chat.members[1..]
                            .iter()
                            .map(|&u| users[u].id.as_str())
                            .collect();
                        json!({"type": "group", "name": format!("load {c}"), "member_ids": ids})
                    };
                    let created = self.post("/chats", Some(&creator.token), body).await?;
                    Ok((c, field(&created, "id")?))
                })
                .buffer_unordered(self.options.setup_concurrency.clamp(1, 16))
                .collect()
                .await;
        let mut ids = vec![String::new(); plan.chats.len()];
        for result in results {
            let (c, id) = result?;
            ids[c] = id;
        }
        Ok(ids)
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Result<Value, String> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.options.base_url))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("POST {path}: {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("POST {path}: {e}: {text}"))
    }
}

fn field(value: &Value, name: &str) -> Result<String, String> {
    value[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no {name} in {value}"))
}

/// CPU time (user + system) of a process so far, from `/proc/<pid>/stat`, in
/// seconds (Linux counts it in ticks of 1/100 s).
fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which is in parentheses: utime and stime are the
    // 14th and 15th of the line.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The server's resident memory, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Options {
    fn say(&self, line: String) {
        if self.progress {
            eprintln!("[loadgen] {line}");
        }
    }
}

/// What every socket task shares: counters the driver watches while it runs.
struct Shared {
    epoch: Instant,
    chat_ids: Vec<String>,
    /// Acked messages per chat, to know how many deliveries are still due.
    acks_per_chat: Vec<AtomicU64>,
    sends: AtomicU64,
    /// Sends not yet answered by an ack or an error.
    pending: AtomicI64,
    /// Distinct deliveries of our messages.
    delivered: AtomicU64,
    /// Every frame any socket received, ours or not.
    frames: AtomicU64,
    alive: AtomicUsize,
    errors: AtomicU64,
    connect_failures: AtomicU64,
    closes: AtomicU64,
    /// The first few distinct errors, each with how often it came.
    samples: Mutex<Vec<(String, u64)>>,
    /// Per step: send→deliver and send→ack latencies.
    steps: Vec<(Histogram, Histogram)>,
}

impl Shared {
    fn new(chat_ids: Vec<String>, steps: usize) -> Self {
        Self {
            epoch: Instant::now(),
            acks_per_chat: chat_ids.iter().map(|_| AtomicU64::new(0)).collect(),
            chat_ids,
            sends: AtomicU64::new(0),
            pending: AtomicI64::new(0),
            delivered: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            alive: AtomicUsize::new(0),
            errors: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            closes: AtomicU64::new(0),
            samples: Mutex::new(Vec::new()),
            steps: (0..steps)
                .map(|_| (Histogram::new(), Histogram::new()))
                .collect(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let Ok(mut samples) = self.samples.lock() else {
            return;
        };
        if let Some((_, n)) = samples.iter_mut().find(|(seen, _)| *seen == what) {
            *n += 1;
        } else if samples.len() < ERROR_SAMPLES {
            samples.push((what, 1));
        }
    }

    /// Deliveries still due for what has been acked so far.
    fn expected(&self, receivers: &[u64]) -> u64 {
        self.acks_per_chat
            .iter()
            .zip(receivers)
            .map(|(acks, r)| acks.load(Ordering::Relaxed) * r)
            .sum()
    }

    fn merged_steps(&self) -> (Percentiles, Percentiles) {
        let deliver = Histogram::new();
        let ack = Histogram::new();
        for (d, a) in &self.steps {
            deliver.add(d);
            ack.add(a);
        }
        (deliver.percentiles(), ack.percentiles())
    }
}

/// A latency histogram in microseconds: 32 buckets per power of two (about 3 %),
/// shared by all socket tasks. Millions of deliveries fit in 15 KiB, where a sorted
/// vector of every sample would not.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    max_us: AtomicU64,
}

const SUB: usize = 32;

impl Histogram {
    fn new() -> Self {
        Self {
            buckets: (0..SUB * 60).map(|_| AtomicU64::new(0)).collect(),
            max_us: AtomicU64::new(0),
        }
    }

    pub fn index(us: u64) -> usize {
        if us < SUB as u64 {
            return us as usize;
        }
        let exp = 63 - us.leading_zeros() as usize; // 5 or more
        let mantissa = (us >> (exp - 5)) as usize; // 32..64
        ((exp - 4) * SUB + mantissa - SUB).min(SUB * 60 - 1)
    }

    /// The middle of a bucket, in microseconds.
    pub fn value(index: usize) -> f64 {
        if index < SUB {
            return index as f64;
        }
        let exp = index / SUB + 4;
        let low = ((index % SUB + SUB) as u64) << (exp - 5);
        low as f64 + (1u64 << (exp - 5)) as f64 / 2.0
    }

    fn record(&self, nanos: u64) {
        let us = nanos / 1000;
        self.buckets[Self::index(us)].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    fn add(&self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter().zip(&other.buckets) {
            mine.fetch_add(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        self.max_us
            .fetch_max(other.max_us.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    fn percentiles(&self) -> Percentiles {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let at = |q: f64| {
            let rank = ((total as f64 * q).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, &c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Self::value(i) / 1000.0;
                }
            }
            0.0
        };
        if total == 0 {
            return Percentiles::default();
        }
        let max = self.max_us.load(Ordering::Relaxed) as f64 / 1000.0;
        Percentiles {
            count: total,
            p50: at(0.50).min(max),
            p90: at(0.90).min(max),
            p99: at(0.99).min(max),
            max,
        }
    }
}

/// An open socket: its task, and the channel that tells it to send.
struct Conn {
    id: u32,
    user: usize,
    commands: mpsc::UnboundedSender<Send>,
    task: JoinHandle<SocketResult>,
}

/// Send one message to a chat, counted in a step.
struct Send {
    chat: u32,
    step: u16,
}

/// What one socket saw, handed back when it stops.
struct SocketResult {
    chats: Vec<u32>,
    /// Per chat of `chats`, the seqs of our messages delivered, as bits.
    seen: Vec<Vec<u64>>,
    acks: Vec<(u32, u32)>,
    duplicated: u64,
    unexpected: u64,
}

/// Opens every planned socket, `CONNECT_CONCURRENCY` at a time, and starts its task
/// as soon as `ready` arrives (so it reads presence events while others connect).
/// With `stop_early`, gives up after `CONNECT_GIVE_UP` failures: a limit was hit.
async fn open_all(
    options: &Options,
    plan: &Plan,
    users: &[User],
    shared: &Arc<Shared>,
    stop_early: bool,
) -> Vec<Conn> {
    let ws_base = options.base_url.replacen("http", "ws", 1);
    let mut opening = stream::iter(plan.conns.iter().enumerate())
        .map(|(id, &user)| {
            let url = format!("{ws_base}/ws?token={}", users[user].token);
            async move { (id, user, connect(url).await) }
        })
        .buffer_unordered(CONNECT_CONCURRENCY);
    let mut conns = Vec::with_capacity(plan.conns.len());
    let mut failures = 0;
    while let Some((id, user, result)) = opening.next().await {
        match result {
            Ok(ws) => {
                let (commands, queue) = mpsc::unbounded_channel();
                let socket = Socket::new(id as u32, plan.user_chats[user].clone(), shared.clone());
                shared.alive.fetch_add(1, Ordering::Relaxed);
                let task = tokio::spawn(socket.run(ws, queue));
                conns.push(Conn {
                    id: id as u32,
                    user,
                    commands,
                    task,
                });
                if conns.len().is_multiple_of(2000) {
                    options.say(format!("  {} sockets", conns.len()));
                }
            }
            Err(err) => {
                failures += 1;
                shared.connect_failures.fetch_add(1, Ordering::Relaxed);
                shared.error(err);
                if stop_early && failures >= CONNECT_GIVE_UP {
                    options.say(format!("giving up after {failures} sockets failed to open"));
                    break;
                }
            }
        }
    }
    conns.sort_by_key(|c| c.id);
    conns
}

async fn connect(url: String) -> Result<Ws, String> {
    // Small buffers: the client holds as many sockets as the server.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let attempt = async {
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true)
                .await
                .map_err(|e| format!("connect: {e}"))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.starts_with(r#"{"type":"ready""#) => {
                    return Ok(ws);
                }
                Some(Ok(Message::Text(text))) => {
                    return Err(format!("first frame not ready: {}", clip(&text)));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("closed before ready: {frame:?}"));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(format!("before ready: {e}")),
                None => return Err("closed before ready".into()),
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err("no ready within the connect timeout".into()))
}

fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

/// One socket's task and its bookkeeping.
struct Socket {
    id: u32,
    chats: Vec<u32>,
    seen: Vec<Vec<u64>>,
    acks: Vec<(u32, u32)>,
    duplicated: u64,
    unexpected: u64,
    sent: u64,
    shared: Arc<Shared>,
}

impl Socket {
    fn new(id: u32, chats: Vec<u32>, shared: Arc<Shared>) -> Self {
        Self {
            id,
            seen: vec![Vec::new(); chats.len()],
            chats,
            acks: Vec::new(),
            duplicated: 0,
            unexpected: 0,
            sent: 0,
            shared,
        }
    }

    /// Reads frames and sends what it is told to, until the driver drops its channel
    /// or the server closes the socket.
    async fn run(mut self, mut ws: Ws, mut queue: mpsc::UnboundedReceiver<Send>) -> SocketResult {
        let ended = loop {
            tokio::select! {
                biased;
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => self.on_text(&text),
                    Some(Ok(Message::Close(frame))) => {
                        self.shared.closes.fetch_add(1, Ordering::Relaxed);
                        let (code, reason) = frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or_default();
                        break Some(format!("closed by the server: {code} {reason}"));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Some(format!("socket error: {e}")),
                    None => break Some("socket ended without a close frame".into()),
                },
                command = queue.recv() => match command {
                    Some(command) => {
                        if let Err(e) = self.send(&mut ws, command).await {
                            break Some(format!("send failed: {e}"));
                        }
                    }
                    None => break None,
                },
            }
        };
        self.shared.alive.fetch_sub(1, Ordering::Relaxed);
        if let Some(what) = ended {
            self.shared.error(what);
        }
        SocketResult {
            chats: self.chats,
            seen: self.seen,
            acks: self.acks,
            duplicated: self.duplicated,
            unexpected: self.unexpected,
        }
    }

    async fn send(&mut self, ws: &mut Ws, command: Send) -> Result<(), String> {
        let chat_id = &self.shared.chat_ids[command.chat as usize];
        self.sent += 1;
        let t = self.shared.now();
        let frame = format!(
            r#"{{"type":"message.send","chat_id":"{chat_id}","content":"lg {t} {} {}","client_id":"{}.{}"}}"#,
            command.step, command.chat, self.id, self.sent
        );
        self.shared.sends.fetch_add(1, Ordering::Relaxed);
        match ws.send(Message::text(frame)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.shared.pending.fetch_sub(1, Ordering::Relaxed);
                Err(e.to_string())
            }
        }
    }

    fn on_text(&mut self, text: &str) {
        let now = self.shared.now();
        self.shared.frames.fetch_add(1, Ordering::Relaxed);
        match event_type(text) {
            Some("message.created") => self.on_message(text, now),
            Some("ack") => self.on_ack(text, now),
            Some("error") => {
                if text.contains(r#""client_id":""#) {
                    self.shared.pending.fetch_sub(1, Ordering::Relaxed);
                }
                self.shared
                    .error(match string_after(text, r#""detail":""#) {
                        Some((detail, _)) => format!("error frame: {detail}"),
                        None => format!("error frame: {}", clip(text)),
                    });
            }
            _ => {} // ready, presence, typing...: not measured
        }
    }

    fn on_message(&mut self, text: &str, now: u64) {
        let Some(ours) = Ours::parse(text, &self.shared.chat_ids) else {
            return;
        };
        let Some(slot) = self.chats.iter().position(|&c| c == ours.chat) else {
            self.unexpected += 1;
            return;
        };
        let bits = &mut self.seen[slot];
        let (word, bit) = (ours.seq as usize / 64, ours.seq % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & (1 << bit) != 0 {
            self.duplicated += 1;
            return;
        }
        bits[word] |= 1 << bit;
        self.shared.delivered.fetch_add(1, Ordering::Relaxed);
        if let Some((deliver, _)) = self.shared.steps.get(ours.step) {
            deliver.record(now.saturating_sub(ours.sent_at));
        }
    }

    fn on_ack(&mut self, text: &str, now: u64) {
        self.shared.pending.fetch_sub(1, Ordering::Relaxed);
        let Some(ours) = Ours::parse(text, &self.shared.chat_ids) else {
            self.shared.error(format!("unreadable ack: {}", clip(text)));
            return;
        };
        self.acks.push((ours.chat, ours.seq as u32));
        self.shared.acks_per_chat[ours.chat as usize].fetch_add(1, Ordering::Relaxed);
        if let Some((_, ack)) = self.shared.steps.get(ours.step) {
            ack.record(now.saturating_sub(ours.sent_at));
        }
    }
}

/// A message this run sent, as found in a `message.created` or `ack` frame.
pub struct Ours {
    pub chat: u32,
    pub seq: u64,
    pub step: usize,
    pub sent_at: u64,
}

impl Ours {
    /// Reads the few fields needed without parsing the frame: the message's fields
    /// come in the order of the server's `MessageView` (`id`, `chat_id`, `seq`, ...,
    /// `content`, ...), each looked for after the one before, and our content needs
    /// no escaping. Should that order change, every message shows as lost, and the
    /// tests say so. `None` for a message this run did not send; a message whose chat
    /// id disagrees with the chat its content names is ignored too, so shows as lost.
    pub fn parse(text: &str, chat_ids: &[String]) -> Option<Self> {
        let (chat_id, rest) = string_after(text, r#""chat_id":""#)?;
        let (seq, rest) = number_after(rest, r#""seq":"#)?;
        let (content, _) = string_after(rest, r#""content":""#)?;
        let content = content.strip_prefix("lg ")?;
        let mut parts = content.split(' ');
        let sent_at = parts.next()?.parse().ok()?;
        let step = parts.next()?.parse().ok()?;
        let chat: u32 = parts.next()?.parse().ok()?;
        if chat_ids.get(chat as usize)? != chat_id {
            return None;
        }
        Some(Self {
            chat,
            seq,
            step,
            sent_at,
        })
    }
}

/// The `type` of a server frame: its first key.
pub fn event_type(text: &str) -> Option<&str> {
    string_after(text, r#""type":""#).map(|(value, _)| value)
}

/// The string value after `key`, and the text after it (to look for the next field
/// from there).
fn string_after<'a>(text: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest.find('"')?;
    Some((&rest[..end], &rest[end..]))
}

fn number_after<'a>(text: &'a str, key: &str) -> Option<(u64, &'a str)> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    Some((rest[..end].parse().ok()?, &rest[end..]))
}

/// Runs the sends of one step and waits for them to land.
struct Driver<'a> {
    shared: &'a Shared,
    conns: &'a [Conn],
    /// Per chat, the sockets in it (by socket id).
    chat_conns: &'a [Vec<u32>],
    receivers: &'a [u64],
    options: &'a Options,
}

impl Driver<'_> {
    /// What the scenario does once the sockets are open.
    async fn run(&self, scenario: &Scenario, report: &mut Report) {
        match scenario {
            // Presence announcements have settled (see `settle`): the RSS is read now.
            Scenario::Idle { .. } => {}
            Scenario::Fanout {
                rates,
                step_secs,
                stop_above_ms,
                ..
            } => {
                for (step, &rate) in rates.iter().enumerate() {
                    let closes = self.shared.closes.load(Ordering::Relaxed);
                    let result = self.step(step, rate, *step_secs).await;
                    self.options.say(format!(
                        "step {rate}/s: {} sends, {:.0} deliveries/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                        result.sends,
                        result.deliveries_per_sec,
                        result.latency_ms.p50,
                        result.latency_ms.p99,
                        result.latency_ms.max
                    ));
                    let over = result.latency_ms.p99 > *stop_above_ms;
                    report.steps.push(result);
                    if over || self.shared.closes.load(Ordering::Relaxed) > closes {
                        break;
                    }
                }
            }
            Scenario::Chats { rate, seconds, .. } => {
                let result = self.step(0, *rate, *seconds).await;
                report.steps.push(result);
            }
        }
    }

    /// Sends `rate × secs` messages at `rate`/s, each to a random chat (with a socket)
    /// from a random socket in it; then waits until every send is answered and every
    /// due delivery arrived (or the drain time passes).
    async fn step(&self, step: usize, rate: u32, secs: f64) -> Step {
        let total = (rate as f64 * secs).round() as u64;
        let sendable: Vec<u32> = (0..self.chat_conns.len() as u32)
            .filter(|&c| !self.chat_conns[c as usize].is_empty())
            .collect();
        let by_id: HashMap<u32, usize> = self
            .conns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        let delivered_before = self.shared.delivered.load(Ordering::Relaxed);
        let sends_before = self.shared.sends.load(Ordering::Relaxed);
        let mut rng = Rng(0xfa11 + step as u64);
        let server_cpu = self.options.server_pid.and_then(|pid| cpu_secs(Some(pid)));
        let client_cpu = cpu_secs(None);
        let writer_before = writer_totals(self.options).await;
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut scheduled = 0;
        while scheduled < total && !sendable.is_empty() {
            tick.tick().await;
            // Catch up to where the clock says we should be: the rate holds whatever
            // the timer's granularity.
            let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
            while scheduled < due {
                let chat = sendable[rng.below(sendable.len())];
                let members = &self.chat_conns[chat as usize];
                let conn = &self.conns[by_id[&members[rng.below(members.len())]]];
                // Pending from now: the drain waits for it even before its socket writes it.
                self.shared.pending.fetch_add(1, Ordering::Relaxed);
                let command = Send {
                    chat,
                    step: step as u16,
                };
                if conn.commands.send(command).is_err() {
                    self.shared.pending.fetch_sub(1, Ordering::Relaxed);
                    self.shared
                        .error("a send to a closed socket was dropped".into());
                }
                scheduled += 1;
            }
        }
        let deadline = Instant::now() + self.options.drain;
        loop {
            let settled = self.shared.pending.load(Ordering::Relaxed) <= 0
                && self.shared.delivered.load(Ordering::Relaxed)
                    >= self.shared.expected(self.receivers);
            if settled || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cores = |before: Option<f64>, now: Option<f64>| Some((now? - before?) / elapsed);
        let server_cores = cores(
            server_cpu,
            self.options.server_pid.and_then(|pid| cpu_secs(Some(pid))),
        );
        let client_cores = cores(client_cpu, cpu_secs(None));
        let writer = match (writer_before, writer_totals(self.options).await) {
            (Some((b0, s0, t0)), Some((b1, s1, t1))) if b1 > b0 => Some(WriterStats {
                batches: b1 - b0,
                sends_per_batch: (s1 - s0) / (b1 - b0),
                ms_per_batch: (t1 - t0) * 1000.0 / (b1 - b0),
            }),
            _ => None,
        };
        let deliveries = self.shared.delivered.load(Ordering::Relaxed) - delivered_before;
        let (deliver, ack) = &self.shared.steps[step];
        Step {
            rate,
            secs: elapsed,
            sends: self.shared.sends.load(Ordering::Relaxed) - sends_before,
            deliveries,
            deliveries_per_sec: deliveries as f64 / elapsed.max(1e-9),
            latency_ms: deliver.percentiles(),
            ack_ms: ack.percentiles(),
            server_cores,
            client_cores,
            writer,
        }
    }
}
