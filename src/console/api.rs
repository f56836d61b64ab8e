//! The agent API: JSON over HTTP with `Authorization: Bearer sbt_...` tokens that admins
//! create in the console. A token acts as the agent it was made for.

use crate::console::ConsoleState;
use crate::console::agents::Agent;
use crate::console::sessions;
use crate::core::handoff::TicketStatus;
use crate::core::message::Lang;
use crate::engine::{ClaimResult, EngineError};
use crate::store::{AgentOriginal, Author, Page, now_millis};
use crate::translate::{MessageToTranslate, Outcome};
use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// An API failure as JSON: `{"error": code}`, plus `agent` when someone else holds a ticket.
pub(crate) struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    fn new(status: StatusCode, code: &str) -> ApiError {
        ApiError { status, body: json!({ "error": code }) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn internal(problem: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %problem, "agent API request failed");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal")
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::TicketNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found"),
            EngineError::NotAllowed { status, .. } => ApiError {
                status: StatusCode::CONFLICT,
                body: json!({ "error": "not_allowed", "status": status.code() }),
            },
            // The console's rule too: only the ticket's holder or an admin acts on it.
            EngineError::NotAssignedTo { .. } => ApiError::new(StatusCode::FORBIDDEN, "not_assigned_to_you"),
            EngineError::EmptyMessage => ApiError::new(StatusCode::BAD_REQUEST, "empty_message"),
            other => internal(other),
        }
    }
}

/// The agent a valid bearer token acts for.
pub(crate) struct ApiAgent(Agent);

