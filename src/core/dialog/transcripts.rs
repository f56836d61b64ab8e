//! Transcript tests for the dialog: every case is a script run from the menu ([`check`]), from a
//! given step ([`in_step`]), or after openings many cases share ([`check_after`]; the openings
//! are the constants below, scripts themselves, so their lines are checked like the rest).
//!
//! A script is a sequence of lines:
//! - `> INPUT`: what arrives. Plain text is a customer message; `[btn DATA]` presses a button
//!   with that callback data; `[photo]`, `[photo caption]`, `[sticker]`, `[voice]`, `[big]`,
//!   `[notimage]`, `[stale]`, `[assigned NAME]`, `[released]`, `[resolved]`, `[reopened NAME]`,
//!   `[reminder]` are the other inputs.
//! - `< KEY KEY ...`: the reply keys, in order (`-` for none). When absent, not checked.
//! - `! EFFECT EFFECT ...`: the effect names, in order. When absent, no effects are expected.
//! - `= STEP`: the state's step name after the input. When absent, the step is not checked.
//! - `@ lang=ru chosen ahead=3 wait=5 back=09:00`: context for the following inputs.

use super::*;
use crate::core::faq::Match;
use crate::core::message::Arg;
use crate::core::order::{
    FAILED_LOOKUPS_PER_HOUR, LookupOutcome, Order, OrderItem, OrderLookup, OrderStatus, Refund, Shipment,
};
use crate::core::order_id::testing::MarketplaceFormat;

/// A fixed table instead of a trained model: the dialog's tests are about the dialog.
struct TableClassifier;

impl IntentClassifier for TableClassifier {
    fn classify(&self, lang: Lang, text: &str) -> Option<Match> {
        let text = text.to_lowercase();
        let intent = match (lang, text.as_str()) {
            (Lang::En, "how do i reset my password") => Intent::RecoverPassword,
            (Lang::En, "where is my parcel") => Intent::TrackOrder,
            (Lang::En, "i want to complain") => Intent::Complaint,
            (Lang::En, "let me talk to a human") => Intent::ContactHumanAgent,
            (Lang::En, "i want to leave a review") => Intent::Review,
            (Lang::En, "my card was charged but the order is unpaid") => Intent::PaymentIssue,
            (Lang::En, "the mug arrived broken, can i get a refund?") => Intent::CheckRefundPolicy,
            (Lang::Ru, "как сбросить пароль") => Intent::RecoverPassword,
            (Lang::Ru, "позовите оператора") => Intent::ContactHumanAgent,
            (Lang::Zh, "怎么重置密码") => Intent::RecoverPassword,
            (Lang::En, "hi") | (Lang::En, "hello, 12345678-0001") => Intent::Greeting,
            (Lang::En, "thanks, bye") => Intent::Goodbye,
            (Lang::En, "my order 12345678-0001 arrived broken") | (Lang::En, "the mug is damaged") => {
                Intent::DamagedItem
            }
            (Lang::En, "damaged") => Intent::DamagedItem,
            (Lang::En, "wrong colour, order 12345678-0001") => Intent::WrongItem,
            (Lang::En, "where is my order 12345678-0001?")
            | (Lang::En, "where is my order?")
            | (Lang::En, "track my parcel 12345678-0001") => Intent::TrackOrder,
            (Lang::En, "where is my refund for 12345678-0001?") => Intent::TrackRefund,
            (Lang::En, "it is late, it should have come last week") => Intent::LateDelivery,
            (Lang::En, "how long does a refund take?") => Intent::CheckRefundPolicy,
            (Lang::En, "how do i return order 12345678-0002?") => Intent::CheckRefundPolicy,
            (Lang::En, "i already wrote to you, any news?") => Intent::RequestStatus,
            (Lang::En, "please cancel order 12345678-0001, i ordered it twice by mistake") => {
                Intent::CancelOrder
            }
            (Lang::Ru, "заказ пришёл разбитым") => Intent::DamagedItem,
            (Lang::Zh, "订单12345678-0001少了一件") => Intent::MissingItem,
            _ => return None,
        };
        Some(Match { intent, confidence: 0.9 })
    }

    fn close_call(&self, lang: Lang, text: &str) -> Option<[Match; 2]> {
        let options = match (lang, text.to_lowercase().as_str()) {
            (Lang::En, "money back for the jacket") => [Intent::GetRefund, Intent::CheckRefundPolicy],
            _ => return None,
        };
        Some(options.map(|intent| Match { intent, confidence: 0.45 }))
    }
}

fn test_ctx(queue: QueueSnapshot) -> Ctx<'static> {
    Ctx {
        lang: Lang::En,
        language_chosen: false,
        order_ids: &MarketplaceFormat,
        faq: &TableClassifier,
        queue,
        anonymous: false,
        orders: Default::default(),
    }
}

fn parse_input(line: &str) -> Input {
    let Some(inner) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) else {
        return Input::Text { text: line.to_owned() };
    };
    let (word, rest) = inner.split_once(' ').unwrap_or((inner, ""));
    match word {
        "btn" => Input::Button { action: Action::decode(rest).expect("test buttons are valid") },
        "photo" => Input::Photo { media: photo(), caption: (!rest.is_empty()).then(|| rest.to_owned()) },
        "sticker" => Input::Unsupported { kind: ContentKind::Sticker },
        "voice" => Input::Unsupported { kind: ContentKind::Voice },
        "big" => Input::PhotoRejected { problem: PhotoProblem::TooLarge { limit_mb: 20 } },
        "notimage" => Input::PhotoRejected { problem: PhotoProblem::NotAnImage },
        "unkept" => Input::PhotoRejected { problem: PhotoProblem::Unavailable },
        "stale" => Input::StaleButton,
        "assigned" => Input::TicketAssigned { agent: rest.to_owned() },
        "released" => Input::TicketReleased,
        "resolved" => Input::TicketResolved,
        "reopened" => Input::TicketReopened { agent: rest.to_owned() },
        "reminder" => Input::QueueReminder,
        "long" => Input::Text { text: "a".repeat(MAX_TEXT_CHARS + 1) },
        "exactly-max" => Input::Text { text: "a".repeat(MAX_TEXT_CHARS) },
        // [looked <purpose> <order ref or -> <found:status | notfound | verifier:email | down>]
        "looked" => looked(rest),
        other => panic!("unknown input [{other}]"),
    }
}

/// An order source's answer, as the engine feeds it in.
fn looked(spec: &str) -> Input {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [purpose, order_ref, outcome] = parts[..] else { panic!("[looked purpose ref outcome], got {spec}") };
    let purpose: LookupPurpose = serde_json::from_value(serde_json::json!(purpose)).expect("a purpose");
    let order_ref = (order_ref != "-").then(|| order_ref.to_owned());
    let lookup = match outcome.split_once(':') {
        Some(("found", status)) => OrderLookup::Found {
            order: test_order(
                order_ref.as_deref().unwrap_or("87654321-0009"),
                OrderStatus::from_code(status).expect("a status"),
            ),
        },
        Some(("verifier", "email")) => OrderLookup::VerifierRequired { kind: VerifierKind::Email },
        Some(("verifier", "phone")) => OrderLookup::VerifierRequired { kind: VerifierKind::Phone },
        None if outcome == "notfound" => OrderLookup::NotFound,
        None if outcome == "down" => {
            return Input::OrderLooked { purpose, order_ref, outcome: LookupOutcome::Unavailable };
        }
        _ => panic!("unknown lookup outcome {outcome}"),
    };
    Input::OrderLooked { purpose, order_ref, outcome: LookupOutcome::Answered { lookup } }
}

