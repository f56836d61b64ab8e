//! The intent classifier: which known question or request a free-text message is, if any.
//!
//! Trained at start-up from the phrases translators keep in `locales/<lang>/intents.toml`
//! (read by `faq_phrases`, outside `core`), one model per language.
//!
//! The method, chosen for short, misspelt, inflected messages in three scripts: character
//! n-grams inside words plus whole words and word pairs (character 1..=3-grams for Chinese),
//! see `features`; a softmax regression trained by averaged SGD in a fixed order, see `model`.
//! An extra "none" class learnt from out-of-scope phrases, together with a confidence
//! threshold, keeps small talk from getting a confident wrong answer. Training takes tens of
//! milliseconds per language and classifying a message a few microseconds (release build).

mod features;
mod model;

use crate::core::message::{IssueType, Lang};
use model::{Model, Row};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a customer's message is about: the 27 intents of the public Bitext customer-support
/// taxonomy (questions with an FAQ answer, and a few requests), then the ways people open and
/// close a chat and name a concrete problem with an order, which the Bitext set does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    CancelOrder,
    ChangeOrder,
    ChangeShippingAddress,
    CheckCancellationFee,
    CheckInvoice,
    CheckPaymentMethods,
    CheckRefundPolicy,
    Complaint,
    ContactCustomerService,
    ContactHumanAgent,
    CreateAccount,
    DeleteAccount,
    DeliveryOptions,
    DeliveryPeriod,
    EditAccount,
    GetInvoice,
    GetRefund,
    NewsletterSubscription,
    PaymentIssue,
    PlaceOrder,
    RecoverPassword,
    RegistrationProblems,
    Review,
    SetUpShippingAddress,
    SwitchAccount,
    TrackOrder,
    TrackRefund,
    // Beyond the Bitext taxonomy.
    Greeting,
    Goodbye,
    DamagedItem,
    WrongItem,
    MissingItem,
    NotAsDescribed,
    LateDelivery,
    CourierProblem,
    /// "I already wrote to you": the customer asks about their support request, not a parcel.
    RequestStatus,
    SpeakEnglish,
    SpeakRussian,
    SpeakChinese,
}

/// What the dialog does when a message is recognised as an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaqAction {
    /// Answer from Fluent (`faq-<intent>`), then ask "did this help?".
    Answer,
    /// Start the structured request for this issue type.
    StartFlow(IssueType),
    /// Start the complaint flow (description, then a high-priority ticket).
    Complaint,
    /// Queue the conversation for a human straight away.
    Handoff,
    /// Ask for feedback on the service.
    Feedback,
    /// Greet back and show what the bot can do.
    Greet,
    /// Close politely; nothing else changes.
    Goodbye,
    /// Tell the customer where their open request stands.
    RequestStatus,
    /// Switch the conversation to this language.
    SwitchLanguage(Lang),
}

impl Intent {
    pub const ALL: [Intent; 39] = [
        Intent::CancelOrder,
        Intent::ChangeOrder,
        Intent::ChangeShippingAddress,
        Intent::CheckCancellationFee,
        Intent::CheckInvoice,
        Intent::CheckPaymentMethods,
        Intent::CheckRefundPolicy,
        Intent::Complaint,
        Intent::ContactCustomerService,
        Intent::ContactHumanAgent,
        Intent::CreateAccount,
        Intent::DeleteAccount,
        Intent::DeliveryOptions,
        Intent::DeliveryPeriod,
        Intent::EditAccount,
        Intent::GetInvoice,
        Intent::GetRefund,
        Intent::NewsletterSubscription,
        Intent::PaymentIssue,
        Intent::PlaceOrder,
        Intent::RecoverPassword,
        Intent::RegistrationProblems,
        Intent::Review,
        Intent::SetUpShippingAddress,
        Intent::SwitchAccount,
        Intent::TrackOrder,
        Intent::TrackRefund,
        Intent::Greeting,
        Intent::Goodbye,
        Intent::DamagedItem,
        Intent::WrongItem,
        Intent::MissingItem,
        Intent::NotAsDescribed,
        Intent::LateDelivery,
        Intent::CourierProblem,
        Intent::RequestStatus,
        Intent::SpeakEnglish,
        Intent::SpeakRussian,
        Intent::SpeakChinese,
    ];

