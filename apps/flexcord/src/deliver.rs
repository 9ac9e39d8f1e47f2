//! Running the routing core's actions against Discord and the case store.
//!
//! [`Executor::execute`] takes one [`Action`] and returns the result event the core expects
//! ([`Action::completed`] or [`Action::failed`]), or `None` when the action belongs to another
//! upstream (Twilio, the virtual agent). The outbox worker calls it; every call is safe to repeat:
//! Discord messages carry a nonce derived from the action id with `enforce_nonce`, and cases are
//! created with the action id as idempotency key and messages with external ids.
//!
//! A DM with files (what an agent sent) is a multipart upload: each file is downloaded within
//! the size cap ([`crate::media`]), a Twilio media item through its short-lived link; a file
//! over the cap, refused by Discord as too large, or gone is named with its link instead.

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use flexcord_cases::{
    Assignment, CaseKind, CaseStatus, CaseStore, MessageBatch, NewCase, NewMessage, Rating,
    Requester, StatusChange,
};
use flexcord_routing::Event;
use flexcord_routing::{
    Action, ActionKind, CaseUpdate, ReportKind, ResolvedBy, Speaker, TranscriptEntry,
};
use flexcord_routing::{Attachment, Button};
use flexcord_twilio::sid::{MediaSid, ServiceSid};
use serde_json::json;
use twilight_http::Client;
use twilight_http::error::ErrorType;
use twilight_http::request::{Form, Request};
use twilight_http::routing::Route;
use twilight_model::channel::Message;
use twilight_model::channel::message::Component;
use twilight_model::channel::message::component::{ActionRow, Button as DButton, ButtonStyle};
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, ChannelMarker, MessageMarker, UserMarker};

use crate::discord::interactions::truncate_message;
use crate::discord::render::{self, Suggestion};
use crate::media::{DownloadError, Downloader};

/// What one delivery gave: the upstream's id for what it created, or why it failed (and whether
/// for good).
type Outcome = Result<Option<String>, (bool, String)>;

/// Runs Discord and case actions.
pub struct Executor {
    http: Arc<Client>,
    application_id: Id<ApplicationMarker>,
    cases: Arc<dyn CaseStore>,
    bot_identity: String,
    downloader: Downloader,
    twilio_media: Option<TwilioMedia>,
}

/// Where the files agents send are fetched: the Twilio client and the media service to use
/// when the webhook did not name one.
#[derive(Debug, Clone)]
pub struct TwilioMedia {
    /// The Twilio client.
    pub client: flexcord_twilio::Client,
    /// The Chat / Conversations service holding the media (`IS…`).
    pub service: Option<ServiceSid>,
}

/// A file of a DM: its bytes, or the line naming it when it cannot be uploaded.
enum Fetched {
    Bytes {
        bytes: Bytes,
        /// The line to post instead if Discord refuses the upload as too large.
        link: String,
    },
    Link(String),
}

/// A failed message creation.
struct Refused {
    permanent: bool,
    reason: String,
    /// Discord refused the upload as too large (413, 40005).
    too_large: bool,
}

impl From<twilight_http::Error> for Refused {
    fn from(error: twilight_http::Error) -> Self {
        let too_large = matches!(
            error.kind(),
            ErrorType::Response { status, .. } if status.get() == 413
        );
        let (permanent, reason) = classify(&error);
        Self {
            permanent,
            reason,
            too_large,
        }
    }
}

fn push_line(text: &mut String, line: &str) {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(line);
}

/// A file name safe inside a multipart header.
fn part_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '"' | '\\' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Discord's "Unknown Message" (10008), or a 404 for the message.
fn is_unknown_message(error: &twilight_http::Error) -> bool {
    match error.kind() {
        ErrorType::Response { status, error, .. } => {
            status.get() == 404
                || matches!(error, twilight_http::api_error::ApiError::General(e) if e.code == 10008)
        }
        _ => false,
    }
}

