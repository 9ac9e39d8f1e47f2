//! The REST API under `/api/v1`: handlers, JSON errors, bearer auth and the OpenAPI document.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{Error, ErrorKind};
use crate::model::{
    Assignment, Case, CaseFilter, CaseKind, CaseNumber, CasePage, CaseStatus, MessageBatch,
    NewCase, NewLink, NewNote, PageRequest, PriorityChange, Rating, SimilarCase, StatusChange,
    TimelineEntry,
};
use crate::service::Shared;

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiErrorBody {
    /// Machine-readable: `unauthorized`, `not_found`, `method_not_allowed`, `illegal_transition`,
    /// `invalid`, `payload_too_large`, `unsupported_media_type`, `internal`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The case concerned (`not_found`, `illegal_transition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<CaseNumber>,
    /// The case's status (`illegal_transition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<CaseStatus>,
    /// The status asked for (`illegal_transition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<CaseStatus>,
}

/// An error answer: status and JSON body.
pub(crate) struct ApiError {
    status: StatusCode,
    body: ApiErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ApiErrorBody {
                code: code.into(),
                message: message.into(),
                number: None,
                from: None,
                to: None,
            },
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err.kind() {
            ErrorKind::NotFound { number } => {
                let mut e = Self::new(StatusCode::NOT_FOUND, "not_found", message);
                e.body.number = Some(*number);
                e
            }
            ErrorKind::IllegalTransition { number, from, to } => {
                let mut e = Self::new(StatusCode::CONFLICT, "illegal_transition", message);
                e.body.number = Some(*number);
                e.body.from = Some(*from);
                e.body.to = Some(*to);
                e
            }
            ErrorKind::Invalid { message } => Self::invalid(message.clone()),
            ErrorKind::Unauthorized => Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message),
            _ => {
                tracing::error!(error = %err, source = ?std::error::Error::source(&err), "case API request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the case store failed; try again later",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// `Json` whose rejections are [`ApiError`]s: 413 for an oversize body, 415 without a JSON
/// content type, 422 for anything malformed.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is too large",
                ),
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send a JSON body with `Content-Type: application/json`",
                ),
                _ => ApiError::invalid(rejection.body_text()),
            }),
        }
    }
}

/// The `{number}` path segment, parsed.
pub(crate) struct NumberPath(pub(crate) CaseNumber);

impl<S: Send + Sync> FromRequestParts<S> for NumberPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e: PathRejection| ApiError::invalid(e.body_text()))?;
        Ok(Self(raw.parse()?))
    }
}

/// `Query` whose rejections are 422 [`ApiError`]s.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|e: QueryRejection| ApiError::invalid(e.body_text()))?;
        Ok(Self(value))
    }
}

/// Filters and paging for `GET /api/v1/cases`.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Comma-separated statuses, e.g. `new,open,pending`.
    #[param(example = "new,open")]
    pub(crate) status: Option<String>,
    /// Only this kind (empty: any kind, as the agent page's filter form sends it).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub(crate) kind: Option<CaseKind>,
    /// Only this requester (Discord user id).
    pub(crate) requester: Option<String>,
    /// Only this assignee.
    pub(crate) assignee: Option<String>,
    /// Full-text search; every word must match.
    pub(crate) q: Option<String>,
    /// `next_cursor` from the previous page.
    pub(crate) cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub(crate) limit: Option<u32>,
}

/// An absent or empty query value is `None`; anything else must parse as `T`.
fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

impl ListParams {
    pub(crate) fn into_query(self) -> Result<(CaseFilter, PageRequest), Error> {
        let statuses = match self.status.as_deref() {
            None | Some("") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| s.trim().parse())
                .collect::<Result<Vec<CaseStatus>, _>>()?,
        };
        let filter = CaseFilter {
            statuses,
            kind: self.kind,
            requester: self.requester.filter(|s| !s.is_empty()),
            assignee: self.assignee.filter(|s| !s.is_empty()),
            text: self.q.filter(|s| !s.trim().is_empty()),
        };
        Ok((
            filter,
            PageRequest {
                cursor: self.cursor.filter(|s| !s.is_empty()),
                limit: self.limit,
            },
        ))
    }
}

