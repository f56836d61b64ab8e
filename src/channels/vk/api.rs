//! A thin, typed client for the VK API (v5.199): form-encoded POSTs to
//! `{api_url}/method/{name}` with `access_token` and `v`, answers unwrapped from `response`,
//! and VK's `{"error":{"error_code":..}}` turned into [`ApiError`] variants that callers act on.
//!
//! One [`VkApi`] is shared by the inbound and outbound halves, so the 20 requests per second
//! budget of the community token is counted once, and an auth failure stops both.

use crate::channels::platform_api::{ApiCore, PlatformApi, image_part, platform_api_error};
use crate::channels::{PlatformError, PlatformFailure};
use crate::config::vk::VkSettings;
use crate::secret::Secret;
use crate::web::platform::{PlatformClient, PlatformClientError, PlatformOptions};
use governor::Quota;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

pub const API_VERSION: &str = "5.199";

/// VK says "too many requests per second" (error 6) without saying for how long: its limit is
/// per second, so a delivery that met it waits one second before its next try.
pub const TOO_MANY_REQUESTS_PAUSE: Duration = Duration::from_secs(1);
/// VK's flood control does not say for how long; half a minute lets it cool down without
/// keeping a customer waiting long.
const FLOOD_CONTROL_PAUSE: Duration = Duration::from_secs(30);

/// What went wrong talking to VK. Callers match on the variant, never on the text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// Error 5: the token is invalid or revoked. The channel stops until restarted.
    #[error("VK rejected the community access token (error 5): {message}")]
    Auth { message: String },
    /// An earlier call got error 5; nothing is sent any more.
    #[error("the VK channel is stopped because VK rejected the access token")]
    Stopped,
    /// Error 6: more than the allowed requests per second.
    #[error("VK: too many requests per second (error 6)")]
    TooManyRequests,
    /// Error 9: flood control, usually the same message too often.
    #[error("VK flood control (error 9): {message}")]
    FloodControl { message: String },
    /// Error 10: VK's own internal failure.
    #[error("VK internal server error (error 10): {message}")]
    Internal { message: String },
    /// Errors 900, 901, 902: the user blocked the community, did not allow messages, or their
    /// privacy settings forbid them.
    #[error("the user does not accept messages from this community (error {code}): {message}")]
    MessagesDenied { code: i64, message: String },
    /// Any other VK error code: retrying the same request will not help.
    #[error("VK API error {code}: {message}")]
    Other { code: i64, message: String },
    /// The request did not complete: connection, timeout, or a 5xx from a proxy.
    #[error("VK could not be reached: {0}")]
    Transport(String),
    /// VK answered, but not in the shape this client expects.
    #[error("VK answered something unexpected: {0}")]
    Unexpected(String),
}

impl ApiError {
    /// The variant for a VK `error_code`.
    pub fn from_code(code: i64, message: String) -> ApiError {
        match code {
            5 => ApiError::Auth { message },
            6 => ApiError::TooManyRequests,
            9 => ApiError::FloodControl { message },
            10 => ApiError::Internal { message },
            900..=902 => ApiError::MessagesDenied { code, message },
            _ => ApiError::Other { code, message },
        }
    }

    /// The VK error code, for logs and tests.
    pub fn code(&self) -> Option<i64> {
        match self {
            ApiError::Auth { .. } => Some(5),
            ApiError::TooManyRequests => Some(6),
            ApiError::FloodControl { .. } => Some(9),
            ApiError::Internal { .. } => Some(10),
            ApiError::MessagesDenied { code, .. } | ApiError::Other { code, .. } => Some(*code),
            ApiError::Stopped | ApiError::Transport(_) | ApiError::Unexpected(_) => None,
        }
    }
}

impl PlatformError for ApiError {
    fn failure(&self) -> PlatformFailure {
        match self {
            ApiError::Auth { .. } | ApiError::Stopped => PlatformFailure::CredentialsRefused,
            ApiError::TooManyRequests => PlatformFailure::RetryAfter(TOO_MANY_REQUESTS_PAUSE),
            ApiError::FloodControl { .. } => PlatformFailure::RetryAfter(FLOOD_CONTROL_PAUSE),
            ApiError::Internal { .. } | ApiError::Transport(_) | ApiError::Unexpected(_) => {
                PlatformFailure::Transient
            }
            ApiError::MessagesDenied { .. } => PlatformFailure::Unreachable,
            ApiError::Other { .. } => PlatformFailure::Refused,
        }
    }
}

