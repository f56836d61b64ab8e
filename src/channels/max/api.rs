//! A thin, typed client for the MAX Bot API: JSON over HTTPS to `{api_url}/{path}`, the token in
//! the `Authorization` header (no `Bearer`), and MAX's error answers (`{"code", "message"}` with
//! an HTTP status) turned into [`ApiError`] variants that callers act on.
//!
//! One [`MaxApi`] is shared by the inbound and outbound halves, so the bot's request budget is
//! counted once, and a rejected token stops both.

use crate::channels::platform_api::{
    ApiCore, PlatformApi, image_part, per_second, platform_api_error, read_answer,
};
use crate::channels::{PlatformError, PlatformFailure};
use crate::config::max::MaxSettings;
use crate::secret::Secret;
use crate::web::platform::{PlatformClient, PlatformClientError, PlatformOptions};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// MAX answers 429 without saying for how long; its limits are per second, so a delivery that
/// met one waits a second before its next try (unless a `Retry-After` header says otherwise).
pub const TOO_MANY_REQUESTS_PAUSE: Duration = Duration::from_secs(1);
/// Requests per second for the whole bot (MAX allows about 30).
pub const BOT_PER_SECOND: u32 = 30;
/// Messages per second to one chat (MAX allows 2).
pub const CHAT_PER_SECOND: u32 = 2;
/// How often (in acquisitions) idle chats are dropped from the per-chat table, so it stays
/// bounded however many customers write.
const FORGET_IDLE_CHATS_EVERY: u64 = 4096;
/// Uploads carry whole images; they get longer than a plain call.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// What went wrong talking to MAX. Callers match on the variant, never on the text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 401: the token is invalid or revoked. The channel stops until restarted.
    #[error("MAX rejected the bot token (HTTP 401): {message}")]
    Auth { message: String },
    /// An earlier call got a 401; nothing is sent any more.
    #[error("the MAX channel is stopped because MAX rejected the bot token")]
    Stopped,
    /// 429: over the request rate.
    #[error("MAX: too many requests (HTTP 429)")]
    TooManyRequests { retry_after: Option<Duration> },
    /// 5xx: MAX's own failure, worth retrying.
    #[error("MAX is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// `attachment.not.ready`: an uploaded image is still being processed.
    #[error("MAX has not finished processing the uploaded image (attachment.not.ready)")]
    AttachmentNotReady,
    /// 403: the user stopped or blocked the bot, or the chat forbids it to write.
    #[error("MAX does not let the bot write to this user (HTTP 403, {code}): {message}")]
    Forbidden { code: String, message: String },
    /// Any other refusal: retrying the same request will not help.
    #[error("MAX refused the request (HTTP {status}, {code}): {message}")]
    Other { status: u16, code: String, message: String },
    /// The request did not complete: connection or timeout.
    #[error("MAX could not be reached: {0}")]
    Transport(String),
    /// MAX answered, but not in the shape this client expects.
    #[error("MAX answered something unexpected: {0}")]
    Unexpected(String),
}

impl ApiError {
    /// The variant for an HTTP status and MAX's error body.
    pub fn from_answer(status: u16, body: &[u8], retry_after: Option<Duration>) -> ApiError {
        #[derive(Deserialize, Default)]
        struct ErrorBody {
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: String,
        }
        let ErrorBody { code, message } = serde_json::from_slice(body).unwrap_or_default();
        match status {
            401 => ApiError::Auth { message },
            403 => ApiError::Forbidden { code, message },
            429 => ApiError::TooManyRequests { retry_after },
            500..=599 => ApiError::Unavailable { status },
            _ if code == "attachment.not.ready" => ApiError::AttachmentNotReady,
            _ => ApiError::Other { status, code, message },
        }
    }
}

impl PlatformError for ApiError {
    fn failure(&self) -> PlatformFailure {
        match self {
            ApiError::Auth { .. } | ApiError::Stopped => PlatformFailure::CredentialsRefused,
            ApiError::TooManyRequests { retry_after } => {
                PlatformFailure::RetryAfter(retry_after.unwrap_or(TOO_MANY_REQUESTS_PAUSE))
            }
            ApiError::Unavailable { .. }
            | ApiError::AttachmentNotReady
            | ApiError::Transport(_)
            | ApiError::Unexpected(_) => PlatformFailure::Transient,
            ApiError::Forbidden { .. } => PlatformFailure::Unreachable,
            ApiError::Other { .. } => PlatformFailure::Refused,
        }
    }
}

/// The one line a rejected token gets: the channel stops, and what to check.
fn announce_stop(message: &str) {
    tracing::error!(
        max_error = message,
        "MAX rejected the bot token (HTTP 401); the MAX channel stops sending and polling. \
         Check SWITCHBOARD_MAX_TOKEN and restart."
    );
}

