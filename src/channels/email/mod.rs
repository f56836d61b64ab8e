//! The email channel: letters in through IMAP IDLE, letters out through SMTP, threads kept
//! true by our own Message-IDs and reply addresses.
//!
//! Wiring, in the app:
//! ```text
//! let Some(settings) = settings.email else { return };       // None: not configured (config::email)
//! let email = EmailChannel::new(settings, media, renderer)?;  // outbound: impl Channel
//! spawn(imap::run(email.receiver(), intake, shutdown, reporter)); // on the leader only
//! ```
//!
//! `parse` reads a raw letter, `trim` finds the customer's own words in it, `thread` names the
//! conversation a letter belongs to, `inbound` turns a letter into an event, `imap` watches the
//! mailbox, `outbound` sends.

pub mod imap;
pub mod inbound;
pub mod outbound;
pub mod parse;
pub mod thread;
pub mod trim;

pub use inbound::EmailReceiver;
pub use outbound::{EmailChannel, EmailSetupError};

/// The channel name in events, contacts and outbox rows.
pub const CHANNEL: &str = "email";
