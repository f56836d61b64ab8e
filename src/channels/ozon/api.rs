//! A thin, typed client for the parts of the Ozon Seller API the channel uses: JSON POSTs to
//! `{api_url}{path}` with the seller's `Client-Id` and `Api-Key` headers, and Ozon's error
//! answers (`{"code", "message", "details"}`, `code` being a gRPC status number) turned into
//! [`ApiError`] variants that callers act on.
//!
//! Shapes follow Ozon's Seller API reference (chat methods v1-v3, postings v2/v3), checked
//! against the MIT-licensed diPhantxm/ozon-api-client's types.

use crate::channels::platform_api::{ApiCore, PlatformApi, per_second, platform_api_error, read_answer};
use crate::channels::{PlatformError, PlatformFailure};
use crate::config::ozon::OzonSettings;
use crate::web::platform::{PlatformClient, PlatformClientError, PlatformOptions};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Ozon answers 429 with `code` 8 (resource exhausted) past the seller's per-`Client-Id` limit
/// and says nothing of when to come back; its limits are per second.
pub const TOO_MANY_REQUESTS_PAUSE: Duration = Duration::from_secs(1);
/// Our own pace for one `Client-Id`: well below the limits Ozon sets per seller, which every
/// integration of the seller (stock, prices, this bot) shares.
pub const REQUESTS_PER_SECOND: u32 = 10;
/// The most messages one history page asks for.
pub const HISTORY_PAGE: u32 = 50;
/// The most chats one list page asks for (Ozon allows up to 1000; unread chats are few).
pub const LIST_PAGE: u32 = 100;

/// What went wrong talking to Ozon. Callers match on the variant, never on the text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 401, or gRPC code 16: the `Client-Id`/`Api-Key` pair is wrong or revoked.
    #[error("Ozon rejected the seller's Client-Id and Api-Key (HTTP {status}): {message}")]
    Auth { status: u16, message: String },
    /// An earlier call was refused for the credentials; nothing is sent any more.
    #[error("the Ozon channel is stopped because Ozon rejected the seller's credentials")]
    Stopped,
    /// 429 (code 8): over the seller's request rate.
    #[error("Ozon: too many requests (HTTP 429)")]
    TooManyRequests,
    /// 5xx: Ozon's own failure, worth retrying.
    #[error("Ozon is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// 404 (code 5): no such chat or posting.
    #[error("Ozon does not know it (HTTP 404): {message}")]
    NotFound { message: String },
    /// Any other refusal (a closed chat, a reply outside the window, a bad request): retrying
    /// the same request will not help.
    #[error("Ozon refused the request (HTTP {status}, code {code}): {message}")]
    Refused { status: u16, code: i64, message: String },
    /// The request did not complete: connection or timeout.
    #[error("Ozon could not be reached: {0}")]
    Transport(String),
    /// Ozon answered, but not in the shape this client expects.
    #[error("Ozon answered something unexpected: {0}")]
    Unexpected(String),
}

impl ApiError {
    /// The variant for an HTTP status and Ozon's error body.
    pub fn from_answer(status: u16, body: &[u8]) -> ApiError {
        #[derive(Deserialize, Default)]
        struct ErrorBody {
            #[serde(default)]
            code: i64,
            #[serde(default)]
            message: String,
        }
        let ErrorBody { code, message } = serde_json::from_slice(body).unwrap_or_default();
        match (status, code) {
            (401, _) | (_, 16) => ApiError::Auth { status, message },
            (429, _) | (_, 8) => ApiError::TooManyRequests,
            (500..=599, _) => ApiError::Unavailable { status },
            (404, _) => ApiError::NotFound { message },
            _ => ApiError::Refused { status, code, message },
        }
    }
}

impl PlatformError for ApiError {
    fn failure(&self) -> PlatformFailure {
        match self {
            ApiError::Auth { .. } | ApiError::Stopped => PlatformFailure::CredentialsRefused,
            ApiError::TooManyRequests => PlatformFailure::RetryAfter(TOO_MANY_REQUESTS_PAUSE),
            ApiError::Unavailable { .. } | ApiError::Transport(_) | ApiError::Unexpected(_) => {
                PlatformFailure::Transient
            }
            // The chat is gone: nothing more can reach this buyer there.
            ApiError::NotFound { .. } => PlatformFailure::Unreachable,
            ApiError::Refused { .. } => PlatformFailure::Refused,
        }
    }
}

/// The one line rejected credentials get: the channel stops, and what to check.
fn announce_stop(message: &str) {
    tracing::error!(
        ozon_error = message,
        "Ozon rejected the seller's credentials; the Ozon channel stops. Check \
         SWITCHBOARD_OZON_CLIENT_ID and SWITCHBOARD_OZON_API_KEY and restart."
    );
}

