//! The training loop: epochs over a data set with an optimiser and a learning-rate
//! schedule, per-epoch figures through callbacks that see the network, early stopping that
//! restores the best weights, a step hook (gradient clipping, penalties), and a divergence
//! guard. Allocation-free and `no_std`.
//!
//! A [`Fit`] value says how to train; every setting but the number of epochs has a
//! default (constant learning rate, no early stopping, no augmentation, no callback, no
//! step hook). [`Fit::run`] trains a network with an optimiser on a [`Loader`] (whose type
//! fixes the batch size) and evaluates it on a validation [`Dataset`] after each epoch.
//! Its working memory, a [`Workspace`], is given by the caller, so that nothing is
//! allocated: a zeroed value on the stack, in a `static`, or [boxed](Workspace::boxed).
//!
//! The learning rate has one source, the optimiser's: the schedule scales the rate the
//! optimiser was built with. [`Fit::learning_rate`] only restates it in `f64` (a rate such
//! as `3e-3` is not an exact `f32`, and a schedule computes from the `f64`); a rate that
//! does not round to the optimiser's is an error, never a silent override.
//!
//! ```
//! use staticnn::prelude::*;
//! use staticnn::data::{Dataset, Loader, Remainder};
//! use staticnn::fit::{Batch, EarlyStopping, EpochStats, Fit, Workspace, each_epoch};
//! use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
//!
//! network! {
//!     struct Net { input: 2, Linear(8), Tanh, Linear(2), loss: SoftmaxCrossEntropy }
//! }
//!
//! let xs: [[f32; 2]; 8] =
//!     [[-1., 0.], [-2., 1.], [-1., 2.], [-2., 3.], [1., 0.], [2., 1.], [1., 2.], [2., 3.]];
//! let ys: [usize; 8] = [0, 0, 0, 0, 1, 1, 1, 1];
//! let train = Dataset::new(&xs, &ys)?;
//! let mut order = [0usize; 8];
//! let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
//!
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
//! let mut net = Net::<f32>::new(&mut rng);
//! // Working memory for batches of 4: a copy of the best weights, the tape, the gradients.
//! let mut work = Workspace::new(&net, Batch::<4>);
//! let mut last = EpochStats::default();
//! let report = Fit::new(100)
//!     .early_stopping(EarlyStopping::new(10))
//!     .callback(each_epoch(|s: &EpochStats| last = *s))
//!     .run(&mut net, &mut Sgd::new(0.5), &mut loader, train, &mut work, &mut rng)?;
//! assert!(report.best_val_loss < 0.1);
//! assert_eq!(last.val_accuracy, Some(1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;

use bytemuck::Zeroable;

use crate::data::{Augment, DataError, Dataset, Loader, Targets};
use crate::network::TrainError;
use crate::optim::{FiniteGrads, clip_grad_norm};
use crate::regularize::{MaxNorm, Penalty};
use crate::schedule::{Constant, Schedule};
use crate::{
    ClassIndex, Infer, LearningRate, Loss, Network, Optimizer, ParamBlock, SMatrix, Scalar,
    Supervised,
};

/// Figures of one epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochStats {
    /// Epoch number, from 0.
    pub epoch: usize,
    /// Learning rate used during the epoch.
    pub lr: f64,
    /// Mean training loss (train mode: dropout on, batch statistics), over the epoch.
    pub train_loss: f64,
    /// Training accuracy in train mode, for class targets.
    pub train_accuracy: Option<f64>,
    /// Mean validation loss, eval mode, after the epoch.
    pub val_loss: f64,
    /// Validation accuracy, eval mode, for class targets.
    pub val_accuracy: Option<f64>,
}

/// What a callback tells the loop after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Carry on.
    Continue,
    /// Stop after this epoch (the best weights are still restored when asked).
    Stop,
}

/// Sees the network and its figures after every epoch: a progress display, a
/// learning-curve recorder, a checkpoint, a custom score or stopping rule.
///
/// `()` is the callback that does nothing; a pair `(A, B)` calls `A` then `B` and stops when
/// either says so; `&mut C` lends a callback that the caller reads afterwards. Closures
/// become callbacks through [`each_epoch`] (figures only) and [`on_epoch`] (the network
/// too, and the say on stopping).
pub trait Callback<N: ?Sized> {
    /// Called after each epoch with the network as it stands (eval-mode figures of `stats`
    /// were measured on it) and before early stopping restores any weights.
    fn epoch_end(&mut self, net: &N, stats: &EpochStats) -> Control;

    /// Called once when training ends without an error, after the best weights are
    /// restored (when asked). Does nothing by default.
    fn train_end(&mut self, net: &N, report: &FitReport) {
        let _ = (net, report);
    }
}

