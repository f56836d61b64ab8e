//! Statements that read the same in both dialects. SQLite accepts `$N` placeholders, `TRUE`
//! and `FALSE`, `RETURNING` and `ON CONFLICT`, so only batch inserts (JSON on SQLite, arrays
//! on PostgreSQL), JSON columns and row locks need dialect-specific text.

pub(super) const CONTACT_BY_KEY: &str = "SELECT id, channel, external_id, lang, language_chosen, reachable, \
     display_name, contact_data FROM contacts WHERE channel = $1 AND external_id = $2";

pub(super) const LATEST_TICKET_ID: &str = "SELECT MAX(id) FROM tickets WHERE conversation_id = $1";

pub(super) const CONVERSATION_OF_CONTACT: &str = "SELECT id, contact_id, state, version, flood_opened_at, flood_count FROM conversations WHERE contact_id = $1";

/// The tickets CLI's columns. Followed by a WHERE clause.
macro_rules! ticket_summary_select {
    ($where:expr) => {
        concat!(
            "SELECT t.id, t.conversation_id, t.status, t.issue_type, t.order_id, t.priority, t.lang, ",
            "c.channel, c.external_id, c.display_name, t.description, t.rating, t.comment, ",
            "t.self_served, t.withdrawn, t.assigned_agent, ",
            "(SELECT m.text FROM messages m WHERE m.conversation_id = t.conversation_id ",
            "AND m.author = 'customer' ORDER BY m.id DESC LIMIT 1) AS last_customer_message, ",
            "t.created_at, t.first_assigned_at, t.first_agent_reply_at, t.resolved_at ",
            "FROM tickets t JOIN contacts c ON c.id = t.contact_id ",
            $where
        )
    };
}

/// Outbox rows due for delivery (see `Store::claim_outbox`), oldest first. `$1` holds the
/// channels (read by the dialect's `$channels` condition on `o.channel`, which may also name
/// one contact by `c.external_id = $4`), `$2` is now and `$3` the limit.
macro_rules! due_outbox {
    ($channels:literal) => {
        concat!(
            "SELECT o.id, o.conversation_id, o.contact_id, o.channel, c.external_id, ",
            "c.contact_data, o.lang, o.payload, o.attempts ",
            "FROM outbox o JOIN contacts c ON c.id = o.contact_id ",
            "WHERE o.status = 'pending' AND ",
            $channels,
            " AND o.next_attempt_at <= $2 AND (o.lease_until IS NULL OR o.lease_until <= $2) AND c.reachable ",
            "AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' ",
            "AND p.conversation_id = o.conversation_id AND p.id < o.id ",
            "AND (p.next_attempt_at > $2 OR (p.lease_until IS NOT NULL AND p.lease_until > $2))) ",
            "ORDER BY o.id LIMIT $3"
        )
    };
}
pub(super) use due_outbox;

/// Inserts the contacts `$rows` selects (channel, external_id, lang, display_name,
/// contact_data, created_at, updated_at); a known contact keeps its name and data unless the
/// row brings new ones. Returns every contact's columns, as [`super::rows::contact`] reads them.
macro_rules! upsert_contacts {
    ($rows:literal) => {
        concat!(
            "INSERT INTO contacts (channel, external_id, lang, display_name, contact_data, created_at, ",
            "updated_at) ",
            $rows,
            " ON CONFLICT (channel, external_id) DO UPDATE SET ",
            "display_name = coalesce(excluded.display_name, contacts.display_name), ",
            "contact_data = coalesce(excluded.contact_data, contacts.contact_data), ",
            "updated_at = excluded.updated_at ",
            "RETURNING id, channel, external_id, lang, language_chosen, reachable, display_name, contact_data"
        )
    };
}
pub(super) use upsert_contacts;

/// Tickets whose language is among the comma-separated codes of parameter `$n` (all when
/// NULL). Codes are letters only, so the commas delimit them exactly.
macro_rules! in_languages {
    ($n:literal) => {
        concat!(
            "AND (CAST(",
            $n,
            " AS TEXT) IS NULL OR ",
            "(',' || CAST(",
            $n,
            " AS TEXT) || ',') LIKE ('%,' || t.lang || ',%'))"
        )
    };
}

