//! The community side of the guild: its layout ([`setup`]), the official feeds relayed into
//! #announcements ([`feeds`]), and how an announcement looks ([`embed`]).

pub mod feeds;
pub mod setup;

use flexcord_routing::community::Announcement;
use serde_json::{Value, json};

/// Discord's limits for an embed's title and description.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
/// A feed entry's summary is cut here (an announcement is a teaser; the link has the rest).
pub const SUMMARY_MAX: usize = 600;

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether `url` can be an embed's link or image (Discord takes http and https only).
fn web_url(url: Option<&str>) -> Option<&str> {
    url.filter(|u| url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https")))
}

/// The embed of an announcement: its title (linked), text, image and author line.
pub fn embed(post: &Announcement) -> Value {
    let title = cut(post.title.trim(), TITLE_MAX);
    let mut embed = json!({
        "type": "rich",
        "title": if title.is_empty() { "Announcement".to_owned() } else { title },
        "color": 0x0058_65F2,
    });
    let text = cut(post.text.trim(), DESCRIPTION_MAX);
    if !text.is_empty() {
        embed["description"] = json!(text);
    }
    if let Some(url) = web_url(post.url.as_deref()) {
        embed["url"] = json!(url);
    }
    if let Some(image) = web_url(post.image.as_deref()) {
        embed["image"] = json!({ "url": image });
    }
    if let Some(source) = post.source.as_deref().filter(|s| !s.trim().is_empty()) {
        embed["author"] = json!({ "name": cut(source.trim(), TITLE_MAX) });
    }
    embed
}

/// Text of an HTML fragment (a feed's summary): tags dropped, block ends as line breaks, the
/// common entities decoded, blank runs collapsed.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "tr"
        ) {
            text.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    text.push_str(rest);
    let decoded = decode_entities(&text);
    let mut out = String::new();
    for line in decoded.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out.trim().to_owned()
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let entity = after.find(';').filter(|&n| n <= 10).map(|n| &after[..n]);
        let decoded = entity.and_then(|e| match e {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => e
                .strip_prefix("#x")
                .or_else(|| e.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        });
        if let (Some(e), Some(c)) = (entity, decoded) {
            out.push(c);
            rest = &after[e.len() + 1..];
        } else {
            out.push('&');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_become_plain_text() {
        assert_eq!(
            plain_text("<p>Version <b>2.0</b> is out &amp; ready.</p><p>Read&nbsp;more&#8230;</p>"),
            "Version 2.0 is out & ready.\nRead more…"
        );
        assert_eq!(plain_text("a &unknown; b & c"), "a &unknown; b & c");
        assert_eq!(plain_text("broken <tag"), "broken");
        assert_eq!(plain_text("line<br/>two"), "line\ntwo");
    }

    #[test]
    fn embeds_keep_to_discords_limits_and_web_links() {
        let post = Announcement {
            title: "t".repeat(300),
            url: Some("javascript:alert(1)".into()),
            text: "x".repeat(5000),
            image: Some("https://example.com/a.png".into()),
            source: Some("Blog".into()),
        };
        let e = embed(&post);
        assert_eq!(e["title"].as_str().unwrap().chars().count(), TITLE_MAX);
        assert_eq!(
            e["description"].as_str().unwrap().chars().count(),
            DESCRIPTION_MAX
        );
        assert!(e.get("url").is_none(), "only http(s) links");
        assert_eq!(e["image"]["url"], "https://example.com/a.png");
        assert_eq!(e["author"]["name"], "Blog");
        let bare = embed(&Announcement {
            title: " ".into(),
            url: None,
            text: String::new(),
            image: None,
            source: None,
        });
        assert_eq!(bare["title"], "Announcement");
        assert!(bare.get("description").is_none());
    }
}
