//! A batch on PostgreSQL: one statement, so one round trip.
//!
//! Written as a statement per step (retries, counters, messages, read pointers,
//! search), a batch of 15 sends took 7.6 ms at 2,000 sends/s, most of it waiting for
//! seven round trips on a busy machine (BENCHMARKS.md, session 5). Here the steps are
//! data-modifying CTEs of one statement, committed on their own: a single round trip.
//! Only a batch with forwards, attachments, thread replies or mentions opens a
//! transaction for their rows.
//!
//! Every step finds its rows by key, but PostgreSQL guesses 100 rows for a JSON row
//! set and, on tables of a few thousand rows (or without statistics), would rather hash
//! them against a scan of the whole table: 7 ms instead of 0.07 ms for the read
//! pointers of one batch (EXPLAIN ANALYZE, 18,000 rows). Index lookups are always right
//! here, so the writer's own connection asks for them for its whole life.

use sqlx::{Connection as _, PgConnection, PgPool};

use super::{Appended, NewMessage, append_extras};
use crate::store::messages::message_columns;
use crate::store::{MessageRow, json_time};

/// The batch: `$1` is a JSON array of the sends, in order, each with `i` its place.
/// `stored` are retries already committed; `fresh` the rest, numbered within their
/// chat (`k`, and `tk` among text counted in the timeline); `counters` moves each
/// chat's counters past them and gives the seq and ord before; the messages are
/// inserted with their seqs, each sender's read pointer moves to their last message,
/// and text gets its search row. Returns the new messages and the stored ones.
const BATCH: &str = concat!(
    "WITH v AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(",
    "i int, id text, chat_id text, sender_id text, kind text, content text, html text, ",
    "event text, reply_to text, client_id text, created_at timestamptz, edited_at timestamptz, ",
    "deleted_at timestamptz, thread_root_id text, also_in_chat boolean, reply_count bigint, ",
    "last_reply_seq bigint, last_reply_at timestamptz, counted boolean, timeline boolean, ",
    "search_text text, has_link boolean, has_file boolean)), ",
    "stored AS (SELECT ",
    message_columns!("m."),
    " FROM v JOIN messages m ON m.chat_id = v.chat_id AND m.sender_id = v.sender_id ",
    "AND m.client_id = v.client_id AND m.client_id IS NOT NULL), ",
    "fresh AS (SELECT v.*, row_number() OVER w AS k, count(*) FILTER (WHERE v.counted) OVER w AS tk ",
    "FROM v WHERE NOT EXISTS (SELECT 1 FROM stored s WHERE s.chat_id = v.chat_id ",
    "AND s.sender_id = v.sender_id AND s.client_id = v.client_id) ",
    "WINDOW w AS (PARTITION BY v.chat_id ORDER BY v.i)), ",
    "counters AS (UPDATE chats SET last_seq = chats.last_seq + p.n, ",
    "text_count = chats.text_count + p.t, last_activity_at = p.at ",
    "FROM (SELECT chat_id, count(*) AS n, count(*) FILTER (WHERE counted) AS t, ",
    "max(created_at) AS at FROM fresh GROUP BY chat_id) p WHERE chats.id = p.chat_id ",
    "RETURNING chats.id, chats.last_seq - p.n AS seq0, chats.text_count - p.t AS ord0), ",
    "numbered AS (SELECT f.*, c.seq0 + f.k AS seq, ",
    "CASE WHEN f.counted THEN c.ord0 + f.tk ELSE 0 END AS ord ",
    "FROM fresh f JOIN counters c ON c.id = f.chat_id), ",
    "inserted AS (INSERT INTO messages (",
    message_columns!(),
    ") SELECT ",
    message_columns!(),
    " FROM numbered RETURNING ",
    message_columns!(),
    "), ",
    "pointers AS (UPDATE chat_members SET read_seq = l.seq, read_at = l.created_at ",
    "FROM (SELECT DISTINCT ON (chat_id, sender_id) chat_id, sender_id, seq, created_at ",
    "FROM numbered WHERE sender_id IS NOT NULL AND timeline ",
    "ORDER BY chat_id, sender_id, seq DESC) l ",
    "WHERE chat_members.chat_id = l.chat_id AND chat_members.user_id = l.sender_id ",
    "AND chat_members.read_seq < l.seq), ",
    "searched AS (INSERT INTO message_search ",
    "(message_id, chat_id, sender_id, created_at, has_file, has_link, text) ",
    "SELECT id, chat_id, sender_id, created_at, has_file, has_link, search_text ",
    "FROM numbered WHERE search_text IS NOT NULL) ",
    "SELECT * FROM inserted UNION ALL SELECT * FROM stored"
);

