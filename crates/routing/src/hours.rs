//! Support hours as a pure value: weekly local-time ranges plus the UTC offsets in force.
//!
//! The core never looks up a time zone. The app turns the configured IANA zone into a list of
//! offset changes (for example the transitions of the next years) with
//! [`SupportHours::with_offsets`], or gives one fixed offset with [`SupportHours::with_utc_offset`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::Timestamp;

const MINUTES_PER_DAY: i64 = 1440;
const MINUTES_PER_WEEK: i64 = 7 * MINUTES_PER_DAY;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One open period in local time: minutes since Monday 00:00, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyRange {
    /// First open minute of the week (0 = Monday 00:00).
    pub start: u16,
    /// First closed minute after the range (at most 10,080).
    pub end: u16,
}

/// From `at` on, local time is UTC plus `minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetChange {
    /// When the offset starts to apply.
    pub at: Timestamp,
    /// Minutes east of UTC (CET is 60).
    pub minutes: i32,
}

/// When agents answer. No range at all means always open.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SupportHours {
    /// The open periods of a week, in local time.
    pub ranges: Vec<WeeklyRange>,
    /// The UTC offsets, sorted by `at`; the first also applies before its `at`. Empty: UTC.
    pub offsets: Vec<OffsetChange>,
}

/// A support-hours text that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursError {
    /// The part that was not understood.
    pub part: String,
}

impl fmt::Display for HoursError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "support hours: cannot read {:?} (expected e.g. `Mon-Fri 08:00-20:00, Sat 10:00-14:00`)",
            self.part
        )
    }
}

impl std::error::Error for HoursError {}

impl SupportHours {
    /// Always open.
    pub fn always() -> Self {
        Self::default()
    }

