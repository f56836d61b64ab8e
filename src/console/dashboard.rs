//! Dashboard figures, computed from ticket timings, drawn as server-side SVG and exported as CSV.
//!
//! Definitions:
//! - first response: from a ticket's creation to the first agent message;
//! - time to resolve: from creation to resolution, for tickets an agent handled (not
//!   self-served, not withdrawn by the customer);
//! - self-service rate: conversations the bot settled itself (FAQ answers the customer said
//!   helped, plus flows whose suggested answer solved it) out of all FAQ answers and tickets.

use crate::console::texts::Tr;
use crate::store::{FaqVerdict, TicketTimes};
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use std::fmt::Write;

const DAY_MILLIS: i64 = 86_400_000;

/// One calendar day (UTC): tickets created that day and what became of them, FAQ verdicts
/// given that day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayFigures {
    pub date: NaiveDate,
    pub tickets: u32,
    pub self_served: u32,
    /// Tickets resolved that day, whenever they were created.
    pub resolved: u32,
    pub median_first_response_secs: Option<i64>,
    pub median_resolve_secs: Option<i64>,
    pub rating_average: Option<f64>,
    pub self_service_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub days: Vec<DayFigures>,
    pub median_first_response_secs: Option<i64>,
    pub median_resolve_secs: Option<i64>,
    pub rating_average: Option<f64>,
    /// Ratings 1 to 5, counted.
    pub rating_counts: [u32; 5],
    pub self_service_rate: Option<f64>,
    pub tickets_total: u32,
}

fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 0 { (values[middle - 1] + values[middle]) / 2 } else { values[middle] })
}

fn date_of(millis: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or_default().date_naive()
}

/// What the figures are made of, gathered for a whole period or for one day.
#[derive(Debug, Default)]
struct Tally {
    tickets: i64,
    self_served: i64,
    first_responses: Vec<i64>,
    resolves: Vec<i64>,
    rating_counts: [u32; 5],
    faq_helped: i64,
    faq_total: i64,
}

impl Tally {
    fn add_ticket(&mut self, ticket: &TicketTimes) {
        self.tickets += 1;
        self.self_served += i64::from(ticket.self_served);
        if let Some(resolved_at) = ticket.resolved_at
            && !ticket.self_served
            && !ticket.withdrawn
        {
            self.resolves.push((resolved_at - ticket.created_at) / 1000);
        }
        if let Some(replied_at) = ticket.first_agent_reply_at {
            self.first_responses.push((replied_at - ticket.created_at) / 1000);
        }
        if let Some(stars) = ticket.rating.filter(|stars| (1..=5).contains(stars)) {
            self.rating_counts[(stars - 1) as usize] += 1;
        }
    }

    fn add_verdict(&mut self, verdict: &FaqVerdict) {
        self.faq_total += 1;
        self.faq_helped += i64::from(verdict.helped);
    }

    fn median_first_response(&mut self) -> Option<i64> {
        median(&mut self.first_responses)
    }

    fn median_resolve(&mut self) -> Option<i64> {
        median(&mut self.resolves)
    }

    fn rating_average(&self) -> Option<f64> {
        let rated: u32 = self.rating_counts.iter().sum();
        (rated > 0).then(|| {
            let total: u32 =
                self.rating_counts.iter().enumerate().map(|(index, count)| (index as u32 + 1) * count).sum();
            f64::from(total) / f64::from(rated)
        })
    }

    /// Conversations the bot settled (helpful FAQ answers and self-served flows) out of all
    /// FAQ answers and tickets.
    fn self_service_rate(&self) -> Option<f64> {
        let settled = self.faq_helped + self.self_served;
        let asked = self.faq_total + self.tickets;
        (asked > 0).then(|| settled as f64 / asked as f64)
    }
}

