-- Where a forwarded message came from.
CREATE TABLE message_forwards (
    message_id      TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    from_chat_id    TEXT NOT NULL,
    from_message_id TEXT NOT NULL,
    from_sender_id  TEXT,
    from_created_at TEXT NOT NULL
);
