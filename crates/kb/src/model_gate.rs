//! The shipped message-level gate, written by `flexcord-kb fit --gate` (see
//! `crate::gate`); do not edit by hand.
//!
//! Features: `log_score`, `coverage`, `salient`, `title_tags`, `asked`, `margin`, `second_ratio`, `third_ratio`, `tool_names`, `unknown_words`, `unknown_weight`, `raw_unknown_weight`, `heaviest_unknown`, `name_slot`, `names`, `offtopic`, `query_words`, `vietnamese`, `typo_only`, `confidence` (the last 0 inputs are unused).
//! Fitted on 235 messages, 5-fold cross-validation, with the confidence model's show threshold 0.33; held out, gate at 0.54: 710/832 answerable messages shown a right article, 70/291 unanswerable shown something (without the gate: 726/832 and 119/291), gate log loss 0.465.

#![allow(clippy::unreadable_literal)]

use crate::logistic::Logistic;

/// The fitted logistic regression.
pub(crate) static MODEL: Logistic = Logistic {
    mean: [
        2.3184745,
        0.22413951,
        0.33404276,
        0.17845099,
        0.2308112,
        0.51908976,
        0.5311843,
        0.36169007,
        0.0007406127,
        0.30962685,
        0.46290064,
        0.5597097,
        0.9361702,
        0.08085106,
        0.19608079,
        0.1710581,
        1.8332171,
        0.27659574,
        0.04727326,
        -0.6810354,
    ],
    scale: [
        1.0392662,
        0.16017957,
        0.2773984,
        0.154796,
        0.165889,
        0.29557192,
        0.28838962,
        0.24162272,
        0.011329171,
        0.17065932,
        0.2301552,
        0.21320786,
        0.24444921,
        0.27260593,
        0.20980094,
        0.23836637,
        0.4010967,
        0.44731462,
        0.18542759,
        1.600515,
    ],
    weights: [
        0.591034,
        0.27427867,
        0.028441047,
        0.03242336,
        0.10868502,
        0.28379747,
        0.16376798,
        0.3544483,
        0.22916797,
        -0.26112938,
        0.67686987,
        -0.023007397,
        -0.5200689,
        -0.9862772,
        0.01389704,
        -0.034825243,
        1.1087854,
        -0.502378,
        0.0689915,
        0.074876666,
    ],
    bias: -1.2137418,
};

/// Least gate probability to show articles (chosen on held-out folds).
pub(crate) const GATE: f32 = 0.54;
