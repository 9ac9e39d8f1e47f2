//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`, `unknown_salient`.
//! Fitted on 1753 candidates, 5-fold cross-validation; held out: 417/462 answerable messages shown a right article, 52/157 unanswerable shown something, sure band 297/329 right first, log loss 0.302.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.2961978,
        0.22287713,
        0.5162566,
        0.31654397,
        0.59232086,
        2.1424215,
        -0.17231527,
        0.8471192,
        1.656063,
        0.12792373,
        0.33827725,
        0.016775444,
        0.27723902,
        0.02098887,
        0.3685111,
    ],
    scale: [
        0.2481265,
        0.25145957,
        0.3459391,
        0.24565476,
        0.3618121,
        0.96705145,
        0.76073104,
        0.35987344,
        0.42291498,
        0.18100892,
        0.47312373,
        0.115721874,
        0.44763595,
        0.08963819,
        0.48240072,
    ],
    weights: [
        0.13898988,
        0.054224722,
        0.14773312,
        0.13875693,
        0.42610583,
        0.9081583,
        0.7763922,
        -0.11605314,
        0.31389993,
        -0.115326725,
        0.29768464,
        -0.21610606,
        -0.10869178,
        -0.17414644,
        -0.16220734,
    ],
    bias: -1.7542475,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.29;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.7;
