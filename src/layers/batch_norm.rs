//! Batch normalisation (Ioffe & Szegedy 2015), PyTorch's `nn.BatchNorm1d` over features
//! ([`BatchNorm`]) and per channel over `[C, L]` or `[C, H, W]` ([`SpatialBatchNorm`],
//! `nn.BatchNorm1d` / `nn.BatchNorm2d`). Both run the same loops: a sample is `C` channels
//! of `S` positions each, `S = 1` for [`BatchNorm`].

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use crate::io::Tensor;
use crate::layers::{ConvParams, LinearParams};
use crate::layout::Segment;
use crate::{Layer, SMatrix, SVector, Scalar};

/// Batch normalisation over the features of a batch, PyTorch's `nn.BatchNorm1d`.
///
/// Train mode normalises each feature with the batch mean and *biased* batch variance,
/// `x̂ = (x − μ_B) / √(σ²_B + ε)`, outputs `y = γ·x̂ + β`, and updates the running
/// statistics by exponential moving average with `momentum`, using the *unbiased* batch
/// variance for the running variance. Eval mode normalises with the running statistics.
/// `γ` starts at 1, `β` at 0, the running mean at 0 and the running variance at 1.
///
/// Training needs at least two samples per batch: in a network declared with `network!`, a
/// train-mode forward with `B = 1` does not compile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNorm {
    /// Added to the variance before the square root (default `1e-5`).
    pub eps: f64,
    /// Weight of the new batch statistic in the running averages (default `0.1`).
    pub momentum: f64,
}

impl Default for BatchNorm {
    fn default() -> Self {
        BatchNorm {
            eps: 1e-5,
            momentum: 0.1,
        }
    }
}

impl BatchNorm {
    /// Folds this eval-mode batch norm into the `Linear` layer before it:
    /// with `a = γ / √(σ²_run + ε)`, the weight rows become `a ⊙ W` and the bias
    /// `a ⊙ (b − μ_run) + β`, so that the layer alone computes both.
    pub fn fold_into<T: Scalar, const I: usize, const O: usize>(
        &self,
        linear: &mut LinearParams<T, I, O>,
        params: &BatchNormParams<T, O>,
        state: &BatchNormState<T, O>,
    ) {
        let eps = T::of(self.eps);
        for o in 0..O {
            let a = params.weight[o] / (state.running_var[o] + eps).sqrt_correct();
            for i in 0..I {
                linear.weight[(o, i)] *= a;
            }
            linear.bias[o] = a * (linear.bias[o] - state.running_mean[o]) + params.bias[o];
        }
    }
}

/// Learnable parameters of a [`BatchNorm`] layer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormParams<T: Scalar, const N: usize> {
    /// Scale `γ` (PyTorch's `weight`).
    pub weight: SVector<T, N>,
    /// Shift `β` (PyTorch's `bias`).
    pub bias: SVector<T, N>,
}

/// Running statistics of a [`BatchNorm`] layer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormState<T: Scalar, const N: usize> {
    /// Running mean of each feature.
    pub running_mean: SVector<T, N>,
    /// Running (unbiased) variance of each feature.
    pub running_var: SVector<T, N>,
}

/// What a train-mode forward saves for backward.
#[derive(Clone, Copy, Debug)]
pub struct BatchNormTape<T: Scalar, const N: usize, const B: usize> {
    xhat: SMatrix<T, N, B>,
    inv_std: SVector<T, N>,
}

// SAFETY: `#[repr(C)]` structs of `Pod` blocks of `T`; no padding, any bit pattern valid.
unsafe impl<T: Scalar, const N: usize> Zeroable for BatchNormParams<T, N> {}
// SAFETY: as above.
unsafe impl<T: Scalar, const N: usize> Pod for BatchNormParams<T, N> {}
// SAFETY: as above.
unsafe impl<T: Scalar, const N: usize> Zeroable for BatchNormState<T, N> {}
// SAFETY: as above.
unsafe impl<T: Scalar, const N: usize> Pod for BatchNormState<T, N> {}
// SAFETY: fields are zeroable matrices of `T`.
unsafe impl<T: Scalar, const N: usize, const B: usize> Zeroable for BatchNormTape<T, N, B> {}

