//! Friend requests, friendships, blocks and mutes: how two people stand to each other.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Db, on_pool};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FriendRequestRow {
    pub id: String,
    pub from_user_id: String,
    pub to_user_id: String,
    pub created_at: DateTime<Utc>,
}

/// How `other` stands to the viewer, from the viewer's side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Relation {
    pub is_friend: bool,
    /// The viewer blocked them.
    pub blocked: bool,
    /// They blocked the viewer.
    pub blocked_by: bool,
}

impl Relation {
    pub fn any_block(&self) -> bool {
        self.blocked || self.blocked_by
    }
}

/// A person listed with when the relationship began (friends since, blocked since...).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Since {
    pub user_id: String,
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

impl Db {
    pub async fn relation(&self, viewer: &str, other: &str) -> Result<Relation> {
        let sql = "SELECT \
             EXISTS (SELECT 1 FROM friendships WHERE user_id = $1 AND friend_id = $2) AS is_friend, \
             EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2) AS blocked, \
             EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $2 AND blocked_id = $1) AS blocked_by";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(viewer)
            .bind(other)
            .fetch_one(p)
            .await)?)
    }

    pub async fn friend_request(&self, id: &str) -> Result<Option<FriendRequestRow>> {
        let sql =
            "SELECT id, from_user_id, to_user_id, created_at FROM friend_requests WHERE id = $1";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    pub async fn friend_request_between(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Option<FriendRequestRow>> {
        let sql = "SELECT id, from_user_id, to_user_id, created_at FROM friend_requests \
                   WHERE from_user_id = $1 AND to_user_id = $2";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(from)
            .bind(to)
            .fetch_optional(p)
            .await)?)
    }

    pub async fn insert_friend_request(&self, row: &FriendRequestRow) -> Result<()> {
        let sql = "INSERT INTO friend_requests (id, from_user_id, to_user_id, created_at) VALUES ($1, $2, $3, $4)";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(&row.id)
            .bind(&row.from_user_id)
            .bind(&row.to_user_id)
            .bind(row.created_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Requests to (`incoming`) or from the user, newest first.
    pub async fn friend_requests_of(
        &self,
        user_id: &str,
        incoming: bool,
    ) -> Result<Vec<FriendRequestRow>> {
        let sql = if incoming {
            "SELECT id, from_user_id, to_user_id, created_at FROM friend_requests WHERE to_user_id = $1 \
             ORDER BY created_at DESC"
        } else {
            "SELECT id, from_user_id, to_user_id, created_at FROM friend_requests WHERE from_user_id = $1 \
             ORDER BY created_at DESC"
        };
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?)
    }

    pub async fn delete_friend_request(&self, id: &str) -> Result<bool> {
        let sql = "DELETE FROM friend_requests WHERE id = $1";
        let n = on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Makes two people friends and removes any requests between them, in one
    /// transaction. False when a request it was meant to accept is gone already.
    pub async fn make_friends(
        &self,
        a: &str,
        b: &str,
        now: DateTime<Utc>,
        accepting: Option<&str>,
    ) -> Result<bool> {
        let accepted = on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            let removed = sqlx::query(
                "DELETE FROM friend_requests WHERE (from_user_id = $1 AND to_user_id = $2) \
                 OR (from_user_id = $2 AND to_user_id = $1)",
            )
            .bind(a)
            .bind(b)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if accepting.is_some() && removed == 0 {
                return Ok(false);
            }
            for (x, y) in [(a, b), (b, a)] {
                sqlx::query(
                    "INSERT INTO friendships (user_id, friend_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(x)
                .bind(y)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await.map(|_| true)
        })?;
        Ok(accepted)
    }

    pub async fn friend_ids(&self, user_id: &str) -> Result<HashSet<String>> {
        let sql = "SELECT friend_id FROM friendships WHERE user_id = $1";
        let ids: Vec<String> = on_pool!(&self.read, |p| sqlx::query_scalar(sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?;
        Ok(ids.into_iter().collect())
    }

    /// Everyone who might see `user_id`'s presence: friends and the members of their
    /// live chats (blocks and privacy are applied by the caller).
    pub async fn presence_audience(&self, user_id: &str) -> Result<Vec<String>> {
        let sql = "SELECT friend_id FROM friendships WHERE user_id = $1 \
                   UNION \
                   SELECT o.user_id FROM chat_members me JOIN chat_members o ON o.chat_id = me.chat_id \
                   JOIN chats c ON c.id = me.chat_id \
                   WHERE me.user_id = $1 AND o.user_id <> $1 AND c.deleted_at IS NULL";
        Ok(on_pool!(&self.read, |p| sqlx::query_scalar(sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?)
    }

    pub async fn friends_of(&self, user_id: &str) -> Result<Vec<Since>> {
        let sql = "SELECT friend_id AS user_id, created_at AS since, NULL AS until FROM friendships \
                   WHERE user_id = $1 ORDER BY created_at DESC";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?)
    }

    /// Ends a friendship (both directions); false when there was none.
    pub async fn delete_friendship(&self, a: &str, b: &str) -> Result<bool> {
        let sql = "DELETE FROM friendships WHERE (user_id = $1 AND friend_id = $2) OR (user_id = $2 AND friend_id = $1)";
        let n = on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Blocks `blocked` for `blocker`, ending their friendship and pending requests.
    pub async fn block(&self, blocker: &str, blocked: &str, now: DateTime<Utc>) -> Result<()> {
        on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(blocker)
            .bind(blocked)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for sql in [
                "DELETE FROM friendships WHERE (user_id = $1 AND friend_id = $2) OR (user_id = $2 AND friend_id = $1)",
                "DELETE FROM friend_requests WHERE (from_user_id = $1 AND to_user_id = $2) \
                 OR (from_user_id = $2 AND to_user_id = $1)",
            ] {
                sqlx::query(sql)
                    .bind(blocker)
                    .bind(blocked)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn unblock(&self, blocker: &str, blocked: &str) -> Result<()> {
        let sql = "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(blocker)
            .bind(blocked)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Who `user_id` blocked (`blocker = true`) or who blocked `user_id`, as ids.
    pub async fn block_ids(&self, user_id: &str, blocker: bool) -> Result<HashSet<String>> {
        let sql = if blocker {
            "SELECT blocked_id FROM blocks WHERE blocker_id = $1"
        } else {
            "SELECT blocker_id FROM blocks WHERE blocked_id = $1"
        };
        let ids: Vec<String> = on_pool!(&self.read, |p| sqlx::query_scalar(sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?;
        Ok(ids.into_iter().collect())
    }

    pub async fn blocked_by_user(&self, user_id: &str) -> Result<Vec<Since>> {
        let sql = "SELECT blocked_id AS user_id, created_at AS since, NULL AS until FROM blocks \
                   WHERE blocker_id = $1 ORDER BY created_at DESC";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?)
    }

    /// Mutes `muted` for `muter` until a time, or for good; muting again replaces it.
    pub async fn mute(
        &self,
        muter: &str,
        muted: &str,
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO mutes (muter_id, muted_id, until, created_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (muter_id, muted_id) DO UPDATE SET until = excluded.until";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(muter)
            .bind(muted)
            .bind(until)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn unmute(&self, muter: &str, muted: &str) -> Result<()> {
        let sql = "DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(muter)
            .bind(muted)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Mutes still in force at `now`.
    pub async fn muted_by_user(&self, user_id: &str, now: DateTime<Utc>) -> Result<Vec<Since>> {
        let sql = "SELECT muted_id AS user_id, created_at AS since, until FROM mutes \
                   WHERE muter_id = $1 AND (until IS NULL OR until > $2) ORDER BY created_at DESC";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(user_id)
            .bind(now)
            .fetch_all(p)
            .await)?)
    }
}
