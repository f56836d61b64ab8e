//! The composition root: the only place that picks concrete types and spawns tasks.
//!
//! [`App::build`] wires the pieces every command shares (store, texts, FAQ model, media,
//! engine). [`serve`] adds the channels, the outbox workers and the HTTP server on top.

use crate::assets::{LocaleFile, LocaleSource};
use crate::channel_state::{ChannelState, ChannelStates};
use crate::channels::{Backoff, Channel, Intake, PlatformError, Renderer};
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
        let classifier = trained_classifier(&files)?;
        let media = MediaStore::new(settings.media_dir.clone(), settings.media_max_bytes)
            .with_limits(settings.limits.media_min_free_megabytes, settings.limits.concurrent_photo_checks);

        let default_language = settings.default_language;
        let engine_settings = EngineSettings::new(
            Arc::new(settings.order_id_format()),
            Arc::clone(&classifier) as _,
            default_language,
        )
        .with_negotiate(Arc::new(move |hint: Option<&str>| crate::i18n::negotiate(hint, default_language)));
        let engine_settings = engine_settings
            .with_flood_rule(crate::core::flood::FloodRule::per_minute(settings.flood_limit))
            .with_anonymous_channels(&[crate::channels::webchat::CHANNEL])
            .with_numbered_channels(&[crate::channels::ozon::CHANNEL, crate::channels::email::CHANNEL])
            .with_orders(settings.orders.is_some() || settings.ozon.is_some())
            .with_identity_secret(settings.identity.as_ref().map(|identity| identity.secret.clone()));
        let engine_settings = match settings.business_hours.clone() {
            Some(hours) => engine_settings.with_agents_back_at(Arc::new(move |now| {
                hours.agents_back_at(crate::store::to_datetime(now))
            })),
            None => engine_settings,
        };
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
        OutboxWorker::new(Arc::clone(&self.store), channels, settings, self.engine.outbox_link())
    }

    /// The configured order sources behind their guard (timeout, cache, circuit breaker);
    /// `None` without any.
    pub fn order_sources(&self) -> anyhow::Result<Option<Arc<crate::orders::guard::GuardedSources>>> {
        use crate::config::orders::{DEFAULT_CACHE_TTL, DEFAULT_TIMEOUT};
        use crate::orders::OrderSource;
        let mut sources: Vec<Arc<dyn OrderSource>> = Vec::new();
        // Ozon's postings first: it takes only posting numbers from buyers in Ozon's chat, and
        // the store's own source answers everything else.
        if let Some(ozon) = &self.settings.ozon {
            let api = crate::channels::ozon::api::OzonApi::new(ozon).context("Ozon settings")?;
            sources.push(Arc::new(crate::orders::ozon::OzonPostings::new(api)));
        }
        if let Some(orders) = &self.settings.orders {
            let http = crate::orders::http::HttpOrderSource::new(orders)
                .context("cannot set up the order lookups")?;
            sources.push(Arc::new(http));
        }
        if sources.is_empty() {
            return Ok(None);
        }
        let settings = match &self.settings.orders {
            Some(orders) => {
                crate::orders::guard::GuardSettings { timeout: orders.timeout, cache_ttl: orders.cache_ttl }
            }
            None => {
                crate::orders::guard::GuardSettings { timeout: DEFAULT_TIMEOUT, cache_ttl: DEFAULT_CACHE_TTL }
            }
        };
        Ok(Some(Arc::new(crate::orders::guard::GuardedSources::new(
            crate::orders::Sources::new(sources),
            settings,
        ))))
    }

    /// Runs the order-lookup worker until `stop` is cancelled, when an order source is
    /// configured. Lookups happen here, never in the engine's writer.
    pub fn spawn_lookup_worker(
        &self,
        stop: CancellationToken,
    ) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        let Some(sources) = self.order_sources()? else { return Ok(None) };
        let worker = crate::orders::worker::LookupWorker::new(
            Arc::clone(&self.store) as _,
            sources,
            Arc::clone(&self.engine) as _,
            self.engine.lookup_wake(),
        );
        Ok(Some(tokio::spawn(worker.run(stop.cancelled_owned()))))
    }

    /// Lets the engine finish what it has accepted, then closes the database.
    pub async fn shutdown(&self) {
        self.engine.shutdown().await;
        self.store.close().await;
    }
}

