//! What a customer's message names besides its intent: order numbers, email addresses, phone
//! numbers, amounts of money and dates.
//!
//! Customers put these anywhere: "my order #12345678-0001 arrived broken", "заказ №12345678 0001,
//! оплатила 1 500 ₽ вчера", "订单12345678-0001少了一件". [`extract`] finds them in one pass over
//! the characters, without a regular-expression engine (`core` is std + serde only): each
//! detector claims the characters it recognised, so a later one never reads the same digits
//! again (the digits of an order number are not also a phone number or an amount). The order
//! in which the detectors run settles such overlaps: order numbers, emails, phone numbers,
//! dates, then amounts.
//!
//! Values come out normalised, so a ticket, a lookup and a test can compare them:
//! order numbers as [`OrderId`] (the configured pattern decides), emails in lower case, phone
//! numbers as digits with a leading `+` where one was written (a Russian 11-digit number that
//! starts with 8 becomes `+7…`), amounts as `1500.50 RUB`, dates as `2026-03-12`, `03-12` when
//! no year was given, or `-1d` for "yesterday".

use crate::core::message::Lang;
use crate::core::order_id::{OrderId, OrderIdFormat};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Everything [`extract`] found, each kind in the order it appears in the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entities {
    pub order_ids: Vec<OrderId>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub amounts: Vec<Amount>,
    pub dates: Vec<DateMention>,
}

/// A sum of money as the customer wrote it: the number with `.` as the decimal point and no
/// thousands separators, and the currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub value: String,
    pub currency: Currency,
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value, self.currency.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Currency {
    Rub,
    Usd,
    Eur,
    Gbp,
    Cny,
}

impl Currency {
    /// The ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Rub => "RUB",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Cny => "CNY",
        }
    }
}

/// A day the customer named. "Yesterday" stays relative: `core` does not read the clock, and
/// whoever shows it knows when the message came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateMention {
    Day { year: Option<u16>, month: u8, day: u8 },
    DaysAgo(u16),
}

impl fmt::Display for DateMention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateMention::Day { year: Some(year), month, day } => write!(f, "{year:04}-{month:02}-{day:02}"),
            DateMention::Day { year: None, month, day } => write!(f, "{month:02}-{day:02}"),
            DateMention::DaysAgo(0) => f.write_str("0d"),
            DateMention::DaysAgo(days) => write!(f, "-{days}d"),
        }
    }
}

/// The most entities of one kind kept from one message: a customer pasting a spreadsheet
/// does not get a ticket with a thousand order numbers.
pub const MAX_PER_KIND: usize = 10;

/// Finds every entity in `text`. `lang` settles how `03/04/2026` reads (month first in English,
/// day first otherwise); `orders` is the store's order-number rule.
pub fn extract(text: &str, lang: Lang, orders: &dyn OrderIdFormat) -> Entities {
    extract_with_rest(text, lang, orders).0
}

/// [`extract`], and `text` without its email addresses and phone numbers, from the same pass.
/// An intent classifier reads the latter: the characters of "j.smith@outlook.com" or
/// "+7 903 555-12-34" say nothing about what the customer wants, and the training phrases
/// rarely have them, so they only add noise.
pub fn extract_with_rest(text: &str, lang: Lang, orders: &dyn OrderIdFormat) -> (Entities, String) {
    let mut scan = Scan::new(text);
    let mut entities = Entities { order_ids: scan.order_ids(orders), ..Entities::default() };
    let before_contacts = scan.taken.clone();
    entities.emails = scan.emails();
    entities.phones = scan.phones();
    let without_contacts = scan
        .chars
        .iter()
        .zip(before_contacts.iter().zip(&scan.taken))
        .map(|(c, (was, is))| if is & !was { ' ' } else { *c })
        .collect();
    entities.dates = scan.dates(lang);
    entities.amounts = scan.amounts();
    (entities, without_contacts)
}

/// The characters of the text, and which of them a detector has already claimed.
struct Scan {
    chars: Vec<char>,
    lower: Vec<char>,
    taken: Vec<bool>,
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}')
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{00A0}' || c == '\u{202F}' || c == '\u{2009}'
}

