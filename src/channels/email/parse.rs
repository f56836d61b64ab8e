//! Reading one raw message (RFC 5322 with MIME) into what the channel needs, with
//! `mail-parser`: the ids that thread it, the sender, the words (text/plain preferred, HTML
//! turned into text, every charset `encoding_rs` knows decoded), the images and the names of
//! the other attachments, and whether a machine sent it. Pure: no I/O, so it is unit-tested on
//! raw bytes and fuzzable.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

/// The most images one letter contributes; the rest are listed like other attachments.
pub const MAX_IMAGES: usize = 10;
/// The most attachments named for the agent.
pub const MAX_LISTED: usize = 20;
/// The most characters of a letter's text kept (a letter that long is a log dump, not prose).
pub const MAX_TEXT_CHARS: usize = 100_000;
/// The most parent ids kept from `In-Reply-To` and `References`.
pub const MAX_PARENTS: usize = 50;

/// Why a letter is not for the dialog: it came from a machine, and answering it could start a
/// loop of automatic mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    /// `Auto-Submitted` other than `no` (RFC 3834), or a vacation responder's own marks.
    AutoSubmitted,
    /// A delivery status notification: a bounce.
    Bounce,
    /// `Precedence: bulk`, `junk` or `list`: mass mail.
    Bulk,
}

/// What a delivery status notification (RFC 3464) says about one of our letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The Message-ID of the letter that was not delivered (from the report's copy of it).
    pub message_id: String,
    /// `Final-Recipient`, lower-cased.
    pub recipient: String,
    /// `Action: failed` with a `5.x.x` status: the address does not take mail.
    pub permanent: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub name: Option<String>,
    pub bytes: Vec<u8>,
}

/// One letter, read.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLetter {
    /// `Message-ID` without its angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` first, then `References` from the newest: the letters this one answers.
    pub parents: Vec<String>,
    /// The sender's address, lower-cased.
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    /// `To`, `Cc` and `Delivered-To`, lower-cased: a `reply+<token>@` address is found here.
    pub recipients: Vec<String>,
    pub subject: String,
    /// The first tag of `Content-Language`, if any.
    pub content_language: Option<String>,
    pub automatic: Option<Automatic>,
    /// For a delivery report about a letter: which one, to whom, and whether for good.
    pub bounce: Option<Bounce>,
    /// The whole text of the letter.
    pub text: String,
    pub images: Vec<Image>,
    /// `name (type, size)` of every other attachment.
    pub other_attachments: Vec<String>,
}

/// Reads raw bytes; `None` when they are not a message at all.
pub fn parse(raw: &[u8]) -> Option<ParsedLetter> {
    let message = MessageParser::default().parse(raw)?;
    if message.headers().is_empty() {
        return None;
    }
    let from = message.from().and_then(Address::first);
    let from_address =
        from.and_then(|addr| addr.address.as_deref()).map(|address| address.trim().to_lowercase());
    let from_name = from.and_then(|addr| addr.name.as_deref()).map(str::trim).filter(|name| !name.is_empty());

    let mut parents = ids(message.in_reply_to());
    let mut references = ids(message.references());
    references.reverse();
    parents.extend(references);
    let mut seen = std::collections::HashSet::new();
    parents.retain(|id| seen.insert(id.clone()));
    parents.truncate(MAX_PARENTS);

    let mut recipients: Vec<String> = Vec::new();
    for address in message.to().into_iter().chain(message.cc()) {
        recipients.extend(address.iter().filter_map(|addr| addr.address.as_deref()).map(str::to_lowercase));
    }
    for (name, value) in message.headers_raw() {
        if name.eq_ignore_ascii_case("Delivered-To") || name.eq_ignore_ascii_case("X-Original-To") {
            recipients.push(value.trim().trim_matches(['<', '>']).to_lowercase());
        }
    }
    recipients.truncate(MAX_LISTED);

    let content_language = match message.root_part().content_language() {
        HeaderValue::Text(tag) => Some(tag.to_string()),
        HeaderValue::TextList(tags) => tags.first().map(ToString::to_string),
        _ => None,
    }
    .map(|tag| tag.trim().to_owned())
    .filter(|tag| !tag.is_empty() && tag.len() <= 35);

    let mut text: String = message.body_text(0).map(|text| text.into_owned()).unwrap_or_default();
    if let Some((cut, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(cut);
    }

    let mut images = Vec::new();
    let mut other_attachments = Vec::new();
    for part in message.attachments() {
        let bytes: &[u8] = match &part.body {
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => bytes,
            PartType::Text(text) | PartType::Html(text) => text.as_bytes(),
            PartType::Message(inner) => inner.raw_message(),
            PartType::Multipart(_) => continue,
        };
        let content_type = part
            .content_type()
            .map(|kind| match kind.subtype() {
                Some(subtype) => format!("{}/{}", kind.ctype(), subtype),
                None => kind.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned())
            .to_lowercase();
        let name = part.attachment_name().map(|name| name.chars().take(200).collect::<String>());
        if content_type.starts_with("image/") && images.len() < MAX_IMAGES {
            images.push(Image { name, bytes: bytes.to_vec() });
        } else if other_attachments.len() < MAX_LISTED {
            let name = name.unwrap_or_else(|| "unnamed".to_owned());
            other_attachments.push(format!("{name} ({content_type}, {})", size(bytes.len())));
        }
    }

    Some(ParsedLetter {
        message_id: message.message_id().map(|id| id.trim().trim_matches(['<', '>']).to_owned()),
        parents,
        from_address,
        from_name: from_name.map(str::to_owned),
        recipients,
        subject: message.subject().map(str::trim).unwrap_or_default().chars().take(500).collect(),
        content_language,
        automatic: automatic(&message),
        bounce: bounce(&message),
        text,
        images,
        other_attachments,
    })
}

/// The message ids a header lists, without angle brackets.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match value {
        HeaderValue::Text(id) => vec![id.as_ref()],
        HeaderValue::TextList(ids) => ids.iter().map(AsRef::as_ref).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|id| id.trim().trim_matches(['<', '>']).to_owned())
        .filter(|id| !id.is_empty() && id.len() <= 250)
        .collect()
}

