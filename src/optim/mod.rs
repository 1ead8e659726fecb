//! Optimisers: written once over a parameter block seen as one slice.
//!
//! Every optimiser follows the update rule `torch.optim` documents for it, and keeps its
//! state (momentum buffers, moment estimates) in further blocks of the network's own
//! [`Params`](crate::Network::Params) type, so it allocates nothing and needs no code per
//! network.
//!
//! | optimiser | state | PyTorch |
//! | --- | --- | --- |
//! | [`Sgd`] (from [`Sgd::new`]) | none | `SGD(lr)` (optionally with `weight_decay`) |
//! | [`Sgd`] (from [`Sgd::with`]) | one block | `SGD` with `momentum`, `dampening`, `nesterov` |
//! | [`Adam`] | two blocks and a step count | `Adam` |
//! | [`AdamW`] | two blocks and a step count | `AdamW` |
//! | [`RmsProp`] | three blocks | `RMSprop` |
//!
//! The learning rate is a field of its own, `lr`, also reachable through the
//! [`LearningRate`] trait every optimiser implements (which is what
//! [`Schedule`](crate::schedule::Schedule)s use); the other hyperparameters are a
//! configuration value (`config`) whose `Default` is PyTorch's defaults, stored as `f64` as
//! every hyperparameter in staticnn is.
//!
//! # Weight decay
//!
//! [`Decay`] gives the decay coefficient and its [`DecayScope`]: PyTorch decays every
//! parameter ([`DecayScope::All`]); staticnn by default decays only the entries of weight
//! matrices ([`DecayScope::WeightsOnly`]) and leaves biases, batch-norm parameters and other
//! parameters alone. The scope is decided once per [`Segment`] of the block (see
//! [`layout`](crate::layout)), so every update stays one fused loop per segment.
//!
//! # Non-finite updates
//!
//! [`Optimizer::step`] applies an update whatever it gives. [`Optimizer::try_step`], which
//! [`train_step`](crate::Supervised::train_step) uses, applies it only if every new
//! parameter and every new value of the optimiser's state (velocity, moments, averages) is
//! finite, and otherwise changes nothing and returns [`NonFiniteUpdate`]: a learning rate
//! too large for the scalar type (SGD at `3e38` in `f32`), or a gradient whose square
//! overflows Adam's second moment, cannot leave infinite or NaN values behind. It costs no
//! memory (nothing is copied): a read-only pass computes every new value and checks it
//! before the writing pass of `step` computes them again, with the same bits. That is one
//! more pass over the parameters, the gradients and the state per step. For Adam and
//! RMSprop that pass first tries a quick bound without the square root and the division
//! (it vouches for ordinary values; `BOUND` in the source says why it is sound) and repeats
//! the exact computation only when the bound cannot vouch for every element. A training
//! step calls [`Optimizer::try_step_finite`], which knows that the gradients are finite
//! and, from the forward pass, usually that every parameter is at most `MAX/4` in
//! magnitude: plain [`Sgd`] without weight decay then needs no checking pass at all when
//! `|lr| ≤ 1/4` (W5's update: 13 % of its step before, 7 % after). Measured on
//! the parameter block of W4 (110 k `f32`, x86-64 with AVX, one thread; medians of 400
//! alternated calls), `step` → `try_step`: plain SGD 9.8 → 22 µs, SGD with momentum
//! 26 → 66 µs, Adam 54 → 86 µs, RMSprop 42 → 85 µs. In whole training steps (criterion,
//! `cargo bench --features std --bench mlp`, old and new builds alternated six times on a
//! machine with a load of 8 on 2 cores) the difference was within the noise for W3 with
//! SGD (new/old 0.97 on the best rounds) and about 1.13 for W4 with Adam (best rounds and
//! medians), where the 32 µs above are about 5 % of W4's best step.
//!
//! # Large networks
//!
//! An optimiser with state is as large as its state blocks. For a large network build it
//! on the heap with `boxed(lr, config)` (`alloc` feature), which allocates it zeroed and
//! never passes it through the stack; equivalently, take [`block::zeroed_box`] and set `lr`
//! and `config` (zeroed state is the initial state). Without a heap, use zeroed storage
//! of your own, such as a `static`: every optimiser is [`Zeroable`]. `reset()` zeroes the
//! state in place.
//!
//! # Clipping and regularisation
//!
//! [`clip_grad_norm`] clips a gradient block by its global norm; penalties and the max-norm
//! constraint are in [`regularize`](crate::regularize), and learning-rate schedules in
//! [`schedule`](crate::schedule).

