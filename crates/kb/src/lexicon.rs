//! The lexicon: chat abbreviations and synonym groups, as data a brand edits.
//!
//! A knowledge base uses the built-in lexicon (`lexicon/default.yaml` in this crate: how
//! players write in a support chat, English and Vietnamese) plus the `synonyms.yaml` file of its
//! folder, if there is one (the brand's own words). Entries are matched on folded text (lower
//! case, no diacritics), so they may be written with or without diacritics.
//!
//! ```yaml
//! defaults: true          # false: leave the built-in lexicon out
//! abbreviations:          # a chat word -> what it stands for (replaced before searching)
//!   any: { acc: account }
//!   en: { rn: right now }
//!   vi: { ko: không }
//! synonyms:               # phrases that mean the same; each also searches the others
//!   - [refund, money back, hoàn tiền]
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::article::Language;
use crate::text::{self, Word};

/// The built-in lexicon (see the module documentation).
const BUILTIN: &str = include_str!("../lexicon/default.yaml");

/// Name of the lexicon file in a knowledge base folder.
pub const LEXICON_FILE: &str = "synonyms.yaml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "yes")]
    defaults: bool,
    #[serde(default)]
    abbreviations: Abbreviations,
    #[serde(default)]
    synonyms: Vec<Vec<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Abbreviations {
    #[serde(default)]
    any: HashMap<String, String>,
    #[serde(default)]
    en: HashMap<String, String>,
    #[serde(default)]
    vi: HashMap<String, String>,
}

/// Chat abbreviations and synonym groups, from the built-in lexicon and a knowledge base
/// folder's `synonyms.yaml` ([`LEXICON_FILE`]).
///
/// Entries are matched on folded text (lower case, no diacritics), so they may be written with
/// or without diacritics. The file:
///
/// ```yaml
/// defaults: true          # false: leave the built-in lexicon out
/// abbreviations:          # a chat word -> what it stands for (replaced before searching)
///   any: { acc: account }
///   en: { rn: right now }
///   vi: { ko: không }
/// synonyms:               # phrases that mean the same; each also searches the others
///   - [refund, money back, hoàn tiền]
/// ```
///
///
/// ```
/// use flexcord_kb::Lexicon;
/// let lexicon = Lexicon::parse("abbreviations:\n  en: { pw: password }\nsynonyms:\n  - [refund, money back]\n")?;
/// assert_eq!(lexicon.groups(), 1 + Lexicon::builtin().groups());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lexicon {
    /// (folded word, language or `None` for any) -> the words it stands for.
    abbreviations: HashMap<(String, Option<Language>), Vec<Word>>,
    /// Groups of phrases, each phrase as folded words.
    groups: Vec<Vec<Vec<String>>>,
}

impl Lexicon {
    /// The built-in lexicon alone.
    pub fn builtin() -> Self {
        // The built-in file is part of this crate and checked by its tests.
        Self::parse_file(BUILTIN, true).unwrap_or_default()
    }

    /// The built-in lexicon plus the entries of a `synonyms.yaml` text (without them when the
    /// text says `defaults: false`).
    ///
    /// # Errors
    /// A message saying what is wrong with the text.
    pub fn parse(yaml: &str) -> Result<Self, String> {
        Self::parse_file(yaml, false)
    }

    /// The lexicon of a knowledge base folder: [`Lexicon::parse`] of its `synonyms.yaml`, or
    /// the built-in lexicon when there is no such file.
    ///
    /// # Errors
    /// A message when the file exists but cannot be read or parsed.
    pub fn for_folder(dir: &Path) -> Result<Self, String> {
        let path = dir.join(LEXICON_FILE);
        if !path.is_file() {
            return Ok(Self::builtin());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read: {e}"))?;
        Self::parse(&text)
    }

    fn parse_file(yaml: &str, builtin: bool) -> Result<Self, String> {
        let file: File = if yaml.trim().is_empty() {
            File {
                defaults: true,
                ..File::default()
            }
        } else {
            serde_yaml_ng::from_str(yaml).map_err(|e| format!("not a valid lexicon: {e}"))?
        };
        let mut out = if file.defaults && !builtin {
            Self::builtin()
        } else {
            Self::default()
        };
        let languages = [
            (None, &file.abbreviations.any),
            (Some(Language::English), &file.abbreviations.en),
            (Some(Language::Vietnamese), &file.abbreviations.vi),
        ];
        for (language, table) in languages {
            for (short, long) in table {
                let key = text::folded_line(short);
                let words = text::words(long);
                if key.is_empty() || key.contains(' ') || words.is_empty() {
                    return Err(format!(
                        "abbreviation `{short}: {long}` must be one word standing for some words"
                    ));
                }
                out.abbreviations.insert((key, language), words);
            }
        }
        for group in file.synonyms {
            let phrases: Vec<Vec<String>> = group
                .iter()
                .map(|p| {
                    text::words(p)
                        .into_iter()
                        .map(|w| w.folded)
                        .collect::<Vec<_>>()
                })
                .filter(|p| !p.is_empty())
                .collect();
            if phrases.len() < 2 {
                return Err(format!(
                    "synonym group {group:?} needs at least two phrases"
                ));
            }
            out.groups.push(phrases);
        }
        Ok(out)
    }

    /// Number of synonym groups.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// What a folded chat word stands for in a message of this language, if it is an
    /// abbreviation.
    pub(crate) fn abbreviation(&self, folded: &str, language: Language) -> Option<&[Word]> {
        self.abbreviations
            .get(&(folded.to_owned(), Some(language)))
            .or_else(|| self.abbreviations.get(&(folded.to_owned(), None)))
            .map(Vec::as_slice)
    }

    /// Finds the phrases of the synonym groups in a query given as folded words.
    pub(crate) fn expand(&self, folded: &[String]) -> Vec<Expansion<'_>> {
        let mut out = Vec::new();
        for group in &self.groups {
            for (p, phrase) in group.iter().enumerate() {
                if phrase.len() > folded.len() {
                    continue;
                }
                for start in 0..=folded.len() - phrase.len() {
                    let hit = phrase
                        .iter()
                        .zip(&folded[start..])
                        .all(|(t, w)| matches_word(t, w));
                    if hit {
                        out.push(Expansion {
                            start,
                            len: phrase.len(),
                            alternatives: group
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| *i != p)
                                .map(|(_, alt)| alt.as_slice())
                                .collect(),
                        });
                    }
                }
            }
        }
        out
    }
}

