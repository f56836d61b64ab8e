//! What one customer message says, worked out once for the dialog: the intent (or the two it
//! could be), the entities in it, whether it asks for a person, and whether it is nothing but
//! an order number.
//!
//! The dialog decides what to do with it; this module only reads. `switchboard faq eval
//! --messages` scores the same reading against tables of whole messages.

use crate::core::entities::{self, Entities};
use crate::core::faq::{Intent, IntentClassifier, Match};
use crate::core::message::Lang;
use crate::core::order_id::OrderIdFormat;

/// The reading of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Understanding {
    /// The intent, when the classifier is confident and no other intent comes close.
    pub intent: Option<Match>,
    /// Two intents the message could equally well be: the dialog asks which.
    pub close_call: Option<[Intent; 2]>,
    pub entities: Entities,
    /// The customer asks for a person in so many words, in any of our languages.
    pub wants_person: bool,
    /// The message is an order number and little else ("#12345678-0001", "заказ 12345678-0001").
    pub only_order_number: bool,
    /// The message says enough about a problem to serve as its description.
    pub describes: bool,
}

/// Reads `text` in the conversation's language.
pub fn understand(
    text: &str,
    lang: Lang,
    orders: &dyn OrderIdFormat,
    faq: &dyn IntentClassifier,
) -> Understanding {
    let (entities, without_contacts) = entities::extract_with_rest(text, lang, orders);
    let leftover = words_besides_entities(text, &entities);
    let only_order_number = !entities.order_ids.is_empty() && leftover.iter().all(|word| is_filler(word));
    let wants_person = asks_for_person(text);
    let (intent, close_call) = if only_order_number {
        // A bare number carries no intent; the classifier would only guess from its digits.
        (None, None)
    } else {
        match faq.close_call(lang, &without_contacts) {
            Some([first, second]) => (None, Some([first.intent, second.intent])),
            None => (faq.classify(lang, &without_contacts), None),
        }
    };
    let describes = is_description(&leftover, !entities.order_ids.is_empty());
    Understanding { intent, close_call, describes, entities, wants_person, only_order_number }
}

/// Whether `text` says enough about a problem to serve as its description (see
/// [`Understanding::describes`]).
pub fn says_enough(text: &str, lang: Lang, orders: &dyn OrderIdFormat) -> bool {
    let entities = entities::extract(text, lang, orders);
    is_description(&words_besides_entities(text, &entities), !entities.order_ids.is_empty())
}