impl FromRequestParts<ConsoleState> for ApiAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<ApiAgent, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized"))?;
        match sessions::agent_for_token(&*state.store, token, now_millis()).await {
            Ok(Some(agent)) => Ok(ApiAgent(agent)),
            Ok(None) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized")),
            Err(problem) => Err(internal(problem)),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/tickets?status=queued|assigned|resolved|all&limit=N&offset=M` (default `queued`,
/// 50 tickets, at most 200 per request). `next_offset` is there when more may follow.
pub(crate) async fn list(
    State(state): State<ConsoleState>,
    _agent: ApiAgent,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let status = match query.status.as_deref().unwrap_or("queued") {
        "all" => None,
        code => Some(
            TicketStatus::from_code(code)
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "bad_status"))?,
        ),
    };
    let limit = query.limit.unwrap_or(Page::DEFAULT_SIZE);
    if !(1..=Page::MAX_SIZE).contains(&limit) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_limit"));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_offset"));
    }
    let page = Page { offset, limit };
    let tickets = state.store.list_tickets(status, page).await.map_err(internal)?;
    let next_offset = (tickets.len() as i64 == limit).then(|| page.next().offset);
    Ok(Json(json!({ "tickets": tickets, "next_offset": next_offset })).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ReadQuery {
    /// `en`, `ru` or `zh`: customers' messages also come translated into this language.
    translate_to: Option<String>,
}

/// `GET /api/tickets/{id}`: the ticket, its transcript and internal notes. With
/// `?translate_to=LANG` each customer message in another language carries `translation`: the
/// text in LANG (stored, so a message is translated once), or `null` with
/// `"translation_unavailable": true` when the provider failed.
pub(crate) async fn read(
    State(state): State<ConsoleState>,
    _agent: ApiAgent,
    Path(id): Path<i64>,
    Query(query): Query<ReadQuery>,
) -> Result<Response, ApiError> {
    let target = match query.translate_to.as_deref() {
        None => None,
        Some(code) => Some(
            Lang::from_code(code).ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "bad_language"))?,
        ),
    };
    let Some(detail) = state.store.ticket(id).await.map_err(internal)? else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
    };
    let Some(target) = target else { return Ok(Json(detail).into_response()) };
    let translation =
        state.translation.as_ref().ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "translation_off"))?;
    let customer = detail.ticket.language;
    let typed: Vec<MessageToTranslate> = detail
        .messages
        .iter()
        .filter(|message| message.author == Author::Customer)
        .filter_map(|message| {
            let text = message
                .text
                .as_deref()
                .filter(|text| crate::console::translation::worth_translating(text))?;
            Some(MessageToTranslate { id: message.id, text: text.to_owned(), source: customer })
        })
        .collect();
    let outcomes = translation.messages(&*state.store, detail.ticket.conversation_id, &typed, target).await;
    let mut body = serde_json::to_value(&detail).map_err(internal)?;
    if let Some(messages) = body.get_mut("messages").and_then(|messages| messages.as_array_mut()) {
        for message in messages {
            let Some(outcome) = message["id"].as_i64().and_then(|id| outcomes.get(&id)) else { continue };
            match outcome {
                Outcome::Translated(text) => message["translation"] = json!({ "lang": target, "text": text }),
                Outcome::Unavailable => {
                    message["translation"] = serde_json::Value::Null;
                    message["translation_unavailable"] = json!(true);
                }
            }
        }
    }
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ReplyBody {
    text: String,
    /// Translate `text` into the customer's language first; the log keeps both.
    #[serde(default)]
    translate: bool,
    /// The language `text` is in, with `translate` (default: the agent's console language,
    /// else the first language they speak, else English).
    source: Option<String>,
}

/// `POST /api/tickets/{id}/reply` with `{"text": "..."}`. A queued ticket is claimed for the
/// token's agent first; one held by another agent answers 409 with that agent's name. With
/// `"translate": true` the text goes in the customer's language (a canned reply's human version
/// when the text is one, else the provider's translation); if translation fails nothing is sent
/// and the answer is 503 `translation_unavailable`.
pub(crate) async fn reply(
    State(state): State<ConsoleState>,
    ApiAgent(agent): ApiAgent,
    Path(id): Path<i64>,
    Json(body): Json<ReplyBody>,
) -> Result<Response, ApiError> {
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > 4000 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_text"));
    }
    let source = match body.source.as_deref() {
        Some(code) => {
            Lang::from_code(code).ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "bad_language"))?
        }
        None => agent.console_lang.or_else(|| agent.languages.first().copied()).unwrap_or(Lang::En),
    };
    // Translated before anything changes: a failure sends nothing and claims nothing.
    let translated = if body.translate {
        if state.translation.is_none() {
            return Err(ApiError::new(StatusCode::CONFLICT, "translation_off"));
        }
        let customer = state
            .store
            .ticket(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found"))?
            .ticket
            .language;
        let preview =
            crate::console::translation::preview(&state, text, source, customer).await.map_err(internal)?;
        if preview.unavailable {
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "translation_unavailable"));
        }
        (customer != source || preview.human).then_some(preview.translation)
    } else {
        None
    };
    match state.engine.claim(id, &agent.name).await? {
        ClaimResult::Claimed | ClaimResult::AlreadyYours => {}
        ClaimResult::TakenBy(owner) => {
            return Err(ApiError {
                status: StatusCode::CONFLICT,
                body: json!({ "error": "taken", "agent": owner }),
            });
        }
        ClaimResult::Closed => return Err(ApiError::new(StatusCode::CONFLICT, "resolved")),
    }
    match translated {
        Some(sent) if sent != text => {
            let original = AgentOriginal { lang: source, text: text.to_owned() };
            state.engine.agent_reply_translated(id, &agent.actor(), &sent, original).await?;
            Ok(Json(json!({ "status": "queued_for_delivery", "sent": sent })).into_response())
        }
        _ => {
            state.engine.agent_reply(id, &agent.actor(), text, Vec::new()).await?;
            Ok(Json(json!({ "status": "queued_for_delivery" })).into_response())
        }
    }
}

/// `POST /api/tickets/{id}/resolve`: by the ticket's holder or an admin (403 otherwise).
pub(crate) async fn resolve(
    State(state): State<ConsoleState>,
    ApiAgent(agent): ApiAgent,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    state.engine.resolve(id, &agent.actor()).await?;
    Ok(Json(json!({ "status": "resolved" })).into_response())
}
