//! A small validator of JSON answers against the response schemas in Twilio's `OpenAPI` specs:
//! every property of the schema present, no property outside it, types, `nullable`, enums, SID
//! patterns, lengths, `date-time` and `uri` formats; `$ref`s resolved.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const FILES: [&str; 4] = [
    "twilio_chat_v2.json",
    "twilio_flex_v1.json",
    "twilio_conversations_v1.json",
    "twilio_studio_v2.json",
];

pub(crate) struct Specs {
    docs: Vec<Value>,
}

fn specs_dir() -> PathBuf {
    std::env::var_os("TWILIO_SPECS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs/twilio"),
        PathBuf::from,
    )
}

/// The specs, or `None` (with a message) when they are absent; absent specs fail under
/// `FLEXCORD_CI=1`.
pub(crate) fn specs() -> Option<&'static Specs> {
    static SPECS: OnceLock<Option<Specs>> = OnceLock::new();
    SPECS
        .get_or_init(|| {
            let dir = specs_dir();
            let mut docs = Vec::new();
            for f in FILES {
                match std::fs::read_to_string(dir.join(f)) {
                    Ok(text) => docs.push(serde_json::from_str(&text).expect("spec is JSON")),
                    Err(e) => {
                        assert!(
                            std::env::var("FLEXCORD_CI").as_deref() != Ok("1"),
                            "Twilio specs missing at {} ({e}); FLEXCORD_CI=1 forbids skipping",
                            dir.display()
                        );
                        eprintln!(
                            "skipped: spec validation (Twilio specs not found at {}: {e})",
                            dir.display()
                        );
                        return None;
                    }
                }
            }
            Some(Specs { docs })
        })
        .as_ref()
}

/// Checks one answer; panics with every mismatch. Returns the operation's `METHOD template`, or
/// `None` for paths outside the specs (Media) or when the specs are absent. A 204 is checked to be
/// a status the operation declares.
pub(crate) fn check_response(
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
) -> Option<String> {
    let specs = specs()?;
    let (doc, template, op) = specs.find(method, path)?;
    let declared = op.pointer(&format!("/responses/{status}"));
    assert!(
        declared.is_some(),
        "{method} {template} does not declare status {status} in the spec"
    );
    if status != 204 {
        let schema = op
            .pointer(&format!(
                "/responses/{status}/content/application~1json/schema"
            ))
            .unwrap_or_else(|| panic!("{method} {template} has no JSON schema for {status}"));
        let mut errors = Vec::new();
        check(doc, schema, body, "$", &mut errors);
        assert!(
            errors.is_empty(),
            "{method} {path} ({template}) answer does not match the spec:\n{}\n{body:#}",
            errors.join("\n")
        );
    }
    Some(format!("{method} {template}"))
}

