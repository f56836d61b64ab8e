//! `switchboard retention` and `switchboard contacts erase`: the privacy commands (see
//! `crate::privacy` for what each deletes and keeps).

use crate::config::Settings;
use crate::privacy::{ErasureReport, RetentionReport};
use clap::{Args, Subcommand};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Delete what is older than this: days or hours, e.g. `180d` or `36h`.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub older_than: Duration,
    /// Print the counts as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub database: super::DatabaseArgs,
}

/// `switchboard contacts ...`
#[derive(Debug, Args)]
pub struct ContactsArgs {
    #[command(subcommand)]
    pub command: ContactsCommand,
    #[command(flatten)]
    pub database: super::DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum ContactsCommand {
    /// Erase one person's data: messages, photos, outbox, feedback; tickets are anonymised.
    Erase {
        /// The person as CHANNEL:ID, e.g. `telegram:123456789` or `vk:2000000001`.
        #[arg(value_name = "CHANNEL:ID", value_parser = parse_contact)]
        contact: ContactKey,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Unlink every contact of a store customer (signed-in web chat, linked messengers) and
    /// forget the customer; the conversations stay, as a guest's.
    UnlinkCustomer {
        /// The store's own customer id.
        #[arg(value_name = "STORE_CUSTOMER_ID")]
        customer: String,
    },
    /// Erase every contact linked to a store customer, then forget the customer.
    EraseCustomer {
        /// The store's own customer id.
        #[arg(value_name = "STORE_CUSTOMER_ID")]
        customer: String,
        /// Print the summaries as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A contact named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactKey {
    pub channel: String,
    pub external_id: String,
}

/// `180d` or `36h`, at least one hour.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let problem = || format!("expected a number of days or hours such as `180d` or `36h`, got {text:?}");
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let seconds_per_unit = match unit {
        "d" => 86_400,
        "h" => 3_600,
        _ => return Err(problem()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problem());
    }
    let count: u64 = number.parse().map_err(|_| problem())?;
    if count == 0 {
        return Err(format!("{text:?} would delete everything up to now; the least is `1h`"));
    }
    // A hundred years is far beyond any retention rule and keeps the arithmetic in range.
    if count.saturating_mul(seconds_per_unit) > 100 * 365 * 86_400 {
        return Err(format!("{text:?} is more than a hundred years"));
    }
    Ok(Duration::from_secs(count * seconds_per_unit))
}

/// `CHANNEL:ID`; the id may itself contain colons.
pub fn parse_contact(text: &str) -> Result<ContactKey, String> {
    match text.split_once(':') {
        Some((channel, id))
            if !channel.is_empty()
                && !id.is_empty()
                && channel.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            Ok(ContactKey { channel: channel.to_owned(), external_id: id.to_owned() })
        }
        _ => Err(format!("expected CHANNEL:ID such as `telegram:123456789`, got {text:?}")),
    }
}

/// Deletes old data and prints what went.
pub async fn retention(settings: Settings, args: RetentionArgs) -> anyhow::Result<ExitCode> {
    // Resetting idle conversations changes them, which only the engine does.
    let app = crate::app::App::build(settings).await?;
    let result =
        crate::privacy::apply_retention(&app.engine, &app.media, args.older_than, crate::store::now_millis())
            .await;
    app.shutdown().await;
    let report = result?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write_retention(&mut out, &report, args.older_than)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_retention(
    out: &mut impl Write,
    report: &RetentionReport,
    older_than: Duration,
) -> std::io::Result<()> {
    let when = |ms: i64| crate::store::to_datetime(ms).format("%Y-%m-%d %H:%M UTC");
    writeln!(out, "Deleted what is older than {} (before {}):", age(older_than), when(report.cutoff_ms))?;
    writeln!(out, "  message log rows   {}", report.messages)?;
    writeln!(out, "  outbox rows        {} (sent or dead-lettered)", report.outbox_rows)?;
    writeln!(
        out,
        "  processed events   {} (before {}; the last 7 days are always kept)",
        report.processed_events,
        when(report.processed_events_cutoff_ms)
    )?;
    writeln!(out, "  agents' notes      {} (on tickets resolved before then)", report.ticket_notes)?;
    writeln!(out, "  feedback           {}", report.feedback)?;
    writeln!(out, "  order lookups      {}", report.order_lookups)?;
    writeln!(
        out,
        "  tickets anonymised {} (description, order number and comment of tickets resolved before then)",
        report.tickets_anonymised
    )?;
    writeln!(out, "  contact names      {} (of contacts with nothing since)", report.contact_names)?;
    writeln!(out, "  drafts             {} (idle conversations back at the menu)", report.drafts)?;
    writeln!(out, "  media files        {} ({} bytes)", report.media_files, report.media_bytes)?;
    writeln!(
        out,
        "Kept: replies not yet delivered, tickets (without the customer's words), contacts, and \
         everything of conversations with an open ticket."
    )?;
    write_log_note(out, report.log_truncated)
}

fn write_log_note(out: &mut impl Write, log_truncated: bool) -> std::io::Result<()> {
    if log_truncated {
        Ok(())
    } else {
        writeln!(
            out,
            "Note: the database log could not be truncated now (another process was reading it), \
             so deleted text may still be in it; run this again later."
        )
    }
}

fn age(duration: Duration) -> String {
    let hours = duration.as_secs() / 3600;
    if hours % 24 == 0 { format!("{} days", hours / 24) } else { format!("{hours} hours") }
}

/// Runs a `contacts` subcommand.
pub async fn contacts(settings: Settings, command: ContactsCommand) -> anyhow::Result<ExitCode> {
    let (contact, json) = match command {
        ContactsCommand::Erase { contact, json } => (contact, json),
        ContactsCommand::UnlinkCustomer { customer } => return unlink_customer(settings, &customer).await,
        ContactsCommand::EraseCustomer { customer, json } => {
            return erase_customer(settings, &customer, json).await;
        }
    };
    // Erasure resets the person's conversation, which only the engine does.
    let app = crate::app::App::build(settings).await?;
    let result =
        crate::privacy::erase_contact(&app.engine, &app.media, &contact.channel, &contact.external_id).await;
    app.shutdown().await;
    let Some(report) = result? else {
        eprintln!(
            "switchboard: no contact {}:{} in this database; nothing was erased",
            contact.channel, contact.external_id
        );
        return Ok(ExitCode::FAILURE);
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write_erasure(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn unlink_customer(settings: Settings, customer: &str) -> anyhow::Result<ExitCode> {
    let app = crate::app::App::build(settings).await?;
    let result = crate::privacy::unlink_customer(&app.engine, customer).await;
    app.shutdown().await;
    match result? {
        Some(contacts) => {
            println!("Unlinked customer {customer} from {contacts} contact(s); the customer is forgotten.");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("switchboard: no customer {customer} in this database; nothing was unlinked");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn erase_customer(settings: Settings, customer: &str, json: bool) -> anyhow::Result<ExitCode> {
    let app = crate::app::App::build(settings).await?;
    let result = crate::privacy::erase_customer(&app.engine, &app.media, customer).await;
    app.shutdown().await;
    let Some(reports) = result? else {
        eprintln!("switchboard: no customer {customer} in this database; nothing was erased");
        return Ok(ExitCode::FAILURE);
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&reports)?)?;
    } else {
        writeln!(
            out,
            "Customer {customer}: {} contact(s) erased; the customer is forgotten.",
            reports.len()
        )?;
        for report in &reports {
            write_erasure(&mut out, report)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_erasure(out: &mut impl Write, report: &ErasureReport) -> std::io::Result<()> {
    writeln!(out, "Erased {}:", report.contact)?;
    writeln!(out, "  message log rows     {}", report.rows.messages)?;
    writeln!(out, "  outbox rows          {}", report.rows.outbox_rows)?;
    writeln!(out, "  feedback             {}", report.rows.feedback)?;
    writeln!(out, "  ticket photos        {}", report.rows.ticket_attachments)?;
    writeln!(out, "  agents' notes        {}", report.rows.ticket_notes)?;
    writeln!(out, "  processed events     {} (the ids of their events)", report.rows.processed_events)?;
    writeln!(out, "  order lookups        {}", report.rows.order_lookups)?;
    writeln!(
        out,
        "  tickets anonymised   {} ({} open ones closed as withdrawn)",
        report.rows.tickets_anonymised, report.rows.tickets_closed
    )?;
    writeln!(
        out,
        "  media files          {} deleted, {} kept (another person's rows use them)",
        report.media_files, report.media_files_shared
    )?;
    writeln!(out, "The contact remains as erased:{} with no name or platform id.", report.contact_id)?;
    write_log_note(out, report.log_truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_days_or_hours() {
        assert_eq!(parse_age("180d"), Ok(Duration::from_secs(180 * 86_400)));
        assert_eq!(parse_age("36h"), Ok(Duration::from_secs(36 * 3_600)));
        for bad in ["", "d", "180", "6m", "1.5d", "-3d", "0d", "0h", "180 d", "d180", "99999999999999999999d"]
        {
            assert!(parse_age(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_age("36501d").is_err(), "more than a hundred years");
    }

    #[test]
    fn contacts_are_channel_colon_id() {
        assert_eq!(
            parse_contact("webchat:ab:cd"),
            Ok(ContactKey { channel: "webchat".into(), external_id: "ab:cd".into() })
        );
        for bad in ["telegram", "telegram:", ":123", "Tele gram:1"] {
            assert!(parse_contact(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
