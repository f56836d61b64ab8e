//! Validated order identifiers.
//!
//! What a valid ID looks like differs per marketplace, so the exact pattern comes from config
//! (`SWITCHBOARD_ORDER_ID_PATTERN`, a regular expression compiled outside `core`). This module
//! owns the part every marketplace shares: trimming, normalising dashes and spaces, refusing
//! absurd input before the pattern ever sees it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest candidate we even look at; real order numbers are far shorter.
pub const MAX_ORDER_ID_LEN: usize = 64;

/// The marketplace-specific rule. Implemented by `order_format::RegexOrderIdFormat` in the
/// application, and by small closures-over-data in tests.
pub trait OrderIdFormat {
    /// Whether a normalised candidate is an order ID.
    fn accepts(&self, candidate: &str) -> bool;
    /// An example shown to the customer when their ID is rejected.
    fn example(&self) -> &str;
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderIdError {
    Empty,
    TooLong,
    DoesNotMatch,
}

impl OrderId {
    /// Parses what a customer typed. Customers paste IDs with `#`, `№`, surrounding spaces,
    /// spaces instead of dashes and typographic dashes; all of those are normalised first.
    pub fn parse(raw: &str, format: &dyn OrderIdFormat) -> Result<OrderId, OrderIdError> {
        let trimmed = raw.trim().trim_start_matches(['#', '№']).trim();
        if trimmed.is_empty() {
            return Err(OrderIdError::Empty);
        }
        if trimmed.chars().count() > MAX_ORDER_ID_LEN {
            return Err(OrderIdError::TooLong);
        }
        let normalised: String = trimmed
            .chars()
            .map(|c| match c {
                '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' | ' ' => '-',
                other => other.to_ascii_uppercase(),
            })
            .collect();
        if normalised.chars().any(|c| c.is_control()) || !format.accepts(&normalised) {
            return Err(OrderIdError::DoesNotMatch);
        }
        Ok(OrderId(normalised))
    }

    /// Rebuilds an ID that was validated before (read back from storage).
    pub fn from_trusted(value: String) -> OrderId {
        OrderId(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::OrderIdFormat;

    /// A hand-written stand-in for the default pattern `^\d{8}-\d{4}(-\d{1,3})?$`, so `core`
    /// tests need no regex engine. The real default is tested in `order_format`.
    pub struct MarketplaceFormat;

    impl OrderIdFormat for MarketplaceFormat {
        fn accepts(&self, candidate: &str) -> bool {
            let parts: Vec<&str> = candidate.split('-').collect();
            let digits = |s: &str, min: usize, max: usize| {
                (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
            };
            match parts.as_slice() {
                [order, seq] => digits(order, 8, 8) && digits(seq, 4, 4),
                [order, seq, posting] => digits(order, 8, 8) && digits(seq, 4, 4) && digits(posting, 1, 3),
                _ => false,
            }
        }

        fn example(&self) -> &str {
            "12345678-0001"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::MarketplaceFormat;
    use super::*;

    fn check(raw: &str, expected: Result<&str, OrderIdError>) {
        let parsed = OrderId::parse(raw, &MarketplaceFormat);
        assert_eq!(parsed.as_ref().map(OrderId::as_str).map_err(Clone::clone), expected, "{raw:?}");
    }

    #[test]
    fn accepts_order_and_posting_numbers_with_common_decorations() {
        check("12345678-0001", Ok("12345678-0001"));
        check("12345678-0001-1", Ok("12345678-0001-1"));
        check("  12345678-0001-12 ", Ok("12345678-0001-12"));
        check("#12345678-0001", Ok("12345678-0001"));
        check("№ 12345678-0001", Ok("12345678-0001"));
        check("12345678 0001", Ok("12345678-0001"));
        check("12345678\u{2013}0001", Ok("12345678-0001"));
    }

    #[test]
    fn rejects_what_is_not_an_order_id() {
        check("", Err(OrderIdError::Empty));
        check("   ", Err(OrderIdError::Empty));
        check("#", Err(OrderIdError::Empty));
        check("hello", Err(OrderIdError::DoesNotMatch));
        check("1234567-0001", Err(OrderIdError::DoesNotMatch));
        check("12345678-001", Err(OrderIdError::DoesNotMatch));
        check("12345678-0001-", Err(OrderIdError::DoesNotMatch));
        check("12345678-0001-1234", Err(OrderIdError::DoesNotMatch));
        check("12345678--0001", Err(OrderIdError::DoesNotMatch));
        check("１２３４５６７８-0001", Err(OrderIdError::DoesNotMatch));
        check(&"1".repeat(65), Err(OrderIdError::TooLong));
        check("12345678-0001\n", Ok("12345678-0001"));
        check("12345678-\u{0}0001", Err(OrderIdError::DoesNotMatch));
    }
}
