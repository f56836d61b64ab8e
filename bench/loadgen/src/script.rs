//! The dialog every customer goes through, the same for every bot: a delivery request that
//! ends with a human (issue button, order ID, photo skipped, a description, "no, that didn't
//! help", handoff), the request withdrawn, then an FAQ question answered with "yes".
//!
//! Buttons are found by their label in the bot's last reply and pressed with whatever
//! callback data that bot put there, so each bot keeps its own encoding. Labels come from
//! `bench/dialog_texts.json`, which holds Switchboard's own texts.
//!
//! A step is over when the bot's whole turn has arrived, recognised by what the customer needs
//! to go on (the keyboard with the button the next step presses, or the text of the turn's last
//! question), not by a count of messages: a bot that joins its texts into one message and a bot
//! that sends them one by one do the same script, and the messages per update are measured.

use crate::fake_api::BotMessage;
use serde::Deserialize;
use std::collections::HashMap;

/// Languages customers write in; customer `i` speaks `LANGS[i % 3]`.
pub const LANGS: [&str; 3] = ["en", "ru", "zh"];

#[derive(Debug, Clone, Deserialize)]
pub struct LangTexts {
    pub issues: HashMap<String, String>,
    pub button_skip: String,
    pub button_yes: String,
    pub button_no: String,
    pub button_withdraw: String,
    /// Texts that end a turn which carries no keyboard; `{ $name }` stands for any value.
    pub ask_order_id_delivery: String,
    pub ask_description: String,
}

/// The texts of every language, from the shared texts file.
pub fn labels() -> HashMap<String, LangTexts> {
    let mut all: HashMap<String, serde_json::Value> =
        serde_json::from_str(include_str!("../../dialog_texts.json"))
            .expect("bench/dialog_texts.json is JSON");
    LANGS
        .iter()
        .map(|lang| {
            let texts = all.remove(*lang).expect("every language is in dialog_texts.json");
            let texts: LangTexts =
                serde_json::from_value(texts).expect("the labels are in dialog_texts.json");
            ((*lang).to_owned(), texts)
        })
        .collect()
}

/// What the customer does at one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Text(String),
    /// Press the button with this label under the bot's last message.
    Press(String),
}

/// How the customer knows the bot's turn is over: the message it needs to go on.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEnd {
    /// A message with a button of this label (the next step presses it, or it is the menu).
    Button(String),
    /// A message whose text contains this template (`{ $name }` matches any value).
    Text(String),
}

impl TurnEnd {
    /// Whether `message` is the one that ends the turn. Texts joined into one message, or sent
    /// one by one, end the turn alike: only the message carrying the end counts.
    pub fn ends_with(&self, message: &BotMessage) -> bool {
        match self {
            TurnEnd::Button(label) => message.buttons.iter().any(|(text, _)| text == label),
            TurnEnd::Text(template) => matches_template(template, &message.text),
        }
    }
}

