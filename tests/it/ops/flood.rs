//! Per-customer flood control through the real engine: one notice, everything logged, the
//! dialog untouched by the extra messages; the window survives a restart, is shared by
//! several engines on one database, and lets the customer through once it has passed.

use crate::support::engine_fixtures::{self, RecordingChannel, TestDb, button, text};
use std::sync::Arc;
use std::time::Duration;
use switchboard::channels::{Accepted, Intake};
use switchboard::core::dialog::State;
use switchboard::core::flood::FloodRule;
use switchboard::core::keys;
use switchboard::core::message::{Action, IssueType};
use switchboard::engine::Engine;
use switchboard::outbox::{DeliveryAttempt, OutboxSettings, OutboxWorker};
use switchboard::store::{Author, Store};

const HOUR_MILLIS: i64 = 3_600_000;

fn engine(store: &Arc<dyn Store>, limit: u32, window_millis: i64) -> Engine {
    let settings = engine_fixtures::settings().with_flood_rule(FloodRule { limit, window_millis });
    Engine::start(Arc::clone(store), settings)
}

/// Delivers everything due and returns the messages `external_id` received, in order, each
/// as its keys.
async fn delivered_keys(store: &Arc<dyn Store>, engine: &Engine, external_id: &str) -> Vec<Vec<String>> {
    let channel = RecordingChannel::new();
    let worker = OutboxWorker::new(
        Arc::clone(store),
        channel.channels(),
        OutboxSettings::default(),
        engine.outbox_link(),
    );
    while worker.try_deliver_next().await.unwrap() == DeliveryAttempt::Delivered {}
    channel.keys_for(external_id)
}

async fn state_of(store: &Arc<dyn Store>, external_id: &str) -> State {
    let contact =
        store.contact(engine_fixtures::CHANNEL, external_id).await.unwrap().expect("contact exists");
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().expect("conversation exists");
    serde_json::from_str(&conversation.state).unwrap()
}

async fn customer_lines(store: &Arc<dyn Store>, external_id: &str) -> Vec<String> {
    let contact = store.contact(engine_fixtures::CHANNEL, external_id).await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap();
    store
        .transcript(conversation.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.author == Author::Customer)
        .map(|entry| entry.text.unwrap_or_default())
        .collect()
}

