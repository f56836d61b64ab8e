//! One support story told against SQLite always and against PostgreSQL when
//! `SWITCHBOARD_TEST_POSTGRES` is set: requests become tickets, two agents race for one,
//! the winner replies and resolves, the customer rates; cursors, reminders, transfers,
//! releases, withdrawals and the read APIs the tickets CLI uses along the way.

use crate::support::engine_fixtures::{self, RecordingChannel, TestDb, button, event, start_engine, text};
use std::sync::Arc;
use std::time::Duration;
use switchboard::channels::{Accepted, InboundKind, Intake};
use switchboard::console::Role;
use switchboard::core::dialog::{Input, State};
use switchboard::core::handoff::{Actor, TicketStatus};
use switchboard::core::keys;
use switchboard::core::message::{Action, IssueType, Lang, MediaRef, Priority};
use switchboard::engine::{ClaimResult, EngineError};
use switchboard::outbox::{DeliveryAttempt, OutboxSettings, OutboxWorker};
use switchboard::store::{Author, Store, now_millis};

#[tokio::test]
async fn story_on_sqlite() {
    let db = TestDb::sqlite();
    story(&db).await;
    db.drop_database().await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn story_on_postgres() {
    let db = TestDb::postgres().await;
    story(&db).await;
    db.drop_database().await;
}

fn photo() -> MediaRef {
    MediaRef { sha256: "ab".repeat(32), content_type: "image/jpeg".into(), bytes: 2048 }
}

async fn conversation_id(store: &Arc<dyn Store>, who: &str) -> i64 {
    let contact = store.contact(engine_fixtures::CHANNEL, who).await.unwrap().expect("contact");
    store.conversation_of_contact(contact.id).await.unwrap().expect("conversation").id
}

async fn state(store: &Arc<dyn Store>, who: &str) -> State {
    let contact = store.contact(engine_fixtures::CHANNEL, who).await.unwrap().expect("contact");
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().expect("conversation");
    serde_json::from_str(&conversation.state).unwrap()
}

async fn drain(worker: &OutboxWorker) {
    while worker.try_deliver_next().await.unwrap() == DeliveryAttempt::Delivered {}
}

async fn story(db: &TestDb) {
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let worker = OutboxWorker::new(
        Arc::clone(&store),
        channel.channels(),
        OutboxSettings::default(),
        engine.outbox_link(),
    );

    // Channel cursors survive in the key-value table.
    assert_eq!(store.cursor("telegram.offset").await.unwrap(), None);
    store.set_cursor("telegram.offset", "42", now_millis()).await.unwrap();
    store.set_cursor("telegram.offset", "43", now_millis()).await.unwrap();
    assert_eq!(store.cursor("telegram.offset").await.unwrap().as_deref(), Some("43"));

    // Ann reports a broken item with a photo; the contact's language comes from the hint.
    let mut first = text("ann", "a1", "/start");
    first.language_hint = Some("ru-RU".into());
    first.contact_data = Some(serde_json::json!({ "keyboard": true }));
    assert_eq!(engine.accept(first).await.unwrap(), Accepted::Applied { replies: 1 });
    let ann = store.contact(engine_fixtures::CHANNEL, "ann").await.unwrap().unwrap();
    assert_eq!(ann.lang, Lang::Ru);
    assert_eq!(ann.contact_data, Some(serde_json::json!({ "keyboard": true })));
    assert_eq!(ann.display_name.as_deref(), Some("Customer ann"));
    engine.accept(button("ann", "a2", Action::Issue(IssueType::Order))).await.unwrap();
    engine.accept(text("ann", "a3", "ab-1234")).await.unwrap();
    let photo_event = event("ann", "a4", InboundKind::Input(Input::Photo { media: photo(), caption: None }));
    engine.accept(photo_event).await.unwrap();
    engine.accept(button("ann", "a5", Action::PhotosDone)).await.unwrap();
    engine.accept(text("ann", "a6", "It arrived broken")).await.unwrap();
    assert_eq!(state(&store, "ann").await, State::Queued { acknowledged: false });

    // Bob complains: high priority, ahead of Ann in the queue.
    engine.accept(button("bob", "b1", Action::Issue(IssueType::Complaint))).await.unwrap();
    engine.accept(text("bob", "b2", "The courier was rude")).await.unwrap();

    let queued = store
        .list_tickets(Some(TicketStatus::Queued), switchboard::store::Page::first(100_000))
        .await
        .unwrap();
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0].priority, Priority::High);
    assert_eq!(queued[0].issue_type, "complaint");
    let ann_ticket = &queued[1];
    assert_eq!(ann_ticket.issue_type, "order");
    assert_eq!(ann_ticket.order_id.as_deref(), Some("AB-1234"));
    assert_eq!(ann_ticket.priority, Priority::Normal);
    assert_eq!(ann_ticket.language, Lang::Ru);
    assert_eq!(ann_ticket.channel, engine_fixtures::CHANNEL);
    assert_eq!(ann_ticket.description.as_deref(), Some("It arrived broken"));
    assert_eq!(ann_ticket.attachments, vec![photo()]);
    assert_eq!(ann_ticket.last_customer_message.as_deref(), Some("It arrived broken"));
    assert_eq!(ann_ticket.rating, None);
    let json = serde_json::to_value(ann_ticket).unwrap();
    for field in
        ["id", "status", "issue_type", "order_id", "priority", "language", "description", "attachments"]
    {
        assert!(json.get(field).is_some(), "tickets JSON lacks {field}");
    }
    assert_eq!(json["status"], "queued");
    assert_eq!(json["attachments"][0]["content_type"], "image/jpeg");
    let ann_ticket_id = ann_ticket.id;
    let bob_ticket_id = queued[0].id;
    assert_eq!(store.tickets_ahead(ann_ticket_id).await.unwrap(), Some(1));
    assert_eq!(store.tickets_ahead(bob_ticket_id).await.unwrap(), Some(0));
    let overview = store.queue_overview().await.unwrap();
    assert_eq!((overview.queued_high, overview.queued_normal), (1, 1));

    // Two agents on two instances race for Ann's ticket: exactly one wins.
    let second_store = db.connect().await;
    let second_engine = start_engine(&second_store);
    let (alice, boris) =
        tokio::join!(engine.claim(ann_ticket_id, "alice"), second_engine.claim(ann_ticket_id, "boris"));
    let (winner, loser) = match (alice.unwrap(), boris.unwrap()) {
        (ClaimResult::Claimed, ClaimResult::TakenBy(owner)) => {
            assert_eq!(owner, "alice");
            ("alice", "boris")
        }
        (ClaimResult::TakenBy(owner), ClaimResult::Claimed) => {
            assert_eq!(owner, "boris");
            ("boris", "alice")
        }
        other => panic!("exactly one claim must win, got {other:?}"),
    };
    second_engine.shutdown().await;
    second_store.close().await;
    assert_eq!(engine.claim(ann_ticket_id, winner).await.unwrap(), ClaimResult::AlreadyYours);
    // The state keeps what the customer is shown: no display name was set, so no name at all.
    assert_eq!(state(&store, "ann").await, State::Assigned { agent: String::new() });

    // Only the owner writes to the customer or moves the ticket; notes stay internal.
    let (owner, colleague) = (Actor::new(winner, false), Actor::new(loser, false));
    let refused = engine.agent_reply(ann_ticket_id, &colleague, "Hi", Vec::new()).await;
    assert!(matches!(refused, Err(EngineError::NotAssignedTo { .. })), "{refused:?}");
    for refused in [
        engine.release(ann_ticket_id, &colleague).await,
        engine.resolve(ann_ticket_id, &colleague).await,
        engine.transfer(ann_ticket_id, &colleague, loser).await,
    ] {
        assert!(matches!(refused, Err(EngineError::NotAssignedTo { .. })), "{refused:?}");
    }
    assert_eq!(state(&store, "ann").await, State::Assigned { agent: String::new() });
    engine
        .agent_reply(ann_ticket_id, &owner, "Sorry! A replacement is on its way.", Vec::new())
        .await
        .unwrap();
    engine.add_note(ann_ticket_id, winner, "Warehouse confirmed stock").await.unwrap();
    // While an agent holds the conversation the bot stays quiet.
    assert_eq!(
        engine.accept(text("ann", "a7", "Thank you!")).await.unwrap(),
        Accepted::Applied { replies: 0 }
    );

    engine.resolve(ann_ticket_id, &owner).await.unwrap();
    assert_eq!(state(&store, "ann").await, State::AwaitingRating);
    engine.accept(button("ann", "a8", Action::Rate(4))).await.unwrap();
    engine.accept(text("ann", "a9", "Quick help")).await.unwrap();
    assert_eq!(state(&store, "ann").await, State::Menu);

    let detail = store.ticket(ann_ticket_id).await.unwrap().expect("ticket");
    assert_eq!(detail.ticket.status, TicketStatus::Resolved);
    assert_eq!(detail.ticket.rating, Some(4));
    assert_eq!(detail.ticket.comment.as_deref(), Some("Quick help"));
    assert_eq!(detail.ticket.assigned_agent.as_deref(), Some(winner));
    assert!(detail.ticket.first_assigned_at.is_some());
    assert!(detail.ticket.first_agent_reply_at.is_some());
    assert!(detail.ticket.resolved_at.is_some());
    assert_eq!(detail.notes.len(), 1);
    assert_eq!(detail.notes[0].text, "Warehouse confirmed stock");
    let agent_lines: Vec<_> = detail.messages.iter().filter(|m| m.author == Author::Agent).collect();
    assert_eq!(agent_lines.len(), 1);
    assert_eq!(agent_lines[0].agent.as_deref(), Some(winner));
    assert!(detail.messages.iter().any(|m| m.author == Author::Customer && m.attachments == vec![photo()]));
    let show = serde_json::to_value(&detail).unwrap();
    assert!(show["messages"][0].get("author").is_some() && show["messages"][0].get("at").is_some());
    assert!(matches!(engine.resolve(ann_ticket_id, &owner).await, Err(EngineError::NotAllowed { .. })));

    // Everything Ann was sent, in order, agent words included.
    drain(&worker).await;
    assert_eq!(
        channel.keys_for("ann"),
        vec![
            vec![keys::GREETING, keys::MENU_PROMPT],
            vec![keys::ASK_ORDER_ID],
            vec![keys::ORDER_ID_ACCEPTED, keys::ASK_PHOTO_REQUIRED],
            vec![keys::PHOTO_RECEIVED],
            vec![keys::ASK_DESCRIPTION],
            vec![keys::HANDOFF_QUEUED],
            // The agents of this story have no display name.
            vec![keys::AGENT_JOINED_UNNAMED],
            vec!["agent:Sorry! A replacement is on its way."],
            vec![keys::ASK_RATING],
            vec![keys::ASK_COMMENT],
            vec![keys::THANKS_FOR_RATING, keys::MENU_PROMPT],
        ]
    );
    let ann_deliveries = channel.delivered();
    assert!(ann_deliveries.iter().filter(|d| d.external_id == "ann").all(|d| d.lang == Lang::Ru));

    // Reopen, then Bob withdraws his complaint himself.
    let refused = engine.reopen(ann_ticket_id, &colleague).await;
    assert!(matches!(refused, Err(EngineError::NotAssignedTo { .. })), "{refused:?}");
    engine.reopen(ann_ticket_id, &owner).await.unwrap();
    assert_eq!(store.ticket(ann_ticket_id).await.unwrap().unwrap().ticket.status, TicketStatus::Assigned);
    engine.resolve(ann_ticket_id, &owner).await.unwrap();
    engine.accept(text("bob", "b3", "/cancel")).await.unwrap();
    let bob_ticket = store.ticket(bob_ticket_id).await.unwrap().unwrap().ticket;
    assert_eq!(bob_ticket.status, TicketStatus::Resolved);
    assert!(bob_ticket.withdrawn);

    // Carl waits: one reminder per interval, then transfer and release.
    engine.accept(text("carl", "c1", "/agent")).await.unwrap();
    let carl_conversation = conversation_id(&store, "carl").await;
    assert_eq!(engine.queue_reminders(Duration::ZERO, Duration::from_secs(3600)).await.unwrap(), 1);
    assert_eq!(engine.queue_reminders(Duration::ZERO, Duration::from_secs(3600)).await.unwrap(), 0);
    let carl_ticket = store
        .list_tickets(Some(TicketStatus::Queued), switchboard::store::Page::first(100_000))
        .await
        .unwrap()[0]
        .id;
    let refused = engine.resolve(carl_ticket, &Actor::new("alice", false)).await;
    assert!(matches!(refused, Err(EngineError::NotAssignedTo { .. })), "a queued ticket is claimed first");
    assert_eq!(engine.claim(carl_ticket, "alice").await.unwrap(), ClaimResult::Claimed);
    // Boris has a display name; customers see it (alice has none, so she is the team).
    switchboard::console::agents::create_agent(&*store, "boris", "correct horse battery", Role::Agent, 0)
        .await
        .unwrap();
    switchboard::console::agents::set_profile(&*store, "boris", Some("Boris P."), None).await.unwrap();
    engine.transfer(carl_ticket, &Actor::new("alice", false), "boris").await.unwrap();
    assert_eq!(state(&store, "carl").await, State::Assigned { agent: "Boris P.".into() });
    // An admin may act on anyone's ticket.
    engine.release(carl_ticket, &Actor::new("root", true)).await.unwrap();
    assert_eq!(state(&store, "carl").await, State::Queued { acknowledged: false });
    assert_eq!(store.tickets_ahead(carl_ticket).await.unwrap(), Some(0));
    drain(&worker).await;
    assert_eq!(
        channel.keys_for("carl"),
        vec![
            vec![keys::HANDOFF_QUEUED],
            vec![keys::QUEUE_UPDATE],
            vec![keys::AGENT_JOINED_UNNAMED],
            vec![keys::AGENT_JOINED],
            vec![keys::RETURNED_TO_QUEUE]
        ]
    );
    assert_eq!(store.outbox_of_conversation(carl_conversation).await.unwrap().len(), 5);
    assert!(store.dead_letters(10).await.unwrap().is_empty());
    assert_eq!(store.pending_outbox().await.unwrap(), 0);
    assert!(matches!(engine.claim(999_999, "alice").await, Err(EngineError::TicketNotFound(999_999))));

    engine.shutdown().await;
    store.close().await;
}

