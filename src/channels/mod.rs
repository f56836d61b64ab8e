//! Messengers: each channel turns platform payloads into [`InboundEvent`]s and delivers
//! outbox rows back through the platform. Channels never touch the store; the engine never
//! knows a platform's wire format.

pub mod email;
pub mod max;
pub mod numbered;
pub mod ozon;
pub mod platform_api;
pub mod platform_channel;
pub mod platform_receiver;
pub mod telegram;
pub mod terminal;
pub mod vk;
pub mod webchat;

use crate::core::dialog::Input;
use crate::core::message::{Lang, Outbound, Reply};
use crate::i18n::RenderedReply;
use std::sync::Arc;
use std::time::Duration;

/// Renders a bot reply for a language. The app passes `I18n`'s renderer; tests may pass
/// their own. Channels lay the rendered text and buttons out natively.
pub type Renderer = Arc<dyn Fn(Lang, &Reply) -> RenderedReply + Send + Sync>;

/// A renderer for unit tests: a reply's text is its key in angle brackets (`<menu-prompt>`,
/// paragraphs apart as `I18n::reply` sets them), a button's label its key, so tests read what
/// the dialog chose, not how it is worded.
#[cfg(test)]
pub(crate) fn key_renderer() -> Renderer {
    Arc::new(|_lang, reply: &Reply| RenderedReply {
        text: reply.texts().map(|text| format!("<{}>", text.key)).collect::<Vec<_>>().join("\n\n"),
        buttons: reply
            .buttons
            .iter()
            .map(|row| {
                row.iter()
                    .map(|b| crate::i18n::RenderedButton {
                        label: b.label.key.clone(),
                        data: b.action.encode(),
                    })
                    .collect()
            })
            .collect(),
        attachments: reply.attachments.clone(),
    })
}

/// Rows of rendered buttons of the given widths, numbered across rows (`B1`/`d1`, `B2`/`d2`,
/// ...), for the keyboard layout tests of the channels.
#[cfg(test)]
pub(crate) fn numbered_buttons(widths: &[usize]) -> Vec<Vec<crate::i18n::RenderedButton>> {
    let mut number = 0;
    widths
        .iter()
        .map(|width| {
            (0..*width)
                .map(|_| {
                    number += 1;
                    crate::i18n::RenderedButton { label: format!("B{number}"), data: format!("d{number}") }
                })
                .collect()
        })
        .collect()
}

/// One event from a platform, normalised. The engine stores it durably before the platform
/// is told it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundEvent {
    /// `telegram`, `vk`, `max`, `webchat`, `terminal`, ...
    pub channel: &'static str,
    /// The platform's id for this event (Telegram `update_id`, VK `event_id`, MAX's message
    /// `mid` or `callback_id`, a web chat client's message id): the dedupe key together with
    /// `channel`.
    pub event_id: String,
    /// Who, on this channel: a Telegram chat id, a VK peer id, a MAX user id (`chat:<id>` for a
    /// group chat), a web chat visitor id.
    pub external_id: String,
    /// The platform's idea of the customer's language (`ru-RU`, `zh-hans`), if it has one.
    pub language_hint: Option<String>,
    pub display_name: Option<String>,
    /// Channel-specific facts about the contact that outbound delivery needs (for example
    /// which VK keyboard kinds the client supports). Stored on the contact, replaced when given.
    pub contact_data: Option<serde_json::Value>,
    pub kind: InboundKind,
}

impl InboundEvent {
    /// An event with what every event has; a channel adds the facts it knows (a language, a
    /// name, contact data) with struct update syntax.
    pub fn new(
        channel: &'static str,
        event_id: String,
        external_id: String,
        kind: InboundKind,
    ) -> InboundEvent {
        InboundEvent {
            channel,
            event_id,
            external_id,
            language_hint: None,
            display_name: None,
            contact_data: None,
            kind,
        }
    }
}

