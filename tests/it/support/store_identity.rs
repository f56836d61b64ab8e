//! The store's side of signed-in customers (`src/customers.rs`), as the tests play it: the
//! secret the store shares with Switchboard, identities signed with it, and one-time link
//! tokens minted through `POST /api/link-tokens` for a messenger's deep link.

use serde_json::{Value, json};
use switchboard::customers::{self, Purpose};

/// `SWITCHBOARD_IDENTITY_SECRET` in every test app that links customers.
pub const IDENTITY_SECRET: &str = "the-store-and-switchboard-share-this-secret";

/// A customer as the store signs them, for `purpose`, now.
pub fn signed(purpose: Purpose, customer: &str, email: &str) -> Value {
    let ts = chrono::Utc::now().timestamp();
    let sig = customers::sign(IDENTITY_SECRET, purpose, ts, customer, Some(email));
    json!({"customer_id": customer, "email": email, "ts": ts, "sig": sig})
}

/// A link token for `customer`, as the store's account page gets one from the app at `base`.
pub async fn mint_link_token(client: &reqwest::Client, base: &str, customer: &str, email: &str) -> String {
    let minted = client
        .post(format!("{base}/api/link-tokens"))
        .json(&signed(Purpose::LinkToken, customer, email))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), 201);
    minted.json::<Value>().await.unwrap()["token"].as_str().expect("a token").to_owned()
}
