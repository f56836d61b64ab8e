//! Telegram, through the Bot API: updates come in by long polling ([`polling::run`]) or by
//! webhook ([`webhook::router`]); replies go out through [`TelegramChannel`]'s
//! [`Channel`](crate::channels::Channel) implementation.
//!
//! Only teloxide's Bot API client and types are used here, never its dispatcher, webhook
//! listener or storage: those acknowledge updates before Switchboard has stored them.
//!
//! Wiring, in the composition root: the channel is built from its settings at start (a bad
//! token is a configuration error), the webhook route is mounted when the settings ask for
//! one, and [`TelegramChannel::setup`] runs in the background, tried again while the Bot API
//! cannot be reached; long polling starts once it succeeds. Deliveries meanwhile fail as
//! transient and the outbox retries them.

pub mod api;
pub mod inbound;
pub mod limits;
pub mod outbound;
pub mod polling;
pub mod webhook;

use crate::config::telegram::{TelegramSettings, TelegramSettingsError};
use crate::media::MediaStore;
use limits::Limits;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use teloxide::Bot;
use teloxide::payloads::{DeleteWebhookSetters, SetWebhookSetters};
use teloxide::requests::{Request, Requester};
use teloxide::types::AllowedUpdate;

/// [`InboundEvent::channel`](crate::channels::InboundEvent::channel) for Telegram.
pub const CHANNEL: &str = "telegram";

pub use crate::channels::Renderer;

/// The update kinds Switchboard asks Telegram for; everything else is never sent to us.
pub fn allowed_updates() -> Vec<AllowedUpdate> {
    vec![
        AllowedUpdate::Message,
        AllowedUpdate::EditedMessage,
        AllowedUpdate::CallbackQuery,
        AllowedUpdate::MyChatMember,
    ]
}

/// How updates reach this bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run [`polling::run`].
    Polling,
    /// Mount [`webhook::router`]; Telegram posts updates to the configured URL.
    Webhook,
}

/// Start-up failed; the message never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The Bot API could not be reached or did not answer: worth trying again.
    #[error("Telegram: {0}")]
    Telegram(String),
    /// The Bot API answered with a refusal (an unknown or revoked token, a webhook URL it will
    /// not take): trying again cannot help.
    #[error("Telegram refused: {0}")]
    Refused(String),
    #[error("the Telegram token belongs to bot {actual}, but its prefix says {expected}")]
    WrongBot { expected: u64, actual: u64 },
}

/// One Telegram bot: its API client, its send limits, and what it needs to read updates
/// (media storage) and write replies (a renderer).
pub struct TelegramChannel {
    bot: Bot,
    /// The calls made for every message, without teloxide's per-call overhead (see [`api`]).
    api: api::BotApi,
    bot_id: u64,
    settings: TelegramSettings,
    media: MediaStore,
    renderer: Renderer,
    limits: Limits,
    /// Steps of a multi-part delivery already sent, by outbox id: a retry after a 429 on part
    /// three resumes at part three instead of repeating parts one and two.
    progress: Mutex<HashMap<i64, usize>>,
    /// The runtime the channel was made on. Button-press follow-ups are spawned there even when
    /// the long-poll loop runs on a thread of its own, so they do not delay its next round.
    runtime: Option<tokio::runtime::Handle>,
}

impl TelegramChannel {
    /// Validates `settings` and builds the client. Nothing is sent to Telegram yet.
    pub fn new(
        settings: TelegramSettings,
        media: MediaStore,
        renderer: Renderer,
    ) -> Result<TelegramChannel, TelegramSettingsError> {
        settings.validate()?;
        let bot_id = settings.bot_id()?;
        let api_url = match &settings.api_url {
            Some(url) => Some(
                reqwest::Url::parse(url).map_err(|error| TelegramSettingsError::ApiUrl(error.to_string()))?,
            ),
            None => None,
        };
        let make_client = |timeout: Duration| -> Result<reqwest::Client, TelegramSettingsError> {
            teloxide::net::default_reqwest_settings().timeout(timeout).build().map_err(|error| {
                TelegramSettingsError::ApiUrl(format!("cannot build the HTTP client: {error}"))
            })
        };
        // A call that outlives the timeout is dropped and fails as a network error, which the
        // outbox retries: a stalled Bot API must not hold a delivery (or a webhook) for long.
        let client = make_client(settings.request_timeout)?;
        // A long poll holds its request open for `poll_timeout`; only that client waits longer.
        let poll_client = make_client(settings.poll_timeout + settings.request_timeout)?;
        let bot = Bot::with_client(settings.token.clone(), client.clone());
        let bot = match api_url {
            Some(url) => bot.set_api_url(url),
            None => bot,
        };
        let api = api::BotApi::new(
            &bot.api_url(),
            &settings.token,
            client,
            poll_client,
            settings.request_timeout,
            usize::from(settings.api_connections),
            settings.proxy_from_environment,
        )
        .map_err(|error| TelegramSettingsError::ApiUrl(error.to_string()))?;
        let limits = Limits::new(settings.rate_limits);
        Ok(TelegramChannel {
            bot,
            api,
            bot_id,
            settings,
            media,
            renderer,
            limits,
            progress: Mutex::new(HashMap::new()),
            runtime: tokio::runtime::Handle::try_current().ok(),
        })
    }

