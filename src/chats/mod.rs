//! Chats: direct and group, their members and roles, settings, and my chat list.
//!
//! Every rule about who may do what in a chat lives here (and in `messages`), so the
//! HTTP and WebSocket paths enforce the same. A chat you are not in does not exist for
//! you (404); a member acting beyond their role gets 403.

mod system;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::domain::event::ServerEvent;
use crate::domain::{Audience, is_id, new_id, search_fold};
use crate::error::{Error, FieldError, Result};
use crate::messages::{MessageView, message_view};
use crate::state::AppState;
use crate::store::{ChatRow, MemberChange, MemberRow, MessageRow, UserRow, now};
use crate::users::{Page, Profile, check_page};
pub use system::SystemEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Direct,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

/// Who may do something in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Everyone,
    Admins,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotifyLevel {
    All,
    Mentions,
    None,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn from_stored(s: &str) -> Self {
        match s {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            _ => Self::Member,
        }
    }

    fn is_admin(self) -> bool {
        self >= Role::Admin
    }
}

impl Policy {
    fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Admins => "admins",
        }
    }

    pub fn from_stored(s: &str) -> Self {
        if s == "admins" {
            Self::Admins
        } else {
            Self::Everyone
        }
    }

    /// Whether someone with `role` may do what this policy governs.
    pub fn allows(self, role: Role) -> bool {
        self == Self::Everyone || role.is_admin()
    }
}

impl NotifyLevel {
    fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Mentions => "mentions",
            Self::None => "none",
        }
    }

    fn from_stored(s: &str) -> Self {
        match s {
            "mentions" => Self::Mentions,
            "none" => Self::None,
            _ => Self::All,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChatSettings {
    /// Who may post: everyone, or admins (an announcement group).
    pub post: Policy,
    /// Who may add members.
    pub add_members: Policy,
    /// Who may change the name, description and avatar.
    pub edit_info: Policy,
    /// Who may pin and unpin messages.
    pub pin: Policy,
    /// Who may mention `@all` and `@here` (otherwise they stay plain text).
    pub mention_all: Policy,
}

/// My own state in a chat.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyMembership {
    pub role: Role,
    pub read_seq: i64,
    pub muted_until: Option<DateTime<Utc>>,
    pub notifications: NotifyLevel,
    pub pinned: bool,
    pub archived: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    pub user: Profile,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// A chat with its members, as a member sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Chat {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ChatKind,
    /// Groups only; a direct chat is named by the other person.
    pub name: Option<String>,
    pub description: String,
    pub avatar_url: Option<String>,
    pub settings: ChatSettings,
    /// The seq of the newest message.
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub members: Vec<Member>,
    pub me: MyMembership,
}

/// One line of my chat list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ChatKind,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    /// For a direct chat: the other person.
    pub other_user: Option<Profile>,
    pub last_message: Option<MessageView>,
    pub last_seq: i64,
    pub last_activity_at: DateTime<Utc>,
    /// Messages from others after my read pointer.
    pub unread_count: i64,
    /// Of those, the ones that mention me.
    pub mention_count: i64,
    /// Unread replies in threads I follow here (not part of `unread_count`).
    pub thread_unread_count: i64,
    #[serde(flatten)]
    pub me: MyMembership,
}

fn settings_of(chat: &ChatRow) -> ChatSettings {
    ChatSettings {
        post: Policy::from_stored(&chat.post_policy),
        add_members: Policy::from_stored(&chat.add_policy),
        edit_info: Policy::from_stored(&chat.edit_policy),
        pin: Policy::from_stored(&chat.pin_policy),
        mention_all: Policy::from_stored(&chat.mention_all_policy),
    }
}

fn my_membership(member: &MemberRow) -> MyMembership {
    MyMembership {
        role: Role::from_stored(&member.role),
        read_seq: member.read_seq,
        muted_until: member.muted_until.filter(|t| *t > now()),
        notifications: NotifyLevel::from_stored(&member.notify_level),
        pinned: member.pinned,
        archived: member.archived,
    }
}

