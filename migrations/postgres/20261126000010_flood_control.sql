-- Per-customer flood control (core::flood): the current window of each conversation, loaded
-- and saved with the conversation row in the engine's transaction. Keep in step with
-- migrations/sqlite.
ALTER TABLE conversations ADD COLUMN flood_opened_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN flood_count BIGINT NOT NULL DEFAULT 0;