platform_api_error!(ApiError, announce_stop);

/// One chat of `POST /v3/chat/list`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatInfo {
    pub chat: ChatDetails,
    #[serde(default)]
    pub unread_count: i64,
    /// Ozon writes message ids as numbers here and as strings elsewhere.
    #[serde(default, deserialize_with = "id_text")]
    pub last_message_id: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatDetails {
    pub chat_id: String,
    #[serde(default)]
    pub chat_type: String,
    #[serde(default)]
    pub chat_status: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatList {
    #[serde(default)]
    pub chats: Vec<ChatInfo>,
    #[serde(default)]
    pub cursor: String,
    #[serde(default)]
    pub has_next: bool,
}

/// One message of `POST /v3/chat/history` (or of a push: the same fields).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatMessage {
    #[serde(deserialize_with = "id_text")]
    pub message_id: String,
    pub user: ChatUser,
    #[serde(default)]
    pub created_at: String,
    /// The message in Markdown, one item per part; images are `![](url)` parts.
    #[serde(default)]
    pub data: Vec<String>,
    #[serde(default)]
    pub is_image: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatUser {
    #[serde(default)]
    pub id: String,
    /// `Customer`, `Seller`, `Support`, `Courier`, `crm` (system messages), in varying case.
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatHistory {
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub has_next: bool,
}

/// A message id as text, whether Ozon sent it as a number or a string.
fn id_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(serde::de::Error::custom(format!("expected a message id, got {other}"))),
    }
}

/// The Ozon client for one seller. Cheap to clone; clones share the pace and the stopped flag.
#[derive(Clone)]
pub struct OzonApi {
    /// The HTTP client (with the seller's headers), the stop switch and the pace.
    core: Arc<ApiCore>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("SWITCHBOARD_OZON_CLIENT_ID / SWITCHBOARD_OZON_API_KEY cannot be sent as HTTP headers")]
    Header,
    #[error(transparent)]
    Client(#[from] PlatformClientError),
}

impl PlatformApi for OzonApi {
    fn platform(&self) -> &PlatformClient {
        self.core.client()
    }
}

impl OzonApi {
    pub fn new(settings: &OzonSettings) -> Result<OzonApi, ClientError> {
        use reqwest::header::{HeaderMap, HeaderValue};
        // Chat files are served by the API host itself and need the same headers, so the
        // client carries them; it only ever talks to (and downloads from) that host.
        let mut headers = HeaderMap::new();
        headers.insert(
            "client-id",
            HeaderValue::from_str(&settings.client_id).map_err(|_| ClientError::Header)?,
        );
        let mut key = HeaderValue::from_str(settings.api_key.expose()).map_err(|_| ClientError::Header)?;
        key.set_sensitive(true);
        headers.insert("api-key", key);
        let client = PlatformClient::new(PlatformOptions {
            api_url: &settings.api_url,
            media_hosts: &[],
            extra_root_pem: None,
            default_headers: headers,
            request_timeout: settings.request_timeout,
        })?;
        let pace = settings.rate_limits.then(|| per_second(REQUESTS_PER_SECOND));
        Ok(OzonApi { core: Arc::new(ApiCore::new(client, pace)) })
    }

    /// One call: `POST {api_url}{path}` with a JSON body; the JSON answer.
    async fn call(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.core.ready::<ApiError>().await?;
        let client = self.core.client();
        let url = format!("{}{path}", client.api_url());
        let response = client.http().post(&url).json(body).timeout(client.request_timeout()).send().await?;
        // Ozon says nothing of when to come back; its limits are per second.
        self.core.json_answer(path, response, |status, body, _| ApiError::from_answer(status, body)).await
    }

    /// `POST /v3/chat/list`: chats with unread messages, a page at a time.
    pub async fn unread_chats(&self, cursor: &str) -> Result<ChatList, ApiError> {
        let mut body = json!({"filter": {"chat_status": "Opened", "unread_only": true}, "limit": LIST_PAGE});
        if !cursor.is_empty() {
            body["cursor"] = json!(cursor);
        }
        read_answer("/v3/chat/list", self.call("/v3/chat/list", &body).await?)
    }

    /// `POST /v3/chat/history`: messages after `after` (oldest first), or the latest page when
    /// `after` is `None`.
    pub async fn history(&self, chat_id: &str, after: Option<&str>) -> Result<ChatHistory, ApiError> {
        let mut body = json!({"chat_id": chat_id, "limit": HISTORY_PAGE});
        match after {
            Some(id) => {
                body["direction"] = json!("Forward");
                body["from_message_id"] = message_id_json(id);
            }
            None => body["direction"] = json!("Backward"),
        }
        read_answer("/v3/chat/history", self.call("/v3/chat/history", &body).await?)
    }

