//! The mailbox, watched with IMAP IDLE (RFC 2177): new letters arrive within a moment instead
//! of a polling interval.
//!
//! The position is the pair (UIDVALIDITY, last UID taken in), saved through
//! [`Intake::accept_batch_at`] in the transaction of the letters it covers, so a crash or a
//! dropped connection re-reads letters instead of losing them, and the engine drops the
//! repeats by their Message-ID digests. When the server says UIDVALIDITY changed (the UIDs we
//! saved mean nothing any more), the whole folder is read again, and the same dedupe keeps
//! every letter applied once. Letters are only read (`BODY.PEEK[]`): flags are left alone for
//! whoever else reads the mailbox.
//!
//! IDLE is ended and issued again every `idle_refresh` (under RFC 2177's 29 minutes, after
//! which servers may drop an idle client). Any failure reconnects with a growing pause, and
//! the channel's state says so until the server answers again. Run it on one process only (the
//! leader): several watchers would each take every letter in.

use super::inbound::{EmailReceiver, Skipped};
use crate::channel_state::{ChannelStates, Reporter};
use crate::channels::{Backoff, InboundEvent, Intake, ReceiveError, until_shutdown};
use crate::config::email::{EmailSettings, Security};
use async_imap::extensions::idle::IdleResponse;
use futures::TryStreamExt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(60);
/// Letters fetched and stored per transaction: bounded memory for a folder of thousands.
const BATCH: usize = 16;
/// A letter larger than this is not fetched whole: its headers are, and the agent is told.
pub const MAX_LETTER_BYTES: u32 = 40 * 1024 * 1024;
/// Without IDLE on the server, how often the folder is looked at.
const POLL_WITHOUT_IDLE: Duration = Duration::from_secs(30);

