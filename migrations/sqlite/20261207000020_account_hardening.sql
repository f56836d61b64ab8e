-- Issue 18 (passwords, API tokens), SQLite dialect. Keep in step with migrations/postgres.
-- An agent whose password someone else chose (the first-start `admin`, whose one-time password
-- was written to a file) must choose their own before using the console.
ALTER TABLE agents ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
-- An API token may be given an end: milliseconds since the Unix epoch; NULL never ends.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
