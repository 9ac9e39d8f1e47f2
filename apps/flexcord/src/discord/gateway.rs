//! The Discord side at run time: the REST client, the shards of this process and their event
//! loops.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt as _,
};
use twilight_http::Client;
use twilight_http_ratelimiting::RateLimiter;

use flexcord_store::Engine;

use super::interactions::InteractionHandler;
use crate::config::DiscordConfig;
use crate::health::{Health, ShardHealth};

/// Discord closed a shard for good (a close code twilight does not reconnect after: 4004
/// authentication failed, 4010 invalid shard, 4011 sharding required, 4012 invalid API
/// version, 4013 invalid intents, 4014 disallowed intents): the configuration must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Discord closed shard {shard} for good{}", .code.map_or_else(String::new, |c| format!(": {}", describe_close(c))))]
pub struct ShardFailed {
    /// The shard.
    pub shard: u32,
    /// The close code, when Discord sent one.
    pub code: Option<u16>,
}

/// A gateway close code, its name, and for those that end a shard for good what to change.
pub fn describe_close(code: u16) -> String {
    let name = twilight_model::gateway::CloseCode::try_from(code)
        .map_or_else(|_| "unknown close code".to_owned(), |c| c.to_string());
    let fix = match code {
        4004 => ": discord.token is not a valid bot token",
        4010 => ": discord.shards names a shard Discord does not accept",
        4011 => ": the bot needs more shards (set discord.shards)",
        4012 => ": the gateway API version is not accepted",
        4013 => ": the intents asked for are invalid",
        4014 => {
            ": a privileged intent is not enabled for the bot (enable Message Content in the Developer Portal, Bot page)"
        }
        _ => "",
    };
    format!("{code} {name}{fix}")
}

/// The gateway intents the bridge needs (guilds, guild and direct messages, message content).
pub const INTENTS: Intents = Intents::GUILDS
    .union(Intents::GUILD_MESSAGES)
    .union(Intents::DIRECT_MESSAGES)
    .union(Intents::MESSAGE_CONTENT);

/// The REST client for the configured API URL (the real Discord, or an emulator).
pub fn http_client(config: &DiscordConfig) -> Client {
    let mut builder = Client::builder()
        .token(config.token.expose().to_owned())
        .ratelimiter(Some(RateLimiter::new(config.global_rate_limit)));
    if let Some((host, use_http)) = config.http_proxy() {
        builder = builder.proxy(host, use_http);
    }
    builder.build()
}

/// Direct messages are recorded in the order Discord sent them, per author: each author maps
/// to one of this many lanes per shard, and a lane records its messages one after the other
/// (different authors still proceed in parallel).
const DM_LANES: u64 = 8;

/// How often a lane tries to record a message while the store fails, before giving up.
const DM_RECORD_ATTEMPTS: u32 = 6;

/// Records `event` through `engine`, trying again with a doubling delay while the store fails.
async fn record_dm(engine: &Engine, event: flexcord_routing::Event) {
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=DM_RECORD_ATTEMPTS {
        match crate::driver::apply(engine, event.clone()).await {
            Ok(_) => return,
            Err(e) if attempt < DM_RECORD_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "a direct message could not be recorded yet; trying again");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::error!(error = %e, event = ?event, "a direct message could not be recorded");
            }
        }
    }
}

/// A direct message for a lane: the event, its trace and the span to record it in.
type LaneItem = (
    flexcord_routing::Event,
    crate::trace::TraceId,
    tracing::Span,
);

/// One lane: records the messages it is given, in order, each in its trace and span, until its
/// sender is dropped.
async fn dm_lane(engine: Arc<Engine>, mut events: tokio::sync::mpsc::UnboundedReceiver<LaneItem>) {
    while let Some((event, trace, span)) = events.recv().await {
        let engine = &engine;
        trace
            .scope(
                async move {
                    tracing::info!("direct message received");
                    record_dm(engine, event).await;
                }
                .instrument(span),
            )
            .await;
    }
}

/// Runs this process's shards until `shutdown` is cancelled, keeping each shard's state in
/// `health`. Interactions are handed to `handler`, each in its own task so the 3-second
/// acknowledgement never waits behind another. On shutdown each shard is closed and polled
/// until it reports closed, within `grace`. Each new session of the shard that receives DMs
/// starts a catch-up sweep of the open conversations' DM history
/// ([`super::catch_up::discord_sweep`], paced at `sweep_rate` conversations per second).
///
/// # Errors
/// [`ShardFailed`] as soon as Discord closes a shard for good (the others are stopped).
pub async fn run_shards(
    config: &DiscordConfig,
    handler: Arc<InteractionHandler>,
    engine: Arc<Engine>,
    health: &Health,
    shutdown: CancellationToken,
    grace: Duration,
    sweep_rate: u32,
) -> Result<(), ShardFailed> {
    let gateway_config = ConfigBuilder::new(config.token.expose().to_owned(), INTENTS)
        .proxy_url(config.gateway_base())
        .build();
    let mut shards = JoinSet::new();
    for id in config.shards.ids() {
        let shard = Shard::with_config(
            ShardId::new(id, config.shards.total()),
            gateway_config.clone(),
        );
        let state = health
            .shard(id)
            .unwrap_or_else(|| Arc::new(ShardHealth::detached(id)));
        shards.spawn(shard_loop(
            shard,
            handler.clone(),
            engine.clone(),
            state,
            shutdown.clone(),
            (grace, sweep_rate),
        ));
    }
    if config.shards.receives_dms() {
        tracing::info!(shards = %config.shards, "this process runs shard 0 and receives every DM");
    }
    while let Some(ended) = shards.join_next().await {
        if let Ok(Err(failed)) = ended {
            return Err(failed);
        }
    }
    Ok(())
}