impl<N: ?Sized> Callback<N> for () {
    fn epoch_end(&mut self, _: &N, _: &EpochStats) -> Control {
        Control::Continue
    }
}

impl<N: ?Sized, C: Callback<N> + ?Sized> Callback<N> for &mut C {
    fn epoch_end(&mut self, net: &N, stats: &EpochStats) -> Control {
        (**self).epoch_end(net, stats)
    }

    fn train_end(&mut self, net: &N, report: &FitReport) {
        (**self).train_end(net, report);
    }
}

impl<N: ?Sized, A: Callback<N>, B: Callback<N>> Callback<N> for (A, B) {
    fn epoch_end(&mut self, net: &N, stats: &EpochStats) -> Control {
        let a = self.0.epoch_end(net, stats);
        let b = self.1.epoch_end(net, stats);
        if a == Control::Stop || b == Control::Stop {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    fn train_end(&mut self, net: &N, report: &FitReport) {
        self.0.train_end(net, report);
        self.1.train_end(net, report);
    }
}

/// A callback from a closure that receives each epoch's figures and never stops training
/// (made by [`each_epoch`]).
#[derive(Clone, Copy, Debug)]
pub struct EachEpoch<F>(pub F);

/// A callback from a closure `FnMut(&EpochStats)`, for any network.
///
/// ```
/// use staticnn::fit::{EpochStats, each_epoch};
/// let mut losses = Vec::new();
/// let _log = each_epoch(|s: &EpochStats| losses.push(s.val_loss));
/// ```
pub fn each_epoch<F: FnMut(&EpochStats)>(f: F) -> EachEpoch<F> {
    EachEpoch(f)
}

impl<N: ?Sized, F: FnMut(&EpochStats)> Callback<N> for EachEpoch<F> {
    fn epoch_end(&mut self, _: &N, stats: &EpochStats) -> Control {
        (self.0)(stats);
        Control::Continue
    }
}

/// A callback from a closure that sees the network and decides whether to go on (made by
/// [`on_epoch`]).
pub struct OnEpoch<N: ?Sized, F> {
    f: F,
    network: PhantomData<fn(&N)>,
}

impl<N: ?Sized, F> fmt::Debug for OnEpoch<N, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnEpoch")
    }
}

/// A callback from a closure `FnMut(&N, &EpochStats) -> Control`: it may score the network
/// on data of its own, keep a checkpoint, or stop. Name the network's type in the
/// closure's first parameter (`|net: &Net<f32>, stats| …`).
///
/// ```
/// use staticnn::fit::{Control, EpochStats, on_epoch};
/// use staticnn::prelude::*;
///
/// network! {
///     struct Net { input: 2, Linear(2) }
/// }
/// // Keep the weights of the epoch with the best training loss.
/// let mut checkpoint = Net::<f32>::zeroed();
/// let mut lowest = f64::INFINITY;
/// let _keep = on_epoch(|net: &Net<f32>, s: &EpochStats| {
///     if s.train_loss < lowest {
///         (lowest, checkpoint) = (s.train_loss, *net);
///     }
///     Control::Continue
/// });
/// ```
pub fn on_epoch<N: ?Sized, F: FnMut(&N, &EpochStats) -> Control>(f: F) -> OnEpoch<N, F> {
    OnEpoch {
        f,
        network: PhantomData,
    }
}

impl<N: ?Sized, F: FnMut(&N, &EpochStats) -> Control> Callback<N> for OnEpoch<N, F> {
    fn epoch_end(&mut self, net: &N, stats: &EpochStats) -> Control {
        (self.f)(net, stats)
    }
}

/// Runs inside every training step, between the backward pass and the optimiser's update
/// (and after the update): gradient clipping, a penalty on the parameters, a constraint.
///
/// `()` does nothing (the step is then exactly
/// [`Supervised::train_step`]); a pair `(A, B)` runs `A` then `B`. Ready-made hooks:
/// [`ClipGradNorm`], [`Penalize`] (any [`Penalty`], such as [`L2`](crate::regularize::L2)),
/// [`MaxNorm`]; [`before_update`] makes one from a closure.
pub trait StepHook<T: Scalar, P> {
    /// Whether [`before_update`](StepHook::before_update) leaves the gradients as they
    /// are (`false` unless a hook says so): the step then tells the optimiser that they
    /// are finite, as the backward pass found them ([`Optimizer::try_step_finite`]), which
    /// lets plain SGD check less. `()`, [`MaxNorm`] and pairs of such hooks set it. A hook
    /// that sets it and still changes the gradients may have a non-finite update written.
    const KEEPS_GRADIENTS: bool = false;

