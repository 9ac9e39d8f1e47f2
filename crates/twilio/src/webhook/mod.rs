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
