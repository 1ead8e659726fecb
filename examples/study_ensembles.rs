//! 05 — Ensembles: how much bagging K networks buys over one.
//!
//! A pool of sixteen 64-64-10 ReLU networks learns the UCI 8×8 digits (standardised
//! pixels), each with Adam for a fixed number of epochs on its own bootstrap resample of
//! the 1442 training images (`ensemble::bootstrap`: 1442 rows drawn with replacement) and
//! from its own seed. For K = 1…8, fifty K-member subsets of the pool are drawn at random;
//! each subset is scored on the 355 test images as an ensemble (`ensemble::Ensemble`, which
//! averages the members' class probabilities) and member by member (the mean and the best
//! of its members' accuracies). The table gives, per K, the mean and standard deviation
//! over the subsets of the ensemble's accuracy, the mean over the subsets of its mean and
//! best member's accuracy, how often the ensemble matched or beat its best member, and the
//! cross-entropy of the ensemble against that of its average member.
//!
//! What it shows: from two members on, the ensemble is more accurate than its average
//! member, and from about four members on it is on average at least as accurate as its
//! best member — which one cannot pick without a validation set, while the ensemble needs
//! none. The ensemble's cross-entropy falls faster than its accuracy rises: averaging
//! tempers the members' confident mistakes. Drawing many subsets matters: a single draw of
//! K members can make either side look better by a few test images.
//!
//! It prints the table and writes both curves (accuracy with a ±1 standard deviation band
//! and the min–max range over the subsets, and cross-entropy) to
//! `target/staticnn-examples/study_ensembles/ensemble.svg`.
//!
//! Run it with `cargo run --release --example study_ensembles`.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;

use std::error::Error;
use std::path::Path;

use staticnn::ensemble::{Ensemble, bootstrap};
use staticnn::fit::{Batch, Fit, Workspace, evaluate};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

use digits::{CLASSES, FEATURES};
use plot::{Band, Panel, Series};

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

/// Networks in the pool.
pub const POOL: usize = 16;
/// Largest ensemble.
pub const MAX_K: usize = 8;
/// Random subsets of the pool drawn for each K.
pub const SUBSETS: usize = 50;
/// Mini-batch size.
const BATCH: usize = 32;
/// Test images scored at once by an ensemble.
const CHUNK: usize = 71;
/// Learning rate of Adam.
const LR: f64 = 1e-3;
/// Epochs each member trains for.
pub const EPOCHS: usize = 30;
/// Seed of the resamples; member `m` is initialised from `SEED + 1 + m`, and the subsets
/// are drawn from `SEED + 1 + pool`.
const SEED: u64 = 5;

/// Test figures of the K-member subsets, over the subsets drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Number of members.
    pub k: usize,
    /// Mean test accuracy of the ensembles.
    pub ensemble: f64,
    /// Standard deviation of the ensembles' test accuracy.
    pub ensemble_std: f64,
    /// Lowest test accuracy of an ensemble.
    pub ensemble_min: f64,
    /// Highest test accuracy of an ensemble.
    pub ensemble_max: f64,
    /// Mean over the subsets of their members' mean test accuracy.
    pub mean_member: f64,
    /// Mean over the subsets of their best member's test accuracy.
    pub best_member: f64,
    /// Share of the subsets whose ensemble is at least as accurate as its best member.
    pub at_least_best: f64,
    /// Mean test cross-entropy of the ensembles.
    pub ensemble_loss: f64,
    /// Mean over the subsets of their members' mean test cross-entropy.
    pub member_loss: f64,
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
    let mut work = Workspace::new(&net, Batch::<BATCH>);
    let mut adam = Adam::new(LR as f32);
    let mut order = vec![0usize; rows.len()];
    let mut loader = Loader::new(train.select(rows)?, &mut order, Remainder::Drop)?;
    let out_of_bag = train.select(out_of_bag)?;
    Fit::new(epochs).run(
        &mut net,
        &mut adam,
        &mut loader,
        out_of_bag,
        &mut work,
        &mut rng,
    )?;
    Ok(net)
}

