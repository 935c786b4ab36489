//! People: profiles as each viewer may see them, profile edits, status, search and
//! account deletion.
//!
//! What a viewer sees of someone is decided in [`view`], in one place: presence
//! respects the owner's privacy and blocks; private fields go to the owner and admins.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::domain::event::{PresenceView, ServerEvent};
use crate::domain::{Audience, Email, Status, is_id, search_fold};
use crate::error::{Error, Result};
use crate::realtime::presence::visible_status;
use crate::state::AppState;
use crate::store::{Relation, UserRow, now};

/// A person as a viewer sees them. Deleted accounts keep their id and show as
/// "Deleted user", so what they wrote in shared chats still has an author.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Profile {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    /// What the viewer may see: online, away, busy or offline; null when the owner's
    /// privacy settings (or a block) hide it.
    pub status: Option<Status>,
    pub status_text: Option<String>,
    /// Null when hidden, or never seen.
    pub last_seen: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub is_deleted: bool,
    /// Whether the viewer and this person are friends (absent on your own profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_friend: Option<bool>,
    /// Whether the viewer blocked this person (absent on your own profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_blocked: Option<bool>,
    /// Only for the owner and admins.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountDetails>,
}

/// The parts of a profile only its owner and admins see.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountDetails {
    pub email: String,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub privacy: Privacy,
    /// The status the owner chose (what others see also depends on whether they are around).
    pub chosen_status: Status,
    pub status_expires_at: Option<DateTime<Utc>>,
    pub is_admin: bool,
    pub is_active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Privacy {
    /// Who sees my status and last seen: everyone, contacts or nobody.
    pub presence: Audience,
    /// Who may start a direct chat with me: everyone or contacts.
    pub direct_messages: Audience,
    /// Whether others see when I read their messages.
    pub read_receipts: bool,
}

/// The status the owner chose, reset once it expires.
fn chosen_status(row: &UserRow) -> (Status, Option<&str>) {
    match row.status_expires_at {
        Some(at) if at <= now() => (Status::Online, None),
        _ => (Status::from_stored(&row.status), row.status_text.as_deref()),
    }
}

fn may_see_presence(viewer: &AuthUser, row: &UserRow, relation: Relation) -> bool {
    if viewer.user_id == row.id || viewer.is_admin {
        return true;
    }
    if relation.any_block() || row.deleted_at.is_some() {
        return false;
    }
    match Audience::from_stored(&row.presence_visibility) {
        Audience::Everyone => true,
        Audience::Contacts => relation.is_friend,
        Audience::Nobody => false,
    }
}

/// `row` as `viewer` may see it, given how they stand to each other.
pub fn view(state: &AppState, viewer: &AuthUser, row: UserRow, relation: Relation) -> Profile {
    let is_self = viewer.user_id == row.id;
    let (chosen, status_text) = chosen_status(&row);
    let (status, status_text, last_seen) = if may_see_presence(viewer, &row, relation) {
        let status = visible_status(chosen, state.presence.activity(&row.id));
        let last_seen = state.presence.last_seen(&row.id).max(row.last_seen_at);
        (Some(status), status_text.map(str::to_string), last_seen)
    } else {
        (None, None, None)
    };
    let account = (is_self || viewer.is_admin).then(|| AccountDetails {
        email: row.email.clone(),
        locale: row.locale.clone(),
        time_zone: row.time_zone.clone(),
        privacy: Privacy {
            presence: Audience::from_stored(&row.presence_visibility),
            direct_messages: Audience::from_stored(&row.direct_messages_from),
            read_receipts: row.send_read_receipts,
        },
        chosen_status: chosen,
        status_expires_at: row.status_expires_at.filter(|at| *at > now()),
        is_admin: row.is_admin,
        is_active: row.is_active,
    });
    Profile {
        is_deleted: row.deleted_at.is_some(),
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        bio: row.bio,
        avatar_url: crate::files::avatar_url(state, row.avatar_url),
        status,
        status_text,
        last_seen,
        created_at: row.created_at,
        is_friend: (!is_self).then_some(relation.is_friend),
        is_blocked: (!is_self).then_some(relation.blocked),
        account,
    }
}