fn kind_of(chat: &ChatRow) -> ChatKind {
    if chat.kind == "direct" {
        ChatKind::Direct
    } else {
        ChatKind::Group
    }
}

/// A chat and my membership of it; a chat I am not in is 404, whatever the reason.
pub async fn membership(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
) -> Result<(ChatRow, MemberRow)> {
    let (chat, me, _) = membership_with_block(state, viewer, chat_id).await?;
    Ok((chat, me))
}

/// [`membership`], with whether the chat is a direct one across a block (either way):
/// what a send needs to know, in one read.
pub async fn membership_with_block(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
) -> Result<(ChatRow, MemberRow, bool)> {
    let not_found = || Error::NotFound("Chat not found".into());
    if !is_id(chat_id) {
        return Err(not_found());
    }
    state
        .db
        .chat_member_and_block(chat_id, &viewer.user_id)
        .await?
        .ok_or_else(not_found)
}

async fn chat_view(
    state: &AppState,
    viewer: &AuthUser,
    chat: ChatRow,
    me: MemberRow,
) -> Result<Chat> {
    let members = state.db.members(&chat.id).await?;
    let mut profiles = crate::contacts::profiles(
        state,
        viewer,
        members.iter().map(|m| m.user_id.clone()).collect(),
    )
    .await?;
    let members = members
        .into_iter()
        .filter_map(|m| {
            Some(Member {
                user: profiles.remove(&m.user_id)?,
                role: Role::from_stored(&m.role),
                joined_at: m.joined_at,
            })
        })
        .collect();
    Ok(Chat {
        id: chat.id.clone(),
        kind: kind_of(&chat),
        settings: settings_of(&chat),
        name: chat.name,
        description: chat.description,
        avatar_url: crate::files::avatar_url(state, chat.avatar_url),
        last_seq: chat.last_seq,
        created_at: chat.created_at,
        last_activity_at: chat.last_activity_at,
        members,
        me: my_membership(&me),
    })
}

