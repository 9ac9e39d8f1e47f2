//! The hand-off classifier: a logistic regression over hashed word and character n-grams,
//! trained when first used (a few milliseconds) on the labelled lines shipped with the crate
//! (`training/handoff.tsv`, English and Vietnamese).
//!
//! It catches the requests for a person that the rules of [`crate::handoff`] do not spell out:
//! frustration with the bot ("you keep sending the same link"), "is anyone there?", "bot trả lời
//! như không". Its threshold, [`THRESHOLD`], was chosen by cross-validation
//! ([`cross_validate`], `flexcord-kb handoff-cv`).

use std::fmt;
use std::sync::LazyLock;

use crate::article::Language;
use crate::logistic::sigmoid;

/// The training lines: `label<TAB>language<TAB>message`, `#` starts a comment.
const TRAINING: &str = include_str!("../training/handoff.tsv");

/// Least probability for a hand-off (chosen with [`cross_validate`]: on the held-out folds,
/// about one false hand-off in thirty tricky negatives, at the cost of a fifth of the implied
/// requests, most of which the rules catch anyway).
pub(crate) const THRESHOLD: f32 = 0.7;

/// Least probability for a hand-off when the knowledge base is sure of its answer: a topical
/// question that the articles answer needs a clearer request.
pub(crate) const THRESHOLD_WHEN_ANSWERED: f32 = 0.85;

/// Hash buckets (a power of two).
const BUCKETS: usize = 1 << 18;
/// Passes over the training lines.
const EPOCHS: usize = 60;
/// Step size.
const RATE: f32 = 2.0;
/// L2 penalty, applied to the weights a line touches.
const L2: f32 = 1e-3;

/// One labelled line.
#[derive(Debug, Clone)]
pub(crate) struct Example {
    pub(crate) text: String,
    pub(crate) language: Language,
    pub(crate) handoff: bool,
}

/// The shipped training lines.
pub(crate) fn examples() -> Vec<Example> {
    TRAINING
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            let label = parts.next()?;
            let language = Language::from_code(parts.next()?)?;
            let text = parts.next()?.to_owned();
            Some(Example {
                text,
                language,
                handoff: label.trim() == "1",
            })
        })
        .collect()
}

