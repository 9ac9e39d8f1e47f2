//! Direct messages and messages: create (with `enforce_nonce`), list, edit, delete, reactions.

use serde_json::{Value, json};

use super::super::state::{
    Attachment, DiscordState, Dispatch, INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES,
    MessageOrigin, StoredMessage, Target, now_iso,
};
use super::{MessageInput, Reply, as_id, nonce_key, query_int, query_snowflake};

impl DiscordState {
    pub(super) fn create_dm(&mut self, b: &Value) -> Reply {
        let Some(user) = as_id(&b["recipient_id"]) else {
            return Reply::required("recipient_id");
        };
        if !self.user_known(user) || user == self.config.bot.id {
            return Reply::error(400, 50033, "Invalid Recipient(s)");
        }
        let channel = self.ensure_dm(user);
        match self.channels.get(&channel) {
            Some(c) => Reply::ok(self.channel_value(c)),
            None => Reply::unknown_channel(),
        }
    }

    pub(super) fn target_of(&self, channel: u64) -> (Target, u64) {
        match self.channels.get(&channel).and_then(|c| c.guild_id) {
            Some(g) => (Target::Guild(g), INTENT_GUILD_MESSAGES),
            None => (Target::Dm, INTENT_DIRECT_MESSAGES),
        }
    }

    /// Dispatches `MESSAGE_CREATE` / `MESSAGE_UPDATE` for a message.
    pub(super) fn dispatch_message(&mut self, event: &str, id: u64) {
        let Some(m) = self.message(id) else {
            return;
        };
        if m.is_ephemeral() {
            return;
        }
        let (target, intent) = self.target_of(m.channel_id);
        let mut d = self.message_value(m);
        if let Some(c) = self.channels.get(&m.channel_id) {
            d["channel_type"] = json!(c.kind);
        }
        self.dispatch(Dispatch {
            t: event.to_owned(),
            d,
            target,
            intent: Some(intent),
        });
    }

    pub(super) fn new_bot_message(
        &mut self,
        channel: u64,
        input: MessageInput,
        files: &[Attachment],
    ) -> StoredMessage {
        let id = self.next_id();
        let guild_id = self.channels.get(&channel).and_then(|c| c.guild_id);
        let mut attachments = input.attachments.unwrap_or_default();
        attachments.retain(|a| a.get("url").is_some());
        for file in files {
            let aid = self.next_id();
            attachments.push(self.store_attachment(channel, aid, file));
        }
        StoredMessage {
            id,
            channel_id: channel,
            guild_id,
            author_id: self.config.bot.id,
            content: input.content.unwrap_or_default(),
            embeds: input.embeds.unwrap_or_default(),
            components: input.components.unwrap_or_default(),
            attachments,
            flags: input.flags.unwrap_or(0) & (4 | 64 | 4096),
            nonce: None,
            kind: 0,
            timestamp: now_iso(),
            edited_timestamp: None,
            edits: Vec::new(),
            deleted: false,
            origin: MessageOrigin::Rest,
            interaction_id: None,
            message_reference: None,
            mentions: Vec::new(),
            request_body: None,
            bot_reactions: Vec::new(),
        }
    }

    pub(super) fn create_message(
        &mut self,
        channel: u64,
        b: &Value,
        files: &[Attachment],
    ) -> Reply {
        let Some(ch) = self.live_channel(channel) else {
            return Reply::unknown_channel();
        };
        if let Some(user) = ch.recipient
            && self.blocked_dms.contains(&user)
        {
            return Reply::error(403, 50007, "Cannot send messages to this user");
        }
        if ch.kind == 4 || ch.kind == 15 {
            return Reply::error(400, 50008, "Cannot send messages in a non-text channel");
        }
        if ch.locked {
            return Reply::error(
                400,
                50083,
                "Operation cannot be performed on an archived thread.",
            );
        }
        let bot = self.config.bot.id;
        let nonce = b.get("nonce").filter(|n| !n.is_null()).cloned();
        if let Some(n) = &nonce {
            let Some(key) = nonce_key(n) else {
                return Reply::invalid_form(
                    "nonce",
                    "NONCE_TYPE_INVALID_TYPE",
                    "This field must be a string or integer.",
                );
            };
            if key.chars().count() > 25 {
                return Reply::invalid_form(
                    "nonce",
                    "NONCE_TYPE_TOO_LONG",
                    "Must be 25 or fewer characters long.",
                );
            }
            if b["enforce_nonce"].as_bool() == Some(true)
                && let Some(k) = nonce_key(n)
                && let Some(existing) = self.nonces.get(&(bot, k))
                && let Some(m) = self.message(*existing)
            {
                return Reply::ok(self.message_value(m));
            }
        }
        let input = match MessageInput::from_body(b, "") {
            Ok(i) => i,
            Err(e) => return e,
        };
        if input.is_empty(files.len()) {
            return Reply::error(400, 50006, "Cannot send an empty message");
        }
        if files
            .iter()
            .any(|f| u64::try_from(f.data.len()).unwrap_or(u64::MAX) > self.config.upload_limit)
        {
            return Reply::error(413, 40005, "Request entity too large");
        }
        let mut msg = self.new_bot_message(channel, input, files);
        msg.nonce.clone_from(&nonce);
        msg.request_body = Some(b.clone());
        if let Some(r) = b.get("message_reference").filter(|r| r.is_object()) {
            let mut r = r.clone();
            r["channel_id"] = json!(channel.to_string());
            msg.message_reference = Some(r);
            msg.kind = 19;
        }
        if let Some(ch) = self.channels.get_mut(&channel)
            && ch.archived
            && !ch.locked
        {
            ch.archived = false;
        }
        let id = msg.id;
        if let Some(k) = nonce.as_ref().and_then(nonce_key) {
            self.nonces.insert((bot, k), id);
        }
        self.push_message(msg);
        if self.config.echo_bot_messages {
            self.dispatch_message("MESSAGE_CREATE", id);
        }
        match self.message(id) {
            Some(m) => Reply::ok(self.message_value(m)),
            None => Reply::unknown_message(),
        }
    }

