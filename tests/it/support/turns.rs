//! Checks on what a bot turn looks like to a customer: one message whose paragraphs are the
//! turn's texts, in order (`core::turn`).

/// Checks that each of `texts` (the messages a chat got, from the first new one on) holds its
/// expected phrases, in that order, one list of phrases per message.
pub fn check_messages(texts: &[String], expected: &[&[&str]]) {
    for (text, phrases) in texts.iter().zip(expected) {
        let mut rest = text.as_str();
        for phrase in *phrases {
            let at = rest.find(phrase).unwrap_or_else(|| {
                panic!("expected {phrase:?} (in the order {phrases:?}) in {text:?}; the messages: {texts:#?}")
            });
            rest = &rest[at + phrase.len()..];
        }
    }
}

/// Checks that `text` is the English answer to /start: the greeting, then the menu's question,
/// one message.
pub fn check_greeting_then_menu(text: &str) {
    assert!(text.starts_with("Hello! I'm the store's support assistant."), "{text}");
    assert!(
        text.ends_with("\n\nWhat can I help you with? Pick a topic below or just type your question."),
        "{text}"
    );
}
