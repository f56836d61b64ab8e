//! A raw email as IMAP hands it over: `parse` (MIME, charsets, HTML to text, bounces) and the
//! trimming of quoted history and signatures applied to its text. None may panic on any input,
//! and what is read stays within the letter's own size.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::email::{parse, trim};

fuzz_target!(|raw: &[u8]| {
    let Some(letter) = parse::parse(raw) else { return };
    let words = trim::own_words(&letter.text);
    assert!(words.len() <= letter.text.len(), "trimming never adds text");
    if let Some(id) = &letter.message_id {
        assert!(!id.starts_with('<'), "ids are kept without their angle brackets");
    }
});
