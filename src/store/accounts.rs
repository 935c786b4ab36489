//! Sessions, refresh tokens and password-reset tokens.

use chrono::{DateTime, Utc};

use super::{Db, on_pool};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub remember_me: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub remember_me: bool,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub refresh_hash: &'a str,
}

/// What presenting a refresh token led to.
pub enum Rotation {
    /// The token was current: it is now used, and `new_hash` is the session's token.
    Rotated(SessionRow),
    /// The token had been used before: the session is ended.
    Reused,
    /// No such token, or its session has ended.
    Invalid,
}

// The column list as a macro, so that `concat!` makes each query one `&'static str`.
macro_rules! session_columns {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "user_id, ",
            $p,
            "remember_me, ",
            $p,
            "user_agent, ",
            $p,
            "ip, ",
            $p,
            "created_at, ",
            $p,
            "last_used_at, ",
            $p,
            "expires_at"
        )
    };
}

impl Db {
    /// Sets a new password hash and ends every session of the user but `keep_session`.
    pub async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(user_id)
                .bind(password_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                .bind(user_id)
                .bind(keep_session.unwrap_or(""))
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM password_resets WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Creates a session with its first refresh token.
    pub async fn create_session(&self, s: NewSession<'_>) -> Result<()> {
        let insert_session = concat!(
            "INSERT INTO sessions (",
            session_columns!(""),
            ") VALUES ($1, $2, $3, $4, $5, $6, $6, $7)"
        );
        on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(insert_session)
                .bind(s.id)
                .bind(s.user_id)
                .bind(s.remember_me)
                .bind(s.user_agent)
                .bind(s.ip)
                .bind(s.now)
                .bind(s.expires_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
                .bind(s.refresh_hash)
                .bind(s.id)
                .bind(s.now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// The owner of a live session and whether they are an admin: the check behind every
    /// authenticated request (one primary-key lookup).
    pub async fn live_session_user(
        &self,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, bool)>> {
        let sql = "SELECT u.id, u.is_admin FROM sessions s JOIN users u ON u.id = s.user_id \
                   WHERE s.id = $1 AND s.expires_at > $2 AND u.is_active";
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(session_id)
            .bind(now)
            .fetch_optional(p)
            .await)?)
    }

    /// Uses a refresh token once: marks it used, stores its successor and slides the
    /// session's expiry, all in one transaction. `idle_secs(remember_me)` says how long
    /// the session may now stay unused.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: DateTime<Utc>,
        idle_secs: impl Fn(bool) -> i64,
    ) -> Result<Rotation> {
        let find = concat!(
            "SELECT ",
            session_columns!("s."),
            " FROM sessions s JOIN refresh_tokens t ON t.session_id = s.id \
             WHERE t.token_hash = $1 AND s.expires_at > $2"
        );
        let rotation = on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            let session: Option<SessionRow> = sqlx::query_as(find)
                .bind(old_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(mut session) = session else {
                return Ok(Rotation::Invalid);
            };
            let marked = sqlx::query(
                "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
            )
            .bind(old_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() == 0 {
                sqlx::query("DELETE FROM sessions WHERE id = $1")
                    .bind(&session.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(Rotation::Reused);
            }
            session.expires_at = now + chrono::Duration::seconds(idle_secs(session.remember_me));
            session.last_used_at = now;
            sqlx::query("UPDATE sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1")
                .bind(&session.id)
                .bind(now)
                .bind(session.expires_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
                .bind(new_hash)
                .bind(&session.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Rotation::Rotated(session))
        })?;
        Ok(rotation)
    }

    pub async fn sessions_of(&self, user_id: &str, now: DateTime<Utc>) -> Result<Vec<SessionRow>> {
        let sql = concat!(
            "SELECT ",
            session_columns!(""),
            " FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY last_used_at DESC"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(user_id)
            .bind(now)
            .fetch_all(p)
            .await)?)
    }

    /// Ends one session of a user; false when the user has no such session.
    pub async fn delete_session(&self, user_id: &str, session_id: &str) -> Result<bool> {
        let sql = "DELETE FROM sessions WHERE id = $1 AND user_id = $2";
        let done = on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(session_id)
            .bind(user_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Ends every session of a user.
    pub async fn delete_sessions_of(&self, user_id: &str) -> Result<()> {
        let sql = "DELETE FROM sessions WHERE user_id = $1";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(user_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn insert_password_reset(
        &self,
        token_hash: &str,
        user_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Spends a password-reset token: the user it belongs to, if it was valid and unused.
    pub async fn use_password_reset(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let sql = "UPDATE password_resets SET used_at = $2 \
                   WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id";
        Ok(on_pool!(&self.write, |p| sqlx::query_scalar(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(p)
            .await)?)
    }

    /// Removes sessions and reset tokens that can no longer be used.
    pub async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut removed = 0;
        for sql in [
            "DELETE FROM sessions WHERE expires_at <= $1",
            "DELETE FROM password_resets WHERE expires_at <= $1",
        ] {
            let done = on_pool!(&self.write, |p| sqlx::query(sql)
                .bind(now)
                .execute(p)
                .await
                .map(|r| r.rows_affected()))?;
            removed += done;
        }
        Ok(removed)
    }
}
