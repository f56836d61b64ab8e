//! The password page, where an agent changes their own password (the current one is asked for),
//! and an admin's reset of another agent's. An agent whose password someone else chose lands on
//! the page after signing in and can use nothing else until they have chosen their own (the
//! session extractor sends them here).

use crate::console::agents::{self, AgentError, ChosenBy, FIRST_ADMIN};
use crate::console::auth::{AccountForm, AdminForm, AnySession, CsrfField, SignedForm};
use crate::console::{ConsoleError, ConsoleState, Nav, render};
use crate::web::client::ClientAddress;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

type Result<T, E = ConsoleError> = std::result::Result<T, E>;

#[derive(Template)]
#[template(path = "console/password.html")]
struct PasswordPage {
    nav: Nav,
    must_change: bool,
}

#[derive(Deserialize, Default)]
pub(crate) struct PasswordQuery {
    notice: Option<String>,
}

/// What the last attempt came to, from a fixed list.
fn notice_text(code: &str) -> Option<String> {
    Some(
        match code {
            "wrong_password" => "The current password is wrong.",
            "passwords_differ" => "The two new passwords differ.",
            "same_password" => "Choose a password different from the current one.",
            "weak_password" => "Passwords need at least 10 characters.",
            "too_many" => "Too many attempts. Wait a minute and try again.",
            _ => return None,
        }
        .to_owned(),
    )
}

pub(crate) async fn show(AnySession(session): AnySession, Query(query): Query<PasswordQuery>) -> Response {
    let notice = query.notice.as_deref().and_then(notice_text);
    let page =
        PasswordPage { must_change: session.agent.must_change_password, nav: Nav::of(&session, notice) };
    render(&page)
}

#[derive(Deserialize)]
pub(crate) struct ChangeForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
    repeat: String,
}

impl CsrfField for ChangeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Changes the signed-in agent's own password. Their other sessions end; this one stays.
/// Each try counts against the sign-in limit of the agent's name and the client's address:
/// someone holding a session must not be able to try current passwords faster than
/// passwords at the sign-in form.
pub(crate) async fn change(
    State(state): State<ConsoleState>,
    address: ClientAddress,
    AccountForm(SignedForm { session, form }): AccountForm<ChangeForm>,
) -> Result<Response> {
    let again = |code: &str| Ok(Redirect::to(&format!("/console/password?notice={code}")).into_response());
    if form.new != form.repeat {
        return again("passwords_differ");
    }
    match agents::check_new_password(&form.current, &form.new) {
        Err(AgentError::SamePassword) => return again("same_password"),
        Err(AgentError::WeakPassword) => return again("weak_password"),
        _ => {}
    }
    if !state.login_limiter.allow(&session.agent.name, address) {
        tracing::warn!(agent = %session.agent.name, "console: password change rate limit reached");
        return again("too_many");
    }
    let agent = &session.agent;
    let changed = agents::change_own_password(
        &*state.store,
        &agent.name,
        &form.current,
        &form.new,
        session.token_hash(),
    )
    .await;
    match changed {
        Ok(()) => {}
        Err(AgentError::WrongPassword) => {
            tracing::warn!(agent = %agent.name, "console: a password change with a wrong current password");
            return again("wrong_password");
        }
        Err(AgentError::SamePassword) => return again("same_password"),
        Err(AgentError::WeakPassword) => return again("weak_password"),
        Err(error) => return Err(unexpected(error)),
    }
    tracing::info!(agent = %agent.name, "console: password changed; the agent's other sessions ended");
    if agent.must_change_password
        && agent.name == FIRST_ADMIN
        && let Some(file) = &state.settings.one_time_password_file
    {
        agents::remove_one_time_password(file);
    }
    Ok(Redirect::to("/console/queue?notice=password_changed").into_response())
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    #[serde(default)]
    csrf: String,
    password: String,
}

impl CsrfField for ResetForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// An admin sets another agent's password; that agent must choose their own at the next
/// sign-in, and every session of theirs ends now.
pub(crate) async fn reset(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    AdminForm(SignedForm { session, form }): AdminForm<ResetForm>,
) -> Result<Response> {
    if name == session.agent.name {
        return Err(ConsoleError::BadRequest(
            "admins change their own password on the password page".to_owned(),
        ));
    }
    let notice = match agents::set_password(&*state.store, &name, &form.password, ChosenBy::AnAdmin).await {
        Ok(()) => {
            tracing::info!(admin = %session.agent.name, agent = %name, "console: password reset by an admin");
            format!("password_reset:{name}")
        }
        Err(AgentError::WeakPassword) => "weak_password".to_owned(),
        Err(AgentError::Disabled(_)) => "agent_disabled".to_owned(),
        Err(AgentError::NotFound(_)) => return Err(ConsoleError::NotFound),
        Err(error) => return Err(unexpected(error)),
    };
    Ok(Redirect::to(&format!("/console/agents?notice={notice}")).into_response())
}

fn unexpected(error: AgentError) -> ConsoleError {
    match error {
        AgentError::Store(problem) => problem.into(),
        other => ConsoleError::BadRequest(other.to_string()),
    }
}