platform_api_error!(ApiError, announce_stop);

/// Who a message goes to: a user's dialog with the bot, or a group chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipient {
    User(i64),
    Chat(i64),
}

impl Recipient {
    fn query(self) -> (&'static str, String) {
        match self {
            Recipient::User(id) => ("user_id", id.to_string()),
            Recipient::Chat(id) => ("chat_id", id.to_string()),
        }
    }
}

/// One answer of `GET /updates`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UpdateList {
    #[serde(default)]
    pub updates: Vec<Value>,
    /// Where the next request starts; absent when nothing changed.
    pub marker: Option<i64>,
}

/// The MAX API client for one bot token. Cheap to clone; clones share the request budget, the
/// per-chat pace and the stopped flag.
#[derive(Clone)]
pub struct MaxApi {
    inner: Arc<Inner>,
}

struct Inner {
    /// The HTTP client, the stop switch and the pace of the whole bot.
    core: ApiCore,
    token: Secret,
    per_chat: Option<DefaultKeyedRateLimiter<Recipient>>,
    acquisitions: AtomicU64,
}

impl PlatformApi for MaxApi {
    fn platform(&self) -> &PlatformClient {
        self.inner.core.client()
    }
}

impl MaxApi {
    /// A client for the settings' API URL and token, trusting the extra root certificate if
    /// one is configured (in addition to the built-in roots; verification stays on).
    pub fn new(settings: &MaxSettings) -> Result<MaxApi, PlatformClientError> {
        let client = PlatformClient::new(PlatformOptions {
            api_url: &settings.api_url,
            media_hosts: &settings.media_hosts,
            extra_root_pem: settings.extra_root_pem.as_deref(),
            default_headers: Default::default(),
            request_timeout: settings.request_timeout,
        })?;
        let limits = settings.rate_limits;
        Ok(MaxApi {
            inner: Arc::new(Inner {
                core: ApiCore::new(client, limits.then(|| per_second(BOT_PER_SECOND))),
                token: settings.token.clone(),
                per_chat: limits.then(|| RateLimiter::keyed(per_second(CHAT_PER_SECOND))),
                acquisitions: AtomicU64::new(0),
            }),
        })
    }

    /// Waits until one more message may go to `recipient` (2 a second per chat).
    pub async fn pace_chat(&self, recipient: Recipient) {
        let Some(per_chat) = &self.inner.per_chat else { return };
        let count = self.inner.acquisitions.fetch_add(1, Ordering::Relaxed);
        if count % FORGET_IDLE_CHATS_EVERY == FORGET_IDLE_CHATS_EVERY - 1 {
            per_chat.retain_recent();
            per_chat.shrink_to_fit();
        }
        per_chat.until_key_ready(&recipient).await;
    }

