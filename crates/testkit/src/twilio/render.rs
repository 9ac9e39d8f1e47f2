//! JSON renderings of the records, field for field as Twilio's specs describe them.

use serde_json::{Map, Value, json};

use super::model::{
    ChatChannel, ChatMember, ChatMessage, ChatUser, ChatWebhook, Conversation, ConversationService,
    ConversationUser, ConversationWebhook, Execution, FlexChannel, FlexFlow, Interaction,
    InteractionChannel, Media, Message, Participant,
};
use super::state::World;

impl World {
    fn svc(&self) -> String {
        format!("{}/v2/Services/{}", self.base, self.cfg.chat_service_sid)
    }

    /// The Conversations base of the request: `/v1`, or `/v1/Services/{IS}` for a request made
    /// through a service's paths.
    fn conv_root(&self) -> String {
        match &self.scope {
            Some(svc) => format!("{}/v1/Services/{svc}", self.base),
            None => format!("{}/v1", self.base),
        }
    }

    /// Adds `chat_service_sid`, which the service-scoped answers carry.
    fn scoped(&self, mut v: Value) -> Value {
        if let Some(svc) = &self.scope {
            v["chat_service_sid"] = json!(svc);
        }
        v
    }

    pub(crate) fn r_conversation(&self, c: &Conversation) -> Value {
        let url = format!("{}/Conversations/{}", self.conv_root(), c.sid);
        let mut timers = Map::new();
        if let Some(d) = &c.date_inactive {
            timers.insert("date_inactive".to_owned(), json!(d));
        }
        if let Some(d) = &c.date_closed {
            timers.insert("date_closed".to_owned(), json!(d));
        }
        json!({
            "sid": c.sid,
            "account_sid": self.cfg.account_sid,
            "chat_service_sid": c.chat_service_sid,
            "messaging_service_sid": c.messaging_service_sid,
            "friendly_name": c.friendly_name,
            "unique_name": c.unique_name,
            "attributes": c.attributes,
            "state": c.state,
            "date_created": c.date_created,
            "date_updated": c.date_updated,
            "timers": timers,
            "bindings": {},
            "links": {
                "participants": format!("{url}/Participants"),
                "messages": format!("{url}/Messages"),
                "webhooks": format!("{url}/Webhooks"),
                "export": format!("{url}/Export"),
            },
            "url": url,
        })
    }

    pub(crate) fn r_participant(&self, p: &Participant) -> Value {
        self.scoped(json!({
            "account_sid": self.cfg.account_sid,
            "conversation_sid": p.conversation_sid,
            "sid": p.sid,
            "identity": p.identity,
            "attributes": p.attributes,
            "messaging_binding": p.messaging_binding,
            "role_sid": p.role_sid,
            "date_created": p.date_created,
            "date_updated": p.date_updated,
            "url": format!("{}/Conversations/{}/Participants/{}", self.conv_root(), p.conversation_sid, p.sid),
            "last_read_message_index": null,
            "last_read_timestamp": null,
        }))
    }

    pub(crate) fn r_message(&self, m: &Message) -> Value {
        let url = format!(
            "{}/Conversations/{}/Messages/{}",
            self.conv_root(),
            m.conversation_sid,
            m.sid
        );
        let media = if m.media.is_empty() {
            Value::Null
        } else {
            Value::Array(
                m.media
                    .iter()
                    .map(|x| json!({"sid": x.sid, "size": x.size, "content_type": x.content_type, "filename": x.filename, "category": "media"}))
                    .collect(),
            )
        };
        self.scoped(json!({
            "account_sid": self.cfg.account_sid,
            "conversation_sid": m.conversation_sid,
            "sid": m.sid,
            "index": m.index,
            "author": m.author,
            "body": m.body,
            "media": media,
            "attributes": m.attributes,
            "participant_sid": m.participant_sid,
            "date_created": m.date_created,
            "date_updated": m.date_updated,
            "url": url,
            "delivery": null,
            "links": {
                "delivery_receipts": format!("{url}/Receipts"),
                "channel_metadata": format!("{url}/ChannelMetadata"),
            },
            "content_sid": null,
        }))
    }