pub async fn get(state: &AppState, viewer: &AuthUser, chat_id: &str) -> Result<Chat> {
    let (chat, me) = membership(state, viewer, chat_id).await?;
    chat_view(state, viewer, chat, me).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum NewChat {
    /// The one direct chat between you and `user_id`.
    Direct { user_id: String },
    Group {
        name: String,
        #[serde(default)]
        description: String,
        #[serde(default)]
        member_ids: Vec<String>,
    },
}

/// Creates a chat. For a direct chat, returns the pair's existing one if there is one
/// (`false`: not created).
pub async fn create(state: &AppState, viewer: &AuthUser, req: NewChat) -> Result<(Chat, bool)> {
    match req {
        NewChat::Direct { user_id } => create_direct(state, viewer, &user_id).await,
        NewChat::Group {
            name,
            description,
            member_ids,
        } => create_group(state, viewer, &name, &description, member_ids)
            .await
            .map(|chat| (chat, true)),
    }
}

/// Whether `viewer` may start a direct chat with (or add to a group) `other`: no block
/// either way, and for a direct chat, the other's privacy setting allows it.
async fn may_reach(
    state: &AppState,
    viewer: &AuthUser,
    other: &UserRow,
    direct: bool,
) -> Result<()> {
    let relation = state.db.relation(&viewer.user_id, &other.id).await?;
    if relation.any_block() {
        return Err(Error::Forbidden(format!(
            "You cannot chat with {}",
            other.username
        )));
    }
    if direct
        && Audience::from_stored(&other.direct_messages_from) == Audience::Contacts
        && !relation.is_friend
    {
        return Err(Error::Forbidden(format!(
            "{} accepts direct chats from contacts only",
            other.username
        )));
    }
    Ok(())
}

/// An active user by id, for the field `field` of a request; unknown ids are 404.
async fn active_user(state: &AppState, user_id: &str) -> Result<UserRow> {
    let not_found = || Error::NotFound(format!("User {user_id} not found"));
    if !is_id(user_id) {
        return Err(not_found());
    }
    match state.db.user_by_id(user_id).await? {
        Some(user) if user.is_active && user.deleted_at.is_none() => Ok(user),
        _ => Err(not_found()),
    }
}

async fn create_direct(state: &AppState, viewer: &AuthUser, user_id: &str) -> Result<(Chat, bool)> {
    if user_id == viewer.user_id {
        return Err(Error::invalid(
            "user_id",
            "a direct chat needs someone else",
            user_id,
        ));
    }
    let other = active_user(state, user_id).await?;
    may_reach(state, viewer, &other, true).await?;
    let mut pair = [viewer.user_id.as_str(), other.id.as_str()];
    pair.sort();
    let direct_key = pair.join(":");
    if let Some(chat) = state.db.direct_chat(&direct_key).await? {
        let mut me = state
            .db
            .member(&chat.id, &viewer.user_id)
            .await?
            .ok_or_else(|| Error::NotFound("Chat not found".into()))?;
        if me.hidden_until_seq.take().is_some() {
            state.db.update_member_settings(&me).await?;
        }
        return Ok((chat_view(state, viewer, chat, me).await?, false));
    }
    let now = now();
    let chat = new_chat_row(
        "direct",
        None,
        String::new(),
        Some(direct_key.clone()),
        viewer,
        now,
    );
    let members = [
        (viewer.user_id.clone(), "member".to_string()),
        (other.id.clone(), "member".to_string()),
    ];
    match state.db.create_chat(&chat, &members, None).await {
        Ok(_) => {
            for (user_id, _) in &members {
                state.realtime.follow_chat(user_id, &chat.id, true);
            }
            announce(
                state,
                &chat.id,
                Vec::new(),
                Some(ServerEvent::ChatUpdated {
                    chat_id: chat.id.clone(),
                }),
            );
        }
        // Both people opened the chat at the same moment: the other request won.
        Err(Error::Conflict(_)) => return Box::pin(create_direct(state, viewer, user_id)).await,
        Err(err) => return Err(err),
    }
    get(state, viewer, &chat.id).await.map(|chat| (chat, true))
}

fn new_chat_row(
    kind: &str,
    name: Option<String>,
    description: String,
    direct_key: Option<String>,
    viewer: &AuthUser,
    now: DateTime<Utc>,
) -> ChatRow {
    ChatRow {
        id: new_id(),
        kind: kind.into(),
        search_key: name.as_deref().map(search_fold).unwrap_or_default(),
        name,
        description,
        avatar_url: None,
        direct_key,
        post_policy: "everyone".into(),
        pin_policy: "everyone".into(),
        mention_all_policy: "everyone".into(),
        add_policy: "everyone".into(),
        edit_policy: "admins".into(),
        last_seq: 0,
        last_activity_at: now,
        created_by: Some(viewer.user_id.clone()),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1000;

fn parse_name(name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > NAME_MAX
        || trimmed.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "name",
            format!("must be 1-{NAME_MAX} printable characters"),
            name,
        ));
    }
    Ok(trimmed.to_string())
}

fn parse_description(description: &str) -> Result<String> {
    if description.chars().count() > DESCRIPTION_MAX
        || description.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(Error::invalid(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters"),
            description,
        ));
    }
    Ok(description.trim().to_string())
}

/// The distinct users to add, each checked: active, reachable, not yet a member.
async fn users_to_add(
    state: &AppState,
    viewer: &AuthUser,
    ids: Vec<String>,
    current: &HashSet<String>,
) -> Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut add = Vec::new();
    for id in ids {
        if id == viewer.user_id || current.contains(&id) || !seen.insert(id.clone()) {
            continue;
        }
        let user = active_user(state, &id).await?;
        may_reach(state, viewer, &user, false).await?;
        add.push(user.id);
    }
    Ok(add)
}

