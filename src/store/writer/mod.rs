//! The message writer: one task per database that group-commits sends.
//!
//! A transaction per send leaves most of the machine unused (DESIGN.md has the
//! numbers), so senders queue their message on a bounded channel and wait. The writer
//! takes everything queued (up to a cap), appends it in one transaction, commits, and
//! only then answers each sender. Nothing is acknowledged before its commit; if a batch
//! fails, each of its senders gets the error.
//!
//! The two backends commit a batch differently, because their costs differ: SQLite is
//! in the process, so a statement per step is cheap ([`sqlite`]); PostgreSQL is a
//! round trip away, so a batch is one statement on a connection of the writer's own
//! ([`postgres`]).

mod postgres;
mod sqlite;

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use super::{Db, MessageRow, Pool};
use crate::error::{Error, Result};

/// The most sends committed in one transaction.
const BATCH_MAX: usize = 256;
/// Sends waiting for the writer; senders beyond this wait for room (backpressure).
const QUEUE_MAX: usize = 4096;

pub struct NewMessage {
    pub row: MessageRow,
    /// Users the message mentions.
    pub mentions: Vec<String>,
    /// Files attached, in order (already checked: the sender may share them).
    pub attachments: Vec<String>,
    /// What search finds it by (text messages only).
    pub search: Option<super::SearchEntry>,
    /// Where it was forwarded from, if it was.
    pub forwarded_from: Option<ForwardRow>,
}

impl NewMessage {
    /// Whether committing it writes more than the message, its search row and its
    /// sender's read pointer.
    fn has_extras(&self) -> bool {
        self.forwarded_from.is_some()
            || !self.attachments.is_empty()
            || !self.mentions.is_empty()
            || self.row.thread_root_id.is_some()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ForwardRow {
    pub from_chat_id: String,
    pub from_message_id: String,
    pub from_sender_id: Option<String>,
    pub from_created_at: chrono::DateTime<chrono::Utc>,
}

/// What a send became: a new message, or the one already sent with its `client_id`.
#[derive(Debug, Clone)]
pub enum Appended {
    New(MessageRow),
    Existing(MessageRow),
}

/// A send's answer: `Ok(None)` when its chat was deleted before the batch committed.
type Answer = Result<Option<Appended>, String>;

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Answer>,
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer for `db`, on a thread and runtime of its own: every step of a
    /// batch waits for the database and then for the writer to be polled again, and on
    /// the shared runtime that second wait was behind thousands of socket tasks. It ends
    /// when every `Writer` handle is dropped, after committing what was queued.
    pub fn start(db: Db) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_MAX);
        std::thread::Builder::new()
            .name("message-writer".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the message writer's runtime");
                runtime.block_on(run(db, jobs));
            })
            .expect("the message writer's thread");
        Self { queue }
    }

    /// Appends a message; returns once it is committed.
    pub async fn append(&self, message: NewMessage) -> Result<Appended> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { message, reply })
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("the message writer has stopped")))?;
        match answer.await {
            Ok(Ok(Some(appended))) => Ok(appended),
            Ok(Ok(None)) => Err(Error::NotFound("Chat not found".into())),
            Ok(Err(err)) => Err(Error::Internal(anyhow::anyhow!(
                "message batch failed: {err}"
            ))),
            Err(_) => Err(Error::Internal(anyhow::anyhow!(
                "the message writer has stopped"
            ))),
        }
    }
}

