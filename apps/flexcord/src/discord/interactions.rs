//! Acknowledging interactions: slash commands, modal submissions and button clicks.
//!
//! Discord wants an answer within 3 seconds, and the routing engine's work (a store commit, then
//! the outbox) may take longer, so every interaction is acknowledged here at once and then
//! handed to the engine as a routing event, where the core decides everything else:
//!
//! - `/bug` and `/new_feature` are acknowledged with their form (a modal is the only answer
//!   they can have); the submitted form is the command. So is `/announce` for a member of
//!   the staff role; anyone else's `/announce` goes to the core, which refuses it (and checks
//!   the role again on the submitted form).
//! - Other commands and form submissions are acknowledged with a deferred ephemeral answer,
//!   which the core's `Respond` (or the composite answer of a report or `/case`) replaces.
//! - Button clicks are acknowledged silently; the core answers with an ephemeral follow-up when
//!   it has something to say.
//!
//! Nothing here touches a case store or posts a message of its own, beyond two fixed answers
//! given before the engine is involved: a malformed command, and a store that cannot take the
//! interaction.

use std::sync::Arc;

use twilight_http::Client;
use twilight_model::application::interaction::Interaction;
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;
use twilight_model::id::marker::ApplicationMarker;

use flexcord_store::Engine;

use super::inbound::{self, Form, InteractionError};
use super::modal;
use super::render::truncate_message;

/// What the user reads when the store cannot take their interaction.
const TRY_AGAIN: &str = "Sorry, something went wrong; please try again in a minute.";

/// Acknowledges interactions and hands them to the routing engine.
pub struct InteractionHandler {
    http: Arc<Client>,
    application_id: Id<ApplicationMarker>,
    engine: Arc<Engine>,
    staff_role: Option<u64>,
}

fn message(kind: InteractionResponseType, content: Option<String>) -> InteractionResponse {
    InteractionResponse {
        kind,
        data: Some(InteractionResponseData {
            content,
            flags: Some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }),
    }
}

impl InteractionHandler {
    /// The Discord REST client.
    pub fn http(&self) -> Arc<Client> {
        self.http.clone()
    }

    /// A handler answering as `application_id` and recording through `engine`.
    pub fn new(
        http: Arc<Client>,
        application_id: Id<ApplicationMarker>,
        engine: Arc<Engine>,
    ) -> Self {
        Self {
            http,
            application_id,
            engine,
            staff_role: None,
        }
    }

    /// The staff role (`community.staff_role_id`): its members get the `/announce` form.
    #[must_use]
    pub fn with_staff_role(mut self, staff_role: Option<u64>) -> Self {
        self.staff_role = staff_role;
        self
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

    /// Handles one interaction. Never fails: problems are told to the user (ephemeral) and
    /// logged.
    pub async fn handle(&self, interaction: Interaction) {
        let event = match inbound::from_interaction(&interaction) {
            Ok(event) => event,
            Err(InteractionError::OpensModal(form)) => {
                let response = match form {
                    Form::Bug => modal::bug_modal(),
                    Form::Feature => modal::feature_modal(),
                };
                self.respond(&interaction, &response).await;
                return;
            }
            Err(InteractionError::Invalid(text)) => {
                let text = truncate_message(&format!("Sorry, I did not understand that: {text}"));
                let response = message(
                    InteractionResponseType::ChannelMessageWithSource,
                    Some(text),
                );
                self.respond(&interaction, &response).await;
                return;
            }
            Err(e @ (InteractionError::NoUser | InteractionError::NotHandled)) => {
                tracing::debug!(interaction = %interaction.id, kind = ?interaction.kind, reason = %e, "interaction ignored");
                return;
            }
        };
        if let flexcord_routing::Event::Command {
            command: flexcord_routing::Command::Announce { form: None, roles },
            ..
        } = &event
            && self.staff_role.is_some_and(|staff| roles.contains(&staff))
        {
            self.respond(&interaction, &modal::announce_modal()).await;
            return;
        }
        let ack = match &event {
            flexcord_routing::Event::Button { .. } => InteractionResponse {
                kind: InteractionResponseType::DeferredUpdateMessage,
                data: None,
            },
            _ => message(
                InteractionResponseType::DeferredChannelMessageWithSource,
                None,
            ),
        };
        if !self.respond(&interaction, &ack).await {
            // Discord no longer takes an answer (too late, or a duplicate delivery): the core's
            // answer could not reach the user either.
            return;
        }
        if let Err(e) = crate::driver::apply(&self.engine, event).await {
            tracing::error!(error = %e, interaction = %interaction.id, "an interaction could not be recorded");
            let client = self.http.interaction(self.application_id);
            let told = if matches!(ack.kind, InteractionResponseType::DeferredUpdateMessage) {
                client
                    .create_followup(&interaction.token)
                    .content(TRY_AGAIN)
                    .flags(MessageFlags::EPHEMERAL)
                    .await
                    .map(|_| ())
            } else {
                client
                    .update_response(&interaction.token)
                    .content(Some(TRY_AGAIN))
                    .await
                    .map(|_| ())
            };
            if let Err(e) = told {
                tracing::warn!(error = %e, "telling the user to try again failed");
            }
        }
    }
}
