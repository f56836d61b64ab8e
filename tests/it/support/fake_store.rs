//! A fake store implementing the order-lookup contract of `docs/order-lookup.md`: the
//! reference implementation the documentation points store developers to.
//!
//! `POST /switchboard/orders` with a Standard Webhooks signed JSON body
//! (`{"order_ref", "verifier", "contact", "customer", "locale"}`); the answer is signed with
//! the same `webhook-id`. A request that is unsigned, wrongly signed or older than five
//! minutes gets 401 and nothing else. Guests must prove an order is theirs with the email it
//! was placed with; the store asks for it (`verifier_required`) whether or not the number
//! exists, so the answer says nothing about which numbers exist. A customer Switchboard sends
//! as `customer` (signed in on the store's site, or linked) needs no verifier, and without a
//! number gets their latest order.
//!
//! Tests can take the store down (503), make it stall past any timeout, and read every request
//! it got.

use super::local_server::{ServerTask, local_listener, serve};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::orders::signing::{self, SigningKey};

/// The shared secret, in the Standard Webhooks format (the specification's example key).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const PATH: &str = "/switchboard/orders";

/// How the fake behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    /// Every lookup gets 503.
    Down,
    /// Every lookup waits this long before answering.
    Stalled(Duration),
}

/// One order the store knows.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    /// The email it was placed with: a guest's verifier.
    pub email: String,
    /// The store's customer it belongs to.
    pub customer_id: String,
    /// The contract's `order` object.
    pub order: Value,
}

#[derive(Default)]
struct Inner {
    orders: HashMap<String, StoredOrder>,
    requests: Vec<Value>,
    mode: Option<Mode>,
}

#[derive(Clone)]
pub struct FakeStore {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
    /// Shared by the clones; the server stops with the last of them.
    _server: Arc<ServerTask>,
}

impl FakeStore {
    pub async fn start() -> FakeStore {
        let inner = Arc::new(Mutex::new(Inner { mode: Some(Mode::Up), ..Inner::default() }));
        let app = Router::new().route(PATH, post(lookup)).with_state(Arc::clone(&inner));
        let (listener, base_url) = local_listener().await;
        FakeStore { inner, url: format!("{base_url}{PATH}"), _server: Arc::new(serve(listener, app)) }
    }

    pub fn add_order(&self, order_ref: &str, stored: StoredOrder) {
        self.inner.lock().unwrap().orders.insert(order_ref.to_owned(), stored);
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = Some(mode);
    }

    /// Every verified request body, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().requests.clone()
    }
}

/// An order in transit with a tracking link, as a store would describe it.
pub fn order_in_transit(id: &str) -> Value {
    json!({
        "id": id,
        "status": "in_transit",
        "status_label": "Handed to the courier",
        "placed_at": "2026-12-01T09:30:00Z",
        "items": [{"title": "Blue ceramic mug", "qty": 2}, {"title": "Tea towel", "qty": 1}],
        "shipments": [{
            "carrier": "CDEK",
            "tracking_number": "1234567890",
            "tracking_url": "https://track.example/1234567890",
            "eta": "2026-12-10"
        }],
        "refund": {"eligible": true, "until": "2026-12-31"}
    })
}

async fn lookup(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = SigningKey::from_secret(SECRET).expect("the fake's secret decodes");
    let header =
        |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    let id = header(signing::HEADER_ID);
    let now = chrono::Utc::now().timestamp();
    if key
        .verify(&id, &header(signing::HEADER_TIMESTAMP), &header(signing::HEADER_SIGNATURE), &body, now)
        .is_err()
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mode = {
        let mut inner = inner.lock().unwrap();
        inner.requests.push(request.clone());
        inner.mode.unwrap_or(Mode::Up)
    };
    match mode {
        Mode::Up => {}
        Mode::Down => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Mode::Stalled(delay) => tokio::time::sleep(delay).await,
    }
    let answer = answer(&inner.lock().unwrap().orders, &request);
    let body = answer.to_string();
    let signature = key.sign(&id, now, body.as_bytes());
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(signing::HEADER_ID, HeaderValue::from_str(&id).unwrap());
    headers.insert(signing::HEADER_TIMESTAMP, HeaderValue::from_str(&now.to_string()).unwrap());
    headers.insert(signing::HEADER_SIGNATURE, HeaderValue::from_str(&signature).unwrap());
    response
}

/// The contract's decision, as a store would make it.
fn answer(orders: &HashMap<String, StoredOrder>, request: &Value) -> Value {
    let order_ref = request["order_ref"].as_str();
    if let Some(customer) = request["customer"]["id"].as_str() {
        // Vouched for by the store itself: their own orders, no verifier.
        let theirs = |stored: &&StoredOrder| stored.customer_id == customer;
        let found = match order_ref {
            Some(order_ref) => orders.get(order_ref).filter(theirs),
            None => orders.values().filter(theirs).max_by_key(|stored| stored.order["placed_at"].to_string()),
        };
        return match found {
            Some(stored) => json!({"found": true, "order": stored.order}),
            None => json!({"found": false}),
        };
    }
    let Some(order_ref) = order_ref else { return json!({"found": false}) };
    let Some(email) = request["verifier"]["email"].as_str() else {
        // Asked whether or not the order exists, so the answer gives nothing away.
        return json!({"found": false, "verifier_required": "email"});
    };
    match orders.get(order_ref) {
        Some(stored) if stored.email.eq_ignore_ascii_case(email) => {
            json!({"found": true, "order": stored.order})
        }
        _ => json!({"found": false}),
    }
}
