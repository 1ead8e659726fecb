//! 03 — Handwritten digits with a convolutional network.
//!
//! The same data, split and standardisation as `digits` (02), but each sample is an image
//! `[1, 8, 8]`: three 3 × 3 convolutions with batch norm and ReLU, two 2 × 2 max pools,
//! dropout and a `Linear` classifier. It trains with Adam, a cosine schedule, random
//! one-pixel translations of the training images and early stopping, is folded for
//! deployment (each batch norm into the convolution before it), and its test accuracy is
//! printed next to the multilayer perceptron's of example 02 on the same test images.
//!
//! Run it with `cargo run --release --example digits_cnn --features std,plot` (`plot`
//! because it builds the MLP example, which draws its curves, to compare with it).

#[path = "common/digits.rs"]
mod digits;

use std::error::Error;

use staticnn::data::{Dataset, Loader, RandomTranslate, Ratio, Remainder, split_stratified};
use staticnn::fit::{Batch, EarlyStopping, EpochStats, Fit, Workspace, each_epoch};
use staticnn::metrics::Confusion;
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::schedule::CosineAnnealing;

use digits::{CLASSES, FEATURES};

network! {
    /// Classifies 8×8 digit images into 0–9 with convolutions.
    pub struct DigitCnn {
        input: [1, 8, 8],
        conv1: Conv2d(16, kernel = 3, padding = 1, bias = false),
        bn1: BatchNorm,
        ReLU,
        conv2: Conv2d(32, kernel = 3, padding = 1, bias = false),
        bn2: BatchNorm,
        ReLU,
        MaxPool2d(2),                                   // [32, 4, 4]
        conv3: Conv2d(64, kernel = 3, padding = 1, bias = false),
        bn3: BatchNorm,
        ReLU,
        MaxPool2d(2),                                   // [64, 2, 2]
        Flatten,
        Dropout(0.3),
        out: Linear(256 -> CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

/// Mini-batch size.
const BATCH: usize = 32;
/// Base learning rate of Adam; cosine-annealed over `EPOCHS`.
const LR: f64 = 3e-3;
/// Most epochs the network trains for.
pub const EPOCHS: usize = 40;
/// Epochs without a better validation loss before stopping.
const PATIENCE: usize = 10;
/// Seed of the run (the MLP example's, so the split is the same).
pub const SEED: u64 = 2026;

/// What a run produced.
pub struct Report {
    /// Test accuracy of the deployed network.
    pub accuracy: f64,
    /// Its confusion matrix on the test set.
    pub confusion: Confusion<CLASSES>,
    /// Epochs trained.
    pub epochs: usize,
    /// Test accuracy of its int8 form (quantised with [`CALIBRATION`] training images).
    pub int8_accuracy: f64,
    /// Bytes of the deployed network's blob (`f32`).
    pub f32_bytes: usize,
    /// Bytes of the int8 network's blob.
    pub int8_bytes: usize,
}

/// Training images that calibrate the int8 form's activation ranges.
pub const CALIBRATION: usize = 200;

/// Trains the CNN and measures the deployed form on the test images.
pub fn run(verbose: bool) -> Result<Report, Box<dyn Error>> {
    // Standardised with statistics of the training images only, as in example 02.
    let digits::Digits {
        train_x,
        train_y,
        test_x,
        test_y,
    } = digits::load_standardised()?;
    let all = Dataset::new(&train_x, &train_y)?;

    // The validation split of example 02: one sample in seven of each class.
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

    let mut net = DigitCnn::<f32>::new_boxed(&mut rng);
    if verbose {
        println!("{}\n", net.summary());
    }
    let mut work = Workspace::boxed(&*net, Batch::<BATCH>);
    let mut adam = Adam::new(LR as f32);
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
    let mut epochs = 0;
    let count = |stats: &EpochStats| {
        epochs = stats.epoch;
        if verbose {
            println!(
                "epoch {:>2}: train loss {:.4}, validation loss {:.4}, validation accuracy {:.2} %",
                stats.epoch,
                stats.train_loss,
                stats.val_loss,
                100.0 * stats.val_accuracy.unwrap_or(0.0)
            );
        }
    };
    Fit::new(EPOCHS)
        // The optimiser's rate in full: the cosine schedule computes from it.
        .learning_rate(LR)
        .schedule(CosineAnnealing {
            t_max: EPOCHS as u32,
            eta_min: 0.0,
        })
        .early_stopping(EarlyStopping::new(PATIENCE))
        // Move each training image by up to one pixel in each direction.
        .augment(RandomTranslate::<1, 8, 8>::new(1, 1))
        .callback(each_epoch(count))
        .run(&mut *net, &mut adam, &mut loader, val, &mut *work, &mut rng)?;

    // Deploy: every batch norm folded into the convolution before it, dropout removed.
    let deployed = net.to_inference();
    if verbose {
        println!("\n{}\n", deployed.summary());
    }
    let mut confusion = Confusion::<CLASSES>::new();
    for (x, &y) in test_x.iter().zip(&test_y) {
        let [p] = deployed.classify(&SVector::<f32, FEATURES>::from_column_slice(x));
        confusion.add(y, p);
    }

    // Int8: quantised with 200 training images as calibration (convolutions per output
    // channel, batch norms folded, ReLUs fused), integer arithmetic only.
    let calibration = all.select(&split.train[..CALIBRATION])?;
    let int8 = net.quantize(calibration)?;
    let mut int8_correct = 0;
    for (x, &y) in test_x.iter().zip(&test_y) {
        let [p] = int8.classify(&SVector::<f32, FEATURES>::from_column_slice(x));
        int8_correct += usize::from(p == y);
    }
    Ok(Report {
        accuracy: confusion.accuracy(),
        int8_accuracy: int8_correct as f64 / test_y.len() as f64,
        f32_bytes: DigitCnnInference::<f32>::BLOB_BYTES,
        int8_bytes: DigitCnnInt8::BLOB_BYTES,
        confusion,
        epochs,
    })
}

/// The multilayer perceptron of example 02, trained here on the same split for comparison.
/// (It loads `common/digits.rs` for itself, as this example does.)
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "digits.rs"]
pub mod mlp;

fn main() -> Result<(), Box<dyn Error>> {
    let cnn = run(true)?;
    println!("training the multilayer perceptron of example 02 for comparison …");
    let mlp = mlp::run(false)?;
    println!(
        "\ntest accuracy on the same {} images:",
        cnn.confusion.total()
    );
    println!(
        "  CNN (deployed): {:.2} %, {} bytes",
        100.0 * cnn.accuracy,
        cnn.f32_bytes
    );
    println!(
        "  CNN (int8, {} calibration images): {:.2} %, {} bytes",
        CALIBRATION,
        100.0 * cnn.int8_accuracy,
        cnn.int8_bytes
    );
    println!("  MLP (deployed): {:.2} %", 100.0 * mlp.accuracy);
    Ok(())
}
