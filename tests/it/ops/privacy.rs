//! Retention and erasure on a database filled through the real engine: what goes, what stays,
//! and which photos leave the media folder. On SQLite always, on PostgreSQL when configured;
//! the command-line front ends (and their bad-input answers) through the real binary.

use crate::support::engine_fixtures::{
    CHANNEL, PhraseTable, RecordingChannel, TestDb, TwoLettersDashDigits, button, event, text,
};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;
use switchboard::channels::{Accepted, InboundKind, Intake};
use switchboard::core::dialog::{Input, State};
use switchboard::core::faq::{Intent, IntentClassifier, Match};
use switchboard::core::handoff::{Actor, TicketStatus};
use switchboard::core::message::{Action, IssueType, Lang, MediaRef};
use switchboard::engine::{Engine, EngineSettings};
use switchboard::media::MediaStore;
use switchboard::outbox::{DeliveryAttempt, OutboxSettings, OutboxWorker};
use switchboard::privacy::{self, ErasureReport};
use switchboard::store::{ErasureCounts, Store, now_millis};

/// The fixtures' phrases, plus one that starts the feedback flow.
struct WithReview(PhraseTable);

impl IntentClassifier for WithReview {
    fn classify(&self, lang: Lang, text: &str) -> Option<Match> {
        if text.eq_ignore_ascii_case("i want to leave a review") {
            return Some(Match { intent: Intent::Review, confidence: 1.0 });
        }
        self.0.classify(lang, text)
    }
}

/// A real PNG of the given width: distinct widths are distinct files.
fn png(width: u32) -> Vec<u8> {
    crate::support::images::png(width, 2, 0)
}

fn photo(external_id: &str, event_id: &str, media: &MediaRef) -> switchboard::channels::InboundEvent {
    event(external_id, event_id, InboundKind::Input(Input::Photo { media: media.clone(), caption: None }))
}

fn photo_with_caption(
    external_id: &str,
    event_id: &str,
    media: &MediaRef,
    caption: &str,
) -> switchboard::channels::InboundEvent {
    let input = Input::Photo { media: media.clone(), caption: Some(caption.to_owned()) };
    event(external_id, event_id, InboundKind::Input(input))
}

/// Which of `needles` can be read in the SQLite file or its write-ahead log, as raw bytes;
/// `None` on PostgreSQL, whose files are the server's (its rows are checked through SQL).
fn readable_in_sqlite_files<'a>(db: &TestDb, needles: &[&'a str]) -> Option<Vec<&'a str>> {
    let path = db.url.strip_prefix("sqlite://")?;
    let mut contents = std::fs::read(path).expect("the database file");
    contents.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    let found = |needle: &str| contents.windows(needle.len()).any(|window| window == needle.as_bytes());
    Some(needles.iter().copied().filter(|needle| found(needle)).collect())
}

/// A database with four customers:
/// - ann left feedback, then filed an order problem with two photos (one of them the same
///   file bob sent); an agent wrote a note on her ticket;
/// - bob filed an order problem with the shared photo;
/// - cat only opened the menu; everything up to here has been delivered;
/// - dan opened the menu afterwards: his replies are still pending.
///
/// One more photo sits in the media folder without any row referring to it.
struct World {
    db: TestDb,
    store: Arc<dyn Store>,
    engine: Engine,
    media: MediaStore,
    _media_dir: tempfile::TempDir,
    shared: MediaRef,
    ann_only: MediaRef,
    orphan: MediaRef,
}

