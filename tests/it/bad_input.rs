//! The bad-input corpus: what strangers, broken clients and future platform versions may post
//! to the routes the world can reach, sent to the real app (`app::start_with` with the Telegram
//! webhook, the VK Callback API and the web chat, talking to the fake platforms).
//!
//! Every case is named. Each must get its own 4xx, and afterwards the database (contacts,
//! conversations, messages, processed events, outbox, tickets and the rest of the
//! conversation tables) and the media folder must be exactly as before. Three inputs are
//! answered differently on purpose, and the test says why where they are sent:
//! - an event type we do not handle, well formed and properly signed, is acknowledged (200)
//!   and skipped without even a processed-event row;
//! - a Telegram message whose content teloxide cannot place (a number where the text belongs)
//!   is acknowledged and answered politely, the way a content kind from a newer Bot API is;
//! - a web chat photo that is not an image is refused with 415 but still told to the dialog,
//!   so the bot explains the problem in the customer's language.
//!
//! The last two record the customer's message and the bot's answer, nothing else: no ticket
//! and no file.
//!
//! Afterwards a normal message on each route is answered: the process is still up.
//!
//! Requests go through a minimal HTTP/1.1 client on a plain socket: it can send bytes that are
//! not text, and it reads the answer while a 10 MB body is still being written (the server
//! answers 413 and closes without reading the rest).
//!
//! Everything runs on a fresh SQLite file; with `SWITCHBOARD_TEST_POSTGRES` set the whole
//! corpus runs on PostgreSQL too.

