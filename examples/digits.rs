//! 02 — Handwritten digits: a real data set, end to end.
//!
//! The UCI 8×8 digits shipped in `data/digits/` (fixed, stratified 1442/355 train/test
//! split). From the training part a stratified validation set is held out; pixels are
//! standardised with training statistics. A 64-128-64-10 ReLU network with batch norm and
//! dropout trains with Adam, a cosine learning-rate schedule, additive Gaussian noise as
//! augmentation, and early stopping on the validation loss, behind a progress bar. The
//! learning curves and the confusion matrix go to SVG files (`staticnn::plot`); the batch
//! norms are folded into the weights for deployment, and the deployed network is quantised
//! to int8 (200 training images as calibration) and compared with it; then an ensemble of
//! bagged networks is compared with its members.
//!
//! Run it with `cargo run --release --example digits --features plot`.

#[path = "common/digits.rs"]
mod digits;

use std::error::Error;
use std::path::PathBuf;

use staticnn::data::{
    Dataset, GaussianNoise, Loader, Preprocess, Ratio, Remainder, Standardise, split_stratified,
};
use staticnn::ensemble::{Ensemble, bootstrap};
use staticnn::fit::{Batch, EarlyStopping, EpochStats, Fit, Workspace, each_epoch};
use staticnn::metrics::Confusion;
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::schedule::CosineAnnealing;

use digits::{CLASSES, FEATURES};

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

/// Trains one network on `train` with early stopping on `val`; returns it (best weights
/// restored) with its learning curves.
fn train_one(
    train: Dataset<'_, f32, FEATURES, usize>,
    val: Dataset<'_, f32, FEATURES, usize>,
    seed: u64,
    progress: bool,
) -> Result<Trained, Box<dyn Error>> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    // The network and the working memory (best weights, tape, gradients) are built on the
    // heap, in place.
    let mut net = DigitNet::<f32>::new_boxed(&mut rng);
    let mut work = Workspace::boxed(&*net, Batch::<BATCH>);
    let mut adam = Adam::new(LR as f32);
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
    let mut curves = Vec::new();
    let mut fit = Fit::new(EPOCHS)
        // The optimiser's rate in full: the cosine schedule computes from it.
        .learning_rate(LR)
        .schedule(CosineAnnealing {
            t_max: EPOCHS as u32,
            eta_min: 0.0,
        })
        .early_stopping(EarlyStopping::new(PATIENCE))
        // Additive Gaussian noise on the standardised pixels of every training batch.
        .augment(GaussianNoise { std: NOISE })
        .callback(each_epoch(|s: &EpochStats| curves.push(*s)));
    if progress {
        fit.progress()
            .run(&mut *net, &mut adam, &mut loader, val, &mut *work, &mut rng)?;
    } else {
        fit.run(&mut *net, &mut adam, &mut loader, val, &mut *work, &mut rng)?;
    }
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
    let (net, curves) = train_one(train, val, SEED, verbose)?;
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
        let (member, _) = train_one(all.select(&rows)?, val, SEED + 1 + m as u64, false)?;
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

    // Train and validation loss and accuracy per epoch, and the deployed network's
    // confusion matrix, as SVG.
    let dir = PathBuf::from("target/staticnn-examples/digits");
    std::fs::create_dir_all(&dir)?;
    staticnn::plot::history(dir.join("learning-curves.svg"), &report.curves)?;
    staticnn::plot::confusion(dir.join("confusion.svg"), &report.confusion)?;
    println!("\nlearning curves and confusion matrix: {}", dir.display());
    Ok(())
}
