//! 04 — Regularisation: closing the gap between training and validation accuracy.
//!
//! A 64-128-128-10 ReLU network has about 26 000 parameters; here it learns the UCI 8×8
//! digits from one training image in seven (a stratified subset of 209), so it can
//! memorise them. Pixels stay in `[0, 1]`. Six variants train from the same seed with SGD
//! (momentum 0.9, learning rate 0.02, batches of 20) for 150 epochs:
//!
//! - **none**: the plain network;
//! - **L2**: weight decay 0.01 in the optimiser (`SgdConfig::weight_decay`, weight matrices
//!   only), which for SGD is exactly the gradient of the penalty `λ/2·‖W‖²` of
//!   `regularize::L2`;
//! - **dropout**: the same network with `Dropout(0.5)` after each hidden ReLU;
//! - **noise**: augmentation by Gaussian noise of standard deviation 0.3 added to every
//!   pixel of every training image each time it is drawn (`data::GaussianNoise`);
//! - **shifts**: augmentation by moving every training image up to one pixel in each
//!   direction, zero fill (`data::RandomTranslate`);
//! - **early stopping**: the plain network, stopped once the validation loss has not
//!   improved for 15 epochs, with the weights of its best epoch restored
//!   (`fit::EarlyStopping`).
//!
//! After every epoch, accuracy and loss are measured in eval mode (no dropout, no
//! augmentation) on the training subset and on a stratified validation set of 417 other
//! training images; the test set (355 images) is scored once, at the end.
//!
//! What it shows: the plain network fits its training images perfectly within 20 epochs
//! and then learns nothing more that carries over; dropout and noise narrow the gap and
//! lower the validation loss, L2 keeps the training loss away from zero, shifting these
//! centred 8×8 digits by a whole pixel hurts, and early stopping saves epochs, not
//! accuracy. The gains in validation accuracy are small (one to six images) and the test
//! set does not confirm them: a small network generalises well on these digits. The
//! table gives the final training and validation accuracy, the gap and the test accuracy
//! of each variant; the curves go to
//! `target/staticnn-examples/study_regularisation/curves.svg` (accuracy in the top row,
//! loss in the bottom row, one column per variant).
//!
//! Run it with `cargo run --release --example study_regularisation`.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;

use std::error::Error;
use std::path::Path;

use staticnn::data::{Augment, GaussianNoise, RandomTranslate, Ratio, split_stratified};
use staticnn::fit::{EarlyStopping, EpochStats, FitConfig, FitReport, evaluate, fit};
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::schedule::Constant;

use digits::{CLASSES, FEATURES};
use plot::{Panel, Series};

network! {
    /// Two wide ReLU hidden layers: far more parameters than training images.
    pub struct Wide {
        input: FEATURES,
        fc1: Linear(FEATURES -> 128, init = he_normal, bias = zeros),
        act1: ReLU,
        fc2: Linear(128, init = he_normal, bias = zeros),
        act2: ReLU,
        out: Linear(CLASSES, init = he_normal, bias = zeros),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// The same layers with dropout after each hidden ReLU.
    pub struct WideDropout {
        input: FEATURES,
        fc1: Linear(FEATURES -> 128, init = he_normal, bias = zeros),
        act1: ReLU,
        drop1: Dropout(0.5),
        fc2: Linear(128, init = he_normal, bias = zeros),
        act2: ReLU,
        drop2: Dropout(0.5),
        out: Linear(CLASSES, init = he_normal, bias = zeros),
        loss: SoftmaxCrossEntropy,
    }
}

/// Mini-batch size.
const BATCH: usize = 20;
/// Learning rate of SGD.
const LR: f64 = 0.02;
/// Momentum of SGD.
const MOMENTUM: f64 = 0.9;
/// Weight decay of the L2 variant.
pub const WEIGHT_DECAY: f64 = 1e-2;
/// Standard deviation of the noise added to the pixels by the noise augmentation.
const NOISE: f64 = 0.3;
/// Largest move, in pixels, of the shift augmentation.
const SHIFT: usize = 1;
/// Epochs without a better validation loss before early stopping ends training.
pub const PATIENCE: usize = 15;
/// Epochs of the other variants (and at most of early stopping).
pub const EPOCHS: usize = 150;
/// Seed of the subset and of every network.
const SEED: u64 = 4;

/// Accuracy and loss of one set, eval mode.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Score {
    /// Accuracy.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
}

/// Training and validation scores after one epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    /// On the training subset.
    pub train: Score,
    /// On the validation set.
    pub val: Score,
}

/// One variant's run.
pub struct Run {
    /// The variant's name.
    pub name: &'static str,
    /// One point per epoch trained.
    pub curves: Vec<Point>,
    /// Scores of the final network (for early stopping, the restored one).
    pub last: Point,
    /// Test accuracy of the final network.
    pub test_accuracy: f64,
    /// For early stopping: the epoch (from 0) whose weights were restored.
    pub best_epoch: Option<usize>,
}

impl Run {
    /// Training minus validation accuracy of the final network.
    pub fn gap(&self) -> f64 {
        self.last.train.accuracy - self.last.val.accuracy
    }
}

