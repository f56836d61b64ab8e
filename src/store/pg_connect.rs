//! How a start reaches PostgreSQL. A pool that cannot connect retries quietly until its own
//! 30-second timeout and then reports only "pool timed out", so before the pools are built
//! one plain connection is tried, with a time limit, and its error is turned into a sentence
//! that says what failed: nobody listening, a wrong password or user, a database that does not
//! exist. Failures that may pass (the server is still starting, the network is not up yet)
//! are tried again for as long as the settings allow, with one log line per attempt.

use super::{StoreError, StoreResult};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use std::future::Future;
use std::time::Duration;

/// How long one connection attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Why the server could not be reached, as a person needs to hear it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot connect to PostgreSQL at {server}: {problem}")]
pub struct Unreachable {
    /// `host:port` or the socket folder, never the user or password.
    pub server: String,
    pub problem: String,
    /// Whether trying again later may succeed.
    pub transient: bool,
}

/// Opens one connection within [`ATTEMPT_TIMEOUT`], trying again while `wait` lasts.
pub async fn probe(options: &PgConnectOptions, wait: Duration) -> StoreResult<()> {
    let server = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    retrying(
        wait,
        || async {
            match tokio::time::timeout(ATTEMPT_TIMEOUT, PgConnection::connect_with(options)).await {
                Ok(Ok(connection)) => {
                    let _ = connection.close().await;
                    Ok(())
                }
                Ok(Err(error)) => Err(describe(&server, &error)),
                Err(_) => Err(Unreachable {
                    server: server.clone(),
                    problem: format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
                    transient: true,
                }),
            }
        },
        tokio::time::sleep,
    )
    .await
    .map_err(StoreError::Unreachable)
}

/// Runs `attempt` until it succeeds, fails for good, or the next try would start after
/// `wait`; pauses (taken by `sleep`) grow from half a second to [`MAX_PAUSE`]. The time spent
/// is what the attempts took plus the pauses, so a test can pass a `sleep` that returns at once.
pub async fn retrying<F, Fut, S, Slept>(
    wait: Duration,
    mut attempt: F,
    mut sleep: S,
) -> Result<(), Unreachable>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Unreachable>>,
    S: FnMut(Duration) -> Slept,
    Slept: Future<Output = ()>,
{
    let mut spent = Duration::ZERO;
    let mut pause = Duration::from_millis(500);
    for number in 1u32.. {
        let began = std::time::Instant::now();
        let outcome = attempt().await;
        spent += began.elapsed();
        let Err(problem) = outcome else { return Ok(()) };
        if !problem.transient || spent + pause > wait {
            return Err(problem);
        }
        tracing::warn!(
            attempt = number,
            "{problem}; trying again in {:.1} s ({} s left of SWITCHBOARD_DATABASE_WAIT_SECS)",
            pause.as_secs_f64(),
            (wait - spent).as_secs()
        );
        sleep(pause).await;
        spent += pause;
        pause = (pause * 2).min(MAX_PAUSE);
    }
    unreachable!("the attempts end by returning")
}

/// What a failed connection attempt means.
fn describe(server: &str, error: &sqlx::Error) -> Unreachable {
    let (problem, transient) = match error {
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                ("connection refused (is the server running and listening there?)".to_owned(), true)
            }
            _ => (io.to_string(), true),
        },
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // invalid_password, invalid_authorization_specification (an unknown role).
            Some("28P01") | Some("28000") => (format!("authentication failed: {}", db.message()), false),
            // invalid_catalog_name: the database named in the URL does not exist.
            Some("3D000") => (format!("{} (create it, or fix the URL)", db.message()), false),
            // cannot_connect_now: the server is starting up or shutting down.
            Some("57P03") => (db.message().to_owned(), true),
            _ => (db.message().to_owned(), false),
        },
        sqlx::Error::Tls(tls) => (format!("TLS failed: {tls}"), false),
        other => (other.to_string(), false),
    };
    Unreachable { server: server.to_owned(), problem, transient }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Pauses pass at once: the count of attempts depends only on the pauses' lengths.
    async fn no_sleep(_pause: Duration) {}

    fn down(transient: bool) -> Unreachable {
        Unreachable { server: "db:5432".into(), problem: "connection refused".into(), transient }
    }

    #[tokio::test]
    async fn a_server_that_comes_up_is_reached_and_a_wrong_password_is_not_retried() {
        let attempts = AtomicU32::new(0);
        let result = retrying(
            Duration::from_secs(30),
            || async { if attempts.fetch_add(1, Ordering::SeqCst) < 3 { Err(down(true)) } else { Ok(()) } },
            no_sleep,
        )
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(attempts.load(Ordering::SeqCst), 4);

        let attempts = AtomicU32::new(0);
        let result = retrying(
            Duration::from_secs(30),
            || async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(down(false))
            },
            no_sleep,
        )
        .await;
        assert_eq!(result, Err(down(false)));
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "a lasting failure is said at once");
    }

    #[tokio::test]
    async fn retries_stop_when_the_wait_is_over_and_zero_tries_once() {
        let attempts = AtomicU32::new(0);
        let result = retrying(
            Duration::from_secs(10),
            || async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(down(true))
            },
            no_sleep,
        )
        .await;
        assert_eq!(result, Err(down(true)));
        // Pauses of 0.5, 1, 2, 4 s fit in ten seconds; the next (5 s) would not.
        assert_eq!(attempts.load(Ordering::SeqCst), 5);

        let attempts = AtomicU32::new(0);
        let _ = retrying(
            Duration::ZERO,
            || async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(down(true))
            },
            no_sleep,
        )
        .await;
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn nobody_listening_is_said_in_words_at_once() {
        let options: PgConnectOptions = "postgres://someone:secret@127.0.0.1:9/shop".parse().unwrap();
        let error = probe(&options, Duration::ZERO).await.unwrap_err().to_string();
        assert!(error.contains("127.0.0.1:9") && error.contains("connection refused"), "{error}");
        assert!(!error.contains("secret") && !error.contains("someone"), "{error}");
        assert!(!error.contains("pool timed out"), "{error}");
    }
}