/// The events of one platform message, one per kind in order: the first under the message's
/// dedupe id, each further one under `<id>#<n>`, so the ids stay the same on a redelivery (one
/// message can carry several images, and each is an event of its own).
pub fn message_events(
    dedupe_id: &str,
    kinds: Vec<InboundKind>,
    mut event: impl FnMut(String, InboundKind) -> InboundEvent,
) -> Vec<InboundEvent> {
    kinds
        .into_iter()
        .enumerate()
        .map(|(index, kind)| {
            let event_id = if index == 0 { dedupe_id.to_owned() } else { format!("{dedupe_id}#{index}") };
            event(event_id, kind)
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub enum InboundKind {
    /// Something for the dialog.
    Input(Input),
    /// The customer edited an earlier message: logged for the agent, not re-run.
    Edited { text: String },
    /// The customer blocked (`false`) or unblocked (`true`) the bot.
    Reachability { reachable: bool },
    /// A message in a group chat: the bot asks, once per event, to write privately.
    GroupChat,
    /// The store says who this contact is (the web chat's signed identity): the engine checks
    /// the signature and links the contact to the store's customer. Nothing is said.
    Identify { identity: crate::customers::SignedIdentity },
}

/// One outbox row, ready for a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The outbox row id. Stable across retries: channels derive idempotency keys from it
    /// (VK `random_id`).
    pub outbox_id: i64,
    pub external_id: String,
    pub contact_data: Option<serde_json::Value>,
    pub lang: Lang,
    pub message: Outbound,
    /// The conversation's newest ticket number, for a channel that shows it
    /// ([`Channel::shows_ticket_number`]); `None` for the others, and while there is none.
    pub ticket: Option<i64>,
}

/// What a failed delivery means for the outbox. Callers act on the variant, never on text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// The platform said when to try again (Telegram 429 `retry_after`).
    #[error("rate limited; retry after {0:?}")]
    RetryAfter(Duration),
    /// Worth retrying with backoff: timeouts, 5xx, dropped connections, flood control.
    #[error("transient delivery failure: {0}")]
    Transient(String),
    /// Retrying cannot help. `unreachable` marks the contact as not reachable (blocked bot,
    /// messages denied) so nothing more is sent until they come back.
    #[error("permanent delivery failure: {reason}")]
    Permanent { reason: String, unreachable: bool },
}

/// At most this many platform messages for one outbox row (VK, MAX, Ozon): a text that needs
/// more is refused rather than flooding the customer's chat.
pub const MAX_PARTS: usize = 32;

/// A text as the messages of a platform that takes at most `max_units` UTF-16 units each: split
/// at paragraph breaks first ([`split_message`](crate::message_split::split_message)), no part
/// empty (a blank text gives none), and refused when it would take more than [`MAX_PARTS`]
/// messages of `platform`.
pub fn message_parts(text: &str, max_units: usize, platform: &str) -> Result<Vec<String>, DeliveryError> {
    let mut parts = crate::message_split::split_message(text, max_units);
    parts.retain(|part| !part.is_empty());
    if parts.len() > MAX_PARTS {
        return Err(DeliveryError::Permanent {
            reason: format!(
                "the message needs {} {platform} messages; at most {MAX_PARTS} are sent",
                parts.len()
            ),
            unreachable: false,
        });
    }
    Ok(parts)
}

/// The stored bytes of an image an outgoing message carries, or `None` when retention erased
/// it (the text still goes out; `message` names the message in the warning, "a MAX message").
/// Failing to read it is worth a retry.
pub async fn stored_image(
    media: &crate::media::MediaStore,
    image: &crate::core::message::MediaRef,
    message: &str,
) -> Result<Option<Vec<u8>>, DeliveryError> {
    match media.read(&image.sha256).await {
        Ok(Some(bytes)) => Ok(Some(bytes)),
        Ok(None) => {
            tracing::warn!(sha256 = %image.sha256, "an image for {message} is no longer stored");
            Ok(None)
        }
        Err(error) => Err(DeliveryError::Transient(format!("reading a stored image: {error}"))),
    }
}

/// What a platform client's error means, apart from its wording: each client (VK, MAX, Ozon)
/// sorts its own errors into these, and the outbox and the receive loops act on the sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformFailure {
    /// Too many requests: wait this long, then try again.
    RetryAfter(Duration),
    /// Worth retrying with backoff: the platform or the network failed.
    Transient,
    /// This customer cannot be written to any more (blocked, gone, messages denied).
    Unreachable,
    /// This request was refused; retrying it cannot help, other requests may go on.
    Refused,
    /// Our credentials were refused: the whole channel stops until restarted.
    CredentialsRefused,
}