/// Whether `text` contains the template's literal parts in order; a placeholder (`{ $name }`)
/// matches anything, so an order number or a queue position fills it. Fluent's bidi isolation
/// marks around a filled placeholder fall into the gap as well.
fn matches_template(template: &str, text: &str) -> bool {
    let mut rest = text;
    let mut template = template;
    loop {
        let (literal, after) = match template.find("{ $") {
            Some(start) => {
                let end = template[start..].find('}').map_or(template.len(), |end| start + end + 1);
                (&template[..start], &template[end..])
            }
            None => (template, ""),
        };
        if !literal.is_empty() {
            let Some(found) = rest.find(literal) else { return false };
            rest = &rest[found + literal.len()..];
        }
        if after.is_empty() {
            return true;
        }
        template = after;
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: &'static str,
    pub input: Input,
    /// The step is done when a message ending the bot's turn arrives.
    pub end: TurnEnd,
}

/// The first step of the dialog and of seeding: /start, answered with the menu.
pub fn start(labels: &LangTexts) -> Step {
    Step { name: "start", input: Input::Text("/start".to_owned()), end: menu(labels) }
}

/// The main menu ends a turn: its keyboard holds the issue buttons.
fn menu(labels: &LangTexts) -> TurnEnd {
    TurnEnd::Button(labels.issues["delivery"].clone())
}

/// One cycle of the dialog for a customer speaking `lang`; `customer` and `cycle` vary the
/// order number and the FAQ question.
pub fn cycle(lang: &str, labels: &LangTexts, customer: usize, cycle: usize) -> Vec<Step> {
    let order_id = format!("{:08}-{:04}", 10_000_000 + customer % 90_000_000, cycle % 10_000);
    let questions = faq_questions(lang);
    let question = questions[(customer + cycle) % questions.len()];
    let press = |name, label: &String, end| Step { name, input: Input::Press(label.clone()), end };
    let say = |name, text: &str, end| Step { name, input: Input::Text(text.to_owned()), end };
    let button = |label: &String| TurnEnd::Button(label.clone());
    vec![
        start(labels),
        press("issue", &labels.issues["delivery"], TurnEnd::Text(labels.ask_order_id_delivery.clone())),
        say("order_id", &order_id, button(&labels.button_skip)),
        press("skip_photo", &labels.button_skip, TurnEnd::Text(labels.ask_description.clone())),
        say("description", description(lang), button(&labels.button_no)),
        press("not_helped", &labels.button_no, button(&labels.button_withdraw)),
        press("withdraw", &labels.button_withdraw, menu(labels)),
        say("faq", question, button(&labels.button_yes)),
        press("helped", &labels.button_yes, menu(labels)),
    ]
}

/// A delivery description that an FAQ answer fits (how long delivery takes), so the bot
/// suggests it and asks "did this help?". A complaint that the parcel is late ("a week and
/// still nothing") is a late delivery for Switchboard's classifier, which goes to a person
/// without a suggestion; these are questions about the delivery period in each language.
fn description(lang: &str) -> &'static str {
    match lang {
        "ru" => "Сколько дней обычно идёт доставка в мой регион?",
        "zh" => "配送到我所在的地区一般需要多久？",
        _ => "How long does delivery usually take to my region?",
    }
}