/// The owner's own view of their account, for the auth endpoints.
pub fn own_view(state: &AppState, row: UserRow) -> Profile {
    let viewer = AuthUser {
        user_id: row.id.clone(),
        session_id: String::new(),
        is_admin: row.is_admin,
    };
    view(state, &viewer, row, Relation::default())
}

/// Resolves `me` and checks the id names a user at all; unknown ids are 404.
async fn load(state: &AppState, viewer: &AuthUser, user_id: &str) -> Result<UserRow> {
    let id = if user_id == "me" {
        viewer.user_id.as_str()
    } else {
        user_id
    };
    let not_found = || Error::NotFound("User not found".into());
    if !is_id(id) {
        return Err(not_found());
    }
    state.db.user_by_id(id).await?.ok_or_else(not_found)
}

pub async fn get(state: &AppState, viewer: &AuthUser, user_id: &str) -> Result<Profile> {
    let row = load(state, viewer, user_id).await?;
    let relation = if row.id == viewer.user_id {
        Relation::default()
    } else {
        state.db.relation(&viewer.user_id, &row.id).await?
    };
    Ok(view(state, viewer, row, relation))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Matches usernames and display names, in any case and with or without accents;
    /// names that start with it come first.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub skip: i64,
    #[serde(default = "default_limit")]
    pub limit: i64,
}

fn default_limit() -> i64 {
    20
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many match in all.
    pub total: i64,
    pub skip: i64,
    pub limit: i64,
}

pub const MAX_PAGE: i64 = 100;

pub fn check_page(skip: i64, limit: i64) -> Result<()> {
    let bad = |field: &str, msg: &str, input: i64| {
        Err(Error::Validation(vec![crate::error::FieldError::new(
            "value_error",
            &["query", field],
            msg,
            input.into(),
        )]))
    };
    if skip < 0 {
        return bad("skip", "must be 0 or more", skip);
    }
    if !(1..=MAX_PAGE).contains(&limit) {
        return bad("limit", "must be between 1 and 100", limit);
    }
    Ok(())
}

/// People the viewer may see (active, not deleted, no block either way), searched.
pub async fn list(state: &AppState, viewer: &AuthUser, query: ListQuery) -> Result<Page<Profile>> {
    check_page(query.skip, query.limit)?;
    if query.q.chars().count() > 100 {
        return Err(Error::Validation(vec![crate::error::FieldError::new(
            "value_error",
            &["query", "q"],
            "must be at most 100 characters",
            query.q.clone().into(),
        )]));
    }
    let folded = search_fold(query.q.trim());
    let (rows, total) = state
        .db
        .search_users(&viewer.user_id, &folded, query.skip, query.limit)
        .await?;
    let friends = state.db.friend_ids(&viewer.user_id).await?;
    let items = rows
        .into_iter()
        .map(|row| {
            let relation = Relation {
                is_friend: friends.contains(&row.id),
                ..Relation::default()
            };
            view(state, viewer, row, relation)
        })
        .collect();
    Ok(Page {
        items,
        total,
        skip: query.skip,
        limit: query.limit,
    })
}

/// Distinguishes a field that is absent (`None`) from one set to null (`Some(None)`).
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to a profile; absent fields stay as they are, null clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProfileUpdate {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub locale: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub time_zone: Option<Option<String>>,
    pub privacy: Option<PrivacyUpdate>,
    /// Needs `current_password` (unless an admin changes someone else's).
    pub email: Option<String>,
    pub current_password: Option<String>,
    /// Admins only: deactivate (false) or reactivate (true) an account.
    pub is_active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PrivacyUpdate {
    pub presence: Option<Audience>,
    pub direct_messages: Option<Audience>,
    pub read_receipts: Option<bool>,
}

pub const DISPLAY_NAME_MAX: usize = 64;
const BIO_MAX: usize = 500;
const URL_MAX: usize = 2048;

fn check_text(field: &str, value: &str, max: usize, allow_newlines: bool) -> Result<()> {
    let bad_char = |c: char| c.is_control() && !(allow_newlines && c == '\n');
    if value.chars().count() > max || value.chars().any(bad_char) {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} printable characters"),
            value,
        ));
    }
    Ok(())
}

