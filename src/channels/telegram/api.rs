//! The Bot API calls made for every message: `sendMessage`, `answerCallbackQuery`,
//! `editMessageReplyMarkup` and `getUpdates`.
//!
//! teloxide's `Bot` makes every other call (getMe, setWebhook, getFile, sendPhoto). For these
//! four, made thousands of times a second under load, it does more than a call needs: it
//! rebuilds the method's URL each time, reads every answer through an untagged enum (serde
//! buffers the whole document and then reads it a second time), decodes the `Message`
//! Telegram sends back although delivery only needs to know whether the call worked, and waits
//! 10 s after any 5xx before returning the error. Here each method's URL is built once, an
//! answer is read in one pass with `result` skipped unless we need it, and a 5xx comes back at
//! once, so the outbox's own backoff (with jitter and a bound) decides when to retry.
//!
//! The payloads are still teloxide's types, serialized as teloxide serializes them, and errors
//! are still teloxide's [`RequestError`], so the wire format and the way an error is
//! classified (`outbound::classify`) do not change.

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Url};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use std::sync::Arc;
use teloxide::payloads::{AnswerCallbackQuery, EditMessageReplyMarkup, GetUpdates, SendMessage};
use teloxide::types::{ResponseParameters, Update};
use teloxide::{ApiError, RequestError};

/// The four methods, each with its URL parsed once.
pub struct BotApi {
    client: Client,
    /// For `getUpdates`: its timeout covers the long poll.
    poll_client: Client,
    send_message: Url,
    answer_callback_query: Url,
    edit_message_reply_markup: Url,
    get_updates: Url,
}

/// A Bot API answer, read in one pass. `result` is whatever the method returns; calls that
/// only need success read it as [`IgnoredAny`], which skips it without building anything.
#[derive(serde::Deserialize)]
struct Answer<R> {
    ok: bool,
    result: Option<R>,
    /// teloxide's [`ApiError`] reads Telegram's description (known texts become variants).
    description: Option<ApiError>,
    parameters: Option<ResponseParameters>,
}

impl BotApi {
    /// `api_url` is the Bot API server (`https://api.telegram.org` or a local one); method
    /// URLs are `{api_url}/bot{token}/{method}`, as teloxide builds them.
    pub fn new(api_url: &Url, token: &str, client: Client, poll_client: Client) -> BotApi {
        let method = |name: &str| {
            let mut url = api_url.clone();
            // Only a URL that cannot be a base (`mailto:`-like) refuses segments; settings
            // validation has already required http(s), so this never leaves the URL bare.
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().push(&format!("bot{token}")).push(name);
            }
            url
        };
        BotApi {
            client,
            poll_client,
            send_message: method("sendMessage"),
            answer_callback_query: method("answerCallbackQuery"),
            edit_message_reply_markup: method("editMessageReplyMarkup"),
            get_updates: method("getUpdates"),
        }
    }

    pub async fn send_message(&self, payload: &SendMessage) -> Result<(), RequestError> {
        self.call::<_, IgnoredAny>(&self.client, &self.send_message, payload).await.map(drop)
    }

    pub async fn answer_callback_query(&self, payload: &AnswerCallbackQuery) -> Result<(), RequestError> {
        self.call::<_, IgnoredAny>(&self.client, &self.answer_callback_query, payload).await.map(drop)
    }

    pub async fn edit_message_reply_markup(
        &self,
        payload: &EditMessageReplyMarkup,
    ) -> Result<(), RequestError> {
        self.call::<_, IgnoredAny>(&self.client, &self.edit_message_reply_markup, payload).await.map(drop)
    }

    pub async fn get_updates(&self, payload: &GetUpdates) -> Result<Vec<Update>, RequestError> {
        self.call(&self.poll_client, &self.get_updates, payload).await
    }

    async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        client: &Client,
        url: &Url,
        payload: &P,
    ) -> Result<R, RequestError> {
        let body = serde_json::to_vec(payload).map_err(|error| invalid_json(error, ""))?;
        let response = client
            .post(url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await?;
        let bytes = response.bytes().await?;
        read_answer(&bytes)
    }
}

