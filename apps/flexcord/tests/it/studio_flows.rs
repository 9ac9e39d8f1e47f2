//! The importable Studio flows in `docs/studio/`: their structure, and that what their HTTP
//! widget sends is what `POST /twilio/bot` reads.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use flexcord::server::{BotRequest, SECRET_PARAM};
use flexcord_twilio::sid::WorkflowSid;
use serde_json::Value;

/// One flow file and what its mode's trigger looks like.
struct Flow {
    file: &'static str,
    /// The trigger event that starts the flow.
    event: &'static str,
    /// `trigger.<prefix>.` variables of that event.
    prefix: &'static str,
    /// The form field naming the conversation or channel.
    sid_field: &'static str,
    /// The trigger variable of the message's author.
    author: &'static str,
    /// The form field carrying the author (`Author`, or the chat trigger's own `From`).
    author_field: &'static str,
    /// Whether the flow sends to Flex itself (chat mode) or ends at the hand-off, the bridge
    /// bringing Flex in through the Interactions API (Conversations; decision 0014).
    sends_to_flex: bool,
    /// The trigger variables this trigger offers (Twilio's names; `ChannelAttributes.*` too).
    variables: &'static [&'static str],
}

const FLOWS: [Flow; 2] = [
    Flow {
        file: "flexcord-bot-flow.json",
        event: "incomingConversationMessage",
        prefix: "conversation",
        sid_field: "ConversationSid",
        author: "Author",
        author_field: "Author",
        sends_to_flex: false,
        variables: &["ConversationSid", "MessageSid", "Author", "Body", "Source"],
    },
    Flow {
        file: "flexcord-chat-flow.json",
        event: "incomingMessage",
        prefix: "message",
        sid_field: "ChannelSid",
        author: "From",
        author_field: "From",
        sends_to_flex: true,
        variables: &[
            "ChannelSid",
            "MessageSid",
            "From",
            "Body",
            "InstanceSid",
            "WebhookSid",
            "Source",
        ],
    },
];

fn load(file: &str) -> Value {
    let path = format!("{}/../../docs/studio/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

fn states(flow: &Value) -> BTreeMap<String, &Value> {
    flow["states"]
        .as_array()
        .expect("a states array")
        .iter()
        .map(|s| (s["name"].as_str().expect("a named state").to_owned(), s))
        .collect()
}

fn transition<'a>(state: &'a Value, event: &str) -> Option<&'a Value> {
    state["transitions"]
        .as_array()?
        .iter()
        .find(|t| t["event"] == event)
}

fn next(state: &Value, event: &str) -> Option<String> {
    transition(state, event)?["next"]
        .as_str()
        .map(str::to_owned)
}

/// The single state of `kind`.
fn only<'a>(states: &BTreeMap<String, &'a Value>, kind: &str, file: &str) -> (String, &'a Value) {
    let found: Vec<_> = states.iter().filter(|(_, s)| s["type"] == kind).collect();
    assert_eq!(
        found.len(),
        1,
        "{file}: one {kind} state, got {}",
        found.len()
    );
    (found[0].0.clone(), found[0].1)
}

/// Every `{{…}}` expression in the file, without the braces and filters.
fn expressions(text: &str) -> Vec<String> {
    text.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}"))
        .map(|(expr, _)| expr.split('|').next().unwrap_or("").trim().to_owned())
        .collect()
}

#[test]
fn studio_flows_are_wired_to_the_bridge() {
    for flow in &FLOWS {
        let json = load(flow.file);
        let states = states(&json);
        check_graph(flow, &json, &states);
        let bot = check_routing(flow, &states);
        check_bot_request(flow, bot);
        if flow.sends_to_flex {
            check_send_to_flex(flow, &states);
        } else {
            assert!(
                states.values().all(|s| s["type"] != "send-to-flex"),
                "{}: the bridge hands off, the flow must not make a second task",
                flow.file
            );
        }
        check_variables(flow, &json);
    }
}

/// The trigger starts the flow on this mode's event only; every state is reachable from it.
fn check_graph(flow: &Flow, json: &Value, states: &BTreeMap<String, &Value>) {
    let file = flow.file;
    assert_eq!(json["initial_state"], "Trigger", "{file}");
    let trigger = states.get("Trigger").expect("a Trigger state");
    assert_eq!(trigger["type"], "trigger", "{file}");
    // Only this mode's trigger event starts the flow.
    for t in trigger["transitions"].as_array().unwrap() {
        let starts = t.get("next").is_some();
        assert_eq!(starts, t["event"] == flow.event, "{file}: {t}");
    }

    // Every transition leads to a state, and every state is reachable from the trigger.
    let mut seen = BTreeSet::from(["Trigger".to_owned()]);
    let mut queue = VecDeque::from(["Trigger".to_owned()]);
    while let Some(name) = queue.pop_front() {
        for t in states[&name]["transitions"].as_array().unwrap() {
            if let Some(to) = t["next"].as_str() {
                assert!(
                    states.contains_key(to),
                    "{file}: {name} -> {to}: no such state"
                );
                if seen.insert(to.to_owned()) {
                    queue.push_back(to.to_owned());
                }
            }
        }
    }
    let all: BTreeSet<String> = states.keys().cloned().collect();
    assert_eq!(seen, all, "{file}: states not reachable from the trigger");
}

