//! `switchboard faq`: try the intent classifier on a text, or measure it on a labelled CSV.

use crate::assets::LocaleSource;
use crate::cli::faq_messages;
use crate::core::faq::{Classifier, DEFAULT_THRESHOLD, Intent};
use crate::core::message::Lang;
use crate::faq_phrases::{self, Phrases};
use crate::order_format::RegexOrderIdFormat;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The `faq` subcommands.
#[derive(Debug, Subcommand)]
pub enum FaqCommand {
    /// Print `intent<TAB>confidence` for TEXT, or one JSON object per stdin line without TEXT.
    Match {
        #[command(flatten)]
        model: ModelArgs,
        /// The message. Several words are joined with spaces. Omit it to read stdin, one text per
        /// line (blank lines are skipped).
        text: Vec<String>,
    },
    /// Measure accuracy on a CSV with an `intent` column and an `instruction` or `utterance`
    /// column, or (with --messages) on tables of whole first messages.
    Eval {
        #[command(flatten)]
        model: ModelArgs,
        /// The labelled CSV (the language is --lang).
        #[arg(long, required_unless_present = "messages", conflicts_with = "messages")]
        csv: Option<PathBuf>,
        /// Tab-separated tables of whole messages with what they should be read as: columns
        /// `lang`, `text` and any of `intent`, `issue`, `order_id`, `email`, `phone`, `amount`,
        /// `date` (see tests/fixtures/understanding/README.md). Each row is read in its own
        /// language with the default order-number pattern; accuracy is printed per language and
        /// field, and --min-accuracy applies to the intent.
        #[arg(long, num_args = 1..)]
        messages: Vec<PathBuf>,
        /// Also list the most frequent mistakes (expected -> got), this many of them.
        #[arg(long, default_value_t = 0)]
        confusions: usize,
        /// Exit with failure when accuracy (in percent) is below this.
        #[arg(long)]
        min_accuracy: Option<f64>,
    },
}

/// Which model to build: the language, where its phrases are and the confidence threshold.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Language of the texts: en, ru or zh.
    #[arg(long, default_value = "en")]
    lang: String,
    /// A locales folder holding `<lang>/intents.toml` (default: the phrases built into this
    /// binary, or SWITCHBOARD_LOCALES_DIR when set).
    #[arg(long, value_name = "DIR")]
    locales: Option<PathBuf>,
    /// Below this confidence the answer is `none`.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
    threshold: f32,
}

/// Runs one `faq` subcommand.
pub fn run(cmd: FaqCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FaqCommand::Match { model, text } => {
            let (lang, classifier, _) = build(&model)?;
            if text.is_empty() {
                match_lines(lang, &classifier, std::io::stdin().lock(), std::io::stdout().lock())?;
            } else {
                let (intent, confidence) = answer(&classifier, lang, &text.join(" "));
                println!("{intent}\t{confidence:.2}");
            }
            Ok(ExitCode::SUCCESS)
        }
        FaqCommand::Eval { model, csv: None, messages, confusions, min_accuracy } => {
            eval_messages(&model, &messages, confusions, min_accuracy)
        }
        FaqCommand::Eval { model, csv: Some(csv), confusions, min_accuracy, .. } => {
            let (lang, classifier, train_time) = build(&model)?;
            let file = std::fs::File::open(&csv).with_context(|| format!("cannot open {}", csv.display()))?;
            let rows = read_labelled(file).with_context(|| format!("cannot read {}", csv.display()))?;
            let report = evaluate(&classifier, lang, &rows.rows);
            print!("{}", report.render(rows.skipped, train_time, confusions));
            let accuracy = report.accuracy() * 100.0;
            match min_accuracy {
                Some(minimum) if accuracy < minimum => {
                    eprintln!("accuracy {accuracy:.2}% is below the required {minimum:.2}%");
                    Ok(ExitCode::FAILURE)
                }
                _ => Ok(ExitCode::SUCCESS),
            }
        }
    }
}

