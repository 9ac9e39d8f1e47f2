//! Running the routing core's Twilio actions, in Conversations mode ([`conversations`]) or in
//! chat mode ([`chat`]: Programmable Chat through a Flex Flow, the reference design).
//!
//! Both modes share how a failure is judged ([`failure`]: only Twilio's refusal of the request
//! itself is permanent; a 429 waits its `Retry-After`), the upload of a user's file to the
//! Media Content Service, and the `flexcord` attributes of DESIGN §3.

pub mod chat;
pub mod conversations;

use flexcord_routing::{Action, Attachment, ConversationAttributes};
use flexcord_store::{Failure, Receipt};
use flexcord_twilio::sid::{MediaSid, ServiceSid};
use flexcord_twilio::{Client, Error, ErrorKind};
use serde_json::json;

pub use chat::{CHAT_FILTERS, ChatTarget};
pub use conversations::{CONVERSATION_FILTERS, ConversationsTarget};

use crate::media::Downloader;

/// Runs Twilio actions for one mode.
pub struct TwilioExecutor {
    client: Client,
    outbound_url: String,
    downloader: Downloader,
    mode: Mode,
}

enum Mode {
    Conversations(ConversationsTarget),
    Chat(ChatTarget),
}

impl TwilioExecutor {
    /// Conversations mode; `public_url` is `server.public_url` (the conversation webhook goes
    /// to `<public_url>/twilio/outbound`).
    pub fn conversations(
        client: Client,
        public_url: &url::Url,
        target: ConversationsTarget,
    ) -> Self {
        Self::new(client, public_url, Mode::Conversations(target))
    }

    /// Chat mode: channels made through `target`'s Flex Flow.
    pub fn chat(client: Client, public_url: &url::Url, target: ChatTarget) -> Self {
        Self::new(client, public_url, Mode::Chat(target))
    }

    fn new(client: Client, public_url: &url::Url, mode: Mode) -> Self {
        Self {
            client,
            outbound_url: format!(
                "{}/twilio/outbound",
                public_url.as_str().trim_end_matches('/')
            ),
            downloader: Downloader::default(),
            mode,
        }
    }

    /// Users' files are downloaded with `downloader` (its size cap applies).
    #[must_use]
    pub fn with_downloader(mut self, downloader: Downloader) -> Self {
        self.downloader = downloader;
        self
    }

    /// Runs one Twilio action as the outbox's attempt number `attempt` (see
    /// [`super::Upstream::of`]); from the second attempt on, a message post first looks for the
    /// message an earlier attempt may have created. Any other action is refused as permanent.
    ///
    /// # Errors
    /// The [`Failure`] the outbox records: retried, or a dead letter.
    pub async fn run(&self, action: &Action, attempt: u32) -> Result<Receipt, Failure> {
        let context = Context {
            client: &self.client,
            outbound_url: &self.outbound_url,
            downloader: &self.downloader,
        };
        match &self.mode {
            Mode::Conversations(target) => target.run(&context, action, attempt).await,
            Mode::Chat(target) => target.run(&context, action, attempt).await,
        }
    }
}

/// What both modes need besides their own settings.
pub(crate) struct Context<'a> {
    pub(crate) client: &'a Client,
    pub(crate) outbound_url: &'a str,
    pub(crate) downloader: &'a Downloader,
}

/// The outbox's view of a failed Twilio call whose work can be found or repeated safely (a
/// conversation under its unique name, an update, a message looked up by its action id before
/// a retry): only Twilio's refusal of the request itself (a 4xx other than 429) or an unusable
/// request or answer is permanent; 5xx answers, 429 (after its `Retry-After`) and broken
/// connections or timeouts are tried again.
pub fn failure(e: &Error) -> Failure {
    let (permanent, retry_after) = match e.kind() {
        ErrorKind::Api {
            status,
            retry_after,
            ..
        } => ((400..500).contains(status) && *status != 429, *retry_after),
        ErrorKind::Transport { .. } | ErrorKind::Timeout { .. } => (false, None),
        _ => (true, None),
    };
    Failure {
        permanent,
        reason: e.to_string(),
        retry_after,
    }
}

/// The outbox's view of a failed create that cannot be looked up afterwards (a Flex
/// interaction): retried only when Twilio certainly did not process it (429, 503, nothing
/// sent).
pub fn failure_unchecked(e: &Error) -> Failure {
    Failure {
        permanent: !e.is_retryable(),
        ..failure(e)
    }
}