pub fn parse_display_name(value: &str) -> Result<String> {
    let name = value.trim();
    if name.is_empty() {
        return Err(Error::invalid("display_name", "must not be empty", value));
    }
    check_text("display_name", name, DISPLAY_NAME_MAX, false)?;
    Ok(name.to_string())
}

pub fn parse_avatar_url(value: &str) -> Result<String> {
    let ok =
        (value.starts_with("https://") || value.starts_with("http://") || value.starts_with('/'))
            && !value.starts_with("//");
    if !ok || value.len() > URL_MAX || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            "avatar_url",
            "must be an http(s) URL or a path on this server",
            value,
        ));
    }
    Ok(value.to_string())
}

/// A locale tag (`en`, `pt-BR`) or an IANA time zone name (`Europe/Paris`): short,
/// from a safe alphabet. Clients use them; we only keep them.
fn parse_tag(field: &str, value: &str, extra: &str) -> Result<String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || extra.contains(c));
    if !ok {
        return Err(Error::invalid(field, format!("not a valid {field}"), value));
    }
    Ok(value.to_string())
}

pub async fn update(
    state: &AppState,
    viewer: &AuthUser,
    user_id: &str,
    req: ProfileUpdate,
) -> Result<Profile> {
    let mut row = load(state, viewer, user_id).await?;
    let is_self = row.id == viewer.user_id;
    if !is_self && !viewer.is_admin {
        return Err(Error::Forbidden(
            "You can only edit your own profile".into(),
        ));
    }
    if row.deleted_at.is_some() {
        return Err(Error::NotFound("User not found".into()));
    }
    if let Some(name) = &req.display_name {
        row.display_name = parse_display_name(name)?;
    }
    if let Some(bio) = &req.bio {
        check_text("bio", bio, BIO_MAX, true)?;
        row.bio = bio.trim().to_string();
    }
    if let Some(url) = req.avatar_url {
        row.avatar_url = url.as_deref().map(parse_avatar_url).transpose()?;
    }
    if let Some(locale) = req.locale {
        row.locale = locale
            .as_deref()
            .map(|l| parse_tag("locale", l, "_"))
            .transpose()?;
    }
    if let Some(zone) = req.time_zone {
        row.time_zone = zone
            .as_deref()
            .map(|z| parse_tag("time_zone", z, "_/+"))
            .transpose()?;
    }
    if let Some(privacy) = req.privacy {
        if let Some(presence) = privacy.presence {
            row.presence_visibility = presence.as_str().into();
        }
        if let Some(dms) = privacy.direct_messages {
            if dms == Audience::Nobody {
                return Err(Error::invalid(
                    "privacy",
                    "direct_messages must be everyone or contacts",
                    "nobody",
                ));
            }
            row.direct_messages_from = dms.as_str().into();
        }
        if let Some(receipts) = privacy.read_receipts {
            row.send_read_receipts = receipts;
        }
    }
    if let Some(active) = req.is_active {
        if !viewer.is_admin {
            return Err(Error::Forbidden(
                "Only admins can deactivate or reactivate accounts".into(),
            ));
        }
        if is_self && !active {
            return Err(Error::Forbidden(
                "Admins cannot deactivate themselves".into(),
            ));
        }
        row.is_active = active;
    }
    if let Some(email) = &req.email {
        let email = Email::parse(email)?;
        if email.as_str() != row.email {
            if is_self {
                let password = req.current_password.as_deref().unwrap_or_default();
                if !state
                    .passwords
                    .verify(password, Some(&row.password_hash))
                    .await?
                {
                    return Err(Error::Forbidden(
                        "Changing the email needs the current password".into(),
                    ));
                }
            }
            if state.db.email_exists(email.as_str()).await? {
                return Err(Error::Conflict("email already registered".into()));
            }
            row.email = email.as_str().into();
        }
    }
    row.search_key = search_key(&row.username, &row.display_name);
    row.updated_at = now();
    state.db.update_profile(&row).await?;
    if !row.is_active {
        state.presence.forget(&row.id);
        crate::auth::sessions_ended(state, &row.id);
    }
    announce_profile(state, &row.id).await?;
    let relation = state.db.relation(&viewer.user_id, &row.id).await?;
    Ok(view(state, viewer, row, relation))
}