/// A platform client's error type: what each error means, and its wording for logs and reasons.
pub trait PlatformError: std::fmt::Display {
    fn failure(&self) -> PlatformFailure;

    /// Whether the channel cannot go on at all (credentials rejected).
    fn is_fatal(&self) -> bool {
        self.failure() == PlatformFailure::CredentialsRefused
    }
}

impl DeliveryError {
    /// The delivery outcome for a platform error, its text as the reason.
    pub fn from_platform(error: &impl PlatformError) -> DeliveryError {
        match error.failure() {
            PlatformFailure::RetryAfter(pause) => DeliveryError::RetryAfter(pause),
            PlatformFailure::Transient => DeliveryError::Transient(error.to_string()),
            PlatformFailure::Unreachable => {
                DeliveryError::Permanent { reason: error.to_string(), unreachable: true }
            }
            PlatformFailure::Refused | PlatformFailure::CredentialsRefused => {
                DeliveryError::Permanent { reason: error.to_string(), unreachable: false }
            }
        }
    }
}

/// Outbound half of a channel.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// The same name as [`InboundEvent::channel`].
    fn name(&self) -> &'static str;
    /// Whether deliveries should carry the conversation's ticket number (one more read per
    /// delivery, so only a channel that shows it asks: email, in its subjects).
    fn shows_ticket_number(&self) -> bool {
        false
    }
    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError>;
}

/// What the engine did with an accepted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored and applied; `replies` outbox rows were queued for the customer.
    Applied { replies: usize },
    /// Seen before (a platform redelivery): nothing changed, nothing new will be sent.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The event was NOT stored: the platform must not be told it arrived (no 200, no offset
    /// confirmation), so that it redelivers.
    #[error("the event could not be stored: {0}")]
    NotStored(String),
}

/// What became of a batch of events, one answer each in order, or why none was stored.
pub type AcceptedBatch = Result<Vec<Accepted>, IntakeError>;

/// Inbound half of the engine, as channels see it. An `Ok` means the event is durably stored:
/// only then may a channel acknowledge it to the platform.
#[async_trait::async_trait]
pub trait Intake: Send + Sync {
    async fn accept(&self, event: InboundEvent) -> Result<Accepted, IntakeError>;
    /// A long-poll batch, applied in order; all of it is stored when this returns `Ok`.
    async fn accept_batch(&self, events: Vec<InboundEvent>) -> AcceptedBatch;
    /// A long-poll batch together with the position after it, `(cursor name, position)`: when
    /// this returns `Ok`, both are stored. The engine writes them in one transaction, so a poll
    /// round costs one commit; this default stores the events first and then the position,
    /// which is as safe (a crash in between only reads the batch again) but costs two.
    async fn accept_batch_at(&self, events: Vec<InboundEvent>, at: (&str, &str)) -> AcceptedBatch {
        let accepted = if events.is_empty() { Vec::new() } else { self.accept_batch(events).await? };
        let (cursor, position) = at;
        self.save_cursor(cursor, position).await?;
        Ok(accepted)
    }
    /// A channel's persisted position (Telegram `offset`, VK `ts`, MAX `marker`), by name.
    async fn cursor(&self, name: &str) -> Result<Option<String>, IntakeError>;
    async fn save_cursor(&self, name: &str, value: &str) -> Result<(), IntakeError>;
}

/// What a platform's updates became (VK and MAX): events for the engine, in order, and the
/// button presses to answer once they are stored, in the channel's own press type.
#[derive(Debug, Clone, PartialEq)]
pub struct Received<Press> {
    pub events: Vec<InboundEvent>,
    pub presses: Vec<Press>,
}

impl<Press> Default for Received<Press> {
    fn default() -> Received<Press> {
        Received { events: Vec::new(), presses: Vec::new() }
    }
}

impl<Press> Received<Press> {
    /// One event and nothing to answer.
    pub fn one(event: InboundEvent) -> Received<Press> {
        Received { events: vec![event], presses: Vec::new() }
    }

    /// The event of a button press, and the press to answer once it is stored.
    pub fn press(event: InboundEvent, press: Press) -> Received<Press> {
        Received { events: vec![event], presses: vec![press] }
    }

    /// Events and nothing to answer.
    pub fn events(events: Vec<InboundEvent>) -> Received<Press> {
        Received { events, presses: Vec::new() }
    }

