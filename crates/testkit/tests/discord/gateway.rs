//! Gateway: READY, `GUILD_CREATE`, dispatch delivery, resume, sharding, intents.

use std::time::Duration;

use flexcord_testkit::discord::DiscordConfig;
use twilight_gateway::{Event, Intents, ShardId};
use twilight_model::id::Id;

use crate::{WAIT, emulator, emulator_with, intents, next_where, ready_shard, shard};

#[tokio::test]
async fn identify_gets_ready_with_own_resume_url_and_the_guild() {
    let emu = emulator().await;
    let mut s = shard(&emu, ShardId::ONE, intents());
    let ready = next_where(&mut s, |e| match e {
        Event::Ready(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(ready.resume_gateway_url, emu.gateway_url());
    assert_eq!(ready.user.id.get(), emu.bot_id());
    assert_eq!(ready.application.id.get(), emu.application_id());
    assert_eq!(ready.guilds.len(), 1);
    let guild = next_where(&mut s, |e| match e {
        Event::GuildCreate(g) => Some(g),
        _ => None,
    })
    .await;
    assert_eq!(guild.id().get(), emu.guild_id());
    let sessions = emu.state(flexcord_testkit::discord::DiscordState::sessions);
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].intents, intents().bits());
    assert_eq!(sessions[0].shard, [0, 1]);
}

#[tokio::test]
async fn injected_dm_arrives_as_message_create() {
    let emu = emulator().await;
    let mut s = ready_shard(&emu).await;
    let alice = emu.user_id("alice").expect("default user");
    let injected = emu.inject_dm(alice, "hello <@1>").expect("inject");
    let msg = next_where(&mut s, |e| match e {
        Event::MessageCreate(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(msg.id.get(), injected.id);
    assert_eq!(msg.channel_id.get(), injected.channel_id);
    assert_eq!(msg.author.id.get(), alice);
    assert_eq!(msg.content, "hello <@1>");
    assert!(msg.guild_id.is_none());
    assert_eq!(
        emu.state(|st| st.dm_channel(alice)),
        Some(injected.channel_id)
    );
}

#[tokio::test]
async fn guild_message_without_message_content_intent_is_emptied() {
    let emu = emulator().await;
    let general = emu.channel_id("general").expect("channel");
    let alice = emu.user_id("alice").expect("user");
    let mut s = shard(
        &emu,
        ShardId::ONE,
        Intents::GUILDS | Intents::GUILD_MESSAGES,
    );
    next_where(&mut s, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    emu.inject_guild_message(general, alice, "secret")
        .expect("inject");
    let bot = emu.bot_id();
    emu.inject_guild_message(general, alice, &format!("<@{bot}> help"))
        .expect("inject");
    let first = next_where(&mut s, |e| match e {
        Event::MessageCreate(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(first.content, "");
    assert_eq!(first.guild_id.map(Id::get), Some(emu.guild_id()));
    assert!(first.member.is_some());
    let second = next_where(&mut s, |e| match e {
        Event::MessageCreate(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(second.content, format!("<@{bot}> help"));
}

#[tokio::test]
async fn event_injected_before_connecting_is_delivered_after_ready() {
    let emu = emulator().await;
    let alice = emu.user_id("alice").expect("user");
    emu.inject_dm(alice, "early").expect("inject");
    let mut s = shard(&emu, ShardId::ONE, intents());
    let msg = next_where(&mut s, |e| match e {
        Event::MessageCreate(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(msg.content, "early");
}

#[tokio::test]
async fn resume_after_dropped_connection_replays_missed_dispatches() {
    let emu = emulator().await;
    let mut s = ready_shard(&emu).await;
    let alice = emu.user_id("alice").expect("user");
    emu.inject_dm(alice, "before").expect("inject");
    next_where(&mut s, |e| match e {
        Event::MessageCreate(m) if m.content == "before" => Some(()),
        _ => None,
    })
    .await;

    // Drop the TCP connection, then inject while the shard is away.
    assert_eq!(emu.drop_connections(None), 1);
    emu.inject_dm(alice, "while away").expect("inject");

    let mut seen_resumed = false;
    let msg = next_where(&mut s, |e| match e {
        Event::Resumed => {
            seen_resumed = true;
            None
        }
        Event::MessageCreate(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(msg.content, "while away");
    let sessions = emu.state(flexcord_testkit::discord::DiscordState::sessions);
    assert_eq!(sessions.len(), 1, "resumed, not re-identified");
    assert_eq!(sessions[0].resumes, 1);
    assert_eq!(
        emu.state(flexcord_testkit::discord::DiscordState::identify_count),
        1
    );
    // RESUMED comes after the replay.
    next_where(&mut s, |e| {
        (seen_resumed || matches!(e, Event::Resumed)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn reconnect_request_resumes_and_invalid_session_reidentifies() {
    let emu = emulator().await;
    let mut s = ready_shard(&emu).await;
    assert_eq!(emu.request_reconnect(None), 1);
    next_where(&mut s, |e| matches!(e, Event::Resumed).then_some(())).await;
    assert_eq!(emu.invalidate_sessions(None, false), 1);
    next_where(&mut s, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    assert_eq!(
        emu.state(flexcord_testkit::discord::DiscordState::identify_count),
        2
    );
}

#[tokio::test]
async fn dms_go_to_shard_zero_and_guild_events_to_their_shard() {
    let mut config = DiscordConfig::default();
    if (config.guild_id >> 22) % 2 == 0 {
        config.guild_id += 1 << 22; // the guild lives on shard 1 of 2
    }
    let emu = emulator_with(config).await;
    let mut s0 = shard(&emu, ShardId::new(0, 2), intents());
    let mut s1 = shard(&emu, ShardId::new(1, 2), intents());
    next_where(&mut s0, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    next_where(&mut s1, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    let alice = emu.user_id("alice").expect("user");
    let general = emu.channel_id("general").expect("channel");
    emu.inject_guild_message(general, alice, "in guild")
        .expect("inject");
    emu.inject_dm(alice, "in dm").expect("inject");

    let got = next_where(&mut s1, |e| match e {
        Event::MessageCreate(m) => Some(m.content.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, "in guild");
    let dm = next_where(&mut s0, |e| match e {
        Event::MessageCreate(m) => Some(m.content.clone()),
        _ => None,
    })
    .await;
    assert_eq!(dm, "in dm");
    for s in [&mut s0, &mut s1] {
        let more = tokio::time::timeout(Duration::from_millis(300), async {
            next_where(s, |e| matches!(e, Event::MessageCreate(_)).then_some(())).await;
        })
        .await;
        assert!(more.is_err(), "a message reached the wrong shard");
    }
}

#[tokio::test]
async fn wrong_token_is_closed_fatally() {
    let emu = emulator().await;
    crate::crypto();
    let config = twilight_gateway::ConfigBuilder::new("wrong".to_owned(), intents())
        .proxy_url(emu.gateway_url())
        .build();
    let mut s = twilight_gateway::Shard::with_config(ShardId::ONE, config);
    let end = tokio::time::timeout(WAIT, async {
        use twilight_gateway::StreamExt as _;
        loop {
            if s.next_event(twilight_gateway::EventTypeFlags::all())
                .await
                .is_none()
            {
                return;
            }
        }
    })
    .await;
    assert!(end.is_ok(), "shard must end after 4004");
    assert_eq!(
        emu.state(flexcord_testkit::discord::DiscordState::identify_count),
        0
    );
}

#[tokio::test]
async fn missed_heartbeats_close_the_connection_with_4009() {
    use futures::StreamExt as _;
    let emu =
        emulator_with(DiscordConfig::default().heartbeat_interval(Duration::from_millis(200)))
            .await;
    let url = format!("{}/?v=10&encoding=json", emu.gateway_url());
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let hello = ws.next().await.expect("frame").expect("ok");
    assert!(
        hello
            .to_text()
            .unwrap_or_default()
            .contains("\"heartbeat_interval\":200")
    );
    // Never heartbeat: the server closes with 4009 after 1.5 intervals.
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(Ok(frame)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Close(Some(c)) = frame {
                return Some(u16::from(c.code));
            }
        }
        None
    })
    .await
    .expect("closed in time");
    assert_eq!(closed, Some(4009));
}

#[tokio::test]
async fn rest_changes_are_dispatched_and_deserialize() {
    use twilight_model::channel::ChannelType;
    let emu = emulator().await;
    let mut s = ready_shard_all(&emu).await;
    let client = crate::http(&emu);
    let guild = Id::new(emu.guild_id());
    let channel = client
        .create_guild_channel(guild, "news")
        .kind(ChannelType::GuildText)
        .await
        .expect("create")
        .model()
        .await
        .expect("channel");
    next_where(&mut s, |e| match e {
        Event::ChannelCreate(c) if c.id == channel.id => Some(()),
        _ => None,
    })
    .await;
    let thread = client
        .create_thread(channel.id, "case-1", ChannelType::PrivateThread)
        .await
        .expect("thread")
        .model()
        .await
        .expect("channel");
    next_where(&mut s, |e| match e {
        Event::ThreadCreate(t) if t.id == thread.id => Some(()),
        _ => None,
    })
    .await;
    let msg = client
        .create_message(thread.id)
        .content("first")
        .await
        .expect("message")
        .model()
        .await
        .expect("message");
    let echoed = next_where(&mut s, |e| match e {
        Event::MessageCreate(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(echoed.id, msg.id);
    assert_eq!(
        echoed.author.id.get(),
        emu.bot_id(),
        "the bot sees its own message"
    );
    client
        .update_message(thread.id, msg.id)
        .content(Some("edited"))
        .await
        .expect("edit");
    let updated = next_where(&mut s, |e| match e {
        Event::MessageUpdate(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(updated.content, "edited");
    client
        .delete_message(thread.id, msg.id)
        .await
        .expect("delete");
    let deleted = next_where(&mut s, |e| match e {
        Event::MessageDelete(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(deleted.id, msg.id);
    client
        .update_thread(thread.id)
        .archived(true)
        .locked(true)
        .await
        .expect("archive");
    next_where(&mut s, |e| match e {
        Event::ThreadUpdate(t) if t.id == thread.id => Some(()),
        _ => None,
    })
    .await;
    let refused = client.create_message(thread.id).content("late").await;
    assert!(refused.is_err(), "a locked thread refuses messages");
}

/// A shard with every intent the emulator knows about, after READY.
async fn ready_shard_all(
    emu: &flexcord_testkit::discord::DiscordEmulator,
) -> twilight_gateway::Shard {
    let mut s = shard(emu, ShardId::ONE, intents());
    next_where(&mut s, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    s
}

/// A raw websocket client, for what twilight never does on purpose.
async fn raw_identified(
    emu: &flexcord_testkit::discord::DiscordEmulator,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    serde_json::Value,
) {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("{}/?v=10&encoding=json", emu.gateway_url());
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let _hello = ws.next().await.expect("hello").expect("ok");
    let identify = serde_json::json!({"op": 2, "d": {"token": format!("Bot {}", crate::TOKEN), "intents": 4608, "properties": {}}});
    ws.send(Message::text(identify.to_string()))
        .await
        .expect("send");
    let ready = ws.next().await.expect("ready").expect("ok");
    let ready: serde_json::Value =
        serde_json::from_str(ready.to_text().unwrap_or_default()).expect("json");
    (ws, ready)
}

async fn close_code(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<u16> {
    use futures::StreamExt as _;
    tokio::time::timeout(WAIT, async {
        while let Some(Ok(frame)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Close(Some(c)) = frame {
                return Some(u16::from(c.code));
            }
        }
        None
    })
    .await
    .expect("closed in time")
}

#[tokio::test]
async fn too_many_gateway_commands_close_with_4008() {
    use futures::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let emu = emulator().await;
    let (mut ws, ready) = raw_identified(&emu).await;
    assert_eq!(ready["t"], "READY");
    for _ in 0..125 {
        if ws.send(Message::text(r#"{"op":1,"d":1}"#)).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut ws).await, Some(4008));
}

#[tokio::test]
async fn resume_with_a_future_sequence_closes_with_4007() {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let emu = emulator().await;
    let (ws, ready) = raw_identified(&emu).await;
    let session = ready["d"]["session_id"]
        .as_str()
        .expect("session")
        .to_owned();
    drop(ws);
    let url = format!("{}/?v=10&encoding=json", emu.gateway_url());
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let _hello = ws.next().await;
    let resume = serde_json::json!({"op": 6, "d": {"token": crate::TOKEN, "session_id": session, "seq": 999}});
    ws.send(Message::text(resume.to_string()))
        .await
        .expect("send");
    assert_eq!(close_code(&mut ws).await, Some(4007));
}

#[tokio::test]
async fn a_client_close_is_echoed_with_its_code() {
    use futures::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::{CloseFrame, frame::coding::CloseCode};
    let emu = emulator().await;
    let (mut ws, _ready) = raw_identified(&emu).await;
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::from(4000),
        reason: "bye".into(),
    })))
    .await
    .expect("send close");
    assert_eq!(close_code(&mut ws).await, Some(4000));
}
