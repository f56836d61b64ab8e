//! What support teams are legally asked for: deleting data past its retention period, and
//! erasing one person's data on request. Retention asks the store to delete rows no
//! conversation state depends on ([`PrivacyStore`](crate::store::PrivacyStore)); erasure, and
//! retention's reset of idle conversations, change conversations, so they run as the engine's
//! transactions ([`Engine::erase_contact`], [`Engine::reset_idle_conversations`]). Both then
//! remove photos from the media folder.
//!
//! **Retention** ([`apply_retention`]) deletes or clears what aged out before the cutoff:
//! - message-log rows, except in conversations with an open ticket (an agent is still on it),
//!   with their stored machine translations (the foreign key deletes them with the message);
//! - outbox rows that were sent or dead-lettered;
//! - processed-event (dedupe) rows, kept for at least [`MIN_DEDUPE_KEEP`] whatever the cutoff:
//!   a platform may redeliver an event for a while (Meta for 36 hours), and without its row a
//!   redelivery would be applied twice;
//! - on tickets resolved before the cutoff, the customer's words (description, order number,
//!   rating comment) and the agents' notes; the ticket row stays (issue type, priority, times,
//!   stars), so the dashboard's figures do not change;
//! - feedback (reviews) left before the cutoff;
//! - the display name of a contact with nothing since the cutoff (no message, no conversation
//!   change, no ticket open or resolved since); a person who writes again gets it back from
//!   their platform;
//! - drafts: a conversation with nothing since the cutoff and no open ticket goes back to the
//!   menu, and what the customer left half-way in it (a description, a caption, a question)
//!   goes with the old state;
//! - photos that nothing left in the database refers to.
//!
//! It never deletes pending outbox rows (replies not yet delivered), tickets or contacts.
//! Deletes run in batches of [`BATCH`] rows, each its own short transaction, so a running
//! server's writers are never held up for long; running it again finishes whatever an
//! interrupted run left.
//!
//! **Erasure** ([`erase_contact`]) removes one person's data in one transaction: their message
//! log (and the machine translations stored with it, through the foreign key), outbox rows (pending ones too: nothing more is sent), feedback, the photos attached to
//! their tickets, the agents' internal notes about them, and the dedupe rows of their events
//! (whose ids would otherwise say when they wrote; a platform redelivering one of their events
//! afterwards is taken as a new person writing). Tickets are **anonymised, not deleted**:
//! description, order number and rating comment are cleared, open ones are closed as
//! withdrawn, and the rest (issue type, priority, timestamps, stars) stays, so dashboard
//! counts and response times do not change retroactively. The contact row stays for the same
//! reason, with its platform id replaced by `erased:<row id>` and name and channel data
//! cleared; if the person writes again they start as a new contact. Photos are deleted unless
//! something of another person still refers to the same file (same SHA-256).
//!
//! **In the files.** Deleting a row does not by itself remove its text from the database's
//! files. SQLite runs with `secure_delete` (deleted content is overwritten with zeros), and
//! after retention or an erasure its write-ahead log, which still holds older copies of the
//! pages, is copied back and truncated
//! ([`PrivacyStore::flush_deletions`](crate::store::PrivacyStore::flush_deletions)); the
//! reports say whether that succeeded (`log_truncated`). On PostgreSQL, deleted rows stay in their pages
//! until vacuum reclaims them (autovacuum does, or run `VACUUM`); their space is reused, but
//! the bytes are not zeroed, so the disk and its backups need the protection they always need.

use crate::engine::{Engine, EngineError};
use crate::media::{MediaError, MediaStore};
use crate::store::{ErasureCounts, Expired, Store, StoreError};
use serde::Serialize;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

