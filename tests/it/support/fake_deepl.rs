//! A fake DeepL API on 127.0.0.1 port 0, following DeepL's published OpenAPI description
//! (DeepLcom/openapi, MIT: `openapi.yaml`, the `/translate` and `/glossaries` operations, and
//! the v3 multilingual glossaries of developers.deepl.com; shapes only, no code):
//! - every call needs `Authorization: DeepL-Auth-Key <key>` (403 `{"message"}` otherwise);
//! - `POST /v2/translate` takes JSON `{text: [..], source_lang, target_lang, glossary_id,
//!   tag_handling, ignore_tags}` and answers `{"translations": [{"detected_source_language",
//!   "text"}]}`; a glossary needs `source_lang` and a dictionary for the pair (400 otherwise);
//!   target English must be `EN-GB` or `EN-US` (plain `EN` is deprecated and refused here);
//! - `POST /v3/glossaries` takes `{name, dictionaries: [{source_lang, target_lang, entries,
//!   entries_format: "tsv"}]}` and answers 201 `{glossary_id, name, dictionaries:
//!   [{source_lang, target_lang, entry_count}], creation_time}`.
//!
//! Translations come from the same [`Phrasebook`] as the fake LibreTranslate's; glossary
//! entries are put in first and left alone, as are elements named in `ignore_tags` with
//! `tag_handling: xml`. Faults: a status per call (429, 456 quota, 503; glossary creation
//! takes a status too) or a stall.

use super::fake_libretranslate::{Fault, Phrasebook, Script, ScriptedTranslator};
use super::local_server::{ServerTask, local_listener, serve};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub const KEY: &str = "0b5f7c2e-deepl-fake-key:fx";

/// One glossary: (source, target) → its entries (source term, target term).
type Dictionaries = HashMap<(String, String), Vec<(String, String)>>;

#[derive(Default)]
struct Fake {
    /// Glossary id → (source, target) → entries.
    glossaries: HashMap<String, Dictionaries>,
    translate_calls: Vec<Value>,
    glossary_calls: Vec<Value>,
}

#[derive(Clone, Default)]
struct Shared {
    fake: Arc<Mutex<Fake>>,
    script: Arc<Mutex<Script>>,
}

pub struct FakeDeepL {
    pub url: String,
    shared: Shared,
    _server: ServerTask,
}

impl FakeDeepL {
    pub async fn start() -> FakeDeepL {
        let (listener, url) = local_listener().await;
        let shared = Shared::default();
        let app = Router::new()
            .route("/v2/translate", post(translate))
            .route("/v3/glossaries", post(create_glossary))
            .with_state(shared.clone());
        FakeDeepL { url, shared, _server: serve(listener, app) }
    }

    fn with<T>(&self, action: impl FnOnce(&mut Fake) -> T) -> T {
        action(&mut self.shared.fake.lock().unwrap())
    }

    pub fn translate_calls(&self) -> Vec<Value> {
        self.with(|fake| fake.translate_calls.clone())
    }

    pub fn glossary_calls(&self) -> Vec<Value> {
        self.with(|fake| fake.glossary_calls.clone())
    }
}

fn refuse(status: u16, message: &str) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(json!({ "message": message }))).into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|value| value.to_str().ok())
        == Some(&format!("DeepL-Auth-Key {KEY}"))
}

/// A DeepL language code as ours (`EN-US` → `en`).
fn ours(code: &str) -> Option<String> {
    let root = code.split('-').next()?.to_ascii_lowercase();
    ["en", "ru", "zh"].contains(&root.as_str()).then_some(root)
}

impl ScriptedTranslator for FakeDeepL {
    fn script(&self) -> MutexGuard<'_, Script> {
        self.shared.script.lock().unwrap()
    }
}

async fn create_glossary(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return refuse(403, "Authorization failure, check auth_key");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return refuse(400, "Invalid JSON") };
    let mut fake = shared.fake.lock().unwrap();
    fake.glossary_calls.push(body.clone());
    let mut script = shared.script.lock().unwrap();
    if let Some(Fault::Status(status)) = script.faults.front().copied() {
        script.faults.pop_front();
        return refuse(status, "Service temporarily unavailable");
    }
    let Some(dictionaries) = body["dictionaries"].as_array().filter(|list| !list.is_empty()) else {
        return refuse(400, "Missing or invalid argument: dictionaries");
    };
    let mut kept = HashMap::new();
    let mut listed = Vec::new();
    for dictionary in dictionaries {
        let (Some(source), Some(target)) = (
            dictionary["source_lang"].as_str().and_then(ours),
            dictionary["target_lang"].as_str().and_then(ours),
        ) else {
            return refuse(400, "Unsupported glossary language pair");
        };
        if dictionary["entries_format"] != "tsv" {
            return refuse(400, "Invalid entries_format");
        }
        let mut entries = Vec::new();
        for line in dictionary["entries"].as_str().unwrap_or_default().lines() {
            let Some((from, to)) = line.split_once('\t') else {
                return refuse(400, "Invalid glossary entries");
            };
            if entries.iter().any(|(known, _): &(String, String)| known == from) {
                return refuse(400, "Duplicate source entry in glossary");
            }
            entries.push((from.to_owned(), to.to_owned()));
        }
        listed.push(json!({ "source_lang": source, "target_lang": target, "entry_count": entries.len() }));
        kept.insert((source, target), entries);
    }
    let id = format!("def3a26b-3e84-45b3-84ae-{:012}", fake.glossaries.len() + 1);
    fake.glossaries.insert(id.clone(), kept);
    let answer = json!({
        "glossary_id": id,
        "name": body["name"],
        "dictionaries": listed,
        "creation_time": "2026-12-07T10:00:00.000Z",
    });
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

