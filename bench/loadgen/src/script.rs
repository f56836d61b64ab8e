//! The dialog every customer goes through, the same for every bot: a delivery request that
//! ends with a human (issue button, order ID, photo skipped, a description, "no, that didn't
//! help", handoff), the request withdrawn, then an FAQ question answered with "yes".
//!
//! Buttons are found by their label in the bot's last reply and pressed with whatever
//! callback data that bot put there, so each bot keeps its own encoding. Labels come from
//! `bench/dialog_texts.json`, which holds Switchboard's own texts.

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
}

/// The button labels of every language, from the shared texts file.
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

#[derive(Debug, Clone)]
pub struct Step {
    pub name: &'static str,
    pub input: Input,
    /// Messages the bot sends in answer; the step is done when the last one arrives.
    pub replies: usize,
}

/// One cycle of the dialog for a customer speaking `lang`; `customer` and `cycle` vary the
/// order number and the FAQ question.
pub fn cycle(lang: &str, labels: &LangTexts, customer: usize, cycle: usize) -> Vec<Step> {
    let order_id = format!("{:08}-{:04}", 10_000_000 + customer % 90_000_000, cycle % 10_000);
    let questions = faq_questions(lang);
    let question = questions[(customer + cycle) % questions.len()];
    vec![
        Step { name: "start", input: Input::Text("/start".to_owned()), replies: 2 },
        Step { name: "issue", input: Input::Press(labels.issues["delivery"].clone()), replies: 1 },
        Step { name: "order_id", input: Input::Text(order_id), replies: 2 },
        Step { name: "skip_photo", input: Input::Press(labels.button_skip.clone()), replies: 1 },
        Step { name: "description", input: Input::Text(description(lang).to_owned()), replies: 3 },
        Step { name: "not_helped", input: Input::Press(labels.button_no.clone()), replies: 1 },
        Step { name: "withdraw", input: Input::Press(labels.button_withdraw.clone()), replies: 2 },
        Step { name: "faq", input: Input::Text(question.to_owned()), replies: 2 },
        Step { name: "helped", input: Input::Press(labels.button_yes.clone()), replies: 2 },
    ]
}

/// A delivery description that an FAQ answer fits (how long delivery takes), so the bot
/// suggests it and asks "did this help?".
fn description(lang: &str) -> &'static str {
    match lang {
        "ru" => "Прошла уже неделя, а посылки нет. Сколько обычно идёт доставка?",
        "zh" => "已经一个星期了还没收到包裹，配送一般需要多久？",
        _ => "It has been a week and the parcel is still not here. How long does delivery usually take?",
    }
}

fn faq_questions(lang: &str) -> &'static [&'static str] {
    match lang {
        "ru" => &["Как сбросить пароль? Не могу войти в аккаунт", "Какие способы оплаты вы принимаете?"],
        "zh" => &["忘记密码了，怎么重置密码？", "你们支持哪些付款方式？"],
        _ => &["I forgot my password, how do I reset it?", "What payment methods do you accept?"],
    }
}
