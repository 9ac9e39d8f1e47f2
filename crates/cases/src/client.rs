//! [`CaseClient`]: a [`CaseStore`] that talks to a case service over its REST API.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use url::Url;

use crate::api::ApiErrorBody;
use crate::error::{Error, ErrorKind};
use crate::model::{
    Assignment, Case, CaseFilter, CaseNumber, CasePage, CaseStatus, MessageBatch, NewCase, NewLink,
    NewNote, PageRequest, PriorityChange, Rating, SimilarCase, StatusChange, TimelineEntry,
};
use crate::store::CaseStore;

/// A [`CaseStore`] backed by a remote case service (the [`crate::CasesService`] API), so the app
/// can keep cases elsewhere (`cases.backend = "remote"`).
///
/// Errors the server reports come back as the same [`ErrorKind`]s a local store returns
/// (`NotFound`, `IllegalTransition`, `Invalid`); a wrong token is `Unauthorized`, anything else
/// `Remote` (retryable for 5xx, 429 and transport failures).
///
/// One difference from a local store: a transcript batch too large for the service's body limit
/// is sent in parts when every message has an external id (see
/// [`CaseStore::append_messages`] on this type), so it is then not all-or-none within one call;
/// repeating the call completes it without duplicates.
///
/// ```no_run
/// # async fn demo() -> Result<(), flexcord_cases::Error> {
/// use flexcord_cases::{CaseClient, CaseStore};
/// let cases = CaseClient::new("https://cases.example.com", "s3cret-token")?;
/// let mine = cases.open_cases_for("80351110224678912").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CaseClient {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl fmt::Debug for CaseClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaseClient")
            .field("base", &self.base.as_str())
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl CaseClient {
    /// A client for the service at `base_url` (the API is under `<base_url>/api/v1`), with a
    /// 30-second timeout.
    ///
    /// # Errors
    /// `Invalid` when the URL is not an absolute `http`/`https` URL.
    pub fn new(base_url: &str, token: impl Into<String>) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("flexcord-cases/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Remote {
                    status: None,
                    message: "could not build the HTTP client".into(),
                })
                .with_source(e)
            })?;
        Self::with_http_client(base_url, token, http)
    }

    /// Like [`CaseClient::new`] with an HTTP client of your own (proxies, TLS roots, timeouts).
    ///
    /// # Errors
    /// `Invalid` when the URL is not an absolute `http`/`https` URL.
    pub fn with_http_client(
        base_url: &str,
        token: impl Into<String>,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let mut base =
            Url::parse(base_url).map_err(|e| Error::invalid(format!("case service URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::invalid("case service URL must be http or https"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self {
            http,
            base,
            token: token.into(),
        })
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, Error> {
        let url = self
            .base
            .join(path)
            .map_err(|e| Error::invalid(format!("request path: {e}")))?;
        Ok(self.http.request(method, url).bearer_auth(&self.token))
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, Error> {
        let response = request.send().await.map_err(|e| {
            Error::new(ErrorKind::Remote {
                status: None,
                message: "case service unreachable".into(),
            })
            .with_source(e)
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            Error::new(ErrorKind::Remote {
                status: Some(status.as_u16()),
                message: "answer cut short".into(),
            })
            .with_source(e)
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                Error::decode(format!(
                    "answer to a case request ({})",
                    crate::model::truncate(&String::from_utf8_lossy(&bytes), 200)
                ))
                .with_source(e)
            });
        }
        let body: Option<ApiErrorBody> = serde_json::from_slice(&bytes).ok();
        Err(error_from(status.as_u16(), body, &bytes))
    }

    fn case_path(number: CaseNumber, rest: &str) -> String {
        format!("api/v1/cases/{number}{rest}")
    }
}

fn error_from(status: u16, body: Option<ApiErrorBody>, bytes: &[u8]) -> Error {
    let Some(body) = body else {
        let message = format!(
            "HTTP {status}: {}",
            crate::model::truncate(&String::from_utf8_lossy(bytes), 200)
        );
        return Error::new(ErrorKind::Remote {
            status: Some(status),
            message,
        });
    };
    let kind = match (body.code.as_str(), body.number, body.from, body.to) {
        ("not_found", Some(number), _, _) => ErrorKind::NotFound { number },
        ("illegal_transition", Some(number), Some(from), Some(to)) => {
            ErrorKind::IllegalTransition { number, from, to }
        }
        ("invalid", ..) => ErrorKind::Invalid {
            message: body
                .message
                .strip_prefix("invalid input: ")
                .unwrap_or(&body.message)
                .to_owned(),
        },
        ("unauthorized", ..) => ErrorKind::Unauthorized,
        _ => ErrorKind::Remote {
            status: Some(status),
            message: body.message,
        },
    };
    Error::new(kind)
}

/// The service refused the request body as too large.
fn is_too_large(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::Remote {
            status: Some(413),
            ..
        }
    )
}

