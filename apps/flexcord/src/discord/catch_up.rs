//! The Discord catch-up sweep: DMs sent while no gateway session was open, read back from each
//! open conversation's DM history (see [`crate::sweep`] for both sweeps).

use flexcord_routing::Conversation;
use flexcord_store::Engine;
use tokio_util::sync::CancellationToken;
use twilight_model::id::Id;

use crate::server::Handled;
use crate::sweep::Walk;
use crate::telemetry;

/// DM history read per request (Discord's maximum).
const HISTORY_PAGE: u16 = 100;
/// At most this many DMs are read back per conversation and sweep.
const HISTORY_MAX: usize = 1_000;
/// Discord's epoch (2015-01-01) in Unix milliseconds.
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

/// The snowflake of an instant: DM history "after" it holds what was sent later.
fn snowflake_at(ms: i64) -> u64 {
    u64::try_from(ms.saturating_sub(DISCORD_EPOCH_MS)).map_or(0, |ms| ms << 22)
}

/// One Discord sweep: every open conversation's DM history after its last routed DM, the
/// user's messages routed oldest first. Returns how many were recovered.
pub async fn discord_sweep(
    engine: &Engine,
    http: &twilight_http::Client,
    bot: Id<twilight_model::id::marker::UserMarker>,
    rate: u32,
    shutdown: &CancellationToken,
) -> u64 {
    let mut recovered = 0;
    let mut walk = Walk::new(engine, rate);
    while let Some(conv) = walk.next(|c| c.dm_channel.is_some(), shutdown).await {
        recovered += sweep_dms(engine, http, bot, conv).await;
    }
    recovered
}

/// The DMs of one conversation after its last routed one; how many were routed now.
async fn sweep_dms(
    engine: &Engine,
    http: &twilight_http::Client,
    bot: Id<twilight_model::id::marker::UserMarker>,
    conv: Conversation,
) -> u64 {
    let Some(channel) = conv.dm_channel.and_then(|c| Id::new_checked(c.0)) else {
        return 0;
    };
    metrics::counter!(telemetry::SWEEP_CHECKED, "source" => "discord").increment(1);
    let mut after = conv
        .last_dm
        .map_or_else(|| snowflake_at(conv.started_at.0), |m| m.0);
    let mut recovered = 0;
    let mut read = 0;
    while read < HISTORY_MAX {
        let Some(after_id) = Id::new_checked(after) else {
            return recovered;
        };
        let page = match http
            .channel_messages(channel)
            .after(after_id)
            .limit(HISTORY_PAGE)
            .await
        {
            Ok(response) => match response.models().await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(conversation = conv.id.as_str(), error = %e, "DM history did not decode");
                    return recovered;
                }
            },
            Err(e) => {
                tracing::warn!(conversation = conv.id.as_str(), error = %e, "DM history not readable; the next new session tries again");
                return recovered;
            }
        };
        let mut page = page;
        page.sort_by_key(|m| m.id);
        read += page.len();
        let full = page.len() == usize::from(HISTORY_PAGE);
        for message in &page {
            after = after.max(message.id.get());
            if message.author.id.get() != conv.user.0 {
                continue;
            }
            let Some(event) = super::inbound::from_message(message, bot) else {
                continue;
            };
            let trace = crate::trace::for_message(message.id.get());
            match trace
                .clone()
                .scope(crate::driver::apply(engine, event))
                .await
            {
                Ok(Handled::Accepted) => {
                    recovered += 1;
                    metrics::counter!(telemetry::SWEEP_RECOVERED, "source" => "discord")
                        .increment(1);
                    tracing::info!(
                        trace = trace.as_str(),
                        conversation = conv.id.as_str(),
                        message = message.id.get(),
                        "catch-up recovered a DM the gateway did not bring"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(conversation = conv.id.as_str(), error = %e, "a recovered DM could not be recorded");
                    return recovered;
                }
            }
        }
        if !full {
            break;
        }
    }
    recovered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflakes_of_instants_order_like_discord_ids() {
        // 2026-12-07T00:00:00Z.
        let ms = 1_796_601_600_000;
        let id = snowflake_at(ms);
        assert_eq!((id >> 22) + 1_420_070_400_000, 1_796_601_600_000);
        assert!(snowflake_at(ms + 1) > id);
        assert_eq!(snowflake_at(0), 0);
    }
}
