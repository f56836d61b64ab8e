//! Operational metrics: the series Switchboard records and the `/metrics` endpoint that shows
//! them in Prometheus text format.
//!
//! Recording goes through the `metrics` facade. Without an installed recorder (metrics are
//! off, or a test runs the engine alone) every call is a no-op, so the engine and the outbox
//! record unconditionally. [`install`] puts a Prometheus recorder in place once per process;
//! `app::start` does that before the engine starts, because [`EngineMetrics`] binds its
//! histogram handles to whichever recorder is installed when it is made.
//!
//! Costs on the hot path: inbound events and group commits are counted once per batch
//! ([`count_inbound`]); the dialog step histogram is a pre-registered handle, so one sample
//! is one atomic push, with no lookup and no allocation. Gauges that describe the database
//! (outbox depth, handoff queue) are read from it when `/metrics` is scraped, not kept up to
//! date by the writers.

use crate::channel_state::{ChannelState, ChannelStates};
use crate::channels::{Accepted, InboundEvent, InboundKind};
use crate::core::dialog::Input;
use crate::store::{DeliveryOutcome, OutboxJob, Store};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{
    Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const INBOUND_EVENTS: &str = "switchboard_inbound_events_total";
pub const FLOOD_LIMITED: &str = "switchboard_flood_limited_total";
pub const DIALOG_STEP_SECONDS: &str = "switchboard_dialog_step_seconds";
pub const GROUP_COMMIT_EVENTS: &str = "switchboard_group_commit_events";
pub const GROUP_COMMIT_SECONDS: &str = "switchboard_group_commit_seconds";
pub const OUTBOX_DEPTH: &str = "switchboard_outbox_depth";
pub const OUTBOX_DELIVERY_SECONDS: &str = "switchboard_outbox_delivery_seconds";
pub const OUTBOX_SENT: &str = "switchboard_outbox_sent_total";
pub const OUTBOX_RETRIES: &str = "switchboard_outbox_retries_total";
pub const OUTBOX_DEAD_LETTERS: &str = "switchboard_outbox_dead_letters_total";
pub const HANDOFF_QUEUE_LENGTH: &str = "switchboard_handoff_queue_length";
pub const HANDOFF_WAIT_SECONDS: &str = "switchboard_handoff_wait_seconds";
pub const WEBHOOK_FAILING_SECONDS: &str = "switchboard_webhook_failing_seconds";
pub const CHANNEL_STATE: &str = "switchboard_channel_state";

/// Upper bounds for latencies: half a millisecond (a dialog step) to half a minute (a slow
/// platform or an overloaded database).
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Events per group commit: one to the engine's largest batch and beyond.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];
/// Waits in the handoff queue: seconds to a day.
const WAIT_BUCKETS: &[f64] =
    &[5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0];

/// Installs the Prometheus recorder for this process (the first call does; later calls return
/// the same handle) and describes every series.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut installed = HANDLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    // A full-name match wins over a suffix match, so the queue wait keeps its own buckets.
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(HANDOFF_WAIT_SECONDS.to_owned()), WAIT_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(GROUP_COMMIT_EVENTS.to_owned()), BATCH_BUCKETS)?
        .install_recorder()?;
    describe();
    *installed = Some(handle.clone());
    Ok(handle)
}