    /// Appends another update's results, keeping the order.
    pub fn extend(&mut self, other: Received<Press>) {
        self.events.extend(other.events);
        self.presses.extend(other.presses);
    }
}

/// Why an update was not taken in.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// It does not read: a webhook answers 400, a long-poll round skips it.
    #[error("{0}")]
    Malformed(String),
    /// A photo could not be fetched or stored right now: the update must not be acknowledged,
    /// so that the platform delivers it again.
    #[error("the update cannot be taken in right now: {0}")]
    Unavailable(String),
}

impl ReceiveError {
    /// A platform's parse error (which names the platform) as a refusal of the update.
    pub fn malformed(error: impl std::fmt::Display) -> ReceiveError {
        ReceiveError::Malformed(error.to_string())
    }
}

/// Why a long-poll round was not stored; the round is polled again.
#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    #[error(transparent)]
    Receive(ReceiveError),
    #[error(transparent)]
    Intake(IntakeError),
}

/// The inbound half of a long-poll channel, as a round needs it: one raw update read into
/// events (photos fetched on the way).
#[async_trait::async_trait]
pub trait ReadUpdate: Clone + Send + Sync + 'static {
    type Update: Sync;
    type Press: Send + Sync + 'static;
    async fn read_update(&self, update: &Self::Update) -> Result<Received<Self::Press>, ReceiveError>;

    /// Answers pressed buttons once they are stored, so the platform's spinner stops. A
    /// failure only leaves a spinner turning, so it is logged and not retried.
    async fn answer_presses(&self, presses: &[Self::Press]);

    /// [`answer_presses`](Self::answer_presses) in a task of its own: the answers are best
    /// effort and may wait out a stalled API (up to the request timeout), which must hold up
    /// neither a webhook's answer nor the next long poll.
    fn answer_presses_later(&self, presses: Vec<Self::Press>) {
        if presses.is_empty() {
            return;
        }
        let reader = self.clone();
        tokio::spawn(async move { reader.answer_presses(&presses).await });
    }
}

/// Runs a channel's receiving loop until `shutdown` completes, which `stopped` then reports
/// (`Ok`), or until the loop gives up on its own (its error: the platform refused our
/// credentials).
pub async fn until_shutdown<Error>(
    shutdown: impl Future<Output = ()>,
    receiving: impl Future<Output = Result<(), Error>>,
    stopped: impl FnOnce(),
) -> Result<(), Error> {
    tokio::select! {
        () = shutdown => {
            stopped();
            Ok(())
        }
        result = receiving => result,
    }
}

/// A pause between failed attempts of a receiving loop: `first`, doubled after each failure up
/// to `longest`, and `first` again after a success.
pub struct Backoff {
    first: Duration,
    longest: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, longest: Duration) -> Backoff {
        Backoff { first, longest, next: first }
    }

    /// Waits out the current pause; the next one is twice as long.
    pub async fn pause(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(self.longest);
    }

    /// [`Backoff::pause`], unless `stop` completes first: `true` then.
    pub async fn pause_unless(&mut self, stop: impl Future<Output = ()>) -> bool {
        tokio::select! {
            () = stop => true,
            () = self.pause() => false,
        }
    }

    /// How long the next pause will be, for the log.
    pub fn next_pause(&self) -> Duration {
        self.next
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// Takes one long-poll round in: every update read (one that does not read is logged and
/// skipped, so it cannot hold up the rest forever), then all the events stored together with
/// the position after them (`(cursor name, position)`) in one [`Intake::accept_batch_at`].
/// When an update cannot be taken in right now, nothing is stored.
pub async fn take_in_round<Reader: ReadUpdate>(
    intake: &dyn Intake,
    reader: &Reader,
    updates: &[Reader::Update],
    at: (&str, &str),
) -> Result<Received<Reader::Press>, RoundError> {
    let mut received = Received::default();
    for update in updates {
        match reader.read_update(update).await {
            Ok(more) => received.extend(more),
            Err(ReceiveError::Malformed(error)) => tracing::warn!(%error, "skipping a long-poll update"),
            Err(error) => return Err(RoundError::Receive(error)),
        }
    }
    intake.accept_batch_at(received.events.clone(), at).await.map_err(RoundError::Intake)?;
    Ok(received)
}
