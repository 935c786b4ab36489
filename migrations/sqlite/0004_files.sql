-- Uploaded files and the messages they are attached to. The bytes live in storage
-- (a local folder or S3) under their SHA-256, so the same bytes are stored once.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT REFERENCES users (id) ON DELETE SET NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    name         TEXT NOT NULL,
    -- Images: their size in pixels, and whether a thumbnail was made.
    width        INTEGER,
    height       INTEGER,
    has_thumbnail BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TEXT NOT NULL
);
CREATE INDEX files_owner ON files (owner_id);
CREATE INDEX files_sha256 ON files (sha256);

CREATE TABLE message_attachments (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    file_id    TEXT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    chat_id    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (message_id, file_id)
);
CREATE INDEX message_attachments_file ON message_attachments (file_id, chat_id);
