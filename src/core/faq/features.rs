//! Turning a customer's message into the sparse features the intent model reads.
//!
//! Short support messages are full of typos ("assistnace"), inflections ("заказа", "заказом")
//! and, in Chinese, have no spaces at all. Character n-grams inside word boundaries survive all
//! three, so they are the backbone; whole words and word pairs add the sharper signals
//! ("cancel order" against "cancel account"). Every feature is a 64-bit FNV-1a hash of its
//! kind and characters, so extraction allocates nothing per feature and the model keeps a
//! dictionary of the hashes it saw in training.

use crate::core::message::Lang;

/// The placeholder every run of digits becomes: order numbers, amounts and invoice numbers
/// differ in every message, their presence is what matters.
const NUMBER: char = '0';

/// Lower-cases and cleans a message: `ё` becomes `е`, full-width forms become ASCII,
/// apostrophes vanish (`don't` = `dont`), other punctuation becomes a space, and every run of
/// digits becomes one `0` token of its own (`purchase113542` is `purchase 0`).
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for raw in text.chars() {
        let c = fold_width(raw);
        if c == '\'' || c == '\u{2019}' || c == '`' {
            continue;
        }
        if c.is_ascii_digit() || (c.is_numeric() && !is_han(c)) {
            if !in_number {
                push_separated(&mut out, NUMBER);
                in_number = true;
            }
            continue;
        }
        if in_number {
            out.push(' ');
            in_number = false;
        }
        if c.is_alphabetic() {
            for lower in c.to_lowercase() {
                out.push(if lower == 'ё' { 'е' } else { lower });
            }
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim().to_owned()
}

/// Starts a number token, with a space before it unless one is there already.
fn push_separated(out: &mut String, c: char) {
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
    out.push(c);
}

/// Full-width Latin letters, digits and punctuation (common in Chinese input methods) and the
/// ideographic space, mapped to their ASCII twins.
fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// CJK ideographs: Chinese has no spaces, so these get character n-grams over the whole run.
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// The kinds of feature, mixed into the hash so that the word `as` and the n-gram `as`
/// are different features.
#[derive(Clone, Copy)]
enum Kind {
    Word = 1,
    WordPair = 2,
    CharGram = 3,
    HanGram = 4,
    Stem = 5,
}

/// The hashed features of one message, sorted and without duplicates.
pub fn extract(lang: Lang, text: &str) -> Vec<u64> {
    let normalised = normalise(text);
    let mut features = Vec::with_capacity(normalised.len() * 4);
    let mut previous_word: Option<&str> = None;
    for token in normalised.split(' ').filter(|token| !token.is_empty()) {
        let chars: Vec<char> = token.chars().collect();
        if chars.iter().any(|&c| is_han(c)) {
            han_features(&chars, &mut features);
            previous_word = None;
            continue;
        }
        word_features(lang, token, &chars, &mut features);
        if lang != Lang::Zh {
            let pair = [previous_word.unwrap_or("^"), token];
            features.push(hash_strs(Kind::WordPair, &pair));
        }
        previous_word = Some(token);
    }
    if lang != Lang::Zh
        && let Some(last) = previous_word
    {
        features.push(hash_strs(Kind::WordPair, &[last, "$"]));
    }
    features.sort_unstable();
    features.dedup();
    features
}

/// A word, its character 2..=4-grams with `<` `>` marking its edges, and for longer words a
/// five-letter stem so that inflected Russian forms (`оплатить`, `оплатил`, `оплатой`) meet.
fn word_features(lang: Lang, word: &str, chars: &[char], features: &mut Vec<u64>) {
    features.push(hash_strs(Kind::Word, &[word]));
    if word == "0" {
        return;
    }
    edge_marked_grams(Kind::CharGram, chars, 4, features);
    if lang == Lang::Ru && chars.len() >= 6 {
        features.push(hash_chars(Kind::Stem, &chars[..5]));
    }
}

/// Character 1..=3-grams over a run of ideographs, with the run's edges marked so that a
/// character starting a sentence differs from one inside it.
fn han_features(chars: &[char], features: &mut Vec<u64>) {
    for &c in chars {
        features.push(hash_chars(Kind::HanGram, &[c]));
    }
    edge_marked_grams(Kind::HanGram, chars, 3, features);
}

/// The 2..=`longest`-grams of `chars` with `<` and `>` added at its edges.
fn edge_marked_grams(kind: Kind, chars: &[char], longest: usize, features: &mut Vec<u64>) {
    let mut bounded = Vec::with_capacity(chars.len() + 2);
    bounded.push('<');
    bounded.extend_from_slice(chars);
    bounded.push('>');
    for n in 2..=longest {
        for gram in bounded.windows(n) {
            features.push(hash_chars(kind, gram));
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

fn fnv(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
}

fn hash_chars(kind: Kind, chars: &[char]) -> u64 {
    let mut hash = fnv(FNV_OFFSET, kind as u8);
    let mut buffer = [0u8; 4];
    for c in chars {
        for &byte in c.encode_utf8(&mut buffer).as_bytes() {
            hash = fnv(hash, byte);
        }
    }
    hash
}

fn hash_strs(kind: Kind, parts: &[&str]) -> u64 {
    let mut hash = fnv(FNV_OFFSET, kind as u8);
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            hash = fnv(hash, b' ');
        }
        for &byte in part.as_bytes() {
            hash = fnv(hash, byte);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_cleans_case_punctuation_digits_and_width() {
        let cases = [
            ("Where is order #12345678-0001?", "where is order 0 0"),
            ("I DON'T know", "i dont know"),
            ("purchase113542617735902 now", "purchase 0 now"),
            ("Ёлка, ЁЖ!", "елка еж"),
            ("我的订单１２３在哪里？", "我的订单 0 在哪里"),
            ("ｈｅｌｌｏ　ｗｏｒｌｄ", "hello world"),
            ("  ...  ", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(normalise(input), expected, "input: {input}");
        }
    }

    #[test]
    fn features_are_deterministic_sorted_and_unique() {
        let first = extract(Lang::En, "cancel my order, cancel it");
        let second = extract(Lang::En, "Cancel my order cancel it!");
        assert_eq!(first, second);
        assert!(first.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn inflected_russian_words_share_features() {
        let order = extract(Lang::Ru, "заказ");
        let orders = extract(Lang::Ru, "заказа");
        let shared = order.iter().filter(|feature| orders.binary_search(feature).is_ok()).count();
        assert!(shared >= 5, "only {shared} shared features");
    }

    #[test]
    fn chinese_without_spaces_gets_character_grams() {
        let features = extract(Lang::Zh, "退款");
        // 退, 款, <退, 退款, 款>, <退款, 退款>
        assert_eq!(features.len(), 7);
    }
}
