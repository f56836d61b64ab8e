//! The dialog over email. A letter is not a chat message: it usually says everything at once
//! (the problem, the order number, the photos), and a customer who gets five letters back for
//! one is annoyed. So a letter gets exactly one letter back (every reply of the step joined into
//! one), and a first letter is answered in one go: from the FAQ when the classifier is sure
//! (with "reply 'human' if this didn't help"), otherwise by opening a ticket with the whole
//! letter as its description and the order number picked from the subject or the body.

use super::reading::Reading;
use super::{
    Ctx, Effect, PhotoProblem, State, Transition, draft, handoff, issue_for_intent, join_note, on_button,
    on_text,
};
use crate::core::faq::FaqAction;
use crate::core::keys;
use crate::core::message::{Action, IssueType, MediaRef, Reply};
use serde::{Deserialize, Serialize};

/// One letter as the email channel read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Letter {
    pub subject: String,
    /// What the customer wrote in this letter, with the quoted history and the signature
    /// trimmed: what the dialog reads.
    pub text: String,
    /// The letter's whole text as received, for the agents (the message log keeps it).
    pub original: String,
    /// The images of the letter that passed the media checks, stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<MediaRef>,
    /// Why the other images were not stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_photos: Vec<PhotoProblem>,
    /// Attachments that are not images, named for the agent (`contract.pdf, application/pdf,
    /// 120 KB`); they are not stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_attachments: Vec<String>,
    /// The choice the letter's words picked by number (`core::choices`), set by the engine,
    /// which remembers what the numbers meant: the letter then presses that button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressed: Option<Action>,
}

impl Letter {
    /// The subject and the words together: an order number is often only in the subject.
    fn subject_and_text(&self) -> String {
        match (self.subject.trim(), self.text.trim()) {
            ("", text) => text.to_owned(),
            (subject, "") => subject.to_owned(),
            (subject, text) => format!("{subject}\n{text}"),
        }
    }
}

/// Runs one letter through the dialog; the step's replies leave as one.
pub(super) fn on_letter(state: State, mut letter: Letter, ctx: &Ctx<'_>) -> Transition {
    let refused = std::mem::take(&mut letter.refused_photos);
    let mut transition = match letter.pressed.take() {
        Some(action) => on_button(state, action, ctx),
        None => step_letter(state, letter, ctx),
    };
    // Images that were not kept are named after the answer, once per kind of problem.
    let mut problems: Vec<PhotoProblem> = Vec::new();
    for problem in refused {
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    transition.replies.extend(problems.into_iter().map(super::photo_refusal));
    transition.replies = Reply::joined(std::mem::take(&mut transition.replies)).into_iter().collect();
    transition
}

fn step_letter(state: State, letter: Letter, ctx: &Ctx<'_>) -> Transition {
    match state {
        // A ticket is open: the letter reaches it (the log has the words, the photos are
        // attached); the customer hears once that it did.
        State::Queued { acknowledged } => {
            let transition = attach_photos(Transition::stay(State::Queued { acknowledged: true }), &letter);
            if acknowledged { transition } else { transition.reply(Reply::new(keys::EMAIL_ADDED_TO_REQUEST)) }
        }
        // The agent reads the letter in the log and answers; the bot keeps out of the way.
        state @ State::Assigned { .. } => attach_photos(Transition::stay(state), &letter),
        // "human" (or anything that is not thanks) after an answer from the FAQ: a person
        // takes over, with the first question and this letter.
        State::FaqAnswered { intent, question, order_id } => {
            let reading = Reading::of(&letter.text, ctx);
            if reading.action() == Some(FaqAction::Goodbye) && letter.photos.is_empty() {
                return Transition::to(State::Menu)
                    .effect(Effect::FaqOutcome { intent, helped: true })
                    .reply(Reply::new(keys::YOU_ARE_WELCOME));
            }
            if reading.wants_person() || reading.intent().is_none() {
                let order_id = reading.order_id().or(order_id);
                let description = join_note(Some(question), letter.subject_and_text());
                let draft = draft(issue_for_intent(intent), order_id, letter.photos, Some(description));
                let mut transition = handoff(draft, ctx)
                    .prepend(Reply::new(keys::EMAIL_RECEIVED))
                    .effect(Effect::FaqOutcome { intent, helped: false });
                transition.state = State::Queued { acknowledged: true };
                return transition;
            }
            first_letter(letter, ctx).effect(Effect::FaqOutcome { intent, helped: false })
        }
        // Rating, a comment, feedback: the letter's words answer what was asked.
        state @ (State::AwaitingRating | State::AwaitingComment { .. } | State::AwaitingFeedback) => {
            on_text(state, letter.text, ctx)
        }
        // No ticket and nothing asked that a letter answers: a new request.
        State::Menu
        | State::NotUnderstood
        | State::ChoosingIssue { .. }
        | State::Clarifying { .. }
        | State::AwaitingOrderId { .. }
        | State::AwaitingPhotos { .. }
        | State::AwaitingDescription { .. }
        | State::SuggestionOffered { .. }
        // The order flows are chat flows that a letter never enters; should a stored state be
        // one of them, the letter starts a request like any first letter.
        | State::LookingUpOrder { .. }
        | State::AwaitingVerifier { .. }
        | State::OrderAnswered { .. } => first_letter(letter, ctx),
    }
}

/// A letter that starts a request: an FAQ answer when the classifier is sure and the letter
/// asks nothing a person must see (no photos, no order number, no request for a person);
/// otherwise a ticket with the whole letter.
fn first_letter(letter: Letter, ctx: &Ctx<'_>) -> Transition {
    let whole = letter.subject_and_text();
    let reading = Reading::of(&whole, ctx);
    let order_id = reading.order_id();
    if let Some(intent) = reading.intent()
        && intent.action() == FaqAction::Answer
        && reading.close_call().is_none()
        && !reading.wants_person()
        && letter.photos.is_empty()
        && order_id.is_none()
    {
        return Transition::to(State::FaqAnswered { intent, question: whole, order_id: None })
            .reply(Reply::new(keys::EMAIL_RECEIVED))
            .reply(Reply::new(&intent.answer_key()))
            .reply(Reply::new(keys::EMAIL_REPLY_HUMAN));
    }
    let issue = match reading.action() {
        Some(FaqAction::StartFlow(issue)) => issue,
        Some(FaqAction::Complaint) => IssueType::Complaint,
        _ => IssueType::Other,
    };
    let received = match &order_id {
        Some(order_id) => Reply::new(keys::EMAIL_RECEIVED_ORDER).arg("order_id", order_id.as_str()),
        None => Reply::new(keys::EMAIL_RECEIVED),
    };
    let mut transition = handoff(draft(issue, order_id, letter.photos, Some(whole)), ctx).prepend(received);
    // Nothing more will be said about the letters that follow until an agent writes.
    transition.state = State::Queued { acknowledged: true };
    transition
}

/// Each photo of the letter goes to the open ticket.
fn attach_photos(transition: Transition, letter: &Letter) -> Transition {
    letter.photos.iter().fold(transition, |transition, media| {
        transition.effect(Effect::AttachToTicket { media: media.clone() })
    })
}
