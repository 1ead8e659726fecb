//! Metrics: accuracy, top-k accuracy, confusion matrix (printable as a table, with
//! precision, recall and F1 per class and macro-averaged), mean loss. Plain counters, no
//! allocation. Anything computed from a network takes any network that runs forward: a
//! trained one or its `…Inference` twin.

use core::fmt;

use crate::data::{DataError, Dataset, Label};
use crate::fit::Batch;
use crate::{ClassIndex, Infer, SMatrix, Scalar};

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

    /// The confusion matrix of `net` (eval mode) on every sample of `data`, in batches of
    /// `B` and then the remainder one sample at a time.
    ///
    /// # Errors
    ///
    /// [`DataError::LabelOutOfRange`] for the first label at or above `N`, found before
    /// anything runs (such a sample has no row in the matrix).
    ///
    /// ```
    /// use staticnn::data::Dataset;
    /// use staticnn::fit::Batch;
    /// use staticnn::metrics::Confusion;
    /// use staticnn::prelude::*;
    /// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
    ///
    /// network! {
    ///     struct Net { input: 2, Linear(4), Dropout(0.2), Linear(3) }
    /// }
    /// let net = Net::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    /// let xs = [[0.0f32, 1.0], [1.0, 0.0], [1.0, 1.0]];
    /// let data = Dataset::new(&xs, &[0usize, 1, 2])?;
    /// let c = Confusion::of(&net.to_inference(), data, Batch::<2>)?;
    /// assert_eq!(c, Confusion::of(&net, data, Batch::<2>)?);
    /// assert_eq!(c.total(), 3);
    /// let bad = Dataset::new(&xs, &[0usize, 1, 3])?;
    /// assert!(Confusion::of(&net, bad, Batch::<2>).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of<Net, T, Y, const IN: usize, const B: usize>(
        net: &Net,
        data: Dataset<'_, T, IN, Y>,
        _batch: Batch<B>,
    ) -> Result<Self, DataError>
    where
        T: Scalar,
        Net: Infer<T, IN, N>,
        Y: Label,
    {
        for row in 0..data.len() {
            let (_, y) = data.get(row).expect("row below len");
            let label = y.class();
            if label >= N {
                return Err(DataError::LabelOutOfRange {
                    row,
                    label,
                    classes: N,
                });
            }
        }
        let mut c = Self::new();
        let n = data.len();
        let full = n / B * B;
        let mut x = SMatrix::<T, IN, B>::zeros();
        let mut labels = [0usize; B];
        for start in (0..full).step_by(B.max(1)) {
            for (b, label) in labels.iter_mut().enumerate() {
                let (sample, y) = data.get(start + b).expect("index below len");
                x.column_mut(b).copy_from_slice(sample);
                *label = y.class();
            }
            for (p, t) in argmax(&net.infer(&x)).into_iter().zip(labels) {
                c.add(t, p);
            }
        }
        for i in full..n {
            let (sample, y) = data.get(i).expect("index below len");
            let p = argmax(&net.infer(&SMatrix::<T, IN, 1>::from_column_slice(sample)));
            c.add(y.class(), p[0]);
        }
        Ok(c)
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

    /// Samples of class `k` (its row), counted in u64 so that sums cannot overflow.
    fn row(&self, k: usize) -> u64 {
        self.counts
            .get(k)
            .map_or(0, |r| r.iter().map(|&c| u64::from(c)).sum())
    }

    /// Samples predicted as class `k` (its column).
    fn column(&self, k: usize) -> u64 {
        if k >= N {
            return 0;
        }
        self.counts.iter().map(|r| u64::from(r[k])).sum()
    }

    /// Samples of class `k` predicted as `k`.
    fn hits(&self, k: usize) -> u64 {
        if k >= N {
            return 0;
        }
        u64::from(self.counts[k][k])
    }

    /// Recall of class `k`: the fraction of its samples predicted as `k`,
    /// `TP / (TP + FN)`. 0 when it has no samples (0/0, scikit-learn's `zero_division=0`),
    /// which includes a class at or above `N` (never counted).
    pub fn recall(&self, k: usize) -> f64 {
        ratio(self.hits(k), self.row(k))
    }

    /// Precision of class `k`: the fraction of the samples predicted as `k` that are `k`,
    /// `TP / (TP + FP)`. 0 when nothing is predicted as `k` (0/0, scikit-learn's
    /// `zero_division=0`), which includes a class at or above `N`.
    pub fn precision(&self, k: usize) -> f64 {
        ratio(self.hits(k), self.column(k))
    }

    /// F1 score of class `k`, the harmonic mean of its precision and recall, computed as
    /// `2 TP / (2 TP + FP + FN)` (as scikit-learn does). 0 when the class is neither a
    /// sample's class nor a prediction (0/0, `zero_division=0`), and also when it has
    /// samples or predictions but no hit.
    pub fn f1(&self, k: usize) -> f64 {
        let tp = self.hits(k);
        ratio(2 * tp, self.row(k) + self.column(k))
    }

    /// The classes that occur as a true class or as a prediction: those the macro averages
    /// run over (scikit-learn's default `labels`).
    fn present(&self) -> impl Iterator<Item = usize> + '_ {
        (0..N).filter(|&k| self.row(k) + self.column(k) > 0)
    }

    /// The mean of `metric` over the present classes (0 when nothing was counted).
    fn macro_mean(&self, metric: impl Fn(usize) -> f64) -> f64 {
        let (sum, n) = self
            .present()
            .fold((0.0, 0u32), |(s, n), k| (s + metric(k), n + 1));
        if n == 0 { 0.0 } else { sum / f64::from(n) }
    }

    /// Precision averaged over the classes, unweighted ("macro"). The mean runs over the
    /// classes that occur as a true class or a prediction, as scikit-learn's does by
    /// default; a class that is predicted but never true counts with precision 0. 0 when
    /// nothing was counted.
    pub fn macro_precision(&self) -> f64 {
        self.macro_mean(|k| self.precision(k))
    }

    /// Recall averaged over the classes, unweighted, over the same classes as
    /// [`macro_precision`](Self::macro_precision): a class predicted but never true counts
    /// with recall 0 (0/0). 0 when nothing was counted.
    pub fn macro_recall(&self) -> f64 {
        self.macro_mean(|k| self.recall(k))
    }

    /// F1 averaged over the classes, unweighted (the mean of the per-class F1 scores, not
    /// the F1 of the macro precision and recall), over the same classes as
    /// [`macro_precision`](Self::macro_precision). 0 when nothing was counted.
    pub fn macro_f1(&self) -> f64 {
        self.macro_mean(|k| self.f1(k))
    }
}

