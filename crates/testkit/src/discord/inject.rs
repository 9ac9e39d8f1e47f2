//! What a test injects: user messages and interactions (slash commands, buttons, select menus,
//! modal submits), built as Discord sends them.

use serde_json::{Map, Value, json};

use super::EmulatorError;
use super::payload::{APP_PERMISSIONS, authorizing_owners};
use super::state::{
    Attachment, ChannelRec, DiscordState, Dispatch, INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES,
    InteractionRecord, MessageOrigin, StoredMessage, Target, now_iso,
};

/// Value of a slash-command option.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum OptionValue {
    /// String option (type 3).
    String(String),
    /// Integer option (type 4).
    Integer(i64),
    /// Boolean option (type 5).
    Boolean(bool),
    /// User option (type 6); the user is added to `resolved`.
    User(u64),
    /// Channel option (type 7).
    Channel(u64),
    /// Role option (type 8).
    Role(u64),
    /// Number option (type 10).
    Number(f64),
    /// Sub-command (type 1) with its options.
    SubCommand(Vec<CommandOption>),
    /// Sub-command group (type 2) with its sub-commands.
    SubCommandGroup(Vec<CommandOption>),
}

impl OptionValue {
    fn kind(&self) -> u8 {
        match self {
            Self::SubCommand(_) => 1,
            Self::SubCommandGroup(_) => 2,
            Self::String(_) => 3,
            Self::Integer(_) => 4,
            Self::Boolean(_) => 5,
            Self::User(_) => 6,
            Self::Channel(_) => 7,
            Self::Role(_) => 8,
            Self::Number(_) => 10,
        }
    }
}

impl From<&str> for OptionValue {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for OptionValue {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<i64> for OptionValue {
    fn from(n: i64) -> Self {
        Self::Integer(n)
    }
}

impl From<bool> for OptionValue {
    fn from(b: bool) -> Self {
        Self::Boolean(b)
    }
}

impl From<f64> for OptionValue {
    fn from(n: f64) -> Self {
        Self::Number(n)
    }
}

/// A named option of a slash command.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandOption {
    /// Option name.
    pub name: String,
    /// Option value (or nested options for sub-commands).
    pub value: OptionValue,
}

impl CommandOption {
    fn to_json(&self, users: &mut Vec<u64>) -> Value {
        let mut o = json!({"name": self.name, "type": self.value.kind()});
        match &self.value {
            OptionValue::String(s) => o["value"] = json!(s),
            OptionValue::Integer(n) => o["value"] = json!(n),
            OptionValue::Boolean(b) => o["value"] = json!(b),
            OptionValue::Number(n) => o["value"] = json!(n),
            OptionValue::User(u) => {
                users.push(*u);
                o["value"] = json!(u.to_string());
            }
            OptionValue::Channel(id) | OptionValue::Role(id) => o["value"] = json!(id.to_string()),
            OptionValue::SubCommand(opts) | OptionValue::SubCommandGroup(opts) => {
                o["options"] = Value::Array(opts.iter().map(|x| x.to_json(users)).collect());
            }
        }
        o
    }
}

/// A slash command invocation, e.g. `/case status number:CASE-000001`.
///
/// ```
/// use flexcord_testkit::discord::SlashCommand;
/// let cmd = SlashCommand::new("case").subcommand("status", [("number", "CASE-000001")]);
/// let parsed = SlashCommand::new("bug").option("title", "crash").option("severity", "high");
/// # let _ = (cmd, parsed);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SlashCommand {
    /// Command name.
    pub name: String,
    /// Top-level options (or one sub-command).
    pub options: Vec<CommandOption>,
    /// Guild channel to run it in; `None` runs it in the user's DM with the bot.
    pub channel: Option<u64>,
}

