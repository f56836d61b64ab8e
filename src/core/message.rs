//! Channel-neutral outbound messages.
//!
//! The dialog never produces rendered text: it produces a [`Reply`], which is a Fluent message
//! key plus arguments plus buttons. Each channel renders a reply for the contact's language at
//! delivery time, so a translator's fix reaches messages that are still waiting in the outbox.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A language Switchboard speaks. Adding one means adding a variant here, a folder under
/// `locales/`, and an `intents.toml` for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Ru,
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Ru, Lang::Zh];

    /// The BCP 47 code used for folder names, Fluent bundles and the database.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Zh => "zh",
        }
    }

    /// Exact code lookup (`"ru"`). Region-aware negotiation (`ru-RU`, `zh-Hans`) lives in `i18n`.
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|lang| lang.code() == code)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A value passed to a Fluent message. Numbers stay numbers so plural rules can see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    Number(i64),
    Text(String),
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(value.to_owned())
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(value)
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Number(value)
    }
}

impl From<u32> for Arg {
    fn from(value: u32) -> Self {
        Arg::Number(i64::from(value))
    }
}

impl From<usize> for Arg {
    fn from(value: usize) -> Self {
        Arg::Number(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

/// A Fluent message key with its arguments: the unit of translatable text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Text {
    pub key: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<(String, Arg)>,
}

impl Text {
    pub fn new(key: &str) -> Self {
        Text { key: key.to_owned(), args: Vec::new() }
    }

    pub fn arg(mut self, name: &str, value: impl Into<Arg>) -> Self {
        self.args.push((name.to_owned(), value.into()));
        self
    }
}

/// What pressing a button means. Encoded into platform callback data with [`Action::encode`];
/// anything that does not decode (an old or forged button) is rejected by [`Action::decode`]
/// and the dialog answers politely instead of guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "value", rename_all = "snake_case")]
pub enum Action {
    Issue(IssueType),
    SkipPhoto,
    PhotosDone,
    Helped,
    NotHelped,
    Rate(u8),
    SkipComment,
    Language(Lang),
    Human,
    Menu,
    WithdrawRequest,
    /// One of two intents the bot could not choose between (see `core::faq::Intent`).
    Topic(crate::core::faq::Intent),
}

impl Action {
    /// A short, stable encoding: it must fit Telegram's 64-byte `callback_data` and VK's
    /// 255-byte payload, and stay valid across releases because old buttons live on in chats.
    pub fn encode(self) -> String {
        match self {
            Action::Issue(issue) => format!("i:{}", issue.code()),
            Action::SkipPhoto => "skip".to_owned(),
            Action::PhotosDone => "done".to_owned(),
            Action::Helped => "yes".to_owned(),
            Action::NotHelped => "no".to_owned(),
            Action::Rate(stars) => format!("r:{stars}"),
            Action::SkipComment => "nocomment".to_owned(),
            Action::Language(lang) => format!("l:{}", lang.code()),
            Action::Human => "human".to_owned(),
            Action::Menu => "menu".to_owned(),
            Action::WithdrawRequest => "withdraw".to_owned(),
            Action::Topic(intent) => format!("t:{}", intent.name()),
        }
    }

    pub fn decode(data: &str) -> Option<Action> {
        let action = match data {
            "skip" => Action::SkipPhoto,
            "done" => Action::PhotosDone,
            "yes" => Action::Helped,
            "no" => Action::NotHelped,
            "nocomment" => Action::SkipComment,
            "human" => Action::Human,
            "menu" => Action::Menu,
            "withdraw" => Action::WithdrawRequest,
            _ => {
                let (kind, value) = data.split_once(':')?;
                match kind {
                    "i" => Action::Issue(IssueType::from_code(value)?),
                    "l" => Action::Language(Lang::from_code(value)?),
                    "t" => Action::Topic(crate::core::faq::Intent::from_name(value)?),
                    "r" => {
                        let stars: u8 = value.parse().ok()?;
                        if !(1..=5).contains(&stars) || value.len() != 1 {
                            return None;
                        }
                        Action::Rate(stars)
                    }
                    _ => return None,
                }
            }
        };
        Some(action)
    }
}

/// The kinds of request a ticket can be. The menu offers the broad ones ([`IssueType::MENU`]);
/// the concrete order problems come from what a customer writes, or from the buttons offered
/// when they send an order number on its own ([`IssueType::ORDER_PROBLEMS`]), so an agent sees
/// "damaged item" rather than "problem with an order".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueType {
    Order,
    Payment,
    Account,
    Delivery,
    Return,
    Complaint,
    Other,
    Damaged,
    WrongItem,
    MissingItem,
    NotAsDescribed,
    LateDelivery,
    Courier,
    Cancellation,
}

impl IssueType {
    pub const ALL: [IssueType; 14] = [
        IssueType::Order,
        IssueType::Payment,
        IssueType::Account,
        IssueType::Delivery,
        IssueType::Return,
        IssueType::Complaint,
        IssueType::Other,
        IssueType::Damaged,
        IssueType::WrongItem,
        IssueType::MissingItem,
        IssueType::NotAsDescribed,
        IssueType::LateDelivery,
        IssueType::Courier,
        IssueType::Cancellation,
    ];