    pub(crate) fn r_conv_webhook(&self, w: &ConversationWebhook) -> Value {
        let mut conf = Map::new();
        if let Some(u) = &w.url {
            conf.insert("url".to_owned(), json!(u));
        }
        if let Some(m) = &w.method {
            conf.insert("method".to_owned(), json!(m.to_ascii_uppercase()));
        }
        if !w.filters.is_empty() {
            conf.insert("filters".to_owned(), json!(w.filters));
        }
        if !w.triggers.is_empty() {
            conf.insert("triggers".to_owned(), json!(w.triggers));
        }
        if let Some(f) = &w.flow_sid {
            conf.insert("flow_sid".to_owned(), json!(f));
        }
        if let Some(r) = w.replay_after {
            conf.insert("replay_after".to_owned(), json!(r));
        }
        self.scoped(json!({
            "sid": w.sid,
            "account_sid": self.cfg.account_sid,
            "conversation_sid": w.conversation_sid,
            "target": w.target,
            "url": format!("{}/Conversations/{}/Webhooks/{}", self.conv_root(), w.conversation_sid, w.sid),
            "configuration": conf,
            "date_created": w.date_created,
            "date_updated": w.date_updated,
        }))
    }

    /// A Conversations user, with the URLs of the request's scope.
    pub(crate) fn r_conv_user(&self, u: &ConversationUser) -> Value {
        let url = format!("{}/Users/{}", self.conv_root(), u.sid);
        json!({
            "sid": u.sid,
            "account_sid": self.cfg.account_sid,
            "chat_service_sid": u.chat_service_sid,
            "role_sid": u.role_sid,
            "identity": u.identity,
            "friendly_name": u.friendly_name,
            "attributes": u.attributes,
            "is_online": null,
            "is_notifiable": null,
            "date_created": u.date_created,
            "date_updated": u.date_updated,
            "url": url,
            "links": {"user_conversations": format!("{url}/Conversations")},
        })
    }

    /// A Conversations service.
    pub(crate) fn r_conv_service(&self, s: &ConversationService) -> Value {
        let url = format!("{}/v1/Services/{}", self.base, s.sid);
        json!({
            "account_sid": self.cfg.account_sid,
            "sid": s.sid,
            "friendly_name": s.friendly_name,
            "date_created": s.date_created,
            "date_updated": s.date_updated,
            "url": url,
            "links": {
                "conversations": format!("{url}/Conversations"),
                "users": format!("{url}/Users"),
                "roles": format!("{url}/Roles"),
                "bindings": format!("{url}/Bindings"),
                "configuration": format!("{url}/Configuration"),
                "participant_conversations": format!("{url}/ParticipantConversations"),
                "conversation_with_participants": format!("{url}/ConversationWithParticipants"),
            },
        })
    }

    pub(crate) fn r_chat_user(&self, u: &ChatUser) -> Value {
        let url = format!("{}/Users/{}", self.svc(), u.sid);
        let joined = self
            .chat_members
            .iter()
            .filter(|m| m.identity == u.identity)
            .count();
        json!({
            "sid": u.sid,
            "account_sid": self.cfg.account_sid,
            "service_sid": self.cfg.chat_service_sid,
            "attributes": u.attributes,
            "friendly_name": u.friendly_name,
            "role_sid": u.role_sid,
            "identity": u.identity,
            "is_online": null,
            "is_notifiable": null,
            "date_created": u.date_created,
            "date_updated": u.date_updated,
            "joined_channels_count": joined,
            "links": {
                "user_channels": format!("{url}/Channels"),
                "user_bindings": format!("{url}/Bindings"),
            },
            "url": url,
        })
    }

    pub(crate) fn r_user_channel(&self, u: &ChatUser, m: &ChatMember) -> Value {
        json!({
            "account_sid": self.cfg.account_sid,
            "service_sid": self.cfg.chat_service_sid,
            "channel_sid": m.channel_sid,
            "user_sid": u.sid,
            "member_sid": m.sid,
            "status": "joined",
            "last_consumed_message_index": null,
            "unread_messages_count": null,
            "links": {
                "channel": format!("{}/Channels/{}", self.svc(), m.channel_sid),
                "member": format!("{}/Channels/{}/Members/{}", self.svc(), m.channel_sid, m.sid),
            },
            "url": format!("{}/Users/{}/Channels/{}", self.svc(), u.sid, m.channel_sid),
            "notification_level": "default",
        })
    }

    pub(crate) fn r_chat_channel(&self, c: &ChatChannel) -> Value {
        let url = format!("{}/Channels/{}", self.svc(), c.sid);
        let members = self
            .chat_members
            .iter()
            .filter(|m| m.channel_sid == c.sid)
            .count();
        let messages = self
            .chat_messages
            .iter()
            .filter(|m| m.channel_sid == c.sid)
            .count();
        json!({
            "sid": c.sid,
            "account_sid": self.cfg.account_sid,
            "service_sid": self.cfg.chat_service_sid,
            "friendly_name": c.friendly_name,
            "unique_name": c.unique_name,
            "attributes": c.attributes,
            "type": c.kind,
            "date_created": c.date_created,
            "date_updated": c.date_updated,
            "created_by": c.created_by,
            "members_count": members,
            "messages_count": messages,
            "url": url,
            "links": {
                "members": format!("{url}/Members"),
                "messages": format!("{url}/Messages"),
                "invites": format!("{url}/Invites"),
                "webhooks": format!("{url}/Webhooks"),
                "last_message": null,
            },
        })
    }

