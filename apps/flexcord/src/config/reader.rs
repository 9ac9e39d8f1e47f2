//! Reading raw `section.key` values (TOML, then the environment) and parsing them into typed
//! values while collecting every problem.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::keys::{ENV_PREFIX, default_of, is_known};
use crate::secret::Secret;

/// Parses `"250ms"`, `"90s"`, `"5m"`, `"24h"`, `"2d"` or a plain number of seconds.
///
/// # Errors
/// When the text is not a number followed by an optional unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!("{s:?} is not a duration like \"250ms\", \"30s\", \"5m\", \"24h\" or \"2d\"")
    })?;
    let secs = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        other => {
            return Err(format!(
                "unknown duration unit {other:?} in {s:?} (use ms, s, m, h or d)"
            ));
        }
    };
    Ok(Duration::from_secs(secs))
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

    pub(super) fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue; // FLEXCORD_CONFIG, FLEXCORD_LOG, FLEXCORD_CI ...
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            if !is_known(&section, &key) {
                self.problems.push(format!(
                    "{name}: no configuration key {section}.{key} (see docs/configuration.md)"
                ));
                continue;
            }
            self.values.insert((section, key), value);
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
        self.raw.problems.push(format!(
            "{section}.{key} (env {ENV_PREFIX}{}__{}): {message}",
            section.to_ascii_uppercase(),
            key.to_ascii_uppercase()
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