use crate::support::engine_fixtures::TestDb;
use crate::support::fake_telegram::FakeTelegram;
use crate::support::fake_vk::{self, FakeVk};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use switchboard::app::Running;
use switchboard::channels::telegram::webhook;
use switchboard::channels::vk::callback;
use switchboard::channels::webchat::VISITOR_COOKIE;
use switchboard::config::{Overrides, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
const TELEGRAM_SECRET: &str = "bad-input_webhook-secret";
/// The media limit of this app, in megabytes: small, so a 10 MB upload is over every limit.
const MEDIA_MAX_MB: &str = "5";
const TEN_MB: usize = 10 * 1024 * 1024;
/// How long any single outcome may take before the test gives up.
const DEADLINE: Duration = Duration::from_secs(60);

/// The conversation tables: none of them may change when bad input is refused.
const TABLES: [&str; 11] = [
    "contacts",
    "conversations",
    "messages",
    "processed_events",
    "outbox",
    "tickets",
    "ticket_attachments",
    "ticket_notes",
    "faq_outcomes",
    "feedback",
    "cursors",
];

// ---------------------------------------------------------------------------------------------
// Requests on a plain socket

/// One HTTP request, with header values as raw bytes.
struct Post {
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
}

impl Post {
    fn new(path: &'static str, body: impl Into<Vec<u8>>) -> Post {
        Post { method: "POST", path, headers: Vec::new(), body: body.into() }
    }

    fn get(path: &'static str) -> Post {
        Post { method: "GET", ..Post::new(path, Vec::new()) }
    }

    fn header(mut self, name: &'static str, value: impl AsRef<[u8]>) -> Post {
        self.headers.push((name, value.as_ref().to_vec()));
        self
    }

    fn json_type(self) -> Post {
        self.header("Content-Type", "application/json")
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The `error` code of a JSON refusal.
    fn error_code(&self) -> String {
        let value: Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("a JSON refusal, got {} {:?}", self.status, self.body));
        value["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends a request and reads the answer. The body is written by its own task, so an answer that
/// comes before the body is fully sent is still read; write errors after that are expected.
async fn send(address: SocketAddr, post: Post) -> Answer {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(address).await.expect("connect to the app");
        let (mut reader, mut writer) = stream.into_split();
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
            post.method,
            post.path,
            post.body.len()
        )
        .into_bytes();
        for (name, value) in &post.headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let body = post.body;
        let writing = tokio::spawn(async move {
            if writer.write_all(&head).await.is_ok() && writer.write_all(&body).await.is_ok() {
                let _ = writer.flush().await;
            }
            writer
        });
        let mut received = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        // Read until the server closes; a reset after the answer (the unread rest of a large
        // body) ends the read but keeps what arrived.
        while let Ok(read) = reader.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            received.extend_from_slice(&buffer[..read]);
        }
        writing.abort();
        received
    };
    let received = tokio::time::timeout(DEADLINE, exchange).await.expect("the app answers");
    parse_answer(&received)
}

fn parse_answer(received: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(received);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("an HTTP answer, got {text:?}"));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line, got {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    assert!(
        !headers.iter().any(|(name, value)| name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")),
        "this client reads only answers with a Content-Length"
    );
    Answer { status, headers, body: body.to_owned() }
}

// ---------------------------------------------------------------------------------------------
// The app and what it stores

/// Row counts of the conversation tables and the files in the media folder.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    rows: BTreeMap<&'static str, i64>,
    media: Vec<String>,
}

impl Snapshot {
    fn rows(&self, table: &str) -> i64 {
        self.rows[table]
    }
}

/// For the inputs that are answered in the dialog on purpose: no ticket, note, rating or
/// cursor changes, and no file is stored.
fn assert_unchanged(before: &Snapshot, after: &Snapshot, case: &str) {
    for table in ["tickets", "ticket_attachments", "ticket_notes", "feedback", "cursors"] {
        assert_eq!(after.rows(table), before.rows(table), "{case}: {table}");
    }
    assert_eq!(after.media, before.media, "{case}: the media folder");
}

/// Counts rows on whichever database the app uses.
enum Counter {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Counter {
    async fn count(&self, table: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        match self {
            Counter::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Counter::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap_or_else(|error| panic!("count {table}: {error}"))
    }

    async fn close(&self) {
        match self {
            Counter::Sqlite(pool) => pool.close().await,
            Counter::Postgres(pool) => pool.close().await,
        }
    }
}

/// The real app with the Telegram webhook, the VK Callback API and the web chat.
struct App {
    telegram: FakeTelegram,
    vk: FakeVk,
    db: TestDb,
    media_dir: tempfile::TempDir,
    running: Running,
    counter: Counter,
    next_update_id: std::sync::atomic::AtomicU32,
}

impl App {
    async fn start(db: TestDb) -> App {
        let telegram = FakeTelegram::start(TOKEN).await;
        let vk = FakeVk::start().await;
        let media_dir = tempfile::tempdir().expect("a media folder");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the app");
        let webhook_url = format!("http://{}{}", listener.local_addr().unwrap(), webhook::PATH);
        let api_url = telegram.api_url();
        let media = media_dir.path().display().to_string();
        let group_id = fake_vk::GROUP_ID.to_string();
        let env: HashMap<&str, &str> = HashMap::from([
            ("SWITCHBOARD_DATABASE_URL", db.url.as_str()),
            ("SWITCHBOARD_MEDIA_DIR", media.as_str()),
            ("SWITCHBOARD_MEDIA_MAX_MB", MEDIA_MAX_MB),
            ("SWITCHBOARD_TELEGRAM_TOKEN", TOKEN),
            ("SWITCHBOARD_TELEGRAM_API_URL", api_url.as_str()),
            ("SWITCHBOARD_TELEGRAM_WEBHOOK_URL", webhook_url.as_str()),
            ("SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET", TELEGRAM_SECRET),
            ("SWITCHBOARD_VK_TOKEN", fake_vk::TOKEN),
            ("SWITCHBOARD_VK_GROUP_ID", group_id.as_str()),
            ("SWITCHBOARD_VK_MODE", "callback"),
            ("SWITCHBOARD_VK_CONFIRMATION", fake_vk::CONFIRMATION),
            ("SWITCHBOARD_VK_SECRET", fake_vk::SECRET),
            ("SWITCHBOARD_VK_API_URL", vk.base_url.as_str()),
        ]);
        let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
        let running = crate::support::quick_app::start(settings, listener).await;
        let counter = if db.url.starts_with("sqlite:") {
            Counter::Sqlite(sqlx::SqlitePool::connect(&db.url).await.expect("open the SQLite file"))
        } else {
            Counter::Postgres(sqlx::PgPool::connect(&db.url).await.expect("connect to PostgreSQL"))
        };
        App {
            telegram,
            vk,
            db,
            media_dir,
            running,
            counter,
            next_update_id: std::sync::atomic::AtomicU32::new(5_000),
        }
    }

    async fn finish(self) {
        self.counter.close().await;
        self.running.stop().await;
        self.db.drop_database().await;
    }

    async fn send(&self, post: Post) -> Answer {
        send(self.running.address, post).await
    }

    async fn snapshot(&self) -> Snapshot {
        let mut rows = BTreeMap::new();
        for table in TABLES {
            rows.insert(table, self.counter.count(table).await);
        }
        let mut media = Vec::new();
        list_files(self.media_dir.path(), &mut media);
        media.sort();
        Snapshot { rows, media }
    }

    /// Sends one named bad input: it must get `status`, and nothing may change.
    async fn refused(&self, case: &str, post: Post, status: u16) -> Answer {
        let before = self.snapshot().await;
        let answer = self.send(post).await;
        assert_eq!(answer.status, status, "{case}: answered {} {:?}", answer.status, answer.body);
        assert_eq!(self.snapshot().await, before, "{case}: the state changed");
        answer
    }

    /// [`App::refused`] for the web chat, which also names the refusal in JSON.
    async fn refused_with(&self, case: &str, post: Post, status: u16, code: &str) {
        let answer = self.refused(case, post, status).await;
        assert_eq!(answer.error_code(), code, "{case}");
    }

    fn update_id(&self) -> u32 {
        self.next_update_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

fn list_files(folder: &Path, into: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            list_files(&path, into);
        } else {
            into.push(path.display().to_string());
        }
    }
}

async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(tokio::time::Instant::now() < give_up, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `depth` opening brackets: JSON nested deeper than any parser should follow.
fn nested(depth: usize) -> Vec<u8> {
    "[".repeat(depth).into_bytes()
}

/// A JSON object of about `bytes` bytes: valid, just far too large.
fn padded(mut value: Value, bytes: usize) -> Vec<u8> {
    value["padding"] = json!("x".repeat(bytes));
    value.to_string().into_bytes()
}

/// `len` hexadecimal digits without repeats a compressor could fold (a Knuth multiplicative
/// hash of a counter), so a database must store them at full length.
fn incompressible_hex(len: usize) -> String {
    let mut text = String::with_capacity(len + 8);
    let mut counter: u32 = 1;
    while text.len() < len {
        text.push_str(&format!("{:08x}", counter.wrapping_mul(2_654_435_761) ^ (counter >> 3)));
        counter += 1;
    }
    text.truncate(len);
    text
}

/// The first half of a valid body.
fn truncated(value: &Value) -> Vec<u8> {
    let text = value.to_string();
    text.as_bytes()[..text.len() / 2].to_vec()
}

/// `value` as JSON with one string's content replaced by bytes that are not UTF-8.
fn with_invalid_utf8(value: &Value, marker: &str) -> Vec<u8> {
    let text = value.to_string();
    let (before, after) = text.split_once(marker).unwrap_or_else(|| panic!("{marker} is in {text}"));
    [before.as_bytes(), b"\xff\xfe\xc3", after.as_bytes()].concat()
}

// ---------------------------------------------------------------------------------------------
// Telegram: `POST /webhooks/telegram`, secret in `X-Telegram-Bot-Api-Secret-Token`

fn telegram_fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/telegram/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("_source").expect("fixtures say where they come from");
    value
}

impl App {
    fn telegram_text(&self, text: &str) -> Value {
        let mut update = telegram_fixture("text");
        update["update_id"] = json!(self.update_id());
        update["message"]["text"] = json!(text);
        update
    }
}

fn to_telegram(body: impl Into<Vec<u8>>) -> Post {
    Post::new(webhook::PATH, body).json_type().header(webhook::SECRET_HEADER, TELEGRAM_SECRET)
}

async fn telegram_corpus(app: &App) {
    let update = app.telegram_text("hello");
    let body = update.to_string();

    // Who may post: Telegram sends the secret given to setWebhook; without it nothing is read.
    let unsigned = Post::new(webhook::PATH, body.clone()).json_type();
    app.refused("telegram: missing secret", unsigned, 401).await;
    let wrong = Post::new(webhook::PATH, body.clone()).json_type().header(webhook::SECRET_HEADER, "guess");
    app.refused("telegram: wrong secret", wrong, 401).await;
    let wrong_and_text = Post::new(webhook::PATH, "hi").header("Content-Type", "text/plain");
    app.refused(
        "telegram: wrong content type without the secret (the secret comes first)",
        wrong_and_text,
        401,
    )
    .await;

    // What the body is declared as.
    let text_plain = Post::new(webhook::PATH, body.clone())
        .header("Content-Type", "text/plain")
        .header(webhook::SECRET_HEADER, TELEGRAM_SECRET);
    app.refused("telegram: wrong content type", text_plain, 415).await;
    let form = Post::new(webhook::PATH, "update_id=1")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(webhook::SECRET_HEADER, TELEGRAM_SECRET);
    app.refused("telegram: a form post", form, 415).await;

    // How big: far over the 1 MiB webhook limit.
    app.refused("telegram: 10 MB body", to_telegram(padded(update.clone(), TEN_MB)), 413).await;

    // What the body holds.
    let mut chat_id_as_text = update.clone();
    chat_id_as_text["message"]["chat"]["id"] = json!("218485655");
    let mut deep_inside = br#"{"update_id":77,"message":"#.to_vec();
    deep_inside.extend(nested(100_000));
    let bad_bodies: Vec<(&str, Vec<u8>)> = vec![
        ("malformed JSON", b"{not json".to_vec()),
        ("truncated body", truncated(&update)),
        ("empty body", Vec::new()),
        ("JSON null", b"null".to_vec()),
        ("an array instead of an update", b"[]".to_vec()),
        ("no update_id", b"{}".to_vec()),
        ("update_id as a string", br#"{"update_id":"1"}"#.to_vec()),
        ("negative update_id", br#"{"update_id":-3}"#.to_vec()),
        ("huge update_id", br#"{"update_id":18446744073709551615}"#.to_vec()),
        ("update_id past every integer type", br#"{"update_id":1e400}"#.to_vec()),
        ("a known kind in the wrong shape", br#"{"update_id":5,"message":"x"}"#.to_vec()),
        ("a string where the chat id belongs", chat_id_as_text.to_string().into_bytes()),
        ("invalid UTF-8 in the text", with_invalid_utf8(&update, "hello")),
        ("deeply nested JSON (100k `[`)", nested(100_000)),
        ("deeply nested JSON inside a known kind", deep_inside),
    ];
    for (case, body) in bad_bodies {
        app.refused(&format!("telegram: {case}"), to_telegram(body), 400).await;
    }

    // A message whose content teloxide cannot place, here a number where the text belongs,
    // reads as an empty message. That is also how content kinds from a newer Bot API arrive,
    // so it is acknowledged and the customer is told politely that the bot cannot read this
    // kind of message: one processed event, the customer's message and the bot's answer in
    // the log and the outbox; no ticket, no file.
    let mut text_as_number = app.telegram_text("hello");
    text_as_number["message"]["text"] = json!(5);
    let before = app.snapshot().await;
    let answer = app.send(to_telegram(text_as_number.to_string())).await;
    assert_eq!(answer.status, 200, "telegram: a number where the text belongs");
    let after = app.snapshot().await;
    assert_eq!(after.rows("processed_events"), before.rows("processed_events") + 1);
    assert!(after.rows("outbox") > before.rows("outbox"), "the customer is answered");
    assert_unchanged(&before, &after, "telegram: a number where the text belongs");

    // An update kind from a newer Bot API (or one we never asked for) is acknowledged: any
    // other answer makes Telegram resend it forever. It is skipped without a processed-event
    // row; a redelivery is skipped the same way, so no row is needed to keep it from acting.
    let mut unknown = telegram_fixture("unknown_kind");
    unknown["update_id"] = json!(app.update_id());
    app.refused(
        "telegram: unknown update type (acknowledged, skipped)",
        to_telegram(unknown.to_string()),
        200,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// VK: `POST /webhooks/vk`, secret inside the JSON body

fn vk_text(event_id: &str, text: &str) -> Value {
    json!({"type": "message_new", "group_id": fake_vk::GROUP_ID, "event_id": event_id, "v": "5.199",
        "secret": fake_vk::SECRET, "object": {
            "message": {"peer_id": 564_321, "from_id": 564_321, "id": 1, "date": 1_700_000_000,
                "text": text, "out": 0},
            "client_info": {"button_actions": ["text"], "keyboard": true, "inline_keyboard": false,
                "lang_id": 3}}})
}

fn to_vk(body: impl Into<Vec<u8>>) -> Post {
    Post::new(callback::CALLBACK_PATH, body).json_type()
}

async fn vk_corpus(app: &App) {
    let event = vk_text("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "hello");

    // Who may post: the secret is in the body, so the body is read first; a wrong or missing
    // one, or another community's event, is 403 (VK's own SDKs answer so).
    let mut unsigned = event.clone();
    unsigned.as_object_mut().unwrap().remove("secret");
    app.refused("vk: missing secret", to_vk(unsigned.to_string()), 403).await;
    let mut wrong = event.clone();
    wrong["secret"] = json!("secret_654321");
    app.refused("vk: wrong secret", to_vk(wrong.to_string()), 403).await;
    let mut numeric_secret = event.clone();
    numeric_secret["secret"] = json!(123_456);
    app.refused("vk: a number where the secret belongs", to_vk(numeric_secret.to_string()), 403).await;
    let mut other_group = event.clone();
    other_group["group_id"] = json!(999);
    app.refused("vk: another community's event", to_vk(other_group.to_string()), 403).await;

    // What the body is declared as, and how big it is (the limit is 256 KiB).
    let text_plain =
        Post::new(callback::CALLBACK_PATH, event.to_string()).header("Content-Type", "text/plain");
    app.refused("vk: wrong content type", text_plain, 415).await;
    app.refused("vk: 10 MB body", to_vk(padded(event.clone(), TEN_MB)), 413).await;

    // What the body holds.
    let mut type_as_number = event.clone();
    type_as_number["type"] = json!(4);
    let mut peer_as_text = event.clone();
    peer_as_text["object"]["message"]["peer_id"] = json!("564321");
    let mut no_peer = event.clone();
    no_peer["object"]["message"].as_object_mut().unwrap().remove("peer_id");
    let mut huge_event_id = event.clone();
    huge_event_id["event_id"] = json!(incompressible_hex(100_000));
    let press_without_id = json!({"type": "message_event", "group_id": fake_vk::GROUP_ID,
        "secret": fake_vk::SECRET, "object": {"user_id": 564_321, "peer_id": 564_321, "payload": {}}});
    let bad_bodies: Vec<(&str, Vec<u8>)> = vec![
        ("malformed JSON", b"{\"type\": \"message_new\", ".to_vec()),
        ("truncated body", truncated(&event)),
        ("empty body", Vec::new()),
        ("JSON null", b"null".to_vec()),
        ("an array instead of an event", b"[1, 2, 3]".to_vec()),
        ("no type", br#"{"object": {}}"#.to_vec()),
        ("a number where the type belongs", type_as_number.to_string().into_bytes()),
        ("a string where the peer id belongs", peer_as_text.to_string().into_bytes()),
        ("a message without a peer id", no_peer.to_string().into_bytes()),
        ("a button press without its event id", press_without_id.to_string().into_bytes()),
        ("huge event id", huge_event_id.to_string().into_bytes()),
        ("invalid UTF-8 in the text", with_invalid_utf8(&event, "hello")),
        ("deeply nested JSON (100k `[`)", nested(100_000)),
    ];
    for (case, body) in bad_bodies {
        app.refused(&format!("vk: {case}"), to_vk(body), 400).await;
    }

    // An event type we do not handle, properly signed: VK wants `ok`, or it resends and, after
    // several errors in a row, stops calling the server. Acknowledged and skipped, no row.
    let wall_post = json!({"type": "wall_post_new", "group_id": fake_vk::GROUP_ID, "secret": fake_vk::SECRET,
        "event_id": "0f0e0d0c0b0a09080706050403020100ffeeddcc", "object": {"id": 28, "text": "Post text"}});
    let answer = app
        .refused("vk: unknown event type (acknowledged, skipped)", to_vk(wall_post.to_string()), 200)
        .await;
    assert_eq!(answer.body, "ok");
}

// ---------------------------------------------------------------------------------------------
// Web chat: `POST /chat/messages` (JSON) and `POST /chat/photos` (multipart), visitor cookie

const BOUNDARY: &str = "bad-input-boundary";

/// One multipart field: name, optional file name and type, content.
struct Field {
    name: &'static str,
    file: Option<(&'static str, &'static str)>,
    bytes: Vec<u8>,
}

fn field(name: &'static str, bytes: impl Into<Vec<u8>>) -> Field {
    Field { name, file: None, bytes: bytes.into() }
}

fn photo_field(bytes: impl Into<Vec<u8>>) -> Field {
    Field { name: "photo", file: Some(("photo.png", "image/png")), bytes: bytes.into() }
}

fn multipart(fields: &[Field]) -> Vec<u8> {
    let mut body = Vec::new();
    for field in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match field.file {
            Some((file_name, content_type)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n",
                    field.name
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{}\"\r\n\r\n", field.name).as_bytes(),
            ),
        }
        body.extend_from_slice(&field.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A real 1x1 PNG.
fn tiny_png() -> Vec<u8> {
    crate::support::images::png(1, 1, 0)
}

impl App {
    /// A new visitor's cookie (`name=value`), as the widget gets it from `/chat/start`.
    async fn visitor(&self) -> String {
        let answer = self.send(Post::new("/chat/start", Vec::new())).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let set_cookie = answer.header("set-cookie").expect("a visitor cookie");
        set_cookie.split(';').next().unwrap().to_owned()
    }
}

fn to_messages(cookie: &str, body: impl Into<Vec<u8>>) -> Post {
    Post::new("/chat/messages", body).json_type().header("Cookie", cookie)
}

fn to_photos(cookie: &str, body: Vec<u8>) -> Post {
    Post::new("/chat/photos", body)
        .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("Cookie", cookie)
}

async fn web_chat_corpus(app: &App) {
    let cookie = app.visitor().await;
    let message = json!({"id": "client-0001", "text": "hello"});
    let body = message.to_string();
    let forged = format!("{VISITOR_COOKIE}=someone-else.{}", "0".repeat(64));

    // Who may post: a visitor with a cookie this server signed.
    let anonymous = Post::new("/chat/messages", body.clone()).json_type();
    app.refused_with("web chat: missing visitor cookie", anonymous, 401, "no_visitor").await;
    app.refused_with(
        "web chat: forged visitor cookie",
        to_messages(&forged, body.clone()),
        401,
        "no_visitor",
    )
    .await;

    // What the body is declared as, and how big it is (the message limit is 32 KiB).
    let text_plain = Post::new("/chat/messages", body.clone())
        .header("Content-Type", "text/plain")
        .header("Cookie", &cookie);
    app.refused_with("web chat: wrong content type", text_plain, 415, "expected_json").await;
    let untyped = Post::new("/chat/messages", body.clone()).header("Cookie", &cookie);
    app.refused_with("web chat: missing content type", untyped, 415, "expected_json").await;
    app.refused_with(
        "web chat: 10 MB body",
        to_messages(&cookie, padded(message.clone(), TEN_MB)),
        413,
        "too_large",
    )
    .await;
    app.refused_with(
        "web chat: deeply nested JSON (100k `[`, over the limit)",
        to_messages(&cookie, nested(100_000)),
        413,
        "too_large",
    )
    .await;

    // What the body holds: 400 when it is not JSON or not a usable message, 422 when it is
    // JSON of the wrong shape.
    let bad_bodies: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", b"{not json".to_vec(), 400, "bad_json"),
        ("truncated body", truncated(&message), 400, "bad_json"),
        ("empty body", Vec::new(), 400, "bad_json"),
        ("invalid UTF-8 in the text", with_invalid_utf8(&message, "hello"), 400, "bad_json"),
        ("deeply nested JSON (20k `[`, under the limit)", nested(20_000), 400, "bad_json"),
        ("JSON null", b"null".to_vec(), 422, "not_a_message"),
        ("an array instead of a message", b"[]".to_vec(), 422, "not_a_message"),
        (
            "a number where the text belongs",
            br#"{"id":"client-0001","text":5}"#.to_vec(),
            422,
            "not_a_message",
        ),
        ("a number where the id belongs", br#"{"id":12345678,"text":"hi"}"#.to_vec(), 422, "not_a_message"),
        ("a path for an id", br#"{"id":"../../etc","text":"hi"}"#.to_vec(), 400, "bad_id"),
        (
            "an id too long for the dedupe key",
            format!(r#"{{"id":"{}","text":"hi"}}"#, "a".repeat(10_000)).into_bytes(),
            400,
            "bad_id",
        ),
        ("blank text", br#"{"id":"client-0001","text":"  "}"#.to_vec(), 400, "empty_message"),
        (
            "text and a button at once",
            br#"{"id":"client-0001","text":"hi","button":"i:order"}"#.to_vec(),
            400,
            "empty_message",
        ),
    ];
    for (case, body, status, code) in bad_bodies {
        app.refused_with(&format!("web chat: {case}"), to_messages(&cookie, body), status, code).await;
    }

    // Photo uploads (the media limit is 5 MB here).
    let upload = multipart(&[field("id", "client-0002"), photo_field(tiny_png())]);
    let anonymous = Post::new("/chat/photos", upload.clone())
        .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"));
    app.refused_with("web chat photo: missing visitor cookie", anonymous, 401, "no_visitor").await;
    let as_json = Post::new("/chat/photos", upload.clone()).json_type().header("Cookie", &cookie);
    app.refused_with("web chat photo: wrong content type", as_json, 415, "expected_multipart").await;
    let no_boundary = Post::new("/chat/photos", upload.clone())
        .header("Content-Type", "multipart/form-data")
        .header("Cookie", &cookie);
    app.refused_with("web chat photo: multipart without a boundary", no_boundary, 400, "bad_upload").await;
    let cut = upload[..upload.len() - 30].to_vec();
    app.refused_with("web chat photo: truncated body", to_photos(&cookie, cut), 400, "bad_upload").await;
    let bad_id = multipart(&[field("id", b"client-\xff\xfe01".to_vec()), photo_field(tiny_png())]);
    app.refused_with(
        "web chat photo: invalid UTF-8 in the id field",
        to_photos(&cookie, bad_id),
        400,
        "bad_id",
    )
    .await;
    let bad_caption = multipart(&[
        field("id", "client-0003"),
        field("caption", b"broken \xc3\x28 text".to_vec()),
        photo_field(tiny_png()),
    ]);
    app.refused_with(
        "web chat photo: invalid UTF-8 in the caption field",
        to_photos(&cookie, bad_caption),
        400,
        "bad_caption",
    )
    .await;
    let long_caption = multipart(&[
        field("id", "client-0004"),
        field("caption", "x".repeat(100_000)),
        photo_field(tiny_png()),
    ]);
    app.refused_with(
        "web chat photo: a caption longer than a message may be",
        to_photos(&cookie, long_caption),
        400,
        "bad_caption",
    )
    .await;
    let no_photo = multipart(&[field("id", "client-0005"), field("caption", "where is it?")]);
    app.refused_with("web chat photo: no photo field", to_photos(&cookie, no_photo), 400, "no_photo").await;
    let mut ten_mb = tiny_png();
    ten_mb.resize(TEN_MB, 0);
    // The photo comes before the id, so the app cannot tell the dialog; it just refuses.
    let huge = multipart(&[photo_field(ten_mb), field("id", "client-0006")]);
    app.refused_with("web chat photo: 10 MB body", to_photos(&cookie, huge), 413, "too_large").await;

    // A photo that is not an image: refused with 415 (the widget says so at once), and told to
    // the dialog so the bot explains it in the visitor's language and an agent sees the
    // attempt. That is one processed event and its log and outbox rows; no file is stored and
    // no ticket or attachment is made.
    let before = app.snapshot().await;
    let html =
        multipart(&[field("id", "client-0007"), photo_field(b"<html><script>alert(1)</script>".to_vec())]);
    let answer = app.send(to_photos(&cookie, html)).await;
    assert_eq!(
        (answer.status, answer.error_code()),
        (415, "not_an_image".to_owned()),
        "web chat: a photo that is not an image"
    );
    let after = app.snapshot().await;
    assert_eq!(after.rows("processed_events"), before.rows("processed_events") + 1);
    assert!(after.rows("messages") > before.rows("messages"), "the attempt is in the log");
    assert_unchanged(&before, &after, "web chat: a photo that is not an image");
    // The same upload resent (the widget retrying) is a duplicate: nothing more changes.
    let again =
        multipart(&[field("id", "client-0007"), photo_field(b"<html><script>alert(1)</script>".to_vec())]);
    app.refused_with("web chat: the same non-image resent", to_photos(&cookie, again), 415, "not_an_image")
        .await;
}

// ---------------------------------------------------------------------------------------------
// Still up: a normal message on every route is answered

async fn normal_messages_are_answered(app: &App) {
    let before = app.snapshot().await;

    let update = app.telegram_text("/start");
    assert_eq!(app.send(to_telegram(update.to_string())).await.status, 200, "a normal Telegram update");
    let answer =
        app.send(to_vk(vk_text("ffeeddccbbaa99887766554433221100aabbccdd", "/start").to_string())).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"), "a normal VK event");
    let cookie = app.visitor().await;
    let answer =
        app.send(to_messages(&cookie, json!({"id": "client-1000", "text": "/start"}).to_string())).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, r#"{"status":"applied"}"#),
        "a normal web chat message"
    );
    let photo = multipart(&[field("id", "client-1001"), photo_field(tiny_png())]);
    let answer = app.send(to_photos(&cookie, photo)).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, r#"{"status":"applied"}"#), "a normal photo");

    let after = app.snapshot().await;
    assert_eq!(after.rows("processed_events"), before.rows("processed_events") + 4);
    assert_eq!(after.media.len(), before.media.len() + 1, "the real photo is stored");
    eventually("the bot to answer on Telegram", || async { !app.telegram.sent().is_empty() }).await;
    eventually("the bot to answer on VK", || async { !app.vk.visible().is_empty() }).await;
    let health = app.send(Post::get("/healthz")).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
}

// ---------------------------------------------------------------------------------------------
// The tests

#[tokio::test]
async fn the_telegram_webhook_refuses_bad_input_and_changes_nothing() {
    let app = App::start(TestDb::sqlite()).await;
    telegram_corpus(&app).await;
    normal_messages_are_answered(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn the_vk_callback_refuses_bad_input_and_changes_nothing() {
    let app = App::start(TestDb::sqlite()).await;
    vk_corpus(&app).await;
    normal_messages_are_answered(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn the_web_chat_refuses_bad_input_and_changes_nothing() {
    let app = App::start(TestDb::sqlite()).await;
    web_chat_corpus(&app).await;
    normal_messages_are_answered(&app).await;
    app.finish().await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn the_whole_corpus_on_postgres() {
    let db = TestDb::postgres().await;
    let app = App::start(db).await;
    telegram_corpus(&app).await;
    vk_corpus(&app).await;
    web_chat_corpus(&app).await;
    normal_messages_are_answered(&app).await;
    app.finish().await;
}
