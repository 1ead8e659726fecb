//! Regularisation written once over parameter blocks: L2 and L1 penalties as explicit loss
//! terms, and the max-norm constraint.
//!
//! Each regulariser has a [`DecayScope`]: by default it applies to the entries of weight
//! matrices only, and leaves biases, batch-norm parameters and other parameters (a PReLU
//! slope) alone; [`DecayScope::All`] includes them. The roles come from the block's layout
//! (see [`layout`](crate::layout)), so the same code serves every network.
//!
//! The penalties are for training loops written out step by step: add
//! [`Penalty::penalty_and_grad`] after the backward pass, before the optimiser step.
//! [`Supervised::train_step`](crate::Supervised::train_step) has no such hook; with it, use
//! an optimiser's weight decay instead, which for [`L2`] is the same thing (see there).
//! [`MaxNorm`] is applied after the optimiser step, so it works with `train_step` too; it
//! is outside the step's check of non-finite updates, and needs none: it only shrinks
//! vectors, and leaves finite weights finite.
//!
//! ```
//! use staticnn::prelude::*;
//! use staticnn::regularize::{L2, MaxNorm, Penalty};
//! use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
//!
//! network! {
//!     struct Net { input: 2, Linear(8), ReLU, Linear(1), loss: Mse }
//! }
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
//! let mut net = Net::<f64>::new(&mut rng);
//! let x = SMatrix::<f64, 2, 4>::new(0.0, 1.0, 2.0, 3.0, 1.0, 0.0, 1.0, 0.0);
//! let t = SMatrix::<f64, 1, 4>::new(1.0, -1.0, 0.5, 0.0);
//! let (mut tape, mut grads) = (Net::<f64>::tape::<4>(), Net::<f64>::gradients());
//! let mut sgd = Sgd::new(0.1);
//! let (l2, max_norm) = (L2::new(1e-3), MaxNorm::new(2.0));
//!
//! for _ in 0..10 {
//!     staticnn::block::zero(&mut grads);
//!     let mut dy = SMatrix::<f64, 1, 4>::zeros();
//!     let y = net.forward_train(&x, &mut tape, &mut rng);
//!     let loss = Mse.loss_and_grad(y, &t, &mut dy);
//!     net.backward(&x, &mut tape, &dy, &mut grads, None);
//!     let _total = loss + l2.penalty_and_grad(net.params(), &mut grads);
//!     sgd.step(net.params_mut(), &grads);
//!     max_norm.apply(net.params_mut());
//! }
//! assert!(net.params.layer0.weight.row(0).norm() <= 2.0 + 1e-12);
//! ```

use crate::layout::Role;
use crate::optim::{DecayScope, runs};
use crate::{ParamBlock, Scalar, block};

/// A penalty on the parameters, added to the loss.
pub trait Penalty {
    /// The penalty's value for `params`.
    fn penalty<T: Scalar, P: ParamBlock<T>>(&self, params: &P) -> T;

    /// The penalty's value for `params`; also **adds** its gradient to `grads` (as a
    /// network's `backward` adds the loss's).
    fn penalty_and_grad<T: Scalar, P: ParamBlock<T>>(&self, params: &P, grads: &mut P) -> T;
}

/// The L2 penalty `λ/2 · Σ w²` over the parameters in scope, with gradient `λ·w`.
///
/// The factor ½ makes the gradient `λ·w`, so adding this penalty to the loss is exactly
/// weight decay `λ` in [`Sgd`](crate::Sgd) (and L2-style decay in [`Adam`](crate::Adam) and
/// [`RmsProp`](crate::RmsProp)), for the same scope; [`AdamW`](crate::AdamW)'s decoupled
/// decay is not a penalty.
///
/// ```
/// use staticnn::regularize::{L2, Penalty};
/// let mut grads = [0.0f64; 2];
/// assert_eq!(L2::new(0.5).penalty_and_grad(&[2.0, -1.0], &mut grads), 0.25 * 5.0);
/// assert_eq!(grads, [1.0, -0.5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct L2 {
    /// The coefficient `λ`.
    pub lambda: f64,
    /// The parameters penalised (weight matrices only unless set).
    pub scope: DecayScope,
}

impl L2 {
    /// `λ/2 · Σ w²` over the weight matrices.
    pub const fn new(lambda: f64) -> Self {
        L2 {
            lambda,
            scope: DecayScope::WeightsOnly,
        }
    }
}

impl Penalty for L2 {
    fn penalty<T: Scalar, P: ParamBlock<T>>(&self, params: &P) -> T {
        let sum = sum_in_scope::<T, P>(params, self.scope, |w| w * w);
        T::of(self.lambda / 2.0 * sum)
    }