impl World {
    async fn build(db: TestDb) -> World {
        let store = db.connect().await;
        let settings = EngineSettings::new(
            Arc::new(TwoLettersDashDigits),
            Arc::new(WithReview(PhraseTable::small())),
            Lang::En,
        );
        let engine = Engine::start(Arc::clone(&store), settings);
        let media_dir = tempfile::tempdir().unwrap();
        let media = MediaStore::new(media_dir.path(), 1024 * 1024);
        let shared = media.store(&png(3)).await.unwrap();
        let ann_only = media.store(&png(4)).await.unwrap();
        let orphan = media.store(&png(5)).await.unwrap();

        let script = vec![
            text("ann", "r1", "i want to leave a review"),
            text("ann", "r2", "Great shop, slow courier."),
            button("ann", "a1", Action::Issue(IssueType::Order)),
            text("ann", "a2", "AB-1234"),
            photo("ann", "a3", &shared),
            photo("ann", "a4", &ann_only),
            button("ann", "a5", Action::PhotosDone),
            text("ann", "a6", "The handle came off."),
            button("bob", "b1", Action::Issue(IssueType::Order)),
            text("bob", "b2", "AB-5678"),
            photo("bob", "b3", &shared),
            button("bob", "b4", Action::PhotosDone),
            text("bob", "b5", "Mine too."),
            text("cat", "c1", "/start"),
        ];
        for event in script {
            assert!(matches!(engine.accept(event).await.unwrap(), Accepted::Applied { .. }));
        }
        let queued = store
            .list_tickets(Some(TicketStatus::Queued), switchboard::store::Page::first(100_000))
            .await
            .unwrap();
        assert_eq!(queued.len(), 2, "ann's and bob's tickets wait for an agent: {queued:#?}");
        let ann_ticket = queued.iter().find(|t| t.external_id == "ann").unwrap().id;
        engine.add_note(ann_ticket, "anna", "She called: the mug was a gift.").await.unwrap();

        let world = World { db, store, engine, media, _media_dir: media_dir, shared, ann_only, orphan };
        world.deliver_everything().await;
        assert_eq!(
            world.engine.accept(text("dan", "d1", "/start")).await.unwrap(),
            Accepted::Applied { replies: 1 }
        );
        world
    }

    /// Delivers every pending reply, as a running server would have by now.
    async fn deliver_everything(&self) {
        let channel = RecordingChannel::new();
        let worker = OutboxWorker::new(
            Arc::clone(&self.store),
            channel.channels(),
            OutboxSettings::default(),
            self.engine.outbox_link(),
        );
        while worker.try_deliver_next().await.unwrap() == DeliveryAttempt::Delivered {}
    }

    async fn accept_all(&self, script: Vec<switchboard::channels::InboundEvent>) {
        for event in script {
            assert!(matches!(self.engine.accept(event).await.unwrap(), Accepted::Applied { .. }));
        }
    }

    async fn state_of(&self, external_id: &str) -> State {
        let contact = self.store.contact(CHANNEL, external_id).await.unwrap().unwrap();
        let conversation = self.store.conversation_of_contact(contact.id).await.unwrap().unwrap();
        serde_json::from_str(&conversation.state).unwrap()
    }

    async fn count(&self, sql: &'static str) -> i64 {
        self.db.scalar(sql).await
    }

    async fn messages_of(&self, external_id: &str) -> usize {
        let contact = self.store.contact(CHANNEL, external_id).await.unwrap().unwrap();
        let conversation = self.store.conversation_of_contact(contact.id).await.unwrap().unwrap();
        self.store.transcript(conversation.id).await.unwrap().len()
    }

    async fn has_file(&self, media: &MediaRef) -> bool {
        self.media.read(&media.sha256).await.unwrap().is_some()
    }

    async fn finish(self) {
        self.engine.shutdown().await;
        self.store.close().await;
        self.db.drop_database().await;
    }
}

