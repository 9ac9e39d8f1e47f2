//! A string that never shows itself in `Debug`, `Display` or logs.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;

/// A secret value from the configuration (a token, a password, a shared secret).
///
/// `Debug` and `Display` print `<redacted>`; the value is only reachable through
/// [`Secret::expose`], so it cannot end up in a log line by accident. The value lives in a
/// [`secrecy::SecretString`], so its memory is zeroed when the last copy is dropped, and two
/// secrets compare in constant time.
///
/// ```
/// use flexcord::secret::Secret;
/// let token = Secret::new("hunter2");
/// assert_eq!(format!("{token:?}"), "<redacted>");
/// assert_eq!(token.to_string(), "<redacted>");
/// assert_eq!(token.expose(), "hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret itself. Call this only where the value is handed to the code that uses it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.expose().as_bytes().ct_eq(other.expose().as_bytes()))
    }
}

impl Eq for Secret {}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_compare_equal_and_never_print() {
        let a = Secret::new("s3cr3t-value");
        assert_eq!(a, Secret::new(String::from("s3cr3t-value")));
        assert_ne!(a, Secret::new("s3cr3t-valuf"));
        assert_ne!(a, Secret::new("s3cr3t"));
        let shown = format!("{a} {a:?} {:?}", Some(a.clone()));
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