    /// The snake_case name used in `intents.toml`, the CLI and the Bitext CSV.
    pub fn name(self) -> &'static str {
        match self {
            Intent::CancelOrder => "cancel_order",
            Intent::ChangeOrder => "change_order",
            Intent::ChangeShippingAddress => "change_shipping_address",
            Intent::CheckCancellationFee => "check_cancellation_fee",
            Intent::CheckInvoice => "check_invoice",
            Intent::CheckPaymentMethods => "check_payment_methods",
            Intent::CheckRefundPolicy => "check_refund_policy",
            Intent::Complaint => "complaint",
            Intent::ContactCustomerService => "contact_customer_service",
            Intent::ContactHumanAgent => "contact_human_agent",
            Intent::CreateAccount => "create_account",
            Intent::DeleteAccount => "delete_account",
            Intent::DeliveryOptions => "delivery_options",
            Intent::DeliveryPeriod => "delivery_period",
            Intent::EditAccount => "edit_account",
            Intent::GetInvoice => "get_invoice",
            Intent::GetRefund => "get_refund",
            Intent::NewsletterSubscription => "newsletter_subscription",
            Intent::PaymentIssue => "payment_issue",
            Intent::PlaceOrder => "place_order",
            Intent::RecoverPassword => "recover_password",
            Intent::RegistrationProblems => "registration_problems",
            Intent::Review => "review",
            Intent::SetUpShippingAddress => "set_up_shipping_address",
            Intent::SwitchAccount => "switch_account",
            Intent::TrackOrder => "track_order",
            Intent::TrackRefund => "track_refund",
            Intent::Greeting => "greeting",
            Intent::Goodbye => "goodbye",
            Intent::DamagedItem => "damaged_item",
            Intent::WrongItem => "wrong_item",
            Intent::MissingItem => "missing_item",
            Intent::NotAsDescribed => "not_as_described",
            Intent::LateDelivery => "late_delivery",
            Intent::CourierProblem => "courier_problem",
            Intent::RequestStatus => "request_status",
            Intent::SpeakEnglish => "speak_english",
            Intent::SpeakRussian => "speak_russian",
            Intent::SpeakChinese => "speak_chinese",
        }
    }

    pub fn from_name(name: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|intent| intent.name() == name)
    }

    /// Whether the intent has an FAQ answer (`faq-<intent>` in `faq.ftl`): the 27 Bitext
    /// intents do, even those that start a request, so the answer can be suggested inside the
    /// flow. Greetings, concrete order problems and language requests have none.
    pub fn has_answer(self) -> bool {
        use Intent::*;
        !matches!(
            self,
            Greeting
                | Goodbye
                | DamagedItem
                | WrongItem
                | MissingItem
                | NotAsDescribed
                | LateDelivery
                | CourierProblem
                | RequestStatus
                | SpeakEnglish
                | SpeakRussian
                | SpeakChinese
        )
    }

    /// The Fluent key of this intent's answer; see [`Intent::has_answer`].
    pub fn answer_key(self) -> String {
        format!("faq-{}", self.name().replace('_', "-"))
    }

    /// The Fluent key of the short label that names the intent on a clarification button.
    pub fn topic_key(self) -> String {
        format!("topic-{}", self.name().replace('_', "-"))
    }

    pub fn action(self) -> FaqAction {
        match self {
            Intent::Complaint => FaqAction::Complaint,
            Intent::ContactHumanAgent => FaqAction::Handoff,
            Intent::PaymentIssue => FaqAction::StartFlow(IssueType::Payment),
            Intent::GetRefund | Intent::TrackRefund => FaqAction::StartFlow(IssueType::Return),
            Intent::TrackOrder => FaqAction::StartFlow(IssueType::Delivery),
            Intent::CancelOrder => FaqAction::StartFlow(IssueType::Cancellation),
            Intent::Review => FaqAction::Feedback,
            Intent::Greeting => FaqAction::Greet,
            Intent::Goodbye => FaqAction::Goodbye,
            Intent::DamagedItem => FaqAction::StartFlow(IssueType::Damaged),
            Intent::WrongItem => FaqAction::StartFlow(IssueType::WrongItem),
            Intent::MissingItem => FaqAction::StartFlow(IssueType::MissingItem),
            Intent::NotAsDescribed => FaqAction::StartFlow(IssueType::NotAsDescribed),
            Intent::LateDelivery => FaqAction::StartFlow(IssueType::LateDelivery),
            Intent::CourierProblem => FaqAction::StartFlow(IssueType::Courier),
            Intent::RequestStatus => FaqAction::RequestStatus,
            Intent::SpeakEnglish => FaqAction::SwitchLanguage(Lang::En),
            Intent::SpeakRussian => FaqAction::SwitchLanguage(Lang::Ru),
            Intent::SpeakChinese => FaqAction::SwitchLanguage(Lang::Zh),
            _ => FaqAction::Answer,
        }
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One training phrase, as read from `locales/<lang>/intents.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub lang: Lang,
    pub intent: Intent,
    pub text: String,
}

/// A classification: the best intent and how sure the model is (0.0 ..= 1.0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub intent: Intent,
    pub confidence: f32,
}

/// Anything that recognises intents. The dialog depends on this, not on [`Classifier`], so its
/// transcript tests can use a small table instead of a trained model.
pub trait IntentClassifier {
    /// The intent when the model is confident enough, else `None`.
    fn classify(&self, lang: Lang, text: &str) -> Option<Match>;

    /// The two intents a text could equally well be, most likely first, when the model cannot
    /// choose between them: better to ask the customer than to guess. A classifier that cannot
    /// tell never answers.
    fn close_call(&self, _lang: Lang, _text: &str) -> Option<[Match; 2]> {
        None
    }
}

impl IntentClassifier for Classifier {
    fn classify(&self, lang: Lang, text: &str) -> Option<Match> {
        Classifier::classify(self, lang, text)
    }

    fn close_call(&self, lang: Lang, text: &str) -> Option<[Match; 2]> {
        Classifier::close_call(self, lang, text)
    }
}

/// A classifier that works out each message once and then repeats its answer. One dialog step
/// may ask about the same text twice (is it a request for a human? which question is it?), and
/// the engine runs some steps twice to learn whether the queue matters to them; the model's
/// answer is the same every time, so only the first question costs anything. Meant to live for
/// one step: it keeps every text it was asked about.
pub struct Remembering<'a> {
    /// `Sync`, so that an engine task holding this across a database call can move threads.
    inner: &'a (dyn IntentClassifier + Sync),
    answers: Memory<Option<Match>>,
    close_calls: Memory<Option<[Match; 2]>>,
}

/// What a [`Remembering`] classifier was asked, and answered.
type Memory<T> = std::cell::RefCell<Vec<(Lang, String, T)>>;

impl<'a> Remembering<'a> {
    pub fn new(inner: &'a (dyn IntentClassifier + Sync)) -> Remembering<'a> {
        Remembering { inner, answers: Default::default(), close_calls: Default::default() }
    }
}

/// The remembered answer for `(lang, text)`, or a new one from `ask`, remembered.
fn remembered<T: Copy>(memory: &Memory<T>, lang: Lang, text: &str, ask: impl FnOnce() -> T) -> T {
    let known =
        memory.borrow().iter().find(|(l, t, _)| *l == lang && t == text).map(|(_, _, answer)| *answer);
    known.unwrap_or_else(|| {
        let answer = ask();
        memory.borrow_mut().push((lang, text.to_owned(), answer));
        answer
    })
}

impl IntentClassifier for Remembering<'_> {
    fn classify(&self, lang: Lang, text: &str) -> Option<Match> {
        remembered(&self.answers, lang, text, || self.inner.classify(lang, text))
    }

    fn close_call(&self, lang: Lang, text: &str) -> Option<[Match; 2]> {
        remembered(&self.close_calls, lang, text, || self.inner.close_call(lang, text))
    }
}

/// Below this confidence the answer is "none": better to offer the menu than a wrong answer.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// An out-of-scope phrase (weather, jokes, small talk), from the `none` list of
/// `locales/<lang>/intents.toml`. The model learns these as a class of their own, so that
/// such messages come out as "no intent" instead of the least unlikely one.
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfScope {
    pub lang: Lang,
    pub text: String,
}

/// Per-language intent models: character n-gram and word features under a softmax
/// regression (see `features` and `model`), with an extra class for out-of-scope text.
#[derive(Debug, Clone)]
pub struct Classifier {
    models: Vec<LanguageModel>,
    threshold: f32,
}

impl Default for Classifier {
    fn default() -> Classifier {
        Classifier { models: Vec::new(), threshold: DEFAULT_THRESHOLD }
    }
}

/// One language's model and what its class indices mean (`None` is out of scope).
#[derive(Debug, Clone)]
struct LanguageModel {
    lang: Lang,
    labels: Vec<Option<Intent>>,
    model: Model,
}

impl Classifier {
    /// Trains one model per language that has examples. No out-of-scope class: anything
    /// unlike every intent relies on the confidence threshold alone.
    pub fn train(examples: &[Example]) -> Classifier {
        Classifier::train_with_out_of_scope(examples, &[])
    }

    /// Trains one model per language that has examples, with the out-of-scope phrases of
    /// that language as an extra "none" class.
    pub fn train_with_out_of_scope(examples: &[Example], out_of_scope: &[OutOfScope]) -> Classifier {
        let mut models = Vec::new();
        for lang in Lang::ALL {
            let mut labels: Vec<Option<Intent>> = Vec::new();
            let mut rows = Vec::new();
            for example in examples.iter().filter(|example| example.lang == lang) {
                let class = class_of(Some(example.intent), &mut labels);
                rows.push(Row { features: features::extract(lang, &example.text), class });
            }
            if rows.is_empty() {
                continue;
            }
            for phrase in out_of_scope.iter().filter(|phrase| phrase.lang == lang) {
                let class = class_of(None, &mut labels);
                rows.push(Row { features: features::extract(lang, &phrase.text), class });
            }
            let model = Model::train(labels.len(), &rows);
            models.push(LanguageModel { lang, labels, model });
        }
        Classifier { models, threshold: DEFAULT_THRESHOLD }
    }

    /// Replaces the confidence below which [`Classifier::classify`] answers `None`.
    pub fn with_threshold(mut self, threshold: f32) -> Classifier {
        self.threshold = threshold;
        self
    }

    /// The confidence below which [`Classifier::classify`] answers `None`.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The languages that have a model.
    pub fn languages(&self) -> Vec<Lang> {
        self.models.iter().map(|model| model.lang).collect()
    }

    /// The best intent whatever its confidence, or `None` if the language has no model.
    /// When the out-of-scope class wins, this is the best real intent with the (low)
    /// probability the model gives it.
    pub fn best(&self, lang: Lang, text: &str) -> Option<Match> {
        self.ranked(lang, text).into_iter().next()
    }

    /// Every intent of the language's model with its probability, most likely first.
    /// The out-of-scope class is left out, so the probabilities sum to at most 1.
    pub fn ranked(&self, lang: Lang, text: &str) -> Vec<Match> {
        let Some(language) = self.models.iter().find(|model| model.lang == lang) else {
            return Vec::new();
        };
        let probabilities = language.model.probabilities(&features::extract(lang, text));
        let mut ranked: Vec<Match> = language
            .labels
            .iter()
            .zip(probabilities)
            .filter_map(|(label, confidence)| label.map(|intent| Match { intent, confidence }))
            .collect();
        // Ties keep the labels' order (a stable sort), so results stay deterministic.
        ranked.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        ranked
    }

    /// The intent when the model is confident enough, else `None`. Also `None` when the
    /// out-of-scope class is more likely than every intent, whatever the threshold.
    pub fn classify(&self, lang: Lang, text: &str) -> Option<Match> {
        let language = self.models.iter().find(|model| model.lang == lang)?;
        let probabilities = language.model.probabilities(&features::extract(lang, text));
        let (label, confidence) = language.labels.iter().zip(probabilities).fold(
            None,
            |best: Option<(Option<Intent>, f32)>, (label, confidence)| match best {
                Some((_, top)) if top >= confidence => best,
                _ => Some((*label, confidence)),
            },
        )?;
        let intent = label?;
        (confidence >= self.threshold).then_some(Match { intent, confidence })
    }
}

/// A close call needs the runner-up at least this likely...
const CLOSE_CALL_RUNNER_UP: f32 = 0.25;
/// ...and the two together this much more likely than the rest...
const CLOSE_CALL_TOGETHER: f32 = 0.6;
/// ...and no further apart than this.
const CLOSE_CALL_GAP: f32 = 0.2;

impl Classifier {
    /// The two intents a text could equally well be: neither clearly ahead, both likely, and
    /// out of scope less likely than either.
    pub fn close_call(&self, lang: Lang, text: &str) -> Option<[Match; 2]> {
        let language = self.models.iter().find(|model| model.lang == lang)?;
        let probabilities = language.model.probabilities(&features::extract(lang, text));
        let mut out_of_scope = 0.0f32;
        let (mut first, mut second): (Option<Match>, Option<Match>) = (None, None);
        for (label, confidence) in language.labels.iter().zip(probabilities) {
            let Some(intent) = label else {
                out_of_scope = confidence;
                continue;
            };
            let candidate = Match { intent: *intent, confidence };
            if first.is_none_or(|best| confidence > best.confidence) {
                second = first;
                first = Some(candidate);
            } else if second.is_none_or(|next| confidence > next.confidence) {
                second = Some(candidate);
            }
        }
        let (first, second) = (first?, second?);
        let close = second.confidence >= CLOSE_CALL_RUNNER_UP
            && first.confidence + second.confidence >= CLOSE_CALL_TOGETHER
            && first.confidence - second.confidence <= CLOSE_CALL_GAP
            && out_of_scope < second.confidence;
        close.then_some([first, second])
    }
}

/// The class index of a label, adding the label on first sight.
fn class_of(label: Option<Intent>, labels: &mut Vec<Option<Intent>>) -> usize {
    labels.iter().position(|known| *known == label).unwrap_or_else(|| {
        labels.push(label);
        labels.len() - 1
    })
}

/// The language a text is evidently written in, judged by its script alone: Cyrillic means
/// Russian, Han characters mean Chinese. Latin text returns `None` (it may be an order ID,
/// a transliteration or English), and so does a mix.
pub fn script_language(text: &str) -> Option<Lang> {
    let (mut cyrillic, mut han, mut latin) = (0usize, 0usize, 0usize);
    for c in text.chars() {
        match c {
            '\u{0400}'..='\u{04FF}' => cyrillic += 1,
            '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' => han += 1,
            'a'..='z' | 'A'..='Z' => latin += 1,
            _ => {}
        }
    }
    let letters = cyrillic + han + latin;
    if letters == 0 {
        None
    } else if cyrillic * 10 >= letters * 7 {
        Some(Lang::Ru)
    } else if han * 10 >= letters * 5 {
        Some(Lang::Zh)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(lang: Lang, rows: &[(Intent, &str)]) -> Vec<Example> {
        rows.iter().map(|&(intent, text)| Example { lang, intent, text: text.to_owned() }).collect()
    }

    fn out_of_scope(lang: Lang, texts: &[&str]) -> Vec<OutOfScope> {
        texts.iter().map(|text| OutOfScope { lang, text: (*text).to_owned() }).collect()
    }

    /// A small English and Russian model, with out-of-scope phrases for English only.
    fn small() -> Classifier {
        let mut training = examples(
            Lang::En,
            &[
                (Intent::TrackOrder, "where is my order"),
                (Intent::TrackOrder, "track my parcel"),
                (Intent::TrackOrder, "status of order 12345678-0001"),
                (Intent::TrackOrder, "has my package shipped"),
                (Intent::RecoverPassword, "I forgot my password"),
                (Intent::RecoverPassword, "reset my password"),
                (Intent::RecoverPassword, "can't log in, lost my password"),
                (Intent::GetRefund, "I want my money back"),
                (Intent::GetRefund, "refund my order please"),
                (Intent::GetRefund, "how do I get a refund"),
            ],
        );
        training.extend(examples(
            Lang::Ru,
            &[
                (Intent::TrackOrder, "где мой заказ"),
                (Intent::TrackOrder, "статус заказа"),
                (Intent::RecoverPassword, "забыл пароль"),
                (Intent::RecoverPassword, "восстановить пароль"),
            ],
        ));
        let none = out_of_scope(Lang::En, &["what's the weather", "tell me a joke", "hello", "what is 2+2"]);
        Classifier::train_with_out_of_scope(&training, &none)
    }

    #[test]
    fn recognises_unseen_wordings() {
        let classifier = small();
        let cases = [
            (Lang::En, "where's my order 87654321-0002?", Intent::TrackOrder),
            (Lang::En, "I FORGOT the password", Intent::RecoverPassword),
            (Lang::En, "refund please", Intent::GetRefund),
            (Lang::Ru, "где заказ", Intent::TrackOrder),
            (Lang::Ru, "забыла пароль", Intent::RecoverPassword),
        ];
        for (lang, text, expected) in cases {
            let found = classifier.classify(lang, text);
            assert_eq!(found.map(|found| found.intent), Some(expected), "{lang} {text:?}: {found:?}");
        }
    }

    #[test]
    fn out_of_scope_text_is_none_but_best_still_answers() {
        let classifier = small();
        assert_eq!(classifier.classify(Lang::En, "what's the weather like"), None);
        let best = classifier.best(Lang::En, "what's the weather like").unwrap();
        assert!(best.confidence < 0.5, "{best:?}");
    }

    #[test]
    fn threshold_turns_weak_matches_into_none() {
        let classifier = small().with_threshold(0.999);
        assert_eq!(classifier.threshold(), 0.999);
        assert_eq!(classifier.classify(Lang::En, "parcel"), None);
        assert!(classifier.best(Lang::En, "parcel").is_some());
        let lenient = small().with_threshold(0.0);
        assert_eq!(lenient.classify(Lang::En, "parcel").map(|found| found.intent), Some(Intent::TrackOrder));
    }

    #[test]
    fn languages_without_a_model_give_none() {
        let classifier = small();
        assert_eq!(classifier.languages(), [Lang::En, Lang::Ru]);
        assert_eq!(classifier.best(Lang::Zh, "我的订单在哪里"), None);
        assert_eq!(classifier.classify(Lang::Zh, "我的订单在哪里"), None);
        assert_eq!(Classifier::default().best(Lang::En, "where is my order"), None);
        assert_eq!(Classifier::train(&[]).languages(), []);
    }

    #[test]
    fn ranked_lists_every_intent_once_most_likely_first() {
        let ranked = small().ranked(Lang::En, "where is my order");
        assert_eq!(ranked.len(), 3);
        assert_eq!(ranked[0].intent, Intent::TrackOrder);
        assert!(ranked.windows(2).all(|pair| pair[0].confidence >= pair[1].confidence));
        let total: f32 = ranked.iter().map(|found| found.confidence).sum();
        assert!(total <= 1.0001, "{total}");
    }

    #[test]
    fn training_is_deterministic() {
        let first = small();
        let second = small();
        for text in ["where is my order", "refund", "joke", "пароль"] {
            assert_eq!(first.ranked(Lang::En, text), second.ranked(Lang::En, text));
        }
    }

    #[test]
    fn empty_and_symbol_only_text_never_panics() {
        let classifier = small();
        for text in ["", "   ", "?!...", "12345678-0001", "😀"] {
            let _ = classifier.classify(Lang::En, text);
            assert!(classifier.best(Lang::En, text).is_some());
        }
    }

    #[test]
    fn intent_names_round_trip_and_answer_keys_use_dashes() {
        for intent in Intent::ALL {
            assert_eq!(Intent::from_name(intent.name()), Some(intent));
        }
        assert_eq!(Intent::from_name("none"), None);
        assert_eq!(Intent::SetUpShippingAddress.answer_key(), "faq-set-up-shipping-address");
    }

    #[test]
    fn script_language_by_letters() {
        let cases = [
            ("где мой заказ", Some(Lang::Ru)),
            ("我的订单在哪里", Some(Lang::Zh)),
            ("where is my order", None),
            ("заказ 12345678-0001 ok", Some(Lang::Ru)),
            ("заказ where", None),
            ("12345678-0001", None),
        ];
        for (text, expected) in cases {
            assert_eq!(script_language(text), expected, "{text}");
        }
    }
}
