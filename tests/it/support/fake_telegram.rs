//! A fake Telegram Bot API: an axum app on 127.0.0.1, port 0, speaking the real protocol
//! closely enough for teloxide's client: `POST /bot<token>/<method>` with a JSON or multipart
//! body, `GET /file/bot<token>/<path>`, and `{"ok":false,"error_code":..,"description":..,
//! "parameters":{"retry_after":N}}` errors.
//!
//! Tests drive it through hooks: queue updates for `getUpdates` or post them to the webhook
//! the bot registered, read every call the bot made (with the time it arrived), inject faults
//! (429 with `retry_after`, 500, 403, 400, a slow answer) and register downloadable files.
//! [`FakeTelegram::start_with_faults`] adds a [`FaultPlan`] for the send calls
//! (`sendMessage`, `sendPhoto`, `answerCallbackQuery`); [`FakeTelegram::shown`] says which
//! messages the customer sees, and whether the bot was told they were sent.

// Each test binary uses a different part of the fake.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use super::faults::{Connection, CuttableListener, FaultKind, FaultPlan, Faults, SendCall};

/// The calls a fault plan may hit: what the bot sends, not how it reads.
pub const SEND_METHODS: [&str; 3] = ["sendMessage", "sendPhoto", "answerCallbackQuery"];

/// Telegram's download limit for bots: `getFile` refuses larger files.
pub const MAX_DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// One method call the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The parameters, JSON bodies as sent; multipart text fields as strings (or as JSON when
    /// they hold an object or array, like `reply_markup`).
    pub params: Value,
    /// Files uploaded with a multipart call.
    pub uploads: Vec<Upload>,
    pub at: Instant,
}

impl Call {
    /// The chat the call was for; Telegram takes `chat_id` as a number or as its text.
    pub fn chat(&self) -> Option<i64> {
        let chat = &self.params["chat_id"];
        chat.as_i64().or_else(|| chat.as_str().and_then(|text| text.parse().ok()))
    }
}

/// An update of `tests/fixtures/telegram/<name>.json`, without its `_source` note.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/telegram/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("_source").expect("fixtures say where they come from");
    value
}

/// A message the customer sees (a `sendMessage` or `sendPhoto` that Telegram carried out).
#[derive(Debug, Clone)]
pub struct Shown {
    pub chat_id: i64,
    /// The text, or the caption of a photo.
    pub text: Option<String>,
    pub reply_markup: Value,
    /// False when the fault plan lost the answer (a stall or a dropped connection after the
    /// message was shown): the bot does not know it was sent and will send it again.
    pub answered: bool,
}

#[derive(Debug, Clone)]
pub struct Upload {
    pub field: String,
    pub bytes: Vec<u8>,
}

/// What the next call of a method runs into.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with `parameters.retry_after`.
    TooManyRequests { retry_after: u32 },
    /// 500 Internal Server Error.
    ServerError,
    /// 403 with this description (`Forbidden: bot was blocked by the user`).
    Forbidden(String),
    /// 400 with this description.
    BadRequest(String),
    /// Answer normally, after this delay.
    Slow(Duration),
}

struct FakeFile {
    path: String,
    bytes: Vec<u8>,
    /// The size `getFile` reports (a test may claim more than it stores).
    size: u64,
}

#[derive(Default)]
struct Inner {
    next_update_id: u32,
    /// Updates not yet confirmed by an `offset`.
    pending: VecDeque<Value>,
    webhook: Option<(String, Option<String>)>,
    calls: Vec<Call>,
    /// Per method: what the next calls meet (`None`: a normal answer).
    faults: HashMap<String, VecDeque<Option<Fault>>>,
    files: HashMap<String, FakeFile>,
    blocked_chats: Vec<i64>,
    next_message_id: i64,
    shown: Vec<Shown>,
    /// The opt-in fault plan for send calls.
    plan: Option<Faults>,
    /// `getUpdates` requests being answered right now, and the most there ever were at once:
    /// more than one means two processes polled the same bot at the same time.
    polls_in_flight: usize,
    most_polls_at_once: usize,
}

struct Shared {
    token: String,
    bot_id: u64,
    inner: Mutex<Inner>,
    updates_arrived: Notify,
    call_arrived: Notify,
}

