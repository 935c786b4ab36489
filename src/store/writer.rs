//! The message writer: one task per database that group-commits sends.
//!
//! A transaction per send leaves most of the machine unused (DESIGN.md has the
//! numbers), so senders queue their message on a bounded channel and wait. The writer
//! takes everything queued (up to a cap), appends it in one transaction, commits, and
//! only then answers each sender. Nothing is acknowledged before its commit; if a batch
//! fails, each of its senders gets the error.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use super::messages::{MessageRow, append_messages};
use super::threads::add_thread_reply;
use super::{Db, Pool, on_pool};
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

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Result<Appended, String>>,
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task for `db`. It ends when every `Writer` handle is dropped,
    /// after committing what was queued.
    pub fn start(db: Db) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_MAX);
        tokio::spawn(run(db, jobs));
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
            Ok(Ok(appended)) => Ok(appended),
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
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while jobs.recv_many(&mut batch, BATCH_MAX).await > 0 {
        let messages = batch.iter().map(|job| &job.message).collect::<Vec<_>>();
        let started = std::time::Instant::now();
        let committed = commit(&db, &messages).await;
        // How long senders wait on the database, and how much each wait carries: the
        // two numbers that tell a slow disk from a writer that cannot keep up.
        metrics::histogram!("message_batch_duration_seconds").record(started.elapsed());
        metrics::histogram!("message_batch_sends").record(batch.len() as f64);
        match committed {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(result));
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

/// The messages already stored under the `client_id`s of this batch (retries), in one
/// read: a read per send is a round trip each, which a batch would wait on.
macro_rules! stored_retries_of {
    ($tx:expr, $batch:expr) => {{
        let keys: Vec<serde_json::Value> = $batch
            .iter()
            .map(|send| &send.row)
            .filter(|row| row.client_id.is_some())
            .map(|row| {
                serde_json::json!({
                    "chat_id": row.chat_id, "sender_id": row.sender_id, "client_id": row.client_id,
                })
            })
            .collect();
        if keys.is_empty() {
            Ok(Vec::new())
        } else {
            let select = super::json_rows_sql!(
                super::is_postgres(&*$tx),
                concat!("SELECT ", super::messages::message_columns!("m."), " FROM "),
                [chat_id "text", sender_id "text", client_id "text"],
                " JOIN messages m ON m.chat_id = v.chat_id AND m.sender_id = v.sender_id \
                 AND m.client_id = v.client_id AND m.client_id IS NOT NULL"
            );
            sqlx::query_as::<_, MessageRow>(select)
                .bind(serde_json::Value::from(keys).to_string())
                .fetch_all(&mut *$tx)
                .await
        }
    }};
}

/// Every statement of a batch finds its rows by key, but PostgreSQL guesses 100 rows
/// for a JSON row set and, on tables of a few thousand rows (or without statistics),
/// would rather hash them against a scan of the whole table: 7 ms instead of 0.07 ms
/// for the read pointers of one batch (EXPLAIN ANALYZE, 18,000 rows). Index lookups
/// are always right here, so the batch's transaction asks for them, in the same round
/// trip as its BEGIN.
const POSTGRES_BEGIN: &str =
    "BEGIN; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";

/// One transaction for the whole batch. Sends retried with a `client_id` already
/// stored (or twice in this batch) resolve to the first message instead of a new one.
async fn commit(db: &Db, batch: &[&NewMessage]) -> Result<Vec<Appended>, sqlx::Error> {
    let begin = match db.write {
        Pool::Postgres(_) => POSTGRES_BEGIN,
        Pool::Sqlite(_) => "BEGIN",
    };
    on_pool!(&db.write, |p| {
        let mut tx = p.begin_with(begin).await?;
        let stored: Vec<MessageRow> = stored_retries_of!(tx, batch)?;
        // Where each send's answer comes from: an index into `fresh`, or a stored row.
        enum Source {
            Fresh(usize),
            Stored(Box<MessageRow>),
        }
        let mut sources = Vec::with_capacity(batch.len());
        let mut fresh: Vec<MessageRow> = Vec::new();
        let mut fresh_extras: Vec<&NewMessage> = Vec::new();
        let mut seen: HashMap<(&str, Option<&str>, &str), usize> = HashMap::new();
        for send in batch {
            let row = &send.row;
            if let Some(client_id) = row.client_id.as_deref() {
                let key = (row.chat_id.as_str(), row.sender_id.as_deref(), client_id);
                if let Some(&index) = seen.get(&key) {
                    sources.push(Source::Fresh(index));
                    continue;
                }
                if let Some(stored) = stored.iter().find(|m| {
                    (
                        m.chat_id.as_str(),
                        m.sender_id.as_deref(),
                        m.client_id.as_deref(),
                    ) == (key.0, key.1, Some(client_id))
                }) {
                    sources.push(Source::Stored(Box::new(stored.clone())));
                    continue;
                }
                seen.insert(key, fresh.len());
            }
            sources.push(Source::Fresh(fresh.len()));
            fresh.push(row.clone());
            fresh_extras.push(send);
        }
        let appended = if fresh.is_empty() {
            fresh
        } else {
            append_messages!(tx, fresh)
        };
        // Search rows in one statement: a round trip per message is what a batch
        // would otherwise spend most of its time on (PostgreSQL).
        let searchable: Vec<_> = appended
            .iter()
            .zip(&fresh_extras)
            .filter_map(|(m, send)| send.search.as_ref().map(|search| (m, send, search)))
            .collect();
        if !searchable.is_empty() {
            let rows: Vec<serde_json::Value> = searchable
                .iter()
                .map(|(m, send, search)| {
                    serde_json::json!({
                        "message_id": m.id, "chat_id": m.chat_id, "sender_id": m.sender_id,
                        "created_at": super::json_time(m.created_at),
                        "has_file": !send.attachments.is_empty(), "has_link": search.has_link,
                        "text": search.text,
                    })
                })
                .collect();
            let insert = super::json_rows_sql!(
                super::is_postgres(&*tx),
                "INSERT INTO message_search (message_id, chat_id, sender_id, created_at, has_file, has_link, text) \
                 SELECT message_id, chat_id, sender_id, created_at, has_file, has_link, text FROM ",
                [
                    message_id "text", chat_id "text", sender_id "text", created_at "timestamptz",
                    has_file "boolean", has_link "boolean", text "text",
                ],
                ""
            );
            sqlx::query(insert)
                .bind(serde_json::Value::from(rows).to_string())
                .execute(&mut *tx)
                .await?;
        }
        for (message, send) in appended.iter().zip(&fresh_extras) {
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
                .execute(&mut *tx)
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
                .execute(&mut *tx)
                .await?;
            }
            if let Some(root_id) = &message.thread_root_id {
                add_thread_reply!(tx, message, root_id, &send.mentions);
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
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        // The first send of a client_id in this batch is new; repeats see it as existing.
        let mut answered = vec![false; appended.len()];
        Ok(sources
            .into_iter()
            .map(|source| match source {
                Source::Stored(row) => Appended::Existing(*row),
                Source::Fresh(i) if answered[i] => Appended::Existing(appended[i].clone()),
                Source::Fresh(i) => {
                    answered[i] = true;
                    Appended::New(appended[i].clone())
                }
            })
            .collect())
    })
}
