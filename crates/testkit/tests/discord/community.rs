//! The community side of a guild: roles, guild features, announcement channels and
//! crossposting, through twilight.

use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;
use twilight_model::channel::ChannelType;
use twilight_model::guild::Permissions;
use twilight_model::id::Id;

use flexcord_testkit::discord::DiscordConfig;

use crate::{emulator, emulator_with, http};

fn code(e: &twilight_http::Error) -> Option<(u16, u64)> {
    match e.kind() {
        ErrorType::Response {
            status,
            error: ApiError::General(g),
            ..
        } => Some((status.get(), g.code)),
        _ => None,
    }
}

#[tokio::test]
async fn roles_are_created_and_listed() {
    let emu = emulator().await;
    let client = http(&emu);
    let guild = Id::new(emu.guild_id());
    let role = client
        .create_role(guild)
        .name("Staff")
        .permissions(Permissions::MANAGE_MESSAGES)
        .await
        .expect("role created")
        .model()
        .await
        .expect("role");
    assert_eq!(role.name, "Staff");
    assert_eq!(role.permissions, Permissions::MANAGE_MESSAGES);
    let roles = client
        .roles(guild)
        .await
        .expect("roles")
        .models()
        .await
        .expect("roles decode");
    assert!(roles.iter().any(|r| r.id == role.id && r.name == "Staff"));
    let listed = client.guild(guild).await.unwrap().model().await.unwrap();
    assert!(listed.roles.iter().any(|r| r.id == role.id));
}

#[tokio::test]
async fn announcement_channels_need_the_community_feature() {
    let emu = emulator().await;
    let client = http(&emu);
    let guild = Id::new(emu.guild_id());
    let guild_model = client.guild(guild).await.unwrap().model().await.unwrap();
    assert!(guild_model.features.is_empty());
    let refused = client
        .create_guild_channel(guild, "news")
        .kind(ChannelType::GuildAnnouncement)
        .await
        .expect_err("no announcement channel without COMMUNITY");
    assert_eq!(code(&refused), Some((400, 50035)));
    let text = Id::new(emu.channel_id("announcements").unwrap());
    let refused = client
        .update_channel(text)
        .kind(ChannelType::GuildAnnouncement)
        .await
        .expect_err("no conversion without COMMUNITY");
    assert_eq!(code(&refused), Some((400, 50035)));
    let msg = client.create_message(text).content("hi").await.unwrap();
    let msg = msg.model().await.unwrap();
    let refused = client
        .crosspost_message(text, msg.id)
        .await
        .expect_err("a text channel's message cannot be published");
    assert_eq!(code(&refused), Some((400, 50024)));
}

#[tokio::test]
async fn community_guilds_publish_each_message_once() {
    let emu = emulator_with(DiscordConfig::default().feature("COMMUNITY")).await;
    let client = http(&emu);
    let guild = Id::new(emu.guild_id());
    let guild_model = client.guild(guild).await.unwrap().model().await.unwrap();
    assert_eq!(guild_model.features.len(), 1);
    let category = client
        .create_guild_channel(guild, "Community")
        .kind(ChannelType::GuildCategory)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    // A text channel becomes an announcement channel and moves into the category.
    let text = Id::new(emu.channel_id("announcements").unwrap());
    let moved = client
        .update_channel(text)
        .kind(ChannelType::GuildAnnouncement)
        .parent_id(Some(category.id))
        .await
        .expect("converted")
        .model()
        .await
        .unwrap();
    assert_eq!(moved.kind, ChannelType::GuildAnnouncement);
    assert_eq!(moved.parent_id, Some(category.id));
    let msg = client
        .create_message(text)
        .content("v2 is out")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let published = client
        .crosspost_message(text, msg.id)
        .await
        .expect("published")
        .model()
        .await
        .unwrap();
    assert!(
        published.flags.is_some_and(
            |f| f.contains(twilight_model::channel::message::MessageFlags::CROSSPOSTED)
        )
    );
    assert_eq!(
        emu.state(|s| s.message(msg.id.get()).map(|m| m.flags)),
        Some(1)
    );
    let again = client
        .crosspost_message(text, msg.id)
        .await
        .expect_err("published once");
    assert_eq!(code(&again), Some((400, 40033)));
}

#[tokio::test]
async fn forums_have_tags_and_posts_carry_them() {
    use twilight_model::channel::forum::ForumTag;
    let emu = emulator_with(DiscordConfig::default().feature("COMMUNITY")).await;
    let client = http(&emu);
    let guild = Id::new(emu.guild_id());
    let tag = |name: &str| ForumTag {
        emoji_id: None,
        emoji_name: None,
        id: Id::new(1),
        moderated: false,
        name: name.to_owned(),
    };
    let forum = client
        .create_guild_channel(guild, "bugs")
        .kind(ChannelType::GuildForum)
        .available_tags(&[tag("open"), tag("fixed")])
        .await
        .expect("forum created")
        .model()
        .await
        .unwrap();
    let tags = forum.available_tags.clone().unwrap_or_default();
    assert_eq!(
        tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["open", "fixed"]
    );
    assert_ne!(tags[0].id, tags[1].id, "each tag its own id");
    let open = tags[0].id;
    let post = client
        .create_forum_thread(forum.id, "Login fails")
        .applied_tags(&[open])
        .message()
        .content("Steps: …")
        .await
        .expect("post created")
        .model()
        .await
        .unwrap();
    assert_eq!(post.channel.applied_tags, Some(vec![open]));
    let Err(refused) = client
        .create_forum_thread(forum.id, "Other")
        .applied_tags(&[Id::new(99)])
        .message()
        .content("x")
        .await
    else {
        panic!("an unknown tag is refused");
    };
    assert_eq!(code(&refused), Some((400, 50035)));
    // Renaming the forum's tags keeps the ids of the tags it keeps.
    let mut kept = tags[1].clone();
    kept.name = "resolved".into();
    let updated = client
        .update_channel(forum.id)
        .available_tags(&[kept.clone(), tag("duplicate")])
        .await
        .expect("tags updated")
        .model()
        .await
        .unwrap();
    let now = updated.available_tags.unwrap_or_default();
    assert_eq!(now[0].id, kept.id);
    assert_eq!(now[0].name, "resolved");
    // A forum needs COMMUNITY.
    let plain = emulator().await;
    let refused = http(&plain)
        .create_guild_channel(Id::new(plain.guild_id()), "bugs")
        .kind(ChannelType::GuildForum)
        .await
        .expect_err("no forum without COMMUNITY");
    assert_eq!(code(&refused), Some((400, 50035)));
}
