//! The engine and the outbox against a real SQLite file: exactly-once inbound, durability
//! across a restart, delivery failures, and per-conversation order.

use crate::support::engine_fixtures::{self, RecordingChannel, TestDb, button, event, start_engine, text};
use std::sync::Arc;
use std::time::Duration;
use switchboard::channels::{Accepted, DeliveryError, InboundKind, Intake};
use switchboard::core::dialog::State;
use switchboard::core::keys;
use switchboard::core::message::{Action, IssueType};
use switchboard::engine::Engine;
use switchboard::outbox::{DeliveryAttempt, OutboxSettings, OutboxWorker};
use switchboard::store::{OutboxStatus, Store, now_millis};

fn worker(store: &Arc<dyn Store>, channel: &Arc<RecordingChannel>, engine: &Engine) -> OutboxWorker {
    OutboxWorker::new(Arc::clone(store), channel.channels(), OutboxSettings::default(), engine.outbox_link())
}

async fn drain(worker: &OutboxWorker) -> usize {
    let mut delivered = 0;
    while worker.try_deliver_next().await.unwrap() == DeliveryAttempt::Delivered {
        delivered += 1;
    }
    delivered
}

async fn state_of(store: &Arc<dyn Store>, external_id: &str) -> (State, i64) {
    let contact =
        store.contact(engine_fixtures::CHANNEL, external_id).await.unwrap().expect("contact exists");
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().expect("conversation exists");
    (serde_json::from_str(&conversation.state).unwrap(), conversation.version)
}

#[tokio::test]
async fn the_same_event_twice_changes_and_sends_once() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let worker = worker(&store, &channel, &engine);

    let first = engine.accept(button("ann", "u1", Action::Issue(IssueType::Delivery))).await.unwrap();
    assert_eq!(first, Accepted::Applied { replies: 1 });
    let after_first = state_of(&store, "ann").await;
    assert_eq!(
        after_first.0,
        State::AwaitingOrderId { issue: IssueType::Delivery, note: None, lookup: None }
    );

    let again = engine.accept(button("ann", "u1", Action::Issue(IssueType::Delivery))).await.unwrap();
    assert_eq!(again, Accepted::Duplicate);
    assert_eq!(state_of(&store, "ann").await, after_first, "a redelivery must not touch the state");

    // A redelivery inside one long-poll batch is caught too.
    let batch = vec![text("ann", "u2", "AB-1234"), text("ann", "u2", "AB-1234")];
    let results = engine.accept_batch(batch).await.unwrap();
    assert_eq!(results, vec![Accepted::Applied { replies: 1 }, Accepted::Duplicate]);

    assert_eq!(drain(&worker).await, 2);
    assert_eq!(
        channel.keys_for("ann"),
        vec![vec![keys::ASK_ORDER_ID], vec![keys::ORDER_ID_ACCEPTED, keys::ASK_PHOTO_OPTIONAL]]
    );
    let contact = store.contact(engine_fixtures::CHANNEL, "ann").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap();
    let transcript = store.transcript(conversation.id).await.unwrap();
    let customer_lines = transcript.iter().filter(|entry| entry.text.as_deref() == Some("AB-1234")).count();
    assert_eq!(customer_lines, 1, "the duplicate is not logged twice");
    engine.shutdown().await;
}

#[tokio::test]
async fn a_reply_committed_before_a_crash_is_delivered_after_restart() {
    let db = TestDb::sqlite();
    {
        let store = db.connect().await;
        let engine = start_engine(&store);
        let handled = engine.accept(text("bob", "u1", "/start")).await.unwrap();
        assert_eq!(handled, Accepted::Applied { replies: 1 });
        // The process dies here: no worker ever ran.
        drop(engine);
        store.close().await;
    }
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let worker = worker(&store, &channel, &engine);
    assert_eq!(drain(&worker).await, 1);
    assert_eq!(channel.keys_for("bob"), vec![vec![keys::GREETING, keys::MENU_PROMPT]]);
    // And the event is still known after the restart.
    assert_eq!(engine.accept(text("bob", "u1", "/start")).await.unwrap(), Accepted::Duplicate);
    engine.shutdown().await;
}

/// A channel that checks, at each delivery, that the contact's previous reply is already
/// recorded as sent: then a crash can leave at most one reply per conversation to send again.
struct CheckingChannel {
    store: Arc<dyn Store>,
    last_delivered: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    delivered: std::sync::atomic::AtomicUsize,
    sent_before_recorded: std::sync::Mutex<Vec<i64>>,
}