fn statuses(list: &[CaseStatus]) -> String {
    list.iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[async_trait]
impl CaseStore for CaseClient {
    async fn create(&self, case: NewCase) -> Result<Case, Error> {
        case.validate()?;
        self.send(self.request(Method::POST, "api/v1/cases")?.json(&case))
            .await
    }

    async fn get(&self, number: CaseNumber) -> Result<Case, Error> {
        self.send(self.request(Method::GET, &Self::case_path(number, ""))?)
            .await
    }

    async fn list(&self, filter: &CaseFilter, page: &PageRequest) -> Result<CasePage, Error> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if !filter.statuses.is_empty() {
            query.push(("status", statuses(&filter.statuses)));
        }
        if let Some(kind) = filter.kind {
            query.push(("kind", kind.as_str().to_owned()));
        }
        for (key, value) in [
            ("requester", &filter.requester),
            ("assignee", &filter.assignee),
            ("q", &filter.text),
            ("cursor", &page.cursor),
        ] {
            if let Some(value) = value {
                query.push((key, value.clone()));
            }
        }
        if let Some(limit) = page.limit {
            query.push(("limit", limit.to_string()));
        }
        self.send(self.request(Method::GET, "api/v1/cases")?.query(&query))
            .await
    }

    async fn transition(&self, number: CaseNumber, change: StatusChange) -> Result<Case, Error> {
        self.send(
            self.request(Method::POST, &Self::case_path(number, "/status"))?
                .json(&change),
        )
        .await
    }

    async fn assign(&self, number: CaseNumber, assignment: Assignment) -> Result<Case, Error> {
        self.send(
            self.request(Method::PUT, &Self::case_path(number, "/assignee"))?
                .json(&assignment),
        )
        .await
    }

    async fn set_priority(
        &self,
        number: CaseNumber,
        change: PriorityChange,
    ) -> Result<Case, Error> {
        self.send(
            self.request(Method::PUT, &Self::case_path(number, "/priority"))?
                .json(&change),
        )
        .await
    }

    async fn add_note(&self, number: CaseNumber, note: NewNote) -> Result<TimelineEntry, Error> {
        self.send(
            self.request(Method::POST, &Self::case_path(number, "/notes"))?
                .json(&note),
        )
        .await
    }

    /// Sends the batch in one request. When the service refuses it as too large (413) and every
    /// message has an [`external_id`](crate::NewMessage::external_id), the batch is sent again in
    /// smaller parts, in order: the service skips ids it already has, so repeating the call after
    /// a part failed adds nothing twice. Without external ids the 413 error is returned as is.
    async fn append_messages(
        &self,
        number: CaseNumber,
        batch: MessageBatch,
    ) -> Result<Vec<TimelineEntry>, Error> {
        crate::model::validate_batch(&batch.messages)?;
        let path = Self::case_path(number, "/messages");
        let splittable = batch.messages.iter().all(|m| m.external_id.is_some());
        let mut added = Vec::new();
        let mut parts = std::collections::VecDeque::from([batch.messages.as_slice()]);
        while let Some(part) = parts.pop_front() {
            let body = MessageBatch::new(part.to_vec());
            match self
                .send::<Vec<TimelineEntry>>(self.request(Method::POST, &path)?.json(&body))
                .await
            {
                Ok(entries) => added.extend(entries),
                Err(err) if splittable && part.len() > 1 && is_too_large(&err) => {
                    let (first, second) = part.split_at(part.len() / 2);
                    parts.push_front(second);
                    parts.push_front(first);
                }
                Err(err) => return Err(err),
            }
        }
        Ok(added)
    }

    async fn rate(&self, number: CaseNumber, rating: Rating) -> Result<Case, Error> {
        self.send(
            self.request(Method::PUT, &Self::case_path(number, "/rating"))?
                .json(&rating),
        )
        .await
    }

    async fn add_link(&self, number: CaseNumber, link: NewLink) -> Result<TimelineEntry, Error> {
        self.send(
            self.request(Method::POST, &Self::case_path(number, "/links"))?
                .json(&link),
        )
        .await
    }

    async fn similar(
        &self,
        text: &str,
        exclude: Option<CaseNumber>,
        limit: u32,
    ) -> Result<Vec<SimilarCase>, Error> {
        let mut query = vec![("text", text.to_owned()), ("limit", limit.to_string())];
        if let Some(exclude) = exclude {
            query.push(("exclude", exclude.to_string()));
        }
        self.send(self.request(Method::GET, "api/v1/similar")?.query(&query))
            .await
    }

    async fn timeline(&self, number: CaseNumber) -> Result<Vec<TimelineEntry>, Error> {
        self.send(self.request(Method::GET, &Self::case_path(number, "/timeline"))?)
            .await
    }

    async fn open_cases_for(&self, discord_id: &str) -> Result<Vec<Case>, Error> {
        let filter = CaseFilter {
            statuses: CaseStatus::OPEN.to_vec(),
            requester: Some(discord_id.to_owned()),
            ..CaseFilter::default()
        };
        Ok(self
            .list(&filter, &PageRequest::first(PageRequest::MAX_LIMIT))
            .await?
            .cases)
    }
}
