//! Running the routing core's Twilio actions in chat mode (Programmable Chat v2 through a Flex
//! Flow, the reference design; always the studio route).
//!
//! - The conversation is a Flex chat channel: `POST /v1/Channels` with the Flex Flow, the user's
//!   identity and the conversation's unique name (`ChatUniqueName`); the Flex Flow's Studio
//!   integration attaches the flow. The channel then gets a webhook to `/twilio/outbound` for
//!   `onMessageSent`, `onMessageUpdated`, `onMediaMessageSent`, `onMemberAdded` and
//!   `onChannelUpdated`.
//! - Messages are Chat messages (`From` = the author identity); user messages fire the webhooks
//!   (so Studio sees them), bot replies and notices do not. A user's file is uploaded to the
//!   chat service's Media Content Service and sent as a media message (`MediaSid`).
//! - Attributes are merged into the channel's own (Flex keeps `status`, `from`, `channel_type`
//!   there): only the `flexcord` key is replaced. Closing sets Flex's `status` to `INACTIVE`.
//!
//! Each action is safe to repeat: Flex hands back the identity's active channel, and the channel
//! carries the conversation's unique name, so a retry finds the channel the first attempt made.
//! An active channel left over from an earlier conversation (another unique name) is
//! deactivated and a fresh one created. A message post retried by the outbox first looks for
//! the message an earlier attempt created (its `flexcord.action` attribute), as in
//! Conversations mode. Failures are judged as in Conversations mode ([`super::failure`]).
//!
//! Chat channels have no Interactions API: the Flex Flow's Studio flow hands off (it sees
//! `flexcord.handoff` and sends the channel to Flex), so `CreateInteraction` is refused.

use flexcord_routing::{Action, ConversationAttributes, FlexInteraction, SweptMessage, TwilioSid};
use flexcord_store::Failure;
use flexcord_twilio::chat::{Channel, ChannelWebhookType};
use flexcord_twilio::sid::{ChannelSid, FlexFlowSid, ServiceSid};
use flexcord_twilio::{Client, Order};
use futures::StreamExt;
use serde_json::{Value, json};

use super::{
    Context, HandOff, Listed, Mode, NewConversation, Post, RETRY_LOOKBACK, attributes_json,
    date_created, failure, listed_after, message_attributes, posted_by, upload_media,
};

/// The channel webhook's events (DESIGN §3).
pub const CHAT_FILTERS: [&str; 5] = [
    "onMessageSent",
    "onMessageUpdated",
    "onMediaMessageSent",
    "onMemberAdded",
    "onChannelUpdated",
];

/// What chat mode needs besides the client: the Chat service and the Flex Flow.
#[derive(Debug, Clone)]
pub struct ChatTarget {
    /// The Flex chat service (`IS…`).
    pub service: ServiceSid,
    /// The Flex Flow with the Studio integration (`FO…`).
    pub flex_flow: FlexFlowSid,
}

fn channel_sid(s: &TwilioSid) -> Result<ChannelSid, Failure> {
    s.as_str()
        .parse::<ChannelSid>()
        .map_err(|e| Failure::permanent(format!("bad chat channel SID: {e}")))
}

