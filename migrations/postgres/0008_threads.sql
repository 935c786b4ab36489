-- Threads: a reply names its root (a main-timeline message of the same chat). Replies
-- take seqs in the chat like any message, so resume and ordering need nothing new;
-- thread-only replies have ord 0, so they count toward neither the timeline nor its
-- unread counts. The root keeps its thread's summary, written with each reply.
ALTER TABLE messages ADD COLUMN thread_root_id TEXT;
-- Also shown in the main timeline (and counted there).
ALTER TABLE messages ADD COLUMN also_in_chat BOOLEAN NOT NULL DEFAULT FALSE;
-- On a root: live replies, and the newest reply's seq and time.
ALTER TABLE messages ADD COLUMN reply_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_seq BIGINT;
ALTER TABLE messages ADD COLUMN last_reply_at TIMESTAMPTZ;
CREATE INDEX messages_thread ON messages (thread_root_id, seq) WHERE thread_root_id IS NOT NULL;

-- Who follows a thread (and who replied in it: its participants), with each
-- follower's read pointer in the thread (a chat seq).
CREATE TABLE thread_follows (
    root_id   TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id   TEXT NOT NULL,
    following BOOLEAN NOT NULL,
    replied   BOOLEAN NOT NULL DEFAULT FALSE,
    read_seq  BIGINT NOT NULL DEFAULT 0,
    since     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (root_id, user_id)
);
CREATE INDEX thread_follows_user ON thread_follows (user_id, chat_id) WHERE following;
