//! The order flows: asking the order source about an order (`Effect::LookupOrder`) and
//! answering from what it said (`Input::OrderLooked`). Used only when an order source is
//! configured (`Ctx::orders`); without one the flows ask for the number and go on as before.

use super::reading::Reading;
use super::{
    Ctx, Effect, State, Transition, continue_flow, draft, free_text, handoff, helpfulness_prompt,
    person_or_menu,
};
use crate::core::keys;
use crate::core::message::{IssueType, Reply};
use crate::core::order::{LookupOutcome, LookupPurpose, Order, OrderLookup, Verifier, VerifierKind};
use crate::core::order_id::OrderId;

/// What a number given in a request of `issue` is looked up for.
pub(super) fn purpose_of(issue: IssueType) -> LookupPurpose {
    match issue {
        IssueType::Delivery => LookupPurpose::Track,
        _ => LookupPurpose::Problem,
    }
}

/// Asks the order source, unless this contact has used up its failed lookups for the hour.
pub(super) fn look_up(
    purpose: LookupPurpose,
    issue: IssueType,
    order_id: Option<OrderId>,
    verifier: Option<Verifier>,
    note: Option<String>,
    ctx: &Ctx<'_>,
) -> Transition {
    if ctx.orders.tries_left == 0 {
        return limit_reached(purpose, issue, note);
    }
    let verifier_given = verifier.is_some();
    let state = State::LookingUpOrder { purpose, issue, order_id: order_id.clone(), verifier_given, note };
    Transition::to(state).effect(Effect::LookupOrder { purpose, order_ref: order_id, verifier })
}

/// No more lookups this hour: a person takes it from here (the number is not asked again,
/// and one typed anyway meets this answer again).
fn limit_reached(purpose: LookupPurpose, issue: IssueType, note: Option<String>) -> Transition {
    Transition::to(State::AwaitingOrderId { issue, note, lookup: Some(purpose) })
        .reply(Reply::new(keys::ORDER_LOOKUP_LIMIT).row(person_or_menu()))
}

/// The source's answer to the lookup the conversation is waiting on.
pub(super) fn on_looked(
    state: State,
    purpose: LookupPurpose,
    order_ref: Option<String>,
    outcome: LookupOutcome,
    ctx: &Ctx<'_>,
) -> Transition {
    let State::LookingUpOrder { purpose: waiting, issue, order_id, verifier_given, note } = state else {
        // The conversation moved on meanwhile (the customer asked for a person, or went back
        // to the menu): the answer is no longer awaited.
        return Transition::stay(state);
    };
    if waiting != purpose || order_id.as_ref().map(OrderId::as_str) != order_ref.as_deref() {
        return Transition::stay(State::LookingUpOrder {
            purpose: waiting,
            issue,
            order_id,
            verifier_given,
            note,
        });
    }
    let asked = Asked { purpose, issue, order_id, note };
    match outcome {
        LookupOutcome::Answered { lookup: OrderLookup::Found { order } } => found(asked, &order, ctx),
        LookupOutcome::Answered { lookup: OrderLookup::VerifierRequired { kind } } if !verifier_given => {
            match asked.order_id {
                Some(order_id) => {
                    let Asked { purpose, issue, note, .. } = asked;
                    let state = State::AwaitingVerifier { purpose, issue, order_id, kind, note };
                    Transition::to(state).reply(ask_verifier(kind))
                }
                None => not_found(asked, ctx),
            }
        }
        LookupOutcome::Answered { .. } => not_found(asked, ctx),
        LookupOutcome::Unavailable | LookupOutcome::NotConfigured => unavailable(asked, ctx),
    }
}

/// The lookup an answer is for: what was asked, and the request it belongs to.
struct Asked {
    purpose: LookupPurpose,
    issue: IssueType,
    order_id: Option<OrderId>,
    note: Option<String>,
}

fn found(asked: Asked, order: &Order, ctx: &Ctx<'_>) -> Transition {
    let Asked { purpose, issue, order_id, note } = asked;
    // A signed-in customer's latest order has no number typed: the ticket gets the store's.
    let order_id = order_id.or_else(|| Some(OrderId::from_trusted(order.id.clone())));
    match purpose {
        LookupPurpose::Track => {
            let mut transition =
                Transition::to(State::OrderAnswered { issue, order_id, note }).reply(status_reply(order));
            if let Some(tracking) = tracking_reply(order) {
                transition = transition.reply(tracking);
            }
            transition.reply(helpfulness_prompt())
        }
        LookupPurpose::Refund => Transition::to(State::OrderAnswered { issue, order_id, note })
            .reply(status_reply(order))
            .reply(refund_reply(order))
            .reply(helpfulness_prompt()),
        LookupPurpose::Problem => {
            let summary = Reply::new(keys::ORDER_FOUND_FOR_PROBLEM)
                .arg("order_id", order.id.as_str())
                .arg("status", order.status.code());
            continue_flow(issue, order_id, note, ctx).prepend(summary)
        }
    }
}