/// A running fake Bot API. Dropping it stops the server.
pub struct FakeTelegram {
    shared: Arc<Shared>,
    address: std::net::SocketAddr,
    server: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeTelegram {
    /// Starts a fake for the bot with this token (its id is the token's prefix).
    pub async fn start(token: &str) -> FakeTelegram {
        FakeTelegram::start_with(token, None).await
    }

    /// Starts a fake whose send calls meet the faults of `plan`.
    pub async fn start_with_faults(token: &str, plan: FaultPlan) -> FakeTelegram {
        FakeTelegram::start_with(token, Some(Faults::new(plan))).await
    }

    async fn start_with(token: &str, plan: Option<Faults>) -> FakeTelegram {
        let bot_id =
            token.split(':').next().and_then(|id| id.parse().ok()).expect("token starts with the bot id");
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            bot_id,
            inner: Mutex::new(Inner { next_update_id: 10_000, next_message_id: 1, plan, ..Inner::default() }),
            updates_arrived: Notify::new(),
            call_arrived: Notify::new(),
        });
        let app = Router::new()
            .route("/{bot}/{method}", post(method))
            .route("/file/{bot}/{*path}", get(file))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Bot API");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let listener = CuttableListener::new(listener);
            axum::serve(listener, app.into_make_service_with_connect_info::<Connection>())
                .await
                .expect("fake Bot API server");
        });
        FakeTelegram { shared, address, server, http: reqwest::Client::new() }
    }

    /// The base URL to give the bot as its API URL.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Queues an update for `getUpdates`, giving it the next `update_id`; returns the id.
    pub fn push_update(&self, mut update: Value) -> u32 {
        let id = {
            let mut inner = self.lock();
            inner.next_update_id += 1;
            let id = inner.next_update_id;
            update["update_id"] = json!(id);
            inner.pending.push_back(update);
            id
        };
        self.shared.updates_arrived.notify_waiters();
        id
    }

    /// Queues an update again with the `update_id` it already has, as Telegram does when the
    /// bot never confirmed it (the bot crashed between storing it and moving its offset).
    pub fn redeliver(&self, update: Value) {
        assert!(update["update_id"].is_u64(), "a redelivered update keeps its update_id");
        self.lock().pending.push_back(update);
        self.shared.updates_arrived.notify_waiters();
    }

    /// Gives `update` the next `update_id` without queueing it (for webhook posts).
    pub fn number_update(&self, mut update: Value) -> Value {
        let mut inner = self.lock();
        inner.next_update_id += 1;
        update["update_id"] = json!(inner.next_update_id);
        update
    }

    /// Updates waiting for confirmation.
    pub fn pending_update_ids(&self) -> Vec<u64> {
        self.lock().pending.iter().filter_map(|update| update["update_id"].as_u64()).collect()
    }

    /// The most `getUpdates` requests that were ever being answered at the same time.
    pub fn most_polls_at_once(&self) -> usize {
        self.lock().most_polls_at_once
    }

    /// The webhook URL and secret the bot registered with `setWebhook`.
    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        self.lock().webhook.clone()
    }

    /// Posts `update` to the registered webhook, with the registered secret, as Telegram
    /// does; returns the HTTP status the bot answered.
    pub async fn post_to_webhook(&self, update: &Value) -> u16 {
        let (url, secret) = self.webhook().expect("the bot registered a webhook");
        self.post_raw(&url, update.to_string().into_bytes(), secret.as_deref()).await
    }

    /// Posts any body to any URL with an optional secret header: for wrong-secret and
    /// malformed-body tests.
    pub async fn post_raw(&self, url: &str, body: Vec<u8>, secret: Option<&str>) -> u16 {
        let mut request = self.http.post(url).header(header::CONTENT_TYPE, "application/json").body(body);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        request.send().await.expect("the webhook answered").status().as_u16()
    }

    /// Every call of `method` so far, oldest first.
    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.lock().calls.iter().filter(|call| call.method == method).cloned().collect()
    }

    /// Messages and photos the bot sent, in order.
    pub fn sent(&self) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|call| matches!(call.method.as_str(), "sendMessage" | "sendPhoto"))
            .cloned()
            .collect()
    }

    /// Every message shown to the customer of `chat_id`, in the order Telegram carried them out.
    pub fn shown(&self, chat_id: i64) -> Vec<Shown> {
        self.lock().shown.iter().filter(|shown| shown.chat_id == chat_id).cloned().collect()
    }

    /// Every send call the fault plan saw, with the fault it met (empty without a plan).
    pub fn send_calls(&self) -> Vec<SendCall> {
        self.lock().plan.as_ref().map(Faults::calls).unwrap_or_default()
    }

    /// Waits (at most ten seconds, then panics) until `method` was called `count` times.
    pub async fn wait_for_calls(&self, method: &str, count: usize) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let arrived = self.shared.call_arrived.notified();
            let calls = self.calls(method);
            if calls.len() >= count {
                return calls;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("{method} was called {} times, expected {count}", calls.len());
            }
        }
    }

    /// The next call of `method` fails with `fault`; faults queue up in order.
    pub fn fail_next(&self, method: &str, fault: Fault) {
        self.lock().faults.entry(method.to_owned()).or_default().push_back(Some(fault));
    }

    /// The next call of `method` answers normally (to place a fault on a later call).
    pub fn pass_next(&self, method: &str) {
        self.lock().faults.entry(method.to_owned()).or_default().push_back(None);
    }

    /// Every send to this chat fails with 403, as when the user blocked the bot.
    pub fn block_chat(&self, chat_id: i64) {
        self.lock().blocked_chats.push(chat_id);
    }

    /// Registers a file for `getFile` and download; returns its path.
    pub fn add_file(&self, file_id: &str, bytes: Vec<u8>) -> String {
        let size = bytes.len() as u64;
        self.add_file_claiming_size(file_id, bytes, size)
    }

    /// Registers a file whose `getFile` answer claims `size` bytes.
    pub fn add_file_claiming_size(&self, file_id: &str, bytes: Vec<u8>, size: u64) -> String {
        let path = format!("photos/file_{}.png", self.lock().files.len());
        self.lock().files.insert(file_id.to_owned(), FakeFile { path: path.clone(), bytes, size });
        path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().expect("fake state lock")
    }
}

