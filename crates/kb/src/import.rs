//! Importing an existing help center into a knowledge base folder.
//!
//! [`import_zendesk`] converts a Zendesk Help Center articles export (the JSON of the
//! list-articles API: `{"articles": [...]}`, one page or an array of pages, or a bare array of
//! articles) into Markdown articles with front matter: bodies from HTML to Markdown (headings,
//! lists, tables, images, links), `label_names` as tags, `html_url` as the address, the locale
//! mapped to `lang` (`en-*` and `vi-*`; other locales are skipped and reported). Drafts are
//! skipped (and a file imported earlier for an article now in draft is removed).
//!
//! Each article becomes `zendesk-<id>.md` (`zendesk-<id>-vi.md` for a Vietnamese
//! translation, as the knowledge base names translations), so importing again updates the same
//! files and never duplicates them; a file whose text would not change is not written.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::article::{Language, parse_article};
use crate::error::{Error, ErrorKind};

/// One article of a Zendesk export (unknown fields are ignored).
#[derive(Debug, Clone, Deserialize)]
struct ZendeskArticle {
    id: u64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    label_names: Vec<String>,
    #[serde(default)]
    draft: bool,
}

#[derive(Deserialize)]
struct Page {
    articles: Vec<ZendeskArticle>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Export {
    Page(Page),
    Pages(Vec<Page>),
    Articles(Vec<ZendeskArticle>),
}

/// What an import did, file by file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Files written for the first time.
    pub created: Vec<PathBuf>,
    /// Files rewritten because the article changed.
    pub updated: Vec<PathBuf>,
    /// Files already up to date.
    pub unchanged: Vec<PathBuf>,
    /// Files removed because their article is now a draft.
    pub removed: Vec<PathBuf>,
    /// Articles left out: (Zendesk id, why).
    pub skipped: Vec<(u64, String)>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged, {} removed, {} skipped",
            self.created.len(),
            self.updated.len(),
            self.unchanged.len(),
            self.removed.len(),
            self.skipped.len()
        )?;
        for (id, why) in &self.skipped {
            write!(f, "\n  skipped article {id}: {why}")?;
        }
        Ok(())
    }
}

/// The knowledge base language of a Zendesk locale (`en-us`, `en-gb`, `vi`, `vi-vn`...).
fn language(locale: &str) -> Option<Language> {
    let primary = locale
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    Language::from_code(&primary)
}

/// The id of the knowledge base article for a Zendesk article in a language.
fn article_id(id: u64, language: Language) -> String {
    match language {
        Language::English => format!("zendesk-{id}"),
        Language::Vietnamese => format!("zendesk-{id}-vi"),
    }
}

/// A YAML scalar: JSON's quoting is valid YAML and keeps `:`, `#` and quotes safe.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// The Markdown file for one article.
fn markdown(article: &ZendeskArticle, id: &str, title: &str, language: Language) -> String {
    let tags: Vec<String> = article
        .label_names
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(quoted)
        .collect();
    let body = article.body.as_deref().unwrap_or_default();
    let converter = htmd::HtmlToMarkdown::builder()
        .skip_tags(vec!["script", "style", "head"])
        .build();
    // an HTML body htmd cannot read is kept as text: the index strips the markup it knows
    let body = converter.convert(body).unwrap_or_else(|_| body.to_owned());
    format!(
        "---\nid: {id}\ntitle: {title}\ntags: [{tags}]\nlang: {lang}\nurl: {url}\n---\n\n{body}\n",
        title = quoted(title),
        tags = tags.join(", "),
        lang = language.code(),
        url = quoted(article.html_url.as_deref().unwrap_or_default()),
        body = body.trim(),
    )
}

