//! The traits every network declared with [`network!`](macro@crate::network) implements.

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use crate::optim::OptimizerOf;
use crate::scalar::ShortFloat;
use crate::summary::{LayerInfo, Summary};
use crate::{Loss, ParamBlock, SMatrix, SVector, Scalar, block};

/// Anything that runs an eval-mode forward pass from `IN` features to `OUT` outputs in `T`:
/// every [`Network`] (its `…Inference` twin included) and, with `T = f32`, every int8 twin
/// `NameInt8` made by [`network!`](macro@crate::network) (its dequantised outputs). The
/// read-only functions take it: [`evaluate`](crate::fit::evaluate),
/// [`Confusion::of`](crate::metrics::Confusion::of), [`tta`](crate::data::tta) and
/// [`Ensemble`](crate::ensemble::Ensemble).
///
/// Its method is named `infer` (not `forward`) so that importing it next to [`Network`]
/// makes no call ambiguous.
pub trait Infer<T: Scalar, const IN: usize, const OUT: usize> {
    /// Eval-mode forward of a batch (one sample per column).
    fn infer<const B: usize>(&self, x: &SMatrix<T, IN, B>) -> SMatrix<T, OUT, B>;
}

impl<T: Scalar, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize> Infer<T, IN, OUT> for N {
    #[inline]
    fn infer<const B: usize>(&self, x: &SMatrix<T, IN, B>) -> SMatrix<T, OUT, B> {
        Network::forward(self, x)
    }
}

/// A network from `IN` features to `OUT` outputs, in scalar `T`.
///
/// The value holds the parameters and the persistent state (batch-norm running statistics);
/// it is plain data that can be zero-initialised in place (a `static`, a zeroed `Box`).
/// Training writes a [`Tape`](Network::Tape) sized for a batch of `B` samples, and gradients
/// into a separate [`Params`](Network::Params) block; nothing is allocated on the heap.
pub trait Network<T: Scalar, const IN: usize, const OUT: usize>: Pod {
    /// All learnable parameters, one `#[repr(C)]` block of `T` values.
    type Params: ParamBlock<T>;
    /// All persistent non-learned state, one block of `T` values.
    type State: Pod;
    /// Everything a train-mode forward for `B` samples saves for backward: each layer's
    /// output, layer-private values, and the buffers backward passes gradients through.
    type Tape<const B: usize>: Zeroable;

    /// The network's name as declared.
    const NAME: &'static str;
    /// One entry per layer, in order.
    const LAYERS: &'static [LayerInfo];

    /// The parameters.
    fn params(&self) -> &Self::Params;
    /// The parameters, mutably.
    fn params_mut(&mut self) -> &mut Self::Params;
    /// The persistent state.
    fn state(&self) -> &Self::State;
    /// The persistent state, mutably.
    fn state_mut(&mut self) -> &mut Self::State;

