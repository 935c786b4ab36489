//! Messages: send (through the group-commit writer), history, edit, delete, read
//! receipts. One use case per action serves HTTP and, later, the WebSocket.

pub mod forward;
pub mod pins;
pub mod reactions;
pub mod render;
pub mod search;
pub mod threads;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::chats::{self, Policy, Role};
use crate::domain::event::ServerEvent;
use crate::domain::{is_id, new_id};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;
use crate::store::{Appended, ChatRow, MemberRow, MessageRow, NewMessage, Page, now};

/// A message as members see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub chat_id: String,
    /// Per chat: 1, 2, 3... with no gaps, in the order the server committed them.
    pub seq: i64,
    /// Null for system messages.
    pub sender_id: Option<String>,
    /// The same as `sender_id`, under the spec's name.
    pub user_id: Option<String>,
    /// `text`, or `system` (joined, left, renamed...: see `event`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The Markdown source; empty once deleted.
    pub content: String,
    /// `content` rendered and sanitized: the only form to show as HTML.
    pub html: String,
    /// For system messages: what happened.
    #[schema(value_type = Option<Object>)]
    pub event: Option<serde_json::Value>,
    pub reply_to: Option<String>,
    /// The id the sender's client gave, for matching its optimistic copy.
    pub client_id: Option<String>,
    /// Users this message mentions.
    pub mentions: Vec<String>,
    /// Files, with signed URLs that expire (fetch the message again for fresh ones).
    pub attachments: Vec<crate::files::FileView>,
    /// Reactions, in the order each emoji first came. In realtime events `me` is
    /// as the person who caused the event sees it; `reaction.updated` keeps it right.
    pub reactions: Vec<reactions::Reaction>,
    /// Set when this message is a forward. Where from (`chat_id`, `message_id`) only
    /// for people who are in that chat; others see only that it was forwarded.
    pub forwarded_from: Option<forward::ForwardedFrom>,
    /// For a thread reply: its root.
    pub thread_root_id: Option<String>,
    /// A thread reply that also shows in the main timeline.
    pub also_in_chat: bool,
    /// For a root that has had replies: its thread.
    pub thread: Option<threads::ThreadView>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    /// You blocked the sender: clients may hide this message.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sender_blocked: bool,
}

pub fn message_view(
    row: MessageRow,
    mentions: Vec<String>,
    blocked: &HashSet<String>,
) -> MessageView {
    MessageView {
        sender_blocked: row.sender_id.as_ref().is_some_and(|s| blocked.contains(s)),
        deleted: row.deleted_at.is_some(),
        event: row
            .event
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok()),
        id: row.id,
        chat_id: row.chat_id,
        seq: row.seq,
        user_id: row.sender_id.clone(),
        sender_id: row.sender_id,
        kind: row.kind,
        content: row.content,
        html: row.html,
        reply_to: row.reply_to,
        client_id: row.client_id,
        mentions,
        attachments: Vec::new(),
        reactions: Vec::new(),
        forwarded_from: None,
        thread_root_id: row.thread_root_id,
        also_in_chat: row.also_in_chat,
        thread: None,
        created_at: row.created_at,
        edited_at: row.edited_at,
    }
}

