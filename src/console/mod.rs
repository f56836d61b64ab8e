//! The agent console (server-rendered askama pages with live updates over SSE) and the agent
//! JSON API.
//!
//! [`router`] serves `/console/...` and `/api/...`; [`ConsoleState`] is what it needs.
//! Agent actions go through the [`Engine`], so they are ordered with customer events and
//! reach the customer through the outbox; everything else is read from and written to the store
//! (its `AccountStore` and `ConsoleStore` parts).

pub mod agents;
mod api;
mod auth;
pub mod dashboard;
mod live;
mod pages;
mod password;
pub mod reminders;
pub mod sessions;
pub mod texts;
pub(crate) mod translation;

pub use agents::{AgentError, Role, ensure_admin};
pub use auth::LoginLimiter;
pub use reminders::{QueueReminderSettings, run_queue_reminders};

use crate::channel_state::ChannelStates;
use crate::channels::Renderer;
use crate::engine::{Engine, EngineError};
use crate::media::MediaStore;
use crate::store::Store;
use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Console settings the app fills from its configuration.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Mark cookies `Secure`: set when the console is served over HTTPS.
    pub secure_cookies: bool,
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
    /// How often live pages look for changes (the log is shared by every instance, so this
    /// also picks up messages another instance stored).
    pub live_poll_interval: Duration,
    /// Sign-in attempts per minute, per agent name and per client address.
    pub login_attempts_per_name: u32,
    pub login_attempts_per_address: u32,
    /// Live pages open at once, in total and per agent.
    pub max_live_streams: usize,
    pub live_streams_per_agent: usize,
    /// Largest form or JSON body the console and the API accept.
    pub max_body_bytes: usize,
    /// The first admin's one-time password file, removed once they chose their own.
    pub one_time_password_file: Option<PathBuf>,
}

impl ConsoleSettings {
    /// The defaults, with cookie security and the public limits from the configuration.
    pub fn new(secure_cookies: bool, limits: &crate::config::limits::PublicLimits) -> ConsoleSettings {
        ConsoleSettings {
            secure_cookies,
            login_attempts_per_name: limits.login_attempts_per_name,
            login_attempts_per_address: limits.login_attempts_per_address,
            max_live_streams: limits.max_event_streams,
            ..ConsoleSettings::default()
        }
    }
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        let limits = crate::config::limits::PublicLimits::default();
        ConsoleSettings {
            secure_cookies: false,
            session_ttl: Duration::from_secs(12 * 3600),
            live_poll_interval: Duration::from_secs(2),
            login_attempts_per_name: limits.login_attempts_per_name,
            login_attempts_per_address: limits.login_attempts_per_address,
            max_live_streams: limits.max_event_streams,
            live_streams_per_agent: 16,
            max_body_bytes: 64 * 1024,
            one_time_password_file: None,
        }
    }
}

/// Everything the console routes need.
#[derive(Clone)]
pub struct ConsoleState {
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    pub media: MediaStore,
    /// Renders the bot's replies in transcripts as the customer saw them.
    pub render: Renderer,
    pub settings: ConsoleSettings,
    pub login_limiter: Arc<LoginLimiter>,
    /// Open live pages (queue and tickets), per agent and in total.
    pub live_streams: Arc<crate::web::limits::StreamSlots>,
    /// The one watcher every live page listens to.
    pub live: Arc<live::LiveWatcher>,
    /// The channels' states, for the banner on every page when one is down.
    pub channels: ChannelStates,
    /// Machine translation, when configured (`SWITCHBOARD_TRANSLATE`).
    pub translation: Option<Arc<crate::translate::Translation>>,
}