    pub(super) fn react(&mut self, channel: u64, message: u64, emoji: &str, add: bool) -> Reply {
        if emoji.is_empty() {
            return Reply::error(400, 10014, "Unknown Emoji");
        }
        let Some(m) = self
            .message_mut(message)
            .filter(|m| m.channel_id == channel && !m.deleted)
        else {
            return Reply::unknown_message();
        };
        m.bot_reactions.retain(|e| e != emoji);
        if add {
            m.bot_reactions.push(emoji.to_owned());
        }
        Reply::no_content()
    }

    /// `GET /channels/{id}/messages`: `limit` 1 to 100 (default 50), and one of `around`,
    /// `before` or `after` (that order wins when several are given), newest first.
    pub(super) fn list_messages(&self, channel: u64, query: Option<&str>) -> Reply {
        let parsed = (|| {
            let limit = query_int(query, "limit", 1, 100)?.unwrap_or(50);
            let around = query_snowflake(query, "around")?;
            let before = query_snowflake(query, "before")?;
            let after = query_snowflake(query, "after")?;
            Ok::<_, Reply>((limit, around, before, after))
        })();
        let (limit, around, before, after) = match parsed {
            Ok(p) => p,
            Err(e) => return e,
        };
        if self.live_channel(channel).is_none() {
            return Reply::unknown_channel();
        }
        let limit = usize::try_from(limit).unwrap_or(50);
        let mut list: Vec<&StoredMessage> = self
            .messages
            .iter()
            .filter(|m| m.channel_id == channel && !m.deleted && !m.is_ephemeral())
            .collect();
        list.sort_by_key(|m| m.id);
        let mut page: Vec<&StoredMessage> = if let Some(id) = around {
            // The message itself (if it exists) and the newer ones take the larger half.
            let split = list.partition_point(|m| m.id < id);
            let older_n = limit / 2;
            let newer_n = limit - older_n;
            let older = &list[split.saturating_sub(older_n)..split];
            let newer = &list[split..list.len().min(split + newer_n)];
            older.iter().chain(newer).copied().collect()
        } else if let Some(id) = before {
            let split = list.partition_point(|m| m.id < id);
            list[split.saturating_sub(limit)..split].to_vec()
        } else if let Some(id) = after {
            // The messages right after it (so a client can page forwards).
            let split = list.partition_point(|m| m.id <= id);
            list[split..list.len().min(split + limit)].to_vec()
        } else {
            list[list.len().saturating_sub(limit)..].to_vec()
        };
        page.reverse();
        Reply::ok(Value::Array(
            page.into_iter().map(|m| self.message_value(m)).collect(),
        ))
    }

    pub(super) fn update_message(&mut self, channel: Option<u64>, id: u64, b: &Value) -> Reply {
        let bot = self.config.bot.id;
        match self.message(id) {
            Some(m) if !m.deleted && channel.is_none_or(|c| c == m.channel_id) => {
                if m.author_id != bot {
                    return Reply::error(
                        403,
                        50005,
                        "Cannot edit a message authored by another user",
                    );
                }
            }
            _ => return Reply::unknown_message(),
        }
        let input = match MessageInput::from_body(b, "") {
            Ok(i) => i,
            Err(e) => return e,
        };
        let now = now_iso();
        let Some(m) = self.message_mut(id) else {
            return Reply::unknown_message();
        };
        let old = m.content.clone();
        m.edits.push(old);
        if b.get("content").is_some() {
            m.content = input.content.unwrap_or_default();
        }
        if b.get("embeds").is_some() {
            m.embeds = input.embeds.unwrap_or_default();
        }
        if b.get("components").is_some() {
            m.components = input.components.unwrap_or_default();
        }
        if b.get("attachments").is_some() {
            m.attachments = input.attachments.unwrap_or_default();
        }
        if let Some(f) = input.flags {
            m.flags = (m.flags & 64) | (f & 4);
        }
        m.flags &= !128; // no longer loading
        m.edited_timestamp = Some(now);
        self.dispatch_message("MESSAGE_UPDATE", id);
        match self.message(id) {
            Some(m) => Reply::ok(self.message_value(m)),
            None => Reply::unknown_message(),
        }
    }

    pub(super) fn delete_message(&mut self, channel: Option<u64>, id: u64) -> Reply {
        let bot = self.config.bot.id;
        let Some(m) = self
            .message(id)
            .filter(|m| !m.deleted && channel.is_none_or(|c| c == m.channel_id))
        else {
            return Reply::unknown_message();
        };
        if m.guild_id.is_none() && m.author_id != bot {
            return Reply::error(403, 50003, "Cannot execute action on a DM channel");
        }
        let (channel_id, guild_id, ephemeral) = (m.channel_id, m.guild_id, m.is_ephemeral());
        if let Some(m) = self.message_mut(id) {
            m.deleted = true;
        }
        if !ephemeral {
            let (target, intent) = self.target_of(channel_id);
            let mut d = json!({"id": id.to_string(), "channel_id": channel_id.to_string()});
            if let Some(g) = guild_id {
                d["guild_id"] = json!(g.to_string());
            }
            self.dispatch(Dispatch {
                t: "MESSAGE_DELETE".to_owned(),
                d,
                target,
                intent: Some(intent),
            });
        }
        Reply::no_content()
    }
}
