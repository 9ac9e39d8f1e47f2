//! The [`CaseStore`] trait and how to open one.

use std::sync::Arc;

use async_trait::async_trait;

use time::OffsetDateTime;

use crate::error::{Error, ErrorKind};
use crate::model::{
    Assignment, Case, CaseFilter, CaseNumber, CasePage, CaseStatus, MessageBatch, NewCase, NewLink,
    NewNote, PageRequest, PriorityChange, Rating, SimilarCase, StatusChange, TimelineEntry,
};

mod accounts;
pub(crate) mod postgres;
mod sql;
pub(crate) mod sqlite;

/// Where cases live: the embedded SQLite store, Postgres, or a remote case service
/// ([`crate::CaseClient`]). Object safe: the app holds an `Arc<dyn CaseStore>`.
///
/// Every write validates its input first ([`crate::ErrorKind::Invalid`]), runs in one
/// transaction, bumps the case's `updated_at` and appends to its timeline.
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Opens a case in status `new` with the next number and a `created` timeline entry. With an
    /// [`NewCase::idempotency_key`] already used, returns that case unchanged instead.
    ///
    /// # Errors
    /// `Invalid` input, database or remote trouble.
    async fn create(&self, case: NewCase) -> Result<Case, Error>;

    /// One case.
    ///
    /// # Errors
    /// `NotFound`, database or remote trouble.
    async fn get(&self, number: CaseNumber) -> Result<Case, Error>;

    /// A page of cases, newest first.
    ///
    /// # Errors
    /// `Invalid` filter, limit or cursor; database or remote trouble.
    async fn list(&self, filter: &CaseFilter, page: &PageRequest) -> Result<CasePage, Error>;

    /// Moves a case to another status (see [`crate::CaseStatus::can_become`]). Asking for the
    /// status the case already has changes nothing and returns the case.
    ///
    /// # Errors
    /// `NotFound`, `IllegalTransition`, `Invalid`, database or remote trouble.
    async fn transition(&self, number: CaseNumber, change: StatusChange) -> Result<Case, Error>;

    /// Sets or clears the assignee (no timeline entry when unchanged).
    ///
    /// # Errors
    /// `NotFound`, `Invalid`, database or remote trouble.
    async fn assign(&self, number: CaseNumber, assignment: Assignment) -> Result<Case, Error>;

    /// Changes the priority (no timeline entry when unchanged).
    ///
    /// # Errors
    /// `NotFound`, `Invalid`, database or remote trouble.
    async fn set_priority(&self, number: CaseNumber, change: PriorityChange)
    -> Result<Case, Error>;

    /// Adds an internal note.
    ///
    /// # Errors
    /// `NotFound`, `Invalid`, database or remote trouble.
    async fn add_note(&self, number: CaseNumber, note: NewNote) -> Result<TimelineEntry, Error>;

    /// Appends transcript messages in order, all or none, and returns the entries it added:
    /// messages whose [`NewMessage::external_id`](crate::NewMessage::external_id) the case already has are skipped.
    ///
    /// # Errors
    /// `NotFound`, `Invalid` (1 to 500 messages), database or remote trouble.
    async fn append_messages(
        &self,
        number: CaseNumber,
        batch: MessageBatch,
    ) -> Result<Vec<TimelineEntry>, Error>;

    /// Appends the messages of several cases, each batch as [`CaseStore::append_messages`]
    /// would (one result per batch, in order). A database store writes them all in one
    /// transaction, which is what makes a transcript line cheap under load; the default makes
    /// one call per batch, the cases' at once, one case's batches in order.
    async fn append_messages_many(
        &self,
        batches: Vec<(CaseNumber, MessageBatch)>,
    ) -> Vec<Result<Vec<TimelineEntry>, Error>> {
        let n = batches.len();
        let mut by_case: Vec<(CaseNumber, Vec<(usize, MessageBatch)>)> = Vec::new();
        for (i, (number, batch)) in batches.into_iter().enumerate() {
            match by_case.iter_mut().find(|(c, _)| *c == number) {
                Some((_, list)) => list.push((i, batch)),
                None => by_case.push((number, vec![(i, batch)])),
            }
        }
        let done =
            futures::future::join_all(by_case.into_iter().map(|(number, list)| async move {
                let mut out = Vec::with_capacity(list.len());
                for (i, batch) in list {
                    out.push((i, self.append_messages(number, batch).await));
                }
                out
            }))
            .await;
        let mut results: Vec<Option<Result<Vec<TimelineEntry>, Error>>> =
            std::iter::repeat_with(|| None).take(n).collect();
        for (i, result) in done.into_iter().flatten() {
            results[i] = Some(result);
        }
        results.into_iter().flatten().collect()
    }

    /// Records the requester's rating (a later rating replaces an earlier one).
    ///
    /// # Errors
    /// `NotFound`, `Invalid` (score outside 1–5), database or remote trouble.
    async fn rate(&self, number: CaseNumber, rating: Rating) -> Result<Case, Error>;

    /// Links an external reference.
    ///
    /// # Errors
    /// `NotFound`, `Invalid`, database or remote trouble.
    async fn add_link(&self, number: CaseNumber, link: NewLink) -> Result<TimelineEntry, Error>;

    /// Open (`new`, `open`, `pending`) bug cases whose subject, description or tags share words
    /// with `text`, best first, at most `limit` (1 to 50), leaving out `exclude` (the new case).
    ///
    /// # Errors
    /// `Invalid` limit, database or remote trouble.
    async fn similar(
        &self,
        text: &str,
        exclude: Option<CaseNumber>,
        limit: u32,
    ) -> Result<Vec<SimilarCase>, Error>;

    /// The case's timeline in time order (messages at their sent time), then insertion order.
    ///
    /// # Errors
    /// `NotFound`, database or remote trouble.
    async fn timeline(&self, number: CaseNumber) -> Result<Vec<TimelineEntry>, Error>;

    /// The requester's cases that still need work (`new`, `open`, `pending`), newest first
    /// (at most 200).
    ///
    /// # Errors
    /// `Invalid` id, database or remote trouble.
    async fn open_cases_for(&self, discord_id: &str) -> Result<Vec<Case>, Error>;

    /// Closes every `resolved` case resolved at or before `resolved_before`: a case becomes
    /// `closed` after a configurable quiet period, so call this now and then with
    /// `now - period`. Each is closed with `actor` and the reason `quiet`; a case reopened in the
    /// meantime is skipped. Returns the numbers it closed, in number order. Works through
    /// [`CaseStore::close_quiet_batch`], [`CLOSE_QUIET_BATCH`] cases at a time.
    ///
    /// # Errors
    /// `Invalid` actor, database or remote trouble (cases closed before the error stay closed).
    async fn close_quiet(
        &self,
        resolved_before: OffsetDateTime,
        actor: &str,
    ) -> Result<Vec<CaseNumber>, Error> {
        let mut closed = Vec::new();
        loop {
            let batch = self
                .close_quiet_batch(resolved_before, actor, CLOSE_QUIET_BATCH)
                .await?;
            let done = batch.len() < CLOSE_QUIET_BATCH as usize;
            closed.extend(batch);
            if done {
                closed.sort_unstable();
                return Ok(closed);
            }
            tokio::task::yield_now().await;
        }
    }

    /// [`CaseStore::close_quiet`] for at most `limit` cases (the lowest numbers due), each closed in a transaction of its own; call again until it
    /// returns fewer than `limit`. The SQL stores find the due cases with one bounded query;
    /// the default pages through the resolved cases.
    ///
    /// # Errors
    /// As [`CaseStore::close_quiet`].
    async fn close_quiet_batch(
        &self,
        resolved_before: OffsetDateTime,
        actor: &str,
        limit: u32,
    ) -> Result<Vec<CaseNumber>, Error> {
        let filter = CaseFilter {
            statuses: vec![CaseStatus::Resolved],
            ..CaseFilter::default()
        };
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        let mut due = Vec::new();
        loop {
            let found = self.list(&filter, &page).await?;
            due.extend(
                found
                    .cases
                    .iter()
                    .filter(|c| c.resolved_at.is_some_and(|at| at <= resolved_before))
                    .map(|c| c.number),
            );
            match found.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
        due.sort_unstable();
        due.truncate(limit as usize);
        close_each(self, due, actor).await
    }
}

