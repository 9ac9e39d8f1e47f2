//! Interaction callbacks, the original response and follow-ups (webhook routes).

use serde_json::{Value, json};

use super::super::state::{
    Attachment, DiscordState, InteractionRecord, InteractionResponse, MessageOrigin, StoredMessage,
    now_iso,
};
use super::{MessageInput, MsgRef, Reply, query_bool};

impl DiscordState {
    pub(super) fn interaction_by_token(&self, token: &str) -> Option<u64> {
        self.interaction_tokens.get(token).copied()
    }

    #[allow(clippy::too_many_lines)]
    pub(super) fn interaction_callback(
        &mut self,
        id: u64,
        token: &str,
        b: &Value,
        query: Option<&str>,
    ) -> Reply {
        let with_response = match query_bool(query, "with_response") {
            Ok(v) => v.unwrap_or(false),
            Err(e) => return e,
        };
        let deadline = self.config.interaction_ack_deadline;
        let Some(rec) = self.interactions.get(&id).filter(|r| r.token == token) else {
            return Reply::unknown_interaction();
        };
        if !rec.responses.is_empty() {
            return Reply::error(400, 40060, "Interaction has already been acknowledged.");
        }
        if rec.created.elapsed() > deadline {
            return Reply::unknown_interaction();
        }
        let (ikind, channel, message_id) = (rec.kind, rec.channel_id, rec.message_id);
        let Some(kind) = b["type"].as_u64().and_then(|k| u8::try_from(k).ok()) else {
            return Reply::required("type");
        };
        let data = b.get("data").filter(|d| !d.is_null()).cloned();
        let d = data.clone().unwrap_or(Value::Null);
        let allowed = match kind {
            4 | 5 => ikind != 1,
            6 | 7 => ikind == 3 || ikind == 5,
            8 => ikind == 4,
            9 => ikind == 2 || ikind == 3,
            10 | 12 => true,
            _ => false,
        };
        if !allowed {
            let valid: &[u64] = match ikind {
                2 => &[4, 5, 9, 10, 12],
                3 => &[4, 5, 6, 7, 9, 10, 12],
                4 => &[8],
                5 => &[4, 5, 6, 7, 10, 12],
                _ => &[1],
            };
            return Reply::choices("type", valid);
        }
        let mut original = None;
        let mut updated = None;
        match kind {
            4 | 5 => {
                let input = match MessageInput::from_body(&d, "data.") {
                    Ok(i) => i,
                    Err(e) => return e,
                };
                if kind == 4 && input.is_empty(0) {
                    return Reply::error(400, 50006, "Cannot send an empty message");
                }
                let flags = input.flags.unwrap_or(0);
                let mut msg = self.new_bot_message(channel, input, &[]);
                msg.origin = MessageOrigin::InteractionResponse;
                msg.interaction_id = Some(id);
                msg.kind = if ikind == 2 { 20 } else { 19 };
                msg.flags = (flags & (4 | 64 | 4096)) | if kind == 5 { 128 } else { 0 };
                msg.request_body = Some(b.clone());
                original = Some(msg.id);
                self.push_message(msg);
            }
            7 => {
                let Some(mid) = message_id else {
                    return Reply::unknown_message();
                };
                let input = match MessageInput::from_body(&d, "data.") {
                    Ok(i) => i,
                    Err(e) => return e,
                };
                let now = now_iso();
                if let Some(m) = self.message_mut(mid) {
                    m.edits.push(m.content.clone());
                    if let Some(c) = input.content {
                        m.content = c;
                    }
                    if let Some(e) = input.embeds {
                        m.embeds = e;
                    }
                    if let Some(c) = input.components {
                        m.components = c;
                    }
                    m.edited_timestamp = Some(now);
                }
                self.dispatch_message("MESSAGE_UPDATE", mid);
                updated = Some(mid);
            }
            9 => {
                let title_ok = d["title"]
                    .as_str()
                    .is_some_and(|t| (1..=45).contains(&t.chars().count()));
                let custom_ok = d["custom_id"]
                    .as_str()
                    .is_some_and(|t| (1..=100).contains(&t.len()));
                let comps_ok = d["components"]
                    .as_array()
                    .is_some_and(|c| (1..=5).contains(&c.len()));
                if !title_ok {
                    return Reply::bad_length("data.title", 1, 45);
                }
                if !custom_ok {
                    return Reply::bad_length("data.custom_id", 1, 100);
                }
                if !comps_ok {
                    return Reply::bad_length("data.components", 1, 5);
                }
            }
            _ => {}
        }
        if let Some(rec) = self.interactions.get_mut(&id) {
            rec.responses.push(InteractionResponse { kind, data });
            rec.original_message = original;
        }
        if let Some(m) = original
            && self.config.echo_bot_messages
        {
            self.dispatch_message("MESSAGE_CREATE", m);
        }
        if !with_response {
            return Reply::no_content();
        }
        // The callback response: `resource.message` for the message a type 4 created or a type 7
        // updated (Discord documents it for those two types only).
        let shown = original.or(updated);
        let ephemeral = shown
            .and_then(|m| self.message(m))
            .is_some_and(StoredMessage::is_ephemeral);
        let mut interaction = json!({"id": id.to_string(), "type": ikind});
        if let Some(rec) = self.interactions.get(&id) {
            interaction["channel_id"] = json!(rec.channel_id.to_string());
            if let Some(g) = rec.guild_id {
                interaction["guild_id"] = json!(g.to_string());
            }
        }
        if let Some(m) = shown {
            interaction["response_message_id"] = json!(m.to_string());
            interaction["response_message_loading"] = json!(kind == 5);
            interaction["response_message_ephemeral"] = json!(ephemeral);
        }
        let mut body = json!({"interaction": interaction});
        if matches!(kind, 4 | 7)
            && let Some(m) = shown.and_then(|m| self.message(m))
        {
            body["resource"] = json!({"type": kind, "message": self.message_value(m)});
        }
        Reply::ok(body)
    }

