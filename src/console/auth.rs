//! Sign-in, sign-out, the session extractor, CSRF checks and the login rate limit.

use crate::console::agents;
use crate::console::sessions::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Session, random_token};
use crate::console::texts::{self, Tr};
use crate::console::{ConsoleError, ConsoleState, Nav, render};
use crate::store::now_millis;
use crate::web::client::ClientAddress;
use crate::web::cookie::request_cookie;
use crate::web::limits::KeyedLimit;
use crate::web::token::tokens_match;
use askama::Template;
use axum::extract::{Form, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::net::IpAddr;

/// Login attempts allowed per minute, per agent name and per client address (IPv6 per /64).
/// Both limits apply: guessing one name's password is slow, and so is trying many names from
/// one place. Both maps are bounded (`web::limits`).
pub struct LoginLimiter {
    by_name: KeyedLimit<String>,
    by_address: KeyedLimit<IpAddr>,
}

/// Names and addresses tracked at once; more fail closed until some recover.
const MAX_TRACKED: usize = 10_000;

impl LoginLimiter {
    pub fn new(per_name_per_minute: u32, per_address_per_minute: u32) -> LoginLimiter {
        LoginLimiter {
            by_name: KeyedLimit::per_minute(per_name_per_minute, MAX_TRACKED),
            by_address: KeyedLimit::per_minute(per_address_per_minute, MAX_TRACKED),
        }
    }

    /// Spends one attempt; `false` when either limit is used up. The address goes first: an
    /// attempt its address may not make spends nothing of the name's allowance (so a flood
    /// from one place neither grows the name map nor locks the agent it names out).
    pub fn allow(&self, name: &str, address: ClientAddress) -> bool {
        if let Some(key) = address.limit_key()
            && !self.by_address.allow(&key)
        {
            return false;
        }
        self.by_name.allow(&name.to_lowercase())
    }

    /// Names and addresses held now.
    pub fn tracked(&self) -> usize {
        self.by_name.len() + self.by_address.len()
    }
}

/// A signed-in agent, even one who must still choose their own password: only for the
/// password page (and, through [`AccountForm`], its form and signing out). Every other page
/// takes a [`Session`].
pub(crate) struct AnySession(pub(crate) Session);

impl FromRequestParts<ConsoleState> for AnySession {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<AnySession, ConsoleError> {
        let Some(token) = request_cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(ConsoleError::NotSignedIn);
        };
        let mut session = sessions::session(&*state.store, token, now_millis()).await?;
        if let Some(session) = &mut session {
            session.banners = state.channels.problems();
            session.tr = Tr::new(texts::agent_language(session.agent.console_lang, &parts.headers));
            texts::set_page_language(session.tr.lang);
        }
        session.map(AnySession).ok_or(ConsoleError::NotSignedIn)
    }
}

/// A signed-in agent who may use the console: one whose password someone else chose (the
/// first-start `admin`, or after an admin's reset) is sent to the password page instead.
impl FromRequestParts<ConsoleState> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Session, ConsoleError> {
        let AnySession(session) = AnySession::from_request_parts(parts, state).await?;
        if session.agent.must_change_password {
            return Err(ConsoleError::MustChangePassword);
        }
        Ok(session)
    }
}

/// A console form: every one carries the session's CSRF token in a `csrf` field.
pub(crate) trait CsrfField {
    fn csrf(&self) -> &str;
}

/// A form posted by a signed-in agent, its CSRF token already checked against the session.
/// Handlers take this instead of a `Session` and a `Form`, so no form handler can forget the
/// check. Checks run in a fixed order: signed in, form readable, token, then the password's
/// state (an agent who must choose their own is sent to the password page; see
/// [`AccountForm`]) and (for [`AdminForm`]) the role.
pub(crate) struct SignedForm<T> {
    pub session: Session,
    pub form: T,
}

impl<T: DeserializeOwned + CsrfField + Send> FromRequest<ConsoleState> for SignedForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &ConsoleState) -> Result<Self, Response> {
        let signed = read_signed(request, state).await?;
        if signed.session.agent.must_change_password {
            return Err(ConsoleError::MustChangePassword.into_response());
        }
        Ok(signed)
    }
}

/// A [`SignedForm`] about the agent's own account (the password form, signing out), which an
/// agent who must still choose their own password may post too.
pub(crate) struct AccountForm<T>(pub SignedForm<T>);

impl<T: DeserializeOwned + CsrfField + Send> FromRequest<ConsoleState> for AccountForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &ConsoleState) -> Result<Self, Response> {
        read_signed(request, state).await.map(AccountForm)
    }
}