#[async_trait::async_trait]
impl switchboard::channels::Channel for CheckingChannel {
    fn name(&self) -> &'static str {
        engine_fixtures::CHANNEL
    }

    async fn deliver(&self, delivery: &switchboard::channels::Delivery) -> Result<(), DeliveryError> {
        let previous =
            self.last_delivered.lock().unwrap().insert(delivery.external_id.clone(), delivery.outbox_id);
        if let Some(previous) = previous {
            let row = self.store.outbox_row(previous).await.unwrap().expect("the previous row exists");
            if row.status != OutboxStatus::Sent {
                self.sent_before_recorded.lock().unwrap().push(previous);
            }
        }
        self.delivered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn each_reply_is_recorded_as_sent_before_the_next_one_of_its_conversation_goes_out() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    for customer in ["ann", "bob", "cy"] {
        engine.accept(text(customer, &format!("{customer}-1"), "/start")).await.unwrap();
        engine
            .accept(button(customer, &format!("{customer}-2"), Action::Issue(IssueType::Delivery)))
            .await
            .unwrap();
        engine.accept(text(customer, &format!("{customer}-3"), "AB-1234")).await.unwrap();
    }
    let channel = Arc::new(CheckingChannel {
        store: Arc::clone(&store),
        last_delivered: Default::default(),
        delivered: Default::default(),
        sent_before_recorded: Default::default(),
    });
    let channels = std::collections::HashMap::from([(
        engine_fixtures::CHANNEL,
        Arc::clone(&channel) as Arc<dyn switchboard::channels::Channel>,
    )]);
    let worker =
        OutboxWorker::new(Arc::clone(&store), channels, OutboxSettings::default(), engine.outbox_link());
    // One round takes all nine rows: three conversations side by side, three rows each.
    let report = worker.deliver_due(now_millis()).await.unwrap();
    assert_eq!((report.claimed, report.delivered), (9, 9));
    assert_eq!(channel.delivered.load(std::sync::atomic::Ordering::SeqCst), 9);
    assert_eq!(*channel.sent_before_recorded.lock().unwrap(), Vec::<i64>::new());
    assert_eq!(store.pending_outbox().await.unwrap(), 0);
    engine.shutdown().await;
}

/// A process that died after claiming rows leaves them leased. SQLite has one process, so its
/// next start gives them back at once; PostgreSQL cannot tell a dead instance's lease from a
/// live one's and waits for the lease to end.
async fn abandoned_leases(db: TestDb, released_at_start: bool) {
    let lease = Duration::from_secs(60);
    {
        let store = db.connect().await;
        let engine = start_engine(&store);
        engine.accept(text("dee", "d1", "/start")).await.unwrap();
        engine.accept(button("dee", "d2", Action::Issue(IssueType::Delivery))).await.unwrap();
        engine.shutdown().await;
        let claimed = store.claim_outbox(&[engine_fixtures::CHANNEL], now_millis(), lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        // The process dies here, holding the lease.
        store.close().await;
    }
    let store = db.connect().await;
    assert!(
        store.claim_outbox(&[engine_fixtures::CHANNEL], now_millis(), lease, 10).await.unwrap().is_empty()
    );
    let released = store.release_abandoned_leases().await.unwrap();
    let claimed = store.claim_outbox(&[engine_fixtures::CHANNEL], now_millis(), lease, 10).await.unwrap();
    if released_at_start {
        assert_eq!((released, claimed.len()), (2, 2));
    } else {
        assert_eq!((released, claimed.len()), (0, 0));
        let later = now_millis() + switchboard::store::duration_millis(lease) + 1;
        assert_eq!(store.claim_outbox(&[engine_fixtures::CHANNEL], later, lease, 10).await.unwrap().len(), 2);
    }
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn leases_of_a_dead_process_are_released_at_start_on_sqlite_only() {
    abandoned_leases(TestDb::sqlite(), true).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn leases_of_a_dead_process_are_kept_until_they_end_on_postgres() {
    abandoned_leases(TestDb::postgres().await, false).await;
}

#[tokio::test]
async fn a_permanent_failure_dead_letters_and_holds_the_contact() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let worker = worker(&store, &channel, &engine);

    engine.accept(button("cat", "u1", Action::Issue(IssueType::Account))).await.unwrap();
    channel
        .fail_next("cat", DeliveryError::Permanent { reason: "bot was blocked".into(), unreachable: true });
    assert_eq!(worker.try_deliver_next().await.unwrap(), DeliveryAttempt::DeadLettered);

    let contact = store.contact(engine_fixtures::CHANNEL, "cat").await.unwrap().unwrap();
    assert!(!contact.reachable);
    let dead = store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].external_id, "cat");
    assert_eq!(dead[0].last_error.as_deref(), Some("bot was blocked"));

    // A customer who writes again can be answered (nobody can write to a bot they blocked, and
    // VK lets a community reply to whoever wrote to it): their message clears the flag.
    engine.accept(text("cat", "u2", "/help")).await.unwrap();
    assert!(store.contact(engine_fixtures::CHANNEL, "cat").await.unwrap().unwrap().reachable);
    assert_eq!(drain(&worker).await, 1);
    assert_eq!(channel.keys_for("cat"), vec![vec![keys::HELP, keys::ASK_DESCRIPTION]]);
    engine.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_honoured_to_the_millisecond_and_not_counted() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let worker = worker(&store, &channel, &engine);

    engine.accept(text("dan", "u1", "/menu")).await.unwrap();
    let contact = store.contact(engine_fixtures::CHANNEL, "dan").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap();
    let row_id = store.outbox_of_conversation(conversation.id).await.unwrap()[0].id;

    channel.fail_next("dan", DeliveryError::RetryAfter(Duration::from_secs(30)));
    let now = now_millis();
    assert_eq!(worker.try_deliver_next_at(now).await.unwrap(), DeliveryAttempt::Retry);
    let row = store.outbox_row(row_id).await.unwrap().unwrap();
    assert_eq!(row.next_attempt_at, now + 30_000);
    assert_eq!(row.attempts, 0, "a rate limit is not the row's fault");
    assert_eq!(row.status, OutboxStatus::Pending);

    assert_eq!(worker.try_deliver_next_at(now + 29_999).await.unwrap(), DeliveryAttempt::Empty);
    assert_eq!(worker.try_deliver_next_at(now + 30_000).await.unwrap(), DeliveryAttempt::Delivered);
    assert_eq!(store.outbox_row(row_id).await.unwrap().unwrap().status, OutboxStatus::Sent);
    engine.shutdown().await;
}