/// A connection to the server, TLS or (to this machine only) plain.
pub trait Connection: AsyncRead + AsyncWrite + Unpin + Send + Sync + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + std::fmt::Debug> Connection for T {}
type Session = async_imap::Session<Box<dyn Connection>>;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to the IMAP server: {0}")]
    Connect(String),
    #[error("the IMAP server refused the login: {0}")]
    Login(String),
    #[error("IMAP: {0}")]
    Protocol(#[from] async_imap::error::Error),
    #[error("IMAP: timed out {0}")]
    Timeout(&'static str),
    #[error("the folder has no UIDVALIDITY")]
    NoUidValidity,
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    #[error("the letters could not be stored: {0}")]
    NotStored(String),
}

/// The cursor name under which the position is kept, one per mailbox.
pub fn cursor_name(settings: &EmailSettings) -> String {
    format!("email:{}:uid", settings.mailbox_key())
}

/// The saved position: `(UIDVALIDITY, last UID)`.
fn read_position(saved: Option<&str>) -> Option<(u32, u32)> {
    let (validity, uid) = saved?.split_once(':')?;
    Some((validity.parse().ok()?, uid.parse().ok()?))
}

/// Watches the mailbox until `shutdown` completes. Every failure is reported, logged and
/// retried with a growing pause; there is no failure that stops it for good, since a refused
/// login may be a server's passing trouble as often as a wrong password.
pub async fn run(
    receiver: EmailReceiver,
    intake: Arc<dyn Intake>,
    shutdown: impl Future<Output = ()> + Send,
    states: ChannelStates,
) -> Result<(), std::convert::Infallible> {
    let reporter = Reporter::new(super::CHANNEL, states);
    let stopped = || tracing::info!("email: stopped watching the mailbox");
    until_shutdown(shutdown, watch_forever(&receiver, intake.as_ref(), &reporter), stopped).await
}

async fn watch_forever(
    receiver: &EmailReceiver,
    intake: &dyn Intake,
    reporter: &Reporter,
) -> Result<(), std::convert::Infallible> {
    let mut backoff = Backoff::new(FIRST_PAUSE, LONGEST_PAUSE);
    loop {
        let error = match watch(receiver, intake, reporter, &mut backoff).await {
            Ok(never) => match never {},
            Err(error) => error,
        };
        tracing::warn!(%error, "email: the mailbox connection failed; reconnecting");
        reporter.failed(&error);
        backoff.pause().await;
    }
}

/// One connection's life: log in, take in what is new, IDLE, repeat, until something fails.
async fn watch(
    receiver: &EmailReceiver,
    intake: &dyn Intake,
    reporter: &Reporter,
    backoff: &mut Backoff,
) -> Result<std::convert::Infallible, ImapError> {
    let settings = receiver.settings();
    let mut session = connect(settings).await?;
    let has_idle = session.capabilities().await?.has_str("IDLE");
    let mailbox = session.select(&settings.mailbox).await?;
    let validity = mailbox.uid_validity.ok_or(ImapError::NoUidValidity)?;
    let cursor = cursor_name(settings);
    let saved = intake.cursor(&cursor).await.map_err(|error| ImapError::NotStored(error.to_string()))?;
    let mut last = match read_position(saved.as_deref()) {
        Some((saved_validity, uid)) if saved_validity == validity => uid,
        Some(_) => {
            tracing::warn!("email: the folder's UIDVALIDITY changed; reading it again (repeats are dropped)");
            0
        }
        None => 0,
    };
    tracing::info!(mailbox = %settings.mailbox, idle = has_idle, "email: watching the mailbox");
    reporter.answered();
    backoff.reset();
    loop {
        last = take_in_new(&mut session, receiver, intake, (&cursor, validity), last).await?;
        while session.unsolicited_responses.try_recv().is_ok() {}
        if !has_idle {
            tokio::time::sleep(POLL_WITHOUT_IDLE).await;
            continue;
        }
        session = idle(session, settings.idle_refresh).await?;
    }
}

/// Waits in IDLE until the server reports a change or `refresh` passes, then ends the IDLE.
async fn idle(session: Session, refresh: Duration) -> Result<Session, ImapError> {
    let mut handle = session.idle();
    handle.init().await?;
    let (wait, _interrupt) = handle.wait_with_timeout(refresh);
    // The crate's own timeout restarts with every keep-alive the server sends, so the
    // re-issue deadline is kept here as well.
    let outcome = tokio::time::timeout(refresh, wait).await;
    match outcome {
        Ok(Ok(IdleResponse::NewData(_))) | Ok(Ok(IdleResponse::Timeout)) | Err(_) => {}
        // The stream ended: the server went away. `done` below fails and we reconnect.
        Ok(Ok(IdleResponse::ManualInterrupt)) => {}
        Ok(Err(error)) => return Err(error.into()),
    }
    let session = tokio::time::timeout(Duration::from_secs(30), handle.done())
        .await
        .map_err(|_| ImapError::Timeout("ending IDLE"))??;
    Ok(session)
}

/// Fetches every letter after `last`, in batches, each batch stored with its position in one
/// transaction. Returns the new last UID.
async fn take_in_new(
    session: &mut Session,
    receiver: &EmailReceiver,
    intake: &dyn Intake,
    (cursor, validity): (&str, u32),
    mut last: u32,
) -> Result<u32, ImapError> {
    let mut uids: Vec<u32> = session
        .uid_search(format!("UID {}:*", last + 1))
        .await?
        .into_iter()
        .filter(|uid| *uid > last)
        .collect();
    uids.sort_unstable();
    for batch in uids.chunks(BATCH) {
        let letters = fetch(session, batch).await?;
        let mut events: Vec<InboundEvent> = Vec::new();
        for (uid, raw) in &letters {
            match receiver.read_letter(raw).await? {
                Ok(event) => events.push(event),
                Err(Skipped::Unreadable) => tracing::warn!(uid, "email: skipped a letter that does not read"),
                Err(skipped) => tracing::info!(uid, ?skipped, "email: a letter not for the dialog"),
            }
        }
        let next = batch.last().copied().unwrap_or(last);
        let position = format!("{validity}:{next}");
        intake
            .accept_batch_at(events, (cursor, &position))
            .await
            .map_err(|error| ImapError::NotStored(error.to_string()))?;
        // Stored, with the position after them: only now does the watcher move on.
        last = next;
    }
    Ok(last)
}

/// The raw letters of `uids`; one too large is fetched as its headers with a note instead.
async fn fetch(session: &mut Session, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>, ImapError> {
    let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let sizes: Vec<(u32, u32)> = session
        .uid_fetch(&set, "(UID RFC822.SIZE)")
        .await?
        .try_collect::<Vec<_>>()
        .await?
        .iter()
        .filter_map(|fetch| Some((fetch.uid?, fetch.size.unwrap_or(0))))
        .collect();
    let (whole, too_large): (Vec<_>, Vec<_>) =
        sizes.into_iter().partition(|(_, size)| *size <= MAX_LETTER_BYTES);
    let mut letters = Vec::new();
    if !whole.is_empty() {
        let set = whole.iter().map(|(uid, _)| uid.to_string()).collect::<Vec<_>>().join(",");
        let fetched = session.uid_fetch(&set, "(UID BODY.PEEK[])").await?.try_collect::<Vec<_>>().await?;
        for fetch in &fetched {
            if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                letters.push((uid, body.to_vec()));
            }
        }
    }
    for (uid, size) in too_large {
        let fetched = session
            .uid_fetch(uid.to_string(), "(UID BODY.PEEK[HEADER])")
            .await?
            .try_collect::<Vec<_>>()
            .await?;
        if let Some(header) = fetched.iter().find_map(|fetch| fetch.header()) {
            let mut raw = header.to_vec();
            raw.extend_from_slice(
                format!("\r\n[This letter is {} MB; only its headers were read.]\r\n", size / (1024 * 1024))
                    .as_bytes(),
            );
            letters.push((uid, raw));
        }
    }
    letters.sort_by_key(|(uid, _)| *uid);
    Ok(letters)
}

/// Connects, reads the greeting and logs in, each step within the configured timeout.
async fn connect(settings: &EmailSettings) -> Result<Session, ImapError> {
    let endpoint = &settings.imap;
    let limit = settings.timeout;
    let tcp = tokio::time::timeout(limit, TcpStream::connect((endpoint.host.as_str(), endpoint.port)))
        .await
        .map_err(|_| ImapError::Timeout("connecting"))?
        .map_err(|error| ImapError::Connect(error.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Connection> = match endpoint.security {
        Security::Plain => Box::new(tcp),
        Security::Tls | Security::StartTls => {
            let tls = tokio::time::timeout(limit, tls_connect(&endpoint.host, tcp))
                .await
                .map_err(|_| ImapError::Timeout("in the TLS handshake"))??;
            Box::new(tls)
        }
    };
    let mut client = async_imap::Client::new(stream);
    tokio::time::timeout(limit, client.read_response())
        .await
        .map_err(|_| ImapError::Timeout("waiting for the greeting"))?
        .map_err(|error| ImapError::Connect(error.to_string()))?
        .ok_or_else(|| ImapError::Connect("the server closed the connection before its greeting".into()))?;
    tokio::time::timeout(limit, client.login(&endpoint.user, settings.imap_password.expose()))
        .await
        .map_err(|_| ImapError::Timeout("logging in"))?
        .map_err(|(error, _)| ImapError::Login(error.to_string()))
}

async fn tls_connect(
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // The provider is named: the dependency tree enables two, and rustls refuses to guess.
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| ImapError::Connect(error.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|error| ImapError::Connect(format!("{host:?} is not a host name: {error}")))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|error| ImapError::Connect(format!("TLS: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_back_and_anything_else_means_none() {
        assert_eq!(read_position(Some("1796638050:42")), Some((1_796_638_050, 42)));
        assert_eq!(read_position(Some("garbage")), None);
        assert_eq!(read_position(None), None);
    }
}
