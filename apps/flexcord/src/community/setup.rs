//! `flexcord setup-guild` and `/setup`: the guild laid out for support and community, from what
//! exists. [`plan`] reads the guild (its features, roles, channels and the bot's permissions)
//! and lists the changes that make it fit; [`apply`] makes them. Both are idempotent: what
//! exists and fits is left alone, so a second run plans nothing and writes nothing.
//!
//! The layout: a category holding #announcements (an announcement channel when the guild has
//! `COMMUNITY` or `NEWS`, else a text channel; everyone reads it, only the staff role and the
//! bot post), #customer-service, #bug-report and #feature-request (the bot may post in each),
//! and the staff role (created when `community.staff_role_id` is unset and no role has its
//! name). Existing channels of those names are moved into the category and converted to an
//! announcement channel where that is allowed; overwrites that exist are completed, never
//! reduced.

use std::fmt::{self, Write as _};

use twilight_http::Client;
use twilight_model::channel::permission_overwrite::{PermissionOverwrite, PermissionOverwriteType};
use twilight_model::channel::{Channel, ChannelType};
use twilight_model::guild::{GuildFeature, Permissions};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, GuildMarker};

use crate::config::GuildNames;

/// Why the guild could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The bot lacks permissions the changes need.
    #[error(
        "the bot lacks the {} permission(s) in guild {guild}: give its role these permissions (Server Settings > Roles) and run again",
        .missing.join(", ")
    )]
    MissingPermissions {
        /// The guild.
        guild: u64,
        /// The permissions' names, as Discord's settings show them.
        missing: Vec<&'static str>,
    },
    /// The guild id is 0.
    #[error("0 is not a guild id")]
    NoGuild,
    /// `community.staff_role_id` names no role of the guild.
    #[error("community.staff_role_id {role} is not a role of guild {guild}")]
    UnknownStaffRole {
        /// The guild.
        guild: u64,
        /// The configured role.
        role: u64,
    },
    /// Discord refused or failed a request.
    #[error("Discord: {what}: {source}")]
    Discord {
        /// What was asked.
        what: String,
        /// Discord's answer.
        #[source]
        source: twilight_http::Error,
    },
    /// Discord's answer could not be read.
    #[error("Discord's answer to {what} could not be read: {source}")]
    Decode {
        /// What was asked.
        what: String,
        /// Why.
        #[source]
        source: twilight_http::response::DeserializeBodyError,
    },
}

impl SetupError {
    /// Whether trying again later may succeed (Discord rate limits, outages, broken
    /// connections); a missing permission or a wrong configuration needs a person.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Discord { source, .. } => match source.kind() {
                twilight_http::error::ErrorType::Response { status, .. } => {
                    status.get() == 429 || status.get() >= 500
                }
                twilight_http::error::ErrorType::Validation
                | twilight_http::error::ErrorType::Json
                | twilight_http::error::ErrorType::Unauthorized => false,
                _ => true,
            },
            Self::Decode { .. } => true,
            _ => false,
        }
    }
}

/// The four channels of the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// #announcements.
    Announcements,
    /// #customer-service.
    CustomerService,
    /// #bug-report.
    BugReport,
    /// #feature-request.
    FeatureRequest,
}

impl Slot {
    const ALL: [Slot; 4] = [
        Slot::Announcements,
        Slot::CustomerService,
        Slot::BugReport,
        Slot::FeatureRequest,
    ];

    fn name(self, names: &GuildNames) -> &str {
        match self {
            Slot::Announcements => &names.announcements,
            Slot::CustomerService => &names.customer_service,
            Slot::BugReport => &names.bug_report,
            Slot::FeatureRequest => &names.feature_request,
        }
    }
}

/// Whom an overwrite is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `@everyone` (the role whose id is the guild's).
    Everyone,
    /// The staff role.
    Staff,
    /// The bot (a member overwrite).
    Bot,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Everyone => "@everyone",
            Target::Staff => "the staff role",
            Target::Bot => "the bot",
        })
    }
}

