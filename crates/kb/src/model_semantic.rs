//! The shipped semantic confidence model (rankings made with vectors), written by `flexcord-kb fit --semantic` (see
//! `crate::confidence`); do not edit by hand.
//!
//! Features: `coverage`, `title_tags`, `salient`, `asked`, `relative_score`, `log_score`, `margin`, `same_language`, `query_words`, `unknown_words`, `first`, `typo_only`, `vietnamese`, `compounds`, `unknown_salient`, `offtopic`, `semantic`, `cosine_z`, `cosine_margin`, `semantic_rank`.
//! Fitted on 2043 candidates, 5-fold cross-validation; held out: 382/508 answerable messages shown a right article, 42/177 unanswerable shown something, sure band 244/270 right first, log loss 0.215.
//! Vectors: `stand-in-hashed-256`, the in-process stand-in (hashed words, no meaning): refit with a real model's endpoint.
//! The thresholds are the lexical model's (`crate::model`); on held-out folds this fit would choose
//! show 0.33, sure 0.71.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        0.23424834,
        0.15872866,
        0.4521936,
        0.2578523,
        0.47427163,
        1.8090911,
        -0.41472718,
        0.89182574,
        1.6529732,
        0.15444927,
        0.33333334,
        0.020574486,
        0.27900147,
        0.021521501,
        0.3979442,
        0.05736343,
        1.0,
        1.9992257,
        -0.8185416,
        0.49478167,
    ],
    scale: [
        0.23338251, 0.22736244, 0.3573508, 0.23520026, 0.39011836, 1.1064017, 0.7317564,
        0.31060255, 0.45115566, 0.23177303, 0.47140834, 0.12589149, 0.4485083, 0.08635076,
        0.48947027, 0.1865722, 1.0, 1.1045243, 1.6962433, 0.33866003,
    ],
    weights: [
        0.25024664,
        0.08136546,
        0.14929447,
        0.2648815,
        0.63818884,
        0.5045044,
        0.7383825,
        -0.07419092,
        0.41824868,
        -0.04934865,
        0.18445683,
        -0.09861242,
        -0.280151,
        -0.11213758,
        -0.18471584,
        -0.35277578,
        0.0,
        0.051130835,
        0.14699656,
        0.13454147,
    ],
    bias: -2.716518,
};