/// Parameters of `GET /api/v1/similar`.
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SimilarParams {
    /// The new bug's text (subject and description).
    pub(crate) text: String,
    /// A case to leave out (the new bug itself), e.g. `CASE-000123`.
    pub(crate) exclude: Option<String>,
    /// 1 to 50 (default 5).
    #[param(minimum = 1, maximum = 50)]
    pub(crate) limit: Option<u32>,
}

type ApiResult<T> = Result<T, ApiError>;

/// List cases, newest first.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(ListParams), security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of cases", body = CasePage),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 422, description = "Bad filter, limit or cursor", body = ApiErrorBody),
    ))]
async fn list_cases(
    State(shared): State<Arc<Shared>>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<CasePage>> {
    let (filter, page) = params.into_query()?;
    Ok(Json(shared.store.list(&filter, &page).await?))
}

/// Open a case (status `new`).
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = NewCase, security(("bearer" = [])),
    responses(
        (status = 201, description = "The new case", body = Case),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 413, description = "Body too large", body = ApiErrorBody),
        (status = 415, description = "Not JSON", body = ApiErrorBody),
        (status = 422, description = "Bad input", body = ApiErrorBody),
    ))]
async fn create_case(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Integration>,
    ApiJson(mut new): ApiJson<NewCase>,
) -> ApiResult<(StatusCode, Json<Case>)> {
    new.via = Some(caller.via());
    Ok((StatusCode::CREATED, Json(shared.store.create(new).await?)))
}

/// One case.
#[utoipa::path(get, path = "/api/v1/cases/{number}", tag = "cases", security(("bearer" = [])),
    params(("number" = CaseNumber, Path, description = "Case number, e.g. CASE-000123")),
    responses(
        (status = 200, description = "The case", body = Case),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 422, description = "Malformed case number", body = ApiErrorBody),
    ))]
async fn get_case(
    State(shared): State<Arc<Shared>>,
    NumberPath(number): NumberPath,
) -> ApiResult<Json<Case>> {
    Ok(Json(shared.store.get(number).await?))
}

/// Change the status (409 when the lifecycle forbids it).
#[utoipa::path(post, path = "/api/v1/cases/{number}/status", tag = "cases", request_body = StatusChange, security(("bearer" = [])),
    params(("number" = CaseNumber, Path, description = "Case number, e.g. CASE-000123")),
    responses(
        (status = 200, description = "The case after the change", body = Case),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 409, description = "Illegal transition", body = ApiErrorBody),
        (status = 413, description = "Body too large", body = ApiErrorBody),
        (status = 415, description = "Not JSON", body = ApiErrorBody),
        (status = 422, description = "Bad input", body = ApiErrorBody),
    ))]
async fn change_status(
    State(shared): State<Arc<Shared>>,
    NumberPath(number): NumberPath,
    Extension(caller): Extension<Integration>,
    ApiJson(mut change): ApiJson<StatusChange>,
) -> ApiResult<Json<Case>> {
    change.via = Some(caller.via());
    Ok(Json(shared.store.transition(number, change).await?))
}

/// Set or clear the assignee.
#[utoipa::path(put, path = "/api/v1/cases/{number}/assignee", tag = "cases", request_body = Assignment, security(("bearer" = [])),
    params(("number" = CaseNumber, Path, description = "Case number, e.g. CASE-000123")),
    responses(
        (status = 200, description = "The case after the change", body = Case),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 413, description = "Body too large", body = ApiErrorBody),
        (status = 415, description = "Not JSON", body = ApiErrorBody),
        (status = 422, description = "Bad input", body = ApiErrorBody),
    ))]
async fn assign(
    State(shared): State<Arc<Shared>>,
    NumberPath(number): NumberPath,
    Extension(caller): Extension<Integration>,
    ApiJson(mut assignment): ApiJson<Assignment>,
) -> ApiResult<Json<Case>> {
    assignment.via = Some(caller.via());
    Ok(Json(shared.store.assign(number, assignment).await?))
}

/// Change the priority.
#[utoipa::path(put, path = "/api/v1/cases/{number}/priority", tag = "cases", request_body = PriorityChange, security(("bearer" = [])),
    params(("number" = CaseNumber, Path, description = "Case number, e.g. CASE-000123")),
    responses(
        (status = 200, description = "The case after the change", body = Case),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 413, description = "Body too large", body = ApiErrorBody),
        (status = 415, description = "Not JSON", body = ApiErrorBody),
        (status = 422, description = "Bad input", body = ApiErrorBody),
    ))]
