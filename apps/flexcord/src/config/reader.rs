//! Reading raw `section.key` values (TOML, then the environment) and parsing them into typed
//! values while collecting every problem.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::keys::{ENV_PREFIX, FALLBACKS, default_of, is_known};
use crate::secret::Secret;

/// Parses a duration: a plain number of seconds (`"90"`), or humantime's notation: a number and
/// a unit (`"250ms"`, `"30s"`, `"5m"`, `"24h"`, `"2d"`, `"1w"`), several summed (`"1h 30m"`),
/// long unit names (`"5min"`, `"2 hours"`).
///
/// # Errors
/// When the text is not such a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("{s:?} is too many seconds"));
    }
    humantime::parse_duration(s).map_err(|e| {
        format!(
            "{s:?} is not a duration like \"250ms\", \"30s\", \"5m\", \"1h 30m\" or \"2d\" ({e})"
        )
    })
}

/// A duration the way [`parse_duration`] reads it back (`"1h 30m"`, `"250ms"`).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Every problem found in a configuration, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub(super) problems: Vec<String>,
}

impl ConfigError {
    /// One line per problem, each naming the key.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration problem(s):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Raw `section.key -> text` values before validation.
#[derive(Debug, Default, Clone)]
pub(super) struct Raw {
    pub(super) values: BTreeMap<(String, String), String>,
    pub(super) problems: Vec<String>,
}

impl Raw {
    pub(super) fn from_toml(text: &str) -> Self {
        let mut raw = Raw::default();
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                raw.problems
                    .push(format!("the configuration file is not valid TOML: {e}"));
                return raw;
            }
        };
        for (section, value) in table {
            if section == "feeds" {
                raw.feeds_from_toml(value);
                continue;
            }
            let toml::Value::Table(keys) = value else {
                raw.problems
                    .push(format!("`{section}` must be a [section] table"));
                continue;
            };
            for (key, value) in keys {
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    _ => {
                        raw.problems
                            .push(format!("{section}.{key}: must be a string or a number"));
                        continue;
                    }
                };
                raw.insert(&section, &key, text);
            }
        }
        raw
    }

    /// Applies the environment: `FLEXCORD_<SECTION>__<KEY>` wins over the file, and so does
    /// `FLEXCORD_<SECTION>__<KEY>_FILE`, the path of a file holding the value (Docker and
    /// Kubernetes secrets; one trailing line break is dropped). Setting both is a problem. Then
    /// the conventional variables of [`FALLBACKS`] (`DISCORD_TOKEN`, ...) fill the keys still
    /// unset.
    pub(super) fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let mut from_files: BTreeMap<(String, String), String> = BTreeMap::new();
        for (name, value) in &vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue; // FLEXCORD_CONFIG, FLEXCORD_LOG, FLEXCORD_CI ...
            };
            let (section, mut key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            if section == "feeds" {
                // FLEXCORD_FEEDS__<NAME>__<KEY>: `feeds.<name>.<key>`.
                key = key.replacen("__", ".", 1);
            }
            if is_known(&section, &key) {
                self.values.insert((section, key), value.clone());
                continue;
            }
            if let Some(key) = key.strip_suffix("_file")
                && is_known(&section, key)
            {
                if value.trim().is_empty() {
                    continue;
                }
                match read_secret_file(value) {
                    Ok(text) => {
                        from_files.insert((section, key.to_owned()), text);
                    }
                    Err(e) => self
                        .problems
                        .push(format!("{name}: cannot read {value}: {e}")),
                }
                continue;
            }
            self.problems.push(format!(
                "{name}: no configuration key {section}.{key} (see docs/configuration.md)"
            ));
        }
        for ((section, key), text) in from_files {
            let direct = format!(
                "{ENV_PREFIX}{}__{}",
                section.to_ascii_uppercase(),
                key.to_ascii_uppercase()
            );
            if vars
                .iter()
                .any(|(name, value)| *name == direct && !value.trim().is_empty())
            {
                self.problems.push(format!(
                    "{direct} and {direct}_FILE are both set; set one of them"
                ));
                continue;
            }
            self.values.insert((section, key), text);
        }
        for (name, section, key) in FALLBACKS {
            let unset = self
                .values
                .get(&((*section).to_owned(), (*key).to_owned()))
                .is_none_or(|v| v.trim().is_empty());
            if !unset {
                continue;
            }
            if let Some((_, value)) = vars.iter().find(|(n, v)| n == name && !v.trim().is_empty()) {
                self.values
                    .insert(((*section).to_owned(), (*key).to_owned()), value.clone());
            }
        }
    }

    /// `[feeds.<name>]` tables: their keys become `feeds.<name>.<key>`.
    fn feeds_from_toml(&mut self, value: toml::Value) {
        let toml::Value::Table(feeds) = value else {
            self.problems
                .push("`feeds` must be a table of [feeds.<name>] tables".into());
            return;
        };
        for (name, feed) in feeds {
            let toml::Value::Table(keys) = feed else {
                self.problems
                    .push(format!("feeds.{name}: must be a [feeds.{name}] table"));
                continue;
            };
            if !super::community::is_feed_name(&name) {
                self.problems.push(format!(
                    "feeds.{name}: a feed name is 1 to 32 of a-z, 0-9, _ and -"
                ));
                continue;
            }
            for (key, value) in keys {
                match value {
                    toml::Value::String(s) => self.insert("feeds", &format!("{name}.{key}"), s),
                    _ => self
                        .problems
                        .push(format!("feeds.{name}.{key}: must be a string")),
                }
            }
        }
    }

    fn insert(&mut self, section: &str, key: &str, value: String) {
        if is_known(section, key) {
            self.values
                .insert((section.to_owned(), key.to_owned()), value);
        } else {
            self.problems.push(format!(
                "{section}.{key}: unknown key (see docs/configuration.md)"
            ));
        }
    }
}