impl SlashCommand {
    /// A command without options, run in a DM.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            options: Vec::new(),
            channel: None,
        }
    }

    /// Adds an option.
    #[must_use]
    pub fn option(mut self, name: impl Into<String>, value: impl Into<OptionValue>) -> Self {
        self.options.push(CommandOption {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a sub-command with string options.
    #[must_use]
    pub fn subcommand<'a>(
        mut self,
        name: impl Into<String>,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let opts = options
            .into_iter()
            .map(|(n, v)| CommandOption {
                name: n.to_owned(),
                value: OptionValue::from(v),
            })
            .collect();
        self.options.push(CommandOption {
            name: name.into(),
            value: OptionValue::SubCommand(opts),
        });
        self
    }

    /// Runs the command in this guild channel instead of a DM.
    #[must_use]
    pub fn in_channel(mut self, channel_id: u64) -> Self {
        self.channel = Some(channel_id);
        self
    }
}

/// A modal submission: the modal's `custom_id` and the values typed into its text inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModalSubmit {
    /// The modal's `custom_id`.
    pub custom_id: String,
    /// `(text input custom_id, value)` pairs.
    pub fields: Vec<(String, String)>,
}

impl ModalSubmit {
    /// A submission of the modal with this `custom_id`.
    pub fn new(custom_id: impl Into<String>) -> Self {
        Self {
            custom_id: custom_id.into(),
            fields: Vec::new(),
        }
    }

    /// Sets a text input's value.
    #[must_use]
    pub fn field(mut self, custom_id: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((custom_id.into(), value.into()));
        self
    }
}

/// What an injection created.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Injected {
    /// Message or interaction id.
    #[serde(serialize_with = "super::ser::id")]
    pub id: u64,
    /// Channel it happened in.
    #[serde(serialize_with = "super::ser::id")]
    pub channel_id: u64,
    /// Interaction token (interactions only).
    pub token: Option<String>,
}

/// Splits a command line into words, honouring double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in line.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn typed_value(kind: u64, raw: &str) -> Result<OptionValue, EmulatorError> {
    let bad = || {
        EmulatorError::CommandParse(format!(
            "`{raw}` is not a valid value for an option of type {kind}"
        ))
    };
    Ok(match kind {
        4 => OptionValue::Integer(raw.parse().map_err(|_| bad())?),
        5 => OptionValue::Boolean(raw.parse().map_err(|_| bad())?),
        10 => OptionValue::Number(raw.parse().map_err(|_| bad())?),
        6 => OptionValue::User(parse_mention(raw).ok_or_else(bad)?),
        7 => OptionValue::Channel(parse_mention(raw).ok_or_else(bad)?),
        8 => OptionValue::Role(parse_mention(raw).ok_or_else(bad)?),
        _ => OptionValue::String(raw.to_owned()),
    })
}

/// For an option with `choices`, the value of the choice named (or valued) `raw`; a user picks a
/// choice by its name and Discord sends its value.
fn choice_value(decl: &Value, raw: &str) -> Result<String, EmulatorError> {
    let Some(choices) = decl["choices"].as_array().filter(|c| !c.is_empty()) else {
        return Ok(raw.to_owned());
    };
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    choices
        .iter()
        .find(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(raw))
                || as_text(&c["value"]) == raw
        })
        .map(|c| as_text(&c["value"]))
        .ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|c| as_text(&c["name"])).collect();
            EmulatorError::CommandParse(format!(
                "`{raw}` is not a choice of `{}`: {}",
                decl["name"].as_str().unwrap_or_default(),
                names.join(", ")
            ))
        })
}

fn parse_mention(raw: &str) -> Option<u64> {
    raw.trim_start_matches("<@&")
        .trim_start_matches("<@!")
        .trim_start_matches("<@")
        .trim_start_matches("<#")
        .trim_end_matches('>')
        .parse()
        .ok()
}