    pub(crate) fn r_chat_member(&self, m: &ChatMember) -> Value {
        json!({
            "sid": m.sid,
            "account_sid": self.cfg.account_sid,
            "channel_sid": m.channel_sid,
            "service_sid": self.cfg.chat_service_sid,
            "identity": m.identity,
            "date_created": m.date_created,
            "date_updated": m.date_updated,
            "role_sid": m.role_sid,
            "last_consumed_message_index": null,
            "last_consumption_timestamp": null,
            "url": format!("{}/Channels/{}/Members/{}", self.svc(), m.channel_sid, m.sid),
            "attributes": m.attributes,
        })
    }

    pub(crate) fn r_chat_message(&self, m: &ChatMessage) -> Value {
        let media = m
            .media
            .as_ref()
            .map_or(Value::Null, |x| json!({"sid": x.sid, "size": x.size, "content_type": x.content_type, "filename": x.filename}));
        json!({
            "sid": m.sid,
            "account_sid": self.cfg.account_sid,
            "attributes": m.attributes,
            "service_sid": self.cfg.chat_service_sid,
            "to": m.channel_sid,
            "channel_sid": m.channel_sid,
            "date_created": m.date_created,
            "date_updated": m.date_updated,
            "last_updated_by": m.last_updated_by,
            "was_edited": m.was_edited,
            "from": m.from,
            "body": m.body,
            "index": m.index,
            "type": if m.media.is_some() { "media" } else { "text" },
            "media": media,
            "url": format!("{}/Channels/{}/Messages/{}", self.svc(), m.channel_sid, m.sid),
        })
    }

    pub(crate) fn r_chat_webhook(&self, w: &ChatWebhook) -> Value {
        let mut conf = Map::new();
        if let Some(u) = &w.url {
            conf.insert("url".to_owned(), json!(u));
        }
        if let Some(m) = &w.method {
            conf.insert("method".to_owned(), json!(m));
        }
        if !w.filters.is_empty() {
            conf.insert("filters".to_owned(), json!(w.filters));
        }
        if !w.triggers.is_empty() {
            conf.insert("triggers".to_owned(), json!(w.triggers));
        }
        if let Some(f) = &w.flow_sid {
            conf.insert("flow_sid".to_owned(), json!(f));
        }
        conf.insert("retry_count".to_owned(), json!(w.retry_count));
        json!({
            "sid": w.sid,
            "account_sid": self.cfg.account_sid,
            "service_sid": self.cfg.chat_service_sid,
            "channel_sid": w.channel_sid,
            "type": w.kind,
            "url": format!("{}/Channels/{}/Webhooks/{}", self.svc(), w.channel_sid, w.sid),
            "configuration": conf,
            "date_created": w.date_created,
            "date_updated": w.date_updated,
        })
    }

    pub(crate) fn r_flex_channel(&self, c: &FlexChannel) -> Value {
        json!({
            "account_sid": self.cfg.account_sid,
            "flex_flow_sid": c.flex_flow_sid,
            "sid": c.sid,
            "user_sid": c.user_sid,
            "task_sid": c.task_sid,
            "url": format!("{}/v1/Channels/{}", self.base, c.sid),
            "date_created": c.date_created,
            "date_updated": c.date_updated,
        })
    }

    pub(crate) fn r_flex_flow(&self, f: &FlexFlow) -> Value {
        json!({
            "account_sid": self.cfg.account_sid,
            "date_created": f.date_created,
            "date_updated": f.date_updated,
            "sid": f.sid,
            "friendly_name": f.friendly_name,
            "chat_service_sid": f.chat_service_sid,
            "channel_type": f.channel_type,
            "contact_identity": f.contact_identity,
            "enabled": f.enabled,
            "integration_type": f.integration_type,
            "integration": f.integration,
            "long_lived": f.long_lived,
            "janitor_enabled": f.janitor_enabled,
            "url": format!("{}/v1/FlexFlows/{}", self.base, f.sid),
        })
    }

