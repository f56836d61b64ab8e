//! LibreTranslate's HTTP API (<https://docs.libretranslate.com>, the `translate` and
//! `languages` routes of `libretranslate/app.py`): `POST /translate` with
//! `{q, source, target, format, api_key}` answers `{"translatedText": "..."}`, or an error
//! status (400 bad request or unsupported language, 403 banned or a wrong key, 429 slow down,
//! 500) with `{"error": "..."}`.
//!
//! Glossary terms are protected with the `html` format: LibreTranslate translates HTML with
//! `translatehtml`, which leaves any element with `translate="no"` as it is. That mode
//! collapses whitespace, so line breaks travel as `<br>`; it is used only for texts that
//! contain a term.

use super::glossary::{Glossary, Piece};
use super::{Request, TranslateError, Translator};
use crate::core::message::Lang;
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

const KEEP_OPEN: &str = "<span translate=\"no\">";
const KEEP_CLOSE: &str = "</span>";

pub struct LibreTranslate {
    http: reqwest::Client,
    url: String,
    api_key: Option<Secret>,
    glossary: Glossary,
    /// The server's code for Chinese: older LibreTranslate releases say `zh`, newer ones
    /// `zh-Hans`. Read from `GET /languages` once it answers.
    chinese: tokio::sync::OnceCell<String>,
}

#[derive(Deserialize)]
struct Translated {
    #[serde(rename = "translatedText")]
    translated_text: String,
}

#[derive(Deserialize)]
struct Failure {
    error: Option<String>,
}

#[derive(Deserialize)]
struct Language {
    code: String,
}

impl LibreTranslate {
    pub fn new(
        url: &str,
        api_key: Option<Secret>,
        glossary: Glossary,
        timeout: Duration,
    ) -> Result<LibreTranslate, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build()?;
        Ok(LibreTranslate {
            http,
            url: url.trim_end_matches('/').to_owned(),
            api_key,
            glossary,
            chinese: tokio::sync::OnceCell::new(),
        })
    }

    async fn code(&self, lang: Lang) -> Result<String, TranslateError> {
        match lang {
            Lang::En | Lang::Ru => Ok(lang.code().to_owned()),
            Lang::Zh => self.chinese.get_or_try_init(|| self.chinese_code()).await.cloned(),
        }
    }

    async fn chinese_code(&self) -> Result<String, TranslateError> {
        let response = self
            .http
            .get(format!("{}/languages", self.url))
            .send()
            .await
            .map_err(|error| TranslateError::from_transport(&error))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let problem = TranslateError::from_status(status, "GET /languages failed".to_owned());
            // A server that will not list its languages (an old release, a proxy in front)
            // most likely says `zh`; one that failed may answer later.
            return if problem.is_transient() { Err(problem) } else { Ok("zh".to_owned()) };
        }
        let languages: Vec<Language> =
            response.json().await.map_err(|error| TranslateError::Malformed(kind_of(&error)))?;
        let codes: Vec<&str> = languages.iter().map(|language| language.code.as_str()).collect();
        Ok(["zh", "zh-Hans"]
            .into_iter()
            .find(|code| codes.contains(code))
            .or_else(|| codes.iter().copied().find(|code| code.starts_with("zh")))
            .unwrap_or("zh")
            .to_owned())
    }
}

#[async_trait::async_trait]
impl Translator for LibreTranslate {
    fn name(&self) -> &'static str {
        "libretranslate"
    }

    async fn translate(&self, request: Request<'_>) -> Result<String, TranslateError> {
        let pieces = self.glossary.pieces(request.text, request.source, request.target);
        let protected = pieces.iter().any(|piece| matches!(piece, Piece::Term(_)));
        let (q, format) =
            if protected { (as_html(&pieces), "html") } else { (request.text.to_owned(), "text") };
        let mut body = json!({
            "q": q,
            "source": self.code(request.source).await?,
            "target": self.code(request.target).await?,
            "format": format,
        });
        if let Some(key) = &self.api_key {
            body["api_key"] = json!(key.expose());
        }
        let response = self
            .http
            .post(format!("{}/translate", self.url))
            .json(&body)
            .send()
            .await
            .map_err(|error| TranslateError::from_transport(&error))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let message = response
                .json::<Failure>()
                .await
                .ok()
                .and_then(|failure| failure.error)
                .unwrap_or_else(|| "no error message".to_owned());
            return Err(TranslateError::from_status(status, message));
        }
        let translated: Translated =
            response.json().await.map_err(|error| TranslateError::Malformed(kind_of(&error)))?;
        Ok(if protected { from_html(&translated.translated_text) } else { translated.translated_text })
    }
}

/// What went wrong reading an answer, without its text.
fn kind_of(error: &reqwest::Error) -> String {
    if error.is_decode() { "not the expected JSON".to_owned() } else { "the answer broke off".to_owned() }
}

/// The pieces as HTML: words escaped, line breaks as `<br>`, terms kept from translation.
fn as_html(pieces: &[Piece<'_>]) -> String {
    let mut html = String::new();
    for piece in pieces {
        match piece {
            Piece::Words(words) => {
                for c in words.chars() {
                    match c {
                        '&' => html.push_str("&amp;"),
                        '<' => html.push_str("&lt;"),
                        '>' => html.push_str("&gt;"),
                        '\n' => html.push_str("<br>"),
                        '\r' => {}
                        other => html.push(other),
                    }
                }
            }
            // Terms cannot hold markup: the glossary file refuses < > &.
            Piece::Term(term) => {
                html.push_str(KEEP_OPEN);
                html.push_str(term);
                html.push_str(KEEP_CLOSE);
            }
        }
    }
    html
}

/// The translated HTML back as text. LibreTranslate unescapes its HTML answer itself, so only
/// our own markup is left to take out.
fn from_html(html: &str) -> String {
    html.replace(KEEP_OPEN, "")
        .replace(KEEP_CLOSE, "")
        .replace("<br/>", "\n")
        .replace("<br />", "\n")
        .replace("<br>", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_travel_in_markup_libretranslate_leaves_alone() {
        let pieces = vec![Piece::Words("a < b\n"), Piece::Term("Ozon".to_owned()), Piece::Words(" & c")];
        let html = as_html(&pieces);
        assert_eq!(html, "a &lt; b<br><span translate=\"no\">Ozon</span> &amp; c");
        assert_eq!(from_html("x < y<br/><span translate=\"no\">Ozon</span> z"), "x < y\nOzon z");
    }
}