    /// (Re-)initialises every layer's parameters and state, layer by layer in declaration
    /// order, drawing from `rng` in `f64` and rounding to `T`
    /// ([`RoundedF64`](crate::init::RoundedF64)), so that an `f32` network is exactly its
    /// `f64` twin rounded.
    fn init<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.init_with(crate::init::RoundedF64, rng)
    }

    /// (Re-)initialises as [`init`](Network::init) does, drawing as `draw` says:
    /// `init_with(Native, rng)` ([`Native`](crate::init::Native)) computes in `T`, so an
    /// `f32` network's initialisation links no `f64` arithmetic, which firmware for cores
    /// without a double-precision unit wants (about 4 kB less flash on a Cortex-M4F). The
    /// distributions are the same; the values are not.
    ///
    /// ```
    /// use staticnn::init::Native;
    /// use staticnn::prelude::*;
    /// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
    ///
    /// network! {
    ///     struct Sine { input: 1, Linear(16), Tanh, Linear(1), loss: Mse }
    /// }
    /// let mut net = Sine::<f32>::zeroed();
    /// net.init_with(Native, &mut Xoshiro128PlusPlus::seed_from_u64(42));
    /// // PyTorch's `nn.Linear` default: uniform on ±1/√fan_in, here ±1.
    /// assert!(net.params.layer0.weight.iter().all(|w| w.abs() < 1.0));
    /// assert!(net.params.layer0.weight.iter().any(|&w| w != 0.0));
    /// ```
    fn init_with<D: crate::init::Draw, R: Rng + ?Sized>(&mut self, draw: D, rng: &mut R);

    /// Eval-mode forward of a batch (one sample per column). Needs no RNG and no tape: it
    /// uses one scratch buffer on the stack (`scratch_bytes::<B>()`), as tall as the widest
    /// input-plus-output pair of a layer, in which each layer reads its input at one end and
    /// writes its output at the other; besides that, the returned output and any temporaries
    /// of the layers themselves (a `Maxout` layer keeps one piece's output).
    fn forward<const B: usize>(&self, x: &SMatrix<T, IN, B>) -> SMatrix<T, OUT, B>;

    /// Train-mode forward: writes every layer's output (and what backward needs) into `tape`,
    /// updates persistent state such as running statistics, and returns the network output,
    /// which lives in the tape.
    fn forward_train<'t, const B: usize, R: Rng + ?Sized>(
        &mut self,
        x: &SMatrix<T, IN, B>,
        tape: &'t mut Self::Tape<B>,
        rng: &mut R,
    ) -> &'t SMatrix<T, OUT, B>;

    /// [`forward_train`](Network::forward_train), and whether every parameter is finite
    /// and at most `MAX/4` in magnitude, which a training step passes on to the optimiser
    /// ([`FiniteGrads`](crate::optim::FiniteGrads)) so that plain SGD needs no check pass.
    /// The networks of `network!` check each layer's parameters just after its forward
    /// read them (still in the cache) on targets with vector units; the default, and
    /// those targets without, say `false` (not known), which costs nothing.
    #[doc(hidden)]
    fn forward_train_bounded<'t, const B: usize, R: Rng + ?Sized>(
        &mut self,
        x: &SMatrix<T, IN, B>,
        tape: &'t mut Self::Tape<B>,
        rng: &mut R,
    ) -> (&'t SMatrix<T, OUT, B>, bool) {
        (self.forward_train(x, tape, rng), false)
    }

    /// Backward pass after [`forward_train`](Network::forward_train) on the same `x` and
    /// `tape`: given `dy`, the loss gradient with respect to the output, **adds** the gradient
    /// of every parameter to `grads` (zero it first, or accumulate over micro-batches) and,
    /// when `dx` is given, writes the gradient with respect to the input into it.
    fn backward<const B: usize>(
        &self,
        x: &SMatrix<T, IN, B>,
        tape: &mut Self::Tape<B>,
        dy: &SMatrix<T, OUT, B>,
        grads: &mut Self::Params,
        dx: Option<&mut SMatrix<T, IN, B>>,
    );

    /// As [`backward`](Network::backward), but **writes** the parameter gradients into
    /// `grads` (whatever it held is overwritten) instead of adding to them, which saves
    /// zeroing them first: [`train_step`](crate::Supervised::train_step) uses it.
    /// `network!` makes every layer write its own gradients
    /// ([`Layer::backward_overwrite`](crate::Layer::backward_overwrite)); the default zeroes
    /// `grads` and calls `backward`.
    fn backward_overwrite<const B: usize>(
        &self,
        x: &SMatrix<T, IN, B>,
        tape: &mut Self::Tape<B>,
        dy: &SMatrix<T, OUT, B>,
        grads: &mut Self::Params,
        dx: Option<&mut SMatrix<T, IN, B>>,
    ) {
        block::zero(grads);
        self.backward(x, tape, dy, grads, dx);
    }

    /// As [`backward_overwrite`](Network::backward_overwrite), and returns whether every
    /// parameter gradient is finite, as [`block::all_finite`] on `grads` would:
    /// [`train_step`](crate::Supervised::train_step) uses it. `network!` has every layer
    /// check the gradients it writes
    /// ([`Layer::backward_overwrite_finite`](crate::Layer::backward_overwrite_finite)), so
    /// `Linear`'s vector kernels check them as they store them instead of reading them all
    /// again; the default calls `backward_overwrite` and then `block::all_finite`.
    fn backward_overwrite_finite<const B: usize>(
        &self,
        x: &SMatrix<T, IN, B>,
        tape: &mut Self::Tape<B>,
        dy: &SMatrix<T, OUT, B>,
        grads: &mut Self::Params,
        dx: Option<&mut SMatrix<T, IN, B>>,
    ) -> bool {
        self.backward_overwrite(x, tape, dy, grads, dx);
        block::all_finite::<T, _>(grads)
    }

    /// Plain SGD with learning rate `lr` (`|lr| ≤ 1/4`, parameters at most `MAX/4`, as
    /// [`Supervised::train_step`] knows them to be) applied inside the backward pass, each
    /// weight matrix updated as its gradient is computed, or nothing changed
    /// ([`FusedSgd::Declined`](crate::__private::FusedSgd)). `network!` writes it for
    /// networks of `Linear` and `ReLU` layers on x86-64; the default declines.
    #[doc(hidden)]
    fn backward_sgd<const B: usize>(
        &mut self,
        x: &SMatrix<T, IN, B>,
        tape: &mut Self::Tape<B>,
        dy: &SMatrix<T, OUT, B>,
        grads: &mut Self::Params,
        lr: T,
    ) -> crate::__private::FusedSgd {
        let _ = (x, tape, dy, grads, lr);
        crate::__private::FusedSgd::Declined
    }

    /// The network output saved in a tape by the last train-mode forward.
    fn output<const B: usize>(tape: &Self::Tape<B>) -> &SMatrix<T, OUT, B>;

    /// A network initialised from `rng`. Passes the network through the stack; use
    /// [`new_boxed`](Network::new_boxed) or [`init`](Network::init) on zeroed storage for
    /// large networks.
    fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut net = Self::zeroed();
        net.init(rng);
        net
    }

    /// A network initialised from `rng`, built in place on the heap.
    #[cfg(feature = "alloc")]
    fn new_boxed<R: Rng + ?Sized>(rng: &mut R) -> alloc::boxed::Box<Self> {
        let mut net = block::zeroed_box::<Self>();
        net.init(rng);
        net
    }

    /// A zeroed gradient block.
    fn gradients() -> Self::Params {
        Zeroable::zeroed()
    }

    /// A zeroed tape for batches of `B` samples.
    fn tape<const B: usize>() -> Self::Tape<B> {
        Zeroable::zeroed()
    }

    /// Eval-mode forward of one sample.
    fn predict(&self, x: &SVector<T, IN>) -> SVector<T, OUT> {
        self.forward(x)
    }

    /// Index of the largest output for each sample of a batch (the predicted class).
    fn classify<const B: usize>(&self, x: &SMatrix<T, IN, B>) -> [usize; B] {
        crate::metrics::argmax(&self.forward(x))
    }

    /// A Keras-style table of the layers with parameter counts, FLOPs and memory; it
    /// implements `Display` and allocates nothing. The inference-only form of a network
    /// (`NameInference`) shows what the deployed network needs: its title says
    /// `inference only`, there is no train-tape line, and the parameter and state bytes
    /// are those stored (without the 64-byte line padding of x86-64, whose in-memory size
    /// is added where it differs).
    fn summary(&self) -> Summary {
        Summary::new::<T, Self::Params, Self::State, Self::Tape<1>>(
            Self::NAME,
            Self::LAYERS,
            scratch_rows(Self::LAYERS),
        )
    }

    /// Fits the statistics of the network's leading [`Normalize`](crate::layers::Normalize)
    /// layer on `data` (the training split), as
    /// [`Normalize::fit_state`](crate::layers::Normalize::fit_state) computes them; nothing
    /// else changes. Call it after [`init`](Network::init), which resets them to the
    /// identity. Allocates nothing.
    ///
    /// A network whose first layer is not `Normalize` fails to build (a compile-time
    /// assertion, reported by `cargo build`).
    ///
    /// # Errors
    ///
    /// [`DataError::Empty`](crate::data::DataError::Empty) when `data` holds no sample; the
    /// network is then unchanged.
    fn fit_normalize<Y>(
        &mut self,
        data: &crate::data::Dataset<'_, T, IN, Y>,
    ) -> Result<(), crate::data::DataError> {
        let () = NormalizeFirst::<T, Self, IN, OUT>::OK;
        let info = &Self::LAYERS[0];
        let c = info.state / 2;
        // Layer 0's state comes first in the state block: `mean`, then `std`.
        let (mean, rest) = block::as_mut_slice::<T, _>(self.state_mut()).split_at_mut(c);
        crate::layers::normalize_fit_into(data, mean, &mut rest[..c])
    }
}