/// Test accuracy and mean cross-entropy of the ensemble of the members `pick` of `pool`
/// (`pick.len()` must be `K`).
fn ensemble_scores<const K: usize>(
    pool: &[Net],
    pick: &[usize],
    test: Dataset<'_, f32, FEATURES, usize>,
) -> (f64, f64) {
    let ensemble = Ensemble::<Net, K> {
        members: core::array::from_fn(|m| pool[pick[m]]),
    };
    let (mut correct, mut loss) = (0usize, 0.0);
    let samples: Vec<_> = test.iter().collect();
    let mut x = SMatrix::<f32, FEATURES, CHUNK>::zeros();
    for chunk in samples.chunks(CHUNK) {
        x.fill(0.0);
        for (c, (sample, _)) in chunk.iter().enumerate() {
            x.set_column(c, &SVector::<f32, FEATURES>::from_column_slice(&sample[..]));
        }
        let p = ensemble.probabilities(&x);
        let predicted = staticnn::metrics::argmax(&p);
        for (c, &(_, &y)) in chunk.iter().enumerate() {
            correct += usize::from(predicted[c] == y);
            loss -= f64::from(p[(y, c)].max(f32::MIN_POSITIVE)).ln();
        }
    }
    let n = test.len() as f64;
    (correct as f64 / n, loss / n)
}

/// Test accuracy and cross-entropy of an ensemble of chosen members of a pool.
type EnsembleScores = fn(&[Net], &[usize], Dataset<'_, f32, FEATURES, usize>) -> (f64, f64);

/// `ensemble_scores` for K = 1…8.
const ENSEMBLES: [EnsembleScores; MAX_K] = [
    ensemble_scores::<1>,
    ensemble_scores::<2>,
    ensemble_scores::<3>,
    ensemble_scores::<4>,
    ensemble_scores::<5>,
    ensemble_scores::<6>,
    ensemble_scores::<7>,
    ensemble_scores::<8>,
];

/// `k` distinct members of `0..pool`, drawn uniformly (a partial Fisher–Yates shuffle).
fn draw(pool: usize, k: usize, rng: &mut Xoshiro128PlusPlus) -> Vec<usize> {
    let mut all: Vec<usize> = (0..pool).collect();
    for i in 0..k {
        let j = rng.random_range(i..pool);
        all.swap(i, j);
    }
    all.truncate(k);
    all
}

/// Mean and (population) standard deviation of `values`.
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Trains a pool of `pool` bagged networks for `epochs` epochs each, then scores `subsets`
/// random K-member subsets of it for each K = 1…8; returns one row per K.
pub fn run(pool: usize, epochs: usize, subsets: usize) -> Result<Vec<Row>, Box<dyn Error>> {
    assert!(
        pool >= MAX_K,
        "a pool of {pool} cannot give {MAX_K} members"
    );
    let digits::Digits {
        train_x,
        train_y,
        test_x,
        test_y,
    } = digits::load_standardised()?;
    let train = Dataset::new(&train_x, &train_y)?;
    let test = Dataset::new(&test_x, &test_y)?;

    let n = train.len();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut members = Vec::with_capacity(pool);
    let mut scores = Vec::with_capacity(pool);
    for m in 0..pool {
        let mut rows = vec![0usize; n];
        bootstrap(&mut rows, n, &mut rng);
        let mut drawn = vec![false; n];
        rows.iter().for_each(|&r| drawn[r] = true);
        let out_of_bag: Vec<usize> = (0..n).filter(|&r| !drawn[r]).collect();
        let net = train_member(train, &rows, &out_of_bag, SEED + 1 + m as u64, epochs)?;
        scores.push(evaluate(&net, test, SoftmaxCrossEntropy, Batch::<BATCH>)?);
        members.push(net);
    }
    let accuracy: Vec<f64> = scores.iter().map(|s| s.accuracy.unwrap_or(0.0)).collect();

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED + 1 + pool as u64);
    let rows = (1..=MAX_K)
        .map(|k| {
            let (mut ens, mut ens_loss, mut mean, mut best, mut loss, mut wins) =
                (Vec::new(), 0.0, 0.0, 0.0, 0.0, 0usize);
            for _ in 0..subsets {
                let pick = draw(pool, k, &mut rng);
                let (a, l) = ENSEMBLES[k - 1](&members, &pick, test);
                let best_here = pick.iter().map(|&m| accuracy[m]).fold(0.0, f64::max);
                ens.push(a);
                ens_loss += l;
                mean += pick.iter().map(|&m| accuracy[m]).sum::<f64>() / k as f64;
                best += best_here;
                loss += pick.iter().map(|&m| scores[m].loss).sum::<f64>() / k as f64;
                wins += usize::from(a >= best_here);
            }
            let s = subsets as f64;
            let (ensemble, ensemble_std) = mean_std(&ens);
            Row {
                k,
                ensemble,
                ensemble_std,
                ensemble_min: ens.iter().copied().fold(f64::INFINITY, f64::min),
                ensemble_max: ens.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                mean_member: mean / s,
                best_member: best / s,
                at_least_best: wins as f64 / s,
                ensemble_loss: ens_loss / s,
                member_loss: loss / s,
            }
        })
        .collect();
    Ok(rows)
}