mod adam;
mod clip;
mod rmsprop;
mod sgd;

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, grad_norm};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use sgd::{NoVelocity, Sgd, SgdConfig, Velocity};

use core::ops::Range;

use bytemuck::Zeroable;

use crate::layout::{Role, Segment};
use crate::{ParamBlock, Scalar, block};

/// Updates a parameter block `P` from its gradient block.
///
/// Implementations see both blocks as flat slices (see [`block`]), so one implementation
/// serves every network, and the update is a single loop per segment of the block.
pub trait Optimizer<T: Scalar, P: ParamBlock<T>>: LearningRate<T> {
    /// Bytes of per-parameter state the optimiser keeps (velocity, moments): a whole number
    /// of parameter blocks, known at compile time. Plain [`Sgd`] keeps none; [`Sgd`] with
    /// momentum one block, [`Adam`] and [`AdamW`] two, [`RmsProp`] three. The optimiser
    /// value itself is this plus a few scalars of configuration and counters
    /// (`size_of` of it).
    const STATE_BYTES: usize = 0;

    /// Applies one update, whatever values it gives: a learning rate too large for `T` can
    /// leave infinite or NaN parameters or state. [`try_step`](Optimizer::try_step) refuses
    /// such an update instead.
    fn step(&mut self, params: &mut P, grads: &P);

    /// Applies one update only if every parameter and every value of the optimiser's state
    /// it gives is finite; otherwise changes nothing (parameters and state keep their bits,
    /// the step count does not advance) and returns [`NonFiniteUpdate`].
    /// [`train_step`](crate::Supervised::train_step) takes its steps with it.
    ///
    /// A successful `try_step` is bit for bit the [`step`](Optimizer::step) it replaces.
    /// It costs no memory: the optimisers of this module first run a read-only pass that
    /// computes every new value and checks it, then the writing pass of `step`, which
    /// computes the same values again (for [`Adam`] and [`RmsProp`] that includes the
    /// square root and the division of each element).
    ///
    /// ```
    /// use staticnn::{Optimizer, Sgd};
    /// let mut p = [1.0f32, 2.0];
    /// let mut sgd = Sgd::new(3e38f32);
    /// assert!(sgd.try_step(&mut p, &[2.0, 0.5]).is_err()); // 1 − 6e38 overflows f32
    /// assert_eq!(p, [1.0, 2.0]);
    /// sgd.lr = 0.5;
    /// assert_eq!(sgd.try_step(&mut p, &[2.0, 0.5]), Ok(()));
    /// assert_eq!(p, [0.0, 1.75]);
    /// ```
    ///
    /// # Errors
    ///
    /// [`NonFiniteUpdate`] when a new parameter or state value would be NaN or infinite.
    fn try_step(&mut self, params: &mut P, grads: &P) -> Result<(), NonFiniteUpdate>;

    /// [`try_step`](Optimizer::try_step) on gradients known to be finite, with the same
    /// result and the same bits; an optimiser may use what it knows to check less.
    /// [`train_step`](crate::Supervised::train_step) calls it, its backward pass having
    /// checked the gradients as it wrote them. The default is `try_step`; plain [`Sgd`]
    /// without weight decay then checks only the parameters (one read-only pass over them
    /// instead of over the parameters and the gradients) whenever `|lr| ≤ 1/4`.
    ///
    /// ```
    /// use staticnn::optim::{FiniteGrads, Optimizer, Sgd};
    /// let mut p = [1.0f32, 3e38];
    /// let g = [2.0f32, -f32::MAX];
    /// let finite = FiniteGrads::new::<f32>(&g).expect("finite gradients");
    /// let mut sgd = Sgd::new(0.25f32);
    /// assert!(sgd.try_step_finite(&mut p, finite).is_err()); // 3e38 + MAX/4 overflows
    /// assert_eq!(p, [1.0, 3e38]);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_step`](Optimizer::try_step).
    fn try_step_finite(
        &mut self,
        params: &mut P,
        grads: FiniteGrads<'_, P>,
    ) -> Result<(), NonFiniteUpdate> {
        self.try_step(params, grads.get())
    }

