//! Incoming webhooks: signature validation and typed events. Usable without a client.
//!
//! Twilio signs every webhook request with the account's primary Auth Token in the
//! `X-Twilio-Signature` header. Check it with a [`Validator`] before trusting the request, then
//! decode the form body into an [`Event`]:
//!
//! ```
//! use flexcord_twilio::webhook::{sign, Event, Validator};
//!
//! let url = "https://bridge.example/twilio/outbound";
//! let form: Vec<(String, String)> = vec![
//!     ("EventType".into(), "onConversationStateUpdated".into()),
//!     ("ConversationSid".into(), "CH0123456789abcdef0123456789abcdef".into()),
//!     ("StateTo".into(), "closed".into()),
//! ];
//! let header = sign("auth-token", url, &form); // what Twilio would send
//!
//! let validator = Validator::new("auth-token");
//! validator.validate(url, &form, &header)?;
//! let event = Event::from_form(&form);
//! assert_eq!(event.event_type(), "onConversationStateUpdated");
//! # Ok::<(), flexcord_twilio::webhook::SignatureError>(())
//! ```
//!

mod events;
mod signature;

pub use events::{
    ChatChannelEvent, ChatContext, ChatEvent, ChatMediaMessageEvent, ChatMemberEvent,
    ChatMessageEvent, ConversationMessageEvent, ConversationsContext, ConversationsEvent, Event,
    EventError, ParticipantAddedEvent, Source, StateUpdatedEvent, WebhookMedia,
    WebhookMessagingBinding,
};
pub use signature::{BODY_SHA256_PARAM, SignatureError, Validator, body_sha256_hex, sign};

/// The header carrying Twilio's signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The header Twilio repeats unchanged on every retry of one webhook delivery: keep a short-lived
/// set of seen values to acknowledge duplicates without acting twice.
pub const IDEMPOTENCY_TOKEN_HEADER: &str = "I-Twilio-Idempotency-Token";

/// Announces Twilio's newer keyed signatures ("Webhook Rules", possibly HMAC-SHA256 with a
/// per-setting key). When it is present, [`Validator`] (Auth Token, HMAC-SHA1) will not match.
pub const SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// Decodes an `application/x-www-form-urlencoded` body into ordered pairs (repeated keys kept),
/// ready for [`Validator::validate`] and [`Event::from_form`].
///
/// ```
/// let pairs = flexcord_twilio::webhook::parse_form(b"EventType=onMessageAdded&Body=a+b%21");
/// assert_eq!(pairs[1], ("Body".to_owned(), "a b!".to_owned()));
/// ```
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
