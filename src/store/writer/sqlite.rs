//! A batch on SQLite: one transaction on the write connection, a statement per step.
//! Each is a call into the database in this process, not a round trip, so there is
//! nothing to gain from folding them into one.

use sqlx::SqlitePool;

use super::{Appended, NewMessage, append_extras};
use crate::store::messages::{append_messages, message_columns};
use crate::store::{MessageRow, json_rows_sql, json_time};

/// Commits `batch` (no `client_id` twice); each send becomes a new message or, for a
/// retry already stored, that message.
pub(super) async fn commit(
    pool: &SqlitePool,
    batch: &[&NewMessage],
) -> Result<Vec<Option<Appended>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let stored = stored_retries(&mut tx, batch).await?;
    let stored_of = |send: &NewMessage| {
        let row = &send.row;
        row.client_id.as_ref()?;
        stored.iter().find(|m| {
            (&m.chat_id, &m.sender_id, &m.client_id)
                == (&row.chat_id, &row.sender_id, &row.client_id)
        })
    };
    let fresh: Vec<&NewMessage> = batch
        .iter()
        .copied()
        .filter(|s| stored_of(s).is_none())
        .collect();
    let appended = if fresh.is_empty() {
        Vec::new()
    } else {
        append_messages!(tx, fresh.iter().map(|send| send.row.clone()).collect())
    };
    let searchable: Vec<serde_json::Value> = appended
        .iter()
        .zip(&fresh)
        .filter_map(|(m, send)| {
            let search = send.search.as_ref()?;
            Some(serde_json::json!({
                "message_id": m.id, "chat_id": m.chat_id, "sender_id": m.sender_id,
                "created_at": json_time(m.created_at),
                "has_file": !send.attachments.is_empty(), "has_link": search.has_link,
                "text": search.text,
            }))
        })
        .collect();
    if !searchable.is_empty() {
        let insert = json_rows_sql!(
            false,
            "INSERT INTO message_search (message_id, chat_id, sender_id, created_at, has_file, has_link, text) \
             SELECT message_id, chat_id, sender_id, created_at, has_file, has_link, text FROM ",
            [
                message_id "text", chat_id "text", sender_id "text", created_at "timestamptz",
                has_file "boolean", has_link "boolean", text "text",
            ],
            ""
        );
        sqlx::query(insert)
            .bind(serde_json::Value::from(searchable).to_string())
            .execute(&mut *tx)
            .await?;
    }
    append_extras!(tx, appended.iter().zip(fresh.iter().copied()));
    tx.commit().await?;
    let mut appended = appended.into_iter();
    Ok(batch
        .iter()
        .map(|send| match stored_of(send) {
            Some(row) => Some(Appended::Existing(row.clone())),
            None => appended.next().map(Appended::New),
        })
        .collect())
}

/// The messages already stored under the `client_id`s of this batch (retries), in one
/// read.
async fn stored_retries(
    tx: &mut sqlx::SqliteConnection,
    batch: &[&NewMessage],
) -> Result<Vec<MessageRow>, sqlx::Error> {
    let keys: Vec<serde_json::Value> = batch
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
        return Ok(Vec::new());
    }
    let select = json_rows_sql!(
        false,
        concat!("SELECT ", message_columns!("m."), " FROM "),
        [chat_id "text", sender_id "text", client_id "text"],
        " JOIN messages m ON m.chat_id = v.chat_id AND m.sender_id = v.sender_id \
         AND m.client_id = v.client_id AND m.client_id IS NOT NULL"
    );
    sqlx::query_as(select)
        .bind(serde_json::Value::from(keys).to_string())
        .fetch_all(tx)
        .await
}
