//! End to end over real mail servers: the real app (`app::start_with` with the email channel
//! configured through its environment variables) watching a Dovecot mailbox with IMAP IDLE and
//! sending through a real SMTP server that delivers into the customers' Dovecot mailboxes
//! (`support/mail_servers.rs`). Customers' letters are delivered by Dovecot's delivery agent,
//! as a mail server would; what a customer received is read back over IMAP and parsed.
//!
//! Needs `dovecot-imapd` and `python3-aiosmtpd` (`SWITCHBOARD_TEST_MAIL`); each test starts its
//! own servers on free ports.

use crate::support::conversation;
use crate::support::engine_fixtures::TestDb;
use crate::support::images::png;
use crate::support::mail_servers::{MailServers, PASSWORD};
use crate::support::quick_app::{self, Restartable};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use mail_parser::{Message as Parsed, MessageParser, MimeHeaders};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use switchboard::channel_state::ChannelState;
use switchboard::channels::email::thread::Threads;
use switchboard::config::{Overrides, Settings};
use switchboard::core::handoff::Actor;
use switchboard::core::handoff::TicketStatus;
use switchboard::core::message::Lang;
use switchboard::store::OutboxStatus;

const SUPPORT: &str = "support@shop.test";
const THREAD_SECRET: &str = "the email tests' thread secret";
const DEADLINE: Duration = Duration::from_secs(20);

/// The real app on its own database and media folder, watching the servers' `support` inbox.
struct Mail {
    servers: MailServers,
    app: Restartable,
    /// `SWITCHBOARD_EMAIL_IDLE_SECS`, when a test shortens the IDLE re-issue interval.
    idle_secs: Option<&'static str>,
    media_dir: tempfile::TempDir,
    threads: Threads,
}

impl Mail {
    async fn start() -> Mail {
        Mail::start_idling(None).await
    }

    async fn start_idling(idle_secs: Option<&'static str>) -> Mail {
        Mail::start_on(TestDb::sqlite(), idle_secs).await
    }

    async fn start_on(db: TestDb, idle_secs: Option<&'static str>) -> Mail {
        let servers = MailServers::start().await;
        let mut mail = Mail {
            servers,
            idle_secs,
            app: Restartable::new(db),
            media_dir: tempfile::tempdir().unwrap(),
            threads: Threads::new(THREAD_SECRET.as_bytes(), SUPPORT),
        };
        mail.launch().await;
        mail
    }

    /// Starts the app configured the way the README tells an operator to.
    async fn launch(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let media_dir = self.media_dir.path().display().to_string();
        let imap = format!("imap://support@127.0.0.1:{}/INBOX", self.servers.imap_port);
        let smtp = format!("smtp://support@127.0.0.1:{}", self.servers.smtp_port);
        let env: HashMap<&str, &str> = [
            ("SWITCHBOARD_DATABASE_URL", self.app.db.url.as_str()),
            ("SWITCHBOARD_MEDIA_DIR", media_dir.as_str()),
            ("SWITCHBOARD_EMAIL_IMAP_URL", imap.as_str()),
            ("SWITCHBOARD_EMAIL_SMTP_URL", smtp.as_str()),
            ("SWITCHBOARD_EMAIL_PASSWORD", PASSWORD),
            ("SWITCHBOARD_EMAIL_FROM", "Shop Support <support@shop.test>"),
            ("SWITCHBOARD_EMAIL_THREAD_SECRET", THREAD_SECRET),
        ]
        .into_iter()
        .chain(self.idle_secs.map(|secs| ("SWITCHBOARD_EMAIL_IDLE_SECS", secs)))
        .collect();
        let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
        self.app.start(settings, listener, quick_app::outbox()).await;
        self.servers.wait_for_login("support").await;
    }

    /// The conversation a letter with this Message-ID started.
    fn thread(&self, message_id: &str) -> String {
        self.threads.new_thread(&format!("mid:{message_id}"))
    }

    async fn log(&self, thread: &str) -> Vec<String> {
        conversation::customer_log(self.app.store(), "email", thread).await
    }

