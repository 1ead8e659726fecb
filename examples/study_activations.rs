//! Study 2 — Activation functions: the same network with six non-linearities, and dead ReLUs.
//!
//! One architecture, 64-100-100-10, trains on the shipped digits (1442 training images,
//! standardised; 355 test images) with each of sigmoid, tanh, ReLU, leaky ReLU (slope 0.01),
//! ELU (α = 1) and maxout (two pieces per unit, so twice the hidden-layer weights). Widths,
//! seed, optimiser (SGD, momentum 0.9, learning rate 0.05), batch size (32) and epochs (40)
//! are the same for all six; each gets the initialisation that keeps its activations' second
//! moment: Xavier (normal) for sigmoid and tanh, He (normal, with the leaky slope) for ReLU,
//! leaky ReLU and ELU, and LeCun normal (σ = 1/√fan_in) for maxout, whose maximum of two
//! centred Gaussians has the same second moment as each of them. Output layers keep
//! PyTorch's default. The test set is evaluated after every epoch only to draw the curves;
//! nothing is selected on it (no early stopping).
//!
//! It prints a table (final training loss, test accuracy, epochs, training time), draws the
//! learning curves of all six in one figure, then trains the ReLU network again at several
//! learning rates and counts its dead units: hidden units whose output is 0 for every one of
//! the 1442 training images, so that no gradient ever reaches their incoming weights again.
//! At the normal rate (0.05) none die; at a high rate (0.5 and above: ten times the normal
//! one, with momentum 0.9) a large share of the units is dead for good.
//!
//! Run it with `cargo run --release --example study_activations`.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use staticnn::data::{Dataset, Loader, Remainder};
use staticnn::fit::{EpochStats, Fit, FitError, Workspace, each_epoch};
use staticnn::optim::SgdConfig;
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

use digits::{CLASSES, FEATURES};
use plot::{Panel, Series};

/// Units of each hidden layer.
pub const HIDDEN: usize = 100;
/// Mini-batch size.
const BATCH: usize = 32;
/// Learning rate of the comparison.
pub const LR: f64 = 0.01;
/// Momentum of SGD, for every run.
const MOMENTUM: f64 = 0.9;
/// Epochs of the comparison.
pub const EPOCHS: usize = 40;
/// Seed of every run (weights and shuffling).
const SEED: u64 = 8;
/// Learning rates of the dead-ReLU sweep.
pub const SWEEP: [f64; 5] = [0.01, 0.03, 0.1, 0.3, 1.0];

