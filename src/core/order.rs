//! Orders as the dialog sees them: what a store (or Ozon) said about one order, normalised.
//!
//! The lookup itself is I/O and lives in `crate::orders`; these are plain data so the dialog
//! can answer from them and a ticket can carry them. Every order source maps its own statuses
//! onto [`OrderStatus`], so the texts customers read (`order-status-*` in `dialog.ftl`) are
//! the same whichever source answered.

use serde::{Deserialize, Serialize};

/// The normalised status of an order. The store's own wording travels beside it as
/// [`Order::status_label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    Packing,
    Shipped,
    InTransit,
    ReadyForPickup,
    Delivered,
    Cancelled,
    Returned,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 9] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Packing,
        OrderStatus::Shipped,
        OrderStatus::InTransit,
        OrderStatus::ReadyForPickup,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Returned,
    ];

    /// The wire name (`in_transit`), as in the store contract and the database.
    pub fn code(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Packing => "packing",
            OrderStatus::Shipped => "shipped",
            OrderStatus::InTransit => "in_transit",
            OrderStatus::ReadyForPickup => "ready_for_pickup",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Returned => "returned",
        }
    }

    pub fn from_code(code: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|status| status.code() == code)
    }

    /// The Fluent key of the status's label (`order-status-in-transit`).
    pub fn label_key(self) -> String {
        format!("order-status-{}", self.code().replace('_', "-"))
    }

    /// Whether the parcel has left the store, so tracking means something.
    pub fn is_on_its_way(self) -> bool {
        matches!(self, OrderStatus::Shipped | OrderStatus::InTransit | OrderStatus::ReadyForPickup)
    }
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    pub title: String,
    pub qty: u32,
}

/// One parcel of an order. Every field is optional: a store may know the carrier before the
/// tracking number, or send a link without a date.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Shipment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
    /// The expected delivery date as the store wrote it (ISO 8601, `2026-12-10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<String>,
}

/// Whether the order can still be refunded, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub eligible: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// An order as a source reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: OrderStatus,
    /// The store's own words for the status ("Handed to the courier"), shown beside ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_label: Option<String>,
    /// When it was placed (RFC 3339), as the store wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_at: Option<String>,
    #[serde(default)]
    pub items: Vec<OrderItem>,
    #[serde(default)]
    pub shipments: Vec<Shipment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Refund>,
}

/// Which proof of ownership a store asks a guest for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifierKind {
    Email,
    Phone,
}

impl VerifierKind {
    pub fn code(self) -> &'static str {
        match self {
            VerifierKind::Email => "email",
            VerifierKind::Phone => "phone",
        }
    }
}

/// A guest's proof that an order is theirs: the email or phone number it was placed with.
/// Serialised as the contract's `{"email": "..."}` or `{"phone": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verifier {
    Email(String),
    Phone(String),
}

impl Verifier {
    pub fn kind(&self) -> VerifierKind {
        match self {
            Verifier::Email(_) => VerifierKind::Email,
            Verifier::Phone(_) => VerifierKind::Phone,
        }
    }
}

/// What a source answered about one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum OrderLookup {
    Found { order: Order },
    /// No such order, or not for this customer: the two are not told apart, so that nobody
    /// learns which order numbers exist.
    NotFound,
    /// The store shows the order only with proof of ownership, and none (or the wrong kind)
    /// was sent.
    VerifierRequired { kind: VerifierKind },
}

/// Why the dialog asked for a lookup: it decides what the answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupPurpose {
    /// "Where is my order?": status, carrier, tracking link.
    Track,
    /// "Where is my refund?": whether it is refundable, until when.
    Refund,
    /// A problem with an order: the lookup confirms the number and puts the order on the
    /// ticket; the flow then goes on.
    Problem,
}

/// The result of a lookup as it enters the dialog (`dialog::Input::OrderLooked`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LookupOutcome {
    Answered { lookup: OrderLookup },
    /// The store did not answer in time, answered with an error or a bad signature, or the
    /// circuit breaker is open: the bot says so and offers a person.
    Unavailable,
    /// No order source is configured.
    NotConfigured,
}
