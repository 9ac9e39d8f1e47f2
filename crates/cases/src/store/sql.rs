//! What the SQLite and Postgres stores share: row types, the query text that differs between
//! them ([`Dialect`]) and one implementation of [`super::CaseStore`] stamped out per backend.

use time::OffsetDateTime;

use crate::error::Error;
use crate::model::{Case, CaseNumber, CaseSource, Rating, Requester, TimelineEntry, TimelineEvent};

/// The SQL that differs between backends.
pub(super) struct Dialect {
    /// Takes the case's row lock (or the database write lock) before reading it; binds `$1` =
    /// number and returns the number, or no row when the case does not exist.
    pub(super) lock_case: &'static str,
    /// A `WHERE` condition on `c` matching an AND query; `{}` is the placeholder.
    pub(super) text_filter: &'static str,
    /// Similar open bugs: `$1` query (OR of words), `$2` excluded number, `$3` limit; selects
    /// [`CASE_COLUMNS`] and a `score` column, best first.
    pub(super) similar: &'static str,
    /// Turns words into an AND query for `text_filter`.
    pub(super) and_query: fn(&[String]) -> String,
    /// Turns words into an OR query for `similar`.
    pub(super) or_query: fn(&[String]) -> String,
    /// A `WHERE` condition: `resolved_at` at or before `$1`, exactly.
    pub(super) resolved_before: &'static str,
}

/// The columns of [`CaseRow`], as a literal for `concat!`.
macro_rules! case_columns {
    () => {
        "c.number, c.kind, c.status, c.priority, c.subject, c.description, c.requester_id, \
         c.requester_name, c.source, c.assignee, c.tags, c.rating_score, c.rating_comment, \
         c.created_at, c.updated_at, c.resolved_at, c.assignee_name"
    };
}
pub(super) use case_columns;

pub(super) const CASE_COLUMNS: &str = case_columns!();

#[derive(sqlx::FromRow)]
pub(super) struct CaseRow {
    number: i64,
    kind: String,
    status: String,
    priority: String,
    subject: String,
    description: String,
    requester_id: String,
    requester_name: String,
    source: String,
    assignee: Option<String>,
    tags: String,
    rating_score: Option<i64>,
    rating_comment: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    resolved_at: Option<OffsetDateTime>,
    assignee_name: Option<String>,
}

impl CaseRow {
    pub(super) fn into_case(self) -> Result<Case, Error> {
        let rating = match self.rating_score {
            None => None,
            Some(score) => Some(Rating {
                score: u8::try_from(score).map_err(|_| Error::decode("rating out of range"))?,
                comment: self.rating_comment,
            }),
        };
        Ok(Case {
            number: CaseNumber::from_db(self.number)?,
            kind: self
                .kind
                .parse()
                .map_err(|e: Error| Error::decode(e.to_string()))?,
            status: self
                .status
                .parse()
                .map_err(|e: Error| Error::decode(e.to_string()))?,
            priority: self
                .priority
                .parse()
                .map_err(|e: Error| Error::decode(e.to_string()))?,
            subject: self.subject,
            description: self.description,
            requester: Requester {
                discord_id: self.requester_id,
                name: self.requester_name,
            },
            source: serde_json::from_str::<CaseSource>(&self.source)
                .map_err(|e| Error::decode("case source").with_source(e))?,
            assignee: self.assignee,
            assignee_name: self.assignee_name,
            tags: serde_json::from_str(&self.tags)
                .map_err(|e| Error::decode("case tags").with_source(e))?,
            rating,
            created_at: self.created_at,
            updated_at: self.updated_at,
            resolved_at: self.resolved_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SimilarRow {
    #[sqlx(flatten)]
    pub(super) case: CaseRow,
    pub(super) score: f64,
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    id: i64,
    at: OffsetDateTime,
    actor: String,
    actor_name: Option<String>,
    via: Option<String>,
    data: String,
}

impl EventRow {
    pub(super) fn into_entry(self) -> Result<TimelineEntry, Error> {
        Ok(TimelineEntry {
            id: self.id,
            at: self.at,
            actor: self.actor,
            actor_name: self.actor_name,
            via: self.via,
            event: serde_json::from_str(&self.data)
                .map_err(|e| Error::decode("timeline event").with_source(e))?,
        })
    }
}

pub(super) fn event_json(event: &TimelineEvent) -> Result<String, Error> {
    serde_json::to_string(event).map_err(|e| Error::decode("timeline event").with_source(e))
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::decode("case field").with_source(e))
}

/// Now, in UTC, to the microsecond (what Postgres keeps), so values read back compare equal.
pub(super) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// A timestamp as stored: UTC, microseconds.
pub(super) fn stored_time(t: OffsetDateTime) -> OffsetDateTime {
    // Validation keeps the UTC year in range; never panic if it did not.
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// Common English words that say nothing about a case; both backends drop them (Postgres'
/// `english` configuration would anyway), so an OR query does not match on "the".
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but",
    "by", "can", "do", "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i",
    "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she",
    "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to",
    "too", "up", "us", "was", "we", "were", "what", "when", "where", "which", "while", "who",
    "why", "will", "with", "you", "your",
];

/// The words of a search text: runs of letters and digits, lowercased, without stop words and
/// duplicates; at most 32 words of at most 64 characters.
pub(super) fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.chars().take(64).collect::<String>().to_lowercase();
        if !STOP_WORDS.contains(&word.as_str()) && !words.contains(&word) {
            words.push(word);
            if words.len() == 32 {
                break;
            }
        }
    }
    words
}

/// Who wrote a timeline entry: the actor's id, display name and credential.
#[derive(Clone, Copy)]
pub(super) struct Who<'a> {
    pub(super) actor: &'a str,
    pub(super) name: Option<&'a str>,
    pub(super) via: Option<&'a str>,
}

