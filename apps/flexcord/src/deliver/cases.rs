//! Running the routing core's case actions, and the interaction answers composed around the
//! case store (decision 0006: a command without a conversation is one composite action).
//!
//! Every call is safe to repeat: cases are created with the action id as idempotency key,
//! timeline messages carry external ids, a status change to the status the case already has is
//! done, and the composite answers (`FileReport`, `CaseStatus`, `CloseCase`) only edit the
//! interaction's answer and post one announcement under the action's nonce.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use flexcord_cases::{
    Assignment, Case, CaseKind, CaseNumber, CaseSource, CaseStatus, CaseStore, ErrorKind,
    MessageBatch, NewCase, NewMessage, Rating, Requester, StatusChange,
};
use flexcord_routing::{
    Action, ActionKind, CaseUpdate, ConversationId, Interaction, ReportKind, ResolvedBy, Speaker,
    TranscriptEntry, UserId,
};
use flexcord_store::{Failure, Receipt};

use super::discord::DiscordExecutor;

/// How many likely duplicates a new bug report lists.
const DUPLICATES_SHOWN: u32 = 3;

/// How many of a requester's open cases `/case status` lists.
const OPEN_CASES_SHOWN: usize = 20;

/// How many transcript lines one case-store call appends at most.
const APPEND_BATCH: usize = 64;

/// How long the first of the waiting lines waits for more before they are appended: each call
/// is a write transaction that the conversation store's writer waits for (decision 0034), so a
/// steady trickle of lines is appended a few at a time rather than one transaction each. A
/// line lets its conversation's messages pass, so nobody waits for it but the case's record.
const APPEND_LINGER: std::time::Duration = std::time::Duration::from_millis(10);

/// A transcript line on its way to the case store, and where its outcome goes.
struct Append {
    number: CaseNumber,
    speaker: Speaker,
    text: String,
    name: Option<String>,
    at: time::OffsetDateTime,
    /// The line's external id (the action's), so a retry adds nothing.
    external_id: String,
    reply: oneshot::Sender<Result<(), Failure>>,
}

/// Runs case actions against a [`CaseStore`].
pub struct CaseExecutor {
    cases: Arc<dyn CaseStore>,
    bot_identity: String,
    /// The transcript appender (started on first use; see [`append_lines`]).
    appender: OnceLock<mpsc::Sender<Append>>,
}

