//! The router: `(state, event, now) -> (state, actions, wake-up)`.

use serde::{Deserialize, Serialize};

mod catchup;

pub use catchup::GAP_HOLD_MS;

use crate::action::{
    Action, ActionKind, CaseUpdate, ConversationAttributes, FailedAction, FlexInteraction, Forward,
    ReportKind, ResolvedBy, Speaker, TranscriptEntry,
};
use crate::conversation::{
    Conversation, Forwarded, Pending, Phase, QueuedDm, QueuedPost, Sending, WaitingEdit,
};
use crate::event::{BotReply, Button, Command, Confidence, Event, Interaction, SweptMessage};
use crate::hours::SupportHours;
use crate::ids::{
    ActionId, CaseNumber, ChannelId, ConversationId, MessageId, Timestamp, TwilioMessageSid, UserId,
};
use crate::text::{self, Attachment};

const TRANSCRIPT_MAX: usize = 200;
const SEEN_MAX: usize = 128;
const FORWARDED_MAX: usize = 128;
const WAITING_EDITS_MAX: usize = 16;
const SENDING_MAX: usize = 64;

/// Which Twilio product carries the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwilioMode {
    /// Conversations v1 (default).
    #[default]
    Conversations,
    /// Programmable Chat through a Flex Flow (always the studio route).
    Chat,
}

/// Where the virtual agent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotRoute {
    /// In-process; Twilio is involved only from the hand-off on (default).
    #[default]
    Direct,
    /// A Studio flow calls `POST /twilio/bot`; every DM goes to Twilio from the first one.
    Studio,
}

/// The user-facing texts. `{case}`, `{agent}` and `{when}` are replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Texts {
    pub transferring: String,
    pub case_number: String,
    pub agent_joined: String,
    pub still_looking: String,
    pub out_of_hours: String,
    pub closed_by_agent: String,
    pub closed_idle: String,
    pub solved: String,
    pub rate_thanks: String,
    pub bot_unavailable: String,
    pub agents_unavailable: String,
    pub twilio_gone: String,
    pub user_unreachable: String,
    pub case_close_asked: String,
    pub help_ack: String,
    /// The virtual agent's first DM after `/helpme`.
    pub greeting: String,
    pub already_with_support: String,
    pub conversation_over: String,
    pub report_received: String,
    /// The `/helpme` answer when Discord refuses to DM the user (their privacy settings).
    pub dms_closed: String,
    /// The `/helpme` answer when the DM could not be sent for another reason.
    pub dm_failed: String,
    /// The DM after the user closed their live conversation's case with `/case close`.
    pub closed_by_requester: String,
}

impl Default for Texts {
    fn default() -> Self {
        let s = str::to_owned;
        Self {
            transferring: s("I'm transferring you to a member of our support team."),
            case_number: s("Your case number is {case}."),
            agent_joined: s("{agent} has joined the conversation."),
            still_looking: s("We're still looking for an available agent. Thanks for waiting."),
            out_of_hours: s(
                "Our support team is offline right now. An agent will answer from {when}.",
            ),
            closed_by_agent: s("The agent closed this conversation. How did we do?"),
            closed_idle: s(
                "This conversation was closed after a period of inactivity. Send a message to start a new one.",
            ),
            solved: s("Glad that helped! This conversation is closed."),
            rate_thanks: s("Thanks for your feedback!"),
            bot_unavailable: s(
                "Sorry, I can't answer right now. You can ask for a live agent instead.",
            ),
            agents_unavailable: s(
                "Sorry, I couldn't reach our support team. Please try again later.",
            ),
            twilio_gone: s("This conversation has ended. Send a message to start a new one."),
            user_unreachable: s(
                "[flexcord] The Discord user could not be reached ({reason}); messages are not being delivered.",
            ),
            case_close_asked: s("Case {case} will be marked resolved."),
            help_ack: s("I'll continue in your direct messages."),
            greeting: s(
                "Hi! I'm the virtual support assistant. Tell me what you need help with and I'll suggest articles, or ask for a live agent at any time.",
            ),
            already_with_support: s("You're already in touch with our support team."),
            conversation_over: s(
                "This conversation is over. Send me a message to start a new one.",
            ),
            report_received: s("Thanks, I'm filing your report."),
            dms_closed: s(
                "I could not send you a direct message: your privacy settings block DMs from this server. Open the server menu, choose **Privacy Settings**, turn on **Direct Messages**, then run `/helpme` again.",
            ),
            dm_failed: s(
                "I could not open a direct message with you right now; please try again in a minute.",
            ),
            closed_by_requester: s("You closed case {case}. How did we do?"),
        }
    }
}

/// Where new reports are announced (`/bug` in #bug-report, `/new_feature` in #feature-request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReportChannels {
    /// The channel announcing bug reports.
    pub bug: Option<ChannelId>,
    /// The channel announcing feature requests.
    pub feature: Option<ChannelId>,
}

/// The router's settings (pure values; the app builds them from its configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterConfig {
    /// Conversations or Chat.
    pub mode: TwilioMode,
    /// Direct or Studio (Chat forces Studio).
    pub bot_route: BotRoute,
    /// The virtual agent's Twilio identity (default `flexcord-bot`).
    pub bot_identity: String,
    /// "Still looking for an agent" after this many milliseconds of waiting (default 5 min).
    pub agent_wait_notice_ms: i64,
    /// Close after this many milliseconds without a message (default 24 h).
    pub idle_close_ms: i64,
    /// How long the "agent joined" notice waits for the agent's name from Twilio before it
    /// goes out with the identity's local part (default 10 s).
    #[serde(default = "default_agent_name_wait_ms")]
    pub agent_name_wait_ms: i64,
    /// When agents answer.
    pub hours: SupportHours,
    /// What the user is told.
    pub texts: Texts,
    /// Where reports are announced.
    #[serde(default)]
    pub reports: ReportChannels,
    /// #announcements and the staff role (feed entries, `/announce`, `/setup`).
    #[serde(default)]
    pub community: crate::community::CommunityConfig,
}

fn default_agent_name_wait_ms() -> i64 {
    10_000
}

/// Agents' names a conversation keeps at most.
const AGENT_NAMES_MAX: usize = 16;

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            mode: TwilioMode::Conversations,
            bot_route: BotRoute::Direct,
            bot_identity: "flexcord-bot".to_owned(),
            agent_wait_notice_ms: 5 * 60_000,
            idle_close_ms: 24 * 3_600_000,
            agent_name_wait_ms: default_agent_name_wait_ms(),
            hours: SupportHours::always(),
            texts: Texts::default(),
            reports: ReportChannels::default(),
            community: crate::community::CommunityConfig::default(),
        }
    }
}

