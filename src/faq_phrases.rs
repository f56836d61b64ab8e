//! Reading the FAQ training phrases translators keep in `locales/<lang>/intents.toml`.
//!
//! The file is TOML: one key per intent (`cancel_order = ["...", "..."]`), named as in
//! [`Intent::name`], plus `none` for out-of-scope phrases. This module takes file CONTENTS,
//! not paths, so the same code reads the copies embedded in the binary and a translator's
//! override on disk; `file_label` only names the file in errors.

use crate::core::faq::{Classifier, Example, Intent, OutOfScope};
use crate::core::message::Lang;
use std::collections::HashMap;
use thiserror::Error;

/// The key of the out-of-scope phrases.
pub const NONE_KEY: &str = "none";

/// Everything wrong with an `intents.toml` that stops it from being used.
#[derive(Debug, Error, PartialEq)]
pub enum PhrasesError {
    #[error("{file}: not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: unknown intent `{name}` (expected one of the 27 intent names or `none`)")]
    UnknownIntent { file: String, name: String },
    #[error("{file}: `{key}` must be a list of strings")]
    NotAList { file: String, key: String },
    #[error("{file}: `{key}` item {index} is empty or not a string")]
    BadPhrase { file: String, key: String, index: usize },
    #[error("{file}: the phrase \"{phrase}\" is listed under both `{first}` and `{second}`")]
    Ambiguous { file: String, phrase: String, first: String, second: String },
}

/// The phrases of one language.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrases {
    pub lang: Lang,
    pub examples: Vec<Example>,
    pub out_of_scope: Vec<OutOfScope>,
}

impl Phrases {
    /// The intents this file has no phrase for, in [`Intent::ALL`] order.
    pub fn missing_intents(&self) -> Vec<Intent> {
        missing_intents(&self.examples)
    }
}

/// Parses one `intents.toml`. Keys come out in name order, phrases in file order.
pub fn parse(lang: Lang, file_label: &str, contents: &str) -> Result<Phrases, PhrasesError> {
    let table: toml::Table = toml::from_str(contents)
        .map_err(|error| PhrasesError::Syntax { file: file_label.to_owned(), message: error.to_string() })?;
    let mut phrases = Phrases { lang, examples: Vec::new(), out_of_scope: Vec::new() };
    // Lower-cased phrase -> the key it was first seen under, to catch one phrase taught as
    // two different things.
    let mut seen: HashMap<String, String> = HashMap::new();
    for (key, value) in &table {
        let intent = if key == NONE_KEY {
            None
        } else {
            let intent = Intent::from_name(key).ok_or_else(|| PhrasesError::UnknownIntent {
                file: file_label.to_owned(),
                name: key.clone(),
            })?;
            Some(intent)
        };
        let items = value
            .as_array()
            .ok_or_else(|| PhrasesError::NotAList { file: file_label.to_owned(), key: key.clone() })?;
        for (index, item) in items.iter().enumerate() {
            let text = item.as_str().map(str::trim).filter(|text| !text.is_empty()).ok_or_else(|| {
                PhrasesError::BadPhrase { file: file_label.to_owned(), key: key.clone(), index: index + 1 }
            })?;
            if let Some(first) = seen.get(&text.to_lowercase())
                && first != key
            {
                return Err(PhrasesError::Ambiguous {
                    file: file_label.to_owned(),
                    phrase: text.to_owned(),
                    first: first.clone(),
                    second: key.clone(),
                });
            }
            seen.insert(text.to_lowercase(), key.clone());
            match intent {
                Some(intent) => phrases.examples.push(Example { lang, intent, text: text.to_owned() }),
                None => phrases.out_of_scope.push(OutOfScope { lang, text: text.to_owned() }),
            }
        }
    }
    Ok(phrases)
}

/// The intents with no example in `examples`, in [`Intent::ALL`] order. The translator tool
/// (`switchboard locales check`) reports these per language.
pub fn missing_intents(examples: &[Example]) -> Vec<Intent> {
    Intent::ALL
        .into_iter()
        .filter(|intent| !examples.iter().any(|example| example.intent == *intent))
        .collect()
}

/// Trains the classifier on the phrases of every language given.
pub fn train(sets: &[Phrases]) -> Classifier {
    let examples: Vec<Example> = sets.iter().flat_map(|set| set.examples.iter().cloned()).collect();
    let out_of_scope: Vec<OutOfScope> =
        sets.iter().flat_map(|set| set.out_of_scope.iter().cloned()).collect();
    Classifier::train_with_out_of_scope(&examples, &out_of_scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
        # Comments are allowed.
        track_order = ["where is my parcel", "Track order 12345678-0001"]
        cancel_order = [
            "cancel my order",
        ]
        none = ["what's the weather like"]
    "#;

    #[test]
    fn parses_intents_and_out_of_scope_phrases() {
        let phrases = parse(Lang::En, "en/intents.toml", SMALL).unwrap();
        let texts: Vec<(Intent, &str)> =
            phrases.examples.iter().map(|example| (example.intent, example.text.as_str())).collect();
        assert_eq!(
            texts,
            [
                (Intent::CancelOrder, "cancel my order"),
                (Intent::TrackOrder, "where is my parcel"),
                (Intent::TrackOrder, "Track order 12345678-0001"),
            ]
        );
        assert!(phrases.examples.iter().all(|example| example.lang == Lang::En));
        assert_eq!(
            phrases.out_of_scope,
            [OutOfScope { lang: Lang::En, text: "what's the weather like".into() }]
        );
    }

    #[test]
    fn reports_missing_intents() {
        let phrases = parse(Lang::En, "en/intents.toml", SMALL).unwrap();
        let missing = phrases.missing_intents();
        assert_eq!(missing.len(), 25);
        assert!(!missing.contains(&Intent::TrackOrder));
        assert!(!missing.contains(&Intent::CancelOrder));
        assert_eq!(missing[0], Intent::ChangeOrder);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let cases = [
            ("track_ordr = [\"x\"]", "ru/intents.toml: unknown intent `track_ordr`"),
            ("track_order = \"x\"", "ru/intents.toml: `track_order` must be a list of strings"),
            ("track_order = [\"x\", \"  \"]", "ru/intents.toml: `track_order` item 2 is empty"),
            ("track_order = [\"x\", 3]", "ru/intents.toml: `track_order` item 2 is empty or not a string"),
            ("track_order = [\"x\"", "ru/intents.toml: not valid TOML"),
            (
                "track_order = [\"Same\"]\ncancel_order = [\"same\"]",
                "is listed under both `cancel_order` and `track_order`",
            ),
        ];
        for (contents, expected) in cases {
            let error = parse(Lang::Ru, "ru/intents.toml", contents).unwrap_err().to_string();
            assert!(error.contains(expected), "{contents:?} gave {error:?}");
        }
    }

    #[test]
    fn trains_a_classifier_from_parsed_phrases() {
        let english = parse(Lang::En, "en", SMALL).unwrap();
        let russian =
            parse(Lang::Ru, "ru", "track_order = [\"где моя посылка\"]\ncancel_order = [\"отменить заказ\"]")
                .unwrap();
        let classifier = train(&[english, russian]);
        assert_eq!(classifier.languages(), [Lang::En, Lang::Ru]);
        assert_eq!(
            classifier.best(Lang::Ru, "где посылка").map(|found| found.intent),
            Some(Intent::TrackOrder)
        );
        assert_eq!(classifier.best(Lang::Zh, "退款"), None);
    }
}