/// One permission overwrite the layout wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overwrite {
    /// Whom it is for.
    pub target: Target,
    /// Allowed.
    pub allow: Permissions,
    /// Denied.
    pub deny: Permissions,
}

/// Where a change applies: something that exists, or something an earlier change creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ref {
    /// An existing channel or role.
    Id(u64),
    /// Created by this plan.
    New,
}

/// One change of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create the staff role (no permissions of its own; the overwrites give it #announcements).
    CreateRole {
        /// Its name.
        name: String,
    },
    /// Create the category.
    CreateCategory {
        /// Its name.
        name: String,
    },
    /// Create a channel in the category with its overwrites.
    CreateChannel {
        /// Which.
        slot: Slot,
        /// Its name.
        name: String,
        /// Text or announcement.
        kind: ChannelType,
        /// Its overwrites.
        overwrites: Vec<Overwrite>,
    },
    /// Change an existing channel: convert it, move it into the category.
    UpdateChannel {
        /// Which.
        slot: Slot,
        /// The channel.
        id: u64,
        /// Its name.
        name: String,
        /// The type to convert it to, if any.
        kind: Option<ChannelType>,
        /// Move it into the category.
        move_into_category: bool,
    },
    /// Set one overwrite on an existing channel.
    PutOverwrite {
        /// Which.
        slot: Slot,
        /// The channel.
        id: u64,
        /// Its name.
        name: String,
        /// The overwrite (what existed, completed).
        overwrite: Overwrite,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::CreateRole { name } => write!(f, "create the staff role \"{name}\""),
            Change::CreateCategory { name } => write!(f, "create the category \"{name}\""),
            Change::CreateChannel {
                name,
                kind,
                overwrites,
                ..
            } => {
                let kind = if *kind == ChannelType::GuildAnnouncement {
                    "announcement"
                } else {
                    "text"
                };
                write!(f, "create the {kind} channel #{name} in the category")?;
                if overwrites.iter().any(|o| o.target == Target::Everyone) {
                    f.write_str(" (everyone reads; only the staff role and the bot post)")?;
                }
                Ok(())
            }
            Change::UpdateChannel {
                name,
                kind,
                move_into_category,
                ..
            } => {
                let mut what = Vec::new();
                if kind.is_some() {
                    what.push("convert it to an announcement channel".to_owned());
                }
                if *move_into_category {
                    what.push("move it into the category".to_owned());
                }
                write!(f, "#{name}: {}", what.join(" and "))
            }
            Change::PutOverwrite {
                name, overwrite, ..
            } => {
                write!(f, "#{name}: let {} ", overwrite.target)?;
                f.write_str(&permission_names(overwrite.allow))?;
                if !overwrite.deny.is_empty() {
                    write!(f, "; deny {}", permission_names(overwrite.deny))?;
                }
                Ok(())
            }
        }
    }
}

/// What a guild needs to fit the layout.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The guild.
    pub guild: u64,
    /// The bot's user id.
    pub bot: u64,
    /// Whether #announcements is an announcement channel (the guild has `COMMUNITY` or `NEWS`).
    pub announcement_channel: bool,
    /// The staff role: existing, or created by the plan.
    pub staff_role: Ref,
    /// The category: existing, or created by the plan.
    pub category: Ref,
    /// The four channels: existing, or created by the plan, in [`Slot`] order.
    pub channels: [Ref; 4],
    /// The changes, in order (nothing when the guild fits).
    pub changes: Vec<Change>,
    /// The permissions the bot lacks for the changes (none when it has them or there are
    /// none).
    pub missing: Vec<&'static str>,
}

/// The ids of the laid-out guild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The guild.
    pub guild: u64,
    /// The staff role.
    pub staff_role: u64,
    /// The category.
    pub category: u64,
    /// #announcements, #customer-service, #bug-report, #feature-request.
    pub channels: [u64; 4],
    /// Whether #announcements is an announcement channel.
    pub announcement_channel: bool,
    /// The changes made (empty when the guild already fitted).
    pub changes: Vec<Change>,
}

