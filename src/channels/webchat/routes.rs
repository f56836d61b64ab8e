//! HTTP routes of the web chat. See the module documentation in `mod.rs` for the protocol.

use super::cookie::{VISITOR_COOKIE, new_visitor_id};
use super::message::{parse_message, valid_client_id};
use super::{CHANNEL, ChatAuthor, LoggedMessage, WebChatState};
use crate::channels::{Accepted, InboundEvent, InboundKind};
use crate::core::dialog::{Input, PhotoProblem};
use crate::core::message::Lang;
use crate::media::MediaError;
use crate::web::client::ClientAddress;
use crate::web::content_type::{self, Declared};
use crate::web::cookie::request_cookie;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;

/// How many log rows one read takes; a long history arrives in several reads.
const PAGE: i64 = 200;

/// The web chat's routes: `/` (the demo store page), `/static/widget.*` and `/chat/...`.
pub fn router(state: WebChatState) -> axum::Router {
    let upload_limit =
        usize::try_from(state.media.max_bytes()).unwrap_or(usize::MAX).saturating_add(256 * 1024);
    let message_limit = state.settings.max_message_bytes;
    Router::new()
        .route("/", get(store_page))
        .route("/static/widget.js", get(|| asset("text/javascript; charset=utf-8", WIDGET_JS)))
        .route("/static/widget.css", get(|| asset("text/css; charset=utf-8", WIDGET_CSS)))
        .route("/static/store.css", get(|| asset("text/css; charset=utf-8", STORE_CSS)))
        .route("/chat/start", post(start))
        .route("/chat/events", get(events))
        .route("/chat/messages", post(send_message))
        .route("/chat/photos", post(upload_photo).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/chat/media/{sha256}", get(media))
        .route("/chat/agent-photos/{sha256}", get(agent_photo))
        .layer(DefaultBodyLimit::max(message_limit))
        .with_state(state)
}

const STORE_HTML: &str = include_str!("../../../static/index.html");
const WIDGET_JS: &str = include_str!("../../../static/widget.js");
const WIDGET_CSS: &str = include_str!("../../../static/widget.css");
const STORE_CSS: &str = include_str!("../../../static/store.css");

/// Scripts and styles come only from this origin; nothing inline, so injected markup could
/// not run even if it got onto the page.
const CSP: &str = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'";

async fn store_page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        STORE_HTML,
    )
        .into_response()
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// A JSON error the widget can act on: `{"error": code, ...}`.
fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(serde_json::json!({ "error": code }))).into_response()
}

fn visitor_of(state: &WebChatState, headers: &HeaderMap) -> Option<String> {
    request_cookie(headers, VISITOR_COOKIE).and_then(|value| state.cookie_key.verify(value))
}

fn visitor_cookie(state: &WebChatState, visitor: &str) -> HeaderValue {
    let secure = if state.settings.secure_cookies { "; Secure" } else { "" };
    let value = format!(
        "{VISITOR_COOKIE}={}; Path=/chat; HttpOnly; SameSite=Strict; Max-Age=31536000{secure}",
        state.cookie_key.sign(visitor)
    );
    HeaderValue::from_str(&value).expect("cookie values are ASCII")
}

/// The browser's first language tag (`ru-RU` from `ru-RU,ru;q=0.9,en;q=0.8`).
fn language_hint(headers: &HeaderMap) -> Option<String> {
    let accept = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    let first = accept.split(',').next()?.split(';').next()?.trim();
    (!first.is_empty() && first != "*" && first.len() <= 35).then(|| first.to_owned())
}

fn hinted_lang(headers: &HeaderMap, default: Lang) -> Lang {
    language_hint(headers)
        .and_then(|hint| hint.split(['-', '_']).next().map(str::to_ascii_lowercase))
        .and_then(|primary| Lang::from_code(&primary))
        .unwrap_or(default)
}

#[derive(Serialize)]
struct StartAnswer {
    lang: Lang,
    max_photo_bytes: u64,
    /// For a visitor without a conversation: the greeting and the topics, rendered but not
    /// stored, so a page view that goes no further costs no row. The conversation begins
    /// with whatever the visitor does next (a topic's button or a message).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    welcome: Vec<WelcomeMessage>,
}

