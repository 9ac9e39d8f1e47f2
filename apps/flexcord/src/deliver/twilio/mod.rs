//! Running the routing core's Twilio actions, in Conversations mode ([`conversations`]) or in
//! chat mode ([`chat`]: Programmable Chat through a Flex Flow, the reference design).
//!
//! Both modes share how a failure is judged ([`failure`]: only Twilio's refusal of the request
//! itself is permanent; a 429 waits its `Retry-After`), the upload of a user's file to the
//! Media Content Service, and the `flexcord` attributes of DESIGN §3.

pub mod chat;
pub mod conversations;

use flexcord_routing::{
    Action, ActionKind, Attachment, CaseNumber, ConversationAttributes, Event, FlexInteraction,
    MessageId, SweptMessage, Timestamp, TwilioMessageSid, TwilioSid,
};
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
    target: Target,
    /// Bounds the deliveries in flight at once (Twilio caps concurrent requests per account).
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Twilio deliveries in flight at once unless [`TwilioExecutor::with_in_flight`] says otherwise.
pub const DEFAULT_IN_FLIGHT: usize = 16;

/// The configured mode and its settings.
enum Target {
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
        Self::new(client, public_url, Target::Conversations(target))
    }

    /// Chat mode: channels made through `target`'s Flex Flow.
    pub fn chat(client: Client, public_url: &url::Url, target: ChatTarget) -> Self {
        Self::new(client, public_url, Target::Chat(target))
    }

    fn new(client: Client, public_url: &url::Url, target: Target) -> Self {
        Self {
            client,
            outbound_url: format!(
                "{}/twilio/outbound",
                public_url.as_str().trim_end_matches('/')
            ),
            downloader: Downloader::default(),
            target,
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(DEFAULT_IN_FLIGHT)),
        }
    }

    /// At most `limit` deliveries (each one request or a few in sequence) in flight at once;
    /// the others wait their turn.
    #[must_use]
    pub fn with_in_flight(mut self, limit: usize) -> Self {
        self.in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
        self
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
        // The semaphore is never closed, so acquiring only waits.
        let _permit = self.in_flight.acquire().await.ok();
        let cx = Context {
            client: &self.client,
            outbound_url: &self.outbound_url,
            downloader: &self.downloader,
        };
        match &self.target {
            Target::Conversations(target) => run_in(target, &cx, action, attempt).await,
            Target::Chat(target) => run_in(target, &cx, action, attempt).await,
        }
    }
}

/// A conversation (or chat channel) to create, from `CreateTwilioConversation`.
pub(crate) struct NewConversation<'a> {
    pub(crate) unique_name: &'a str,
    pub(crate) identity: &'a str,
    pub(crate) friendly_name: &'a str,
    pub(crate) user_name: Option<&'a str>,
    pub(crate) attributes: &'a ConversationAttributes,
    pub(crate) studio: bool,
}

/// A message to post, from `PostToTwilio`.
pub(crate) struct Post<'a> {
    pub(crate) sid: &'a TwilioSid,
    pub(crate) author: &'a str,
    pub(crate) body: &'a str,
    pub(crate) at: Option<Timestamp>,
    pub(crate) discord_message: Option<MessageId>,
    pub(crate) webhooks: bool,
    pub(crate) media: Option<&'a Attachment>,
}

/// A hand-off through the Flex Interactions API, from `CreateInteraction`.
pub(crate) struct HandOff<'a> {
    pub(crate) sid: &'a TwilioSid,
    pub(crate) identity: &'a str,
    pub(crate) user_name: Option<&'a str>,
    pub(crate) case: Option<&'a CaseNumber>,
}