impl Outcome {
    /// The ids in configuration form, to paste into the configuration file.
    pub fn config_snippet(&self) -> String {
        let [announcements, customer_service, bug, feature] = self.channels;
        format!(
            "[discord]\nguild_id = \"{}\"\nbug_channel_id = \"{bug}\"\nfeature_channel_id = \"{feature}\"\n\n\
             [community]\nstaff_role_id = \"{}\"\nannouncements_channel_id = \"{announcements}\"\n\
             customer_service_channel_id = \"{customer_service}\"\n",
            self.guild, self.staff_role
        )
    }
}

/// The permissions a layout grants the bot in its channels (it can only grant what it holds).
const BOT_IN_CHANNELS: Permissions = Permissions::VIEW_CHANNEL
    .union(Permissions::SEND_MESSAGES)
    .union(Permissions::EMBED_LINKS)
    .union(Permissions::READ_MESSAGE_HISTORY);

/// The overwrites `slot` wants.
fn wanted(slot: Slot) -> Vec<Overwrite> {
    let bot = Overwrite {
        target: Target::Bot,
        allow: BOT_IN_CHANNELS,
        deny: Permissions::empty(),
    };
    match slot {
        Slot::Announcements => vec![
            Overwrite {
                target: Target::Everyone,
                allow: Permissions::VIEW_CHANNEL | Permissions::READ_MESSAGE_HISTORY,
                deny: Permissions::SEND_MESSAGES
                    | Permissions::SEND_MESSAGES_IN_THREADS
                    | Permissions::CREATE_PUBLIC_THREADS
                    | Permissions::CREATE_PRIVATE_THREADS,
            },
            Overwrite {
                target: Target::Staff,
                allow: Permissions::VIEW_CHANNEL
                    | Permissions::SEND_MESSAGES
                    | Permissions::EMBED_LINKS
                    | Permissions::ATTACH_FILES,
                deny: Permissions::empty(),
            },
            bot,
        ],
        _ => vec![bot],
    }
}

/// Names of the permissions the setup checks, as Discord's settings show them.
const NAMED: [(Permissions, &str); 6] = [
    (Permissions::MANAGE_CHANNELS, "Manage Channels"),
    (Permissions::MANAGE_ROLES, "Manage Roles"),
    (Permissions::VIEW_CHANNEL, "View Channels"),
    (Permissions::SEND_MESSAGES, "Send Messages"),
    (Permissions::EMBED_LINKS, "Embed Links"),
    (Permissions::READ_MESSAGE_HISTORY, "Read Message History"),
];

/// The names of `permissions` as Discord's settings show them (those the layout sets; any other
/// bits as a number).
fn permission_names(permissions: Permissions) -> String {
    const SHOWN: [(Permissions, &str); 9] = [
        (Permissions::VIEW_CHANNEL, "View Channel"),
        (Permissions::SEND_MESSAGES, "Send Messages"),
        (
            Permissions::SEND_MESSAGES_IN_THREADS,
            "Send Messages in Threads",
        ),
        (Permissions::CREATE_PUBLIC_THREADS, "Create Public Threads"),
        (
            Permissions::CREATE_PRIVATE_THREADS,
            "Create Private Threads",
        ),
        (Permissions::EMBED_LINKS, "Embed Links"),
        (Permissions::ATTACH_FILES, "Attach Files"),
        (Permissions::READ_MESSAGE_HISTORY, "Read Message History"),
        (Permissions::MANAGE_MESSAGES, "Manage Messages"),
    ];
    let mut rest = permissions;
    let mut names: Vec<String> = Vec::new();
    for (p, name) in SHOWN {
        if permissions.contains(p) {
            names.push(name.to_owned());
            rest -= p;
        }
    }
    if !rest.is_empty() {
        names.push(format!("permission bits {}", rest.bits()));
    }
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names.join(", ")
    }
}

