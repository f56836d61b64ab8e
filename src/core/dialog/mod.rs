//! The support dialog as a pure state machine.
//!
//! [`step`] takes the stored [`State`], one [`Input`] and a [`Ctx`] with everything it may
//! consult, and returns a [`Transition`]: the next state, the replies to send (as message keys)
//! and the effects for the engine to carry out in the same transaction. It never sends,
//! stores, reads the clock or draws random numbers, so every behaviour is a transcript test.

mod orders;
mod email;
mod reading;

pub use email::Letter;

use crate::core::faq::{FaqAction, Intent, IntentClassifier};
use crate::core::keys;
use crate::core::message::{Action, Button, IssueType, Lang, MediaRef, PhotoStep, Priority, Reply};
use crate::core::order::{LookupOutcome, LookupPurpose, Verifier, VerifierKind};
use crate::core::order_id::{OrderId, OrderIdFormat};
use reading::Reading;
use serde::{Deserialize, Serialize};

/// The longest customer text the dialog accepts; longer messages are refused, not truncated,
/// so nothing a customer wrote is silently cut.
pub const MAX_TEXT_CHARS: usize = 4000;
/// The most photos one request collects.
pub const MAX_PHOTOS: usize = 10;
/// The most a request's collected words (`note`) hold: three whole messages.
pub const MAX_NOTE_CHARS: usize = 3 * MAX_TEXT_CHARS;

/// Where a conversation stands. Each variant carries what the flow has collected so far, so a
/// restart resumes exactly where the customer left off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum State {
    /// Idle: the menu is on offer and free text goes to the FAQ classifier.
    #[default]
    Menu,
    /// Like [`State::Menu`], after a message the bot did not understand: one more, and it
    /// offers a person instead of saying so again.
    NotUnderstood,
    /// The customer sent an order number without saying what is wrong: which problem is it?
    ChoosingIssue {
        order_id: OrderId,
        /// The customer's words so far; they reach the ticket.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// The question was already asked again after a message the bot did not understand:
        /// the next such message brings the offer of a person instead.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        missed: bool,
    },
    /// Two intents were equally likely: the customer picks one, and the dialog goes on as if
    /// the question had been clear.
    Clarifying {
        options: [Intent; 2],
        question: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<OrderId>,
    },
    AwaitingOrderId {
        issue: IssueType,
        /// What the customer already wrote about the problem: it becomes the description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// With an order source: what the number is looked up for once it comes (tracking a
        /// refund is a `Return` whose lookup answers with the refund).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lookup: Option<LookupPurpose>,
    },
    /// The order source is being asked (`Effect::LookupOrder`); its answer comes as
    /// `Input::OrderLooked`.
    LookingUpOrder {
        purpose: LookupPurpose,
        issue: IssueType,
        /// `None`: a signed-in customer's latest order.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<OrderId>,
        /// The customer proved ownership with an email or phone number in this lookup.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        verifier_given: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The store shows this order only to whoever knows its email or phone number.
    AwaitingVerifier {
        purpose: LookupPurpose,
        issue: IssueType,
        order_id: OrderId,
        kind: VerifierKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The order's status was told (or the store could not be asked): "did this help?", and a
    /// person is one button away, with the order on the ticket.
    OrderAnswered {
        issue: IssueType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<OrderId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    AwaitingPhotos {
        issue: IssueType,
        order_id: Option<OrderId>,
        photos: Vec<MediaRef>,
        /// A caption sent with a photo, used as the description when the photos are done.
        caption: Option<String>,
    },
    AwaitingDescription {
        issue: IssueType,
        order_id: Option<OrderId>,
        photos: Vec<MediaRef>,
        /// Words the customer wrote before being asked, put in front of the description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The flow is complete and an FAQ answer was suggested; waiting for "did this help?".
    SuggestionOffered {
        draft: TicketDraft,
        intent: Intent,
    },
    /// A free-text question was answered from the FAQ; waiting for "did this help?".
    FaqAnswered {
        intent: Intent,
        question: String,
        /// An order number the question named, kept for the ticket if the answer did not help.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<OrderId>,
    },
    AwaitingFeedback,
    /// A ticket waits for an agent. `acknowledged` is set once the customer has been told that
    /// their further messages reach the ticket, so they are told only once.
    Queued {
        acknowledged: bool,
    },
    /// An agent owns the conversation; the bot stays silent.
    Assigned {
        agent: String,
    },
    AwaitingRating,
    AwaitingComment {
        stars: u8,
    },
}

/// What a finished flow hands to humans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketDraft {
    pub issue: IssueType,
    pub order_id: Option<OrderId>,
    pub photos: Vec<MediaRef>,
    pub description: Option<String>,
    pub priority: Priority,
}

/// How a ticket is born.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketOutcome {
    /// Waiting for a human.
    Queued,
    /// The suggested answer solved it; recorded for the self-service statistics.
    SelfServed,
}

/// Content the dialog cannot use, named so the reply can say what was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    Sticker,
    Voice,
    Audio,
    Video,
    Document,
    Location,
    Contact,
    Poll,
    Other,
}

impl ContentKind {
    pub fn code(self) -> &'static str {
        match self {
            ContentKind::Sticker => "sticker",
            ContentKind::Voice => "voice",
            ContentKind::Audio => "audio",
            ContentKind::Video => "video",
            ContentKind::Document => "document",
            ContentKind::Location => "location",
            ContentKind::Contact => "contact",
            ContentKind::Poll => "poll",
            ContentKind::Other => "other",
        }
    }
}

/// Why an image the customer sent was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoProblem {
    TooLarge {
        limit_mb: u32,
    },
    NotAnImage,
    /// The photo was fine but could not be kept now (the server is short of disk space).
    Unavailable,
}

/// One thing that happened to a conversation: from the customer, or from the support side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    /// A text message; commands (`/start`) are recognised by the dialog itself.
    Text {
        text: String,
    },
    /// A button press that decoded to a known action.
    Button {
        action: Action,
    },
    /// Callback data that did not decode: an old keyboard or a forged press.
    StaleButton,
    /// An image the channel downloaded and stored.
    Photo {
        media: MediaRef,
        caption: Option<String>,
    },
    /// An image the channel refused to store.
    PhotoRejected {
        problem: PhotoProblem,
    },
    Unsupported {
        kind: ContentKind,
    },
    /// An agent claimed the ticket (or it was transferred to them).
    TicketAssigned {
        agent: String,
    },
    /// The ticket went back to the queue without an agent.
    TicketReleased,
    /// An agent resolved the ticket.
    TicketResolved,
    /// An agent reopened a resolved ticket and owns it again.
    TicketReopened {
        agent: String,
    },
    /// Nobody claimed the ticket within the configured time: tell the customer where they stand.
    QueueReminder,
    /// The order source answered a lookup the dialog asked for (`Effect::LookupOrder`). Only
    /// the engine produces it, from a stored lookup request.
    OrderLooked {
        purpose: LookupPurpose,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_ref: Option<String>,
        outcome: LookupOutcome,
    },
    /// A whole letter (email): its words, photos and the rest, answered with one letter.
    Email(Box<Letter>),
}