impl<T: Scalar, const N: usize> Layer<T, N, N> for BatchNorm {
    type Params = BatchNormParams<T, N>;
    type State = BatchNormState<T, N>;
    type Tape<const B: usize> = BatchNormTape<T, N, B>;
    const KIND: &'static str = "BatchNorm";
    const FLOPS: usize = 2 * N;
    const SEGMENTS: &'static [Segment] = &[Segment::norm(2 * N)];
    /// As in `nn.BatchNorm1d`: `weight` (`γ`) and `bias` (`β`), `[N]` each, the running
    /// statistics `running_mean` and `running_var`, and the `num_batches_tracked` counter,
    /// which staticnn does not keep (see [`Place::Counter`](crate::io::Place::Counter)).
    const TENSORS: &'static [Tensor] = &[
        Tensor::params("weight", 0, &[N]),
        Tensor::params("bias", N, &[N]),
        Tensor::state("running_mean", 0, &[N]),
        Tensor::state("running_var", N, &[N]),
        Tensor::counter("num_batches_tracked"),
    ];

    fn init_params<R: Rng + ?Sized>(&self, p: &mut Self::Params, s: &mut Self::State, _: &mut R) {
        p.weight.fill(T::one());
        p.bias.fill(T::zero());
        s.running_mean.fill(T::zero());
        s.running_var.fill(T::one());
    }

    #[inline]
    fn forward<const B: usize>(
        &self,
        p: &Self::Params,
        s: &Self::State,
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        eval::<T, N, 1>(self.eps, p, s, x.as_slice(), y.as_mut_slice());
    }

    fn forward_train<const B: usize, R: Rng + ?Sized>(
        &self,
        p: &Self::Params,
        s: &mut Self::State,
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
        tape: &mut Self::Tape<B>,
        _: &mut R,
    ) {
        let (xhat, inv_std) = (tape.xhat.as_mut_slice(), &mut tape.inv_std);
        train::<T, N, 1>(self, p, s, x.as_slice(), y.as_mut_slice(), xhat, inv_std);
    }

    /// The full gradient through the batch statistics:
    /// `dx = γ/(B·σ) · (B·dy − Σ dy − x̂ · Σ dy·x̂)`.
    fn backward<const B: usize>(
        &self,
        p: &Self::Params,
        _: &SMatrix<T, N, B>,
        _: &SMatrix<T, N, B>,
        tape: &Self::Tape<B>,
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        g: &mut Self::Params,
    ) {
        let dx = dx.map(|d| d.as_mut_slice());
        backward::<T, N, 1>(p, tape.xhat.as_slice(), &tape.inv_std, dy.as_slice(), dx, g);
    }
}

/// Eval mode over whole columns of `C·S` values: `y = a·x + c` per channel, with
/// `a = γ/√(σ²_run + ε)` and `c = β − a·μ_run`.
#[inline(always)]
fn eval<T: Scalar, const C: usize, const S: usize>(
    eps: f64,
    p: &BatchNormParams<T, C>,
    s: &BatchNormState<T, C>,
    x: &[T],
    y: &mut [T],
) {
    let eps = T::of(eps);
    let mut a = SVector::<T, C>::zeros();
    let mut c = SVector::<T, C>::zeros();
    for i in 0..C {
        a[i] = p.weight[i] / (s.running_var[i] + eps).sqrt_correct();
        c[i] = p.bias[i] - a[i] * s.running_mean[i];
    }
    for (xc, yc) in x.chunks_exact(C * S).zip(y.chunks_exact_mut(C * S)) {
        for i in 0..C {
            for (yv, &xv) in yc[i * S..(i + 1) * S]
                .iter_mut()
                .zip(&xc[i * S..(i + 1) * S])
            {
                *yv = a[i] * xv + c[i];
            }
        }
    }
}

