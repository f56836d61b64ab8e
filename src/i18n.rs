//! Fluent texts: loading bundles, negotiating a language, rendering replies for a locale.
//!
//! The dialog hands out [`Reply`] values (a key, arguments and buttons); this module turns them
//! into the words a customer reads. Rendering never fails: a text missing in the customer's
//! language falls back to English, and a text missing everywhere shows its key, each with a
//! warning in the log (once per key and language, so a gap does not flood the log).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentError, FluentResource, FluentValue};
use fluent_langneg::{NegotiationStrategy, negotiate_languages};
use fluent_syntax::parser::ParserError;
use unic_langid::LanguageIdentifier;

use crate::assets::{AssetError, LocaleFile, LocaleSource, REFERENCE_LANG};
use crate::core::message::{Arg, Lang, MediaRef, Reply, Text};

/// A reply rendered for one language, ready for a channel to lay out natively.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedReply {
    /// The message, plain text (no markup, no isolation marks).
    pub text: String,
    /// Rows of buttons, in the order the dialog gave them.
    pub buttons: Vec<Vec<RenderedButton>>,
    /// Images to send with the text, unchanged from the reply.
    pub attachments: Vec<MediaRef>,
}

/// A button with its label in the customer's language.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedButton {
    pub label: String,
    /// `core::message::Action::encode()`: what comes back when the button is pressed.
    pub data: String,
}

/// Why the locale files could not be turned into bundles. Each variant names the files, so an
/// operator with a broken `SWITCHBOARD_LOCALES_DIR` knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum I18nError {
    #[error(transparent)]
    Assets(#[from] AssetError),
    #[error("Fluent syntax errors:\n{}", .0.join("\n"))]
    Syntax(Vec<String>),
    #[error("{file}: defined more than once for this language: {}", .ids.join(", "))]
    Duplicate { file: String, ids: Vec<String> },
    #[error("the reference locale `{REFERENCE_LANG}` has no .ftl files")]
    NoReference,
}

/// One Fluent bundle per language, shareable between threads.
pub struct I18n {
    bundles: HashMap<Lang, FluentBundle<FluentResource>>,
    /// Problems already logged, so each is logged once per process.
    warned: Mutex<HashSet<(Lang, String, Problem)>>,
}

impl std::fmt::Debug for I18n {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut langs: Vec<&Lang> = self.bundles.keys().collect();
        langs.sort();
        f.debug_struct("I18n").field("langs", &langs).finish_non_exhaustive()
    }
}

/// What went wrong while rendering one key, for the warn-once bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Problem {
    FellBack,
    MissingEverywhere,
    FormatErrors,
}

impl I18n {
    /// Loads every `.ftl` file of every language from `source`. Syntax errors and keys defined
    /// twice within a language are load errors; a language folder without a [`Lang`] variant is
    /// skipped with a warning.
    pub fn load(source: &LocaleSource) -> Result<I18n, I18nError> {
        I18n::from_files(&source.files()?)
    }

    /// Builds the bundles from files already read (used by [`I18n::load`] and by tests that add
    /// a resource of their own through the same code).
    pub fn from_files(files: &[LocaleFile]) -> Result<I18n, I18nError> {
        let fluent_files: Vec<&LocaleFile> = files.iter().filter(|file| file.is_fluent()).collect();
        if !fluent_files.iter().any(|file| file.lang == REFERENCE_LANG) {
            return Err(I18nError::NoReference);
        }
        let unknown_folders: BTreeSet<&str> = fluent_files
            .iter()
            .map(|file| file.lang.as_str())
            .filter(|lang| Lang::from_code(lang).is_none())
            .collect();
        for folder in unknown_folders {
            tracing::warn!(folder, "locale folder is not a language Switchboard speaks yet; skipped");
        }

        let mut syntax_errors = Vec::new();
        let mut bundles = HashMap::new();
        for lang in Lang::ALL {
            let mut bundle = FluentBundle::new_concurrent(vec![language_id(lang)]);
            // Chat clients render text as is; isolation marks would show up as stray characters.
            bundle.set_use_isolating(false);
            for file in fluent_files.iter().filter(|file| file.lang == lang.code()) {
                let resource = match FluentResource::try_new(file.contents.clone()) {
                    Ok(resource) => resource,
                    Err((_, errors)) => {
                        syntax_errors.extend(
                            errors
                                .iter()
                                .map(|error| describe_syntax_error(&file.path_label, &file.contents, error)),
                        );
                        continue;
                    }
                };
                if let Err(errors) = bundle.add_resource(resource) {
                    let ids = errors
                        .into_iter()
                        .map(|error| match error {
                            FluentError::Overriding { id, .. } => id,
                            other => other.to_string(),
                        })
                        .collect();
                    return Err(I18nError::Duplicate { file: file.path_label.clone(), ids });
                }
            }
            bundles.insert(lang, bundle);
        }
        if !syntax_errors.is_empty() {
            return Err(I18nError::Syntax(syntax_errors));
        }
        Ok(I18n { bundles, warned: Mutex::new(HashSet::new()) })
    }