/// Something worth logging and counting that is not an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum Note {
    /// The event was seen before and ignored.
    Duplicate,
    /// The event was dropped on purpose.
    Dropped {
        /// Why (one of a few fixed texts, usable as a metric label).
        reason: String,
    },
    /// Messages no webhook or gateway event brought were found and routed.
    Recovered {
        /// Where they came from (`twilio`), usable as a metric label.
        source: String,
        /// How many.
        count: u32,
    },
    /// An action failed for good and the core chose an outcome.
    Failed {
        /// The action.
        action_id: ActionId,
        /// Why.
        reason: String,
    },
}

/// What one event produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The conversation to store (`None`: nothing to store).
    pub state: Option<Conversation>,
    /// What to do, in order.
    pub actions: Vec<Action>,
    /// When to send [`Event::Tick`] for this conversation (`None`: no timer).
    pub wake_at: Option<Timestamp>,
    /// Observations for logs and metrics.
    pub notes: Vec<Note>,
}

/// The conversation core. Cheap to share; holds only configuration.
#[derive(Debug, Clone, Default)]
pub struct Router {
    config: RouterConfig,
}

/// One step in progress.
struct Ctx<'r> {
    config: &'r RouterConfig,
    conv: Conversation,
    actions: Vec<Action>,
    notes: Vec<Note>,
    now: Timestamp,
}

