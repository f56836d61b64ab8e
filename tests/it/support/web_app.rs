//! The real web chat and console routers over a fresh SQLite file, the real engine and an
//! outbox worker delivering in the background: what `serve` composes, for route and browser
//! tests. Bot replies are rendered with the English Fluent file (i18n is wired by the app).

use crate::support::engine_fixtures::{self, TestDb};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard::channel_state::ChannelStates;
use switchboard::channels::webchat::{self, WebChatChannel, WebChatHub, WebChatSettings, WebChatState};
use switchboard::channels::{Channel, Delivery, DeliveryError, Renderer};
use switchboard::console::{self, ConsoleSettings, ConsoleState, Role};
use switchboard::core::message::{Arg, Lang, Reply};
use switchboard::engine::Engine;
use switchboard::i18n::{RenderedButton, RenderedReply};
use switchboard::media::MediaStore;
use switchboard::outbox::{OutboxSettings, OutboxWorker};
use switchboard::store::{self, ConnectOptions, Store};
use tokio::sync::watch;

pub const AGENT_PASSWORD: &str = "correct horse battery";

/// Renders replies from `locales/en/dialog.ftl`; a missing message shows its key.
pub fn english_renderer() -> Renderer {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/locales/en/dialog.ftl");
    let source = std::fs::read_to_string(path).expect("the English dialog texts");
    let resource = FluentResource::try_new(source).expect("dialog.ftl parses");
    let mut bundle = FluentBundle::new_concurrent(vec!["en".parse().unwrap()]);
    bundle.set_use_isolating(false);
    bundle.add_resource(resource).expect("no duplicate messages");
    let bundle = Arc::new(bundle);
    let text = move |key: &str, args: &[(String, Arg)]| -> String {
        let Some(pattern) = bundle.get_message(key).and_then(|message| message.value()) else {
            return key.to_owned();
        };
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Number(number) => fluent_args.set(name.clone(), FluentValue::from(*number)),
                Arg::Text(text) => fluent_args.set(name.clone(), FluentValue::from(text.clone())),
            }
        }
        let mut errors = Vec::new();
        bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned()
    };
    Arc::new(move |_lang: Lang, reply: &Reply| RenderedReply {
        // Paragraphs apart, as `I18n::reply` renders them.
        text: reply
            .texts()
            .map(|paragraph| text(&paragraph.key, &paragraph.args))
            .collect::<Vec<_>>()
            .join("\n\n"),
        buttons: reply
            .buttons
            .iter()
            .map(|row| {
                row.iter()
                    .map(|button| RenderedButton {
                        label: text(&button.label.key, &button.label.args),
                        data: button.action.encode(),
                    })
                    .collect()
            })
            .collect(),
        attachments: reply.attachments.clone(),
    })
}

/// Stands in for a messenger (the Telegram channel's fake Bot API lives on its own branch):
/// records what the outbox delivered to it.
pub struct RecordingChannel {
    pub name: &'static str,
    pub delivered: Mutex<Vec<Delivery>>,
}

#[async_trait::async_trait]
impl Channel for RecordingChannel {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        self.delivered.lock().unwrap().push(delivery.clone());
        Ok(())
    }
}

