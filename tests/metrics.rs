//! `/metrics` over real HTTP: the whole app on a fresh SQLite file with metrics on their own
//! address, a web chat conversation that ends with a complaint an agent claims, and the series
//! that conversation must have moved. This binary holds one test on purpose, apart from the
//! other integration tests (`tests/it/`): the Prometheus recorder is global to the process, so
//! no other test may record beside it. It needs none of their support code, only a fresh file.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use switchboard::app;
use switchboard::config::{Overrides, Settings};
use switchboard::core::handoff::TicketStatus;
use switchboard::core::message::{Action, IssueType};
use switchboard::engine::ClaimResult;
use switchboard::outbox::OutboxSettings;
use switchboard::store::Author;

/// One sample of the exposition: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Reads Prometheus text format (the subset the exporter writes: no escapes in our labels).
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|line| !line.starts_with('#') && !line.trim().is_empty()) {
        let (series, value) = line.rsplit_once(' ').expect("`series value` lines");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inside = rest.strip_suffix('}').expect("labels end with }");
                let labels = inside
                    .split(',')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once('=').expect("label=value");
                        (key.to_owned(), value.trim_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
            None => (series, BTreeMap::new()),
        };
        samples.push(Sample { name: name.to_owned(), labels, value: value.parse().expect("a number") });
    }
    samples
}

/// The value of the one sample named `name` whose labels include `labels`; 0 when absent (a
/// counter nobody incremented is not shown).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|sample| {
            sample.name == name
                && labels.iter().all(|(k, v)| sample.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches several samples: {found:?}");
    found.first().map_or(0.0, |sample| sample.value)
}

struct Chat {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Chat {
    async fn start(base: &str) -> Chat {
        let http = reqwest::Client::new();
        let response = http.post(format!("{base}/chat/start")).send().await.expect("the app answers");
        assert!(response.status().is_success());
        let set_cookie = response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        Chat { http, base: base.to_owned(), cookie }
    }

