//! Metrics: accuracy, top-k accuracy, confusion matrix, mean loss. Plain counters, no
//! allocation.

use crate::{ClassIndex, SMatrix, Scalar};

/// The predicted class of each sample: the index of its largest output (the first on ties).
pub fn argmax<T: Scalar, const N: usize, const B: usize>(y: &SMatrix<T, N, B>) -> [usize; B] {
    core::array::from_fn(|b| {
        let mut best = 0;
        for k in 1..N {
            if y[(k, b)] > y[(best, b)] {
                best = k;
            }
        }
        best
    })
}

/// Whether the true class of sample `b` is among its `k` largest outputs. Ties count in the
/// sample's favour only when the true class's output is strictly beaten fewer than `k` times.
pub fn in_top_k<T: Scalar, const N: usize, const B: usize>(
    y: &SMatrix<T, N, B>,
    b: usize,
    truth: usize,
    k: usize,
) -> bool {
    let target = y[(truth, b)];
    let better = (0..N).filter(|&j| y[(j, b)] > target).count();
    better < k
}

/// A confusion matrix over `N` classes: `counts[truth][predicted]`.
///
/// ```
/// use staticnn::metrics::Confusion;
/// let mut c = Confusion::<3>::new();
/// c.add(0, 0);
/// c.add(1, 2);
/// c.add(2, 2);
/// assert_eq!(c.total(), 3);
/// assert!((c.accuracy() - 2.0 / 3.0).abs() < 1e-12);
/// assert_eq!(c.counts[1][2], 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confusion<const N: usize> {
    /// `counts[truth][predicted]`.
    pub counts: [[u32; N]; N],
}

impl<const N: usize> Default for Confusion<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Confusion<N> {
    /// An empty matrix.
    pub const fn new() -> Self {
        Confusion {
            counts: [[0; N]; N],
        }
    }

    /// Counts one sample. Classes at or above `N` are ignored.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        if truth < N && predicted < N {
            self.counts[truth][predicted] += 1;
        }
    }

    /// Counts a batch of outputs against their labels (prediction = largest output).
    pub fn add_batch<T: Scalar, const B: usize>(
        &mut self,
        y: &SMatrix<T, N, B>,
        labels: &[ClassIndex<N>; B],
    ) {
        for (p, t) in argmax(y).into_iter().zip(labels) {
            self.add(t.get(), p);
        }
    }

    /// Samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().map(|&c| u64::from(c)).sum()
    }

    /// Samples on the diagonal.
    pub fn correct(&self) -> u64 {
        (0..N).map(|k| u64::from(self.counts[k][k])).sum()
    }

    /// Fraction classified correctly (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            0.0
        } else {
            self.correct() as f64 / total as f64
        }
    }

    /// Recall of class `k`: the fraction of its samples predicted as `k` (0 when it has none).
    pub fn recall(&self, k: usize) -> f64 {
        let row: u64 = self.counts[k].iter().map(|&c| u64::from(c)).sum();
        if row == 0 {
            0.0
        } else {
            f64::from(self.counts[k][k]) / row as f64
        }
    }
}

/// Running mean loss and top-k accuracy over batches.
///
/// ```
/// use staticnn::metrics::Running;
/// use staticnn::{ClassIndex, SMatrix};
/// let y = SMatrix::<f64, 3, 2>::from_column_slice(&[0.1, 0.7, 0.2, 0.5, 0.3, 0.2]);
/// let labels = [ClassIndex::new(1).unwrap(), ClassIndex::new(1).unwrap()];
/// let mut r = Running::new(2);
/// r.add_batch(&y, &labels, 0.5);
/// assert_eq!(r.accuracy(), 0.5); // sample 1 predicts class 0
/// assert_eq!(r.top_k_accuracy(), 1.0); // but class 1 is its second choice
/// assert_eq!(r.mean_loss(), 0.5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Running {
    k: usize,
    samples: u64,
    correct: u64,
    top_k: u64,
    loss_sum: f64,
}

impl Running {
    /// A running tally that also counts top-`k` hits.
    pub const fn new(k: usize) -> Self {
        Running {
            k,
            samples: 0,
            correct: 0,
            top_k: 0,
            loss_sum: 0.0,
        }
    }

    /// Adds a batch: its outputs, labels, and mean loss.
    pub fn add_batch<T: Scalar, const N: usize, const B: usize>(
        &mut self,
        y: &SMatrix<T, N, B>,
        labels: &[ClassIndex<N>; B],
        mean_loss: T,
    ) {
        for (b, (p, t)) in argmax(y).into_iter().zip(labels).enumerate() {
            self.correct += u64::from(p == t.get());
            self.top_k += u64::from(in_top_k(y, b, t.get(), self.k));
        }
        self.samples += B as u64;
        self.loss_sum += mean_loss.as_f64() * B as f64;
    }

    /// Samples counted.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Top-1 accuracy (0 when empty).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct, self.samples)
    }

    /// Top-k accuracy (0 when empty).
    pub fn top_k_accuracy(&self) -> f64 {
        ratio(self.top_k, self.samples)
    }

    /// Mean loss per sample (0 when empty).
    pub fn mean_loss(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.loss_sum / self.samples as f64
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_ties() {
        let y = SMatrix::<f32, 3, 2>::from_column_slice(&[1.0, 3.0, 3.0, -1.0, -2.0, -3.0]);
        assert_eq!(argmax(&y), [1, 0]);
    }

    #[test]
    fn top_k_counts_strictly_better_outputs() {
        let y = SMatrix::<f32, 4, 1>::from_column_slice(&[0.4, 0.3, 0.2, 0.1]);
        assert!(in_top_k(&y, 0, 0, 1));
        assert!(!in_top_k(&y, 0, 2, 2));
        assert!(in_top_k(&y, 0, 2, 3));
        assert!(in_top_k(&y, 0, 3, 4));
    }

    #[test]
    fn confusion_recall_and_empty_cases() {
        let mut c = Confusion::<2>::new();
        assert_eq!(c.accuracy(), 0.0);
        c.add(0, 0);
        c.add(0, 1);
        c.add(1, 1);
        c.add(5, 0); // ignored
        assert_eq!(c.total(), 3);
        assert_eq!(c.recall(0), 0.5);
        assert_eq!(c.recall(1), 1.0);
    }
}
