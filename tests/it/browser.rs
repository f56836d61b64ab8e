//! The whole handoff in headless Chromium: a customer in the web chat widget, an agent in
//! the console, the real app router on 127.0.0.1 with a fresh SQLite file. Screenshots of
//! the key pages go to `target/screenshots/`.

use crate::support::browser::{Browser, Driver, solid_png};
use crate::support::web_app::{AGENT_PASSWORD, TestApp};
use switchboard::console::Role;
use switchboard::core::handoff::TicketStatus;

const SCRIPT: &str = "<script>alert(1)</script>";

/// The last bot bubble in the widget has a button for `action`.
fn last_bot_button(action: &str) -> String {
    format!(
        "(function(){{var m=document.querySelectorAll('#sb-log .sb-msg-bot');var l=m[m.length-1];\
         return l && l.querySelector('button[data-action=\"{action}\"]:not([disabled])');}})()"
    )
}

/// Whether the widget's last bot message ends with `text` (a JavaScript string literal's
/// contents, so `\n` is a line break).
fn last_bot_text_ends_with(text: &str) -> String {
    format!(
        "(function(){{var m=document.querySelectorAll('#sb-log .sb-msg-bot .sb-text');var l=m[m.length-1];\
         return l && l.textContent.endsWith(\"{text}\");}})()"
    )
}

/// Signs `name` in to the console through its login form.
async fn sign_in(agent: &Browser, base: &str, name: &str) {
    agent.goto(&format!("{base}/console")).await;
    agent.type_into("#name", name).await;
    agent.type_into("#password", AGENT_PASSWORD).await;
    agent.click("#sign-in").await;
}

