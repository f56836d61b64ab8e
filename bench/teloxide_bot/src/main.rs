//! The Rust baseline of `bench/compare.sh`: the benchmark's dialog written the way a teloxide
//! user would write it, with teloxide's dispatcher, long polling and the `InMemStorage`
//! dialogue. Nothing is durable: a restart forgets every conversation.
//!
//! It sends Switchboard's own texts (from `bench/dialog_texts.json`) with the same buttons, so
//! the load driver sees the same dialog. FAQ questions are answered from a keyword table
//! instead of a trained classifier.
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

async fn menu(bot: &Bot, chat: ChatId, texts: &Texts) -> HandlerResult {
    bot.send_message(chat, texts.menu_prompt.clone()).reply_markup(menu_keyboard(texts)).await?;
    Ok(())
}

async fn handoff(
    bot: &Bot,
    dialogue: &BotDialogue,
    shared: &Shared,
    texts: &Texts,
    _ticket: Ticket,
) -> HandlerResult {
    let position = shared.queued.fetch_add(1, Ordering::Relaxed) + 1;
    let text = texts.handoff_queued.replace("{ $position }", &position.to_string());
    bot.send_message(dialogue.chat_id(), text)
        .reply_markup(one_button(&texts.button_withdraw, "withdraw"))
        .await?;
    dialogue.update(State::Queued).await?;
    Ok(())
}

