//! Property tests: decoding hostile input never panics and SIDs round-trip.

use flexcord_twilio::sid::{ConversationSid, MessageSid};
use flexcord_twilio::webhook::{Event, Validator, sign};
use proptest::prelude::*;

const KNOWN_TYPES: &[&str] = &[
    "onMessageSent",
    "onMessageUpdated",
    "onMediaMessageSent",
    "onMemberAdded",
    "onChannelUpdated",
    "onMessageAdded",
    "onParticipantAdded",
    "onConversationStateUpdated",
    "onSomethingElse",
];

const KNOWN_FIELDS: &[&str] = &[
    "ChannelSid",
    "ConversationSid",
    "MessageSid",
    "ParticipantSid",
    "MemberSid",
    "MediaSid",
    "Index",
    "RetryCount",
    "MediaSize",
    "Media",
    "StateTo",
    "StateFrom",
    "AccountSid",
    "Body",
];

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,25}",
        "(CH|IM|MB|ME|AC|IS)[0-9a-f]{30,34}",
        Just("[{\"Sid\":\"ME0123\"}]".to_owned()),
        Just(String::new()),
    ]
}

proptest! {
    #[test]
    fn event_decoding_never_panics(
        event_type in proptest::sample::select(KNOWN_TYPES),
        fields in proptest::collection::vec(
            (proptest::sample::select(KNOWN_FIELDS), field_value()),
            0..12,
        ),
    ) {
        let mut form: Vec<(String, String)> = vec![("EventType".into(), event_type.into())];
        form.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let event = Event::from_form(&form);
        // The event type survives decoding, whatever the other fields hold.
        prop_assert_eq!(event.event_type(), event_type);
        if let Err(error) = Event::try_from_form(&form) {
            let is_unknown = matches!(event, Event::Unknown { .. });
            prop_assert!(is_unknown);
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn validation_never_panics_and_only_the_right_signature_passes(
        url in any::<String>(),
        params in proptest::collection::vec((any::<String>(), any::<String>()), 0..6),
        signature in any::<String>(),
    ) {
        let validator = Validator::new("token");
        let _ = validator.validate(&url, &params, &signature);
        let _ = validator.validate_json(&url, url.as_bytes(), &signature);
        let good = sign("token", &url, &params);
        prop_assert!(validator.validate(&url, &params, &good).is_ok());
        prop_assert!(Validator::new("other").validate(&url, &params, &good).is_err());
    }

    #[test]
    fn sid_parsing_never_panics_and_round_trips(text in any::<String>(), hex in "[0-9a-fA-F]{32}") {
        let _ = text.parse::<ConversationSid>();
        let sid: MessageSid = format!("IM{hex}").parse().expect("well formed");
        prop_assert_eq!(sid.to_string().parse::<MessageSid>().expect("round trip"), sid);
    }
}
