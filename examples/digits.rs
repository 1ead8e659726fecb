//! 02 — Handwritten digits: a real data set, end to end.
//!
//! Trains a 64-128-64-10 ReLU network with batch normalisation and dropout, using plain SGD
//! (step-decayed learning rate), on the UCI 8×8 digits shipped in `data/digits/` (fixed,
//! stratified 1442/355 split; pixels standardised with statistics of the training split).
//! Then folds the batch norms into the weights for deployment (`to_inference`), and prints
//! the test accuracy and the confusion matrix of the deployed network. Run it with `cargo run --release --example digits --features std`.

#[path = "common/digits.rs"]
mod digits;

use staticnn::ClassIndex;
use staticnn::network::TrainError;
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::seq::SliceRandom;

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
const BATCH: usize = 16;

/// Initial learning rate; it halves every 25 epochs.
const LR: f32 = 0.1;

/// Passes over the training set.
pub const EPOCHS: usize = 100;

/// Seed of the run (weights, shuffling).
pub const SEED: u64 = 2026;

/// What a training run produced.
pub struct Report {
    /// Fraction of test images classified correctly.
    pub accuracy: f64,
    /// `confusion[true][predicted]` counts over the test set.
    pub confusion: [[usize; CLASSES]; CLASSES],
    /// Mean training loss of the last epoch.
    pub final_loss: f32,
}

/// Trains for `epochs` epochs from `seed` and evaluates on the test split.
pub fn run(epochs: usize, seed: u64, verbose: bool) -> Result<Report, TrainError> {
    let mut data = digits::load();
    standardise(&mut data);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = DigitNet::<f32>::new(&mut rng);
    if verbose {
        println!("{}\n", net.summary());
    }
    let mut tape = DigitNet::<f32>::tape::<BATCH>();
    let mut grads = DigitNet::<f32>::gradients();
    let mut sgd = Sgd::new(LR);

    let mut order: Vec<usize> = (0..data.train_x.len()).collect();
    let mut final_loss = 0.0;
    for epoch in 0..epochs {
        // Reshuffle every epoch; the last partial batch is dropped (it differs every epoch).
        order.shuffle(&mut rng);
        // Step decay: the learning rate halves every 25 epochs.
        sgd.lr = LR * 0.5f32.powi((epoch / 25) as i32);
        let mut total = 0.0;
        let mut batches = 0;
        for chunk in order.chunks_exact(BATCH) {
            let x = SMatrix::<f32, FEATURES, BATCH>::from_fn(|r, c| data.train_x[chunk[c]][r]);
            let y: [ClassIndex<CLASSES>; BATCH] = core::array::from_fn(|c| {
                ClassIndex::new(data.train_y[chunk[c]]).expect("labels are below 10")
            });
            total += net.train_step(&x, &y, &mut grads, &mut tape, &mut sgd, &mut rng)?;
            batches += 1;
        }
        final_loss = total / batches as f32;
        if verbose && (epoch % 10 == 0 || epoch + 1 == epochs) {
            println!("epoch {epoch:>3}: train loss {final_loss:.4}");
        }
    }

    // Deploy: batch norms folded into the Linear layers before them, dropout gone.
    let deployed = net.to_inference();
    if verbose {
        println!("\n{}", deployed.summary());
    }
    let mut confusion = [[0usize; CLASSES]; CLASSES];
    for (x, &y) in data.test_x.iter().zip(&data.test_y) {
        let [predicted] = deployed.classify(&SVector::<f32, FEATURES>::from_column_slice(x));
        confusion[y][predicted] += 1;
    }
    let correct: usize = (0..CLASSES).map(|k| confusion[k][k]).sum();
    Ok(Report {
        accuracy: correct as f64 / data.test_y.len() as f64,
        confusion,
        final_loss,
    })
}

/// Per-pixel standardisation fitted on the training split only, applied to both splits.
/// Pixels that never vary in training (the image corners) are only centred.
fn standardise(data: &mut digits::Digits) {
    let n = data.train_x.len() as f32;
    let mut mean = [0.0f32; FEATURES];
    let mut var = [0.0f32; FEATURES];
    for x in &data.train_x {
        for (m, v) in mean.iter_mut().zip(x) {
            *m += v / n;
        }
    }
    for x in &data.train_x {
        for ((s, v), m) in var.iter_mut().zip(x).zip(&mean) {
            *s += (v - m) * (v - m) / n;
        }
    }
    let scale = var.map(|v| if v > 1e-6 { 1.0 / v.sqrt() } else { 1.0 });
    for x in data.train_x.iter_mut().chain(data.test_x.iter_mut()) {
        for ((v, m), s) in x.iter_mut().zip(&mean).zip(&scale) {
            *v = (*v - m) * s;
        }
    }
}

#[allow(dead_code)]
fn main() -> Result<(), TrainError> {
    let report = run(EPOCHS, SEED, true)?;
    println!("\nconfusion matrix (rows: true digit, columns: predicted)");
    print!("     ");
    for k in 0..CLASSES {
        print!("{k:>4}");
    }
    println!();
    for (k, row) in report.confusion.iter().enumerate() {
        print!("{k:>4} ");
        for n in row {
            print!("{n:>4}");
        }
        println!();
    }
    println!("\ntest accuracy: {:.2} %", 100.0 * report.accuracy);
    Ok(())
}
