//! The [`Layer`] trait: what every layer, built in or your own, provides.

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use crate::{SMatrix, Scalar};

/// A layer that maps `I` features to `O` features for a batch of `B` samples (one per column).
///
/// The value implementing `Layer` is the layer's *configuration* (initialisation scheme,
/// slope, …); it owns no numbers. Learnable numbers live in [`Layer::Params`], running
/// statistics in [`Layer::State`], and whatever a train-mode forward saves for backward in
/// [`Layer::Tape`]. Keeping them apart lets a network store all its parameters as one
/// contiguous block (see [`block`](crate::block)) and run the optimiser as a single loop.
///
/// # Implementing your own layer
///
/// Name the type in [`network!`](macro@crate::network) as `Custom(Type)` (width-preserving) or
/// `Custom(Type, IN -> OUT)`; the type must also implement `Default`.
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::rand::Rng;
///
/// /// Multiplies every feature by a learned scale.
/// #[derive(Debug, Default, PartialEq)]
/// pub struct Scale;
///
/// impl<T: Scalar, const N: usize> Layer<T, N, N> for Scale {
///     type Params = [T; N];
///     type State = ();
///     type Tape<const B: usize> = ();
///     const KIND: &'static str = "Scale";
///     const FLOPS: usize = N;
///     const SEGMENTS: &'static [staticnn::layout::Segment] = &[staticnn::layout::Segment::weights(N, 1, 1)];
///
///     fn init_params<R: Rng + ?Sized>(&self, p: &mut [T; N], _: &mut (), _: &mut R) {
///         p.fill(T::one());
///     }
///     fn forward<const B: usize>(&self, p: &[T; N], _: &(), x: &SMatrix<T, N, B>, y: &mut SMatrix<T, N, B>) {
///         for b in 0..B {
///             for i in 0..N {
///                 y[(i, b)] = p[i] * x[(i, b)];
///             }
///         }
///     }
///     fn backward<const B: usize>(
///         &self, p: &[T; N], x: &SMatrix<T, N, B>, _: &SMatrix<T, N, B>, _: &(),
///         dy: &SMatrix<T, N, B>, dx: Option<&mut SMatrix<T, N, B>>, g: &mut [T; N],
///     ) {
///         for b in 0..B {
///             for i in 0..N {
///                 g[i] += dy[(i, b)] * x[(i, b)];
///             }
///         }
///         if let Some(dx) = dx {
///             for b in 0..B {
///                 for i in 0..N {
///                     dx[(i, b)] = dy[(i, b)] * p[i];
///                 }
///             }
///         }
///     }
/// }
///
/// network! {
///     struct Scaled {
///         input: 3,
///         Custom(Scale),
///         Linear(2),
///     }
/// }
/// assert_eq!(Scaled::<f32>::PARAMS, 3 + 3 * 2 + 2);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a layer from {I} to {O} features",
    label = "this layer cannot map {I} features to {O}",
    note = "a layer used in `network!` implements `staticnn::Layer<T, IN, OUT>` for the widths around it"
)]
pub trait Layer<T: Scalar, const I: usize, const O: usize> {
    /// Learnable parameters: a `#[repr(C)]` block of `T` values only (`()` when none).
    type Params: Pod + PartialEq + core::fmt::Debug;
    /// Non-learned state that persists between batches (batch-norm running statistics);
    /// a block of `T` values only, `()` when none.
    type State: Pod + PartialEq + core::fmt::Debug;
    /// What a train-mode forward saves for backward, beyond the layer's input and output.
    type Tape<const B: usize>: Zeroable;

