//! Messages: appending with gap-free per-chat seqs, history pages, edits, deletes,
//! read status.

use chrono::{DateTime, Utc};

use std::collections::HashMap;

use super::{Db, id_list, id_list_sql, on_pool};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: String,
    pub chat_id: String,
    /// Given when the message is appended; 0 before.
    pub seq: i64,
    /// Text messages: the ordinal among the chat's text messages (for unread counts).
    pub ord: i64,
    pub sender_id: Option<String>,
    pub kind: String,
    pub content: String,
    pub html: String,
    pub event: Option<String>,
    pub reply_to: Option<String>,
    pub client_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// For a thread reply: its root.
    pub thread_root_id: Option<String>,
    /// A thread reply that is also shown (and counted) in the main timeline.
    pub also_in_chat: bool,
    /// For a root: its live replies, and the newest one's seq and time.
    pub reply_count: i64,
    pub last_reply_seq: Option<i64>,
    pub last_reply_at: Option<DateTime<Utc>>,
}

impl MessageRow {
    /// Shown in the chat's main timeline (everything but thread-only replies).
    pub fn in_timeline(&self) -> bool {
        self.thread_root_id.is_none() || self.also_in_chat
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EditRow {
    pub content: String,
    pub html: String,
    pub replaced_at: DateTime<Utc>,
}

/// A member's read pointer, with whether they share read receipts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReaderRow {
    pub user_id: String,
    pub read_seq: i64,
    pub read_at: Option<DateTime<Utc>>,
    pub send_read_receipts: bool,
}

macro_rules! message_columns {
    () => {
        $crate::store::messages::message_columns!("")
    };
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "chat_id, ",
            $p,
            "seq, ",
            $p,
            "ord, ",
            $p,
            "sender_id, ",
            $p,
            "kind, ",
            $p,
            "content, ",
            $p,
            "html, ",
            $p,
            "event, ",
            $p,
            "reply_to, ",
            $p,
            "client_id, ",
            $p,
            "created_at, ",
            $p,
            "edited_at, ",
            $p,
            "deleted_at, ",
            $p,
            "thread_root_id, ",
            $p,
            "also_in_chat, ",
            $p,
            "reply_count, ",
            $p,
            "last_reply_seq, ",
            $p,
            "last_reply_at",
        )
    };
}