/// One page of tickets with status `$1` (all when NULL): queued ones first, in queue order
/// (priority, then age), then assigned and resolved ones newest first. `$2` is the page size,
/// `$3` the offset, `$4` the languages as comma-separated codes (all when NULL).
macro_rules! ticket_page {
    () => {
        concat!(
            "WHERE (CAST($1 AS TEXT) IS NULL OR t.status = CAST($1 AS TEXT)) ",
            in_languages!("$4"),
            " ",
            "ORDER BY CASE t.status WHEN 'queued' THEN 0 WHEN 'assigned' THEN 1 ELSE 2 END, ",
            "CASE WHEN t.status = 'queued' THEN -t.priority_rank ELSE 0 END, ",
            "CASE WHEN t.status = 'queued' THEN t.created_at ELSE -t.created_at END, ",
            "CASE WHEN t.status = 'queued' THEN t.id ELSE -t.id END ",
            "LIMIT $2 OFFSET $3"
        )
    };
}

/// How many tickets wait in the queue in the languages of `$1` (all when NULL).
pub(super) const QUEUED_IN_LANGUAGES: &str =
    concat!("SELECT COUNT(*) AS waiting FROM tickets t WHERE t.status = 'queued' ", in_languages!("$1"));

pub(super) const TICKET_SUMMARIES: &str = ticket_summary_select!(ticket_page!());
pub(super) const TICKET_SUMMARY_BY_ID: &str = ticket_summary_select!("WHERE t.id = $1");

/// The photos of the tickets on one page of `TICKET_SUMMARIES` (same parameters).
pub(super) const ATTACHMENTS_OF_PAGE: &str = concat!(
    "SELECT a.ticket_id, a.sha256, a.content_type, a.bytes FROM ticket_attachments a ",
    "WHERE a.ticket_id IN (SELECT t.id FROM tickets t ",
    ticket_page!(),
    ") ORDER BY a.id"
);
pub(super) const ATTACHMENTS_OF_TICKET: &str =
    "SELECT ticket_id, sha256, content_type, bytes FROM ticket_attachments WHERE ticket_id = $1 ORDER BY id";

pub(super) const TRANSCRIPT: &str = "SELECT id, direction, author, agent, text, body, attachments, created_at \
     FROM messages WHERE conversation_id = $1 ORDER BY id";
pub(super) const NOTES_OF_TICKET: &str =
    "SELECT id, agent, text, created_at FROM ticket_notes WHERE ticket_id = $1 ORDER BY id";

pub(super) const DEAD_LETTERS: &str = "SELECT o.id, o.conversation_id, o.channel, c.external_id, o.attempts, \
     o.last_error, o.created_at FROM outbox o JOIN contacts c ON c.id = o.contact_id \
     WHERE o.status = 'dead' ORDER BY o.id DESC LIMIT $1";

pub(super) const QUEUE_COUNTS: &str = "SELECT \
     (SELECT count(*) FROM tickets WHERE status = 'queued' AND priority_rank = 1) AS high, \
     (SELECT count(*) FROM tickets WHERE status = 'queued' AND priority_rank = 0) AS normal, \
     (SELECT count(*) FROM tickets WHERE status = 'queued' AND priority_rank = -1) AS low, \
     (SELECT count(DISTINCT assigned_agent) FROM tickets WHERE status = 'assigned') AS agents";
pub(super) const RECENT_WAITS: &str = "SELECT (first_assigned_at - created_at) / 1000 AS wait FROM tickets \
     WHERE first_assigned_at IS NOT NULL ORDER BY first_assigned_at DESC LIMIT 50";

/// Queued tickets ahead of ticket `me` in queue order: higher priority, or the same priority
/// and older.
macro_rules! tickets_ahead {
    ($me:literal) => {
        concat!(
            "SELECT (SELECT count(*) FROM tickets t WHERE t.status = 'queued' AND t.id <> me.id AND ",
            "(t.priority_rank > me.priority_rank OR (t.priority_rank = me.priority_rank AND ",
            "(t.created_at < me.created_at OR (t.created_at = me.created_at AND t.id < me.id))))) AS ahead ",
            "FROM tickets me ",
            $me
        )
    };
}