/// The global commands, available at every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Start,
    Menu,
    Cancel,
    Help,
    Language,
    Agent,
    Unknown,
}

impl Command {
    /// Recognises `/start`, `/start@SomeBot`, `/start deep-link-payload`, any case.
    pub fn parse(text: &str) -> Option<Command> {
        let word = text.trim().strip_prefix('/')?.split_whitespace().next().unwrap_or("");
        let name = word.split('@').next().unwrap_or("").to_ascii_lowercase();
        Some(match name.as_str() {
            "start" => Command::Start,
            "menu" => Command::Menu,
            "cancel" => Command::Cancel,
            "help" => Command::Help,
            "language" | "lang" => Command::Language,
            "agent" | "human" | "operator" => Command::Agent,
            _ => Command::Unknown,
        })
    }
}

/// The queue as it is when the step runs, looked up by the engine.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueSnapshot {
    /// Tickets waiting ahead of this conversation's (or ahead of a new one).
    pub ahead: u32,
    /// Typical wait in minutes, when there is enough history to say.
    pub expected_wait_minutes: Option<u32>,
    /// `Some(time)` outside business hours: when agents are back, already formatted for display.
    pub agents_back_at: Option<String>,
}

/// What a step may consult besides the state and the input.
#[derive(Clone)]
pub struct Ctx<'a> {
    /// The conversation's current language.
    pub lang: Lang,
    /// Whether the customer picked the language explicitly (then it is never switched for them).
    pub language_chosen: bool,
    pub order_ids: &'a dyn OrderIdFormat,
    pub faq: &'a dyn IntentClassifier,
    pub queue: QueueSnapshot,
    /// The customer writes on a channel anyone can use without an account (the web chat).
    pub anonymous: bool,
    /// Whether order numbers can be looked up, and for this customer how.
    pub orders: OrderAccess,
}

/// What the dialog may do with order numbers (see `crate::orders`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderAccess {
    /// An order source is configured.
    pub enabled: bool,
    /// The contact is linked to a customer the store vouched for: "my order" needs no number
    /// and no verifier.
    pub linked: bool,
    /// Failed lookups this contact may still make this hour
    /// (`core::order::FAILED_LOOKUPS_PER_HOUR`); at 0 the dialog offers a person instead.
    pub tries_left: u32,
}

/// What the engine carries out, in the same transaction as the state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Create this conversation's ticket. At most one ticket per conversation is open.
    OpenTicket {
        draft: TicketDraft,
        outcome: TicketOutcome,
    },
    /// Add a photo to the conversation's open ticket.
    AttachToTicket {
        media: MediaRef,
    },
    /// The customer no longer needs the open ticket.
    WithdrawTicket,
    /// Rate the conversation's most recently resolved ticket.
    RateTicket {
        stars: u8,
    },
    CommentTicket {
        comment: String,
    },
    /// Speak this language from now on. `chosen` when the customer asked for it (a button, or
    /// "speak English"): then the bot never switches away from it by itself.
    SetLanguage {
        lang: Lang,
        #[serde(default)]
        chosen: bool,
    },
    /// A free-text FAQ answer was given; `helped` is the customer's verdict.
    FaqOutcome {
        intent: Intent,
        helped: bool,
    },
    Feedback {
        text: String,
    },
    /// Ask the order source about this order, outside the transaction; the answer comes back
    /// as `Input::OrderLooked`. `order_ref: None` asks for a linked customer's latest order.
    LookupOrder {
        purpose: LookupPurpose,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_ref: Option<OrderId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verifier: Option<Verifier>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub state: State,
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
}

impl Transition {
    fn stay(state: State) -> Self {
        Transition { state, replies: Vec::new(), effects: Vec::new() }
    }

    fn to(state: State) -> Self {
        Transition::stay(state)
    }

    fn reply(mut self, reply: Reply) -> Self {
        self.replies.push(reply);
        self
    }

