//! Several `switchboard` processes on one PostgreSQL database (these tests run only when
//! `SWITCHBOARD_TEST_POSTGRES` is set):
//!
//! - three processes share the webhook traffic of 200 customers (round-robin, like a load
//!   balancer without health checks); one is SIGKILLed mid-run and not restarted; the crash
//!   test's checks still pass (`support/customer_crowd.rs`);
//! - two processes in long-poll mode, for Telegram and for VK: the fake platform never sees
//!   two pollers at once; when the leader is killed the other takes over, and messages sent
//!   after the kill are answered.
//!
//! Waits poll for an outcome with a generous deadline; nothing asserts how fast it happened.

use crate::support::customer_crowd::{self, Crowd};
use crate::support::engine_fixtures::TestDb;
use crate::support::fake_telegram::FakeTelegram;
use crate::support::fake_vk::{self, FakeVk};
use crate::support::instance::{self, Instance};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a takeover may take before the test fails: the lock is free once PostgreSQL sees
/// the dead leader's connection close, and the other process tries every one to two seconds.
const TAKEOVER_DEADLINE: Duration = Duration::from_secs(60);
const REPLY_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn three_instances_share_the_traffic_and_one_dies() {
    let db = TestDb::postgres().await;
    let _turn = instance::take_turn().await;
    let label = "three instances on PostgreSQL";
    let seed = customer_crowd::seed();
    println!("{label}: seed {seed}");
    let started = Instant::now();
    let workdir = tempfile::tempdir().expect("a working folder");
    let url = db.url.clone();
    let run = async {
        let crowd = Crowd::start(seed).await;
        // One media folder, as a shared volume would be.
        let env = crowd.instance_env(&url, &workdir.path().join("media"));
        let mut instances: Vec<Instance> = (1..=3)
            .map(|number| {
                let mut instance =
                    Instance::new(&format!("switchboard-{number}"), workdir.path(), env.clone());
                let webhook = instance.url(switchboard::channels::telegram::webhook::PATH);
                instance.set_env("SWITCHBOARD_TELEGRAM_WEBHOOK_URL", webhook);
                let max_webhook = instance.url(switchboard::channels::max::webhook::WEBHOOK_PATH);
                instance.set_env("SWITCHBOARD_MAX_WEBHOOK_URL", max_webhook);
                instance
            })
            .collect();
        // The first start applies the migrations; the others then start side by side.
        instances[0].start().await;
        for instance in &mut instances[1..] {
            instance.spawn();
        }
        for instance in &mut instances[1..] {
            instance.wait_ready().await;
        }
        println!("{label}: three instances up after {:.1} s", started.elapsed().as_secs_f64());
        crowd.set_targets(instances.iter().map(|instance| instance.address).collect());

        let mut rng = StdRng::seed_from_u64(seed);
        let total = crowd.total_messages();
        let threshold = rng.random_range(total * 3 / 10..total * 7 / 10);
        let victim = rng.random_range(0..instances.len());
        let talking = tokio::spawn(Arc::clone(&crowd).run());
        while crowd.acknowledged() < threshold {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..40))).await;
        let at = crowd.acknowledged();
        instances[victim].kill();
        println!("{label}: SIGKILL to {} after {at} acknowledged messages", instances[victim].name);
        talking.await.expect("the crowd finished");
        let talked = started.elapsed();
        crowd.wait_until_delivered(&url).await;
        let drained = started.elapsed();
        for instance in &mut instances {
            instance.terminate().await;
        }
        println!(
            "{label}: all messages acknowledged after {:.1} s, every reply delivered after {:.1} s",
            talked.as_secs_f64(),
            drained.as_secs_f64()
        );
        let findings = crowd.check(&url, 1).await;
        findings.print(label);
        findings.assert_all_kept();
    };
    instance::run_scenario(label, started, run).await;
    db.drop_database().await;
}

// ---------------------------------------------------------------------------------------------
// One long-poll leader

/// The lock itself, between two stores as two processes would hold them: exclusive while held,
/// free once given up, and lost (reported, so polling stops) when its connection dies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn the_leader_lock_is_exclusive_and_lost_with_its_connection() {
    let db = TestDb::postgres().await;
    let (first, second) = (db.connect().await, db.connect().await);

    let leading = first.try_lead("telegram:1").await.unwrap().expect("a free lock is taken");
    assert!(second.try_lead("telegram:1").await.unwrap().is_none(), "a held lock is refused");
    let other = second.try_lead("vk:1").await.unwrap().expect("another source has its own lock");
    other.release().await;

    leading.release().await;
    let leading = second.try_lead("telegram:1").await.unwrap().expect("a released lock is free");
    assert!(first.try_lead("telegram:1").await.unwrap().is_none());

    // The leader's lock connection dies (a network cut, a restarted server, an administrator):
    // PostgreSQL frees the lock, and the leader hears that it lost it.
    terminate_lock_connection(&db.url, "telegram:1").await;
    tokio::time::timeout(TAKEOVER_DEADLINE, leading.lost()).await.expect("the leader notices the loss");
    assert!(leading.is_lost());
    let successor = first.try_lead("telegram:1").await.unwrap().expect("the lock is free again");
    successor.release().await;
    drop(leading);

    first.close().await;
    second.close().await;
    db.drop_database().await;
}