/// A bot message shown before the conversation exists: no id, never in the log.
#[derive(Serialize)]
struct WelcomeMessage {
    author: ChatAuthor,
    text: String,
    buttons: Vec<Vec<WireButton>>,
}

fn wire_buttons(rendered: Vec<Vec<crate::i18n::RenderedButton>>) -> Vec<Vec<WireButton>> {
    rendered
        .into_iter()
        .map(|row| row.into_iter().map(|b| WireButton { label: b.label, data: b.data }).collect())
        .collect()
}

/// The greeting and the topics as one message, as `/start` gets them on every channel.
fn welcome(state: &WebChatState, lang: Lang) -> Vec<WelcomeMessage> {
    crate::core::turn::messages(crate::core::dialog::welcome())
        .iter()
        .map(|reply| {
            let rendered = (state.render)(lang, reply);
            WelcomeMessage {
                author: ChatAuthor::Bot,
                text: rendered.text,
                buttons: wire_buttons(rendered.buttons),
            }
        })
        .collect()
}

/// Gives the browser a visitor cookie (keeping a valid one) and tells the widget its language.
/// New visitors per client address and hour are limited (429 `too_many_visitors`): each one
/// may open a ticket, and a script must not fill the agents' queue with strangers.
async fn start(State(state): State<WebChatState>, address: ClientAddress, headers: HeaderMap) -> Response {
    let existing = visitor_of(&state, &headers);
    if existing.is_none() && !state.limits.new_visitor(address) {
        tracing::warn!("web chat: new-visitor limit reached for an address");
        return error(StatusCode::TOO_MANY_REQUESTS, "too_many_visitors");
    }
    let visitor = existing.clone().unwrap_or_else(new_visitor_id);
    let known_lang = match &existing {
        Some(visitor) => match state.log.messages_after(visitor, i64::MAX, 0).await {
            Ok(page) => page.lang,
            Err(problem) => {
                tracing::warn!(error = %problem, "web chat: reading the visitor's language failed");
                None
            }
        },
        None => None,
    };
    let welcome = if known_lang.is_none() {
        welcome(&state, hinted_lang(&headers, state.settings.default_lang))
    } else {
        Vec::new()
    };
    let lang = known_lang.unwrap_or_else(|| hinted_lang(&headers, state.settings.default_lang));
    let answer = Json(StartAnswer { lang, max_photo_bytes: state.media.max_bytes(), welcome });
    let mut response = answer.into_response();
    response.headers_mut().insert(header::SET_COOKIE, visitor_cookie(&state, &visitor));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
struct EventsQuery {
    after: Option<i64>,
}

/// The visitor's conversation as a stream: history after the given id, then live.
async fn events(
    State(state): State<WebChatState>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(visitor) = visitor_of(&state, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "no_visitor");
    };
    let Some(slot) = state.limits.open_stream(&visitor) else {
        return error(StatusCode::TOO_MANY_REQUESTS, "too_many_streams");
    };
    let resumed_from = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok());
    let after = query.after.unwrap_or(0).max(resumed_from.unwrap_or(0)).max(0);
    let wake = state.hub.subscribe(&visitor);
    let follow =
        Follow { state, visitor, last: after, wake, ready: VecDeque::new(), read_now: true, _slot: slot };
    let mut response = Sse::new(follow_log(follow)).keep_alive(KeepAlive::default()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

struct Follow {
    state: WebChatState,
    visitor: String,
    last: i64,
    wake: broadcast::Receiver<()>,
    ready: VecDeque<Event>,
    read_now: bool,
    /// Held while the stream lives: the visitor's place among the open streams.
    _slot: crate::web::limits::StreamSlot,
}

fn follow_log(follow: Follow) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(follow, |mut follow| async move {
        loop {
            if let Some(event) = follow.ready.pop_front() {
                return Some((Ok(event), follow));
            }
            if !follow.read_now {
                // A wake-up, or the poll interval: either way, read the log again.
                let _ = tokio::time::timeout(follow.state.settings.poll_interval, follow.wake.recv()).await;
            }
            follow.read_now = false;
            match follow.state.log.messages_after(&follow.visitor, follow.last, PAGE).await {
                Ok(page) => {
                    let lang = page.lang.unwrap_or(follow.state.settings.default_lang);
                    follow.read_now = page.messages.len() as i64 == PAGE;
                    for message in page.messages {
                        follow.last = follow.last.max(message.id);
                        if let Some(wire) = wire_message(&follow.state, &follow.visitor, lang, message) {
                            let data = serde_json::to_string(&wire).unwrap_or_default();
                            follow.ready.push_back(
                                Event::default().id(wire.id.to_string()).event("message").data(data),
                            );
                        }
                    }
                }
                Err(problem) => {
                    tracing::warn!(error = %problem, "web chat: reading the message log failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

#[derive(Serialize)]
struct WireButton {
    label: String,
    data: String,
}

/// One message as the widget receives it. Text is plain text: the widget puts it into the
/// page with `textContent`, never as markup.
#[derive(Serialize)]
struct WireMessage {
    id: i64,
    author: ChatAuthor,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
    /// The agent's photo, as a URL under `/chat/agent-photos/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_photo: Option<String>,
    text: String,
    buttons: Vec<Vec<WireButton>>,
    photos: Vec<String>,
    /// The id the widget gave a customer message, so it can match its own echo.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
}

fn wire_message(
    state: &WebChatState,
    visitor: &str,
    lang: Lang,
    message: LoggedMessage,
) -> Option<WireMessage> {
    let (text, buttons, attachments) = match (&message.author, &message.reply) {
        (ChatAuthor::Bot, Some(reply)) => {
            let rendered = (state.render)(lang, reply);
            (rendered.text, wire_buttons(rendered.buttons), rendered.attachments)
        }
        // A bot row without its structured reply cannot be rendered: leave it out.
        (ChatAuthor::Bot, None) => return None,
        // Button presses are logged as "[i:order]" for agents; the widget shows the press itself.
        (ChatAuthor::Customer, _) if message.structured => (String::new(), Vec::new(), message.attachments),
        _ => (message.text.clone().unwrap_or_default(), Vec::new(), message.attachments),
    };
    if text.is_empty() && attachments.is_empty() && buttons.is_empty() && message.event_id.is_none() {
        return None;
    }
    let prefix = format!("{visitor}:");
    Some(WireMessage {
        id: message.id,
        author: message.author,
        agent: message.agent,
        agent_photo: message.agent_photo.map(|sha256| format!("/chat/agent-photos/{sha256}")),
        text,
        buttons,
        photos: attachments.iter().map(|media| format!("/chat/media/{}", media.sha256)).collect(),
        client_id: message.event_id.as_deref().and_then(|id| id.strip_prefix(&prefix)).map(str::to_owned),
    })
}

/// Text or a button press from the widget. Refusals, in order: a body over the limit (413),
/// no valid visitor cookie (401), a body not declared as JSON (415), then what
/// [`parse_message`] finds (400 or 422). Every refusal is JSON `{"error": code}`.
async fn send_message(
    State(state): State<WebChatState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
        }
        Err(_) => return error(StatusCode::BAD_REQUEST, "bad_body"),
    };
    let Some(visitor) = visitor_of(&state, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "no_visitor");
    };
    if content_type::declared(&headers) != Declared::Json {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected_json");
    }
    match parse_message(&body) {
        Ok(message) => match message.identity {
            None => accept(&state, &visitor, &message.client_id, &headers, message.input).await,
            Some(identity) => {
                identified(&state, &visitor, &message.client_id, &headers, identity, message.input).await
            }
        },
        Err(problem) => error(problem.status(), problem.code()),
    }
}

/// A message from a signed-in customer: the identity (checked by the engine, which links the
/// contact to the store's customer) and the message, stored in one transaction, so the
/// message is already answered as the customer's.
async fn identified(
    state: &WebChatState,
    visitor: &str,
    client_id: &str,
    headers: &HeaderMap,
    identity: crate::customers::SignedIdentity,
    input: Input,
) -> Response {
    let event = |suffix: &str, kind: InboundKind| InboundEvent {
        channel: CHANNEL,
        event_id: format!("{visitor}:{client_id}{suffix}"),
        external_id: visitor.to_owned(),
        language_hint: language_hint(headers),
        display_name: None,
        contact_data: None,
        kind,
    };
    let events =
        vec![event(":identity", InboundKind::Identify { identity }), event("", InboundKind::Input(input))];
    match state.intake.accept_batch(events).await {
        Ok(accepted) => match accepted.last() {
            Some(Accepted::Applied { .. }) => {
                Json(serde_json::json!({ "status": "applied" })).into_response()
            }
            _ => Json(serde_json::json!({ "status": "duplicate" })).into_response(),
        },
        Err(problem) => {
            tracing::warn!(error = %problem, "web chat: the engine did not store a message");
            error(StatusCode::SERVICE_UNAVAILABLE, "try_again")
        }
    }
}

/// Hands one input to the engine; only a durable store is answered with 200.
async fn accept(
    state: &WebChatState,
    visitor: &str,
    client_id: &str,
    headers: &HeaderMap,
    input: Input,
) -> Response {
    let event = InboundEvent {
        channel: CHANNEL,
        // Client ids are only unique per browser; the visitor id makes them unique per channel.
        event_id: format!("{visitor}:{client_id}"),
        external_id: visitor.to_owned(),
        language_hint: language_hint(headers),
        display_name: None,
        contact_data: None,
        kind: InboundKind::Input(input),
    };
    match state.intake.accept(event).await {
        Ok(Accepted::Applied { .. }) => Json(serde_json::json!({ "status": "applied" })).into_response(),
        Ok(Accepted::Duplicate) => Json(serde_json::json!({ "status": "duplicate" })).into_response(),
        Err(problem) => {
            tracing::warn!(error = %problem, "web chat: the engine did not store a message");
            error(StatusCode::SERVICE_UNAVAILABLE, "try_again")
        }
    }
}

/// An image from the widget: multipart fields `id`, `photo` and an optional `caption`.
/// Refusals: no valid visitor cookie (401), not declared as `multipart/form-data` (415), a
/// broken form (400), an `id` or `caption` that is not UTF-8 text (400: browsers send text
/// fields as UTF-8, so anything else is not from the widget), a caption longer than a message
/// may be (400), a body over the upload limit (413). A photo over the media limit (413) or not
/// an image (415) is also told to the dialog when its id is known, so the bot explains it in
/// the customer's language; nothing is written to the media folder for either.
///
/// Limits, before anything else is read: more photos this hour than the visitor's or the
/// address's allowance (429 `too_many_photos`), or every upload slot busy (503 `try_again`);
/// once the photo is read, more megabytes this hour than allowed (429 `photo_quota`); and
/// while the media disk is low, 507 `storage_full` (the bot says so; text keeps working).
async fn upload_photo(
    State(state): State<WebChatState>,
    address: ClientAddress,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let Some(visitor) = visitor_of(&state, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "no_visitor");
    };
    if state.limits.photo(&visitor, address).is_err() {
        return error(StatusCode::TOO_MANY_REQUESTS, "too_many_photos");
    }
    let Some(_turn) = state.limits.upload_turn() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "try_again");
    };
    let mut form = match form {
        Ok(form) => form,
        Err(_) if content_type::declared(&headers) != Declared::MultipartForm => {
            return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected_multipart");
        }
        Err(_) => return error(StatusCode::BAD_REQUEST, "bad_upload"),
    };
    let limit_mb = state.media.max_megabytes();
    let mut client_id: Option<String> = None;
    let mut caption: Option<String> = None;
    let mut photo: Option<Vec<u8>> = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let bytes = match field.bytes().await {
                    Ok(bytes) => bytes,
                    Err(problem) => {
                        return upload_failed(&state, &visitor, client_id, &headers, problem.status()).await;
                    }
                };
                match name.as_str() {
                    "id" => match String::from_utf8(bytes.to_vec()) {
                        Ok(id) => client_id = Some(id),
                        Err(_) => return error(StatusCode::BAD_REQUEST, "bad_id"),
                    },
                    "caption" => {
                        let Ok(text) = std::str::from_utf8(&bytes) else {
                            return error(StatusCode::BAD_REQUEST, "bad_caption");
                        };
                        if text.len() > state.settings.max_message_bytes {
                            return error(StatusCode::BAD_REQUEST, "bad_caption");
                        }
                        let text = text.trim();
                        caption = (!text.is_empty()).then(|| text.to_owned());
                    }
                    "photo" => photo = Some(bytes.to_vec()),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(problem) => {
                return upload_failed(&state, &visitor, client_id, &headers, problem.status()).await;
            }
        }
    }
    let Some(client_id) = client_id.filter(|id| valid_client_id(id)) else {
        return error(StatusCode::BAD_REQUEST, "bad_id");
    };
    let Some(photo) = photo else { return error(StatusCode::BAD_REQUEST, "no_photo") };
    if state.limits.photo_bytes(&visitor, address, photo.len()).is_err() {
        return error(StatusCode::TOO_MANY_REQUESTS, "photo_quota");
    }
    let refused = match state.media.store(&photo).await {
        Ok(media) => {
            return accept(&state, &visitor, &client_id, &headers, Input::Photo { media, caption }).await;
        }
        Err(refused) => refused,
    };
    let (status, code) = match &refused {
        MediaError::TooLarge { .. } => {
            return told(&state, &visitor, &client_id, &headers, &refused, too_large(limit_mb)).await;
        }
        MediaError::TooManyPixels { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_many_pixels"),
        MediaError::NotAnImage => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_an_image"),
        MediaError::DiskLow { .. } => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
        MediaError::Io(problem) => {
            tracing::error!(error = %problem, "web chat: storing a photo failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "try_again");
        }
    };
    told(&state, &visitor, &client_id, &headers, &refused, error(status, code)).await
}

/// Tells the dialog why a photo was refused (so the bot explains it in the customer's
/// language), then answers the upload with `response`.
async fn told(
    state: &WebChatState,
    visitor: &str,
    client_id: &str,
    headers: &HeaderMap,
    refused: &MediaError,
    response: Response,
) -> Response {
    if let Some(problem) = refused.problem_for_customer(state.media.max_megabytes()) {
        let _ = accept(state, visitor, client_id, headers, Input::PhotoRejected { problem }).await;
    }
    response
}

fn too_large(limit_mb: u32) -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, Json(serde_json::json!({ "error": "too_large", "limit_mb": limit_mb })))
        .into_response()
}

