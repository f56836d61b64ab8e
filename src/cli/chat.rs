//! `switchboard chat`: be the customer, in the terminal.

use crate::app::App;
use crate::channels::terminal::{TerminalChannel, TerminalSession};
use crate::config::Settings;
use crate::outbox::OutboxSettings;
use clap::Args;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The language a new conversation starts in (en, ru, zh; also `ru-RU` and the like).
    #[arg(long, value_name = "LANG")]
    pub lang: Option<String>,
    /// Who you are. Two runs with the same name continue the same conversation.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

pub async fn run(settings: Settings, args: ChatArgs) -> anyhow::Result<()> {
    let app = App::build(settings).await?;
    let (channel, replies) = TerminalChannel::new(app.renderer());
    // The terminal is local and fast: poll often so a scripted session never waits long for a
    // reply whose wake-up it missed.
    let outbox = OutboxSettings { poll_interval: Duration::from_millis(50), ..OutboxSettings::default() };
    let worker = app.outbox_worker(vec![Arc::new(channel)], outbox);
    let stop = CancellationToken::new();
    let worker_task = tokio::spawn(worker.run(stop.clone().cancelled_owned()));

    let user = args.user.or_else(|| app.settings.login_name.clone()).unwrap_or_else(|| "customer".to_owned());
    let session = TerminalSession {
        intake: app.intake(),
        media: app.media.clone(),
        user,
        lang_hint: args.lang,
        replies,
        reply_timeout: Duration::from_secs(30),
    };
    let interactive = std::io::stdin().is_terminal();
    let result =
        session.run(tokio::io::BufReader::new(tokio::io::stdin()), tokio::io::stdout(), interactive).await;

    stop.cancel();
    let _ = worker_task.await;
    app.shutdown().await;
    result
}
