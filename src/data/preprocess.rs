//! Pre-processing fitted on training data and applied in place.

use super::{DataError, Dataset};
use crate::{SMatrix, Scalar};

/// A transformation of samples of `N` features whose statistics are fitted on a data set
/// (the training split: never fit on data you evaluate on) and then applied, in place, to
/// any sample or batch.
///
/// Statistics are accumulated in `f64` whatever `T` is, two-pass (mean first, then squared
/// deviations from it), and rounded to `T` at the end.
pub trait Preprocess<T: Scalar, const N: usize>: Sized {
    /// Fits the statistics on every sample of `data`.
    ///
    /// # Errors
    ///
    /// [`DataError::Empty`] when `data` holds no sample.
    fn fit<Y>(data: &Dataset<'_, T, N, Y>) -> Result<Self, DataError>;

    /// Transforms one sample in place.
    fn apply(&self, x: &mut [T; N]);

    /// Transforms every sample (column) of a batch in place.
    fn apply_batch<const B: usize>(&self, x: &mut SMatrix<T, N, B>) {
        for column in x.as_mut_slice().as_chunks_mut::<N>().0 {
            self.apply(column);
        }
    }

    /// Transforms every sample of a slice in place (a whole split, before training).
    fn apply_all(&self, xs: &mut [[T; N]]) {
        for x in xs {
            self.apply(x);
        }
    }
}

/// Features handled per pass over the data: the `f64` accumulators stay small (on the stack
/// of a microcontroller, too) while every pass still reads whole cache lines.
const BLOCK: usize = 32;

/// Calls `each(feature, mean, population variance)` for every feature of `data`, in order,
/// accumulating in `f64`. `data` must not be empty.
fn moments<T: Scalar, const N: usize, Y>(
    data: &Dataset<'_, T, N, Y>,
    mut each: impl FnMut(usize, f64, f64),
) {
    let n = data.len() as f64;
    let mut start = 0;
    while start < N {
        let end = N.min(start + BLOCK);
        let mut mean = [0.0f64; BLOCK];
        for (x, _) in data.iter() {
            for (m, v) in mean.iter_mut().zip(&x[start..end]) {
                *m += v.as_f64();
            }
        }
        for m in &mut mean {
            *m /= n;
        }
        let mut var = [0.0f64; BLOCK];
        for (x, _) in data.iter() {
            for ((s, v), m) in var.iter_mut().zip(&x[start..end]).zip(&mean) {
                let d = v.as_f64() - m;
                *s += d * d;
            }
        }
        for k in start..end {
            each(k, mean[k - start], var[k - start] / n);
        }
        start = end;
    }
}

fn non_empty<T, const N: usize, Y>(data: &Dataset<'_, T, N, Y>) -> Result<(), DataError> {
    if data.is_empty() {
        Err(DataError::Empty)
    } else {
        Ok(())
    }
}

/// Per-feature standardisation: `x_k ← (x_k − μ_k) / σ_k`, with `μ_k` the mean and `σ_k`
/// the *population* standard deviation (divisor `n`, as `torch.std(unbiased=False)` and
/// scikit-learn's `StandardScaler`) of feature `k` over the fitted data. After it, every
/// feature of the fitted data has mean 0 and standard deviation 1.
///
/// A feature that does not vary, `σ_k ≤ 10⁻⁶·|μ_k|` (which includes `σ_k = 0`), is only
/// centred: its `σ_k` is stored as 1, so it becomes 0 rather than noise divided by noise.
///
/// ```
/// use staticnn::data::{Dataset, Preprocess, Standardise};
/// let xs = [[1.0f64, 5.0], [3.0, 5.0]];
/// let s = Standardise::fit(&Dataset::new(&xs, &[(); 2])?)?;
/// assert_eq!((s.mean, s.std), ([2.0, 5.0], [1.0, 1.0]));
/// let mut x = [4.0, 6.0];
/// s.apply(&mut x);
/// assert_eq!(x, [2.0, 1.0]);
/// # Ok::<(), staticnn::data::DataError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standardise<T, const N: usize> {
    /// `μ_k`, per feature.
    pub mean: [T; N],
    /// `σ_k`, per feature; 1 for a feature that does not vary.
    pub std: [T; N],
}

impl<T: Scalar, const N: usize> Standardise<T, N> {
    /// A feature is treated as constant when `σ ≤ CONSTANT_RELATIVE_STD · |μ|`.
    pub const CONSTANT_RELATIVE_STD: f64 = 1e-6;
}

