//! Orders as the dialog sees them: what a store (or Ozon) said about one order, normalised.
//!
//! The lookup itself is I/O and lives in `crate::orders`; these are plain data so the dialog
//! can answer from them and a ticket can carry them. Every order source maps its own statuses
//! onto [`OrderStatus`], so the texts customers read (`order-status-label` in `dialog.ftl`)
//! are the same whichever source answered.

use serde::{Deserialize, Serialize};

/// The normalised status of an order. Customers read it through the Fluent message
/// `order-status-label` (selected by [`OrderStatus::code`]); the store's own wording travels
/// beside it as [`Order::status_label`].
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
    Found {
        order: Order,
    },
    /// No such order, or not for this customer: the two are not told apart, so that nobody
    /// learns which order numbers exist.
    NotFound,
    /// The store shows the order only with proof of ownership, and none (or the wrong kind)
    /// was sent.
    VerifierRequired {
        kind: VerifierKind,
    },
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
    Answered {
        lookup: OrderLookup,
    },
    /// The store did not answer in time, answered with an error or a bad signature, or the
    /// circuit breaker is open: the bot says so and offers a person.
    Unavailable,
    /// No order source is configured.
    NotConfigured,
}

/// Failed lookups (unknown orders, wrong verifiers) a contact may make in an hour before the
/// bot stops looking orders up for them and offers a person: enough for typos, too few to
/// find other people's orders by trying numbers.
pub const FAILED_LOOKUPS_PER_HOUR: u32 = 5;

/// The window [`FAILED_LOOKUPS_PER_HOUR`] counts in, in milliseconds.
pub const FAILED_LOOKUP_WINDOW_MILLIS: i64 = 60 * 60 * 1000;

/// Whether a lookup's answer counts against the contact's allowance: a number the source does
/// not know, or a verifier it did not accept. A signed-in customer's question about "my
/// order" (no number) never counts: it guesses nothing.
pub fn is_failure(lookup: &OrderLookup, order_ref_given: bool, verifier_given: bool) -> bool {
    order_ref_given
        && match lookup {
            OrderLookup::Found { .. } => false,
            OrderLookup::NotFound => true,
            OrderLookup::VerifierRequired { .. } => verifier_given,
        }
}

/// The most lines and parcels of an order that are kept and shown.
pub const MAX_ORDER_ITEMS: usize = 50;
pub const MAX_SHIPMENTS: usize = 10;
/// The longest text field kept from a source's answer, in characters.
pub const MAX_FIELD_CHARS: usize = 200;
/// The longest tracking link kept.
pub const MAX_URL_CHARS: usize = 1000;

impl Order {
    /// The order with every list and text cut to the limits above, control characters
    /// removed, and tracking links that are not `http(s)://` dropped: what a source sends is
    /// stored in the dialog's answer, on a ticket and in the console, so none of it may be
    /// unbounded or turn into a link of another kind.
    pub fn bounded(mut self) -> Order {
        self.id = clip(&self.id, MAX_FIELD_CHARS);
        self.status_label =
            self.status_label.map(|label| clip(&label, MAX_FIELD_CHARS)).filter(|l| !l.is_empty());
        self.placed_at = self.placed_at.map(|at| clip(&at, 40));
        self.items.truncate(MAX_ORDER_ITEMS);
        for item in &mut self.items {
            item.title = clip(&item.title, MAX_FIELD_CHARS);
        }
        self.shipments.truncate(MAX_SHIPMENTS);
        for shipment in &mut self.shipments {
            shipment.carrier =
                shipment.carrier.take().map(|c| clip(&c, MAX_FIELD_CHARS)).filter(|c| !c.is_empty());
            shipment.tracking_number =
                shipment.tracking_number.take().map(|n| clip(&n, MAX_FIELD_CHARS)).filter(|n| !n.is_empty());
            shipment.tracking_url =
                shipment.tracking_url.take().filter(|url| is_web_link(url) && url.len() <= MAX_URL_CHARS);
            shipment.eta = shipment.eta.take().map(|eta| clip(&eta, 40)).filter(|eta| !eta.is_empty());
        }
        if let Some(refund) = &mut self.refund {
            refund.until = refund.until.take().map(|until| clip(&until, 40)).filter(|u| !u.is_empty());
        }
        self
    }

    /// The parcel to tell the customer about: the first with a tracking number or link.
    pub fn tracked_shipment(&self) -> Option<&Shipment> {
        self.shipments.iter().find(|s| s.tracking_number.is_some() || s.tracking_url.is_some())
    }
}

fn clip(text: &str, max_chars: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max_chars).collect::<String>().trim().to_owned()
}

/// An absolute `http://` or `https://` link without spaces or control characters.
fn is_web_link(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        Order {
            id: "12345678-0001".into(),
            status: OrderStatus::InTransit,
            status_label: Some("  ".into()),
            placed_at: None,
            items: vec![OrderItem { title: "a\u{7}mug".into(), qty: 1 }; 80],
            shipments: vec![Shipment {
                carrier: Some("CDEK".into()),
                tracking_number: Some("1234".into()),
                tracking_url: Some("javascript:alert(1)".into()),
                eta: None,
            }],
            refund: None,
        }
    }

    #[test]
    fn bounded_cuts_lists_drops_odd_links_and_control_characters() {
        let bounded = order().bounded();
        assert_eq!(bounded.items.len(), MAX_ORDER_ITEMS);
        assert_eq!(bounded.items[0].title, "amug");
        assert_eq!(bounded.status_label, None);
        assert_eq!(bounded.shipments[0].tracking_url, None);
        let mut with_link = order();
        with_link.shipments[0].tracking_url = Some("https://track.example/1234".into());
        assert_eq!(
            with_link.bounded().shipments[0].tracking_url.as_deref(),
            Some("https://track.example/1234")
        );
    }

    #[test]
    fn only_guesses_count_as_failures() {
        assert!(is_failure(&OrderLookup::NotFound, true, false));
        assert!(!is_failure(&OrderLookup::NotFound, false, false));
        assert!(!is_failure(&OrderLookup::VerifierRequired { kind: VerifierKind::Email }, true, false));
        assert!(is_failure(&OrderLookup::VerifierRequired { kind: VerifierKind::Email }, true, true));
        assert!(!is_failure(&OrderLookup::Found { order: order() }, true, true));
    }

    #[test]
    fn status_codes_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_code(status.code()), Some(status));
        }
    }
}
