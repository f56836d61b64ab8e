//! A VK Callback API body (the same shape as a Long Poll update): the envelope, the event,
//! and the pure readings the receiver applies to it (button payloads, client capabilities,
//! language). None may panic on any input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::vk::inbound::{self, VkUpdate};
use switchboard::channels::vk::{callback, keyboard};

fuzz_target!(|body: &[u8]| {
    let Ok(envelope) = callback::parse_body(body) else { return };
    let dedupe_id = envelope.dedupe_id();
    assert!(dedupe_id.len() <= inbound::MAX_EVENT_ID_LEN, "dedupe keys stay bounded");
    match inbound::parse_update(&envelope) {
        Ok(VkUpdate::Message(message)) => {
            if let Some(payload) = &message.payload {
                let _ = keyboard::read_payload(payload);
                let _ = inbound::button_input(Some(payload));
            }
            if let Some(info) = &message.client_info {
                let data = keyboard::contact_data(info);
                let _ = keyboard::ClientCapabilities::from_contact_data(Some(&data));
                if let Some(lang_id) = info.get("lang_id").and_then(serde_json::Value::as_i64) {
                    let _ = inbound::language_of(lang_id);
                }
            }
        }
        Ok(VkUpdate::ButtonPress(press)) => {
            let _ = inbound::button_input(press.payload.as_ref());
        }
        Ok(_) | Err(_) => {}
    }
});