impl Dashboard {
    /// Figures for the `days` calendar days (UTC) up to and including `now`'s: for the whole
    /// period, and for each day from that day's own tickets and verdicts.
    pub fn compute(tickets: &[TicketTimes], faq: &[FaqVerdict], now_millis: i64, days: u32) -> Dashboard {
        let today = date_of(now_millis);
        let days = days.max(1);
        let first_day = today - ChronoDuration::days(i64::from(days) - 1);
        let day_index = |millis: i64| {
            usize::try_from((date_of(millis) - first_day).num_days())
                .ok()
                .filter(|index| *index < days as usize)
        };
        let mut whole = Tally::default();
        let mut per_day: Vec<Tally> = (0..days).map(|_| Tally::default()).collect();
        let mut resolved_per_day = vec![0u32; days as usize];
        for ticket in tickets {
            whole.add_ticket(ticket);
            if let Some(index) = day_index(ticket.created_at) {
                per_day[index].add_ticket(ticket);
            }
            if let Some(index) = ticket.resolved_at.and_then(day_index) {
                resolved_per_day[index] += 1;
            }
        }
        for verdict in faq {
            whole.add_verdict(verdict);
            if let Some(index) = day_index(verdict.at) {
                per_day[index].add_verdict(verdict);
            }
        }
        let days = per_day
            .into_iter()
            .zip(resolved_per_day)
            .enumerate()
            .map(|(offset, (mut tally, resolved))| DayFigures {
                date: first_day + ChronoDuration::days(offset as i64),
                tickets: u32::try_from(tally.tickets).unwrap_or(u32::MAX),
                self_served: u32::try_from(tally.self_served).unwrap_or(u32::MAX),
                resolved,
                median_first_response_secs: tally.median_first_response(),
                median_resolve_secs: tally.median_resolve(),
                rating_average: tally.rating_average(),
                self_service_rate: tally.self_service_rate(),
            })
            .collect();
        Dashboard {
            days,
            median_first_response_secs: whole.median_first_response(),
            median_resolve_secs: whole.median_resolve(),
            rating_average: whole.rating_average(),
            rating_counts: whole.rating_counts,
            self_service_rate: whole.self_service_rate(),
            tickets_total: u32::try_from(whole.tickets).unwrap_or(u32::MAX),
        }
    }

    /// The start of the first day shown, for the query.
    pub fn since(now_millis: i64, days: u32) -> i64 {
        let today_start = now_millis - now_millis.rem_euclid(DAY_MILLIS);
        today_start - (i64::from(days.max(1)) - 1) * DAY_MILLIS
    }

    /// Tickets per day as an SVG bar chart. Only numbers and dates go into it.
    pub fn tickets_chart(&self, title: &str) -> String {
        let values: Vec<(String, u32)> =
            self.days.iter().map(|day| (day.date.format("%m-%d").to_string(), day.tickets)).collect();
        bar_chart(title, &values, 640, 200)
    }

    pub fn ratings_chart(&self, title: &str) -> String {
        let values: Vec<(String, u32)> = self
            .rating_counts
            .iter()
            .enumerate()
            .map(|(index, count)| (format!("{}★", index + 1), *count))
            .collect();
        bar_chart(title, &values, 320, 200)
    }

    /// One line per day, each with that day's own figures; a day without tickets or verdicts
    /// leaves the medians, the average and the rate empty.
    pub fn csv(&self) -> String {
        let mut csv = String::from(
            "date,tickets,self_served,resolved,median_first_response_secs,median_resolve_secs,rating_average,self_service_rate\n",
        );
        let optional = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
        for day in &self.days {
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{}",
                day.date,
                day.tickets,
                day.self_served,
                day.resolved,
                optional(day.median_first_response_secs),
                optional(day.median_resolve_secs),
                day.rating_average.map(|v| format!("{v:.2}")).unwrap_or_default(),
                day.self_service_rate.map(|v| format!("{v:.3}")).unwrap_or_default(),
            );
        }
        csv
    }
}

