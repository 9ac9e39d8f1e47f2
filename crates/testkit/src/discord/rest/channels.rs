//! Guild channels, permission overwrites and threads.

use serde_json::{Value, json};

use super::super::state::{ChannelRec, DiscordState, Dispatch, INTENT_GUILDS, Target, now_iso};
use super::{MessageInput, Reply, as_id};

/// Channel types a guild channel can be created with.
const GUILD_TYPES: [u64; 7] = [0, 2, 4, 5, 13, 15, 16];

impl DiscordState {
    pub(super) fn dispatch_channel(&mut self, event: &str, id: u64) {
        let Some(c) = self.channels.get(&id) else {
            return;
        };
        let Some(g) = c.guild_id else {
            return;
        };
        let mut d = self.channel_value(c);
        if event == "THREAD_CREATE" {
            d["newly_created"] = json!(true);
        }
        self.dispatch(Dispatch {
            t: event.to_owned(),
            d,
            target: Target::Guild(g),
            intent: Some(INTENT_GUILDS),
        });
    }

    /// One permission overwrite; `at` prefixes error paths (`permission_overwrites.0.`).
    pub(super) fn parse_overwrite(id: u64, o: &Value, at: &str) -> Result<Value, Reply> {
        let kind = match &o["type"] {
            Value::Null => return Err(Reply::required(&format!("{at}type"))),
            v => v.as_u64().filter(|t| *t <= 1),
        };
        let Some(kind) = kind else {
            return Err(Reply::choices(&format!("{at}type"), &[0, 1]));
        };
        let bits = |key: &str| -> Result<String, Reply> {
            match &o[key] {
                Value::Null => Ok("0".to_owned()),
                Value::String(s) if s.parse::<u64>().is_ok() => Ok(s.clone()),
                Value::Number(n) if n.as_u64().is_some() => Ok(n.to_string()),
                Value::String(s) => Err(Reply::not_a(&format!("{at}{key}"), s, "int")),
                v => Err(Reply::not_a(&format!("{at}{key}"), &v.to_string(), "int")),
            }
        };
        Ok(
            json!({"id": id.to_string(), "type": kind, "allow": bits("allow")?, "deny": bits("deny")?}),
        )
    }

    pub(super) fn put_permission(&mut self, channel: u64, overwrite: u64, b: &Value) -> Reply {
        if self
            .live_channel(channel)
            .is_none_or(|c| c.guild_id.is_none())
        {
            return Reply::unknown_channel();
        }
        let ow = match Self::parse_overwrite(overwrite, b, "") {
            Ok(o) => o,
            Err(e) => return e,
        };
        if let Some(c) = self.channels.get_mut(&channel) {
            c.overwrites.retain(|o| as_id(&o["id"]) != Some(overwrite));
            c.overwrites.push(ow);
        }
        self.dispatch_channel("CHANNEL_UPDATE", channel);
        Reply::no_content()
    }

    pub(super) fn delete_permission(&mut self, channel: u64, overwrite: u64) -> Reply {
        if self
            .live_channel(channel)
            .is_none_or(|c| c.guild_id.is_none())
        {
            return Reply::unknown_channel();
        }
        if let Some(c) = self.channels.get_mut(&channel) {
            c.overwrites.retain(|o| as_id(&o["id"]) != Some(overwrite));
        }
        self.dispatch_channel("CHANNEL_UPDATE", channel);
        Reply::no_content()
    }