/// What a Twilio mode does for each action.
pub(crate) trait Mode {
    /// Creates the conversation (or channel) under its unique name, or finds the one an
    /// earlier attempt made; returns its SID.
    async fn create(&self, cx: &Context<'_>, new: &NewConversation<'_>) -> Result<String, Failure>;
    /// The message an earlier attempt of `action` posted, if any.
    async fn posted_before(
        &self,
        cx: &Context<'_>,
        action: &Action,
        sid: &TwilioSid,
    ) -> Result<Option<String>, Failure>;
    /// Posts a message; returns its SID.
    async fn post(
        &self,
        cx: &Context<'_>,
        action: &Action,
        post: &Post<'_>,
    ) -> Result<String, Failure>;
    /// The messages after position `after` (all of them when `None`), newest first, at most
    /// [`CATCH_UP_MAX`].
    async fn messages_after(
        &self,
        cx: &Context<'_>,
        sid: &TwilioSid,
        after: Option<u64>,
    ) -> Result<Vec<SweptMessage>, Failure>;
    /// Sets the `flexcord` attributes.
    async fn set_attributes(
        &self,
        cx: &Context<'_>,
        sid: &TwilioSid,
        attributes: &ConversationAttributes,
    ) -> Result<(), Failure>;
    /// Hands the conversation to Flex; returns `KD…/UO…`.
    async fn hand_off(&self, cx: &Context<'_>, hand_off: &HandOff<'_>) -> Result<String, Failure>;
    /// The friendly name of the Twilio user with this identity (`None`: no such user, or no
    /// name).
    async fn agent_name(&self, cx: &Context<'_>, identity: &str)
    -> Result<Option<String>, Failure>;
    /// Ends the Twilio side.
    async fn close(
        &self,
        cx: &Context<'_>,
        sid: &TwilioSid,
        interaction: Option<&FlexInteraction>,
    ) -> Result<(), Failure>;
}

/// Runs one Twilio action in `mode`: the action's fields read once for both modes.
async fn run_in(
    mode: &impl Mode,
    cx: &Context<'_>,
    action: &Action,
    attempt: u32,
) -> Result<Receipt, Failure> {
    match &action.kind {
        ActionKind::CreateTwilioConversation {
            unique_name,
            identity,
            friendly_name,
            user_name,
            attributes,
            studio,
        } => {
            let new = NewConversation {
                unique_name,
                identity,
                friendly_name,
                user_name: user_name.as_deref(),
                attributes,
                studio: *studio,
            };
            mode.create(cx, &new).await.map(Receipt::id)
        }
        ActionKind::PostToTwilio {
            sid,
            author,
            body,
            at,
            discord_message,
            webhooks,
            media,
        } => {
            if attempt > 1
                && let Some(earlier) = mode.posted_before(cx, action, sid).await?
            {
                tracing::info!(action = %action.id.as_str(), message = %earlier,
                    "an earlier attempt posted this message; not posting it again");
                count_message();
                return Ok(Receipt::id(earlier));
            }
            let post = Post {
                sid,
                author,
                body,
                at: *at,
                discord_message: *discord_message,
                webhooks: *webhooks,
                media: media.as_deref(),
            };
            // Boxed: downloading and uploading a file makes this future large.
            let posted = Box::pin(mode.post(cx, action, &post)).await?;
            count_message();
            Ok(Receipt::id(posted))
        }
        ActionKind::CatchUpTwilio { sid, after } => {
            let mut messages = mode.messages_after(cx, sid, *after).await?;
            messages.reverse();
            Ok(Receipt::with_event(Event::TwilioCaughtUp {
                action_id: action.id.clone(),
                messages,
            }))
        }
        ActionKind::UpdateTwilioAttributes { sid, attributes } => {
            mode.set_attributes(cx, sid, attributes).await?;
            Ok(Receipt::done())
        }
        ActionKind::CreateInteraction {
            sid,
            identity,
            user_name,
            case,
        } => {
            let hand_off = HandOff {
                sid,
                identity,
                user_name: user_name.as_deref(),
                case: case.as_ref(),
            };
            mode.hand_off(cx, &hand_off).await.map(Receipt::id)
        }
        ActionKind::CloseTwilio { sid, interaction } => {
            mode.close(cx, sid, interaction.as_ref()).await?;
            Ok(Receipt::done())
        }
        ActionKind::LookupAgentName { identity } => Ok(mode
            .agent_name(cx, identity)
            .await?
            .map_or_else(Receipt::done, Receipt::id)),
        other => Err(Failure::permanent(format!(
            "{} is not a Twilio action",
            other.name()
        ))),
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
    discord_message: Option<MessageId>,
) -> serde_json::Value {
    json!({"flexcord": {
        "discord_message": discord_message.map(|m| m.to_string()),
        "trace": crate::trace::for_delivery(action),
        "action": action.id.as_str(),
    }})
}

/// At most this many messages are listed by one catch-up (newest first): a conversation
/// further behind than that has its oldest missing messages skipped.
pub(crate) const CATCH_UP_MAX: usize = 500;

/// A message of a listing, whatever the mode, before the core's view of it.
pub(crate) struct Listed {
    pub(crate) sid: String,
    pub(crate) index: Option<u64>,
    pub(crate) author: Option<String>,
    pub(crate) body: Option<String>,
    pub(crate) attributes: Option<String>,
    pub(crate) media: Vec<ListedFile>,
}

/// A listed message's file: `(media SID, file name, content type, size)`.
pub(crate) type ListedFile = (Option<String>, Option<String>, Option<String>, Option<u64>);

/// The messages of a newest-first listing down to position `after` (all when `None`), at most
/// [`CATCH_UP_MAX`], as the routing core sees them (files in `media_service`); a message
/// without a position or author is left out. The bridge's own (attributes with
/// `flexcord.action`) are marked [`SweptMessage::ours`].
pub(crate) async fn listed_after(
    listing: impl futures::Stream<Item = Result<Listed, Error>>,
    after: Option<u64>,
    media_service: Option<&str>,
) -> Result<Vec<SweptMessage>, Failure> {
    use futures::StreamExt as _;
    let mut listing = std::pin::pin!(listing);
    let mut found = Vec::new();
    while let Some(m) = listing.next().await {
        let m = m.map_err(|e| failure(&e))?;
        if after.is_some_and(|a| m.index.is_some_and(|i| i <= a)) || found.len() >= CATCH_UP_MAX {
            break;
        }
        let ours = m
            .attributes
            .as_deref()
            .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            .is_some_and(|a| a["flexcord"]["action"].is_string());
        let attachments = m
            .media
            .into_iter()
            .map(|(sid, filename, content_type, size)| Attachment {
                filename: filename.unwrap_or_default(),
                url: String::new(),
                content_type,
                size,
                media_sid: sid,
                media_service: media_service.map(str::to_owned),
            })
            .collect();
        let (Some(index), Some(author)) = (m.index, m.author) else {
            continue;
        };
        found.push(SweptMessage {
            message: TwilioMessageSid::from(m.sid.as_str()),
            index,
            author,
            body: m.body.unwrap_or_default(),
            attachments,
            ours,
        });
    }
    Ok(found)
}

/// How many of the latest messages a retried post looks through for the one an earlier
/// attempt may have created.
pub(crate) const RETRY_LOOKBACK: u32 = 50;

/// The SID of the message an earlier attempt of `action` created, among `messages` (SID and
/// attributes text): its attributes carry the action id as `flexcord.action`.
pub(crate) fn posted_by<'a>(
    action: &Action,
    messages: impl IntoIterator<Item = (String, Option<&'a str>)>,
) -> Option<String> {
    messages.into_iter().find_map(|(sid, attributes)| {
        attributes
            .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            .is_some_and(|a| a["flexcord"]["action"] == action.id.as_str())
            .then_some(sid)
    })
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

/// A user's friendly name from a fetch: an unknown user (404) has none; other failures are
/// judged like any Twilio failure (a lookup is read-only, so safe to repeat).
pub(crate) fn friendly_name(
    fetched: Result<Option<String>, Error>,
) -> Result<Option<String>, Failure> {
    match fetched {
        Ok(name) => Ok(name.filter(|n| !n.trim().is_empty())),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(failure(&e)),
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

    #[test]
    fn a_retried_post_finds_the_message_its_action_made() {
        let action = Action {
            id: flexcord_routing::ActionId::new("7-100", 3),
            kind: ActionKind::AskBot {
                user: flexcord_routing::UserId(1),
                text: "hi".into(),
            },
        };
        let mine = message_attributes(&action, None).to_string();
        let other = r#"{"flexcord":{"action":"7-100/2"}}"#;
        let found = posted_by(
            &action,
            [
                ("IM1".to_owned(), Some(other)),
                ("IM2".to_owned(), None),
                ("IM3".to_owned(), Some("not json")),
                ("IM4".to_owned(), Some(mine.as_str())),
            ],
        );
        assert_eq!(found.as_deref(), Some("IM4"));
        assert_eq!(posted_by(&action, [("IM1".to_owned(), Some(other))]), None);
    }
}