    /// What the main menu offers: the broad kinds, the first seven of [`IssueType::ALL`].
    pub const MENU: &[IssueType] = IssueType::ALL.split_at(7).0;

    /// What can be wrong with one order: offered when a customer sends just its number. Eight,
    /// so that with "talk to a person" they fit VK's inline keyboard (at most ten buttons); the
    /// rest ("not as described", payment) a customer types, or finds in the main menu.
    pub const ORDER_PROBLEMS: [IssueType; 8] = [
        IssueType::Delivery,
        IssueType::LateDelivery,
        IssueType::Damaged,
        IssueType::WrongItem,
        IssueType::MissingItem,
        IssueType::Return,
        IssueType::Cancellation,
        IssueType::Courier,
    ];

    pub fn code(self) -> &'static str {
        match self {
            IssueType::Order => "order",
            IssueType::Payment => "payment",
            IssueType::Account => "account",
            IssueType::Delivery => "delivery",
            IssueType::Return => "return",
            IssueType::Complaint => "complaint",
            IssueType::Other => "other",
            IssueType::Damaged => "damaged",
            IssueType::WrongItem => "wrong_item",
            IssueType::MissingItem => "missing_item",
            IssueType::NotAsDescribed => "not_as_described",
            IssueType::LateDelivery => "late_delivery",
            IssueType::Courier => "courier",
            IssueType::Cancellation => "cancellation",
        }
    }

    pub fn from_code(code: &str) -> Option<IssueType> {
        IssueType::ALL.into_iter().find(|issue| issue.code() == code)
    }

    /// Requests about a concrete order need its ID before anything else.
    pub fn needs_order_id(self) -> bool {
        !matches!(self, IssueType::Account | IssueType::Complaint | IssueType::Other)
    }

    /// Whether the flow asks for photos, and whether the customer may skip them.
    pub fn photo_step(self) -> PhotoStep {
        match self {
            // A damaged or wrong item cannot be judged without a picture of it.
            IssueType::Order | IssueType::Damaged | IssueType::WrongItem => PhotoStep::Required,
            IssueType::Payment
            | IssueType::Delivery
            | IssueType::Return
            | IssueType::MissingItem
            | IssueType::NotAsDescribed => PhotoStep::Optional,
            IssueType::Account
            | IssueType::Complaint
            | IssueType::Other
            | IssueType::LateDelivery
            | IssueType::Courier
            | IssueType::Cancellation => PhotoStep::None,
        }
    }

    /// Whether a photo shows the problem itself, so it is asked for even when the customer
    /// has already described it (a missing part, yes; a late parcel, no).
    pub fn photos_show_the_item(self) -> bool {
        matches!(
            self,
            IssueType::Order
                | IssueType::Damaged
                | IssueType::WrongItem
                | IssueType::MissingItem
                | IssueType::NotAsDescribed
                | IssueType::Return
        )
    }

