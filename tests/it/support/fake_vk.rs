//! A fake VK that speaks the real HTTP protocol on 127.0.0.1 port 0: API methods at
//! `/method/<name>` (form-encoded, `access_token` checked), a Bots Long Poll server that can
//! answer `failed` 1, 2 and 3 and honours `wait`, an upload server for message photos, and
//! download URLs for customer photos.
//!
//! Like VK, `messages.send` drops a repeated `random_id`: it answers with the first message's
//! id and does not show the message again. Both the raw calls and the visible messages are
//! recorded, so tests can tell "sent twice" from "shown twice".
//!
//! [`FakeVk::start_with_faults`] adds a [`FaultPlan`] for the send calls ([`SEND_METHODS`]):
//! its 429 is VK's error 6, "Too many requests per second" (VK gives no `retry_after`).

use axum::Router;
use axum::extract::{ConnectInfo, Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::config::vk::{VkMode, VkSettings};
use tokio::sync::watch;

use super::faults::{Connection, CuttableListener, FaultKind, FaultPlan, Faults, SendCall};

/// The calls a fault plan may hit: what the bot sends, not how it reads.
pub const SEND_METHODS: [&str; 4] = [
    "messages.send",
    "messages.sendMessageEventAnswer",
    "photos.getMessagesUploadServer",
    "photos.saveMessagesPhoto",
];

pub const TOKEN: &str = "vk1.a.fake-community-token";
/// The community of the vksdk confirmation and secret cases.
pub const GROUP_ID: u64 = 123_456;
pub const CONFIRMATION: &str = "confirmation_123456";
pub const SECRET: &str = "secret_1234567890";
/// Long Poll positions start here, so a `ts` is never confused with an index.
const FIRST_TS: u64 = 1000;

/// One API request as it arrived (without the token).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    pub method: String,
    pub params: BTreeMap<String, String>,
}

/// A message the customer would see.
#[derive(Debug, Clone, PartialEq)]
pub struct VisibleMessage {
    pub id: i64,
    pub peer_id: i64,
    pub random_id: i32,
    pub text: String,
    pub keyboard: Option<Value>,
    pub attachment: Option<String>,
}

/// One `a_check` request.
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    pub key: String,
    pub ts: String,
    pub wait: String,
}

#[derive(Default)]
struct Fake {
    base_url: String,
    calls: Vec<ApiCall>,
    visible: Vec<VisibleMessage>,
    /// random_id -> message id, as VK remembers them.
    by_random_id: HashMap<(i64, i32), i64>,
    /// `messages.send` calls VK carried out but did not show, their `random_id` being known.
    repeats_dropped: usize,
    next_message_id: i64,
    /// Error codes to answer the next calls of a method with, in order.
    injected: HashMap<String, VecDeque<i64>>,
    /// How many of the next calls of a method are carried out but answered with HTTP 502.
    lost_answers: HashMap<String, usize>,
    key_serial: u32,
    events: Vec<Value>,
    poll_failures: VecDeque<u8>,
    polls: Vec<Poll>,
    /// `a_check` requests being answered right now, and the most there ever were at once:
    /// more than one means two processes polled the same community at the same time.
    polls_in_flight: usize,
    most_polls_at_once: usize,
    uploads: Vec<Vec<u8>>,
    files: HashMap<String, Vec<u8>>,
    /// The paths of `/files/` requests, served or not, in order.
    downloads: Vec<String>,
    /// The opt-in fault plan for send calls.
    plan: Option<Faults>,
}

impl Fake {
    fn key(&self) -> String {
        format!("key-{}", self.key_serial)
    }

    fn current_ts(&self) -> u64 {
        FIRST_TS + self.events.len() as u64
    }
}

#[derive(Clone)]
struct Shared {
    fake: Arc<Mutex<Fake>>,
    /// Bumped on every new event, to wake a waiting long poll.
    events: watch::Sender<usize>,
}