async fn translate(State(shared): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !authorised(&headers) {
        return refuse(403, "Authorization failure, check auth_key");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return refuse(400, "Invalid JSON") };
    let (fault, phrasebook, glossary) = {
        let mut fake = shared.fake.lock().unwrap();
        fake.translate_calls.push(body.clone());
        let glossary = body["glossary_id"].as_str().map(|id| fake.glossaries.get(id).cloned());
        let mut script = shared.script.lock().unwrap();
        (script.faults.pop_front(), script.phrasebook.clone(), glossary)
    };
    match fault {
        Some(Fault::Status(456)) => return refuse(456, "Quota exceeded"),
        Some(Fault::Status(status)) => return refuse(status, "Too many requests or temporary failure"),
        Some(Fault::Stall(how_long)) => tokio::time::sleep(how_long).await,
        None => {}
    }
    let Some(texts) = body["text"].as_array().filter(|texts| !texts.is_empty() && texts.len() <= 50) else {
        return refuse(400, "Missing or invalid argument: text");
    };
    let target_code = body["target_lang"].as_str().unwrap_or_default();
    if target_code.eq_ignore_ascii_case("EN") {
        return refuse(400, "Value for 'target_lang' not supported: use EN-GB or EN-US");
    }
    let Some(target) = ours(target_code) else { return refuse(400, "Value for 'target_lang' not supported") };
    let source = body["source_lang"].as_str().and_then(ours);
    let entries = match (glossary, &source) {
        (None, _) => Vec::new(),
        (Some(_), None) => {
            return refuse(400, "Use of a glossary requires the source_lang parameter to be set");
        }
        (Some(None), _) => return refuse(404, "Glossary not found"),
        (Some(Some(dictionaries)), Some(source)) => match dictionaries.get(&(source.clone(), target.clone()))
        {
            Some(entries) => entries.clone(),
            None => return refuse(400, "The glossary has no dictionary for this language pair"),
        },
    };
    let source = source.unwrap_or_else(|| "en".to_owned());
    let ignored: Vec<String> = match body["tag_handling"].as_str() {
        Some("xml") => body["ignore_tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tag| tag.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let translations: Vec<Value> = texts
        .iter()
        .map(|text| {
            let text = text.as_str().unwrap_or_default();
            json!({
                "detected_source_language": source.to_ascii_uppercase(),
                "text": render(&phrasebook, &source, &target, text, &entries, &ignored),
            })
        })
        .collect();
    axum::Json(json!({ "translations": translations })).into_response()
}

/// The text in `target`: glossary entries first (kept as the glossary says), ignored elements
/// as they are, the words between from the phrasebook.
fn render(
    phrasebook: &Phrasebook,
    source: &str,
    target: &str,
    text: &str,
    entries: &[(String, String)],
    ignored: &[String],
) -> String {
    let mut out = String::new();
    let mut words = String::new();
    let mut rest = text;
    let flush = |words: &mut String, out: &mut String| {
        if !words.trim().is_empty() {
            out.push_str(&words[..words.len() - words.trim_start().len()]);
            out.push_str(&phrasebook.translate(source, target, words));
            out.push_str(&words[words.trim_end().len()..]);
        } else {
            out.push_str(words);
        }
        words.clear();
    };
    'outer: while !rest.is_empty() {
        for tag in ignored {
            let open = format!("<{tag}>");
            let close = format!("</{tag}>");
            if rest.starts_with(&open) {
                let end = rest.find(&close).map_or(rest.len(), |at| at + close.len());
                flush(&mut words, &mut out);
                out.push_str(&rest[..end]);
                rest = &rest[end..];
                continue 'outer;
            }
        }
        if let Some((from, to)) = entries.iter().find(|(from, _)| rest.starts_with(from.as_str())) {
            flush(&mut words, &mut out);
            out.push_str(to);
            rest = &rest[from.len()..];
            continue;
        }
        let next = rest.chars().next().unwrap();
        words.push(next);
        rest = &rest[next.len_utf8()..];
    }
    flush(&mut words, &mut out);
    out
}
