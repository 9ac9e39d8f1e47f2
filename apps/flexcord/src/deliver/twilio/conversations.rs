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

use flexcord_routing::{Action, ConversationAttributes, FlexInteraction, SweptMessage, TwilioSid};
use flexcord_store::Failure;
use flexcord_twilio::Order;
use flexcord_twilio::conversations::{ConversationState, WebhookTarget};
use flexcord_twilio::flex::ChannelStatusUpdate;
use flexcord_twilio::sid::{
    ConversationSid, FlowSid, InteractionChannelSid, InteractionSid, ServiceSid, SidOrName,
    WorkflowSid, WorkspaceSid,
};
use futures::StreamExt;
use serde_json::json;

use super::{
    Context, HandOff, Listed, Mode, NewConversation, Post, RETRY_LOOKBACK, already_exists,
    attributes_json, date_created, failure, failure_unchecked, listed_after, message_attributes,
    posted_by, upload_media,
};

/// The conversation webhook's events (DESIGN §3).
pub const CONVERSATION_FILTERS: [&str; 4] = [
    "onMessageAdded",
    "onMessageUpdated",
    "onParticipantAdded",
    "onConversationStateUpdated",
];

/// What Conversations mode needs besides the client.
#[derive(Debug, Clone, Default)]
pub struct ConversationsTarget {
    /// The Studio flow attached to new conversations on the studio route.
    pub studio_flow: Option<FlowSid>,
    /// The `TaskRouter` workspace of the hand-off.
    pub workspace: Option<WorkspaceSid>,
    /// The workflow of the hand-off.
    pub workflow: Option<WorkflowSid>,
    /// The Conversations service (`twilio.conversations_service_sid`): conversations in a
    /// service that is not the account's default are only reachable through the service's
    /// paths (`/v1/Services/{IS}/Conversations/...`), and users' files go to its Media Content
    /// Service. Unset: the default service (files: the conversation's own service).
    pub service: Option<ServiceSid>,
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

impl Mode for ConversationsTarget {
    async fn create(&self, cx: &Context<'_>, new: &NewConversation<'_>) -> Result<String, Failure> {
        let NewConversation {
            unique_name,
            identity,
            friendly_name,
            user_name,
            attributes,
            studio,
        } = *new;
        let client = cx.client;
        let conversations = client.conversations_for(self.service.as_ref());
        let created = conversations
            .create()
            .unique_name(unique_name)
            .friendly_name(friendly_name)
            .attributes(&attributes_json(attributes))
            .await;
        let conversation = match created {
            Ok(c) => c,
            Err(e) if already_exists(&e) => client
                .conversations_for(self.service.as_ref())
                .fetch(SidOrName::<flexcord_twilio::sid::Conversation>::Name(
                    unique_name.to_owned(),
                ))
                .await
                .map_err(|e| failure(&e))?,
            Err(e) => return Err(failure(&e)),
        };
        let sid = conversation.sid;
        let mut participant = client
            .conversations_for(self.service.as_ref())
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
            .conversations_for(self.service.as_ref())
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
                .conversations_for(self.service.as_ref())
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
                .conversations_for(self.service.as_ref())
                .webhooks(&sid)
                .create(WebhookTarget::Studio)
                .flow_sid(flow)
                .await
                .map_err(|e| failure(&e))?;
        }
        Ok(sid.to_string())
    }

    async fn posted_before(
        &self,
        cx: &Context<'_>,
        action: &Action,
        conversation: &TwilioSid,
    ) -> Result<Option<String>, Failure> {
        let page = cx
            .client
            .conversations_for(self.service.as_ref())
            .messages(&sid(conversation)?)
            .list()
            .order(&Order::Desc)
            .page_size(RETRY_LOOKBACK)
            .await
            .map_err(|e| failure(&e))?;
        Ok(posted_by(
            action,
            page.items
                .iter()
                .map(|m| (m.sid.to_string(), m.attributes.as_deref())),
        ))
    }

