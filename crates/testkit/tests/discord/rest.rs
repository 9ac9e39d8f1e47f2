//! REST through twilight-http: objects deserialize, rate limits are honoured, faults surface.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;
use twilight_model::channel::ChannelType;
use twilight_model::channel::permission_overwrite::{PermissionOverwrite, PermissionOverwriteType};
use twilight_model::guild::Permissions;
use twilight_model::id::Id;

use flexcord_testkit::discord::DiscordConfig;

use crate::{TOKEN, WAIT, emulator, emulator_with, http};

#[tokio::test]
async fn identity_routes_deserialize() {
    let emu = emulator().await;
    let client = http(&emu);
    let me = client
        .current_user()
        .await
        .expect("users/@me")
        .model()
        .await
        .expect("user");
    assert_eq!(me.id.get(), emu.bot_id());
    assert!(me.bot);
    let app = client
        .current_user_application()
        .await
        .expect("applications/@me")
        .model()
        .await
        .expect("application");
    assert_eq!(app.id.get(), emu.application_id());
    let gw = client
        .gateway()
        .authed()
        .await
        .expect("gateway/bot")
        .model()
        .await
        .expect("info");
    assert_eq!(gw.url, emu.gateway_url());
    assert_eq!(gw.shards, 1);
}

#[tokio::test]
async fn dm_create_edit_delete() {
    let emu = emulator().await;
    let client = http(&emu);
    let alice = emu.user_id("alice").expect("user");
    let dm = client
        .create_private_channel(Id::new(alice))
        .await
        .expect("DM channel")
        .model()
        .await
        .expect("channel");
    assert_eq!(dm.kind, ChannelType::Private);
    let msg = client
        .create_message(dm.id)
        .content("hello alice")
        .await
        .expect("create")
        .model()
        .await
        .expect("message");
    assert_eq!(msg.content, "hello alice");
    assert_eq!(msg.author.id.get(), emu.bot_id());
    let edited = client
        .update_message(dm.id, msg.id)
        .content(Some("hello again"))
        .await
        .expect("edit")
        .model()
        .await
        .expect("message");
    assert_eq!(edited.content, "hello again");
    assert!(edited.edited_timestamp.is_some());
    client.delete_message(dm.id, msg.id).await.expect("delete");
    let stored = emu.messages_in(dm.id.get());
    assert_eq!(stored.len(), 1);
    assert!(stored[0].deleted);
    assert_eq!(stored[0].edits, vec!["hello alice".to_owned()]);
    assert!(
        emu.dms_to(alice).is_empty(),
        "deleted messages are not listed"
    );
    let calls = emu.rest_calls();
    let routes: Vec<&str> = calls.iter().map(|c| c.route.as_str()).collect();
    assert_eq!(
        routes,
        vec![
            "POST users/@me/channels",
            "POST channels/{channel_id}/messages",
            "PATCH channels/{channel_id}/messages/{message_id}",
            "DELETE channels/{channel_id}/messages/{message_id}",
        ]
    );
    assert_eq!(calls[1].body, Some(json!({"content": "hello alice"})));
}

#[tokio::test]
async fn route_429_is_waited_out_then_succeeds() {
    let emu = emulator().await;
    let client = http(&emu);
    let general = emu.channel_id("general").expect("channel");
    emu.rate_limit_route("POST", "channels/*/messages", 1, Duration::from_millis(300));
    let started = Instant::now();
    let msg = client
        .create_message(Id::new(general))
        .content("after the limit")
        .await
        .expect("retried after 429")
        .model()
        .await
        .expect("message");
    assert_eq!(msg.content, "after the limit");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "twilight waited for reset-after"
    );
    let statuses: Vec<u16> = emu
        .rest_calls()
        .iter()
        .filter(|c| c.method == "POST")
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, vec![429, 200]);
    assert_eq!(emu.state(|s| s.bot_messages_in(general).len()), 1);
}

#[tokio::test]
async fn global_429_then_success() {
    let emu = emulator().await;
    let client = http(&emu);
    emu.rate_limit_global(2, Duration::from_millis(100));
    let me = client
        .current_user()
        .await
        .expect("retried")
        .model()
        .await
        .expect("user");
    assert_eq!(me.id.get(), emu.bot_id());
    let calls = emu.rest_calls();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        vec![429, 429, 200]
    );
    assert_eq!(
        calls[0]
            .response
            .as_ref()
            .and_then(|r| r["global"].as_bool()),
        Some(true)
    );
}