    fn penalty_and_grad<T: Scalar, P: ParamBlock<T>>(&self, params: &P, grads: &mut P) -> T {
        let lambda = T::of(self.lambda);
        add_grad_in_scope::<T, P>(params, grads, self.scope, |w| lambda * w);
        self.penalty(params)
    }
}

/// The L1 penalty `λ · Σ |w|` over the parameters in scope, with gradient `λ·sign(w)`
/// (0 at `w = 0`).
///
/// ```
/// use staticnn::regularize::{L1, Penalty};
/// let mut grads = [0.0f64; 3];
/// assert_eq!(L1::new(0.5).penalty_and_grad(&[2.0, -1.0, 0.0], &mut grads), 1.5);
/// assert_eq!(grads, [0.5, -0.5, 0.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct L1 {
    /// The coefficient `λ`.
    pub lambda: f64,
    /// The parameters penalised (weight matrices only unless set).
    pub scope: DecayScope,
}

impl L1 {
    /// `λ · Σ |w|` over the weight matrices.
    pub const fn new(lambda: f64) -> Self {
        L1 {
            lambda,
            scope: DecayScope::WeightsOnly,
        }
    }
}

impl Penalty for L1 {
    fn penalty<T: Scalar, P: ParamBlock<T>>(&self, params: &P) -> T {
        T::of(self.lambda * sum_in_scope::<T, P>(params, self.scope, f64::abs))
    }

    fn penalty_and_grad<T: Scalar, P: ParamBlock<T>>(&self, params: &P, grads: &mut P) -> T {
        let (lambda, zero) = (T::of(self.lambda), T::zero());
        add_grad_in_scope::<T, P>(params, grads, self.scope, |w| {
            if w > zero {
                lambda
            } else if w < zero {
                -lambda
            } else {
                zero
            }
        });
        self.penalty(params)
    }
}

/// `Σ f(w)` over the parameters in scope, in f64.
fn sum_in_scope<T: Scalar, P: ParamBlock<T>>(
    params: &P,
    scope: DecayScope,
    f: impl Fn(f64) -> f64,
) -> f64 {
    let params = block::as_slice::<T, P>(params);
    runs::<T, P>()
        .filter(|(_, seg)| scope.includes(seg.role))
        .map(|(run, _)| params[run].iter().map(|w| f(w.as_f64())).sum::<f64>())
        .sum()
}

/// `grad += f(w)` for the parameters in scope.
fn add_grad_in_scope<T: Scalar, P: ParamBlock<T>>(
    params: &P,
    grads: &mut P,
    scope: DecayScope,
    f: impl Fn(T) -> T,
) {
    let params = block::as_slice::<T, P>(params);
    let grads = block::as_mut_slice::<T, P>(grads);
    for (run, _) in runs::<T, P>().filter(|(_, seg)| scope.includes(seg.role)) {
        for (g, &w) in grads[run.clone()].iter_mut().zip(&params[run]) {
            *g += f(w);
        }
    }
}

/// The max-norm constraint (Srivastava et al. 2014): after each step, every unit's
/// incoming weight vector (a row of each weight matrix) whose Euclidean norm exceeds `c`
/// is rescaled to norm `c`; shorter ones are left as they are, bit for bit. Norms within
/// four units of rounding of the scalar type above `c` count as `c`, so that a vector once
/// rescaled is left alone by the next application.
///
/// With [`DecayScope::WeightsOnly`] (the default) the vector is the row alone. With
/// [`DecayScope::All`] it also holds the unit's bias (as if the bias were the weight of a
/// constant input 1) when the layer stores one bias per row right after its weight
/// matrices, as `Linear` and `Maxout` do; batch-norm and other parameters belong to no
/// unit's incoming weights and are never constrained.
///
/// ```
/// use staticnn::regularize::MaxNorm;
/// // An array block is one weight column: each row is a single weight.
/// let mut w = [3.0f64, -0.5, -4.0];
/// assert_eq!(MaxNorm::new(2.0).apply(&mut w), 2);
/// assert_eq!(w, [2.0, -0.5, -2.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxNorm {
    /// The largest norm `c` a unit's incoming weight vector may have.
    pub max_norm: f64,
    /// Whether a unit's bias counts as one of its incoming weights (weights only unless
    /// set).
    pub scope: DecayScope,
}

/// Rows handled together: their sums of squares are kept on the stack while a matrix's
/// columns are walked in storage order.
const ROWS_AT_ONCE: usize = 16;

impl MaxNorm {
    /// Rows of weight matrices limited to norm `max_norm`.
    pub const fn new(max_norm: f64) -> Self {
        MaxNorm {
            max_norm,
            scope: DecayScope::WeightsOnly,
        }
    }

