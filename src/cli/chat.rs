//! `switchboard chat`: be the customer, in the terminal.

use crate::app::App;
use crate::channels::terminal::{CHANNEL, Printed, TerminalChannel, TerminalSession};
use crate::config::Settings;
use crate::core::message::Lang;
use crate::outbox::{OutboxSettings, OutboxWorker};
use crate::store::now_millis;
use clap::Args;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tokio_util::sync::CancellationToken;

/// The options of `switchboard chat`. The long help explains what can be typed.
#[derive(Debug, Args)]
#[command(after_long_help = TYPING_HELP, after_help = TYPING_HELP)]
pub struct ChatArgs {
    /// The language a new conversation starts in: en, ru or zh (also `ru-RU` and the like).
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<String>,
    /// Who you are. Two runs with the same name continue the same conversation, and replies
    /// that came while you were away (an agent's answer) are shown when you come back.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    #[command(flatten)]
    pub database: super::DatabaseArgs,
}

const TYPING_HELP: &str = "\
What you can type:
  any text        a message to the bot (or to the agent handling your request)
  a number        presses the button shown as [number] under the bot's last message
  /photo PATH     sends the image file at PATH (JPEG, PNG, GIF or WebP)
  /start, /menu   the main menu          /help       what the bot can do
  /agent          ask for a person       /language   choose the language
  /cancel         drop what you started
Ctrl-D ends the session; the conversation is kept for the next run with the same --user.
Without a terminal, each input line is one message and the bot's replies are awaited.";

/// Accepts the languages the bot speaks and refuses the rest, instead of quietly answering
/// in the default language.
fn parse_lang(text: &str) -> Result<String, String> {
    match crate::i18n::supported(text) {
        Some(_) => Ok(text.to_owned()),
        None => {
            let spoken: Vec<&str> = Lang::ALL.iter().map(|lang| lang.code()).collect();
            Err(format!("the bot does not speak {text:?}; choose one of {}", spoken.join(", ")))
        }
    }
}

pub async fn run(settings: Settings, args: ChatArgs) -> anyhow::Result<()> {
    let app = App::build(settings).await?;
    let (channel, replies) = TerminalChannel::new(app.renderer());
    let user = args.user.or_else(|| app.settings.login_name.clone()).unwrap_or_else(|| "customer".to_owned());
    // The terminal is local and fast: poll often so a scripted session never waits long for a
    // reply whose wake-up it missed.
    let outbox = OutboxSettings { poll_interval: Duration::from_millis(50), ..OutboxSettings::default() };
    let worker = app.outbox_worker(vec![Arc::new(channel)], outbox).only_for(CHANNEL, user.clone());
    let mut session = TerminalSession::new(
        app.intake(),
        app.media.clone(),
        user.clone(),
        args.lang,
        replies,
        Duration::from_secs(30),
    );
    let mut output = tokio::io::stdout();

    // Where the conversation stands: what waited for this user, or else the bot's last question.
    deliver_waiting(&worker).await?;
    if session.show_delivered(&mut output).await? == 0
        && let Some(last) = last_bot_message(&app, &user).await?
    {
        output.write_all(b"(continuing your conversation)\n").await?;
        session.show(&mut output, &last).await?;
    }

    let stop = CancellationToken::new();
    let worker_task = tokio::spawn(worker.run(stop.clone().cancelled_owned()));
    // With an order source, this process answers the lookups its own conversation asks for.
    let lookups = app.spawn_lookup_worker(stop.clone())?;
    let interactive = std::io::stdin().is_terminal();
    let result = session.run(tokio::io::BufReader::new(tokio::io::stdin()), &mut output, interactive).await;

    // Stop delivering before the session goes, and show what was delivered meanwhile: a row
    // marked sent is never sent again, so it must not be lost on the way out.
    stop.cancel();
    let _ = worker_task.await;
    if let Some(lookups) = lookups {
        let _ = lookups.await;
    }
    let shown = session.show_delivered(&mut output).await;
    app.shutdown().await;
    result?;
    shown?;
    Ok(())
}

/// Delivers every row that was waiting for this user, before anything new is typed.
async fn deliver_waiting(worker: &OutboxWorker) -> anyhow::Result<()> {
    loop {
        let round = worker.deliver_due(now_millis()).await?;
        if round.claimed == 0 || round.delivered == 0 {
            return Ok(());
        }
    }
}

/// The bot's last message to this user, rendered as they saw it.
async fn last_bot_message(app: &App, user: &str) -> anyhow::Result<Option<Printed>> {
    let Some(contact) = app.store.contact(CHANNEL, user).await? else { return Ok(None) };
    let Some(entry) = app.store.last_bot_message(CHANNEL, user).await? else { return Ok(None) };
    Ok(entry.reply().map(|reply| Printed::Bot(app.i18n.reply(contact.lang, &reply))))
}
