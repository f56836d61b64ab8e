//! Ozon's reply windows: a seller may answer a buyer's chat for 48 hours after the buyer's last
//! message, and for FBS and rFBS orders up to 72 hours after delivery. Ozon is the authority
//! (the delivery time is not in the chat), so every reply is sent and Ozon decides; when it
//! refuses one while the 48 hours are over, the dead letter says that the window has closed,
//! in words an agent understands, beside Ozon's own message.

use serde_json::Value;
use std::fmt;

/// How long after the buyer's last message the seller may answer.
pub const AFTER_BUYER_MILLIS: i64 = 48 * 3600 * 1000;

/// What delivery knows about a chat: from the contact data the inbound half stores with each
/// buyer's message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatFacts {
    /// The buyer's last message, to mark the chat read up to after answering.
    pub last_message_id: Option<String>,
    /// When the buyer last wrote (milliseconds since the epoch).
    pub last_customer_at: Option<i64>,
}

impl ChatFacts {
    pub fn from_contact_data(data: Option<&Value>) -> ChatFacts {
        let Some(data) = data else { return ChatFacts::default() };
        ChatFacts {
            last_message_id: data.get("last_message_id").and_then(Value::as_str).map(str::to_owned),
            last_customer_at: data.get("last_customer_at").and_then(Value::as_i64),
        }
    }
}

/// The 48 hours after the buyer's last message are over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowOver {
    pub last_customer_at: i64,
}

impl fmt::Display for WindowOver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = chrono::DateTime::from_timestamp_millis(self.last_customer_at)
            .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "?".to_owned());
        write!(
            f,
            "outside Ozon's reply window: the buyer last wrote at {at}, and Ozon accepts a seller's answer for \
             48 hours after that (72 hours after delivery for FBS and rFBS orders); the buyer has to write again"
        )
    }
}

/// `Some` when the 48 hours after the buyer's last message are over at `now`.
pub fn over(facts: &ChatFacts, now: i64) -> Option<WindowOver> {
    let last = facts.last_customer_at?;
    (now > last.saturating_add(AFTER_BUYER_MILLIS)).then_some(WindowOver { last_customer_at: last })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_window_is_48_hours_after_the_buyers_last_message() {
        let facts =
            ChatFacts::from_contact_data(Some(&json!({"last_message_id": "30", "last_customer_at": 1_000})));
        assert_eq!(facts.last_message_id.as_deref(), Some("30"));
        assert_eq!(over(&facts, 1_000 + AFTER_BUYER_MILLIS), None);
        let closed = over(&facts, 1_001 + AFTER_BUYER_MILLIS).unwrap();
        assert!(closed.to_string().contains("1970-01-01 00:00 UTC"), "{closed}");
        assert_eq!(over(&ChatFacts::default(), i64::MAX), None, "unknown: Ozon decides");
    }
}
