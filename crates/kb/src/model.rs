//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`, `unknown_salient`, `offtopic`.
//! Fitted on 1957 candidates, 5-fold cross-validation; held out: 449/508 answerable messages shown a right article, 53/177 unanswerable shown something, sure band 323/358 right first, log loss 0.299.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.2859972,
        0.21423773,
        0.500765,
        0.306496,
        0.595832,
        2.1435642,
        -0.16928229,
        0.8482371,
        1.6848153,
        0.12596843,
        0.3372509,
        0.027863983,
        0.28359735,
        0.020834748,
        0.3776188,
        0.039945964,
    ],
    scale: [
        0.24062634,
        0.2425745,
        0.34366813,
        0.2390387,
        0.3600214,
        0.96014166,
        0.7547233,
        0.3587877,
        0.43195844,
        0.17689253,
        0.4727728,
        0.14855306,
        0.4507418,
        0.086064145,
        0.4847939,
        0.14180923,
    ],
    weights: [
        0.17599489,
        0.116213314,
        0.15315102,
        0.070846416,
        0.42519927,
        0.8382769,
        0.76275396,
        -0.13603379,
        0.38917428,
        -0.055650424,
        0.3277192,
        -0.11182482,
        -0.065872535,
        -0.19779932,
        -0.25380945,
        -0.29259402,
    ],
    bias: -1.8097898,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.33;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.7;
