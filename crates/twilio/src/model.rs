//! Types shared by several products' models and builders.

use serde::Deserialize;
use time::OffsetDateTime;

use crate::enums::string_enum;
use crate::sid::FlowSid;

/// Decodes an optional RFC 3339 timestamp (Twilio's `date_created`, `date_updated`, ...).
pub(crate) mod date {
    pub(crate) use time::serde::rfc3339::option as opt;
}

string_enum! {
    /// Sort order of a message list (`Order`).
    pub enum Order {
        /// Oldest first (Twilio's default).
        Asc = "asc",
        /// Newest first.
        Desc = "desc",
    }
}

string_enum! {
    /// HTTP method Twilio uses to call a webhook.
    pub enum WebhookMethod {
        /// `GET`.
        Get = "GET" | "get",
        /// `POST`.
        Post = "POST" | "post",
    }
}

/// A webhook's `configuration` object as Twilio returns it (Chat and Conversations).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct WebhookConfiguration {
    /// The URL Twilio calls.
    #[serde(default)]
    pub url: Option<String>,
    /// The HTTP method Twilio uses.
    #[serde(default)]
    pub method: Option<WebhookMethod>,
    /// Event names that trigger the webhook.
    #[serde(default)]
    pub filters: Option<Vec<String>>,
    /// Keywords that trigger a `trigger` webhook.
    #[serde(default)]
    pub triggers: Option<Vec<String>>,
    /// The Studio flow of a `studio` webhook.
    #[serde(default)]
    pub flow_sid: Option<FlowSid>,
    /// Retries Twilio makes (Chat).
    #[serde(default)]
    pub retry_count: Option<u32>,
    /// Message index replayed from (Conversations).
    #[serde(default)]
    pub replay_after: Option<u64>,
}

/// Parses an `attributes` string (Twilio returns attributes as a JSON text) into JSON.
pub(crate) fn parse_attributes(attributes: Option<&str>) -> Option<serde_json::Value> {
    attributes.and_then(|text| serde_json::from_str(text).ok())
}

/// A timestamp field that Twilio may send as null.
pub(crate) type Timestamp = Option<OffsetDateTime>;
