//! A crowd of customers for the crash and multi-instance tests, and the checks that prove
//! nothing they said or were told was lost, doubled or reordered.
//!
//! Two hundred customers, a third each on Telegram, VK and MAX, each play a ten-step script
//! (2,000 messages in all) against the webhook routes of one or more running `switchboard`
//! processes. The crowd delivers like the platforms do: an update is posted until it is
//! acknowledged (Telegram and MAX: HTTP 200; VK: the body `ok`), with a growing pause between tries,
//! and a few acknowledged updates are posted once more, as platforms sometimes do. A customer
//! sends its next message only after the previous one was acknowledged, so the order in which
//! the bot must apply them is known.
//!
//! [`Crowd::check`] then reads the database and the fakes' records and proves: every
//! acknowledged update is in the message log exactly once; every conversation ends in the state
//! and with the ticket its script implies; per chat, the replies reached the platform in the
//! order the outbox holds them; VK showed no reply twice; Telegram and MAX got at most one
//! repeated reply per chat per kill.

use crate::support::fake_max::{self, FakeMax};
use crate::support::fake_telegram::FakeTelegram;
use crate::support::fake_vk::{self, FakeVk};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sqlx::{PgPool, SqlitePool};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::core::dialog::State;
use switchboard::core::handoff::TicketStatus;
use switchboard::core::message::{IssueType, Lang, Outbound, Priority};
use switchboard::store::{ConnectOptions, TicketSummary};

pub const CUSTOMERS: usize = 200;
pub const STEPS: usize = 10;
pub const TELEGRAM_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
pub const TELEGRAM_BOT_ID: u64 = 123_456_789;
pub const TELEGRAM_SECRET: &str = "crowd_webhook-secret";
/// Share of acknowledged updates the crowd posts a second time.
const REPEAT_PERCENT: u32 = 3;
/// The pause after an unacknowledged post; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(25);
const LONGEST_PAUSE: Duration = Duration::from_millis(800);
/// How long the outbox may take to drain once the crowd is done: longer than the outbox lease
/// (60 s), after which rows a killed process had claimed go out again.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(150);

/// Descriptions the FAQ model does not recognise, so these flows end in a queued ticket.
const PAYMENT_DESCRIPTION: &str = "The lamp arrived with a cracked base.";
const COMPLAINT: &str = "The courier was rude to me at the door.";
/// A description the FAQ model answers, so the flow offers a suggestion first.
const DELIVERY_QUESTION: &str = "How long does delivery take?";
const FAQ_QUESTION: &str = "I forgot my password";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Telegram,
    Vk,
    Max,
}

impl Platform {
    pub fn channel(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::Vk => "vk",
            Platform::Max => "max",
        }
    }
}

/// What one customer does, step by step, and where that must leave them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// A payment problem without a suggestion: queued, then writes while waiting.
    QueuedPayment,
    /// A question the FAQ answers, then a complaint that is withdrawn, then a new topic.
    AnsweredThenComplaintWithdrawn,
    /// A delivery problem whose suggested answer helped, then a rating.
    SuggestionHelpedAndRated,
    /// An order problem with two photos, queued, then withdrawn.
    PhotosThenWithdrawn,
}

#[derive(Debug, Clone)]
pub enum Step {
    Text(String),
    /// A button press carrying this `Action::encode()` data.
    Press(&'static str),
    /// A photo: one of two images, told apart by their seed.
    Photo(u8),
}

fn text(text: &str) -> Step {
    Step::Text(text.to_owned())
}

impl Script {
    pub const ALL: [Script; 4] = [
        Script::QueuedPayment,
        Script::AnsweredThenComplaintWithdrawn,
        Script::SuggestionHelpedAndRated,
        Script::PhotosThenWithdrawn,
    ];

    pub fn steps(self, order_id: &str) -> Vec<Step> {
        use Step::{Photo, Press};
        let steps = match self {
            Script::QueuedPayment => vec![
                text("/start"),
                Press("i:payment"),
                text("1234"),
                text(order_id),
                Press("skip"),
                text(PAYMENT_DESCRIPTION),
                text("Any news?"),
                text("/start"),
                Press("human"),
                text("Thank you."),
            ],
            Script::AnsweredThenComplaintWithdrawn => vec![
                text("/start"),
                text(FAQ_QUESTION),
                Press("yes"),
                Press("i:complaint"),
                text("/help"),
                text(COMPLAINT),
                text("Please hurry."),
                Press("withdraw"),
                text("/language"),
                Press("i:account"),
            ],
            Script::SuggestionHelpedAndRated => vec![
                text("/start"),
                Press("i:delivery"),
                text("1234"),
                text(order_id),
                Press("skip"),
                text(DELIVERY_QUESTION),
                Press("yes"),
                text("seven"),
                Press("r:4"),
                text("/help"),
            ],
            Script::PhotosThenWithdrawn => vec![
                text("/start"),
                Press("i:order"),
                text(order_id),
                text("It is broken."),
                Photo(1),
                Press("done"),
                text(PAYMENT_DESCRIPTION),
                Photo(2),
                text("/agent"),
                Press("withdraw"),
            ],
        };
        assert_eq!(steps.len(), STEPS);
        steps
    }

