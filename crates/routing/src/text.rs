//! Text for Discord: the 2,000-character limit, attachments as links, neutralised mentions.
//!
//! Everything that reaches a Discord DM from the contact center goes through [`for_discord`]:
//! mentions are neutralised first (so the inserted zero-width spaces count towards the limit),
//! attachments become one link per line, and the result is split at word boundaries.

use serde::{Deserialize, Serialize};

/// Discord's message length limit, in characters.
pub const DISCORD_LIMIT: usize = 2000;

/// Twilio's message body limit, in characters.
pub const TWILIO_LIMIT: usize = 1600;

const ZWSP: char = '\u{200b}';

/// A file attached to a message: a Discord attachment (with its CDN `url`) or a Twilio media
/// item (with its `media_sid`; the bytes are fetched when the file is delivered).
///
/// Every field but `filename` and `url` is optional and left out of the JSON when unset, so
/// attachments stored before those fields existed still read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Attachment {
    /// The file name as shown to the reader.
    pub filename: String,
    /// Where the file can be fetched without credentials (empty for Twilio media, whose
    /// short-lived link is asked for when the file is delivered).
    pub url: String,
    /// The MIME type, when known (e.g. `image/png`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The Twilio media SID (`ME…`) of a file sent from the contact center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_sid: Option<String>,
    /// The Twilio service (`IS…`) holding `media_sid`, when the webhook named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_service: Option<String>,
}

impl Attachment {
    /// A file at `url` (a Discord attachment).
    pub fn link(filename: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            filename: filename.into(),
            url: url.into(),
            ..Self::default()
        }
    }

    /// The file name, or `attachment` when it is blank.
    pub fn display_name(&self) -> &str {
        if self.filename.trim().is_empty() {
            "attachment"
        } else {
            self.filename.as_str()
        }
    }

    /// The line naming this file in transcripts and link fallbacks: `name: url`, or the name
    /// alone when there is no public link.
    pub fn line(&self) -> String {
        if self.url.is_empty() {
            self.display_name().to_owned()
        } else {
            format!("{}: {}", self.display_name(), self.url)
        }
    }
}

/// Neutralises mass and user/role mentions: `@everyone` and `@here` get a zero-width space after
/// the `@`, as do `<@123>`, `<@!123>` and `<@&123>`. Other text is unchanged.
pub fn neutralise_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev: Option<char> = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        out.push(c);
        if c == '@'
            && (prev == Some('<') || rest.starts_with("everyone") || rest.starts_with("here"))
        {
            out.push(ZWSP);
        }
        prev = Some(c);
    }
    out
}

/// Appends one line per attachment to `text` ([`Attachment::line`]: `name: url`, or the name
/// alone for a file without a public link).
pub fn with_attachment_links(text: &str, attachments: &[Attachment]) -> String {
    let mut out = text.to_owned();
    for a in attachments {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&a.line());
    }
    out
}

/// Splits `text` into pieces of at most `limit` characters, preferring a line break, then a
/// space, as the cut point; a word longer than `limit` is cut where it must be. Whitespace at a
/// cut is dropped; no piece is empty. An empty or blank text gives no piece.
///
/// # Panics
/// Never for `limit >= 1`; a `limit` of 0 is treated as 1.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        // Byte offset just past `limit` characters (or the end).
        let end = rest
            .char_indices()
            .nth(limit)
            .map_or(rest.len(), |(i, _)| i);
        if end == rest.len() {
            pieces.push(rest.to_owned());
            break;
        }
        let window = &rest[..end];
        // Cut before the next piece's first character when that is whitespace.
        let next_is_space = rest[end..].chars().next().is_some_and(char::is_whitespace);
        let cut = if next_is_space {
            end
        } else {
            window
                .rfind('\n')
                .filter(|&i| i > 0)
                .or_else(|| window.rfind(char::is_whitespace).filter(|&i| i > 0))
                .unwrap_or(end)
        };
        let piece = rest[..cut].trim_end();
        if !piece.is_empty() {
            pieces.push(piece.to_owned());
        }
        rest = rest[cut..].trim_start();
    }
    pieces
}

/// Text from the contact center as Discord messages: mentions neutralised, attachments as links,
/// split at [`DISCORD_LIMIT`].
pub fn for_discord(text: &str, attachments: &[Attachment]) -> Vec<String> {
    split(
        &with_attachment_links(&neutralise_mentions(text), attachments),
        DISCORD_LIMIT,
    )
}

/// A user's Discord message as Twilio message bodies: attachments as links, split at
/// [`TWILIO_LIMIT`].
pub fn for_twilio(text: &str, attachments: &[Attachment]) -> Vec<String> {
    split(&with_attachment_links(text, attachments), TWILIO_LIMIT)
}

/// The longest display name kept, in characters (Discord's own names are at most 32).
pub const USER_NAME_MAX: usize = 32;

