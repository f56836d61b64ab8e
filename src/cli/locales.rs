//! `switchboard locales check [--dir locales]`: the translator's check.
//!
//! Compares every locale with the reference locale `en` and with the code, and prints one line
//! per problem (`file:line:col: message` where a position is known) and a one-line summary.
//! Exits 1 when there is any error, so CI and translators can run it before a release.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use fluent_syntax::ast;

use crate::assets::{LocaleFile, LocaleSource, REFERENCE_LANG};
use crate::core::faq::Intent;
use crate::core::keys;
use crate::core::message::Lang;
use crate::i18n::line_col;

/// `switchboard locales ...`
#[derive(Debug, Args)]
pub struct LocalesCommand {
    #[command(subcommand)]
    pub command: LocalesSubcommand,
}

/// The `locales` subcommands.
#[derive(Debug, Subcommand)]
pub enum LocalesSubcommand {
    /// Check the locale files: Fluent syntax, keys and variables against `en`, FAQ intents,
    /// and the keys the code asks for. Exits 1 on any error.
    Check(CheckArgs),
}

/// Options of `locales check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A folder with one sub-folder per language (e.g. `locales`). Without it, the files
    /// embedded in this binary are checked.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs a `locales` subcommand, printing findings to stdout.
pub fn run(command: LocalesCommand) -> anyhow::Result<ExitCode> {
    match command.command {
        LocalesSubcommand::Check(args) => {
            let source = args.dir.map_or(LocaleSource::Embedded, LocaleSource::Dir);
            let report = check(&source)?;
            print!("{report}");
            Ok(if report.has_errors() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}

/// Reads the files of `source` and checks them.
pub fn check(source: &LocaleSource) -> anyhow::Result<Report> {
    let files = source.files().with_context(|| format!("cannot read the locale files of {source}"))?;
    Ok(check_files(source, &files))
}

/// What a finding is about; tests and tools can match on it instead of parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A `.ftl` file does not parse.
    Syntax,
    /// There is no `en` locale to compare with.
    NoReference,
    /// A language the code speaks has no folder.
    MissingLanguage,
    /// A folder whose name is not a language the code speaks (a warning: a new translation
    /// can be prepared before the code learns the language).
    UnknownLanguage,
    /// A message or term of `en` that a locale lacks.
    MissingKey,
    /// A message or term that `en` does not have.
    ExtraKey,
    /// The same key twice in one language.
    DuplicateKey,
    /// A message uses other variables than `en`'s.
    VariableMismatch,
    /// `intents.toml` is missing, broken, or lacks intents.
    MissingIntent,
    /// The code asks for a key that no locale defines.
    MissingCodeKey,
}

/// Errors fail the check; warnings are printed but do not change the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, located as precisely as the check can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// `file:line:col`, `file:line`, `file` or a language folder.
    pub location: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => write!(f, "{}: {}", self.location, self.message),
            Severity::Warning => write!(f, "{}: warning: {}", self.location, self.message),
        }
    }
}

/// Everything one check found, plus what it looked at (for the summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Language folders looked at.
    pub languages: usize,
    /// Locale files looked at (`.ftl` and `.toml`).
    pub files: usize,
}

impl Report {
    /// Whether the check fails (exit code 1).
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|finding| finding.severity == Severity::Error)
    }

    /// How many findings have this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|finding| finding.severity == severity).count()
    }

    /// The findings of one kind, in report order.
    pub fn of_kind(&self, kind: FindingKind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |finding| finding.kind == kind)
    }
}

impl fmt::Display for Report {
    /// One line per finding, then the summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        let (errors, warnings) = (self.count(Severity::Error), self.count(Severity::Warning));
        let outcome = if errors == 0 { "OK" } else { "FAILED" };
        writeln!(
            f,
            "locales check {outcome}: {} languages, {} files, {errors} {}, {warnings} {}",
            self.languages,
            self.files,
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings"),
        )
    }
}

fn plural(count: usize, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 { one } else { many }
}

/// A message or term definition and the variables its value and attributes use.
#[derive(Debug)]
struct Definition {
    /// `greeting` for a message, `-brand` for a term (as Fluent writes them).
    id: String,
    file_name: String,
    location: String,
    variables: BTreeSet<String>,
}

