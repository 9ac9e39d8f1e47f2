//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`, `unknown_salient`.
//! Fitted on 1762 candidates, 5-fold cross-validation; held out: 415/462 answerable messages shown a right article, 51/157 unanswerable shown something, sure band 303/336 right first, log loss 0.299.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.29670814,
        0.22321911,
        0.5182545,
        0.3173329,
        0.5934911,
        2.1372695,
        -0.17159429,
        0.8490352,
        1.6552051,
        0.11612478,
        0.33768445,
        0.031192295,
        0.27752554,
        0.020881664,
        0.34619752,
    ],
    scale: [
        0.247843, 0.25135455, 0.34458634, 0.24509364, 0.36173534, 0.97041273, 0.758898, 0.35801744,
        0.42290413, 0.17242433, 0.47292233, 0.15901229, 0.4477814, 0.08942046, 0.4757563,
    ],
    weights: [
        0.15288214,
        0.06806337,
        0.14582953,
        0.13801049,
        0.4054891,
        0.91032374,
        0.772881,
        -0.115287706,
        0.332444,
        -0.08459033,
        0.3136277,
        -0.13652475,
        -0.10417426,
        -0.17513481,
        -0.20356806,
    ],
    bias: -1.7681267,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.3;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.69;