/// What the guild looks like, as far as the layout cares.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The guild.
    pub guild: u64,
    /// The bot's user id.
    pub bot: u64,
    /// The bot's permissions in the guild (all of them for the owner or an administrator).
    pub bot_permissions: Permissions,
    /// The guild has `COMMUNITY` or `NEWS`.
    pub announcements_allowed: bool,
    /// The guild's roles: id and name.
    pub roles: Vec<(u64, String)>,
    /// The guild's channels.
    pub channels: Vec<Channel>,
}

fn discord<T>(what: &str) -> impl FnOnce(T) -> SetupError + '_
where
    T: Into<twilight_http::Error>,
{
    move |source| SetupError::Discord {
        what: what.to_owned(),
        source: source.into(),
    }
}

/// Sends a twilight request and reads its answer, naming `what` in the error.
macro_rules! model {
    ($what:expr, $request:expr $(,)?) => {{
        let what: &str = $what;
        let response = $request.await.map_err(discord(what))?;
        response.model().await.map_err(|source| SetupError::Decode {
            what: what.to_owned(),
            source,
        })
    }};
}

/// Reads what the layout needs to know of `guild`.
///
/// # Errors
/// [`SetupError::Discord`] / [`SetupError::Decode`] when Discord cannot be read.
pub async fn snapshot(http: &Client, guild: u64) -> Result<Snapshot, SetupError> {
    let guild_id: Id<GuildMarker> = Id::new_checked(guild).ok_or(SetupError::NoGuild)?;
    let me = model!("GET /users/@me", http.current_user())?;
    let g = model!("GET /guilds/{guild}", http.guild(guild_id))?;
    let member = model!(
        "GET /guilds/{guild}/members/{bot}",
        http.guild_member(guild_id, me.id),
    )?;
    let channels = model!(
        "GET /guilds/{guild}/channels",
        http.guild_channels(guild_id)
    )?;
    let everyone = g
        .roles
        .iter()
        .find(|r| r.id.get() == guild)
        .map_or(Permissions::empty(), |r| r.permissions);
    let mut bot_permissions = g
        .roles
        .iter()
        .filter(|r| member.roles.contains(&r.id))
        .fold(everyone, |p, r| p | r.permissions);
    if g.owner_id == me.id || bot_permissions.contains(Permissions::ADMINISTRATOR) {
        bot_permissions = Permissions::all();
    }
    let announcements_allowed = g
        .features
        .iter()
        .any(|f| matches!(f, GuildFeature::Community | GuildFeature::News));
    Ok(Snapshot {
        guild,
        bot: me.id.get(),
        bot_permissions,
        announcements_allowed,
        roles: g
            .roles
            .iter()
            .map(|r| (r.id.get(), r.name.clone()))
            .collect(),
        channels,
    })
}

fn target_matches(
    o: &PermissionOverwrite,
    target: Target,
    guild: u64,
    staff: Ref,
    bot: u64,
) -> bool {
    match target {
        Target::Everyone => o.kind == PermissionOverwriteType::Role && o.id.get() == guild,
        Target::Staff => o.kind == PermissionOverwriteType::Role && staff == Ref::Id(o.id.get()),
        Target::Bot => o.kind == PermissionOverwriteType::Member && o.id.get() == bot,
    }
}

