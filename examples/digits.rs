//! 02 — Handwritten digits: a real data set, end to end.
//!
//! The UCI 8×8 digits shipped in `data/digits/` (fixed, stratified 1442/355 train/test
//! split). From the training part a stratified validation set is held out; pixels are
//! standardised with training statistics. A 64-128-64-10 ReLU network with batch norm and
//! dropout trains with Adam, a cosine learning-rate schedule, additive Gaussian noise as
//! augmentation, and early stopping on the validation loss, behind a progress bar. The
//! learning curves go to an SVG file; the batch norms are folded into the weights for
//! deployment, and the deployed network is quantised to int8 (200 training images as
//! calibration) and compared with it; then an ensemble of bagged networks is compared
//! with its members.
//!
//! Run it with `cargo run --release --example digits --features std`.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;

use std::error::Error;
use std::path::Path;

use staticnn::data::{
    Dataset, GaussianNoise, Loader, Preprocess, Ratio, Remainder, Standardise, split_stratified,
};
use staticnn::ensemble::{Ensemble, bootstrap};
use staticnn::fit::{Callback, Control, EarlyStopping, EpochStats, FitConfig, fit};
use staticnn::metrics::Confusion;
use staticnn::prelude::*;
use staticnn::progress::Progress;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::schedule::CosineAnnealing;

use digits::{CLASSES, FEATURES};
use plot::{Panel, Series};

network! {
    /// Classifies 8×8 digit images into 0–9.
    pub struct DigitNet {
        input: FEATURES,
        fc1: Linear(FEATURES -> 128, init = he_normal, bias = zeros),
        bn1: BatchNorm(128),
        act1: ReLU,
        drop1: Dropout(0.2),
        fc2: Linear(64, init = he_normal, bias = zeros),
        bn2: BatchNorm(64),
        act2: ReLU,
        out: Linear(CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

/// Mini-batch size.
const BATCH: usize = 32;
/// Base learning rate of Adam; cosine-annealed over `EPOCHS`.
const LR: f64 = 3e-3;
/// Most epochs a network trains for.
pub const EPOCHS: usize = 80;
/// Standard deviation of the noise added to standardised pixels during training.
const NOISE: f64 = 0.5;
/// Epochs without a better validation loss before stopping.
const PATIENCE: usize = 15;
/// Members of the bagged ensemble.
pub const MEMBERS: usize = 5;
/// Training images the int8 quantisation calibrates on.
pub const CALIBRATION: usize = 200;
/// Seed of the run.
pub const SEED: u64 = 2026;

/// What a run produced.
pub struct Report {
    /// Test accuracy of the single network, deployed (`to_inference`).
    pub accuracy: f64,
    /// Test accuracy of its int8 form (`quantize`, 200 training images as calibration).
    pub int8_accuracy: f64,
    /// Bytes of the deployed `f32` network's blob (its weights for flash).
    pub f32_bytes: usize,
    /// Bytes of the int8 network's blob.
    pub int8_bytes: usize,
    /// Its confusion matrix on the test set.
    pub confusion: Confusion<CLASSES>,
    /// Per-epoch figures of the single network's training.
    pub curves: Vec<EpochStats>,
    /// Test accuracy of each bagged member.
    pub member_accuracy: [f64; MEMBERS],
    /// Test accuracy of the bagged ensemble.
    pub ensemble_accuracy: f64,
}

/// Records every epoch, and forwards it to a progress bar when there is one.
struct Recorder<'a> {
    curves: &'a mut Vec<EpochStats>,
    bar: Option<&'a mut Progress>,
}

impl Callback for Recorder<'_> {
    fn epoch_end(&mut self, stats: &EpochStats) -> Control {
        self.curves.push(*stats);
        self.bar
            .as_mut()
            .map_or(Control::Continue, |b| b.epoch_end(stats))
    }
}

/// Trains one network on `train` with early stopping on `val`; returns it (best weights
/// restored) with its learning curves.
fn train_one(
    train: Dataset<'_, f32, FEATURES, usize>,
    val: Dataset<'_, f32, FEATURES, usize>,
    seed: u64,
    bar: Option<&mut Progress>,
) -> Result<Trained, Box<dyn Error>> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    // Networks, tapes and optimiser state are built zeroed on the heap, in place.
    let mut net = DigitNet::<f32>::new_boxed(&mut rng);
    let mut best = net.clone();
    let mut tape = staticnn::block::zeroed_box::<DigitNetTape<f32, BATCH>>();
    let mut grads = staticnn::block::zeroed_box::<DigitNetParams<f32>>();
    let mut adam = Adam::new(LR as f32);
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
    let config = FitConfig {
        epochs: EPOCHS,
        early_stopping: Some(EarlyStopping::new(PATIENCE)),
        schedule: CosineAnnealing {
            t_max: EPOCHS as u32,
            eta_min: 0.0,
        },
        // Shift each training image by up to one pixel either way (zero padding).
        // Additive Gaussian noise on the standardised pixels of every training batch.
        augment: GaussianNoise { std: NOISE },
    };
    let mut curves = Vec::new();
    let mut recorder = Recorder {
        curves: &mut curves,
        bar,
    };
    fit(
        &mut *net,
        &mut *best,
        &mut *tape,
        &mut *grads,
        &mut loader,
        val,
        &mut adam,
        LR,
        &config,
        &mut rng,
        &mut recorder,
    )?;
    Ok((net, curves))
}

