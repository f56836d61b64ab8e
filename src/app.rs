//! The composition root: the only place that picks concrete types and spawns tasks.
//!
//! [`App::build`] wires the pieces every command shares (store, texts, FAQ model, media,
//! engine). [`serve`] adds the channels, the outbox workers and the HTTP server on top.

use crate::assets::{LocaleFile, LocaleSource};
use crate::channels::{Channel, Intake, Renderer};
use crate::config::{LogFormat, Settings, SqliteSync};
use crate::core::faq::Classifier;
use crate::core::message::Lang;
use crate::engine::{Engine, EngineSettings};
use crate::i18n::I18n;
use crate::media::MediaStore;
use crate::outbox::{OutboxSettings, OutboxWorker};
use crate::store::{self, ConnectOptions, SqliteDurability, Store};
use anyhow::Context as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What every command that talks to customers needs.
pub struct App {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    pub i18n: Arc<I18n>,
    pub classifier: Arc<Classifier>,
    pub media: MediaStore,
}

impl App {
    /// Connects to the database (applying migrations), loads the texts and trains the FAQ
    /// model, and starts the engine's writer.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let store = connect_store(&settings).await?;
        let locales = settings.locales_dir.clone().map_or(LocaleSource::Embedded, LocaleSource::Dir);
        let files = locales.files().with_context(|| format!("cannot read the locale files of {locales}"))?;
        let i18n = Arc::new(I18n::from_files(&files).context("cannot load the Fluent texts")?);
        let classifier = Arc::new(train_classifier(&files)?);
        let media = MediaStore::new(settings.media_dir.clone(), settings.media_max_bytes);

        let default_language = settings.default_language;
        let engine_settings = EngineSettings::new(
            Arc::new(settings.order_id_format()),
            Arc::clone(&classifier) as _,
            default_language,
        )
        .with_negotiate(Arc::new(move |hint: Option<&str>| crate::i18n::negotiate(hint, default_language)));
        let engine = Arc::new(Engine::start(Arc::clone(&store), engine_settings));
        Ok(App { settings, store, engine, i18n, classifier, media })
    }

    /// Renders bot replies in the contact's language, for channels.
    pub fn renderer(&self) -> Renderer {
        let i18n = Arc::clone(&self.i18n);
        Arc::new(move |lang: Lang, reply| i18n.reply(lang, reply))
    }

    pub fn intake(&self) -> Arc<dyn Intake> {
        Arc::clone(&self.engine) as Arc<dyn Intake>
    }

    /// An outbox worker for the given channels, woken by the engine after each commit.
    pub fn outbox_worker(&self, channels: Vec<Arc<dyn Channel>>, settings: OutboxSettings) -> OutboxWorker {
        let channels: HashMap<&'static str, Arc<dyn Channel>> =
            channels.into_iter().map(|channel| (channel.name(), channel)).collect();
        OutboxWorker::new(Arc::clone(&self.store), channels, settings, self.engine.outbox_wake())
    }

    /// Lets the engine finish what it has accepted, then closes the database.
    pub async fn shutdown(&self) {
        self.engine.shutdown().await;
        self.store.close().await;
    }
}

/// Opens the configured database; migrations are applied on connect.
pub async fn connect_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let options = ConnectOptions {
        sqlite_durability: match settings.sqlite_sync {
            SqliteSync::Full => SqliteDurability::Full,
            SqliteSync::Normal => SqliteDurability::Normal,
        },
        ..ConnectOptions::default()
    };
    store::connect(settings.database_url.as_str(), &options)
        .await
        .with_context(|| format!("cannot open the database {}", settings.database_url.redacted()))
}

/// Trains the FAQ model from every language's `intents.toml`.
pub fn train_classifier(files: &[LocaleFile]) -> anyhow::Result<Classifier> {
    let mut sets = Vec::new();
    for file in files.iter().filter(|file| file.name == "intents.toml") {
        let Some(lang) = Lang::from_code(&file.lang) else { continue };
        sets.push(crate::faq_phrases::parse(lang, &file.path_label, &file.contents)?);
    }
    anyhow::ensure!(!sets.is_empty(), "no intents.toml found among the locale files");
    Ok(crate::faq_phrases::train(&sets))
}