network! {
    /// 64-100-100-10 with sigmoid units.
    pub struct SigmoidNet {
        input: FEATURES,
        Linear(FEATURES -> HIDDEN, init = xavier_normal),
        Sigmoid,
        Linear(HIDDEN, init = xavier_normal),
        Sigmoid,
        Linear(CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// 64-100-100-10 with tanh units.
    pub struct TanhNet {
        input: FEATURES,
        Linear(FEATURES -> HIDDEN, init = xavier_normal),
        Tanh,
        Linear(HIDDEN, init = xavier_normal),
        Tanh,
        Linear(CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// 64-100-100-10 with ReLU units; the hidden outputs are named for the dead-unit count.
    pub struct ReluNet {
        input: FEATURES,
        fc1: Linear(FEATURES -> HIDDEN, init = he_normal),
        h1: ReLU,
        fc2: Linear(HIDDEN, init = he_normal),
        h2: ReLU,
        out: Linear(CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// 64-100-100-10 with leaky ReLU units (slope 0.01).
    pub struct LeakyNet {
        input: FEATURES,
        Linear(FEATURES -> HIDDEN, init = he_normal(0.01)),
        LeakyReLU(slope = 0.01),
        Linear(HIDDEN, init = he_normal(0.01)),
        LeakyReLU(slope = 0.01),
        Linear(CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// 64-100-100-10 with ELU units (α = 1).
    pub struct EluNet {
        input: FEATURES,
        Linear(FEATURES -> HIDDEN, init = he_normal),
        ELU(alpha = 1.0),
        Linear(HIDDEN, init = he_normal),
        ELU(alpha = 1.0),
        Linear(CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// 64-100-100-10 with maxout units of two pieces.
    pub struct MaxoutNet {
        input: FEATURES,
        Maxout(FEATURES -> HIDDEN, k = 2, init = lecun_normal),
        Maxout(HIDDEN, k = 2, init = lecun_normal),
        Linear(CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

/// The standardised digits.
pub struct Data {
    train_x: Vec<[f32; FEATURES]>,
    train_y: Vec<usize>,
    test_x: Vec<[f32; FEATURES]>,
    test_y: Vec<usize>,
}

impl Data {
    /// Loads the digits and standardises them with the training images' statistics.
    pub fn load() -> Result<Self, Box<dyn Error>> {
        let digits::Digits {
            train_x,
            train_y,
            test_x,
            test_y,
        } = digits::load_standardised()?;
        Ok(Data {
            train_x,
            train_y,
            test_x,
            test_y,
        })
    }
}

/// One training run.
#[derive(Clone, Debug)]
pub struct Run {
    /// Activation (and learning rate, in the sweep).
    pub name: String,
    /// Initialisation of the hidden layers.
    pub init: &'static str,
    /// Learnable parameters.
    pub params: usize,
    /// Figures of every epoch run.
    pub curves: Vec<EpochStats>,
    /// Wall-clock training time in seconds.
    pub seconds: f64,
    /// The epoch at which a step's loss or gradient became non-finite, if one did (the
    /// network then keeps its last finite weights).
    pub diverged: Option<usize>,
}

impl Run {
    /// Test accuracy after the last epoch run.
    pub fn accuracy(&self) -> f64 {
        self.curves
            .last()
            .and_then(|c| c.val_accuracy)
            .unwrap_or(0.0)
    }

    /// Mean training loss of the last epoch run.
    pub fn train_loss(&self) -> f64 {
        self.curves.last().map_or(f64::NAN, |c| c.train_loss)
    }
}

/// The ReLU network after training at one learning rate of the sweep.
#[derive(Clone, Debug)]
pub struct DeadUnits {
    /// Learning rate.
    pub lr: f64,
    /// Dead units of each hidden layer (out of [`HIDDEN`]) before training.
    pub before: [usize; 2],
    /// Dead units of each hidden layer after training.
    pub after: [usize; 2],
    /// The training run.
    pub run: Run,
}

impl DeadUnits {
    /// Share of all hidden units dead after training.
    pub fn dead_share(&self) -> f64 {
        (self.after[0] + self.after[1]) as f64 / (2 * HIDDEN) as f64
    }
}

/// Everything the study computes.
pub struct Report {
    /// The six activations, in the order of the table.
    pub runs: Vec<Run>,
    /// The ReLU network at each learning rate of the sweep.
    pub sweep: Vec<DeadUnits>,
}

/// What every run of a comparison shares.
struct Setup<'a> {
    data: &'a Data,
    lr: f64,
    epochs: usize,
}

/// Names of the initialisations, as printed.
const XAVIER: &str = "Xavier normal";
const HE: &str = "He normal";
const LECUN: &str = "LeCun normal";

/// Trains `net` with SGD (momentum 0.9) at `setup.lr` for `setup.epochs`, evaluating on the
/// test set after every epoch.
fn train<N>(
    net: &mut N,
    name: &str,
    init: &'static str,
    setup: &Setup<'_>,
) -> Result<Run, Box<dyn Error>>
where
    N: Supervised<f32, FEATURES, CLASSES, Loss = SoftmaxCrossEntropy>,
{
    let Setup { data, lr, epochs } = *setup;
    let train = Dataset::new(&data.train_x, &data.train_y)?;
    let test = Dataset::new(&data.test_x, &data.test_y)?;
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    // Built zeroed on the heap (the tape is large) without the `alloc` feature.
    let mut work: Box<Workspace<N, N::Tape<BATCH>, N::Params>> = bytemuck::zeroed_box();
    work.best = *net;
    let mut sgd = Sgd::<f32, _>::with(
        lr as f32,
        SgdConfig {
            momentum: MOMENTUM,
            ..Default::default()
        },
    );
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
    let mut curves = Vec::new();
    let start = Instant::now();
    let result = Fit::new(epochs)
        .callback(each_epoch(|s: &EpochStats| curves.push(*s)))
        .run(net, &mut sgd, &mut loader, test, &mut *work, &mut rng);
    let seconds = start.elapsed().as_secs_f64();
    let diverged = match result {
        Ok(_) => None,
        Err(FitError::Diverged { epoch, .. }) => Some(epoch),
        Err(e) => return Err(e.into()),
    };
    Ok(Run {
        name: name.into(),
        init,
        params: N::LAYERS.iter().map(|l| l.params).sum(),
        curves,
        seconds,
        diverged,
    })
}

/// A fresh network of type `N` from the study's seed.
fn fresh<N: Network<f32, FEATURES, CLASSES>>() -> N {
    N::new(&mut Xoshiro128PlusPlus::seed_from_u64(SEED))
}

/// Hidden units of the ReLU network that output 0 for every training image, per layer.
pub fn dead_units(net: &mut ReluNet, data: &Data) -> [usize; 2] {
    let mut alive = [[false; HIDDEN]; 2];
    let mut tape = ReluNet::<f32>::tape::<BATCH>();
    let mut x = SMatrix::<f32, FEATURES, BATCH>::zeros();
    // No dropout or batch norm: the train-mode forward only fills the tape.
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let n = data.train_x.len();
    for start in (0..n).step_by(BATCH) {
        // The last batch is topped up with images from the start (already counted).
        for b in 0..BATCH {
            let sample = &data.train_x[(start + b) % n];
            x.column_mut(b).copy_from_slice(sample);
        }
        net.forward_train(&x, &mut tape, &mut rng);
        for (layer, h) in [&tape.h1, &tape.h2].into_iter().enumerate() {
            for (unit, row) in h.row_iter().enumerate() {
                alive[layer][unit] |= row.iter().any(|&v| v > 0.0);
            }
        }
    }
    alive.map(|layer| layer.iter().filter(|&&a| !a).count())
}

/// Runs the study: the six activations for `epochs` each, and the ReLU network at each
/// learning rate of `sweep`. With `out`, writes the figures there and returns their paths.
pub fn run(
    epochs: usize,
    sweep: &[f64],
    out: Option<&Path>,
) -> Result<(Report, Vec<String>), Box<dyn Error>> {
    let data = Data::load()?;
    let setup = Setup {
        data: &data,
        lr: LR,
        epochs,
    };
    let runs = vec![
        train(&mut fresh::<SigmoidNet>(), "sigmoid", XAVIER, &setup)?,
        train(&mut fresh::<TanhNet>(), "tanh", XAVIER, &setup)?,
        train(&mut fresh::<ReluNet>(), "ReLU", HE, &setup)?,
        train(&mut fresh::<LeakyNet>(), "leaky ReLU", HE, &setup)?,
        train(&mut fresh::<EluNet>(), "ELU", HE, &setup)?,
        train(&mut fresh::<MaxoutNet>(), "maxout", LECUN, &setup)?,
    ];

    let mut dead = Vec::new();
    for &lr in sweep {
        let mut net = fresh::<ReluNet>();
        let before = dead_units(&mut net, &data);
        let setup = Setup { lr, ..setup };
        let run = train(&mut net, &format!("ReLU, lr {lr}"), HE, &setup)?;
        let after = dead_units(&mut net, &data);
        dead.push(DeadUnits {
            lr,
            before,
            after,
            run,
        });
    }

    let mut files = Vec::new();
    if let Some(dir) = out {
        let path = dir.join("learning-curves.svg");
        plot_curves(&runs, &path)?;
        files.push(path.display().to_string());
        let path = dir.join("dead-relus.svg");
        plot_dead(&dead, &path)?;
        files.push(path.display().to_string());
    }
    Ok((Report { runs, sweep: dead }, files))
}

/// Training loss (log scale), test accuracy, and test accuracy from 90 % up, per epoch, one
/// line per run.
fn plot_curves(runs: &[Run], path: &Path) -> Result<(), Box<dyn Error>> {
    let series = |f: fn(&EpochStats) -> f64| {
        runs.iter()
            .map(|r| {
                let points = r.curves.iter().map(|c| (c.epoch as f64 + 1.0, f(c)));
                Series::new(r.name.clone(), points)
            })
            .collect()
    };
    let accuracy = |c: &EpochStats| c.val_accuracy.unwrap_or(0.0);
    let panels = [
        Panel::fitted(
            "training loss",
            "epoch",
            "log10 mean cross-entropy",
            series(|c| c.train_loss.log10()),
        ),
        Panel::fitted("test accuracy", "epoch", "", series(accuracy)).with_y(0.0..1.0),
        Panel::fitted("test accuracy (from 90 %)", "epoch", "", series(accuracy)).with_y(0.9..1.0),
    ];
    plot::lines(path, 3, &panels)
}

/// Dead units per hidden layer (left) and test accuracy (right) against the learning rate.
fn plot_dead(sweep: &[DeadUnits], path: &Path) -> Result<(), Box<dyn Error>> {
    let x = |d: &DeadUnits| d.lr.log10();
    let layer = |k: usize| {
        let points = sweep
            .iter()
            .map(|d| (x(d), 100.0 * d.after[k] as f64 / HIDDEN as f64));
        Series::new(format!("hidden layer {}", k + 1), points)
    };
    let panels = [
        Panel::fitted(
            "dead ReLUs after training",
            "log10 learning rate",
            "% of units",
            vec![layer(0), layer(1)],
        ),
        Panel::fitted(
            "test accuracy after training",
            "log10 learning rate",
            "",
            vec![Series::new(
                "ReLU",
                sweep.iter().map(|d| (x(d), d.run.accuracy())),
            )],
        )
        .with_y(0.0..1.0),
    ];
    plot::lines(path, 2, &panels)
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = plot::output_dir("study_activations")?;
    let (report, files) = run(EPOCHS, &SWEEP, Some(&dir))?;

    println!(
        "64-{HIDDEN}-{HIDDEN}-10 on the digits: SGD lr {LR}, momentum {MOMENTUM}, batch {BATCH}, {EPOCHS} epochs, seed {SEED}\n"
    );
    println!("activation   init            params   train loss   test acc.   epochs   time (s)");
    for r in &report.runs {
        println!(
            "{:<12} {:<13} {:>8} {:>12.4} {:>9.2} % {:>8} {:>10.2}{}",
            r.name,
            r.init,
            r.params,
            r.train_loss(),
            100.0 * r.accuracy(),
            r.curves.len(),
            r.seconds,
            r.diverged
                .map_or(String::new(), |e| format!("  diverged at epoch {e}"))
        );
    }

    println!(
        "\nReLU network at several learning rates: dead hidden units (never active on the 1442 training images)"
    );
    println!(
        "lr       dead before (h1, h2)   dead after (h1, h2)   dead share   train loss   test acc."
    );
    for d in &report.sweep {
        println!(
            "{:<8} {:>12} {:>5} {:>15} {:>5} {:>10.1} % {:>12.4} {:>9.2} %{}",
            d.lr,
            d.before[0],
            d.before[1],
            d.after[0],
            d.after[1],
            100.0 * d.dead_share(),
            d.run.train_loss(),
            100.0 * d.run.accuracy(),
            d.run
                .diverged
                .map_or(String::new(), |e| format!("  diverged at epoch {e}"))
        );
    }

    println!("\nfigures:");
    for f in files {
        println!("  {f}");
    }
    Ok(())
}
