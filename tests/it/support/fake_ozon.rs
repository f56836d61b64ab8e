//! A fake Ozon Seller API that speaks the real HTTP protocol on 127.0.0.1 port 0: the seller's
//! `Client-Id` and `Api-Key` headers (401 with gRPC code 16 otherwise), buyer chats with their
//! history (`POST /v3/chat/list` with `unread_only` and a cursor, `POST /v3/chat/history` in
//! both directions), `POST /v1/chat/send/message` (1 to 1000 characters, and only within 48
//! hours of the buyer's last message), `POST /v1/chat/send/file`, `POST /v2/chat/read`, and postings
//! (`POST /v3/posting/fbs/get`, `POST /v2/posting/fbo/get`, from tests/fixtures/ozon/postings.json). Errors are Ozon's
//! `{code, message, details}`, shaped after tests/fixtures/ozon/errors.json.
//!
//! A test plays the buyer by adding messages to a chat ([`FakeOzon::buyer_writes`]) and, when
//! it wants them pushed, by posting [`FakeOzon::push_of`] to the app's push route, as Ozon
//! would. Failures are injected per path, in order: 429 (code 8).

use super::local_server::{ServerTask, local_listener, serve};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "836120";
pub const API_KEY: &str = "ozon-fake-api-key-0f5c";
/// Message ids start here, as Ozon's do (64-bit numbers).
const FIRST_MESSAGE_ID: u64 = 3_000_000_000_817_031_942;
const WINDOW_MILLIS: i64 = 48 * 3600 * 1000;

/// What an injected failure answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 429 with code 8, as past the seller's request rate.
    TooManyRequests,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub id: u64,
    /// `Customer`, `Seller`, `crm`.
    pub kind: String,
    pub created_at: i64,
    pub data: Vec<String>,
}

#[derive(Debug, Default)]
struct Chat {
    messages: Vec<Message>,
    /// The seller marked the chat read up to this message.
    read_up_to: u64,
}

/// A file the seller sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SentFile {
    pub chat_id: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct Fake {
    chats: BTreeMap<String, Chat>,
    next_id: u64,
    calls: Vec<(String, Value)>,
    files: Vec<SentFile>,
    injected: HashMap<String, VecDeque<Failure>>,
    /// Refusals of sends, with Ozon's message, in order.
    refused: Vec<(String, String)>,
    /// Postings by number: `fbs` or `fbo`, and the posting object.
    postings: HashMap<String, (String, Value)>,
}

type Shared = Arc<Mutex<Fake>>;

pub struct FakeOzon {
    pub base_url: String,
    shared: Shared,
    _server: ServerTask,
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl FakeOzon {
    pub async fn start() -> FakeOzon {
        let (listener, base_url) = local_listener().await;
        let shared: Shared = Arc::new(Mutex::new(Fake { next_id: FIRST_MESSAGE_ID, ..Fake::default() }));
        let app = Router::new()
            .route("/v3/chat/list", post(chat_list))
            .route("/v3/chat/history", post(chat_history))
            .route("/v1/chat/send/message", post(send_message))
            .route("/v1/chat/send/file", post(send_file))
            .route("/v2/chat/read", post(mark_read))
            .route("/v3/posting/fbs/get", post(posting_fbs))
            .route("/v2/posting/fbo/get", post(posting_fbo))
            .with_state(shared.clone());
        FakeOzon { base_url, shared, _server: serve(listener, app) }
    }

    fn with<T>(&self, action: impl FnOnce(&mut Fake) -> T) -> T {
        action(&mut self.shared.lock().unwrap())
    }

    /// The buyer writes `data` in `chat_id` (created if new) at `created_at` (milliseconds;
    /// now when `None`). Returns the message id.
    pub fn buyer_writes_at(&self, chat_id: &str, data: &[&str], created_at: Option<i64>) -> u64 {
        self.with(|fake| {
            let id = fake.next_id;
            fake.next_id += 1;
            let message = Message {
                id,
                kind: "Customer".to_owned(),
                created_at: created_at.unwrap_or_else(now_millis),
                data: data.iter().map(|part| (*part).to_owned()).collect(),
            };
            fake.chats.entry(chat_id.to_owned()).or_default().messages.push(message);
            id
        })
    }

    pub fn buyer_writes(&self, chat_id: &str, text: &str) -> u64 {
        self.buyer_writes_at(chat_id, &[text], None)
    }

    /// The `TYPE_NEW_MESSAGE` push Ozon would post for message `id` of `chat_id`
    /// (shaped as tests/fixtures/ozon/push_new_message.json).
    pub fn push_of(&self, chat_id: &str, id: u64) -> Value {
        self.with(|fake| {
            let message =
                fake.chats[chat_id].messages.iter().find(|message| message.id == id).unwrap().clone();
            json!({
                "message_type": "TYPE_NEW_MESSAGE",
                "chat_id": chat_id,
                "chat_type": "Buyer_Seller",
                "message_id": message.id.to_string(),
                "created_at": rfc3339(message.created_at),
                "user": {"id": "115568", "type": message.kind},
                "data": message.data,
                "seller_id": 7,
            })
        })
    }

    /// What the seller (the bot or an agent) wrote in `chat_id`, in order.
    pub fn seller_texts(&self, chat_id: &str) -> Vec<String> {
        self.with(|fake| {
            fake.chats
                .get(chat_id)
                .map(|chat| {
                    chat.messages.iter().filter(|m| m.kind == "Seller").map(|m| m.data.join("\n")).collect()
                })
                .unwrap_or_default()
        })
    }

    pub fn files(&self) -> Vec<SentFile> {
        self.with(|fake| fake.files.clone())
    }

    pub fn read_up_to(&self, chat_id: &str) -> u64 {
        self.with(|fake| fake.chats.get(chat_id).map_or(0, |chat| chat.read_up_to))
    }

    /// Requests to `path` (e.g. `/v3/chat/history`), bodies in order.
    pub fn calls_to(&self, path: &str) -> Vec<Value> {
        self.with(|fake| {
            fake.calls.iter().filter(|(to, _)| to == path).map(|(_, body)| body.clone()).collect()
        })
    }

    pub fn refused(&self) -> Vec<(String, String)> {
        self.with(|fake| fake.refused.clone())
    }

    /// `get` answers for the posting's number: `scheme` is `fbs` or `fbo`.
    pub fn add_posting(&self, scheme: &str, posting: Value) {
        let number = posting["posting_number"].as_str().expect("a posting number").to_owned();
        self.with(|fake| fake.postings.insert(number, (scheme.to_owned(), posting)));
    }

    pub fn fail_next(&self, path: &str, failure: Failure) {
        self.with(|fake| fake.injected.entry(path.to_owned()).or_default().push_back(failure));
    }
}

fn ozon_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message, "details": []}))).into_response()
}