/// The compile-time check of [`Network::fit_normalize`]: its `OK` fails to evaluate for a
/// network whose first layer is not `Normalize`.
struct NormalizeFirst<T, N, const IN: usize, const OUT: usize>(core::marker::PhantomData<(T, N)>);

impl<T: Scalar, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize>
    NormalizeFirst<T, N, IN, OUT>
{
    #[rustfmt::skip]
    const OK: () = assert!(crate::layers::normalize_leads(N::LAYERS), "the network's first layer is not `Normalize`: `fit_normalize` has nothing to fit");
}

/// Rows of eval-mode scratch for layers run one by one, what the provided `summary` reports:
/// the largest input plus output width of a layer, the first layer counting only its output
/// and the last only its input. A network declared with `network!` reports its own
/// `SCRATCH` instead, which runs a layer and the `ReLU` after it as one step (no more).
pub(crate) fn scratch_rows(layers: &[LayerInfo]) -> usize {
    let last = layers.len().saturating_sub(1);
    layers
        .iter()
        .enumerate()
        .map(|(k, l)| if k == 0 { 0 } else { l.inputs } + if k == last { 0 } else { l.outputs })
        .max()
        .unwrap_or(0)
}

/// Training went wrong in a way that must stop it; the parameters, the persistent state
/// (running statistics) and the optimiser's state were left as they were.
///
/// Mistakes of shape are not run-time errors: data, labels or an optimiser of another
/// network do not compile (see [`shape`](crate::shape)), and neither does a train-mode
/// batch of one through a batch norm, though that one only at `cargo build` (not `cargo
/// check`; [`BatchNorm`](crate::layers::BatchNorm) says why).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum TrainError {
    /// The loss or a gradient was NaN or infinite; no update was applied.
    NonFinite {
        /// The loss of the batch (possibly itself non-finite).
        loss: f64,
    },
    /// The loss and the gradients were finite, but the optimiser's update would have made
    /// a parameter or a value of the optimiser's state NaN or infinite (a learning rate too
    /// large for the scalar type, or a gradient whose square overflows); it was not
    /// applied (see [`Optimizer::try_step`](crate::optim::Optimizer::try_step)).
    NonFiniteUpdate {
        /// The loss of the batch (finite).
        loss: f64,
    },
}

