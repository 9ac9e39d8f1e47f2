//! Logistic regression, written out: the models of this crate are tiny (a dozen dense features
//! for the confidence, a few thousand hashed n-grams for the hand-off), fitted in milliseconds
//! by plain gradient descent, and deterministic (same data, same weights).

use crate::confidence::N;

/// A logistic regression over [`N`] standardised dense features.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Logistic {
    pub(crate) mean: [f32; N],
    pub(crate) scale: [f32; N],
    pub(crate) weights: [f32; N],
    pub(crate) bias: f32,
}

pub(crate) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Logistic {
    /// The probability of the positive class.
    pub(crate) fn probability(&self, x: &[f32]) -> f32 {
        let mut z = self.bias;
        for i in 0..N {
            let v = x.get(i).copied().unwrap_or(0.0);
            let v = if v.is_finite() { v } else { 0.0 };
            z += self.weights[i] * (v - self.mean[i]) / self.scale[i];
        }
        sigmoid(z)
    }
}

/// L2 penalty (per row) of the dense fit.
const L2: f32 = 0.01;
/// Gradient steps of the dense fit.
const STEPS: usize = 2000;
/// Step size of the dense fit.
const RATE: f32 = 0.5;

/// Fits a logistic regression on rows of `n` (at most [`N`]) features by full-batch gradient
/// descent on the standardised features, with a small L2 penalty.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn fit(rows: &[(&[f32], bool)], n: usize) -> Logistic {
    let n = n.min(N);
    let count = rows.len().max(1) as f32;
    let mut mean = [0.0_f32; N];
    let mut scale = [1.0_f32; N];
    for i in 0..n {
        mean[i] = rows.iter().map(|r| r.0[i]).sum::<f32>() / count;
        let var = rows.iter().map(|r| (r.0[i] - mean[i]).powi(2)).sum::<f32>() / count;
        scale[i] = if var > 1e-9 { var.sqrt() } else { 1.0 };
    }
    let xs: Vec<[f32; N]> = rows
        .iter()
        .map(|r| {
            let mut x = [0.0_f32; N];
            for i in 0..n {
                x[i] = (r.0[i] - mean[i]) / scale[i];
            }
            x
        })
        .collect();
    let mut w = [0.0_f32; N];
    let mut b = 0.0_f32;
    for _ in 0..STEPS {
        let mut gw = [0.0_f32; N];
        let mut gb = 0.0_f32;
        for (x, (_, y)) in xs.iter().zip(rows) {
            let z = b + x.iter().zip(&w).map(|(a, b)| a * b).sum::<f32>();
            let err = sigmoid(z) - if *y { 1.0 } else { 0.0 };
            for i in 0..n {
                gw[i] += err * x[i];
            }
            gb += err;
        }
        for i in 0..n {
            w[i] -= RATE * (gw[i] / count + L2 * w[i]);
        }
        b -= RATE * gb / count;
    }
    Logistic {
        mean,
        scale,
        weights: w,
        bias: b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_a_simple_rule_and_is_deterministic() {
        // positive when the first feature is above 0.5, whatever the second
        let data: Vec<[f32; 2]> = (0..40)
            .map(|i| {
                let i = f32::from(u8::try_from(i).unwrap_or(0));
                [i / 40.0, (i * 7.0) % 3.0]
            })
            .collect();
        let rows: Vec<(&[f32], bool)> = data.iter().map(|x| (&x[..], x[0] > 0.5)).collect();
        let model = fit(&rows, 2);
        assert!(model.probability(&[0.9, 1.0]) > 0.8);
        assert!(model.probability(&[0.1, 1.0]) < 0.2);
        assert!(model.weights[0] > 5.0 * model.weights[1].abs());
        assert_eq!(model, fit(&rows, 2));
        // odd input never panics
        assert!(model.probability(&[f32::NAN]).is_finite());
        assert!(model.probability(&[]).is_finite());
    }
}