/// Checks the seller's headers, records the call, and answers an injected failure if one waits:
/// `Some` is the refusal to answer instead.
fn admit(shared: &Shared, headers: &HeaderMap, path: &str, body: &Value) -> Option<Response> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("client-id") != Some(CLIENT_ID) || header("api-key") != Some(API_KEY) {
        return Some(ozon_error(StatusCode::UNAUTHORIZED, 16, "Client-Id and Api-Key headers are required"));
    }
    let mut fake = shared.lock().unwrap();
    fake.calls.push((path.to_owned(), body.clone()));
    let failure = fake.injected.get_mut(path).and_then(VecDeque::pop_front)?;
    Some(match failure {
        Failure::TooManyRequests => {
            ozon_error(StatusCode::TOO_MANY_REQUESTS, 8, "You have reached request rate limit per second")
        }
    })
}

fn id_of(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str().and_then(|text| text.parse().ok()))
}

fn message_json(message: &Message, read_up_to: u64) -> Value {
    json!({
        "message_id": message.id.to_string(),
        "user": {"id": if message.kind == "Customer" { "115568" } else { CLIENT_ID }, "type": message.kind},
        "created_at": rfc3339(message.created_at),
        "is_read": message.id <= read_up_to,
        "is_image": message.data.iter().any(|part| part.starts_with("![")),
        "data": message.data,
    })
}

async fn chat_list(State(shared): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(refused) = admit(&shared, &headers, "/v3/chat/list", &body) {
        return refused;
    }
    let unread_only = body["filter"]["unread_only"].as_bool().unwrap_or(false);
    let limit = body["limit"].as_u64().unwrap_or(30).max(1) as usize;
    let start: usize = body["cursor"].as_str().and_then(|cursor| cursor.parse().ok()).unwrap_or(0);
    let fake = shared.lock().unwrap();
    let chats: Vec<Value> = fake
        .chats
        .iter()
        .filter_map(|(chat_id, chat)| {
            let unread =
                chat.messages.iter().filter(|m| m.kind == "Customer" && m.id > chat.read_up_to).count() as i64;
            if unread_only && unread == 0 {
                return None;
            }
            Some(json!({
                "chat": {"chat_id": chat_id, "chat_status": "Opened", "chat_type": "Buyer_Seller",
                         "created_at": rfc3339(chat.messages.first().map_or(0, |m| m.created_at))},
                "first_unread_message_id": chat.messages.iter().find(|m| m.id > chat.read_up_to).map_or(0, |m| m.id),
                "last_message_id": chat.messages.last().map_or(0, |m| m.id),
                "unread_count": unread,
            }))
        })
        .collect();
    let page: Vec<Value> = chats.iter().skip(start).take(limit).cloned().collect();
    let has_next = start + page.len() < chats.len();
    Json(json!({
        "chats": page,
        "total_unread_count": chats.len(),
        "cursor": if has_next { (start + limit).to_string() } else { String::new() },
        "has_next": has_next,
    }))
    .into_response()
}