    /// Short name of the layer type, shown by `summary()`.
    const KIND: &'static str;
    /// Floating-point operations of a forward pass, per sample.
    const FLOPS: usize;
    /// Number of learnable scalars.
    const PARAMS: usize = crate::block::len::<T, Self::Params>();
    /// What the scalars of [`Params`](Layer::Params) are, in storage order: weight
    /// matrices, biases, normalisation parameters, or other. Optimisers and regularisers
    /// use it to leave biases alone by default, and max-norm to find each unit's weights.
    /// The default says all `PARAMS` scalars are [`Role::Other`](crate::layout::Role::Other).
    const SEGMENTS: &'static [crate::layout::Segment] = &[crate::layout::Segment::other(
        <Self as Layer<T, I, O>>::PARAMS,
    )];
    /// The tensors of the layer as PyTorch names and shapes them, for weight files (see
    /// [`io`](crate::io)): where each lies in [`Params`](Layer::Params) or
    /// [`State`](Layer::State), its name (`weight`, `running_mean`), its PyTorch shape and
    /// its storage order. Together they must cover the parameters and the state exactly
    /// once; the weight-file functions check that at compile time.
    ///
    /// The default describes the parameters as one tensor `params` of shape `[PARAMS]` and
    /// the state as one tensor `state` of shape `[state scalars]`, each left out when empty.
    const TENSORS: &'static [crate::io::Tensor] = crate::io::Tensor::fallback(&[
        crate::io::Tensor::params("params", 0, &[<Self as Layer<T, I, O>>::PARAMS]),
        crate::io::Tensor::state("state", 0, &[crate::block::len::<T, Self::State>()]),
    ]);

    /// Initialises parameters and state, drawing randomness from `rng`.
    fn init_params<R: Rng + ?Sized>(
        &self,
        params: &mut Self::Params,
        state: &mut Self::State,
        rng: &mut R,
    );

    /// Initialises parameters and state as [`init_params`](Layer::init_params) does, but
    /// drawing as `draw` says ([`init::Draw`](crate::init::Draw)): in `f64` rounded to `T`
    /// ([`RoundedF64`](crate::init::RoundedF64), what `init_params` does) or in `T` itself
    /// ([`Native`](crate::init::Native)).
    ///
    /// `Linear` and `Maxout` follow `draw`. The default ignores it and calls
    /// `init_params`, which suits every layer whose initialisation draws nothing or draws
    /// only in `T`; a layer of your own that samples in `f64` can override it.
    #[inline(always)]
    fn init_params_with<D: crate::init::Draw, R: Rng + ?Sized>(
        &self,
        draw: D,
        params: &mut Self::Params,
        state: &mut Self::State,
        rng: &mut R,
    ) {
        let _ = draw;
        self.init_params(params, state, rng)
    }

    /// Eval-mode forward: `y = f(x)`.
    fn forward<const B: usize>(
        &self,
        params: &Self::Params,
        state: &Self::State,
        x: &SMatrix<T, I, B>,
        y: &mut SMatrix<T, O, B>,
    );

    /// Train-mode forward: like [`forward`](Layer::forward), but may use batch statistics or
    /// randomness, update `state`, and save values in `tape` for [`backward`](Layer::backward).
    /// The default runs the eval-mode forward.
    fn forward_train<const B: usize, R: Rng + ?Sized>(
        &self,
        params: &Self::Params,
        state: &mut Self::State,
        x: &SMatrix<T, I, B>,
        y: &mut SMatrix<T, O, B>,
        tape: &mut Self::Tape<B>,
        rng: &mut R,
    ) {
        let _ = (tape, rng);
        self.forward(params, state, x, y);
    }

    /// Backward: given the input `x`, the output `y` and `tape` of the last train-mode
    /// forward and the loss gradient `dy` with respect to `y`, **adds** the parameter
    /// gradients to `grads` and, when `dx` is given, **writes** the gradient with respect to
    /// `x` into it.
    #[allow(clippy::too_many_arguments)]
    fn backward<const B: usize>(
        &self,
        params: &Self::Params,
        x: &SMatrix<T, I, B>,
        y: &SMatrix<T, O, B>,
        tape: &Self::Tape<B>,
        dy: &SMatrix<T, O, B>,
        dx: Option<&mut SMatrix<T, I, B>>,
        grads: &mut Self::Params,
    );

    /// As [`backward`](Layer::backward), but **writes** the parameter gradients into `grads`
    /// (whatever it held is overwritten) instead of adding to them: what a training step
    /// needs, without zeroing the gradients first. The default zeroes `grads` and calls
    /// `backward`; a layer overrides it when its kernels can write the gradients directly
    /// ([`Linear`](crate::layers::Linear) does), which saves a pass over their memory.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn backward_overwrite<const B: usize>(
        &self,
        params: &Self::Params,
        x: &SMatrix<T, I, B>,
        y: &SMatrix<T, O, B>,
        tape: &Self::Tape<B>,
        dy: &SMatrix<T, O, B>,
        dx: Option<&mut SMatrix<T, I, B>>,
        grads: &mut Self::Params,
    ) {
        crate::block::zero(grads);
        self.backward(params, x, y, tape, dy, dx, grads);
    }

    /// As [`backward_overwrite`](Layer::backward_overwrite), and returns whether every
    /// parameter gradient it wrote is finite: what a training step checks before it lets the
    /// optimiser change anything. The default calls `backward_overwrite` and then reads
    /// `grads` again ([`block::all_finite`](crate::block::all_finite)); a layer overrides it
    /// when its kernels can check the values as they write them
    /// ([`Linear`](crate::layers::Linear) does), which saves that second pass.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn backward_overwrite_finite<const B: usize>(
        &self,
        params: &Self::Params,
        x: &SMatrix<T, I, B>,
        y: &SMatrix<T, O, B>,
        tape: &Self::Tape<B>,
        dy: &SMatrix<T, O, B>,
        dx: Option<&mut SMatrix<T, I, B>>,
        grads: &mut Self::Params,
    ) -> bool {
        self.backward_overwrite(params, x, y, tape, dy, dx, grads);
        crate::block::all_finite::<T, _>(grads)
    }
}