async fn erasure_story(db: TestDb) {
    let world = World::build(db).await;
    let ann = world.store.contact(CHANNEL, "ann").await.unwrap().unwrap();
    let ann_messages = world.messages_of("ann").await as u64;
    let bob_messages = world.messages_of("bob").await;
    let ann_ticket = world
        .store
        .list_tickets(None, switchboard::store::Page::first(100_000))
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.external_id == "ann")
        .unwrap();
    let events = world.count("SELECT count(*) FROM processed_events").await as u64;
    let her_words = ["Great shop, slow courier.", "The handle came off.", "She called: the mug was a gift."];
    if let Some(found) = readable_in_sqlite_files(&world.db, &her_words) {
        assert_eq!(found, her_words, "the check below would prove nothing");
    }

    let report = privacy::erase_contact(&world.engine, &world.media, CHANNEL, "ann")
        .await
        .unwrap()
        .expect("ann exists");
    assert_eq!(
        report,
        ErasureReport {
            contact: "test:ann".to_owned(),
            contact_id: ann.id,
            rows: ErasureCounts {
                messages: ann_messages,
                outbox_rows: report.rows.outbox_rows,
                feedback: 1,
                ticket_attachments: 2,
                ticket_notes: 1,
                processed_events: 8,
                tickets_anonymised: 1,
                tickets_closed: 1,
                order_lookups: 0,
            },
            media_files: 1,
            media_files_shared: 1,
            log_truncated: true,
        }
    );
    assert_eq!(
        world.count("SELECT count(*) FROM processed_events").await as u64,
        events - 8,
        "the ids of her eight events are gone, everyone else's stay"
    );
    assert_eq!(world.count("SELECT count(*) FROM processed_events WHERE event_id LIKE 'a%'").await, 0);
    assert_eq!(world.count("SELECT count(*) FROM processed_events WHERE event_id LIKE 'r%'").await, 0);
    if let Some(found) = readable_in_sqlite_files(&world.db, &her_words) {
        assert!(found.is_empty(), "erased text is still readable in the database files: {found:?}");
    }
    assert!(report.rows.outbox_rows >= 8, "every reply ann was sent: {report:?}");

    // Nothing of hers is left under her name, and the ticket counts only as a withdrawn request.
    assert_eq!(world.store.contact(CHANNEL, "ann").await.unwrap(), None);
    let ticket = world.store.ticket(ann_ticket.id).await.unwrap().expect("the ticket row stays");
    assert_eq!(ticket.ticket.status, TicketStatus::Resolved);
    assert!(ticket.ticket.withdrawn);
    assert_eq!(ticket.ticket.external_id, format!("erased:{}", ann.id));
    assert_eq!(ticket.ticket.display_name, None);
    assert_eq!((ticket.ticket.description, ticket.ticket.order_id), (None, None));
    assert!(ticket.ticket.attachments.is_empty() && ticket.notes.is_empty() && ticket.messages.is_empty());
    assert_eq!(ticket.ticket.issue_type, "order", "what the request was about stays for the dashboard");
    let conversation = world.store.conversation_of_contact(ann.id).await.unwrap().unwrap();
    assert_eq!(serde_json::from_str::<State>(&conversation.state).unwrap(), State::Menu);
    assert!(world.store.outbox_of_conversation(conversation.id).await.unwrap().is_empty());
    assert_eq!(world.count("SELECT count(*) FROM feedback").await, 0);

    // Her own photo is gone; the one bob sent too stays, and so does the unrelated orphan.
    assert!(!world.has_file(&world.ann_only).await);
    assert!(world.has_file(&world.shared).await);
    assert!(world.has_file(&world.orphan).await);
    let bob_ticket = world
        .store
        .list_tickets(None, switchboard::store::Page::first(100_000))
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.external_id == "bob")
        .unwrap();
    assert_eq!(bob_ticket.attachments, vec![world.shared.clone()]);
    assert_eq!(bob_ticket.description.as_deref(), Some("Mine too."));
    assert_eq!(world.messages_of("bob").await, bob_messages);

    // If she writes again she is a new customer, and an unknown person is reported as such.
    assert_eq!(
        world.engine.accept(text("ann", "a7", "/start")).await.unwrap(),
        Accepted::Applied { replies: 1 }
    );
    assert_ne!(world.store.contact(CHANNEL, "ann").await.unwrap().unwrap().id, ann.id);
    let unknown = privacy::erase_contact(&world.engine, &world.media, CHANNEL, "nobody").await;
    assert_eq!(unknown.unwrap(), None);
    world.finish().await;
}

