//! A fake MAX Bot API that speaks the real HTTP protocol on 127.0.0.1 port 0: the token in the
//! `Authorization` header (401 `verify.token` otherwise), `GET /updates` as a long poll with a
//! marker, `POST /messages`, `POST /answers`, `POST /uploads?type=image` handing out an upload
//! URL that takes the multipart `data` field and answers with photo tokens, `POST
//! /subscriptions`, and download URLs for customers' images.
//!
//! Failures are injected per path, in order: 429, 503, 403 and `attachment.not.ready` (a 400
//! with that code, as MAX answers while an uploaded image is processed). A message sent with
//! an image token the fake never handed out is refused, so a test proves the upload happened.
//! Both the raw calls and the messages a customer would see are recorded.

use super::local_server::{ServerTask, local_listener, serve};
use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub const TOKEN: &str = "max-fake-bot-token";
pub const SECRET: &str = "max_webhook_secret_1";
/// The bot's own user id (the stabs' `UniBot`).
pub const BOT_USER_ID: i64 = 229_229_229;
/// Markers start here, so a marker is never confused with an index.
const FIRST_MARKER: i64 = 25_493_970;

/// One API request as it arrived (without the token).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    /// `messages`, `answers`, `uploads`, `subscriptions`, `updates`.
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub body: Value,
}

/// A message the customer would see.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// `user_id=<id>` or `chat_id=<id>`.
    pub to: String,
    pub text: String,
    /// The `inline_keyboard` attachment's buttons, if any.
    pub keyboard: Option<Value>,
    /// Upload numbers of the images shown with the message.
    pub images: Vec<usize>,
}

/// What an injected failure answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    TooManyRequests,
    Unavailable,
    Forbidden,
    AttachmentNotReady,
}

#[derive(Default)]
struct Fake {
    base_url: String,
    calls: Vec<ApiCall>,
    shown: Vec<Shown>,
    injected: HashMap<String, VecDeque<Failure>>,
    updates: Vec<Value>,
    /// Markers asked for by `GET /updates`, in order (`None`: no marker).
    polls: Vec<Option<i64>>,
    uploads: Vec<Vec<u8>>,
    tokens: HashSet<String>,
    files: HashMap<String, Vec<u8>>,
    /// Download paths answered with 503 until a file is served there.
    unavailable_files: HashSet<String>,
    next_mid: u64,
}

#[derive(Clone)]
struct Shared {
    fake: Arc<Mutex<Fake>>,
    /// Bumped on every new update, to wake a waiting long poll.
    updates: watch::Sender<usize>,
}

pub struct FakeMax {
    pub base_url: String,
    shared: Shared,
    _server: ServerTask,
}

impl FakeMax {
    pub async fn start() -> FakeMax {
        let (listener, base_url) = local_listener().await;
        let fake = Fake { base_url: base_url.clone(), next_mid: 1, ..Fake::default() };
        let (updates, _) = watch::channel(0);
        let shared = Shared { fake: Arc::new(Mutex::new(fake)), updates };
        let app = Router::new()
            .route("/updates", get(updates_long_poll))
            .route("/messages", post(messages))
            .route("/answers", post(answers))
            .route("/uploads", post(uploads))
            .route("/subscriptions", post(subscriptions))
            .route("/upload/{number}", post(upload))
            .route("/files/{*path}", get(file))
            .with_state(shared.clone());
        FakeMax { base_url, shared, _server: serve(listener, app) }
    }

    fn with<T>(&self, action: impl FnOnce(&mut Fake) -> T) -> T {
        action(&mut self.shared.fake.lock().unwrap())
    }

    /// The next call to `path` (`messages`, `answers`, `uploads`) fails with `failure`
    /// (queued: call again to fail more).
    pub fn fail_next(&self, path: &str, failure: Failure) {
        self.with(|fake| fake.injected.entry(path.to_owned()).or_default().push_back(failure));
    }

    /// Queues an update for `GET /updates`.
    pub fn push_update(&self, update: Value) {
        let count = self.with(|fake| {
            fake.updates.push(update);
            fake.updates.len()
        });
        self.shared.updates.send_replace(count);
    }