fn print_table(rows: &[Row], pool: usize, subsets: usize) {
    println!(
        "test accuracy (355 images) of {subsets} random K-member subsets of {pool} bagged \
         networks: ensemble against its members"
    );
    println!(
        "{:>2} | {:>17} {:>8} {:>8} | {:>8} {:>8} | {:>7} | {:>9} {:>9}",
        "K",
        "ensemble ± std",
        "min",
        "max",
        "mean mb.",
        "best mb.",
        "≥ best",
        "ens. loss",
        "mb. loss"
    );
    for r in rows {
        println!(
            "{:>2} | {:>7.2} ± {:>4.2} % {:>6.2} % {:>6.2} % | {:>6.2} % {:>6.2} % | {:>5.0} % | {:>9.4} {:>9.4}",
            r.k,
            100.0 * r.ensemble,
            100.0 * r.ensemble_std,
            100.0 * r.ensemble_min,
            100.0 * r.ensemble_max,
            100.0 * r.mean_member,
            100.0 * r.best_member,
            100.0 * r.at_least_best,
            r.ensemble_loss,
            r.member_loss
        );
    }
}

/// Accuracy (left, with the ensembles' ±1 std band and min–max range) and cross-entropy
/// (right) against K.
fn plot_rows(rows: &[Row], path: &Path) -> Result<(), Box<dyn Error>> {
    let line =
        |name: &str, f: fn(&Row) -> f64| Series::new(name, rows.iter().map(|r| (r.k as f64, f(r))));
    let accuracy = vec![
        line("ensemble (mean)", |r| r.ensemble),
        line("best member (mean)", |r| r.best_member),
        line("mean member (mean)", |r| r.mean_member),
        line("ensemble min", |r| r.ensemble_min),
        line("ensemble max", |r| r.ensemble_max),
    ];
    let band = Band {
        name: "ensemble ± 1 std".into(),
        points: rows
            .iter()
            .map(|r| {
                let k = r.k as f64;
                (k, r.ensemble - r.ensemble_std, r.ensemble + r.ensemble_std)
            })
            .collect(),
    };
    let lo = rows
        .iter()
        .map(|r| r.ensemble_min.min(r.mean_member))
        .fold(1.0, f64::min);
    let hi = rows.iter().map(|r| r.ensemble_max).fold(0.0, f64::max);
    let loss = vec![
        line("ensemble", |r| r.ensemble_loss),
        line("mean member", |r| r.member_loss),
    ];
    let panels = [
        Panel::fitted("test accuracy", "members K", "", accuracy).with_y(lo - 0.003..hi + 0.003),
        Panel::fitted("test cross-entropy", "members K", "", loss),
    ];
    plot::lines_with_bands(path, 2, &panels, &[vec![band], Vec::new()])
}

fn main() -> Result<(), Box<dyn Error>> {
    let rows = run(POOL, EPOCHS, SUBSETS)?;
    print_table(&rows, POOL, SUBSETS);
    let path = plot::output_dir("study_ensembles")?.join("ensemble.svg");
    plot_rows(&rows, &path)?;
    println!("\naccuracy and cross-entropy against K: {}", path.display());
    Ok(())
}