/// Messages as `viewer` sees them (with mentions, and marked when from someone they blocked).
pub async fn views_of(
    state: &AppState,
    viewer: &AuthUser,
    rows: Vec<MessageRow>,
) -> Result<Vec<MessageView>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut mentions = state.db.mentions_of_many(&ids).await?;
    let mut attachments = state.db.attachments_of_many(&ids).await?;
    let mut reactions = state.db.reactions_of_many(&ids, &viewer.user_id).await?;
    let mut forwards = forward::sources_seen_by(state, viewer, &ids).await?;
    let blocked = state.db.block_ids(&viewer.user_id, true).await?;
    let roots: Vec<&MessageRow> = rows.iter().filter(|r| r.last_reply_seq.is_some()).collect();
    let mut threads = threads::views_of_roots(state, viewer, &roots).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let m = mentions.remove(&row.id).unwrap_or_default();
            let files = attachments.remove(&row.id).unwrap_or_default();
            let mut view = message_view(row, m, &blocked);
            view.forwarded_from = forwards.remove(&view.id);
            view.thread = threads.remove(&view.id);
            if !view.deleted {
                view.attachments = files.iter().map(|f| crate::files::view(state, f)).collect();
                view.reactions = reactions
                    .remove(&view.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| reactions::Reaction {
                        emoji: r.emoji,
                        count: r.count,
                        me: r.mine > 0,
                    })
                    .collect();
            }
            view
        })
        .collect())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SendMessage {
    pub content: String,
    /// Your own id for this send (≤ 64 characters): a retry with the same one returns
    /// the first message instead of posting twice.
    pub client_id: Option<String>,
    /// The id of a message in this chat this one replies to.
    pub reply_to: Option<String>,
    /// Files uploaded with `POST /files` (at most 10); with them, `content` may be empty.
    #[serde(default)]
    pub attachments: Vec<String>,
    /// Reply in the thread of this message (a main-timeline message of this chat).
    pub thread_root_id: Option<String>,
    /// With `thread_root_id`: also show the reply in the main timeline.
    #[serde(default)]
    pub also_in_chat: bool,
}

const CLIENT_ID_MAX: usize = 64;

fn check_content(state: &AppState, content: &str) -> Result<()> {
    let max = state.config.message_max_chars;
    let invalid = |msg: String| {
        Err(Error::Validation(vec![FieldError::new(
            "value_error",
            &["body", "content"],
            msg,
            serde_json::Value::Null,
        )]))
    };
    if content.trim().is_empty() {
        return invalid("must not be empty".into());
    }
    if content.chars().count() > max {
        return invalid(format!("must be at most {max} characters"));
    }
    if content
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return invalid("must not contain control characters".into());
    }
    Ok(())
}

/// Whether the viewer may post in this chat now: the chat's post policy, and no block
/// between the two people of a direct chat.
fn check_may_post(chat: &ChatRow, me: &MemberRow, blocked: bool) -> Result<()> {
    if !Policy::from_stored(&chat.post_policy).allows(Role::from_stored(&me.role)) {
        return Err(Error::Forbidden("Only admins can post in this chat".into()));
    }
    if blocked {
        return Err(Error::Forbidden("You cannot message this person".into()));
    }
    Ok(())
}

/// The members `content` mentions by `@username`.
async fn mentioned_members(
    state: &AppState,
    chat: &ChatRow,
    me: &MemberRow,
    content: &str,
) -> Result<Vec<String>> {
    let names: HashSet<String> = content
        .split(|c: char| !(c.is_ascii_alphanumeric() || "@_.-".contains(c)))
        .filter_map(|word| word.strip_prefix('@'))
        .map(|name| name.trim_end_matches(['.', '-']).to_ascii_lowercase())
        .collect();
    // @all and @here reach everyone (or everyone connected) where the chat allows
    // this sender to; elsewhere they stay plain text.
    let everyone = chat.kind == "group"
        && (names.contains("all") || names.contains("here"))
        && Policy::from_stored(&chat.mention_all_policy).allows(Role::from_stored(&me.role));
    let mut ids: HashSet<String> = HashSet::new();
    if everyone {
        let all = names.contains("all");
        for member in state.db.members(&chat.id).await? {
            let here = !matches!(
                state.presence.activity(&member.user_id),
                crate::realtime::presence::Activity::Gone
            );
            if all || here {
                ids.insert(member.user_id);
            }
        }
    }
    let usernames: Vec<String> = names
        .into_iter()
        .filter(|name| (3..=32).contains(&name.len()))
        .collect();
    if !usernames.is_empty() {
        ids.extend(
            state
                .db
                .member_ids_by_username(&chat.id, &usernames)
                .await?,
        );
    }
    ids.remove(&me.user_id);
    Ok(ids.into_iter().collect())
}