fn faq_questions(lang: &str) -> &'static [&'static str] {
    match lang {
        "ru" => &["Как сбросить пароль? Не могу войти в аккаунт", "Какие способы оплаты вы принимаете?"],
        "zh" => &["忘记密码了，怎么重置密码？", "你们支持哪些付款方式？"],
        _ => &["I forgot my password, how do I reset it?", "What payment methods do you accept?"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str, buttons: &[&str]) -> BotMessage {
        BotMessage::for_test(text, buttons)
    }

    fn english() -> LangTexts {
        labels().remove("en").expect("English texts")
    }

    /// The messages of `turn` up to the one that ends `step`, or None if none ends it.
    fn ending(step: &Step, turn: &[BotMessage]) -> Option<usize> {
        turn.iter().position(|message| step.end.ends_with(message)).map(|index| index + 1)
    }

    #[test]
    fn the_start_turn_ends_at_the_menu_whether_joined_or_sent_one_by_one() {
        let en = english();
        let json: serde_json::Value = serde_json::from_str(include_str!("../../dialog_texts.json")).unwrap();
        let (greeting, prompt) =
            (json["en"]["greeting"].as_str().unwrap(), json["en"]["menu_prompt"].as_str().unwrap());
        let menu: Vec<&str> = en.issues.values().map(String::as_str).collect();
        let step = start(&en);
        let two = [message(greeting, &[]), message(prompt, &menu)];
        assert_eq!(ending(&step, &two), Some(2));
        let one = [message(&format!("{greeting}\n\n{prompt}"), &menu)];
        assert_eq!(ending(&step, &one), Some(1));
        // The greeting alone is not the whole turn: the customer has no menu to press yet.
        assert_eq!(ending(&step, &two[..1]), None);
    }

    #[test]
    fn a_text_end_matches_any_value_in_the_placeholders() {
        let en = english();
        let issue = &cycle("en", &en, 0, 0)[1];
        assert_eq!(issue.name, "issue");
        let filled = en.ask_order_id_delivery.replace("{ $example }", "\u{2068}87654321-0042\u{2069}");
        assert!(issue.end.ends_with(&message(&filled, &["Talk to a person", "Main menu"])));
        // Joined after another text, it still ends the turn.
        assert!(issue.end.ends_with(&message(&format!("Some intro.\n\n{filled}"), &[])));
        // A different prompt does not.
        assert!(!issue.end.ends_with(&message("Please send your order number, for example 1.", &[])));
        // The literal parts must come in order.
        let (before, after) = en.ask_order_id_delivery.split_once("{ $example }").unwrap();
        assert!(!issue.end.ends_with(&message(&format!("{after} 1 {before}"), &[])));
    }

    #[test]
    fn matches_template_reads_literals_and_gaps() {
        assert!(matches_template("Got it: order { $order_id }.", "Got it: order 12345678-0001."));
        assert!(matches_template("{ $position } in line", "You are 7 in line"));
        assert!(matches_template("plain", "a plain text"));
        assert!(!matches_template("Got it: order { $order_id }.", "Got it: order 12345678-0001"));
        assert!(!matches_template("plain", "plane"));
    }

    #[test]
    fn every_step_ends_on_what_the_next_step_needs() {
        let en = english();
        let steps = cycle("en", &en, 3, 1);
        let names: Vec<&str> = steps.iter().map(|step| step.name).collect();
        assert_eq!(
            names,
            [
                "start",
                "issue",
                "order_id",
                "skip_photo",
                "description",
                "not_helped",
                "withdraw",
                "faq",
                "helped"
            ]
        );
        // A step that presses a button follows a turn that ends on a message with that button
        // (the cycle wraps: "start" follows "helped", and "issue" presses the menu's button).
        for (index, step) in steps.iter().enumerate() {
            if let Input::Press(label) = &step.input {
                let before = &steps[(index + steps.len() - 1) % steps.len()];
                assert_eq!(before.end, TurnEnd::Button(label.clone()), "before {}", step.name);
            }
        }
        // A text-only end in the middle of a turn: the photo request ("Skip") ends the
        // order-number turn, not the "Got it" line before it.
        let order = &steps[2];
        assert!(!order.end.ends_with(&message("Got it: order 10000003-0001.", &[])));
        assert!(
            order.end.ends_with(&message("Got it: order 10000003-0001.\n\nIf you have a photo…", &["Skip"]))
        );
    }

    /// `locales/<lang>/dialog.ftl`, the file `dialog_texts.json` was copied from.
    fn dialog_ftl(lang: &str) -> String {
        let path = format!("{}/../../locales/{lang}/dialog.ftl", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    /// A one-line message of a Fluent file, as written.
    fn message_value(ftl: &str, key: &str) -> Option<String> {
        ftl.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(" = ").map(str::to_owned))
    }

    /// One variant of a selector message plus the text after the selector's closing brace.
    fn variant_value(ftl: &str, key: &str, variant: &str) -> Option<String> {
        let mut lines = ftl.lines().skip_while(|line| !line.starts_with(&format!("{key} =")));
        let chosen = lines.by_ref().find_map(|line| line.trim().strip_prefix(&format!("[{variant}] ")))?;
        let after = lines.find_map(|line| line.trim_start().strip_prefix('}'))?;
        Some(format!("{chosen}{after}"))
    }

    /// The turn ends are only as good as these texts: if Switchboard's change, the driver would
    /// wait for a message that never comes, so they must be Switchboard's own.
    #[test]
    fn the_texts_file_holds_switchboards_own_texts() {
        let json: serde_json::Value = serde_json::from_str(include_str!("../../dialog_texts.json")).unwrap();
        for lang in LANGS {
            let ftl = dialog_ftl(lang);
            let texts = &json[lang];
            for key in [
                "greeting",
                "menu_prompt",
                "button_skip",
                "button_yes",
                "button_no",
                "button_withdraw",
                "button_human",
                "button_menu",
                "ask_photo_optional",
                "ask_description",
                "suggestion_intro",
                "did_it_help",
                "order_id_accepted",
                "request_withdrawn",
                "glad_it_helped",
            ] {
                let expected = message_value(&ftl, &key.replace('_', "-"));
                assert_eq!(texts[key].as_str().map(str::to_owned), expected, "{lang} {key}");
            }
            for (issue, label) in texts["issues"].as_object().unwrap() {
                let expected = message_value(&ftl, &format!("issue-{issue}"));
                assert_eq!(label.as_str().map(str::to_owned), expected, "{lang} issue {issue}");
            }
            let expected = variant_value(&ftl, "ask-order-id", "delivery");
            let copied = texts["ask_order_id_delivery"].as_str().map(str::to_owned);
            assert_eq!(copied, expected, "{lang} ask_order_id_delivery");
        }
    }
}
