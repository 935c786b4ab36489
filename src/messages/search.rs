//! Message search: parse what people type (words, "phrases", -exclusions), look in
//! the chats they are in, and show where each result matched.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{MessageView, views_of};
use crate::auth::AuthUser;
use crate::domain::search_fold;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;
use crate::store::{SearchEntry, SearchHit, SearchKey, SearchQuery, Tier};

const QUERY_MAX: usize = 200;
const TERMS_MAX: usize = 10;

/// What a text message is found by.
pub fn entry(content: &str) -> SearchEntry {
    let lower = content.to_lowercase();
    SearchEntry {
        text: search_fold(content),
        has_link: lower.contains("http://") || lower.contains("https://") || lower.contains("www."),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words (all must occur, whole or as parts of words, in any script, accents
    /// ignored), "phrases in quotes", and -words to exclude.
    pub q: String,
    pub chat_id: Option<String>,
    pub sender_id: Option<String>,
    pub before: Option<DateTime<Utc>>,
    pub after: Option<DateTime<Utc>>,
    /// `file` or `link`.
    pub has: Option<String>,
    /// 1-50, default 20.
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    pub message: MessageView,
    /// The group's name; null for a direct chat.
    pub chat_name: Option<String>,
    pub chat_type: String,
    /// Where it matched, HTML-escaped, the matches in `<mark>`.
    pub snippet_html: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    pub results: Vec<SearchResult>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

fn invalid(field: &str, msg: &str, input: &str) -> Error {
    Error::Validation(vec![FieldError::new(
        "value_error",
        &["query", field],
        msg,
        serde_json::Value::from(input),
    )])
}

/// Splits a query into folded terms and exclusions.
fn parse(q: &str) -> Result<(Vec<String>, Vec<String>)> {
    if q.chars().count() > QUERY_MAX {
        return Err(invalid("q", "must be at most 200 characters", ""));
    }
    let (mut terms, mut excluded) = (Vec::new(), Vec::new());
    let mut rest = q.trim();
    while !rest.is_empty() {
        let negative = rest.starts_with('-');
        let body = if negative { &rest[1..] } else { rest };
        let (raw, after) = if let Some(quoted) = body.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match body.find(char::is_whitespace) {
                Some(end) => (&body[..end], &body[end..]),
                None => (body, ""),
            }
        };
        let term = search_fold(raw.trim());
        if !term.is_empty() {
            if negative { &mut excluded } else { &mut terms }.push(term);
        }
        rest = after.trim_start();
    }
    if terms.is_empty() {
        return Err(invalid("q", "must contain something to look for", q));
    }
    if terms.len() + excluded.len() > TERMS_MAX {
        return Err(invalid("q", "at most 10 words or phrases", q));
    }
    Ok((terms, excluded))
}

pub async fn search(
    state: &AppState,
    viewer: &AuthUser,
    params: SearchParams,
) -> Result<SearchPage> {
    let (terms, excluded) = parse(&params.q)?;
    let limit = params.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(invalid(
            "limit",
            "must be between 1 and 50",
            &limit.to_string(),
        ));
    }
    let bad_cursor = |c: &str| invalid("cursor", "is not one we gave", c);
    let (mut tier, mut after_key) = match &params.cursor {
        None => (Tier::Words, None),
        Some(c) => parse_cursor(c).ok_or_else(|| bad_cursor(c))?,
    };
    let (has_file, has_link) = match params.has.as_deref() {
        None => (false, false),
        Some("file") => (true, false),
        Some("link") => (false, true),
        Some(other) => return Err(invalid("has", "must be file or link", other)),
    };
    let query = SearchQuery {
        terms: terms.clone(),
        excluded,
        chat_id: params.chat_id,
        sender_id: params.sender_id,
        before: params.before,
        after: params.after,
        has_file,
        has_link,
    };
    // Whole-word matches first, then parts of words; a page may span both.
    let mut hits = Vec::new();
    let mut next_cursor = None;
    loop {
        let wanted = limit - hits.len() as i64;
        let mut page = state
            .db
            .search_messages(
                &viewer.user_id,
                &query,
                tier,
                after_key.as_ref(),
                wanted + 1,
            )
            .await?;
        if page.len() as i64 > wanted {
            page.truncate(wanted as usize);
            let last = page.last().map(key_of);
            next_cursor = last.map(|k| cursor(tier, &k));
            hits.extend(page);
            break;
        }
        hits.extend(page);
        match tier {
            Tier::Words => {
                tier = Tier::Parts;
                after_key = None;
                if hits.len() as i64 == limit {
                    // A full page of whole words: is there anything after it?
                    let peek = state
                        .db
                        .search_messages(&viewer.user_id, &query, Tier::Parts, None, 1)
                        .await?;
                    next_cursor = (!peek.is_empty()).then(|| "p".into());
                    break;
                }
            }
            Tier::Parts => break,
        }
    }
    let rows: Vec<_> = hits.into_iter().map(|h| h.message).collect();
    let snippets: Vec<String> = rows.iter().map(|r| snippet(&r.content, &terms)).collect();
    let views = views_of(state, viewer, rows).await?;
    let mut chats = std::collections::HashMap::new();
    let mut results = Vec::with_capacity(views.len());
    for (message, snippet_html) in views.into_iter().zip(snippets) {
        if !chats.contains_key(&message.chat_id) {
            let chat = state.db.chat(&message.chat_id).await?;
            chats.insert(message.chat_id.clone(), chat);
        }
        let chat = chats.get(&message.chat_id).and_then(|c| c.as_ref());
        results.push(SearchResult {
            chat_name: chat.and_then(|c| c.name.clone()),
            chat_type: chat.map_or("group".into(), |c| c.kind.clone()),
            message,
            snippet_html,
        });
    }
    Ok(SearchPage {
        results,
        next_cursor,
    })
}

fn key_of(hit: &SearchHit) -> SearchKey {
    SearchKey {
        rowid: hit.key_rowid,
        created_at: hit.message.created_at,
        message_id: hit.message.id.clone(),
    }
}

/// `w` or `p` (the tier), then where the last page ended: `w.<rowid>.<µs>.<id>`.
fn cursor(tier: Tier, key: &SearchKey) -> String {
    let t = if tier == Tier::Words { "w" } else { "p" };
    format!(
        "{t}.{}.{}.{}",
        key.rowid,
        key.created_at.timestamp_micros(),
        key.message_id
    )
}

fn parse_cursor(text: &str) -> Option<(Tier, Option<SearchKey>)> {
    let mut parts = text.splitn(4, '.');
    let tier = match parts.next()? {
        "w" => Tier::Words,
        "p" => Tier::Parts,
        _ => return None,
    };
    let Some(rowid) = parts.next() else {
        return Some((tier, None));
    };
    let key = SearchKey {
        rowid: rowid.parse().ok()?,
        created_at: DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?,
        message_id: parts
            .next()
            .filter(|id| crate::domain::is_id(id))?
            .to_string(),
    };
    Some((tier, Some(key)))
}

/// Up to about 160 characters of `content` around its first match, HTML-escaped,
/// every match of a term in `<mark>`. Matching is on folded text, mapped back to
/// the original characters.
pub fn snippet(content: &str, terms: &[String]) -> String {
    let chars: Vec<char> = content.chars().collect();
    // The folded text, and for each of its chars the original char it came from.
    let (mut folded, mut origin) = (Vec::new(), Vec::new());
    for (i, c) in chars.iter().enumerate() {
        for f in search_fold(&c.to_string()).chars() {
            folded.push(f);
            origin.push(i);
        }
    }
    let mut marked = vec![false; chars.len()];
    let mut first = None;
    for term in terms {
        let term: Vec<char> = term.chars().collect();
        if term.is_empty() || term.len() > folded.len() {
            continue;
        }
        for start in 0..=folded.len() - term.len() {
            if folded[start..start + term.len()] == term[..] {
                let (from, to) = (origin[start], origin[start + term.len() - 1]);
                first = Some(first.map_or(from, |f: usize| f.min(from)));
                for m in &mut marked[from..=to] {
                    *m = true;
                }
            }
        }
    }
    let begin = first.map_or(0, |f| f.saturating_sub(60));
    let end = (begin + 160).min(chars.len());
    let mut out = String::new();
    if begin > 0 {
        out.push('…');
    }
    let mut open = false;
    for i in begin..end {
        if marked[i] != open {
            out.push_str(if marked[i] { "<mark>" } else { "</mark>" });
            open = marked[i];
        }
        match chars[i] {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_split_into_terms_phrases_and_exclusions() {
        let (terms, excluded) = parse(r#"Café "big  plan" -draft 東京"#).unwrap();
        assert_eq!(terms, vec!["cafe", "big  plan", "東京"]);
        assert_eq!(excluded, vec!["draft"]);
        assert!(parse("   ").is_err());
        assert!(parse("-only").is_err());
    }

    #[test]
    fn snippets_mark_matches_in_the_original_text_and_escape_it() {
        assert_eq!(
            snippet("Meet at the Café <b>now</b>", &["cafe".into()]),
            "Meet at the <mark>Café</mark> &lt;b&gt;now&lt;/b&gt;"
        );
        assert_eq!(
            snippet("東京タワーに行く", &["タワー".into()]),
            "東京<mark>タワー</mark>に行く"
        );
    }
}
