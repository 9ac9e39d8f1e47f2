//! The emulator's world: every resource, and the rules that fire webhooks, route messages and
//! move tasks. Everything here is synchronous and runs under one lock; outgoing requests and
//! delayed work are queued and carried out by the caller once the lock is released.

use std::time::Duration;

use serde_json::{Value, json};

use super::config::{ServiceWebhook, TwilioConfig};
use super::faults::{Fault, WebhookFault};
use super::model::{
    ApiCall, ChatChannel, ChatMember, ChatMessage, ChatUser, ChatWebhook, Conversation,
    ConversationService, ConversationUser, ConversationWebhook, Delivery, DeliveryKind,
    DeliveryOutcome, Execution, FlexChannel, FlexFlow, Interaction, InteractionChannel, Media,
    MediaRef, Message, Participant, Route, RouterDecision, Task, TaskStatus,
};
use super::util::{ApiError, handoff_flag, now, sid};

/// Who made a change, and whether it fires post-event webhooks.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) source: &'static str,
    pub(crate) identity: Option<String>,
    pub(crate) fire: bool,
}

impl Origin {
    pub(crate) fn sdk(identity: &str) -> Self {
        Self {
            source: "SDK",
            identity: Some(identity.to_owned()),
            fire: true,
        }
    }

    /// Flex's own server-side changes (agent joins, task ends): always fire.
    pub(crate) fn flex() -> Self {
        Self {
            source: "API",
            identity: None,
            fire: true,
        }
    }
}

/// A request to send once the lock is released.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) id: u64,
    pub(crate) kind: DeliveryKind,
    pub(crate) event_type: Option<String>,
    pub(crate) url: String,
    pub(crate) method: String,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) retries: u32,
    pub(crate) headers: Vec<(String, String)>,
}

/// Work to do later, outside the lock.
#[derive(Debug, Clone)]
pub(crate) enum Deferred {
    ActivateInteraction { sid: String, after: Duration },
}

pub(crate) struct World {
    pub(crate) cfg: TwilioConfig,
    pub(crate) base: String,
    pub(crate) participant_role: String,
    pub(crate) channel_role: String,
    pub(crate) user_role: String,
    pub(crate) conv_services: Vec<ConversationService>,
    pub(crate) conv_users: Vec<ConversationUser>,
    /// The Conversations service a REST request names in its path
    /// (`/v1/Services/{ChatServiceSid}/...`); `None` for the account-level paths, which reach the
    /// default service. Set for one request only; answers then carry the service's URLs.
    pub(crate) scope: Option<String>,
    pub(crate) conversations: Vec<Conversation>,
    pub(crate) participants: Vec<Participant>,
    pub(crate) messages: Vec<Message>,
    pub(crate) conv_webhooks: Vec<ConversationWebhook>,
    pub(crate) chat_users: Vec<ChatUser>,
    pub(crate) chat_channels: Vec<ChatChannel>,
    pub(crate) chat_members: Vec<ChatMember>,
    pub(crate) chat_messages: Vec<ChatMessage>,
    pub(crate) chat_webhooks: Vec<ChatWebhook>,
    pub(crate) flex_flows: Vec<FlexFlow>,
    pub(crate) flex_channels: Vec<FlexChannel>,
    pub(crate) interactions: Vec<Interaction>,
    pub(crate) interaction_channels: Vec<InteractionChannel>,
    pub(crate) tasks: Vec<Task>,
    pub(crate) executions: Vec<Execution>,
    pub(crate) media: Vec<Media>,
    pub(crate) decisions: Vec<RouterDecision>,
    pub(crate) deliveries: Vec<Delivery>,
    pub(crate) calls: Vec<ApiCall>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) webhook_faults: Vec<WebhookFault>,
    pub(crate) agents: Vec<String>,
    pub(crate) next_delivery: u64,
    pub(crate) pending: Vec<Outgoing>,
    pub(crate) deferred: Vec<Deferred>,
    pub(crate) changed: bool,
    /// REST answers held by [`super::FaultEffect::Hold`] right now.
    pub(crate) held: usize,
    /// How often [`super::TwilioEmulator::release_held`] was called.
    pub(crate) releases: u64,
}

/// A display name from an identity: the part after the last `:`, capitalised
/// (`agent:alice` → `Alice`).
pub(crate) fn display_name(identity: &str) -> String {
    let name = identity.rsplit(':').next().unwrap_or(identity);
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn push_opt(out: &mut Vec<(String, String)>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.push((key.to_owned(), v.to_owned()));
    }
}

fn kv(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}

/// Reads the `rc` connection override from a URL fragment; returns the URL without it.
pub(crate) fn split_fragment(url: &str) -> (String, Option<u32>) {
    match url.split_once('#') {
        None => (url.to_owned(), None),
        Some((base, frag)) => {
            let rc = form_urlencoded::parse(frag.as_bytes())
                .find(|(k, _)| k == "rc")
                .and_then(|(_, v)| v.parse::<u32>().ok())
                .map(|n| n.min(5));
            (base.to_owned(), rc)
        }
    }
}

impl World {
    pub(crate) fn new(cfg: TwilioConfig, base: String) -> Self {
        let flow = FlexFlow {
            sid: cfg.flex_flow_sid.clone(),
            friendly_name: "Discord".to_owned(),
            chat_service_sid: cfg.chat_service_sid.clone(),
            channel_type: "custom".to_owned(),
            integration_type: "studio".to_owned(),
            integration: json!({ "flow_sid": cfg.studio_flow_sid, "retry_count": 3 }),
            contact_identity: None,
            enabled: true,
            long_lived: false,
            janitor_enabled: true,
            date_created: now(),
            date_updated: now(),
        };
        let default_service = ConversationService {
            sid: cfg.chat_service_sid.clone(),
            friendly_name: "Default Conversations Service".to_owned(),
            date_created: now(),
            date_updated: now(),
        };
        Self {
            cfg,
            base,
            conv_services: vec![default_service],
            conv_users: Vec::new(),
            scope: None,
            participant_role: sid("RL"),
            channel_role: sid("RL"),
            user_role: sid("RL"),
            conversations: Vec::new(),
            participants: Vec::new(),
            messages: Vec::new(),
            conv_webhooks: Vec::new(),
            chat_users: Vec::new(),
            chat_channels: Vec::new(),
            chat_members: Vec::new(),
            chat_messages: Vec::new(),
            chat_webhooks: Vec::new(),
            flex_flows: vec![flow],
            flex_channels: Vec::new(),
            interactions: Vec::new(),
            interaction_channels: Vec::new(),
            tasks: Vec::new(),
            executions: Vec::new(),
            media: Vec::new(),
            decisions: Vec::new(),
            deliveries: Vec::new(),
            calls: Vec::new(),
            faults: Vec::new(),
            webhook_faults: Vec::new(),
            agents: Vec::new(),
            next_delivery: 1,
            pending: Vec::new(),
            deferred: Vec::new(),
            changed: false,
            held: 0,
            releases: 0,
        }
    }