/// The engine's writer runs on a thread and runtime of its own. On PostgreSQL it asks for a
/// connection opened there (a socket dies with the runtime that opened it): its commits are
/// seen by the shared store, and closing it before its runtime ends leaves the shared pool
/// working. SQLite's connections serve any runtime, so it needs none.
#[tokio::test]
async fn a_writer_on_sqlite_needs_no_connection_of_its_own() {
    let sqlite = TestDb::sqlite();
    assert!(sqlite.connect().await.writer_for_this_runtime().await.unwrap().is_none());
    sqlite.drop_database().await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn a_writer_on_another_runtime_gets_a_connection_of_its_own_on_postgres() {
    let db = TestDb::postgres().await;
    let store = db.connect().await;
    let shared = Arc::clone(&store);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let writer = shared.writer_for_this_runtime().await.unwrap().expect("PostgreSQL opens one");
            let mut tx = writer.begin().await.unwrap();
            tx.set_cursor("writer-test", "42", now_millis()).await.unwrap();
            tx.commit().await.unwrap();
            writer.close().await;
        });
    })
    .join()
    .expect("the writer's thread finished");
    assert_eq!(store.cursor("writer-test").await.unwrap().as_deref(), Some("42"));
    let mut tx = store.begin().await.unwrap();
    tx.set_cursor("writer-test", "43", now_millis()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.cursor("writer-test").await.unwrap().as_deref(), Some("43"));
    db.drop_database().await;
}
