//! Shared helpers for the integration tests.

use std::path::PathBuf;

/// Where Twilio's `OpenAPI` specs and signature vectors live: `TWILIO_SPECS_DIR`, or
/// `<workspace>/../shared/specs/twilio`.
///
/// Returns `None` (after printing why) when the folder is absent, unless `FLEXCORD_CI=1`, in
/// which case it panics: CI never skips the spec checks.
pub(crate) fn specs_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("TWILIO_SPECS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs/twilio"),
        PathBuf::from,
    );
    if dir.join("twilio_conversations_v1.json").is_file() {
        return Some(dir);
    }
    let why = format!(
        "{test}: Twilio specs not found in {} (set TWILIO_SPECS_DIR to the folder holding \
         twilio_*.json and signature_vectors.json)",
        dir.display()
    );
    assert!(
        std::env::var("FLEXCORD_CI").as_deref() != Ok("1"),
        "{why}; FLEXCORD_CI=1 forbids skipping"
    );
    eprintln!("SKIPPED {why}");
    None
}