fn test_order(id: &str, status: OrderStatus) -> Order {
    Order {
        id: id.to_owned(),
        status,
        status_label: Some("Handed to the courier".into()),
        placed_at: Some("2026-12-01T10:00:00Z".into()),
        items: vec![OrderItem { title: "Blue mug".into(), qty: 2 }],
        shipments: vec![Shipment {
            carrier: Some("CDEK".into()),
            tracking_number: Some("1234567890".into()),
            tracking_url: Some("https://track.example/1234567890".into()),
            eta: Some("2026-12-10".into()),
        }],
        refund: Some(Refund { eligible: true, until: Some("2026-12-31".into()) }),
    }
}

fn effect_name(effect: &Effect) -> String {
    serde_json::to_value(effect).expect("effects serialise")["effect"].as_str().expect("tagged").to_owned()
}

fn step_name(state: &State) -> String {
    serde_json::to_value(state).expect("states serialise")["step"].as_str().expect("tagged").to_owned()
}

/// Runs a transcript from `start` and checks every expectation in it.
fn in_step(start: State, script: &str) -> State {
    let mut state = start;
    let mut ctx = test_ctx(QueueSnapshot::default());
    let mut pending: Option<(String, Transition)> = None;
    let mut effects_checked = true;

    let finish_input = |pending: &mut Option<(String, Transition)>, effects_checked: bool| {
        if let Some((input, transition)) = pending.take()
            && !effects_checked
        {
            assert!(
                transition.effects.is_empty(),
                "after `{input}`: expected no effects, got {:?}",
                transition.effects
            );
        }
    };

    for raw in script.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (marker, rest) = raw.split_at(1);
        let rest = rest.trim();
        match marker {
            "@" => {
                for setting in rest.split_whitespace() {
                    match setting.split_once('=') {
                        Some(("lang", code)) => ctx.lang = Lang::from_code(code).expect("test language"),
                        Some(("ahead", n)) => ctx.queue.ahead = n.parse().unwrap(),
                        Some(("wait", n)) => ctx.queue.expected_wait_minutes = Some(n.parse().unwrap()),
                        Some(("back", at)) => ctx.queue.agents_back_at = Some(at.to_owned()),
                        None if setting == "chosen" => ctx.language_chosen = true,
                        None if setting == "anonymous" => ctx.anonymous = true,
                        None if setting == "orders" => ctx.orders = order_source(),
                        None if setting == "linked" => ctx.orders.linked = true,
                        Some(("tries", n)) => ctx.orders.tries_left = n.parse().unwrap(),
                        _ => panic!("unknown setting {setting}"),
                    }
                }
            }
            ">" => {
                finish_input(&mut pending, effects_checked);
                let transition = step(state.clone(), parse_input(rest), &ctx);
                state = transition.state.clone();
                ctx.lang = transition.language(ctx.lang);
                pending = Some((rest.to_owned(), transition));
                effects_checked = false;
            }
            "<" => {
                let (input, transition) = pending.as_ref().expect("`<` follows an input");
                let got: Vec<&str> = transition.replies.iter().map(Reply::key).collect();
                let expected: Vec<&str> = rest.split_whitespace().filter(|key| *key != "-").collect();
                assert_eq!(got, expected, "replies after `{input}`");
            }
            "!" => {
                let (input, transition) = pending.as_ref().expect("`!` follows an input");
                let got: Vec<String> = transition.effects.iter().map(effect_name).collect();
                let expected: Vec<&str> = rest.split_whitespace().collect();
                assert_eq!(got, expected, "effects after `{input}`");
                effects_checked = true;
            }
            "=" => {
                let (input, _) = pending.as_ref().expect("`=` follows an input");
                assert_eq!(step_name(&state), rest, "state after `{input}`");
            }
            _ => panic!("unknown transcript line: {raw}"),
        }
    }
    finish_input(&mut pending, effects_checked);
    state
}

/// Runs a transcript from the menu.
fn check(script: &str) -> State {
    in_step(State::Menu, script)
}

/// Runs the openings one after the other, then `script`, from the menu: every line of each is
/// checked as if the whole transcript were written out in one piece.
fn check_after(openings: &[&str], script: &str) -> State {
    check(&[openings, &[script]].concat().join("\n"))
}

/// An order source is configured, with the full allowance of failed lookups.
fn order_source() -> OrderAccess {
    OrderAccess { enabled: true, linked: false, tries_left: FAILED_LOOKUPS_PER_HOUR }
}

fn photo() -> MediaRef {
    MediaRef { sha256: "ab".repeat(32), content_type: "image/jpeg".into(), bytes: 1000 }
}

fn order_id() -> Option<OrderId> {
    Some(OrderId::from_trusted("12345678-0001".into()))
}

fn at_order_id(issue: IssueType) -> State {
    State::AwaitingOrderId { issue, note: None, lookup: None }
}

/// The photo step, with the test's order number and no caption.
fn at_photos(issue: IssueType, photos: Vec<MediaRef>) -> State {
    State::AwaitingPhotos { issue, order_id: order_id(), photos, caption: None }
}

/// The description step, before any photo or words.
fn at_description(issue: IssueType, order_id: Option<OrderId>) -> State {
    State::AwaitingDescription { issue, order_id, photos: vec![], note: None }
}

// ---- Openings: how many transcripts begin, written once ---------------------------------------

const START: &str = "
    > /start
    < greeting menu-prompt
    = menu";

const ORDER_BUTTON: &str = "
    > [btn i:order]
    < ask-order-id
    = awaiting_order_id";

/// The number, for a problem whose photos are required.
const NUMBER_FOR_PHOTOS: &str = "
    > 12345678-0001
    < order-id-accepted ask-photo-required
    = awaiting_photos";

/// An order problem up to its photos.
const ORDER_AT_PHOTOS: &[&str] = &[ORDER_BUTTON, NUMBER_FOR_PHOTOS];

const ACCOUNT_BUTTON: &str = "
    > [btn i:account]
    < ask-description
    = awaiting_description";

/// A question the FAQ knows, written as the description: the answer is offered before a ticket.
const PASSWORD_AS_DESCRIPTION: &str = "
    > how do i reset my password
    < suggestion-intro faq-recover-password did-it-help
    = suggestion_offered";

/// The same question written at the menu: the answer, and whether it helped.
const PASSWORD_QUESTION: &str = "
    > how do I reset my password
    < faq-recover-password did-it-help
    = faq_answered";

/// With an order source (`@ orders`), nothing is said until the lookup answers.
const WHERE_IS_MY_ORDER: &str = "
    > where is my order 12345678-0001?
    < -
    ! lookup_order
    = looking_up_order";

/// With an order source (`@ orders`), a problem's number is looked up before the flow goes on.
const NUMBER_LOOKED_UP: &str = "
    > 12345678-0001
    < -
    ! lookup_order
    = looking_up_order";

// ---- The main flows -------------------------------------------------------------------------

#[test]
fn order_problem_with_photos_ends_in_a_queued_ticket() {
    let end = check_after(
        &[START, ORDER_BUTTON],
        "> 1234
         < order-id-invalid
         = awaiting_order_id
         > 12345678-0001
         < order-id-accepted ask-photo-required
         = awaiting_photos
         > [photo]
         < photo-received
         > [photo]
         < photo-received
         > [btn done]
         < ask-description
         = awaiting_description
         > It arrived with a crack in the handle.
         < handoff-queued
         ! open_ticket
         = queued",
    );
    assert_eq!(end, State::Queued { acknowledged: false });
}