/// A bind value of a dynamically built query.
pub(super) enum Bind {
    Text(String),
    Int(i64),
}

/// Stamps out `impl CaseStore for $store` over `self.pool` with the given [`Dialect`].
macro_rules! sql_case_store {
    ($store:ty, $dialect:expr) => {
        const DIALECT: $crate::store::sql::Dialect = $dialect;

        impl $store {
            /// Takes the write lock for a case and reads it, inside `tx`.
            async fn locked(
                tx: &mut <$store as $crate::store::sql::HasDb>::Tx,
                number: $crate::CaseNumber,
            ) -> Result<$crate::Case, $crate::Error> {
                Self::lock(tx, number).await?;
                Self::fetch_case(&mut **tx, number).await
            }

            /// Takes the case's lock for the transaction (`NotFound` when there is no such
            /// case), without reading it.
            async fn lock(
                tx: &mut <$store as $crate::store::sql::HasDb>::Tx,
                number: $crate::CaseNumber,
            ) -> Result<(), $crate::Error> {
                let n = i64::from(number.get());
                let locked: Option<i64> =
                    sqlx::query_scalar(DIALECT.lock_case).bind(n).fetch_optional(&mut **tx).await?;
                if locked.is_none() {
                    return Err($crate::Error::not_found(number));
                }
                Ok(())
            }

            async fn fetch_case<'e, E>(
                executor: E,
                number: $crate::CaseNumber,
            ) -> Result<$crate::Case, $crate::Error>
            where
                E: sqlx::Executor<'e, Database = <$store as $crate::store::sql::HasDb>::Db>,
            {
                let sql = format!(
                    "SELECT {} FROM cases c WHERE c.number = $1",
                    $crate::store::sql::CASE_COLUMNS
                );
                let row: Option<$crate::store::sql::CaseRow> = sqlx::query_as(&sql)
                    .bind(i64::from(number.get()))
                    .fetch_optional(executor)
                    .await?;
                row.ok_or_else(|| $crate::Error::not_found(number))?.into_case()
            }

            async fn by_key(
                pool: &<$store as $crate::store::sql::HasDb>::Pool,
                key: &str,
            ) -> Result<Option<$crate::Case>, $crate::Error> {
                let sql = format!(
                    "SELECT {} FROM cases c WHERE c.idempotency_key = $1",
                    $crate::store::sql::CASE_COLUMNS
                );
                let row: Option<$crate::store::sql::CaseRow> =
                    sqlx::query_as(&sql).bind(key).fetch_optional(pool).await?;
                row.map($crate::store::sql::CaseRow::into_case).transpose()
            }

            async fn insert_event(
                tx: &mut <$store as $crate::store::sql::HasDb>::Tx,
                number: $crate::CaseNumber,
                at: time::OffsetDateTime,
                who: $crate::store::sql::Who<'_>,
                event: $crate::TimelineEvent,
            ) -> Result<$crate::TimelineEntry, $crate::Error> {
                let data = $crate::store::sql::event_json(&event)?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO case_events (case_number, at, actor, kind, data, actor_name, via) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(i64::from(number.get()))
                .bind(at)
                .bind(who.actor)
                .bind(event.name())
                .bind(data)
                .bind(who.name)
                .bind(who.via)
                .fetch_one(&mut **tx)
                .await?;
                Ok($crate::TimelineEntry {
                    id,
                    at,
                    actor: who.actor.to_owned(),
                    actor_name: who.name.map(str::to_owned),
                    via: who.via.map(str::to_owned),
                    event,
                })
            }

            async fn touch(
                tx: &mut <$store as $crate::store::sql::HasDb>::Tx,
                number: $crate::CaseNumber,
                now: time::OffsetDateTime,
            ) -> Result<(), $crate::Error> {
                sqlx::query("UPDATE cases SET updated_at = $2 WHERE number = $1")
                    .bind(i64::from(number.get()))
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Appends `batch` in `tx`: takes the case's lock and stamps its last change in
            /// one statement, then inserts the messages it does not have yet.
            async fn append_in(
                tx: &mut <$store as $crate::store::sql::HasDb>::Tx,
                number: $crate::CaseNumber,
                batch: $crate::MessageBatch,
            ) -> Result<Vec<$crate::TimelineEntry>, $crate::Error> {
                let touched: Option<i64> = sqlx::query_scalar(
                    "UPDATE cases SET updated_at = $2 WHERE number = $1 RETURNING number",
                )
                .bind(i64::from(number.get()))
                .bind($crate::store::sql::now())
                .fetch_optional(&mut **tx)
                .await?;
                if touched.is_none() {
                    return Err($crate::Error::not_found(number));
                }
                let mut entries = Vec::with_capacity(batch.messages.len());
                for message in batch.messages {
                    let at = $crate::store::sql::stored_time(message.sent_at);
                    let event = $crate::TimelineEvent::Message { text: message.text };
                    let id: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO case_events (case_number, at, actor, kind, data, external_id, actor_name, via) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (case_number, external_id) DO NOTHING RETURNING id",
                    )
                    .bind(i64::from(number.get()))
                    .bind(at)
                    .bind(&message.author)
                    .bind(event.name())
                    .bind($crate::store::sql::event_json(&event)?)
                    .bind(message.external_id.as_deref())
                    .bind(message.author_name.as_deref())
                    .bind(batch.via.as_deref())
                    .fetch_optional(&mut **tx)
                    .await?;
                    if let Some(id) = id {
                        entries.push($crate::TimelineEntry {
                            id,
                            at,
                            actor: message.author,
                            actor_name: message.author_name,
                            via: batch.via.clone(),
                            event,
                        });
                    }
                }
                Ok(entries)
            }
        }

        #[async_trait::async_trait]
        impl $crate::CaseStore for $store {
            async fn create(&self, new: $crate::NewCase) -> Result<$crate::Case, $crate::Error> {
                new.validate()?;
                if let Some(key) = &new.idempotency_key {
                    if let Some(case) = Self::by_key(&self.pool, key).await? {
                        return Ok(case);
                    }
                }
                let now = $crate::store::sql::now();
                let priority = new.priority.unwrap_or($crate::Priority::Normal);
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let n: i64 = sqlx::query_scalar(
                    "UPDATE case_counters SET n = n + 1 WHERE id = 1 RETURNING n",
                )
                .fetch_one(&mut *tx)
                .await?;
                let number = $crate::CaseNumber::from_db(n)?;
                let inserted = sqlx::query(
                    "INSERT INTO cases (number, kind, status, priority, subject, description, \
                     requester_id, requester_name, source, assignee, tags, rating_score, \
                     rating_comment, created_at, updated_at, resolved_at, idempotency_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, NULL, NULL, $11, $11, NULL, $12)",
                )
                .bind(n)
                .bind(new.kind.as_str())
                .bind($crate::CaseStatus::New.as_str())
                .bind(priority.as_str())
                .bind(&new.subject)
                .bind(&new.description)
                .bind(&new.requester.discord_id)
                .bind(&new.requester.name)
                .bind($crate::store::sql::json(&new.source)?)
                .bind($crate::store::sql::json(&new.tags)?)
                .bind(now)
                .bind(new.idempotency_key.as_deref())
                .execute(&mut *tx)
                .await;
                if let (Err(sqlx::Error::Database(db)), Some(key)) = (&inserted, &new.idempotency_key) {
                    if db.is_unique_violation() {
                        // The same key won a race: drop this attempt (and its number).
                        drop(tx);
                        return Self::by_key(&self.pool, key)
                            .await?
                            .ok_or_else(|| $crate::Error::decode("idempotent case vanished"));
                    }
                }
                inserted?;
                let actor = format!("discord:{}", new.requester.discord_id);
                let event = $crate::TimelineEvent::Created { kind: new.kind, subject: new.subject.clone() };
                let who = $crate::store::sql::Who { actor: &actor, name: Some(&new.requester.name), via: new.via.as_deref() };
                Self::insert_event(&mut tx, number, now, who, event).await?;
                tx.commit().await?;
                Ok($crate::Case {
                    number,
                    kind: new.kind,
                    status: $crate::CaseStatus::New,
                    priority,
                    subject: new.subject,
                    description: new.description,
                    requester: new.requester,
                    source: new.source,
                    assignee: None,
                    assignee_name: None,
                    tags: new.tags,
                    rating: None,
                    created_at: now,
                    updated_at: now,
                    resolved_at: None,
                })
            }

            async fn get(&self, number: $crate::CaseNumber) -> Result<$crate::Case, $crate::Error> {
                Self::fetch_case(&self.pool, number).await
            }

            async fn list(
                &self,
                filter: &$crate::CaseFilter,
                page: &$crate::PageRequest,
            ) -> Result<$crate::CasePage, $crate::Error> {
                use $crate::store::sql::Bind;
                filter.validate()?;
                let (before, limit) = page.resolve()?;
                let mut binds: Vec<Bind> = Vec::new();
                let mut push = |bind: Bind| {
                    binds.push(bind);
                    format!("${}", binds.len())
                };
                let mut sql = format!("SELECT {} FROM cases c WHERE 1 = 1", $crate::store::sql::CASE_COLUMNS);
                if !filter.statuses.is_empty() {
                    let list: Vec<String> =
                        filter.statuses.iter().map(|s| push(Bind::Text(s.as_str().to_owned()))).collect();
                    sql.push_str(&format!(" AND c.status IN ({})", list.join(", ")));
                }
                if let Some(kind) = filter.kind {
                    sql.push_str(&format!(" AND c.kind = {}", push(Bind::Text(kind.as_str().to_owned()))));
                }
                if let Some(requester) = &filter.requester {
                    sql.push_str(&format!(" AND c.requester_id = {}", push(Bind::Text(requester.clone()))));
                }
                if let Some(assignee) = &filter.assignee {
                    sql.push_str(&format!(" AND c.assignee = {}", push(Bind::Text(assignee.clone()))));
                }
                if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
                    let words = $crate::store::sql::words(text);
                    if words.is_empty() {
                        return Ok($crate::CasePage { cases: Vec::new(), next_cursor: None });
                    }
                    let placeholder = push(Bind::Text((DIALECT.and_query)(&words)));
                    sql.push_str(" AND ");
                    sql.push_str(&DIALECT.text_filter.replace("{}", &placeholder));
                }
                if let Some(before) = before {
                    sql.push_str(&format!(" AND c.number < {}", push(Bind::Int(i64::from(before)))));
                }
                let limit_placeholder = push(Bind::Int(i64::from(limit) + 1));
                sql.push_str(&format!(" ORDER BY c.number DESC LIMIT {limit_placeholder}"));
                let mut query = sqlx::query_as::<_, $crate::store::sql::CaseRow>(&sql);
                for bind in binds {
                    query = match bind {
                        Bind::Text(text) => query.bind(text),
                        Bind::Int(int) => query.bind(int),
                    };
                }
                let rows = query.fetch_all(&self.pool).await?;
                let mut cases = rows
                    .into_iter()
                    .map($crate::store::sql::CaseRow::into_case)
                    .collect::<Result<Vec<_>, _>>()?;
                let next_cursor = if cases.len() > limit as usize {
                    cases.truncate(limit as usize);
                    cases.last().map(|c| c.number.to_string())
                } else {
                    None
                };
                Ok($crate::CasePage { cases, next_cursor })
            }

            async fn transition(
                &self,
                number: $crate::CaseNumber,
                change: $crate::StatusChange,
            ) -> Result<$crate::Case, $crate::Error> {
                change.validate()?;
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let mut case = Self::locked(&mut tx, number).await?;
                let from = case.status;
                let to = change.status;
                if from == to {
                    return Ok(case);
                }
                if !from.can_become(to) {
                    return Err($crate::Error::new($crate::ErrorKind::IllegalTransition { number, from, to }));
                }
                let now = $crate::store::sql::now();
                let resolved_at = match to {
                    $crate::CaseStatus::Resolved => Some(now),
                    $crate::CaseStatus::Open => None,
                    _ => case.resolved_at,
                };
                sqlx::query("UPDATE cases SET status = $2, updated_at = $3, resolved_at = $4 WHERE number = $1")
                    .bind(i64::from(number.get()))
                    .bind(to.as_str())
                    .bind(now)
                    .bind(resolved_at)
                    .execute(&mut *tx)
                    .await?;
                let event = $crate::TimelineEvent::StatusChanged { from, to, reason: change.reason.clone() };
                let who = $crate::store::sql::Who {
                    actor: &change.actor,
                    name: change.actor_name.as_deref(),
                    via: change.via.as_deref(),
                };
                Self::insert_event(&mut tx, number, now, who, event).await?;
                tx.commit().await?;
                case.status = to;
                case.updated_at = now;
                case.resolved_at = resolved_at;
                Ok(case)
            }

            async fn close_quiet_batch(
                &self,
                resolved_before: time::OffsetDateTime,
                actor: &str,
                limit: u32,
            ) -> Result<Vec<$crate::CaseNumber>, $crate::Error> {
                let sql = format!(
                    "SELECT number FROM cases WHERE status = 'resolved' AND {} \
                     ORDER BY number LIMIT $2",
                    DIALECT.resolved_before
                );
                let numbers: Vec<i64> = sqlx::query_scalar(&sql)
                .bind($crate::store::sql::stored_time(resolved_before))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                let due = numbers
                    .into_iter()
                    .map($crate::CaseNumber::from_db)
                    .collect::<Result<Vec<_>, _>>()?;
                $crate::store::close_each(self, due, actor).await
            }

            async fn assign(
                &self,
                number: $crate::CaseNumber,
                assignment: $crate::Assignment,
            ) -> Result<$crate::Case, $crate::Error> {
                assignment.validate()?;
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let mut case = Self::locked(&mut tx, number).await?;
                if case.assignee == assignment.assignee
                    && (assignment.assignee_name.is_none() || case.assignee_name == assignment.assignee_name)
                {
                    return Ok(case);
                }
                let now = $crate::store::sql::now();
                sqlx::query("UPDATE cases SET assignee = $2, assignee_name = $3, updated_at = $4 WHERE number = $1")
                    .bind(i64::from(number.get()))
                    .bind(assignment.assignee.as_deref())
                    .bind(assignment.assignee_name.as_deref())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let event = $crate::TimelineEvent::Assigned {
                    assignee: assignment.assignee.clone(),
                    assignee_name: assignment.assignee_name.clone(),
                };
                let who = $crate::store::sql::Who {
                    actor: &assignment.actor,
                    name: assignment.actor_name.as_deref(),
                    via: assignment.via.as_deref(),
                };
                Self::insert_event(&mut tx, number, now, who, event).await?;
                tx.commit().await?;
                case.assignee = assignment.assignee;
                case.assignee_name = assignment.assignee_name;
                case.updated_at = now;
                Ok(case)
            }

            async fn set_priority(
                &self,
                number: $crate::CaseNumber,
                change: $crate::PriorityChange,
            ) -> Result<$crate::Case, $crate::Error> {
                change.validate()?;
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let mut case = Self::locked(&mut tx, number).await?;
                if case.priority == change.priority {
                    return Ok(case);
                }
                let now = $crate::store::sql::now();
                sqlx::query("UPDATE cases SET priority = $2, updated_at = $3 WHERE number = $1")
                    .bind(i64::from(number.get()))
                    .bind(change.priority.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let event = $crate::TimelineEvent::PriorityChanged { from: case.priority, to: change.priority };
                let who = $crate::store::sql::Who {
                    actor: &change.actor,
                    name: change.actor_name.as_deref(),
                    via: change.via.as_deref(),
                };
                Self::insert_event(&mut tx, number, now, who, event).await?;
                tx.commit().await?;
                case.priority = change.priority;
                case.updated_at = now;
                Ok(case)
            }

            async fn add_note(
                &self,
                number: $crate::CaseNumber,
                note: $crate::NewNote,
            ) -> Result<$crate::TimelineEntry, $crate::Error> {
                note.validate()?;
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                Self::lock(&mut tx, number).await?;
                let now = $crate::store::sql::now();
                Self::touch(&mut tx, number, now).await?;
                let who = $crate::store::sql::Who {
                    actor: &note.author,
                    name: note.author_name.as_deref(),
                    via: note.via.as_deref(),
                };
                let event = $crate::TimelineEvent::Note { text: note.text.clone() };
                let entry = Self::insert_event(&mut tx, number, now, who, event).await?;
                tx.commit().await?;
                Ok(entry)
            }

            async fn append_messages(
                &self,
                number: $crate::CaseNumber,
                batch: $crate::MessageBatch,
            ) -> Result<Vec<$crate::TimelineEntry>, $crate::Error> {
                $crate::model::validate_batch(&batch.messages)?;
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let entries = Self::append_in(&mut tx, number, batch).await?;
                tx.commit().await?;
                Ok(entries)
            }

            async fn append_messages_many(
                &self,
                batches: Vec<($crate::CaseNumber, $crate::MessageBatch)>,
            ) -> Vec<Result<Vec<$crate::TimelineEntry>, $crate::Error>> {
                let mut results: Vec<Option<Result<Vec<$crate::TimelineEntry>, $crate::Error>>> =
                    Vec::with_capacity(batches.len());
                let mut valid = Vec::with_capacity(batches.len());
                for (i, (number, batch)) in batches.into_iter().enumerate() {
                    match $crate::model::validate_batch(&batch.messages) {
                        Ok(()) => {
                            results.push(None);
                            valid.push((i, number, batch));
                        }
                        Err(e) => results.push(Some(Err(e))),
                    }
                }
                if !valid.is_empty() {
                    let indices: Vec<usize> = valid.iter().map(|(i, _, _)| *i).collect();
                    let _gate = self.write_gate().await;
                    let done = async {
                        let mut tx = self.pool.begin().await?;
                        let mut appended = Vec::with_capacity(valid.len());
                        for (i, number, batch) in valid {
                            match Self::append_in(&mut tx, number, batch).await {
                                // Nothing was written for a case that does not exist.
                                Err(e) if matches!(e.kind(), $crate::ErrorKind::NotFound { .. }) => {
                                    appended.push((i, Err(e)));
                                }
                                Err(e) => return Err(e),
                                Ok(entries) => appended.push((i, Ok(entries))),
                            }
                        }
                        tx.commit().await?;
                        Ok::<_, $crate::Error>(appended)
                    }
                    .await;
                    match done {
                        Ok(appended) => {
                            for (i, result) in appended {
                                results[i] = Some(result);
                            }
                        }
                        // The transaction is rolled back: every batch in it failed the same way.
                        Err(e) => {
                            let why = e.to_string();
                            for i in indices {
                                results[i] = Some(Err($crate::Error::new($crate::ErrorKind::Database)
                                    .with_source(why.clone())));
                            }
                        }
                    }
                }
                results
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| Err($crate::Error::new($crate::ErrorKind::Database))))
                    .collect()
            }

            async fn rate(
                &self,
                number: $crate::CaseNumber,
                rating: $crate::Rating,
            ) -> Result<$crate::Case, $crate::Error> {
                rating.validate()?;
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let mut case = Self::locked(&mut tx, number).await?;
                let now = $crate::store::sql::now();
                sqlx::query(
                    "UPDATE cases SET rating_score = $2, rating_comment = $3, updated_at = $4 WHERE number = $1",
                )
                .bind(i64::from(number.get()))
                .bind(i64::from(rating.score))
                .bind(rating.comment.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let actor = format!("discord:{}", case.requester.discord_id);
                let event = $crate::TimelineEvent::Rated { score: rating.score, comment: rating.comment.clone() };
                let who = $crate::store::sql::Who { actor: &actor, name: Some(&case.requester.name), via: None };
                Self::insert_event(&mut tx, number, now, who, event).await?;
                tx.commit().await?;
                case.rating = Some(rating);
                case.updated_at = now;
                Ok(case)
            }

            async fn add_link(
                &self,
                number: $crate::CaseNumber,
                link: $crate::NewLink,
            ) -> Result<$crate::TimelineEntry, $crate::Error> {
                link.validate()?;
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                Self::lock(&mut tx, number).await?;
                let now = $crate::store::sql::now();
                Self::touch(&mut tx, number, now).await?;
                let who = $crate::store::sql::Who {
                    actor: &link.actor,
                    name: link.actor_name.as_deref(),
                    via: link.via.as_deref(),
                };
                let event = $crate::TimelineEvent::Linked { url: link.url.clone(), title: link.title.clone() };
                let entry = Self::insert_event(&mut tx, number, now, who, event).await?;
                tx.commit().await?;
                Ok(entry)
            }

            async fn similar(
                &self,
                text: &str,
                exclude: Option<$crate::CaseNumber>,
                limit: u32,
            ) -> Result<Vec<$crate::SimilarCase>, $crate::Error> {
                $crate::model::validate_limit(limit)?;
                let words = $crate::store::sql::words(text);
                if words.is_empty() {
                    return Ok(Vec::new());
                }
                let rows: Vec<$crate::store::sql::SimilarRow> = sqlx::query_as(DIALECT.similar)
                    .bind((DIALECT.or_query)(&words))
                    .bind(exclude.map_or(0, |n| i64::from(n.get())))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter()
                    .map(|row| Ok($crate::SimilarCase { case: row.case.into_case()?, score: row.score }))
                    .collect()
            }

            async fn timeline(
                &self,
                number: $crate::CaseNumber,
            ) -> Result<Vec<$crate::TimelineEntry>, $crate::Error> {
                Self::fetch_case(&self.pool, number).await?;
                let rows: Vec<$crate::store::sql::EventRow> = sqlx::query_as(
                    "SELECT id, at, actor, actor_name, via, data FROM case_events WHERE case_number = $1 ORDER BY id",
                )
                .bind(i64::from(number.get()))
                .fetch_all(&self.pool)
                .await?;
                let mut entries = rows
                    .into_iter()
                    .map($crate::store::sql::EventRow::into_entry)
                    .collect::<Result<Vec<_>, _>>()?;
                entries.sort_by_key(|e| (e.at, e.id));
                Ok(entries)
            }

            async fn open_cases_for(&self, discord_id: &str) -> Result<Vec<$crate::Case>, $crate::Error> {
                let filter = $crate::CaseFilter {
                    statuses: $crate::CaseStatus::OPEN.to_vec(),
                    requester: Some(discord_id.to_owned()),
                    ..$crate::CaseFilter::default()
                };
                Ok(self.list(&filter, &$crate::PageRequest::first($crate::PageRequest::MAX_LIMIT)).await?.cases)
            }
        }
    };
}

pub(super) use sql_case_store;

/// The database and transaction types of a store, for the shared implementation.
pub(crate) trait HasDb {
    type Db: sqlx::Database;
    type Pool;
    type Tx;
}

#[cfg(test)]
mod tests {
    #[test]
    fn words_drop_operators_stop_words_and_repeats() {
        assert_eq!(
            super::words("The app CRASHES, the app! \"NEAR(x)\" OR -y"),
            ["app", "crashes", "near", "x", "y"]
        );
        assert!(super::words("!!! --- ***").is_empty());
        assert_eq!(super::words(&"w ".repeat(100)), ["w"]);
    }
}
