//! Search options and results.

use crate::article::Language;

/// Default confidence an article must reach to be suggested (see [`SearchOptions::threshold`]).
pub const DEFAULT_THRESHOLD: f32 = 0.3;

/// One suggested article.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suggestion {
    /// The article's id.
    pub id: String,
    /// The article's title.
    pub title: String,
    /// The article's address.
    pub url: String,
    /// The article's language.
    pub lang: Language,
    /// A short passage of the article around the words of the query (plain text).
    pub snippet: String,
    /// Ranking score (higher is better; comparable only within one query).
    pub score: f32,
    /// Confidence from 0 to 1: the share of the query's topical words (weighted by rarity)
    /// that the article contains, directly, as a synonym or as a typo correction.
    pub confidence: f32,
}

/// How a search runs. [`SearchOptions::default`] is what [`crate::KnowledgeBase::search`] uses.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SearchOptions {
    /// Most suggestions returned.
    pub limit: usize,
    /// Candidates ranked before filtering (at least `limit`).
    pub candidates: usize,
    /// Least confidence for a suggestion; `None` switches the threshold off (raw ranking).
    pub threshold: Option<f32>,
    /// With the threshold on, a suggestion also needs this share of the best score.
    pub relative_floor: f32,
    /// Language of the query; `None` detects it.
    pub language: Option<Language>,
    /// Score multiplier for articles in another language than an English query (Vietnamese
    /// queries keep English articles at full score, since they answer the question too).
    pub foreign_penalty: f32,
    /// How much of the score survives with zero confidence (`1.0`: confidence does not change
    /// the ranking).
    pub coverage_floor: f32,
    /// Look up unknown words of five letters or more as typos of indexed words.
    pub typo_tolerance: bool,
    /// Expand the query with the built-in synonym table.
    pub synonyms: bool,
    /// Longest snippet, in characters.
    pub snippet_chars: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            limit: 5,
            candidates: 20,
            threshold: Some(DEFAULT_THRESHOLD),
            relative_floor: 0.2,
            language: None,
            foreign_penalty: 0.5,
            coverage_floor: 0.3,
            typo_tolerance: true,
            synonyms: true,
            snippet_chars: 180,
        }
    }
}

impl SearchOptions {
    /// Returns these options with another limit.
    #[must_use]
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Returns these options with another threshold (`None`: off).
    #[must_use]
    pub fn with_threshold(mut self, threshold: Option<f32>) -> Self {
        self.threshold = threshold;
        self
    }

    /// Returns these options with a fixed query language.
    #[must_use]
    pub fn with_language(mut self, language: Option<Language>) -> Self {
        self.language = language;
        self
    }
}