/// The sets of the study: a small training subset, a validation set and the test set.
struct Data {
    train_x: Vec<[f32; FEATURES]>,
    train_y: Vec<usize>,
    val_x: Vec<[f32; FEATURES]>,
    val_y: Vec<usize>,
    test_x: Vec<[f32; FEATURES]>,
    test_y: Vec<usize>,
}

impl Data {
    fn train(&self) -> Result<Dataset<'_, f32, FEATURES, usize>, Box<dyn Error>> {
        Ok(Dataset::new(&self.train_x, &self.train_y)?)
    }
    fn val(&self) -> Result<Dataset<'_, f32, FEATURES, usize>, Box<dyn Error>> {
        Ok(Dataset::new(&self.val_x, &self.val_y)?)
    }
    fn test(&self) -> Result<Dataset<'_, f32, FEATURES, usize>, Box<dyn Error>> {
        Ok(Dataset::new(&self.test_x, &self.test_y)?)
    }
}

/// Out of every seven training images of a class, one goes to the training subset and two
/// to the validation set; the other four are not used.
fn prepare() -> Result<Data, Box<dyn Error>> {
    let d = digits::load();
    let mut rows = vec![0usize; d.train_y.len()];
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let ratio = Ratio {
        train: 1,
        validation: 2,
        test: 4,
    };
    let split = split_stratified::<CLASSES>(&d.train_y, &mut rows, ratio, &mut rng)?;
    let pick = |rows: &[usize]| -> (Vec<[f32; FEATURES]>, Vec<usize>) {
        rows.iter().map(|&r| (d.train_x[r], d.train_y[r])).unzip()
    };
    let (train_x, train_y) = pick(split.train);
    let (val_x, val_y) = pick(split.validation);
    Ok(Data {
        train_x,
        train_y,
        val_x,
        val_y,
        test_x: d.test_x,
        test_y: d.test_y,
    })
}

