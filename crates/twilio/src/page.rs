//! List pages and pagination.
//!
//! Twilio lists answer `{"<key>": [...], "meta": {...}}`; [`Page<T>`] holds the items and the
//! [`PageMeta`]. Awaiting a list builder gives the first page; `.paginate()` gives a `Stream` of
//! every item, fetching each following page by requesting `meta.next_page_url` verbatim until it
//! is null.

use std::collections::VecDeque;

use futures::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::Error;
use crate::request::{Product, Request};

/// Paging metadata of a list response.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct PageMeta {
    /// Page number (informational).
    #[serde(default)]
    pub page: Option<u32>,
    /// Items per page.
    #[serde(default)]
    pub page_size: Option<u32>,
    /// URL of the first page.
    #[serde(default)]
    pub first_page_url: Option<String>,
    /// URL of the previous page.
    #[serde(default)]
    pub previous_page_url: Option<String>,
    /// URL of the next page; `None` on the last page.
    #[serde(default)]
    pub next_page_url: Option<String>,
    /// URL of this page.
    #[serde(default)]
    pub url: Option<String>,
    /// Name of the array field holding the items.
    #[serde(default)]
    pub key: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Paging metadata.
    pub meta: PageMeta,
}

impl<T> Page<T> {
    /// The items, dropping the metadata.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }

    /// Whether another page follows.
    pub fn has_next(&self) -> bool {
        self.meta.next_page_url.is_some()
    }
}

impl<T: DeserializeOwned> Page<T> {
    /// Decodes a list body whose items are under `key` (or under `meta.key` when that differs).
    pub(crate) fn decode(body: &[u8], key: &str) -> Result<Self, Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            meta: PageMeta,
            #[serde(flatten)]
            rest: serde_json::Map<String, serde_json::Value>,
        }
        let mut raw: Raw = serde_json::from_slice(body).map_err(|e| Error::decode(body, e))?;
        let key = raw.meta.key.clone().unwrap_or_else(|| key.to_owned());
        let items = match raw.rest.remove(&key) {
            Some(value) => serde_json::from_value(value).map_err(|e| Error::decode(body, e))?,
            None => {
                return Err(Error::decode(
                    body,
                    serde::de::Error::custom(format!("missing list field {key:?}")),
                ));
            }
        };
        Ok(Self {
            items,
            meta: raw.meta,
        })
    }
}

impl Client {
    /// Sends a list request and decodes one page (items under `key`).
    ///
    /// # Errors
    /// As [`Client::execute`].
    pub async fn page<T: DeserializeOwned>(
        &self,
        request: Request,
        key: &str,
    ) -> Result<Page<T>, Error> {
        let response = self.send(request).await?;
        Page::decode(&response.body, key)
    }

    /// Every item of a list, as a stream following `meta.next_page_url`.
    ///
    /// The stream ends after the last page or after the first error (which it yields).
    pub fn paginate<T: DeserializeOwned + Send + 'static>(
        &self,
        first: Result<Request, Error>,
        key: &'static str,
    ) -> impl Stream<Item = Result<T, Error>> + Send + 'static {
        struct State<T> {
            client: Client,
            next: Option<Result<Request, Error>>,
            product: Product,
            buffered: VecDeque<T>,
        }
        let product = first
            .as_ref()
            .map_or(Product::Conversations, Request::product);
        let state = State {
            client: self.clone(),
            next: Some(first),
            product,
            buffered: VecDeque::new(),
        };
        futures::stream::unfold(state, move |mut state| async move {
            loop {
                if let Some(item) = state.buffered.pop_front() {
                    return Some((Ok(item), state));
                }
                let request = match state.next.take()? {
                    Ok(request) => request,
                    Err(error) => return Some((Err(error), state)),
                };
                match state.client.page::<T>(request, key).await {
                    Ok(page) => {
                        state.next = page
                            .meta
                            .next_page_url
                            .filter(|u| !u.is_empty())
                            .map(|url| Ok(Request::get_url(state.product, url)));
                        state.buffered.extend(page.items);
                    }
                    Err(error) => return Some((Err(error), state)),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_items_under_key_and_meta() {
        let body = br#"{"conversations":[1,2],"meta":{"page":0,"page_size":2,"next_page_url":"https://x/y?PageToken=a","key":"conversations","extra":true}}"#;
        let page: Page<u32> = Page::decode(body, "conversations").expect("decodes");
        assert_eq!(page.items, [1, 2]);
        assert!(page.has_next());
        assert_eq!(page.meta.page_size, Some(2));
    }

    #[test]
    fn missing_key_is_a_decode_error() {
        let body = br#"{"meta":{"next_page_url":null}}"#;
        let err = Page::<u32>::decode(body, "messages").unwrap_err();
        assert!(matches!(err.kind(), crate::ErrorKind::Decode { .. }));
        assert!(Page::<u32>::decode(b"nope", "messages").is_err());
    }
}
