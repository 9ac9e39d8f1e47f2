//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`.
//! Fitted on 1106 candidates, 5-fold cross-validation; held out: 284/306 answerable messages shown a right article, 19/87 unanswerable shown something, sure band 212/235 right first, log loss 0.292.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.315762,
        0.23521136,
        0.5464124,
        0.3392332,
        0.59027684,
        2.1639454,
        -0.15763032,
        0.82820976,
        1.6479264,
        0.10974282,
        0.33996382,
        0.015566153,
        0.29566005,
        0.02525481,
    ],
    scale: [
        0.2558494, 0.2656777, 0.350243, 0.25732252, 0.36163217, 0.98062927, 0.76307863, 0.37719655,
        0.48270765, 0.17641602, 0.4736959, 0.11199924, 0.45633996, 0.10228777,
    ],
    weights: [
        0.15324458,
        -0.0471173,
        0.14487988,
        0.13623446,
        0.29035366,
        1.1653476,
        0.72481114,
        -0.18196106,
        0.32600567,
        -0.2770359,
        0.46234053,
        -0.19262153,
        -0.10128585,
        -0.19102874,
    ],
    bias: -1.6297772,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.31;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.7;
