//! DeepL's API (<https://developers.deepl.com/docs/api-reference>, DeepL's OpenAPI file
//! `DeepLcom/openapi`): `POST /v2/translate` with `Authorization: DeepL-Auth-Key <key>` and
//! `{"text": [...], "source_lang", "target_lang", "glossary_id"}` answers
//! `{"translations": [{"detected_source_language", "text"}]}`; errors are 400, 403 (key),
//! 404, 413, 429 and 529 (too many requests), 456 (quota used up), 5xx, with `{"message"}`.
//!
//! The store's glossary becomes one multilingual glossary (`POST /v3/glossaries` with a
//! dictionary per language pair), made the first time a text needs it and used through
//! `glossary_id`, which requires `source_lang`. Glossaries work on plain language codes (`EN`,
//! never `EN-GB`). Until the glossary exists (say DeepL refused it), terms are protected with
//! XML tag handling and an ignored tag instead.

use super::glossary::{Glossary, Piece};
use super::{Request, TranslateError, Translator};
use crate::core::message::Lang;
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// The element DeepL is told to leave untranslated.
const KEEP: &str = "keep";

pub struct DeepL {
    http: reqwest::Client,
    url: String,
    key: Secret,
    glossary: Glossary,
    /// The glossary made from [`DeepL::glossary`]: its id once DeepL has one, or when making it
    /// last failed.
    glossary_state: tokio::sync::Mutex<GlossaryState>,
}

#[derive(Default)]
enum GlossaryState {
    #[default]
    NotMade,
    Made(String),
    /// DeepL refused or failed; asked again after [`GLOSSARY_RETRY`].
    FailedAt(std::time::Instant),
}

/// How long terms are protected by markup after DeepL failed to make the glossary, before it
/// is asked again: a refusal (a plan without glossaries) should not cost every translation a
/// second call.
const GLOSSARY_RETRY: Duration = Duration::from_secs(600);

#[derive(Deserialize)]
struct Translations {
    translations: Vec<Translation>,
}

#[derive(Deserialize)]
struct Translation {
    text: String,
}

#[derive(Deserialize)]
struct Failure {
    message: Option<String>,
}

#[derive(Deserialize)]
struct CreatedGlossary {
    glossary_id: String,
}

/// DeepL's source language code.
fn source_code(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "EN",
        Lang::Ru => "RU",
        Lang::Zh => "ZH",
    }
}

/// DeepL's target language code: English needs its variant (plain `EN` is deprecated as a
/// target); `ZH` is simplified Chinese.
fn target_code(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "EN-US",
        Lang::Ru => "RU",
        Lang::Zh => "ZH",
    }
}

impl DeepL {
    pub fn new(
        url: &str,
        key: Secret,
        glossary: Glossary,
        timeout: Duration,
    ) -> Result<DeepL, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build()?;
        Ok(DeepL {
            http,
            url: url.trim_end_matches('/').to_owned(),
            key,
            glossary,
            glossary_state: tokio::sync::Mutex::new(GlossaryState::NotMade),
        })
    }

    /// One call: `body` posted to `path` with the key; the answer read as `T`, or the error
    /// DeepL's status and message mean (`what` names the expected answer when it does not read).
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
        what: &str,
    ) -> Result<T, TranslateError> {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header(reqwest::header::AUTHORIZATION, format!("DeepL-Auth-Key {}", self.key.expose()))
            .json(body)
            .send()
            .await
            .map_err(|error| TranslateError::from_transport(&error))?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        response.json().await.map_err(|_| TranslateError::Malformed(format!("not {what}")))
    }

    /// The glossary's id, made now if DeepL has none yet. `None` when the glossary cannot be
    /// made at the moment: the caller protects the terms itself.
    async fn glossary_id(&self) -> Option<String> {
        let mut state = self.glossary_state.lock().await;
        match &*state {
            GlossaryState::Made(id) => return Some(id.clone()),
            GlossaryState::FailedAt(when) if when.elapsed() < GLOSSARY_RETRY => return None,
            GlossaryState::NotMade | GlossaryState::FailedAt(_) => {}
        }
        match self.create_glossary().await {
            Ok(id) => {
                *state = GlossaryState::Made(id.clone());
                Some(id)
            }
            Err(problem) => {
                tracing::warn!(error = %problem, "translate: DeepL did not make the glossary; protecting terms instead");
                *state = GlossaryState::FailedAt(std::time::Instant::now());
                None
            }
        }
    }

    async fn create_glossary(&self) -> Result<String, TranslateError> {
        let mut dictionaries = Vec::new();
        for source in Lang::ALL {
            for target in Lang::ALL.into_iter().filter(|target| *target != source) {
                let entries: Vec<String> = self
                    .glossary
                    .pairs(source, target)
                    .into_iter()
                    .map(|(from, to)| format!("{from}\t{to}"))
                    .collect();
                if !entries.is_empty() {
                    dictionaries.push(json!({
                        "source_lang": source.code(),
                        "target_lang": target.code(),
                        "entries": entries.join("\n"),
                        "entries_format": "tsv",
                    }));
                }
            }
        }
        let body = json!({ "name": "Switchboard store glossary", "dictionaries": dictionaries });
        let created: CreatedGlossary = self.call("/v3/glossaries", &body, "a glossary").await?;
        Ok(created.glossary_id)
    }
}

