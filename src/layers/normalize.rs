//! Input standardisation carried by the network: [`Normalize`].

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use crate::data::{ChannelMean, DataError, Dataset, Standardise};
use crate::io::Tensor;
use crate::layers::{Conv1d, Conv2d, ConvParams, LinearParams};
use crate::{Layer, SMatrix, SVector, Scalar};

/// Standardisation of a network's input with fitted statistics, `y = (x − μ) / σ`: per
/// feature on a flat input (`C = N`, `S = 1`), per channel on a sequence `[C, L]` or an
/// image `[C, H, W]` (`S = L` or `H·W`, PyTorch's channel-major order).
///
/// `μ` and `σ` are [state](Layer::State), not parameters: no optimiser touches them. They
/// start as the identity (`μ = 0`, `σ = 1`, also what [`Network::init`](crate::Network::init)
/// sets), are fitted on a training set with
/// [`Network::fit_normalize`](crate::Network::fit_normalize) (or copied from a
/// [`Standardise`] or [`ChannelMean`] with `.into()`), and are saved and loaded with the
/// weights (tensors `mean` and `std`, `[C]` each), so a reloaded network standardises its
/// input itself. [`Normalize::fit_state`] says how they are computed.
///
/// In `network!` it is written `Normalize` and must be the first layer. The inference form
/// (`to_inference`) folds it into a following `Linear` layer (looking through `Dropout` and
/// `Flatten`), or into a convolution without padding, exactly:
/// `W' = W / σ` (per input feature or channel), `b' = b − W'·μ`.
///
/// A PyTorch module that applies the saved tensors (`mean` and `std` are buffers, so
/// `load_state_dict` fills them; `scripts/check_in_pytorch.py` builds it for a saved file):
///
/// ```python
/// class Normalize(torch.nn.Module):
///     def __init__(self, channels):
///         super().__init__()
///         self.register_buffer("mean", torch.zeros(channels))
///         self.register_buffer("std", torch.ones(channels))
///     def forward(self, x):  # x: [B, C] or [B, C, L] or [B, C, H, W]
///         view = (-1,) + (1,) * (x.dim() - 2)
///         return (x - self.mean.view(view)) / self.std.view(view)
/// ```
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::data::Dataset;
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
///
/// network! {
///     struct Scored { input: 2, Normalize, Linear(1) }
/// }
/// let mut net = Scored::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
/// let xs = [[1.0, 10.0], [3.0, 30.0]];
/// net.fit_normalize(&Dataset::new(&xs, &[(); 2])?)?;
/// assert_eq!(net.state.layer0.mean.as_slice(), &[2.0, 20.0]);
/// assert_eq!(net.state.layer0.std.as_slice(), &[1.0, 10.0]);
/// # Ok::<(), staticnn::data::DataError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Normalize<const C: usize, const S: usize>;

/// The statistics of a [`Normalize`] layer, one per feature or channel.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormalizeState<T: Scalar, const C: usize> {
    /// `μ`, subtracted.
    pub mean: SVector<T, C>,
    /// `σ`, divided by; 1 where the fitted data did not vary.
    pub std: SVector<T, C>,
}

/// What a [`Normalize`] layer's train-mode forward saves for backward: `σ`, since backward
/// does not see the state.
#[derive(Clone, Copy, Debug)]
pub struct NormalizeTape<T: Scalar, const C: usize> {
    std: SVector<T, C>,
}

// SAFETY: a zeroable vector of `T`.
unsafe impl<T: Scalar, const C: usize> Zeroable for NormalizeTape<T, C> {}

// SAFETY: `#[repr(C)]` struct of two `Pod` blocks of `T`; no padding, any bit pattern valid.
unsafe impl<T: Scalar, const C: usize> Zeroable for NormalizeState<T, C> {}
// SAFETY: as above.
unsafe impl<T: Scalar, const C: usize> Pod for NormalizeState<T, C> {}

impl<T: Scalar, const N: usize> From<Standardise<T, N>> for NormalizeState<T, N> {
    /// The same per-feature statistics.
    fn from(s: Standardise<T, N>) -> Self {
        NormalizeState {
            mean: s.mean.into(),
            std: s.std.into(),
        }
    }
}

impl<T: Scalar, const C: usize> From<ChannelMean<T, C>> for NormalizeState<T, C> {
    /// Mean subtraction only: `σ = 1`.
    fn from(m: ChannelMean<T, C>) -> Self {
        NormalizeState {
            mean: m.mean.into(),
            std: SVector::from_element(T::one()),
        }
    }
}