    /// Renders one text in `lang`. Numbers stay Fluent numbers, so plural selectors work.
    /// Missing in `lang` -> English; missing everywhere -> the key itself. Never panics.
    pub fn text(&self, lang: Lang, text: &Text) -> String {
        let args = fluent_args(&text.args);
        if let Some(rendered) = self.format(lang, &text.key, &args) {
            return rendered;
        }
        if lang != Lang::En {
            if let Some(rendered) = self.format(Lang::En, &text.key, &args) {
                self.warn_once(lang, &text.key, Problem::FellBack, || {
                    tracing::warn!(
                        lang = lang.code(),
                        key = text.key,
                        "text missing; showing the English one"
                    );
                });
                return rendered;
            }
        }
        self.warn_once(lang, &text.key, Problem::MissingEverywhere, || {
            tracing::warn!(
                lang = lang.code(),
                key = text.key,
                "text missing in every locale; showing its key"
            );
        });
        text.key.clone()
    }

    /// Renders a reply: its text, every button label (with the button's callback data) and
    /// the attachments unchanged.
    pub fn reply(&self, lang: Lang, reply: &Reply) -> RenderedReply {
        RenderedReply {
            text: reply.texts().map(|text| self.text(lang, text)).collect::<Vec<_>>().join("\n\n"),
            buttons: reply
                .buttons
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|button| RenderedButton {
                            label: self.text(lang, &button.label),
                            data: button.action.encode(),
                        })
                        .collect()
                })
                .collect(),
            attachments: reply.attachments.clone(),
        }
    }

    /// Whether `lang` itself (not a fallback) has a message with this key.
    pub fn has_message(&self, lang: Lang, key: &str) -> bool {
        self.bundles.get(&lang).is_some_and(|bundle| bundle.has_message(key))
    }

    fn format(&self, lang: Lang, key: &str, args: &FluentArgs<'_>) -> Option<String> {
        let bundle = self.bundles.get(&lang)?;
        let pattern = bundle.get_message(key)?.value()?;
        let mut errors = Vec::new();
        let rendered = bundle.format_pattern(pattern, Some(args), &mut errors).into_owned();
        if !errors.is_empty() {
            // Fluent errors name variables and keys, never argument values, so they are safe to log.
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            self.warn_once(lang, key, Problem::FormatErrors, || {
                tracing::warn!(lang = lang.code(), key, errors = ?errors, "text rendered with errors");
            });
        }
        Some(rendered)
    }

    fn warn_once(&self, lang: Lang, key: &str, problem: Problem, log: impl FnOnce()) {
        let first_time = self.warned.lock().unwrap_or_else(PoisonError::into_inner).insert((
            lang,
            key.to_owned(),
            problem,
        ));
        if first_time {
            log();
        }
    }
}

fn fluent_args(args: &[(String, Arg)]) -> FluentArgs<'_> {
    let mut fluent = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        let value = match value {
            Arg::Number(number) => FluentValue::from(*number),
            Arg::Text(text) => FluentValue::from(text.as_str()),
        };
        fluent.set(name.as_str(), value);
    }
    fluent
}

fn language_id(lang: Lang) -> LanguageIdentifier {
    LanguageIdentifier::from_bytes(lang.code().as_bytes()).unwrap_or_default()
}

