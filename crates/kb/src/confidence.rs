//! The confidence model: how likely a suggested article answers the message.
//!
//! Each ranked article is described by a few numbers read off the ranking ([`FEATURES`]: how
//! much of the message's weighted words it covers, how much in its title and tags, whether it
//! has the rarest words, its score and margin, the language, the length of the message, the
//! share of words the knowledge base does not know...). A logistic regression turns them into
//! a probability. It is fitted with [`fit`] on labelled messages (k-fold cross-validation; the
//! thresholds are chosen on the held-out folds) and the result is compiled into the crate
//! (`src/model.rs`, written by `flexcord-kb fit`).
//!
//! With semantic retrieval ([`crate::embeddings`]), four more features describe the cosine
//! ranking (`semantic`, `cosine_z`, `cosine_margin`, `semantic_rank`) and a second model,
//! fitted on rankings made with vectors (`src/model_semantic.rs`, written by `flexcord-kb fit
//! --semantic ...`), gives the probability. The lexical model gives these features no weight,
//! so a lexical ranking's probabilities do not depend on them.

use std::fmt;
use std::fmt::Write as _;

use crate::article::Language;
use crate::embeddings::QueryEmbedding;
use crate::engine::Ranking;
use crate::error::Error;
use crate::eval::EvalQuery;
use crate::kb::KnowledgeBase;
use crate::logistic::{self, Logistic};
use crate::model;
use crate::search::SearchOptions;

/// Number of features.
pub(crate) const N: usize = 20;

/// Number of features a lexical ranking sets (the others are the semantic ones, 0 without a
/// vector).
pub(crate) const LEXICAL: usize = 16;

/// The features, in order.
pub const FEATURES: [&str; N] = [
    "coverage",
    "title_tags",
    "salient",
    "asked",
    "relative_score",
    "log_score",
    "margin",
    "same_language",
    "query_words",
    "unknown_words",
    "first",
    "typo_only",
    "vietnamese",
    "compounds",
    "unknown_salient",
    "offtopic",
    "semantic",
    "cosine_z",
    "cosine_margin",
    "semantic_rank",
];

/// What showing articles to a message that no article answers costs, relative to showing
/// nothing to one that an article answers: a half, since the unsure band asks "Is it one of
/// these?" and offers the live agent, while a silent agent leaves the user with nothing.
pub const FALSE_SHOW_COST: f32 = 0.5;

/// Candidates per message the model is fitted on (and that the agent may show).
pub(crate) const TOP: usize = 3;

fn flag(b: bool) -> f32 {
    if b { 1.0 } else { 0.0 }
}

/// The features of candidate `i` of a ranking.
pub(crate) fn features(r: &Ranking, i: usize) -> [f32; N] {
    let c = &r.candidates[i];
    // the best lexical score (the first candidate's, unless the ranking is fused)
    let best = r.candidates.iter().map(|b| b.score).fold(0.0_f32, f32::max);
    let rival = r
        .candidates
        .iter()
        .enumerate()
        .filter(|(j, o)| *j != i && o.lang == c.lang)
        .map(|(_, o)| o.score)
        .fold(0.0_f32, f32::max);
    let margin = if c.score > 0.0 {
        ((c.score - rival) / c.score).clamp(-1.0, 1.0)
    } else {
        -1.0
    };
    #[allow(clippy::cast_precision_loss)]
    let words = (1.0 + r.concepts as f32).ln();
    [
        c.coverage,
        c.strong,
        c.salient,
        c.asked,
        if best > 0.0 { c.score / best } else { 0.0 },
        c.score.max(0.0).ln_1p(),
        margin,
        flag(c.lang == r.language),
        words,
        r.unknown,
        flag(i == 0),
        c.fuzzy,
        flag(r.language == Language::Vietnamese),
        c.pairs,
        r.unknown_salient,
        r.offtopic,
        flag(r.semantic),
        c.cosine_z,
        c.cosine_margin,
        c.semantic_rank,
    ]
}

/// The features of the first three ranked articles of a message (article id, features in the
/// order of [`FEATURES`]), as the shipped model reads them: for looking into a fit.
///
/// # Errors
/// [`crate::ErrorKind::Index`] when the search fails.
pub fn explain(kb: &KnowledgeBase, message: &str) -> Result<Vec<(String, Vec<f32>)>, Error> {
    explain_with(kb, message, &QueryEmbedding::Off)
}

/// [`explain`] for a ranking made with the message's vector too.
///
/// # Errors
/// [`crate::ErrorKind::Index`] when the search fails.
pub fn explain_with(
    kb: &KnowledgeBase,
    message: &str,
    embedding: &QueryEmbedding,
) -> Result<Vec<(String, Vec<f32>)>, Error> {
    let ranking = kb.rank_with(
        message,
        &SearchOptions::default().with_threshold(None),
        embedding,
    )?;
    let ids = kb.ids_of(&ranking);
    Ok(ids
        .into_iter()
        .take(TOP)
        .enumerate()
        .map(|(i, id)| (id, features(&ranking, i).to_vec()))
        .collect())
}

