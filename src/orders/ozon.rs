//! Ozon postings as an order source: a posting number (`12345678-0001-1`) is looked up with
//! `POST /v3/posting/fbs/get` (the seller ships: FBS and rFBS) and, when Ozon does not know it
//! there, `POST /v2/posting/fbo/get` (Ozon ships from its warehouse), and Ozon's status and
//! substatus are mapped onto the normalised [`OrderStatus`].
//!
//! Only the seller's own postings exist for its `Client-Id`, so a number that is not theirs is
//! simply not found. The source answers buyers in Ozon's chat only: Ozon signed them in, and
//! they write to the seller about their own orders, so no verifier is asked. A posting number
//! typed on another channel goes to the store's own source, if there is one, which decides what
//! a stranger must prove. (Trying numbers is bounded like every lookup: five failures an hour per
//! contact.)

use super::{
    Order, OrderItem, OrderLookup, OrderQuery, OrderSource, OrderSourceError, OrderStatus, Shipment,
};
use crate::channels::ozon::api::{ApiError, OzonApi, PostingScheme};
use serde_json::Value;

/// Ozon's posting numbers: the order number and the posting's own number after it.
pub fn is_posting_number(text: &str) -> bool {
    let parts: Vec<&str> = text.trim().split('-').collect();
    let digits = |part: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&part.len()) && part.chars().all(|c| c.is_ascii_digit())
    };
    parts.len() == 3 && digits(parts[0], 6..=12) && digits(parts[1], 4..=4) && digits(parts[2], 1..=3)
}

/// The normalised status of a posting, from Ozon's status and substatus.
pub fn status_of(status: &str, substatus: &str) -> Option<OrderStatus> {
    if substatus == "posting_in_pickup_point" {
        return Some(OrderStatus::ReadyForPickup);
    }
    if substatus.contains("returned") || substatus.contains("returning") {
        return Some(OrderStatus::Returned);
    }
    Some(match status {
        "awaiting_registration" | "awaiting_approve" | "acceptance_in_progress" | "awaiting_verification" => {
            OrderStatus::Paid
        }
        "awaiting_packaging" | "awaiting_deliver" => OrderStatus::Packing,
        "sent_by_seller" | "driver_pickup" => OrderStatus::Shipped,
        "delivering" | "arbitration" | "client_arbitration" => OrderStatus::InTransit,
        "delivered" => OrderStatus::Delivered,
        "cancelled" | "cancelled_from_split_pending" | "not_accepted" => OrderStatus::Cancelled,
        _ => return None,
    })
}

/// Reads a posting object (the `result` of either method) into an order.
pub fn order_of(posting: &Value) -> Result<Order, OrderSourceError> {
    let text = |value: &Value| value.as_str().filter(|text| !text.is_empty()).map(str::to_owned);
    let number = text(&posting["posting_number"])
        .ok_or_else(|| OrderSourceError::BadAnswer("a posting without its number".to_owned()))?;
    let status_code = posting["status"].as_str().unwrap_or_default();
    let status = status_of(status_code, posting["substatus"].as_str().unwrap_or_default())
        .ok_or_else(|| OrderSourceError::BadAnswer(format!("an unknown posting status {status_code:?}")))?;
    let items = posting["products"]
        .as_array()
        .map(|products| {
            products
                .iter()
                .filter_map(|product| {
                    let title = text(&product["name"])?;
                    let qty =
                        product["quantity"].as_u64().and_then(|qty| u32::try_from(qty).ok()).unwrap_or(1);
                    Some(OrderItem { title, qty })
                })
                .collect()
        })
        .unwrap_or_default();
    let carrier = text(&posting["delivery_method"]["tpl_provider"])
        .or_else(|| text(&posting["delivery_method"]["name"]));
    let tracking_number = text(&posting["tracking_number"]);
    let shipments = if carrier.is_some() || tracking_number.is_some() {
        vec![Shipment { carrier, tracking_number, tracking_url: None, eta: None }]
    } else {
        Vec::new()
    };
    Ok(Order {
        id: number,
        status,
        status_label: None,
        placed_at: text(&posting["in_process_at"]).or_else(|| text(&posting["created_at"])),
        items,
        shipments,
        refund: None,
    })
}

