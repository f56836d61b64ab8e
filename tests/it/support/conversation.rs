//! A channel's conversation as the store holds it, read the way the end-to-end tests check
//! it: the customer's side of the log, the outbox rows, the queued tickets.

use std::sync::Arc;
use switchboard::core::handoff::TicketStatus;
use switchboard::store::{Author, OutboxRow, Page, Store, TicketSummary};

/// The conversation of the contact `external_id` on `channel`.
pub async fn conversation_id(store: &Arc<dyn Store>, channel: &str, external_id: &str) -> i64 {
    let contact = store.contact(channel, external_id).await.unwrap().expect("a contact");
    store.conversation_of_contact(contact.id).await.unwrap().expect("a conversation").id
}

/// The customer's side of the message log, as the agent console shows it.
pub async fn customer_log(store: &Arc<dyn Store>, channel: &str, external_id: &str) -> Vec<String> {
    let conversation = conversation_id(store, channel, external_id).await;
    store
        .transcript(conversation)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.author == Author::Customer)
        .map(|entry| entry.text.unwrap_or_default())
        .collect()
}

/// Every outbox row of the conversation, oldest first.
pub async fn outbox(store: &Arc<dyn Store>, channel: &str, external_id: &str) -> Vec<OutboxRow> {
    let conversation = conversation_id(store, channel, external_id).await;
    store.outbox_of_conversation(conversation).await.unwrap()
}

pub async fn queued_tickets(store: &Arc<dyn Store>) -> Vec<TicketSummary> {
    store.list_tickets(Some(TicketStatus::Queued), Page::first(100_000)).await.unwrap()
}

/// The name a stored photo gets: the hex SHA-256 of its bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
