//! Every slash command, form and button end to end, through the app as `flexcord run` builds
//! it: what the user reads at the end, the Twilio conversation and task, and the case.

use std::time::Duration;

use flexcord_cases::{CaseKind, CaseNumber, CaseStatus, TimelineEvent};
use flexcord_testkit::discord::{ModalSubmit, SlashCommand, StoredMessage};
use flexcord_testkit::twilio::TaskStatus;

use crate::bridge::{ALICE, BOT_SECRET, Bridge, WAIT, button};
use crate::support::outbox_rows;

fn number(n: u32) -> CaseNumber {
    format!("CASE-{n:06}").parse().unwrap()
}

impl Bridge {
    fn alice(&self) -> u64 {
        self.discord.user_id("alice").unwrap()
    }

    fn channel(&self, name: &str) -> u64 {
        self.discord.channel_id(name).unwrap()
    }

    /// The interaction's answer: its deferred response, once edited.
    async fn answer(&self, interaction: u64) -> String {
        self.discord
            .wait_for_value(
                |s| {
                    let record = s.interaction(interaction)?;
                    let m = s.message(record.original_message?)?;
                    (!m.content.is_empty()).then(|| m.content.clone())
                },
                WAIT,
            )
            .await
            .unwrap_or_else(|_| panic!("interaction {interaction} was never answered"))
    }

    /// The interaction's first follow-up message (the answer to a button click).
    async fn follow_up(&self, interaction: u64) -> StoredMessage {
        self.discord
            .wait_for_value(
                |s| {
                    let id = *s.interaction(interaction)?.followups.first()?;
                    s.message(id).cloned()
                },
                WAIT,
            )
            .await
            .unwrap_or_else(|_| panic!("interaction {interaction} got no follow-up"))
    }

    /// The first response type Discord got for the interaction.
    async fn acknowledged(&self, interaction: u64) -> u8 {
        let record = self
            .discord
            .wait_for_interaction_response(interaction, WAIT)
            .await
            .expect("acknowledged in time");
        record.responses[0].kind
    }

    /// `/bug` or `/new_feature` in `channel`: the form, then its submission; returns the
    /// submission's interaction id.
    async fn report(&self, user: u64, command: &str, channel: u64, form: ModalSubmit) -> u64 {
        let mut slash = SlashCommand::new(command);
        slash.channel = Some(channel);
        let cmd = self.discord.inject_slash(user, &slash).unwrap();
        assert_eq!(self.acknowledged(cmd.id).await, 9, "answered with its form");
        let record = self.discord.interaction(cmd.id).unwrap();
        let form_id = record.responses[0].data.as_ref().unwrap()["custom_id"].clone();
        assert_eq!(form_id, form.custom_id.as_str());
        let submit = form;
        let submitted = self.discord.inject_modal_submit(user, &submit).unwrap();
        assert_eq!(self.acknowledged(submitted.id).await, 5, "deferred");
        submitted.id
    }

    async fn slash(&self, user: u64, command: SlashCommand) -> String {
        let cmd = self.discord.inject_slash(user, &command).unwrap();
        assert_eq!(self.acknowledged(cmd.id).await, 5, "deferred");
        let record = self.discord.interaction(cmd.id).unwrap();
        assert!(
            record.responses[0]
                .data
                .as_ref()
                .is_some_and(|d| d["flags"] == 64),
            "ephemeral"
        );
        self.answer(cmd.id).await
    }

    /// Presses a button; returns its interaction id.
    async fn press(&self, user: u64, custom_id: &str) -> u64 {
        let click = self.discord.inject_button(user, custom_id).unwrap();
        assert_eq!(
            self.acknowledged(click.id).await,
            6,
            "acknowledged silently"
        );
        click.id
    }