/// How each series is kept.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every series with its unit and the help text `/metrics` shows.
const SERIES: &[(&str, Kind, Unit, &str)] = &[
    (
        INBOUND_EVENTS,
        Kind::Counter,
        Unit::Count,
        "Inbound events by channel and kind; a platform redelivery counts as kind `duplicate`.",
    ),
    (
        FLOOD_LIMITED,
        Kind::Counter,
        Unit::Count,
        "Customer messages kept out of the dialog by flood control (logged for agents).",
    ),
    (
        DIALOG_STEP_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "One customer input through the dialog, with the ticket changes it makes.",
    ),
    (GROUP_COMMIT_EVENTS, Kind::Histogram, Unit::Count, "Inbound events per group commit."),
    (
        GROUP_COMMIT_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "One group commit of inbound events, from the first statement to the commit (retries included).",
    ),
    (OUTBOX_DEPTH, Kind::Gauge, Unit::Count, "Replies waiting in the outbox (read at scrape time)."),
    (
        OUTBOX_DELIVERY_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "How long a channel took to hand one reply to its platform, by channel.",
    ),
    (OUTBOX_SENT, Kind::Counter, Unit::Count, "Replies delivered, by channel."),
    (
        OUTBOX_RETRIES,
        Kind::Counter,
        Unit::Count,
        "Deliveries to try again later, by channel and reason (rate_limited, transient).",
    ),
    (OUTBOX_DEAD_LETTERS, Kind::Counter, Unit::Count, "Replies given up on, by channel."),
    (
        HANDOFF_QUEUE_LENGTH,
        Kind::Gauge,
        Unit::Count,
        "Tickets waiting for an agent, by priority (read at scrape time).",
    ),
    (
        HANDOFF_WAIT_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "Time from a ticket's creation to an agent claiming it.",
    ),
    (
        WEBHOOK_FAILING_SECONDS,
        Kind::Gauge,
        Unit::Seconds,
        "How long a platform's webhook posts have been refused without a break, by channel; 0 after a success (MAX unsubscribes after 8 hours).",
    ),
    (
        CHANNEL_STATE,
        Kind::Gauge,
        Unit::Count,
        "1 for each channel's current state (starting, up, retrying, stopped), 0 for the others.",
    ),
];

fn describe() {
    for &(name, kind, unit, help) in SERIES {
        match kind {
            Kind::Counter => describe_counter!(name, unit, help),
            Kind::Gauge => describe_gauge!(name, unit, help),
            Kind::Histogram => describe_histogram!(name, unit, help),
        }
    }
}

/// The engine's histograms, registered once when the engine starts.
#[derive(Clone)]
pub struct EngineMetrics {
    pub dialog_step: Histogram,
    pub commit_events: Histogram,
    pub commit_seconds: Histogram,
    pub handoff_wait: Histogram,
}

impl EngineMetrics {
    /// Handles bound to the recorder installed now (no-op handles without one).
    pub fn register() -> EngineMetrics {
        EngineMetrics {
            dialog_step: histogram!(DIALOG_STEP_SECONDS),
            commit_events: histogram!(GROUP_COMMIT_EVENTS),
            commit_seconds: histogram!(GROUP_COMMIT_SECONDS),
            handoff_wait: histogram!(HANDOFF_WAIT_SECONDS),
        }
    }
}

/// The `kind` label of an inbound event that was applied.
pub fn inbound_kind(kind: &InboundKind) -> &'static str {
    match kind {
        InboundKind::Input(input) => match input {
            Input::Text { .. } => "text",
            Input::Button { .. } => "button",
            Input::StaleButton => "stale_button",
            Input::Photo { .. } => "photo",
            Input::PhotoRejected { .. } => "photo_rejected",
            Input::Unsupported { .. } => "unsupported",
            Input::Email(_) => "email",
            // Support-side inputs from a channel are refused by the engine.
            Input::TicketAssigned { .. }
            | Input::TicketReleased
            | Input::TicketResolved
            | Input::TicketReopened { .. }
            | Input::QueueReminder
            | Input::OrderLooked { .. } => "refused",
        },
        InboundKind::Edited { .. } => "edited",
        InboundKind::Reachability { .. } => "reachability",
        InboundKind::GroupChat => "group_chat",
        InboundKind::Identify { .. } => "identify",
    }
}

