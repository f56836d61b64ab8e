//! Machine-translation settings: read from `SWITCHBOARD_TRANSLATE*`, checked once at start-up.
//! Translation is off unless `SWITCHBOARD_TRANSLATE` names a provider. [`TranslateSettings`]
//! is plain data the `translate` module imports; reading it is this module's job.

use super::{ConfigError, Source, variables::SettingsError};
use crate::core::message::Lang;
use crate::secret::Secret;
use std::time::Duration;

/// DeepL's host for keys of the free plan (they end in `:fx`).
pub const DEEPL_FREE_URL: &str = "https://api-free.deepl.com";
/// DeepL's host for paid (Pro) keys.
pub const DEEPL_PRO_URL: &str = "https://api.deepl.com";
/// How long one call to the provider may take before it counts as failed (then it is tried
/// once more).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most terms a glossary file may hold, and the longest term: a glossary is loaded into
/// memory and sent to the provider, so it stays small.
pub const MAX_GLOSSARY_TERMS: usize = 1000;
pub const MAX_TERM_CHARS: usize = 100;

/// Which service translates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// A LibreTranslate server (self-hosted, open source): `POST {url}/translate`.
    LibreTranslate { url: String, api_key: Option<Secret> },
    /// DeepL's API: `POST {url}/v2/translate` with `Authorization: DeepL-Auth-Key`.
    DeepL { url: String, key: Secret },
}

impl Provider {
    /// The provider's name, as logs and the console's notes give it.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::LibreTranslate { .. } => "libretranslate",
            Provider::DeepL { .. } => "deepl",
        }
    }
}

/// One glossary term: how it is written in each language. A language left empty keeps the
/// term as it is written in the text being translated (a brand such as "Ozon" has one form).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GlossaryTerm {
    pub en: Option<String>,
    pub ru: Option<String>,
    pub zh: Option<String>,
}

impl GlossaryTerm {
    /// The term's form in `lang`, if the file gives one.
    pub fn form(&self, lang: Lang) -> Option<&str> {
        match lang {
            Lang::En => self.en.as_deref(),
            Lang::Ru => self.ru.as_deref(),
            Lang::Zh => self.zh.as_deref(),
        }
    }
}

/// Everything machine translation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateSettings {
    pub provider: Provider,
    /// How long one call may take (`SWITCHBOARD_TRANSLATE_TIMEOUT_SECS`, 5 s by default).
    pub timeout: Duration,
    /// The store's glossary (`SWITCHBOARD_TRANSLATE_GLOSSARY`), empty without one.
    pub glossary: Vec<GlossaryTerm>,
}

/// A translation setting Switchboard refuses to start with; [`TranslateSettingsError::variable`]
/// names the variable to fix. Messages never contain a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateSettingsError {
    #[error("expected `libretranslate`, `deepl` or `off`, got {0:?}")]
    Provider(String),
    #[error("LibreTranslate needs the address of its server, e.g. http://127.0.0.1:5000")]
    UrlMissing,
    #[error("expected an http(s) URL such as http://127.0.0.1:5000, got {0:?}")]
    Url(String),
    #[error("DeepL needs an authentication key (from your DeepL account)")]
    KeyMissing,
    #[error("other SWITCHBOARD_TRANSLATE_* variables are set, but SWITCHBOARD_TRANSLATE names no provider")]
    ProviderMissing,
    #[error("expected seconds from 1 to 60, got {0:?}")]
    Timeout(String),
    #[error("cannot read the glossary file {path:?}: {problem}")]
    GlossaryUnreadable { path: String, problem: String },
    #[error("glossary line {line}: {problem}")]
    GlossaryLine { line: usize, problem: String },
}

impl SettingsError for TranslateSettingsError {
    fn variable(&self) -> &'static str {
        match self {
            TranslateSettingsError::Provider(_) | TranslateSettingsError::ProviderMissing => {
                "SWITCHBOARD_TRANSLATE"
            }
            TranslateSettingsError::UrlMissing | TranslateSettingsError::Url(_) => {
                "SWITCHBOARD_TRANSLATE_URL"
            }
            TranslateSettingsError::KeyMissing => "SWITCHBOARD_TRANSLATE_API_KEY",
            TranslateSettingsError::Timeout(_) => "SWITCHBOARD_TRANSLATE_TIMEOUT_SECS",
            TranslateSettingsError::GlossaryUnreadable { .. }
            | TranslateSettingsError::GlossaryLine { .. } => "SWITCHBOARD_TRANSLATE_GLOSSARY",
        }
    }
}

