//! The operation registry: equal to the documented table, every operation tested against a
//! mock server, and every path, method and parameter present in Twilio's `OpenAPI` specs.

use std::collections::BTreeSet;

use flexcord_twilio::Product;
use flexcord_twilio::registry::OPERATIONS;
use serde_json::Value;

use crate::common::{load_specs, specs_dir};

/// The operations the crate promises (product, method, path), transcribed from the table in the
/// crate README.
const TABLE: &[(Product, &str, &str)] = &[
    // Chat v2
    (
        Product::Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Users/{Sid}",
    ),
    (Product::Chat, "POST", "/v2/Services/{ServiceSid}/Users"),
    (
        Product::Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels",
    ),
    (Product::Chat, "POST", "/v2/Services/{ServiceSid}/Channels"),
    (
        Product::Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{Sid}",
    ),
    (
        Product::Chat,
        "POST",
        "/v2/Services/{ServiceSid}/Channels/{Sid}",
    ),
    (Product::Chat, "GET", "/v2/Services/{ServiceSid}/Channels"),
    (
        Product::Chat,
        "POST",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages",
    ),
    (
        Product::Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages/{Sid}",
    ),
    (
        Product::Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages",
    ),
    (
        Product::Chat,
        "POST",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks",
    ),
    (
        Product::Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks",
    ),
    (
        Product::Chat,
        "DELETE",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks/{Sid}",
    ),
    (
        Product::Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Members",
    ),
    // Flex v1
    (Product::Flex, "POST", "/v1/Channels"),
    (Product::Flex, "GET", "/v1/FlexFlows"),
    (Product::Flex, "POST", "/v1/Interactions"),
    (Product::Flex, "GET", "/v1/Interactions/{Sid}"),
    (
        Product::Flex,
        "GET",
        "/v1/Interactions/{InteractionSid}/Channels",
    ),
    (
        Product::Flex,
        "POST",
        "/v1/Interactions/{InteractionSid}/Channels/{Sid}",
    ),
    // Conversations v1
    (Product::Conversations, "POST", "/v1/Conversations"),
    (Product::Conversations, "GET", "/v1/Conversations/{Sid}"),
    (Product::Conversations, "POST", "/v1/Conversations/{Sid}"),
    (Product::Conversations, "GET", "/v1/Conversations"),
    (Product::Conversations, "DELETE", "/v1/Conversations/{Sid}"),
    (
        Product::Conversations,
        "POST",
        "/v1/Conversations/{ConversationSid}/Participants",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Conversations/{ConversationSid}/Participants",
    ),
    (
        Product::Conversations,
        "POST",
        "/v1/Conversations/{ConversationSid}/Messages",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Conversations/{ConversationSid}/Messages/{Sid}",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Conversations/{ConversationSid}/Messages",
    ),
    (
        Product::Conversations,
        "POST",
        "/v1/Conversations/{ConversationSid}/Webhooks",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Conversations/{ConversationSid}/Webhooks",
    ),
    (
        Product::Conversations,
        "DELETE",
        "/v1/Conversations/{ConversationSid}/Webhooks/{Sid}",
    ),
    (Product::Conversations, "GET", "/v1/Users/{Sid}"),
    // Conversations v1 in a named service
    (
        Product::Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Users/{Sid}",
    ),
    (
        Product::Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{Sid}",
    ),
    (
        Product::Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations/{Sid}",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations",
    ),
    (
        Product::Conversations,
        "DELETE",
        "/v1/Services/{ChatServiceSid}/Conversations/{Sid}",
    ),
    (
        Product::Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Participants",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Participants",
    ),
    (
        Product::Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages/{Sid}",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages",
    ),
    (
        Product::Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Webhooks",
    ),
    (
        Product::Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Webhooks",
    ),
    (
        Product::Conversations,
        "DELETE",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Webhooks/{Sid}",
    ),
    // Studio v2
    (Product::Studio, "POST", "/v2/Flows/{FlowSid}/Executions"),
    (
        Product::Studio,
        "GET",
        "/v2/Flows/{FlowSid}/Executions/{Sid}",
    ),
    // Media Content Service
    (Product::Media, "POST", "/v1/Services/{ServiceSid}/Media"),
    (
        Product::Media,
        "GET",
        "/v1/Services/{ServiceSid}/Media/{Sid}",
    ),
];