fn check_member_limit(state: &AppState, count: usize) -> Result<()> {
    let limit = state.config.group_member_limit;
    if count > limit {
        return Err(Error::Validation(vec![FieldError::new(
            "value_error",
            &["body", "user_ids"],
            format!("a group has at most {limit} members"),
            serde_json::Value::Null,
        )]));
    }
    Ok(())
}

async fn create_group(
    state: &AppState,
    viewer: &AuthUser,
    name: &str,
    description: &str,
    member_ids: Vec<String>,
) -> Result<Chat> {
    let name = parse_name(name)?;
    let description = parse_description(description)?;
    let add = users_to_add(state, viewer, member_ids, &HashSet::new()).await?;
    check_member_limit(state, add.len() + 1)?;
    let now = now();
    let chat = new_chat_row("group", Some(name.clone()), description, None, viewer, now);
    let mut members = vec![(viewer.user_id.clone(), Role::Owner.as_str().to_string())];
    members.extend(
        add.iter()
            .map(|id| (id.clone(), Role::Member.as_str().to_string())),
    );
    let created = system::message(
        &chat.id,
        SystemEvent::Created {
            by: viewer.user_id.clone(),
            name,
            members: add,
        },
        now,
    );
    let system = state.db.create_chat(&chat, &members, Some(created)).await?;
    for (user_id, _) in &members {
        state.realtime.follow_chat(user_id, &chat.id, true);
    }
    announce(
        state,
        &chat.id,
        system,
        Some(ServerEvent::ChatUpdated {
            chat_id: chat.id.clone(),
        }),
    );
    get(state, viewer, &chat.id).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Matches group names and, for direct chats, the other person's names.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub skip: i64,
    #[serde(default = "default_limit")]
    pub limit: i64,
}

fn default_limit() -> i64 {
    50
}

