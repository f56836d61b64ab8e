//! Machine translation in the console: when a ticket's customer writes in a language the agent
//! does not speak, the transcript shows the customer's messages in the agent's console
//! language (the original one click away), the bot's replies in the agent's language (they are
//! Fluent texts, so no machine is needed), and a reply goes through a preview: the translation
//! the customer will get, editable, before it is sent. A canned reply with a version in the
//! customer's language is sent as that version, without asking the provider.

use crate::console::ConsoleState;
use crate::console::agents::Agent;
use crate::console::texts::Tr;
use crate::core::message::Lang;
use crate::store::{Author, CannedReply, LogEntry};
use crate::translate::{MessageToTranslate, Outcome};
use std::collections::HashMap;

/// How one agent reads one ticket when its customer's language is not theirs.
pub(crate) struct Reading {
    /// The agent's console language: what the transcript is shown in.
    pub target: Lang,
    /// The customer's messages in `target`, by log id.
    pub outcomes: HashMap<i64, Outcome>,
}

/// The language an agent reads a ticket in, when translation is on and they do not speak the
/// customer's: their console language. An agent who listed no languages is taken to speak
/// the console's.
pub(crate) fn reading_language(state: &ConsoleState, agent: &Agent, tr: Tr, customer: Lang) -> Option<Lang> {
    state.translation.as_ref()?;
    let speaks =
        if agent.languages.is_empty() { customer == tr.lang } else { agent.languages.contains(&customer) };
    (!speaks && tr.lang != customer).then_some(tr.lang)
}

/// Whether a log row is words a customer typed (a message or a photo's caption), which a
/// machine may translate; button presses and refusals are shown by their labels instead.
fn typed_by_customer(entry: &LogEntry) -> bool {
    let message = &entry.message;
    message.author == Author::Customer
        && message.text.as_deref().is_some_and(worth_translating)
        && (message.body.is_none() || !message.attachments.is_empty())
}

/// Whether a customer's logged text is words: not empty, not a command (`/agent`), not a
/// press or refusal the log writes in brackets.
pub(crate) fn worth_translating(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty()
        && crate::core::dialog::Command::parse(text).is_none()
        && !(text.starts_with('[') && text.ends_with(']'))
}

/// The customer's typed messages among `entries`, in `target`: stored translations, or made
/// now and stored. `None` when the agent reads the ticket as it is.
pub(crate) async fn read_in(
    state: &ConsoleState,
    conversation: i64,
    entries: &[LogEntry],
    customer: Lang,
    target: Option<Lang>,
) -> Option<Reading> {
    let target = target?;
    let translation = state.translation.as_ref()?;
    let messages: Vec<MessageToTranslate> = entries
        .iter()
        .filter(|entry| typed_by_customer(entry))
        .map(|entry| MessageToTranslate {
            id: entry.id,
            text: entry.message.text.clone().unwrap_or_default(),
            source: customer,
        })
        .collect();
    let outcomes = translation.messages(&*state.store, conversation, &messages, target).await;
    Some(Reading { target, outcomes })
}

/// What the preview step shows: the agent's words and what the customer would get.
pub(crate) struct Preview {
    pub original: String,
    pub translation: String,
    /// The translation is a person's: a canned reply's version in the customer's language.
    pub human: bool,
    /// The provider failed: the agent writes or sends the text themselves.
    pub unavailable: bool,
}

/// The customer's version of `text` when it is a canned reply (any version of a set) whose set
/// has one in `target`.
fn human_translation(canned: &[CannedReply], text: &str, target: Lang) -> Option<String> {
    let text = text.trim();
    let set = canned.iter().find(|reply| reply.body.trim() == text)?.set_id;
    canned
        .iter()
        .find(|reply| reply.set_id == set && reply.lang == target.code())
        .map(|reply| reply.body.clone())
}

/// Translates an agent's reply from `source` into the customer's `target`: a canned reply's
/// human version if there is one, else the provider's.
pub(crate) async fn preview(
    state: &ConsoleState,
    text: &str,
    source: Lang,
    target: Lang,
) -> Result<Preview, crate::store::StoreError> {
    let canned = state.store.canned_replies(None).await?;
    if let Some(human) = human_translation(&canned, text, target) {
        return Ok(Preview {
            original: text.to_owned(),
            translation: human,
            human: true,
            unavailable: false,
        });
    }
    let translated = match &state.translation {
        Some(translation) => translation.text(text, source, target).await.ok(),
        None => None,
    };
    Ok(match translated {
        Some(translation) => {
            Preview { original: text.to_owned(), translation, human: false, unavailable: false }
        }
        None => Preview {
            original: text.to_owned(),
            translation: text.to_owned(),
            human: false,
            unavailable: true,
        },
    })
}

/// A canned reply set's version to offer, along `chain` (the most wanted language first), else
/// its first version.
pub(crate) fn pick_versions(canned: &[CannedReply], chain: &[Lang]) -> Vec<CannedReply> {
    let mut sets: Vec<i64> = canned.iter().map(|reply| reply.set_id).collect();
    sets.dedup();
    sets.into_iter()
        .filter_map(|set| {
            let versions: Vec<&CannedReply> = canned.iter().filter(|reply| reply.set_id == set).collect();
            chain
                .iter()
                .find_map(|lang| versions.iter().find(|reply| reply.lang == lang.code()))
                .or_else(|| versions.first())
                .map(|reply| (*reply).clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(id: i64, set_id: i64, lang: &str, body: &str) -> CannedReply {
        CannedReply { id, set_id, lang: lang.to_owned(), title: format!("t{id}"), body: body.to_owned() }
    }

    #[test]
    fn a_canned_reply_goes_out_in_the_customers_version_and_the_picker_follows_the_chain() {
        let canned = vec![
            reply(1, 1, "en", "Your refund is on its way."),
            reply(2, 1, "ru", "Деньги уже возвращаются."),
            reply(3, 1, "zh", "退款已经在路上了。"),
            reply(4, 4, "en", "We are checking."),
        ];
        assert_eq!(
            human_translation(&canned, " 退款已经在路上了。 ", Lang::Ru).as_deref(),
            Some("Деньги уже возвращаются.")
        );
        assert_eq!(human_translation(&canned, "We are checking.", Lang::Ru), None);
        assert_eq!(human_translation(&canned, "Something else", Lang::Ru), None);
        let picked = pick_versions(&canned, &[Lang::Zh, Lang::Ru, Lang::En]);
        assert_eq!(picked.iter().map(|reply| reply.id).collect::<Vec<_>>(), vec![3, 4]);
    }
}
