//! `switchboard faq eval --messages`: how well the bot reads whole first messages.
//!
//! A table (tab-separated, header line first) holds one message a row with what a careful
//! person reads in it. Columns: `lang` and `text` (required), and any of `intent`, `issue`,
//! `order_id`, `email`, `phone`, `amount`, `date`; an empty cell means "none expected", a
//! missing column is not scored. Values use the normal forms of `core::entities`; `issue` is
//! the issue code the message starts from the menu (empty when it starts none). Each message is
//! read exactly as the dialog reads it: `core::understanding` for the intent and entities, and
//! one `core::dialog::step` from the menu for the issue.

use crate::core::dialog::{self, Ctx, Effect, Input, QueueSnapshot, State};
use crate::core::faq::{Classifier, Intent};
use crate::core::message::{IssueType, Lang};
use crate::core::understanding::{Understanding, understand};
use crate::order_format::RegexOrderIdFormat;
use anyhow::{Context, bail};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The fields a table may score, in the order they are printed.
const FIELDS: [&str; 7] = ["intent", "issue", "order_id", "email", "phone", "amount", "date"];

/// One row of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub lang: Lang,
    pub text: String,
    /// Field name -> expected value ("" for none); only the table's columns.
    pub expected: BTreeMap<&'static str, String>,
}

/// Reads a table; rows with an unknown language or too few cells are errors, naming the line.
pub fn read_table(path: &Path) -> anyhow::Result<Vec<Message>> {
    let contents =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_table(&contents).with_context(|| format!("in {}", path.display()))
}

fn parse_table(contents: &str) -> anyhow::Result<Vec<Message>> {
    let mut lines = contents.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
    let (_, header) = lines.next().context("the table is empty")?;
    let columns: Vec<&str> = header.split('\t').map(str::trim).collect();
    let position = |name: &str| columns.iter().position(|column| *column == name);
    let lang_column = position("lang").context("the header has no `lang` column")?;
    let text_column = position("text").context("the header has no `text` column")?;
    let scored: Vec<(&'static str, usize)> =
        FIELDS.iter().filter_map(|field| position(field).map(|at| (*field, at))).collect();
    let mut messages = Vec::new();
    for (number, line) in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        let cell = |at: usize| cells.get(at).map(|cell| cell.trim()).unwrap_or("");
        let Some(lang) = Lang::from_code(cell(lang_column)) else {
            bail!("line {}: unknown language `{}`", number + 1, cell(lang_column));
        };
        if cell(text_column).is_empty() {
            bail!("line {}: the text is empty", number + 1);
        }
        let expected = scored.iter().map(|&(field, at)| (field, cell(at).to_owned())).collect();
        messages.push(Message { lang, text: cell(text_column).to_owned(), expected });
    }
    Ok(messages)
}

/// What the bot read in one message, as the table writes it.
fn read_message(
    message: &Message,
    understanding: &Understanding,
    classifier: &Classifier,
    orders: &RegexOrderIdFormat,
) -> BTreeMap<&'static str, String> {
    let first = |values: Vec<String>| values.into_iter().next().unwrap_or_default();
    let entities = &understanding.entities;
    BTreeMap::from([
        ("intent", understanding.intent.map_or("none", |found| found.intent.name()).to_owned()),
        (
            "issue",
            first_issue(message, classifier, orders).map(|issue| issue.code().to_owned()).unwrap_or_default(),
        ),
        ("order_id", first(entities.order_ids.iter().map(|id| id.as_str().to_owned()).collect())),
        ("email", first(entities.emails.clone())),
        ("phone", first(entities.phones.clone())),
        ("amount", first(entities.amounts.iter().map(ToString::to_string).collect())),
        ("date", first(entities.dates.iter().map(ToString::to_string).collect())),
    ])
}

/// The issue the dialog starts when this message is the first thing a customer writes.
fn first_issue(message: &Message, classifier: &Classifier, orders: &RegexOrderIdFormat) -> Option<IssueType> {
    let ctx = Ctx {
        lang: message.lang,
        language_chosen: false,
        order_ids: orders,
        faq: classifier,
        queue: QueueSnapshot::default(),
        anonymous: false,
        orders: Default::default(),
    };
    let transition = dialog::step(State::Menu, Input::Text { text: message.text.clone() }, &ctx);
    let from_effects = transition.effects.iter().find_map(|effect| match effect {
        Effect::OpenTicket { draft, .. } => Some(draft.issue),
        _ => None,
    });
    from_effects.or(match transition.state {
        State::AwaitingOrderId { issue, .. }
        | State::AwaitingPhotos { issue, .. }
        | State::AwaitingDescription { issue, .. } => Some(issue),
        State::SuggestionOffered { draft, .. } => Some(draft.issue),
        _ => None,
    })
}

