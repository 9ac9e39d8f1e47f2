//! The executor of routing actions for Twilio Conversations, against the Twilio emulator.

use flexcord::deliver::twilio::{ConversationsTarget, TwilioExecutor};
use flexcord_routing::{
    Action, ActionId, ActionKind, CaseNumber, ChannelId, ConversationAttributes, Event, MessageId,
    Timestamp, TwilioSid, UserId,
};
use flexcord_store::{Deliver, Failure, Receipt};
use flexcord_testkit::twilio::{TwilioConfig, TwilioEmulator};

use crate::support::deliver;

/// A Twilio executor as the outbox delivers to it (shared with the chat-mode executor tests).
pub(crate) struct Twilio(pub(crate) TwilioExecutor);

impl Deliver for Twilio {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        self.0.run(action, 1).await
    }
}

/// An action of conversation `7-100` (shared with the chat-mode executor tests).
pub(crate) fn action(seq: u64, kind: ActionKind) -> Action {
    Action {
        id: ActionId::new("7-100", seq),
        kind,
    }
}

/// The conversation attributes of user 500 in DM channel 400 with case `CASE-000001`.
pub(crate) fn attributes(handoff: bool) -> ConversationAttributes {
    ConversationAttributes {
        discord_user: UserId(500),
        dm_channel: Some(ChannelId(400)),
        handoff,
        case: Some(CaseNumber::from("CASE-000001")),
    }
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one lifecycle, read top to bottom
async fn conversation_lifecycle_is_idempotent() {
    let twilio = TwilioEmulator::start(TwilioConfig::default())
        .await
        .expect("emulator");
    let client = flexcord_twilio::Client::builder()
        .account(twilio.account_sid(), twilio.auth_token())
        .base_url(twilio.base_url())
        .build()
        .expect("client");
    let exec = Twilio(TwilioExecutor::conversations(
        client,
        &url::Url::parse("https://bridge.example.com").unwrap(),
        ConversationsTarget {
            workspace: Some("WS0123456789abcdef0123456789abcdef".parse().unwrap()),
            workflow: Some("WW0123456789abcdef0123456789abcdef".parse().unwrap()),
            ..ConversationsTarget::default()
        },
    ));
    let create = action(
        1,
        ActionKind::CreateTwilioConversation {
            unique_name: "discord:400:1".into(),
            identity: "discord:500".into(),
            friendly_name: "Alice (Discord)".into(),
            user_name: Some("Alice".into()),
            attributes: attributes(false),
            studio: false,
        },
    );
    let mut sids = Vec::new();
    for _ in 0..2 {
        match deliver(&exec, &create).await {
            Some(Event::TwilioConversationCreated { sid, .. }) => sids.push(sid),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sids[0], sids[1], "a retry finds the same conversation");
    let sid = sids[0].clone();
    assert_eq!(twilio.conversations().len(), 1);
    let participants = twilio.participants(sid.as_str());
    assert_eq!(participants.len(), 1);
    let pattrs: serde_json::Value = serde_json::from_str(&participants[0].attributes).unwrap();
    assert_eq!(pattrs["friendlyName"], "Alice", "{pattrs}");
    let hooks = twilio.conversation_webhooks(sid.as_str());
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(
        hooks[0].url.as_deref(),
        Some("https://bridge.example.com/twilio/outbound")
    );
    assert!(hooks[0].filters.iter().any(|f| f == "onMessageAdded"));
    let conv = twilio.conversation(sid.as_str()).unwrap();
    let attrs: serde_json::Value = serde_json::from_str(&conv.attributes).unwrap();
    assert_eq!(attrs["flexcord"]["discord_user"], "500");
    assert_eq!(conv.friendly_name.as_deref(), Some("Alice (Discord)"));
    assert_eq!(attrs["flexcord"]["handoff"], false);

    let post = action(
        2,
        ActionKind::PostToTwilio {
            sid: sid.clone(),
            author: "discord:500".into(),
            body: "My order is late".into(),
            at: Some(Timestamp(1_700_000_000_000)),
            discord_message: Some(MessageId(300)),
            webhooks: false,
            media: None,
        },
    );
    assert!(matches!(
        deliver(&exec, &post).await,
        Some(Event::Delivered {
            upstream_id: Some(_),
            ..
        })
    ));
    let messages = twilio.messages(sid.as_str());
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].author, "discord:500");
    let mattrs: serde_json::Value = serde_json::from_str(&messages[0].attributes).unwrap();
    assert_eq!(mattrs["flexcord"]["discord_message"], "300");

    let update = action(
        3,
        ActionKind::UpdateTwilioAttributes {
            sid: sid.clone(),
            attributes: attributes(true),
        },
    );
    assert!(matches!(
        deliver(&exec, &update).await,
        Some(Event::Delivered { .. })
    ));
    let attrs: serde_json::Value =
        serde_json::from_str(&twilio.conversation(sid.as_str()).unwrap().attributes).unwrap();
    assert_eq!(attrs["flexcord"]["handoff"], true);

    let handoff = action(
        4,
        ActionKind::CreateInteraction {
            sid: sid.clone(),
            identity: "discord:500".into(),
            user_name: Some("Alice".into()),
            case: Some(CaseNumber::from("CASE-000001")),
        },
    );
    assert!(matches!(
        deliver(&exec, &handoff).await,
        Some(Event::Delivered { .. })
    ));
    assert_eq!(twilio.interactions().len(), 1);
    // The task Flex creates carries the user's name as `customerName`.
    let task = &twilio.interactions()[0].routing["properties"]["attributes"];
    assert_eq!(task["customerName"], "Alice", "{task}");
    assert_eq!(task["from"], "discord:500", "{task}");

    let close = action(
        5,
        ActionKind::CloseTwilio {
            sid: sid.clone(),
            interaction: None,
        },
    );
    assert!(matches!(
        deliver(&exec, &close).await,
        Some(Event::Delivered { .. })
    ));
    assert_eq!(twilio.conversation(sid.as_str()).unwrap().state, "closed");

    let unknown = action(
        6,
        ActionKind::CloseTwilio {
            sid: TwilioSid::from("CHffffffffffffffffffffffffffffffff"),
            interaction: None,
        },
    );
    assert!(matches!(
        deliver(&exec, &unknown).await,
        Some(Event::DeliveryFailed {
            permanent: true,
            ..
        })
    ));
    let bad = action(
        7,
        ActionKind::CloseTwilio {
            sid: TwilioSid::from("nope"),
            interaction: None,
        },
    );
    assert!(matches!(
        deliver(&exec, &bad).await,
        Some(Event::DeliveryFailed {
            permanent: true,
            ..
        })
    ));
    let not_ours = action(8, ActionKind::OpenDm { user: UserId(1) });
    assert!(matches!(
        deliver(&exec, &not_ours).await,
        Some(Event::DeliveryFailed {
            permanent: true,
            ..
        })
    ));
}
