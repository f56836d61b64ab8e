//! A multinomial logistic regression over sparse binary features, trained by averaged
//! stochastic gradient descent.
//!
//! Deterministic by construction: the feature dictionary is numbered in order of first
//! appearance, each epoch visits the examples in an order drawn from a fixed-seed xorshift
//! generator, and the number of epochs is fixed. The same phrases always give the same model.

use std::collections::HashMap;

/// Passes over the training set. Enough for the loss to settle on a few thousand phrases.
const EPOCHS: usize = 24;
/// The first epoch's learning rate; later epochs use `LEARNING_RATE / (1 + epoch * DECAY)`.
const LEARNING_RATE: f32 = 2.0;
const DECAY: f32 = 0.25;
/// Seed of the generator that orders each epoch. Any constant works; it only has to be fixed.
const SHUFFLE_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// A trained model: class scores are `bias + sum of the weights of the features present`,
/// each feature weighted by `1 / sqrt(feature count)` so long and short messages compare.
#[derive(Clone)]
pub struct Model {
    classes: usize,
    dictionary: HashMap<u64, u32>,
    /// Feature-major: the weights of feature `f` are `weights[f * classes..][..classes]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// One training row: the features of a phrase and the index of its class.
pub struct Row {
    pub features: Vec<u64>,
    pub class: usize,
}

impl Model {
    /// Trains a model for `classes` classes. Rows must have `class < classes`.
    pub fn train(classes: usize, rows: &[Row]) -> Model {
        let mut dictionary = HashMap::new();
        let encoded: Vec<(Vec<u32>, usize)> = rows
            .iter()
            .map(|row| {
                let ids = row
                    .features
                    .iter()
                    .map(|&feature| {
                        let next = dictionary.len() as u32;
                        *dictionary.entry(feature).or_insert(next)
                    })
                    .collect();
                (ids, row.class)
            })
            .collect();

        let size = dictionary.len() * classes;
        let mut weights = vec![0.0f32; size];
        let mut bias = vec![0.0f32; classes];
        // Averaging: `sum_steps` accumulates step * update, so the average of all weight
        // vectors seen during training is `weights - sum_steps / steps`.
        let mut weight_steps = vec![0.0f32; size];
        let mut bias_steps = vec![0.0f32; classes];
        let mut step = 1.0f32;

        let mut order: Vec<usize> = (0..encoded.len()).collect();
        let mut generator = XorShift(SHUFFLE_SEED);
        let mut probabilities = vec![0.0f32; classes];
        let mut updates = vec![0.0f32; classes];
        for epoch in 0..EPOCHS {
            generator.shuffle(&mut order);
            let rate = LEARNING_RATE / (1.0 + epoch as f32 * DECAY);
            for &index in &order {
                let (ids, class) = &encoded[index];
                let value = feature_value(ids.len());
                scores_into(&weights, &bias, classes, ids, value, &mut probabilities);
                softmax(&mut probabilities);
                // The step for every class at once, so each feature's row is updated in
                // one contiguous pass.
                for (candidate, update) in updates.iter_mut().enumerate() {
                    let target = if candidate == *class { 1.0 } else { 0.0 };
                    *update = -rate * (probabilities[candidate] - target);
                    bias[candidate] += *update;
                    bias_steps[candidate] += step * *update;
                }
                for &id in ids {
                    let start = id as usize * classes;
                    let row = &mut weights[start..start + classes];
                    let row_steps = &mut weight_steps[start..start + classes];
                    for ((weight, weight_step), update) in row.iter_mut().zip(row_steps).zip(&updates) {
                        let update = update * value;
                        *weight += update;
                        *weight_step += step * update;
                    }
                }
                step += 1.0;
            }
        }
        for (weight, sum) in weights.iter_mut().zip(&weight_steps) {
            *weight -= sum / step;
        }
        for (weight, sum) in bias.iter_mut().zip(&bias_steps) {
            *weight -= sum / step;
        }
        Model { classes, dictionary, weights, bias }
    }

    /// Class probabilities for a message's features (which need not be sorted or known).
    pub fn probabilities(&self, features: &[u64]) -> Vec<f32> {
        let ids: Vec<u32> =
            features.iter().filter_map(|feature| self.dictionary.get(feature).copied()).collect();
        let mut scores = vec![0.0f32; self.classes];
        // Unknown features still count in the normalisation: a message made mostly of words
        // the model never saw should look weak, not like a clean match on its few known ones.
        let value = feature_value(features.len());
        scores_into(&self.weights, &self.bias, self.classes, &ids, value, &mut scores);
        softmax(&mut scores);
        scores
    }
}

/// A summary: the weights themselves are hundreds of thousands of numbers.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("classes", &self.classes)
            .field("features", &self.dictionary.len())
            .finish()
    }
}

fn feature_value(count: usize) -> f32 {
    if count == 0 { 0.0 } else { 1.0 / (count as f32).sqrt() }
}

fn scores_into(weights: &[f32], bias: &[f32], classes: usize, ids: &[u32], value: f32, scores: &mut [f32]) {
    scores.copy_from_slice(bias);
    for &id in ids {
        let row = &weights[id as usize * classes..][..classes];
        for (score, weight) in scores.iter_mut().zip(row) {
            *score += weight * value;
        }
    }
}

fn softmax(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for score in scores.iter_mut() {
        *score = (*score - max).exp();
        total += *score;
    }
    for score in scores.iter_mut() {
        *score /= total;
    }
}

/// Marsaglia's xorshift64: a fixed, dependency-free sequence for ordering the epochs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Fisher-Yates.
    fn shuffle(&mut self, items: &mut [usize]) {
        for last in (1..items.len()).rev() {
            let pick = (self.next() % (last as u64 + 1)) as usize;
            items.swap(last, pick);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(features: &[u64], class: usize) -> Row {
        Row { features: features.to_vec(), class }
    }

    #[test]
    fn separates_classes_by_their_features() {
        let rows = [row(&[1, 2], 0), row(&[1, 3], 0), row(&[4, 5], 1), row(&[4, 6], 1)];
        let model = Model::train(2, &rows);
        let first = model.probabilities(&[1]);
        let second = model.probabilities(&[4]);
        assert!(first[0] > 0.8, "{first:?}");
        assert!(second[1] > 0.8, "{second:?}");
        let total: f32 = first.iter().sum();
        assert!((total - 1.0).abs() < 1e-4);
    }

    #[test]
    fn unknown_features_dilute_confidence() {
        let rows = [row(&[1, 2], 0), row(&[3, 4], 1)];
        let model = Model::train(2, &rows);
        let known = model.probabilities(&[1, 2]);
        let diluted = model.probabilities(&[1, 2, 100, 101, 102, 103, 104, 105]);
        assert!(diluted[0] < known[0], "{known:?} vs {diluted:?}");
    }

    #[test]
    fn training_is_deterministic() {
        let rows = [row(&[1, 2, 3], 0), row(&[2, 3, 4], 1), row(&[5, 6], 2), row(&[1, 6], 2)];
        let first = Model::train(3, &rows);
        let second = Model::train(3, &rows);
        assert_eq!(first.weights, second.weights);
        assert_eq!(first.bias, second.bias);
    }
}
