//! The Telegram webhook's body gate and what an update means for support: bytes in, an
//! update (or a refusal) and its reading out. Neither may panic on any input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::telegram::{inbound, webhook};

fuzz_target!(|body: &[u8]| {
    if let Some(update) = webhook::parse_body(body) {
        let _ = inbound::read(&update);
        let _ = inbound::callback_to_answer(&update);
    }
});
