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
//! The three calls that answer a message also skip reqwest: they go through hyper's pooled
//! client (the one reqwest wraps), which costs about half as much CPU per call, because reqwest
//! adds URL conversions and its redirect and retry layers to every request. (Measured on this
//! project's machine: 11 against 20 microseconds per call.) Only when the environment names a
//! proxy (`HTTPS_PROXY` and the like), which reqwest honours and hyper does not, do they go
//! through reqwest too. `getUpdates`, one call per batch, always uses reqwest.
//!
//! At most `api_connections` of the three calls are in flight at once (a semaphore here, and
//! as many idle connections kept): each call in flight holds a pooled connection with its read
//! and write buffers and a task, about 30 KB, and 300 busy conversations left unbounded opened
//! some 400 connections, which was a sixth of the process's memory (BENCHMARKS.md).
//!
//! The payloads are still teloxide's types, serialized as teloxide serializes them, and errors
//! are still teloxide's [`RequestError`], so the wire format and the way an error is
//! classified (`outbound::classify`) do not change.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Url};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use std::sync::Arc;
use std::time::Duration;
use teloxide::payloads::{AnswerCallbackQuery, EditMessageReplyMarkup, GetUpdates, SendMessage};
use teloxide::types::{ResponseParameters, Update};
use teloxide::{ApiError, RequestError};

/// The largest answer the direct client reads: Telegram's answers to these calls are a few
/// hundred bytes, and a server that sends more is not the Bot API.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// How the three per-message calls travel.
enum Transport {
    Direct {
        client: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
        timeout: Duration,
    },
    /// A proxy from the environment is in effect, which only reqwest honours.
    Reqwest(Client),
}

/// One method: its URL for reqwest and the same URL for hyper.
struct Method {
    url: Url,
    uri: hyper::Uri,
}

/// The four methods, each with its URL parsed once.
pub struct BotApi {
    transport: Transport,
    /// For `getUpdates`: its timeout covers the long poll.
    poll_client: Client,
    send_message: Method,
    answer_callback_query: Method,
    edit_message_reply_markup: Method,
    get_updates: Method,
    /// One permit per call in flight, so the connections stay bounded.
    calls: tokio::sync::Semaphore,
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

/// Why the direct client could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the Bot API client: {0}")]
pub struct ClientError(String);

impl BotApi {
    /// `api_url` is the Bot API server (`https://api.telegram.org` or a local one); method
    /// URLs are `{api_url}/bot{token}/{method}`, as teloxide builds them. `client` (reqwest)
    /// is used for the per-message calls only when `proxy_from_environment`; otherwise they
    /// get a hyper client with the same `timeout` per call. At most `connections` calls are
    /// in flight at once; the others wait for a permit (that wait does not count against
    /// `timeout`, which bounds each exchange with the server).
    pub fn new(
        api_url: &Url,
        token: &str,
        client: Client,
        poll_client: Client,
        timeout: Duration,
        connections: usize,
        proxy_from_environment: bool,
    ) -> Result<BotApi, ClientError> {
        let method = |name: &str| -> Result<Method, ClientError> {
            let mut url = api_url.clone();
            // Only a URL that cannot be a base (`mailto:`-like) refuses segments; settings
            // validation has already required http(s), so this never leaves the URL bare.
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().push(&format!("bot{token}")).push(name);
            }
            // The error would show the URL, which holds the token.
            let uri =
                url.as_str().parse().map_err(|_| ClientError(format!("the {name} URL is not valid")))?;
            Ok(Method { url, uri })
        };
        let connections = connections.max(1);
        let transport = if proxy_from_environment {
            Transport::Reqwest(client)
        } else {
            direct_transport(timeout, connections)?
        };
        Ok(BotApi {
            transport,
            poll_client,
            send_message: method("sendMessage")?,
            answer_callback_query: method("answerCallbackQuery")?,
            edit_message_reply_markup: method("editMessageReplyMarkup")?,
            get_updates: method("getUpdates")?,
            calls: tokio::sync::Semaphore::new(connections),
        })
    }

    pub async fn send_message(&self, payload: &SendMessage) -> Result<(), RequestError> {
        self.call::<_, IgnoredAny>(&self.send_message, payload).await.map(drop)
    }

    pub async fn answer_callback_query(&self, payload: &AnswerCallbackQuery) -> Result<(), RequestError> {
        self.call::<_, IgnoredAny>(&self.answer_callback_query, payload).await.map(drop)
    }

    pub async fn edit_message_reply_markup(
        &self,
        payload: &EditMessageReplyMarkup,
    ) -> Result<(), RequestError> {
        self.call::<_, IgnoredAny>(&self.edit_message_reply_markup, payload).await.map(drop)
    }

