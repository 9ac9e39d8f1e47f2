//! Search options and results.

use crate::article::Language;

/// Default least confidence for showing articles (see [`SearchOptions::threshold`]): chosen
/// on held-out folds when the confidence model was fitted.
pub const DEFAULT_THRESHOLD: f32 = crate::model::SHOW;

/// Default least confidence of the first article for the [`Confidence::Sure`] band (see
/// [`SearchOptions::sure_threshold`]).
pub const DEFAULT_SURE_THRESHOLD: f32 = crate::model::SURE;

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
    /// Calibrated confidence from 0 to 1: the probability, according to the crate's confidence
    /// model, that this article answers the message.
    pub confidence: f32,
}

/// How sure the knowledge base is of its answer to a message; each band is shown differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The first article very likely answers the message: show the articles as the answer.
    Sure,
    /// One of the articles probably answers it: ask "Is it one of these?" with up to three
    /// articles and offer the live agent.
    Unsure,
    /// No article fits: say so and offer the live agent. No article is suggested.
    Unknown,
}

/// What the knowledge base answers to a message: a band and the articles to show in it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Answer {
    /// How sure the answer is.
    pub confidence: Confidence,
    /// Articles to show, best first (empty for [`Confidence::Unknown`], unless the threshold is
    /// off).
    pub suggestions: Vec<Suggestion>,
    /// The language of the message.
    pub language: Language,
}

/// How a search runs. [`SearchOptions::default`] is what [`crate::KnowledgeBase::search`] uses.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SearchOptions {
    /// Most suggestions returned.
    pub limit: usize,
    /// Candidates ranked before filtering (at least `limit`).
    pub candidates: usize,
    /// Least confidence for showing articles; `None` switches the bands off (raw ranking: the
    /// first `limit` articles are returned whatever their confidence).
    pub threshold: Option<f32>,
    /// Least confidence of the first article for the [`Confidence::Sure`] band.
    pub sure_threshold: f32,
    /// Most articles shown in the [`Confidence::Unsure`] band.
    pub unsure_limit: usize,
    /// With the threshold on, a suggestion also needs this share of the best score.
    pub relative_floor: f32,
    /// Language of the query; `None` detects it.
    pub language: Option<Language>,
    /// Score multiplier for articles in another language than an English query (Vietnamese
    /// queries keep English articles at full score, since they answer the question too).
    pub foreign_penalty: f32,
    /// How much of the score survives with zero coverage of the query (`1.0`: coverage does
    /// not change the ranking).
    pub coverage_floor: f32,
    /// Look up unknown words of five letters or more as typos of indexed words.
    pub typo_tolerance: bool,
    /// Expand the query with the lexicon's synonym groups.
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
            sure_threshold: DEFAULT_SURE_THRESHOLD,
            unsure_limit: 3,
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