/// Dedupe rows younger than this are never deleted by retention.
pub const MIN_DEDUPE_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// Rows per delete statement.
pub const BATCH: i64 = 5000;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("media folder: {0}")]
    Media(#[from] MediaError),
    #[error("media folder: {0}")]
    Io(#[from] std::io::Error),
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
    /// Agents' notes on tickets resolved before the cutoff.
    pub ticket_notes: u64,
    pub feedback: u64,
    /// Tickets resolved before the cutoff whose description, order number and comment were
    /// cleared.
    pub tickets_anonymised: u64,
    /// Contacts idle since before the cutoff whose display name was cleared.
    pub contact_names: u64,
    /// Idle conversations put back at the menu, with whatever the customer left half-way.
    pub drafts: u64,
    pub media_files: u64,
    pub media_bytes: u64,
    /// Whether the database's log was cut afterwards, so deleted text is gone from the files
    /// too (see the module documentation); `false`: run it again later.
    pub log_truncated: bool,
}

/// Deletes what is older than `older_than` at `now` (milliseconds since the Unix epoch).
pub async fn apply_retention(
    engine: &Engine,
    media: &MediaStore,
    older_than: Duration,
    now: i64,
) -> Result<RetentionReport, PrivacyError> {
    let store = &**engine.store();
    let cutoff = now.saturating_sub(millis(older_than));
    let events_cutoff = cutoff.min(now.saturating_sub(millis(MIN_DEDUPE_KEEP)));
    // Drafts first: the conversations they are judged by still have their messages then.
    let mut drafts = 0;
    loop {
        let reset = engine.reset_idle_conversations(cutoff, BATCH).await?;
        drafts += reset;
        if reset < BATCH as u64 {
            break;
        }
    }
    let contact_names = delete_in_batches(store, Expired::IdleContactNames, cutoff).await?;
    let messages = delete_in_batches(store, Expired::Messages, cutoff).await?;
    let outbox_rows = delete_in_batches(store, Expired::DeliveredOutbox, cutoff).await?;
    let processed_events = delete_in_batches(store, Expired::ProcessedEvents, events_cutoff).await?;
    let ticket_notes = delete_in_batches(store, Expired::TicketNotes, cutoff).await?;
    let feedback = delete_in_batches(store, Expired::Feedback, cutoff).await?;
    let tickets_anonymised = delete_in_batches(store, Expired::ClosedTicketTexts, cutoff).await?;

    // Files are judged after the rows: what the remaining rows refer to stays. Age comes from
    // the file's modification time, which the media store refreshes when a photo is sent again.
    let referenced = media_refs(&store.referenced_media().await?);
    let cutoff_time = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(cutoff).unwrap_or(0));
    let (media_files, media_bytes) = remove_old_unreferenced(media, cutoff_time, &referenced).await?;
    Ok(RetentionReport {
        cutoff_ms: cutoff,
        processed_events_cutoff_ms: events_cutoff,
        messages,
        outbox_rows,
        processed_events,
        ticket_notes,
        feedback,
        tickets_anonymised,
        contact_names,
        drafts,
        media_files,
        media_bytes,
        log_truncated: flush(store).await?,
    })
}

/// [`crate::store::PrivacyStore::flush_deletions`], with a warning when the log could not be cut now.
async fn flush(store: &dyn Store) -> Result<bool, PrivacyError> {
    let truncated = store.flush_deletions().await?;
    if !truncated {
        tracing::warn!(
            "the database log could not be truncated now (another process was reading it); \
             deleted text may stay in it until the next retention run"
        );
    }
    Ok(truncated)
}

async fn delete_in_batches(store: &dyn Store, kind: Expired, cutoff: i64) -> Result<u64, PrivacyError> {
    let mut total = 0;
    loop {
        let deleted = store.delete_expired(kind, cutoff, BATCH).await?;
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
    #[serde(flatten)]
    pub rows: ErasureCounts,
    pub media_files: u64,
    /// Photos of this person kept because another person's rows refer to the same file.
    pub media_files_shared: u64,
    /// Whether the database's log was cut afterwards (see [`RetentionReport::log_truncated`]).
    pub log_truncated: bool,
}

/// Erases the data of the person `external_id` on `channel`, through the engine. `None`: no
/// such contact.
pub async fn erase_contact(
    engine: &Engine,
    media: &MediaStore,
    channel: &str,
    external_id: &str,
) -> Result<Option<ErasureReport>, PrivacyError> {
    let Some(erased) = engine.erase_contact(channel, external_id).await? else { return Ok(None) };
    let mut candidates = HashSet::new();
    for document in &erased.their_documents {
        collect_media_refs(document, &mut candidates);
    }
    candidates.extend(erased.their_ticket_photos);
    let remaining = media_refs(&erased.remaining);
    let mut report = ErasureReport {
        contact: format!("{channel}:{external_id}"),
        contact_id: erased.contact_id,
        rows: erased.rows,
        media_files: 0,
        media_files_shared: 0,
        log_truncated: flush(&**engine.store()).await?,
    };
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

/// The photo names in rows of [`crate::store::PrivacyStore::referenced_media`]: bare names or JSON documents.
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