/// Decimal digits of `n`.
fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// The matrix as a table: one row per true class, one column per predicted class, right
/// aligned, under a `true\pred` corner. Lines are separated by newlines, without one after
/// the last. Written straight to the formatter, without allocating.
///
/// ```
/// use staticnn::metrics::Confusion;
/// let mut c = Confusion::<3>::new();
/// c.counts = [[12, 0, 1], [2, 9, 0], [0, 0, 10]];
/// assert_eq!(
///     c.to_string(),
///     "true\\pred   0   1   2\n        0  12   0   1\n        1   2   9   0\n        2   0   0  10"
/// );
/// ```
impl<const N: usize> fmt::Display for Confusion<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CORNER: &str = "true\\pred";
        let biggest = self.counts.iter().flatten().copied().max().unwrap_or(0);
        let label = digits(N.saturating_sub(1) as u64);
        let width = digits(u64::from(biggest)).max(label);
        let first = CORNER.len().max(label);
        write!(f, "{CORNER:>first$}")?;
        for k in 0..N {
            write!(f, "  {k:>width$}")?;
        }
        for (t, row) in self.counts.iter().enumerate() {
            write!(f, "\n{t:>first$}")?;
            for c in row {
                write!(f, "  {c:>width$}")?;
            }
        }
        Ok(())
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

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// Per-class and macro figures against hand-computed values, with a class that never
    /// occurs (left out of the macro means) and a class predicted but never true (in them,
    /// with recall 0).
    #[test]
    fn confusion_precision_recall_f1_by_hand() {
        let mut c = Confusion::<4>::new();
        c.counts = [[5, 0, 1, 0], [2, 3, 0, 0], [0, 0, 10, 0], [0, 0, 0, 0]];
        // Columns: 7, 3, 11, 0 predictions; rows: 6, 5, 10, 0 samples.
        let precision = [5.0 / 7.0, 1.0, 10.0 / 11.0, 0.0];
        let recall = [5.0 / 6.0, 3.0 / 5.0, 1.0, 0.0];
        let f1 = [10.0 / 13.0, 6.0 / 8.0, 20.0 / 21.0, 0.0];
        for k in 0..4 {
            assert!(close(c.precision(k), precision[k]), "precision {k}");
            assert!(close(c.recall(k), recall[k]), "recall {k}");
            assert!(close(c.f1(k), f1[k]), "f1 {k}");
            // F1 is the harmonic mean of precision and recall where both are defined.
            let (p, r) = (precision[k], recall[k]);
            if p + r > 0.0 {
                assert!(close(c.f1(k), 2.0 * p * r / (p + r)), "harmonic {k}");
            }
        }
        assert!(close(
            c.macro_precision(),
            (5.0 / 7.0 + 1.0 + 10.0 / 11.0) / 3.0
        ));
        assert!(close(c.macro_recall(), (5.0 / 6.0 + 0.6 + 1.0) / 3.0));
        assert!(close(
            c.macro_f1(),
            (10.0 / 13.0 + 0.75 + 20.0 / 21.0) / 3.0
        ));

        // Class 1 is predicted once but never true: precision 0/1, recall 0/0 = 0, F1 0.
        let mut d = Confusion::<3>::new();
        d.add(0, 0);
        d.add(0, 1);
        assert_eq!((d.precision(0), d.recall(0)), (1.0, 0.5));
        assert!(close(d.f1(0), 2.0 / 3.0));
        assert_eq!((d.precision(1), d.recall(1), d.f1(1)), (0.0, 0.0, 0.0));
        assert_eq!(d.macro_precision(), 0.5);
        assert_eq!(d.macro_recall(), 0.25);
        assert!(close(d.macro_f1(), 1.0 / 3.0));
        // A class beyond N has neither samples nor predictions.
        assert_eq!((d.precision(7), d.recall(7), d.f1(7)), (0.0, 0.0, 0.0));
    }

    #[test]
    fn confusion_empty_is_all_zero() {
        let c = Confusion::<3>::new();
        for k in 0..3 {
            assert_eq!((c.precision(k), c.recall(k), c.f1(k)), (0.0, 0.0, 0.0));
        }
        assert_eq!(
            (c.macro_precision(), c.macro_recall(), c.macro_f1()),
            (0.0, 0.0, 0.0)
        );
    }

    /// A fixed buffer to format into without `alloc`.
    struct Buf {
        bytes: [u8; 1024],
        len: usize,
    }

    impl fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len + s.len();
            self.bytes
                .get_mut(self.len..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    fn show<const N: usize>(c: &Confusion<N>) -> Buf {
        let mut buf = Buf {
            bytes: [0; 1024],
            len: 0,
        };
        fmt::write(&mut buf, format_args!("{c}")).unwrap();
        buf
    }

    /// The layout: columns as wide as the largest count or class label, rows labelled by
    /// true class, every line as long as the header.
    #[test]
    fn confusion_displays_as_an_aligned_table() {
        let mut c = Confusion::<12>::new();
        c.add(0, 0);
        c.add(11, 3);
        let buf = show(&c);
        let text = core::str::from_utf8(&buf.bytes[..buf.len]).unwrap();
        let mut lines = [""; 13];
        let mut n = 0;
        for line in text.lines() {
            lines[n] = line;
            n += 1;
        }
        assert_eq!(n, 13);
        assert_eq!(
            lines[0],
            "true\\pred   0   1   2   3   4   5   6   7   8   9  10  11"
        );
        assert_eq!(
            lines[1],
            "        0   1   0   0   0   0   0   0   0   0   0   0   0"
        );
        assert_eq!(
            lines[12],
            "       11   0   0   0   1   0   0   0   0   0   0   0   0"
        );
        assert!(lines.iter().all(|l| l.len() == lines[0].len()));

        let mut big = Confusion::<2>::new();
        big.counts = [[12345, 7], [0, 3]];
        let buf = show(&big);
        assert_eq!(
            core::str::from_utf8(&buf.bytes[..buf.len]).unwrap(),
            "true\\pred      0      1\n        0  12345      7\n        1      0      3"
        );
    }
}