/// A labelled bar chart. `title` is a console text and the labels are numbers made here;
/// both are escaped.
fn bar_chart(title: &str, values: &[(String, u32)], width: u32, height: u32) -> String {
    let max = values.iter().map(|(_, value)| *value).max().unwrap_or(0).max(1);
    let (left, bottom, top) = (30u32, 30u32, 20u32);
    let plot_height = height - bottom - top;
    let slot = (width - left) as f64 / values.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(title)
    );
    let _ = write!(svg, "<title>{}</title>", escape(title));
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{}" x2="{width}" y2="{}" stroke="#888"/><text x="2" y="{}" font-size="10">{max}</text><text x="2" y="{}" font-size="10">0</text>"##,
        height - bottom,
        height - bottom,
        top + 4,
        height - bottom
    );
    let label_every = (values.len() / 10).max(1);
    for (index, (label, value)) in values.iter().enumerate() {
        let bar_height = f64::from(*value) / f64::from(max) * f64::from(plot_height);
        let x = f64::from(left) + slot * index as f64 + (slot - bar) / 2.0;
        let y = f64::from(height - bottom) - bar_height;
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{bar_height:.1}" fill="#0b6bcb"><title>{}: {value}</title></rect>"##,
            escape(label)
        );
        if index % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{}</text>"#,
                x + bar / 2.0,
                height - bottom + 14,
                escape(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `95` -> `1 min 35 s`, for people, in the agent's language.
pub fn human_duration(tr: Tr, secs: Option<i64>) -> String {
    match secs {
        None => tr.t("console-dashboard-none"),
        Some(secs) if secs < 60 => tr.t1("console-duration-seconds", "seconds", secs),
        Some(secs) if secs < 3600 => {
            tr.t2("console-duration-minutes-seconds", "minutes", secs / 60, "seconds", secs % 60)
        }
        Some(secs) => tr.t2("console-duration-hours", "hours", secs / 3600, "minutes", secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::message::Lang;

    fn ticket(created_secs: i64) -> TicketTimes {
        TicketTimes {
            created_at: created_secs * 1000,
            first_agent_reply_at: None,
            resolved_at: None,
            rating: None,
            self_served: false,
            withdrawn: false,
        }
    }

    #[test]
    fn figures_from_ticket_times() {
        let day = 86_400;
        let now = 10 * day * 1000 + 5_000;
        let mut answered = ticket(10 * day);
        answered.first_agent_reply_at = Some((10 * day + 60) * 1000);
        answered.resolved_at = Some((10 * day + 600) * 1000);
        answered.rating = Some(5);
        let mut slow = ticket(9 * day);
        slow.first_agent_reply_at = Some((9 * day + 180) * 1000);
        slow.resolved_at = Some((9 * day + 1800) * 1000);
        slow.rating = Some(2);
        let mut solved_by_bot = ticket(9 * day);
        solved_by_bot.self_served = true;
        solved_by_bot.resolved_at = Some(9 * day * 1000);
        let old = ticket(day);
        let tickets = [answered, slow, solved_by_bot, old];

        // Three helpful FAQ answers and one unhelpful, all today.
        let faq: Vec<FaqVerdict> =
            [true, true, true, false].map(|helped| FaqVerdict { at: now - 1_000, helped }).to_vec();
        let dashboard = Dashboard::compute(&tickets, &faq, now, 7);
        assert_eq!(dashboard.days.len(), 7);
        assert_eq!(dashboard.days[6].tickets, 1, "today");
        assert_eq!(dashboard.days[5].tickets, 2, "yesterday");
        assert_eq!(dashboard.days[5].self_served, 1);
        assert_eq!(dashboard.median_first_response_secs, Some(120));
        assert_eq!(dashboard.median_resolve_secs, Some(1200), "the self-served ticket is left out");
        assert_eq!(dashboard.rating_counts, [0, 1, 0, 0, 1]);
        assert_eq!(dashboard.rating_average, Some(3.5));
        // (3 helpful FAQ answers + 1 self-served flow) / (4 FAQ answers + 4 tickets)
        assert_eq!(dashboard.self_service_rate, Some(0.5));

        // Each CSV row holds its own day's figures: today one ticket answered in 60 s and
        // rated 5, with the FAQ verdicts; yesterday two tickets; the days before nothing.
        let csv = dashboard.csv();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows.len(), 8);
        let dates: Vec<String> = dashboard.days.iter().map(|day| day.date.to_string()).collect();
        assert_eq!(rows[7], format!("{},1,0,1,60,600,5.00,0.600", dates[6]));
        assert_eq!(rows[6], format!("{},2,1,2,180,1800,2.00,0.500", dates[5]));
        for (row, date) in rows[1..6].iter().zip(&dates) {
            assert_eq!(*row, format!("{date},0,0,0,,,,"), "a day with no tickets has no figures");
        }
        let chart = dashboard.tickets_chart("Tickets per day");
        assert!(chart.starts_with("<svg") && chart.ends_with("</svg>"));
        assert_eq!(chart.matches("<rect").count(), 7);
        assert_eq!(Dashboard::since(now, 7), 4 * day * 1000);
    }

    #[test]
    fn empty_history_has_no_figures() {
        let dashboard = Dashboard::compute(&[], &[], 0, 1);
        assert_eq!(dashboard.median_first_response_secs, None);
        assert_eq!(dashboard.rating_average, None);
        assert_eq!(dashboard.self_service_rate, None);
        let tr = Tr::default();
        assert_eq!(human_duration(tr, None), "n/a");
        assert_eq!(human_duration(tr, Some(95)), "1 min 35 s");
        assert_eq!(human_duration(tr, Some(7260)), "2 h 1 min");
        assert_eq!(human_duration(Tr::new(Lang::Zh), Some(95)), "1 分 35 秒");
    }
}