pub struct FakeVk {
    pub base_url: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeVk {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeVk {
    pub async fn start() -> FakeVk {
        FakeVk::start_with(None).await
    }

    /// Starts a fake whose send calls meet the faults of `plan`.
    pub async fn start_with_faults(plan: FaultPlan) -> FakeVk {
        FakeVk::start_with(Some(Faults::new(plan))).await
    }

    async fn start_with(plan: Option<Faults>) -> FakeVk {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let fake = Fake { base_url: base_url.clone(), next_message_id: 1, plan, ..Fake::default() };
        let (events, _) = watch::channel(0);
        let shared = Shared { fake: Arc::new(Mutex::new(fake)), events };
        let app = Router::new()
            .route("/method/{name}", post(method))
            .route("/longpoll", get(long_poll))
            .route("/upload/photo", post(upload))
            .route("/files/{*path}", get(file))
            .route("/moved/{*path}", get(moved))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let listener = CuttableListener::new(listener);
            axum::serve(listener, app.into_make_service_with_connect_info::<Connection>()).await.unwrap();
        });
        FakeVk { base_url, shared, server }
    }

    /// Settings pointing at this fake; long polls wait one second so tests never hang long.
    pub fn settings(&self, mode: VkMode) -> VkSettings {
        let mut settings = VkSettings::new(TOKEN, GROUP_ID, mode);
        settings.api_url = self.base_url.clone();
        settings.confirmation = Some(CONFIRMATION.to_owned());
        settings.secret = Some(switchboard::secret::Secret::new(SECRET));
        settings.longpoll_wait_secs = 1;
        settings
    }

    fn with<T>(&self, action: impl FnOnce(&mut Fake) -> T) -> T {
        action(&mut self.shared.fake.lock().unwrap())
    }

    /// The next call of `method` fails with VK error `code` (queued: call again to fail more).
    pub fn fail_next(&self, method: &str, code: i64) {
        self.with(|fake| fake.injected.entry(method.to_owned()).or_default().push_back(code));
    }

    /// The next call of `method` is carried out (a message is shown), but its answer is lost:
    /// the caller gets HTTP 502, as when a proxy gives up after VK accepted the request.
    pub fn lose_next_answer(&self, method: &str) {
        self.with(|fake| *fake.lost_answers.entry(method.to_owned()).or_default() += 1);
    }

    /// The next `a_check` answers `{"failed": failure}` (2 and 3 also expire the key); a
    /// request already waiting for events gets it at once.
    pub fn fail_next_poll(&self, failure: u8) {
        self.with(|fake| fake.poll_failures.push_back(failure));
        self.shared.events.send_modify(|_| {});
    }

    /// Queues an event for the Long Poll server.
    pub fn push_event(&self, event: Value) {
        let count = self.with(|fake| {
            fake.events.push(event);
            fake.events.len()
        });
        self.shared.events.send_replace(count);
    }

    /// Serves `bytes` at `/files/<path>` and returns the URL.
    pub fn serve_file(&self, path: &str, bytes: Vec<u8>) -> String {
        self.with(|fake| fake.files.insert(path.to_owned(), bytes));
        format!("{}/files/{path}", self.base_url)
    }

    /// A URL on this fake that redirects (302) to `target`.
    pub fn redirect_to(&self, target: &str) -> String {
        let encoded: String = target.bytes().map(|byte| format!("{byte:02x}")).collect();
        format!("{}/moved/{encoded}", self.base_url)
    }

    /// The paths asked for under `/files/`, in order.
    pub fn downloads(&self) -> Vec<String> {
        self.with(|fake| fake.downloads.clone())
    }

    pub fn calls(&self) -> Vec<ApiCall> {
        self.with(|fake| fake.calls.clone())
    }

    pub fn calls_of(&self, method: &str) -> Vec<ApiCall> {
        self.calls().into_iter().filter(|call| call.method == method).collect()
    }

    /// Every send call the fault plan saw, with the fault it met (empty without a plan).
    pub fn send_calls(&self) -> Vec<SendCall> {
        self.with(|fake| fake.plan.as_ref().map(Faults::calls).unwrap_or_default())
    }

