//! The community side: relayed feed entries, `/announce` and `/setup`. Stateless like the
//! report commands: no conversation is loaded or stored, each event gives at most one action.

use serde::{Deserialize, Serialize};

use crate::action::{Action, ActionKind};
use crate::event::{Command, Interaction};
use crate::ids::{ActionId, ChannelId};
use crate::router::Note;

/// A post for #announcements: a feed entry or a staff announcement, shown as one embed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The embed's title.
    pub title: String,
    /// Where the title links to, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The embed's text (a feed entry's summary, an announcement's body).
    #[serde(default)]
    pub text: String,
    /// An image shown under the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Who it is from, shown as the embed's author line (the feed's name, the staff member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The community settings the core needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommunityConfig {
    /// #announcements: where feed entries and `/announce` posts go.
    #[serde(default)]
    pub announcements: Option<ChannelId>,
    /// The staff role: only its members may `/announce`.
    #[serde(default)]
    pub staff_role: Option<u64>,
}

/// What a member without the staff role reads after `/announce`.
pub const NOT_STAFF: &str = "Only the staff can post announcements. Ask a member of the staff if something should be announced.";
/// What anyone reads after `/announce` when no staff role is configured.
pub const NO_STAFF_ROLE: &str = "Announcements are not set up on this server yet: no staff role is configured (an administrator can run /setup).";
/// What the staff read after `/announce` when no #announcements channel is configured.
pub const NO_CHANNEL: &str = "Announcements are not set up on this server yet: no announcements channel is configured (an administrator can run /setup).";
/// What a member without the Administrator permission reads after `/setup`.
pub const NOT_ADMIN: &str = "Only administrators of this server can run /setup.";
/// What `/setup` outside a server answers.
pub const NOT_IN_GUILD: &str = "Run /setup in the server you want to set up.";

/// The dedupe key of a feed entry: `feed:<feed>:<entry>`. The store keeps these keys for good
/// (they are never pruned), which is how an entry is posted at most once.
pub fn feed_key(feed: &str, entry: &str) -> String {
    format!("feed:{feed}:{entry}")
}

/// The action scope of a feed entry: `feed-` and a 64-bit FNV-1a hash of its key in hex (an
/// entry's key may hold any character, an action id's scope no `/`).
pub fn feed_scope(feed: &str, entry: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in feed_key(feed, entry).bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("feed-{hash:016x}")
}

/// The step of a feed entry: its post in #announcements, or nothing (remembered only).
pub(crate) fn feed_entry(
    config: &CommunityConfig,
    feed: &str,
    entry: &str,
    post: Option<Announcement>,
) -> (Vec<Action>, Vec<Note>) {
    let Some(post) = post else {
        return (Vec::new(), Vec::new());
    };
    let Some(channel) = config.announcements else {
        return (
            Vec::new(),
            vec![Note::Dropped {
                reason: "no announcements channel".into(),
            }],
        );
    };
    let action = Action {
        id: ActionId::new(&feed_scope(feed, entry), 0),
        kind: ActionKind::PostAnnouncement {
            channel,
            post,
            interaction: None,
        },
    };
    (vec![action], Vec::new())
}

