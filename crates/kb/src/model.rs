//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`.
//! Fitted on 923 candidates, 5-fold cross-validation; held out: 240/257 answerable messages shown a right article, 15/75 unanswerable shown something, sure band 192/212 right first, log loss 0.279.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.3361953,
        0.25411487,
        0.582159,
        0.36339384,
        0.58450234,
        2.1724474,
        -0.14431474,
        0.8201517,
        1.5282211,
        0.10512301,
        0.34127843,
        0.012289719,
        0.2990249,
        0.02680191,
    ],
    scale: [
        0.26568907,
        0.27868047,
        0.34481326,
        0.25762522,
        0.3680168,
        1.0095484,
        0.768848,
        0.38406232,
        0.38623995,
        0.18190324,
        0.4741383,
        0.101784736,
        0.45783067,
        0.109203644,
    ],
    weights: [
        0.03879941,
        -0.1365118,
        0.12226369,
        0.34474686,
        0.31159574,
        1.3049135,
        0.65475535,
        -0.19043393,
        0.17054915,
        -0.1787514,
        0.5012876,
        -0.175926,
        -0.068351656,
        -0.21666132,
    ],
    bias: -1.6331838,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.3;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.68;