/// A display name fit for the case and the Twilio side: control characters dropped, whitespace
/// collapsed and trimmed, at most [`USER_NAME_MAX`] characters; `None` when nothing is left.
pub fn display_name(raw: &str) -> Option<String> {
    let cleaned: Vec<&str> = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let name: String = cleaned.join(" ").chars().take(USER_NAME_MAX).collect();
    let name = name.trim_end().to_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_piece() {
        assert_eq!(split("hello world", 2000), vec!["hello world"]);
    }

    #[test]
    fn blank_text_is_no_piece() {
        assert!(split("   \n ", 2000).is_empty());
        assert!(split("", 2000).is_empty());
    }

    #[test]
    fn splits_at_word_boundary() {
        assert_eq!(split("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(split("aaa bbb ccc", 5), vec!["aaa", "bbb", "ccc"]);
    }

    #[test]
    fn prefers_line_breaks() {
        assert_eq!(
            split("one two\nthree four", 14),
            vec!["one two", "three four"]
        );
    }

    #[test]
    fn cuts_a_word_longer_than_the_limit() {
        assert_eq!(split("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn counts_characters_not_bytes() {
        let text = "é".repeat(2001);
        let pieces = split(&text, DISCORD_LIMIT);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].chars().count(), 2000);
        assert_eq!(pieces[1], "é");
    }

    #[test]
    fn long_text_pieces_fit_and_keep_every_word() {
        let words: Vec<String> = (0..1000).map(|i| format!("word{i}")).collect();
        let text = words.join(" ");
        let pieces = split(&text, DISCORD_LIMIT);
        assert!(pieces.len() > 1);
        assert!(pieces.iter().all(|p| p.chars().count() <= DISCORD_LIMIT));
        let rejoined: Vec<&str> = pieces.iter().flat_map(|p| p.split(' ')).collect();
        assert_eq!(
            rejoined,
            words.iter().map(String::as_str).collect::<Vec<_>>()
        );
    }

    #[test]
    fn neutralises_mass_mentions() {
        assert_eq!(neutralise_mentions("hi @everyone"), "hi @\u{200b}everyone");
        assert_eq!(neutralise_mentions("@here now"), "@\u{200b}here now");
    }

    #[test]
    fn neutralises_user_and_role_mentions() {
        assert_eq!(neutralise_mentions("<@123>"), "<@\u{200b}123>");
        assert_eq!(neutralise_mentions("<@!123>"), "<@\u{200b}!123>");
        assert_eq!(neutralise_mentions("<@&55>"), "<@\u{200b}&55>");
    }

    #[test]
    fn leaves_other_at_signs() {
        assert_eq!(
            neutralise_mentions("mail me@example.com"),
            "mail me@example.com"
        );
        assert_eq!(neutralise_mentions("<#42> channel"), "<#42> channel");
    }

    #[test]
    fn attachments_become_links() {
        let a = [
            Attachment::link("log.txt", "https://cdn.example/log.txt"),
            Attachment::link("", "https://cdn.example/x"),
        ];
        assert_eq!(
            with_attachment_links("see", &a),
            "see\nlog.txt: https://cdn.example/log.txt\nattachment: https://cdn.example/x"
        );
        assert_eq!(
            with_attachment_links("", &a[..1]),
            "log.txt: https://cdn.example/log.txt"
        );
        let media = Attachment {
            filename: "label.pdf".into(),
            media_sid: Some("ME1".into()),
            ..Attachment::default()
        };
        assert_eq!(with_attachment_links("here", &[media]), "here\nlabel.pdf");
    }

    #[test]
    fn attachments_read_back_without_the_newer_fields() {
        let old: Attachment =
            serde_json::from_str(r#"{"filename":"a.png","url":"https://cdn/a.png"}"#)
                .expect("old JSON");
        assert_eq!(old, Attachment::link("a.png", "https://cdn/a.png"));
        assert_eq!(
            serde_json::to_string(&old).expect("json"),
            r#"{"filename":"a.png","url":"https://cdn/a.png"}"#
        );
        let full = Attachment {
            content_type: Some("image/png".into()),
            size: Some(3),
            ..old
        };
        let back: Attachment =
            serde_json::from_str(&serde_json::to_string(&full).expect("json")).expect("back");
        assert_eq!(back, full);
    }

    #[test]
    fn for_discord_neutralises_before_splitting() {
        let text = format!("{} @everyone", "a".repeat(1990));
        let pieces = for_discord(&text, &[]);
        assert!(pieces.iter().all(|p| p.chars().count() <= DISCORD_LIMIT));
        assert!(pieces.iter().all(|p| !p.contains("@everyone")));
    }

    #[test]
    fn display_names_are_cleaned_and_bounded() {
        assert_eq!(display_name("  Alice  ").as_deref(), Some("Alice"));
        assert_eq!(
            display_name("Ali\u{0}ce\n  Liddell\t").as_deref(),
            Some("Ali ce Liddell")
        );
        assert_eq!(display_name(" \n\t "), None);
        assert_eq!(display_name(""), None);
        let long = "é".repeat(40);
        assert_eq!(
            display_name(&long).map(|n| n.chars().count()),
            Some(USER_NAME_MAX)
        );
        // A cut that ends on a space leaves no trailing blank.
        let spaced = format!("{} tail", "a".repeat(USER_NAME_MAX - 1));
        assert_eq!(display_name(&spaced), Some("a".repeat(USER_NAME_MAX - 1)));
    }
}
