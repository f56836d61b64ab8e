//! Email settings: read from `SWITCHBOARD_EMAIL_*`, checked once at start-up so that a missing
//! password, a plaintext server away from this machine or a sender without an address is a clear
//! error instead of a silent failure later. [`EmailSettings`] is plain data the email channel
//! imports; reading it is this module's job.

use super::variables::{SettingsError, none_set};
use super::{ConfigError, Source};
use crate::secret::Secret;
use std::time::Duration;

/// IMAP servers may end an IDLE after 30 minutes of silence (RFC 2177): it is re-issued before.
pub const DEFAULT_IDLE_REFRESH: Duration = Duration::from_secs(25 * 60);
/// The longest re-issue interval accepted: RFC 2177's 29 minutes.
const LONGEST_IDLE_REFRESH_SECS: u64 = 29 * 60;

/// How a connection to a mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps://`, `smtps://`).
    Tls,
    /// Plain, then `STARTTLS` before anything else is said (`smtp://` to another machine).
    StartTls,
    /// No TLS at all: only ever to this machine (`imap://127.0.0.1`, `smtp://localhost`).
    Plain,
}

/// One mail server: where it is, whom we log in as, how the connection is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub security: Security,
}

/// Everything the email channel needs. Secrets are wrapped in [`Secret`], so `Debug` is safe
/// to log.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// The mailbox customers write to (`SWITCHBOARD_EMAIL_IMAP_URL`).
    pub imap: Endpoint,
    /// The folder watched with IDLE (`INBOX` unless the URL names another).
    pub mailbox: String,
    pub imap_password: Secret,
    /// Where replies are sent through (`SWITCHBOARD_EMAIL_SMTP_URL`).
    pub smtp: Endpoint,
    pub smtp_password: Secret,
    /// Our address (`support@example.com`), the sender of every reply.
    pub from_address: String,
    /// The name shown beside it for the bot's replies (`Example Support`); agents' replies show
    /// the agent's display name instead.
    pub from_name: Option<String>,
    /// The key that makes our Message-IDs and reply addresses unforgeable: a customer's reply
    /// joins its conversation only through an id we issued to that same address.
    pub thread_key: Secret,
    /// How long one IDLE may last before it is ended and issued again.
    pub idle_refresh: Duration,
    /// How long one connection attempt, login or SMTP exchange may take.
    pub timeout: Duration,
}

impl EmailSettings {
    /// The domain of our address: the right-hand side of our Message-IDs.
    pub fn from_domain(&self) -> &str {
        self.from_address.rsplit_once('@').map_or("localhost", |(_, domain)| domain)
    }

    /// A name for this mailbox that stays the same across restarts and never includes a
    /// password: the leader lock and the saved cursor are kept under it.
    pub fn mailbox_key(&self) -> String {
        format!("{}@{}:{}/{}", self.imap.user, self.imap.host, self.imap.port, self.mailbox)
    }
}

/// An email configuration Switchboard refuses to start with; [`EmailSettingsError::variable`]
/// names the variable to fix. Messages never contain a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailSettingsError {
    #[error("other SWITCHBOARD_EMAIL_* variables are set, but this one is missing")]
    Missing(&'static str),
    #[error(
        "expected imaps://user@host:993/INBOX (imap:// only to 127.0.0.1 or localhost, since the password would cross the network in clear), got {0:?}"
    )]
    ImapUrl(String),
    #[error(
        "expected smtps://user@host:465 or smtp://user@host:587 (STARTTLS is required except to 127.0.0.1 or localhost), got {0:?}"
    )]
    SmtpUrl(String),
    #[error(
        "the URL holds a password; put it in SWITCHBOARD_EMAIL_PASSWORD (or _IMAP_PASSWORD / _SMTP_PASSWORD) so it never reaches a log"
    )]
    PasswordInUrl(&'static str),
    #[error("expected an address such as `Example Support <support@example.com>`, got {0:?}")]
    From(String),
    #[error("expected a number of seconds from 1 to {LONGEST_IDLE_REFRESH_SECS}, got {0:?}")]
    IdleRefresh(String),
    #[error("the thread secret must be at least 16 characters")]
    ThreadSecretShort,
}