/// The sources of the mock-server tests, searched for `check_op("<id>"`.
const TEST_SOURCES: &[&str] = &[
    include_str!("chat.rs"),
    include_str!("conversations.rs"),
    include_str!("flex_studio_media.rs"),
];

#[test]
fn registry_equals_the_table() {
    let registered: BTreeSet<(Product, &str, &str)> = OPERATIONS
        .iter()
        .map(|op| (op.product, op.method, op.path))
        .collect();
    let table: BTreeSet<(Product, &str, &str)> = TABLE.iter().copied().collect();
    assert_eq!(TABLE.len(), table.len(), "duplicates in the table");
    assert_eq!(
        OPERATIONS.len(),
        registered.len(),
        "duplicates in the registry"
    );
    let missing: Vec<_> = table.difference(&registered).collect();
    let extra: Vec<_> = registered.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}

#[test]
fn every_operation_has_a_mock_server_test() {
    for op in OPERATIONS {
        let needle = format!("check_op(\"{}\"", op.id);
        assert!(
            TEST_SOURCES.iter().any(|source| source.contains(&needle)),
            "no mock-server test calls {needle})"
        );
    }
}

/// Names of every parameter (path, query, header, form body) of one spec operation.
fn spec_parameter_names(path_item: &Value, operation: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for list in [&path_item["parameters"], &operation["parameters"]] {
        for parameter in list.as_array().into_iter().flatten() {
            if let Some(name) = parameter["name"].as_str() {
                names.insert(name.to_owned());
            }
        }
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        for media in content.values() {
            if let Some(properties) = media["schema"]["properties"].as_object() {
                names.extend(properties.keys().cloned());
            }
        }
    }
    names
}