/// The channel's attributes with `patch`'s keys set (the rest, Flex's own, kept).
fn merged(channel: &Channel, patch: &[(&str, Value)]) -> Value {
    let mut attributes = match channel.attributes_json() {
        Some(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    for (key, value) in patch {
        attributes.insert((*key).to_owned(), value.clone());
    }
    Value::Object(attributes)
}

fn flexcord_patch(a: &ConversationAttributes) -> Vec<(&'static str, Value)> {
    let value = attributes_json(a);
    vec![("flexcord", value["flexcord"].clone())]
}

impl ChatTarget {
    async fn fetch(&self, client: &Client, ch: &ChannelSid) -> Result<Channel, Failure> {
        client
            .chat(&self.service)
            .channels()
            .fetch(ch)
            .await
            .map_err(|e| failure(&e))
    }

    /// Sets `patch`'s keys in the channel's attributes, keeping the others (no webhooks: the
    /// bridge knows what it changed).
    async fn patch(
        &self,
        client: &Client,
        ch: &ChannelSid,
        patch: &[(&str, Value)],
    ) -> Result<(), Failure> {
        let channel = self.fetch(client, ch).await?;
        client
            .chat(&self.service)
            .channels()
            .update(ch)
            .attributes(&merged(&channel, patch))
            .await
            .map_err(|e| failure(&e))?;
        Ok(())
    }
}

impl Mode for ChatTarget {
    async fn create(&self, cx: &Context<'_>, new: &NewConversation<'_>) -> Result<String, Failure> {
        let (client, outbound_url) = (cx.client, cx.outbound_url);
        let mut channel = None;
        for _ in 0..2 {
            let created = client
                .flex()
                .channels()
                .create(
                    &self.flex_flow,
                    new.identity,
                    new.user_name.unwrap_or(new.friendly_name),
                    new.friendly_name,
                )
                .chat_unique_name(new.unique_name)
                .target(new.identity)
                .await
                .map_err(|e| failure(&e))?;
            let found = self.fetch(client, &created.sid).await?;
            if found.unique_name.as_deref() == Some(new.unique_name) {
                channel = Some(found);
                break;
            }
            // Flex handed back the identity's active channel of an earlier conversation: end it
            // and ask again.
            tracing::info!(channel = %found.sid, "deactivating a stale Flex chat channel");
            self.patch(client, &found.sid, &[("status", json!("INACTIVE"))])
                .await?;
        }
        let Some(channel) = channel else {
            return Err(Failure::transient(
                "Flex kept handing back another conversation's chat channel",
            ));
        };
        let ch = channel.sid;
        let merged_attributes = merged(&channel, &flexcord_patch(new.attributes));
        if channel.attributes_json().as_ref() != Some(&merged_attributes) {
            client
                .chat(&self.service)
                .channels()
                .update(ch)
                .attributes(&merged_attributes)
                .await
                .map_err(|e| failure(&e))?;
        }
        let webhooks = client
            .chat(&self.service)
            .webhooks(&ch)
            .list()
            .await
            .map_err(|e| failure(&e))?;
        let registered = webhooks.items.iter().any(|w| {
            w.webhook_type == Some(ChannelWebhookType::Webhook)
                && w.configuration
                    .as_ref()
                    .and_then(|c| c.url.as_deref())
                    .is_some_and(|u| u == outbound_url)
        });
        if !registered {
            client
                .chat(&self.service)
                .webhooks(&ch)
                .create(ChannelWebhookType::Webhook)
                .url(outbound_url)
                .method(&flexcord_twilio::WebhookMethod::Post)
                .filters(CHAT_FILTERS)
                .await
                .map_err(|e| failure(&e))?;
        }
        Ok(ch.to_string())
    }

    async fn posted_before(
        &self,
        cx: &Context<'_>,
        action: &Action,
        sid: &TwilioSid,
    ) -> Result<Option<String>, Failure> {
        let page = cx
            .client
            .chat(&self.service)
            .messages(&channel_sid(sid)?)
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

    async fn messages_after(
        &self,
        cx: &Context<'_>,
        sid: &TwilioSid,
        after: Option<u64>,
    ) -> Result<Vec<SweptMessage>, Failure> {
        let listing = cx
            .client
            .chat(&self.service)
            .messages(&channel_sid(sid)?)
            .list()
            .order(&Order::Desc)
            .page_size(RETRY_LOOKBACK)
            .paginate()
            .map(|m| {
                m.map(|m| Listed {
                    sid: m.sid.to_string(),
                    index: m.index,
                    author: m.from,
                    body: m.body,
                    attributes: m.attributes,
                    media: m
                        .media
                        .into_iter()
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
        listed_after(listing, after, Some(self.service.as_str())).await
    }

    async fn post(
        &self,
        cx: &Context<'_>,
        action: &Action,
        post: &Post<'_>,
    ) -> Result<String, Failure> {
        let client = cx.client;
        let ch = channel_sid(post.sid)?;
        let media = match post.media {
            Some(file) => upload_media(client, &self.service, cx.downloader, file).await?,
            None => None,
        };
        let mut request = client
            .chat(&self.service)
            .messages(&ch)
            .create()
            .from(post.author);
        request = match &media {
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

    async fn set_attributes(
        &self,
        cx: &Context<'_>,
        sid: &TwilioSid,
        attributes: &ConversationAttributes,
    ) -> Result<(), Failure> {
        self.patch(cx.client, &channel_sid(sid)?, &flexcord_patch(attributes))
            .await
    }

    async fn hand_off(&self, _: &Context<'_>, _: &HandOff<'_>) -> Result<String, Failure> {
        Err(Failure::permanent(
            "chat mode hands off through the Flex Flow's Studio flow, not the Interactions API",
        ))
    }

    /// Sets Flex's `status` to `INACTIVE`: Flex ends the chat's task (chat channels have no
    /// Flex interaction).
    async fn agent_name(
        &self,
        cx: &Context<'_>,
        identity: &str,
    ) -> Result<Option<String>, Failure> {
        let fetched = cx
            .client
            .chat(&self.service)
            .users()
            .fetch(flexcord_twilio::sid::SidOrName::Name(identity.to_owned()))
            .await
            .map(|user| user.friendly_name);
        super::friendly_name(fetched)
    }

    async fn close(
        &self,
        cx: &Context<'_>,
        sid: &TwilioSid,
        _: Option<&FlexInteraction>,
    ) -> Result<(), Failure> {
        self.patch(
            cx.client,
            &channel_sid(sid)?,
            &[("status", json!("INACTIVE"))],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_flex_attributes() {
        let channel: Channel = serde_json::from_value(json!({
            "sid": "CH0123456789abcdef0123456789abcdef",
            "attributes": r#"{"status":"ACTIVE","from":"alice","flexcord":{"handoff":false}}"#,
        }))
        .expect("channel");
        let a = ConversationAttributes {
            discord_user: flexcord_routing::UserId(5),
            dm_channel: None,
            handoff: true,
            case: None,
        };
        let out = merged(&channel, &flexcord_patch(&a));
        assert_eq!(out["status"], "ACTIVE");
        assert_eq!(out["from"], "alice");
        assert_eq!(out["flexcord"]["handoff"], true);
        assert_eq!(out["flexcord"]["discord_user"], "5");
        let closed = merged(&channel, &[("status", json!("INACTIVE"))]);
        assert_eq!(closed["status"], "INACTIVE");
        assert_eq!(closed["flexcord"]["handoff"], false);
        let bare: Channel = serde_json::from_value(json!({
            "sid": "CH0123456789abcdef0123456789abcdef",
            "attributes": "not json",
        }))
        .expect("channel");
        assert_eq!(
            merged(&bare, &[("status", json!("INACTIVE"))]),
            json!({"status": "INACTIVE"})
        );
    }
}