#[tokio::test]
async fn transient_failures_back_off_then_dead_letter() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let settings = OutboxSettings { max_attempts: 2, ..OutboxSettings::default() };
    let worker = OutboxWorker::new(Arc::clone(&store), channel.channels(), settings, engine.outbox_link());

    engine.accept(text("eve", "u1", "/menu")).await.unwrap();
    channel.fail_next("eve", DeliveryError::Transient("timeout".into()));
    channel.fail_next("eve", DeliveryError::Transient("timeout".into()));
    let now = now_millis();
    assert_eq!(worker.try_deliver_next_at(now).await.unwrap(), DeliveryAttempt::Retry);
    let contact = store.contact(engine_fixtures::CHANNEL, "eve").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap();
    let row = store.outbox_of_conversation(conversation.id).await.unwrap().remove(0);
    assert_eq!(row.attempts, 1);
    // Base backoff 1 s with equal jitter: between 0.5 s and 1 s from now.
    assert!((now + 500..=now + 1_000).contains(&row.next_attempt_at), "{} vs {now}", row.next_attempt_at);
    assert_eq!(worker.try_deliver_next_at(now + 1_000).await.unwrap(), DeliveryAttempt::DeadLettered);
    let row = store.outbox_row(row.id).await.unwrap().unwrap();
    assert_eq!(row.status, OutboxStatus::Dead);
    // A transient failure never marks the contact unreachable.
    assert!(store.contact(engine_fixtures::CHANNEL, "eve").await.unwrap().unwrap().reachable);
    engine.shutdown().await;
}

#[tokio::test]
async fn interleaved_conversations_each_stay_in_order() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = Arc::new(start_engine(&store));
    let channel = RecordingChannel::new();

    // Two customers type at the same time; their events reach the engine interleaved and in
    // several concurrent submissions.
    let script = |who: &str| {
        vec![
            text(who, &format!("{who}-1"), "/start"),
            button(who, &format!("{who}-2"), Action::Issue(IssueType::Delivery)),
            text(who, &format!("{who}-3"), "AB-1234"),
            button(who, &format!("{who}-4"), Action::SkipPhoto),
            text(who, &format!("{who}-5"), "The parcel never came"),
        ]
    };
    let mut customers = Vec::new();
    for who in ["ann", "bob"] {
        let engine = Arc::clone(&engine);
        let events = script(who);
        customers.push(tokio::spawn(async move {
            for event in events {
                engine.accept(event).await.unwrap();
            }
        }));
    }
    for customer in customers {
        customer.await.unwrap();
    }

    let expected = vec![
        vec![keys::GREETING, keys::MENU_PROMPT],
        vec![keys::ASK_ORDER_ID],
        vec![keys::ORDER_ID_ACCEPTED, keys::ASK_PHOTO_OPTIONAL],
        vec![keys::ASK_DESCRIPTION],
        vec![keys::HANDOFF_QUEUED],
    ];
    for who in ["ann", "bob"] {
        let contact = store.contact(engine_fixtures::CHANNEL, who).await.unwrap().unwrap();
        let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap();
        let bot_lines: Vec<Vec<String>> = store
            .transcript(conversation.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|entry| entry.author == switchboard::store::Author::Bot)
            .map(|entry| entry.text.expect("a bot row").split("\n\n").map(str::to_owned).collect())
            .collect();
        assert_eq!(bot_lines, expected, "log order for {who}");
    }

    // Deliver with the batching worker (both conversations in flight at once).
    let worker = OutboxWorker::new(
        Arc::clone(&store),
        channel.channels(),
        OutboxSettings { batch: 3, ..OutboxSettings::default() },
        engine.outbox_link(),
    );
    while worker.deliver_due(now_millis()).await.unwrap().claimed > 0 {}
    assert_eq!(channel.keys_for("ann"), expected);
    assert_eq!(channel.keys_for("bob"), expected);
    assert_eq!(store.list_tickets(None, switchboard::store::Page::first(100_000)).await.unwrap().len(), 2);
    engine.shutdown().await;
}

