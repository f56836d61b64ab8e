//! A fake Telegram Bot API, lean enough to stay out of the measurement: updates are JSON
//! strings built once, replies are routed straight to the customer who waits for them, and
//! every answer is written with `format!` instead of a JSON tree.
//!
//! It serves `POST /bot<token>/<method>` with JSON, urlencoded or multipart bodies (teloxide
//! sends JSON, aiogram sends forms), holds `getUpdates` until updates are there (long
//! polling), and in webhook mode posts each update to the URL given to `setWebhook`, with
//! the secret header and at most `max_connections` requests at once, as Telegram does.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// A message the bot sent to a customer, as the customer sees it.
#[derive(Debug, Clone)]
pub struct BotMessage {
    pub message_id: i64,
    pub text: String,
    /// Inline buttons, row by row flattened: (label, callback data).
    pub buttons: Vec<(String, String)>,
    /// When the fake received the call.
    pub at: Instant,
}

#[cfg(test)]
impl BotMessage {
    /// A message with these button labels (each button's data is `data:<label>`), sent now.
    pub fn for_test(text: &str, buttons: &[&str]) -> BotMessage {
        BotMessage {
            message_id: 1,
            text: text.to_owned(),
            buttons: buttons.iter().map(|label| ((*label).to_owned(), format!("data:{label}"))).collect(),
            at: Instant::now(),
        }
    }
}

/// Calls counted by method, for the report.
#[derive(Default)]
pub struct Counters {
    pub get_updates: AtomicU64,
    pub send_message: AtomicU64,
    pub answer_callback: AtomicU64,
    pub edit_markup: AtomicU64,
    pub other: AtomicU64,
    /// Messages to chats nobody waits for (a bot answering twice, or after a customer left).
    pub unrouted: AtomicU64,
    pub webhook_posts: AtomicU64,
    pub webhook_failures: AtomicU64,
}

#[derive(Default)]
struct UpdateQueue {
    /// Updates not yet confirmed by an `offset`: (update_id, JSON).
    pending: VecDeque<(i64, Arc<str>)>,
}

struct Webhook {
    url: String,
    secret: Option<String>,
}

