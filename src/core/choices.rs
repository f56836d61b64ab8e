//! Choices by number, for channels that cannot show buttons (email, Ozon's buyer chat).
//!
//! There, a reply's buttons are written under its text as numbered lines, and a customer who
//! answers with a number presses that button. What each number means is remembered with the
//! conversation (the engine keeps it beside the dialog state), not by the channel, so a restart
//! between the question and the answer changes nothing, and several instances agree.

use crate::core::message::{Action, Reply};

/// The most choices one message offers by number; the dialog's menus are far shorter, and a
/// bound keeps what is stored per conversation small whatever a reply carries.
pub const MAX_CHOICES: usize = 16;

/// What the numbers mean after a turn that sent `replies`: the buttons of the last reply that
/// has any, in reading order. `None` when the turn sent nothing, so the numbers the customer
/// can still see keep their meaning; an empty list when the turn's messages offer nothing, so
/// a number typed now is just text.
pub fn offered(replies: &[Reply]) -> Option<Vec<Action>> {
    if replies.is_empty() {
        return None;
    }
    let last = replies.iter().rev().find(|reply| !reply.buttons.is_empty());
    Some(last.map(numbered).unwrap_or_default())
}

/// A reply's buttons in the order they are numbered: row by row, left to right.
pub fn numbered(reply: &Reply) -> Vec<Action> {
    reply.buttons.iter().flatten().take(MAX_CHOICES).map(|button| button.action).collect()
}

/// The choice a message picks, when the whole message is one of the numbers on offer: `2`,
/// ` 2. `, `2)`, a full-width `２` as Chinese keyboards type it. Anything else is text.
pub fn pick(text: &str, choices: &[Action]) -> Option<Action> {
    let trimmed = text.trim();
    let bare = trimmed.strip_suffix(['.', ')', '．', '）']).unwrap_or(trimmed).trim_end();
    if bare.is_empty() || bare.chars().count() > 2 {
        return None;
    }
    let mut number = 0usize;
    for c in bare.chars() {
        let digit = match c {
            '0'..='9' => c as u32 - '0' as u32,
            '０'..='９' => c as u32 - '０' as u32,
            _ => return None,
        };
        number = number * 10 + digit as usize;
    }
    number.checked_sub(1).and_then(|index| choices.get(index)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::message::{Button, IssueType};

    fn choices() -> Vec<Action> {
        vec![Action::Issue(IssueType::Damaged), Action::Issue(IssueType::MissingItem), Action::Human]
    }

    #[test]
    fn a_number_on_offer_picks_its_choice_however_it_is_typed() {
        assert_eq!(pick("1", &choices()), Some(Action::Issue(IssueType::Damaged)));
        assert_eq!(pick(" 2. ", &choices()), Some(Action::Issue(IssueType::MissingItem)));
        assert_eq!(pick("3)", &choices()), Some(Action::Human));
        assert_eq!(pick("３", &choices()), Some(Action::Human));
        assert_eq!(pick("２．", &choices()), Some(Action::Issue(IssueType::MissingItem)));
    }

    #[test]
    fn anything_but_a_number_on_offer_is_text() {
        for text in ["0", "4", "10", "", " ", "1 2", "one", "1st", "-1", "12345678-0001", "１２３"] {
            assert_eq!(pick(text, &choices()), None, "{text:?}");
        }
        assert_eq!(pick("1", &[]), None);
    }

    #[test]
    fn the_last_reply_with_buttons_sets_the_numbers() {
        let menu = Reply::new("menu")
            .row(vec![Button::new("a", Action::Issue(IssueType::Damaged))])
            .row(vec![Button::new("b", Action::Human), Button::new("c", Action::SkipPhoto)]);
        let note = Reply::new("note");
        assert_eq!(offered(&[]), None);
        assert_eq!(offered(std::slice::from_ref(&note)), Some(Vec::new()));
        assert_eq!(
            offered(&[menu.clone(), note]),
            Some(vec![Action::Issue(IssueType::Damaged), Action::Human, Action::SkipPhoto])
        );
    }

    #[test]
    fn a_reply_offers_at_most_the_bound() {
        let mut reply = Reply::new("long");
        for _ in 0..MAX_CHOICES + 5 {
            reply = reply.row(vec![Button::new("x", Action::Human)]);
        }
        assert_eq!(numbered(&reply).len(), MAX_CHOICES);
    }
}
