//! Locale files: embedded in the binary at build time, or read from a directory at run time.
//!
//! The binary must run with nothing beside it, so `build.rs` embeds every `locales/<lang>/*.ftl`
//! and `*.toml`. Operators and translators can point `SWITCHBOARD_LOCALES_DIR` at a folder with
//! the same layout to try new texts without a rebuild; that folder then replaces the embedded
//! files completely, so what is checked is exactly what runs.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/embedded_locales.rs"));

/// The folder name of the reference locale every other locale is compared with.
pub const REFERENCE_LANG: &str = "en";

/// Where locale files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocaleSource {
    /// The files compiled into the binary from the repository's `locales/`.
    Embedded,
    /// A directory with one sub-folder per language, e.g. `locales/ru/dialog.ftl`.
    Dir(PathBuf),
}

/// One locale file with its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocaleFile {
    /// The language folder, e.g. `ru`.
    pub lang: String,
    /// The file name inside the language folder, e.g. `dialog.ftl`.
    pub name: String,
    /// Where the file lives, for messages: `locales/ru/dialog.ftl`.
    pub path_label: String,
    /// The whole file, UTF-8.
    pub contents: String,
}

impl LocaleFile {
    /// Fluent resources (as opposed to `intents.toml` and other data).
    pub fn is_fluent(&self) -> bool {
        self.name.ends_with(".ftl")
    }
}

/// Why the locale files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error("cannot read locale directory {path}: {source}")]
    Dir { path: String, source: io::Error },
    #[error("cannot read locale file {path}: {source}")]
    File { path: String, source: io::Error },
}

impl LocaleSource {
    /// Every locale file, sorted by language and file name.
    pub fn files(&self) -> Result<Vec<LocaleFile>, AssetError> {
        match self {
            LocaleSource::Embedded => Ok(EMBEDDED_LOCALE_FILES
                .iter()
                .map(|(lang, name, contents)| LocaleFile {
                    lang: (*lang).to_owned(),
                    name: (*name).to_owned(),
                    path_label: self.path_label(lang, name),
                    contents: (*contents).to_owned(),
                })
                .collect()),
            LocaleSource::Dir(root) => read_dir_files(self, root),
        }
    }

    /// How a file of this source is named in messages, whether or not it exists
    /// (a missing file is reported under the name it should have).
    pub fn path_label(&self, lang: &str, name: &str) -> String {
        match self {
            LocaleSource::Embedded => format!("locales/{lang}/{name}"),
            LocaleSource::Dir(root) => root.join(lang).join(name).display().to_string(),
        }
    }

    /// How a language folder of this source is named in messages: `locales/ru`.
    pub fn folder_label(&self, lang: &str) -> String {
        match self {
            LocaleSource::Embedded => format!("locales/{lang}"),
            LocaleSource::Dir(root) => root.join(lang).display().to_string(),
        }
    }
}

impl fmt::Display for LocaleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocaleSource::Embedded => f.write_str("embedded locales"),
            LocaleSource::Dir(root) => write!(f, "{}", root.display()),
        }
    }
}

/// Only these files belong to a locale; editor backups and notes beside them are ignored.
fn is_locale_file_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".ftl") || name.ends_with(".toml"))
}

fn read_dir_files(source: &LocaleSource, root: &Path) -> Result<Vec<LocaleFile>, AssetError> {
    let dir_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| AssetError::Dir { path, source }
    };
    let mut files = Vec::new();
    for language in fs::read_dir(root).map_err(dir_error(root))? {
        let language = language.map_err(dir_error(root))?;
        let lang = language.file_name().to_string_lossy().into_owned();
        let language_path = language.path();
        if lang.starts_with('.') || !language_path.is_dir() {
            continue;
        }
        for entry in fs::read_dir(&language_path).map_err(dir_error(&language_path))? {
            let entry = entry.map_err(dir_error(&language_path))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !is_locale_file_name(&name) || !path.is_file() {
                continue;
            }
            let path_label = source.path_label(&lang, &name);
            // A file that is not UTF-8 surfaces here as InvalidData, naming the file.
            let contents = fs::read_to_string(&path)
                .map_err(|source| AssetError::File { path: path_label.clone(), source })?;
            files.push(LocaleFile { lang: lang.clone(), name, path_label, contents });
        }
    }
    files.sort_by(|a, b| (&a.lang, &a.name).cmp(&(&b.lang, &b.name)));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_include_every_shipped_dialog_file() {
        let files = LocaleSource::Embedded.files().expect("embedded files are always readable");
        for lang in ["en", "ru", "zh"] {
            let dialog = files
                .iter()
                .find(|file| file.lang == lang && file.name == "dialog.ftl")
                .unwrap_or_else(|| panic!("{lang}/dialog.ftl is not embedded"));
            assert_eq!(dialog.path_label, format!("locales/{lang}/dialog.ftl"));
            assert!(dialog.contents.contains("greeting ="), "{lang}/dialog.ftl looks empty");
        }
    }

    #[test]
    fn a_directory_lists_language_folders_and_ignores_other_files() {
        let root = tempfile::tempdir().expect("temp dir");
        fs::create_dir_all(root.path().join("ru")).expect("mkdir");
        fs::create_dir_all(root.path().join("en")).expect("mkdir");
        fs::create_dir_all(root.path().join(".git")).expect("mkdir");
        fs::write(root.path().join("en/dialog.ftl"), "greeting = Hello\n").expect("write");
        fs::write(root.path().join("ru/intents.toml"), "# phrases\n").expect("write");
        fs::write(root.path().join("ru/dialog.ftl"), "greeting = Привет\n").expect("write");
        fs::write(root.path().join("ru/dialog.ftl~"), "backup").expect("write");
        fs::write(root.path().join("ru/NOTES.md"), "notes").expect("write");
        fs::write(root.path().join(".git/config.toml"), "x = 1").expect("write");
        fs::write(root.path().join("README.ftl"), "stray = file").expect("write");

        let source = LocaleSource::Dir(root.path().to_path_buf());
        let files = source.files().expect("readable");
        let listed: Vec<(&str, &str)> = files.iter().map(|f| (f.lang.as_str(), f.name.as_str())).collect();
        assert_eq!(listed, [("en", "dialog.ftl"), ("ru", "dialog.ftl"), ("ru", "intents.toml")]);
        assert_eq!(files[1].contents, "greeting = Привет\n");
        assert_eq!(files[1].path_label, root.path().join("ru").join("dialog.ftl").display().to_string());
        assert!(files[1].is_fluent() && !files[2].is_fluent());
    }

    #[test]
    fn unreadable_sources_name_the_path() {
        let root = tempfile::tempdir().expect("temp dir");
        let missing = LocaleSource::Dir(root.path().join("nope"));
        let error = missing.files().expect_err("a missing directory is an error");
        assert!(error.to_string().contains("nope"), "{error}");

        fs::create_dir_all(root.path().join("ru")).expect("mkdir");
        fs::write(root.path().join("ru/dialog.ftl"), [0xff, 0xfe, 0x00]).expect("write");
        let error = LocaleSource::Dir(root.path().to_path_buf()).files().expect_err("not UTF-8");
        assert!(error.to_string().contains("dialog.ftl"), "{error}");
    }
}