/// The action of `/announce` or `/setup`, if `command` is one of them: the post (staff with a
/// form), the guild's setup (administrators in a guild), or the refusal.
pub(crate) fn command(
    config: &CommunityConfig,
    interaction: &Interaction,
    command: &Command,
) -> Option<ActionKind> {
    let respond = |text: &str| ActionKind::Respond {
        interaction: interaction.clone(),
        text: text.to_owned(),
    };
    Some(match command {
        Command::Announce { form, roles } => {
            let Some(staff) = config.staff_role else {
                return Some(respond(NO_STAFF_ROLE));
            };
            if !roles.contains(&staff) {
                return Some(respond(NOT_STAFF));
            }
            let Some(channel) = config.announcements else {
                return Some(respond(NO_CHANNEL));
            };
            match form {
                Some(post) => ActionKind::PostAnnouncement {
                    channel,
                    post: post.clone(),
                    interaction: Some(interaction.clone()),
                },
                // The staff get the form, not the command: nothing to post.
                None => respond("Use the form /announce opens to write the announcement."),
            }
        }
        Command::Setup { administrator } => match (administrator, interaction.guild) {
            (false, _) => respond(NOT_ADMIN),
            (true, None) => respond(NOT_IN_GUILD),
            (true, Some(guild)) => ActionKind::SetupGuild {
                guild,
                interaction: interaction.clone(),
            },
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::ids::{InteractionId, Timestamp, UserId};
    use crate::router::{Router, RouterConfig};

    const STAFF: u64 = 77;
    const CHANNEL: ChannelId = ChannelId(500);

    fn router(community: CommunityConfig) -> Router {
        Router::new(RouterConfig {
            community,
            ..RouterConfig::default()
        })
    }

    fn configured() -> CommunityConfig {
        CommunityConfig {
            announcements: Some(CHANNEL),
            staff_role: Some(STAFF),
        }
    }

    fn post(title: &str) -> Announcement {
        Announcement {
            title: title.into(),
            url: Some("https://example.com/a".into()),
            text: "Body".into(),
            image: None,
            source: None,
        }
    }

    fn announce(roles: Vec<u64>, form: Option<Announcement>) -> Event {
        Event::Command {
            user: UserId(1),
            user_name: Some("Sam".into()),
            interaction: Interaction::new(InteractionId(9), "tok"),
            command: Command::Announce { form, roles },
        }
    }

    fn only(step: &crate::router::Step) -> &ActionKind {
        assert_eq!(step.actions.len(), 1, "{:?}", step.actions);
        &step.actions[0].kind
    }

    #[test]
    fn staff_post_and_others_are_refused() {
        let r = router(configured());
        let staff = r.handle(
            None,
            announce(vec![3, STAFF], Some(post("News"))),
            Timestamp(0),
        );
        assert!(matches!(
            only(&staff),
            ActionKind::PostAnnouncement { channel, post, interaction: Some(_) }
                if *channel == CHANNEL && post.title == "News"
        ));
        assert_eq!(staff.actions[0].id.as_str(), "i9/0");
        assert_eq!(staff.actions[0].id.conversation(), None);
        let member = r.handle(None, announce(vec![3], Some(post("News"))), Timestamp(0));
        assert!(matches!(only(&member), ActionKind::Respond { text, .. } if text == NOT_STAFF));
        let unset = router(CommunityConfig {
            staff_role: None,
            ..configured()
        });
        let step = unset.handle(None, announce(vec![STAFF], Some(post("x"))), Timestamp(0));
        assert!(matches!(only(&step), ActionKind::Respond { text, .. } if text == NO_STAFF_ROLE));
        let no_channel = router(CommunityConfig {
            announcements: None,
            ..configured()
        });
        let step = no_channel.handle(None, announce(vec![STAFF], Some(post("x"))), Timestamp(0));
        assert!(matches!(only(&step), ActionKind::Respond { text, .. } if text == NO_CHANNEL));
    }

    #[test]
    fn setup_needs_an_administrator_in_a_guild() {
        let r = router(configured());
        let mut interaction = Interaction::new(InteractionId(4), "tok");
        let event = |interaction: &Interaction, administrator| Event::Command {
            user: UserId(1),
            user_name: None,
            interaction: interaction.clone(),
            command: Command::Setup { administrator },
        };
        let refused = r.handle(None, event(&interaction, false), Timestamp(0));
        assert!(matches!(only(&refused), ActionKind::Respond { text, .. } if text == NOT_ADMIN));
        let dm = r.handle(None, event(&interaction, true), Timestamp(0));
        assert!(matches!(only(&dm), ActionKind::Respond { text, .. } if text == NOT_IN_GUILD));
        interaction.guild = Some(42);
        let setup = r.handle(None, event(&interaction, true), Timestamp(0));
        assert!(matches!(
            only(&setup),
            ActionKind::SetupGuild { guild: 42, .. }
        ));
    }

    #[test]
    fn feed_entries_post_once_each_under_their_own_scope() {
        let r = router(configured());
        let event = |entry: &str, p: Option<Announcement>| Event::FeedEntry {
            feed: "blog".into(),
            entry: entry.into(),
            post: p,
        };
        let posted = r.handle(None, event("https://x/1", Some(post("One"))), Timestamp(0));
        let id = &posted.actions[0].id;
        assert!(id.scope().starts_with("feed-"), "{id}");
        assert_eq!(id.conversation(), None);
        assert_eq!(
            event("https://x/1", None).dedupe_key().as_deref(),
            Some("feed:blog:https://x/1")
        );
        assert_eq!(event("a", None).key(), crate::event::EventKey::None);
        let other = r.handle(None, event("https://x/2", Some(post("Two"))), Timestamp(0));
        assert_ne!(other.actions[0].id, *id, "each entry its own action id");
        let remembered = r.handle(None, event("https://x/3", None), Timestamp(0));
        assert!(remembered.actions.is_empty());
        let nowhere = router(CommunityConfig::default());
        let step = nowhere.handle(None, event("https://x/4", Some(post("Four"))), Timestamp(0));
        assert!(step.actions.is_empty());
        assert_eq!(step.notes.len(), 1);
    }
}
