//! What a request says its body is. Routes refuse a body declared as something they do not
//! read with 415, before looking at it, so a form post or a text upload never reaches a JSON
//! parser that would answer with a misleading "malformed".

use axum::http::{HeaderMap, header};

/// The kind of body a request declares in its `Content-Type` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// `application/json` or a `+json` type (`application/cloudevents+json`), any parameters.
    Json,
    /// `multipart/form-data`, any parameters.
    MultipartForm,
    /// No `Content-Type` header at all.
    Missing,
    /// Anything else, including a header that is not readable text.
    Other,
}

/// Reads the `Content-Type` header. Media types are case-insensitive; parameters such as
/// `charset` or `boundary` do not change the kind.
pub fn declared(headers: &HeaderMap) -> Declared {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Declared::Missing };
    let Ok(value) = value.to_str() else { return Declared::Other };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else { return Declared::Other };
    match (kind, subtype) {
        ("application", "json") => Declared::Json,
        ("application", subtype) if subtype.ends_with("+json") && subtype.len() > "+json".len() => {
            Declared::Json
        }
        ("multipart", "form-data") => Declared::MultipartForm,
        _ => Declared::Other,
    }
}

/// Platform webhooks (Telegram, VK) always send `application/json`. A body declared as
/// something else is refused; one without the header is judged by its content, so a proxy
/// that drops the header does not silence the bot (the secret and the JSON checks still
/// apply).
pub fn webhook_accepts(headers: &HeaderMap) -> bool {
    matches!(declared(headers), Declared::Json | Declared::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(value: Option<&[u8]>, expected: Declared) {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_bytes(value).unwrap());
        }
        assert_eq!(declared(&headers), expected, "{:?}", value.map(String::from_utf8_lossy));
    }

    #[test]
    fn media_types_are_read_without_case_or_parameters() {
        check(Some(b"application/json"), Declared::Json);
        check(Some(b"Application/JSON; charset=utf-8"), Declared::Json);
        check(Some(b"application/cloudevents+json"), Declared::Json);
        check(Some(b"multipart/form-data; boundary=x"), Declared::MultipartForm);
        check(None, Declared::Missing);
        check(Some(b"text/plain"), Declared::Other);
        check(Some(b"text/json"), Declared::Other);
        check(Some(b"application/+json"), Declared::Other);
        check(Some(b"application/x-www-form-urlencoded"), Declared::Other);
        check(Some(b"json"), Declared::Other);
        check(Some(b""), Declared::Other);
        check(Some(b"application/json\xff"), Declared::Other);
    }
}