/// The `ozon` order source.
pub struct OzonPostings {
    api: OzonApi,
}

impl OzonPostings {
    pub fn new(api: OzonApi) -> OzonPostings {
        OzonPostings { api }
    }
}

fn unavailable(error: ApiError) -> OrderSourceError {
    OrderSourceError::Unavailable(error.to_string())
}

#[async_trait::async_trait]
impl OrderSource for OzonPostings {
    fn name(&self) -> &'static str {
        "ozon"
    }

    fn accepts(&self, query: &OrderQuery) -> bool {
        query.contact.channel == crate::channels::ozon::CHANNEL
            && query.order_ref.as_deref().is_some_and(is_posting_number)
    }

    async fn lookup(&self, query: &OrderQuery) -> Result<OrderLookup, OrderSourceError> {
        let Some(number) =
            query.order_ref.as_deref().map(str::trim).filter(|number| is_posting_number(number))
        else {
            return Ok(OrderLookup::NotFound);
        };
        for scheme in [PostingScheme::Fbs, PostingScheme::Fbo] {
            match self.api.posting(scheme, number).await {
                Ok(posting) => return Ok(OrderLookup::Found { order: order_of(&posting)? }),
                Err(ApiError::NotFound { .. }) => continue,
                // Ozon answers 400 for a number of the other scheme on some accounts.
                Err(ApiError::Refused { status: 400, .. }) => continue,
                Err(error) => return Err(unavailable(error)),
            }
        }
        Ok(OrderLookup::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let all: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/ozon/postings.json")).unwrap();
        all[name].clone()
    }

    #[test]
    fn posting_numbers_are_told_from_order_numbers() {
        assert!(is_posting_number("57195475-0050-3"));
        assert!(is_posting_number(" 0123456789-0001-12 "));
        for not in ["57195475-0050", "57195475-0050-3-1", "5719547a-0050-3", "57195475-050-3", "", "--"] {
            assert!(!is_posting_number(not), "{not:?}");
        }
    }

    #[test]
    fn ozon_statuses_map_onto_the_normalised_ones() {
        assert_eq!(status_of("awaiting_packaging", ""), Some(OrderStatus::Packing));
        assert_eq!(status_of("awaiting_deliver", ""), Some(OrderStatus::Packing));
        assert_eq!(status_of("driver_pickup", ""), Some(OrderStatus::Shipped));
        assert_eq!(status_of("delivering", "posting_on_way_to_city"), Some(OrderStatus::InTransit));
        assert_eq!(status_of("delivering", "posting_in_pickup_point"), Some(OrderStatus::ReadyForPickup));
        assert_eq!(status_of("cancelled", "posting_returned_to_warehouse"), Some(OrderStatus::Returned));
        assert_eq!(status_of("delivered", "posting_received"), Some(OrderStatus::Delivered));
        assert_eq!(status_of("not_accepted", ""), Some(OrderStatus::Cancelled));
        assert_eq!(status_of("something_new", ""), None);
    }

    #[test]
    fn postings_read_into_orders() {
        let order = order_of(&fixture("fbs_delivering")).unwrap();
        assert_eq!(order.id, "57195475-0050-3");
        assert_eq!(order.status, OrderStatus::InTransit);
        assert_eq!(
            order.items,
            [OrderItem {
                title: "Кофе ароматизированный \"Шоколадный апельсин\" 250 гр".to_owned(), qty: 2
            }]
        );
        assert_eq!(order.shipments[0].carrier.as_deref(), Some("Ozon Логистика"));
        assert_eq!(order.shipments[0].tracking_number.as_deref(), Some("OZN-57195475"));
        assert_eq!(order.placed_at.as_deref(), Some("2021-11-20T09:14:16Z"));

        let fbo = order_of(&fixture("fbo_at_pickup_point")).unwrap();
        assert_eq!(fbo.status, OrderStatus::ReadyForPickup);
        assert!(fbo.shipments.is_empty(), "no carrier or tracking number: no shipment line");
        assert_eq!(order_of(&fixture("fbs_cancelled")).unwrap().status, OrderStatus::Cancelled);
        assert!(matches!(
            order_of(&serde_json::json!({"status": "delivered"})),
            Err(OrderSourceError::BadAnswer(_))
        ));
    }
}