    async fn wait_log(&self, thread: &str, count: usize) -> Vec<String> {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        loop {
            let known = self.app.store().contact("email", thread).await.unwrap().is_some();
            let log = if known { self.log(thread).await } else { Vec::new() };
            if log.len() >= count {
                assert_eq!(log.len(), count, "{log:#?}");
                return log;
            }
            assert!(tokio::time::Instant::now() < give_up, "gave up waiting for {count} letters in {thread}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn finish(self) {
        self.app.finish().await;
    }
}

/// A customer's letter as a mail program writes it (UTF-8, quoted-printable or base64 as
/// lettre chooses), with the given Message-ID and the headers that thread it.
fn letter(
    from: &str,
    subject: &str,
    id: &str,
    parents: &[&str],
    text: &str,
    photo: Option<&[u8]>,
) -> Vec<u8> {
    let mut builder = lettre::Message::builder()
        .from(from.parse::<Mailbox>().unwrap())
        .to(SUPPORT.parse::<Mailbox>().unwrap())
        .subject(subject)
        .message_id(Some(format!("<{id}>")));
    if let Some(parent) = parents.last() {
        builder = builder.in_reply_to(format!("<{parent}>"));
        let references: Vec<String> = parents.iter().map(|id| format!("<{id}>")).collect();
        builder = builder.references(references.join(" "));
    }
    let message = match photo {
        None => builder.singlepart(SinglePart::plain(text.to_owned())),
        Some(photo) => builder.multipart(
            MultiPart::mixed().singlepart(SinglePart::plain(text.to_owned())).singlepart(
                Attachment::new("lamp.png".into())
                    .body(photo.to_vec(), ContentType::parse("image/png").unwrap()),
            ),
        ),
    };
    message.unwrap().formatted()
}

fn parse(raw: &[u8]) -> Parsed<'_> {
    MessageParser::default().parse(raw).expect("a letter that parses")
}

fn header<'a>(letter: &'a Parsed<'_>, name: &str) -> Option<&'a str> {
    letter.headers_raw().find(|(header, _)| header.eq_ignore_ascii_case(name)).map(|(_, value)| value.trim())
}

fn text_of(letter: &Parsed<'_>) -> String {
    letter.body_text(0).unwrap_or_default().replace("\r\n", "\n")
}

/// Checks that `reply` answers the letter `parent` in its thread, and returns its Message-ID.
fn threaded_under(reply: &Parsed<'_>, parent: &str, root: &str) -> String {
    assert_eq!(reply.in_reply_to().as_text(), Some(parent), "In-Reply-To");
    let references = header(reply, "References").expect("References");
    assert!(references.contains(&format!("<{root}>")), "References {references:?} name the first letter");
    assert!(references.contains(&format!("<{parent}>")), "References {references:?} name the parent");
    let id = reply.message_id().expect("a Message-ID of our own").to_owned();
    assert!(id.starts_with("sb.") && id.ends_with("@shop.test"), "{id}");
    id
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_mail), ignore = "needs Dovecot and aiosmtpd: set SWITCHBOARD_TEST_MAIL")]
async fn a_russian_letter_with_a_photo_becomes_a_ticket_and_the_thread_holds_both_ways() {
    let mail = Mail::start().await;
    let photo = png(640, 480, 7);
    let first = "ru-1@customer.test";
    let subject = "Заказ 12345678-0001: разбитая лампа";
    let raw = letter(
        "Анна Петрова <anna@customer.test>",
        subject,
        first,
        &[],
        "Здравствуйте! Лампа пришла с треснувшим основанием, фото во вложении.\n\n-- \nАнна\n+7 900 000-00-00",
        Some(&photo),
    );
    mail.servers.deliver("support", &raw).await;
    let landed = Instant::now();
    let ticket = loop {
        if let Some(ticket) = conversation::queued_tickets(mail.app.store()).await.pop() {
            break ticket;
        }
        assert!(landed.elapsed() < DEADLINE, "no ticket from the letter");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let took = landed.elapsed();
    println!("email: from the letter landing in the mailbox to its ticket: {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    let thread = mail.thread(first);
    assert_eq!((ticket.channel.as_str(), ticket.external_id.as_str()), ("email", thread.as_str()));
    assert_eq!(ticket.order_id.as_deref(), Some("12345678-0001"), "the order number from the subject");
    assert_eq!(ticket.language, Lang::Ru, "detected from the text");
    assert_eq!(ticket.display_name.as_deref(), Some("Анна Петрова"));
    let description = ticket.description.clone().unwrap();
    assert!(description.contains(subject) && description.contains("треснувшим основанием"), "{description}");
    assert!(!description.contains("+7 900"), "the signature is not the dialog's: {description}");
    assert_eq!(ticket.attachments.len(), 1, "the photo, through the media checks");
    assert_eq!(ticket.attachments[0].content_type, "image/png");
    let log = mail.log(&thread).await;
    assert!(log[0].contains("+7 900 000-00-00"), "the agent's log keeps the whole letter: {log:?}");

    // One letter back, threaded under the customer's, with a plain and an HTML part.
    let received = mail.servers.wait_letters("anna", 1).await;
    let ack = parse(&received[0]);
    threaded_under(&ack, first, first);
    let numbered = format!("Re: {subject} [#{}]", ticket.id);
    assert_eq!(ack.subject(), Some(numbered.as_str()), "the subject kept, with the ticket's number");
    let from = ack.from().and_then(|from| from.first()).unwrap();
    assert_eq!((from.name.as_deref(), from.address.as_deref()), (Some("Shop Support"), Some(SUPPORT)));
    assert_eq!(header(&ack, "Auto-Submitted"), Some("auto-replied"));
    let text = text_of(&ack);
    assert!(
        text.starts_with("Спасибо за письмо, мы его получили и записали номер заказа 12345678-0001."),
        "{text}"
    );
    assert!(text.contains("Вы 1-й в очереди") || text.contains('1'), "{text}");
    let html = ack.body_html(0).unwrap();
    assert!(html.contains("<p>Спасибо за письмо"), "{html}");

    // An agent with a display name takes it and answers with the photo.
    let store = mail.app.store();
    switchboard::console::agents::create_agent(
        &**store,
        "olga",
        "correct horse battery",
        switchboard::store::Role::Agent,
        0,
    )
    .await
    .unwrap();
    store.set_agent_profile("olga", Some("Ольга"), None).await.unwrap();
    let engine = &mail.app.running().app.engine;
    engine.claim(ticket.id, "olga").await.unwrap();
    engine
        .agent_reply(
            ticket.id,
            &Actor::new("olga", false),
            "Это трещина на фото?",
            vec![ticket.attachments[0].clone()],
        )
        .await
        .unwrap();
    let received = mail.servers.wait_letters("anna", 3).await;
    let answer = parse(&received[2]);
    let answer_id = threaded_under(&answer, first, first);
    let from = answer.from().and_then(|from| from.first()).unwrap();
    assert_eq!(from.name.as_deref(), Some("Ольга"), "the agent's display name as the sender's");
    assert_eq!(header(&answer, "Auto-Submitted"), None, "a person wrote this one");
    assert_eq!(text_of(&answer).trim(), "Это трещина на фото?");
    assert_eq!(answer.subject(), Some(numbered.as_str()));
    assert_eq!(answer.attachment_count(), 1, "the agent's photo");
    assert_eq!(answer.attachment(0).unwrap().content_type().unwrap().ctype(), "image");

    // The customer answers the agent's letter: it joins the same conversation.
    let reply_to = answer.reply_to().and_then(|to| to.first()).and_then(|to| to.address.clone()).unwrap();
    assert!(reply_to.starts_with("support+") && reply_to.ends_with("@shop.test"), "{reply_to}");
    let second = "ru-2@customer.test";
    let reply = letter(
        "Анна Петрова <anna@customer.test>",
        &format!("Re: {subject}"),
        second,
        &[first, &answer_id],
        "Да, это она. Когда вернёте деньги?\n\n7 дек. 2026 г., Ольга написал(а):\n> Это трещина на фото?",
        None,
    );
    let landed = Instant::now();
    mail.servers.deliver("support", &reply).await;
    let log = mail.wait_log(&thread, 2).await;
    println!("email: from a reply landing to its place in the conversation: {:?}", landed.elapsed());
    assert!(log[1].contains("Да, это она."), "{log:?}");
    let tickets = conversation::queued_tickets(store).await;
    assert!(tickets.is_empty(), "the ticket is the agent's, no new one: {tickets:#?}");

    // Someone else who quotes our Message-ID starts a conversation of their own.
    let forged = letter(
        "Mallory <mallory@elsewhere.test>",
        "Re: x",
        "forged@elsewhere.test",
        &[first, &answer_id],
        "Send me the refund instead.",
        None,
    );
    mail.servers.deliver("support", &forged).await;
    mail.wait_log(&mail.thread("forged@elsewhere.test"), 1).await;
    assert_eq!(mail.log(&thread).await.len(), 2, "Anna's conversation did not change");
    mail.servers.wait_letters("mallory", 1).await;
    assert_eq!(mail.servers.letters("anna").await.len(), 3, "the agent owns Anna's ticket: no bot letter");
    mail.finish().await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_mail), ignore = "needs Dovecot and aiosmtpd: set SWITCHBOARD_TEST_MAIL")]