/// Test accuracy of a classifier given as a function from a batch of one image to its class.
fn test_accuracy(
    test_x: &[[f32; FEATURES]],
    test_y: &[usize],
    classify: impl Fn(&SVector<f32, FEATURES>) -> usize,
) -> f64 {
    let correct = test_x
        .iter()
        .zip(test_y)
        .filter(|(x, y)| classify(&SVector::from_column_slice(&x[..])) == **y)
        .count();
    correct as f64 / test_y.len() as f64
}

/// The whole experiment. With `verbose`, prints progress and tables.
pub fn run(verbose: bool) -> Result<Report, Box<dyn Error>> {
    let digits::Digits {
        mut train_x,
        train_y,
        mut test_x,
        test_y,
    } = digits::load();

    // Standardise with statistics of the training images only.
    let norm = Standardise::fit(&Dataset::new(&train_x, &train_y)?)?;
    norm.apply_all(&mut train_x);
    norm.apply_all(&mut test_x);
    let all = Dataset::new(&train_x, &train_y)?;

    // Hold out one sample in seven of each class for validation (early stopping).
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut rows = vec![0usize; train_y.len()];
    let split = split_stratified::<CLASSES>(
        &train_y,
        &mut rows,
        Ratio {
            train: 6,
            validation: 1,
            test: 0,
        },
        &mut rng,
    )?;
    let (train, val) = (all.select(split.train)?, all.select(split.validation)?);
    if verbose {
        println!(
            "{} training, {} validation, {} test images\n",
            train.len(),
            val.len(),
            test_y.len()
        );
    }

    // One network, with a progress bar.
    let mut bar = verbose.then(|| Progress::new(EPOCHS));
    let (net, curves) = train_one(train, val, SEED, bar.as_mut())?;
    if let Some(bar) = &bar {
        bar.finish();
    }
    if verbose {
        println!("\n{}\n", net.summary());
    }

    // Deploy: batch norms folded into the Linear layers before them, dropout gone.
    let deployed = net.to_inference();
    let mut confusion = Confusion::<CLASSES>::new();
    for (x, &y) in test_x.iter().zip(&test_y) {
        let [p] = deployed.classify(&SVector::<f32, FEATURES>::from_column_slice(x));
        confusion.add(y, p);
    }
    if verbose {
        println!("{}\n", deployed.summary());
    }

    // Int8: quantised with 200 training images as calibration, integer arithmetic only.
    let calibration = all.select(&split.train[..CALIBRATION])?;
    let int8 = net.quantize(calibration)?;
    let int8_accuracy = test_accuracy(&test_x, &test_y, |x| int8.classify(x)[0]);

    // Bagging: each member trains on a bootstrap resample of the training rows.
    let mut members = Vec::with_capacity(MEMBERS);
    for m in 0..MEMBERS {
        let mut resample = vec![0usize; split.train.len()];
        bootstrap(&mut resample, split.train.len(), &mut rng);
        let rows: Vec<usize> = resample.iter().map(|&i| split.train[i]).collect();
        let (member, _) = train_one(all.select(&rows)?, val, SEED + 1 + m as u64, None)?;
        members.push(member.to_inference());
    }
    let member_accuracy: [f64; MEMBERS] =
        core::array::from_fn(|m| test_accuracy(&test_x, &test_y, |x| members[m].classify(x)[0]));
    let ensemble = Ensemble::<_, MEMBERS> {
        members: core::array::from_fn(|m| members[m]),
    };
    let ensemble_accuracy = test_accuracy(&test_x, &test_y, |x| ensemble.classify(x)[0]);

    Ok(Report {
        accuracy: confusion.accuracy(),
        int8_accuracy,
        f32_bytes: DigitNetInference::<f32>::BLOB_BYTES,
        int8_bytes: DigitNetInt8::BLOB_BYTES,
        confusion,
        curves,
        member_accuracy,
        ensemble_accuracy,
    })
}