/// A customer's logged text as a person reads it: a button press, logged as its `[data]`,
/// reads `Pressed: ` and the button's label as the customer saw it (`label` renders a key in
/// their language); any other text is itself.
pub fn customer_text(logged: &str, label: impl Fn(&str) -> String) -> String {
    match crate::core::keys::pressed_button_label(logged) {
        Some(key) => format!("Pressed: {}", label(&key)),
        None => logged.to_owned(),
    }
}

/// Picks the language for a first contact from the platform's language code (`ru-RU`,
/// `zh-hans`, `en-US`). Anything we do not speak, and anything that is not a language tag,
/// gets `default`. A language the customer chose with /language is stored and wins over this.
pub fn negotiate(hint: Option<&str>, default: Lang) -> Lang {
    hint.and_then(supported).unwrap_or(default)
}

/// The language we speak that a language tag asks for, if any (`ru-RU` is Russian; `de` and
/// `not a tag` are none).
pub fn supported(hint: &str) -> Option<Lang> {
    let requested = LanguageIdentifier::from_bytes(hint.trim().as_bytes()).ok()?;
    let available: Vec<LanguageIdentifier> = Lang::ALL.into_iter().map(language_id).collect();
    let supported = negotiate_languages(&[requested], &available, None, NegotiationStrategy::Filtering);
    supported.first().and_then(|chosen| Lang::from_code(chosen.language.as_str()))
}

