//! A fake LibreTranslate server on 127.0.0.1 port 0, speaking its HTTP API as the official
//! server defines it (LibreTranslate/LibreTranslate, AGPL-3.0, `libretranslate/app.py`: the
//! `/translate` and `/languages` routes and their error handlers; only the request and answer
//! shapes are followed here, no code): `POST /translate` takes JSON
//! `{q, source, target, format, api_key}` and answers `{"translatedText": "..."}`; a missing
//! parameter or unsupported language is a 400, a wrong API key a 403, all with
//! `{"error": "..."}`. `GET /languages` lists `{code, name, targets}`, Chinese as `zh-Hans`
//! as newer releases name it.
//!
//! "Translations" are deterministic: a phrase the test taught it ([`Phrasebook`]), else the text
//! tagged with the direction (`[ru→zh] ...`). With `format: html` the elements marked
//! `translate="no"` come back untouched and the rest is unescaped, as the real server's
//! `translatehtml` does. Faults are injected per call: a status (5xx, 429) or a stall longer
//! than the client waits; or the whole server is down (503) until it is brought back.

use super::local_server::{ServerTask, local_listener, serve};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What the test taught the fakes: (source, target, text) → translation, by our own
/// language codes (`en`, `ru`, `zh`).
#[derive(Default, Clone)]
pub struct Phrasebook {
    phrases: HashMap<(String, String, String), String>,
}

impl Phrasebook {
    pub fn teach(&mut self, source: &str, target: &str, text: &str, translation: &str) {
        self.phrases.insert((source.to_owned(), target.to_owned(), text.to_owned()), translation.to_owned());
    }

    /// The phrase's translation, else the text tagged with the direction.
    pub fn translate(&self, source: &str, target: &str, text: &str) -> String {
        let key = (source.to_owned(), target.to_owned(), text.trim().to_owned());
        match self.phrases.get(&key) {
            Some(known) => known.clone(),
            None if text.trim().is_empty() => text.to_owned(),
            None => format!("[{source}→{target}] {}", text.trim()),
        }
    }
}

/// An injected failure of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and an `{"error"}` body.
    Status(u16),
    /// Answer only after this long (longer than the client's timeout).
    Stall(Duration),
}

/// What a test scripts for either translation fake: the phrases it taught, and the faults
/// the next calls meet.
#[derive(Default)]
pub struct Script {
    pub phrasebook: Phrasebook,
    pub faults: VecDeque<Fault>,
}

/// What a test does to either translation fake.
pub trait ScriptedTranslator {
    fn script(&self) -> MutexGuard<'_, Script>;

    fn teach(&self, source: &str, target: &str, text: &str, translation: &str) {
        self.script().phrasebook.teach(source, target, text, translation);
    }

    /// The next call meets `fault`.
    fn fail_next(&self, fault: Fault) {
        self.script().faults.push_back(fault);
    }
}

#[derive(Default)]
struct Fake {
    api_key: Option<String>,
    down: bool,
    /// Every `/translate` body as it arrived.
    calls: Vec<Value>,
}

#[derive(Clone, Default)]
struct Shared {
    fake: Arc<Mutex<Fake>>,
    script: Arc<Mutex<Script>>,
}

pub struct FakeLibreTranslate {
    pub url: String,
    shared: Shared,
    _server: ServerTask,
}

impl FakeLibreTranslate {
    /// A server that wants `api_key` in every request, if given.
    pub async fn start(api_key: Option<&str>) -> FakeLibreTranslate {
        let (listener, url) = local_listener().await;
        let shared = Shared::default();
        shared.fake.lock().unwrap().api_key = api_key.map(str::to_owned);
        let app = Router::new()
            .route("/translate", post(translate))
            .route("/languages", get(languages))
            .with_state(shared.clone());
        FakeLibreTranslate { url, shared, _server: serve(listener, app) }
    }

    fn with<T>(&self, action: impl FnOnce(&mut Fake) -> T) -> T {
        action(&mut self.shared.fake.lock().unwrap())
    }

    /// Every call answers 503 until [`FakeLibreTranslate::set_down`] with `false`.
    pub fn set_down(&self, down: bool) {
        self.with(|fake| fake.down = down);
    }

