//! Batch normalisation (Ioffe & Szegedy 2015), PyTorch's `nn.BatchNorm1d`.

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use crate::io::Tensor;
use crate::layers::LinearParams;
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
/// train-mode forward with `B = 1` does not compile. `cargo build` and `cargo test` report
/// it (on the `BatchNorm` token, naming the problem), but `cargo check`, and so an editor,
/// does not: the batch size is a const parameter of the generic `forward_train`, and stable
/// Rust cannot bound the *value* of a const parameter (`B ≥ 2` as a trait bound needs the
/// unstable `generic_const_exprs`; an impl per batch size cannot cover them all), so the
/// check is a constant evaluated when `forward_train` is instantiated for a concrete `B`,
/// that is at monomorphisation, which `cargo check` does not run.
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
        let eps = T::of(self.eps);
        // y = a·x + c per feature, with a = γ/√(σ² + ε) and c = β − a·μ.
        let mut a = SVector::<T, N>::zeros();
        let mut c = SVector::<T, N>::zeros();
        for i in 0..N {
            a[i] = p.weight[i] / (s.running_var[i] + eps).sqrt_correct();
            c[i] = p.bias[i] - a[i] * s.running_mean[i];
        }
        for (xc, yc) in x
            .as_slice()
            .chunks_exact(N)
            .zip(y.as_mut_slice().chunks_exact_mut(N))
        {
            for i in 0..N {
                yc[i] = a[i] * xc[i] + c[i];
            }
        }
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
        let n = T::of(B as f64);
        let eps = T::of(self.eps);
        let m = T::of(self.momentum);
        let mut mean = SVector::<T, N>::zeros();
        for xc in x.as_slice().chunks_exact(N) {
            for i in 0..N {
                mean[i] += xc[i];
            }
        }
        mean /= n;
        let mut var = SVector::<T, N>::zeros();
        for xc in x.as_slice().chunks_exact(N) {
            for i in 0..N {
                let d = xc[i] - mean[i];
                var[i] += d * d;
            }
        }
        var /= n;
        for i in 0..N {
            tape.inv_std[i] = T::one() / (var[i] + eps).sqrt_correct();
        }
        let cols = x
            .as_slice()
            .chunks_exact(N)
            .zip(tape.xhat.as_mut_slice().chunks_exact_mut(N));
        for ((xc, hc), yc) in cols.zip(y.as_mut_slice().chunks_exact_mut(N)) {
            for i in 0..N {
                hc[i] = (xc[i] - mean[i]) * tape.inv_std[i];
                yc[i] = p.weight[i] * hc[i] + p.bias[i];
            }
        }
        // Unbiased running variance; a batch of one (which `network!` rejects at compile
        // time) has no variance to correct and keeps the biased one instead of dividing by 0.
        let unbias = if B > 1 { n / (n - T::one()) } else { T::one() };
        for i in 0..N {
            s.running_mean[i] = (T::one() - m) * s.running_mean[i] + m * mean[i];
            s.running_var[i] = (T::one() - m) * s.running_var[i] + m * var[i] * unbias;
        }
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
        let mut sum_dy = SVector::<T, N>::zeros();
        let mut sum_dy_xhat = SVector::<T, N>::zeros();
        for (gc, hc) in dy
            .as_slice()
            .chunks_exact(N)
            .zip(tape.xhat.as_slice().chunks_exact(N))
        {
            for i in 0..N {
                sum_dy[i] += gc[i];
                sum_dy_xhat[i] += gc[i] * hc[i];
            }
        }
        g.weight += sum_dy_xhat;
        g.bias += sum_dy;
        if let Some(dx) = dx {
            let n = T::of(B as f64);
            let inv_n = T::one() / n;
            let cols = dy
                .as_slice()
                .chunks_exact(N)
                .zip(tape.xhat.as_slice().chunks_exact(N));
            for ((gc, hc), dc) in cols.zip(dx.as_mut_slice().chunks_exact_mut(N)) {
                for i in 0..N {
                    let k = p.weight[i] * tape.inv_std[i] * inv_n;
                    dc[i] = k * (n * gc[i] - sum_dy[i] - hc[i] * sum_dy_xhat[i]);
                }
            }
        }
    }
}
