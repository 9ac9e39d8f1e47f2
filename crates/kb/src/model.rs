//! The shipped confidence model, written by `flexcord-kb fit` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`, `unknown_salient`, `offtopic`, `names`, `name_slot`, `semantic`, `cosine_z`, `cosine_margin`, `semantic_rank`.
//! Fitted on 2243 candidates, 5-fold cross-validation; held out: 448/521 answerable messages shown a right article, 62/260 unanswerable shown something, sure band 317/352 right first, log loss 0.286.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.27449295,
        0.20686834,
        0.47711298,
        0.2935345,
        0.5993621,
        2.1312406,
        -0.16304974,
        0.8461881,
        1.6947113,
        0.14475933,
        0.3370486,
        0.031986393,
        0.2902363,
        0.020736756,
        0.44404814,
        0.039832354,
        0.12868659,
        0.044137318,
        0.0,
        0.0,
        0.0,
        0.0,
    ],
    scale: [
        0.23202668, 0.23305187, 0.33932906, 0.23068225, 0.3573542, 0.94929075, 0.7533425,
        0.36076355, 0.41136202, 0.18071742, 0.47270805, 0.16217595, 0.45386863, 0.08381726,
        0.4968584, 0.13817464, 0.22364, 0.20539932, 1.0, 1.0, 1.0, 1.0,
    ],
    weights: [
        0.16858134,
        0.08587672,
        0.14814088,
        0.06570637,
        0.42953992,
        0.8111756,
        0.7487392,
        -0.15198392,
        0.35519534,
        -0.017595215,
        0.30667084,
        -0.08614167,
        -0.106857024,
        -0.18726736,
        -0.22149414,
        -0.3297756,
        -0.3655061,
        -0.40051153,
        0.0,
        0.0,
        0.0,
        0.0,
    ],
    bias: -2.1019933,
};

/// Least probability to show articles (chosen on held-out folds).
pub(crate) const SHOW: f32 = 0.35;

/// Least probability of the first article for the sure band (held-out folds).
pub(crate) const SURE: f32 = 0.69;