/// No such order, or a verifier that did not match: say so, offer to retype or a person; on
/// the last allowed failure, only a person.
fn not_found(asked: Asked, ctx: &Ctx<'_>) -> Transition {
    let Asked { purpose, issue, order_id, note } = asked;
    let example = ctx.order_ids.example();
    let Some(order_id) = order_id else {
        // A signed-in customer the store has no order for: ask for a number like anyone else.
        let state = State::AwaitingOrderId { issue, note, lookup: Some(purpose) };
        let reply = Reply::new(keys::ORDER_NONE_FOR_CUSTOMER).arg("example", example).row(person_or_menu());
        return Transition::to(state).reply(reply);
    };
    // `tries_left` was counted before this answer, which is itself a failure.
    if ctx.orders.tries_left <= 1 {
        return limit_reached(purpose, issue, note);
    }
    let state = State::AwaitingOrderId { issue, note, lookup: Some(purpose) };
    let reply = Reply::new(keys::ORDER_NOT_FOUND)
        .arg("order_id", order_id.as_str())
        .arg("example", example)
        .row(person_or_menu());
    Transition::to(state).reply(reply)
}

/// The store could not be asked. Tracking questions get the apology and a person one button
/// away; a problem request goes on without the check (an agent reads it anyway).
fn unavailable(asked: Asked, ctx: &Ctx<'_>) -> Transition {
    let Asked { purpose, issue, order_id, note } = asked;
    match purpose {
        LookupPurpose::Problem => {
            continue_flow(issue, order_id, note, ctx).prepend(Reply::new(keys::ORDER_NOT_CHECKED))
        }
        LookupPurpose::Track | LookupPurpose::Refund => {
            Transition::to(State::OrderAnswered { issue, order_id, note })
                .reply(Reply::new(keys::ORDER_STORE_UNAVAILABLE).row(person_or_menu()))
        }
    }
}

/// Text in one of the order states.
pub(super) fn on_text(state: State, text: String, ctx: &Ctx<'_>) -> Transition {
    match state {
        // Like after an FAQ answer: a new question, a new number, or thanks.
        State::OrderAnswered { .. } => free_text(text, false, ctx),
        State::LookingUpOrder { purpose, issue, order_id, verifier_given, note } => {
            if Reading::of(&text, ctx).wants_person() {
                return handoff(draft(issue, order_id, Vec::new(), note), ctx);
            }
            let state = State::LookingUpOrder { purpose, issue, order_id, verifier_given, note };
            Transition::stay(state).reply(Reply::new(keys::ORDER_STILL_CHECKING))
        }
        State::AwaitingVerifier { purpose, issue, order_id, kind, note } => {
            let reading = Reading::of(&text, ctx);
            if reading.wants_person() {
                return handoff(draft(issue, Some(order_id), Vec::new(), note), ctx);
            }
            let verifier = match kind {
                VerifierKind::Email => reading.email().map(Verifier::Email),
                VerifierKind::Phone => reading.phone().map(Verifier::Phone),
            };
            match (verifier, reading.order_id()) {
                (Some(verifier), _) => look_up(purpose, issue, Some(order_id), Some(verifier), note, ctx),
                // Another order number instead: that one is asked about.
                (None, Some(other)) if reading.only_order_number() => {
                    look_up(purpose, issue, Some(other), None, note, ctx)
                }
                (None, _) => {
                    let state = State::AwaitingVerifier { purpose, issue, order_id, kind, note };
                    let again = Reply::new(keys::ORDER_VERIFIER_INVALID)
                        .arg("kind", kind.code())
                        .row(person_or_menu());
                    Transition::stay(state).reply(again)
                }
            }
        }
        other => Transition::stay(other),
    }
}

/// "Please send the email address (phone number) the order was placed with."
pub(super) fn ask_verifier(kind: VerifierKind) -> Reply {
    Reply::new(keys::ASK_ORDER_VERIFIER).arg("kind", kind.code()).row(person_or_menu())
}

/// The status line: ours (`order-status-label`), and the store's own words when it sent some.
fn status_reply(order: &Order) -> Reply {
    let label = order.status_label.as_deref().unwrap_or("");
    Reply::new(keys::ORDER_STATUS)
        .arg("order_id", order.id.as_str())
        .arg("status", order.status.code())
        .arg("store_label", label)
        .arg("labelled", i64::from(!label.is_empty()))
}

/// Carrier, tracking number and link, expected date: for the first parcel that has any.
fn tracking_reply(order: &Order) -> Option<Reply> {
    let shipment = order.tracked_shipment()?;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let given = |value: &Option<String>| i64::from(value.is_some());
    Some(
        Reply::new(keys::ORDER_TRACKING)
            .arg("carrier", text(&shipment.carrier))
            .arg("has_carrier", given(&shipment.carrier))
            .arg("tracking_number", text(&shipment.tracking_number))
            .arg("has_number", given(&shipment.tracking_number))
            .arg("tracking_url", text(&shipment.tracking_url))
            .arg("has_url", given(&shipment.tracking_url))
            .arg("eta", text(&shipment.eta))
            .arg("has_eta", given(&shipment.eta)),
    )
}

/// Whether the order can be refunded, until when; or that the store did not say.
fn refund_reply(order: &Order) -> Reply {
    let (known, eligible, until) = match &order.refund {
        Some(refund) => (1_i64, i64::from(refund.eligible), refund.until.clone()),
        None => (0, 0, None),
    };
    Reply::new(keys::ORDER_REFUND)
        .arg("known", known)
        .arg("eligible", eligible)
        .arg("has_until", i64::from(until.is_some()))
        .arg("until", until.unwrap_or_default())
}
