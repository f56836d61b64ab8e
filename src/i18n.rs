//! Fluent texts: loading bundles, negotiating a language, rendering replies for a locale.

use crate::core::message::MediaRef;

/// A reply rendered for one language, ready for a channel to lay out natively.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedReply {
    pub text: String,
    pub buttons: Vec<Vec<RenderedButton>>,
    pub attachments: Vec<MediaRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenderedButton {
    pub label: String,
    /// `core::message::Action::encode()`: what comes back when the button is pressed.
    pub data: String,
}