/// Sends a message: committed before this returns. `Ok((view, true))` for a new
/// message, `(view, false)` for a retry of one already sent with the same `client_id`.
pub async fn send(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    req: SendMessage,
) -> Result<(MessageView, bool)> {
    let (chat, me, blocked) = chats::membership_with_block(state, viewer, chat_id).await?;
    if let Some(client_id) = &req.client_id
        && (client_id.is_empty() || client_id.chars().count() > CLIENT_ID_MAX)
    {
        return Err(Error::invalid(
            "client_id",
            format!("must be 1-{CLIENT_ID_MAX} characters"),
            client_id.as_str(),
        ));
    }
    // A retry of a committed send is answered even if a rule would now refuse it: it
    // already happened. (When the rules pass, the writer finds the retry itself.)
    if let Err(refused) = check_send(state, viewer, &chat, &me, blocked, &req).await {
        let Some(client_id) = &req.client_id else {
            return Err(refused);
        };
        let Some(existing) = state
            .db
            .message_by_client_id(&chat.id, &viewer.user_id, client_id)
            .await?
        else {
            return Err(refused);
        };
        return Ok((
            views_of(state, viewer, vec![existing]).await?.remove(0),
            false,
        ));
    }
    let mentions = mentioned_members(state, &chat, &me, &req.content).await?;
    let content = req.content;
    let mut new = new_text(
        &chat,
        viewer,
        content,
        req.reply_to,
        req.client_id,
        mentions,
        req.attachments,
    );
    new.row.thread_root_id = req.thread_root_id;
    new.row.also_in_chat = req.also_in_chat;
    commit(state, viewer, new).await
}

/// The rules a send must pass, in the order their errors are reported.
async fn check_send(
    state: &AppState,
    viewer: &AuthUser,
    chat: &ChatRow,
    me: &MemberRow,
    blocked: bool,
    req: &SendMessage,
) -> Result<()> {
    if req.attachments.is_empty() || !req.content.trim().is_empty() {
        check_content(state, &req.content)?;
    }
    check_may_post(chat, me, blocked)?;
    crate::files::check_attachments(state, viewer, &req.attachments).await?;
    if let Some(reply_to) = &req.reply_to {
        let found = is_id(reply_to) && state.db.message(&chat.id, reply_to).await?.is_some();
        if !found {
            return Err(Error::invalid(
                "reply_to",
                "no such message in this chat",
                reply_to.as_str(),
            ));
        }
    }
    if let Some(root_id) = &req.thread_root_id {
        threads::check_root(state, chat, root_id).await?;
    } else if req.also_in_chat {
        return Err(Error::invalid(
            "also_in_chat",
            "only for a thread reply (with thread_root_id)",
            true,
        ));
    }
    Ok(())
}

/// A text message ready for the writer.
fn new_text(
    chat: &ChatRow,
    viewer: &AuthUser,
    content: String,
    reply_to: Option<String>,
    client_id: Option<String>,
    mentions: Vec<String>,
    attachments: Vec<String>,
) -> NewMessage {
    let row = MessageRow {
        id: new_id(),
        chat_id: chat.id.clone(),
        seq: 0,
        ord: 0,
        sender_id: Some(viewer.user_id.clone()),
        kind: "text".into(),
        html: render::to_html(&content),
        content,
        event: None,
        reply_to,
        client_id,
        created_at: now(),
        edited_at: None,
        deleted_at: None,
        thread_root_id: None,
        also_in_chat: false,
        reply_count: 0,
        last_reply_seq: None,
        last_reply_at: None,
    };
    NewMessage {
        search: Some(search::entry(&row.content)),
        row,
        mentions,
        attachments,
        forwarded_from: None,
    }
}

