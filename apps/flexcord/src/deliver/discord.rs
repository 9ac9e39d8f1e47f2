//! Running the routing core's Discord actions: DMs (open, send, edit, delete) and interaction
//! answers.
//!
//! Every call is safe to repeat: a message is created with a nonce derived from the action id
//! and `enforce_nonce`, so Discord answers a retry with the message the first attempt made;
//! edits are idempotent; deleting a message that is already gone counts as done; the answer to
//! a deferred interaction edits its original response.
//!
//! A DM with files (what an agent sent) is a multipart upload: each file is downloaded within
//! the size cap ([`crate::media`]), a Twilio media item through its short-lived link; a file
//! over the cap, refused by Discord as too large, or gone is named with its link instead.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flexcord_routing::{Ack, Action, ActionKind, Attachment, Button, ConversationId, Interaction};
use flexcord_store::{Failure, Receipt};
use flexcord_twilio::sid::{MediaSid, ServiceSid};
use serde_json::json;
use twilight_http::Client;
use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;
use twilight_http::request::{Form, Request};
use twilight_http::routing::Route;
use twilight_model::channel::Message;
use twilight_model::channel::message::{Component, MessageFlags};
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, ChannelMarker, MessageMarker, UserMarker};

use crate::discord::render::{self, Suggestion, truncate_message};
use crate::media::{DownloadError, Downloader};
use crate::telemetry;

/// Discord's JSON error code for "Cannot send messages to this user" (DMs closed).
pub const CANNOT_DM_USER: u64 = 50007;

/// Runs Discord actions.
pub struct DiscordExecutor {
    http: Arc<Client>,
    application_id: Id<ApplicationMarker>,
    downloader: Downloader,
    twilio_media: Option<TwilioMedia>,
    community: CommunitySetup,
    /// Whether each channel posted to is an announcement channel (asked once per channel).
    announcement_channels: std::sync::Mutex<std::collections::HashMap<u64, bool>>,
}

/// What `/setup` lays out: the names and the configured staff role.
#[derive(Debug, Clone, Default)]
pub struct CommunitySetup {
    /// The names of the category, channels and staff role.
    pub names: crate::config::GuildNames,
    /// `community.staff_role_id`, if set.
    pub staff_role: Option<u64>,
}

/// Discord's "This message has already been crossposted".
const ALREADY_CROSSPOSTED: u64 = 40033;

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
    failure: Failure,
    /// Discord refused the upload as too large (413, 40005).
    too_large: bool,
}

impl From<twilight_http::Error> for Refused {
    fn from(error: twilight_http::Error) -> Self {
        let too_large = matches!(
            error.kind(),
            ErrorType::Response { status, .. } if status.get() == 413
        );
        Self {
            failure: failure(&error),
            too_large,
        }
    }
}

/// The outbox's view of a failed Discord call: 429 and 5xx answers and broken connections are
/// tried again (a 429 after its `retry_after`); every other answer (50007 cannot DM, 10003
/// unknown channel, 50013 missing permissions, a 4xx) and an unusable request are permanent.
pub fn failure(error: &twilight_http::Error) -> Failure {
    match error.kind() {
        ErrorType::Response { status, error, .. } => {
            let code = status.get();
            let reason = format!("Discord answered {code}: {error}");
            if code == 429 || code >= 500 {
                let mut f = Failure::transient(reason);
                if let ApiError::Ratelimited(r) = error {
                    f.retry_after = Duration::try_from_secs_f64(r.retry_after).ok();
                }
                f
            } else {
                Failure::permanent(reason)
            }
        }
        ErrorType::Validation | ErrorType::Json | ErrorType::Unauthorized => {
            Failure::permanent(error.to_string())
        }
        _ => Failure::transient(error.to_string()),
    }
}

/// Whether a twilight error is Discord's "Cannot send messages to this user" (50007).
pub fn is_cannot_dm(error: &twilight_http::Error) -> bool {
    matches!(
        error.kind(),
        ErrorType::Response { error: ApiError::General(e), .. } if e.code == CANNOT_DM_USER
    )
}

