-- The console's live watcher reads MAX(updated_at) of tickets every couple of seconds: an index
-- makes it a lookup instead of a scan of every ticket. Keep in step with the other dialect.
CREATE INDEX IF NOT EXISTS tickets_updated_at ON tickets (updated_at);