/// The platform side of the leader tests: a fake that counts concurrent pollers, and a way to
/// make a customer write and see the bot's replies.
enum Poller {
    Telegram(FakeTelegram),
    Vk(FakeVk),
}

impl Poller {
    async fn start(telegram: bool) -> Poller {
        if telegram {
            Poller::Telegram(FakeTelegram::start(customer_crowd::TELEGRAM_TOKEN).await)
        } else {
            Poller::Vk(FakeVk::start().await)
        }
    }

    fn env(&self, database_url: &str, media: &str) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = [
            ("SWITCHBOARD_LOG", "info"),
            ("SWITCHBOARD_DATABASE_URL", database_url),
            ("SWITCHBOARD_MEDIA_DIR", media),
        ]
        .into_iter()
        .map(|(variable, value)| (variable.to_owned(), value.to_owned()))
        .collect();
        let channel: Vec<(&str, String)> = match self {
            Poller::Telegram(fake) => vec![
                ("SWITCHBOARD_TELEGRAM_TOKEN", customer_crowd::TELEGRAM_TOKEN.to_owned()),
                ("SWITCHBOARD_TELEGRAM_API_URL", fake.api_url()),
                ("SWITCHBOARD_TELEGRAM_RATE_LIMIT", "off".to_owned()),
            ],
            Poller::Vk(fake) => vec![
                ("SWITCHBOARD_VK_TOKEN", fake_vk::TOKEN.to_owned()),
                ("SWITCHBOARD_VK_GROUP_ID", fake_vk::GROUP_ID.to_string()),
                ("SWITCHBOARD_VK_MODE", "longpoll".to_owned()),
                ("SWITCHBOARD_VK_API_URL", fake.base_url.clone()),
                ("SWITCHBOARD_VK_RATE_LIMIT", "off".to_owned()),
            ],
        };
        env.extend(channel.into_iter().map(|(variable, value)| (variable.to_owned(), value)));
        env
    }

    fn name(&self) -> &'static str {
        match self {
            Poller::Telegram(_) => "telegram",
            Poller::Vk(_) => "vk",
        }
    }

    /// The name of the source's leader lock, as the app derives it.
    fn leadership(&self) -> String {
        match self {
            Poller::Telegram(_) => format!("telegram:{}", customer_crowd::TELEGRAM_BOT_ID),
            Poller::Vk(_) => format!("vk:{}", fake_vk::GROUP_ID),
        }
    }

    /// Long-poll requests so far.
    fn polls(&self) -> usize {
        match self {
            Poller::Telegram(fake) => fake.calls("getUpdates").len(),
            Poller::Vk(fake) => fake.polls().len(),
        }
    }

    fn most_polls_at_once(&self) -> usize {
        match self {
            Poller::Telegram(fake) => fake.most_polls_at_once(),
            Poller::Vk(fake) => fake.most_polls_at_once(),
        }
    }

    /// The customer writes `/start`, queued for whoever polls.
    fn customer_starts(&self, customer: i64, serial: u32) {
        match self {
            Poller::Telegram(fake) => {
                let person =
                    json!({"id": customer, "is_bot": false, "first_name": "Customer", "language_code": "en"});
                fake.push_update(json!({"message": {"message_id": serial, "from": person,
                    "chat": {"id": customer, "type": "private", "first_name": "Customer"},
                    "date": 1_700_000_000, "text": "/start"}}));
            }
            Poller::Vk(fake) => fake.push_event(json!({"type": "message_new", "group_id": fake_vk::GROUP_ID,
                "event_id": format!("leader-{serial}"), "v": "5.199",
                "object": {"message": {"text": "/start", "peer_id": customer, "from_id": customer, "out": 0,
                    "date": 1_700_000_000}, "client_info": {"button_actions": ["text"], "keyboard": true,
                    "inline_keyboard": false, "lang_id": 3}}})),
        }
    }

    /// Replies the customer got so far.
    fn replies_to(&self, customer: i64) -> usize {
        match self {
            Poller::Telegram(fake) => {
                fake.sent().iter().filter(|call| call.params["chat_id"] == customer).count()
            }
            Poller::Vk(fake) => fake.visible().iter().filter(|message| message.peer_id == customer).count(),
        }
    }
}

