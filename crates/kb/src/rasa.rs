//! A client for the Rasa REST channel: `POST {base}/webhooks/rest/webhook` with
//! `{"sender", "message", "metadata"}`, answered by a JSON list of messages.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

/// Default time allowed for Rasa to answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A quick-reply button of a Rasa message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RasaButton {
    /// Text on the button.
    pub title: String,
    /// What the button sends back (an intent such as `/restart`, or text).
    #[serde(default)]
    pub payload: String,
}

/// One message of a Rasa reply. Every field is optional, as in the REST channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RasaMessage {
    /// The conversation the message is for (the request's `sender`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    /// Text to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Quick-reply buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<RasaButton>,
    /// Address of an image to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// A custom payload (for flexcord, `{"handoff": true}` asks for a hand-off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<serde_json::Value>,
}

impl RasaMessage {
    /// `true` when the custom payload asks for a hand-off (`{"handoff": true}`).
    pub fn is_handoff(&self) -> bool {
        self.custom
            .as_ref()
            .and_then(|c| c.get("handoff"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    }
}

#[derive(Serialize)]
struct RasaRequest<'a> {
    sender: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a serde_json::Value>,
}

/// The Rasa REST channel client.
///
/// ```no_run
/// # async fn demo() -> Result<(), flexcord_kb::Error> {
/// let rasa = flexcord_kb::RasaClient::new("http://localhost:5005")?;
/// let messages = rasa.send("discord:4021", "hello", None).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RasaClient {
    http: reqwest::Client,
    endpoint: url::Url,
    timeout: Duration,
}

impl RasaClient {
    /// A client for the Rasa server at `base_url` (for example `http://localhost:5005`) with
    /// the [default timeout](DEFAULT_TIMEOUT).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the address is not an http(s) URL.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        Self::with_timeout(base_url, DEFAULT_TIMEOUT)
    }

    /// A client with its own timeout for the whole request (connection included).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the address is not an http(s) URL or the HTTP client cannot
    /// be built.
    pub fn with_timeout(base_url: &str, timeout: Duration) -> Result<Self, Error> {
        let mut base = url::Url::parse(base_url).map_err(|e| {
            Error::with_source(
                ErrorKind::Config(format!("bot.rasa_url `{base_url}` is not a URL")),
                e,
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::new(ErrorKind::Config(format!(
                "bot.rasa_url `{base_url}` must be an http(s) URL"
            ))));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let endpoint = base.join("webhooks/rest/webhook").map_err(|e| {
            Error::with_source(ErrorKind::Config(format!("bot.rasa_url `{base_url}`")), e)
        })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("flexcord-kb/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Config("HTTP client".into()), e))?;
        Ok(Self {
            http,
            endpoint,
            timeout,
        })
    }

    /// The webhook address requests go to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The time allowed for an answer.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one user message and returns Rasa's messages (possibly none: Rasa answers `[]`
    /// when it has nothing to say or failed internally).
    ///
    /// # Errors
    /// [`ErrorKind::RasaTimeout`], [`ErrorKind::RasaTransport`], [`ErrorKind::RasaStatus`] for a
    /// non-2xx answer, [`ErrorKind::RasaDecode`] when the body is not a list of messages.
    pub async fn send(
        &self,
        sender: &str,
        message: &str,
        metadata: Option<&serde_json::Value>,
    ) -> Result<Vec<RasaMessage>, Error> {
        let body = RasaRequest {
            sender,
            message,
            metadata,
        };
        let response = self
            .http
            .post(self.endpoint.clone())
            .json(&body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(Error::new(ErrorKind::RasaStatus {
                status: status.as_u16(),
                body: snippet(&bytes),
            }));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::with_source(
                ErrorKind::RasaDecode {
                    snippet: snippet(&bytes),
                },
                e,
            )
        })
    }
}

fn transport(err: reqwest::Error) -> Error {
    if err.is_timeout() {
        Error::with_source(ErrorKind::RasaTimeout, err)
    } else {
        Error::with_source(ErrorKind::RasaTransport, err)
    }
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keeps_a_base_path() {
        let c = RasaClient::new("http://rasa:5005/bot").expect("valid");
        assert_eq!(c.endpoint(), "http://rasa:5005/bot/webhooks/rest/webhook");
        let c = RasaClient::new("http://rasa:5005").expect("valid");
        assert_eq!(c.endpoint(), "http://rasa:5005/webhooks/rest/webhook");
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in ["", "rasa:5005", "ftp://rasa", "not a url"] {
            let err = RasaClient::new(bad).expect_err(bad);
            assert!(matches!(err.kind(), ErrorKind::Config(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn handoff_payload() {
        let m: RasaMessage =
            serde_json::from_str(r#"{"recipient_id":"u","custom":{"handoff":true}}"#)
                .expect("json");
        assert!(m.is_handoff());
        let m: RasaMessage = serde_json::from_str(r#"{"custom":{"handoff":"yes"}}"#).expect("json");
        assert!(!m.is_handoff());
    }
}
