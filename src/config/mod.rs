//! Settings from the environment (and `.env`, loaded through [`load_dotenv`]).
//!
//! Every variable is read in this module and nowhere else: the process-wide settings here, each
//! channel's in a file of its own (`telegram`, `vk`, `max`, `ozon`, `email`) with its own error type, whose values are
//! plain data the channel imports; the steps they share are in `variables`. Configuration imports no channel and not the console. Every
//! bad value becomes a [`ConfigError`] naming the variable and what was expected; `main` prints
//! it as one line and exits with 2. Secrets are wrapped in [`Secret`], whose `Debug` never shows
//! them.
//!
//! Command-line flags are clap's; clap reads no variable itself (no `env` attributes): a flag
//! that falls back to a variable gets the value from here, so one module answers where a
//! setting comes from (`tests/architecture.rs` checks this).

pub mod limits;
pub mod email;
pub mod max;
pub mod orders;
pub mod ozon;
pub mod telegram;
pub mod translate;
pub mod variables;
pub mod vk;

use crate::business_hours::BusinessHours;
use crate::core::message::Lang;
use crate::order_format::{self, RegexOrderIdFormat};
use crate::secret::Secret;
use max::MaxSettings;
use ozon::OzonSettings;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use telegram::TelegramSettings;
use vk::VkSettings;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, problem: impl Into<String>) -> ConfigError {
        ConfigError { variable, problem: problem.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// How hard SQLite works to keep a committed transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSync {
    /// fsync on every commit: an acknowledged event survives a power loss. The default.
    Full,
    /// In WAL mode: survives a process crash, but a power loss may drop the last commits
    /// (never corrupts). Faster; only for deployments that accept platform redelivery gaps.
    Normal,
}

/// Where the database is, with the password hidden from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }

    /// The SQLite file's path, for placing the media folder beside it.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.0.strip_prefix("sqlite://").or_else(|| self.0.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// The URL with every password replaced by `***`, safe for logs and messages: the one in
    /// the user part (`postgres://app:***@db/support`, found by the last `@`, so a password
    /// with a stray `@`, `/` or `?` is covered whole) and `password`/`sslpassword` parameters.
    pub fn redacted(&self) -> String {
        let url = self.0.as_str();
        let scheme_end = url.find("://").map(|at| at + 3);
        let (mut shown, rest) = match (scheme_end, url.rfind('@')) {
            (Some(start), Some(at)) if at > start => {
                let credentials = &url[start..at];
                let user = match credentials.split_once(':') {
                    Some((user, _)) => format!("{user}:***"),
                    None => credentials.to_owned(),
                };
                (format!("{}{user}", &url[..start]), &url[at..])
            }
            _ => (String::new(), url),
        };
        let (path, query) = rest.split_once('?').map_or((rest, None), |(path, query)| (path, Some(query)));
        shown.push_str(path);
        if let Some(query) = query {
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((name, _))
                        if name.eq_ignore_ascii_case("password")
                            || name.eq_ignore_ascii_case("sslpassword") =>
                    {
                        format!("{name}=***")
                    }
                    _ => parameter.to_owned(),
                })
                .collect();
            shown.push('?');
            shown.push_str(&parameters.join("&"));
        }
        shown
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// Everything the process is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    /// PostgreSQL only: how long a start keeps trying to reach the server before it gives up
    /// (a database that starts alongside the bot); 0 tries once.
    pub database_wait: Duration,
    pub sqlite_sync: SqliteSync,
    /// `SWITCHBOARD_LOG`; `None` when unset, so each command may pick its own default.
    pub log_filter: Option<String>,
    pub log_format: LogFormat,
    pub bind: SocketAddr,
    /// Where `/metrics` is served (Prometheus text format); `None` turns metrics off.
    pub metrics_bind: Option<SocketAddr>,
    /// How long a graceful shutdown may take before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// Customer messages per minute before flood control steps in; 0 turns it off.
    pub flood_limit: u32,
    pub order_id_pattern: String,
    pub order_id_example: String,
    pub media_dir: PathBuf,
    pub media_max_bytes: u64,
    /// The folder the server's own files go in (the first admin's one-time password): the
    /// SQLite file's folder, or with PostgreSQL the one holding the media folder.
    pub data_dir: PathBuf,
    pub default_language: Lang,
    /// Locale files to use instead of the ones built into the binary (for translators).
    pub locales_dir: Option<PathBuf>,
    /// After this long unclaimed, a queued customer is told where they stand.
    pub queue_reminder_after: Duration,
    /// Mark session and visitor cookies `Secure` (the site is served over HTTPS).
    pub secure_cookies: bool,
    /// Signs web chat visitor cookies; without it a random key is kept in the database.
    pub webchat_secret: Option<Secret>,
    /// When agents work; outside these hours queued customers are told when they are back.
    pub business_hours: Option<BusinessHours>,
    /// How long one call to a messenger's API may take before it counts as lost; the outbox
    /// then retries the delivery. Given to every channel's settings.
    pub http_timeout: Duration,
    /// The operating-system user (`USER`): whom `switchboard chat` speaks as without `--user`.
    pub login_name: Option<String>,
    /// Present when `SWITCHBOARD_TELEGRAM_TOKEN` is set.
    pub telegram: Option<TelegramSettings>,
    /// Present when any `SWITCHBOARD_VK_*` variable is set (then all required ones must be).
    pub vk: Option<VkSettings>,
    /// Present when any `SWITCHBOARD_MAX_*` variable is set (then all required ones must be).
    pub max: Option<MaxSettings>,
    /// Present when `SWITCHBOARD_TRANSLATE` names a provider: machine translation in the console.
    pub translate: Option<translate::TranslateSettings>,
    /// Present when any `SWITCHBOARD_OZON_*` variable is set: the seller's Ozon buyer chats.
    pub ozon: Option<OzonSettings>,
    /// Present when any `SWITCHBOARD_EMAIL_*` variable is set: the support mailbox.
    pub email: Option<email::EmailSettings>,
    /// What strangers on the public surface may cost: connections, streams, uploads, sign-ins.
    pub limits: limits::PublicLimits,
    /// The store's order-lookup endpoint (`SWITCHBOARD_ORDERS_URL` and `_SECRET`), if any.
    pub orders: Option<orders::OrdersSettings>,
    /// The key signed-in customers' identities and link tokens are signed with.
    pub identity: Option<orders::IdentitySettings>,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://switchboard.db";
