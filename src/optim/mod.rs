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

    /// Applies one update.
    fn step(&mut self, params: &mut P, grads: &P);
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
