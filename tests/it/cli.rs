//! The `switchboard` binary as a person uses it: scripted terminal chats, the tickets CLI, and
//! configuration errors. Each test gets its own SQLite file in a temporary folder.

use serde_json::Value;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn switchboard(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SWITCHBOARD_DATABASE_URL", format!("sqlite://{}", dir.join("support.db").display()))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    // A command that refuses its arguments exits without reading: a closed pipe here is its
    // answer, which the output then shows.
    if let Err(error) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "writing the script: {error}");
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A real 2x1 PNG.
fn write_png(path: &Path) {
    std::fs::write(path, crate::support::images::png(2, 1, 0)).unwrap();
}

#[test]
fn a_scripted_order_problem_ends_in_a_ticket_with_its_photo() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("broken-mug.png");
    write_png(&photo);

    // First run: open the menu, choose "order" by its number, give the order ID.
    let first =
        stdout(&switchboard(dir.path(), &["chat", "--user", "ann"], "/start\n1\n12345678-0001\n", &[]));
    assert!(first.contains("[1] Problem with an order"), "{first}");
    assert!(first.contains("Got it: order 12345678-0001."), "{first}");
    assert!(first.contains("Please send a photo"), "{first}");

    // Second run with the same user continues where the first one stopped.
    let script = format!("/photo {}\n1\nThe handle came off.\n", photo.display());
    let second = stdout(&switchboard(dir.path(), &["chat", "--user", "ann"], &script, &[]));
    assert!(second.contains("Photo received") || second.contains("photos received"), "{second}");
    assert!(second.contains("[1] Done"), "{second}");
    assert!(second.contains("passed your request to our team"), "{second}");

    let list: Value =
        serde_json::from_str(&stdout(&switchboard(dir.path(), &["tickets", "list", "--json"], "", &[])))
            .unwrap();
    let tickets = list.as_array().expect("a JSON array");
    assert_eq!(tickets.len(), 1);
    let ticket = &tickets[0];
    assert_eq!(ticket["status"], "queued");
    assert_eq!(ticket["issue_type"], "order");
    assert_eq!(ticket["order_id"], "12345678-0001");
    assert_eq!(ticket["priority"], "normal");
    assert_eq!(ticket["language"], "en");
    assert_eq!(ticket["description"], "The handle came off.");
    assert_eq!(ticket["attachments"][0]["content_type"], "image/png");
    assert_eq!(ticket["attachments"][0]["sha256"].as_str().unwrap().len(), 64);
    assert!(ticket["rating"].is_null());
    assert!(ticket["created_at"].is_string());

    let id = ticket["id"].as_i64().unwrap().to_string();
    let shown: Value =
        serde_json::from_str(&stdout(&switchboard(dir.path(), &["tickets", "show", &id, "--json"], "", &[])))
            .unwrap();
    let messages = shown["messages"].as_array().expect("a transcript");
    let customer: Vec<&str> =
        messages.iter().filter(|m| m["author"] == "customer").filter_map(|m| m["text"].as_str()).collect();
    assert!(
        customer.contains(&"12345678-0001") && customer.contains(&"The handle came off."),
        "{customer:?}"
    );
    let bot: Vec<&str> =
        messages.iter().filter(|m| m["author"] == "bot").filter_map(|m| m["text"].as_str()).collect();
    // One row for the turn, its paragraphs as the customer saw them.
    assert!(
        bot.iter().any(|text| text.starts_with("Got it: order 12345678-0001.\n\nPlease send a photo")),
        "bot replies read as the customer saw them: {bot:?}"
    );
    assert!(messages.iter().all(|m| m["at"].is_string()));

    let queued =
        stdout(&switchboard(dir.path(), &["tickets", "list", "--status", "resolved", "--json"], "", &[]));
    assert_eq!(serde_json::from_str::<Value>(&queued).unwrap(), Value::Array(vec![]));
    let human = stdout(&switchboard(dir.path(), &["tickets", "list"], "", &[]));
    assert!(human.contains("12345678-0001"), "{human}");
}

