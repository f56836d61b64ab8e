//! The crash test: the real `switchboard` binary, SIGKILLed three times while 200 customers
//! talk to it through the fake Telegram (webhook) and the fake VK (Callback API), and started
//! again each time on the same database. Afterwards nothing a customer said is lost or doubled,
//! every conversation is where its script leads, and the replies arrived in order (see
//! `support/customer_crowd.rs` for the scripts and the checks). Runs on SQLite, and on
//! PostgreSQL when `SWITCHBOARD_TEST_POSTGRES` is set.
//!
//! The kill moments come from a seeded random generator; the seed is printed, and
//! `SWITCHBOARD_CRASH_SEED=<seed>` replays the same moments (the machine's timing still varies).

use crate::support::customer_crowd::{self, Crowd};
use crate::support::engine_fixtures::TestDb;
use crate::support::instance::{self, Instance};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KILLS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_three_times_on_sqlite_loses_and_doubles_nothing() {
    crash_test("crash test on SQLite", TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn killed_three_times_on_postgres_loses_and_doubles_nothing() {
    let db = TestDb::postgres().await;
    crash_test("crash test on PostgreSQL", db).await;
}

/// The order check must tell a repeated reply (sent, then the process died before recording
/// it) from a reordered, missing or extra one; otherwise the crash test would prove nothing.
#[test]
fn the_order_check_allows_only_a_repeat_right_after_itself() {
    let texts = |list: &[&str]| list.iter().map(|text| text.to_string()).collect::<Vec<_>>();
    let expected = texts(&["hello", "menu", "hello", "ask"]);
    let check = |arrived: &[&str]| customer_crowd::repeats_in_order(&expected, &texts(arrived));
    assert_eq!(check(&["hello", "menu", "hello", "ask"]), Ok(0));
    assert_eq!(check(&["hello", "hello", "menu", "menu", "hello", "ask", "ask"]), Ok(3));
    assert!(check(&["hello", "menu", "menu", "hello", "menu", "ask"]).is_err(), "a repeat of an older reply");
    assert!(check(&["menu", "hello", "hello", "ask"]).is_err(), "reordered");
    assert!(check(&["hello", "menu", "hello"]).is_err(), "one missing");
    assert!(check(&["hello", "menu", "hello", "ask", "bye"]).is_err(), "one extra");
}

async fn crash_test(label: &str, db: TestDb) {
    let _turn = instance::take_turn().await;
    let seed = customer_crowd::seed();
    println!("{label}: seed {seed} (SWITCHBOARD_CRASH_SEED={seed} repeats the kill moments)");
    let started = Instant::now();
    let workdir = tempfile::tempdir().expect("a working folder");
    let url = db.url.clone();
    let run = async {
        let crowd = Crowd::start(seed).await;
        let env = crowd.instance_env(&url, &workdir.path().join("media"));
        let mut instance = Instance::new("switchboard", workdir.path(), env);
        let webhook = instance.url(switchboard::channels::telegram::webhook::PATH);
        instance.set_env("SWITCHBOARD_TELEGRAM_WEBHOOK_URL", webhook);
        let max_webhook = instance.url(switchboard::channels::max::webhook::WEBHOOK_PATH);
        instance.set_env("SWITCHBOARD_MAX_WEBHOOK_URL", max_webhook);
        instance.start().await;
        println!("{label}: first start took {:.1} s", started.elapsed().as_secs_f64());
        crowd.set_targets(vec![instance.address]);

        // Kill moments: after a random number of acknowledged messages (spread over the run),
        // plus a random few milliseconds so the kill lands in the middle of things.
        let mut rng = StdRng::seed_from_u64(seed);
        let total = crowd.total_messages();
        let mut thresholds: Vec<usize> =
            (0..KILLS).map(|_| rng.random_range(total / 10..total * 9 / 10)).collect();
        thresholds.sort_unstable();
        println!("{label}: kills planned after {thresholds:?} acknowledged messages");

        let talking = tokio::spawn(Arc::clone(&crowd).run());
        let mut kills = Vec::new();
        for threshold in thresholds {
            while crowd.acknowledged() < threshold {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..40))).await;
            let at = crowd.acknowledged();
            let moment = crowd.started.elapsed();
            instance.kill();
            let restart = Instant::now();
            instance.start().await;
            println!(
                "{label}: SIGKILL at {:.2} s, after {at} acknowledged messages; back up in {:.1} s",
                moment.as_secs_f64(),
                restart.elapsed().as_secs_f64()
            );
            kills.push(at);
        }
        talking.await.expect("the crowd finished");
        let talked = started.elapsed();
        crowd.wait_until_delivered(&url).await;
        let drained = started.elapsed();
        instance.terminate().await;
        println!(
            "{label}: all messages acknowledged after {:.1} s, every reply delivered after {:.1} s",
            talked.as_secs_f64(),
            drained.as_secs_f64()
        );
        let findings = crowd.check(&url, kills.len()).await;
        findings.print(label);
        if !findings.problems.is_empty() {
            println!("{label}: the instance's last output:\n{}", instance.log_tail(40));
        }
        assert_eq!(kills.len(), KILLS);
        assert_eq!(instance.starts, KILLS + 1);
        findings.assert_all_kept();
        // Every start registered the webhook, as an operator's deployment would.
        assert!(crowd.telegram.webhook().is_some_and(|(url, _)| url.ends_with("/webhooks/telegram")));
    };
    instance::run_scenario(label, started, run).await;
    db.drop_database().await;
}
