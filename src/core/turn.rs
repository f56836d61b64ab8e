//! What one bot turn sends a customer.
//!
//! The dialog answers one input with as many replies as read well on their own: a greeting,
//! then the menu; "at least one photo is needed", then the photo request again. Sent as they
//! are, each would be a notification for the customer and a platform call, an outbox row and a
//! log row for Switchboard. So the engine sends a turn's replies as one message
//! ([`messages`]): their texts as paragraphs in order, under the buttons of the last reply that
//! has any (see [`Reply::joined`]).
//!
//! Two things are not decided here. A reply with images stays a message of its own: a photo
//! and a long text do not make one message on every platform (Telegram's captions are short,
//! Ozon sends files apart from text). And whether the joined text fits one message depends on
//! the language it is rendered in, which only delivery knows: each channel splits a text
//! longer than its platform allows at paragraph breaks (`message_split`), the buttons under
//! the last part, so a long turn is still one outbox row and one log row.

use crate::core::message::Reply;

/// A turn's replies as the messages to send, in order: each run of replies without images
/// joined into one, each reply with images on its own. No replies, no messages.
pub fn messages(replies: Vec<Reply>) -> Vec<Reply> {
    let mut runs: Vec<Vec<Reply>> = Vec::new();
    let mut joinable = false;
    for reply in replies {
        let alone = !reply.attachments.is_empty();
        match runs.last_mut() {
            Some(run) if joinable && !alone => run.push(reply),
            _ => runs.push(vec![reply]),
        }
        joinable = !alone;
    }
    runs.into_iter().filter_map(Reply::joined).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::choices;
    use crate::core::message::{Action, Button, IssueType, MediaRef, Text};

    fn keys(message: &Reply) -> Vec<&str> {
        message.texts().map(|text| text.key.as_str()).collect()
    }

    fn menu() -> Reply {
        Reply::new("menu-prompt")
            .row(vec![Button::new("button-delivery", Action::Issue(IssueType::Delivery))])
            .row(vec![Button::new("button-human", Action::Human)])
    }

    fn photo_request() -> Reply {
        Reply::new("ask-photos").row(vec![Button::new("button-skip", Action::SkipPhoto)])
    }

    fn with_image(key: &str) -> Reply {
        let mut reply = Reply::new(key);
        reply.attachments.push(MediaRef {
            sha256: "ab".repeat(32),
            content_type: "image/jpeg".into(),
            bytes: 1000,
        });
        reply
    }

    #[test]
    fn a_greeting_and_the_menu_are_one_message_with_the_menus_buttons() {
        let greeting = Reply::new("greeting").arg("name", "Anna");
        let sent = messages(vec![greeting, menu()]);
        assert_eq!(sent.len(), 1);
        assert_eq!(keys(&sent[0]), ["greeting", "menu-prompt"]);
        assert_eq!(sent[0].text, Text::new("greeting").arg("name", "Anna"), "arguments stay with their text");
        assert_eq!(sent[0].buttons, menu().buttons);
    }

    #[test]
    fn when_two_replies_have_buttons_the_last_ones_are_kept() {
        // The menu was the question before; the photo request is the one the customer answers.
        let sent = messages(vec![menu(), Reply::new("photo-needed"), photo_request()]);
        assert_eq!(sent.len(), 1);
        assert_eq!(keys(&sent[0]), ["menu-prompt", "photo-needed", "ask-photos"]);
        assert_eq!(sent[0].buttons, photo_request().buttons);
    }

    #[test]
    fn buttons_before_a_closing_note_stay_on_the_message() {
        let sent = messages(vec![menu(), Reply::new("note")]);
        assert_eq!(keys(&sent[0]), ["menu-prompt", "note"]);
        assert_eq!(sent[0].buttons, menu().buttons);
    }

    #[test]
    fn numbers_mean_the_same_for_the_joined_message_as_for_the_separate_replies() {
        let turns = [
            vec![Reply::new("greeting"), menu()],
            vec![menu(), Reply::new("photo-needed"), photo_request()],
            vec![menu(), Reply::new("note")],
            vec![Reply::new("note")],
        ];
        for replies in turns {
            let sent = messages(replies.clone());
            assert_eq!(choices::offered(&sent), choices::offered(&replies), "{replies:?}");
        }
    }

    #[test]
    fn a_reply_with_images_stays_a_message_of_its_own() {
        let sent = messages(vec![
            Reply::new("before"),
            Reply::new("also-before"),
            with_image("photo"),
            with_image("second-photo"),
            Reply::new("after"),
            menu(),
        ]);
        let shape: Vec<(Vec<&str>, usize)> =
            sent.iter().map(|message| (keys(message), message.attachments.len())).collect();
        assert_eq!(
            shape,
            [
                (vec!["before", "also-before"], 0),
                (vec!["photo"], 1),
                (vec!["second-photo"], 1),
                (vec!["after", "menu-prompt"], 0),
            ]
        );
        assert_eq!(sent[3].buttons, menu().buttons);
    }

    #[test]
    fn one_reply_is_unchanged_and_none_is_nothing() {
        assert_eq!(messages(vec![menu()]), [menu()]);
        assert_eq!(messages(Vec::new()), Vec::<Reply>::new());
    }

    #[test]
    fn paragraphs_of_an_already_joined_reply_keep_their_place() {
        let letter = Reply::joined(vec![Reply::new("a"), Reply::new("b")]).expect("two replies");
        let sent = messages(vec![letter, Reply::new("c")]);
        assert_eq!(keys(&sent[0]), ["a", "b", "c"]);
    }
}