/// The shipped model's probability for candidate `i` of a ranking: the semantic model for a
/// ranking made with a vector, the lexical one otherwise.
pub(crate) fn probability(r: &Ranking, i: usize) -> f32 {
    let x = features(r, i);
    if r.semantic {
        crate::model_semantic::MODEL.probability(&x)
    } else {
        model::MODEL.probability(&x)
    }
}

/// One fold's or the whole set's outcome at the chosen thresholds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitFigures {
    /// Messages with an expected article.
    pub positives: usize,
    /// Of those, messages shown an expected article in the first three.
    pub shown_hit: usize,
    /// Messages with no expected article.
    pub negatives: usize,
    /// Of those, messages shown something.
    pub negatives_shown: usize,
    /// Messages in the sure band.
    pub sure: usize,
    /// Of those, messages whose first article is expected.
    pub sure_right: usize,
    /// Log loss of the held-out probabilities (every candidate).
    pub log_loss: f64,
}

/// A fitted model with its cross-validated figures.
#[derive(Debug, Clone)]
pub struct Fit {
    model: Logistic,
    /// Fitted on rankings made with vectors (the semantic model).
    pub semantic: bool,
    /// Where the vectors of a semantic fit came from (the model's name), for the record.
    pub vectors: Option<String>,
    /// Folds.
    pub folds: usize,
    /// Candidates (rows) fitted on.
    pub rows: usize,
    /// Least probability to show anything (chosen on the held-out folds).
    pub show: f32,
    /// Least probability of the first article for the sure band (held-out folds).
    pub sure: f32,
    /// Held-out figures at those thresholds.
    pub held_out: FitFigures,
    /// Held-out figures at other show thresholds (0.20, 0.25 ... 0.80).
    pub curve: Vec<(f32, FitFigures)>,
    /// The messages the held-out model got wrong at the chosen show threshold, to read when
    /// writing more data: (index of the message, its best held-out probability, answerable).
    pub misses: Vec<(usize, f32, bool)>,
}

struct Row {
    query: usize,
    rank: usize,
    x: [f32; N],
    y: bool,
}

/// The candidates of every labelled message (hand-off messages are left out: the agent hands
/// them off instead), with their features and whether they are expected.
fn rows(
    kb: &KnowledgeBase,
    queries: &[EvalQuery],
    embeddings: Option<&[QueryEmbedding]>,
) -> Result<Vec<Row>, Error> {
    let options = SearchOptions::default().with_threshold(None);
    let mut out = Vec::new();
    for (q, query) in queries.iter().enumerate() {
        if query.handoff {
            continue;
        }
        let embedding = embeddings
            .and_then(|e| e.get(q))
            .unwrap_or(&QueryEmbedding::Off);
        let ranking = kb.rank_with(&query.q, &options, embedding)?;
        let ids = kb.ids_of(&ranking);
        for (rank, id) in ids.iter().enumerate().take(TOP) {
            out.push(Row {
                query: q,
                rank,
                x: features(&ranking, rank),
                y: query.expect.contains(id),
            });
        }
        if ids.is_empty() {
            // nothing ranked: a message the model never sees, counted as not shown
            out.push(Row {
                query: q,
                rank: usize::MAX,
                x: [0.0; N],
                y: false,
            });
        }
    }
    Ok(out)
}

/// Fits the confidence model on labelled messages with `folds`-fold cross-validation (messages
/// are split into folds by their position, every `folds`-th together), chooses the thresholds
/// on the held-out probabilities and fits the final model on every message.
///
/// The show threshold maximises (share of answerable messages shown a right article in the
/// first three) minus [`FALSE_SHOW_COST`] times (share of unanswerable messages shown
/// anything); the sure threshold is the least at which nine in ten held-out first articles are
/// right.
///
/// # Errors
/// [`crate::ErrorKind::Index`] when a search fails.
pub fn fit(kb: &KnowledgeBase, queries: &[EvalQuery], folds: usize) -> Result<Fit, Error> {
    fit_with(kb, queries, folds, None)
}

