//! Benchmarks for webhook signature validation and event parsing.
//!
//! Run: `cargo bench -p flexcord-twilio --bench webhook`

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use flexcord_twilio::webhook::{Event, Validator, sign};

fn message_added_form() -> Vec<(String, String)> {
    [
        ("EventType", "onMessageAdded"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("ChatServiceSid", "IS0123456789abcdef0123456789abcdef"),
        ("ConversationSid", "CH0123456789abcdef0123456789abcdef"),
        ("MessageSid", "IM0123456789abcdef0123456789abcdef"),
        ("ParticipantSid", "MB0123456789abcdef0123456789abcdef"),
        ("Index", "12"),
        ("Author", "agent@example.com"),
        (
            "Body",
            "Hello from the contact center, how can I help you today?",
        ),
        ("Attributes", r#"{"flexcord":{"trace":"abc"}}"#),
        ("DateCreated", "2026-11-25T08:00:00Z"),
        ("Source", "SDK"),
        ("ClientIdentity", "agent@example.com"),
        ("RetryCount", "0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn benches(c: &mut Criterion) {
    let form = message_added_form();
    let url = "https://bridge.example.com/twilio/outbound";
    let signature = sign("0123456789abcdef0123456789abcdef", url, &form);
    let validator = Validator::new("0123456789abcdef0123456789abcdef");

    c.bench_function("webhook/validate_form_14_params", |b| {
        b.iter(|| validator.validate(black_box(url), black_box(&form), black_box(&signature)));
    });
    c.bench_function("webhook/validate_form_bad_signature", |b| {
        b.iter(|| {
            validator.validate(
                black_box(url),
                black_box(&form),
                black_box("AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            )
        });
    });
    c.bench_function("webhook/parse_message_added", |b| {
        b.iter(|| Event::from_form(black_box(&form)));
    });
}

criterion_group!(webhook, benches);
criterion_main!(webhook);