    /// Whether [`before_update`](StepHook::before_update) does anything (`true` unless a
    /// hook says otherwise). `()`, [`MaxNorm`] and pairs of such hooks set it `false`: a
    /// step with plain [`Sgd`](crate::Sgd) may then apply the update inside the backward
    /// pass, as [`Supervised::train_step`] does, where the gradients are never all in
    /// `grads` at once.
    const BEFORE_UPDATE: bool = true;

    /// After the backward pass, before the update: `grads` holds the batch's loss gradient
    /// (finite) and may be changed; `loss` is the batch loss and may be added to (a
    /// penalty's value). A non-finite loss or update afterwards fails the step as
    /// [`Supervised::train_step`] does, leaving everything as it was.
    fn before_update(&mut self, params: &P, grads: &mut P, loss: &mut T);

    /// After a successful update. Does nothing by default.
    fn after_update(&mut self, params: &mut P) {
        let _ = params;
    }
}

impl<T: Scalar, P> StepHook<T, P> for () {
    const KEEPS_GRADIENTS: bool = true;
    const BEFORE_UPDATE: bool = false;

    fn before_update(&mut self, _: &P, _: &mut P, _: &mut T) {}
}

impl<T: Scalar, P, A: StepHook<T, P>, B: StepHook<T, P>> StepHook<T, P> for (A, B) {
    const KEEPS_GRADIENTS: bool = A::KEEPS_GRADIENTS && B::KEEPS_GRADIENTS;
    const BEFORE_UPDATE: bool = A::BEFORE_UPDATE || B::BEFORE_UPDATE;

    fn before_update(&mut self, params: &P, grads: &mut P, loss: &mut T) {
        self.0.before_update(params, grads, loss);
        self.1.before_update(params, grads, loss);
    }

    fn after_update(&mut self, params: &mut P) {
        self.0.after_update(params);
        self.1.after_update(params);
    }
}

/// Clips the gradients to a total L2 norm of at most the value given, with
/// [`clip_grad_norm`] (PyTorch's `clip_grad_norm_`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipGradNorm(pub f64);

impl<T: Scalar, P: ParamBlock<T>> StepHook<T, P> for ClipGradNorm {
    fn before_update(&mut self, _: &P, grads: &mut P, _: &mut T) {
        clip_grad_norm(grads, T::of(self.0));
    }
}

/// Adds a [`Penalty`] to every batch's loss and its gradient to the gradients, as a
/// training loop written out step by step would (see [`regularize`](crate::regularize)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Penalize<R>(pub R);

impl<T: Scalar, P: ParamBlock<T>, R: Penalty> StepHook<T, P> for Penalize<R> {
    fn before_update(&mut self, params: &P, grads: &mut P, loss: &mut T) {
        *loss += self.0.penalty_and_grad(params, grads);
    }
}

/// The max-norm constraint, applied after every update.
impl<T: Scalar, P: ParamBlock<T>> StepHook<T, P> for MaxNorm {
    const KEEPS_GRADIENTS: bool = true;
    const BEFORE_UPDATE: bool = false;

    fn before_update(&mut self, _: &P, _: &mut P, _: &mut T) {}

    fn after_update(&mut self, params: &mut P) {
        self.apply::<T, P>(params);
    }
}

/// A step hook from a closure (made by [`before_update`]).
pub struct BeforeUpdate<T, P, F> {
    f: F,
    types: PhantomData<fn(&P) -> T>,
}

impl<T, P, F> fmt::Debug for BeforeUpdate<T, P, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BeforeUpdate")
    }
}

/// A step hook from a closure `FnMut(&params, &mut grads) -> T`, run before each update:
/// it may change the gradients, and what it returns is added to the batch loss (return
/// zero for nothing).
///
/// ```
/// use staticnn::fit::before_update;
/// use staticnn::prelude::*;
///
/// network! {
///     struct Net { input: 2, Linear(2) }
/// }
/// // Clip every gradient entry to ±1.
/// let _clip = before_update(|_: &NetParams<f32>, grads: &mut NetParams<f32>| {
///     for g in staticnn::block::as_mut_slice::<f32, _>(grads) {
///         *g = g.clamp(-1.0, 1.0);
///     }
///     0.0
/// });
/// ```
pub fn before_update<T, P, F: FnMut(&P, &mut P) -> T>(f: F) -> BeforeUpdate<T, P, F> {
    BeforeUpdate {
        f,
        types: PhantomData,
    }
}

impl<T: Scalar, P, F: FnMut(&P, &mut P) -> T> StepHook<T, P> for BeforeUpdate<T, P, F> {
    fn before_update(&mut self, params: &P, grads: &mut P, loss: &mut T) {
        *loss += (self.f)(params, grads);
    }
}

/// Early stopping on the validation loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// An epoch improves only when its validation loss is below the best by more than this.
    pub min_delta: f64,
    /// Put the weights of the best epoch back at the end.
    pub restore_best: bool,
}