async fn set_priority(
    State(shared): State<Arc<Shared>>,
    NumberPath(number): NumberPath,
    Extension(caller): Extension<Integration>,
    ApiJson(mut change): ApiJson<PriorityChange>,
) -> ApiResult<Json<Case>> {
    change.via = Some(caller.via());
    Ok(Json(shared.store.set_priority(number, change).await?))
}

/// Add an internal note.
#[utoipa::path(post, path = "/api/v1/cases/{number}/notes", tag = "cases", request_body = NewNote, security(("bearer" = [])),
    params(("number" = CaseNumber, Path, description = "Case number, e.g. CASE-000123")),
    responses(
        (status = 201, description = "The timeline entry", body = TimelineEntry),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 413, description = "Body too large", body = ApiErrorBody),
        (status = 415, description = "Not JSON", body = ApiErrorBody),
        (status = 422, description = "Bad input", body = ApiErrorBody),
    ))]
async fn add_note(
    State(shared): State<Arc<Shared>>,
    NumberPath(number): NumberPath,
    Extension(caller): Extension<Integration>,
    ApiJson(mut note): ApiJson<NewNote>,
) -> ApiResult<(StatusCode, Json<TimelineEntry>)> {
    note.via = Some(caller.via());
    Ok((
        StatusCode::CREATED,
        Json(shared.store.add_note(number, note).await?),
    ))
}

/// Append transcript messages (1 to 500, all or none).
#[utoipa::path(post, path = "/api/v1/cases/{number}/messages", tag = "cases", request_body = MessageBatch, security(("bearer" = [])),
    params(("number" = CaseNumber, Path, description = "Case number, e.g. CASE-000123")),
    responses(
        (status = 201, description = "The timeline entries, in order", body = Vec<TimelineEntry>),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 413, description = "Body too large", body = ApiErrorBody),
        (status = 415, description = "Not JSON", body = ApiErrorBody),
        (status = 422, description = "Bad input", body = ApiErrorBody),
    ))]
async fn append_messages(
    State(shared): State<Arc<Shared>>,
    NumberPath(number): NumberPath,
    Extension(caller): Extension<Integration>,
    ApiJson(mut batch): ApiJson<MessageBatch>,
) -> ApiResult<(StatusCode, Json<Vec<TimelineEntry>>)> {
    batch.via = Some(caller.via());
    Ok((
        StatusCode::CREATED,
        Json(shared.store.append_messages(number, batch).await?),
    ))
}

/// Record the requester's rating.
#[utoipa::path(put, path = "/api/v1/cases/{number}/rating", tag = "cases", request_body = Rating, security(("bearer" = [])),
    params(("number" = CaseNumber, Path, description = "Case number, e.g. CASE-000123")),
    responses(
        (status = 200, description = "The case after the change", body = Case),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 413, description = "Body too large", body = ApiErrorBody),
        (status = 415, description = "Not JSON", body = ApiErrorBody),
        (status = 422, description = "Bad input", body = ApiErrorBody),
    ))]
async fn rate(
    State(shared): State<Arc<Shared>>,
    NumberPath(number): NumberPath,
    ApiJson(rating): ApiJson<Rating>,
) -> ApiResult<Json<Case>> {
    Ok(Json(shared.store.rate(number, rating).await?))
}

/// Link an external reference.
#[utoipa::path(post, path = "/api/v1/cases/{number}/links", tag = "cases", request_body = NewLink, security(("bearer" = [])),
    params(("number" = CaseNumber, Path, description = "Case number, e.g. CASE-000123")),
    responses(
        (status = 201, description = "The timeline entry", body = TimelineEntry),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 413, description = "Body too large", body = ApiErrorBody),
        (status = 415, description = "Not JSON", body = ApiErrorBody),
        (status = 422, description = "Bad input", body = ApiErrorBody),
    ))]
async fn add_link(
    State(shared): State<Arc<Shared>>,
    NumberPath(number): NumberPath,
    Extension(caller): Extension<Integration>,
    ApiJson(mut link): ApiJson<NewLink>,
) -> ApiResult<(StatusCode, Json<TimelineEntry>)> {
    link.via = Some(caller.via());
    Ok((
        StatusCode::CREATED,
        Json(shared.store.add_link(number, link).await?),
    ))
}

