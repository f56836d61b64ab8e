-- The message log's and the outbox's references to their conversation and contact are not
-- checked by the server any more. Each check was a lookup and a row lock per row written:
-- with several log and outbox rows per event, about a third of a group commit's time (see
-- BENCHMARKS.md, "Round 2: PostgreSQL"). They cannot break: the engine writes these rows only
-- for conversations it holds locked in the same transaction, and nothing deletes a
-- conversation or a contact. SQLite keeps its checks, which cost little in-process.
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_conversation_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_conversation_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_contact_id_fkey;
