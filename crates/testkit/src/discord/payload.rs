//! Discord JSON objects (users, members, guild, channels, messages, READY) built from the state,
//! with every field twilight-model 0.18 requires and the usual optional ones.

use serde_json::{Value, json};

use super::state::{ChannelRec, DiscordState, StoredMessage};

/// Permission bits Discord reports for the bot in interactions (everything but administrator).
pub(crate) const APP_PERMISSIONS: &str = "2251799813685239";

/// The application's flags: `GATEWAY_MESSAGE_CONTENT_LIMITED` (1 << 19).
const APPLICATION_FLAGS: u64 = 1 << 19;

impl DiscordState {
    /// User object; an unknown id yields a placeholder user.
    pub(crate) fn user_value(&self, id: u64) -> Value {
        match self.users.get(&id) {
            Some(u) => json!({
                "id": u.id.to_string(),
                "username": u.username,
                "discriminator": "0",
                "global_name": u.global_name,
                "avatar": null,
                "bot": u.bot,
                "public_flags": 0,
                "flags": 0,
                "banner": null,
                "accent_color": null,
                "avatar_decoration_data": null,
                "collectibles": null,
                "primary_guild": null,
            }),
            None => json!({
                "id": id.to_string(),
                "username": format!("user{id}"),
                "discriminator": "0",
                "global_name": null,
                "avatar": null,
                "public_flags": 0,
                "flags": 0,
                "primary_guild": null,
            }),
        }
    }

    /// The bot as the current user (`GET /users/@me`).
    pub(crate) fn current_user_value(&self) -> Value {
        let mut u = self.user_value(self.config.bot.id);
        u["bot"] = json!(true);
        u["mfa_enabled"] = json!(false);
        u["verified"] = json!(true);
        u["locale"] = json!("en-US");
        u["email"] = Value::Null;
        u
    }

    /// Guild member object without `user` (as in `MESSAGE_CREATE`).
    pub(crate) fn member_value(&self, user_id: u64) -> Value {
        let roles: Vec<String> = self
            .users
            .get(&user_id)
            .map(|u| u.roles.iter().map(u64::to_string).collect())
            .unwrap_or_default();
        json!({
            "roles": roles,
            "joined_at": self.started,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "nick": null,
            "avatar": null,
            "banner": null,
            "pending": false,
            "premium_since": null,
            "communication_disabled_until": null,
        })
    }

    /// A member's permissions in the guild, as interactions carry them: a plain member's
    /// (`2248473465835073`) plus those of their roles; every permission with `ADMINISTRATOR`.
    pub(crate) fn member_permissions(&self, user_id: u64) -> u64 {
        const MEMBER: u64 = 2_248_473_465_835_073;
        const ADMINISTRATOR: u64 = 1 << 3;
        const ALL: u64 = (1 << 51) - 1;
        let roles = self
            .users
            .get(&user_id)
            .map(|u| u.roles.clone())
            .unwrap_or_default();
        let bits = self
            .config
            .roles
            .iter()
            .filter(|r| roles.contains(&r.id))
            .fold(MEMBER, |bits, r| bits | r.permissions);
        if bits & ADMINISTRATOR == 0 { bits } else { ALL }
    }

    /// Member object with `user` (as in `GUILD_CREATE` and interactions).
    pub(crate) fn full_member_value(&self, user_id: u64) -> Value {
        let mut m = self.member_value(user_id);
        m["user"] = self.user_value(user_id);
        m
    }