/// The shortest webhook secret accepted (Telegram's secret token, VK's Callback API secret):
/// sixteen characters cannot be guessed by trying.
pub const MIN_WEBHOOK_SECRET_CHARS: usize = 16;
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_FLOOD_LIMIT: u32 = 20;
/// `SWITCHBOARD_DATABASE_WAIT_SECS` when unset.
pub const DEFAULT_DATABASE_WAIT: Duration = Duration::from_secs(30);
/// `SWITCHBOARD_HTTP_TIMEOUT_SECS` when unset.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where settings come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, variable: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, variable: &str) -> Option<String> {
        std::env::var(variable).ok().filter(|value| !value.trim().is_empty())
    }
}

impl Source for HashMap<&str, &str> {
    fn get(&self, variable: &str) -> Option<String> {
        HashMap::get(self, variable).map(|value| (*value).to_owned())
    }
}

/// Command-line values that win over the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<SocketAddr>,
    pub metrics_bind: Option<SocketAddr>,
    pub database_url: Option<String>,
}

impl Settings {
    pub fn from_env(source: &dyn Source, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let database_url = overrides
            .database_url
            .clone()
            .or_else(|| source.get("SWITCHBOARD_DATABASE_URL"))
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let database_url = parse_database_url(&database_url)?;

        let syncs = [("full", SqliteSync::Full), ("normal", SqliteSync::Normal)];
        let sqlite_sync =
            variables::one_of(source, "SWITCHBOARD_SQLITE_SYNCHRONOUS", &syncs, SqliteSync::Full).map_err(
                |other| {
                    ConfigError::new(
                        "SWITCHBOARD_SQLITE_SYNCHRONOUS",
                        format!("expected `full` or `normal`, got {other:?}"),
                    )
                },
            )?;

        let log_filter = source.get("SWITCHBOARD_LOG");
        if let Some(filter) = &log_filter {
            tracing_subscriber::EnvFilter::try_new(filter).map_err(|error| {
                ConfigError::new(
                    "SWITCHBOARD_LOG",
                    format!("expected a level filter such as `info` or `switchboard=debug`: {error}"),
                )
            })?;
        }
        let log_format = match source.get("SWITCHBOARD_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "SWITCHBOARD_LOG_FORMAT",
                    format!("expected `text` or `json`, got {other:?}"),
                ));
            }
        };

        let bind = match overrides.bind {
            Some(bind) => bind,
            None => parse_socket(
                "SWITCHBOARD_BIND",
                source.get("SWITCHBOARD_BIND").as_deref().unwrap_or(DEFAULT_BIND),
            )?,
        };

        let metrics_bind = match overrides.metrics_bind {
            Some(bind) => Some(bind),
            None => source
                .get("SWITCHBOARD_METRICS_BIND")
                .map(|value| parse_socket("SWITCHBOARD_METRICS_BIND", &value))
                .transpose()?,
        };
        // Port 0 (any free port, as tests use) never collides.
        if metrics_bind == Some(bind) && bind.port() != 0 {
            return Err(ConfigError::new(
                "SWITCHBOARD_METRICS_BIND",
                format!("must differ from SWITCHBOARD_BIND ({bind}): metrics get an address of their own"),
            ));
        }
        let shutdown_timeout = number_in(source, "SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS", 1..=3600, "seconds")?
            .map_or(DEFAULT_SHUTDOWN_TIMEOUT, Duration::from_secs);
        let flood_limit = match source.get("SWITCHBOARD_FLOOD_LIMIT") {
            None => DEFAULT_FLOOD_LIMIT,
            Some(value) => value.parse().ok().filter(|limit| *limit <= 10_000).ok_or_else(|| {
                ConfigError::new(
                    "SWITCHBOARD_FLOOD_LIMIT",
                    format!("expected messages per minute from 0 (off) to 10000, got {value:?}"),
                )
            })?,
        };

        let order_id_pattern = source
            .get("SWITCHBOARD_ORDER_ID_PATTERN")
            .unwrap_or_else(|| order_format::DEFAULT_PATTERN.to_owned());
        let order_id_example = source
            .get("SWITCHBOARD_ORDER_ID_EXAMPLE")
            .unwrap_or_else(|| order_format::DEFAULT_EXAMPLE.to_owned());
        RegexOrderIdFormat::new(&order_id_pattern, &order_id_example).map_err(|error| match error {
            order_format::OrderFormatError::InvalidPattern(why) => ConfigError::new(
                "SWITCHBOARD_ORDER_ID_PATTERN",
                format!("expected a regular expression for a whole order ID: {why}"),
            ),
            order_format::OrderFormatError::ExampleDoesNotMatch { example } => ConfigError::new(
                "SWITCHBOARD_ORDER_ID_EXAMPLE",
                format!("the example {example:?} must match SWITCHBOARD_ORDER_ID_PATTERN"),
            ),
        })?;

        let media_dir = match source.get("SWITCHBOARD_MEDIA_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => default_media_dir(&database_url),
        };
        let data_dir = data_dir(&database_url, &media_dir);
        let media_max_bytes = number_in(source, "SWITCHBOARD_MEDIA_MAX_MB", 1..=1024, "megabytes")?
            .map_or(crate::media::DEFAULT_MAX_BYTES, |megabytes: u64| megabytes * 1024 * 1024);

        let default_language = match source.get("SWITCHBOARD_DEFAULT_LANGUAGE") {
            None => Lang::En,
            Some(code) => Lang::from_code(&code).ok_or_else(|| {
                ConfigError::new(
                    "SWITCHBOARD_DEFAULT_LANGUAGE",
                    format!("expected one of en, ru, zh, got {code:?}"),
                )
            })?,
        };

        let locales_dir = locales_dir(source);
        if let Some(dir) = &locales_dir
            && !dir.join("en").is_dir()
        {
            return Err(ConfigError::new(
                "SWITCHBOARD_LOCALES_DIR",
                format!("expected a folder with an `en` sub-folder, got {}", dir.display()),
            ));
        }

        let queue_reminder_after = match source.get("SWITCHBOARD_QUEUE_REMINDER_SECS") {
            None => Duration::from_secs(300),
            Some(value) => {
                Duration::from_secs(value.parse().ok().filter(|secs| *secs >= 10).ok_or_else(|| {
                    ConfigError::new(
                        "SWITCHBOARD_QUEUE_REMINDER_SECS",
                        format!("expected seconds (at least 10), got {value:?}"),
                    )
                })?)
            }
        };

        let secure_cookies = match source.get("SWITCHBOARD_SECURE_COOKIES").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "SWITCHBOARD_SECURE_COOKIES",
                    format!("expected true or false, got {other:?}"),
                ));
            }
        };
        let webchat_secret = match source.get("SWITCHBOARD_WEBCHAT_SECRET") {
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError::new(
                    "SWITCHBOARD_WEBCHAT_SECRET",
                    "expected at least 32 characters",
                ));
            }
            other => other.map(Secret::new),
        };
        let business_hours = match source.get("SWITCHBOARD_BUSINESS_HOURS") {
            None => None,
            Some(text) => Some(BusinessHours::parse(&text).map_err(|error| {
                ConfigError::new(
                    "SWITCHBOARD_BUSINESS_HOURS",
                    format!("{error} (expected something like `Mon-Fri 09:00-18:00, Sat 10:00-14:00 Europe/Berlin`)"),
                )
            })?),
        };
        let business_hours = match (business_hours, source.get("SWITCHBOARD_HOLIDAYS")) {
            (hours, None) => hours,
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "SWITCHBOARD_HOLIDAYS",
                    "closed dates need SWITCHBOARD_BUSINESS_HOURS (and its time zone) to be set",
                ));
            }
            (Some(hours), Some(dates)) => Some(hours.with_holidays(&dates).map_err(|error| {
                ConfigError::new(
                    "SWITCHBOARD_HOLIDAYS",
                    format!("{error} (expected dates like `2026-12-31, 2027-01-01`)"),
                )
            })?),
        };

        let database_wait = number_in(source, "SWITCHBOARD_DATABASE_WAIT_SECS", 0..=3600, "seconds")?
            .map_or(DEFAULT_DATABASE_WAIT, Duration::from_secs);
        let http_timeout = number_in(source, "SWITCHBOARD_HTTP_TIMEOUT_SECS", 1..=300, "seconds")?
            .map_or(DEFAULT_HTTP_TIMEOUT, Duration::from_secs);

        let telegram = telegram::read(source, http_timeout)?;
        let vk = vk::read(source, http_timeout)?;
        let max = max::read(source, http_timeout)?;
        let ozon = ozon::read(source, http_timeout)?;
        let email = email::read(source, http_timeout)?;
        let limits = limits::read(source)?;
        let orders = orders::read(source)?;
        let identity = orders::read_identity(source)?;
        let translate = translate::read(source)?;

        Ok(Settings {
            limits,
            orders,
            identity,
            translate,
            login_name: source.get("USER"),
            secure_cookies,
            webchat_secret,
            business_hours,
            http_timeout,
            telegram,
            vk,
            max,
            ozon,
            email,
            database_url,
            sqlite_sync,
            log_filter,
            log_format,
            bind,
            metrics_bind,
            shutdown_timeout,
            flood_limit,
            order_id_pattern,
            order_id_example,
            media_dir,
            media_max_bytes,
            data_dir,
            default_language,
            locales_dir,
            queue_reminder_after,
            database_wait,
        })
    }

    pub fn order_id_format(&self) -> RegexOrderIdFormat {
        RegexOrderIdFormat::new(&self.order_id_pattern, &self.order_id_example)
            .expect("validated when the settings were read")
    }
}