impl Specs {
    /// The operation for a concrete path: the template with the most literal segments that matches.
    fn find(&self, method: &str, path: &str) -> Option<(&Value, String, &Value)> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut best: Option<(usize, &Value, String, &Value)> = None;
        for doc in &self.docs {
            let Some(paths) = doc["paths"].as_object() else {
                continue;
            };
            for (template, item) in paths {
                let t: Vec<&str> = template.trim_matches('/').split('/').collect();
                if t.len() != segs.len() {
                    continue;
                }
                let mut literal = 0;
                let ok = t.iter().zip(&segs).all(|(a, b)| {
                    if a.starts_with('{') {
                        true
                    } else {
                        literal += 1;
                        a == b
                    }
                });
                let Some(op) = item.get(method.to_ascii_lowercase()) else {
                    continue;
                };
                if ok && best.as_ref().is_none_or(|b| literal > b.0) {
                    best = Some((literal, doc, template.clone(), op));
                }
            }
        }
        best.map(|(_, d, t, o)| (d, t, o))
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    let ty = schema.get("type").and_then(Value::as_str);
    if value.is_null() {
        if ty.is_some() && schema.get("nullable") != Some(&Value::Bool(true)) {
            errors.push(format!("{at}: null but not nullable"));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} not in enum {allowed:?}"));
    }
    match ty {
        Some("string") => {
            let Some(s) = value.as_str() else {
                errors.push(format!("{at}: expected string, got {value}"));
                return;
            };
            let len = s.chars().count() as u64;
            if schema
                .get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| len < m)
            {
                errors.push(format!("{at}: '{s}' shorter than minLength"));
            }
            if schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| len > m)
            {
                errors.push(format!("{at}: '{s}' longer than maxLength"));
            }
            if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
                // SID patterns: ^XX[0-9a-fA-F]{32}$
                if let Some(prefix) = p
                    .strip_prefix('^')
                    .and_then(|r| r.strip_suffix("[0-9a-fA-F]{32}$"))
                {
                    let ok = s.len() == 34
                        && s.starts_with(prefix)
                        && s[prefix.len()..].bytes().all(|b| b.is_ascii_hexdigit());
                    if !ok {
                        errors.push(format!("{at}: '{s}' does not match {p}"));
                    }
                }
            }
            match schema.get("format").and_then(Value::as_str) {
                Some("date-time") if OffsetDateTime::parse(s, &Rfc3339).is_err() => {
                    errors.push(format!("{at}: '{s}' is not a date-time"));
                }
                Some("uri")
                    if !(s.starts_with("http://")
                        || s.starts_with("https://")
                        || s.starts_with('/')) =>
                {
                    errors.push(format!("{at}: '{s}' is not a URI"));
                }
                _ => {}
            }
        }
        Some("integer") if !(value.is_i64() || value.is_u64()) => {
            errors.push(format!("{at}: expected integer, got {value}"));
        }
        Some("number") if !value.is_number() => {
            errors.push(format!("{at}: expected number, got {value}"));
        }
        Some("boolean") if !value.is_boolean() => {
            errors.push(format!("{at}: expected boolean, got {value}"));
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                errors.push(format!("{at}: expected array, got {value}"));
                return;
            };
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    check(doc, item_schema, v, &format!("{at}[{i}]"), errors);
                }
            }
        }
        Some("object") => {
            let Some(obj) = value.as_object() else {
                errors.push(format!("{at}: expected object, got {value}"));
                return;
            };
            if schema.get("format").and_then(Value::as_str) == Some("uri-map") {
                for (k, v) in obj {
                    if !(v.is_null()
                        || v.as_str()
                            .is_some_and(|s| s.starts_with("http") || s.starts_with('/')))
                    {
                        errors.push(format!("{at}.{k}: {v} is not a URI"));
                    }
                }
            }
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, sub) in props {
                    match obj.get(k) {
                        Some(v) => check(doc, sub, v, &format!("{at}.{k}"), errors),
                        None => errors.push(format!("{at}.{k}: missing")),
                    }
                }
                for k in obj.keys() {
                    if !props.contains_key(k) {
                        errors.push(format!("{at}.{k}: not in the schema"));
                    }
                }
            }
        }
        _ => {}
    }
}

#[test]
fn validator_catches_mismatches() {
    let Some(specs) = specs() else { return };
    let (doc, _, op) = specs
        .find(
            "GET",
            "/v1/Conversations/CH00000000000000000000000000000000",
        )
        .expect("operation");
    let schema = op
        .pointer("/responses/200/content/application~1json/schema")
        .expect("schema");
    let mut errors = Vec::new();
    check(
        doc,
        schema,
        &serde_json::json!({"sid": "XX1", "state": "open", "extra": 1}),
        "$",
        &mut errors,
    );
    let text = errors.join("\n");
    assert!(text.contains("$.sid: 'XX1' does not match"), "{text}");
    assert!(text.contains("$.state: \"open\" not in enum"), "{text}");
    assert!(text.contains("$.extra: not in the schema"), "{text}");
    assert!(text.contains("$.account_sid: missing"), "{text}");
}
