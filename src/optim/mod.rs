//! Optimisers: written once over a parameter block seen as one slice.

mod sgd;

pub use sgd::Sgd;

use crate::{ParamBlock, Scalar};

/// Updates a parameter block `P` from its gradient block.
///
/// Implementations see both blocks as flat slices (see [`block`](crate::block)), so one
/// implementation serves every network, and the update is a single loop.
pub trait Optimizer<T: Scalar, P: ParamBlock<T>> {
    /// Applies one update.
    fn step(&mut self, params: &mut P, grads: &P);
}