    /// The dialog state the script leaves the conversation in.
    pub fn final_state(self) -> State {
        match self {
            Script::QueuedPayment => State::Queued { acknowledged: true },
            Script::AnsweredThenComplaintWithdrawn => State::AwaitingDescription {
                issue: IssueType::Account,
                order_id: None,
                photos: Vec::new(),
                note: None,
            },
            Script::SuggestionHelpedAndRated => State::AwaitingComment { stars: 4 },
            Script::PhotosThenWithdrawn => State::Menu,
        }
    }

    /// The one ticket the script leaves behind.
    pub fn ticket(self, order_id: &str) -> ExpectedTicket {
        let order_id = Some(order_id.to_owned());
        match self {
            Script::QueuedPayment => ExpectedTicket {
                status: TicketStatus::Queued,
                issue_type: "payment",
                order_id,
                priority: Priority::Normal,
                description: Some(PAYMENT_DESCRIPTION),
                attachments: 0,
                self_served: false,
                withdrawn: false,
                rating: None,
            },
            Script::AnsweredThenComplaintWithdrawn => ExpectedTicket {
                status: TicketStatus::Resolved,
                issue_type: "complaint",
                order_id: None,
                priority: Priority::High,
                description: Some(COMPLAINT),
                attachments: 0,
                self_served: false,
                withdrawn: true,
                rating: None,
            },
            Script::SuggestionHelpedAndRated => ExpectedTicket {
                status: TicketStatus::Resolved,
                issue_type: "delivery",
                order_id,
                priority: Priority::Normal,
                description: Some(DELIVERY_QUESTION),
                attachments: 0,
                self_served: true,
                withdrawn: false,
                rating: Some(4),
            },
            Script::PhotosThenWithdrawn => ExpectedTicket {
                status: TicketStatus::Resolved,
                issue_type: "order",
                order_id,
                priority: Priority::Normal,
                description: Some(PAYMENT_DESCRIPTION),
                attachments: 2,
                self_served: false,
                withdrawn: true,
                rating: None,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedTicket {
    pub status: TicketStatus,
    pub issue_type: &'static str,
    pub order_id: Option<String>,
    pub priority: Priority,
    pub description: Option<&'static str>,
    pub attachments: usize,
    pub self_served: bool,
    pub withdrawn: bool,
    pub rating: Option<u8>,
}

impl ExpectedTicket {
    fn matches(&self, ticket: &TicketSummary) -> bool {
        ticket.status == self.status
            && ticket.issue_type == self.issue_type
            && ticket.order_id == self.order_id
            && ticket.priority == self.priority
            && ticket.description.as_deref() == self.description
            && ticket.attachments.len() == self.attachments
            && ticket.self_served == self.self_served
            && ticket.withdrawn == self.withdrawn
            && ticket.rating == self.rating
    }
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub platform: Platform,
    /// The Telegram chat id or the VK peer id.
    pub id: i64,
    pub script: Script,
    pub order_id: String,
}

impl Customer {
    pub fn external_id(&self) -> String {
        self.id.to_string()
    }
}

/// One update as the platform posts it, with the dedupe key the bot stores it under.
#[derive(Debug, Clone)]
struct Update {
    platform: Platform,
    key: String,
    body: Value,
}

/// The crowd, the fake platforms it talks through, and what happened while it talked.
pub struct Crowd {
    pub telegram: FakeTelegram,
    pub vk: FakeVk,
    pub max: FakeMax,
    pub customers: Vec<Customer>,
    pub seed: u64,
    /// When the crowd was created: the zero of the times the checks print.
    pub started: std::time::Instant,
    http: reqwest::Client,
    targets: Mutex<Vec<SocketAddr>>,
    next_target: AtomicUsize,
    next_update_id: AtomicU32,
    next_message_id: AtomicI64,
    photo_urls: HashMap<u8, String>,
    max_photo_urls: HashMap<u8, String>,
    /// Updates acknowledged at least once (each counted once), and their keys.
    acknowledged: AtomicUsize,
    acknowledged_keys: Mutex<Vec<(Platform, String)>>,
    posts: AtomicUsize,
    unacknowledged_posts: AtomicUsize,
    repeated_after_acknowledgement: AtomicUsize,
}

impl Crowd {
    /// Starts the fakes and deals out the scripts: customers take the platforms in turn and go
    /// through the four scripts in turn.
    pub async fn start(seed: u64) -> Arc<Crowd> {
        let telegram = FakeTelegram::start(TELEGRAM_TOKEN).await;
        let vk = FakeVk::start().await;
        let max = FakeMax::start().await;
        let (mut photo_urls, mut max_photo_urls) = (HashMap::new(), HashMap::new());
        for seed in [1u8, 2] {
            telegram.add_file(&photo_file_id(seed), png(seed));
            photo_urls.insert(seed, vk.serve_file(&format!("crowd/photo-{seed}.png"), png(seed)));
            max_photo_urls.insert(seed, max.serve_file(&format!("crowd/photo-{seed}.png"), png(seed)));
        }
        let customers = (0..CUSTOMERS)
            .map(|index| {
                let platform = [Platform::Telegram, Platform::Vk, Platform::Max][index % 3];
                let base = match platform {
                    Platform::Telegram => 500_000,
                    Platform::Vk => 600_000,
                    Platform::Max => 700_000,
                };
                Customer {
                    platform,
                    id: base + index as i64,
                    script: Script::ALL[(index / 3) % Script::ALL.len()],
                    order_id: format!("{}-{:04}", 30_000_000 + index, index),
                }
            })
            .collect();
        Arc::new(Crowd {
            telegram,
            vk,
            max,
            customers,
            seed,
            started: std::time::Instant::now(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            targets: Mutex::new(Vec::new()),
            next_target: AtomicUsize::new(0),
            next_update_id: AtomicU32::new(1),
            next_message_id: AtomicI64::new(1),
            photo_urls,
            max_photo_urls,
            acknowledged: AtomicUsize::new(0),
            acknowledged_keys: Mutex::new(Vec::new()),
            posts: AtomicUsize::new(0),
            unacknowledged_posts: AtomicUsize::new(0),
            repeated_after_acknowledgement: AtomicUsize::new(0),
        })
    }

    /// The environment of a `switchboard serve` that talks to this crowd's fakes: Telegram and
    /// MAX by webhook and VK by Callback API, with the platforms' rate limits off (the fakes
    /// impose none, and the test should not wait on them), on the given database and media
    /// folder. The caller adds the instance's own webhook URLs (Telegram's and MAX's).
    pub fn instance_env(&self, database_url: &str, media_dir: &std::path::Path) -> BTreeMap<String, String> {
        [
            ("SWITCHBOARD_DATABASE_URL", database_url),
            ("SWITCHBOARD_MEDIA_DIR", media_dir.display().to_string().as_str()),
            ("SWITCHBOARD_LOG", "info"),
            ("SWITCHBOARD_TELEGRAM_TOKEN", TELEGRAM_TOKEN),
            ("SWITCHBOARD_TELEGRAM_API_URL", self.telegram.api_url().as_str()),
            ("SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET", TELEGRAM_SECRET),
            ("SWITCHBOARD_TELEGRAM_RATE_LIMIT", "off"),
            ("SWITCHBOARD_VK_TOKEN", fake_vk::TOKEN),
            ("SWITCHBOARD_VK_GROUP_ID", fake_vk::GROUP_ID.to_string().as_str()),
            ("SWITCHBOARD_VK_MODE", "callback"),
            ("SWITCHBOARD_VK_CONFIRMATION", fake_vk::CONFIRMATION),
            ("SWITCHBOARD_VK_SECRET", fake_vk::SECRET),
            ("SWITCHBOARD_VK_API_URL", self.vk.base_url.as_str()),
            ("SWITCHBOARD_VK_RATE_LIMIT", "off"),
            ("SWITCHBOARD_MAX_TOKEN", fake_max::TOKEN),
            ("SWITCHBOARD_MAX_MODE", "webhook"),
            ("SWITCHBOARD_MAX_WEBHOOK_SECRET", fake_max::SECRET),
            ("SWITCHBOARD_MAX_API_URL", self.max.base_url.as_str()),
            ("SWITCHBOARD_MAX_RATE_LIMIT", "off"),
        ]
        .into_iter()
        .map(|(variable, value)| (variable.to_owned(), value.to_owned()))
        .collect()
    }

    /// Where updates are posted, in turn (a load balancer without health checks).
    pub fn set_targets(&self, targets: Vec<SocketAddr>) {
        *self.targets.lock().unwrap() = targets;
    }

    pub fn total_messages(&self) -> usize {
        self.customers.len() * STEPS
    }

    /// Distinct updates acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged.load(Ordering::SeqCst)
    }

    /// Every customer plays their script to the end; returns when every update was acknowledged.
    pub async fn run(self: Arc<Self>) {
        let mut tasks = Vec::new();
        for index in 0..self.customers.len() {
            let crowd = Arc::clone(&self);
            tasks.push(tokio::spawn(async move { crowd.play(index).await }));
        }
        for task in tasks {
            task.await.expect("a customer's task");
        }
    }

    async fn play(&self, index: usize) {
        let customer = self.customers[index].clone();
        let mut rng = StdRng::seed_from_u64(self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for (number, step) in customer.script.steps(&customer.order_id).into_iter().enumerate() {
            let update = self.update(&customer, number, &step);
            self.post_until_acknowledged(&update).await;
            self.acknowledged.fetch_add(1, Ordering::SeqCst);
            self.acknowledged_keys.lock().unwrap().push((update.platform, update.key.clone()));
            if rng.random_ratio(REPEAT_PERCENT, 100) {
                self.repeated_after_acknowledgement.fetch_add(1, Ordering::SeqCst);
                self.post_until_acknowledged(&update).await;
            }
        }
    }

    async fn post_until_acknowledged(&self, update: &Update) {
        let mut pause = FIRST_PAUSE;
        loop {
            self.posts.fetch_add(1, Ordering::SeqCst);
            if self.post_once(update).await {
                return;
            }
            self.unacknowledged_posts.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// One post to the next target; whether the platform would count it as delivered.
    async fn post_once(&self, update: &Update) -> bool {
        let target = {
            let targets = self.targets.lock().unwrap();
            assert!(!targets.is_empty(), "no instance to post to");
            targets[self.next_target.fetch_add(1, Ordering::SeqCst) % targets.len()]
        };
        match update.platform {
            Platform::Telegram => {
                let url = format!("http://{target}{}", switchboard::channels::telegram::webhook::PATH);
                let sent = self
                    .http
                    .post(url)
                    .header("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)
                    .json(&update.body)
                    .send()
                    .await;
                sent.is_ok_and(|response| response.status().as_u16() == 200)
            }
            Platform::Vk => {
                let url = format!("http://{target}{}", switchboard::channels::vk::callback::CALLBACK_PATH);
                let Ok(response) = self.http.post(url).json(&update.body).send().await else { return false };
                let status = response.status().as_u16();
                status == 200 && response.text().await.is_ok_and(|body| body == "ok")
            }
            Platform::Max => {
                let url = format!("http://{target}{}", switchboard::channels::max::webhook::WEBHOOK_PATH);
                let sent = self
                    .http
                    .post(url)
                    .header(switchboard::channels::max::webhook::SECRET_HEADER, fake_max::SECRET)
                    .json(&update.body)
                    .send()
                    .await;
                sent.is_ok_and(|response| response.status().as_u16() == 200)
            }
        }
    }

    fn update(&self, customer: &Customer, number: usize, step: &Step) -> Update {
        match customer.platform {
            Platform::Telegram => {
                let update_id = self.next_update_id.fetch_add(1, Ordering::SeqCst);
                let message_id = self.next_message_id.fetch_add(1, Ordering::SeqCst);
                let person = json!({"id": customer.id, "is_bot": false, "first_name": "Customer", "language_code": "en"});
                let chat = json!({"id": customer.id, "first_name": "Customer", "type": "private"});
                let mut body = match step {
                    Step::Text(text) => json!({"message": {"message_id": message_id, "from": person,
                        "chat": chat, "date": 1_700_000_000, "text": text}}),
                    Step::Photo(seed) => {
                        let file_id = photo_file_id(*seed);
                        json!({"message": {"message_id": message_id, "from": person, "chat": chat,
                            "date": 1_700_000_000, "photo": [{"file_id": file_id,
                            "file_unique_id": format!("unique-{file_id}"), "file_size": png(*seed).len(),
                            "width": 1, "height": 1}]}})
                    }
                    Step::Press(data) => json!({"callback_query": {"id": format!("press-{update_id}"),
                        "from": person, "chat_instance": "1", "data": data,
                        "message": {"message_id": message_id, "chat": chat, "date": 1_700_000_000,
                            "text": "(the message with the button)",
                            "from": {"id": TELEGRAM_BOT_ID, "is_bot": true, "first_name": "Switchboard"}}}}),
                };
                body["update_id"] = json!(update_id);
                Update { platform: Platform::Telegram, key: format!("{TELEGRAM_BOT_ID}:{update_id}"), body }
            }
            Platform::Vk => {
                let event_id = format!("crowd-{}-{number}", customer.id);
                let mut message = match step {
                    Step::Text(text) => json!({"text": text}),
                    Step::Press(data) => {
                        json!({"text": *data, "payload": switchboard::channels::vk::keyboard::payload(data)})
                    }
                    Step::Photo(seed) => json!({"text": "", "attachments": [{"type": "photo", "photo": {
                        "id": 457_000_000 + i64::from(*seed), "owner_id": customer.id,
                        "sizes": [{"type": "z", "url": self.photo_urls[seed], "width": 1, "height": 1}]}}]}),
                };
                for (field, value) in [("peer_id", customer.id), ("from_id", customer.id), ("out", 0)] {
                    message[field] = json!(value);
                }
                message["date"] = json!(1_700_000_000);
                let client_info = json!({"button_actions": ["text"], "keyboard": true,
                    "inline_keyboard": false, "carousel": false, "lang_id": 3});
                let body = json!({"type": "message_new", "group_id": fake_vk::GROUP_ID, "event_id": event_id,
                    "v": "5.199", "secret": fake_vk::SECRET,
                    "object": {"message": message, "client_info": client_info}});
                Update { platform: Platform::Vk, key: event_id, body }
            }
            Platform::Max => {
                let id = format!("crowd-{}-{number}", customer.id);
                let user = json!({"user_id": customer.id, "name": "Customer", "is_bot": false});
                let message = |text: &str, attachments: Value| {
                    json!({"recipient": {"chat_id": customer.id, "chat_type": "dialog", "user_id": fake_max::BOT_USER_ID},
                        "timestamp": 1_775_025_604_499_i64, "sender": user,
                        "body": {"mid": id, "seq": number, "text": text, "attachments": attachments}})
                };
                let (key, body) = match step {
                    Step::Text(text) => (
                        format!("m:{id}"),
                        json!({"update_type": "message_created",
                        "message": message(text, json!([]))}),
                    ),
                    Step::Photo(seed) => (
                        format!("m:{id}"),
                        json!({"update_type": "message_created",
                        "message": message("", json!([{"type": "image", "payload": {"photo_id": i64::from(*seed),
                            "token": format!("token-{seed}"), "url": self.max_photo_urls[seed]}}]))}),
                    ),
                    Step::Press(data) => (
                        format!("c:{id}"),
                        json!({"update_type": "message_callback",
                        "callback": {"timestamp": 1_775_025_604_499_i64, "callback_id": id,
                            "payload": switchboard::channels::max::keyboard::payload(data), "user": user},
                        "message": {"recipient": {"chat_id": customer.id, "chat_type": "dialog"},
                            "timestamp": 1_775_025_604_499_i64, "body": {"mid": "mid.shown", "seq": 1,
                                "text": "(the message with the button)"},
                            "sender": {"user_id": fake_max::BOT_USER_ID, "name": "Switchboard", "is_bot": true}}}),
                    ),
                };
                let mut body = body;
                body["timestamp"] = json!(1_775_025_604_499_i64);
                body["user_locale"] = json!("en");
                Update { platform: Platform::Max, key, body }
            }
        }
    }

    /// Waits until the outbox has nothing left to send.
    pub async fn wait_until_delivered(&self, database_url: &str) {
        let db = Database::open(database_url).await;
        let deadline = tokio::time::Instant::now() + DRAIN_DEADLINE;
        loop {
            let pending = db.pending_outbox().await;
            if pending == 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{pending} outbox rows still pending after {DRAIN_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        db.close().await;
    }

    /// Reads the database and the fakes, checks every promise, and returns the counts. Call it
    /// once the outbox is drained and the processes are stopped.
    pub async fn check(&self, database_url: &str, kills: usize) -> Findings {
        let db = Database::open(database_url).await;
        let mut findings = Findings {
            seed: self.seed,
            kills,
            customers: self.customers.len(),
            messages: self.total_messages(),
            posts: self.posts.load(Ordering::SeqCst),
            unacknowledged_posts: self.unacknowledged_posts.load(Ordering::SeqCst),
            repeated_after_acknowledgement: self.repeated_after_acknowledgement.load(Ordering::SeqCst),
            ..Findings::default()
        };

        // Every acknowledged update is in the message log exactly once.
        let logged = db.inbound_counts().await;
        let acknowledged = self.acknowledged_keys.lock().unwrap().clone();
        findings.acknowledged = acknowledged.len();
        findings.logged_inbound = logged.values().sum::<i64>() as usize;
        for (_, key) in &acknowledged {
            match logged.get(key).copied().unwrap_or(0) {
                1 => findings.logged_once += 1,
                0 => findings.problems.push(format!("acknowledged update {key} is not in the message log")),
                more => findings.problems.push(format!("update {key} is in the message log {more} times")),
            }
        }
        if findings.logged_inbound != findings.logged_once {
            findings.problems.push(format!(
                "the log holds {} inbound messages, but only {} acknowledged updates",
                findings.logged_inbound, findings.logged_once
            ));
        }

        // Every conversation ends where its script leads, with the ticket it implies.
        let states = db.states().await;
        let store = switchboard::store::connect(database_url, &ConnectOptions::default())
            .await
            .expect("open the store");
        let tickets = store
            .list_tickets(None, switchboard::store::Page::first(100_000))
            .await
            .expect("list the tickets");
        store.close().await;
        let mut tickets_of: HashMap<(String, String), Vec<&TicketSummary>> = HashMap::new();
        for ticket in &tickets {
            tickets_of.entry((ticket.channel.clone(), ticket.external_id.clone())).or_default().push(ticket);
        }
        for customer in &self.customers {
            let key = (customer.platform.channel().to_owned(), customer.external_id());
            let expected = customer.script.final_state();
            match states.get(&key).map(|state| serde_json::from_str::<State>(state)) {
                Some(Ok(state)) if state == expected => findings.states_as_scripted += 1,
                found => findings.problems.push(format!(
                    "{} {} ({:?}) ended in {found:?}, expected {expected:?}",
                    key.0, key.1, customer.script
                )),
            }
            let ticket = customer.script.ticket(&customer.order_id);
            match tickets_of.get(&key).map(Vec::as_slice) {
                Some([found]) if ticket.matches(found) => findings.tickets_as_scripted += 1,
                found => findings.problems.push(format!(
                    "{} {} ({:?}) has tickets {found:#?}, expected {ticket:?}",
                    key.0, key.1, customer.script
                )),
            }
        }

        // Per chat, replies arrived in outbox order; VK showed none twice; Telegram repeated at
        // most one per chat per kill.
        let i18n = switchboard::i18n::I18n::from_files(
            &switchboard::assets::LocaleSource::Embedded.files().expect("the built-in texts"),
        )
        .expect("load the texts");
        let mut replies: HashMap<(String, String), Vec<OutboxLine>> = HashMap::new();
        for line in db.outbox().await {
            if line.status != "sent" {
                findings.problems.push(format!("outbox row {} is {} after the drain", line.id, line.status));
            }
            replies.entry((line.channel.clone(), line.external_id.clone())).or_default().push(line);
        }
        db.close().await;
        findings.replies = replies.values().map(Vec::len).sum();
        let telegram_sends = self.telegram.sent();
        let vk_visible = self.vk.visible();
        let vk_sends = self.vk.calls_of("messages.send");
        let max_shown = self.max.shown();
        findings.telegram_sends = telegram_sends.len();
        findings.max_sends = max_shown.len();
        findings.vk_shown = vk_visible.len();
        findings.vk_sends = vk_sends.len();
        for customer in &self.customers {
            let key = (customer.platform.channel().to_owned(), customer.external_id());
            let expected = replies.get(&key).map(Vec::as_slice).unwrap_or_default();
            match customer.platform {
                Platform::Telegram => {
                    let expected: Vec<String> = expected.iter().map(|line| line.render(&i18n)).collect();
                    let arrived: Vec<String> = telegram_sends
                        .iter()
                        .filter(|call| call.chat() == Some(customer.id))
                        .map(|call| call.params["text"].as_str().unwrap_or("<not text>").to_owned())
                        .collect();
                    match repeats_in_order(&expected, &arrived) {
                        Ok(repeats) => {
                            findings.chats_in_order += 1;
                            findings.telegram_repeats += repeats;
                            findings.most_telegram_repeats_in_a_chat =
                                findings.most_telegram_repeats_in_a_chat.max(repeats);
                            if repeats > kills {
                                findings.problems.push(format!(
                                    "telegram chat {} got {repeats} repeated replies with {kills} kills",
                                    customer.id
                                ));
                            }
                        }
                        Err(problem) => findings.problems.push(format!(
                            "telegram chat {}: {problem}\n    arrived (seconds after the start): {:?}\n    expected: {:?}",
                            customer.id,
                            telegram_sends
                                .iter()
                                .filter(|call| call.chat() == Some(customer.id))
                                .map(|call| {
                                    let at = call.at.duration_since(self.started).as_secs_f64();
                                    format!("{at:.2} {}", shorten(call.params["text"].as_str().unwrap_or("")))
                                })
                                .collect::<Vec<_>>(),
                            expected.iter().map(|text| shorten(text)).collect::<Vec<_>>(),
                        )),
                    }
                }
                Platform::Vk => {
                    let expected: Vec<i32> = expected
                        .iter()
                        .map(|line| switchboard::channels::vk::outbound::random_id(line.id, 0))
                        .collect();
                    let shown: Vec<i32> = vk_visible
                        .iter()
                        .filter(|message| message.peer_id == customer.id)
                        .map(|message| message.random_id)
                        .collect();
                    if shown == expected {
                        findings.chats_in_order += 1;
                    } else {
                        findings.problems.push(format!(
                            "vk peer {} was shown random_ids {shown:?}, the outbox order is {expected:?}",
                            customer.id
                        ));
                    }
                }
                Platform::Max => {
                    let expected: Vec<String> = expected.iter().map(|line| line.render(&i18n)).collect();
                    let to = format!("user_id={}", customer.id);
                    let arrived: Vec<String> = max_shown
                        .iter()
                        .filter(|message| message.to == to)
                        .map(|message| message.text.clone())
                        .collect();
                    match repeats_in_order(&expected, &arrived) {
                        Ok(repeats) => {
                            findings.chats_in_order += 1;
                            findings.max_repeats += repeats;
                            if repeats > kills {
                                findings.problems.push(format!(
                                    "max user {} got {repeats} repeated replies with {kills} kills",
                                    customer.id
                                ));
                            }
                        }
                        Err(problem) => findings.problems.push(format!(
                            "max user {}: {problem}\n    arrived: {:?}\n    expected: {:?}",
                            customer.id,
                            arrived.iter().map(|text| shorten(text)).collect::<Vec<_>>(),
                            expected.iter().map(|text| shorten(text)).collect::<Vec<_>>(),
                        )),
                    }
                }
            }
        }
        findings
    }
}

/// Walks what arrived against what was expected, allowing a reply to arrive again right after
/// itself (a delivery that was sent, but not yet recorded as sent, when the process died).
/// Returns how many such repeats there were, or what went wrong.
pub fn repeats_in_order(expected: &[String], arrived: &[String]) -> Result<usize, String> {
    let mut next = 0;
    let mut repeats = 0;
    for (position, text) in arrived.iter().enumerate() {
        if next < expected.len() && *text == expected[next] {
            next += 1;
        } else if next > 0 && *text == expected[next - 1] {
            repeats += 1;
        } else {
            return Err(format!(
                "reply {position} {text:?} is out of order; expected {:?}",
                expected.get(next).map_or("nothing more", String::as_str)
            ));
        }
    }
    if next < expected.len() {
        return Err(format!(
            "{} of {} replies never arrived, from {:?}",
            expected.len() - next,
            expected.len(),
            expected[next]
        ));
    }
    Ok(repeats)
}

/// What [`Crowd::check`] counted, and every broken promise it found.
#[derive(Debug, Default)]
pub struct Findings {
    pub seed: u64,
    pub kills: usize,
    pub customers: usize,
    pub messages: usize,
    pub posts: usize,
    pub unacknowledged_posts: usize,
    pub repeated_after_acknowledgement: usize,
    pub acknowledged: usize,
    pub logged_inbound: usize,
    pub logged_once: usize,
    pub states_as_scripted: usize,
    pub tickets_as_scripted: usize,
    pub replies: usize,
    pub chats_in_order: usize,
    pub telegram_sends: usize,
    pub telegram_repeats: usize,
    pub most_telegram_repeats_in_a_chat: usize,
    pub vk_sends: usize,
    pub vk_shown: usize,
    pub max_sends: usize,
    pub max_repeats: usize,
    pub problems: Vec<String>,
}

impl Findings {
    pub fn print(&self, label: &str) {
        println!("{label}: seed {}, {} kills", self.seed, self.kills);
        println!(
            "  {} customers sent {} messages in {} posts ({} not acknowledged and posted again, {} posted again after their acknowledgement)",
            self.customers,
            self.messages,
            self.posts,
            self.unacknowledged_posts,
            self.repeated_after_acknowledgement
        );
        println!(
            "  acknowledged updates: {}; in the message log exactly once: {}; inbound log rows: {}",
            self.acknowledged, self.logged_once, self.logged_inbound
        );
        println!(
            "  conversations in their scripted state: {}/{}; with their scripted ticket: {}/{}",
            self.states_as_scripted, self.customers, self.tickets_as_scripted, self.customers
        );
        println!(
            "  replies in the outbox: {}; chats whose replies arrived in order: {}/{}",
            self.replies, self.chats_in_order, self.customers
        );
        println!(
            "  telegram: {} sends, {} repeated (at most {} in one chat)",
            self.telegram_sends, self.telegram_repeats, self.most_telegram_repeats_in_a_chat
        );
        println!(
            "  vk: {} messages.send calls, {} messages shown ({} repeats dropped by random_id)",
            self.vk_sends,
            self.vk_shown,
            self.vk_sends.saturating_sub(self.vk_shown)
        );
        println!("  max: {} messages shown, {} repeated", self.max_sends, self.max_repeats);
        for problem in self.problems.iter().take(20) {
            println!("  PROBLEM: {problem}");
        }
        if self.problems.len() > 20 {
            println!("  ... and {} more problems", self.problems.len() - 20);
        }
    }

    /// Fails the test on any broken promise.
    pub fn assert_all_kept(&self) {
        assert!(
            self.problems.is_empty(),
            "{} problems, the first: {}",
            self.problems.len(),
            self.problems[0]
        );
        assert_eq!(self.acknowledged, self.messages, "every message was acknowledged");
        assert_eq!(self.logged_once, self.messages);
        assert_eq!(self.states_as_scripted, self.customers);
        assert_eq!(self.tickets_as_scripted, self.customers);
        assert_eq!(self.chats_in_order, self.customers);
        // A turn is one message at most (core::turn); most messages are answered.
        assert!(self.replies <= self.messages, "{} replies to {} messages", self.replies, self.messages);
        assert!(2 * self.replies > self.messages, "{} replies to {} messages", self.replies, self.messages);
    }
}

/// The first words of a text, to print sequences readably.
fn shorten(text: &str) -> String {
    text.chars().take(24).collect()
}

fn photo_file_id(seed: u8) -> String {
    format!("AgADAgAD-crowd-photo-{seed}")
}

/// A PNG header of `seed` by `seed` pixels: enough for the image checks, distinct per seed.
pub fn png(seed: u8) -> Vec<u8> {
    fake_vk::png(u32::from(seed), u32::from(seed))
}

/// One outbox row, as the checks need it.
#[derive(Debug, Clone)]
struct OutboxLine {
    id: i64,
    channel: String,
    external_id: String,
    payload: String,
    lang: String,
    status: String,
}

impl OutboxLine {
    /// The text Telegram should have received for this row.
    fn render(&self, i18n: &switchboard::i18n::I18n) -> String {
        let lang = Lang::from_code(&self.lang).expect("a known language");
        match serde_json::from_str::<Outbound>(&self.payload).expect("a readable payload") {
            Outbound::Bot(reply) => i18n.reply(lang, &reply).text,
            Outbound::Agent { text, .. } => text,
        }
    }
}

/// Direct reads of the tables the checks need, on either backend.
enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

type Row6 = (i64, String, String, String, String, String);

macro_rules! on_both {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

impl Database {
    async fn open(url: &str) -> Database {
        if url.starts_with("sqlite:") {
            Database::Sqlite(SqlitePool::connect(url).await.expect("open the SQLite file"))
        } else {
            Database::Postgres(PgPool::connect(url).await.expect("connect to PostgreSQL"))
        }
    }

    async fn pending_outbox(&self) -> i64 {
        const QUERY: &str = "SELECT COUNT(*) FROM outbox WHERE status = 'pending'";
        on_both!(self, pool => sqlx::query_scalar(QUERY).fetch_one(pool).await.expect("count pending rows"))
    }

    /// How often each inbound event id is in the message log.
    async fn inbound_counts(&self) -> HashMap<String, i64> {
        const QUERY: &str =
            "SELECT event_id, COUNT(*) FROM messages WHERE direction = 'in' GROUP BY event_id";
        let rows: Vec<(Option<String>, i64)> =
            on_both!(self, pool => sqlx::query_as(QUERY).fetch_all(pool).await.expect("read the log"));
        rows.into_iter().map(|(event_id, count)| (event_id.unwrap_or_default(), count)).collect()
    }

    /// Each contact's stored dialog state, as JSON text.
    async fn states(&self) -> HashMap<(String, String), String> {
        let rows: Vec<(String, String, String)> = match self {
            Database::Sqlite(pool) => sqlx::query_as(
                "SELECT c.channel, c.external_id, v.state FROM conversations v JOIN contacts c ON c.id = v.contact_id",
            )
            .fetch_all(pool)
            .await
            .expect("read the states"),
            Database::Postgres(pool) => sqlx::query_as(
                "SELECT c.channel, c.external_id, v.state::text FROM conversations v JOIN contacts c ON c.id = v.contact_id",
            )
            .fetch_all(pool)
            .await
            .expect("read the states"),
        };
        rows.into_iter().map(|(channel, external_id, state)| ((channel, external_id), state)).collect()
    }

    /// Every outbox row, oldest first.
    async fn outbox(&self) -> Vec<OutboxLine> {
        let rows: Vec<Row6> = match self {
            Database::Sqlite(pool) => sqlx::query_as(
                "SELECT o.id, c.channel, c.external_id, o.payload, o.lang, o.status \
                 FROM outbox o JOIN contacts c ON c.id = o.contact_id ORDER BY o.id",
            )
            .fetch_all(pool)
            .await
            .expect("read the outbox"),
            Database::Postgres(pool) => sqlx::query_as(
                "SELECT o.id, c.channel, c.external_id, o.payload::text, o.lang, o.status \
                 FROM outbox o JOIN contacts c ON c.id = o.contact_id ORDER BY o.id",
            )
            .fetch_all(pool)
            .await
            .expect("read the outbox"),
        };
        rows.into_iter()
            .map(|(id, channel, external_id, payload, lang, status)| OutboxLine {
                id,
                channel,
                external_id,
                payload,
                lang,
                status,
            })
            .collect()
    }

    async fn close(self) {
        on_both!(self, pool => pool.close().await)
    }
}

/// The run's random seed: `SWITCHBOARD_CRASH_SEED` when set (to replay a run), else a fresh one.
pub fn seed() -> u64 {
    match std::env::var("SWITCHBOARD_CRASH_SEED") {
        Ok(seed) => seed.parse().expect("SWITCHBOARD_CRASH_SEED is a number"),
        Err(_) => rand::random(),
    }
}
