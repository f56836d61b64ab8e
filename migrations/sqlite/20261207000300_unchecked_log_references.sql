-- In step with migrations/postgres, which stops checking the message log's and the outbox's
-- references there. SQLite keeps its checks: in-process they cost little.
SELECT 1;
