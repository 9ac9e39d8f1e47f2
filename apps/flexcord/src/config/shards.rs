//! Which Discord shards this process runs.

use std::fmt;
use std::str::FromStr;

/// Which shards of how many this process runs, written `"0..4 of 16"` (ids 0 to 3) or
/// `"3 of 16"`.
///
/// ```
/// use flexcord::config::ShardSpec;
/// let spec: ShardSpec = "0..4 of 16".parse().unwrap();
/// assert_eq!(spec.ids().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
/// assert!(spec.receives_dms());
/// assert!("4..2 of 16".parse::<ShardSpec>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    start: u32,
    end: u32,
    total: u32,
}

impl ShardSpec {
    /// Shard ids `start..end` of `total`.
    ///
    /// # Errors
    /// When the range is empty or reaches past `total`.
    pub fn new(start: u32, end: u32, total: u32) -> Result<Self, String> {
        if total == 0 {
            return Err("the total number of shards must be at least 1".into());
        }
        if start >= end {
            return Err(format!("the shard range {start}..{end} is empty"));
        }
        if end > total {
            return Err(format!(
                "shard ids {start}..{end} reach past the total of {total}"
            ));
        }
        Ok(Self { start, end, total })
    }

    /// The ids of the shards this process runs.
    pub fn ids(&self) -> std::ops::Range<u32> {
        self.start..self.end
    }

    /// The total number of shards of the bot.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Whether this process runs shard 0, which Discord sends every DM to.
    pub fn receives_dms(&self) -> bool {
        self.start == 0
    }
}

impl FromStr for ShardSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("expected \"<first>..<end> of <total>\" or \"<id> of <total>\", got {s:?}");
        let (range, total) = s.split_once(" of ").ok_or_else(bad)?;
        let total: u32 = total.trim().parse().map_err(|_| bad())?;
        let (start, end) = if let Some((a, b)) = range.trim().split_once("..") {
            (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            )
        } else {
            let id: u32 = range.trim().parse().map_err(|_| bad())?;
            (id, id.saturating_add(1))
        };
        Self::new(start, end, total)
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{} of {}", self.start, self.end, self.total)
    }
}
