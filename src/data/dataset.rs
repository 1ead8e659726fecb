//! A borrowed view of samples and their targets.

use core::fmt;

use super::DataError;
use crate::{ClassIndex, SMatrix, Scalar};

/// Samples `&[[T; IN]]` and their targets `&[Y]`, borrowed, never copied; optionally only
/// some rows of them (see [`select`](Dataset::select)).
///
/// Targets are whatever the task needs: class labels (`usize`, `u8`, `u16`, `u32` or
/// [`ClassIndex<N>`]), or target vectors `[T; OUT]`. How a batch of them is built is the
/// business of [`Targets`]. The lengths are checked when the view is made:
///
/// ```
/// use staticnn::data::{DataError, Dataset};
/// let xs = [[0.0f32, 1.0], [2.0, 3.0], [4.0, 5.0]];
/// let data = Dataset::new(&xs, &[0u8, 1, 1])?;
/// assert_eq!(data.len(), 3);
/// assert_eq!(data.get(1), Some((&[2.0, 3.0], &1)));
///
/// assert_eq!(
///     Dataset::new(&xs, &[0u8, 1]).unwrap_err(),
///     DataError::LengthMismatch { inputs: 3, targets: 2 }
/// );
/// # Ok::<(), DataError>(())
/// ```
pub struct Dataset<'a, T, const IN: usize, Y> {
    inputs: &'a [[T; IN]],
    targets: &'a [Y],
    rows: Option<&'a [usize]>,
}

impl<T, const IN: usize, Y> Clone for Dataset<'_, T, IN, Y> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, const IN: usize, Y> Copy for Dataset<'_, T, IN, Y> {}

impl<T, const IN: usize, Y> fmt::Debug for Dataset<'_, T, IN, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("len", &self.len())
            .field("features", &IN)
            .field("rows", &self.inputs.len())
            .field("selected", &self.rows.is_some())
            .finish()
    }
}

impl<'a, T, const IN: usize, Y> Dataset<'a, T, IN, Y> {
    /// A view of `inputs[i]` with target `targets[i]`, for every `i`.
    ///
    /// # Errors
    ///
    /// [`DataError::LengthMismatch`] when the slices differ in length.
    pub const fn new(inputs: &'a [[T; IN]], targets: &'a [Y]) -> Result<Self, DataError> {
        if inputs.len() != targets.len() {
            return Err(DataError::LengthMismatch {
                inputs: inputs.len(),
                targets: targets.len(),
            });
        }
        Ok(Dataset {
            inputs,
            targets,
            rows: None,
        })
    }

    /// A view of a flat slice holding the samples one after another, `IN` values each.
    ///
    /// ```
    /// use staticnn::data::Dataset;
    /// let flat = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    /// let data = Dataset::<_, 3, _>::from_flat(&flat, &[0usize, 1])?;
    /// assert_eq!(data.get(1).map(|(x, _)| *x), Some([4.0, 5.0, 6.0]));
    /// # Ok::<(), staticnn::data::DataError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataError::RaggedInputs`] when the length is not a multiple of `IN`, and
    /// [`DataError::LengthMismatch`] when the number of samples differs from the number of
    /// targets.
    pub fn from_flat(inputs: &'a [T], targets: &'a [Y]) -> Result<Self, DataError> {
        const { assert!(IN > 0, "a sample needs at least one feature") };
        let (samples, rest) = inputs.as_chunks::<IN>();
        if !rest.is_empty() {
            return Err(DataError::RaggedInputs {
                len: inputs.len(),
                width: IN,
            });
        }
        Self::new(samples, targets)
    }

    /// The same data restricted to `rows`, in that order: sample `i` of the result is row
    /// `rows[i]` of the slices given to [`new`](Dataset::new). Rows are always numbered in
    /// those slices, so selecting from a selection replaces it. The index sets of
    /// [`split`](super::split) are made for this.
    ///
    /// ```
    /// use staticnn::data::Dataset;
    /// let xs = [[0.0f32], [1.0], [2.0], [3.0]];
    /// let all = Dataset::new(&xs, &[0usize, 1, 2, 3])?;
    /// let some = all.select(&[3, 1])?;
    /// assert_eq!(some.len(), 2);
    /// assert_eq!(some.get(0), Some((&[3.0], &3)));
    /// assert_eq!(some.row(1), Some(1));
    /// assert!(all.select(&[4]).is_err());
    /// # Ok::<(), staticnn::data::DataError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataError::RowOutOfRange`] for the first row that is not below the number of rows.
    pub fn select(&self, rows: &'a [usize]) -> Result<Self, DataError> {
        let n = self.inputs.len();
        if let Some(&row) = rows.iter().find(|&&r| r >= n) {
            return Err(DataError::RowOutOfRange { row, rows: n });
        }
        Ok(Dataset {
            rows: Some(rows),
            ..*self
        })
    }