/// Fits per-channel statistics of `data` (samples of `channels · S` values, channel-major)
/// into `mean` and `std` (`channels` values each); `data` must not be empty. One channel at
/// a time, two passes (mean, then squared deviations), accumulated in `f64`: no buffer
/// whose size depends on the data.
pub(crate) fn fit_into<T: Scalar, const N: usize, Y>(
    data: &Dataset<'_, T, N, Y>,
    mean: &mut [T],
    std: &mut [T],
) -> Result<(), DataError> {
    if data.is_empty() {
        return Err(DataError::Empty);
    }
    let channels = mean.len();
    let s = N / channels;
    let n = (data.len() * s) as f64;
    for c in 0..channels {
        let r = c * s..(c + 1) * s;
        let mut m = 0.0f64;
        for (x, _) in data.iter() {
            for v in &x[r.clone()] {
                m += v.as_f64();
            }
        }
        m /= n;
        let mut var = 0.0f64;
        for (x, _) in data.iter() {
            for v in &x[r.clone()] {
                let d = v.as_f64() - m;
                var += d * d;
            }
        }
        let sd = libm::sqrt(var / n);
        mean[c] = T::of(m);
        std[c] = if sd > Standardise::<T, N>::CONSTANT_RELATIVE_STD * m.abs() {
            T::of(sd)
        } else {
            T::one()
        };
    }
    Ok(())
}

impl<const C: usize, const S: usize> Normalize<C, S> {
    /// The statistics of `data` as this layer uses them: for each channel `c`, `μ_c` the
    /// mean and `σ_c` the *population* standard deviation (divisor `n`) of its `n = samples·S`
    /// values, accumulated in `f64` and rounded to `T`. As [`Standardise`], a channel that
    /// does not vary (`σ ≤ 10⁻⁶·|μ|`) gets `σ = 1`; on a flat input (`S = 1`) the result is
    /// bit for bit `Standardise::fit`'s.
    ///
    /// # Errors
    ///
    /// [`DataError::Empty`] when `data` holds no sample.
    pub fn fit_state<T: Scalar, const N: usize, Y>(
        data: &Dataset<'_, T, N, Y>,
    ) -> Result<NormalizeState<T, C>, DataError> {
        const { assert!(N == C * S, "normalize: the width is not C·S") }
        let mut st = NormalizeState::<T, C> {
            mean: SVector::zeros(),
            std: SVector::from_element(T::one()),
        };
        fit_into(data, st.mean.as_mut_slice(), st.std.as_mut_slice())?;
        Ok(st)
    }

    /// Folds this layer into the `Linear` layer that follows it (through `Flatten`):
    /// input feature `i` belongs to channel `i / S`, its weight column is divided by that
    /// channel's `σ`, and the bias becomes `b − W'·μ`, so that the `Linear` layer alone
    /// computes both.
    pub fn fold_into<T: Scalar, const I: usize, const O: usize>(
        &self,
        linear: &mut LinearParams<T, I, O>,
        state: &NormalizeState<T, C>,
    ) {
        const { assert!(I == C * S, "normalize: the width is not C·S") }
        for i in 0..I {
            let (m, sd) = (state.mean[i / S], state.std[i / S]);
            for o in 0..O {
                let w = linear.weight[(o, i)] / sd;
                linear.weight[(o, i)] = w;
                linear.bias[o] -= w * m;
            }
        }
    }
}

/// Folds the statistics of `ci` input channels into a convolution's weights (`kk` per
/// output channel, `g` groups) and biases: `W' = W/σ_c`, `b' = b − Σ W'·μ_c`. Exact only
/// without padding (a padded border sees zeros, not `μ`).
fn fold_conv<T: Scalar>(
    ci: usize,
    g: usize,
    kk: usize,
    w: &mut [T],
    bias: &mut [T],
    st: (&[T], &[T]),
) {
    let (mean, std) = st;
    let cig = ci / g;
    let taps = kk / cig;
    let cog = bias.len() / g;
    for (o, (col, b)) in w.chunks_exact_mut(kk).zip(bias.iter_mut()).enumerate() {
        let first = (o / cog) * cig;
        for (r, v) in col.iter_mut().enumerate() {
            let c = first + r / taps;
            *v /= std[c];
            *b -= *v * mean[c];
        }
    }
}

impl<
    const CI: usize,
    const HI: usize,
    const WI: usize,
    const CO: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const DH: usize,
    const DW: usize,
    const G: usize,
    const KK: usize,
    const NB: usize,
