//! Files between Discord and Twilio: bounded downloads.
//!
//! A file is passed on as a real upload when it can be downloaded within the size cap
//! (`discord.max_upload_bytes`, Discord's upload limit, 10 MiB by default) and time limit;
//! otherwise the message names the file with its link instead. Each file is its own outbox
//! action, and a download stops as soon as it passes the cap or the time limit, so one large
//! or slow file never holds the outbox for long.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

/// Discord's upload limit for bots (10 MiB), the default size cap of files in both directions.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// How long one download may take in all.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// A downloaded file.
#[derive(Debug, Clone)]
pub struct Downloaded {
    /// Its bytes (at most the cap).
    pub bytes: Bytes,
    /// The `Content-Type` the server gave, if any.
    pub content_type: Option<String>,
}

/// Why a file could not be downloaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    /// Larger than the cap (by its `Content-Length` or by what arrived).
    #[error("the file is larger than {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// The server refused for good (a 4xx: gone, expired, forbidden).
    #[error("the file server answered {status}")]
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// A failure that may pass (a 5xx or 429, a timeout, a broken connection).
    #[error("the download failed: {0}")]
    Failed(String),
}

impl DownloadError {
    /// Whether trying again later cannot help (the file is then passed on as a link).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Failed(_))
    }
}

/// Downloads files with a size cap and a time limit. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Downloader {
    http: reqwest::Client,
    max_bytes: u64,
}

impl Default for Downloader {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BYTES)
    }
}

impl Downloader {
    /// A downloader refusing files over `max_bytes`.
    pub fn new(max_bytes: u64) -> Self {
        let http = reqwest::Client::builder()
            .timeout(DOWNLOAD_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .unwrap_or_default();
        Self { http, max_bytes }
    }

    /// The size cap in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Whether a file of `size` bytes fits under the cap.
    pub fn fits(&self, size: u64) -> bool {
        size <= self.max_bytes
    }

    /// Downloads `url` (no credentials are sent), stopping as soon as more than the cap has
    /// arrived.
    ///
    /// # Errors
    /// [`DownloadError::TooLarge`] over the cap, [`DownloadError::Refused`] for a 4xx other than
    /// 429, [`DownloadError::Failed`] for anything that may pass.
    pub async fn get(&self, url: &str) -> Result<Downloaded, DownloadError> {
        let failed = |e: reqwest::Error| DownloadError::Failed(e.without_url().to_string());
        let mut response = self.http.get(url).send().await.map_err(failed)?;
        let status = response.status().as_u16();
        if (400..500).contains(&status) && status != 429 {
            return Err(DownloadError::Refused { status });
        }
        if !(200..300).contains(&status) {
            return Err(DownloadError::Failed(format!(
                "the file server answered {status}"
            )));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(DownloadError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            let total = u64::try_from(bytes.len() + chunk.len()).unwrap_or(u64::MAX);
            if total > self.max_bytes {
                return Err(DownloadError::TooLarge {
                    limit: self.max_bytes,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Downloaded {
            bytes: bytes.freeze(),
            content_type,
        })
    }
}
