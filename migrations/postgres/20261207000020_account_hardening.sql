-- Issue 18 (passwords, API tokens), PostgreSQL dialect. Keep in step with migrations/sqlite.
-- An agent whose password someone else chose (the first-start `admin`, whose one-time password
-- was written to a file) must choose their own before using the console.
ALTER TABLE agents ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
-- An API token may be given an end: milliseconds since the Unix epoch; NULL never ends.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
