//! Rules from ARCHITECTURE.md that a test can keep true.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Crate names that `core` may never mention: it is std + serde only.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "tokio",
    "sqlx",
    "reqwest",
    "axum",
    "teloxide",
    "fluent",
    "fluent_bundle",
    "tracing",
    "chrono",
    "uuid",
    "rand",
    "regex",
    "hyper",
    "tower",
    "askama",
    "anyhow",
    "thiserror",
    "toml",
];

#[test]
fn core_uses_only_std_and_serde_and_never_the_clock() {
    for file in rust_files(&src().join("core")) {
        let text = fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for name in FORBIDDEN_IN_CORE {
                let as_path = format!("{name}::");
                assert!(
                    !code.contains(&as_path),
                    "{}:{}: core must not use `{name}`: {line}",
                    file.display(),
                    number + 1
                );
            }
            for clock in ["SystemTime", "Instant::now", "thread_rng", "std::fs", "std::net", "std::env"] {
                assert!(
                    !code.contains(clock),
                    "{}:{}: core must not use {clock}",
                    file.display(),
                    number + 1
                );
            }
        }
    }
}

#[test]
fn only_the_telegram_channel_imports_teloxide() {
    for file in rust_files(&src()) {
        let relative = file.strip_prefix(src()).unwrap().to_string_lossy().into_owned();
        if relative.starts_with("channels/telegram") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        assert!(!text.contains("teloxide::"), "{relative} imports teloxide; only channels/telegram may");
    }
}

#[test]
fn channels_never_touch_the_store() {
    for file in rust_files(&src().join("channels")) {
        let text = fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("crate::store") && !text.contains("sqlx::"),
            "{} reaches into storage; channels talk to the engine through Intake",
            file.display()
        );
    }
}

/// What reads the process environment at run time: `std::env`, `.env` files through dotenvy,
/// and clap's `env` attributes (clap would read the variable itself). `env!` is not among
/// them: it is filled in when the crate is compiled.
const ENVIRONMENT_READS: &[&str] = &["std::env", "env::var", "dotenvy", "env = \""];

#[test]
fn only_config_reads_the_environment() {
    for file in rust_files(&src()) {
        let relative = file.strip_prefix(src()).unwrap().to_string_lossy().into_owned();
        if relative.starts_with("config/") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for read in ENVIRONMENT_READS {
                assert!(
                    !code.contains(read),
                    "{relative}:{}: reads the environment ({read}); only src/config/ may: {line}",
                    number + 1
                );
            }
        }
    }
}

#[test]
fn channels_import_neither_the_console_nor_each_other() {
    let channels = src().join("channels");
    let names: Vec<String> = fs::read_dir(&channels)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        // What channels share, not channels.
        .filter(|path| {
            let shared =
                ["mod.rs", "numbered.rs", "platform_api.rs", "platform_channel.rs", "platform_receiver.rs"];
            path.is_dir() || path.file_name().is_some_and(|name| !shared.iter().any(|s| name == *s))
        })
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 5, "channels found: {names:?}");
    for file in rust_files(&channels) {
        let relative = file.strip_prefix(&channels).unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&file).unwrap();
        assert!(!text.contains("crate::console"), "channels/{relative} imports the console");
        let Some(own) = names
            .iter()
            .find(|name| relative.starts_with(&format!("{name}/")) || relative == format!("{name}.rs"))
        else {
            continue;
        };
        for other in names.iter().filter(|name| *name != own) {
            for path in [format!("channels::{other}"), format!("super::{other}")] {
                assert!(!text.contains(&path), "channels/{relative} imports the {other} channel ({path})");
            }
        }
    }
}

#[test]
fn configuration_imports_no_channel_and_not_the_console() {
    let leaves = [src().join("secret.rs"), src().join("business_hours.rs")];
    for file in rust_files(&src().join("config")).into_iter().chain(leaves) {
        let text = fs::read_to_string(&file).unwrap();
        for part in ["crate::channels", "crate::console", "crate::engine", "crate::app"] {
            assert!(!text.contains(part), "{} imports {part}; configuration is a leaf", file.display());
        }
    }
}

/// The code of a file without its comments, line by line (numbered from 1).
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    let text = fs::read_to_string(file).unwrap();
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.split("//").next().unwrap_or("").to_owned()))
        .collect()
}

#[test]
fn only_the_store_uses_sqlx() {
    let store = src().join("store");
    for file in rust_files(&src()) {
        if file.starts_with(&store) {
            continue;
        }
        for (number, code) in code_lines(&file) {
            assert!(
                !code.contains("sqlx::") && !code.contains("use sqlx"),
                "{}:{number}: SQL belongs in src/store/, behind the Store traits: {code}",
                file.display()
            );
        }
    }
}

#[test]
fn the_store_imports_neither_channels_nor_the_console() {
    for file in rust_files(&src().join("store")) {
        for (number, code) in code_lines(&file) {
            assert!(
                !code.contains("crate::channels") && !code.contains("crate::console"),
                "{}:{number}: the store knows no channel and no console: {code}",
                file.display()
            );
        }
    }
}

/// On PostgreSQL the message log's and the outbox's references to their conversation and
/// contact are not checked by the server (migration 20261207000300, for the group commit's
/// speed). That is safe only while nothing deletes a conversation or a contact: erasure and
/// retention clear what a contact said and who they are, but keep the rows themselves.
#[test]
fn nothing_deletes_a_conversation_or_a_contact() {
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let sql_files = ["postgres", "sqlite"].into_iter().flat_map(|dialect| {
        fs::read_dir(migrations.join(dialect)).unwrap().map(|entry| entry.unwrap().path()).collect::<Vec<_>>()
    });
    for file in rust_files(&src()).into_iter().chain(sql_files) {
        let text = fs::read_to_string(&file).unwrap().to_ascii_uppercase();
        let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for table in ["CONTACTS", "CONVERSATIONS"] {
            assert!(
                !squeezed.contains(&format!("DELETE FROM {table}")),
                "{} deletes from {table}; the log and outbox would be left pointing at nothing",
                file.display()
            );
        }
    }
}
