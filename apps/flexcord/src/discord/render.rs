//! What the bot posts in Discord: knowledge-base suggestions as embeds with links, and the
//! routing core's buttons ("Talk to a live agent", "This solved it", the ratings).

use flexcord_routing::{Button as CoreButton, ConversationId};
use twilight_model::channel::message::Embed;
use twilight_model::channel::message::component::{ActionRow, Button, ButtonStyle, Component};
use twilight_util::builder::embed::{EmbedBuilder, EmbedFooterBuilder};

/// Accent colour of the bot's embeds (Discord blurple).
pub const EMBED_COLOUR: u32 = 0x0058_65F2;

/// One suggested article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// Article title.
    pub title: String,
    /// Link to the article (`https://…`), if it has one.
    pub url: Option<String>,
    /// A short extract.
    pub snippet: String,
}

const MAX_EMBEDS: usize = 10;
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const TOTAL_MAX: usize = 6000;
/// Extracts longer than this are shortened so several suggestions fit in one message.
const SNIPPET_MAX: usize = 300;

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Suggestions as embeds, one per article, titled and linked, within Discord's limits (at most
/// 10 embeds, 256-character titles, 6,000 characters in all). Articles without a `http(s)` URL
/// get no link; extras beyond the limits are left out.
pub fn suggestion_embeds(suggestions: &[Suggestion]) -> Vec<Embed> {
    let mut total = 0;
    let mut embeds = Vec::new();
    for (i, s) in suggestions.iter().take(MAX_EMBEDS).enumerate() {
        let title = truncate(&s.title, TITLE_MAX);
        let description = truncate(&s.snippet, SNIPPET_MAX.min(DESCRIPTION_MAX));
        let footer = format!(
            "Suggestion {} of {}",
            i + 1,
            suggestions.len().min(MAX_EMBEDS)
        );
        let size = title.chars().count() + description.chars().count() + footer.chars().count();
        if total + size > TOTAL_MAX {
            break;
        }
        total += size;
        let mut builder = EmbedBuilder::new()
            .title(title)
            .color(EMBED_COLOUR)
            .footer(EmbedFooterBuilder::new(footer));
        if !description.is_empty() {
            builder = builder.description(description);
        }
        if let Some(url) = s
            .url
            .as_deref()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            builder = builder.url(url);
        }
        embeds.push(builder.build());
    }
    embeds
}

/// The core's buttons as one action row (at most five), with custom ids from
/// [`CoreButton::custom_id`] for `conversation`; `None` without buttons.
pub fn button_row(buttons: &[CoreButton], conversation: &ConversationId) -> Option<Component> {
    if buttons.is_empty() {
        return None;
    }
    let components = buttons
        .iter()
        .take(5)
        .map(|b| {
            let (label, style) = match b {
                CoreButton::TalkToAgent => {
                    ("Talk to a live agent".to_owned(), ButtonStyle::Primary)
                }
                CoreButton::Solved => ("This solved it".to_owned(), ButtonStyle::Success),
                CoreButton::Rate(n) => ("★".repeat(usize::from(*n)), ButtonStyle::Secondary),
            };
            Component::Button(Button {
                custom_id: Some(b.custom_id(conversation)),
                disabled: false,
                emoji: None,
                id: None,
                label: Some(label),
                sku_id: None,
                style,
                url: None,
            })
        })
        .collect();
    Some(Component::ActionRow(ActionRow {
        components,
        id: None,
    }))
}

/// Discord's limit on a message's text, in characters.
pub const MESSAGE_MAX: usize = 2000;

/// Shortens text to Discord's 2,000-character message limit (an ellipsis marks the cut).
pub fn truncate_message(text: &str) -> String {
    truncate(text, MESSAGE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(title: &str, url: Option<&str>, snippet: &str) -> Suggestion {
        Suggestion {
            title: title.into(),
            url: url.map(Into::into),
            snippet: snippet.into(),
        }
    }

    #[test]
    fn suggestions_become_linked_embeds() {
        let embeds = suggestion_embeds(&[
            s(
                "Reset your password",
                Some("https://help.example.com/reset"),
                "Open Settings…",
            ),
            s(
                "Two-factor login",
                Some("javascript:alert(1)"),
                "Use an app",
            ),
        ]);
        assert_eq!(embeds.len(), 2);
        assert_eq!(embeds[0].title.as_deref(), Some("Reset your password"));
        assert_eq!(
            embeds[0].url.as_deref(),
            Some("https://help.example.com/reset")
        );
        assert_eq!(embeds[0].description.as_deref(), Some("Open Settings…"));
        assert_eq!(embeds[0].footer.as_ref().unwrap().text, "Suggestion 1 of 2");
        assert_eq!(embeds[1].url, None, "only http(s) links");
        let json = serde_json::to_value(&embeds[0]).unwrap();
        assert_eq!(json["type"], "rich");
    }

    #[test]
    fn suggestions_respect_discord_limits() {
        let many: Vec<_> = (0..15)
            .map(|i| s(&"T".repeat(400), None, &format!("{i}{}", "x".repeat(5000))))
            .collect();
        let embeds = suggestion_embeds(&many);
        assert!(embeds.len() <= 10);
        let total: usize = embeds
            .iter()
            .map(|e| {
                e.title.as_ref().map_or(0, |t| t.chars().count())
                    + e.description.as_ref().map_or(0, |d| d.chars().count())
                    + e.footer.as_ref().map_or(0, |f| f.text.chars().count())
            })
            .sum();
        assert!(total <= 6000, "{total}");
        assert!(
            embeds
                .iter()
                .all(|e| e.title.as_ref().unwrap().chars().count() <= 256)
        );
        assert!(suggestion_embeds(&[]).is_empty());
    }

    #[test]
    fn core_buttons_render_in_one_row_with_their_ids() {
        let conversation = ConversationId::from("7-100");
        assert!(button_row(&[], &conversation).is_none());
        let buttons: Vec<CoreButton> = (1..=5).map(CoreButton::Rate).collect();
        let Some(Component::ActionRow(row)) = button_row(&buttons, &conversation) else {
            panic!("a row")
        };
        assert_eq!(row.components.len(), 5);
        for (i, c) in row.components.iter().enumerate() {
            let Component::Button(b) = c else {
                panic!("button")
            };
            let id = b.custom_id.as_deref().unwrap();
            assert!(id.len() <= 100);
            assert_eq!(
                CoreButton::parse_custom_id(id),
                Some((
                    CoreButton::Rate(u8::try_from(i + 1).unwrap()),
                    conversation.clone()
                ))
            );
            assert_eq!(b.label.as_deref().map(|l| l.chars().count()), Some(i + 1));
        }
        let Some(Component::ActionRow(row)) = button_row(
            &[CoreButton::TalkToAgent, CoreButton::Solved],
            &conversation,
        ) else {
            panic!("a row")
        };
        let Component::Button(agent) = &row.components[0] else {
            panic!("button")
        };
        assert_eq!(agent.label.as_deref(), Some("Talk to a live agent"));
        assert_eq!(agent.custom_id.as_deref(), Some("fc:agent:7-100"));
    }

    #[test]
    fn long_text_is_cut_at_discords_limit() {
        assert_eq!(truncate_message("short"), "short");
        let cut = truncate_message(&"é".repeat(2500));
        assert_eq!(cut.chars().count(), MESSAGE_MAX);
        assert!(cut.ends_with('…'));
    }
}