    pub(crate) fn application_value(&self) -> Value {
        let c = &self.config;
        json!({
            "id": c.application_id.to_string(),
            "name": c.application_name,
            "icon": null,
            "description": "Customer support on Discord",
            "summary": "",
            "type": null,
            "bot_public": false,
            "bot_require_code_grant": false,
            "verify_key": "0f6c1a2e1b8a4d4fa1f0a6e5c3b2d1e0f6c1a2e1b8a4d4fa1f0a6e5c3b2d1e0f",
            "flags": APPLICATION_FLAGS,
            "flags_new": APPLICATION_FLAGS.to_string(),
            "owner": self.user_value(c.owner_id.unwrap_or(c.bot.id)),
            "team": null,
            "bot": self.user_value(c.bot.id),
            "guild_id": c.guild_id.to_string(),
            "redirect_uris": [],
            "interactions_endpoint_url": null,
            "role_connections_verification_url": null,
            "integration_types_config": {"0": {}, "1": {}},
            "tags": [],
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": ["applications.commands", "bot"],
            "approximate_guild_count": 1,
            "approximate_user_install_count": c.users.len(),
            "approximate_user_authorization_count": c.users.len(),
        })
    }

    pub(crate) fn role_value(id: u64, name: &str, position: u64, permissions: u64) -> Value {
        json!({
            "id": id.to_string(),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
            "hoist": false,
            "icon": null,
            "unicode_emoji": null,
            "position": position,
            "permissions": permissions.to_string(),
            "managed": false,
            "mentionable": false,
            "flags": 0,
        })
    }

    /// Guild object as sent in `GUILD_CREATE` (channels, members and threads included).
    pub(crate) fn guild_create_value(&self) -> Value {
        let mut g = self.guild_value();
        let channels: Vec<Value> = self
            .channels
            .values()
            .filter(|c| c.guild_id.is_some() && !matches!(c.kind, 10..=12) && !c.deleted)
            .map(|c| {
                let mut v = self.channel_value(c);
                if let Some(o) = v.as_object_mut() {
                    o.remove("guild_id");
                }
                v
            })
            .collect();
        let threads: Vec<Value> = self.threads();
        let members: Vec<Value> = self
            .users
            .keys()
            .map(|id| self.full_member_value(*id))
            .collect();
        g["joined_at"] = json!(self.started);
        g["large"] = json!(false);
        g["unavailable"] = json!(false);
        g["member_count"] = json!(members.len());
        g["voice_states"] = json!([]);
        g["members"] = Value::Array(members);
        g["channels"] = Value::Array(channels);
        g["threads"] = Value::Array(threads);
        g["presences"] = json!([]);
        g["stage_instances"] = json!([]);
        g["guild_scheduled_events"] = json!([]);
        g["soundboard_sounds"] = json!([]);
        g
    }

    /// Guild object (`GET /guilds/{id}`).
    pub(crate) fn guild_value(&self) -> Value {
        let c = &self.config;
        // @everyone: view channels, send messages, read history, use application commands.
        let everyone = (1u64 << 10) | (1 << 11) | (1 << 16) | (1 << 31) | (1 << 6);
        let mut roles = vec![Self::role_value(c.guild_id, "@everyone", 0, everyone)];
        for (i, r) in c.roles.iter().enumerate() {
            roles.push(Self::role_value(r.id, &r.name, i as u64 + 1, r.permissions));
        }
        let owner = c
            .owner_id
            .or_else(|| c.users.first().map(|u| u.id))
            .unwrap_or(c.bot.id);
        json!({
            "id": c.guild_id.to_string(),
            "name": c.guild_name,
            "icon": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": owner.to_string(),
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": roles,
            "emojis": [],
            "features": c.features,
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": null,
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "max_members": 500_000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": false,
            "stickers": [],
            "safety_alerts_channel_id": null,
            "home_header": null,
            "region": "deprecated",
            "widget_channel_id": null,
            "nsfw": false,
            "max_presences": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "incidents_data": null,
        })
    }