/// `SWITCHBOARD_LOCALES_DIR` as given, unchecked: the `faq` commands, which need no other
/// setting, fall back to it for `--locales`; [`Settings::from_env`] also checks it.
pub fn locales_dir(source: &dyn Source) -> Option<PathBuf> {
    source.get("SWITCHBOARD_LOCALES_DIR").map(PathBuf::from)
}

/// Loads `.env` from the working directory into the environment, if there is one. A missing
/// file is normal (`Ok`); a broken one is an error worth stopping for. Only the working
/// directory: dotenvy's own search also climbs the parent folders, where a `.env` of another
/// project (or one a different user could write) would quietly configure this process.
pub fn load_dotenv() -> Result<(), dotenvy::Error> {
    let path = std::env::current_dir().map_err(dotenvy::Error::Io)?.join(".env");
    match dotenvy::from_path(path) {
        Err(error) if !error.not_found() => Err(error),
        _ => Ok(()),
    }
}

/// A number of `unit` in `range` from `variable`, if set; anything else names the variable.
pub(crate) fn number_in<T>(
    source: &dyn Source,
    variable: &'static str,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<Option<T>, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display,
{
    let Some(value) = source.get(variable) else { return Ok(None) };
    let number = value.parse().ok().filter(|number| range.contains(number));
    number.map(Some).ok_or_else(|| {
        let (start, end) = (range.start(), range.end());
        ConfigError::new(variable, format!("expected {unit} from {start} to {end}, got {value:?}"))
    })
}

fn parse_database_url(url: &str) -> Result<DatabaseUrl, ConfigError> {
    let supported = ["sqlite:", "postgres://", "postgresql://"];
    if supported.iter().any(|prefix| url.starts_with(prefix)) {
        Ok(DatabaseUrl(url.to_owned()))
    } else {
        Err(ConfigError::new(
            "SWITCHBOARD_DATABASE_URL",
            "expected `sqlite://PATH` or `postgres://USER@HOST/DB`".to_owned(),
        ))
    }
}

pub fn parse_socket(variable: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        ConfigError::new(variable, format!("expected an address such as 127.0.0.1:8080, got {value:?}"))
    })
}