impl Scan {
    fn new(text: &str) -> Scan {
        // Chinese keyboards type full-width digits and signs; they mean the ASCII ones.
        let chars: Vec<char> = text
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                '－' => '-',
                '＃' => '#',
                '＋' => '+',
                '．' => '.',
                other => other,
            })
            .collect();
        let lower = chars.iter().map(|c| c.to_lowercase().next().unwrap_or(*c)).collect();
        let taken = vec![false; chars.len()];
        Scan { chars, lower, taken }
    }

    fn at(&self, index: usize) -> Option<char> {
        self.chars.get(index).copied().filter(|_| !self.taken[index])
    }

    fn take(&mut self, start: usize, end: usize) {
        self.taken[start..end].iter_mut().for_each(|taken| *taken = true);
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.chars[start..end].iter().collect()
    }

    /// Whether the letters before `index` (skipping spaces) end a word that is one of `words`.
    fn word_before(&self, index: usize, words: &[&str]) -> bool {
        let mut end = index;
        while end > 0 && is_space(self.chars[end - 1]) {
            end -= 1;
        }
        let mut start = end;
        while start > 0 && self.lower[start - 1].is_alphabetic() && !is_han(self.lower[start - 1]) {
            start -= 1;
        }
        let word: String = self.lower[start..end].iter().collect();
        words.contains(&word.as_str())
    }

    /// Order numbers: runs of ASCII letters, digits and dashes with a digit in them, alone or
    /// joined to the next one or two runs by single spaces ("12345678 0001"), accepted by the
    /// store's rule. The longest reading at each position wins. Numbers written right after
    /// "order", "заказ", "订单", `#` or `№` come first, so with a loose pattern the number the
    /// customer called an order is the one a lookup uses.
    fn order_ids(&mut self, orders: &dyn OrderIdFormat) -> Vec<OrderId> {
        let runs = self.runs(|c| c.is_ascii_alphanumeric() || is_dash(c));
        let mut found: Vec<(bool, OrderId)> = Vec::new();
        let mut index = 0;
        while index < runs.len() {
            let mut best = None;
            for len in (1..=3).rev() {
                let Some(last) = runs.get(index + len - 1) else { continue };
                let joined_by_single_spaces = runs[index..index + len]
                    .windows(2)
                    .all(|pair| pair[1].0 == pair[0].1 + 1 && is_space(self.chars[pair[0].1]));
                if !joined_by_single_spaces {
                    continue;
                }
                let (start, end) = (runs[index].0, last.1);
                let candidate = self.text(start, end);
                if !candidate.chars().any(|c| c.is_ascii_digit()) {
                    continue;
                }
                // A number written after `+` is a phone number, whatever the pattern says.
                if start > 0 && self.chars[start - 1] == '+' {
                    continue;
                }
                if let Ok(order_id) = OrderId::parse(&candidate, orders) {
                    best = Some((len, start, end, order_id));
                    break;
                }
            }
            match best {
                Some((len, start, end, order_id)) => {
                    let marked = self.order_marker_before(start);
                    self.take(start, end);
                    if !found.iter().any(|(_, known)| *known == order_id) {
                        found.push((marked, order_id));
                    }
                    index += len;
                }
                None => index += 1,
            }
        }
        found.sort_by_key(|(marked, _)| !*marked);
        found.into_iter().map(|(_, order_id)| order_id).take(MAX_PER_KIND).collect()
    }

    fn order_marker_before(&self, start: usize) -> bool {
        let mut index = start;
        while index > 0 && (is_space(self.chars[index - 1]) || self.chars[index - 1] == ':') {
            index -= 1;
        }
        let previous = index.checked_sub(1).map(|i| self.chars[i]);
        if matches!(previous, Some('#' | '№' | '＃')) {
            return true;
        }
        let han: String = self.chars[index.saturating_sub(2)..index].iter().collect();
        han.ends_with("订单") || han.ends_with("单号") || self.word_before(index, ORDER_WORDS)
    }

    /// Maximal runs of unclaimed characters that satisfy `keep`, as `(start, end)`.
    fn runs(&self, keep: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        let mut start = None;
        for index in 0..=self.chars.len() {
            let inside = self.at(index).is_some_and(&keep);
            match (inside, start) {
                (true, None) => start = Some(index),
                (false, Some(begin)) => {
                    runs.push(trim_dashes(&self.chars, begin, index));
                    start = None;
                }
                _ => {}
            }
        }
        runs.retain(|(start, end)| start < end);
        runs
    }

    /// Email addresses: a local part, `@`, and a domain of at least two labels whose last one
    /// is letters only.
    fn emails(&mut self) -> Vec<String> {
        let runs = self.runs(|c| c.is_ascii_alphanumeric() || "._%+-@".contains(c));
        let mut found = Vec::new();
        for (start, end) in runs {
            let mut end = end;
            while end > start && matches!(self.chars[end - 1], '.' | '-') {
                end -= 1;
            }
            let candidate = self.text(start, end).to_ascii_lowercase();
            if is_email(&candidate) {
                self.take(start, end);
                if found.len() < MAX_PER_KIND && !found.contains(&candidate) {
                    found.push(candidate);
                }
            }
        }
        found
    }

    /// Phone numbers: with a `+` in front, 8 to 15 digits; without one, 10 or 11 (a national
    /// number: Russian with its 8, Chinese mobiles), with spaces, dashes, dots or brackets
    /// between groups. Fewer digits are not a phone number: that keeps prices, dates and short
    /// codes out; more without a `+` are more likely an account or card number.
    fn phones(&mut self) -> Vec<String> {
        let mut found = Vec::new();
        let mut index = 0;
        while index < self.chars.len() {
            let starts = match self.at(index) {
                Some('+') => self.at(index + 1).is_some_and(|c| c.is_ascii_digit()),
                Some(c) => (c.is_ascii_digit() || c == '(') && !self.alnum_before(index),
                None => false,
            };
            if !starts {
                index += 1;
                continue;
            }
            let (end, digits) = self.phone_from(index);
            let plus = self.chars[index] == '+';

            let digits_allowed = if plus { 8..=15 } else { 10..=11 };
            if digits_allowed.contains(&digits.len()) && !self.currency_after(end) && !self.alnum_at(end) {
                self.take(index, end);
                let phone = normalise_phone(plus, &digits);
                if found.len() < MAX_PER_KIND && !found.contains(&phone) {
                    found.push(phone);
                }
                index = end;
            } else {
                index = end.max(index + 1);
            }
        }
        found
    }

    /// Reads a phone-shaped stretch from `start`: its end and its digits.
    fn phone_from(&self, start: usize) -> (usize, String) {
        let mut digits = String::new();
        let mut end = start;
        let mut index = start;
        if self.chars[index] == '+' {
            index += 1;
        }
        while let Some(c) = self.at(index) {
            if c.is_ascii_digit() {
                digits.push(c);
                index += 1;
                end = index;
            } else if c == ')'
                || ((is_space(c) || is_dash(c) || matches!(c, '(' | '.'))
                    && self.at(index + 1).is_some_and(|next| next.is_ascii_digit() || next == '('))
            {
                // A separator between digit groups, or the bracket closing an area code.
                index += 1;
            } else {
                break;
            }
            if digits.len() > 15 {
                break;
            }
        }
        (end, digits)
    }

    fn alnum_before(&self, index: usize) -> bool {
        index > 0 && self.chars[index - 1].is_alphanumeric() && !is_han(self.chars[index - 1])
    }

    fn alnum_at(&self, index: usize) -> bool {
        self.chars.get(index).is_some_and(|c| c.is_alphanumeric() && !is_han(*c))
    }

    /// Dates: `2026-03-12`, `12.03.2026`, `12.03`, `3/12/2026`, "March 12", "12 марта",
    /// "3月12日", and days counted back from the message ("yesterday", "3 дня назад", "前天").
    fn dates(&mut self, lang: Lang) -> Vec<DateMention> {
        let mut found: Vec<(usize, DateMention)> = Vec::new();
        self.numeric_dates(lang, &mut found);
        self.month_name_dates(&mut found);
        self.relative_dates(&mut found);
        found.sort_by_key(|(start, _)| *start);
        let mut dates: Vec<DateMention> = Vec::new();
        for (_, date) in found {
            if dates.len() < MAX_PER_KIND && !dates.contains(&date) {
                dates.push(date);
            }
        }
        dates
    }

    fn numeric_dates(&mut self, lang: Lang, found: &mut Vec<(usize, DateMention)>) {
        let runs = self.runs(|c| c.is_ascii_digit() || matches!(c, '.' | '/' | '-'));
        for (start, end) in runs {
            let mut end = end;
            while end > start && matches!(self.chars[end - 1], '.' | '/' | '-') {
                end -= 1;
            }
            let text = self.text(start, end);
            let Some(separator) = text.chars().find(|c| matches!(c, '.' | '/' | '-')) else { continue };
            let parts: Vec<&str> = text.split(separator).collect();
            if parts.iter().any(|part| part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit())) {
                continue;
            }
            let numbers: Vec<u32> = parts.iter().filter_map(|part| part.parse().ok()).collect();
            let date = match (parts.as_slice(), numbers.as_slice()) {
                ([y, _, _], &[year, month, day]) if y.len() == 4 => day_of(Some(year), month, day),
                ([_, _, y], &[a, b, year]) if y.len() == 4 || y.len() == 2 => {
                    let year = if year < 100 { 2000 + year } else { year };
                    let month_first = separator == '/' && lang == Lang::En;
                    let (month, day) = if month_first { (a, b) } else { (b, a) };
                    day_of(Some(year), month, day).or_else(|| day_of(Some(year), day, month))
                }
                // "12.03" alone: only with a dot, the way Russian and Chinese customers write a
                // day and month; "3/12" is too often a fraction or a count.
                ([d, m], &[day, month]) if separator == '.' && d.len() <= 2 && m.len() == 2 => {
                    if self.currency_after(end) || self.currency_before(start) {
                        None
                    } else {
                        day_of(None, month, day)
                    }
                }
                _ => None,
            };
            if let Some(date) = date {
                self.take(start, end);
                found.push((start, date));
            }
        }
    }

    fn month_name_dates(&mut self, found: &mut Vec<(usize, DateMention)>) {
        // "3月12日", "2026年3月12日", "3月12号".
        let mut index = 0;
        while index < self.chars.len() {
            if let Some((start, end, date)) = self.han_date_at(index) {
                self.take(start, end);
                found.push((start, date));
                index = end;
            } else {
                index += 1;
            }
        }
        // "March 12", "12 March 2026", "12th of March", "12 марта", "12-го марта".
        let words = self.runs(|c| c.is_alphanumeric() && !is_han(c));
        for (position, &(start, end)) in words.iter().enumerate() {
            let word: String = self.lower[start..end].iter().collect();
            let Some(month) = month_number(&word) else { continue };
            let number_at = |at: Option<&(usize, usize)>| {
                at.and_then(|&(s, e)| {
                    let text: String = self.lower[s..e].iter().collect();
                    let digits = text.trim_end_matches(|c: char| c.is_alphabetic());
                    let suffix = &text[digits.len()..];
                    let allowed = ["", "st", "nd", "rd", "th", "го", "е"].contains(&suffix);
                    (allowed && (1..=2).contains(&digits.len())).then(|| digits.parse::<u32>().ok()).flatten()
                })
            };
            let year_at = |at: Option<&(usize, usize)>| {
                at.and_then(|&(s, e)| {
                    let text: String = self.chars[s..e].iter().collect();
                    (text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| text.parse::<u32>().ok())
                        .flatten()
                })
            };
            let before = position.checked_sub(1).and_then(|p| words.get(p));
            let before_of = position.checked_sub(2).and_then(|p| words.get(p)).filter(|_| {
                before.is_some_and(|&(s, e)| {
                    ["of"].contains(&self.lower[s..e].iter().collect::<String>().as_str())
                })
            });
            let after = words.get(position + 1);
            let (day, day_span, year_word) = if let Some(day) = number_at(before) {
                (day, before, after)
            } else if let Some(day) = number_at(before_of) {
                (day, before_of, after)
            } else if let Some(day) = number_at(after) {
                (day, after, words.get(position + 2))
            } else {
                continue;
            };
            // "may" is also a verb: only "May 5", "5 May" count, which the number settles.
            let year = year_at(year_word);
            let Some(date) = day_of(year, month, day) else { continue };
            let first = day_span.map_or(start, |&(s, _)| s.min(start));
            let mut last = day_span.map_or(end, |&(_, e)| e.max(end));
            if year.is_some()
                && let Some(&(_, e)) = year_word
            {
                last = last.max(e);
            }
            if self.taken[first..last].iter().any(|taken| *taken) {
                continue;
            }
            self.take(first, last);
            found.push((first, date));
        }
    }

    /// "2026年3月12日" or "3月12日" / "3月12号" starting at `index`.
    fn han_date_at(&self, index: usize) -> Option<(usize, usize, DateMention)> {
        let number = |from: usize| {
            let mut to = from;
            while self.at(to).is_some_and(|c| c.is_ascii_digit()) {
                to += 1;
            }
            let text = self.text(from, to);
            (to > from && to - from <= 4)
                .then(|| (text.parse::<u32>().ok(), to))
                .and_then(|(n, to)| Some((n?, to)))
        };
        if self.alnum_before(index) || !self.at(index).is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        let (first, after_first) = number(index)?;
        let (year, month, after_month) = if self.at(after_first) == Some('年') {
            let (month, to) = number(after_first + 1)?;
            (Some(first), month, to)
        } else {
            (None, first, after_first)
        };
        if self.at(after_month) != Some('月') {
            return None;
        }
        let (day, after_day) = number(after_month + 1)?;
        if !matches!(self.at(after_day), Some('日' | '号')) {
            return None;
        }
        Some((index, after_day + 1, day_of(year, month, day)?))
    }

    fn relative_dates(&mut self, found: &mut Vec<(usize, DateMention)>) {
        for &(phrase, days) in RELATIVE_DAYS {
            let pattern: Vec<char> = phrase.chars().collect();
            let mut index = 0;
            while index + pattern.len() <= self.lower.len() {
                let end = index + pattern.len();
                let whole_word = is_han(pattern[0])
                    || (!self.alnum_before(index)
                        && !self.alnum_at(end)
                        && !self.lower[index].is_ascii_digit());
                if self.lower[index..end] == pattern[..]
                    && whole_word
                    && !self.taken[index..end].iter().any(|t| *t)
                {
                    self.take(index, end);
                    found.push((index, DateMention::DaysAgo(days)));
                    index = end;
                } else {
                    index += 1;
                }
            }
        }
        // "3 days ago", "three days ago", "3 дня назад", "три дня назад", "3天前", "两天前".
        let mut runs = self.runs(|c| c.is_ascii_digit() || (c.is_alphabetic() && !is_han(c)));
        // A Han numeral is a word of its own: "两天前" is 两 + 天前.
        runs.extend((0..self.chars.len()).filter(|&i| self.at(i).is_some_and(is_han)).map(|i| (i, i + 1)));
        runs.sort_unstable();
        for (start, end) in runs {
            if self.taken[start..end].iter().any(|taken| *taken) {
                continue;
            }
            let word: String = self.lower[start..end].iter().collect();
            let count = match word.parse::<u16>() {
                Ok(count) => count,
                Err(_) => match small_number(&word) {
                    Some(count) => count,
                    None => continue,
                },
            };
            let rest: String = self.lower[end..(end + 16).min(self.lower.len())].iter().collect();
            let rest = rest.trim_start();
            let matched = DAYS_AGO_SUFFIXES.iter().find(|suffix| {
                rest.starts_with(*suffix)
                    && !rest[suffix.len()..].chars().next().is_some_and(|c| c.is_alphabetic() && !is_han(c))
            });
            if let Some(suffix) = matched
                && count <= 366
            {
                let spaces = self.lower[end..].iter().take_while(|c| is_space(**c)).count();
                let span_end = end + spaces + suffix.chars().count();
                self.take(start, span_end);
                found.push((start, DateMention::DaysAgo(count)));
            }
        }
    }

    /// Amounts: a number with a currency sign, code or word right before or after it.
    fn amounts(&mut self) -> Vec<Amount> {
        let runs = self.runs(|c| c.is_ascii_digit() || matches!(c, '.' | ',') || is_space(c));
        let mut found = Vec::new();
        for (start, end) in runs {
            // A run may hold several numbers separated by spaces ("2 items for 500 ₽"): try
            // the longest tail that still reads as one number, so "for 1 500 ₽" is 1500.
            let mut end = end;
            while end > start && !self.chars[end - 1].is_ascii_digit() {
                end -= 1;
            }
            let mut start = start;
            while start < end && !self.chars[start].is_ascii_digit() {
                start += 1;
            }
            if start >= end {
                continue;
            }
            let currency = self.currency_after(end).then(|| self.currency_word_after(end)).flatten();
            let currency = currency.or_else(|| self.currency_before_symbol(start));
            let Some(currency) = currency else { continue };
            let Some((value, first)) = self.number_ending_at(start, end) else { continue };
            self.take(first, end);
            let amount = Amount { value, currency };
            if found.len() < MAX_PER_KIND && !found.contains(&amount) {
                found.push(amount);
            }
        }
        found
    }

    /// The number that ends at `end`, reading back no further than `start`: digits with
    /// thousands separators (spaces, or `,`/`.` before exactly three digits) and a decimal part.
    fn number_ending_at(&self, start: usize, end: usize) -> Option<(String, usize)> {
        let text = self.text(start, end);
        let groups: Vec<&str> = text.split(is_space).collect();
        // Take groups from the end while they look like thousands groups.
        let mut used = 1;
        while used < groups.len() {
            let group = groups[groups.len() - used - 1];
            let next = groups[groups.len() - used];
            let next_int = next.split(['.', ',']).next().unwrap_or("");
            let fits = !group.is_empty()
                && group.len() <= 3
                && group.bytes().all(|b| b.is_ascii_digit())
                && next_int.len() == 3;
            if !fits {
                break;
            }
            used += 1;
        }
        let number: String = groups[groups.len() - used..].concat();
        let first =
            end - groups[groups.len() - used..].iter().map(|g| g.chars().count()).sum::<usize>() - (used - 1);
        let value = normalise_number(&number)?;
        Some((value, first))
    }

    fn currency_after(&self, end: usize) -> bool {
        self.currency_word_after(end).is_some()
    }

    fn currency_word_after(&self, end: usize) -> Option<Currency> {
        let mut index = end;
        while self.chars.get(index).is_some_and(|c| is_space(*c)) {
            index += 1;
        }
        let rest: String =
            self.lower[index.min(self.lower.len())..(index + 12).min(self.lower.len())].iter().collect();
        CURRENCY_WORDS.iter().find_map(|&(word, currency)| {
            let tail = rest.strip_prefix(word)?;
            let next = tail.chars().next();
            // A word must end there ("руб" but not "рубашка"); signs and Chinese need not.
            let ends = !word.chars().all(char::is_alphabetic)
                || is_han(word.chars().next().unwrap_or(' '))
                || !next.is_some_and(|c| c.is_alphabetic() && !is_han(c));
            ends.then_some(currency)
        })
    }

    fn currency_before(&self, start: usize) -> bool {
        self.currency_before_symbol(start).is_some()
    }

    /// `$49.99`, `€ 30`, `¥200`, `USD 50`, `RUB 1500`.
    fn currency_before_symbol(&self, start: usize) -> Option<Currency> {
        let mut index = start;
        while index > 0 && is_space(self.chars[index - 1]) {
            index -= 1;
        }
        let before: String =
            self.chars[index.saturating_sub(3)..index].iter().collect::<String>().to_lowercase();
        CURRENCY_PREFIXES.iter().find_map(|&(prefix, currency)| {
            if !before.ends_with(prefix) {
                return None;
            }
            let at = index.checked_sub(prefix.chars().count())?;
            let word_start = !prefix.chars().all(char::is_alphabetic) || !self.alnum_before(at);
            word_start.then_some(currency)
        })
    }
}