/// The changes one channel of the layout needs; returns the channel (existing, or created by
/// the plan).
fn plan_channel(
    snapshot: &Snapshot,
    slot: Slot,
    name: &str,
    (category, staff): (Ref, Ref),
    changes: &mut Vec<Change>,
) -> Ref {
    let in_category =
        |c: &Channel| matches!(category, Ref::Id(id) if c.parent_id.map(Id::get) == Some(id));
    let wants_announcement = slot == Slot::Announcements && snapshot.announcements_allowed;
    let mut candidates: Vec<&Channel> = snapshot
        .channels
        .iter()
        .filter(|c| {
            matches!(
                c.kind,
                ChannelType::GuildText | ChannelType::GuildAnnouncement
            ) && c.name.as_deref() == Some(name)
        })
        .collect();
    // Prefer the one already in the category.
    candidates.sort_by_key(|c| !in_category(c));
    let Some(existing) = candidates.first() else {
        changes.push(Change::CreateChannel {
            slot,
            name: name.to_owned(),
            kind: if wants_announcement {
                ChannelType::GuildAnnouncement
            } else {
                ChannelType::GuildText
            },
            overwrites: wanted(slot),
        });
        return Ref::New;
    };
    let id = existing.id.get();
    let convert = (wants_announcement && existing.kind == ChannelType::GuildText)
        .then_some(ChannelType::GuildAnnouncement);
    let move_into_category = !in_category(existing);
    if convert.is_some() || move_into_category {
        changes.push(Change::UpdateChannel {
            slot,
            id,
            name: name.to_owned(),
            kind: convert,
            move_into_category,
        });
    }
    let present = existing.permission_overwrites.clone().unwrap_or_default();
    for want in wanted(slot) {
        let had = present
            .iter()
            .find(|o| target_matches(o, want.target, snapshot.guild, staff, snapshot.bot));
        let (allow, deny) = had.map_or((Permissions::empty(), Permissions::empty()), |o| {
            (o.allow, o.deny)
        });
        let fits = had.is_some()
            && allow.contains(want.allow)
            && deny.contains(want.deny)
            && !allow.intersects(want.deny);
        if !fits {
            changes.push(Change::PutOverwrite {
                slot,
                id,
                name: name.to_owned(),
                overwrite: Overwrite {
                    target: want.target,
                    allow: (allow | want.allow) - want.deny,
                    deny: (deny | want.deny) - want.allow,
                },
            });
        }
    }
    Ref::Id(id)
}

/// The changes that make the guild of `snapshot` fit the layout named by `names`, with the
/// staff role `staff_role` (`None`: find or create one by name).
///
/// # Errors
/// [`SetupError::UnknownStaffRole`] when `staff_role` is not a role of the guild.
pub fn plan(
    snapshot: &Snapshot,
    names: &GuildNames,
    staff_role: Option<u64>,
) -> Result<Plan, SetupError> {
    let guild = snapshot.guild;
    let mut changes = Vec::new();
    let staff = match staff_role {
        Some(role) if snapshot.roles.iter().any(|(id, _)| *id == role) => Ref::Id(role),
        Some(role) => return Err(SetupError::UnknownStaffRole { guild, role }),
        None => {
            if let Some((id, _)) = snapshot.roles.iter().find(|(_, n)| *n == names.staff_role) {
                Ref::Id(*id)
            } else {
                changes.push(Change::CreateRole {
                    name: names.staff_role.clone(),
                });
                Ref::New
            }
        }
    };
    let category = snapshot.channels.iter().find(|c| {
        c.kind == ChannelType::GuildCategory
            && c.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&names.category))
    });
    let category = if let Some(c) = category {
        Ref::Id(c.id.get())
    } else {
        changes.push(Change::CreateCategory {
            name: names.category.clone(),
        });
        Ref::New
    };
    let mut channels = [Ref::New; 4];
    for (i, slot) in Slot::ALL.into_iter().enumerate() {
        channels[i] = plan_channel(
            snapshot,
            slot,
            slot.name(names),
            (category, staff),
            &mut changes,
        );
    }
    let missing = if changes.is_empty() {
        Vec::new()
    } else {
        let needed = Permissions::MANAGE_CHANNELS | Permissions::MANAGE_ROLES | BOT_IN_CHANNELS;
        NAMED
            .iter()
            .filter(|(p, _)| needed.contains(*p) && !snapshot.bot_permissions.contains(*p))
            .map(|(_, name)| *name)
            .collect()
    };
    Ok(Plan {
        guild,
        bot: snapshot.bot,
        announcement_channel: snapshot.announcements_allowed,
        staff_role: staff,
        category,
        channels,
        changes,
        missing,
    })
}

