//! 04 — Regularisation: closing the gap between training and validation accuracy.
//!
//! A 64-256-256-10 ReLU network has about 85 000 parameters; here it learns the UCI 8×8
//! digits from about ten training images per class (a stratified subset of 100 of the 1442
//! training images, one in fifteen of each class), and one training label in five
//! ([`FLIP`]) is replaced by a wrong class — the classic setting in which memorising the
//! training set costs accuracy (on clean labels these digits are too easy: see the docs
//! page). Pixels stay in `[0, 1]`. Five variants train with Adam (learning rate 0.001,
//! batches of 16) for 150 epochs:
//!
//! - **none**: the plain network;
//! - **L2**: the penalty `λ/2·‖W‖²` on the weight matrices, as the optimiser's weight decay
//!   (`AdamConfig::weight_decay`, added to the gradient: the gradient of
//!   `regularize::L2`);
//! - **dropout**: the same network with `Dropout` after each hidden ReLU;
//! - **noise**: augmentation by Gaussian noise added to every pixel of every training image
//!   each time it is drawn (`data::GaussianNoise`);
//! - **early stopping**: the plain network, stopped once the validation loss has not
//!   improved for [`PATIENCE`] epochs, with the weights of its best epoch restored
//!   (`fit::EarlyStopping`).
//!
//! The strengths ([`WEIGHT_DECAY`], [`DROPOUT`], [`NOISE`]) were chosen by a small sweep,
//! as the highest mean validation accuracy; `-- sweep` reruns it and prints its table (the
//! test set plays no part in it). Every variant runs for three seeds ([`SEEDS`]), each with
//! its own training subset, flipped labels, validation set (three in fifteen of each
//! class, 300 images, labels clean) and initialisation; the tables and curves are means
//! over the seeds. After every epoch, accuracy and loss are measured in eval mode (no
//! dropout, no augmentation) on the training subset (against its labels, wrong ones
//! included) and on the validation set; the test set (355 images) is scored once per run,
//! at the end.
//!
//! What it shows: the plain network fits all its training labels, wrong ones included,
//! within 30 epochs; its training loss goes to zero and its validation loss rises again
//! after its minimum near epoch 15 — it memorises. Each regulariser raises the validation
//! accuracy and narrows the gap between training and validation accuracy, L2 and strong
//! noise by refusing to fit the wrong labels, dropout by delaying the memorisation, early
//! stopping by stopping before it. The curves go to
//! `target/staticnn-examples/study_regularisation/` (`curves.svg`: accuracy and loss per
//! variant; `gap.svg`: the gap and the validation loss of all variants together).
//!
//! Run it with `cargo run --release --example study_regularisation`; add `-- sweep` for
//! the strength sweep, and `clean` to either for the same runs without wrong labels.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;

use std::error::Error;
use std::path::Path;

use staticnn::data::{Augment, GaussianNoise, Ratio, split_stratified};
use staticnn::fit::{
    Batch, Control, EarlyStopping, EpochStats, Fit, Workspace, each_epoch, evaluate, on_epoch,
};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

use digits::{CLASSES, FEATURES};
use plot::{Panel, Series};

/// Width of both hidden layers.
const HIDDEN: usize = 256;
/// Drop probability of the dropout variant ([`WideDropout`]).
pub const DROPOUT: f64 = 0.5;
/// The lighter drop probability the sweep also tries ([`WideDropoutLight`]).
const DROPOUT_LIGHT: f64 = 0.2;