    /// Every `/translate` request body so far.
    pub fn calls(&self) -> Vec<Value> {
        self.with(|fake| fake.calls.clone())
    }

    /// The `/translate` requests whose `q` contains `text`.
    pub fn calls_with(&self, text: &str) -> usize {
        self.calls().iter().filter(|call| call["q"].as_str().is_some_and(|q| q.contains(text))).count()
    }
}

fn error(status: u16, message: &str) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(json!({ "error": message }))).into_response()
}

/// The server's code for a language, as ours.
fn ours(code: &str) -> Option<&'static str> {
    match code {
        "en" => Some("en"),
        "ru" => Some("ru"),
        "zh-Hans" => Some("zh"),
        _ => None,
    }
}

impl ScriptedTranslator for FakeLibreTranslate {
    fn script(&self) -> MutexGuard<'_, Script> {
        self.shared.script.lock().unwrap()
    }
}

async fn languages() -> Response {
    axum::Json(json!([
        { "code": "en", "name": "English", "targets": ["en", "ru", "zh-Hans"] },
        { "code": "ru", "name": "Russian", "targets": ["en", "ru", "zh-Hans"] },
        { "code": "zh-Hans", "name": "Chinese", "targets": ["en", "ru", "zh-Hans"] },
    ]))
    .into_response()
}

async fn translate(State(shared): State<Shared>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return error(400, "Invalid JSON format") };
    let (fault, down, phrasebook, api_key) = {
        let mut fake = shared.fake.lock().unwrap();
        fake.calls.push(body.clone());
        let mut script = shared.script.lock().unwrap();
        (script.faults.pop_front(), fake.down, script.phrasebook.clone(), fake.api_key.clone())
    };
    if down {
        return error(503, "Service Unavailable");
    }
    match fault {
        Some(Fault::Status(status)) => return error(status, "Cannot translate text: injected failure"),
        Some(Fault::Stall(how_long)) => tokio::time::sleep(how_long).await,
        None => {}
    }
    if let Some(wanted) = api_key {
        if body["api_key"].as_str() != Some(wanted.as_str()) {
            return error(403, "Invalid API key");
        }
    }
    for name in ["q", "source", "target"] {
        if body[name].as_str().is_none_or(str::is_empty) {
            return error(400, &format!("Invalid request: missing {name} parameter"));
        }
    }
    let (Some(source), Some(target)) =
        (ours(body["source"].as_str().unwrap()), ours(body["target"].as_str().unwrap()))
    else {
        return error(400, "language is not supported");
    };
    let q = body["q"].as_str().unwrap();
    let translated = match body["format"].as_str().unwrap_or("text") {
        "text" => phrasebook.translate(source, target, q),
        "html" => translate_html(&phrasebook, source, target, q),
        other => return error(400, &format!("{other} format is not supported")),
    };
    axum::Json(json!({ "translatedText": translated })).into_response()
}

/// What `translatehtml` does to our markup: elements with `translate="no"` stay as they are,
/// `<br>` stays, the words between are translated, and the whole answer is unescaped.
fn translate_html(phrasebook: &Phrasebook, source: &str, target: &str, html: &str) -> String {
    const KEEP_OPEN: &str = "<span translate=\"no\">";
    let mut out = String::new();
    let mut rest = html;
    while !rest.is_empty() {
        let next_keep = rest.find(KEEP_OPEN);
        let next_break = rest.find("<br>");
        let cut = [next_keep, next_break].into_iter().flatten().min().unwrap_or(rest.len());
        let words = unescape(&rest[..cut]);
        if !words.trim().is_empty() {
            let lead = &words[..words.len() - words.trim_start().len()];
            let tail = &words[words.trim_end().len()..];
            out.push_str(lead);
            out.push_str(&phrasebook.translate(source, target, &words));
            out.push_str(tail);
        } else {
            out.push_str(&words);
        }
        rest = &rest[cut..];
        if rest.starts_with(KEEP_OPEN) {
            let end = rest.find("</span>").map_or(rest.len(), |at| at + "</span>".len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else if rest.starts_with("<br>") {
            out.push_str("<br>");
            rest = &rest[4..];
        }
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}
