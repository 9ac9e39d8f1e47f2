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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::routing::get;

    use super::*;

    /// 8 chunks of 100 bytes, sent without a `Content-Length`.
    fn chunked() -> axum::body::Body {
        let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 100])));
        axum::body::Body::from_stream(futures::stream::iter(chunks))
    }

    async fn serve() -> String {
        let app = axum::Router::new()
            .route("/stream", get(|| async { chunked() }))
            .route(
                "/small",
                get(|| async { ([("content-type", "text/plain")], "hello") }),
            )
            .route("/gone", get(|| async { StatusCode::NOT_FOUND }))
            .route("/busy", get(|| async { StatusCode::SERVICE_UNAVAILABLE }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn downloads_stop_at_the_cap_even_without_a_length() {
        let base = serve().await;
        let stream = format!("{base}/stream");
        assert_eq!(
            Downloader::new(500).get(&stream).await.unwrap_err(),
            DownloadError::TooLarge { limit: 500 }
        );
        let whole = Downloader::new(800).get(&stream).await.expect("fits");
        assert_eq!(whole.bytes.len(), 800);
        let small = Downloader::new(800)
            .get(&format!("{base}/small"))
            .await
            .expect("small");
        assert_eq!(small.bytes.as_ref(), b"hello");
        assert_eq!(small.content_type.as_deref(), Some("text/plain"));
    }

    #[tokio::test]
    async fn refusals_are_permanent_and_server_errors_are_not() {
        let base = serve().await;
        let d = Downloader::default();
        let gone = d.get(&format!("{base}/gone")).await.unwrap_err();
        assert_eq!(gone, DownloadError::Refused { status: 404 });
        assert!(gone.is_permanent());
        let busy = d.get(&format!("{base}/busy")).await.unwrap_err();
        assert!(matches!(busy, DownloadError::Failed(_)), "{busy:?}");
        assert!(!busy.is_permanent());
        assert!(d.fits(DEFAULT_MAX_BYTES) && !d.fits(DEFAULT_MAX_BYTES + 1));
    }
}