/// Timeline entries: (microseconds since start, event, chat or count).
type Trace = Vec<(u64, &'static str, i64)>;

pub struct FakeApi {
    token: String,
    bot_id: i64,
    next_update_id: AtomicI64,
    next_message_id: AtomicI64,
    queue: Mutex<UpdateQueue>,
    updates_ready: Notify,
    chats: RwLock<HashMap<i64, mpsc::UnboundedSender<BotMessage>>>,
    webhook: Mutex<Option<Webhook>>,
    webhook_out: Mutex<Option<mpsc::UnboundedSender<Arc<str>>>>,
    /// Set by the first `getUpdates` (polling) or `setWebhook` (webhook): the bot is up.
    bot_ready: AtomicBool,
    ready: Notify,
    pub counters: Counters,
    /// With `--trace`: (microseconds since start, event, chat or count), for finding where a
    /// bot's time goes.
    trace: Option<Mutex<Trace>>,
    started: Instant,
}

impl FakeApi {
    pub fn new(token: &str, trace: bool) -> anyhow::Result<Arc<FakeApi>> {
        let bot_id = token
            .split(':')
            .next()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("the token must start with the bot id"))?;
        Ok(Arc::new(FakeApi {
            token: token.to_owned(),
            bot_id,
            next_update_id: AtomicI64::new(1),
            next_message_id: AtomicI64::new(1),
            queue: Mutex::new(UpdateQueue::default()),
            updates_ready: Notify::new(),
            chats: RwLock::new(HashMap::new()),
            webhook: Mutex::new(None),
            webhook_out: Mutex::new(None),
            bot_ready: AtomicBool::new(false),
            ready: Notify::new(),
            counters: Counters::default(),
            trace: trace.then(|| Mutex::new(Vec::new())),
            started: Instant::now(),
        }))
    }

    /// Serves on `listener` until the process ends.
    pub fn serve(self: &Arc<Self>, listener: tokio::net::TcpListener) {
        let app = Router::new().route("/{bot}/{method}", any(method)).with_state(Arc::clone(self));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("loadgen: the fake Bot API stopped: {error}");
            }
        });
    }

    pub fn trace(&self, event: &'static str, value: i64) {
        if let Some(trace) = &self.trace {
            let micros = self.started.elapsed().as_micros() as u64;
            trace.lock().expect("trace lock").push((micros, event, value));
        }
    }

    /// Writes the trace as `micros event value` lines.
    pub fn write_trace(&self, path: &str) -> std::io::Result<()> {
        use std::io::Write;
        let Some(trace) = &self.trace else { return Ok(()) };
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        for (micros, event, value) in trace.lock().expect("trace lock").iter() {
            writeln!(file, "{micros} {event} {value}")?;
        }
        file.flush()
    }

    pub fn bot_id(&self) -> i64 {
        self.bot_id
    }

    /// Waits until the bot polled or registered its webhook.
    pub async fn wait_ready(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.ready.notified();
            if self.bot_ready.load(Ordering::Acquire) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                anyhow::bail!("the bot did not call getUpdates or setWebhook within {limit:?}");
            }
        }
    }

    fn mark_ready(&self) {
        if !self.bot_ready.swap(true, Ordering::AcqRel) {
            self.ready.notify_waiters();
        }
    }

    /// Replies to `chat` go to `sender` from now on.
    pub fn register(&self, chat: i64, sender: mpsc::UnboundedSender<BotMessage>) {
        self.chats.write().expect("chats lock").insert(chat, sender);
    }

    pub fn unregister(&self, chat: i64) {
        self.chats.write().expect("chats lock").remove(&chat);
    }

    pub fn next_message_id(&self) -> i64 {
        self.next_message_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes an update available: to `getUpdates`, or posted to the webhook when one is set.
    /// `build` gets the update's id. Ids are handed out under the queue's lock, so the queue
    /// is in id order as Telegram's is: an `offset` then confirms exactly the updates before it.
    pub fn publish(&self, build: impl FnOnce(i64) -> String) {
        let webhook = self.webhook_out.lock().expect("webhook lock").clone();
        let mut queue = self.queue.lock().expect("queue lock");
        let update_id = self.next_update_id.fetch_add(1, Ordering::Relaxed);
        self.trace("publish", update_id);
        let json: Arc<str> = build(update_id).into();
        if let Some(out) = webhook {
            drop(queue);
            // The receiving workers live as long as the process.
            let _ = out.send(json);
            return;
        }
        queue.pending.push_back((update_id, json));
        drop(queue);
        self.updates_ready.notify_waiters();
    }

    async fn get_updates(&self, params: &Map<String, Value>) -> String {
        self.counters.get_updates.fetch_add(1, Ordering::Relaxed);
        self.trace("poll_in", 0);
        self.mark_ready();
        let offset = int(params, "offset").unwrap_or(0);
        let limit = int(params, "limit").unwrap_or(100).clamp(1, 100) as usize;
        let timeout = Duration::from_secs(int(params, "timeout").unwrap_or(0).clamp(0, 50) as u64);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.updates_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut queue = self.queue.lock().expect("queue lock");
                while queue.pending.front().is_some_and(|(id, _)| *id < offset) {
                    queue.pending.pop_front();
                }
                if !queue.pending.is_empty() {
                    let mut body = String::from("{\"ok\":true,\"result\":[");
                    for (index, (_, update)) in queue.pending.iter().take(limit).enumerate() {
                        if index > 0 {
                            body.push(',');
                        }
                        body.push_str(update);
                    }
                    body.push_str("]}");
                    self.trace("poll_out", queue.pending.len().min(limit) as i64);
                    return body;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return "{\"ok\":true,\"result\":[]}".to_owned();
            }
        }
    }

    fn send_message(&self, params: &Map<String, Value>, photo: bool) -> Result<String, ApiError> {
        self.counters.send_message.fetch_add(1, Ordering::Relaxed);
        let at = Instant::now();
        let chat = int(params, "chat_id").ok_or(ApiError::bad_request("chat_id is required"))?;
        self.trace("send", chat);
        let text = match (photo, params.get("text").or(params.get("caption"))) {
            (_, Some(Value::String(text))) => text.clone(),
            (true, _) => String::new(),
            (false, _) => return Err(ApiError::bad_request("message text is empty")),
        };
        let buttons = params.get("reply_markup").map(inline_buttons).unwrap_or_default();
        let message_id = self.next_message_id();
        let body = self.message_json(chat, message_id, &text);
        let message = BotMessage { message_id, text, buttons, at };
        let delivered = match self.chats.read().expect("chats lock").get(&chat) {
            Some(sender) => sender.send(message).is_ok(),
            None => false,
        };
        if !delivered {
            self.counters.unrouted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(body)
    }

    fn message_json(&self, chat: i64, message_id: i64, text: &str) -> String {
        format!(
            "{{\"ok\":true,\"result\":{{\"message_id\":{message_id},\"from\":{{\"id\":{bot},\"is_bot\":true,\
             \"first_name\":\"Bench\",\"username\":\"bench_bot\"}},\"chat\":{{\"id\":{chat},\"first_name\":\
             \"Customer\",\"type\":\"private\"}},\"date\":{date},\"text\":{text}}}}}",
            bot = self.bot_id,
            date = unix_now(),
            text = serde_json::to_string(text).expect("a string serializes"),
        )
    }

    fn set_webhook(self: &Arc<Self>, params: &Map<String, Value>) -> Result<String, ApiError> {
        let url = match params.get("url") {
            Some(Value::String(url)) if !url.is_empty() => url.clone(),
            _ => return Err(ApiError::bad_request("url is required")),
        };
        let secret = match params.get("secret_token") {
            Some(Value::String(secret)) => Some(secret.clone()),
            _ => None,
        };
        let connections = int(params, "max_connections").unwrap_or(40).clamp(1, 100) as usize;
        *self.webhook.lock().expect("webhook lock") = Some(Webhook { url, secret });
        let mut out = self.webhook_out.lock().expect("webhook lock");
        if out.is_none() {
            let (sender, receiver) = mpsc::unbounded_channel();
            let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(connections)
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(|error| ApiError::bad_request(&error.to_string()))?;
            for _ in 0..connections {
                tokio::spawn(webhook_worker(Arc::clone(self), Arc::clone(&receiver), client.clone()));
            }
            // Anything queued for getUpdates before the webhook was set goes to the webhook.
            for (_, update) in self.queue.lock().expect("queue lock").pending.drain(..) {
                let _ = sender.send(update);
            }
            *out = Some(sender);
        }
        drop(out);
        self.mark_ready();
        Ok(TRUE.to_owned())
    }

    fn webhook_target(&self) -> Option<(String, Option<String>)> {
        self.webhook
            .lock()
            .expect("webhook lock")
            .as_ref()
            .map(|hook| (hook.url.clone(), hook.secret.clone()))
    }

    fn get_me(&self) -> String {
        format!(
            "{{\"ok\":true,\"result\":{{\"id\":{},\"is_bot\":true,\"first_name\":\"Bench\",\"username\":\
             \"bench_bot\",\"can_join_groups\":false,\"can_read_all_group_messages\":false,\
             \"supports_inline_queries\":false,\"can_connect_to_business\":false,\"has_main_web_app\":false}}}}",
            self.bot_id
        )
    }
}

