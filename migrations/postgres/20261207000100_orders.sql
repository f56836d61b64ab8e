-- Orders (issue 20): lookups the dialog asked for, the order a ticket carries, and customers
-- a store vouched for, with the contacts linked to them. Keep in step with migrations/sqlite.

-- One row per lookup the dialog asked for (`Effect::LookupOrder`), written in the step's own
-- transaction; the lookup worker claims it (lease), asks the order source outside any
-- transaction, and the engine completes it exactly once (`done_at` set in the transaction
-- that feeds the answer to the dialog). `failed` rows count towards the per-contact limit.
CREATE TABLE order_lookups (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    contact_id      BIGINT  NOT NULL REFERENCES contacts (id),
    query           TEXT    NOT NULL,
    lease_until     BIGINT,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    done_at         BIGINT,
    outcome         TEXT,
    order_id        TEXT,
    order_json      TEXT,
    failed          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX order_lookups_pending ON order_lookups (id) WHERE done_at IS NULL;
CREATE INDEX order_lookups_contact ON order_lookups (contact_id, done_at);
CREATE INDEX order_lookups_conversation ON order_lookups (conversation_id, id);

-- The order as it was looked up, on the ticket the agent works on (JSON, `core::order::Order`).
ALTER TABLE tickets ADD COLUMN order_snapshot TEXT;

-- A customer of the store, known by the store's own id: one person, several contacts.
CREATE TABLE customers (
    id          BIGSERIAL PRIMARY KEY,
    store_id    TEXT    NOT NULL UNIQUE,
    email       TEXT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
ALTER TABLE contacts ADD COLUMN customer_id BIGINT REFERENCES customers (id);
CREATE INDEX contacts_customer ON contacts (customer_id) WHERE customer_id IS NOT NULL;

-- One-time account-link tokens the store asked for (`POST /api/link-tokens`), by their SHA-256:
-- the customer they link to, until when, and when they were used (a token works once).
CREATE TABLE link_tokens (
    token_hash  TEXT    PRIMARY KEY,
    store_id    TEXT    NOT NULL,
    email       TEXT,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);
CREATE INDEX link_tokens_expiry ON link_tokens (expires_at);
