//! Console pages and the actions their forms post.

use crate::console::agents::{self, Agent, AgentError, Role, valid_name};
use crate::console::auth::{AdminForm, CsrfField, CsrfForm, SignedForm};
use crate::console::dashboard::{Dashboard, human_duration};
use crate::console::sessions::{self, Session};
use crate::console::texts::Tr;
use crate::console::translation::{self, Preview, Reading};
use crate::console::{ConsoleError, ConsoleState, Nav, render};
use crate::core::handoff::TicketStatus;
use crate::core::message::{Lang, Reply};
use crate::engine::{ClaimResult, EngineError};
use crate::store::{
    AgentOriginal, Author, CannedReply, LogEntry, Page, TicketSummary, now_millis, to_datetime,
};
use crate::translate::Outcome;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

type Result<T, E = ConsoleError> = std::result::Result<T, E>;

/// The notice an action leaves for the next page, from a fixed list (never free text from
/// the query string, except an agent name checked against the name rules).
fn notice_text(tr: Tr, code: &str) -> Option<String> {
    let (code, who) = code.split_once(':').map_or((code, None), |(code, who)| (code, Some(who)));
    let who = who.filter(|who| valid_name(who));
    Some(match (code, who) {
        ("claimed", _) => tr.t("console-notice-claimed"),
        ("taken", Some(who)) => tr.t1("console-notice-taken", "agent", who),
        ("closed", _) => tr.t("console-notice-closed"),
        ("replied", _) => tr.t("console-notice-replied"),
        ("resolved", _) => tr.t("console-notice-resolved"),
        ("reopened", _) => tr.t("console-notice-reopened"),
        ("released", _) => tr.t("console-notice-released"),
        ("transferred", Some(who)) => tr.t1("console-notice-transferred", "agent", who),
        ("noted", _) => tr.t("console-notice-noted"),
        ("not_yours", _) => tr.t("console-notice-not-yours"),
        ("not_allowed", _) => tr.t("console-notice-not-allowed"),
        ("empty", _) => tr.t("console-notice-empty"),
        ("saved", _) => tr.t("console-notice-saved"),
        ("no_agent", _) => tr.t("console-notice-no-agent"),
        ("agent_exists", _) => tr.t("console-notice-agent-exists"),
        ("bad_name", _) => tr.t("console-notice-bad-name"),
        ("weak_password", _) => tr.t("console-notice-weak-password"),
        ("password_changed", _) => tr.t("console-notice-password-changed"),
        ("password_reset", Some(who)) => tr.t1("console-notice-password-reset", "agent", who),
        ("agent_disabled", _) => tr.t("console-notice-agent-disabled"),
        ("customer_unlinked", _) => tr.t("console-notice-customer-unlinked"),
        ("customer_erased", _) => tr.t("console-notice-customer-erased"),
        _ => return None,
    })
}

#[derive(Deserialize, Default)]
pub(crate) struct NoticeQuery {
    notice: Option<String>,
    #[serde(default)]
    fragment: Option<u8>,
    /// The page of the waiting list, from 0.
    #[serde(default)]
    page: Option<i64>,
    /// `mine`: only tickets in the languages the agent speaks.
    #[serde(default)]
    langs: Option<String>,
}

fn nav(session: &Session, query: &NoticeQuery) -> Nav {
    Nav::of(session, query.notice.as_deref().and_then(|code| notice_text(session.tr, code)))
}

fn require_admin(session: &Session) -> Result<()> {
    if session.agent.is_admin() { Ok(()) } else { Err(ConsoleError::AdminOnly) }
}

/// `3 min`, `2 h 5 min`, `1 d 4 h` (in the agent's language): how long someone has waited.
fn waited(tr: Tr, since_millis: i64, now_millis: i64) -> String {
    tr.duration(now_millis - since_millis)
}

/// A ticket's status in the agent's language.
fn status_name(tr: Tr, status: TicketStatus) -> String {
    match status {
        TicketStatus::Queued => tr.t("console-status-queued"),
        TicketStatus::Assigned => tr.t("console-status-assigned"),
        TicketStatus::Resolved => tr.t("console-status-resolved"),
    }
}

/// A channel by the name agents know it by, in their language; a code this build does not
/// know is shown as it is.
fn channel_name(tr: Tr, code: &str) -> String {
    match code {
        "telegram" => tr.t("console-channel-telegram"),
        "vk" => tr.t("console-channel-vk"),
        "max" => tr.t("console-channel-max"),
        "ozon" => tr.t("console-channel-ozon"),
        "webchat" => tr.t("console-channel-webchat"),
        "terminal" => tr.t("console-channel-terminal"),
        other => other.to_owned(),
    }
}

fn short(text: Option<&str>, chars: usize) -> String {
    let text = text.unwrap_or_default();
    let mut cut: String = text.chars().take(chars).collect();
    if text.chars().count() > chars {
        cut.push('…');
    }
    cut
}

// ---- queue ----

pub(crate) struct QueueRow {
    id: i64,
    issue: String,
    order_id: String,
    lang: String,
    /// The ticket's language by name, in its own script.
    lang_name: String,
    channel: String,
    waiting: String,
    last_message: String,
    high: bool,
    /// Low trust: an anonymous visitor who only asked for a person (last in the queue).
    low: bool,
    assignee: String,
}