    /// Reads `Mon-Fri 08:00-20:00, Sat-Sun 10:00-18:00` (days `Mon`..`Sun`, a day or a range of
    /// days, then `HH:MM-HH:MM`; `24:00` ends a day; an end before the start runs past midnight).
    /// An empty text or `always` means always open. Local time is UTC until an offset is given.
    ///
    /// # Errors
    /// [`HoursError`] naming the first part that is not understood.
    pub fn parse(text: &str) -> Result<Self, HoursError> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("always") {
            return Ok(Self::always());
        }
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let err = || HoursError {
                part: part.trim().to_owned(),
            };
            let mut words = part.split_whitespace();
            let (Some(days), Some(times), None) = (words.next(), words.next(), words.next()) else {
                return Err(err());
            };
            let (first, last) = if let Some((a, b)) = days.split_once('-') {
                (day(a).ok_or_else(err)?, day(b).ok_or_else(err)?)
            } else {
                let d = day(days).ok_or_else(err)?;
                (d, d)
            };
            let (from, to) = times.split_once('-').ok_or_else(err)?;
            let (from, to) = (clock(from).ok_or_else(err)?, clock(to).ok_or_else(err)?);
            if from == to {
                return Err(err());
            }
            let mut d = first;
            loop {
                let base = d * MINUTES_PER_DAY;
                let start = base + from;
                let end = if to > from {
                    base + to
                } else {
                    base + MINUTES_PER_DAY + to
                };
                push_range(&mut ranges, start, end);
                if d == last {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        Ok(Self {
            ranges,
            offsets: Vec::new(),
        })
    }

    /// One fixed offset, in minutes east of UTC.
    #[must_use]
    pub fn with_utc_offset(mut self, minutes: i32) -> Self {
        self.offsets = vec![OffsetChange {
            at: Timestamp(i64::MIN),
            minutes,
        }];
        self
    }

    /// The offset changes of the configured zone (sorted here).
    #[must_use]
    pub fn with_offsets(mut self, mut offsets: Vec<OffsetChange>) -> Self {
        offsets.sort_by_key(|o| o.at);
        self.offsets = offsets;
        self
    }

    fn offset_at(&self, at: Timestamp) -> i64 {
        let idx = self.offsets.partition_point(|o| o.at <= at);
        let change = if idx == 0 {
            self.offsets.first()
        } else {
            self.offsets.get(idx - 1)
        };
        change.map_or(0, |o| i64::from(o.minutes))
    }

    fn minute_of_week(&self, at: Timestamp) -> i64 {
        let local_minutes = at.0.div_euclid(60_000) + self.offset_at(at);
        // 1970-01-01 was a Thursday: three days after a Monday.
        (local_minutes + 3 * MINUTES_PER_DAY).rem_euclid(MINUTES_PER_WEEK)
    }

    /// Whether agents answer at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        if self.ranges.is_empty() {
            return true;
        }
        let m = self.minute_of_week(at);
        self.ranges
            .iter()
            .any(|r| i64::from(r.start) <= m && m < i64::from(r.end))
    }

    /// The next time at or after `at` when agents answer (`at` itself when open), following the
    /// offset changes on the way (a clock change over a closed weekend moves the opening by the
    /// change, as local time does). Always open when there are no ranges.
    pub fn next_open(&self, at: Timestamp) -> Timestamp {
        if self.is_open(at) {
            return at;
        }
        let mut from = at;
        // Between `from` and the next offset change local time runs at one offset: the first
        // opening at that offset is right, unless the change comes first; then look again from
        // the change. Each round passes one change, so this ends.
        for _ in 0..=self.offsets.len() {
            let candidate = self.next_open_at_fixed_offset(from);
            let change = self
                .offsets
                .iter()
                .map(|o| o.at)
                .find(|&t| t > from && t <= candidate);
            match change {
                None => return candidate,
                Some(t) if self.is_open(t) => return t,
                Some(t) => from = t,
            }
        }
        self.next_open_at_fixed_offset(from)
    }

    /// The next opening after `at` (closed) as if the offset in force at `at` never changed.
    fn next_open_at_fixed_offset(&self, at: Timestamp) -> Timestamp {
        let m = self.minute_of_week(at);
        let minute_start = at.0 - at.0.rem_euclid(60_000);
        let wait = self
            .ranges
            .iter()
            .map(|r| (i64::from(r.start) - m).rem_euclid(MINUTES_PER_WEEK))
            .min()
            .unwrap_or(0);
        Timestamp(minute_start + wait * 60_000)
    }

    /// `Mon 08:00` style local description of `at` (for the out-of-hours answer).
    pub fn describe(&self, at: Timestamp) -> String {
        let m = self.minute_of_week(at);
        let day = usize::try_from(m / MINUTES_PER_DAY).unwrap_or(0);
        let name = DAYS.get(day).copied().unwrap_or("mon");
        let mut label = name.to_owned();
        if let Some(first) = label.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{label} {:02}:{:02}", (m % MINUTES_PER_DAY) / 60, m % 60)
    }
}

fn push_range(ranges: &mut Vec<WeeklyRange>, start: i64, end: i64) {
    // Ranges past the end of Sunday wrap to Monday.
    let to_u16 = |v: i64| u16::try_from(v).unwrap_or(u16::MAX);
    if end <= MINUTES_PER_WEEK {
        ranges.push(WeeklyRange {
            start: to_u16(start),
            end: to_u16(end),
        });
    } else {
        ranges.push(WeeklyRange {
            start: to_u16(start),
            end: to_u16(MINUTES_PER_WEEK),
        });
        ranges.push(WeeklyRange {
            start: 0,
            end: to_u16(end - MINUTES_PER_WEEK),
        });
    }
}

fn day(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let short = s.get(..3)?;
    DAYS.iter()
        .position(|d| *d == short)
        .and_then(|i| i64::try_from(i).ok())
}