impl EarlyStopping {
    /// Stop after `patience` epochs without improvement, restoring the best weights.
    pub const fn new(patience: usize) -> Self {
        EarlyStopping {
            patience,
            min_delta: 0.0,
            restore_best: true,
        }
    }
}

/// The outcome of [`Fit::run`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FitReport {
    /// Epochs run.
    pub epochs_run: usize,
    /// Epoch with the lowest validation loss.
    pub best_epoch: usize,
    /// The lowest validation loss.
    pub best_val_loss: f64,
    /// Whether early stopping (or the callback) ended training before `epochs`.
    pub stopped_early: bool,
}

/// A batch size, as a value: `Batch::<32>` where a function needs one
/// ([`evaluate`], [`Workspace::new`]) and nothing else fixes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Batch<const B: usize>;

/// What [`Fit::run`] works in: a copy of the weights of the best epoch, the tape of a batch
/// and a gradient block. A plain value without pointers: build it with [`new`](Self::new)
/// (on the stack), [`boxed`](Self::boxed) (on the heap, for large networks), or zeroed in
/// a `static`.
#[derive(Clone, Copy, Debug)]
pub struct Workspace<N, Tape, Grads> {
    /// The network as it was after its best epoch so far.
    pub best: N,
    /// The train-mode tape of one batch.
    pub tape: Tape,
    /// The gradients of one batch.
    pub grads: Grads,
}

// SAFETY: a struct of zeroable fields.
unsafe impl<N: Zeroable, Tape: Zeroable, Grads: Zeroable> Zeroable for Workspace<N, Tape, Grads> {}

impl<N, Tape: Zeroable, Grads: Zeroable> Workspace<N, Tape, Grads> {
    /// The working memory for training `net` on batches of `B` samples, on the stack;
    /// `best` starts as a copy of `net`.
    pub fn new<T, const IN: usize, const OUT: usize, const B: usize>(net: &N, _: Batch<B>) -> Self
    where
        T: Scalar,
        N: Network<T, IN, OUT, Tape<B> = Tape, Params = Grads>,
    {
        Workspace {
            best: *net,
            tape: Zeroable::zeroed(),
            grads: Zeroable::zeroed(),
        }
    }

    /// As [`new`](Self::new), built in place on the heap.
    #[cfg(feature = "alloc")]
    pub fn boxed<T, const IN: usize, const OUT: usize, const B: usize>(
        net: &N,
        _: Batch<B>,
    ) -> alloc::boxed::Box<Self>
    where
        T: Scalar,
        N: Network<T, IN, OUT, Tape<B> = Tape, Params = Grads>,
    {
        let mut work = crate::block::zeroed_box::<Self>();
        bytemuck::bytes_of_mut(&mut work.best).copy_from_slice(bytemuck::bytes_of(net));
        work
    }
}

/// How to train: the number of epochs and, with defaults, everything else. Build it with
/// [`Fit::new`] and the setters, or write the fields; run it with [`Fit::run`].
///
/// | setting | default |
/// |---|---|
/// | [`learning_rate`](Self::learning_rate) | the optimiser's |
/// | [`schedule`](Self::schedule) | [`Constant`] |
/// | [`early_stopping`](Self::early_stopping) | none: run every epoch |
/// | [`augment`](Self::augment) | `()`: none |
/// | [`callback`](Self::callback) | `()`: none |
/// | [`progress`](Self::progress) (feature `std`) | no bar |
/// | [`step_hook`](Self::step_hook) | `()`: the plain step |
///
/// The batch size is the [`Loader`]'s (a type parameter), the optimiser and its
/// hyper-parameters are the one given to [`run`](Self::run).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit<S = Constant, A = (), C = (), H = ()> {
    /// Maximum number of epochs.
    pub epochs: usize,
    /// The optimiser's learning rate restated in `f64`, or `None` to take it from the
    /// optimiser (see [`learning_rate`](Self::learning_rate)).
    pub learning_rate: Option<f64>,
    /// Learning rate per epoch, from the base rate.
    pub schedule: S,
    /// Early stopping, if any.
    pub early_stopping: Option<EarlyStopping>,
    /// Augmentation applied to every training batch as it is drawn (`()` for none).
    pub augment: A,
    /// Called after every epoch.
    pub callback: C,
    /// Runs inside every step (`()` for none).
    pub step_hook: H,
}

impl Fit {
    /// Up to `epochs` epochs, every other setting at its default.
    pub const fn new(epochs: usize) -> Self {
        Fit {
            epochs,
            learning_rate: None,
            schedule: Constant,
            early_stopping: None,
            augment: (),
            callback: (),
            step_hook: (),
        }
    }
}