    /// Serves `bytes` at `/files/<path>` and returns the URL.
    pub fn serve_file(&self, path: &str, bytes: Vec<u8>) -> String {
        self.with(|fake| {
            fake.unavailable_files.remove(path);
            fake.files.insert(path.to_owned(), bytes)
        });
        format!("{}/files/{path}", self.base_url)
    }

    /// Answers downloads of `/files/<path>` with 503 until a file is served there; returns the URL.
    pub fn file_unavailable(&self, path: &str) -> String {
        self.with(|fake| fake.unavailable_files.insert(path.to_owned()));
        format!("{}/files/{path}", self.base_url)
    }

    pub fn calls_to(&self, path: &str) -> Vec<ApiCall> {
        self.with(|fake| fake.calls.iter().filter(|call| call.path == path).cloned().collect())
    }

    pub fn shown(&self) -> Vec<Shown> {
        self.with(|fake| fake.shown.clone())
    }

    pub fn polls(&self) -> Vec<Option<i64>> {
        self.with(|fake| fake.polls.clone())
    }

    pub fn uploads(&self) -> Vec<Vec<u8>> {
        self.with(|fake| fake.uploads.clone())
    }

    /// The marker after every update queued so far.
    pub fn current_marker(&self) -> i64 {
        self.with(|fake| FIRST_MARKER + fake.updates.len() as i64)
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "message": message}))).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|value| value.to_str().ok()) == Some(TOKEN)
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "verify.token", "Invalid access_token")
}

/// Records the call and answers an injected failure for `path`, if one is queued.
fn record(shared: &Shared, path: &str, query: HashMap<String, String>, body: Value) -> Option<Response> {
    let mut fake = shared.fake.lock().unwrap();
    fake.calls.push(ApiCall { path: path.to_owned(), query: query.into_iter().collect(), body });
    let failure = fake.injected.get_mut(path).and_then(VecDeque::pop_front)?;
    Some(match failure {
        Failure::TooManyRequests => {
            error(StatusCode::TOO_MANY_REQUESTS, "too.many.requests", "Too many requests")
        }
        Failure::Unavailable => error(StatusCode::SERVICE_UNAVAILABLE, "service.unavailable", "Try later"),
        Failure::Forbidden => error(StatusCode::FORBIDDEN, "chat.denied", "The user has stopped the bot"),
        Failure::AttachmentNotReady => error(StatusCode::BAD_REQUEST, "attachment.not.ready", ""),
    })
}

fn body_json(body: &str) -> Option<Value> {
    serde_json::from_str(body).ok()
}

fn not_json() -> Response {
    error(StatusCode::BAD_REQUEST, "proto.payload", "not JSON")
}

async fn updates_long_poll(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let marker = query.get("marker").and_then(|marker| marker.parse::<i64>().ok());
    let timeout = query.get("timeout").and_then(|value| value.parse::<u64>().ok()).unwrap_or(30);
    shared.fake.lock().unwrap().polls.push(marker);
    let start = marker.map_or(0, |marker| (marker - FIRST_MARKER).max(0) as usize);
    let mut changes = shared.updates.subscribe();
    let wait = tokio::time::sleep(Duration::from_secs(timeout));
    tokio::pin!(wait);
    loop {
        let pending: Vec<Value> = {
            let fake = shared.fake.lock().unwrap();
            fake.updates.get(start..).map(<[Value]>::to_vec).unwrap_or_default()
        };
        if !pending.is_empty() {
            let marker = FIRST_MARKER + (start + pending.len()) as i64;
            return axum::Json(json!({"updates": pending, "marker": marker})).into_response();
        }
        tokio::select! {
            () = &mut wait => {
                return axum::Json(json!({"updates": [], "marker": FIRST_MARKER + start as i64})).into_response();
            }
            changed = changes.changed() => if changed.is_err() { return StatusCode::GONE.into_response() },
        }
    }
}

