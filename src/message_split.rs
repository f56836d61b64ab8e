//! Splitting long texts into messages a messenger accepts. Telegram (4096) and MAX (4000)
//! limit a message in characters as they count them, which is UTF-16 code units: an emoji
//! outside the Basic Multilingual Plane counts twice. Each channel passes its own limit.

/// Splits `text` into parts of at most `max_utf16` UTF-16 code units each. Cuts prefer, in
/// order, a paragraph break, a line break, then a space; only a single word longer than a
/// whole message is cut mid-word, and then always between two characters (so never inside a
/// surrogate pair). Whitespace at a cut is dropped; nothing else is lost or reordered.
pub fn split_message(text: &str, max_utf16: usize) -> Vec<String> {
    assert!(max_utf16 >= 2, "a part must hold at least one character");
    let mut parts = Vec::new();
    let mut rest = text;
    while utf16_len(rest) > max_utf16 {
        let fits = longest_prefix_within(rest, max_utf16);
        let window = &rest[..fits];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|separator| window.rfind(separator).filter(|&at| !window[..at].trim().is_empty()))
            .unwrap_or(fits);
        let part = rest[..cut].trim_end();
        if !part.is_empty() {
            parts.push(part.to_owned());
        }
        rest = rest[cut..].trim_start();
    }
    let last = rest.trim_end();
    if !last.is_empty() || parts.is_empty() {
        parts.push(last.to_owned());
    }
    parts
}

/// Length as Telegram and MAX count it.
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// The byte length of the longest prefix of `text` that is at most `max_utf16` units long
/// (always at least one character, so splitting makes progress).
fn longest_prefix_within(text: &str, max_utf16: usize) -> usize {
    let mut units = 0;
    for (index, character) in text.char_indices() {
        units += character.len_utf16();
        if units > max_utf16 {
            return if index == 0 { character.len_utf8() } else { index };
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, max: usize, expected: &[&str]) {
        let parts = split_message(text, max);
        assert_eq!(parts, expected, "splitting {text:?} at {max}");
        for part in &parts {
            assert!(utf16_len(part) <= max, "{part:?} is too long");
        }
    }

    #[test]
    fn short_texts_stay_whole() {
        check("hello", 4096, &["hello"]);
        check("", 4096, &[""]);
    }

    #[test]
    fn prefers_paragraphs_then_lines_then_words() {
        check("aaaa bbbb\n\ncccc", 12, &["aaaa bbbb", "cccc"]);
        check("aaaa\nbbbb cccc", 12, &["aaaa", "bbbb cccc"]);
        check("aaaa bbbb cccc", 12, &["aaaa bbbb", "cccc"]);
        check("abcdefghijklmnop", 5, &["abcde", "fghij", "klmno", "p"]);
    }

    #[test]
    fn counts_utf16_units_and_never_cuts_a_surrogate_pair() {
        // Each 😀 is two UTF-16 units; five of them are ten units.
        let emoji = "😀".repeat(5);
        check(&emoji, 3, &["😀", "😀", "😀", "😀", "😀"]);
        check(&emoji, 4, &["😀😀", "😀😀", "😀"]);
        // Cyrillic is one unit per character, like Latin.
        check("привет мир", 6, &["привет", "мир"]);
    }

    #[test]
    fn a_long_message_becomes_parts_within_the_limit_with_all_words_kept() {
        let paragraph = "Ваш заказ 😀 доставлен. ".repeat(120);
        let text = format!("{paragraph}\n\n{paragraph}\n\n{paragraph}");
        let parts = split_message(&text, 4096);
        assert!(parts.len() >= 2);
        assert!(parts.iter().all(|part| utf16_len(part) <= 4096));
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(parts.iter().flat_map(|part| words(part)).collect::<Vec<_>>(), words(&text));
    }
}
