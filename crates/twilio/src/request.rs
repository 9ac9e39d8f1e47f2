//! Requests as plain values.
//!
//! Every typed builder turns into a [`Request`] before any I/O
//! ([`TryIntoRequest::try_into_request`]), so a test can inspect the method, path, headers and
//! form fields offline. [`Client::execute`](crate::Client::execute) sends any `Request`, which also
//! makes it the escape hatch for endpoints this crate does not model.

use std::fmt;
use std::fmt::Write as _;

use bytes::Bytes;
use http::Method;

use crate::error::Error;

/// The Twilio product (and so the base URL) a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Product {
    /// Programmable Chat, `https://chat.twilio.com`.
    Chat,
    /// Flex API, `https://flex-api.twilio.com`.
    Flex,
    /// Conversations, `https://conversations.twilio.com`.
    Conversations,
    /// Studio, `https://studio.twilio.com`.
    Studio,
    /// Media Content Service, `https://mcs.us1.twilio.com`.
    Media,
}

impl Product {
    /// Every product, in a fixed order.
    pub const ALL: [Product; 5] = [
        Product::Chat,
        Product::Flex,
        Product::Conversations,
        Product::Studio,
        Product::Media,
    ];

    /// Twilio's production base URL for this product.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Product::Chat => "https://chat.twilio.com",
            Product::Flex => "https://flex-api.twilio.com",
            Product::Conversations => "https://conversations.twilio.com",
            Product::Studio => "https://studio.twilio.com",
            Product::Media => "https://mcs.us1.twilio.com",
        }
    }

    /// A short lower-case name: `chat`, `flex`, `conversations`, `studio`, `media`.
    pub fn name(self) -> &'static str {
        match self {
            Product::Chat => "chat",
            Product::Flex => "flex",
            Product::Conversations => "conversations",
            Product::Studio => "studio",
            Product::Media => "media",
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a request goes: a path under the product's base URL, or an absolute URL (Twilio's
/// `next_page_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A path such as `/v1/Conversations`, appended to the product's base URL.
    Path(String),
    /// An absolute URL, used verbatim.
    Url(String),
}

/// One HTTP request to Twilio, before authentication and sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: Method,
    product: Product,
    target: Target,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    raw: Option<RawBody>,
}

/// A request body sent as it is (a file for the Media Content Service) instead of a form.
/// `Debug` shows its type and length, not the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct RawBody {
    /// The `Content-Type` header, e.g. `image/png`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Bytes,
}