#[test]
fn chat_speaks_the_language_asked_for_and_answers_faq_questions() {
    let dir = tempfile::tempdir().unwrap();
    let russian =
        stdout(&switchboard(dir.path(), &["chat", "--lang", "ru-RU", "--user", "boris"], "/start\n", &[]));
    assert!(russian.chars().any(|c| ('а'..='я').contains(&c)), "{russian}");
    let chinese = stdout(&switchboard(dir.path(), &["chat", "--user", "li"], "我忘记密码了，怎么办\n", &[]));
    assert!(chinese.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{chinese}");
}

#[test]
fn a_missing_ticket_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = switchboard(dir.path(), &["tickets", "show", "999", "--json"], "", &[]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "nothing but JSON ever goes to stdout with --json");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no ticket 999"));
}

#[test]
fn bad_configuration_is_one_line_naming_the_variable_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    for (variable, value) in [
        ("SWITCHBOARD_BIND", "everywhere"),
        ("SWITCHBOARD_LOG_FORMAT", "xml"),
        ("SWITCHBOARD_ORDER_ID_PATTERN", "(("),
        ("SWITCHBOARD_TELEGRAM_TOKEN", "123"),
    ] {
        let output = switchboard(dir.path(), &["tickets", "list"], "", &[(variable, value)]);
        assert_eq!(output.status.code(), Some(2), "{variable}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(variable), "{stderr}");
    }
}

#[test]
fn tickets_show_prints_what_customers_wrote_without_obeying_its_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("mug.png");
    write_png(&photo);
    let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[31mThe handle\u{9b}0m came off \u{202e}gnp.exe";
    let script = format!("/start\n1\n12345678-0001\n/photo {}\n1\n{hostile}\n", photo.display());
    stdout(&switchboard(dir.path(), &["chat", "--user", "ann"], &script, &[]));

    let shown = stdout(&switchboard(dir.path(), &["tickets", "show", "1"], "", &[]));
    assert!(!shown.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}']), "{shown:?}");
    assert!(
        shown.contains("description: \\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{1b}[31mThe handle\\u{9b}0m came off \\u{202e}gnp.exe"),
        "{shown}"
    );
    let listed = stdout(&switchboard(dir.path(), &["tickets", "list"], "", &[]));
    assert!(!listed.contains('\u{1b}') && listed.contains("\\u{1b}[31mThe handle"), "{listed}");
    let json: Value =
        serde_json::from_str(&stdout(&switchboard(dir.path(), &["tickets", "show", "1", "--json"], "", &[])))
            .unwrap();
    assert_eq!(json["description"], hostile, "the JSON keeps the text exactly, escaped by JSON");
}

#[test]
fn a_dotenv_file_is_read_from_the_working_folder_only() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("nested");
    std::fs::create_dir(&nested).unwrap();
    std::fs::write(dir.path().join(".env"), "SWITCHBOARD_LOG_FORMAT=xml\n").unwrap();
    let below = switchboard(&nested, &["tickets", "list"], "", &[]);
    assert!(stdout(&below).contains("No tickets."), "a parent folder's .env is not read");
    let here = switchboard(dir.path(), &["tickets", "list"], "", &[]);
    assert_eq!(here.status.code(), Some(2), "the working folder's .env is");
    assert!(String::from_utf8_lossy(&here.stderr).contains("SWITCHBOARD_LOG_FORMAT"));
}

#[test]
fn a_database_password_never_reaches_the_output() {
    let dir = tempfile::tempdir().unwrap();
    // The port is no number: opening fails at once, and the error names the database.
    let url =
        "postgres://app:Hunter2InTheUser@127.0.0.1:port/support?sslmode=disable&password=Hunter2InTheQuery";
    for args in [&["migrate"][..], &["tickets", "list"], &["migrate", "--database-url", url]] {
        let output = switchboard(dir.path(), args, "", &[("SWITCHBOARD_DATABASE_URL", url)]);
        assert!(!output.status.success(), "{args:?}");
        let printed =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(printed.contains("127.0.0.1:port/support"), "the database is named: {printed}");
        assert!(!printed.contains("Hunter2"), "{args:?}: {printed}");
    }
}