network! {
    /// Two wide ReLU hidden layers: far more parameters than training images.
    pub struct Wide {
        input: FEATURES,
        fc1: Linear(FEATURES -> HIDDEN, init = he_normal, bias = zeros),
        act1: ReLU,
        fc2: Linear(HIDDEN, init = he_normal, bias = zeros),
        act2: ReLU,
        out: Linear(CLASSES, init = he_normal, bias = zeros),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// The same layers with dropout after each hidden ReLU.
    pub struct WideDropout {
        input: FEATURES,
        fc1: Linear(FEATURES -> HIDDEN, init = he_normal, bias = zeros),
        act1: ReLU,
        drop1: Dropout(DROPOUT),
        fc2: Linear(HIDDEN, init = he_normal, bias = zeros),
        act2: ReLU,
        drop2: Dropout(DROPOUT),
        out: Linear(CLASSES, init = he_normal, bias = zeros),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// The same layers with lighter dropout (for the sweep).
    pub struct WideDropoutLight {
        input: FEATURES,
        fc1: Linear(FEATURES -> HIDDEN, init = he_normal, bias = zeros),
        act1: ReLU,
        drop1: Dropout(DROPOUT_LIGHT),
        fc2: Linear(HIDDEN, init = he_normal, bias = zeros),
        act2: ReLU,
        drop2: Dropout(DROPOUT_LIGHT),
        out: Linear(CLASSES, init = he_normal, bias = zeros),
        loss: SoftmaxCrossEntropy,
    }
}

/// Mini-batch size.
const BATCH: usize = 16;
/// Learning rate of Adam.
const LR: f64 = 1e-3;
/// Weight decay of the L2 variant.
pub const WEIGHT_DECAY: f64 = 5e-2;
/// Standard deviation of the noise added to the pixels by the noise augmentation.
pub const NOISE: f64 = 0.8;
/// Epochs without a better validation loss before early stopping ends training.
pub const PATIENCE: usize = 20;
/// Epochs of the other variants (and at most of early stopping).
pub const EPOCHS: usize = 150;
/// Probability that a training label is replaced by a wrong one.
pub const FLIP: f64 = 0.2;
/// Seeds of the runs: each picks its own subsets and initialisation.
pub const SEEDS: [u64; 3] = [4, 5, 6];

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

impl Point {
    /// Training minus validation accuracy.
    pub fn gap(&self) -> f64 {
        self.train.accuracy - self.val.accuracy
    }
}

/// One variant's run on one seed.
pub struct Run {
    /// One point per epoch trained.
    pub curves: Vec<Point>,
    /// Scores of the final network (for early stopping, the restored one).
    pub last: Point,
    /// Test accuracy of the final network.
    pub test_accuracy: f64,
    /// For early stopping: the epoch (from 0) whose weights were restored.
    pub best_epoch: Option<usize>,
}

/// One variant's runs, one per seed.
pub struct Variant {
    /// The variant's name.
    pub name: String,
    /// One run per seed of [`SEEDS`] (or of the seeds `run` was given).
    pub runs: Vec<Run>,
}

impl Variant {
    /// Mean over the seeds of `f` of each run.
    pub fn mean(&self, f: impl Fn(&Run) -> f64) -> f64 {
        self.runs.iter().map(f).sum::<f64>() / self.runs.len() as f64
    }

    /// Mean final gap, training minus validation accuracy.
    pub fn gap(&self) -> f64 {
        self.mean(|r| r.last.gap())
    }

    /// Mean over the seeds of the curves, epoch by epoch, as long as every run lasted.
    pub fn mean_curves(&self) -> Vec<Point> {
        let len = self.runs.iter().map(|r| r.curves.len()).min().unwrap_or(0);
        let n = self.runs.len() as f64;
        (0..len)
            .map(|e| {
                let mut p = Point::default();
                for r in &self.runs {
                    let q = r.curves[e];
                    p.train.accuracy += q.train.accuracy / n;
                    p.train.loss += q.train.loss / n;
                    p.val.accuracy += q.val.accuracy / n;
                    p.val.loss += q.val.loss / n;
                }
                p
            })
            .collect()
    }
}

/// The sets of one seed: a small training subset, a validation set and the test set.
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

/// Out of every fifteen training images of a class, one goes to the training subset and
/// three to the validation set; the other eleven are not used. Each label of the training
/// subset is then, with probability `flip`, replaced by one of the nine other classes
/// drawn uniformly; validation and test labels stay clean.
fn prepare(seed: u64, flip: f64) -> Result<Data, Box<dyn Error>> {
    let d = digits::load();
    let mut rows = vec![0usize; d.train_y.len()];
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let ratio = Ratio {
        train: 1,
        validation: 3,
        test: 11,
    };
    let split = split_stratified::<CLASSES>(&d.train_y, &mut rows, ratio, &mut rng)?;
    let pick = |rows: &[usize]| -> (Vec<[f32; FEATURES]>, Vec<usize>) {
        rows.iter().map(|&r| (d.train_x[r], d.train_y[r])).unzip()
    };
    let (train_x, mut train_y) = pick(split.train);
    let (val_x, val_y) = pick(split.validation);
    for y in &mut train_y {
        if rng.random_bool(flip) {
            *y = (*y + rng.random_range(1..CLASSES)) % CLASSES;
        }
    }
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
    // The digits labels are 0..=9, checked when the data set was split.
    let e = evaluate(net, set, SoftmaxCrossEntropy, Batch::<BATCH>)
        .expect("digits labels are below the 10 outputs");
    Score {
        accuracy: e.accuracy.unwrap_or(0.0),
        loss: e.loss,
    }
}

/// The scores of the set `fit` validated on (eval mode) after an epoch.
fn validation(stats: &EpochStats) -> Score {
    Score {
        accuracy: stats.val_accuracy.unwrap_or(0.0),
        loss: stats.val_loss,
    }
}

/// How a variant trains.
struct Recipe<A> {
    weight_decay: f64,
    augment: A,
    /// Early stopping with this patience, in one call of `fit`; otherwise `fit` is called
    /// one epoch at a time.
    patience: Option<usize>,
}

/// Trains a fresh network of type `N` from `seed` on `data` as `recipe` says, for at most
/// `epochs` epochs.
fn train<N, A>(
    data: &Data,
    recipe: Recipe<A>,
    epochs: usize,
    seed: u64,
) -> Result<Run, Box<dyn Error>>
where
    N: Supervised<f32, FEATURES, CLASSES, Loss = SoftmaxCrossEntropy>,
    A: Augment<f32, FEATURES>,
{
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = N::new(&mut rng);
    let mut work = Workspace::new(&net, Batch::<BATCH>);
    let mut adam = Adam::with(
        LR as f32,
        AdamConfig {
            weight_decay: Decay::weights(recipe.weight_decay),
            ..AdamConfig::default()
        },
    );
    let mut order = vec![0usize; data.train_y.len()];
    let mut loader = Loader::new(data.train()?, &mut order, Remainder::Drop)?;
    let fit = Fit::new(epochs).augment(recipe.augment);
    let mut curves = Vec::with_capacity(epochs);
    let mut best_epoch = None;
    if let Some(patience) = recipe.patience {
        let report = fit
            .early_stopping(EarlyStopping::new(patience))
            // `fit` reports the training figures in train mode only; these are the
            // validation ones (eval mode), which the caller completes from the plain run.
            .callback(each_epoch(|s: &EpochStats| {
                curves.push(Point {
                    train: Score::default(),
                    val: validation(s),
                });
            }))
            .run(
                &mut net,
                &mut adam,
                &mut loader,
                data.val()?,
                &mut work,
                &mut rng,
            )?;
        best_epoch = Some(report.best_epoch);
    } else {
        // `fit` validates on the training subset here, which scores it in eval mode; the
        // callback scores the validation set after each epoch.
        let val = data.val()?;
        fit.callback(on_epoch(|net: &N, s: &EpochStats| {
            curves.push(Point {
                train: validation(s),
                val: score(net, val),
            });
            Control::Continue
        }))
        .run(
            &mut net,
            &mut adam,
            &mut loader,
            data.train()?,
            &mut work,
            &mut rng,
        )?;
    }
    Ok(Run {
        curves,
        last: Point {
            train: score(&net, data.train()?),
            val: score(&net, data.val()?),
        },
        test_accuracy: score(&net, data.test()?).accuracy,
        best_epoch,
    })
}

/// A recipe without regularisation.
fn plain() -> Recipe<()> {
    Recipe {
        weight_decay: 0.0,
        augment: (),
        patience: None,
    }
}

/// A recipe with weight decay `lambda`.
fn decay(lambda: f64) -> Recipe<()> {
    Recipe {
        weight_decay: lambda,
        ..plain()
    }
}

/// A recipe with Gaussian pixel noise of standard deviation `std`.
fn noise(std: f64) -> Recipe<GaussianNoise> {
    Recipe {
        weight_decay: 0.0,
        augment: GaussianNoise { std },
        patience: None,
    }
}

/// Runs `one` for every seed and gathers the runs under `name`.
fn variant(
    name: String,
    seeds: &[u64],
    flip: f64,
    mut one: impl FnMut(&Data, u64) -> Result<Run, Box<dyn Error>>,
) -> Result<Variant, Box<dyn Error>> {
    let runs = seeds
        .iter()
        .map(|&seed| one(&prepare(seed, flip)?, seed))
        .collect::<Result<_, _>>()?;
    Ok(Variant { name, runs })
}

/// Trains the five variants for `epochs` epochs each (early stopping: at most), once per
/// seed. Returns them in the order none, L2, dropout, noise, early stopping, and the sizes
/// of the first seed's training subset and validation set.
pub fn run(
    epochs: usize,
    seeds: &[u64],
    flip: f64,
) -> Result<(Vec<Variant>, usize, usize), Box<dyn Error>> {
    let none = variant("none".into(), seeds, flip, |d, s| {
        train::<Wide<f32>, _>(d, plain(), epochs, s)
    })?;
    let l2 = variant(format!("L2 {WEIGHT_DECAY}"), seeds, flip, |d, s| {
        train::<Wide<f32>, _>(d, decay(WEIGHT_DECAY), epochs, s)
    })?;
    let dropout = variant(format!("dropout {DROPOUT}"), seeds, flip, |d, s| {
        train::<WideDropout<f32>, _>(d, plain(), epochs, s)
    })?;
    let noisy = variant(format!("noise {NOISE}"), seeds, flip, |d, s| {
        train::<Wide<f32>, _>(d, noise(NOISE), epochs, s)
    })?;
    let stop = Recipe {
        patience: Some(PATIENCE),
        ..plain()
    };
    let mut early = variant("early stopping".into(), seeds, flip, |d, s| {
        train::<Wide<f32>, _>(d, Recipe { ..stop }, epochs, s)
    })?;
    // Early stopping ran the plain network's very steps (same seed, same batches) until it
    // stopped, so its training curve is the plain run's, epoch for epoch.
    for (run, plain_run) in early.runs.iter_mut().zip(&none.runs) {
        for (point, plain_point) in run.curves.iter_mut().zip(&plain_run.curves) {
            point.train = plain_point.train;
        }
    }
    let data = prepare(seeds[0], flip)?;
    Ok((
        vec![none, l2, dropout, noisy, early],
        data.train_y.len(),
        data.val_y.len(),
    ))
}

/// The strength sweep: every candidate strength of L2, dropout and noise (and the plain
/// network for reference), trained for `epochs` epochs once per seed. Only the validation
/// scores are meant to be read: the strengths are chosen on them.
pub fn sweep(epochs: usize, seeds: &[u64], flip: f64) -> Result<Vec<Variant>, Box<dyn Error>> {
    let mut out = vec![variant("none".into(), seeds, flip, |d, s| {
        train::<Wide<f32>, _>(d, plain(), epochs, s)
    })?];
    for lambda in [1e-3, 1e-2, 5e-2, 2e-1] {
        out.push(variant(format!("L2 {lambda}"), seeds, flip, |d, s| {
            train::<Wide<f32>, _>(d, decay(lambda), epochs, s)
        })?);
    }
    out.push(variant(
        format!("dropout {DROPOUT_LIGHT}"),
        seeds,
        flip,
        |d, s| train::<WideDropoutLight<f32>, _>(d, plain(), epochs, s),
    )?);
    out.push(variant(
        format!("dropout {DROPOUT}"),
        seeds,
        flip,
        |d, s| train::<WideDropout<f32>, _>(d, plain(), epochs, s),
    )?);
    for std in [0.2, 0.4, 0.8] {
        out.push(variant(format!("noise {std}"), seeds, flip, |d, s| {
            train::<Wide<f32>, _>(d, noise(std), epochs, s)
        })?);
    }
    Ok(out)
}

fn print_table(variants: &[Variant]) {
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
    for v in variants {
        let epochs = match v.runs[0].best_epoch {
            Some(_) => format!("{:.0}", v.mean(|r| r.best_epoch.unwrap_or(0) as f64 + 1.0)),
            None => v.runs[0].curves.len().to_string(),
        };
        println!(
            "{:<15} {:>7} {:>8.2} % {:>9.2} % {:>6.2} % {:>7.2} % | {:>10.4} {:>10.4}",
            v.name,
            epochs,
            100.0 * v.mean(|r| r.last.train.accuracy),
            100.0 * v.mean(|r| r.last.val.accuracy),
            100.0 * v.gap(),
            100.0 * v.mean(|r| r.test_accuracy),
            v.mean(|r| r.last.train.loss),
            v.mean(|r| r.last.val.loss)
        );
    }
}

fn print_sweep(variants: &[Variant]) {
    println!(
        "{:<15} {:>10} {:>11} {:>8} | {:>10} {:>10}",
        "strength", "train acc", "valid. acc", "gap", "train loss", "val. loss"
    );
    for v in variants {
        println!(
            "{:<15} {:>8.2} % {:>9.2} % {:>6.2} % | {:>10.4} {:>10.4}",
            v.name,
            100.0 * v.mean(|r| r.last.train.accuracy),
            100.0 * v.mean(|r| r.last.val.accuracy),
            100.0 * v.gap(),
            v.mean(|r| r.last.train.loss),
            v.mean(|r| r.last.val.loss)
        );
    }
}

/// One line per epoch of `f` of `points`.
fn line(name: &str, points: &[Point], f: fn(&Point) -> f64) -> Series {
    Series::new(
        name,
        points
            .iter()
            .enumerate()
            .map(|(e, p)| (e as f64 + 1.0, f(p))),
    )
}

/// Accuracy panels (top row) and loss panels (bottom row), one column per variant, means
/// over the seeds.
fn plot_curves(variants: &[Variant], path: &Path) -> Result<(), Box<dyn Error>> {
    let means: Vec<Vec<Point>> = variants.iter().map(Variant::mean_curves).collect();
    let mut panels = Vec::new();
    for (v, m) in variants.iter().zip(&means) {
        let series = vec![
            line("train", m, |p| p.train.accuracy),
            line("validation", m, |p| p.val.accuracy),
        ];
        let panel = Panel::fitted(&v.name, "epoch", "accuracy", series);
        panels.push(panel.with_y(0.4..1.01));
    }
    for (v, m) in variants.iter().zip(&means) {
        let series = vec![
            line("train", m, |p| p.train.loss),
            line("validation", m, |p| p.val.loss),
        ];
        panels.push(Panel::fitted(&v.name, "epoch", "loss", series).with_y(0.0..2.0));
    }
    plot::lines(path, variants.len(), &panels)
}

/// The gap (left) and the validation loss (right) of every variant that trains all epochs,
/// means over the seeds.
fn plot_gap(variants: &[Variant], path: &Path) -> Result<(), Box<dyn Error>> {
    let full: Vec<(&Variant, Vec<Point>)> = variants
        .iter()
        .filter(|v| v.runs[0].best_epoch.is_none())
        .map(|v| (v, v.mean_curves()))
        .collect();
    let gap = full
        .iter()
        .map(|(v, m)| line(&v.name, m, Point::gap))
        .collect();
    let loss = full
        .iter()
        .map(|(v, m)| line(&v.name, m, |p| p.val.loss))
        .collect();
    let panels = [
        Panel::fitted("gap: train − validation accuracy", "epoch", "", gap),
        Panel::fitted("validation loss", "epoch", "", loss).with_y(0.0..1.5),
    ];
    plot::lines(path, 2, &panels)
}

fn main() -> Result<(), Box<dyn Error>> {
    let flip = if std::env::args().any(|a| a == "clean") {
        0.0
    } else {
        FLIP
    };
    if std::env::args().any(|a| a == "sweep") {
        let variants = sweep(EPOCHS, &SEEDS, flip)?;
        println!(
            "strength sweep, {EPOCHS} epochs, training labels flipped with probability \
             {flip}, means over {} seeds; validation set only\n",
            SEEDS.len()
        );
        print_sweep(&variants);
        return Ok(());
    }
    let (variants, train, val) = run(EPOCHS, &SEEDS, flip)?;
    println!(
        "{train} training images, {val} validation images, 355 test images; eval mode \
         throughout; means over {} seeds",
        SEEDS.len()
    );
    println!("epochs: run (early stopping: mean restored epoch); gap = train acc − valid. acc\n");
    print_table(&variants);
    let dir = plot::output_dir("study_regularisation")?;
    let curves = dir.join("curves.svg");
    plot_curves(&variants, &curves)?;
    let gap = dir.join("gap.svg");
    plot_gap(&variants, &gap)?;
    println!(
        "\ntraining and validation curves: {}\ngap and validation loss: {}",
        curves.display(),
        gap.display()
    );
    Ok(())
}