    pub(crate) fn r_interaction(&self, i: &Interaction) -> Value {
        let url = format!("{}/v1/Interactions/{}", self.base, i.sid);
        let mut channel = i.channel.clone();
        if let Some(obj) = channel.as_object_mut() {
            obj.insert("sid".to_owned(), json!(i.channel_sid));
        }
        let mut routing = i.routing.clone();
        if let Some(props) = routing.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert("sid".to_owned(), json!(i.task_sid));
            props.insert("account_sid".to_owned(), json!(self.cfg.account_sid));
            let status = self
                .tasks
                .iter()
                .find(|t| t.sid == i.task_sid)
                .map_or("pending", |t| match t.status {
                    super::model::TaskStatus::Pending => "pending",
                    super::model::TaskStatus::Assigned => "assigned",
                    super::model::TaskStatus::Wrapping => "wrapping",
                    super::model::TaskStatus::Completed => "completed",
                });
            props.insert("assignment_status".to_owned(), json!(status));
            if let Some(a) = props.get("attributes").filter(|a| !a.is_string()).cloned() {
                props.insert("attributes".to_owned(), json!(a.to_string()));
            }
        }
        json!({
            "sid": i.sid,
            "channel": channel,
            "routing": routing,
            "url": url,
            "links": { "channels": format!("{url}/Channels") },
            "interaction_context_sid": null,
            "webhook_ttid": i.webhook_ttid,
        })
    }

    pub(crate) fn r_interaction_channel(&self, c: &InteractionChannel) -> Value {
        let url = format!(
            "{}/v1/Interactions/{}/Channels/{}",
            self.base, c.interaction_sid, c.sid
        );
        json!({
            "sid": c.sid,
            "interaction_sid": c.interaction_sid,
            "type": c.kind,
            "status": c.status,
            "error_code": c.error_code,
            "error_message": c.error_message,
            "url": url,
            "links": {
                "participants": format!("{url}/Participants"),
                "invites": format!("{url}/Invites"),
                "transfers": format!("{url}/Transfers"),
            },
        })
    }

    pub(crate) fn r_execution(&self, e: &Execution) -> Value {
        let url = format!("{}/v2/Flows/{}/Executions/{}", self.base, e.flow_sid, e.sid);
        json!({
            "sid": e.sid,
            "account_sid": self.cfg.account_sid,
            "flow_sid": e.flow_sid,
            "contact_channel_address": e.to,
            "contact_sid": e.contact_sid,
            "flow_version": 1,
            "context": {},
            "status": e.status,
            "date_created": e.date_created,
            "date_updated": e.date_updated,
            "initiated_by": self.cfg.account_sid,
            "url": url,
            "links": {
                "steps": format!("{url}/Steps"),
                "execution_context": format!("{url}/Context"),
            },
        })
    }

    /// A Studio execution's context: what the flow knows, as Studio keeps it (`trigger.request`
    /// with the REST trigger's `To`, `From` and `Parameters`; `flow.data` with the parameters;
    /// `contact.channel.address`; no widget has run).
    pub(crate) fn r_execution_context(&self, e: &Execution) -> Value {
        let url = format!(
            "{}/v2/Flows/{}/Executions/{}/Context",
            self.base, e.flow_sid, e.sid
        );
        json!({
            "account_sid": self.cfg.account_sid,
            "context": {
                "trigger": {"request": {"to": e.to, "from": e.from, "parameters": e.parameters}},
                "contact": {"channel": {"address": e.to}},
                "flow": {
                    "flow_sid": e.flow_sid,
                    "sid": e.sid,
                    "channel": {"address": e.from},
                    "data": e.parameters,
                    "variables": {},
                },
                "widgets": {},
            },
            "flow_sid": e.flow_sid,
            "execution_sid": e.sid,
            "url": url,
        })
    }

    /// A Media Content Service item; `content_direct_temporary` is an unauthenticated, expiring
    /// link served by the emulator.
    pub(crate) fn r_media(&self, m: &Media, expires: i64, signature: &str) -> Value {
        let path = format!("/v1/Services/{}/Media/{}", m.service_sid, m.sid);
        json!({
            "sid": m.sid,
            "service_sid": m.service_sid,
            "account_sid": self.cfg.account_sid,
            "date_created": m.date_created,
            "date_upload_completed": m.date_created,
            "date_updated": m.date_created,
            "links": {
                "content": format!("{path}/Content"),
                "content_direct_temporary": format!("{}/__media/{}?Expires={expires}&Signature={signature}", self.base, m.sid),
            },
            "size": m.content.len(),
            "content_type": m.content_type,
            "filename": m.filename,
            "author": m.author,
            "category": "media",
            "message_sid": m.message_sid,
            "channel_sid": m.channel_sid,
            "url": path,
            "is_multipart_upstream": false,
        })
    }
}