    pub(crate) fn channel_value(&self, c: &ChannelRec) -> Value {
        let last = c.last_message_id.map(|id| id.to_string());
        match c.kind {
            1 => json!({
                "id": c.id.to_string(),
                "type": 1,
                "last_message_id": last,
                "recipients": c.recipient.map(|u| vec![self.user_value(u)]).unwrap_or_default(),
                "flags": 0,
            }),
            10..=12 => {
                let mut meta = json!({
                    "archived": c.archived,
                    "auto_archive_duration": c.auto_archive_duration,
                    "archive_timestamp": c.created,
                    "locked": c.locked,
                    "create_timestamp": c.created,
                });
                if let Some(inv) = c.invitable {
                    meta["invitable"] = json!(inv);
                }
                let count = self
                    .messages
                    .iter()
                    .filter(|m| m.channel_id == c.id)
                    .count();
                json!({
                    "id": c.id.to_string(),
                    "type": c.kind,
                    "guild_id": c.guild_id.map(|g| g.to_string()),
                    "parent_id": c.parent_id.map(|p| p.to_string()),
                    "owner_id": c.owner_id.map(|o| o.to_string()),
                    "name": c.name,
                    "last_message_id": last,
                    "rate_limit_per_user": 0,
                    "message_count": count,
                    "total_message_sent": count,
                    "member_count": c.thread_members.len(),
                    "thread_metadata": meta,
                    "applied_tags": c.applied_tags.iter().map(u64::to_string).collect::<Vec<_>>(),
                    "flags": 0,
                })
            }
            15 => json!({
                "id": c.id.to_string(),
                "type": 15,
                "guild_id": c.guild_id.map(|g| g.to_string()),
                "name": c.name,
                "position": c.position,
                "permission_overwrites": c.overwrites,
                "topic": c.topic,
                "nsfw": false,
                "last_message_id": last,
                "rate_limit_per_user": 0,
                "parent_id": c.parent_id.map(|p| p.to_string()),
                "flags": 0,
                "available_tags": c.tags,
                "default_reaction_emoji": null,
                "default_thread_rate_limit_per_user": 0,
                "default_sort_order": null,
                "default_forum_layout": 0,
            }),
            _ => json!({
                "id": c.id.to_string(),
                "type": c.kind,
                "guild_id": c.guild_id.map(|g| g.to_string()),
                "name": c.name,
                "position": c.position,
                "permission_overwrites": c.overwrites,
                "topic": c.topic,
                "nsfw": false,
                "last_message_id": last,
                "rate_limit_per_user": 0,
                "parent_id": c.parent_id.map(|p| p.to_string()),
                "flags": 0,
            }),
        }
    }

    pub(crate) fn message_value(&self, m: &StoredMessage) -> Value {
        let mentions: Vec<Value> = m.mentions.iter().map(|u| self.user_value(*u)).collect();
        let mut v = json!({
            "id": m.id.to_string(),
            "channel_id": m.channel_id.to_string(),
            "author": self.user_value(m.author_id),
            "content": m.content,
            "timestamp": m.timestamp,
            "edited_timestamp": m.edited_timestamp,
            "tts": false,
            "mention_everyone": false,
            "mentions": mentions,
            "mention_roles": [],
            "attachments": m.attachments,
            "embeds": m.embeds,
            "pinned": false,
            "type": m.kind,
            "flags": m.flags,
            "components": m.components,
        });
        if !m.bot_reactions.is_empty() {
            let reactions: Vec<Value> = m
                .bot_reactions
                .iter()
                .map(|e| {
                    let emoji = match e.split_once(':') {
                        Some((name, id)) => json!({"id": id, "name": name, "animated": false}),
                        None => json!({"id": null, "name": e}),
                    };
                    json!({
                        "count": 1,
                        "count_details": {"burst": 0, "normal": 1},
                        "me": true,
                        "me_burst": false,
                        "burst_colors": [],
                        "emoji": emoji,
                    })
                })
                .collect();
            v["reactions"] = Value::Array(reactions);
        }
        if let Some(g) = m.guild_id {
            v["guild_id"] = json!(g.to_string());
            if m.origin == super::state::MessageOrigin::Injected {
                v["member"] = self.member_value(m.author_id);
            }
        }
        if let Some(n) = &m.nonce {
            v["nonce"] = n.clone();
        }
        if let Some(r) = &m.message_reference {
            v["message_reference"] = r.clone();
        }
        if let Some(iid) = m.interaction_id {
            v["webhook_id"] = json!(self.config.application_id.to_string());
            v["application_id"] = json!(self.config.application_id.to_string());
            if let Some(i) = self.interactions.get(&iid) {
                let owners = authorizing_owners(i.guild_id, i.user_id);
                let mut meta = json!({
                    "id": i.id.to_string(),
                    "type": i.kind,
                    "user": self.user_value(i.user_id),
                    "authorizing_integration_owners": owners,
                });
                if i.kind == 2 {
                    meta["name"] = json!(i.name);
                }
                if let Some(orig) = i.original_message
                    && orig != m.id
                {
                    meta["original_response_message_id"] = json!(orig.to_string());
                }
                v["interaction_metadata"] = meta;
            }
        }
        v
    }