/// Whether a failed Discord call may succeed later, and why it failed.
fn classify(error: &twilight_http::Error) -> (bool, String) {
    match error.kind() {
        ErrorType::Response { status, error, .. } => {
            let code = status.get();
            let transient = code == 429 || code >= 500;
            (!transient, format!("Discord answered {code}: {error}"))
        }
        ErrorType::Validation | ErrorType::Json | ErrorType::Unauthorized => {
            (true, error.to_string())
        }
        _ => (false, error.to_string()),
    }
}

/// The case requester: the user's Discord display name, or `discord:<id>` when none is known.
fn requester(user: flexcord_routing::UserId, name: Option<&str>) -> Requester {
    Requester {
        discord_id: user.to_string(),
        name: name.map_or_else(|| format!("discord:{user}"), str::to_owned),
    }
}

fn sent_at(at: flexcord_routing::Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
}

/// A suggestion written `[title](https://…)` becomes a linked embed; other text a plain one.
fn suggestion(text: &str) -> Suggestion {
    let linked = text
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("]("))
        .and_then(|(title, rest)| Some((title, rest.strip_suffix(')')?)));
    match linked {
        Some((title, url)) => Suggestion {
            title: title.to_owned(),
            url: Some(url.to_owned()),
            snippet: String::new(),
        },
        None => Suggestion {
            title: text.to_owned(),
            url: None,
            snippet: String::new(),
        },
    }
}

fn button_row(
    buttons: &[Button],
    conversation: &flexcord_routing::ConversationId,
) -> Option<Component> {
    if buttons.is_empty() {
        return None;
    }
    let components = buttons
        .iter()
        .take(5)
        .map(|b| {
            let (label, style) = match b {
                Button::TalkToAgent => ("Talk to a live agent".to_owned(), ButtonStyle::Primary),
                Button::Solved => ("This solved it".to_owned(), ButtonStyle::Success),
                Button::Rate(n) => ("★".repeat(usize::from(*n)), ButtonStyle::Secondary),
            };
            Component::Button(DButton {
                custom_id: Some(b.custom_id(conversation)),
                disabled: false,
                emoji: None,
                id: None,
                label: Some(label),
                sku_id: None,
                style,
                url: None,
            })
        })
        .collect();
    Some(Component::ActionRow(ActionRow {
        components,
        id: None,
    }))
}

impl Executor {
    /// An executor posting as `application_id` and writing cases to `cases`; the bot's messages
    /// in case transcripts carry `bot_identity`.
    pub fn new(
        http: Arc<Client>,
        application_id: Id<ApplicationMarker>,
        cases: Arc<dyn CaseStore>,
        bot_identity: impl Into<String>,
    ) -> Self {
        Self {
            http,
            application_id,
            cases,
            bot_identity: bot_identity.into(),
            downloader: Downloader::default(),
            twilio_media: None,
        }
    }

    /// Files in DMs: downloaded with `downloader` (its size cap is the upload limit), Twilio
    /// media through `twilio`.
    #[must_use]
    pub fn with_files(mut self, downloader: Downloader, twilio: Option<TwilioMedia>) -> Self {
        self.downloader = downloader;
        self.twilio_media = twilio;
        self
    }

    /// Runs one action; `None` when it is not a Discord or case action.
    pub async fn execute(&self, action: &Action) -> Option<Event> {
        let started = std::time::Instant::now();
        let (upstream, result) = match self.discord_action(action).await {
            Some(result) => ("discord", result),
            None => ("cases", self.case_action(action).await?),
        };
        metrics::histogram!(crate::telemetry::UPSTREAM_LATENCY, "upstream" => upstream)
            .record(started.elapsed().as_secs_f64());
        Some(match result {
            Ok(upstream_id) => action.completed(upstream_id),
            Err((permanent, reason)) => {
                tracing::warn!(action = %action.id.as_str(), kind = action.kind.name(), permanent, %reason, "delivery failed");
                action.failed(permanent, reason)
            }
        })
    }

