//! Shuffled mini-batches over a [`Dataset`], written into the caller's matrices.

use core::fmt;
use core::marker::PhantomData;

use rand::{Rng, RngExt};

use super::{DataError, Dataset, Targets};
use crate::{SMatrix, Scalar};

/// Shuffles `items` in place with the Fisher–Yates algorithm: for `i` from `len − 1` down to
/// `1`, draw `j` uniformly from `0..=i` (`rng.random_range(0..=i)`) and swap items `i` and
/// `j`. Every permutation is equally likely; the same generator state gives the same
/// permutation (on every platform, for a portable generator: `rand` draws a `usize` range
/// that fits in 32 bits from 32 bits).
///
/// ```
/// use staticnn::data::shuffle;
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
/// let mut a = [0, 1, 2, 3, 4, 5, 6, 7];
/// shuffle(&mut a, &mut Xoshiro128PlusPlus::seed_from_u64(3));
/// let mut sorted = a;
/// sorted.sort();
/// assert_eq!(sorted, [0, 1, 2, 3, 4, 5, 6, 7]);
/// ```
pub fn shuffle<E, R: Rng + ?Sized>(items: &mut [E], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// Writes `0, 1, …, len − 1` into `order`.
pub(crate) fn identity(order: &mut [usize]) {
    for (i, o) in order.iter_mut().enumerate() {
        *o = i;
    }
}

/// What happens to the samples of an epoch that do not fill a whole batch (`len % B` of
/// them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Remainder {
    /// They are left out of this epoch (the default, and `drop_last = True` in PyTorch's
    /// `DataLoader`). Every batch is full and each epoch has `⌊len / B⌋` batches; as the
    /// order is reshuffled every epoch, a different remainder is left out each time.
    #[default]
    Drop,
    /// The last batch is completed from the start of the next permutation, which the
    /// following epoch then continues instead of drawing a fresh one. Every batch is full,
    /// and the batches of successive epochs, read one after another, are whole
    /// permutations of the data back to back: no sample is skipped or repeated within one.
    Wrap,
    /// The last batch holds the remainder in its first columns; the other columns are
    /// zero and their targets class 0 or zero vectors. [`Loader::next_batch`] reports
    /// how many columns are real. For evaluation with a fixed batch size; training on a
    /// padded batch would learn from the padding.
    Pad,
}

/// Mini-batches of `B` samples from a [`Dataset`], reshuffled every epoch.
///
/// The loader permutes `order`, a buffer of one `usize` per sample that the caller
/// provides, and copies the samples of each batch into a matrix `SMatrix<T, IN, B>` and
/// targets `Tg` (see [`Targets`]) that the caller owns, so it allocates nothing, and the
/// caller can pre-process or augment the batch in place before using it. The generator is
/// passed to each call rather than kept, so the same one can also drive dropout.
///
/// Every epoch's permutation is a Fisher–Yates [`shuffle`] of `0..len` drawn from the
/// caller's generator: the same seed and the same calls give the same batches.
/// Class labels are checked against the class count of `Tg` when the loader is made.
///
/// ```
/// use staticnn::ClassIndex;
/// use staticnn::SMatrix;
/// use staticnn::data::{Dataset, Loader, Remainder};
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
///
/// let xs: [[f32; 1]; 5] = [[0.], [1.], [2.], [3.], [4.]];
/// let data = Dataset::new(&xs, &[0usize, 1, 0, 1, 0])?;
/// let mut order = [0usize; 5];
/// let mut loader = Loader::new(data, &mut order, Remainder::Pad)?;
/// let mut x = SMatrix::<f32, 1, 2>::zeros();
/// let mut y = [ClassIndex::<2>::default(); 2];
/// let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
///
/// loader.start_epoch(&mut rng);
/// let mut seen = 0.0;
/// let mut valid = [0; 3];
/// for v in &mut valid {
///     *v = loader.next_batch(&mut x, &mut y, &mut rng).unwrap_or(0);
///     seen += x.sum(); // padded columns are zero
/// }
/// assert_eq!(valid, [2, 2, 1]);
/// assert_eq!(seen, 10.0);
/// assert_eq!(loader.next_batch(&mut x, &mut y, &mut rng), None);
/// # Ok::<(), staticnn::data::DataError>(())
/// ```
pub struct Loader<'d, 'o, T, const IN: usize, Y, Tg, const B: usize> {
    data: Dataset<'d, T, IN, Y>,
    order: &'o mut [usize],
    policy: Remainder,
    /// Position in `order` of the next sample.
    pos: usize,
    /// The current epoch has handed out its last batch (or none was started).
    done: bool,
    /// The current epoch permutes its order (as opposed to `start_in_order`).
    shuffled: bool,
    /// Under `Wrap`, `order` holds a permutation the last batch already started on.
    carried: bool,
    targets: PhantomData<fn(&mut Tg)>,
}

