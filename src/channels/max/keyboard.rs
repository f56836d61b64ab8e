//! MAX inline keyboards: `callback` buttons whose payload carries our `Action` encoding behind
//! a short prefix, so a press comes back as data we decode (never as label text), and a
//! payload from other software is told apart. Laid out within MAX's limits: at most 7 buttons
//! in a row, 30 rows and 210 buttons.

use crate::i18n::RenderedButton;
use serde_json::{Value, json};

/// Marks a payload as ours.
pub const PAYLOAD_PREFIX: &str = "sb:";
pub const MAX_PER_ROW: usize = 7;
pub const MAX_ROWS: usize = 30;
pub const MAX_BUTTONS: usize = 210;

/// The payload string for one button.
pub fn payload(data: &str) -> String {
    format!("{PAYLOAD_PREFIX}{data}")
}

/// Our `Action::encode()` string from a pressed button's payload, or `None` for a payload that
/// is not ours.
pub fn read_payload(payload: &str) -> Option<&str> {
    payload.strip_prefix(PAYLOAD_PREFIX)
}

/// The `inline_keyboard` attachment for `rows`, or `None` when there are no buttons. A row
/// wider than MAX allows is wrapped; buttons past the row or button limit are left out (and
/// logged: the dialog offers that many choices only by mistake).
pub fn build(rows: &[Vec<RenderedButton>]) -> Option<Value> {
    let mut laid_out: Vec<Vec<Value>> = Vec::new();
    let mut placed = 0;
    let mut dropped = 0;
    for chunk in rows.iter().flat_map(|row| row.chunks(MAX_PER_ROW)) {
        if laid_out.len() == MAX_ROWS {
            dropped += chunk.len();
            continue;
        }
        let room = MAX_BUTTONS - placed;
        let taken: Vec<Value> = chunk
            .iter()
            .take(room)
            .map(|button| json!({"type": "callback", "text": button.label, "payload": payload(&button.data)}))
            .collect();
        dropped += chunk.len() - taken.len();
        placed += taken.len();
        if !taken.is_empty() {
            laid_out.push(taken);
        }
    }
    if dropped > 0 {
        tracing::warn!(dropped, "a MAX keyboard had more buttons than MAX allows; some were left out");
    }
    (!laid_out.is_empty()).then(|| json!({"type": "inline_keyboard", "payload": {"buttons": laid_out}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::numbered_buttons;

    fn shape(keyboard: &Value) -> Vec<usize> {
        keyboard["payload"]["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row.as_array().unwrap().len())
            .collect()
    }

    #[test]
    fn layout_respects_row_width_rows_and_total() {
        assert_eq!(shape(&build(&numbered_buttons(&[2, 1])).unwrap()), [2, 1]);
        assert_eq!(shape(&build(&numbered_buttons(&[16])).unwrap()), [7, 7, 2]);
        assert_eq!(shape(&build(&numbered_buttons(&[1; 40])).unwrap()), [1; 30]);
        let full = build(&numbered_buttons(&[7; 31])).unwrap();
        assert_eq!(shape(&full), [7; 30]);
        assert_eq!(shape(&full).iter().sum::<usize>(), MAX_BUTTONS);
        assert_eq!(build(&[]), None);
        assert_eq!(build(&[Vec::new()]), None);
    }

    #[test]
    fn buttons_are_callbacks_whose_payloads_round_trip() {
        let keyboard = build(&numbered_buttons(&[1])).unwrap();
        assert_eq!(keyboard["type"], "inline_keyboard");
        let button = &keyboard["payload"]["buttons"][0][0];
        assert_eq!((button["type"].as_str(), button["text"].as_str()), (Some("callback"), Some("B1")));
        assert_eq!(read_payload(button["payload"].as_str().unwrap()), Some("d1"));
        assert_eq!(read_payload("picture"), None);
    }
}