impl<T: Scalar, const N: usize> Preprocess<T, N> for Standardise<T, N> {
    fn fit<Y>(data: &Dataset<'_, T, N, Y>) -> Result<Self, DataError> {
        non_empty(data)?;
        let mut s = Standardise {
            mean: [T::zero(); N],
            std: [T::one(); N],
        };
        moments(data, |k, mean, var| {
            let std = libm::sqrt(var);
            s.mean[k] = T::of(mean);
            if std > Self::CONSTANT_RELATIVE_STD * mean.abs() {
                s.std[k] = T::of(std);
            }
        });
        Ok(s)
    }

    fn apply(&self, x: &mut [T; N]) {
        for ((v, &m), &s) in x.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
    }
}

/// Mean subtraction, per feature: `x_k ← x_k − μ_k`, with `μ_k` the mean of feature `k`
/// over the fitted data. For images this subtracts the "mean image" (Krizhevsky et al.,
/// 2012).
///
/// ```
/// use staticnn::data::{Dataset, MeanImage, Preprocess};
/// let xs = [[1.0f32, 4.0], [3.0, 8.0]];
/// let m = MeanImage::fit(&Dataset::new(&xs, &[(); 2])?)?;
/// assert_eq!(m.mean, [2.0, 6.0]);
/// # Ok::<(), staticnn::data::DataError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanImage<T, const N: usize> {
    /// `μ_k`, per feature.
    pub mean: [T; N],
}

impl<T: Scalar, const N: usize> Preprocess<T, N> for MeanImage<T, N> {
    fn fit<Y>(data: &Dataset<'_, T, N, Y>) -> Result<Self, DataError> {
        non_empty(data)?;
        let mut mean = [T::zero(); N];
        moments(data, |k, m, _| mean[k] = T::of(m));
        Ok(MeanImage { mean })
    }

    fn apply(&self, x: &mut [T; N]) {
        for (v, &m) in x.iter_mut().zip(&self.mean) {
            *v -= m;
        }
    }
}

/// Per-channel mean subtraction for images of `C` channels stored channel-major (PyTorch's
/// `C×H×W`: all of channel 0, then all of channel 1, …), so a sample of `N` features is `C`
/// planes of `N / C` pixels: `x_{c,i} ← x_{c,i} − μ_c`, with `μ_c` the mean of every pixel
/// of channel `c` over the fitted data.
///
/// `N` must be a multiple of `C`; that is checked when the code is compiled (a
/// post-monomorphisation error, reported by `cargo build`, not `cargo check`).
///
/// ```
/// use staticnn::data::{ChannelMean, Dataset, Preprocess};
/// // Two 2-channel images of 1×2 pixels.
/// let xs = [[1.0f32, 3.0, 10.0, 10.0], [1.0, 3.0, 20.0, 20.0]];
/// let m = ChannelMean::<f32, 2>::fit(&Dataset::new(&xs, &[(); 2])?)?;
/// assert_eq!(m.mean, [2.0, 15.0]);
/// let mut x = xs[0];
/// m.apply(&mut x);
/// assert_eq!(x, [-1.0, 1.0, -5.0, -5.0]);
/// # Ok::<(), staticnn::data::DataError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelMean<T, const C: usize> {
    /// `μ_c`, per channel.
    pub mean: [T; C],
}

impl<T: Scalar, const C: usize, const N: usize> Preprocess<T, N> for ChannelMean<T, C> {
    fn fit<Y>(data: &Dataset<'_, T, N, Y>) -> Result<Self, DataError> {
        const {
            assert!(
                C > 0 && N > 0 && N.is_multiple_of(C),
                "the features are not C whole channels"
            )
        };
        non_empty(data)?;
        let mut sums = [0.0f64; C];
        for (x, _) in data.iter() {
            for (s, plane) in sums.iter_mut().zip(x.chunks_exact(N / C)) {
                *s += plane.iter().map(|v| v.as_f64()).sum::<f64>();
            }
        }
        let count = (data.len() * (N / C)) as f64;
        Ok(ChannelMean {
            mean: sums.map(|s| T::of(s / count)),
        })
    }

    fn apply(&self, x: &mut [T; N]) {
        const {
            assert!(
                C > 0 && N > 0 && N.is_multiple_of(C),
                "the features are not C whole channels"
            )
        };
        for (plane, &m) in x.chunks_exact_mut(N / C).zip(&self.mean) {
            for v in plane {
                *v -= m;
            }
        }
    }
}
