//! Feeding data to a network without copying it and without a heap.
//!
//! Everything here borrows: a [`Dataset`] is a view over the caller's slices of samples and
//! targets, a [`Loader`] permutes an index buffer the caller provides and copies each
//! mini-batch into matrices the caller owns, and the split helpers write row numbers into a
//! caller's buffer and hand back sub-slices of it. Nothing allocates, so all of it works in a
//! `#![no_std]` program without an allocator.
//!
//! | piece | what it does |
//! | --- | --- |
//! | [`Dataset`] | samples `&[[T; IN]]` with targets `&[Y]`, optionally a selection of rows |
//! | [`Loader`] | shuffled mini-batches `SMatrix<T, IN, B>` + targets, one epoch at a time |
//! | [`split`], [`split_stratified`] | seeded train / validation / test row sets |
//! | [`Standardise`], [`MeanImage`], [`ChannelMean`] | pre-processing fitted on training data |
//! | [`Chw`], [`RandomFlip`], [`RandomTranslate`], [`GaussianNoise`] | image augmentation |
//! | [`Window`], [`RandomCrop`], [`tta`] | crops, and test-time augmentation over fixed views |
//! | `read_csv`, `load_csv` (feature `std`) | a numeric CSV file into owned samples and labels |
//!
//! A training loop with all of it:
//!
//! ```
//! use staticnn::prelude::*;
//! use staticnn::data::{Dataset, Loader, Remainder, Standardise};
//! use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
//!
//! network! {
//!     struct Net {
//!         input: 2,
//!         Linear(8),
//!         Tanh,
//!         Linear(2),
//!         loss: SoftmaxCrossEntropy,
//!     }
//! }
//!
//! // Two blobs, labelled by which side of x = 5 they lie on.
//! let xs: [[f32; 2]; 8] =
//!     [[1., 0.], [2., 1.], [1., 2.], [2., 3.], [8., 0.], [9., 1.], [8., 2.], [9., 3.]];
//! let ys: [usize; 8] = [0, 0, 0, 0, 1, 1, 1, 1];
//! let train = Dataset::new(&xs, &ys)?;
//! let norm = Standardise::fit(&train)?;
//!
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
//! let mut net = Net::<f32>::new(&mut rng);
//! let (mut tape, mut grads, mut sgd) = (Net::<f32>::tape::<4>(), Net::<f32>::gradients(), Sgd::new(0.5));
//!
//! let mut order = [0usize; 8];
//! let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
//! let mut x = SMatrix::<f32, 2, 4>::zeros();
//! let mut y = [ClassIndex::<2>::default(); 4];
//! for _epoch in 0..50 {
//!     loader.start_epoch(&mut rng);
//!     while loader.next_batch(&mut x, &mut y, &mut rng).is_some() {
//!         norm.apply_batch(&mut x);
//!         net.train_step(&x, &y, &mut grads, &mut tape, &mut sgd, &mut rng)?;
//!     }
//! }
//! let mut probe = [[8.5f32, 1.5]];
//! norm.apply(&mut probe[0]);
//! assert_eq!(net.classify(&SMatrix::<f32, 2, 1>::from_column_slice(&probe[0])), [1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod augment;
mod crop;
#[cfg(feature = "std")]
mod csv;
mod dataset;
mod loader;
mod preprocess;
mod split;
pub mod tta;

pub use augment::{Augment, Chw, GaussianNoise, RandomFlip, RandomTranslate};
pub use crop::{RandomCrop, Window};
#[cfg(feature = "std")]
pub use csv::{Csv, CsvError, LabelColumn, load_csv, read_csv};
pub use dataset::{Dataset, Label, Targets};
pub use loader::{Loader, Remainder, shuffle};
pub use preprocess::{ChannelMean, MeanImage, Preprocess, Standardise};
pub use split::{Ratio, Split, split, split_stratified};

use core::fmt;

/// What can be wrong with data handed to this module. Every check happens once, when a
/// [`Dataset`], [`Loader`], split or pre-processing step is made; nothing here panics on bad
/// data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataError {
    /// There are not as many targets as samples.
    LengthMismatch {
        /// Number of samples.
        inputs: usize,
        /// Number of targets.
        targets: usize,
    },
    /// A flat slice of features is not a whole number of samples.
    RaggedInputs {
        /// Length of the flat slice.
        len: usize,
        /// Features per sample.
        width: usize,
    },
    /// A selected row is not a row of the data.
    RowOutOfRange {
        /// The offending row number.
        row: usize,
        /// Number of rows in the data.
        rows: usize,
    },
    /// A class label is not below the number of classes.
    LabelOutOfRange {
        /// Row of the data (in the caller's slices) that holds the label.
        row: usize,
        /// The label.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// An index buffer does not have one entry per sample.
    BufferLength {
        /// The length it must have.
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// There are no samples.
    Empty,
    /// [`Remainder::Drop`] with fewer samples than one batch: every epoch would be empty.
    TooFewSamples {
        /// Number of samples.
        samples: usize,
        /// Batch size.
        batch: usize,
    },
    /// A split asks for more validation and test samples than there are samples.
    SplitTooLarge {
        /// Number of samples.
        samples: usize,
        /// Validation plus test samples asked for.
        requested: usize,
    },
    /// A [`Ratio`] whose parts are all zero.
    EmptyRatio,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DataError::LengthMismatch { inputs, targets } => {
                write!(f, "{inputs} samples but {targets} targets")
            }
            DataError::RaggedInputs { len, width } => write!(
                f,
                "{len} features is not a whole number of samples of {width} features"
            ),
            DataError::RowOutOfRange { row, rows } => {
                write!(f, "row {row} selected, but the data has {rows} rows")
            }
            DataError::LabelOutOfRange {
                row,
                label,
                classes,
            } => write!(
                f,
                "row {row} has label {label}, but there are {classes} classes"
            ),
            DataError::BufferLength { expected, found } => write!(
                f,
                "index buffer holds {found} entries, but there are {expected} samples"
            ),
            DataError::Empty => f.write_str("no samples"),
            DataError::TooFewSamples { samples, batch } => write!(
                f,
                "{samples} samples cannot fill one batch of {batch}, and the remainder is dropped"
            ),
            DataError::SplitTooLarge { samples, requested } => write!(
                f,
                "{requested} validation and test samples requested from {samples} samples"
            ),
            DataError::EmptyRatio => f.write_str("split ratio with every part zero"),
        }
    }
}

impl core::error::Error for DataError {}