/// Assigns `words` to the options declared in `schema` (`name:value` or positional, in order).
fn fill_options(schema: &[Value], words: &[String]) -> Result<Vec<CommandOption>, EmulatorError> {
    if let Some(first) = words.first()
        && let Some(sub) = schema.iter().find(|o| {
            matches!(o["type"].as_u64(), Some(1 | 2)) && o["name"].as_str() == Some(first.as_str())
        })
    {
        let nested = sub["options"].as_array().cloned().unwrap_or_default();
        let opts = fill_options(&nested, &words[1..])?;
        let value = if sub["type"].as_u64() == Some(2) {
            OptionValue::SubCommandGroup(opts)
        } else {
            OptionValue::SubCommand(opts)
        };
        return Ok(vec![CommandOption {
            name: first.clone(),
            value,
        }]);
    }
    if schema
        .iter()
        .any(|o| matches!(o["type"].as_u64(), Some(1 | 2)))
    {
        let names: Vec<&str> = schema.iter().filter_map(|o| o["name"].as_str()).collect();
        return Err(EmulatorError::CommandParse(format!(
            "expected a sub-command, one of: {}",
            names.join(", ")
        )));
    }
    let mut out: Vec<CommandOption> = Vec::new();
    let mut positional = schema.iter();
    for w in words {
        let named = w.split_once(':').and_then(|(k, v)| {
            schema
                .iter()
                .find(|o| o["name"].as_str() == Some(k))
                .map(|o| (o, v))
        });
        let (decl, raw) = if let Some(x) = named {
            x
        } else {
            let next = positional.by_ref().find(|o| {
                !out.iter()
                    .any(|x| Some(x.name.as_str()) == o["name"].as_str())
            });
            match next {
                Some(o) => (o, w.as_str()),
                None => {
                    return Err(EmulatorError::CommandParse(format!(
                        "unexpected argument `{w}`"
                    )));
                }
            }
        };
        let name = decl["name"].as_str().unwrap_or_default().to_owned();
        let raw = choice_value(decl, raw)?;
        let value = typed_value(decl["type"].as_u64().unwrap_or(3), &raw)?;
        out.retain(|o| o.name != name);
        out.push(CommandOption { name, value });
    }
    for decl in schema {
        let name = decl["name"].as_str().unwrap_or_default();
        if decl["required"].as_bool() == Some(true) && !out.iter().any(|o| o.name == name) {
            return Err(EmulatorError::CommandParse(format!(
                "missing required option `{name}`"
            )));
        }
    }
    Ok(out)
}