/// RFC 3834's `Auto-Submitted`, the marks vacation responders use without it, delivery
/// reports (bounces, by type or by sender) and mass mail.
fn automatic(message: &mail_parser::Message<'_>) -> Option<Automatic> {
    let header = |name: &str| {
        message
            .headers_raw()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_ascii_lowercase())
    };
    if let Some(value) = header("Auto-Submitted")
        && value.split(';').next().is_some_and(|kind| kind.trim() != "no")
    {
        return Some(Automatic::AutoSubmitted);
    }
    if header("X-Autoreply").is_some() || header("X-Autorespond").is_some() {
        return Some(Automatic::AutoSubmitted);
    }
    let report = message.root_part().content_type().is_some_and(|kind| {
        kind.ctype().eq_ignore_ascii_case("multipart")
            && kind.subtype().is_some_and(|subtype| subtype.eq_ignore_ascii_case("report"))
    });
    let from_daemon =
        message.from().and_then(Address::first).and_then(|addr| addr.address.as_deref()).is_some_and(
            |address| {
                let local = address.split('@').next().unwrap_or("").to_ascii_lowercase();
                local == "mailer-daemon" || local == "postmaster"
            },
        );
    let null_sender = header("Return-Path").is_some_and(|path| path == "<>");
    if report || from_daemon || null_sender {
        return Some(Automatic::Bounce);
    }
    if header("Precedence").is_some_and(|value| matches!(value.as_str(), "bulk" | "junk" | "list")) {
        return Some(Automatic::Bulk);
    }
    None
}

/// Reads a delivery report: its `message/delivery-status` part and the copy of the original
/// letter's headers (`text/rfc822-headers` or `message/rfc822`).
fn bounce(message: &mail_parser::Message<'_>) -> Option<Bounce> {
    let mut status: Option<&str> = None;
    let mut original: Option<String> = None;
    for part in &message.parts {
        let Some(kind) = part.content_type() else { continue };
        let subtype = kind.subtype().unwrap_or("").to_ascii_lowercase();
        match (kind.ctype().to_ascii_lowercase().as_str(), subtype.as_str()) {
            ("message", "delivery-status") => status = part.text_contents(),
            ("message", "rfc822" | "global") => {
                original = part.message().and_then(|inner| inner.message_id()).map(str::to_owned);
            }
            ("text", "rfc822-headers") => {
                // The last header line may end where the part does, without its line break.
                let mut headers = part.contents().to_vec();
                headers.extend_from_slice(b"\r\n\r\n");
                let headers = MessageParser::default().parse(&headers);
                original = headers.as_ref().and_then(|inner| inner.message_id()).map(str::to_owned);
            }
            _ => {}
        }
    }
    let status = status?;
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    // `Final-Recipient: rfc822; anna@example.org`
    let recipient =
        field("Final-Recipient")?.rsplit(';').next()?.trim().trim_matches(['<', '>']).to_lowercase();
    let failed = field("Action").is_some_and(|action| action.eq_ignore_ascii_case("failed"));
    let permanent = failed && field("Status").is_some_and(|code| code.starts_with('5'));
    let message_id = original?.trim().trim_matches(['<', '>']).to_owned();
    Some(Bounce { message_id, recipient, permanent })
}