/// Sets (or with `None` removes) the viewer's avatar: a reference made by
/// `files::upload_avatar`.
pub async fn set_avatar(
    state: &AppState,
    viewer: &AuthUser,
    stored: Option<String>,
) -> Result<Profile> {
    let mut row = load(state, viewer, &viewer.user_id).await?;
    row.avatar_url = stored;
    row.updated_at = now();
    state.db.update_profile(&row).await?;
    announce_profile(state, &row.id).await?;
    Ok(own_view(state, row))
}

/// What search matches a user by: their names, folded.
pub fn search_key(username: &str, display_name: &str) -> String {
    search_fold(&format!("{username} {display_name}"))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DeleteAccount {
    /// Required to delete your own account.
    pub password: Option<String>,
}

/// Deletes an account: yourself with your password, or anyone as an admin.
pub async fn delete(
    state: &AppState,
    viewer: &AuthUser,
    user_id: &str,
    req: DeleteAccount,
) -> Result<()> {
    let row = load(state, viewer, user_id).await?;
    let is_self = row.id == viewer.user_id;
    if !is_self && !viewer.is_admin {
        return Err(Error::Forbidden(
            "You can only delete your own account".into(),
        ));
    }
    if row.deleted_at.is_some() {
        return Err(Error::NotFound("User not found".into()));
    }
    if is_self {
        let password = req.password.as_deref().unwrap_or_default();
        if !state
            .passwords
            .verify(password, Some(&row.password_hash))
            .await?
        {
            return Err(Error::Forbidden(
                "Deleting your account needs your password".into(),
            ));
        }
    }
    state.db.erase_user(&row.id, now()).await?;
    state.presence.forget(&row.id);
    crate::auth::sessions_ended(state, &row.id);
    announce_profile(state, &row.id).await?;
    tracing::info!(user_id = %row.id, by = %viewer.user_id, "account deleted");
    Ok(())
}

/// Tells the user's devices, their friends and the members of their chats (never
/// across a block) that their profile changed.
async fn announce_profile(state: &AppState, user_id: &str) -> Result<()> {
    let event = ServerEvent::UserUpdated {
        user_id: user_id.to_string(),
    };
    state.realtime.to_user(user_id, &event);
    let blocked = state.db.block_ids(user_id, true).await?;
    let blocked_by = state.db.block_ids(user_id, false).await?;
    for viewer in state.db.presence_audience(user_id).await? {
        if !blocked.contains(&viewer) && !blocked_by.contains(&viewer) {
            state.realtime.to_user(&viewer, &event);
        }
    }
    Ok(())
}

/// Notes that the user did something; if they had been shown away for being idle,
/// everyone who may see it hears they are back.
pub fn note_activity(state: &AppState, user_id: &str) {
    if state.presence.touch(user_id) {
        announce_later(state, user_id, std::time::Duration::ZERO);
    }
}

/// Announces a user's presence after `delay`, off the caller's task.
pub fn announce_later(state: &AppState, user_id: &str, delay: std::time::Duration) {
    let (state, user_id) = (state.clone(), user_id.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if let Err(err) = announce_presence(&state, &user_id).await {
            tracing::warn!(error = %err, "presence announcement failed");
        }
    });
}