#[test]
fn the_ticket_carries_everything_the_flow_collected() {
    let ctx = test_ctx(QueueSnapshot { ahead: 2, expected_wait_minutes: Some(7), agents_back_at: None });
    let state = State::AwaitingDescription {
        issue: IssueType::Order,
        order_id: order_id(),
        photos: vec![photo()],
        note: None,
    };
    let transition = step(state, Input::Text { text: " Cracked handle ".into() }, &ctx);
    let Some(Effect::OpenTicket { draft, outcome }) = transition.effects.first() else {
        panic!("expected a ticket, got {:?}", transition.effects);
    };
    assert_eq!(*outcome, TicketOutcome::Queued);
    assert_eq!(draft.issue, IssueType::Order);
    assert_eq!(draft.order_id, order_id());
    assert_eq!(draft.photos, vec![photo()]);
    assert_eq!(draft.description.as_deref(), Some("Cracked handle"));
    assert_eq!(draft.priority, Priority::Normal);
    let queued = &transition.replies[0];
    assert_eq!(
        queued.text.args,
        vec![("position".into(), Arg::Number(3)), ("wait_minutes".into(), Arg::Number(7))]
    );
    assert_eq!(queued.all_buttons().map(|b| b.action).collect::<Vec<_>>(), vec![Action::WithdrawRequest]);
}

#[test]
fn optional_photo_can_be_skipped_or_replaced_by_text() {
    check(
        "> [btn i:payment]
         < ask-order-id
         > 12345678-0001-1
         < order-id-accepted ask-photo-optional
         > [btn skip]
         < ask-description
         > I paid twice for one order
         < handoff-queued
         ! open_ticket",
    );
    check(
        "> [btn i:delivery]
         < ask-order-id
         > #12345678-0001
         < order-id-accepted ask-photo-optional
         > The courier never came
         < handoff-queued
         ! open_ticket
         = queued",
    );
}

#[test]
fn a_required_photo_cannot_be_skipped() {
    in_step(
        at_photos(IssueType::Order, vec![]),
        "> [btn skip]
         < stale-button ask-photo-required
         = awaiting_photos
         > [btn done]
         < stale-button ask-photo-required
         > it is broken
         < photo-required ask-photo-required
         = awaiting_photos",
    );
}

#[test]
fn a_refused_file_after_a_photo_does_not_read_as_received() {
    check_after(
        ORDER_AT_PHOTOS,
        "> [photo]
         < photo-received
         > [notimage]
         < photo-not-an-image ask-more-photos
         = awaiting_photos
         > [big]
         < photo-too-large ask-more-photos
         = awaiting_photos",
    );
}

#[test]
fn a_caption_becomes_the_description() {
    check(
        "> [btn i:return]
         < ask-order-id
         > 12345678-0001
         < order-id-accepted ask-photo-optional
         > [photo Wrong size, I want to send it back]
         < photo-received
         = awaiting_photos
         > [photo]
         < photo-received
         = awaiting_photos
         > [btn done]
         < handoff-queued
         ! open_ticket
         = queued",
    );
}

#[test]
fn photos_stop_at_the_limit() {
    let photos = vec![photo(); MAX_PHOTOS - 1];
    in_step(
        at_photos(IssueType::Order, photos),
        "> [photo]
         < photo-limit-reached ask-description
         = awaiting_description
         > [photo]
         < photo-received ask-description
         = awaiting_description",
    );
}

#[test]
fn account_and_other_go_straight_to_the_description() {
    check_after(
        &[ACCOUNT_BUTTON],
        "> My account was locked after I changed my phone number
         < handoff-queued
         ! open_ticket",
    );
    check(
        "> [btn i:other]
         < ask-description
         > Do you sell gift cards in bulk for companies
         < handoff-queued
         ! open_ticket",
    );
}

#[test]
fn an_anonymous_bare_request_for_a_person_waits_behind_the_rest() {
    let bare = |anonymous: bool, script: &str| {
        let mut ctx = test_ctx(QueueSnapshot::default());
        ctx.anonymous = anonymous;
        let transition = step(State::Menu, parse_input(script), &ctx);
        let Some(Effect::OpenTicket { draft, .. }) = transition.effects.first() else { panic!("no ticket") };
        draft.priority
    };
    assert_eq!(bare(true, "human"), Priority::Low, "a web visitor who only asked for a person");
    assert_eq!(bare(false, "human"), Priority::Normal, "a messenger account is not anonymous");
    // A visitor who gave an order number or words is not low trust.
    let mut ctx = test_ctx(QueueSnapshot::default());
    ctx.anonymous = true;
    let state = State::AwaitingOrderId {
        issue: IssueType::Damaged,
        note: Some("the box was crushed".into()),
        lookup: None,
    };
    let transition = step(state, Input::Button { action: Action::Human }, &ctx);
    let Some(Effect::OpenTicket { draft, .. }) = transition.effects.first() else { panic!("no ticket") };
    assert_ne!(draft.priority, Priority::Low);
    check(
        "@ anonymous
         > [btn human]
         < handoff-queued
         ! open_ticket
         = queued",
    );
}

#[test]
fn a_complaint_is_queued_with_high_priority_and_no_suggestion() {
    let ctx = test_ctx(QueueSnapshot::default());
    let state = at_description(IssueType::Complaint, None);
    // This text would match an FAQ answer, but complaints always go to a person.
    let transition = step(state, Input::Text { text: "how do i reset my password".into() }, &ctx);
    assert_eq!(transition.replies[0].key(), keys::COMPLAINT_QUEUED);
    let Some(Effect::OpenTicket { draft, .. }) = transition.effects.first() else { panic!() };
    assert_eq!(draft.priority, Priority::High);
    check(
        "> [btn i:complaint]
         < ask-complaint
         > The seller was rude to me on the phone
         < complaint-queued
         ! open_ticket
         = queued",
    );
}

#[test]
fn a_fitting_answer_is_suggested_before_queueing() {
    check_after(
        &[ACCOUNT_BUTTON, PASSWORD_AS_DESCRIPTION],
        "> [btn yes]
         < glad-it-helped ask-rating
         ! open_ticket
         = awaiting_rating
         > [btn r:5]
         < ask-comment
         ! rate_ticket
         = awaiting_comment
         > [btn nocomment]
         < thanks-for-rating menu-prompt
         = menu",
    );
    check_after(
        &[ACCOUNT_BUTTON, PASSWORD_AS_DESCRIPTION],
        "> something else
         < did-it-help
         = suggestion_offered
         > [btn no]
         < handoff-queued
         ! open_ticket
         = queued",
    );
}

#[test]
fn self_served_tickets_are_marked_so() {
    let ctx = test_ctx(QueueSnapshot::default());
    let draft = draft(IssueType::Account, None, vec![], Some("x".into()));
    let state = State::SuggestionOffered { draft: draft.clone(), intent: Intent::RecoverPassword };
    let transition = step(state, Input::Button { action: Action::Helped }, &ctx);
    assert_eq!(transition.effects, vec![Effect::OpenTicket { draft, outcome: TicketOutcome::SelfServed }]);
}

// ---- Free text and the FAQ ------------------------------------------------------------------