fn clock(s: &str) -> Option<i64> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    if h == 24 && m == 0 {
        return Some(MINUTES_PER_DAY);
    }
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23 was a Monday; 00:00 UTC.
    const MONDAY: i64 = 1_795_392_000_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn monday_is_found() {
        let h = SupportHours::parse("Mon 00:00-01:00").expect("parses");
        assert!(h.is_open(Timestamp(MONDAY)));
        assert!(!h.is_open(Timestamp(MONDAY + HOUR)));
        assert_eq!(h.describe(Timestamp(MONDAY)), "Mon 00:00");
    }

    #[test]
    fn weekdays_and_weekend() {
        let h = SupportHours::parse("Mon-Fri 08:00-20:00, Sat-Sun 10:00-18:00").expect("parses");
        assert!(h.is_open(Timestamp(MONDAY + 9 * HOUR)));
        assert!(!h.is_open(Timestamp(MONDAY + 21 * HOUR)));
        let saturday = MONDAY + 5 * 24 * HOUR;
        assert!(!h.is_open(Timestamp(saturday + 9 * HOUR)));
        assert!(h.is_open(Timestamp(saturday + 10 * HOUR)));
        assert_eq!(
            h.next_open(Timestamp(MONDAY + 21 * HOUR)),
            Timestamp(MONDAY + 32 * HOUR)
        );
    }

    #[test]
    fn offset_shifts_local_time() {
        // 08:00-09:00 in UTC+1 is 07:00-08:00 UTC.
        let h = SupportHours::parse("Mon 08:00-09:00")
            .expect("parses")
            .with_utc_offset(60);
        assert!(h.is_open(Timestamp(MONDAY + 7 * HOUR)));
        assert!(!h.is_open(Timestamp(MONDAY + 8 * HOUR)));
    }

    #[test]
    fn offset_changes_apply_from_their_time() {
        let h = SupportHours::parse("Mon 08:00-09:00")
            .expect("parses")
            .with_offsets(vec![
                OffsetChange {
                    at: Timestamp(0),
                    minutes: 0,
                },
                OffsetChange {
                    at: Timestamp(MONDAY),
                    minutes: 120,
                },
            ]);
        assert!(h.is_open(Timestamp(MONDAY + 6 * HOUR)));
    }

    #[test]
    fn next_open_follows_a_clock_change_on_the_way() {
        // Open Monday 08:00 local. Closed on Saturday at UTC+1; the clocks go forward to UTC+2
        // on Sunday, so Monday 08:00 local is 06:00 UTC, not 07:00.
        let saturday = MONDAY - 2 * 24 * HOUR;
        let sunday = MONDAY - 24 * HOUR;
        let h = SupportHours::parse("Mon 08:00-09:00")
            .expect("parses")
            .with_offsets(vec![
                OffsetChange {
                    at: Timestamp(0),
                    minutes: 60,
                },
                OffsetChange {
                    at: Timestamp(sunday + HOUR),
                    minutes: 120,
                },
            ]);
        let opens = h.next_open(Timestamp(saturday + 12 * HOUR));
        assert_eq!(opens, Timestamp(MONDAY + 6 * HOUR));
        assert!(h.is_open(opens));
        assert_eq!(h.describe(opens), "Mon 08:00");
        // Without a change on the way nothing moves.
        assert_eq!(
            h.next_open(Timestamp(MONDAY + 7 * HOUR)),
            Timestamp(MONDAY + 7 * 24 * HOUR + 6 * HOUR)
        );
    }

    #[test]
    fn past_midnight_and_sunday_wrap() {
        let h = SupportHours::parse("Sun 22:00-02:00").expect("parses");
        assert!(h.is_open(Timestamp(MONDAY + HOUR)));
        assert!(h.is_open(Timestamp(MONDAY - HOUR)));
        assert!(!h.is_open(Timestamp(MONDAY + 3 * HOUR)));
    }

    #[test]
    fn always_open_and_errors() {
        assert!(
            SupportHours::parse("")
                .expect("empty")
                .is_open(Timestamp(5))
        );
        assert!(SupportHours::parse("Funday 08:00-09:00").is_err());
        assert!(SupportHours::parse("Mon 25:00-26:00").is_err());
        assert!(SupportHours::parse("Mon").is_err());
    }
}
