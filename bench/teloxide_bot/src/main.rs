//! The Rust baseline of `bench/compare.sh`: the benchmark's dialog written the way a teloxide
//! user would write it, with teloxide's dispatcher, long polling and the `InMemStorage`
//! dialogue. Nothing is durable: a restart forgets every conversation.
//!
//! It sends Switchboard's own texts (from `bench/dialog_texts.json`) with the same buttons, so
//! the load driver sees the same dialog, and like Switchboard it answers each update with one
//! message: a turn's texts joined by blank lines, the keyboard on it. FAQ questions are
//! answered from a keyword table instead of a trained classifier.
//!
//! Configuration: `BENCH_TOKEN` (the bot token) and `BENCH_API_URL` (the fake Bot API).

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use teloxide::dispatching::dialogue::{self, InMemStorage};
use teloxide::dispatching::{UpdateFilterExt, UpdateHandler};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, MaybeInaccessibleMessage};

type BotDialogue = Dialogue<State, InMemStorage<State>>;
type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const ISSUES: [&str; 7] = ["order", "payment", "account", "delivery", "return", "complaint", "other"];
const ORDER_ID_EXAMPLE: &str = "12345678-0001";

#[derive(Clone, Default, Debug)]
pub enum State {
    #[default]
    Menu,
    AwaitingOrderId {
        issue: String,
    },
    AwaitingPhoto {
        issue: String,
        order_id: String,
    },
    AwaitingDescription {
        issue: String,
        order_id: Option<String>,
    },
    SuggestionOffered {
        ticket: Ticket,
    },
    FaqAnswered {
        question: String,
    },
    Queued,
}

/// What a handed-off request carries.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub issue: String,
    pub order_id: Option<String>,
    pub description: String,
}

#[derive(Deserialize)]
struct FaqEntry {
    keywords: Vec<String>,
    answer: String,
}

#[derive(Deserialize)]
struct Texts {
    greeting: String,
    menu_prompt: String,
    issues: HashMap<String, String>,
    button_human: String,
    button_menu: String,
    ask_order_id_delivery: String,
    ask_order_id_other: String,
    order_id_invalid: String,
    order_id_accepted: String,
    ask_photo_optional: String,
    button_skip: String,
    ask_description: String,
    suggestion_intro: String,
    did_it_help: String,
    button_yes: String,
    button_no: String,
    handoff_queued: String,
    button_withdraw: String,
    request_withdrawn: String,
    glad_it_helped: String,
    not_understood: String,
    queued_message_added: String,
    request_still_open: String,
    cancelled: String,
    faq: Vec<FaqEntry>,
}

impl Texts {
    /// The first FAQ answer one of whose keywords the text contains.
    fn faq_answer(&self, text: &str) -> Option<&str> {
        let text = text.to_lowercase();
        self.faq
            .iter()
            .find(|entry| entry.keywords.iter().any(|keyword| text.contains(keyword.as_str())))
            .map(|entry| entry.answer.as_str())
    }
}

/// Every language's texts, and the queue counter (the baseline's whole "ticket system").
struct Shared {
    texts: HashMap<String, Texts>,
    queued: AtomicU64,
}

impl Shared {
    fn texts(&self, language_code: Option<&str>) -> &Texts {
        let lang = match language_code {
            Some(code) if code.starts_with("ru") => "ru",
            Some(code) if code.starts_with("zh") => "zh",
            _ => "en",
        };
        &self.texts[lang]
    }
}

#[tokio::main]
async fn main() {
    let token = std::env::var("BENCH_TOKEN").expect("BENCH_TOKEN: the bot token is required");
    let api_url = std::env::var("BENCH_API_URL").expect("BENCH_API_URL: the Bot API base URL is required");
    let api_url = reqwest_url(&api_url);
    let mut texts: HashMap<String, serde_json::Value> =
        serde_json::from_str(include_str!("../../dialog_texts.json")).expect("dialog_texts.json is JSON");
    texts.remove("_source");
    let texts = texts
        .into_iter()
        .map(|(lang, value)| (lang, serde_json::from_value(value).expect("dialog_texts.json has every text")))
        .collect();
    let shared = Arc::new(Shared { texts, queued: AtomicU64::new(0) });

    let bot = Bot::new(token).set_api_url(api_url);
    Dispatcher::builder(bot, schema())
        .dependencies(dptree::deps![InMemStorage::<State>::new(), shared])
        .build()
        .dispatch()
        .await;
}

fn reqwest_url(url: &str) -> reqwest::Url {
    url.parse().expect("BENCH_API_URL must be a URL")
}

fn schema() -> UpdateHandler<Box<dyn std::error::Error + Send + Sync + 'static>> {
    dialogue::enter::<Update, InMemStorage<State>, State, _>()
        .branch(Update::filter_message().endpoint(on_message))
        .branch(Update::filter_callback_query().endpoint(on_button))
}