impl<T, const IN: usize, Y, Tg, const B: usize> fmt::Debug for Loader<'_, '_, T, IN, Y, Tg, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("data", &self.data)
            .field("batch", &B)
            .field("policy", &self.policy)
            .field("position", &self.pos)
            .field("epoch_over", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'d, 'o, T, const IN: usize, Y, Tg, const B: usize> Loader<'d, 'o, T, IN, Y, Tg, B>
where
    T: Scalar,
    Tg: Targets<Y, B>,
{
    /// A loader over `data`, with `order` (one entry per sample) as its index buffer.
    /// No epoch is under way until [`start_epoch`](Loader::start_epoch) or
    /// [`start_in_order`](Loader::start_in_order).
    ///
    /// # Errors
    ///
    /// - [`DataError::Empty`] when `data` holds no sample;
    /// - [`DataError::BufferLength`] when `order.len() != data.len()`;
    /// - [`DataError::TooFewSamples`] under [`Remainder::Drop`] with fewer than `B` samples;
    /// - [`DataError::LabelOutOfRange`] for the first label that `Tg` cannot hold.
    pub fn new(
        data: Dataset<'d, T, IN, Y>,
        order: &'o mut [usize],
        policy: Remainder,
    ) -> Result<Self, DataError> {
        const { assert!(B > 0, "a batch needs at least one sample") };
        let n = data.len();
        if n == 0 {
            return Err(DataError::Empty);
        }
        if order.len() != n {
            return Err(DataError::BufferLength {
                expected: n,
                found: order.len(),
            });
        }
        if policy == Remainder::Drop && n < B {
            return Err(DataError::TooFewSamples {
                samples: n,
                batch: B,
            });
        }
        for i in 0..n {
            let (_, target) = data.sample(i);
            Tg::check(target, data.row(i).unwrap_or(i))?;
        }
        identity(order);
        Ok(Loader {
            data,
            order,
            policy,
            pos: 0,
            done: true,
            shuffled: false,
            carried: false,
            targets: PhantomData,
        })
    }

    /// Starts an epoch in a new random order. Under [`Remainder::Wrap`], when the previous
    /// epoch's last batch already started on the next permutation, the epoch continues
    /// that permutation instead of drawing one.
    pub fn start_epoch<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.done = false;
        self.shuffled = true;
        if self.carried {
            self.carried = false;
        } else {
            self.reshuffle(rng);
        }
    }

    /// Starts an epoch that visits the samples in the order of the data set, for
    /// evaluation. Under [`Remainder::Wrap`], its last batch wraps around to sample 0.
    pub fn start_in_order(&mut self) {
        self.done = false;
        self.shuffled = false;
        self.carried = false;
        identity(self.order);
        self.pos = 0;
    }

    /// Fills `x` (one sample per column) and `t` with the next batch of the current epoch
    /// and returns how many columns hold samples: `B`, except for the last batch under
    /// [`Remainder::Pad`]. Returns `None`, leaving `x` and `t` alone, once the epoch is
    /// over (or before the first one is started). `rng` is drawn from only under
    /// [`Remainder::Wrap`], when the last batch needs the next permutation.
    pub fn next_batch<R: Rng + ?Sized>(
        &mut self,
        x: &mut SMatrix<T, IN, B>,
        t: &mut Tg,
        rng: &mut R,
    ) -> Option<usize> {
        let n = self.order.len();
        if self.done || (self.policy == Remainder::Drop && n - self.pos < B) {
            self.done = true;
            return None;
        }
        let (columns, _) = x.as_mut_slice().as_chunks_mut::<IN>();
        let mut valid = B;
        let mut wrapped = false;
        for (b, column) in columns.iter_mut().enumerate() {
            if self.pos == n {
                match self.policy {
                    Remainder::Pad => {
                        valid = valid.min(b);
                        column.fill(T::zero());
                        t.clear(b);
                        continue;
                    }
                    // `Drop` never gets here: a short batch is refused above.
                    Remainder::Drop | Remainder::Wrap => {
                        if self.shuffled {
                            self.reshuffle(rng);
                        } else {
                            identity(self.order);
                        }
                        self.pos = 0;
                        wrapped = true;
                    }
                }
            }
            let (sample, target) = self.data.sample(self.order[self.pos]);
            *column = *sample;
            t.set(b, target);
            self.pos += 1;
        }
        self.done = match self.policy {
            Remainder::Drop => n - self.pos < B,
            Remainder::Pad => self.pos == n,
            Remainder::Wrap => wrapped || self.pos == n,
        };
        self.carried = wrapped && self.shuffled && self.pos < n;
        Some(valid)
    }

    /// Batches still to come in the current epoch (`0` when none is under way).
    pub fn remaining(&self) -> usize {
        if self.done {
            return 0;
        }
        let left = self.order.len() - self.pos;
        match self.policy {
            Remainder::Drop => left / B,
            Remainder::Wrap | Remainder::Pad => left.div_ceil(B),
        }
    }

    /// The data set the loader reads.
    pub fn data(&self) -> Dataset<'d, T, IN, Y> {
        self.data
    }

    /// The current order: entry `k` is the sample (of the [`Dataset`] view) that position
    /// `k` of the epoch visits.
    pub fn order(&self) -> &[usize] {
        self.order
    }

    /// The remainder policy.
    pub fn policy(&self) -> Remainder {
        self.policy
    }

    fn reshuffle<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        identity(self.order);
        shuffle(self.order, rng);
        self.pos = 0;
    }
}