/// The contents of a `*_FILE` variable's file, without the line break that ends it.
fn read_secret_file(path: &str) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
}

/// Reads typed values out of [`Raw`], collecting problems instead of stopping.
pub(super) struct Reader {
    pub(super) raw: Raw,
}

impl Reader {
    /// The value, its default, or `None`; empty strings count as unset.
    pub(super) fn text(&self, section: &str, key: &str) -> Option<String> {
        self.raw
            .values
            .get(&(section.to_owned(), key.to_owned()))
            .filter(|v| !v.trim().is_empty())
            .cloned()
            .or_else(|| default_of(section, key).map(str::to_owned))
    }

    pub(super) fn problem(&mut self, section: &str, key: &str, message: impl fmt::Display) {
        let fallback = FALLBACKS
            .iter()
            .find(|(_, s, k)| *s == section && *k == key)
            .map(|(name, _, _)| format!(" or {name}"))
            .unwrap_or_default();
        self.raw.problems.push(format!(
            "{section}.{key} (env {ENV_PREFIX}{}__{}{fallback}): {message}",
            section.to_ascii_uppercase(),
            // `feeds.<name>.<key>` is FLEXCORD_FEEDS__<NAME>__<KEY>.
            key.to_ascii_uppercase().replace('.', "__")
        ));
    }

    pub(super) fn optional<T>(
        &mut self,
        section: &str,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(section, key)?;
        match parse(text.trim()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(section, key, e);
                None
            }
        }
    }

    pub(super) fn required<T>(
        &mut self,
        section: &str,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        if self.text(section, key).is_none() {
            self.problem(section, key, "missing (required)");
            return None;
        }
        self.optional(section, key, parse)
    }
}

pub(super) fn sid<T: FromStr>(s: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    s.parse::<T>().map_err(|e| e.to_string())
}

pub(super) fn snowflake(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("{s:?} is not a Discord id (a positive integer)")),
        Ok(n) => Ok(n),
    }
}

pub(super) fn url_with(schemes: &'static [&'static str]) -> impl Fn(&str) -> Result<Url, String> {
    move |s| {
        let url = Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
        if schemes.contains(&url.scheme()) {
            Ok(url)
        } else {
            Err(format!(
                "{s:?} must start with {}",
                schemes.join(":// or ") + "://"
            ))
        }
    }
}

#[allow(clippy::unnecessary_wraps)] // the shape every value parser has
pub(super) fn secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

pub(super) fn one_of<T: Copy>(
    choices: &'static [(&'static str, T)],
) -> impl Fn(&str) -> Result<T, String> {
    move |s| {
        choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<_> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                format!("{s:?} is not one of {}", names.join(", "))
            })
    }
}

pub(super) fn db_url(s: &str) -> Result<String, String> {
    if s.starts_with("sqlite:") || s.starts_with("postgres://") || s.starts_with("postgresql://") {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} must start with sqlite:, postgres:// or postgresql://"
        ))
    }
}