/// Discord's "Unknown Message" (10008), or a 404 for the message.
fn is_unknown_message(error: &twilight_http::Error) -> bool {
    match error.kind() {
        ErrorType::Response { status, error, .. } => {
            status.get() == 404 || matches!(error, ApiError::General(e) if e.code == 10008)
        }
        _ => false,
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

fn channel_id(id: u64) -> Result<Id<ChannelMarker>, Failure> {
    Id::new_checked(id).ok_or_else(|| Failure::permanent("channel id 0"))
}

/// What a message creation sends besides its text.
#[derive(Default)]
struct Extras<'a> {
    buttons: &'a [Button],
    suggestions: &'a [String],
    uploads: &'a [(String, Bytes, String)],
}

impl DiscordExecutor {
    /// An executor posting as `application_id`.
    pub fn new(http: Arc<Client>, application_id: Id<ApplicationMarker>) -> Self {
        Self {
            http,
            application_id,
            downloader: Downloader::default(),
            twilio_media: None,
            community: CommunitySetup::default(),
            announcement_channels: std::sync::Mutex::default(),
        }
    }

    /// What `/setup` lays out (the configured names and staff role).
    #[must_use]
    pub fn with_community(mut self, community: CommunitySetup) -> Self {
        self.community = community;
        self
    }

    /// Files in DMs: downloaded with `downloader` (its size cap is the upload limit), Twilio
    /// media through `twilio`.
    #[must_use]
    pub fn with_files(mut self, downloader: Downloader, twilio: Option<TwilioMedia>) -> Self {
        self.downloader = downloader;
        self.twilio_media = twilio;
        self
    }

    /// Runs one Discord action (see [`super::Upstream::of`]); any other action is refused as
    /// permanent.
    ///
    /// # Errors
    /// The [`Failure`] the outbox records: retried, or a dead letter.
    pub async fn run(&self, action: &Action) -> Result<Receipt, Failure> {
        match &action.kind {
            ActionKind::OpenDm { user } => self.open_dm(user.0).await.map(Receipt::id),
            ActionKind::SendDm {
                channel,
                text,
                buttons,
                suggestions,
                files,
                ..
            } => Box::pin(self.send_dm(action, channel.0, text, buttons, suggestions, files))
                .await
                .map(Receipt::id),
            ActionKind::EditDm {
                channel,
                message,
                text,
            } => self
                .edit_dm(channel.0, message.0, text)
                .await
                .map(|()| Receipt::done()),
            ActionKind::DeleteDm { channel, message } => self
                .delete_dm(channel.0, message.0)
                .await
                .map(|()| Receipt::done()),
            ActionKind::Respond { interaction, text } => self
                .respond(interaction, text)
                .await
                .map(|()| Receipt::done()),
            ActionKind::PostAnnouncement {
                channel,
                post,
                interaction,
            } => self
                .post_announcement(action, channel.0, post, interaction.as_ref())
                .await
                .map(Receipt::id),
            ActionKind::SetupGuild { guild, interaction } => self
                .setup_guild(*guild, interaction)
                .await
                .map(|()| Receipt::done()),
            other => Err(Failure::permanent(format!(
                "{} is not a Discord action",
                other.name()
            ))),
        }
    }

    async fn open_dm(&self, user: u64) -> Result<String, Failure> {
        let user: Id<UserMarker> =
            Id::new_checked(user).ok_or_else(|| Failure::permanent("user id 0"))?;
        let channel = self
            .http
            .create_private_channel(user)
            .await
            .map_err(|e| failure(&e))?
            .model()
            .await
            .map_err(|e| Failure::transient(e.to_string()))?;
        Ok(channel.id.to_string())
    }

    /// Answers an interaction: a deferred one by editing its original response, one
    /// acknowledged silently (a button click) with an ephemeral follow-up message.
    ///
    /// # Errors
    /// The [`Failure`] of Discord's answer.
    pub async fn respond(&self, interaction: &Interaction, text: &str) -> Result<(), Failure> {
        let text = truncate_message(text);
        let client = self.http.interaction(self.application_id);
        match interaction.ack {
            Ack::Deferred => {
                client
                    .update_response(&interaction.token)
                    .content(Some(&text))
                    .await
                    .map_err(|e| failure(&e))?;
            }
            Ack::Silent => {
                client
                    .create_followup(&interaction.token)
                    .content(&text)
                    .flags(MessageFlags::EPHEMERAL)
                    .await
                    .map_err(|e| failure(&e))?;
            }
        }
        Ok(())
    }

    /// Posts `text` in a guild channel for `action` (a report's announcement), with the
    /// action's nonce and no mentions, so a title can ping nobody and a retry posts once.
    /// Returns the message id.
    ///
    /// # Errors
    /// The [`Failure`] of Discord's answer.
    pub async fn announce(
        &self,
        action: &Action,
        channel: u64,
        text: &str,
    ) -> Result<String, Failure> {
        self.create_message(action, channel_id(channel)?, text, &Extras::default())
            .await
            .map_err(|r| r.failure)
    }

    /// Whether `channel` is an announcement channel (whose messages can be published), asked
    /// of Discord once per channel.
    async fn is_announcement_channel(&self, channel: Id<ChannelMarker>) -> Result<bool, Failure> {
        let known = self
            .announcement_channels
            .lock()
            .ok()
            .and_then(|m| m.get(&channel.get()).copied());
        if let Some(known) = known {
            return Ok(known);
        }
        let fetched = self
            .http
            .channel(channel)
            .await
            .map_err(|e| failure(&e))?
            .model()
            .await
            .map_err(|e| Failure::transient(e.to_string()))?;
        let announcement = fetched.kind == twilight_model::channel::ChannelType::GuildAnnouncement;
        if let Ok(mut m) = self.announcement_channels.lock() {
            m.insert(channel.get(), announcement);
        }
        Ok(announcement)
    }

    /// Posts an announcement (a feed entry, or a staff member's `/announce`) as one embed with
    /// the action's nonce and no mentions, publishes it when the channel is an announcement
    /// channel (already published counts), then answers the `/announce` form if any. Returns
    /// the message id. Each step is safe to repeat.
    ///
    /// # Errors
    /// The [`Failure`] of Discord's answer.
    pub async fn post_announcement(
        &self,
        action: &Action,
        channel: u64,
        post: &flexcord_routing::community::Announcement,
        interaction: Option<&Interaction>,
    ) -> Result<String, Failure> {
        let channel = channel_id(channel)?;
        let body = json!({
            "content": "",
            "nonce": action.id.nonce(),
            "enforce_nonce": true,
            "embeds": [crate::community::embed(post)],
            "allowed_mentions": { "parse": [] },
        });
        let request = Request::builder(&Route::CreateMessage {
            channel_id: channel.get(),
        })
        .json(&body)
        .build()
        .map_err(|e| failure(&e))?;
        let message: Message = self
            .http
            .request::<Message>(request)
            .await
            .map_err(|e| failure(&e))?
            .model()
            .await
            .map_err(|e| Failure::transient(e.to_string()))?;
        let published = if self.is_announcement_channel(channel).await? {
            match self.http.crosspost_message(channel, message.id).await {
                Ok(_) => true,
                Err(e) if matches!(e.kind(), ErrorType::Response { error: ApiError::General(g), .. } if g.code == ALREADY_CROSSPOSTED) => {
                    true
                }
                Err(e) => return Err(failure(&e)),
            }
        } else {
            false
        };
        if let Some(interaction) = interaction {
            let text = if published {
                format!("Posted in <#{channel}> and published to the servers following it.")
            } else {
                format!("Posted in <#{channel}>.")
            };
            self.respond(interaction, &text).await?;
        }
        Ok(message.id.to_string())
    }

    /// `/setup`: lays the guild out (see [`crate::community::setup`]) and answers with what
    /// was done and the ids in configuration form. A missing permission or a wrong staff role
    /// is answered (nothing to retry); Discord's transient failures are retried (the setup is
    /// idempotent).
    ///
    /// # Errors
    /// The [`Failure`] of Discord's answers.
    pub async fn setup_guild(&self, guild: u64, interaction: &Interaction) -> Result<(), Failure> {
        let c = &self.community;
        let result =
            crate::community::setup::run(&self.http, guild, &c.names, c.staff_role, false).await;
        // The setup may have converted a channel to an announcement channel.
        if let Ok(mut known) = self.announcement_channels.lock() {
            known.clear();
        }
        let text = match result {
            Ok((_, Some(outcome))) => {
                let done = if outcome.changes.is_empty() {
                    "The server already fits: nothing changed.".to_owned()
                } else {
                    let lines: Vec<String> =
                        outcome.changes.iter().map(|c| format!("- {c}")).collect();
                    format!("Done:\n{}", lines.join("\n"))
                };
                format!(
                    "{done}\nPut these ids in the configuration:\n```toml\n{}```",
                    outcome.config_snippet()
                )
            }
            Ok((plan, None)) => plan.describe(),
            Err(e) if e.is_transient() => return Err(Failure::transient(e.to_string())),
            Err(e) => format!("The server could not be set up: {e}."),
        };
        self.respond(interaction, &text).await
    }

    /// The bytes of a file for a DM, or the line naming it when it cannot be uploaded. `Err`
    /// only for failures worth retrying.
    async fn fetch_file(&self, file: &Attachment) -> Result<Fetched, Failure> {
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
                Err(e) if e.is_retryable() => return Err(Failure::transient(e.to_string())),
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
            Err(e @ DownloadError::Failed(_)) => Err(Failure::transient(e.to_string())),
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
    ) -> Result<String, Failure> {
        let channel = channel_id(channel)?;
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
        let extras = Extras {
            buttons,
            suggestions,
            uploads: &uploads,
        };
        let sent = match self
            .create_message(action, channel, &content, &extras)
            .await
        {
            Err(Refused {
                too_large: true, ..
            }) if !uploads.is_empty() => {
                // Discord's limit is below the configured cap: name the files instead.
                for (_, _, link) in &uploads {
                    push_line(&mut content, link);
                }
                let extras = Extras {
                    uploads: &[],
                    ..extras
                };
                self.create_message(action, channel, &content, &extras)
                    .await
            }
            other => other,
        };
        let id = sent.map_err(|r| r.failure)?;
        metrics::counter!(telemetry::MESSAGES_ROUTED, "direction" => "to_discord").increment(1);
        Ok(id)
    }

    async fn create_message(
        &self,
        action: &Action,
        channel: Id<ChannelMarker>,
        text: &str,
        extras: &Extras<'_>,
    ) -> Result<String, Refused> {
        let conversation = action
            .id
            .conversation()
            .unwrap_or_else(|| ConversationId::from(action.id.scope()));
        let suggestions: Vec<Suggestion> =
            extras.suggestions.iter().map(|s| suggestion(s)).collect();
        let embeds = render::suggestion_embeds(&suggestions);
        let components: Vec<Component> = render::button_row(extras.buttons, &conversation)
            .into_iter()
            .collect();
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
        let request = if extras.uploads.is_empty() {
            builder.json(&body).build().map_err(Refused::from)?
        } else {
            // Multipart: `payload_json` plus one `files[n]` part per file.
            body["attachments"] = extras
                .uploads
                .iter()
                .enumerate()
                .map(|(i, (name, _, _))| json!({"id": i, "filename": name}))
                .collect();
            let payload = serde_json::to_vec(&body).unwrap_or_default();
            let mut form = Form::new().json_part(b"payload_json", &payload);
            for (i, (name, bytes, _)) in extras.uploads.iter().enumerate() {
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
                failure: Failure::transient(e.to_string()),
                too_large: false,
            })?;
        Ok(message.id.to_string())
    }

    async fn edit_dm(&self, channel: u64, message: u64, text: &str) -> Result<(), Failure> {
        let channel = channel_id(channel)?;
        let message: Id<MessageMarker> =
            Id::new_checked(message).ok_or_else(|| Failure::permanent("message id 0"))?;
        let text = truncate_message(text);
        self.http
            .update_message(channel, message)
            .content(Some(&text))
            .await
            .map_err(|e| failure(&e))?;
        Ok(())
    }

    async fn delete_dm(&self, channel: u64, message: u64) -> Result<(), Failure> {
        let channel = channel_id(channel)?;
        let message: Id<MessageMarker> =
            Id::new_checked(message).ok_or_else(|| Failure::permanent("message id 0"))?;
        match self.http.delete_message(channel, message).await {
            Ok(_) => Ok(()),
            // Already gone (an earlier attempt, or deleted on Discord's side): done.
            Err(e) if is_unknown_message(&e) => Ok(()),
            Err(e) => Err(failure(&e)),
        }
    }
}