impl QueueRow {
    fn of(state: &ConsoleState, tr: Tr, ticket: &TicketSummary, now: i64) -> QueueRow {
        // A press reads as its button's label, as in the transcript.
        let last_message = ticket.last_customer_message.as_deref().map(|text| {
            crate::i18n::customer_text(text, |key| (state.render)(ticket.language, &Reply::new(key)).text)
        });
        QueueRow {
            id: ticket.id,
            issue: tr.issue_name(&ticket.issue_type),
            order_id: ticket.order_id.clone().unwrap_or_else(|| "—".to_owned()),
            lang: ticket.language.code().to_owned(),
            lang_name: tr.language_name(&ticket.language),
            channel: channel_name(tr, &ticket.channel),
            waiting: waited(tr, ticket.created_at.timestamp_millis(), now),
            last_message: short(last_message.as_deref(), 120),
            high: ticket.priority == crate::core::message::Priority::High,
            low: ticket.priority == crate::core::message::Priority::Low,
            assignee: ticket.assigned_agent.clone().unwrap_or_default(),
        }
    }
}

/// What the queue page and its live fragment show. Every list is bounded: the waiting list
/// is paged, the assigned lists show at most one full page each.
pub(crate) struct QueueLists {
    queued: Vec<QueueRow>,
    waiting_total: u32,
    page: i64,
    has_next: bool,
    mine: Vec<QueueRow>,
    others: Vec<QueueRow>,
    /// More assigned tickets than the lists show.
    assigned_truncated: bool,
    /// The waiting list shows only tickets in the agent's languages.
    mine_only: bool,
    /// The agent's languages by name ("Русский, 中文"); empty when they listed none.
    my_languages: String,
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    nav: Nav,
    lists: QueueLists,
}

#[derive(Template)]
#[template(path = "console/queue_fragment.html")]
struct QueueFragment {
    nav: Nav,
    lists: QueueLists,
}

pub(crate) async fn queue(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<NoticeQuery>,
) -> Result<Response> {
    let store = &state.store;
    let now = now_millis();
    let page_number = query.page.unwrap_or(0).clamp(0, 100_000);
    let page = Page::numbered(page_number, Page::DEFAULT_SIZE);
    // The filter keeps to the agent's languages; with none listed it has nothing to keep to.
    let speaks = &session.agent.languages;
    let mine_only = query.langs.as_deref() == Some("mine") && !speaks.is_empty();
    let languages = mine_only.then_some(speaks.as_slice());
    let queued: Vec<QueueRow> = store
        .list_tickets_in_languages(Some(TicketStatus::Queued), languages, page)
        .await?
        .iter()
        .map(|t| QueueRow::of(&state, session.tr, t, now))
        .collect();
    let waiting_total = store.queued_in_languages(languages).await?;
    let has_next = page.offset + (queued.len() as i64) < i64::from(waiting_total);
    let assigned_page = Page::first(Page::MAX_SIZE);
    let assigned = store.list_tickets(Some(TicketStatus::Assigned), assigned_page).await?;
    let assigned_truncated = assigned.len() as i64 >= assigned_page.limit;
    let me = session.agent.name.as_str();
    let (mine, others): (Vec<_>, Vec<_>) =
        assigned.iter().partition(|ticket| ticket.assigned_agent.as_deref() == Some(me));
    let mine = mine.into_iter().map(|t| QueueRow::of(&state, session.tr, t, now)).collect();
    let others = others.into_iter().map(|t| QueueRow::of(&state, session.tr, t, now)).collect();
    let my_languages =
        speaks.iter().map(|lang| session.tr.language_name(lang)).collect::<Vec<_>>().join(", ");
    let lists = QueueLists {
        queued,
        waiting_total,
        page: page_number,
        has_next,
        mine,
        others,
        assigned_truncated,
        mine_only,
        my_languages,
    };
    let nav = nav(&session, &query);
    Ok(if query.fragment == Some(1) {
        render(&QueueFragment { nav, lists })
    } else {
        render(&QueuePage { nav, lists })
    })
}

