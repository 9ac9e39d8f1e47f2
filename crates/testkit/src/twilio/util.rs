//! Small helpers: SIDs, timestamps, form parameters, Twilio error bodies, pagination.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// 32 lower-case hex digits, unique within the process and random across processes.
pub(crate) fn hex32() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut a = RandomState::new().build_hasher();
    a.write_u64(n);
    let mut b = RandomState::new().build_hasher();
    b.write_u64(n.rotate_left(17) ^ 0x5bd1_e995);
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

/// A SID: the two-letter prefix and 32 hex digits.
pub(crate) fn sid(prefix: &str) -> String {
    format!("{prefix}{}", hex32())
}

/// True when `s` is `prefix` followed by 32 hex digits.
pub(crate) fn is_sid(prefix: &str, s: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The current time as Twilio writes it: `2016-03-24T20:37:57Z`.
pub(crate) fn now() -> String {
    fmt_time(OffsetDateTime::now_utc())
}

pub(crate) fn fmt_time(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.checked_to_offset(time::UtcOffset::UTC)
        .and_then(|utc| utc.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// Parses an ISO 8601 / RFC 3339 timestamp given by a client and writes it in Twilio's form;
/// `None` also when it falls outside years 0 to 9999 in UTC.
pub(crate) fn parse_time(s: &str) -> Option<String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()?
        .checked_to_offset(time::UtcOffset::UTC)
        .map(fmt_time)
}

/// Seconds in an ISO 8601 duration such as `PT10M` or `P1DT2H`; `None` when it cannot be read or is zero.
pub(crate) fn duration_secs(iso: &str) -> Option<i64> {
    let rest = iso.strip_prefix('P')?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let date_units: &[(char, i64)] = &[('D', 86_400), ('W', 604_800)];
    let time_units: &[(char, i64)] = &[('H', 3600), ('M', 60), ('S', 1)];
    let mut secs: i64 = 0;
    for (part, units) in [(date_part, date_units), (time_part, time_units)] {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
            } else {
                let unit = units.iter().find(|(u, _)| *u == c)?.1;
                secs = secs.checked_add(num.parse::<i64>().ok()?.checked_mul(unit)?)?;
                num.clear();
            }
        }
        if !num.is_empty() {
            return None;
        }
    }
    (secs > 0).then_some(secs)
}

/// Now plus an ISO 8601 duration, in Twilio's time format; `None` also when the result is past
/// the years a timestamp can hold.
pub(crate) fn after_duration(iso: &str) -> Option<String> {
    let secs = duration_secs(iso)?;
    OffsetDateTime::now_utc()
        .checked_add(time::Duration::seconds(secs))
        .map(fmt_time)
}

/// Form or query parameters in arrival order; repeated keys keep every value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: &[u8]) -> Self {
        Self(form_urlencoded::parse(raw).into_owned().collect())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    pub(crate) fn required(&self, key: &str) -> Result<&str, ApiError> {
        match self.get(key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ApiError::missing(key)),
        }
    }

    /// A JSON-text parameter (`Attributes`): must parse; returned as given.
    pub(crate) fn json_text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match serde_json::from_str::<Value>(v) {
                Ok(_) => Ok(Some(v.to_owned())),
                Err(_) => Err(ApiError::invalid(format!(
                    "Invalid {key}: the value must be valid JSON"
                ))),
            },
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(format!(
                "Invalid {key}: '{v}' is not a boolean"
            ))),
        }
    }

    pub(crate) fn time(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_time(v).map(Some).ok_or_else(|| {
                ApiError::invalid(format!("Invalid {key}: '{v}' is not an ISO 8601 date-time"))
            }),
        }
    }

    pub(crate) fn one_of(&self, key: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
            Some(v) => Err(ApiError::invalid(format!(
                "Invalid {key}: '{v}' is not one of {}",
                allowed.join(", ")
            ))),
        }
    }

    pub(crate) fn sid(&self, key: &str, prefix: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if is_sid(prefix, v) => Ok(Some(v.to_owned())),
            Some(v) => Err(ApiError::invalid(format!(
                "Invalid {key}: '{v}' is not a {prefix} SID"
            ))),
        }
    }
}

/// A Twilio REST error, answered as `{"code","message","more_info","status"}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: u32,
    pub(crate) message: String,
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource {path} was not found"),
        )
    }

    pub(crate) fn missing(key: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            20001,
            format!("Missing required parameter {key} in the post body"),
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 20001, message)
    }

    pub(crate) fn conflict(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        if self.code == 20003 {
            body["detail"] = json!("Your AccountSid or AuthToken was incorrect.");
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        res
    }
}