async fn messages(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let Some(body) = body_json(&body) else { return not_json() };
    let to = match (query.get("user_id"), query.get("chat_id")) {
        (Some(user), None) => format!("user_id={user}"),
        (None, Some(chat)) => format!("chat_id={chat}"),
        _ => return error(StatusCode::BAD_REQUEST, "proto.payload", "user_id or chat_id"),
    };
    if let Some(failure) = record(&shared, "messages", query, body.clone()) {
        return failure;
    }
    let mut fake = shared.fake.lock().unwrap();
    let mut keyboard = None;
    let mut images = Vec::new();
    for attachment in body["attachments"].as_array().cloned().unwrap_or_default() {
        match attachment["type"].as_str() {
            Some("inline_keyboard") => keyboard = Some(attachment["payload"]["buttons"].clone()),
            Some("image") => {
                let photos = attachment["payload"]["photos"].as_object().cloned().unwrap_or_default();
                for photo in photos.values() {
                    let token = photo["token"].as_str().unwrap_or_default();
                    if !fake.tokens.contains(token) {
                        return error(StatusCode::BAD_REQUEST, "attachment.invalid", "unknown token");
                    }
                    images.push(token.trim_start_matches("token-").parse().unwrap_or_default());
                }
            }
            other => panic!("the fake does not expect attachments of type {other:?}"),
        }
    }
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    fake.shown.push(Shown { to: to.clone(), text: text.clone(), keyboard, images });
    let mid = format!("mid.fake{:020}", fake.next_mid);
    fake.next_mid += 1;
    axum::Json(json!({"message": {
        "sender": {"user_id": BOT_USER_ID, "name": "UniBot", "is_bot": true},
        "recipient": {"chat_type": "dialog"},
        "timestamp": 1_775_026_671_403_i64,
        "body": {"mid": mid, "seq": 1, "text": text},
    }}))
    .into_response()
}

async fn answers(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let Some(body) = body_json(&body) else { return not_json() };
    if !query.contains_key("callback_id") {
        return error(StatusCode::BAD_REQUEST, "proto.payload", "callback_id");
    }
    if let Some(failure) = record(&shared, "answers", query, body) {
        return failure;
    }
    axum::Json(json!({"success": true})).into_response()
}

async fn uploads(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    if query.get("type").map(String::as_str) != Some("image") {
        return error(StatusCode::BAD_REQUEST, "proto.payload", "type");
    }
    if let Some(failure) = record(&shared, "uploads", query, Value::Null) {
        return failure;
    }
    let fake = shared.fake.lock().unwrap();
    let number = fake.uploads.len() + 1;
    axum::Json(json!({"url": format!("{}/upload/{number}", fake.base_url)})).into_response()
}

async fn upload(
    State(shared): State<Shared>,
    Path(number): Path<usize>,
    mut multipart: Multipart,
) -> Response {
    let mut data = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("data") && field.file_name().is_some() {
            data = Some(field.bytes().await.unwrap().to_vec());
        }
    }
    let Some(data) = data else { return error(StatusCode::BAD_REQUEST, "proto.payload", "no data field") };
    let mut fake = shared.fake.lock().unwrap();
    fake.uploads.push(data);
    assert_eq!(fake.uploads.len(), number, "uploads arrive in the order their URLs were handed out");
    let token = format!("token-{number}");
    fake.tokens.insert(token.clone());
    axum::Json(json!({"photos": {format!("photo{number}"): {"token": token}}})).into_response()
}

async fn subscriptions(State(shared): State<Shared>, headers: HeaderMap, body: String) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let Some(body) = body_json(&body) else { return not_json() };
    if let Some(failure) = record(&shared, "subscriptions", HashMap::new(), body) {
        return failure;
    }
    axum::Json(json!({"success": true})).into_response()
}

async fn file(State(shared): State<Shared>, Path(path): Path<String>) -> Response {
    let fake = shared.fake.lock().unwrap();
    if fake.unavailable_files.contains(&path) {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    match fake.files.get(&path) {
        Some(bytes) => (StatusCode::OK, bytes.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
