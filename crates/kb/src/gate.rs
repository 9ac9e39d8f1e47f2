//! The message-level gate: is this message answerable by this knowledge base at all?
//!
//! The confidence model ([`crate::confidence`]) scores each ranked article: "does this article
//! answer the message?". Its rows are candidates, most of them second and third articles of
//! answerable messages, so its weights mostly learn to order articles; a support question
//! about *another* product ("my <other game> account got banned") shares every support word
//! with an article and scores like an answerable message. The gate is a second, separate
//! logistic regression with one row per message, over message-level features ([`FEATURES`]):
//! the best article's features, the spread of the first scores, how much of the message's
//! weight the knowledge base knows, words no article has and whether they look like names,
//! everyday words, how the matched words split across articles. It is fitted with [`fit`]
//! (k-fold cross-validation on labelled messages; its threshold is chosen on the held-out
//! folds, together with the confidence model's held-out probabilities) and compiled into the
//! crate (`src/model_gate.rs`, written by `flexcord-kb fit --gate`).
//!
//! With the bands on, a message the gate does not pass is in the [`crate::Confidence::Unknown`]
//! band whatever its articles' confidences; the confidence model decides which articles to
//! show only for messages it passes.

use std::fmt;

use crate::article::Language;
use crate::confidence;
use crate::engine::Ranking;
use crate::error::Error;
use crate::eval::EvalQuery;
use crate::kb::KnowledgeBase;
use crate::logistic::{self, Logistic};
use crate::search::SearchOptions;

/// Number of gate features (the rest of a [`Logistic`]'s inputs are 0).
pub(crate) const G: usize = 20;

/// The gate's features, in order.
pub const FEATURES: [&str; G] = [
    "log_score",
    "coverage",
    "salient",
    "title_tags",
    "asked",
    "margin",
    "second_ratio",
    "third_ratio",
    "tool_names",
    "unknown_words",
    "unknown_weight",
    "raw_unknown_weight",
    "heaviest_unknown",
    "name_slot",
    "names",
    "offtopic",
    "query_words",
    "vietnamese",
    "typo_only",
    "confidence",
];

/// The log-odds of a probability (clamped away from 0 and 1).
fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

fn flag(b: bool) -> f32 {
    if b { 1.0 } else { 0.0 }
}

/// The gate's features of a ranking, given the best confidence of its first three articles
/// (padded with zeros to the width of a [`Logistic`]).
pub(crate) fn features(r: &Ranking, best_confidence: f32) -> [f32; confidence::N] {
    let mut x = [0.0_f32; confidence::N];
    // the best lexical candidate (the first, unless the ranking is fused)
    let Some(best) = r
        .candidates
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.score.total_cmp(&b.1.score).then(b.0.cmp(&a.0)))
        .map(|(i, _)| i)
    else {
        return x;
    };
    let c = &r.candidates[best];
    let cand = confidence::features(r, best);
    let mut scores: Vec<f32> = r.candidates.iter().map(|c| c.score).collect();
    scores.sort_by(|a, b| b.total_cmp(a));
    let ratio = |k: usize| {
        if c.score > 0.0 {
            scores.get(k).map_or(0.0, |s| s / c.score)
        } else {
            0.0
        }
    };
    #[allow(clippy::cast_precision_loss)]
    let words = (1.0 + r.concepts as f32).ln();
    let s = &r.signals;
    let values = [
        c.score.max(0.0).ln_1p(),
        c.coverage,
        c.salient,
        c.strong,
        c.asked,
        cand[6],
        ratio(1),
        ratio(2),
        s.tool_names,
        r.unknown,
        s.unknown_weight,
        s.raw_unknown_weight,
        s.heaviest_unknown,
        s.name_slot,
        s.names,
        r.offtopic,
        words,
        flag(r.language == Language::Vietnamese),
        c.fuzzy,
        logit(best_confidence),
    ];
    x[..G].copy_from_slice(&values);
    x
}