    pub async fn get_updates(&self, payload: &GetUpdates) -> Result<Vec<Update>, RequestError> {
        let body = to_body(payload)?;
        read_answer(&post_reqwest(&self.poll_client, &self.get_updates.url, body).await?)
    }

    async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &Method,
        payload: &P,
    ) -> Result<R, RequestError> {
        let body = to_body(payload)?;
        // The semaphore is never closed, so acquiring only ever waits.
        let _permit = self.calls.acquire().await.map_err(transport_error)?;
        let answer = match &self.transport {
            Transport::Direct { client, timeout } => post_direct(client, &method.uri, body, *timeout).await?,
            Transport::Reqwest(client) => post_reqwest(client, &method.url, body).await?,
        };
        read_answer(&answer)
    }
}

fn to_body<P: Serialize>(payload: &P) -> Result<Vec<u8>, RequestError> {
    serde_json::to_vec(payload).map_err(|error| invalid_json(error, ""))
}

async fn post_reqwest(client: &Client, url: &Url, body: Vec<u8>) -> Result<Bytes, RequestError> {
    let response = client
        .post(url.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(body)
        .send()
        .await?;
    Ok(response.bytes().await?)
}

async fn post_direct(
    client: &HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: &hyper::Uri,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Bytes, RequestError> {
    let request = hyper::Request::post(uri.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(Full::new(Bytes::from(body)))
        .map_err(transport_error)?;
    let exchange = async {
        let response = client.request(request).await.map_err(transport_error)?;
        let collected = Limited::new(response.into_body(), MAX_ANSWER_BYTES).collect().await;
        collected.map(|body| body.to_bytes()).map_err(|error| transport_error(&*error))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(answer) => answer,
        // As with reqwest's timeout: a lost call, which the outbox retries.
        Err(_) => Err(RequestError::Io(Arc::new(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the Bot API did not answer within {timeout:?}"),
        )))),
    }
}

/// A failure of the direct client (connecting, TLS, a dropped connection) as teloxide's I/O
/// error, which the outbox treats like reqwest's network errors: try again later. hyper's
/// messages never contain the URL (and so never the token).
fn transport_error(error: impl std::fmt::Display) -> RequestError {
    RequestError::Io(Arc::new(std::io::Error::other(format!("Bot API connection: {error}"))))
}

/// hyper's pooled client with rustls (ring, the public roots, as reqwest is set up), Nagle
/// off and teloxide's connect timeout. It keeps at most `connections` idle: while a call waits
/// for a connection, hyper also opens a new one, and would otherwise keep the spare.
fn direct_transport(timeout: Duration, connections: usize) -> Result<Transport, ClientError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // The provider is named: the dependency tree enables two, and rustls refuses to guess.
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| ClientError(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client = HyperClient::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(connections)
        .build(https);
    Ok(Transport::Direct { client, timeout })
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
            let api = BotApi::new(
                &Url::parse(base).unwrap(),
                token,
                Client::new(),
                Client::new(),
                Duration::from_secs(1),
                4,
                false,
            )
            .unwrap();
            assert_eq!(api.send_message.url.as_str(), expected, "{base}");
            assert_eq!(api.send_message.uri.to_string(), expected, "{base}");
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

    /// A Bot API that holds every call for a moment and remembers how many it had at once.
    async fn slow_api(
        in_flight: Arc<std::sync::atomic::AtomicUsize>,
        peak: Arc<std::sync::atomic::AtomicUsize>,
    ) -> Url {
        use std::sync::atomic::Ordering;
        let answer = move || {
            let (in_flight, peak) = (Arc::clone(&in_flight), Arc::clone(&peak));
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                axum::Json(serde_json::json!({"ok": true, "result": true}))
            }
        };
        let router = axum::Router::new().route("/{*path}", axum::routing::post(answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Url::parse(&format!("http://{address}")).unwrap()
    }

    #[tokio::test]
    async fn no_more_calls_are_in_flight_than_the_connections_allowed() {
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let url = slow_api(Arc::clone(&in_flight), Arc::clone(&peak)).await;
        let api = BotApi::new(
            &url,
            "123456:ABC-def",
            Client::new(),
            Client::new(),
            Duration::from_secs(10),
            3,
            false,
        )
        .unwrap();
        let queries: Vec<AnswerCallbackQuery> =
            (0..12).map(|n| AnswerCallbackQuery::new(format!("query-{n}").into())).collect();
        let calls = queries.iter().map(|query| api.answer_callback_query(query));
        let results = futures::future::join_all(calls).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        // Twelve calls at once, each held by the server: the first three take every permit,
        // and the rest go out only as those come back.
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