/// Train mode over whole columns of `C·S` values: normalises each channel with the mean and
/// biased variance of its `B·S` values, saves `x̂` and `1/σ`, and updates the running
/// statistics (the running variance unbiased with `n = B·S`).
#[inline(always)]
fn train<T: Scalar, const C: usize, const S: usize>(
    bn: &BatchNorm,
    p: &BatchNormParams<T, C>,
    s: &mut BatchNormState<T, C>,
    x: &[T],
    y: &mut [T],
    xhat: &mut [T],
    inv_std: &mut SVector<T, C>,
) {
    let n = T::of((x.len() / C) as f64);
    let eps = T::of(bn.eps);
    let m = T::of(bn.momentum);
    let mut mean = SVector::<T, C>::zeros();
    for xc in x.chunks_exact(C * S) {
        for i in 0..C {
            for &v in &xc[i * S..(i + 1) * S] {
                mean[i] += v;
            }
        }
    }
    mean /= n;
    let mut var = SVector::<T, C>::zeros();
    for xc in x.chunks_exact(C * S) {
        for i in 0..C {
            for &v in &xc[i * S..(i + 1) * S] {
                let d = v - mean[i];
                var[i] += d * d;
            }
        }
    }
    var /= n;
    for i in 0..C {
        inv_std[i] = T::one() / (var[i] + eps).sqrt_correct();
    }
    let cols = x.chunks_exact(C * S).zip(xhat.chunks_exact_mut(C * S));
    for ((xc, hc), yc) in cols.zip(y.chunks_exact_mut(C * S)) {
        for i in 0..C {
            let r = i * S..(i + 1) * S;
            let (xs, hs, ys) = (&xc[r.clone()], &mut hc[r.clone()], &mut yc[r]);
            for ((&xv, h), yv) in xs.iter().zip(hs.iter_mut()).zip(ys.iter_mut()) {
                *h = (xv - mean[i]) * inv_std[i];
                *yv = p.weight[i] * *h + p.bias[i];
            }
        }
    }
    // Unbiased running variance; a single value per channel (which `network!` rejects at
    // compile time) has no variance to correct and keeps the biased one instead of dividing
    // by 0.
    let unbias = if n > T::one() {
        n / (n - T::one())
    } else {
        T::one()
    };
    for i in 0..C {
        s.running_mean[i] = (T::one() - m) * s.running_mean[i] + m * mean[i];
        s.running_var[i] = (T::one() - m) * s.running_var[i] + m * var[i] * unbias;
    }
}

/// Backward through the batch statistics over whole columns of `C·S` values, `n = B·S` per
/// channel: adds `Σ dy·x̂` and `Σ dy` to the gradients of `γ` and `β`, and writes
/// `dx = γ/(n·σ) · (n·dy − Σ dy − x̂ · Σ dy·x̂)` when asked.
#[inline(always)]
fn backward<T: Scalar, const C: usize, const S: usize>(
    p: &BatchNormParams<T, C>,
    xhat: &[T],
    inv_std: &SVector<T, C>,
    dy: &[T],
    dx: Option<&mut [T]>,
    g: &mut BatchNormParams<T, C>,
) {
    let mut sum_dy = SVector::<T, C>::zeros();
    let mut sum_dy_xhat = SVector::<T, C>::zeros();
    for (gc, hc) in dy.chunks_exact(C * S).zip(xhat.chunks_exact(C * S)) {
        for i in 0..C {
            let r = i * S..(i + 1) * S;
            for (&gv, &hv) in gc[r.clone()].iter().zip(&hc[r]) {
                sum_dy[i] += gv;
                sum_dy_xhat[i] += gv * hv;
            }
        }
    }
    g.weight += sum_dy_xhat;
    g.bias += sum_dy;
    if let Some(dx) = dx {
        let n = T::of((dy.len() / C) as f64);
        let inv_n = T::one() / n;
        let cols = dy.chunks_exact(C * S).zip(xhat.chunks_exact(C * S));
        for ((gc, hc), dc) in cols.zip(dx.chunks_exact_mut(C * S)) {
            for i in 0..C {
                let k = p.weight[i] * inv_std[i] * inv_n;
                let r = i * S..(i + 1) * S;
                let (gs, hs, ds) = (&gc[r.clone()], &hc[r.clone()], &mut dc[r]);
                for ((&gv, &hv), d) in gs.iter().zip(hs).zip(ds.iter_mut()) {
                    *d = k * (n * gv - sum_dy[i] - hv * sum_dy_xhat[i]);
                }
            }
        }
    }
}