    /// `POST /v1/chat/send/message`: plain text, 1 to 1000 characters.
    pub async fn send_message(&self, chat_id: &str, text: &str) -> Result<(), ApiError> {
        self.call("/v1/chat/send/message", &json!({"chat_id": chat_id, "text": text})).await?;
        Ok(())
    }

    /// `POST /v1/chat/send/file`: a file as base64 with its name.
    pub async fn send_file(&self, chat_id: &str, name: &str, bytes: &[u8]) -> Result<(), ApiError> {
        use base64::Engine as _;
        let content = base64::engine::general_purpose::STANDARD.encode(bytes);
        let body = json!({"chat_id": chat_id, "name": name, "base64_content": content});
        self.call("/v1/chat/send/file", &body).await?;
        Ok(())
    }

    /// `POST /v2/chat/read`: marks the chat read up to `message_id`.
    pub async fn mark_read(&self, chat_id: &str, message_id: &str) -> Result<(), ApiError> {
        let body = json!({"chat_id": chat_id, "from_message_id": message_id_json(message_id)});
        self.call("/v2/chat/read", &body).await?;
        Ok(())
    }

    /// `POST /v3/posting/fbs/get` (`fbs`) or `/v2/posting/fbo/get` (`fbo`): a posting's
    /// `result` object, with its analytics and delivery details.
    pub async fn posting(&self, scheme: PostingScheme, posting_number: &str) -> Result<Value, ApiError> {
        let (path, body) = match scheme {
            PostingScheme::Fbs => (
                "/v3/posting/fbs/get",
                json!({"posting_number": posting_number,
                    "with": {"analytics_data": true, "financial_data": false, "translit": false}}),
            ),
            PostingScheme::Fbo => (
                "/v2/posting/fbo/get",
                json!({"posting_number": posting_number, "translit": false,
                    "with": {"analytics_data": true, "financial_data": false}}),
            ),
        };
        let answer = self.call(path, &body).await?;
        answer.get("result").cloned().ok_or_else(|| ApiError::Unexpected(format!("{path}: no result")))
    }
}

/// Which fulfilment scheme a posting belongs to: the seller ships it (FBS, rFBS) or Ozon does
/// from its warehouse (FBO). The two are read from different methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostingScheme {
    Fbs,
    Fbo,
}

/// Ozon's message ids are 64-bit numbers: sent as numbers when they fit, as text otherwise.
fn message_id_json(id: &str) -> Value {
    id.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::DeliveryError;

    #[test]
    fn errors_become_variants_that_say_what_to_do() {
        let limit =
            br#"{"code": 8, "message": "You have reached request rate limit per second", "details": []}"#;
        assert_eq!(ApiError::from_answer(429, limit), ApiError::TooManyRequests);
        assert_eq!(
            DeliveryError::from(ApiError::TooManyRequests),
            DeliveryError::RetryAfter(TOO_MANY_REQUESTS_PAUSE)
        );
        let auth = ApiError::from_answer(
            401,
            br#"{"code": 16, "message": "Client-Id and Api-Key headers are required"}"#,
        );
        assert!(auth.is_fatal());
        assert!(matches!(
            DeliveryError::from(ApiError::from_answer(404, br#"{"code": 5, "message": "chat not found"}"#)),
            DeliveryError::Permanent { unreachable: true, .. }
        ));
        for status in [500, 502, 503] {
            assert!(matches!(
                DeliveryError::from(ApiError::from_answer(status, b"<html>")),
                DeliveryError::Transient(_)
            ));
        }
        let closed = ApiError::from_answer(403, br#"{"code": 7, "message": "chat is closed"}"#);
        assert_eq!(closed, ApiError::Refused { status: 403, code: 7, message: "chat is closed".to_owned() });
        assert!(matches!(DeliveryError::from(closed), DeliveryError::Permanent { unreachable: false, .. }));
    }

    #[test]
    fn message_ids_read_as_text_whether_numbers_or_strings() {
        let list: ChatList = serde_json::from_value(json!({
            "chats": [{"chat": {"chat_id": "b646d975", "chat_type": "Buyer_Seller", "chat_status": "Opened"},
                       "last_message_id": 3000000000817031942_u64, "unread_count": 1}],
            "cursor": "abc", "has_next": false
        }))
        .unwrap();
        assert_eq!(list.chats[0].last_message_id, "3000000000817031942");
        assert_eq!(message_id_json("3000000000817031942"), json!(3000000000817031942_u64));
    }
}