    /// The bot's Telegram user id (the token's prefix, confirmed by `getMe` in [`setup`](Self::setup)).
    pub fn bot_id(&self) -> u64 {
        self.bot_id
    }

    pub fn settings(&self) -> &TelegramSettings {
        &self.settings
    }

    /// The mode the settings ask for.
    pub fn mode(&self) -> Mode {
        if self.settings.webhook_url.is_some() { Mode::Webhook } else { Mode::Polling }
    }

    /// The send limits, shared by every delivery of this bot.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Where the long-poll offset is kept: per bot, so two bots never share a position.
    pub fn cursor_name(&self) -> String {
        format!("{CHANNEL}:{}:offset", self.bot_id)
    }

    /// [`InboundEvent::event_id`](crate::channels::InboundEvent::event_id) of an update: per
    /// bot, because update ids of two bots overlap.
    pub fn event_id(&self, update_id: u32) -> String {
        format!("{}:{update_id}", self.bot_id)
    }

    /// Checks the token with `getMe`, then sets the webhook (with its secret) when one is
    /// configured, or removes any webhook so that long polling works. Pending updates are
    /// kept either way.
    pub async fn setup(&self) -> Result<Mode, SetupError> {
        let me = self.bot.get_me().send().await.map_err(|error| self.setup_error(&error))?;
        if me.user.id.0 != self.bot_id {
            return Err(SetupError::WrongBot { expected: self.bot_id, actual: me.user.id.0 });
        }
        match (&self.settings.webhook_url, &self.settings.webhook_secret) {
            (Some(url), Some(secret)) => {
                let url =
                    reqwest::Url::parse(url).map_err(|error| SetupError::Telegram(error.to_string()))?;
                self.bot
                    .set_webhook(url)
                    .secret_token(secret.clone())
                    .max_connections(self.settings.webhook_max_connections)
                    .allowed_updates(allowed_updates())
                    .drop_pending_updates(false)
                    .send()
                    .await
                    .map_err(|error| self.setup_error(&error))?;
                tracing::info!(bot_id = self.bot_id, "Telegram webhook set");
                Ok(Mode::Webhook)
            }
            _ => {
                self.bot
                    .delete_webhook()
                    .drop_pending_updates(false)
                    .send()
                    .await
                    .map_err(|error| self.setup_error(&error))?;
                tracing::info!(bot_id = self.bot_id, "Telegram webhook removed; long polling");
                Ok(Mode::Polling)
            }
        }
    }

    /// A failed setup call: the API's own refusals are lasting, the rest may pass.
    fn setup_error(&self, error: &teloxide::RequestError) -> SetupError {
        use teloxide::ApiError;
        match error {
            // An unknown or revoked token, or a request the API will never take (a webhook
            // URL it refuses); a 5xx answer is left to the next attempt.
            teloxide::RequestError::Api(api)
                if matches!(api, ApiError::InvalidToken) || api.to_string().starts_with("Bad Request") =>
            {
                SetupError::Refused(self.redact(error))
            }
            _ => SetupError::Telegram(self.redact(error)),
        }
    }

    /// An error's text with the token taken out: reqwest puts request URLs, which contain the
    /// token, into its messages.
    fn redact(&self, error: &dyn std::fmt::Display) -> String {
        error.to_string().replace(&self.settings.token, "<token>")
    }
}