/// Eval-mode accuracy and loss of `net` on `set`.
fn score<N>(net: &N, set: Dataset<'_, f32, FEATURES, usize>) -> Score
where
    N: Supervised<f32, FEATURES, CLASSES, Loss = SoftmaxCrossEntropy>,
{
    let e = evaluate::<N, f32, usize, FEATURES, CLASSES, BATCH>(net, set);
    Score {
        accuracy: e.accuracy.unwrap_or(0.0),
        loss: e.loss,
    }
}

/// The validation scores `fit` measured (eval mode) after an epoch.
fn validation(stats: &EpochStats) -> Score {
    Score {
        accuracy: stats.val_accuracy.unwrap_or(0.0),
        loss: stats.val_loss,
    }
}

/// How a variant trains.
struct Recipe<A> {
    name: &'static str,
    weight_decay: f64,
    augment: A,
    /// Early stopping with this patience, in one call of `fit`; otherwise `fit` is called
    /// one epoch at a time and the training subset is scored after each.
    patience: Option<usize>,
}

/// Trains a fresh network of type `N` as `recipe` says, for at most `epochs` epochs.
fn train<N, A>(data: &Data, recipe: Recipe<A>, epochs: usize) -> Result<Run, Box<dyn Error>>
where
    N: Supervised<f32, FEATURES, CLASSES, Loss = SoftmaxCrossEntropy>,
    A: Augment<f32, FEATURES>,
{
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut net = N::new(&mut rng);
    let mut best = net;
    let mut tape = N::tape::<BATCH>();
    let mut grads = N::gradients();
    let mut sgd = Sgd::with(
        LR as f32,
        SgdConfig {
            momentum: MOMENTUM,
            weight_decay: Decay::weights(recipe.weight_decay),
            ..SgdConfig::default()
        },
    );
    let mut order = vec![0usize; data.train_y.len()];
    let mut loader = Loader::new(data.train()?, &mut order, Remainder::Drop)?;
    let mut config = FitConfig {
        epochs,
        early_stopping: recipe.patience.map(EarlyStopping::new),
        schedule: Constant,
        augment: recipe.augment,
    };
    let mut curves = Vec::with_capacity(epochs);
    let mut best_epoch = None;
    if recipe.patience.is_some() {
        let mut seen = Vec::with_capacity(epochs);
        let mut record = |s: &EpochStats| seen.push(*s);
        let report: FitReport = fit(
            &mut net,
            &mut best,
            &mut tape,
            &mut grads,
            &mut loader,
            data.val()?,
            &mut sgd,
            LR,
            &config,
            &mut rng,
            &mut record,
        )?;
        best_epoch = Some(report.best_epoch);
        // `fit` reports the training figures in train mode only; these are the validation
        // ones (eval mode), which the caller completes from the plain run.
        curves.extend(seen.iter().map(|s| Point {
            train: Score::default(),
            val: validation(s),
        }));
    } else {
        config.epochs = 1;
        for _ in 0..epochs {
            let mut val = Score::default();
            let mut record = |s: &EpochStats| val = validation(s);
            fit(
                &mut net,
                &mut best,
                &mut tape,
                &mut grads,
                &mut loader,
                data.val()?,
                &mut sgd,
                LR,
                &config,
                &mut rng,
                &mut record,
            )?;
            curves.push(Point {
                train: score(&net, data.train()?),
                val,
            });
        }
    }
    Ok(Run {
        name: recipe.name,
        curves,
        last: Point {
            train: score(&net, data.train()?),
            val: score(&net, data.val()?),
        },
        test_accuracy: score(&net, data.test()?).accuracy,
        best_epoch,
    })
}

/// Trains the six variants for `epochs` epochs each (early stopping: at most). Returns
/// them in the order none, L2, dropout, noise, shifts, early stopping, and the sizes of
/// the training subset and the validation set.
pub fn run(epochs: usize) -> Result<(Vec<Run>, usize, usize), Box<dyn Error>> {
    let data = prepare()?;
    let plain = |name| Recipe {
        name,
        weight_decay: 0.0,
        augment: (),
        patience: None,
    };
    let none = train::<Wide<f32>, _>(&data, plain("none"), epochs)?;
    let l2 = Recipe {
        weight_decay: WEIGHT_DECAY,
        ..plain("L2")
    };
    let l2 = train::<Wide<f32>, _>(&data, l2, epochs)?;
    let dropout = train::<WideDropout<f32>, _>(&data, plain("dropout"), epochs)?;
    let noise = Recipe {
        name: "noise",
        weight_decay: 0.0,
        augment: GaussianNoise { std: NOISE },
        patience: None,
    };
    let noise = train::<Wide<f32>, _>(&data, noise, epochs)?;
    let shifts = Recipe {
        name: "shifts",
        weight_decay: 0.0,
        augment: RandomTranslate::<1, 8, 8>::new(SHIFT, SHIFT),
        patience: None,
    };
    let shifts = train::<Wide<f32>, _>(&data, shifts, epochs)?;
    let stop = Recipe {
        patience: Some(PATIENCE),
        ..plain("early stopping")
    };
    let mut early = train::<Wide<f32>, _>(&data, stop, epochs)?;
    // Early stopping ran the plain network's very steps (same seed, same batches) until it
    // stopped, so its training curve is the plain run's, epoch for epoch.
    for (point, plain_point) in early.curves.iter_mut().zip(&none.curves) {
        point.train = plain_point.train;
    }
    let sizes = (data.train_y.len(), data.val_y.len());
    Ok((
        vec![none, l2, dropout, noise, shifts, early],
        sizes.0,
        sizes.1,
    ))
}

fn print_table(runs: &[Run]) {
    println!(
        "{:<15} {:>7} {:>10} {:>11} {:>8} {:>9} | {:>10} {:>10}",
        "variant",
        "epochs",
        "train acc",
        "valid. acc",
        "gap",
        "test acc",
        "train loss",
        "val. loss"
    );
    for r in runs {
        let epochs = match r.best_epoch {
            Some(b) => format!("{}/{}", b + 1, r.curves.len()),
            None => r.curves.len().to_string(),
        };
        println!(
            "{:<15} {:>7} {:>8.2} % {:>9.2} % {:>6.2} % {:>7.2} % | {:>10.4} {:>10.4}",
            r.name,
            epochs,
            100.0 * r.last.train.accuracy,
            100.0 * r.last.val.accuracy,
            100.0 * r.gap(),
            100.0 * r.test_accuracy,
            r.last.train.loss,
            r.last.val.loss
        );
    }
}

/// Accuracy panels (top row) and loss panels (bottom row), one column per variant.
fn plot_curves(runs: &[Run], path: &Path) -> Result<(), Box<dyn Error>> {
    let line = |name: &str, run: &Run, f: fn(&Point) -> f64| {
        Series::new(
            name,
            run.curves
                .iter()
                .enumerate()
                .map(|(e, p)| (e as f64 + 1.0, f(p))),
        )
    };
    let title = |r: &Run| match r.best_epoch {
        Some(b) => format!("{} (best epoch {})", r.name, b + 1),
        None => r.name.to_string(),
    };
    let mut panels = Vec::new();
    for r in runs {
        let series = vec![
            line("train", r, |p| p.train.accuracy),
            line("validation", r, |p| p.val.accuracy),
        ];
        let panel = Panel::fitted(&title(r), "epoch", "accuracy", series);
        panels.push(panel.with_y(0.5..1.01));
    }
    for r in runs {
        let series = vec![
            line("train", r, |p| p.train.loss),
            line("validation", r, |p| p.val.loss),
        ];
        panels.push(Panel::fitted(&title(r), "epoch", "loss", series).with_y(0.0..1.5));
    }
    plot::lines(path, runs.len(), &panels)
}

fn main() -> Result<(), Box<dyn Error>> {
    let (runs, train, val) = run(EPOCHS)?;
    println!(
        "{train} training images, {val} validation images, 355 test images; eval mode throughout"
    );
    println!("epochs: run (early stopping: restored epoch/run); gap = train acc − valid. acc\n");
    print_table(&runs);
    let path = plot::output_dir("study_regularisation")?.join("curves.svg");
    plot_curves(&runs, &path)?;
    println!("\ntraining and validation curves: {}", path.display());
    Ok(())
}