/// The checks, on files already read. `source` names files that do not exist.
pub fn check_files(source: &LocaleSource, files: &[LocaleFile]) -> Report {
    let mut findings = Vec::new();
    let mut languages: BTreeMap<&str, Vec<&LocaleFile>> = BTreeMap::new();
    for file in files {
        languages.entry(file.lang.as_str()).or_default().push(file);
    }

    for lang in Lang::ALL {
        if !languages.contains_key(lang.code()) {
            findings.push(error(
                FindingKind::MissingLanguage,
                source.folder_label(lang.code()),
                format!("no folder for `{lang}`, a language the code speaks"),
            ));
        }
    }
    for lang in languages.keys().filter(|lang| Lang::from_code(lang).is_none()) {
        findings.push(Finding {
            kind: FindingKind::UnknownLanguage,
            severity: Severity::Warning,
            location: source.folder_label(lang),
            message: format!(
                "`{lang}` is not a language the code speaks yet: add it to `Lang` in src/core/message.rs"
            ),
        });
    }

    let definitions: BTreeMap<&str, Vec<Definition>> =
        languages.iter().map(|(lang, files)| (*lang, fluent_definitions(files, &mut findings))).collect();

    match definitions.get(REFERENCE_LANG) {
        Some(reference) if !reference.is_empty() => {
            for (lang, defined) in definitions.iter().filter(|(lang, _)| **lang != REFERENCE_LANG) {
                compare_with_reference(source, lang, reference, defined, &mut findings);
            }
        }
        _ => findings.push(error(
            FindingKind::NoReference,
            source.folder_label(REFERENCE_LANG),
            format!("the reference locale `{REFERENCE_LANG}` has no messages to compare with"),
        )),
    }

    for (lang, files) in &languages {
        check_intents(source, lang, files, &mut findings);
    }

    let defined_anywhere: BTreeSet<&str> =
        definitions.values().flatten().map(|definition| definition.id.as_str()).collect();
    for key in keys::all_keys() {
        if !defined_anywhere.contains(key.as_str()) {
            findings.push(error(
                FindingKind::MissingCodeKey,
                source.folder_label(REFERENCE_LANG),
                format!("the code asks for `{key}`, but no locale defines it"),
            ));
        }
    }

    Report { findings, languages: languages.len(), files: files.len() }
}

fn error(kind: FindingKind, location: String, message: String) -> Finding {
    Finding { kind, severity: Severity::Error, location, message }
}

/// Parses the `.ftl` files of one language: syntax errors and duplicates become findings, the
/// rest becomes definitions.
fn fluent_definitions(files: &[&LocaleFile], findings: &mut Vec<Finding>) -> Vec<Definition> {
    let mut definitions: Vec<Definition> = Vec::new();
    for file in files.iter().filter(|file| file.is_fluent()) {
        let resource = match fluent_syntax::parser::parse(file.contents.as_str()) {
            Ok(resource) => resource,
            Err((resource, errors)) => {
                for parser_error in &errors {
                    let (line, column) = line_col(&file.contents, parser_error.pos.start);
                    findings.push(error(
                        FindingKind::Syntax,
                        format!("{}:{line}:{column}", file.path_label),
                        parser_error.to_string(),
                    ));
                }
                resource
            }
        };
        for entry in &resource.body {
            let (id, value, attributes) = match entry {
                ast::Entry::Message(message) => {
                    (message.id.name.to_owned(), message.value.as_ref(), &message.attributes)
                }
                ast::Entry::Term(term) => (format!("-{}", term.id.name), Some(&term.value), &term.attributes),
                _ => continue,
            };
            let mut variables = BTreeSet::new();
            for pattern in value.into_iter().chain(attributes.iter().map(|attribute| &attribute.value)) {
                collect_pattern_variables(pattern, &mut variables);
            }
            let location = definition_location(file, &id);
            if let Some(first) = definitions.iter().find(|definition| definition.id == id) {
                findings.push(error(
                    FindingKind::DuplicateKey,
                    location,
                    format!("`{id}` is already defined at {}", first.location),
                ));
                continue;
            }
            definitions.push(Definition { id, file_name: file.name.clone(), location, variables });
        }
    }
    definitions
}

