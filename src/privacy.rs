//! What support teams are legally asked for: deleting data past its retention period, and
//! erasing one person's data on request. Both run against either backend with their own
//! queries (through [`Db`]) and remove photos from the media folder.
//!
//! **Retention** ([`apply_retention`]) deletes, older than the cutoff: message-log rows (except
//! in conversations with an open ticket, which an agent is still working on), outbox rows that
//! were sent or dead-lettered, processed-event (dedupe) rows, and photos that nothing left in
//! the database refers to. It never deletes pending outbox rows (replies not yet delivered),
//! tickets, contacts or conversation states. Dedupe rows are kept for at least
//! [`MIN_DEDUPE_KEEP`] whatever the cutoff: a platform may redeliver an event for a while
//! (Meta for 36 hours), and without its row a redelivery would be applied twice. Deletes run
//! in batches of [`BATCH`] rows, each its own short transaction, so a running server's writers
//! are never held up for long; running it again finishes whatever an interrupted run left.
//!
//! **Erasure** ([`erase_contact`]) removes one person's data in one transaction: their message
//! log, outbox rows (pending ones too: nothing more is sent), feedback, the photos attached to
//! their tickets and the agents' internal notes about them. Tickets are **anonymised, not
//! deleted**: description, order number and rating comment are cleared, open ones are closed
//! as withdrawn, and the rest (issue type, priority, timestamps, stars) stays, so dashboard
//! counts and response times do not change retroactively. The contact row stays for the same
//! reason, with its platform id replaced by `erased:<row id>` and name and channel data
//! cleared; if the person writes again they start as a new contact. Photos are deleted unless
//! something of another person still refers to the same file (same SHA-256).

use crate::console::db::{Db, DbError, dialect, on_db};
use crate::core::dialog::State;
use crate::media::{MediaError, MediaStore};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

/// Dedupe rows younger than this are never deleted by retention.
pub const MIN_DEDUPE_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// Rows per delete statement.
pub const BATCH: i64 = 5000;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("media folder: {0}")]
    Media(#[from] MediaError),
    #[error("media folder: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for PrivacyError {
    fn from(error: sqlx::Error) -> Self {
        PrivacyError::Db(DbError::Database(error))
    }
}

/// What [`apply_retention`] deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Rows created before this (milliseconds since the Unix epoch) were candidates.
    pub cutoff_ms: i64,
    /// Dedupe rows processed before this were deleted (never later than 7 days ago).
    pub processed_events_cutoff_ms: i64,
    pub messages: u64,
    pub outbox_rows: u64,
    pub processed_events: u64,
    pub media_files: u64,
    pub media_bytes: u64,
}

/// Deletes what is older than `older_than` at `now` (milliseconds since the Unix epoch).
pub async fn apply_retention(
    db: &Db,
    media: &MediaStore,
    older_than: Duration,
    now: i64,
) -> Result<RetentionReport, PrivacyError> {
    const MESSAGES: &str = "DELETE FROM messages WHERE id IN (SELECT m.id FROM messages m \
         WHERE m.created_at < $1 AND NOT EXISTS (SELECT 1 FROM tickets t \
           WHERE t.conversation_id = m.conversation_id AND t.status IN ('queued', 'assigned')) \
         ORDER BY m.id LIMIT $2)";
    const OUTBOX: &str = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
         WHERE status IN ('sent', 'dead') AND created_at < $1 ORDER BY id LIMIT $2)";
    const EVENTS: &str = "DELETE FROM processed_events WHERE (channel, event_id) IN \
         (SELECT channel, event_id FROM processed_events WHERE processed_at < $1 LIMIT $2)";

    let cutoff = now.saturating_sub(millis(older_than));
    let events_cutoff = cutoff.min(now.saturating_sub(millis(MIN_DEDUPE_KEEP)));
    let messages = delete_in_batches(db, MESSAGES, cutoff).await?;
    let outbox_rows = delete_in_batches(db, OUTBOX, cutoff).await?;
    let processed_events = delete_in_batches(db, EVENTS, events_cutoff).await?;

    // Files are judged after the rows: what the remaining rows refer to stays. Age comes from
    // the file's modification time, which the media store refreshes when a photo is sent again.
    let referenced = referenced_media(db).await?;
    let cutoff_time = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(cutoff).unwrap_or(0));
    let (media_files, media_bytes) = remove_old_unreferenced(media, cutoff_time, &referenced).await?;
    Ok(RetentionReport {
        cutoff_ms: cutoff,
        processed_events_cutoff_ms: events_cutoff,
        messages,
        outbox_rows,
        processed_events,
        media_files,
        media_bytes,
    })
}

