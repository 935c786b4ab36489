//! Threads: replies gathered under a root message, read in a side view instead of
//! the main timeline. A reply is sent like any message (with `thread_root_id`); this
//! module checks roots, pages replies, and keeps who follows what and what they have read.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{MessageView, message_in, views_of};
use crate::auth::AuthUser;
use crate::domain::event::ServerEvent;
use crate::domain::is_id;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;
use crate::store::{ChatRow, MessageRow, ThreadPage, now};

/// A thread as one person sees it; on its root once it has had a reply.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ThreadView {
    /// Live replies (deleted ones no longer count).
    pub reply_count: i64,
    pub last_reply_seq: Option<i64>,
    pub last_reply_at: Option<DateTime<Utc>>,
    /// Who replied, earliest first.
    pub participant_ids: Vec<String>,
    /// Whether I follow it: replies by others then count as unread for me.
    pub following: bool,
    /// Replies by others after my pointer in the thread (0 unless I follow it).
    pub unread_count: i64,
}

/// The part of a thread everyone sees the same, for `thread.updated`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ThreadSummary {
    pub reply_count: i64,
    pub last_reply_seq: Option<i64>,
    pub last_reply_at: Option<DateTime<Utc>>,
    pub participant_ids: Vec<String>,
}

/// The root a reply names: a live main-timeline text message of the same chat.
pub async fn check_root(state: &AppState, chat: &ChatRow, root_id: &str) -> Result<MessageRow> {
    let refuse = |msg: &str| Err(Error::invalid("thread_root_id", msg, root_id));
    if !is_id(root_id) {
        return refuse("no such message in this chat");
    }
    match state.db.message(&chat.id, root_id).await? {
        None => refuse("no such message in this chat"),
        Some(root) if root.kind != "text" || root.deleted_at.is_some() => {
            refuse("this message cannot have replies")
        }
        Some(root) if root.thread_root_id.is_some() => {
            refuse("is itself a reply: reply to its root")
        }
        Some(root) => Ok(root),
    }
}

/// Thread views of these roots, as `viewer` sees them.
pub async fn views_of_roots(
    state: &AppState,
    viewer: &AuthUser,
    roots: &[&MessageRow],
) -> Result<HashMap<String, ThreadView>> {
    let ids: Vec<String> = roots.iter().map(|r| r.id.clone()).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut people = state
        .db
        .thread_people_of_many(&ids, &viewer.user_id)
        .await?;
    let unread = state
        .db
        .thread_unread_of_many(&ids, &viewer.user_id)
        .await?;
    Ok(roots
        .iter()
        .map(|root| {
            let people = people.remove(&root.id).unwrap_or_default();
            let following = people
                .iter()
                .any(|p| p.user_id == viewer.user_id && p.following);
            let view = ThreadView {
                reply_count: root.reply_count,
                last_reply_seq: root.last_reply_seq,
                last_reply_at: root.last_reply_at,
                participant_ids: people
                    .into_iter()
                    .filter(|p| p.replied)
                    .map(|p| p.user_id)
                    .collect(),
                following,
                unread_count: if following {
                    unread.get(&root.id).copied().unwrap_or(0)
                } else {
                    0
                },
            };
            (root.id.clone(), view)
        })
        .collect())
}

