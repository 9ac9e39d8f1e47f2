//! A tiny in-memory driver: what the store and the outbox do, without I/O.

use std::collections::{BTreeMap, HashMap};

use flexcord_routing::{
    Action, ActionKind, BotReply, ChannelId, Conversation, ConversationId, Event, EventKey,
    Interaction, InteractionId, MessageId, Router, RouterConfig, Step, Timestamp, TwilioMessageSid,
    TwilioSid, UserId,
};

pub(crate) const T0: i64 = 1_795_392_000_000 + 10 * 3_600_000; // a Monday, 10:00 UTC

pub(crate) fn channel_of(user: UserId) -> ChannelId {
    ChannelId(1000 + user.0)
}

pub(crate) fn interaction(id: u64) -> Interaction {
    Interaction::new(InteractionId(id), format!("token-{id}"))
}

pub(crate) fn dm(user: u64, message: u64, text: &str) -> Event {
    dm_as(user, message, text, None)
}

/// A DM whose author Discord names `name`.
pub(crate) fn dm_as(user: u64, message: u64, text: &str, name: Option<&str>) -> Event {
    Event::DirectMessage {
        user: UserId(user),
        channel: channel_of(UserId(user)),
        message: MessageId(message),
        text: text.to_owned(),
        attachments: Vec::new(),
        user_name: name.map(str::to_owned),
    }
}

/// Conversations by id plus the indices the store keeps.
#[derive(Default)]
pub(crate) struct World {
    pub(crate) router: Router,
    pub(crate) convs: BTreeMap<ConversationId, Conversation>,
    pub(crate) open_by_user: HashMap<UserId, ConversationId>,
    pub(crate) by_sid: HashMap<TwilioSid, ConversationId>,
    pub(crate) outbox: Vec<Action>,
    pub(crate) log: Vec<Action>,
    pub(crate) now: i64,
    pub(crate) counter: u64,
    pub(crate) notes: Vec<flexcord_routing::Note>,
}

impl World {
    pub(crate) fn new(config: RouterConfig) -> Self {
        Self {
            router: Router::new(config),
            now: T0,
            ..Self::default()
        }
    }

    pub(crate) fn load(&self, key: &EventKey) -> Option<Conversation> {
        let id = match key {
            EventKey::User(u) => self.open_by_user.get(u)?,
            EventKey::Twilio(sid) => self.by_sid.get(sid)?,
            EventKey::Conversation(id) => id,
            EventKey::None => return None,
        };
        self.convs.get(id).cloned()
    }

    /// Load, handle, store; the actions go to the outbox. Returns the step.
    pub(crate) fn apply(&mut self, event: Event) -> Step {
        let state = self.load(&event.key());
        let step = self.router.handle(state, event, Timestamp(self.now));
        if let Some(conv) = &step.state {
            if conv.is_open() {
                self.open_by_user.insert(conv.user, conv.id.clone());
            } else if self.open_by_user.get(&conv.user) == Some(&conv.id) {
                self.open_by_user.remove(&conv.user);
            }
            if let Some(sid) = &conv.twilio {
                self.by_sid.insert(sid.clone(), conv.id.clone());
            }
            self.convs.insert(conv.id.clone(), conv.clone());
        }
        self.outbox.extend(step.actions.iter().cloned());
        self.log.extend(step.actions.iter().cloned());
        self.notes.extend(step.notes.iter().cloned());
        step
    }

    /// The success event for an action, as a deliverer would report it.
    pub(crate) fn success(&mut self, action: &Action, handoff: bool) -> Event {
        self.counter += 1;
        let n = self.counter;
        match &action.kind {
            ActionKind::OpenDm { user } => action.completed(Some(channel_of(*user).to_string())),
            ActionKind::CreateTwilioConversation { .. } => {
                action.completed(Some(format!("CH{n:032x}")))
            }
            ActionKind::OpenCase { .. } => action.completed(Some(format!("CASE-{n:06}"))),
            ActionKind::AskBot { .. } => Event::BotReply {
                action_id: action.id.clone(),
                reply: BotReply {
                    messages: vec![format!("bot answer {n}")],
                    suggestions: vec![],
                    handoff,
                    ..BotReply::default()
                },
            },
            ActionKind::SendDm { .. } => action.completed(Some((900_000 + n).to_string())),
            ActionKind::PostToTwilio { .. } => action.completed(Some(format!("IM{n:032x}"))),
            ActionKind::CreateInteraction { .. } => {
                action.completed(Some(format!("KD{n:032x}/UO{n:032x}")))
            }
            ActionKind::CatchUpTwilio { .. } => Event::TwilioCaughtUp {
                action_id: action.id.clone(),
                messages: Vec::new(),
            },
            _ => action.completed(None),
        }
    }

    /// Delivers everything in the outbox successfully until it is empty (bot never hands off).
    pub(crate) fn drain(&mut self) {
        while !self.outbox.is_empty() {
            let action = self.outbox.remove(0);
            let event = self.success(&action, false);
            self.apply(event);
        }
    }

    /// Like [`World::drain`], but leaves actions named `keep` in the outbox.
    pub(crate) fn drain_except(&mut self, keep: &str) {
        while let Some(i) = self.outbox.iter().position(|a| a.kind.name() != keep) {
            let action = self.outbox.remove(i);
            let event = self.success(&action, false);
            self.apply(event);
        }
    }

    /// Takes the first outbox action of this kind.
    pub(crate) fn take(&mut self, name: &str) -> Option<Action> {
        let i = self.outbox.iter().position(|a| a.kind.name() == name)?;
        Some(self.outbox.remove(i))
    }

    pub(crate) fn conv_of(&self, user: u64) -> Option<&Conversation> {
        let id = self.open_by_user.get(&UserId(user))?;
        self.convs.get(id)
    }

    pub(crate) fn agent_message(
        &self,
        sid: &TwilioSid,
        msg: &str,
        author: &str,
        body: &str,
    ) -> Event {
        Event::TwilioMessage {
            sid: sid.clone(),
            message: TwilioMessageSid::from(msg),
            author: author.to_owned(),
            body: body.to_owned(),
            attachments: Vec::new(),
            index: None,
        }
    }
}

/// Texts of the `SendDm` actions in `actions`, in order.
pub(crate) fn dm_texts(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::SendDm { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}
