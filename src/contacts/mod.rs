//! Friends, friend requests, blocks and mutes.
//!
//! A request to someone who already asked you makes you friends at once. Nothing
//! crosses a block: no request, no friendship, no presence (see `users::view`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::domain::event::ServerEvent;
use crate::domain::{is_id, new_id};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::{FriendRequestRow, Relation, Since, UserRow, now};
use crate::users::{Profile, view};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    Pending,
    /// The other person had asked too: you are friends now.
    Accepted,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FriendRequest {
    pub id: String,
    pub from_user: Profile,
    pub to_user: Profile,
    pub created_at: DateTime<Utc>,
    pub status: RequestState,
}

/// Someone on one of my lists, and since when (and, for mutes, until when).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedUser {
    pub user: Profile,
    pub since: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// Another person, by id: must exist, be active and not deleted, and not be you.
async fn other_person(
    state: &AppState,
    viewer: &AuthUser,
    user_id: &str,
    field: &str,
) -> Result<UserRow> {
    if user_id == viewer.user_id || user_id == "me" {
        return Err(Error::invalid(field, "cannot be yourself", user_id));
    }
    let not_found = || Error::NotFound("User not found".into());
    if !is_id(user_id) {
        return Err(not_found());
    }
    let row = state.db.user_by_id(user_id).await?.ok_or_else(not_found)?;
    if row.deleted_at.is_some() || !row.is_active {
        return Err(not_found());
    }
    Ok(row)
}

/// Profiles of many users at once, as the viewer sees them, by id.
pub async fn profiles(
    state: &AppState,
    viewer: &AuthUser,
    ids: Vec<String>,
) -> Result<HashMap<String, Profile>> {
    let friends = state.db.friend_ids(&viewer.user_id).await?;
    let blocked = state.db.block_ids(&viewer.user_id, true).await?;
    let blocked_by = state.db.block_ids(&viewer.user_id, false).await?;
    let rows = state.db.users_by_ids(&ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let relation = Relation {
                is_friend: friends.contains(&row.id),
                blocked: blocked.contains(&row.id),
                blocked_by: blocked_by.contains(&row.id),
            };
            (row.id.clone(), view(state, viewer, row, relation))
        })
        .collect())
}

async fn listed(
    state: &AppState,
    viewer: &AuthUser,
    entries: Vec<Since>,
) -> Result<Vec<ListedUser>> {
    let mut profiles = profiles(
        state,
        viewer,
        entries.iter().map(|e| e.user_id.clone()).collect(),
    )
    .await?;
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            Some(ListedUser {
                user: profiles.remove(&e.user_id)?,
                since: e.since,
                until: e.until,
            })
        })
        .collect())
}