    /// How many `messages.send` calls repeated a shown message's `random_id` (and were dropped).
    pub fn dropped_repeats(&self) -> usize {
        self.with(|fake| fake.repeats_dropped)
    }

    pub fn visible(&self) -> Vec<VisibleMessage> {
        self.with(|fake| fake.visible.clone())
    }

    pub fn polls(&self) -> Vec<Poll> {
        self.with(|fake| fake.polls.clone())
    }

    pub fn uploads(&self) -> Vec<Vec<u8>> {
        self.with(|fake| fake.uploads.clone())
    }

    /// The most `a_check` requests that were ever being answered at the same time.
    pub fn most_polls_at_once(&self) -> usize {
        self.with(|fake| fake.most_polls_at_once)
    }

    /// Scripted `failed` answers not yet given.
    pub fn pending_poll_failures(&self) -> usize {
        self.with(|fake| fake.poll_failures.len())
    }

    /// The position a poller reaches once it has read every queued event.
    pub fn current_ts(&self) -> String {
        self.with(|fake| fake.current_ts().to_string())
    }
}

fn vk_error(method: &str, code: i64) -> Value {
    let message = match code {
        5 => "User authorization failed: invalid access_token (4).",
        6 => "Too many requests per second",
        9 => "Flood control",
        10 => "Internal server error",
        901 => "Can't send messages for users without permission",
        _ => "Unknown error",
    };
    json!({"error": {
        "error_code": code,
        "error_msg": message,
        "request_params": [{"key": "method", "value": method}, {"key": "v", "value": "5.199"}],
    }})
}

async fn method(
    State(shared): State<Shared>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    Path(name): Path<String>,
    Form(params): Form<BTreeMap<String, String>>,
) -> Response {
    let planned = {
        let mut fake = shared.fake.lock().unwrap();
        let peer = params.get("peer_id").and_then(|peer| peer.parse().ok());
        fake.plan.as_mut().filter(|_| SEND_METHODS.contains(&name.as_str())).map(|plan| {
            let (index, fault) = plan.on_send(&name, peer);
            (index, fault, plan.plan())
        })
    };
    let Some((index, Some(fault), plan)) = planned else { return carry_out(&shared, name, params) };
    if fault.applied {
        // Carried out, then the answer is lost.
        let response = carry_out(&shared, name, params);
        match fault.kind {
            FaultKind::Stall => tokio::time::sleep(plan.stall).await,
            _ => connection.cut(),
        }
        return response;
    }
    let mut unrecorded = params;
    unrecorded.remove("access_token");
    shared.fake.lock().unwrap().calls.push(ApiCall { method: name.clone(), params: unrecorded });
    match fault.kind {
        FaultKind::TooManyRequests => {
            let refusal = axum::Json(vk_error(&name, 6)).into_response();
            if let Some(plan) = shared.fake.lock().unwrap().plan.as_mut() {
                plan.refused(index);
            }
            refusal
        }
        FaultKind::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
        FaultKind::Stall => {
            tokio::time::sleep(plan.stall).await;
            (StatusCode::GATEWAY_TIMEOUT, "too late").into_response()
        }
        FaultKind::DroppedConnection => {
            connection.cut();
            (StatusCode::INTERNAL_SERVER_ERROR, "cut").into_response()
        }
    }
}

