//! What the console's pages hand a client that a test needs back: a cookie from a response and
//! the CSRF token of a page's form.

use reqwest::header::SET_COOKIE;

/// The `name=value` part of the response's cookie called `name`.
pub fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(|value| value.split(';').next().unwrap_or_default().to_owned())
}

/// The CSRF token in the first form of a console page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF field") + marker.len();
    html[start..start + 64].to_owned()
}