impl Router {
    /// A router with this configuration.
    pub fn new(mut config: RouterConfig) -> Self {
        if config.mode == TwilioMode::Chat {
            config.bot_route = BotRoute::Studio;
        }
        Self { config }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Applies `event` to `state` (what the store found for [`Event::key`]; `None` when
    /// nothing). Deterministic: the same inputs give the same step.
    pub fn handle(&self, state: Option<Conversation>, event: Event, now: Timestamp) -> Step {
        if let Event::FeedEntry { feed, entry, post } = event {
            let (actions, notes) =
                crate::community::feed_entry(&self.config.community, &feed, &entry, post);
            return Step {
                state: None,
                actions,
                wake_at: None,
                notes,
            };
        }
        // Commands that never touch a conversation.
        if let Event::Command {
            user,
            interaction,
            command,
            ..
        } = &event
        {
            let name = event.user_name();
            match command {
                Command::Bug { .. }
                | Command::NewFeature { .. }
                | Command::CaseStatus { .. }
                | Command::Announce { .. }
                | Command::Setup { .. } => {
                    return self.stateless(state, (*user, name), interaction, command);
                }
                Command::CaseClose { number } => {
                    let current = state
                        .as_ref()
                        .filter(|c| c.is_open() && c.case.as_ref() == Some(number));
                    if current.is_none() {
                        return self.stateless(state, (*user, name), interaction, command);
                    }
                }
                Command::HelpMe => {}
            }
        }
        let Some(conv) = state else {
            return self.without_conversation(event, now);
        };
        if !conv.is_open() && matches!(event, Event::DirectMessage { .. } | Event::Command { .. }) {
            // A DM or /helpme after a closed conversation starts a new one.
            return self.without_conversation(event, now);
        }
        if let Event::Button { user, .. } = &event
            && *user != conv.user
        {
            // A button only acts on the presser's own conversation.
            let wake_at = wake_at(&self.config, &conv);
            return Step {
                state: Some(conv),
                actions: Vec::new(),
                wake_at,
                notes: vec![Note::Dropped {
                    reason: "button of another user's conversation".into(),
                }],
            };
        }
        let mut ctx = Ctx {
            config: &self.config,
            conv,
            actions: Vec::new(),
            notes: Vec::new(),
            now,
        };
        if let Some(key) = event.dedupe_key().filter(|k| !k.starts_with("result:")) {
            if ctx.conv.seen.contains(&key) {
                ctx.notes.push(Note::Duplicate);
                return ctx.finish();
            }
            push_bounded(&mut ctx.conv.seen, key, SEEN_MAX);
        }
        ctx.apply(event);
        ctx.finish()
    }

    fn without_conversation(&self, event: Event, now: Timestamp) -> Step {
        let start = |id: ConversationId, user: UserId| Ctx {
            config: &self.config,
            conv: Conversation::new(id, user, now),
            actions: Vec::new(),
            notes: Vec::new(),
            now,
        };
        match event {
            Event::DirectMessage { user, message, .. } => {
                let mut ctx = start(ConversationId::new(user, message.0), user);
                if let Some(key) = event.dedupe_key() {
                    ctx.conv.seen.push(key);
                }
                ctx.apply(event);
                ctx.finish()
            }
            Event::Command {
                user,
                ref interaction,
                command: Command::HelpMe,
                ..
            } => {
                let mut ctx = start(ConversationId::new(user, interaction.id.0), user);
                if let Some(key) = event.dedupe_key() {
                    ctx.conv.seen.push(key);
                }
                ctx.apply(event);
                ctx.finish()
            }
            Event::Button {
                interaction,
                button,
                ..
            } => {
                let scope = format!("i{}", interaction.id);
                let text = if matches!(button, Button::Rate(_)) {
                    self.config.texts.rate_thanks.clone()
                } else {
                    self.config.texts.conversation_over.clone()
                };
                Step {
                    state: None,
                    actions: vec![Action {
                        id: ActionId::new(&scope, 0),
                        kind: ActionKind::Respond { interaction, text },
                    }],
                    wake_at: None,
                    notes: vec![Note::Dropped {
                        reason: "button for an unknown conversation".into(),
                    }],
                }
            }
            Event::TwilioMessage { .. }
            | Event::TwilioMessageUpdated { .. }
            | Event::ParticipantJoined { .. }
            | Event::TwilioClosed { .. }
            | Event::BotAsked { .. } => Step {
                state: None,
                actions: Vec::new(),
                wake_at: None,
                notes: vec![Note::Dropped {
                    reason: "unknown twilio conversation".into(),
                }],
            },
            // Results of interaction-scope actions (reports, answers) need nothing more.
            Event::BotReply { ref action_id, .. }
            | Event::DmOpened { ref action_id, .. }
            | Event::TwilioConversationCreated { ref action_id, .. }
            | Event::CaseOpened { ref action_id, .. }
            | Event::Delivered { ref action_id, .. }
            | Event::DeliveryFailed { ref action_id, .. }
                if action_id.conversation().is_none() =>
            {
                Step {
                    state: None,
                    actions: Vec::new(),
                    wake_at: None,
                    notes: Vec::new(),
                }
            }
            _ => Step {
                state: None,
                actions: Vec::new(),
                wake_at: None,
                notes: vec![Note::Dropped {
                    reason: "unknown conversation".into(),
                }],
            },
        }
    }

    fn stateless(
        &self,
        state: Option<Conversation>,
        (user, name): (UserId, Option<String>),
        interaction: &Interaction,
        command: &Command,
    ) -> Step {
        let scope = format!("i{}", interaction.id);
        let mut actions = Vec::new();
        let mut push = |kind| {
            let seq = u64::try_from(actions.len()).unwrap_or(u64::MAX);
            actions.push(Action {
                id: ActionId::new(&scope, seq),
                kind,
            });
        };
        match command {
            Command::Bug {
                title,
                steps,
                expected,
                actual,
            } => push(ActionKind::FileReport {
                kind: ReportKind::Bug,
                title: title.clone(),
                body: format!(
                    "Steps to reproduce:\n{steps}\n\nExpected:\n{expected}\n\nActual:\n{actual}"
                ),
                requester: user,
                requester_name: name.clone(),
                interaction: interaction.clone(),
                announce: self.config.reports.bug,
            }),
            Command::NewFeature { title, description } => push(ActionKind::FileReport {
                kind: ReportKind::Feature,
                title: title.clone(),
                body: description.clone(),
                requester: user,
                requester_name: name.clone(),
                interaction: interaction.clone(),
                announce: self.config.reports.feature,
            }),
            Command::CaseStatus { number } => push(ActionKind::CaseStatus {
                requester: user,
                number: number.clone(),
                interaction: interaction.clone(),
            }),
            Command::CaseClose { number } => push(ActionKind::CloseCase {
                requester: user,
                number: number.clone(),
                interaction: interaction.clone(),
            }),
            Command::Announce { .. } | Command::Setup { .. } => {
                if let Some(kind) =
                    crate::community::command(&self.config.community, interaction, command)
                {
                    push(kind);
                }
            }
            Command::HelpMe => {}
        }
        let wake_at = state.as_ref().and_then(|c| wake_at(&self.config, c));
        Step {
            state,
            actions,
            wake_at,
            notes: Vec::new(),
        }
    }
}

fn fill(
    template: &str,
    case: Option<&CaseNumber>,
    agent: Option<&str>,
    when: Option<&str>,
) -> String {
    let mut out = template.to_owned();
    if let Some(case) = case {
        out = out.replace("{case}", case.as_str());
    }
    if let Some(agent) = agent {
        out = out.replace("{agent}", agent);
    }
    if let Some(when) = when {
        out = out.replace("{when}", when);
    }
    out
}

/// A part's number (a message never has 2^32 parts).
fn part_number(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn push_bounded<T>(list: &mut Vec<T>, item: T, max: usize) {
    list.push(item);
    if list.len() > max {
        let excess = list.len() - max;
        list.drain(..excess);
    }
}

fn wake_at(config: &RouterConfig, conv: &Conversation) -> Option<Timestamp> {
    if !conv.is_open() {
        return None;
    }
    let idle = wake_idle(config, conv);
    let notice = conv
        .wait_notice_due
        .filter(|_| conv.phase == Phase::WaitingAgent);
    let name = conv
        .agent_name_due
        .filter(|_| conv.joined_notice_pending.is_some());
    let held = conv.held_until.filter(|_| !conv.twilio_held.is_empty());
    Some(
        [notice, name, held]
            .into_iter()
            .flatten()
            .fold(idle, Timestamp::min),
    )
}

impl Ctx<'_> {
    fn finish(self) -> Step {
        let wake_at = wake_at(self.config, &self.conv);
        Step {
            state: Some(self.conv),
            actions: self.actions,
            wake_at,
            notes: self.notes,
        }
    }

    fn studio(&self) -> bool {
        self.config.bot_route == BotRoute::Studio
    }

    fn emit(&mut self, kind: ActionKind) -> ActionId {
        let id = ActionId::new(self.conv.id.as_str(), self.conv.next_seq);
        self.conv.next_seq += 1;
        self.actions.push(Action {
            id: id.clone(),
            kind,
        });
        id
    }

    fn emit_pending(&mut self, kind: ActionKind, pending: Pending) {
        let id = self.emit(kind);
        self.conv.pending.insert(id, pending);
    }

    fn attributes(&self, handoff: bool) -> ConversationAttributes {
        ConversationAttributes {
            discord_user: self.conv.user,
            dm_channel: self.conv.dm_channel,
            handoff,
            case: self.conv.case.clone(),
        }
    }

    /// The display name of a transcript line's author, if known.
    fn speaker_name(&self, speaker: &Speaker) -> Option<String> {
        match speaker {
            Speaker::User => self.conv.user_name.clone(),
            Speaker::Bot => None,
            Speaker::Agent(identity) => Some(self.conv.agent_name(identity)),
        }
    }

    /// Adds a line to the transcript, which serves the case's opening and the Twilio
    /// back-fill: once both are done it is no longer kept.
    fn record(&mut self, speaker: Speaker, text: String) {
        if self.conv.case_requested && self.conv.twilio.is_some() {
            self.conv.transcript.clear();
            return;
        }
        let name = self.speaker_name(&speaker);
        let entry = TranscriptEntry {
            speaker,
            text,
            at: self.now,
            name,
        };
        push_bounded(&mut self.conv.transcript, entry, TRANSCRIPT_MAX);
    }

    /// A DM to the user, queued until the DM channel is known.
    fn tell(&mut self, text: &str, buttons: &[Button]) {
        if self.conv.dm_unreachable {
            self.notes.push(Note::Dropped {
                reason: "user cannot receive DMs".into(),
            });
            return;
        }
        let pieces = text::for_discord(text, &[]);
        let last = pieces.len().saturating_sub(1);
        for (i, piece) in pieces.into_iter().enumerate() {
            let dm = QueuedDm {
                text: piece,
                buttons: if i == last {
                    buttons.to_vec()
                } else {
                    Vec::new()
                },
                forwarded: None,
                part: 0,
                files: Vec::new(),
            };
            self.send_dm(dm, Vec::new());
        }
    }

    fn send_dm(&mut self, dm: QueuedDm, suggestions: Vec<String>) {
        if let Some(channel) = self.conv.dm_channel {
            let forwarded = dm.forwarded.map(|twilio| Forward {
                twilio,
                part: dm.part,
            });
            if let Some(f) = &forwarded {
                self.sending(&f.twilio);
            }
            let kind = ActionKind::SendDm {
                channel,
                text: dm.text,
                buttons: dm.buttons,
                suggestions,
                files: dm.files,
                forwarded,
            };
            if self.conv.help.is_some() {
                // `/helpme` is answered when this DM arrives (or fails).
                self.emit_pending(
                    kind,
                    Pending::SendDm {
                        forwarded: None,
                        part: 0,
                    },
                );
            } else {
                self.emit(kind);
            }
        } else {
            self.conv.dm_backlog.push(dm);
            if !self.conv.dm_requested {
                self.conv.dm_requested = true;
                let user = self.conv.user;
                self.emit_pending(ActionKind::OpenDm { user }, Pending::OpenDm);
            }
        }
    }

    /// One more part of `message` is on its way to Discord.
    fn sending(&mut self, message: &TwilioMessageSid) {
        if let Some(s) = self.conv.sending.iter_mut().find(|s| &s.twilio == message) {
            s.left += 1;
        } else {
            push_bounded(
                &mut self.conv.sending,
                Sending {
                    twilio: message.clone(),
                    left: 1,
                },
                SENDING_MAX,
            );
        }
    }

    fn flush_dms(&mut self) {
        for dm in std::mem::take(&mut self.conv.dm_backlog) {
            self.send_dm(dm, Vec::new());
        }
    }

    fn set_dm_channel(&mut self, channel: ChannelId) {
        self.conv.dm_channel = Some(channel);
        self.flush_dms();
    }

    fn annotate(&mut self, speaker: Speaker, text: String) {
        let name = self.speaker_name(&speaker);
        let entry = TranscriptEntry {
            speaker,
            text,
            at: self.now,
            name,
        };
        if let Some(number) = self.conv.case.clone() {
            self.emit(ActionKind::AnnotateCase { number, entry });
        } else if self.conv.case_requested && !self.conv.case_failed {
            self.conv.case_backlog.push(entry);
        }
    }

    /// A user's DM for the Twilio side: its text in pieces, then one message per attached file
    /// (uploaded as media; its fallback body names the file and its link).
    fn forward_user_message(&mut self, text: &str, attachments: &[Attachment], message: MessageId) {
        for body in text::for_twilio(text, &[]) {
            self.post_user_message(body, message, None);
        }
        for file in attachments {
            let body = text::split(&file.line(), text::TWILIO_LIMIT)
                .into_iter()
                .next()
                .unwrap_or_else(|| file.display_name().to_owned());
            self.post_user_message(body, message, Some(Box::new(file.clone())));
        }
    }

    fn post_user_message(
        &mut self,
        body: String,
        message: MessageId,
        media: Option<Box<Attachment>>,
    ) {
        match self.conv.twilio.clone() {
            Some(sid) => {
                self.emit(ActionKind::PostToTwilio {
                    sid,
                    author: self.conv.identity(),
                    body,
                    at: None,
                    discord_message: Some(message),
                    webhooks: true,
                    media,
                });
            }
            None => self.conv.twilio_backlog.push(QueuedPost {
                body,
                discord_message: message,
                media,
            }),
        }
    }

    fn ensure_twilio(&mut self) {
        if self.conv.twilio.is_none() && !self.conv.twilio_requested {
            self.conv.twilio_requested = true;
            let place = self
                .conv
                .dm_channel
                .map_or_else(|| self.conv.user.to_string(), |c| c.to_string());
            let friendly_name = self.conv.user_name.as_ref().map_or_else(
                || format!("Discord {}", self.conv.user),
                |name| format!("{name} (Discord)"),
            );
            let kind = ActionKind::CreateTwilioConversation {
                unique_name: format!("discord:{place}:{}", self.conv.id),
                identity: self.conv.identity(),
                friendly_name,
                user_name: self.conv.user_name.clone(),
                attributes: self.attributes(self.conv.phase == Phase::WaitingAgent),
                studio: self.studio(),
            };
            self.emit_pending(kind, Pending::CreateTwilio);
        }
    }

    fn apply(&mut self, event: Event) {
        if let Some(name) = event.user_name() {
            self.conv.user_name = Some(name);
        }
        match event {
            Event::DirectMessage {
                channel,
                message,
                text,
                attachments,
                ..
            } => self.on_dm(channel, message, &text, &attachments),
            Event::Command {
                interaction,
                command,
                ..
            } => self.on_command(interaction, &command),
            Event::Button {
                interaction,
                button,
                ..
            } => self.on_button(interaction, button),
            Event::TwilioMessage {
                message,
                author,
                body,
                attachments,
                index,
                ..
            } => match index {
                Some(index) => self.on_indexed_message(SweptMessage {
                    message,
                    index,
                    author,
                    body,
                    attachments,
                    ours: false,
                }),
                None => self.on_twilio_message(&message, author, &body, &attachments),
            },
            Event::TwilioCaughtUp {
                action_id,
                messages,
            } => self.on_caught_up(&action_id, messages),
            Event::CatchUp { .. } => self.on_catch_up(),
            Event::TwilioMessageUpdated {
                message,
                author,
                body,
                ..
            } => self.on_twilio_edit(&message, &author, &body),
            Event::ParticipantJoined { identity, .. } => self.on_joined(identity),
            Event::TwilioClosed { .. } => {
                if self.conv.is_open() {
                    let text = self.config.texts.closed_by_agent.clone();
                    self.close(ResolvedBy::Agent, &text, false);
                }
            }
            Event::BotAsked { author, body, .. } => self.on_bot_asked(&author, body),
            // Handled without a conversation by `Router::handle`.
            Event::FeedEntry { .. } => {}
            Event::BotReply { action_id, reply } => {
                self.conv.pending.remove(&action_id);
                self.on_bot_reply(&reply);
            }
            Event::DmOpened { action_id, channel } => {
                self.conv.pending.remove(&action_id);
                self.set_dm_channel(channel);
            }
            Event::TwilioConversationCreated { action_id, sid } => {
                if self.conv.pending.remove(&action_id).is_some() {
                    self.on_twilio_created(sid);
                } else {
                    self.notes.push(Note::Duplicate);
                }
            }
            Event::CaseOpened { action_id, number } => {
                if self.conv.pending.remove(&action_id).is_some() {
                    self.on_case_opened(number);
                } else {
                    self.notes.push(Note::Duplicate);
                }
            }
            Event::AgentNamed {
                action_id,
                identity,
                name,
            } => self.on_agent_named(&action_id, identity, name.as_deref()),
            Event::Delivered {
                action_id,
                upstream_id,
                forwarded,
            } => self.on_delivered(&action_id, upstream_id, forwarded),
            Event::DeliveryFailed {
                action_id,
                permanent,
                reason,
                of,
            } => self.on_failed(action_id, permanent, reason, of),
            Event::Tick { .. } => self.on_tick(),
        }
    }

    fn on_bot_asked(&mut self, author: &str, body: String) {
        if author != self.conv.identity() {
            self.notes.push(Note::Dropped {
                reason: "bot asked about a non-user message".into(),
            });
        } else if body.trim().is_empty() {
            // A file alone (Studio passes media messages on with an empty body).
            self.notes.push(Note::Dropped {
                reason: "bot asked about an empty message".into(),
            });
        } else if matches!(self.conv.phase, Phase::New | Phase::Bot) {
            self.conv.phase = Phase::Bot;
            let user = self.conv.user;
            self.emit_pending(ActionKind::AskBot { user, text: body }, Pending::AskBot);
        } else {
            self.notes.push(Note::Dropped {
                reason: "bot asked after the hand-off".into(),
            });
        }
    }

    fn on_dm(&mut self, channel: ChannelId, message: MessageId, text: &str, att: &[Attachment]) {
        self.conv.dm_unreachable = false;
        self.conv.last_activity = self.now;
        self.conv.last_dm = self.conv.last_dm.max(Some(message));
        if self.conv.dm_channel != Some(channel) {
            self.set_dm_channel(channel);
        }
        let line = text::with_attachment_links(text, att);
        if line.trim().is_empty() {
            self.notes.push(Note::Dropped {
                reason: "empty message".into(),
            });
            return;
        }
        self.conv.last_user_text = Some(line.clone());
        self.record(Speaker::User, line.clone());
        match self.conv.phase {
            Phase::New | Phase::Bot => {
                self.conv.phase = Phase::Bot;
                if self.studio() {
                    self.ensure_twilio();
                    self.forward_user_message(text, att, message);
                } else {
                    let user = self.conv.user;
                    self.emit_pending(ActionKind::AskBot { user, text: line }, Pending::AskBot);
                }
            }
            Phase::WaitingAgent | Phase::WithAgent => {
                // Direct route before the conversation exists: the back-fill carries it.
                if self.conv.twilio.is_some() || self.studio() {
                    self.forward_user_message(text, att, message);
                }
                self.annotate(Speaker::User, line);
            }
            Phase::Closed => {}
        }
    }

    fn on_command(&mut self, interaction: Interaction, command: &Command) {
        match command {
            Command::HelpMe => {
                if matches!(self.conv.phase, Phase::New | Phase::Bot) {
                    // `/helpme` opens the DM with the virtual agent; the user asks for a live
                    // agent from there (the button, or in words the bot recognises). The
                    // interaction is answered once the greeting reached the DM, or with how to
                    // open DMs when Discord refuses them.
                    self.conv.phase = Phase::Bot;
                    self.conv.dm_unreachable = false;
                    if let Some(earlier) = self.conv.help.replace(interaction) {
                        let text = self.config.texts.help_ack.clone();
                        self.emit(ActionKind::Respond {
                            interaction: earlier,
                            text,
                        });
                    }
                    let greeting = self.config.texts.greeting.clone();
                    self.tell(&greeting, &[Button::TalkToAgent]);
                } else {
                    let text = self.config.texts.already_with_support.clone();
                    self.emit(ActionKind::Respond { interaction, text });
                }
            }
            Command::CaseClose { number } => {
                // The case of this live conversation: end it as the agent's close does (the
                // Twilio side and the Flex task closed, the user told and asked for a rating).
                let text = fill(
                    &self.config.texts.case_close_asked,
                    Some(number),
                    None,
                    None,
                );
                self.emit(ActionKind::Respond { interaction, text });
                let closed = fill(
                    &self.config.texts.closed_by_requester,
                    Some(number),
                    None,
                    None,
                );
                self.close(ResolvedBy::Requester, &closed, true);
            }
            // Handled without the conversation by `Router::stateless`.
            Command::Bug { .. }
            | Command::NewFeature { .. }
            | Command::CaseStatus { .. }
            | Command::Announce { .. }
            | Command::Setup { .. } => {}
        }
    }

    fn on_button(&mut self, interaction: Interaction, button: Button) {
        match (button, self.conv.phase) {
            (Button::TalkToAgent, Phase::New | Phase::Bot) => self.hand_off(),
            (Button::Solved, Phase::New | Phase::Bot) => {
                let text = self.config.texts.solved.clone();
                self.close(ResolvedBy::Requester, &text, true);
            }
            (Button::Rate(stars), Phase::Closed)
                if (1..=5).contains(&stars) && !self.conv.rated =>
            {
                self.conv.rated = true;
                if let Some(number) = self.conv.case.clone() {
                    self.emit(ActionKind::UpdateCase {
                        number,
                        update: CaseUpdate::Rating { stars },
                        requester: Some(self.conv.user),
                    });
                }
                let text = self.config.texts.rate_thanks.clone();
                self.emit(ActionKind::Respond { interaction, text });
            }
            (_, Phase::Closed) => {
                let text = self.config.texts.conversation_over.clone();
                self.emit(ActionKind::Respond { interaction, text });
            }
            _ => self.notes.push(Note::Dropped {
                reason: "button does not apply now".into(),
            }),
        }
    }

    /// Hand-off: tell the user at once, open the case, bring in Flex.
    fn hand_off(&mut self) {
        if !matches!(self.conv.phase, Phase::New | Phase::Bot) {
            return;
        }
        self.conv.phase = Phase::WaitingAgent;
        self.conv.handoff_at = Some(self.now);
        let transferring = self.config.texts.transferring.clone();
        self.tell(&transferring, &[]);
        let hours = &self.config.hours;
        let opens = hours.next_open(self.now);
        if opens > self.now {
            let when = hours.describe(opens);
            let text = fill(&self.config.texts.out_of_hours, None, None, Some(&when));
            self.tell(&text, &[]);
        }
        self.conv.wait_notice_due = Some(opens.plus_millis(self.config.agent_wait_notice_ms));
        if !self.conv.case_requested {
            self.conv.case_requested = true;
            let kind = ActionKind::OpenCase {
                requester: self.conv.user,
                requester_name: self.conv.user_name.clone(),
                subject: self
                    .conv
                    .last_user_text
                    .clone()
                    .map_or_else(|| "Support request".to_owned(), |t| subject(&t)),
                transcript: self.conv.transcript.clone(),
                conversation: self.conv.id.clone(),
            };
            self.emit_pending(kind, Pending::OpenCase);
        }
        match self.conv.twilio.clone() {
            Some(sid) if self.studio() => self.studio_hand_off(sid),
            Some(sid) => self.create_interaction(sid),
            None => self.ensure_twilio(),
        }
    }

    /// Studio route: set the `handoff` flag, then bring Flex in at once instead of waiting for the
    /// user's next message. Conversations: create the Flex interaction for the conversation.
    /// Chat (no Interactions API): post the transfer notice as the bot with webhooks enabled, so
    /// the Studio flow runs, sees `handoff = true` and sends the channel to Flex.
    fn studio_hand_off(&mut self, sid: crate::ids::TwilioSid) {
        let attributes = self.attributes(true);
        self.emit(ActionKind::UpdateTwilioAttributes {
            sid: sid.clone(),
            attributes,
        });
        if self.config.mode == TwilioMode::Chat {
            let notice = self.config.texts.transferring.clone();
            for body in text::split(&notice, text::TWILIO_LIMIT) {
                self.emit(ActionKind::PostToTwilio {
                    sid: sid.clone(),
                    author: self.config.bot_identity.clone(),
                    body,
                    at: None,
                    discord_message: None,
                    webhooks: true,
                    media: None,
                });
            }
        } else {
            self.create_interaction(sid);
        }
    }

    fn create_interaction(&mut self, sid: crate::ids::TwilioSid) {
        let kind = ActionKind::CreateInteraction {
            sid,
            identity: self.conv.identity(),
            user_name: self.conv.user_name.clone(),
            case: self.conv.case.clone(),
        };
        self.emit_pending(kind, Pending::CreateInteraction);
    }

    fn on_twilio_created(&mut self, sid: crate::ids::TwilioSid) {
        self.conv.twilio = Some(sid.clone());
        if !self.conv.is_open() {
            self.emit(ActionKind::CloseTwilio {
                sid,
                interaction: None,
            });
            return;
        }
        if self.studio() {
            for post in std::mem::take(&mut self.conv.twilio_backlog) {
                self.post_user_message(post.body, post.discord_message, post.media);
            }
            if self.conv.phase == Phase::WaitingAgent {
                self.studio_hand_off(sid);
            }
        } else {
            // Direct route: back-fill the transcript with authors and original times.
            let bot = self.config.bot_identity.clone();
            for entry in self.conv.transcript.clone() {
                let author = match &entry.speaker {
                    Speaker::User => self.conv.identity(),
                    Speaker::Bot => bot.clone(),
                    Speaker::Agent(a) => a.clone(),
                };
                for body in text::split(&entry.text, text::TWILIO_LIMIT) {
                    self.emit(ActionKind::PostToTwilio {
                        sid: sid.clone(),
                        author: author.clone(),
                        body,
                        at: Some(entry.at),
                        discord_message: None,
                        webhooks: false,
                        media: None,
                    });
                }
            }
            if self.conv.case.is_some() {
                let attributes = self.attributes(true);
                self.emit(ActionKind::UpdateTwilioAttributes {
                    sid: sid.clone(),
                    attributes,
                });
            }
            self.create_interaction(sid);
        }
    }

    fn on_case_opened(&mut self, number: CaseNumber) {
        self.conv.case = Some(number.clone());
        if self.conv.is_open() {
            let text = fill(&self.config.texts.case_number, Some(&number), None, None);
            self.tell(&text, &[]);
        }
        for entry in std::mem::take(&mut self.conv.case_backlog) {
            self.emit(ActionKind::AnnotateCase {
                number: number.clone(),
                entry,
            });
        }
        self.announce_join(false);
        if let Some(sid) = self.conv.twilio.clone().filter(|_| self.conv.is_open()) {
            let attributes = self.attributes(self.conv.phase != Phase::Bot);
            self.emit(ActionKind::UpdateTwilioAttributes { sid, attributes });
        }
        if let Some(by) = self.conv.closed_by {
            self.emit(ActionKind::UpdateCase {
                number,
                update: CaseUpdate::Resolved { by },
                requester: None,
            });
        }
    }

    fn on_joined(&mut self, who: String) {
        if who == self.conv.identity() || who == self.config.bot_identity {
            return;
        }
        if !self.conv.is_open() {
            self.notes.push(Note::Dropped {
                reason: "participant joined a closed conversation".into(),
            });
            return;
        }
        if matches!(self.conv.phase, Phase::New | Phase::Bot) {
            // The flow handed off on its own (studio route).
            self.hand_off();
        }
        self.conv.phase = Phase::WithAgent;
        self.conv.agent = Some(who.clone());
        self.conv.wait_notice_due = None;
        self.lookup_agent_name(&who);
        // Told after the case number and, for a while, the agent's name.
        self.conv.joined_notice_pending = Some(who);
        self.announce_join(false);
    }

    /// Twilio's answer to `LookupAgentName`: the name is kept (cleaned, never an e-mail
    /// address) and the joined notice, if waiting, goes out.
    fn on_agent_named(&mut self, action_id: &ActionId, identity: String, name: Option<&str>) {
        self.conv.pending.remove(action_id);
        if let Some(name) = name.and_then(crate::conversation::clean_agent_name) {
            self.conv.agent_names.insert(identity, name);
            while self.conv.agent_names.len() > AGENT_NAMES_MAX {
                let Some(other) = self
                    .conv
                    .agent_names
                    .keys()
                    .find(|k| self.conv.agent.as_ref() != Some(*k))
                    .cloned()
                else {
                    break;
                };
                self.conv.agent_names.remove(&other);
            }
        }
        self.announce_join(true);
    }

    /// Asks Twilio for the name customers see for `identity`, unless it is known or asked.
    fn lookup_agent_name(&mut self, identity: &str) {
        let asked = self
            .conv
            .pending
            .values()
            .any(|p| matches!(p, Pending::AgentName { identity: i } if i == identity));
        if self.conv.agent_names.contains_key(identity) || asked {
            return;
        }
        self.conv.agent_name_due = Some(self.now.plus_millis(self.config.agent_name_wait_ms));
        self.emit_pending(
            ActionKind::LookupAgentName {
                identity: identity.to_owned(),
            },
            Pending::AgentName {
                identity: identity.to_owned(),
            },
        );
    }

    /// Tells the user an agent joined once the case number is out (or the case failed) and the
    /// agent's name is known; `give_up_on_name` sends it with the fallback name instead of
    /// waiting for a lookup still on its way.
    fn announce_join(&mut self, give_up_on_name: bool) {
        let Some(agent) = self.conv.joined_notice_pending.clone() else {
            return;
        };
        if self.conv.case.is_none() && !self.conv.case_failed {
            return;
        }
        let asking = self
            .conv
            .pending
            .values()
            .any(|p| matches!(p, Pending::AgentName { identity } if *identity == agent));
        if asking && !give_up_on_name && !self.conv.agent_names.contains_key(&agent) {
            return;
        }
        self.conv.joined_notice_pending = None;
        self.conv.agent_name_due = None;
        self.agent_joined_outcome(agent);
    }

    fn agent_joined_outcome(&mut self, agent: String) {
        if !self.conv.is_open() {
            return;
        }
        let name = self.conv.agent_name(&agent);
        let text = fill(&self.config.texts.agent_joined, None, Some(&name), None);
        self.tell(&text, &[]);
        if let Some(number) = self.conv.case.clone() {
            self.emit(ActionKind::UpdateCase {
                number,
                update: CaseUpdate::Open {
                    assignee: agent,
                    assignee_name: Some(name),
                },
                requester: None,
            });
        }
    }

    fn on_twilio_message(
        &mut self,
        message: &TwilioMessageSid,
        author: String,
        body: &str,
        attachments: &[Attachment],
    ) {
        // Contact-center messages are recognised by author, never by `Source`.
        if author == self.conv.identity() || author == self.config.bot_identity {
            self.notes.push(Note::Dropped {
                reason: "echo of our own message".into(),
            });
            return;
        }
        if !self.conv.is_open() {
            self.notes.push(Note::Dropped {
                reason: "message for a closed conversation".into(),
            });
            return;
        }
        self.conv.last_activity = self.now;
        // The agent is talking: the joined notice goes first, with whatever name is known.
        self.announce_join(true);
        let line = text::with_attachment_links(body, attachments);
        self.record(Speaker::Agent(author.clone()), line.clone());
        if self.conv.dm_unreachable {
            self.notes.push(Note::Dropped {
                reason: "user cannot receive DMs".into(),
            });
        } else {
            // The text in pieces, then one message per file (uploaded to Discord).
            let pieces = text::for_discord(body, &[]);
            let files = attachments.iter().map(|a| vec![a.clone()]);
            let dms = pieces
                .into_iter()
                .map(|text| (text, Vec::new()))
                .chain(files.map(|files| (String::new(), files)));
            for (i, (text, files)) in dms.enumerate() {
                let dm = QueuedDm {
                    text,
                    buttons: Vec::new(),
                    forwarded: files.is_empty().then(|| message.clone()),
                    part: part_number(i),
                    files,
                };
                self.send_dm(dm, Vec::new());
            }
        }
        self.annotate(Speaker::Agent(author), line);
    }

    fn on_twilio_edit(&mut self, message: &TwilioMessageSid, author: &str, body: &str) {
        if author == self.conv.identity() || author == self.config.bot_identity {
            return;
        }
        self.edit_forwarded(message, body);
    }

    /// An agent edited a forwarded message: the new text is split again and the Discord parts
    /// are edited in order; parts the new text needs beyond the old ones are sent, surplus old
    /// parts deleted. While parts of the message are still on their way to Discord the edit
    /// waits for them (only the latest text is kept).
    fn edit_forwarded(&mut self, message: &TwilioMessageSid, body: &str) {
        if !self.conv.is_open() {
            self.notes.push(Note::Dropped {
                reason: "edit of a message not forwarded".into(),
            });
            return;
        }
        if self.conv.dm_unreachable {
            self.notes.push(Note::Dropped {
                reason: "user cannot receive DMs".into(),
            });
            return;
        }
        if self.in_flight(message) {
            self.conv.waiting_edits.retain(|w| &w.twilio != message);
            push_bounded(
                &mut self.conv.waiting_edits,
                WaitingEdit {
                    twilio: message.clone(),
                    body: body.to_owned(),
                },
                WAITING_EDITS_MAX,
            );
            return;
        }
        let mut parts: Vec<&Forwarded> = self
            .conv
            .forwarded
            .iter()
            .filter(|f| &f.twilio == message)
            .collect();
        parts.sort_by_key(|f| f.part);
        let parts: Vec<MessageId> = parts.into_iter().map(|f| f.discord).collect();
        let Some(channel) = self.conv.dm_channel.filter(|_| !parts.is_empty()) else {
            self.notes.push(Note::Dropped {
                reason: "edit of a message not forwarded".into(),
            });
            return;
        };
        let pieces = text::for_discord(body, &[]);
        if pieces.is_empty() {
            // Discord cannot show an empty message; removing a message is another event.
            self.notes.push(Note::Dropped {
                reason: "blank edit".into(),
            });
            return;
        }
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            if let Some(discord) = parts.get(i) {
                self.emit(ActionKind::EditDm {
                    channel,
                    message: *discord,
                    text: piece,
                });
            } else {
                let dm = QueuedDm {
                    text: piece,
                    buttons: Vec::new(),
                    forwarded: Some(message.clone()),
                    part: part_number(i),
                    files: Vec::new(),
                };
                self.send_dm(dm, Vec::new());
            }
        }
        for discord in parts.iter().skip(count) {
            self.emit(ActionKind::DeleteDm {
                channel,
                message: *discord,
            });
        }
        let surplus: Vec<MessageId> = parts.iter().skip(count).copied().collect();
        self.conv
            .forwarded
            .retain(|f| !(&f.twilio == message && surplus.contains(&f.discord)));
    }

    fn on_delivered(
        &mut self,
        action_id: &ActionId,
        upstream_id: Option<String>,
        forwarded: Option<Forward>,
    ) {
        let pending = self.conv.pending.remove(action_id);
        if matches!(pending, Some(Pending::SendDm { .. }))
            && let Some(interaction) = self.conv.help.take()
        {
            // A DM reached the user: `/helpme` is answered.
            let text = self.config.texts.help_ack.clone();
            self.emit(ActionKind::Respond { interaction, text });
        }
        if matches!(pending, Some(Pending::CreateInteraction)) {
            self.conv.flex = upstream_id.as_deref().and_then(FlexInteraction::parse);
            if !self.conv.is_open()
                && let Some(sid) = self.conv.twilio.clone()
            {
                // Closed while Flex was being brought in: end the task it made too.
                let interaction = self.conv.flex.clone();
                self.emit(ActionKind::CloseTwilio { sid, interaction });
            }
            return;
        }
        // A part of an agent's message (stored states of earlier versions say it in the
        // pending entry instead).
        let forwarded = forwarded.or(match pending {
            Some(Pending::SendDm {
                forwarded: Some(twilio),
                part,
            }) => Some(Forward { twilio, part }),
            _ => None,
        });
        if let Some(Forward { twilio, part }) = forwarded {
            if let Some(i) = self.conv.sending.iter().position(|s| s.twilio == twilio) {
                self.conv.sending[i].left = self.conv.sending[i].left.saturating_sub(1);
                if self.conv.sending[i].left == 0 {
                    self.conv.sending.remove(i);
                }
            }
            if let Some(discord) = upstream_id.and_then(|id| id.parse().ok()) {
                self.remember_part(Forwarded {
                    twilio: twilio.clone(),
                    discord: MessageId(discord),
                    part,
                });
            }
            self.edit_when_complete(&twilio);
        }
    }

    /// Whether a part of this forwarded message has not reached Discord yet.
    fn in_flight(&self, message: &TwilioMessageSid) -> bool {
        self.conv.sending.iter().any(|s| &s.twilio == message)
            || self
                .conv
                .dm_backlog
                .iter()
                .any(|d| d.forwarded.as_ref() == Some(message))
    }

    /// Records the Discord message one part became. The oldest messages are forgotten whole,
    /// so a remembered message always has all its parts.
    fn remember_part(&mut self, entry: Forwarded) {
        self.conv
            .forwarded
            .retain(|f| !(f.twilio == entry.twilio && f.part == entry.part));
        self.conv.forwarded.push(entry);
        while self.conv.forwarded.len() > FORWARDED_MAX {
            let oldest = self.conv.forwarded[0].twilio.clone();
            self.conv.forwarded.retain(|f| f.twilio != oldest);
        }
    }

    /// Applies the edit waiting for `message` once all its parts reached Discord.
    fn edit_when_complete(&mut self, message: &TwilioMessageSid) {
        if self.in_flight(message) {
            return;
        }
        if let Some(i) = self
            .conv
            .waiting_edits
            .iter()
            .position(|w| &w.twilio == message)
        {
            let edit = self.conv.waiting_edits.remove(i);
            self.edit_forwarded(message, &edit.body);
        }
    }

    fn on_bot_reply(&mut self, reply: &BotReply) {
        if !matches!(self.conv.phase, Phase::New | Phase::Bot) {
            self.notes.push(Note::Dropped {
                reason: "bot reply after the hand-off".into(),
            });
            return;
        }
        self.conv.phase = Phase::Bot;
        let count = reply.messages.len();
        for (n, message) in reply.messages.iter().enumerate() {
            self.record(Speaker::Bot, message.clone());
            let pieces = text::for_discord(message, &[]);
            let last_piece = pieces.len().saturating_sub(1);
            for (i, piece) in pieces.into_iter().enumerate() {
                let last = n + 1 == count && i == last_piece;
                let buttons = match (last && !reply.handoff, reply.confidence) {
                    (false, _) => Vec::new(),
                    (true, Confidence::Sure | Confidence::Unsure) => {
                        vec![Button::TalkToAgent, Button::Solved]
                    }
                    // Nothing fitted: nothing to call solved.
                    (true, Confidence::Unknown) => vec![Button::TalkToAgent],
                };
                let suggestions = if last {
                    reply.suggestions.clone()
                } else {
                    Vec::new()
                };
                let dm = QueuedDm {
                    text: piece,
                    buttons,
                    forwarded: None,
                    part: 0,
                    files: Vec::new(),
                };
                self.send_dm(dm, suggestions);
            }
            if let Some(sid) = self.conv.twilio.clone().filter(|_| self.studio()) {
                for body in text::split(message, text::TWILIO_LIMIT) {
                    self.emit(ActionKind::PostToTwilio {
                        sid: sid.clone(),
                        author: self.config.bot_identity.clone(),
                        body,
                        at: None,
                        discord_message: None,
                        webhooks: false,
                        media: None,
                    });
                }
            }
        }
        if reply.handoff {
            self.hand_off();
        }
    }

    fn close(&mut self, by: ResolvedBy, text: &str, close_twilio: bool) {
        if !self.conv.is_open() {
            return;
        }
        let rate = self.conv.case_requested;
        self.conv.phase = Phase::Closed;
        self.conv.closed_by = Some(by);
        self.conv.wait_notice_due = None;
        self.conv.joined_notice_pending = None;
        self.conv.agent_name_due = None;
        let buttons: Vec<Button> = if rate {
            (1..=5).map(Button::Rate).collect()
        } else {
            Vec::new()
        };
        self.tell(text, &buttons);
        if close_twilio && let Some(sid) = self.conv.twilio.clone() {
            let interaction = self.conv.flex.clone();
            self.emit(ActionKind::CloseTwilio { sid, interaction });
        }
        if let Some(number) = self.conv.case.clone() {
            self.emit(ActionKind::UpdateCase {
                number,
                update: CaseUpdate::Resolved { by },
                requester: (by == ResolvedBy::Requester).then_some(self.conv.user),
            });
        }
    }

    fn on_failed(
        &mut self,
        action_id: ActionId,
        permanent: bool,
        reason: String,
        of: Option<FailedAction>,
    ) {
        // Actions without a pending entry say what they were.
        let pending = self.conv.pending.remove(&action_id).or(match of {
            Some(FailedAction::Dm) => Some(Pending::SendDm {
                forwarded: None,
                part: 0,
            }),
            Some(FailedAction::Post { author }) => Some(Pending::PostToTwilio {
                notice: author == self.config.bot_identity,
            }),
            None => None,
        });
        let Some(pending) = pending else {
            self.notes.push(Note::Failed { action_id, reason });
            return;
        };
        self.notes.push(Note::Failed {
            action_id,
            reason: reason.clone(),
        });
        match pending {
            Pending::OpenDm | Pending::SendDm { .. } => {
                self.conv.sending.clear();
                self.conv.dm_backlog.clear();
                self.conv.waiting_edits.clear();
                if let Some(interaction) = self.conv.help.take() {
                    // `/helpme`: say why no DM came, in the ephemeral answer.
                    let texts = &self.config.texts;
                    let text = if permanent {
                        texts.dms_closed.clone()
                    } else {
                        texts.dm_failed.clone()
                    };
                    self.emit(ActionKind::Respond { interaction, text });
                }
                if self.conv.dm_unreachable {
                    return;
                }
                self.conv.dm_unreachable = true;
                // Agent-visible outcome; the notice goes out without webhooks (no loop).
                let text = self
                    .config
                    .texts
                    .user_unreachable
                    .replace("{reason}", &reason);
                if let Some(sid) = self.conv.twilio.clone().filter(|_| self.conv.is_open()) {
                    self.emit(ActionKind::PostToTwilio {
                        sid,
                        author: self.config.bot_identity.clone(),
                        body: text::split(&text, text::TWILIO_LIMIT)
                            .into_iter()
                            .next()
                            .unwrap_or_default(),
                        at: None,
                        discord_message: None,
                        webhooks: false,
                        media: None,
                    });
                }
                self.annotate(Speaker::Bot, text);
                if matches!(self.conv.phase, Phase::New | Phase::Bot) && !self.studio() {
                    // Nobody else is in this conversation: end it.
                    self.conv.phase = Phase::Closed;
                    self.conv.closed_by = Some(ResolvedBy::Unreachable);
                }
            }
            Pending::CreateTwilio | Pending::CreateInteraction => {
                let text = self.config.texts.agents_unavailable.clone();
                self.close(ResolvedBy::Unreachable, &text, true);
            }
            Pending::PostToTwilio { notice: false } => {
                let text = self.config.texts.twilio_gone.clone();
                self.close(ResolvedBy::Unreachable, &text, false);
            }
            Pending::PostToTwilio { notice: true } => {}
            Pending::OpenCase => {
                self.conv.case_failed = true;
                self.conv.case_backlog.clear();
                self.announce_join(false);
            }
            Pending::AgentName { .. } => self.announce_join(true),
            Pending::CatchUp => self.on_catch_up_failed(),
            Pending::AskBot => {
                if matches!(self.conv.phase, Phase::New | Phase::Bot) {
                    let text = self.config.texts.bot_unavailable.clone();
                    self.tell(&text, &[Button::TalkToAgent]);
                }
            }
        }
    }

    fn on_tick(&mut self) {
        if !self.conv.is_open() {
            return;
        }
        self.release_overdue();
        if self.conv.phase == Phase::WaitingAgent
            && self.conv.wait_notice_due.is_some_and(|due| due <= self.now)
        {
            self.conv.wait_notice_due = None;
            let text = self.config.texts.still_looking.clone();
            self.tell(&text, &[]);
        }
        if self.conv.agent_name_due.is_some_and(|due| due <= self.now) {
            // The name did not come in time: the notice goes out with the local part.
            self.announce_join(true);
        }
        let idle_due = wake_idle(self.config, &self.conv);
        if idle_due <= self.now {
            // A bot-only chat ends quietly; a support conversation says why it ended.
            let text = if matches!(self.conv.phase, Phase::New | Phase::Bot) {
                String::new()
            } else {
                self.config.texts.closed_idle.clone()
            };
            self.close(ResolvedBy::Idle, &text, true);
        }
    }
}

fn wake_idle(config: &RouterConfig, conv: &Conversation) -> Timestamp {
    let from = if conv.phase == Phase::WaitingAgent {
        conv.last_activity
            .max(config.hours.next_open(conv.last_activity))
    } else {
        conv.last_activity
    };
    from.plus_millis(config.idle_close_ms)
}

/// A case subject from a message: its first line, at most 120 characters.
fn subject(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    let s: String = line.chars().take(120).collect();
    if s.is_empty() {
        "Support request".to_owned()
    } else {
        s
    }
}