fn trim_dashes(chars: &[char], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_dash(chars[start]) {
        start += 1;
    }
    while end > start && is_dash(chars[end - 1]) {
        end -= 1;
    }
    (start, end)
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}')
}

fn is_email(candidate: &str) -> bool {
    let Some((local, domain)) = candidate.split_once('@') else { return false };
    if local.is_empty() || local.len() > 64 || domain.contains('@') || local.starts_with('.') {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
}

fn normalise_phone(plus: bool, digits: &str) -> String {
    if !plus && digits.len() == 11 && digits.starts_with('8') {
        return format!("+7{}", &digits[1..]);
    }
    if plus { format!("+{digits}") } else { digits.to_owned() }
}

/// `1 500,50` → `1500.50`, `1,500` → `1500`, `49.99` → `49.99`, `1.500` → `1500`.
fn normalise_number(text: &str) -> Option<String> {
    let last_separator = text.rfind(['.', ',']);
    let (integer, fraction) = match last_separator {
        Some(at) if (1..=2).contains(&(text.len() - at - 1)) => (&text[..at], Some(&text[at + 1..])),
        _ => (text, None),
    };
    // What is left of the integer part may only hold thousands separators before 3 digits.
    let groups: Vec<&str> = integer.split(['.', ',']).collect();
    if groups.iter().skip(1).any(|group| group.len() != 3) || groups.iter().any(|group| group.is_empty()) {
        return None;
    }
    let digits: String = groups.concat();
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    let integer = if trimmed.is_empty() { "0" } else { trimmed };
    Some(match fraction {
        Some(fraction) if fraction.bytes().all(|b| b.is_ascii_digit()) => format!("{integer}.{fraction}"),
        Some(_) => return None,
        None => integer.to_owned(),
    })
}

fn day_of(year: Option<u32>, month: u32, day: u32) -> Option<DateMention> {
    let year = match year {
        Some(year) if (1990..=2100).contains(&year) => Some(year as u16),
        Some(_) => return None,
        None => None,
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => 29,
        _ => return None,
    };
    (1..=days_in_month).contains(&day).then_some(DateMention::Day {
        year,
        month: month as u8,
        day: day as u8,
    })
}

fn month_number(word: &str) -> Option<u32> {
    MONTHS.iter().find(|(names, _)| names.contains(&word)).map(|(_, number)| *number)
}

/// "three", "три", "两": the counts people spell out when they say how many days ago.
fn small_number(word: &str) -> Option<u16> {
    const WORDS: &[(&[&str], u16)] = &[
        (&["one", "a", "один", "одна", "一"], 1),
        (&["two", "couple", "два", "две", "两", "二"], 2),
        (&["three", "три", "三"], 3),
        (&["four", "четыре", "四"], 4),
        (&["five", "пять", "五"], 5),
        (&["six", "шесть", "六"], 6),
        (&["seven", "семь", "七"], 7),
        (&["ten", "десять", "十"], 10),
    ];
    WORDS.iter().find(|(words, _)| words.contains(&word)).map(|(_, count)| *count)
}

/// Words that call the number after them an order number.
const ORDER_WORDS: &[&str] =
    &["order", "orders", "no", "number", "заказ", "заказа", "заказу", "заказом", "номер", "номером"];

const MONTHS: &[(&[&str], u32)] = &[
    (&["january", "jan", "января", "январь", "янв"], 1),
    (&["february", "feb", "февраля", "февраль", "фев"], 2),
    (&["march", "mar", "марта", "март", "мар"], 3),
    (&["april", "apr", "апреля", "апрель", "апр"], 4),
    (&["may", "мая", "май"], 5),
    (&["june", "jun", "июня", "июнь", "июн"], 6),
    (&["july", "jul", "июля", "июль", "июл"], 7),
    (&["august", "aug", "августа", "август", "авг"], 8),
    (&["september", "sep", "sept", "сентября", "сентябрь", "сен"], 9),
    (&["october", "oct", "октября", "октябрь", "окт"], 10),
    (&["november", "nov", "ноября", "ноябрь", "ноя"], 11),
    (&["december", "dec", "декабря", "декабрь", "дек"], 12),
];

/// Whole words (or Chinese words) naming a day relative to the message, longest first so
/// "the day before yesterday" is not read as "yesterday".
const RELATIVE_DAYS: &[(&str, u16)] = &[
    ("the day before yesterday", 2),
    ("day before yesterday", 2),
    ("позавчера", 2),
    ("前天", 2),
    ("yesterday", 1),
    ("вчера", 1),
    ("昨天", 1),
    ("today", 0),
    ("сегодня", 0),
    ("今天", 0),
    ("a week ago", 7),
    ("неделю назад", 7),
    ("一周前", 7),
    ("一个星期前", 7),
];

const DAYS_AGO_SUFFIXES: &[&str] =
    &["days ago", "day ago", "дней назад", "дня назад", "день назад", "天前", "天之前"];

/// Currency signs, codes and words written after the number, longest first within a prefix.
const CURRENCY_WORDS: &[(&str, Currency)] = &[
    ("₽", Currency::Rub),
    ("рублей", Currency::Rub),
    ("рубля", Currency::Rub),
    ("рубль", Currency::Rub),
    ("руб.", Currency::Rub),
    ("руб", Currency::Rub),
    ("р.", Currency::Rub),
    ("р", Currency::Rub),
    ("rub", Currency::Rub),
    ("rubles", Currency::Rub),
    ("roubles", Currency::Rub),
    ("$", Currency::Usd),
    ("usd", Currency::Usd),
    ("dollars", Currency::Usd),
    ("dollar", Currency::Usd),
    ("долларов", Currency::Usd),
    ("доллара", Currency::Usd),
    ("доллар", Currency::Usd),
    ("€", Currency::Eur),
    ("eur", Currency::Eur),
    ("euros", Currency::Eur),
    ("euro", Currency::Eur),
    ("евро", Currency::Eur),
    ("£", Currency::Gbp),
    ("gbp", Currency::Gbp),
    ("pounds", Currency::Gbp),
    ("¥", Currency::Cny),
    ("元", Currency::Cny),
    ("块钱", Currency::Cny),
    ("块", Currency::Cny),
    ("人民币", Currency::Cny),
    ("rmb", Currency::Cny),
    ("cny", Currency::Cny),
    ("yuan", Currency::Cny),
    ("юаней", Currency::Cny),
    ("юаня", Currency::Cny),
    ("юань", Currency::Cny),
];

/// Currency signs and codes written before the number.
const CURRENCY_PREFIXES: &[(&str, Currency)] = &[
    ("$", Currency::Usd),
    ("usd", Currency::Usd),
    ("€", Currency::Eur),
    ("eur", Currency::Eur),
    ("£", Currency::Gbp),
    ("gbp", Currency::Gbp),
    ("¥", Currency::Cny),
    ("￥", Currency::Cny),
    ("人民币", Currency::Cny),
    ("rmb", Currency::Cny),
    ("cny", Currency::Cny),
    ("₽", Currency::Rub),
    ("rub", Currency::Rub),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::order_id::testing::MarketplaceFormat;

    fn strings(text: &str, lang: Lang) -> [Vec<String>; 5] {
        let found = extract(text, lang, &MarketplaceFormat);
        [
            found.order_ids.iter().map(|id| id.as_str().to_owned()).collect(),
            found.emails,
            found.phones,
            found.amounts.iter().map(ToString::to_string).collect(),
            found.dates.iter().map(ToString::to_string).collect(),
        ]
    }

    /// `(lang, text, orders, emails, phones, amounts, dates)`.
    type Case = (
        Lang,
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    );

    fn check(cases: &[Case]) {
        for &(lang, text, orders, emails, phones, amounts, dates) in cases {
            let expected = [orders, emails, phones, amounts, dates]
                .map(|list| list.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>());
            assert_eq!(strings(text, lang), expected, "{text:?}");
        }
    }

    const NONE: &[&str] = &[];

    #[test]
    fn order_numbers_anywhere_in_a_message() {
        use Lang::*;
        check(&[
            (En, "my order 12345678-0001 arrived broken", &["12345678-0001"], NONE, NONE, NONE, NONE),
            (En, "12345678-0001", &["12345678-0001"], NONE, NONE, NONE, NONE),
            (En, "Order #12345678-0001-2, please help!", &["12345678-0001-2"], NONE, NONE, NONE, NONE),
            (Ru, "заказ №12345678 0001 пришёл разбитым", &["12345678-0001"], NONE, NONE, NONE, NONE),
            (Ru, "Заказ № 12345678–0042.", &["12345678-0042"], NONE, NONE, NONE, NONE),
            (Zh, "订单12345678-0001少了一件", &["12345678-0001"], NONE, NONE, NONE, NONE),
            (Zh, "我的订单号：12345678-0001，还没到", &["12345678-0001"], NONE, NONE, NONE, NONE),
            (Zh, "１２３４５６７８－０００１", &["12345678-0001"], NONE, NONE, NONE, NONE),
            (
                En,
                "orders 12345678-0001 and 87654321-0002, again 12345678-0001",
                &["12345678-0001", "87654321-0002"],
                NONE,
                NONE,
                NONE,
                NONE,
            ),
            (En, "code 1234-5678 and 123456780001", NONE, NONE, NONE, NONE, NONE),
        ]);
    }

    #[test]
    fn emails_and_phone_numbers() {
        use Lang::*;
        check(&[
            (En, "write to Anna.K@Mail.ru.", NONE, &["anna.k@mail.ru"], NONE, NONE, NONE),
            (
                En,
                "mail me: a_b+shop@sub.example.co.uk",
                NONE,
                &["a_b+shop@sub.example.co.uk"],
                NONE,
                NONE,
                NONE,
            ),
            (En, "not an email: a@b, @home, x@y.1", NONE, NONE, NONE, NONE, NONE),
            (Ru, "позвоните 8 (916) 123-45-67", NONE, NONE, &["+79161234567"], NONE, NONE),
            (Ru, "мой номер +7 916 123 45 67", NONE, NONE, &["+79161234567"], NONE, NONE),
            (Zh, "电话13800138000，谢谢", NONE, NONE, &["13800138000"], NONE, NONE),
            (En, "call +44 20 7946 0958 after 5", NONE, NONE, &["+442079460958"], NONE, NONE),
            (
                En,
                "order 12345678-0001, phone 89161234567",
                &["12345678-0001"],
                NONE,
                &["+79161234567"],
                NONE,
                NONE,
            ),
        ]);
    }

    #[test]
    fn amounts_with_their_currency() {
        use Lang::*;
        check(&[
            (Ru, "оплатила 1 500 ₽", NONE, NONE, NONE, &["1500 RUB"], NONE),
            (Ru, "списали 2500 руб. дважды", NONE, NONE, NONE, &["2500 RUB"], NONE),
            (Ru, "вернули 1 250,50 рублей", NONE, NONE, NONE, &["1250.50 RUB"], NONE),
            (En, "I was charged $49.99 twice", NONE, NONE, NONE, &["49.99 USD"], NONE),
            (En, "paid 1,200 USD and €30", NONE, NONE, NONE, &["1200 USD", "30 EUR"], NONE),
            (Zh, "付了200元", NONE, NONE, NONE, &["200 CNY"], NONE),
            (Zh, "退款¥99.5还没到", NONE, NONE, NONE, &["99.5 CNY"], NONE),
            (Zh, "扣了两次，每次人民币300", NONE, NONE, NONE, &["300 CNY"], NONE),
            (Ru, "купила 2 рубашки", NONE, NONE, NONE, NONE, NONE),
            (En, "2 items", NONE, NONE, NONE, NONE, NONE),
        ]);
    }

    #[test]
    fn dates_absolute_and_relative() {
        use Lang::*;
        check(&[
            (En, "ordered on 2026-03-12", NONE, NONE, NONE, NONE, &["2026-03-12"]),
            (Ru, "заказ от 12.03.2026", NONE, NONE, NONE, NONE, &["2026-03-12"]),
            (Ru, "обещали привезти 12.03", NONE, NONE, NONE, NONE, &["03-12"]),
            (En, "it was due 3/12/2026", NONE, NONE, NONE, NONE, &["2026-03-12"]),
            (Ru, "должны были доставить 3/12/2026", NONE, NONE, NONE, NONE, &["2026-12-03"]),
            (En, "since March 12th", NONE, NONE, NONE, NONE, &["03-12"]),
            (En, "on the 5th of May 2026", NONE, NONE, NONE, NONE, &["2026-05-05"]),
            (En, "may I ask something", NONE, NONE, NONE, NONE, NONE),
            (Ru, "жду с 12 марта", NONE, NONE, NONE, NONE, &["03-12"]),
            (Zh, "3月12日下的单", NONE, NONE, NONE, NONE, &["03-12"]),
            (Zh, "2026年3月12日", NONE, NONE, NONE, NONE, &["2026-03-12"]),
            (En, "I wrote yesterday", NONE, NONE, NONE, NONE, &["-1d"]),
            (Ru, "писала позавчера и вчера", NONE, NONE, NONE, NONE, &["-2d", "-1d"]),
            (Zh, "昨天发的", NONE, NONE, NONE, NONE, &["-1d"]),
            (En, "paid 3 days ago", NONE, NONE, NONE, NONE, &["-3d"]),
            (Ru, "оплатил 3 дня назад", NONE, NONE, NONE, NONE, &["-3d"]),
            (Zh, "3天前付的款", NONE, NONE, NONE, NONE, &["-3d"]),
            (Ru, "писал три дня назад", NONE, NONE, NONE, NONE, &["-3d"]),
            (Zh, "两天前就显示派送中", NONE, NONE, NONE, NONE, &["-2d"]),
            (En, "two days ago", NONE, NONE, NONE, NONE, &["-2d"]),
            (En, "31.02 is no date, nor 2026-13-01", NONE, NONE, NONE, NONE, NONE),
        ]);
    }

    #[test]
    fn contacts_are_blanked_for_the_classifier() {
        let text = "I need a human, mail j.s@x.com or +7 903 555-12-34, order 12345678-0001";
        let expected = text.replace("j.s@x.com", &" ".repeat(9)).replace("+7 903 555-12-34", &" ".repeat(16));
        assert_eq!(extract_with_rest(text, Lang::En, &MarketplaceFormat).1, expected);
    }

    #[test]
    fn everything_at_once() {
        check(&[(
            Lang::Ru,
            "Здравствуйте! Заказ №12345678-0042 от 12.03.2026 на 1 500 ₽ пришёл разбитым. Тел. 8-916-123-45-67, почта anna@mail.ru",
            &["12345678-0042"],
            &["anna@mail.ru"],
            &["+79161234567"],
            &["1500 RUB"],
            &["2026-03-12"],
        )]);
    }

    #[test]
    fn strange_input_never_panics_and_is_bounded() {
        let long = "12345678-0001 ".repeat(200) + &"a@b.cd ".repeat(200);
        let numbers: String = (0..200).map(|n| format!("{:08}-{:04} ", n, n)).collect();
        for text in [
            "",
            " ",
            "#",
            "№",
            "+",
            "@",
            "...",
            "😀💥",
            "1.",
            ".1",
            "$",
            "¥",
            "年月日",
            "0月0日",
            &long,
            &numbers,
        ] {
            let found = extract(text, Lang::En, &MarketplaceFormat);
            assert!(found.order_ids.len() <= MAX_PER_KIND);
            assert!(found.emails.len() <= MAX_PER_KIND);
        }
        assert_eq!(extract(&numbers, Lang::En, &MarketplaceFormat).order_ids.len(), MAX_PER_KIND);
    }
}