/// The web chat cookie key: the configured secret when there is one, otherwise a random one
/// generated on first start and kept in the database (so cookies survive restarts and every
/// instance signs alike).
pub async fn webchat_cookie_key(
    store: &dyn Store,
    configured: Option<&crate::secret::Secret>,
) -> anyhow::Result<crate::channels::webchat::CookieKey> {
    use crate::channels::webchat::CookieKey;
    if let Some(secret) = configured {
        return Ok(CookieKey::new(secret.expose()));
    }
    let candidate = CookieKey::generate_secret();
    let stored = store.server_secret("webchat_cookie_key", &candidate, store::now_millis()).await?;
    Ok(CookieKey::new(&stored))
}

/// Opens the configured database; migrations are applied on connect.
pub async fn connect_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let options = ConnectOptions {
        sqlite_durability: match settings.sqlite_sync {
            SqliteSync::Full => SqliteDurability::Full,
            SqliteSync::Normal => SqliteDurability::Normal,
        },
        wait_for_server: settings.database_wait,
        ..ConnectOptions::default()
    };
    store::connect(settings.database_url.as_str(), &options)
        .await
        .with_context(|| format!("cannot open the database {}", settings.database_url.redacted()))
}

/// The FAQ model for these locale files, trained once per process: training is deterministic,
/// so apps built from the same phrases (tests start many) can share one model.
pub fn trained_classifier(files: &[LocaleFile]) -> anyhow::Result<Arc<Classifier>> {
    use std::hash::{Hash, Hasher};
    use std::sync::Mutex;
    static TRAINED: Mutex<Vec<(u64, Arc<Classifier>)>> = Mutex::new(Vec::new());

    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files.iter().filter(|file| file.name == "intents.toml") {
        (&file.lang, &file.contents).hash(&mut hasher);
    }
    let key = hasher.finish();
    if let Some((_, model)) =
        TRAINED.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(k, _)| *k == key)
    {
        return Ok(Arc::clone(model));
    }
    let model = Arc::new(train_classifier(files)?);
    TRAINED.lock().unwrap_or_else(|e| e.into_inner()).push((key, Arc::clone(&model)));
    Ok(model)
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
    let filter = settings.log_filter.as_deref().or(default_filter).unwrap_or("info");
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

/// A running Switchboard: every configured channel, the outbox worker, the queue reminders
/// and the HTTP server. Tests start one on port 0 and talk to it like a platform would.
pub struct Running {
    pub app: Arc<App>,
    pub address: std::net::SocketAddr,
    /// Where `/metrics` is served, when metrics are on.
    pub metrics_address: Option<std::net::SocketAddr>,
    /// What each channel is doing (a platform unreachable at start is retried meanwhile).
    pub channels: ChannelStates,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Why a graceful shutdown was cut short.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownCut {
    #[error("shutdown did not finish within {0:?}; exiting anyway")]
    Overrun(std::time::Duration),
    #[error("a second stop signal arrived during shutdown; exiting now")]
    SecondSignal,
}

impl Running {
    /// Stops intake, lets in-flight work finish, and closes the database:
    /// 1. the HTTP servers stop accepting, open event streams end, long-poll loops stop
    ///    fetching (a batch being stored is finished), reminders stop;
    /// 2. requests already inside (a webhook whose event is being committed) get their answer;
    /// 3. the outbox worker finishes its current delivery round;
    /// 4. the engine commits every job it has accepted, and the database is closed.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.server.await;
        for task in self.tasks {
            let _ = task.await;
        }
        self.app.shutdown().await;
    }

