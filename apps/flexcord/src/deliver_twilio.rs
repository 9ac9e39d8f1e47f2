//! Running the routing core's Twilio actions (Conversations mode; chat mode through
//! [`crate::deliver_chat`]).
//!
//! Each action is safe to repeat: a conversation is created under its unique name
//! (`discord:<dm channel>:<n>`), so a retry finds the one the first attempt made; adding a
//! participant or webhook that already exists counts as done; a message post retried by the
//! outbox first looks for the message an earlier attempt created (its `flexcord.action`
//! attribute is the action id), so a 5xx or a lost answer never posts it twice.
//!
//! A user's file (`PostToTwilio` with `media`) is downloaded from Discord's CDN within the size
//! cap, uploaded to the Media Content Service and attached to the message by its `MediaSid`;
//! when that cannot be done (too large, gone, refused) the message carries its fallback body,
//! the file's name and link.

use flexcord_routing::{Action, ActionKind, Attachment, ConversationAttributes, Event, TwilioSid};
use flexcord_twilio::conversations::{ConversationState, WebhookTarget};
use flexcord_twilio::sid::{
    ConversationSid, FlowSid, MediaSid, ServiceSid, SidOrName, WorkflowSid, WorkspaceSid,
};
use flexcord_twilio::{Client, Error, ErrorKind, Order};
use serde_json::json;

use crate::deliver_chat::ChatTarget;
use crate::media::Downloader;
use crate::telemetry;

/// Twilio error codes meaning "this already exists": a repeated create is then a success.
const ALREADY_EXISTS: [u32; 3] = [50353, 50433, 50438];

/// Runs Twilio actions for conversations mode, or for chat mode after
/// [`TwilioExecutor::with_chat`].
pub struct TwilioExecutor {
    client: Client,
    outbound_url: String,
    studio_flow: Option<FlowSid>,
    workspace: Option<WorkspaceSid>,
    workflow: Option<WorkflowSid>,
    chat: Option<ChatTarget>,
    downloader: Downloader,
    media_service: Option<ServiceSid>,
}

/// Uploads a user's file to the Media Content Service of `service`: `Ok(Some(sid))` to attach
/// it, `Ok(None)` when it goes as its link instead (over the cap, gone, refused by Twilio),
/// `Err` only for failures worth retrying.
pub(crate) async fn upload_media(
    client: &Client,
    service: &ServiceSid,
    downloader: &Downloader,
    file: &Attachment,
) -> Result<Option<MediaSid>, (bool, String)> {
    let name = file.display_name();
    if file.url.is_empty() || file.size.is_some_and(|n| !downloader.fits(n)) {
        tracing::info!(file = name, size = ?file.size, "a user's file is passed on as a link");
        return Ok(None);
    }
    let file_bytes = match downloader.get(&file.url).await {
        Ok(d) => d,
        Err(e) if e.is_permanent() => {
            tracing::info!(file = name, error = %e, "a user's file is passed on as a link");
            return Ok(None);
        }
        Err(e) => return Err((false, e.to_string())),
    };
    let content_type = file
        .content_type
        .clone()
        .or(file_bytes.content_type)
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    match client
        .media(service)
        .create(&content_type, file_bytes.bytes)
        .filename(name)
        .await
    {
        Ok(media) => Ok(Some(media.sid)),
        Err(e) if e.is_retryable() => Err(fail(&e)),
        Err(e) => {
            tracing::warn!(file = name, error = %e, "Twilio refused a user's file; passing on its link");
            Ok(None)
        }
    }
}

/// The outcome of a failed call whose work can be found or repeated safely (a conversation
/// under its unique name, an update, a message looked up by its trace before a retry): only
/// Twilio's refusal of the request itself (a 4xx other than 429) or an unusable request or
/// answer is permanent; 5xx answers, 429 and broken connections or timeouts are tried again.
fn fail(e: &Error) -> (bool, String) {
    let permanent = match e.kind() {
        ErrorKind::Api { status, .. } => (400..500).contains(status) && *status != 429,
        ErrorKind::Transport { .. } | ErrorKind::Timeout { .. } => false,
        _ => true,
    };
    (permanent, e.to_string())
}