pub(super) const TICKETS_AHEAD_OF_TICKET: &str = tickets_ahead!("WHERE me.id = $1");
pub(super) const TICKETS_AHEAD_OF_CONVERSATION: &str = tickets_ahead!(
    "WHERE me.conversation_id = $1 AND me.status IN ('queued', 'assigned') ORDER BY me.id DESC LIMIT 1"
);

pub(super) const TICKET_COLUMNS_BY_ID: &str = "SELECT id, conversation_id, contact_id, status, assigned_agent, \
     priority, created_at FROM tickets WHERE id = $1";
pub(super) const OPEN_TICKET: &str = "SELECT id, conversation_id, contact_id, status, assigned_agent, priority, \
     created_at FROM tickets WHERE conversation_id = $1 AND status IN ('queued', 'assigned') \
     ORDER BY id DESC LIMIT 1";
pub(super) const LATEST_RESOLVED_TICKET: &str = "SELECT id FROM tickets WHERE conversation_id = $1 \
     AND status = 'resolved' AND withdrawn = FALSE ORDER BY resolved_at DESC, id DESC LIMIT 1";
pub(super) const TICKETS_DUE_REMINDER: &str = "SELECT id, conversation_id, contact_id, status, assigned_agent, \
     priority, created_at FROM tickets WHERE status = 'queued' AND created_at <= $1 \
     AND (last_reminded_at IS NULL OR last_reminded_at <= $2) ORDER BY created_at, id LIMIT $3";

pub(super) const INSERT_TICKET: &str = "INSERT INTO tickets (conversation_id, contact_id, status, issue_type, \
     order_id, priority, priority_rank, description, lang, self_served, created_at, updated_at, resolved_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12) RETURNING id";

pub(super) const TICKET_ASSIGN: &str = "UPDATE tickets SET status = 'assigned', assigned_agent = $2, \
     first_assigned_at = coalesce(first_assigned_at, $3), updated_at = $3 WHERE id = $1";
pub(super) const TICKET_RELEASE: &str =
    "UPDATE tickets SET status = 'queued', assigned_agent = NULL, updated_at = $2 WHERE id = $1";
pub(super) const TICKET_RESOLVE: &str =
    "UPDATE tickets SET status = 'resolved', resolved_at = $2, updated_at = $2 WHERE id = $1";
pub(super) const TICKET_REOPEN: &str = "UPDATE tickets SET status = 'assigned', assigned_agent = $2, \
     resolved_at = NULL, rating = NULL, comment = NULL, updated_at = $3 WHERE id = $1";
pub(super) const TICKET_WITHDRAW: &str = "UPDATE tickets SET status = 'resolved', withdrawn = TRUE, \
     resolved_at = $2, updated_at = $2 WHERE id = $1";
pub(super) const TICKET_RATE: &str = "UPDATE tickets SET rating = $2, updated_at = $3 WHERE id = $1";
pub(super) const TICKET_COMMENT: &str = "UPDATE tickets SET comment = $2, updated_at = $3 WHERE id = $1";
pub(super) const TICKET_AGENT_REPLIED: &str = "UPDATE tickets SET \
     first_agent_reply_at = coalesce(first_agent_reply_at, $2), updated_at = $2 WHERE id = $1";
pub(super) const TICKET_REMINDED: &str = "UPDATE tickets SET last_reminded_at = $2 WHERE id = $1";

pub(super) const INSERT_NOTE: &str =
    "INSERT INTO ticket_notes (ticket_id, agent, text, created_at) VALUES ($1, $2, $3, $4) RETURNING id";

pub(super) const SET_CONTACT_LANGUAGE: &str = "UPDATE contacts SET lang = $2, \
     language_chosen = (language_chosen OR $3), updated_at = $4 WHERE id = $1";
pub(super) const SET_CONTACT_REACHABLE: &str =
    "UPDATE contacts SET reachable = $2, updated_at = $3 WHERE id = $1";
pub(super) const INSERT_FEEDBACK: &str =
    "INSERT INTO feedback (conversation_id, text, lang, created_at) VALUES ($1, $2, $3, $4)";