impl SettingsError for EmailSettingsError {
    fn variable(&self) -> &'static str {
        match self {
            EmailSettingsError::Missing(variable) | EmailSettingsError::PasswordInUrl(variable) => variable,
            EmailSettingsError::ImapUrl(_) => "SWITCHBOARD_EMAIL_IMAP_URL",
            EmailSettingsError::SmtpUrl(_) => "SWITCHBOARD_EMAIL_SMTP_URL",
            EmailSettingsError::From(_) => "SWITCHBOARD_EMAIL_FROM",
            EmailSettingsError::IdleRefresh(_) => "SWITCHBOARD_EMAIL_IDLE_SECS",
            EmailSettingsError::ThreadSecretShort => "SWITCHBOARD_EMAIL_THREAD_SECRET",
        }
    }
}

const ALL: [&str; 9] = [
    "SWITCHBOARD_EMAIL_IMAP_URL",
    "SWITCHBOARD_EMAIL_SMTP_URL",
    "SWITCHBOARD_EMAIL_PASSWORD",
    "SWITCHBOARD_EMAIL_IMAP_PASSWORD",
    "SWITCHBOARD_EMAIL_SMTP_PASSWORD",
    "SWITCHBOARD_EMAIL_FROM",
    "SWITCHBOARD_EMAIL_THREAD_SECRET",
    "SWITCHBOARD_EMAIL_IDLE_SECS",
    // Not read here, but a sign the operator meant to configure email.
    "SWITCHBOARD_EMAIL_USER",
];

/// Reads `SWITCHBOARD_EMAIL_*`. `Ok(None)` when none of them is set: email is simply not used.
/// Each connection step may take `timeout` (`SWITCHBOARD_HTTP_TIMEOUT_SECS`).
pub(super) fn read(source: &dyn Source, timeout: Duration) -> Result<Option<EmailSettings>, ConfigError> {
    if none_set(source, &ALL) {
        return Ok(None);
    }
    let required = |variable: &'static str| source.get(variable).ok_or(EmailSettingsError::Missing(variable));
    let imap_url = required("SWITCHBOARD_EMAIL_IMAP_URL")?;
    let (imap, mailbox) = parse_imap_url(&imap_url)?;
    let smtp = parse_smtp_url(&required("SWITCHBOARD_EMAIL_SMTP_URL")?)?;
    let shared = source.get("SWITCHBOARD_EMAIL_PASSWORD");
    let password = |own: &'static str| {
        source
            .get(own)
            .or_else(|| shared.clone())
            .map(Secret::new)
            .ok_or(EmailSettingsError::Missing("SWITCHBOARD_EMAIL_PASSWORD"))
    };
    let imap_password = password("SWITCHBOARD_EMAIL_IMAP_PASSWORD")?;
    let smtp_password = password("SWITCHBOARD_EMAIL_SMTP_PASSWORD")?;
    let (from_name, from_address) = parse_from(&required("SWITCHBOARD_EMAIL_FROM")?)?;
    let thread_key = match source.get("SWITCHBOARD_EMAIL_THREAD_SECRET") {
        Some(secret) if secret.chars().count() < 16 => {
            return Err(EmailSettingsError::ThreadSecretShort.into());
        }
        Some(secret) => Secret::new(secret),
        // Without a secret of its own, the mailbox password is one only we know; changing it
        // then leaves older replies to start new conversations, which the README says.
        None => Secret::new(format!("switchboard email threads\0{}", imap_password.expose())),
    };
    let idle_refresh = match source.get("SWITCHBOARD_EMAIL_IDLE_SECS") {
        None => DEFAULT_IDLE_REFRESH,
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(secs) if (1..=LONGEST_IDLE_REFRESH_SECS).contains(&secs) => Duration::from_secs(secs),
            _ => return Err(EmailSettingsError::IdleRefresh(raw).into()),
        },
    };
    Ok(Some(EmailSettings {
        imap,
        mailbox,
        imap_password,
        smtp,
        smtp_password,
        from_address,
        from_name,
        thread_key,
        idle_refresh,
        timeout,
    }))
}

/// Whether a host is this machine, the one place a password may travel without TLS.
pub fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]")
}

/// `scheme://user@host[:port][/path]`, split by hand: a login is often an address itself
/// (`support@example.com@imap.example.com`), which the last `@` separates from the host.
struct MailUrl {
    scheme: String,
    user: String,
    password_given: bool,
    host: String,
    port: Option<u16>,
    path: String,
}