    /// One API call: `method` on `{api_url}/{path}` with `query` and an optional JSON body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, ApiError> {
        let core = &self.inner.core;
        core.ready::<ApiError>().await?;
        let url = format!("{}/{path}", core.client().api_url());
        let mut request = core
            .client()
            .http()
            .request(method, &url)
            .header(reqwest::header::AUTHORIZATION, self.inner.token.expose())
            .query(query)
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        core.json_answer(path, request.send().await?, ApiError::from_answer).await
    }

    fn request_timeout(&self) -> Duration {
        self.inner.core.client().request_timeout()
    }

    /// `GET /updates`: waits up to `timeout_secs` for updates after `marker`.
    pub async fn get_updates(
        &self,
        marker: Option<i64>,
        timeout_secs: u32,
        types: &[&str],
    ) -> Result<UpdateList, ApiError> {
        let timeout_secs = timeout_secs.min(90);
        let mut query = vec![("limit", "100".to_owned()), ("timeout", timeout_secs.to_string())];
        // One `types` parameter per type, as the official Go client sends them.
        query.extend(types.iter().map(|kind| ("types", (*kind).to_owned())));
        if let Some(marker) = marker {
            query.push(("marker", marker.to_string()));
        }
        // MAX holds the request for `timeout_secs`; give it room before calling it lost.
        let wait = Duration::from_secs(u64::from(timeout_secs) + 15);
        read_answer("updates", self.call(reqwest::Method::GET, "updates", &query, None, wait).await?)
    }

    /// `POST /messages`: one message (text, attachments) to `recipient`.
    pub async fn send_message(&self, recipient: Recipient, body: &Value) -> Result<(), ApiError> {
        let timeout = self.request_timeout();
        self.call(reqwest::Method::POST, "messages", &[recipient.query()], Some(body), timeout).await?;
        Ok(())
    }

    /// `POST /answers`: answers a pressed button (stopping its spinner) with `body`.
    pub async fn answer_callback(&self, callback_id: &str, body: &Value) -> Result<(), ApiError> {
        let query = [("callback_id", callback_id.to_owned())];
        self.call(reqwest::Method::POST, "answers", &query, Some(body), self.request_timeout()).await?;
        Ok(())
    }

    /// `POST /subscriptions`: asks MAX to post `types` of updates to `url` with `secret`.
    pub async fn subscribe(&self, url: &str, types: &[&str], secret: &str) -> Result<(), ApiError> {
        let body = json!({"url": url, "update_types": types, "secret": secret});
        let timeout = self.request_timeout();
        let answer = self.call(reqwest::Method::POST, "subscriptions", &[], Some(&body), timeout).await?;
        if answer.get("success").and_then(Value::as_bool) == Some(false) {
            let message = answer.get("message").and_then(Value::as_str).unwrap_or_default().to_owned();
            return Err(ApiError::Other { status: 200, code: "subscriptions".to_owned(), message });
        }
        Ok(())
    }

    /// Uploads an image: `POST /uploads?type=image` for an upload URL, then a multipart POST of
    /// the `data` field there. Returns the attachment payload for a message (`{"photos": ..}`).
    pub async fn upload_image(&self, bytes: Vec<u8>, content_type: &str) -> Result<Value, ApiError> {
        #[derive(Deserialize)]
        struct Endpoint {
            url: String,
        }
        let query = [("type", "image".to_owned())];
        let timeout = self.request_timeout();
        let answer = self.call(reqwest::Method::POST, "uploads", &query, None, timeout).await?;
        let endpoint = read_answer::<Endpoint, ApiError>("uploads", answer)?;
        let part = image_part::<ApiError>(bytes, content_type)?;
        let response = self
            .inner
            .core
            .client()
            .http()
            .post(&endpoint.url)
            // The upload URL is signed by MAX; the token stays with the API host.
            .multipart(reqwest::multipart::Form::new().part("data", part))
            .timeout(UPLOAD_TIMEOUT)
            .send()
            .await
            // The upload URL carries a signature: never let it into an error message.
            ?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            return Err(ApiError::from_answer(status.as_u16(), &body, None));
        }
        let uploaded: Value = serde_json::from_slice(&body)
            .map_err(|error| ApiError::Unexpected(format!("upload: {error}")))?;
        match uploaded.get("photos") {
            Some(photos) if photos.as_object().is_some_and(|photos| !photos.is_empty()) => {
                Ok(json!({ "photos": photos }))
            }
            _ => Err(ApiError::Unexpected("the upload answer holds no photo tokens".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::DeliveryError;

    #[test]
    fn errors_become_variants_that_say_what_to_do() {
        let not_ready = br#"{"code": "attachment.not.ready", "message": ""}"#;
        assert_eq!(ApiError::from_answer(400, not_ready, None), ApiError::AttachmentNotReady);
        let token = br#"{"code": "verify.token", "message": "Invalid access_token"}"#;
        let auth = ApiError::from_answer(401, token, None);
        assert!(auth.is_fatal());
        assert_eq!(
            DeliveryError::from(auth),
            DeliveryError::Permanent {
                reason: "MAX rejected the bot token (HTTP 401): Invalid access_token".to_owned(),
                unreachable: false
            }
        );
        let blocked = ApiError::from_answer(403, br#"{"code": "chat.denied", "message": "blocked"}"#, None);
        assert!(matches!(DeliveryError::from(blocked), DeliveryError::Permanent { unreachable: true, .. }));
        assert_eq!(
            DeliveryError::from(ApiError::from_answer(429, b"", None)),
            DeliveryError::RetryAfter(TOO_MANY_REQUESTS_PAUSE)
        );
        assert_eq!(
            DeliveryError::from(ApiError::from_answer(429, b"", Some(Duration::from_secs(7)))),
            DeliveryError::RetryAfter(Duration::from_secs(7))
        );
        for status in [500, 502, 503] {
            let error = ApiError::from_answer(status, b"<html>", None);
            assert!(matches!(DeliveryError::from(error), DeliveryError::Transient(_)), "{status}");
        }
        assert!(matches!(DeliveryError::from(ApiError::AttachmentNotReady), DeliveryError::Transient(_)));
        let bad = ApiError::from_answer(400, br#"{"code": "proto.payload", "message": "bad"}"#, None);
        assert!(matches!(DeliveryError::from(bad), DeliveryError::Permanent { unreachable: false, .. }));
    }
}