    async fn post(
        &self,
        cx: &Context<'_>,
        action: &Action,
        post: &Post<'_>,
    ) -> Result<String, Failure> {
        let client = cx.client;
        let conversation = sid(post.sid)?;
        let media_sid = match post.media {
            Some(file) => {
                let service = match self.service {
                    Some(s) => Some(s),
                    None => {
                        client
                            .conversations_for(self.service.as_ref())
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
            .conversations_for(self.service.as_ref())
            .messages(&conversation)
            .create()
            .author(post.author);
        request = match &media_sid {
            Some(media) => request.media_sid(media),
            None => request.body(post.body),
        };
        let mut request = request
            .attributes(&message_attributes(action, post.discord_message))
            .webhook_enabled(post.webhooks);
        if let Some(date) = date_created(post.at) {
            request = request.date_created(date);
        }
        let message = request.await.map_err(|e| failure(&e))?;
        Ok(message.sid.to_string())
    }

    async fn messages_after(
        &self,
        cx: &Context<'_>,
        conversation: &TwilioSid,
        after: Option<u64>,
    ) -> Result<Vec<SweptMessage>, Failure> {
        let conversations = cx.client.conversations_for(self.service.as_ref());
        let listing = conversations
            .messages(&sid(conversation)?)
            .list()
            .order(&Order::Desc)
            .page_size(RETRY_LOOKBACK)
            .paginate()
            .map(|m| {
                m.map(|m| Listed {
                    sid: m.sid.to_string(),
                    index: m.index,
                    author: m.author,
                    body: m.body,
                    attributes: m.attributes,
                    media: m
                        .media
                        .into_iter()
                        .flatten()
                        .map(|x| {
                            (
                                x.sid.map(|s| s.to_string()),
                                x.filename,
                                x.content_type,
                                x.size,
                            )
                        })
                        .collect(),
                })
            });
        let service = self.service.map(|s| s.to_string());
        let mut found = listed_after(listing, after, service.as_deref()).await?;
        if service.is_none() && found.iter().any(|m| !m.attachments.is_empty()) {
            // Files are fetched through the conversation's own service.
            let own = conversations
                .fetch(sid(conversation)?)
                .await
                .map_err(|e| failure(&e))?
                .chat_service_sid
                .map(|s| s.to_string());
            for file in found.iter_mut().flat_map(|m| m.attachments.iter_mut()) {
                file.media_service.clone_from(&own);
            }
        }
        Ok(found)
    }

    async fn set_attributes(
        &self,
        cx: &Context<'_>,
        conversation: &TwilioSid,
        attributes: &ConversationAttributes,
    ) -> Result<(), Failure> {
        cx.client
            .conversations_for(self.service.as_ref())
            .update(sid(conversation)?)
            .attributes(&attributes_json(attributes))
            .await
            .map_err(|e| failure(&e))?;
        Ok(())
    }

    async fn hand_off(&self, cx: &Context<'_>, hand_off: &HandOff<'_>) -> Result<String, Failure> {
        let HandOff {
            sid: conversation,
            identity,
            user_name,
            case,
        } = *hand_off;
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
        let interaction = cx
            .client
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

    /// Ends the Twilio side. With the bridge's Flex interaction, its channel is closed with its
    /// tasks completed, which is how Flex ends a chat (the agent's task ends and Flex closes the
    /// conversation); otherwise, or when the interaction is gone, the conversation is closed.
    async fn agent_name(
        &self,
        cx: &Context<'_>,
        identity: &str,
    ) -> Result<Option<String>, Failure> {
        let fetched = cx
            .client
            .conversations_for(self.service.as_ref())
            .users()
            .fetch(SidOrName::Name(identity.to_owned()))
            .await
            .map(|user| user.friendly_name);
        super::friendly_name(fetched)
    }

    async fn close(
        &self,
        cx: &Context<'_>,
        conversation: &TwilioSid,
        interaction: Option<&FlexInteraction>,
    ) -> Result<(), Failure> {
        let client = cx.client;
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
            .conversations_for(self.service.as_ref())
            .update(sid(conversation)?)
            .state(&ConversationState::Closed)
            .await
            .map_err(|e| failure(&e))?;
        Ok(())
    }
}