/// Appends the transcript lines that wait, all of them in one case-store call
/// ([`CaseStore::append_messages_many`]: one transaction on a database store), and answers each
/// with its own outcome. Lines come from many conversations delivered at once; one call each
/// made the case store's single writer the bottleneck of the whole bridge (decision 0025).
/// Lines are appended in the order they were queued (a conversation's next actions may run
/// while its line waits here: `ActionKind::overlaps`). Ends when the executor is dropped.
async fn append_lines(cases: Arc<dyn CaseStore>, bot: String, mut rx: mpsc::Receiver<Append>) {
    let mut waiting = Vec::with_capacity(APPEND_BATCH);
    while rx.recv_many(&mut waiting, APPEND_BATCH).await > 0 {
        let until = tokio::time::Instant::now() + APPEND_LINGER;
        while waiting.len() < APPEND_BATCH {
            let room = APPEND_BATCH - waiting.len();
            match tokio::time::timeout_at(until, rx.recv_many(&mut waiting, room)).await {
                Ok(n) if n > 0 => {}
                // the time is up, or the queue closed: append what waits
                _ => break,
            }
        }
        // Each case once: its requester (the author of the user's lines) and its last change.
        let mut numbers: Vec<CaseNumber> = waiting.iter().map(|a| a.number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let found = futures::future::join_all(numbers.iter().map(|n| cases.get(*n))).await;
        let cases_found: HashMap<CaseNumber, _> = numbers.into_iter().zip(found).collect();
        // One batch per case, its lines in the order they were queued: one case update for all
        // of them (lines of different cases are independent).
        let mut lines: Vec<(CaseNumber, MessageBatch)> = Vec::new();
        let mut replies: Vec<Vec<oneshot::Sender<Result<(), Failure>>>> = Vec::new();
        let mut position: HashMap<CaseNumber, usize> = HashMap::new();
        for line in waiting.drain(..) {
            let case = match &cases_found[&line.number] {
                Ok(case) => case,
                Err(e) => {
                    let _ = line.reply.send(Err(failure(e)));
                    continue;
                }
            };
            let user = case.requester.discord_id.parse().ok().map(UserId);
            // The case's own changes (status, assignee) are stamped by the case store when
            // they are delivered, which can be after this line was handled. A change that
            // follows the line in its conversation waits for it (`ActionKind::overlaps`), so
            // whatever the case recorded before happened before this line: never place the
            // line before it on the timeline.
            let at = line.at.max(case.updated_at);
            let mut message = NewMessage::new(author_of(&bot, &line.speaker, user), line.text, at)
                .external_id(line.external_id);
            message.author_name = line.name;
            // A line the store would refuse fails alone, not with the case's other lines.
            if let Err(e) = message.validate() {
                let _ = line.reply.send(Err(failure(&e)));
                continue;
            }
            let k = *position.entry(line.number).or_insert_with(|| {
                lines.push((line.number, MessageBatch::new(Vec::new())));
                replies.push(Vec::new());
                lines.len() - 1
            });
            lines[k].1.messages.push(message);
            replies[k].push(line.reply);
        }
        if lines.is_empty() {
            continue;
        }
        let results = cases.append_messages_many(lines).await;
        // A reply without a result (a store answering fewer) is dropped: a transient failure.
        for (replies, result) in replies.into_iter().zip(results) {
            let outcome = result.map(|_| ()).map_err(|e| failure(&e));
            for reply in replies {
                let _ = reply.send(outcome.clone());
            }
        }
    }
}

/// Who wrote a line: the requester's Discord id, the bot, or the agent.
fn author_of(bot: &str, speaker: &Speaker, user: Option<UserId>) -> String {
    match (speaker, user) {
        (Speaker::User, Some(u)) => format!("discord:{u}"),
        (Speaker::User, None) => "discord:user".to_owned(),
        (Speaker::Bot, _) => bot.to_owned(),
        (Speaker::Agent(name), _) => name.clone(),
    }
}

/// The outbox's view of a failed case-store call: the store's own retryable errors (a busy
/// database, an unreachable remote store) are tried again, anything else is permanent.
pub fn failure(error: &flexcord_cases::Error) -> Failure {
    if error.is_retryable() {
        Failure::transient(error.to_string())
    } else {
        Failure::permanent(error.to_string())
    }
}

/// The case requester: the user's Discord display name, or `discord:<id>` when none is known.
fn requester(user: UserId, name: Option<&str>) -> Requester {
    Requester {
        discord_id: user.to_string(),
        name: name.map_or_else(|| format!("discord:{user}"), str::to_owned),
    }
}

fn sent_at(at: flexcord_routing::Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
}

fn case_number(number: &flexcord_routing::CaseNumber) -> Result<CaseNumber, Failure> {
    number
        .as_str()
        .parse()
        .map_err(|e: flexcord_cases::Error| Failure::permanent(e.to_string()))
}

/// One line about a case, for interaction answers.
fn case_line(c: &Case) -> String {
    format!("**{}** {}: {} ({})", c.number, c.kind, c.subject, c.status)
}

impl CaseExecutor {
    /// An executor writing to `cases`; the bot's lines in case timelines carry `bot_identity`.
    pub fn new(cases: Arc<dyn CaseStore>, bot_identity: impl Into<String>) -> Self {
        Self {
            cases,
            bot_identity: bot_identity.into(),
            appender: OnceLock::new(),
        }
    }

    /// Queues one transcript line to the appender and waits for its outcome.
    async fn append_line(&self, line: Append) -> Result<(), Failure> {
        let queue = self.appender.get_or_init(|| {
            let (tx, rx) = mpsc::channel(4 * APPEND_BATCH);
            tokio::spawn(append_lines(
                self.cases.clone(),
                self.bot_identity.clone(),
                rx,
            ));
            tx
        });
        queue
            .send(line)
            .await
            .map_err(|_| Failure::transient("the transcript appender stopped"))
    }

    /// Runs one case action (see [`super::Upstream::of`]); interaction answers go through
    /// `discord`. Any other action is refused as permanent.
    ///
    /// # Errors
    /// The [`Failure`] the outbox records: retried, or a dead letter.
    pub async fn run(
        &self,
        action: &Action,
        discord: &DiscordExecutor,
    ) -> Result<Receipt, Failure> {
        match &action.kind {
            ActionKind::OpenCase {
                requester: user,
                requester_name,
                subject,
                transcript,
                conversation,
            } => self
                .open_case(
                    action,
                    requester(*user, requester_name.as_deref()),
                    subject,
                    transcript,
                    conversation,
                )
                .await
                .map(|number| {
                    // The hand-off's case: one per conversation handed off, in every mode.
                    crate::telemetry::count_handoff();
                    Receipt::id(number)
                }),
            ActionKind::UpdateCase {
                number,
                update,
                requester: user,
            } => self
                .update_case(case_number(number)?, update, *user)
                .await
                .map(|()| Receipt::done()),
            ActionKind::AnnotateCase { number, entry } => self
                .annotate(action, case_number(number)?, entry)
                .await
                .map(|()| Receipt::done()),
            ActionKind::FileReport {
                kind,
                title,
                body,
                requester: user,
                requester_name,
                interaction,
                announce,
            } => {
                let report = Report {
                    kind: *kind,
                    title,
                    body,
                    requester: requester(*user, requester_name.as_deref()),
                    interaction,
                    announce: announce.map(|c| c.0),
                };
                self.file_report(action, report, discord)
                    .await
                    .map(Receipt::id)
            }
            ActionKind::CaseStatus {
                requester: user,
                number,
                interaction,
            } => {
                let text = self.case_status(*user, number.as_ref()).await?;
                answer(discord, interaction, &text).await?;
                Ok(Receipt::done())
            }
            ActionKind::CloseCase {
                requester: user,
                number,
                interaction,
            } => {
                let text = self.close_case(*user, number).await?;
                answer(discord, interaction, &text).await?;
                Ok(Receipt::done())
            }
            other => Err(Failure::permanent(format!(
                "{} is not a case action",
                other.name()
            ))),
        }
    }

    async fn open_case(
        &self,
        action: &Action,
        requester: Requester,
        subject: &str,
        transcript: &[TranscriptEntry],
        conversation: &ConversationId,
    ) -> Result<String, Failure> {
        let subject: String = if subject.trim().is_empty() {
            "Support request".to_owned()
        } else {
            subject.chars().take(200).collect()
        };
        let user = requester.discord_id.parse().ok().map(UserId);
        let new = NewCase::new(CaseKind::Support, subject, requester)
            .idempotency_key(format!("action:{}", action.id.as_str()));
        let case = self.cases.create(new).await.map_err(|e| failure(&e))?;
        let messages: Vec<NewMessage> = transcript
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let mut message = NewMessage::new(
                    author_of(&self.bot_identity, &entry.speaker, user),
                    entry.text.clone(),
                    sent_at(entry.at),
                )
                .external_id(format!("{conversation}:transcript:{i}"));
                message.author_name.clone_from(&entry.name);
                message
            })
            .collect();
        for chunk in messages.chunks(500) {
            self.cases
                .append_messages(case.number, MessageBatch::new(chunk.to_vec()))
                .await
                .map_err(|e| failure(&e))?;
        }
        Ok(case.number.to_string())
    }

    /// A status change; one the case already went through (a retried delivery whose first
    /// answer was lost) is done.
    async fn transition(&self, number: CaseNumber, change: StatusChange) -> Result<Case, Failure> {
        let to = change.status;
        match self.cases.transition(number, change).await {
            Ok(case) => Ok(case),
            Err(e) if matches!(e.kind(), ErrorKind::IllegalTransition { .. }) => {
                match self.cases.get(number).await {
                    Ok(case) if case.status == to => Ok(case),
                    _ => Err(failure(&e)),
                }
            }
            Err(e) => Err(failure(&e)),
        }
    }

    async fn update_case(
        &self,
        number: CaseNumber,
        update: &CaseUpdate,
        user: Option<UserId>,
    ) -> Result<(), Failure> {
        if let Some(user) = user {
            // On the requester's behalf: only their own case.
            let case = self.cases.get(number).await.map_err(|e| failure(&e))?;
            if case.requester.discord_id != user.to_string() {
                return Err(Failure::permanent(format!(
                    "{number} is not a case of discord:{user}"
                )));
            }
        }
        match update {
            CaseUpdate::Open {
                assignee,
                assignee_name,
            } => {
                let mut assignment = Assignment::new(Some(assignee.clone()), assignee.clone());
                assignment.assignee_name.clone_from(assignee_name);
                assignment.actor_name.clone_from(assignee_name);
                self.cases
                    .assign(number, assignment)
                    .await
                    .map_err(|e| failure(&e))?;
                let mut change = StatusChange::new(CaseStatus::Open, assignee.clone());
                change.actor_name.clone_from(assignee_name);
                self.transition(number, change).await?;
            }
            CaseUpdate::Resolved { by } => {
                let (actor, reason) = match by {
                    ResolvedBy::Agent => ("agent".to_owned(), "closed by agent"),
                    ResolvedBy::Requester => (
                        user.map_or_else(|| "requester".to_owned(), |u| format!("discord:{u}")),
                        "closed by requester",
                    ),
                    ResolvedBy::Idle => ("flexcord".to_owned(), "idle"),
                    ResolvedBy::Unreachable => ("flexcord".to_owned(), "user unreachable"),
                };
                self.transition(
                    number,
                    StatusChange::new(CaseStatus::Resolved, actor).reason(reason),
                )
                .await?;
            }
            CaseUpdate::Rating { stars } => {
                self.cases
                    .rate(
                        number,
                        Rating {
                            score: *stars,
                            comment: None,
                        },
                    )
                    .await
                    .map_err(|e| failure(&e))?;
            }
        }
        Ok(())
    }

    async fn annotate(
        &self,
        action: &Action,
        number: CaseNumber,
        entry: &TranscriptEntry,
    ) -> Result<(), Failure> {
        let (reply, answer) = oneshot::channel();
        self.append_line(Append {
            number,
            speaker: entry.speaker.clone(),
            text: entry.text.clone(),
            name: entry.name.clone(),
            at: sent_at(entry.at),
            external_id: format!("action:{}", action.id.as_str()),
            reply,
        })
        .await?;
        answer
            .await
            .map_err(|_| Failure::transient("the transcript appender dropped a line"))?
    }

    /// `/bug`, `/new_feature`: the case (idempotent by the action id), the answer with its
    /// number and likely duplicates, then the announcement. An answer Discord no longer takes
    /// (the interaction expired while the store was down) is logged and skipped: the case is
    /// filed and announced anyway.
    async fn file_report(
        &self,
        action: &Action,
        report: Report<'_>,
        discord: &DiscordExecutor,
    ) -> Result<String, Failure> {
        let kind = match report.kind {
            ReportKind::Bug => CaseKind::Bug,
            ReportKind::Feature => CaseKind::Feature,
        };
        let source = CaseSource {
            guild_id: report.interaction.guild.map(|g| g.to_string()),
            channel_id: report.interaction.channel.map(|c| c.to_string()),
            ..CaseSource::default()
        };
        let new = NewCase::new(kind, report.title, report.requester.clone())
            .description(report.body)
            .source(source)
            .idempotency_key(format!("action:{}", action.id.as_str()));
        let case = self.cases.create(new).await.map_err(|e| failure(&e))?;
        let what = match report.kind {
            ReportKind::Bug => "bug report",
            ReportKind::Feature => "feature request",
        };
        let mut text = format!(
            "Thanks! Your {what} **{}** is filed as **{}**.",
            case.subject, case.number
        );
        if kind == CaseKind::Bug {
            match self
                .cases
                .similar(
                    &format!("{} {}", case.subject, case.description),
                    Some(case.number),
                    DUPLICATES_SHOWN,
                )
                .await
            {
                Ok(similar) if !similar.is_empty() => {
                    text.push_str("\nIt may be the same as:");
                    for s in similar {
                        let _ = write!(
                            text,
                            "\n• {} {} ({})",
                            s.case.number, s.case.subject, s.case.status
                        );
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "looking for duplicates failed"),
            }
        }
        match discord.respond(report.interaction, &text).await {
            Ok(()) => {}
            Err(f) if f.permanent => {
                tracing::warn!(case = %case.number, reason = %f.reason, "the report's answer could not be sent");
            }
            Err(f) => return Err(f),
        }
        if let Some(channel) = report.announce {
            let note = format!(
                "New {what} **{}**: {} (from {})",
                case.number, case.subject, case.requester.name
            );
            discord.announce(action, channel, &note).await?;
        }
        Ok(case.number.to_string())
    }

    /// The caller's case, or the text saying why not.
    async fn own_case(&self, user: UserId, number: &str) -> Result<Result<Case, String>, Failure> {
        let Ok(n) = number.parse::<CaseNumber>() else {
            return Ok(Err(format!(
                "`{number}` is not a case number (they look like CASE-000123)."
            )));
        };
        match self.cases.get(n).await {
            Ok(case) if case.requester.discord_id == user.to_string() => Ok(Ok(case)),
            Ok(_) => Ok(Err(format!("I found no case {n} of yours."))),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound { .. }) => {
                Ok(Err(format!("I found no case {n} of yours.")))
            }
            Err(e) => Err(failure(&e)),
        }
    }

    /// `/case status [number]`: one case of the caller's, or their open cases.
    async fn case_status(
        &self,
        user: UserId,
        number: Option<&flexcord_routing::CaseNumber>,
    ) -> Result<String, Failure> {
        if let Some(number) = number {
            return Ok(match self.own_case(user, number.as_str()).await? {
                Ok(case) => case_line(&case),
                Err(text) => text,
            });
        }
        let cases = self
            .cases
            .open_cases_for(&user.to_string())
            .await
            .map_err(|e| failure(&e))?;
        if cases.is_empty() {
            return Ok("You have no open cases.".to_owned());
        }
        let mut text = "Your open cases:".to_owned();
        for c in cases.iter().take(OPEN_CASES_SHOWN) {
            let _ = write!(text, "\n• {}", case_line(c));
        }
        Ok(text)
    }

    /// `/case close <number>` of a case that is not the caller's live conversation.
    async fn close_case(
        &self,
        user: UserId,
        number: &flexcord_routing::CaseNumber,
    ) -> Result<String, Failure> {
        let case = match self.own_case(user, number.as_str()).await? {
            Ok(case) => case,
            Err(text) => return Ok(text),
        };
        if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
            return Ok(format!("**{}** is already {}.", case.number, case.status));
        }
        let change = StatusChange::new(CaseStatus::Resolved, format!("discord:{user}"))
            .reason("closed by requester");
        match self.cases.transition(case.number, change).await {
            Ok(c) => Ok(format!("**{}** is now {}. Thank you!", c.number, c.status)),
            Err(e) if matches!(e.kind(), ErrorKind::IllegalTransition { .. }) => {
                // Resolved by an earlier attempt whose answer was lost, or by someone else.
                Ok(match self.cases.get(case.number).await {
                    Ok(c) => format!("**{}** is now {}.", c.number, c.status),
                    Err(e) => return Err(failure(&e)),
                })
            }
            Err(e) => Err(failure(&e)),
        }
    }
}

