//! Both emulators at once, and the configuration that points flexcord at them.
//!
//! [`Emulators::app_env`] is the one place that knows which `FLEXCORD_<SECTION>__<KEY>`
//! variables connect the app to the emulators: the `flexcord-testkit` binary prints it, and
//! `flexcord demo` and the app's end-to-end tests load it.
//!
//! ```no_run
//! use flexcord_testkit::Emulators;
//! use flexcord_testkit::discord::DiscordConfig;
//! use flexcord_testkit::twilio::TwilioConfig;
//!
//! # async fn run() -> Result<(), flexcord_testkit::discord::EmulatorError> {
//! let app_url = "http://127.0.0.1:8080";
//! let emulators = Emulators::start(
//!     DiscordConfig::default(),
//!     TwilioConfig::default().webhook_base_url(app_url),
//! )
//! .await?;
//! for (key, value) in emulators.app_env() {
//!     println!("export {key}={value}");
//! }
//! # Ok(()) }
//! ```

use crate::discord::{DiscordConfig, DiscordEmulator, EmulatorError};
use crate::twilio::{TwilioConfig, TwilioEmulator};

/// The bot token given to the app when the Discord emulator accepts any token.
pub const ANY_TOKEN: &str = "flexcord-testkit-any-token";

/// The Discord and Twilio emulators, started together.
pub struct Emulators {
    /// The Discord emulator (gateway and REST).
    pub discord: DiscordEmulator,
    /// The Twilio emulator (every product on one base URL).
    pub twilio: TwilioEmulator,
}

impl Emulators {
    /// Starts both emulators. Twilio's webhooks and its Studio-like router call the app at
    /// `twilio.webhook_base_url`.
    ///
    /// # Errors
    /// [`EmulatorError::Bind`] when an emulator cannot listen.
    pub async fn start(
        discord: DiscordConfig,
        twilio: TwilioConfig,
    ) -> Result<Self, EmulatorError> {
        let discord = DiscordEmulator::start(discord).await?;
        let twilio = match TwilioEmulator::start(twilio).await {
            Ok(t) => t,
            Err(e) => {
                discord.shutdown();
                return Err(EmulatorError::Bind(e));
            }
        };
        Ok(Self { discord, twilio })
    }

    /// The app's configuration for these emulators, as `FLEXCORD_<SECTION>__<KEY>` variables:
    /// the bot token, application, guild and report channels, the Discord and Twilio URLs, the
    /// Twilio account, service, Flex Flow, Studio flow, workspace and workflow, the public URL
    /// Twilio calls, and the bot secret when the Twilio emulator sends one. The app's own
    /// settings (listen address, store, cases token) are the caller's.
    pub fn app_env(&self) -> Vec<(String, String)> {
        let d = &self.discord;
        let t = &self.twilio;
        let cfg = d.config();
        let channel = |name: &str| d.channel_id(name).map(|id| id.to_string());
        let base = t.base_url().to_owned();
        let mut env = vec![
            // An emulator that accepts any token gets this one.
            (
                "DISCORD__TOKEN",
                Some(cfg.token.clone().unwrap_or_else(|| ANY_TOKEN.to_owned())),
            ),
            (
                "DISCORD__APPLICATION_ID",
                Some(d.application_id().to_string()),
            ),
            ("DISCORD__GUILD_ID", Some(d.guild_id().to_string())),
            ("DISCORD__API_URL", Some(d.api_url())),
            ("DISCORD__GATEWAY_URL", Some(d.gateway_url())),
            ("DISCORD__BUG_CHANNEL_ID", channel("bug-report")),
            ("DISCORD__FEATURE_CHANNEL_ID", channel("feature-request")),
            ("TWILIO__ACCOUNT_SID", Some(t.account_sid().to_owned())),
            ("TWILIO__AUTH_TOKEN", Some(t.auth_token().to_owned())),
            (
                "TWILIO__CHAT_SERVICE_SID",
                Some(t.chat_service_sid().to_owned()),
            ),
            ("TWILIO__FLEX_FLOW_SID", Some(t.flex_flow_sid().to_owned())),
            (
                "TWILIO__STUDIO_FLOW_SID",
                Some(t.studio_flow_sid().to_owned()),
            ),
            (
                "TWILIO__WORKSPACE_SID",
                Some(t.config().workspace_sid.clone()),
            ),
            (
                "TWILIO__WORKFLOW_SID",
                Some(t.config().workflow_sid.clone()),
            ),
            ("TWILIO__CHAT_URL", Some(base.clone())),
            ("TWILIO__FLEX_URL", Some(base.clone())),
            ("TWILIO__CONVERSATIONS_URL", Some(base.clone())),
            ("TWILIO__STUDIO_URL", Some(base.clone())),
            ("TWILIO__MEDIA_URL", Some(base)),
            ("SERVER__PUBLIC_URL", t.config().webhook_base_url.clone()),
            ("BOT__WEBHOOK_SECRET", t.config().bot_secret.clone()),
        ];
        env.retain(|(_, v)| v.is_some());
        env.into_iter()
            .filter_map(|(k, v)| Some((format!("FLEXCORD_{k}"), v?)))
            .collect()
    }

    /// Stops the Discord emulator's server (the Twilio emulator stops when dropped).
    pub fn shutdown(&self) {
        self.discord.shutdown();
    }
}