    /// The learning rate `lr` when this optimiser's update is plain SGD, `θ ← θ − lr·g` on
    /// every parameter with nothing else to change (no momentum, no weight decay, no state),
    /// and `|lr| ≤ 1/4`: a training step may then apply it inside its backward pass, with
    /// the same bits ([`Supervised::train_step`](crate::Supervised::train_step)). `None`,
    /// the default, for every other optimiser.
    #[doc(hidden)]
    fn plain_sgd_lr(&self) -> Option<T> {
        None
    }
}

/// A gradient block every value of which is finite, for
/// [`Optimizer::try_step_finite`]: made only by [`FiniteGrads::new`], which checks, and by
/// the training steps of staticnn after the backward pass checked the gradients it wrote.
/// A training step may also know that every parameter it is about to update is finite
/// and at most `MAX/4` in magnitude ([`params_bounded`](FiniteGrads::params_bounded)).
#[derive(Debug)]
pub struct FiniteGrads<'a, P> {
    grads: &'a P,
    bounded: bool,
}

impl<P> Clone for FiniteGrads<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for FiniteGrads<'_, P> {}

impl<'a, P> FiniteGrads<'a, P> {
    /// `grads`, when every one of its scalars (of type `T`) is finite (one pass over it).
    ///
    /// ```
    /// use staticnn::optim::FiniteGrads;
    /// assert!(FiniteGrads::new::<f32>(&[1.0f32, -2.0]).is_some());
    /// assert!(FiniteGrads::new::<f32>(&[1.0f32, f32::NAN]).is_none());
    /// ```
    pub fn new<T: Scalar>(grads: &'a P) -> Option<Self>
    where
        P: bytemuck::Pod,
    {
        block::all_finite::<T, P>(grads).then_some(FiniteGrads {
            grads,
            bounded: false,
        })
    }

    /// For gradients the caller has checked: the backward pass of a training step, which
    /// checks them as it writes them. `bounded`: the caller has also found every
    /// parameter that the update will read finite and at most `MAX/4` in magnitude
    /// (`__private::params_bounded`), and nothing changes them before the update.
    pub(crate) fn checked(grads: &'a P, bounded: bool) -> Self {
        FiniteGrads { grads, bounded }
    }

    /// The gradients.
    pub fn get(self) -> &'a P {
        self.grads
    }

    /// Whether the training step that made this value found every parameter that the
    /// update reads finite and at most `MAX/4` in magnitude (`false`: not known), so that
    /// with `|lr| ≤ 1/4` plain SGD cannot leave a non-finite parameter and checks nothing.
    pub fn params_bounded(&self) -> bool {
        self.bounded
    }
}

/// An optimiser update was refused because it would have made a parameter or a value of
/// the optimiser's state NaN or infinite (see [`Optimizer::try_step`]); nothing was
/// changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NonFiniteUpdate;

impl core::fmt::Display for NonFiniteUpdate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(
            "the optimiser's update would make a parameter or its state NaN or infinite \
             (learning rate too large?); nothing was changed",
        )
    }
}

impl core::error::Error for NonFiniteUpdate {}

/// Whether the checking passes of [`Optimizer::try_step`] are written for a vector unit
/// (as [`block::all_finite`] decides).
const VECTOR: bool = cfg!(all(
    not(staticnn_portable),
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64"
    )
));

