//! `switchboard-loadgen`: a fake Telegram Bot API plus the customers who talk to the bot
//! through it. Start it first, point the bot at `--listen`, and it waits for the bot to poll
//! (or set its webhook), optionally seeds stored conversations, runs the closed-loop dialog
//! for `--warmup` + `--duration` seconds and prints one JSON line with the figures.

mod customer;
mod fake_api;
mod script;
mod updates;

use clap::Parser;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Fake Telegram Bot API and load driver for bench/compare.sh")]
struct Args {
    /// Where the fake Bot API listens; give the bot http://<this> as its API URL.
    #[arg(long, default_value = "127.0.0.1:18081")]
    listen: String,
    /// The bot token the fake accepts (its prefix is the bot id).
    #[arg(long, default_value = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq")]
    token: String,
    /// Customers talking at the same time.
    #[arg(long, default_value_t = 300)]
    customers: usize,
    /// Seconds of load before the measurement starts.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Seconds measured.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Conversations to store before the measurement (customers who only say /start).
    #[arg(long, default_value_t = 0)]
    seed: usize,
    /// Seeding customers at a time.
    #[arg(long, default_value_t = 500)]
    seed_concurrency: usize,
    /// Seconds to wait for the bot to start.
    #[arg(long, default_value_t = 180)]
    ready_timeout: u64,
    /// Seconds a customer waits for an answer before it counts as an error.
    #[arg(long, default_value_t = 30)]
    step_timeout: u64,
    /// Write a timeline of API calls to this file (for profiling a bot).
    #[arg(long)]
    trace: Option<String>,
    /// Name of this run in the output.
    #[arg(long, default_value = "bot")]
    label: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let api = fake_api::FakeApi::new(&args.token, args.trace.is_some())?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    api.serve(listener);
    eprintln!("loadgen: fake Bot API on http://{}; waiting for the bot", args.listen);
    api.wait_ready(Duration::from_secs(args.ready_timeout)).await?;

    let labels = Arc::new(script::labels());
    let mut seed_report = serde_json::Value::Null;
    if args.seed > 0 {
        let started = Instant::now();
        customer::seed(
            Arc::clone(&api),
            Arc::clone(&labels),
            args.seed,
            args.seed_concurrency,
            Duration::from_secs(args.step_timeout),
        )
        .await?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!("loadgen: seeded {} conversations in {secs:.1} s", args.seed);
        seed_report =
            json!({"conversations": args.seed, "secs": round(secs), "per_s": round(args.seed as f64 / secs)});
    }

    let before = calls(&api);
    let start = Instant::now();
    let run = Arc::new(customer::Run {
        api: Arc::clone(&api),
        labels,
        measure_from: start + Duration::from_secs(args.warmup),
        measure_until: start + Duration::from_secs(args.warmup + args.duration),
        step_timeout: Duration::from_secs(args.step_timeout),
    });
    eprintln!(
        "loadgen: {} customers, {} s warm-up, {} s measured",
        args.customers, args.warmup, args.duration
    );
    let customers: Vec<_> =
        (0..args.customers).map(|index| tokio::spawn(customer::run(Arc::clone(&run), index))).collect();
    let mut latencies = Vec::new();
    let mut by_step: BTreeMap<&'static str, Vec<u32>> = BTreeMap::new();
    let mut errors = 0;
    let mut first_error = None;
    let mut extra_replies = 0;
    let mut replies = 0;
    let mut replies_by_step: BTreeMap<&'static str, u64> = BTreeMap::new();
    for handle in customers {
        let report = handle.await?;
        latencies.extend_from_slice(&report.latencies_us);
        for (step, values) in report.by_step {
            by_step.entry(step).or_default().extend(values);
        }
        extra_replies += report.extra_replies;
        replies += report.replies;
        for (step, count) in report.replies_by_step {
            *replies_by_step.entry(step).or_default() += count;
        }
        if let Some(error) = report.error {
            errors += 1;
            first_error.get_or_insert(error);
        }
    }
    let after = calls(&api);
    latencies.sort_unstable();
    let window = args.duration as f64;
    let steps: serde_json::Map<String, serde_json::Value> = by_step
        .into_iter()
        .map(|(step, mut values)| {
            values.sort_unstable();
            let replies = replies_by_step.get(step).copied().unwrap_or(0);
            (
                step.to_owned(),
                json!({
                    "p50_ms": percentile(&values, 0.50),
                    "p99_ms": percentile(&values, 0.99),
                    "replies_per_update": per(replies, values.len()),
                }),
            )
        })
        .collect();
    let result = json!({
        "label": args.label,
        "customers": args.customers,
        "window_s": window,
        "updates": latencies.len(),
        "updates_per_s": round(latencies.len() as f64 / window),
        "replies": replies,
        "replies_per_s": round(replies as f64 / window),
        "replies_per_update": per(replies, latencies.len()),
        "p50_ms": percentile(&latencies, 0.50),
        "p90_ms": percentile(&latencies, 0.90),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": percentile(&latencies, 1.0),
        "errors": errors,
        "first_error": first_error,
        "extra_replies": extra_replies,
        "unrouted_messages": api.counters.unrouted.load(Ordering::Relaxed),
        "steps": steps,
        "calls": diff(&before, &after),
        "seed": seed_report,
    });
    println!("{result}");
    if let Some(path) = &args.trace {
        api.write_trace(path)?;
    }
    Ok(())
}

fn calls(api: &fake_api::FakeApi) -> BTreeMap<&'static str, u64> {
    let counters = &api.counters;
    BTreeMap::from([
        ("getUpdates", counters.get_updates.load(Ordering::Relaxed)),
        ("sendMessage", counters.send_message.load(Ordering::Relaxed)),
        ("answerCallbackQuery", counters.answer_callback.load(Ordering::Relaxed)),
        ("editMessage", counters.edit_markup.load(Ordering::Relaxed)),
        ("other", counters.other.load(Ordering::Relaxed)),
        ("webhookPosts", counters.webhook_posts.load(Ordering::Relaxed)),
        ("webhookFailures", counters.webhook_failures.load(Ordering::Relaxed)),
    ])
}

fn diff(before: &BTreeMap<&'static str, u64>, after: &BTreeMap<&'static str, u64>) -> serde_json::Value {
    after.iter().map(|(name, count)| (name.to_string(), json!(count - before[name]))).collect()
}

/// The value at `fraction` of the sorted microseconds, in milliseconds (one decimal).
fn percentile(sorted: &[u32], fraction: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some((f64::from(sorted[index]) / 100.0).round() / 10.0)
}

/// `count` per update, to two decimals (replies per update sit between 1 and 3).
fn per(count: u64, updates: usize) -> Option<f64> {
    (updates > 0).then(|| (count as f64 / updates as f64 * 100.0).round() / 100.0)
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}
