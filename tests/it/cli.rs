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
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
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
    assert!(
        bot.contains(&"Got it: order 12345678-0001."),
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
    for args in [&["migrate"][..], &["tickets", "list"], &["--database-url", url, "migrate"]] {
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
