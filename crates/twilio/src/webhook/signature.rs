//! `X-Twilio-Signature`: computing and checking it.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The query parameter Twilio appends to the URL of a JSON-bodied webhook.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// The `X-Twilio-Signature` value Twilio sends for a form-encoded request to `url` with the
/// body parameters `params` (empty for GET webhooks and JSON bodies).
///
/// Algorithm: the URL followed by every parameter name (sorted by bytes, de-duplicated), each
/// immediately followed by each of its values (sorted, de-duplicated), HMAC-SHA1 keyed with the
/// account's Auth Token, base64 with padding.
///
/// ```
/// use flexcord_twilio::webhook::sign;
/// let params = vec![("Digits".to_owned(), "1234".to_owned())];
/// let signature = sign("12345", "https://example.com/hook", &params);
/// assert_eq!(signature.len(), 28);
/// ```
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(mac(auth_token.as_bytes(), url, params))
}

fn mac(key: &[u8], url: &str, params: &[(String, String)]) -> [u8; 20] {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    // HMAC accepts keys of any length: this constructor never fails.
    let mut hmac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    hmac.update(url.as_bytes());
    for (k, v) in sorted {
        hmac.update(k.as_bytes());
        hmac.update(v.as_bytes());
    }
    hmac.finalize().into_bytes().into()
}

/// Why a webhook request failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The `X-Twilio-Signature` header was absent or empty.
    #[error("the X-Twilio-Signature header is missing")]
    Missing,
    /// The signature matched none of the URL forms Twilio may have signed.
    #[error("the X-Twilio-Signature does not match the request")]
    Mismatch,
    /// A JSON webhook's URL has no `bodySHA256` query parameter.
    #[error("the URL of a JSON webhook has no bodySHA256 parameter")]
    MissingBodyHash,
    /// The SHA-256 of the body differs from the URL's `bodySHA256`.
    #[error("the body does not match the URL's bodySHA256")]
    BodyHashMismatch,
}

/// Checks `X-Twilio-Signature` headers with an account's primary Auth Token.
///
/// The token never appears in `Debug` output.
///
/// ```
/// use flexcord_twilio::webhook::{sign, Validator};
/// let url = "https://bridge.example/twilio/outbound";
/// let params = vec![("EventType".to_owned(), "onMessageAdded".to_owned())];
/// let header = sign("token", url, &params);
///
/// let validator = Validator::new("token");
/// assert!(validator.validate(url, &params, &header).is_ok());
/// assert!(validator.validate(url, &[], &header).is_err());
/// assert_eq!(format!("{validator:?}"), "Validator { auth_token: \"<redacted>\" }");
/// ```
#[derive(Clone)]
pub struct Validator {
    auth_token: Box<[u8]>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("auth_token", &"<redacted>")
            .finish()
    }
}

impl Validator {
    /// A validator for the account whose primary Auth Token is `auth_token`.
    pub fn new(auth_token: impl AsRef<str>) -> Self {
        Self {
            auth_token: auth_token.as_ref().as_bytes().into(),
        }
    }

