//! Message search: the query over `message_search` (see migration 0006), one per
//! backend since their full-text indexes differ. Terms come folded (lower case, no
//! accents), as the indexed text is.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::messages::message_columns;
use super::{Db, MessageRow, Pool};
use crate::error::Result;

/// What search writes for a text message.
#[derive(Debug, Clone)]
pub struct SearchEntry {
    pub text: String,
    pub has_link: bool,
}

/// A parsed query and its filters.
#[derive(Debug, Default)]
pub struct SearchQuery {
    /// Words and quoted phrases, folded: each must occur.
    pub terms: Vec<String>,
    /// Folded: none may occur.
    pub excluded: Vec<String>,
    pub chat_id: Option<String>,
    pub sender_id: Option<String>,
    pub before: Option<DateTime<Utc>>,
    pub after: Option<DateTime<Utc>>,
    pub has_file: bool,
    pub has_link: bool,
    pub limit: i64,
    pub offset: i64,
}

#[derive(sqlx::FromRow)]
pub struct SearchHit {
    #[sqlx(flatten)]
    pub message: MessageRow,
    /// Matched as whole words, not only as parts of words: ranks first.
    pub word_hit: bool,
}

/// `%term%` for LIKE, with LIKE's own characters escaped.
fn contains(term: &str) -> String {
    let escaped = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// An FTS5 string: the term in double quotes, its quotes doubled.
fn fts_string(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// A piece of the search query: SQL text, or a value to bind.
enum Part {
    Sql(String),
    Bind(String),
    Time(DateTime<Utc>),
    Int(i64),
}

macro_rules! push_parts {
    ($b:expr, $parts:expr) => {
        for part in &$parts {
            match part {
                Part::Sql(text) => {
                    $b.push(text.as_str());
                }
                Part::Bind(value) => {
                    $b.push_bind(value.clone());
                }
                Part::Time(value) => {
                    $b.push_bind(*value);
                }
                Part::Int(value) => {
                    $b.push_bind(*value);
                }
            }
        }
    };
}

impl Db {
    /// Messages of chats `user_id` is a member of that match, best first: whole-word
    /// matches, then parts of words; newest first within each.
    pub async fn search_messages(&self, user_id: &str, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        let postgres = matches!(self.read, Pool::Postgres(_));
        // Whole words: only terms with a letter or digit make an FTS5 phrase.
        let words: Vec<String> = q
            .terms
            .iter()
            .filter(|t| t.chars().any(char::is_alphanumeric))
            .map(|t| fts_string(t))
            .collect();
        let mut parts: Vec<Part> = Vec::new();
        parts.push(Part::Sql(format!("SELECT {}, ", message_columns!("m."))));
        if postgres {
            parts.push(Part::Sql(
                "(to_tsvector('simple', ms.text) @@ plainto_tsquery('simple', ".into(),
            ));
            parts.push(Part::Bind(q.terms.join(" ")));
            parts.push(Part::Sql(")) AS word_hit ".into()));
        } else if words.is_empty() {
            parts.push(Part::Sql("0 AS word_hit ".into()));
        } else {
            parts.push(Part::Sql(
                "(ms.rowid IN (SELECT rowid FROM message_search_words WHERE message_search_words MATCH ".into(),
            ));
            parts.push(Part::Bind(words.join(" AND ")));
            parts.push(Part::Sql(")) AS word_hit ".into()));
        }
        parts.push(Part::Sql(
            "FROM message_search ms \
             JOIN chat_members cm ON cm.chat_id = ms.chat_id AND cm.user_id = "
                .into(),
        ));
        parts.push(Part::Bind(user_id.to_string()));
        parts.push(Part::Sql(
            " JOIN messages m ON m.id = ms.message_id AND m.deleted_at IS NULL WHERE 1 = 1".into(),
        ));
        // SQLite: the trigram index narrows to rows holding every term of 3+
        // characters; PostgreSQL's pg_trgm index serves the LIKEs below directly.
        let long: Vec<String> = q
            .terms
            .iter()
            .filter(|t| t.chars().count() >= 3)
            .map(|t| fts_string(t))
            .collect();
        if !postgres && !long.is_empty() {
            parts.push(Part::Sql(
                " AND ms.rowid IN (SELECT rowid FROM message_search_trigrams WHERE message_search_trigrams MATCH ".into(),
            ));
            parts.push(Part::Bind(long.join(" AND ")));
            parts.push(Part::Sql(")".into()));
        }
        for term in &q.terms {
            parts.push(Part::Sql(" AND ms.text LIKE ".into()));
            parts.push(Part::Bind(contains(term)));
            parts.push(Part::Sql(" ESCAPE '\\'".into()));
        }
        for term in &q.excluded {
            parts.push(Part::Sql(" AND ms.text NOT LIKE ".into()));
            parts.push(Part::Bind(contains(term)));
            parts.push(Part::Sql(" ESCAPE '\\'".into()));
        }
        if let Some(chat_id) = &q.chat_id {
            parts.push(Part::Sql(" AND ms.chat_id = ".into()));
            parts.push(Part::Bind(chat_id.clone()));
        }
        if let Some(sender_id) = &q.sender_id {
            parts.push(Part::Sql(" AND ms.sender_id = ".into()));
            parts.push(Part::Bind(sender_id.clone()));
        }
        if let Some(before) = q.before {
            parts.push(Part::Sql(" AND ms.created_at < ".into()));
            parts.push(Part::Time(before));
        }
        if let Some(after) = q.after {
            parts.push(Part::Sql(" AND ms.created_at > ".into()));
            parts.push(Part::Time(after));
        }
        if q.has_file {
            parts.push(Part::Sql(" AND ms.has_file".into()));
        }
        if q.has_link {
            parts.push(Part::Sql(" AND ms.has_link".into()));
        }
        parts.push(Part::Sql(
            " ORDER BY word_hit DESC, ms.created_at DESC, ms.message_id DESC LIMIT ".into(),
        ));
        parts.push(Part::Int(q.limit));
        parts.push(Part::Sql(" OFFSET ".into()));
        parts.push(Part::Int(q.offset));
        Ok(match &self.read {
            Pool::Sqlite(pool) => {
                let mut b: QueryBuilder<sqlx::Sqlite> = QueryBuilder::new("");
                push_parts!(b, parts);
                b.build_query_as().fetch_all(pool).await?
            }
            Pool::Postgres(pool) => {
                let mut b: QueryBuilder<sqlx::Postgres> = QueryBuilder::new("");
                push_parts!(b, parts);
                b.build_query_as().fetch_all(pool).await?
            }
        })
    }
}
