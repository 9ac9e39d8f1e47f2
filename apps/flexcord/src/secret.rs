//! A string that never shows itself in `Debug`, `Display` or logs.

use std::fmt;

/// A secret value from the configuration (a token, a password, a shared secret).
///
/// `Debug` and `Display` print `<redacted>`; the value is only reachable through
/// [`Secret::expose`], so it cannot end up in a log line by accident.
///
/// ```
/// use flexcord::secret::Secret;
/// let token = Secret::new("hunter2");
/// assert_eq!(format!("{token:?}"), "<redacted>");
/// assert_eq!(token.to_string(), "<redacted>");
/// assert_eq!(token.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call this only where the value is handed to the code that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
