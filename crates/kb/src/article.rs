//! Articles, their front matter, and loading a folder of them.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, ErrorKind};

/// The language of an article or of a user's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Language {
    /// English (`en`).
    #[serde(rename = "en")]
    English,
    /// Vietnamese (`vi`).
    #[serde(rename = "vi")]
    Vietnamese,
}

impl Language {
    /// The two-letter code (`en`, `vi`).
    pub fn code(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Vietnamese => "vi",
        }
    }

    /// Parses `en` or `vi` (case-insensitive).
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Self::English),
            "vi" => Some(Self::Vietnamese),
            _ => None,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One help-center article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// Unique slug (the file name without `.md`).
    pub id: String,
    /// Title shown to users.
    pub title: String,
    /// Free-form keywords.
    pub tags: Vec<String>,
    /// Language of the article.
    pub lang: Language,
    /// Public address of the article.
    pub url: String,
    /// The Markdown body after the front matter.
    pub body: String,
}

/// A file that could not be loaded (or loaded with a problem), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, in words.
    pub message: String,
    /// `true` when the file was left out of the knowledge base.
    pub skipped: bool,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let what = if self.skipped { "skipped" } else { "loaded" };
        write!(f, "{name}: {} ({what})", self.message)
    }
}

/// What a load found: how many articles were loaded and every problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Number of articles in the knowledge base after the load.
    pub loaded: usize,
    /// Every problem found, one per file (and per duplicate id).
    pub problems: Vec<FileProblem>,
}

impl LoadReport {
    /// `true` when every file loaded cleanly.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Deserialize)]
struct FrontMatter {
    id: Option<Scalar>,
    title: Option<Scalar>,
    #[serde(default)]
    tags: Option<Vec<Scalar>>,
    lang: Option<Scalar>,
    url: Option<Scalar>,
}

/// A YAML scalar of any type, kept as text (a title such as `2048` is a number to YAML).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Self::Text(s) => s,
            Self::Int(n) => n.to_string(),
            Self::Float(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
        }
    }
}

/// Splits `---\n<yaml>\n---\n<body>`; `None` when the text has no front matter block.
fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\r\n")
        .or_else(|| text.strip_prefix("---\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

/// Parses one article from its text. `file_stem` is the file name without `.md`, used to check
/// the id. Returns the article and, when the id and the file name differ, a warning.
///
/// # Errors
/// A message saying what is wrong with the file.
pub fn parse_article(text: &str, file_stem: &str) -> Result<(Article, Option<String>), String> {
    let (yaml, body) = split_front_matter(text).ok_or_else(|| {
        "no front matter: the file must start with a `---` line and the block end with another"
            .to_owned()
    })?;
    let fm: FrontMatter =
        serde_yaml_ng::from_str(yaml).map_err(|e| format!("front matter is not valid: {e}"))?;
    let mut missing = Vec::new();
    let mut text_field = |value: Option<Scalar>, name: &'static str| {
        let value = value.map(Scalar::into_text).unwrap_or_default();
        let value = value.trim().to_owned();
        if value.is_empty() {
            missing.push(name);
        }
        value
    };
    let id = text_field(fm.id, "id");
    let title = text_field(fm.title, "title");
    let lang_text = text_field(fm.lang, "lang");
    let url = text_field(fm.url, "url");
    if !missing.is_empty() {
        return Err(format!(
            "missing or empty front matter field(s): {}",
            missing.join(", ")
        ));
    }
    let lang = Language::from_code(&lang_text)
        .ok_or_else(|| format!("`lang` must be `en` or `vi`, found `{lang_text}`"))?;
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        Ok(_) => return Err(format!("`url` must be an http(s) address, found `{url}`")),
        Err(e) => return Err(format!("`url` is not a valid address ({e}): `{url}`")),
    }
    if id.chars().any(char::is_whitespace) {
        return Err(format!("`id` must not contain spaces, found `{id}`"));
    }
    let body = body.trim().to_owned();
    if body.is_empty() {
        return Err("the article has no body after the front matter".to_owned());
    }
    let tags = fm
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.into_text().trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let warning =
        (id != file_stem).then(|| format!("`id` is `{id}` but the file name says `{file_stem}`"));
    Ok((
        Article {
            id,
            title,
            tags,
            lang,
            url,
            body,
        },
        warning,
    ))
}