/// Batch normalisation per channel of `[C, L]` or `[C, H, W]` samples: PyTorch's
/// `nn.BatchNorm1d(C)` on `[C, L]` (`S = L`) and `nn.BatchNorm2d(C)` (`S = H·W`).
///
/// Each channel is normalised with the statistics of its `n = B·S` values in the batch
/// (train mode: mean and *biased* variance; the running variance is updated with the
/// *unbiased* one, `n/(n − 1)`) or with the running statistics (eval mode), then scaled by
/// `γ` and shifted by `β` per channel; otherwise as [`BatchNorm`], with the same tensors
/// (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`, each `[C]`).
/// Implements [`Layer<T, I, I>`] for `I = C·S` (asserted). Training needs at least two values
/// per channel (`B·S ≥ 2`, asserted when `forward_train` is instantiated).
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::layers::{BatchNormParams, BatchNormState};
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
///
/// // Two channels of two positions, a batch of one sample: each channel has 2 values.
/// let bn = SpatialBatchNorm::<2, 2>::default();
/// let p = BatchNormParams::<f64, 2> { weight: [1.0, 1.0].into(), bias: [0.0, 0.0].into() };
/// let mut s = BatchNormState::<f64, 2> { running_mean: [0.0; 2].into(), running_var: [1.0; 2].into() };
/// let x = SMatrix::<f64, 4, 1>::from_column_slice(&[1.0, 3.0, 10.0, 30.0]);
/// let mut y = SMatrix::<f64, 4, 1>::zeros();
/// let mut tape = bytemuck::Zeroable::zeroed();
/// let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
/// Layer::<f64, 4, 4>::forward_train(&bn, &p, &mut s, &x, &mut y, &mut tape, &mut rng);
/// assert!((y[0] + 1.0).abs() < 1e-4 && (y[3] - 1.0).abs() < 1e-6);
/// assert!((s.running_mean[1] - 2.0).abs() < 1e-12); // 0.9·0 + 0.1·20
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpatialBatchNorm<const C: usize, const S: usize> {
    /// Added to the variance before the square root (default `1e-5`).
    pub eps: f64,
    /// Weight of the new batch statistic in the running averages (default `0.1`).
    pub momentum: f64,
}

impl<const C: usize, const S: usize> Default for SpatialBatchNorm<C, S> {
    fn default() -> Self {
        let BatchNorm { eps, momentum } = BatchNorm::default();
        SpatialBatchNorm { eps, momentum }
    }
}

impl<const C: usize, const S: usize> SpatialBatchNorm<C, S> {
    /// The same configuration as a per-feature [`BatchNorm`] (the loops take it).
    fn as_features(&self) -> BatchNorm {
        BatchNorm {
            eps: self.eps,
            momentum: self.momentum,
        }
    }

    /// Folds this eval-mode batch norm into the convolution before it, per output channel:
    /// with `a = γ / √(σ²_run + ε)`, the channel's filter becomes `a ⊙ W` and its bias
    /// `a ⊙ (b − μ_run) + β`. The convolution must have a bias (`NB = C`): a convolution
    /// declared without one folds into its twin with a bias that starts at zero.
    pub fn fold_into<T: Scalar, const KK: usize>(
        &self,
        conv: &mut ConvParams<T, KK, C, C>,
        params: &BatchNormParams<T, C>,
        state: &BatchNormState<T, C>,
    ) {
        let eps = T::of(self.eps);
        for o in 0..C {
            let a = params.weight[o] / (state.running_var[o] + eps).sqrt_correct();
            for w in conv.weight.column_mut(o).iter_mut() {
                *w *= a;
            }
            conv.bias[o] = a * (conv.bias[o] - state.running_mean[o]) + params.bias[o];
        }
    }
}

