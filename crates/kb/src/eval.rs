//! Measuring search and hand-off quality on labelled queries (the `eval/queries.jsonl` format:
//! one JSON object per line with `q`, `lang`, `expect`, `handoff`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::agent::EmbeddedAgent;
use crate::article::Language;
use crate::embeddings::QueryEmbedding;
use crate::error::{Error, ErrorKind};
use crate::kb::KnowledgeBase;
use crate::search::SearchOptions;

/// One labelled query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EvalQuery {
    /// The user's message.
    pub q: String,
    /// Its main language.
    pub lang: Language,
    /// Article ids that count as a correct suggestion (empty: none applies).
    #[serde(default)]
    pub expect: Vec<String>,
    /// `true` when the user asks for a person.
    #[serde(default)]
    pub handoff: bool,
}

impl EvalQuery {
    /// A negative: no article applies and no hand-off is wanted.
    pub fn is_negative(&self) -> bool {
        self.expect.is_empty() && !self.handoff
    }
}

/// Reads a JSON Lines file of queries (blank lines are skipped).
///
/// # Errors
/// [`ErrorKind::Read`] when the file cannot be read or a line is not a valid query (the message
/// names the line).
pub fn load_queries(path: &Path) -> Result<Vec<EvalQuery>, Error> {
    let read = |source: Box<dyn std::error::Error + Send + Sync>| {
        Error::with_source(
            ErrorKind::Read {
                path: path.to_owned(),
            },
            source,
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| read(e.into()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let query: EvalQuery =
            serde_json::from_str(line).map_err(|e| read(format!("line {}: {e}", n + 1).into()))?;
        out.push(query);
    }
    Ok(out)
}

/// Metrics over a set of queries.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Queries evaluated.
    pub queries: usize,
    /// Queries with a non-empty `expect` (the retrieval set).
    pub retrieval: usize,
    /// Share of the retrieval set whose first result is expected.
    pub hit_at_1: f64,
    /// Share of the retrieval set with an expected article in the first three results.
    pub hit_at_3: f64,
    /// Mean reciprocal rank of the first expected result (0 when none is shown).
    pub mrr: f64,
    /// Hand-offs decided and wanted.
    pub handoff_tp: usize,
    /// Hand-offs decided but not wanted.
    pub handoff_fp: usize,
    /// Hand-offs wanted but not decided.
    pub handoff_fn: usize,
    /// Negatives (no article, no hand-off).
    pub negatives: usize,
    /// Negatives that produced at least one suggestion.
    pub negatives_suggested: usize,
}

impl Metrics {
    /// TP / (TP + FP); `None` when no hand-off was decided.
    #[allow(clippy::cast_precision_loss)]
    pub fn handoff_precision(&self) -> Option<f64> {
        let d = self.handoff_tp + self.handoff_fp;
        (d > 0).then(|| self.handoff_tp as f64 / d as f64)
    }

    /// TP / (TP + FN); `None` when no hand-off was wanted.
    #[allow(clippy::cast_precision_loss)]
    pub fn handoff_recall(&self) -> Option<f64> {
        let d = self.handoff_tp + self.handoff_fn;
        (d > 0).then(|| self.handoff_tp as f64 / d as f64)
    }
}

/// One query's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The query.
    pub query: EvalQuery,
    /// Ids shown (best first, at most ten).
    pub shown: Vec<String>,
    /// Whether a hand-off was decided.
    pub handoff: bool,
}

impl Outcome {
    /// 1-based rank of the first expected id shown.
    pub fn rank(&self) -> Option<usize> {
        self.shown
            .iter()
            .position(|id| self.query.expect.contains(id))
            .map(|p| p + 1)
    }
}

/// The metrics of one run, overall and per language.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The confidence threshold (`None`: off).
    pub threshold: Option<f32>,
    /// Over every query.
    pub overall: Metrics,
    /// Per query language.
    pub by_language: BTreeMap<String, Metrics>,
    /// Each query's outcome, in file order.
    pub outcomes: Vec<Outcome>,
}