/// `changed` events whenever a ticket or the message log changes; the page then fetches
/// the queue fragment again. Every open page listens to one shared watcher (`LiveQueue`), so
/// the database is asked once per interval however many tabs are open.
pub(crate) async fn queue_live(State(state): State<ConsoleState>, session: Session) -> Result<Response> {
    let Some(slot) = state.live_streams.open(&session.agent.name) else {
        return Err(ConsoleError::TooManyStreams);
    };
    let changes = state.live.subscribe(&state.store, state.settings.live_poll_interval);
    let stream = futures::stream::unfold((changes, slot), |(mut changes, slot)| async move {
        changes.changed().await.ok()?;
        let marker = *changes.borrow_and_update();
        let event = Event::default().event("changed").data(marker.last_message.to_string());
        Some((Ok::<_, std::convert::Infallible>(event), (changes, slot)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

// ---- one ticket ----

pub(crate) struct TicketView {
    id: i64,
    status: String,
    /// The status in the agent's language.
    status_name: String,
    issue: String,
    high: bool,
    order_id: String,
    customer: String,
    channel: String,
    lang: String,
    created: String,
    waiting: String,
    assignee: String,
    /// `status|assignee` exactly as the live stream reports it, to notice changes.
    live_status: String,
    description: String,
    rating: Option<u8>,
    comment: String,
    /// SHA-256 names of the ticket's photos.
    photos: Vec<String>,
    /// The order as the store reported it when it was looked up.
    order: Option<OrderView>,
    /// The store's customer behind the contact, and their other contacts.
    linked: Option<LinkedView>,
}

/// A looked-up order on the ticket page.
pub(crate) struct OrderView {
    /// The normalised status in the agent's language.
    status: String,
    /// The store's own words for it.
    store_label: String,
    /// `2 × Blue mug`.
    items: Vec<String>,
    tracking_url: Option<String>,
    /// Carrier and tracking number, as the link's text.
    tracking_text: String,
}

/// The linked customer on the ticket page.
pub(crate) struct LinkedView {
    /// The store's customer id, with the email when known.
    who: String,
    /// Every contact of theirs, `channel: name or id`.
    contacts: Vec<String>,
}

fn order_view(tr: Tr, order: &crate::core::order::Order) -> OrderView {
    let shipment = order.tracked_shipment();
    let tracking_text = shipment
        .map(|shipment| {
            [shipment.carrier.as_deref(), shipment.tracking_number.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    OrderView {
        status: tr.t1("console-order-status", "status", order.status.code()),
        store_label: order.status_label.clone().unwrap_or_default(),
        items: order
            .items
            .iter()
            .map(|item| tr.t2("console-order-item", "qty", item.qty, "title", item.title.as_str()))
            .collect(),
        tracking_url: shipment.and_then(|shipment| shipment.tracking_url.clone()),
        tracking_text,
    }
}

fn linked_view(customer: &crate::store::LinkedCustomer) -> LinkedView {
    let who = match &customer.email {
        Some(email) => format!("{} <{email}>", customer.store_id),
        None => customer.store_id.clone(),
    };
    let contacts = customer
        .contacts
        .iter()
        .map(|contact| {
            let name = contact.display_name.as_deref().unwrap_or(contact.external_id.as_str());
            format!("{}: {name}", contact.channel)
        })
        .collect();
    LinkedView { who, contacts }
}

/// One transcript line, as both the page and the live stream show it.
#[derive(Serialize)]
pub(crate) struct MessageView {
    id: i64,
    author: String,
    label: String,
    /// What the agent reads: the text, or its translation into their language.
    text: String,
    /// The other side of a translation (the customer's original, or what the customer
    /// received), one click away; empty when there is none.
    aside: String,
    aside_label: String,
    /// A note under the text ("translation unavailable"); empty for none.
    note: String,
    photos: Vec<String>,
    at: String,
}

fn message_view(
    state: &ConsoleState,
    tr: Tr,
    lang: Lang,
    entry: LogEntry,
    reading: Option<&Reading>,
) -> MessageView {
    let (mut aside, mut aside_label, mut note) = (String::new(), String::new(), String::new());
    let reply = entry.reply();
    let LogEntry { id, message } = entry;
    let text = match (reply, message.author, message.text.as_deref()) {
        (Some(reply), _, _) => match reading {
            // The bot's words are people's texts in every language: no machine needed.
            Some(reading) => {
                aside = (state.render)(lang, &reply).text;
                aside_label =
                    tr.t1("console-translation-received", "language", tr.language_name(&lang).as_str());
                (state.render)(reading.target, &reply).text
            }
            None => (state.render)(lang, &reply).text,
        },
        (None, Author::Customer, Some(text)) => {
            // Button presses read as what the customer saw on the button.
            let shown = crate::i18n::customer_text(text, |key| (state.render)(lang, &Reply::new(key)).text);
            match reading.and_then(|reading| reading.outcomes.get(&id)) {
                Some(Outcome::Translated(translated)) => {
                    aside = shown;
                    aside_label =
                        tr.t1("console-translation-original", "language", tr.language_name(&lang).as_str());
                    translated.clone()
                }
                Some(Outcome::Unavailable) => {
                    note = tr.t("console-translation-unavailable");
                    shown
                }
                None => shown,
            }
        }
        (None, Author::Agent, text) => {
            let sent = text.unwrap_or_default().to_owned();
            match AgentOriginal::of_body(message.body.as_deref()) {
                Some(original) if Some(original.lang) == reading.map(|reading| reading.target) => {
                    aside = sent;
                    aside_label =
                        tr.t1("console-translation-received", "language", tr.language_name(&lang).as_str());
                    original.text
                }
                Some(original) => {
                    aside = original.text;
                    aside_label = tr.t1(
                        "console-translation-written",
                        "language",
                        tr.language_name(&original.lang).as_str(),
                    );
                    sent
                }
                None => sent,
            }
        }
        (None, _, text) => text.unwrap_or_default().to_owned(),
    };
    let label = match message.author {
        Author::Customer => tr.t("console-author-customer"),
        Author::Bot => tr.t("console-author-bot"),
        Author::Agent => tr.t1("console-author-agent", "agent", message.agent.as_deref().unwrap_or_default()),
        Author::System => tr.t("console-author-system"),
    };
    MessageView {
        id,
        author: message.author.code().to_owned(),
        label,
        text,
        aside,
        aside_label,
        note,
        photos: message.attachments.into_iter().map(|media| media.sha256).collect(),
        at: tr.date_time(to_datetime(message.at)),
    }
}

pub(crate) struct NoteView {
    agent: String,
    text: String,
    at: String,
}

#[derive(Template)]
#[template(path = "console/ticket.html")]
struct TicketPage {
    nav: Nav,
    ticket: TicketView,
    mine: bool,
    /// The agent holds the ticket or is an admin: only they may move or answer it.
    may_act: bool,
    messages: Vec<MessageView>,
    last_id: i64,
    notes: Vec<NoteView>,
    /// Replies the customer never got (dead letters), with the platform's reason.
    undelivered: Vec<UndeliveredView>,
    /// One version of each canned reply set, in the language the agent would send it in.
    canned: Vec<CannedReply>,
    /// That language, by name.
    canned_language: String,
    agents: Vec<String>,
    /// The transcript is translated for this agent: replies go through the preview step.
    translating: bool,
    /// "Messages are shown in …; your reply is translated into …" when `translating`.
    translation_hint: String,
    /// The translation of a reply the agent is about to send.
    preview: Option<Preview>,
}

pub(crate) struct UndeliveredView {
    /// The agent's words, or a line saying it was the bot's message.
    what: String,
    reason: String,
}

/// The longest transcript one page shows (the newest messages win).
const TRANSCRIPT_LIMIT: i64 = 5000;

pub(crate) async fn ticket(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response> {
    let nav = nav(&session, &query);
    ticket_page(&state, &session, id, nav, None).await
}

/// The ticket page, with a reply's preview when the agent asked for one.
async fn ticket_page(
    state: &ConsoleState,
    session: &Session,
    id: i64,
    nav: Nav,
    preview: Option<Preview>,
) -> Result<Response> {
    let detail = state.store.ticket(id).await?.ok_or(ConsoleError::NotFound)?;
    let summary = &detail.ticket;
    let now = now_millis();
    let lang = summary.language;
    let entries = state.store.log_after(summary.conversation_id, 0, TRANSCRIPT_LIMIT).await?;
    let last_id = entries.last().map_or(0, |entry| entry.id);
    let target = translation::reading_language(state, &session.agent, session.tr, lang);
    let reading = translation::read_in(state, summary.conversation_id, &entries, lang, target).await;
    let messages: Vec<MessageView> = entries
        .into_iter()
        .map(|entry| message_view(state, session.tr, lang, entry, reading.as_ref()))
        .collect();
    let agents: Vec<String> = state
        .store
        .agents()
        .await?
        .into_iter()
        .filter(|agent| !agent.disabled)
        .map(|agent| agent.name)
        .collect();
    let ticket = TicketView {
        id: summary.id,
        status: summary.status.code().to_owned(),
        status_name: status_name(session.tr, summary.status),
        issue: session.tr.issue_name(&summary.issue_type),
        high: summary.priority == crate::core::message::Priority::High,
        order_id: summary.order_id.clone().unwrap_or_else(|| "—".to_owned()),
        customer: summary.display_name.clone().unwrap_or_else(|| summary.external_id.clone()),
        channel: channel_name(session.tr, &summary.channel),
        lang: session.tr.language_name(&lang),
        created: session.tr.date_time(summary.created_at),
        waiting: waited(session.tr, summary.created_at.timestamp_millis(), now),
        assignee: summary.assigned_agent.clone().unwrap_or_else(|| session.tr.t("console-ticket-nobody")),
        live_status: format!(
            "{}|{}",
            summary.status.code(),
            summary.assigned_agent.as_deref().unwrap_or_default()
        ),
        description: summary.description.clone().unwrap_or_default(),
        rating: summary.rating,
        comment: summary.comment.clone().unwrap_or_default(),
        photos: summary.attachments.iter().map(|media| media.sha256.clone()).collect(),
        order: detail.order.as_ref().map(|order| order_view(session.tr, order)),
        linked: detail.customer.as_ref().map(linked_view),
    };
    let notes = detail
        .notes
        .iter()
        .map(|note| NoteView {
            agent: note.agent.clone(),
            text: note.text.clone(),
            at: session.tr.date_time(note.at),
        })
        .collect();
    // A canned reply is offered in the language the agent writes in when the transcript is
    // translated (its customer's version then goes out through the preview), else in the
    // customer's; then English, then whatever version the set has.
    let chain = match target {
        Some(target) => [target, lang, Lang::En],
        None => [lang, session.tr.lang, Lang::En],
    };
    let canned = translation::pick_versions(&state.store.canned_replies(None).await?, &chain);
    let translation_hint = target.map_or_else(String::new, |target| {
        session.tr.t2(
            "console-translation-hint",
            "language",
            session.tr.language_name(&target).as_str(),
            "customer",
            session.tr.language_name(&lang).as_str(),
        )
    });
    let undelivered = state
        .store
        .outbox_of_conversation(summary.conversation_id)
        .await?
        .into_iter()
        .filter(|row| row.status == crate::store::OutboxStatus::Dead)
        .map(|row| UndeliveredView {
            what: match row.payload {
                crate::core::message::Outbound::Agent { text, .. } => text,
                crate::core::message::Outbound::Bot(_) => session.tr.t("console-ticket-undelivered-bot"),
            },
            reason: row.last_error.unwrap_or_default(),
        })
        .collect();
    let page = TicketPage {
        nav,
        mine: summary.assigned_agent.as_deref() == Some(session.agent.name.as_str()),
        may_act: session.agent.actor().may_act_on(summary.assigned_agent.as_deref()),
        ticket,
        messages,
        last_id,
        notes,
        undelivered,
        canned,
        canned_language: session.tr.language_name(&chain[0]),
        agents,
        translating: target.is_some(),
        translation_hint,
        preview,
    };
    Ok(render(&page))
}

/// The preview step of a translated reply: the agent's text in the customer's language (a
/// canned reply's human version, or the provider's), editable, with a button that sends it.
/// Nothing is sent here.
pub(crate) async fn preview_reply(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    SignedForm { session, form }: SignedForm<ActionForm>,
) -> Result<Response> {
    let text = form.text.trim();
    if text.is_empty() || text.chars().count() > 4000 {
        let nav = Nav::of(&session, notice_text(session.tr, "empty"));
        return ticket_page(&state, &session, id, nav, None).await;
    }
    let customer = state.store.ticket(id).await?.ok_or(ConsoleError::NotFound)?.ticket.language;
    let preview = translation::preview(&state, text, session.tr.lang, customer).await?;
    let nav = Nav::of(&session, None);
    ticket_page(&state, &session, id, nav, Some(preview)).await
}

#[derive(Deserialize)]
pub(crate) struct LiveQuery {
    #[serde(default)]
    after: i64,
}

/// New transcript lines (`message` events, JSON of [`MessageView`]) and the ticket's
/// `status|assignee` (`status` events) whenever it changes.
pub(crate) async fn ticket_live(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
    Query(query): Query<LiveQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let detail = state.store.ticket(id).await?.ok_or(ConsoleError::NotFound)?;
    let Some(slot) = state.live_streams.open(&session.agent.name) else {
        return Err(ConsoleError::TooManyStreams);
    };
    let changes = state.live.subscribe(&state.store, state.settings.live_poll_interval);
    let resumed =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let target = translation::reading_language(&state, &session.agent, session.tr, detail.ticket.language);
    let follow = TicketFollow {
        state,
        ticket: id,
        conversation: detail.ticket.conversation_id,
        lang: detail.ticket.language,
        target,
        tr: session.tr,
        last: query.after.max(resumed.unwrap_or(0)),
        status: String::new(),
        ready: VecDeque::new(),
        first: true,
        changes,
        _slot: slot,
    };
    let stream = futures::stream::unfold(follow, |mut follow| async move {
        loop {
            if let Some(event) = follow.ready.pop_front() {
                return Some((Ok::<_, std::convert::Infallible>(event), follow));
            }
            if !follow.first {
                // Read again only when something changed somewhere (one shared watcher asks).
                follow.changes.changed().await.ok()?;
            }
            follow.first = false;
            if let Err(problem) = follow.read().await {
                tracing::warn!(error = %problem, "console: live ticket read failed");
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

struct TicketFollow {
    state: ConsoleState,
    ticket: i64,
    conversation: i64,
    lang: Lang,
    /// The language the agent reads the ticket in, when it is translated for them.
    target: Option<Lang>,
    /// The agent's language, for the transcript's labels and times.
    tr: Tr,
    last: i64,
    status: String,
    ready: VecDeque<Event>,
    first: bool,
    changes: tokio::sync::watch::Receiver<crate::store::ChangeMarker>,
    /// This page's place among the agent's open live pages.
    _slot: crate::web::limits::StreamSlot,
}

impl TicketFollow {
    async fn read(&mut self) -> Result<()> {
        let entries = self.state.store.log_after(self.conversation, self.last, 200).await?;
        // Translating happens here, in this page's own stream, never on the engine's writer.
        let reading =
            translation::read_in(&self.state, self.conversation, &entries, self.lang, self.target).await;
        for entry in entries {
            self.last = entry.id;
            let view = message_view(&self.state, self.tr, self.lang, entry, reading.as_ref());
            let data = serde_json::to_string(&view).unwrap_or_default();
            self.ready.push_back(Event::default().id(view.id.to_string()).event("message").data(data));
        }
        if let Some(summary) = self.state.store.ticket_status(self.ticket).await? {
            if summary != self.status {
                self.status = summary.clone();
                self.ready.push_back(Event::default().event("status").data(summary));
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    to_agent: String,
    /// With a translated reply: the agent's own words, which `text` translates.
    #[serde(default)]
    original: String,
}

impl CsrfField for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Every ticket button: claim, release, transfer, reply, note, resolve, reopen.
pub(crate) async fn ticket_action(
    State(state): State<ConsoleState>,
    Path((id, action)): Path<(i64, String)>,
    SignedForm { session, form }: SignedForm<ActionForm>,
) -> Result<Response> {
    let engine = &state.engine;
    let me = session.agent.name.as_str();
    let actor = session.agent.actor();
    let outcome: std::result::Result<String, EngineError> = match action.as_str() {
        "claim" => engine.claim(id, me).await.map(|result| match result {
            ClaimResult::Claimed | ClaimResult::AlreadyYours => "claimed".to_owned(),
            ClaimResult::TakenBy(agent) => format!("taken:{agent}"),
            ClaimResult::Closed => "closed".to_owned(),
        }),
        "release" => engine.release(id, &actor).await.map(|()| "released".to_owned()),
        "transfer" => {
            let to = form.to_agent.trim();
            match state.store.agent_by_name(to).await? {
                Some(agent) if !agent.disabled => engine
                    .transfer(id, &actor, &agent.name)
                    .await
                    .map(|()| format!("transferred:{}", agent.name)),
                _ => Ok("no_agent".to_owned()),
            }
        }
        "reply" => {
            let text = form.text.trim();
            let original = form.original.trim();
            if text.is_empty() || text.chars().count() > 4000 || original.chars().count() > 4000 {
                Ok("empty".to_owned())
            } else if original.is_empty() || original == text {
                engine.agent_reply(id, &actor, text, Vec::new()).await.map(|()| "replied".to_owned())
            } else {
                // The preview's form: the agent wrote in their console language.
                let original = AgentOriginal { lang: session.tr.lang, text: original.to_owned() };
                engine.agent_reply_translated(id, &actor, text, original).await.map(|()| "replied".to_owned())
            }
        }
        "note" => {
            let text = form.text.trim();
            if text.is_empty() {
                Ok("empty".to_owned())
            } else {
                engine.add_note(id, me, text).await.map(|_| "noted".to_owned())
            }
        }
        "resolve" => engine.resolve(id, &actor).await.map(|()| "resolved".to_owned()),
        "reopen" => engine.reopen(id, &actor).await.map(|()| "reopened".to_owned()),
        _ => return Err(ConsoleError::NotFound),
    };
    let notice = match outcome {
        Ok(notice) => notice,
        Err(EngineError::NotAssignedTo { .. }) => "not_yours".to_owned(),
        Err(EngineError::NotAllowed { .. }) => "not_allowed".to_owned(),
        Err(EngineError::EmptyMessage) => "empty".to_owned(),
        Err(other) => return Err(other.into()),
    };
    // `#latest` opens the transcript at its newest message, with or without JavaScript.
    Ok(Redirect::to(&format!("/console/tickets/{id}?notice={notice}#latest")).into_response())
}

/// A customer photo, for signed-in agents only.
pub(crate) async fn media(
    State(state): State<ConsoleState>,
    _session: Session,
    Path(sha256): Path<String>,
) -> Result<Response> {
    let well_formed =
        sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed || !state.store.media_is_known(&sha256).await? {
        return Err(ConsoleError::NotFound);
    }
    Ok(crate::web::media::media_response(&state.media, &sha256).await)
}

// ---- canned replies ----

/// A canned reply as its page shows it.
pub(crate) struct CannedView {
    id: i64,
    lang: String,
    /// The language by name, in its own script.
    lang_name: String,
    title: String,
    body: String,
    set_id: i64,
    /// The first version of its set: the set's "add a version" form goes after the last.
    last_in_set: bool,
}

#[derive(Template)]
#[template(path = "console/canned.html")]
struct CannedPage {
    nav: Nav,
    canned: Vec<CannedView>,
    /// (code, name) of every language.
    langs: Vec<(String, String)>,
}

pub(crate) async fn canned(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<NoticeQuery>,
) -> Result<Response> {
    let tr = session.tr;
    let langs = Lang::ALL.iter().map(|lang| (lang.code().to_owned(), tr.language_name(lang))).collect();
    let replies = state.store.canned_replies(None).await?;
    let canned = replies
        .iter()
        .enumerate()
        .map(|(at, reply)| CannedView {
            id: reply.id,
            lang_name: Lang::from_code(&reply.lang)
                .map_or_else(|| reply.lang.clone(), |lang| tr.language_name(&lang)),
            lang: reply.lang.clone(),
            title: reply.title.clone(),
            body: reply.body.clone(),
            set_id: reply.set_id,
            last_in_set: replies.get(at + 1).is_none_or(|next| next.set_id != reply.set_id),
        })
        .collect();
    Ok(render(&CannedPage { nav: nav(&session, &query), canned, langs }))
}

#[derive(Deserialize)]
pub(crate) struct CannedForm {
    #[serde(default)]
    csrf: String,
    lang: String,
    title: String,
    body: String,
    /// A new version of this set (another language); empty for a reply of its own.
    #[serde(default)]
    set: String,
}

impl CsrfField for CannedForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn canned_fields(form: &CannedForm) -> Result<(Lang, String, String)> {
    let lang = Lang::from_code(&form.lang).ok_or_else(|| ConsoleError::BadRequest("language".to_owned()))?;
    let (title, body) = (form.title.trim(), form.body.trim());
    if title.is_empty() || body.is_empty() || title.chars().count() > 200 || body.chars().count() > 4000 {
        return Err(ConsoleError::BadRequest("canned reply fields".to_owned()));
    }
    Ok((lang, title.to_owned(), body.to_owned()))
}

pub(crate) async fn create_canned(
    State(state): State<ConsoleState>,
    AdminForm(SignedForm { form, .. }): AdminForm<CannedForm>,
) -> Result<Response> {
    let (lang, title, body) = canned_fields(&form)?;
    let set = match form.set.trim() {
        "" => None,
        set => Some(set.parse::<i64>().map_err(|_| ConsoleError::BadRequest("canned reply set".to_owned()))?),
    };
    if let Some(set) = set {
        // One version per language: a second one in a language replaces nothing silently.
        let existing = state.store.canned_replies(Some(lang)).await?;
        if existing.iter().any(|reply| reply.set_id == set) {
            return Err(ConsoleError::BadRequest("the set has a version in this language".to_owned()));
        }
    }
    if state.store.create_canned_reply(lang, &title, &body, set, now_millis()).await?.is_none() {
        return Err(ConsoleError::NotFound);
    }
    Ok(Redirect::to("/console/canned?notice=saved").into_response())
}

pub(crate) async fn update_canned(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    AdminForm(SignedForm { form, .. }): AdminForm<CannedForm>,
) -> Result<Response> {
    let (lang, title, body) = canned_fields(&form)?;
    if !state.store.update_canned_reply(id, lang, &title, &body, now_millis()).await? {
        return Err(ConsoleError::NotFound);
    }
    Ok(Redirect::to("/console/canned?notice=saved").into_response())
}

pub(crate) async fn delete_canned(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    _: AdminForm<CsrfForm>,
) -> Result<Response> {
    state.store.delete_canned_reply(id).await?;
    Ok(Redirect::to("/console/canned?notice=saved").into_response())
}

/// `POST /console/tickets/{id}/customer/unlink|erase` (admins): unlinks every contact of the
/// ticket's store customer, or erases them all (see `crate::privacy`), and forgets the customer.
pub(crate) async fn customer_action(
    State(state): State<ConsoleState>,
    Path((id, action)): Path<(i64, String)>,
    _: AdminForm<CsrfForm>,
) -> Result<Response> {
    let (_, customer) = state.store.ticket_order_and_customer(id).await?;
    let customer = customer.ok_or(ConsoleError::NotFound)?;
    let notice = match action.as_str() {
        "unlink" => {
            crate::privacy::unlink_customer(&state.engine, &customer.store_id).await?;
            "customer_unlinked"
        }
        "erase" => {
            crate::privacy::erase_customer(&state.engine, &state.media, &customer.store_id).await?;
            "customer_erased"
        }
        _ => return Err(ConsoleError::NotFound),
    };
    Ok(Redirect::to(&format!("/console/tickets/{id}?notice={notice}")).into_response())
}

// ---- agents ----

#[derive(Template)]
#[template(path = "console/agents.html")]
struct AgentsPage {
    nav: Nav,
    agents: Vec<Agent>,
}

pub(crate) async fn agents(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<NoticeQuery>,
) -> Result<Response> {
    require_admin(&session)?;
    Ok(render(&AgentsPage { nav: nav(&session, &query), agents: state.store.agents().await? }))
}

#[derive(Deserialize)]
pub(crate) struct NewAgentForm {
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
    #[serde(default)]
    admin: Option<String>,
}

impl CsrfField for NewAgentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(crate) async fn create_agent(
    State(state): State<ConsoleState>,
    AdminForm(SignedForm { form, .. }): AdminForm<NewAgentForm>,
) -> Result<Response> {
    let role = if form.admin.is_some() { Role::Admin } else { Role::Agent };
    let notice =
        match agents::create_agent(&*state.store, form.name.trim(), &form.password, role, now_millis()).await
        {
            Ok(_) => "saved",
            Err(AgentError::Exists(_)) => "agent_exists",
            Err(AgentError::BadName) => "bad_name",
            Err(AgentError::WeakPassword) => "weak_password",
            Err(AgentError::Store(problem)) => return Err(problem.into()),
            Err(other) => return Err(ConsoleError::BadRequest(other.to_string())),
        };
    Ok(Redirect::to(&format!("/console/agents?notice={notice}")).into_response())
}

pub(crate) async fn disable_agent(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    AdminForm(SignedForm { session, .. }): AdminForm<CsrfForm>,
) -> Result<Response> {
    if name == session.agent.name {
        return Err(ConsoleError::BadRequest("admins do not disable themselves".to_owned()));
    }
    match agents::disable_agent(&*state.store, &name).await {
        Ok(()) => Ok(Redirect::to("/console/agents?notice=saved").into_response()),
        Err(AgentError::NotFound(_)) => Err(ConsoleError::NotFound),
        Err(AgentError::Store(problem)) => Err(problem.into()),
        Err(other) => Err(ConsoleError::BadRequest(other.to_string())),
    }
}

// ---- API tokens ----

pub(crate) struct TokenView {
    id: i64,
    name: String,
    agent: String,
    revoked: bool,
    /// Active, expired or revoked, in the agent's language.
    status: String,
    expires: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "console/tokens.html")]
struct TokensPage {
    nav: Nav,
    tokens: Vec<TokenView>,
    agents: Vec<String>,
    new_token: Option<String>,
}

async fn tokens_page(state: &ConsoleState, session: &Session, new_token: Option<String>) -> Result<Response> {
    let now = now_millis();
    let tr = session.tr;
    let when = |at: i64| tr.date_time(to_datetime(at));
    let tokens = state
        .store
        .api_tokens()
        .await?
        .into_iter()
        .map(|token| TokenView {
            id: token.id,
            name: token.name,
            agent: token.agent,
            revoked: token.revoked,
            status: match token.expires_at {
                _ if token.revoked => tr.t("console-tokens-revoked"),
                Some(end) if end <= now => tr.t("console-tokens-expired"),
                _ => tr.t("console-tokens-active"),
            },
            expires: token.expires_at.map_or_else(|| tr.t("console-tokens-never"), when),
            last_used: token.last_used_at.map_or_else(|| tr.t("console-tokens-never"), when),
        })
        .collect();
    let agents = state.store.agents().await?.into_iter().filter(|a| !a.disabled).map(|a| a.name).collect();
    Ok(render(&TokensPage { nav: Nav::of(session, None), tokens, agents, new_token }))
}

pub(crate) async fn tokens(State(state): State<ConsoleState>, session: Session) -> Result<Response> {
    require_admin(&session)?;
    tokens_page(&state, &session, None).await
}

#[derive(Deserialize)]
pub(crate) struct NewTokenForm {
    #[serde(default)]
    csrf: String,
    name: String,
    agent: String,
    /// Days until the token stops working; empty for never.
    #[serde(default)]
    expires_in_days: String,
}

/// The longest expiry a token form may ask for: ten years.
const MAX_TOKEN_DAYS: i64 = 3650;

/// When a token made `now` ends: `None` for an empty field, or 1 to [`MAX_TOKEN_DAYS`] days on.
fn token_expiry(days: &str, now: i64) -> Result<Option<i64>> {
    let days = days.trim();
    if days.is_empty() {
        return Ok(None);
    }
    match days.parse::<i64>() {
        Ok(days) if (1..=MAX_TOKEN_DAYS).contains(&days) => Ok(Some(now.saturating_add(days * 86_400_000))),
        _ => Err(ConsoleError::BadRequest("token expiry".to_owned())),
    }
}

impl CsrfField for NewTokenForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Creates a token and shows it once, on this response only.
pub(crate) async fn create_token(
    State(state): State<ConsoleState>,
    AdminForm(SignedForm { session, form }): AdminForm<NewTokenForm>,
) -> Result<Response> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ConsoleError::BadRequest("token name".to_owned()));
    }
    let agent = match state.store.agent_by_name(form.agent.trim()).await? {
        Some(agent) if !agent.disabled => agent,
        _ => return Err(ConsoleError::BadRequest("no such agent".to_owned())),
    };
    let now = now_millis();
    let expires_at = token_expiry(&form.expires_in_days, now)?;
    let token = sessions::create_api_token(&*state.store, name, agent.id, now, expires_at).await?;
    tokens_page(&state, &session, Some(token)).await
}

pub(crate) async fn revoke_token(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    _: AdminForm<CsrfForm>,
) -> Result<Response> {
    state.store.revoke_api_token(id).await?;
    Ok(Redirect::to("/console/tokens").into_response())
}

// ---- dashboard ----

#[derive(Deserialize)]
pub(crate) struct DashboardQuery {
    days: Option<u32>,
}

async fn dashboard_figures(state: &ConsoleState, days: Option<u32>) -> Result<(Dashboard, u32)> {
    let days = days.unwrap_or(30).clamp(1, 366);
    let now = now_millis();
    let since = Dashboard::since(now, days);
    let tickets = state.store.ticket_times(since).await?;
    let faq = state.store.faq_verdicts(since).await?;
    Ok((Dashboard::compute(&tickets, &faq, now, days), days))
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    nav: Nav,
    days: u32,
    tickets_total: u32,
    first_response: String,
    resolve: String,
    rating_average: String,
    self_service: String,
    /// Built by `dashboard.rs` from numbers only.
    tickets_chart: String,
    ratings_chart: String,
}

pub(crate) async fn dashboard(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<DashboardQuery>,
) -> Result<Response> {
    let (figures, days) = dashboard_figures(&state, query.days).await?;
    let tr = session.tr;
    let page = DashboardPage {
        nav: Nav::of(&session, None),
        days,
        tickets_total: figures.tickets_total,
        first_response: human_duration(tr, figures.median_first_response_secs),
        resolve: human_duration(tr, figures.median_resolve_secs),
        rating_average: figures
            .rating_average
            .map_or_else(|| tr.t("console-dashboard-none"), |v| format!("{v:.2} / 5")),
        self_service: figures
            .self_service_rate
            .map_or_else(|| tr.t("console-dashboard-none"), |v| format!("{:.0}%", v * 100.0)),
        tickets_chart: figures.tickets_chart(&tr.t("console-dashboard-tickets-chart")),
        ratings_chart: figures.ratings_chart(&tr.t("console-dashboard-ratings-chart")),
    };
    Ok(render(&page))
}

pub(crate) async fn dashboard_csv(
    State(state): State<ConsoleState>,
    _session: Session,
    Query(query): Query<DashboardQuery>,
) -> Result<Response> {
    let (figures, _) = dashboard_figures(&state, query.days).await?;
    let filename = format!("attachment; filename=\"switchboard-{}.csv\"", Utc::now().format("%Y-%m-%d"));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        figures.csv(),
    )
        .into_response())
}
