//! Reactions to messages, pinned messages, and the mentions a user has had.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::messages::message_columns;
use super::{Db, MessageRow, id_list, id_list_sql, on_pool};
use crate::error::Result;

/// One emoji's reactions on one message, as the viewer sees them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReactionCount {
    pub message_id: String,
    pub emoji: String,
    pub count: i64,
    /// 1 when the viewer is among them.
    pub mine: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PinRow {
    pub message_id: String,
    pub pinned_by: Option<String>,
    pub pinned_at: DateTime<Utc>,
}

impl Db {
    /// Adds a reaction unless the message already has `max_kinds` other emoji.
    /// Returns false when that limit refused it.
    pub async fn add_reaction(
        &self,
        message_id: &str,
        user_id: &str,
        emoji: &str,
        max_kinds: i64,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "INSERT INTO message_reactions (message_id, user_id, emoji, created_at) \
                   SELECT $1, $2, $3, $4 WHERE \
                     EXISTS (SELECT 1 FROM message_reactions WHERE message_id = $1 AND emoji = $3) \
                     OR (SELECT COUNT(DISTINCT emoji) FROM message_reactions WHERE message_id = $1) < $5 \
                   ON CONFLICT DO NOTHING";
        let done = on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(message_id)
            .bind(user_id)
            .bind(emoji)
            .bind(now)
            .bind(max_kinds)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        if done == 1 {
            return Ok(true);
        }
        // Nothing inserted: already there (fine, idempotent), or over the limit.
        self.has_reacted(message_id, user_id, emoji).await
    }

