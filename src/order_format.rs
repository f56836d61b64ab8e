//! The marketplace's order-number format, from `SWITCHBOARD_ORDER_ID_PATTERN`.

use crate::core::order_id::OrderIdFormat;
use regex::Regex;

/// Marketplace order numbers (`12345678-0001`) and posting numbers (`12345678-0001-1`).
pub const DEFAULT_PATTERN: &str = r"\d{8}-\d{4}(-\d{1,3})?";
pub const DEFAULT_EXAMPLE: &str = "12345678-0001";

#[derive(Debug, Clone)]
pub struct RegexOrderIdFormat {
    regex: Regex,
    example: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OrderFormatError {
    #[error("not a valid regular expression: {0}")]
    InvalidPattern(String),
    #[error("the example {example:?} does not match the pattern")]
    ExampleDoesNotMatch { example: String },
}

impl RegexOrderIdFormat {
    /// The pattern must match the whole (normalised, upper-cased) ID, so it is anchored here;
    /// an operator writing `\d+` does not accidentally accept `abc123def`.
    pub fn new(pattern: &str, example: &str) -> Result<RegexOrderIdFormat, OrderFormatError> {
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|error| OrderFormatError::InvalidPattern(last_line(&error.to_string())))?;
        let format = RegexOrderIdFormat { regex, example: example.to_owned() };
        if crate::core::order_id::OrderId::parse(example, &format).is_err() {
            return Err(OrderFormatError::ExampleDoesNotMatch { example: example.to_owned() });
        }
        Ok(format)
    }
}

/// The regex crate explains errors over several lines with a caret diagram; its last line says
/// what is wrong, which is what fits a one-line configuration error.
fn last_line(message: &str) -> String {
    message.lines().rev().map(str::trim).find(|line| !line.is_empty()).unwrap_or(message).to_owned()
}

impl Default for RegexOrderIdFormat {
    fn default() -> Self {
        RegexOrderIdFormat::new(DEFAULT_PATTERN, DEFAULT_EXAMPLE).expect("the default pattern is valid")
    }
}

impl OrderIdFormat for RegexOrderIdFormat {
    fn accepts(&self, candidate: &str) -> bool {
        self.regex.is_match(candidate)
    }

    fn example(&self) -> &str {
        &self.example
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::order_id::OrderId;

    #[test]
    fn the_default_accepts_order_and_posting_numbers_only() {
        let format = RegexOrderIdFormat::default();
        for good in ["12345678-0001", "12345678-0001-1", "12345678-0001-123", " #12345678 0001 "] {
            assert!(OrderId::parse(good, &format).is_ok(), "{good}");
        }
        for bad in ["1234567-0001", "12345678-0001-1234", "x12345678-0001", "12345678-0001x", "", "order"] {
            assert!(OrderId::parse(bad, &format).is_err(), "{bad}");
        }
    }

    #[test]
    fn operators_can_set_their_own_format() {
        let format = RegexOrderIdFormat::new(r"[A-Z]{2}\d{6}", "AB123456").unwrap();
        assert!(OrderId::parse("ab123456", &format).is_ok(), "IDs are upper-cased before matching");
        assert!(OrderId::parse("AB1234567", &format).is_err(), "the pattern is anchored");
        assert!(matches!(RegexOrderIdFormat::new("(", "x"), Err(OrderFormatError::InvalidPattern(_))));
        assert!(matches!(
            RegexOrderIdFormat::new(r"\d+", "AB1"),
            Err(OrderFormatError::ExampleDoesNotMatch { .. })
        ));
    }
}
