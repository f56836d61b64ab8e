//! What the customer wrote in this letter, without the history their mail program quoted below
//! (or between) their words and without their signature: the dialog reads only the new words,
//! so an order number or a "human" in an old quoted letter cannot steer it. The full text stays
//! in the log for agents.

/// Lines that end a letter's own words: signature separators and the markers mail programs put
/// above a forwarded or quoted letter.
const CUT_LINES: &[&str] = &[
    "-- ",
    "--",
    "-----original message-----",
    "-----исходное сообщение-----",
    "-----原始邮件-----",
    "________________________________",
    "sent from my iphone",
    "sent from my android",
    "отправлено с iphone",
    "отправлено из мобильной почты",
    "发自我的iphone",
];

/// The endings of an attribution line ("On Mon, Anna wrote:") above a quoted block.
const ATTRIBUTION_ENDINGS: &[&str] =
    &["wrote:", "пишет:", "написал:", "написала:", "написал(а):", "写道：", "写道:"];

/// The letter's own words. A letter that is all quotation (a forward without a word added)
/// is returned whole, so the dialog still has something to read.
pub fn own_words(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let lowered = line.trim_end().to_lowercase();
        if CUT_LINES.iter().any(|cut| lowered == *cut || (cut.len() > 3 && lowered.trim() == *cut)) {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        let quote_follows = lines[index + 1..]
            .iter()
            .find(|next| !next.trim().is_empty())
            .is_some_and(|next| next.trim_start().starts_with('>'));
        let lowered = lowered.trim();
        if quote_follows && ATTRIBUTION_ENDINGS.iter().any(|ending| lowered.ends_with(ending)) {
            // A long attribution wraps: "On Mon, 7 Dec 2026 at 10:00, Anna Petrova" / "<a@b> wrote:".
            if kept.last().is_some_and(|previous| !previous.trim().is_empty() && previous.len() < 100) {
                kept.pop();
            }
            continue;
        }
        kept.push(line);
    }
    let own = kept.join("\n").trim().to_owned();
    if own.is_empty() { text.trim().to_owned() } else { own }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_attributions_and_signatures_are_trimmed() {
        let letter = "Thanks, but it is still broken.\n\nOn Mon, 7 Dec 2026, Support <support@shop.example> wrote:\n> Please send a photo.\n> Order 12345678\n\n-- \nAnna\n+7 900 000-00-00";
        assert_eq!(own_words(letter), "Thanks, but it is still broken.");

        let russian = "Фото во вложении.\n\n7 дек. 2026 г., в 10:00, Поддержка <support@shop.example> написал(а):\n> Пришлите фото.";
        assert_eq!(own_words(russian), "Фото во вложении.");

        let inline = "> What is the order number?\n12345678\n> And the problem?\nThe box was crushed";
        assert_eq!(own_words(inline), "12345678\nThe box was crushed");

        let outlook = "Please call me.\n\n-----Original Message-----\nFrom: Support\nSubject: Re: order";
        assert_eq!(own_words(outlook), "Please call me.");
    }

    #[test]
    fn a_letter_that_is_all_quotation_is_kept_whole() {
        assert_eq!(own_words("> only a quote\n> here"), "> only a quote\n> here");
        assert_eq!(own_words("just words"), "just words");
    }
}