impl Plan {
    /// The plan as text, one change a line (what `--dry-run` prints).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if self.changes.is_empty() {
            out.push_str("The guild already fits: nothing to change.\n");
        } else {
            let _ = writeln!(out, "{} change(s):", self.changes.len());
            for change in &self.changes {
                let _ = writeln!(out, "  - {change}");
            }
        }
        if !self.announcement_channel {
            out.push_str(
                "The guild has no COMMUNITY feature: #announcements is a read-only text channel (its posts are not published to following servers).\n",
            );
        }
        if !self.missing.is_empty() {
            let _ = writeln!(
                out,
                "The bot lacks: {} (the changes would fail).",
                self.missing.join(", ")
            );
        }
        out
    }
}

fn http_overwrite(o: Overwrite, guild: u64, staff: u64, bot: u64) -> Option<PermissionOverwrite> {
    let (id, kind) = match o.target {
        Target::Everyone => (guild, PermissionOverwriteType::Role),
        Target::Staff => (staff, PermissionOverwriteType::Role),
        Target::Bot => (bot, PermissionOverwriteType::Member),
    };
    Some(PermissionOverwrite {
        id: Id::new_checked(id)?,
        kind,
        allow: o.allow,
        deny: o.deny,
    })
}

/// Sets one overwrite on a channel (`PUT /channels/{channel}/permissions/{id}`).
async fn put_overwrite(
    http: &Client,
    channel: u64,
    o: PermissionOverwrite,
) -> Result<(), SetupError> {
    use twilight_model::http::permission_overwrite as put;
    let Some(channel) = Id::<ChannelMarker>::new_checked(channel) else {
        return Ok(());
    };
    let overwrite = put::PermissionOverwrite {
        id: o.id,
        kind: if o.kind == PermissionOverwriteType::Member {
            put::PermissionOverwriteType::Member
        } else {
            put::PermissionOverwriteType::Role
        },
        allow: Some(o.allow),
        deny: Some(o.deny),
    };
    http.update_channel_permission(channel, &overwrite)
        .await
        .map_err(discord("PUT /channels/{channel}/permissions/{overwrite}"))?;
    Ok(())
}

/// Makes the changes of `plan` with `http`, in order.
///
/// # Errors
/// [`SetupError::MissingPermissions`] before any change when the bot lacks permissions the
/// changes need; Discord's error at the first change it refuses (the changes before it stay:
/// running again completes the layout).
pub async fn apply(http: &Client, plan: Plan) -> Result<Outcome, SetupError> {
    if !plan.missing.is_empty() {
        return Err(SetupError::MissingPermissions {
            guild: plan.guild,
            missing: plan.missing,
        });
    }
    let guild_id: Id<GuildMarker> = Id::new_checked(plan.guild).ok_or(SetupError::NoGuild)?;
    let mut staff = match plan.staff_role {
        Ref::Id(id) => id,
        Ref::New => 0,
    };
    let mut category = match plan.category {
        Ref::Id(id) => id,
        Ref::New => 0,
    };
    let mut channels = plan.channels.map(|r| match r {
        Ref::Id(id) => id,
        Ref::New => 0,
    });
    let category_id = |category: u64| -> Option<Id<ChannelMarker>> { Id::new_checked(category) };
    for change in &plan.changes {
        match change {
            Change::CreateRole { name } => {
                let role = model!(
                    "POST /guilds/{guild}/roles",
                    http.create_role(guild_id)
                        .name(name)
                        .permissions(Permissions::empty())
                        .mentionable(true),
                )?;
                staff = role.id.get();
            }
            Change::CreateCategory { name } => {
                let created = model!(
                    "POST /guilds/{guild}/channels (category)",
                    http.create_guild_channel(guild_id, name)
                        .kind(ChannelType::GuildCategory),
                )?;
                category = created.id.get();
            }
            Change::CreateChannel {
                slot,
                name,
                kind,
                overwrites,
            } => {
                let overwrites: Vec<PermissionOverwrite> = overwrites
                    .iter()
                    .filter_map(|o| http_overwrite(*o, plan.guild, staff, plan.bot))
                    .collect();
                let mut request = http
                    .create_guild_channel(guild_id, name)
                    .kind(*kind)
                    .permission_overwrites(&overwrites);
                if let Some(parent) = category_id(category) {
                    request = request.parent_id(parent);
                }
                let created = model!("POST /guilds/{guild}/channels", request)?;
                if let Some(i) = Slot::ALL.iter().position(|s| s == slot) {
                    channels[i] = created.id.get();
                }
            }
            Change::UpdateChannel {
                id,
                kind,
                move_into_category,
                ..
            } => {
                let Some(channel) = Id::<ChannelMarker>::new_checked(*id) else {
                    continue;
                };
                let mut request = http.update_channel(channel);
                if let Some(kind) = kind {
                    request = request.kind(*kind);
                }
                if *move_into_category {
                    request = request.parent_id(category_id(category));
                }
                model!("PATCH /channels/{channel}", request)?;
            }
            Change::PutOverwrite { id, overwrite, .. } => {
                let Some(o) = http_overwrite(*overwrite, plan.guild, staff, plan.bot) else {
                    continue;
                };
                put_overwrite(http, *id, o).await?;
            }
        }
    }
    Ok(Outcome {
        guild: plan.guild,
        staff_role: staff,
        category,
        channels,
        announcement_channel: plan.announcement_channel,
        changes: plan.changes,
    })
}

