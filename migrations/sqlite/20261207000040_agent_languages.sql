-- The console's language an agent chose (NULL: follow the browser), and the languages they
-- speak, as comma-separated codes (`ru,zh`; empty: none listed), for the queue's filter.
ALTER TABLE agents ADD COLUMN console_lang TEXT;
ALTER TABLE agents ADD COLUMN languages TEXT NOT NULL DEFAULT '';