/// Per language and field: (scored, right).
#[derive(Debug, Default)]
pub struct Scores {
    cells: BTreeMap<(Lang, &'static str), (usize, usize)>,
    messages: BTreeMap<Lang, usize>,
    /// Messages the dialog answered by asking which of two intents was meant, and how many of
    /// those offered the expected one.
    asked: BTreeMap<Lang, (usize, usize)>,
    /// (lang, field, text, expected, got) for every wrong cell.
    pub mistakes: Vec<(Lang, &'static str, String, String, String)>,
    /// Messages that also stand in the training phrases (they prove nothing).
    pub also_trained: usize,
}

impl Scores {
    /// The share of right cells for one field over all languages, if the field was scored.
    pub fn accuracy(&self, field: &str) -> Option<f64> {
        let (scored, right) = self
            .cells
            .iter()
            .filter(|((_, name), _)| *name == field)
            .fold((0, 0), |(scored, right), (_, (s, r))| (scored + s, right + r));
        (scored > 0).then(|| right as f64 / scored as f64)
    }

    pub fn render(&self) -> String {
        let mut out = format!("{:<6} {:>8}", "lang", "messages");
        for field in FIELDS {
            out += &format!(" {field:>9}");
        }
        out += &format!(" {:>14}\n", "asked (right)");
        let total_row = |label: &str, langs: &[Lang]| {
            let messages: usize =
                langs.iter().map(|lang| self.messages.get(lang).copied().unwrap_or(0)).sum();
            let mut row = format!("{label:<6} {messages:>8}");
            for field in FIELDS {
                let (scored, right) = langs
                    .iter()
                    .filter_map(|lang| self.cells.get(&(*lang, field)))
                    .fold((0, 0), |(s, r), (scored, right)| (s + scored, r + right));
                row += &if scored == 0 {
                    format!(" {:>9}", "-")
                } else {
                    format!(" {:>8.1}%", right as f64 * 100.0 / scored as f64)
                };
            }
            let (asked, right) = langs
                .iter()
                .filter_map(|lang| self.asked.get(lang))
                .fold((0, 0), |(a, r), (asked, right)| (a + asked, r + right));
            row += &format!(" {:>14}\n", format!("{asked} ({right})"));
            row
        };
        let langs: Vec<Lang> = self.messages.keys().copied().collect();
        for lang in &langs {
            out += &total_row(lang.code(), &[*lang]);
        }
        if langs.len() > 1 {
            out += &total_row("all", &langs);
        }
        out += &format!(
            "\nA cell is right when the first value found equals the expected one (empty = none).\n\
             `asked`: messages where two intents were equally likely and the bot asked which; in\n\
             brackets, how often the expected intent was one of the two (they count as wrong above).\n\
             messages also found in the training phrases: {}\n",
            self.also_trained
        );
        out
    }
}

/// Scores every message; `trained` holds the training phrases, lower-cased, to flag overlaps.
pub fn score(
    messages: &[Message],
    classifier: &Classifier,
    orders: &RegexOrderIdFormat,
    trained: &HashSet<String>,
) -> Scores {
    let mut scores = Scores::default();
    for message in messages {
        *scores.messages.entry(message.lang).or_default() += 1;
        if trained.contains(&message.text.trim().to_lowercase()) {
            scores.also_trained += 1;
        }
        let understanding = understand(&message.text, message.lang, orders, classifier);
        let got = read_message(message, &understanding, classifier, orders);
        for (field, expected) in &message.expected {
            let value = got.get(field).cloned().unwrap_or_default();
            let cell = scores.cells.entry((message.lang, field)).or_default();
            cell.0 += 1;
            if *expected == value {
                cell.1 += 1;
            } else {
                scores.mistakes.push((message.lang, field, message.text.clone(), expected.clone(), value));
            }
        }
        if let Some(options) = understanding.close_call {
            let asked = scores.asked.entry(message.lang).or_default();
            asked.0 += 1;
            let expected = message.expected.get("intent").and_then(|name| Intent::from_name(name));
            if expected.is_some_and(|intent| options.contains(&intent)) {
                asked.1 += 1;
            }
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::faq::Example;

    fn classifier() -> Classifier {
        let rows = [
            (Intent::TrackOrder, "where is my parcel"),
            (Intent::TrackOrder, "track my order"),
            (Intent::DamagedItem, "the item arrived broken"),
            (Intent::DamagedItem, "my parcel came damaged"),
            (Intent::Greeting, "hello"),
            (Intent::Greeting, "hi there"),
        ];
        let examples: Vec<Example> = rows
            .iter()
            .map(|(intent, text)| Example { lang: Lang::En, intent: *intent, text: (*text).into() })
            .collect();
        Classifier::train(&examples)
    }

    #[test]
    fn a_table_is_read_by_its_header_and_scored_per_field() {
        let table = "lang\ttext\tintent\tissue\torder_id\tamount\n\
                     en\tmy order 12345678-0001 arrived broken\tdamaged_item\tdamaged\t12345678-0001\t\n\
                     en\thello\tgreeting\t\t\t\n\
                     en\tpaid $20, where is my parcel\ttrack_order\tdelivery\t\t20 USD\n\
                     en\t12345678-0002\tnone\t\t12345678-0002\t\n";
        let messages = parse_table(table).unwrap();
        assert_eq!(messages.len(), 4);
        assert_eq!(messages[0].expected.len(), 4, "only the table's columns are scored");
        let trained = HashSet::from(["hello".to_owned()]);
        let scores = score(&messages, &classifier(), &RegexOrderIdFormat::default(), &trained);
        assert_eq!(scores.also_trained, 1);
        assert_eq!(scores.accuracy("order_id"), Some(1.0));
        assert_eq!(scores.accuracy("amount"), Some(1.0));
        assert_eq!(scores.accuracy("email"), None);
        assert!(scores.accuracy("intent").is_some());
        let rendered = scores.render();
        assert!(rendered.starts_with("lang"), "{rendered}");
        assert!(rendered.contains("\nen "), "{rendered}");
    }

    #[test]
    fn broken_tables_name_the_problem() {
        let no_text = parse_table("lang\tintent\nen\tgreeting\n").unwrap_err();
        assert!(no_text.to_string().contains("`text`"), "{no_text}");
        let bad_lang = parse_table("lang\ttext\nde\thallo\n").unwrap_err();
        assert!(bad_lang.to_string().contains("line 2"), "{bad_lang}");
    }
}