> Conv2d<CI, HI, WI, CO, HO, WO, KH, KW, SH, SW, PH, PW, DH, DW, G, KK, NB>
{
    /// Folds a [`Normalize`] layer before this convolution into its parameters (with a
    /// bias, `NB = CO`): `W' = W/σ_c` per input channel, `b' = b − Σ W'·μ_c`. Exact only
    /// without padding, which is asserted at compile time.
    pub fn fold_normalize<T: Scalar, const S: usize>(
        &self,
        _: &Normalize<CI, S>,
        conv: &mut ConvParams<T, KK, CO, CO>,
        state: &NormalizeState<T, CI>,
    ) {
        const {
            assert!(
                PH == 0 && PW == 0,
                "normalize: folding into a padded convolution"
            )
        }
        let st = (state.mean.as_slice(), state.std.as_slice());
        fold_conv(
            CI,
            G,
            KK,
            conv.weight.as_mut_slice(),
            conv.bias.as_mut_slice(),
            st,
        );
    }
}

impl<
    const CI: usize,
    const LI: usize,
    const CO: usize,
    const LO: usize,
    const K: usize,
    const SS: usize,
    const P: usize,
    const D: usize,
    const G: usize,
    const KK: usize,
    const NB: usize,
> Conv1d<CI, LI, CO, LO, K, SS, P, D, G, KK, NB>
{
    /// As [`Conv2d::fold_normalize`], for a 1-D convolution.
    pub fn fold_normalize<T: Scalar, const S: usize>(
        &self,
        _: &Normalize<CI, S>,
        conv: &mut ConvParams<T, KK, CO, CO>,
        state: &NormalizeState<T, CI>,
    ) {
        const { assert!(P == 0, "normalize: folding into a padded convolution") }
        let st = (state.mean.as_slice(), state.std.as_slice());
        fold_conv(
            CI,
            G,
            KK,
            conv.weight.as_mut_slice(),
            conv.bias.as_mut_slice(),
            st,
        );
    }
}

/// Whether the first of `layers` is a [`Normalize`] layer (what
/// [`Network::fit_normalize`](crate::Network::fit_normalize) asserts at compile time).
pub(crate) const fn leads(layers: &[crate::summary::LayerInfo]) -> bool {
    if layers.is_empty() {
        return false;
    }
    let (a, b) = (layers[0].kind.as_bytes(), KIND.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const KIND: &str = "Normalize";

impl<T: Scalar, const N: usize, const C: usize, const S: usize> Layer<T, N, N> for Normalize<C, S> {
    type Params = ();
    type State = NormalizeState<T, C>;
    type Tape<const B: usize> = NormalizeTape<T, C>;
    const KIND: &'static str = KIND;
    const FLOPS: usize = 2 * N;
    const SEGMENTS: &'static [crate::layout::Segment] = &[];
    /// `mean` and `std`, `[C]` each, both state (buffers of a PyTorch module).
    const TENSORS: &'static [Tensor] = &[
        Tensor::state("mean", 0, &[C]),
        Tensor::state("std", C, &[C]),
    ];

    fn init_params<R: Rng + ?Sized>(&self, _: &mut (), s: &mut Self::State, _: &mut R) {
        s.mean.fill(T::zero());
        s.std.fill(T::one());
    }

    #[inline]
    fn forward<const B: usize>(
        &self,
        _: &(),
        s: &Self::State,
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        const { assert!(N == C * S, "normalize: the width is not C·S") }
        let cols = x
            .as_slice()
            .chunks_exact(N)
            .zip(y.as_mut_slice().chunks_exact_mut(N));
        for (xc, yc) in cols {
            for c in 0..C {
                let r = c * S..(c + 1) * S;
                for (yv, &xv) in yc[r.clone()].iter_mut().zip(&xc[r]) {
                    *yv = (xv - s.mean[c]) / s.std[c];
                }
            }
        }
    }

    fn forward_train<const B: usize, R: Rng + ?Sized>(
        &self,
        p: &(),
        s: &mut Self::State,
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
        tape: &mut Self::Tape<B>,
        _: &mut R,
    ) {
        tape.std = s.std;
        <Self as Layer<T, N, N>>::forward(self, p, s, x, y);
    }

    /// `dx = dy / σ`; nothing is learned.
    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &SMatrix<T, N, B>,
        _: &SMatrix<T, N, B>,
        tape: &Self::Tape<B>,
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        _: &mut (),
    ) {
        const { assert!(N == C * S, "normalize: the width is not C·S") }
        let Some(dx) = dx else { return };
        let cols = dy
            .as_slice()
            .chunks_exact(N)
            .zip(dx.as_mut_slice().chunks_exact_mut(N));
        for (gc, dc) in cols {
            for c in 0..C {
                let r = c * S..(c + 1) * S;
                for (d, &g) in dc[r.clone()].iter_mut().zip(&gc[r]) {
                    *d = g / tape.std[c];
                }
            }
        }
    }
}
