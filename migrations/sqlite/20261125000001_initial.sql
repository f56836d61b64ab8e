-- Switchboard schema, SQLite dialect. Keep in step with migrations/postgres.
-- Every timestamp is INTEGER milliseconds since the Unix epoch (UTC) in both dialects: one
-- representation, exact ordering, and durations (waits, backoff) are plain subtraction.
-- JSON documents are TEXT here and JSONB on PostgreSQL.

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    channel         TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    lang            TEXT    NOT NULL,
    language_chosen INTEGER NOT NULL DEFAULT 0,
    display_name    TEXT,
    contact_data    TEXT,
    reachable       INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (channel, external_id)
);

-- One conversation per contact: the dialog returns to the menu instead of closing it.
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL UNIQUE REFERENCES contacts (id),
    state      TEXT    NOT NULL,
    version    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    author          TEXT    NOT NULL CHECK (author IN ('customer', 'bot', 'agent', 'system')),
    agent           TEXT,
    text            TEXT,
    body            TEXT,
    attachments     TEXT    NOT NULL DEFAULT '[]',
    event_id        TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

CREATE TABLE tickets (
    id                   INTEGER PRIMARY KEY,
    conversation_id      INTEGER NOT NULL REFERENCES conversations (id),
    contact_id           INTEGER NOT NULL REFERENCES contacts (id),
    status               TEXT    NOT NULL CHECK (status IN ('queued', 'assigned', 'resolved')),
    issue_type           TEXT    NOT NULL,
    order_id             TEXT,
    priority             TEXT    NOT NULL,
    -- 1 for high, 0 for normal: queue order (core::handoff::queue_order) as an index.
    priority_rank        INTEGER NOT NULL,
    description          TEXT,
    lang                 TEXT    NOT NULL,
    assigned_agent       TEXT,
    self_served          INTEGER NOT NULL DEFAULT 0,
    withdrawn            INTEGER NOT NULL DEFAULT 0,
    rating               INTEGER,
    comment              TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    first_assigned_at    INTEGER,
    first_agent_reply_at INTEGER,
    resolved_at          INTEGER,
    last_reminded_at     INTEGER
);
CREATE INDEX tickets_queue ON tickets (status, priority_rank DESC, id);
CREATE INDEX tickets_by_conversation ON tickets (conversation_id, status);
CREATE INDEX tickets_by_first_assigned ON tickets (first_assigned_at) WHERE first_assigned_at IS NOT NULL;

CREATE TABLE ticket_attachments (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id),
    sha256       TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    bytes        INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (ticket_id, sha256)
);

CREATE TABLE ticket_notes (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    agent      TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ticket_notes_by_ticket ON ticket_notes (ticket_id, id);

-- The dedupe record: written in the same transaction as the event's effects.
CREATE TABLE processed_events (
    channel      TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (channel, event_id)
) WITHOUT ROWID;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    contact_id      INTEGER NOT NULL REFERENCES contacts (id),
    channel         TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    lang            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
CREATE INDEX outbox_pending_by_conversation ON outbox (conversation_id, id) WHERE status = 'pending';
CREATE INDEX outbox_dead ON outbox (id) WHERE status = 'dead';

CREATE TABLE faq_outcomes (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    intent          TEXT    NOT NULL,
    helped          INTEGER NOT NULL,
    lang            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE feedback (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    text            TEXT    NOT NULL,
    lang            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

-- Channel positions (Telegram offset, VK ts), by name.
CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