pub(super) const APPLIED_MIGRATIONS: &str = "SELECT version FROM _sqlx_migrations WHERE success";

pub(super) const CURSOR: &str = "SELECT value FROM cursors WHERE name = $1";
pub(super) const SET_CURSOR: &str = "INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

pub(super) const OUTBOX_ROW: &str = "SELECT id, conversation_id, status, attempts, next_attempt_at, lease_until, \
     last_error, payload FROM outbox WHERE id = $1";
pub(super) const OUTBOX_OF_CONVERSATION: &str = "SELECT id, conversation_id, status, attempts, next_attempt_at, \
     lease_until, last_error, payload FROM outbox WHERE conversation_id = $1 ORDER BY id";
pub(super) const PENDING_OUTBOX: &str = "SELECT count(*) AS pending FROM outbox WHERE status = 'pending'";

pub(super) const OUTBOX_RETRY: &str = "UPDATE outbox SET next_attempt_at = $2, attempts = attempts + $3, \
     last_error = $4, lease_until = NULL WHERE id = $1";
pub(super) const OUTBOX_DEAD: &str = "UPDATE outbox SET status = 'dead', last_error = $2, lease_until = NULL, attempts = attempts + 1 WHERE id = $1";
pub(super) const OUTBOX_RELEASE: &str = "UPDATE outbox SET lease_until = NULL WHERE id = $1";

// ---- accounts (agents, sessions, API tokens, server secrets) ----

pub(super) const INSERT_AGENT: &str = "INSERT INTO agents (name, password_hash, role, disabled, \
     must_change_password, created_at) VALUES ($1, $2, $3, FALSE, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING id";
pub(super) const AGENTS: &str = "SELECT id, name, role, disabled, must_change_password, display_name, photo_sha256, console_lang, languages FROM agents ORDER BY name";
pub(super) const AGENT_COUNT: &str = "SELECT COUNT(*) AS agents FROM agents";
pub(super) const AGENT_BY_NAME: &str = "SELECT id, name, role, disabled, must_change_password, display_name, photo_sha256, console_lang, languages FROM agents \
     WHERE name = $1";
pub(super) const SET_AGENT_PROFILE: &str =
    "UPDATE agents SET display_name = $1, photo_sha256 = $2 WHERE name = $3";
pub(super) const SET_AGENT_LANGUAGES: &str =
    "UPDATE agents SET console_lang = $1, languages = $2 WHERE name = $3";
pub(super) const IS_AGENT_PHOTO: &str =
    "SELECT EXISTS (SELECT 1 FROM agents WHERE photo_sha256 = $1 AND disabled = FALSE) AS found";
pub(super) const AGENT_WITH_PASSWORD: &str = "SELECT id, name, role, disabled, must_change_password, display_name, photo_sha256, console_lang, languages, password_hash \
     FROM agents WHERE name = $1";
pub(super) const DISABLE_AGENT: &str = "UPDATE agents SET disabled = TRUE WHERE name = $1 RETURNING id";
pub(super) const ENABLE_AGENT: &str = "UPDATE agents SET disabled = FALSE WHERE name = $1";
pub(super) const END_SESSIONS_OF_AGENT: &str = "DELETE FROM agent_sessions WHERE agent_id = $1";
pub(super) const REVOKE_TOKENS_OF_AGENT: &str = "UPDATE api_tokens SET revoked = TRUE WHERE agent_id = $1";
pub(super) const SET_PASSWORD: &str =
    "UPDATE agents SET password_hash = $1, must_change_password = $2 WHERE name = $3 RETURNING id";
/// Every session of agent `$1` but the one whose hash is `$2` (none when `$2` is NULL).
pub(super) const END_OTHER_SESSIONS_OF_AGENT: &str = "DELETE FROM agent_sessions WHERE agent_id = $1 \
     AND (CAST($2 AS TEXT) IS NULL OR token_hash <> CAST($2 AS TEXT))";

pub(super) const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM agent_sessions WHERE expires_at <= $1";
pub(super) const INSERT_SESSION: &str = "INSERT INTO agent_sessions (token_hash, agent_id, csrf_token, \
     created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
