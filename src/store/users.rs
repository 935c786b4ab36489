//! The users table: accounts, profiles, chosen status, privacy, search, erasure.

use chrono::{DateTime, Utc};

use super::{Db, id_list, id_list_sql, on_pool};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub search_key: String,
    pub presence_visibility: String,
    pub direct_messages_from: String,
    pub send_read_receipts: bool,
    pub status: String,
    pub status_text: Option<String>,
    pub status_expires_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

// The column list as a macro, so that `concat!` makes each query one `&'static str`.
macro_rules! user_columns {
    () => {
        user_columns!("")
    };
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "username, ",
            $p,
            "email, ",
            $p,
            "display_name, ",
            $p,
            "password_hash, ",
            $p,
            "is_admin, ",
            $p,
            "is_active, ",
            $p,
            "created_at, ",
            $p,
            "updated_at, ",
            $p,
            "bio, ",
            $p,
            "avatar_url, ",
            $p,
            "locale, ",
            $p,
            "time_zone, ",
            $p,
            "search_key, ",
            $p,
            "presence_visibility, ",
            $p,
            "direct_messages_from, ",
            $p,
            "send_read_receipts, ",
            $p,
            "status, ",
            $p,
            "status_text, ",
            $p,
            "status_expires_at, ",
            $p,
            "last_seen_at, ",
            $p,
            "deleted_at",
        )
    };
}

/// Users who may appear in lists and search for `$1`: active, not deleted, and not
/// blocked by or blocking them.
macro_rules! visible_to_viewer {
    () => {
        "u.is_active AND u.deleted_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = $1 AND b.blocked_id = u.id) \
                                                OR (b.blocker_id = u.id AND b.blocked_id = $1))"
    };
}