    /// The case's timeline, once `done` holds for it.
    async fn timeline_when(
        &self,
        n: u32,
        what: &str,
        done: impl Fn(&[flexcord_cases::TimelineEntry]) -> bool,
    ) -> Vec<flexcord_cases::TimelineEntry> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(timeline) = self.cases.timeline(number(n)).await
                && done(&timeline)
            {
                return timeline;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timeline never {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn bug_form(title: &str) -> ModalSubmit {
    ModalSubmit::new("fc:bug")
        .field("title", title)
        .field("steps", "Open the login page")
        .field("expected", "The login form")
        .field("actual", "The app crashes")
}

#[tokio::test]
async fn helpme_in_a_guild_channel_answers_once_the_greeting_reached_the_dm() {
    let b = Bridge::start().await;
    let alice = b.alice();
    let mut helpme = SlashCommand::new("helpme");
    helpme.channel = Some(b.channel("general"));
    let text = b.slash(alice, helpme).await;
    assert_eq!(text, "I'll continue in your direct messages.");
    let greeting = b.dm_containing(alice, "virtual support assistant").await;
    assert!(button(&greeting, "fc:agent:").starts_with("fc:agent:"));
    // Nothing is handed off: no Twilio conversation, no task, no case.
    assert!(b.twilio.conversations().is_empty());
    assert!(b.twilio.tasks().is_empty());
    assert!(b.cases.get(number(1)).await.is_err());
    b.stop().await;
}

#[tokio::test]
async fn helpme_with_dms_closed_says_how_to_open_them() {
    let b = Bridge::start().await;
    let alice = b.alice();
    b.discord.block_dms(alice);
    let mut helpme = SlashCommand::new("helpme");
    helpme.channel = Some(b.channel("general"));
    let text = b.slash(alice, helpme.clone()).await;
    assert!(
        text.contains("Privacy Settings") && text.contains("/helpme"),
        "{text}"
    );
    assert!(b.discord.dms_to(alice).is_empty(), "no DM reached her");
    assert!(b.twilio.conversations().is_empty());
    assert!(b.cases.get(number(1)).await.is_err());
    // The refused DM is a dead letter with its reason, for operators.
    let rows = outbox_rows(&b.db).await;
    assert!(
        rows.iter()
            .any(|r| r.state == "dead"
                && r.last_error.as_deref().is_some_and(|e| e.contains("50007"))),
        "{rows:?}"
    );
    // Once she opens her DMs, /helpme works.
    b.discord.unblock_dms(alice);
    assert_eq!(
        b.slash(alice, helpme).await,
        "I'll continue in your direct messages."
    );
    b.dm_containing(alice, "virtual support assistant").await;
    b.stop().await;
}

#[tokio::test]
async fn bug_reports_are_filed_answered_and_announced_without_mentions() {
    let b = Bridge::start().await;
    let alice = b.alice();
    let bugs = b.channel("bug-report");
    let first = b
        .report(alice, "bug", bugs, bug_form("@everyone Login page crashes"))
        .await;
    let text = b.answer(first).await;
    assert_eq!(
        text,
        "Thanks! Your bug report **@everyone Login page crashes** is filed as **CASE-000001**."
    );
    let second = b
        .report(
            alice,
            "bug",
            bugs,
            bug_form("Login page crashes on Android"),
        )
        .await;
    let text = b.answer(second).await;
    assert!(
        text.contains("CASE-000002")
            && text.contains("may be the same as")
            && text.contains("CASE-000001"),
        "{text}"
    );
    let case = b.cases.get(number(2)).await.unwrap();
    assert_eq!(case.kind, CaseKind::Bug);
    assert_eq!(case.status, CaseStatus::New);
    assert_eq!(case.subject, "Login page crashes on Android");
    assert!(
        case.description
            .contains("Steps to reproduce:\nOpen the login page")
    );
    assert!(case.description.contains("Actual:\nThe app crashes"));
    assert_eq!(case.requester.discord_id, alice.to_string());
    assert_eq!(case.requester.name, ALICE);
    assert_eq!(case.source.channel_id, Some(bugs.to_string()));
    assert_eq!(case.source.guild_id, Some(b.discord.guild_id().to_string()));
    let timeline = b.cases.timeline(number(2)).await.unwrap();
    assert!(
        matches!(timeline[0].event, TimelineEvent::Created { .. }),
        "{timeline:?}"
    );
    // Each is announced once in #bug-report, mentioning nobody.
    let notes = b
        .discord
        .wait_for_value(
            |s| {
                let notes: Vec<StoredMessage> = s
                    .messages_in(bugs)
                    .into_iter()
                    .filter(|m| m.content.starts_with("New bug report"))
                    .cloned()
                    .collect();
                (notes.len() == 2).then_some(notes)
            },
            WAIT,
        )
        .await
        .expect("both reports announced");
    assert_eq!(
        notes[0].content,
        "New bug report **CASE-000001**: @everyone Login page crashes (from Alice)"
    );
    for note in &notes {
        let body = note.request_body.as_ref().expect("the request body");
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        assert!(note.mentions.is_empty());
    }
    // A report is no conversation: nothing in Twilio.
    assert!(b.twilio.conversations().is_empty());
    assert!(b.twilio.tasks().is_empty());
    b.stop().await;
}

#[tokio::test]
async fn a_bug_report_whose_announcement_first_fails_is_announced_once() {
    let b = Bridge::start_with(&[
        ("FLEXCORD_OUTBOX__BASE_BACKOFF", "100ms"),
        ("FLEXCORD_OUTBOX__MAX_BACKOFF", "200ms"),
    ])
    .await;
    let alice = b.alice();
    let bugs = b.channel("bug-report");
    b.discord.fail_route(
        "POST",
        &format!("channels/{bugs}/messages"),
        1,
        500,
        0,
        "Internal Server Error",
    );
    let submitted = b
        .report(alice, "bug", bugs, bug_form("Crash on start"))
        .await;
    assert!(b.answer(submitted).await.contains("CASE-000001"));
    let announcement = |s: &flexcord_testkit::discord::DiscordState| {
        s.messages_in(bugs)
            .into_iter()
            .filter(|m| m.content.starts_with("New bug report **CASE-000001**"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let notes = b
        .discord
        .wait_for_value(|s| Some(announcement(s)).filter(|n| !n.is_empty()), WAIT)
        .await
        .expect("announced after the retry");
    assert!(notes[0].content.contains("Crash on start"));
    // Retried, not duplicated: one case, one announcement, the delivery done on its second try.
    let deadline = tokio::time::Instant::now() + WAIT;
    let report = loop {
        let rows = outbox_rows(&b.db).await;
        let row = rows
            .into_iter()
            .find(|r| r.kind == "file_report")
            .expect("the report's delivery");
        if matches!(row.state.as_str(), "delivered" | "done") {
            break row;
        }
        assert!(tokio::time::Instant::now() < deadline, "{row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(report.attempts, 2, "{report:?}");
    assert!(b.cases.get(number(2)).await.is_err());
    assert_eq!(b.discord.state(announcement).len(), 1);
    b.stop().await;
}

#[tokio::test]
async fn feature_requests_are_filed_and_announced() {
    let b = Bridge::start().await;
    let alice = b.alice();
    let channel = b.channel("feature-request");
    let form = ModalSubmit::new("fc:feature")
        .field("title", "Dark mode")
        .field("description", "Please add a dark theme");
    let submitted = b.report(alice, "new_feature", channel, form).await;
    assert_eq!(
        b.answer(submitted).await,
        "Thanks! Your feature request **Dark mode** is filed as **CASE-000001**."
    );
    let case = b.cases.get(number(1)).await.unwrap();
    assert_eq!(case.kind, CaseKind::Feature);
    assert_eq!(case.description, "Please add a dark theme");
    b.discord
        .wait_for_value(
            |s| {
                s.messages_in(channel)
                    .into_iter()
                    .find(|m| {
                        m.content == "New feature request **CASE-000001**: Dark mode (from Alice)"
                    })
                    .cloned()
            },
            WAIT,
        )
        .await
        .expect("announced in #feature-request");
    assert!(b.twilio.conversations().is_empty());
    b.stop().await;
}

#[tokio::test]
async fn case_status_and_close_only_touch_the_callers_cases() {
    let b = Bridge::start().await;
    let alice = b.alice();
    let bob = b.discord.user_id("bob").unwrap();
    let form = ModalSubmit::new("fc:feature")
        .field("title", "Export to CSV")
        .field("description", "x");
    let channel = b.channel("feature-request");
    let submitted = b.report(alice, "new_feature", channel, form).await;
    b.answer(submitted).await;

    let status = |who| b.slash(who, SlashCommand::new("case").subcommand("status", []));
    assert_eq!(
        status(alice).await,
        "Your open cases:\n• **CASE-000001** feature: Export to CSV (new)"
    );
    assert_eq!(status(bob).await, "You have no open cases.");
    let one = |who, n: &str| {
        b.slash(
            who,
            SlashCommand::new("case").subcommand("status", [("number", n)]),
        )
    };
    assert_eq!(
        one(alice, "CASE-000001").await,
        "**CASE-000001** feature: Export to CSV (new)"
    );
    assert_eq!(
        one(bob, "CASE-000001").await,
        "I found no case CASE-000001 of yours."
    );
    let not_a_number = b
        .discord
        .inject_slash(
            alice,
            &SlashCommand::new("case").subcommand("status", [("number", "12x")]),
        )
        .unwrap();
    let record = b
        .discord
        .wait_for_interaction_response(not_a_number.id, WAIT)
        .await
        .unwrap();
    assert_eq!(record.responses[0].kind, 4, "told at once");

    let close = |who| {
        b.slash(
            who,
            SlashCommand::new("case").subcommand("close", [("number", "CASE-000001")]),
        )
    };
    assert_eq!(close(bob).await, "I found no case CASE-000001 of yours.");
    assert_eq!(
        b.cases.get(number(1)).await.unwrap().status,
        CaseStatus::New
    );
    assert_eq!(
        close(alice).await,
        "**CASE-000001** is now resolved. Thank you!"
    );
    let case = b.cases.get(number(1)).await.unwrap();
    assert_eq!(case.status, CaseStatus::Resolved);
    let timeline = b.cases.timeline(number(1)).await.unwrap();
    assert!(
        timeline.iter().any(|e| e.actor == format!("discord:{alice}")
            && matches!(&e.event, TimelineEvent::StatusChanged { to: CaseStatus::Resolved, reason: Some(r), .. } if r == "closed by requester")),
        "{timeline:?}"
    );
    assert_eq!(close(alice).await, "**CASE-000001** is already resolved.");
    assert_eq!(status(alice).await, "You have no open cases.");
    b.stop().await;
}

#[tokio::test]
async fn case_close_of_a_live_chat_ends_it_like_the_agent_close() {
    let b = Bridge::start().await;
    let alice = b.alice();
    let agent = b.twilio.agent("agent:zoe");
    let (sid, task) = b.agent_joins(alice, &agent).await;
    agent.send(&sid, "Hello, I am looking at it.").unwrap();
    b.dm_containing(alice, "Hello, I am looking at it.").await;

    let mut close = SlashCommand::new("case").subcommand("close", [("number", "CASE-000001")]);
    close.channel = Some(b.channel("general"));
    assert_eq!(
        b.slash(alice, close).await,
        "Case CASE-000001 will be marked resolved."
    );
    // Discord: told, and asked for a rating.
    let closed = b
        .dm_containing(alice, "You closed case CASE-000001. How did we do?")
        .await;
    for score in 1..=5 {
        assert!(button(&closed, &format!("fc:rate{score}:")).starts_with("fc:rate"));
    }
    // Twilio: the Flex task completed through the interaction, the conversation closed.
    b.until("the task completed", |t| {
        t.tasks()
            .iter()
            .any(|x| x.sid == task.sid && x.status == TaskStatus::Completed)
    })
    .await;
    b.until("the conversation closed", |t| {
        t.conversation(&sid).is_some_and(|c| c.state == "closed")
    })
    .await;
    // The case: resolved by her.
    let timeline = b
        .timeline_when(1, "resolved", |t| {
            t.iter().any(|e| {
                matches!(
                    &e.event,
                    TimelineEvent::StatusChanged {
                        to: CaseStatus::Resolved,
                        ..
                    }
                )
            })
        })
        .await;
    let resolved = timeline
        .iter()
        .find(|e| {
            matches!(
                &e.event,
                TimelineEvent::StatusChanged {
                    to: CaseStatus::Resolved,
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(resolved.actor, format!("discord:{alice}"));
    assert!(
        timeline.iter().any(|e| matches!(&e.event, TimelineEvent::Message { text, .. } if text == "Hello, I am looking at it.")),
        "{timeline:?}"
    );
    // Her rating lands on the case.
    let click = b.press(alice, &button(&closed, "fc:rate4:")).await;
    assert_eq!(
        b.follow_up(click).await.content,
        "Thanks for your feedback!"
    );
    let case = b.case_when("rated", |c| c.rating.is_some()).await;
    assert_eq!(case.rating.map(|r| r.score), Some(4));
    assert_eq!(case.status, CaseStatus::Resolved);
    // Nothing reopens it: a late agent message is not forwarded.
    let before = b.discord.dms_to(alice).len();
    let _ = agent.send(&sid, "are you still there?");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.discord.dms_to(alice).len(), before);
    assert_eq!(
        b.cases.get(number(1)).await.unwrap().status,
        CaseStatus::Resolved
    );
    b.stop().await;
}

#[tokio::test]
async fn buttons_solve_and_late_clicks_are_told_the_conversation_is_over() {
    let b = Bridge::start().await;
    let alice = b.alice();
    let answer = b.bot_answer(alice).await;
    let solved = b.press(alice, &button(&answer, "fc:solved:")).await;
    b.dm_containing(alice, "Glad that helped! This conversation is closed.")
        .await;
    // No answer is owed for a click the DM already answers.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.discord.interaction(solved).unwrap().followups.is_empty());
    // The live-agent button of the closed conversation: told, privately, that it is over.
    let late = b.press(alice, &button(&answer, "fc:agent:")).await;
    let told = b.follow_up(late).await;
    assert_eq!(
        told.content,
        "This conversation is over. Send me a message to start a new one."
    );
    assert_eq!(told.flags & 64, 64, "ephemeral");
    assert!(b.twilio.conversations().is_empty());
    assert!(b.twilio.tasks().is_empty());
    assert!(b.cases.get(number(1)).await.is_err());
    b.stop().await;
}

#[tokio::test]
async fn a_studio_bot_request_naming_the_author_from_is_answered() {
    let b = crate::chat_mode::start_chat().await;
    let alice = b.alice();
    b.discord.inject_dm(alice, "hello").unwrap();
    b.until("the chat channel", |t| !t.chat_channels().is_empty())
        .await;
    let channel = b.twilio.chat_channels()[0].sid.clone();
    let answers_before = b
        .discord
        .dms_to(alice)
        .iter()
        .filter(|m| !m.embeds.is_empty())
        .count();
    // What a flow built on the Programmable Chat trigger forwards: `From`, not `Author`.
    let form = [
        ("ChannelSid", channel.as_str()),
        ("MessageSid", "IM0123456789abcdef0123456789abcd01"),
        ("From", &format!("discord:{alice}")),
        ("Body", "I forgot my password"),
        ("FlexcordSecret", BOT_SECRET),
    ];
    let status = reqwest::Client::new()
        .post(format!("{}/twilio/bot", b.public))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
    let answer = b
        .discord
        .wait_for_value(
            |s| {
                let answers: Vec<&StoredMessage> = s
                    .dms_to(alice)
                    .into_iter()
                    .filter(|m| !m.embeds.is_empty())
                    .collect();
                (answers.len() > answers_before).then(|| answers[answers.len() - 1].clone())
            },
            WAIT,
        )
        .await
        .expect("the bot's answer in the DM");
    assert!(
        answer.embeds[0]["title"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    // The answer is written to the channel as the bot.
    b.until("the bot's reply in the channel", |t| {
        t.chat_messages(&channel)
            .iter()
            .any(|m| m.from == "flexcord-bot" && m.body.as_deref() == Some(answer.content.as_str()))
    })
    .await;
    b.stop().await;
}
