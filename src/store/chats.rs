//! Chats and their members: creation, settings, membership, my chat list, read pointers.
//!
//! Membership changes leave a system message in the same transaction (through
//! [`append_messages!`](super::messages)), so the history always tells what happened.

use chrono::{DateTime, Utc};

use super::messages::{MessageRow, append_messages};
use super::{Db, id_list, id_list_sql, on_pool};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChatRow {
    pub id: String,
    pub kind: String,
    pub name: Option<String>,
    pub description: String,
    pub avatar_url: Option<String>,
    pub direct_key: Option<String>,
    pub search_key: String,
    pub post_policy: String,
    pub add_policy: String,
    pub edit_policy: String,
    pub pin_policy: String,
    pub mention_all_policy: String,
    pub last_seq: i64,
    pub last_activity_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub chat_id: String,
    pub user_id: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
    pub read_seq: i64,
    pub read_at: Option<DateTime<Utc>>,
    pub muted_until: Option<DateTime<Utc>>,
    pub notify_level: String,
    pub pinned: bool,
    pub archived: bool,
    pub hidden_until_seq: Option<i64>,
}

/// One line of my chat list: the chat, my membership, counts and the last message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChatListRow {
    #[sqlx(flatten)]
    pub chat: ChatRow,
    #[sqlx(flatten)]
    pub member: MemberRow,
    pub unread_count: i64,
    pub mention_count: i64,
    pub thread_unread_count: i64,
    /// For a direct chat, the other person.
    pub other_user_id: Option<String>,
}

macro_rules! chat_columns {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "kind, ",
            $p,
            "name, ",
            $p,
            "description, ",
            $p,
            "avatar_url, ",
            $p,
            "direct_key, ",
            $p,
            "search_key, ",
            $p,
            "post_policy, ",
            $p,
            "add_policy, ",
            $p,
            "edit_policy, ",
            $p,
            "pin_policy, ",
            $p,
            "mention_all_policy, ",
            $p,
            "last_seq, ",
            $p,
            "last_activity_at, ",
            $p,
            "created_by, ",
            $p,
            "created_at, ",
            $p,
            "updated_at, ",
            $p,
            "deleted_at"
        )
    };
}

macro_rules! member_columns {
    ($p:literal) => {
        concat!(
            $p,
            "chat_id, ",
            $p,
            "user_id, ",
            $p,
            "role, ",
            $p,
            "joined_at, ",
            $p,
            "read_seq, ",
            $p,
            "read_at, ",
            $p,
            "muted_until, ",
            $p,
            "notify_level, ",
            $p,
            "pinned, ",
            $p,
            "archived, ",
            $p,
            "hidden_until_seq"
        )
    };
}

/// Inserts members (user id, role) into a chat, inside a transaction.
macro_rules! insert_members {
    ($tx:expr, $chat_id:expr, $members:expr, $now:expr) => {
        for (user_id, role) in $members {
            sqlx::query(
                "INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind($chat_id)
            .bind(user_id)
            .bind(role)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        }
    };
}

/// Removes a member, remembering when they were there, inside a transaction.
macro_rules! remove_member {
    ($tx:expr, $chat_id:expr, $user_id:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO chat_departures (chat_id, user_id, joined_at, left_at, left_seq) \
             SELECT m.chat_id, m.user_id, m.joined_at, $3, c.last_seq FROM chat_members m \
             JOIN chats c ON c.id = m.chat_id WHERE m.chat_id = $1 AND m.user_id = $2",
        )
        .bind($chat_id)
        .bind($user_id)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2")
            .bind($chat_id)
            .bind($user_id)
            .execute(&mut *$tx)
            .await?;
    };
}