impl DiscordState {
    /// Parses `/name [sub] [value | option:value]...` against the registered commands (guild
    /// commands first, then global ones). Without a registered command, only `option:value`
    /// words are accepted and every value is a string.
    pub(crate) fn parse_command_line(&self, line: &str) -> Result<SlashCommand, EmulatorError> {
        let w = words(line.trim().trim_start_matches('/'));
        let Some((name, rest)) = w.split_first() else {
            return Err(EmulatorError::CommandParse("empty command".to_owned()));
        };
        let registered = self
            .guild_commands(self.config.guild_id)
            .iter()
            .chain(self.global_commands())
            .find(|c| {
                c["name"].as_str() == Some(name.as_str()) && c["type"].as_u64().unwrap_or(1) == 1
            });
        let options = match registered {
            Some(cmd) => fill_options(cmd["options"].as_array().map_or(&[], Vec::as_slice), rest)?,
            None => rest
                .iter()
                .map(|word| {
                    word.split_once(':')
                        .map(|(k, v)| CommandOption {
                            name: k.to_owned(),
                            value: OptionValue::from(v),
                        })
                        .ok_or_else(|| {
                            EmulatorError::CommandParse(format!(
                                "`/{name}` is not registered: write options as name:value (got `{word}`)"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(SlashCommand {
            name: name.clone(),
            options,
            channel: None,
        })
    }

    fn check_user(&self, user: u64) -> Result<(), EmulatorError> {
        if self.user_known(user) && user != self.config.bot.id {
            Ok(())
        } else {
            Err(EmulatorError::UnknownUser(user))
        }
    }

    fn guild_text_channel(&self, channel: u64) -> Result<&ChannelRec, EmulatorError> {
        self.channels
            .get(&channel)
            .filter(|c| !c.deleted && c.guild_id.is_some() && matches!(c.kind, 0 | 5 | 10..=12))
            .ok_or(EmulatorError::UnknownChannel(channel))
    }

    fn user_message(
        &mut self,
        channel: u64,
        guild: Option<u64>,
        user: u64,
        content: &str,
        files: &[Attachment],
    ) -> u64 {
        let id = self.next_id();
        let mut attachments = Vec::new();
        for file in files {
            let aid = self.next_id();
            attachments.push(self.store_attachment(channel, aid, file));
        }
        let mentions = mentioned_users(content)
            .into_iter()
            .filter(|u| self.user_known(*u))
            .collect();
        self.push_message(StoredMessage {
            id,
            channel_id: channel,
            guild_id: guild,
            author_id: user,
            content: content.to_owned(),
            embeds: Vec::new(),
            components: Vec::new(),
            attachments,
            flags: 0,
            nonce: None,
            kind: 0,
            timestamp: now_iso(),
            edited_timestamp: None,
            edits: Vec::new(),
            deleted: false,
            origin: MessageOrigin::Injected,
            interaction_id: None,
            message_reference: None,
            mentions,
            request_body: None,
            bot_reactions: Vec::new(),
        });
        id
    }

    pub(crate) fn inject_dm(
        &mut self,
        user: u64,
        content: &str,
        files: &[Attachment],
    ) -> Result<Injected, EmulatorError> {
        self.check_user(user)?;
        let channel = self.ensure_dm(user);
        let id = self.user_message(channel, None, user, content, files);
        let mut d = self.message_json(id).unwrap_or(Value::Null);
        d["channel_type"] = json!(1);
        self.dispatch(Dispatch {
            t: "MESSAGE_CREATE".to_owned(),
            d,
            target: Target::Dm,
            intent: Some(INTENT_DIRECT_MESSAGES),
        });
        Ok(Injected {
            id,
            channel_id: channel,
            token: None,
        })
    }

    pub(crate) fn inject_guild_message(
        &mut self,
        channel: u64,
        user: u64,
        content: &str,
    ) -> Result<Injected, EmulatorError> {
        self.check_user(user)?;
        let ch = self.guild_text_channel(channel)?;
        let (guild, kind) = (ch.guild_id, ch.kind);
        let id = self.user_message(channel, guild, user, content, &[]);
        let mut d = self.message_json(id).unwrap_or(Value::Null);
        d["channel_type"] = json!(kind);
        self.dispatch(Dispatch {
            t: "MESSAGE_CREATE".to_owned(),
            d,
            target: Target::Guild(guild.unwrap_or(self.config.guild_id)),
            intent: Some(INTENT_GUILD_MESSAGES),
        });
        Ok(Injected {
            id,
            channel_id: channel,
            token: None,
        })
    }

    /// Builds and dispatches `INTERACTION_CREATE`.
    fn inject_interaction(
        &mut self,
        user: u64,
        channel: Option<u64>,
        kind: u8,
        name: String,
        data: &Value,
        message_id: Option<u64>,
    ) -> Result<Injected, EmulatorError> {
        self.check_user(user)?;
        let (channel, guild) = match channel {
            Some(c) => {
                let ch = self
                    .channels
                    .get(&c)
                    .filter(|ch| !ch.deleted)
                    .ok_or(EmulatorError::UnknownChannel(c))?;
                (c, ch.guild_id)
            }
            None => (self.ensure_dm(user), None),
        };
        let id = self.next_id();
        let token = format!("itok-{id}-{:x}", id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let channel_json = self
            .channel_json(channel)
            .unwrap_or_else(|| json!({"id": channel.to_string(), "type": 1}));
        let mut d = json!({
            "id": id.to_string(),
            "application_id": self.config.application_id.to_string(),
            "type": kind,
            "token": token,
            "version": 1,
            "attachment_size_limit": 10_485_760,
            "authorizing_integration_owners": authorizing_owners(guild, user),
            "context": u8::from(guild.is_none()),
            "channel": channel_json,
            "channel_id": channel.to_string(),
            "data": data.clone(),
            "entitlements": [],
            "locale": "en-US",
            "app_permissions": APP_PERMISSIONS,
        });
        match guild {
            Some(g) => {
                let mut member = self.full_member_value(user);
                member["permissions"] = json!(self.member_permissions(user).to_string());
                d["member"] = member;
                d["guild_id"] = json!(g.to_string());
                d["guild_locale"] = json!("en-US");
                d["guild"] = json!({"id": g.to_string(), "locale": "en-US", "features": self.config.features});
            }
            None => d["user"] = self.user_value(user),
        }
        if let Some(m) = message_id.and_then(|m| self.message_json(m)) {
            d["message"] = m;
        }
        self.interactions.insert(
            id,
            InteractionRecord {
                id,
                token: token.clone(),
                kind,
                user_id: user,
                channel_id: channel,
                guild_id: guild,
                name,
                data: d["data"].clone(),
                message_id,
                responses: Vec::new(),
                original_message: None,
                followups: Vec::new(),
                created: std::time::Instant::now(),
            },
        );
        self.interaction_tokens.insert(token.clone(), id);
        let target = guild.map_or(Target::Dm, Target::Guild);
        self.dispatch(Dispatch {
            t: "INTERACTION_CREATE".to_owned(),
            d,
            target,
            intent: None,
        });
        Ok(Injected {
            id,
            channel_id: channel,
            token: Some(token),
        })
    }

    pub(crate) fn inject_slash(
        &mut self,
        user: u64,
        cmd: &SlashCommand,
    ) -> Result<Injected, EmulatorError> {
        if let Some(c) = cmd.channel {
            self.guild_text_channel(c)?;
        }
        let find = |list: &[Value]| {
            list.iter()
                .find(|c| c["name"].as_str() == Some(cmd.name.as_str()))
                .cloned()
        };
        let guild_cmd = find(self.guild_commands(self.config.guild_id));
        let global_cmd = find(self.global_commands());
        if cmd.channel.is_none() && global_cmd.is_none() && guild_cmd.is_some() {
            // Guild commands do not exist in DMs.
            return Err(EmulatorError::CommandParse(format!(
                "/{} is a guild command: run it in a guild channel",
                cmd.name
            )));
        }
        let in_guild = cmd.channel.is_some() && guild_cmd.is_some();
        let registered = if in_guild { guild_cmd } else { global_cmd };
        let command_id = registered
            .as_ref()
            .and_then(|c| c["id"].as_str())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| self.next_id());
        let mut users = Vec::new();
        let options: Vec<Value> = cmd.options.iter().map(|o| o.to_json(&mut users)).collect();
        let mut data = json!({
            "id": command_id.to_string(),
            "name": cmd.name,
            "type": 1,
        });
        if !options.is_empty() {
            data["options"] = Value::Array(options);
        }
        if in_guild {
            data["guild_id"] = json!(self.config.guild_id.to_string());
        }
        if !users.is_empty() {
            let mut map = Map::new();
            for u in users {
                map.insert(u.to_string(), self.user_value(u));
            }
            data["resolved"] = json!({"users": map});
        }
        self.inject_interaction(user, cmd.channel, 2, cmd.name.clone(), &data, None)
    }

    /// The most recent visible bot message carrying a component with this `custom_id` (in the
    /// user's DM or in a guild channel).
    fn message_with_component(&self, user: u64, custom_id: &str) -> Option<(u64, u64, u8, Value)> {
        let dm = self.dm_channel(user);
        let bot = self.config.bot.id;
        self.messages.iter().rev().find_map(|m| {
            if m.deleted || m.author_id != bot || (m.guild_id.is_none() && Some(m.channel_id) != dm)
            {
                return None;
            }
            find_component(&m.components, custom_id).map(|c| {
                let kind = c["type"]
                    .as_u64()
                    .and_then(|k| u8::try_from(k).ok())
                    .unwrap_or(2);
                (m.id, m.channel_id, kind, c)
            })
        })
    }

    pub(crate) fn inject_component(
        &mut self,
        user: u64,
        custom_id: &str,
        message_id: Option<u64>,
        values: Option<Vec<String>>,
    ) -> Result<Injected, EmulatorError> {
        self.check_user(user)?;
        let (mid, channel, kind, component) = match message_id {
            Some(m) => {
                let msg = self
                    .message(m)
                    .filter(|x| !x.deleted)
                    .ok_or(EmulatorError::UnknownMessage(m))?;
                let c = find_component(&msg.components, custom_id)
                    .ok_or_else(|| EmulatorError::ComponentNotFound(custom_id.to_owned()))?;
                let kind = c["type"]
                    .as_u64()
                    .and_then(|k| u8::try_from(k).ok())
                    .unwrap_or(2);
                (m, msg.channel_id, kind, c)
            }
            None => self
                .message_with_component(user, custom_id)
                .ok_or_else(|| EmulatorError::ComponentNotFound(custom_id.to_owned()))?,
        };
        if component["disabled"].as_bool() == Some(true) {
            return Err(EmulatorError::ComponentNotFound(format!(
                "{custom_id} (disabled)"
            )));
        }
        let mut data = json!({"custom_id": custom_id, "component_type": kind});
        if let Some(id) = component.get("id") {
            data["id"] = id.clone();
        }
        if kind != 2 {
            data["values"] = json!(values.unwrap_or_default());
        }
        let channel = self
            .channels
            .get(&channel)
            .and_then(|c| c.guild_id)
            .map(|_| channel);
        self.inject_interaction(user, channel, 3, custom_id.to_owned(), &data, Some(mid))
    }

    pub(crate) fn inject_modal(
        &mut self,
        user: u64,
        submit: &ModalSubmit,
    ) -> Result<Injected, EmulatorError> {
        self.check_user(user)?;
        // The modal must have been shown to this user: the latest type-9 response with that id.
        let shown = self
            .interactions
            .values()
            .rev()
            .filter(|i| i.user_id == user)
            .find_map(|i| {
                i.responses
                    .iter()
                    .find(|r| {
                        r.kind == 9
                            && r.data.as_ref().and_then(|d| d["custom_id"].as_str())
                                == Some(&submit.custom_id)
                    })
                    .map(|r| {
                        (
                            i.channel_id,
                            i.guild_id,
                            i.message_id,
                            r.data.clone().unwrap_or(Value::Null),
                        )
                    })
            });
        let Some((channel, guild, message_id, modal)) = shown else {
            return Err(EmulatorError::ModalNotShown(submit.custom_id.clone()));
        };
        let mut filled = Vec::new();
        let mut next_id = 1;
        let mut components = Vec::new();
        for c in modal["components"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
        {
            let mut take_input = |input: &Value, next_id: &mut i64| -> Value {
                let cid = input["custom_id"].as_str().unwrap_or_default().to_owned();
                let value = submit
                    .fields
                    .iter()
                    .find(|(k, _)| *k == cid)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                filled.push(cid.clone());
                let id = input["id"].as_i64().unwrap_or(*next_id);
                *next_id += 1;
                json!({"type": 4, "id": id, "custom_id": cid, "value": value})
            };
            match c["type"].as_u64() {
                Some(18) => {
                    let id = c["id"].as_i64().unwrap_or(next_id);
                    next_id += 1;
                    let inner = take_input(&c["component"], &mut next_id);
                    components.push(json!({"type": 18, "id": id, "component": inner}));
                }
                Some(1) => {
                    let id = c["id"].as_i64().unwrap_or(next_id);
                    next_id += 1;
                    let inner: Vec<Value> = c["components"]
                        .as_array()
                        .map_or(&[][..], Vec::as_slice)
                        .iter()
                        .map(|i| take_input(i, &mut next_id))
                        .collect();
                    components.push(json!({"type": 1, "id": id, "components": inner}));
                }
                _ => {}
            }
        }
        if let Some((k, _)) = submit.fields.iter().find(|(k, _)| !filled.contains(k)) {
            return Err(EmulatorError::UnknownModalField(k.clone()));
        }
        let data = json!({"custom_id": submit.custom_id, "components": components});
        let channel = guild.map(|_| channel);
        self.inject_interaction(
            user,
            channel,
            5,
            submit.custom_id.clone(),
            &data,
            message_id,
        )
    }
}

fn find_component(components: &[Value], custom_id: &str) -> Option<Value> {
    for c in components {
        if c["custom_id"].as_str() == Some(custom_id) {
            return Some(c.clone());
        }
        if let Some(children) = c["components"].as_array()
            && let Some(found) = find_component(children, custom_id)
        {
            return Some(found);
        }
    }
    None
}

fn mentioned_users(content: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let rest2 = rest.strip_prefix('!').unwrap_or(rest);
        if let Some(end) = rest2.find('>')
            && let Ok(id) = rest2[..end].parse()
        {
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<Value> {
        vec![
            json!({"name": "status", "type": 1, "description": "s", "options": [
                {"name": "number", "type": 3, "description": "n", "required": false}
            ]}),
            json!({"name": "close", "type": 1, "description": "c", "options": [
                {"name": "number", "type": 3, "description": "n", "required": true},
                {"name": "reason", "type": 3, "description": "r"}
            ]}),
        ]
    }

    #[test]
    fn words_honour_quotes() {
        assert_eq!(
            words(r#"case close "a b" c"#),
            vec!["case", "close", "a b", "c"]
        );
        assert_eq!(
            words(r#"x reason:"too slow""#),
            vec!["x", "reason:too slow"]
        );
    }

    #[test]
    fn positional_and_named_options_fill_subcommands() {
        let w: Vec<String> = ["close", "CASE-000001", "reason:\"done\""]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let opts = fill_options(&schema(), &w).unwrap_or_default();
        assert_eq!(opts.len(), 1);
        let OptionValue::SubCommand(inner) = &opts[0].value else {
            panic!("expected a sub-command, got {opts:?}");
        };
        assert_eq!(
            inner[0],
            CommandOption {
                name: "number".into(),
                value: "CASE-000001".into()
            }
        );
        assert_eq!(
            inner[1],
            CommandOption {
                name: "reason".into(),
                value: "\"done\"".into()
            }
        );
    }

    #[test]
    fn missing_required_option_is_an_error() {
        let w = vec!["close".to_owned()];
        assert!(matches!(
            fill_options(&schema(), &w),
            Err(EmulatorError::CommandParse(_))
        ));
        let w = vec!["nope".to_owned()];
        assert!(matches!(
            fill_options(&schema(), &w),
            Err(EmulatorError::CommandParse(_))
        ));
    }

    #[test]
    fn integer_options_are_typed() {
        let schema = vec![json!({"name": "n", "type": 4, "description": "d"})];
        let opts = fill_options(&schema, &["42".to_owned()]).unwrap_or_default();
        assert_eq!(opts[0].value, OptionValue::Integer(42));
        assert!(fill_options(&schema, &["x".to_owned()]).is_err());
    }

    #[test]
    fn choices_map_names_to_values() {
        let schema = vec![
            json!({"name": "severity", "type": 3, "description": "d", "choices": [
                {"name": "Low", "value": "low"}, {"name": "High", "value": "high"}
            ]}),
        ];
        let opts = fill_options(&schema, &["severity:High".to_owned()]).unwrap_or_default();
        assert_eq!(opts[0].value, OptionValue::String("high".to_owned()));
        let opts = fill_options(&schema, &["low".to_owned()]).unwrap_or_default();
        assert_eq!(opts[0].value, OptionValue::String("low".to_owned()));
        assert!(fill_options(&schema, &["medium".to_owned()]).is_err());
    }

    #[test]
    fn mentions_are_found() {
        assert_eq!(mentioned_users("hi <@12> and <@!34> <@x>"), vec![12, 34]);
    }
}
