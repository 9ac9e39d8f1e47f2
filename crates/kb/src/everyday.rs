//! Words of everyday chat, as seen in the crate's own written corpora: what players write to a
//! support chat about the game and its account, requests for a person and their near misses, and
//! everyday talk (`training/retrieval.jsonl` without its unanswerable lines,
//! `training/handoff.tsv`, `training/handoff_dev.jsonl`, `training/offtopic.txt`).
//!
//! A topical word of a message that the knowledge base does not have (no term, no synonym), that
//! no line of these corpora has and that is no number is likely a name: another game's, app's,
//! shop's or bank's ("my <name> account got banned"). The unanswerable lines of
//! `retrieval.jsonl` are left out because they name other products on purpose.
//!
//! A word counts as seen when a line *other than the message itself* has it: a message that is
//! one of the written lines (as when the confidence model is fitted on `retrieval.jsonl`) does
//! not vouch for its own words, so the fit's held-out figures are those of unseen messages.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use crate::text::{self, Word};

struct Corpus {
    /// Folded word or stem: number of lines that have it.
    lines_with: HashMap<String, u32>,
    /// Squashed line: how many times it was written.
    lines: HashMap<String, u32>,
}

fn squash(line: &str) -> String {
    text::words(line)
        .into_iter()
        .map(|w| w.folded)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Corpus {
    fn add(&mut self, line: &str) {
        let words = text::words(line);
        let keys: HashSet<&str> = words
            .iter()
            .flat_map(|w| [w.folded.as_str(), w.stem.as_str()])
            .collect();
        for key in keys {
            *self.lines_with.entry(key.to_owned()).or_insert(0) += 1;
        }
        *self.lines.entry(squash(line)).or_insert(0) += 1;
    }
}

static CORPUS: LazyLock<Corpus> = LazyLock::new(|| {
    let mut corpus = Corpus {
        lines_with: HashMap::new(),
        lines: HashMap::new(),
    };
    for line in include_str!("../training/retrieval.jsonl").lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let answerable = value["expect"].as_array().is_some_and(|e| !e.is_empty());
        let handoff = value["handoff"].as_bool().unwrap_or(false);
        if let (Some(q), true) = (value["q"].as_str(), answerable || handoff) {
            corpus.add(q);
        }
    }
    for line in include_str!("../training/handoff_dev.jsonl").lines() {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(line)
            && let Some(q) = value["q"].as_str()
        {
            corpus.add(q);
        }
    }
    for line in include_str!("../training/handoff.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        corpus.add(line.rsplit('\t').next().unwrap_or_default());
    }
    for line in include_str!("../training/offtopic.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        corpus.add(line);
    }
    corpus
});

/// How a message's words are looked up: the message itself is left out of the corpora.
pub(crate) struct Everyday {
    /// Times the message itself is a written line.
    own: u32,
}

impl Everyday {
    pub(crate) fn for_message(message: &str) -> Self {
        Self {
            own: CORPUS.lines.get(&squash(message)).copied().unwrap_or(0),
        }
    }

    /// `true` when a line other than the message has the word (or its stem).
    pub(crate) fn seen(&self, word: &Word) -> bool {
        [&word.folded, &word.stem].into_iter().any(|key| {
            CORPUS
                .lines_with
                .get(key.as_str())
                .is_some_and(|&n| n > self.own)
        })
    }

    /// `true` for a word that looks like a name: never seen in the corpora and no number.
    pub(crate) fn name_like(&self, word: &Word) -> bool {
        !word.folded.chars().any(|c| c.is_ascii_digit()) && !self.seen(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_line_does_not_vouch_for_its_own_words() {
        let word = |w: &str| text::words(w).remove(0);
        let unseen = Everyday::for_message("anything at all");
        assert!(unseen.seen(&word("password")));
        assert!(unseen.name_like(&word("zxqvworld")));
        assert!(!unseen.name_like(&word("a52")));
        // a word of a single written line is seen from any other message, not from that line
        let (line, rare) = CORPUS
            .lines
            .keys()
            .find_map(|line| {
                text::words(line).into_iter().find_map(|w| {
                    (CORPUS.lines_with.get(&w.folded) == Some(&1)
                        && CORPUS.lines_with.get(&w.stem) == Some(&1))
                    .then(|| (line.clone(), w))
                })
            })
            .expect("a word of one line");
        assert!(unseen.seen(&rare));
        assert!(!Everyday::for_message(&line).seen(&rare));
    }
}