/// The case's timeline (messages at their sent time).
#[utoipa::path(get, path = "/api/v1/cases/{number}/timeline", tag = "cases", security(("bearer" = [])),
    params(("number" = CaseNumber, Path, description = "Case number, e.g. CASE-000123")),
    responses(
        (status = 200, description = "Timeline entries in time order", body = Vec<TimelineEntry>),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 422, description = "Malformed case number", body = ApiErrorBody),
    ))]
async fn timeline(
    State(shared): State<Arc<Shared>>,
    NumberPath(number): NumberPath,
) -> ApiResult<Json<Vec<TimelineEntry>>> {
    Ok(Json(shared.store.timeline(number).await?))
}

/// Open bug cases similar to a text, best first.
#[utoipa::path(get, path = "/api/v1/similar", tag = "cases", params(SimilarParams), security(("bearer" = [])),
    responses(
        (status = 200, description = "Similar open bugs, best first", body = Vec<SimilarCase>),
        (status = 401, description = "Missing or wrong token", body = ApiErrorBody),
        (status = 422, description = "Bad input", body = ApiErrorBody),
    ))]
async fn similar(
    State(shared): State<Arc<Shared>>,
    ApiQuery(params): ApiQuery<SimilarParams>,
) -> ApiResult<Json<Vec<SimilarCase>>> {
    let exclude = match params.exclude.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(raw.parse()?),
    };
    if params.text.chars().count() > 25_000 || params.text.contains('\0') {
        return Err(ApiError::invalid(
            "text must be at most 25,000 characters without NUL",
        ));
    }
    Ok(Json(
        shared
            .store
            .similar(&params.text, exclude, params.limit.unwrap_or(5))
            .await?,
    ))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "flexcord cases API", description = "Case management for flexcord: cases, their timeline and transcript."),
    paths(list_cases, create_case, get_case, change_status, assign, set_priority, add_note, append_messages, rate, add_link, timeline, similar),
    components(schemas(ApiErrorBody)),
    modifiers(&BearerAuth),
    tags((name = "cases", description = "Cases and their timeline"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of the API, as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json() -> impl IntoResponse {
    Json(openapi())
}

/// Any path under `/api/v1` that is not an API route.
async fn no_such_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no API route for {method} {}; the routes are listed in /api/v1/openapi.json",
            uri.path()
        ),
    )
}

/// A known API path asked with a method it does not take.
async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not take {method}; the routes are listed in /api/v1/openapi.json",
            uri.path()
        ),
    )
}

/// The integration whose token a request carried (`api:<name>` on the timeline).
#[derive(Debug, Clone)]
pub(crate) struct Integration(pub(crate) String);

impl Integration {
    fn via(&self) -> String {
        format!("api:{}", self.0)
    }
}

async fn require_bearer(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    match shared.integration(&presented).await {
        Ok(Some(name)) => {
            request.extensions_mut().insert(Integration(name));
            next.run(request).await
        }
        Ok(None) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send `Authorization: Bearer <token>` with your integration's case API token",
        )
        .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "API token lookup failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the case store failed; try again later",
            )
            .into_response()
        }
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let cases = Router::new()
        .route("/api/v1/cases", get(list_cases).post(create_case))
        .route("/api/v1/cases/{number}", get(get_case))
        .route("/api/v1/cases/{number}/status", post(change_status))
        .route("/api/v1/cases/{number}/assignee", put(assign))
        .route("/api/v1/cases/{number}/priority", put(set_priority))
        .route("/api/v1/cases/{number}/notes", post(add_note))
        .route("/api/v1/cases/{number}/messages", post(append_messages))
        .route("/api/v1/cases/{number}/rating", put(rate))
        .route("/api/v1/cases/{number}/links", post(add_link))
        .route("/api/v1/cases/{number}/timeline", get(timeline))
        .route("/api/v1/similar", get(similar))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_bearer,
        ));
    Router::new()
        .merge(cases)
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1", any(no_such_route))
        .route("/api/v1/{*rest}", any(no_such_route))
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::extract::DefaultBodyLimit::max(shared.max_body_bytes))
        .with_state(shared)
}
