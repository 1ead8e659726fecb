//! Seeded train / validation / test splits into a caller's index buffer.

use rand::Rng;

use super::loader::{identity, shuffle};
use super::{DataError, Label};

/// Three disjoint sets of rows that together cover `0..n`, each sorted ascending: pass
/// them to [`Dataset::select`](super::Dataset::select).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split<'b> {
    /// Rows to train on.
    pub train: &'b [usize],
    /// Rows to tune on (early stopping, hyperparameters).
    pub validation: &'b [usize],
    /// Rows to report on, once.
    pub test: &'b [usize],
}

impl<'b> Split<'b> {
    /// Splits `rows` (already partitioned) after `train` and `train + validation` entries
    /// and sorts each part.
    fn from_parts(rows: &'b mut [usize], train: usize, validation: usize) -> Self {
        let (tr, rest) = rows.split_at_mut(train);
        let (va, te) = rest.split_at_mut(validation);
        tr.sort_unstable();
        va.sort_unstable();
        te.sort_unstable();
        Split {
            train: tr,
            validation: va,
            test: te,
        }
    }
}

/// Splits `n = rows.len()` samples at random into `n − validation − test` training rows,
/// `validation` validation rows and `test` test rows, using `rows` as the buffer.
///
/// The rule, exactly: `rows` is set to `0, 1, …, n − 1` and [`shuffle`]d with `rng`; the
/// first `n − validation − test` entries are the training rows, the next `validation` the
/// validation rows, the last `test` the test rows; then each part is sorted ascending. The
/// same seed gives the same split.
///
/// ```
/// use staticnn::data::split;
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
/// let mut rows = [0usize; 10];
/// let s = split(&mut rows, 2, 3, &mut Xoshiro128PlusPlus::seed_from_u64(5))?;
/// assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (5, 2, 3));
/// # Ok::<(), staticnn::data::DataError>(())
/// ```
///
/// # Errors
///
/// [`DataError::SplitTooLarge`] when `validation + test > n`.
pub fn split<'b, R: Rng + ?Sized>(
    rows: &'b mut [usize],
    validation: usize,
    test: usize,
    rng: &mut R,
) -> Result<Split<'b>, DataError> {
    let n = rows.len();
    let requested = validation.saturating_add(test);
    if requested > n {
        return Err(DataError::SplitTooLarge {
            samples: n,
            requested,
        });
    }
    identity(rows);
    shuffle(rows, rng);
    Ok(Split::from_parts(rows, n - requested, validation))
}

/// Proportions of a stratified split: out of every `train + validation + test` samples of
/// a class, `train` go to training, `validation` to validation and `test` to testing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ratio {
    /// Training share.
    pub train: usize,
    /// Validation share.
    pub validation: usize,
    /// Test share.
    pub test: usize,
}

/// Splits the samples whose class labels are `labels` at random, class by class, so that
/// each part gets each class in proportion `ratio`; `rows` (one entry per label) is the
/// buffer. `N` is the number of classes.
///
/// The rule, exactly: `rows` is set to `0, 1, …, n − 1` and [`shuffle`]d with `rng`. Then,
/// going through `rows` in that order and counting the samples of each class from `0`, the
/// `k`-th sample of its class goes to training when `k mod p < train`, to validation when
/// `train ≤ k mod p < train + validation`, and to testing otherwise, where
/// `p = train + validation + test`. Each part is then sorted ascending. So a class of
/// `m` samples puts `⌊m / p⌋·test` samples, plus at most `test` more, into the test set,
/// and a class smaller than `train` goes entirely to training. The same seed gives the
/// same split.
///
/// ```
/// use staticnn::data::{Ratio, split_stratified};
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
/// let labels = [0u8, 0, 0, 0, 0, 1, 1, 1, 1, 1];
/// let mut rows = [0usize; 10];
/// let ratio = Ratio { train: 3, validation: 1, test: 1 };
/// let s = split_stratified::<2>(&labels, &mut rows, ratio, &mut Xoshiro128PlusPlus::seed_from_u64(5))?;
/// assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (6, 2, 2));
/// assert_eq!(s.test.iter().filter(|&&r| labels[r] == 0).count(), 1);
/// # Ok::<(), staticnn::data::DataError>(())
/// ```
///
/// # Errors
///
/// [`DataError::EmptyRatio`] when every part of `ratio` is zero,
/// [`DataError::BufferLength`] when `rows.len() != labels.len()`, and
/// [`DataError::LabelOutOfRange`] for the first label not below `N`.
pub fn split_stratified<'b, const N: usize>(
    labels: &[impl Label],
    rows: &'b mut [usize],
    ratio: Ratio,
    rng: &mut (impl Rng + ?Sized),
) -> Result<Split<'b>, DataError> {
    let period = ratio
        .train
        .saturating_add(ratio.validation)
        .saturating_add(ratio.test);
    if period == 0 {
        return Err(DataError::EmptyRatio);
    }
    if rows.len() != labels.len() {
        return Err(DataError::BufferLength {
            expected: labels.len(),
            found: rows.len(),
        });
    }
    if let Some((row, label)) = labels
        .iter()
        .map(|l| l.class())
        .enumerate()
        .find(|&(_, l)| l >= N)
    {
        return Err(DataError::LabelOutOfRange {
            row,
            label,
            classes: N,
        });
    }
    identity(rows);
    shuffle(rows, rng);

    // One pass in permutation order. `rows[..a]` holds training rows, `rows[a..b]`
    // validation rows, `rows[b..i]` test rows; every swap involves positions up to `i` only,
    // so the entries after `i` are still in permutation order when the walk reaches them.
    let mut seen = [0usize; N];
    let (mut a, mut b) = (0, 0);
    for i in 0..rows.len() {
        let class = labels[rows[i]].class();
        let k = seen[class] % period;
        seen[class] += 1;
        if k < ratio.train {
            rows.swap(b, i);
            rows.swap(a, b);
            a += 1;
            b += 1;
        } else if k < ratio.train + ratio.validation {
            rows.swap(b, i);
            b += 1;
        }
    }
    Ok(Split::from_parts(rows, a, b - a))
}
