//! Buttons as the tests' own renderers lay them out: each label is its Fluent key, each
//! button's data its encoded action, so a test reads what the dialog offered, not its wording.

use switchboard::core::message::Reply;
use switchboard::i18n::RenderedButton;

pub fn key_buttons(reply: &Reply) -> Vec<Vec<RenderedButton>> {
    reply
        .buttons
        .iter()
        .map(|row| {
            row.iter()
                .map(|button| RenderedButton {
                    label: button.label.key.clone(),
                    data: button.action.encode(),
                })
                .collect()
        })
        .collect()
}
