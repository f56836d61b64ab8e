-- Switchboard schema, PostgreSQL dialect. Keep in step with migrations/sqlite.
-- Every timestamp is BIGINT milliseconds since the Unix epoch (UTC) in both dialects: one
-- representation, exact ordering, and durations (waits, backoff) are plain subtraction.
-- JSON documents are JSONB here and TEXT on SQLite.

CREATE TABLE contacts (
    id              BIGSERIAL PRIMARY KEY,
    channel         TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    lang            TEXT    NOT NULL,
    language_chosen BOOLEAN NOT NULL DEFAULT FALSE,
    display_name    TEXT,
    contact_data    JSONB,
    reachable       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (channel, external_id)
);

-- One conversation per contact: the dialog returns to the menu instead of closing it.
CREATE TABLE conversations (
    id         BIGSERIAL PRIMARY KEY,
    contact_id BIGINT  NOT NULL UNIQUE REFERENCES contacts (id),
    state      JSONB   NOT NULL,
    version    BIGINT  NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    author          TEXT    NOT NULL CHECK (author IN ('customer', 'bot', 'agent', 'system')),
    agent           TEXT,
    text            TEXT,
    body            JSONB,
    attachments     JSONB   NOT NULL DEFAULT '[]',
    event_id        TEXT,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

CREATE TABLE tickets (
    id                   BIGSERIAL PRIMARY KEY,
    conversation_id      BIGINT  NOT NULL REFERENCES conversations (id),
    contact_id           BIGINT  NOT NULL REFERENCES contacts (id),
    status               TEXT    NOT NULL CHECK (status IN ('queued', 'assigned', 'resolved')),
    issue_type           TEXT    NOT NULL,
    order_id             TEXT,
    priority             TEXT    NOT NULL,
    -- 1 for high, 0 for normal: queue order (core::handoff::queue_order) as an index.
    priority_rank        BIGINT  NOT NULL,
    description          TEXT,
    lang                 TEXT    NOT NULL,
    assigned_agent       TEXT,
    self_served          BOOLEAN NOT NULL DEFAULT FALSE,
    withdrawn            BOOLEAN NOT NULL DEFAULT FALSE,
    rating               BIGINT,
    comment              TEXT,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    first_assigned_at    BIGINT,
    first_agent_reply_at BIGINT,
    resolved_at          BIGINT,
    last_reminded_at     BIGINT
);
CREATE INDEX tickets_queue ON tickets (status, priority_rank DESC, id);
CREATE INDEX tickets_by_conversation ON tickets (conversation_id, status);
CREATE INDEX tickets_by_first_assigned ON tickets (first_assigned_at) WHERE first_assigned_at IS NOT NULL;

CREATE TABLE ticket_attachments (
    id           BIGSERIAL PRIMARY KEY,
    ticket_id    BIGINT  NOT NULL REFERENCES tickets (id),
    sha256       TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    bytes        BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    UNIQUE (ticket_id, sha256)
);

CREATE TABLE ticket_notes (
    id         BIGSERIAL PRIMARY KEY,
    ticket_id  BIGINT  NOT NULL REFERENCES tickets (id),
    agent      TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX ticket_notes_by_ticket ON ticket_notes (ticket_id, id);

-- The dedupe record: written in the same transaction as the event's effects.
CREATE TABLE processed_events (
    channel      TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    processed_at BIGINT  NOT NULL,
    PRIMARY KEY (channel, event_id)
);

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    contact_id      BIGINT  NOT NULL REFERENCES contacts (id),
    channel         TEXT    NOT NULL,
    payload         JSONB   NOT NULL,
    lang            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
CREATE INDEX outbox_pending_by_conversation ON outbox (conversation_id, id) WHERE status = 'pending';
CREATE INDEX outbox_dead ON outbox (id) WHERE status = 'dead';

CREATE TABLE faq_outcomes (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    intent          TEXT    NOT NULL,
    helped          BOOLEAN NOT NULL,
    lang            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);

CREATE TABLE feedback (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    text            TEXT    NOT NULL,
    lang            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);

-- Channel positions (Telegram offset, VK ts), by name.
CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL
);
