//! How a channel without buttons (email, Ozon's buyer chat) writes a reply that has them: the
//! text, then one numbered line per button, then a line saying to answer with a number. The
//! numbering is `core::choices`'s, which is how the engine reads the number back.

use crate::channels::Renderer;
use crate::core::choices::MAX_CHOICES;
use crate::core::keys;
use crate::core::message::{Lang, Reply};

/// The reply as plain text, its buttons as numbered lines.
pub fn numbered_text(render: &Renderer, lang: Lang, reply: &Reply) -> String {
    let rendered = render(lang, reply);
    let labels: Vec<&str> =
        rendered.buttons.iter().flatten().take(MAX_CHOICES).map(|button| button.label.as_str()).collect();
    if labels.is_empty() {
        return rendered.text;
    }
    let mut text = rendered.text;
    text.push_str("\n\n");
    for (index, label) in labels.iter().enumerate() {
        text.push_str(&format!("{}. {label}\n", index + 1));
    }
    text.push('\n');
    text.push_str(&render(lang, &Reply::new(keys::CHOICES_HINT)).text);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::key_renderer;
    use crate::core::choices;
    use crate::core::message::{Action, Button, IssueType};

    #[test]
    fn buttons_become_numbered_lines_in_the_order_the_engine_reads_them() {
        let reply = Reply::new("menu-prompt")
            .row(vec![
                Button::new("button-damaged", Action::Issue(IssueType::Damaged)),
                Button::new("button-late", Action::Issue(IssueType::LateDelivery)),
            ])
            .row(vec![Button::new("button-human", Action::Human)]);
        let text = numbered_text(&key_renderer(), Lang::En, &reply);
        assert_eq!(
            text,
            "<menu-prompt>\n\n1. button-damaged\n2. button-late\n3. button-human\n\n<choices-hint>"
        );
        let offered = choices::numbered(&reply);
        assert_eq!(choices::pick("2", &offered), Some(Action::Issue(IssueType::LateDelivery)));
        assert_eq!(choices::pick("3", &offered), Some(Action::Human));
    }

    #[test]
    fn a_reply_without_buttons_is_its_text() {
        assert_eq!(numbered_text(&key_renderer(), Lang::Ru, &Reply::new("thanks")), "<thanks>");
    }
}