async fn delete_in_batches(db: &Db, statement: &'static str, cutoff: i64) -> Result<u64, PrivacyError> {
    let mut total = 0;
    loop {
        let deleted: u64 = on_db!(db, pool => {
            sqlx::query(statement).bind(cutoff).bind(BATCH).execute(pool).await?.rows_affected()
        });
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// What [`erase_contact`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    /// `channel:id` as asked for.
    pub contact: String,
    /// The contact row that remains, anonymised (its id is now `erased:<contact_id>`).
    pub contact_id: i64,
    pub messages: u64,
    pub outbox_rows: u64,
    pub feedback: u64,
    pub ticket_attachments: u64,
    pub ticket_notes: u64,
    pub tickets_anonymised: u64,
    /// Open tickets closed as withdrawn (part of `tickets_anonymised`).
    pub tickets_closed: u64,
    pub media_files: u64,
    /// Photos of this person kept because another person's rows refer to the same file.
    pub media_files_shared: u64,
}

/// Erases the data of the person `external_id` on `channel`. `None`: no such contact.
pub async fn erase_contact(
    db: &Db,
    media: &MediaStore,
    channel: &str,
    external_id: &str,
    now: i64,
) -> Result<Option<ErasureReport>, PrivacyError> {
    let find = dialect!(db,
        sqlite: "SELECT id FROM contacts WHERE channel = $1 AND external_id = $2",
        // Taken first, like the engine's upsert does: the two never wait on each other in a cycle.
        postgres: "SELECT id FROM contacts WHERE channel = $1 AND external_id = $2 FOR UPDATE",
    );
    let their_attachments = dialect!(db,
        sqlite: "SELECT m.attachments AS refs FROM messages m JOIN conversations v ON v.id = m.conversation_id \
                 WHERE v.contact_id = $1 AND m.attachments <> '[]' \
                 UNION ALL SELECT payload AS refs FROM outbox WHERE contact_id = $1 AND instr(payload, 'sha256') > 0",
        postgres: "SELECT m.attachments::text AS refs FROM messages m JOIN conversations v ON v.id = m.conversation_id \
                   WHERE v.contact_id = $1 AND m.attachments <> '[]'::jsonb \
                   UNION ALL SELECT payload::text AS refs FROM outbox \
                   WHERE contact_id = $1 AND strpos(payload::text, 'sha256') > 0",
    );
    const THEIR_TICKET_PHOTOS: &str = "SELECT sha256 FROM ticket_attachments \
         WHERE ticket_id IN (SELECT id FROM tickets WHERE contact_id = $1)";
    const MESSAGES: &str =
        "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = $1)";
    const OUTBOX: &str = "DELETE FROM outbox WHERE contact_id = $1";
    const FEEDBACK: &str =
        "DELETE FROM feedback WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = $1)";
    const ATTACHMENTS: &str =
        "DELETE FROM ticket_attachments WHERE ticket_id IN (SELECT id FROM tickets WHERE contact_id = $1)";
    const NOTES: &str =
        "DELETE FROM ticket_notes WHERE ticket_id IN (SELECT id FROM tickets WHERE contact_id = $1)";
    const CLOSE_OPEN: &str = "UPDATE tickets SET status = 'resolved', withdrawn = TRUE, resolved_at = $2, \
         updated_at = $2 WHERE contact_id = $1 AND status IN ('queued', 'assigned')";
    const ANONYMISE_TICKETS: &str = "UPDATE tickets SET description = NULL, order_id = NULL, comment = NULL, \
         updated_at = $2 WHERE contact_id = $1";
    // The version moves on, so an engine transaction that loaded the old state cannot save over it.
    let reset_conversation = dialect!(db,
        sqlite: "UPDATE conversations SET state = $2, version = version + 1, flood_opened_at = 0, \
                 flood_count = 0, updated_at = $3 WHERE contact_id = $1",
        postgres: "UPDATE conversations SET state = $2::jsonb, version = version + 1, flood_opened_at = 0, \
                   flood_count = 0, updated_at = $3 WHERE contact_id = $1",
    );
    const ANONYMISE_CONTACT: &str = "UPDATE contacts SET external_id = 'erased:' || id, display_name = NULL, \
         contact_data = NULL, reachable = FALSE, updated_at = $2 WHERE id = $1";
    let begin = dialect!(db, sqlite: "BEGIN IMMEDIATE", postgres: "BEGIN");
    let initial_state =
        serde_json::to_string(&State::Menu).map_err(|error| DbError::Corrupt(error.to_string()))?;

    let outcome = on_db!(db, pool => {
        let mut tx = pool.begin_with(begin).await?;
        let found = sqlx::query(find).bind(channel).bind(external_id).fetch_optional(&mut *tx).await?;
        let Some(found) = found else { return Ok(None) };
        let contact_id: i64 = found.try_get("id")?;

        let mut candidates = HashSet::new();
        for row in sqlx::query(their_attachments).bind(contact_id).fetch_all(&mut *tx).await? {
            collect_media_refs(&row.try_get::<String, _>("refs")?, &mut candidates);
        }
        for row in sqlx::query(THEIR_TICKET_PHOTOS).bind(contact_id).fetch_all(&mut *tx).await? {
            candidates.insert(row.try_get::<String, _>("sha256")?);
        }

        let messages = sqlx::query(MESSAGES).bind(contact_id).execute(&mut *tx).await?.rows_affected();
        let outbox_rows = sqlx::query(OUTBOX).bind(contact_id).execute(&mut *tx).await?.rows_affected();
        let feedback = sqlx::query(FEEDBACK).bind(contact_id).execute(&mut *tx).await?.rows_affected();
        let ticket_attachments =
            sqlx::query(ATTACHMENTS).bind(contact_id).execute(&mut *tx).await?.rows_affected();
        let ticket_notes = sqlx::query(NOTES).bind(contact_id).execute(&mut *tx).await?.rows_affected();
        let tickets_closed =
            sqlx::query(CLOSE_OPEN).bind(contact_id).bind(now).execute(&mut *tx).await?.rows_affected();
        let tickets_anonymised =
            sqlx::query(ANONYMISE_TICKETS).bind(contact_id).bind(now).execute(&mut *tx).await?.rows_affected();
        sqlx::query(reset_conversation)
            .bind(contact_id)
            .bind(&initial_state)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(ANONYMISE_CONTACT).bind(contact_id).bind(now).execute(&mut *tx).await?;

        // Read inside the transaction, after the deletes: exactly what remains once it commits.
        let documents: Vec<String> =
            sqlx::query_scalar(referenced_media_query(db)).fetch_all(&mut *tx).await?;
        let remaining = media_refs(&documents);
        tx.commit().await?;
        let report = ErasureReport {
            contact: format!("{channel}:{external_id}"),
            contact_id,
            messages,
            outbox_rows,
            feedback,
            ticket_attachments,
            ticket_notes,
            tickets_anonymised,
            tickets_closed,
            media_files: 0,
            media_files_shared: 0,
        };
        Ok::<_, PrivacyError>(Some((report, candidates, remaining)))
    })?;

    let Some((mut report, candidates, remaining)) = outcome else { return Ok(None) };
    for sha256 in &candidates {
        if remaining.contains(sha256) {
            report.media_files_shared += 1;
        } else if media.read(sha256).await?.is_some() {
            media.remove(sha256).await?;
            report.media_files += 1;
        }
    }
    Ok(Some(report))
}

/// Every photo the database still refers to: message attachments, ticket attachments, and
/// attachments inside outbox payloads. One row per document (or per ticket photo).
fn referenced_media_query(db: &Db) -> &'static str {
    dialect!(db,
        sqlite: "SELECT attachments AS refs FROM messages WHERE attachments <> '[]' \
                 UNION ALL SELECT payload AS refs FROM outbox WHERE instr(payload, 'sha256') > 0 \
                 UNION ALL SELECT DISTINCT sha256 AS refs FROM ticket_attachments",
        postgres: "SELECT attachments::text AS refs FROM messages WHERE attachments <> '[]'::jsonb \
                   UNION ALL SELECT payload::text AS refs FROM outbox WHERE strpos(payload::text, 'sha256') > 0 \
                   UNION ALL SELECT DISTINCT sha256 AS refs FROM ticket_attachments",
    )
}

