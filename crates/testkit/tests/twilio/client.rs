//! flexcord-twilio against the emulator: its webhook validator accepts the emulator's signatures.

use flexcord_twilio::webhook::Validator;

/// Validates an `X-Twilio-Signature` with flexcord-twilio's [`Validator`].
pub(crate) fn validate_signature(
    token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    Validator::new(token)
        .validate(url, params, signature)
        .is_ok()
}