#[test]
fn free_text_faq_answers_and_asks_whether_it_helped() {
    check_after(
        &[PASSWORD_QUESTION],
        "> [btn yes]
         < glad-it-helped menu-prompt
         ! faq_outcome
         = menu",
    );
    check_after(
        &[PASSWORD_QUESTION],
        "> [btn no]
         < handoff-queued
         ! open_ticket faq_outcome
         = queued",
    );
}

#[test]
fn a_new_question_after_an_answer_is_answered_too() {
    check_after(
        &[PASSWORD_QUESTION],
        "> what is the weather like
         < not-understood menu-prompt
         = not_understood",
    );
}

#[test]
fn intents_start_flows_handoff_and_feedback() {
    check(
        "> My card was charged but the order is unpaid
         < ask-order-id
         = awaiting_order_id",
    );
    check(
        "> Where is my parcel
         < ask-order-id
         = awaiting_order_id",
    );
    check(
        "> I want to complain
         < ask-complaint
         = awaiting_description",
    );
    check(
        "> Let me talk to a human
         < handoff-queued
         ! open_ticket
         = queued",
    );
    check(
        "> I want to leave a review
         < ask-feedback
         = awaiting_feedback
         > Fast delivery, thank you!
         < thanks-for-feedback menu-prompt
         ! feedback
         = menu",
    );
}

#[test]
fn out_of_scope_text_offers_the_menu() {
    check(
        "> what is 2+2
         < not-understood menu-prompt
         = not_understood",
    );
}

#[test]
fn asking_for_a_human_works_inside_a_flow() {
    check_after(
        &[ORDER_BUTTON],
        "> let me talk to a human
         < handoff-queued
         ! open_ticket
         = queued",
    );
    in_step(
        at_photos(IssueType::Order, vec![photo()]),
        "> [btn human]
         < handoff-queued
         ! open_ticket
         = queued",
    );
}

// ---- Languages --------------------------------------------------------------------------------

#[test]
fn a_customer_writing_in_another_script_is_answered_in_it() {
    check(
        "> как сбросить пароль
         < faq-recover-password did-it-help
         ! set_language
         = faq_answered
         > 怎么重置密码
         < faq-recover-password did-it-help
         ! set_language",
    );
    check(
        "@ lang=ru
         > позовите оператора
         < handoff-queued
         ! open_ticket
         = queued",
    );
}

#[test]
fn a_chosen_language_is_kept() {
    check(
        "@ chosen
         > как сбросить пароль
         < not-understood menu-prompt
         = not_understood",
    );
}

#[test]
fn language_can_be_chosen_at_any_step() {
    check_after(
        &[ORDER_BUTTON],
        "> /language
         < choose-language
         = awaiting_order_id
         > [btn l:ru]
         < language-set ask-order-id
         ! set_language
         = awaiting_order_id",
    );
    let ctx = test_ctx(QueueSnapshot::default());
    let transition = step(State::Menu, Input::Button { action: Action::Language(Lang::Zh) }, &ctx);
    assert_eq!(transition.language(Lang::En), Lang::Zh);
}

// ---- Global commands --------------------------------------------------------------------------

/// The steps of a flow under way: a command leaves each of them, or keeps it, the same way.
fn flow_steps() -> Vec<State> {
    vec![
        at_order_id(IssueType::Order),
        at_photos(IssueType::Order, vec![]),
        at_description(IssueType::Account, None),
        State::SuggestionOffered {
            draft: draft(IssueType::Account, None, vec![], Some("x".into())),
            intent: Intent::RecoverPassword,
        },
        State::FaqAnswered { intent: Intent::RecoverPassword, question: "q".into(), order_id: None },
        State::AwaitingFeedback,
        State::AwaitingRating,
        State::AwaitingComment { stars: 4 },
    ]
}

#[test]
fn commands_work_at_every_step() {
    for state in flow_steps() {
        in_step(
            state.clone(),
            "> /cancel
             < cancelled menu-prompt
             = menu",
        );
        in_step(state.clone(), START);
        in_step(
            state.clone(),
            "> /MENU@SupportBot
             < menu-prompt
             = menu",
        );
        let after_help = in_step(state.clone(), "> /help");
        assert_eq!(after_help, state, "/help keeps the step");
        let after_language = in_step(state.clone(), "> /language\n< choose-language");
        assert_eq!(after_language, state, "/language keeps the step");
        let after_unknown = in_step(state.clone(), "> /pizza");
        assert_eq!(after_unknown, state, "an unknown command keeps the step");
        in_step(
            state.clone(),
            "> /agent
             < handoff-queued
             ! open_ticket
             = queued",
        );
    }
}

#[test]
fn help_and_unknown_commands_reprompt() {
    in_step(
        at_order_id(IssueType::Order),
        "> /help
         < help ask-order-id
         > /pizza
         < unknown-command ask-order-id
         = awaiting_order_id",
    );
    check(
        "> /help
         < help
         > /cancel
         < nothing-to-cancel menu-prompt
         > /start deep-link-payload
         < greeting menu-prompt",
    );
}

// ---- Handoff, agents, rating ------------------------------------------------------------------

#[test]
fn queued_customers_are_acknowledged_once_and_can_withdraw() {
    check(
        "> /agent
         < handoff-queued
         ! open_ticket
         > Hello? Anyone there?
         < queued-message-added
         = queued
         > Please hurry
         < -
         > [photo]
         < -
         ! attach_to_ticket
         > /agent
         < already-queued
         > /start
         < request-still-open
         = queued
         > [btn withdraw]
         < request-withdrawn menu-prompt
         ! withdraw_ticket
         = menu",
    );
}

#[test]
fn queue_reminders_tell_the_position_and_wait() {
    in_step(
        State::Queued { acknowledged: true },
        "@ ahead=4 wait=12
         > [reminder]
         < queue-update
         = queued",
    );
    in_step(
        State::Queued { acknowledged: true },
        "@ back=09:00
         > [reminder]
         < queue-update-after-hours",
    );
    check(
        "@ back=09:00
         > /agent
         < handoff-queued-after-hours
         ! open_ticket",
    );
    check(
        "> [reminder]
         < -
         = menu",
    );
}

#[test]
fn an_agent_without_a_display_name_is_our_support_team() {
    in_step(
        State::Queued { acknowledged: false },
        "> [assigned]
         < agent-joined-unnamed
         = assigned
         > [resolved]
         < ask-rating
         > [reopened]
         < ticket-reopened-unnamed
         = assigned",
    );
}

#[test]
fn the_bot_is_silent_while_an_agent_owns_the_conversation() {
    in_step(
        State::Queued { acknowledged: false },
        "> [assigned Ann]
         < agent-joined
         = assigned
         > Hi Ann, the parcel is still not here
         < -
         = assigned
         > [photo]
         < -
         ! attach_to_ticket
         > [btn i:order]
         < -
         > [sticker]
         < unsupported-content
         = assigned
         > [released]
         < returned-to-queue
         = queued
         > [assigned Bob]
         < agent-joined
         > /cancel
         < request-withdrawn menu-prompt
         ! withdraw_ticket
         = menu",
    );
}

