//! A guild's community side: roles, announcement channels and the crossposting (publishing)
//! of their messages, and what the guild's features allow.

use serde_json::{Value, json};

use super::super::config::RoleSpec;
use super::super::state::DiscordState;
use super::Reply;

/// `CROSSPOSTED`: the message was published to the channels following its channel.
const CROSSPOSTED: u64 = 1;

impl DiscordState {
    /// Whether the guild may have channels of `kind`: announcement channels (5) need
    /// `COMMUNITY` or `NEWS`, forum channels (15) `COMMUNITY`.
    pub(super) fn channel_type_allowed(&self, kind: u64) -> bool {
        let has = |f: &str| self.config.features.iter().any(|x| x == f);
        match kind {
            5 => has("COMMUNITY") || has("NEWS"),
            15 => has("COMMUNITY"),
            _ => true,
        }
    }

    /// The refusal of a channel type the guild's features do not allow (as Discord words it).
    pub(super) fn channel_type_refused() -> Reply {
        Reply::invalid_form(
            "type",
            "BASE_TYPE_CHOICES",
            "This channel type requires the guild to have the COMMUNITY feature.",
        )
    }

    pub(super) fn guild_roles(&self, guild: u64) -> Reply {
        if guild != self.config.guild_id {
            return Reply::error(404, 10004, "Unknown Guild");
        }
        Reply::ok(self.guild_value()["roles"].clone())
    }

    pub(super) fn create_role(&mut self, guild: u64, b: &Value) -> Reply {
        if guild != self.config.guild_id {
            return Reply::error(404, 10004, "Unknown Guild");
        }
        let name = match &b["name"] {
            Value::Null => "new role".to_owned(),
            Value::String(s) if (1..=100).contains(&s.chars().count()) => s.clone(),
            Value::String(_) => return Reply::bad_length("name", 1, 100),
            _ => return Reply::not_a("name", &b["name"].to_string(), "a string"),
        };
        let permissions = match &b["permissions"] {
            Value::Null => 0,
            Value::String(s) => match s.parse::<u64>() {
                Ok(p) => p,
                Err(_) => return Reply::not_a("permissions", s, "int"),
            },
            Value::Number(n) => match n.as_u64() {
                Some(p) => p,
                None => return Reply::not_a("permissions", &n.to_string(), "int"),
            },
            other => return Reply::not_a("permissions", &other.to_string(), "int"),
        };
        let id = self.next_id();
        let position = self.config.roles.len() as u64 + 1;
        self.config.roles.push(RoleSpec {
            id,
            name: name.clone(),
            permissions,
        });
        let mut role = Self::role_value(id, &name, position, permissions);
        role["hoist"] = json!(b["hoist"].as_bool().unwrap_or(false));
        role["mentionable"] = json!(b["mentionable"].as_bool().unwrap_or(false));
        Reply::ok(role)
    }

    pub(super) fn crosspost(&mut self, channel: u64, message: u64) -> Reply {
        let Some(kind) = self.live_channel(channel).map(|c| c.kind) else {
            return Reply::unknown_channel();
        };
        if kind != 5 {
            return Reply::error(400, 50024, "Cannot execute action on this channel type");
        }
        let Some(msg) = self
            .message(message)
            .filter(|m| m.channel_id == channel && !m.deleted)
        else {
            return Reply::unknown_message();
        };
        if msg.flags & CROSSPOSTED != 0 {
            return Reply::error(400, 40033, "This message has already been crossposted.");
        }
        if let Some(m) = self.message_mut(message) {
            m.flags |= CROSSPOSTED;
        }
        match self.message(message) {
            Some(m) => Reply::ok(self.message_value(m)),
            None => Reply::unknown_message(),
        }
    }
}