fn split_url(raw: &str) -> Option<MailUrl> {
    let (scheme, rest) = raw.trim().split_once("://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = authority.rsplit_once('@')?;
    let (user, password_given) = match userinfo.split_once(':') {
        Some((user, _)) => (user, true),
        None => (userinfo, false),
    };
    let user = user.replace("%40", "@");
    let (host, port) = match hostport.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => (host, Some(port.parse().ok()?)),
        _ => (hostport, None),
    };
    if user.is_empty() || host.is_empty() || host.contains(['/', '?', '#', ' ']) {
        return None;
    }
    Some(MailUrl {
        scheme: scheme.to_ascii_lowercase(),
        user,
        password_given,
        host: host.to_ascii_lowercase(),
        port,
        path: path.to_owned(),
    })
}

fn parse_imap_url(raw: &str) -> Result<(Endpoint, String), EmailSettingsError> {
    let bad = || EmailSettingsError::ImapUrl(raw.to_owned());
    let url = split_url(raw).ok_or_else(bad)?;
    if url.password_given {
        return Err(EmailSettingsError::PasswordInUrl("SWITCHBOARD_EMAIL_IMAP_URL"));
    }
    let (security, default_port) = match url.scheme.as_str() {
        "imaps" => (Security::Tls, 993),
        "imap" if is_loopback(&url.host) => (Security::Plain, 143),
        _ => return Err(bad()),
    };
    let mailbox = if url.path.trim_matches('/').is_empty() { "INBOX".to_owned() } else { url.path.clone() };
    let endpoint =
        Endpoint { host: url.host, port: url.port.unwrap_or(default_port), user: url.user, security };
    Ok((endpoint, mailbox))
}

fn parse_smtp_url(raw: &str) -> Result<Endpoint, EmailSettingsError> {
    let bad = || EmailSettingsError::SmtpUrl(raw.to_owned());
    let url = split_url(raw).ok_or_else(bad)?;
    if url.password_given {
        return Err(EmailSettingsError::PasswordInUrl("SWITCHBOARD_EMAIL_SMTP_URL"));
    }
    let (security, default_port) = match url.scheme.as_str() {
        "smtps" => (Security::Tls, 465),
        "smtp" if is_loopback(&url.host) => (Security::Plain, 25),
        "smtp" => (Security::StartTls, 587),
        _ => return Err(bad()),
    };
    if !url.path.trim_matches('/').is_empty() {
        return Err(bad());
    }
    Ok(Endpoint { host: url.host, port: url.port.unwrap_or(default_port), user: url.user, security })
}

