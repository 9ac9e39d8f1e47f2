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
//! deactivated and a fresh one created.

use flexcord_routing::{Action, ActionKind, ConversationAttributes, TwilioSid};
use flexcord_twilio::chat::{Channel, ChannelWebhookType};
use flexcord_twilio::sid::{ChannelSid, FlexFlowSid, MediaSid, ServiceSid};
use flexcord_twilio::{Client, Error};
use serde_json::{Value, json};

use crate::deliver_twilio::{attributes_json, upload_media};
use crate::media::Downloader;
use crate::telemetry;

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

type Outcome = Result<Option<String>, (bool, String)>;

fn fail(e: &Error) -> (bool, String) {
    (!e.is_retryable(), e.to_string())
}

fn channel_sid(s: &TwilioSid) -> Result<ChannelSid, (bool, String)> {
    s.as_str()
        .parse::<ChannelSid>()
        .map_err(|e| (true, format!("bad chat channel SID: {e}")))
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
    /// Runs one chat-mode Twilio action; `None` when it is not a Twilio action.
    pub(crate) async fn run(
        &self,
        client: &Client,
        outbound_url: &str,
        downloader: &Downloader,
        action: &Action,
    ) -> Option<Outcome> {
        Some(match &action.kind {
            ActionKind::CreateTwilioConversation {
                unique_name,
                identity,
                friendly_name,
                user_name,
                attributes,
                studio: _,
            } => self
                .create(
                    client,
                    outbound_url,
                    unique_name,
                    (identity, user_name.as_deref()),
                    friendly_name,
                    attributes,
                )
                .await
                .map(Some),
            ActionKind::PostToTwilio {
                sid,
                author,
                body,
                at,
                discord_message,
                webhooks,
                media,
            } => {
                let media_sid = match media {
                    Some(file) => {
                        match Box::pin(upload_media(client, &self.service, downloader, file)).await
                        {
                            Ok(sid) => sid,
                            Err(e) => return Some(Err(e)),
                        }
                    }
                    None => None,
                };
                self.post(
                    client,
                    action,
                    sid,
                    author,
                    body,
                    *at,
                    *discord_message,
                    *webhooks,
                    media_sid.as_ref(),
                )
                .await
            }
            ActionKind::UpdateTwilioAttributes { sid, attributes } => match channel_sid(sid) {
                Ok(ch) => self
                    .patch(client, &ch, &flexcord_patch(attributes))
                    .await
                    .map(|()| None),
                Err(e) => Err(e),
            },
            ActionKind::CloseTwilio { sid } => match channel_sid(sid) {
                Ok(ch) => self
                    .patch(client, &ch, &[("status", json!("INACTIVE"))])
                    .await
                    .map(|()| None),
                Err(e) => Err(e),
            },
            ActionKind::CreateInteraction { .. } => Err((
                true,
                "chat mode hands off through the Flex Flow's Studio flow, not the Interactions API"
                    .to_owned(),
            )),
            _ => return None,
        })
    }

    async fn fetch(&self, client: &Client, ch: &ChannelSid) -> Result<Channel, (bool, String)> {
        client
            .chat(&self.service)
            .channels()
            .fetch(ch)
            .await
            .map_err(|e| fail(&e))
    }

    /// Sets `patch`'s keys in the channel's attributes, keeping the others (no webhooks: the
    /// bridge knows what it changed).
    async fn patch(
        &self,
        client: &Client,
        ch: &ChannelSid,
        patch: &[(&str, Value)],
    ) -> Result<(), (bool, String)> {
        let channel = self.fetch(client, ch).await?;
        client
            .chat(&self.service)
            .channels()
            .update(ch)
            .attributes(&merged(&channel, patch))
            .await
            .map_err(|e| fail(&e))?;
        Ok(())
    }

    async fn create(
        &self,
        client: &Client,
        outbound_url: &str,
        unique_name: &str,
        (identity, user_name): (&str, Option<&str>),
        friendly_name: &str,
        attributes: &ConversationAttributes,
    ) -> Result<String, (bool, String)> {
        let mut channel = None;
        for _ in 0..2 {
            let created = client
                .flex()
                .channels()
                .create(
                    &self.flex_flow,
                    identity,
                    user_name.unwrap_or(friendly_name),
                    friendly_name,
                )
                .chat_unique_name(unique_name)
                .target(identity)
                .await
                .map_err(|e| fail(&e))?;
            let found = self.fetch(client, &created.sid).await?;
            if found.unique_name.as_deref() == Some(unique_name) {
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
            return Err((
                false,
                "Flex kept handing back another conversation's chat channel".to_owned(),
            ));
        };
        let ch = channel.sid;
        let merged_attributes = merged(&channel, &flexcord_patch(attributes));
        if channel.attributes_json().as_ref() != Some(&merged_attributes) {
            client
                .chat(&self.service)
                .channels()
                .update(ch)
                .attributes(&merged_attributes)
                .await
                .map_err(|e| fail(&e))?;
        }
        let webhooks = client
            .chat(&self.service)
            .webhooks(&ch)
            .list()
            .await
            .map_err(|e| fail(&e))?;
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
                .map_err(|e| fail(&e))?;
        }
        Ok(ch.to_string())
    }

    #[allow(clippy::too_many_arguments)] // the fields of one action
    async fn post(
        &self,
        client: &Client,
        action: &Action,
        sid: &TwilioSid,
        author: &str,
        body: &str,
        at: Option<flexcord_routing::Timestamp>,
        discord_message: Option<flexcord_routing::MessageId>,
        webhooks: bool,
        media: Option<&MediaSid>,
    ) -> Outcome {
        let ch = channel_sid(sid)?;
        let mut request = client
            .chat(&self.service)
            .messages(&ch)
            .create()
            .from(author);
        request = match media {
            Some(media) => request.media_sid(media),
            None => request.body(body),
        };
        let mut request = request
            .attributes(&json!({"flexcord": {
                "discord_message": discord_message.map(|m| m.to_string()),
                "trace": crate::trace::for_delivery(action),
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
        Ok(Some(message.sid.to_string()))
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