async fn retention_story(db: TestDb) {
    let world = World::build(db).await;
    let total_messages = world.count("SELECT count(*) FROM messages").await as u64;
    let with_open_ticket = (world.messages_of("ann").await + world.messages_of("bob").await) as u64;
    let sent = world.count("SELECT count(*) FROM outbox WHERE status = 'sent'").await as u64;
    let events = world.count("SELECT count(*) FROM processed_events").await as u64;
    assert_eq!(world.count("SELECT count(*) FROM outbox WHERE status = 'pending'").await, 1, "dan's reply");

    // An agent's photo: nothing in the conversations refers to it, the agents table does.
    let face = world.media.store(&png(9)).await.unwrap();
    let agents = switchboard::console::agents::create_agent(
        &*world.store,
        "olga",
        "correct horse battery",
        switchboard::console::Role::Agent,
        0,
    );
    agents.await.unwrap();
    switchboard::console::agents::set_profile(&*world.store, "olga", Some("Olga"), Some(&face.sha256))
        .await
        .unwrap();

    // Two hours from now, everything is older than an hour, except that dedupe rows are
    // always kept for a week.
    let in_two_hours = now_millis() + 2 * 3_600_000;
    let report =
        privacy::apply_retention(&world.engine, &world.media, Duration::from_secs(3600), in_two_hours)
            .await
            .unwrap();
    assert_eq!(report.messages, total_messages - with_open_ticket, "open tickets keep their history");
    assert_eq!(report.outbox_rows, sent);
    assert_eq!(report.processed_events, 0);
    assert_eq!(report.feedback, 1, "ann's review");
    assert_eq!((report.ticket_notes, report.tickets_anonymised), (0, 0), "both tickets are still open");
    assert_eq!(report.contact_names, 2, "cat's and dan's; ann and bob have open tickets");
    assert_eq!(report.drafts, 0, "nobody left anything half-way");
    assert!(report.log_truncated);
    assert_eq!(report.media_files, 1, "only the photo nothing refers to");
    assert_eq!(report.media_bytes, png(5).len() as u64);
    assert!(!world.has_file(&world.orphan).await);
    assert!(world.has_file(&world.shared).await && world.has_file(&world.ann_only).await);
    assert!(world.has_file(&face).await, "an agent's photo stays");
    assert_eq!(world.count("SELECT count(*) FROM outbox").await, 1, "a pending reply is never deleted");
    assert_eq!(world.messages_of("cat").await, 0);
    assert_eq!(
        world.messages_of("ann").await as u64 + world.messages_of("bob").await as u64,
        with_open_ticket
    );
    assert_eq!(
        world.store.list_tickets(None, switchboard::store::Page::first(100_000)).await.unwrap().len(),
        2
    );
    let dan = world.store.contact(CHANNEL, "dan").await.unwrap().unwrap();
    let dan_state = world.store.conversation_of_contact(dan.id).await.unwrap().unwrap().state;
    assert_eq!(serde_json::from_str::<State>(&dan_state).unwrap(), State::Menu, "states stay");

    // Eight days on, with a one-day age, the dedupe rows go too; nothing else is left to delete.
    let in_eight_days = now_millis() + 8 * 86_400_000;
    let report =
        privacy::apply_retention(&world.engine, &world.media, Duration::from_secs(86_400), in_eight_days)
            .await
            .unwrap();
    assert_eq!(report.processed_events, events);
    assert_eq!((report.messages, report.outbox_rows, report.media_files), (0, 0, 0));
    assert_eq!(world.count("SELECT count(*) FROM processed_events").await, 0);
    world.finish().await;
}