/// The writer's own connection, outside the pool, so its settings stay with it.
pub(super) struct Connection {
    pool: PgPool,
    open: Option<PgConnection>,
}

impl Connection {
    pub(super) fn new(pool: PgPool) -> Self {
        Self { pool, open: None }
    }

    /// Commits `batch` (no `client_id` twice); each send becomes a new message, or for
    /// a retry already stored that message, or `None` if its chat is gone.
    pub(super) async fn commit(
        &mut self,
        batch: &[&NewMessage],
    ) -> Result<Vec<Option<Appended>>, sqlx::Error> {
        let committed = self.try_commit(batch).await;
        if committed.is_err() {
            // It may be the connection that failed: the next batch opens another.
            self.open = None;
        }
        committed
    }

    async fn try_commit(
        &mut self,
        batch: &[&NewMessage],
    ) -> Result<Vec<Option<Appended>>, sqlx::Error> {
        let connection = match &mut self.open {
            Some(connection) => connection,
            None => {
                // Opened here, not taken from the pool, so that its socket is driven
                // by the writer's runtime.
                let mut connection =
                    PgConnection::connect_with(&self.pool.connect_options()).await?;
                sqlx::raw_sql("SET enable_hashjoin = off; SET enable_mergejoin = off")
                    .execute(&mut connection)
                    .await?;
                self.open.insert(connection)
            }
        };
        let rows = batch_json(batch);
        let appended: Vec<MessageRow> = if batch.iter().any(|send| send.has_extras()) {
            let mut tx = connection.begin().await?;
            let appended: Vec<MessageRow> = sqlx::query_as(BATCH)
                .bind(&rows)
                .fetch_all(&mut *tx)
                .await?;
            let new = batch.iter().filter_map(|send| {
                let message = appended.iter().find(|m| m.id == send.row.id)?;
                Some((message, *send))
            });
            append_extras!(tx, new);
            tx.commit().await?;
            appended
        } else {
            sqlx::query_as(BATCH)
                .bind(&rows)
                .fetch_all(&mut *connection)
                .await?
        };
        Ok(batch
            .iter()
            .map(|send| {
                let row = &send.row;
                if let Some(new) = appended.iter().find(|m| m.id == row.id) {
                    return Some(Appended::New(new.clone()));
                }
                let stored = appended.iter().find(|m| {
                    row.client_id.is_some()
                        && (&m.chat_id, &m.sender_id, &m.client_id)
                            == (&row.chat_id, &row.sender_id, &row.client_id)
                })?;
                Some(Appended::Existing(stored.clone()))
            })
            .collect())
    }
}

/// The sends as [`BATCH`] reads them.
fn batch_json(batch: &[&NewMessage]) -> String {
    let rows: Vec<serde_json::Value> = batch
        .iter()
        .enumerate()
        .map(|(i, send)| {
            let m = &send.row;
            serde_json::json!({
                "i": i, "id": m.id, "chat_id": m.chat_id, "sender_id": m.sender_id,
                "kind": m.kind, "content": m.content, "html": m.html, "event": m.event,
                "reply_to": m.reply_to, "client_id": m.client_id,
                "created_at": json_time(m.created_at),
                "edited_at": m.edited_at.map(json_time),
                "deleted_at": m.deleted_at.map(json_time),
                "thread_root_id": m.thread_root_id, "also_in_chat": m.also_in_chat,
                "reply_count": m.reply_count, "last_reply_seq": m.last_reply_seq,
                "last_reply_at": m.last_reply_at.map(json_time),
                // The rules for what counts stay in Rust (`MessageRow`), not in SQL.
                "counted": m.kind == "text" && m.in_timeline(),
                "timeline": m.in_timeline(),
                "search_text": send.search.as_ref().map(|s| &s.text),
                "has_link": send.search.as_ref().is_some_and(|s| s.has_link),
                "has_file": !send.attachments.is_empty(),
            })
        })
        .collect();
    serde_json::Value::from(rows).to_string()
}