    /// The message object by id.
    pub fn message_json(&self, id: u64) -> Option<Value> {
        self.message(id).map(|m| self.message_value(m))
    }

    pub(crate) fn ready_value(&self, session_id: &str, shard: [u32; 2], with_guild: bool) -> Value {
        let mut user = self.current_user_value();
        if let Some(o) = user.as_object_mut() {
            o.remove("email");
        }
        let guilds = if with_guild {
            json!([{"id": self.config.guild_id.to_string(), "unavailable": true}])
        } else {
            json!([])
        };
        json!({
            "v": 10,
            "user": user,
            "user_settings": {},
            "guilds": guilds,
            "presences": [],
            "private_channels": [],
            "relationships": [],
            "guild_join_requests": [],
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": shard,
            "application": {"id": self.config.application_id.to_string(), "flags": APPLICATION_FLAGS},
            "geo_ordered_rtc_regions": ["local"],
            "auth": {},
            "_trace": ["[\"flexcord-testkit\",{\"micros\":0}]"],
        })
    }
}

/// `authorizing_integration_owners`: guild install in a guild, user install in a DM.
pub(crate) fn authorizing_owners(guild_id: Option<u64>, user_id: u64) -> Value {
    match guild_id {
        Some(g) => json!({"0": g.to_string()}),
        None => json!({"1": user_id.to_string()}),
    }
}

/// Gives every component an integer `id` (Discord numbers them) and the defaults Discord fills
/// in for what was left out (select menus: `min_values` and `max_values` 1; text inputs:
/// lengths 0 and 4000; containers and files: `spoiler` false).
pub(crate) fn normalize_components(components: &mut [Value]) {
    let mut next = 1;
    for c in components.iter_mut() {
        number_component(c, &mut next);
    }
}

fn number_component(c: &mut Value, next: &mut i64) {
    if let Some(o) = c.as_object_mut() {
        if !o.contains_key("id") {
            o.insert("id".to_owned(), json!(*next));
        }
        *next += 1;
        match o.get("type").and_then(Value::as_u64) {
            Some(3 | 5..=8) => {
                o.entry("min_values").or_insert(json!(1));
                o.entry("max_values").or_insert(json!(1));
            }
            Some(4) => {
                o.entry("min_length").or_insert(json!(0));
                o.entry("max_length").or_insert(json!(4000));
            }
            Some(13 | 17) => {
                o.entry("spoiler").or_insert(json!(false));
            }
            _ => {}
        }
        if let Some(Value::Array(children)) = o.get_mut("components") {
            for child in children {
                number_component(child, next);
            }
        }
        if let Some(child) = o.get_mut("component") {
            number_component(child, next);
        }
    }
}

/// Gives every embed `type: rich`, as Discord does for embeds a bot sends.
pub(crate) fn normalize_embeds(embeds: &mut [Value]) {
    for e in embeds {
        if let Some(o) = e.as_object_mut() {
            o.entry("type").or_insert_with(|| json!("rich"));
        }
    }
}
