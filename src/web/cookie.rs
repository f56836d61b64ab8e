//! Reading cookies from a request: the console's session cookies and the web chat's visitor
//! cookie go through the same two functions.

use axum::http::{HeaderMap, header};

/// The value of one cookie in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// The value of the cookie `name` in any of a request's `Cookie` headers.
pub fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| cookie_value(value, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_others() {
        assert_eq!(cookie_value("a=1; sb_visitor=x.y; b=2", "sb_visitor"), Some("x.y"));
        assert_eq!(cookie_value("a=1", "sb_visitor"), None);
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1".parse().unwrap());
        headers.append(header::COOKIE, "sb_session=t0k; b=2".parse().unwrap());
        assert_eq!(request_cookie(&headers, "sb_session"), Some("t0k"));
        assert_eq!(request_cookie(&headers, "sb_visitor"), None);
    }
}
