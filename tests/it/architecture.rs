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