/// Signed in (whatever the password's state), form readable, token right.
async fn read_signed<T: DeserializeOwned + CsrfField + Send>(
    request: Request,
    state: &ConsoleState,
) -> Result<SignedForm<T>, Response> {
    let (mut parts, body) = request.into_parts();
    let AnySession(session) =
        AnySession::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
    // The body's own rejections (too large, wrong content type) keep their status codes.
    let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
        .await
        .map_err(IntoResponse::into_response)?;
    if !session.csrf_matches(form.csrf()) {
        return Err(ConsoleError::BadCsrf.into_response());
    }
    Ok(SignedForm { session, form })
}

/// A [`SignedForm`] that only an admin may post.
pub(crate) struct AdminForm<T>(pub SignedForm<T>);

impl<T: DeserializeOwned + CsrfField + Send> FromRequest<ConsoleState> for AdminForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &ConsoleState) -> Result<Self, Response> {
        let signed = SignedForm::from_request(request, state).await?;
        if !signed.session.agent.is_admin() {
            return Err(ConsoleError::AdminOnly.into_response());
        }
        Ok(AdminForm(signed))
    }
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

fn login_page(
    state: &ConsoleState,
    tr: Tr,
    status: StatusCode,
    error: Option<String>,
    name: String,
) -> Response {
    let csrf = random_token();
    let page = LoginPage { nav: Nav::anonymous(tr), csrf: csrf.clone(), error, name };
    let mut response = (status, render(&page)).into_response();
    response.headers_mut().append(header::SET_COOKIE, login_cookie(state, &csrf));
    response
}

pub(crate) async fn show_login(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    login_page(&state, Tr::new(texts::browser_language(&headers)), StatusCode::OK, None, String::new())
}

/// Longer passwords are not hashed: no agent has one (the console's forms cap them too).
const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
}

pub(crate) async fn login(
    State(state): State<ConsoleState>,
    address: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    let expected = request_cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !tokens_match(expected, &form.csrf) {
        return Err(ConsoleError::BadCsrf);
    }
    let name = form.name.trim().to_owned();
    let tr = Tr::new(texts::browser_language(&headers));
    // A name no agent could have is refused before anything is counted or hashed: nothing a
    // stranger makes up becomes a key in the limiter or costs a password check.
    if !agents::valid_name(&name) || form.password.len() > MAX_PASSWORD_BYTES {
        let message = tr.t("console-login-wrong");
        return Ok(login_page(&state, tr, StatusCode::UNAUTHORIZED, Some(message), String::new()));
    }
    if !state.login_limiter.allow(&name, address) {
        tracing::warn!("console: login rate limit reached");
        let message = tr.t("console-login-too-many");
        return Ok(login_page(&state, tr, StatusCode::TOO_MANY_REQUESTS, Some(message), name));
    }
    let Some(agent) = agents::authenticate(&*state.store, &name, &form.password).await? else {
        let message = tr.t("console-login-wrong");
        return Ok(login_page(&state, tr, StatusCode::UNAUTHORIZED, Some(message), name));
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

/// A form with nothing but its CSRF token: the buttons that act on what the path names.
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfField for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(crate) async fn logout(
    State(state): State<ConsoleState>,
    AccountForm(SignedForm { session, .. }): AccountForm<CsrfForm>,
) -> Result<Response, ConsoleError> {
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

    fn at(address: &str) -> ClientAddress {
        ClientAddress(Some(address.parse().unwrap()))
    }

    #[test]
    fn limits_per_name_and_per_address() {
        let limiter = LoginLimiter::new(3, 5);
        let (here, there) = (at("127.0.0.1"), at("127.0.0.2"));
        assert!((0..3).all(|_| limiter.allow("Anna", there)));
        assert!(!limiter.allow("anna", ClientAddress(None)), "names are limited whatever the case");
        assert!(limiter.allow("bob", here));
        assert!(limiter.allow("carol", here));
        assert!(limiter.allow("dave", here));
        assert!(limiter.allow("erin", here));
        assert!(limiter.allow("frank", here));
        assert!(!limiter.allow("grace", here), "one address cannot try name after name");
    }

    #[test]
    fn a_refused_address_spends_nothing_of_the_name() {
        let limiter = LoginLimiter::new(2, 1);
        assert!(limiter.allow("anna", at("192.0.2.1")));
        let tracked = limiter.tracked();
        // The address is used up: flooding from it with new names adds no keys at all.
        assert!((0..1000).all(|n| !limiter.allow(&format!("name{n}"), at("192.0.2.1"))));
        assert_eq!(limiter.tracked(), tracked);
        assert!(limiter.allow("anna", at("192.0.2.2")), "anna's own allowance is untouched");
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let limiter = LoginLimiter::new(100, 2);
        assert!(limiter.allow("a", at("2001:db8:5:6::1")));
        assert!(limiter.allow("b", at("2001:db8:5:6::2")));
        assert!(!limiter.allow("c", at("2001:db8:5:6:ffff::3")), "another address of the same /64");
    }
}
