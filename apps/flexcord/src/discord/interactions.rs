//! Answering interactions: slash commands, modal submissions and button clicks.
//!
//! Every interaction is acknowledged at once (a modal, or a deferred response), and the real
//! answer follows by editing the deferred response, so the 3-second limit holds however slow
//! the case store is.

use std::fmt::Write as _;
use std::sync::Arc;

use flexcord_cases::{
    CaseKind, CaseNumber, CaseSource, CaseStatus, CaseStore, ErrorKind, NewCase, Rating, Requester,
    StatusChange,
};
use twilight_http::Client;
use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;
use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, ChannelMarker};

use super::commands::{self, CaseCommand, SlashCommand};
use super::modal::{self, ModalSubmit};
use super::render::{self, ButtonAction};
use super::{CANNOT_DM_USER, DMS_CLOSED_HELP};

/// How many likely duplicates a new bug report lists.
const DUPLICATES_SHOWN: u32 = 3;

/// Answers interactions with the Discord REST client and the case store.
pub struct InteractionHandler {
    http: Arc<Client>,
    application_id: Id<ApplicationMarker>,
    cases: Arc<dyn CaseStore>,
    bug_channel: Option<Id<ChannelMarker>>,
    feature_channel: Option<Id<ChannelMarker>>,
    engine: Option<Arc<flexcord_store::Engine>>,
}

/// Whether a twilight error is Discord's "Cannot send messages to this user" (50007).
pub fn is_cannot_dm(error: &twilight_http::Error) -> bool {
    matches!(
        error.kind(),
        ErrorType::Response { error: ApiError::General(e), .. } if e.code == CANNOT_DM_USER
    )
}

fn reply(
    kind: InteractionResponseType,
    content: Option<String>,
    ephemeral: bool,
) -> InteractionResponse {
    InteractionResponse {
        kind,
        data: Some(InteractionResponseData {
            content,
            flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }),
    }
}

fn deferred(ephemeral: bool) -> InteractionResponse {
    reply(
        InteractionResponseType::DeferredChannelMessageWithSource,
        None,
        ephemeral,
    )
}

impl InteractionHandler {
    /// A handler posting as `application_id`. Bug and feature reports are also announced in
    /// the given channels, when set.
    pub fn new(
        http: Arc<Client>,
        application_id: u64,
        cases: Arc<dyn CaseStore>,
        bug_channel: Option<u64>,
        feature_channel: Option<u64>,
    ) -> Option<Self> {
        Some(Self {
            http,
            application_id: Id::new_checked(application_id)?,
            cases,
            bug_channel: bug_channel.and_then(Id::new_checked),
            feature_channel: feature_channel.and_then(Id::new_checked),
            engine: None,
        })
    }

    /// Routes `/helpme` and the conversation buttons through the routing core (the
    /// conversation, its DMs and hand-off) instead of answering them here.
    #[must_use]
    pub fn with_engine(mut self, engine: Arc<flexcord_store::Engine>) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Defers, then hands the interaction to the routing core, which answers by editing the
    /// deferred response. `false` when there is no engine or the interaction is not for it.
    async fn to_engine(&self, interaction: &Interaction) -> bool {
        let Some(engine) = &self.engine else {
            return false;
        };
        let Ok(event) = crate::inbound::from_interaction(interaction) else {
            return false;
        };
        if !self.respond(interaction, &deferred(true)).await {
            return true;
        }
        if let Err(e) = crate::bridge::apply(engine, event).await {
            tracing::error!(error = %e, "an interaction could not be recorded");
            self.follow_up(
                interaction,
                "Sorry, something went wrong; please try again in a minute.",
            )
            .await;
        }
        true
    }