/// The Bot API's error shape.
fn error(status: StatusCode, description: &str, retry_after: Option<u32>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(seconds) = retry_after {
        body["parameters"] = json!({"retry_after": seconds});
    }
    (status, axum::Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

async fn method(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    // Telegram's method names are case-insensitive (teloxide sends `SendMessage`).
    let method = canonical_method_name(&method);
    let connection = request.extensions().get::<ConnectInfo<Connection>>().map(|info| info.0.clone());
    let (params, uploads) = match read_params(request).await {
        Ok(read) => read,
        Err(description) => return error(StatusCode::BAD_REQUEST, &description, None),
    };
    {
        let mut inner = shared.inner.lock().expect("fake state lock");
        inner.calls.push(Call {
            method: method.clone(),
            params: params.clone(),
            uploads,
            at: Instant::now(),
        });
    }
    shared.call_arrived.notify_waiters();

    let fault =
        shared.inner.lock().expect("fake state lock").faults.get_mut(&method).and_then(VecDeque::pop_front);
    match fault.flatten() {
        Some(Fault::TooManyRequests { retry_after }) => {
            let description = format!("Too Many Requests: retry after {retry_after}");
            return error(StatusCode::TOO_MANY_REQUESTS, &description, Some(retry_after));
        }
        Some(Fault::ServerError) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", None);
        }
        Some(Fault::Forbidden(description)) => return error(StatusCode::FORBIDDEN, &description, None),
        Some(Fault::BadRequest(description)) => return error(StatusCode::BAD_REQUEST, &description, None),
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }

    // The fault plan. A fault that is carried out still runs the method below; only its
    // answer is lost afterwards.
    let planned = {
        let mut inner = shared.inner.lock().expect("fake state lock");
        let chat = number(&params["chat_id"]);
        inner.plan.as_mut().filter(|_| SEND_METHODS.contains(&method.as_str())).map(|plan| {
            let (index, fault) = plan.on_send(&method, chat);
            (index, fault, plan.plan())
        })
    };
    let mut lose_answer = None;
    if let Some((index, Some(fault), plan)) = planned {
        match (fault.kind, fault.applied) {
            (FaultKind::TooManyRequests, _) => {
                let retry_after = plan.retry_after_secs;
                let description = format!("Too Many Requests: retry after {retry_after}");
                let refusal = error(StatusCode::TOO_MANY_REQUESTS, &description, Some(retry_after));
                if let Some(plan) = shared.inner.lock().expect("fake state lock").plan.as_mut() {
                    plan.refused(index);
                }
                return refusal;
            }
            (FaultKind::ServerError, _) => {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", None);
            }
            (FaultKind::Stall, false) => {
                tokio::time::sleep(plan.stall).await;
                return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", None);
            }
            (FaultKind::DroppedConnection, false) => {
                connection.as_ref().expect("served with connection info").cut();
                return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", None);
            }
            (kind, true) => lose_answer = Some((kind, plan.stall)),
        }
    }
    let answered = lose_answer.is_none();

    let response = match method.as_str() {
        "getMe" => ok(json!({
            "id": shared.bot_id, "is_bot": true, "first_name": "Switchboard", "username": "switchboard_test_bot",
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false
        })),
        "getUpdates" => {
            let _poll = PollInFlight::start(&shared);
            get_updates(&shared, &params).await
        }
        "setWebhook" => {
            let url = params["url"].as_str().unwrap_or_default().to_owned();
            let secret = params["secret_token"].as_str().map(str::to_owned);
            shared.inner.lock().expect("fake state lock").webhook =
                (!url.is_empty()).then_some((url, secret));
            ok(json!(true))
        }
        "deleteWebhook" => {
            let mut inner = shared.inner.lock().expect("fake state lock");
            inner.webhook = None;
            if params["drop_pending_updates"].as_bool() == Some(true) {
                inner.pending.clear();
            }
            ok(json!(true))
        }
        "getWebhookInfo" => {
            let inner = shared.inner.lock().expect("fake state lock");
            let url = inner.webhook.as_ref().map(|(url, _)| url.clone()).unwrap_or_default();
            ok(
                json!({"url": url, "has_custom_certificate": false, "pending_update_count": inner.pending.len()}),
            )
        }
        "sendMessage" => send(&shared, &params, SendKind::Text, answered),
        "sendPhoto" => send(&shared, &params, SendKind::Photo, answered),
        "answerCallbackQuery" => ok(json!(true)),
        "editMessageReplyMarkup" => {
            let Some(chat_id) = number(&params["chat_id"]) else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: chat_id is empty", None);
            };
            let message_id = number(&params["message_id"]).unwrap_or(0);
            ok(message_json(shared.bot_id, chat_id, message_id, json!({"text": "edited"})))
        }
        "getFile" => {
            let file_id = params["file_id"].as_str().unwrap_or_default();
            let inner = shared.inner.lock().expect("fake state lock");
            match inner.files.get(file_id) {
                None => error(StatusCode::BAD_REQUEST, "Bad Request: invalid file_id", None),
                Some(file) if file.size > MAX_DOWNLOAD_BYTES => {
                    error(StatusCode::BAD_REQUEST, "Bad Request: file is too big", None)
                }
                Some(file) => ok(json!({
                    "file_id": file_id, "file_unique_id": format!("unique-{file_id}"),
                    "file_size": file.size, "file_path": file.path
                })),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "Not Found: method not found", None),
    };
    match lose_answer {
        Some((FaultKind::Stall, stall)) => {
            tokio::time::sleep(stall).await;
            response
        }
        Some(_) => {
            connection.as_ref().expect("served with connection info").cut();
            response
        }
        None => response,
    }
}

/// Counts one `getUpdates` request for as long as it is being answered. A poller that dies
/// mid-request closes its connection, the server drops the handler, and the count goes down.
struct PollInFlight<'a> {
    shared: &'a Shared,
}

