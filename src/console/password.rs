//! The password page, where an agent changes their own password (the current one is asked for),
//! and an admin's reset of another agent's. An agent whose password someone else chose lands on
//! the page after signing in and can use nothing else until they have chosen their own (the
//! session extractor sends them here). The same page is the agent's profile: the console's
//! language and the languages they speak.

use crate::console::agents::{self, AgentError, ChosenBy, FIRST_ADMIN};
use crate::console::auth::{AccountForm, AdminForm, AnySession, CsrfField, SignedForm};
use crate::console::texts::Tr;
use crate::console::{ConsoleError, ConsoleState, Nav, render};
use crate::core::message::Lang;
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
    /// The console language follows the browser (none chosen).
    follows_browser: bool,
    choices: Vec<LanguageChoice>,
}

/// One language on the profile form.
struct LanguageChoice {
    code: &'static str,
    /// In its own script.
    name: String,
    /// The console's language.
    chosen: bool,
    /// The agent speaks it.
    speaks: bool,
}

#[derive(Deserialize, Default)]
pub(crate) struct PasswordQuery {
    notice: Option<String>,
}

/// What the last attempt came to, from a fixed list.
fn notice_text(tr: Tr, code: &str) -> Option<String> {
    Some(match code {
        "wrong_password" => tr.t("console-password-wrong"),
        "passwords_differ" => tr.t("console-password-differ"),
        "same_password" => tr.t("console-password-same"),
        "weak_password" => tr.t("console-notice-weak-password"),
        "too_many" => tr.t("console-password-too-many"),
        "profile_saved" => tr.t("console-profile-saved"),
        _ => return None,
    })
}

pub(crate) async fn show(AnySession(session): AnySession, Query(query): Query<PasswordQuery>) -> Response {
    let notice = query.notice.as_deref().and_then(|code| notice_text(session.tr, code));
    let page = PasswordPage {
        must_change: session.agent.must_change_password,
        follows_browser: session.agent.console_lang.is_none(),
        choices: Lang::ALL
            .iter()
            .map(|lang| LanguageChoice {
                code: lang.code(),
                name: session.tr.language_name(lang),
                chosen: session.agent.console_lang == Some(*lang),
                speaks: session.agent.languages.contains(lang),
            })
            .collect(),
        nav: Nav::of(&session, notice),
    };
    render(&page)
}

/// The profile form: the console's language (empty: the browser's) and one checkbox per
/// language the agent speaks.
#[derive(Deserialize)]
pub(crate) struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    console_lang: String,
    #[serde(default)]
    speaks_en: Option<String>,
    #[serde(default)]
    speaks_ru: Option<String>,
    #[serde(default)]
    speaks_zh: Option<String>,
}

impl CsrfField for ProfileForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Saves the signed-in agent's console language and the languages they speak.
pub(crate) async fn save_profile(
    State(state): State<ConsoleState>,
    SignedForm { session, form }: SignedForm<ProfileForm>,
) -> Result<Response> {
    let chosen = match form.console_lang.as_str() {
        "" => None,
        code => Some(
            Lang::from_code(code).ok_or_else(|| ConsoleError::BadRequest("unknown language".to_owned()))?,
        ),
    };
    let speaks: Vec<Lang> =
        [(Lang::En, &form.speaks_en), (Lang::Ru, &form.speaks_ru), (Lang::Zh, &form.speaks_zh)]
            .into_iter()
            .filter(|(_, ticked)| ticked.is_some())
            .map(|(lang, _)| lang)
            .collect();
    if !state.store.set_agent_languages(&session.agent.name, chosen, &speaks).await? {
        return Err(ConsoleError::NotFound);
    }
    Ok(Redirect::to("/console/password?notice=profile_saved").into_response())
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