/// The outcome of a failed create that cannot be looked up afterwards (a Flex interaction):
/// retried only when Twilio certainly did not process it (429, 503, nothing sent).
fn fail_unchecked(e: &Error) -> (bool, String) {
    (!e.is_retryable(), e.to_string())
}

/// How many of the conversation's latest messages a retried post looks through for the one an
/// earlier attempt may have created.
const RETRY_LOOKBACK: u32 = 50;

/// Records the upstream latency and turns the outcome into the action's result event.
fn finish(
    action: &Action,
    started: std::time::Instant,
    result: Result<Option<String>, (bool, String)>,
) -> Event {
    metrics::histogram!(telemetry::UPSTREAM_LATENCY, "upstream" => "twilio")
        .record(started.elapsed().as_secs_f64());
    match result {
        Ok(upstream) => action.completed(upstream),
        Err((permanent, reason)) => {
            tracing::warn!(action = %action.id.as_str(), kind = action.kind.name(), permanent, %reason, "Twilio delivery failed");
            action.failed(permanent, reason)
        }
    }
}

fn already_exists(e: &Error) -> bool {
    e.api()
        .is_some_and(|api| ALREADY_EXISTS.contains(&api.code))
        || e.status() == Some(409)
}

/// The conversation attributes of DESIGN §3: `{"flexcord": {...}}`.
pub fn attributes_json(a: &ConversationAttributes) -> serde_json::Value {
    json!({"flexcord": {
        "discord_user": a.discord_user.to_string(),
        "dm_channel": a.dm_channel.map(|c| c.to_string()),
        "handoff": a.handoff,
        "case": a.case.as_ref().map(flexcord_routing::CaseNumber::as_str),
    }})
}

/// The user's participant attributes: `{"friendlyName": ...}`, the name Flex shows for the
/// author of their messages.
pub fn participant_attributes(name: &str) -> serde_json::Value {
    json!({ "friendlyName": name })
}

fn sid(s: &TwilioSid) -> Result<ConversationSid, (bool, String)> {
    s.as_str()
        .parse::<ConversationSid>()
        .map_err(|e| (true, format!("bad conversation SID: {e}")))
}

impl TwilioExecutor {
    /// An executor; `public_url` is `server.public_url` (the webhook goes to
    /// `<public_url>/twilio/outbound`).
    pub fn new(
        client: Client,
        public_url: &url::Url,
        studio_flow: Option<FlowSid>,
        workspace: Option<WorkspaceSid>,
        workflow: Option<WorkflowSid>,
    ) -> Self {
        Self {
            client,
            outbound_url: format!(
                "{}/twilio/outbound",
                public_url.as_str().trim_end_matches('/')
            ),
            studio_flow,
            workspace,
            workflow,
            chat: None,
            downloader: Downloader::default(),
            media_service: None,
        }
    }

    /// Users' files: downloaded with `downloader` (its size cap applies), uploaded to the Media
    /// Content Service of `service` (conversations mode; unset: the conversation's own service;
    /// chat mode uses the chat service).
    #[must_use]
    pub fn with_files(mut self, downloader: Downloader, service: Option<ServiceSid>) -> Self {
        self.downloader = downloader;
        self.media_service = service;
        self
    }

    /// Chat mode: the actions go to Programmable Chat channels made through `target`'s Flex
    /// Flow (see [`crate::deliver_chat`]).
    #[must_use]
    pub fn with_chat(mut self, target: ChatTarget) -> Self {
        self.chat = Some(target);
        self
    }

    /// Runs one action; `None` when it is not a Twilio action.
    pub async fn execute(&self, action: &Action) -> Option<Event> {
        self.execute_attempt(action, 1).await
    }