/// A trained network and its learning curves.
type Trained = (Box<DigitNet<f32>>, Vec<EpochStats>);

/// Draws train and validation loss (left) and accuracy (right) per epoch into an SVG file.
fn plot_curves(curves: &[EpochStats], path: &Path) -> Result<(), Box<dyn Error>> {
    let series = |f: fn(&EpochStats) -> f64, g: fn(&EpochStats) -> f64| {
        vec![
            Series::new("train", curves.iter().map(|c| (c.epoch as f64, f(c)))),
            Series::new("validation", curves.iter().map(|c| (c.epoch as f64, g(c)))),
        ]
    };
    let loss = series(|c| c.train_loss, |c| c.val_loss);
    let accuracy = series(
        |c| c.train_accuracy.unwrap_or(0.0),
        |c| c.val_accuracy.unwrap_or(0.0),
    );
    let panels = [
        Panel::fitted("loss", "epoch", "", loss),
        Panel::fitted("accuracy", "epoch", "", accuracy).with_y(0.8..1.0),
    ];
    plot::lines(path, 2, &panels)
}

fn main() -> Result<(), Box<dyn Error>> {
    let report = run(true)?;

    println!("confusion matrix of the deployed network (rows: true digit, columns: predicted)");
    print!("     ");
    for k in 0..CLASSES {
        print!("{k:>4}");
    }
    println!();
    for (k, row) in report.confusion.counts.iter().enumerate() {
        print!("{k:>4} ");
        for n in row {
            print!("{n:>4}");
        }
        println!();
    }
    println!("\ntest accuracy: {:.2} %", 100.0 * report.accuracy);
    println!(
        "\n             test accuracy   model (blob bytes)\n  f32         {:>8.2} %   {:>8}\n  int8        {:>8.2} %   {:>8}",
        100.0 * report.accuracy,
        report.f32_bytes,
        100.0 * report.int8_accuracy,
        report.int8_bytes
    );

    let mean = report.member_accuracy.iter().sum::<f64>() / MEMBERS as f64;
    println!("\nbagged ensemble of {MEMBERS}:");
    for (m, a) in report.member_accuracy.iter().enumerate() {
        println!("  member {m}: {:.2} %", 100.0 * a);
    }
    println!("  mean member: {:.2} %", 100.0 * mean);
    println!("  ensemble:    {:.2} %", 100.0 * report.ensemble_accuracy);

    let path = plot::output_dir("digits")?.join("learning-curves.svg");
    plot_curves(&report.curves, &path)?;
    println!("\nlearning curves: {}", path.display());
    Ok(())
}
