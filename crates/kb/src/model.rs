//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: coverage, title_tags, salient, asked, relative_score, log_score, margin, same_language, query_words, unknown_words, first, typo_only, vietnamese, compounds.
//! Fitted on 923 candidates, 5-fold cross-validation; held out: 213/257 answerable messages shown a right article, 6/75 unanswerable shown something, sure band 182/202 right first, log loss 0.286.

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [0.3373658, 0.27044404, 0.58613163, 0.36469817, 0.5855809, 2.2113976, -0.14463319, 0.82448536, 1.527286, 0.10512301, 0.34127843, 0.012289719, 0.2990249, 0.027122533],
    scale: [0.26569024, 0.2912618, 0.34532797, 0.2575068, 0.3674356, 1.0101304, 0.7665997, 0.38040772, 0.38693103, 0.18190324, 0.4741383, 0.10178473, 0.45783067, 0.109473765],
    weights: [0.08105509, -0.14493805, 0.10592529, 0.36650223, 0.3610953, 1.2404178, 0.70461094, -0.20834592, 0.17822668, -0.16903403, 0.39772037, -0.18140572, -0.12845807, -0.2267225],
    bias: -1.6346471,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.59;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.69;