/// Runs every query once through the embedded agent ([`EmbeddedAgent::decide`]: the search
/// plus hand-off detection) with the threshold `threshold` (`None`: raw top ten). What counts
/// as shown is what the agent shows in the message's band: the articles of the sure and unsure
/// bands (and the "contact support" article on a hand-off), nothing in the unknown band.
///
/// # Errors
/// [`ErrorKind::Index`] when a search fails.
pub fn run(
    kb: &KnowledgeBase,
    queries: &[EvalQuery],
    threshold: Option<f32>,
) -> Result<Run, Error> {
    run_with(kb, queries, threshold, None)
}

/// [`run`] with each query's vector (`embeddings`, in query order, from
/// [`KnowledgeBase::query_embeddings`]): the semantic mode. `None` is the lexical mode.
///
/// # Errors
/// [`ErrorKind::Index`] when a search fails.
pub fn run_with(
    kb: &KnowledgeBase,
    queries: &[EvalQuery],
    threshold: Option<f32>,
    embeddings: Option<&[QueryEmbedding]>,
) -> Result<Run, Error> {
    let options = SearchOptions::default()
        .with_limit(10)
        .with_threshold(threshold);
    let agent = EmbeddedAgent::new(kb.clone()).with_options(options);
    let mut outcomes = Vec::with_capacity(queries.len());
    for (i, query) in queries.iter().enumerate() {
        let embedding = embeddings
            .and_then(|e| e.get(i))
            .unwrap_or(&QueryEmbedding::Off);
        let decision = agent.decide_with(&query.q, None, embedding)?;
        outcomes.push(Outcome {
            query: query.clone(),
            shown: decision.suggestions.into_iter().map(|s| s.id).collect(),
            handoff: decision.handoff.is_some(),
        });
    }
    let overall = metrics(outcomes.iter());
    let mut by_language = BTreeMap::new();
    for lang in [Language::English, Language::Vietnamese] {
        let m = metrics(outcomes.iter().filter(|o| o.query.lang == lang));
        if m.queries > 0 {
            by_language.insert(lang.code().to_owned(), m);
        }
    }
    Ok(Run {
        threshold,
        overall,
        by_language,
        outcomes,
    })
}

#[allow(clippy::cast_precision_loss)]
fn metrics<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Metrics {
    let mut m = Metrics::default();
    let (mut h1, mut h3, mut rr) = (0.0, 0.0, 0.0);
    for o in outcomes {
        m.queries += 1;
        if !o.query.expect.is_empty() {
            m.retrieval += 1;
            if let Some(rank) = o.rank() {
                rr += 1.0 / rank as f64;
                h1 += f64::from(u8::from(rank == 1));
                h3 += f64::from(u8::from(rank <= 3));
            }
        }
        match (o.handoff, o.query.handoff) {
            (true, true) => m.handoff_tp += 1,
            (true, false) => m.handoff_fp += 1,
            (false, true) => m.handoff_fn += 1,
            (false, false) => {}
        }
        if o.query.is_negative() {
            m.negatives += 1;
            if !o.shown.is_empty() {
                m.negatives_suggested += 1;
            }
        }
    }
    if m.retrieval > 0 {
        let n = m.retrieval as f64;
        (m.hit_at_1, m.hit_at_3, m.mrr) = (h1 / n, h3 / n, rr / n);
    }
    m
}

/// The full report: with the threshold, and with it switched off.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// With the engine's threshold.
    pub thresholded: Run,
    /// With the threshold off (the raw top ten).
    pub raw: Run,
}

/// Evaluates a knowledge base on queries, with the default threshold and without one.
///
/// # Errors
/// [`ErrorKind::Index`] when a search fails.
pub fn evaluate(kb: &KnowledgeBase, queries: &[EvalQuery]) -> Result<Report, Error> {
    evaluate_with(kb, queries, None)
}