    pub(crate) fn rest_origin(&self, header: Option<&str>) -> Origin {
        let fire = match header.map(str::to_ascii_lowercase).as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => !self.cfg.rest_webhooks_need_header,
        };
        Origin {
            source: "API",
            identity: None,
            fire,
        }
    }

    fn bot_url(&self) -> Option<String> {
        self.cfg.bot_url.clone().or_else(|| {
            self.cfg
                .webhook_base_url
                .as_ref()
                .map(|b| format!("{}/twilio/bot", b.trim_end_matches('/')))
        })
    }

    fn is_agent(&self, identity: &str) -> bool {
        self.agents.iter().any(|a| a == identity)
    }

    fn is_customer(&self, author: &str) -> bool {
        author != "system" && author != self.cfg.bot_identity && !self.is_agent(author)
    }

    // ----------------------------------------------------------------------------------------
    // Conversations

    pub(crate) fn conv_index(&self, sid_or_name: &str) -> Option<usize> {
        self.conversations
            .iter()
            .position(|c| c.sid == sid_or_name)
            .or_else(|| {
                self.conversations
                    .iter()
                    .position(|c| c.unique_name.as_deref() == Some(sid_or_name))
            })
    }

    /// The service a REST request works in: the one its path names, else the default.
    pub(crate) fn scope_service(&self) -> &str {
        self.scope.as_deref().unwrap_or(&self.cfg.chat_service_sid)
    }

    /// A conversation of the request's service by SID or unique name (a conversation of another
    /// service is not found, as on Twilio).
    pub(crate) fn conv(&self, sid_or_name: &str, path: &str) -> Result<usize, ApiError> {
        let service = self.scope_service();
        let mine = |c: &&Conversation| c.chat_service_sid == service;
        self.conversations
            .iter()
            .position(|c| mine(&c) && c.sid == sid_or_name)
            .or_else(|| {
                self.conversations
                    .iter()
                    .position(|c| mine(&c) && c.unique_name.as_deref() == Some(sid_or_name))
            })
            .ok_or_else(|| ApiError::not_found(path))
    }

    pub(crate) fn conv_service_create(&mut self, friendly_name: &str) -> String {
        let svc = ConversationService {
            sid: sid("IS"),
            friendly_name: friendly_name.to_owned(),
            date_created: now(),
            date_updated: now(),
        };
        let out = svc.sid.clone();
        self.conv_services.push(svc);
        self.changed = true;
        out
    }

    /// A user of `service` by SID or identity.
    pub(crate) fn conv_user_index(&self, service: &str, sid_or_identity: &str) -> Option<usize> {
        self.conv_users.iter().position(|u| {
            u.chat_service_sid == service
                && (u.sid == sid_or_identity || u.identity == sid_or_identity)
        })
    }

    /// Creates a Conversations user (identity unique within its service).
    pub(crate) fn conv_user_create(
        &mut self,
        service: &str,
        identity: &str,
        friendly_name: Option<String>,
        attributes: Option<String>,
        role: Option<String>,
    ) -> Result<usize, ApiError> {
        if self.conv_user_index(service, identity).is_some() {
            return Err(ApiError::conflict(
                50201,
                format!("User with provided identity {identity} already exists"),
            ));
        }
        let user = ConversationUser {
            sid: sid("US"),
            chat_service_sid: service.to_owned(),
            identity: identity.to_owned(),
            friendly_name,
            attributes: attributes.unwrap_or_else(|| "{}".to_owned()),
            role_sid: role.unwrap_or_else(|| self.user_role.clone()),
            date_created: now(),
            date_updated: now(),
        };
        self.conv_users.push(user);
        self.changed = true;
        Ok(self.conv_users.len() - 1)
    }

    /// The user Twilio creates for a chat participant whose identity has none yet.
    fn ensure_conv_user(&mut self, service: &str, identity: &str, friendly_name: Option<String>) {
        if self.conv_user_index(service, identity).is_none() {
            let _ = self.conv_user_create(service, identity, friendly_name, None, None);
        }
    }

    fn conv_fire(
        &mut self,
        conv: usize,
        event: &str,
        origin: &Origin,
        fields: Vec<(String, String)>,
        body: Option<&str>,
    ) {
        if !origin.fire {
            return;
        }
        let c = &self.conversations[conv];
        let mut params = vec![
            kv("AccountSid", &self.cfg.account_sid),
            kv("ChatServiceSid", &c.chat_service_sid),
            kv("ConversationSid", &c.sid),
            kv("EventType", event),
            kv("Source", origin.source),
        ];
        push_opt(&mut params, "ClientIdentity", origin.identity.as_deref());
        push_opt(
            &mut params,
            "MessagingServiceSid",
            c.messaging_service_sid.as_deref(),
        );
        params.extend(fields);
        let conv_sid = c.sid.clone();
        let mut targets: Vec<(String, String, u32)> = Vec::new();
        for wh in self
            .conv_webhooks
            .iter()
            .filter(|w| w.conversation_sid == conv_sid)
        {
            let Some(url) = wh.url.clone() else { continue };
            let method = wh
                .method
                .clone()
                .unwrap_or_else(|| "post".to_owned())
                .to_ascii_uppercase();
            let hit = match wh.target.as_str() {
                "webhook" => wh.filters.iter().any(|f| f == event),
                "trigger" => {
                    event == "onMessageAdded"
                        && body.is_some_and(|b| {
                            let words: Vec<String> =
                                b.split_whitespace().map(str::to_lowercase).collect();
                            wh.triggers
                                .iter()
                                .any(|t| words.contains(&t.to_lowercase()))
                        })
                }
                _ => false,
            };
            if hit {
                targets.push((url, method, self.cfg.webhook_retries));
            }
        }
        if let Some(ServiceWebhook {
            url,
            method,
            filters,
        }) = &self.cfg.conversations_webhook
            && filters.iter().any(|f| f == event)
        {
            targets.push((
                url.clone(),
                method.to_ascii_uppercase(),
                self.cfg.webhook_retries,
            ));
        }
        for (url, method, retries) in targets {
            let (url, rc) = split_fragment(&url);
            self.enqueue(Outgoing {
                id: 0,
                kind: DeliveryKind::Event,
                event_type: Some(event.to_owned()),
                url,
                method,
                params: params.clone(),
                retries: rc.unwrap_or(retries),
                headers: Vec::new(),
            });
        }
    }

    pub(crate) fn conv_create(
        &mut self,
        p: &super::util::Params,
        origin: &Origin,
    ) -> Result<usize, ApiError> {
        let unique_name = p.get("UniqueName").map(str::to_owned);
        let service = self.scope_service().to_owned();
        if let Some(u) = &unique_name
            && self
                .conversations
                .iter()
                .any(|c| c.chat_service_sid == service && c.unique_name.as_ref() == Some(u))
        {
            return Err(ApiError::conflict(
                50353,
                format!("Conversation with provided unique name {u} already exists"),
            ));
        }
        let friendly = p.get("FriendlyName").map(str::to_owned);
        if friendly.as_ref().is_some_and(|f| f.chars().count() > 256) {
            return Err(ApiError::invalid(
                "Invalid FriendlyName: longer than 256 characters",
            ));
        }
        let state = p
            .one_of("State", &["active", "inactive", "closed"])?
            .unwrap_or_else(|| "active".to_owned());
        let created = p.time("DateCreated")?.unwrap_or_else(now);
        let updated = p.time("DateUpdated")?.unwrap_or_else(|| created.clone());
        let (timer_inactive, date_inactive) = timer(p, "Timers.Inactive", 60)?;
        let (timer_closed, date_closed) = timer(p, "Timers.Closed", 600)?;
        let conv = Conversation {
            sid: sid("CH"),
            chat_service_sid: service,
            messaging_service_sid: p.sid("MessagingServiceSid", "MG")?,
            friendly_name: friendly,
            unique_name,
            attributes: p
                .json_text("Attributes")?
                .unwrap_or_else(|| "{}".to_owned()),
            state,
            timer_inactive,
            timer_closed,
            date_inactive,
            date_closed,
            date_created: created,
            date_updated: updated,
        };
        self.conversations.push(conv);
        let idx = self.conversations.len() - 1;
        let c = self.conversations[idx].clone();
        let fields = vec![
            kv("FriendlyName", c.friendly_name.clone().unwrap_or_default()),
            kv("UniqueName", c.unique_name.clone().unwrap_or_default()),
            kv("Attributes", &c.attributes),
            kv("State", &c.state),
            kv("DateCreated", &c.date_created),
        ];
        self.conv_fire(idx, "onConversationAdded", origin, fields, None);
        self.changed = true;
        Ok(idx)
    }

    pub(crate) fn conv_update(
        &mut self,
        idx: usize,
        p: &super::util::Params,
        origin: &Origin,
    ) -> Result<(), ApiError> {
        let state = p.one_of("State", &["active", "inactive", "closed"])?;
        let attributes = p.json_text("Attributes")?;
        let (timer_inactive, date_inactive) = timer(p, "Timers.Inactive", 60)?;
        let (timer_closed, date_closed) = timer(p, "Timers.Closed", 600)?;
        let messaging = p.sid("MessagingServiceSid", "MG")?;
        let date_created = p.time("DateCreated")?;
        let date_updated = p.time("DateUpdated")?;
        if let Some(u) = p.get("UniqueName")
            && self
                .conversations
                .iter()
                .enumerate()
                .any(|(i, c)| i != idx && c.unique_name.as_deref() == Some(u))
        {
            return Err(ApiError::conflict(
                50353,
                format!("Conversation with provided unique name {u} already exists"),
            ));
        }
        let old_state = self.conversations[idx].state.clone();
        if old_state == "closed" && state.as_deref().is_some_and(|s| s != "closed") {
            return Err(ApiError::invalid(
                "A closed conversation cannot be reopened",
            ));
        }
        let c = &mut self.conversations[idx];
        let mut touched = false;
        if let Some(f) = p.get("FriendlyName") {
            c.friendly_name = Some(f.to_owned());
            touched = true;
        }
        if let Some(u) = p.get("UniqueName") {
            c.unique_name = Some(u.to_owned());
            touched = true;
        }
        if let Some(a) = attributes {
            c.attributes = a;
            touched = true;
        }
        if messaging.is_some() {
            c.messaging_service_sid = messaging;
        }
        if timer_inactive.is_some() {
            c.timer_inactive = timer_inactive;
            c.date_inactive = date_inactive;
        }
        if timer_closed.is_some() {
            c.timer_closed = timer_closed;
            c.date_closed = date_closed;
        }
        if let Some(d) = date_created {
            c.date_created = d;
        }
        c.date_updated = date_updated.unwrap_or_else(now);
        if let Some(s) = &state {
            c.state.clone_from(s);
        }
        let c = c.clone();
        if touched {
            let fields = vec![
                kv("FriendlyName", c.friendly_name.clone().unwrap_or_default()),
                kv("UniqueName", c.unique_name.clone().unwrap_or_default()),
                kv("Attributes", &c.attributes),
                kv("State", &c.state),
                kv("DateCreated", &c.date_created),
                kv("DateUpdated", &c.date_updated),
            ];
            self.conv_fire(idx, "onConversationUpdated", origin, fields, None);
        }
        if let Some(s) = state
            && s != old_state
        {
            self.conv_state_changed(idx, &old_state, origin);
        }
        self.changed = true;
        Ok(())
    }

    fn conv_state_changed(&mut self, idx: usize, from: &str, origin: &Origin) {
        self.conv_state_changed_for(idx, from, origin, "API");
    }

    fn conv_state_changed_for(&mut self, idx: usize, from: &str, origin: &Origin, reason: &str) {
        let c = self.conversations[idx].clone();
        let fields = vec![
            kv("StateFrom", from),
            kv("StateTo", &c.state),
            kv("StateUpdated", &c.date_updated),
            kv("Reason", reason),
        ];
        self.conv_fire(idx, "onConversationStateUpdated", origin, fields, None);
    }

    /// Sets a conversation's state as Flex does (always fires).
    pub(crate) fn conv_set_state(&mut self, idx: usize, state: &str) {
        let from = self.conversations[idx].state.clone();
        if from == state || from == "closed" {
            return;
        }
        let c = &mut self.conversations[idx];
        state.clone_into(&mut c.state);
        c.date_updated = now();
        self.conv_state_changed(idx, &from, &Origin::flex());
        self.changed = true;
    }

    /// Lets every conversation timer run out: `Timers.Inactive` moves an active conversation to
    /// `inactive`, `Timers.Closed` closes it (`Reason` `TIMER`). Returns how many changed.
    pub(crate) fn expire_timers(&mut self) -> usize {
        let mut changed = 0;
        for idx in 0..self.conversations.len() {
            let c = &self.conversations[idx];
            let target = if c.state == "closed" {
                None
            } else if c.date_closed.is_some() {
                Some("closed")
            } else if c.date_inactive.is_some() && c.state == "active" {
                Some("inactive")
            } else {
                None
            };
            let Some(target) = target else { continue };
            let from = c.state.clone();
            let c = &mut self.conversations[idx];
            target.clone_into(&mut c.state);
            c.date_updated = now();
            self.conv_state_changed_for(idx, &from, &Origin::flex(), "TIMER");
            changed += 1;
        }
        self.changed |= changed > 0;
        changed
    }

    pub(crate) fn conv_delete(&mut self, idx: usize, origin: &Origin) {
        let c = self.conversations[idx].clone();
        let fields = vec![
            kv("FriendlyName", c.friendly_name.clone().unwrap_or_default()),
            kv("UniqueName", c.unique_name.clone().unwrap_or_default()),
            kv("Attributes", &c.attributes),
            kv("State", &c.state),
            kv("DateCreated", &c.date_created),
            kv("DateUpdated", &c.date_updated),
        ];
        self.conv_fire(idx, "onConversationRemoved", origin, fields, None);
        self.conversations.remove(idx);
        self.participants.retain(|x| x.conversation_sid != c.sid);
        self.messages.retain(|x| x.conversation_sid != c.sid);
        self.conv_webhooks.retain(|x| x.conversation_sid != c.sid);
        self.changed = true;
    }

    pub(crate) fn participant_index(&self, conv_sid: &str, sid_or_identity: &str) -> Option<usize> {
        self.participants.iter().position(|x| {
            x.conversation_sid == conv_sid
                && (x.sid == sid_or_identity || x.identity.as_deref() == Some(sid_or_identity))
        })
    }

    pub(crate) fn participant_create(
        &mut self,
        conv: usize,
        p: &super::util::Params,
        origin: &Origin,
    ) -> Result<usize, ApiError> {
        let conv_sid = self.conversations[conv].sid.clone();
        let identity = p
            .get("Identity")
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let address = p.get("MessagingBinding.Address").map(str::to_owned);
        if identity.is_none() && address.is_none() {
            return Err(ApiError::invalid(
                "Either Identity or MessagingBinding.Address must be specified",
            ));
        }
        if let Some(id) = &identity
            && self.participant_index(&conv_sid, id).is_some()
        {
            return Err(ApiError::conflict(50433, "Participant already exists"));
        }
        let binding = address.map(|a| {
            json!({
                "type": if a.starts_with("whatsapp:") { "whatsapp" } else { "sms" },
                "address": a,
                "proxy_address": p.get("MessagingBinding.ProxyAddress"),
            })
        });
        let created = p.time("DateCreated")?.unwrap_or_else(now);
        let part = Participant {
            sid: sid("MB"),
            conversation_sid: conv_sid,
            identity,
            messaging_binding: binding,
            attributes: p
                .json_text("Attributes")?
                .unwrap_or_else(|| "{}".to_owned()),
            role_sid: p
                .sid("RoleSid", "RL")?
                .unwrap_or_else(|| self.participant_role.clone()),
            date_updated: p.time("DateUpdated")?.unwrap_or_else(|| created.clone()),
            date_created: created,
        };
        Ok(self.push_participant(conv, part, origin))
    }

    fn push_participant(&mut self, conv: usize, part: Participant, origin: &Origin) -> usize {
        let mut fields = vec![
            kv("ParticipantSid", &part.sid),
            kv("RoleSid", &part.role_sid),
            kv("Attributes", &part.attributes),
            kv("DateCreated", &part.date_created),
        ];
        push_opt(&mut fields, "Identity", part.identity.as_deref());
        if let Some(identity) = part.identity.clone() {
            let service = self.conversations[conv].chat_service_sid.clone();
            // Agents get the display name Flex gives its workers: `agent:alice` is "Alice".
            let friendly = self.is_agent(&identity).then(|| display_name(&identity));
            self.ensure_conv_user(&service, &identity, friendly);
        }
        if let Some(b) = &part.messaging_binding {
            for (k, name) in [
                ("address", "Address"),
                ("proxy_address", "ProxyAddress"),
                ("type", "Type"),
            ] {
                if let Some(v) = b.get(k).and_then(Value::as_str) {
                    fields.push(kv(&format!("MessagingBinding.{name}"), v));
                }
            }
        }
        self.participants.push(part);
        self.conv_fire(conv, "onParticipantAdded", origin, fields, None);
        self.changed = true;
        self.participants.len() - 1
    }

    pub(crate) fn participant_delete(&mut self, conv: usize, idx: usize, origin: &Origin) {
        let part = self.participants.remove(idx);
        let mut fields = vec![
            kv("ParticipantSid", &part.sid),
            kv("RoleSid", &part.role_sid),
            kv("Attributes", &part.attributes),
        ];
        push_opt(&mut fields, "Identity", part.identity.as_deref());
        self.conv_fire(conv, "onParticipantRemoved", origin, fields, None);
        self.changed = true;
    }

    pub(crate) fn message_index(&self, conv_sid: &str, sid: &str) -> Option<usize> {
        self.messages
            .iter()
            .position(|m| m.conversation_sid == conv_sid && m.sid == sid)
    }

    fn media_ref(&self, media_sid: &str) -> Result<MediaRef, ApiError> {
        let m = self
            .media
            .iter()
            .find(|m| m.sid == media_sid)
            .ok_or_else(|| {
                ApiError::invalid(format!("Invalid MediaSid: media {media_sid} was not found"))
            })?;
        Ok(MediaRef {
            sid: m.sid.clone(),
            filename: m.filename.clone(),
            content_type: m.content_type.clone(),
            size: m.content.len() as u64,
        })
    }

    pub(crate) fn message_create(
        &mut self,
        conv: usize,
        p: &super::util::Params,
        origin: &Origin,
    ) -> Result<usize, ApiError> {
        let body = p.get("Body").map(str::to_owned);
        if body.as_ref().is_some_and(|b| b.chars().count() > 1600) {
            return Err(ApiError::invalid(
                "Invalid Body: longer than 1600 characters",
            ));
        }
        let media = match p.sid("MediaSid", "ME")? {
            Some(m) => vec![self.media_ref(&m)?],
            None => Vec::new(),
        };
        let attributes = p
            .json_text("Attributes")?
            .unwrap_or_else(|| "{}".to_owned());
        let created = p.time("DateCreated")?.unwrap_or_else(now);
        let updated = p.time("DateUpdated")?.unwrap_or_else(|| created.clone());
        let author = p
            .get("Author")
            .filter(|a| !a.is_empty())
            .unwrap_or("system")
            .to_owned();
        if self.conversations[conv].state == "closed" {
            return Err(ApiError::invalid(
                "The conversation is closed: messages cannot be added",
            ));
        }
        Ok(self.push_message(
            conv, author, body, attributes, media, created, updated, origin,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_message(
        &mut self,
        conv: usize,
        author: String,
        body: Option<String>,
        attributes: String,
        media: Vec<MediaRef>,
        created: String,
        updated: String,
        origin: &Origin,
    ) -> usize {
        let conv_sid = self.conversations[conv].sid.clone();
        let index = self
            .messages
            .iter()
            .filter(|m| m.conversation_sid == conv_sid)
            .map(|m| m.index + 1)
            .max()
            .unwrap_or(0);
        let participant_sid = self
            .participant_index(&conv_sid, &author)
            .map(|i| self.participants[i].sid.clone());
        let msg = Message {
            sid: sid("IM"),
            conversation_sid: conv_sid.clone(),
            index,
            author,
            body,
            attributes,
            media,
            participant_sid,
            source: origin.source.to_owned(),
            date_created: created,
            date_updated: updated,
        };
        for m in &msg.media {
            if let Some(item) = self.media.iter_mut().find(|x| x.sid == m.sid) {
                item.message_sid = Some(msg.sid.clone());
                item.channel_sid = Some(conv_sid.clone());
            }
        }
        self.messages.push(msg.clone());
        // An inactive conversation becomes active again on new activity.
        if self.conversations[conv].state == "inactive" {
            let c = &mut self.conversations[conv];
            "active".clone_into(&mut c.state);
            c.date_updated = now();
            self.conv_state_changed(conv, "inactive", origin);
        }
        self.conv_fire(
            conv,
            "onMessageAdded",
            origin,
            message_fields(&msg),
            msg.body.as_deref(),
        );
        if origin.fire {
            self.route_conversation_message(conv, &msg);
        }
        self.changed = true;
        self.messages.len() - 1
    }

    pub(crate) fn message_update(
        &mut self,
        conv: usize,
        idx: usize,
        p: &super::util::Params,
        origin: &Origin,
    ) -> Result<(), ApiError> {
        let attributes = p.json_text("Attributes")?;
        let created = p.time("DateCreated")?;
        let updated = p.time("DateUpdated")?;
        let m = &mut self.messages[idx];
        if let Some(b) = p.get("Body") {
            m.body = Some(b.to_owned());
        }
        if let Some(a) = p.get("Author") {
            a.clone_into(&mut m.author);
        }
        if let Some(a) = attributes {
            m.attributes = a;
        }
        if let Some(c) = created {
            m.date_created = c;
        }
        m.date_updated = updated.unwrap_or_else(now);
        let msg = m.clone();
        let mut fields = message_fields(&msg);
        fields.push(kv("DateUpdated", &msg.date_updated));
        self.conv_fire(conv, "onMessageUpdated", origin, fields, None);
        self.changed = true;
        Ok(())
    }

    pub(crate) fn message_delete(&mut self, conv: usize, idx: usize, origin: &Origin) {
        let msg = self.messages.remove(idx);
        self.conv_fire(conv, "onMessageRemoved", origin, message_fields(&msg), None);
        self.changed = true;
    }

    pub(crate) fn conv_webhook_create(
        &mut self,
        conv: usize,
        p: &super::util::Params,
    ) -> Result<usize, ApiError> {
        let target = p
            .one_of("Target", &["webhook", "trigger", "studio"])?
            .ok_or_else(|| ApiError::missing("Target"))?;
        let conv_sid = self.conversations[conv].sid.clone();
        if self
            .conv_webhooks
            .iter()
            .filter(|w| w.conversation_sid == conv_sid)
            .count()
            >= 5
        {
            return Err(ApiError::invalid(
                "A conversation has at most 5 scoped webhooks",
            ));
        }
        let method = p
            .one_of("Configuration.Method", &["get", "post", "GET", "POST"])?
            .map(|m| m.to_ascii_lowercase());
        let url = p.get("Configuration.Url").map(str::to_owned);
        let flow_sid = p.sid("Configuration.FlowSid", "FW")?;
        match target.as_str() {
            "webhook" | "trigger" if url.is_none() => {
                return Err(ApiError::missing("Configuration.Url"));
            }
            "studio" if flow_sid.is_none() => {
                return Err(ApiError::missing("Configuration.FlowSid"));
            }
            _ => {}
        }
        let replay_after = match p.get("Configuration.ReplayAfter") {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                ApiError::invalid(format!("Invalid Configuration.ReplayAfter: '{v}'"))
            })?),
        };
        let wh = ConversationWebhook {
            sid: sid("WH"),
            conversation_sid: conv_sid.clone(),
            target,
            url,
            method: method.or_else(|| Some("post".to_owned())),
            filters: p.all("Configuration.Filters"),
            triggers: p.all("Configuration.Triggers"),
            flow_sid,
            replay_after,
            date_created: now(),
            date_updated: now(),
        };
        self.conv_webhooks.push(wh.clone());
        if let (Some(after), "webhook") = (replay_after, wh.target.as_str())
            && wh.filters.iter().any(|f| f == "onMessageAdded")
        {
            let replay: Vec<Message> = self
                .messages
                .iter()
                .filter(|m| m.conversation_sid == conv_sid && m.index >= after)
                .cloned()
                .collect();
            let only_this = std::mem::take(&mut self.conv_webhooks);
            self.conv_webhooks = only_this
                .iter()
                .filter(|w| w.sid == wh.sid)
                .cloned()
                .collect();
            let saved = self.cfg.conversations_webhook.take();
            for m in replay {
                self.conv_fire(
                    conv,
                    "onMessageAdded",
                    &Origin::flex(),
                    message_fields(&m),
                    None,
                );
            }
            self.cfg.conversations_webhook = saved;
            self.conv_webhooks = only_this;
        }
        self.changed = true;
        Ok(self.conv_webhooks.len() - 1)
    }

    pub(crate) fn conv_webhook_update(
        &mut self,
        idx: usize,
        p: &super::util::Params,
    ) -> Result<(), ApiError> {
        let method = p
            .one_of("Configuration.Method", &["get", "post", "GET", "POST"])?
            .map(|m| m.to_ascii_lowercase());
        let flow_sid = p.sid("Configuration.FlowSid", "FW")?;
        let w = &mut self.conv_webhooks[idx];
        if let Some(u) = p.get("Configuration.Url") {
            w.url = Some(u.to_owned());
        }
        if method.is_some() {
            w.method = method;
        }
        if p.has("Configuration.Filters") {
            w.filters = p.all("Configuration.Filters");
        }
        if p.has("Configuration.Triggers") {
            w.triggers = p.all("Configuration.Triggers");
        }
        if flow_sid.is_some() {
            w.flow_sid = flow_sid;
        }
        w.date_updated = now();
        self.changed = true;
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // The Studio-like router

    fn open_task_for(&self, conversation: Option<&str>, channel: Option<&str>) -> Option<&Task> {
        self.tasks.iter().find(|t| {
            matches!(t.status, TaskStatus::Pending | TaskStatus::Assigned)
                && ((conversation.is_some() && t.conversation_sid.as_deref() == conversation)
                    || (channel.is_some() && t.chat_channel_sid.as_deref() == channel))
        })
    }

    /// An interaction created for this conversation whose channel is still being set up: its
    /// task is on the way, so the conversation is already with Flex.
    fn interaction_pending_for(&self, conversation: &str) -> bool {
        self.interactions.iter().any(|i| {
            i.conversation_sid.as_deref() == Some(conversation)
                && self
                    .interaction_channels
                    .iter()
                    .any(|c| c.sid == i.channel_sid && c.status == "setup")
        })
    }

    fn route_conversation_message(&mut self, conv: usize, msg: &Message) {
        let c = self.conversations[conv].clone();
        let has_studio = self
            .conv_webhooks
            .iter()
            .any(|w| w.conversation_sid == c.sid && w.target == "studio");
        if !has_studio || !self.is_customer(&msg.author) || msg.source != "API" {
            return;
        }
        let route = if self.open_task_for(Some(&c.sid), None).is_some()
            || self.interaction_pending_for(&c.sid)
        {
            // Flex attaches the message to the task it already has (or is about to create).
            Route::AlreadyWithFlex
        } else if handoff_flag(&c.attributes) {
            // The flow's hand-off branch ends: the bridge brings Flex in itself.
            Route::HandedOff
        } else {
            let fields = vec![
                kv("ConversationSid", &c.sid),
                kv("MessageSid", &msg.sid),
                kv("Author", &msg.author),
                kv("Body", msg.body.clone().unwrap_or_default()),
            ];
            self.bot_call(fields)
        };
        self.decisions.push(RouterDecision {
            channel_sid: c.sid,
            message_sid: msg.sid.clone(),
            route,
        });
    }

    fn bot_call(&mut self, params: Vec<(String, String)>) -> Route {
        let Some(url) = self.bot_url() else {
            return Route::NoBotUrl;
        };
        let mut headers = Vec::new();
        if let Some(secret) = &self.cfg.bot_secret {
            headers.push(("X-Flexcord-Secret".to_owned(), secret.clone()));
        }
        let delivery_id = self.enqueue(Outgoing {
            id: 0,
            kind: DeliveryKind::Bot,
            event_type: None,
            url,
            method: "POST".to_owned(),
            params,
            retries: 0,
            headers,
        });
        Route::Bot { delivery_id }
    }

    // ----------------------------------------------------------------------------------------
    // Flex interactions and tasks

    pub(crate) fn interaction_new(
        &mut self,
        channel: Value,
        routing: Value,
        conversation_sid: Option<String>,
        webhook_ttid: Option<String>,
    ) -> String {
        let kd = sid("KD");
        let uo = sid("UO");
        let kind = channel
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("chat")
            .to_owned();
        self.interaction_channels.push(InteractionChannel {
            sid: uo.clone(),
            interaction_sid: kd.clone(),
            kind,
            status: "setup".to_owned(),
            error_code: None,
            error_message: None,
        });
        self.interactions.push(Interaction {
            sid: kd.clone(),
            channel,
            routing,
            channel_sid: uo,
            task_sid: sid("WT"),
            conversation_sid,
            webhook_ttid,
        });
        self.changed = true;
        kd
    }

    /// The asynchronous half of an interaction create: the channel becomes active (or failed) and
    /// the task enters the queue.
    pub(crate) fn interaction_activate(&mut self, kd: &str) {
        let Some(i) = self.interactions.iter().find(|i| i.sid == kd).cloned() else {
            return;
        };
        let conv = i
            .conversation_sid
            .as_deref()
            .and_then(|c| self.conv_index(c));
        let Some(ch) = self
            .interaction_channels
            .iter_mut()
            .find(|c| c.sid == i.channel_sid)
        else {
            return;
        };
        if ch.status != "setup" {
            return;
        }
        self.changed = true;
        let Some(conv) = conv else {
            "failed".clone_into(&mut ch.status);
            ch.error_code = Some(20404);
            ch.error_message = Some(format!(
                "media_channel_sid {} does not name a conversation",
                i.conversation_sid.as_deref().unwrap_or("(none)")
            ));
            return;
        };
        if self.conversations[conv].state == "closed" {
            "failed".clone_into(&mut ch.status);
            ch.error_code = Some(50437);
            ch.error_message = Some("the conversation is closed".to_owned());
            return;
        }
        "active".clone_into(&mut ch.status);
        let mut attrs = i
            .routing
            .pointer("/properties/attributes")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Some(obj) = attrs.as_object_mut() {
            obj.insert(
                "conversationSid".to_owned(),
                json!(self.conversations[conv].sid),
            );
            obj.insert("flexInteractionSid".to_owned(), json!(i.sid));
            obj.insert("flexInteractionChannelSid".to_owned(), json!(i.channel_sid));
            obj.entry("channelType").or_insert_with(|| json!("chat"));
            obj.insert("direction".to_owned(), json!("inbound"));
        }
        self.tasks.push(Task {
            sid: i.task_sid.clone(),
            status: TaskStatus::Pending,
            attributes: attrs.to_string(),
            queue: "Everyone".to_owned(),
            worker: None,
            interaction_sid: Some(i.sid.clone()),
            interaction_channel_sid: Some(i.channel_sid.clone()),
            conversation_sid: Some(self.conversations[conv].sid.clone()),
            chat_channel_sid: None,
            date_created: now(),
        });
    }

    /// `POST /v1/Interactions/{KD}/Channels/{UO}` with `Status=closed|inactive`.
    pub(crate) fn interaction_channel_update(
        &mut self,
        idx: usize,
        status: &str,
        routing_closed: bool,
    ) {
        let ch = &mut self.interaction_channels[idx];
        status.clone_into(&mut ch.status);
        let kd = ch.interaction_sid.clone();
        let Some(i) = self.interactions.iter().find(|i| i.sid == kd).cloned() else {
            return;
        };
        if let Some(t) = self.tasks.iter_mut().find(|t| t.sid == i.task_sid)
            && matches!(
                t.status,
                TaskStatus::Pending | TaskStatus::Assigned | TaskStatus::Wrapping
            )
        {
            t.status = if routing_closed || t.status == TaskStatus::Pending {
                TaskStatus::Completed
            } else {
                TaskStatus::Wrapping
            };
        }
        if let Some(conv) = i
            .conversation_sid
            .as_deref()
            .and_then(|c| self.conv_index(c))
        {
            let state = if status == "inactive" {
                "inactive"
            } else {
                "closed"
            };
            self.conv_set_state(conv, state);
        }
        self.changed = true;
    }

    /// An agent accepts a pending task: the agent joins the conversation or channel.
    pub(crate) fn task_accept(&mut self, task_sid: &str, agent: &str) -> Result<String, String> {
        let t = self
            .tasks
            .iter_mut()
            .find(|t| t.sid == task_sid)
            .ok_or_else(|| format!("no task {task_sid}"))?;
        if t.status != TaskStatus::Pending {
            return Err(format!("task {task_sid} is {:?}, not pending", t.status));
        }
        t.status = TaskStatus::Assigned;
        t.worker = Some(agent.to_owned());
        let t = t.clone();
        if !self.is_agent(agent) {
            self.agents.push(agent.to_owned());
        }
        self.changed = true;
        if let Some(conv) = t
            .conversation_sid
            .as_deref()
            .and_then(|c| self.conv_index(c))
        {
            let conv_sid = self.conversations[conv].sid.clone();
            if let Some(i) = self.participant_index(&conv_sid, agent) {
                return Ok(self.participants[i].sid.clone());
            }
            let part = Participant {
                sid: sid("MB"),
                conversation_sid: conv_sid,
                identity: Some(agent.to_owned()),
                messaging_binding: None,
                attributes: json!({"member_type": "agent"}).to_string(),
                role_sid: self.participant_role.clone(),
                date_created: now(),
                date_updated: now(),
            };
            let i = self.push_participant(conv, part, &Origin::flex());
            return Ok(self.participants[i].sid.clone());
        }
        if let Some(ch) = t
            .chat_channel_sid
            .as_deref()
            .and_then(|c| self.chat_channel_index(c))
        {
            let ch_sid = self.chat_channels[ch].sid.clone();
            if let Some(m) = self
                .chat_members
                .iter()
                .find(|m| m.channel_sid == ch_sid && m.identity == agent)
            {
                return Ok(m.sid.clone());
            }
            let i = self.chat_member_add(ch, agent, None, &Origin::flex());
            return Ok(self.chat_members[i].sid.clone());
        }
        Err(format!("task {task_sid} has no conversation or channel"))
    }

    /// Ends a task as Flex's "end chat" does: the interaction channel closes (conversation closed),
    /// or on the Chat path the channel's `status` attribute becomes `INACTIVE`.
    pub(crate) fn task_end(&mut self, task_sid: &str, wrapup: bool) -> Result<(), String> {
        let t = self
            .tasks
            .iter()
            .find(|t| t.sid == task_sid)
            .cloned()
            .ok_or_else(|| format!("no task {task_sid}"))?;
        if let Some(uo) = &t.interaction_channel_sid {
            let idx = self
                .interaction_channels
                .iter()
                .position(|c| &c.sid == uo)
                .ok_or_else(|| format!("no channel {uo}"))?;
            self.interaction_channel_update(idx, "closed", !wrapup);
            return Ok(());
        }
        if let Some(task) = self.tasks.iter_mut().find(|x| x.sid == task_sid) {
            task.status = if wrapup {
                TaskStatus::Wrapping
            } else {
                TaskStatus::Completed
            };
        }
        if let Some(ch) = t
            .chat_channel_sid
            .as_deref()
            .and_then(|c| self.chat_channel_index(c))
        {
            let mut attrs: Value = serde_json::from_str(&self.chat_channels[ch].attributes)
                .unwrap_or_else(|_| json!({}));
            if let Some(obj) = attrs.as_object_mut() {
                obj.insert("status".to_owned(), json!("INACTIVE"));
            }
            let c = &mut self.chat_channels[ch];
            c.attributes = attrs.to_string();
            c.date_updated = now();
            self.chat_fire_channel_updated(ch, &Origin::flex());
        }
        self.changed = true;
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // Programmable Chat

    pub(crate) fn chat_channel_index(&self, sid_or_name: &str) -> Option<usize> {
        self.chat_channels
            .iter()
            .position(|c| c.sid == sid_or_name)
            .or_else(|| {
                self.chat_channels
                    .iter()
                    .position(|c| c.unique_name.as_deref() == Some(sid_or_name))
            })
    }

    pub(crate) fn chat_user_index(&self, sid_or_identity: &str) -> Option<usize> {
        self.chat_users
            .iter()
            .position(|u| u.sid == sid_or_identity || u.identity == sid_or_identity)
    }

    fn chat_fire(
        &mut self,
        ch: usize,
        event: &str,
        origin: &Origin,
        fields: Vec<(String, String)>,
        body: Option<&str>,
    ) {
        if !origin.fire {
            return;
        }
        let ch_sid = self.chat_channels[ch].sid.clone();
        let mut base = vec![
            kv("AccountSid", &self.cfg.account_sid),
            kv("InstanceSid", &self.cfg.chat_service_sid),
            kv("EventType", event),
            kv("Source", origin.source),
        ];
        push_opt(&mut base, "ClientIdentity", origin.identity.as_deref());
        base.extend(fields);
        let mut out = Vec::new();
        for wh in self
            .chat_webhooks
            .iter()
            .filter(|w| w.channel_sid == ch_sid)
        {
            let Some(url) = wh.url.clone() else { continue };
            let hit = match wh.kind.as_str() {
                "webhook" => wh.filters.iter().any(|f| f == event),
                "trigger" => {
                    event == "onMessageSent"
                        && body.is_some_and(|b| {
                            let words: Vec<String> =
                                b.split_whitespace().map(str::to_lowercase).collect();
                            wh.triggers
                                .iter()
                                .any(|t| words.contains(&t.to_lowercase()))
                        })
                }
                _ => false,
            };
            if hit {
                let mut params = base.clone();
                params.push(kv("WebhookSid", &wh.sid));
                params.push(kv("WebhookType", &wh.kind));
                let (url, rc) = split_fragment(&url);
                out.push(Outgoing {
                    id: 0,
                    kind: DeliveryKind::Event,
                    event_type: Some(event.to_owned()),
                    url,
                    method: wh
                        .method
                        .clone()
                        .unwrap_or_else(|| "POST".to_owned())
                        .to_ascii_uppercase(),
                    params,
                    retries: rc.unwrap_or(wh.retry_count),
                    headers: Vec::new(),
                });
            }
        }
        if let Some(ServiceWebhook {
            url,
            method,
            filters,
        }) = &self.cfg.chat_webhook
            && filters.iter().any(|f| f == event)
        {
            let (url, rc) = split_fragment(url);
            out.push(Outgoing {
                id: 0,
                kind: DeliveryKind::Event,
                event_type: Some(event.to_owned()),
                url,
                method: method.to_ascii_uppercase(),
                params: base.clone(),
                retries: rc.unwrap_or(self.cfg.webhook_retries),
                headers: Vec::new(),
            });
        }
        for o in out {
            self.enqueue(o);
        }
    }

    pub(crate) fn chat_user_create(
        &mut self,
        identity: &str,
        friendly: Option<&str>,
        attributes: Option<String>,
    ) -> usize {
        self.chat_users.push(ChatUser {
            sid: sid("US"),
            identity: identity.to_owned(),
            friendly_name: friendly.map(str::to_owned),
            attributes: attributes.unwrap_or_else(|| "{}".to_owned()),
            role_sid: self.user_role.clone(),
            date_created: now(),
            date_updated: now(),
        });
        self.changed = true;
        self.chat_users.len() - 1
    }

    pub(crate) fn chat_channel_create(
        &mut self,
        p: &super::util::Params,
        origin: &Origin,
    ) -> Result<usize, ApiError> {
        let unique_name = p.get("UniqueName").map(str::to_owned);
        if let Some(u) = &unique_name
            && self
                .chat_channels
                .iter()
                .any(|c| c.unique_name.as_ref() == Some(u))
        {
            return Err(ApiError::conflict(
                50307,
                format!("Channel with provided unique name {u} already exists"),
            ));
        }
        if p.get("FriendlyName")
            .is_some_and(|f| f.chars().count() > 64)
        {
            return Err(ApiError::invalid(
                "Invalid FriendlyName: longer than 64 characters",
            ));
        }
        let created = p.time("DateCreated")?.unwrap_or_else(now);
        let ch = ChatChannel {
            sid: sid("CH"),
            unique_name,
            friendly_name: p.get("FriendlyName").map(str::to_owned),
            attributes: p
                .json_text("Attributes")?
                .unwrap_or_else(|| "{}".to_owned()),
            kind: p
                .one_of("Type", &["public", "private"])?
                .unwrap_or_else(|| "public".to_owned()),
            created_by: p.get("CreatedBy").unwrap_or("system").to_owned(),
            date_updated: p.time("DateUpdated")?.unwrap_or_else(|| created.clone()),
            date_created: created,
        };
        self.chat_channels.push(ch);
        let idx = self.chat_channels.len() - 1;
        let c = self.chat_channels[idx].clone();
        let fields = chat_channel_fields(&c);
        self.chat_fire(idx, "onChannelAdded", origin, fields, None);
        self.changed = true;
        Ok(idx)
    }

    pub(crate) fn chat_channel_update(
        &mut self,
        ch: usize,
        p: &super::util::Params,
        origin: &Origin,
    ) -> Result<(), ApiError> {
        let attributes = p.json_text("Attributes")?;
        let created = p.time("DateCreated")?;
        let updated = p.time("DateUpdated")?;
        if p.get("FriendlyName")
            .is_some_and(|f| f.chars().count() > 256)
        {
            return Err(ApiError::invalid(
                "Invalid FriendlyName: longer than 256 characters",
            ));
        }
        let c = &mut self.chat_channels[ch];
        if let Some(f) = p.get("FriendlyName") {
            c.friendly_name = Some(f.to_owned());
        }
        if let Some(u) = p.get("UniqueName") {
            c.unique_name = Some(u.to_owned());
        }
        if let Some(a) = attributes {
            c.attributes = a;
        }
        if let Some(by) = p.get("CreatedBy") {
            by.clone_into(&mut c.created_by);
        }
        if let Some(d) = created {
            c.date_created = d;
        }
        c.date_updated = updated.unwrap_or_else(now);
        let inactive = super::util::flex_status_inactive(&c.attributes);
        let channel_sid = c.sid.clone();
        if inactive {
            // Flex ends the chat's task when its channel goes inactive: an accepted one goes to
            // wrap-up, one never accepted is completed.
            for t in &mut self.tasks {
                if t.chat_channel_sid.as_deref() == Some(channel_sid.as_str()) {
                    t.status = match t.status {
                        TaskStatus::Assigned => TaskStatus::Wrapping,
                        TaskStatus::Pending => TaskStatus::Completed,
                        other => other,
                    };
                }
            }
        }
        self.chat_fire_channel_updated(ch, origin);
        // The Studio-like router in chat mode: hand-off flag set on the channel.
        self.changed = true;
        Ok(())
    }

    fn chat_fire_channel_updated(&mut self, ch: usize, origin: &Origin) {
        let c = self.chat_channels[ch].clone();
        self.chat_fire(
            ch,
            "onChannelUpdated",
            origin,
            chat_channel_fields(&c),
            None,
        );
    }

    pub(crate) fn chat_channel_delete(&mut self, ch: usize, origin: &Origin) {
        let c = self.chat_channels[ch].clone();
        self.chat_fire(
            ch,
            "onChannelDestroyed",
            origin,
            chat_channel_fields(&c),
            None,
        );
        self.chat_channels.remove(ch);
        self.chat_members.retain(|m| m.channel_sid != c.sid);
        self.chat_messages.retain(|m| m.channel_sid != c.sid);
        self.chat_webhooks.retain(|m| m.channel_sid != c.sid);
        self.changed = true;
    }

    pub(crate) fn chat_member_add(
        &mut self,
        ch: usize,
        identity: &str,
        attributes: Option<String>,
        origin: &Origin,
    ) -> usize {
        if self.chat_user_index(identity).is_none() {
            self.chat_user_create(identity, None, None);
        }
        let m = ChatMember {
            sid: sid("MB"),
            channel_sid: self.chat_channels[ch].sid.clone(),
            identity: identity.to_owned(),
            role_sid: self.channel_role.clone(),
            attributes: attributes.unwrap_or_else(|| "{}".to_owned()),
            date_created: now(),
            date_updated: now(),
        };
        let fields = vec![
            kv("ChannelSid", &m.channel_sid),
            kv("Identity", &m.identity),
            kv("MemberSid", &m.sid),
            kv("RoleSid", &m.role_sid),
        ];
        self.chat_members.push(m);
        self.chat_fire(ch, "onMemberAdded", origin, fields, None);
        self.changed = true;
        self.chat_members.len() - 1
    }

    pub(crate) fn chat_message_create(
        &mut self,
        ch: usize,
        p: &super::util::Params,
        origin: &Origin,
    ) -> Result<usize, ApiError> {
        let media = match p.sid("MediaSid", "ME")? {
            Some(m) => Some(self.media_ref(&m)?),
            None => None,
        };
        let attributes = p
            .json_text("Attributes")?
            .unwrap_or_else(|| "{}".to_owned());
        let created = p.time("DateCreated")?.unwrap_or_else(now);
        let updated = p.time("DateUpdated")?.unwrap_or_else(|| created.clone());
        let from = p
            .get("From")
            .filter(|f| !f.is_empty())
            .unwrap_or("system")
            .to_owned();
        Ok(self.push_chat_message(
            ch,
            from,
            p.get("Body").map(str::to_owned),
            attributes,
            media,
            created,
            updated,
            origin,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_chat_message(
        &mut self,
        ch: usize,
        from: String,
        body: Option<String>,
        attributes: String,
        media: Option<MediaRef>,
        created: String,
        updated: String,
        origin: &Origin,
    ) -> usize {
        let ch_sid = self.chat_channels[ch].sid.clone();
        let index = self
            .chat_messages
            .iter()
            .filter(|m| m.channel_sid == ch_sid)
            .map(|m| m.index + 1)
            .max()
            .unwrap_or(0);
        let msg = ChatMessage {
            sid: sid("IM"),
            channel_sid: ch_sid.clone(),
            index,
            from,
            body,
            attributes,
            media,
            was_edited: false,
            last_updated_by: None,
            source: origin.source.to_owned(),
            date_created: created,
            date_updated: updated,
        };
        if let Some(m) = &msg.media
            && let Some(item) = self.media.iter_mut().find(|x| x.sid == m.sid)
        {
            item.message_sid = Some(msg.sid.clone());
            item.channel_sid = Some(ch_sid.clone());
        }
        self.chat_messages.push(msg.clone());
        let mut fields = vec![
            kv("ChannelSid", &msg.channel_sid),
            kv("MessageSid", &msg.sid),
            kv("Index", msg.index.to_string()),
            kv("Attributes", &msg.attributes),
            kv("From", &msg.from),
            kv("DateCreated", &msg.date_created),
        ];
        if let Some(m) = &msg.media {
            fields.push(kv("MediaFilename", &m.filename));
            fields.push(kv("MediaContentType", &m.content_type));
            fields.push(kv("MediaSid", &m.sid));
            fields.push(kv("MediaSize", m.size.to_string()));
            self.chat_fire(ch, "onMediaMessageSent", origin, fields, None);
        } else {
            fields.push(kv("Body", msg.body.clone().unwrap_or_default()));
            self.chat_fire(ch, "onMessageSent", origin, fields, msg.body.as_deref());
        }
        if origin.fire {
            self.route_chat_message(ch, &msg);
        }
        self.changed = true;
        self.chat_messages.len() - 1
    }

    pub(crate) fn chat_message_update(
        &mut self,
        ch: usize,
        idx: usize,
        p: &super::util::Params,
        origin: &Origin,
    ) -> Result<(), ApiError> {
        let attributes = p.json_text("Attributes")?;
        let created = p.time("DateCreated")?;
        let updated = p.time("DateUpdated")?;
        let m = &mut self.chat_messages[idx];
        if let Some(b) = p.get("Body") {
            m.body = Some(b.to_owned());
            m.was_edited = true;
        }
        if let Some(a) = attributes {
            m.attributes = a;
        }
        if let Some(f) = p.get("From") {
            f.clone_into(&mut m.from);
        }
        if let Some(c) = created {
            m.date_created = c;
        }
        m.last_updated_by = p
            .get("LastUpdatedBy")
            .map(str::to_owned)
            .or_else(|| origin.identity.clone())
            .or(m.last_updated_by.take());
        m.date_updated = updated.unwrap_or_else(now);
        let msg = m.clone();
        let fields = vec![
            kv("ChannelSid", &msg.channel_sid),
            kv("MessageSid", &msg.sid),
            kv("Index", msg.index.to_string()),
            kv("Body", msg.body.clone().unwrap_or_default()),
            kv("Attributes", &msg.attributes),
            kv("From", &msg.from),
            kv(
                "ModifiedBy",
                msg.last_updated_by
                    .clone()
                    .unwrap_or_else(|| msg.from.clone()),
            ),
            kv("DateCreated", &msg.date_created),
            kv("DateUpdated", &msg.date_updated),
        ];
        self.chat_fire(ch, "onMessageUpdated", origin, fields, None);
        self.changed = true;
        Ok(())
    }

    pub(crate) fn chat_webhook_create(
        &mut self,
        ch: usize,
        p: &super::util::Params,
    ) -> Result<usize, ApiError> {
        let kind = p
            .one_of("Type", &["webhook", "trigger", "studio"])?
            .ok_or_else(|| ApiError::missing("Type"))?;
        let ch_sid = self.chat_channels[ch].sid.clone();
        if self
            .chat_webhooks
            .iter()
            .filter(|w| w.channel_sid == ch_sid)
            .count()
            >= 5
        {
            return Err(ApiError::invalid("A channel has at most 5 webhooks"));
        }
        let url = p.get("Configuration.Url").map(str::to_owned);
        let flow_sid = p.sid("Configuration.FlowSid", "FW")?;
        match kind.as_str() {
            "webhook" | "trigger" if url.is_none() => {
                return Err(ApiError::missing("Configuration.Url"));
            }
            "studio" if flow_sid.is_none() => {
                return Err(ApiError::missing("Configuration.FlowSid"));
            }
            _ => {}
        }
        let retry_count = match p.get("Configuration.RetryCount") {
            None => 0,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n <= 3 => n,
                _ => {
                    return Err(ApiError::invalid(format!(
                        "Invalid Configuration.RetryCount: '{v}' (0 to 3)"
                    )));
                }
            },
        };
        self.chat_webhooks.push(ChatWebhook {
            sid: sid("WH"),
            channel_sid: ch_sid,
            kind,
            url,
            method: Some(
                p.one_of("Configuration.Method", &["GET", "POST"])?
                    .unwrap_or_else(|| "POST".to_owned()),
            ),
            filters: p.all("Configuration.Filters"),
            triggers: p.all("Configuration.Triggers"),
            flow_sid,
            retry_count,
            date_created: now(),
            date_updated: now(),
        });
        self.changed = true;
        Ok(self.chat_webhooks.len() - 1)
    }

    fn route_chat_message(&mut self, ch: usize, msg: &ChatMessage) {
        let c = self.chat_channels[ch].clone();
        let has_studio = self
            .chat_webhooks
            .iter()
            .any(|w| w.channel_sid == c.sid && w.kind == "studio");
        // The flow runs for the customer's messages and for the bot's own notices sent with
        // webhooks on (the hand-off trigger); it never calls the bot for the bot's messages.
        let from_bot = msg.from == self.cfg.bot_identity;
        if !(self.is_customer(&msg.from) || from_bot) || msg.source != "API" {
            return;
        }
        let route = if self.open_task_for(None, Some(&c.sid)).is_some() {
            Route::AlreadyWithFlex
        } else if !has_studio {
            return;
        } else if handoff_flag(&c.attributes) {
            // Send to Flex: a task for the channel; the Studio webhook is removed so later messages
            // reach only Flex.
            let task_sid = sid("WT");
            let attrs = json!({
                "name": msg.from,
                "channelType": serde_json::from_str::<Value>(&c.attributes).ok().and_then(|a| a.get("channel_type").cloned()).unwrap_or(json!("custom")),
                "channelSid": c.sid,
            });
            self.tasks.push(Task {
                sid: task_sid.clone(),
                status: TaskStatus::Pending,
                attributes: attrs.to_string(),
                queue: "Everyone".to_owned(),
                worker: None,
                interaction_sid: None,
                interaction_channel_sid: None,
                conversation_sid: None,
                chat_channel_sid: Some(c.sid.clone()),
                date_created: now(),
            });
            self.chat_webhooks
                .retain(|w| !(w.channel_sid == c.sid && w.kind == "studio"));
            Route::Flex { task_sid }
        } else if from_bot {
            return;
        } else {
            let fields = vec![
                kv("ChannelSid", &c.sid),
                kv("MessageSid", &msg.sid),
                kv("Author", &msg.from),
                kv("Body", msg.body.clone().unwrap_or_default()),
            ];
            self.bot_call(fields)
        };
        self.decisions.push(RouterDecision {
            channel_sid: c.sid,
            message_sid: msg.sid.clone(),
            route,
        });
    }

    // ----------------------------------------------------------------------------------------
    // Flex v1 channels (legacy)

    #[allow(clippy::too_many_lines)] // mirrors Flex's own steps: user, channel, member, integration
    pub(crate) fn flex_channel_create(
        &mut self,
        p: &super::util::Params,
    ) -> Result<usize, ApiError> {
        let flow_sid = p.required("FlexFlowSid")?.to_owned();
        let identity = p.required("Identity")?.to_owned();
        let user_friendly = p.required("ChatUserFriendlyName")?.to_owned();
        let chat_friendly = p.required("ChatFriendlyName")?.to_owned();
        let pre = p.json_text("PreEngagementData")?;
        let task_attributes = p.json_text("TaskAttributes")?;
        let long_lived = p.bool("LongLived")?;
        let flow = self
            .flex_flows
            .iter()
            .find(|f| f.sid == flow_sid)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&format!("/v1/FlexFlows/{flow_sid}")))?;
        // An active channel for the same identity and flow is reused, as Flex does.
        if let Some(existing) = self.flex_channels.iter().position(|fc| {
            fc.flex_flow_sid == flow_sid
                && fc.identity == identity
                && self
                    .chat_channel_index(&fc.sid)
                    .and_then(|i| {
                        serde_json::from_str::<Value>(&self.chat_channels[i].attributes).ok()
                    })
                    .is_some_and(|a| a.get("status").and_then(Value::as_str) == Some("ACTIVE"))
        }) {
            return Ok(existing);
        }
        let user = match self.chat_user_index(&identity) {
            Some(u) => u,
            None => self.chat_user_create(&identity, Some(&user_friendly), None),
        };
        let attrs = json!({
            "from": user_friendly,
            "channel_type": flow.channel_type,
            "status": "ACTIVE",
            "long_lived": long_lived.unwrap_or(flow.long_lived),
            "pre_engagement_data": pre.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()).unwrap_or(json!({})),
            "from_identity": identity,
            "target": p.get("Target"),
        });
        let mut cp = super::util::Params(vec![
            (
                "FriendlyName".to_owned(),
                chat_friendly.chars().take(64).collect(),
            ),
            ("Attributes".to_owned(), attrs.to_string()),
            ("Type".to_owned(), "private".to_owned()),
        ]);
        if let Some(u) = p.get("ChatUniqueName") {
            cp.0.push(("UniqueName".to_owned(), u.to_owned()));
        }
        let quiet = Origin {
            source: "API",
            identity: None,
            fire: false,
        };
        let ch = self.chat_channel_create(&cp, &quiet)?;
        self.chat_member_add(ch, &identity, None, &quiet);
        let ch_sid = self.chat_channels[ch].sid.clone();
        let mut task_sid = None;
        match flow.integration_type.as_str() {
            "studio" => {
                let flow_sid = flow
                    .integration
                    .get("flow_sid")
                    .and_then(Value::as_str)
                    .unwrap_or(&self.cfg.studio_flow_sid)
                    .to_owned();
                self.chat_webhooks.push(ChatWebhook {
                    sid: sid("WH"),
                    channel_sid: ch_sid.clone(),
                    kind: "studio".to_owned(),
                    url: None,
                    method: Some("POST".to_owned()),
                    filters: Vec::new(),
                    triggers: Vec::new(),
                    flow_sid: Some(flow_sid),
                    retry_count: 3,
                    date_created: now(),
                    date_updated: now(),
                });
            }
            "external" => {
                let url = flow
                    .integration
                    .get("url")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.chat_webhooks.push(ChatWebhook {
                    sid: sid("WH"),
                    channel_sid: ch_sid.clone(),
                    kind: "webhook".to_owned(),
                    url,
                    method: Some("POST".to_owned()),
                    filters: vec!["onMessageSent".to_owned()],
                    triggers: Vec::new(),
                    flow_sid: None,
                    retry_count: 3,
                    date_created: now(),
                    date_updated: now(),
                });
            }
            _ => {
                let t = p.sid("TaskSid", "WT")?.unwrap_or_else(|| sid("WT"));
                self.tasks.push(Task {
                    sid: t.clone(),
                    status: TaskStatus::Pending,
                    attributes: task_attributes.unwrap_or_else(|| {
                        json!({"channelSid": ch_sid, "name": identity}).to_string()
                    }),
                    queue: "Everyone".to_owned(),
                    worker: None,
                    interaction_sid: None,
                    interaction_channel_sid: None,
                    conversation_sid: None,
                    chat_channel_sid: Some(ch_sid.clone()),
                    date_created: now(),
                });
                task_sid = Some(t);
            }
        }
        self.flex_channels.push(FlexChannel {
            sid: ch_sid,
            flex_flow_sid: flow_sid,
            user_sid: self.chat_users[user].sid.clone(),
            identity,
            task_sid,
            date_created: now(),
            date_updated: now(),
        });
        self.changed = true;
        Ok(self.flex_channels.len() - 1)
    }

    // ----------------------------------------------------------------------------------------
    // Deliveries

    /// Queues a delivery: gives it an id and an idempotency token and records it as pending.
    pub(crate) fn enqueue(&mut self, mut out: Outgoing) -> u64 {
        out.id = self.next_delivery;
        self.next_delivery += 1;
        self.deliveries.push(Delivery {
            id: out.id,
            kind: out.kind,
            event_type: out.event_type.clone(),
            url: out.url.clone(),
            method: out.method.clone(),
            idempotency_token: idempotency_token(),
            params: out.params.clone(),
            attempts: Vec::new(),
            outcome: DeliveryOutcome::Pending,
            duplicate_of: None,
        });
        self.changed = true;
        let id = out.id;
        self.pending.push(out);
        id
    }

    pub(crate) fn delivery_mut(&mut self, id: u64) -> Option<&mut Delivery> {
        self.changed = true;
        self.deliveries.iter_mut().find(|d| d.id == id)
    }
}

