//! Route tests for the web chat and the agent console, without a port (`oneshot`), against
//! the real engine and a fresh SQLite file per test.

use crate::support::forms::csrf_in;
use crate::support::web_app::{AGENT_PASSWORD, TestApp, tiny_png};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use std::time::Duration;
use switchboard::channels::{InboundEvent, InboundKind, Intake};
use switchboard::console::Role;
use switchboard::core::dialog::Input;
use switchboard::core::message::Outbound;
use tower::ServiceExt;

async fn send(app: &TestApp, request: Request<Body>) -> Response<Body> {
    app.router.clone().oneshot(request).await.unwrap()
}

async fn text_of(response: Response<Body>) -> String {
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn get(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri).header(header::COOKIE, cookie).body(Body::empty()).unwrap()
}

fn form(uri: &str, cookie: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body: String =
        fields.iter().map(|(key, value)| format!("{key}={}", urlencode(value))).collect::<Vec<_>>().join("&");
    Request::post(uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn set_cookie(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn location(response: &Response<Body>) -> String {
    response.headers().get(header::LOCATION).expect("a redirect").to_str().unwrap().to_owned()
}

/// A signed-in agent: the session cookie and the session's CSRF token.
struct Agent {
    cookie: String,
    csrf: String,
}

impl Agent {
    /// Posts a console form as this agent, with the session's CSRF token before `fields`.
    async fn post(&self, app: &TestApp, uri: &str, fields: &[(&str, &str)]) -> Response<Body> {
        let fields: Vec<(&str, &str)> =
            [("csrf", self.csrf.as_str())].into_iter().chain(fields.iter().copied()).collect();
        send(app, form(uri, &self.cookie, &fields)).await
    }
}

async fn sign_in(app: &TestApp, name: &str) -> Agent {
    let cookie = sign_in_with(app, name, AGENT_PASSWORD).await;
    let queue = send(app, get("/console/queue", &cookie)).await;
    assert_eq!(queue.status(), StatusCode::OK);
    Agent { csrf: csrf_in(&text_of(queue).await), cookie }
}

/// Signs in with `password`; returns the session cookie.
async fn sign_in_with(app: &TestApp, name: &str, password: &str) -> String {
    let page = send(app, get("/console/login", "")).await;
    let login_cookie = cookie_pair(&set_cookie(&page, "sb_login").unwrap());
    let csrf = csrf_in(&text_of(page).await);
    let fields = [("csrf", csrf.as_str()), ("name", name), ("password", password)];
    let response = send(app, form("/console/login", &login_cookie, &fields)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in of {name}");
    let session = set_cookie(&response, "sb_session").expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    cookie_pair(&session)
}

/// A customer on a messenger channel who asked for a human; returns the ticket id.
async fn customer_asks_for_human(app: &TestApp, channel: &'static str, who: &str, words: &str) -> i64 {
    customer_in_language_asks_for_human(app, channel, who, words, "en").await
}

/// What `who` sends on `channel`, from a messenger that speaks `lang`.
fn customer_event(
    channel: &'static str,
    who: &str,
    event_id: &str,
    lang: &str,
    input: Input,
) -> InboundEvent {
    InboundEvent {
        channel,
        event_id: event_id.to_owned(),
        external_id: who.to_owned(),
        language_hint: Some(lang.to_owned()),
        display_name: Some(who.to_owned()),
        contact_data: None,
        kind: InboundKind::Input(input),
    }
}

/// As [`customer_asks_for_human`], from a customer whose messenger speaks `lang`.
async fn customer_in_language_asks_for_human(
    app: &TestApp,
    channel: &'static str,
    who: &str,
    words: &str,
    lang: &str,
) -> i64 {
    for (number, text) in ["/agent", words].into_iter().enumerate() {
        let input = Input::Text { text: text.to_owned() };
        app.engine
            .accept(customer_event(channel, who, &format!("{who}-{number}"), lang, input))
            .await
            .unwrap();
    }
    let queued = app
        .store
        .list_tickets(
            Some(switchboard::core::handoff::TicketStatus::Queued),
            switchboard::store::Page::first(100_000),
        )
        .await
        .unwrap();
    queued.iter().find(|ticket| ticket.external_id == who).expect("a queued ticket").id
}

/// The customer's `<script>alert(1)</script>` appears escaped (askama writes `&#60;`).
fn shows_script_as_text(html: &str) -> bool {
    html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
        || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
}

async fn until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    // A bounded wait for the background outbox worker, never an assertion about time.
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the condition did not come true");
}

#[tokio::test]
async fn pages_and_api_refuse_strangers() {
    let app = TestApp::start().await;
    for uri in ["/console/queue", "/console/tickets/1", "/console/dashboard", "/console/media/"] {
        let response = send(&app, get(uri, "")).await;
        assert!(
            response.status() == StatusCode::SEE_OTHER || response.status() == StatusCode::NOT_FOUND,
            "{uri}: {}",
            response.status()
        );
    }
    let sha = "a".repeat(64);
    let media = send(&app, get(&format!("/console/media/{sha}"), "")).await;
    assert_eq!(media.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&media), "/console/login");
    let forged = send(&app, get("/console/queue", &format!("sb_session={}", "0".repeat(64)))).await;
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);

    let api = send(&app, Request::get("/api/tickets").body(Body::empty()).unwrap()).await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    let bad_token =
        Request::get("/api/tickets").header(header::AUTHORIZATION, "Bearer sbt_nope").body(Body::empty());
    assert_eq!(send(&app, bad_token.unwrap()).await.status(), StatusCode::UNAUTHORIZED);

    let chat = Request::post("/chat/messages")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"id":"0123456789","text":"hi"}"#))
        .unwrap();
    assert_eq!(send(&app, chat).await.status(), StatusCode::UNAUTHORIZED);
    let events = send(&app, get("/chat/events", "sb_visitor=0123.forged")).await;
    assert_eq!(events.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn sign_in_needs_the_form_token_and_the_password_and_is_rate_limited() {
    let app = TestApp::start().await;
    app.add_agent("anna", Role::Agent).await;
    let page = send(&app, get("/console/login", "")).await;
    let login_cookie = cookie_pair(&set_cookie(&page, "sb_login").unwrap());
    let csrf = csrf_in(&text_of(page).await);

    let wrong_token = form(
        "/console/login",
        &login_cookie,
        &[("csrf", &"f".repeat(64)), ("name", "anna"), ("password", AGENT_PASSWORD)],
    );
    assert_eq!(send(&app, wrong_token).await.status(), StatusCode::FORBIDDEN);
    let no_cookie =
        form("/console/login", "", &[("csrf", &csrf), ("name", "anna"), ("password", AGENT_PASSWORD)]);
    assert_eq!(send(&app, no_cookie).await.status(), StatusCode::FORBIDDEN);

    let mut statuses = Vec::new();
    for _ in 0..6 {
        let attempt = form(
            "/console/login",
            &login_cookie,
            &[("csrf", &csrf), ("name", "anna"), ("password", "wrong password")],
        );
        statuses.push(send(&app, attempt).await.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS, "the sixth try in a minute is refused");
    let right_but_limited = form(
        "/console/login",
        &login_cookie,
        &[("csrf", &csrf), ("name", "anna"), ("password", AGENT_PASSWORD)],
    );
    let limited = send(&app, right_but_limited).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(text_of(limited).await.contains("Too many sign-in attempts"));
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_csrf_token_changes_nothing_and_sign_out_ends_the_session() {
    let app = TestApp::start().await;
    app.add_agent("anna", Role::Agent).await;
    let ticket = customer_asks_for_human(&app, "telegram", "1001", "my parcel is broken").await;
    let anna = sign_in(&app, "anna").await;

    let forged =
        form(&format!("/console/tickets/{ticket}/claim"), &anna.cookie, &[("csrf", &"0".repeat(64))]);
    let response = send(&app, forged).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(text_of(response).await.contains("Form expired"));
    let missing = form(&format!("/console/tickets/{ticket}/claim"), &anna.cookie, &[]);
    assert_eq!(send(&app, missing).await.status(), StatusCode::FORBIDDEN);
    let detail = app.store.ticket(ticket).await.unwrap().unwrap();
    assert_eq!(detail.ticket.assigned_agent, None, "nothing was claimed");

    let logout = anna.post(&app, "/console/logout", &[]).await;
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(send(&app, get("/console/queue", &anna.cookie)).await.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn two_agents_claim_at_once_and_exactly_one_wins() {
    let app = TestApp::start().await;
    app.add_agent("anna", Role::Agent).await;
    app.add_agent("boris", Role::Agent).await;
    let ticket = customer_asks_for_human(&app, "telegram", "2002", "wrong size").await;
    let anna = sign_in(&app, "anna").await;
    let boris = sign_in(&app, "boris").await;
    let uri = format!("/console/tickets/{ticket}/claim");
    let (first, second) = tokio::join!(
        send(&app, form(&uri, &anna.cookie, &[("csrf", &anna.csrf)])),
        send(&app, form(&uri, &boris.cookie, &[("csrf", &boris.csrf)])),
    );
    let mut notices = vec![location(&first), location(&second)];
    notices.sort();
    let winner = app.store.ticket(ticket).await.unwrap().unwrap().ticket.assigned_agent.unwrap();
    let loser = if winner == "anna" { "boris" } else { "anna" };
    let claimed = format!("/console/tickets/{ticket}?notice=claimed#latest");
    let taken = format!("/console/tickets/{ticket}?notice=taken:{winner}#latest");
    assert!(notices.contains(&claimed) && notices.contains(&taken), "{notices:?}");

    let loser_agent = if loser == "anna" { &anna } else { &boris };
    // A browser keeps the fragment to itself; the request carries the path and the query.
    let page = text_of(send(&app, get(taken.trim_end_matches("#latest"), &loser_agent.cookie)).await).await;
    assert!(
        page.contains(&format!("Already taken: {winner} has this ticket.")),
        "the other agent is told who has it"
    );
    app.stop().await;
}

/// A bot turn is one log row: the console shows the greeting and the menu as one message,
/// paragraph after paragraph, not as two.
#[tokio::test]
async fn the_console_shows_a_bot_turn_as_one_message_with_its_paragraphs() {
    let app = TestApp::start().await;
    app.add_agent("anna", Role::Agent).await;
    let start = Input::Text { text: "/start".to_owned() };
    app.engine.accept(customer_event("telegram", "5005", "5005-start", "en", start)).await.unwrap();
    let ticket = customer_asks_for_human(&app, "telegram", "5005", "Where is my parcel?").await;
    let anna = sign_in(&app, "anna").await;
    let page = text_of(send(&app, get(&format!("/console/tickets/{ticket}"), &anna.cookie)).await).await;
    let texts: Vec<&str> =
        page.split("<p class=\"text\">").skip(1).filter_map(|rest| rest.split("</p>").next()).collect();
    assert!(
        texts.iter().any(|text| text.starts_with("Hello!")
            && text
                .ends_with("\n\nWhat can I help you with? Pick a topic below or just type your question.")),
        "{texts:#?}"
    );
    assert!(!texts.iter().any(|text| text.starts_with("What can I help you with?")), "{texts:#?}");
    app.stop().await;
}

#[tokio::test]
async fn an_agent_reply_reaches_a_telegram_customer_through_the_outbox() {
    let app = TestApp::start().await;
    app.add_agent("anna", Role::Agent).await;
    // Customers see the display name, never the login.
    switchboard::console::agents::set_profile(&*app.store, "anna", Some("Anna"), None).await.unwrap();
    app.add_agent("boris", Role::Agent).await;
    let ticket = customer_asks_for_human(&app, "telegram", "3003", "<script>alert(1)</script>").await;
    let anna = sign_in(&app, "anna").await;

    let queue = text_of(send(&app, get("/console/queue", &anna.cookie)).await).await;
    assert!(queue.contains(&format!("/console/tickets/{ticket}")));
    assert!(shows_script_as_text(&queue), "the queue escapes customer text: {queue}");
    assert!(!queue.contains("<script>alert(1)"));

    let claim = anna.post(&app, &format!("/console/tickets/{ticket}/claim"), &[]).await;
    assert_eq!(location(&claim), format!("/console/tickets/{ticket}?notice=claimed#latest"));
    let reply_text = "Hello, I am looking at your order now.";
    let reply = anna.post(&app, &format!("/console/tickets/{ticket}/reply"), &[("text", reply_text)]).await;
    assert_eq!(location(&reply), format!("/console/tickets/{ticket}?notice=replied#latest"));
    let delivered_reply = || async {
        app.telegram.delivered.lock().unwrap().iter().any(|delivery| {
            delivery.external_id == "3003"
                && matches!(&delivery.message, Outbound::Agent { agent, text, .. } if agent == "Anna" && text == reply_text)
        })
    };
    until(delivered_reply).await;

    // Only the holder replies; a note stays internal; the page escapes what the customer wrote.
    let boris = sign_in(&app, "boris").await;
    let not_yours = boris.post(&app, &format!("/console/tickets/{ticket}/reply"), &[("text", "hi")]).await;
    assert_eq!(location(&not_yours), format!("/console/tickets/{ticket}?notice=not_yours#latest"));
    let note = anna.post(&app, &format!("/console/tickets/{ticket}/note"), &[("text", "VIP customer")]).await;
    assert_eq!(location(&note), format!("/console/tickets/{ticket}?notice=noted#latest"));
    let page = text_of(send(&app, get(&format!("/console/tickets/{ticket}"), &anna.cookie)).await).await;
    assert!(shows_script_as_text(&page) && !page.contains("<script>alert(1)"));
    assert!(page.contains(reply_text) && page.contains("VIP customer") && page.contains("anna (agent)"));

    let resolve = anna.post(&app, &format!("/console/tickets/{ticket}/resolve"), &[]).await;
    assert_eq!(location(&resolve), format!("/console/tickets/{ticket}?notice=resolved#latest"));
    let asked_rating = || async {
        app.telegram.delivered.lock().unwrap().iter().any(|delivery| {
            matches!(&delivery.message, Outbound::Bot(reply) if reply.key() == switchboard::core::keys::ASK_RATING)
        })
    };
    until(asked_rating).await;
    let notes_to_customer =
        app.telegram.delivered.lock().unwrap().iter().any(
            |delivery| matches!(&delivery.message, Outbound::Agent { text, .. } if text.contains("VIP")),
        );
    assert!(!notes_to_customer, "notes never reach the customer");

    let reopen = anna.post(&app, &format!("/console/tickets/{ticket}/reopen"), &[]).await;
    assert_eq!(location(&reopen), format!("/console/tickets/{ticket}?notice=reopened#latest"));
    let transfer =
        anna.post(&app, &format!("/console/tickets/{ticket}/transfer"), &[("to_agent", "boris")]).await;
    assert_eq!(location(&transfer), format!("/console/tickets/{ticket}?notice=transferred:boris#latest"));
    assert_eq!(
        app.store.ticket(ticket).await.unwrap().unwrap().ticket.assigned_agent.as_deref(),
        Some("boris")
    );
    app.stop().await;
}

/// Starts a web chat visitor; returns the cookie pair.
async fn visitor(app: &TestApp) -> String {
    let response = send(app, Request::post("/chat/start").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response, "sb_visitor").expect("a visitor cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/chat")
    );
    cookie_pair(&cookie)
}

async fn chat(app: &TestApp, cookie: &str, json: &str) -> Response<Body> {
    let request = Request::post("/chat/messages")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json.to_owned()))
        .unwrap();
    send(app, request).await
}

/// Reads SSE `message` events from the stream until `count` have arrived.
async fn read_events(response: Response<Body>, count: usize) -> Vec<serde_json::Value> {
    read_events_until(response, |events| events.len() >= count).await
}

/// Reads SSE `message` events until `done` says enough.
async fn read_events_until(
    response: Response<Body>,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let mut body = response.into_body();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let read = async {
        while !done(&events) {
            let frame = body.frame().await.expect("the stream stays open").unwrap();
            if let Ok(data) = frame.into_data() {
                buffer.push_str(std::str::from_utf8(&data).unwrap());
            }
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                if let Some(data) = block.lines().find_map(|line| line.strip_prefix("data: ")) {
                    if let Ok(value) = serde_json::from_str(data) {
                        events.push(value);
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("events arrive");
    events
}

#[tokio::test]
async fn the_web_chat_streams_the_log_resumes_after_the_last_id_and_dedupes_resends() {
    let app = TestApp::start().await;
    let cookie = visitor(&app).await;
    let first = chat(&app, &cookie, r#"{"id":"client-0001","text":"/start"}"#).await;
    assert_eq!(text_of(first).await, r#"{"status":"applied"}"#);
    let again = chat(&app, &cookie, r#"{"id":"client-0001","text":"/start"}"#).await;
    assert_eq!(
        text_of(again).await,
        r#"{"status":"duplicate"}"#,
        "a resend after a reconnect is stored once"
    );

    let stream = send(&app, get("/chat/events?after=0", &cookie)).await;
    assert_eq!(stream.headers().get(header::CONTENT_TYPE).unwrap(), "text/event-stream");
    let events = read_events(stream, 2).await;
    assert_eq!(events[0]["author"], "customer");
    assert_eq!(events[0]["text"], "/start");
    assert_eq!(events[0]["client_id"], "client-0001");
    // The greeting and the menu are one message: two paragraphs, the menu's buttons under them.
    assert_eq!(events[1]["author"], "bot");
    let paragraphs: Vec<&str> = events[1]["text"].as_str().unwrap().split("\n\n").collect();
    assert!(
        paragraphs.len() == 2
            && paragraphs[0].starts_with("Hello!")
            && paragraphs[1].starts_with("What can I"),
        "{paragraphs:?}"
    );
    let buttons = events[1]["buttons"].as_array().expect("the menu has buttons");
    assert!(
        buttons.iter().filter_map(|row| row.as_array()).flatten().any(|button| button["data"] == "i:order"),
        "{buttons:?}"
    );
    let bot_id = events[1]["id"].as_i64().unwrap();

    // Resume after the bot's message (a reconnect): only what came later, live. The press comes
    // first, so the resend added nothing after the answer to /start.
    let press = chat(&app, &cookie, r#"{"id":"client-0002","button":"i:order"}"#).await;
    assert_eq!(press.status(), StatusCode::OK);
    let resumed = Request::get("/chat/events")
        .header(header::COOKIE, &cookie)
        .header("last-event-id", bot_id.to_string());
    let later = read_events(send(&app, resumed.body(Body::empty()).unwrap()).await, 2).await;
    assert!(later.iter().all(|event| event["id"].as_i64().unwrap() > bot_id), "nothing repeated");
    assert_eq!(later[0]["client_id"], "client-0002");
    assert_eq!(later[1]["author"], "bot");
    assert!(later[1]["text"].as_str().unwrap().to_lowercase().contains("order"), "asks for the order id");

    // Another visitor sees none of it, and a forged button is answered, not trusted.
    let stranger = visitor(&app).await;
    let forged = chat(&app, &stranger, r#"{"id":"client-0003","button":"r:99"}"#).await;
    assert_eq!(forged.status(), StatusCode::OK);
    let theirs = read_events(send(&app, get("/chat/events", &stranger)).await, 1).await;
    assert!(theirs.iter().all(|event| event["client_id"] != "client-0001"));
    app.stop().await;
}

fn multipart(cookie: &str, id: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Request<Body> {
    let boundary = "switchboard-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n{id}\r\n").as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post("/chat/photos")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn photos_are_checked_stored_and_shown_only_to_their_visitor_and_to_agents() {
    let app = TestApp::start_with_media_limit(4096).await;
    app.add_agent("anna", Role::Agent).await;
    let cookie = visitor(&app).await;
    chat(&app, &cookie, r#"{"id":"client-1001","button":"i:order"}"#).await;
    chat(&app, &cookie, r#"{"id":"client-1002","text":"AB-12345"}"#).await;

    let not_image = send(&app, multipart(&cookie, "client-1003", "x.png", "image/png", b"<html>")).await;
    assert_eq!(not_image.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut big = tiny_png();
    big.resize(5000, 0);
    let too_big = send(&app, multipart(&cookie, "client-1004", "big.png", "image/png", &big)).await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(text_of(too_big).await, r#"{"error":"too_large","limit_mb":0}"#);
    let huge = vec![0u8; 400_000];
    let over_body_limit = send(&app, multipart(&cookie, "client-1005", "huge.png", "image/png", &huge)).await;
    assert_eq!(over_body_limit.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let stored = send(&app, multipart(&cookie, "client-1006", "photo.png", "image/png", &tiny_png())).await;
    assert_eq!(text_of(stored).await, r#"{"status":"applied"}"#);
    let has_photo = |events: &[serde_json::Value]| {
        events.iter().any(|event| event["photos"].as_array().is_some_and(|photos| !photos.is_empty()))
    };
    let events = read_events_until(send(&app, get("/chat/events", &cookie)).await, has_photo).await;
    let photo_url = events
        .iter()
        .find_map(|event| {
            event["photos"].as_array().and_then(|photos| photos.first()).and_then(|url| url.as_str())
        })
        .expect("the photo is in the stream")
        .to_owned();
    let sha = photo_url.rsplit('/').next().unwrap().to_owned();
    let mine = send(&app, get(&photo_url, &cookie)).await;
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(mine.headers().get(header::CONTENT_TYPE).unwrap(), "image/png");
    assert_eq!(mine.headers().get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    let stranger = visitor(&app).await;
    assert_eq!(send(&app, get(&photo_url, &stranger)).await.status(), StatusCode::NOT_FOUND);

    let anna = sign_in(&app, "anna").await;
    let for_agent = send(&app, get(&format!("/console/media/{sha}"), &anna.cookie)).await;
    assert_eq!(for_agent.status(), StatusCode::OK);
    assert_eq!(for_agent.headers().get(header::CONTENT_TYPE).unwrap(), "image/png");
    assert_eq!(for_agent.headers().get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    assert_eq!(for_agent.into_body().collect().await.unwrap().to_bytes().to_vec(), tiny_png());
    for bad in ["..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", &"b".repeat(64), &sha.to_uppercase()] {
        let response = send(&app, get(&format!("/console/media/{bad}"), &anna.cookie)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_agent_api_lists_reads_replies_and_resolves_with_a_bearer_token() {
    let app = TestApp::start().await;
    app.add_agent("admin", Role::Admin).await;
    app.add_agent("crm", Role::Agent).await;
    let ticket = customer_asks_for_human(&app, "telegram", "4004", "refund please").await;
    let admin = sign_in(&app, "admin").await;
    let created = admin.post(&app, "/console/tokens", &[("name", "CRM"), ("agent", "crm")]).await;
    let page = text_of(created).await;
    let start = page.find("sbt_").expect("the new token is shown once");
    let token = page[start..start + 68].to_owned();
    let auth = format!("Bearer {token}");

    let list =
        Request::get("/api/tickets?status=queued").header(header::AUTHORIZATION, &auth).body(Body::empty());
    let list: serde_json::Value =
        serde_json::from_str(&text_of(send(&app, list.unwrap()).await).await).unwrap();
    assert_eq!(list["tickets"][0]["id"], ticket);
    assert_eq!(list["tickets"][0]["channel"], "telegram");
    let one = Request::get(format!("/api/tickets/{ticket}"))
        .header(header::AUTHORIZATION, &auth)
        .body(Body::empty());
    let one: serde_json::Value =
        serde_json::from_str(&text_of(send(&app, one.unwrap()).await).await).unwrap();
    assert!(one["messages"].as_array().unwrap().iter().any(|m| m["text"] == "refund please"));
    let missing =
        Request::get("/api/tickets/999999").header(header::AUTHORIZATION, &auth).body(Body::empty());
    assert_eq!(send(&app, missing.unwrap()).await.status(), StatusCode::NOT_FOUND);

    let reply = Request::post(format!("/api/tickets/{ticket}/reply"))
        .header(header::AUTHORIZATION, &auth)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"text":"Your refund is on its way."}"#))
        .unwrap();
    assert_eq!(send(&app, reply).await.status(), StatusCode::OK);
    // The API agent `crm` has no display name: the customer is not told the login.
    until(|| async {
        app.telegram.delivered.lock().unwrap().iter().any(|d| {
            matches!(&d.message, Outbound::Agent { agent, text, .. } if agent.is_empty() && text == "Your refund is on its way.")
        })
    })
    .await;
    let resolve = Request::post(format!("/api/tickets/{ticket}/resolve"))
        .header(header::AUTHORIZATION, &auth)
        .body(Body::empty());
    assert_eq!(send(&app, resolve.unwrap()).await.status(), StatusCode::OK);
    let again = Request::post(format!("/api/tickets/{ticket}/resolve"))
        .header(header::AUTHORIZATION, &auth)
        .body(Body::empty());
    assert_eq!(send(&app, again.unwrap()).await.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn admin_pages_dashboard_and_canned_replies() {
    let app = TestApp::start().await;
    app.add_agent("admin", Role::Admin).await;
    app.add_agent("anna", Role::Agent).await;
    customer_asks_for_human(&app, "telegram", "5005", "hello").await;
    let admin = sign_in(&app, "admin").await;
    let anna = sign_in(&app, "anna").await;

    let canned = [
        ("csrf", admin.csrf.as_str()),
        ("lang", "en"),
        ("title", "Refund"),
        ("body", "Refunds take 3 days."),
    ];
    let saved = send(&app, form("/console/canned", &admin.cookie, &canned)).await;
    assert_eq!(location(&saved), "/console/canned?notice=saved");
    let by_agent = [("csrf", anna.csrf.as_str()), ("lang", "en"), ("title", "x"), ("body", "y")];
    assert_eq!(
        send(&app, form("/console/canned", &anna.cookie, &by_agent)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(
        text_of(send(&app, get("/console/canned", &anna.cookie)).await)
            .await
            .contains("Refunds take 3 days.")
    );
    assert_eq!(send(&app, get("/console/agents", &anna.cookie)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(send(&app, get("/console/tokens", &anna.cookie)).await.status(), StatusCode::FORBIDDEN);

    let new_agent = [("csrf", admin.csrf.as_str()), ("name", "carl"), ("password", "long enough password")];
    assert_eq!(
        location(&send(&app, form("/console/agents", &admin.cookie, &new_agent)).await),
        "/console/agents?notice=saved"
    );
    let disable = admin.post(&app, "/console/agents/anna/disable", &[]).await;
    assert_eq!(disable.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        send(&app, get("/console/queue", &anna.cookie)).await.status(),
        StatusCode::SEE_OTHER,
        "signed out"
    );

    let dashboard = send(&app, get("/console/dashboard?days=7", &admin.cookie)).await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    let html = text_of(dashboard).await;
    assert!(html.contains("<svg") && html.contains("id=\"fig-tickets\">1<"), "one ticket this week");
    let csv = send(&app, get("/console/dashboard.csv?days=7", &admin.cookie)).await;
    assert_eq!(csv.headers().get(header::CONTENT_TYPE).unwrap(), "text/csv; charset=utf-8");
    let csv = text_of(csv).await;
    assert!(csv.starts_with("date,tickets,"));
    assert_eq!(csv.lines().count(), 8);

    let store_page = send(&app, get("/", "")).await;
    assert!(store_page.headers().get(header::CONTENT_SECURITY_POLICY).is_some());
    assert!(text_of(store_page).await.contains("/static/widget.js"));
    assert_eq!(send(&app, get("/static/widget.js", "")).await.status(), StatusCode::OK);
    assert_eq!(send(&app, get("/console/static/console.js", "")).await.status(), StatusCode::OK);
    app.stop().await;
}

/// Posts the password form; returns where it redirects.
async fn change_password(app: &TestApp, agent: &Agent, current: &str, new: &str, repeat: &str) -> String {
    let fields = [("csrf", agent.csrf.as_str()), ("current", current), ("new", new), ("repeat", repeat)];
    location(&send(app, form("/console/password", &agent.cookie, &fields)).await)
}

#[tokio::test]
async fn an_agent_changes_their_password_and_their_other_sessions_end() {
    let app = TestApp::start().await;
    app.add_agent("anna", Role::Agent).await;
    app.add_agent("boris", Role::Agent).await;
    let here = sign_in(&app, "anna").await;
    let laptop = sign_in(&app, "anna").await;
    let boris = sign_in(&app, "boris").await;
    let page = text_of(send(&app, get("/console/password", &here.cookie)).await).await;
    assert!(page.contains("id=\"current\"") && !page.contains("must-change"), "{page}");

    let change = |current, new, repeat| change_password(&app, &here, current, new, repeat);
    let notice = |code: &str| format!("/console/password?notice={code}");
    assert_eq!(change("wrong password!", "a new password", "a new password").await, notice("wrong_password"));
    assert_eq!(change(AGENT_PASSWORD, "a new password", "a new passw0rd").await, notice("passwords_differ"));
    assert_eq!(change(AGENT_PASSWORD, "short", "short").await, notice("weak_password"));
    assert_eq!(change(AGENT_PASSWORD, AGENT_PASSWORD, AGENT_PASSWORD).await, notice("same_password"));
    let forged = Agent { cookie: here.cookie.clone(), csrf: "0".repeat(64) };
    let fields = [
        ("csrf", forged.csrf.as_str()),
        ("current", AGENT_PASSWORD),
        ("new", "xxxxxxxxxxxx"),
        ("repeat", "xxxxxxxxxxxx"),
    ];
    assert_eq!(
        send(&app, form("/console/password", &forged.cookie, &fields)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, get("/console/queue", &laptop.cookie)).await.status(),
        StatusCode::OK,
        "nothing changed yet"
    );

    assert_eq!(
        change(AGENT_PASSWORD, "a brand new password", "a brand new password").await,
        "/console/queue?notice=password_changed"
    );
    assert_eq!(
        send(&app, get("/console/queue", &here.cookie)).await.status(),
        StatusCode::OK,
        "this session stays"
    );
    let other = send(&app, get("/console/queue", &laptop.cookie)).await;
    assert_eq!(location(&other), "/console/login", "her other session ended");
    assert_eq!(
        send(&app, get("/console/queue", &boris.cookie)).await.status(),
        StatusCode::OK,
        "not boris's"
    );
    sign_in_with(&app, "anna", "a brand new password").await;
    // Tries of the current password count with sign-ins against her name's limit (5 a minute:
    // two sign-ins, two changes and one more sign-in so far), so a session cannot be used to
    // guess it faster than the sign-in form allows.
    let guess = change("guess number one", "the next password", "the next password").await;
    assert_eq!(guess, notice("too_many"));
    app.stop().await;
}

#[tokio::test]
async fn an_admin_resets_a_password_and_the_agent_must_choose_their_own() {
    let app = TestApp::start().await;
    app.add_agent("admin", Role::Admin).await;
    app.add_agent("anna", Role::Agent).await;
    app.add_agent("boris", Role::Agent).await;
    let admin = sign_in(&app, "admin").await;
    let anna = sign_in(&app, "anna").await;
    let agents_page = text_of(send(&app, get("/console/agents", &admin.cookie)).await).await;
    assert!(agents_page.contains("action=\"/console/agents/anna/password\""), "{agents_page}");

    let reset = |who: &Agent, name: &str, password: &str| {
        let uri = format!("/console/agents/{name}/password");
        form(&uri, &who.cookie, &[("csrf", who.csrf.as_str()), ("password", password)])
    };
    let by_agent = send(&app, reset(&anna, "boris", "chosen by anna!")).await;
    assert_eq!(by_agent.status(), StatusCode::FORBIDDEN, "agents reset nobody's password");
    let own = send(&app, reset(&admin, "admin", "chosen by myself")).await;
    assert_eq!(own.status(), StatusCode::BAD_REQUEST, "their own goes through the password page");
    assert_eq!(
        location(&send(&app, reset(&admin, "anna", "short")).await),
        "/console/agents?notice=weak_password"
    );
    assert_eq!(
        send(&app, reset(&admin, "nobody", "long enough password")).await.status(),
        StatusCode::NOT_FOUND
    );
    sign_in_with(&app, "boris", AGENT_PASSWORD).await;

    let done = send(&app, reset(&admin, "anna", "the admin chose this")).await;
    assert_eq!(location(&done), "/console/agents?notice=password_reset:anna");
    let notice =
        text_of(send(&app, get("/console/agents?notice=password_reset:anna", &admin.cookie)).await).await;
    assert!(notice.contains("New password set for anna"), "{notice}");
    assert_eq!(
        location(&send(&app, get("/console/queue", &anna.cookie)).await),
        "/console/login",
        "her sessions ended"
    );
    let fresh = sign_in_with(&app, "anna", "the admin chose this").await;
    assert_eq!(location(&send(&app, get("/console/queue", &fresh)).await), "/console/password");
    let page = text_of(send(&app, get("/console/password", &fresh)).await).await;
    assert!(page.contains("id=\"must-change\""), "{page}");
    let csrf = csrf_in(&page);
    let own = [
        ("csrf", csrf.as_str()),
        ("current", "the admin chose this"),
        ("new", "anna's own choice"),
        ("repeat", "anna's own choice"),
    ];
    assert_eq!(
        location(&send(&app, form("/console/password", &fresh, &own)).await),
        "/console/queue?notice=password_changed"
    );
    assert_eq!(send(&app, get("/console/queue", &fresh)).await.status(), StatusCode::OK);
    // Signing out works before the change too.
    let boris_fresh = {
        let done = send(&app, reset(&admin, "boris", "the admin chose that")).await;
        assert_eq!(location(&done), "/console/agents?notice=password_reset:boris");
        sign_in_with(&app, "boris", "the admin chose that").await
    };
    let csrf = csrf_in(&text_of(send(&app, get("/console/password", &boris_fresh)).await).await);
    let out = send(&app, form("/console/logout", &boris_fresh, &[("csrf", &csrf)])).await;
    assert_eq!(location(&out), "/console/login");

    let disable = admin.post(&app, "/console/agents/boris/disable", &[]).await;
    assert_eq!(disable.status(), StatusCode::SEE_OTHER);
    let disabled = send(&app, reset(&admin, "boris", "long enough password")).await;
    assert_eq!(location(&disabled), "/console/agents?notice=agent_disabled");
    app.stop().await;
}

#[tokio::test]
async fn api_tokens_may_expire_and_an_expired_one_is_refused() {
    let app = TestApp::start().await;
    app.add_agent("admin", Role::Admin).await;
    app.add_agent("crm", Role::Agent).await;
    let admin = sign_in(&app, "admin").await;
    let create = |days: &str| {
        let fields =
            [("csrf", admin.csrf.as_str()), ("name", "nightly"), ("agent", "crm"), ("expires_in_days", days)];
        form("/console/tokens", &admin.cookie, &fields)
    };
    for bad in ["0", "-1", "3651", "soon"] {
        assert_eq!(send(&app, create(bad)).await.status(), StatusCode::BAD_REQUEST, "{bad:?}");
    }
    let page = text_of(send(&app, create("30")).await).await;
    let start = page.find("sbt_").expect("the new token is shown once");
    let token = page[start..start + 68].to_owned();
    let in_30_days = chrono::Utc::now() + chrono::Duration::days(30);
    assert!(page.contains(&in_30_days.format("%Y-%m-%d").to_string()), "the expiry is shown: {page}");
    let call = |token: &str| {
        Request::get("/api/tickets")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, call(&token)).await.status(), StatusCode::OK);

    // One that ended a moment ago, as the clock would leave the one above in 30 days.
    let crm = app.store.agent_by_name("crm").await.unwrap().unwrap();
    let now = switchboard::store::now_millis();
    let ended =
        switchboard::console::sessions::create_api_token(&*app.store, "old", crm.id, now - 10, Some(now - 1))
            .await
            .unwrap();
    let refused = send(&app, call(&ended)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    let listed = text_of(send(&app, get("/console/tokens", &admin.cookie)).await).await;
    assert!(listed.contains("<td>old</td><td>crm</td><td>expired</td>"), "{listed}");
    assert!(listed.contains("<td>nightly</td><td>crm</td><td>active</td>"), "{listed}");
    let never = text_of(send(&app, create("")).await).await;
    assert!(never.contains("<td>never</td>"), "no expiry: {never}");
    app.stop().await;
}

/// The console's own SQL in its PostgreSQL dialect: the same walk through both sides.
#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn console_and_web_chat_queries_work_on_postgres() {
    let app = TestApp::start_on_postgres().await;
    app.add_agent("anna", Role::Admin).await;
    let cookie = visitor(&app).await;
    chat(&app, &cookie, r#"{"id":"client-9001","button":"i:order"}"#).await;
    chat(&app, &cookie, r#"{"id":"client-9002","text":"AB-12345"}"#).await;
    let photo = send(&app, multipart(&cookie, "client-9003", "p.png", "image/png", &tiny_png())).await;
    assert_eq!(photo.status(), StatusCode::OK);
    chat(&app, &cookie, r#"{"id":"client-9004","text":"/agent"}"#).await;
    let has_photo = |events: &[serde_json::Value]| {
        events.iter().any(|event| event["photos"].as_array().is_some_and(|photos| !photos.is_empty()))
    };
    let events = read_events_until(send(&app, get("/chat/events", &cookie)).await, has_photo).await;
    let photo_url = events
        .iter()
        .find_map(|event| event["photos"].as_array().and_then(|p| p.first()).and_then(|u| u.as_str()))
        .unwrap()
        .to_owned();
    assert_eq!(send(&app, get(&photo_url, &cookie)).await.status(), StatusCode::OK);

    let anna = sign_in(&app, "anna").await;
    // The agents' languages and the queue's language filter, in this dialect too.
    let speaks_ru = [("csrf", anna.csrf.as_str()), ("console_lang", ""), ("speaks_ru", "1")];
    send(&app, form("/console/profile", &anna.cookie, &speaks_ru)).await;
    let filtered = text_of(send(&app, get("/console/queue?langs=mine", &anna.cookie)).await).await;
    assert!(filtered.contains("Waiting (0)"), "the web visitor wrote in English");
    let speaks_en = [("csrf", anna.csrf.as_str()), ("console_lang", "ru"), ("speaks_en", "1")];
    send(&app, form("/console/profile", &anna.cookie, &speaks_en)).await;
    let filtered = text_of(send(&app, get("/console/queue?langs=mine", &anna.cookie)).await).await;
    assert!(filtered.contains("Ожидают (1)"), "{filtered}");
    let ticket = app
        .store
        .list_tickets(
            Some(switchboard::core::handoff::TicketStatus::Queued),
            switchboard::store::Page::first(100_000),
        )
        .await
        .unwrap()[0]
        .id;
    let claim = anna.post(&app, &format!("/console/tickets/{ticket}/claim"), &[]).await;
    assert_eq!(location(&claim), format!("/console/tickets/{ticket}?notice=claimed#latest"));
    let page = text_of(send(&app, get(&format!("/console/tickets/{ticket}"), &anna.cookie)).await).await;
    assert!(page.contains("AB-12345") && page.contains("/console/media/"));
    let sha = photo_url.rsplit('/').next().unwrap();
    assert_eq!(
        send(&app, get(&format!("/console/media/{sha}"), &anna.cookie)).await.status(),
        StatusCode::OK
    );
    let canned = [("csrf", anna.csrf.as_str()), ("lang", "en"), ("title", "Hi"), ("body", "Hello there")];
    assert_eq!(
        send(&app, form("/console/canned", &anna.cookie, &canned)).await.status(),
        StatusCode::SEE_OTHER
    );
    let tokens = anna.post(&app, "/console/tokens", &[("name", "x"), ("agent", "anna")]).await;
    assert!(text_of(tokens).await.contains("sbt_"));
    let dashboard = text_of(send(&app, get("/console/dashboard", &anna.cookie)).await).await;
    assert!(dashboard.contains("id=\"fig-tickets\">1<"));
    assert!(app.store.change_marker().await.unwrap().last_ticket == 1);

    // Token expiry and password changes, in this dialect too.
    let fields =
        [("csrf", anna.csrf.as_str()), ("name", "weekly"), ("agent", "anna"), ("expires_in_days", "7")];
    let page = text_of(send(&app, form("/console/tokens", &anna.cookie, &fields)).await).await;
    let token = &page[page.find("sbt_").unwrap()..][..68];
    let call = |token: &str| {
        let bearer = format!("Bearer {token}");
        Request::get("/api/tickets").header(header::AUTHORIZATION, bearer).body(Body::empty()).unwrap()
    };
    assert_eq!(send(&app, call(token)).await.status(), StatusCode::OK);
    let now = switchboard::store::now_millis();
    let anna_id = app.store.agent_by_name("anna").await.unwrap().unwrap().id;
    let ended =
        switchboard::console::sessions::create_api_token(&*app.store, "old", anna_id, now, Some(now - 1));
    assert_eq!(send(&app, call(&ended.await.unwrap())).await.status(), StatusCode::UNAUTHORIZED);
    let other = sign_in(&app, "anna").await;
    let changed = change_password(&app, &anna, AGENT_PASSWORD, "anna's new password", "anna's new password");
    assert_eq!(changed.await, "/console/queue?notice=password_changed");
    assert_eq!(location(&send(&app, get("/console/queue", &other.cookie)).await), "/console/login");
    assert_eq!(send(&app, get("/console/queue", &anna.cookie)).await.status(), StatusCode::OK);
    app.add_agent("boris", Role::Agent).await;
    let reset = [("csrf", anna.csrf.as_str()), ("password", "chosen by anna")];
    let done = send(&app, form("/console/agents/boris/password", &anna.cookie, &reset)).await;
    assert_eq!(location(&done), "/console/agents?notice=password_reset:boris");
    let boris = sign_in_with(&app, "boris", "chosen by anna").await;
    assert_eq!(location(&send(&app, get("/console/queue", &boris)).await), "/console/password");
    app.stop().await;
}

#[tokio::test]
async fn live_updates_reach_the_console() {
    let app = TestApp::start().await;
    app.add_agent("anna", Role::Agent).await;
    let anna = sign_in(&app, "anna").await;
    let queue_live = send(&app, get("/console/live", &anna.cookie)).await;
    assert_eq!(queue_live.headers().get(header::CONTENT_TYPE).unwrap(), "text/event-stream");
    let ticket = customer_asks_for_human(&app, "telegram", "6006", "is anyone there?").await;
    let changed = read_events(queue_live, 1).await;
    assert!(changed[0].is_number(), "a `changed` event names the newest log id");

    let page = text_of(send(&app, get(&format!("/console/tickets/{ticket}"), &anna.cookie)).await).await;
    // The page's status marker is what the live stream reports, so an unchanged ticket
    // does not make the page reload itself.
    assert!(page.contains("data-status=\"queued|\""), "{page}");
    assert_eq!(app.store.ticket_status(ticket).await.unwrap().as_deref(), Some("queued|"));
    let marker = "data-after=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let after: i64 = page[start..].split('"').next().unwrap().parse().unwrap();
    let ticket_live =
        send(&app, get(&format!("/console/tickets/{ticket}/live?after={after}"), &anna.cookie)).await;
    let event = InboundEvent {
        channel: "telegram",
        event_id: "6006-late".to_owned(),
        external_id: "6006".to_owned(),
        language_hint: None,
        display_name: None,
        contact_data: None,
        kind: InboundKind::Input(Input::Text { text: "hello? <b>still</b> waiting".to_owned() }),
    };
    app.engine.accept(event).await.unwrap();
    let lines = read_events_until(ticket_live, |events| {
        events.iter().any(|event| event["text"] == "hello? <b>still</b> waiting")
    })
    .await;
    let line = lines.iter().find(|event| event["author"] == "customer").unwrap();
    assert!(line["id"].as_i64().unwrap() > after, "only lines after the page's last one");
    assert_eq!(line["label"], "Customer");
    let strangers = send(&app, get(&format!("/console/tickets/{ticket}/live"), "")).await;
    assert_eq!(strangers.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn every_console_page_warns_while_a_channel_is_down() {
    let app = TestApp::start().await;
    app.add_agent("olga", Role::Agent).await;
    let agent = sign_in(&app, "olga").await;
    let channels = &app.channels;
    channels.set("webchat", switchboard::channel_state::ChannelState::Up);
    let quiet = text_of(send(&app, get("/console/queue", &agent.cookie)).await).await;
    assert!(!quiet.contains("class=\"banner\""), "no banner while every channel is up");

    let reason = "Telegram: error sending request <GetMe>".to_owned();
    channels.set("telegram", switchboard::channel_state::ChannelState::Retrying { reason, attempt: 2 });
    for page in ["/console/queue", "/console/dashboard", "/console/canned"] {
        let html = text_of(send(&app, get(page, &agent.cookie)).await).await;
        assert!(html.contains("class=\"banner\" role=\"alert\""), "{page}: {html}");
        assert!(html.contains("telegram: retrying after 2 failed attempt(s)"), "{page}");
        assert!(html.contains("&lt;GetMe&gt;") || html.contains("&#60;GetMe&#62;"), "escaped: {page}");
    }
    channels.set("telegram", switchboard::channel_state::ChannelState::Up);
    let quiet = text_of(send(&app, get("/console/queue", &agent.cookie)).await).await;
    assert!(!quiet.contains("class=\"banner\""), "the banner goes when the channel is back");
    app.stop().await;
}

#[tokio::test]
async fn the_queue_shows_a_pressed_button_by_its_label() {
    let app = TestApp::start().await;
    app.add_agent("olga", Role::Agent).await;
    customer_asks_for_human(&app, "telegram", "ann", "my parcel is late").await;
    let press = Input::Button { action: switchboard::core::message::Action::NotHelped };
    app.engine.accept(customer_event("telegram", "ann", "ann-press", "en", press)).await.unwrap();
    let agent = sign_in(&app, "olga").await;
    let queue = text_of(send(&app, get("/console/queue", &agent.cookie)).await).await;
    assert!(!queue.contains("[no]"), "{queue}");
    assert!(queue.contains("Pressed: No"), "{queue}");
    app.stop().await;
}

#[tokio::test]
async fn customers_see_an_agents_display_name_and_photo_never_the_login() {
    use switchboard::channels::webchat::ChatLog;
    use switchboard::core::message::Arg;
    let app = TestApp::start().await;
    app.add_agent("olga", Role::Agent).await;
    app.add_agent("bob", Role::Agent).await;
    let photo = app.media.store(&tiny_png()).await.unwrap().sha256;
    switchboard::console::agents::set_profile(&*app.store, "olga", Some("Olga K."), Some(&photo))
        .await
        .unwrap();

    // A Telegram customer: the arrival and the reply carry the display name.
    let ticket = customer_asks_for_human(&app, "telegram", "ann", "my parcel is late").await;
    app.engine.claim(ticket, "olga").await.unwrap();
    app.engine
        .agent_reply(
            ticket,
            &switchboard::core::handoff::Actor::new("olga", false),
            "It leaves today.",
            Vec::new(),
        )
        .await
        .unwrap();
    // Bob has no display name: the customer hears of "our support team".
    let other = customer_asks_for_human(&app, "telegram", "cid", "where is my refund").await;
    app.engine.claim(other, "bob").await.unwrap();
    until(|| async {
        let delivered = app.telegram.delivered.lock().unwrap();
        let unnamed = delivered.iter().any(|delivery| {
            matches!(&delivery.message, Outbound::Bot(reply) if reply.key() == "agent-joined-unnamed")
        });
        unnamed && delivered.iter().any(|delivery| matches!(delivery.message, Outbound::Agent { .. }))
    })
    .await;
    let delivered = app.telegram.delivered.lock().unwrap().clone();
    let joined: Vec<(String, Vec<(String, Arg)>)> = delivered
        .iter()
        .filter_map(|delivery| match &delivery.message {
            Outbound::Bot(reply) if reply.key().starts_with("agent-joined") => {
                Some((reply.key().to_owned(), reply.text.args.clone()))
            }
            _ => None,
        })
        .collect();
    assert!(joined.contains(&("agent-joined".into(), vec![("agent".into(), Arg::Text("Olga K.".into()))])));
    assert!(joined.contains(&("agent-joined-unnamed".into(), Vec::new())), "{joined:?}");
    let said = delivered.iter().find_map(|delivery| match &delivery.message {
        Outbound::Agent { agent, text, .. } => Some((agent.clone(), text.clone())),
        _ => None,
    });
    assert_eq!(said, Some(("Olga K.".to_owned(), "It leaves today.".to_owned())));
    let payloads = format!("{delivered:?}");
    assert!(!payloads.contains("\"olga\"") && !payloads.contains("\"bob\""), "no login reaches a customer");

    // A web chat visitor sees the display name and the photo, which they may fetch.
    let visitor = "visitor-1";
    let web_ticket = customer_asks_for_human(&app, "webchat", visitor, "the lid is cracked").await;
    app.engine.claim(web_ticket, "olga").await.unwrap();
    app.engine
        .agent_reply(
            web_ticket,
            &switchboard::core::handoff::Actor::new("olga", false),
            "Sending a new one.",
            Vec::new(),
        )
        .await
        .unwrap();
    let page = app.engine.messages_after(visitor, 0, 100).await.unwrap();
    let from_agent: Vec<_> =
        page.messages.iter().filter(|m| m.agent.is_some() || m.agent_photo.is_some()).collect();
    assert_eq!(from_agent.len(), 1);
    assert_eq!(from_agent[0].agent.as_deref(), Some("Olga K."));
    assert_eq!(from_agent[0].agent_photo.as_deref(), Some(photo.as_str()));
    let shown = send(&app, get(&format!("/chat/agent-photos/{photo}"), "")).await;
    assert_eq!(shown.status(), StatusCode::OK);
    let other_image = "ab".repeat(32);
    assert_eq!(
        send(&app, get(&format!("/chat/agent-photos/{other_image}"), "")).await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn the_queue_and_the_api_are_paged_and_a_bare_web_request_waits_last() {
    let app = TestApp::start().await;
    app.add_agent("admin", Role::Admin).await;
    app.add_agent("crm", Role::Agent).await;
    // A web visitor who says nothing but "human" comes first; 55 messenger customers follow.
    let cookie = visitor(&app).await;
    assert_eq!(chat(&app, &cookie, r#"{"id":"client-0001","text":"human"}"#).await.status(), StatusCode::OK);
    for n in 0..55 {
        customer_asks_for_human(&app, "telegram", &format!("70{n:02}"), "my parcel is late").await;
    }
    let admin = sign_in(&app, "admin").await;

    let first = text_of(send(&app, get("/console/queue", &admin.cookie)).await).await;
    assert!(first.contains("Waiting (56)"), "the count is the whole queue's");
    assert_eq!(first.matches("/claim\"").count(), 50, "one page of 50");
    assert!(first.contains("rel=\"next\"") && !first.contains("low trust"));
    let second = text_of(send(&app, get("/console/queue?page=1", &admin.cookie)).await).await;
    assert_eq!(second.matches("/claim\"").count(), 6);
    assert!(second.contains("low trust"), "the bare web request is last, and marked");
    assert!(second.contains("rel=\"prev\"") && !second.contains("rel=\"next\""));

    let created = admin.post(&app, "/console/tokens", &[("name", "CRM"), ("agent", "crm")]).await;
    let page = text_of(created).await;
    let start = page.find("sbt_").expect("the new token is shown once");
    let auth = format!("Bearer {}", &page[start..start + 68]);
    let api = |uri: &str| Request::get(uri).header(header::AUTHORIZATION, &auth).body(Body::empty()).unwrap();
    let listed: serde_json::Value =
        serde_json::from_str(&text_of(send(&app, api("/api/tickets")).await).await).unwrap();
    assert_eq!(listed["tickets"].as_array().unwrap().len(), 50);
    assert_eq!(listed["next_offset"], 50);
    let rest: serde_json::Value =
        serde_json::from_str(&text_of(send(&app, api("/api/tickets?offset=50")).await).await).unwrap();
    assert_eq!(rest["tickets"].as_array().unwrap().len(), 6);
    assert_eq!(rest["next_offset"], serde_json::Value::Null);
    assert_eq!(rest["tickets"][5]["priority"], "low");
    assert_eq!(rest["tickets"][5]["channel"], "webchat");
    for bad in ["/api/tickets?limit=201", "/api/tickets?limit=0", "/api/tickets?offset=-1"] {
        assert_eq!(send(&app, api(bad)).await.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    app.stop().await;
}

#[tokio::test]
async fn without_javascript_the_ticket_opens_at_its_newest_message() {
    let app = TestApp::start().await;
    app.add_agent("olga", Role::Agent).await;
    let ticket = customer_asks_for_human(&app, "telegram", "ann", "my parcel is late").await;
    let agent = sign_in(&app, "olga").await;
    let queue = text_of(send(&app, get("/console/queue", &agent.cookie)).await).await;
    assert!(queue.contains(&format!("href=\"/console/tickets/{ticket}#latest\"")), "{queue}");
    let page = text_of(send(&app, get(&format!("/console/tickets/{ticket}"), &agent.cookie)).await).await;
    let transcript = &page[page.find("id=\"transcript\"").unwrap()..page.find("</ol>").unwrap()];
    let newest = transcript.rfind("my parcel is late").expect("the customer's last message");
    let anchor = transcript.find("id=\"latest\"").expect("an anchor for the newest message");
    assert!(anchor > newest, "the anchor follows the newest message");
    app.stop().await;
}

#[tokio::test]
async fn one_visitor_may_hold_only_a_few_event_streams() {
    let app = TestApp::start().await;
    let cookie = visitor(&app).await;
    let app = &app;
    let open = async |cookie: String| send(app, get("/chat/events", &cookie)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let stream = open(cookie.clone()).await;
        assert_eq!(stream.status(), StatusCode::OK);
        held.push(stream);
    }
    let refused = open(cookie.clone()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(text_of(refused).await.contains("too_many_streams"));
    // Another visitor is not affected, and a closed stream frees its place.
    assert_eq!(open(visitor(app).await).await.status(), StatusCode::OK);
    held.pop();
    assert_eq!(open(cookie).await.status(), StatusCode::OK);
}

/// A GET from a browser that asks for `languages` (an `Accept-Language` value).
fn get_in(uri: &str, cookie: &str, languages: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT_LANGUAGE, languages)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_russian_speaking_agent_sees_the_console_in_russian_then_in_the_language_they_chose() {
    let app = TestApp::start().await;
    app.add_agent("olga", Role::Agent).await;
    let ticket = customer_asks_for_human(&app, "telegram", "ann", "my parcel is late").await;

    // Before sign-in the browser decides.
    let login = text_of(send(&app, get_in("/console/login", "", "ru-RU,ru;q=0.9,en;q=0.5")).await).await;
    assert!(login.contains("<html lang=\"ru\">") && login.contains("Имя оператора"), "{login}");
    assert!(!login.contains("Agent name"));
    let login = text_of(send(&app, get_in("/console/login", "", "zh-CN,zh;q=0.9")).await).await;
    assert!(login.contains("客服账号"), "{login}");
    let login = text_of(send(&app, get_in("/console/login", "", "de-DE")).await).await;
    assert!(login.contains("<html lang=\"en\">") && login.contains("Agent name"));

    // Signed in, with no choice made, the browser still decides.
    let olga = sign_in(&app, "olga").await;
    let queue = text_of(send(&app, get_in("/console/queue", &olga.cookie, "ru")).await).await;
    assert!(queue.contains("Очередь") && queue.contains("Ожидают (1)") && queue.contains("Взять"), "{queue}");
    assert!(queue.contains("English"), "the ticket's language by name: {queue}");
    assert!(!queue.contains("Waiting ("));

    // Her choice wins over the browser, on every page and in the notices after an action.
    let choose = [("csrf", olga.csrf.as_str()), ("console_lang", "ru"), ("speaks_ru", "1")];
    let saved = send(&app, form("/console/profile", &olga.cookie, &choose)).await;
    assert_eq!(location(&saved), "/console/password?notice=profile_saved");
    let profile = text_of(send(&app, get(&location(&saved), &olga.cookie)).await).await;
    assert!(profile.contains("Языки сохранены.") && profile.contains("Смена пароля"), "{profile}");
    assert!(profile.contains("value=\"ru\" lang=\"ru\" selected"), "{profile}");
    assert!(profile.contains("id=\"speaks-ru\" value=\"1\" checked"), "{profile}");
    let queue = text_of(send(&app, get_in("/console/queue", &olga.cookie, "en-US")).await).await;
    assert!(queue.contains("<html lang=\"ru\">") && queue.contains("Ожидают (1)"), "{queue}");
    let claim =
        send(&app, form(&format!("/console/tickets/{ticket}/claim"), &olga.cookie, &[("csrf", &olga.csrf)]));
    assert_eq!(location(&claim.await), format!("/console/tickets/{ticket}?notice=claimed#latest"));
    let page = get(&format!("/console/tickets/{ticket}?notice=claimed"), &olga.cookie);
    let page = text_of(send(&app, page).await).await;
    assert!(page.contains("Обращение теперь ваше."), "{page}");
    assert!(page.contains(&format!("Обращение №{ticket}")) && page.contains("в работе"), "{page}");
    assert!(page.contains("Клиент") && page.contains("Ответ клиенту"), "{page}");
    assert!(page.contains("data-text-not-sent=\"Не отправлено"), "console.js's texts: {page}");
    let today = chrono::Utc::now().format("%d.%m.%Y").to_string();
    assert!(page.contains(&today), "dates as Russians write them: {page}");

    // Chinese, and back to following the browser.
    let choose = [("csrf", olga.csrf.as_str()), ("console_lang", "zh")];
    send(&app, form("/console/profile", &olga.cookie, &choose)).await;
    let dashboard = text_of(send(&app, get_in("/console/dashboard", &olga.cookie, "ru")).await).await;
    assert!(dashboard.contains("数据概览") && dashboard.contains("最近 30 天"), "{dashboard}");
    let follow = [("csrf", olga.csrf.as_str()), ("console_lang", "")];
    send(&app, form("/console/profile", &olga.cookie, &follow)).await;
    let queue = text_of(send(&app, get("/console/queue", &olga.cookie)).await).await;
    assert!(queue.contains("<html lang=\"en\">") && queue.contains("Queue"), "{queue}");

    // A made-up language and a wrong form token change nothing.
    let bad = [("csrf", olga.csrf.as_str()), ("console_lang", "de")];
    assert_eq!(
        send(&app, form("/console/profile", &olga.cookie, &bad)).await.status(),
        StatusCode::BAD_REQUEST
    );
    let forged = [("csrf", "forged"), ("console_lang", "zh")];
    let mut forged = form("/console/profile", &olga.cookie, &forged);
    forged.headers_mut().insert(header::ACCEPT_LANGUAGE, "ru".parse().unwrap());
    let refused = send(&app, forged).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = text_of(refused).await;
    assert!(refused.contains("Форма устарела") && refused.contains("Вернуться к очереди"), "{refused}");
    let stored = app.store.agent_by_name("olga").await.unwrap().unwrap();
    assert_eq!(stored.console_lang, None);
    assert_eq!(stored.languages, Vec::<switchboard::core::message::Lang>::new(), "the last form ticked none");
    app.stop().await;
}

#[tokio::test]
async fn the_queue_can_keep_to_the_agents_languages_and_the_live_fragment_keeps_the_filter() {
    let app = TestApp::start().await;
    app.add_agent("wei", Role::Agent).await;
    let russian =
        customer_in_language_asks_for_human(&app, "telegram", "ivan", "посылка не пришла", "ru").await;
    let chinese = customer_in_language_asks_for_human(&app, "telegram", "li", "包裹没到", "zh").await;
    let english = customer_asks_for_human(&app, "telegram", "ann", "my parcel is late").await;
    let wei = sign_in(&app, "wei").await;
    let claim_link = |id: i64| format!("/console/tickets/{id}/claim\"");

    // Without languages listed there is nothing to keep to: every ticket, and a pointer.
    let queue = text_of(send(&app, get("/console/queue?langs=mine", &wei.cookie)).await).await;
    assert!(queue.contains("Waiting (3)") && queue.contains("List the languages you speak"), "{queue}");

    let speaks =
        [("csrf", wei.csrf.as_str()), ("console_lang", "zh"), ("speaks_ru", "1"), ("speaks_zh", "1")];
    send(&app, form("/console/profile", &wei.cookie, &speaks)).await;
    let all = text_of(send(&app, get("/console/queue", &wei.cookie)).await).await;
    assert!(all.contains("等待中（3）"), "{all}");
    assert!(all.contains("href=\"/console/queue?langs=mine\"") && all.contains("Русский, 中文"), "{all}");
    for id in [russian, chinese, english] {
        assert!(all.contains(&claim_link(id)));
    }
    assert!(
        all.contains("lang=\"ru\">Русский</span>") && all.contains("lang=\"en\">English</span>"),
        "{all}"
    );

    let mine = text_of(send(&app, get("/console/queue?langs=mine", &wei.cookie)).await).await;
    assert!(mine.contains("等待中（2）") && mine.contains("id=\"show-all-languages\""), "{mine}");
    assert!(mine.contains(&claim_link(russian)) && mine.contains(&claim_link(chinese)));
    assert!(!mine.contains(&claim_link(english)));
    assert!(mine.contains("data-fragment=\"/console/queue?fragment=1&amp;page=0&amp;langs=mine\""), "{mine}");
    let fragment =
        text_of(send(&app, get("/console/queue?fragment=1&page=0&langs=mine", &wei.cookie)).await).await;
    assert!(!fragment.contains("<html") && fragment.contains(&claim_link(chinese)));
    assert!(!fragment.contains(&claim_link(english)), "{fragment}");
    app.stop().await;
}