/// Tells everyone who may see `user_id`'s presence (friends, members of shared chats,
/// as the user's privacy setting allows, never across a block) what it is now, if it
/// changed. The user's own devices hear it too.
pub async fn announce_presence(state: &AppState, user_id: &str) -> Result<()> {
    let _turn = state.presence.announce_turn(user_id).await;
    let Some(row) = state.db.user_by_id(user_id).await? else {
        return Ok(());
    };
    let (chosen, text) = chosen_status(&row);
    let status = visible_status(chosen, state.presence.activity(user_id));
    if !state.presence.changed(user_id, status) {
        return Ok(());
    }
    let event = ServerEvent::Presence(PresenceView {
        user_id: row.id.clone(),
        status,
        status_text: text.map(str::to_string),
        last_seen: state.presence.last_seen(user_id).max(row.last_seen_at),
    });
    state.realtime.to_user(user_id, &event);
    let visibility = Audience::from_stored(&row.presence_visibility);
    if visibility == Audience::Nobody || row.deleted_at.is_some() {
        return Ok(());
    }
    let friends = state.db.friend_ids(user_id).await?;
    let blocked = state.db.block_ids(user_id, true).await?;
    let blocked_by = state.db.block_ids(user_id, false).await?;
    for viewer in state.db.presence_audience(user_id).await? {
        let allowed = visibility == Audience::Everyone || friends.contains(&viewer);
        if allowed && !blocked.contains(&viewer) && !blocked_by.contains(&viewer) {
            state.realtime.to_user(&viewer, &event);
        }
    }
    Ok(())
}

/// The presence of everyone `viewer` may see: friends and members of their chats.
pub async fn visible_presence(state: &AppState, viewer: &AuthUser) -> Result<Vec<PresenceView>> {
    let ids = state.db.presence_audience(&viewer.user_id).await?;
    let profiles = crate::contacts::profiles(state, viewer, ids).await?;
    Ok(profiles
        .into_values()
        .filter_map(|p| {
            Some(PresenceView {
                status: p.status?,
                user_id: p.id,
                status_text: p.status_text,
                last_seen: p.last_seen,
            })
        })
        .collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusView {
    pub user_id: String,
    /// Null when hidden from you.
    pub status: Option<Status>,
    pub status_text: Option<String>,
    pub last_seen: Option<DateTime<Utc>>,
}

pub async fn status(state: &AppState, viewer: &AuthUser, user_id: &str) -> Result<StatusView> {
    let profile = get(state, viewer, user_id).await?;
    Ok(StatusView {
        user_id: profile.id,
        status: profile.status,
        status_text: profile.status_text,
        last_seen: profile.last_seen,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusUpdate {
    pub status: Status,
    pub status_text: Option<String>,
    /// When the chosen status ends (back to online, text cleared).
    pub expires_at: Option<DateTime<Utc>>,
}

const STATUS_TEXT_MAX: usize = 140;

pub async fn set_status(
    state: &AppState,
    viewer: &AuthUser,
    user_id: &str,
    req: StatusUpdate,
) -> Result<StatusView> {
    let row = load(state, viewer, user_id).await?;
    if row.id != viewer.user_id {
        return Err(Error::Forbidden("You can only set your own status".into()));
    }
    let text = req
        .status_text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(text) = text {
        check_text("status_text", text, STATUS_TEXT_MAX, false)?;
    }
    if let Some(at) = req.expires_at
        && at <= now()
    {
        return Err(Error::invalid(
            "expires_at",
            "must be in the future",
            at.to_rfc3339(),
        ));
    }
    state
        .db
        .set_status(&row.id, req.status.as_str(), text, req.expires_at)
        .await?;
    announce_presence(state, &row.id).await?;
    status(state, viewer, &row.id).await
}