impl ConsoleState {
    /// The console reads and writes through the engine's store.
    pub fn new(engine: Arc<Engine>, media: MediaStore, render: Renderer, settings: ConsoleSettings) -> Self {
        let login_limiter = Arc::new(LoginLimiter::new(
            settings.login_attempts_per_name,
            settings.login_attempts_per_address,
        ));
        let live_streams = Arc::new(crate::web::limits::StreamSlots::new(
            settings.max_live_streams,
            settings.live_streams_per_agent,
        ));
        let store = Arc::clone(engine.store());
        let live = Arc::default();
        ConsoleState {
            store,
            engine,
            media,
            render,
            settings,
            login_limiter,
            live_streams,
            live,
            channels: ChannelStates::default(),
            translation: None,
        }
    }

    /// Shows customers' messages translated to agents who do not speak their language, and
    /// translates agents' replies.
    pub fn with_translation(mut self, translation: Arc<crate::translate::Translation>) -> Self {
        self.translation = Some(translation);
        self
    }

    /// Shows the channels' states on every page when one is not up.
    pub fn with_channel_states(mut self, channels: ChannelStates) -> Self {
        self.channels = channels;
        self
    }
}

/// The console (`/console/...`) and the agent API (`/api/...`).
pub fn router(state: ConsoleState) -> Router {
    let limit = state.settings.max_body_bytes;
    let console = Router::new()
        .route("/console", get(|| async { Redirect::to("/console/queue") }))
        .route("/console/login", get(auth::show_login).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route("/console/queue", get(pages::queue))
        .route("/console/live", get(pages::queue_live))
        .route("/console/tickets/{id}", get(pages::ticket))
        .route("/console/tickets/{id}/live", get(pages::ticket_live))
        .route("/console/tickets/{id}/preview", post(pages::preview_reply))
        .route("/console/tickets/{id}/{action}", post(pages::ticket_action))
        .route("/console/media/{sha256}", get(pages::media))
        .route("/console/canned", get(pages::canned).post(pages::create_canned))
        .route("/console/canned/{id}", post(pages::update_canned))
        .route("/console/canned/{id}/delete", post(pages::delete_canned))
        .route("/console/agents", get(pages::agents).post(pages::create_agent))
        .route("/console/agents/{name}/disable", post(pages::disable_agent))
        .route("/console/agents/{name}/password", post(password::reset))
        .route("/console/password", get(password::show).post(password::change))
        .route("/console/profile", post(password::save_profile))
        .route("/console/tokens", get(pages::tokens).post(pages::create_token))
        .route("/console/tokens/{id}/revoke", post(pages::revoke_token))
        .route("/console/dashboard", get(pages::dashboard))
        .route("/console/dashboard.csv", get(pages::dashboard_csv))
        .route("/console/static/console.css", get(|| asset("text/css; charset=utf-8", CONSOLE_CSS)))
        .route("/console/static/console.js", get(|| asset("text/javascript; charset=utf-8", CONSOLE_JS)))
        .layer(axum::middleware::from_fn(texts::with_page_language))
        .layer(axum::middleware::map_response(console_headers));
    let api = Router::new()
        .route("/api/tickets", get(api::list))
        .route("/api/tickets/{id}", get(api::read))
        .route("/api/tickets/{id}/reply", post(api::reply))
        .route("/api/tickets/{id}/resolve", post(api::resolve));
    console.merge(api).layer(DefaultBodyLimit::max(limit)).with_state(state)
}

const CONSOLE_CSS: &str = include_str!("../../static/console.css");
const CONSOLE_JS: &str = include_str!("../../static/console.js");

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// Pages of the console: nothing cached, nothing framed, only our own scripts.
async fn console_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; \
         form-action 'self'; base-uri 'none'",
    ));
    response
}

/// What the page header shows: who is signed in, their CSRF token for the sign-out form,
/// and a notice from the last action.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub me: String,
    pub admin: bool,
    pub csrf: String,
    pub notice: Option<String>,
    /// The agent must choose a password before anything else: the header offers only that.
    pub must_change_password: bool,
    /// Warnings every page shows (a channel that is down).
    pub banners: Vec<String>,
    /// The page's language and its texts.
    pub tr: texts::Tr,
}