#[tokio::test]
async fn a_held_row_blocks_the_rest_of_its_conversation_only() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let worker = worker(&store, &channel, &engine);

    for (who, id) in [("fay", "f"), ("gus", "g")] {
        engine.accept(text(who, &format!("{id}1"), "/start")).await.unwrap();
        engine.accept(button(who, &format!("{id}2"), Action::Issue(IssueType::Delivery))).await.unwrap();
    }
    channel.fail_next("fay", DeliveryError::RetryAfter(Duration::from_secs(60)));
    let now = now_millis();
    let report = worker.deliver_due(now).await.unwrap();
    assert_eq!(report.retried, 1);
    // gus got both messages; fay got nothing, not even her second message.
    let both = vec![vec![keys::GREETING, keys::MENU_PROMPT], vec![keys::ASK_ORDER_ID]];
    assert_eq!(channel.keys_for("gus"), both);
    assert!(channel.keys_for("fay").is_empty());
    assert_eq!(worker.deliver_due(now + 1).await.unwrap().claimed, 0);
    assert_eq!(worker.deliver_due(now + 60_000).await.unwrap().delivered, 2);
    assert_eq!(channel.keys_for("fay"), both);
    engine.shutdown().await;
}

#[tokio::test]
async fn group_chats_edits_and_unreadable_states_are_handled_without_the_dialog() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let worker = worker(&store, &channel, &engine);

    assert_eq!(
        engine.accept(event("group-1", "g1", InboundKind::GroupChat)).await.unwrap(),
        Accepted::Applied { replies: 1 }
    );
    assert_eq!(state_of(&store, "group-1").await.0, State::Menu);
    engine.accept(text("hal", "u1", "/help")).await.unwrap();
    let edited = event("hal", "u2", InboundKind::Edited { text: "/help me".into() });
    assert_eq!(engine.accept(edited).await.unwrap(), Accepted::Applied { replies: 0 });

    // Someone edits the stored state by hand and breaks it.
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let mut raw =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{path}")).await.unwrap();
    sqlx::query("UPDATE conversations SET state = '{\"step\":\"no_such_step\"}'")
        .execute(&mut raw)
        .await
        .unwrap();
    let handled = engine.accept(text("hal", "u3", "/menu")).await.unwrap();
    assert_eq!(handled, Accepted::Applied { replies: 1 });
    assert_eq!(state_of(&store, "hal").await.0, State::Menu);
    let contact = store.contact(engine_fixtures::CHANNEL, "hal").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap();
    let transcript = store.transcript(conversation.id).await.unwrap();
    assert!(transcript.iter().any(|entry| entry.author == switchboard::store::Author::System
        && entry.text.as_deref().is_some_and(|text| text.contains("no_such_step"))));
    assert!(transcript.iter().any(|entry| entry.text.as_deref() == Some("/help me")));

    drain(&worker).await;
    assert_eq!(channel.keys_for("group-1"), vec![vec![keys::GROUP_CHAT_NOT_SUPPORTED]]);
    engine.shutdown().await;
}