/// The body could not be read: over the size limit, or broken. When the widget's id came
/// first, the dialog is told too, so the bot explains the limit in the customer's language.
async fn upload_failed(
    state: &WebChatState,
    visitor: &str,
    client_id: Option<String>,
    headers: &HeaderMap,
    status: StatusCode,
) -> Response {
    let limit_mb = state.media.max_megabytes();
    if status != StatusCode::PAYLOAD_TOO_LARGE {
        return error(StatusCode::BAD_REQUEST, "bad_upload");
    }
    if let Some(client_id) = client_id.filter(|id| valid_client_id(id)) {
        let input = Input::PhotoRejected { problem: PhotoProblem::TooLarge { limit_mb } };
        let _ = accept(state, visitor, &client_id, headers, input).await;
    }
    too_large(limit_mb)
}

/// An agent's photo: public to visitors, but only for images that are an active agent's photo.
async fn agent_photo(State(state): State<WebChatState>, Path(sha256): Path<String>) -> Response {
    match state.log.is_agent_photo(&sha256).await {
        Ok(true) => crate::web::media::media_response(&state.media, &sha256).await,
        Ok(false) => error(StatusCode::NOT_FOUND, "not_found"),
        Err(problem) => {
            tracing::warn!(error = %problem, "web chat: agent photo lookup failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "try_again")
        }
    }
}

/// A photo from the visitor's own conversation, and only from it.
async fn media(
    State(state): State<WebChatState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(visitor) = visitor_of(&state, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "no_visitor");
    };
    match state.log.conversation_has_media(CHANNEL, &visitor, &sha256).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::NOT_FOUND, "not_found"),
        Err(problem) => {
            tracing::warn!(error = %problem, "web chat: media lookup failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "try_again");
        }
    }
    crate::web::media::media_response(&state.media, &sha256).await
}