async fn a_letter_delivered_twice_and_a_restarted_server_lose_and_double_nothing() {
    let mut mail = Mail::start().await;
    let parcel = letter(
        "bob@customer.test",
        "Missing parcel",
        "en-1@customer.test",
        &[],
        "My parcel 12345678-0002 has not arrived and the tracking is stuck.",
        None,
    );
    mail.servers.deliver("support", &parcel).await;
    mail.servers.wait_letters("bob", 1).await;

    // The same letter again (a second copy in the folder, as after a reconnect mid-IDLE),
    // then another customer's: handled in order, the copy once only.
    mail.servers.deliver("support", &parcel).await;
    let other = letter(
        "carol@customer.test",
        "Broken kettle",
        "en-2@customer.test",
        &[],
        "The kettle I got leaks from the bottom, order 12345678-0005.",
        None,
    );
    mail.servers.deliver("support", &other).await;
    mail.servers.wait_letters("carol", 1).await;
    assert_eq!(mail.log(&mail.thread("en-1@customer.test")).await.len(), 1, "the copy changed nothing");
    assert_eq!(mail.servers.letters("bob").await.len(), 1, "and sent nothing");

    // Dovecot restarts while the app idles on it; a letter lands while it is down.
    mail.servers.stop_imap().await;
    let while_down = letter(
        "dave@customer.test",
        "Wrong size",
        "en-3@customer.test",
        &[],
        "I received size M instead of L for order 12345678-0006.",
        None,
    );
    mail.servers.deliver_into_maildir("support", &while_down);
    let states = mail.app.running().channels.clone();
    let retrying = states.wait_for("email", |state| matches!(state, ChannelState::Retrying { .. }));
    tokio::time::timeout(DEADLINE, retrying).await.expect("the lost connection shows in the channel's state");
    mail.servers.start_imap().await;
    mail.servers.wait_letters("dave", 1).await;
    tokio::time::timeout(DEADLINE, states.wait_for("email", |state| *state == ChannelState::Up))
        .await
        .expect("up again once the server answers");
    let after = letter(
        "erin@customer.test",
        "Refund",
        "en-4@customer.test",
        &[],
        "The refund for order 12345678-0007 never came.",
        None,
    );
    mail.servers.deliver("support", &after).await;
    mail.servers.wait_letters("erin", 1).await;

    // The app restarts too: the saved position holds, nothing is read twice.
    mail.app.stop().await;
    let while_stopped = letter(
        "frank@customer.test",
        "Damaged box",
        "en-5@customer.test",
        &[],
        "The box of order 12345678-0008 was crushed.",
        None,
    );
    mail.servers.deliver("support", &while_stopped).await;
    mail.launch().await;
    mail.servers.wait_letters("frank", 1).await;
    for (customer, id) in
        [("bob", "en-1"), ("carol", "en-2"), ("dave", "en-3"), ("erin", "en-4"), ("frank", "en-5")]
    {
        assert_eq!(mail.servers.letters(customer).await.len(), 1, "{customer}: one letter back");
        assert_eq!(mail.log(&mail.thread(&format!("{id}@customer.test"))).await.len(), 1, "{customer}: once");
    }
    assert_eq!(conversation::queued_tickets(mail.app.store()).await.len(), 5);

    // The folder is rebuilt with a new UIDVALIDITY (its index files lost): every letter is
    // read again, and each is recognised by its Message-ID.
    let cursor = format!("email:support@127.0.0.1:{}/INBOX:uid", mail.servers.imap_port);
    let before = mail.app.store().cursor(&cursor).await.unwrap().expect("a saved position");
    mail.servers.stop_imap().await;
    mail.servers.forget_uids("support");
    mail.servers.start_imap().await;
    let give_up = tokio::time::Instant::now() + DEADLINE;
    let after = loop {
        let now = mail.app.store().cursor(&cursor).await.unwrap().unwrap();
        if now.split(':').next() != before.split(':').next() {
            break now;
        }
        assert!(tokio::time::Instant::now() < give_up, "the new UIDVALIDITY was never saved");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(after.ends_with(":6"), "all six letters (the copy too) read again: {before} -> {after}");
    for (customer, id) in
        [("bob", "en-1"), ("carol", "en-2"), ("dave", "en-3"), ("erin", "en-4"), ("frank", "en-5")]
    {
        assert_eq!(mail.servers.letters(customer).await.len(), 1, "{customer}: still one letter back");
        assert_eq!(mail.log(&mail.thread(&format!("{id}@customer.test"))).await.len(), 1, "{customer}");
    }
    mail.finish().await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_mail), ignore = "needs Dovecot and aiosmtpd: set SWITCHBOARD_TEST_MAIL")]