/// Tells the chat a thread changed (a reply came or went). For a new reply, also
/// tells the people it made follow (its sender, the root's author, whoever it
/// mentions) where they now stand, on their own devices.
pub async fn announce(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    root_id: &str,
    new_reply: Option<&MessageView>,
) {
    let summary = async {
        let root = state
            .db
            .message(chat_id, root_id)
            .await?
            .ok_or_else(|| Error::NotFound("Message not found".into()))?;
        if let Some(reply) = new_reply {
            let mut people = reply.mentions.clone();
            people.push(viewer.user_id.clone());
            people.extend(root.sender_id.clone());
            for (user_id, following, unread_count) in
                state.db.thread_states(&root.id, &people).await?
            {
                let event = ServerEvent::ThreadState {
                    chat_id: chat_id.into(),
                    root_id: root_id.into(),
                    following,
                    unread_count: if following { unread_count } else { 0 },
                };
                state.realtime.to_user(&user_id, &event);
            }
        }
        let people = state
            .db
            .thread_people_of_many(std::slice::from_ref(&root.id), "")
            .await?;
        Ok::<_, Error>(ThreadSummary {
            reply_count: root.reply_count,
            last_reply_seq: root.last_reply_seq,
            last_reply_at: root.last_reply_at,
            participant_ids: people
                .into_values()
                .flatten()
                .filter(|p| p.replied)
                .map(|p| p.user_id)
                .collect(),
        })
    };
    match summary.await {
        Ok(thread) => {
            let event = ServerEvent::ThreadUpdated {
                chat_id: chat_id.into(),
                root_id: root_id.into(),
                thread,
            };
            state
                .realtime
                .to_chat(chat_id, &event, Some(&viewer.user_id));
        }
        Err(err) => tracing::warn!(error = ?err, root_id, "thread summary not sent"),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThreadQuery {
    /// Replies before this seq (older).
    pub before: Option<i64>,
    /// Replies after this seq (newer).
    pub after: Option<i64>,
    /// At most 100; 50 by default.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadReplies {
    pub root: MessageView,
    /// Oldest first: the newest page unless `before` or `after` says otherwise.
    pub replies: Vec<MessageView>,
}

fn check_limit(limit: i64) -> Result<()> {
    if (1..=100).contains(&limit) {
        return Ok(());
    }
    Err(Error::Validation(vec![FieldError::new(
        "value_error",
        &["query", "limit"],
        "must be between 1 and 100",
        serde_json::Value::from(limit),
    )]))
}

/// A root (not a reply) of a chat the viewer is in; anything else is 404.
async fn root_in(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
) -> Result<MessageRow> {
    let (_, _, root) = message_in(state, viewer, chat_id, message_id).await?;
    if root.thread_root_id.is_some() {
        return Err(Error::NotFound(
            "This message is a reply, not a thread".into(),
        ));
    }
    Ok(root)
}

/// A page of a thread's replies, with its root.
pub async fn replies(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
    query: ThreadQuery,
) -> Result<ThreadReplies> {
    let root = root_in(state, viewer, chat_id, message_id).await?;
    let limit = query.limit.unwrap_or(50);
    check_limit(limit)?;
    let page = match (query.before, query.after) {
        (Some(seq), None) => ThreadPage::Before(seq),
        (None, Some(seq)) => ThreadPage::After(seq),
        (None, None) => ThreadPage::Latest,
        _ => {
            return Err(Error::Validation(vec![FieldError::new(
                "value_error",
                &["query", "before"],
                "use one of before and after",
                serde_json::Value::Null,
            )]));
        }
    };
    let rows = state.db.thread_replies(&root.id, page, limit).await?;
    let replies = views_of(state, viewer, rows).await?;
    let root = views_of(state, viewer, vec![root]).await?.remove(0);
    Ok(ThreadReplies { root, replies })
}

/// The thread as the viewer sees it now, and the same to their other devices.
async fn my_view(state: &AppState, viewer: &AuthUser, root: MessageRow) -> Result<ThreadView> {
    let (chat_id, root_id) = (root.chat_id.clone(), root.id.clone());
    let view = views_of_roots(state, viewer, &[&root])
        .await?
        .remove(&root.id)
        .ok_or_else(|| Error::NotFound("Message not found".into()))?;
    let event = ServerEvent::ThreadState {
        chat_id,
        root_id,
        following: view.following,
        unread_count: view.unread_count,
    };
    state.realtime.to_user(&viewer.user_id, &event);
    Ok(view)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FollowThread {
    pub following: bool,
}

/// Follow a thread (its replies by others count as unread for me) or stop.
pub async fn follow(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
    req: FollowThread,
) -> Result<ThreadView> {
    let root = root_in(state, viewer, chat_id, message_id).await?;
    state
        .db
        .set_thread_following(&root, &viewer.user_id, req.following, now())
        .await?;
    my_view(state, viewer, root).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MarkThreadRead {
    /// Replies up to this seq are read. The pointer never moves back.
    pub up_to_seq: i64,
}

pub async fn mark_read(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
    req: MarkThreadRead,
) -> Result<ThreadView> {
    let root = root_in(state, viewer, chat_id, message_id).await?;
    if req.up_to_seq < 0 {
        return Err(Error::invalid(
            "up_to_seq",
            "must be 0 or more",
            req.up_to_seq,
        ));
    }
    let up_to = req.up_to_seq.min(root.last_reply_seq.unwrap_or(0));
    state
        .db
        .mark_thread_read(&root, &viewer.user_id, up_to, now())
        .await?;
    my_view(state, viewer, root).await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowedQuery {
    /// Threads whose last reply is older than this (the `last_reply_at` of the last one you have).
    pub before: Option<DateTime<Utc>>,
    /// At most this many (1-100, default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowedThread {
    pub chat_id: String,
    /// The root, with its `thread`.
    pub root: MessageView,
}

/// Threads I follow in chats I am in, newest reply first.
pub async fn followed(
    state: &AppState,
    viewer: &AuthUser,
    query: FollowedQuery,
) -> Result<Vec<FollowedThread>> {
    let limit = query.limit.unwrap_or(20);
    check_limit(limit)?;
    let roots = state
        .db
        .followed_threads(&viewer.user_id, query.before, limit)
        .await?;
    Ok(views_of(state, viewer, roots)
        .await?
        .into_iter()
        .map(|root| FollowedThread {
            chat_id: root.chat_id.clone(),
            root,
        })
        .collect())
}