impl TrainError {
    /// The loss of the batch that failed.
    pub fn loss(&self) -> f64 {
        match *self {
            TrainError::NonFinite { loss } | TrainError::NonFiniteUpdate { loss } => loss,
        }
    }
}

impl core::fmt::Display for TrainError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TrainError::NonFinite { loss } => {
                write!(
                    f,
                    "non-finite loss or gradient (loss = {}); parameters left unchanged",
                    ShortFloat(*loss)
                )
            }
            TrainError::NonFiniteUpdate { loss } => write!(
                f,
                "the optimiser's update would make a parameter or its state NaN or infinite \
                 (loss = {}; learning rate too large?); parameters, running statistics \
                 and optimiser state left unchanged",
                ShortFloat(*loss)
            ),
        }
    }
}

impl core::error::Error for TrainError {}

/// A network declared with a loss: it can compute the loss and take a whole training step.
pub trait Supervised<T: Scalar, const IN: usize, const OUT: usize>: Network<T, IN, OUT> {
    /// The loss declared in `network!`.
    type Loss: Loss<T, OUT> + Default;

    /// Eval-mode loss of a batch.
    fn loss<const B: usize>(
        &self,
        x: &SMatrix<T, IN, B>,
        target: &<Self::Loss as Loss<T, OUT>>::Target<B>,
    ) -> T {
        Self::Loss::default().loss(&self.forward(x), target)
    }