/// Trigger -> hand-off check (`flexcord.handoff` true: send to Flex in chat mode, end the flow in
/// Conversations mode) -> author check (the bot's own messages end the flow) -> the HTTP
/// widget, which is returned.
fn check_routing<'a>(flow: &Flow, states: &BTreeMap<String, &'a Value>) -> &'a Value {
    let file = flow.file;
    let trigger = states["Trigger"];
    // The trigger goes to the hand-off check, which reads `flexcord.handoff` and sends the
    // conversation to Flex when it is true.
    let first = next(trigger, flow.event).unwrap();
    let check = states[&first];
    assert_eq!(check["type"], "split-based-on", "{file}");
    let handoff = format!(
        "{{{{trigger.{}.ChannelAttributes.flexcord.handoff}}}}",
        flow.prefix
    );
    assert_eq!(check["properties"]["input"], handoff.as_str(), "{file}");
    let matched = transition(check, "match").expect("a match transition");
    let condition = &matched["conditions"][0];
    assert_eq!(condition["arguments"][0], handoff.as_str(), "{file}");
    assert_eq!(condition["type"], "equal_to", "{file}");
    assert_eq!(condition["value"], "true", "{file}");
    if flow.sends_to_flex {
        let (flex_name, _) = only(states, "send-to-flex", file);
        assert_eq!(matched["next"], flex_name.as_str(), "{file}");
    } else {
        assert!(
            matched.get("next").is_none(),
            "{file}: a handed-off conversation ends the flow"
        );
    }

    // Otherwise the author check: the bot's own messages end the flow, others ask the bot.
    let author_check = states[&next(check, "noMatch").expect("noMatch goes on")];
    let author = format!("{{{{trigger.{}.{}}}}}", flow.prefix, flow.author);
    assert_eq!(
        author_check["properties"]["input"],
        author.as_str(),
        "{file}"
    );
    let own = transition(author_check, "match").expect("a match for the bot");
    assert!(
        own.get("next").is_none(),
        "{file}: the bot's messages end the flow"
    );
    assert_eq!(own["conditions"][0]["value"], "flexcord-bot", "{file}");
    let (bot_name, bot) = only(states, "make-http-request", file);
    assert_eq!(
        next(author_check, "noMatch").as_deref(),
        Some(bot_name.as_str()),
        "{file}"
    );
    bot
}

/// The HTTP widget posts a form to /twilio/bot that `POST /twilio/bot` reads.
fn check_bot_request(flow: &Flow, bot: &Value) {
    let file = flow.file;
    // POST, a form, an https URL, no Twilio credentials attached.
    let p = &bot["properties"];
    assert_eq!(p["method"], "POST", "{file}");
    let url = url::Url::parse(p["url"].as_str().unwrap()).expect("an absolute URL");
    assert_eq!(url.path(), "/twilio/bot", "{file}");
    assert_eq!(url.scheme(), "https", "{file}");
    assert!(
        p["content_type"]
            .as_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded"),
        "{file}"
    );
    assert_eq!(p["add_twilio_auth"], false, "{file}");
    // Its parameters, with the trigger variables filled in, are a valid bot request.
    let sample = |expr: &str| format!("<{expr}>");
    let form: Vec<(String, String)> = p["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| {
            let value = kv["value"].as_str().unwrap();
            let filled = match expressions(value).as_slice() {
                [] => value.to_owned(),
                [one] => sample(one),
                more => panic!("{file}: one variable per parameter, got {more:?}"),
            };
            (kv["key"].as_str().unwrap().to_owned(), filled)
        })
        .collect();
    let request = BotRequest::from_form(&form).unwrap_or_else(|e| panic!("{file}: {e}"));
    let var = |name: &str| sample(&format!("trigger.{}.{name}", flow.prefix));
    assert_eq!(request.conversation, var(flow.sid_field), "{file}");
    assert_eq!(request.message_sid, var("MessageSid"), "{file}");
    assert_eq!(request.author, var(flow.author), "{file}");
    assert_eq!(request.body, var("Body"), "{file}");
    assert!(form.iter().any(|(k, _)| k == flow.sid_field), "{file}");
    assert!(form.iter().any(|(k, _)| k == flow.author_field), "{file}");
    assert!(form.iter().any(|(k, _)| k == SECRET_PARAM), "{file}");
}

/// Send to Flex names a workflow and a task channel, and tells the task its channel.
fn check_send_to_flex(flow: &Flow, states: &BTreeMap<String, &Value>) {
    let file = flow.file;
    let (_, flex) = only(states, "send-to-flex", file);
    let p = &flex["properties"];
    p["workflow"]
        .as_str()
        .unwrap()
        .parse::<WorkflowSid>()
        .unwrap_or_else(|e| panic!("{file}: workflow: {e}"));
    let channel = p["channel"].as_str().unwrap();
    assert!(
        channel.len() == 34
            && channel.starts_with("TC")
            && channel[2..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{file}: task channel {channel}"
    );
    let attributes = p["attributes"].as_str().unwrap();
    let sid = format!("{{{{trigger.{}.{}}}}}", flow.prefix, flow.sid_field);
    assert!(attributes.contains(&sid), "{file}: {attributes}");
    assert!(attributes.contains("flexcord"), "{file}: {attributes}");
}

/// Only this trigger's variables are used anywhere in the flow.
fn check_variables(flow: &Flow, json: &Value) {
    let file = flow.file;
    let text = serde_json::to_string(json).unwrap();
    for expr in expressions(&text) {
        let rest = expr
            .strip_prefix(&format!("trigger.{}.", flow.prefix))
            .unwrap_or_else(|| panic!("{file}: {expr} is not a variable of {}", flow.event));
        assert!(
            rest.starts_with("ChannelAttributes.") || flow.variables.contains(&rest),
            "{file}: unknown trigger variable {expr}"
        );
    }
}