/// An API method as VK carries it out.
fn carry_out(shared: &Shared, name: String, mut params: BTreeMap<String, String>) -> Response {
    let token = params.remove("access_token");
    let mut fake = shared.fake.lock().unwrap();
    fake.calls.push(ApiCall { method: name.clone(), params: params.clone() });
    if token.as_deref() != Some(TOKEN) {
        return axum::Json(vk_error(&name, 5)).into_response();
    }
    if params.get("v").map(String::as_str) != Some("5.199") {
        return axum::Json(
            json!({"error": {"error_code": 8, "error_msg": "Invalid request: v is required"}}),
        )
        .into_response();
    }
    if let Some(code) = fake.injected.get_mut(&name).and_then(VecDeque::pop_front) {
        return axum::Json(vk_error(&name, code)).into_response();
    }
    let number = |field: &str| params.get(field).and_then(|value| value.parse::<i64>().ok());
    let response = match name.as_str() {
        "groups.getLongPollServer" => {
            if number("group_id") != Some(GROUP_ID as i64) {
                return axum::Json(vk_error(&name, 100)).into_response();
            }
            json!({"key": fake.key(), "server": format!("{}/longpoll", fake.base_url), "ts": fake.current_ts().to_string()})
        }
        "messages.send" => {
            let (Some(peer_id), Some(random_id)) = (number("peer_id"), number("random_id")) else {
                return axum::Json(vk_error(&name, 100)).into_response();
            };
            let random_id = i32::try_from(random_id).expect("random_id must fit int32");
            if let Some(id) = fake.by_random_id.get(&(peer_id, random_id)).copied().filter(|_| random_id != 0)
            {
                fake.repeats_dropped += 1;
                json!(id)
            } else {
                let id = fake.next_message_id;
                fake.next_message_id += 1;
                fake.by_random_id.insert((peer_id, random_id), id);
                fake.visible.push(VisibleMessage {
                    id,
                    peer_id,
                    random_id,
                    text: params.get("message").cloned().unwrap_or_default(),
                    keyboard: params.get("keyboard").map(|keyboard| serde_json::from_str(keyboard).unwrap()),
                    attachment: params.get("attachment").cloned(),
                });
                json!(id)
            }
        }
        "messages.sendMessageEventAnswer" => json!(1),
        "photos.getMessagesUploadServer" => json!({
            "album_id": -64,
            "upload_url": format!("{}/upload/photo", fake.base_url),
            "user_id": 0,
            "group_id": GROUP_ID,
        }),
        "photos.saveMessagesPhoto" => {
            let photo: Value =
                params.get("photo").and_then(|photo| serde_json::from_str(photo).ok()).unwrap_or_default();
            let upload = photo[0]["upload"].as_u64();
            let hash_ok = upload.is_some_and(|upload| params.get("hash") == Some(&format!("hash{upload}")));
            match upload {
                Some(upload) if hash_ok && params.get("server").map(String::as_str) == Some("777") => {
                    json!([{
                        "id": 500 + upload,
                        "owner_id": -(GROUP_ID as i64),
                        "album_id": -64,
                        "access_key": format!("k{upload}"),
                    }])
                }
                _ => return axum::Json(vk_error(&name, 121)).into_response(),
            }
        }
        _ => return axum::Json(vk_error(&name, 3)).into_response(),
    };
    if let Some(lost) = fake.lost_answers.get_mut(&name).filter(|lost| **lost > 0) {
        *lost -= 1;
        return (StatusCode::BAD_GATEWAY, "upstream timed out").into_response();
    }
    axum::Json(json!({ "response": response })).into_response()
}