impl fmt::Debug for RawBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawBody")
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Request {
    /// A request with no query, form or extra headers. `path` starts with `/`.
    pub fn new(method: Method, product: Product, path: impl Into<String>) -> Self {
        Self {
            method,
            product,
            target: Target::Path(path.into()),
            query: Vec::new(),
            form: Vec::new(),
            headers: Vec::new(),
            raw: None,
        }
    }

    /// A `GET` of an absolute URL (for example a page's `next_page_url`).
    pub fn get_url(product: Product, url: impl Into<String>) -> Self {
        Self {
            target: Target::Url(url.into()),
            ..Self::new(Method::GET, product, String::new())
        }
    }

    /// `GET path`.
    pub fn get(product: Product, path: impl Into<String>) -> Self {
        Self::new(Method::GET, product, path)
    }

    /// `POST path`.
    pub fn post(product: Product, path: impl Into<String>) -> Self {
        Self::new(Method::POST, product, path)
    }

    /// `DELETE path`.
    pub fn delete(product: Product, path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, product, path)
    }

    /// Appends a query parameter (repeat the call for array parameters).
    #[must_use]
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Appends a form field (repeat the call for array parameters; Twilio repeats the key).
    #[must_use]
    pub fn form(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.form.push((key.into(), value.into()));
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set_header(name.into(), value.into());
        self
    }

    /// Sends `bytes` as the body with this `Content-Type` instead of a form (form fields, if
    /// any, are then not sent).
    #[must_use]
    pub fn raw_body(mut self, content_type: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        self.raw = Some(RawBody {
            content_type: content_type.into(),
            bytes: bytes.into(),
        });
        self
    }

    /// The raw body, when the request sends one instead of a form.
    pub fn raw(&self) -> Option<&RawBody> {
        self.raw.as_ref()
    }

    /// Sets a single-valued form field, replacing an earlier value of the same key.
    pub(crate) fn set_form(&mut self, key: &str, value: String) {
        self.form.retain(|(k, _)| k != key);
        self.form.push((key.to_owned(), value));
    }

    /// Appends one value of an array form field.
    pub(crate) fn push_form(&mut self, key: &str, value: String) {
        self.form.push((key.to_owned(), value));
    }

    /// Sets a single-valued query parameter.
    pub(crate) fn set_query(&mut self, key: &str, value: String) {
        self.query.retain(|(k, _)| k != key);
        self.query.push((key.to_owned(), value));
    }

    /// Appends one value of an array query parameter.
    pub(crate) fn push_query(&mut self, key: &str, value: String) {
        self.query.push((key.to_owned(), value));
    }

    /// Sets a header, replacing an earlier value.
    pub(crate) fn set_header(&mut self, name: String, value: String) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        self.headers.push((name, value));
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The product whose base URL the path is relative to.
    pub fn product(&self) -> Product {
        self.product
    }

    /// Where the request goes.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The path, for a request relative to the product's base URL.
    pub fn path(&self) -> Option<&str> {
        match &self.target {
            Target::Path(path) => Some(path),
            Target::Url(_) => None,
        }
    }

    /// Query parameters in order.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// Form fields in order (empty: no body).
    pub fn form_pairs(&self) -> &[(String, String)] {
        &self.form
    }

    /// Every value of form field `key`.
    pub fn form_values(&self, key: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of form field `key`.
    pub fn form_value(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Extra headers (authentication and User-Agent are added by the client).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The form body, `application/x-www-form-urlencoded`.
    pub fn encoded_form(&self) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.form {
            serializer.append_pair(k, v);
        }
        serializer.finish()
    }
}

/// Turns a typed builder into a [`Request`] without sending it.
pub trait TryIntoRequest {
    /// Builds the request.
    ///
    /// # Errors
    /// The first invalid input given to the builder (e.g. an out-of-range value).
    fn try_into_request(self) -> Result<Request, Error>;
}

impl TryIntoRequest for Request {
    fn try_into_request(self) -> Result<Request, Error> {
        Ok(self)
    }
}

/// Percent-encodes one path segment (SIDs pass through unchanged; unique names and identities
/// such as `discord:123` are escaped as needed).
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':' | b'@') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_escapes_what_paths_need() {
        assert_eq!(segment("CH0123"), "CH0123");
        assert_eq!(segment("discord:42"), "discord:42");
        assert_eq!(segment("a b/c?d#é"), "a%20b%2Fc%3Fd%23%C3%A9");
    }

    #[test]
    fn form_helpers() {
        let mut r = Request::post(Product::Conversations, "/v1/Conversations")
            .form("A", "1")
            .header("X-Twilio-Webhook-Enabled", "true");
        r.set_form("A", "2".into());
        r.push_form("F", "x".into());
        r.push_form("F", "y z".into());
        assert_eq!(r.form_values("A"), ["2"]);
        assert_eq!(r.form_values("F"), ["x", "y z"]);
        assert_eq!(r.encoded_form(), "A=2&F=x&F=y+z");
        assert_eq!(r.header_value("x-twilio-webhook-enabled"), Some("true"));
        assert_eq!(r.path(), Some("/v1/Conversations"));
        assert!(r.raw().is_none());
    }

    #[test]
    fn raw_body_is_kept_as_given() {
        let r = Request::post(Product::Media, "/v1/Services/IS1/Media")
            .raw_body("image/png", vec![0x89, b'P', b'N', b'G']);
        let raw = r.raw().expect("raw body");
        assert_eq!(raw.content_type, "image/png");
        assert_eq!(raw.bytes.as_ref(), &[0x89, b'P', b'N', b'G']);
        assert!(r.form_pairs().is_empty());
        assert!(format!("{r:?}").contains("len: 4"));
    }
}
