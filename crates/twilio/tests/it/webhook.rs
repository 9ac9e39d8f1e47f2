//! Signature vectors from Twilio's helper libraries, and tamper checks.

use flexcord_twilio::webhook::{SignatureError, Validator, body_sha256_hex, sign};
use serde_json::Value;

use crate::common::specs_dir;

fn params_of(vector: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(map) = vector.get("params").and_then(Value::as_object) {
        for (key, value) in map {
            match value {
                Value::Array(values) => {
                    for v in values {
                        out.push((key.clone(), v.as_str().expect("string").to_owned()));
                    }
                }
                Value::String(v) => out.push((key.clone(), v.clone())),
                other => panic!("unexpected param value {other}"),
            }
        }
    }
    out
}

fn str_of<'a>(vector: &'a Value, key: &str) -> Option<&'a str> {
    vector.get(key).and_then(Value::as_str)
}

#[test]
fn every_signature_vector_passes_and_tampering_fails() {
    let Some(dir) = specs_dir("signature vectors") else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("signature_vectors.json")).expect("read vectors");
    let doc: Value = serde_json::from_str(&text).expect("vectors are JSON");
    let vectors = doc["vectors"].as_array().expect("vectors array");
    assert_eq!(vectors.len(), 15, "the file holds 15 vectors");
    let mut checked = 0;
    for vector in vectors {
        let id = str_of(vector, "id").expect("id");
        if let (Some(body), Some(hash)) = (
            str_of(vector, "body"),
            str_of(vector, "expected_body_sha256_hex"),
        ) {
            assert_eq!(body_sha256_hex(body.as_bytes()), hash, "{id}: body hash");
        }
        let Some(expected) = str_of(vector, "expected") else {
            // body-hash-only vector, checked above
            checked += 1;
            continue;
        };
        let token = str_of(vector, "token").expect("token");
        let url = str_of(vector, "request_url").expect("request_url");
        let signed_url = str_of(vector, "signed_url").expect("signed_url");
        let params = params_of(vector);
        let validator = Validator::new(token);

        // Signing the exact signed string reproduces Twilio's value.
        assert_eq!(sign(token, signed_url, &params), expected, "{id}: sign");
        // Reordering parameters changes nothing.
        let mut reversed = params.clone();
        reversed.reverse();
        assert_eq!(sign(token, signed_url, &reversed), expected, "{id}: order");

        if let Some(body) = str_of(vector, "body") {
            validator
                .validate_json(url, body.as_bytes(), expected)
                .unwrap_or_else(|e| panic!("{id}: validate_json: {e}"));
            let mut tampered = body.as_bytes().to_vec();
            tampered.push(b' ');
            assert_eq!(
                validator.validate_json(url, &tampered, expected),
                Err(SignatureError::BodyHashMismatch),
                "{id}: altered body"
            );
        } else {
            validator
                .validate(url, &params, expected)
                .unwrap_or_else(|e| panic!("{id}: validate: {e}"));
        }

        // A changed token, URL or parameter fails.
        assert_eq!(
            Validator::new("54321").validate(url, &params, expected),
            Err(SignatureError::Mismatch),
            "{id}: other token"
        );
        let other_url = url.replacen("myapp", "yourapp", 1);
        assert_eq!(
            validator.validate(&other_url, &params, expected),
            Err(SignatureError::Mismatch),
            "{id}: other url"
        );
        let mut more = params.clone();
        more.push(("Extra".into(), "1".into()));
        assert_eq!(
            validator.validate(url, &more, expected),
            Err(SignatureError::Mismatch),
            "{id}: added param"
        );
        if let Some((key, value)) = params.first() {
            let mut changed = params.clone();
            changed[0] = (key.clone(), format!("{value}0"));
            assert_eq!(
                validator.validate(url, &changed, expected),
                Err(SignatureError::Mismatch),
                "{id}: changed param"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 15);
}

#[test]
fn main_vectors_hold_without_the_specs_folder() {
    // Quoted from Twilio's helper-library tests (see the specs folder's README for sources).
    let params: Vec<(String, String)> = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let v = Validator::new("12345");
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(sign("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    v.validate(url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        .expect("basic");
    v.validate(url, &params, "kvajT1Ptam85bY51eRf/AJRuM3w=")
        .expect(":443 form");
    v.validate(
        "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
        &params,
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
    )
    .expect("https custom port stripped");
    v.validate(
        "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
        &params,
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
    )
    .expect("http custom port kept");
    v.validate(
        "https://mycompany.com/myapp.php?foo=1&bar=2&Body=It's+amazing",
        &params,
        "TfZzewPq8wqrGlMfyAud8+/IvJ0=",
    )
    .expect("apostrophe normalised to %27");
    v.validate_json(
        "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620",
        br#"{"property": "value", "boolean": true}"#,
        "a9nBmqA0ju/hNViExpshrM61xv4=",
    )
    .expect("json body");
    assert_eq!(
        v.validate_json("https://mycompany.com/myapp.php", b"{}", "x"),
        Err(SignatureError::MissingBodyHash)
    );
}