async fn referenced_media(db: &Db) -> Result<HashSet<String>, PrivacyError> {
    let query = referenced_media_query(db);
    let documents: Vec<String> = on_db!(db, pool => sqlx::query_scalar(query).fetch_all(pool).await?);
    Ok(media_refs(&documents))
}

/// The photo names in rows of [`referenced_media_query`]: bare names or JSON documents.
fn media_refs(documents: &[String]) -> HashSet<String> {
    let mut found = HashSet::new();
    for document in documents {
        if is_sha256(document) {
            found.insert(document.clone());
        } else {
            collect_media_refs(document, &mut found);
        }
    }
    found
}

/// Every `"sha256": "..."` inside a JSON document (attachment lists, outbox payloads): read
/// structurally, so a change in the payload's shape cannot hide a reference.
fn collect_media_refs(json: &str, into: &mut HashSet<String>) {
    fn walk(value: &serde_json::Value, into: &mut HashSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(sha256)) = map.get("sha256")
                    && is_sha256(sha256)
                {
                    into.insert(sha256.clone());
                }
                map.values().for_each(|inner| walk(inner, into));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|inner| walk(inner, into)),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(value) => walk(&value, into),
        Err(error) => tracing::warn!(%error, "an attachment list that is not JSON was skipped"),
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Removes photos last written before `cutoff` that nothing refers to. Returns files and bytes.
async fn remove_old_unreferenced(
    media: &MediaStore,
    cutoff: SystemTime,
    referenced: &HashSet<String>,
) -> Result<(u64, u64), PrivacyError> {
    let mut removed = (0, 0);
    let mut folders = match tokio::fs::read_dir(media.dir()).await {
        Ok(folders) => folders,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(error) => return Err(error.into()),
    };
    while let Some(folder) = folders.next_entry().await? {
        if !folder.file_type().await?.is_dir() {
            continue;
        }
        let mut files = tokio::fs::read_dir(folder.path()).await?;
        while let Some(file) = files.next_entry().await? {
            let name = file.file_name().to_string_lossy().into_owned();
            // Only content-addressed photos; half-written temporary files are not ours to judge.
            if !is_sha256(&name) || referenced.contains(&name) {
                continue;
            }
            let metadata = file.metadata().await?;
            if metadata.is_file() && metadata.modified()? < cutoff {
                media.remove(&name).await?;
                removed.0 += 1;
                removed.1 += metadata.len();
            }
        }
    }
    Ok(removed)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_references_are_found_wherever_the_json_puts_them() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let mut found = HashSet::new();
        collect_media_refs(
            &format!(r#"[{{"sha256":"{a}","content_type":"image/png","bytes":3}}]"#),
            &mut found,
        );
        collect_media_refs(
            &format!(r#"{{"Agent":{{"agent":"anna","text":"hi","attachments":[{{"sha256":"{b}"}}]}}}}"#),
            &mut found,
        );
        collect_media_refs(r#"{"sha256":"../../etc/passwd"}"#, &mut found);
        collect_media_refs("not json", &mut found);
        assert_eq!(found, HashSet::from([a, b]));
    }
}
