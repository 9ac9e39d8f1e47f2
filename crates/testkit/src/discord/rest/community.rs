//! A guild's community side: roles, announcement channels and the crossposting (publishing)
//! of their messages, and what the guild's features allow.

use serde_json::{Value, json};

use super::super::config::RoleSpec;
use super::super::state::{ChannelRec, DiscordState};
use super::{Reply, as_id};

/// What a `PATCH channels/{id}` changes on the community side: the type (text and announcement
/// channels convert into each other), the category, a forum's tags, a forum post's tags.
#[derive(Default)]
pub(super) struct CommunityChanges {
    kind: Option<u8>,
    #[allow(clippy::option_option)] // outer: changed; inner: None = out of any category
    parent: Option<Option<u64>>,
    tags: Option<Vec<Value>>,
    applied: Option<Vec<u64>>,
}

impl CommunityChanges {
    pub(super) fn apply_to(self, c: &mut ChannelRec) {
        if let Some(k) = self.kind {
            c.kind = k;
        }
        if let Some(p) = self.parent {
            c.parent_id = p;
        }
        if let Some(t) = self.tags {
            c.tags = t;
        }
        if let Some(t) = self.applied {
            c.applied_tags = t;
        }
    }
}

/// `CROSSPOSTED`: the message was published to the channels following its channel.
const CROSSPOSTED: u64 = 1;

/// The most tags a forum may have, and a post may carry.
const FORUM_TAGS_MAX: usize = 20;
const APPLIED_TAGS_MAX: usize = 5;

impl DiscordState {
    /// Reads the community side of a `PATCH channels/{id}` body (see [`CommunityChanges`]).
    pub(super) fn community_changes(
        &mut self,
        id: u64,
        b: &Value,
    ) -> Result<CommunityChanges, Reply> {
        let Some(c) = self.channels.get(&id) else {
            return Err(Reply::unknown_channel());
        };
        let (current, forum, known) = (c.kind, c.kind == 15, c.tags.clone());
        let parent_of_thread = c.parent_id.filter(|_| matches!(c.kind, 10..=12));
        let kind = match b["type"].as_u64() {
            None => None,
            Some(k) if k == u64::from(current) => None,
            Some(k @ (0 | 5)) if matches!(current, 0 | 5) => {
                if !self.channel_type_allowed(k) {
                    return Err(Self::channel_type_refused());
                }
                Some(u8::try_from(k).unwrap_or(0))
            }
            Some(_) => return Err(Reply::choices("type", &[0, 5])),
        };
        let parent = match &b["parent_id"] {
            Value::Null if b.get("parent_id").is_some() => Some(None),
            Value::Null => None,
            v => match as_id(v) {
                Some(p) if self.live_channel(p).is_some_and(|p| p.kind == 4) => Some(Some(p)),
                _ => {
                    return Err(Reply::invalid_form(
                        "parent_id",
                        "CHANNEL_PARENT_INVALID",
                        "Invalid category",
                    ));
                }
            },
        };
        let tags = match &b["available_tags"] {
            Value::Null => None,
            t if forum => Some(self.parse_forum_tags(t, &known)?),
            _ => None,
        };
        let applied = match (&b["applied_tags"], parent_of_thread) {
            (Value::Null, _) | (_, None) => None,
            (t, Some(parent)) => Some(self.parse_applied_tags(parent, t)?),
        };
        Ok(CommunityChanges {
            kind,
            parent,
            tags,
            applied,
        })
    }

    /// A forum's `available_tags`: each needs a name of 1 to 20 characters; a tag with a known
    /// `id` keeps it, a new one gets an id.
    pub(super) fn parse_forum_tags(
        &mut self,
        tags: &Value,
        known: &[Value],
    ) -> Result<Vec<Value>, Reply> {
        let Some(list) = tags.as_array() else {
            return Err(Reply::not_a_list("available_tags"));
        };
        if list.len() > FORUM_TAGS_MAX {
            return Err(Reply::invalid_form(
                "available_tags",
                "BASE_TYPE_MAX_LENGTH",
                &format!("Must be {FORUM_TAGS_MAX} or fewer in length."),
            ));
        }
        let mut out = Vec::new();
        for (i, t) in list.iter().enumerate() {
            let Some(name) = t["name"].as_str() else {
                return Err(Reply::required(&format!("available_tags.{i}.name")));
            };
            if !(1..=20).contains(&name.chars().count()) {
                return Err(Reply::bad_length(
                    &format!("available_tags.{i}.name"),
                    1,
                    20,
                ));
            }
            let id = as_id(&t["id"])
                .filter(|id| known.iter().any(|k| as_id(&k["id"]) == Some(*id)))
                .unwrap_or_else(|| self.next_id());
            out.push(json!({
                "id": id.to_string(),
                "name": name,
                "moderated": t["moderated"].as_bool().unwrap_or(false),
                "emoji_id": null,
                "emoji_name": t["emoji_name"].as_str(),
            }));
        }
        Ok(out)
    }

    /// A forum post's `applied_tags`: at most five of the forum's tags.
    pub(super) fn parse_applied_tags(&self, forum: u64, tags: &Value) -> Result<Vec<u64>, Reply> {
        let Some(list) = tags.as_array() else {
            return Err(Reply::not_a_list("applied_tags"));
        };
        if list.len() > APPLIED_TAGS_MAX {
            return Err(Reply::invalid_form(
                "applied_tags",
                "BASE_TYPE_MAX_LENGTH",
                &format!("Must be {APPLIED_TAGS_MAX} or fewer in length."),
            ));
        }
        let available = self
            .channels
            .get(&forum)
            .map(|c| c.tags.clone())
            .unwrap_or_default();
        let mut out = Vec::new();
        for (i, t) in list.iter().enumerate() {
            let id = as_id(t).filter(|id| available.iter().any(|a| as_id(&a["id"]) == Some(*id)));
            match id {
                Some(id) => out.push(id),
                None => {
                    return Err(Reply::invalid_form(
                        &format!("applied_tags.{i}"),
                        "FORUM_TAG_UNKNOWN",
                        "Unknown forum tag",
                    ));
                }
            }
        }
        Ok(out)
    }

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
