//! The store contract (`docs/order-lookup.md`): one signed JSON POST per lookup, one signed
//! JSON answer. The answer must carry the request's `webhook-id`, so an answer recorded for one
//! question cannot be replayed as the answer to another.

use super::signing::{self, SigningKey};
use super::{OrderLookup, OrderQuery, OrderSource, OrderSourceError};
use crate::config::orders::OrdersSettings;
use crate::core::order::{Order, OrderItem, OrderStatus, Refund, Shipment, VerifierKind};
use serde::Deserialize;
use std::time::Duration;

/// The largest answer read; an order with its lines fits many times over.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Asks the store over HTTP.
pub struct HttpOrderSource {
    client: reqwest::Client,
    url: String,
    key: SigningKey,
    timeout: Duration,
}

impl HttpOrderSource {
    pub fn new(settings: &OrdersSettings) -> Result<HttpOrderSource, OrderSourceError> {
        let key = SigningKey::from_secret(settings.key.expose())
            .ok_or_else(|| OrderSourceError::BadAnswer("the signing key does not decode".into()))?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| OrderSourceError::Unavailable(error.to_string()))?;
        Ok(HttpOrderSource { client, url: settings.url.clone(), key, timeout: settings.timeout })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[async_trait::async_trait]
impl OrderSource for HttpOrderSource {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn lookup(&self, query: &OrderQuery) -> Result<OrderLookup, OrderSourceError> {
        let body =
            serde_json::to_vec(query).map_err(|error| OrderSourceError::BadAnswer(error.to_string()))?;
        let id = format!("lookup_{}", uuid::Uuid::new_v4().simple());
        let timestamp = chrono::Utc::now().timestamp();
        let signature = self.key.sign(&id, timestamp, &body);
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signing::HEADER_ID, &id)
            .header(signing::HEADER_TIMESTAMP, timestamp.to_string())
            .header(signing::HEADER_SIGNATURE, signature)
            .body(body)
            .send()
            .await
            .map_err(|error| OrderSourceError::Unavailable(describe(&error)))?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(OrderSourceError::Unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(OrderSourceError::BadAnswer(format!("HTTP {status}")));
        }
        let header = |name: &str| {
            response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned()
        };
        let (answer_id, answer_timestamp, answer_signature) = (
            header(signing::HEADER_ID),
            header(signing::HEADER_TIMESTAMP),
            header(signing::HEADER_SIGNATURE),
        );
        let body = read_bounded(response).await?;
        if answer_id != id {
            return Err(OrderSourceError::BadAnswer(
                "the answer is not signed for this request's webhook-id".into(),
            ));
        }
        self.key
            .verify(&answer_id, &answer_timestamp, &answer_signature, &body, chrono::Utc::now().timestamp())
            .map_err(|error| OrderSourceError::BadAnswer(format!("answer signature: {error}")))?;
        parse_answer(&body)
    }
}

/// A reqwest error without the URL (which may carry a token of the store's).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_connect() {
        "connection refused or failed".to_owned()
    } else {
        error.without_url_ref().to_string()
    }
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "<orders url>");
        }
        text
    }
}

async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, OrderSourceError> {
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|error| OrderSourceError::Unavailable(describe(&error)))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(OrderSourceError::BadAnswer(format!("the answer is over {MAX_ANSWER_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Deserialize)]
struct WireAnswer {
    found: bool,
    #[serde(default)]
    order: Option<WireOrder>,
    #[serde(default)]
    verifier_required: Option<VerifierKind>,
}

#[derive(Deserialize)]
struct WireOrder {
    id: serde_json::Value,
    status: String,
    #[serde(default)]
    status_label: Option<String>,
    #[serde(default)]
    placed_at: Option<String>,
    #[serde(default)]
    items: Vec<OrderItem>,
    #[serde(default)]
    shipments: Vec<Shipment>,
    #[serde(default)]
    refund: Option<Refund>,
}

/// Reads the store's answer body (already verified): `{"found": true, "order": {...}}`,
/// `{"found": false}` or `{"found": false, "verifier_required": "email"}`.
pub fn parse_answer(body: &[u8]) -> Result<OrderLookup, OrderSourceError> {
    let answer: WireAnswer = serde_json::from_slice(body)
        .map_err(|error| OrderSourceError::BadAnswer(format!("answer JSON: {error}")))?;
    match (answer.found, answer.order, answer.verifier_required) {
        (true, Some(order), _) => {
            let status = OrderStatus::from_code(&order.status)
                .ok_or_else(|| OrderSourceError::BadAnswer(format!("unknown status {:?}", order.status)))?;
            let id = match order.id {
                serde_json::Value::String(id) => id,
                serde_json::Value::Number(id) => id.to_string(),
                _ => {
                    return Err(OrderSourceError::BadAnswer(
                        "order.id is neither a string nor a number".into(),
                    ));
                }
            };
            let order = Order {
                id,
                status,
                status_label: order.status_label,
                placed_at: order.placed_at,
                items: order.items,
                shipments: order.shipments,
                refund: order.refund,
            };
            Ok(OrderLookup::Found { order: order.bounded() })
        }
        (true, None, _) => Err(OrderSourceError::BadAnswer("found is true but there is no order".into())),
        (false, _, Some(kind)) => Ok(OrderLookup::VerifierRequired { kind }),
        (false, _, None) => Ok(OrderLookup::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_as_the_contract_says() {
        let found =
            br#"{"found": true, "order": {"id": 1001, "status": "in_transit", "status_label": "With courier",
            "items": [{"title": "Mug", "qty": 2}],
            "shipments": [{"carrier": "CDEK", "tracking_number": "1", "tracking_url": "https://t.example/1"}],
            "refund": {"eligible": true, "until": "2026-12-31"}}}"#;
        let OrderLookup::Found { order } = parse_answer(found).unwrap() else { panic!("found") };
        assert_eq!(order.id, "1001");
        assert_eq!(order.status, OrderStatus::InTransit);
        assert_eq!(order.items, vec![OrderItem { title: "Mug".into(), qty: 2 }]);
        assert_eq!(parse_answer(br#"{"found": false}"#).unwrap(), OrderLookup::NotFound);
        assert_eq!(
            parse_answer(br#"{"found": false, "verifier_required": "phone"}"#).unwrap(),
            OrderLookup::VerifierRequired { kind: VerifierKind::Phone }
        );
        for bad in [
            &br#"{"found": true}"#[..],
            br#"{"found": true, "order": {"id": "1", "status": "teleported"}}"#,
            br#"{"found": "yes"}"#,
            br#"not json"#,
        ] {
            assert!(
                matches!(parse_answer(bad), Err(OrderSourceError::BadAnswer(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
