-- Reactions, pins, and who may pin and mention everyone.
ALTER TABLE chats ADD COLUMN pin_policy TEXT NOT NULL DEFAULT 'everyone';
ALTER TABLE chats ADD COLUMN mention_all_policy TEXT NOT NULL DEFAULT 'everyone';

CREATE TABLE message_reactions (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);

CREATE TABLE message_pins (
    chat_id    TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    pinned_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    pinned_at  TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