/// Unread messages of member `m` in chat `c`: text messages after the read pointer,
/// not deleted, from others. Computed from ordinals, not by counting rows, so it costs
/// a few index lookups however many are unread. (The sender's own messages are never
/// after their pointer: sending moves it.)
macro_rules! unread_count_sql {
    () => {
        "(c.text_count \
          - COALESCE((SELECT x.ord FROM messages x WHERE x.chat_id = c.id AND x.seq <= m.read_seq \
                      AND x.ord > 0 ORDER BY x.seq DESC LIMIT 1), 0) \
          - (SELECT COUNT(*) FROM messages d WHERE d.chat_id = c.id AND d.seq > m.read_seq \
             AND d.deleted_at IS NOT NULL AND d.ord > 0))"
    };
}

/// Mentions of `$1` in chat `c` after member `m`'s read pointer (one index range),
/// in the main timeline (those in thread-only replies count in their thread).
macro_rules! mention_count_sql {
    () => {
        "(SELECT COUNT(*) FROM message_mentions mm WHERE mm.user_id = $1 AND mm.chat_id = c.id \
          AND mm.seq > m.read_seq AND NOT EXISTS (SELECT 1 FROM messages t WHERE t.id = mm.message_id \
          AND t.thread_root_id IS NOT NULL AND NOT t.also_in_chat))"
    };
}

/// Unread replies for `$1` in the threads they follow in chat `c` (not in `unread_count`).
macro_rules! thread_unread_count_sql {
    () => {
        concat!(
            "(SELECT CAST(COALESCE(SUM(",
            $crate::store::threads::thread_unread_sql!("f"),
            "), 0) AS BIGINT) FROM thread_follows f WHERE f.user_id = $1 AND f.chat_id = c.id AND f.following)"
        )
    };
}

/// The WHERE of my chat list: my memberships, live chats, not hidden, matching `$2`.
macro_rules! chat_list_filter {
    () => {
        " WHERE m.user_id = $1 AND c.deleted_at IS NULL \
          AND (m.hidden_until_seq IS NULL OR c.last_seq > m.hidden_until_seq) \
          AND ($2 = '%%' OR c.search_key LIKE $2 ESCAPE '\\' OR (c.kind = 'direct' AND EXISTS ( \
               SELECT 1 FROM chat_members o JOIN users u ON u.id = o.user_id \
               WHERE o.chat_id = c.id AND o.user_id <> $1 AND u.search_key LIKE $2 ESCAPE '\\')))"
    };
}

/// A membership change to make, with the system message that tells it.
pub enum MemberChange {
    Add(Vec<String>),
    Remove(String),
    /// A member leaves; `new_owner` takes over if the one leaving owned the chat.
    Leave {
        user_id: String,
        new_owner: Option<String>,
    },
    SetRole {
        user_id: String,
        role: String,
        demote_owner: Option<String>,
    },
}