/// Commits a message through the writer and, when new, tells the chat.
async fn commit(
    state: &AppState,
    viewer: &AuthUser,
    new: NewMessage,
) -> Result<(MessageView, bool)> {
    let chat_id = new.row.chat_id.clone();
    // A new plain message is seen as it was sent: no reactions, replies or forwards
    // yet, and its sender does not block themselves. Building its view here saves the
    // reads `views_of` makes on the busiest path.
    let plain = new.attachments.is_empty() && new.forwarded_from.is_none();
    let mentions = new.mentions.clone();
    let (view, created) = match state.writer.append(new).await? {
        Appended::New(row) if plain => (message_view(row, mentions, &HashSet::new()), true),
        Appended::New(row) => (views_of(state, viewer, vec![row]).await?.remove(0), true),
        Appended::Existing(row) => (views_of(state, viewer, vec![row]).await?.remove(0), false),
    };
    if created {
        let event = ServerEvent::MessageCreated {
            message: view.clone(),
        };
        state
            .realtime
            .to_chat(&chat_id, &event, Some(&viewer.user_id));
        if let Some(root_id) = &view.thread_root_id {
            threads::announce(state, viewer, &chat_id, root_id, Some(&view)).await;
        }
    }
    Ok((view, created))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MentionsQuery {
    /// Mentions older than this time (the `created_at` of the last one you have).
    pub before: Option<DateTime<Utc>>,
    /// At most this many (1-100, default 50).
    pub limit: Option<i64>,
}

/// Messages that mention me, newest first, from chats I am in.
pub async fn mentions(
    state: &AppState,
    viewer: &AuthUser,
    query: MentionsQuery,
) -> Result<Vec<MessageView>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(Error::Validation(vec![FieldError::new(
            "value_error",
            &["query", "limit"],
            "must be between 1 and 100",
            serde_json::Value::from(limit),
        )]));
    }
    let rows = state
        .db
        .mentions_of(&viewer.user_id, query.before, limit)
        .await?;
    views_of(state, viewer, rows).await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages before this seq (older).
    pub before: Option<i64>,
    /// Messages after this seq (newer).
    pub after: Option<i64>,
    /// Messages around this seq (half before, the rest from it on).
    pub around: Option<i64>,
    /// Skip this many of the newest (the spec's offset paging).
    pub skip: Option<i64>,
    /// At most 100; 50 by default.
    pub limit: Option<i64>,
}

/// A page of history, oldest first: the newest page unless `before`, `after` or
/// `around` says otherwise.
pub async fn history(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    query: HistoryQuery,
) -> Result<Vec<MessageView>> {
    chats::membership(state, viewer, chat_id).await?;
    let limit = query.limit.unwrap_or(50);
    crate::users::check_page(query.skip.unwrap_or(0), limit)?;
    let page = match (query.before, query.after, query.around) {
        (Some(seq), None, None) => Page::Before(seq),
        (None, Some(seq), None) => Page::After(seq),
        (None, None, Some(seq)) => Page::Around(seq),
        (None, None, None) => Page::Latest {
            skip: query.skip.unwrap_or(0),
        },
        _ => {
            return Err(Error::Validation(vec![FieldError::new(
                "value_error",
                &["query", "before"],
                "use one of before, after and around",
                serde_json::Value::Null,
            )]));
        }
    };
    let rows = state.db.history(chat_id, page, limit, false).await?;
    views_of(state, viewer, rows).await
}

