-- Per-customer flood control (core::flood): the current window of each conversation, loaded
-- and saved with the conversation row in the engine's transaction. Keep in step with
-- migrations/postgres.
ALTER TABLE conversations ADD COLUMN flood_opened_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN flood_count INTEGER NOT NULL DEFAULT 0;
