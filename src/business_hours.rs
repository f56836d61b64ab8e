//! Business hours (`SWITCHBOARD_BUSINESS_HOURS`, e.g. `Mon-Fri 09:00-18:00, Sat 10:00-14:00
//! Europe/Berlin`), the dates the team is closed (`SWITCHBOARD_HOLIDAYS`), and the "agents are
//! back at ..." text queued customers get outside them. A module of its own: `config` parses
//! it and the app hands it to the engine, and neither should import the console for it.
//!
//! The time zone is required and comes last: an IANA name, read through the tz database that
//! chrono-tz carries (so daylight saving time moves the hours with the clocks), or a fixed
//! offset (`UTC`, `UTC+3`, `+03:00`). Opening times are wall-clock times in that zone.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use std::fmt;

/// What is wrong with a business-hours value, without the example (the caller adds that once).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HoursError(String);

/// Where the opening times are read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Zone {
    Iana(Tz),
    Offset(FixedOffset),
}

impl Zone {
    fn parse(text: &str) -> Result<Zone, HoursError> {
        let named = text.parse::<Tz>().ok().or_else(|| {
            // `europe/berlin` is meant as Europe/Berlin; chrono-tz matches exact names only.
            chrono_tz::TZ_VARIANTS.iter().copied().find(|zone| zone.name().eq_ignore_ascii_case(text))
        });
        if let Some(zone) = named {
            return Ok(Zone::Iana(zone));
        }
        let signed = text.strip_prefix("UTC").or_else(|| text.strip_prefix("GMT")).unwrap_or(text);
        let (sign, rest) = match signed.chars().next() {
            Some('+') => (1, &signed[1..]),
            Some('-') => (-1, &signed[1..]),
            _ => {
                return Err(HoursError(format!(
                    "{text:?} is not a time zone; end with an IANA name such as Europe/Berlin or an offset such as +03:00"
                )));
            }
        };
        let bad_offset = || HoursError(format!("{text:?} is not an offset like +03:00"));
        let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
        let hours: i32 = hours.parse().map_err(|_| bad_offset())?;
        let minutes: i32 = minutes.parse().map_err(|_| bad_offset())?;
        if !(0..60).contains(&minutes) {
            return Err(bad_offset());
        }
        FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).map(Zone::Offset).ok_or_else(bad_offset)
    }

    /// The wall-clock time in this zone at `now`.
    fn local(&self, now: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Iana(zone) => now.with_timezone(zone).naive_local(),
            Zone::Offset(offset) => now.with_timezone(offset).naive_local(),
        }
    }
}

/// Opening hours on some weekdays.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    /// Monday first.
    days: [bool; 7],
    open: NaiveTime,
    close: NaiveTime,
}

/// When agents work: one or more ranges of weekdays and hours, in one time zone, less the
/// closed dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    ranges: Vec<Range>,
    zone: Zone,
    /// As written, for customers to read (`Europe/Berlin`).
    zone_name: String,
    holidays: Vec<NaiveDate>,
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn weekday(name: &str) -> Option<usize> {
    DAY_NAMES.iter().position(|day| name.eq_ignore_ascii_case(day))
}

/// `Mon-Fri` or `Sat` (a range may wrap: `Sat-Mon`) into the days it names.
fn add_days(days: &mut [bool; 7], part: &str) -> Result<(), HoursError> {
    let (first, last) = part.split_once('-').unwrap_or((part, part));
    let (Some(first), Some(last)) = (weekday(first), weekday(last)) else {
        return Err(HoursError(format!("{part:?} is not a weekday like Mon or a range like Mon-Fri")));
    };
    let mut day = first;
    loop {
        days[day] = true;
        if day == last {
            return Ok(());
        }
        day = (day + 1) % 7;
    }
}

/// `09:00-18:00`, if the text looks like hours at all.
fn hours(text: &str) -> Option<Result<(NaiveTime, NaiveTime), HoursError>> {
    let (open, close) = text.split_once('-')?;
    if !open.contains(':') || !close.contains(':') {
        return None;
    }
    let time = |value: &str| {
        NaiveTime::parse_from_str(value, "%H:%M")
            .map_err(|_| HoursError(format!("{value:?} is not a time like 09:00")))
    };
    Some((|| {
        let (open, close) = (time(open)?, time(close)?);
        if open >= close {
            return Err(HoursError(format!(
                "opening {} is not before closing {}",
                open.format("%H:%M"),
                close.format("%H:%M")
            )));
        }
        Ok((open, close))
    })())
}

