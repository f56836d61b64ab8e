//! Customers in a closed loop: each sends its next update only when the bot's answer to the
//! previous one has fully arrived, so the load follows what the bot can take.

use crate::fake_api::{BotMessage, FakeApi};
use crate::script::{self, Input, LangTexts, TurnEnd};
use crate::updates;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Chat ids of the measured customers start here; seeded conversations use another range.
pub const CUSTOMER_CHAT_BASE: i64 = 1_000_000;
pub const SEED_CHAT_BASE: i64 = 500_000_000;

pub struct Run {
    pub api: Arc<FakeApi>,
    pub labels: Arc<HashMap<String, LangTexts>>,
    /// Steps that finish inside [measure_from, measure_until] are counted.
    pub measure_from: Instant,
    pub measure_until: Instant,
    /// How long a customer waits for an answer before giving up (an error).
    pub step_timeout: Duration,
}

#[derive(Debug, Default)]
pub struct Report {
    /// Update available -> the step's last reply arrived, for steps inside the window.
    pub latencies_us: Vec<u32>,
    /// Latencies of the same steps by step name.
    pub by_step: HashMap<&'static str, Vec<u32>>,
    /// Messages the bot sent in those steps, whole turns (including any extra replies).
    pub replies: u64,
    /// The same by step name.
    pub replies_by_step: HashMap<&'static str, u64>,
    /// Messages that arrived after the message ending their turn (before the next update).
    pub extra_replies: u64,
    pub error: Option<String>,
}

/// One customer, until the window closes or something goes wrong.
pub async fn run(run: Arc<Run>, index: usize) -> Report {
    let chat = CUSTOMER_CHAT_BASE + index as i64;
    let lang = script::LANGS[index % script::LANGS.len()];
    let labels = &run.labels[lang];
    let (sender, mut replies) = mpsc::unbounded_channel();
    run.api.register(chat, sender);
    let mut report = Report::default();
    let mut last: Option<BotMessage> = None;
    let mut previous_texts: Vec<String> = Vec::new();
    // The measured step before this one, whose late messages still count as its replies.
    let mut measured_before: Option<&'static str> = None;
    let mut message_id = 1;
    'dialog: for cycle in 0.. {
        for step in script::cycle(lang, labels, index, cycle) {
            if Instant::now() >= run.measure_until {
                break 'dialog;
            }
            while replies.try_recv().is_ok() {
                report.extra_replies += 1;
                if let Some(name) = measured_before {
                    report.replies += 1;
                    *report.replies_by_step.entry(name).or_default() += 1;
                }
            }
            let update: Box<dyn FnOnce(i64) -> String + Send> = match &step.input {
                Input::Text(text) => {
                    message_id += 1;
                    let (message_id, text) = (message_id, text.clone());
                    Box::new(move |update_id| updates::text(update_id, message_id, chat, lang, &text))
                }
                Input::Press(label) => {
                    let pressed = last.as_ref().and_then(|message| {
                        let (_, data) = message.buttons.iter().find(|(text, _)| text == label)?;
                        Some((message, data))
                    });
                    let Some((message, data)) = pressed else {
                        report.error = Some(format!(
                            "step {} ({lang}): no button {label:?} under the last reply {:?}; the replies \
                             before it: {previous_texts:?}",
                            step.name,
                            last.as_ref().map(|message| preview(&message.text))
                        ));
                        break 'dialog;
                    };
                    let (bot_id, message, data) = (run.api.bot_id(), message.clone(), data.clone());
                    Box::new(move |update_id| {
                        updates::callback(update_id, chat, lang, bot_id, &message, &data)
                    })
                }
            };
            let available = Instant::now();
            run.api.trace("publish_chat", chat);
            run.api.publish(update);
            let deadline = tokio::time::Instant::from_std(available + run.step_timeout);
            let turn = match await_turn(&mut replies, &step.end, deadline).await {
                Ok(turn) => turn,
                Err(texts) => {
                    report.error = Some(format!(
                        "step {} ({lang}): the turn did not end ({:?}) within {:?}; it brought {texts:?}",
                        step.name, step.end, run.step_timeout
                    ));
                    break 'dialog;
                }
            };
            let reply = turn.last;
            measured_before = None;
            if reply.at >= run.measure_from && reply.at <= run.measure_until {
                let micros =
                    u32::try_from(reply.at.duration_since(available).as_micros()).unwrap_or(u32::MAX);
                report.latencies_us.push(micros);
                report.by_step.entry(step.name).or_default().push(micros);
                report.replies += turn.texts.len() as u64;
                *report.replies_by_step.entry(step.name).or_default() += turn.texts.len() as u64;
                measured_before = Some(step.name);
            }
            last = Some(reply);
            previous_texts = turn.texts;
        }
    }
    run.api.unregister(chat);
    report
}