/// The one line a rejected token gets: the channel stops, and what to check.
fn announce_stop(message: &str) {
    tracing::error!(
        vk_error = message,
        "VK rejected the community access token (error 5); the VK channel stops sending and \
         polling. Check SWITCHBOARD_VK_TOKEN and restart."
    );
}

platform_api_error!(ApiError, announce_stop);

/// `groups.getLongPollServer`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LongPollServer {
    pub server: String,
    pub key: String,
    #[serde(deserialize_with = "string_or_number")]
    pub ts: String,
}

/// One answer of the Long Poll server.
#[derive(Debug, Clone, PartialEq)]
pub enum PollAnswer {
    Updates {
        ts: String,
        updates: Vec<serde_json::Value>,
    },
    /// `failed: 1`: some history was lost; go on from `ts`.
    HistoryLost {
        ts: String,
    },
    /// `failed: 2`: the key expired; get a new key, keep `ts`.
    KeyExpired,
    /// `failed: 3`: everything was lost; get a new key and `ts`.
    InformationLost,
}

/// `messages.send` to one peer.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    pub peer_id: i64,
    pub random_id: i32,
    pub message: String,
    /// `photo-1_2,photo-1_3`.
    pub attachment: Option<String>,
    /// Keyboard JSON.
    pub keyboard: Option<String>,
}

/// The VK API client for one community token. Cheap to clone; clones share the request
/// budget and the stopped flag.
#[derive(Clone)]
pub struct VkApi {
    inner: Arc<Inner>,
}

struct Inner {
    /// The HTTP client, the stop switch and the request budget.
    core: ApiCore,
    token: Secret,
}

impl PlatformApi for VkApi {
    fn platform(&self) -> &PlatformClient {
        self.inner.core.client()
    }
}

impl VkApi {
    /// A client for the settings' API URL and token, limited to their requests per second.
    pub fn new(settings: &VkSettings) -> Result<VkApi, PlatformClientError> {
        let client = PlatformClient::new(PlatformOptions {
            api_url: &settings.api_url,
            media_hosts: &settings.media_hosts,
            extra_root_pem: None,
            default_headers: Default::default(),
            // A plain API call that takes longer is treated as lost (and a delivery retried).
            request_timeout: settings.request_timeout,
        })?;
        let core = ApiCore::new(client, settings.requests_per_second.map(Quota::per_second));
        Ok(VkApi { inner: Arc::new(Inner { core, token: settings.token.clone() }) })
    }

