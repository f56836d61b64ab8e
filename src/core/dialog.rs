//! The support dialog as a pure state machine.
//!
//! [`step`] takes the stored [`State`], one [`Input`] and a [`Ctx`] with everything it may
//! consult, and returns a [`Transition`]: the next state, the replies to send (as message keys)
//! and the effects for the engine to carry out in the same transaction. It never sends,
//! stores, reads the clock or draws random numbers, so every behaviour is a transcript test.

use crate::core::faq::{FaqAction, Intent, IntentClassifier};
use crate::core::keys;
use crate::core::message::{Action, Button, IssueType, Lang, MediaRef, PhotoStep, Priority, Reply};
use crate::core::order_id::{OrderId, OrderIdError, OrderIdFormat};
use serde::{Deserialize, Serialize};

/// The longest customer text the dialog accepts; longer messages are refused, not truncated,
/// so nothing a customer wrote is silently cut.
pub const MAX_TEXT_CHARS: usize = 4000;
/// The most photos one request collects.
pub const MAX_PHOTOS: usize = 10;

/// Where a conversation stands. Each variant carries what the flow has collected so far, so a
/// restart resumes exactly where the customer left off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum State {
    /// Idle: the menu is on offer and free text goes to the FAQ classifier.
    #[default]
    Menu,
    AwaitingOrderId {
        issue: IssueType,
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
    TooLarge { limit_mb: u32 },
    NotAnImage,
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
pub struct Ctx<'a> {
    /// The conversation's current language.
    pub lang: Lang,
    /// Whether the customer picked the language explicitly (then it is never switched for them).
    pub language_chosen: bool,
    pub order_ids: &'a dyn OrderIdFormat,
    pub faq: &'a dyn IntentClassifier,
    pub queue: QueueSnapshot,
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
    SetLanguage {
        lang: Lang,
    },
    /// A free-text FAQ answer was given; `helped` is the customer's verdict.
    FaqOutcome {
        intent: Intent,
        helped: bool,
    },
    Feedback {
        text: String,
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
                Effect::SetLanguage { lang } => Some(*lang),
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
        Input::PhotoRejected { problem } => {
            let refusal = match problem {
                PhotoProblem::TooLarge { limit_mb } => {
                    Reply::new(keys::PHOTO_TOO_LARGE).arg("limit_mb", limit_mb)
                }
                PhotoProblem::NotAnImage => Reply::new(keys::PHOTO_NOT_AN_IMAGE),
            };
            refuse(state, refusal, ctx)
        }
        Input::Unsupported { kind } => {
            refuse(state, Reply::new(keys::UNSUPPORTED_CONTENT).arg("kind", kind.code()), ctx)
        }
        Input::TicketAssigned { agent } => {
            let joined = Reply::new(keys::AGENT_JOINED).arg("agent", agent.as_str());
            Transition::to(State::Assigned { agent }).reply(joined)
        }
        Input::TicketReleased => Transition::to(State::Queued { acknowledged: false })
            .reply(Reply::new(keys::RETURNED_TO_QUEUE).arg("position", ctx.queue.ahead + 1)),
        Input::TicketReopened { agent } => {
            let reopened = Reply::new(keys::TICKET_REOPENED).arg("agent", agent.as_str());
            Transition::to(State::Assigned { agent }).reply(reopened)
        }
        Input::TicketResolved => Transition::to(State::AwaitingRating).reply(rating_prompt()),
        Input::QueueReminder => match state {
            State::Queued { .. } => {
                let update = queue_reply(&ctx.queue, keys::QUEUE_UPDATE, keys::QUEUE_UPDATE_AFTER_HOURS);
                Transition::stay(state).reply(update)
            }
            other => Transition::stay(other),
        },
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
    let local_ctx = Ctx {
        lang: ctx_lang,
        language_chosen: ctx.language_chosen,
        order_ids: ctx.order_ids,
        faq: ctx.faq,
        queue: ctx.queue.clone(),
    };
    let mut transition = on_plain_text(state, trimmed, &local_ctx);
    if let Some(lang) = switched {
        transition.effects.insert(0, Effect::SetLanguage { lang });
    }
    transition
}

fn wants_human(text: &str, ctx: &Ctx<'_>) -> bool {
    ctx.faq.classify(ctx.lang, text).is_some_and(|found| found.intent == Intent::ContactHumanAgent)
}

fn on_plain_text(state: State, text: String, ctx: &Ctx<'_>) -> Transition {
    match state {
        State::Menu | State::FaqAnswered { .. } => free_text(text, ctx),
        State::AwaitingOrderId { issue } => {
            if wants_human(&text, ctx) {
                return handoff(draft(issue, None, Vec::new(), None), ctx);
            }
            match OrderId::parse(&text, ctx.order_ids) {
                Ok(order_id) => after_order_id(issue, order_id, ctx),
                Err(OrderIdError::Empty | OrderIdError::TooLong | OrderIdError::DoesNotMatch) => {
                    let state = State::AwaitingOrderId { issue };
                    Transition::stay(state)
                        .reply(Reply::new(keys::ORDER_ID_INVALID).arg("example", ctx.order_ids.example()))
                }
            }
        }
        State::AwaitingPhotos { issue, order_id, photos, caption } => {
            if wants_human(&text, ctx) {
                return handoff(draft(issue, order_id, photos, caption), ctx);
            }
            // With photos in hand, or where photos are optional, text moves the flow on: it is
            // the description. Customers rarely press "skip" before typing.
            if !photos.is_empty() || issue.photo_step() == PhotoStep::Optional {
                finish_flow(draft(issue, order_id, photos, Some(join_caption(caption, text))), ctx)
            } else {
                let state = State::AwaitingPhotos { issue, order_id, photos, caption };
                Transition::stay(state).reply(Reply::new(keys::PHOTO_REQUIRED)).reply(photo_prompt(issue, 0))
            }
        }
        State::AwaitingDescription { issue, order_id, photos } => {
            finish_flow(draft(issue, order_id, photos, Some(text)), ctx)
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

fn free_text(text: String, ctx: &Ctx<'_>) -> Transition {
    let Some(found) = ctx.faq.classify(ctx.lang, &text) else {
        return Transition::to(State::Menu).reply(Reply::new(keys::NOT_UNDERSTOOD)).reply(menu());
    };
    match found.intent.action() {
        FaqAction::Answer => Transition::to(State::FaqAnswered { intent: found.intent, question: text })
            .reply(Reply::new(&found.intent.answer_key()))
            .reply(helpfulness_prompt()),
        FaqAction::StartFlow(issue) => start_flow(issue, ctx),
        FaqAction::Complaint => start_flow(IssueType::Complaint, ctx),
        FaqAction::Handoff => handoff(draft(IssueType::Other, None, Vec::new(), Some(text)), ctx),
        FaqAction::Feedback => Transition::to(State::AwaitingFeedback).reply(Reply::new(keys::ASK_FEEDBACK)),
    }
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

fn start_flow(issue: IssueType, ctx: &Ctx<'_>) -> Transition {
    if issue.needs_order_id() {
        Transition::to(State::AwaitingOrderId { issue }).reply(order_id_prompt(issue, ctx))
    } else {
        let state = State::AwaitingDescription { issue, order_id: None, photos: Vec::new() };
        let prompt = prompt(&state, ctx);
        Transition::to(state).reply(prompt)
    }
}

fn after_order_id(issue: IssueType, order_id: OrderId, ctx: &Ctx<'_>) -> Transition {
    let accepted = Reply::new(keys::ORDER_ID_ACCEPTED).arg("order_id", order_id.as_str());
    let state = match issue.photo_step() {
        PhotoStep::None => State::AwaitingDescription { issue, order_id: Some(order_id), photos: Vec::new() },
        PhotoStep::Optional | PhotoStep::Required => {
            State::AwaitingPhotos { issue, order_id: Some(order_id), photos: Vec::new(), caption: None }
        }
    };
    let next = prompt(&state, ctx);
    Transition::to(state).reply(accepted).reply(next)
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
fn handoff(draft: TicketDraft, ctx: &Ctx<'_>) -> Transition {
    let reply = if draft.priority == Priority::High {
        queue_reply(&ctx.queue, keys::COMPLAINT_QUEUED, keys::HANDOFF_QUEUED_AFTER_HOURS)
    } else {
        queue_reply(&ctx.queue, keys::HANDOFF_QUEUED, keys::HANDOFF_QUEUED_AFTER_HOURS)
    };
    Transition::to(State::Queued { acknowledged: false })
        .effect(Effect::OpenTicket { draft, outcome: TicketOutcome::Queued })
        .reply(reply.row(vec![Button::new(keys::BUTTON_WITHDRAW, Action::WithdrawRequest)]))
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
                        let state = State::AwaitingDescription { issue, order_id, photos };
                        let next = prompt(&state, ctx);
                        Transition::to(state).reply(limit).reply(next)
                    }
                };
            }
            let received = photo_prompt_after(count);
            Transition::to(State::AwaitingPhotos { issue, order_id, photos, caption }).reply(received)
        }
        State::AwaitingDescription { issue, order_id, mut photos } => {
            if photos.len() < MAX_PHOTOS {
                photos.push(media);
            }
            match caption {
                Some(description) => finish_flow(draft(issue, order_id, photos, Some(description)), ctx),
                None => {
                    let count = photos.len();
                    let state = State::AwaitingDescription { issue, order_id, photos };
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
                .effect(Effect::SetLanguage { lang })
                .reply(Reply::new(keys::LANGUAGE_SET))
                .reply(next)
        }
        (Action::Human, state) => on_command(state, Command::Agent, ctx),
        (Action::Menu, state) => on_command(state, Command::Menu, ctx),
        (Action::WithdrawRequest, State::Queued { .. } | State::Assigned { .. }) => withdraw(),

        (Action::Issue(issue), State::Menu | State::FaqAnswered { .. }) => start_flow(issue, ctx),

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
        (Action::NotHelped, State::FaqAnswered { intent, question }) => {
            let issue = issue_for_intent(intent);
            let transition = handoff(draft(issue, None, Vec::new(), Some(question)), ctx);
            transition.effect(Effect::FaqOutcome { intent, helped: false })
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
        ContactCustomerService | ContactHumanAgent | Review => IssueType::Other,
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
            let state = State::AwaitingDescription { issue, order_id, photos };
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
        Command::Start => Transition::to(State::Menu).reply(Reply::new(keys::GREETING)).reply(menu()),
        Command::Menu => Transition::to(State::Menu).reply(menu()),
        Command::Cancel if ticket_open => withdraw(),
        Command::Cancel => match state {
            State::Menu => {
                Transition::stay(State::Menu).reply(Reply::new(keys::NOTHING_TO_CANCEL)).reply(menu())
            }
            _ => Transition::to(State::Menu).reply(Reply::new(keys::CANCELLED)).reply(menu()),
        },
        Command::Help => {
            let next = prompt(&state, ctx);
            let transition = Transition::stay(state.clone()).reply(Reply::new(keys::HELP));
            match state {
                State::Menu | State::Assigned { .. } => transition,
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
            State::AwaitingOrderId { issue } => handoff(draft(issue, None, Vec::new(), None), ctx),
            State::AwaitingPhotos { issue, order_id, photos, caption } => {
                handoff(draft(issue, order_id, photos, caption), ctx)
            }
            State::AwaitingDescription { issue, order_id, photos } => {
                handoff(draft(issue, order_id, photos, None), ctx)
            }
            State::SuggestionOffered { draft, .. } => handoff(draft, ctx),
            State::FaqAnswered { intent, question } => {
                handoff(draft(issue_for_intent(intent), None, Vec::new(), Some(question)), ctx)
            }
            State::Menu | State::AwaitingFeedback | State::AwaitingRating | State::AwaitingComment { .. } => {
                handoff(draft(IssueType::Other, None, Vec::new(), None), ctx)
            }
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

/// The question the conversation is waiting on, asked again after an interruption.
pub fn prompt(state: &State, ctx: &Ctx<'_>) -> Reply {
    match state {
        State::Menu => menu(),
        State::AwaitingOrderId { issue } => order_id_prompt(*issue, ctx),
        State::AwaitingPhotos { issue, photos, .. } => photo_prompt(*issue, photos.len()),
        State::AwaitingDescription { issue, .. } => match issue {
            IssueType::Complaint => Reply::new(keys::ASK_COMPLAINT),
            _ => Reply::new(keys::ASK_DESCRIPTION),
        },
        State::SuggestionOffered { .. } | State::FaqAnswered { .. } => helpfulness_prompt(),
        State::AwaitingFeedback => Reply::new(keys::ASK_FEEDBACK),
        State::Queued { .. } => queue_reply(&ctx.queue, keys::QUEUE_UPDATE, keys::QUEUE_UPDATE_AFTER_HOURS)
            .row(vec![Button::new(keys::BUTTON_WITHDRAW, Action::WithdrawRequest)]),
        State::Assigned { agent } => Reply::new(keys::ASSIGNED_REMINDER).arg("agent", agent.as_str()),
        State::AwaitingRating => rating_prompt(),
        State::AwaitingComment { stars } => Reply::new(keys::ASK_COMMENT)
            .arg("stars", u32::from(*stars))
            .row(vec![Button::new(keys::BUTTON_SKIP_COMMENT, Action::SkipComment)]),
    }
}

fn menu() -> Reply {
    let issue_button = |issue: IssueType| Button::new(&keys::issue_label(issue), Action::Issue(issue));
    let mut reply = Reply::new(keys::MENU_PROMPT);
    for pair in IssueType::ALL.chunks(2) {
        reply = reply.row(pair.iter().copied().map(issue_button).collect());
    }
    reply.row(vec![Button::new(keys::BUTTON_HUMAN, Action::Human)])
}

fn order_id_prompt(issue: IssueType, ctx: &Ctx<'_>) -> Reply {
    Reply::new(keys::ASK_ORDER_ID).arg("issue", issue.code()).arg("example", ctx.order_ids.example()).row(
        vec![Button::new(keys::BUTTON_HUMAN, Action::Human), Button::new(keys::BUTTON_MENU, Action::Menu)],
    )
}

fn photo_prompt(issue: IssueType, count: usize) -> Reply {
    if count > 0 {
        return photo_prompt_after(count);
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
#[path = "dialog_transcripts.rs"]
mod transcripts;