pub(super) const SESSION: &str = "SELECT a.id, a.name, a.role, a.disabled, a.must_change_password, a.display_name, \
     a.photo_sha256, a.console_lang, a.languages, s.csrf_token \
     FROM agent_sessions s \
     JOIN agents a ON a.id = s.agent_id WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled = FALSE";
pub(super) const DELETE_SESSION: &str = "DELETE FROM agent_sessions WHERE token_hash = $1";

pub(super) const INSERT_API_TOKEN: &str = "INSERT INTO api_tokens (name, token_hash, agent_id, revoked, \
     created_at, expires_at) VALUES ($1, $2, $3, FALSE, $4, $5)";
pub(super) const API_TOKENS: &str = "SELECT t.id, t.name, a.name AS agent, t.revoked, t.created_at, \
     t.last_used_at, t.expires_at FROM api_tokens t JOIN agents a ON a.id = t.agent_id ORDER BY t.id";
pub(super) const REVOKE_API_TOKEN: &str = "UPDATE api_tokens SET revoked = TRUE WHERE id = $1";
pub(super) const AGENT_FOR_TOKEN: &str = "SELECT a.id, a.name, a.role, a.disabled, a.must_change_password, \
     a.display_name, a.photo_sha256, a.console_lang, a.languages FROM api_tokens t JOIN agents a ON a.id = t.agent_id WHERE t.token_hash = $1 AND t.revoked = FALSE \
     AND a.disabled = FALSE AND (t.expires_at IS NULL OR t.expires_at > $2)";
pub(super) const TOKEN_USED: &str = "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2";

pub(super) const INSERT_SERVER_SECRET: &str = "INSERT INTO server_secrets (name, value, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING";
pub(super) const SERVER_SECRET: &str = "SELECT value FROM server_secrets WHERE name = $1";

// ---- console reads and canned replies ----

pub(super) const CONTACT_LANG: &str = "SELECT lang FROM contacts WHERE channel = $1 AND external_id = $2";
pub(super) const MEDIA_ON_TICKETS: &str =
    "SELECT EXISTS (SELECT 1 FROM ticket_attachments WHERE sha256 = $1) AS found";
pub(super) const TICKET_STATUS: &str = "SELECT status, assigned_agent FROM tickets WHERE id = $1";
/// Three index lookups (no scan: `tickets_updated_at` serves the middle one), read every
/// couple of seconds by the console's one live watcher.
pub(super) const CHANGE_MARKER: &str = "SELECT (SELECT COALESCE(MAX(id), 0) FROM messages) AS last_message, \
     (SELECT COALESCE(MAX(updated_at), 0) FROM tickets) AS last_ticket_update, \
     (SELECT COALESCE(MAX(id), 0) FROM tickets) AS last_ticket";
pub(super) const TICKET_TIMES: &str = "SELECT created_at, first_agent_reply_at, resolved_at, rating, \
     self_served, withdrawn FROM tickets WHERE created_at >= $1 ORDER BY created_at";
pub(super) const FAQ_VERDICTS: &str =
    "SELECT helped, created_at FROM faq_outcomes WHERE created_at >= $1 ORDER BY created_at";

pub(super) const CANNED_REPLIES_OF_LANG: &str = "SELECT id, lang, title, body, COALESCE(set_id, id) AS set_id \
     FROM canned_replies WHERE lang = $1 ORDER BY title, id";
/// Sets together (by their first version's id), and within a set by language.
pub(super) const CANNED_REPLIES: &str = "SELECT id, lang, title, body, COALESCE(set_id, id) AS set_id \
     FROM canned_replies ORDER BY COALESCE(set_id, id), lang, id";
/// A new reply joins the set `$5` (which must exist) or, with NULL, is a set of its own.
pub(super) const INSERT_CANNED_REPLY: &str = "INSERT INTO canned_replies (lang, title, body, created_at, \
     updated_at, set_id) SELECT $1, $2, $3, $4, $4, $5 \
     WHERE $5 IS NULL OR EXISTS (SELECT 1 FROM canned_replies WHERE COALESCE(set_id, id) = $5) RETURNING id";

// ---- translations ----

