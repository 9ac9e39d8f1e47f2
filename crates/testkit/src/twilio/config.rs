//! Configuration of the Twilio emulator.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::util::{hex32, sid};

/// A service-level (or account-level) post-event webhook: every conversation or channel of the
/// service sends the filtered events there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceWebhook {
    /// Target URL (a `#rc=N` fragment sets the retry count, as Twilio's connection overrides do).
    pub url: String,
    /// `POST` or `GET`.
    pub method: String,
    /// Event names (`onMessageAdded`, `onMessageSent`, …).
    pub filters: Vec<String>,
}

impl ServiceWebhook {
    /// A `POST` webhook for these events.
    pub fn post(url: impl Into<String>, filters: &[&str]) -> Self {
        Self {
            url: url.into(),
            method: "POST".to_owned(),
            filters: filters.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// How the emulator is set up. [`TwilioConfig::new`] fills realistic defaults; change the public
/// fields as needed.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// Address to listen on (default `127.0.0.1:0`, a free port).
    pub bind: SocketAddr,
    /// Account SID (`AC…`): the Basic auth user name, and `account_sid` in every resource.
    pub account_sid: String,
    /// Auth Token: the Basic auth password, and the key of every `X-Twilio-Signature`.
    pub auth_token: String,
    /// Extra credentials: API key SIDs (`SK…`) and their secrets.
    pub api_keys: Vec<(String, String)>,
    /// The app's public base URL (for example `http://127.0.0.1:8080`); the bot URL defaults to
    /// `<base>/twilio/bot`.
    pub webhook_base_url: Option<String>,
    /// Where the Studio-like router posts user messages; overrides the default from
    /// [`webhook_base_url`](Self::webhook_base_url).
    pub bot_url: Option<String>,
    /// Sent as `X-Flexcord-Secret` on bot requests, when set.
    pub bot_secret: Option<String>,
    /// The bot's identity (its messages are never routed): default `flexcord-bot`.
    pub bot_identity: String,
    /// The Chat / Conversations service (`IS…`), also the Flex chat service.
    pub chat_service_sid: String,
    /// A Flex Flow (`FO…`) that exists from the start: channel type `custom`, Studio integration.
    pub flex_flow_sid: String,
    /// The Studio flow (`FW…`) behind that Flex Flow; executions can be created on it.
    pub studio_flow_sid: String,
    /// `TaskRouter` workspace used when Studio hands off (`WS…`).
    pub workspace_sid: String,
    /// `TaskRouter` workflow used when Studio hands off (`WW…`).
    pub workflow_sid: String,
    /// Service-level Conversations post-event webhook.
    pub conversations_webhook: Option<ServiceWebhook>,
    /// Service-level Chat post-event webhook.
    pub chat_webhook: Option<ServiceWebhook>,
    /// When true (the default, as Twilio documents), REST writes fire post-event webhooks only
    /// with `X-Twilio-Webhook-Enabled: true`; when false they fire unless the header is `false`.
    pub rest_webhooks_need_header: bool,
    /// Retries after a failed delivery (5xx, 429, timeout, connection error), unless the
    /// webhook says otherwise (Chat `Configuration.RetryCount`, `#rc=` fragment). Default 1.
    pub webhook_retries: u32,
    /// Timeout of one delivery attempt (Twilio: 5 s).
    pub webhook_timeout: Duration,
    /// Pause before a retry.
    pub webhook_retry_delay: Duration,
    /// How long an interaction stays in `setup` before its task enters the queue.
    pub handoff_delay: Duration,
}

impl TwilioConfig {
    /// A configuration with these credentials and fresh SIDs for everything else.
    pub fn new(account_sid: impl Into<String>, auth_token: impl Into<String>) -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            api_keys: Vec::new(),
            webhook_base_url: None,
            bot_url: None,
            bot_secret: None,
            bot_identity: "flexcord-bot".to_owned(),
            chat_service_sid: sid("IS"),
            flex_flow_sid: sid("FO"),
            studio_flow_sid: sid("FW"),
            workspace_sid: sid("WS"),
            workflow_sid: sid("WW"),
            conversations_webhook: None,
            chat_webhook: None,
            rest_webhooks_need_header: true,
            webhook_retries: 1,
            webhook_timeout: Duration::from_secs(5),
            webhook_retry_delay: Duration::from_millis(50),
            handoff_delay: Duration::from_millis(20),
        }
    }

    /// Sets the app's base URL (bot requests go to `<base>/twilio/bot`).
    #[must_use]
    pub fn webhook_base_url(mut self, base: impl Into<String>) -> Self {
        self.webhook_base_url = Some(base.into());
        self
    }
}

/// A SID that depends only on `seed` and `label`, so the same account gets the same SIDs on every
/// run (handy when the app's configuration is written once by hand).
fn stable_sid(prefix: &str, seed: &str, label: &str) -> String {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        // `DefaultHasher::new()` uses fixed keys: the same input gives the same output.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (seed, label, salt).hash(&mut h);
        h.finish()
    };
    format!("{prefix}{:016x}{:016x}", half(1), half(2))
}

impl TwilioConfig {
    /// Like [`TwilioConfig::new`], but the service, Flex Flow, Studio flow, workspace and workflow
    /// SIDs are derived from the account SID, so they stay the same from one run to the next.
    pub fn stable(account_sid: impl Into<String>, auth_token: impl Into<String>) -> Self {
        let mut cfg = Self::new(account_sid, auth_token);
        let seed = cfg.account_sid.clone();
        cfg.chat_service_sid = stable_sid("IS", &seed, "service");
        cfg.flex_flow_sid = stable_sid("FO", &seed, "flex-flow");
        cfg.studio_flow_sid = stable_sid("FW", &seed, "studio-flow");
        cfg.workspace_sid = stable_sid("WS", &seed, "workspace");
        cfg.workflow_sid = stable_sid("WW", &seed, "workflow");
        cfg
    }
}

impl Default for TwilioConfig {
    /// Random account SID and auth token.
    fn default() -> Self {
        Self::new(sid("AC"), hex32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_sids_repeat_and_differ_by_account() {
        let a = TwilioConfig::stable("AC1", "t");
        let b = TwilioConfig::stable("AC1", "t");
        let c = TwilioConfig::stable("AC2", "t");
        assert_eq!(a.chat_service_sid, b.chat_service_sid);
        assert_eq!(a.flex_flow_sid, b.flex_flow_sid);
        assert_ne!(a.chat_service_sid, c.chat_service_sid);
        assert!(super::super::util::is_sid("IS", &a.chat_service_sid));
        assert!(super::super::util::is_sid("WW", &a.workflow_sid));
        assert_ne!(
            TwilioConfig::default().chat_service_sid,
            TwilioConfig::default().chat_service_sid
        );
    }
}