impl<'a> PollInFlight<'a> {
    fn start(shared: &'a Shared) -> PollInFlight<'a> {
        let mut inner = shared.inner.lock().expect("fake state lock");
        inner.polls_in_flight += 1;
        inner.most_polls_at_once = inner.most_polls_at_once.max(inner.polls_in_flight);
        PollInFlight { shared }
    }
}

impl Drop for PollInFlight<'_> {
    fn drop(&mut self) {
        let mut inner = self.shared.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.polls_in_flight -= 1;
    }
}

/// `getUpdates`: confirms everything below `offset`, then answers at once when updates are
/// waiting, or waits up to `timeout` seconds for one.
async fn get_updates(shared: &Shared, params: &Value) -> Response {
    let offset = number(&params["offset"]);
    let limit = number(&params["limit"]).filter(|limit| (1..=100).contains(limit)).unwrap_or(100) as usize;
    let timeout = Duration::from_secs(number(&params["timeout"]).unwrap_or(0).max(0) as u64);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let arrived = shared.updates_arrived.notified();
        {
            let mut inner = shared.inner.lock().expect("fake state lock");
            if inner.webhook.is_some() {
                return error(
                    StatusCode::CONFLICT,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                    None,
                );
            }
            if let Some(offset) = offset.filter(|offset| *offset > 0) {
                inner.pending.retain(|update| update["update_id"].as_i64().unwrap_or(0) >= offset);
            }
            let batch: Vec<Value> = inner.pending.iter().take(limit).cloned().collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return ok(Value::Array(batch));
            }
        }
        if tokio::time::timeout_at(deadline, arrived).await.is_err() {
            return ok(json!([]));
        }
    }
}

enum SendKind {
    Text,
    Photo,
}