fn size(bytes: usize) -> String {
    if bytes < 1024 { format!("{bytes} B") } else { format!("{} KB", bytes.div_ceil(1024)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_letter_reads_with_its_ids_sender_and_language() {
        let raw = b"From: \"Anna\" <Anna@Example.org>\r\nTo: support@shop.example\r\nSubject: Order 12345678\r\n\
Message-ID: <abc@example.org>\r\nIn-Reply-To: <p2@x>\r\nReferences: <p1@x> <p2@x>\r\nContent-Language: ru-RU\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n";
        let letter = parse(raw).unwrap();
        assert_eq!(letter.message_id.as_deref(), Some("abc@example.org"));
        assert_eq!(letter.parents, ["p2@x", "p1@x"]);
        assert_eq!(letter.from_address.as_deref(), Some("anna@example.org"));
        assert_eq!(letter.from_name.as_deref(), Some("Anna"));
        assert_eq!(letter.recipients, ["support@shop.example"]);
        assert_eq!(letter.subject, "Order 12345678");
        assert_eq!(letter.content_language.as_deref(), Some("ru-RU"));
        assert_eq!(letter.text.trim(), "Привет");
        assert_eq!(letter.automatic, None);
    }

    #[test]
    fn charsets_are_decoded() {
        // "Привет" in KOI8-R and Windows-1251, "你好" in GB18030, "您好" in Big5.
        let cases: [(&str, &[u8], &str); 4] = [
            ("koi8-r", &[0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4], "Привет"),
            ("windows-1251", &[0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2], "Привет"),
            ("gb18030", &[0xc4, 0xe3, 0xba, 0xc3], "你好"),
            ("big5", &[0xb1, 0x7a, 0xa6, 0x6e], "您好"),
        ];
        for (charset, body, expected) in cases {
            let mut raw = format!(
                "From: a@example.org\r\nSubject: =?{charset}?B?{}?=\r\nContent-Type: text/plain; charset={charset}\r\n\r\n",
                base64_of(body)
            )
            .into_bytes();
            raw.extend_from_slice(body);
            let letter = parse(&raw).unwrap();
            assert_eq!(letter.text.trim(), expected, "{charset}");
            assert_eq!(letter.subject, expected, "{charset} subject");
        }
    }

    #[test]
    fn html_only_letters_become_text_and_machines_are_recognised() {
        let raw = b"From: a@example.org\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>there</b></p><script>x</script>";
        let letter = parse(raw).unwrap();
        assert!(letter.text.contains("Hello there"), "{:?}", letter.text);
        assert!(!letter.text.contains('<'), "{:?}", letter.text);

        let auto = b"From: a@example.org\r\nAuto-Submitted: auto-replied\r\n\r\nI am away";
        assert_eq!(parse(auto).unwrap().automatic, Some(Automatic::AutoSubmitted));
        let not_auto = b"From: a@example.org\r\nAuto-Submitted: no\r\n\r\nhi";
        assert_eq!(parse(not_auto).unwrap().automatic, None);
        let bounce = b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered\r\n\r\nfailed";
        assert_eq!(parse(bounce).unwrap().automatic, Some(Automatic::Bounce));
        let bulk = b"From: news@example.org\r\nPrecedence: bulk\r\n\r\nsale";
        assert_eq!(parse(bulk).unwrap().automatic, Some(Automatic::Bulk));
    }

    #[test]
    fn a_delivery_report_names_the_letter_and_the_recipient() {
        let raw = b"From: MAILER-DAEMON@mx.example.org\r\nTo: support@shop.example\r\nSubject: Undelivered\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
Final-Recipient: rfc822; Anna@Example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\
--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@shop.example\r\nMessage-ID: <sb.x.y.1@shop.example>\r\n--b--\r\n";
        let letter = parse(raw).unwrap();
        assert_eq!(letter.automatic, Some(Automatic::Bounce));
        assert_eq!(
            letter.bounce,
            Some(Bounce {
                message_id: "sb.x.y.1@shop.example".into(),
                recipient: "anna@example.org".into(),
                permanent: true
            })
        );
    }

    #[test]
    fn damaged_letters_never_panic_and_stay_bounded() {
        use rand::{Rng, SeedableRng};
        let sample: &[u8] = b"From: \"A\" <a@example.org>\r\nTo: support+0123456789abcdef0123.x@shop.example\r\n\
Subject: =?koi8-r?B?8NXT1MHRINDP09nMy8E=?=\r\nMessage-ID: <m@x>\r\nIn-Reply-To: <p@x>\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=gb18030\r\n\r\n\
<p>\xc4\xe3\xba\xc3</p>\r\n--b\r\nContent-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgo=\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; x\r\n--b--\r\n";
        let mut rng = rand::rngs::StdRng::seed_from_u64(22);
        for _ in 0..3000 {
            let mut bytes = sample.to_vec();
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..bytes.len());
                match rng.random_range(0..3) {
                    0 => bytes[at] = rng.random(),
                    1 => bytes.truncate(at.max(1)),
                    _ => bytes.insert(at, rng.random()),
                }
            }
            if let Some(letter) = parse(&bytes) {
                assert!(letter.parents.len() <= MAX_PARENTS && letter.images.len() <= MAX_IMAGES);
                assert!(
                    letter.other_attachments.len() <= MAX_LISTED && letter.recipients.len() <= MAX_LISTED
                );
                assert!(letter.text.chars().count() <= MAX_TEXT_CHARS);
                let _ = super::super::trim::own_words(&letter.text);
            }
        }
    }

    fn base64_of(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