#[test]
fn webhook_secrets_shorter_than_16_characters_are_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let telegram = [
        ("SWITCHBOARD_TELEGRAM_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123"),
        ("SWITCHBOARD_TELEGRAM_WEBHOOK_URL", "https://support.example.org/webhooks/telegram"),
        ("SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET", "only-15-chars-x"),
    ];
    let vk = [
        ("SWITCHBOARD_VK_TOKEN", "vk1.a.token"),
        ("SWITCHBOARD_VK_GROUP_ID", "1"),
        ("SWITCHBOARD_VK_MODE", "callback"),
        ("SWITCHBOARD_VK_CONFIRMATION", "c0ffee"),
        ("SWITCHBOARD_VK_SECRET", "only-15-chars-x"),
    ];
    for (env, variable) in
        [(&telegram[..], "SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET"), (&vk[..], "SWITCHBOARD_VK_SECRET")]
    {
        let output = switchboard(dir.path(), &["tickets", "list"], "", env);
        assert_eq!(output.status.code(), Some(2), "{variable}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(variable) && stderr.contains("16"), "{stderr}");
        assert!(!stderr.contains("only-15-chars-x"), "the secret stays out of the message: {stderr}");
    }
}

#[test]
fn migrate_and_locales_check_succeed() {
    let dir = tempfile::tempdir().unwrap();
    assert!(stdout(&switchboard(dir.path(), &["migrate"], "", &[])).contains("Migrations applied"));
    assert!(dir.path().join("support.db").exists());
    assert!(stdout(&switchboard(dir.path(), &["locales", "check"], "", &[])).contains("OK"));
}

fn only_ticket_id(dir: &Path) -> i64 {
    let list: Value =
        serde_json::from_str(&stdout(&switchboard(dir, &["tickets", "list", "--json"], "", &[]))).unwrap();
    let tickets = list.as_array().expect("a JSON array");
    assert_eq!(tickets.len(), 1, "{list}");
    tickets[0]["id"].as_i64().unwrap()
}

#[test]
fn a_terminal_chat_shows_only_its_own_users_replies_and_keeps_the_rest_for_their_next_run() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&switchboard(dir.path(), &["chat", "--user", "ivan"], "/agent\n", &[]));
    let ticket = only_ticket_id(dir.path());

    // An agent claims ivan's ticket and answers while no chat of ivan's runs.
    let url = format!("sqlite://{}", dir.path().join("support.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store =
            switchboard::store::connect(&url, &switchboard::store::ConnectOptions::default()).await.unwrap();
        let engine = crate::support::engine_fixtures::start_engine(&store);
        engine.claim(ticket, "olga").await.unwrap();
        engine
            .agent_reply(
                ticket,
                &switchboard::core::handoff::Actor::new("olga", false),
                "Your parcel leaves the warehouse today.",
                Vec::new(),
            )
            .await
            .unwrap();
        engine.shutdown().await;
        store.close().await;
    });

    let kate =
        stdout(&switchboard(dir.path(), &["chat", "--user", "kate"], "how long does delivery take\n", &[]));
    assert!(!kate.contains("parcel leaves"), "kate sees ivan's reply: {kate}");
    assert!(!kate.contains("olga"), "kate sees ivan's agent: {kate}");
    assert!(kate.to_lowercase().contains("deliver"), "kate gets her own answer: {kate}");

    let ivan = stdout(&switchboard(dir.path(), &["chat", "--user", "ivan"], "", &[]));
    assert!(ivan.contains("Support: Your parcel leaves the warehouse today."), "{ivan}");
    assert!(!ivan.contains("olga"), "the login stays private: {ivan}");
    let joined = ivan.find("joined").expect("the agent's arrival is shown");
    assert!(joined < ivan.find("parcel leaves").unwrap(), "in the order they were written: {ivan}");

    let dead: Value = serde_json::from_str(&stdout(&switchboard(
        dir.path(),
        &["tickets", "dead-letters", "--json"],
        "",
        &[],
    )))
    .unwrap();
    assert_eq!(dead, Value::Array(vec![]), "no reply is given up on");
}

#[test]
fn a_continued_chat_starts_with_the_last_question_and_its_numbers_press_its_buttons() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("broken-mug.png");
    write_png(&photo);
    let first = format!("/start\n1\n12345678-0001\n/photo {}\n", photo.display());
    let first = stdout(&switchboard(dir.path(), &["chat", "--user", "ann"], &first, &[]));
    assert!(first.contains("[1] Done"), "{first}");

    let second =
        stdout(&switchboard(dir.path(), &["chat", "--user", "ann"], "1\nThe handle came off.\n", &[]));
    let resumed = second.lines().take(3).collect::<Vec<_>>().join("\n");
    assert!(resumed.contains("Photo received") && resumed.contains("[1] Done"), "{second}");
    assert!(second.contains("describe what happened"), "`1` pressed Done: {second}");
    let list: Value =
        serde_json::from_str(&stdout(&switchboard(dir.path(), &["tickets", "list", "--json"], "", &[])))
            .unwrap();
    assert_eq!(list[0]["description"], "The handle came off.", "{list}");
}