/// The request is complete: suggest an FAQ answer when one fits, else hand it to a human.
async fn finish(
    bot: &Bot,
    dialogue: &BotDialogue,
    shared: &Shared,
    texts: &Texts,
    ticket: Ticket,
) -> HandlerResult {
    let chat = dialogue.chat_id();
    match texts.faq_answer(&ticket.description) {
        Some(answer) => {
            bot.send_message(chat, texts.suggestion_intro.clone()).await?;
            bot.send_message(chat, answer.to_owned()).await?;
            bot.send_message(chat, texts.did_it_help.clone())
                .reply_markup(helpfulness_keyboard(texts))
                .await?;
            dialogue.update(State::SuggestionOffered { ticket }).await?;
            Ok(())
        }
        None => handoff(bot, dialogue, shared, texts, ticket).await,
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
    let chat = message.chat.id;
    let Some(text) = message.text().map(str::trim) else {
        bot.send_message(chat, texts.not_understood.clone()).await?;
        return Ok(());
    };
    match (text, &state) {
        ("/start", State::Queued) => {
            bot.send_message(chat, texts.request_still_open.clone())
                .reply_markup(one_button(&texts.button_withdraw, "withdraw"))
                .await?;
        }
        ("/start", _) => {
            bot.send_message(chat, texts.greeting.clone()).await?;
            menu(&bot, chat, texts).await?;
            dialogue.update(State::Menu).await?;
        }
        ("/cancel", State::Queued) => {
            bot.send_message(chat, texts.request_withdrawn.clone()).await?;
            menu(&bot, chat, texts).await?;
            dialogue.update(State::Menu).await?;
        }
        ("/cancel", _) => {
            bot.send_message(chat, texts.cancelled.clone()).await?;
            menu(&bot, chat, texts).await?;
            dialogue.update(State::Menu).await?;
        }
        (_, State::Menu | State::FaqAnswered { .. }) => match texts.faq_answer(text) {
            Some(answer) => {
                bot.send_message(chat, answer.to_owned()).await?;
                bot.send_message(chat, texts.did_it_help.clone())
                    .reply_markup(helpfulness_keyboard(texts))
                    .await?;
                dialogue.update(State::FaqAnswered { question: text.to_owned() }).await?;
            }
            None => {
                bot.send_message(chat, texts.not_understood.clone()).await?;
                menu(&bot, chat, texts).await?;
            }
        },
        (_, State::AwaitingOrderId { issue }) => match valid_order_id(text) {
            Some(order_id) => {
                bot.send_message(chat, texts.order_id_accepted.replace("{ $order_id }", &order_id)).await?;
                bot.send_message(chat, texts.ask_photo_optional.clone())
                    .reply_markup(one_button(&texts.button_skip, "skip"))
                    .await?;
                dialogue.update(State::AwaitingPhoto { issue: issue.clone(), order_id }).await?;
            }
            None => {
                bot.send_message(chat, texts.order_id_invalid.replace("{ $example }", ORDER_ID_EXAMPLE))
                    .await?;
            }
        },
        (_, State::AwaitingPhoto { issue, order_id }) => {
            let ticket = Ticket {
                issue: issue.clone(),
                order_id: Some(order_id.clone()),
                description: text.to_owned(),
            };
            finish(&bot, &dialogue, &shared, texts, ticket).await?;
        }
        (_, State::AwaitingDescription { issue, order_id }) => {
            let ticket =
                Ticket { issue: issue.clone(), order_id: order_id.clone(), description: text.to_owned() };
            finish(&bot, &dialogue, &shared, texts, ticket).await?;
        }
        (_, State::SuggestionOffered { .. }) => {
            bot.send_message(chat, texts.did_it_help.clone())
                .reply_markup(helpfulness_keyboard(texts))
                .await?;
        }
        (_, State::Queued) => {
            bot.send_message(chat, texts.queued_message_added.clone()).await?;
        }
    }
    Ok(())
}

async fn on_button(
    bot: Bot,
    dialogue: BotDialogue,
    state: State,
    query: CallbackQuery,
    shared: Arc<Shared>,
) -> HandlerResult {
    let texts = shared.texts(query.from.language_code.as_deref());
    let chat = dialogue.chat_id();
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
    match (data, state) {
        (issue_data, State::Menu | State::FaqAnswered { .. }) if issue_data.starts_with("i:") => {
            let issue = issue_data.trim_start_matches("i:").to_owned();
            let needs_order = matches!(issue.as_str(), "order" | "payment" | "delivery" | "return");
            if needs_order {
                let prompt = if issue == "delivery" {
                    &texts.ask_order_id_delivery
                } else {
                    &texts.ask_order_id_other
                };
                let keyboard = InlineKeyboardMarkup::new([[
                    InlineKeyboardButton::callback(texts.button_human.clone(), "human"),
                    InlineKeyboardButton::callback(texts.button_menu.clone(), "menu"),
                ]]);
                bot.send_message(chat, prompt.replace("{ $example }", ORDER_ID_EXAMPLE))
                    .reply_markup(keyboard)
                    .await?;
                dialogue.update(State::AwaitingOrderId { issue }).await?;
            } else {
                bot.send_message(chat, texts.ask_description.clone()).await?;
                dialogue.update(State::AwaitingDescription { issue, order_id: None }).await?;
            }
        }
        ("skip", State::AwaitingPhoto { issue, order_id }) => {
            bot.send_message(chat, texts.ask_description.clone()).await?;
            dialogue.update(State::AwaitingDescription { issue, order_id: Some(order_id) }).await?;
        }
        ("no", State::SuggestionOffered { ticket }) => {
            handoff(&bot, &dialogue, &shared, texts, ticket).await?
        }
        ("no", State::FaqAnswered { question }) => {
            let ticket = Ticket { issue: "other".to_owned(), order_id: None, description: question };
            handoff(&bot, &dialogue, &shared, texts, ticket).await?;
        }
        ("yes", State::SuggestionOffered { .. } | State::FaqAnswered { .. }) => {
            bot.send_message(chat, texts.glad_it_helped.clone()).await?;
            menu(&bot, chat, texts).await?;
            dialogue.update(State::Menu).await?;
        }
        ("withdraw", State::Queued) => {
            bot.send_message(chat, texts.request_withdrawn.clone()).await?;
            menu(&bot, chat, texts).await?;
            dialogue.update(State::Menu).await?;
        }
        ("human", State::Queued) => {}
        ("human", _) => {
            let ticket = Ticket { issue: "other".to_owned(), order_id: None, description: String::new() };
            handoff(&bot, &dialogue, &shared, texts, ticket).await?;
        }
        (_, State::Queued) => {}
        _ => {
            menu(&bot, chat, texts).await?;
            dialogue.update(State::Menu).await?;
        }
    }
    Ok(())
}
