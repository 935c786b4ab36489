-- Message search. message_search holds each live text message's content folded
-- (lower case, no accents: see domain::search_fold), written in the same transaction
-- as the message, its edits and its deletion. A tsvector index for whole-word
-- relevance, a pg_trgm index for substrings in any script.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE message_search (
    message_id TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    chat_id    TEXT NOT NULL,
    sender_id  TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    has_file   BOOLEAN NOT NULL DEFAULT FALSE,
    has_link   BOOLEAN NOT NULL DEFAULT FALSE,
    text       TEXT NOT NULL
);
CREATE INDEX message_search_chat_time ON message_search (chat_id, created_at);
CREATE INDEX message_search_words ON message_search USING GIN (to_tsvector('simple', text));
CREATE INDEX message_search_trigrams ON message_search USING GIN (text gin_trgm_ops);
