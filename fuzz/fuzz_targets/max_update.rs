//! A MAX webhook body (the same shape as one update of `GET /updates`): the body, the update,
//! and the pure readings the receiver applies to it (button payloads, recipients). None may
//! panic on any input, and dedupe keys stay bounded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::max::inbound::{self, MaxUpdate};
use switchboard::channels::max::{keyboard, webhook};

fuzz_target!(|body: &[u8]| {
    let Ok(value) = webhook::parse_body(body) else { return };
    match inbound::parse_update(&value) {
        Ok(MaxUpdate::Message(message)) => {
            assert!(message.dedupe_id.len() <= inbound::MAX_ID_LEN + 2, "dedupe keys stay bounded");
            let _ = inbound::recipient_of(&message.external_id);
        }
        Ok(MaxUpdate::Press(press)) => {
            assert!(press.dedupe_id.len() <= inbound::MAX_ID_LEN + 2, "dedupe keys stay bounded");
            if let Some(payload) = &press.payload {
                let _ = keyboard::read_payload(payload);
            }
            let _ = inbound::button_input(press.payload.as_deref());
        }
        Ok(_) | Err(_) => {}
    }
});