async fn chat_history(State(shared): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(refused) = admit(&shared, &headers, "/v3/chat/history", &body) {
        return refused;
    }
    let fake = shared.lock().unwrap();
    let Some(chat) = body["chat_id"].as_str().and_then(|id| fake.chats.get(id)) else {
        return ozon_error(StatusCode::NOT_FOUND, 5, "Chat not found");
    };
    let limit = body["limit"].as_u64().unwrap_or(50).clamp(1, 1000) as usize;
    let forward = body["direction"].as_str() == Some("Forward");
    let from = id_of(&body["from_message_id"]);
    // As Ozon does, the page starts at `from_message_id` itself.
    let mut messages: Vec<&Message> = if forward {
        chat.messages.iter().filter(|m| from.is_none_or(|from| m.id >= from)).collect()
    } else {
        chat.messages.iter().rev().filter(|m| from.is_none_or(|from| m.id <= from)).collect()
    };
    let has_next = messages.len() > limit;
    messages.truncate(limit);
    let page: Vec<Value> = messages.iter().map(|m| message_json(m, chat.read_up_to)).collect();
    Json(json!({"has_next": has_next, "messages": page})).into_response()
}

async fn send_message(State(shared): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(refused) = admit(&shared, &headers, "/v1/chat/send/message", &body) {
        return refused;
    }
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    let chat_id = body["chat_id"].as_str().unwrap_or_default().to_owned();
    let length = text.chars().count();
    let mut fake = shared.lock().unwrap();
    if !(1..=1000).contains(&length) {
        fake.refused.push((chat_id, format!("text of {length} characters")));
        return ozon_error(StatusCode::BAD_REQUEST, 3, "text: value length must be between 1 and 1000 runes");
    }
    let id = fake.next_id;
    fake.next_id += 1;
    let Some(chat) = fake.chats.get_mut(&chat_id) else {
        return ozon_error(StatusCode::NOT_FOUND, 5, "Chat not found");
    };
    let last_buyer = chat.messages.iter().rev().find(|m| m.kind == "Customer").map(|m| m.created_at);
    if last_buyer.is_some_and(|at| now_millis() > at + WINDOW_MILLIS) {
        fake.refused.push((chat_id, "window".to_owned()));
        return ozon_error(StatusCode::BAD_REQUEST, 9, "Chat is closed for sending messages");
    }
    chat.messages.push(Message { id, kind: "Seller".to_owned(), created_at: now_millis(), data: vec![text] });
    Json(json!({"result": "success"})).into_response()
}

async fn send_file(State(shared): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    use base64::Engine as _;
    if let Some(refused) = admit(&shared, &headers, "/v1/chat/send/file", &body) {
        return refused;
    }
    let Ok(bytes) =
        base64::engine::general_purpose::STANDARD.decode(body["base64_content"].as_str().unwrap_or(""))
    else {
        return ozon_error(StatusCode::BAD_REQUEST, 3, "base64_content: invalid base64");
    };
    let file = SentFile {
        chat_id: body["chat_id"].as_str().unwrap_or_default().to_owned(),
        name: body["name"].as_str().unwrap_or_default().to_owned(),
        bytes,
    };
    shared.lock().unwrap().files.push(file);
    Json(json!({"result": "success"})).into_response()
}

async fn mark_read(State(shared): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(refused) = admit(&shared, &headers, "/v2/chat/read", &body) {
        return refused;
    }
    let mut fake = shared.lock().unwrap();
    let Some(chat) = body["chat_id"].as_str().and_then(|id| fake.chats.get_mut(id)) else {
        return ozon_error(StatusCode::NOT_FOUND, 5, "Chat not found");
    };
    if let Some(id) = id_of(&body["from_message_id"]) {
        chat.read_up_to = chat.read_up_to.max(id);
    }
    let unread = chat.messages.iter().filter(|m| m.kind == "Customer" && m.id > chat.read_up_to).count();
    Json(json!({"unread_count": unread})).into_response()
}

fn posting(shared: &Shared, scheme: &str, body: &Value) -> Response {
    let fake = shared.lock().unwrap();
    match body["posting_number"].as_str().and_then(|number| fake.postings.get(number)) {
        Some((found, posting)) if found == scheme => Json(json!({"result": posting})).into_response(),
        _ => ozon_error(StatusCode::NOT_FOUND, 5, "Posting not found"),
    }
}

async fn posting_fbs(State(shared): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(refused) = admit(&shared, &headers, "/v3/posting/fbs/get", &body) {
        return refused;
    }
    posting(&shared, "fbs", &body)
}

async fn posting_fbo(State(shared): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(refused) = admit(&shared, &headers, "/v2/posting/fbo/get", &body) {
        return refused;
    }
    posting(&shared, "fbo", &body)
}