    /// [`Running::stop`], given at most `bound`. Past it, the caller should exit anyway: the
    /// work left is what a crash would leave, and the engine's guarantees cover a crash.
    pub async fn stop_within(self, bound: std::time::Duration) -> Result<(), ShutdownCut> {
        tokio::time::timeout(bound, self.stop()).await.map_err(|_| ShutdownCut::Overrun(bound))
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
    use crate::channels::{email, max, ozon, telegram, vk};

    // The recorder goes in before the engine starts: the engine binds its histograms to it.
    let metrics = match settings.metrics_bind {
        Some(bind) => {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind} (SWITCHBOARD_METRICS_BIND)"))?;
            Some((crate::telemetry::install()?, listener))
        }
        None => None,
    };
    let app = Arc::new(App::build(settings).await?);
    let stop = CancellationToken::new();
    let states = ChannelStates::default();
    let mut tasks = Vec::new();
    let mut metrics_address = None;
    if let Some((handle, listener)) = metrics {
        metrics_address = Some(listener.local_addr()?);
        let router = crate::telemetry::router(handle.clone(), Arc::clone(&app.store), states.clone());
        let server_stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let served =
                axum::serve(listener, router).with_graceful_shutdown(server_stop.cancelled_owned()).await;
            if let Err(error) = served {
                tracing::error!(%error, "the metrics server stopped");
            }
        }));
        tasks.push(tokio::spawn(crate::telemetry::run_upkeep(handle, stop.clone().cancelled_owned())));
    }
    let one_time_password_file = hand_over_first_admin(&app).await?;

    // The web chat is always on: it is the store's own channel.
    states.set(crate::channels::webchat::CHANNEL, ChannelState::Up);
    let hub = Arc::new(crate::channels::webchat::WebChatHub::new());
    let mut channels: Vec<Arc<dyn Channel>> =
        vec![Arc::new(crate::channels::webchat::WebChatChannel::new(Arc::clone(&hub)))];
    let chat = crate::channels::webchat::WebChatState {
        intake: app.intake(),
        log: Arc::clone(&app.engine) as Arc<dyn crate::channels::webchat::ChatLog>,
        hub,
        media: app.media.clone(),
        render: app.renderer(),
        cookie_key: webchat_cookie_key(&*app.store, app.settings.webchat_secret.as_ref()).await?,
        settings: crate::channels::webchat::WebChatSettings {
            secure_cookies: app.settings.secure_cookies,
            default_lang: app.settings.default_language,
            ..Default::default()
        },
        limits: Arc::new(crate::channels::webchat::WebChatLimits::new(&app.settings.limits)),
    };
    // The console speaks from the same files as the bot (`SWITCHBOARD_LOCALES_DIR` included).
    crate::console::texts::use_texts(Arc::clone(&app.i18n));
    let console = crate::console::ConsoleState::new(
        Arc::clone(&app.engine),
        app.media.clone(),
        app.renderer(),
        crate::console::ConsoleSettings {
            one_time_password_file,
            identity_secret: app.settings.identity.as_ref().map(|identity| identity.secret.clone()),
            ..crate::console::ConsoleSettings::new(app.settings.secure_cookies, &app.settings.limits)
        },
    )
    .with_channel_states(states.clone());
    // Machine translation for agents, off unless configured; nothing of it runs on the writer.
    let console = match &app.settings.translate {
        Some(settings) => {
            let translator = crate::translate::from_settings(settings).context("translation settings")?;
            tracing::info!(
                provider = translator.name(),
                glossary_terms = settings.glossary.len(),
                "machine translation on"
            );
            console
                .with_translation(Arc::new(crate::translate::Translation::new(translator, settings.timeout)))
        }
        None => console,
    };
    let mut router = crate::http::health_router_with(Arc::clone(&app.store), states.clone())
        .merge(crate::channels::webchat::router(chat))
        .merge(crate::console::router(console));

    if let Some(telegram_settings) = app.settings.telegram.clone() {
        let channel = Arc::new(
            telegram::TelegramChannel::new(telegram_settings, app.media.clone(), app.renderer())
                .context("Telegram settings")?,
        );
        if matches!(channel.mode(), telegram::Mode::Webhook) {
            router = router.merge(telegram::webhook::router(Arc::clone(&channel), app.intake()));
        }
        // The Bot API may be unreachable now: the rest serves meanwhile, and this keeps trying.
        tasks.push(tokio::spawn(start_telegram(
            Arc::clone(&channel),
            Arc::clone(&app),
            stop.clone(),
            states.clone(),
        )));
        channels.push(channel);
    }

    if let Some(vk_settings) = app.settings.vk.clone() {
        let channel =
            vk::VkChannel::new(vk_settings, app.media.clone(), app.renderer()).context("VK settings")?;
        match channel.settings().mode {
            crate::config::vk::VkMode::LongPoll => {
                let (receiver, intake) = (channel.receiver(), app.intake());
                let leadership = format!("vk:{}", channel.settings().group_id);
                let running = PollReport::channel(vk::CHANNEL, states.clone());
                let poll_states = states.clone();
                tasks.push(tokio::spawn(poll_while_leading(
                    Arc::clone(&app.store),
                    leadership,
                    stop.clone(),
                    running,
                    move |shutdown| {
                        vk::longpoll::run(
                            receiver.clone(),
                            Arc::clone(&intake),
                            shutdown,
                            poll_states.clone(),
                        )
                    },
                )));
            }
            crate::config::vk::VkMode::Callback => {
                router = router.merge(vk::callback::router(channel.receiver(), app.intake()));
                states.set(vk::CHANNEL, ChannelState::Up);
            }
        }
        tracing::info!(mode = ?channel.settings().mode, "VK channel started");
        channels.push(Arc::new(channel));
    }

    if let Some(max_settings) = app.settings.max.clone() {
        let channel =
            max::MaxChannel::new(max_settings, app.media.clone(), app.renderer()).context("MAX settings")?;
        match channel.settings().mode {
            crate::config::max::MaxMode::LongPoll => {
                let (receiver, intake) = (channel.receiver(), app.intake());
                let leadership = format!("max:{}", max::bot_key(channel.settings()));
                tasks.push(tokio::spawn(poll_while_leading(
                    Arc::clone(&app.store),
                    leadership,
                    stop.clone(),
                    PollReport::channel(max::CHANNEL, states.clone()),
                    move |shutdown| max::longpoll::run(receiver.clone(), Arc::clone(&intake), shutdown),
                )));
            }
            crate::config::max::MaxMode::Webhook => {
                router = router.merge(max::webhook::router(channel.receiver(), app.intake()));
                // MAX may be unreachable now: the rest serves meanwhile, and this keeps trying.
                tasks.push(tokio::spawn(subscribe_max(channel.clone(), stop.clone(), states.clone())));
            }
        }
        tracing::info!(mode = ?channel.settings().mode, "MAX channel configured");
        channels.push(Arc::new(channel));
    }

    if let Some(email_settings) = app.settings.email.clone() {
        let channel = email::EmailChannel::new(email_settings, app.media.clone(), app.renderer())
            .context("email settings")?;
        let (receiver, intake) = (channel.receiver(), app.intake());
        // One watcher per mailbox, as one poller per bot.
        let leadership = format!("email:{}", channel.settings().mailbox_key());
        let poll_states = states.clone();
        tasks.push(tokio::spawn(poll_while_leading(
            Arc::clone(&app.store),
            leadership,
            stop.clone(),
            PollReport::channel(email::CHANNEL, states.clone()),
            move |shutdown| {
                email::imap::run(receiver.clone(), Arc::clone(&intake), shutdown, poll_states.clone())
            },
        )));
        tracing::info!("email channel configured");
        channels.push(Arc::new(channel));
    }

    if let Some(ozon_settings) = app.settings.ozon.clone() {
        let channel = ozon::OzonChannel::new(ozon_settings, app.media.clone(), app.renderer())
            .context("Ozon settings")?;
        if channel.settings().push_secret.is_some() {
            router = router.merge(ozon::push::router(channel.receiver(), app.intake()));
        }
        // The history is read whether or not pushes come: it is how missed ones arrive.
        let (receiver, intake) = (channel.receiver(), app.intake());
        tasks.push(tokio::spawn(poll_while_leading(
            Arc::clone(&app.store),
            ozon::leadership(&channel.settings().client_id),
            stop.clone(),
            PollReport::channel(ozon::CHANNEL, states.clone()),
            move |shutdown| ozon::history::run(receiver.clone(), Arc::clone(&intake), shutdown),
        )));
        tracing::info!(push = channel.settings().push_secret.is_some(), "Ozon channel configured");
        channels.push(Arc::new(channel));
    }

    let released = app.store.release_abandoned_leases().await.context("cannot prepare the outbox")?;
    if released > 0 {
        tracing::info!(rows = released, "outbox rows claimed before a crash will be sent again");
    }
    // Commits of other instances wake this one's worker (PostgreSQL LISTEN; nothing on SQLite).
    if let Err(error) = app.store.listen_for_outbox(app.engine.outbox_link().wake).await {
        tracing::warn!(%error, "cannot listen for other instances' outbox rows; the worker polls instead");
    }
    let worker = app.outbox_worker(channels, outbox);
    let worker_stop = stop.clone();
    tasks.push(tokio::spawn(async move { worker.run(worker_stop.cancelled_owned()).await }));
    if let Some(lookups) = app.spawn_lookup_worker(stop.clone())? {
        tasks.push(lookups);
    }
    let reminders = crate::console::QueueReminderSettings::new(app.settings.queue_reminder_after);
    tasks.push(tokio::spawn(crate::console::run_queue_reminders(
        Arc::clone(&app.engine),
        reminders,
        stop.clone().cancelled_owned(),
    )));

    let limits = &app.settings.limits;
    let router = crate::http::with_request_timeout(router, limits.request_timeout);
    let router = crate::http::end_event_streams_on(router, stop.clone());
    let address = listener.local_addr()?;
    let server_limits = crate::web::server::ServerLimits {
        max_connections: limits.max_connections,
        header_read_timeout: limits.header_read_timeout,
        trusted_proxies: crate::web::client::TrustedProxies::new(limits.trusted_proxies.clone()),
    };
    let server = tokio::spawn(crate::web::server::serve(listener, router, server_limits, stop.clone()));
    tracing::info!(%address, database = %app.settings.database_url.redacted(), "serving");
    Ok(Running { app, address, metrics_address, channels: states, stop, tasks, server })
}

