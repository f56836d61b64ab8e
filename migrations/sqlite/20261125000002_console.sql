-- Agent console and web chat, SQLite dialect. Keep in step with migrations/postgres.
-- Timestamps are INTEGER milliseconds since the Unix epoch, as in the initial schema.

CREATE TABLE agents (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('agent', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- A signed-in browser. Only the SHA-256 of the session token is stored, so a leaked
-- database does not hand out sessions.
CREATE TABLE agent_sessions (
    token_hash TEXT    PRIMARY KEY,
    agent_id   INTEGER NOT NULL REFERENCES agents (id),
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX agent_sessions_by_agent ON agent_sessions (agent_id);

CREATE TABLE canned_replies (
    id         INTEGER PRIMARY KEY,
    lang       TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX canned_replies_by_lang ON canned_replies (lang, title);

-- Bearer tokens for the agent API; stored hashed like sessions.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    agent_id     INTEGER NOT NULL REFERENCES agents (id),
    revoked      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);

-- Secrets the server generates for itself on first start (the web chat cookie key).
CREATE TABLE server_secrets (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
