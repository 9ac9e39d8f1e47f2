//! Media Content Service (`https://mcs.us1.twilio.com`): the files attached to Chat and
//! Conversations messages.
//!
//! This service is not in Twilio's `OpenAPI` specs nor in its helper libraries; the model
//! follows Twilio's media resource documentation and tolerates missing fields.
//!
//! Upload a file, then attach it to a message with its `MediaSid`; fetch an agent's file and
//! download it from its short-lived link:
//!
//! ```no_run
//! # async fn run(twilio: flexcord_twilio::Client) -> Result<(), flexcord_twilio::Error> {
//! use flexcord_twilio::sid::{MediaSid, ServiceSid};
//! let service: ServiceSid = "IS0123456789abcdef0123456789abcdef".parse()?;
//! let uploaded = twilio
//!     .media(&service)
//!     .create("image/png", vec![0x89, b'P', b'N', b'G'])
//!     .filename("shot.png")
//!     .await?;
//! println!("attach {} to a message as MediaSid", uploaded.sid);
//! let media: MediaSid = "ME0123456789abcdef0123456789abcdef".parse()?;
//! let item = twilio.media(&service).fetch(&media).await?;
//! if let Some(url) = item.temporary_url() {
//!     println!("download {} ({:?}) from {url}", item.filename.as_deref().unwrap_or("file"), item.content_type);
//! }
//! # Ok(()) }
//! ```

use bytes::Bytes;
use serde::Deserialize;

use crate::builder::{Draft, builder};
use crate::client::Client;
use crate::model::{Timestamp, date};
use crate::request::{Product, Request};
use crate::sid::{AccountSid, MediaSid, ServiceSid};

impl Client {
    /// The Media Content Service of one Chat / Conversations service.
    pub fn media(&self, service: &ServiceSid) -> MediaService<'_> {
        MediaService {
            client: self,
            service: *service,
        }
    }
}

/// Handler for `/v1/Services/{ServiceSid}/Media`.
#[derive(Debug, Clone, Copy)]
pub struct MediaService<'a> {
    client: &'a Client,
    service: ServiceSid,
}

impl<'a> MediaService<'a> {
    /// `POST /v1/Services/{ServiceSid}/Media`: uploads a file. The body is the file itself
    /// (not a form) with `content_type` as its `Content-Type`; name it with
    /// [`CreateMedia::filename`]. The answer's `sid` goes into a message's `MediaSid`.
    pub fn create(self, content_type: &str, bytes: impl Into<Bytes>) -> CreateMedia<'a> {
        let path = format!("/v1/Services/{}/Media", self.service);
        let request = Request::post(Product::Media, path).raw_body(content_type, bytes);
        CreateMedia::from_draft(Draft::new(self.client, request))
    }

    /// `GET /v1/Services/{ServiceSid}/Media/{Sid}`: metadata and a short-lived download URL.
    pub fn fetch(self, media: &MediaSid) -> FetchMedia<'a> {
        let path = format!("/v1/Services/{}/Media/{media}", self.service);
        FetchMedia::from_draft(Draft::new(self.client, Request::get(Product::Media, path)))
    }
}

builder! {
    /// `GET /v1/Services/{ServiceSid}/Media/{Sid}` on the Media Content Service.
    FetchMedia -> Media
}

builder! {
    /// `POST /v1/Services/{ServiceSid}/Media` on the Media Content Service (a file upload).
    CreateMedia -> Media
}

impl CreateMedia<'_> {
    /// The file name shown with the message (query parameter `Filename`).
    pub fn filename(mut self, name: impl Into<String>) -> Self {
        self.draft = self.draft.query("Filename", name);
        self
    }
}

/// A media item.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Media {
    /// `ME…`.
    pub sid: MediaSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The service.
    #[serde(default)]
    pub service_sid: Option<ServiceSid>,
    /// File name.
    #[serde(default)]
    pub filename: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Uploader.
    #[serde(default)]
    pub author: Option<String>,
    /// Created at.
    #[serde(default, with = "date::opt")]
    pub date_created: Timestamp,
    /// Links: `content` (needs credentials) and `content_direct_temporary` (short-lived,
    /// no credentials).
    #[serde(default)]
    pub links: MediaLinks,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}

impl Media {
    /// The short-lived download URL that needs no credentials, if Twilio gave one.
    pub fn temporary_url(&self) -> Option<&str> {
        self.links.content_direct_temporary.as_deref()
    }
}

/// Links of a media item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct MediaLinks {
    /// The content URL (requires the account's credentials).
    #[serde(default)]
    pub content: Option<String>,
    /// A short-lived URL that serves the file without credentials.
    #[serde(default)]
    pub content_direct_temporary: Option<String>,
}