impl<S, A, C, H> Fit<S, A, C, H> {
    /// Restates the optimiser's learning rate in `f64`, for the schedule to compute from.
    ///
    /// The optimiser stays the one source of the rate: [`run`](Self::run) fails with
    /// [`FitError::LearningRate`] unless `lr` rounds to the optimiser's rate. Without this
    /// setting the schedule starts from the optimiser's rate widened to `f64`, which for
    /// an `f32` rate such as `3e-3` is not `3e-3` and may round the scheduled rates
    /// differently.
    pub const fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = Some(lr);
        self
    }

    /// The learning-rate schedule, by epoch.
    pub fn schedule<S2: Schedule>(self, schedule: S2) -> Fit<S2, A, C, H> {
        Fit {
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            schedule,
            early_stopping: self.early_stopping,
            augment: self.augment,
            callback: self.callback,
            step_hook: self.step_hook,
        }
    }

    /// Early stopping on the validation loss.
    pub const fn early_stopping(mut self, early_stopping: EarlyStopping) -> Self {
        self.early_stopping = Some(early_stopping);
        self
    }

    /// The augmentation of every training batch.
    pub fn augment<A2>(self, augment: A2) -> Fit<S, A2, C, H> {
        Fit {
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            schedule: self.schedule,
            early_stopping: self.early_stopping,
            augment,
            callback: self.callback,
            step_hook: self.step_hook,
        }
    }

    /// The callback (replacing any; combine several as a pair `(a, b)`).
    pub fn callback<C2>(self, callback: C2) -> Fit<S, A, C2, H> {
        Fit {
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            schedule: self.schedule,
            early_stopping: self.early_stopping,
            augment: self.augment,
            callback,
            step_hook: self.step_hook,
        }
    }

    /// The step hook (replacing any; combine several as a pair `(a, b)`).
    pub fn step_hook<H2>(self, step_hook: H2) -> Fit<S, A, C, H2> {
        Fit {
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            schedule: self.schedule,
            early_stopping: self.early_stopping,
            augment: self.augment,
            callback: self.callback,
            step_hook,
        }
    }

    /// Adds a terminal progress bar ([`Progress`](crate::progress::Progress)) after the
    /// callback.
    #[cfg(feature = "std")]
    pub fn progress(self) -> Fit<S, A, (C, crate::progress::Progress), H> {
        let bar = crate::progress::Progress::new(self.epochs);
        Fit {
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            schedule: self.schedule,
            early_stopping: self.early_stopping,
            augment: self.augment,
            callback: (self.callback, bar),
            step_hook: self.step_hook,
        }
    }

    /// Trains `net` with `opt` for up to [`epochs`](Self::epochs) epochs of `train`,
    /// evaluating it on `val` (eval mode) after each, and returns where the validation loss
    /// was best.
    ///
    /// - The learning rate of epoch `e` is `schedule.lr(base, e)`, set on `opt`; the base
    ///   is the optimiser's rate (restated by [`learning_rate`](Self::learning_rate)).
    /// - `work` is the working memory: [`Workspace::best`] receives a plain copy of the
    ///   network whenever the validation loss improves.
    /// - With early stopping, training ends after `patience` epochs without an improvement
    ///   of more than `min_delta`, and the best weights are restored when asked. The
    ///   callback may stop training too; it sees the network after every epoch, and once
    ///   more at the end.
    ///
    /// Nothing is allocated.
    ///
    /// # Errors
    ///
    /// [`FitError::LearningRate`] before any step when the restated learning rate does not
    /// round to the optimiser's; [`FitError::Validation`] before any step when `val` holds
    /// a class label not below the number of outputs. [`FitError::Diverged`] when a step's loss, gradient or
    /// update is not finite; the network keeps the weights and statistics of its last
    /// successful step, all finite (see [`Supervised::train_step`]); `work.best` holds the
    /// best epoch's copy so far (the best weights are not restored on this path).
    #[allow(clippy::type_complexity)]
    pub fn run<N, T, Y, O, R, const IN: usize, const OUT: usize, const B: usize>(
        &mut self,
        net: &mut N,
        opt: &mut O,
        train: &mut Loader<'_, '_, T, IN, Y, <N::Loss as Loss<T, OUT>>::Target<B>, B>,
        val: Dataset<'_, T, IN, Y>,
        work: &mut Workspace<
            N,
            <N as Network<T, IN, OUT>>::Tape<B>,
            <N as Network<T, IN, OUT>>::Params,
        >,
        rng: &mut R,
    ) -> Result<FitReport, FitError>
    where
        T: Scalar,
        N: Supervised<T, IN, OUT>,
        <N::Loss as Loss<T, OUT>>::Target<B>: Targets<Y, B> + Scored<T, OUT, B>,
        <N::Loss as Loss<T, OUT>>::Target<1>: Targets<Y, 1> + Scored<T, OUT, 1>,
        O: Optimizer<T, N::Params> + LearningRate<T>,
        S: Schedule,
        A: Augment<T, IN>,
        C: Callback<N>,
        H: StepHook<T, N::Params>,
        R: rand::Rng + ?Sized,
    {
        let base_lr = match self.learning_rate {
            None => opt.lr().as_f64(),
            Some(lr) if T::of(lr) == opt.lr() => lr,
            Some(lr) => {
                return Err(FitError::LearningRate {
                    optimizer: opt.lr().as_f64(),
                    configured: lr,
                });
            }
        };
        check_targets::<T, Y, N::Loss, IN, OUT>(val).map_err(FitError::Validation)?;
        let mut report = FitReport {
            best_val_loss: f64::INFINITY,
            ..FitReport::default()
        };
        let loss_fn = N::Loss::default();
        let mut waited = 0;
        let mut x = SMatrix::<T, IN, B>::zeros();
        let mut t = <<N::Loss as Loss<T, OUT>>::Target<B> as Scored<T, OUT, B>>::blank();
        for epoch in 0..self.epochs {
            let lr = self.schedule.apply(opt, base_lr, epoch as u32);
            train.start_epoch(rng);
            let (mut loss_sum, mut seen, mut correct, mut scored) = (0.0, 0usize, 0usize, true);
            let mut batch = 0;
            while let Some(valid) = train.next_batch(&mut x, &mut t, rng) {
                self.augment.augment_batch(&mut x, rng);
                let loss =
                    step(net, &x, &t, work, opt, &mut self.step_hook, rng).map_err(|cause| {
                        FitError::Diverged {
                            epoch,
                            batch,
                            cause,
                        }
                    })?;
                loss_sum += loss.as_f64() * valid as f64;
                seen += valid;
                match t.correct(N::output(&work.tape), valid) {
                    Some(c) => correct += c,
                    None => scored = false,
                }
                batch += 1;
            }
            let val_eval = evaluate_with::<N, T, Y, N::Loss, IN, OUT, B>(net, val, &loss_fn);
            let seen_f = seen.max(1) as f64;
            let stats = EpochStats {
                epoch,
                lr,
                train_loss: loss_sum / seen_f,
                train_accuracy: scored.then(|| correct as f64 / seen_f),
                val_loss: val_eval.loss,
                val_accuracy: val_eval.accuracy,
            };
            report.epochs_run = epoch + 1;
            let min_delta = self.early_stopping.map_or(0.0, |e| e.min_delta);
            if stats.val_loss < report.best_val_loss - min_delta {
                report.best_val_loss = stats.val_loss;
                report.best_epoch = epoch;
                bytemuck::bytes_of_mut(&mut work.best).copy_from_slice(bytemuck::bytes_of(net));
                waited = 0;
            } else {
                waited += 1;
            }
            let control = self.callback.epoch_end(net, &stats);
            let patience_over = self.early_stopping.is_some_and(|e| waited >= e.patience);
            if control == Control::Stop || patience_over {
                report.stopped_early = epoch + 1 < self.epochs;
                break;
            }
        }
        if self.early_stopping.is_some_and(|e| e.restore_best) && report.best_val_loss.is_finite() {
            bytemuck::bytes_of_mut(net).copy_from_slice(bytemuck::bytes_of(&work.best));
        }
        self.callback.train_end(net, &report);
        Ok(report)
    }
}