/// Whether a message's gate features hold evidence that it is about something this knowledge
/// base does not cover: a word that looks like another product's name (`names`), such a word
/// next to a word for what a product gives its users (`name_slot`), or everyday words the
/// knowledge base does not know (`offtopic`). The gate only hides the articles of such
/// messages: a message whose every topical word is a help-center word, a typo of one, slang or
/// an English word is left to the confidence model, since the gate's errors on answerable
/// messages (long stories, slang, symptoms) are where its other features are weakest.
fn evidence_in(x: &[f32; confidence::N]) -> bool {
    const NAME_SLOT: usize = 13;
    const NAMES: usize = 14;
    const OFFTOPIC: usize = 15;
    x[NAMES] > 0.0 || x[NAME_SLOT] > 0.0 || x[OFFTOPIC] > 0.0
}

/// Whether the gate may hide this ranking's articles (see [`evidence_in`]).
pub(crate) fn evidence(r: &Ranking) -> bool {
    let x = features(r, 0.0);
    evidence_in(&x)
}

/// The shipped gate's probability that the message is answerable by the knowledge base, given
/// the best confidence of its first three articles.
pub(crate) fn probability(r: &Ranking, best_confidence: f32) -> f32 {
    if r.candidates.is_empty() {
        return 0.0;
    }
    crate::model_gate::MODEL.probability(&features(r, best_confidence))
}

/// The best confidence of the first three articles of a ranking (the shipped model's).
fn best_confidence(r: &Ranking) -> f32 {
    (0..r.candidates.len().min(confidence::TOP))
        .map(|i| confidence::probability(r, i))
        .fold(0.0, f32::max)
}

/// The gate's features of a message, as the shipped gate reads them, and its probability: for
/// looking into a fit.
///
/// # Errors
/// [`crate::ErrorKind::Index`] when the search fails.
pub fn explain(kb: &KnowledgeBase, message: &str) -> Result<(Vec<f32>, f32), Error> {
    let ranking = kb.rank(message, &SearchOptions::default().with_threshold(None))?;
    let best = best_confidence(&ranking);
    Ok((
        features(&ranking, best)[..G].to_vec(),
        probability(&ranking, best),
    ))
}

/// Held-out figures of the combined policy (gate, then the confidence model's show threshold).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateFigures {
    /// Messages with an expected article.
    pub positives: usize,
    /// Of those, messages shown an expected article in the first three.
    pub shown_hit: usize,
    /// Messages with no expected article.
    pub negatives: usize,
    /// Of those, messages shown something.
    pub negatives_shown: usize,
    /// Log loss of the gate's held-out probabilities (one per message).
    pub log_loss: f64,
}

/// A fitted gate with its cross-validated figures.
#[derive(Debug, Clone)]
pub struct GateFit {
    model: Logistic,
    /// Folds.
    pub folds: usize,
    /// Messages fitted on.
    pub rows: usize,
    /// The confidence model's show threshold the policy was measured with.
    pub show: f32,
    /// Least gate probability to show anything (chosen on the held-out folds).
    pub threshold: f32,
    /// Held out, without the gate (the confidence model alone).
    pub without: GateFigures,
    /// Held out, with the gate at its threshold.
    pub with: GateFigures,
    /// Held out, by gate threshold (0.05, 0.10 ... 0.60).
    pub curve: Vec<(f32, GateFigures)>,
    /// The messages the held-out policy with the gate got wrong because of the gate
    /// (answerable ones the confidence model alone showed a right article, and unanswerable
    /// ones shown something): (index of the message, its held-out gate probability,
    /// answerable).
    pub misses: Vec<(usize, f32, bool)>,
}

/// One message's held-out outcome.
#[derive(Clone)]
struct Outcome {
    answerable: bool,
    /// Held-out gate probability.
    gate: f32,
    /// Held-out confidence of the first three articles, and whether each is expected.
    candidates: Vec<(f32, bool)>,
    /// Whether the message has evidence of being about something else (see [`evidence`]):
    /// the gate only hides the articles of such messages.
    evidence: bool,
}

impl Outcome {
    /// Whether the gate lets the message through: it has no evidence of being about something
    /// else, it passes the gate's threshold, or the confidence model is sure of its first
    /// article (the gate is a second opinion on the messages the confidence model is unsure
    /// of).
    fn passes(&self, gate: f32, sure: f32) -> bool {
        !self.evidence || self.gate >= gate || self.candidates.first().is_some_and(|c| c.0 >= sure)
    }
}