    /// Complaints go to humans first; everything else waits its turn.
    pub fn priority(self) -> Priority {
        match self {
            IssueType::Complaint => Priority::High,
            _ => Priority::Normal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoStep {
    None,
    Optional,
    Required,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Low trust: an anonymous visitor who asked for a person and said nothing else. Waits
    /// behind everyone who did, so a script opening chats cannot push real customers back.
    Low,
    Normal,
    High,
}

impl Priority {
    pub fn code(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }

    pub fn from_code(code: &str) -> Option<Priority> {
        match code {
            "low" => Some(Priority::Low),
            "normal" => Some(Priority::Normal),
            "high" => Some(Priority::High),
            _ => None,
        }
    }
}

/// A button: a translatable label and what pressing it means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub label: Text,
    pub action: Action,
}

impl Button {
    pub fn new(label_key: &str, action: Action) -> Self {
        Button { label: Text::new(label_key), action }
    }
}

/// A stored image, addressed by the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    pub sha256: String,
    pub content_type: String,
    pub bytes: u64,
}

/// One message from the bot: text, optional buttons (rows of buttons), optional images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub text: Text,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Vec<Button>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<MediaRef>,
    /// Further paragraphs after `text`, in order: a channel that answers a letter with one
    /// letter (email) gets everything the dialog says in one reply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<Text>,
}

impl Reply {
    pub fn new(key: &str) -> Self {
        Reply { text: Text::new(key), buttons: Vec::new(), attachments: Vec::new(), more: Vec::new() }
    }

    /// Joins several replies into one: the first's text, then every other text as a further
    /// paragraph, and the attachments of all of them, in order. The buttons are those of the
    /// last reply that has any: that reply asks what the customer answers next, and earlier
    /// buttons (a menu before "a photo is needed") would offer a step the turn has moved past.
    /// These are also the buttons `choices::offered` numbers for the separate replies, so a
    /// number means the same whether a turn was joined or not. `None` for no replies.
    pub fn joined(replies: Vec<Reply>) -> Option<Reply> {
        let mut replies = replies.into_iter();
        let mut first = replies.next()?;
        for reply in replies {
            first.more.push(reply.text);
            first.more.extend(reply.more);
            if !reply.buttons.is_empty() {
                first.buttons = reply.buttons;
            }
            first.attachments.extend(reply.attachments);
        }
        Some(first)
    }

    /// Every text of the reply: `text`, then `more`.
    pub fn texts(&self) -> impl Iterator<Item = &Text> {
        std::iter::once(&self.text).chain(&self.more)
    }

    pub fn arg(mut self, name: &str, value: impl Into<Arg>) -> Self {
        self.text = self.text.arg(name, value);
        self
    }

    /// Adds one row of buttons.
    pub fn row(mut self, buttons: Vec<Button>) -> Self {
        if !buttons.is_empty() {
            self.buttons.push(buttons);
        }
        self
    }

    pub fn key(&self) -> &str {
        &self.text.key
    }

    /// Every button, row by row.
    pub fn all_buttons(&self) -> impl Iterator<Item = &Button> {
        self.buttons.iter().flatten()
    }
}

/// What goes out to a customer: a bot reply (rendered per language by the channel) or an
/// agent's own words (never translated, never interpreted as markup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outbound {
    Bot(Reply),
    Agent {
        agent: String,
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<MediaRef>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_and_fits_telegram_callback_data() {
        let mut actions = vec![
            Action::SkipPhoto,
            Action::PhotosDone,
            Action::Helped,
            Action::NotHelped,
            Action::SkipComment,
            Action::Human,
            Action::Menu,
            Action::WithdrawRequest,
        ];
        actions.extend(IssueType::ALL.map(Action::Issue));
        actions.extend(Lang::ALL.map(Action::Language));
        actions.extend((1..=5).map(Action::Rate));
        actions.extend(crate::core::faq::Intent::ALL.map(Action::Topic));
        for action in actions {
            let data = action.encode();
            assert!(data.len() <= 64, "{data} is longer than Telegram allows");
            assert_eq!(Action::decode(&data), Some(action), "{data}");
        }
    }

    #[test]
    fn forged_or_stale_button_data_is_rejected() {
        for data in [
            "",
            "r:0",
            "r:6",
            "r:05",
            "r:-1",
            "r:99999999999",
            "i:pizza",
            "l:de",
            "t:pizza",
            "t:",
            "x:1",
            "yes ",
            "i:",
            ":",
            "r",
        ] {
            assert_eq!(Action::decode(data), None, "{data:?} should not decode");
        }
    }
}