/// Whether `ok(item)` holds for every item, for the read-only pass of
/// [`Optimizer::try_step`]. On targets with a vector unit it evaluates every item (an
/// `and` without a branch per item, so that the loop vectorises); elsewhere it stops at the
/// first failure, the smaller loop (as [`block::all_finite`] does).
#[inline(always)]
pub(crate) fn all_of<I: Iterator>(mut items: I, mut ok: impl FnMut(I::Item) -> bool) -> bool {
    if VECTOR {
        let mut all = true;
        for item in items {
            all &= ok(item);
        }
        all
    } else {
        items.all(ok)
    }
}

/// Whether every one of `values` is finite. On targets with a vector unit, as a sum of
/// products by zero, each ±0 for a finite value and NaN otherwise (two operations a value,
/// where `is_finite` takes four); elsewhere with `is_finite`, which needs no multiplication.
#[inline(always)]
pub(crate) fn all_finite<T: Scalar, const N: usize>(values: [T; N]) -> bool {
    if VECTOR {
        let zero = T::zero();
        let mut sum = zero;
        for (k, v) in values.into_iter().enumerate() {
            sum = if k == 0 { v * zero } else { sum + v * zero };
        }
        sum == zero
    } else {
        values.into_iter().all(|v| v.is_finite())
    }
}

/// An optimiser of the parameter block `P`, as
/// [`Supervised::train_step`](crate::Supervised::train_step) asks for it: every
/// [`Optimizer<T, P>`] is one, and nothing else.
///
/// It exists for its error message. An optimiser keeps state shaped like one network's
/// parameters (`Adam<f32, NetAParams<f32>>`), so passing it to another network's
/// `train_step` is a mistake that this trait reports in a few lines
/// ("`Adam<f32, NetAParams>` is not an optimiser of `NetBParams`"), where a bound on
/// [`Optimizer`] alone gives rustc's generic message with its candidate impls and bound
/// notes. `train_step`'s error type is the [`Error`](OptimizerOf::Error) of this trait
/// (always [`TrainError`](crate::network::TrainError)): a projection rustc checks before the bound
/// and reports without those notes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an optimiser of `{P}`",
    label = "not an optimiser of `{P}`",
    note = "an optimiser made for another network (its state shaped like that network's parameters) cannot update this one; make one for this network"
)]
pub trait OptimizerOf<T: Scalar, P: ParamBlock<T>>: Optimizer<T, P> {
    /// What a training step with this optimiser fails with: [`TrainError`](crate::network::TrainError).
    type Error;
}

#[diagnostic::do_not_recommend]
impl<T: Scalar, P: ParamBlock<T>, O: Optimizer<T, P>> OptimizerOf<T, P> for O {
    type Error = crate::network::TrainError;
}

/// Reading and setting an optimiser's learning rate; every [`Optimizer`] has one.
///
/// A trait of its own (rather than methods of [`Optimizer`]) so that it can be called on
/// an optimiser that works for every block type, such as plain [`Sgd`], without naming the
/// block.
///
/// ```
/// use staticnn::{LearningRate, Sgd};
/// let mut sgd = Sgd::new(0.1f32);
/// sgd.set_lr(0.05);
/// assert_eq!(sgd.lr(), 0.05);
/// ```
pub trait LearningRate<T> {
    /// The current learning rate.
    fn lr(&self) -> T;
    /// Sets the learning rate used by the next steps.
    fn set_lr(&mut self, lr: T);
}

/// Which parameters weight decay, a penalty or a constraint applies to, by their
/// [`Role`].
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DecayScope {
    /// Only entries of weight matrices ([`Role::Weight`]): biases, normalisation parameters
    /// and other parameters (a PReLU slope) are left alone. The default.
    #[default]
    WeightsOnly = 0,
    /// Every parameter, as PyTorch's optimisers do.
    All = 1,
}

impl DecayScope {
    /// Whether parameters of `role` are in scope.
    #[inline]
    pub const fn includes(self, role: Role) -> bool {
        match self {
            DecayScope::WeightsOnly => matches!(role, Role::Weight),
            DecayScope::All => true,
        }
    }
}

// SAFETY: `DecayScope` is a fieldless `#[repr(u8)]` enum whose discriminant 0 is a variant
// (`WeightsOnly`), so the all-zero bit pattern is a valid value.
unsafe impl Zeroable for DecayScope {}