/// `file:line` of a definition. Fluent entries start at the beginning of a line, so the first
/// line that starts with the id followed by `=` is the one.
fn definition_location(file: &LocaleFile, id: &str) -> String {
    let line = file.contents.lines().position(|line| {
        line.strip_prefix(id).is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with('='))
    });
    match line {
        Some(index) => format!("{}:{}", file.path_label, index + 1),
        None => file.path_label.clone(),
    }
}

fn collect_pattern_variables(pattern: &ast::Pattern<&str>, variables: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            collect_expression_variables(expression, variables);
        }
    }
}

fn collect_expression_variables(expression: &ast::Expression<&str>, variables: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            collect_inline_variables(selector, variables);
            for variant in variants {
                collect_pattern_variables(&variant.value, variables);
            }
        }
        ast::Expression::Inline(inline) => collect_inline_variables(inline, variables),
    }
}

fn collect_inline_variables(inline: &ast::InlineExpression<&str>, variables: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            variables.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => {
            collect_expression_variables(expression, variables)
        }
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            collect_call_variables(arguments, variables)
        }
        // A term's arguments are values passed to the term; variables in them are the message's.
        ast::InlineExpression::TermReference { arguments: Some(arguments), .. } => {
            collect_call_variables(arguments, variables)
        }
        ast::InlineExpression::TermReference { arguments: None, .. }
        | ast::InlineExpression::MessageReference { .. }
        | ast::InlineExpression::StringLiteral { .. }
        | ast::InlineExpression::NumberLiteral { .. } => {}
    }
}

fn collect_call_variables(arguments: &ast::CallArguments<&str>, variables: &mut BTreeSet<String>) {
    for positional in &arguments.positional {
        collect_inline_variables(positional, variables);
    }
    for named in &arguments.named {
        collect_inline_variables(&named.value, variables);
    }
}

fn compare_with_reference(
    source: &LocaleSource,
    lang: &str,
    reference: &[Definition],
    defined: &[Definition],
    findings: &mut Vec<Finding>,
) {
    let by_id: BTreeMap<&str, &Definition> =
        defined.iter().map(|definition| (definition.id.as_str(), definition)).collect();
    let reference_ids: BTreeSet<&str> = reference.iter().map(|definition| definition.id.as_str()).collect();

    for expected in reference {
        let Some(translated) = by_id.get(expected.id.as_str()) else {
            findings.push(error(
                FindingKind::MissingKey,
                source.path_label(lang, &expected.file_name),
                format!("`{}` is missing (see {})", expected.id, expected.location),
            ));
            continue;
        };
        let lacking: Vec<String> =
            expected.variables.difference(&translated.variables).map(|name| format!("${name}")).collect();
        let unexpected: Vec<String> =
            translated.variables.difference(&expected.variables).map(|name| format!("${name}")).collect();
        if !lacking.is_empty() || !unexpected.is_empty() {
            let mut differences = Vec::new();
            if !lacking.is_empty() {
                differences.push(format!("does not use {} (used in {REFERENCE_LANG})", lacking.join(", ")));
            }
            if !unexpected.is_empty() {
                differences.push(format!("uses {} (not used in {REFERENCE_LANG})", unexpected.join(", ")));
            }
            findings.push(error(
                FindingKind::VariableMismatch,
                translated.location.clone(),
                format!("`{}` {}", translated.id, differences.join(" and ")),
            ));
        }
    }
    for extra in defined.iter().filter(|definition| !reference_ids.contains(definition.id.as_str())) {
        findings.push(error(
            FindingKind::ExtraKey,
            extra.location.clone(),
            format!("`{}` is not in the reference locale `{REFERENCE_LANG}`", extra.id),
        ));
    }
}

