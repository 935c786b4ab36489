-- Message search. message_search holds each live text message's content folded
-- (lower case, no accents: see domain::search_fold), written in the same transaction
-- as the message, its edits and its deletion. Two FTS5 indexes follow it: words
-- (unicode61) for whole-word relevance, trigrams for substrings in any script.
CREATE TABLE message_search (
    message_id TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    chat_id    TEXT NOT NULL,
    sender_id  TEXT,
    created_at TEXT NOT NULL,
    has_file   BOOLEAN NOT NULL DEFAULT FALSE,
    has_link   BOOLEAN NOT NULL DEFAULT FALSE,
    text       TEXT NOT NULL
);
CREATE INDEX message_search_chat_time ON message_search (chat_id, created_at);

CREATE VIRTUAL TABLE message_search_words USING fts5 (
    text, content = 'message_search', content_rowid = 'rowid', tokenize = 'unicode61'
);
CREATE VIRTUAL TABLE message_search_trigrams USING fts5 (
    text, content = 'message_search', content_rowid = 'rowid', tokenize = 'trigram'
);

CREATE TRIGGER message_search_inserted AFTER INSERT ON message_search BEGIN
    INSERT INTO message_search_words (rowid, text) VALUES (new.rowid, new.text);
    INSERT INTO message_search_trigrams (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER message_search_deleted AFTER DELETE ON message_search BEGIN
    INSERT INTO message_search_words (message_search_words, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO message_search_trigrams (message_search_trigrams, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TRIGGER message_search_updated AFTER UPDATE OF text ON message_search BEGIN
    INSERT INTO message_search_words (message_search_words, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO message_search_trigrams (message_search_trigrams, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO message_search_words (rowid, text) VALUES (new.rowid, new.text);
    INSERT INTO message_search_trigrams (rowid, text) VALUES (new.rowid, new.text);
END;