    /// Number of samples in the view.
    pub const fn len(&self) -> usize {
        match self.rows {
            Some(rows) => rows.len(),
            None => self.inputs.len(),
        }
    }

    /// Whether the view holds no sample.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The row, in the slices given to [`new`](Dataset::new), of sample `i` of the view.
    pub fn row(&self, i: usize) -> Option<usize> {
        match self.rows {
            Some(rows) => rows.get(i).copied(),
            None => (i < self.inputs.len()).then_some(i),
        }
    }

    /// Sample `i` of the view and its target.
    pub fn get(&self, i: usize) -> Option<(&'a [T; IN], &'a Y)> {
        self.row(i).map(|r| (&self.inputs[r], &self.targets[r]))
    }

    /// The samples of the view with their targets, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a [T; IN], &'a Y)> + Clone + 'a {
        let this = *self;
        (0..self.len()).map(move |i| this.sample(i))
    }

    /// Every row of the underlying samples, selected or not.
    pub const fn all_inputs(&self) -> &'a [[T; IN]] {
        self.inputs
    }

    /// Every row of the underlying targets, selected or not.
    pub const fn all_targets(&self) -> &'a [Y] {
        self.targets
    }

    /// The selected rows, if the view is a selection.
    pub const fn selection(&self) -> Option<&'a [usize]> {
        self.rows
    }

    /// Sample `i`, known to be in the view (rows were checked by `select`).
    pub(crate) fn sample(&self, i: usize) -> (&'a [T; IN], &'a Y) {
        let r = match self.rows {
            Some(rows) => rows[i],
            None => i,
        };
        (&self.inputs[r], &self.targets[r])
    }
}

/// A class label: a number that must be below the number of classes.
///
/// Implemented for the unsigned integers a data file is likely to store labels in, and for
/// [`ClassIndex`].
pub trait Label: Copy {
    /// The class number. A value that does not fit in `usize` gives `usize::MAX`, which no
    /// class count admits.
    fn class(self) -> usize;
}

impl Label for usize {
    fn class(self) -> usize {
        self
    }
}

impl Label for u8 {
    fn class(self) -> usize {
        usize::from(self)
    }
}

impl Label for u16 {
    fn class(self) -> usize {
        usize::from(self)
    }
}

impl Label for u32 {
    fn class(self) -> usize {
        usize::try_from(self).unwrap_or(usize::MAX)
    }
}

impl<const N: usize> Label for ClassIndex<N> {
    fn class(self) -> usize {
        self.get()
    }
}

/// The target of a batch of `B` samples, built from per-sample targets `Y`.
///
/// | per-sample target `Y` | batch target |
/// | --- | --- |
/// | a [`Label`] (`usize`, `u8`, …, `ClassIndex<M>`) | `[ClassIndex<N>; B]` |
/// | `[T; OUT]` | `SMatrix<T, OUT, B>`, one target per column |
///
/// These are exactly the targets of the losses: class indices for
/// [`SoftmaxCrossEntropy`](crate::loss::SoftmaxCrossEntropy) and
/// [`Hinge`](crate::loss::Hinge), matrices for [`Mse`](crate::loss::Mse) and
/// [`BceWithLogits`](crate::loss::BceWithLogits). Every per-sample target is
/// [checked](Targets::check) once, before any batch is filled, so filling cannot fail.
pub trait Targets<Y, const B: usize> {
    /// Whether `target`, found at `row` of the data, can be part of a batch.
    ///
    /// # Errors
    ///
    /// [`DataError::LabelOutOfRange`] for a class label not below the number of classes.
    fn check(target: &Y, row: usize) -> Result<(), DataError>;

    /// Makes `target` (already checked) the target of sample `column`.
    fn set(&mut self, column: usize, target: &Y);

    /// Resets the target of sample `column` to zero (class 0, or a zero vector): what a
    /// padded column holds.
    fn clear(&mut self, column: usize);
}

impl<L: Label, const N: usize, const B: usize> Targets<L, B> for [ClassIndex<N>; B] {
    fn check(target: &L, row: usize) -> Result<(), DataError> {
        let label = target.class();
        if label < N {
            Ok(())
        } else {
            Err(DataError::LabelOutOfRange {
                row,
                label,
                classes: N,
            })
        }
    }

    fn set(&mut self, column: usize, target: &L) {
        // `check` has accepted the label, so `new` cannot fail.
        self[column] = ClassIndex::new(target.class()).unwrap_or_default();
    }

    fn clear(&mut self, column: usize) {
        self[column] = ClassIndex::default();
    }
}

impl<T: Scalar, const OUT: usize, const B: usize> Targets<[T; OUT], B> for SMatrix<T, OUT, B> {
    fn check(_: &[T; OUT], _: usize) -> Result<(), DataError> {
        Ok(())
    }

    fn set(&mut self, column: usize, target: &[T; OUT]) {
        self.column_mut(column).copy_from_slice(target);
    }

    fn clear(&mut self, column: usize) {
        self.column_mut(column).fill(T::zero());
    }
}
