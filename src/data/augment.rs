//! Random augmentation of image-shaped samples whose shape is known at compile time.

use rand::{Rng, RngExt};

use crate::init::standard_normal_pair;
use crate::{SMatrix, Scalar};

/// The shape of an image sample: `C` channels of `H` rows of `W` pixels, stored
/// channel-major and row-major within a channel, as PyTorch's `C×H×W` tensors: pixel
/// `(c, r, w)` is feature `(c·H + r)·W + w` of a sample of `C·H·W` features.
///
/// The shape is a type, so the functions here take samples `[T; N]` of any width `N` and
/// check `N == C·H·W` when the code is compiled. That check is a post-monomorphisation
/// error: `cargo build` and `cargo test` report it, `cargo check` does not.
///
/// ```
/// use staticnn::data::Chw;
/// type Img = Chw<1, 2, 3>; // one channel, two rows of three pixels
/// let mut x = [1, 2, 3, 4, 5, 6];
/// Img::hflip(&mut x);
/// assert_eq!(x, [3, 2, 1, 6, 5, 4]);
/// assert_eq!(Img::index(0, 1, 0), 3);
/// ```
///
/// A sample of the wrong width does not build:
///
/// ```compile_fail
/// use staticnn::data::Chw;
/// let mut x = [0.0f32; 5];
/// Chw::<1, 2, 3>::hflip(&mut x); // 5 ≠ 1·2·3
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Chw<const C: usize, const H: usize, const W: usize>;

impl<const C: usize, const H: usize, const W: usize> Chw<C, H, W> {
    /// Features per sample: `C·H·W`.
    pub const LEN: usize = C * H * W;

    /// Where pixel `(channel, row, column)` is in a sample.
    pub const fn index(channel: usize, row: usize, column: usize) -> usize {
        (channel * H + row) * W + column
    }

    /// Mirrors every row of the image left to right: pixel `(c, r, w)` moves to
    /// `(c, r, W − 1 − w)` (`torchvision.transforms.functional.hflip`).
    pub fn hflip<T, const N: usize>(x: &mut [T; N]) {
        const {
            assert!(
                C > 0 && H > 0 && W > 0 && N == C * H * W,
                "sample width is not C·H·W"
            )
        };
        for row in x.chunks_exact_mut(W) {
            row.reverse();
        }
    }

    /// Moves the image `dy` rows down and `dx` columns right (up and left when negative):
    /// pixel `(c, r, w)` takes the value of `(c, r − dy, w − dx)`, or 0 where that is
    /// outside the image. This is a crop of the same size from the image padded with zeros.
    ///
    /// ```
    /// use staticnn::data::Chw;
    /// let mut x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    /// Chw::<1, 3, 3>::translate(&mut x, 1, -1);
    /// assert_eq!(x, [0, 0, 0, 2, 3, 0, 5, 6, 0]);
    /// ```
    pub fn translate<T: Copy + Default, const N: usize>(x: &mut [T; N], dy: isize, dx: isize) {
        const {
            assert!(
                C > 0 && H > 0 && W > 0 && N == C * H * W,
                "sample width is not C·H·W"
            )
        };
        let shift = dx.unsigned_abs().min(W);
        let kept = W - shift;
        for plane in x.chunks_exact_mut(H * W) {
            // Rows are rewritten in the order that reads each source row before it is
            // overwritten: bottom-up when moving down, top-down otherwise.
            for k in 0..H {
                let r = if dy > 0 { H - 1 - k } else { k };
                let dst = r * W;
                let src = (r as isize)
                    .checked_sub(dy)
                    .and_then(|s| usize::try_from(s).ok())
                    .filter(|&s| s < H)
                    .map(|s| s * W);
                match src {
                    Some(src) if kept > 0 => {
                        if dx >= 0 {
                            plane.copy_within(src..src + kept, dst + shift);
                            plane[dst..dst + shift].fill(T::default());
                        } else {
                            plane.copy_within(src + shift..src + W, dst);
                            plane[dst + kept..dst + W].fill(T::default());
                        }
                    }
                    _ => plane[dst..dst + W].fill(T::default()),
                }
            }
        }
    }
}

/// A random transformation of a sample of `N` features, in place. Each sample of a batch
/// gets its own draws.
///
/// A tuple of augmentations applies them in order, to each sample before the next:
/// `(RandomFlip::<1, 8, 8>::default(), GaussianNoise { std: 0.1 })`.
pub trait Augment<T: Scalar, const N: usize> {
    /// Transforms one sample, drawing from `rng`.
    fn augment<R: Rng + ?Sized>(&self, x: &mut [T; N], rng: &mut R);

    /// Transforms every sample (column) of a batch, column 0 first.
    fn augment_batch<const B: usize, R: Rng + ?Sized>(
        &self,
        x: &mut SMatrix<T, N, B>,
        rng: &mut R,
    ) {
        for column in x.as_mut_slice().as_chunks_mut::<N>().0 {
            self.augment(column, rng);
        }
    }
}

/// No augmentation: the identity.
impl<T: Scalar, const N: usize> Augment<T, N> for () {
    fn augment<R: Rng + ?Sized>(&self, _: &mut [T; N], _: &mut R) {}

    fn augment_batch<const B: usize, R: Rng + ?Sized>(&self, _: &mut SMatrix<T, N, B>, _: &mut R) {}
}

impl<T: Scalar, const N: usize, A1: Augment<T, N>, A2: Augment<T, N>> Augment<T, N> for (A1, A2) {
    fn augment<R: Rng + ?Sized>(&self, x: &mut [T; N], rng: &mut R) {
        self.0.augment(x, rng);
        self.1.augment(x, rng);
    }
}