    pub(super) fn create_guild_channel(&mut self, guild: u64, b: &Value) -> Reply {
        if guild != self.config.guild_id {
            return Reply::error(404, 10004, "Unknown Guild");
        }
        let Some(name) = b["name"].as_str() else {
            return Reply::required("name");
        };
        if !(1..=100).contains(&name.chars().count()) {
            return Reply::bad_length("name", 1, 100);
        }
        let kind = b["type"].as_u64().unwrap_or(0);
        if !GUILD_TYPES.contains(&kind) {
            return Reply::choices("type", &GUILD_TYPES);
        }
        if !self.channel_type_allowed(kind) {
            return Self::channel_type_refused();
        }
        let mut overwrites = Vec::new();
        if let Some(list) = b["permission_overwrites"].as_array() {
            for (i, o) in list.iter().enumerate() {
                let at = format!("permission_overwrites.{i}.");
                let Some(oid) = as_id(&o["id"]) else {
                    return Reply::required(&format!("{at}id"));
                };
                match Self::parse_overwrite(oid, o, &at) {
                    Ok(v) => overwrites.push(v),
                    Err(e) => return e,
                }
            }
        }
        let tags = match &b["available_tags"] {
            Value::Null => Vec::new(),
            _ if kind != 15 => Vec::new(),
            t => match self.parse_forum_tags(t, &[]) {
                Ok(tags) => tags,
                Err(e) => return e,
            },
        };
        let id = self.next_id();
        let position = i64::try_from(self.channels.len()).unwrap_or(0);
        let mut rec = ChannelRec::new(id, u8::try_from(kind).unwrap_or(0), Some(guild), now_iso());
        rec.tags = tags;
        rec.name = Some(name.to_owned());
        rec.topic = b["topic"].as_str().map(str::to_owned);
        rec.parent_id = as_id(&b["parent_id"]);
        rec.position = b["position"].as_i64().unwrap_or(position);
        rec.overwrites = overwrites;
        self.channels.insert(id, rec);
        self.dispatch_channel("CHANNEL_CREATE", id);
        match self.channels.get(&id) {
            Some(c) => Reply::created(self.channel_value(c)),
            None => Reply::unknown_channel(),
        }
    }

    pub(super) fn update_channel(&mut self, id: u64, b: &Value) -> Reply {
        let Some(c) = self.channels.get(&id).filter(|c| !c.deleted) else {
            return Reply::unknown_channel();
        };
        let is_thread = matches!(c.kind, 10..=12);
        let community = match self.community_changes(id, b) {
            Ok(changes) => changes,
            Err(e) => return e,
        };
        let mut overwrites = None;
        if let Some(list) = b["permission_overwrites"].as_array() {
            let mut parsed = Vec::new();
            for (i, o) in list.iter().enumerate() {
                let at = format!("permission_overwrites.{i}.");
                let Some(oid) = as_id(&o["id"]) else {
                    return Reply::required(&format!("{at}id"));
                };
                match Self::parse_overwrite(oid, o, &at) {
                    Ok(v) => parsed.push(v),
                    Err(e) => return e,
                }
            }
            overwrites = Some(parsed);
        }
        let Some(c) = self.channels.get_mut(&id) else {
            return Reply::unknown_channel();
        };
        if let Some(n) = b["name"].as_str() {
            c.name = Some(n.to_owned());
        }
        if b.get("topic").is_some() {
            c.topic = b["topic"].as_str().map(str::to_owned);
        }
        if let Some(a) = b["archived"].as_bool() {
            c.archived = a;
        }
        if let Some(l) = b["locked"].as_bool() {
            c.locked = l;
        }
        if let Some(d) = b["auto_archive_duration"].as_u64() {
            c.auto_archive_duration = d;
        }
        if let Some(i) = b["invitable"].as_bool() {
            c.invitable = Some(i);
        }
        if let Some(o) = overwrites {
            c.overwrites = o;
        }
        community.apply_to(c);
        self.dispatch_channel(
            if is_thread {
                "THREAD_UPDATE"
            } else {
                "CHANNEL_UPDATE"
            },
            id,
        );
        match self.channels.get(&id) {
            Some(c) => Reply::ok(self.channel_value(c)),
            None => Reply::unknown_channel(),
        }
    }

    pub(super) fn delete_channel(&mut self, id: u64) -> Reply {
        let Some(c) = self.channels.get(&id).filter(|c| !c.deleted) else {
            return Reply::unknown_channel();
        };
        let is_thread = matches!(c.kind, 10..=12);
        let value = self.channel_value(c);
        self.dispatch_channel(
            if is_thread {
                "THREAD_DELETE"
            } else {
                "CHANNEL_DELETE"
            },
            id,
        );
        if let Some(c) = self.channels.get_mut(&id) {
            c.deleted = true;
        }
        Reply::ok(value)
    }