#[test]
fn resolution_asks_for_a_rating_then_an_optional_comment() {
    in_step(
        State::Assigned { agent: "Ann".into() },
        "> [resolved]
         < ask-rating
         = awaiting_rating
         > great
         < rating-invalid ask-rating
         = awaiting_rating
         > 7
         < rating-invalid ask-rating
         > 4
         < ask-comment
         ! rate_ticket
         = awaiting_comment
         > Quick and friendly, thanks
         < thanks-for-rating menu-prompt
         ! comment_ticket
         = menu",
    );
    for rating in ["5", "⭐⭐⭐⭐⭐", "５", "5/5", "[btn r:5]"] {
        let script = format!("> {rating}\n< ask-comment\n! rate_ticket\n= awaiting_comment");
        assert_eq!(in_step(State::AwaitingRating, &script), State::AwaitingComment { stars: 5 }, "{rating}");
    }
}

#[test]
fn a_resolved_ticket_can_be_reopened() {
    in_step(
        State::AwaitingRating,
        "> [reopened Ann]
         < ticket-reopened
         = assigned",
    );
}

// ---- Bad input at every step ------------------------------------------------------------------

fn every_customer_facing_state() -> Vec<State> {
    let mut states = vec![State::Menu];
    states.extend(flow_steps());
    states.extend([
        State::AwaitingPhotos {
            issue: IssueType::Return,
            order_id: order_id(),
            photos: vec![photo()],
            caption: Some("c".into()),
        },
        at_description(IssueType::Delivery, order_id()),
        at_description(IssueType::Complaint, None),
        State::AwaitingComment { stars: 2 },
    ]);
    states
}

#[test]
fn unusable_input_changes_nothing_at_any_step() {
    let refusals = [
        ("[sticker]", "unsupported-content"),
        ("[voice]", "unsupported-content"),
        ("[big]", "photo-too-large"),
        ("[notimage]", "photo-not-an-image"),
        ("[stale]", "stale-button"),
        ("   ", "empty-message"),
        ("[long]", "text-too-long"),
    ];
    for state in every_customer_facing_state() {
        for (input, refusal) in refusals {
            let ctx = test_ctx(QueueSnapshot::default());
            let transition = step(state.clone(), parse_input(input), &ctx);
            assert_eq!(transition.state, state, "{input} must not change {state:?}");
            assert!(transition.effects.is_empty(), "{input} in {state:?}: {:?}", transition.effects);
            let keys: Vec<&str> = transition.replies.iter().map(Reply::key).collect();
            assert_eq!(keys.first(), Some(&refusal), "{input} in {state:?}");
            assert_eq!(keys.len(), 2, "{input} in {state:?} re-asks the question: {keys:?}");
            assert_eq!(transition.replies[1], prompt(&state, &ctx), "{input} in {state:?}");
        }
    }
}

#[test]
fn text_at_the_length_limit_is_accepted() {
    check_after(
        &[ACCOUNT_BUTTON],
        "> [exactly-max]
         < handoff-queued
         ! open_ticket",
    );
}

#[test]
fn buttons_from_earlier_steps_are_refused_politely() {
    for state in every_customer_facing_state() {
        for action in [Action::Issue(IssueType::Order), Action::Rate(3), Action::SkipComment, Action::Helped]
        {
            let ctx = test_ctx(QueueSnapshot::default());
            let transition = step(state.clone(), Input::Button { action }, &ctx);
            if transition.state == state {
                assert!(transition.effects.is_empty(), "{action:?} in {state:?}");
                assert_eq!(
                    transition.replies.first().map(Reply::key),
                    Some(keys::STALE_BUTTON),
                    "{action:?} in {state:?}"
                );
            }
        }
    }
}

#[test]
fn a_photo_where_none_is_asked_for_is_kept_in_the_log_only() {
    for state in [State::Menu, at_order_id(IssueType::Order), State::AwaitingRating, State::AwaitingFeedback]
    {
        let ctx = test_ctx(QueueSnapshot::default());
        let transition = step(state.clone(), parse_input("[photo]"), &ctx);
        assert_eq!(transition.state, state);
        assert!(transition.effects.is_empty());
        let keys: Vec<&str> = transition.replies.iter().map(Reply::key).collect();
        assert_eq!(keys, vec![keys::PHOTO_NOT_EXPECTED, prompt(&state, &ctx).key()]);
    }
}

#[test]
fn states_survive_a_round_trip_through_json() {
    let mut states = every_customer_facing_state();
    states.push(State::Queued { acknowledged: true });
    states.push(State::Assigned { agent: "Ann".into() });
    for state in states {
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<State>(&json).unwrap(), state, "{json}");
    }
}

#[test]
fn every_reply_key_is_registered() {
    let registered = keys::all_keys();
    let mut seen = Vec::new();
    for state in every_customer_facing_state() {
        for input in ["/start", "/help", "/language", "/agent", "[photo]", "[sticker]", "hi", "[resolved]"] {
            let ctx = test_ctx(QueueSnapshot::default());
            let transition = step(state.clone(), parse_input(input), &ctx);
            for reply in &transition.replies {
                seen.push(reply.key().to_owned());
                seen.extend(reply.all_buttons().map(|button| button.label.key.clone()));
            }
        }
    }
    for key in seen {
        assert!(registered.contains(&key), "{key} is not in core::keys");
    }
}

// ---- Understanding the first message (issue 16) ------------------------------------------

#[test]
fn a_whole_problem_in_one_message_asks_only_for_what_is_missing() {
    let end = check(
        "> my order 12345678-0001 arrived broken
         < order-id-accepted ask-photo-required
         = awaiting_photos
         > [photo]
         < photo-received
         > [btn done]
         < handoff-queued
         ! open_ticket
         = queued",
    );
    assert_eq!(end, State::Queued { acknowledged: false });
    // The customer's words and the number reach the ticket.
    let ctx = test_ctx(QueueSnapshot::default());
    let first = step(State::Menu, Input::Text { text: "my order 12345678-0001 arrived broken".into() }, &ctx);
    let State::AwaitingPhotos { issue, order_id: found, caption, .. } = first.state else {
        panic!("{:?}", first.state)
    };
    assert_eq!(issue, IssueType::Damaged);
    assert_eq!(found, order_id());
    assert_eq!(caption.as_deref(), Some("my order 12345678-0001 arrived broken"));
}

#[test]
fn a_problem_without_its_number_asks_for_the_number_and_keeps_the_words() {
    let end = check(
        "> the mug is damaged
         < ask-order-id
         = awaiting_order_id
         > it's 12345678-0001
         < order-id-accepted ask-photo-required
         = awaiting_photos",
    );
    let State::AwaitingPhotos { issue, caption, .. } = end else { panic!("{end:?}") };
    assert_eq!(issue, IssueType::Damaged);
    // "it's" around the number says nothing more: the words stay those of the first message.
    assert_eq!(caption.as_deref(), Some("the mug is damaged"));
    // A word or two is a topic, not a description: it is kept, and the description asked for.
    check(
        "> [btn i:late_delivery]
         < ask-order-id
         > 12345678-0001
         < order-id-accepted ask-description
         = awaiting_description",
    );
}