    /// Calls one API method and returns its `response`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let core = &self.inner.core;
        core.ready::<ApiError>().await?;
        let mut form: Vec<(&str, &str)> =
            params.iter().map(|(name, value)| (*name, value.as_str())).collect();
        form.push(("access_token", self.inner.token.expose()));
        form.push(("v", API_VERSION));
        let client = core.client();
        let url = format!("{}/method/{method}", client.api_url());
        let response = client.http().post(&url).form(&form).timeout(client.request_timeout()).send().await?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::Transport(format!("{method}: HTTP {status}")));
        }
        let body = response.bytes().await?;
        let answer = parse_answer(method, &body);
        if let Err(error) = &answer {
            core.stop_on(error);
        }
        answer
    }

    /// `groups.getLongPollServer`: where to poll, with which key, from which position.
    pub async fn get_long_poll_server(&self, group_id: u64) -> Result<LongPollServer, ApiError> {
        self.call("groups.getLongPollServer", &[("group_id", group_id.to_string())]).await
    }

    /// One `a_check` request. Not an API method, so not counted against the request budget.
    pub async fn poll(
        &self,
        server: &str,
        key: &str,
        ts: &str,
        wait_secs: u32,
    ) -> Result<PollAnswer, ApiError> {
        let client = self.inner.core.client();
        if client.is_stopped() {
            return Err(ApiError::Stopped);
        }
        let wait = wait_secs.clamp(1, 90);
        let response = client
            .http()
            .get(server)
            .query(&[("act", "a_check"), ("key", key), ("ts", ts), ("wait", &wait.to_string())])
            // The server holds the request for `wait` seconds; give it room before calling it lost.
            .timeout(Duration::from_secs(u64::from(wait) + 15))
            .send()
            .await
            // The URL carries the key: never let it into an error message.
            ?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::Transport(format!("long poll: HTTP {status}")));
        }
        let body = response.bytes().await?;
        parse_poll_answer(&body)
    }

    /// `messages.send`; returns the message id.
    pub async fn send_message(&self, message: &OutgoingMessage) -> Result<i64, ApiError> {
        let mut params = vec![
            ("peer_id", message.peer_id.to_string()),
            ("random_id", message.random_id.to_string()),
            ("message", message.message.clone()),
        ];
        if let Some(attachment) = &message.attachment {
            params.push(("attachment", attachment.clone()));
        }
        if let Some(keyboard) = &message.keyboard {
            params.push(("keyboard", keyboard.clone()));
        }
        self.call("messages.send", &params).await
    }

    /// Stops the spinner on a pressed callback button.
    pub async fn send_message_event_answer(
        &self,
        event_id: &str,
        user_id: i64,
        peer_id: i64,
    ) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .call(
                "messages.sendMessageEventAnswer",
                &[
                    ("event_id", event_id.to_owned()),
                    ("user_id", user_id.to_string()),
                    ("peer_id", peer_id.to_string()),
                ],
            )
            .await?;
        Ok(())
    }

    /// Uploads an image for a message to `peer_id` and returns the attachment string
    /// (`photo{owner_id}_{id}`): `photos.getMessagesUploadServer`, a multipart POST of the
    /// `photo` field, then `photos.saveMessagesPhoto`.
    pub async fn upload_message_photo(
        &self,
        peer_id: i64,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct UploadServer {
            upload_url: String,
        }
        #[derive(Deserialize)]
        struct Uploaded {
            #[serde(deserialize_with = "string_or_number")]
            server: String,
            photo: String,
            hash: String,
        }
        #[derive(Deserialize)]
        struct Saved {
            id: i64,
            owner_id: i64,
            access_key: Option<String>,
        }

        let server: UploadServer =
            self.call("photos.getMessagesUploadServer", &[("peer_id", peer_id.to_string())]).await?;
        let form =
            reqwest::multipart::Form::new().part("photo", image_part::<ApiError>(bytes, content_type)?);
        let response = self
            .inner
            .core
            .client()
            .http()
            .post(&server.upload_url)
            .multipart(form)
            .timeout(Duration::from_secs(60))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(ApiError::Transport(format!("photo upload: HTTP {}", response.status())));
        }
        let body = response.bytes().await?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|error| ApiError::Unexpected(format!("photo upload answer: {error}")))?;
        if let Some(error) = value.get("error") {
            return Err(ApiError::Unexpected(format!("photo upload refused: {error}")));
        }
        let uploaded: Uploaded = serde_json::from_value(value)
            .map_err(|error| ApiError::Unexpected(format!("photo upload answer: {error}")))?;
        // VK answers `"photo": "[]"` when the file was not accepted as an image.
        if uploaded.photo.trim().is_empty() || uploaded.photo.trim() == "[]" {
            return Err(ApiError::Unexpected("the upload server did not accept the image".to_owned()));
        }
        let saved: Vec<Saved> = self
            .call(
                "photos.saveMessagesPhoto",
                &[("photo", uploaded.photo), ("server", uploaded.server), ("hash", uploaded.hash)],
            )
            .await?;
        let saved = saved
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::Unexpected("photos.saveMessagesPhoto returned no photo".to_owned()))?;
        Ok(match saved.access_key {
            Some(key) if !key.is_empty() => format!("photo{}_{}_{key}", saved.owner_id, saved.id),
            _ => format!("photo{}_{}", saved.owner_id, saved.id),
        })
    }
}

/// Unwraps `{"response": ..}` or turns `{"error": ..}` into an [`ApiError`].
pub fn parse_answer<T: DeserializeOwned>(method: &str, body: &[u8]) -> Result<T, ApiError> {
    #[derive(Deserialize)]
    struct VkErrorBody {
        error_code: i64,
        #[serde(default)]
        error_msg: String,
    }
    #[derive(Deserialize)]
    struct Envelope<T> {
        response: Option<T>,
        error: Option<VkErrorBody>,
    }
    let envelope: Envelope<T> =
        serde_json::from_slice(body).map_err(|error| ApiError::Unexpected(format!("{method}: {error}")))?;
    match (envelope.response, envelope.error) {
        (_, Some(error)) => Err(ApiError::from_code(error.error_code, error.error_msg)),
        (Some(response), None) => Ok(response),
        (None, None) => Err(ApiError::Unexpected(format!("{method}: neither `response` nor `error`"))),
    }
}