/// A message of a chat the viewer is in; anything else is 404.
async fn message_in(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
) -> Result<(ChatRow, MemberRow, MessageRow)> {
    let (chat, me) = chats::membership(state, viewer, chat_id).await?;
    let not_found = || Error::NotFound("Message not found".into());
    if !is_id(message_id) {
        return Err(not_found());
    }
    let message = state
        .db
        .message(&chat.id, message_id)
        .await?
        .ok_or_else(not_found)?;
    Ok((chat, me, message))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EditMessage {
    pub content: String,
}

/// The author edits their message; the earlier version is kept.
pub async fn edit(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
    req: EditMessage,
) -> Result<MessageView> {
    let (chat, me, message) = message_in(state, viewer, chat_id, message_id).await?;
    if message.sender_id.as_deref() != Some(viewer.user_id.as_str()) {
        return Err(Error::Forbidden(
            "Only the author can edit a message".into(),
        ));
    }
    if message.deleted_at.is_some() {
        return Err(Error::NotFound("Message was deleted".into()));
    }
    check_content(state, &req.content)?;
    if req.content != message.content {
        let html = render::to_html(&req.content);
        let mentions = mentioned_members(state, &chat, &me, &req.content).await?;
        state
            .db
            .edit_message(
                &message,
                &req.content,
                &html,
                &mentions,
                &search::entry(&req.content),
                now(),
            )
            .await?;
    }
    let row = state
        .db
        .message(&chat.id, message_id)
        .await?
        .ok_or_else(|| Error::NotFound("Message not found".into()))?;
    let view = views_of(state, viewer, vec![row]).await?.remove(0);
    let event = ServerEvent::MessageUpdated {
        message: view.clone(),
    };
    state
        .realtime
        .to_chat(&chat.id, &event, Some(&viewer.user_id));
    Ok(view)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageVersion {
    pub content: String,
    pub html: String,
    /// When this version was replaced by the next.
    pub replaced_at: DateTime<Utc>,
}

/// Earlier versions of an edited message, newest first.
pub async fn edit_history(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
) -> Result<Vec<MessageVersion>> {
    let (_, _, message) = message_in(state, viewer, chat_id, message_id).await?;
    Ok(state
        .db
        .message_edits(&message.id)
        .await?
        .into_iter()
        .map(|e| MessageVersion {
            content: e.content,
            html: e.html,
            replaced_at: e.replaced_at,
        })
        .collect())
}

/// The author, or an admin of a group, deletes a message: it stays as a tombstone
/// (same seq, no content).
pub async fn delete(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
) -> Result<()> {
    let (chat, me, message) = message_in(state, viewer, chat_id, message_id).await?;
    let is_author = message.sender_id.as_deref() == Some(viewer.user_id.as_str());
    let is_group_admin = chat.kind == "group" && Role::from_stored(&me.role) >= Role::Admin;
    if message.kind == "system" || !(is_author || is_group_admin) {
        return Err(Error::Forbidden("You cannot delete this message".into()));
    }
    if state.db.delete_message(&message, now()).await? {
        let event = ServerEvent::MessageDeleted {
            chat_id: chat.id.clone(),
            message_id: message.id,
            seq: message.seq,
        };
        state
            .realtime
            .to_chat(&chat.id, &event, Some(&viewer.user_id));
        if let Some(root_id) = &message.thread_root_id {
            threads::announce(state, viewer, &chat.id, root_id, None).await;
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MarkRead {
    /// Everything up to this seq is read. The pointer never moves back.
    pub up_to_seq: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadState {
    pub chat_id: String,
    pub read_seq: i64,
    pub unread_count: i64,
}

pub async fn mark_read(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    req: MarkRead,
) -> Result<ReadState> {
    let (chat, _) = chats::membership(state, viewer, chat_id).await?;
    if req.up_to_seq < 0 {
        return Err(Error::invalid(
            "up_to_seq",
            "must be 0 or more",
            req.up_to_seq,
        ));
    }
    let read_seq = state
        .db
        .mark_read(&chat.id, &viewer.user_id, req.up_to_seq, now())
        .await?;
    let unread_count = state.db.unread_count(&chat.id, &viewer.user_id).await?;
    // Others see the pointer move only if this reader shares read receipts; the
    // reader's own devices always do.
    let event = ServerEvent::Read {
        chat_id: chat.id.clone(),
        user_id: viewer.user_id.clone(),
        read_seq,
    };
    let shares = state
        .db
        .user_by_id(&viewer.user_id)
        .await?
        .is_some_and(|u| u.send_read_receipts);
    if shares {
        state
            .realtime
            .to_chat(&chat.id, &event, Some(&viewer.user_id));
    } else {
        state.realtime.to_user(&viewer.user_id, &event);
    }
    Ok(ReadState {
        chat_id: chat.id,
        read_seq,
        unread_count,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reader {
    pub user_id: String,
    /// When their read pointer last moved.
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadStatus {
    pub read_by: Vec<Reader>,
    pub unread_by: Vec<String>,
}

/// Who has read a message. Members who turned read receipts off appear in neither list.
pub async fn read_status(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    message_id: &str,
) -> Result<ReadStatus> {
    let (chat, _, message) = message_in(state, viewer, chat_id, message_id).await?;
    let mut status = ReadStatus {
        read_by: Vec::new(),
        unread_by: Vec::new(),
    };
    for reader in state.db.readers(&chat.id).await? {
        if Some(&reader.user_id) == message.sender_id.as_ref() || !reader.send_read_receipts {
            continue;
        }
        if reader.read_seq >= message.seq {
            status.read_by.push(Reader {
                user_id: reader.user_id,
                read_at: reader.read_at,
            });
        } else {
            status.unread_by.push(reader.user_id);
        }
    }
    Ok(status)
}

/// Mentions of many messages at once, by message id.
pub type MentionMap = HashMap<String, Vec<String>>;