#[test]
fn a_bare_order_number_asks_which_problem_with_the_types_as_buttons() {
    let state = check(
        "> #12345678-0001
         < choose-order-problem
         = choosing_issue",
    );
    let ctx = test_ctx(QueueSnapshot::default());
    let question = prompt(&state, &ctx);
    assert_eq!(question.text.args, vec![("order_id".into(), Arg::Text("12345678-0001".into()))]);
    let offered: Vec<Action> = question.all_buttons().map(|button| button.action).collect();
    assert!(offered.contains(&Action::Issue(IssueType::Damaged)), "{offered:?}");
    assert!(offered.contains(&Action::Human), "{offered:?}");
    assert!(offered.len() <= 10, "VK shows at most ten inline buttons: {offered:?}");
    // A button goes straight on with the number; typed words work as well.
    in_step(
        state.clone(),
        "> [btn i:wrong_item]
         < ask-photo-required
         = awaiting_photos",
    );
    in_step(
        state.clone(),
        "> [btn i:late_delivery]
         < ask-description
         = awaiting_description
         > It was due on Monday and tracking has not moved since
         < handoff-queued
         ! open_ticket",
    );
    in_step(
        state.clone(),
        "> the mug is damaged
         < ask-photo-required
         = awaiting_photos",
    );
    // Words that match no type: a description goes to a person, gibberish is asked about once,
    // then a person is offered.
    in_step(
        state.clone(),
        "> There is a strange smell coming from the parcel
         < handoff-queued
         ! open_ticket",
    );
    in_step(
        state,
        "> asdfgh
         < not-understood-order choose-order-problem
         = choosing_issue
         > qwerty
         < offer-person
         = choosing_issue
         > [btn i:damaged]
         < ask-photo-required",
    );
}

#[test]
fn a_known_intent_with_an_order_number_uses_both() {
    // A question with a number: the answer, and the number kept if it did not help.
    let ctx = test_ctx(QueueSnapshot::default());
    let answered =
        step(State::Menu, Input::Text { text: "How do I return order 12345678-0002?".into() }, &ctx);
    assert_eq!(answered.replies[0].key(), "faq-check-refund-policy");
    let not_helped = step(answered.state, Input::Button { action: Action::NotHelped }, &ctx);
    let Some(Effect::OpenTicket { draft, .. }) = not_helped.effects.first() else { panic!("{not_helped:?}") };
    assert_eq!(draft.order_id.as_ref().map(OrderId::as_str), Some("12345678-0002"));
    assert_eq!(draft.issue, IssueType::Return);
    // A request that needs no photo and says enough goes straight to a person.
    check(
        "> Please cancel order 12345678-0001, I ordered it twice by mistake
         < order-id-accepted handoff-queued
         ! open_ticket
         = queued",
    );
    check(
        "> Where is my order 12345678-0001?
         < order-id-accepted handoff-queued
         ! open_ticket",
    );
    check(
        "> wrong colour, order 12345678-0001
         < order-id-accepted ask-photo-required",
    );
}

#[test]
fn greetings_thanks_and_status_questions_get_polite_answers() {
    check(
        "> hi
         < greeting menu-prompt
         = menu
         > thanks, bye
         < you-are-welcome
         = menu
         > I already wrote to you, any news?
         < no-open-request menu-prompt
         = menu",
    );
    check(
        "> hello, 12345678-0001
         < choose-order-problem
         = choosing_issue",
    );
    // In the queue, "any news?" is answered with the position.
    in_step(
        State::Queued { acknowledged: true },
        "@ ahead=2
         > I already wrote to you, any news?
         < queue-update
         = queued",
    );
}

#[test]
fn other_languages_are_understood_the_same_way() {
    check(
        "@ lang=ru
         > заказ пришёл разбитым
         < ask-order-id
         = awaiting_order_id",
    );
    let end = check(
        "@ lang=zh
         > 订单12345678-0001少了一件
         < order-id-accepted ask-photo-optional
         = awaiting_photos",
    );
    let State::AwaitingPhotos { issue, .. } = end else { panic!("{end:?}") };
    assert_eq!(issue, IssueType::MissingItem);
}

#[test]
fn asking_for_a_language_by_name_switches_to_it_for_good() {
    let ctx = test_ctx(QueueSnapshot::default());
    let switched = step(State::Menu, Input::Text { text: "можно по-английски?".into() }, &ctx);
    assert_eq!(switched.effects, vec![Effect::SetLanguage { lang: Lang::En, chosen: true }]);
    assert_eq!(switched.replies.iter().map(Reply::key).collect::<Vec<_>>(), ["language-set", "menu-prompt"]);
    // In the middle of a request, the request goes on.
    let state = at_order_id(IssueType::Damaged);
    let switched = step(state.clone(), Input::Text { text: "说中文".into() }, &ctx);
    assert_eq!(switched.state, state);
    assert_eq!(switched.language(Lang::En), Lang::Zh);
    assert_eq!(switched.replies.iter().map(Reply::key).collect::<Vec<_>>(), ["language-set", "ask-order-id"]);
}

#[test]
fn a_question_while_a_photo_is_expected_is_answered_and_the_request_repeated() {
    in_step(
        at_photos(IssueType::Damaged, vec![]),
        "> How long does a refund take?
         < faq-check-refund-policy ask-photo-required
         = awaiting_photos
         > The handle is cracked
         < photo-required ask-photo-required
         = awaiting_photos
         > [photo]
         < photo-received
         > [btn done]
         < ask-description
         > The handle is cracked
         < handoff-queued
         ! open_ticket",
    );
    in_step(
        at_order_id(IssueType::Damaged),
        "> how long does a refund take?
         < faq-check-refund-policy ask-order-id
         = awaiting_order_id",
    );
}

#[test]
fn a_new_order_number_replaces_the_old_one_with_a_confirmation() {
    let end = in_step(
        at_photos(IssueType::Damaged, vec![]),
        "> sorry, it's order 87654321-0002
         < order-id-changed ask-photo-required
         = awaiting_photos",
    );
    let State::AwaitingPhotos { order_id: changed, .. } = end else { panic!("{end:?}") };
    assert_eq!(changed.as_ref().map(OrderId::as_str), Some("87654321-0002"));
    in_step(
        at_description(IssueType::Delivery, order_id()),
        "> 12345678-0001
         < order-id-accepted ask-description
         = awaiting_description",
    );
}

#[test]
fn asking_for_a_person_works_in_any_language_at_any_step() {
    let steps = [
        State::Menu,
        State::NotUnderstood,
        State::AwaitingOrderId {
            issue: IssueType::Damaged,
            note: Some("the mug is damaged".into()),
            lookup: None,
        },
        at_photos(IssueType::Damaged, vec![photo()]),
        at_description(IssueType::Other, None),
        State::ChoosingIssue {
            order_id: OrderId::from_trusted("12345678-0001".into()),
            note: None,
            missed: false,
        },
    ];
    for state in steps {
        for text in ["human", "человек", "人工", "talk to a real person please"] {
            let transition =
                step(state.clone(), Input::Text { text: text.into() }, &test_ctx(QueueSnapshot::default()));
            assert_eq!(transition.state, State::Queued { acknowledged: false }, "{text} at {state:?}");
            assert!(
                matches!(transition.effects.last(), Some(Effect::OpenTicket { .. })),
                "{text} at {state:?}"
            );
        }
    }
    // The words written before reach the ticket.
    let transition = step(
        State::AwaitingOrderId {
            issue: IssueType::Damaged,
            note: Some("the mug is damaged".into()),
            lookup: None,
        },
        Input::Text { text: "operator".into() },
        &test_ctx(QueueSnapshot::default()),
    );
    let Some(Effect::OpenTicket { draft, .. }) = transition.effects.last() else { panic!("{transition:?}") };
    assert_eq!(draft.description.as_deref(), Some("the mug is damaged"));
    assert_eq!(draft.issue, IssueType::Damaged);
}