/// Hands a direct message to its author's lane (messages the bridge does not route are
/// skipped).
fn to_lane(
    message: &twilight_model::gateway::payload::incoming::MessageCreate,
    bot: twilight_model::id::Id<twilight_model::id::marker::UserMarker>,
    lanes: &[tokio::sync::mpsc::UnboundedSender<LaneItem>],
) {
    if let Some(event) = super::inbound::from_message(message, bot)
        && let Ok(lane) = usize::try_from(message.author.id.get() % DM_LANES)
        && let Some(lane) = lanes.get(lane)
    {
        let trace = crate::trace::for_message(message.id.get());
        let span = tracing::info_span!(
            "discord_message",
            trace = trace.as_str(),
            user = message.author.id.get(),
            channel = message.channel_id.get(),
            message = message.id.get(),
        );
        if lane.send((event, trace, span)).is_err() {
            tracing::error!("a direct message lane stopped");
        }
    }
}

/// An interaction's handling, in its trace and span.
fn interaction_task(
    handler: Arc<InteractionHandler>,
    interaction: twilight_model::application::interaction::Interaction,
) -> impl std::future::Future<Output = ()> + Send {
    let trace = crate::trace::for_interaction(interaction.id.get());
    let span = tracing::info_span!(
        "discord_interaction",
        trace = trace.as_str(),
        interaction = interaction.id.get(),
        kind = ?interaction.kind,
    );
    trace.scope(
        async move {
            tracing::info!("interaction received");
            handler.handle(interaction).await;
        }
        .instrument(span),
    )
}

async fn shard_loop(
    mut shard: Shard,
    handler: Arc<InteractionHandler>,
    engine: Arc<Engine>,
    state: Arc<ShardHealth>,
    shutdown: CancellationToken,
    (grace, sweep_rate): (Duration, u32),
) -> Result<(), ShardFailed> {
    let mut bot_user = None;
    // The catch-up sweep of the current session, if one runs.
    let mut sweep: Option<(CancellationToken, tokio::task::JoinHandle<u64>)> = None;
    let mut lanes = JoinSet::new();
    let mut dm_lanes = Vec::new();
    for _ in 0..DM_LANES {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        lanes.spawn(dm_lane(engine.clone(), rx));
        dm_lanes.push(tx);
    }
    let wanted = EventTypeFlags::READY
        | EventTypeFlags::RESUMED
        | EventTypeFlags::INTERACTION_CREATE
        | EventTypeFlags::MESSAGE_CREATE;
    let mut tasks = JoinSet::new();
    let mut last_code = None;
    loop {
        let item = tokio::select! {
            () = shutdown.cancelled() => break,
            item = shard.next_event(wanted) => item,
        };
        let Some(item) = item else {
            // twilight stops a shard only after a close code it cannot reconnect after.
            state.failed(last_code.map_or_else(|| "no close code".to_owned(), describe_close));
            let failed = ShardFailed {
                shard: shard.id().number(),
                code: last_code,
            };
            tracing::error!(shard = %shard.id(), code = last_code, error = %failed, "shard closed for good; stopping");
            return Err(failed);
        };
        match item {
            Ok(Event::Ready(ready)) => {
                tracing::info!(shard = %shard.id(), user = %ready.user.name, "gateway ready");
                bot_user = Some(ready.user.id);
                if shard.id().number() == 0 {
                    // A new session: DMs sent while there was none never arrive as events.
                    if let Some((stop, _)) = sweep.take() {
                        stop.cancel();
                    }
                    let stop = shutdown.child_token();
                    let (engine, http, bot) = (engine.clone(), handler.http(), ready.user.id);
                    let task_stop = stop.clone();
                    let task = tokio::spawn(async move {
                        super::catch_up::discord_sweep(&engine, &http, bot, sweep_rate, &task_stop)
                            .await
                    });
                    sweep = Some((stop, task));
                }
                state.connected();
            }
            Ok(Event::Resumed) => {
                tracing::info!(shard = %shard.id(), "gateway session resumed");
                state.connected();
            }
            Ok(Event::GatewayClose(frame)) => {
                last_code = frame.as_ref().map(|f| f.code);
                tracing::warn!(shard = %shard.id(), code = last_code, "gateway connection closed");
                state.disconnected(last_code);
            }
            Ok(Event::MessageCreate(message)) => {
                if let Some(bot) = bot_user {
                    to_lane(&message, bot, &dm_lanes);
                }
            }
            Ok(Event::InteractionCreate(interaction)) => {
                tasks.spawn(interaction_task(handler.clone(), interaction.0));
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(shard = %shard.id(), error = %e, "gateway event error");
                if matches!(
                    e.kind(),
                    twilight_gateway::error::ReceiveMessageErrorType::Reconnect
                ) {
                    state.disconnected(None);
                }
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    if let Some((stop, _)) = sweep.take() {
        stop.cancel();
    }
    shard.close(CloseFrame::NORMAL);
    let closing = async {
        // After `close` the shard reports the close frame once; polling further would
        // reconnect.
        while let Some(item) = shard.next_event(EventTypeFlags::empty()).await {
            if matches!(item, Ok(Event::GatewayClose(_)) | Err(_)) {
                break;
            }
        }
        while tasks.join_next().await.is_some() {}
        // The lanes finish recording what they were given, then stop.
        drop(dm_lanes);
        while lanes.join_next().await.is_some() {}
    };
    // Half the grace, so the caller's drain of all shards (with the whole grace) sees every
    // shard finish even when Discord does not answer the close frame.
    crate::shutdown::drain("shard", grace / 2, closing).await;
    Ok(())
}
