//! The console's words: every page, notice and error text comes from `console.ftl` of the
//! agent's language, through [`Tr`].
//!
//! Which language: the one the agent chose on their profile, else the first language of the
//! browser's `Accept-Language` that the console speaks, else English. The keys the console
//! asks for are listed in `core::keys::CONSOLE_KEYS`, so `locales check` proves each exists in
//! every language; a test here proves the pages ask for no key outside that list.

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::assets::LocaleSource;
use crate::core::message::{Arg, Lang, Text};
use crate::i18n::I18n;

/// The texts every console page reads. Set once by the app (which honours
/// `SWITCHBOARD_LOCALES_DIR`); without that, the files built into the binary.
static TEXTS: OnceLock<Option<Arc<I18n>>> = OnceLock::new();

/// Makes the console read its texts from these bundles. The first call wins: every console
/// of a process speaks from the same files.
pub fn use_texts(i18n: Arc<I18n>) {
    let _ = TEXTS.set(Some(i18n));
}

fn texts() -> Option<&'static Arc<I18n>> {
    TEXTS
        .get_or_init(|| match I18n::load(&LocaleSource::Embedded) {
            Ok(i18n) => Some(Arc::new(i18n)),
            Err(problem) => {
                tracing::error!(error = %problem, "console: the built-in texts do not load; showing keys");
                None
            }
        })
        .as_ref()
}

/// The console's language for one page, and its texts. Templates call `tr.t("key")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    pub lang: Lang,
}

impl Default for Tr {
    fn default() -> Self {
        Tr { lang: Lang::En }
    }
}

impl Tr {
    pub fn new(lang: Lang) -> Tr {
        Tr { lang }
    }

    /// The text of `key`.
    pub fn t(&self, key: &str) -> String {
        self.text(&Text::new(key))
    }

    /// The text of `key` with one variable.
    pub fn t1(&self, key: &str, name: &str, value: impl ConsoleArg) -> String {
        self.text(&Text::new(key).arg(name, value.arg()))
    }

    /// The text of `key` with two variables.
    pub fn t2(
        &self,
        key: &str,
        first: &str,
        one: impl ConsoleArg,
        second: &str,
        two: impl ConsoleArg,
    ) -> String {
        self.text(&Text::new(key).arg(first, one.arg()).arg(second, two.arg()))
    }

    fn text(&self, text: &Text) -> String {
        match texts() {
            Some(i18n) => i18n.text(self.lang, text),
            None => text.key.clone(),
        }
    }

    /// The `lang` attribute of the page.
    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// How long something has waited, in the page's language ("3 min", "3 мин", "3 分钟").
    pub fn duration(&self, millis: i64) -> String {
        let minutes = millis.max(0) / 60_000;
        match minutes {
            0 => self.t("console-duration-under-a-minute"),
            1..=59 => self.t1("console-duration-minutes", "minutes", minutes),
            60..=1439 => self.t2("console-duration-hours", "hours", minutes / 60, "minutes", minutes % 60),
            _ => self.t2("console-duration-days", "days", minutes / 1440, "hours", minutes % 1440 / 60),
        }
    }

    /// A moment as the page's language writes dates (UTC, as everywhere in the console).
    pub fn date_time(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        let pattern = match self.lang {
            Lang::En => "%Y-%m-%d %H:%M UTC",
            Lang::Ru => "%d.%m.%Y %H:%M UTC",
            Lang::Zh => "%Y年%m月%d日 %H:%M UTC",
        };
        at.format(pattern).to_string()
    }

    /// A ticket's issue type as the menu button names it ("Problem with an order"), from the
    /// dialog's labels; a code this build does not know is shown as it is.
    pub fn issue_name(&self, code: &str) -> String {
        match crate::core::message::IssueType::ALL.into_iter().find(|issue| issue.code() == code) {
            Some(issue) => self.t(&crate::core::keys::issue_label(issue)),
            None => code.to_owned(),
        }
    }

    /// The name of a language in its own script (`Русский`), from the dialog's labels.
    pub fn language_name(&self, lang: &Lang) -> String {
        self.t(&crate::core::keys::language_label(*lang))
    }
}

/// A value for a text's variable. Templates pass their values by reference, so references
/// to these count too.
pub trait ConsoleArg {
    fn arg(self) -> Arg;
}

impl ConsoleArg for i64 {
    fn arg(self) -> Arg {
        Arg::Number(self)
    }
}

impl ConsoleArg for u32 {
    fn arg(self) -> Arg {
        Arg::from(self)
    }
}

impl ConsoleArg for usize {
    fn arg(self) -> Arg {
        Arg::from(self)
    }
}

impl ConsoleArg for &str {
    fn arg(self) -> Arg {
        Arg::from(self)
    }
}

impl<T: ConsoleArg + Copy> ConsoleArg for &T {
    fn arg(self) -> Arg {
        (*self).arg()
    }
}

/// The console's language a browser asks for: the first (by weight) language of its
/// `Accept-Language` header that the console speaks, else English. The list is bounded: a
/// header longer than a few entries is only read that far.
pub fn browser_language(headers: &HeaderMap) -> Lang {
    let Some(value) = headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()) else {
        return Lang::En;
    };
    let mut wanted: Vec<(u16, usize, &str)> = value
        .split(',')
        .take(16)
        .enumerate()
        .filter_map(|(position, entry)| {
            let mut parts = entry.split(';');
            let tag = parts.next()?.trim();
            let weight = parts.find_map(|part| part.trim().strip_prefix("q=")).map_or(Some(1000), |q| {
                q.trim().parse::<f32>().ok().map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
            })?;
            (weight > 0 && !tag.is_empty()).then_some((weight, position, tag))
        })
        .collect();
    wanted.sort_by_key(|(weight, position, _)| (std::cmp::Reverse(*weight), *position));
    wanted.into_iter().find_map(|(_, _, tag)| crate::i18n::supported(tag)).unwrap_or(Lang::En)
}