/// One training step: [`Supervised::train_step`] with `hook` between the backward pass and
/// the update (with `()` it is that step exactly, operation for operation).
fn step<N, T, O, H, R, const IN: usize, const OUT: usize, const B: usize>(
    net: &mut N,
    x: &SMatrix<T, IN, B>,
    target: &<N::Loss as Loss<T, OUT>>::Target<B>,
    work: &mut Workspace<
        N,
        <N as Network<T, IN, OUT>>::Tape<B>,
        <N as Network<T, IN, OUT>>::Params,
    >,
    opt: &mut O,
    hook: &mut H,
    rng: &mut R,
) -> Result<T, TrainError>
where
    T: Scalar,
    N: Supervised<T, IN, OUT>,
    O: Optimizer<T, N::Params>,
    H: StepHook<T, N::Params>,
    R: rand::Rng + ?Sized,
{
    // Running statistics change in the forward pass: keep them to restore on failure.
    let state = *net.state();
    let mut dy: SMatrix<T, OUT, B> = Zeroable::zeroed();
    // The parameters' bound only serves hooks that keep the gradients (then the update
    // trusts them); otherwise the optimiser checks everything itself.
    let (y, bounded) = if H::KEEPS_GRADIENTS {
        net.forward_train_bounded(x, &mut work.tape, rng)
    } else {
        (net.forward_train(x, &mut work.tape, rng), false)
    };
    let mut loss = N::Loss::default().loss_and_grad(y, target, &mut dy);
    // Plain SGD inside the backward pass, as `train_step` applies it, when the hook has
    // nothing to do before the update.
    let ready = H::KEEPS_GRADIENTS && !H::BEFORE_UPDATE && bounded && loss.is_finite();
    if crate::network::sgd_in_backward(net, x, &mut work.tape, &dy, &mut work.grads, opt, ready) {
        hook.after_update(net.params_mut());
        return Ok(loss);
    }
    let finite = net.backward_overwrite_finite(x, &mut work.tape, &dy, &mut work.grads, None)
        && loss.is_finite();
    if finite {
        hook.before_update(net.params(), &mut work.grads, &mut loss);
    }
    if !finite || !loss.is_finite() {
        *net.state_mut() = state;
        return Err(TrainError::NonFinite {
            loss: loss.as_f64(),
        });
    }
    let updated = if H::KEEPS_GRADIENTS {
        // The backward pass checked the gradients, and the hook left them alone.
        opt.try_step_finite(net.params_mut(), FiniteGrads::checked(&work.grads, bounded))
    } else {
        opt.try_step(net.params_mut(), &work.grads)
    };
    if updated.is_err() {
        *net.state_mut() = state;
        return Err(TrainError::NonFiniteUpdate {
            loss: loss.as_f64(),
        });
    }
    hook.after_update(net.params_mut());
    Ok(loss)
}