    /// Runs one action as the outbox's attempt number `attempt`; from the second attempt on, a
    /// message post first looks for the message an earlier attempt may have created (Twilio
    /// has no idempotency key for it). `None` when it is not a Twilio action.
    pub async fn execute_attempt(&self, action: &Action, attempt: u32) -> Option<Event> {
        let started = std::time::Instant::now();
        if let Some(chat) = &self.chat {
            let result = chat
                .run(&self.client, &self.outbound_url, &self.downloader, action)
                .await?;
            return Some(finish(action, started, result));
        }
        let result = match &action.kind {
            ActionKind::CreateTwilioConversation {
                unique_name,
                identity,
                friendly_name,
                user_name,
                attributes,
                studio,
            } => self
                .create_conversation(
                    unique_name,
                    (identity, user_name.as_deref()),
                    friendly_name,
                    attributes,
                    *studio,
                )
                .await
                .map(Some),
            ActionKind::PostToTwilio {
                sid: conversation,
                author,
                body,
                at,
                discord_message,
                webhooks,
                media,
            } => Box::pin(self.post(
                action,
                attempt,
                conversation,
                author,
                body,
                *at,
                *discord_message,
                *webhooks,
                media.as_deref(),
            ))
            .await
            .map(Some),
            ActionKind::UpdateTwilioAttributes {
                sid: conversation,
                attributes,
            } => {
                let result = async {
                    self.client
                        .conversations()
                        .update(sid(conversation)?)
                        .attributes(&attributes_json(attributes))
                        .await
                        .map_err(|e| fail(&e))?;
                    Ok(None)
                };
                result.await
            }
            ActionKind::CreateInteraction {
                sid: conversation,
                identity,
                user_name,
                case,
            } => self
                .create_interaction(
                    conversation,
                    (identity, user_name.as_deref()),
                    case.as_ref(),
                )
                .await
                .map(Some),
            ActionKind::CloseTwilio { sid: conversation } => {
                let result = async {
                    self.client
                        .conversations()
                        .update(sid(conversation)?)
                        .state(&ConversationState::Closed)
                        .await
                        .map_err(|e| fail(&e))?;
                    Ok(None)
                };
                result.await
            }
            _ => return None,
        };
        Some(finish(action, started, result))
    }

    async fn create_conversation(
        &self,
        unique_name: &str,
        (identity, user_name): (&str, Option<&str>),
        friendly_name: &str,
        attributes: &ConversationAttributes,
        studio: bool,
    ) -> Result<String, (bool, String)> {
        let conversations = self.client.conversations();
        let created = conversations
            .create()
            .unique_name(unique_name)
            .friendly_name(friendly_name)
            .attributes(&attributes_json(attributes))
            .await;
        let conversation = match created {
            Ok(c) => c,
            Err(e) if already_exists(&e) => self
                .client
                .conversations()
                .fetch(SidOrName::<flexcord_twilio::sid::Conversation>::Name(
                    unique_name.to_owned(),
                ))
                .await
                .map_err(|e| fail(&e))?,
            Err(e) => return Err(fail(&e)),
        };
        let sid = conversation.sid;
        let mut participant = self
            .client
            .conversations()
            .participants(&sid)
            .create()
            .identity(identity);
        if let Some(name) = user_name {
            participant = participant.attributes(&participant_attributes(name));
        }
        match participant.await {
            Ok(_) => {}
            Err(e) if already_exists(&e) => {}
            Err(e) => return Err(fail(&e)),
        }
        let webhooks = self
            .client
            .conversations()
            .webhooks(&sid)
            .list()
            .await
            .map_err(|e| fail(&e))?;
        let has = |target: &str| {
            webhooks
                .items
                .iter()
                .any(|w| w.target.as_ref().is_some_and(|t| t.as_str() == target))
        };
        if !has("webhook") {
            self.client
                .conversations()
                .webhooks(&sid)
                .create(WebhookTarget::Webhook)
                .url(self.outbound_url.clone())
                .method(&flexcord_twilio::WebhookMethod::Post)
                .filters([
                    "onMessageAdded",
                    "onMessageUpdated",
                    "onParticipantAdded",
                    "onConversationStateUpdated",
                ])
                .await
                .map_err(|e| fail(&e))?;
        }
        if studio && !has("studio") {
            let Some(flow) = &self.studio_flow else {
                return Err((true, "twilio.studio_flow_sid is not configured".to_owned()));
            };
            self.client
                .conversations()
                .webhooks(&sid)
                .create(WebhookTarget::Studio)
                .flow_sid(flow)
                .await
                .map_err(|e| fail(&e))?;
        }
        Ok(sid.to_string())
    }

