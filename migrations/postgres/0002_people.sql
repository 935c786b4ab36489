-- Profiles, chosen status, privacy, deletion; friends, friend requests, blocks, mutes.
ALTER TABLE users ADD COLUMN bio TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_url TEXT;
ALTER TABLE users ADD COLUMN locale TEXT;
ALTER TABLE users ADD COLUMN time_zone TEXT;
-- Lower-cased, accent-free "username display name", for search in any script.
ALTER TABLE users ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
-- Privacy: who sees my status and last seen (everyone | contacts | nobody), who may
-- start a direct chat with me (everyone | contacts), whether I send read receipts.
ALTER TABLE users ADD COLUMN presence_visibility TEXT NOT NULL DEFAULT 'everyone';
ALTER TABLE users ADD COLUMN direct_messages_from TEXT NOT NULL DEFAULT 'everyone';
ALTER TABLE users ADD COLUMN send_read_receipts BOOLEAN NOT NULL DEFAULT TRUE;
-- The status the user chose (online | away | busy | offline); what others see also
-- depends on whether they are connected.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'online';
ALTER TABLE users ADD COLUMN status_text TEXT;
ALTER TABLE users ADD COLUMN status_expires_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN last_seen_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN deleted_at TIMESTAMPTZ;

CREATE TABLE friend_requests (
    id           TEXT PRIMARY KEY,
    from_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (from_user_id, to_user_id)
);
CREATE INDEX friend_requests_to_user_id ON friend_requests (to_user_id);

-- Both directions are stored, so "my friends" is one index range.
CREATE TABLE friendships (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friend_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);

CREATE TABLE blocks (
    blocker_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked_id ON blocks (blocked_id);

CREATE TABLE mutes (
    muter_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    muted_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until      TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (muter_id, muted_id)
);