    fn effect(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    /// The language replies are rendered in: a language change in this step wins.
    pub fn language(&self, current: Lang) -> Lang {
        self.effects
            .iter()
            .rev()
            .find_map(|effect| match effect {
                Effect::SetLanguage { lang, .. } => Some(*lang),
                _ => None,
            })
            .unwrap_or(current)
    }
}

/// Runs one input through the dialog.
pub fn step(state: State, input: Input, ctx: &Ctx<'_>) -> Transition {
    match input {
        Input::Text { text } => on_text(state, text, ctx),
        Input::Button { action } => on_button(state, action, ctx),
        Input::StaleButton => {
            let prompt = prompt(&state, ctx);
            Transition::stay(state).reply(Reply::new(keys::STALE_BUTTON)).reply(prompt)
        }
        Input::Photo { media, caption } => on_photo(state, media, caption, ctx),
        Input::PhotoRejected { problem } => refuse(state, photo_refusal(problem), ctx),
        Input::Email(letter) => email::on_letter(state, *letter, ctx),
        Input::Unsupported { kind } => {
            refuse(state, Reply::new(keys::UNSUPPORTED_CONTENT).arg("kind", kind.code()), ctx)
        }
        Input::TicketAssigned { agent } => {
            let joined = about_agent(keys::AGENT_JOINED, keys::AGENT_JOINED_UNNAMED, &agent);
            Transition::to(State::Assigned { agent }).reply(joined)
        }
        Input::TicketReleased => Transition::to(State::Queued { acknowledged: false })
            .reply(Reply::new(keys::RETURNED_TO_QUEUE).arg("position", ctx.queue.ahead + 1)),
        Input::TicketReopened { agent } => {
            let reopened = about_agent(keys::TICKET_REOPENED, keys::TICKET_REOPENED_UNNAMED, &agent);
            Transition::to(State::Assigned { agent }).reply(reopened)
        }
        Input::TicketResolved => Transition::to(State::AwaitingRating).reply(rating_prompt()),
        Input::OrderLooked { purpose, order_ref, outcome } => {
            orders::on_looked(state, purpose, order_ref, outcome, ctx)
        }
        Input::QueueReminder => match state {
            State::Queued { .. } => {
                let update = queue_reply(&ctx.queue, keys::QUEUE_UPDATE, keys::QUEUE_UPDATE_AFTER_HOURS);
                Transition::stay(state).reply(update)
            }
            other => Transition::stay(other),
        },
    }
}

/// What the customer is told about an image that was not stored.
fn photo_refusal(problem: PhotoProblem) -> Reply {
    match problem {
        PhotoProblem::TooLarge { limit_mb } => Reply::new(keys::PHOTO_TOO_LARGE).arg("limit_mb", limit_mb),
        PhotoProblem::NotAnImage => Reply::new(keys::PHOTO_NOT_AN_IMAGE),
        PhotoProblem::Unavailable => Reply::new(keys::PHOTO_UNAVAILABLE),
    }
}

/// Refuses an input without changing anything. While an agent owns the conversation the bot
/// does not re-prompt (there is nothing to prompt for), but still says what went wrong.
fn refuse(state: State, refusal: Reply, ctx: &Ctx<'_>) -> Transition {
    let transition = Transition::stay(state.clone()).reply(refusal);
    match state {
        State::Assigned { .. } | State::Queued { .. } => transition,
        _ => transition.reply(prompt(&state, ctx)),
    }
}

fn on_text(state: State, text: String, ctx: &Ctx<'_>) -> Transition {
    let trimmed = text.trim();
    if let Some(command) = Command::parse(trimmed) {
        return on_command(state, command, ctx);
    }
    if trimmed.is_empty() {
        return refuse(state, Reply::new(keys::EMPTY_MESSAGE), ctx);
    }
    if trimmed.chars().count() > MAX_TEXT_CHARS {
        return refuse(state, Reply::new(keys::TEXT_TOO_LONG).arg("limit", MAX_TEXT_CHARS), ctx);
    }
    let trimmed = trimmed.to_owned();

    // A customer who writes in another script than the conversation's language is answered in
    // theirs, unless they picked a language themselves.
    let mut switched = None;
    let mut ctx_lang = ctx.lang;
    if !ctx.language_chosen
        && let Some(lang) = crate::core::faq::script_language(&trimmed)
        && lang != ctx.lang
    {
        switched = Some(lang);
        ctx_lang = lang;
    }
    // "speak English", "по-китайски", "说俄语": honoured in whatever language it is asked,
    // except while an agent owns the conversation (then it is a question for the agent).
    if !matches!(state, State::Assigned { .. })
        && let Some(lang) = reading::asks_for_language(&trimmed)
    {
        let set = Transition::stay(state.clone())
            .effect(Effect::SetLanguage { lang, chosen: true })
            .reply(Reply::new(keys::LANGUAGE_SET));
        return match state {
            State::Queued { .. } => set,
            _ => set.reply(prompt(&state, ctx)),
        };
    }
    let local_ctx = Ctx { lang: ctx_lang, ..ctx.clone() };
    let mut transition = on_plain_text(state, trimmed, &local_ctx);
    if let Some(lang) = switched {
        transition.effects.insert(0, Effect::SetLanguage { lang, chosen: false });
    }
    transition
}

fn on_plain_text(state: State, text: String, ctx: &Ctx<'_>) -> Transition {
    match state {
        State::Menu | State::FaqAnswered { .. } | State::Clarifying { .. } => free_text(text, false, ctx),
        State::NotUnderstood => free_text(text, true, ctx),
        State::ChoosingIssue { order_id, note, missed } => {
            choosing_issue_text(order_id, note, missed, text, ctx)
        }
        State::AwaitingOrderId { issue, note, lookup } => order_id_text(issue, note, lookup, text, ctx),
        State::LookingUpOrder { .. } | State::AwaitingVerifier { .. } | State::OrderAnswered { .. } => {
            orders::on_text(state, text, ctx)
        }
        State::AwaitingPhotos { issue, order_id, photos, caption } => {
            photos_text(issue, order_id, photos, caption, text, ctx)
        }
        State::AwaitingDescription { issue, order_id, photos, note } => {
            let reading = Reading::of(&text, ctx);
            if reading.asks_for_person_in_few_words() {
                return handoff(draft(issue, order_id, photos, note), ctx);
            }
            if reading.only_order_number() {
                let state = State::AwaitingDescription { issue, order_id, photos, note };
                return replace_order_id(state, reading.order_id(), ctx);
            }
            finish_flow(draft(issue, order_id, photos, Some(join_note(note, text))), ctx)
        }
        State::SuggestionOffered { .. } => {
            let prompt = helpfulness_prompt();
            Transition::stay(state).reply(prompt)
        }
        State::AwaitingFeedback => Transition::to(State::Menu)
            .effect(Effect::Feedback { text })
            .reply(Reply::new(keys::THANKS_FOR_FEEDBACK))
            .reply(menu()),
        State::Queued { acknowledged } => {
            let reading = Reading::of(&text, ctx);
            if reading.wants_person() || reading.intent() == Some(Intent::RequestStatus) {
                // "Any news?", "operator!": the answer is where they stand in the queue.
                let update = queue_reply(&ctx.queue, keys::QUEUE_UPDATE, keys::QUEUE_UPDATE_AFTER_HOURS);
                return Transition::to(State::Queued { acknowledged: true }).reply(update);
            }
            if acknowledged {
                Transition::stay(State::Queued { acknowledged })
            } else {
                Transition::to(State::Queued { acknowledged: true })
                    .reply(Reply::new(keys::QUEUED_MESSAGE_ADDED))
            }
        }
        // The agent reads the message from the log; the bot keeps out of the way.
        State::Assigned { .. } => Transition::stay(state),
        State::AwaitingRating => match parse_stars(&text) {
            Some(stars) => rate(stars),
            None => Transition::stay(State::AwaitingRating)
                .reply(Reply::new(keys::RATING_INVALID))
                .reply(rating_prompt()),
        },
        State::AwaitingComment { .. } => Transition::to(State::Menu)
            .effect(Effect::CommentTicket { comment: text })
            .reply(Reply::new(keys::THANKS_FOR_RATING))
            .reply(menu()),
    }
}

/// Text while the dialog waits for an order number.
fn order_id_text(
    issue: IssueType,
    note: Option<String>,
    lookup: Option<LookupPurpose>,
    text: String,
    ctx: &Ctx<'_>,
) -> Transition {
    let reading = Reading::of(&text, ctx);
    if reading.wants_person() {
        return handoff(draft(issue, None, Vec::new(), note), ctx);
    }
    if let Some(order_id) = reading.order_id() {
        // "it's 12345678-0001, the box was crushed": the number, and the words for the ticket.
        let note = if reading.only_order_number() { note } else { Some(join_note(note, text)) };
        if ctx.orders.enabled {
            let purpose = lookup.unwrap_or_else(|| orders::purpose_of(issue));
            return orders::look_up(purpose, issue, Some(order_id), None, note, ctx);
        }
        return after_order_id(issue, order_id, note, ctx);
    }
    let state = State::AwaitingOrderId { issue, note, lookup };
    if let Some(answered) = answer_in_passing(&state, &reading, ctx) {
        return answered;
    }
    if let Some(FaqAction::StartFlow(other)) = reading.action()
        && other != issue
    {
        // "Actually it arrived broken": the customer changed the subject before the number.
        let State::AwaitingOrderId { note, .. } = state else { unreachable!("built above") };
        return open_flow(other, None, Some(join_note(note, text)), ctx);
    }
    Transition::stay(state).reply(
        Reply::new(keys::ORDER_ID_INVALID).arg("example", ctx.order_ids.example()).row(person_or_menu()),
    )
}

/// Text while the dialog waits for photos.
fn photos_text(
    issue: IssueType,
    order_id: Option<OrderId>,
    photos: Vec<MediaRef>,
    caption: Option<String>,
    text: String,
    ctx: &Ctx<'_>,
) -> Transition {
    let reading = Reading::of(&text, ctx);
    if reading.wants_person() {
        return handoff(draft(issue, order_id, photos, caption), ctx);
    }
    if reading.only_order_number() {
        let state = State::AwaitingPhotos { issue, order_id, photos, caption };
        return replace_order_id(state, reading.order_id(), ctx);
    }
    let state = State::AwaitingPhotos { issue, order_id, photos, caption };
    if let Some(answered) = answer_in_passing(&state, &reading, ctx) {
        return answered;
    }
    let State::AwaitingPhotos { issue, order_id, photos, caption } = state else {
        unreachable!("built above")
    };
    // With photos in hand, or where photos are optional, text moves the flow on: it is
    // the description. Customers rarely press "skip" before typing.
    if !photos.is_empty() || issue.photo_step() == PhotoStep::Optional {
        finish_flow(draft(issue, order_id, photos, Some(join_caption(caption, text))), ctx)
    } else {
        // The photo is still needed. The text stays in the conversation's log for the agent;
        // the description is asked for once the photos are in.
        let state = State::AwaitingPhotos { issue, order_id, photos, caption };
        Transition::stay(state).reply(Reply::new(keys::PHOTO_REQUIRED)).reply(photo_prompt(issue, 0))
    }
}

/// Text after the customer sent an order number on its own.
fn choosing_issue_text(
    order_id: OrderId,
    note: Option<String>,
    missed: bool,
    text: String,
    ctx: &Ctx<'_>,
) -> Transition {
    let reading = Reading::of(&text, ctx);
    let new_number = reading.order_id().is_some_and(|typed| typed != order_id);
    let order_id = reading.order_id().unwrap_or(order_id);
    if reading.wants_person() {
        return handoff(
            draft(IssueType::Other, Some(order_id), Vec::new(), Some(join_note(note, text))),
            ctx,
        );
    }
    if reading.only_order_number() {
        return choose_issue(order_id, note);
    }
    if let Some([first, second]) = reading.close_call() {
        return clarify(first, second, join_note(note, text), Some(order_id));
    }
    match reading.intent() {
        Some(intent) => on_intent(intent, join_note(note, text), Some(order_id), new_number, ctx),
        // A problem in the customer's own words that matches no type: a person reads it.
        None if reading::says_enough(&text, ctx) => {
            open_flow(IssueType::Other, Some(order_id), Some(join_note(note, text)), ctx)
        }
        None if missed => {
            Transition::stay(State::ChoosingIssue { order_id, note, missed }).reply(offer_person())
        }
        None => {
            let state = State::ChoosingIssue { order_id, note, missed: true };
            let again = choose_issue_prompt(&state);
            Transition::to(state).reply(Reply::new(keys::NOT_UNDERSTOOD_ORDER)).reply(again)
        }
    }
}

/// Free text outside a flow: a question, a whole problem in one message, an order number, a
/// greeting, or something the bot does not understand.
fn free_text(text: String, missed_before: bool, ctx: &Ctx<'_>) -> Transition {
    let reading = Reading::of(&text, ctx);
    let order_id = reading.order_id();
    if reading.wants_person() {
        return handoff(draft(IssueType::Other, order_id, Vec::new(), Some(text)), ctx);
    }
    if let Some([first, second]) = reading.close_call() {
        return clarify(first, second, text, order_id);
    }
    match (reading.intent(), order_id) {
        (Some(intent), order_id) => on_intent(intent, text, order_id, true, ctx),
        (None, Some(order_id)) => {
            let note = (!reading.only_order_number()).then_some(text);
            choose_issue(order_id, note)
        }
        (None, None) if missed_before => Transition::to(State::NotUnderstood).reply(offer_person()),
        (None, None) => {
            Transition::to(State::NotUnderstood).reply(Reply::new(keys::NOT_UNDERSTOOD)).reply(menu())
        }
    }
}

/// Acts on a recognised intent. `text` is everything the customer said about it; it reaches
/// the ticket if one comes of it.
/// `order_is_new` when the number came with this text and has not been confirmed yet.
fn on_intent(
    intent: Intent,
    text: String,
    order_id: Option<OrderId>,
    order_is_new: bool,
    ctx: &Ctx<'_>,
) -> Transition {
    match intent.action() {
        FaqAction::Answer => Transition::to(State::FaqAnswered { intent, question: text, order_id })
            .reply(Reply::new(&intent.answer_key()))
            .reply(helpfulness_prompt()),
        FaqAction::StartFlow(issue) => {
            // With an order source the lookup's answer confirms the number.
            let accepted = order_id
                .as_ref()
                .filter(|_| order_is_new && issue.needs_order_id() && !ctx.orders.enabled)
                .map(order_accepted);
            let purpose = match intent {
                Intent::TrackOrder => LookupPurpose::Track,
                Intent::TrackRefund => LookupPurpose::Refund,
                _ => orders::purpose_of(issue),
            };
            let transition = open_flow_for(purpose, issue, order_id, Some(text), ctx);
            match accepted {
                Some(accepted) => transition.prepend(accepted),
                None => transition,
            }
        }
        FaqAction::Complaint => open_flow(IssueType::Complaint, order_id, Some(text), ctx),
        FaqAction::Handoff => handoff(draft(IssueType::Other, order_id, Vec::new(), Some(text)), ctx),
        FaqAction::Feedback => Transition::to(State::AwaitingFeedback).reply(Reply::new(keys::ASK_FEEDBACK)),
        FaqAction::Greet => match order_id {
            Some(order_id) => choose_issue(order_id, None).prepend(Reply::new(keys::GREETING)),
            None => Transition::to(State::Menu).reply(Reply::new(keys::GREETING)).reply(menu()),
        },
        FaqAction::Goodbye => Transition::to(State::Menu).reply(Reply::new(keys::YOU_ARE_WELCOME)),
        // Outside the queue there is no open request to report on (the queue answers itself).
        FaqAction::RequestStatus => {
            Transition::to(State::Menu).reply(Reply::new(keys::NO_OPEN_REQUEST)).reply(menu())
        }
        FaqAction::SwitchLanguage(lang) => Transition::to(State::Menu)
            .effect(Effect::SetLanguage { lang, chosen: true })
            .reply(Reply::new(keys::LANGUAGE_SET))
            .reply(menu()),
    }
}

/// A question asked in the middle of a flow ("how long does a refund take?" while a photo is
/// expected) is answered, and the flow's own question asked again; the state does not move.
fn answer_in_passing(state: &State, reading: &Reading, ctx: &Ctx<'_>) -> Option<Transition> {
    let intent = reading.intent()?;
    let reply = match intent.action() {
        FaqAction::Answer if reading.is_question() => Reply::new(&intent.answer_key()),
        FaqAction::Greet => Reply::new(keys::GREETING),
        FaqAction::RequestStatus => Reply::new(keys::NO_OPEN_REQUEST),
        _ => return None,
    };
    let again = prompt(state, ctx);
    Some(Transition::stay(state.clone()).reply(reply).reply(again))
}

/// A bare order number at the photo or description step: the new number replaces the one the
/// step holds.
fn replace_order_id(mut state: State, new: Option<OrderId>, ctx: &Ctx<'_>) -> Transition {
    let Some(new) = new else { return Transition::stay(state) };
    let (State::AwaitingPhotos { order_id, .. } | State::AwaitingDescription { order_id, .. }) = &mut state
    else {
        // Only the photo and description steps hold a number to replace; elsewhere a bare
        // number changes nothing.
        return Transition::stay(state);
    };
    let confirmation = if order_id.replace(new.clone()).as_ref() == Some(&new) {
        order_accepted(&new)
    } else {
        Reply::new(keys::ORDER_ID_CHANGED).arg("order_id", new.as_str())
    };
    let again = prompt(&state, ctx);
    Transition::to(state).reply(confirmation).reply(again)
}

fn order_accepted(order_id: &OrderId) -> Reply {
    Reply::new(keys::ORDER_ID_ACCEPTED).arg("order_id", order_id.as_str())
}

fn choose_issue(order_id: OrderId, note: Option<String>) -> Transition {
    let state = State::ChoosingIssue { order_id, note, missed: false };
    let question = choose_issue_prompt(&state);
    Transition::to(state).reply(question)
}

fn clarify(first: Intent, second: Intent, question: String, order_id: Option<OrderId>) -> Transition {
    let state = State::Clarifying { options: [first, second], question, order_id };
    let reply = clarify_prompt(&state);
    Transition::to(state).reply(reply)
}

fn offer_person() -> Reply {
    Reply::new(keys::OFFER_PERSON).row(person_or_menu())
}

/// The way out of any question: a person, or the main menu.
fn person_or_menu() -> Vec<Button> {
    vec![Button::new(keys::BUTTON_HUMAN, Action::Human), Button::new(keys::BUTTON_MENU, Action::Menu)]
}

/// Accepts `5`, `5/5`, `５` and star emoji as a rating.
fn parse_stars(text: &str) -> Option<u8> {
    let text = text.trim();
    let stars = text.chars().filter(|c| *c == '⭐' || *c == '★').count();
    if stars > 0 && text.chars().all(|c| c == '⭐' || c == '★' || c.is_whitespace() || c == '\u{FE0F}') {
        return u8::try_from(stars).ok().filter(|n| (1..=5).contains(n));
    }
    let first = text.split(['/', ' ']).next()?;
    let digit = match first {
        "１" => "1",
        "２" => "2",
        "３" => "3",
        "４" => "4",
        "５" => "5",
        other => other,
    };
    digit.parse::<u8>().ok().filter(|n| (1..=5).contains(n))
}

fn rate(stars: u8) -> Transition {
    Transition::to(State::AwaitingComment { stars }).effect(Effect::RateTicket { stars }).reply(
        Reply::new(keys::ASK_COMMENT)
            .arg("stars", u32::from(stars))
            .row(vec![Button::new(keys::BUTTON_SKIP_COMMENT, Action::SkipComment)]),
    )
}

fn draft(
    issue: IssueType,
    order_id: Option<OrderId>,
    photos: Vec<MediaRef>,
    description: Option<String>,
) -> TicketDraft {
    TicketDraft { issue, order_id, photos, description, priority: issue.priority() }
}

fn join_caption(caption: Option<String>, text: String) -> String {
    match caption {
        Some(caption) => format!("{caption}\n{text}"),
        None => text,
    }
}

/// The customer's earlier words, then the new ones. A customer who keeps changing the subject
/// before giving an order number would grow the stored state without end, so past
/// [`MAX_NOTE_CHARS`] the new words are left out of the note (they stay in the message log,
/// where the agent reads them).
fn join_note(note: Option<String>, text: String) -> String {
    match note {
        Some(note) if note.chars().count() + text.chars().count() >= MAX_NOTE_CHARS => note,
        note => join_caption(note, text),
    }
}

fn start_flow(issue: IssueType, ctx: &Ctx<'_>) -> Transition {
    open_flow(issue, None, None, ctx)
}

/// Starts the request for `issue` with whatever the customer already gave, asking only for the
/// rest: the order number if it is needed and missing, then the photos, then a description
/// unless `note` already says enough.
fn open_flow(issue: IssueType, order_id: Option<OrderId>, note: Option<String>, ctx: &Ctx<'_>) -> Transition {
    open_flow_for(orders::purpose_of(issue), issue, order_id, note, ctx)
}

/// [`open_flow`] for a lookup of `purpose` once the number is known (with an order source).
fn open_flow_for(
    purpose: LookupPurpose,
    issue: IssueType,
    order_id: Option<OrderId>,
    note: Option<String>,
    ctx: &Ctx<'_>,
) -> Transition {
    if ctx.orders.enabled && issue.needs_order_id() {
        match order_id {
            Some(order_id) => return orders::look_up(purpose, issue, Some(order_id), None, note, ctx),
            // A signed-in customer asking about "my order" needs no number.
            None if ctx.orders.linked && purpose != LookupPurpose::Problem => {
                return orders::look_up(purpose, issue, None, None, note, ctx);
            }
            None => {}
        }
    }
    match order_id {
        None if issue.needs_order_id() => {
            let lookup = ctx.orders.enabled.then_some(purpose);
            let state = State::AwaitingOrderId { issue, note, lookup };
            Transition::to(state).reply(order_id_prompt(issue, ctx))
        }
        order_id => continue_flow(issue, order_id, note, ctx),
    }
}

fn after_order_id(issue: IssueType, order_id: OrderId, note: Option<String>, ctx: &Ctx<'_>) -> Transition {
    let accepted = order_accepted(&order_id);
    continue_flow(issue, Some(order_id), note, ctx).prepend(accepted)
}

/// The steps after the order number: photos where they show the problem, then the description.
fn continue_flow(
    issue: IssueType,
    order_id: Option<OrderId>,
    note: Option<String>,
    ctx: &Ctx<'_>,
) -> Transition {
    let described = note.as_deref().is_some_and(|note| reading::says_enough(note, ctx));
    let ask_photos = match issue.photo_step() {
        PhotoStep::Required => true,
        // "Where is my order 12345678-0001?" needs no screenshot; a missing part still does.
        PhotoStep::Optional => !described || issue.photos_show_the_item(),
        PhotoStep::None => false,
    };
    if ask_photos {
        let state = State::AwaitingPhotos { issue, order_id, photos: Vec::new(), caption: note };
        let next = prompt(&state, ctx);
        Transition::to(state).reply(next)
    } else if described {
        finish_flow(draft(issue, order_id, Vec::new(), note), ctx)
    } else {
        let state = State::AwaitingDescription { issue, order_id, photos: Vec::new(), note };
        let next = prompt(&state, ctx);
        Transition::to(state).reply(next)
    }
}

/// The flow has everything: suggest an answer if one fits, else queue the ticket.
fn finish_flow(draft: TicketDraft, ctx: &Ctx<'_>) -> Transition {
    if draft.issue != IssueType::Complaint
        && let Some(description) = &draft.description
        && let Some(found) = ctx.faq.classify(ctx.lang, description)
        && found.intent.action() == FaqAction::Answer
    {
        let intent = found.intent;
        return Transition::to(State::SuggestionOffered { draft, intent })
            .reply(Reply::new(keys::SUGGESTION_INTRO))
            .reply(Reply::new(&intent.answer_key()))
            .reply(helpfulness_prompt());
    }
    handoff(draft, ctx)
}

/// Queues a ticket for a human with whatever the flow collected.
fn handoff(mut draft: TicketDraft, ctx: &Ctx<'_>) -> Transition {
    // An anonymous visitor who asked for a person and gave nothing an agent could work with
    // waits behind everyone who did: opening chats is free, and a script asking for people in
    // a loop must not push real customers back in the queue.
    if ctx.anonymous && only_asks_for_a_person(&draft, ctx) {
        draft.priority = Priority::Low;
    }
    let reply = if draft.priority == Priority::High {
        queue_reply(&ctx.queue, keys::COMPLAINT_QUEUED, keys::HANDOFF_QUEUED_AFTER_HOURS)
    } else {
        queue_reply(&ctx.queue, keys::HANDOFF_QUEUED, keys::HANDOFF_QUEUED_AFTER_HOURS)
    };
    Transition::to(State::Queued { acknowledged: false })
        .effect(Effect::OpenTicket { draft, outcome: TicketOutcome::Queued })
        .reply(reply.row(vec![Button::new(keys::BUTTON_WITHDRAW, Action::WithdrawRequest)]))
}

/// Nothing but a request for a person: no topic, order number or photo, and no words beyond
/// the asking.
fn only_asks_for_a_person(draft: &TicketDraft, ctx: &Ctx<'_>) -> bool {
    draft.issue == IssueType::Other
        && draft.order_id.is_none()
        && draft.photos.is_empty()
        && draft.description.as_deref().is_none_or(|text| {
            text.trim().is_empty() || Reading::of(text, ctx).asks_for_person_in_few_words()
        })
}

fn queue_reply(queue: &QueueSnapshot, in_hours_key: &str, after_hours_key: &str) -> Reply {
    let position = queue.ahead + 1;
    match &queue.agents_back_at {
        Some(back_at) => {
            Reply::new(after_hours_key).arg("position", position).arg("back_at", back_at.as_str())
        }
        None => Reply::new(in_hours_key)
            .arg("position", position)
            .arg("wait_minutes", queue.expected_wait_minutes.map_or(-1, i64::from)),
    }
}

fn on_photo(state: State, media: MediaRef, caption: Option<String>, ctx: &Ctx<'_>) -> Transition {
    let caption = caption.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    match state {
        State::AwaitingPhotos { issue, order_id, mut photos, caption: earlier } => {
            photos.push(media);
            let caption = match (earlier, caption) {
                (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
                (a, b) => a.or(b),
            };
            let count = photos.len();
            if count >= MAX_PHOTOS {
                let limit = Reply::new(keys::PHOTO_LIMIT_REACHED).arg("count", count);
                return match caption {
                    Some(description) => {
                        finish_flow(draft(issue, order_id, photos, Some(description)), ctx).prepend(limit)
                    }
                    None => {
                        let state = State::AwaitingDescription { issue, order_id, photos, note: None };
                        let next = prompt(&state, ctx);
                        Transition::to(state).reply(limit).reply(next)
                    }
                };
            }
            let received = photo_prompt_after(count);
            Transition::to(State::AwaitingPhotos { issue, order_id, photos, caption }).reply(received)
        }
        State::AwaitingDescription { issue, order_id, mut photos, note } => {
            if photos.len() < MAX_PHOTOS {
                photos.push(media);
            }
            match caption {
                Some(description) => {
                    finish_flow(draft(issue, order_id, photos, Some(join_note(note, description))), ctx)
                }
                None => {
                    let count = photos.len();
                    let state = State::AwaitingDescription { issue, order_id, photos, note };
                    let next = prompt(&state, ctx);
                    Transition::to(state)
                        .reply(Reply::new(keys::PHOTO_RECEIVED).arg("count", count))
                        .reply(next)
                }
            }
        }
        // The ticket exists: the photo belongs to it, and the agent will see it.
        State::Queued { acknowledged } => {
            let transition =
                Transition::to(State::Queued { acknowledged: true }).effect(Effect::AttachToTicket { media });
            if acknowledged { transition } else { transition.reply(Reply::new(keys::QUEUED_MESSAGE_ADDED)) }
        }
        State::Assigned { .. } => Transition::stay(state).effect(Effect::AttachToTicket { media }),
        // Outside a flow a photo has no place yet; it stays in the log, and the customer is
        // told what the bot is waiting for.
        other => {
            let prompt = prompt(&other, ctx);
            Transition::stay(other).reply(Reply::new(keys::PHOTO_NOT_EXPECTED)).reply(prompt)
        }
    }
}

impl Transition {
    fn prepend(mut self, reply: Reply) -> Self {
        self.replies.insert(0, reply);
        self
    }
}

fn on_button(state: State, action: Action, ctx: &Ctx<'_>) -> Transition {
    match (action, state) {
        // Buttons that mean the same at every step.
        (Action::Language(lang), state) => {
            let next = prompt(&state, ctx);
            Transition::stay(state)
                .effect(Effect::SetLanguage { lang, chosen: true })
                .reply(Reply::new(keys::LANGUAGE_SET))
                .reply(next)
        }
        (Action::Human, state) => on_command(state, Command::Agent, ctx),
        (Action::Menu, state) => on_command(state, Command::Menu, ctx),
        (Action::WithdrawRequest, State::Queued { .. } | State::Assigned { .. }) => withdraw(),

        (
            Action::Issue(issue),
            State::Menu
            | State::NotUnderstood
            | State::FaqAnswered { .. }
            | State::Clarifying { .. }
            | State::OrderAnswered { .. },
        ) => start_flow(issue, ctx),
        // The order number is known: go straight to what this problem needs next.
        (Action::Issue(issue), State::ChoosingIssue { order_id, note, .. }) => {
            open_flow(issue, Some(order_id), note, ctx)
        }
        (Action::Topic(intent), State::Clarifying { options, question, order_id })
            if options.contains(&intent) =>
        {
            on_intent(intent, question, order_id, true, ctx)
        }

        (Action::SkipPhoto, State::AwaitingPhotos { issue, order_id, photos, caption })
            if issue.photo_step() == PhotoStep::Optional || !photos.is_empty() =>
        {
            photos_done(issue, order_id, photos, caption, ctx)
        }
        (Action::PhotosDone, State::AwaitingPhotos { issue, order_id, photos, caption })
            if !photos.is_empty() =>
        {
            photos_done(issue, order_id, photos, caption, ctx)
        }

        (Action::Helped, State::FaqAnswered { intent, .. }) => Transition::to(State::Menu)
            .effect(Effect::FaqOutcome { intent, helped: true })
            .reply(Reply::new(keys::GLAD_IT_HELPED))
            .reply(menu()),
        (Action::NotHelped, State::FaqAnswered { intent, question, order_id }) => {
            let issue = issue_for_intent(intent);
            let transition = handoff(draft(issue, order_id, Vec::new(), Some(question)), ctx);
            transition.effect(Effect::FaqOutcome { intent, helped: false })
        }
        (Action::Helped, State::OrderAnswered { .. }) => {
            Transition::to(State::Menu).reply(Reply::new(keys::GLAD_IT_HELPED)).reply(menu())
        }
        (Action::NotHelped, State::OrderAnswered { issue, order_id, note }) => {
            handoff(draft(issue, order_id, Vec::new(), note), ctx)
        }
        (Action::Helped, State::SuggestionOffered { draft, .. }) => Transition::to(State::AwaitingRating)
            .effect(Effect::OpenTicket { draft, outcome: TicketOutcome::SelfServed })
            .reply(Reply::new(keys::GLAD_IT_HELPED))
            .reply(rating_prompt()),
        (Action::NotHelped, State::SuggestionOffered { draft, .. }) => handoff(draft, ctx),

        (Action::Rate(stars), State::AwaitingRating) => rate(stars),
        (Action::SkipComment, State::AwaitingComment { .. }) => {
            Transition::to(State::Menu).reply(Reply::new(keys::THANKS_FOR_RATING)).reply(menu())
        }

        // A real button, but from an earlier step: say so and show what is being asked now.
        (_, state) => {
            let prompt = prompt(&state, ctx);
            match state {
                State::Assigned { .. } => Transition::stay(state),
                _ => Transition::stay(state).reply(Reply::new(keys::STALE_BUTTON)).reply(prompt),
            }
        }
    }
}

/// Which request an FAQ question turns into when the answer did not help.
fn issue_for_intent(intent: Intent) -> IssueType {
    use Intent::*;
    if let FaqAction::StartFlow(issue) = intent.action() {
        return issue;
    }
    match intent {
        CancelOrder | ChangeOrder | PlaceOrder | CheckCancellationFee => IssueType::Order,
        CheckInvoice | GetInvoice | CheckPaymentMethods | PaymentIssue => IssueType::Payment,
        CreateAccount
        | DeleteAccount
        | EditAccount
        | RecoverPassword
        | RegistrationProblems
        | SwitchAccount
        | NewsletterSubscription => IssueType::Account,
        ChangeShippingAddress | SetUpShippingAddress | DeliveryOptions | DeliveryPeriod | TrackOrder => {
            IssueType::Delivery
        }
        CheckRefundPolicy | GetRefund | TrackRefund => IssueType::Return,
        Complaint => IssueType::Complaint,
        ContactCustomerService
        | ContactHumanAgent
        | Review
        | Greeting
        | Goodbye
        | RequestStatus
        | SpeakEnglish
        | SpeakRussian
        | SpeakChinese => IssueType::Other,
        DamagedItem => IssueType::Damaged,
        WrongItem => IssueType::WrongItem,
        MissingItem => IssueType::MissingItem,
        NotAsDescribed => IssueType::NotAsDescribed,
        LateDelivery => IssueType::LateDelivery,
        CourierProblem => IssueType::Courier,
    }
}

fn photos_done(
    issue: IssueType,
    order_id: Option<OrderId>,
    photos: Vec<MediaRef>,
    caption: Option<String>,
    ctx: &Ctx<'_>,
) -> Transition {
    match caption {
        Some(description) => finish_flow(draft(issue, order_id, photos, Some(description)), ctx),
        None => {
            let state = State::AwaitingDescription { issue, order_id, photos, note: None };
            let next = prompt(&state, ctx);
            Transition::to(state).reply(next)
        }
    }
}

fn withdraw() -> Transition {
    Transition::to(State::Menu)
        .effect(Effect::WithdrawTicket)
        .reply(Reply::new(keys::REQUEST_WITHDRAWN))
        .reply(menu())
}

fn on_command(state: State, command: Command, ctx: &Ctx<'_>) -> Transition {
    let ticket_open = matches!(state, State::Queued { .. } | State::Assigned { .. });
    match command {
        Command::Start | Command::Menu if ticket_open => {
            let still_open = Reply::new(keys::REQUEST_STILL_OPEN)
                .row(vec![Button::new(keys::BUTTON_WITHDRAW, Action::WithdrawRequest)]);
            Transition::stay(state).reply(still_open)
        }
        Command::Start => welcome()
            .into_iter()
            .fold(Transition::to(State::Menu), |transition, reply| transition.reply(reply)),
        Command::Menu => Transition::to(State::Menu).reply(menu()),
        Command::Cancel if ticket_open => withdraw(),
        Command::Cancel => match state {
            State::Menu | State::NotUnderstood => {
                Transition::stay(State::Menu).reply(Reply::new(keys::NOTHING_TO_CANCEL)).reply(menu())
            }
            _ => Transition::to(State::Menu).reply(Reply::new(keys::CANCELLED)).reply(menu()),
        },
        Command::Help => {
            let next = prompt(&state, ctx);
            let transition = Transition::stay(state.clone()).reply(Reply::new(keys::HELP));
            match state {
                State::Menu | State::NotUnderstood | State::Assigned { .. } => transition,
                _ => transition.reply(next),
            }
        }
        Command::Language => Transition::stay(state).reply(language_picker()),
        Command::Agent => match state {
            State::Queued { .. } | State::Assigned { .. } => Transition::stay(state).reply(queue_reply(
                &ctx.queue,
                keys::ALREADY_QUEUED,
                keys::ALREADY_QUEUED,
            )),
            State::AwaitingOrderId { issue, note, .. } => handoff(draft(issue, None, Vec::new(), note), ctx),
            State::LookingUpOrder { issue, order_id, note, .. }
            | State::OrderAnswered { issue, order_id, note } => {
                handoff(draft(issue, order_id, Vec::new(), note), ctx)
            }
            State::AwaitingVerifier { issue, order_id, note, .. } => {
                handoff(draft(issue, Some(order_id), Vec::new(), note), ctx)
            }
            State::ChoosingIssue { order_id, note, .. } => {
                handoff(draft(IssueType::Other, Some(order_id), Vec::new(), note), ctx)
            }
            State::Clarifying { options, question, order_id } => {
                handoff(draft(issue_for_intent(options[0]), order_id, Vec::new(), Some(question)), ctx)
            }
            State::AwaitingPhotos { issue, order_id, photos, caption } => {
                handoff(draft(issue, order_id, photos, caption), ctx)
            }
            State::AwaitingDescription { issue, order_id, photos, note } => {
                handoff(draft(issue, order_id, photos, note), ctx)
            }
            State::SuggestionOffered { draft, .. } => handoff(draft, ctx),
            State::FaqAnswered { intent, question, order_id } => {
                handoff(draft(issue_for_intent(intent), order_id, Vec::new(), Some(question)), ctx)
            }
            State::Menu
            | State::NotUnderstood
            | State::AwaitingFeedback
            | State::AwaitingRating
            | State::AwaitingComment { .. } => handoff(draft(IssueType::Other, None, Vec::new(), None), ctx),
        },
        Command::Unknown => {
            let next = prompt(&state, ctx);
            let transition = Transition::stay(state.clone()).reply(Reply::new(keys::UNKNOWN_COMMAND));
            match state {
                State::Assigned { .. } | State::Queued { .. } => transition,
                _ => transition.reply(next),
            }
        }
    }
}

/// A message about the agent on the ticket: by the name customers are shown, or, for an agent
/// without a display name, about "our support team" (their login is never shown).
fn about_agent(named: &str, unnamed: &str, agent: &str) -> Reply {
    if agent.is_empty() { Reply::new(unnamed) } else { Reply::new(named).arg("agent", agent) }
}

/// What a new customer is greeted with: the greeting and the menu of topics. `/start` answers
/// with it, and the web chat shows it when the widget opens, before any conversation exists.
pub fn welcome() -> Vec<Reply> {
    vec![Reply::new(keys::GREETING), menu()]
}

/// The question the conversation is waiting on, asked again after an interruption.
pub fn prompt(state: &State, ctx: &Ctx<'_>) -> Reply {
    match state {
        State::Menu | State::NotUnderstood => menu(),
        State::ChoosingIssue { .. } => choose_issue_prompt(state),
        State::Clarifying { .. } => clarify_prompt(state),
        State::AwaitingOrderId { issue, .. } => order_id_prompt(*issue, ctx),
        State::LookingUpOrder { .. } => Reply::new(keys::ORDER_STILL_CHECKING),
        State::AwaitingVerifier { kind, .. } => orders::ask_verifier(*kind),
        State::OrderAnswered { .. } => helpfulness_prompt(),
        State::AwaitingPhotos { issue, photos, .. } => photo_prompt(*issue, photos.len()),
        State::AwaitingDescription { issue, .. } => match issue {
            IssueType::Complaint => Reply::new(keys::ASK_COMPLAINT),
            _ => Reply::new(keys::ASK_DESCRIPTION),
        },
        State::SuggestionOffered { .. } | State::FaqAnswered { .. } => helpfulness_prompt(),
        State::AwaitingFeedback => Reply::new(keys::ASK_FEEDBACK),
        State::Queued { .. } => queue_reply(&ctx.queue, keys::QUEUE_UPDATE, keys::QUEUE_UPDATE_AFTER_HOURS)
            .row(vec![Button::new(keys::BUTTON_WITHDRAW, Action::WithdrawRequest)]),
        State::Assigned { agent } => {
            about_agent(keys::ASSIGNED_REMINDER, keys::ASSIGNED_REMINDER_UNNAMED, agent)
        }
        State::AwaitingRating => rating_prompt(),
        State::AwaitingComment { stars } => Reply::new(keys::ASK_COMMENT)
            .arg("stars", u32::from(*stars))
            .row(vec![Button::new(keys::BUTTON_SKIP_COMMENT, Action::SkipComment)]),
    }
}

fn issue_button(issue: IssueType) -> Button {
    Button::new(&keys::issue_label(issue), Action::Issue(issue))
}

fn menu() -> Reply {
    let mut reply = Reply::new(keys::MENU_PROMPT);
    for pair in IssueType::MENU.chunks(2) {
        reply = reply.row(pair.iter().copied().map(issue_button).collect());
    }
    reply.row(vec![Button::new(keys::BUTTON_HUMAN, Action::Human)])
}

/// "What's wrong with order 12345678-0001?" with the problems one order can have.
fn choose_issue_prompt(state: &State) -> Reply {
    let State::ChoosingIssue { order_id, .. } = state else { return menu() };
    let mut reply = Reply::new(keys::CHOOSE_ORDER_PROBLEM).arg("order_id", order_id.as_str());
    for pair in IssueType::ORDER_PROBLEMS.chunks(2) {
        reply = reply.row(pair.iter().copied().map(issue_button).collect());
    }
    reply.row(vec![Button::new(keys::BUTTON_HUMAN, Action::Human)])
}

/// "Is it about a refund or a return?" with the two intents as buttons.
fn clarify_prompt(state: &State) -> Reply {
    let State::Clarifying { options, .. } = state else { return menu() };
    let topic = |intent: Intent| Button::new(&intent.topic_key(), Action::Topic(intent));
    Reply::new(keys::CLARIFY).row(vec![topic(options[0]), topic(options[1])]).row(person_or_menu())
}

fn order_id_prompt(issue: IssueType, ctx: &Ctx<'_>) -> Reply {
    Reply::new(keys::ASK_ORDER_ID)
        .arg("issue", issue.code())
        .arg("example", ctx.order_ids.example())
        .row(person_or_menu())
}

/// The photo question asked again: once some photos are in, it counts them without saying
/// one was just received (the interruption may have been a refused file).
fn photo_prompt(issue: IssueType, count: usize) -> Reply {
    if count > 0 {
        return Reply::new(keys::ASK_MORE_PHOTOS)
            .arg("count", count)
            .row(vec![Button::new(keys::BUTTON_DONE, Action::PhotosDone)]);
    }
    match issue.photo_step() {
        PhotoStep::Required => Reply::new(keys::ASK_PHOTO_REQUIRED),
        PhotoStep::Optional | PhotoStep::None => {
            Reply::new(keys::ASK_PHOTO_OPTIONAL).row(vec![Button::new(keys::BUTTON_SKIP, Action::SkipPhoto)])
        }
    }
}

fn photo_prompt_after(count: usize) -> Reply {
    Reply::new(keys::PHOTO_RECEIVED)
        .arg("count", count)
        .row(vec![Button::new(keys::BUTTON_DONE, Action::PhotosDone)])
}

fn helpfulness_prompt() -> Reply {
    Reply::new(keys::DID_IT_HELP).row(vec![
        Button::new(keys::BUTTON_YES, Action::Helped),
        Button::new(keys::BUTTON_NO, Action::NotHelped),
    ])
}

fn rating_prompt() -> Reply {
    let stars = (1..=5).map(|stars| Button::new(&keys::rating_label(stars), Action::Rate(stars))).collect();
    Reply::new(keys::ASK_RATING).row(stars)
}

fn language_picker() -> Reply {
    let buttons = Lang::ALL
        .into_iter()
        .map(|lang| Button::new(&keys::language_label(lang), Action::Language(lang)))
        .collect();
    Reply::new(keys::CHOOSE_LANGUAGE).row(buttons)
}

#[cfg(test)]
mod transcripts;
