//! Running the routing core's Twilio actions in Conversations mode (the default): Twilio
//! Conversations v1 and the Flex Interactions API.
//!
//! Each action is safe to repeat: a conversation is created under its unique name
//! (`discord:<dm channel>:<n>`), so a retry finds the one the first attempt made; adding a
//! participant or webhook that already exists counts as done; a message post retried by the
//! outbox first looks for the message an earlier attempt created (its `flexcord.action`
//! attribute is the action id), so a 5xx or a lost answer never posts it twice. The Flex
//! interaction create cannot be looked up afterwards, so it is retried only when Twilio surely
//! did not process it.
//!
//! A user's file (`PostToTwilio` with `media`) is downloaded from Discord's CDN within the size
//! cap, uploaded to the Media Content Service and attached to the message by its `MediaSid`;
//! when that cannot be done (too large, gone, refused) the message carries its fallback body,
//! the file's name and link.

use flexcord_routing::{
    Action, ActionKind, Attachment, ConversationAttributes, FlexInteraction, TwilioSid,
};
use flexcord_store::{Failure, Receipt};
use flexcord_twilio::conversations::{ConversationState, WebhookTarget};
use flexcord_twilio::flex::ChannelStatusUpdate;
use flexcord_twilio::sid::{
    ConversationSid, FlowSid, InteractionChannelSid, InteractionSid, ServiceSid, SidOrName,
    WorkflowSid, WorkspaceSid,
};
use flexcord_twilio::{Client, Order};
use serde_json::json;

use super::{
    Context, already_exists, attributes_json, count_message, date_created, failure,
    failure_unchecked, message_attributes, upload_media,
};

/// The conversation webhook's events (DESIGN §3).
pub const CONVERSATION_FILTERS: [&str; 4] = [
    "onMessageAdded",
    "onMessageUpdated",
    "onParticipantAdded",
    "onConversationStateUpdated",
];

/// How many of the conversation's latest messages a retried post looks through for the one an
/// earlier attempt may have created.
const RETRY_LOOKBACK: u32 = 50;

/// What Conversations mode needs besides the client.
#[derive(Debug, Clone, Default)]
pub struct ConversationsTarget {
    /// The Studio flow attached to new conversations on the studio route.
    pub studio_flow: Option<FlowSid>,
    /// The `TaskRouter` workspace of the hand-off.
    pub workspace: Option<WorkspaceSid>,
    /// The workflow of the hand-off.
    pub workflow: Option<WorkflowSid>,
    /// The Media Content Service for users' files (unset: the conversation's own service).
    pub media_service: Option<ServiceSid>,
}

/// The user's participant attributes: `{"friendlyName": ...}`, the name Flex shows for the
/// author of their messages.
pub fn participant_attributes(name: &str) -> serde_json::Value {
    json!({ "friendlyName": name })
}

fn sid(s: &TwilioSid) -> Result<ConversationSid, Failure> {
    s.as_str()
        .parse::<ConversationSid>()
        .map_err(|e| Failure::permanent(format!("bad conversation SID: {e}")))
}

impl ConversationsTarget {
    /// Runs one Twilio action in Conversations mode.
    pub(crate) async fn run(
        &self,
        cx: &Context<'_>,
        action: &Action,
        attempt: u32,
    ) -> Result<Receipt, Failure> {
        let client = cx.client;
        match &action.kind {
            ActionKind::CreateTwilioConversation {
                unique_name,
                identity,
                friendly_name,
                user_name,
                attributes,
                studio,
            } => self
                .create_conversation(
                    cx,
                    unique_name,
                    (identity, user_name.as_deref()),
                    friendly_name,
                    attributes,
                    *studio,
                )
                .await
                .map(Receipt::id),
            ActionKind::PostToTwilio {
                sid: conversation,
                author,
                body,
                at,
                discord_message,
                webhooks,
                media,
            } => Box::pin(self.post(
                cx,
                (action, attempt),
                conversation,
                author,
                body,
                *at,
                *discord_message,
                *webhooks,
                media.as_deref(),
            ))
            .await
            .map(Receipt::id),
            ActionKind::UpdateTwilioAttributes {
                sid: conversation,
                attributes,
            } => {
                client
                    .conversations()
                    .update(sid(conversation)?)
                    .attributes(&attributes_json(attributes))
                    .await
                    .map_err(|e| failure(&e))?;
                Ok(Receipt::done())
            }
            ActionKind::CreateInteraction {
                sid: conversation,
                identity,
                user_name,
                case,
            } => self
                .create_interaction(
                    client,
                    conversation,
                    (identity, user_name.as_deref()),
                    case.as_ref(),
                )
                .await
                .map(Receipt::id),
            ActionKind::CloseTwilio {
                sid: conversation,
                interaction,
            } => {
                close(client, conversation, interaction.as_ref()).await?;
                Ok(Receipt::done())
            }
            other => Err(Failure::permanent(format!(
                "{} is not a Twilio action",
                other.name()
            ))),
        }
    }