/// My chats: pinned first, then most recent activity.
pub async fn list(
    state: &AppState,
    viewer: &AuthUser,
    query: ListQuery,
) -> Result<Page<ChatSummary>> {
    check_page(query.skip, query.limit)?;
    let folded = search_fold(query.q.trim());
    let (rows, total) = state
        .db
        .chat_list(&viewer.user_id, &folded, query.skip, query.limit)
        .await?;
    let others = rows
        .iter()
        .filter_map(|r| r.other_user_id.clone())
        .collect();
    let mut profiles = crate::contacts::profiles(state, viewer, others).await?;
    let last_messages = state
        .db
        .last_messages(&rows.iter().map(|r| r.chat.id.clone()).collect::<Vec<_>>())
        .await?;
    let blocked = state.db.block_ids(&viewer.user_id, true).await?;
    let items = rows
        .into_iter()
        .map(|row| ChatSummary {
            other_user: row
                .other_user_id
                .as_ref()
                .and_then(|id| profiles.remove(id)),
            last_message: last_messages
                .get(&row.chat.id)
                .cloned()
                .map(|m| message_view(m, Vec::new(), &blocked)),
            kind: kind_of(&row.chat),
            me: my_membership(&row.member),
            id: row.chat.id,
            name: row.chat.name,
            avatar_url: crate::files::avatar_url(state, row.chat.avatar_url),
            last_seq: row.chat.last_seq,
            last_activity_at: row.chat.last_activity_at,
            unread_count: row.unread_count,
            mention_count: row.mention_count,
            thread_unread_count: row.thread_unread_count,
        })
        .collect();
    Ok(Page {
        items,
        total,
        skip: query.skip,
        limit: query.limit,
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ChatUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "crate::users::nullable")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    /// Admins only.
    pub settings: Option<SettingsUpdate>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SettingsUpdate {
    pub post: Option<Policy>,
    pub add_members: Option<Policy>,
    pub edit_info: Option<Policy>,
    pub pin: Option<Policy>,
    pub mention_all: Option<Policy>,
}

pub async fn update(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    mut req: ChatUpdate,
) -> Result<Chat> {
    let avatar = req
        .avatar_url
        .take()
        .map(|url| {
            url.as_deref()
                .map(crate::users::parse_avatar_url)
                .transpose()
        })
        .transpose()?;
    apply_update(state, viewer, chat_id, req, avatar).await
}

/// Refuses, before an upload, someone who may not change this chat's info.
pub async fn check_may_edit_info(state: &AppState, viewer: &AuthUser, chat_id: &str) -> Result<()> {
    let (chat, me) = membership(state, viewer, chat_id).await?;
    if chat.kind == "direct" {
        return Err(Error::Forbidden(
            "A direct chat has no avatar to change".into(),
        ));
    }
    if !Policy::from_stored(&chat.edit_policy).allows(Role::from_stored(&me.role)) {
        return Err(Error::Forbidden(
            "Only admins can edit this chat's info".into(),
        ));
    }
    Ok(())
}

/// Sets (or with `None` removes) a group's avatar: a reference made by
/// `files::upload_avatar`. The same rules as editing the chat's info.
pub async fn set_avatar(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    stored: Option<String>,
) -> Result<Chat> {
    apply_update(state, viewer, chat_id, ChatUpdate::default(), Some(stored)).await
}

/// `avatar`: the stored form of a new avatar (`Some(None)` removes it).
async fn apply_update(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    req: ChatUpdate,
    avatar: Option<Option<String>>,
) -> Result<Chat> {
    let (mut chat, me) = membership(state, viewer, chat_id).await?;
    if chat.kind == "direct" {
        return Err(Error::Forbidden(
            "A direct chat has no name or settings to change".into(),
        ));
    }
    let role = Role::from_stored(&me.role);
    let edits_info = req.name.is_some() || req.description.is_some() || avatar.is_some();
    if edits_info && !Policy::from_stored(&chat.edit_policy).allows(role) {
        return Err(Error::Forbidden(
            "Only admins can edit this chat's info".into(),
        ));
    }
    if req.settings.is_some() && !role.is_admin() {
        return Err(Error::Forbidden(
            "Only admins can change this chat's settings".into(),
        ));
    }
    let old_name = chat.name.clone();
    if let Some(name) = &req.name {
        chat.name = Some(parse_name(name)?);
        chat.search_key = search_fold(chat.name.as_deref().unwrap_or_default());
    }
    if let Some(description) = &req.description {
        chat.description = parse_description(description)?;
    }
    if let Some(avatar) = avatar {
        chat.avatar_url = avatar;
    }
    if let Some(settings) = req.settings {
        if let Some(p) = settings.post {
            chat.post_policy = p.as_str().into();
        }
        if let Some(p) = settings.add_members {
            chat.add_policy = p.as_str().into();
        }
        if let Some(p) = settings.edit_info {
            chat.edit_policy = p.as_str().into();
        }
        if let Some(p) = settings.pin {
            chat.pin_policy = p.as_str().into();
        }
        if let Some(p) = settings.mention_all {
            chat.mention_all_policy = p.as_str().into();
        }
    }
    let now = now();
    chat.updated_at = now;
    let renamed = (chat.name != old_name).then(|| {
        system::message(
            &chat.id,
            SystemEvent::Renamed {
                by: viewer.user_id.clone(),
                name: chat.name.clone().unwrap_or_default(),
            },
            now,
        )
    });
    let system = state.db.update_chat(&chat, renamed).await?;
    announce(
        state,
        &chat.id,
        system,
        Some(ServerEvent::ChatUpdated {
            chat_id: chat.id.clone(),
        }),
    );
    get(state, viewer, chat_id).await
}

/// The owner deletes a group for everyone. For a direct chat, it is hidden for me
/// until a new message arrives.
pub async fn delete(state: &AppState, viewer: &AuthUser, chat_id: &str) -> Result<()> {
    let (chat, mut me) = membership(state, viewer, chat_id).await?;
    if chat.kind == "direct" {
        me.hidden_until_seq = Some(chat.last_seq);
        state.db.update_member_settings(&me).await?;
        state.realtime.to_user(
            &viewer.user_id,
            &ServerEvent::ChatDeleted { chat_id: chat.id },
        );
        return Ok(());
    }
    if Role::from_stored(&me.role) != Role::Owner {
        return Err(Error::Forbidden(
            "Only the owner can delete this group".into(),
        ));
    }
    state.db.delete_chat(&chat.id, now()).await?;
    announce(
        state,
        &chat.id,
        Vec::new(),
        Some(ServerEvent::ChatDeleted {
            chat_id: chat.id.clone(),
        }),
    );
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddMembers {
    pub user_ids: Vec<String>,
}

pub async fn add_members(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    req: AddMembers,
) -> Result<Chat> {
    let (chat, me) = membership(state, viewer, chat_id).await?;
    if chat.kind == "direct" {
        return Err(Error::Forbidden(
            "A direct chat is for two; create a group instead".into(),
        ));
    }
    if !Policy::from_stored(&chat.add_policy).allows(Role::from_stored(&me.role)) {
        return Err(Error::Forbidden(
            "Only admins can add members to this chat".into(),
        ));
    }
    if req.user_ids.len() > state.config.group_member_limit {
        check_member_limit(state, req.user_ids.len())?;
    }
    let current: HashSet<String> = state
        .db
        .members(&chat.id)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let add = users_to_add(state, viewer, req.user_ids, &current).await?;
    if !add.is_empty() {
        check_member_limit(state, current.len() + add.len())?;
        let now = now();
        let event = system::message(
            &chat.id,
            SystemEvent::Added {
                by: viewer.user_id.clone(),
                users: add.clone(),
            },
            now,
        );
        let system = state
            .db
            .change_members(&chat.id, MemberChange::Add(add.clone()), event, now)
            .await?;
        for user_id in &add {
            state.realtime.follow_chat(user_id, &chat.id, true);
        }
        let added = ServerEvent::MemberAdded {
            chat_id: chat.id.clone(),
            user_ids: add,
        };
        announce(state, &chat.id, system, Some(added));
    }
    get(state, viewer, chat_id).await
}

/// An admin removes a member, or a member leaves. An owner who leaves hands the chat to
/// the longest-standing admin, or else member; the last one out deletes the group.
pub async fn remove_member(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    user_id: &str,
) -> Result<()> {
    let (chat, me) = membership(state, viewer, chat_id).await?;
    if chat.kind == "direct" {
        return Err(Error::Forbidden(
            "You cannot leave a direct chat; delete it to hide it".into(),
        ));
    }
    let user_id = if user_id == "me" {
        viewer.user_id.as_str()
    } else {
        user_id
    };
    let members = state.db.members(&chat.id).await?;
    let target = members
        .iter()
        .find(|m| m.user_id == user_id)
        .ok_or_else(|| Error::NotFound("Not a member of this chat".into()))?;
    let now = now();
    if user_id == viewer.user_id {
        let new_owner = (Role::from_stored(&me.role) == Role::Owner)
            .then(|| successor(&members, user_id))
            .flatten();
        if members.len() == 1 {
            state.db.delete_chat(&chat.id, now).await?;
        }
        let event = system::message(
            &chat.id,
            SystemEvent::Left {
                user: user_id.to_string(),
                new_owner: new_owner.clone(),
            },
            now,
        );
        let change = MemberChange::Leave {
            user_id: user_id.to_string(),
            new_owner,
        };
        let system = state
            .db
            .change_members(&chat.id, change, event, now)
            .await?;
        departed(state, &chat.id, user_id, system);
        return Ok(());
    }
    let (my_role, their_role) = (Role::from_stored(&me.role), Role::from_stored(&target.role));
    if !my_role.is_admin() || their_role >= my_role {
        return Err(Error::Forbidden("You cannot remove this member".into()));
    }
    let event = system::message(
        &chat.id,
        SystemEvent::Removed {
            by: viewer.user_id.clone(),
            user: user_id.to_string(),
        },
        now,
    );
    let change = MemberChange::Remove(user_id.to_string());
    let system = state
        .db
        .change_members(&chat.id, change, event, now)
        .await?;
    departed(state, &chat.id, user_id, system);
    Ok(())
}

/// Tells the chat someone left or was removed, then stops their connections
/// following it: they hear of their own departure, and nothing after.
fn departed(state: &AppState, chat_id: &str, user_id: &str, system: Vec<MessageRow>) {
    let event = ServerEvent::MemberRemoved {
        chat_id: chat_id.into(),
        user_id: user_id.into(),
    };
    announce(state, chat_id, system, Some(event));
    state.realtime.follow_chat(user_id, chat_id, false);
}

/// Publishes what a change to a chat left behind: its system messages, then `event`.
fn announce(state: &AppState, chat_id: &str, system: Vec<MessageRow>, event: Option<ServerEvent>) {
    for row in system {
        let message = message_view(row, Vec::new(), &HashSet::new());
        state
            .realtime
            .to_chat(chat_id, &ServerEvent::MessageCreated { message }, None);
    }
    if let Some(event) = event {
        state.realtime.to_chat(chat_id, &event, None);
    }
}

/// Who takes over from a leaving owner: the longest-standing admin, else member.
fn successor(members: &[MemberRow], leaving: &str) -> Option<String> {
    let others = members.iter().filter(|m| m.user_id != leaving);
    others
        .clone()
        .find(|m| Role::from_stored(&m.role) == Role::Admin)
        .or_else(|| others.clone().next())
        .map(|m| m.user_id.clone())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleUpdate {
    /// `owner` hands the chat over (you become an admin).
    pub role: Role,
}

pub async fn set_role(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    user_id: &str,
    req: RoleUpdate,
) -> Result<Chat> {
    let (chat, me) = membership(state, viewer, chat_id).await?;
    if chat.kind == "direct" {
        return Err(Error::Forbidden("A direct chat has no roles".into()));
    }
    if Role::from_stored(&me.role) != Role::Owner {
        return Err(Error::Forbidden("Only the owner can change roles".into()));
    }
    let target = state
        .db
        .member(&chat.id, user_id)
        .await?
        .ok_or_else(|| Error::NotFound("Not a member of this chat".into()))?;
    if target.user_id == viewer.user_id {
        return Err(Error::invalid(
            "role",
            "hand the chat to someone else to change your own role",
            req.role.as_str(),
        ));
    }
    let now = now();
    let demote_owner = (req.role == Role::Owner).then(|| viewer.user_id.clone());
    let event = system::message(
        &chat.id,
        SystemEvent::RoleChanged {
            by: viewer.user_id.clone(),
            user: target.user_id.clone(),
            role: req.role,
        },
        now,
    );
    let change = MemberChange::SetRole {
        user_id: target.user_id,
        role: req.role.as_str().into(),
        demote_owner,
    };
    let system = state
        .db
        .change_members(&chat.id, change, event, now)
        .await?;
    announce(
        state,
        &chat.id,
        system,
        Some(ServerEvent::ChatUpdated {
            chat_id: chat.id.clone(),
        }),
    );
    get(state, viewer, chat_id).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MySettingsUpdate {
    /// Until when notifications from this chat are silenced; null unmutes.
    #[serde(default, deserialize_with = "crate::users::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub muted_until: Option<Option<DateTime<Utc>>>,
    pub notifications: Option<NotifyLevel>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
}

pub async fn update_my_settings(
    state: &AppState,
    viewer: &AuthUser,
    chat_id: &str,
    req: MySettingsUpdate,
) -> Result<MyMembership> {
    let (_, mut me) = membership(state, viewer, chat_id).await?;
    if let Some(until) = req.muted_until {
        me.muted_until = until;
    }
    if let Some(level) = req.notifications {
        me.notify_level = level.as_str().into();
    }
    if let Some(pinned) = req.pinned {
        me.pinned = pinned;
    }
    if let Some(archived) = req.archived {
        me.archived = archived;
    }
    state.db.update_member_settings(&me).await?;
    Ok(my_membership(&me))
}