tokio::task_local! {
    /// The language of the page this request will show, for the error page, which is
    /// rendered where no request is at hand (`ConsoleError::into_response`).
    static PAGE_LANGUAGE: Cell<Lang>;
}

/// Middleware around the console: each request's page language starts as the browser's;
/// the session extractor then sets the agent's (see [`set_page_language`]).
pub async fn with_page_language(request: Request, next: Next) -> Response {
    let lang = browser_language(request.headers());
    PAGE_LANGUAGE.scope(Cell::new(lang), next.run(request)).await
}

/// The signed-in agent's language, for an error page later in the same request.
pub fn set_page_language(lang: Lang) {
    let _ = PAGE_LANGUAGE.try_with(|page| page.set(lang));
}

/// The language of this request's page; English outside a console request.
pub fn page_language() -> Lang {
    PAGE_LANGUAGE.try_with(Cell::get).unwrap_or(Lang::En)
}

/// The console's language of a signed-in agent: their choice, else their browser's.
pub fn agent_language(chosen: Option<Lang>, headers: &HeaderMap) -> Lang {
    chosen.unwrap_or_else(|| browser_language(headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::collections::BTreeSet;

    fn asking(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_browser_language_is_the_heaviest_one_the_console_speaks() {
        assert_eq!(browser_language(&HeaderMap::new()), Lang::En);
        assert_eq!(browser_language(&asking("ru-RU,ru;q=0.9,en-US;q=0.8")), Lang::Ru);
        assert_eq!(browser_language(&asking("de-DE, zh-CN;q=0.7, en;q=0.5")), Lang::Zh);
        assert_eq!(browser_language(&asking("en;q=0.2, ru;q=0.9")), Lang::Ru);
        assert_eq!(browser_language(&asking("ru;q=0, zh")), Lang::Zh);
        assert_eq!(browser_language(&asking("de, fr")), Lang::En);
        assert_eq!(browser_language(&asking("not a tag;q=x, ;;")), Lang::En);
        assert_eq!(agent_language(Some(Lang::Zh), &asking("ru")), Lang::Zh);
        assert_eq!(agent_language(None, &asking("ru")), Lang::Ru);
    }

    #[test]
    fn durations_and_dates_follow_the_language() {
        assert_eq!(Tr::new(Lang::En).duration(3 * 60_000), "3 min");
        assert_eq!(Tr::new(Lang::Ru).duration(3 * 60_000), "3 мин");
        assert_eq!(Tr::new(Lang::Zh).duration(3 * 60_000), "3 分钟");
        assert_eq!(Tr::new(Lang::Ru).duration(125 * 60_000), "2 ч 5 мин");
        let at = chrono::DateTime::from_timestamp(1_765_000_000, 0).unwrap();
        assert_eq!(Tr::new(Lang::En).date_time(at), "2025-12-06 05:46 UTC");
        assert_eq!(Tr::new(Lang::Ru).date_time(at), "06.12.2025 05:46 UTC");
        assert_eq!(Tr::new(Lang::Zh).date_time(at), "2025年12月06日 05:46 UTC");
        assert_eq!(Tr::new(Lang::En).issue_name("wrong_item"), "Wrong item received");
        assert_eq!(Tr::new(Lang::En).issue_name("from_a_newer_version"), "from_a_newer_version");
    }

    /// Every `tr.t("…")`, `t1`/`t2` in the templates and the console's
    /// code names a key of `CONSOLE_KEYS`, so `locales check` covers every text a page shows;
    /// and every listed key is used.
    #[test]
    fn the_console_asks_only_for_registered_keys_and_uses_them_all() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = String::new();
        for folder in ["templates/console", "src/console", "static"] {
            for entry in std::fs::read_dir(root.join(folder)).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().is_some_and(|name| name != "texts.rs") {
                    sources.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
        let mut used = BTreeSet::new();
        // rustfmt may put the key on the line after the opening parenthesis.
        for opener in ["tr.t(", "tr.t1(", "tr.t2("] {
            for (at, _) in sources.match_indices(opener) {
                let Some(rest) = sources[at + opener.len()..].trim_start().strip_prefix('"') else {
                    continue;
                };
                used.insert(rest[..rest.find('"').unwrap()].to_owned());
            }
        }
        // The duration keys are asked for here, in `Tr::duration`.
        for key in [
            "console-duration-under-a-minute",
            "console-duration-minutes",
            "console-duration-hours",
            "console-duration-days",
        ] {
            used.insert(key.to_owned());
        }
        let registered: BTreeSet<String> =
            crate::core::keys::CONSOLE_KEYS.iter().map(|key| (*key).to_owned()).collect();
        let unregistered: Vec<&String> = used.difference(&registered).collect();
        assert!(unregistered.is_empty(), "keys used but not in CONSOLE_KEYS: {unregistered:?}");
        let unused: Vec<&String> = registered.difference(&used).collect();
        assert!(unused.is_empty(), "keys in CONSOLE_KEYS that nothing uses: {unused:?}");
    }

    #[test]
    fn every_console_key_has_a_text_in_every_language() {
        let i18n = I18n::load(&LocaleSource::Embedded).unwrap();
        for lang in Lang::ALL {
            for key in crate::core::keys::CONSOLE_KEYS {
                assert!(i18n.has_message(lang, key), "{key} is missing in {lang}");
            }
        }
    }
}
