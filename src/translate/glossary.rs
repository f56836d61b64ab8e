//! The store's glossary: product names, "Ozon", order terms, each written a fixed way per
//! language. DeepL gets it as a glossary of its own (see `deepl`); for a provider without
//! glossaries the terms found in a text are put in their target form and wrapped in markup the
//! provider leaves untranslated (LibreTranslate's HTML mode skips `translate="no"` elements).

use crate::config::translate::GlossaryTerm;
use crate::core::message::Lang;

/// The glossary, as read from the file named by `SWITCHBOARD_TRANSLATE_GLOSSARY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Glossary {
    terms: Vec<GlossaryTerm>,
}

/// A piece of a text: words to translate, or a glossary term already in its target form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Words(&'a str),
    Term(String),
}

impl Glossary {
    pub fn new(terms: Vec<GlossaryTerm>) -> Glossary {
        Glossary { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// (source form, target form) of every term for one direction, longest source first. A
    /// term without a form in `source` is looked for as first written (en, ru, zh); without a
    /// form in `target` it stays as found. A source form given twice keeps its first line.
    pub fn pairs(&self, source: Lang, target: Lang) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for term in &self.terms {
            let Some(from) =
                term.form(source).or_else(|| Lang::ALL.into_iter().find_map(|lang| term.form(lang)))
            else {
                continue;
            };
            if pairs.iter().any(|(known, _)| known == from) {
                continue;
            }
            let to = term.form(target).unwrap_or(from);
            pairs.push((from.to_owned(), to.to_owned()));
        }
        pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.chars().count()));
        pairs
    }

    /// The text cut at the glossary terms it contains (the longest term wins where several
    /// start at one place; a Latin or Cyrillic term must stand as a whole word).
    pub fn pieces<'a>(&self, text: &'a str, source: Lang, target: Lang) -> Vec<Piece<'a>> {
        let pairs = self.pairs(source, target);
        let mut pieces = Vec::new();
        let mut words_from = 0;
        let mut at = 0;
        while at < text.len() {
            let found = pairs.iter().find(|(from, _)| {
                text[at..].starts_with(from.as_str()) && whole_word(text, at, at + from.len())
            });
            match found {
                Some((from, to)) => {
                    if words_from < at {
                        pieces.push(Piece::Words(&text[words_from..at]));
                    }
                    pieces.push(Piece::Term(to.clone()));
                    at += from.len();
                    words_from = at;
                }
                None => at += text[at..].chars().next().map_or(1, char::len_utf8),
            }
        }
        if words_from < text.len() {
            pieces.push(Piece::Words(&text[words_from..]));
        }
        pieces
    }
}

/// Whether `text[start..end]` is not the middle of a longer word. Chinese has no spaces
/// between words, so a term next to Chinese characters always stands alone.
fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let word_char = |c: char| c.is_alphanumeric() && !('\u{2E80}'..='\u{9FFF}').contains(&c);
    let first = text[start..end].chars().next();
    let last = text[start..end].chars().next_back();
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let joins = |edge: Option<char>, neighbour: Option<char>| matches!((edge, neighbour), (Some(edge), Some(neighbour)) if word_char(edge) && word_char(neighbour));
    !joins(first, before) && !joins(last, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(en: Option<&str>, ru: Option<&str>, zh: Option<&str>) -> GlossaryTerm {
        GlossaryTerm { en: en.map(str::to_owned), ru: ru.map(str::to_owned), zh: zh.map(str::to_owned) }
    }

    #[test]
    fn terms_are_found_whole_and_put_in_their_target_form() {
        let glossary = Glossary::new(vec![
            term(Some("Ozon"), None, None),
            term(Some("pickup point"), Some("пункт выдачи"), Some("取货点")),
        ]);
        assert_eq!(
            glossary.pieces("Заказ на Ozon ждёт в пункт выдачи.", Lang::Ru, Lang::Zh),
            vec![
                Piece::Words("Заказ на "),
                Piece::Term("Ozon".to_owned()),
                Piece::Words(" ждёт в "),
                Piece::Term("取货点".to_owned()),
                Piece::Words("."),
            ]
        );
        assert_eq!(glossary.pieces("Ozone layer", Lang::En, Lang::Ru), vec![Piece::Words("Ozone layer")]);
        assert_eq!(
            glossary.pieces("您的Ozon订单", Lang::Zh, Lang::Ru),
            vec![Piece::Words("您的"), Piece::Term("Ozon".to_owned()), Piece::Words("订单")]
        );
        assert_eq!(glossary.pairs(Lang::Zh, Lang::En)[0], ("Ozon".to_owned(), "Ozon".to_owned()));
    }
}