/// `sendMessage` / `sendPhoto`, with the checks Telegram makes that matter to us.
fn send(shared: &Shared, params: &Value, kind: SendKind, answered: bool) -> Response {
    let Some(chat_id) = number(&params["chat_id"]) else {
        return error(StatusCode::BAD_REQUEST, "Bad Request: chat_id is empty", None);
    };
    let mut inner = shared.inner.lock().expect("fake state lock");
    if inner.blocked_chats.contains(&chat_id) {
        return error(StatusCode::FORBIDDEN, "Forbidden: bot was blocked by the user", None);
    }
    if let Some(rows) = params["reply_markup"]["inline_keyboard"].as_array() {
        let too_long = rows.iter().filter_map(Value::as_array).flatten().any(|button| {
            button["callback_data"].as_str().is_some_and(|data| data.is_empty() || data.len() > 64)
        });
        if too_long {
            return error(StatusCode::BAD_REQUEST, "Bad Request: BUTTON_DATA_INVALID", None);
        }
    }
    let content = match kind {
        SendKind::Text => {
            let text = params["text"].as_str().unwrap_or_default();
            if text.trim().is_empty() {
                return error(StatusCode::BAD_REQUEST, "Bad Request: message text is empty", None);
            }
            if text.encode_utf16().count() > 4096 {
                return error(StatusCode::BAD_REQUEST, "Bad Request: message is too long", None);
            }
            json!({"text": text})
        }
        SendKind::Photo => json!({"photo": [{
            "file_id": format!("sent-photo-{}", inner.next_message_id), "file_unique_id": "sent",
            "file_size": 1, "width": 1, "height": 1
        }]}),
    };
    let message_id = inner.next_message_id;
    inner.next_message_id += 1;
    let text = match kind {
        SendKind::Text => params["text"].as_str(),
        SendKind::Photo => params["caption"].as_str(),
    };
    inner.shown.push(Shown {
        chat_id,
        text: text.map(str::to_owned),
        reply_markup: params["reply_markup"].clone(),
        answered,
    });
    ok(message_json(shared.bot_id, chat_id, message_id, content))
}

fn message_json(bot_id: u64, chat_id: i64, message_id: i64, content: Value) -> Value {
    let mut message = json!({
        "message_id": message_id,
        "date": 1_700_000_000,
        "chat": {"id": chat_id, "type": "private", "first_name": "Customer"},
        "from": {"id": bot_id, "is_bot": true, "first_name": "Switchboard", "username": "switchboard_test_bot"},
    });
    if let (Some(message), Some(content)) = (message.as_object_mut(), content.as_object()) {
        message.extend(content.clone());
    }
    message
}

async fn file(State(shared): State<Arc<Shared>>, Path((bot, path)): Path<(String, String)>) -> Response {
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let inner = shared.inner.lock().expect("fake state lock");
    match inner.files.values().find(|file| file.path == path) {
        Some(file) => (StatusCode::OK, file.bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Parameters from a JSON body, a multipart form, or an empty body.
async fn read_params(request: Request) -> Result<(Value, Vec<Upload>), String> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(request, &()).await.map_err(|error| error.body_text())?;
        let mut params = serde_json::Map::new();
        let mut uploads = Vec::new();
        while let Some(field) = form.next_field().await.map_err(|error| error.body_text())? {
            let name = field.name().unwrap_or_default().to_owned();
            let is_file = field.file_name().is_some();
            let bytes = field.bytes().await.map_err(|error| error.body_text())?;
            if is_file {
                params.insert(name.clone(), json!(format!("<upload {} bytes>", bytes.len())));
                uploads.push(Upload { field: name, bytes: bytes.to_vec() });
            } else {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let value = match serde_json::from_str::<Value>(&text) {
                    Ok(structured @ (Value::Object(_) | Value::Array(_))) => structured,
                    _ => Value::String(text),
                };
                params.insert(name, value);
            }
        }
        return Ok((Value::Object(params), uploads));
    }
    let body = Bytes::from_request(request, &()).await.map_err(|error| error.body_text())?;
    if body.is_empty() {
        return Ok((json!({}), Vec::new()));
    }
    let params = serde_json::from_slice(&body).map_err(|error| format!("Bad Request: {error}"))?;
    Ok((params, Vec::new()))
}

const METHODS: [&str; 11] = [
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "sendPhoto",
    "answerCallbackQuery",
    "editMessageReplyMarkup",
    "getFile",
    "logOut",
];

fn canonical_method_name(name: &str) -> String {
    METHODS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), |known| (*known).to_owned())
}

/// A number sent as a JSON number or as a string (multipart fields are strings).
fn number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str().and_then(|text| text.parse().ok()))
}