/// Checks one operation against its spec document: the path and method exist, and so does every
/// path placeholder and every parameter or header name the builder can send.
fn check_against_spec(
    spec: &Value,
    method: &str,
    path: &str,
    names_sent: &[&str],
) -> Result<(), String> {
    let path_item = &spec["paths"][path];
    if !path_item.is_object() {
        return Err(format!("path {path} not in the spec"));
    }
    let operation = &path_item[method.to_ascii_lowercase()];
    if !operation.is_object() {
        return Err(format!("{method} {path} not in the spec"));
    }
    let names = spec_parameter_names(path_item, operation);
    let placeholders = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
    for name in placeholders.chain(names_sent.iter().copied()) {
        if !names.contains(name) {
            return Err(format!(
                "parameter {name} not in the spec of {method} {path} (spec has {names:?})"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_operation_conforms_to_twilio_specs() {
    let Some(dir) = specs_dir("spec conformance") else {
        return;
    };
    let specs = load_specs(&dir);
    let mut checked = 0;
    for op in OPERATIONS {
        let Some(spec) = specs.get(&op.product) else {
            println!(
                "spec conformance: {} ({} {}) not checked: the Media Content Service is not in \
                 Twilio's OpenAPI specs",
                op.id, op.method, op.path
            );
            continue;
        };
        let sent: Vec<&str> = op.params.iter().chain(op.headers).copied().collect();
        if let Err(problem) = check_against_spec(spec, op.method, op.path, &sent) {
            panic!("{}: {problem}", op.id);
        }
        checked += 1;
    }
    let media = OPERATIONS
        .iter()
        .filter(|op| op.product == Product::Media)
        .count();
    assert_eq!(
        checked,
        OPERATIONS.len() - media,
        "all but Media are checked"
    );
}

#[test]
fn the_spec_check_rejects_what_twilio_does_not_define() {
    let Some(dir) = specs_dir("spec check self-test") else {
        return;
    };
    let specs = load_specs(&dir);
    let conversations = &specs[&Product::Conversations];
    let path = "/v1/Conversations/{ConversationSid}/Messages";
    assert!(check_against_spec(conversations, "POST", path, &["Author", "Body"]).is_ok());
    // A misspelt wire name, a wrong method, a wrong path, a header Twilio does not take.
    assert!(check_against_spec(conversations, "POST", path, &["Author", "Bodies"]).is_err());
    assert!(check_against_spec(conversations, "PUT", path, &["Body"]).is_err());
    assert!(check_against_spec(conversations, "POST", "/v1/Conversation/{Sid}", &[]).is_err());
    assert!(
        check_against_spec(
            conversations,
            "POST",
            "/v1/Conversations/{ConversationSid}/Webhooks",
            &["X-Twilio-Webhook-Enabled"]
        )
        .is_err()
    );
}

/// Decodes one success body of operation `id` with the crate's model (for lists: each item).
fn decode_with_model(id: &str, body: &Value) -> Result<usize, String> {
    use flexcord_twilio::{chat, conversations, flex, studio};
    fn one<T: serde::de::DeserializeOwned>(v: &Value) -> Result<usize, String> {
        serde_json::from_value::<T>(v.clone())
            .map(|_| 1)
            .map_err(|e| e.to_string())
    }
    fn list<T: serde::de::DeserializeOwned>(v: &Value) -> Result<usize, String> {
        let key = v["meta"]["key"].as_str().ok_or("no meta.key")?;
        let items = v[key].as_array().ok_or("no items")?;
        for item in items {
            one::<T>(item)?;
        }
        Ok(items.len())
    }
    match id {
        "chat.users.fetch" | "chat.users.create" => one::<chat::User>(body),
        "chat.user_channels.list" => list::<chat::UserChannel>(body),
        "chat.channels.create" | "chat.channels.fetch" | "chat.channels.update" => {
            one::<chat::Channel>(body)
        }
        "chat.channels.list" => list::<chat::Channel>(body),
        "chat.messages.create" | "chat.messages.fetch" => one::<chat::Message>(body),
        "chat.messages.list" => list::<chat::Message>(body),
        "chat.webhooks.create" => one::<chat::ChannelWebhook>(body),
        "chat.webhooks.list" => list::<chat::ChannelWebhook>(body),
        "chat.members.list" => list::<chat::Member>(body),
        "flex.channels.create" => one::<flex::FlexChannel>(body),
        "flex.flex_flows.list" => list::<flex::FlexFlow>(body),
        "flex.interactions.create" | "flex.interactions.fetch" => one::<flex::Interaction>(body),
        "flex.interaction_channels.list" => list::<flex::InteractionChannel>(body),
        "flex.interaction_channels.update" => one::<flex::InteractionChannel>(body),
        "conversations.create" | "conversations.fetch" | "conversations.update" => {
            one::<conversations::Conversation>(body)
        }
        "conversations.list" => list::<conversations::Conversation>(body),
        "conversations.users.fetch" => one::<conversations::User>(body),
        "conversations.participants.create" => one::<conversations::Participant>(body),
        "conversations.participants.list" => list::<conversations::Participant>(body),
        "conversations.messages.create" | "conversations.messages.fetch" => {
            one::<conversations::Message>(body)
        }
        "conversations.messages.list" => list::<conversations::Message>(body),
        "conversations.webhooks.create" => one::<conversations::ConversationWebhook>(body),
        "conversations.webhooks.list" => list::<conversations::ConversationWebhook>(body),
        "studio.executions.create" | "studio.executions.fetch" => one::<studio::Execution>(body),
        other => Err(format!("no model mapped for {other}")),
    }
}

#[test]
fn models_decode_the_response_examples_in_twilio_specs() {
    // A service-scoped operation answers the same resource as its account-level twin.
    let Some(dir) = specs_dir("response examples") else {
        return;
    };
    let specs = load_specs(&dir);
    let mut decoded = 0;
    for op in OPERATIONS {
        let Some(spec) = specs.get(&op.product) else {
            continue; // Media: not in the specs
        };
        let operation = &spec["paths"][op.path][op.method.to_ascii_lowercase()];
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if status == "204" || !status.starts_with('2') {
                continue;
            }
            let examples = response["content"]["application/json"]["examples"]
                .as_object()
                .into_iter()
                .flatten();
            for (name, example) in examples {
                let id = op
                    .id
                    .replacen("conversations.services.", "conversations.", 1);
                let count = decode_with_model(&id, &example["value"])
                    .unwrap_or_else(|e| panic!("{} example {name}: {e}", op.id));
                decoded += count;
            }
        }
    }
    assert!(decoded > 30, "only {decoded} example resources decoded");
    println!("decoded {decoded} example resources from Twilio's specs");
}