/// Appends messages inside a transaction: gives each chat's messages its next seqs
/// (one row update per chat, which also serialises writers to that chat), inserts them
/// in one statement, and moves each sender's read pointer past their own message.
/// Evaluates to the messages with their seqs. Used by the group-commit writer and by
/// membership changes, so every message gets its seq the same way.
macro_rules! append_messages {
    ($tx:expr, $messages:expr) => {{
        let mut messages: Vec<$crate::store::MessageRow> = $messages;
        // Per chat: how many messages, of which how many are text.
        let mut chats: Vec<(String, i64, i64)> = Vec::new();
        for m in &messages {
            // Thread-only replies stay out of the timeline's count (their ord is 0).
            let text = i64::from(m.kind == "text" && m.in_timeline());
            match chats.iter_mut().find(|(id, _, _)| *id == m.chat_id) {
                Some((_, n, t)) => {
                    *n += 1;
                    *t += text;
                }
                None => chats.push((m.chat_id.clone(), 1, text)),
            }
        }
        let postgres = $crate::store::is_postgres(&*$tx);
        // Every chat's counters in one statement (a round trip per chat is what a
        // batch spent its time on with PostgreSQL).
        let counters: Vec<serde_json::Value> = chats
            .iter()
            .map(|(chat_id, n, texts)| {
                let at = messages.iter().rev().find(|m| m.chat_id == *chat_id).map(|m| m.created_at);
                serde_json::json!({"id": chat_id, "n": n, "t": texts, "at": at.map($crate::store::json_time)})
            })
            .collect();
        let update = $crate::store::json_rows_sql!(
            postgres,
            "UPDATE chats SET last_seq = chats.last_seq + v.n, text_count = chats.text_count + v.t, \
             last_activity_at = v.at FROM ",
            [id "text", n "bigint", t "bigint", at "timestamptz"],
            " WHERE chats.id = v.id RETURNING chats.id, chats.last_seq, chats.text_count"
        );
        let counted: Vec<(String, i64, i64)> = sqlx::query_as(update)
            .bind(serde_json::Value::from(counters).to_string())
            .fetch_all(&mut *$tx)
            .await?;
        for (chat_id, n, texts) in &chats {
            let Some((_, last, text_count)) = counted.iter().find(|(id, _, _)| id == chat_id) else {
                Err(sqlx::Error::RowNotFound)?
            };
            let (mut next, mut next_ord) = (last - n + 1, text_count - texts + 1);
            for m in messages.iter_mut().filter(|m| m.chat_id == *chat_id) {
                m.seq = next;
                next += 1;
                if m.kind == "text" && m.in_timeline() {
                    m.ord = next_ord;
                    next_ord += 1;
                }
            }
        }
        let rows: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id, "chat_id": m.chat_id, "seq": m.seq, "ord": m.ord,
                    "sender_id": m.sender_id, "kind": m.kind, "content": m.content,
                    "html": m.html, "event": m.event, "reply_to": m.reply_to,
                    "client_id": m.client_id, "created_at": $crate::store::json_time(m.created_at),
                    "edited_at": m.edited_at.map($crate::store::json_time),
                    "deleted_at": m.deleted_at.map($crate::store::json_time),
                    "thread_root_id": m.thread_root_id, "also_in_chat": m.also_in_chat,
                    "reply_count": m.reply_count, "last_reply_seq": m.last_reply_seq,
                    "last_reply_at": m.last_reply_at.map($crate::store::json_time),
                })
            })
            .collect();
        let insert = $crate::store::json_rows_sql!(
            postgres,
            concat!(
                "INSERT INTO messages (", $crate::store::messages::message_columns!(), ") SELECT ",
                $crate::store::messages::message_columns!(), " FROM "
            ),
            [
                id "text", chat_id "text", seq "bigint", ord "bigint", sender_id "text",
                kind "text", content "text", html "text", event "text", reply_to "text",
                client_id "text", created_at "timestamptz", edited_at "timestamptz",
                deleted_at "timestamptz", thread_root_id "text", also_in_chat "boolean",
                reply_count "bigint", last_reply_seq "bigint", last_reply_at "timestamptz",
            ],
            ""
        );
        sqlx::query(insert)
            .bind(serde_json::Value::from(rows).to_string())
            .execute(&mut *$tx)
            .await?;
        // A thread-only reply moves its sender's thread pointer instead (see the writer).
        // Once per sender and chat, at their last message in this batch.
        let mut last_of_sender: Vec<&$crate::store::MessageRow> = Vec::new();
        for m in messages.iter().filter(|m| m.sender_id.is_some() && m.in_timeline()) {
            match last_of_sender.iter_mut().find(|l| l.chat_id == m.chat_id && l.sender_id == m.sender_id) {
                Some(last) => *last = m,
                None => last_of_sender.push(m),
            }
        }
        if !last_of_sender.is_empty() {
            let pointers: Vec<serde_json::Value> = last_of_sender
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "chat_id": m.chat_id, "user_id": m.sender_id, "seq": m.seq,
                        "at": $crate::store::json_time(m.created_at),
                    })
                })
                .collect();
            let update = $crate::store::json_rows_sql!(
                postgres,
                "UPDATE chat_members SET read_seq = v.seq, read_at = v.at FROM ",
                [chat_id "text", user_id "text", seq "bigint", at "timestamptz"],
                " WHERE chat_members.chat_id = v.chat_id AND chat_members.user_id = v.user_id \
                 AND chat_members.read_seq < v.seq"
            );
            sqlx::query(update)
                .bind(serde_json::Value::from(pointers).to_string())
                .execute(&mut *$tx)
                .await?;
        }
        messages
    }};
}
pub(crate) use append_messages;
pub(crate) use message_columns;

