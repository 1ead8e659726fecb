//! 05 — Ensembles: how much bagging K networks buys over one.
//!
//! Eight 64-64-10 ReLU networks learn the UCI 8×8 digits (standardised pixels), each with
//! Adam for a fixed number of epochs on its own bootstrap resample of the 1442 training
//! images (`ensemble::bootstrap`: 1442 rows drawn with replacement) and from its own seed.
//! The ensemble of the first K members (`ensemble::Ensemble`, which averages the members'
//! class probabilities) is scored on the 355 test images for K = 1…8, next to the test
//! accuracy of those K members on their own (mean, worst, best) and the test cross-entropy
//! of the ensemble against that of its average member.
//!
//! What it shows: from two members on, the ensemble is more accurate than its average
//! member (by two to four test images) and about as accurate as its best one; its
//! cross-entropy falls by a third within three members and then levels off — averaging
//! tempers the members' confident mistakes, so the probabilities improve more than the
//! decisions.
//!
//! It prints the table and writes both curves to
//! `target/staticnn-examples/study_ensembles/ensemble.svg`.
//!
//! Run it with `cargo run --release --example study_ensembles`.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;

use std::error::Error;
use std::path::Path;

use staticnn::data::Standardise;
use staticnn::ensemble::{Ensemble, bootstrap};
use staticnn::fit::{EpochStats, FitConfig, evaluate, fit};
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::schedule::Constant;

use digits::{CLASSES, FEATURES};
use plot::{Panel, Series};

network! {
    /// One ReLU hidden layer: small and quick to train.
    pub struct Member {
        input: FEATURES,
        fc1: Linear(FEATURES -> 64, init = he_normal, bias = zeros),
        act1: ReLU,
        out: Linear(CLASSES, init = he_normal, bias = zeros),
        loss: SoftmaxCrossEntropy,
    }
}

/// Most members.
pub const MEMBERS: usize = 8;
/// Mini-batch size.
const BATCH: usize = 32;
/// Learning rate of Adam.
const LR: f64 = 1e-3;
/// Epochs each member trains for.
pub const EPOCHS: usize = 30;
/// Seed of the resamples; member `m` is initialised from `SEED + 1 + m`.
const SEED: u64 = 5;

/// Test figures of the first K members and of their ensemble.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Number of members.
    pub k: usize,
    /// Mean test accuracy of the K members.
    pub mean: f64,
    /// Lowest test accuracy among them.
    pub min: f64,
    /// Highest test accuracy among them.
    pub max: f64,
    /// Test accuracy of their ensemble.
    pub ensemble: f64,
    /// Mean test cross-entropy of the K members.
    pub mean_loss: f64,
    /// Test cross-entropy of the ensemble's mean probabilities.
    pub ensemble_loss: f64,
}

type Net = Member<f32>;

/// Trains one member on the rows `rows` of `train` (the rows left out are its validation
/// set, reported by `fit` but used for nothing else).
fn train_member(
    train: Dataset<'_, f32, FEATURES, usize>,
    rows: &[usize],
    out_of_bag: &[usize],
    seed: u64,
    epochs: usize,
) -> Result<Net, Box<dyn Error>> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = Net::new(&mut rng);
    let mut best = net;
    let mut tape = Net::tape::<BATCH>();
    let mut grads = Net::gradients();
    let mut adam = Adam::new(LR as f32);
    let mut order = vec![0usize; rows.len()];
    let mut loader = Loader::new(train.select(rows)?, &mut order, Remainder::Drop)?;
    let config = FitConfig {
        epochs,
        early_stopping: None,
        schedule: Constant,
        augment: (),
    };
    fit(
        &mut net,
        &mut best,
        &mut tape,
        &mut grads,
        &mut loader,
        train.select(out_of_bag)?,
        &mut adam,
        LR,
        &config,
        &mut rng,
        &mut |_: &EpochStats| {},
    )?;
    Ok(net)
}

/// Test accuracy and mean cross-entropy of the ensemble of the first `K` members.
fn ensemble_scores<const K: usize>(
    members: &[Net],
    test: Dataset<'_, f32, FEATURES, usize>,
) -> (f64, f64) {
    let ensemble = Ensemble::<Net, K> {
        members: core::array::from_fn(|m| members[m]),
    };
    let (mut correct, mut loss) = (0usize, 0.0);
    for (x, &y) in test.iter() {
        let p = ensemble.probabilities(&SVector::<f32, FEATURES>::from_column_slice(x));
        let predicted = staticnn::metrics::argmax(&p)[0];
        correct += usize::from(predicted == y);
        loss -= f64::from(p[y].max(f32::MIN_POSITIVE)).ln();
    }
    let n = test.len() as f64;
    (correct as f64 / n, loss / n)
}

