//! Embeds the files under `locales/` into the binary (see `src/assets.rs`), and tells the
//! integration tests which outside services they may use.
//!
//! We generate a table of `include_str!` calls rather than using a directory-embedding macro:
//! `include_str!` makes rustc track each file, and `rerun-if-changed` on the folder catches new
//! and deleted files, so a translator's edit always reaches the next build. (`include_dir` 0.7
//! only tracks changes on nightly.)

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    embed_locales();
    declare_test_services();
}

/// The services some integration tests need, each with the variable that says it is there and
/// the cfg that variable turns on. A test that needs one is marked
/// `#[cfg_attr(not(<cfg>), ignore = "needs ...")]`, so without the service it is reported as
/// ignored with its reason instead of passing without having run (`.ci/run` fails on those).
///
/// Only the variables decide, never a look at the machine: `rerun-if-env-changed` then reruns
/// this script exactly when one of them changes, where probing `PATH` for Chromium would either
/// miss a later install or (with `rerun-if-changed` on a path that does not exist) rebuild on
/// every run.
const TEST_SERVICES: &[(&str, &str)] = &[
    // A PostgreSQL URL the tests may create and drop databases on.
    ("switchboard_test_postgres", "SWITCHBOARD_TEST_POSTGRES"),
    // Any non-empty value: Chromium and chromedriver are installed and on PATH.
    ("switchboard_test_browser", "SWITCHBOARD_TEST_BROWSER"),
    // Any non-empty value: Dovecot (`dovecot-imapd`) and Debian's `python3-aiosmtpd` are
    // installed, for the email tests' real IMAP and SMTP servers.
    ("switchboard_test_mail", "SWITCHBOARD_TEST_MAIL"),
];

fn declare_test_services() {
    for (cfg, variable) in TEST_SERVICES {
        println!("cargo:rustc-check-cfg=cfg({cfg})");
        println!("cargo:rerun-if-env-changed={variable}");
        if env::var_os(variable).is_some_and(|value| !value.is_empty()) {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
}

fn embed_locales() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let locales = manifest_dir.join("locales");
    println!("cargo:rerun-if-changed=locales");

    let mut table = String::from(
        "/// `(language folder, file name, contents)` for every file under `locales/`, sorted.\n\
         pub(crate) static EMBEDDED_LOCALE_FILES: &[(&str, &str, &str)] = &[\n",
    );
    for (lang, name, path) in locale_files(&locales) {
        let path = path.to_str().expect("locale paths are UTF-8");
        writeln!(table, "    ({lang:?}, {name:?}, include_str!({path:?})),").expect("writing to a String");
    }
    table.push_str("];\n");

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_locales.rs");
    fs::write(&out, table).unwrap_or_else(|err| panic!("cannot write {}: {err}", out.display()));
}

/// The `.ftl` and `.toml` files one level below each visible language folder (the same rule as
/// `assets::LocaleSource::Dir`).
fn locale_files(locales: &Path) -> Vec<(String, String, PathBuf)> {
    let mut files = Vec::new();
    // A binary without its texts would only show message keys, so a missing folder (say, a
    // Docker build that forgot to copy it) fails the build instead.
    let languages = fs::read_dir(locales)
        .unwrap_or_else(|err| panic!("cannot read {} to embed the texts: {err}", locales.display()));
    for language in languages.flatten() {
        let lang = language.file_name().to_string_lossy().into_owned();
        if lang.starts_with('.') || !language.path().is_dir() {
            continue;
        }
        let Ok(entries) = fs::read_dir(language.path()) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let wanted = name.ends_with(".ftl") || name.ends_with(".toml");
            if wanted && !name.starts_with('.') && entry.path().is_file() {
                files.push((lang.clone(), name, entry.path()));
            }
        }
    }
    files.sort();
    files
}