/// The stored translations into `$2` of conversation `$1`'s messages.
pub(super) const TRANSLATIONS_OF_CONVERSATION: &str = "SELECT t.message_id, t.text FROM message_translations t \
     JOIN messages m ON m.id = t.message_id WHERE m.conversation_id = $1 AND t.lang = $2";
/// Keeps a translation only while its message exists (an erasure may have removed it since it
/// was read), and keeps the first one made.
pub(super) const SAVE_TRANSLATION: &str = "INSERT INTO message_translations (message_id, lang, text, provider, \
     created_at) SELECT id, $2, $3, $4, $5 FROM messages WHERE id = $1 \
     ON CONFLICT (message_id, lang) DO NOTHING";
pub(super) const UPDATE_CANNED_REPLY: &str =
    "UPDATE canned_replies SET lang = $1, title = $2, body = $3, updated_at = $4 WHERE id = $5";
pub(super) const DELETE_CANNED_REPLY: &str = "DELETE FROM canned_replies WHERE id = $1";

// ---- privacy ----

pub(super) const DELETE_EXPIRED_MESSAGES: &str = "DELETE FROM messages WHERE id IN (SELECT m.id FROM messages m \
     WHERE m.created_at < $1 AND NOT EXISTS (SELECT 1 FROM tickets t \
       WHERE t.conversation_id = m.conversation_id AND t.status IN ('queued', 'assigned')) \
     ORDER BY m.id LIMIT $2)";
pub(super) const DELETE_DELIVERED_OUTBOX: &str = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
     WHERE status IN ('sent', 'dead') AND created_at < $1 ORDER BY id LIMIT $2)";
pub(super) const DELETE_EXPIRED_EVENTS: &str = "DELETE FROM processed_events WHERE (channel, event_id) IN \
     (SELECT channel, event_id FROM processed_events WHERE processed_at < $1 LIMIT $2)";

pub(super) const DELETE_EXPIRED_NOTES: &str = "DELETE FROM ticket_notes WHERE id IN (SELECT n.id \
     FROM ticket_notes n JOIN tickets t ON t.id = n.ticket_id \
     WHERE t.status = 'resolved' AND t.resolved_at < $1 ORDER BY n.id LIMIT $2)";
pub(super) const DELETE_EXPIRED_FEEDBACK: &str =
    "DELETE FROM feedback WHERE id IN (SELECT id FROM feedback WHERE created_at < $1 ORDER BY id LIMIT $2)";
pub(super) const CLEAR_CLOSED_TICKET_TEXTS: &str = "UPDATE tickets SET description = NULL, order_id = NULL, \
     comment = NULL, order_snapshot = NULL WHERE id IN (SELECT id FROM tickets WHERE status = 'resolved' \
       AND resolved_at < $1 AND (description IS NOT NULL OR order_id IS NOT NULL OR comment IS NOT NULL \
       OR order_snapshot IS NOT NULL) ORDER BY id LIMIT $2)";
/// Answered order lookups: the numbers and verifiers customers typed, and the orders found.
pub(super) const DELETE_EXPIRED_LOOKUPS: &str = "DELETE FROM order_lookups WHERE id IN \
     (SELECT id FROM order_lookups WHERE done_at IS NOT NULL AND done_at < $1 ORDER BY id LIMIT $2)";
pub(super) const CLEAR_IDLE_CONTACT_NAMES: &str = "UPDATE contacts SET display_name = NULL WHERE id IN \
     (SELECT c.id FROM contacts c WHERE c.display_name IS NOT NULL AND c.updated_at < $1 \
       AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.contact_id = c.id \
         AND (t.status IN ('queued', 'assigned') OR t.resolved_at >= $1)) \
       AND NOT EXISTS (SELECT 1 FROM conversations v WHERE v.contact_id = c.id AND v.updated_at >= $1) \
       AND NOT EXISTS (SELECT 1 FROM conversations v JOIN messages m ON m.conversation_id = v.id \
         WHERE v.contact_id = c.id AND m.created_at >= $1) \
     ORDER BY c.id LIMIT $2)";

/// Dedupe rows of the events contact `$1`'s message log names. Run before the log goes.
pub(super) const ERASE_EVENTS_IN_LOG: &str = "DELETE FROM processed_events WHERE (channel, event_id) IN \
     (SELECT c.channel, m.event_id FROM contacts c JOIN conversations v ON v.contact_id = c.id \
       JOIN messages m ON m.conversation_id = v.id WHERE c.id = $1 AND m.event_id IS NOT NULL)";