    #[allow(clippy::too_many_arguments)] // the fields of one action
    async fn post(
        &self,
        action: &Action,
        attempt: u32,
        conversation: &TwilioSid,
        author: &str,
        body: &str,
        at: Option<flexcord_routing::Timestamp>,
        discord_message: Option<flexcord_routing::MessageId>,
        webhooks: bool,
        media: Option<&Attachment>,
    ) -> Result<String, (bool, String)> {
        if attempt > 1
            && let Some(earlier) = self.posted_before(action, conversation).await?
        {
            tracing::info!(action = %action.id.as_str(), message = %earlier,
                "an earlier attempt posted this message; not posting it again");
            metrics::counter!(telemetry::MESSAGES_ROUTED, "direction" => "to_twilio").increment(1);
            return Ok(earlier);
        }
        let conversation = sid(conversation)?;
        let media_sid = match media {
            Some(file) => {
                let service = match self.media_service {
                    Some(s) => Some(s),
                    None => {
                        self.client
                            .conversations()
                            .fetch(conversation)
                            .await
                            .map_err(|e| fail(&e))?
                            .chat_service_sid
                    }
                };
                match service {
                    Some(service) => {
                        upload_media(&self.client, &service, &self.downloader, file).await?
                    }
                    None => None,
                }
            }
            None => None,
        };
        let mut request = self
            .client
            .conversations()
            .messages(&conversation)
            .create()
            .author(author);
        request = match &media_sid {
            Some(media) => request.media_sid(media),
            None => request.body(body),
        };
        let mut request = request
            .attributes(&json!({"flexcord": {
                "discord_message": discord_message.map(|m| m.to_string()),
                "trace": crate::trace::for_delivery(action),
                "action": action.id.as_str(),
            }}))
            .webhook_enabled(webhooks);
        let date = at.and_then(|at| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
                .ok()
        });
        if let Some(date) = date {
            request = request.date_created(date);
        }
        let message = request.await.map_err(|e| fail(&e))?;
        metrics::counter!(telemetry::MESSAGES_ROUTED, "direction" => "to_twilio").increment(1);
        Ok(message.sid.to_string())
    }

    /// The SID of the message an earlier attempt of `action` created (its attributes carry
    /// the action id as `flexcord.action`), among the conversation's latest messages.
    async fn posted_before(
        &self,
        action: &Action,
        conversation: &TwilioSid,
    ) -> Result<Option<String>, (bool, String)> {
        let page = self
            .client
            .conversations()
            .messages(&sid(conversation)?)
            .list()
            .order(&Order::Desc)
            .page_size(RETRY_LOOKBACK)
            .await
            .map_err(|e| fail(&e))?;
        Ok(page
            .items
            .iter()
            .find(|m| {
                m.attributes
                    .as_deref()
                    .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
                    .is_some_and(|a| a["flexcord"]["action"] == action.id.as_str())
            })
            .map(|m| m.sid.to_string()))
    }

    async fn create_interaction(
        &self,
        conversation: &TwilioSid,
        (identity, user_name): (&str, Option<&str>),
        case: Option<&flexcord_routing::CaseNumber>,
    ) -> Result<String, (bool, String)> {
        let (Some(workspace), Some(workflow)) = (&self.workspace, &self.workflow) else {
            return Err((
                true,
                "twilio.workspace_sid and twilio.workflow_sid are not configured".to_owned(),
            ));
        };
        let routing = json!({"properties": {
            "workspace_sid": workspace.as_str(),
            "workflow_sid": workflow.as_str(),
            "task_channel_unique_name": "chat",
            "attributes": {
                "from": identity,
                "customerName": user_name.unwrap_or(identity),
                "case": case.map(flexcord_routing::CaseNumber::as_str),
                "conversationSid": conversation.as_str(),
            },
        }});
        let interaction = self
            .client
            .flex()
            .interactions()
            .create_for_conversation(&sid(conversation)?, &routing)
            .await
            .map_err(|e| fail_unchecked(&e))?;
        Ok(interaction.sid.to_string())
    }
}
