//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: coverage, title_tags, salient, asked, relative_score, log_score, margin, same_language, query_words, unknown_words, first, typo_only, vietnamese.
//! Fitted on 853 candidates, 5-fold cross-validation; held out: 221/257 answerable messages shown a right article, 4/45 unanswerable shown something, sure band 192/212 right first, log loss 0.299.

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [0.35581753, 0.28460333, 0.6101991, 0.38256833, 0.57481384, 2.285532, -0.1441967, 0.82649475, 1.5415975, 0.08748946, 0.33997655, 0.0121259205, 0.2743259],
    scale: [0.26360217, 0.29279622, 0.3353344, 0.25536662, 0.37039518, 0.99589086, 0.77400047, 0.3786842, 0.3919589, 0.16662313, 0.4737024, 0.10027167, 0.44617462],
    weights: [0.061663065, -0.14140022, 0.06629448, 0.33013225, 0.44186926, 1.1443154, 0.6760782, -0.2858869, 0.094044656, -0.08594419, 0.43492186, -0.2046291, -0.14571734],
    bias: -1.3945186,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.59;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.69;