/// Every language needs FAQ training phrases for every intent.
fn check_intents(source: &LocaleSource, lang: &str, files: &[&LocaleFile], findings: &mut Vec<Finding>) {
    const INTENTS_FILE: &str = "intents.toml";
    let Some(file) = files.iter().find(|file| file.name == INTENTS_FILE) else {
        findings.push(error(
            FindingKind::MissingIntent,
            source.path_label(lang, INTENTS_FILE),
            format!("missing: the FAQ classifier has no training phrases for `{lang}`"),
        ));
        return;
    };
    match missing_intents_interim(&file.contents) {
        Ok(missing) if missing.is_empty() => {}
        Ok(missing) => {
            let names: Vec<&str> = missing.iter().map(|intent| intent.name()).collect();
            findings.push(error(
                FindingKind::MissingIntent,
                file.path_label.clone(),
                format!("no training phrases for {} intent(s): {}", names.len(), names.join(", ")),
            ));
        }
        Err(toml_error) => {
            let location = match toml_error.span() {
                Some(span) => {
                    let (line, column) = line_col(&file.contents, span.start);
                    format!("{}:{line}:{column}", file.path_label)
                }
                None => file.path_label.clone(),
            };
            findings.push(error(
                FindingKind::MissingIntent,
                location,
                format!("not valid TOML: {}", toml_error.message()),
            ));
        }
    }
}