    /// One training step on a batch: train-mode forward, loss, backward (which overwrites
    /// `grads`; see below for plain SGD), and one optimiser step ([`Optimizer::try_step`](crate::optim::Optimizer::try_step)). Returns the batch loss
    /// (before the update).
    ///
    /// The guarantee that an error loses nothing costs no memory beyond a copy of the
    /// persistent state (running statistics, usually small) on the stack, and one read-only
    /// pass of the optimiser over the parameters, gradients and its state before it writes
    /// them (see [`optim`](crate::optim#non-finite-updates)). Plain [`Sgd`](crate::Sgd)
    /// (no weight decay, `|lr| ≤ 1/4`) needs no such pass: the backward pass checked the
    /// gradients as it wrote them, and the forward the parameters as it read them
    /// ([`Optimizer::try_step_finite`](crate::optim::Optimizer::try_step_finite)).
    ///
    /// With that [`Sgd`](crate::Sgd), a network of `Linear` and `ReLU` layers on x86-64
    /// with the vector kernels goes further: once the input gradients of every layer are
    /// known and bound the update (every value finite, `B·max|dY|·max|X|` far from
    /// overflow), each weight matrix is updated as its gradient is computed, tile by tile,
    /// and the weight gradients are never stored: one pass over the weights where there
    /// were three over weights and gradients (W5: about 1.07× the speed). The parameters
    /// get the same bits; `grads` then holds the bias gradients, and its weight gradients
    /// are unspecified (call [`Network::backward_overwrite`] for them). Where the bound
    /// cannot vouch, the step takes the passes above.
    ///
    /// `opt` is any [`Optimizer`](crate::Optimizer) of this network's parameters (every
    /// one is an [`OptimizerOf`] them, which words the error when it is not); the error
    /// type is [`TrainError`].
    ///
    /// # Errors
    ///
    /// [`TrainError::NonFinite`] when the loss or a gradient is NaN or infinite, and
    /// [`TrainError::NonFiniteUpdate`] when they are finite but the update would make a
    /// parameter or a value of the optimiser's state NaN or infinite. Either way the
    /// parameters, the persistent state (running statistics) and the optimiser's state
    /// (velocity, moments and step count) are left as they were before the call, bit for
    /// bit, so nothing is lost.
    fn train_step<
        const B: usize,
        O: OptimizerOf<T, Self::Params, Error = TrainError>,
        R: Rng + ?Sized,
    >(
        &mut self,
        x: &SMatrix<T, IN, B>,
        target: &<Self::Loss as Loss<T, OUT>>::Target<B>,
        grads: &mut Self::Params,
        tape: &mut Self::Tape<B>,
        opt: &mut O,
        rng: &mut R,
    ) -> Result<T, <O as OptimizerOf<T, Self::Params>>::Error> {
        // Running statistics change in the forward pass: keep them to restore on failure.
        let state = *self.state();
        let mut dy: SMatrix<T, OUT, B> = Zeroable::zeroed();
        let (y, bounded) = self.forward_train_bounded(x, tape, rng);
        let loss = Self::Loss::default().loss_and_grad(y, target, &mut dy);
        if sgd_in_backward(self, x, tape, &dy, grads, opt, bounded && loss.is_finite()) {
            return Ok(loss);
        }
        let finite = self.backward_overwrite_finite(x, tape, &dy, grads, None) && loss.is_finite();
        if !finite {
            *self.state_mut() = state;
            return Err(TrainError::NonFinite {
                loss: loss.as_f64(),
            });
        }
        // The backward pass checked the gradients, the forward perhaps bounded the
        // parameters (unchanged since): the optimiser may check less.
        let grads = crate::optim::FiniteGrads::checked(&*grads, bounded);
        if opt.try_step_finite(self.params_mut(), grads).is_err() {
            *self.state_mut() = state;
            return Err(TrainError::NonFiniteUpdate {
                loss: loss.as_f64(),
            });
        }
        Ok(loss)
    }
}

/// The training step's plain SGD inside the backward pass ([`Network::backward_sgd`]),
/// offered when the forward bounded the parameters and the loss is finite (`ready`) and
/// the optimiser's update is plain SGD ([`Optimizer::plain_sgd_lr`]). Returns whether it
/// updated the parameters: the step is then done, with the bits of the passes
/// `train_step` runs otherwise (and only then).
///
/// [`Optimizer::plain_sgd_lr`]: crate::optim::Optimizer::plain_sgd_lr
#[inline(always)]
pub(crate) fn sgd_in_backward<T, N, O, const IN: usize, const OUT: usize, const B: usize>(
    net: &mut N,
    x: &SMatrix<T, IN, B>,
    tape: &mut N::Tape<B>,
    dy: &SMatrix<T, OUT, B>,
    grads: &mut N::Params,
    opt: &O,
    ready: bool,
) -> bool
where
    T: Scalar,
    N: Network<T, IN, OUT>,
    O: crate::optim::Optimizer<T, N::Params> + ?Sized,
{
    match opt.plain_sgd_lr() {
        Some(lr) if ready => {
            net.backward_sgd(x, tape, dy, grads, lr) == crate::__private::FusedSgd::Updated
        }
        _ => false,
    }
}
