//! 03 — Batch normalisation: the same network with and without it, at six learning rates.
//!
//! A 64-100-100-100-10 ReLU network (He-normal weights, zero biases) learns the UCI 8×8
//! digits with plain SGD (no momentum, constant learning rate, batches of 32, standardised
//! pixels) for 30 epochs, once as it is and once with a `BatchNorm` between each hidden
//! `Linear` layer and its ReLU. Both start from the same seed at each of the learning rates
//! 0.01, 0.05, 0.1, 0.5, 1 and 2. After every epoch the network is scored in eval mode
//! (batch norm with its running statistics) on a stratified validation set of 201 images
//! held out of the training images; the test set (355 images) is scored once, at the end.
//!
//! What it shows: without batch norm the network trains well only up to a learning rate of
//! about 0.5 and diverges in its first epoch at 1 and 2; with batch norm it trains at every
//! rate of the sweep, reaches 95 % validation accuracy within three epochs from 0.5 up, and
//! ends with the higher test accuracy from 0.05 up. At the smallest rate the normalised
//! network is the slower one to reach 95 %, not the faster.
//!
//! It prints a table (epochs to 95 % validation accuracy, final test accuracy) and writes
//! the training loss per epoch, one panel per learning rate, to
//! `target/staticnn-examples/study_batch_norm/loss.svg`.
//!
//! Run it with `cargo run --release --example study_batch_norm`.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;

use std::error::Error;
use std::path::Path;

use staticnn::data::{Ratio, Standardise, split_stratified};
use staticnn::fit::{Batch, EpochStats, Fit, FitError, Workspace, each_epoch, evaluate};
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

use digits::{CLASSES, FEATURES};
use plot::{Panel, Series};