/// INTERIM, to be replaced by `crate::faq_phrases::missing_intents` when the FAQ branch is
/// merged (that module owns the `intents.toml` format). Until then this accepts the plausible
/// layouts: an intent is present when its name is a key, at the top level or one table down
/// (`cancel_order = [..]`, `[intents] cancel_order = [..]`, `[cancel_order] phrases = [..]`),
/// with a non-empty value.
fn missing_intents_interim(contents: &str) -> Result<Vec<Intent>, toml::de::Error> {
    let table: toml::Table = toml::from_str(contents)?;
    let non_empty = |value: &toml::Value| match value {
        toml::Value::Array(items) => !items.is_empty(),
        toml::Value::Table(entries) => !entries.is_empty(),
        toml::Value::String(text) => !text.trim().is_empty(),
        _ => false,
    };
    let present = |name: &str| {
        table.get(name).is_some_and(non_empty)
            || table.values().any(|value| match value {
                toml::Value::Table(nested) => nested.get(name).is_some_and(non_empty),
                _ => false,
            })
    };
    Ok(Intent::ALL.into_iter().filter(|intent| !present(intent.name())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn write(root: &Path, relative: &str, contents: &str) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        fs::write(path, contents).expect("write");
    }

    /// A faq.ftl that answers every intent, and an intents.toml that covers every intent: what
    /// the FAQ branch ships, in the smallest form the check accepts.
    fn faq_files(root: &Path, lang: &str) {
        let answers: String = Intent::ALL
            .into_iter()
            .filter(|intent| intent.has_answer())
            .map(|intent| format!("{} = Answer for {}.\n", intent.answer_key(), intent.name()))
            .collect();
        write(root, &format!("{lang}/faq.ftl"), &answers);
        let phrases: String = Intent::ALL
            .into_iter()
            .map(|intent| format!("{} = [\"phrase {lang}\"]\n", intent.name()))
            .collect();
        write(root, &format!("{lang}/intents.toml"), &phrases);
    }

    /// The shipped dialog, topic and console files plus complete FAQ files: a locale tree that must
    /// check clean.
    fn complete_tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("temp dir");
        for file in LocaleSource::Embedded.files().expect("embedded") {
            if ["dialog.ftl", "topics.ftl", "console.ftl"].contains(&file.name.as_str()) {
                write(root.path(), &format!("{}/{}", file.lang, file.name), &file.contents);
            }
        }
        for lang in Lang::ALL {
            faq_files(root.path(), lang.code());
        }
        root
    }

    fn check_dir(root: &Path) -> Report {
        check(&LocaleSource::Dir(root.to_path_buf())).expect("readable")
    }

    fn messages(report: &Report, kind: FindingKind) -> Vec<String> {
        report.of_kind(kind).map(ToString::to_string).collect()
    }

    #[test]
    fn a_complete_tree_checks_clean() {
        let root = complete_tree();
        let report = check_dir(root.path());
        assert!(report.findings.is_empty(), "{report}");
        assert!(!report.has_errors());
        assert_eq!((report.languages, report.files), (3, 15));
        assert!(
            report.to_string().starts_with("locales check OK: 3 languages, 15 files, 0 errors, 0 warnings")
        );
    }

    #[test]
    fn the_shipped_dialog_texts_agree_across_languages() {
        let report = check(&LocaleSource::Embedded).expect("embedded");
        // faq.ftl and intents.toml come from the FAQ branch; until it is merged, their absence
        // is the only thing this check may report about the shipped files.
        let unexpected: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|finding| match finding.kind {
                FindingKind::MissingIntent => false,
                FindingKind::MissingCodeKey => !finding.message.contains("`faq-"),
                _ => true,
            })
            .collect();
        assert!(unexpected.is_empty(), "{unexpected:#?}");
    }

    #[test]
    fn syntax_errors_are_reported_with_line_and_column() {
        let root = complete_tree();
        write(
            root.path(),
            "ru/extra.ftl",
            "# comment\nfine = Хорошо\nno-value-here\nalso-fine = Да\nbroken = { $x\nlast = Последний\n",
        );
        let report = check_dir(root.path());
        let syntax = messages(&report, FindingKind::Syntax);
        let label = root.path().join("ru").join("extra.ftl").display().to_string();
        assert!(
            syntax
                .iter()
                .any(|line| line.starts_with(&format!("{label}:3:14: Expected a token starting with \"=\""))),
            "{syntax:#?}"
        );
        assert!(
            syntax
                .iter()
                .any(|line| line.starts_with(&format!("{label}:6:1: Expected a token starting with \"}}\""))),
            "{syntax:#?}"
        );
        assert_eq!(syntax.len(), 2, "{syntax:#?}");
        // The entries around the broken ones still count: no missing or extra keys besides them.
        let extra = messages(&report, FindingKind::ExtraKey);
        assert_eq!(extra.len(), 3, "{extra:#?}");
        assert!(report.has_errors());
    }

    #[test]
    fn missing_and_extra_keys_are_reported_against_english() {
        let root = complete_tree();
        // Terms count as keys too.
        write(root.path(), "en/terms.ftl", "-brand = Switchboard\n");
        write(root.path(), "zh/terms.ftl", "-brand = Switchboard\n");
        let ru = fs::read_to_string(root.path().join("ru/dialog.ftl")).expect("read");
        let ru = ru.replace("did-it-help = Это помогло?\n", "").replace("button-yes", "button-yess");
        write(root.path(), "ru/dialog.ftl", &ru);
        let report = check_dir(root.path());

        let ru_label = root.path().join("ru").join("dialog.ftl").display().to_string();
        let en_label = root.path().join("en").join("dialog.ftl").display().to_string();
        let en = fs::read_to_string(root.path().join("en/dialog.ftl")).expect("read");
        let line = en.lines().position(|line| line.starts_with("did-it-help =")).expect("in English") + 1;
        let missing = messages(&report, FindingKind::MissingKey);
        assert!(
            missing.contains(&format!("{ru_label}: `did-it-help` is missing (see {en_label}:{line})")),
            "{missing:#?}"
        );
        assert!(missing.iter().any(|line| line.contains("`button-yes` is missing")), "{missing:#?}");
        let ru_terms = root.path().join("ru").join("terms.ftl").display().to_string();
        assert!(
            missing.iter().any(|line| line.starts_with(&format!("{ru_terms}: `-brand` is missing"))),
            "{missing:#?}"
        );
        assert_eq!(missing.len(), 3, "{missing:#?}");

        let extra = messages(&report, FindingKind::ExtraKey);
        assert_eq!(extra.len(), 1, "{extra:#?}");
        assert!(
            extra[0].starts_with(&format!("{ru_label}:")) && extra[0].contains("`button-yess`"),
            "{extra:#?}"
        );
    }

    #[test]
    fn variable_mismatches_are_reported_in_both_directions() {
        let root = complete_tree();
        let zh = fs::read_to_string(root.path().join("zh/dialog.ftl")).expect("read");
        let zh = zh
            .replace("收到：订单 { $order_id }。", "收到：订单 { $order }。")
            .replace("已收到 { $count } 张照片。", "已收到照片。");
        write(root.path(), "zh/dialog.ftl", &zh);
        // A variable inside a select variant counts too.
        let ru = fs::read_to_string(root.path().join("ru/dialog.ftl")).expect("read");
        let ru = ru.replace("[one] {\" \"}Ожидание займёт примерно { $wait_minutes } минуту.\n        [few] {\" \"}Ожидание займёт примерно { $wait_minutes } минуты.\n        [many] {\" \"}Ожидание займёт примерно { $wait_minutes } минут.\n       *[other] {\" \"}Ожидание займёт примерно { $wait_minutes } минуты.\n    } Можете", "*[other] {\" \"}Ожидание займёт примерно { $minutes } минут.\n    } Можете");
        write(root.path(), "ru/dialog.ftl", &ru);
        let report = check_dir(root.path());

        let mismatches = messages(&report, FindingKind::VariableMismatch);
        assert_eq!(mismatches.len(), 3, "{mismatches:#?}");
        assert!(
            mismatches.iter().any(|line| line.ends_with(
                "`order-id-accepted` does not use $order_id (used in en) and uses $order (not used in en)"
            )),
            "{mismatches:#?}"
        );
        assert!(
            mismatches.iter().any(|line| line.ends_with("`photo-received` does not use $count (used in en)")),
            "{mismatches:#?}"
        );
        assert!(
            mismatches.iter().any(|line| line.contains("`handoff-queued`") && line.contains("uses $minutes")),
            "{mismatches:#?}"
        );
    }

    #[test]
    fn missing_intents_and_missing_intent_files_are_reported() {
        let root = complete_tree();
        let en = fs::read_to_string(root.path().join("en/intents.toml")).expect("read");
        let en = en
            .replace("track_refund = [\"phrase en\"]\n", "track_refund = []\n")
            .replace("review = ", "reviews = ");
        write(root.path(), "en/intents.toml", &en);
        fs::remove_file(root.path().join("zh/intents.toml")).expect("remove");
        write(root.path(), "ru/intents.toml", "cancel_order = [\"отмените\"\n");
        let report = check_dir(root.path());

        let intents = messages(&report, FindingKind::MissingIntent);
        assert_eq!(intents.len(), 3, "{intents:#?}");
        assert!(
            intents.iter().any(|line| line
                .contains("en/intents.toml: no training phrases for 2 intent(s): review, track_refund")),
            "{intents:#?}"
        );
        assert!(intents.iter().any(|line| line.contains("zh/intents.toml: missing")), "{intents:#?}");
        assert!(
            intents.iter().any(|line| line.contains("ru/intents.toml:1:") && line.contains("not valid TOML")),
            "{intents:#?}"
        );
    }

    #[test]
    fn keys_the_code_needs_but_no_locale_defines_are_reported() {
        let root = complete_tree();
        for lang in ["en", "ru", "zh"] {
            let path = root.path().join(lang).join("faq.ftl");
            let faq = fs::read_to_string(&path).expect("read");
            let kept: String = faq
                .lines()
                .filter(|line| !line.starts_with("faq-track-order "))
                .map(|line| format!("{line}\n"))
                .collect();
            fs::write(&path, kept).expect("write");
        }
        let report = check_dir(root.path());
        let missing = messages(&report, FindingKind::MissingCodeKey);
        assert_eq!(missing.len(), 1, "{missing:#?}");
        assert!(
            missing[0].ends_with("the code asks for `faq-track-order`, but no locale defines it"),
            "{missing:#?}"
        );
        // Removed everywhere alike, so the locales still agree with each other.
        assert_eq!(report.of_kind(FindingKind::MissingKey).count(), 0);
        assert!(report.has_errors());
    }

    /// Rewrites one language's `console.ftl` without the message `key`.
    fn drop_console_text(root: &Path, lang: &str, key: &str) {
        let path = root.join(lang).join("console.ftl");
        let kept: String = fs::read_to_string(&path)
            .expect("read")
            .lines()
            .filter(|line| !line.starts_with(&format!("{key} =")))
            .map(|line| format!("{line}\n"))
            .collect();
        fs::write(path, kept).expect("write");
    }

    #[test]
    fn a_console_text_missing_in_one_language_or_in_all_is_reported() {
        let root = complete_tree();
        drop_console_text(root.path(), "zh", "console-nav-queue");
        let report = check_dir(root.path());
        let missing = messages(&report, FindingKind::MissingKey);
        assert_eq!(missing.len(), 1, "{report}");
        assert!(missing[0].contains("zh") && missing[0].contains("`console-nav-queue`"), "{missing:#?}");
        assert!(report.has_errors());

        for lang in Lang::ALL {
            drop_console_text(root.path(), lang.code(), "console-claim");
        }
        let report = check_dir(root.path());
        let unknown = messages(&report, FindingKind::MissingCodeKey);
        assert_eq!(unknown.len(), 1, "{report}");
        assert!(
            unknown[0].ends_with("the code asks for `console-claim`, but no locale defines it"),
            "{unknown:#?}"
        );
    }

    #[test]
    fn duplicates_missing_languages_and_new_languages_are_reported() {
        let root = complete_tree();
        write(root.path(), "ru/more.ftl", "greeting = Ещё раз здравствуйте\n");
        fs::remove_dir_all(root.path().join("zh")).expect("remove");
        for file in ["dialog.ftl", "faq.ftl", "intents.toml", "topics.ftl", "console.ftl"] {
            let contents = fs::read_to_string(root.path().join("en").join(file)).expect("read");
            write(root.path(), &format!("de/{file}"), &contents);
        }
        let report = check_dir(root.path());

        let duplicates = messages(&report, FindingKind::DuplicateKey);
        assert_eq!(duplicates.len(), 1, "{duplicates:#?}");
        assert!(duplicates[0].contains("more.ftl:1: `greeting` is already defined at"), "{duplicates:#?}");
        assert_eq!(report.of_kind(FindingKind::MissingLanguage).count(), 1);
        let unknown: Vec<&Finding> = report.of_kind(FindingKind::UnknownLanguage).collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].severity, Severity::Warning);
        assert_eq!(report.count(Severity::Warning), 1);
        assert_eq!(report.count(Severity::Error), 2, "{report}");
    }

    #[test]
    fn a_tree_without_english_has_nothing_to_compare_with() {
        let root = tempfile::tempdir().expect("temp dir");
        write(root.path(), "ru/dialog.ftl", "greeting = Здравствуйте\n");
        let report = check_dir(root.path());
        assert_eq!(report.of_kind(FindingKind::NoReference).count(), 1, "{report}");
        assert!(report.to_string().contains("locales check FAILED"));
    }

    #[test]
    fn the_command_line_parses_as_the_binary_will_wire_it() {
        use clap::Parser;

        #[derive(Debug, Parser)]
        struct Cli {
            #[command(subcommand)]
            command: Command,
        }
        #[derive(Debug, clap::Subcommand)]
        enum Command {
            Locales(LocalesCommand),
        }

        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|cli| cli.command);
        let Ok(Command::Locales(LocalesCommand { command: LocalesSubcommand::Check(args) })) =
            parse(&["switchboard", "locales", "check", "--dir", "locales"])
        else {
            panic!("`locales check --dir locales` should parse");
        };
        assert_eq!(args.dir, Some(PathBuf::from("locales")));
        let Ok(Command::Locales(LocalesCommand { command: LocalesSubcommand::Check(args) })) =
            parse(&["switchboard", "locales", "check"])
        else {
            panic!("`locales check` should parse");
        };
        assert_eq!(args.dir, None);
        assert!(parse(&["switchboard", "locales", "check", "--bogus"]).is_err());
    }

    #[test]
    fn run_exits_with_failure_on_errors_and_success_when_clean() {
        let clean = complete_tree();
        let command = |dir: &Path| LocalesCommand {
            command: LocalesSubcommand::Check(CheckArgs { dir: Some(dir.to_path_buf()) }),
        };
        assert_eq!(run(command(clean.path())).expect("runs"), ExitCode::SUCCESS);
        write(clean.path(), "en/dialog.ftl", "greeting = { \n");
        assert_eq!(run(command(clean.path())).expect("runs"), ExitCode::FAILURE);
        assert!(run(command(&clean.path().join("missing"))).is_err());
    }
}