/// Training stopped before or during a step. In every case the network holds finite
/// weights and statistics: those of its last successful step, and the optimiser its state
/// after that step.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum FitError {
    /// A training step failed: a non-finite loss or gradient, or an update that would have
    /// left a non-finite parameter or optimiser state value.
    Diverged {
        /// Epoch of the failing step.
        epoch: usize,
        /// Batch within the epoch.
        batch: usize,
        /// What [`train_step`](Supervised::train_step) reported; its
        /// [`loss`](TrainError::loss) is the batch's.
        cause: TrainError,
    },
    /// [`Fit::learning_rate`] restated a learning rate that does not round to the
    /// optimiser's; nothing was trained.
    LearningRate {
        /// The optimiser's learning rate.
        optimizer: f64,
        /// The rate given to [`Fit::learning_rate`].
        configured: f64,
    },
    /// The validation set holds a target that the loss cannot take (a class label not
    /// below the number of outputs); nothing was trained.
    Validation(DataError),
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Diverged {
                epoch,
                batch,
                cause,
            } => write!(
                f,
                "training diverged at epoch {epoch}, batch {batch}: {cause}; the network keeps its last finite weights"
            ),
            FitError::LearningRate {
                optimizer,
                configured,
            } => write!(
                f,
                "the learning rate given to `Fit::learning_rate` ({configured}) is not the optimiser's ({optimizer}); build the optimiser with that rate, or leave the setting out"
            ),
            FitError::Validation(e) => write!(f, "the validation set cannot be scored: {e}"),
        }
    }
}

impl core::error::Error for FitError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            FitError::Validation(e) => Some(e),
            _ => None,
        }
    }
}

/// A batch's targets as the training loop needs them: a blank value to fill, and the
/// number of correct predictions (class targets; regression targets have no accuracy).
pub trait Scored<T: Scalar, const N: usize, const B: usize>: Sized {
    /// A value to fill with [`Targets::set`].
    fn blank() -> Self;

    /// Correct predictions among the first `valid` columns, or `None` when accuracy does
    /// not apply.
    fn correct(&self, y: &SMatrix<T, N, B>, valid: usize) -> Option<usize>;
}

impl<T: Scalar, const N: usize, const B: usize> Scored<T, N, B> for [ClassIndex<N>; B] {
    fn blank() -> Self {
        [ClassIndex::default(); B]
    }

    fn correct(&self, y: &SMatrix<T, N, B>, valid: usize) -> Option<usize> {
        let predicted = crate::metrics::argmax(y);
        Some(
            predicted
                .iter()
                .zip(self)
                .take(valid)
                .filter(|(p, t)| **p == t.get())
                .count(),
        )
    }
}

impl<T: Scalar, const N: usize, const B: usize> Scored<T, N, B> for SMatrix<T, N, B> {
    fn blank() -> Self {
        SMatrix::zeros()
    }

    fn correct(&self, _: &SMatrix<T, N, B>, _: usize) -> Option<usize> {
        None
    }
}

/// Mean loss and accuracy of a data set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Samples evaluated.
    pub samples: usize,
    /// Mean loss per sample.
    pub loss: f64,
    /// Accuracy, for class targets.
    pub accuracy: Option<f64>,
}