/// How many cases [`CaseStore::close_quiet`] closes per batch.
pub const CLOSE_QUIET_BATCH: u32 = 500;

/// Closes each of `due` (`resolved` to `closed`, reason `quiet`), skipping a case reopened
/// meanwhile; returns those closed.
pub(crate) async fn close_each<S: CaseStore + ?Sized>(
    store: &S,
    due: Vec<CaseNumber>,
    actor: &str,
) -> Result<Vec<CaseNumber>, Error> {
    let mut closed = Vec::with_capacity(due.len());
    for number in due {
        let change = StatusChange::new(CaseStatus::Closed, actor).reason("quiet");
        match store.transition(number, change).await {
            Ok(_) => closed.push(number),
            Err(err) if matches!(err.kind(), ErrorKind::IllegalTransition { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(closed)
}

/// Opens the store a URL names, like [`open`], together with its [`crate::Accounts`] (agents,
/// sessions, integration tokens) in the same database.
///
/// # Errors
/// As [`open`].
pub async fn open_with_accounts(
    url: &str,
) -> Result<(Arc<dyn CaseStore>, Arc<dyn crate::Accounts>), Error> {
    if url.starts_with("sqlite:") {
        let store = Arc::new(sqlite::SqliteCaseStore::connect(url).await?);
        Ok((store.clone(), store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = Arc::new(postgres::PgCaseStore::connect(url).await?);
        Ok((store.clone(), store))
    } else {
        Err(Error::invalid(
            "case store URL must start with sqlite:, postgres:// or postgresql://",
        ))
    }
}

/// Opens the store a URL names and brings its schema up to date.
///
/// `sqlite:` URLs (e.g. `sqlite:///var/lib/flexcord/flexcord.db`, `sqlite::memory:`) open the
/// embedded store, creating the file if needed; `postgres://` and `postgresql://` URLs open
/// Postgres. The migrations ignore other crates' versions, so the database may be shared with the
/// conversation store. A remote case service is a [`crate::CaseClient`] instead.
///
/// # Errors
/// `Invalid` for another scheme; `Database` when connecting or migrating fails.
pub async fn open(url: &str) -> Result<Arc<dyn CaseStore>, Error> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteCaseStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgCaseStore::connect(url).await?))
    } else {
        Err(Error::invalid(
            "case store URL must start with sqlite:, postgres:// or postgresql://",
        ))
    }
}
