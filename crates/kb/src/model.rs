//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`, `unknown_salient`, `offtopic`.
//! Fitted on 1762 candidates, 5-fold cross-validation; held out: 415/462 answerable messages shown a right article, 46/157 unanswerable shown something, sure band 303/336 right first, log loss 0.297.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.29670814,
        0.22321911,
        0.5182545,
        0.3173329,
        0.593491,
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
        0.035541788,
    ],
    scale: [
        0.247843, 0.25135455, 0.34458634, 0.24509364, 0.3617353, 0.97041273, 0.7588981, 0.35801744,
        0.42290413, 0.17242433, 0.47292233, 0.15901229, 0.4477814, 0.08942046, 0.4757563,
        0.13253771,
    ],
    weights: [
        0.16296528,
        0.06902014,
        0.13149787,
        0.13938648,
        0.41451424,
        0.8751763,
        0.780307,
        -0.10727807,
        0.33088762,
        -0.014870614,
        0.3141177,
        -0.14464088,
        -0.07708522,
        -0.1782932,
        -0.20720702,
        -0.31637725,
    ],
    bias: -1.7979485,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.32;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.69;
