//! `switchboard tickets list|show`: the queue and the record, for scripts and for people.
//!
//! What customers wrote reaches the operator's terminal, which obeys control characters: an
//! escape sequence in a description could recolour, retitle or rewrite the screen, or fake a
//! line of the record. So the plain-text output shows every control character (and the
//! invisible marks that reorder text) as an escape such as `\u{1b}`; the JSON output is
//! escaped by the JSON encoder.

use crate::app::connect_store;
use crate::assets::LocaleSource;
use crate::config::Settings;
use crate::core::handoff::TicketStatus;
use crate::core::message::Text;
use crate::i18n::I18n;
use crate::store::{Author, DeadLetter, Store, TicketDetail, TicketSummary};
use clap::{Args, Subcommand, ValueEnum};
use std::collections::HashMap;
use std::io::Write as _;
use std::process::ExitCode;

/// `switchboard tickets ...`
#[derive(Debug, Args)]
pub struct TicketsArgs {
    #[command(subcommand)]
    pub command: TicketsCommand,
    #[command(flatten)]
    pub database: super::DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// Tickets, queued ones in queue order (priority, then waiting time).
    List {
        /// Which tickets: queued, assigned or resolved; `all` (the default) lists every one.
        #[arg(long, value_enum, default_value_t = StatusArg::All)]
        status: StatusArg,
        /// Print only a JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
    /// One ticket with its whole conversation.
    Show {
        /// The ticket's number, as `tickets list` shows it.
        #[arg(value_name = "ID")]
        id: i64,
        /// Print only a JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Replies that could not be delivered and were given up on, newest first.
    DeadLetters {
        /// Show at most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print only a JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// The `--status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Waiting for an agent.
    Queued,
    /// Claimed by an agent.
    Assigned,
    /// Done.
    Resolved,
    /// Every ticket, whatever its status.
    All,
}

impl StatusArg {
    fn status(self) -> Option<TicketStatus> {
        match self {
            StatusArg::Queued => Some(TicketStatus::Queued),
            StatusArg::Assigned => Some(TicketStatus::Assigned),
            StatusArg::Resolved => Some(TicketStatus::Resolved),
            StatusArg::All => None,
        }
    }
}

/// Every ticket with the status, read a page at a time (an operator's listing is complete).
async fn all_tickets(
    store: &dyn crate::store::Store,
    status: Option<crate::core::handoff::TicketStatus>,
) -> anyhow::Result<Vec<crate::store::TicketSummary>> {
    let mut page = crate::store::Page::first(crate::store::Page::MAX_SIZE);
    let mut tickets = Vec::new();
    loop {
        let found = store.list_tickets(status, page).await?;
        let full = found.len() as i64 == page.limit;
        tickets.extend(found);
        if !full {
            return Ok(tickets);
        }
        page = page.next();
    }
}

pub async fn run(settings: Settings, command: TicketsCommand) -> anyhow::Result<ExitCode> {
    let store = connect_store(&settings).await?;
    let mut out = std::io::stdout().lock();
    let code = match command {
        TicketsCommand::List { status, json } => {
            let tickets = all_tickets(&*store, status.status()).await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &tickets)?;
                writeln!(out)?;
            } else {
                write_list(&mut out, &tickets)?;
            }
            ExitCode::SUCCESS
        }
        TicketsCommand::Show { id, json } => match store.ticket(id).await? {
            Some(mut ticket) => {
                render_bot_messages(&settings, &*store, &mut ticket).await?;
                if json {
                    serde_json::to_writer_pretty(&mut out, &ticket)?;
                    writeln!(out)?;
                } else {
                    write_detail(&mut out, &ticket)?;
                }
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("switchboard: there is no ticket {id}");
                ExitCode::FAILURE
            }
        },
        TicketsCommand::DeadLetters { limit, json } => {
            let dead = store.dead_letters(limit).await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &dead)?;
                writeln!(out)?;
            } else {
                write_dead_letters(&mut out, &dead)?;
            }
            ExitCode::SUCCESS
        }
    };
    store.close().await;
    Ok(code)
}

/// The log keeps the bot's replies structured (message key and arguments) and a button press
/// as its data (`[i:order]`); a person reading the transcript wants the words the customer
/// saw, in the customer's language.
async fn render_bot_messages(
    settings: &Settings,
    store: &dyn Store,
    detail: &mut TicketDetail,
) -> anyhow::Result<()> {
    let locales = settings.locales_dir.clone().map_or(LocaleSource::Embedded, LocaleSource::Dir);
    let i18n = I18n::load(&locales)?;
    let rendered: HashMap<i64, String> = store
        .log_after(detail.ticket.conversation_id, 0, i64::MAX)
        .await?
        .into_iter()
        .filter_map(|entry| {
            entry.reply().map(|reply| (entry.id, i18n.reply(detail.ticket.language, &reply).text))
        })
        .collect();
    let lang = detail.ticket.language;
    for message in &mut detail.messages {
        if let Some(text) = rendered.get(&message.id) {
            message.text = Some(text.clone());
        } else if message.author == Author::Customer
            && let Some(text) = &message.text
        {
            let label = |key: &str| i18n.text(lang, &Text::new(key));
            message.text = Some(crate::i18n::customer_text(text, label));
        }
    }
    Ok(())
}

