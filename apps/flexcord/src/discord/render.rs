//! What the bot posts in Discord: knowledge-base suggestions as embeds with links, the
//! "Talk to a live agent" button and the rating buttons, and parsing of their button clicks.

use twilight_model::channel::message::Embed;
use twilight_model::channel::message::component::{ActionRow, Button, ButtonStyle, Component};
use twilight_util::builder::embed::{EmbedBuilder, EmbedFooterBuilder};

/// `custom_id` of the "Talk to a live agent" button.
pub const LIVE_AGENT_ID: &str = "flexcord:agent";
const RATE_PREFIX: &str = "flexcord:rate:";

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

fn button(custom_id: String, label: &str, style: ButtonStyle) -> Component {
    Component::Button(Button {
        custom_id: Some(custom_id),
        disabled: false,
        emoji: None,
        id: None,
        label: Some(label.to_owned()),
        sku_id: None,
        style,
        url: None,
    })
}

/// An action row with the "Talk to a live agent" button, sent under the bot's answers.
pub fn live_agent_row() -> Component {
    Component::ActionRow(ActionRow {
        components: vec![button(
            LIVE_AGENT_ID.to_owned(),
            "Talk to a live agent",
            ButtonStyle::Primary,
        )],
        id: None,
    })
}

/// An action row of five rating buttons (1 to 5 stars) for `case`, sent after closing.
pub fn rating_row(case: &str) -> Component {
    let components = (1..=5u8)
        .map(|n| {
            let label = "★".repeat(usize::from(n));
            button(
                format!("{RATE_PREFIX}{case}:{n}"),
                &label,
                ButtonStyle::Secondary,
            )
        })
        .collect();
    Component::ActionRow(ActionRow {
        components,
        id: None,
    })
}

/// A click on one of the bot's buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonAction {
    /// "Talk to a live agent".
    LiveAgent,
    /// A rating of a case.
    Rate {
        /// The case number.
        case: String,
        /// 1 to 5.
        stars: u8,
    },
}

/// Parses a button's `custom_id`; `None` for ids this bot did not create or that were altered.
///
/// ```
/// use flexcord::discord::render::{parse_button, ButtonAction};
/// assert_eq!(parse_button("flexcord:agent"), Some(ButtonAction::LiveAgent));
/// assert_eq!(
///     parse_button("flexcord:rate:CASE-000001:4"),
///     Some(ButtonAction::Rate { case: "CASE-000001".into(), stars: 4 })
/// );
/// assert_eq!(parse_button("flexcord:rate:CASE-000001:9"), None);
/// ```
pub fn parse_button(custom_id: &str) -> Option<ButtonAction> {
    if custom_id == LIVE_AGENT_ID {
        return Some(ButtonAction::LiveAgent);
    }
    let rest = custom_id.strip_prefix(RATE_PREFIX)?;
    let (case, stars) = rest.rsplit_once(':')?;
    let stars: u8 = stars.parse().ok()?;
    if case.is_empty() || !(1..=5).contains(&stars) {
        return None;
    }
    Some(ButtonAction::Rate {
        case: case.to_owned(),
        stars,
    })
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
    fn buttons_round_trip() {
        let Component::ActionRow(row) = live_agent_row() else {
            panic!("row")
        };
        let Component::Button(b) = &row.components[0] else {
            panic!("button")
        };
        assert_eq!(
            parse_button(b.custom_id.as_deref().unwrap()),
            Some(ButtonAction::LiveAgent)
        );
        let Component::ActionRow(row) = rating_row("CASE-000042") else {
            panic!("row")
        };
        assert_eq!(row.components.len(), 5);
        for (i, c) in row.components.iter().enumerate() {
            let Component::Button(b) = c else {
                panic!("button")
            };
            assert!(b.custom_id.as_ref().unwrap().len() <= 100);
            assert_eq!(
                parse_button(b.custom_id.as_deref().unwrap()),
                Some(ButtonAction::Rate {
                    case: "CASE-000042".into(),
                    stars: u8::try_from(i + 1).unwrap()
                })
            );
        }
        for bad in [
            "",
            "flexcord:rate:",
            "flexcord:rate::3",
            "flexcord:rate:C:0",
            "flexcord:rate:C:x",
            "other",
        ] {
            assert_eq!(parse_button(bad), None, "{bad}");
        }
    }
}
