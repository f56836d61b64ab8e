//! Reading the FAQ training phrases translators keep in `locales/<lang>/intents.toml`.
//!
//! The file is TOML: one key per intent (`cancel_order = ["...", "..."]`), named as in
//! [`Intent::name`], plus `none` for out-of-scope phrases. This module takes file CONTENTS,
//! not paths, so the same code reads the copies embedded in the binary and a translator's
//! override on disk; `file_label` only names the file in errors.

use crate::core::faq::{Classifier, Example, Intent, OutOfScope};
use crate::core::message::Lang;
use std::collections::HashMap;
use thiserror::Error;

/// The key of the out-of-scope phrases.
pub const NONE_KEY: &str = "none";

/// Everything wrong with an `intents.toml` that stops it from being used.
#[derive(Debug, Error, PartialEq)]
pub enum PhrasesError {
    #[error("{file}: not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: unknown intent `{name}` (expected one of the 27 intent names or `none`)")]
    UnknownIntent { file: String, name: String },
    #[error("{file}: `{key}` must be a list of strings")]
    NotAList { file: String, key: String },
    #[error("{file}: `{key}` item {index} is empty or not a string")]
    BadPhrase { file: String, key: String, index: usize },
    #[error("{file}: the phrase \"{phrase}\" is listed under both `{first}` and `{second}`")]
    Ambiguous { file: String, phrase: String, first: String, second: String },
}

/// The phrases of one language.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrases {
    pub lang: Lang,
    pub examples: Vec<Example>,
    pub out_of_scope: Vec<OutOfScope>,
}

impl Phrases {
    /// The intents this file has no phrase for, in [`Intent::ALL`] order.
    pub fn missing_intents(&self) -> Vec<Intent> {
        missing_intents(&self.examples)
    }
}

/// Parses one `intents.toml`. Keys come out in name order, phrases in file order.
pub fn parse(lang: Lang, file_label: &str, contents: &str) -> Result<Phrases, PhrasesError> {
    let table: toml::Table = toml::from_str(contents)
        .map_err(|error| PhrasesError::Syntax { file: file_label.to_owned(), message: error.to_string() })?;
    let mut phrases = Phrases { lang, examples: Vec::new(), out_of_scope: Vec::new() };
    // Lower-cased phrase -> the key it was first seen under, to catch one phrase taught as
    // two different things.
    let mut seen: HashMap<String, String> = HashMap::new();
    for (key, value) in &table {
        let intent = if key == NONE_KEY {
            None
        } else {
            let intent = Intent::from_name(key).ok_or_else(|| PhrasesError::UnknownIntent {
                file: file_label.to_owned(),
                name: key.clone(),
            })?;
            Some(intent)
        };
        let items = value
            .as_array()
            .ok_or_else(|| PhrasesError::NotAList { file: file_label.to_owned(), key: key.clone() })?;
        for (index, item) in items.iter().enumerate() {
            let text = item.as_str().map(str::trim).filter(|text| !text.is_empty()).ok_or_else(|| {
                PhrasesError::BadPhrase { file: file_label.to_owned(), key: key.clone(), index: index + 1 }
            })?;
            if let Some(first) = seen.get(&text.to_lowercase())
                && first != key
            {
                return Err(PhrasesError::Ambiguous {
                    file: file_label.to_owned(),
                    phrase: text.to_owned(),
                    first: first.clone(),
                    second: key.clone(),
                });
            }
            seen.insert(text.to_lowercase(), key.clone());
            match intent {
                Some(intent) => phrases.examples.push(Example { lang, intent, text: text.to_owned() }),
                None => phrases.out_of_scope.push(OutOfScope { lang, text: text.to_owned() }),
            }
        }
    }
    Ok(phrases)
}

/// The intents with no example in `examples`, in [`Intent::ALL`] order. The translator tool
/// (`switchboard locales check`) reports these per language.
pub fn missing_intents(examples: &[Example]) -> Vec<Intent> {
    Intent::ALL
        .into_iter()
        .filter(|intent| !examples.iter().any(|example| example.intent == *intent))
        .collect()
}