#[test]
fn close_intents_are_asked_about_with_two_buttons() {
    let state = check(
        "> money back for the jacket
         < clarify
         = clarifying",
    );
    let ctx = test_ctx(QueueSnapshot::default());
    let question = prompt(&state, &ctx);
    let topics: Vec<Action> = question.buttons[0].iter().map(|button| button.action).collect();
    assert_eq!(topics, [Action::Topic(Intent::GetRefund), Action::Topic(Intent::CheckRefundPolicy)]);
    assert_eq!(question.buttons[0][0].label.key, "topic-get-refund");
    in_step(
        state.clone(),
        "> [btn t:check_refund_policy]
         < faq-check-refund-policy did-it-help
         = faq_answered",
    );
    in_step(
        state.clone(),
        "> [btn t:get_refund]
         < ask-order-id
         = awaiting_order_id",
    );
    // A topic that was not offered is an old button.
    in_step(
        state,
        "> [btn t:track_order]
         < stale-button clarify
         = clarifying",
    );
}

#[test]
fn not_understanding_twice_in_a_row_offers_a_person() {
    let end = check(
        "> blorp
         < not-understood menu-prompt
         = not_understood
         > zxcv qwer
         < offer-person
         = not_understood
         > hi
         < greeting menu-prompt
         = menu
         > blorp
         < not-understood menu-prompt",
    );
    assert_eq!(end, State::NotUnderstood);
    let ctx = test_ctx(QueueSnapshot::default());
    let offer = step(State::NotUnderstood, Input::Text { text: "blorp".into() }, &ctx);
    let buttons: Vec<Action> = offer.replies[0].all_buttons().map(|button| button.action).collect();
    assert_eq!(buttons, [Action::Human, Action::Menu]);
}

#[test]
fn the_words_collected_before_the_order_number_are_bounded() {
    // A customer who changes the subject again and again before giving the number: past the
    // bound, the new words stay in the log but no longer grow the stored note.
    let ctx = test_ctx(QueueSnapshot::default());
    let full = "z".repeat(MAX_NOTE_CHARS - 10);
    let state =
        State::AwaitingOrderId { issue: IssueType::LateDelivery, note: Some(full.clone()), lookup: None };
    let next = step(state, Input::Text { text: "the mug is damaged".into() }, &ctx);
    let State::AwaitingOrderId { issue, note: Some(note), .. } = &next.state else {
        panic!("{:?}", next.state)
    };
    assert_eq!(*issue, IssueType::Damaged, "the subject still changes");
    assert_eq!(*note, full, "the note is full: the old words are kept, the new ones left out");
    assert_eq!(join_note(Some("a".into()), "b".into()), "a\nb");
}