/// Twilio error codes meaning "this already exists": a repeated create is then a success.
const ALREADY_EXISTS: [u32; 3] = [50353, 50433, 50438];

pub(crate) fn already_exists(e: &Error) -> bool {
    e.api()
        .is_some_and(|api| ALREADY_EXISTS.contains(&api.code))
        || e.status() == Some(409)
}

/// The conversation attributes of DESIGN §3: `{"flexcord": {...}}`.
pub fn attributes_json(a: &ConversationAttributes) -> serde_json::Value {
    json!({"flexcord": {
        "discord_user": a.discord_user.to_string(),
        "dm_channel": a.dm_channel.map(|c| c.to_string()),
        "handoff": a.handoff,
        "case": a.case.as_ref().map(flexcord_routing::CaseNumber::as_str),
    }})
}

/// A message's attributes: the Discord message it came from, the trace, and the action id a
/// retried post looks for.
pub(crate) fn message_attributes(
    action: &Action,
    discord_message: Option<flexcord_routing::MessageId>,
) -> serde_json::Value {
    json!({"flexcord": {
        "discord_message": discord_message.map(|m| m.to_string()),
        "trace": crate::trace::for_delivery(action),
        "action": action.id.as_str(),
    }})
}

/// A back-filled line's original time.
pub(crate) fn date_created(
    at: Option<flexcord_routing::Timestamp>,
) -> Option<time::OffsetDateTime> {
    at.and_then(|at| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000).ok()
    })
}

/// Uploads a user's file to the Media Content Service of `service`: `Ok(Some(sid))` to attach
/// it, `Ok(None)` when it goes as its link instead (over the cap, gone, refused by Twilio),
/// `Err` only for failures worth retrying.
pub(crate) async fn upload_media(
    client: &Client,
    service: &ServiceSid,
    downloader: &Downloader,
    file: &Attachment,
) -> Result<Option<MediaSid>, Failure> {
    let name = file.display_name();
    if file.url.is_empty() || file.size.is_some_and(|n| !downloader.fits(n)) {
        tracing::info!(file = name, size = ?file.size, "a user's file is passed on as a link");
        return Ok(None);
    }
    let file_bytes = match downloader.get(&file.url).await {
        Ok(d) => d,
        Err(e) if e.is_permanent() => {
            tracing::info!(file = name, error = %e, "a user's file is passed on as a link");
            return Ok(None);
        }
        Err(e) => return Err(Failure::transient(e.to_string())),
    };
    let content_type = file
        .content_type
        .clone()
        .or(file_bytes.content_type)
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    match client
        .media(service)
        .create(&content_type, file_bytes.bytes)
        .filename(name)
        .await
    {
        Ok(media) => Ok(Some(media.sid)),
        Err(e) if e.is_retryable() => Err(failure(&e)),
        Err(e) => {
            tracing::warn!(file = name, error = %e, "Twilio refused a user's file; passing on its link");
            Ok(None)
        }
    }
}

/// Counts a message that reached Twilio.
pub(crate) fn count_message() {
    metrics::counter!(crate::telemetry::MESSAGES_ROUTED, "direction" => "to_twilio").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use flexcord_twilio::ApiError;

    fn api(status: u16, retry_after: Option<std::time::Duration>) -> Error {
        Error::new(ErrorKind::Api {
            status,
            api: ApiError::from_body(status, b""),
            retry_after,
        })
    }

    #[test]
    fn only_a_refusal_is_permanent_and_429_waits_its_retry_after() {
        let wait = Some(std::time::Duration::from_secs(7));
        let limited = failure(&api(429, wait));
        assert!(!limited.permanent);
        assert_eq!(limited.retry_after, wait);
        assert!(!failure(&api(500, None)).permanent);
        assert!(!failure(&api(503, None)).permanent);
        assert!(failure(&api(400, None)).permanent);
        assert!(failure(&api(404, None)).permanent);
        assert!(!failure(&Error::new(ErrorKind::Transport { sent: true })).permanent);
        // A create that cannot be looked up is retried only when Twilio surely did not run it.
        assert!(failure_unchecked(&api(500, None)).permanent);
        assert!(!failure_unchecked(&api(503, None)).permanent);
        assert_eq!(failure_unchecked(&api(429, wait)).retry_after, wait);
        assert!(failure_unchecked(&Error::new(ErrorKind::Transport { sent: true })).permanent);
        assert!(!failure_unchecked(&Error::new(ErrorKind::Transport { sent: false })).permanent);
    }
}