/// The error an unsuccessful answer means, with DeepL's message.
async fn failure(response: reqwest::Response) -> TranslateError {
    let status = response.status().as_u16();
    let message = response
        .json::<Failure>()
        .await
        .ok()
        .and_then(|failure| failure.message)
        .unwrap_or_else(|| "no error message".to_owned());
    TranslateError::from_status(status, message)
}

#[async_trait::async_trait]
impl Translator for DeepL {
    fn name(&self) -> &'static str {
        "deepl"
    }

    async fn translate(&self, request: Request<'_>) -> Result<String, TranslateError> {
        let pieces = self.glossary.pieces(request.text, request.source, request.target);
        let has_terms = pieces.iter().any(|piece| matches!(piece, Piece::Term(_)));
        let mut body = json!({
            "source_lang": source_code(request.source),
            "target_lang": target_code(request.target),
        });
        let glossary_id = if has_terms { self.glossary_id().await } else { None };
        let protected = has_terms && glossary_id.is_none();
        if let Some(id) = glossary_id {
            body["glossary_id"] = json!(id);
            body["text"] = json!([request.text]);
        } else if protected {
            body["text"] = json!([as_xml(&pieces)]);
            body["tag_handling"] = json!("xml");
            body["ignore_tags"] = json!([KEEP]);
        } else {
            body["text"] = json!([request.text]);
        }
        let answer: Translations = self.call("/v2/translate", &body, "a translation").await?;
        let text = answer
            .translations
            .into_iter()
            .next()
            .map(|translation| translation.text)
            .ok_or_else(|| TranslateError::Malformed("no translation in the answer".to_owned()))?;
        Ok(if protected { from_xml(&text) } else { text })
    }
}

/// The pieces as XML: words escaped, terms in the element DeepL ignores.
fn as_xml(pieces: &[Piece<'_>]) -> String {
    let mut xml = String::new();
    for piece in pieces {
        match piece {
            Piece::Words(words) => xml.push_str(&escape(words)),
            Piece::Term(term) => xml.push_str(&format!("<{KEEP}>{}</{KEEP}>", escape(term))),
        }
    }
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// DeepL's XML answer as text: our element taken out, entities back to characters.
fn from_xml(xml: &str) -> String {
    xml.replace(&format!("<{KEEP}>"), "")
        .replace(&format!("</{KEEP}>"), "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_terms_round_trip_through_xml() {
        let pieces = vec![Piece::Words("a<b & "), Piece::Term("Ozon".to_owned())];
        assert_eq!(as_xml(&pieces), "a&lt;b &amp; <keep>Ozon</keep>");
        assert_eq!(from_xml("x&lt;y &amp; <keep>Ozon</keep>"), "x<y & Ozon");
        assert_eq!(target_code(Lang::En), "EN-US");
        assert_eq!(source_code(Lang::Zh), "ZH");
    }
}