    async fn create_conversation(
        &self,
        cx: &Context<'_>,
        unique_name: &str,
        (identity, user_name): (&str, Option<&str>),
        friendly_name: &str,
        attributes: &ConversationAttributes,
        studio: bool,
    ) -> Result<String, Failure> {
        let client = cx.client;
        let conversations = client.conversations();
        let created = conversations
            .create()
            .unique_name(unique_name)
            .friendly_name(friendly_name)
            .attributes(&attributes_json(attributes))
            .await;
        let conversation = match created {
            Ok(c) => c,
            Err(e) if already_exists(&e) => client
                .conversations()
                .fetch(SidOrName::<flexcord_twilio::sid::Conversation>::Name(
                    unique_name.to_owned(),
                ))
                .await
                .map_err(|e| failure(&e))?,
            Err(e) => return Err(failure(&e)),
        };
        let sid = conversation.sid;
        let mut participant = client
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
            Err(e) => return Err(failure(&e)),
        }
        let webhooks = client
            .conversations()
            .webhooks(&sid)
            .list()
            .await
            .map_err(|e| failure(&e))?;
        let has = |target: &str| {
            webhooks
                .items
                .iter()
                .any(|w| w.target.as_ref().is_some_and(|t| t.as_str() == target))
        };
        if !has("webhook") {
            client
                .conversations()
                .webhooks(&sid)
                .create(WebhookTarget::Webhook)
                .url(cx.outbound_url.to_owned())
                .method(&flexcord_twilio::WebhookMethod::Post)
                .filters(CONVERSATION_FILTERS)
                .await
                .map_err(|e| failure(&e))?;
        }
        if studio && !has("studio") {
            let Some(flow) = &self.studio_flow else {
                return Err(Failure::permanent(
                    "twilio.studio_flow_sid is not configured",
                ));
            };
            client
                .conversations()
                .webhooks(&sid)
                .create(WebhookTarget::Studio)
                .flow_sid(flow)
                .await
                .map_err(|e| failure(&e))?;
        }
        Ok(sid.to_string())
    }

    #[allow(clippy::too_many_arguments)] // the fields of one action
    async fn post(
        &self,
        cx: &Context<'_>,
        (action, attempt): (&Action, u32),
        conversation: &TwilioSid,
        author: &str,
        body: &str,
        at: Option<flexcord_routing::Timestamp>,
        discord_message: Option<flexcord_routing::MessageId>,
        webhooks: bool,
        media: Option<&Attachment>,
    ) -> Result<String, Failure> {
        let client = cx.client;
        if attempt > 1
            && let Some(earlier) = posted_before(client, action, conversation).await?
        {
            tracing::info!(action = %action.id.as_str(), message = %earlier,
                "an earlier attempt posted this message; not posting it again");
            count_message();
            return Ok(earlier);
        }
        let conversation = sid(conversation)?;
        let media_sid = match media {
            Some(file) => {
                let service = match self.media_service {
                    Some(s) => Some(s),
                    None => {
                        client
                            .conversations()
                            .fetch(conversation)
                            .await
                            .map_err(|e| failure(&e))?
                            .chat_service_sid
                    }
                };
                match service {
                    Some(service) => upload_media(client, &service, cx.downloader, file).await?,
                    None => None,
                }
            }
            None => None,
        };
        let mut request = client
            .conversations()
            .messages(&conversation)
            .create()
            .author(author);
        request = match &media_sid {
            Some(media) => request.media_sid(media),
            None => request.body(body),
        };
        let mut request = request
            .attributes(&message_attributes(action, discord_message))
            .webhook_enabled(webhooks);
        if let Some(date) = date_created(at) {
            request = request.date_created(date);
        }
        let message = request.await.map_err(|e| failure(&e))?;
        count_message();
        Ok(message.sid.to_string())
    }

    async fn create_interaction(
        &self,
        client: &Client,
        conversation: &TwilioSid,
        (identity, user_name): (&str, Option<&str>),
        case: Option<&flexcord_routing::CaseNumber>,
    ) -> Result<String, Failure> {
        let (Some(workspace), Some(workflow)) = (&self.workspace, &self.workflow) else {
            return Err(Failure::permanent(
                "twilio.workspace_sid and twilio.workflow_sid are not configured",
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
        let interaction = client
            .flex()
            .interactions()
            .create_for_conversation(&sid(conversation)?, &routing)
            .await
            .map_err(|e| failure_unchecked(&e))?;
        // The interaction's channel (`UO…`) is what closes it later.
        let channel = interaction
            .channel
            .as_ref()
            .and_then(|c| c["sid"].as_str())
            .unwrap_or_default();
        Ok(format!("{}/{channel}", interaction.sid))
    }
}

/// The SID of the message an earlier attempt of `action` created (its attributes carry
/// the action id as `flexcord.action`), among the conversation's latest messages.
async fn posted_before(
    client: &Client,
    action: &Action,
    conversation: &TwilioSid,
) -> Result<Option<String>, Failure> {
    let page = client
        .conversations()
        .messages(&sid(conversation)?)
        .list()
        .order(&Order::Desc)
        .page_size(RETRY_LOOKBACK)
        .await
        .map_err(|e| failure(&e))?;
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

/// Ends the Twilio side. With the bridge's Flex interaction, its channel is closed with its
/// tasks completed, which is how Flex ends a chat (the agent's task ends and Flex closes the
/// conversation); otherwise, or when the interaction is gone, the conversation is closed.
async fn close(
    client: &Client,
    conversation: &TwilioSid,
    interaction: Option<&FlexInteraction>,
) -> Result<(), Failure> {
    if let Some(flex) = interaction {
        let parsed = flex
            .interaction
            .parse::<InteractionSid>()
            .ok()
            .zip(flex.channel.parse::<InteractionChannelSid>().ok());
        if let Some((kd, uo)) = parsed {
            match client
                .flex()
                .interaction_channels(&kd)
                .update(&uo, ChannelStatusUpdate::Closed)
                .complete_tasks()
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {
                    tracing::info!(interaction = %kd, "the Flex interaction is gone; closing the conversation");
                }
                Err(e) => return Err(failure(&e)),
            }
        }
    }
    // Closing a conversation that is already closed is accepted by Twilio.
    client
        .conversations()
        .update(sid(conversation)?)
        .state(&ConversationState::Closed)
        .await
        .map_err(|e| failure(&e))?;
    Ok(())
}
