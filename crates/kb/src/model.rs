//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`, `unknown_salient`, `offtopic`.
//! Fitted on 1759 candidates, 5-fold cross-validation; held out: 418/462 answerable messages shown a right article, 46/157 unanswerable shown something, sure band 300/332 right first, log loss 0.297.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.2969211,
        0.22351712,
        0.5180962,
        0.31752318,
        0.5927965,
        2.1399105,
        -0.1717332,
        0.8493462,
        1.6561545,
        0.11931069,
        0.33769187,
        0.02841623,
        0.27629334,
        0.020917278,
        0.35190448,
        0.036751956,
    ],
    scale: [
        0.24803585, 0.25144768, 0.34520796, 0.24529949, 0.36175898, 0.9688169, 0.7596533,
        0.35770768, 0.42263928, 0.17399716, 0.47292364, 0.15059575, 0.44716159, 0.08949399,
        0.477564, 0.13566178,
    ],
    weights: [
        0.15505306,
        0.068436235,
        0.118395224,
        0.12924588,
        0.42331457,
        0.8756122,
        0.78445625,
        -0.10976241,
        0.32420883,
        -0.0462094,
        0.31808543,
        -0.1357623,
        -0.073333345,
        -0.17903703,
        -0.22116977,
        -0.3089413,
    ],
    bias: -1.7950758,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.31;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.7;