/// Two more customers: eve's ticket was resolved and rated with a comment, after a review and
/// an agent's note; fay stopped half-way, with a caption in her conversation's state. An hour
/// of retention, two hours on, takes their words from the tickets, the notes, the feedback,
/// the state and the contact names, and leaves them readable nowhere in the SQLite files.
async fn retention_of_closed_tickets_story(db: TestDb) {
    let world = World::build(db).await;
    let eve_photo = world.media.store(&png(6)).await.unwrap();
    let fay_photo = world.media.store(&png(7)).await.unwrap();
    world
        .accept_all(vec![
            text("eve", "e1", "i want to leave a review"),
            text("eve", "e2", "REVIEW-KIWI-3344 lovely staff"),
            button("eve", "e3", Action::Issue(IssueType::Order)),
            text("eve", "e4", "AB-7731"),
            photo("eve", "e5", &eve_photo),
            button("eve", "e6", Action::PhotosDone),
            text("eve", "e7", "DESCRIPTION-ZEBRA-7731 crushed box"),
            button("fay", "f1", Action::Issue(IssueType::Order)),
            text("fay", "f2", "AB-4455"),
            photo_with_caption("fay", "f3", &fay_photo, "DRAFT-LYCHEE-4455 the lid"),
        ])
        .await;
    let tickets = world.store.list_tickets(None, switchboard::store::Page::first(100)).await.unwrap();
    let eve_ticket = tickets.iter().find(|t| t.external_id == "eve").expect("eve's ticket").id;
    let (engine, anna) = (&world.engine, Actor::new("anna", false));
    engine.claim(eve_ticket, "anna").await.unwrap();
    engine.add_note(eve_ticket, "anna", "NOTE-QUOKKA-5512 called her back").await.unwrap();
    engine
        .agent_reply(eve_ticket, &anna, "REPLY-OTTER-6623 a new one is on its way", Vec::new())
        .await
        .unwrap();
    engine.resolve(eve_ticket, &anna).await.unwrap();
    world
        .accept_all(vec![
            button("eve", "e8", Action::Rate(2)),
            text("eve", "e9", "COMMENT-MANGO-9921 it took too long"),
        ])
        .await;
    world.deliver_everything().await;
    let rated = world.store.ticket(eve_ticket).await.unwrap().unwrap().ticket;
    assert_eq!((rated.status, rated.rating), (TicketStatus::Resolved, Some(2)));
    assert_eq!(rated.comment.as_deref(), Some("COMMENT-MANGO-9921 it took too long"));
    assert!(matches!(world.state_of("fay").await, State::AwaitingPhotos { caption: Some(_), .. }));
    let words = [
        "REVIEW-KIWI-3344",
        "DESCRIPTION-ZEBRA-7731",
        "NOTE-QUOKKA-5512",
        "REPLY-OTTER-6623",
        "COMMENT-MANGO-9921",
        "DRAFT-LYCHEE-4455",
    ];
    if let Some(found) = readable_in_sqlite_files(&world.db, &words) {
        assert_eq!(found, words, "the check below would prove nothing");
    }

    let in_two_hours = now_millis() + 2 * 3_600_000;
    let report =
        privacy::apply_retention(&world.engine, &world.media, Duration::from_secs(3600), in_two_hours)
            .await
            .unwrap();
    assert_eq!(report.tickets_anonymised, 1, "eve's; ann's and bob's are still open");
    assert_eq!(report.ticket_notes, 1, "the note on eve's ticket; ann's open ticket keeps hers");
    assert_eq!(report.feedback, 2, "ann's and eve's reviews");
    assert_eq!(report.drafts, 1, "fay's");
    assert_eq!(report.contact_names, 4, "cat, dan, eve and fay; ann and bob have open tickets");
    assert!(report.log_truncated);

    let eve = world.store.ticket(eve_ticket).await.unwrap().unwrap();
    assert_eq!((eve.ticket.description, eve.ticket.order_id, eve.ticket.comment), (None, None, None));
    assert_eq!(eve.ticket.rating, Some(2), "the stars stay for the dashboard");
    assert_eq!(eve.ticket.issue_type, "order");
    assert!(eve.notes.is_empty() && eve.messages.is_empty());
    assert_eq!(world.state_of("fay").await, State::Menu, "her draft went with the old state");
    for (who, name) in [("eve", None), ("fay", None), ("ann", Some("Customer ann".to_owned()))] {
        let contact = world.store.contact(CHANNEL, who).await.unwrap().unwrap();
        assert_eq!(contact.display_name, name, "{who}");
    }
    let after = world.store.list_tickets(None, switchboard::store::Page::first(100)).await.unwrap();
    let ann = after.into_iter().find(|t| t.external_id == "ann").unwrap();
    assert_eq!(ann.description.as_deref(), Some("The handle came off."), "open tickets keep everything");
    assert_eq!(world.store.ticket(ann.id).await.unwrap().unwrap().notes.len(), 1);
    assert_eq!(world.count("SELECT count(*) FROM feedback").await, 0);
    if let Some(found) = readable_in_sqlite_files(&world.db, &words) {
        assert!(found.is_empty(), "expired text is still readable in the database files: {found:?}");
    }
    world.finish().await;
}