    /// Checks a webhook (application id + interaction token) and finds a message of it.
    pub(super) fn webhook_message(&self, app: u64, token: &str, r: MsgRef) -> Result<u64, Reply> {
        let rec = self.webhook_interaction(app, token)?;
        let id = match r {
            MsgRef::Original => rec.original_message,
            MsgRef::Id(m) => {
                (rec.original_message == Some(m) || rec.followups.contains(&m)).then_some(m)
            }
        };
        match id.and_then(|m| self.message(m)) {
            Some(m) if !m.deleted => Ok(m.id),
            _ => Err(Reply::unknown_message()),
        }
    }

    pub(super) fn webhook_interaction(
        &self,
        app: u64,
        token: &str,
    ) -> Result<&InteractionRecord, Reply> {
        if app != self.config.application_id {
            return Err(Reply::unknown_webhook());
        }
        let rec = self
            .interaction_by_token(token)
            .and_then(|i| self.interactions.get(&i))
            .ok_or_else(Reply::unknown_webhook)?;
        if rec.created.elapsed() > self.config.interaction_token_lifetime {
            return Err(Reply::error(401, 50027, "Invalid Webhook Token"));
        }
        Ok(rec)
    }

    pub(super) fn followup(
        &mut self,
        app: u64,
        token: &str,
        b: &Value,
        files: &[Attachment],
    ) -> Reply {
        let (id, channel, acked) = match self.webhook_interaction(app, token) {
            Ok(rec) => (rec.id, rec.channel_id, !rec.responses.is_empty()),
            Err(e) => return e,
        };
        if !acked {
            return Reply::unknown_webhook();
        }
        let input = match MessageInput::from_body(b, "") {
            Ok(i) => i,
            Err(e) => return e,
        };
        if input.is_empty(files.len()) {
            return Reply::error(400, 50006, "Cannot send an empty message");
        }
        let mut msg = self.new_bot_message(channel, input, files);
        msg.origin = MessageOrigin::Followup;
        msg.interaction_id = Some(id);
        msg.request_body = Some(b.clone());
        let mid = msg.id;
        self.push_message(msg);
        if let Some(rec) = self.interactions.get_mut(&id) {
            rec.followups.push(mid);
        }
        if self.config.echo_bot_messages {
            self.dispatch_message("MESSAGE_CREATE", mid);
        }
        match self.message(mid) {
            Some(m) => Reply::ok(self.message_value(m)),
            None => Reply::unknown_message(),
        }
    }
}