const TRUE: &str = "{\"ok\":true,\"result\":true}";

/// Posts updates to the webhook, one at a time per worker; a refused update is posted again.
async fn webhook_worker(
    api: Arc<FakeApi>,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Arc<str>>>>,
    client: reqwest::Client,
) {
    loop {
        let Some(update) = queue.lock().await.recv().await else { return };
        let Some((url, secret)) = api.webhook_target() else { return };
        for attempt in 0..100u32 {
            let mut request = client
                .post(&url)
                .header(header::CONTENT_TYPE, "application/json")
                .body(update.as_bytes().to_vec());
            if let Some(secret) = &secret {
                request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
            }
            api.counters.webhook_posts.fetch_add(1, Ordering::Relaxed);
            match request.send().await {
                Ok(response) if response.status().is_success() => break,
                _ => {
                    api.counters.webhook_failures.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt.min(20) + 1))).await;
                }
            }
        }
    }
}

struct ApiError {
    code: u16,
    description: String,
}

impl ApiError {
    fn bad_request(why: &str) -> ApiError {
        ApiError { code: 400, description: format!("Bad Request: {why}") }
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn method(
    State(api): State<Arc<FakeApi>>,
    Path((bot, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    if bot.strip_prefix("bot") != Some(api.token.as_str()) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}".to_owned(),
        );
    }
    let params = match read_params(request).await {
        Ok(params) => params,
        Err(why) => return error(ApiError::bad_request(&why)),
    };
    // Telegram reads method names without regard to case; teloxide sends `GetMe`.
    let result = match name.to_ascii_lowercase().as_str() {
        "getupdates" => Ok(api.get_updates(&params).await),
        "sendmessage" => api.send_message(&params, false),
        "sendphoto" => api.send_message(&params, true),
        "answercallbackquery" => {
            api.counters.answer_callback.fetch_add(1, Ordering::Relaxed);
            Ok(TRUE.to_owned())
        }
        "editmessagereplymarkup" | "editmessagetext" => {
            api.counters.edit_markup.fetch_add(1, Ordering::Relaxed);
            let chat = int(&params, "chat_id").unwrap_or(0);
            let message_id = int(&params, "message_id").unwrap_or(0);
            Ok(api.message_json(chat, message_id, ""))
        }
        "getme" => Ok(api.get_me()),
        "setwebhook" => api.set_webhook(&params),
        "getwebhookinfo" => Ok(
            "{\"ok\":true,\"result\":{\"url\":\"\",\"has_custom_certificate\":false,\"pending_update_count\":0}}"
                .to_owned(),
        ),
        _ => {
            // deleteWebhook, setMyCommands, close, ...: accepted and counted.
            api.counters.other.fetch_add(1, Ordering::Relaxed);
            Ok(TRUE.to_owned())
        }
    };
    match result {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(problem) => error(problem),
    }
}

fn error(problem: ApiError) -> Response {
    let body = format!(
        "{{\"ok\":false,\"error_code\":{},\"description\":{}}}",
        problem.code,
        serde_json::to_string(&problem.description).expect("a string serializes")
    );
    json_response(StatusCode::from_u16(problem.code).unwrap_or(StatusCode::BAD_REQUEST), body)
}

/// A method's parameters from a JSON, urlencoded or multipart body (or the query string).
async fn read_params(request: Request) -> Result<Map<String, Value>, String> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let query = request.uri().query().map(str::to_owned);
    let mut params = Map::new();
    if let Some(query) = query {
        form_into(&mut params, query.as_bytes())?;
    }
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &()).await.map_err(|error| error.to_string())?;
        while let Some(field) = multipart.next_field().await.map_err(|error| error.to_string())? {
            let name = field.name().unwrap_or_default().to_owned();
            if field.file_name().is_some() {
                field.bytes().await.map_err(|error| error.to_string())?;
                continue;
            }
            let text = field.text().await.map_err(|error| error.to_string())?;
            params.insert(name, Value::String(text));
        }
        return Ok(params);
    }
    let body = Bytes::from_request(request, &()).await.map_err(|error| error.to_string())?;
    if body.is_empty() {
        return Ok(params);
    }
    if content_type.starts_with("application/json") || (content_type.is_empty() && body.starts_with(b"{")) {
        let parsed: Map<String, Value> = serde_json::from_slice(&body).map_err(|error| error.to_string())?;
        params.extend(parsed);
    } else {
        form_into(&mut params, &body)?;
    }
    Ok(params)
}

fn form_into(params: &mut Map<String, Value>, body: &[u8]) -> Result<(), String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|error| error.to_string())?;
    params.extend(pairs.into_iter().map(|(key, value)| (key, Value::String(value))));
    Ok(())
}

/// An integer parameter, sent as a number (JSON) or as text (forms).
fn int(params: &Map<String, Value>, key: &str) -> Option<i64> {
    match params.get(key)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// The inline keyboard of a `reply_markup`, given as an object (JSON) or as JSON text (forms).
fn inline_buttons(markup: &Value) -> Vec<(String, String)> {
    let parsed;
    let markup = match markup {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                parsed = value;
                &parsed
            }
            Err(_) => return Vec::new(),
        },
        other => other,
    };
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|button| {
            let label = button["text"].as_str()?;
            let data = button["callback_data"].as_str()?;
            Some((label.to_owned(), data.to_owned()))
        })
        .collect()
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}