/// Test accuracy and cross-entropy of an ensemble of the first members.
type EnsembleScores = fn(&[Net], Dataset<'_, f32, FEATURES, usize>) -> (f64, f64);

/// `ensemble_scores` for K = 1…8.
const ENSEMBLES: [EnsembleScores; MEMBERS] = [
    ensemble_scores::<1>,
    ensemble_scores::<2>,
    ensemble_scores::<3>,
    ensemble_scores::<4>,
    ensemble_scores::<5>,
    ensemble_scores::<6>,
    ensemble_scores::<7>,
    ensemble_scores::<8>,
];

/// Trains `MEMBERS` bagged networks for `epochs` epochs each and returns one row per K.
pub fn run(epochs: usize) -> Result<Vec<Row>, Box<dyn Error>> {
    let digits::Digits {
        mut train_x,
        train_y,
        mut test_x,
        test_y,
    } = digits::load();
    let norm = Standardise::fit(&Dataset::new(&train_x, &train_y)?)?;
    norm.apply_all(&mut train_x);
    norm.apply_all(&mut test_x);
    let train = Dataset::new(&train_x, &train_y)?;
    let test = Dataset::new(&test_x, &test_y)?;

    let n = train.len();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut members = Vec::with_capacity(MEMBERS);
    let mut scores = Vec::with_capacity(MEMBERS);
    for m in 0..MEMBERS {
        let mut rows = vec![0usize; n];
        bootstrap(&mut rows, n, &mut rng);
        let mut drawn = vec![false; n];
        rows.iter().for_each(|&r| drawn[r] = true);
        let out_of_bag: Vec<usize> = (0..n).filter(|&r| !drawn[r]).collect();
        let net = train_member(train, &rows, &out_of_bag, SEED + 1 + m as u64, epochs)?;
        scores.push(evaluate::<Net, f32, usize, FEATURES, CLASSES, BATCH>(
            &net, test,
        ));
        members.push(net);
    }

    let rows = (1..=MEMBERS)
        .map(|k| {
            let accuracy: Vec<f64> = scores[..k]
                .iter()
                .map(|s| s.accuracy.unwrap_or(0.0))
                .collect();
            let (ensemble, ensemble_loss) = ENSEMBLES[k - 1](&members, test);
            Row {
                k,
                mean: accuracy.iter().sum::<f64>() / k as f64,
                min: accuracy.iter().copied().fold(f64::INFINITY, f64::min),
                max: accuracy.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                ensemble,
                mean_loss: scores[..k].iter().map(|s| s.loss).sum::<f64>() / k as f64,
                ensemble_loss,
            }
        })
        .collect();
    Ok(rows)
}

fn print_table(rows: &[Row]) {
    println!("test accuracy (355 images) of the first K bagged members and of their ensemble");
    println!(
        "{:>2} | {:>8} {:>8} {:>8} | {:>8} | {:>9} {:>9}",
        "K", "mean", "min", "max", "ensemble", "mean loss", "ens. loss"
    );
    for r in rows {
        println!(
            "{:>2} | {:>6.2} % {:>6.2} % {:>6.2} % | {:>6.2} % | {:>9.4} {:>9.4}",
            r.k,
            100.0 * r.mean,
            100.0 * r.min,
            100.0 * r.max,
            100.0 * r.ensemble,
            r.mean_loss,
            r.ensemble_loss
        );
    }
}

/// Accuracy (left) and cross-entropy (right) against K.
fn plot_rows(rows: &[Row], path: &Path) -> Result<(), Box<dyn Error>> {
    let line =
        |name: &str, f: fn(&Row) -> f64| Series::new(name, rows.iter().map(|r| (r.k as f64, f(r))));
    let accuracy = vec![
        line("ensemble", |r| r.ensemble),
        line("best member", |r| r.max),
        line("mean member", |r| r.mean),
        line("worst member", |r| r.min),
    ];
    let lo = rows.iter().map(|r| r.min).fold(1.0, f64::min);
    let hi = rows
        .iter()
        .map(|r| r.ensemble.max(r.max))
        .fold(0.0, f64::max);
    let loss = vec![
        line("ensemble", |r| r.ensemble_loss),
        line("mean member", |r| r.mean_loss),
    ];
    let panels = [
        Panel::fitted("test accuracy", "members K", "", accuracy).with_y(lo - 0.005..hi + 0.005),
        Panel::fitted("test cross-entropy", "members K", "", loss),
    ];
    plot::lines(path, 2, &panels)
}

fn main() -> Result<(), Box<dyn Error>> {
    let rows = run(EPOCHS)?;
    print_table(&rows);
    let path = plot::output_dir("study_ensembles")?.join("ensemble.svg");
    plot_rows(&rows, &path)?;
    println!("\naccuracy and cross-entropy against K: {}", path.display());
    Ok(())
}
