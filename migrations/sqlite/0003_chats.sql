-- Direct and group chats, their members, messages and the earlier versions of edits.
CREATE TABLE chats (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,              -- direct | group
    name            TEXT,
    description     TEXT NOT NULL DEFAULT '',
    avatar_url      TEXT,
    -- "<smaller user id>:<larger user id>": one direct chat per pair.
    direct_key      TEXT UNIQUE,
    search_key      TEXT NOT NULL DEFAULT '',
    -- Who may post, add members, edit the chat's info: everyone | admins.
    post_policy     TEXT NOT NULL DEFAULT 'everyone',
    add_policy      TEXT NOT NULL DEFAULT 'everyone',
    edit_policy     TEXT NOT NULL DEFAULT 'admins',
    -- The last sequence number given to a message in this chat: seqs are 1, 2, 3...
    last_seq        BIGINT NOT NULL DEFAULT 0,
    -- How many text messages the chat has had (deleted ones too): see messages.ord.
    text_count      BIGINT NOT NULL DEFAULT 0,
    last_activity_at TEXT NOT NULL,
    created_by      TEXT REFERENCES users (id),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    deleted_at      TEXT
);

CREATE TABLE chat_members (
    chat_id          TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role             TEXT NOT NULL,             -- owner | admin | member
    joined_at        TEXT NOT NULL,
    -- My read pointer: every message up to this seq is read. Only moves forward.
    read_seq         BIGINT NOT NULL DEFAULT 0,
    read_at          TEXT,
    muted_until      TEXT,
    notify_level     TEXT NOT NULL DEFAULT 'all', -- all | mentions | none
    pinned           BOOLEAN NOT NULL DEFAULT FALSE,
    archived         BOOLEAN NOT NULL DEFAULT FALSE,
    -- A direct chat I deleted stays hidden until a message after this seq arrives.
    hidden_until_seq BIGINT,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user_id ON chat_members (user_id);

-- Who was in a chat when, so that what someone could see once stays answerable
-- (search in chats they left) after they leave.
CREATE TABLE chat_departures (
    chat_id   TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at TEXT NOT NULL,
    left_at   TEXT NOT NULL,
    left_seq  BIGINT NOT NULL
);
CREATE INDEX chat_departures_user_id ON chat_departures (user_id);

CREATE TABLE messages (
    id         TEXT PRIMARY KEY,
    chat_id    TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    -- For text messages, their ordinal among the chat's text messages (1, 2, 3...), so
    -- an unread count is text_count - ord at my pointer - deleted after it: a few index
    -- lookups, however many messages are unread. 0 for system messages.
    ord        BIGINT NOT NULL DEFAULT 0,
    -- NULL for system messages (joined, left, renamed...).
    sender_id  TEXT REFERENCES users (id),
    kind       TEXT NOT NULL,                   -- text | system
    content    TEXT NOT NULL,                   -- Markdown source; erased on delete
    html       TEXT NOT NULL,                   -- rendered and sanitized
    -- For system messages: what happened, as JSON.
    event      TEXT,
    reply_to   TEXT,
    client_id  TEXT,
    created_at TEXT NOT NULL,
    edited_at  TEXT,
    deleted_at TEXT,
    UNIQUE (chat_id, seq)
);
-- Deleted messages are few: counting those after a read pointer stays cheap.
CREATE INDEX messages_deleted ON messages (chat_id, seq) WHERE deleted_at IS NOT NULL;
-- A retried send with the same client_id finds its first message.
CREATE UNIQUE INDEX messages_client_id ON messages (chat_id, sender_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE message_edits (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    content    TEXT NOT NULL,
    html       TEXT NOT NULL,
    -- When this version was replaced.
    replaced_at TEXT NOT NULL
);
CREATE INDEX message_edits_message_id ON message_edits (message_id);

-- Who a message mentions (by @username), for mention counts and notifications. The
-- chat and seq are repeated so that "my mentions after my pointer" is one index range.
CREATE TABLE message_mentions (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id    TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user_chat_seq ON message_mentions (user_id, chat_id, seq);
