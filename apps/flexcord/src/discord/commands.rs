//! The slash commands: `/helpme`, `/bug`, `/new_feature`, `/case status [number]`,
//! `/case close <number>`, `/announce` (staff) and `/setup` (administrators).

use twilight_interactions::command::{CommandInputData, CommandModel, CreateCommand};
use twilight_model::application::command::Command;
use twilight_model::application::interaction::application_command::CommandData;

/// `/helpme`: open a DM with the virtual agent.
#[derive(Debug, Clone, PartialEq, Eq, CommandModel, CreateCommand)]
#[command(
    name = "helpme",
    desc = "Get help from our support team in a direct message"
)]
pub struct HelpMe {
    /// What do you need help with?
    #[command(max_length = 1000)]
    pub topic: Option<String>,
}

/// `/bug`: answered with the bug report modal.
#[derive(Debug, Clone, PartialEq, Eq, CommandModel, CreateCommand)]
#[command(name = "bug", desc = "Report a bug")]
pub struct Bug;

/// `/new_feature`: answered with the feature request modal.
#[derive(Debug, Clone, PartialEq, Eq, CommandModel, CreateCommand)]
#[command(name = "new_feature", desc = "Suggest a new feature")]
pub struct NewFeature;

/// `/announce`: the staff get the announcement form; everyone else a refusal. Visible to all:
/// the staff check is made on the member's roles, not left to default permissions.
#[derive(Debug, Clone, PartialEq, Eq, CommandModel, CreateCommand)]
#[command(
    name = "announce",
    desc = "Post an announcement in #announcements (staff only)"
)]
pub struct Announce;

/// `/setup`: lay the server out (what `flexcord setup-guild` does). Shown to administrators
/// only by default, and checked on the member's permissions.
#[derive(Debug, Clone, PartialEq, Eq, CommandModel, CreateCommand)]
#[command(
    name = "setup",
    desc = "Create or update the support and community channels (administrators)",
    default_permissions = "administrators"
)]
pub struct Setup;

fn administrators() -> twilight_model::guild::Permissions {
    twilight_model::guild::Permissions::ADMINISTRATOR
}

/// `/case status|close`.
#[derive(Debug, Clone, PartialEq, Eq, CommandModel, CreateCommand)]
#[command(name = "case", desc = "Look at or close your support cases")]
pub enum CaseCommand {
    /// `/case status [number]`.
    #[command(name = "status")]
    Status(CaseStatus),
    /// `/case close <number>`.
    #[command(name = "close")]
    Close(CaseClose),
}

/// `/case status [number]`: without a number, the user's open cases.
#[derive(Debug, Clone, PartialEq, Eq, CommandModel, CreateCommand)]
#[command(
    name = "status",
    desc = "Show the status of a case, or of all your open cases"
)]
pub struct CaseStatus {
    /// Case number, e.g. CASE-000123 (leave empty for all your open cases)
    #[command(min_length = 1, max_length = 20)]
    pub number: Option<String>,
}

/// `/case close <number>`.
#[derive(Debug, Clone, PartialEq, Eq, CommandModel, CreateCommand)]
#[command(name = "close", desc = "Close one of your cases")]
pub struct CaseClose {
    /// Case number, e.g. CASE-000123
    #[command(min_length = 1, max_length = 20)]
    pub number: String,
}

/// Every command, ready for `set_global_commands` / `set_guild_commands`.
pub fn all() -> Vec<Command> {
    vec![
        HelpMe::create_command().into(),
        Bug::create_command().into(),
        NewFeature::create_command().into(),
        CaseCommand::create_command().into(),
        Announce::create_command().into(),
        Setup::create_command().into(),
    ]
}

/// A parsed slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    /// `/helpme`.
    HelpMe(HelpMe),
    /// `/bug`.
    Bug,
    /// `/new_feature`.
    NewFeature,
    /// `/case status|close`.
    Case(CaseCommand),
    /// `/announce`.
    Announce,
    /// `/setup`.
    Setup,
}

