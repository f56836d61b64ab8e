//! Machine translation (issue 21): the providers' clients against the fake LibreTranslate and
//! the fake DeepL, then the whole app with the fake Telegram: a Chinese-speaking agent helps a
//! Russian customer in the console, the provider goes down mid-conversation, a canned reply
//! with a person's translation skips the provider, and erasure takes the stored translations.

use crate::support::engine_fixtures::TestDb;
use crate::support::fake_deepl::{self, FakeDeepL};
use crate::support::fake_libretranslate::{FakeLibreTranslate, Fault, ScriptedTranslator};
use crate::support::fake_telegram::{Call, FakeTelegram};
use crate::support::forms::{cookie_of, csrf_in};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use switchboard::app::Running;
use switchboard::config::translate::GlossaryTerm;
use switchboard::config::{Overrides, Settings};
use switchboard::console::Role;
use switchboard::core::handoff::TicketStatus;
use switchboard::core::message::Lang;
use switchboard::secret::Secret;
use switchboard::store::{AgentOriginal, Author, Page, Store};
use switchboard::translate::deepl::DeepL;
use switchboard::translate::glossary::Glossary;
use switchboard::translate::libretranslate::LibreTranslate;
use switchboard::translate::{TranslateError, Translation};

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
const PASSWORD: &str = "correct horse battery staple";
const DEADLINE: Duration = Duration::from_secs(20);
const ANNA: i64 = 218_485_655;

const ASKS: &str = "Здравствуйте! Посылка пришла разбитой, верните деньги, пожалуйста.";
const ASKS_ZH: &str = "您好！包裹到的时候已经摔坏了，请退款。";
const ANSWER_ZH: &str = "您好！非常抱歉。我们今天就给您退款。";
const ANSWER_RU: &str = "Здравствуйте! Нам очень жаль. Мы вернём вам деньги сегодня.";

fn glossary() -> Glossary {
    Glossary::new(vec![
        GlossaryTerm { en: Some("Ozon".to_owned()), ru: None, zh: None },
        GlossaryTerm {
            en: Some("pickup point".to_owned()),
            ru: Some("пункт выдачи".to_owned()),
            zh: Some("取货点".to_owned()),
        },
    ])
}

// ---------------------------------------------------------------------------------------------
// The clients

#[tokio::test]
async fn libretranslate_is_asked_as_its_api_says_and_glossary_terms_are_kept_out_of_translation() {
    let fake = FakeLibreTranslate::start(Some("lt-key")).await;
    fake.teach("ru", "zh", ASKS, ASKS_ZH);
    let client =
        LibreTranslate::new(&fake.url, Some(Secret::new("lt-key")), glossary(), Duration::from_secs(2))
            .unwrap();
    let translation = Translation::new(Arc::new(client), Duration::from_secs(2));

    assert_eq!(translation.text(ASKS, Lang::Ru, Lang::Zh).await.unwrap(), ASKS_ZH);
    let call = fake.calls().pop().unwrap();
    assert_eq!(call["source"], "ru");
    assert_eq!(call["target"], "zh-Hans", "the Chinese code is the server's own, from /languages");
    assert_eq!(call["format"], "text");
    assert_eq!(call["api_key"], "lt-key");

    // A glossary term goes in its target form, inside markup LibreTranslate leaves alone.
    let text = "Заказ на Ozon ждёт\nв пункт выдачи.";
    let translated = translation.text(text, Lang::Ru, Lang::Zh).await.unwrap();
    let call = fake.calls().pop().unwrap();
    assert_eq!(call["format"], "html");
    let q = call["q"].as_str().unwrap();
    assert!(
        q.contains("<span translate=\"no\">Ozon</span>")
            && q.contains("<span translate=\"no\">取货点</span>"),
        "{q}"
    );
    assert!(q.contains("<br>"), "line breaks travel as <br>: {q}");
    assert!(
        translated.contains("Ozon") && translated.contains("取货点") && translated.contains('\n'),
        "{translated}"
    );
    assert!(!translated.contains("<span") && !translated.contains("<br"), "{translated}");
    // Nothing to translate: nobody is asked.
    let before = fake.calls().len();
    assert_eq!(translation.text("Текст", Lang::Ru, Lang::Ru).await.unwrap(), "Текст");
    assert_eq!(fake.calls().len(), before);
}

