//! The training loop: epochs over a data set with an optimiser and a learning-rate
//! schedule, per-epoch figures through a callback, early stopping that restores the best
//! weights, and a divergence guard. Allocation-free and `no_std`.
//!
//! ```
//! use staticnn::prelude::*;
//! use staticnn::data::{Dataset, Loader, Remainder};
//! use staticnn::fit::{EarlyStopping, EpochStats, FitConfig, fit};
//! use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
//! use staticnn::schedule::Constant;
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
//! let mut best = net;
//! let (mut tape, mut grads) = (Net::<f32>::tape::<4>(), Net::<f32>::gradients());
//! let config = FitConfig {
//!     epochs: 100,
//!     early_stopping: Some(EarlyStopping::new(10)),
//!     schedule: Constant,
//!     augment: (),
//! };
//! let mut last = EpochStats::default();
//! let report = fit(
//!     &mut net, &mut best, &mut tape, &mut grads, &mut loader, train,
//!     &mut Sgd::new(0.5), 0.5, &config, &mut rng,
//!     &mut |s: &EpochStats| last = *s,
//! )?;
//! assert!(report.best_val_loss < 0.1);
//! assert_eq!(last.val_accuracy, Some(1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use crate::data::{Augment, Dataset, Loader, Targets};
use crate::scalar::ShortFloat;
use crate::schedule::Schedule;
use crate::{ClassIndex, LearningRate, Loss, Optimizer, SMatrix, Scalar, Supervised};

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

/// Receives every epoch's figures: a progress display, a learning-curve recorder, a
/// custom stopping rule. Closures `FnMut(&EpochStats)` implement it and never stop.
pub trait Callback {
    /// Called after each epoch.
    fn epoch_end(&mut self, stats: &EpochStats) -> Control;
}

impl<F: FnMut(&EpochStats)> Callback for F {
    fn epoch_end(&mut self, stats: &EpochStats) -> Control {
        self(stats);
        Control::Continue
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

/// How to train.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitConfig<S, A = ()> {
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Early stopping, if any.
    pub early_stopping: Option<EarlyStopping>,
    /// Learning rate per epoch, from the base rate given to [`fit`].
    pub schedule: S,
    /// Augmentation applied to every training batch as it is drawn (`()` for none).
    pub augment: A,
}

/// The outcome of [`fit`].
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

/// Training stopped because a loss or gradient was NaN or infinite. The network holds the
/// weights and statistics of its last finite step.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum FitError {
    /// A training step produced a non-finite loss or gradient.
    Diverged {
        /// Epoch of the failing step.
        epoch: usize,
        /// Batch within the epoch.
        batch: usize,
        /// The loss of that batch.
        loss: f64,
    },
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Diverged { epoch, batch, loss } => write!(
                f,
                "training diverged at epoch {epoch}, batch {batch} (loss = {}); the network keeps its last finite weights",
                ShortFloat(*loss)
            ),
        }
    }
}

impl core::error::Error for FitError {}

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