    /// Runs a Discord action; `None` for other actions.
    async fn discord_action(&self, action: &Action) -> Option<Outcome> {
        Some(match &action.kind {
            ActionKind::OpenDm { user } => self.open_dm(*user).await.map(Some),
            ActionKind::SendDm {
                channel,
                text,
                buttons,
                suggestions,
                files,
            } => {
                // Boxed: downloads and uploads make this future large.
                Box::pin(self.send_dm(action, channel.0, text, buttons, suggestions, files))
                    .await
                    .map(Some)
            }
            ActionKind::EditDm {
                channel,
                message,
                text,
            } => self
                .edit_dm(channel.0, message.0, text)
                .await
                .map(|()| None),
            ActionKind::DeleteDm { channel, message } => {
                self.delete_dm(channel.0, message.0).await.map(|()| None)
            }
            ActionKind::Respond { interaction, text } => {
                self.respond(&interaction.token, text).await.map(|()| None)
            }
            _ => return None,
        })
    }

    /// Runs a case action; `None` for other actions.
    async fn case_action(&self, action: &Action) -> Option<Outcome> {
        Some(match &action.kind {
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
                .map(Some),
            ActionKind::UpdateCase {
                number,
                update,
                requester: user,
            } => self
                .update_case(number.as_str(), update, *user)
                .await
                .map(|()| None),
            ActionKind::AnnotateCase { number, entry } => self
                .annotate(action, number.as_str(), entry)
                .await
                .map(|()| None),
            ActionKind::FileReport {
                kind,
                title,
                body,
                requester: user,
                requester_name,
                interaction,
            } => self
                .file_report(
                    action,
                    *kind,
                    (title, body),
                    requester(*user, requester_name.as_deref()),
                    &interaction.token,
                )
                .await
                .map(Some),
            ActionKind::CaseStatus {
                requester: user,
                number,
                interaction,
            } => self
                .case_status(
                    *user,
                    number.as_ref().map(flexcord_routing::CaseNumber::as_str),
                    &interaction.token,
                )
                .await
                .map(|()| None),
            _ => return None,
        })
    }

    async fn open_dm(&self, user: flexcord_routing::UserId) -> Result<String, (bool, String)> {
        let user: Id<UserMarker> = Id::new_checked(user.0).ok_or((true, "user id 0".to_owned()))?;
        let channel = self
            .http
            .create_private_channel(user)
            .await
            .map_err(|e| classify(&e))?
            .model()
            .await
            .map_err(|e| (false, e.to_string()))?;
        Ok(channel.id.to_string())
    }

    /// The bytes of a file for a DM, or the line naming it when it cannot be uploaded. `Err`
    /// only for failures worth retrying.
    async fn fetch_file(&self, file: &Attachment) -> Result<Fetched, (bool, String)> {
        let name = file.display_name();
        let unavailable = || Fetched::Link(format!("{name} (the file is not available)"));
        let url = if let Some(sid) = &file.media_sid {
            let Some(twilio) = &self.twilio_media else {
                return Ok(unavailable());
            };
            let service = file
                .media_service
                .as_deref()
                .and_then(|s| s.parse::<ServiceSid>().ok())
                .or(twilio.service);
            let (Some(service), Ok(sid)) = (service, sid.parse::<MediaSid>()) else {
                tracing::warn!(media = %sid, "no media service for an agent's file");
                return Ok(unavailable());
            };
            let media = match twilio.client.media(&service).fetch(&sid).await {
                Ok(m) => m,
                Err(e) if e.is_retryable() => return Err((false, e.to_string())),
                Err(e) => {
                    tracing::warn!(media = %sid, error = %e, "an agent's file could not be fetched");
                    return Ok(unavailable());
                }
            };
            let Some(url) = media.temporary_url().map(str::to_owned) else {
                return Ok(unavailable());
            };
            if media.size.is_some_and(|n| !self.downloader.fits(n)) {
                return Ok(Fetched::Link(format!("{name}: {url}")));
            }
            url
        } else if file.url.is_empty() {
            return Ok(unavailable());
        } else {
            if file.size.is_some_and(|n| !self.downloader.fits(n)) {
                return Ok(Fetched::Link(file.line()));
            }
            file.url.clone()
        };
        let link = format!("{name}: {url}");
        match self.downloader.get(&url).await {
            Ok(d) => Ok(Fetched::Bytes {
                bytes: d.bytes,
                link,
            }),
            Err(e @ DownloadError::Failed(_)) => Err((false, e.to_string())),
            Err(e) => {
                tracing::info!(file = name, error = %e, "a file is passed on as a link");
                Ok(Fetched::Link(link))
            }
        }
    }