fn write_list(out: &mut impl std::io::Write, tickets: &[TicketSummary]) -> std::io::Result<()> {
    if tickets.is_empty() {
        return writeln!(out, "No tickets.");
    }
    writeln!(
        out,
        "{:>6}  {:<9} {:<7} {:<10} {:<17} {:<4} {:<9} {:<12} DESCRIPTION",
        "ID", "STATUS", "PRIO", "TYPE", "ORDER", "LANG", "CHANNEL", "AGENT"
    )?;
    for ticket in tickets {
        writeln!(
            out,
            "{:>6}  {:<9} {:<7} {:<10} {:<17} {:<4} {:<9} {:<12} {}",
            ticket.id,
            ticket.status.code(),
            ticket.priority.code(),
            ticket.issue_type,
            ticket.order_id.as_deref().unwrap_or("-"),
            ticket.language.code(),
            ticket.channel,
            ticket.assigned_agent.as_deref().unwrap_or("-"),
            shown(&one_line(ticket.description.as_deref().unwrap_or(""), 60)),
        )?;
    }
    Ok(())
}

fn write_detail(out: &mut impl std::io::Write, detail: &TicketDetail) -> std::io::Result<()> {
    let ticket = &detail.ticket;
    writeln!(out, "Ticket {} ({}, {} priority)", ticket.id, ticket.status.code(), ticket.priority.code())?;
    writeln!(out, "  type:        {}", ticket.issue_type)?;
    writeln!(out, "  order:       {}", shown(ticket.order_id.as_deref().unwrap_or("-")))?;
    writeln!(
        out,
        "  customer:    {}:{} ({})",
        ticket.channel,
        shown(&ticket.external_id),
        ticket.language.code()
    )?;
    writeln!(out, "  created:     {}", ticket.created_at.to_rfc3339())?;
    writeln!(out, "  agent:       {}", ticket.assigned_agent.as_deref().unwrap_or("-"))?;
    if let Some(rating) = ticket.rating {
        writeln!(out, "  rating:      {rating}/5 {}", shown(ticket.comment.as_deref().unwrap_or("")))?;
    }
    writeln!(out, "  description: {}", shown(ticket.description.as_deref().unwrap_or("-")))?;
    for attachment in &ticket.attachments {
        writeln!(
            out,
            "  attachment:  {} {} ({} bytes)",
            attachment.sha256, attachment.content_type, attachment.bytes
        )?;
    }
    writeln!(out, "\nConversation:")?;
    for message in &detail.messages {
        let who = match (&message.agent, message.author) {
            (Some(agent), _) => agent.clone(),
            (None, author) => author.code().to_owned(),
        };
        let photos = if message.attachments.is_empty() {
            String::new()
        } else {
            format!(" [{} photo(s)]", message.attachments.len())
        };
        writeln!(
            out,
            "  {} {:>9}: {}{photos}",
            message.at.format("%Y-%m-%d %H:%M:%S"),
            who,
            shown(message.text.as_deref().unwrap_or(""))
        )?;
    }
    for note in &detail.notes {
        writeln!(
            out,
            "  {} note by {}: {}",
            note.at.format("%Y-%m-%d %H:%M:%S"),
            note.agent,
            shown(&note.text)
        )?;
    }
    Ok(())
}

fn write_dead_letters(out: &mut impl std::io::Write, dead: &[DeadLetter]) -> std::io::Result<()> {
    if dead.is_empty() {
        return writeln!(out, "No dead letters.");
    }
    for row in dead {
        writeln!(
            out,
            "{:>6}  {} {}:{} after {} attempt(s): {}",
            row.id,
            row.created_at.format("%Y-%m-%d %H:%M:%S"),
            row.channel,
            shown(&row.external_id),
            row.attempts,
            shown(row.last_error.as_deref().unwrap_or("-"))
        )?;
    }
    Ok(())
}

/// Text from the database as it may go to a terminal: control characters (C0, DEL, C1) and the
/// marks that reorder text (bidirectional overrides and isolates) become visible escapes
/// (`\n`, `\u{1b}`); everything else is printed as it is.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// The first line of a text, cut at `max` characters, for table cells.
fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max - 1).collect::<String>())
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(shown("plain text, ünïcode ✓"), "plain text, ünïcode ✓");
        assert_eq!(shown("\u{1b}[2J\u{1b}]0;title\u{7}x"), "\\u{1b}[2J\\u{1b}]0;title\\u{7}x");
        assert_eq!(shown("line\nfake: note by admin\r"), "line\\nfake: note by admin\\r");
        assert_eq!(shown("\u{9b}31m \u{202e}gpj.exe \u{7f}"), "\\u{9b}31m \\u{202e}gpj.exe \\u{7f}");
    }
}
