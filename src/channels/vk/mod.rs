//! The VK channel: a community's messages, through the Bots Long Poll API or the Callback API,
//! answered with `messages.send`.
//!
//! Wiring, in the app:
//! ```text
//! let Some(settings) = settings.vk else { return };   // None: VK not configured (config::vk)
//! let vk = VkChannel::new(settings, media, renderer)?;           // outbound: impl Channel
//! match vk.settings().mode {
//!     VkMode::LongPoll => spawn(longpoll::run(vk.receiver(), intake, shutdown, channel_states)),
//!     VkMode::Callback => router.merge(callback::router(vk.receiver(), intake)),
//! }
//! ```
//!
//! `api` is the typed HTTP client, `inbound` reads events (downloading photos only from the
//! hosts `web::downloads` allows), `keyboard` lays out buttons, `outbound` sends, `longpoll` and
//! `callback` are the two ways events arrive.

pub mod api;
pub mod callback;
pub mod inbound;
pub mod keyboard;
pub mod longpoll;
pub mod outbound;

pub use inbound::VkReceiver;
pub use outbound::VkChannel;

/// The channel name in events, contacts and outbox rows.
pub const CHANNEL: &str = "vk";