/// Reads `SWITCHBOARD_TRANSLATE*`. `Ok(None)` when translation is off (the variable unset or
/// `off`).
pub(super) fn read(source: &dyn Source) -> Result<Option<TranslateSettings>, ConfigError> {
    const OTHERS: [&str; 4] = [
        "SWITCHBOARD_TRANSLATE_URL",
        "SWITCHBOARD_TRANSLATE_API_KEY",
        "SWITCHBOARD_TRANSLATE_TIMEOUT_SECS",
        "SWITCHBOARD_TRANSLATE_GLOSSARY",
    ];
    let chosen = source.get("SWITCHBOARD_TRANSLATE").map(|value| value.trim().to_ascii_lowercase());
    let url = source.get("SWITCHBOARD_TRANSLATE_URL").map(|url| url.trim().trim_end_matches('/').to_owned());
    let key = source.get("SWITCHBOARD_TRANSLATE_API_KEY").map(|key| Secret::new(key.trim()));
    let provider = match chosen.as_deref() {
        None if OTHERS.iter().any(|variable| source.get(variable).is_some()) => {
            return Err(TranslateSettingsError::ProviderMissing.into());
        }
        None | Some("off") => return Ok(None),
        Some("libretranslate") => {
            let url = url.ok_or(TranslateSettingsError::UrlMissing)?;
            Provider::LibreTranslate { url, api_key: key }
        }
        Some("deepl") => {
            let key = key.ok_or(TranslateSettingsError::KeyMissing)?;
            // DeepL tells its plans apart by the key: free keys end in `:fx` and only work on
            // the free host.
            let url = url.unwrap_or_else(|| {
                if key.expose().ends_with(":fx") { DEEPL_FREE_URL } else { DEEPL_PRO_URL }.to_owned()
            });
            Provider::DeepL { url, key }
        }
        Some(other) => return Err(TranslateSettingsError::Provider(other.to_owned()).into()),
    };
    let url = match &provider {
        Provider::LibreTranslate { url, .. } | Provider::DeepL { url, .. } => url,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(TranslateSettingsError::Url(url.clone()).into());
    }
    let timeout = match source.get("SWITCHBOARD_TRANSLATE_TIMEOUT_SECS") {
        None => DEFAULT_TIMEOUT,
        Some(value) => match value.trim().parse::<u64>() {
            Ok(seconds @ 1..=60) => Duration::from_secs(seconds),
            _ => return Err(TranslateSettingsError::Timeout(value).into()),
        },
    };
    let glossary = match source.get("SWITCHBOARD_TRANSLATE_GLOSSARY") {
        None => Vec::new(),
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|error| {
                TranslateSettingsError::GlossaryUnreadable { path: path.clone(), problem: error.to_string() }
            })?;
            parse_glossary(&text)?
        }
    };
    Ok(Some(TranslateSettings { provider, timeout, glossary }))
}