/// Reads a Long Poll answer: updates, or `failed` 1, 2 or 3.
pub fn parse_poll_answer(body: &[u8]) -> Result<PollAnswer, ApiError> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default, deserialize_with = "optional_string_or_number")]
        ts: Option<String>,
        updates: Option<Vec<serde_json::Value>>,
        failed: Option<i64>,
    }
    let raw: Raw =
        serde_json::from_slice(body).map_err(|error| ApiError::Unexpected(format!("long poll: {error}")))?;
    match (raw.failed, raw.ts, raw.updates) {
        (Some(1), Some(ts), _) => Ok(PollAnswer::HistoryLost { ts }),
        (Some(2), _, _) => Ok(PollAnswer::KeyExpired),
        (Some(3), _, _) => Ok(PollAnswer::InformationLost),
        (Some(other), _, _) => Err(ApiError::Unexpected(format!("long poll: unknown failure {other}"))),
        (None, Some(ts), updates) => Ok(PollAnswer::Updates { ts, updates: updates.unwrap_or_default() }),
        (None, None, _) => Err(ApiError::Unexpected("long poll: no `ts` in the answer".to_owned())),
    }
}

/// VK writes `ts` and `server` sometimes as strings, sometimes as numbers.
fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Ok(text),
        serde_json::Value::Number(number) => Ok(number.to_string()),
        other => Err(serde::de::Error::custom(format!("expected a string or a number, got {other}"))),
    }
}

fn optional_string_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(serde_json::Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!("expected a string or a number, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::DeliveryError;

    #[test]
    fn errors_become_variants_that_say_what_to_do() {
        let body = br#"{"error":{"error_code":901,"error_msg":"Can't send messages for users without permission","request_params":[]}}"#;
        let error = parse_answer::<i64>("messages.send", body).unwrap_err();
        assert!(matches!(error, ApiError::MessagesDenied { code: 901, .. }));
        assert_eq!(
            DeliveryError::from(error),
            DeliveryError::Permanent {
                reason: "the user does not accept messages from this community (error 901): Can't send messages for users without permission".to_owned(),
                unreachable: true
            }
        );
        for (code, expected) in [
            (6, DeliveryError::RetryAfter(TOO_MANY_REQUESTS_PAUSE)),
            (9, DeliveryError::RetryAfter(FLOOD_CONTROL_PAUSE)),
        ] {
            assert_eq!(DeliveryError::from(ApiError::from_code(code, "x".into())), expected);
        }
        assert!(matches!(
            DeliveryError::from(ApiError::from_code(10, "x".into())),
            DeliveryError::Transient(_)
        ));
        assert!(matches!(
            DeliveryError::from(ApiError::from_code(5, "x".into())),
            DeliveryError::Permanent { unreachable: false, .. }
        ));
        assert!(matches!(
            DeliveryError::from(ApiError::from_code(100, "x".into())),
            DeliveryError::Permanent { unreachable: false, .. }
        ));
        assert_eq!(parse_answer::<i64>("messages.send", br#"{"response":17}"#), Ok(17));
        assert!(matches!(parse_answer::<i64>("m", b"<html>"), Err(ApiError::Unexpected(_))));
    }

    #[test]
    fn poll_answers_cover_updates_and_every_failure() {
        assert_eq!(
            parse_poll_answer(br#"{"ts":"12","updates":[{"type":"message_new"}]}"#).unwrap(),
            PollAnswer::Updates { ts: "12".into(), updates: vec![serde_json::json!({"type":"message_new"})] }
        );
        assert_eq!(
            parse_poll_answer(br#"{"failed":1,"ts":30}"#).unwrap(),
            PollAnswer::HistoryLost { ts: "30".into() }
        );
        assert_eq!(parse_poll_answer(br#"{"failed":2}"#).unwrap(), PollAnswer::KeyExpired);
        assert_eq!(parse_poll_answer(br#"{"failed":3}"#).unwrap(), PollAnswer::InformationLost);
        assert!(parse_poll_answer(br#"{"failed":7}"#).is_err());
        assert!(parse_poll_answer(b"nope").is_err());
    }
}