/// [`fit`] on rankings made with the messages' vectors (`embeddings`, one per query, from
/// [`KnowledgeBase::query_embeddings`]): the semantic model, over every feature. The
/// thresholds are still chosen (and reported) but the crate applies the lexical model's, so
/// that one probability means the same in both modes.
///
/// # Errors
/// [`crate::ErrorKind::Index`] when a search fails; [`crate::ErrorKind::Config`] when
/// `embeddings` has not one vector per query.
pub fn fit_semantic(
    kb: &KnowledgeBase,
    queries: &[EvalQuery],
    folds: usize,
    embeddings: &[QueryEmbedding],
) -> Result<Fit, Error> {
    if embeddings.len() != queries.len() || embeddings.iter().any(|e| e.vector().is_none()) {
        return Err(Error::new(crate::ErrorKind::Config(
            "the semantic fit needs one vector per message".into(),
        )));
    }
    fit_with(kb, queries, folds, Some(embeddings))
}

fn fit_with(
    kb: &KnowledgeBase,
    queries: &[EvalQuery],
    folds: usize,
    embeddings: Option<&[QueryEmbedding]>,
) -> Result<Fit, Error> {
    let folds = folds.max(2);
    let features = if embeddings.is_some() { N } else { LEXICAL };
    let rows = rows(kb, queries, embeddings)?;
    let fitted: Vec<&Row> = rows.iter().filter(|r| r.rank != usize::MAX).collect();
    let mut held_out = vec![0.0_f32; rows.len()];
    let mut log_loss = 0.0_f64;
    for fold in 0..folds {
        let train: Vec<(&[f32], bool)> = fitted
            .iter()
            .filter(|r| r.query % folds != fold)
            .map(|r| (&r.x[..], r.y))
            .collect();
        let model = logistic::fit(&train, features);
        for (i, row) in rows.iter().enumerate() {
            if row.query % folds == fold && row.rank != usize::MAX {
                let p = model.probability(&row.x);
                held_out[i] = p;
                let p = f64::from(p.clamp(1e-6, 1.0 - 1e-6));
                log_loss -= if row.y { p.ln() } else { (1.0 - p).ln() };
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let log_loss = log_loss / fitted.len().max(1) as f64;
    let per_query = per_query(queries, &rows, &held_out);
    let show = choose_show(&per_query);
    let sure = choose_sure(&per_query, show);
    let curve = (4..=16)
        .map(|i| {
            #[allow(clippy::cast_precision_loss)]
            let t = i as f32 * 0.05;
            (t, figures(&per_query, t, sure))
        })
        .collect();
    let mut figures = figures(&per_query, show, sure);
    figures.log_loss = log_loss;
    let misses = queries
        .iter()
        .enumerate()
        .filter(|(_, q)| !q.handoff)
        .zip(&per_query)
        .filter_map(|((i, _), q)| {
            let best = q.candidates.iter().map(|c| c.0).fold(0.0_f32, f32::max);
            // as `figures` counts: shown anything, with a right article in the first three
            let hit = shown(q, show) && q.candidates.iter().any(|c| c.1);
            let missed = if q.answerable { !hit } else { shown(q, show) };
            missed.then_some((i, best, q.answerable))
        })
        .collect();
    let all: Vec<(&[f32], bool)> = fitted.iter().map(|r| (&r.x[..], r.y)).collect();
    Ok(Fit {
        model: logistic::fit(&all, features),
        semantic: embeddings.is_some(),
        vectors: None,
        folds,
        rows: all.len(),
        show,
        sure,
        held_out: figures,
        curve,
        misses,
    })
}

/// For each message: whether it has expected articles, and its top candidates as
/// (probability, expected).
struct QueryOutcome {
    answerable: bool,
    candidates: Vec<(f32, bool)>,
}

/// Hand-off messages are left out.
fn per_query(queries: &[EvalQuery], rows: &[Row], p: &[f32]) -> Vec<QueryOutcome> {
    let mut out: Vec<Option<QueryOutcome>> = queries
        .iter()
        .map(|q| {
            (!q.handoff).then(|| QueryOutcome {
                answerable: !q.expect.is_empty(),
                candidates: Vec::new(),
            })
        })
        .collect();
    for (row, p) in rows.iter().zip(p) {
        if let (true, Some(q)) = (row.rank != usize::MAX, &mut out[row.query]) {
            q.candidates.push((*p, row.y));
        }
    }
    out.into_iter().flatten().collect()
}

/// Whether a message is shown anything at a show threshold.
fn shown(q: &QueryOutcome, show: f32) -> bool {
    q.candidates.iter().any(|c| c.0 >= show)
}

fn figures(outcomes: &[QueryOutcome], show: f32, sure: f32) -> FitFigures {
    let mut f = FitFigures::default();
    for q in outcomes {
        let is_shown = shown(q, show);
        if q.answerable {
            f.positives += 1;
            if is_shown && q.candidates.iter().any(|c| c.1) {
                f.shown_hit += 1;
            }
        } else {
            f.negatives += 1;
            f.negatives_shown += usize::from(is_shown);
        }
        if let Some(first) = q.candidates.first()
            && first.0 >= sure
            && first.0 >= show
        {
            f.sure += 1;
            f.sure_right += usize::from(first.1);
        }
    }
    f
}

fn grid() -> impl Iterator<Item = f32> {
    (1..100).map(|i| {
        #[allow(clippy::cast_precision_loss)]
        let t = i as f32 / 100.0;
        t
    })
}

#[allow(clippy::cast_precision_loss)]
fn choose_show(outcomes: &[QueryOutcome]) -> f32 {
    let mut best = (f32::MIN, 0.5);
    for t in grid() {
        let f = figures(outcomes, t, 1.0);
        let hit = f.shown_hit as f32 / f.positives.max(1) as f32;
        let false_shown = f.negatives_shown as f32 / f.negatives.max(1) as f32;
        let j = hit - FALSE_SHOW_COST * false_shown;
        if j > best.0 + 1e-6 {
            best = (j, t);
        }
    }
    best.1
}

#[allow(clippy::cast_precision_loss)]
fn choose_sure(outcomes: &[QueryOutcome], show: f32) -> f32 {
    for t in grid() {
        if t < show {
            continue;
        }
        let f = figures(outcomes, show, t);
        if f.sure > 0 && f.sure_right as f32 >= 0.9 * f.sure as f32 {
            return t;
        }
    }
    1.0
}

impl Fit {
    /// The Rust source of `src/model.rs` for this fit (`src/model_semantic.rs` for a semantic
    /// fit, which has no thresholds of its own).
    pub fn rust_source(&self) -> String {
        let list = |v: &[f32]| {
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let m = &self.model;
        let (what, command, thresholds) = if self.semantic {
            (
                "The shipped semantic confidence model (rankings made with vectors)",
                "flexcord-kb fit --semantic",
                format!(
                    "//! Vectors: {}.\n//! The thresholds are the lexical model's (`crate::model`); \
                     on held-out folds this fit would choose\n//! show {:?}, sure {:?}.\n",
                    self.vectors.as_deref().unwrap_or("unknown"),
                    self.show,
                    self.sure
                ),
            )
        } else {
            (
                "The shipped confidence model",
                "flexcord-kb fit",
                String::new(),
            )
        };
        let mut out = format!(
            "//! {what}, written by `{command}` (see\n\
             //! `crate::confidence`); do not edit by hand.\n\
             //!\n\
             //! Features: {features}.\n\
             //! {summary}\n\
             {thresholds}\n\
             #![allow(clippy::unreadable_literal)]\n\n\
             use crate::logistic::Logistic;\n\n\
             /// The fitted logistic regression.\n\
             pub(crate) static MODEL: Logistic = Logistic {{\n    \
             mean: [{mean}],\n    \
             scale: [{scale}],\n    \
             weights: [{weights}],\n    \
             bias: {bias:?},\n\
             }};\n",
            features = FEATURES.map(|f| format!("`{f}`")).join(", "),
            summary = self.summary().replace('\n', "\n//! "),
            mean = list(&m.mean),
            scale = list(&m.scale),
            weights = list(&m.weights),
            bias = m.bias,
        );
        if !self.semantic {
            let _ = write!(
                out,
                "\n/// Least probability to show articles (chosen on held-out folds).\n\
                 pub(crate) const SHOW: f32 = {show:?};\n\n\
                 /// Least probability of the first article for the sure band (held-out folds).\n\
                 pub(crate) const SURE: f32 = {sure:?};\n",
                show = self.show,
                sure = self.sure,
            );
        }
        out
    }

    fn summary(&self) -> String {
        let f = &self.held_out;
        format!(
            "Fitted on {} candidates, {}-fold cross-validation; held out: {}/{} answerable \
             messages shown a right article, {}/{} unanswerable shown something, sure band \
             {}/{} right first, log loss {:.3}.",
            self.rows,
            self.folds,
            f.shown_hit,
            f.positives,
            f.negatives_shown,
            f.negatives,
            f.sure_right,
            f.sure,
            f.log_loss
        )
    }
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        writeln!(
            f,
            "show threshold {:.2}, sure threshold {:.2}",
            self.show, self.sure
        )?;
        writeln!(f, "held out, by show threshold:")?;
        for (t, c) in &self.curve {
            writeln!(
                f,
                "  {t:.2}  shown a right article {:>3}/{:<3}  unanswerable shown {:>2}/{}",
                c.shown_hit, c.positives, c.negatives_shown, c.negatives
            )?;
        }
        writeln!(f, "weights (on standardised features):")?;
        for (name, w) in FEATURES.iter().zip(&self.model.weights) {
            writeln!(f, "  {name:<16} {w:>7.3}")?;
        }
        writeln!(f, "  {:<16} {:>7.3}", "bias", self.model.bias)
    }
}