    async fn send(&self, body: serde_json::Value) -> String {
        let response = self
            .http
            .post(format!("{}/chat/messages", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .json(&body)
            .send()
            .await
            .expect("the app answers");
        assert_eq!(response.status(), 200);
        let answer: serde_json::Value = response.json().await.unwrap();
        answer["status"].as_str().unwrap().to_owned()
    }
}

async fn scrape(http: &reqwest::Client, url: &str) -> Vec<Sample> {
    let response = http.get(url).send().await.expect("the metrics address answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    parse(&response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_shows_up_in_the_metrics() {
    let database_folder = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", database_folder.path().join("switchboard.db").display());
    let media = tempfile::tempdir().unwrap();
    let media_dir = media.path().display().to_string();
    let env: HashMap<&str, &str> = [
        ("SWITCHBOARD_DATABASE_URL", database_url.as_str()),
        ("SWITCHBOARD_MEDIA_DIR", media_dir.as_str()),
        ("SWITCHBOARD_METRICS_BIND", "127.0.0.1:0"),
        // A Telegram bot whose Bot API nobody answers: its channel keeps retrying.
        ("SWITCHBOARD_TELEGRAM_TOKEN", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"),
        ("SWITCHBOARD_TELEGRAM_API_URL", "http://127.0.0.1:9"),
    ]
    .into_iter()
    .collect();
    let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let outbox = OutboxSettings { poll_interval: Duration::from_millis(20), ..OutboxSettings::default() };
    let running = app::start_with(settings, listener, outbox).await.expect("the app starts");
    let base = format!("http://{}", running.address);
    let metrics_url = format!("http://{}/metrics", running.metrics_address.expect("metrics are on"));
    let http = reqwest::Client::new();

    // Metrics live only on their own address.
    assert_eq!(http.get(format!("{base}/metrics")).send().await.unwrap().status(), 404);

    // A customer opens the menu (and the widget resends that message), files a complaint.
    let chat = Chat::start(&base).await;
    assert_eq!(chat.send(serde_json::json!({"id": "msg-0001", "text": "/start"})).await, "applied");
    assert_eq!(chat.send(serde_json::json!({"id": "msg-0001", "text": "/start"})).await, "duplicate");
    let complaint = Action::Issue(IssueType::Complaint).encode();
    assert_eq!(chat.send(serde_json::json!({"id": "msg-0002", "button": complaint})).await, "applied");
    let text = "The courier threw the parcel over the fence.";
    assert_eq!(chat.send(serde_json::json!({"id": "msg-0003", "text": text})).await, "applied");

    let store = &running.app.store;
    let queued = store
        .list_tickets(Some(TicketStatus::Queued), switchboard::store::Page::first(100_000))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "the complaint waits for an agent");
    let before_claim = scrape(&http, &metrics_url).await;
    assert_eq!(value(&before_claim, "switchboard_handoff_queue_length", &[("priority", "high")]), 1.0);
    assert_eq!(value(&before_claim, "switchboard_handoff_queue_length", &[("priority", "normal")]), 0.0);

    assert_eq!(running.app.engine.claim(queued[0].id, "admin").await.unwrap(), ClaimResult::Claimed);

    // Every bot reply gets delivered (the web chat channel only wakes open streams).
    let transcript = store.transcript(queued[0].conversation_id).await.unwrap();
    let bot_replies = transcript.iter().filter(|entry| entry.author == Author::Bot).count() as f64;
    assert!(bot_replies >= 4.0, "greeting, menu, complaint prompt, queued, agent joined: {transcript:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let samples = loop {
        let samples = scrape(&http, &metrics_url).await;
        let sent = value(&samples, "switchboard_outbox_sent_total", &[("channel", "webchat")]);
        if (sent == bot_replies && value(&samples, "switchboard_outbox_depth", &[]) == 0.0)
            || Instant::now() > deadline
        {
            break samples;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let inbound = |kind: &str| {
        value(&samples, "switchboard_inbound_events_total", &[("channel", "webchat"), ("kind", kind)])
    };
    assert_eq!(inbound("text"), 2.0);
    assert_eq!(inbound("button"), 1.0);
    assert_eq!(inbound("duplicate"), 1.0);
    assert_eq!(
        value(&samples, "switchboard_dialog_step_seconds_count", &[]),
        3.0,
        "duplicates skip the dialog"
    );
    assert_eq!(value(&samples, "switchboard_group_commit_events_sum", &[]), 4.0);
    assert_eq!(value(&samples, "switchboard_group_commit_events_count", &[]), 4.0, "one request at a time");
    assert_eq!(value(&samples, "switchboard_group_commit_seconds_count", &[]), 4.0);
    assert_eq!(value(&samples, "switchboard_outbox_sent_total", &[("channel", "webchat")]), bot_replies);
    assert_eq!(value(&samples, "switchboard_outbox_depth", &[]), 0.0);
    assert_eq!(
        value(&samples, "switchboard_outbox_delivery_seconds_count", &[("channel", "webchat")]),
        bot_replies
    );
    assert_eq!(value(&samples, "switchboard_outbox_dead_letters_total", &[("channel", "webchat")]), 0.0);
    assert_eq!(value(&samples, "switchboard_handoff_wait_seconds_count", &[]), 1.0);
    assert_eq!(value(&samples, "switchboard_handoff_queue_length", &[("priority", "high")]), 0.0);
    assert_eq!(value(&samples, "switchboard_flood_limited_total", &[("channel", "webchat")]), 0.0);
    // Latencies are real histograms with buckets, not summaries.
    let buckets = samples.iter().filter(|s| s.name == "switchboard_dialog_step_seconds_bucket").count();
    assert!(buckets > 5, "bucketed histogram expected");
    assert_eq!(value(&samples, "switchboard_dialog_step_seconds_bucket", &[("le", "+Inf")]), 3.0);

    // Each channel's state: 1 for the current one, 0 for the others.
    let retrying = running.channels.wait_for("telegram", |state| state.code() == "retrying");
    tokio::time::timeout(Duration::from_secs(20), retrying).await.expect("the Telegram channel retries");
    let samples = scrape(&http, &metrics_url).await;
    let state = |channel: &str, state: &str| {
        value(&samples, "switchboard_channel_state", &[("channel", channel), ("state", state)])
    };
    assert_eq!(state("telegram", "retrying"), 1.0);
    assert_eq!(state("telegram", "up"), 0.0);
    assert_eq!(state("webchat", "up"), 1.0);
    assert_eq!(state("webchat", "retrying"), 0.0);

    running.stop().await;
}