impl<T: Scalar, const N: usize, A1, A2, A3> Augment<T, N> for (A1, A2, A3)
where
    A1: Augment<T, N>,
    A2: Augment<T, N>,
    A3: Augment<T, N>,
{
    fn augment<R: Rng + ?Sized>(&self, x: &mut [T; N], rng: &mut R) {
        self.0.augment(x, rng);
        self.1.augment(x, rng);
        self.2.augment(x, rng);
    }
}

/// Whether a draw of 32 random bits falls below probability `p` (clamped to `[0, 1]`).
fn coin<R: Rng + ?Sized>(p: f64, rng: &mut R) -> bool {
    f64::from(rng.next_u32()) < p * 4_294_967_296.0
}

/// Mirrors the image left to right ([`Chw::hflip`]) with probability `p` (0.5 by default),
/// as `torchvision.transforms.RandomHorizontalFlip`. One `u32` is drawn per sample; it
/// flips when the draw is below `p·2³²`.
///
/// ```
/// use staticnn::data::{Augment, RandomFlip};
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
/// let mut x = [1.0f32, 2.0, 3.0];
/// RandomFlip::<1, 1, 3>::new(1.0).augment(&mut x, &mut Xoshiro128PlusPlus::seed_from_u64(0));
/// assert_eq!(x, [3.0, 2.0, 1.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomFlip<const C: usize, const H: usize, const W: usize> {
    /// Probability of flipping a sample.
    pub p: f64,
}

impl<const C: usize, const H: usize, const W: usize> RandomFlip<C, H, W> {
    /// Flips with probability `p`.
    pub const fn new(p: f64) -> Self {
        RandomFlip { p }
    }
}

impl<const C: usize, const H: usize, const W: usize> Default for RandomFlip<C, H, W> {
    fn default() -> Self {
        RandomFlip { p: 0.5 }
    }
}

impl<T: Scalar, const C: usize, const H: usize, const W: usize, const N: usize> Augment<T, N>
    for RandomFlip<C, H, W>
{
    fn augment<R: Rng + ?Sized>(&self, x: &mut [T; N], rng: &mut R) {
        if coin(self.p, rng) {
            Chw::<C, H, W>::hflip(x);
        }
    }
}

/// Moves the image by a random whole number of pixels, filling with zeros
/// ([`Chw::translate`]): `dy` uniform in `−max_dy..=max_dy`, then `dx` uniform in
/// `−max_dx..=max_dx`, drawn per sample in that order. The output has the input's shape.
///
/// This is `torchvision.transforms.RandomCrop((H, W), padding=(max_dx, max_dy))` with zero
/// fill: pad, then crop the original size at a random offset.
///
/// ```
/// use staticnn::data::{Augment, RandomTranslate};
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
/// let mut x = [1.0f32; 16];
/// RandomTranslate::<1, 4, 4>::new(1, 1).augment(&mut x, &mut Xoshiro128PlusPlus::seed_from_u64(0));
/// assert!(x.iter().sum::<f32>() >= 9.0); // at most one row and one column lost
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RandomTranslate<const C: usize, const H: usize, const W: usize> {
    /// Largest vertical move, in pixels.
    pub max_dy: usize,
    /// Largest horizontal move, in pixels.
    pub max_dx: usize,
}

impl<const C: usize, const H: usize, const W: usize> RandomTranslate<C, H, W> {
    /// Moves of up to `max_dy` rows and `max_dx` columns either way.
    pub const fn new(max_dy: usize, max_dx: usize) -> Self {
        RandomTranslate { max_dy, max_dx }
    }
}

/// A uniform draw from `−max..=max`; moves beyond `limit` all give a blank image, so `max`
/// is first capped there.
fn offset<R: Rng + ?Sized>(max: usize, limit: usize, rng: &mut R) -> isize {
    let max = max.min(limit);
    let k = rng.random_range(0..=2 * max);
    // `k` and `max` are at most twice an image side, far below `isize::MAX`.
    k as isize - max as isize
}

impl<T: Scalar, const C: usize, const H: usize, const W: usize, const N: usize> Augment<T, N>
    for RandomTranslate<C, H, W>
{
    fn augment<R: Rng + ?Sized>(&self, x: &mut [T; N], rng: &mut R) {
        let dy = offset(self.max_dy, H, rng);
        let dx = offset(self.max_dx, W, rng);
        Chw::<C, H, W>::translate(x, dy, dx);
    }
}

/// Adds independent Gaussian noise of standard deviation `std` to every feature:
/// `x_k ← x_k + std·z_k`, `z_k ~ N(0, 1)` drawn in `f64` by
/// [`standard_normal_pair`], both values of each pair in turn (so `f32` and `f64` samples get
/// the same noise, rounded) in storage order. Any sample shape.
///
/// ```
/// use staticnn::data::{Augment, GaussianNoise};
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
/// let mut x = [0.0f64; 4];
/// GaussianNoise { std: 0.0 }.augment(&mut x, &mut Xoshiro128PlusPlus::seed_from_u64(0));
/// assert_eq!(x, [0.0; 4]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GaussianNoise {
    /// Standard deviation of the noise.
    pub std: f64,
}

impl<T: Scalar, const N: usize> Augment<T, N> for GaussianNoise {
    fn augment<R: Rng + ?Sized>(&self, x: &mut [T; N], rng: &mut R) {
        for pair in x.chunks_mut(2) {
            for (v, z) in pair.iter_mut().zip(standard_normal_pair::<f64, R>(rng)) {
                *v += T::of(self.std * z);
            }
        }
    }
}