fn menu_keyboard(texts: &Texts) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = ISSUES
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .map(|issue| {
                    InlineKeyboardButton::callback(texts.issues[*issue].clone(), format!("i:{issue}"))
                })
                .collect()
        })
        .collect();
    rows.push(vec![InlineKeyboardButton::callback(texts.button_human.clone(), "human")]);
    InlineKeyboardMarkup::new(rows)
}

fn one_button(label: &str, data: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(label.to_owned(), data.to_owned())]])
}

fn helpfulness_keyboard(texts: &Texts) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback(texts.button_yes.clone(), "yes"),
        InlineKeyboardButton::callback(texts.button_no.clone(), "no"),
    ]])
}

/// `12345678-0001` or `12345678-0001-12`, after trimming `#`/`№` (Switchboard's default format).
fn valid_order_id(text: &str) -> Option<String> {
    let id = text.trim().trim_start_matches(['#', '№']).trim().to_uppercase();
    let parts: Vec<&str> = id.split('-').collect();
    let digits = |part: &str, min: usize, max: usize| {
        (min..=max).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())
    };
    let ok = match parts.as_slice() {
        [a, b] => digits(a, 8, 8) && digits(b, 4, 4),
        [a, b, c] => digits(a, 8, 8) && digits(b, 4, 4) && digits(c, 1, 3),
        _ => false,
    };
    ok.then_some(id)
}

/// Telegram's limit on a message's text, in UTF-16 code units.
const MESSAGE_LIMIT: usize = 4096;

/// What a handler decided: the next state (if it changes), the texts of its turn in order and
/// the keyboard that goes under them. The state is saved before anything is sent, so a
/// customer who answers at once finds it.
#[derive(Default)]
struct Answer {
    state: Option<State>,
    texts: Vec<String>,
    keyboard: Option<InlineKeyboardMarkup>,
}

impl Answer {
    fn to(state: State) -> Answer {
        Answer { state: Some(state), ..Answer::default() }
    }

    fn stay() -> Answer {
        Answer::default()
    }

    fn say(mut self, text: impl Into<String>) -> Answer {
        self.texts.push(text.into());
        self
    }

    /// The turn's last text, with the keyboard the customer answers on.
    fn ask(mut self, text: impl Into<String>, keyboard: InlineKeyboardMarkup) -> Answer {
        self.texts.push(text.into());
        self.keyboard = Some(keyboard);
        self
    }

    fn menu(self, texts: &Texts) -> Answer {
        self.ask(texts.menu_prompt.clone(), menu_keyboard(texts))
    }

    async fn send(self, bot: &Bot, dialogue: &BotDialogue) -> HandlerResult {
        if let Some(state) = self.state {
            dialogue.update(state).await?;
        }
        if self.texts.is_empty() {
            return Ok(());
        }
        let joined = self.texts.join("\n\n");
        // One message per turn, unless the texts together are too long for one.
        let messages = if joined.encode_utf16().count() <= MESSAGE_LIMIT { vec![joined] } else { self.texts };
        let count = messages.len();
        for (index, text) in messages.into_iter().enumerate() {
            let request = bot.send_message(dialogue.chat_id(), text);
            match &self.keyboard {
                Some(keyboard) if index + 1 == count => request.reply_markup(keyboard.clone()).await?,
                _ => request.await?,
            };
        }
        Ok(())
    }
}

fn handoff(shared: &Shared, texts: &Texts, _ticket: Ticket) -> Answer {
    let position = shared.queued.fetch_add(1, Ordering::Relaxed) + 1;
    let text = texts.handoff_queued.replace("{ $position }", &position.to_string());
    Answer::to(State::Queued).ask(text, one_button(&texts.button_withdraw, "withdraw"))
}

/// The request is complete: suggest an FAQ answer when one fits, else hand it to a human.
fn finish(shared: &Shared, texts: &Texts, ticket: Ticket) -> Answer {
    match texts.faq_answer(&ticket.description) {
        Some(answer) => Answer::to(State::SuggestionOffered { ticket })
            .say(texts.suggestion_intro.clone())
            .say(answer)
            .ask(texts.did_it_help.clone(), helpfulness_keyboard(texts)),
        None => handoff(shared, texts, ticket),
    }
}