/// [`evaluate`] in the semantic mode: each query ranked with its vector (`embeddings`, in
/// query order); `None` is the lexical mode.
///
/// # Errors
/// [`ErrorKind::Index`] when a search fails.
pub fn evaluate_with(
    kb: &KnowledgeBase,
    queries: &[EvalQuery],
    embeddings: Option<&[QueryEmbedding]>,
) -> Result<Report, Error> {
    Ok(Report {
        thresholded: run_with(
            kb,
            queries,
            Some(crate::search::DEFAULT_THRESHOLD),
            embeddings,
        )?,
        raw: run_with(kb, queries, None, embeddings)?,
    })
}

impl Metrics {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.queries,
            "retrieval": self.retrieval,
            "hit_at_1": self.hit_at_1,
            "hit_at_3": self.hit_at_3,
            "mrr": self.mrr,
            "handoff_precision": self.handoff_precision(),
            "handoff_recall": self.handoff_recall(),
            "handoff_tp": self.handoff_tp,
            "handoff_fp": self.handoff_fp,
            "handoff_fn": self.handoff_fn,
            "negatives": self.negatives,
            "negatives_with_suggestion": self.negatives_suggested,
        })
    }
}

impl Run {
    /// The run as one JSON object: the threshold, `all` and one entry per language.
    pub fn to_json(&self) -> serde_json::Value {
        let mut by_language = serde_json::Map::new();
        by_language.insert("all".to_owned(), self.overall.to_json());
        for (lang, m) in &self.by_language {
            by_language.insert(lang.clone(), m.to_json());
        }
        serde_json::json!({
            "threshold": self.threshold,
            "metrics": by_language,
        })
    }
}

impl Report {
    /// The report as one JSON object: `shipped_defaults` (what the user is shown with the
    /// default thresholds) and `raw` (the first ten articles, no threshold), each with the
    /// metrics overall (`all`) and per language.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "shipped_defaults": self.thresholded.to_json(),
            "raw": self.raw.to_json(),
        })
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))
}

fn row(f: &mut fmt::Formatter<'_>, name: &str, m: &Metrics) -> fmt::Result {
    writeln!(
        f,
        "  {name:<8} {:>4} {:>6} {:>6.3} {:>6.3} {:>6.3} {:>9} {:>9} {:>5}/{:<3}",
        m.queries,
        m.retrieval,
        m.hit_at_1,
        m.hit_at_3,
        m.mrr,
        opt(m.handoff_precision()),
        opt(m.handoff_recall()),
        m.negatives_suggested,
        m.negatives
    )
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.threshold {
            Some(t) => writeln!(f, "threshold: confidence >= {t}")?,
            None => writeln!(f, "threshold: off (raw top 10)")?,
        }
        writeln!(
            f,
            "  {:<8} {:>4} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9}",
            "lang", "n", "retr", "hit@1", "hit@3", "MRR", "ho-prec", "ho-recall", "neg-sugg"
        )?;
        row(f, "all", &self.overall)?;
        for (lang, m) in &self.by_language {
            row(f, lang, m)?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.thresholded)?;
        writeln!(f)?;
        write!(f, "{}", self.raw)?;
        let misses: Vec<&Outcome> = self
            .thresholded
            .outcomes
            .iter()
            .filter(|o| {
                (!o.query.expect.is_empty() && o.rank().is_none_or(|r| r > 1))
                    || (o.query.is_negative() && !o.shown.is_empty())
                    || o.handoff != o.query.handoff
            })
            .collect();
        if !misses.is_empty() {
            writeln!(f, "\nnot perfect (with the threshold):")?;
            for o in misses {
                writeln!(
                    f,
                    "  {:?} [{}] expect {:?} handoff {} -> shown {:?} handoff {}",
                    o.query.q, o.query.lang, o.query.expect, o.query.handoff, o.shown, o.handoff
                )?;
            }
        }
        Ok(())
    }
}