impl Db {
    /// Creates a chat with its members and its first system message (returned as stored).
    pub async fn create_chat(
        &self,
        chat: &ChatRow,
        members: &[(String, String)],
        system: Option<MessageRow>,
    ) -> Result<Vec<MessageRow>> {
        let insert = concat!(
            "INSERT INTO chats (",
            chat_columns!(""),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        Ok(on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(insert)
                .bind(&chat.id)
                .bind(&chat.kind)
                .bind(&chat.name)
                .bind(&chat.description)
                .bind(&chat.avatar_url)
                .bind(&chat.direct_key)
                .bind(&chat.search_key)
                .bind(&chat.post_policy)
                .bind(&chat.add_policy)
                .bind(&chat.edit_policy)
                .bind(&chat.pin_policy)
                .bind(&chat.mention_all_policy)
                .bind(chat.last_seq)
                .bind(chat.last_activity_at)
                .bind(&chat.created_by)
                .bind(chat.created_at)
                .bind(chat.updated_at)
                .bind(chat.deleted_at)
                .execute(&mut *tx)
                .await?;
            insert_members!(tx, &chat.id, members, chat.created_at);
            let appended = match system {
                Some(system) => append_messages!(tx, vec![system]),
                None => Vec::new(),
            };
            tx.commit().await?;
            Ok::<_, sqlx::Error>(appended)
        })?)
    }

    pub async fn chat(&self, chat_id: &str) -> Result<Option<ChatRow>> {
        let sql = concat!(
            "SELECT ",
            chat_columns!(""),
            " FROM chats WHERE id = $1 AND deleted_at IS NULL"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(chat_id)
            .fetch_optional(p)
            .await)?)
    }

    pub async fn direct_chat(&self, direct_key: &str) -> Result<Option<ChatRow>> {
        let sql = concat!(
            "SELECT ",
            chat_columns!(""),
            " FROM chats WHERE direct_key = $1 AND deleted_at IS NULL"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(direct_key)
            .fetch_optional(p)
            .await)?)
    }

    /// A live chat, this user's membership of it, and for a direct chat whether either
    /// person blocks the other, in one read (the check before almost everything done in
    /// a chat, and every send).
    pub async fn chat_member_and_block(
        &self,
        chat_id: &str,
        user_id: &str,
    ) -> Result<Option<(ChatRow, MemberRow, bool)>> {
        #[derive(sqlx::FromRow)]
        struct All {
            #[sqlx(flatten)]
            chat: ChatRow,
            #[sqlx(flatten)]
            member: MemberRow,
            blocked: bool,
        }
        // A direct chat's key is its two people, "<smaller id>:<larger id>", so a block
        // between them is the one whose pair, in either order, is that key.
        let sql = concat!(
            "SELECT ",
            chat_columns!("c."),
            ", ",
            member_columns!("m."),
            ", (c.kind = 'direct' AND EXISTS (SELECT 1 FROM blocks b \
               WHERE (b.blocker_id = $2 OR b.blocked_id = $2) \
               AND (b.blocker_id || ':' || b.blocked_id = c.direct_key \
                    OR b.blocked_id || ':' || b.blocker_id = c.direct_key))) AS blocked \
             FROM chats c JOIN chat_members m ON m.chat_id = c.id AND m.user_id = $2 \
             WHERE c.id = $1 AND c.deleted_at IS NULL"
        );
        let all: Option<All> = on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(chat_id)
            .bind(user_id)
            .fetch_optional(p)
            .await)?;
        Ok(all.map(|a| (a.chat, a.member, a.blocked)))
    }

    pub async fn member(&self, chat_id: &str, user_id: &str) -> Result<Option<MemberRow>> {
        let sql = concat!(
            "SELECT ",
            member_columns!(""),
            " FROM chat_members WHERE chat_id = $1 AND user_id = $2"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(chat_id)
            .bind(user_id)
            .fetch_optional(p)
            .await)?)
    }

    /// Members, longest-standing first.
    pub async fn members(&self, chat_id: &str) -> Result<Vec<MemberRow>> {
        let sql = concat!(
            "SELECT ",
            member_columns!(""),
            " FROM chat_members WHERE chat_id = $1 ORDER BY joined_at, user_id"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_as(sql)
            .bind(chat_id)
            .fetch_all(p)
            .await)?)
    }

    pub async fn member_count(&self, chat_id: &str) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM chat_members WHERE chat_id = $1";
        Ok(on_pool!(&self.read, |p| sqlx::query_scalar(sql)
            .bind(chat_id)
            .fetch_one(p)
            .await)?)
    }

    /// My chats, pinned first, then by latest activity; `folded_query` (may be empty)
    /// matches group names and the other person's names in direct chats.
    pub async fn chat_list(
        &self,
        user_id: &str,
        folded_query: &str,
        skip: i64,
        limit: i64,
    ) -> Result<(Vec<ChatListRow>, i64)> {
        let pattern = format!(
            "%{}%",
            folded_query
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let list = concat!(
            "SELECT ",
            chat_columns!("c."),
            ", ",
            member_columns!("m."),
            ", ",
            unread_count_sql!(),
            " AS unread_count, ",
            mention_count_sql!(),
            " AS mention_count, ",
            thread_unread_count_sql!(),
            " AS thread_unread_count, \
               (SELECT o.user_id FROM chat_members o WHERE o.chat_id = c.id AND o.user_id <> $1 \
                 AND c.kind = 'direct' LIMIT 1) AS other_user_id",
            " FROM chat_members m JOIN chats c ON c.id = m.chat_id",
            chat_list_filter!(),
            " ORDER BY m.pinned DESC, c.last_activity_at DESC, c.id LIMIT $3 OFFSET $4"
        );
        let count = concat!(
            "SELECT COUNT(*) FROM chat_members m JOIN chats c ON c.id = m.chat_id",
            chat_list_filter!()
        );
        let rows = on_pool!(&self.read, |p| sqlx::query_as(list)
            .bind(user_id)
            .bind(&pattern)
            .bind(limit)
            .bind(skip)
            .fetch_all(p)
            .await)?;
        let total = on_pool!(&self.read, |p| sqlx::query_scalar(count)
            .bind(user_id)
            .bind(&pattern)
            .fetch_one(p)
            .await)?;
        Ok((rows, total))
    }

    /// Writes back a chat's name, description, avatar and policies, with the system
    /// message that tells it, if any (returned as stored).
    pub async fn update_chat(
        &self,
        chat: &ChatRow,
        system: Option<MessageRow>,
    ) -> Result<Vec<MessageRow>> {
        let sql = "UPDATE chats SET name = $2, description = $3, avatar_url = $4, search_key = $5, \
                   post_policy = $6, add_policy = $7, edit_policy = $8, updated_at = $9, \
                   pin_policy = $10, mention_all_policy = $11 WHERE id = $1";
        Ok(on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(sql)
                .bind(&chat.id)
                .bind(&chat.name)
                .bind(&chat.description)
                .bind(&chat.avatar_url)
                .bind(&chat.search_key)
                .bind(&chat.post_policy)
                .bind(&chat.add_policy)
                .bind(&chat.edit_policy)
                .bind(chat.updated_at)
                .bind(&chat.pin_policy)
                .bind(&chat.mention_all_policy)
                .execute(&mut *tx)
                .await?;
            let appended = match system {
                Some(system) => append_messages!(tx, vec![system]),
                None => Vec::new(),
            };
            tx.commit().await?;
            Ok::<_, sqlx::Error>(appended)
        })?)
    }

    /// Deletes a chat for everyone: it disappears from every list; its rows stay for
    /// the retention and export issues to handle.
    pub async fn delete_chat(&self, chat_id: &str, now: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE chats SET deleted_at = $2, updated_at = $2 WHERE id = $1";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(chat_id)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Applies a membership change and its system message in one transaction; returns
    /// the system message as stored.
    pub async fn change_members(
        &self,
        chat_id: &str,
        change: MemberChange,
        system: MessageRow,
        now: DateTime<Utc>,
    ) -> Result<Vec<MessageRow>> {
        Ok(on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            // The chat's row first, as the message writer takes it (chats, then
            // chat_members): in the other order a member removed while sending could
            // deadlock with the writer on PostgreSQL.
            sqlx::query("UPDATE chats SET last_seq = last_seq WHERE id = $1")
                .bind(chat_id)
                .execute(&mut *tx)
                .await?;
            match &change {
                MemberChange::Add(user_ids) => {
                    let members = user_ids.iter().map(|id| (id.as_str(), "member"));
                    insert_members!(tx, chat_id, members, now);
                }
                MemberChange::Remove(user_id) => {
                    remove_member!(tx, chat_id, user_id, now);
                }
                MemberChange::Leave { user_id, new_owner } => {
                    remove_member!(tx, chat_id, user_id, now);
                    if let Some(owner) = new_owner {
                        sqlx::query("UPDATE chat_members SET role = 'owner' WHERE chat_id = $1 AND user_id = $2")
                            .bind(chat_id)
                            .bind(owner)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                MemberChange::SetRole {
                    user_id,
                    role,
                    demote_owner,
                } => {
                    if let Some(old_owner) = demote_owner {
                        sqlx::query("UPDATE chat_members SET role = 'admin' WHERE chat_id = $1 AND user_id = $2")
                            .bind(chat_id)
                            .bind(old_owner)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query(
                        "UPDATE chat_members SET role = $3 WHERE chat_id = $1 AND user_id = $2",
                    )
                    .bind(chat_id)
                    .bind(user_id)
                    .bind(role)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            let appended = append_messages!(tx, vec![system]);
            tx.commit().await?;
            Ok::<_, sqlx::Error>(appended)
        })?)
    }

    /// My settings for a chat.
    pub async fn update_member_settings(&self, m: &MemberRow) -> Result<()> {
        let sql = "UPDATE chat_members SET muted_until = $3, notify_level = $4, pinned = $5, archived = $6, \
                   hidden_until_seq = $7 WHERE chat_id = $1 AND user_id = $2";
        on_pool!(&self.write, |p| sqlx::query(sql)
            .bind(&m.chat_id)
            .bind(&m.user_id)
            .bind(m.muted_until)
            .bind(&m.notify_level)
            .bind(m.pinned)
            .bind(m.archived)
            .bind(m.hidden_until_seq)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Moves my read pointer forward to `up_to_seq` (never back, never past the end);
    /// returns where it stands.
    pub async fn mark_read(
        &self,
        chat_id: &str,
        user_id: &str,
        up_to_seq: i64,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let sql = "UPDATE chat_members SET read_seq = $3, read_at = $4 \
                   WHERE chat_id = $1 AND user_id = $2 AND read_seq < $3";
        let clamp = "SELECT last_seq FROM chats WHERE id = $1";
        on_pool!(&self.write, |p| {
            let mut tx = p.begin().await?;
            let last_seq: i64 = sqlx::query_scalar(clamp)
                .bind(chat_id)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(sql)
                .bind(chat_id)
                .bind(user_id)
                .bind(up_to_seq.min(last_seq))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(self
            .member(chat_id, user_id)
            .await?
            .map(|m| m.read_seq)
            .unwrap_or(0))
    }

    /// Every live chat of a user, with where it stands for them (for the `ready` frame).
    pub async fn ready_chats(&self, user_id: &str) -> Result<Vec<crate::domain::event::ReadyChat>> {
        let sql = concat!(
            "SELECT c.id, c.last_seq, m.read_seq, ",
            unread_count_sql!(),
            " AS unread_count, ",
            thread_unread_count_sql!(),
            " AS thread_unread_count FROM chat_members m JOIN chats c ON c.id = m.chat_id \
             WHERE m.user_id = $1 AND c.deleted_at IS NULL"
        );
        let rows: Vec<(String, i64, i64, i64, i64)> =
            on_pool!(&self.read, |p| sqlx::query_as(sql)
                .bind(user_id)
                .fetch_all(p)
                .await)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, last_seq, read_seq, unread_count, thread_unread_count)| {
                    crate::domain::event::ReadyChat {
                        id,
                        last_seq,
                        read_seq,
                        unread_count,
                        thread_unread_count,
                    }
                },
            )
            .collect())
    }

    /// The members of a chat with these usernames.
    pub async fn member_ids_by_username(
        &self,
        chat_id: &str,
        usernames: &[String],
    ) -> Result<Vec<String>> {
        let sql = id_list_sql!(
            &self.read,
            "SELECT u.id FROM users u JOIN chat_members m ON m.user_id = u.id AND m.chat_id = $2 WHERE u.username IN ",
            ""
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_scalar(sql)
            .bind(id_list(usernames))
            .bind(chat_id)
            .fetch_all(p)
            .await)?)
    }

    /// My unread messages in a chat (see `unread_count_sql!`).
    pub async fn unread_count(&self, chat_id: &str, user_id: &str) -> Result<i64> {
        let sql = concat!(
            "SELECT ",
            unread_count_sql!(),
            " FROM chat_members m JOIN chats c ON c.id = m.chat_id WHERE m.user_id = $1 AND m.chat_id = $2"
        );
        Ok(on_pool!(&self.read, |p| sqlx::query_scalar(sql)
            .bind(user_id)
            .bind(chat_id)
            .fetch_one(p)
            .await)?)
    }
}
