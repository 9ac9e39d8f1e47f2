//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`, `unknown_salient`, `offtopic` (fitted on these 16), then the semantic features `semantic`, `cosine_z`, `cosine_margin`,
//! `semantic_rank`, which this model gives no weight (mean 0, scale 1, weight 0: what `fit` writes for
//! them; they were appended to the shipped fit unchanged, so lexical figures stay the same).
//! Fitted on 1957 candidates, 5-fold cross-validation; held out: 449/508 answerable messages shown a right article, 53/177 unanswerable shown something, sure band 323/358 right first, log loss 0.299.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.28608516,
        0.21438013,
        0.5009354,
        0.3065661,
        0.5960038,
        2.1440365,
        -0.16860089,
        0.8477261,
        1.6845077,
        0.12596843,
        0.3372509,
        0.027863983,
        0.28359735,
        0.020754408,
        0.3776188,
        0.039945964,
        0.0,
        0.0,
        0.0,
        0.0,
    ],
    scale: [
        0.24059191,
        0.24253216,
        0.34366822,
        0.2390221,
        0.35985363,
        0.960228,
        0.75454897,
        0.35929012,
        0.43152198,
        0.17689253,
        0.4727728,
        0.14855306,
        0.4507418,
        0.086037114,
        0.4847939,
        0.14180923,
        1.0,
        1.0,
        1.0,
        1.0,
    ],
    weights: [
        0.1752677,
        0.11714762,
        0.15163231,
        0.06988145,
        0.42174584,
        0.8404753,
        0.7644751,
        -0.13776863,
        0.3921722,
        -0.055434514,
        0.32788953,
        -0.11175257,
        -0.063199125,
        -0.19929305,
        -0.2575033,
        -0.29300636,
        0.0,
        0.0,
        0.0,
        0.0,
    ],
    bias: -1.8065733,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.33;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.7;