/// Where a long-poll loop reports its channel's state.
struct PollReport {
    channel: &'static str,
    states: ChannelStates,
}

impl PollReport {
    fn channel(channel: &'static str, states: ChannelStates) -> PollReport {
        PollReport { channel, states }
    }
}

/// On first start, creates the agent `admin` and writes its one-time password to a file in the
/// data folder that only this user may read; the log says where, never what. Returns the
/// file's path, which the console removes once the admin has chosen their own password.
async fn hand_over_first_admin(app: &App) -> anyhow::Result<Option<std::path::PathBuf>> {
    use crate::console::agents;
    let Some(password) = agents::ensure_admin(&*app.store).await? else { return Ok(None) };
    let path = agents::write_one_time_password(&app.settings.data_dir, &password).with_context(|| {
        format!(
            "created the agent `admin`, but cannot write its one-time password into {}; \
             set one with `switchboard agents passwd admin`",
            app.settings.data_dir.display()
        )
    })?;
    tracing::warn!(
        file = %path.display(),
        "created the agent `admin`; its one-time password is in the file, readable by this user only. \
         Sign in at /console and choose a new password."
    );
    Ok(Some(path))
}

/// Runs a long-poll loop (Telegram `getUpdates`, VK Bots Long Poll, MAX `GET /updates`) only while this process
/// leads its source: several processes may share a PostgreSQL database, and a platform must
/// see one poller per bot. Waits for leadership, polls until shutdown or until leadership is
/// lost (then waits to lead again), and gives leadership up when it stops. The loop itself
/// never sees the store: it gets a stop signal that fires on either. The channel counts as up
/// from here on (a follower is up too: its leader polls), and as stopped if the loop fails.
async fn poll_while_leading<Poll, Polling, PollError>(
    store: Arc<dyn Store>,
    name: String,
    stop: CancellationToken,
    running: PollReport,
    mut poll: Poll,
) where
    Poll: FnMut(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Polling,
    Polling: std::future::Future<Output = Result<(), PollError>>,
    PollError: std::fmt::Display,
{
    running.states.set(running.channel, ChannelState::Up);
    loop {
        let Some(leadership) = store::wait_for_leadership(store.as_ref(), &name, &stop).await else {
            return;
        };
        tracing::info!(leadership = %name, "this process leads; polling");
        let (stopped, lost) = (stop.clone(), leadership.lost());
        let result = poll(Box::pin(async move {
            tokio::select! {
                () = stopped.cancelled_owned() => {}
                () = lost => {}
            }
        }))
        .await;
        leadership.release().await;
        match result {
            Err(error) => {
                tracing::error!(leadership = %name, %error, "polling stopped");
                running.states.set(running.channel, ChannelState::Stopped { reason: error.to_string() });
                return;
            }
            Ok(()) if stop.is_cancelled() => return,
            // The loops return `Ok` only when their stop signal fires: here, the lost lock.
            Ok(()) => {
                tracing::warn!(leadership = %name, "leadership lost; polling stopped until it is regained");
            }
        }
    }
}

/// The first pause after a failed start; it doubles per attempt up to [`MAX_START_PAUSE`].
const FIRST_START_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);
const MAX_START_PAUSE: std::time::Duration = std::time::Duration::from_secs(300);

