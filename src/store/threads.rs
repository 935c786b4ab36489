//! Threads: replies under a root, who follows each thread, and where each follower
//! has read up to. A reply is a message like any other (its seq is the chat's); what
//! is particular to threads lives here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::messages::{MessageRow, message_columns};
use super::{Db, id_list, id_list_sql, on_pool};
use crate::error::Result;

/// A follower of a thread, or someone who replied in it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FollowRow {
    pub root_id: String,
    pub user_id: String,
    pub following: bool,
    pub replied: bool,
    pub read_seq: i64,
}

/// Unread replies of follower `f` in its thread: live replies by others after the
/// pointer (one range of the `messages_thread` index).
macro_rules! thread_unread_sql {
    ($f:literal) => {
        concat!(
            "(SELECT COUNT(*) FROM messages r WHERE r.thread_root_id = ",
            $f,
            ".root_id AND r.seq > ",
            $f,
            ".read_seq AND r.deleted_at IS NULL AND r.sender_id <> ",
            $f,
            ".user_id)"
        )
    };
}
pub(crate) use thread_unread_sql;

/// Inside the writer's transaction, for a reply just appended: counts it on its root,
/// and makes its sender (their thread pointer at the reply), the root's author and
/// anyone it mentions follow the thread. The author and the mentioned keep an earlier
/// choice to unfollow; replying again follows again.
macro_rules! add_thread_reply {
    ($tx:expr, $reply:expr, $root_id:expr, $mentions:expr) => {{
        let reply: &$crate::store::MessageRow = $reply;
        sqlx::query(
            "UPDATE messages SET reply_count = reply_count + 1, last_reply_seq = $2, last_reply_at = $3 \
             WHERE id = $1",
        )
        .bind($root_id)
        .bind(reply.seq)
        .bind(reply.created_at)
        .execute(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO thread_follows (root_id, user_id, chat_id, following, replied, read_seq, since) \
             VALUES ($1, $2, $3, TRUE, TRUE, $4, $5) ON CONFLICT (root_id, user_id) DO UPDATE SET \
             following = TRUE, replied = TRUE, read_seq = CASE WHEN thread_follows.read_seq > excluded.read_seq \
             THEN thread_follows.read_seq ELSE excluded.read_seq END",
        )
        .bind($root_id)
        .bind(&reply.sender_id)
        .bind(&reply.chat_id)
        .bind(reply.seq)
        .bind(reply.created_at)
        .execute(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO thread_follows (root_id, user_id, chat_id, following, replied, read_seq, since) \
             SELECT id, sender_id, chat_id, TRUE, FALSE, 0, $2 FROM messages WHERE id = $1 AND sender_id IS NOT NULL \
             ON CONFLICT (root_id, user_id) DO NOTHING",
        )
        .bind($root_id)
        .bind(reply.created_at)
        .execute(&mut *$tx)
        .await?;
        let mentions: &[String] = $mentions;
        for user_id in mentions {
            sqlx::query(
                "INSERT INTO thread_follows (root_id, user_id, chat_id, following, replied, read_seq, since) \
                 VALUES ($1, $2, $3, TRUE, FALSE, 0, $4) ON CONFLICT (root_id, user_id) DO NOTHING",
            )
            .bind($root_id)
            .bind(user_id)
            .bind(&reply.chat_id)
            .bind(reply.created_at)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(crate) use add_thread_reply;

/// Which replies of a thread to read.
#[derive(Debug, Clone, Copy)]
pub enum ThreadPage {
    Latest,
    Before(i64),
    After(i64),
}

impl Db {
    /// A page of a thread's replies, oldest first.
    pub async fn thread_replies(
        &self,
        root_id: &str,
        page: ThreadPage,
        limit: i64,
    ) -> Result<Vec<MessageRow>> {
        let newest_first = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE thread_root_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        );
        let oldest_first = concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE thread_root_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let (sql, seq, reverse) = match page {
            ThreadPage::Latest => (newest_first, i64::MAX, true),
            ThreadPage::Before(seq) => (newest_first, seq, true),
            ThreadPage::After(seq) => (oldest_first, seq, false),
        };
        let mut rows: Vec<MessageRow> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(root_id)
            .bind(seq)
            .bind(limit)
            .fetch_all(p)
            .await)?;
        if reverse {
            rows.reverse();
        }
        Ok(rows)
    }

    /// For each of these roots: the people who replied (first followers first) and the
    /// viewer's own row, if any.
    pub async fn thread_people_of_many(
        &self,
        root_ids: &[String],
        viewer: &str,
    ) -> Result<HashMap<String, Vec<FollowRow>>> {
        if root_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = id_list_sql!(
            &self.read,
            "SELECT root_id, user_id, following, replied, read_seq FROM thread_follows WHERE root_id IN ",
            " AND (replied OR user_id = $2) ORDER BY since, user_id"
        );
        let rows: Vec<FollowRow> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id_list(root_ids))
            .bind(viewer)
            .fetch_all(p)
            .await)?;
        let mut map: HashMap<String, Vec<FollowRow>> = HashMap::new();
        for row in rows {
            map.entry(row.root_id.clone()).or_default().push(row);
        }
        Ok(map)
    }

    /// The viewer's unread replies in each of these threads they follow.
    pub async fn thread_unread_of_many(
        &self,
        root_ids: &[String],
        viewer: &str,
    ) -> Result<HashMap<String, i64>> {
        if root_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = id_list_sql!(
            &self.read,
            concat!(
                "SELECT f.root_id, ",
                thread_unread_sql!("f"),
                " FROM thread_follows f WHERE f.user_id = $2 AND f.following AND f.root_id IN "
            ),
            ""
        );
        let rows: Vec<(String, i64)> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id_list(root_ids))
            .bind(viewer)
            .fetch_all(p)
            .await)?;
        Ok(rows.into_iter().collect())
    }

    /// Where these users stand in a thread they have a row in: (user, following, unread).
    pub async fn thread_states(
        &self,
        root_id: &str,
        user_ids: &[String],
    ) -> Result<Vec<(String, bool, i64)>> {
        let sql = id_list_sql!(
            &self.read,
            concat!(
                "SELECT f.user_id, f.following, ",
                thread_unread_sql!("f"),
                " FROM thread_follows f WHERE f.root_id = $2 AND f.user_id IN "
            ),
            ""
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id_list(user_ids))
            .bind(root_id)
            .fetch_all(p)
            .await)?)
    }

    /// Follows or unfollows a thread.
    pub async fn set_thread_following(
        &self,
        root: &MessageRow,
        user_id: &str,
        following: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO thread_follows (root_id, user_id, chat_id, following, replied, read_seq, since) \
                   VALUES ($1, $2, $3, $4, FALSE, 0, $5) ON CONFLICT (root_id, user_id) DO UPDATE SET following = $4";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(&root.id)
            .bind(user_id)
            .bind(&root.chat_id)
            .bind(following)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Moves my thread pointer forward to `up_to_seq` (never back).
    pub async fn mark_thread_read(
        &self,
        root: &MessageRow,
        user_id: &str,
        up_to_seq: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO thread_follows (root_id, user_id, chat_id, following, replied, read_seq, since) \
                   VALUES ($1, $2, $3, FALSE, FALSE, $4, $5) ON CONFLICT (root_id, user_id) DO UPDATE SET \
                   read_seq = CASE WHEN thread_follows.read_seq > excluded.read_seq \
                   THEN thread_follows.read_seq ELSE excluded.read_seq END";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(&root.id)
            .bind(user_id)
            .bind(&root.chat_id)
            .bind(up_to_seq)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Roots of the threads I follow in chats I am in, newest reply first.
    pub async fn followed_threads(
        &self,
        user_id: &str,
        before: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<MessageRow>> {
        let sql = concat!(
            "SELECT ",
            message_columns!("r."),
            " FROM thread_follows f JOIN messages r ON r.id = f.root_id \
              JOIN chat_members m ON m.chat_id = f.chat_id AND m.user_id = f.user_id \
              JOIN chats c ON c.id = f.chat_id AND c.deleted_at IS NULL \
              WHERE f.user_id = $1 AND f.following AND r.last_reply_at IS NOT NULL \
              AND ($2 IS NULL OR r.last_reply_at < $2) \
              ORDER BY r.last_reply_at DESC, r.id LIMIT $3"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(user_id)
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }
}