/// An idempotency token in the shape Twilio uses (a UUID-like string).
fn idempotency_token() -> String {
    let h = super::util::hex32();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn timer(
    p: &super::util::Params,
    key: &str,
    min_secs: i64,
) -> Result<(Option<String>, Option<String>), ApiError> {
    match p.get(key) {
        None => Ok((None, None)),
        Some(v) => {
            let at = super::util::after_duration(v).ok_or_else(|| {
                ApiError::invalid(format!("Invalid {key}: '{v}' is not an ISO 8601 duration"))
            })?;
            let secs_ok = super::util::duration_secs(v).is_some_and(|s| s >= min_secs);
            if !secs_ok {
                return Err(ApiError::invalid(format!(
                    "Invalid {key}: '{v}' is shorter than {min_secs} seconds"
                )));
            }
            Ok((Some(v.to_owned()), Some(at)))
        }
    }
}

pub(crate) fn message_fields(m: &Message) -> Vec<(String, String)> {
    let mut f = vec![
        kv("MessageSid", &m.sid),
        kv("Index", m.index.to_string()),
        kv("Author", &m.author),
        kv("Body", m.body.clone().unwrap_or_default()),
        kv("Attributes", &m.attributes),
        kv(
            "ParticipantSid",
            m.participant_sid.clone().unwrap_or_default(),
        ),
        kv("DateCreated", &m.date_created),
    ];
    if !m.media.is_empty() {
        let media: Vec<Value> = m
            .media
            .iter()
            .map(|x| json!({"Sid": x.sid, "Filename": x.filename, "ContentType": x.content_type, "Size": x.size, "Category": "media"}))
            .collect();
        f.push(kv("Media", Value::Array(media).to_string()));
    }
    f
}

fn chat_channel_fields(c: &ChatChannel) -> Vec<(String, String)> {
    vec![
        kv("ChannelSid", &c.sid),
        kv("Attributes", &c.attributes),
        kv("FriendlyName", c.friendly_name.clone().unwrap_or_default()),
        kv("UniqueName", c.unique_name.clone().unwrap_or_default()),
        kv("ChannelType", &c.kind),
        kv("CreatedBy", &c.created_by),
        kv("DateCreated", &c.date_created),
        kv("DateUpdated", &c.date_updated),
    ]
}
