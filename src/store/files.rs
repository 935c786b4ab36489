//! Uploaded files and their attachment to messages.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Db, id_list, id_list_sql, on_pool};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FileRow {
    pub id: String,
    pub owner_id: Option<String>,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub name: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub has_thumbnail: bool,
    pub created_at: DateTime<Utc>,
}

macro_rules! file_columns {
    () => {
        "f.id, f.owner_id, f.sha256, f.size, f.content_type, f.name, f.width, f.height, \
         f.has_thumbnail, f.created_at"
    };
}

impl Db {
    pub async fn insert_file(&self, file: &FileRow) -> Result<()> {
        let sql = "INSERT INTO files (id, owner_id, sha256, size, content_type, name, width, height, \
                   has_thumbnail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(&file.id)
            .bind(&file.owner_id)
            .bind(&file.sha256)
            .bind(file.size)
            .bind(&file.content_type)
            .bind(&file.name)
            .bind(file.width)
            .bind(file.height)
            .bind(file.has_thumbnail)
            .bind(file.created_at)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn file(&self, id: &str) -> Result<Option<FileRow>> {
        let sql = concat!("SELECT ", file_columns!(), " FROM files f WHERE f.id = $1");
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Whether `user_id` may see the file: they uploaded it; it is attached to a
    /// message not deleted in a chat they are a member of; it is someone's avatar
    /// (profiles are for everyone), or the avatar of a chat of theirs.
    pub async fn may_see_file(&self, file_id: &str, user_id: &str) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM files WHERE id = $1 AND owner_id = $2) \
                   OR EXISTS (SELECT 1 FROM message_attachments a \
                     JOIN messages m ON m.id = a.message_id AND m.deleted_at IS NULL \
                     JOIN chat_members cm ON cm.chat_id = a.chat_id AND cm.user_id = $2 \
                     WHERE a.file_id = $1) \
                   OR EXISTS (SELECT 1 FROM users WHERE avatar_url = 'file:' || $1) \
                   OR EXISTS (SELECT 1 FROM chats c \
                     JOIN chat_members cm ON cm.chat_id = c.id AND cm.user_id = $2 \
                     WHERE c.avatar_url = 'file:' || $1)";
        let (seen,): (bool,) = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(file_id)
            .bind(user_id)
            .fetch_one(p)
            .await)?;
        Ok(seen)
    }

    /// Deletes the files created before `before` that no live message and no avatar
    /// refers to; returns their hashes.
    pub async fn delete_unreferenced_files(&self, before: DateTime<Utc>) -> Result<Vec<String>> {
        let sql = "DELETE FROM files WHERE created_at < $1 \
                   AND NOT EXISTS (SELECT 1 FROM message_attachments a \
                     JOIN messages m ON m.id = a.message_id AND m.deleted_at IS NULL \
                     WHERE a.file_id = files.id) \
                   AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_url = 'file:' || files.id) \
                   AND NOT EXISTS (SELECT 1 FROM chats c WHERE c.avatar_url = 'file:' || files.id) \
                   RETURNING sha256";
        let rows: Vec<(String,)> = on_pool!(&self.write, |p| sqlx::query_as(sql)
            .bind(before)
            .fetch_all(p)
            .await)?;
        let mut hashes: Vec<String> = rows.into_iter().map(|(h,)| h).collect();
        hashes.sort();
        hashes.dedup();
        Ok(hashes)
    }

    pub async fn file_hash_in_use(&self, sha256: &str) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = $1)";
        let (used,): (bool,) = on_pool!(&self.write, |p| sqlx::query_as(sql)
            .bind(sha256)
            .fetch_one(p)
            .await)?;
        Ok(used)
    }

    /// The bytes a user's files take (each upload counts, even of the same bytes).
    pub async fn bytes_used(&self, user_id: Option<&str>) -> Result<i64> {
        let sql = "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files \
                   WHERE $1 IS NULL OR owner_id = $1";
        let (used,): (i64,) = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(user_id)
            .fetch_one(p)
            .await)?;
        Ok(used)
    }

    /// The attachments of each message, in order, by message id.
    pub async fn attachments_of_many(
        &self,
        message_ids: &[String],
    ) -> Result<HashMap<String, Vec<FileRow>>> {
        if message_ids.is_empty() {
            return Ok(HashMap::new());
        }
        #[derive(sqlx::FromRow)]
        struct Attached {
            message_id: String,
            #[sqlx(flatten)]
            file: FileRow,
        }
        let sql = id_list_sql!(
            &self.read,
            concat!(
                "SELECT a.message_id, ",
                file_columns!(),
                " FROM message_attachments a JOIN files f ON f.id = a.file_id WHERE a.message_id IN "
            ),
            " ORDER BY a.message_id, a.position"
        );
        let rows: Vec<Attached> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(id_list(message_ids))
            .fetch_all(p)
            .await)?;
        let mut map: HashMap<String, Vec<FileRow>> = HashMap::new();
        for row in rows {
            map.entry(row.message_id).or_default().push(row.file);
        }
        Ok(map)
    }
}