/// What an answer means: the result, or the error teloxide would have made of it.
fn read_answer<R: DeserializeOwned>(bytes: &[u8]) -> Result<R, RequestError> {
    let answer: Answer<R> = serde_json::from_slice(bytes)
        .map_err(|error| invalid_json(error, &String::from_utf8_lossy(bytes)))?;
    match answer {
        Answer { ok: true, result: Some(result), .. } => Ok(result),
        Answer { ok: true, result: None, .. } => {
            Err(invalid_json(serde::de::Error::missing_field("result"), &String::from_utf8_lossy(bytes)))
        }
        Answer { parameters: Some(ResponseParameters::RetryAfter(seconds)), .. } => {
            Err(RequestError::RetryAfter(seconds))
        }
        Answer { parameters: Some(ResponseParameters::MigrateToChatId(chat)), .. } => {
            Err(RequestError::MigrateToChatId(chat))
        }
        Answer { description, .. } => Err(RequestError::Api(
            description.unwrap_or_else(|| ApiError::Unknown("an error without a description".to_owned())),
        )),
    }
}

fn invalid_json(source: serde_json::Error, raw: &str) -> RequestError {
    RequestError::InvalidJson { source: Arc::new(source), raw: raw.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::{ChatId, Seconds};

    #[test]
    fn method_urls_are_built_the_way_teloxide_builds_them() {
        let token = "123456:ABC-def";
        for (base, expected) in [
            ("https://api.telegram.org", "https://api.telegram.org/bot123456:ABC-def/sendMessage"),
            ("http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot123456:ABC-def/sendMessage"),
            ("https://example.com/telegram", "https://example.com/telegram/bot123456:ABC-def/sendMessage"),
        ] {
            let api = BotApi::new(&Url::parse(base).unwrap(), token, Client::new(), Client::new());
            assert_eq!(api.send_message.as_str(), expected, "{base}");
        }
    }

    #[test]
    fn a_successful_answer_skips_the_result_it_does_not_need() {
        let sent =
            r#"{"ok":true,"result":{"message_id":7,"date":1,"chat":{"id":1,"type":"private"},"text":"hi"}}"#;
        assert!(read_answer::<IgnoredAny>(sent.as_bytes()).is_ok());
        assert!(read_answer::<IgnoredAny>(br#"{"ok":true,"result":true}"#).is_ok());
    }

    #[test]
    fn errors_become_what_teloxide_would_return() {
        let flood = br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#;
        assert!(matches!(
            read_answer::<IgnoredAny>(flood),
            Err(RequestError::RetryAfter(seconds)) if seconds == Seconds::from_seconds(7)
        ));
        let migrated = br#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}}"#;
        assert!(matches!(
            read_answer::<IgnoredAny>(migrated),
            Err(RequestError::MigrateToChatId(ChatId(-1001234)))
        ));
        let blocked =
            br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#;
        assert!(matches!(read_answer::<IgnoredAny>(blocked), Err(RequestError::Api(ApiError::BotBlocked))));
        let odd = br#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#;
        assert!(matches!(
            read_answer::<IgnoredAny>(odd),
            Err(RequestError::Api(ApiError::Unknown(text))) if text == "Internal Server Error"
        ));
        assert!(matches!(
            read_answer::<IgnoredAny>(br#"{"ok":false}"#),
            Err(RequestError::Api(ApiError::Unknown(_)))
        ));
    }

    #[test]
    fn a_body_that_is_not_an_answer_is_invalid_json_with_the_text_kept() {
        let Err(RequestError::InvalidJson { raw, .. }) =
            read_answer::<IgnoredAny>(b"<html>502 Bad Gateway</html>")
        else {
            panic!("expected InvalidJson")
        };
        assert_eq!(&*raw, "<html>502 Bad Gateway</html>");
        assert!(matches!(
            read_answer::<Vec<Update>>(br#"{"ok":true}"#),
            Err(RequestError::InvalidJson { .. })
        ));
    }

    #[test]
    fn updates_are_read_from_a_get_updates_answer() {
        let answer = br#"{"ok":true,"result":[{"update_id":10,"message":{"message_id":1,"date":1700000000,
            "chat":{"id":5,"type":"private","first_name":"A"},"from":{"id":5,"is_bot":false,"first_name":"A"},
            "text":"hello"}}]}"#;
        let updates = read_answer::<Vec<Update>>(answer).unwrap();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].id.0, 10);
    }
}
