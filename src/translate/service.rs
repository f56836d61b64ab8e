//! [`Translation`]: a provider behind a timeout, one retry and a rest after failures, with
//! the store remembering what was translated.

use super::{Request, TranslateError, Translator};
use crate::core::message::Lang;
use crate::store::{ConsoleStore, now_millis};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// After a call failed twice, the provider is left alone for this many timeouts (30 s with
/// the default 5 s): a page with many messages would otherwise wait for each to time out.
const REST_AFTER_FAILURE_IN_TIMEOUTS: u32 = 6;
/// The most messages one page asks the provider for (the newest win); the rest show their
/// original until the next look. Stored translations are not counted.
const MAX_NEW_PER_READ: usize = 40;
/// Calls to the provider at once, per page.
const CALLS_AT_ONCE: usize = 4;
/// The longest text sent for translation; longer ones show as written.
pub const MAX_CHARS: usize = 4000;

/// The console's and the API's way to the provider.
pub struct Translation {
    translator: Arc<dyn Translator>,
    timeout: Duration,
    /// Until when the provider is not asked, after a failure.
    resting_until: Mutex<Option<Instant>>,
}

/// What became of one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Translated(String),
    /// The provider failed or is resting: the original is shown, with a note.
    Unavailable,
}

/// A message of a conversation that may need translating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageToTranslate {
    pub id: i64,
    pub text: String,
    pub source: Lang,
}

impl Translation {
    pub fn new(translator: Arc<dyn Translator>, timeout: Duration) -> Translation {
        Translation { translator, timeout, resting_until: Mutex::new(None) }
    }

    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        self.translator.name()
    }

    /// One text, now: the provider is asked (timed out after the configured time, tried once
    /// more after a failure that may pass). Never touches the store.
    pub async fn text(&self, text: &str, source: Lang, target: Lang) -> Result<String, TranslateError> {
        if source == target || text.trim().is_empty() {
            return Ok(text.to_owned());
        }
        if text.chars().count() > MAX_CHARS {
            return Err(TranslateError::Refused { status: 413, message: "text too long".to_owned() });
        }
        if self.resting() {
            return Err(TranslateError::Resting);
        }
        let request = Request { text, source, target };
        let mut outcome = self.once(request).await;
        if outcome.as_ref().is_err_and(TranslateError::is_transient) {
            outcome = self.once(request).await;
        }
        match &outcome {
            Ok(_) => {}
            Err(problem) if problem.is_transient() => {
                tracing::warn!(provider = self.provider(), error = %problem, "translate: the provider failed; resting it");
                *self.resting_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(Instant::now() + self.timeout * REST_AFTER_FAILURE_IN_TIMEOUTS);
            }
            Err(problem) => {
                tracing::warn!(provider = self.provider(), error = %problem, "translate: the provider refused");
            }
        }
        outcome
    }

    async fn once(&self, request: Request<'_>) -> Result<String, TranslateError> {
        match tokio::time::timeout(self.timeout, self.translator.translate(request)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(TranslateError::Timeout),
        }
    }

    fn resting(&self) -> bool {
        let mut until = self.resting_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *until {
            Some(end) if Instant::now() < end => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    /// A conversation's messages in `target`: stored translations first, the rest asked for
    /// (the newest [`MAX_NEW_PER_READ`], a few at a time) and stored, so each message is
    /// translated once per language. A message already in `target` is left out of the answer.
    pub async fn messages(
        &self,
        store: &dyn ConsoleStore,
        conversation_id: i64,
        messages: &[MessageToTranslate],
        target: Lang,
    ) -> HashMap<i64, Outcome> {
        let stored = match store.translations(conversation_id, target).await {
            Ok(stored) => stored,
            Err(problem) => {
                tracing::error!(error = %problem, "translate: reading stored translations failed");
                HashMap::new()
            }
        };
        let mut outcomes: HashMap<i64, Outcome> = HashMap::new();
        let mut missing = Vec::new();
        for message in messages.iter().filter(|message| message.source != target) {
            match stored.get(&message.id) {
                Some(text) => {
                    outcomes.insert(message.id, Outcome::Translated(text.clone()));
                }
                None => missing.push(message),
            }
        }
        missing.sort_by_key(|message| std::cmp::Reverse(message.id));
        let asking: Vec<&MessageToTranslate> = missing.iter().copied().take(MAX_NEW_PER_READ).collect();
        for batch in asking.chunks(CALLS_AT_ONCE) {
            let asked = futures::future::join_all(
                batch.iter().map(|message| self.translate_and_keep(store, message, target)),
            )
            .await;
            outcomes.extend(asked);
        }
        for message in missing.iter().skip(MAX_NEW_PER_READ) {
            outcomes.insert(message.id, Outcome::Unavailable);
        }
        outcomes
    }

    /// One message in `target`, kept in the store when the provider answered.
    async fn translate_and_keep(
        &self,
        store: &dyn ConsoleStore,
        message: &MessageToTranslate,
        target: Lang,
    ) -> (i64, Outcome) {
        let outcome = match self.text(&message.text, message.source, target).await {
            Ok(text) => {
                if let Err(problem) =
                    store.save_translation(message.id, target, &text, self.provider(), now_millis()).await
                {
                    tracing::error!(error = %problem, "translate: storing a translation failed");
                }
                Outcome::Translated(text)
            }
            Err(_) => Outcome::Unavailable,
        };
        (message.id, outcome)
    }
}