    pub(super) fn create_thread(
        &mut self,
        parent: u64,
        from_message: Option<u64>,
        b: &Value,
    ) -> Reply {
        let Some(p) = self.live_channel(parent) else {
            return Reply::unknown_channel();
        };
        let (parent_kind, guild) = (p.kind, p.guild_id);
        let Some(guild) = guild.filter(|_| matches!(parent_kind, 0 | 5 | 15)) else {
            return Reply::error(400, 50024, "Cannot execute action on this channel type");
        };
        let Some(name) = b["name"].as_str() else {
            return Reply::required("name");
        };
        if !(1..=100).contains(&name.chars().count()) {
            return Reply::bad_length("name", 1, 100);
        }
        let kind = match from_message {
            Some(m) => {
                if self
                    .message(m)
                    .is_none_or(|msg| msg.channel_id != parent || msg.deleted)
                {
                    return Reply::unknown_message();
                }
                if self.channels.contains_key(&m) {
                    return Reply::error(
                        400,
                        160_004,
                        "A thread has already been created for this message",
                    );
                }
                if parent_kind == 5 { 10 } else { 11 }
            }
            None if parent_kind == 15 => 11,
            None => b["type"].as_u64().unwrap_or(12),
        };
        if !matches!(kind, 10..=12) {
            return Reply::choices("type", &[10, 11, 12]);
        }
        let applied = match &b["applied_tags"] {
            Value::Null => Vec::new(),
            t if parent_kind == 15 => match self.parse_applied_tags(parent, t) {
                Ok(tags) => tags,
                Err(e) => return e,
            },
            _ => Vec::new(),
        };
        let id = from_message.unwrap_or_else(|| self.next_id());
        let bot = self.config.bot.id;
        let mut rec = ChannelRec::new(id, u8::try_from(kind).unwrap_or(12), Some(guild), now_iso());
        rec.name = Some(name.to_owned());
        rec.parent_id = Some(parent);
        rec.owner_id = Some(bot);
        rec.thread_members = vec![bot];
        rec.applied_tags = applied;
        rec.auto_archive_duration = b["auto_archive_duration"].as_u64().unwrap_or(4320);
        if kind == 12 {
            rec.invitable = Some(b["invitable"].as_bool().unwrap_or(true));
        }
        self.channels.insert(id, rec);
        if parent_kind == 15 && from_message.is_none() {
            // A forum post starts with its first message, whose id is the thread's.
            let input = MessageInput::from_body(&b["message"], "message.");
            if let Ok(input) = input {
                let mut msg = self.new_bot_message(id, input, &[]);
                msg.id = id;
                msg.request_body = Some(b["message"].clone());
                self.push_message(msg);
            }
        }
        self.dispatch_channel("THREAD_CREATE", id);
        let Some(c) = self.channels.get(&id) else {
            return Reply::unknown_channel();
        };
        let mut value = self.channel_value(c);
        if parent_kind == 15 && from_message.is_none() {
            // A forum post's answer carries its first message, as Discord's does.
            if let Some(m) = self.message(id) {
                value["message"] = self.message_value(m);
            }
        }
        Reply::created(value)
    }

    pub(super) fn thread_member(&mut self, thread: u64, user: Option<u64>, add: bool) -> Reply {
        let user = user.unwrap_or(self.config.bot.id);
        if self
            .live_channel(thread)
            .is_none_or(|c| !matches!(c.kind, 10..=12))
        {
            return Reply::unknown_channel();
        }
        if !self.user_known(user) {
            return Reply::error(404, 10013, "Unknown User");
        }
        if let Some(c) = self.channels.get_mut(&thread) {
            c.thread_members.retain(|u| *u != user);
            if add {
                c.thread_members.push(user);
            }
        }
        Reply::no_content()
    }
}