/// The alternatives found for a query: for a phrase of the query that the lexicon knows, the
/// range of query words it covers and the other phrases of its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expansion<'a> {
    /// Index of the first query word of the phrase.
    pub(crate) start: usize,
    /// Number of query words in the phrase.
    pub(crate) len: usize,
    /// The equivalent phrases (folded words).
    pub(crate) alternatives: Vec<&'a [String]>,
}

/// A lexicon word matches a query word exactly, as an English plural / verb form, or (for
/// words of eight letters or more) with up to two typing errors.
fn matches_word(table: &str, word: &str) -> bool {
    word == table
        || table.len() >= 8 && word.len() >= 8 && text::edit_distance(table, word) <= 2
        || table.len() >= 3
            && word
                .strip_prefix(table)
                .is_some_and(|rest| matches!(rest, "s" | "es" | "ed" | "d" | "ing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    fn has(lexicon: &Lexicon, query: &str, alternative: &str) -> bool {
        lexicon
            .expand(&words(query))
            .iter()
            .any(|e| e.alternatives.iter().any(|a| a.join(" ") == alternative))
    }

    #[test]
    fn the_builtin_lexicon_parses() {
        let lexicon = Lexicon::parse_file(BUILTIN, true).expect("built-in lexicon");
        assert!(lexicon.groups() > 40);
        assert!(lexicon.abbreviations.len() > 100);
        assert_eq!(lexicon, Lexicon::builtin());
    }

    #[test]
    fn the_sample_lexicon_parses() {
        let text = include_str!("../sample/synonyms.yaml");
        let lexicon = Lexicon::parse(text).expect("sample lexicon");
        assert!(lexicon.groups() > Lexicon::builtin().groups());
    }

    #[test]
    fn finds_multi_word_phrases_plurals_and_typos() {
        let lexicon = Lexicon::builtin();
        assert!(has(&lexicon, "i want my money back", "refund"));
        let found = lexicon.expand(&words("i want my money back"));
        let refund = found
            .iter()
            .find(|e| e.alternatives.iter().any(|a| a.join(" ") == "refund"))
            .expect("money back");
        assert_eq!((refund.start, refund.len), (3, 2));
        assert!(has(&lexicon, "coins dissapeared", "missing"));
        assert!(has(&lexicon, "reimbursment", "refund"));
        assert!(has(&lexicon, "mat khau", "password"));
        // short words must match exactly: "changed" is not "charged"
        assert!(!has(&lexicon, "changed", "paid"));
        assert!(lexicon.expand(&words("bagel")).is_empty());
        assert!(lexicon.expand(&[]).is_empty());
    }

    #[test]
    fn abbreviations_depend_on_the_language() {
        let lexicon = Lexicon::builtin();
        let folded = |w: &[Word]| w.iter().map(|w| w.folded.clone()).collect::<Vec<_>>();
        let dc_en = lexicon.abbreviation("dc", Language::English).expect("en");
        let dc_vi = lexicon
            .abbreviation("dc", Language::Vietnamese)
            .expect("vi");
        assert_eq!(folded(dc_en), ["disconnect"]);
        assert_eq!(folded(dc_vi), ["duoc"]);
        assert_eq!(dc_vi[0].exact, "được");
        let pw = lexicon
            .abbreviation("pw", Language::Vietnamese)
            .expect("any");
        assert_eq!(folded(pw), ["password"]);
        assert!(
            lexicon
                .abbreviation("password", Language::English)
                .is_none()
        );
    }

    #[test]
    fn a_brand_file_adds_to_or_replaces_the_builtin_one() {
        let added = Lexicon::parse("synonyms:\n  - [den, gym]\n").expect("valid");
        assert_eq!(added.groups(), Lexicon::builtin().groups() + 1);
        assert!(has(&added, "gym", "den"));
        let alone = Lexicon::parse("defaults: false\nsynonyms:\n  - [den, gym]\n").expect("valid");
        assert_eq!(alone.groups(), 1);
        assert!(alone.abbreviation("pw", Language::English).is_none());
        assert_eq!(Lexicon::parse("").expect("empty"), Lexicon::builtin());
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        for (text, want) in [
            ("synonyms: [[only-one]]", "at least two"),
            ("abbreviations:\n  en: { two words: x }", "one word"),
            ("abbreviations:\n  fr: { a: b }", "not a valid lexicon"),
            ("synonyms: 3", "not a valid lexicon"),
        ] {
            let err = Lexicon::parse(text).expect_err(text);
            assert!(err.contains(want), "{err}");
        }
    }
}