network! {
    /// Three ReLU hidden layers, no normalisation.
    pub struct Plain {
        input: FEATURES,
        fc1: Linear(FEATURES -> 100, init = he_normal, bias = zeros),
        act1: ReLU,
        fc2: Linear(100, init = he_normal, bias = zeros),
        act2: ReLU,
        fc3: Linear(100, init = he_normal, bias = zeros),
        act3: ReLU,
        out: Linear(CLASSES, init = he_normal, bias = zeros),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// The same layers with a batch norm between each hidden `Linear` and its ReLU.
    pub struct Normed {
        input: FEATURES,
        fc1: Linear(FEATURES -> 100, init = he_normal, bias = zeros),
        bn1: BatchNorm,
        act1: ReLU,
        fc2: Linear(100, init = he_normal, bias = zeros),
        bn2: BatchNorm,
        act2: ReLU,
        fc3: Linear(100, init = he_normal, bias = zeros),
        bn3: BatchNorm,
        act3: ReLU,
        out: Linear(CLASSES, init = he_normal, bias = zeros),
        loss: SoftmaxCrossEntropy,
    }
}

/// Mini-batch size.
const BATCH: usize = 32;
/// Learning rates of the sweep.
pub const LEARNING_RATES: [f64; 6] = [0.01, 0.05, 0.1, 0.5, 1.0, 2.0];
/// Epochs every run trains for.
pub const EPOCHS: usize = 30;
/// Validation accuracy (eval mode) a run has to reach.
pub const TARGET: f64 = 0.95;
/// Seed of the split and of every network (the same for both variants).
const SEED: u64 = 8;

/// One training run.
pub struct Run {
    /// Figures of every epoch completed, eval mode for validation.
    pub curves: Vec<EpochStats>,
    /// The epoch (counting from 1) after which validation accuracy first reached
    /// [`TARGET`], if it did.
    pub epochs_to_target: Option<usize>,
    /// The epoch (from 0) in which a step gave a non-finite loss, if one did; training
    /// stopped there.
    pub diverged_at: Option<usize>,
    /// Test accuracy at the end, eval mode.
    pub test_accuracy: f64,
}

/// Both variants at one learning rate.
pub struct Comparison {
    /// The learning rate.
    pub lr: f64,
    /// The network without batch norm.
    pub plain: Run,
    /// The network with batch norm.
    pub normed: Run,
}

/// The digits, standardised with training statistics: training, validation and test rows.
struct Data {
    train_x: Vec<[f32; FEATURES]>,
    train_y: Vec<usize>,
    val_x: Vec<[f32; FEATURES]>,
    val_y: Vec<usize>,
    test_x: Vec<[f32; FEATURES]>,
    test_y: Vec<usize>,
}

/// Holds one training image in seven of each class out for validation, and standardises
/// every set with the statistics of the remaining training images.
fn prepare() -> Result<Data, Box<dyn Error>> {
    let d = digits::load();
    let mut rows = vec![0usize; d.train_y.len()];
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let ratio = Ratio {
        train: 6,
        validation: 1,
        test: 0,
    };
    let split = split_stratified::<CLASSES>(&d.train_y, &mut rows, ratio, &mut rng)?;
    let pick = |rows: &[usize]| -> (Vec<[f32; FEATURES]>, Vec<usize>) {
        rows.iter().map(|&r| (d.train_x[r], d.train_y[r])).unzip()
    };
    let (mut train_x, train_y) = pick(split.train);
    let (mut val_x, val_y) = pick(split.validation);
    let mut test_x = d.test_x;
    let norm = Standardise::fit(&Dataset::new(&train_x, &train_y)?)?;
    for xs in [&mut train_x, &mut val_x, &mut test_x] {
        norm.apply_all(xs);
    }
    Ok(Data {
        train_x,
        train_y,
        val_x,
        val_y,
        test_x,
        test_y: d.test_y,
    })
}

/// Trains a fresh network of type `N` with SGD at `lr` for `epochs` epochs.
fn train<N>(data: &Data, lr: f64, epochs: usize) -> Result<Run, Box<dyn Error>>
where
    N: Supervised<f32, FEATURES, CLASSES, Loss = SoftmaxCrossEntropy>,
{
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut net = N::new(&mut rng);
    let mut work = Workspace::new(&net, Batch::<BATCH>);
    let mut sgd = Sgd::new(lr as f32);
    let train = Dataset::new(&data.train_x, &data.train_y)?;
    let val = Dataset::new(&data.val_x, &data.val_y)?;
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
    let mut curves = Vec::with_capacity(epochs);
    let outcome = Fit::new(epochs)
        .callback(each_epoch(|s: &EpochStats| curves.push(*s)))
        .run(&mut net, &mut sgd, &mut loader, val, &mut work, &mut rng);
    let diverged_at = match outcome {
        Ok(_) => None,
        Err(FitError::Diverged { epoch, .. }) => Some(epoch),
        Err(e) => return Err(e.into()),
    };
    let epochs_to_target = curves
        .iter()
        .position(|s| s.val_accuracy.is_some_and(|a| a >= TARGET))
        .map(|e| e + 1);
    let test = Dataset::new(&data.test_x, &data.test_y)?;
    let test_accuracy = evaluate(&net, test, SoftmaxCrossEntropy, Batch::<BATCH>)?
        .accuracy
        .unwrap_or(0.0);
    Ok(Run {
        curves,
        epochs_to_target,
        diverged_at,
        test_accuracy,
    })
}

/// Trains both networks at every learning rate of `lrs` for `epochs` epochs each. Returns
/// one comparison per learning rate, and the sizes of the training and validation sets.
pub fn run(lrs: &[f64], epochs: usize) -> Result<(Vec<Comparison>, usize, usize), Box<dyn Error>> {
    let data = prepare()?;
    let results = lrs
        .iter()
        .map(|&lr| {
            Ok(Comparison {
                lr,
                plain: train::<Plain<f32>>(&data, lr, epochs)?,
                normed: train::<Normed<f32>>(&data, lr, epochs)?,
            })
        })
        .collect::<Result<_, Box<dyn Error>>>()?;
    Ok((results, data.train_y.len(), data.val_y.len()))
}

/// "12", "never", or "diverged (epoch 3)".
fn reached(run: &Run) -> String {
    match (run.epochs_to_target, run.diverged_at) {
        (Some(e), _) => e.to_string(),
        (None, Some(d)) => format!("diverged (epoch {})", d + 1),
        (None, None) => "never".into(),
    }
}

fn print_table(results: &[Comparison]) {
    println!(
        "epochs to {:.0} % validation accuracy (eval mode; at most {EPOCHS}) and test accuracy after training",
        100.0 * TARGET
    );
    println!(
        "{:>6} | {:>20} {:>20} | {:>10} {:>10}",
        "lr", "epochs, no BN", "epochs, BN", "test, no BN", "test, BN"
    );
    for c in results {
        println!(
            "{:>6} | {:>20} {:>20} | {:>9.2} % {:>8.2} %",
            c.lr,
            reached(&c.plain),
            reached(&c.normed),
            100.0 * c.plain.test_accuracy,
            100.0 * c.normed.test_accuracy
        );
    }
}

/// Training loss per epoch, one panel per learning rate, both variants in each.
fn plot_loss(results: &[Comparison], path: &Path) -> Result<(), Box<dyn Error>> {
    let curve = |name: &str, run: &Run| {
        Series::new(
            name,
            run.curves
                .iter()
                .map(|s| (s.epoch as f64 + 1.0, s.train_loss)),
        )
    };
    let panels: Vec<Panel> = results
        .iter()
        .map(|c| {
            let series = vec![curve("no BN", &c.plain), curve("BN", &c.normed)];
            let title = match c.plain.diverged_at {
                Some(d) => format!("SGD, lr = {} (no BN diverged in epoch {})", c.lr, d + 1),
                None => format!("SGD, lr = {}", c.lr),
            };
            Panel::fitted(&title, "epoch", "training loss", series).with_y(0.0..2.5)
        })
        .collect();
    plot::lines(path, 3, &panels)
}

fn main() -> Result<(), Box<dyn Error>> {
    let (results, train, val) = run(&LEARNING_RATES, EPOCHS)?;
    println!("{train} training images, {val} validation images, 355 test images\n");
    print_table(&results);
    let path = plot::output_dir("study_batch_norm")?.join("loss.svg");
    plot_loss(&results, &path)?;
    println!("\ntraining loss per epoch: {}", path.display());
    Ok(())
}