/// `Name <address>` or a bare address.
fn parse_from(raw: &str) -> Result<(Option<String>, String), EmailSettingsError> {
    let bad = || EmailSettingsError::From(raw.to_owned());
    let raw = raw.trim();
    let (name, address) = match raw.rsplit_once('<') {
        Some((name, rest)) => {
            let address = rest.strip_suffix('>').ok_or_else(bad)?;
            let name = name.trim().trim_matches('"').trim();
            ((!name.is_empty()).then(|| name.to_owned()), address.trim())
        }
        None => (None, raw),
    };
    let valid = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !address.contains(char::is_whitespace)
            && !domain.contains('@')
            && !local.contains('+')
    });
    if !valid {
        return Err(bad());
    }
    Ok((name, address.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&'static str, &str)]) -> Result<Option<EmailSettings>, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        read(&env, Duration::from_secs(20))
    }

    const GOOD: [(&str, &str); 4] = [
        ("SWITCHBOARD_EMAIL_IMAP_URL", "imaps://support@example.com@imap.example.com/INBOX"),
        ("SWITCHBOARD_EMAIL_SMTP_URL", "smtp://support@example.com@smtp.example.com"),
        ("SWITCHBOARD_EMAIL_PASSWORD", "app-password-123"),
        ("SWITCHBOARD_EMAIL_FROM", "Example Support <Support@Example.com>"),
    ];

    #[test]
    fn absent_means_not_configured_and_a_full_set_reads() {
        assert!(load(&[]).unwrap().is_none());
        let settings = load(&GOOD).unwrap().unwrap();
        assert_eq!(
            settings.imap,
            Endpoint {
                host: "imap.example.com".into(),
                port: 993,
                user: "support@example.com".into(),
                security: Security::Tls
            }
        );
        assert_eq!(settings.mailbox, "INBOX");
        assert_eq!((settings.smtp.port, settings.smtp.security), (587, Security::StartTls));
        assert_eq!(settings.from_address, "support@example.com");
        assert_eq!(settings.from_name.as_deref(), Some("Example Support"));
        assert_eq!(settings.from_domain(), "example.com");
        assert_eq!(settings.idle_refresh, DEFAULT_IDLE_REFRESH);
        let debug = format!("{settings:?}");
        assert!(!debug.contains("app-password"), "{debug}");
    }

    #[test]
    fn plaintext_is_only_for_this_machine_and_separate_passwords_win() {
        let mut pairs = vec![
            ("SWITCHBOARD_EMAIL_IMAP_URL", "imap://support@127.0.0.1:10143"),
            ("SWITCHBOARD_EMAIL_SMTP_URL", "smtp://support@localhost:10025"),
            ("SWITCHBOARD_EMAIL_IMAP_PASSWORD", "imap-one"),
            ("SWITCHBOARD_EMAIL_SMTP_PASSWORD", "smtp-two"),
            ("SWITCHBOARD_EMAIL_FROM", "support@example.com"),
            ("SWITCHBOARD_EMAIL_IDLE_SECS", "60"),
        ];
        let settings = load(&pairs).unwrap().unwrap();
        assert_eq!((settings.imap.security, settings.imap.port), (Security::Plain, 10143));
        assert_eq!(settings.smtp.security, Security::Plain);
        assert_eq!(settings.imap_password.expose(), "imap-one");
        assert_eq!(settings.smtp_password.expose(), "smtp-two");
        assert_eq!(settings.idle_refresh, Duration::from_secs(60));
        pairs[0] = ("SWITCHBOARD_EMAIL_IMAP_URL", "imap://support@mail.example.com");
        assert_eq!(load(&pairs).unwrap_err().variable, "SWITCHBOARD_EMAIL_IMAP_URL");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let with = |variable: &'static str, value: &'static str| {
            let mut pairs: Vec<(&'static str, &str)> = GOOD.to_vec();
            pairs.retain(|(name, _)| *name != variable);
            if !value.is_empty() {
                pairs.push((variable, value));
            }
            pairs
        };
        let cases = [
            (with("SWITCHBOARD_EMAIL_IMAP_URL", ""), "SWITCHBOARD_EMAIL_IMAP_URL"),
            (with("SWITCHBOARD_EMAIL_IMAP_URL", "https://imap.example.com"), "SWITCHBOARD_EMAIL_IMAP_URL"),
            (with("SWITCHBOARD_EMAIL_IMAP_URL", "imaps://imap.example.com"), "SWITCHBOARD_EMAIL_IMAP_URL"),
            (
                with("SWITCHBOARD_EMAIL_IMAP_URL", "imaps://u:pw@imap.example.com"),
                "SWITCHBOARD_EMAIL_IMAP_URL",
            ),
            (with("SWITCHBOARD_EMAIL_SMTP_URL", "smtp://u@smtp.example.com:x"), "SWITCHBOARD_EMAIL_SMTP_URL"),
            (
                with("SWITCHBOARD_EMAIL_SMTP_URL", "smtps://u:pw@smtp.example.com"),
                "SWITCHBOARD_EMAIL_SMTP_URL",
            ),
            (with("SWITCHBOARD_EMAIL_PASSWORD", ""), "SWITCHBOARD_EMAIL_PASSWORD"),
            (with("SWITCHBOARD_EMAIL_FROM", "Support"), "SWITCHBOARD_EMAIL_FROM"),
            (with("SWITCHBOARD_EMAIL_FROM", "Support <support+x@example.com>"), "SWITCHBOARD_EMAIL_FROM"),
            (with("SWITCHBOARD_EMAIL_IDLE_SECS", "3600"), "SWITCHBOARD_EMAIL_IDLE_SECS"),
            (with("SWITCHBOARD_EMAIL_THREAD_SECRET", "short"), "SWITCHBOARD_EMAIL_THREAD_SECRET"),
        ];
        for (pairs, variable) in &cases {
            let error = load(pairs).unwrap_err();
            assert_eq!(error.variable, *variable, "{pairs:?}: {error}");
            assert!(!error.problem.contains("app-password"), "{error}");
        }
    }
}
