//! Support hours in the configured IANA time zone, placed in time with the bundled tz
//! database for the routing core.

use flexcord_routing::SupportHours;
use flexcord_routing::hours::OffsetChange;

use super::SupportConfig;

/// How many days before the start the UTC offsets of `support.timezone` are worked out from
/// (times of earlier activity are looked at, e.g. for the idle close).
pub const OFFSET_DAYS_BEHIND: i64 = 366;
/// How many days after the start the UTC offsets are worked out to (ten years); past that the
/// last offset stays in force until the process restarts.
pub const OFFSET_DAYS_AHEAD: i64 = 3653;

impl SupportConfig {
    /// The support hours as the routing core takes them: the weekly ranges plus the UTC offsets
    /// of `timezone` from [`OFFSET_DAYS_BEHIND`] days before `now` to [`OFFSET_DAYS_AHEAD`] days
    /// after it. Always open when `hours` is unset.
    ///
    /// # Errors
    /// When `timezone` is not in the tz database (never for a validated configuration) or `now`
    /// is out of range.
    pub fn hours_at(&self, now: flexcord_routing::Timestamp) -> Result<SupportHours, String> {
        let Some(hours) = &self.hours else {
            return Ok(SupportHours::always());
        };
        let zone = time_zone(&self.timezone)?;
        let day = 86_400_000;
        let at = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms).map_err(|e| format!("support hours: {e}"))
        };
        let from = at(now.0.saturating_sub(OFFSET_DAYS_BEHIND * day))?;
        let until = at(now.0.saturating_add(OFFSET_DAYS_AHEAD * day))?;
        Ok(hours
            .clone()
            .with_offsets(offset_changes(&zone, from, until)))
    }
}

/// The zone named `name` in the bundled tz database.
pub(super) fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(name)
        .map_err(|_| format!("{name:?} is not a known IANA time zone (e.g. Europe/Paris or UTC)"))
}

/// The offset in force at `from`, then each change of offset until `until`.
fn offset_changes(
    zone: &jiff::tz::TimeZone,
    from: jiff::Timestamp,
    until: jiff::Timestamp,
) -> Vec<OffsetChange> {
    let change = |at: jiff::Timestamp, offset: jiff::tz::Offset| OffsetChange {
        at: flexcord_routing::Timestamp(at.as_millisecond()),
        minutes: offset.seconds().div_euclid(60),
    };
    let mut changes = vec![change(from, zone.to_offset(from))];
    for transition in zone.following(from) {
        if transition.timestamp() > until {
            break;
        }
        let next = change(transition.timestamp(), transition.offset());
        // Transitions that only rename the zone (same offset) change nothing here.
        if changes
            .last()
            .is_some_and(|last| last.minutes != next.minutes)
        {
            changes.push(next);
        }
    }
    changes
}
