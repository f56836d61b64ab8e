//! The web chat's message body: bytes in, a client id and an input (or a refusal) out. It
//! may not panic, and whatever it accepts carries a client id that fits the dedupe key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::webchat::message::{parse_message, valid_client_id};

fuzz_target!(|body: &[u8]| {
    match parse_message(body) {
        Ok(message) => {
            assert!(valid_client_id(&message.client_id), "accepted a bad client id: {:?}", message.client_id)
        }
        Err(problem) => assert!(problem.status().is_client_error(), "{problem:?} is not a 4xx"),
    }
});