#[tokio::test]
async fn the_global_limit_answers_a_global_429_through_the_proxy() {
    let emu = emulator_with(DiscordConfig::default().global_limit(3)).await;
    let url = format!("{}/api/v10/users/@me", emu.api_url());
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..5 {
        let res = http
            .get(&url)
            .header("authorization", format!("Bot {TOKEN}"))
            .send()
            .await
            .expect("request");
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            limited = Some((
                res.headers().clone(),
                res.json::<Value>().await.expect("json"),
            ));
        }
    }
    // Three a second across routes, then Discord's global 429, seen through its proxy.
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let (headers, body) = limited.expect("a 429");
    assert_eq!(headers["x-ratelimit-scope"], "global");
    assert_eq!(headers["x-ratelimit-global"], "true");
    assert_eq!(headers["via"], "1.1 google");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(body["global"], true);
    assert!(
        body["retry_after"]
            .as_f64()
            .is_some_and(|s| s > 0.0 && s <= 1.0)
    );
    assert_eq!(
        emu.state(|s| s.rest_status_counts().get(&429).copied()),
        Some(2)
    );
}

#[tokio::test]
async fn an_upstream_latency_delays_every_answer() {
    let emu = emulator_with(DiscordConfig::default().latency(Duration::from_millis(150))).await;
    let client = http(&emu);
    let started = Instant::now();
    client.current_user().await.expect("users/@me");
    assert!(started.elapsed() >= Duration::from_millis(150));
    emu.set_latency(Duration::ZERO);
    let started = Instant::now();
    client.current_user().await.expect("users/@me");
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn rate_limit_headers_are_on_every_answer() {
    let emu = emulator().await;
    let alice = emu.user_id("alice").expect("user");
    let url = format!("{}/api/v10/users/@me/channels", emu.api_url());
    let res = reqwest::Client::new()
        .post(url)
        .header("authorization", format!("Bot {TOKEN}"))
        .json(&json!({"recipient_id": alice.to_string()}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let h = res.headers();
    for name in [
        "x-ratelimit-bucket",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-scope",
    ] {
        assert!(h.contains_key(name), "missing {name}");
    }
    assert_eq!(h["x-ratelimit-scope"], "user");
    assert_eq!(h["x-ratelimit-remaining"], "49");
}

#[tokio::test]
async fn enforce_nonce_returns_the_first_message() {
    let emu = emulator().await;
    let general = emu.channel_id("general").expect("channel");
    let url = format!("{}/api/v10/channels/{general}/messages", emu.api_url());
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for content in ["first", "retry"] {
        let body: Value = http
            .post(&url)
            .header("authorization", format!("Bot {TOKEN}"))
            .json(&json!({"content": content, "nonce": "action-42", "enforce_nonce": true}))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        ids.push(body["id"].as_str().map(str::to_owned));
        assert_eq!(body["content"], "first");
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(emu.state(|s| s.bot_messages_in(general).len()), 1);

    // Without enforce_nonce, the same nonce makes a second message (twilight's `.nonce()`).
    let client = crate::http(&emu);
    for _ in 0..2 {
        client
            .create_message(Id::new(general))
            .content("twice")
            .nonce(7)
            .await
            .expect("create");
    }
    assert_eq!(emu.state(|s| s.bot_messages_in(general).len()), 3);
}

#[tokio::test]
async fn blocked_dm_fails_with_50007() {
    let emu = emulator().await;
    let client = http(&emu);
    let bob = emu.user_id("bob").expect("user");
    emu.block_dms(bob);
    let dm = client
        .create_private_channel(Id::new(bob))
        .await
        .expect("opening the DM works")
        .model()
        .await
        .expect("channel");
    let err = client
        .create_message(dm.id)
        .content("hi")
        .await
        .expect_err("blocked");
    match err.kind() {
        ErrorType::Response {
            error: ApiError::General(e),
            status,
            ..
        } => {
            assert_eq!(e.code, 50007);
            assert_eq!(status.get(), 403);
        }
        other => panic!("unexpected error {other:?}"),
    }
    emu.unblock_dms(bob);
    client
        .create_message(dm.id)
        .content("hi")
        .await
        .expect("unblocked");
    assert_eq!(emu.dms_to(bob).len(), 1);
}

#[tokio::test]
async fn empty_and_oversized_messages_are_refused() {
    let emu = emulator().await;
    let general = emu.channel_id("general").expect("channel");
    let url = format!("{}/api/v10/channels/{general}/messages", emu.api_url());
    let http = reqwest::Client::new();
    let empty = http
        .post(&url)
        .header("authorization", format!("Bot {TOKEN}"))
        .json(&json!({"content": ""}))
        .send()
        .await
        .expect("request");
    assert_eq!(empty.status(), 400);
    let body: Value = empty.json().await.expect("json");
    assert_eq!(body["code"], 50006);
    let long = http
        .post(&url)
        .header("authorization", format!("Bot {TOKEN}"))
        .json(&json!({"content": "x".repeat(2001)}))
        .send()
        .await
        .expect("request");
    assert_eq!(long.status(), 400);
    let unauth = http
        .post(&url)
        .json(&json!({"content": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(unauth.status(), 401);
}

#[tokio::test]
async fn channels_overwrites_and_threads() {
    let emu = emulator().await;
    let client = http(&emu);
    let guild = Id::new(emu.guild_id());
    let bot: Id<twilight_model::id::marker::UserMarker> = Id::new(emu.bot_id());
    let deny = Permissions::SEND_MESSAGES | Permissions::CREATE_PUBLIC_THREADS;
    let overwrites = [PermissionOverwrite {
        id: guild.cast(),
        kind: PermissionOverwriteType::Role,
        allow: Permissions::VIEW_CHANNEL | Permissions::READ_MESSAGE_HISTORY,
        deny,
    }];
    let channel = client
        .create_guild_channel(guild, "news")
        .kind(ChannelType::GuildText)
        .permission_overwrites(&overwrites)
        .await
        .expect("create channel")
        .model()
        .await
        .expect("channel");
    assert_eq!(channel.name.as_deref(), Some("news"));
    let ow = channel.permission_overwrites.clone().unwrap_or_default();
    assert_eq!(ow.len(), 1);
    assert_eq!(ow[0].deny, deny);

    let member_ow = twilight_model::http::permission_overwrite::PermissionOverwrite {
        id: bot.cast(),
        kind: twilight_model::http::permission_overwrite::PermissionOverwriteType::Member,
        allow: Some(Permissions::SEND_MESSAGES),
        deny: None,
    };
    client
        .update_channel_permission(channel.id, &member_ow)
        .await
        .expect("PUT permission");
    let fetched = client
        .channel(channel.id)
        .await
        .expect("GET")
        .model()
        .await
        .expect("channel");
    assert_eq!(fetched.permission_overwrites.map(|o| o.len()), Some(2));

    let parent = Id::new(emu.channel_id("bug-report").expect("channel"));
    let thread = client
        .create_thread(parent, "case-CASE-000001", ChannelType::PrivateThread)
        .invitable(false)
        .await
        .expect("thread")
        .model()
        .await
        .expect("channel");
    assert_eq!(thread.kind, ChannelType::PrivateThread);
    assert_eq!(thread.parent_id, Some(parent));
    let alice = Id::new(emu.user_id("alice").expect("user"));
    client
        .add_thread_member(thread.id, alice)
        .await
        .expect("add member");
    let msg = client
        .create_message(parent)
        .content("starter")
        .await
        .expect("message")
        .model()
        .await
        .expect("message");
    let from_msg = client
        .create_thread_from_message(parent, msg.id, "discussion")
        .await
        .expect("thread from message")
        .model()
        .await
        .expect("channel");
    assert_eq!(from_msg.id.get(), msg.id.get());
    assert_eq!(from_msg.kind, ChannelType::PublicThread);
    assert_eq!(emu.state(|s| s.threads().len()), 2);
    assert_eq!(emu.channel_id("case-CASE-000001"), Some(thread.id.get()));
    let _ = WAIT;
}

#[tokio::test]
async fn files_go_both_ways_and_are_served() {
    use flexcord_testkit::discord::Attachment;
    use twilight_gateway::Event;
    let emu = emulator().await;
    let mut shard = crate::ready_shard(&emu).await;
    let alice = emu.user_id("alice").expect("user");
    let png = vec![0x89, b'P', b'N', b'G', 0, 1, 2, 255];
    emu.inject_dm_with_files(
        alice,
        "see attached",
        &[Attachment::new("shot.png", "image/png", png.clone())],
    )
    .expect("inject");
    let msg = crate::next_where(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(msg.attachments.len(), 1);
    let a = &msg.attachments[0];
    assert_eq!(a.filename, "shot.png");
    assert_eq!(a.content_type.as_deref(), Some("image/png"));
    assert_eq!(a.size, 8);
    let bytes = reqwest::get(&a.url)
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes.as_ref(), png.as_slice());

    // The bot uploads a file (multipart with payload_json).
    let client = http(&emu);
    let upload = twilight_model::http::attachment::Attachment::from_bytes(
        "log.bin".to_owned(),
        vec![0, 159, 146, 150, 13, 10],
        1,
    );
    let sent = client
        .create_message(msg.channel_id)
        .content("here is the log")
        .attachments(&[upload])
        .await
        .expect("upload")
        .model()
        .await
        .expect("message");
    assert_eq!(sent.attachments.len(), 1);
    let stored = emu.state(|s| {
        let id = s
            .message(sent.id.get())
            .and_then(|m| m.attachments[0]["id"].as_str().and_then(|i| i.parse().ok()));
        id.and_then(|id| s.attachment(id).cloned())
    });
    assert_eq!(stored.map(|f| f.data), Some(vec![0, 159, 146, 150, 13, 10]));
    assert_eq!(
        emu.rest_calls()
            .last()
            .and_then(|c| c.body.clone())
            .map(|b| b["content"].clone()),
        Some(json!("here is the log"))
    );
    let call = emu.rest_calls().last().cloned().expect("call");
    assert_eq!(call.files.len(), 1);
    assert_eq!(
        (call.files[0].filename.as_str(), call.files[0].size),
        ("log.bin", 6)
    );
}

#[tokio::test]
async fn files_over_the_upload_limit_are_refused_with_40005() {
    let emu =
        crate::emulator_with(flexcord_testkit::discord::DiscordConfig::default().upload_limit(16))
            .await;
    let client = http(&emu);
    let alice = emu.user_id("alice").expect("user");
    let dm = client
        .create_private_channel(Id::new(alice))
        .await
        .expect("dm")
        .model()
        .await
        .expect("channel");
    let big = twilight_model::http::attachment::Attachment::from_bytes(
        "big.bin".to_owned(),
        vec![7; 17],
        1,
    );
    let err = client
        .create_message(dm.id)
        .attachments(&[big])
        .await
        .expect_err("too large");
    assert!(err.to_string().contains("40005"), "{err}");
    let fits = twilight_model::http::attachment::Attachment::from_bytes(
        "ok.bin".to_owned(),
        vec![7; 16],
        1,
    );
    let sent = client
        .create_message(dm.id)
        .attachments(&[fits])
        .await
        .expect("fits")
        .model()
        .await
        .expect("message");
    assert_eq!(sent.attachments[0].size, 16);
    let statuses: Vec<u16> = emu.rest_calls().iter().map(|c| c.status).collect();
    assert!(statuses.contains(&413), "{statuses:?}");
    assert!(
        emu.messages_in(dm.id.get()).len() == 1,
        "only the file that fits"
    );
}

#[tokio::test]
async fn bot_reactions_are_kept_and_listed() {
    use twilight_http::request::channel::reaction::RequestReactionType;
    let emu = emulator().await;
    let client = http(&emu);
    let alice = emu.user_id("alice").expect("user");
    let injected = emu.inject_dm(alice, "thanks!").expect("inject");
    let channel = Id::new(injected.channel_id);
    let message = Id::new(injected.id);
    let check = RequestReactionType::Unicode { name: "✅" };
    client
        .create_reaction(channel, message, &check)
        .await
        .expect("react");
    let fetched = client
        .message(channel, message)
        .await
        .expect("GET")
        .model()
        .await
        .expect("message");
    assert_eq!(fetched.reactions.len(), 1);
    assert!(fetched.reactions[0].me);
    assert_eq!(
        emu.state(|s| s.message(injected.id).map(|m| m.bot_reactions.clone())),
        Some(vec!["✅".to_owned()])
    );
    client
        .delete_current_user_reaction(channel, message, &check)
        .await
        .expect("unreact");
    assert_eq!(
        emu.state(|s| s.message(injected.id).map(|m| m.bot_reactions.len())),
        Some(0)
    );
}

#[tokio::test]
async fn guild_routes_deserialize() {
    let emu = emulator().await;
    let client = http(&emu);
    let guild_id = Id::new(emu.guild_id());
    let guild = client
        .guild(guild_id)
        .await
        .expect("GET guild")
        .model()
        .await
        .expect("guild");
    assert_eq!(guild.id, guild_id);
    assert_eq!(guild.roles.len(), 2, "@everyone and Support");
    let channels = client
        .guild_channels(guild_id)
        .await
        .expect("GET channels")
        .models()
        .await
        .expect("channels");
    let names: Vec<String> = channels.iter().filter_map(|c| c.name.clone()).collect();
    assert_eq!(
        names,
        vec!["general", "bug-report", "feature-request", "announcements"]
    );
    let alice = Id::new(emu.user_id("alice").expect("user"));
    let member = client
        .guild_member(guild_id, alice)
        .await
        .expect("GET member")
        .model()
        .await
        .expect("member");
    assert_eq!(member.user.id, alice);
    let unknown = client.guild(Id::new(1)).await;
    assert!(unknown.is_err());
}

/// The way the app adds `enforce_nonce`, which twilight 0.18's `CreateMessage` lacks: a raw
/// request on twilight's own client (rate limiter and headers included).
#[tokio::test]
async fn enforce_nonce_through_a_raw_twilight_request() {
    use twilight_http::request::Request;
    use twilight_http::routing::Route;
    use twilight_model::channel::Message;
    let emu = emulator().await;
    let client = http(&emu);
    let alice = emu.user_id("alice").expect("user");
    let dm = client
        .create_private_channel(Id::new(alice))
        .await
        .expect("dm")
        .model()
        .await
        .expect("channel");
    let body = json!({"content": "Agent: hello", "nonce": "outbox-17", "enforce_nonce": true});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let request = Request::builder(&Route::CreateMessage {
            channel_id: dm.id.get(),
        })
        .json(&body)
        .build()
        .expect("request");
        let response: twilight_http::Response<Message> =
            client.request(request).await.expect("sent");
        let msg = response.model().await.expect("message");
        ids.push(msg.id);
    }
    assert_eq!(ids[0], ids[1], "the retry returned the first message");
    assert_eq!(emu.dms_to(alice).len(), 1);
}

#[tokio::test]
async fn message_lists_page_backwards_and_forwards() {
    let emu = emulator().await;
    let client = http(&emu);
    let alice = emu.user_id("alice").expect("user");
    let dm = client
        .create_private_channel(Id::new(alice))
        .await
        .expect("DM channel")
        .model()
        .await
        .expect("channel");
    let mut ids = Vec::new();
    for i in 0..5 {
        let msg = client
            .create_message(dm.id)
            .content(&format!("m{i}"))
            .await
            .expect("create")
            .model()
            .await
            .expect("message");
        ids.push(msg.id);
    }
    let contents = |list: Vec<twilight_model::channel::Message>| -> Vec<String> {
        list.into_iter().map(|m| m.content).collect()
    };
    let newest = client
        .channel_messages(dm.id)
        .limit(2)
        .await
        .expect("list")
        .models()
        .await
        .expect("messages");
    assert_eq!(contents(newest), ["m4", "m3"]);
    let before = client
        .channel_messages(dm.id)
        .before(ids[3])
        .limit(2)
        .await
        .expect("list")
        .models()
        .await
        .expect("messages");
    assert_eq!(contents(before), ["m2", "m1"]);
    // `after` gives the messages right after it, newest first: paging forwards skips nothing.
    let after = client
        .channel_messages(dm.id)
        .after(ids[0])
        .limit(2)
        .await
        .expect("list")
        .models()
        .await
        .expect("messages");
    assert_eq!(contents(after), ["m2", "m1"]);
}