/// Evaluates `net` in eval mode on every sample of `data`: batches of `B`, then the
/// remainder one sample at a time, so every sample counts exactly once.
pub fn evaluate<N, T, Y, const IN: usize, const OUT: usize, const B: usize>(
    net: &N,
    data: Dataset<'_, T, IN, Y>,
) -> Evaluation
where
    T: Scalar,
    N: Supervised<T, IN, OUT>,
    <N::Loss as Loss<T, OUT>>::Target<B>: Targets<Y, B> + Scored<T, OUT, B>,
    <N::Loss as Loss<T, OUT>>::Target<1>: Targets<Y, 1> + Scored<T, OUT, 1>,
{
    let loss_fn = N::Loss::default();
    let (mut loss, mut correct, mut scored) = (0.0, 0usize, true);
    let n = data.len();
    let full = n / B * B;
    let mut x = SMatrix::<T, IN, B>::zeros();
    let mut t = <<N::Loss as Loss<T, OUT>>::Target<B> as Scored<T, OUT, B>>::blank();
    for start in (0..full).step_by(B.max(1)) {
        for b in 0..B {
            let (sample, target) = data.get(start + b).expect("index below len");
            x.column_mut(b).copy_from_slice(sample);
            t.set(b, target);
        }
        let y = net.forward(&x);
        loss += loss_fn.loss(&y, &t).as_f64() * B as f64;
        match t.correct(&y, B) {
            Some(c) => correct += c,
            None => scored = false,
        }
    }
    let mut x1 = SMatrix::<T, IN, 1>::zeros();
    let mut t1 = <<N::Loss as Loss<T, OUT>>::Target<1> as Scored<T, OUT, 1>>::blank();
    for i in full..n {
        let (sample, target) = data.get(i).expect("index below len");
        x1.column_mut(0).copy_from_slice(sample);
        t1.set(0, target);
        let y = net.forward(&x1);
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

/// Trains `net` for up to `config.epochs` epochs of `train`, evaluating on `val` after
/// each, and returns where the validation loss was best.
///
/// - The learning rate of epoch `e` is `config.schedule.lr(base_lr, e)`, set on `opt`.
/// - `tape` and `grads` are the step's working memory; `best` receives a plain copy of the
///   network whenever the validation loss improves (no allocation: it is any value of the
///   network type, e.g. a copy made before training, or a zeroed `Box`).
/// - With early stopping, training ends after `patience` epochs without an improvement of
///   more than `min_delta`, and the best weights are restored when asked. The callback may
///   stop training too.
///
/// # Errors
///
/// [`FitError::Diverged`] when a step's loss or gradient is not finite; the network keeps
/// its last finite weights and statistics (see [`Supervised::train_step`]).
#[allow(clippy::too_many_arguments)]
pub fn fit<N, T, Y, O, S, A, R, C, const IN: usize, const OUT: usize, const B: usize>(
    net: &mut N,
    best: &mut N,
    tape: &mut N::Tape<B>,
    grads: &mut N::Params,
    train: &mut Loader<'_, '_, T, IN, Y, <N::Loss as Loss<T, OUT>>::Target<B>, B>,
    val: Dataset<'_, T, IN, Y>,
    opt: &mut O,
    base_lr: f64,
    config: &FitConfig<S, A>,
    rng: &mut R,
    callback: &mut C,
) -> Result<FitReport, FitError>
where
    T: Scalar,
    N: Supervised<T, IN, OUT>,
    <N::Loss as Loss<T, OUT>>::Target<B>: Targets<Y, B> + Scored<T, OUT, B>,
    <N::Loss as Loss<T, OUT>>::Target<1>: Targets<Y, 1> + Scored<T, OUT, 1>,
    O: Optimizer<T, N::Params> + LearningRate<T>,
    S: Schedule,
    A: Augment<T, IN>,
    R: rand::Rng + ?Sized,
    C: Callback + ?Sized,
{
    let mut report = FitReport {
        best_val_loss: f64::INFINITY,
        ..FitReport::default()
    };
    let mut waited = 0;
    let mut x = SMatrix::<T, IN, B>::zeros();
    let mut t = <<N::Loss as Loss<T, OUT>>::Target<B> as Scored<T, OUT, B>>::blank();
    for epoch in 0..config.epochs {
        let lr = config.schedule.apply(opt, base_lr, epoch as u32);
        train.start_epoch(rng);
        let (mut loss_sum, mut seen, mut correct, mut scored) = (0.0, 0usize, 0usize, true);
        let mut batch = 0;
        while let Some(valid) = train.next_batch(&mut x, &mut t, rng) {
            config.augment.augment_batch(&mut x, rng);
            let loss = net
                .train_step(&x, &t, grads, tape, opt, rng)
                .map_err(|e| match e {
                    crate::network::TrainError::NonFinite { loss } => {
                        FitError::Diverged { epoch, batch, loss }
                    }
                })?;
            loss_sum += loss.as_f64() * valid as f64;
            seen += valid;
            match t.correct(N::output(tape), valid) {
                Some(c) => correct += c,
                None => scored = false,
            }
            batch += 1;
        }
        let val_eval = evaluate::<N, T, Y, IN, OUT, B>(net, val);
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
        let min_delta = config.early_stopping.map_or(0.0, |e| e.min_delta);
        if stats.val_loss < report.best_val_loss - min_delta {
            report.best_val_loss = stats.val_loss;
            report.best_epoch = epoch;
            bytemuck::bytes_of_mut(best).copy_from_slice(bytemuck::bytes_of(net));
            waited = 0;
        } else {
            waited += 1;
        }
        let control = callback.epoch_end(&stats);
        let patience_over = config.early_stopping.is_some_and(|e| waited >= e.patience);
        if control == Control::Stop || patience_over {
            report.stopped_early = epoch + 1 < config.epochs;
            break;
        }
    }
    if config.early_stopping.is_some_and(|e| e.restore_best) && report.best_val_loss.is_finite() {
        bytemuck::bytes_of_mut(net).copy_from_slice(bytemuck::bytes_of(best));
    }
    Ok(report)
}
