//! The calling half that the VK, MAX and Ozon API clients share: the HTTP client with its stop
//! switch and the bot's pace in one [`ApiCore`], the steps every call starts and ends with, and
//! what each client's `ApiError` must offer for them ([`PlatformCallError`]). Each client keeps
//! its own request shape, error answers and wording.

use crate::channels::PlatformError;
use crate::web::platform::PlatformClient;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::num::NonZeroU32;
use std::time::Duration;

/// What every platform client's `ApiError` has, by the shape all of them share (`Auth {
/// message, .. }`, `Stopped`, `Transport(String)`, `Unexpected(String)`): a `reqwest` failure is
/// a call that did not complete (its text without the URL, which may carry secrets), a delivery
/// fails the way [`PlatformError::failure`] sorts it, and the shared call steps
/// ([`PlatformCallError`]) with `$announce_stop` as the one loud line about a rejected
/// credential.
macro_rules! platform_api_error {
    ($error:ident, $announce_stop:path) => {
        impl From<reqwest::Error> for $error {
            fn from(error: reqwest::Error) -> $error {
                $error::Transport(crate::web::platform::transport_error(error))
            }
        }

        impl From<$error> for crate::channels::DeliveryError {
            fn from(error: $error) -> crate::channels::DeliveryError {
                crate::channels::DeliveryError::from_platform(&error)
            }
        }

        impl crate::channels::platform_api::PlatformCallError for $error {
            fn stopped() -> $error {
                $error::Stopped
            }

            fn unexpected(what: String) -> $error {
                $error::Unexpected(what)
            }

            fn rejected_credentials(&self) -> Option<&str> {
                match self {
                    $error::Auth { message, .. } => Some(message),
                    _ => None,
                }
            }

            fn announce_stop(message: &str) {
                $announce_stop(message)
            }
        }
    };
}
pub(crate) use platform_api_error;

/// A platform's API client, as the receiver and the outbound half need it.
pub trait PlatformApi {
    /// The shared HTTP client: downloads and uploads that are not API methods, the stop switch.
    fn platform(&self) -> &PlatformClient;
}

/// A platform client's error, as the shared call steps need it (written by
/// [`platform_api_error!`]).
pub trait PlatformCallError: PlatformError + From<reqwest::Error> {
    /// A call refused because an earlier one had our credentials rejected.
    fn stopped() -> Self;
    /// An answer not in the shape the client expects; `what` names the call and the fault.
    fn unexpected(what: String) -> Self;
    /// The platform's words when this error is its rejection of our credentials.
    fn rejected_credentials(&self) -> Option<&str>;
    /// Says, once and loudly, that the channel stops, and which settings to check.
    fn announce_stop(message: &str);
}

/// A pace of `rate` requests a second.
pub fn per_second(rate: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(rate).expect("a positive rate"))
}

/// What every platform client holds: the HTTP client with its stop switch, and the pace of the
/// bot's API calls (none when rate limits are off).
pub struct ApiCore {
    client: PlatformClient,
    pace: Option<DefaultDirectRateLimiter>,
}

impl ApiCore {
    pub fn new(client: PlatformClient, pace: Option<Quota>) -> ApiCore {
        ApiCore { client, pace: pace.map(RateLimiter::direct) }
    }

    pub fn client(&self) -> &PlatformClient {
        &self.client
    }

    /// What every API call does first: fails at once when the channel is stopped, and otherwise
    /// waits for its turn in the bot's pace.
    pub async fn ready<Error: PlatformCallError>(&self) -> Result<(), Error> {
        if self.client.is_stopped() {
            return Err(Error::stopped());
        }
        if let Some(pace) = &self.pace {
            pace.until_ready().await;
        }
        Ok(())
    }

    /// Stops the channel when `error` rejects our credentials: every later call would fail the
    /// same way, so the first one says so and the rest fail at once.
    pub fn stop_on<Error: PlatformCallError>(&self, error: &Error) {
        if let Some(message) = error.rejected_credentials()
            && self.client.stop()
        {
            Error::announce_stop(message);
        }
    }

    /// The end of a JSON call to `path`: the answer's JSON, or for a refusal the error
    /// `refused(status, body, Retry-After)` makes of it (stopping the channel if it rejects our
    /// credentials).
    pub async fn json_answer<Error: PlatformCallError>(
        &self,
        path: &str,
        response: reqwest::Response,
        refused: impl FnOnce(u16, &[u8], Option<Duration>) -> Error,
    ) -> Result<Value, Error> {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await?;
        if !status.is_success() {
            let error = refused(status.as_u16(), &bytes, retry_after);
            self.stop_on(&error);
            return Err(error);
        }
        serde_json::from_slice(&bytes).map_err(|error| Error::unexpected(format!("{path}: {error}")))
    }
}

/// An API answer read as `T`; `what` names the call when it does not read.
pub fn read_answer<T: DeserializeOwned, Error: PlatformCallError>(
    what: &str,
    answer: Value,
) -> Result<T, Error> {
    serde_json::from_value(answer).map_err(|error| Error::unexpected(format!("{what}: {error}")))
}

/// An image as the multipart part of an upload, named `photo.<extension>` after its type
/// (JPEG unless PNG, GIF or WebP), as the platforms' upload servers want a file name.
pub fn image_part<Error: PlatformCallError>(
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<reqwest::multipart::Part, Error> {
    let extension = match content_type {
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "jpg",
    };
    reqwest::multipart::Part::bytes(bytes)
        .file_name(format!("photo.{extension}"))
        .mime_str(content_type)
        .map_err(|error| Error::unexpected(format!("content type {content_type:?}: {error}")))
}