/// A bot turn as the customer saw it: the message that ended it, and the start of every
/// message in it, in order.
struct Turn {
    last: BotMessage,
    texts: Vec<String>,
}

/// Receives the bot's messages until one ends the turn; on a timeout (or a closed channel),
/// the starts of what did arrive.
async fn await_turn(
    replies: &mut mpsc::UnboundedReceiver<BotMessage>,
    end: &TurnEnd,
    deadline: tokio::time::Instant,
) -> Result<Turn, Vec<String>> {
    let mut texts = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, replies.recv()).await {
            Ok(Some(message)) => {
                texts.push(preview(&message.text));
                if end.ends_with(&message) {
                    return Ok(Turn { last: message, texts });
                }
            }
            _ => return Err(texts),
        }
    }
}

/// Stores `count` conversations before the measurement: that many new customers say /start
/// and wait for the menu, `concurrency` at a time.
pub async fn seed(
    api: Arc<FakeApi>,
    labels: Arc<HashMap<String, LangTexts>>,
    count: usize,
    concurrency: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (api, next, done) = (Arc::clone(&api), Arc::clone(&next), Arc::clone(&done));
        let labels = Arc::clone(&labels);
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<(), anyhow::Error>(());
                }
                let chat = SEED_CHAT_BASE + index as i64;
                let lang = script::LANGS[index % script::LANGS.len()];
                let (sender, mut replies) = mpsc::unbounded_channel();
                api.register(chat, sender);
                api.publish(|update_id| updates::text(update_id, 1, chat, lang, "/start"));
                let end = script::start(&labels[lang]).end;
                let deadline = tokio::time::Instant::now() + timeout;
                if let Err(texts) = await_turn(&mut replies, &end, deadline).await {
                    anyhow::bail!(
                        "seeding: customer {index} got no menu after /start within {timeout:?}: {texts:?}"
                    );
                }
                api.unregister(chat);
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished % 10_000 == 0 {
                    eprintln!("loadgen: seeded {finished} of {count} conversations");
                }
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// The start of a reply, for error messages.
fn preview(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str, buttons: &[&str]) -> BotMessage {
        BotMessage::for_test(text, buttons)
    }

    #[tokio::test]
    async fn a_turn_takes_every_message_up_to_its_end_and_leaves_the_rest() {
        let (sender, mut replies) = mpsc::unbounded_channel();
        for sent in [message("Hello!", &[]), message("Pick a topic", &["Delivery"]), message("late", &[])] {
            sender.send(sent).unwrap();
        }
        let end = TurnEnd::Button("Delivery".to_owned());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let turn = await_turn(&mut replies, &end, deadline).await.expect("the menu arrived");
        assert_eq!(turn.texts, ["Hello!", "Pick a topic"]);
        assert_eq!(turn.last.text, "Pick a topic");
        // What came after the end is left for the next step to count as an extra reply.
        assert_eq!(replies.try_recv().map(|left| left.text).ok().as_deref(), Some("late"));
    }

    #[tokio::test]
    async fn a_turn_that_never_ends_reports_what_came() {
        let (sender, mut replies) = mpsc::unbounded_channel();
        sender.send(message("Hello!", &[])).unwrap();
        let end = TurnEnd::Button("Delivery".to_owned());
        // Nothing else is ever sent, so the deadline's length changes nothing but the wait.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        let texts = await_turn(&mut replies, &end, deadline).await.err().expect("no menu came");
        assert_eq!(texts, ["Hello!"]);
    }
}
