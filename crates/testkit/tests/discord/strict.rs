//! The REST emulator is as strict as Discord: boolean query strings, `around` and `limit`,
//! 405s, the specific `Invalid Form Body` codes, complete objects, the default token; and every
//! route it serves is answered once and checked against Discord's spec.

use std::collections::BTreeSet;

use flexcord_testkit::discord::{DEFAULT_TOKEN, DiscordConfig, DiscordEmulator, SlashCommand};
use serde_json::{Value, json};

use crate::{Checked, TOKEN, emulator, spec};

/// A raw REST caller with the bot token.
struct Rest {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Rest {
    fn new(emu: &DiscordEmulator) -> Self {
        Self::with_token(emu, TOKEN)
    }

    fn with_token(emu: &DiscordEmulator, token: &str) -> Self {
        Self {
            base: format!("{}/api/v10", emu.api_url()),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}/{path}", self.base))
            .header("authorization", format!("Bot {}", self.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("the emulator answers");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON")
        };
        (status, json)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// The first `_errors` entry at a dotted path of a 50035 body.
fn form_error(body: &Value, path: &str) -> Value {
    assert_eq!(body["code"], 50035, "{body}");
    let mut at = &body["errors"];
    for key in path.split('.').filter(|k| !k.is_empty()) {
        at = &at[key];
    }
    at["_errors"][0].clone()
}

#[tokio::test]
async fn with_response_reads_discords_booleans() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let alice = emu.user_id("alice").expect("user");
    for (value, with_body) in [
        ("1", true),
        ("true", true),
        ("True", true),
        ("0", false),
        ("false", false),
        ("False", false),
    ] {
        let i = emu
            .inject_slash(alice, &SlashCommand::new("helpme"))
            .expect("inject");
        let token = i.token.clone().expect("token");
        let (status, body) = rest
            .post(
                &format!(
                    "interactions/{}/{token}/callback?with_response={value}",
                    i.id
                ),
                json!({"type": 4, "data": {"content": format!("answer {value}")}}),
            )
            .await;
        if with_body {
            assert_eq!(status, 200, "{value}: {body}");
            assert_eq!(body["resource"]["type"], 4);
            assert_eq!(
                body["resource"]["message"]["content"],
                format!("answer {value}")
            );
            assert_eq!(body["interaction"]["id"], i.id.to_string());
        } else {
            assert_eq!((status, body), (204, Value::Null), "{value}");
        }
    }
    let i = emu
        .inject_slash(alice, &SlashCommand::new("helpme"))
        .expect("inject");
    let (status, body) = rest
        .post(
            &format!(
                "interactions/{}/{}/callback?with_response=yes",
                i.id,
                i.token.clone().expect("token")
            ),
            json!({"type": 4, "data": {"content": "x"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        form_error(&body, "with_response")["code"],
        "BASE_TYPE_BOOLEAN"
    );
    assert!(
        emu.state(|s| s.interaction(i.id).is_some_and(|r| r.responses.is_empty())),
        "a refused callback acknowledges nothing"
    );
}

#[tokio::test]
async fn update_message_callback_returns_the_updated_message() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let alice = emu.user_id("alice").expect("user");
    let (_, dm) = rest
        .post(
            "users/@me/channels",
            json!({"recipient_id": alice.to_string()}),
        )
        .await;
    let (status, _) = rest
        .post(
            &format!("channels/{}/messages", id(&dm)),
            json!({"content": "Close the case?", "components": [{"type": 1, "components": [
                {"type": 2, "style": 4, "custom_id": "close", "label": "Close"}]}]}),
        )
        .await;
    assert_eq!(status, 200);
    let click = emu.inject_button(alice, "close").expect("button");
    let (status, body) = rest
        .post(
            &format!(
                "interactions/{}/{}/callback?with_response=true",
                click.id,
                click.token.clone().expect("token")
            ),
            json!({"type": 7, "data": {"content": "Case closed", "components": []}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"]["type"], 7);
    assert_eq!(body["resource"]["message"]["content"], "Case closed");
    assert!(body["resource"]["message"]["edited_timestamp"].is_string());
}

#[tokio::test]
async fn message_lists_honour_around_and_refuse_bad_limits() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let general = emu.channel_id("general").expect("channel");
    let mut ids = Vec::new();
    for i in 0..7 {
        let (_, m) = rest
            .post(
                &format!("channels/{general}/messages"),
                json!({"content": format!("m{i}")}),
            )
            .await;
        ids.push(id(&m));
    }
    let contents = |list: &Value| -> Vec<String> {
        list.as_array()
            .expect("a list")
            .iter()
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (status, around) = rest
        .get(&format!(
            "channels/{general}/messages?around={}&limit=3",
            ids[3]
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(contents(&around), ["m4", "m3", "m2"]);
    let (_, wide) = rest
        .get(&format!("channels/{general}/messages?around={}", ids[1]))
        .await;
    assert_eq!(contents(&wide), ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);
    for (query, code, message) in [
        (
            "limit=101",
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 100.",
        ),
        (
            "limit=0",
            "NUMBER_TYPE_MIN",
            "int value should be greater than or equal to 1.",
        ),
        (
            "limit=ten",
            "NUMBER_TYPE_COERCE",
            "Value \"ten\" is not int.",
        ),
    ] {
        let (status, body) = rest
            .get(&format!("channels/{general}/messages?{query}"))
            .await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(
            form_error(&body, "limit"),
            json!({"code": code, "message": message})
        );
    }
    let (status, body) = rest
        .get(&format!("channels/{general}/messages?before=yesterday"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        form_error(&body, "before"),
        json!({"code": "NUMBER_TYPE_COERCE", "message": "Value \"yesterday\" is not snowflake."})
    );
}

#[tokio::test]
async fn wrong_methods_and_malformed_ids_are_refused_like_discord() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let general = emu.channel_id("general").expect("channel");
    let (status, body) = rest
        .call("PUT", &format!("channels/{general}/messages"), None)
        .await;
    assert_eq!(
        (status, body),
        (
            405,
            json!({"code": 0, "message": "405: Method Not Allowed"})
        )
    );
    let (status, body) = rest.call("DELETE", "users/@me/channels", None).await;
    assert_eq!(status, 405, "{body}");
    let (status, body) = rest.get("channels/general").await;
    assert_eq!(status, 400);
    assert_eq!(
        form_error(&body, "channel_id"),
        json!({"code": "NUMBER_TYPE_COERCE", "message": "Value \"general\" is not snowflake."})
    );
    let (status, body) = rest.get("no/such/route").await;
    assert_eq!((status, body["code"].clone()), (404, json!(0)));
}

#[tokio::test]
async fn form_errors_carry_discords_codes_at_the_field() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let general = emu.channel_id("general").expect("channel");
    let messages = format!("channels/{general}/messages");
    let cases = [
        (
            json!({"content": "x".repeat(2001)}),
            "content",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!({"embeds": [{"title": "t", "fields": [{"name": "n", "value": "v".repeat(1025)}]}]}),
            "embeds.0.fields.0.value",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!({"embeds": [{"description": "d".repeat(4000)}, {"description": "d".repeat(2001)}]}),
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
        ),
        (
            json!({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "x"}]}]}),
            "components.0.components.0.custom_id",
            "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
        ),
        (
            json!({"components": [{"type": 1, "components": []}]}),
            "components.0.components",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            json!({"embeds": {"title": "t"}}),
            "embeds",
            "LIST_TYPE_CONVERT",
        ),
        (
            json!({"content": "x", "nonce": "n".repeat(26)}),
            "nonce",
            "NONCE_TYPE_TOO_LONG",
        ),
    ];
    for (body, path, code) in cases {
        let (status, answer) = rest.post(&messages, body).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(form_error(&answer, path)["code"], code, "{answer}");
    }
    let (status, body) = rest.post("users/@me/channels", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        form_error(&body, "recipient_id"),
        json!({"code": "BASE_TYPE_REQUIRED", "message": "This field is required"})
    );
    let app = emu.application_id();
    let commands = format!("applications/{app}/commands");
    let (status, body) = rest
        .call(
            "PUT",
            &commands,
            Some(json!([{"name": "Bad Name", "description": "d"}])),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        form_error(&body, "0.name")["code"],
        "APPLICATION_COMMAND_INVALID_NAME"
    );
    let (status, body) = rest
        .call(
            "PUT",
            &commands,
            Some(json!([{"name": "a", "description": "d"}, {"name": "a", "description": "e"}])),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        form_error(&body, "1")["code"],
        "APPLICATION_COMMANDS_DUPLICATE_NAME"
    );
    let (status, body) = rest
        .call("PUT", &commands, Some(json!({"name": "a"})))
        .await;
    assert_eq!(status, 400);
    assert_eq!(form_error(&body, "")["code"], "LIST_TYPE_CONVERT");
}

#[tokio::test]
async fn objects_carry_what_discord_sends() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let guild = emu.guild_id();
    let (_, g) = rest.get(&format!("guilds/{guild}")).await;
    assert!(g.get("max_presences").is_some(), "{g}");
    assert!(g.get("approximate_member_count").is_none());
    let (_, counted) = rest.get(&format!("guilds/{guild}?with_counts=1")).await;
    assert_eq!(
        counted["approximate_member_count"], 3,
        "alice, bob and the bot"
    );
    let (status, _) = rest.get(&format!("guilds/{guild}?with_counts=maybe")).await;
    assert_eq!(status, 400);
    let (_, app) = rest.get("applications/@me").await;
    assert_eq!(app["approximate_user_install_count"], 2);
    assert!(app["approximate_user_authorization_count"].is_u64());
    let (status, cmd) = rest
        .post(
            &format!("applications/{}/commands", emu.application_id()),
            json!({"name": "helpme", "description": "Ask for help", "integration_types": null}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(cmd["integration_types"], json!([0]));
    let (_, user) = rest.get("users/@me").await;
    assert!(user.get("primary_guild").is_some());
}

#[tokio::test]
async fn the_default_configuration_requires_the_discord_shaped_default_token() {
    crate::crypto();
    let emu = Checked(
        DiscordEmulator::start(DiscordConfig::default())
            .await
            .expect("starts"),
    );
    assert_eq!(emu.token(), Some(DEFAULT_TOKEN));
    let (status, me) = Rest::with_token(&emu, DEFAULT_TOKEN).get("users/@me").await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], emu.bot_id().to_string());
    let (status, body) = Rest::with_token(&emu, "flexcord-dev-token")
        .get("users/@me")
        .await;
    assert_eq!(
        (status, body),
        (401, json!({"code": 0, "message": "401: Unauthorized"}))
    );
}

/// Every route the emulator serves answers once with success, and each answer is checked against
/// Discord's spec (the operations listed are the spec's).
#[tokio::test]
#[allow(clippy::too_many_lines)] // one call per route
async fn every_route_is_served_and_matches_the_spec() {
    if spec::spec().is_none() {
        return;
    }
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let (app, guild) = (emu.application_id(), emu.guild_id());
    let alice = emu.user_id("alice").expect("user");
    let general = emu.channel_id("general").expect("channel");
    let bug = emu.channel_id("bug-report").expect("channel");
    rest.get("gateway").await;
    rest.get("gateway/bot").await;
    rest.get("users/@me").await;
    rest.get(&format!("users/{alice}")).await;
    rest.get("applications/@me").await;
    let (_, dm) = rest
        .post(
            "users/@me/channels",
            json!({"recipient_id": alice.to_string()}),
        )
        .await;
    let dm = id(&dm);
    rest.get(&format!("channels/{general}")).await;
    rest.call(
        "PATCH",
        &format!("channels/{general}"),
        Some(json!({"topic": "t"})),
    )
    .await;
    let (_, m) = rest
        .post(
            &format!("channels/{dm}/messages"),
            json!({"content": "hello"}),
        )
        .await;
    let m = id(&m);
    rest.get(&format!("channels/{dm}/messages")).await;
    rest.get(&format!("channels/{dm}/messages/{m}")).await;
    rest.call(
        "PATCH",
        &format!("channels/{dm}/messages/{m}"),
        Some(json!({"content": "edited"})),
    )
    .await;
    let react = format!("channels/{dm}/messages/{m}/reactions/%E2%9C%85/@me");
    rest.call("PUT", &react, None).await;
    rest.call("DELETE", &react, None).await;
    rest.post(&format!("channels/{dm}/typing"), json!({})).await;
    rest.call("DELETE", &format!("channels/{dm}/messages/{m}"), None)
        .await;
    let perm = format!("channels/{general}/permissions/{alice}");
    rest.call(
        "PUT",
        &perm,
        Some(json!({"type": 1, "allow": "1024", "deny": "0"})),
    )
    .await;
    rest.call("DELETE", &perm, None).await;
    let (_, thread) = rest
        .post(
            &format!("channels/{bug}/threads"),
            json!({"name": "case-1", "type": 12}),
        )
        .await;
    let thread = id(&thread);
    let (_, starter) = rest
        .post(
            &format!("channels/{bug}/messages"),
            json!({"content": "starter"}),
        )
        .await;
    rest.post(
        &format!("channels/{bug}/messages/{}/threads", id(&starter)),
        json!({"name": "discussion"}),
    )
    .await;
    let member = format!("channels/{thread}/thread-members/{alice}");
    rest.call("PUT", &member, None).await;
    rest.call("DELETE", &member, None).await;
    rest.get(&format!("guilds/{guild}")).await;
    rest.get(&format!("guilds/{guild}/channels")).await;
    let (_, created) = rest
        .post(&format!("guilds/{guild}/channels"), json!({"name": "news"}))
        .await;
    rest.call("DELETE", &format!("channels/{}", id(&created)), None)
        .await;
    rest.get(&format!("guilds/{guild}/members/{alice}")).await;
    let commands = [
        format!("applications/{app}/commands"),
        format!("applications/{app}/guilds/{guild}/commands"),
    ];
    for path in &commands {
        rest.call(
            "PUT",
            path,
            Some(json!([{"name": "helpme", "description": "Ask for help"}])),
        )
        .await;
        rest.get(path).await;
        let (_, c) = rest
            .post(path, json!({"name": "bug", "description": "Report a bug"}))
            .await;
        rest.call("DELETE", &format!("{path}/{}", id(&c)), None)
            .await;
    }
    let i = emu
        .inject_slash(alice, &SlashCommand::new("helpme"))
        .expect("inject");
    let token = i.token.clone().expect("token");
    rest.post(
        &format!("interactions/{}/{token}/callback?with_response=true", i.id),
        json!({"type": 4, "data": {"content": "On it"}}),
    )
    .await;
    let original = format!("webhooks/{app}/{token}/messages/@original");
    rest.get(&original).await;
    rest.call("PATCH", &original, Some(json!({"content": "Still on it"})))
        .await;
    let (_, followup) = rest
        .post(
            &format!("webhooks/{app}/{token}?wait=true"),
            json!({"content": "More"}),
        )
        .await;
    rest.call(
        "DELETE",
        &format!("webhooks/{app}/{token}/messages/{}", id(&followup)),
        None,
    )
    .await;

    let checked: BTreeSet<String> = emu
        .rest_calls()
        .iter()
        .filter(|c| (200..300).contains(&c.status))
        .filter_map(spec::check_call)
        .collect();
    let failed: Vec<String> = emu
        .rest_calls()
        .iter()
        .filter(|c| c.status >= 300)
        .map(|c| format!("{} {} -> {}", c.method, c.path, c.status))
        .collect();
    assert!(failed.is_empty(), "every call succeeds: {failed:?}");
    assert_eq!(
        checked.len(),
        40,
        "every served route checked against the spec: {checked:#?}"
    );
}