async fn koi8_r_and_gb18030_letters_read_correctly_and_robots_are_not_answered() {
    // IDLE is ended and issued again every second here, and the letters land after a few
    // rounds of that: nothing is missed across a re-issue.
    let mail = Mail::start_idling(Some("1")).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let koi8 = b"From: ivan@customer.test\r\nTo: support@shop.test\r\nSubject: =?koi8-r?B?8NXT1MHRINDP09nMy8E=?=\r\n\
Message-ID: <koi8@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=koi8-r\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n\
\xfa\xc4\xd2\xc1\xd7\xd3\xd4\xd7\xd5\xca\xd4\xc5\x21\x20\xf0\xcf\xd3\xd9\xcc\xcb\xc1\x20\x31\x32\x33\x34\x35\x36\x37\x38\x2d\x30\x30\x30\x33\x20\xd0\xd2\xc9\xdb\xcc\xc1\x20\xd0\xd5\xd3\xd4\xcf\xca\x2c\x20\xcb\xcf\xd2\xcf\xc2\xcb\xc1\x20\xd7\xd3\xcb\xd2\xd9\xd4\xc1\x2e\r\n";
    let gb18030 = b"From: li@customer.test\r\nTo: support@shop.test\r\nSubject: =?gb18030?B?u7W1xMnMxrc=?=\r\n\
Message-ID: <gb@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=GB18030\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n\
\xc4\xe3\xba\xc3\xa3\xa1\xce\xd2\xb5\xc4\xb6\xa9\xb5\xa5\x31\x32\x33\x34\x35\x36\x37\x38\x2d\x30\x30\x30\x34\xca\xd5\xb5\xbd\xb5\xc4\xc9\xcc\xc6\xb7\xca\xc7\xbb\xb5\xb5\xc4\xa3\xac\xba\xd0\xd7\xd3\xb1\xbb\xd1\xb9\xb1\xe2\xc1\xcb\xa1\xa3\r\n";
    let away = b"From: away@customer.test\r\nTo: support@shop.test\r\nSubject: Out of office\r\n\
Message-ID: <away@customer.test>\r\nAuto-Submitted: auto-replied\r\n\r\nI am on holiday until Monday.\r\n";
    let bounce = b"From: MAILER-DAEMON@customer.test\r\nTo: support@shop.test\r\nSubject: Undelivered Mail\r\n\
Message-ID: <bounce@customer.test>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n--b--\r\n";
    for raw in [&koi8[..], &gb18030[..], &away[..], &bounce[..]] {
        mail.servers.deliver("support", raw).await;
    }
    let ivan = mail.wait_log(&mail.thread("koi8@customer.test"), 1).await;
    assert!(ivan[0].contains("Subject: Пустая посылка"), "{ivan:?}");
    assert!(
        ivan[0].contains("Здравствуйте! Посылка 12345678-0003 пришла пустой, коробка вскрыта."),
        "{ivan:?}"
    );
    let li = mail.wait_log(&mail.thread("gb@customer.test"), 1).await;
    assert!(li[0].contains("Subject: 坏的商品"), "{li:?}");
    assert!(li[0].contains("你好！我的订单12345678-0004收到的商品是坏的，盒子被压扁了。"), "{li:?}");

    let to_ivan = mail.servers.wait_letters("ivan", 1).await;
    assert!(text_of(&parse(&to_ivan[0])).starts_with("Спасибо за письмо"), "answered in Russian");
    let to_li = mail.servers.wait_letters("li", 1).await;
    assert!(text_of(&parse(&to_li[0])).starts_with("感谢您的来信"), "answered in Chinese");
    let tickets = conversation::queued_tickets(mail.app.store()).await;
    let languages: Vec<(Option<String>, Lang)> =
        tickets.iter().map(|ticket| (ticket.order_id.clone(), ticket.language)).collect();
    assert!(languages.contains(&(Some("12345678-0003".into()), Lang::Ru)), "{languages:?}");
    assert!(languages.contains(&(Some("12345678-0004".into()), Lang::Zh)), "{languages:?}");

    // The robots were read (the position moved past them) and never answered.
    for id in ["away@customer.test", "bounce@customer.test"] {
        let contact = mail.app.store().contact("email", &mail.thread(id)).await.unwrap();
        assert!(contact.is_none(), "{id} reached the dialog");
    }
    assert!(mail.servers.letters("away").await.is_empty());
    assert_eq!(tickets.len(), 2);
    mail.finish().await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_mail), ignore = "needs Dovecot and aiosmtpd: set SWITCHBOARD_TEST_MAIL")]