/// Weight decay: the coefficient `λ` and the parameters it applies to.
///
/// The default is no decay (`λ = 0`). In every optimiser but [`AdamW`] it is PyTorch's
/// `weight_decay`: `λ·θ` is added to the gradient of each parameter in scope before the
/// update (for SGD this is the gradient of the penalty `λ/2·‖θ‖²`, see
/// [`L2`](crate::regularize::L2)); [`AdamW`] decays the parameters directly.
///
/// ```
/// use staticnn::optim::{Decay, DecayScope};
/// assert_eq!(Decay::weights(1e-4), Decay { lambda: 1e-4, scope: DecayScope::WeightsOnly });
/// assert_eq!(Decay::all(1e-4).scope, DecayScope::All); // what PyTorch does
/// assert_eq!(Decay::default().lambda, 0.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Decay {
    /// The decay coefficient `λ ≥ 0`.
    pub lambda: f64,
    /// The parameters decayed; [`DecayScope::WeightsOnly`] unless set.
    pub scope: DecayScope,
}

impl Decay {
    /// No decay.
    pub const NONE: Decay = Decay {
        lambda: 0.0,
        scope: DecayScope::WeightsOnly,
    };

    /// Decay of the weight matrices only (staticnn's default scope).
    pub const fn weights(lambda: f64) -> Self {
        Decay {
            lambda,
            scope: DecayScope::WeightsOnly,
        }
    }

    /// Decay of every parameter, PyTorch's behaviour.
    pub const fn all(lambda: f64) -> Self {
        Decay {
            lambda,
            scope: DecayScope::All,
        }
    }

    /// The coefficient for parameters of `role`: `λ` in scope, 0 outside it.
    #[inline]
    pub fn lambda_for(&self, role: Role) -> f64 {
        if self.scope.includes(role) {
            self.lambda
        } else {
            0.0
        }
    }
}

// SAFETY: both fields are `Zeroable` (`f64`, and `DecayScope` above), so all-zero bytes are
// the value `Decay { lambda: 0.0, scope: WeightsOnly }`.
unsafe impl Zeroable for Decay {}

/// The runs of a block of type `P`, in storage order: each segment's index range and the
/// segment itself. Scalars the block's layout does not describe (none, for every network
/// and array) form a final [`Role::Other`] run, so the runs always cover the block, except
/// its [`PADDING`](ParamBlock::PADDING), which no run covers.
///
/// # Panics
///
/// If the layout describes more scalars than the block holds.
pub(crate) fn runs<T: Scalar, P: ParamBlock<T>>() -> impl Iterator<Item = (Range<usize>, Segment)> {
    let n = block::len::<T, P>() - P::PADDING;
    let described: usize = P::LAYERS
        .iter()
        .flat_map(|l| l.segments.iter())
        .map(|s| s.len)
        .sum();
    assert!(
        described <= n,
        "the layout of a parameter block describes {described} scalars, but it holds {n}"
    );
    P::segments()
        .map(|(at, s)| (at..at + s.len, s))
        .chain((described < n).then(|| (described..n, Segment::other(n - described))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_decides_by_role() {
        for role in [Role::Weight, Role::Bias, Role::Norm, Role::Other] {
            assert!(DecayScope::All.includes(role));
            assert_eq!(DecayScope::WeightsOnly.includes(role), role == Role::Weight);
        }
        assert_eq!(Decay::weights(0.5).lambda_for(Role::Bias), 0.0);
        assert_eq!(Decay::all(0.5).lambda_for(Role::Bias), 0.5);
    }

    #[test]
    fn zeroed_decay_is_no_decay() {
        assert_eq!(Decay::zeroed(), Decay::NONE);
        assert_eq!(Decay::zeroed(), Decay::default());
    }

    #[test]
    fn runs_cover_an_array_block() {
        let mut it = runs::<f32, [f32; 4]>();
        assert_eq!(it.next(), Some((0..4, Segment::weights(4, 1, 1))));
        assert_eq!(it.next(), None);
        assert_eq!(runs::<f32, ()>().count(), 0);
    }
}