/// Trains the classifier on the phrases of every language given.
pub fn train(sets: &[Phrases]) -> Classifier {
    let examples: Vec<Example> = sets.iter().flat_map(|set| set.examples.iter().cloned()).collect();
    let out_of_scope: Vec<OutOfScope> =
        sets.iter().flat_map(|set| set.out_of_scope.iter().cloned()).collect();
    Classifier::train_with_out_of_scope(&examples, &out_of_scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
        # Comments are allowed.
        track_order = ["where is my parcel", "Track order 12345678-0001"]
        cancel_order = [
            "cancel my order",
        ]
        none = ["what's the weather like"]
    "#;

    #[test]
    fn parses_intents_and_out_of_scope_phrases() {
        let phrases = parse(Lang::En, "en/intents.toml", SMALL).unwrap();
        let texts: Vec<(Intent, &str)> =
            phrases.examples.iter().map(|example| (example.intent, example.text.as_str())).collect();
        assert_eq!(
            texts,
            [
                (Intent::CancelOrder, "cancel my order"),
                (Intent::TrackOrder, "where is my parcel"),
                (Intent::TrackOrder, "Track order 12345678-0001"),
            ]
        );
        assert!(phrases.examples.iter().all(|example| example.lang == Lang::En));
        assert_eq!(
            phrases.out_of_scope,
            [OutOfScope { lang: Lang::En, text: "what's the weather like".into() }]
        );
    }

    #[test]
    fn reports_missing_intents() {
        let phrases = parse(Lang::En, "en/intents.toml", SMALL).unwrap();
        let missing = phrases.missing_intents();
        assert_eq!(missing.len(), Intent::ALL.len() - 2);
        assert!(!missing.contains(&Intent::TrackOrder));
        assert!(!missing.contains(&Intent::CancelOrder));
        assert_eq!(missing[0], Intent::ChangeOrder);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let cases = [
            ("track_ordr = [\"x\"]", "ru/intents.toml: unknown intent `track_ordr`"),
            ("track_order = \"x\"", "ru/intents.toml: `track_order` must be a list of strings"),
            ("track_order = [\"x\", \"  \"]", "ru/intents.toml: `track_order` item 2 is empty"),
            ("track_order = [\"x\", 3]", "ru/intents.toml: `track_order` item 2 is empty or not a string"),
            ("track_order = [\"x\"", "ru/intents.toml: not valid TOML"),
            (
                "track_order = [\"Same\"]\ncancel_order = [\"same\"]",
                "is listed under both `cancel_order` and `track_order`",
            ),
        ];
        for (contents, expected) in cases {
            let error = parse(Lang::Ru, "ru/intents.toml", contents).unwrap_err().to_string();
            assert!(error.contains(expected), "{contents:?} gave {error:?}");
        }
    }

    #[test]
    fn trains_a_classifier_from_parsed_phrases() {
        let english = parse(Lang::En, "en", SMALL).unwrap();
        let russian =
            parse(Lang::Ru, "ru", "track_order = [\"где моя посылка\"]\ncancel_order = [\"отменить заказ\"]")
                .unwrap();
        let classifier = train(&[english, russian]);
        assert_eq!(classifier.languages(), [Lang::En, Lang::Ru]);
        assert_eq!(
            classifier.best(Lang::Ru, "где посылка").map(|found| found.intent),
            Some(Intent::TrackOrder)
        );
        assert_eq!(classifier.best(Lang::Zh, "退款"), None);
    }
}

/// Checks of the files we ship: every language parses, covers every intent, and the model
/// trained on them answers natural questions (written for these tests, not taken from the
/// training files) and leaves small talk alone.
#[cfg(test)]
mod shipped {
    use super::*;
    use crate::core::faq::Classifier;
    use std::sync::OnceLock;

    const INTENTS: [(Lang, &str, &str); 3] = [
        (Lang::En, "locales/en/intents.toml", include_str!("../locales/en/intents.toml")),
        (Lang::Ru, "locales/ru/intents.toml", include_str!("../locales/ru/intents.toml")),
        (Lang::Zh, "locales/zh/intents.toml", include_str!("../locales/zh/intents.toml")),
    ];

    const ANSWERS: [(&str, &str); 3] = [
        ("locales/en/faq.ftl", include_str!("../locales/en/faq.ftl")),
        ("locales/ru/faq.ftl", include_str!("../locales/ru/faq.ftl")),
        ("locales/zh/faq.ftl", include_str!("../locales/zh/faq.ftl")),
    ];

    fn shipped_phrases() -> Vec<Phrases> {
        INTENTS.iter().map(|&(lang, file, contents)| parse(lang, file, contents).unwrap()).collect()
    }

    /// Trained once for the whole test binary: the English model takes a moment in debug builds.
    fn classifier() -> &'static Classifier {
        static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
        CLASSIFIER.get_or_init(|| train(&shipped_phrases()))
    }

    #[test]
    fn every_language_covers_every_intent_with_dozens_of_phrases() {
        for phrases in shipped_phrases() {
            assert_eq!(phrases.missing_intents(), [], "{}", phrases.lang);
            let minimum = if phrases.lang == Lang::En { 40 } else { 30 };
            for intent in Intent::ALL {
                let count = phrases.examples.iter().filter(|example| example.intent == intent).count();
                assert!(count >= minimum, "{} {intent}: only {count} phrases", phrases.lang);
            }
            assert!(phrases.out_of_scope.len() >= 40, "{}: few out-of-scope phrases", phrases.lang);
        }
    }

    #[test]
    fn every_language_answers_every_intent_in_valid_fluent() {
        for (file, contents) in ANSWERS {
            let resource = fluent_syntax::parser::parse(contents)
                .unwrap_or_else(|(_, errors)| panic!("{file}: {errors:?}"));
            let mut keys = Vec::new();
            for entry in &resource.body {
                if let fluent_syntax::ast::Entry::Message(message) = entry {
                    let pattern = message
                        .value
                        .as_ref()
                        .unwrap_or_else(|| panic!("{file}: {} is empty", message.id.name));
                    let text_only = pattern.elements.iter().all(|element| {
                        matches!(element, fluent_syntax::ast::PatternElement::TextElement { .. })
                    });
                    assert!(text_only, "{file}: {} uses variables or placeables", message.id.name);
                    keys.push(message.id.name.to_owned());
                }
            }
            let expected: Vec<String> = Intent::ALL
                .into_iter()
                .filter(|intent| intent.has_answer())
                .map(Intent::answer_key)
                .collect();
            keys.sort();
            let mut sorted_expected = expected.clone();
            sorted_expected.sort();
            assert_eq!(keys, sorted_expected, "{file}");
            assert!(!contents.contains("{{"), "{file} has a template placeholder");
        }
    }

    fn accuracy(lang: Lang, cases: &[(&str, Intent)]) -> (usize, Vec<String>) {
        let mut wrong = Vec::new();
        for &(text, expected) in cases {
            let got = classifier().classify(lang, text).map(|found| found.intent);
            if got != Some(expected) {
                wrong.push(format!("{text:?}: expected {expected}, got {got:?}"));
            }
        }
        (cases.len() - wrong.len(), wrong)
    }

    fn assert_mostly_right(lang: Lang, cases: &[(&str, Intent)]) {
        let (right, wrong) = accuracy(lang, cases);
        assert!(right * 10 >= cases.len() * 9, "{lang}: {right} of {} right; wrong: {wrong:#?}", cases.len());
    }

    #[test]
    fn russian_questions_find_their_intents() {
        use Intent::*;
        assert_mostly_right(
            Lang::Ru,
            &[
                ("где сейчас мой заказ 12345678-0001?", TrackOrder),
                ("хочу отменить заказ, он мне больше не нужен", CancelOrder),
                ("как поменять адрес доставки в заказе", ChangeShippingAddress),
                ("забыла пароль от аккаунта, помогите", RecoverPassword),
                ("деньги списали, а заказ висит неоплаченным", PaymentIssue),
                ("верните деньги за сломанный чайник", GetRefund),
                ("когда мне вернут деньги за возврат?", TrackRefund),
                ("позовите живого оператора пожалуйста", ContactHumanAgent),
                ("хочу пожаловаться на курьера, он нагрубил", Complaint),
                ("можно ли оплатить заказ картой мир?", CheckPaymentMethods),
                ("сколько дней идёт доставка в Казань", DeliveryPeriod),
                ("вы доставляете в Екатеринбург?", DeliveryOptions),
                ("как удалить мой аккаунт навсегда", DeleteAccount),
                ("хочу оставить отзыв о магазине", Review),
                ("как отписаться от ваших писем", NewsletterSubscription),
                ("нужен счёт для бухгалтерии", GetInvoice),
                ("не могу зарегистрироваться, не приходит смс", RegistrationProblems),
                ("как сменить номер телефона в профиле", EditAccount),
                ("какой у вас телефон поддержки", ContactCustomerService),
                ("как оформить заказ на сайте", PlaceOrder),
                ("в каких случаях можно вернуть товар", CheckRefundPolicy),
                ("есть ли штраф за отмену заказа", CheckCancellationFee),
                ("подскажите, где находится посылка по заказу 87654321-0003", TrackOrder),
                ("заказ уже неделю не двигается, где он?", TrackOrder),
                ("отмените, пожалуйста, мой вчерашний заказ", CancelOrder),
                ("передумала покупать, как отменить?", CancelOrder),
                ("хочу вернуть деньги за куртку, она не подошла", GetRefund),
                ("деньги верните за бракованный товар!!!", GetRefund),
                ("оформил возврат две недели назад, деньги так и не пришли", TrackRefund),
                ("не могу войти в личный кабинет, пароль не помню", RecoverPassword),
                ("дайте поговорить с живым сотрудником", ContactHumanAgent),
                ("соедините с человеком а не с роботом", ContactHumanAgent),
                ("ваш курьер опоздал на три часа и нахамил, это возмутительно", Complaint),
                ("при оплате картой выдаёт ошибку", PaymentIssue),
                ("с карты списали деньги два раза", PaymentIssue),
                ("через сколько дней привезут заказ в Самару?", DeliveryPeriod),
                ("а вы в Казахстан отправляете?", DeliveryOptions),
                ("можно ли оплатить наличными при получении", CheckPaymentMethods),
                ("нужно поменять адрес, я переехала", ChangeShippingAddress),
                ("не получается добавить новый адрес в профиль", SetUpShippingAddress),
                ("как поменять электронную почту в аккаунте", EditAccount),
                ("удалите мою учетную запись и все данные", DeleteAccount),
                ("как зарегистрировать новый аккаунт?", CreateAccount),
                ("при регистрации пишет что-то не так, не регистрирует", RegistrationProblems),
                ("задолбали ваши рассылки, отпишите меня", NewsletterSubscription),
                ("хочу оставить отзыв на купленный телефон", Review),
                ("пришлите, пожалуйста, счёт на оплату для организации", GetInvoice),
                ("где в приложении посмотреть выставленные счета", CheckInvoice),
                ("как переключиться между двумя аккаунтами", SwitchAccount),
                ("как купить у вас товар?", PlaceOrder),
                ("можно ли вернуть товар надлежащего качества", CheckRefundPolicy),
                ("за отмену заказа деньги берёте?", CheckCancellationFee),
            ],
        );
    }

    #[test]
    fn chinese_questions_find_their_intents() {
        use Intent::*;
        assert_mostly_right(
            Lang::Zh,
            &[
                ("我的快递怎么还没到，帮我查一下", TrackOrder),
                ("我不想要了，帮我取消订单", CancelOrder),
                ("收货地址写错了，能改吗", ChangeShippingAddress),
                ("密码忘了，登录不上去", RecoverPassword),
                ("付款失败了，钱却扣了", PaymentIssue),
                ("东西坏了，我要退款", GetRefund),
                ("退款怎么还没到账", TrackRefund),
                ("我要找人工客服", ContactHumanAgent),
                ("你们的快递员太差了，我要投诉", Complaint),
                ("可以用微信付款吗", CheckPaymentMethods),
                ("寄到广州要几天", DeliveryPeriod),
                ("能寄到日本吗", DeliveryOptions),
                ("怎么注销我的账号", DeleteAccount),
                ("我想给这个商品写个评价", Review),
                ("怎么取消订阅你们的邮件", NewsletterSubscription),
                ("帮我开一张公司发票", GetInvoice),
                ("注册的时候一直收不到验证码", RegistrationProblems),
                ("怎么修改绑定的手机号", EditAccount),
                ("客服电话多少", ContactCustomerService),
                ("怎么在你们店里买东西", PlaceOrder),
                ("拆封后还能退货吗", CheckRefundPolicy),
                ("取消订单要扣手续费吗", CheckCancellationFee),
                ("我的包裹到哪儿了，三天没更新了", TrackOrder),
                ("订单87654321-0003发货了没有", TrackOrder),
                ("我不要了，把订单取消掉吧", CancelOrder),
                ("衣服不合适，我要退钱", GetRefund),
                ("退货一周了，钱还没退回来", TrackRefund),
                ("登录不了，密码想不起来了", RecoverPassword),
                ("别让机器人回复了，我要人工", ContactHumanAgent),
                ("快递员迟到还骂人，我要投诉他", Complaint),
                ("用信用卡付款一直提示失败", PaymentIssue),
                ("寄到成都一般要几天", DeliveryPeriod),
                ("你们能发到新加坡吗", DeliveryOptions),
                ("支持货到付款吗", CheckPaymentMethods),
                ("我搬家了，订单地址要改一下", ChangeShippingAddress),
                ("新地址一直保存不了", SetUpShippingAddress),
                ("怎么改我的昵称和头像", EditAccount),
                ("我要把账号彻底注销", DeleteAccount),
                ("新用户怎么注册账号", CreateAccount),
                ("注册的时候提示手机号已存在", RegistrationProblems),
                ("不要再给我发促销邮件了", NewsletterSubscription),
                ("怎么给买的东西写评价", Review),
                ("我需要开一张增值税发票", GetInvoice),
                ("去哪里查看我的发票", CheckInvoice),
                ("怎么换到另一个账号", SwitchAccount),
                ("我想在你们这里买个东西，怎么买", PlaceOrder),
                ("七天内可以无理由退货吗", CheckRefundPolicy),
                ("现在取消订单要收费吗", CheckCancellationFee),
            ],
        );
    }

    #[test]
    fn english_questions_find_their_intents() {
        use Intent::*;
        assert_mostly_right(
            Lang::En,
            &[
                ("hey, where the heck is my package 12345678-0001", TrackOrder),
                ("pls cancel the order i made 10 minutes ago", CancelOrder),
                ("I forgot my password and can't get in", RecoverPassword),
                ("my card got charged but the order still says unpaid", PaymentIssue),
                ("I returned the jacket two weeks ago, where is my money?", TrackRefund),
                ("can I talk to an actual person", ContactHumanAgent),
                ("do you deliver to Vancouver?", DeliveryOptions),
                ("how do I unsubscribe from your emails", NewsletterSubscription),
                ("I need an invoice for my company", GetInvoice),
                ("what's your return policy for shoes", CheckRefundPolicy),
            ],
        );
    }

    #[test]
    fn small_talk_weather_jokes_and_maths_are_out_of_scope() {
        let cases = [
            (Lang::En, "what's the weather in London tomorrow"),
            (Lang::En, "tell me a funny joke"),
            (Lang::En, "2+2"),
            (Lang::Ru, "какая погода будет завтра в Питере"),
            (Lang::Ru, "расскажи смешной анекдот"),
            (Lang::Ru, "сколько будет 2+2"),
            (Lang::Zh, "今天天气怎么样"),
            (Lang::Zh, "给我讲个笑话吧"),
            (Lang::Zh, "2+2等于几"),
        ];
        for (lang, text) in cases {
            assert_eq!(classifier().classify(lang, text), None, "{lang} {text:?}");
        }
    }
}