/// Evaluates `net` in eval mode on every sample of `data` with the loss `loss`: batches of
/// `B`, then the remainder one sample at a time, so every sample counts exactly once. Any
/// network that runs forward will do: a trained network, its `…Inference` twin, a network
/// without a declared loss.
///
/// # Errors
///
/// [`DataError::LabelOutOfRange`] for the first class label not below the number of
/// outputs, found before anything runs (such a sample can be neither scored nor counted).
///
/// ```
/// use staticnn::data::Dataset;
/// use staticnn::fit::{Batch, evaluate};
/// use staticnn::prelude::*;
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
///
/// network! {
///     struct Net { input: 2, Linear(4), BatchNorm, ReLU, Linear(3), loss: SoftmaxCrossEntropy }
/// }
/// let net = Net::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
/// let xs = [[0.0f32, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let test = Dataset::new(&xs, &[0usize, 1, 2])?;
/// // The deployed form (batch norm folded away) scores as the trained one.
/// let deployed = net.to_inference();
/// let e = evaluate(&deployed, test, SoftmaxCrossEntropy, Batch::<2>)?;
/// assert_eq!(e.samples, 3);
/// assert!(e.accuracy.is_some());
/// let trained = evaluate(&net, test, SoftmaxCrossEntropy, Batch::<2>)?;
/// assert!((e.loss - trained.loss).abs() < 1e-5);
/// // A label the network has no output for is an error, not a silent class 0.
/// let bad = Dataset::new(&xs, &[0usize, 1, 3])?;
/// assert!(evaluate(&net, bad, SoftmaxCrossEntropy, Batch::<2>).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn evaluate<N, T, Y, L, const IN: usize, const OUT: usize, const B: usize>(
    net: &N,
    data: Dataset<'_, T, IN, Y>,
    loss: L,
    _batch: Batch<B>,
) -> Result<Evaluation, DataError>
where
    T: Scalar,
    N: Infer<T, IN, OUT>,
    L: Loss<T, OUT>,
    L::Target<B>: Targets<Y, B> + Scored<T, OUT, B>,
    L::Target<1>: Targets<Y, 1> + Scored<T, OUT, 1>,
{
    check_targets::<T, Y, L, IN, OUT>(data)?;
    Ok(evaluate_with::<N, T, Y, L, IN, OUT, B>(net, data, &loss))
}

/// Checks that every target of `data` fits the loss `L` (each class label below the number
/// of outputs), as the loader checks a training set.
fn check_targets<T, Y, L, const IN: usize, const OUT: usize>(
    data: Dataset<'_, T, IN, Y>,
) -> Result<(), DataError>
where
    T: Scalar,
    L: Loss<T, OUT>,
    L::Target<1>: Targets<Y, 1>,
{
    for row in 0..data.len() {
        let (_, target) = data.get(row).expect("row below len");
        <L::Target<1> as Targets<Y, 1>>::check(target, row)?;
    }
    Ok(())
}

/// [`evaluate`] on data whose targets [`check_targets`] has accepted.
fn evaluate_with<N, T, Y, L, const IN: usize, const OUT: usize, const B: usize>(
    net: &N,
    data: Dataset<'_, T, IN, Y>,
    loss_fn: &L,
) -> Evaluation
where
    T: Scalar,
    N: Infer<T, IN, OUT>,
    L: Loss<T, OUT>,
    L::Target<B>: Targets<Y, B> + Scored<T, OUT, B>,
    L::Target<1>: Targets<Y, 1> + Scored<T, OUT, 1>,
{
    let (mut loss, mut correct, mut scored) = (0.0, 0usize, true);
    let n = data.len();
    let full = n / B * B;
    let mut x = SMatrix::<T, IN, B>::zeros();
    let mut t = <L::Target<B> as Scored<T, OUT, B>>::blank();
    for start in (0..full).step_by(B.max(1)) {
        for b in 0..B {
            let (sample, target) = data.get(start + b).expect("index below len");
            x.column_mut(b).copy_from_slice(sample);
            t.set(b, target);
        }
        let y = net.infer(&x);
        loss += loss_fn.loss(&y, &t).as_f64() * B as f64;
        match t.correct(&y, B) {
            Some(c) => correct += c,
            None => scored = false,
        }
    }
    let mut x1 = SMatrix::<T, IN, 1>::zeros();
    let mut t1 = <L::Target<1> as Scored<T, OUT, 1>>::blank();
    for i in full..n {
        let (sample, target) = data.get(i).expect("index below len");
        x1.column_mut(0).copy_from_slice(sample);
        t1.set(0, target);
        let y = net.infer(&x1);
        loss += loss_fn.loss(&y, &t1).as_f64();
        match t1.correct(&y, 1) {
            Some(c) => correct += c,
            None => scored = false,
        }
    }
    let samples = n.max(1) as f64;
    Evaluation {
        samples: n,
        loss: loss / samples,
        accuracy: scored.then(|| correct as f64 / samples),
    }
}