/// Sets up logging: human-readable or JSON lines, filtered by `SWITCHBOARD_LOG`. Commands that
/// talk on stdout (chat, the CLI) log to stderr so their output stays clean.
pub fn init_tracing(settings: &Settings, default_filter: Option<&str>) {
    let filter = match default_filter {
        Some(filter) if std::env::var_os("SWITCHBOARD_LOG").is_none() => filter.to_owned(),
        _ => settings.log_filter.clone(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second initialisation (tests building several apps) is harmless: keep the first.
    let _ = match settings.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Spawns the loop that tells long-waiting customers where they stand in the queue.
pub fn spawn_queue_reminders(engine: Arc<Engine>, after: Duration, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30).min(after));
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(error) = engine.queue_reminders(after, after).await {
                        tracing::warn!(%error, "queue reminders failed; will try again");
                    }
                }
            }
        }
    });
}

/// A running Switchboard: every configured channel, the outbox worker, the queue reminders
/// and the HTTP server. Tests start one on port 0 and talk to it like a platform would.
pub struct Running {
    pub app: Arc<App>,
    pub address: std::net::SocketAddr,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops intake, lets in-flight work finish, and closes the database.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.server.await;
        for task in self.tasks {
            let _ = task.await;
        }
        self.app.shutdown().await;
    }
}

/// Starts everything on `listener` (bound by the caller, so tests can use port 0).
pub async fn start(settings: Settings, listener: tokio::net::TcpListener) -> anyhow::Result<Running> {
    start_with(settings, listener, OutboxSettings::default()).await
}

/// [`start`] with explicit outbox pacing (tests poll faster).
pub async fn start_with(
    settings: Settings,
    listener: tokio::net::TcpListener,
    outbox: OutboxSettings,
) -> anyhow::Result<Running> {
    use crate::channels::{telegram, vk};

    let app = Arc::new(App::build(settings).await?);
    let stop = CancellationToken::new();
    let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
    let mut router = crate::http::health_router(Arc::clone(&app.store));
    let mut tasks = Vec::new();

    if let Some(telegram_settings) = app.settings.telegram.clone() {
        let channel = Arc::new(
            telegram::TelegramChannel::new(telegram_settings, app.media.clone(), app.renderer())
                .context("Telegram settings")?,
        );
        match channel.setup().await.context("cannot set up the Telegram bot")? {
            telegram::Mode::Polling => {
                let (channel, intake, stop) = (Arc::clone(&channel), app.intake(), stop.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(error) = telegram::polling::run(channel, intake, stop.cancelled_owned()).await
                    {
                        tracing::error!(%error, "Telegram polling stopped");
                    }
                }));
            }
            telegram::Mode::Webhook => {
                router = router.merge(telegram::webhook::router(Arc::clone(&channel), app.intake()));
            }
        }
        tracing::info!(mode = ?channel.mode(), "Telegram channel started");
        channels.push(channel);
    }

    if let Some(vk_settings) = app.settings.vk.clone() {
        let channel =
            vk::VkChannel::new(vk_settings, app.media.clone(), app.renderer()).context("VK settings")?;
        match channel.settings().mode {
            vk::VkMode::LongPoll => {
                let (receiver, intake, stop) = (channel.receiver(), app.intake(), stop.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(error) = vk::longpoll::run(receiver, intake, stop.cancelled_owned()).await {
                        tracing::error!(%error, "VK Long Poll stopped");
                    }
                }));
            }
            vk::VkMode::Callback => {
                router = router.merge(vk::callback::router(channel.receiver(), app.intake()))
            }
        }
        tracing::info!(mode = ?channel.settings().mode, "VK channel started");
        channels.push(Arc::new(channel));
    }

    let worker = app.outbox_worker(channels, outbox);
    let worker_stop = stop.clone();
    tasks.push(tokio::spawn(async move { worker.run(worker_stop.cancelled_owned()).await }));
    spawn_queue_reminders(Arc::clone(&app.engine), app.settings.queue_reminder_after, stop.clone());

    let address = listener.local_addr()?;
    let server_stop = stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).with_graceful_shutdown(server_stop.cancelled_owned()).await
    });
    tracing::info!(%address, database = %app.settings.database_url.redacted(), "serving");
    Ok(Running { app, address, stop, tasks, server })
}

/// `switchboard serve`: [`start`] on the configured address, until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on {} (SWITCHBOARD_BIND)", settings.bind))?;
    let running = start(settings, listener).await?;
    println!("Switchboard is listening on http://{}", running.address);
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight work");
    running.stop().await;
    Ok(())
}
