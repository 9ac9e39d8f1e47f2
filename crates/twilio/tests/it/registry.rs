//! The operation registry: equal to the documented table, every operation tested against a
//! mock server, and every path, method and parameter present in Twilio's `OpenAPI` specs.

use std::collections::{BTreeSet, HashMap};

use flexcord_twilio::Product;
use flexcord_twilio::registry::OPERATIONS;
use serde_json::Value;

use crate::common::specs_dir;

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
    // Studio v2
    (Product::Studio, "POST", "/v2/Flows/{FlowSid}/Executions"),
    (
        Product::Studio,
        "GET",
        "/v2/Flows/{FlowSid}/Executions/{Sid}",
    ),
    // Media Content Service
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

fn spec_file(product: Product) -> Option<&'static str> {
    match product {
        Product::Chat => Some("twilio_chat_v2.json"),
        Product::Flex => Some("twilio_flex_v1.json"),
        Product::Conversations => Some("twilio_conversations_v1.json"),
        Product::Studio => Some("twilio_studio_v2.json"),
        _ => None,
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

#[test]
fn every_operation_conforms_to_twilio_specs() {
    let Some(dir) = specs_dir("spec conformance") else {
        return;
    };
    let mut specs: HashMap<&str, Value> = HashMap::new();
    let mut checked = 0;
    for op in OPERATIONS {
        let Some(file) = spec_file(op.product) else {
            println!(
                "spec conformance: {} ({} {}) not checked: the Media Content Service is not in \
                 Twilio's OpenAPI specs",
                op.id, op.method, op.path
            );
            continue;
        };
        let spec = specs.entry(file).or_insert_with(|| {
            let text = std::fs::read_to_string(dir.join(file))
                .unwrap_or_else(|e| panic!("read {file}: {e}"));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {file}: {e}"))
        });
        let path_item = &spec["paths"][op.path];
        assert!(
            path_item.is_object(),
            "{}: path {} not in {file}",
            op.id,
            op.path
        );
        let operation = &path_item[op.method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{}: {} {} not in {file}",
            op.id,
            op.method,
            op.path
        );
        let names = spec_parameter_names(path_item, operation);
        for placeholder in op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        {
            assert!(
                names.contains(placeholder),
                "{}: path parameter {placeholder} not in the spec",
                op.id
            );
        }
        for name in op.params.iter().chain(op.headers) {
            assert!(
                names.contains(*name),
                "{}: parameter {name} not in the spec of {} {} (spec has {names:?})",
                op.id,
                op.method,
                op.path
            );
        }
        checked += 1;
    }
    assert_eq!(checked, OPERATIONS.len() - 1, "all but Media are checked");
}