    async fn respond(&self, interaction: &Interaction, response: &InteractionResponse) -> bool {
        let result = self
            .http
            .interaction(self.application_id)
            .create_response(interaction.id, &interaction.token, response)
            .await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, interaction = %interaction.id, "interaction callback failed");
        }
        result.is_ok()
    }

    async fn follow_up(&self, interaction: &Interaction, content: &str) {
        let content = truncate_message(content);
        if let Err(e) = self
            .http
            .interaction(self.application_id)
            .update_response(&interaction.token)
            .content(Some(&content))
            .await
        {
            tracing::warn!(error = %e, interaction = %interaction.id, "editing the deferred answer failed");
        }
    }

    /// Answers one interaction. Never fails: problems are told to the user (ephemeral) and
    /// logged.
    pub async fn handle(&self, interaction: Interaction) {
        let Some(user) = interaction.author().cloned() else {
            tracing::debug!(interaction = %interaction.id, "interaction without a user ignored");
            return;
        };
        let nick = interaction.member.as_ref().and_then(|m| m.nick.as_deref());
        let requester = Requester {
            discord_id: user.id.to_string(),
            name: crate::inbound::display_name(&user, nick)
                .unwrap_or_else(|| format!("discord:{}", user.id)),
        };
        let for_core = matches!(
            (&interaction.kind, &interaction.data),
            (InteractionType::ApplicationCommand, Some(InteractionData::ApplicationCommand(d))) if d.name == "helpme"
        ) || matches!(
            &interaction.data,
            Some(InteractionData::MessageComponent(d)) if d.custom_id.starts_with("fc:")
        );
        if for_core && self.to_engine(&interaction).await {
            return;
        }
        match (&interaction.kind, interaction.data.clone()) {
            (
                InteractionType::ApplicationCommand,
                Some(InteractionData::ApplicationCommand(data)),
            ) => match commands::parse(*data) {
                Ok(SlashCommand::Bug) => {
                    self.respond(&interaction, &modal::bug_modal()).await;
                }
                Ok(SlashCommand::NewFeature) => {
                    self.respond(&interaction, &modal::feature_modal()).await;
                }
                Ok(SlashCommand::HelpMe(_)) => self.help_me(&interaction, user.id).await,
                Ok(SlashCommand::Case(cmd)) => {
                    self.case_command(&interaction, &requester, cmd).await;
                }
                Err(e) => {
                    let text = format!("Sorry, I did not understand that command: {e}");
                    self.respond(
                        &interaction,
                        &reply(
                            InteractionResponseType::ChannelMessageWithSource,
                            Some(text),
                            true,
                        ),
                    )
                    .await;
                }
            },
            (InteractionType::ModalSubmit, Some(InteractionData::ModalSubmit(data))) => {
                match modal::parse(&data) {
                    Ok(submit) => self.file_case(&interaction, requester, submit).await,
                    Err(e) => {
                        let text = format!("Your form could not be filed: {e}. Please try again.");
                        self.respond(
                            &interaction,
                            &reply(
                                InteractionResponseType::ChannelMessageWithSource,
                                Some(text),
                                true,
                            ),
                        )
                        .await;
                    }
                }
            }
            (InteractionType::MessageComponent, Some(InteractionData::MessageComponent(data))) => {
                match render::parse_button(&data.custom_id) {
                    Some(ButtonAction::Rate { case, stars }) => {
                        self.rate(&interaction, &requester, &case, stars).await;
                    }
                    Some(ButtonAction::LiveAgent) | None => {
                        // The live-agent hand-off belongs to the conversation driver.
                        let text = "Just write your question here and ask for an agent: I will transfer you.".to_owned();
                        self.respond(
                            &interaction,
                            &reply(
                                InteractionResponseType::ChannelMessageWithSource,
                                Some(text),
                                true,
                            ),
                        )
                        .await;
                    }
                }
            }
            _ => tracing::debug!(kind = ?interaction.kind, "interaction type not handled"),
        }
    }

    async fn help_me(
        &self,
        interaction: &Interaction,
        user: Id<twilight_model::id::marker::UserMarker>,
    ) {
        if !self.respond(interaction, &deferred(true)).await {
            return;
        }
        let greeting = "Hi! I am the support assistant. Tell me what you need help with, and I \
                        will suggest articles or bring in a live agent.";
        let sent: Result<(), Option<twilight_http::Error>> = async {
            let response = self.http.create_private_channel(user).await.map_err(Some)?;
            let channel = response.model().await.map_err(|e| {
                tracing::warn!(error = %e, "the DM channel could not be decoded");
                None
            })?;
            self.http
                .create_message(channel.id)
                .content(greeting)
                .components(&[render::live_agent_row()])
                .await
                .map_err(Some)?;
            Ok(())
        }
        .await;
        match sent {
            Ok(()) => {
                self.follow_up(interaction, "I have sent you a direct message.")
                    .await;
            }
            Err(Some(e)) if is_cannot_dm(&e) => self.follow_up(interaction, DMS_CLOSED_HELP).await,
            Err(e) => {
                if let Some(e) = e {
                    tracing::warn!(error = %e, "opening the DM failed");
                }
                self.follow_up(
                    interaction,
                    "I could not open a direct message with you right now; please try again in a minute.",
                )
                .await;
            }
        }
    }

    async fn file_case(
        &self,
        interaction: &Interaction,
        requester: Requester,
        submit: ModalSubmit,
    ) {
        if !self.respond(interaction, &deferred(false)).await {
            return;
        }
        let (kind, subject, description, announce) = match &submit {
            ModalSubmit::Bug(b) => (
                CaseKind::Bug,
                b.title.clone(),
                format!(
                    "Steps to reproduce:\n{}\n\nExpected:\n{}\n\nActual:\n{}",
                    b.steps, b.expected, b.actual
                ),
                self.bug_channel,
            ),
            ModalSubmit::Feature(f) => (
                CaseKind::Feature,
                f.title.clone(),
                f.description.clone(),
                self.feature_channel,
            ),
        };
        let source = CaseSource {
            guild_id: interaction.guild_id.map(|g| g.to_string()),
            channel_id: interaction.channel.as_ref().map(|c| c.id.to_string()),
            ..CaseSource::default()
        };
        let new = NewCase::new(kind, subject.clone(), requester)
            .description(description)
            .source(source)
            .idempotency_key(format!("discord-interaction:{}", interaction.id));
        let case = match self.cases.create(new).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "filing a case failed");
                self.follow_up(interaction, "Sorry, your report could not be filed right now; please try again in a minute.").await;
                return;
            }
        };
        let mut text = match kind {
            CaseKind::Bug => format!(
                "Thanks! Your bug report **{}** is filed as **{}**.",
                subject, case.number
            ),
            _ => format!(
                "Thanks! Your feature request **{}** is filed as **{}**.",
                subject, case.number
            ),
        };
        if kind == CaseKind::Bug {
            match self
                .cases
                .similar(
                    &format!("{} {}", case.subject, case.description),
                    Some(case.number),
                    DUPLICATES_SHOWN,
                )
                .await
            {
                Ok(similar) if !similar.is_empty() => {
                    text.push_str("\nIt may be the same as:");
                    for s in similar {
                        let _ = write!(
                            text,
                            "\n• {} {} ({})",
                            s.case.number, s.case.subject, s.case.status
                        );
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "looking for duplicates failed"),
            }
        }
        self.follow_up(interaction, &text).await;
        if let Some(channel) = announce {
            let note = truncate_message(&format!(
                "New {} {}: {}",
                kind.as_str(),
                case.number,
                case.subject
            ));
            if let Err(e) = self.http.create_message(channel).content(&note).await {
                tracing::warn!(error = %e, "announcing the case failed");
            }
        }
    }

    async fn case_command(
        &self,
        interaction: &Interaction,
        requester: &Requester,
        cmd: CaseCommand,
    ) {
        if !self.respond(interaction, &deferred(true)).await {
            return;
        }
        let text = match cmd {
            CaseCommand::Status(s) => self.case_status(requester, s.number.as_deref()).await,
            CaseCommand::Close(c) => self.case_close(requester, &c.number).await,
        };
        self.follow_up(interaction, &text).await;
    }

    async fn own_case(
        &self,
        requester: &Requester,
        number: &str,
    ) -> Result<flexcord_cases::Case, String> {
        let Ok(n) = number.trim().parse::<CaseNumber>() else {
            return Err(format!(
                "`{number}` is not a case number (they look like CASE-000123)."
            ));
        };
        match self.cases.get(n).await {
            Ok(case) if case.requester.discord_id == requester.discord_id => Ok(case),
            Ok(_) => Err(format!("I found no case {n} of yours.")),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound { .. }) => {
                Err(format!("I found no case {n} of yours."))
            }
            Err(e) => {
                tracing::warn!(error = %e, "looking up a case failed");
                Err("Sorry, I cannot look up that case right now.".to_owned())
            }
        }
    }

    async fn case_status(&self, requester: &Requester, number: Option<&str>) -> String {
        if let Some(number) = number {
            return match self.own_case(requester, number).await {
                Ok(c) => format!("**{}** {}: {} ({})", c.number, c.kind, c.subject, c.status),
                Err(e) => e,
            };
        }
        match self.cases.open_cases_for(&requester.discord_id).await {
            Ok(cases) if cases.is_empty() => "You have no open cases.".to_owned(),
            Ok(cases) => {
                let mut text = "Your open cases:".to_owned();
                for c in cases.iter().take(20) {
                    let _ = write!(
                        text,
                        "\n• **{}** {}: {} ({})",
                        c.number, c.kind, c.subject, c.status
                    );
                }
                text
            }
            Err(e) => {
                tracing::warn!(error = %e, "listing cases failed");
                "Sorry, I cannot look up your cases right now.".to_owned()
            }
        }
    }

    async fn case_close(&self, requester: &Requester, number: &str) -> String {
        let case = match self.own_case(requester, number).await {
            Ok(c) => c,
            Err(e) => return e,
        };
        if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
            return format!("**{}** is already {}.", case.number, case.status);
        }
        let change = StatusChange::new(
            CaseStatus::Resolved,
            format!("discord:{}", requester.discord_id),
        )
        .reason("closed by requester");
        match self.cases.transition(case.number, change).await {
            Ok(c) => format!("**{}** is now {}. Thank you!", c.number, c.status),
            Err(e) if matches!(e.kind(), ErrorKind::IllegalTransition { .. }) => {
                format!(
                    "**{}** cannot be closed from status {}.",
                    case.number, case.status
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "closing a case failed");
                "Sorry, I cannot close that case right now.".to_owned()
            }
        }
    }

    async fn rate(&self, interaction: &Interaction, requester: &Requester, case: &str, stars: u8) {
        if !self.respond(interaction, &deferred(true)).await {
            return;
        }
        let text = match self.own_case(requester, case).await {
            Ok(c) => match self
                .cases
                .rate(
                    c.number,
                    Rating {
                        score: stars,
                        comment: None,
                    },
                )
                .await
            {
                Ok(_) => format!("Thank you for rating {} with {stars}/5!", c.number),
                Err(e) => {
                    tracing::warn!(error = %e, "rating failed");
                    "Sorry, your rating could not be saved.".to_owned()
                }
            },
            Err(e) => e,
        };
        self.follow_up(interaction, &text).await;
    }
}

/// Shortens text to Discord's 2,000-character message limit.
pub fn truncate_message(text: &str) -> String {
    const MAX: usize = 2000;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(MAX - 1).collect();
        out.push('…');
        out
    }
}