/// FNV-1a, so that features hash the same on every platform and run.
fn hash(kind: u8, text: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in std::iter::once(kind).chain(text.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The features of a normalised line (lower case, no diacritics, punctuation removed): words,
/// word pairs (with the start and end of the line) and character 3- to 5-grams, each hashed,
/// present or not, scaled to unit length.
pub(crate) fn features(line: &str) -> Vec<(u32, f32)> {
    features_with(line, CHAR_WEIGHT)
}

/// Weight of a character n-gram relative to a word or word pair.
const CHAR_WEIGHT: f32 = 0.5;

fn features_with(line: &str, char_weight: f32) -> Vec<(u32, f32)> {
    #[allow(clippy::cast_possible_truncation)]
    let mask = (BUCKETS - 1) as u32;
    let words: Vec<&str> = line.split_whitespace().take(80).collect();
    let mut out: Vec<(u32, f32)> = Vec::new();
    let mut padded = vec!["^"];
    padded.extend(&words);
    padded.push("$");
    for w in &words {
        out.push((hash(1, w) & mask, 1.0));
    }
    for pair in padded.windows(2) {
        out.push((hash(2, &format!("{} {}", pair[0], pair[1])) & mask, 1.0));
    }
    let chars: Vec<char> = format!(" {} ", words.join(" ")).chars().collect();
    for n in 3..=5 {
        for gram in chars.windows(n) {
            let s: String = gram.iter().collect();
            out.push((hash(3, &s) & mask, char_weight));
        }
    }
    out.sort_unstable_by_key(|f| f.0);
    out.dedup_by_key(|f| f.0);
    let norm = out
        .iter()
        .map(|f| f.1 * f.1)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    for f in &mut out {
        f.1 /= norm;
    }
    out
}

/// A trained classifier.
pub(crate) struct Classifier {
    weights: Vec<f32>,
    bias: f32,
}

impl Classifier {
    /// Trains on feature vectors with stochastic gradient descent, visiting the lines in a
    /// fixed shuffled order (the same weights every time).
    pub(crate) fn train(data: &[(Vec<(u32, f32)>, bool)]) -> Self {
        Self::train_with(data, EPOCHS, RATE, L2)
    }

    fn train_with(data: &[(Vec<(u32, f32)>, bool)], epochs: usize, base: f32, l2: f32) -> Self {
        let mut weights = vec![0.0_f32; BUCKETS];
        let mut bias = 0.0_f32;
        let lines = data.len();
        // a fixed permutation: stride by a number coprime with the number of lines
        let stride = (1..lines.max(2))
            .rev()
            .find(|s| gcd(*s, lines) == 1 && *s < lines * 2 / 3)
            .unwrap_or(1);
        for epoch in 0..epochs {
            #[allow(clippy::cast_precision_loss)]
            let rate = base / (1.0 + epoch as f32 * 0.1);
            let mut next = epoch % lines.max(1);
            for _ in 0..lines {
                let (x, y) = &data[next];
                let z = bias + x.iter().map(|(j, v)| weights[*j as usize] * v).sum::<f32>();
                let err = sigmoid(z) - if *y { 1.0 } else { 0.0 };
                for (j, v) in x {
                    let w = &mut weights[*j as usize];
                    *w -= rate * (err * v + l2 * *w);
                }
                bias -= rate * err;
                next = (next + stride) % lines;
            }
        }
        Self { weights, bias }
    }

    /// The probability that a normalised line asks for a person.
    pub(crate) fn probability(&self, line: &str) -> f32 {
        let x = features(line);
        let z = self.bias
            + x.iter()
                .map(|(j, v)| self.weights.get(*j as usize).copied().unwrap_or(0.0) * v)
                .sum::<f32>();
        sigmoid(z)
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The classifier trained on the shipped lines (once per process).
pub(crate) static CLASSIFIER: LazyLock<Classifier> = LazyLock::new(|| {
    let data: Vec<(Vec<(u32, f32)>, bool)> = examples()
        .iter()
        .map(|e| (features(&crate::handoff::normalise(&e.text)), e.handoff))
        .collect();
    Classifier::train(&data)
});

/// Cross-validated figures of the classifier for one language.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HandoffFigures {
    /// Lines.
    pub lines: usize,
    /// Hand-offs decided and wanted.
    pub tp: usize,
    /// Hand-offs decided but not wanted.
    pub fp: usize,
    /// Hand-offs wanted but not decided.
    pub r#fn: usize,
}

impl HandoffFigures {
    /// TP / (TP + FP).
    #[allow(clippy::cast_precision_loss)]
    pub fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }

    /// TP / (TP + FN).
    #[allow(clippy::cast_precision_loss)]
    pub fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.r#fn).max(1) as f64
    }
}

/// The result of [`crate::handoff_cross_validation`].
#[derive(Debug, Clone)]
pub struct HandoffCrossValidation {
    /// Folds.
    pub folds: usize,
    /// (threshold, English, Vietnamese) for the classifier alone, held out.
    pub classifier: Vec<(f32, HandoffFigures, HandoffFigures)>,
    /// English and Vietnamese figures of the whole detection (rules, then the classifier at
    /// its threshold), held out.
    pub detection: (HandoffFigures, HandoffFigures),
}

/// Cross-validates the classifier on the shipped lines: `folds` folds (every `folds`-th line
/// together), the classifier trained on the others each time.
pub(crate) fn cross_validate(folds: usize) -> HandoffCrossValidation {
    let folds = folds.max(2);
    let examples = examples();
    let lines: Vec<String> = examples
        .iter()
        .map(|e| crate::handoff::normalise(&e.text))
        .collect();
    let data: Vec<(Vec<(u32, f32)>, bool)> = lines
        .iter()
        .zip(&examples)
        .map(|(l, e)| (features(l), e.handoff))
        .collect();
    let mut p = vec![0.0_f32; data.len()];
    for fold in 0..folds {
        let train: Vec<(Vec<(u32, f32)>, bool)> = data
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != fold)
            .map(|(_, d)| d.clone())
            .collect();
        let model = Classifier::train(&train);
        for (i, line) in lines.iter().enumerate() {
            if i % folds == fold {
                p[i] = model.probability(line);
            }
        }
    }
    let count = |decide: &dyn Fn(usize) -> bool, language: Language| {
        let mut f = HandoffFigures::default();
        for (i, e) in examples.iter().enumerate() {
            if e.language != language {
                continue;
            }
            f.lines += 1;
            match (decide(i), e.handoff) {
                (true, true) => f.tp += 1,
                (true, false) => f.fp += 1,
                (false, true) => f.r#fn += 1,
                (false, false) => {}
            }
        }
        f
    };
    let classifier = [0.5_f32, 0.6, 0.7, 0.8, 0.9]
        .into_iter()
        .map(|t| {
            let decide = |i: usize| p[i] >= t;
            (
                t,
                count(&decide, Language::English),
                count(&decide, Language::Vietnamese),
            )
        })
        .collect();
    let detect = |i: usize| crate::handoff::rule(&examples[i].text).is_some() || p[i] >= THRESHOLD;
    HandoffCrossValidation {
        folds,
        classifier,
        detection: (
            count(&detect, Language::English),
            count(&detect, Language::Vietnamese),
        ),
    }
}

impl fmt::Display for HandoffCrossValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = |f: &mut fmt::Formatter<'_>, name: &str, m: &HandoffFigures| {
            writeln!(
                f,
                "  {name:<26} lines {:>4}  TP {:>4} FP {:>3} FN {:>3}  precision {:.3}  recall {:.3}",
                m.lines,
                m.tp,
                m.fp,
                m.r#fn,
                m.precision(),
                m.recall()
            )
        };
        writeln!(
            f,
            "hand-off classifier, {}-fold cross-validation",
            self.folds
        )?;
        for (t, en, vi) in &self.classifier {
            row(f, &format!("classifier >= {t:.1}, en"), en)?;
            row(f, &format!("classifier >= {t:.1}, vi"), vi)?;
        }
        writeln!(f, "rules + classifier >= {THRESHOLD} (shipped):")?;
        row(f, "en", &self.detection.0)?;
        row(f, "vi", &self.detection.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_training_lines_are_many_and_balanced_enough() {
        let examples = examples();
        let count = |language: Language, handoff: bool| {
            examples
                .iter()
                .filter(|e| e.language == language && e.handoff == handoff)
                .count()
        };
        let en = count(Language::English, true) + count(Language::English, false);
        let vi = count(Language::Vietnamese, true) + count(Language::Vietnamese, false);
        assert!(en >= 300 && vi >= 150, "{en} {vi}");
        for language in [Language::English, Language::Vietnamese] {
            assert!(count(language, true) >= 100 && count(language, false) >= 100);
        }
        let lines = TRAINING.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(lines, examples.len(), "every line parses");
    }

    #[test]
    fn features_are_stable_and_bounded() {
        assert_eq!(features("talk to a human"), features("talk to a human"));
        assert!(features("").len() <= 3);
        let long = "word ".repeat(10_000);
        assert!(features(&long).len() < 2_000);
        assert_ne!(hash(1, "ab"), hash(2, "ab"));
    }
}
