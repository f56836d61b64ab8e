//! Sign-in, sign-out, the session extractor, CSRF checks and the login rate limit.

use crate::console::agents;
use crate::console::sessions::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Session, random_token};
use crate::console::{ConsoleError, ConsoleState, Nav, render};
use crate::store::now_millis;
use crate::web::cookie::request_cookie;
use crate::web::token::tokens_match;
use askama::Template;
use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

/// Login attempts allowed per minute, per agent name and per client address. Both limits
/// apply: guessing one name's password is slow, and so is trying many names from one place.
pub struct LoginLimiter {
    by_name: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimiter {
    pub fn new(per_name_per_minute: u32, per_address_per_minute: u32) -> LoginLimiter {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least one"));
        LoginLimiter {
            by_name: RateLimiter::keyed(quota(per_name_per_minute)),
            by_address: RateLimiter::keyed(quota(per_address_per_minute)),
        }
    }

    /// Spends one attempt; `false` when either limit is used up.
    pub fn allow(&self, name: &str, address: Option<IpAddr>) -> bool {
        let by_address = address.is_none_or(|address| self.by_address.check_key(&address).is_ok());
        let by_name = self.by_name.check_key(&name.to_lowercase()).is_ok();
        by_address && by_name
    }
}

/// The client's address when the server was started with connect info (the app's `serve`
/// does); `None` in route tests and behind setups that do not provide it.
pub(crate) struct ClientAddress(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ClientAddress, Self::Rejection> {
        Ok(ClientAddress(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())))
    }
}

impl FromRequestParts<ConsoleState> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Session, ConsoleError> {
        let Some(token) = request_cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(ConsoleError::NotSignedIn);
        };
        let session = sessions::session(&*state.store, token, now_millis()).await?;
        let mut session = session.ok_or(ConsoleError::NotSignedIn)?;
        session.banners = state.channels.problems();
        Ok(session)
    }
}

/// Every console form carries the session's CSRF token in a `csrf` field.
pub(crate) fn check_csrf(session: &Session, submitted: &str) -> Result<(), ConsoleError> {
    if session.csrf_matches(submitted) { Ok(()) } else { Err(ConsoleError::BadCsrf) }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    nav: Nav,
    csrf: String,
    error: Option<String>,
    name: String,
}

fn login_cookie(state: &ConsoleState, token: &str) -> HeaderValue {
    let secure = if state.settings.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    ))
    .expect("ASCII cookie")
}

fn login_page(state: &ConsoleState, status: StatusCode, error: Option<String>, name: String) -> Response {
    let csrf = random_token();
    let page = LoginPage { nav: Nav::anonymous(), csrf: csrf.clone(), error, name };
    let mut response = (status, render(&page)).into_response();
    response.headers_mut().append(header::SET_COOKIE, login_cookie(state, &csrf));
    response
}

pub(crate) async fn show_login(State(state): State<ConsoleState>) -> Response {
    login_page(&state, StatusCode::OK, None, String::new())
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
}

pub(crate) async fn login(
    State(state): State<ConsoleState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    let expected = request_cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !tokens_match(expected, &form.csrf) {
        return Err(ConsoleError::BadCsrf);
    }
    let name = form.name.trim().to_owned();
    if !state.login_limiter.allow(&name, address) {
        tracing::warn!("console: login rate limit reached");
        let message = "Too many sign-in attempts. Wait a minute and try again.".to_owned();
        return Ok(login_page(&state, StatusCode::TOO_MANY_REQUESTS, Some(message), name));
    }
    let Some(agent) = agents::authenticate(&*state.store, &name, &form.password).await? else {
        let message = "Wrong name or password.".to_owned();
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, Some(message), name));
    };
    let ttl = i64::try_from(state.settings.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let token = sessions::create_session(&*state.store, agent.id, now_millis(), ttl).await?;
    tracing::info!(agent = %agent.name, "console: signed in");
    let secure = if state.settings.secure_cookies { "; Secure" } else { "" };
    let session_cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        state.settings.session_ttl.as_secs()
    );
    let mut response = Redirect::to("/console/queue").into_response();
    let cookies = response.headers_mut();
    cookies.append(header::SET_COOKIE, HeaderValue::from_str(&session_cookie).expect("ASCII cookie"));
    cookies.append(
        header::SET_COOKIE,
        HeaderValue::from_static("sb_login=; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

pub(crate) async fn logout(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    check_csrf(&session, &form.csrf)?;
    sessions::end_session(&*state.store, &session).await?;
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("sb_session=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_name_and_per_address() {
        let limiter = LoginLimiter::new(3, 5);
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        let there: IpAddr = "127.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow("Anna", Some(there))));
        assert!(!limiter.allow("anna", None), "names are limited whatever the case");
        assert!(limiter.allow("bob", Some(here)));
        assert!(limiter.allow("carol", Some(here)));
        assert!(limiter.allow("dave", Some(here)));
        assert!(limiter.allow("erin", Some(here)));
        assert!(limiter.allow("frank", Some(here)));
        assert!(!limiter.allow("grace", Some(here)), "one address cannot try name after name");
    }
}