async fn one_notice_then_quiet_until_the_window_passes(db: TestDb) {
    let awaiting = State::AwaitingOrderId { issue: IssueType::Delivery, note: None, lookup: None };
    {
        let store = db.connect().await;
        let engine = engine(&store, 3, HOUR_MILLIS);
        let first = engine.accept(button("fay", "f1", Action::Issue(IssueType::Delivery))).await.unwrap();
        assert_eq!(first, Accepted::Applied { replies: 1 });
        for (id, words) in [("f2", "no idea"), ("f3", "still no idea")] {
            assert_eq!(
                engine.accept(text("fay", id, words)).await.unwrap(),
                Accepted::Applied { replies: 1 }
            );
        }
        // The fourth message in the window is one too many: the notice, and no dialog step (a
        // valid order ID that would otherwise move the flow on changes nothing).
        let over = engine.accept(text("fay", "f4", "AB-1234")).await.unwrap();
        assert_eq!(over, Accepted::Applied { replies: 1 });
        for (id, words) in [("f5", "hello?"), ("f6", "/cancel"), ("f7", "/agent")] {
            assert_eq!(
                engine.accept(text("fay", id, words)).await.unwrap(),
                Accepted::Applied { replies: 0 }
            );
        }
        // Extra messages are still deduplicated.
        assert_eq!(engine.accept(text("fay", "f5", "hello?")).await.unwrap(), Accepted::Duplicate);
        assert_eq!(state_of(&store, "fay").await, awaiting, "extra messages never reach the dialog");
        assert_eq!(
            delivered_keys(&store, &engine, "fay").await,
            vec![
                vec![keys::ASK_ORDER_ID],
                vec![keys::ORDER_ID_INVALID],
                vec![keys::ORDER_ID_INVALID],
                vec![keys::FLOOD_NOTICE]
            ]
        );
        engine.shutdown().await;
        store.close().await;
    }
    {
        // After a restart the window is still the same window: no second notice.
        let store = db.connect().await;
        let engine = engine(&store, 3, HOUR_MILLIS);
        assert_eq!(
            engine.accept(text("fay", "f8", "AB-1234")).await.unwrap(),
            Accepted::Applied { replies: 0 }
        );
        assert_eq!(state_of(&store, "fay").await, awaiting);
        assert_eq!(delivered_keys(&store, &engine, "fay").await, Vec::<Vec<String>>::new());
        engine.shutdown().await;
        store.close().await;
    }
    {
        // Once the window has passed (here: an engine whose window is 1 ms, after a pause that
        // is longer), the customer is answered normally again.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let store = db.connect().await;
        let engine = engine(&store, 3, 1);
        assert_eq!(
            engine.accept(text("fay", "f9", "AB-1234")).await.unwrap(),
            Accepted::Applied { replies: 1 }
        );
        assert!(matches!(state_of(&store, "fay").await, State::AwaitingPhotos { .. }));
        assert_eq!(
            delivered_keys(&store, &engine, "fay").await,
            vec![vec![keys::ORDER_ID_ACCEPTED, keys::ASK_PHOTO_OPTIONAL]]
        );
        let logged = customer_lines(&store, "fay").await;
        assert_eq!(logged.len(), 9, "every message is in the log for the agent, once: {logged:?}");
        assert_eq!(logged.iter().filter(|line| *line == "AB-1234").count(), 3);
        engine.shutdown().await;
        store.close().await;
    }
    db.drop_database().await;
}

/// Two engines (two instances) on one database, both taking a burst from the same customer
/// at once: the window is shared, so exactly `limit` messages reach the dialog and exactly one
/// notice goes out.
async fn instances_share_the_window(db: TestDb) {
    let (first_store, second_store) = (db.connect().await, db.connect().await);
    let (first, second) = (engine(&first_store, 4, HOUR_MILLIS), engine(&second_store, 4, HOUR_MILLIS));
    let mut sends = Vec::new();
    for n in 0..12 {
        let target = if n % 2 == 0 { &first } else { &second };
        sends.push(target.accept(text("gus", &format!("g{n}"), "/help")));
    }
    let results = futures::future::join_all(sends).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let messages = delivered_keys(&first_store, &first, "gus").await;
    assert_eq!(messages.iter().filter(|message| **message == [keys::HELP]).count(), 4, "{messages:?}");
    assert_eq!(
        messages.iter().filter(|message| **message == [keys::FLOOD_NOTICE]).count(),
        1,
        "{messages:?}"
    );
    assert_eq!(messages.len(), 5, "{messages:?}");
    assert_eq!(customer_lines(&first_store, "gus").await.len(), 12);
    first.shutdown().await;
    second.shutdown().await;
    first_store.close().await;
    second_store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn flood_control_on_sqlite() {
    one_notice_then_quiet_until_the_window_passes(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn flood_control_on_postgres() {
    one_notice_then_quiet_until_the_window_passes(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_window_is_shared_by_instances_on_sqlite() {
    instances_share_the_window(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn flood_window_is_shared_by_instances_on_postgres() {
    instances_share_the_window(TestDb::postgres().await).await;
}

#[tokio::test]
async fn flood_control_off_lets_every_message_through() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = engine(&store, 0, HOUR_MILLIS);
    for n in 0..30 {
        let handled = engine.accept(text("hal", &format!("h{n}"), "/help")).await.unwrap();
        assert_eq!(handled, Accepted::Applied { replies: 1 });
    }
    engine.shutdown().await;
}