impl Db {
    pub async fn insert_user(&self, user: &UserRow) -> Result<()> {
        let sql = concat!(
            "INSERT INTO users (",
            user_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             $20, $21, $22)"
        );
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.email)
            .bind(&user.display_name)
            .bind(&user.password_hash)
            .bind(user.is_admin)
            .bind(user.is_active)
            .bind(user.created_at)
            .bind(user.updated_at)
            .bind(&user.bio)
            .bind(&user.avatar_url)
            .bind(&user.locale)
            .bind(&user.time_zone)
            .bind(&user.search_key)
            .bind(&user.presence_visibility)
            .bind(&user.direct_messages_from)
            .bind(user.send_read_receipts)
            .bind(&user.status)
            .bind(&user.status_text)
            .bind(user.status_expires_at)
            .bind(user.last_seen_at)
            .bind(user.deleted_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// The user whose username or email is `login` (both are stored in lower case).
    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1 OR email = $1"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(login)
            .fetch_optional(p)
            .await)?)
    }

    pub async fn users_by_ids(&self, ids: &[String]) -> Result<Vec<UserRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = id_list_sql!(
            &self.read,
            concat!("SELECT ", user_columns!(), " FROM users WHERE id IN "),
            ""
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id_list(ids))
            .fetch_all(p)
            .await)?)
    }

    pub async fn username_exists(&self, username: &str) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM users WHERE username = $1";
        let n: i64 = on_pool!(&self.read, |p| sqlx::query_scalar(sql)
            .bind(username)
            .fetch_one(p)
            .await)?;
        Ok(n > 0)
    }

    pub async fn email_exists(&self, email: &str) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM users WHERE email = $1";
        let n: i64 = on_pool!(&self.read, |p| sqlx::query_scalar(sql)
            .bind(email)
            .fetch_one(p)
            .await)?;
        Ok(n > 0)
    }

    pub async fn set_admin(&self, user_id: &str, now: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE users SET is_admin = TRUE, updated_at = $2 WHERE id = $1";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(user_id)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Writes back the editable part of a profile. A deactivation ends every session
    /// in the same transaction.
    pub async fn update_profile(&self, user: &UserRow) -> Result<()> {
        let sql = "UPDATE users SET email = $2, display_name = $3, bio = $4, avatar_url = $5, locale = $6, \
                   time_zone = $7, search_key = $8, presence_visibility = $9, direct_messages_from = $10, \
                   send_read_receipts = $11, is_active = $12, updated_at = $13 WHERE id = $1";
        on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(sql)
                .bind(&user.id)
                .bind(&user.email)
                .bind(&user.display_name)
                .bind(&user.bio)
                .bind(&user.avatar_url)
                .bind(&user.locale)
                .bind(&user.time_zone)
                .bind(&user.search_key)
                .bind(&user.presence_visibility)
                .bind(&user.direct_messages_from)
                .bind(user.send_read_receipts)
                .bind(user.is_active)
                .bind(user.updated_at)
                .execute(&mut *tx)
                .await?;
            if !user.is_active {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn set_status(
        &self,
        user_id: &str,
        status: &str,
        text: Option<&str>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let sql =
            "UPDATE users SET status = $2, status_text = $3, status_expires_at = $4 WHERE id = $1";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(user_id)
            .bind(status)
            .bind(text)
            .bind(expires_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records when users were last seen (kept in memory while they are around).
    /// A few statements of many rows each: on SQLite this shares the one write
    /// connection with the message writer, which a statement per user would hold up.
    pub async fn set_last_seen(&self, seen: &[(String, DateTime<Utc>)]) -> Result<()> {
        for chunk in seen.chunks(500) {
            let rows: Vec<serde_json::Value> = chunk
                .iter()
                .map(|(id, at)| serde_json::json!({"id": id, "at": super::json_time(*at)}))
                .collect();
            let rows = serde_json::Value::from(rows).to_string();
            on_pool!(&self.write, |p| {
                let mut conn = p.acquire().await?;
                let update = super::json_rows_sql!(
                    super::is_postgres(&*conn),
                    "UPDATE users SET last_seen_at = v.at FROM ",
                    [id "text", at "timestamptz"],
                    " WHERE users.id = v.id"
                );
                sqlx::query(update)
                    .bind(&rows)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ())
            })?;
        }
        Ok(())
    }

    /// A page of the users `viewer` may see whose search key contains `folded_query`:
    /// those where a name starts with it first, then the rest, by username.
    pub async fn search_users(
        &self,
        viewer: &str,
        folded_query: &str,
        skip: i64,
        limit: i64,
    ) -> Result<(Vec<UserRow>, i64)> {
        let escaped = folded_query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let (contains, prefix, word) = (
            format!("%{escaped}%"),
            format!("{escaped}%"),
            format!("% {escaped}%"),
        );
        let page = concat!(
            "SELECT ",
            user_columns!("u."),
            " FROM users u WHERE ",
            visible_to_viewer!(),
            " AND u.search_key LIKE $2 ESCAPE '\\' \
             ORDER BY CASE WHEN u.search_key LIKE $3 ESCAPE '\\' OR u.search_key LIKE $4 ESCAPE '\\' \
             THEN 0 ELSE 1 END, u.username LIMIT $5 OFFSET $6"
        );
        let count = concat!(
            "SELECT COUNT(*) FROM users u WHERE ",
            visible_to_viewer!(),
            " AND u.search_key LIKE $2 ESCAPE '\\'"
        );
        let rows = on_pool!(&self.read, |p| sqlx::query_as(page)
            .bind(viewer)
            .bind(&contains)
            .bind(&prefix)
            .bind(&word)
            .bind(limit)
            .bind(skip)
            .fetch_all(p)
            .await)?;
        let total = on_pool!(&self.read, |p| sqlx::query_scalar(count)
            .bind(viewer)
            .bind(&contains)
            .fetch_one(p)
            .await)?;
        Ok((rows, total))
    }

    /// Erases an account's personal data and everything that ties it to other people,
    /// keeping the row (and its id) so that what it wrote in shared chats still has an
    /// author: "Deleted user".
    pub async fn erase_user(&self, user_id: &str, now: DateTime<Utc>) -> Result<()> {
        let erase = "UPDATE users SET email = id || '@deleted.invalid', display_name = 'Deleted user', \
                     password_hash = '', bio = '', avatar_url = NULL, locale = NULL, time_zone = NULL, \
                     search_key = '', status = 'offline', status_text = NULL, status_expires_at = NULL, \
                     is_active = FALSE, is_admin = FALSE, deleted_at = $2, updated_at = $2 WHERE id = $1";
        on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(erase)
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            for sql in [
                "DELETE FROM sessions WHERE user_id = $1",
                "DELETE FROM password_resets WHERE user_id = $1",
                "DELETE FROM friend_requests WHERE from_user_id = $1 OR to_user_id = $1",
                "DELETE FROM friendships WHERE user_id = $1 OR friend_id = $1",
                "DELETE FROM blocks WHERE blocker_id = $1 OR blocked_id = $1",
                "DELETE FROM mutes WHERE muter_id = $1 OR muted_id = $1",
            ] {
                sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Frees the usernames of accounts deleted before `before`. The placeholder is
    /// longer than any real username, so it can never be taken.
    pub async fn release_deleted_usernames(&self, before: DateTime<Utc>) -> Result<u64> {
        let sql = "UPDATE users SET username = 'deleted-' || id \
                   WHERE deleted_at IS NOT NULL AND deleted_at <= $1 AND username NOT LIKE 'deleted-%'";
        Ok(on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(before)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?)
    }
}
