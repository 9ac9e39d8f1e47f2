//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`, `unknown_salient`.
//! Fitted on 1754 candidates, 5-fold cross-validation; held out: 417/462 answerable messages shown a right article, 52/157 unanswerable shown something, sure band 298/330 right first, log loss 0.301.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.29578537,
        0.22275667,
        0.515012,
        0.31607637,
        0.59195423,
        2.1411848,
        -0.17279302,
        0.8472064,
        1.6569237,
        0.12847793,
        0.33808437,
        0.016765881,
        0.27708095,
        0.020976905,
        0.37058154,
    ],
    scale: [
        0.24811293,
        0.2513862,
        0.3464675,
        0.24568625,
        0.3617634,
        0.9676285,
        0.76086575,
        0.35978842,
        0.42299634,
        0.18112077,
        0.47305548,
        0.115688354,
        0.44755718,
        0.089612626,
        0.4829609,
    ],
    weights: [
        0.13804238,
        0.055150904,
        0.14798535,
        0.1385643,
        0.4253484,
        0.9101432,
        0.7762158,
        -0.11567387,
        0.31280714,
        -0.1168254,
        0.29739952,
        -0.21619853,
        -0.10909441,
        -0.17419139,
        -0.15939197,
    ],
    bias: -1.7568774,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.29;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.7;