#[tokio::test]
async fn retention_of_closed_tickets_on_sqlite() {
    retention_of_closed_tickets_story(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn retention_of_closed_tickets_on_postgres() {
    retention_of_closed_tickets_story(TestDb::postgres().await).await;
}

#[tokio::test]
async fn erasure_on_sqlite() {
    erasure_story(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn erasure_on_postgres() {
    erasure_story(TestDb::postgres().await).await;
}

#[tokio::test]
async fn retention_on_sqlite() {
    retention_story(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn retention_on_postgres() {
    retention_story(TestDb::postgres().await).await;
}

// ---- the command line ----

fn switchboard(dir: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SWITCHBOARD_DATABASE_URL", format!("sqlite://{}", dir.join("support.db").display()))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_privacy_commands_refuse_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    for age in ["6m", "0d", "180", "d"] {
        let output = switchboard(dir.path(), &["retention", "--older-than", age], "");
        assert_eq!(output.status.code(), Some(2), "{age}: {}", text_of(&output.stderr));
        let stderr = text_of(&output.stderr);
        assert!(
            stderr.contains("--older-than") && (stderr.contains("180d") || stderr.contains("1h")),
            "{stderr}"
        );
    }
    let output = switchboard(dir.path(), &["retention"], "");
    assert_eq!(output.status.code(), Some(2), "the age is required");
    for contact in ["telegram", ":5", "telegram:"] {
        let output = switchboard(dir.path(), &["contacts", "erase", contact], "");
        assert_eq!(output.status.code(), Some(2), "{contact}");
        assert!(text_of(&output.stderr).contains("CHANNEL:ID"), "{}", text_of(&output.stderr));
    }
    let output = switchboard(dir.path(), &["contacts", "erase", "telegram:404"], "");
    assert_eq!(output.status.code(), Some(1));
    assert!(text_of(&output.stderr).contains("no contact telegram:404"), "{}", text_of(&output.stderr));
}

#[test]
fn the_privacy_commands_report_what_they_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let chat = switchboard(dir.path(), &["chat", "--user", "ann"], "/start\n/help\n");
    assert!(chat.status.success(), "{}", text_of(&chat.stderr));

    let output = switchboard(dir.path(), &["retention", "--older-than", "180d", "--json"], "");
    assert!(output.status.success(), "{}", text_of(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((report["messages"].as_u64(), report["media_files"].as_u64()), (Some(0), Some(0)), "{report}");

    let output = switchboard(dir.path(), &["contacts", "erase", "terminal:ann", "--json"], "");
    assert!(output.status.success(), "{}", text_of(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["contact"], "terminal:ann");
    assert!(report["messages"].as_u64().unwrap() >= 4, "two inputs and their replies: {report}");

    let output = switchboard(dir.path(), &["contacts", "erase", "terminal:ann"], "");
    assert_eq!(output.status.code(), Some(1), "erased once, unknown afterwards");

    let output = switchboard(dir.path(), &["retention", "--older-than", "36h"], "");
    assert!(output.status.success(), "{}", text_of(&output.stderr));
    let stdout = text_of(&output.stdout);
    assert!(stdout.contains("older than 36 hours") && stdout.contains("message log rows"), "{stdout}");
}
