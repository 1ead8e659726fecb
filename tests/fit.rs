//! The training loop: early stopping restores the best weights, the callback can stop
//! training, divergence is a typed error that keeps the last finite weights, and evaluation
//! counts every sample once.

use staticnn::data::{Dataset, Loader, Remainder};
use staticnn::fit::{
    Batch, Callback, ClipGradNorm, Control, EarlyStopping, EpochStats, Fit, FitError, Penalize,
    Workspace, before_update, each_epoch, evaluate, on_epoch,
};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};
use staticnn::schedule::StepLr;

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

impl<N> Callback<N> for Log {
    fn epoch_end(&mut self, _: &N, s: &EpochStats) -> Control {
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
    let mut work = Workspace::new(&net, Batch::<6>);
    let mut order = vec![0; 60];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop).unwrap();
    let mut log = Log {
        epochs: Vec::new(),
        stop_after: usize::MAX,
    };
    let report = Fit::new(300)
        .early_stopping(EarlyStopping::new(5))
        .callback(&mut log)
        .run(
            &mut net,
            &mut Adam::new(0.05),
            &mut loader,
            val,
            &mut work,
            &mut rng,
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
    let now = evaluate(&net, val, SoftmaxCrossEntropy, Batch::<6>).unwrap();
    assert_eq!(now.loss, best_logged);
    assert_eq!(net, work.best);
}

/// A callback can stop training; the schedule sets the learning rate of every epoch.
#[test]
fn callback_stops_and_schedule_sets_lr() {
    let (xs, ys) = clusters::<f32>(30, 4);
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let mut net = Net::<f32>::new(&mut rng);
    let mut work = Workspace::new(&net, Batch::<5>);
    let mut order = vec![0; 30];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let mut log = Log {
        epochs: Vec::new(),
        stop_after: 4,
    };
    // The schedule starts from the optimiser's rate, restated exactly in f64.
    let mut sgd = Sgd::new(0.4f32);
    let report = Fit::new(10)
        .learning_rate(0.4)
        .schedule(StepLr {
            step_size: 2,
            gamma: 0.5,
        })
        .callback(&mut log)
        .run(&mut net, &mut sgd, &mut loader, data, &mut work, &mut rng)
        .unwrap();
    assert_eq!(report.epochs_run, 4);
    assert!(report.stopped_early);
    let lrs: Vec<f64> = log.epochs.iter().map(|e| e.lr).collect();
    assert_eq!(lrs, [0.4, 0.4, 0.2, 0.2]);
    assert_eq!(sgd.lr(), 0.2f32);
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
    let mut work = Workspace::new(&net, Batch::<2>);
    let mut order = vec![0; 4];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let err = Fit::new(3)
        .run(
            &mut net,
            &mut Sgd::new(0.1),
            &mut loader,
            data,
            &mut work,
            &mut rng,
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
    let eval = evaluate(
        &before,
        Dataset::new(&xs[2..], &ts[2..]).unwrap(),
        Mse,
        Batch::<2>,
    )
    .unwrap();
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
    let by4 = evaluate(&net, data, SoftmaxCrossEntropy, Batch::<4>).unwrap();
    let by1 = evaluate(&net, data, SoftmaxCrossEntropy, Batch::<1>).unwrap();
    assert_eq!(by4.samples, 11);
    assert!((by4.loss - by1.loss).abs() < 1e-12);
    assert_eq!(by4.accuracy, by1.accuracy);
}

/// The learning rate has one source, the optimiser's: without a restated rate the schedule
/// starts from it, and a restated rate that is not the optimiser's is an error before any
/// step, not an override.
#[test]
fn learning_rate_comes_from_the_optimiser() {
    let (xs, ys) = clusters::<f32>(20, 9);
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(10);
    let mut net = Net::<f32>::new(&mut rng);
    let before = net;
    let mut work = Workspace::new(&net, Batch::<5>);
    let mut order = vec![0; 20];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let mut sgd = Sgd::new(0.2f32);

    let err = Fit::new(3)
        .learning_rate(0.1)
        .run(&mut net, &mut sgd, &mut loader, data, &mut work, &mut rng)
        .unwrap_err();
    assert_eq!(
        err,
        FitError::LearningRate {
            optimizer: f64::from(0.2f32),
            configured: 0.1
        }
    );
    assert!(err.to_string().contains("not the optimiser's"), "{err}");
    assert_eq!(net, before, "nothing was trained");
    assert_eq!(sgd.lr(), 0.2);

    let mut lrs = Vec::new();
    Fit::new(2)
        .callback(each_epoch(|s: &EpochStats| lrs.push(s.lr)))
        .run(&mut net, &mut sgd, &mut loader, data, &mut work, &mut rng)
        .unwrap();
    assert_eq!(lrs, [f64::from(0.2f32); 2]);
    assert_ne!(net, before);
}

/// Callbacks see the network after every epoch: they can score it (here reproducing the
/// validation loss bit for bit), keep a checkpoint, and stop; `train_end` sees the final
/// network and the report.
#[test]
fn callbacks_see_the_network() {
    let (xs, ys) = clusters::<f64>(30, 11);
    let (vx, vy) = clusters::<f64>(7, 12);
    let (train, val) = (
        Dataset::new(&xs, &ys).unwrap(),
        Dataset::new(&vx, &vy).unwrap(),
    );
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(13);
    let mut net = Net::<f64>::new(&mut rng);
    let mut work = Workspace::new(&net, Batch::<5>);
    let mut order = vec![0; 30];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop).unwrap();

    struct End {
        net: Option<Net<f64>>,
        epochs: usize,
    }
    impl Callback<Net<f64>> for End {
        fn epoch_end(&mut self, _: &Net<f64>, _: &EpochStats) -> Control {
            Control::Continue
        }
        fn train_end(&mut self, net: &Net<f64>, report: &staticnn::fit::FitReport) {
            self.net = Some(*net);
            self.epochs = report.epochs_run;
        }
    }

    let mut checkpoint = Net::<f64>::zeroed();
    let mut end = End {
        net: None,
        epochs: 0,
    };
    let report = Fit::new(20)
        .callback((
            on_epoch(|net: &Net<f64>, s: &EpochStats| {
                let scored = evaluate(net, val, SoftmaxCrossEntropy, Batch::<3>).unwrap();
                // A batch of 3 sums in another order than the loop's batches of 5.
                assert!((scored.loss - s.val_loss).abs() < 1e-12);
                if s.epoch == 2 {
                    checkpoint = *net;
                }
                if s.epoch == 5 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            }),
            &mut end,
        ))
        .run(
            &mut net,
            &mut Adam::new(0.01),
            &mut loader,
            val,
            &mut work,
            &mut rng,
        )
        .unwrap();
    assert_eq!((report.epochs_run, report.stopped_early), (6, true));
    assert_eq!(end.epochs, 6);
    assert_eq!(end.net, Some(net));
    assert_ne!(checkpoint, Net::<f64>::zeroed());
    assert_ne!(checkpoint, net);
}

/// Trains three epochs by hand with `train_step`, as `fit` did before its step hook.
fn by_hand(seed: u64, xs: &[[f32; 4]], ys: &[usize]) -> Net<f32> {
    by_hand_with(seed, xs, ys, Adam::new(0.02f32))
}

/// [`by_hand`] with the optimiser `opt`.
fn by_hand_with<O: Optimizer<f32, NetParams<f32>>>(
    seed: u64,
    xs: &[[f32; 4]],
    ys: &[usize],
    mut opt: O,
) -> Net<f32> {
    let data = Dataset::new(xs, ys).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = Net::<f32>::new(&mut rng);
    let (mut tape, mut grads) = (Net::<f32>::tape::<4>(), Net::<f32>::gradients());
    let mut order = vec![0; xs.len()];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let mut x = SMatrix::<f32, 4, 4>::zeros();
    let mut t = [ClassIndex::<3>::default(); 4];
    for _ in 0..3 {
        loader.start_epoch(&mut rng);
        while loader.next_batch(&mut x, &mut t, &mut rng).is_some() {
            net.train_step(&x, &t, &mut grads, &mut tape, &mut opt, &mut rng)
                .unwrap();
        }
    }
    net
}

/// Without a step hook, a step is `train_step` exactly: the same weights bit for bit.
#[test]
fn plain_step_is_train_step() {
    let (xs, ys) = clusters::<f32>(24, 14);
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(15);
    let mut net = Net::<f32>::new(&mut rng);
    let mut work = Workspace::new(&net, Batch::<4>);
    let mut order = vec![0; 24];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    Fit::new(3)
        .run(
            &mut net,
            &mut Adam::new(0.02),
            &mut loader,
            data,
            &mut work,
            &mut rng,
        )
        .unwrap();
    assert_eq!(net, by_hand(15, &xs, &ys));
}

/// With plain SGD, a step is `train_step` exactly whether the hook keeps the gradients
/// (`()`: on x86-64 with the vector kernels, both apply the update inside the backward
/// pass, `Network::backward_sgd`; elsewhere the update trusts the backward pass and the
/// forward's bound on the parameters, `Optimizer::try_step_finite`) or may change them (a
/// closure: the backward pass, then `try_step`, which checks all).
#[test]
fn plain_sgd_step_is_train_step_whatever_the_hook() {
    let (xs, ys) = clusters::<f32>(24, 14);
    let data = Dataset::new(&xs, &ys).unwrap();
    let expected = by_hand_with(15, &xs, &ys, Sgd::new(0.2f32));
    for keeps in [true, false] {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(15);
        let mut net = Net::<f32>::new(&mut rng);
        let mut work = Workspace::new(&net, Batch::<4>);
        let mut order = vec![0; 24];
        let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
        let mut sgd = Sgd::new(0.2f32);
        if keeps {
            Fit::new(3)
                .run(&mut net, &mut sgd, &mut loader, data, &mut work, &mut rng)
                .unwrap();
        } else {
            Fit::new(3)
                .step_hook(before_update(
                    |_: &NetParams<f32>, _: &mut NetParams<f32>| 0.0,
                ))
                .run(&mut net, &mut sgd, &mut loader, data, &mut work, &mut rng)
                .unwrap();
        }
        assert_eq!(net, expected, "keeps={keeps}");
    }
}

/// Step hooks: gradient clipping bounds every update's gradient, a penalty is the same as
/// adding it in a loop written by hand (weights bit for bit, and in the reported loss), and
/// max-norm constrains the weights after every update.
#[test]
fn step_hooks_clip_penalise_and_constrain() {
    use staticnn::regularize::{L2, MaxNorm};
    let (xs, ys) = clusters::<f32>(24, 16);
    let data = Dataset::new(&xs, &ys).unwrap();
    let fresh = || {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(17);
        (Net::<f32>::new(&mut rng), rng)
    };
    let mut order = vec![0; 24];

    // Clipping, then a closure that sees the clipped gradients.
    let (mut net, mut rng) = fresh();
    let mut work = Workspace::new(&net, Batch::<4>);
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let (mut steps, mut largest) = (0, 0.0f32);
    Fit::new(2)
        .step_hook((
            ClipGradNorm(0.01),
            before_update(|_: &NetParams<f32>, g: &mut NetParams<f32>| {
                steps += 1;
                largest = largest.max(staticnn::optim::grad_norm(g));
                0.0
            }),
        ))
        .run(
            &mut net,
            &mut Sgd::new(0.1),
            &mut loader,
            data,
            &mut work,
            &mut rng,
        )
        .unwrap();
    assert_eq!(steps, 12);
    assert!(
        largest > 0.0099 && largest <= 0.01 * (1.0 + 1e-5),
        "{largest}"
    );

    // A penalty through the hook and by hand.
    let l2 = L2::new(0.05);
    let (mut net, mut rng) = fresh();
    let mut work = Workspace::new(&net, Batch::<4>);
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let mut train_loss = 0.0;
    Fit::new(1)
        .step_hook(Penalize(l2))
        .callback(each_epoch(|s: &EpochStats| train_loss = s.train_loss))
        .run(
            &mut net,
            &mut Sgd::new(0.1),
            &mut loader,
            data,
            &mut work,
            &mut rng,
        )
        .unwrap();
    let (mut manual, mut rng) = fresh();
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let (mut tape, mut grads) = (Net::<f32>::tape::<4>(), Net::<f32>::gradients());
    let mut sgd = Sgd::new(0.1f32);
    let (mut x, mut t) = (
        SMatrix::<f32, 4, 4>::zeros(),
        [ClassIndex::<3>::default(); 4],
    );
    let mut sum = 0.0;
    loader.start_epoch(&mut rng);
    while loader.next_batch(&mut x, &mut t, &mut rng).is_some() {
        let mut dy = SMatrix::<f32, 3, 4>::zeros();
        let y = manual.forward_train(&x, &mut tape, &mut rng);
        let loss = SoftmaxCrossEntropy.loss_and_grad(y, &t, &mut dy);
        manual.backward_overwrite(&x, &mut tape, &dy, &mut grads, None);
        let total = loss + l2.penalty_and_grad(manual.params(), &mut grads);
        sum += f64::from(total) * 4.0;
        sgd.step(manual.params_mut(), &grads);
    }
    assert_eq!(net, manual);
    assert_eq!(train_loss, sum / 24.0);

    // Max-norm after every update.
    let (mut net, mut rng) = fresh();
    let mut work = Workspace::new(&net, Batch::<4>);
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    Fit::new(3)
        .step_hook(MaxNorm::new(0.3))
        .run(
            &mut net,
            &mut Sgd::new(0.5),
            &mut loader,
            data,
            &mut work,
            &mut rng,
        )
        .unwrap();
    for r in 0..16 {
        assert!(net.params.layer0.weight.row(r).norm() <= 0.3 + 1e-6);
    }
}

/// A step hook that makes the loss non-finite fails the step like `train_step` does, and
/// leaves the weights as they were.
#[test]
fn a_hook_that_breaks_the_loss_is_divergence() {
    let (xs, ys) = clusters::<f32>(8, 18);
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(19);
    let mut net = Net::<f32>::new(&mut rng);
    let before = net;
    let mut work = Workspace::new(&net, Batch::<4>);
    let mut order = vec![0; 8];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let err = Fit::new(1)
        .step_hook(before_update(
            |_: &NetParams<f32>, _: &mut NetParams<f32>| f32::INFINITY,
        ))
        .run(
            &mut net,
            &mut Sgd::new(0.1),
            &mut loader,
            data,
            &mut work,
            &mut rng,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            FitError::Diverged {
                epoch: 0,
                batch: 0,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(net, before);
}

/// A progress bar is only a display: the run is the same with and without it, and it is
/// finished when training ends (it hides itself when the output is not a terminal).
#[cfg(feature = "std")]
#[test]
fn progress_changes_nothing() {
    let (xs, ys) = clusters::<f32>(24, 20);
    let data = Dataset::new(&xs, &ys).unwrap();
    let run = |progress: bool| {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(21);
        let mut net = Net::<f32>::new(&mut rng);
        let mut work = Workspace::new(&net, Batch::<4>);
        let mut order = vec![0; 24];
        let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
        let mut fit = Fit::new(4).early_stopping(EarlyStopping::new(2));
        let mut adam = Adam::new(0.01);
        let report = if progress {
            fit.progress()
                .run(&mut net, &mut adam, &mut loader, data, &mut work, &mut rng)
        } else {
            fit.run(&mut net, &mut adam, &mut loader, data, &mut work, &mut rng)
        };
        (report.unwrap(), net)
    };
    assert_eq!(run(true), run(false));
}

/// A validation label the network has no output for is a typed error before any step
/// (it used to be scored as class 0), and `evaluate` and `Confusion::of` refuse it too.
#[test]
fn validation_labels_out_of_range_are_errors() {
    let (xs, ys) = clusters::<f64>(12, 21);
    let (vx, mut vy) = clusters::<f64>(5, 22);
    vy[3] = 3;
    let (train, val) = (
        Dataset::new(&xs, &ys).unwrap(),
        Dataset::new(&vx, &vy).unwrap(),
    );
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(23);
    let mut net = Net::<f64>::new(&mut rng);
    let before = net;
    let mut work = Workspace::new(&net, Batch::<4>);
    let mut order = vec![0; 12];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop).unwrap();
    let err = Fit::new(3)
        .run(
            &mut net,
            &mut Sgd::new(0.1),
            &mut loader,
            val,
            &mut work,
            &mut rng,
        )
        .unwrap_err();
    let expected = staticnn::data::DataError::LabelOutOfRange {
        row: 3,
        label: 3,
        classes: 3,
    };
    assert_eq!(err, FitError::Validation(expected));
    assert!(err.to_string().contains("validation set"), "{err}");
    assert_eq!(net, before, "nothing was trained");
    assert_eq!(
        evaluate(&net, val, SoftmaxCrossEntropy, Batch::<2>).unwrap_err(),
        expected
    );
    assert_eq!(
        staticnn::metrics::Confusion::<3>::of(&net, val, Batch::<2>).unwrap_err(),
        expected
    );
}