async fn run(db: Db, mut jobs: mpsc::Receiver<Job>) {
    let mut postgres = match &db.write {
        Pool::Postgres(pool) => Some(postgres::Connection::new(pool.clone())),
        Pool::Sqlite(_) => None,
    };
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while jobs.recv_many(&mut batch, BATCH_MAX).await > 0 {
        let messages = batch.iter().map(|job| &job.message).collect::<Vec<_>>();
        let started = std::time::Instant::now();
        let (unique, first) = fold_repeats(&messages);
        let committed = match (&db.write, &mut postgres) {
            (Pool::Postgres(_), Some(connection)) => connection.commit(&unique).await,
            (Pool::Sqlite(pool), _) => sqlite::commit(pool, &unique).await,
            (Pool::Postgres(_), None) => unreachable!("PostgreSQL batches have a connection"),
        };
        // How long senders wait on the database, and how much each wait carries: the
        // two numbers that tell a slow disk from a writer that cannot keep up.
        metrics::histogram!("message_batch_duration_seconds").record(started.elapsed());
        metrics::histogram!("message_batch_sends").record(batch.len() as f64);
        match committed {
            Ok(results) => {
                for (job, answer) in batch.drain(..).zip(answers(results, &first)) {
                    let _ = job.reply.send(Ok(answer));
                }
            }
            Err(err) => {
                tracing::error!(error = ?err, sends = batch.len(), "message batch failed");
                let text = err.to_string();
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(text.clone()));
                }
            }
        }
    }
}

/// A batch with repeats of a `client_id` folded into its first send: the sends to
/// commit, and for each send of the batch the index of the one that answers it.
fn fold_repeats<'a>(batch: &[&'a NewMessage]) -> (Vec<&'a NewMessage>, Vec<usize>) {
    let mut unique = Vec::with_capacity(batch.len());
    let mut first = Vec::with_capacity(batch.len());
    let mut seen: HashMap<(&str, Option<&str>, &str), usize> = HashMap::new();
    for &send in batch {
        let row = &send.row;
        if let Some(client_id) = row.client_id.as_deref() {
            let key = (row.chat_id.as_str(), row.sender_id.as_deref(), client_id);
            if let Some(&index) = seen.get(&key) {
                first.push(index);
                continue;
            }
            seen.insert(key, unique.len());
        }
        first.push(unique.len());
        unique.push(send);
    }
    (unique, first)
}

/// Each send's answer from the answers of the unique sends: a repeat within the batch
/// sees the message its first send made as existing.
fn answers(results: Vec<Option<Appended>>, first: &[usize]) -> Vec<Option<Appended>> {
    let mut answered = vec![false; results.len()];
    first
        .iter()
        .map(|&i| {
            let result = results[i].clone();
            if std::mem::replace(&mut answered[i], true) {
                result.map(|appended| match appended {
                    Appended::New(row) | Appended::Existing(row) => Appended::Existing(row),
                })
            } else {
                result
            }
        })
        .collect()
}

/// Inside a batch's transaction, for each message just appended: the rows that go
/// with it beyond the message itself (forward, attachments, thread, mentions).
/// Written once for both backends; rare, so a statement each.
macro_rules! append_extras {
    ($tx:expr, $appended:expr) => {{
        for (message, send) in $appended {
            let message: &$crate::store::MessageRow = message;
            let send: &$crate::store::NewMessage = send;
            if let Some(from) = &send.forwarded_from {
                sqlx::query(
                    "INSERT INTO message_forwards (message_id, from_chat_id, from_message_id, from_sender_id, from_created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&message.id)
                .bind(&from.from_chat_id)
                .bind(&from.from_message_id)
                .bind(&from.from_sender_id)
                .bind(from.from_created_at)
                .execute(&mut *$tx)
                .await?;
            }
            for (position, file_id) in send.attachments.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO message_attachments (message_id, file_id, chat_id, position) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&message.id)
                .bind(file_id)
                .bind(&message.chat_id)
                .bind(position as i32)
                .execute(&mut *$tx)
                .await?;
            }
            if let Some(root_id) = &message.thread_root_id {
                $crate::store::threads::add_thread_reply!($tx, message, root_id, &send.mentions);
            }
            for user_id in &send.mentions {
                sqlx::query(
                    "INSERT INTO message_mentions (message_id, user_id, chat_id, seq) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&message.id)
                .bind(user_id)
                .bind(&message.chat_id)
                .bind(message.seq)
                .execute(&mut *$tx)
                .await?;
            }
        }
    }};
}
use append_extras;