#[test]
fn states_stored_before_these_fields_existed_still_load() {
    let old: State = serde_json::from_str(r#"{"step":"awaiting_order_id","issue":"order"}"#).unwrap();
    assert_eq!(old, State::AwaitingOrderId { issue: IssueType::Order, note: None, lookup: None });
    let old: State =
        serde_json::from_str(r#"{"step":"faq_answered","intent":"track_order","question":"where?"}"#)
            .unwrap();
    assert_eq!(
        old,
        State::FaqAnswered { intent: Intent::TrackOrder, question: "where?".into(), order_id: None }
    );
    let old: Effect = serde_json::from_str(r#"{"effect":"set_language","lang":"ru"}"#).unwrap();
    assert_eq!(old, Effect::SetLanguage { lang: Lang::Ru, chosen: false });
}

// ---- Orders (issue 20) ----------------------------------------------------------------------

#[test]
fn where_is_my_order_is_looked_up_and_answered_with_status_and_tracking() {
    check_after(
        &["@ orders", WHERE_IS_MY_ORDER],
        "> is it there yet?
         < order-still-checking
         = looking_up_order
         > [looked track 12345678-0001 found:in_transit]
         < order-status order-tracking did-it-help
         = order_answered
         > [btn yes]
         < glad-it-helped menu-prompt
         = menu",
    );
}

#[test]
fn the_order_status_reply_carries_the_store_label_and_the_tracking_link() {
    let mut ctx = test_ctx(QueueSnapshot::default());
    ctx.orders = order_source();
    let state = State::LookingUpOrder {
        purpose: LookupPurpose::Track,
        issue: IssueType::Delivery,
        order_id: order_id(),
        verifier_given: false,
        note: None,
    };
    let transition = step(state, looked("track 12345678-0001 found:shipped"), &ctx);
    let args = |index: usize| transition.replies[index].text.args.clone();
    assert!(args(0).contains(&("status".into(), Arg::Text("shipped".into()))));
    assert!(args(0).contains(&("store_label".into(), Arg::Text("Handed to the courier".into()))));
    assert!(args(1).contains(&("tracking_url".into(), Arg::Text("https://track.example/1234567890".into()))));
    assert!(args(1).contains(&("carrier".into(), Arg::Text("CDEK".into()))));
}

#[test]
fn a_signed_in_customer_gets_their_latest_order_without_typing_a_number() {
    let end = check(
        "@ orders linked
         > where is my order?
         < -
         ! lookup_order
         = looking_up_order
         > [looked track - found:delivered]
         < order-status order-tracking did-it-help
         = order_answered
         > [btn no]
         < handoff-queued
         ! open_ticket
         = queued",
    );
    assert_eq!(end, State::Queued { acknowledged: false });
}

#[test]
fn an_unknown_order_is_said_so_with_retype_or_a_person_and_five_failures_stop_the_lookups() {
    check_after(
        &["@ orders tries=2", WHERE_IS_MY_ORDER],
        "> [looked track 12345678-0001 notfound]
         < order-not-found
         = awaiting_order_id
         > 12345678-0002
         ! lookup_order
         = looking_up_order
         @ tries=1
         > [looked track 12345678-0002 notfound]
         < order-lookup-limit
         = awaiting_order_id",
    );
    // With no tries left a number is not even looked up.
    check(
        "@ orders tries=0
         > where is my order 12345678-0001?
         < order-lookup-limit
         = awaiting_order_id
         > [btn human]
         < handoff-queued
         ! open_ticket
         = queued",
    );
}

#[test]
fn a_guest_is_asked_for_the_verifier_the_store_wants() {
    let end = check(
        "@ orders
         > track my parcel 12345678-0001
         ! lookup_order
         > [looked track 12345678-0001 verifier:email]
         < ask-order-verifier
         = awaiting_verifier
         > it's me
         < order-verifier-invalid
         = awaiting_verifier
         > buyer@example.com
         ! lookup_order
         = looking_up_order
         > [looked track 12345678-0001 notfound]
         < order-not-found
         = awaiting_order_id",
    );
    assert!(matches!(end, State::AwaitingOrderId { lookup: Some(LookupPurpose::Track), .. }));
}

#[test]
fn the_verifier_goes_with_the_lookup() {
    let mut ctx = test_ctx(QueueSnapshot::default());
    ctx.orders = order_source();
    let state = State::AwaitingVerifier {
        purpose: LookupPurpose::Track,
        issue: IssueType::Delivery,
        order_id: order_id().unwrap(),
        kind: VerifierKind::Email,
        note: None,
    };
    let transition = step(state, Input::Text { text: "it is Buyer@Example.com".into() }, &ctx);
    let Some(Effect::LookupOrder { verifier: Some(Verifier::Email(email)), .. }) = transition.effects.first()
    else {
        panic!("{:?}", transition.effects)
    };
    assert_eq!(email.to_lowercase(), "buyer@example.com");
}

#[test]
fn the_store_down_is_said_politely_with_a_person_one_press_away() {
    check_after(
        &["@ orders", WHERE_IS_MY_ORDER],
        "> [looked track 12345678-0001 down]
         < order-store-unavailable
         = order_answered
         > [btn human]
         < handoff-queued
         ! open_ticket
         = queued",
    );
}

#[test]
fn refund_tracking_answers_with_the_refund() {
    check(
        "@ orders
         > where is my refund for 12345678-0001?
         ! lookup_order
         > [looked refund 12345678-0001 found:returned]
         < order-status order-refund did-it-help
         = order_answered",
    );
}

#[test]
fn a_problem_flow_checks_the_order_and_goes_on() {
    check_after(
        &["@ orders", ORDER_BUTTON, NUMBER_LOOKED_UP],
        "> [looked problem 12345678-0001 found:delivered]
         < order-found-for-problem ask-photo-required
         = awaiting_photos",
    );
    check_after(
        &["@ orders", ORDER_BUTTON, NUMBER_LOOKED_UP],
        "> [looked problem 12345678-0001 down]
         < order-not-checked ask-photo-required
         = awaiting_photos",
    );
}

#[test]
fn an_answer_the_conversation_no_longer_waits_for_changes_nothing() {
    check_after(
        &["@ orders", WHERE_IS_MY_ORDER],
        "> /menu
         < menu-prompt
         = menu
         > [looked track 12345678-0001 found:shipped]
         < -
         = menu",
    );
}

#[test]
fn without_an_order_source_nothing_is_looked_up() {
    let ctx = test_ctx(QueueSnapshot::default());
    let transition = step(State::Menu, Input::Text { text: "where is my order 12345678-0001?".into() }, &ctx);
    assert!(!transition.effects.iter().any(|effect| matches!(effect, Effect::LookupOrder { .. })));
    assert_eq!(transition.replies.first().map(Reply::key), Some(keys::ORDER_ID_ACCEPTED));
}

// ---------------------------------------------------------------------------------------------
// Letters (email): one letter back per letter.

fn a_letter(subject: &str, text: &str, photos: usize) -> Input {
    let photo = |shade: usize| MediaRef {
        sha256: format!("{shade:064x}"),
        content_type: "image/png".into(),
        bytes: 10,
    };
    Input::Email(Box::new(Letter {
        subject: subject.into(),
        text: text.into(),
        original: format!("{text}\n\n> quoted history"),
        photos: (0..photos).map(photo).collect(),
        refused_photos: Vec::new(),
        other_attachments: Vec::new(),
        pressed: None,
    }))
}

fn keys_of(transition: &Transition) -> Vec<Vec<String>> {
    transition.replies.iter().map(|reply| reply.texts().map(|text| text.key.clone()).collect()).collect()
}

#[test]
fn a_letter_with_a_question_the_faq_knows_is_answered_in_one_letter_and_human_opens_a_ticket() {
    let ctx = test_ctx(QueueSnapshot::default());
    let answered = step(State::Menu, a_letter("", "How do I reset my password", 0), &ctx);
    assert_eq!(
        keys_of(&answered),
        [[keys::EMAIL_RECEIVED, "faq-recover-password", keys::EMAIL_REPLY_HUMAN].map(String::from).to_vec()]
    );
    assert!(matches!(answered.state, State::FaqAnswered { intent: Intent::RecoverPassword, .. }));

    let human = step(answered.state, a_letter("Re: Password", "let me talk to a human", 0), &ctx);
    assert_eq!(keys_of(&human), [[keys::EMAIL_RECEIVED, keys::HANDOFF_QUEUED].map(String::from).to_vec()]);
    let Some(Effect::OpenTicket { draft, .. }) = human.effects.first() else { panic!("{human:?}") };
    let description = draft.description.clone().unwrap();
    assert!(description.contains("How do I reset my password"), "{description}");
    assert!(human.effects.contains(&Effect::FaqOutcome { intent: Intent::RecoverPassword, helped: false }));
    assert_eq!(human.state, State::Queued { acknowledged: true });
}

#[test]
fn a_letter_with_a_problem_opens_a_ticket_with_the_order_number_photos_and_the_whole_letter() {
    let ctx = test_ctx(QueueSnapshot::default());
    let opened = step(State::Menu, a_letter("", "My order 12345678-0001 arrived broken", 2), &ctx);
    assert_eq!(
        keys_of(&opened),
        [[keys::EMAIL_RECEIVED_ORDER, keys::HANDOFF_QUEUED].map(String::from).to_vec()],
        "one letter: the acknowledgement and where the request stands"
    );
    let Some(Effect::OpenTicket { draft, outcome: TicketOutcome::Queued }) = opened.effects.first() else {
        panic!("{opened:?}")
    };
    assert_eq!(draft.issue, IssueType::Damaged);
    assert_eq!(draft.order_id.as_ref().map(OrderId::as_str), Some("12345678-0001"));
    assert_eq!(draft.photos.len(), 2);
    assert_eq!(draft.description.as_deref(), Some("My order 12345678-0001 arrived broken"));
    assert_eq!(opened.state, State::Queued { acknowledged: true });

    // Later letters reach the ticket: photos attached, and nothing more said.
    let more = step(opened.state, a_letter("Re: Order", "one more photo", 1), &ctx);
    assert!(more.replies.is_empty(), "{more:?}");
    assert!(matches!(more.effects.as_slice(), [Effect::AttachToTicket { .. }]), "{more:?}");

    // The number only in the subject; words the model does not know: a person reads the letter.
    let unknown =
        step(State::Menu, a_letter("Order 12345678-0002", "Something odd happened with it", 0), &ctx);
    let Some(Effect::OpenTicket { draft, .. }) = unknown.effects.first() else { panic!("{unknown:?}") };
    assert_eq!(draft.issue, IssueType::Other);
    assert_eq!(draft.order_id.as_ref().map(OrderId::as_str), Some("12345678-0002"), "from the subject");
    assert_eq!(draft.description.as_deref(), Some("Order 12345678-0002\nSomething odd happened with it"));
    assert_eq!(
        keys_of(&unknown),
        [[keys::EMAIL_RECEIVED_ORDER, keys::HANDOFF_QUEUED].map(String::from).to_vec()]
    );
}

#[test]
fn a_letter_to_a_waiting_request_is_acknowledged_once_and_refused_images_are_named_in_the_same_letter() {
    let ctx = test_ctx(QueueSnapshot::default());
    let first = step(State::Queued { acknowledged: false }, a_letter("Re: x", "any news?", 0), &ctx);
    assert_eq!(keys_of(&first), [[keys::EMAIL_ADDED_TO_REQUEST].map(String::from).to_vec()]);
    let again = step(first.state, a_letter("Re: x", "hello?", 0), &ctx);
    assert!(again.replies.is_empty());

    let Input::Email(mut letter) = a_letter("", "My order 12345678-0001 arrived broken", 0) else {
        unreachable!()
    };
    letter.refused_photos = vec![PhotoProblem::NotAnImage, PhotoProblem::NotAnImage];
    let refused = step(State::Menu, Input::Email(letter), &ctx);
    assert_eq!(
        keys_of(&refused),
        [[keys::EMAIL_RECEIVED_ORDER, keys::HANDOFF_QUEUED, keys::PHOTO_NOT_AN_IMAGE]
            .map(String::from)
            .to_vec()]
    );
}