    /// Rescales every vector longer than `max_norm` to that norm, in place; returns how many
    /// were rescaled. Finite weights stay finite: a `max_norm` below zero (which no vector
    /// can meet) or NaN rescales nothing, and a vector whose sum of squares overflows `f64`
    /// (`f64` weights beyond about `1e154`) has its norm computed scaled by its largest
    /// entry.
    ///
    /// ```
    /// use staticnn::regularize::MaxNorm;
    /// let mut w = [0.0f64, 3.0];
    /// assert_eq!(MaxNorm::new(-1.0).apply(&mut w), 0);
    /// assert_eq!(w, [0.0, 3.0]);
    /// ```
    pub fn apply<T: Scalar, P: ParamBlock<T>>(&self, params: &mut P) -> usize {
        if self.max_norm.is_nan() || self.max_norm < 0.0 {
            // Below zero, every vector is too long, and a zero one would be scaled by
            // c/0 = −∞ into NaN; NaN compares false anyway. Leave the weights alone.
            return 0;
        }
        let params = block::as_mut_slice::<T, P>(params);
        let mut rescaled = 0;
        let mut at = 0;
        for layer in P::LAYERS {
            let segs = layer.segments;
            for (i, seg) in segs.iter().enumerate() {
                let here = at;
                at += seg.len;
                if seg.role != Role::Weight || seg.rows == 0 || seg.cols == 0 {
                    continue;
                }
                let count = seg.len / (seg.rows * seg.cols);
                // The bias of each row, when the scope takes it and the layer has one.
                let bias = segs
                    .get(i + 1)
                    .filter(|b| {
                        self.scope == DecayScope::All
                            && b.role == Role::Bias
                            && b.len == seg.rows * count
                    })
                    .map(|_| here + seg.len);
                for k in 0..count {
                    let matrix = here + k * seg.rows * seg.cols;
                    let bias = bias.map(|b| b + k * seg.rows);
                    rescaled += self.constrain(params, matrix, seg.rows, seg.cols, bias);
                }
            }
        }
        rescaled
    }

    /// Constrains the rows of the column-major `rows × cols` matrix at `matrix` in
    /// `params` (with their biases at `bias`, if any); returns how many it rescaled.
    fn constrain<T: Scalar>(
        &self,
        params: &mut [T],
        matrix: usize,
        rows: usize,
        cols: usize,
        bias: Option<usize>,
    ) -> usize {
        // A vector rescaled to `c` has norm `c` only up to rounding: allow that much, so
        // that applying the constraint again changes nothing.
        let limit = self.max_norm * (1.0 + 4.0 * T::default_epsilon().as_f64());
        let mut rescaled = 0;
        for first in (0..rows).step_by(ROWS_AT_ONCE) {
            let n = ROWS_AT_ONCE.min(rows - first);
            let mut sq = [0.0f64; ROWS_AT_ONCE];
            let chunks = || {
                (0..cols)
                    .map(move |c| matrix + c * rows + first)
                    .chain(bias.map(|b| b + first))
            };
            for start in chunks() {
                for (s, w) in sq.iter_mut().zip(&params[start..start + n]) {
                    let w = w.as_f64();
                    *s += w * w;
                }
            }
            let mut scale = [T::one(); ROWS_AT_ONCE];
            let mut any = false;
            for (r, (f, &s)) in scale.iter_mut().zip(&sq[..n]).enumerate() {
                let norm = if s.is_finite() {
                    libm::sqrt(s)
                } else {
                    // The squares overflowed: the same norm, scaled by the largest entry.
                    let row = || chunks().map(|start| params[start + r].as_f64());
                    let big = row().fold(0.0, |m: f64, w| m.max(w.abs()));
                    big * libm::sqrt(row().map(|w| (w / big) * (w / big)).sum::<f64>())
                };
                if norm > limit {
                    *f = T::of(self.max_norm / norm);
                    rescaled += 1;
                    any = true;
                }
            }
            if !any {
                continue;
            }
            for start in chunks() {
                for (w, &f) in params[start..start + n].iter_mut().zip(&scale) {
                    *w *= f;
                }
            }
        }
        rescaled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalties_on_an_array() {
        let w = [1.0f64, -2.0, 0.5];
        assert_eq!(L2::new(2.0).penalty(&w), 1.0 + 4.0 + 0.25);
        assert_eq!(L1::new(2.0).penalty(&w), 2.0 * 3.5);
    }

    #[test]
    fn max_norm_leaves_short_rows_bitwise_alone() {
        let mut w = [0.1f32, -0.2, 0.3];
        assert_eq!(MaxNorm::new(1.0).apply(&mut w), 0);
        assert_eq!(w, [0.1, -0.2, 0.3]);
    }
}
