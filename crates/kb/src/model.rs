//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`.
//! Fitted on 1291 candidates, 5-fold cross-validation; held out: 336/365 answerable messages shown a right article, 20/97 unanswerable shown something, sure band 261/290 right first, log loss 0.303.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.31635568,
        0.23883218,
        0.54673266,
        0.3370332,
        0.5867864,
        2.1662986,
        -0.16411883,
        0.8334624,
        1.6405112,
        0.11408229,
        0.33927187,
        0.015046585,
        0.27420604,
        0.022407707,
    ],
    scale: [
        0.25614685, 0.2644965, 0.34639058, 0.25623205, 0.36326322, 0.97073376, 0.7663117,
        0.3725639, 0.4628639, 0.17649548, 0.47346556, 0.11095217, 0.44611597, 0.0960358,
    ],
    weights: [
        0.11423359,
        0.03989414,
        0.14538568,
        0.06459338,
        0.4132313,
        1.1290445,
        0.69464993,
        -0.13304387,
        0.26261604,
        -0.16457573,
        0.3719899,
        -0.23745744,
        -0.089631684,
        -0.1823879,
    ],
    bias: -1.5264747,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.36;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.68;