#[allow(clippy::too_many_arguments)] // one call per list endpoint, each argument a plain value
/// One page of a list: `{ key: [...], meta: {...} }` with absolute page URLs carrying `PageToken`.
pub(crate) fn page(
    items: Vec<Value>,
    key: &str,
    base: &str,
    path: &str,
    query: &Params,
    default_size: usize,
    max_size: usize,
    keep: &[&str],
) -> Result<Value, ApiError> {
    let size = match query.get("PageSize") {
        None => default_size,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(max_size),
            _ => return Err(ApiError::invalid(format!("Invalid PageSize: '{v}'"))),
        },
    };
    let offset = match query.get("PageToken") {
        None => 0,
        Some(t) => t
            .strip_prefix("PT")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::invalid(format!("Invalid PageToken: '{t}'")))?,
    };
    let page_no = offset / size;
    let mut filters = String::new();
    for k in keep {
        for v in query.all(k) {
            filters.push('&');
            filters.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .append_pair(k, &v)
                    .finish(),
            );
        }
    }
    let url_for = |page: usize, token: Option<usize>| {
        let mut u = format!("{base}{path}?PageSize={size}&Page={page}");
        if let Some(t) = token {
            u.push_str("&PageToken=PT");
            u.push_str(&t.to_string());
        }
        u.push_str(&filters);
        u
    };
    let total = items.len();
    let chunk: Vec<Value> = items.into_iter().skip(offset).take(size).collect();
    // `PageToken` comes from the request: a huge one must not overflow.
    let next =
        (offset.saturating_add(size) < total).then(|| url_for(page_no + 1, Some(offset + size)));
    let previous =
        (offset > 0).then(|| url_for(page_no.saturating_sub(1), Some(offset.saturating_sub(size))));
    let current = if offset == 0 {
        url_for(0, None)
    } else {
        url_for(page_no, Some(offset))
    };
    Ok(json!({
        key: chunk,
        "meta": {
            "page": page_no,
            "page_size": size,
            "first_page_url": url_for(0, None),
            "previous_page_url": previous,
            "url": current,
            "next_page_url": next,
            "key": key,
        }
    }))
}

/// Whether a chat channel's attributes say Flex's `status` is `INACTIVE` (any case).
pub(crate) fn flex_status_inactive(attributes: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(attributes)
        .ok()
        .and_then(|v| v.get("status")?.as_str().map(str::to_owned))
        .is_some_and(|s| s.eq_ignore_ascii_case("inactive"))
}

/// The `flexcord.handoff` flag inside a JSON attributes text.
pub(crate) fn handoff_flag(attributes: &str) -> bool {
    serde_json::from_str::<Value>(attributes)
        .ok()
        .and_then(|v| v.get("flexcord")?.get("handoff")?.as_bool())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_have_prefix_and_32_hex() {
        let a = sid("CH");
        let b = sid("CH");
        assert!(is_sid("CH", &a), "{a}");
        assert_ne!(a, b);
        assert!(!is_sid("CH", "CH123"));
        assert!(!is_sid("IM", &a));
    }

    #[test]
    fn durations_and_times() {
        assert!(after_duration("PT10M").is_some());
        assert!(after_duration("P1DT1H").is_some());
        assert!(after_duration("10M").is_none());
        assert!(after_duration("PT").is_none());
        assert!(
            after_duration("PT9999999999999H").is_none(),
            "a duration past year 9999 is refused, not a panic"
        );
        assert_eq!(
            parse_time("2020-01-02T03:04:05Z").as_deref(),
            Some("2020-01-02T03:04:05Z")
        );
        assert_eq!(
            parse_time("2020-01-02T03:04:05.123+01:00").as_deref(),
            Some("2020-01-02T02:04:05Z")
        );
        assert!(parse_time("yesterday").is_none());
        assert!(
            parse_time("9999-12-31T23:00:00-05:00").is_none(),
            "year 10000 in UTC is refused, not a panic"
        );
        assert_eq!(now().len(), 20);
    }

    #[test]
    fn inactive_status_is_read_in_any_case() {
        assert!(flex_status_inactive(r#"{"status":"INACTIVE"}"#));
        assert!(flex_status_inactive(r#"{"status":"inactive","from":"x"}"#));
        assert!(!flex_status_inactive(r#"{"status":"ACTIVE"}"#));
        assert!(!flex_status_inactive("not json"));
    }

    #[test]
    fn handoff_flag_reads_nested_attribute() {
        assert!(handoff_flag(r#"{"flexcord":{"handoff":true}}"#));
        assert!(!handoff_flag(r#"{"flexcord":{"handoff":false}}"#));
        assert!(!handoff_flag("not json"));
    }

    #[test]
    fn pages_carry_tokens() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let q = Params::parse(b"PageSize=2&Order=desc");
        let p = page(
            items.clone(),
            "messages",
            "http://h",
            "/v1/X",
            &q,
            50,
            100,
            &["Order"],
        )
        .unwrap_or_default();
        assert_eq!(p["messages"], json!([0, 1]));
        assert_eq!(
            p["meta"]["next_page_url"],
            "http://h/v1/X?PageSize=2&Page=1&PageToken=PT2&Order=desc"
        );
        let q = Params::parse(b"PageSize=2&PageToken=PT4");
        let p = page(items, "messages", "http://h", "/v1/X", &q, 50, 100, &[]).unwrap_or_default();
        assert_eq!(p["messages"], json!([4]));
        assert!(p["meta"]["next_page_url"].is_null());
        assert_eq!(p["meta"]["page"], 2);
    }

    #[test]
    fn a_huge_page_token_is_an_empty_last_page() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let q = Params::parse(format!("PageSize=2&PageToken=PT{}", usize::MAX).as_bytes());
        let p = page(items, "messages", "http://h", "/v1/X", &q, 50, 100, &[])
            .expect("a page, not an error or a panic");
        assert_eq!(p["messages"], json!([]));
        assert!(p["meta"]["next_page_url"].is_null());
    }
}