/// What a [`SpatialBatchNorm`]'s train-mode forward saves for backward: `x̂` (`N = C·S`
/// values per sample) and `1/σ` per channel.
#[derive(Clone, Copy, Debug)]
pub struct SpatialBatchNormTape<T: Scalar, const C: usize, const N: usize, const B: usize> {
    xhat: SMatrix<T, N, B>,
    inv_std: SVector<T, C>,
}

// SAFETY: fields are zeroable matrices of `T`.
unsafe impl<T: Scalar, const C: usize, const N: usize, const B: usize> Zeroable
    for SpatialBatchNormTape<T, C, N, B>
{
}

impl<T: Scalar, const N: usize, const C: usize, const S: usize> Layer<T, N, N>
    for SpatialBatchNorm<C, S>
{
    type Params = BatchNormParams<T, C>;
    type State = BatchNormState<T, C>;
    type Tape<const B: usize> = SpatialBatchNormTape<T, C, N, B>;
    const KIND: &'static str = "BatchNorm";
    const FLOPS: usize = 2 * N;
    const SEGMENTS: &'static [Segment] = &[Segment::norm(2 * C)];
    /// As in `nn.BatchNorm1d` / `nn.BatchNorm2d`: `weight`, `bias`, `running_mean`,
    /// `running_var` (`[C]` each) and the `num_batches_tracked` counter.
    const TENSORS: &'static [Tensor] = &[
        Tensor::params("weight", 0, &[C]),
        Tensor::params("bias", C, &[C]),
        Tensor::state("running_mean", 0, &[C]),
        Tensor::state("running_var", C, &[C]),
        Tensor::counter("num_batches_tracked"),
    ];

    fn init_params<R: Rng + ?Sized>(&self, p: &mut Self::Params, s: &mut Self::State, r: &mut R) {
        <BatchNorm as Layer<T, C, C>>::init_params(&self.as_features(), p, s, r);
    }

    #[inline]
    fn forward<const B: usize>(
        &self,
        p: &Self::Params,
        s: &Self::State,
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        const { assert!(N == C * S, "batch norm: the width is not C·S") }
        eval::<T, C, S>(self.eps, p, s, x.as_slice(), y.as_mut_slice());
    }

    fn forward_train<const B: usize, R: Rng + ?Sized>(
        &self,
        p: &Self::Params,
        s: &mut Self::State,
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
        tape: &mut Self::Tape<B>,
        _: &mut R,
    ) {
        const {
            assert!(N == C * S, "batch norm: the width is not C·S");
            assert!(
                B * S >= 2,
                "batch norm in train mode needs at least two values per channel (B·S ≥ 2)"
            );
        }
        let (xhat, inv_std) = (tape.xhat.as_mut_slice(), &mut tape.inv_std);
        let bn = self.as_features();
        train::<T, C, S>(&bn, p, s, x.as_slice(), y.as_mut_slice(), xhat, inv_std);
    }

    /// The full gradient through the batch statistics, `n = B·S` values per channel:
    /// `dx = γ/(n·σ) · (n·dy − Σ dy − x̂ · Σ dy·x̂)`.
    fn backward<const B: usize>(
        &self,
        p: &Self::Params,
        _: &SMatrix<T, N, B>,
        _: &SMatrix<T, N, B>,
        tape: &Self::Tape<B>,
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        g: &mut Self::Params,
    ) {
        const { assert!(N == C * S, "batch norm: the width is not C·S") }
        let dx = dx.map(|d| d.as_mut_slice());
        backward::<T, C, S>(p, tape.xhat.as_slice(), &tape.inv_std, dy.as_slice(), dx, g);
    }
}