async fn on_message(
    bot: Bot,
    dialogue: BotDialogue,
    state: State,
    message: Message,
    shared: Arc<Shared>,
) -> HandlerResult {
    let texts = shared.texts(message.from.as_ref().and_then(|user| user.language_code.as_deref()));
    let Some(text) = message.text().map(str::trim) else {
        return Answer::stay().say(texts.not_understood.clone()).send(&bot, &dialogue).await;
    };
    let answer = match (text, state) {
        ("/start", State::Queued) => Answer::stay()
            .ask(texts.request_still_open.clone(), one_button(&texts.button_withdraw, "withdraw")),
        ("/start", _) => Answer::to(State::Menu).say(texts.greeting.clone()).menu(texts),
        ("/cancel", State::Queued) => {
            Answer::to(State::Menu).say(texts.request_withdrawn.clone()).menu(texts)
        }
        ("/cancel", _) => Answer::to(State::Menu).say(texts.cancelled.clone()).menu(texts),
        (_, State::Menu | State::FaqAnswered { .. }) => match texts.faq_answer(text) {
            Some(answer) => Answer::to(State::FaqAnswered { question: text.to_owned() })
                .say(answer)
                .ask(texts.did_it_help.clone(), helpfulness_keyboard(texts)),
            None => Answer::stay().say(texts.not_understood.clone()).menu(texts),
        },
        (_, State::AwaitingOrderId { issue }) => match valid_order_id(text) {
            Some(order_id) => {
                let accepted = texts.order_id_accepted.replace("{ $order_id }", &order_id);
                Answer::to(State::AwaitingPhoto { issue, order_id })
                    .say(accepted)
                    .ask(texts.ask_photo_optional.clone(), one_button(&texts.button_skip, "skip"))
            }
            None => Answer::stay().say(texts.order_id_invalid.replace("{ $example }", ORDER_ID_EXAMPLE)),
        },
        (_, State::AwaitingPhoto { issue, order_id }) => {
            finish(&shared, texts, Ticket { issue, order_id: Some(order_id), description: text.to_owned() })
        }
        (_, State::AwaitingDescription { issue, order_id }) => {
            finish(&shared, texts, Ticket { issue, order_id, description: text.to_owned() })
        }
        (_, State::SuggestionOffered { .. }) => {
            Answer::stay().ask(texts.did_it_help.clone(), helpfulness_keyboard(texts))
        }
        (_, State::Queued) => Answer::stay().say(texts.queued_message_added.clone()),
    };
    answer.send(&bot, &dialogue).await
}

async fn on_button(
    bot: Bot,
    dialogue: BotDialogue,
    state: State,
    query: CallbackQuery,
    shared: Arc<Shared>,
) -> HandlerResult {
    let texts = shared.texts(query.from.language_code.as_deref());
    // Stop the client's spinner and take the pressed keyboard away, alongside the answer.
    {
        let bot = bot.clone();
        let (id, pressed) = (query.id.clone(), query.message.clone());
        tokio::spawn(async move {
            let _ = bot.answer_callback_query(id).await;
            if let Some(MaybeInaccessibleMessage::Regular(message)) = pressed {
                let _ = bot.edit_message_reply_markup(message.chat.id, message.id).await;
            }
        });
    }
    let data = query.data.as_deref().unwrap_or_default();
    let answer = match (data, state) {
        (issue_data, State::Menu | State::FaqAnswered { .. }) if issue_data.starts_with("i:") => {
            let issue = issue_data.trim_start_matches("i:").to_owned();
            if matches!(issue.as_str(), "order" | "payment" | "delivery" | "return") {
                let prompt = if issue == "delivery" {
                    &texts.ask_order_id_delivery
                } else {
                    &texts.ask_order_id_other
                };
                let keyboard = InlineKeyboardMarkup::new([[
                    InlineKeyboardButton::callback(texts.button_human.clone(), "human"),
                    InlineKeyboardButton::callback(texts.button_menu.clone(), "menu"),
                ]]);
                Answer::to(State::AwaitingOrderId { issue })
                    .ask(prompt.replace("{ $example }", ORDER_ID_EXAMPLE), keyboard)
            } else {
                Answer::to(State::AwaitingDescription { issue, order_id: None })
                    .say(texts.ask_description.clone())
            }
        }
        ("skip", State::AwaitingPhoto { issue, order_id }) => {
            Answer::to(State::AwaitingDescription { issue, order_id: Some(order_id) })
                .say(texts.ask_description.clone())
        }
        ("no", State::SuggestionOffered { ticket }) => handoff(&shared, texts, ticket),
        ("no", State::FaqAnswered { question }) => handoff(
            &shared,
            texts,
            Ticket { issue: "other".to_owned(), order_id: None, description: question },
        ),
        ("yes", State::SuggestionOffered { .. } | State::FaqAnswered { .. }) => {
            Answer::to(State::Menu).say(texts.glad_it_helped.clone()).menu(texts)
        }
        ("withdraw", State::Queued) => {
            Answer::to(State::Menu).say(texts.request_withdrawn.clone()).menu(texts)
        }
        ("human", State::Queued) | (_, State::Queued) => Answer::stay(),
        ("human", _) => handoff(
            &shared,
            texts,
            Ticket { issue: "other".to_owned(), order_id: None, description: String::new() },
        ),
        _ => Answer::to(State::Menu).menu(texts),
    };
    answer.send(&bot, &dialogue).await
}