/// Counts one committed batch of inbound events by channel and kind: one counter update per
/// distinct pair, not per event.
pub fn count_inbound(events: &[InboundEvent], results: &[Accepted]) {
    let mut tally: Vec<(&'static str, &'static str, u64)> = Vec::new();
    for (event, result) in events.iter().zip(results) {
        let kind = match result {
            Accepted::Duplicate => "duplicate",
            Accepted::Applied { .. } => inbound_kind(&event.kind),
        };
        match tally.iter_mut().find(|(channel, seen, _)| *channel == event.channel && *seen == kind) {
            Some(entry) => entry.2 += 1,
            None => tally.push((event.channel, kind, 1)),
        }
    }
    for (channel, kind, count) in tally {
        counter!(INBOUND_EVENTS, "channel" => channel, "kind" => kind).increment(count);
    }
}

/// A customer message kept out of the dialog by flood control.
pub fn count_flood_limited(channel: &'static str) {
    counter!(FLOOD_LIMITED, "channel" => channel).increment(1);
}

/// Counts one delivery round's outcomes by channel.
pub fn count_deliveries(outcomes: &[(OutboxJob, DeliveryOutcome)]) {
    // (channel, sent, rate limited, transient, dead); a round rarely spans more than a few channels.
    let mut tally: Vec<(&str, [u64; 4])> = Vec::new();
    for (job, outcome) in outcomes {
        let slot = match outcome {
            DeliveryOutcome::Sent => 0,
            DeliveryOutcome::Retry { count_attempt: false, .. } => 1,
            DeliveryOutcome::Retry { count_attempt: true, .. } => 2,
            DeliveryOutcome::Dead { .. } => 3,
            DeliveryOutcome::Released => continue,
        };
        match tally.iter_mut().find(|(channel, _)| *channel == job.channel) {
            Some((_, counts)) => counts[slot] += 1,
            None => {
                let mut counts = [0; 4];
                counts[slot] = 1;
                tally.push((job.channel.as_str(), counts));
            }
        }
    }
    for (channel, [sent, rate_limited, transient, dead]) in tally {
        let channel = channel.to_owned();
        if sent > 0 {
            counter!(OUTBOX_SENT, "channel" => channel.clone()).increment(sent);
        }
        if rate_limited > 0 {
            counter!(OUTBOX_RETRIES, "channel" => channel.clone(), "reason" => "rate_limited")
                .increment(rate_limited);
        }
        if transient > 0 {
            counter!(OUTBOX_RETRIES, "channel" => channel.clone(), "reason" => "transient")
                .increment(transient);
        }
        if dead > 0 {
            counter!(OUTBOX_DEAD_LETTERS, "channel" => channel).increment(dead);
        }
    }
}

/// How long a channel's webhook posts have been refused without a break (0: the last was taken).
pub fn record_webhook_failing(channel: &'static str, failing: Duration) {
    gauge!(WEBHOOK_FAILING_SECONDS, "channel" => channel).set(failing.as_secs_f64());
}

/// How long one platform call took, for a channel.
pub fn record_delivery(channel: &'static str, took: Duration) {
    histogram!(OUTBOX_DELIVERY_SECONDS, "channel" => channel).record(took);
}

#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    store: Arc<dyn Store>,
    channels: ChannelStates,
}

/// `GET /metrics`, for the separate metrics address.
pub fn router(handle: PrometheusHandle, store: Arc<dyn Store>, channels: ChannelStates) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(Scrape { handle, store, channels })
}

async fn scrape(State(scrape): State<Scrape>) -> Response {
    refresh_gauges(scrape.store.as_ref()).await;
    for (channel, state) in scrape.channels.all() {
        for code in ChannelState::CODES {
            let current = if state.code() == code { 1.0 } else { 0.0 };
            gauge!(CHANNEL_STATE, "channel" => channel, "state" => code).set(current);
        }
    }
    scrape.handle.run_upkeep();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        scrape.handle.render(),
    )
        .into_response()
}