/// Why a command could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A command this bot does not define (e.g. left over from an older registration).
    #[error("unknown command /{0}")]
    Unknown(String),
    /// The options did not match the definition.
    #[error("invalid options for /{name}: {message}")]
    Invalid {
        /// The command name.
        name: String,
        /// What was wrong.
        message: String,
    },
}

/// Parses an application command interaction's data.
///
/// # Errors
/// [`CommandError`] for an unknown command or options that do not fit.
pub fn parse(data: CommandData) -> Result<SlashCommand, CommandError> {
    let name = data.name.clone();
    let invalid = |e: twilight_interactions::error::ParseError| CommandError::Invalid {
        name: name.clone(),
        message: e.to_string(),
    };
    match data.name.as_str() {
        "helpme" => HelpMe::from_interaction(CommandInputData::from(data))
            .map(SlashCommand::HelpMe)
            .map_err(invalid),
        "bug" => Ok(SlashCommand::Bug),
        "new_feature" => Ok(SlashCommand::NewFeature),
        "announce" => Ok(SlashCommand::Announce),
        "setup" => Ok(SlashCommand::Setup),
        "case" => CaseCommand::from_interaction(CommandInputData::from(data))
            .map(SlashCommand::Case)
            .map_err(invalid),
        other => Err(CommandError::Unknown(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(json: &str) -> CommandData {
        serde_json::from_str(json).expect("command data fixture")
    }

    #[test]
    fn definitions_serialize_as_discord_expects() {
        let cmds = all();
        let names: Vec<_> = cmds.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["helpme", "bug", "new_feature", "case", "announce", "setup"]
        );
        let setup = serde_json::to_value(&cmds[5]).unwrap();
        assert_eq!(setup["default_member_permissions"], "8", "administrators");
        let announce = serde_json::to_value(&cmds[4]).unwrap();
        assert!(
            announce["default_member_permissions"].is_null(),
            "checked on roles"
        );
        let case = serde_json::to_value(&cmds[3]).unwrap();
        let subs: Vec<_> = case["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["name"].as_str().unwrap().to_owned(),
                    o["type"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(subs, [("status".to_owned(), 1), ("close".to_owned(), 1)]);
        let close = &case["options"][1]["options"][0];
        assert_eq!(close["name"], "number");
        assert_eq!(close["required"], true);
        let status = &case["options"][0]["options"][0];
        assert_ne!(status["required"], true);
    }

    #[test]
    fn parses_each_command() {
        let helpme = parse(data(r#"{"id":"700","name":"helpme","type":1,"options":[{"name":"topic","type":3,"value":"login"}]}"#)).unwrap();
        assert_eq!(
            helpme,
            SlashCommand::HelpMe(HelpMe {
                topic: Some("login".into())
            })
        );
        assert_eq!(
            parse(data(r#"{"id":"700","name":"bug","type":1}"#)).unwrap(),
            SlashCommand::Bug
        );
        assert_eq!(
            parse(data(r#"{"id":"700","name":"new_feature","type":1}"#)).unwrap(),
            SlashCommand::NewFeature
        );
        let close = parse(data(
            r#"{"id":"700","name":"case","type":1,"options":[{"name":"close","type":1,"options":[{"name":"number","type":3,"value":"CASE-000007"}]}]}"#,
        ))
        .unwrap();
        assert_eq!(
            close,
            SlashCommand::Case(CaseCommand::Close(CaseClose {
                number: "CASE-000007".into()
            }))
        );
        let status = parse(data(
            r#"{"id":"700","name":"case","type":1,"options":[{"name":"status","type":1,"options":[]}]}"#,
        ))
        .unwrap();
        assert_eq!(
            status,
            SlashCommand::Case(CaseCommand::Status(CaseStatus { number: None }))
        );
    }

    #[test]
    fn rejects_unknown_and_malformed() {
        assert!(matches!(
            parse(data(r#"{"id":"700","name":"ping","type":1}"#)),
            Err(CommandError::Unknown(n)) if n == "ping"
        ));
        assert!(matches!(
            parse(data(
                r#"{"id":"700","name":"case","type":1,"options":[{"name":"close","type":1,"options":[]}]}"#
            )),
            Err(CommandError::Invalid { .. })
        ));
    }
}