/// What a process logs when it takes the lead.
const LEADS: &str = "this process leads; polling";

/// Ends the PostgreSQL session that holds the leader lock `name`.
async fn terminate_lock_connection(database_url: &str, name: &str) {
    let key = switchboard::store::leader_lock_key(name);
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(database_url).await.unwrap();
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND classid::bigint = ($1 >> 32) & 4294967295 AND objid::bigint = $1 & 4294967295",
    )
    .bind(key)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(terminated, vec![true], "one session held the lock of {name}");
}

async fn eventually(what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + deadline;
    while !check() {
        assert!(tokio::time::Instant::now() < give_up, "gave up waiting for {what} after {deadline:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/start` is answered with a greeting and the menu.
async fn answered(poller: &Poller, customer: i64) {
    // The greeting and the menu, one message.
    eventually(&format!("the answer to {customer}"), REPLY_DEADLINE, || poller.replies_to(customer) >= 1)
        .await;
}

async fn one_leader(telegram: bool) {
    let label = if telegram { "Telegram long polling" } else { "VK Long Poll" };
    let db = TestDb::postgres().await;
    let _turn = instance::take_turn().await;
    let started = Instant::now();
    let workdir = tempfile::tempdir().expect("a working folder");
    let poller = Poller::start(telegram).await;
    let media = workdir.path().join("media").display().to_string();
    let env = poller.env(&db.url, &media);
    let run = async {
        let mut first = Instance::new(&format!("{}-first", poller.name()), workdir.path(), env.clone());
        let mut second = Instance::new(&format!("{}-second", poller.name()), workdir.path(), env);

        // Alone, the first process leads and polls.
        first.start().await;
        eventually("the first process to poll", TAKEOVER_DEADLINE, || poller.polls() > 0).await;
        poller.customer_starts(900_001, 1);
        answered(&poller, 900_001).await;

        // The second one finds the lock taken and waits.
        second.start().await;
        eventually("the second process to find the lock taken", TAKEOVER_DEADLINE, || {
            second.log_contains("another process leads; waiting to take over")
        })
        .await;
        poller.customer_starts(900_002, 2);
        answered(&poller, 900_002).await;
        assert!(!second.log_contains(LEADS), "{}", second.log_tail(20));

        // The leader dies; a message written meanwhile waits for the new leader.
        let polls_before = poller.polls();
        first.kill();
        let killed = Instant::now();
        poller.customer_starts(900_003, 3);
        eventually("the second process to take over", TAKEOVER_DEADLINE, || second.log_contains(LEADS)).await;
        answered(&poller, 900_003).await;
        println!(
            "{label}: the second process took over and answered {:.1} s after the leader was killed",
            killed.elapsed().as_secs_f64()
        );
        assert!(poller.polls() > polls_before, "the new leader polls");
        poller.customer_starts(900_004, 4);
        answered(&poller, 900_004).await;

        // The leader's lock connection is cut while it lives on (a network cut, an
        // administrator): it must stop polling, and whoever takes the lock next polls alone.
        first.start().await;
        eventually("the restarted process to wait for the lock", TAKEOVER_DEADLINE, || {
            first.log_contains("another process leads; waiting to take over")
        })
        .await;
        let first_led_before = first.log_count(LEADS);
        let leads_before = first_led_before + second.log_count(LEADS);
        terminate_lock_connection(&db.url, &poller.leadership()).await;
        eventually("the leader to notice it lost the lock", TAKEOVER_DEADLINE, || {
            second.log_contains("leadership lost; polling stopped")
        })
        .await;
        eventually("a process to lead again", TAKEOVER_DEADLINE, || {
            first.log_count(LEADS) + second.log_count(LEADS) > leads_before
        })
        .await;
        let successor = if first.log_count(LEADS) > first_led_before { &first.name } else { &second.name };
        println!("{label}: after its lock connection was cut, the leader stopped; {successor} leads now");
        poller.customer_starts(900_005, 5);
        answered(&poller, 900_005).await;
        first.terminate().await;
        second.terminate().await;

        println!(
            "{label}: {} long polls in all, at most {} at once",
            poller.polls(),
            poller.most_polls_at_once()
        );
        assert_eq!(poller.most_polls_at_once(), 1, "never two pollers at once");
        for customer in [900_001, 900_002, 900_003, 900_004, 900_005] {
            assert_eq!(poller.replies_to(customer), 1, "customer {customer} was answered exactly once");
        }
    };
    instance::run_scenario(label, started, run).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn telegram_long_polling_has_one_leader_and_a_successor() {
    one_leader(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn vk_long_poll_has_one_leader_and_a_successor() {
    one_leader(false).await;
}