/// Which page of history to read.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// The newest `limit`, skipping the newest `skip`.
    Latest {
        skip: i64,
    },
    Before(i64),
    After(i64),
    /// Centred on a seq: half before, the rest from it on.
    Around(i64),
}

impl Db {
    pub async fn message(&self, chat_id: &str, message_id: &str) -> Result<Option<MessageRow>> {
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE id = $1 AND chat_id = $2"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(message_id)
            .bind(chat_id)
            .fetch_optional(p)
            .await)?)
    }

    /// The message a client already sent with this `client_id`, if any.
    pub async fn message_by_client_id(
        &self,
        chat_id: &str,
        sender_id: &str,
        client_id: &str,
    ) -> Result<Option<MessageRow>> {
        let sql = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE chat_id = $1 AND sender_id = $2 AND client_id = $3"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(chat_id)
            .bind(sender_id)
            .bind(client_id)
            .fetch_optional(p)
            .await)?)
    }

    /// A page of a chat's history, oldest first: its main timeline, or with
    /// `with_thread_replies` everything (for resume). Every page is one range scan of
    /// the (chat_id, seq) index, however long the chat.
    pub async fn history(
        &self,
        chat_id: &str,
        page: Page,
        limit: i64,
        with_thread_replies: bool,
    ) -> Result<Vec<MessageRow>> {
        let newest_first = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE chat_id = $1 AND seq < $2 \
              AND ($5 OR thread_root_id IS NULL OR also_in_chat) ORDER BY seq DESC LIMIT $3 OFFSET $4"
        );
        let oldest_first = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE chat_id = $1 AND seq > $2 \
              AND ($4 OR thread_root_id IS NULL OR also_in_chat) ORDER BY seq LIMIT $3"
        );
        let read_back = |before: i64, limit: i64, skip: i64| async move {
            let mut rows: Vec<MessageRow> = on_pool!(&self.read, |p| sqlx::query_as(newest_first)
                .bind(chat_id)
                .bind(before)
                .bind(limit)
                .bind(skip)
                .bind(with_thread_replies)
                .fetch_all(p)
                .await)?;
            rows.reverse();
            Ok::<_, crate::error::Error>(rows)
        };
        let read_forward = |after: i64, limit: i64| async move {
            Ok::<Vec<MessageRow>, crate::error::Error>(on_pool!(&self.read, |p| sqlx::query_as(
                oldest_first
            )
            .bind(chat_id)
            .bind(after)
            .bind(limit)
            .bind(with_thread_replies)
            .fetch_all(p)
            .await)?)
        };
        match page {
            Page::Latest { skip } => read_back(i64::MAX, limit, skip).await,
            Page::Before(seq) => read_back(seq, limit, 0).await,
            Page::After(seq) => read_forward(seq, limit).await,
            Page::Around(seq) => {
                let before = limit / 2;
                let mut rows = read_back(seq, before, 0).await?;
                rows.extend(read_forward(seq - 1, limit - before).await?);
                Ok(rows)
            }
        }
    }

    /// Replaces a message's content and mentions, keeping the version it replaces.
    pub async fn edit_message(
        &self,
        message: &MessageRow,
        content: &str,
        html: &str,
        mentions: &[String],
        search: &super::SearchEntry,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO message_edits (message_id, content, html, replaced_at) VALUES ($1, $2, $3, $4)")
                .bind(&message.id)
                .bind(&message.content)
                .bind(&message.html)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE messages SET content = $2, html = $3, edited_at = $4 WHERE id = $1",
            )
            .bind(&message.id)
            .bind(content)
            .bind(html)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM message_mentions WHERE message_id = $1")
                .bind(&message.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE message_search SET text = $2, has_link = $3 WHERE message_id = $1")
                .bind(&message.id)
                .bind(&search.text)
                .bind(search.has_link)
                .execute(&mut *tx)
                .await?;
            for user_id in mentions {
                sqlx::query("INSERT INTO message_mentions (message_id, user_id, chat_id, seq) VALUES ($1, $2, $3, $4)")
                    .bind(&message.id)
                    .bind(user_id)
                    .bind(&message.chat_id)
                    .bind(message.seq)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// The earlier versions of a message, newest first.
    pub async fn message_edits(&self, message_id: &str) -> Result<Vec<EditRow>> {
        let sql = "SELECT content, html, replaced_at FROM message_edits WHERE message_id = $1 ORDER BY replaced_at DESC";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(message_id)
            .fetch_all(p)
            .await)?)
    }

    /// Makes a message a tombstone: its seq stays, its content, earlier versions and
    /// mentions go, and a thread reply stops counting on its root. False if it was
    /// already deleted (so a reply is uncounted once, however many delete it at once).
    pub async fn delete_message(&self, message: &MessageRow, now: DateTime<Utc>) -> Result<bool> {
        let deleted = on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            let done = sqlx::query(
                "UPDATE messages SET content = '', html = '', deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(&message.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            if let Some(root_id) = &message.thread_root_id {
                sqlx::query("UPDATE messages SET reply_count = reply_count - 1 WHERE id = $1")
                    .bind(root_id)
                    .execute(&mut *tx)
                    .await?;
            }
            for sql in [
                "DELETE FROM message_edits WHERE message_id = $1",
                "DELETE FROM message_mentions WHERE message_id = $1",
                "DELETE FROM message_search WHERE message_id = $1",
                "DELETE FROM message_reactions WHERE message_id = $1",
                "DELETE FROM message_pins WHERE message_id = $1",
            ] {
                sqlx::query(sql).bind(&message.id).execute(&mut *tx).await?;
            }
            tx.commit().await.map(|_| true)
        })?;
        Ok(deleted)
    }

    /// Every member's read pointer, with their read-receipt setting.
    pub async fn readers(&self, chat_id: &str) -> Result<Vec<ReaderRow>> {
        let sql = "SELECT m.user_id, m.read_seq, m.read_at, u.send_read_receipts FROM chat_members m \
                   JOIN users u ON u.id = m.user_id WHERE m.chat_id = $1 ORDER BY m.joined_at";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(chat_id)
            .fetch_all(p)
            .await)?)
    }

    /// Who each of these messages mentions, by message id.
    pub async fn mentions_of_many(
        &self,
        message_ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>> {
        if message_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = id_list_sql!(
            &self.read,
            "SELECT message_id, user_id FROM message_mentions WHERE message_id IN ",
            ""
        );
        let pairs: Vec<(String, String)> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id_list(message_ids))
            .fetch_all(p)
            .await)?;
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (message_id, user_id) in pairs {
            map.entry(message_id).or_default().push(user_id);
        }
        Ok(map)
    }

    /// The newest main-timeline message of each of these chats, by chat id.
    pub async fn last_messages(&self, chat_ids: &[String]) -> Result<HashMap<String, MessageRow>> {
        if chat_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = id_list_sql!(
            &self.read,
            concat!(
                "SELECT ",
                message_columns!("m."),
                " FROM chats c JOIN messages m ON m.id = (SELECT x.id FROM messages x WHERE x.chat_id = c.id \
                   AND (x.thread_root_id IS NULL OR x.also_in_chat) ORDER BY x.seq DESC LIMIT 1) WHERE c.id IN "
            ),
            ""
        );
        let rows: Vec<MessageRow> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id_list(chat_ids))
            .fetch_all(p)
            .await)?;
        Ok(rows.into_iter().map(|m| (m.chat_id.clone(), m)).collect())
    }
}