#[test]
fn a_rejected_file_is_not_called_a_received_photo() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("broken-mug.png");
    write_png(&photo);
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "not a picture").unwrap();
    let script = format!("/start\n1\n12345678-0001\n/photo {}\n/photo {}\n", photo.display(), note.display());
    let out = stdout(&switchboard(dir.path(), &["chat", "--user", "ann"], &script, &[]));
    let after = &out[out.find("doesn't look like a picture").expect("the file is refused")..];
    assert!(!after.contains("received"), "{after}");
    assert!(after.contains("one photo so far"), "{after}");
}

#[test]
fn chat_refuses_a_language_it_does_not_speak() {
    let dir = tempfile::tempdir().unwrap();
    let output = switchboard(dir.path(), &["chat", "--lang", "de", "--user", "hans"], "hallo\n", &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("en, ru, zh"), "{stderr}");
}

#[test]
fn a_reader_that_stops_early_is_a_normal_end() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&switchboard(dir.path(), &["chat", "--user", "ann"], "/start\n1\n12345678-0001\n/agent\n", &[]));
    let id = only_ticket_id(dir.path()).to_string();
    // `tickets show 1 | head -0`: the reading end is closed before anything is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["tickets", "show", &id])
        .current_dir(dir.path())
        .env_clear()
        .env("SWITCHBOARD_DATABASE_URL", format!("sqlite://{}", dir.path().join("support.db").display()))
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn tickets_show_prints_pressed_buttons_by_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&switchboard(dir.path(), &["chat", "--user", "ann"], "/start\n1\n12345678-0001\n/agent\n", &[]));
    let id = only_ticket_id(dir.path()).to_string();
    let shown = stdout(&switchboard(dir.path(), &["tickets", "show", &id], "", &[]));
    assert!(!shown.contains("[i:"), "{shown}");
    assert!(shown.contains("Pressed: Problem with an order"), "{shown}");
    let json: Value =
        serde_json::from_str(&stdout(&switchboard(dir.path(), &["tickets", "show", &id, "--json"], "", &[])))
            .unwrap();
    let texts: Vec<&str> =
        json["messages"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
    assert!(texts.contains(&"Pressed: Problem with an order"), "{texts:?}");
}

#[test]
fn an_unreachable_postgresql_is_retried_with_a_line_per_attempt_and_then_named() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SWITCHBOARD_DATABASE_URL", "postgres://shop:secret@127.0.0.1:9/shop"),
        ("SWITCHBOARD_DATABASE_WAIT_SECS", "1"),
    ];
    let output = switchboard(dir.path(), &["tickets", "list"], "", &env);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let retries = stderr.lines().filter(|line| line.contains("trying again")).count();
    assert!(retries >= 1, "a line per attempt: {stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(last.contains("127.0.0.1:9") && last.contains("connection refused"), "{stderr}");
    assert!(!stderr.contains("pool timed out") && !stderr.contains("secret"), "{stderr}");
}

/// `SWITCHBOARD_TEST_POSTGRES` with its user and database replaced.
fn postgres_url(user: &str, database: &str) -> String {
    let admin = std::env::var("SWITCHBOARD_TEST_POSTGRES").expect("SWITCHBOARD_TEST_POSTGRES names a server");
    let rest = admin.split_once("://").expect("a URL").1;
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    let host = host.split_once('/').map_or(host, |(host, _)| host);
    format!("postgres://{user}@{host}/{database}")
}

#[test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
fn an_unknown_postgresql_database_or_user_is_said_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        (
            postgres_url("postgres", "no_such_database_for_switchboard"),
            "does not exist (create it, or fix the URL)",
        ),
        (postgres_url("no_such_user_for_switchboard", "postgres"), "authentication failed"),
    ] {
        let env = [("SWITCHBOARD_DATABASE_URL", url.as_str()), ("SWITCHBOARD_DATABASE_WAIT_SECS", "30")];
        let output = switchboard(dir.path(), &["tickets", "list"], "", &env);
        assert_eq!(output.status.code(), Some(1), "{url}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(!stderr.contains("trying again"), "a lasting failure is not retried: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}