pub struct TestApp {
    pub db_file: TestDb,
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    pub router: axum::Router,
    pub telegram: Arc<RecordingChannel>,
    /// Kept for its `Drop`, which deletes the media folder after the test.
    /// What the console's banner reports; tests set a channel's state here.
    pub channels: ChannelStates,
    pub media: MediaStore,
    _media_dir: tempfile::TempDir,
    stop: watch::Sender<bool>,
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with_media_limit(switchboard::media::DEFAULT_MAX_BYTES).await
    }

    pub async fn start_with_media_limit(max_bytes: u64) -> TestApp {
        TestApp::start_on(TestDb::sqlite(), max_bytes).await
    }

    /// The app on a fresh database on `SWITCHBOARD_TEST_POSTGRES` (see [`TestDb::postgres`]).
    pub async fn start_on_postgres() -> TestApp {
        TestApp::start_on(TestDb::postgres().await, switchboard::media::DEFAULT_MAX_BYTES).await
    }

    pub async fn start_on(db_file: TestDb, max_bytes: u64) -> TestApp {
        TestApp::start_with(db_file, max_bytes, english_renderer(), None).await
    }

    /// The app with machine translation in the console, through `translation`, and the bot's
    /// replies rendered in every language (agents read them in their own).
    pub async fn start_translating(translation: Arc<switchboard::translate::Translation>) -> TestApp {
        let i18n = Arc::new(
            switchboard::i18n::I18n::load(&switchboard::assets::LocaleSource::Embedded)
                .expect("the built-in texts"),
        );
        let render: Renderer = Arc::new(move |lang: Lang, reply: &Reply| i18n.reply(lang, reply));
        TestApp::start_with(
            TestDb::sqlite(),
            switchboard::media::DEFAULT_MAX_BYTES,
            render,
            Some(translation),
        )
        .await
    }

    async fn start_with(
        db_file: TestDb,
        max_bytes: u64,
        render: Renderer,
        translation: Option<Arc<switchboard::translate::Translation>>,
    ) -> TestApp {
        let store = store::connect(&db_file.url, &ConnectOptions::default()).await.expect("store");
        let settings = engine_fixtures::settings().with_anonymous_channels(&[webchat::CHANNEL]);
        let engine = Arc::new(Engine::start(Arc::clone(&store), settings));
        let media_dir = tempfile::tempdir().unwrap();
        let media = MediaStore::new(media_dir.path(), max_bytes);
        let hub = Arc::new(WebChatHub::new());
        let telegram = Arc::new(RecordingChannel { name: "telegram", delivered: Mutex::new(Vec::new()) });

        let mut channels: HashMap<&'static str, Arc<dyn Channel>> = HashMap::new();
        channels.insert(webchat::CHANNEL, Arc::new(WebChatChannel::new(Arc::clone(&hub))));
        channels.insert("telegram", Arc::clone(&telegram) as Arc<dyn Channel>);
        let outbox_settings = OutboxSettings {
            poll_interval: std::time::Duration::from_millis(50),
            ..OutboxSettings::default()
        };
        let worker = OutboxWorker::new(Arc::clone(&store), channels, outbox_settings, engine.outbox_link());
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(worker.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }));

        let cookie_key = switchboard::app::webchat_cookie_key(&*store, None).await.unwrap();
        let chat = WebChatState {
            intake: Arc::clone(&engine) as Arc<dyn switchboard::channels::Intake>,
            log: Arc::clone(&engine) as Arc<dyn webchat::ChatLog>,
            hub,
            media: media.clone(),
            render: Arc::clone(&render),
            cookie_key,
            settings: WebChatSettings {
                poll_interval: std::time::Duration::from_millis(500),
                ..WebChatSettings::default()
            },
            limits: Arc::new(webchat::WebChatLimits::default()),
        };
        let console_settings = ConsoleSettings {
            live_poll_interval: std::time::Duration::from_millis(300),
            ..ConsoleSettings::default()
        };
        let channels = ChannelStates::default();
        let mut console_state =
            ConsoleState::new(Arc::clone(&engine), media.clone(), render, console_settings)
                .with_channel_states(channels.clone());
        if let Some(translation) = translation {
            console_state = console_state.with_translation(translation);
        }
        let router = webchat::router(chat).merge(console::router(console_state));
        TestApp { db_file, store, engine, router, telegram, channels, media, _media_dir: media_dir, stop }
    }

    pub async fn add_agent(&self, name: &str, role: Role) {
        console::agents::create_agent(&*self.store, name, AGENT_PASSWORD, role, 0)
            .await
            .expect("create agent");
    }

    /// Serves the app on 127.0.0.1 at a free port; returns the base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = self.router.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        format!("http://{address}")
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.engine.shutdown().await;
        self.store.close().await;
        self.db_file.drop_database().await;
    }
}

/// A real 2x2 PNG.
pub fn tiny_png() -> Vec<u8> {
    super::images::png(2, 2, 0)
}