async fn long_poll(State(shared): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Response {
    let key = query.get("key").cloned().unwrap_or_default();
    let ts = query.get("ts").cloned().unwrap_or_default();
    let wait = query.get("wait").cloned().unwrap_or_default();
    if query.get("act").map(String::as_str) != Some("a_check") {
        return (StatusCode::BAD_REQUEST, "act=a_check expected").into_response();
    }
    let _poll = PollInFlight::start(&shared.fake);
    let wait_secs: u64 = wait.parse().unwrap_or(25).min(90);
    // Subscribe before looking, so an event pushed in between still wakes us.
    let mut changes = shared.events.subscribe();
    {
        let mut fake = shared.fake.lock().unwrap();
        fake.polls.push(Poll { key: key.clone(), ts: ts.clone(), wait });
        if key != fake.key() {
            return axum::Json(json!({"failed": 2})).into_response();
        }
        if let Some(failed) = scripted_failure(&mut fake) {
            return failed;
        }
    }
    let Ok(requested) = ts.parse::<u64>() else {
        return axum::Json(json!({"failed": 1, "ts": shared.fake.lock().unwrap().current_ts()}))
            .into_response();
    };
    let answer = |fake: &Fake| {
        let from = requested.saturating_sub(FIRST_TS) as usize;
        (from < fake.events.len())
            .then(|| json!({"ts": fake.current_ts().to_string(), "updates": fake.events[from..].to_vec()}))
    };
    if let Some(found) = answer(&shared.fake.lock().unwrap()) {
        return axum::Json(found).into_response();
    }
    // Nothing new yet: hold the request for up to `wait` seconds, like VK. A failure scripted
    // meanwhile ends the wait too, as a key that expires under a waiting request does.
    let _ = tokio::time::timeout(Duration::from_secs(wait_secs), changes.changed()).await;
    let mut fake = shared.fake.lock().unwrap();
    if answer(&fake).is_none()
        && let Some(failed) = scripted_failure(&mut fake)
    {
        return failed;
    }
    let found = answer(&fake).unwrap_or_else(|| json!({"ts": fake.current_ts().to_string(), "updates": []}));
    axum::Json(found).into_response()
}

/// Counts one `a_check` request for as long as it is being answered. A poller that dies
/// mid-request closes its connection, the server drops the handler, and the count goes down.
struct PollInFlight<'a> {
    fake: &'a Mutex<Fake>,
}

impl<'a> PollInFlight<'a> {
    fn start(fake: &'a Mutex<Fake>) -> PollInFlight<'a> {
        let mut state = fake.lock().unwrap();
        state.polls_in_flight += 1;
        state.most_polls_at_once = state.most_polls_at_once.max(state.polls_in_flight);
        PollInFlight { fake }
    }
}

impl Drop for PollInFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.fake.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.polls_in_flight -= 1;
    }
}

/// The next scripted `failed` answer, if any (2 and 3 also expire the key).
fn scripted_failure(fake: &mut Fake) -> Option<Response> {
    let failure = fake.poll_failures.pop_front()?;
    if failure != 1 {
        fake.key_serial += 1;
    }
    Some(
        axum::Json(match failure {
            1 => json!({"failed": 1, "ts": fake.current_ts()}),
            other => json!({"failed": other}),
        })
        .into_response(),
    )
}

async fn upload(State(shared): State<Shared>, mut multipart: Multipart) -> Response {
    let mut photo = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("photo") && field.file_name().is_some() {
            photo = Some(field.bytes().await.unwrap().to_vec());
        }
    }
    let mut fake = shared.fake.lock().unwrap();
    let Some(photo) = photo else {
        return axum::Json(json!({"server": 777, "photo": "[]", "hash": ""})).into_response();
    };
    fake.uploads.push(photo);
    let upload = fake.uploads.len();
    axum::Json(json!({
        "server": 777,
        "photo": json!([{"upload": upload}]).to_string(),
        "hash": format!("hash{upload}"),
    }))
    .into_response()
}

async fn file(State(shared): State<Shared>, Path(path): Path<String>) -> Response {
    let mut fake = shared.fake.lock().unwrap();
    fake.downloads.push(path.clone());
    match fake.files.get(&path) {
        Some(bytes) => (StatusCode::OK, bytes.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// `/moved/<hex of a URL>`: a redirect there.
async fn moved(Path(encoded): Path<String>) -> Response {
    let bytes: Option<Vec<u8>> = (0..encoded.len())
        .step_by(2)
        .map(|at| encoded.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect();
    match bytes.and_then(|bytes| String::from_utf8(bytes).ok()) {
        Some(target) => (StatusCode::FOUND, [(axum::http::header::LOCATION, target)]).into_response(),
        None => (StatusCode::BAD_REQUEST, "not a hex-encoded URL").into_response(),
    }
}

/// A real PNG of the given dimensions: different dimensions give different stored files.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    super::images::png(width, height, 0)
}
