-- Machine translations of messages (issue 21), SQLite dialect. Keep in step with
-- migrations/postgres. One row per message and target language: a message is translated once
-- however often it is shown, and the row goes with its message (retention, erasure) through
-- the foreign key.
CREATE TABLE message_translations (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    lang       TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    provider   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, lang)
);

-- Canned replies in several languages: the versions of one reply share a set, named by the
-- id of its first version (NULL: the reply is a set of its own).
ALTER TABLE canned_replies ADD COLUMN set_id INTEGER;
CREATE INDEX canned_replies_by_set ON canned_replies (set_id);