impl BusinessHours {
    /// Reads `DAYS HOURS[, DAYS HOURS ...] ZONE`, e.g. `Mon-Fri 09:00-18:00, Sat 10:00-14:00
    /// Europe/Moscow`; days are names, ranges of names or lists (`Mon,Wed`).
    pub fn parse(text: &str) -> Result<BusinessHours, HoursError> {
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let Some((zone_name, ranges_text)) = tokens.split_last() else {
            return Err(HoursError("the value is empty".to_owned()));
        };
        if hours(zone_name.trim_end_matches(',')).is_some() {
            return Err(HoursError(
                "the time zone is missing; end with an IANA name such as Europe/Berlin or an offset such as +03:00"
                    .to_owned(),
            ));
        }
        let zone = Zone::parse(zone_name)?;
        let mut ranges = Vec::new();
        let mut days = [false; 7];
        let mut have_days = false;
        for token in ranges_text {
            let token = token.trim_end_matches(',');
            match hours(token) {
                Some(times) => {
                    let (open, close) = times?;
                    if !have_days {
                        return Err(HoursError(format!("hours {token:?} have no weekdays before them")));
                    }
                    ranges.push(Range { days, open, close });
                    days = [false; 7];
                    have_days = false;
                }
                None => {
                    for part in token.split(',').filter(|part| !part.is_empty()) {
                        add_days(&mut days, part)?;
                        have_days = true;
                    }
                }
            }
        }
        if have_days || ranges.is_empty() {
            return Err(HoursError("weekdays without hours like 09:00-18:00".to_owned()));
        }
        Ok(BusinessHours { ranges, zone, zone_name: (*zone_name).to_owned(), holidays: Vec::new() })
    }

    /// Adds dates on which nobody works, read as `2026-12-31, 2027-01-01` (dates in the
    /// business time zone).
    pub fn with_holidays(mut self, text: &str) -> Result<BusinessHours, HoursError> {
        for part in text.split([',', ' ']).map(str::trim).filter(|part| !part.is_empty()) {
            let date = NaiveDate::parse_from_str(part, "%Y-%m-%d")
                .map_err(|_| HoursError(format!("{part:?} is not a date like 2026-12-31")))?;
            self.holidays.push(date);
        }
        self.holidays.sort_unstable();
        self.holidays.dedup();
        Ok(self)
    }

    fn open_on(&self, date: NaiveDate) -> impl Iterator<Item = &Range> {
        let day = date.weekday().num_days_from_monday() as usize;
        let holiday = self.holidays.binary_search(&date).is_ok();
        self.ranges.iter().filter(move |range| !holiday && range.days[day])
    }

    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = self.zone.local(now);
        self.open_on(local.date()).any(|range| local.time() >= range.open && local.time() < range.close)
    }

    /// `None` while agents work; otherwise when they are back, for customers to read
    /// (`Mon 09:00 (Europe/Moscow)`, or with the date when that is a week or more away).
    pub fn agents_back_at(&self, now: DateTime<Utc>) -> Option<String> {
        if self.is_open(now) {
            return None;
        }
        let local = self.zone.local(now);
        // Past every holiday there is an opening within a week.
        let horizon = 8 + self.holidays.len() as i64;
        (0..horizon).find_map(|ahead| {
            let date = local.date() + Duration::days(ahead);
            let opening = self
                .open_on(date)
                .map(|range| range.open)
                .filter(|open| date.and_time(*open) > local)
                .min()?;
            let day = DAY_NAMES[date.weekday().num_days_from_monday() as usize];
            Some(if ahead < 7 {
                format!("{day} {} ({})", opening.format("%H:%M"), self.zone_name)
            } else {
                format!("{day} {} {} ({})", date.format("%Y-%m-%d"), opening.format("%H:%M"), self.zone_name)
            })
        })
    }
}

fn short_day(day: usize) -> &'static str {
    DAY_NAMES[day]
}