/// A 1-based line and column (in characters) for a byte offset, as editors count them.
pub fn line_col(source: &str, byte_offset: usize) -> (usize, usize) {
    let mut offset = byte_offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// `file:line:col: message` for a Fluent parser error.
pub fn describe_syntax_error(path_label: &str, source: &str, error: &ParserError) -> String {
    let (line, column) = line_col(source, error.pos.start);
    format!("{path_label}:{line}:{column}: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::message::{Action, Button};
    use crate::core::{keys, message::IssueType};

    const ISOLATION_MARKS: [char; 2] = ['\u{2068}', '\u{2069}'];

    fn shipped() -> I18n {
        I18n::load(&LocaleSource::Embedded).expect("the shipped locales load")
    }

    fn file(lang: &str, name: &str, contents: &str) -> LocaleFile {
        LocaleFile {
            lang: lang.to_owned(),
            name: name.to_owned(),
            path_label: format!("test/{lang}/{name}"),
            contents: contents.to_owned(),
        }
    }

    /// The shipped files plus one extra resource per language, through the same loader.
    fn shipped_with(extra: &[LocaleFile]) -> I18n {
        let mut files = LocaleSource::Embedded.files().expect("embedded");
        files.extend_from_slice(extra);
        I18n::from_files(&files).expect("loads")
    }

    #[test]
    fn order_texts_name_the_status_in_words_with_the_store_label_and_the_link() {
        let i18n = shipped();
        let status = Text::new(keys::ORDER_STATUS)
            .arg("order_id", "12345678-0001")
            .arg("status", "in_transit")
            .arg("store_label", "With the courier")
            .arg("labelled", 1_i64);
        assert_eq!(
            i18n.text(Lang::En, &status),
            "Order 12345678-0001 is on its way (the store says: With the courier)."
        );
        assert_eq!(
            i18n.text(Lang::Ru, &status),
            "Заказ 12345678-0001 в пути (в магазине: «With the courier»)."
        );
        assert_eq!(
            i18n.text(Lang::Zh, &status),
            "订单 12345678-0001：运输中（商家状态：With the courier）。"
        );
        let tracking = Text::new(keys::ORDER_TRACKING)
            .arg("carrier", "CDEK")
            .arg("has_carrier", 1_i64)
            .arg("tracking_number", "")
            .arg("has_number", 0_i64)
            .arg("tracking_url", "https://t.example/1")
            .arg("has_url", 1_i64)
            .arg("eta", "")
            .arg("has_eta", 0_i64);
        assert_eq!(i18n.text(Lang::En, &tracking), "Carrier: CDEK. Track it here: https://t.example/1");
        let refund = Text::new(keys::ORDER_REFUND)
            .arg("known", 1_i64)
            .arg("eligible", 1_i64)
            .arg("has_until", 1_i64)
            .arg("until", "2026-12-31");
        assert_eq!(i18n.text(Lang::En, &refund), "This order can be refunded until 2026-12-31.");
    }

    #[test]
    fn renders_arguments_without_isolation_marks() {
        let i18n = shipped();
        let text = Text::new(keys::ORDER_ID_ACCEPTED).arg("order_id", "12345678-0001");
        assert_eq!(i18n.text(Lang::En, &text), "Got it: order 12345678-0001.");
        for lang in Lang::ALL {
            let rendered = i18n.text(lang, &text);
            assert!(rendered.contains("12345678-0001"), "{lang}: {rendered}");
            assert!(!rendered.contains(ISOLATION_MARKS), "{lang}: isolation marks in {rendered:?}");
            let joined = i18n.text(lang, &Text::new(keys::AGENT_JOINED).arg("agent", "Anna"));
            assert!(joined.contains("Anna") && !joined.contains(ISOLATION_MARKS), "{lang}: {joined:?}");
        }
    }

    #[test]
    fn numbers_select_variants_and_text_selects_by_value() {
        let i18n = shipped();
        let photos = |count: usize| i18n.text(Lang::En, &Text::new(keys::PHOTO_RECEIVED).arg("count", count));
        assert!(photos(1).starts_with("Photo received."), "{}", photos(1));
        assert!(photos(3).starts_with("3 photos received."), "{}", photos(3));

        let voice = Text::new(keys::UNSUPPORTED_CONTENT).arg("kind", "voice");
        assert!(i18n.text(Lang::En, &voice).contains("voice messages"));
        let unknown_kind = Text::new(keys::UNSUPPORTED_CONTENT).arg("kind", "hologram");
        assert!(i18n.text(Lang::En, &unknown_kind).contains("this kind of message"));
    }

    #[test]
    fn unknown_wait_renders_no_minutes_and_no_stray_spaces() {
        let i18n = shipped();
        for lang in Lang::ALL {
            let queued = Text::new(keys::HANDOFF_QUEUED).arg("position", 3u32).arg("wait_minutes", -1i64);
            let rendered = i18n.text(lang, &queued);
            assert!(rendered.contains('3'), "{lang}: {rendered}");
            assert!(!rendered.contains("-1") && !rendered.contains("  "), "{lang}: {rendered:?}");
            assert!(!rendered.ends_with(' '), "{lang}: {rendered:?}");
        }
    }

    #[test]
    fn missing_text_falls_back_to_english_then_to_the_key() {
        let i18n = I18n::from_files(&[
            file("en", "dialog.ftl", "only-english = Only in English, { $name }.\nshared = Shared\n"),
            file("ru", "dialog.ftl", "shared = Общий\n"),
        ])
        .expect("loads");
        let only_english = Text::new("only-english").arg("name", "Ann");
        assert_eq!(i18n.text(Lang::Ru, &only_english), "Only in English, Ann.");
        // Twice: the second call must not behave differently (the warning is only logged once).
        assert_eq!(i18n.text(Lang::Ru, &only_english), "Only in English, Ann.");
        assert_eq!(i18n.text(Lang::Ru, &Text::new("shared")), "Общий");
        // zh has no folder at all here: everything comes from English.
        assert_eq!(i18n.text(Lang::Zh, &Text::new("shared")), "Shared");
        assert_eq!(i18n.text(Lang::Ru, &Text::new("nowhere-at-all")), "nowhere-at-all");
        assert_eq!(i18n.text(Lang::En, &Text::new("nowhere-at-all")), "nowhere-at-all");
        assert!(i18n.has_message(Lang::Ru, "shared") && !i18n.has_message(Lang::Ru, "only-english"));
        // Each gap was logged once however often it was rendered: ru fell back for one key,
        // ru and en each lacked one key everywhere.
        let warned = i18n.warned.lock().expect("not poisoned").clone();
        let expected: HashSet<(Lang, String, Problem)> = [
            (Lang::Ru, "only-english".to_owned(), Problem::FellBack),
            (Lang::Zh, "shared".to_owned(), Problem::FellBack),
            (Lang::Ru, "nowhere-at-all".to_owned(), Problem::MissingEverywhere),
            (Lang::En, "nowhere-at-all".to_owned(), Problem::MissingEverywhere),
        ]
        .into_iter()
        .collect();
        assert_eq!(warned, expected);
    }

    #[test]
    fn english_minutes_are_singular_for_one() {
        let i18n = shipped();
        let wait = |minutes: i64| {
            i18n.text(
                Lang::En,
                &Text::new(keys::QUEUE_UPDATE).arg("position", 1u32).arg("wait_minutes", minutes),
            )
        };
        assert!(wait(1).ends_with("about 1 minute."), "{}", wait(1));
        assert!(wait(21).ends_with("about 21 minutes."), "{}", wait(21));
    }

    #[test]
    fn a_missing_argument_still_renders_and_is_logged_once() {
        let i18n = shipped();
        for _ in 0..2 {
            let rendered = i18n.text(Lang::En, &Text::new(keys::ORDER_ID_ACCEPTED));
            assert!(rendered.starts_with("Got it: order"), "{rendered}");
        }
        let warned = i18n.warned.lock().expect("not poisoned").clone();
        assert_eq!(warned.len(), 1);
        assert!(warned.contains(&(Lang::En, keys::ORDER_ID_ACCEPTED.to_owned(), Problem::FormatErrors)));
    }

    #[test]
    fn reply_renders_text_buttons_and_keeps_attachments() {
        let i18n = shipped();
        let photo = MediaRef { sha256: "ab".repeat(32), content_type: "image/png".to_owned(), bytes: 1234 };
        let mut reply = Reply::new(keys::DID_IT_HELP)
            .row(vec![
                Button::new(keys::BUTTON_YES, Action::Helped),
                Button::new(keys::BUTTON_NO, Action::NotHelped),
            ])
            .row(vec![Button::new(&keys::issue_label(IssueType::Return), Action::Issue(IssueType::Return))]);
        reply.attachments.push(photo.clone());

        let rendered = i18n.reply(Lang::Ru, &reply);
        assert_eq!(rendered.text, i18n.text(Lang::Ru, &Text::new(keys::DID_IT_HELP)));
        let rows: Vec<Vec<(&str, &str)>> = rendered
            .buttons
            .iter()
            .map(|row| row.iter().map(|button| (button.label.as_str(), button.data.as_str())).collect())
            .collect();
        assert_eq!(
            rows,
            [vec![("Да", "yes"), ("Нет", "no")], vec![("Возврат товара или денег", "i:return")]]
        );
        assert_eq!(rendered.attachments, [photo]);
    }

    #[test]
    fn russian_plurals_of_orders_through_the_rendering_path() {
        // No dialog text counts orders, so this resource exists only for the test; it goes
        // through the same loader and renderer as the shipped files.
        let orders = "orders-found = { $count ->\n    [one] { $count } заказ\n    [few] { $count } заказа\n   *[many] { $count } заказов\n}\n";
        let i18n = shipped_with(&[file("ru", "test.ftl", orders)]);
        let render = |count: i64| i18n.text(Lang::Ru, &Text::new("orders-found").arg("count", count));
        for (count, expected) in [
            (1, "1 заказ"),
            (2, "2 заказа"),
            (5, "5 заказов"),
            (11, "11 заказов"),
            (21, "21 заказ"),
            (22, "22 заказа"),
            (101, "101 заказ"),
            (0, "0 заказов"),
        ] {
            assert_eq!(render(count), expected);
        }
    }

    #[test]
    fn russian_plurals_of_waiting_minutes_in_the_queue_messages() {
        let i18n = shipped();
        for key in [keys::HANDOFF_QUEUED, keys::COMPLAINT_QUEUED, keys::QUEUE_UPDATE] {
            for (minutes, expected) in [
                (1, "1 минуту"),
                (2, "2 минуты"),
                (5, "5 минут"),
                (11, "11 минут"),
                (21, "21 минуту"),
                (24, "24 минуты"),
            ] {
                let text = Text::new(key).arg("position", 2u32).arg("wait_minutes", minutes as i64);
                let rendered = i18n.text(Lang::Ru, &text);
                assert!(rendered.contains(&format!(" {expected}")), "{key} {minutes}: {rendered}");
            }
        }
    }

    #[test]
    fn russian_plurals_in_photo_and_length_messages() {
        let i18n = shipped();
        let photos =
            |count: usize| i18n.text(Lang::Ru, &Text::new(keys::PHOTO_LIMIT_REACHED).arg("count", count));
        assert!(photos(3).contains("3 фотографии"), "{}", photos(3));
        assert!(photos(5).contains("5 фотографий"), "{}", photos(5));
        assert!(photos(21).contains("21 фотография"), "{}", photos(21));
        let received =
            |count: usize| i18n.text(Lang::Ru, &Text::new(keys::PHOTO_RECEIVED).arg("count", count));
        assert!(received(2).starts_with("Получено 2 фотографии."), "{}", received(2));
        assert!(received(10).starts_with("Получено 10 фотографий."), "{}", received(10));
        let limit = |limit: i64| i18n.text(Lang::Ru, &Text::new(keys::TEXT_TOO_LONG).arg("limit", limit));
        assert!(limit(4000).contains("4000 символов"), "{}", limit(4000));
        assert!(limit(4001).contains("4001 символ "), "{}", limit(4001));
        assert!(limit(4002).contains("4002 символа"), "{}", limit(4002));
    }

    #[test]
    fn every_code_key_of_the_dialog_renders_in_every_language() {
        let i18n = shipped();
        for key in keys::all_keys().iter().filter(|key| !key.starts_with("faq-")) {
            for lang in Lang::ALL {
                assert!(i18n.has_message(lang, key), "{lang} lacks {key}");
            }
        }
    }

    #[test]
    fn negotiation_maps_platform_codes_to_our_languages() {
        for (hint, default, expected) in [
            (Some("ru-RU"), Lang::En, Lang::Ru),
            (Some("ru"), Lang::En, Lang::Ru),
            (Some("RU"), Lang::En, Lang::Ru),
            (Some("ru_RU"), Lang::En, Lang::Ru),
            (Some("zh-hans"), Lang::En, Lang::Zh),
            (Some("zh-CN"), Lang::En, Lang::Zh),
            (Some("zh-Hant-TW"), Lang::En, Lang::Zh),
            (Some("zh"), Lang::Ru, Lang::Zh),
            (Some("en-US"), Lang::Ru, Lang::En),
            (Some("en-GB"), Lang::Zh, Lang::En),
            (Some("de-DE"), Lang::Ru, Lang::Ru),
            (Some("de-DE"), Lang::En, Lang::En),
            (Some("uk"), Lang::Ru, Lang::Ru),
            (Some("not a language!"), Lang::Zh, Lang::Zh),
            (Some("123"), Lang::Ru, Lang::Ru),
            (Some(""), Lang::Ru, Lang::Ru),
            (None, Lang::Zh, Lang::Zh),
        ] {
            assert_eq!(negotiate(hint, default), expected, "{hint:?} with default {default}");
        }
    }

    #[test]
    fn load_errors_name_the_file_and_position() {
        let broken =
            I18n::from_files(&[file("en", "dialog.ftl", "greeting = Hello\nbroken = { $x\nnext = Fine\n")]);
        let error = broken.expect_err("syntax error").to_string();
        assert!(error.contains("test/en/dialog.ftl:3:1: Expected a token starting with \"}\""), "{error}");

        let twice = I18n::from_files(&[
            file("en", "a.ftl", "greeting = Hello\n"),
            file("en", "b.ftl", "greeting = Hi\n"),
        ]);
        let error = twice.expect_err("duplicate").to_string();
        assert!(error.contains("test/en/b.ftl") && error.contains("greeting"), "{error}");

        let no_english = I18n::from_files(&[file("ru", "dialog.ftl", "greeting = Привет\n")]);
        assert!(matches!(no_english, Err(I18nError::NoReference)));
    }

    #[test]
    fn line_and_column_count_characters_not_bytes() {
        let source = "a = b\nключ = { $x\n";
        assert_eq!(line_col(source, 0), (1, 1));
        assert_eq!(line_col(source, 6), (2, 1));
        let brace = source.find('{').expect("brace");
        assert_eq!(line_col(source, brace), (2, 8));
        assert_eq!(line_col(source, source.len() + 10), (3, 1));
    }

    #[test]
    fn bundles_are_shareable_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<I18n>();
    }
}