/// JavaScript: whether any element matching `css` shows exactly `text`.
fn shows_text(css: &str, text: &str) -> String {
    format!(
        "Array.prototype.some.call(document.querySelectorAll('{css}'), function(p){{return p.textContent === {};}})",
        serde_json::to_string(text).unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(switchboard_test_browser),
    ignore = "needs Chromium: install chromium and chromium-driver, set SWITCHBOARD_TEST_BROWSER=1"
)]
async fn a_customer_is_helped_by_an_agent_from_widget_to_rating() {
    let driver = Driver::start().await;
    let app = TestApp::start().await;
    app.add_agent("anna", Role::Agent).await;
    let base = app.serve().await;
    let photo_dir = tempfile::tempdir().unwrap();
    let photo_path = photo_dir.path().join("broken-mug.png");
    std::fs::write(&photo_path, solid_png(96, 64, [200, 60, 40])).unwrap();

    // The customer opens the chat on the store page and walks through an order problem.
    let customer = driver.browser().await;
    customer.goto(&format!("{base}/")).await;
    customer.click("#sb-launcher").await;
    // The widget opens with the greeting and the topics.
    customer.wait_until("the menu", &last_bot_button("i:order")).await;
    customer.screenshot("01-widget-menu").await;
    customer.click("#sb-log .sb-msg-bot:last-child button[data-action=\"i:order\"]").await;
    customer
        .wait_until(
            "the order id question",
            "document.querySelectorAll('#sb-log .sb-msg-bot:not(.sb-welcome)').length >= 1",
        )
        .await;
    customer.type_into("#sb-input", "AB-12345\n").await;
    // "Got it" and the photo request are one message: its last paragraph asks for the photo.
    customer
        .wait_until(
            "the photo question",
            &last_bot_text_ends_with(
                "\\n\\nPlease send a photo of the item and of the problem. You can send several.",
            ),
        )
        .await;
    customer.wait_for("#sb-photo").await.send_keys(&photo_path.display().to_string()).await.unwrap();
    customer
        .wait_until("the photo echo", "document.querySelector('#sb-log .sb-msg-customer img.sb-photo')")
        .await;
    customer.wait_until("the done button", &last_bot_button("done")).await;
    customer.click("#sb-log .sb-msg-bot:last-child button[data-action=\"done\"]").await;
    customer
        .wait_until(
            "the description question",
            "document.querySelector('#sb-log .sb-msg-bot:last-child .sb-text').textContent.includes('describe')",
        )
        .await;
    customer.type_into("#sb-input", "The mug arrived broken.\n").await;
    customer
        .wait_until("an answer to the description", "!document.querySelector('#sb-log .sb-sending')")
        .await;
    customer.type_into("#sb-input", "/agent\n").await;
    customer.type_into("#sb-input", &format!("{SCRIPT}\n")).await;
    let mut ticket = None;
    for _ in 0..600 {
        let queued = app
            .store
            .list_tickets(Some(TicketStatus::Queued), switchboard::store::Page::first(100_000))
            .await
            .unwrap();
        if let Some(found) = queued.first().filter(|t| t.last_customer_message.as_deref() == Some(SCRIPT)) {
            ticket = Some(found.id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ticket = ticket.expect("the request reached the queue with the customer's last message");
    customer.screenshot("02-widget-queued").await;

    // The agent signs in, sees the queue, claims the ticket and sees the photo.
    let agent = driver.browser().await;
    sign_in(&agent, &base, "anna").await;
    agent.wait_for(&format!("button.claim[data-ticket=\"{ticket}\"]")).await;
    agent.screenshot("03-console-queue").await;
    agent.click(&format!("button.claim[data-ticket=\"{ticket}\"]")).await;
    agent.wait_for("#notice").await;
    agent
        .wait_until("the photo thumbnail loaded", "(function(){var i=document.querySelector('img.thumb');return i && i.complete && i.naturalWidth === 96;})()")
        .await;
    let shown_as_text = agent.value(&shows_text(".msg-customer .text", SCRIPT)).await;
    assert_eq!(shown_as_text, serde_json::Value::Bool(true), "the customer's markup is shown as text");
    let injected = agent.value("document.querySelectorAll('#transcript script').length").await;
    assert_eq!(injected, serde_json::json!(0), "and never becomes an element");
    assert!(agent.client.get_alert_text().await.is_err(), "no alert ran");
    agent.screenshot("04-console-ticket").await;

    // The agent replies; the customer sees it live.
    let reply = "Hello, this is Anna. I am sorry about the mug; a replacement is on its way.";
    agent.type_into("#reply-text", reply).await;
    agent.click("#send-reply").await;
    agent.wait_for("#notice").await;
    customer
        .wait_until("the agent's reply in the widget", &shows_text("#sb-log .sb-msg-agent .sb-text", reply))
        .await;
    customer.screenshot("05-widget-agent-reply").await;

    // The agent resolves; the customer is asked for a rating and gives 5.
    agent.click("#resolve").await;
    agent.wait_until("resolved", "document.getElementById('ticket-status').textContent === 'resolved'").await;
    customer.wait_until("the rating question", &last_bot_button("r:5")).await;
    customer.click("#sb-log .sb-msg-bot:last-child button[data-action=\"r:5\"]").await;
    let mut rating = None;
    for _ in 0..600 {
        rating = app.store.ticket(ticket).await.unwrap().and_then(|detail| detail.ticket.rating);
        if rating.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rating, Some(5));
    customer
        .wait_until(
            "thanks for the rating",
            &last_bot_text_ends_with("Would you like to add a comment? Type it, or press \\\"Skip\\\"."),
        )
        .await;
    customer.screenshot("06-widget-rated").await;
    agent.goto(&format!("{base}/console/tickets/{ticket}")).await;
    agent.screenshot("07-console-resolved").await;
    agent.goto(&format!("{base}/console/dashboard")).await;
    agent.wait_for("#fig-tickets").await;
    agent.screenshot("08-console-dashboard").await;

    customer.close().await;
    agent.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(switchboard_test_browser),
    ignore = "needs Chromium: install chromium and chromium-driver, set SWITCHBOARD_TEST_BROWSER=1"
)]
async fn a_new_visitor_is_greeted_with_the_topics_in_their_language_and_costs_no_row_until_acting() {
    let driver = Driver::start().await;
    let app = TestApp::start().await;
    let base = app.serve().await;
    let conversations = "SELECT count(*) FROM conversations";

    let customer = driver.browser_speaking("ru-RU").await;
    customer.goto(&format!("{base}/")).await;
    let label = customer.value("document.getElementById('sb-launcher').textContent").await;
    assert_eq!(label, serde_json::json!("Написать нам"), "the launcher speaks the visitor's language");
    customer.click("#sb-launcher").await;
    customer
        .wait_until(
            "the greeting and the topics, one message",
            "document.querySelectorAll('#sb-log .sb-welcome').length === 1",
        )
        .await;
    customer.wait_until("a topic button", &last_bot_button("i:order")).await;
    let title = customer.value("document.getElementById('sb-title').textContent").await;
    assert_eq!(title, serde_json::json!("Чат поддержки"));
    customer.screenshot("09-widget-welcome-ru").await;
    assert_eq!(app.db_file.scalar(conversations).await, 0, "an idle page view stores nothing");

    // Reopening the page greets again, still without a row.
    customer.goto(&format!("{base}/")).await;
    customer.click("#sb-launcher").await;
    customer
        .wait_until("the greeting again", "document.querySelectorAll('#sb-log .sb-welcome').length === 1")
        .await;
    assert_eq!(app.db_file.scalar(conversations).await, 0);

    // Choosing a topic starts the conversation.
    customer.click("#sb-log .sb-msg-bot:last-child button[data-action=\"i:order\"]").await;
    customer
        .wait_until(
            "the order id question",
            "document.querySelectorAll('#sb-log .sb-msg-bot:not(.sb-welcome)').length >= 1",
        )
        .await;
    assert_eq!(app.db_file.scalar(conversations).await, 1);
    // Once there is a conversation, the log shows it and the welcome is not added again.
    customer.goto(&format!("{base}/")).await;
    customer.click("#sb-launcher").await;
    customer.wait_until("the history", "document.querySelectorAll('#sb-log .sb-msg-bot').length >= 1").await;
    let welcomes = customer.value("document.querySelectorAll('#sb-log .sb-welcome').length").await;
    assert_eq!(welcomes, serde_json::json!(0));

    customer.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(switchboard_test_browser),
    ignore = "needs Chromium: install chromium and chromium-driver, set SWITCHBOARD_TEST_BROWSER=1"
)]
async fn the_transcript_opens_at_the_newest_message_and_replies_and_notes_keep_the_page() {
    use switchboard::channels::{InboundEvent, InboundKind, Intake};
    use switchboard::core::dialog::Input;
    let driver = Driver::start().await;
    let app = TestApp::start().await;
    app.add_agent("anna", Role::Agent).await;
    let base = app.serve().await;
    let say = |number: usize, text: String| InboundEvent {
        channel: "telegram",
        event_id: format!("ann-{number}"),
        external_id: "ann".to_owned(),
        language_hint: Some("en".to_owned()),
        display_name: Some("Ann".to_owned()),
        contact_data: None,
        kind: InboundKind::Input(Input::Text { text }),
    };
    app.engine.accept(say(0, "/agent".to_owned())).await.unwrap();
    // A long conversation: far more than the transcript box shows at once.
    for number in 1..=40 {
        app.engine.accept(say(number, format!("Message number {number} about my parcel."))).await.unwrap();
    }
    let ticket = app
        .store
        .list_tickets(Some(TicketStatus::Queued), switchboard::store::Page::first(100))
        .await
        .unwrap()[0]
        .id;
    app.engine.claim(ticket, "anna").await.unwrap();

    let agent = driver.browser().await;
    sign_in(&agent, &base, "anna").await;
    agent.wait_for("#queue").await;
    agent.goto(&format!("{base}/console/tickets/{ticket}")).await;
    let at_newest = "(function(){var l=document.getElementById('transcript');\
                     return l.scrollHeight > l.clientHeight + 100 && l.scrollHeight - l.scrollTop - l.clientHeight < 40;})()";
    agent.wait_until("the transcript shows its newest message", at_newest).await;

    // A reply goes out without reloading the page: a marker set on the page survives it.
    agent.value("(window.stillHere = true)").await;
    let reply = "Your parcel is with the courier today.";
    agent.type_into("#reply-text", reply).await;
    agent.click("#send-reply").await;
    agent.wait_until("the reply in the transcript", &shows_text("#transcript .msg-agent .text", reply)).await;
    agent.wait_until("the reply box emptied", "document.getElementById('reply-text').value === ''").await;
    assert_eq!(agent.value("window.stillHere === true").await, serde_json::json!(true), "no reload");
    agent.wait_until("still at the newest message", at_newest).await;

    // A note, the same way.
    agent.type_into("#note-text", "Called the courier: <b>tomorrow</b>.").await;
    agent.click("#add-note").await;
    agent
        .wait_until("the note in the list", &shows_text("#notes p", "Called the courier: <b>tomorrow</b>."))
        .await;
    assert_eq!(agent.value("document.querySelectorAll('#notes b').length").await, serde_json::json!(0));
    assert_eq!(agent.value("window.stillHere === true").await, serde_json::json!(true), "no reload");

    // Reading back stays put when the customer writes again.
    agent.value("(document.getElementById('transcript').scrollTop = 0)").await;
    app.engine.accept(say(41, "Any news?".to_owned())).await.unwrap();
    agent
        .wait_until("the customer's new message", &shows_text("#transcript .msg-customer .text", "Any news?"))
        .await;
    assert_eq!(agent.value("document.getElementById('transcript').scrollTop").await, serde_json::json!(0));
    agent.screenshot("10-console-transcript-newest").await;

    agent.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(switchboard_test_browser),
    ignore = "needs Chromium: install chromium and chromium-driver, set SWITCHBOARD_TEST_BROWSER=1"
)]
async fn the_console_speaks_russian_and_chinese_and_keeps_to_an_agents_languages() {
    use switchboard::channels::Intake;
    let driver = Driver::start().await;
    let app = TestApp::start().await;
    app.add_agent("olga", Role::Agent).await;
    app.add_agent("wei", Role::Agent).await;
    let base = app.serve().await;
    let customers =
        [("ivan", "ru", "Посылка не пришла, заказ 12345678"), ("li", "zh", "包裹还没到，订单号 12345678")];
    let [ivan, li] = queue_telegram_customers(&app, customers).await;

    // A Russian browser: the sign-in page and then the console speak Russian.
    let olga = driver.browser_speaking("ru-RU").await;
    olga.goto(&format!("{base}/console")).await;
    olga.wait_until("a Russian sign-in page", &shows_text("label[for=name]", "Имя оператора")).await;
    sign_in(&olga, &base, "olga").await;
    olga.wait_for(&format!("button.claim[data-ticket=\"{ivan}\"]")).await;
    assert_eq!(olga.value("document.documentElement.lang").await, serde_json::json!("ru"));
    assert_eq!(olga.value(&shows_text("h1", "Очередь")).await, serde_json::json!(true));
    olga.screenshot("11-console-queue-ru").await;
    olga.click(&format!("button.claim[data-ticket=\"{ivan}\"]")).await;
    olga.wait_until("the notice in Russian", &shows_text("#notice", "Обращение теперь ваше.")).await;
    // The live transcript labels new lines in her language too.
    app.engine.accept(telegram_says("ivan", "ru", 2, "Есть новости?")).await.unwrap();
    olga.wait_until("the live line", &shows_text("#transcript .msg-customer .text", "Есть новости?")).await;
    let label = "(function(){var m=document.querySelectorAll('#transcript .msg-customer .who');return m[m.length-1].textContent;})()";
    assert_eq!(olga.value(label).await, serde_json::json!("Клиент"));
    olga.screenshot("12-console-ticket-ru").await;
    olga.close().await;

    // An English browser whose agent picks Chinese and the languages she answers in.
    let wei = driver.browser_speaking("en-US").await;
    sign_in(&wei, &base, "wei").await;
    wei.wait_for("#queue").await;
    wei.goto(&format!("{base}/console/password")).await;
    wei.wait_for("#save-profile").await;
    wei.value("(document.getElementById('console-lang').value = 'zh')").await;
    wei.click("#speaks-zh").await;
    wei.click("#save-profile").await;
    wei.wait_until("the profile saved, in Chinese", &shows_text("#notice", "语言设置已保存。")).await;
    wei.goto(&format!("{base}/console/queue")).await;
    wei.wait_for("#show-my-languages").await;
    wei.click("#show-my-languages").await;
    wei.wait_for("#show-all-languages").await;
    assert_eq!(wei.value("location.search").await, serde_json::json!("?langs=mine"));
    let claims = "document.querySelectorAll('button.claim').length";
    assert_eq!(wei.value(claims).await, serde_json::json!(1), "only the Chinese customer's ticket");
    wei.wait_for(&format!("button.claim[data-ticket=\"{li}\"]")).await;
    wei.screenshot("13-console-queue-zh").await;
    wei.click(&format!("button.claim[data-ticket=\"{li}\"]")).await;
    wei.wait_until("the notice in Chinese", &shows_text("#notice", "您已接下这个工单。")).await;
    wei.screenshot("14-console-ticket-zh").await;
    wei.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(switchboard_test_browser),
    ignore = "needs Chromium: install chromium and chromium-driver, set SWITCHBOARD_TEST_BROWSER=1"
)]
async fn agents_read_and_answer_customers_in_their_own_language_through_machine_translation() {
    use crate::support::fake_libretranslate::{FakeLibreTranslate, ScriptedTranslator};
    use switchboard::channels::Intake;
    use switchboard::core::message::Lang;
    let driver = Driver::start().await;
    let provider = FakeLibreTranslate::start(None).await;
    let ivan_says = "Посылка пришла разбитой. Что делать?";
    let li_says = "包裹还没到，订单号 12345678，已经等了两周。";
    let wei_writes = "您好！很抱歉。请发一张包裹的照片。";
    provider.teach("ru", "zh", ivan_says, "包裹到的时候已经摔坏了。怎么办？");
    provider.teach("ru", "zh", "Вот фото, смотрите.", "这是照片，请看。");
    provider.teach("zh", "ru", li_says, "Посылка ещё не пришла, заказ 12345678, жду уже две недели.");
    provider.teach(
        "zh",
        "ru",
        wei_writes,
        "Здравствуйте! Нам очень жаль. Пришлите, пожалуйста, фото посылки.",
    );
    let translator = switchboard::translate::libretranslate::LibreTranslate::new(
        &provider.url,
        None,
        switchboard::translate::glossary::Glossary::default(),
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let translation = switchboard::translate::Translation::new(
        std::sync::Arc::new(translator),
        std::time::Duration::from_secs(5),
    );
    let app = TestApp::start_translating(std::sync::Arc::new(translation)).await;
    for (name, lang) in [("wei", Lang::Zh), ("olga", Lang::Ru)] {
        app.add_agent(name, Role::Agent).await;
        app.store.set_agent_languages(name, Some(lang), &[lang]).await.unwrap();
    }
    let base = app.serve().await;
    let [ivan, li] = queue_telegram_customers(&app, [("ivan", "ru", ivan_says), ("li", "zh", li_says)]).await;

    // Wei reads Chinese only: Ivan's Russian is shown in Chinese, the original one click away.
    let wei = driver.browser_speaking("zh-CN").await;
    sign_in(&wei, &base, "wei").await;
    wei.wait_for("#queue").await;
    wei.goto(&format!("{base}/console/tickets/{ivan}")).await;
    wei.click("#claim").await;
    wei.wait_for("#translation-hint").await;
    wei.wait_until(
        "Ivan in Chinese",
        &shows_text("#transcript .msg-customer > .text", "包裹到的时候已经摔坏了。怎么办？"),
    )
    .await;
    wei.value("document.querySelector('#transcript .msg-customer details.aside').open = true").await;
    // A new message arrives live, translated too.
    app.engine.accept(telegram_says("ivan", "ru", 2, "Вот фото, смотрите.")).await.unwrap();
    wei.wait_until(
        "the live line in Chinese",
        &shows_text("#transcript .msg-customer > .text", "这是照片，请看。"),
    )
    .await;
    wei.screenshot("15-console-translated-zh").await;
    // She writes Chinese; the preview shows the Russian Ivan will get, which she can change.
    wei.type_into("#reply-text", wei_writes).await;
    wei.click("#send-reply").await;
    wei.wait_for("#preview").await;
    let shown = wei.value("document.getElementById('reply-text').value").await;
    assert_eq!(shown, serde_json::json!("Здравствуйте! Нам очень жаль. Пришлите, пожалуйста, фото посылки."));
    wei.value("document.getElementById('preview').scrollIntoView()").await;
    wei.screenshot("16-console-preview-zh").await;
    wei.click("#send-reply").await;
    wei.wait_until("sent", &shows_text("#notice", "回复已发送。")).await;
    wei.close().await;
    let delivered_to_ivan = || {
        let delivered = app.telegram.delivered.lock().unwrap();
        delivered.iter().any(|delivery| format!("{delivery:?}").contains("Пришлите, пожалуйста, фото"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !delivered_to_ivan() {
        assert!(std::time::Instant::now() < deadline, "Ivan got the Russian reply");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Olga reads Russian only: Li's Chinese is shown in Russian.
    let olga = driver.browser_speaking("ru-RU").await;
    sign_in(&olga, &base, "olga").await;
    olga.wait_for("#queue").await;
    olga.goto(&format!("{base}/console/tickets/{li}")).await;
    olga.wait_until(
        "Li in Russian",
        &shows_text(
            "#transcript .msg-customer > .text",
            "Посылка ещё не пришла, заказ 12345678, жду уже две недели.",
        ),
    )
    .await;
    olga.value("document.querySelector('#transcript .msg-customer details.aside').open = true").await;
    olga.screenshot("17-console-translated-ru").await;
    olga.close().await;
    app.stop().await;
}

/// Customer `who`'s `number`th message on Telegram, from an app set to `lang`.
fn telegram_says(who: &str, lang: &str, number: usize, words: &str) -> switchboard::channels::InboundEvent {
    switchboard::channels::InboundEvent {
        channel: "telegram",
        language_hint: Some(lang.to_owned()),
        ..crate::support::engine_fixtures::text(who, &format!("{who}-{number}"), words)
    }
}

/// Each `(who, lang, words)` customer asks for a person and then says `words`; their queued
/// tickets, in the same order.
async fn queue_telegram_customers<const N: usize>(
    app: &TestApp,
    customers: [(&str, &str, &str); N],
) -> [i64; N] {
    use switchboard::channels::Intake;
    for (who, lang, words) in customers {
        for (number, text) in ["/agent", words].into_iter().enumerate() {
            app.engine.accept(telegram_says(who, lang, number, text)).await.unwrap();
        }
    }
    let queued = app
        .store
        .list_tickets(Some(TicketStatus::Queued), switchboard::store::Page::first(10))
        .await
        .unwrap();
    customers.map(|(who, _, _)| {
        queued.iter().find(|ticket| ticket.external_id == who).expect("a queued ticket").id
    })
}
