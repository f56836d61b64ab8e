//! `switchboard bench`: drives many concurrent scripted conversations through the whole
//! inbound path (dedupe -> step -> one transaction -> outbox) while an outbox worker delivers
//! to a channel that does nothing, and reports throughput and commit latency.
//!
//! Latency is measured from submitting an event to the engine acknowledging it, which happens
//! only after its transaction is durable: the figure a platform waiting for its 200 sees.

use crate::channels::{
    Accepted, Channel, Delivery, DeliveryError, InboundEvent, InboundKind, Intake, IntakeError,
};
use crate::core::dialog::Input;
use crate::core::faq::{IntentClassifier, Match};
use crate::core::message::{Action, IssueType, Lang};
use crate::core::order_id::OrderIdFormat;
use crate::engine::{Engine, EngineError, EngineSettings};
use crate::outbox::{OutboxSettings, OutboxWorker};
use crate::store::{self, Backend, ConnectOptions, SqliteDurability, StoreError};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Database to run against (`sqlite://bench.db`, `postgres://...`). Use a throwaway one:
    /// the bench leaves its conversations behind.
    #[arg(long, default_value = "sqlite://switchboard-bench.db")]
    pub database_url: String,
    /// Conversations running at the same time.
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    /// Events each conversation sends, one after another.
    #[arg(long, default_value_t = 20)]
    pub events_per_conversation: usize,
    /// SQLite `synchronous=NORMAL` instead of FULL (see `store::SqliteDurability`).
    #[arg(long)]
    pub relaxed_durability: bool,
    /// Most events per group commit.
    #[arg(long, default_value_t = 512)]
    pub max_batch: usize,
}

impl BenchArgs {
    /// The defaults, for a given database.
    pub fn for_database(database_url: &str) -> BenchArgs {
        BenchArgs {
            database_url: database_url.to_owned(),
            conversations: 1000,
            events_per_conversation: 20,
            relaxed_durability: false,
            max_batch: 512,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("a conversation task failed: {0}")]
    Task(String),
}

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub backend: Backend,
    pub durability: Option<SqliteDurability>,
    pub conversations: usize,
    pub events: usize,
    pub replies: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Time from the start until the outbox was empty (every reply handed to the channel).
    pub delivered_after: Duration,
    /// Where the group commits' time went.
    pub timeline: crate::engine::timeline::Totals,
}