fn figures(outcomes: &[Outcome], gate: f32, show: f32, sure: f32) -> GateFigures {
    let mut f = GateFigures::default();
    for o in outcomes {
        let shown = o.passes(gate, sure) && o.candidates.iter().any(|c| c.0 >= show);
        if o.answerable {
            f.positives += 1;
            f.shown_hit += usize::from(shown && o.candidates.iter().any(|c| c.1));
        } else {
            f.negatives += 1;
            f.negatives_shown += usize::from(shown);
        }
    }
    f
}

#[allow(clippy::cast_precision_loss)]
fn objective(f: &GateFigures) -> f32 {
    f.shown_hit as f32 / f.positives.max(1) as f32
        - confidence::FALSE_SHOW_COST * f.negatives_shown as f32 / f.negatives.max(1) as f32
}

/// Fits the gate on labelled messages (hand-off messages are left out) with `folds`-fold
/// cross-validation (every `folds`-th message together, as [`confidence::fit`] splits them).
///
/// In each fold the confidence model and the gate are both fitted on the other folds; the
/// gate's threshold is the one that maximises, over the held-out messages, (share of
/// answerable messages shown a right article) − [`confidence::FALSE_SHOW_COST`] × (share of
/// unanswerable messages shown anything), where a message is shown its articles when the gate
/// passes it and one of its first three articles reaches `show` (the shipped show threshold).
/// The final gate is fitted on every message.
///
/// # Errors
/// [`crate::ErrorKind::Index`] when a search fails.
pub fn fit(
    kb: &KnowledgeBase,
    queries: &[EvalQuery],
    folds: usize,
    show: f32,
) -> Result<GateFit, Error> {
    let folds = folds.max(2);
    let sure = crate::search::DEFAULT_SURE_THRESHOLD;
    let options = SearchOptions::default().with_threshold(None);
    let candidates = confidence::held_out(kb, queries, folds)?;
    let mut rows: Vec<(usize, [f32; confidence::N], bool)> = Vec::new();
    for (q, query) in queries.iter().enumerate() {
        if query.handoff {
            continue;
        }
        let ranking = kb.rank(&query.q, &options)?;
        if ranking.candidates.is_empty() {
            continue;
        }
        // the confidence model's held-out probabilities (out of fold), as the gate reads the
        // shipped model's for a new message
        let best = candidates[q].iter().map(|c| c.0).fold(0.0, f32::max);
        rows.push((q, features(&ranking, best), !query.expect.is_empty()));
    }
    let mut gate = vec![0.0_f32; queries.len()];
    let mut log_loss = 0.0_f64;
    for fold in 0..folds {
        let train: Vec<(&[f32], bool)> = rows
            .iter()
            .filter(|r| r.0 % folds != fold && evidence_in(&r.1))
            .map(|r| (&r.1[..], r.2))
            .collect();
        let model = logistic::fit(&train, G);
        for r in rows
            .iter()
            .filter(|r| r.0 % folds == fold && evidence_in(&r.1))
        {
            let p = model.probability(&r.1);
            gate[r.0] = p;
            let p = f64::from(p.clamp(1e-6, 1.0 - 1e-6));
            log_loss -= if r.2 { p.ln() } else { (1.0 - p).ln() };
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let log_loss = log_loss / rows.iter().filter(|r| evidence_in(&r.1)).count().max(1) as f64;
    let outcomes: Vec<(usize, Outcome)> = queries
        .iter()
        .enumerate()
        .filter(|(_, q)| !q.handoff)
        .map(|(i, q)| {
            (
                i,
                Outcome {
                    answerable: !q.expect.is_empty(),
                    gate: gate[i],
                    candidates: candidates[i].clone(),
                    evidence: rows
                        .iter()
                        .find(|r| r.0 == i)
                        .is_some_and(|r| evidence_in(&r.1)),
                },
            )
        })
        .collect();
    let only: Vec<Outcome> = outcomes.iter().map(|(_, o)| o.clone()).collect();
    let mut best = (objective(&figures(&only, 0.0, show, sure)), 0.0_f32);
    for i in 1..100 {
        #[allow(clippy::cast_precision_loss)]
        let t = i as f32 / 100.0;
        let j = objective(&figures(&only, t, show, sure));
        if j > best.0 + 1e-6 {
            best = (j, t);
        }
    }
    let threshold = best.1;
    let curve = (1..=12)
        .map(|i| {
            #[allow(clippy::cast_precision_loss)]
            let t = i as f32 * 0.05;
            (t, figures(&only, t, show, sure))
        })
        .collect();
    let without = figures(&only, 0.0, show, sure);
    let mut with = figures(&only, threshold, show, sure);
    with.log_loss = log_loss;
    let misses = outcomes
        .iter()
        .filter_map(|(i, o)| {
            let shown = o.passes(threshold, sure) && o.candidates.iter().any(|c| c.0 >= show);
            let wrong = if o.answerable {
                !(shown && o.candidates.iter().any(|c| c.1))
            } else {
                shown
            };
            // only the messages the gate changed: answerable ones it hid a right article from,
            // unanswerable ones it let through
            let alone = o.candidates.iter().any(|c| c.0 >= show);
            let by_gate = if o.answerable {
                alone && o.candidates.iter().any(|c| c.1)
            } else {
                true
            };
            (wrong && by_gate).then_some((*i, o.gate, o.answerable))
        })
        .collect();
    let all: Vec<(&[f32], bool)> = rows
        .iter()
        .filter(|r| evidence_in(&r.1))
        .map(|r| (&r.1[..], r.2))
        .collect();
    Ok(GateFit {
        model: logistic::fit(&all, G),
        folds,
        rows: rows.iter().filter(|r| evidence_in(&r.1)).count(),
        show,
        threshold,
        without,
        with,
        curve,
        misses,
    })
}

impl GateFit {
    /// The Rust source of `src/model_gate.rs` for this fit.
    pub fn rust_source(&self) -> String {
        let list = |v: &[f32]| {
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let m = &self.model;
        format!(
            "//! The shipped message-level gate, written by `flexcord-kb fit --gate` (see\n\
             //! `crate::gate`); do not edit by hand.\n\
             //!\n\
             //! Features: {features} (the last {pad} inputs are unused).\n\
             //! {summary}\n\n\
             #![allow(clippy::unreadable_literal)]\n\n\
             use crate::logistic::Logistic;\n\n\
             /// The fitted logistic regression.\n\
             pub(crate) static MODEL: Logistic = Logistic {{\n    \
             mean: [{mean}],\n    \
             scale: [{scale}],\n    \
             weights: [{weights}],\n    \
             bias: {bias:?},\n\
             }};\n\n\
             /// Least gate probability to show articles (chosen on held-out folds).\n\
             pub(crate) const GATE: f32 = {threshold:?};\n",
            features = FEATURES.map(|f| format!("`{f}`")).join(", "),
            pad = confidence::N - G,
            summary = self.summary().replace('\n', "\n//! "),
            mean = list(&m.mean),
            scale = list(&m.scale),
            weights = list(&m.weights),
            bias = m.bias,
            threshold = self.threshold,
        )
    }

    fn summary(&self) -> String {
        format!(
            "Fitted on {} messages, {}-fold cross-validation, with the confidence model's show \
             threshold {:?}; held out, gate at {:?}: {}/{} answerable messages shown a right \
             article, {}/{} unanswerable shown something (without the gate: {}/{} and {}/{}), \
             gate log loss {:.3}.",
            self.rows,
            self.folds,
            self.show,
            self.threshold,
            self.with.shown_hit,
            self.with.positives,
            self.with.negatives_shown,
            self.with.negatives,
            self.without.shown_hit,
            self.without.positives,
            self.without.negatives_shown,
            self.without.negatives,
            self.with.log_loss
        )
    }
}

impl fmt::Display for GateFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        writeln!(f, "held out, by gate threshold:")?;
        for (t, c) in &self.curve {
            writeln!(
                f,
                "  {t:.2}  shown a right article {:>3}/{:<3}  unanswerable shown {:>3}/{}",
                c.shown_hit, c.positives, c.negatives_shown, c.negatives
            )?;
        }
        writeln!(f, "weights (on standardised features):")?;
        for (name, w) in FEATURES.iter().zip(&self.model.weights) {
            writeln!(f, "  {name:<20} {w:>7.3}")?;
        }
        writeln!(f, "  {:<20} {:>7.3}", "bias", self.model.bias)
    }
}
