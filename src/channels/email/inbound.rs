//! One raw letter into an [`InboundEvent`]: parsed, filtered (our own mail, bounces and other
//! automatic mail never reach the dialog, so no loop of replies can start), threaded, its
//! images stored through the same checks as every channel's photos, its language read.

use super::parse::{self, ParsedLetter};
use super::thread::Threads;
use super::{CHANNEL, trim};
use crate::channels::{InboundEvent, InboundKind, ReceiveError};
use crate::config::email::EmailSettings;
use crate::core::dialog::{Input, Letter};
use crate::media::MediaStore;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The most parent ids a thread's contact remembers for our replies' `References`.
const MAX_REFERENCES: usize = 20;

/// The inbound half of the channel: what the IMAP loop hands each fetched letter to.
#[derive(Clone)]
pub struct EmailReceiver {
    pub(super) media: MediaStore,
    pub(super) threads: Threads,
    pub(super) settings: Arc<EmailSettings>,
}

/// Why a letter does not reach the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// It is not a message at all, or has no sender.
    Unreadable,
    /// We sent it (a copy in the watched folder, or our own address as the sender).
    Ours,
    Automatic(parse::Automatic),
}

impl EmailReceiver {
    pub fn settings(&self) -> &EmailSettings {
        &self.settings
    }

    /// The event for one letter, or why there is none. `Err` only when its images could not
    /// be stored right now: the letter is then read again later, not skipped.
    pub async fn read_letter(&self, raw: &[u8]) -> Result<Result<InboundEvent, Skipped>, ReceiveError> {
        let Some(letter) = parse::parse(raw) else { return Ok(Err(Skipped::Unreadable)) };
        let Some(from) = letter.from_address.clone().filter(|from| from.contains('@')) else {
            return Ok(Err(Skipped::Unreadable));
        };
        if from == self.settings.from_address
            || letter.message_id.as_deref().is_some_and(|id| self.threads.is_ours(id))
        {
            return Ok(Err(Skipped::Ours));
        }
        // A report that one of our letters cannot be delivered, for good: the customer is
        // unreachable until they write again (their rows wait, as on every channel).
        if let Some(bounce) = letter.bounce.as_ref().filter(|bounce| bounce.permanent)
            && let Some(thread) = self.threads.thread_of_id(&bounce.message_id, &bounce.recipient)
        {
            let key = format!("bounce:{}:{}", bounce.message_id, letter.message_id.as_deref().unwrap_or(""));
            return Ok(Ok(InboundEvent {
                channel: CHANNEL,
                event_id: hex::encode(&Sha256::digest(key.as_bytes())[..16]),
                external_id: thread,
                language_hint: None,
                display_name: None,
                contact_data: None,
                kind: InboundKind::Reachability { reachable: false },
            }));
        }
        if let Some(automatic) = letter.automatic {
            return Ok(Err(Skipped::Automatic(automatic)));
        }
        // Stranger-chosen ids of any length: the dedupe key is a digest of bounded size.
        let root = match &letter.message_id {
            Some(id) => format!("mid:{id}"),
            None => format!("sha256:{}", hex::encode(Sha256::digest(raw))),
        };
        let event_id = hex::encode(&Sha256::digest(root.as_bytes())[..16]);
        let thread = self.threads.thread_of(&letter, &from).unwrap_or_else(|| self.threads.new_thread(&root));

        let mut photos = Vec::new();
        let mut refused_photos = Vec::new();
        for image in &letter.images {
            match self.media.store(&image.bytes).await {
                Ok(media) => photos.push(media),
                Err(error) => match error.problem_for_customer(self.media.max_megabytes()) {
                    Some(problem) => refused_photos.push(problem),
                    None => return Err(ReceiveError::Unavailable(error.to_string())),
                },
            }
        }
        let language_hint = language_of(&letter);
        let contact_data = contact_data(&letter, &from);
        let own = trim::own_words(&letter.text);
        let ParsedLetter { subject, text, other_attachments, from_name, .. } = letter;
        let input = Input::Email(Box::new(Letter {
            subject,
            text: own,
            original: text,
            photos,
            refused_photos,
            other_attachments,
            pressed: None,
        }));
        Ok(Ok(InboundEvent {
            channel: CHANNEL,
            event_id,
            external_id: thread,
            language_hint,
            display_name: Some(from_name.unwrap_or_else(|| from.clone())),
            contact_data: Some(contact_data),
            kind: InboundKind::Input(input),
        }))
    }
}

/// `Content-Language` when the letter has it, else the language its script shows (Cyrillic,
/// Chinese), else none: the engine's default applies.
fn language_of(letter: &ParsedLetter) -> Option<String> {
    if let Some(tag) = &letter.content_language {
        return Some(tag.clone());
    }
    let sample = format!("{}\n{}", letter.subject, trim::own_words(&letter.text));
    crate::core::faq::script_language(&sample).map(|lang| lang.code().to_owned())
}

/// What replies to this thread need: where to send them, and what they answer.
fn contact_data(letter: &ParsedLetter, from: &str) -> serde_json::Value {
    let mut references: Vec<String> = letter.parents.iter().rev().cloned().collect();
    if let Some(id) = &letter.message_id {
        references.push(id.clone());
    }
    let skip = references.len().saturating_sub(MAX_REFERENCES);
    let references: Vec<String> = references.into_iter().skip(skip).collect();
    json!({
        "address": from,
        "name": letter.from_name,
        "subject": letter.subject,
        "message_id": letter.message_id,
        "references": references,
    })
}
