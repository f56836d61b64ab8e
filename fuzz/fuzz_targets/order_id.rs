//! `OrderId::parse` with the default marketplace pattern. Beyond "never panics": an accepted ID
//! is already normalised (parsing it again gives the same ID), has no control characters and
//! is no longer than the limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use switchboard::core::order_id::{MAX_ORDER_ID_LEN, OrderId};
use switchboard::order_format::RegexOrderIdFormat;

static FORMAT: LazyLock<RegexOrderIdFormat> = LazyLock::new(RegexOrderIdFormat::default);

fuzz_target!(|raw: &str| {
    let Ok(id) = OrderId::parse(raw, &*FORMAT) else { return };
    assert_eq!(OrderId::parse(id.as_str(), &*FORMAT).as_ref(), Ok(&id), "normalising twice changes {raw:?}");
    assert!(id.as_str().chars().count() <= MAX_ORDER_ID_LEN);
    assert!(!id.as_str().chars().any(char::is_control));
});