/// Ticket writes are gathered per group commit (`engine::tickets`). Within one batch a
/// conversation may open a ticket and then withdraw it or add a photo to it, and a ticket opened
/// in an earlier batch is found without asking the database per event.
#[tokio::test]
async fn tickets_opened_changed_and_withdrawn_inside_one_group_commit() {
    tickets_in_one_group_commit(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn tickets_opened_changed_and_withdrawn_inside_one_group_commit_on_postgres() {
    tickets_in_one_group_commit(TestDb::postgres().await).await;
}

async fn tickets_in_one_group_commit(db: TestDb) {
    let store = db.connect().await;
    let engine = start_engine(&store);
    let up_to_description = |who: &str| {
        vec![
            button(who, &format!("{who}-1"), Action::Issue(IssueType::Delivery)),
            text(who, &format!("{who}-2"), "AB-1234"),
            button(who, &format!("{who}-3"), Action::SkipPhoto),
        ]
    };
    // Carol's ticket exists before the batch under test.
    let mut earlier = up_to_description("carol");
    earlier.push(text("carol", "carol-4", "Where is my parcel?"));
    engine.accept_batch(earlier).await.unwrap();

    let photo = switchboard::core::message::MediaRef {
        sha256: "ab".repeat(32),
        content_type: "image/png".to_owned(),
        bytes: 68,
    };
    let mut batch = up_to_description("ann");
    batch.extend(up_to_description("bob"));
    batch.extend(up_to_description("dave"));
    batch.push(text("ann", "ann-4", "It never came"));
    batch.push(text("bob", "bob-4", "The box was empty"));
    batch.push(text("dave", "dave-4", "Damaged on arrival"));
    batch.push(text("ann", "ann-5", "/cancel"));
    batch.push(text("carol", "carol-5", "/cancel"));
    batch.push(event(
        "dave",
        "dave-5",
        InboundKind::Input(switchboard::core::dialog::Input::Photo { media: photo.clone(), caption: None }),
    ));
    let results = engine.accept_batch(batch).await.unwrap();
    assert!(results.iter().all(|result| matches!(result, Accepted::Applied { .. })), "{results:?}");

    let tickets = store.list_tickets(None, switchboard::store::Page::first(100_000)).await.unwrap();
    let of = |who: &str| {
        let found: Vec<_> = tickets.iter().filter(|ticket| ticket.external_id == who).collect();
        assert_eq!(found.len(), 1, "{who} has one ticket: {tickets:?}");
        found[0].clone()
    };
    let (ann, bob, carol, dave) = (of("ann"), of("bob"), of("carol"), of("dave"));
    assert!(ann.withdrawn && ann.resolved_at.is_some(), "opened and withdrawn in one batch: {ann:?}");
    assert!(carol.withdrawn, "opened earlier, withdrawn now: {carol:?}");
    assert_eq!(bob.status, switchboard::core::handoff::TicketStatus::Queued);
    assert!(!bob.withdrawn && bob.attachments.is_empty());
    assert_eq!(dave.status, switchboard::core::handoff::TicketStatus::Queued);
    assert_eq!(dave.attachments, vec![photo], "a photo after the ticket opened in the same batch");
    assert_eq!(state_of(&store, "ann").await.0, State::Menu);
    assert_eq!(state_of(&store, "carol").await.0, State::Menu);
    engine.shutdown().await;
    store.close().await;
    db.drop_database().await;
}

/// Waits (bounded) until `done` holds; panics with `what` otherwise.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn the_running_worker_gets_replies_handed_over_and_keeps_them_behind_a_retry() {
    hand_over_and_retry(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn the_running_worker_gets_replies_handed_over_and_keeps_them_behind_a_retry_on_postgres() {
    hand_over_and_retry(TestDb::postgres().await).await;
}

async fn hand_over_and_retry(db: TestDb) {
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let settings = OutboxSettings {
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(100),
        poll_interval: Duration::from_millis(20),
        ..OutboxSettings::default()
    };
    let worker = OutboxWorker::new(Arc::clone(&store), channel.channels(), settings, engine.outbox_link());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    let direct = engine.outbox_link().direct;
    eventually("the worker takes hand-overs", async || direct.lease().is_some()).await;

    // Replies are stored already leased and given to the worker, which holds them while the
    // platform call is under way.
    channel.close_gate();
    engine.accept(text("ann", "a1", "/start")).await.unwrap();
    let contact = store.contact(engine_fixtures::CHANNEL, "ann").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap().id;
    let rows = store.outbox_of_conversation(conversation).await.unwrap();
    assert_eq!(rows.len(), 1, "the greeting and the menu are one message: {rows:?}");
    assert!(
        rows.iter().all(|row| row.status == OutboxStatus::Pending && row.lease_until.is_some()),
        "{rows:?}"
    );
    assert_eq!(direct.held([conversation])[&conversation], 1);
    channel.open_gate();
    eventually("the greeting is delivered and recorded", async || {
        store.pending_outbox().await.unwrap() == 0 && direct.held([conversation])[&conversation] == 0
    })
    .await;
    assert_eq!(channel.keys_for("ann"), vec![vec![keys::GREETING, keys::MENU_PROMPT]]);

    // The next reply fails and waits for its retry; replies committed meanwhile must not
    // overtake it, whichever path they take.
    channel.fail_next("ann", DeliveryError::Transient("platform hiccup".to_owned()));
    engine.accept(button("ann", "a2", Action::Issue(IssueType::Delivery))).await.unwrap();
    engine.accept(text("ann", "a3", "AB-1234")).await.unwrap();
    engine.accept(button("bob", "b1", Action::Issue(IssueType::Delivery))).await.unwrap();
    eventually("every reply is delivered", async || {
        channel.keys_for("ann").len() == 3 && store.pending_outbox().await.unwrap() == 0
    })
    .await;
    assert_eq!(
        channel.keys_for("ann"),
        vec![
            vec![keys::GREETING, keys::MENU_PROMPT],
            vec![keys::ASK_ORDER_ID],
            vec![keys::ORDER_ID_ACCEPTED, keys::ASK_PHOTO_OPTIONAL]
        ]
    );
    assert_eq!(channel.keys_for("bob"), vec![vec![keys::ASK_ORDER_ID]]);
    let retried = store.outbox_of_conversation(conversation).await.unwrap();
    assert_eq!(retried[1].attempts, 1, "the failed reply was tried twice: {retried:?}");
    assert_eq!(direct.held([conversation])[&conversation], 0);

    stop.send(()).unwrap();
    running.await.unwrap();
    assert_eq!(direct.lease(), None, "a stopped worker takes no more hand-overs");
    engine.shutdown().await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn a_long_poll_batch_and_its_position_are_stored_together() {
    long_poll_batch_and_position(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn a_long_poll_batch_and_its_position_are_stored_together_on_postgres() {
    long_poll_batch_and_position(TestDb::postgres().await).await;
}

/// PostgreSQL stores the positions with the dedupe, and the contacts with their
/// conversations, in one statement each: a batch repeating an event, mixing new and known
/// customers, and two callers' positions of one cursor in (likely) one group commit.
async fn long_poll_batch_and_position(db: TestDb) {
    let store = db.connect().await;
    let engine = start_engine(&store);
    assert_eq!(store.cursor("telegram:1").await.unwrap(), None);

    let results = engine
        .accept_batch_at(vec![text("ann", "p1", "/start"), text("bob", "p2", "/start")], ("telegram:1", "3"))
        .await
        .unwrap();
    assert_eq!(results, vec![Accepted::Applied { replies: 1 }, Accepted::Applied { replies: 1 }]);
    assert_eq!(store.cursor("telegram:1").await.unwrap().as_deref(), Some("3"));

    // A batch of redeliveries only (the early return inside the transaction) still moves the
    // position, and so does a batch with no events left after parsing.
    let again = engine.accept_batch_at(vec![text("ann", "p1", "/start")], ("telegram:1", "4")).await.unwrap();
    assert_eq!(again, vec![Accepted::Duplicate]);
    assert_eq!(store.cursor("telegram:1").await.unwrap().as_deref(), Some("4"));
    assert!(engine.accept_batch_at(Vec::new(), ("telegram:1", "5")).await.unwrap().is_empty());
    assert_eq!(store.cursor("telegram:1").await.unwrap().as_deref(), Some("5"));
    assert_eq!(store.pending_outbox().await.unwrap(), 2, "the redelivery queued nothing");

    // An event twice in one batch counts once; a known customer and a new one side by side.
    let mixed = vec![text("ann", "p6", "/start"), text("ann", "p6", "/start"), text("cid", "p7", "/start")];
    let results = engine.accept_batch_at(mixed, ("telegram:1", "8")).await.unwrap();
    assert_eq!(
        results,
        vec![Accepted::Applied { replies: 1 }, Accepted::Duplicate, Accepted::Applied { replies: 1 }]
    );
    // Two callers at once: whether their batches share a group commit or not, the position
    // of the one that came second stands.
    let (first, second) = tokio::join!(
        engine.accept_batch_at(vec![text("bob", "p9", "/start")], ("telegram:1", "10")),
        engine.accept_batch_at(vec![text("dan", "p11", "/start")], ("telegram:1", "12")),
    );
    assert_eq!(first.unwrap(), vec![Accepted::Applied { replies: 1 }]);
    assert_eq!(second.unwrap(), vec![Accepted::Applied { replies: 1 }]);
    assert_eq!(store.cursor("telegram:1").await.unwrap().as_deref(), Some("12"));
    assert_eq!(store.pending_outbox().await.unwrap(), 6);
    // Each applied /start logged once with its reply; the repeat logged nothing.
    for (customer, starts) in [("ann", 2), ("bob", 2), ("cid", 1), ("dan", 1)] {
        let contact = store.contact(engine_fixtures::CHANNEL, customer).await.unwrap().expect("a contact");
        let conversation = store.conversation_of_contact(contact.id).await.unwrap().expect("a conversation");
        let logged = store.transcript(conversation.id).await.unwrap();
        assert_eq!(logged.len(), 2 * starts, "{customer}");
    }
    engine.shutdown().await;
    store.close().await;
    db.drop_database().await;
}

/// On SQLite a "sent" mark that finds a write transaction under way goes into that
/// transaction's commit instead of waiting to commit on its own after it; if that transaction
/// is given up, the mark is written on its own once the lock is free. Either way the caller
/// returns only once its rows are marked.
#[tokio::test]
async fn sent_marks_ride_along_with_the_write_transaction_under_way() {
    use switchboard::store::{DeliveryOutcome, OutboxStatus};
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    for who in ["eve", "fay", "gus", "hal"] {
        engine.accept(text(who, &format!("{who}-1"), "/start")).await.unwrap();
    }
    engine.shutdown().await;
    let jobs = store
        .claim_outbox(&[engine_fixtures::CHANNEL], now_millis(), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 4);
    let sent = |range: std::ops::Range<usize>| -> Vec<_> {
        jobs[range].iter().map(|job| (job.clone(), DeliveryOutcome::Sent)).collect()
    };
    let status = |id: i64| {
        let store = Arc::clone(&store);
        async move { store.outbox_row(id).await.unwrap().unwrap().status }
    };

    // A transaction that commits takes the mark along.
    let tx = store.begin().await.unwrap();
    let first = sent(0..2);
    let marking = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.finish_outbox(&first, now_millis()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!marking.is_finished(), "the mark waits for the write lock");
    tx.commit().await.unwrap();
    marking.await.unwrap().unwrap();
    assert_eq!(status(jobs[0].id).await, OutboxStatus::Sent);
    assert_eq!(status(jobs[1].id).await, OutboxStatus::Sent);

    // A transaction given up leaves the mark to be written on its own.
    let tx = store.begin().await.unwrap();
    let second = sent(2..4);
    let marking = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.finish_outbox(&second, now_millis()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(tx);
    marking.await.unwrap().unwrap();
    assert_eq!(status(jobs[2].id).await, OutboxStatus::Sent);
    assert_eq!(status(jobs[3].id).await, OutboxStatus::Sent);
    assert_eq!(store.pending_outbox().await.unwrap(), 0);
    store.close().await;
}

/// The log is copied back into the database file by the background checkpointer, not by the
/// commit that happens to fill it: after a few batches (far below any automatic checkpoint)
/// the database file itself holds them, while the engine keeps committing.
#[tokio::test]
async fn the_sqlite_log_is_checkpointed_in_the_background() {
    let db = TestDb::sqlite();
    let path = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
    let store = db.connect().await;
    let engine = start_engine(&store);
    let size = || std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
    let before = size();
    for n in 0..40 {
        engine.accept(text(&format!("c{n}"), &format!("c{n}-1"), "/start")).await.unwrap();
    }
    eventually("the database file has grown by checkpoints", async || size() > before).await;
    engine.shutdown().await;
    store.close().await;
}

/// On a channel without buttons (`core::choices`), "1" presses the first button of the last
/// question, across a restart of the engine, and a channel with buttons reads "1" as text.
#[tokio::test]
async fn numbers_press_the_buttons_on_offer_on_a_channel_without_buttons() {
    numbered_choices(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn numbers_press_the_buttons_on_offer_on_a_channel_without_buttons_on_postgres() {
    numbered_choices(TestDb::postgres().await).await;
}

async fn numbered_choices(db: TestDb) {
    let store = db.connect().await;
    let numbered = || engine_fixtures::settings().with_numbered_channels(&[engine_fixtures::CHANNEL]);
    let engine = Engine::start(Arc::clone(&store), numbered());
    engine.accept(text("nina", "n1", "/menu")).await.unwrap();
    engine.shutdown().await;

    // What the numbers mean is stored with the conversation, not held by the process.
    let engine = Engine::start(Arc::clone(&store), numbered());
    // The menu has fewer than nine choices: "9" is text, read as a question.
    engine.accept(text("nina", "n2", "9")).await.unwrap();
    assert!(matches!(state_of(&store, "nina").await.0, State::Menu | State::NotUnderstood));
    engine.accept(text("nina", "n3", "/menu")).await.unwrap();
    let fourth = IssueType::MENU[3];
    assert_eq!(fourth, IssueType::Delivery, "the menu's order changed: pick another number below");
    engine.accept(text("nina", "n4", " 4. ")).await.unwrap();
    assert_eq!(
        state_of(&store, "nina").await.0,
        State::AwaitingOrderId { issue: fourth, note: None, lookup: None }
    );
    engine.accept(text("nina", "n5", "AB-1234")).await.unwrap();
    assert!(matches!(state_of(&store, "nina").await.0, State::AwaitingPhotos { .. }));
    // The photo request offers "skip" as its only choice.
    engine.accept(text("nina", "n6", "1")).await.unwrap();
    let state = state_of(&store, "nina").await.0;
    assert!(matches!(state, State::AwaitingDescription { .. }), "{state:?}");

    let contact = store.contact(engine_fixtures::CHANNEL, "nina").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap();
    let transcript = store.transcript(conversation.id).await.unwrap();
    let typed: Vec<&str> = transcript
        .iter()
        .filter(|entry| entry.author == switchboard::store::Author::Customer)
        .filter_map(|entry| entry.text.as_deref())
        .collect();
    assert_eq!(typed, vec!["/menu", "9", "/menu", " 4. ", "AB-1234", "1"], "the log keeps what was typed");
    engine.shutdown().await;

    // The same conversation read by an engine for a channel with buttons: "1" is only text.
    let engine = Engine::start(Arc::clone(&store), engine_fixtures::settings());
    engine.accept(text("otto", "o1", "/menu")).await.unwrap();
    engine.accept(text("otto", "o2", "1")).await.unwrap();
    assert!(!matches!(state_of(&store, "otto").await.0, State::AwaitingOrderId { .. }));
    let contact = store.contact(engine_fixtures::CHANNEL, "otto").await.unwrap().unwrap();
    let stored = store.conversation_of_contact(contact.id).await.unwrap().unwrap().state;
    assert!(!stored.contains("choices"), "channels with buttons store the state as before: {stored}");
    engine.shutdown().await;
    db.drop_database().await;
}

/// Issue 24's dialog: /start, the delivery button, an order number, the photo skipped, a
/// description an FAQ answer fits, "no, that didn't help". Each of the six turns is one
/// message (one outbox row, one log row) with the buttons of its last question; sent a reply
/// at a time, the same texts were ten messages.
#[tokio::test]
async fn the_delivery_dialog_sends_one_message_per_turn() {
    use switchboard::core::faq::Intent;
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    let channel = RecordingChannel::new();
    let worker = worker(&store, &channel, &engine);

    let turns = [
        text("ivy", "i1", "/start"),
        button("ivy", "i2", Action::Issue(IssueType::Delivery)),
        text("ivy", "i3", "AB-1234"),
        button("ivy", "i4", Action::SkipPhoto),
        text("ivy", "i5", "How do I get an invoice"),
        button("ivy", "i6", Action::NotHelped),
    ];
    for event in turns {
        assert_eq!(engine.accept(event).await.unwrap(), Accepted::Applied { replies: 1 });
    }
    assert_eq!(drain(&worker).await, 6);
    let answer = Intent::GetInvoice.answer_key();
    let expected = vec![
        vec![keys::GREETING, keys::MENU_PROMPT],
        vec![keys::ASK_ORDER_ID],
        vec![keys::ORDER_ID_ACCEPTED, keys::ASK_PHOTO_OPTIONAL],
        vec![keys::ASK_DESCRIPTION],
        vec![keys::SUGGESTION_INTRO, answer.as_str(), keys::DID_IT_HELP],
        vec![keys::HANDOFF_QUEUED],
    ];
    assert_eq!(channel.keys_for("ivy"), expected);
    let paragraphs: usize = expected.iter().map(Vec::len).sum();
    assert_eq!(paragraphs, 10, "the texts that were a message each");

    // Each message carries the buttons of its last question: the menu, "skip", yes and no.
    let delivered: Vec<_> = channel.delivered().into_iter().filter(|d| d.external_id == "ivy").collect();
    let actions = |index: usize| -> Vec<Action> {
        match &delivered[index].message {
            switchboard::core::message::Outbound::Bot(reply) => {
                reply.all_buttons().map(|b| b.action).collect()
            }
            other => panic!("{other:?}"),
        }
    };
    assert!(actions(0).contains(&Action::Issue(IssueType::Delivery)), "{:?}", actions(0));
    assert_eq!(actions(2), [Action::SkipPhoto]);
    assert_eq!(actions(4), [Action::Helped, Action::NotHelped]);

    // One row per turn in the outbox and in the log.
    let contact = store.contact(engine_fixtures::CHANNEL, "ivy").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap().id;
    assert_eq!(store.outbox_of_conversation(conversation).await.unwrap().len(), 6);
    let bot_rows = store
        .transcript(conversation)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.author == switchboard::store::Author::Bot)
        .count();
    assert_eq!(bot_rows, 6);
    engine.shutdown().await;
}
