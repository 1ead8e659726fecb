//! The training loop: early stopping restores the best weights, the callback can stop
//! training, divergence is a typed error that keeps the last finite weights, and evaluation
//! counts every sample once.

use staticnn::data::{Dataset, Loader, Remainder};
use staticnn::fit::{
    Callback, Control, EarlyStopping, EpochStats, FitConfig, FitError, evaluate, fit,
};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};
use staticnn::schedule::{Constant, StepLr};

network! {
    struct Net { input: 4, Linear(16), ReLU, Linear(3), loss: SoftmaxCrossEntropy }
}

network! {
    struct Reg { input: 2, Linear(8), Tanh, Linear(1), loss: Mse }
}

/// Three noisy clusters; the validation set is small so that it overfits quickly.
fn clusters<T: Scalar>(n: usize, seed: u64) -> (Vec<[T; 4]>, Vec<usize>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let xs = (0..n)
        .map(|i| {
            core::array::from_fn(|j| {
                let centre = if j == i % 3 { 1.0 } else { 0.0 };
                T::of(centre + rng.random::<f64>() * 1.5 - 0.75)
            })
        })
        .collect();
    (xs, (0..n).map(|i| i % 3).collect())
}

/// Records every epoch and stops when told to.
struct Log {
    epochs: Vec<EpochStats>,
    stop_after: usize,
}

impl Callback for Log {
    fn epoch_end(&mut self, s: &EpochStats) -> Control {
        self.epochs.push(*s);
        if self.epochs.len() >= self.stop_after {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// With early stopping, the network ends with the weights of the best validation epoch,
/// and the report names that epoch and its loss.
#[test]
fn early_stopping_restores_the_best_weights() {
    let (xs, ys) = clusters::<f64>(60, 1);
    let (vx, vy) = clusters::<f64>(9, 2);
    let (train, val) = (
        Dataset::new(&xs, &ys).unwrap(),
        Dataset::new(&vx, &vy).unwrap(),
    );
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let mut net = Net::<f64>::new(&mut rng);
    let mut best = net;
    let (mut tape, mut grads) = (Net::<f64>::tape::<6>(), Net::<f64>::gradients());
    let mut order = vec![0; 60];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop).unwrap();
    let config = FitConfig {
        epochs: 300,
        early_stopping: Some(EarlyStopping::new(5)),
        schedule: Constant,
        augment: (),
    };
    let mut log = Log {
        epochs: Vec::new(),
        stop_after: usize::MAX,
    };
    let report = fit(
        &mut net,
        &mut best,
        &mut tape,
        &mut grads,
        &mut loader,
        val,
        &mut Adam::new(0.05),
        0.05,
        &config,
        &mut rng,
        &mut log,
    )
    .unwrap();
    assert!(
        report.stopped_early && report.epochs_run < 300,
        "{report:?}"
    );
    assert_eq!(report.epochs_run, log.epochs.len());
    assert_eq!(
        report.epochs_run,
        report.best_epoch + 1 + 5,
        "stops `patience` epochs after the best"
    );
    let best_logged = log
        .epochs
        .iter()
        .map(|e| e.val_loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(report.best_val_loss, best_logged);
    assert_eq!(log.epochs[report.best_epoch].val_loss, best_logged);
    // The restored network reproduces the best validation loss exactly.
    let now = evaluate::<Net<f64>, f64, usize, 4, 3, 6>(&net, val);
    assert_eq!(now.loss, best_logged);
    assert_eq!(net, best);
}

/// A callback can stop training; the schedule sets the learning rate of every epoch.
#[test]
fn callback_stops_and_schedule_sets_lr() {
    let (xs, ys) = clusters::<f32>(30, 4);
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let mut net = Net::<f32>::new(&mut rng);
    let mut best = net;
    let (mut tape, mut grads) = (Net::<f32>::tape::<5>(), Net::<f32>::gradients());
    let mut order = vec![0; 30];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let config = FitConfig {
        epochs: 10,
        early_stopping: None,
        schedule: StepLr {
            step_size: 2,
            gamma: 0.5,
        },
        augment: (),
    };
    let mut log = Log {
        epochs: Vec::new(),
        stop_after: 4,
    };
    let mut sgd = Sgd::new(0.0f32);
    let report = fit(
        &mut net,
        &mut best,
        &mut tape,
        &mut grads,
        &mut loader,
        data,
        &mut sgd,
        0.4,
        &config,
        &mut rng,
        &mut log,
    )
    .unwrap();
    assert_eq!(report.epochs_run, 4);
    assert!(report.stopped_early);
    let lrs: Vec<f64> = log.epochs.iter().map(|e| e.lr).collect();
    assert_eq!(lrs, [0.4, 0.4, 0.2, 0.2]);
    assert!(
        log.epochs
            .iter()
            .all(|e| e.train_accuracy.is_some() && e.val_accuracy.is_some())
    );
}

/// A step that diverges ends `fit` with a typed error naming the epoch and batch, and the
/// network keeps finite weights.
#[test]
fn divergence_is_a_typed_error() {
    let xs = [[1.0f32, 2.0], [3.0, f32::NAN], [0.5, 0.5], [1.0, 1.0]];
    let ts = [[0.0f32], [1.0], [0.0], [1.0]];
    let data = Dataset::new(&xs, &ts).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(6);
    let mut net = Reg::<f32>::new(&mut rng);
    let before = net;
    let mut best = net;
    let (mut tape, mut grads) = (Reg::<f32>::tape::<2>(), Reg::<f32>::gradients());
    let mut order = vec![0; 4];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let config = FitConfig {
        epochs: 3,
        early_stopping: None,
        schedule: Constant,
        augment: (),
    };
    let err = fit(
        &mut net,
        &mut best,
        &mut tape,
        &mut grads,
        &mut loader,
        data,
        &mut Sgd::new(0.1),
        0.1,
        &config,
        &mut rng,
        &mut |_: &EpochStats| {},
    )
    .unwrap_err();
    assert!(matches!(err, FitError::Diverged { epoch: 0, .. }), "{err}");
    let finite = |n: &Reg<f32>| {
        staticnn::block::as_slice::<f32, _>(&n.params)
            .iter()
            .all(|v| v.is_finite())
    };
    assert!(finite(&net));
    // Regression targets have no accuracy.
    let eval = evaluate::<Reg<f32>, f32, [f32; 1], 2, 1, 2>(
        &before,
        Dataset::new(&xs[2..], &ts[2..]).unwrap(),
    );
    assert_eq!(eval.accuracy, None);
    assert_eq!(eval.samples, 2);
}

/// Evaluation counts every sample exactly once, also when the batch size does not divide
/// the data (the remainder goes one sample at a time).
#[test]
fn evaluation_covers_the_remainder() {
    let (xs, ys) = clusters::<f64>(11, 7);
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(8);
    let net = Net::<f64>::new(&mut rng);
    let by4 = evaluate::<Net<f64>, f64, usize, 4, 3, 4>(&net, data);
    let by1 = evaluate::<Net<f64>, f64, usize, 4, 3, 1>(&net, data);
    assert_eq!(by4.samples, 11);
    assert!((by4.loss - by1.loss).abs() < 1e-12);
    assert_eq!(by4.accuracy, by1.accuracy);
}