impl fmt::Display for BusinessHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<String> = self
            .ranges
            .iter()
            .map(|range| {
                let days: Vec<&str> = (0..7).filter(|day| range.days[*day]).map(short_day).collect();
                format!("{} {}-{}", days.join(","), range.open.format("%H:%M"), range.close.format("%H:%M"))
            })
            .collect();
        write!(f, "{} {}", ranges.join(", "), self.zone_name)?;
        if !self.holidays.is_empty() {
            let dates: Vec<String> = self.holidays.iter().map(|date| date.to_string()).collect();
            write!(f, " (closed {})", dates.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn moscow_office_hours() {
        let hours = BusinessHours::parse("Mon-Fri 09:00-18:00 Europe/Moscow").unwrap();
        // Wednesday 2026-11-25, 10:00 in Moscow is 07:00 UTC.
        assert!(hours.is_open(at("2026-11-25T07:00:00Z")));
        assert_eq!(hours.agents_back_at(at("2026-11-25T07:00:00Z")), None);
        // 05:59 UTC is 08:59 in Moscow: back at 09:00 the same day.
        assert_eq!(hours.agents_back_at(at("2026-11-25T05:59:00Z")).unwrap(), "Wed 09:00 (Europe/Moscow)");
        // Friday 18:00 Moscow: back on Monday.
        assert_eq!(hours.agents_back_at(at("2026-11-27T15:00:00Z")).unwrap(), "Mon 09:00 (Europe/Moscow)");
        assert_eq!(hours.to_string(), "Mon,Tue,Wed,Thu,Fri 09:00-18:00 Europe/Moscow");
    }

    #[test]
    fn zones_with_daylight_saving_time_follow_the_clocks() {
        let berlin = BusinessHours::parse("Mon-Fri 09:00-18:00 Europe/Berlin").unwrap();
        // Winter (CET, UTC+1): 09:00 in Berlin is 08:00 UTC.
        assert!(!berlin.is_open(at("2026-01-14T07:59:00Z")));
        assert!(berlin.is_open(at("2026-01-14T08:00:00Z")));
        // Summer (CEST, UTC+2): 09:00 in Berlin is 07:00 UTC.
        assert!(berlin.is_open(at("2026-07-15T07:00:00Z")));
        assert!(!berlin.is_open(at("2026-07-15T16:00:00Z")), "18:00 CEST");
        let new_york = BusinessHours::parse("Mon-Fri 09:00-17:00 America/New_York").unwrap();
        // 2026-03-09 is the Monday after the clocks went forward: 09:00 EDT is 13:00 UTC.
        assert!(!new_york.is_open(at("2026-03-09T12:59:00Z")), "08:59 EDT");
        assert!(new_york.is_open(at("2026-03-09T13:00:00Z")));
        assert_eq!(
            new_york.agents_back_at(at("2026-03-07T15:00:00Z")).unwrap(),
            "Mon 09:00 (America/New_York)",
            "Saturday"
        );
    }

    #[test]
    fn several_ranges_in_one_value() {
        let hours = BusinessHours::parse("Mon-Fri 09:00-18:00, Sat 10:00-14:00 Europe/Moscow").unwrap();
        // Saturday 2026-11-28, 11:00 in Moscow is 08:00 UTC.
        assert!(hours.is_open(at("2026-11-28T08:00:00Z")));
        assert!(!hours.is_open(at("2026-11-28T12:00:00Z")), "15:00 on a Saturday");
        // Friday evening: back on Saturday at ten.
        assert_eq!(hours.agents_back_at(at("2026-11-27T16:00:00Z")).unwrap(), "Sat 10:00 (Europe/Moscow)");
        // A lunch break between two ranges on the same day.
        let split = BusinessHours::parse("Mon-Fri 09:00-13:00, Mon-Fri 14:00-18:00 UTC").unwrap();
        assert_eq!(split.agents_back_at(at("2026-11-25T13:30:00Z")).unwrap(), "Wed 14:00 (UTC)");
        assert!(BusinessHours::parse("Mon,Wed 09:00-17:30 UTC-5").is_ok());
        assert_eq!(split.to_string(), "Mon,Tue,Wed,Thu,Fri 09:00-13:00, Mon,Tue,Wed,Thu,Fri 14:00-18:00 UTC");
    }

    #[test]
    fn holidays_are_closed_all_day() {
        let hours = BusinessHours::parse("Mon-Fri 09:00-18:00 Europe/Moscow")
            .unwrap()
            .with_holidays("2026-12-31, 2027-01-01")
            .unwrap();
        // Thursday 2026-12-31, noon in Moscow.
        assert!(!hours.is_open(at("2026-12-31T09:00:00Z")));
        assert_eq!(hours.agents_back_at(at("2026-12-31T09:00:00Z")).unwrap(), "Mon 09:00 (Europe/Moscow)");
        assert!(hours.is_open(at("2026-12-30T09:00:00Z")));
        // Two weeks closed: the answer carries the date.
        let long = BusinessHours::parse("Mon-Fri 09:00-18:00 UTC")
            .unwrap()
            .with_holidays("2027-01-04 2027-01-05 2027-01-06 2027-01-07 2027-01-08 2027-01-11")
            .unwrap();
        assert_eq!(long.agents_back_at(at("2027-01-02T12:00:00Z")).unwrap(), "Tue 2027-01-12 09:00 (UTC)");
        assert!(BusinessHours::parse("Mon 09:00-10:00 UTC").unwrap().with_holidays("31.12.2026").is_err());
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let hours = BusinessHours::parse("Sat-Mon 10:00-12:00 +08:00").unwrap();
        assert!(hours.is_open(at("2026-11-29T02:30:00Z")), "Sunday 10:30 at +08:00");
        assert!(!hours.is_open(at("2026-11-25T02:30:00Z")), "Wednesday");
        for (bad, says) in [
            ("", "empty"),
            ("Mon-Fri 09:00-18:00", "time zone is missing"),
            ("Mon-Fri Europe/Berlin", "without hours"),
            ("09:00-18:00 Europe/Berlin", "no weekdays"),
            ("Funday 09:00-18:00 UTC", "not a weekday"),
            ("Mon-Fri 18:00-09:00 UTC", "not before"),
            ("Mon-Fri 9:0x-18:00 UTC", "not a time"),
            ("Mon-Fri 09:00-18:00 Mars/Olympus", "not a time zone"),
        ] {
            let error = BusinessHours::parse(bad).unwrap_err().to_string();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
    }
}
