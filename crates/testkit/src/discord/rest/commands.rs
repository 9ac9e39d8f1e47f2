//! Application command registration (global and guild).

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::super::state::DiscordState;
use super::{Reply, as_id};

impl DiscordState {
    pub(super) fn check_app(&self, app: u64, guild: Option<u64>) -> Result<(), Reply> {
        if app != self.config.application_id {
            return Err(Reply::error(403, 50001, "Missing Access"));
        }
        if guild.is_some_and(|g| g != self.config.guild_id) {
            return Err(Reply::error(403, 50001, "Missing Access"));
        }
        Ok(())
    }

    pub(super) fn commands_mut(&mut self, guild: Option<u64>) -> &mut Vec<Value> {
        match guild {
            Some(g) => self.guild_commands.entry(g).or_default(),
            None => &mut self.global_commands,
        }
    }

    /// Validates one command and gives it ids (keeping the id of a same-named command); `at`
    /// prefixes error paths (`3.` for the fourth command of a bulk overwrite).
    pub(super) fn build_command(
        &mut self,
        guild: Option<u64>,
        c: &Value,
        existing: &[Value],
        at: &str,
    ) -> Result<Value, Reply> {
        let Some(obj) = c.as_object() else {
            return Err(Reply::not_an_object(at.trim_end_matches('.')));
        };
        let kind = obj.get("type").and_then(Value::as_u64).unwrap_or(1);
        let name = obj.get("name").and_then(Value::as_str).unwrap_or_default();
        let name_ok = if kind == 1 {
            (1..=32).contains(&name.chars().count())
                && name
                    .chars()
                    .all(|ch| ch.is_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
        } else {
            (1..=32).contains(&name.chars().count())
        };
        if name.is_empty() {
            return Err(Reply::required(&format!("{at}name")));
        }
        if !(1..=32).contains(&name.chars().count()) {
            return Err(Reply::bad_length(&format!("{at}name"), 1, 32));
        }
        if !name_ok {
            return Err(Reply::invalid_form(
                &format!("{at}name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            ));
        }
        let description = obj
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind == 1 && !(1..=100).contains(&description.chars().count()) {
            return Err(Reply::bad_length(&format!("{at}description"), 1, 100));
        }
        let id = existing
            .iter()
            .find(|e| e["name"] == json!(name) && e["type"] == json!(kind))
            .and_then(|e| as_id(&e["id"]))
            .unwrap_or_else(|| self.next_id());
        let version = self.next_id();
        let mut out: Map<String, Value> = obj.clone();
        out.insert("id".to_owned(), json!(id.to_string()));
        out.insert(
            "application_id".to_owned(),
            json!(self.config.application_id.to_string()),
        );
        out.insert("version".to_owned(), json!(version.to_string()));
        out.insert("type".to_owned(), json!(kind));
        out.insert("description".to_owned(), json!(description));
        out.entry("default_member_permissions")
            .or_insert(Value::Null);
        out.entry("nsfw").or_insert(json!(false));
        // Discord answers the install types as an array, `[0]` (guild install) when not given.
        if !out.get("integration_types").is_some_and(Value::is_array) {
            out.insert("integration_types".to_owned(), json!([0]));
        }
        if let Some(g) = guild {
            out.insert("guild_id".to_owned(), json!(g.to_string()));
        } else {
            out.entry("dm_permission").or_insert(json!(true));
            out.entry("contexts").or_insert(Value::Null);
        }
        Ok(Value::Object(out))
    }

    pub(super) fn set_commands(&mut self, app: u64, guild: Option<u64>, b: &Value) -> Reply {
        if let Err(e) = self.check_app(app, guild) {
            return e;
        }
        let Some(list) = b.as_array() else {
            return Reply::not_a_list("");
        };
        if list.len() > 100 {
            return Reply::max_length("", 100);
        }
        let existing = self.commands_mut(guild).clone();
        let mut out = Vec::with_capacity(list.len());
        let mut seen = std::collections::HashSet::new();
        for (i, c) in list.iter().enumerate() {
            let cmd = match self.build_command(guild, c, &existing, &format!("{i}.")) {
                Ok(cmd) => cmd,
                Err(e) => return e,
            };
            let mut key = String::new();
            let _ = write!(key, "{}:{}", cmd["type"], cmd["name"]);
            if !seen.insert(key) {
                return Reply::invalid_form(
                    &i.to_string(),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                );
            }
            out.push(cmd);
        }
        self.commands_mut(guild).clone_from(&out);
        Reply::ok(Value::Array(out))
    }

    pub(super) fn create_command(&mut self, app: u64, guild: Option<u64>, b: &Value) -> Reply {
        if let Err(e) = self.check_app(app, guild) {
            return e;
        }
        let existing = self.commands_mut(guild).clone();
        let cmd = match self.build_command(guild, b, &existing, "") {
            Ok(cmd) => cmd,
            Err(e) => return e,
        };
        let list = self.commands_mut(guild);
        let replaced = list.iter().position(|e| e["id"] == cmd["id"]);
        if let Some(i) = replaced {
            list[i] = cmd.clone();
            Reply::ok(cmd)
        } else {
            list.push(cmd.clone());
            Reply::created(cmd)
        }
    }
}