/// Subscribes the MAX webhook (`POST /subscriptions`), trying again with backoff while MAX
/// cannot be reached. A rejected token stops the channel with its reason.
async fn subscribe_max(
    channel: crate::channels::max::MaxChannel,
    stop: CancellationToken,
    states: ChannelStates,
) {
    use crate::channels::max;
    states.set(max::CHANNEL, ChannelState::Starting);
    let mut backoff = Backoff::new(FIRST_START_PAUSE, MAX_START_PAUSE);
    let mut attempt = 0u32;
    loop {
        let error = match max::subscribe(&channel).await {
            Ok(()) => break,
            Err(error) => error,
        };
        attempt += 1;
        if error.is_fatal() {
            tracing::error!(%error, "the MAX channel is stopped; fix its settings and restart");
            states.set(max::CHANNEL, ChannelState::Stopped { reason: error.to_string() });
            return;
        }
        tracing::warn!(%error, attempt, retry_in = ?backoff.next_pause(), "cannot subscribe the MAX webhook; trying again");
        states.set(max::CHANNEL, ChannelState::Retrying { reason: error.to_string(), attempt });
        if backoff.pause_unless(stop.cancelled()).await {
            return;
        }
    }
    states.set(max::CHANNEL, ChannelState::Up);
}

/// Sets the Telegram bot up (`getMe`, then the webhook or its removal), trying again with
/// backoff while the Bot API cannot be reached, and then starts long polling if that is the
/// mode. A refusal from the API (a revoked token) stops the channel with its reason.
async fn start_telegram(
    channel: Arc<crate::channels::telegram::TelegramChannel>,
    app: Arc<App>,
    stop: CancellationToken,
    states: ChannelStates,
) {
    use crate::channels::telegram::{self, Mode, SetupError};
    let name = telegram::CHANNEL;
    states.set(name, ChannelState::Starting);
    let mut backoff = Backoff::new(FIRST_START_PAUSE, MAX_START_PAUSE);
    let mut attempt = 0u32;
    let mode = loop {
        let error = match channel.setup().await {
            Ok(mode) => break mode,
            Err(error) => error,
        };
        attempt += 1;
        if matches!(error, SetupError::Refused(_) | SetupError::WrongBot { .. }) {
            tracing::error!(%error, "the Telegram channel is stopped; fix its settings and restart");
            states.set(name, ChannelState::Stopped { reason: error.to_string() });
            return;
        }
        tracing::warn!(%error, attempt, retry_in = ?backoff.next_pause(), "cannot set up the Telegram bot; trying again");
        states.set(name, ChannelState::Retrying { reason: error.to_string(), attempt });
        if backoff.pause_unless(stop.cancelled()).await {
            return;
        }
    };
    tracing::info!(?mode, "Telegram channel started");
    match mode {
        Mode::Webhook => states.set(name, ChannelState::Up),
        Mode::Polling => {
            let intake = app.intake();
            let leadership = format!("telegram:{}", channel.bot_id());
            let poll_states = states.clone();
            // The loop itself runs on a thread of its own (see `polling::run`).
            poll_while_leading(
                Arc::clone(&app.store),
                leadership,
                stop,
                PollReport::channel(name, states),
                move |shutdown| {
                    let (channel, intake) = (Arc::clone(&channel), Arc::clone(&intake));
                    telegram::polling::run(channel, intake, shutdown, poll_states.clone())
                },
            )
            .await;
        }
    }
}

/// `switchboard serve`: [`start`] on the configured address, until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on {} (SWITCHBOARD_BIND)", settings.bind))?;
    let bound = settings.shutdown_timeout;
    let running = start(settings, listener).await?;
    println!("Switchboard is listening on http://{}", running.address);
    if let Some(metrics) = running.metrics_address {
        println!("Metrics are served at http://{metrics}/metrics");
    }
    shutdown_signal().await;
    tracing::info!(bound = ?bound, "shutting down: finishing in-flight work");
    // A second Ctrl-C or SIGTERM means "now": stop waiting, as when the bound passes.
    let outcome = tokio::select! {
        outcome = running.stop_within(bound) => outcome,
        () = shutdown_signal() => Err(ShutdownCut::SecondSignal),
    };
    match outcome {
        Ok(()) => {
            tracing::info!("shut down cleanly");
            Ok(())
        }
        Err(cut) => {
            tracing::error!(%cut, "shutdown cut short; unfinished work resumes at the next start");
            Err(cut.into())
        }
    }
}