/// `media/` beside the SQLite file, or in the working directory for PostgreSQL.
fn default_media_dir(database_url: &DatabaseUrl) -> PathBuf {
    match database_url.sqlite_path() {
        Some(path) => folder_of(&path).join("media"),
        None => PathBuf::from("media"),
    }
}

/// The SQLite file's folder; with PostgreSQL, the folder that holds the media folder.
fn data_dir(database_url: &DatabaseUrl, media_dir: &Path) -> PathBuf {
    folder_of(&database_url.sqlite_path().unwrap_or_else(|| media_dir.to_owned()))
}

/// The folder a path is in, `.` for a bare name.
fn folder_of(path: &Path) -> PathBuf {
    path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned()
}

/// A host name of at least two labels: letters, digits and inner hyphens, the last one
/// starting with a letter (`userapi.com`; never an address such as `10.0.0.1`).
fn is_domain(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.last().is_some_and(|top| top.starts_with(|c: char| c.is_ascii_lowercase()))
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&'static str, &'static str)]) -> Result<Settings, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        Settings::from_env(&env, &Overrides::default())
    }

    #[test]
    fn defaults_need_nothing() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.database_url.as_str(), DEFAULT_DATABASE_URL);
        assert_eq!(settings.bind.to_string(), DEFAULT_BIND);
        assert_eq!(settings.sqlite_sync, SqliteSync::Full);
        assert_eq!(settings.media_dir, PathBuf::from("./media"));
        assert_eq!(settings.log_format, LogFormat::Text);
    }

    #[test]
    fn media_sits_beside_the_sqlite_file() {
        let settings =
            load(&[("SWITCHBOARD_DATABASE_URL", "sqlite:///var/lib/switchboard/data.db")]).unwrap();
        assert_eq!(settings.media_dir, PathBuf::from("/var/lib/switchboard/media"));
        assert_eq!(settings.data_dir, PathBuf::from("/var/lib/switchboard"));
    }

    #[test]
    fn the_data_folder_holds_the_sqlite_file_or_the_media_folder() {
        assert_eq!(load(&[]).unwrap().data_dir, PathBuf::from("."));
        let elsewhere = load(&[
            ("SWITCHBOARD_DATABASE_URL", "sqlite:///srv/db/support.db"),
            ("SWITCHBOARD_MEDIA_DIR", "/srv/photos/media"),
        ])
        .unwrap();
        assert_eq!(elsewhere.data_dir, PathBuf::from("/srv/db"), "the database's folder wins");
        let postgres = load(&[
            ("SWITCHBOARD_DATABASE_URL", "postgres://app@db/support"),
            ("SWITCHBOARD_MEDIA_DIR", "/var/lib/switchboard/media"),
        ])
        .unwrap();
        assert_eq!(postgres.data_dir, PathBuf::from("/var/lib/switchboard"));
        let postgres = load(&[("SWITCHBOARD_DATABASE_URL", "postgres://app@db/support")]).unwrap();
        assert_eq!(postgres.data_dir, PathBuf::from("."));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&'static str, &'static str)] = &[
            ("SWITCHBOARD_DATABASE_URL", "mysql://x"),
            ("SWITCHBOARD_BIND", "localhost"),
            ("SWITCHBOARD_LOG_FORMAT", "yaml"),
            ("SWITCHBOARD_LOG", "info,=[["),
            ("SWITCHBOARD_ORDER_ID_PATTERN", "(unclosed"),
            ("SWITCHBOARD_SQLITE_SYNCHRONOUS", "off"),
            ("SWITCHBOARD_MEDIA_MAX_MB", "0"),
            ("SWITCHBOARD_DEFAULT_LANGUAGE", "de"),
            ("SWITCHBOARD_QUEUE_REMINDER_SECS", "soon"),
            ("SWITCHBOARD_LOCALES_DIR", "/nonexistent/locales"),
            ("SWITCHBOARD_SECURE_COOKIES", "maybe"),
            ("SWITCHBOARD_WEBCHAT_SECRET", "short"),
            ("SWITCHBOARD_BUSINESS_HOURS", "whenever"),
            ("SWITCHBOARD_HTTP_TIMEOUT_SECS", "0"),
            ("SWITCHBOARD_DATABASE_WAIT_SECS", "forever"),
            ("SWITCHBOARD_DATABASE_WAIT_SECS", "3601"),
            ("SWITCHBOARD_HTTP_TIMEOUT_SECS", "301"),
            ("SWITCHBOARD_HTTP_TIMEOUT_SECS", "2s"),
        ];
        for (variable, value) in cases {
            let error = load(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, *variable, "{value}");
            assert!(error.to_string().starts_with(variable), "{error}");
        }
        let error = load(&[("SWITCHBOARD_TELEGRAM_TOKEN", "not-a-token")]).unwrap_err();
        assert_eq!(error.variable, "SWITCHBOARD_TELEGRAM_TOKEN");
        assert!(!error.to_string().contains("not-a-token"), "the token stays out of the message: {error}");
        let error = load(&[("SWITCHBOARD_TELEGRAM_WEBHOOK_URL", "https://example.org/hook")]).unwrap_err();
        assert_eq!(error.variable, "SWITCHBOARD_TELEGRAM_TOKEN");
        // Connection counts: out of range or not a number names the variable; in range is kept.
        type Read = fn(&TelegramSettings) -> u64;
        let counts: [(&str, &[&str], &str, Read); 2] = [
            ("SWITCHBOARD_TELEGRAM_WEBHOOK_MAX_CONNECTIONS", &["0", "101", "many"], "64", |telegram| {
                u64::from(telegram.webhook_max_connections)
            }),
            ("SWITCHBOARD_TELEGRAM_API_CONNECTIONS", &["0", "1001", "-1", "lots"], "8", |telegram| {
                u64::from(telegram.api_connections)
            }),
        ];
        for (variable, bad, good, read) in counts {
            let token = ("SWITCHBOARD_TELEGRAM_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123");
            for value in bad {
                let error = load(&[token, (variable, value)]).unwrap_err();
                assert_eq!(error.variable, variable, "{value}");
            }
            let settings = load(&[token, (variable, good)]).unwrap();
            assert_eq!(read(&settings.telegram.unwrap()).to_string(), good, "{variable}");
        }
        let error = load(&[("SWITCHBOARD_VK_GROUP_ID", "1")]).unwrap_err();
        assert_eq!(error.variable, "SWITCHBOARD_VK_TOKEN");
        let error = load(&[("SWITCHBOARD_ORDER_ID_PATTERN", r"[A-Z]{3}\d+")]).unwrap_err();
        assert_eq!(error.variable, "SWITCHBOARD_ORDER_ID_EXAMPLE");
    }

    #[test]
    fn business_hours_need_a_zone_take_holidays_and_say_each_problem_once() {
        let hours = "Mon-Fri 09:00-18:00, Sat 10:00-14:00 Europe/Berlin";
        let settings = load(&[
            ("SWITCHBOARD_BUSINESS_HOURS", hours),
            ("SWITCHBOARD_HOLIDAYS", "2026-12-31, 2027-01-01"),
        ])
        .unwrap();
        let shown = settings.business_hours.unwrap().to_string();
        assert!(
            shown.contains("Europe/Berlin") && shown.contains("closed 2026-12-31, 2027-01-01"),
            "{shown}"
        );
        for value in ["Mon-Fri 09:00-18:00", "Mon-Fri 09:00-18:00 Mars/Olympus", "whenever"] {
            let error = load(&[("SWITCHBOARD_BUSINESS_HOURS", value)]).unwrap_err().to_string();
            assert_eq!(error.matches("expected").count(), 1, "{error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
        let error = load(&[("SWITCHBOARD_HOLIDAYS", "2026-12-31")]).unwrap_err();
        assert_eq!(error.variable, "SWITCHBOARD_HOLIDAYS");
        let error =
            load(&[("SWITCHBOARD_BUSINESS_HOURS", hours), ("SWITCHBOARD_HOLIDAYS", "New Year")]).unwrap_err();
        assert_eq!(error.variable, "SWITCHBOARD_HOLIDAYS");
    }

    #[test]
    fn secrets_and_passwords_stay_out_of_debug_output() {
        let settings =
            load(&[("SWITCHBOARD_DATABASE_URL", "postgres://app:hunter2@db.internal:5432/support")]).unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("postgres://app:***@db.internal:5432/support"), "{debug}");
        assert_eq!(format!("{:?}", Secret::new("123:abc")), "Secret(***)");
    }

    #[test]
    fn every_password_in_a_database_url_is_masked() {
        let cases = [
            ("postgres://app:hunter2@db:5432/support", "postgres://app:***@db:5432/support"),
            (
                "postgres://app:hu@nt/er?2@db/support?sslmode=require",
                "postgres://app:***@db/support?sslmode=require",
            ),
            (
                "postgres://app@db/support?sslmode=verify-full&password=hunter2&sslpassword=keypass",
                "postgres://app@db/support?sslmode=verify-full&password=***&sslpassword=***",
            ),
            (
                "postgresql:///support?user=app&PASSWORD=hunter2",
                "postgresql:///support?user=app&PASSWORD=***",
            ),
            ("postgres://db/support", "postgres://db/support"),
            ("sqlite://data/support.db?mode=rwc", "sqlite://data/support.db?mode=rwc"),
            ("sqlite:support.db", "sqlite:support.db"),
        ];
        for (url, shown) in cases {
            let url = parse_database_url(url).unwrap();
            assert_eq!(url.redacted(), shown);
            assert!(!format!("{url:?}").contains("hunter2") && !format!("{url:?}").contains("keypass"));
        }
    }

    #[test]
    fn channels_start_only_when_configured() {
        let settings = load(&[]).unwrap();
        assert!(settings.telegram.is_none() && settings.vk.is_none());
        let token = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123";
        let settings = load(&[
            ("SWITCHBOARD_TELEGRAM_TOKEN", token),
            ("SWITCHBOARD_TELEGRAM_WEBHOOK_URL", "https://support.example.org/webhooks/telegram"),
            ("SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET", "s3cret_value-16chars"),
        ])
        .unwrap();
        let telegram = settings.telegram.as_ref().unwrap();
        assert_eq!(telegram.webhook_secret.as_deref(), Some("s3cret_value-16chars"));
        assert_eq!(telegram.request_timeout, DEFAULT_HTTP_TIMEOUT);
        let debug = format!("{settings:?}");
        assert!(!debug.contains("ABCDEFGHIJ") && !debug.contains("s3cret_value"), "{debug}");
        let error = load(&[
            ("SWITCHBOARD_TELEGRAM_TOKEN", token),
            ("SWITCHBOARD_TELEGRAM_WEBHOOK_URL", "https://support.example.org/webhooks/telegram"),
        ])
        .unwrap_err();
        assert_eq!(error.variable, "SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET");
    }

    #[test]
    fn a_proxy_in_the_environment_is_noticed_for_telegram() {
        let token = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123";
        let plain = load(&[("SWITCHBOARD_TELEGRAM_TOKEN", token)]).unwrap();
        assert!(!plain.telegram.unwrap().proxy_from_environment);
        for variable in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "http_proxy"] {
            let proxied =
                load(&[("SWITCHBOARD_TELEGRAM_TOKEN", token), (variable, "http://proxy.internal:3128")])
                    .unwrap();
            assert!(proxied.telegram.unwrap().proxy_from_environment, "{variable}");
        }
        let empty = load(&[("SWITCHBOARD_TELEGRAM_TOKEN", token), ("HTTPS_PROXY", " ")]).unwrap();
        assert!(!empty.telegram.unwrap().proxy_from_environment);
    }

    #[test]
    fn the_http_timeout_reaches_every_channel() {
        let settings = load(&[
            ("SWITCHBOARD_HTTP_TIMEOUT_SECS", "3"),
            ("SWITCHBOARD_TELEGRAM_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123"),
            ("SWITCHBOARD_VK_TOKEN", "vk1.a.token"),
            ("SWITCHBOARD_VK_GROUP_ID", "1"),
        ])
        .unwrap();
        assert_eq!(settings.http_timeout, Duration::from_secs(3));
        assert_eq!(settings.telegram.unwrap().request_timeout, Duration::from_secs(3));
        assert_eq!(settings.vk.unwrap().request_timeout, Duration::from_secs(3));
        assert_eq!(load(&[]).unwrap().http_timeout, DEFAULT_HTTP_TIMEOUT);
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env: HashMap<&str, &str> = [("SWITCHBOARD_BIND", "127.0.0.1:1")].into_iter().collect();
        let overrides = Overrides { bind: Some("127.0.0.1:2".parse().unwrap()), ..Overrides::default() };
        assert_eq!(Settings::from_env(&env, &overrides).unwrap().bind.port(), 2);
        let env: HashMap<&str, &str> = [("SWITCHBOARD_METRICS_BIND", "127.0.0.1:3")].into_iter().collect();
        let overrides =
            Overrides { metrics_bind: Some("127.0.0.1:4".parse().unwrap()), ..Overrides::default() };
        assert_eq!(Settings::from_env(&env, &overrides).unwrap().metrics_bind.map(|a| a.port()), Some(4));
    }

    #[test]
    fn operations_settings_have_defaults_and_bounds() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.metrics_bind, None, "metrics are off unless asked for");
        assert_eq!(settings.shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
        assert_eq!(settings.flood_limit, DEFAULT_FLOOD_LIMIT);
        let settings = load(&[
            ("SWITCHBOARD_METRICS_BIND", "127.0.0.1:9090"),
            ("SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS", "30"),
            ("SWITCHBOARD_FLOOD_LIMIT", "0"),
        ])
        .unwrap();
        assert_eq!(settings.metrics_bind, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(settings.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(settings.flood_limit, 0);
        let cases: &[(&'static str, &'static str)] = &[
            ("SWITCHBOARD_METRICS_BIND", "9090"),
            ("SWITCHBOARD_METRICS_BIND", "127.0.0.1:8080"),
            ("SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS", "0"),
            ("SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS", "ten"),
            ("SWITCHBOARD_FLOOD_LIMIT", "-1"),
            ("SWITCHBOARD_FLOOD_LIMIT", "20/min"),
        ];
        for (variable, value) in cases {
            let error = load(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, *variable, "{value}");
        }
    }
}