async fn request_view(
    state: &AppState,
    viewer: &AuthUser,
    row: FriendRequestRow,
    status: RequestState,
) -> Result<FriendRequest> {
    let mut profiles = profiles(
        state,
        viewer,
        vec![row.from_user_id.clone(), row.to_user_id.clone()],
    )
    .await?;
    let missing = || Error::NotFound("User not found".into());
    Ok(FriendRequest {
        id: row.id,
        from_user: profiles.remove(&row.from_user_id).ok_or_else(missing)?,
        to_user: profiles.remove(&row.to_user_id).ok_or_else(missing)?,
        created_at: row.created_at,
        status,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewFriendRequest {
    pub user_id: String,
}

/// Asks someone to be friends; if they had asked you, you are friends at once.
pub async fn send_request(
    state: &AppState,
    viewer: &AuthUser,
    req: NewFriendRequest,
) -> Result<FriendRequest> {
    let other = other_person(state, viewer, &req.user_id, "user_id").await?;
    let relation = state.db.relation(&viewer.user_id, &other.id).await?;
    if relation.any_block() {
        return Err(Error::Forbidden(
            "You cannot send a friend request to this user".into(),
        ));
    }
    if relation.is_friend {
        return Err(Error::Conflict("You are already friends".into()));
    }
    if state
        .db
        .friend_request_between(&viewer.user_id, &other.id)
        .await?
        .is_some()
    {
        return Err(Error::Conflict("Friend request already sent".into()));
    }
    let now = now();
    if let Some(theirs) = state
        .db
        .friend_request_between(&other.id, &viewer.user_id)
        .await?
    {
        state
            .db
            .make_friends(&viewer.user_id, &other.id, now, None)
            .await?;
        announce_friends(state, &viewer.user_id, &other.id);
        return request_view(state, viewer, theirs, RequestState::Accepted).await;
    }
    let row = FriendRequestRow {
        id: new_id(),
        from_user_id: viewer.user_id.clone(),
        to_user_id: other.id,
        created_at: now,
    };
    state.db.insert_friend_request(&row).await?;
    let event = ServerEvent::FriendRequest {
        request_id: row.id.clone(),
        from_user_id: row.from_user_id.clone(),
        to_user_id: row.to_user_id.clone(),
    };
    state.realtime.to_user(&row.to_user_id, &event);
    state.realtime.to_user(&row.from_user_id, &event);
    request_view(state, viewer, row, RequestState::Pending).await
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Incoming,
    Outgoing,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// `incoming` (default): requests to me; `outgoing`: requests I sent.
    #[serde(default)]
    pub direction: Direction,
}

pub async fn list_requests(
    state: &AppState,
    viewer: &AuthUser,
    query: RequestsQuery,
) -> Result<Vec<FriendRequest>> {
    let incoming = matches!(query.direction, Direction::Incoming);
    let rows = state
        .db
        .friend_requests_of(&viewer.user_id, incoming)
        .await?;
    let ids = rows
        .iter()
        .flat_map(|r| [r.from_user_id.clone(), r.to_user_id.clone()])
        .collect();
    let profiles = profiles(state, viewer, ids).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(FriendRequest {
                from_user: profiles.get(&r.from_user_id)?.clone(),
                to_user: profiles.get(&r.to_user_id)?.clone(),
                id: r.id,
                created_at: r.created_at,
                status: RequestState::Pending,
            })
        })
        .collect())
}

/// A request the viewer is part of; others' requests are 404.
async fn my_request(
    state: &AppState,
    viewer: &AuthUser,
    request_id: &str,
) -> Result<FriendRequestRow> {
    let not_found = || Error::NotFound("Friend request not found".into());
    if !is_id(request_id) {
        return Err(not_found());
    }
    let row = state
        .db
        .friend_request(request_id)
        .await?
        .ok_or_else(not_found)?;
    if row.from_user_id != viewer.user_id && row.to_user_id != viewer.user_id {
        return Err(not_found());
    }
    Ok(row)
}

pub async fn accept(state: &AppState, viewer: &AuthUser, request_id: &str) -> Result<ListedUser> {
    let row = my_request(state, viewer, request_id).await?;
    if row.to_user_id != viewer.user_id {
        return Err(Error::Forbidden("Only the person asked can accept".into()));
    }
    let now = now();
    if !state
        .db
        .make_friends(&row.to_user_id, &row.from_user_id, now, Some(&row.id))
        .await?
    {
        return Err(Error::NotFound("Friend request not found".into()));
    }
    announce_friends(state, &row.to_user_id, &row.from_user_id);
    let entry = Since {
        user_id: row.from_user_id,
        since: now,
        until: None,
    };
    listed(state, viewer, vec![entry])
        .await?
        .pop()
        .ok_or_else(|| Error::NotFound("User not found".into()))
}

pub async fn decline(state: &AppState, viewer: &AuthUser, request_id: &str) -> Result<()> {
    let row = my_request(state, viewer, request_id).await?;
    if row.to_user_id != viewer.user_id {
        return Err(Error::Forbidden(
            "Only the person asked can decline; cancel your own request instead".into(),
        ));
    }
    state.db.delete_friend_request(&row.id).await?;
    announce_request_gone(state, &row);
    Ok(())
}

pub async fn cancel(state: &AppState, viewer: &AuthUser, request_id: &str) -> Result<()> {
    let row = my_request(state, viewer, request_id).await?;
    if row.from_user_id != viewer.user_id {
        return Err(Error::Forbidden(
            "Only the sender can cancel; decline it instead".into(),
        ));
    }
    state.db.delete_friend_request(&row.id).await?;
    announce_request_gone(state, &row);
    Ok(())
}