async fn smtp_4xx_is_retried_and_5xx_is_a_dead_letter_that_marks_the_contact_unreachable() {
    let mail = Mail::start().await;
    let flaky = letter(
        "flaky@customer.test",
        "Order 12345678-0009",
        "flaky@customer.test",
        &[],
        "The lid of the pot is cracked.",
        None,
    );
    let gone = letter(
        "nosuchuser@customer.test",
        "Order 12345678-0010",
        "gone@customer.test",
        &[],
        "The handle fell off.",
        None,
    );
    mail.servers.deliver("support", &flaky).await;
    mail.servers.deliver("support", &gone).await;
    // Refused once with 451, then delivered.
    let received = mail.servers.wait_letters("flaky", 1).await;
    threaded_under(&parse(&received[0]), "flaky@customer.test", "flaky@customer.test");

    let gone_thread = mail.thread("gone@customer.test");
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let rows = conversation::outbox(mail.app.store(), "email", &gone_thread).await;
        if rows.iter().any(|row| row.status == OutboxStatus::Dead) {
            break;
        }
        assert!(tokio::time::Instant::now() < give_up, "no dead letter: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let contact = mail.app.store().contact("email", &gone_thread).await.unwrap().unwrap();
    assert!(!contact.reachable, "550 5.1.1 marks the contact unreachable");
    let flaky_rows =
        conversation::outbox(mail.app.store(), "email", &mail.thread("flaky@customer.test")).await;
    assert!(flaky_rows.iter().all(|row| row.status == OutboxStatus::Sent), "{flaky_rows:#?}");
    assert!(flaky_rows[0].attempts >= 1, "the 451 was an attempt: {flaky_rows:#?}");

    // Later the customer's server reports our letter undeliverable for good (RFC 3464): the
    // customer is unreachable until they write again.
    let ours = parse(&received[0]).message_id().unwrap().to_owned();
    let report = format!(
        "From: MAILER-DAEMON@customer.test\r\nTo: {SUPPORT}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <dsn-1@customer.test>\r\nAuto-Submitted: auto-replied\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n\
         --r\r\nContent-Type: text/plain\r\n\r\nThe mailbox is full and has been closed.\r\n\
         --r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.test\r\n\r\n\
         Final-Recipient: rfc822; flaky@customer.test\r\nAction: failed\r\nStatus: 5.2.1\r\n\
         --r\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {SUPPORT}\r\nMessage-ID: <{ours}>\r\n--r--\r\n"
    );
    mail.servers.deliver("support", report.as_bytes()).await;
    let flaky_thread = mail.thread("flaky@customer.test");
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while mail.app.store().contact("email", &flaky_thread).await.unwrap().unwrap().reachable {
        assert!(tokio::time::Instant::now() < give_up, "the bounce did not mark the contact unreachable");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mail.servers.letters("flaky").await.len(), 1, "a bounce is never answered");
    mail.finish().await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_mail), ignore = "needs Dovecot and aiosmtpd: set SWITCHBOARD_TEST_MAIL")]
