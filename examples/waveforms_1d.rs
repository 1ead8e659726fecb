//! 04 — A 1-D convolutional network on signals: which waveform is this?
//!
//! The data set is synthetic and made here, reproducibly from a seed: windows of 128
//! samples of a sine, a square, a triangle or a sawtooth wave (four classes), each with a
//! random period of 8 to 40 samples, a random phase, an amplitude between 0.5 and 1.5, a
//! random DC offset of up to ±0.5 and Gaussian sensor noise of standard deviation 0.3, the
//! kind of signal a vibration or gesture classifier sees. A nearest-class-mean rule on raw
//! samples cannot tell these apart (phase and period vary), while a small 1-D CNN — two
//! convolutions with batch norm and ReLU, max pooling, global average pooling and a
//! `Linear` classifier — learns shape features that do not depend on them.
//!
//! Run it with `cargo run --release --example waveforms_1d --features std`.

use std::error::Error;
use std::f64::consts::PI;

use staticnn::data::{Dataset, Loader, Remainder};
use staticnn::fit::{Batch, EarlyStopping, EpochStats, Fit, Workspace, each_epoch};
use staticnn::init::standard_normal_pair;
use staticnn::metrics::Confusion;
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{Rng, RngExt, SeedableRng};
use staticnn::schedule::CosineAnnealing;

/// Samples per window.
const LEN: usize = 128;
/// Sine, square, triangle, sawtooth.
const CLASSES: usize = 4;
const NAMES: [&str; CLASSES] = ["sine", "square", "triangle", "sawtooth"];

network! {
    /// Tells four waveforms apart from a noisy window of samples.
    pub struct WaveNet {
        input: [1, LEN],
        conv1: Conv1d(16, kernel = 7, padding = 3),
        BatchNorm,
        ReLU,
        MaxPool1d(2),                                  // [16, 64]
        conv2: Conv1d(32, kernel = 5, padding = 2),
        BatchNorm,
        ReLU,
        MaxPool1d(2),                                  // [32, 32]
        GlobalAvgPool,                                 // [32, 1]
        Flatten,
        out: Linear(32 -> CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

const BATCH: usize = 32;
const EPOCHS: usize = 30;
const SEED: u64 = 11;

/// One window of class `class`.
fn window<R: Rng>(class: usize, rng: &mut R) -> [f32; LEN] {
    let period = rng.random_range(8.0..40.0);
    let phase = rng.random_range(0.0..1.0);
    let amplitude = rng.random_range(0.5..1.5);
    let offset = rng.random_range(-0.5..0.5);
    core::array::from_fn(|t| {
        let u = (t as f64 / period + phase).fract(); // position in the cycle, 0..1
        let wave = match class {
            0 => (2.0 * PI * u).sin(),
            1 => {
                if u < 0.5 {
                    1.0
                } else {
                    -1.0
                }
            }
            2 => 4.0 * (u - 0.5).abs() - 1.0,
            _ => 2.0 * u - 1.0,
        };
        let [noise, _]: [f64; 2] = standard_normal_pair(rng);
        (offset + amplitude * wave + 0.3 * noise) as f32
    })
}

/// `n` windows, classes in turn.
fn make(n: usize, rng: &mut Xoshiro128PlusPlus) -> (Vec<[f32; LEN]>, Vec<usize>) {
    let y: Vec<usize> = (0..n).map(|i| i % CLASSES).collect();
    let x = y.iter().map(|&c| window(c, rng)).collect();
    (x, y)
}

/// Accuracy of the nearest class mean (raw samples) on the test windows: the baseline.
fn nearest_mean(train: (&[[f32; LEN]], &[usize]), test: (&[[f32; LEN]], &[usize])) -> f64 {
    let mut mean = [[0.0f64; LEN]; CLASSES];
    let mut count = [0usize; CLASSES];
    for (x, &y) in train.0.iter().zip(train.1) {
        count[y] += 1;
        for t in 0..LEN {
            mean[y][t] += x[t] as f64;
        }
    }
    for (m, &n) in mean.iter_mut().zip(&count) {
        m.iter_mut().for_each(|v| *v /= n as f64);
    }
    let correct = test
        .0
        .iter()
        .zip(test.1)
        .filter(|(x, y)| {
            let d = |m: &[f64; LEN]| (0..LEN).map(|t| (x[t] as f64 - m[t]).powi(2)).sum::<f64>();
            let best = (0..CLASSES)
                .min_by(|&a, &b| d(&mean[a]).total_cmp(&d(&mean[b])))
                .expect("classes");
            best == **y
        })
        .count();
    correct as f64 / test.1.len() as f64
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let (train_x, train_y) = make(2000, &mut rng);
    let (val_x, val_y) = make(400, &mut rng);
    let (test_x, test_y) = make(1000, &mut rng);
    let (train, val) = (
        Dataset::new(&train_x, &train_y)?,
        Dataset::new(&val_x, &val_y)?,
    );

    let mut net = WaveNet::<f32>::new_boxed(&mut rng);
    println!("{}\n", net.summary());
    let mut work = Workspace::boxed(&*net, Batch::<BATCH>);
    let mut adam = Adam::new(3e-3f32);
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
    let log = |s: &EpochStats| {
        println!(
            "epoch {:>2}: train loss {:.4}, validation loss {:.4}, validation accuracy {:.2} %",
            s.epoch,
            s.train_loss,
            s.val_loss,
            100.0 * s.val_accuracy.unwrap_or(0.0)
        );
    };
    Fit::new(EPOCHS)
        // The optimiser's rate in full: the cosine schedule computes from it.
        .learning_rate(3e-3)
        .schedule(CosineAnnealing {
            t_max: EPOCHS as u32,
            eta_min: 0.0,
        })
        .early_stopping(EarlyStopping::new(8))
        .callback(each_epoch(log))
        .run(&mut *net, &mut adam, &mut loader, val, &mut *work, &mut rng)?;

    let deployed = net.to_inference();
    let mut confusion = Confusion::<CLASSES>::new();
    for (x, &y) in test_x.iter().zip(&test_y) {
        let [p] = deployed.classify(&SVector::<f32, LEN>::from_column_slice(x));
        confusion.add(y, p);
    }
    println!(
        "\nconfusion matrix on {} test windows (rows: true, columns: predicted)",
        test_y.len()
    );
    print!("{:>10}", "");
    for name in NAMES {
        print!("{name:>10}");
    }
    println!();
    for (name, row) in NAMES.iter().zip(&confusion.counts) {
        print!("{name:>10}");
        for n in row {
            print!("{n:>10}");
        }
        println!();
    }
    println!("\ntest accuracy:");
    println!(
        "  1-D CNN (deployed):          {:.2} %",
        100.0 * confusion.accuracy()
    );
    println!(
        "  nearest class mean (raw):    {:.2} %",
        100.0 * nearest_mean((&train_x, &train_y), (&test_x, &test_y))
    );
    Ok(())
}