#[tokio::test]
async fn a_failing_provider_is_tried_twice_then_rested_and_a_refusal_is_not_retried() {
    let fake = FakeLibreTranslate::start(None).await;
    let timeout = Duration::from_millis(500);
    let client =
        LibreTranslate::new(&fake.url, Some(Secret::new("wrong")), Glossary::default(), timeout).unwrap();
    let translation = Translation::new(Arc::new(client), timeout);
    // The server wants no key, so a key is no problem; a 500 is tried again and gets through.
    fake.fail_next(Fault::Status(500));
    assert!(translation.text("Привет", Lang::Ru, Lang::En).await.is_ok());
    assert_eq!(fake.calls_with("Привет"), 2);
    // A refusal (400) is not worth a second try, and does not rest the provider.
    fake.fail_next(Fault::Status(400));
    assert!(matches!(
        translation.text("Раз", Lang::Ru, Lang::En).await,
        Err(TranslateError::Refused { status: 400, .. })
    ));
    assert_eq!(fake.calls_with("Раз"), 1);
    // Two stalls past the timeout: the provider is rested, and the next text fails at once.
    fake.fail_next(Fault::Stall(Duration::from_secs(3)));
    fake.fail_next(Fault::Stall(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    assert_eq!(translation.text("Два", Lang::Ru, Lang::En).await, Err(TranslateError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(2), "two timeouts of 0.5 s, not the stalls");
    assert_eq!(translation.text("Три", Lang::Ru, Lang::En).await, Err(TranslateError::Resting));
    assert_eq!(fake.calls_with("Три"), 0);
    // After six timeouts' rest it is asked again.
    tokio::time::sleep(timeout * 6 + Duration::from_millis(200)).await;
    assert!(translation.text("Три", Lang::Ru, Lang::En).await.is_ok());
}

#[tokio::test]
async fn deepl_gets_the_store_glossary_once_and_its_failures_are_told_apart() {
    let fake = FakeDeepL::start().await;
    fake.teach("zh", "ru", ANSWER_ZH, ANSWER_RU);
    let timeout = Duration::from_secs(2);
    let client = DeepL::new(&fake.url, Secret::new(fake_deepl::KEY), glossary(), timeout).unwrap();
    let translation = Translation::new(Arc::new(client), timeout);

    assert_eq!(translation.text(ANSWER_ZH, Lang::Zh, Lang::Ru).await.unwrap(), ANSWER_RU);
    let call = fake.translate_calls().pop().unwrap();
    assert_eq!(call["text"], json!([ANSWER_ZH]));
    assert_eq!((call["source_lang"].as_str(), call["target_lang"].as_str()), (Some("ZH"), Some("RU")));
    assert!(call.get("glossary_id").is_none(), "no term, no glossary");
    assert!(fake.glossary_calls().is_empty());

    // A text with terms: the glossary is made (one dictionary per language pair) and used.
    let translated = translation.text("您的订单在取货点，Ozon", Lang::Zh, Lang::En).await.unwrap();
    assert!(translated.contains("pickup point") && translated.contains("Ozon"), "{translated}");
    let made = fake.glossary_calls();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["dictionaries"].as_array().unwrap().len(), 6);
    let call = fake.translate_calls().pop().unwrap();
    assert!(call["glossary_id"].as_str().is_some(), "{call}");
    assert_eq!(call["target_lang"], "EN-US");
    translation.text("Заказ на Ozon", Lang::Ru, Lang::Zh).await.unwrap();
    assert_eq!(fake.glossary_calls().len(), 1, "the glossary is made once");

    // A used-up quota is a refusal (asked once); a 503 is tried again.
    fake.fail_next(Fault::Status(456));
    assert!(matches!(
        translation.text("Раз", Lang::Ru, Lang::En).await,
        Err(TranslateError::Refused { status: 456, .. })
    ));
    fake.fail_next(Fault::Status(503));
    let before = fake.translate_calls().len();
    assert!(translation.text("Два", Lang::Ru, Lang::En).await.is_ok());
    assert_eq!(fake.translate_calls().len(), before + 2);
}

#[tokio::test]
async fn without_its_glossary_deepl_gets_the_terms_in_an_element_it_leaves_alone() {
    let fake = FakeDeepL::start().await;
    let timeout = Duration::from_secs(2);
    let client = DeepL::new(&fake.url, Secret::new(fake_deepl::KEY), glossary(), timeout).unwrap();
    let translation = Translation::new(Arc::new(client), timeout);
    fake.fail_next(Fault::Status(503));
    let translated =
        translation.text("Заказ на Ozon, пункт выдачи <рядом> & близко", Lang::Ru, Lang::Zh).await.unwrap();
    let call = fake.translate_calls().pop().unwrap();
    assert_eq!(call["tag_handling"], "xml");
    assert_eq!(call["ignore_tags"], json!(["keep"]));
    let sent = call["text"][0].as_str().unwrap();
    assert!(
        sent.contains("<keep>Ozon</keep>")
            && sent.contains("<keep>取货点</keep>")
            && sent.contains("&lt;рядом&gt; &amp;"),
        "{sent}"
    );
    assert!(
        translated.contains("Ozon") && translated.contains("取货点") && translated.contains("<рядом> &"),
        "{translated}"
    );
    assert!(!translated.contains("<keep>"), "{translated}");
    // The refusal is remembered for a while: the next text does not ask for the glossary again.
    translation.text("Где Ozon?", Lang::Ru, Lang::Zh).await.unwrap();
    assert_eq!(fake.glossary_calls().len(), 1);
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn translations_and_canned_versions_are_stored_and_erased_on_postgres() {
    use crate::support::engine_fixtures::{start_engine, text};
    use switchboard::channels::Intake;
    let db = TestDb::postgres().await;
    let store = db.connect().await;
    let engine = start_engine(&store);
    engine.accept(text("anna", "anna-1", ASKS)).await.unwrap();
    let contact = store.contact(crate::support::engine_fixtures::CHANNEL, "anna").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap().id;
    let message = store.transcript(conversation).await.unwrap()[0].id;
    assert!(store.save_translation(message, Lang::Zh, ASKS_ZH, "libretranslate", 1).await.unwrap());
    assert!(
        !store.save_translation(message, Lang::Zh, "again", "libretranslate", 2).await.unwrap(),
        "once per language"
    );
    assert!(
        !store.save_translation(message + 1000, Lang::Zh, "gone", "libretranslate", 2).await.unwrap(),
        "no message, no row"
    );
    assert_eq!(
        store.translations(conversation, Lang::Zh).await.unwrap().get(&message).map(String::as_str),
        Some(ASKS_ZH)
    );

    let first = store.create_canned_reply(Lang::En, "Refund", "On its way.", None, 0).await.unwrap().unwrap();
    let version =
        store.create_canned_reply(Lang::Ru, "Возврат", "Уже в пути.", Some(first), 0).await.unwrap();
    assert!(version.is_some());
    assert_eq!(
        store.create_canned_reply(Lang::Zh, "退款", "在路上。", Some(first + 1000), 0).await.unwrap(),
        None
    );
    let sets: Vec<i64> = store.canned_replies(None).await.unwrap().iter().map(|reply| reply.set_id).collect();
    assert_eq!(sets, vec![first, first]);

    engine
        .erase_contact(crate::support::engine_fixtures::CHANNEL, "anna")
        .await
        .unwrap()
        .expect("anna is known");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM message_translations").await, 0);
    engine.shutdown().await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn retention_takes_translations_with_their_messages() {
    use crate::support::engine_fixtures::{CHANNEL, start_engine, text};
    use switchboard::channels::Intake;
    use switchboard::store::Expired;
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = start_engine(&store);
    engine.accept(text("anna", "anna-1", ASKS)).await.unwrap();
    let contact = store.contact(CHANNEL, "anna").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap().id;
    let message = store.transcript(conversation).await.unwrap()[0].id;
    assert!(store.save_translation(message, Lang::Zh, ASKS_ZH, "libretranslate", 1).await.unwrap());
    let far_future = switchboard::store::now_millis() + 86_400_000;
    assert!(store.delete_expired(Expired::Messages, far_future, 10_000).await.unwrap() > 0);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM message_translations").await, 0);
    engine.shutdown().await;
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// The whole app

/// The app on its own SQLite file with the fake Telegram and the fake LibreTranslate, and an
/// HTTP client for the console.
struct World {
    telegram: FakeTelegram,
    translator: FakeLibreTranslate,
    db: TestDb,
    _media: tempfile::TempDir,
    running: Running,
    base: String,
    http: reqwest::Client,
    next_message_id: std::sync::atomic::AtomicI64,
}

/// A signed-in console session.
struct Console {
    cookie: String,
    csrf: String,
}

impl World {
    async fn start(timeout_secs: &str) -> World {
        let telegram = FakeTelegram::start(TOKEN).await;
        let translator = FakeLibreTranslate::start(None).await;
        let db = TestDb::sqlite();
        let media = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let api_url = telegram.api_url();
        let media_dir = media.path().display().to_string();
        let env: HashMap<&str, &str> = HashMap::from([
            ("SWITCHBOARD_DATABASE_URL", db.url.as_str()),
            ("SWITCHBOARD_MEDIA_DIR", media_dir.as_str()),
            ("SWITCHBOARD_TELEGRAM_TOKEN", TOKEN),
            ("SWITCHBOARD_TELEGRAM_API_URL", api_url.as_str()),
            ("SWITCHBOARD_TRANSLATE", "libretranslate"),
            ("SWITCHBOARD_TRANSLATE_URL", translator.url.as_str()),
            ("SWITCHBOARD_TRANSLATE_TIMEOUT_SECS", timeout_secs),
        ]);
        let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
        let running = crate::support::quick_app::start(settings, listener).await;
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        World {
            telegram,
            translator,
            db,
            _media: media,
            running,
            base,
            http,
            next_message_id: std::sync::atomic::AtomicI64::new(9000),
        }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.running.app.store
    }

    /// An agent who reads and writes `console` and speaks only it.
    async fn agent(&self, name: &str, role: Role, console: Lang) {
        switchboard::console::agents::create_agent(&**self.store(), name, PASSWORD, role, 0).await.unwrap();
        assert!(self.store().set_agent_languages(name, Some(console), &[console]).await.unwrap());
    }

    /// A Russian-speaking Telegram customer writes `text`.
    async fn customer_writes(&self, text: &str) {
        let path = format!("{}/tests/fixtures/telegram/text.json", env!("CARGO_MANIFEST_DIR"));
        let mut update: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        update.as_object_mut().unwrap().remove("_source");
        let message = &mut update["message"];
        message["message_id"] =
            json!(self.next_message_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        message["text"] = json!(text);
        message["from"]["id"] = json!(ANNA);
        message["from"]["language_code"] = json!("ru");
        message["from"]["first_name"] = json!("Анна");
        message["chat"]["id"] = json!(ANNA);
        self.telegram.push_update(update);
    }

    /// Texts sent to the customer so far.
    fn sent_to_customer(&self) -> Vec<String> {
        self.telegram
            .sent()
            .iter()
            .filter(|call: &&Call| {
                call.params["chat_id"].as_i64() == Some(ANNA)
                    || call.params["chat_id"] == json!(ANNA.to_string())
            })
            .map(|call| call.params["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    async fn wait_for_message_containing(&self, phrase: &str) -> String {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(text) = self.sent_to_customer().into_iter().find(|text| text.contains(phrase)) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message with {phrase:?}: {:#?}",
                self.sent_to_customer()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The customer asks for a person and says what happened; returns the queued ticket.
    async fn ticket_with_a_russian_customer(&self) -> i64 {
        self.customer_writes("/agent").await;
        self.customer_writes(ASKS).await;
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let queued =
                self.store().list_tickets(Some(TicketStatus::Queued), Page::first(10)).await.unwrap();
            if let Some(ticket) = queued.first() {
                let log = self.store().transcript(ticket.conversation_id).await.unwrap();
                if log.iter().any(|entry| entry.text.as_deref() == Some(ASKS)) {
                    return ticket.id;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "no queued ticket with the customer's words");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn sign_in(&self, name: &str) -> Console {
        let page = self.http.get(format!("{}/console/login", self.base)).send().await.unwrap();
        let login = cookie_of(&page, "sb_login").expect("a login cookie");
        let csrf = csrf_in(&page.text().await.unwrap());
        let response = self
            .http
            .post(format!("{}/console/login", self.base))
            .header("cookie", &login)
            .form(&[("csrf", csrf.as_str()), ("name", name), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{name} signs in");
        let cookie = cookie_of(&response, "sb_session").expect("a session");
        let queue =
            self.page(&Console { cookie: cookie.clone(), csrf: String::new() }, "/console/queue").await;
        Console { csrf: csrf_in(&queue), cookie }
    }

    async fn page(&self, console: &Console, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &console.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    /// Posts a console form; returns the status and the body (a page or a redirect's).
    async fn post(&self, console: &Console, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form = vec![("csrf", console.csrf.as_str())];
        form.extend_from_slice(fields);
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &console.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response.headers().get("location").map(|value| value.to_str().unwrap().to_owned());
        (status, location.unwrap_or(response.text().await.unwrap()))
    }

    async fn finish(self) {
        self.running.stop().await;
        self.db.drop_database().await;
    }
}

/// How askama writes `text` into a page.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chinese_speaking_agent_helps_a_russian_customer_from_first_message_to_resolution() {
    let world = World::start("5").await;
    world.translator.teach("ru", "zh", ASKS, ASKS_ZH);
    world.translator.teach("zh", "ru", ANSWER_ZH, ANSWER_RU);
    world.agent("wei", Role::Agent, Lang::Zh).await;
    let ticket = world.ticket_with_a_russian_customer().await;
    let wei = world.sign_in("wei").await;

    // Wei reads the customer in Chinese, the Russian one click away, and the bot's replies in
    // Chinese too (they are Fluent texts).
    let page = world.page(&wei, &format!("/console/tickets/{ticket}")).await;
    assert!(page.contains(ASKS_ZH), "the customer's words in Chinese");
    assert!(
        page.contains(&format!("<summary>原文（Русский）</summary><p class=\"text\">{}</p>", escaped(ASKS))),
        "the original one click away"
    );
    assert_eq!(world.translator.calls_with(ASKS), 1);

    // Wei claims the ticket and writes in Chinese; the preview shows the Russian the customer
    // would get, editable; Wei adds the time and sends.
    assert_eq!(world.post(&wei, &format!("/console/tickets/{ticket}/claim"), &[]).await.0, 303);
    let page = world.page(&wei, &format!("/console/tickets/{ticket}")).await;
    assert!(page.contains("id=\"translation-hint\""), "the page says replies are translated");
    assert!(
        page.contains(&format!("action=\"/console/tickets/{ticket}/preview\"")),
        "replies go through the preview"
    );
    let (status, preview) =
        world.post(&wei, &format!("/console/tickets/{ticket}/preview"), &[("text", ANSWER_ZH)]).await;
    assert_eq!(status, 200);
    assert!(preview.contains(&format!(">{}</textarea>", escaped(ANSWER_RU))), "the translation, editable");
    assert!(preview.contains(&format!("name=\"original\" value=\"{}\"", escaped(ANSWER_ZH))));
    assert!(world.sent_to_customer().iter().all(|text| !text.contains("Нам очень жаль")), "nothing sent yet");
    let edited = format!("{ANSWER_RU} До 18:00.");
    let (status, location) = world
        .post(
            &wei,
            &format!("/console/tickets/{ticket}/reply"),
            &[("original", ANSWER_ZH), ("text", &edited)],
        )
        .await;
    assert_eq!((status, location.contains("notice=replied")), (303, true), "{location}");

    // The customer receives Russian in Telegram; the log keeps both.
    let received = world.wait_for_message_containing("До 18:00.").await;
    assert!(received.contains(ANSWER_RU), "{received}");
    let conversation = world.store().ticket(ticket).await.unwrap().unwrap().ticket.conversation_id;
    let log = world.store().transcript(conversation).await.unwrap();
    let reply = log.iter().rev().find(|entry| entry.author == Author::Agent).unwrap();
    assert_eq!(reply.text.as_deref(), Some(edited.as_str()));
    assert_eq!(reply.original, Some(AgentOriginal { lang: Lang::Zh, text: ANSWER_ZH.to_owned() }));
    // Wei's page shows her own words, with what the customer received one click away; the
    // customer's message was translated once however often it was shown.
    let page = world.page(&wei, &format!("/console/tickets/{ticket}")).await;
    assert!(page.contains(&format!("<p class=\"text\">{}</p>", escaped(ANSWER_ZH))));
    assert!(page.contains(&format!(
        "<summary>客户收到的内容（Русский）</summary><p class=\"text\">{}</p>",
        escaped(&edited)
    )));
    assert_eq!(world.translator.calls_with(ASKS), 1, "translated once, stored");

    // The agent API reads the ticket in Chinese from the stored translation too.
    let agent = world.store().agent_by_name("wei").await.unwrap().unwrap();
    let token = switchboard::console::sessions::create_api_token(&**world.store(), "crm", agent.id, 0, None)
        .await
        .unwrap();
    let read: Value = world
        .http
        .get(format!("{}/api/tickets/{ticket}?translate_to=zh", world.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let asked = read["messages"].as_array().unwrap().iter().find(|message| message["text"] == ASKS).unwrap();
    assert_eq!(asked["translation"], json!({ "lang": "zh", "text": ASKS_ZH }));
    let answered =
        read["messages"].as_array().unwrap().iter().find(|message| message["text"] == json!(edited)).unwrap();
    assert_eq!(answered["original"], json!({ "lang": "zh", "text": ANSWER_ZH }));
    let bad = world
        .http
        .get(format!("{}/api/tickets/{ticket}?translate_to=de", world.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(world.translator.calls_with(ASKS), 1);

    // Resolved: the customer is asked for a rating, in Russian.
    let sent_before = world.sent_to_customer().len();
    assert_eq!(world.post(&wei, &format!("/console/tickets/{ticket}/resolve"), &[]).await.0, 303);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while world.sent_to_customer().len() <= sent_before {
        assert!(tokio::time::Instant::now() < deadline, "no rating question");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = world.sent_to_customer().pop().unwrap();
    assert!(last.chars().any(|c| ('а'..='я').contains(&c)), "the bot speaks Russian to her: {last}");
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_going_down_mid_conversation_shows_originals_with_a_note_and_loses_nothing() {
    let world = World::start("1").await;
    world.translator.teach("ru", "zh", ASKS, ASKS_ZH);
    world.agent("wei", Role::Agent, Lang::Zh).await;
    let ticket = world.ticket_with_a_russian_customer().await;
    let wei = world.sign_in("wei").await;
    assert!(world.page(&wei, &format!("/console/tickets/{ticket}")).await.contains(ASKS_ZH));
    assert_eq!(world.post(&wei, &format!("/console/tickets/{ticket}/claim"), &[]).await.0, 303);

    // The provider goes down; the customer writes again.
    world.translator.set_down(true);
    let later = "Когда придут деньги?";
    world.customer_writes(later).await;
    let conversation = world.store().ticket(ticket).await.unwrap().unwrap().ticket.conversation_id;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !world
        .store()
        .transcript(conversation)
        .await
        .unwrap()
        .iter()
        .any(|entry| entry.text.as_deref() == Some(later))
    {
        assert!(tokio::time::Instant::now() < deadline, "the message was stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let page = world.page(&wei, &format!("/console/tickets/{ticket}")).await;
    assert!(
        page.contains(&format!(
            "<p class=\"text\">{}</p>\n      <p class=\"translation-note\">翻译暂不可用",
            escaped(later)
        )),
        "the original with a visible note"
    );
    assert!(page.contains(ASKS_ZH), "what was translated before is still shown, from the store");
    // Writing needs the provider too: the preview says so and offers the text to rewrite or send.
    let (_, preview) =
        world.post(&wei, &format!("/console/tickets/{ticket}/preview"), &[("text", ANSWER_ZH)]).await;
    assert!(preview.contains("id=\"preview-unavailable\""));
    assert!(preview.contains(&format!(">{}</textarea>", escaped(ANSWER_ZH))));
    // Wei writes the Russian herself, and it goes.
    let own = "Деньги придут завтра.";
    world
        .post(&wei, &format!("/console/tickets/{ticket}/reply"), &[("original", ANSWER_ZH), ("text", own)])
        .await;
    world.wait_for_message_containing(own).await;

    // Back up (after its rest), the missing translation is made and kept; nothing was lost.
    world.translator.set_down(false);
    tokio::time::sleep(Duration::from_millis(6_300)).await;
    let page = world.page(&wei, &format!("/console/tickets/{ticket}")).await;
    assert!(page.contains(&format!("[ru→zh] {later}")), "translated now that it is back");
    assert_eq!(world.store().translations(conversation, Lang::Zh).await.unwrap().len(), 2);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canned_reply_with_a_persons_translation_skips_the_provider_and_erasure_takes_the_translations() {
    let world = World::start("5").await;
    world.translator.teach("ru", "zh", ASKS, ASKS_ZH);
    world.agent("wei", Role::Agent, Lang::Zh).await;
    let store = world.store();
    let en = store
        .create_canned_reply(Lang::En, "Refund", "Your refund is on its way.", None, 0)
        .await
        .unwrap()
        .unwrap();
    let zh_body = "退款已经在路上了，三个工作日内到账。";
    let ru_body = "Деньги уже возвращаются: они поступят в течение трёх рабочих дней.";
    store.create_canned_reply(Lang::Zh, "退款", zh_body, Some(en), 0).await.unwrap().unwrap();
    store.create_canned_reply(Lang::Ru, "Возврат", ru_body, Some(en), 0).await.unwrap().unwrap();
    let ticket = world.ticket_with_a_russian_customer().await;
    let wei = world.sign_in("wei").await;
    assert_eq!(world.post(&wei, &format!("/console/tickets/{ticket}/claim"), &[]).await.0, 303);

    // The picker offers Wei the Chinese version; choosing it and asking for the preview brings
    // the Russian version a person wrote, and the provider is not asked.
    let page = world.page(&wei, &format!("/console/tickets/{ticket}")).await;
    assert!(page.contains(&format!("<option value=\"{}\">退款</option>", escaped(zh_body))), "{page}");
    let (_, preview) =
        world.post(&wei, &format!("/console/tickets/{ticket}/preview"), &[("text", zh_body)]).await;
    assert!(preview.contains("id=\"preview-human\""));
    assert!(preview.contains(&format!(">{}</textarea>", escaped(ru_body))));
    world
        .post(&wei, &format!("/console/tickets/{ticket}/reply"), &[("original", zh_body), ("text", ru_body)])
        .await;
    world.wait_for_message_containing(ru_body).await;
    assert_eq!(world.translator.calls_with(zh_body), 0, "no machine translation for a canned reply");
    assert_eq!(world.translator.calls().len(), 1, "only the customer's message was translated");

    // The API's `translate: true` does the same.
    let agent = store.agent_by_name("wei").await.unwrap().unwrap();
    let token =
        switchboard::console::sessions::create_api_token(&**store, "crm", agent.id, 0, None).await.unwrap();
    let answer: Value = world
        .http
        .post(format!("{}/api/tickets/{ticket}/reply", world.base))
        .bearer_auth(&token)
        .json(&json!({ "text": zh_body, "translate": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["sent"], ru_body);
    assert_eq!(world.translator.calls().len(), 1);

    // Erasure takes the message and its stored translation, from the table and the file.
    assert_eq!(world.db.scalar("SELECT COUNT(*) FROM message_translations").await, 1);
    let report = switchboard::privacy::erase_contact(
        &world.running.app.engine,
        &world.running.app.media,
        "telegram",
        &ANNA.to_string(),
    )
    .await
    .unwrap()
    .expect("the customer is known");
    assert!(report.rows.messages > 0);
    assert_eq!(world.db.scalar("SELECT COUNT(*) FROM message_translations").await, 0);
    let path = world.db.url.strip_prefix("sqlite://").unwrap().to_owned();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    assert!(
        !bytes.windows(ASKS_ZH.len()).any(|window| window == ASKS_ZH.as_bytes()),
        "the translation is not readable in the files"
    );
    world.finish().await;
}