fn eval_messages(
    model: &ModelArgs,
    paths: &[PathBuf],
    confusions: usize,
    min_accuracy: Option<f64>,
) -> anyhow::Result<ExitCode> {
    let mut messages = Vec::new();
    for path in paths {
        messages.extend(faq_messages::read_table(path)?);
    }
    let mut phrases = Vec::new();
    for lang in Lang::ALL {
        phrases.push(read_phrases(locales_dir(model).as_deref(), lang)?);
    }
    let trained: HashSet<String> = phrases
        .iter()
        .flat_map(|phrases| {
            let examples = phrases.examples.iter().map(|example| &example.text);
            examples.chain(phrases.out_of_scope.iter().map(|phrase| &phrase.text))
        })
        .map(|text| text.trim().to_lowercase())
        .collect();
    let classifier = faq_phrases::train(&phrases).with_threshold(model.threshold);
    let orders = RegexOrderIdFormat::default();
    let scores = faq_messages::score(&messages, &classifier, &orders, &trained);
    print!("{}", scores.render());
    if confusions > 0 {
        println!(
            "
mistakes (lang, field: expected -> got, text), the first {confusions}:"
        );
        for (lang, field, text, expected, got) in scores.mistakes.iter().take(confusions) {
            let show = |value: &str| if value.is_empty() { "-".to_owned() } else { value.to_owned() };
            println!("{lang} {field}: {} -> {}  | {text}", show(expected), show(got));
        }
    }
    let accuracy = scores.accuracy("intent").unwrap_or(0.0) * 100.0;
    match min_accuracy {
        Some(minimum) if accuracy < minimum => {
            eprintln!("intent accuracy {accuracy:.2}% is below the required {minimum:.2}%");
            Ok(ExitCode::FAILURE)
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Reads and trains the model for one language, timing the training.
fn build(args: &ModelArgs) -> anyhow::Result<(Lang, Classifier, Duration)> {
    let Some(lang) = Lang::from_code(&args.lang) else {
        bail!("unknown language `{}` (expected en, ru or zh)", args.lang);
    };
    let phrases = read_phrases(locales_dir(args).as_deref(), lang)?;
    let started = Instant::now();
    let classifier = faq_phrases::train(&[phrases]).with_threshold(args.threshold);
    Ok((lang, classifier, started.elapsed()))
}

/// `--locales`, else `SWITCHBOARD_LOCALES_DIR`, else none (the phrases built into the binary).
fn locales_dir(args: &ModelArgs) -> Option<PathBuf> {
    args.locales.clone().or_else(|| crate::config::locales_dir(&crate::config::ProcessEnv))
}

fn read_phrases(locales: Option<&Path>, lang: Lang) -> anyhow::Result<Phrases> {
    let source = locales.map_or(LocaleSource::Embedded, |dir| LocaleSource::Dir(dir.to_owned()));
    let files = source.files().with_context(|| format!("cannot read the locale files of {source}"))?;
    let file = files
        .iter()
        .find(|file| file.lang == lang.code() && file.name == "intents.toml")
        .with_context(|| format!("{source} has no {}/intents.toml", lang.code()))?;
    Ok(faq_phrases::parse(lang, &file.path_label, &file.contents)?)
}

/// The intent name, or `none` when not confident, and the best intent's confidence.
fn answer(classifier: &Classifier, lang: Lang, text: &str) -> (&'static str, f32) {
    match classifier.classify(lang, text) {
        Some(found) => (found.intent.name(), found.confidence),
        None => ("none", classifier.best(lang, text).map_or(0.0, |found| found.confidence)),
    }
}

/// One JSON object per non-empty input line.
fn match_lines(
    lang: Lang,
    classifier: &Classifier,
    input: impl BufRead,
    mut output: impl Write,
) -> anyhow::Result<()> {
    for line in input.lines() {
        let line = line.context("cannot read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let (intent, confidence) = answer(classifier, lang, &line);
        let confidence = (f64::from(confidence) * 10_000.0).round() / 10_000.0;
        let object = MatchLine { text: &line, lang: lang.code(), intent, confidence };
        writeln!(output, "{}", serde_json::to_string(&object)?)?;
    }
    Ok(())
}

/// One line of `faq match` output in stdin mode; fields in the documented order.
#[derive(Serialize)]
struct MatchLine<'a> {
    text: &'a str,
    lang: &'static str,
    intent: &'static str,
    confidence: f64,
}

/// A labelled utterance from the CSV.
#[derive(Debug, Clone, PartialEq)]
struct Labelled {
    intent: Intent,
    text: String,
}

/// The usable rows of a CSV and how many rows carried an intent we do not know.
#[derive(Debug)]
struct LabelledRows {
    rows: Vec<Labelled>,
    skipped: usize,
}

fn read_labelled(input: impl std::io::Read) -> anyhow::Result<LabelledRows> {
    let mut reader = csv::Reader::from_reader(input);
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|header| header.trim() == name);
    let intent_column = column("intent").context("the CSV has no `intent` column")?;
    let text_column = column("instruction")
        .or_else(|| column("utterance"))
        .context("the CSV has no `instruction` or `utterance` column")?;
    let mut rows = Vec::new();
    let mut skipped = 0;
    for record in reader.records() {
        let record = record?;
        let (Some(name), Some(text)) = (record.get(intent_column), record.get(text_column)) else {
            skipped += 1;
            continue;
        };
        match Intent::from_name(name.trim()) {
            Some(intent) => rows.push(Labelled { intent, text: text.to_owned() }),
            None => skipped += 1,
        }
    }
    Ok(LabelledRows { rows, skipped })
}

/// Counts per intent, and the mistakes, from classifying every labelled row.
#[derive(Debug, Default)]
struct Report {
    total: usize,
    correct: usize,
    none: usize,
    /// intent -> (support, true positives, predicted as this intent)
    per_intent: BTreeMap<Intent, (usize, usize, usize)>,
    /// (expected, got or None) -> count
    mistakes: BTreeMap<(Intent, Option<Intent>), usize>,
    classify_time: Duration,
}

impl Report {
    fn accuracy(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.correct as f64 / self.total as f64 }
    }

    fn render(&self, skipped: usize, train_time: Duration, confusions: usize) -> String {
        let mut out = String::new();
        let per_text =
            if self.total == 0 { 0.0 } else { self.classify_time.as_secs_f64() * 1e6 / self.total as f64 };
        out += &format!(
            "accuracy: {:.2}% ({} of {}; `none` counts as wrong)\n",
            self.accuracy() * 100.0,
            self.correct,
            self.total
        );
        out += &format!("none: {}\nskipped rows (unknown intent): {skipped}\n", self.none);
        out += &format!(
            "train: {:.1} ms; classify: {per_text:.1} us per text\n\n",
            train_time.as_secs_f64() * 1e3
        );
        out += &format!("{:<26} {:>7} {:>9} {:>7}\n", "intent", "support", "precision", "recall");
        for (intent, &(support, hits, predicted)) in &self.per_intent {
            let precision = if predicted == 0 { 0.0 } else { hits as f64 / predicted as f64 };
            let recall = if support == 0 { 0.0 } else { hits as f64 / support as f64 };
            out += &format!("{:<26} {support:>7} {precision:>9.3} {recall:>7.3}\n", intent.name());
        }
        if confusions > 0 {
            let mut mistakes: Vec<_> = self.mistakes.iter().collect();
            mistakes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            out += "\nmost frequent mistakes (expected -> got):\n";
            for ((expected, got), count) in mistakes.into_iter().take(confusions) {
                let got = got.map_or("none", Intent::name);
                out += &format!("{count:>5}  {} -> {got}\n", expected.name());
            }
        }
        out
    }
}

fn evaluate(classifier: &Classifier, lang: Lang, rows: &[Labelled]) -> Report {
    let mut report = Report::default();
    let started = Instant::now();
    let answers: Vec<Option<Intent>> =
        rows.iter().map(|row| classifier.classify(lang, &row.text).map(|found| found.intent)).collect();
    report.classify_time = started.elapsed();
    for (row, got) in rows.iter().zip(answers) {
        report.total += 1;
        report.per_intent.entry(row.intent).or_default().0 += 1;
        if let Some(got) = got {
            report.per_intent.entry(got).or_default().2 += 1;
        } else {
            report.none += 1;
        }
        if got == Some(row.intent) {
            report.correct += 1;
            report.per_intent.entry(row.intent).or_default().1 += 1;
        } else {
            *report.mistakes.entry((row.intent, got)).or_default() += 1;
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::faq::Example;

    fn tiny_classifier() -> Classifier {
        let examples = [
            (Intent::TrackOrder, "where is my parcel"),
            (Intent::TrackOrder, "track my order"),
            (Intent::CancelOrder, "cancel my order"),
            (Intent::CancelOrder, "i want to cancel the purchase"),
        ]
        .map(|(intent, text)| Example { lang: Lang::En, intent, text: text.to_owned() });
        Classifier::train(&examples).with_threshold(0.0)
    }

    #[test]
    fn reads_quoted_csv_fields_and_skips_unknown_intents() {
        let csv = "flags,instruction,intent\n\
                   B,\"where is my parcel, please\",track_order\n\
                   B,\"cancel\nmy order\",cancel_order\n\
                   B,hello,say_hello\n";
        let rows = read_labelled(csv.as_bytes()).unwrap();
        assert_eq!(rows.skipped, 1);
        assert_eq!(
            rows.rows,
            [
                Labelled { intent: Intent::TrackOrder, text: "where is my parcel, please".into() },
                Labelled { intent: Intent::CancelOrder, text: "cancel\nmy order".into() },
            ]
        );
    }

    #[test]
    fn accepts_an_utterance_column_and_rejects_a_csv_without_text() {
        let rows = read_labelled("utterance,intent\ntrack my order,track_order\n".as_bytes()).unwrap();
        assert_eq!(rows.rows.len(), 1);
        let error = read_labelled("text,intent\nx,track_order\n".as_bytes()).unwrap_err();
        assert!(error.to_string().contains("`instruction` or `utterance`"), "{error}");
    }

    #[test]
    fn evaluation_counts_hits_mistakes_and_none() {
        let classifier = tiny_classifier();
        let rows = [
            Labelled { intent: Intent::TrackOrder, text: "where is my parcel".into() },
            Labelled { intent: Intent::CancelOrder, text: "cancel my order".into() },
            Labelled { intent: Intent::CancelOrder, text: "where is my parcel".into() },
        ];
        let report = evaluate(&classifier, Lang::En, &rows);
        assert_eq!((report.total, report.correct, report.none), (3, 2, 0));
        assert_eq!(report.per_intent[&Intent::TrackOrder], (1, 1, 2));
        assert_eq!(report.mistakes[&(Intent::CancelOrder, Some(Intent::TrackOrder))], 1);
        let text = report.render(4, Duration::from_millis(3), 5);
        assert!(text.starts_with("accuracy: 66.67% (2 of 3;"), "{text}");
        assert!(text.contains("skipped rows (unknown intent): 4"), "{text}");
        assert!(text.contains("cancel_order -> track_order"), "{text}");
    }

    #[test]
    fn stdin_mode_prints_one_json_object_per_line() {
        let classifier = tiny_classifier();
        let mut output = Vec::new();
        match_lines(
            Lang::En,
            &classifier,
            "where is my parcel\n\n\"cancel\" my order\n".as_bytes(),
            &mut output,
        )
        .unwrap();
        let printed = String::from_utf8(output).unwrap();
        assert!(printed.starts_with(r#"{"text":"where is my parcel","lang":"en","intent":"#), "{printed}");
        let lines: Vec<serde_json::Value> =
            printed.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["text"], "where is my parcel");
        assert_eq!(lines[0]["lang"], "en");
        assert_eq!(lines[0]["intent"], "track_order");
        assert_eq!(lines[1]["text"], "\"cancel\" my order");
        assert_eq!(lines[1]["intent"], "cancel_order");
        assert!(lines[1]["confidence"].as_f64().unwrap() > 0.0);
    }

    #[test]
    fn answer_says_none_below_the_threshold() {
        let classifier = tiny_classifier().with_threshold(1.01);
        let (intent, confidence) = answer(&classifier, Lang::En, "where is my parcel");
        assert_eq!(intent, "none");
        assert!(confidence > 0.0);
    }
}
