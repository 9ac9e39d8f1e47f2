//! Who may use the case service: agent accounts (argon2 password hashes), server-side sessions
//! of the agent pages, and one API token per integration.
//!
//! Nothing secret is stored in clear: passwords as argon2id PHC strings, session cookies and API
//! tokens (long random values) as SHA-256 digests, so a copy of the database lets nobody in.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::{Error, ErrorKind};

/// An agent who signs in to the case pages with a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The login name (1 to 64 characters: letters, digits, `.`, `_`, `-`, `@`).
    pub login: String,
    /// The name shown on notes, assignments and status changes.
    pub display_name: String,
    /// When the account was added.
    pub created_at: OffsetDateTime,
}

impl Agent {
    /// The id this agent's changes carry on the timeline: `agent:<login>`.
    pub fn actor_id(&self) -> String {
        format!("agent:{}", self.login)
    }
}

/// A signed-in agent's session, as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The actor id of the agent (`agent:<login>`, or `oidc:<subject>` for single sign-on).
    pub agent_id: String,
    /// The agent's display name.
    pub agent_name: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// When it ends (signing out ends it earlier).
    pub expires_at: OffsetDateTime,
}

/// An integration allowed to use the REST API. Its token is shown once, when it is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The integration's name, as the audit trail shows it (`api:<name>`).
    pub name: String,
    /// When it was added.
    pub created_at: OffsetDateTime,
}

/// Agent accounts, sessions and integration tokens. The SQLite and Postgres case stores
/// implement it in the same database as the cases (tables `case_agents`, `case_sessions`,
/// `case_api_tokens`); [`crate::open_with_accounts`] opens both.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Adds an agent (the password is hashed with argon2id) or, when the login exists, replaces
    /// its name and password and ends its sessions.
    ///
    /// # Errors
    /// `Invalid` login, name or password (at least 12 characters); database trouble.
    async fn set_agent(
        &self,
        login: &str,
        display_name: &str,
        password: &str,
    ) -> Result<Agent, Error>;

    /// Removes an agent and ends its sessions; `false` when there was none.
    ///
    /// # Errors
    /// Database trouble.
    async fn remove_agent(&self, login: &str) -> Result<bool, Error>;

    /// Every agent, by login.
    ///
    /// # Errors
    /// Database trouble.
    async fn agents(&self) -> Result<Vec<Agent>, Error>;

    /// The agent when `password` is theirs. An unknown login costs as much time as a wrong
    /// password, so the answer does not tell which logins exist.
    ///
    /// # Errors
    /// Database trouble.
    async fn check_password(&self, login: &str, password: &str) -> Result<Option<Agent>, Error>;

    /// Starts a session for `agent_id` / `agent_name` that ends at `expires_at`; returns the
    /// cookie value (only its digest is stored) and the session.
    ///
    /// # Errors
    /// No randomness, database trouble.
    async fn start_session(
        &self,
        agent_id: &str,
        agent_name: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(String, Session), Error>;

    /// The session of a cookie value, if it exists and has not ended at `now`.
    ///
    /// # Errors
    /// Database trouble.
    async fn session(&self, cookie: &str, now: OffsetDateTime) -> Result<Option<Session>, Error>;

    /// Ends the session of a cookie value (signing out).
    ///
    /// # Errors
    /// Database trouble.
    async fn end_session(&self, cookie: &str) -> Result<(), Error>;

    /// Deletes sessions that ended before `now`; returns how many.
    ///
    /// # Errors
    /// Database trouble.
    async fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64, Error>;

    /// Adds an integration and returns its new token (shown once; only its digest is stored).
    ///
    /// # Errors
    /// `Invalid` name or a name already taken; database trouble.
    async fn add_token(&self, name: &str) -> Result<String, Error>;

    /// Removes an integration's token; `false` when there was none.
    ///
    /// # Errors
    /// Database trouble.
    async fn remove_token(&self, name: &str) -> Result<bool, Error>;

    /// Every integration, by name.
    ///
    /// # Errors
    /// Database trouble.
    async fn tokens(&self) -> Result<Vec<ApiToken>, Error>;

    /// The integration a presented token belongs to.
    ///
    /// # Errors
    /// Database trouble.
    async fn token_owner(&self, token: &str) -> Result<Option<String>, Error>;
}

/// The SHA-256 digest of a secret random value, hex, as stored.
pub(crate) fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            use std::fmt::Write as _;
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// `bytes` random bytes, URL-safe base64.
pub(crate) fn random_token(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::new(ErrorKind::Database).with_source(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Checks a login name.
pub(crate) fn valid_login(login: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&login.chars().count())
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "login must be 1 to 64 letters, digits, `.`, `_`, `-` or `@`",
        ))
    }
}

/// Checks a display name.
pub(crate) fn valid_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        Err(Error::invalid(
            "display name must be 1 to 100 characters without control characters",
        ))
    } else {
        Ok(())
    }
}

/// Checks an integration name.
pub(crate) fn valid_integration(name: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "integration name must be 1 to 64 letters, digits, `.`, `_` or `-`",
        ))
    }
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// An argon2id hash (PHC string) of `password`, computed off the async threads.
pub(crate) async fn hash_password(password: &str) -> Result<String, Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > 1024 {
        return Err(Error::invalid(format!(
            "password must be {MIN_PASSWORD_CHARS} to 1024 characters"
        )));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Error::new(ErrorKind::Database).with_source(format!("no randomness: {e}")))?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        use argon2::PasswordHasher as _;
        let salt = argon2::password_hash::SaltString::encode_b64(&salt)
            .map_err(|e| Error::invalid("salt").with_source(e.to_string()))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::invalid("password could not be hashed").with_source(e.to_string()))
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Database).with_source(e.to_string()))?
}

/// A hash no password matches, verified for unknown logins so they take as long as known ones.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZGVjb3lkZWNveWRlY295$Zl2CEyYm7nDKNTlB3GwY2SNdKC0YG0RGDiDDnlsnrkg";

/// Whether `password` matches `hash` (a PHC string); `None` hash checks against a decoy.
pub(crate) async fn verify_password(password: &str, hash: Option<String>) -> bool {
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| DECOY_HASH.to_owned());
    let password = password.to_owned();
    let matched = tokio::task::spawn_blocking(move || {
        use argon2::PasswordVerifier as _;
        argon2::password_hash::PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false);
    matched && known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_are_hashed_and_checked() {
        let hash = hash_password("correct horse battery").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse battery", Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery!", Some(hash)).await);
        assert!(!verify_password("anything at all", None).await);
        assert!(hash_password("short").await.is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_login("jane.doe@brand").is_ok());
        assert!(valid_login("jane doe").is_err());
        assert!(valid_login("").is_err());
        assert!(valid_name("Jane Doe").is_ok());
        assert!(valid_name(" ").is_err());
        assert!(valid_name("a\u{7}b").is_err());
        assert!(valid_integration("crm-sync").is_ok());
        assert!(valid_integration("crm sync").is_err());
        assert_eq!(digest("abc").len(), 64);
    }
}
