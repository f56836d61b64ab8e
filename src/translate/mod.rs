//! Machine translation for agents who do not speak the customer's language (issue 21).
//!
//! [`Translator`] is one provider's API: [`libretranslate::LibreTranslate`] (self-hosted, the
//! open-source default) and [`deepl::DeepL`]. [`Translation`] is what the console and the agent
//! API use: it bounds every call (a timeout, one retry, a rest after a failure so a dead
//! provider does not slow every page), keeps each message's translation in the store so a
//! message is translated once per target language, and reports a failure as
//! [`Outcome::Unavailable`] so the page shows the original with a note. None of this runs on
//! the engine's writer: translations are made before an agent action is submitted, or while a
//! page is rendered.
//!
//! The bot's own texts are never machine-translated: they are Fluent files written by people.
//! The store's glossary ([`glossary::Glossary`]) goes to DeepL as a glossary and is protected
//! from LibreTranslate by markup it leaves alone.

pub mod deepl;
pub mod glossary;
pub mod libretranslate;
mod service;

pub use service::{MessageToTranslate, Outcome, Translation};

use crate::config::translate::{Provider, TranslateSettings};
use crate::core::message::Lang;
use std::sync::Arc;

/// One text to translate, with the languages it goes between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub text: &'a str,
    pub source: Lang,
    pub target: Lang,
}

/// A translation provider's API.
#[async_trait::async_trait]
pub trait Translator: Send + Sync {
    /// The provider's name, kept beside each stored translation.
    fn name(&self) -> &'static str;

    /// The text in the target language. Implementations make one attempt; the caller times it
    /// out and retries.
    async fn translate(&self, request: Request<'_>) -> Result<String, TranslateError>;
}

/// Why a translation could not be had. Never holds the text or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    /// 5xx, 429 and the like: worth one more try.
    #[error("the provider failed with HTTP {status}: {message}")]
    Failed { status: u16, message: String },
    /// A bad key, a used-up quota, a language pair it lacks: trying again will not help.
    #[error("the provider refused with HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the provider's answer could not be read: {0}")]
    Malformed(String),
    /// A recent failure: the provider is left alone for a while.
    #[error("the provider failed recently and is not asked for a while")]
    Resting,
}

impl TranslateError {
    /// Whether one more try may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TranslateError::Timeout | TranslateError::Unreachable(_) | TranslateError::Failed { .. }
        )
    }

    /// The error a provider's HTTP status and message mean.
    pub(crate) fn from_status(status: u16, message: String) -> TranslateError {
        // 429 and DeepL's 529 ask to come back later; 5xx are the server's trouble.
        if status == 429 || status >= 500 {
            TranslateError::Failed { status, message }
        } else {
            TranslateError::Refused { status, message }
        }
    }

    pub(crate) fn from_transport(error: &reqwest::Error) -> TranslateError {
        if error.is_timeout() {
            return TranslateError::Timeout;
        }
        // By kind only: the text would name the URL, which says nothing useful here.
        let what = if error.is_connect() {
            "connection failed"
        } else if error.is_body() || error.is_decode() {
            "reading the answer failed"
        } else {
            "the request failed"
        };
        TranslateError::Unreachable(what.to_owned())
    }
}

/// The translator the settings name, with the store's glossary.
pub fn from_settings(settings: &TranslateSettings) -> Result<Arc<dyn Translator>, reqwest::Error> {
    let glossary = glossary::Glossary::new(settings.glossary.clone());
    Ok(match &settings.provider {
        Provider::LibreTranslate { url, api_key } => {
            Arc::new(libretranslate::LibreTranslate::new(url, api_key.clone(), glossary, settings.timeout)?)
        }
        Provider::DeepL { url, key } => {
            Arc::new(deepl::DeepL::new(url, key.clone(), glossary, settings.timeout)?)
        }
    })
}