/// Adds parsed articles to `out`, recording problems and refusing duplicate ids.
pub(crate) fn collect<'a>(
    files: impl IntoIterator<Item = (PathBuf, Result<&'a str, String>)>,
    out: &mut Vec<Article>,
    report: &mut LoadReport,
) {
    let mut seen: HashSet<String> = out.iter().map(|a| a.id.clone()).collect();
    for (path, text) in files {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed = text.and_then(|text| parse_article(text, &stem));
        match parsed {
            Ok((article, warning)) => {
                if !seen.insert(article.id.clone()) {
                    report.problems.push(FileProblem {
                        path,
                        message: format!("duplicate id `{}`: an earlier file has it", article.id),
                        skipped: true,
                    });
                    continue;
                }
                if let Some(message) = warning {
                    report.problems.push(FileProblem {
                        path,
                        message,
                        skipped: false,
                    });
                }
                out.push(article);
            }
            Err(message) => report.problems.push(FileProblem {
                path,
                message,
                skipped: true,
            }),
        }
    }
    report.loaded = out.len();
}

/// Lists the `*.md` files of a folder, sorted by name.
pub(crate) fn markdown_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let read_err = |e| {
        Error::with_source(
            ErrorKind::Read {
                path: dir.to_owned(),
            },
            e,
        )
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("md"))
            && path.is_file()
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads every `*.md` file of `dir`. Bad files are reported and skipped.
///
/// # Errors
/// [`ErrorKind::Read`] when the folder itself cannot be listed.
pub fn load_dir(dir: &Path) -> Result<(Vec<Article>, LoadReport), Error> {
    let files = markdown_files(dir)?;
    let texts: Vec<(PathBuf, Result<String, String>)> = files
        .into_iter()
        .map(|path| {
            let text = std::fs::read(&path)
                .map_err(|e| format!("cannot read the file: {e}"))
                .and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|e| format!("the file is not UTF-8: {e}"))
                });
            (path, text)
        })
        .collect();
    let mut articles = Vec::new();
    let mut report = LoadReport::default();
    collect(
        texts
            .iter()
            .map(|(p, t)| (p.clone(), t.as_deref().map_err(Clone::clone))),
        &mut articles,
        &mut report,
    );
    Ok((articles, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nid: a\ntitle: Reset: your password\ntags: [x, mật khẩu, /bug]\nlang: vi\nurl: https://h.example/a\n---\n\n# Body\n\ntext\n";

    #[test]
    fn parses_flow_list_and_non_ascii_tags() {
        let text = GOOD.replace("Reset: your password", "Reset your password");
        let (a, warn) = parse_article(&text, "a").expect("valid");
        assert_eq!(a.title, "Reset your password");
        assert_eq!(a.tags, ["x", "mật khẩu", "/bug"]);
        assert_eq!(a.lang, Language::Vietnamese);
        assert!(a.body.starts_with("# Body"));
        assert!(warn.is_none());
    }

    #[test]
    fn numeric_title_is_text() {
        let text = GOOD.replace("Reset: your password", "2048");
        let (a, _) = parse_article(&text, "a").expect("valid");
        assert_eq!(a.title, "2048");
    }

    #[test]
    fn reports_what_is_wrong() {
        let cases = [
            ("no front matter here", "no front matter"),
            ("---\nid: a\n", "no front matter"),
            (GOOD, "not valid"),
            (
                &GOOD
                    .replace("Reset: your password", "T")
                    .replace("lang: vi", "lang: fr"),
                "`lang` must be",
            ),
            (
                &GOOD
                    .replace("Reset: your password", "T")
                    .replace("url: https://h.example/a\n", ""),
                "missing or empty front matter field(s): url",
            ),
            (
                &GOOD
                    .replace("Reset: your password", "T")
                    .replace("https://h.example/a", "ftp://x"),
                "http(s)",
            ),
            (
                "---\nid: a\ntitle: T\nlang: en\nurl: https://h.example/a\n---\n   \n",
                "no body",
            ),
            (
                "---\nid: a\ntitle: T\ntags: [unclosed\nlang: en\nurl: https://h.example/a\n---\nb\n",
                "not valid",
            ),
        ];
        for (text, want) in cases {
            let err = parse_article(text, "a").expect_err(text);
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }

    #[test]
    fn id_file_mismatch_is_a_warning() {
        let text = GOOD.replace("Reset: your password", "T");
        let (_, warn) = parse_article(&text, "b").expect("valid");
        assert!(warn.expect("warning").contains("file name"));
    }
}