/// Reads the gauges that describe the database. Every instance reports the same figures, so
/// aggregate them with `max`, not `sum`. A database that does not answer leaves the last
/// values in place (and `/readyz` says why).
async fn refresh_gauges(store: &dyn Store) {
    match store.pending_outbox().await {
        Ok(pending) => gauge!(OUTBOX_DEPTH).set(pending as f64),
        Err(error) => tracing::warn!(%error, "metrics: reading the outbox depth failed"),
    }
    match store.queue_overview().await {
        Ok(queue) => {
            gauge!(HANDOFF_QUEUE_LENGTH, "priority" => "high").set(f64::from(queue.queued_high));
            gauge!(HANDOFF_QUEUE_LENGTH, "priority" => "normal").set(f64::from(queue.queued_normal));
            gauge!(HANDOFF_QUEUE_LENGTH, "priority" => "low").set(f64::from(queue.queued_low));
        }
        Err(error) => tracing::warn!(%error, "metrics: reading the handoff queue failed"),
    }
}

/// Drains recorded histogram samples into their buckets every few seconds, so memory stays
/// flat when nobody scrapes. Runs until `shutdown` completes.
pub async fn run_upkeep(handle: PrometheusHandle, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => handle.run_upkeep(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::message::{Lang, Outbound, Reply};

    fn event(channel: &'static str, kind: InboundKind) -> InboundEvent {
        InboundEvent {
            channel,
            event_id: "e".to_owned(),
            external_id: "x".to_owned(),
            language_hint: None,
            display_name: None,
            contact_data: None,
            kind,
        }
    }

    fn job(channel: &str) -> OutboxJob {
        OutboxJob {
            id: 1,
            conversation_id: 1,
            contact_id: 1,
            channel: channel.to_owned(),
            external_id: "x".to_owned(),
            contact_data: None,
            lang: Lang::En,
            payload: Outbound::Bot(Reply::new("greeting")),
            attempts: 0,
        }
    }

    #[test]
    fn batches_are_counted_by_channel_kind_and_outcome() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let text = || InboundKind::Input(Input::Text { text: "hi".to_owned() });
        let events = [
            event("vk", text()),
            event("vk", text()),
            event("vk", InboundKind::GroupChat),
            event("telegram", text()),
            event("telegram", InboundKind::Edited { text: "hi!".to_owned() }),
        ];
        let applied = Accepted::Applied { replies: 1 };
        let results = [applied, applied, applied, Accepted::Duplicate, applied];
        let retry = |count_attempt| DeliveryOutcome::Retry { at: 0, count_attempt, error: String::new() };
        let outcomes = [
            (job("vk"), DeliveryOutcome::Sent),
            (job("vk"), retry(false)),
            (job("vk"), DeliveryOutcome::Dead { error: String::new(), unreachable: true }),
            (job("telegram"), retry(true)),
            (job("telegram"), retry(true)),
            (job("telegram"), DeliveryOutcome::Released),
        ];
        metrics::with_local_recorder(&recorder, || {
            count_inbound(&events, &results);
            count_deliveries(&outcomes);
            count_flood_limited("vk");
        });
        let rendered = handle.render();
        for expected in [
            r#"switchboard_inbound_events_total{channel="vk",kind="text"} 2"#,
            r#"switchboard_inbound_events_total{channel="vk",kind="group_chat"} 1"#,
            r#"switchboard_inbound_events_total{channel="telegram",kind="duplicate"} 1"#,
            r#"switchboard_inbound_events_total{channel="telegram",kind="edited"} 1"#,
            r#"switchboard_outbox_sent_total{channel="vk"} 1"#,
            r#"switchboard_outbox_retries_total{channel="vk",reason="rate_limited"} 1"#,
            r#"switchboard_outbox_dead_letters_total{channel="vk"} 1"#,
            r#"switchboard_outbox_retries_total{channel="telegram",reason="transient"} 2"#,
            r#"switchboard_flood_limited_total{channel="vk"} 1"#,
        ] {
            assert!(rendered.lines().any(|line| line == expected), "missing {expected} in\n{rendered}");
        }
        assert!(!rendered.contains(r#"switchboard_outbox_sent_total{channel="telegram"}"#), "{rendered}");
    }
}