    async fn has_reacted(&self, message_id: &str, user_id: &str, emoji: &str) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM message_reactions \
                   WHERE message_id = $1 AND user_id = $2 AND emoji = $3)";
        let (found,): (bool,) = on_pool!(&self.write, |p| sqlx::query_as(sql)
            .bind(message_id)
            .bind(user_id)
            .bind(emoji)
            .fetch_one(p)
            .await)?;
        Ok(found)
    }

    pub async fn remove_reaction(
        &self,
        message_id: &str,
        user_id: &str,
        emoji: &str,
    ) -> Result<()> {
        let sql =
            "DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(message_id)
            .bind(user_id)
            .bind(emoji)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn reaction_count(&self, message_id: &str, emoji: &str) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM message_reactions WHERE message_id = $1 AND emoji = $2";
        let (count,): (i64,) = on_pool!(&self.write, |p| sqlx::query_as(sql)
            .bind(message_id)
            .bind(emoji)
            .fetch_one(p)
            .await)?;
        Ok(count)
    }

    /// Who reacted with `emoji`, first first.
    pub async fn reactors(
        &self,
        message_id: &str,
        emoji: &str,
    ) -> Result<Vec<(String, DateTime<Utc>)>> {
        let sql = "SELECT user_id, created_at FROM message_reactions \
                   WHERE message_id = $1 AND emoji = $2 ORDER BY created_at, user_id";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(message_id)
            .bind(emoji)
            .fetch_all(p)
            .await)?)
    }

    /// Each message's reactions, in the order each emoji first came.
    pub async fn reactions_of_many(
        &self,
        message_ids: &[String],
        viewer: &str,
    ) -> Result<HashMap<String, Vec<ReactionCount>>> {
        if message_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = id_list_sql!(
            &self.read,
            "SELECT message_id, emoji, COUNT(*) AS count, \
             CAST(MAX(CASE WHEN user_id = $2 THEN 1 ELSE 0 END) AS BIGINT) AS mine \
             FROM message_reactions WHERE message_id IN ",
            " GROUP BY message_id, emoji ORDER BY message_id, MIN(created_at), emoji"
        );
        let rows: Vec<ReactionCount> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id_list(message_ids))
            .bind(viewer)
            .fetch_all(p)
            .await)?;
        let mut map: HashMap<String, Vec<ReactionCount>> = HashMap::new();
        for row in rows {
            map.entry(row.message_id.clone()).or_default().push(row);
        }
        Ok(map)
    }

    /// Pins a message; false if the chat already has `max` pins.
    pub async fn pin(
        &self,
        chat_id: &str,
        message_id: &str,
        by: &str,
        max: i64,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "INSERT INTO message_pins (chat_id, message_id, pinned_by, pinned_at) \
                   SELECT $1, $2, $3, $4 WHERE (SELECT COUNT(*) FROM message_pins WHERE chat_id = $1) < $5 \
                   ON CONFLICT DO NOTHING";
        let done = on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(chat_id)
            .bind(message_id)
            .bind(by)
            .bind(now)
            .bind(max)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1 || self.is_pinned(chat_id, message_id).await?)
    }

    async fn is_pinned(&self, chat_id: &str, message_id: &str) -> Result<bool> {
        let sql =
            "SELECT EXISTS (SELECT 1 FROM message_pins WHERE chat_id = $1 AND message_id = $2)";
        let (found,): (bool,) = on_pool!(&self.write, |p| sqlx::query_as(sql)
            .bind(chat_id)
            .bind(message_id)
            .fetch_one(p)
            .await)?;
        Ok(found)
    }

    /// Unpins; false if it was not pinned.
    pub async fn unpin(&self, chat_id: &str, message_id: &str) -> Result<bool> {
        let sql = "DELETE FROM message_pins WHERE chat_id = $1 AND message_id = $2";
        let gone = on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(chat_id)
            .bind(message_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(gone == 1)
    }

    /// A chat's pinned messages (deleted ones drop out), newest pin first.
    pub async fn pins(&self, chat_id: &str) -> Result<Vec<(PinRow, MessageRow)>> {
        #[derive(sqlx::FromRow)]
        struct Pinned {
            #[sqlx(flatten)]
            pin: PinRow,
            #[sqlx(flatten)]
            message: MessageRow,
        }
        let sql = concat!(
            "SELECT p.message_id, p.pinned_by, p.pinned_at, ",
            message_columns!("m."),
            " FROM message_pins p JOIN messages m ON m.id = p.message_id AND m.deleted_at IS NULL \
             WHERE p.chat_id = $1 ORDER BY p.pinned_at DESC"
        );
        let rows: Vec<Pinned> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(chat_id)
            .fetch_all(p)
            .await)?;
        Ok(rows.into_iter().map(|r| (r.pin, r.message)).collect())
    }

    /// Where each of these messages was forwarded from, by message id.
    pub async fn forwards_of_many(
        &self,
        message_ids: &[String],
    ) -> Result<HashMap<String, (super::ForwardRow, Option<i64>)>> {
        if message_ids.is_empty() {
            return Ok(HashMap::new());
        }
        #[derive(sqlx::FromRow)]
        struct Forward {
            message_id: String,
            #[sqlx(flatten)]
            from: super::ForwardRow,
            /// The source's seq in its chat, while it exists.
            from_seq: Option<i64>,
        }
        let sql = id_list_sql!(
            &self.read,
            "SELECT f.message_id, f.from_chat_id, f.from_message_id, f.from_sender_id, f.from_created_at, \
             s.seq AS from_seq FROM message_forwards f LEFT JOIN messages s ON s.id = f.from_message_id \
             WHERE f.message_id IN ",
            ""
        );
        let rows: Vec<Forward> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id_list(message_ids))
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|r| (r.message_id, (r.from, r.from_seq)))
            .collect())
    }

    /// Messages that mention `user_id` in chats they are still in, newest first, before
    /// `before` (a message's created_at) when given.
    pub async fn mentions_of(
        &self,
        user_id: &str,
        before: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<MessageRow>> {
        let sql = concat!(
            "SELECT ",
            message_columns!("m."),
            " FROM message_mentions mm \
             JOIN chat_members cm ON cm.chat_id = mm.chat_id AND cm.user_id = mm.user_id \
             JOIN messages m ON m.id = mm.message_id AND m.deleted_at IS NULL \
             WHERE mm.user_id = $1 AND ($2 IS NULL OR m.created_at < $2) \
             ORDER BY m.created_at DESC, m.id DESC LIMIT $3"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(user_id)
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }
}