impl Nav {
    fn anonymous(tr: texts::Tr) -> Nav {
        Nav { tr, ..Nav::default() }
    }

    fn of(session: &sessions::Session, notice: Option<String>) -> Nav {
        Nav {
            me: session.agent.name.clone(),
            admin: session.agent.is_admin(),
            csrf: session.csrf.clone(),
            notice,
            must_change_password: session.agent.must_change_password,
            banners: session.banners.clone(),
            tr: session.tr,
        }
    }
}

/// Renders a template; a template error is a bug, logged and shown as a plain 500.
fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(problem) => {
            tracing::error!(error = %problem, "console: rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Why a console request failed; the one place that maps failures to responses. Internals
/// are logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("not signed in")]
    NotSignedIn,
    #[error("the agent must choose a new password first")]
    MustChangePassword,
    #[error("the form's CSRF token is wrong")]
    BadCsrf,
    #[error("only admins may do this")]
    AdminOnly,
    #[error("not found")]
    NotFound,
    #[error("too many live pages open")]
    TooManyStreams,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Engine(EngineError),
}

impl From<EngineError> for ConsoleError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::TicketNotFound(_) => ConsoleError::NotFound,
            other => ConsoleError::Engine(other),
        }
    }
}

/// The registered error texts (listed as literal calls, so the key check sees them).
fn error_text(tr: texts::Tr, key: &str) -> String {
    match key {
        "console-error-form-expired" => tr.t("console-error-form-expired"),
        "console-error-form-expired-text" => tr.t("console-error-form-expired-text"),
        "console-error-admins-only" => tr.t("console-error-admins-only"),
        "console-error-admins-only-text" => tr.t("console-error-admins-only-text"),
        "console-error-not-found" => tr.t("console-error-not-found"),
        "console-error-not-found-text" => tr.t("console-error-not-found-text"),
        "console-error-too-many-pages" => tr.t("console-error-too-many-pages"),
        "console-error-too-many-pages-text" => tr.t("console-error-too-many-pages-text"),
        "console-error-bad-request" => tr.t("console-error-bad-request"),
        "console-error-bad-request-text" => tr.t("console-error-bad-request-text"),
        "console-error-internal" => tr.t("console-error-internal"),
        _ => tr.t("console-error-internal-text"),
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    nav: Nav,
    title: String,
    message: String,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            ConsoleError::NotSignedIn => return Redirect::to("/console/login").into_response(),
            ConsoleError::MustChangePassword => return Redirect::to("/console/password").into_response(),
            ConsoleError::BadCsrf => {
                (StatusCode::FORBIDDEN, "console-error-form-expired", "console-error-form-expired-text")
            }
            ConsoleError::AdminOnly => {
                (StatusCode::FORBIDDEN, "console-error-admins-only", "console-error-admins-only-text")
            }
            ConsoleError::NotFound => {
                (StatusCode::NOT_FOUND, "console-error-not-found", "console-error-not-found-text")
            }
            ConsoleError::TooManyStreams => (
                StatusCode::TOO_MANY_REQUESTS,
                "console-error-too-many-pages",
                "console-error-too-many-pages-text",
            ),
            ConsoleError::BadRequest(_) => {
                (StatusCode::BAD_REQUEST, "console-error-bad-request", "console-error-bad-request-text")
            }
            ConsoleError::Store(_) | ConsoleError::Engine(_) => {
                tracing::error!(error = %self, "console request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "console-error-internal", "console-error-internal-text")
            }
        };
        // An error response has no request at hand: the language was noted for it.
        let tr = texts::Tr::new(texts::page_language());
        let page = ErrorPage {
            nav: Nav::anonymous(tr),
            title: error_text(tr, title),
            message: error_text(tr, message),
        };
        (status, render(&page)).into_response()
    }
}