async fn a_question_is_answered_from_the_faq_and_human_opens_a_ticket() {
    let mail = Mail::start().await;
    let question = letter(
        "gina@customer.test",
        "Question",
        "faq-1@customer.test",
        &[],
        "How can I change my shipping address?",
        None,
    );
    mail.servers.deliver("support", &question).await;
    let received = mail.servers.wait_letters("gina", 1).await;
    let answer = parse(&received[0]);
    let text = text_of(&answer);
    assert!(text.starts_with("Thank you for your email: we have received it."), "{text}");
    assert!(
        text.trim_end().ends_with("reply \"human\" to this email and a person from our team will answer."),
        "{text}"
    );
    assert!(conversation::queued_tickets(mail.app.store()).await.is_empty(), "answered, no ticket yet");

    let id = answer.message_id().unwrap().to_owned();
    let human = letter(
        "gina@customer.test",
        "Re: Question",
        "faq-2@customer.test",
        &["faq-1@customer.test", &id],
        "human\n\nOn Mon, Shop Support wrote:\n> Thank you for your email",
        None,
    );
    mail.servers.deliver("support", &human).await;
    let received = mail.servers.wait_letters("gina", 2).await;
    let queued = text_of(&parse(&received[1]));
    assert!(queued.contains("You're number 1 in line."), "{queued}");
    let tickets = conversation::queued_tickets(mail.app.store()).await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].status, TicketStatus::Queued);
    let description = tickets[0].description.clone().unwrap();
    assert!(description.contains("shipping address"), "the first question reaches the ticket: {description}");

    // Resolved: the rating question's buttons are numbered lines, and a letter with a number
    // presses one ("4" rates, then "1" skips the comment, which would otherwise be the text "1").
    let ticket = tickets[0].id;
    let engine = &mail.app.running().app.engine;
    engine.claim(ticket, "olga").await.unwrap();
    engine.resolve(ticket, &Actor::new("olga", true)).await.unwrap();
    let received = mail.servers.wait_letters("gina", 4).await;
    let rating = text_of(&parse(&received[3]));
    assert!(rating.contains("\n1. 1\n") && rating.contains("\n5. 5\n"), "{rating}");
    assert!(rating.trim_end().ends_with("Reply with the number of your choice."), "{rating}");
    let mut parents = vec!["faq-1@customer.test".to_owned(), id.clone(), "faq-2@customer.test".to_owned()];
    let mut send = |n: usize, words: &str, last: &[u8]| {
        parents.push(parse(last).message_id().unwrap().to_owned());
        let refs: Vec<&str> = parents.iter().map(String::as_str).collect();
        letter("gina@customer.test", "Re: Question", &format!("faq-{n}@customer.test"), &refs, words, None)
    };
    let four = send(4, "4\n\nOn Mon, Shop Support wrote:\n> 5. 5", &received[3]);
    mail.servers.deliver("support", &four).await;
    let received = mail.servers.wait_letters("gina", 5).await;
    let comment = text_of(&parse(&received[4]));
    assert!(comment.contains("\n1. Skip"), "{comment}");
    let skip = send(5, "1", &received[4]);
    mail.servers.deliver("support", &skip).await;
    mail.servers.wait_letters("gina", 6).await;
    let detail = mail.app.store().ticket(ticket).await.unwrap().unwrap();
    assert_eq!((detail.ticket.rating, detail.ticket.comment.clone()), (Some(4), None), "{detail:#?}");
    mail.finish().await;
}

#[tokio::test]
#[cfg_attr(
    not(all(switchboard_test_mail, switchboard_test_postgres)),
    ignore = "needs Dovecot, aiosmtpd and PostgreSQL: set SWITCHBOARD_TEST_MAIL and SWITCHBOARD_TEST_POSTGRES"
)]
async fn a_letter_becomes_a_numbered_ticket_on_postgresql() {
    let mail = Mail::start_on(TestDb::postgres().await, None).await;
    let raw = letter(
        "hana@customer.test",
        "Order 12345678-0011",
        "pg-1@customer.test",
        &[],
        "The chair has a broken leg.",
        None,
    );
    mail.servers.deliver("support", &raw).await;
    let received = mail.servers.wait_letters("hana", 1).await;
    let ack = parse(&received[0]);
    threaded_under(&ack, "pg-1@customer.test", "pg-1@customer.test");
    let tickets = conversation::queued_tickets(mail.app.store()).await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].order_id.as_deref(), Some("12345678-0011"));
    let numbered = format!("Re: Order 12345678-0011 [#{}]", tickets[0].id);
    assert_eq!(ack.subject(), Some(numbered.as_str()));
    mail.finish().await;
}