    async fn send_dm(
        &self,
        action: &Action,
        channel: u64,
        text: &str,
        buttons: &[Button],
        suggestions: &[String],
        files: &[Attachment],
    ) -> Result<String, (bool, String)> {
        let channel: Id<ChannelMarker> =
            Id::new_checked(channel).ok_or((true, "channel id 0".to_owned()))?;
        let mut content = text.to_owned();
        let mut uploads = Vec::new();
        for file in files {
            match self.fetch_file(file).await? {
                Fetched::Bytes { bytes, link } => {
                    uploads.push((part_name(file.display_name()), bytes, link));
                }
                Fetched::Link(line) => push_line(&mut content, &line),
            }
        }
        match self
            .create_message(action, channel, &content, buttons, suggestions, &uploads)
            .await
        {
            Err(Refused {
                too_large: true, ..
            }) if !uploads.is_empty() => {
                // Discord's limit is below the configured cap: name the files instead.
                for (_, _, link) in &uploads {
                    push_line(&mut content, link);
                }
                self.create_message(action, channel, &content, buttons, suggestions, &[])
                    .await
                    .map_err(|r| (r.permanent, r.reason))
            }
            other => other.map_err(|r| (r.permanent, r.reason)),
        }
    }

    async fn create_message(
        &self,
        action: &Action,
        channel: Id<ChannelMarker>,
        text: &str,
        buttons: &[Button],
        suggestions: &[String],
        uploads: &[(String, Bytes, String)],
    ) -> Result<String, Refused> {
        let conversation = action
            .id
            .conversation()
            .unwrap_or_else(|| action.id.scope().into());
        let suggestions: Vec<Suggestion> = suggestions.iter().map(|s| suggestion(s)).collect();
        let embeds = render::suggestion_embeds(&suggestions);
        let components: Vec<Component> = button_row(buttons, &conversation).into_iter().collect();
        // twilight's CreateMessage has no `enforce_nonce`: send the body as a raw request so a
        // retried delivery is answered with the first message instead of a duplicate.
        let mut body = json!({
            "content": truncate_message(text),
            "nonce": action.id.nonce(),
            "enforce_nonce": true,
            "embeds": embeds,
            "components": components,
            "allowed_mentions": { "parse": [] },
        });
        let builder = Request::builder(&Route::CreateMessage {
            channel_id: channel.get(),
        });
        let request = if uploads.is_empty() {
            builder.json(&body).build().map_err(Refused::from)?
        } else {
            // Multipart: `payload_json` plus one `files[n]` part per file.
            body["attachments"] = uploads
                .iter()
                .enumerate()
                .map(|(i, (name, _, _))| json!({"id": i, "filename": name}))
                .collect();
            let payload = serde_json::to_vec(&body).unwrap_or_default();
            let mut form = Form::new().json_part(b"payload_json", &payload);
            for (i, (name, bytes, _)) in uploads.iter().enumerate() {
                let part = format!("files[{i}]");
                form = form.file_part(part.as_bytes(), name.as_bytes(), bytes);
            }
            builder.form(form).build().map_err(Refused::from)?
        };
        let message: Message = self
            .http
            .request::<Message>(request)
            .await
            .map_err(Refused::from)?
            .model()
            .await
            .map_err(|e| Refused {
                permanent: false,
                reason: e.to_string(),
                too_large: false,
            })?;
        metrics::counter!(crate::telemetry::MESSAGES_ROUTED, "direction" => "to_discord")
            .increment(1);
        Ok(message.id.to_string())
    }