/// Words (Latin or Cyrillic) and single Han characters of `text`, lower-cased, without the
/// order numbers, emails and phone numbers found in it.
fn words_besides_entities(text: &str, entities: &Entities) -> Vec<String> {
    let mut rest = text.to_lowercase();
    for order_id in &entities.order_ids {
        rest = rest.replace(&order_id.as_str().to_lowercase(), " ");
    }
    for email in &entities.emails {
        rest = rest.replace(email.as_str(), " ");
    }
    let mut words = Vec::new();
    let mut word = String::new();
    for c in rest.chars() {
        if is_han(c) {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            words.push(c.to_string());
        } else if c.is_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    // Order numbers written with spaces or other dashes than the normalised form leave their
    // digit groups behind; they are part of the number, not words.
    words.retain(|word| !word.chars().all(|c| c.is_ascii_digit()));
    words
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// Words that go around an order number without saying anything about a problem.
fn is_filler(word: &str) -> bool {
    const FILLER: &[&str] = &[
        "order",
        "number",
        "no",
        "my",
        "is",
        "it",
        "s",
        "the",
        "here",
        "this",
        "id",
        "num",
        "nr",
        "hi",
        "hello",
        "please",
        "pls",
        "sorry",
        "oops",
        "actually",
        "correct",
        "correction",
        "new",
        "right",
        "a",
        "that",
        "заказ",
        "заказа",
        "номер",
        "мой",
        "моего",
        "вот",
        "это",
        "здравствуйте",
        "привет",
        "пожалуйста",
        "извините",
        "простите",
        "ой",
        "точнее",
        "вернее",
        "правильный",
        "новый",
        "订",
        "单",
        "号",
        "我",
        "的",
        "是",
        "这",
        "个",
        "你",
        "好",
        "请",
        "抱",
        "歉",
        "不",
        "对",
        "应",
        "该",
    ];
    FILLER.contains(&word)
}

/// Enough words to describe a problem: two things that carry meaning ("arrived broken", "where
/// is order 12345678-0001"; not "I want to complain"), an order number counting as one, or five
/// Han characters (Chinese packs a word into one or two).
fn is_description(words: &[String], names_an_order: bool) -> bool {
    let han = words.iter().filter(|word| word.chars().all(is_han) && !is_filler(word)).count();
    let meaningful = words
        .iter()
        .filter(|word| !word.chars().all(is_han) && !is_filler(word) && !STOP_WORDS.contains(&word.as_str()))
        .count()
        + usize::from(names_an_order);
    meaningful >= 2 || han >= 5 || (meaningful >= 1 && han >= 3)
}

/// Words that ask or point without saying what happened.
const STOP_WORDS: &[&str] = &[
    "i",
    "me",
    "a",
    "an",
    "to",
    "want",
    "wanna",
    "need",
    "would",
    "like",
    "have",
    "has",
    "had",
    "can",
    "could",
    "you",
    "help",
    "with",
    "about",
    "problem",
    "issue",
    "question",
    "complain",
    "complaint",
    "and",
    "of",
    "for",
    "on",
    "in",
    "at",
    "was",
    "be",
    "do",
    "did",
    "there",
    "an",
    "some",
    "just",
    "я",
    "мне",
    "меня",
    "у",
    "хочу",
    "хотел",
    "хотела",
    "нужно",
    "надо",
    "помогите",
    "помочь",
    "проблема",
    "вопрос",
    "с",
    "по",
    "про",
    "и",
    "в",
    "на",
    "пожаловаться",
    "жалоба",
    "можно",
    "есть",
    "вы",
    "мой",
    "моя",
    "моим",
    "моей",
];

/// A question rather than a statement: it ends with a question mark or opens like one. In the
/// middle of a request, a question gets its answer; a statement is taken as part of the request.
pub fn is_question(text: &str) -> bool {
    const OPENERS: &[&str] = &[
        "how",
        "what",
        "when",
        "where",
        "why",
        "which",
        "who",
        "can",
        "could",
        "do",
        "does",
        "is",
        "are",
        "will",
        "should",
        "may",
        "как",
        "когда",
        "где",
        "почему",
        "зачем",
        "что",
        "можно",
        "сколько",
        "какой",
        "какие",
        "есть",
        "ли",
    ];
    const HAN_OPENERS: &[&str] = &[
        "怎么",
        "如何",
        "为什么",
        "什么",
        "多久",
        "多长",
        "哪",
        "能不能",
        "可不可以",
        "可以",
        "是否",
        "有没有",
    ];
    let trimmed = text.trim();
    if trimmed.ends_with(['?', '？']) || trimmed.ends_with('吗') || trimmed.ends_with('呢') {
        return true;
    }
    let lower = trimmed.to_lowercase();
    let first = lower.split(|c: char| !c.is_alphanumeric()).find(|word| !word.is_empty()).unwrap_or("");
    OPENERS.contains(&first) || HAN_OPENERS.iter().any(|opener| lower.starts_with(opener))
}

/// "Speak English", "можно по-русски?", "说中文": a short message that asks for one of our
/// languages by name, in any of them. A message that says it does NOT speak one ("я не понимаю
/// по-английски", "我不会说中文") asks for no switch to it, so any negation means no.
pub fn asks_for_language(text: &str) -> Option<Lang> {
    const NAMES: &[(&str, Lang)] = &[
        ("english", Lang::En),
        ("eng", Lang::En),
        ("английский", Lang::En),
        ("английском", Lang::En),
        ("английски", Lang::En),
        ("russian", Lang::Ru),
        ("русский", Lang::Ru),
        ("русском", Lang::Ru),
        ("русски", Lang::Ru),
        ("chinese", Lang::Zh),
        ("mandarin", Lang::Zh),
        ("китайский", Lang::Zh),
        ("китайском", Lang::Zh),
        ("китайски", Lang::Zh),
    ];
    const HAN_NAMES: &[(&str, Lang)] = &[
        ("英语", Lang::En),
        ("英文", Lang::En),
        ("俄语", Lang::Ru),
        ("俄文", Lang::Ru),
        ("中文", Lang::Zh),
        ("汉语", Lang::Zh),
        ("普通话", Lang::Zh),
    ];
    const AROUND: &[&str] = &[
        "please",
        "pls",
        "speak",
        "talk",
        "write",
        "in",
        "can",
        "you",
        "could",
        "answer",
        "reply",
        "use",
        "switch",
        "to",
        "language",
        "lang",
        "me",
        "with",
        "let",
        "lets",
        "s",
        "us",
        "only",
        "the",
        "a",
        "do",
        "i",
        "want",
        "прошу",
        "пожалуйста",
        "говорите",
        "говори",
        "пишите",
        "пиши",
        "можно",
        "на",
        "по",
        "давайте",
        "язык",
        "языке",
        "перейдите",
        "переключите",
        "ответьте",
        "отвечайте",
        "вы",
        "мне",
        "со",
        "мной",
        "я",
        "хочу",
        "общаться",
        "а",
    ];
    let lower = text.to_lowercase();
    let han_count = lower.chars().filter(|c| is_han(*c)).count();
    if han_count > 0 {
        if lower.contains('不') || lower.contains('没') || han_count > 10 {
            return None;
        }
        return HAN_NAMES.iter().find(|(name, _)| lower.contains(name)).map(|(_, lang)| *lang);
    }
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).collect();
    let named: Vec<Lang> = words
        .iter()
        .filter_map(|word| NAMES.iter().find(|(name, _)| name == word).map(|(_, lang)| *lang))
        .collect();
    let fits = words.len() <= 7
        && named.len() == 1
        && words.iter().all(|word| AROUND.contains(word) || NAMES.iter().any(|(name, _)| name == word));
    fits.then(|| named[0])
}

/// "human", "оператор", "人工" and their kin, in a short message. A longer message that
/// mentions a person ("the courier person was rude") is about something else; the classifier's
/// `contact_human_agent` intent catches the long ways of asking in the conversation's language.
pub fn asks_for_person(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "human",
        "humans",
        "person",
        "operator",
        "agent",
        "manager",
        "someone",
        "somebody",
        "people",
        "support",
        "человек",
        "человека",
        "человеком",
        "оператор",
        "оператора",
        "оператором",
        "менеджер",
        "менеджера",
        "сотрудник",
        "сотрудника",
        "специалист",
        "специалиста",
        "живой",
        "живого",
    ];
    // "客服" alone is "customer service", also in "thanks, support" or "support's phone number".
    const HAN: &[&str] = &["人工", "真人", "活人", "找客服", "叫客服"];
    const AROUND: &[&str] = &[
        "a",
        "an",
        "the",
        "real",
        "live",
        "talk",
        "speak",
        "to",
        "with",
        "want",
        "need",
        "please",
        "pls",
        "i",
        "me",
        "give",
        "get",
        "call",
        "connect",
        "can",
        "let",
        "now",
        "позовите",
        "позови",
        "дайте",
        "нужен",
        "нужна",
        "хочу",
        "с",
        "со",
        "пожалуйста",
        "позвать",
        "соедините",
        "переключите",
        "на",
        "мне",
        "можно",
    ];
    let lower = text.to_lowercase();
    if HAN.iter().any(|word| lower.contains(word)) {
        return lower.chars().filter(|c| is_han(*c)).count() <= 8;
    }
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).collect();
    words.len() <= 6
        && words.iter().any(|word| WORDS.contains(word))
        && words.iter().all(|word| WORDS.contains(word) || AROUND.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::order_id::testing::MarketplaceFormat;

    struct Nothing;

    impl IntentClassifier for Nothing {
        fn classify(&self, _: Lang, _: &str) -> Option<Match> {
            None
        }
    }

    fn read(text: &str) -> Understanding {
        understand(text, Lang::En, &MarketplaceFormat, &Nothing)
    }

    #[test]
    fn a_bare_order_number_is_recognised_with_its_usual_wrapping() {
        for text in [
            "12345678-0001",
            "#12345678-0001",
            "order 12345678-0001",
            "my order number is 12345678 0001",
            "заказ №12345678-0001",
            "订单号12345678-0001",
            "hi, 12345678-0001 please",
        ] {
            let understood = read(text);
            assert!(understood.only_order_number, "{text}");
            assert!(!understood.describes, "{text}");
        }
        for text in ["my order 12345678-0001 arrived broken", "12345678-0001 where is it?", "hello"] {
            assert!(!read(text).only_order_number, "{text}");
        }
    }

    #[test]
    fn descriptions_need_a_few_words() {
        for (text, describes) in [
            ("my order 12345678-0001 arrived broken", true),
            ("the item is damaged", true),
            ("damaged", false),
            ("I want to complain", false),
            ("хочу пожаловаться", false),
            ("посылка пришла мятая", true),
            ("订单12345678-0001少了一件", true),
            ("坏了", false),
        ] {
            assert_eq!(read(text).describes, describes, "{text}");
        }
    }

    #[test]
    fn asking_for_a_person_in_any_language() {
        for text in [
            "human",
            "HUMAN!!",
            "talk to a human please",
            "operator",
            "real person",
            "человек",
            "позовите оператора",
            "живой человек",
            "人工",
            "转人工客服",
            "我要人工",
        ] {
            assert!(asks_for_person(text), "{text}");
        }
        for text in [
            "the courier person was rude and threw my parcel at the door",
            "my order",
            "человек из доставки нагрубил мне по телефону вчера вечером",
            "感谢客服",
            "客服电话是多少",
            "hello",
        ] {
            assert!(!asks_for_person(text), "{text}");
        }
    }

    #[test]
    fn asking_for_a_language_by_name_in_any_language() {
        for (text, lang) in [
            ("speak English please", Some(Lang::En)),
            ("English?", Some(Lang::En)),
            ("можно по-английски?", Some(Lang::En)),
            ("пишите на русском", Some(Lang::Ru)),
            ("in Russian please", Some(Lang::Ru)),
            ("说中文", Some(Lang::Zh)),
            ("请用英语回复", Some(Lang::En)),
            ("по-китайски можно?", Some(Lang::Zh)),
            ("is there an English manual for the kettle", None),
            ("я не понимаю по-английски", None),
            ("我不会说中文", None),
            ("English or Russian", None),
        ] {
            assert_eq!(asks_for_language(text), lang, "{text}");
        }
    }

    #[test]
    fn questions_by_their_mark_or_their_first_word() {
        for (text, question) in [
            ("how long does a refund take", true),
            ("the box is crushed?", true),
            ("Когда вернут деньги", true),
            ("退款要多久", false),
            ("怎么退款", true),
            ("能退款吗", true),
            ("the box is crushed", false),
            ("коробка помята", false),
        ] {
            assert_eq!(is_question(text), question, "{text}");
        }
    }

    #[test]
    fn a_request_for_a_person_is_read_as_one() {
        assert!(read("human please").wants_person);
        assert!(!read("hello").wants_person);
    }
}
