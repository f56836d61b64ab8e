//! Business hours (`SWITCHBOARD_BUSINESS_HOURS`, e.g. `Mon-Fri 09:00-18:00 Europe/Moscow`) and
//! the "agents are back at ..." text queued customers get outside them. A module of its own:
//! `config` parses it and the app hands it to the engine, and neither should import the console
//! for it.
//!
//! Time zones are fixed UTC offsets: `UTC`, `UTC+3`, `+03:00`, or one of the IANA names of
//! zones without daylight saving time listed in [`FIXED_ZONES`]. A zone with daylight saving
//! time would need the tz database (chrono-tz); until then such names are refused with a
//! message that says to use an offset.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, Utc, Weekday};
use std::fmt;

/// IANA zones that keep one offset all year, in seconds east of UTC.
pub const FIXED_ZONES: &[(&str, i32)] = &[
    ("UTC", 0),
    ("Etc/UTC", 0),
    ("Europe/Moscow", 3 * 3600),
    ("Europe/Minsk", 3 * 3600),
    ("Europe/Istanbul", 3 * 3600),
    ("Asia/Dubai", 4 * 3600),
    ("Asia/Yekaterinburg", 5 * 3600),
    ("Asia/Tashkent", 5 * 3600),
    ("Asia/Almaty", 5 * 3600),
    ("Asia/Novosibirsk", 7 * 3600),
    ("Asia/Krasnoyarsk", 7 * 3600),
    ("Asia/Shanghai", 8 * 3600),
    ("Asia/Hong_Kong", 8 * 3600),
    ("Asia/Singapore", 8 * 3600),
    ("Asia/Tokyo", 9 * 3600),
    ("Asia/Vladivostok", 10 * 3600),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "business hours {0}; expected something like `Mon-Fri 09:00-18:00 Europe/Moscow` or `Mon-Sat 10:00-20:00 +03:00`"
)]
pub struct HoursError(String);

/// When agents work: the same opening hours on the listed weekdays, in one time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    /// Monday first.
    days: [bool; 7],
    open: NaiveTime,
    close: NaiveTime,
    offset: FixedOffset,
    zone: String,
}

fn weekday(name: &str) -> Option<usize> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().position(|day| name.eq_ignore_ascii_case(day))
}

fn parse_offset(zone: &str) -> Result<FixedOffset, HoursError> {
    if let Some((_, seconds)) = FIXED_ZONES.iter().find(|(name, _)| name.eq_ignore_ascii_case(zone)) {
        return Ok(FixedOffset::east_opt(*seconds).expect("valid offsets"));
    }
    let signed = zone.strip_prefix("UTC").or_else(|| zone.strip_prefix("GMT")).unwrap_or(zone);
    let (sign, rest) = match signed.chars().next() {
        Some('+') => (1, &signed[1..]),
        Some('-') => (-1, &signed[1..]),
        _ => {
            return Err(HoursError(format!(
                "time zone {zone:?} is not a fixed offset; use one like +03:00 (zones with daylight saving time are not supported)"
            )));
        }
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let hours: i32 = hours.parse().map_err(|_| HoursError(format!("bad offset {zone:?}")))?;
    let minutes: i32 = minutes.parse().map_err(|_| HoursError(format!("bad offset {zone:?}")))?;
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
        .ok_or_else(|| HoursError(format!("bad offset {zone:?}")))
}

impl BusinessHours {
    pub fn parse(text: &str) -> Result<BusinessHours, HoursError> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [days_text, hours_text, rest @ ..] = parts.as_slice() else {
            return Err(HoursError(format!("{text:?} has no days and hours")));
        };
        let zone = if rest.is_empty() { "UTC".to_owned() } else { rest.join(" ") };
        let mut days = [false; 7];
        for part in days_text.split(',') {
            let (first, last) = part.split_once('-').unwrap_or((part, part));
            let (Some(first), Some(last)) = (weekday(first), weekday(last)) else {
                return Err(HoursError(format!("unknown weekday in {part:?}")));
            };
            let mut day = first;
            loop {
                days[day] = true;
                if day == last {
                    break;
                }
                day = (day + 1) % 7;
            }
        }
        let (open, close) = hours_text
            .split_once('-')
            .ok_or_else(|| HoursError(format!("{hours_text:?} is not like 09:00-18:00")))?;
        let time = |value: &str| {
            NaiveTime::parse_from_str(value, "%H:%M")
                .map_err(|_| HoursError(format!("{value:?} is not a time like 09:00")))
        };
        let (open, close) = (time(open)?, time(close)?);
        if open >= close {
            return Err(HoursError(format!("opening {open} is not before closing {close}")));
        }
        Ok(BusinessHours { days, open, close, offset: parse_offset(&zone)?, zone })
    }

    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.offset);
        let day = local.weekday().num_days_from_monday() as usize;
        self.days[day] && local.time() >= self.open && local.time() < self.close
    }

    /// `None` while agents work; otherwise when they are back, for customers to read
    /// (`Mon 09:00 (Europe/Moscow)`).
    pub fn agents_back_at(&self, now: DateTime<Utc>) -> Option<String> {
        if self.is_open(now) {
            return None;
        }
        let local = now.with_timezone(&self.offset);
        (0..8).find_map(|ahead| {
            let date = local.date_naive() + Duration::days(ahead);
            let opening = date.and_time(self.open);
            let day = date.weekday().num_days_from_monday() as usize;
            (self.days[day] && opening > local.naive_local()).then(|| {
                format!("{} {} ({})", short_day(date.weekday()), self.open.format("%H:%M"), self.zone)
            })
        })
    }
}

fn short_day(day: Weekday) -> &'static str {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day.num_days_from_monday() as usize]
}

impl fmt::Display for BusinessHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<&str> = (0..7)
            .filter(|d| self.days[*d])
            .map(|d| ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][d])
            .collect();
        write!(
            f,
            "{} {}-{} {}",
            days.join(","),
            self.open.format("%H:%M"),
            self.close.format("%H:%M"),
            self.zone
        )
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
    fn offsets_wrapping_day_ranges_and_refusals() {
        let hours = BusinessHours::parse("Sat-Mon 10:00-12:00 +08:00").unwrap();
        assert!(hours.is_open(at("2026-11-29T02:30:00Z")), "Sunday 10:30 at +08:00");
        assert!(!hours.is_open(at("2026-11-25T02:30:00Z")), "Wednesday");
        assert!(BusinessHours::parse("Mon,Wed 09:00-17:30 UTC-5").is_ok());
        assert!(BusinessHours::parse("Mon-Fri 09:00-18:00").is_ok(), "UTC by default");
        for bad in [
            "",
            "Mon-Fri",
            "Funday 09:00-18:00",
            "Mon-Fri 18:00-09:00",
            "Mon-Fri 9-18",
            "Mon-Fri 09:00-18:00 Europe/Berlin",
        ] {
            assert!(BusinessHours::parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            BusinessHours::parse("Mon 09:00-18:00 Europe/Berlin")
                .unwrap_err()
                .to_string()
                .contains("daylight saving")
        );
    }
}