/// A report to file.
struct Report<'a> {
    kind: ReportKind,
    title: &'a str,
    body: &'a str,
    requester: Requester,
    interaction: &'a Interaction,
    announce: Option<u64>,
}

/// Answers an interaction; an answer Discord refuses for good (the interaction expired) is
/// logged, not retried.
async fn answer(
    discord: &DiscordExecutor,
    interaction: &Interaction,
    text: &str,
) -> Result<(), Failure> {
    match discord.respond(interaction, text).await {
        Err(f) if f.permanent => {
            tracing::warn!(reason = %f.reason, "an interaction answer could not be sent");
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flexcord_cases::{TimelineEntry, TimelineEvent};

    fn line(
        number: CaseNumber,
        text: &str,
        id: &str,
    ) -> (Append, oneshot::Receiver<Result<(), Failure>>) {
        let (reply, outcome) = oneshot::channel();
        let line = Append {
            number,
            speaker: Speaker::Agent("agent.jane".into()),
            text: text.to_owned(),
            name: Some("Jane".into()),
            at: time::OffsetDateTime::now_utc(),
            external_id: id.to_owned(),
            reply,
        };
        (line, outcome)
    }

    fn texts(timeline: &[TimelineEntry]) -> Vec<String> {
        timeline
            .iter()
            .filter_map(|e| match &e.event {
                TimelineEvent::Message { text } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn lines_waiting_together_are_appended_per_case_in_order_and_a_bad_one_fails_alone() {
        let cases = flexcord_cases::open("sqlite::memory:").await.unwrap();
        let mut numbers = Vec::new();
        for subject in ["one", "two"] {
            let case = cases
                .create(flexcord_cases::NewCase::new(
                    flexcord_cases::CaseKind::Support,
                    subject,
                    requester(UserId(500), Some("alice")),
                ))
                .await
                .unwrap();
            numbers.push(case.number);
        }
        let (tx, rx) = mpsc::channel(16);
        let mut outcomes = Vec::new();
        for (case, text, id) in [
            (0, "first", "a1"),
            (1, "other case", "b1"),
            (0, &"x".repeat(20_000) as &str, "a2"),
            (0, "second", "a3"),
        ] {
            let (line, outcome) = line(numbers[case], text, id);
            tx.send(line).await.unwrap();
            outcomes.push(outcome);
        }
        drop(tx);
        append_lines(cases.clone(), "bot".into(), rx).await;
        let results: Vec<Result<(), Failure>> = futures::future::join_all(outcomes)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
        assert!(
            results[2].as_ref().is_err_and(|f| f.permanent),
            "{results:?}"
        );
        assert_eq!(
            texts(&cases.timeline(numbers[0]).await.unwrap()),
            ["first", "second"]
        );
        assert_eq!(
            texts(&cases.timeline(numbers[1]).await.unwrap()),
            ["other case"]
        );
    }
}
