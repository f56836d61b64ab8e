//! An Ozon push body: `parse_push` and the readings applied to a buyer's message (its text and
//! image parts, its time). None may panic on any input, and ids stay bounded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::ozon::inbound::{self, Push};

fuzz_target!(|body: &[u8]| {
    if let Ok(Push::Message { chat_id, message }) = inbound::parse_push(body) {
        assert!(chat_id.len() <= inbound::MAX_ID_LEN, "chat ids stay bounded");
        assert!(message.message_id.len() <= inbound::MAX_ID_LEN, "dedupe keys stay bounded");
        let _ = inbound::split_parts(&message.data);
        let _ = inbound::created_millis(&message.created_at);
    }
});