impl BenchReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match (self.backend, self.durability) {
            (Backend::Sqlite, Some(SqliteDurability::Normal)) => "SQLite (synchronous=NORMAL)",
            (Backend::Sqlite, _) => "SQLite (synchronous=FULL)",
            (Backend::Postgres, _) => "PostgreSQL",
        };
        writeln!(
            f,
            "{backend}: {} conversations, {} events, {} replies",
            self.conversations, self.events, self.replies
        )?;
        writeln!(
            f,
            "  throughput  {:>9.0} events/s  ({:.2} s until the last commit)",
            self.events_per_second(),
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "  commit latency  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            millis(self.p50),
            millis(self.p99),
            millis(self.max)
        )?;
        writeln!(f, "  outbox drained after {:.2} s", self.delivered_after.as_secs_f64())?;
        write!(f, "{}", self.timeline)
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Runs the benchmark: `conversations` tasks each send `events_per_conversation` scripted
/// events in order (awaiting each acknowledgement), all at once.
pub async fn run(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    let durability = if args.relaxed_durability { SqliteDurability::Normal } else { SqliteDurability::Full };
    let options = ConnectOptions { sqlite_durability: durability, ..ConnectOptions::default() };
    let store = store::connect(&args.database_url, &options).await?;
    let backend = store.backend();
    let settings = EngineSettings::new(Arc::new(BenchOrderIds), Arc::new(NoFaq), Lang::En);
    let engine =
        Arc::new(Engine::start(Arc::clone(&store), EngineSettings { max_batch: args.max_batch, ..settings }));

    let channel: Arc<dyn Channel> = Arc::new(NoopChannel);
    let channels = HashMap::from([(BENCH_CHANNEL, channel)]);
    let worker =
        OutboxWorker::new(Arc::clone(&store), channels, OutboxSettings::default(), engine.outbox_link());
    let (stop_worker, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));

    // Unique per run, so repeated runs on one database never look like redeliveries.
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.conversations);
    for conversation in 0..args.conversations {
        let engine = Arc::clone(&engine);
        let run_id = run_id.clone();
        let count = args.events_per_conversation;
        tasks.push(tokio::spawn(async move {
            let external_id = format!("{run_id}-{conversation}");
            let mut latencies = Vec::with_capacity(count);
            let mut replies = 0;
            for step in 0..count {
                let event = scripted_event(&external_id, step);
                let submitted = Instant::now();
                let accepted = engine.accept(event).await?;
                latencies.push(submitted.elapsed());
                if let Accepted::Applied { replies: queued } = accepted {
                    replies += queued;
                }
            }
            Ok::<_, IntakeError>((latencies, replies))
        }));
    }
    let mut latencies = Vec::with_capacity(args.conversations * args.events_per_conversation);
    let mut replies = 0;
    for task in tasks {
        let (mine, queued) = task.await.map_err(|error| BenchError::Task(error.to_string()))??;
        latencies.extend(mine);
        replies += queued;
    }
    let elapsed = started.elapsed();
    let timeline = engine.timeline();

    while store.pending_outbox().await? > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered_after = started.elapsed();
    let _ = stop_worker.send(());
    let _ = worker.await;
    engine.shutdown().await;
    store.close().await;

    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(index).copied().unwrap_or_default()
    };
    Ok(BenchReport {
        backend,
        durability: (backend == Backend::Sqlite).then_some(durability),
        conversations: args.conversations,
        events: latencies.len(),
        replies,
        elapsed,
        p50: percentile(0.50),
        p99: percentile(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        delivered_after,
        timeline,
    })
}

const BENCH_CHANNEL: &str = "bench";

/// A support request from start to withdrawal, repeated: menu, issue, order ID, skip photo,
/// description (a ticket is queued), cancel (it is withdrawn).
fn scripted_event(external_id: &str, step: usize) -> InboundEvent {
    let input = match step % 6 {
        0 => Input::Text { text: "/start".to_owned() },
        1 => Input::Button { action: Action::Issue(IssueType::Delivery) },
        2 => Input::Text { text: "AB-1234".to_owned() },
        3 => Input::Button { action: Action::SkipPhoto },
        4 => Input::Text { text: "The parcel has not arrived yet".to_owned() },
        _ => Input::Text { text: "/cancel".to_owned() },
    };
    InboundEvent {
        channel: BENCH_CHANNEL,
        event_id: format!("{external_id}-{step}"),
        external_id: external_id.to_owned(),
        language_hint: Some("en".to_owned()),
        display_name: None,
        contact_data: None,
        kind: InboundKind::Input(input),
    }
}

struct BenchOrderIds;

impl OrderIdFormat for BenchOrderIds {
    fn accepts(&self, candidate: &str) -> bool {
        candidate.len() == 7 && candidate.as_bytes()[2] == b'-'
    }

    fn example(&self) -> &str {
        "AB-1234"
    }
}

/// No FAQ model: descriptions go to the queue, which exercises ticket writes.
struct NoFaq;

impl IntentClassifier for NoFaq {
    fn classify(&self, _lang: Lang, _text: &str) -> Option<Match> {
        None
    }
}

struct NoopChannel;

#[async_trait::async_trait]
impl Channel for NoopChannel {
    fn name(&self) -> &'static str {
        BENCH_CHANNEL
    }

    async fn deliver(&self, _delivery: &Delivery) -> Result<(), DeliveryError> {
        Ok(())
    }
}