    /// Checks a form-encoded (or GET) webhook: `url` is the full external URL Twilio requested
    /// (scheme, host, path and query, as configured in Twilio), `params` the decoded body
    /// parameters in any order (repeated keys kept), `signature` the header value.
    ///
    /// Twilio is inconsistent about ports, so the signature is accepted if it matches the URL as
    /// given, the URL without its port, or the URL with the scheme's default port added; each also
    /// in its WHATWG-normalised form (e.g. `'` in the query as `%27`). Every comparison is constant
    /// time.
    ///
    /// # Errors
    /// [`SignatureError::Missing`] for an empty signature, [`SignatureError::Mismatch`] when no
    /// URL form matches.
    pub fn validate(
        &self,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<(), SignatureError> {
        let signature = signature.trim();
        if signature.is_empty() {
            return Err(SignatureError::Missing);
        }
        let Ok(expected) = BASE64.decode(signature) else {
            return Err(SignatureError::Mismatch);
        };
        let mut matched = subtle::Choice::from(0);
        for candidate in url_candidates(url) {
            let computed = mac(&self.auth_token, &candidate, params);
            matched |= computed.as_slice().ct_eq(expected.as_slice());
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// Checks a JSON-bodied webhook (`bodySHA256` variant): the signature covers
    /// `url_with_body_sha256` (which carries the `bodySHA256` query parameter) with no body
    /// parameters, and the lower-case hex SHA-256 of the raw `body` must equal that parameter.
    ///
    /// # Errors
    /// [`SignatureError::MissingBodyHash`] if the URL has no `bodySHA256`,
    /// [`SignatureError::BodyHashMismatch`] if the body was altered, and the errors of
    /// [`Validator::validate`].
    pub fn validate_json(
        &self,
        url_with_body_sha256: &str,
        body: &[u8],
        signature: &str,
    ) -> Result<(), SignatureError> {
        let claimed = query_param(url_with_body_sha256, BODY_SHA256_PARAM)
            .ok_or(SignatureError::MissingBodyHash)?;
        let actual = body_sha256_hex(body);
        let claimed = claimed.to_ascii_lowercase();
        if !bool::from(claimed.as_bytes().ct_eq(actual.as_bytes())) {
            return Err(SignatureError::BodyHashMismatch);
        }
        self.validate(url_with_body_sha256, &[], signature)
    }
}

/// Lower-case hex SHA-256 of a raw body, as Twilio puts it in `bodySHA256`.
pub fn body_sha256_hex(body: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(body);
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The (first) value of a query parameter in a URL string, percent-decoded.
fn query_param<'a>(url: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let (_, query) = without_fragment.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Every form of `url` that Twilio may have signed, without duplicates.
fn url_candidates(url: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(6);
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    // Twilio's connection overrides travel in the fragment (`#ct=…&rc=…`); whether they are
    // signed is not documented, so the URL is tried with and without it.
    let without_fragment = url.split_once('#').map(|(before, _)| before);
    let normalised: Vec<String> = std::iter::once(url)
        .chain(without_fragment)
        .filter_map(|u| url::Url::parse(u).ok().map(|u| u.to_string()))
        .collect();
    let bases: Vec<&str> = std::iter::once(url)
        .chain(without_fragment)
        .chain(normalised.iter().map(String::as_str))
        .collect();
    for base in bases {
        push(base.to_owned());
        if let Some(parts) = Authority::find(base) {
            push(parts.without_port(base));
            if let Some(with) = parts.with_default_port(base) {
                push(with);
            }
        }
    }
    out
}

/// Byte positions of the host and port inside a URL string.
struct Authority<'a> {
    scheme: &'a str,
    /// Index just after the host (where `:port` would start).
    host_end: usize,
    /// Index of the end of the authority (after the port, if any).
    end: usize,
    has_port: bool,
}

impl<'a> Authority<'a> {
    fn find(url: &'a str) -> Option<Self> {
        let scheme_end = url.find("://")?;
        let scheme = &url[..scheme_end];
        let start = scheme_end + 3;
        let end = url[start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| start + i);
        let authority = &url[start..end];
        let host_start = authority.rfind('@').map_or(0, |i| i + 1);
        let host_port = &authority[host_start..];
        // Skip an IPv6 literal before looking for the port separator.
        let search_from = if host_port.starts_with('[') {
            host_port.find(']').map_or(host_port.len(), |i| i + 1)
        } else {
            0
        };
        let colon = host_port[search_from..].find(':').map(|i| search_from + i);
        let (host_end, has_port) = match colon {
            Some(i) if host_port[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
                (start + host_start + i, true)
            }
            _ => (end, false),
        };
        Some(Self {
            scheme,
            host_end,
            end,
            has_port,
        })
    }

    fn without_port(&self, url: &str) -> String {
        format!("{}{}", &url[..self.host_end], &url[self.end..])
    }

    fn with_default_port(&self, url: &str) -> Option<String> {
        if self.has_port {
            return None;
        }
        let port = if self.scheme.eq_ignore_ascii_case("https") {
            443
        } else {
            80
        };
        Some(format!("{}:{port}{}", &url[..self.end], &url[self.end..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_port_forms() {
        let c = url_candidates("https://a.example:8443/x?y=1");
        assert!(c.contains(&"https://a.example:8443/x?y=1".to_owned()));
        assert!(c.contains(&"https://a.example/x?y=1".to_owned()));
        let c = url_candidates("http://user:pw@a.example/x");
        assert!(c.contains(&"http://user:pw@a.example:80/x".to_owned()));
        let c = url_candidates("https://[::1]:99/x");
        assert!(c.contains(&"https://[::1]/x".to_owned()));
        let c = url_candidates("https://a.example");
        assert!(c.contains(&"https://a.example:443".to_owned()));
        let c = url_candidates("https://a.example/x#ct=3000&rc=2");
        assert!(c.contains(&"https://a.example/x".to_owned()));
        assert!(c.contains(&"https://a.example:443/x".to_owned()));
        assert!(c.contains(&"https://a.example/x#ct=3000&rc=2".to_owned()));
    }

    #[test]
    fn candidates_survive_garbage() {
        for url in [
            "",
            "not a url",
            "://",
            "https://",
            "https://@:/",
            "x://a:b:c@",
        ] {
            let c = url_candidates(url);
            assert!(c.contains(&url.to_owned()));
        }
    }

    #[test]
    fn body_hash_matches_known_value() {
        assert_eq!(
            body_sha256_hex(b"{}"),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn empty_or_garbage_signature_is_rejected() {
        let v = Validator::new("t");
        assert_eq!(
            v.validate("https://a", &[], ""),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            v.validate("https://a", &[], "***"),
            Err(SignatureError::Mismatch)
        );
    }
}