/// Dedupe rows on contact `$1`'s channel whose id starts with its platform id and a colon: web
/// chat ids are `<visitor>:<message>`, so a visitor's events that left no message are found
/// too. (Telegram's start with the bot's id, VK's are VK's own: neither is a customer's id.)
pub(super) const ERASE_EVENTS_BY_PREFIX: &str = "DELETE FROM processed_events \
     WHERE channel = (SELECT channel FROM contacts WHERE id = $1) \
     AND substr(event_id, 1, (SELECT length(external_id) + 1 FROM contacts WHERE id = $1)) = \
       (SELECT external_id || ':' FROM contacts WHERE id = $1)";

pub(super) const THEIR_TICKET_PHOTOS: &str = "SELECT sha256 AS refs FROM ticket_attachments \
     WHERE ticket_id IN (SELECT id FROM tickets WHERE contact_id = $1)";
pub(super) const ERASE_MESSAGES: &str =
    "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = $1)";
pub(super) const ERASE_OUTBOX: &str = "DELETE FROM outbox WHERE contact_id = $1";
pub(super) const ERASE_FEEDBACK: &str =
    "DELETE FROM feedback WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = $1)";
pub(super) const ERASE_TICKET_PHOTOS: &str =
    "DELETE FROM ticket_attachments WHERE ticket_id IN (SELECT id FROM tickets WHERE contact_id = $1)";
pub(super) const ERASE_NOTES: &str =
    "DELETE FROM ticket_notes WHERE ticket_id IN (SELECT id FROM tickets WHERE contact_id = $1)";
pub(super) const CLOSE_OPEN_TICKETS: &str = "UPDATE tickets SET status = 'resolved', withdrawn = TRUE, \
     resolved_at = $2, updated_at = $2 WHERE contact_id = $1 AND status IN ('queued', 'assigned')";
pub(super) const ANONYMISE_TICKETS: &str = "UPDATE tickets SET description = NULL, order_id = NULL, \
     comment = NULL, order_snapshot = NULL, updated_at = $2 WHERE contact_id = $1";
/// The contact's order lookups: the numbers and verifiers they typed, and the orders found.
pub(super) const ERASE_ORDER_LOOKUPS: &str = "DELETE FROM order_lookups WHERE contact_id = $1";
pub(super) const ANONYMISE_CONTACT: &str = "UPDATE contacts SET external_id = 'erased:' || id, \
     display_name = NULL, contact_data = NULL, reachable = FALSE, customer_id = NULL, updated_at = $2 WHERE id = $1";

pub(super) const CONTACT_BY_ID: &str = "SELECT id, channel, external_id, lang, language_chosen, reachable, \
     display_name, contact_data FROM contacts WHERE id = $1";

pub(super) const LOG_AFTER: &str = "SELECT id, conversation_id, direction, author, agent, text, body, \
     attachments, event_id, created_at \
     FROM messages WHERE conversation_id = $1 AND id > $2 ORDER BY id LIMIT $3";
pub(super) const CONTACT_LOG_AFTER: &str = "SELECT m.id, m.conversation_id, m.direction, m.author, m.agent, \
     m.text, m.body, m.attachments, m.event_id, m.created_at \
     FROM contacts c JOIN conversations v ON v.contact_id = c.id JOIN messages m ON m.conversation_id = v.id \
     WHERE c.channel = $1 AND c.external_id = $2 AND m.id > $3 AND m.author <> 'system' ORDER BY m.id LIMIT $4";
pub(super) const LAST_BOT_MESSAGE_OF_CONTACT: &str = "SELECT m.id, m.conversation_id, m.direction, m.author, \
     m.agent, m.text, m.body, m.attachments, m.event_id, m.created_at \
     FROM contacts c JOIN conversations v ON v.contact_id = c.id JOIN messages m ON m.conversation_id = v.id \
     WHERE c.channel = $1 AND c.external_id = $2 AND m.author = 'bot' ORDER BY m.id DESC LIMIT 1";