/// Reads a glossary file: a header line naming the language of each tab-separated column (`en`,
/// `ru`, `zh`, in any order, any subset), then one term per line. `#` starts a comment line;
/// an empty cell keeps the term as written.
pub fn parse_glossary(text: &str) -> Result<Vec<GlossaryTerm>, TranslateSettingsError> {
    let bad = |line: usize, problem: String| TranslateSettingsError::GlossaryLine { line, problem };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(number, line)| (number + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'));
    let Some((header_line, header)) = lines.next() else { return Ok(Vec::new()) };
    let mut columns = Vec::new();
    for name in header.split('\t') {
        let lang = Lang::from_code(name.trim()).ok_or_else(|| {
            bad(header_line, format!("expected a header of en, ru, zh (tab-separated), got {name:?}"))
        })?;
        if columns.contains(&lang) {
            return Err(bad(header_line, format!("the column {name:?} appears twice")));
        }
        columns.push(lang);
    }
    let mut terms = Vec::new();
    for (number, line) in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        if cells.len() > columns.len() {
            return Err(bad(number, format!("expected at most {} tab-separated columns", columns.len())));
        }
        let mut term = GlossaryTerm::default();
        for (lang, cell) in columns.iter().zip(&cells) {
            let cell = cell.trim();
            if cell.chars().count() > MAX_TERM_CHARS {
                return Err(bad(number, format!("a term is longer than {MAX_TERM_CHARS} characters")));
            }
            if cell.chars().any(char::is_control) || cell.contains(['<', '>', '&']) {
                return Err(bad(number, "a term may not contain control characters or < > &".to_owned()));
            }
            let form = (!cell.is_empty()).then(|| cell.to_owned());
            match lang {
                Lang::En => term.en = form,
                Lang::Ru => term.ru = form,
                Lang::Zh => term.zh = form,
            }
        }
        if term == GlossaryTerm::default() {
            return Err(bad(number, "the line names no term".to_owned()));
        }
        terms.push(term);
        if terms.len() > MAX_GLOSSARY_TERMS {
            return Err(bad(number, format!("a glossary holds at most {MAX_GLOSSARY_TERMS} terms")));
        }
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&'static str, &str)]) -> Result<Option<TranslateSettings>, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        read(&env)
    }

    #[test]
    fn off_unless_a_provider_is_named_and_deepl_picks_its_host_by_the_key() {
        assert_eq!(load(&[]).unwrap(), None);
        assert_eq!(load(&[("SWITCHBOARD_TRANSLATE", "off")]).unwrap(), None);
        let libre = load(&[
            ("SWITCHBOARD_TRANSLATE", "LibreTranslate"),
            ("SWITCHBOARD_TRANSLATE_URL", "http://127.0.0.1:5000/"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            libre.provider,
            Provider::LibreTranslate { url: "http://127.0.0.1:5000".to_owned(), api_key: None }
        );
        assert_eq!(libre.timeout, DEFAULT_TIMEOUT);
        let free = load(&[("SWITCHBOARD_TRANSLATE", "deepl"), ("SWITCHBOARD_TRANSLATE_API_KEY", "abc:fx")])
            .unwrap()
            .unwrap();
        assert!(matches!(free.provider, Provider::DeepL { ref url, .. } if url == DEEPL_FREE_URL));
        let pro = load(&[("SWITCHBOARD_TRANSLATE", "deepl"), ("SWITCHBOARD_TRANSLATE_API_KEY", "abc")])
            .unwrap()
            .unwrap();
        assert!(matches!(pro.provider, Provider::DeepL { ref url, .. } if url == DEEPL_PRO_URL));
        assert!(!format!("{pro:?}").contains("abc"), "{pro:?}");
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let cases: Vec<(Vec<(&'static str, &str)>, &str)> = vec![
            (vec![("SWITCHBOARD_TRANSLATE", "google")], "SWITCHBOARD_TRANSLATE"),
            (vec![("SWITCHBOARD_TRANSLATE_URL", "http://x")], "SWITCHBOARD_TRANSLATE"),
            (vec![("SWITCHBOARD_TRANSLATE", "libretranslate")], "SWITCHBOARD_TRANSLATE_URL"),
            (
                vec![
                    ("SWITCHBOARD_TRANSLATE", "libretranslate"),
                    ("SWITCHBOARD_TRANSLATE_URL", "localhost:5000"),
                ],
                "SWITCHBOARD_TRANSLATE_URL",
            ),
            (vec![("SWITCHBOARD_TRANSLATE", "deepl")], "SWITCHBOARD_TRANSLATE_API_KEY"),
            (
                vec![
                    ("SWITCHBOARD_TRANSLATE", "deepl"),
                    ("SWITCHBOARD_TRANSLATE_API_KEY", "k"),
                    ("SWITCHBOARD_TRANSLATE_TIMEOUT_SECS", "0"),
                ],
                "SWITCHBOARD_TRANSLATE_TIMEOUT_SECS",
            ),
            (
                vec![
                    ("SWITCHBOARD_TRANSLATE", "deepl"),
                    ("SWITCHBOARD_TRANSLATE_API_KEY", "k"),
                    ("SWITCHBOARD_TRANSLATE_GLOSSARY", "/nonexistent/glossary.tsv"),
                ],
                "SWITCHBOARD_TRANSLATE_GLOSSARY",
            ),
        ];
        for (pairs, variable) in &cases {
            let error = load(pairs).unwrap_err();
            assert_eq!(error.variable, *variable, "{pairs:?}: {error}");
        }
    }

    #[test]
    fn a_glossary_file_has_a_header_and_one_term_per_line() {
        let terms =
            parse_glossary("# brand names stay\nen\tru\tzh\nOzon\n\npickup point\tпункт выдачи\t取货点\n")
                .unwrap();
        assert_eq!(terms.len(), 2);
        assert_eq!(terms[0].form(Lang::En), Some("Ozon"));
        assert_eq!(terms[0].form(Lang::Ru), None);
        assert_eq!(terms[1].form(Lang::Zh), Some("取货点"));
        assert!(parse_glossary("de\ten\nx\ty\n").is_err());
        assert!(parse_glossary("en\tru\na\tb\tc\n").is_err());
        assert!(parse_glossary("en\n<b>\n").is_err());
        assert_eq!(parse_glossary("").unwrap(), Vec::new());
    }
}