/// Converts a Zendesk Help Center articles export (JSON text: the list-articles API's
/// `{"articles": [...]}`, an array of such pages, or an array of articles) into Markdown
/// articles in `dir` (created if missing).
///
/// Bodies go from HTML to Markdown (headings, lists, tables, images, links), `label_names`
/// become tags, `html_url` the address, and the locale `lang` (`en-*`, `vi-*`; other locales
/// are skipped and reported). Drafts are skipped, and a file imported earlier for an article
/// now in draft is removed. Each article is written to `zendesk-<id>.md` (`zendesk-<id>-vi.md`
/// for a Vietnamese translation), so importing again updates the same files and never
/// duplicates them; a file whose text would not change is not written.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let export = r#"{"articles": [{"id": 7, "title": "Reset your password", "locale": "en-us",
///   "html_url": "https://help.example.com/hc/en-us/articles/7", "label_names": ["password"],
///   "draft": false, "body": "<p>Open <b>Settings</b>, then <a href=\"/reset\">Reset</a>.</p>"}]}"#;
/// let report = flexcord_kb::import_zendesk(export, dir.path())?;
/// assert_eq!(report.created.len(), 1);
/// let text = std::fs::read_to_string(dir.path().join("zendesk-7.md"))?;
/// assert!(text.contains("Open **Settings**, then [Reset](/reset)."));
/// // importing again changes nothing
/// assert_eq!(flexcord_kb::import_zendesk(export, dir.path())?.unchanged.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`ErrorKind::Read`] when the export is not a Zendesk articles export, or when `dir` cannot
/// be created or a file cannot be written or removed (files written before stay).
pub fn import_zendesk(export: &str, dir: &Path) -> Result<ImportReport, Error> {
    let read = |path: &Path, source: Box<dyn std::error::Error + Send + Sync>| {
        Error::with_source(
            ErrorKind::Read {
                path: path.to_owned(),
            },
            source,
        )
    };
    let export: Export = serde_json::from_str(export).map_err(|e| {
        read(
            Path::new("<export>"),
            format!("not a Zendesk articles export: {e}").into(),
        )
    })?;
    let articles = match export {
        Export::Page(page) => page.articles,
        Export::Pages(pages) => pages.into_iter().flat_map(|p| p.articles).collect(),
        Export::Articles(articles) => articles,
    };
    std::fs::create_dir_all(dir).map_err(|e| read(dir, e.into()))?;
    let mut report = ImportReport::default();
    for article in &articles {
        let locale = article.locale.as_deref().unwrap_or("en");
        let Some(lang) = language(locale) else {
            report.skipped.push((
                article.id,
                format!("locale {locale} is neither English nor Vietnamese"),
            ));
            continue;
        };
        let id = article_id(article.id, lang);
        let path = dir.join(format!("{id}.md"));
        if article.draft {
            if path.is_file() {
                std::fs::remove_file(&path).map_err(|e| read(&path, e.into()))?;
                report.removed.push(path);
            }
            report.skipped.push((article.id, "draft".to_owned()));
            continue;
        }
        let title = article
            .title
            .as_deref()
            .or(article.name.as_deref())
            .map(str::trim)
            .unwrap_or_default();
        if title.is_empty() {
            report.skipped.push((article.id, "no title".to_owned()));
            continue;
        }
        let text = markdown(article, &id, title, lang);
        // what the knowledge base will read back: a file it would skip is not written
        if let Err(why) = parse_article(&text, &id) {
            report.skipped.push((article.id, why));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(old) if old == text => report.unchanged.push(path),
            old => {
                std::fs::write(&path, &text).map_err(|e| read(&path, e.into()))?;
                if old.is_ok() {
                    report.updated.push(path);
                } else {
                    report.created.push(path);
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_map_to_languages() {
        assert_eq!(language("en-us"), Some(Language::English));
        assert_eq!(language("EN_GB"), Some(Language::English));
        assert_eq!(language("vi"), Some(Language::Vietnamese));
        assert_eq!(language("vi-vn"), Some(Language::Vietnamese));
        assert_eq!(language("fr-fr"), None);
        assert_eq!(language(""), None);
        assert_eq!(article_id(12, Language::Vietnamese), "zendesk-12-vi");
    }

    #[test]
    fn titles_with_yaml_characters_survive() {
        assert_eq!(
            quoted("Error: \"QC-1002\" # network"),
            r#""Error: \"QC-1002\" # network""#
        );
    }

    #[test]
    fn not_an_export_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        for bad in ["", "{}", "[1, 2]", r#"{"articles": [{"title": "no id"}]}"#] {
            assert!(import_zendesk(bad, dir.path()).is_err(), "{bad:?}");
        }
        // an empty export is valid and writes nothing
        let report = import_zendesk(r#"{"articles": []}"#, dir.path()).expect("empty");
        assert_eq!(report, ImportReport::default());
    }
}
