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
}

/// Results come in two tiers: messages where every term is a whole word (or
/// phrase), then those where some term is only part of a word. Each is newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Words,
    Parts,
}

/// Where a page ended, to start the next one after it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchKey {
    /// SQLite: the row's place in message_search (rows go in as messages do).
    pub rowid: i64,
    /// PostgreSQL: its time and id.
    pub created_at: DateTime<Utc>,
    pub message_id: String,
}

#[derive(sqlx::FromRow)]
pub struct SearchHit {
    #[sqlx(flatten)]
    pub message: MessageRow,
    pub key_rowid: i64,
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

/// The chats whose messages `user_id` may find, as `cm (chat_id, upto_at)`: the
/// chats they are in (no bound), and the chats they left, up to when they left.
fn push_visible_chats(parts: &mut Vec<Part>, user_id: &str) {
    parts.push(Part::Sql(
        "(SELECT chat_id, CAST(NULL AS TIMESTAMPTZ) AS upto_at FROM chat_members WHERE user_id = "
            .into(),
    ));
    parts.push(Part::Bind(user_id.into()));
    parts.push(Part::Sql(
        " UNION ALL SELECT d.chat_id, MAX(d.left_at) FROM chat_departures d WHERE d.user_id = "
            .into(),
    ));
    parts.push(Part::Bind(user_id.into()));
    parts.push(Part::Sql(
        " AND NOT EXISTS (SELECT 1 FROM chat_members x WHERE x.chat_id = d.chat_id AND x.user_id = ".into(),
    ));
    parts.push(Part::Bind(user_id.into()));
    parts.push(Part::Sql(") GROUP BY d.chat_id) cm".into()));
}

impl Db {
    /// One tier of matches in the chats `user_id` may search, newest first, after `key`.
    pub async fn search_messages(
        &self,
        user_id: &str,
        q: &SearchQuery,
        tier: Tier,
        after_key: Option<&SearchKey>,
        limit: i64,
    ) -> Result<Vec<SearchHit>> {
        let postgres = matches!(self.read, Pool::Postgres(_));
        // Whole words: only terms with a letter or digit make an FTS5 phrase.
        let words: Vec<String> = q
            .terms
            .iter()
            .filter(|t| t.chars().any(char::is_alphanumeric))
            .map(|t| fts_string(t))
            .collect();
        let long: Vec<String> = q
            .terms
            .iter()
            .filter(|t| t.chars().count() >= 3)
            .map(|t| fts_string(t))
            .collect();
        if tier == Tier::Words && words.len() < q.terms.len() {
            return Ok(Vec::new()); // some term has no word in it: only parts can match
        }
        let mut parts: Vec<Part> = Vec::new();
        let mut fts_table: Option<(&str, String)> = None;
        // The rowid the page is ordered and keyed by: the driving index's own.
        let rowid = match tier {
            Tier::Words => "message_search_words.rowid",
            Tier::Parts if !long.is_empty() => "message_search_trigrams.rowid",
            Tier::Parts => "ms.rowid",
        };
        let sql = |parts: &mut Vec<Part>, text: &str| parts.push(Part::Sql(text.to_string()));
        if postgres {
            // The page is chosen from message_search alone, and only its rows are
            // joined to messages. The planner picks between walking the newest-first
            // index (a common word: the first rows match) and the word index (a rare
            // word: few rows to sort) from the word index's statistics.
            sql(
                &mut parts,
                concat!(
                    "SELECT ",
                    message_columns!("m."),
                    ", CAST(0 AS BIGINT) AS key_rowid FROM (SELECT ms.message_id, ms.created_at \
                     FROM message_search ms JOIN "
                ),
            );
            push_visible_chats(&mut parts, user_id);
            sql(
                &mut parts,
                " ON cm.chat_id = ms.chat_id AND (cm.upto_at IS NULL OR ms.created_at <= cm.upto_at) WHERE 1 = 1",
            );
        } else {
            // SQLite walks the tier's FTS5 index newest first (rowid order is send
            // order) and stops at the page: no sorting of every match. CROSS JOIN
            // keeps the index the outer loop; left to itself the planner may scan
            // message_search in rowid order and probe the index for every row.
            let (from, fts) = match tier {
                Tier::Words => (
                    " FROM message_search_words CROSS JOIN message_search ms ON ms.rowid = message_search_words.rowid",
                    Some(("message_search_words", words.join(" AND "))),
                ),
                Tier::Parts if !long.is_empty() => (
                    " FROM message_search_trigrams CROSS JOIN message_search ms ON ms.rowid = message_search_trigrams.rowid",
                    Some(("message_search_trigrams", long.join(" AND "))),
                ),
                Tier::Parts => (" FROM message_search ms", None),
            };
            sql(
                &mut parts,
                concat!("SELECT ", message_columns!("m."), ", ms.rowid AS key_rowid"),
            );
            sql(&mut parts, from);
            fts_table = fts;
            sql(&mut parts, " JOIN ");
            push_visible_chats(&mut parts, user_id);
            sql(
                &mut parts,
                " ON cm.chat_id = ms.chat_id AND (cm.upto_at IS NULL OR ms.created_at <= cm.upto_at) \
                 JOIN messages m ON m.id = ms.message_id AND m.deleted_at IS NULL WHERE 1 = 1",
            );
        }
        match (postgres, tier) {
            (true, _) => {
                sql(
                    &mut parts,
                    if tier == Tier::Words {
                        " AND "
                    } else {
                        " AND NOT "
                    },
                );
                sql(
                    &mut parts,
                    "(to_tsvector('simple', ms.text) @@ (phraseto_tsquery('simple', ",
                );
                // Each term a phrase of its own, all of them required.
                let mut first = true;
                for term in &q.terms {
                    if !first {
                        sql(&mut parts, ") && phraseto_tsquery('simple', ");
                    }
                    first = false;
                    parts.push(Part::Bind(term.clone()));
                }
                sql(&mut parts, ")))");
            }
            (false, _) => {
                if let Some((table, query)) = &fts_table {
                    sql(&mut parts, &format!(" AND {table} MATCH "));
                    parts.push(Part::Bind(query.clone()));
                }
                if tier == Tier::Parts && words.len() == q.terms.len() {
                    sql(
                        &mut parts,
                        " AND NOT EXISTS (SELECT 1 FROM message_search_words WHERE message_search_words MATCH ",
                    );
                    parts.push(Part::Bind(words.join(" AND ")));
                    sql(&mut parts, " AND message_search_words.rowid = ms.rowid)");
                }
            }
        }
        for term in &q.terms {
            // On PostgreSQL the word index finds whole words: a plain word's match
            // already implies it is there, and a phrase is checked with strpos, which
            // the planner does not take for rare (as it would LIKE, then sort every
            // match of a common phrase instead of walking newest first).
            if postgres && tier == Tier::Words {
                if !term.chars().all(char::is_alphanumeric) {
                    sql(&mut parts, " AND strpos(ms.text, ");
                    parts.push(Part::Bind(term.clone()));
                    sql(&mut parts, ") > 0");
                }
                continue;
            }
            sql(&mut parts, " AND ms.text LIKE ");
            parts.push(Part::Bind(contains(term)));
            sql(&mut parts, " ESCAPE '\\'");
        }
        for term in &q.excluded {
            sql(&mut parts, " AND ms.text NOT LIKE ");
            parts.push(Part::Bind(contains(term)));
            sql(&mut parts, " ESCAPE '\\'");
        }
        if let Some(chat_id) = &q.chat_id {
            sql(&mut parts, " AND ms.chat_id = ");
            parts.push(Part::Bind(chat_id.clone()));
        }
        if let Some(sender_id) = &q.sender_id {
            sql(&mut parts, " AND ms.sender_id = ");
            parts.push(Part::Bind(sender_id.clone()));
        }
        if let Some(before) = q.before {
            sql(&mut parts, " AND ms.created_at < ");
            parts.push(Part::Time(before));
        }
        if let Some(after) = q.after {
            sql(&mut parts, " AND ms.created_at > ");
            parts.push(Part::Time(after));
        }
        if q.has_file {
            sql(&mut parts, " AND ms.has_file");
        }
        if q.has_link {
            sql(&mut parts, " AND ms.has_link");
        }
        match (postgres, after_key) {
            (true, Some(key)) => {
                // A row comparison, so the newest-first index can start right there.
                sql(&mut parts, " AND (ms.created_at, ms.message_id) < (");
                parts.push(Part::Time(key.created_at));
                sql(&mut parts, ", ");
                parts.push(Part::Bind(key.message_id.clone()));
                sql(&mut parts, ")");
            }
            (false, Some(key)) => {
                sql(&mut parts, &format!(" AND {rowid} < "));
                parts.push(Part::Int(key.rowid));
            }
            (_, None) => {}
        }
        if postgres {
            sql(
                &mut parts,
                " ORDER BY ms.created_at DESC, ms.message_id DESC LIMIT ",
            );
            parts.push(Part::Int(limit));
            sql(
                &mut parts,
                ") ms JOIN messages m ON m.id = ms.message_id AND m.deleted_at IS NULL \
                 ORDER BY ms.created_at DESC, ms.message_id DESC LIMIT ",
            );
        } else {
            sql(&mut parts, &format!(" ORDER BY {rowid} DESC LIMIT "));
        }
        parts.push(Part::Int(limit));
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