/// Reads `guild`, plans and (unless `dry_run`) applies: what `flexcord setup-guild` and
/// `/setup` run. Returns the plan, and the outcome when applied.
///
/// # Errors
/// As [`snapshot`], [`plan`] and [`apply`].
pub async fn run(
    http: &Client,
    guild: u64,
    names: &GuildNames,
    staff_role: Option<u64>,
    dry_run: bool,
) -> Result<(Plan, Option<Outcome>), SetupError> {
    let snapshot = snapshot(http, guild).await?;
    let plan = plan(&snapshot, names, staff_role)?;
    if dry_run {
        return Ok((plan, None));
    }
    let outcome = apply(http, plan.clone()).await?;
    Ok((plan, Some(outcome)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUILD: u64 = 100;
    const BOT: u64 = 7;
    const STAFF: u64 = 300;

    fn channel(id: u64, kind: u8, name: &str, parent: Option<u64>, overwrites: &str) -> Channel {
        serde_json::from_str(&format!(
            r#"{{"id":"{id}","type":{kind},"guild_id":"{GUILD}","name":"{name}","position":0,
                "parent_id":{},"permission_overwrites":{overwrites}}}"#,
            parent.map_or("null".to_owned(), |p| format!("\"{p}\""))
        ))
        .expect("a channel")
    }

    fn snapshot(channels: Vec<Channel>, community: bool) -> Snapshot {
        Snapshot {
            guild: GUILD,
            bot: BOT,
            bot_permissions: Permissions::all(),
            announcements_allowed: community,
            roles: vec![(GUILD, "@everyone".into()), (STAFF, "Staff".into())],
            channels,
        }
    }

    fn bits(p: Permissions) -> String {
        p.bits().to_string()
    }

    /// The layout as `apply` leaves it, with `extra` allowed to @everyone in #announcements.
    fn laid_out(extra: Permissions, kind: u8) -> Vec<Channel> {
        let mut channels = vec![channel(10, 4, "Community", None, "[]")];
        for (i, slot) in Slot::ALL.into_iter().enumerate() {
            let overwrites: Vec<String> = wanted(slot)
                .into_iter()
                .map(|o| {
                    let (id, t, allow) = match o.target {
                        Target::Everyone => (GUILD, 0, o.allow | extra),
                        Target::Staff => (STAFF, 0, o.allow),
                        Target::Bot => (BOT, 1, o.allow),
                    };
                    format!(
                        r#"{{"id":"{id}","type":{t},"allow":"{}","deny":"{}"}}"#,
                        bits(allow),
                        bits(o.deny)
                    )
                })
                .collect();
            let id = 20 + i as u64;
            let kind = if slot == Slot::Announcements { kind } else { 0 };
            let name = slot.name(&GuildNames::default()).to_owned();
            channels.push(channel(
                id,
                kind,
                &name,
                Some(10),
                &format!("[{}]", overwrites.join(",")),
            ));
        }
        channels
    }

    #[test]
    fn a_fitting_guild_needs_nothing_and_extra_bits_are_kept() {
        let names = GuildNames::default();
        let extra = Permissions::ADD_REACTIONS;
        let planned = plan(&snapshot(laid_out(extra, 0), false), &names, None).unwrap();
        assert!(planned.changes.is_empty(), "{:?}", planned.changes);
        assert_eq!(planned.staff_role, Ref::Id(STAFF), "found by name");
        assert!(planned.missing.is_empty());
        // With COMMUNITY, the text #announcements is converted, and only that.
        let converted = plan_of(laid_out(extra, 0), true);
        assert_eq!(converted.changes.len(), 1, "{:?}", converted.changes);
        assert!(matches!(
            converted.changes[0],
            Change::UpdateChannel {
                id: 20,
                kind: Some(ChannelType::GuildAnnouncement),
                move_into_category: false,
                ..
            }
        ));
        assert!(plan_of(laid_out(extra, 5), true).changes.is_empty());
    }

    fn plan_of(channels: Vec<Channel>, community: bool) -> Plan {
        plan(&snapshot(channels, community), &GuildNames::default(), None).unwrap()
    }

    #[test]
    fn a_conflicting_overwrite_is_corrected_and_completed() {
        let mut channels = laid_out(Permissions::empty(), 0);
        // Someone let @everyone post in #announcements, and gave it reactions.
        let allow =
            Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES | Permissions::ADD_REACTIONS;
        channels[1] = channel(
            20,
            0,
            "announcements",
            Some(10),
            &format!(
                r#"[{{"id":"{GUILD}","type":0,"allow":"{}","deny":"0"}}]"#,
                bits(allow)
            ),
        );
        let plan = plan_of(channels, false);
        let puts: Vec<&Overwrite> = plan
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::PutOverwrite { overwrite, .. } => Some(overwrite),
                _ => None,
            })
            .collect();
        assert_eq!(
            puts.len(),
            3,
            "@everyone corrected, staff and bot added: {puts:?}"
        );
        let everyone = puts.iter().find(|o| o.target == Target::Everyone).unwrap();
        assert!(!everyone.allow.contains(Permissions::SEND_MESSAGES));
        assert!(everyone.deny.contains(Permissions::SEND_MESSAGES));
        assert!(everyone.allow.contains(Permissions::ADD_REACTIONS), "kept");
        let text = plan.describe();
        assert!(
            text.contains("#announcements: let @everyone View Channel"),
            "{text}"
        );
        assert!(text.contains("deny Send Messages"), "{text}");
    }

    #[test]
    fn an_empty_guild_gets_everything_and_a_bot_without_rights_is_named() {
        let mut s = snapshot(Vec::new(), false);
        s.roles.retain(|(id, _)| *id == GUILD);
        s.bot_permissions = Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES;
        let planned = plan(&s, &GuildNames::default(), None).unwrap();
        assert!(matches!(planned.changes[0], Change::CreateRole { .. }));
        assert!(matches!(planned.changes[1], Change::CreateCategory { .. }));
        assert_eq!(planned.changes.len(), 6, "{:?}", planned.changes);
        assert_eq!(
            planned.missing,
            [
                "Manage Channels",
                "Manage Roles",
                "Embed Links",
                "Read Message History"
            ]
        );
        assert!(matches!(
            plan(&s, &GuildNames::default(), Some(999)),
            Err(SetupError::UnknownStaffRole { role: 999, .. })
        ));
    }
}