pub async fn friends(state: &AppState, viewer: &AuthUser) -> Result<Vec<ListedUser>> {
    let entries = state.db.friends_of(&viewer.user_id).await?;
    listed(state, viewer, entries).await
}

pub async fn unfriend(state: &AppState, viewer: &AuthUser, user_id: &str) -> Result<()> {
    if !is_id(user_id) || !state.db.delete_friendship(&viewer.user_id, user_id).await? {
        return Err(Error::NotFound("Not friends with this user".into()));
    }
    announce_unfriended(state, &viewer.user_id, user_id);
    Ok(())
}

/// Blocks someone: friendship and pending requests end; see the module docs.
pub async fn block(state: &AppState, viewer: &AuthUser, user_id: &str) -> Result<()> {
    let other = other_person(state, viewer, user_id, "user_id").await?;
    let was_friend = state
        .db
        .relation(&viewer.user_id, &other.id)
        .await?
        .is_friend;
    let mut pending = Vec::new();
    for (from, to) in [(&viewer.user_id, &other.id), (&other.id, &viewer.user_id)] {
        pending.extend(state.db.friend_request_between(from, to).await?);
    }
    state.db.block(&viewer.user_id, &other.id, now()).await?;
    if was_friend {
        announce_unfriended(state, &viewer.user_id, &other.id);
    }
    for request in &pending {
        announce_request_gone(state, request);
    }
    Ok(())
}

/// Both people's devices hear of a new friendship.
fn announce_friends(state: &AppState, a: &str, b: &str) {
    let to = |whom: &str, other: &str| {
        let event = ServerEvent::FriendAdded {
            user_id: other.to_string(),
        };
        state.realtime.to_user(whom, &event);
    };
    to(a, b);
    to(b, a);
}

fn announce_unfriended(state: &AppState, a: &str, b: &str) {
    let to = |whom: &str, other: &str| {
        let event = ServerEvent::FriendRemoved {
            user_id: other.to_string(),
        };
        state.realtime.to_user(whom, &event);
    };
    to(a, b);
    to(b, a);
}

fn announce_request_gone(state: &AppState, row: &FriendRequestRow) {
    let event = ServerEvent::FriendRequestRemoved {
        request_id: row.id.clone(),
    };
    state.realtime.to_user(&row.from_user_id, &event);
    state.realtime.to_user(&row.to_user_id, &event);
}

pub async fn unblock(state: &AppState, viewer: &AuthUser, user_id: &str) -> Result<()> {
    if !is_id(user_id) {
        return Err(Error::NotFound("User not found".into()));
    }
    state.db.unblock(&viewer.user_id, user_id).await
}

pub async fn blocked(state: &AppState, viewer: &AuthUser) -> Result<Vec<ListedUser>> {
    let entries = state.db.blocked_by_user(&viewer.user_id).await?;
    listed(state, viewer, entries).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MuteRequest {
    /// Until when; absent or null: until unmuted.
    pub until: Option<DateTime<Utc>>,
}

/// Mutes someone: no notifications from them (the notifications issue reads this).
pub async fn mute(
    state: &AppState,
    viewer: &AuthUser,
    user_id: &str,
    req: MuteRequest,
) -> Result<()> {
    let other = other_person(state, viewer, user_id, "user_id").await?;
    let now = now();
    if let Some(until) = req.until
        && until <= now
    {
        return Err(Error::invalid(
            "until",
            "must be in the future",
            until.to_rfc3339(),
        ));
    }
    state
        .db
        .mute(&viewer.user_id, &other.id, req.until, now)
        .await
}

pub async fn unmute(state: &AppState, viewer: &AuthUser, user_id: &str) -> Result<()> {
    if !is_id(user_id) {
        return Err(Error::NotFound("User not found".into()));
    }
    state.db.unmute(&viewer.user_id, user_id).await
}

pub async fn muted(state: &AppState, viewer: &AuthUser) -> Result<Vec<ListedUser>> {
    let entries = state.db.muted_by_user(&viewer.user_id, now()).await?;
    listed(state, viewer, entries).await
}