    async fn edit_dm(&self, channel: u64, message: u64, text: &str) -> Result<(), (bool, String)> {
        let channel: Id<ChannelMarker> =
            Id::new_checked(channel).ok_or((true, "channel id 0".to_owned()))?;
        let message: Id<MessageMarker> =
            Id::new_checked(message).ok_or((true, "message id 0".to_owned()))?;
        let text = truncate_message(text);
        self.http
            .update_message(channel, message)
            .content(Some(&text))
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn delete_dm(&self, channel: u64, message: u64) -> Result<(), (bool, String)> {
        let channel: Id<ChannelMarker> =
            Id::new_checked(channel).ok_or((true, "channel id 0".to_owned()))?;
        let message: Id<MessageMarker> =
            Id::new_checked(message).ok_or((true, "message id 0".to_owned()))?;
        match self.http.delete_message(channel, message).await {
            Ok(_) => Ok(()),
            // Already gone (an earlier attempt, or deleted on Discord's side): done.
            Err(e) if is_unknown_message(&e) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }

    async fn respond(&self, token: &str, text: &str) -> Result<(), (bool, String)> {
        let text = truncate_message(text);
        self.http
            .interaction(self.application_id)
            .update_response(token)
            .content(Some(&text))
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    fn author_of(&self, speaker: &Speaker, user: Option<flexcord_routing::UserId>) -> String {
        match (speaker, user) {
            (Speaker::User, Some(u)) => format!("discord:{u}"),
            (Speaker::User, None) => "discord:user".to_owned(),
            (Speaker::Bot, _) => self.bot_identity.clone(),
            (Speaker::Agent(name), _) => name.clone(),
        }
    }

    async fn open_case(
        &self,
        action: &Action,
        requester: Requester,
        subject: &str,
        transcript: &[TranscriptEntry],
        conversation: &flexcord_routing::ConversationId,
    ) -> Result<String, (bool, String)> {
        let subject: String = if subject.trim().is_empty() {
            "Support request".to_owned()
        } else {
            subject.chars().take(200).collect()
        };
        let user = requester
            .discord_id
            .parse()
            .ok()
            .map(flexcord_routing::UserId);
        let new = NewCase::new(CaseKind::Support, subject, requester)
            .idempotency_key(format!("action:{}", action.id.as_str()));
        let case = self
            .cases
            .create(new)
            .await
            .map_err(|e| (!e.is_retryable(), e.to_string()))?;
        let messages: Vec<NewMessage> = transcript
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                NewMessage::new(
                    self.author_of(&entry.speaker, user),
                    entry.text.clone(),
                    sent_at(entry.at),
                )
                .external_id(format!("{conversation}:transcript:{i}"))
            })
            .collect();
        for chunk in messages.chunks(500) {
            self.cases
                .append_messages(
                    case.number,
                    MessageBatch {
                        messages: chunk.to_vec(),
                    },
                )
                .await
                .map_err(|e| (!e.is_retryable(), e.to_string()))?;
        }
        Ok(case.number.to_string())
    }

    async fn update_case(
        &self,
        number: &str,
        update: &CaseUpdate,
        user: Option<flexcord_routing::UserId>,
    ) -> Result<(), (bool, String)> {
        let number: flexcord_cases::CaseNumber = number
            .parse()
            .map_err(|e: flexcord_cases::Error| (true, e.to_string()))?;
        let fail = |e: flexcord_cases::Error| (!e.is_retryable(), e.to_string());
        match update {
            CaseUpdate::Open { assignee } => {
                self.cases
                    .assign(
                        number,
                        Assignment {
                            assignee: Some(assignee.clone()),
                            actor: assignee.clone(),
                        },
                    )
                    .await
                    .map_err(fail)?;
                self.cases
                    .transition(
                        number,
                        StatusChange::new(CaseStatus::Open, assignee.clone()),
                    )
                    .await
                    .map_err(fail)?;
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
                self.cases
                    .transition(
                        number,
                        StatusChange::new(CaseStatus::Resolved, actor).reason(reason),
                    )
                    .await
                    .map_err(fail)?;
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
                    .map_err(fail)?;
            }
        }
        Ok(())
    }

    async fn annotate(
        &self,
        action: &Action,
        number: &str,
        entry: &TranscriptEntry,
    ) -> Result<(), (bool, String)> {
        let number: flexcord_cases::CaseNumber = number
            .parse()
            .map_err(|e: flexcord_cases::Error| (true, e.to_string()))?;
        let case = self
            .cases
            .get(number)
            .await
            .map_err(|e| (!e.is_retryable(), e.to_string()))?;
        let user = case
            .requester
            .discord_id
            .parse()
            .ok()
            .map(flexcord_routing::UserId);
        // The case's own changes (status, assignee) are stamped by the case store when they are
        // delivered, which can be after this message was handled. Actions of one conversation
        // are delivered in order, so whatever the case recorded before now happened before
        // this message: never place the message before it on the timeline.
        let at = sent_at(entry.at).max(case.updated_at);
        let message = NewMessage::new(self.author_of(&entry.speaker, user), entry.text.clone(), at)
            .external_id(format!("action:{}", action.id.as_str()));
        self.cases
            .append_messages(
                number,
                MessageBatch {
                    messages: vec![message],
                },
            )
            .await
            .map_err(|e| (!e.is_retryable(), e.to_string()))?;
        Ok(())
    }

    async fn file_report(
        &self,
        action: &Action,
        kind: ReportKind,
        (title, body): (&str, &str),
        requester: Requester,
        token: &str,
    ) -> Result<String, (bool, String)> {
        let case_kind = match kind {
            ReportKind::Bug => CaseKind::Bug,
            ReportKind::Feature => CaseKind::Feature,
        };
        let new = NewCase::new(case_kind, title, requester)
            .description(body)
            .idempotency_key(format!("action:{}", action.id.as_str()));
        let case = self
            .cases
            .create(new)
            .await
            .map_err(|e| (!e.is_retryable(), e.to_string()))?;
        let mut text = format!(
            "Thanks! Your report **{title}** is filed as **{}**.",
            case.number
        );
        if case_kind == CaseKind::Bug {
            let similar = self
                .cases
                .similar(&format!("{title} {body}"), Some(case.number), 3)
                .await
                .unwrap_or_default();
            {
                if !similar.is_empty() {
                    text.push_str("\nIt may be the same as:");
                    for s in similar {
                        let _ = write!(
                            text,
                            "\n• {} {} ({})",
                            s.case.number, s.case.subject, s.case.status
                        );
                    }
                }
            }
        }
        self.respond(token, &text).await?;
        Ok(case.number.to_string())
    }

    async fn case_status(
        &self,
        user: flexcord_routing::UserId,
        number: Option<&str>,
        token: &str,
    ) -> Result<(), (bool, String)> {
        let me = user.to_string();
        let text = if let Some(number) = number {
            match number.parse::<flexcord_cases::CaseNumber>() {
                Ok(n) => match self.cases.get(n).await {
                    Ok(c) if c.requester.discord_id == me => {
                        format!("**{}** {}: {} ({})", c.number, c.kind, c.subject, c.status)
                    }
                    Err(e) if e.is_retryable() => return Err((false, e.to_string())),
                    Ok(_) | Err(_) => format!("I found no case {n} of yours."),
                },
                Err(_) => format!("`{number}` is not a case number."),
            }
        } else {
            let cases = self
                .cases
                .open_cases_for(&me)
                .await
                .map_err(|e| (!e.is_retryable(), e.to_string()))?;
            if cases.is_empty() {
                "You have no open cases.".to_owned()
            } else {
                let mut text = "Your open cases:".to_owned();
                for c in cases.iter().take(20) {
                    let _ = write!(
                        text,
                        "\n• **{}** {}: {} ({})",
                        c.number, c.kind, c.subject, c.status
                    );
                }
                text
            }
        };
        self.respond(token, &text).await
    }
}
