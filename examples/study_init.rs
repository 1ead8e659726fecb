//! Study 1 — Weight initialisation: what the first forward pass of a deep network looks like.
//!
//! A batch of unit-Gaussian inputs (500 features, 1000 samples, fixed seed) goes through a
//! 10-layer, 500-unit network once, in train mode, and the study reads every hidden layer's
//! output from the tape. The same weights' seed is used with five schemes (biases zero):
//!
//! - tanh, weights from N(0, 0.01²): each layer multiplies the spread by about
//!   0.01·√500 ≈ 0.22, so the activations collapse to 0 layer by layer (and so would the
//!   gradients of the weights, which are proportional to them);
//! - tanh, weights from N(0, 1): the pre-activations have σ ≈ √500 ≈ 22, every unit sits in
//!   tanh's flat tails and the activations are ±1 (saturated: zero local gradient);
//! - tanh, Xavier: σ = √(2 / (fan_in + fan_out)), `Init::XavierNormal { gain: 1 }` — PyTorch's
//!   `xavier_normal_`. Every layer here is 500 × 500, so this is exactly the σ = 1/√fan_in of
//!   the lecture's "Xavier" (`Init::LecunNormal`). The activations keep a healthy spread;
//! - ReLU, Xavier: ReLU zeroes half of every layer's input, so the variance halves per layer
//!   and the activations shrink towards 0 with depth;
//! - ReLU, He: σ = √(2 / fan_in) makes up for that half, and the spread holds.
//!
//! It prints the mean and standard deviation of each layer's activations, draws one histogram
//! figure per scheme (one panel per layer) and a figure of the standard deviation per layer.
//!
//! A second part shows why weights must not start equal: a 64-32-32-10 sigmoid network
//! trained on the digits from all-zero weights (`init = zeros`) keeps all hidden units of a
//! layer identical — same incoming weights, same bias, same outgoing weights — because they
//! compute the same output and so receive the same gradient; it behaves like a network of
//! one unit per layer. The same network started from Xavier weights has all units distinct.
//!
//! Run it with `cargo run --release --example study_init`.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;

use std::error::Error;
use std::path::Path;

use staticnn::data::{Dataset, Loader, Remainder};
use staticnn::fit::{Batch, EpochStats, Fit, Workspace, each_epoch, evaluate};
use staticnn::optim::SgdConfig;
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

use digits::{CLASSES, FEATURES};
use plot::{Histogram, Panel, Series};

/// Units per layer (and input features).
pub const WIDTH: usize = 500;
/// Hidden layers.
pub const DEPTH: usize = 10;
/// Samples in the batch of the full study.
pub const SAMPLES: usize = 1000;
/// Seed of the input batch.
const INPUT_SEED: u64 = 1;
/// Seed of the weights (the same for every scheme).
const WEIGHT_SEED: u64 = 2;

/// Declares a `DEPTH`-layer network of `WIDTH` units with activation `$act` (weights drawn
/// by the study, biases zero), and its [`Deep`] access to weights and activations.
macro_rules! deep_network {
    ($(#[$doc:meta])* $name:ident, $act:ident) => {
        network! {
            $(#[$doc])*
            pub struct $name {
                input: WIDTH,
                fc1: Linear(WIDTH -> WIDTH, init = zeros, bias = zeros), a1: $act,
                fc2: Linear(WIDTH, init = zeros, bias = zeros), a2: $act,
                fc3: Linear(WIDTH, init = zeros, bias = zeros), a3: $act,
                fc4: Linear(WIDTH, init = zeros, bias = zeros), a4: $act,
                fc5: Linear(WIDTH, init = zeros, bias = zeros), a5: $act,
                fc6: Linear(WIDTH, init = zeros, bias = zeros), a6: $act,
                fc7: Linear(WIDTH, init = zeros, bias = zeros), a7: $act,
                fc8: Linear(WIDTH, init = zeros, bias = zeros), a8: $act,
                fc9: Linear(WIDTH, init = zeros, bias = zeros), a9: $act,
                fc10: Linear(WIDTH, init = zeros, bias = zeros), a10: $act,
            }
        }

        impl Deep for $name {
            fn weights(&mut self) -> [&mut SMatrix<f32, WIDTH, WIDTH>; DEPTH] {
                let p = &mut self.params;
                [
                    &mut p.fc1.weight, &mut p.fc2.weight, &mut p.fc3.weight, &mut p.fc4.weight,
                    &mut p.fc5.weight, &mut p.fc6.weight, &mut p.fc7.weight, &mut p.fc8.weight,
                    &mut p.fc9.weight, &mut p.fc10.weight,
                ]
            }

            fn activations<const B: usize>(
                t: &<Self as Network<f32, WIDTH, WIDTH>>::Tape<B>,
            ) -> [&SMatrix<f32, WIDTH, B>; DEPTH] {
                [
                    &t.a1, &t.a2, &t.a3, &t.a4, &t.a5, &t.a6, &t.a7, &t.a8, &t.a9, &t.a10,
                ]
            }
        }
    };
}

/// What the study needs of a deep network: its weight matrices, and the hidden layers'
/// outputs saved in a tape by a train-mode forward.
trait Deep: Network<f32, WIDTH, WIDTH> {
    /// The weight matrix of every `Linear` layer, in order.
    fn weights(&mut self) -> [&mut SMatrix<f32, WIDTH, WIDTH>; DEPTH];
    /// The output of every activation layer, in order.
    fn activations<const B: usize>(tape: &Self::Tape<B>) -> [&SMatrix<f32, WIDTH, B>; DEPTH];
}

deep_network!(
    /// Ten tanh layers of 500 units.
    TanhNet,
    Tanh
);
deep_network!(
    /// Ten ReLU layers of 500 units.
    ReluNet,
    ReLU
);

/// The activation function of a deep network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Hyperbolic tangent.
    Tanh,
    /// Rectified linear unit.
    Relu,
}

/// One initialisation scheme of the study.
#[derive(Clone, Copy, Debug)]
pub struct Scheme {
    /// Name in tables and figures.
    pub name: &'static str,
    /// File name stem of its histogram figure.
    pub file: &'static str,
    /// Activation of the network.
    pub activation: Activation,
    /// How the weights are drawn (`fan_in = fan_out = 500`).
    pub init: Init,
}

/// The five schemes, in the order of the tables.
pub const SCHEMES: [Scheme; 5] = [
    Scheme {
        name: "tanh N(0,0.01²)",
        file: "tanh-normal-0.01",
        activation: Activation::Tanh,
        init: Init::Normal {
            mean: 0.0,
            std: 0.01,
        },
    },
    Scheme {
        name: "tanh N(0,1)",
        file: "tanh-normal-1",
        activation: Activation::Tanh,
        init: Init::Normal {
            mean: 0.0,
            std: 1.0,
        },
    },
    Scheme {
        name: "tanh Xavier",
        file: "tanh-xavier",
        activation: Activation::Tanh,
        init: Init::XavierNormal { gain: 1.0 },
    },
    Scheme {
        name: "ReLU Xavier",
        file: "relu-xavier",
        activation: Activation::Relu,
        init: Init::XavierNormal { gain: 1.0 },
    },
    Scheme {
        name: "ReLU He",
        file: "relu-he",
        activation: Activation::Relu,
        init: Init::HeNormal { slope: 0.0 },
    },
];

/// Figures of one layer's activations over the whole batch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LayerStats {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (population).
    pub std: f64,
    /// Share of values with `|a| > 0.99` (saturated tanh units).
    pub saturated: f64,
    /// Share of values exactly 0 (inactive ReLUs).
    pub zero: f64,
}

impl LayerStats {
    fn of(values: &[f32]) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let share = |f: &dyn Fn(f32) -> bool| values.iter().filter(|&&v| f(v)).count() as f64 / n;
        LayerStats {
            mean,
            std: var.sqrt(),
            saturated: share(&|v| v.abs() > 0.99),
            zero: share(&|v| v == 0.0),
        }
    }
}

/// The first part's result for one scheme.
#[derive(Clone, Copy, Debug)]
pub struct SchemeReport {
    /// The scheme.
    pub scheme: Scheme,
    /// Each hidden layer's activations, first to last.
    pub layers: [LayerStats; DEPTH],
}

/// One network of the second part (zero against random initialisation).
#[derive(Clone, Debug)]
pub struct SymmetryReport {
    /// How the weights started.
    pub name: &'static str,
    /// For each hidden layer, the largest difference between two of its units in any
    /// incoming weight, bias or outgoing weight after training.
    pub spread: [f64; 2],
    /// For each hidden layer, the number of distinct units after training (units whose
    /// incoming weights, bias and outgoing weights all agree within 1e-6 count once).
    pub distinct: [usize; 2],
    /// Frobenius norm of each weight matrix after training (shows the weights did move).
    pub weight_norm: [f64; 3],
    /// Test accuracy after training.
    pub accuracy: f64,
    /// Training loss of every epoch.
    pub train_loss: Vec<f64>,
}

/// Units of each hidden layer of the small network.
pub const HIDDEN: usize = 32;

network! {
    /// A 64-32-32-10 sigmoid network whose weights and biases all start at zero.
    pub struct SmallNet {
        input: FEATURES,
        fc1: Linear(FEATURES -> HIDDEN, init = zeros, bias = zeros),
        Sigmoid,
        fc2: Linear(HIDDEN, init = zeros, bias = zeros),
        Sigmoid,
        out: Linear(CLASSES, init = zeros, bias = zeros),
        loss: SoftmaxCrossEntropy,
    }
}

/// Epochs of the small network.
pub const EPOCHS: usize = 30;
/// Mini-batch size of the small network.
const BATCH: usize = 32;
/// Learning rate of SGD (momentum 0.9) for the small network.
const LR: f64 = 0.1;

/// Everything the study computes.
pub struct Report {
    /// Part one, one entry per scheme of [`SCHEMES`].
    pub schemes: Vec<SchemeReport>,
    /// Part two: zero initialisation, then Xavier.
    pub symmetry: [SymmetryReport; 2],
}

/// Runs the whole study on a batch of `B` samples; with `out`, writes the figures there and
/// returns their paths too.
pub fn run<const B: usize>(out: Option<&Path>) -> Result<(Report, Vec<String>), Box<dyn Error>> {
    // A unit-Gaussian input batch, on the heap (500 × B values).
    let mut x = bytemuck::zeroed_box::<SMatrix<f32, WIDTH, B>>();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(INPUT_SEED);
    Init::Normal {
        mean: 0.0,
        std: 1.0,
    }
    .fill(x.as_mut_slice(), WIDTH, WIDTH, &mut rng);

    let mut files = Vec::new();
    let mut schemes = Vec::new();
    for scheme in SCHEMES {
        let layers = match scheme.activation {
            Activation::Tanh => probe::<TanhNet, B>(&scheme, &x, out, &mut files)?,
            Activation::Relu => probe::<ReluNet, B>(&scheme, &x, out, &mut files)?,
        };
        schemes.push(SchemeReport { scheme, layers });
    }
    if let Some(dir) = out {
        let path = dir.join("std-per-layer.svg");
        plot_std(&schemes, &path)?;
        files.push(path.display().to_string());
    }

    let mut xavier = SmallNet::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(WEIGHT_SEED);
    let p = &mut xavier.params;
    for (w, fan_in, fan_out) in [
        (p.fc1.weight.as_mut_slice(), FEATURES, HIDDEN),
        (p.fc2.weight.as_mut_slice(), HIDDEN, HIDDEN),
        (p.out.weight.as_mut_slice(), HIDDEN, CLASSES),
    ] {
        Init::XavierNormal { gain: 1.0 }.fill(w, fan_in, fan_out, &mut rng);
    }
    let zero = SmallNet::<f32>::new(&mut rng);
    let symmetry = [train_small("zeros", zero)?, train_small("Xavier", xavier)?];
    if let Some(dir) = out {
        let path = dir.join("zero-init-loss.svg");
        let series = symmetry
            .iter()
            .map(|s| {
                let points = s.train_loss.iter().enumerate();
                Series::new(s.name, points.map(|(e, &l)| (e as f64 + 1.0, l)))
            })
            .collect();
        let panel = Panel::fitted("training loss, 64-32-32-10 sigmoid", "epoch", "", series);
        plot::lines(&path, 1, &[panel])?;
        files.push(path.display().to_string());
    }
    Ok((Report { schemes, symmetry }, files))
}

/// Draws `scheme`'s weights into a fresh network of type `N`, runs `x` through it once in
/// train mode and returns every hidden layer's figures; with `out`, draws the histograms.
fn probe<N: Deep, const B: usize>(
    scheme: &Scheme,
    x: &SMatrix<f32, WIDTH, B>,
    out: Option<&Path>,
    files: &mut Vec<String>,
) -> Result<[LayerStats; DEPTH], Box<dyn Error>> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(WEIGHT_SEED);
    // About 10 MB of weights and 40 MB of tape for 1000 samples: built zeroed on the heap.
    let mut net = bytemuck::zeroed_box::<N>();
    net.init(&mut rng);
    for w in net.weights() {
        scheme.init.fill(w.as_mut_slice(), WIDTH, WIDTH, &mut rng);
    }
    let mut tape = bytemuck::zeroed_box::<<N as Network<f32, WIDTH, WIDTH>>::Tape<B>>();
    net.forward_train(x, &mut tape, &mut rng);
    let acts = N::activations(&tape);
    let stats = acts.map(|a| LayerStats::of(a.as_slice()));

    if let Some(dir) = out {
        let (range, values): (_, fn(f32) -> Option<f64>) = match scheme.activation {
            Activation::Tanh => (-1.0..1.0, |v| Some(f64::from(v))),
            // Half of a ReLU layer is exactly 0: the histograms count the positive values.
            Activation::Relu => (0.0..4.0, |v| (v > 0.0).then_some(f64::from(v))),
        };
        let histograms: Vec<Histogram> = acts
            .iter()
            .zip(&stats)
            .enumerate()
            .map(|(k, (a, s))| Histogram {
                title: format!(
                    "{}: layer {} (mean {:.2}, std {:.2e})",
                    scheme.name,
                    k + 1,
                    s.mean,
                    s.std
                ),
                values: a.iter().filter_map(|&v| values(v)).collect(),
                range: range.clone(),
                bins: 50,
            })
            .collect();
        let path = dir.join(format!("{}.svg", scheme.file));
        plot::histograms(&path, 5, &histograms)?;
        files.push(path.display().to_string());
    }
    Ok(stats)
}

/// The standard deviation per layer of every scheme, on a log scale: tanh left, ReLU right.
fn plot_std(schemes: &[SchemeReport], path: &Path) -> Result<(), Box<dyn Error>> {
    let panel = |activation, title| {
        let series = schemes
            .iter()
            .filter(|s| s.scheme.activation == activation)
            .map(|s| {
                let points = s.layers.iter().enumerate();
                Series::new(
                    s.scheme.name,
                    points.map(|(k, l)| (k as f64 + 1.0, l.std.max(1e-12).log10())),
                )
            })
            .collect();
        Panel::fitted(title, "layer", "log10 std of activations", series)
    };
    plot::lines(
        path,
        2,
        &[
            panel(Activation::Tanh, "tanh networks"),
            panel(Activation::Relu, "ReLU networks"),
        ],
    )
}

/// Trains `net` on the standardised digits and measures how alike its hidden units are.
fn train_small(name: &'static str, net: SmallNet) -> Result<SymmetryReport, Box<dyn Error>> {
    let digits::Digits {
        train_x,
        train_y,
        test_x,
        test_y,
    } = digits::load_standardised()?;
    let train = Dataset::new(&train_x, &train_y)?;
    let test = Dataset::new(&test_x, &test_y)?;

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(WEIGHT_SEED);
    let mut net = net;
    let mut work = Workspace::new(&net, Batch::<BATCH>);
    let mut sgd = Sgd::with(
        LR as f32,
        SgdConfig {
            momentum: 0.9,
            ..Default::default()
        },
    );
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
    let mut train_loss = Vec::new();
    Fit::new(EPOCHS)
        .callback(each_epoch(|s: &EpochStats| train_loss.push(s.train_loss)))
        .run(&mut net, &mut sgd, &mut loader, test, &mut work, &mut rng)?;
    let accuracy = evaluate(&net, test, SoftmaxCrossEntropy, Batch::<BATCH>)?
        .accuracy
        .unwrap_or(0.0);

    let p = &net.params;
    // Unit `i` of hidden layer 1: row `i` of fc1 with its bias, column `i` of fc2.
    let unit1 = |i: usize| -> Vec<f32> {
        let mut u: Vec<f32> = p.fc1.weight.row(i).iter().copied().collect();
        u.push(p.fc1.bias[i]);
        u.extend(p.fc2.weight.column(i).iter());
        u
    };
    let unit2 = |i: usize| -> Vec<f32> {
        let mut u: Vec<f32> = p.fc2.weight.row(i).iter().copied().collect();
        u.push(p.fc2.bias[i]);
        u.extend(p.out.weight.column(i).iter());
        u
    };
    let (units1, units2): (Vec<_>, Vec<_>) = (0..HIDDEN).map(|i| (unit1(i), unit2(i))).unzip();
    Ok(SymmetryReport {
        name,
        spread: [spread(&units1), spread(&units2)],
        distinct: [distinct(&units1), distinct(&units2)],
        weight_norm: [
            f64::from(p.fc1.weight.norm()),
            f64::from(p.fc2.weight.norm()),
            f64::from(p.out.weight.norm()),
        ],
        accuracy,
        train_loss,
    })
}

/// Largest difference between two units in any of their weights.
fn spread(units: &[Vec<f32>]) -> f64 {
    let first = &units[0];
    let mut lo = first.clone();
    let mut hi = first.clone();
    for u in units {
        for (k, &v) in u.iter().enumerate() {
            lo[k] = lo[k].min(v);
            hi[k] = hi[k].max(v);
        }
    }
    lo.iter()
        .zip(&hi)
        .map(|(l, h)| f64::from(h - l))
        .fold(0.0, f64::max)
}

/// Number of distinct units: a unit is new when it differs from every unit seen before by
/// more than 1e-6 in some weight.
fn distinct(units: &[Vec<f32>]) -> usize {
    let mut seen: Vec<&Vec<f32>> = Vec::new();
    for u in units {
        let same = |s: &&Vec<f32>| s.iter().zip(u).all(|(a, b)| (a - b).abs() <= 1e-6);
        if !seen.iter().any(same) {
            seen.push(u);
        }
    }
    seen.len()
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = plot::output_dir("study_init")?;
    let (report, files) = run::<SAMPLES>(Some(&dir))?;

    println!(
        "Part 1: {SAMPLES} unit-Gaussian samples through {DEPTH} layers of {WIDTH} units, biases 0"
    );
    println!(
        "Xavier = N(0, 2/(fan_in+fan_out)) = N(0, 1/500) here (PyTorch xavier_normal_, gain 1)"
    );
    for (title, get) in [
        (
            "mean of each layer's activations",
            (|l| l.mean) as fn(&LayerStats) -> f64,
        ),
        ("standard deviation of each layer's activations", |l| l.std),
    ] {
        println!("\n{title}");
        print!("layer");
        for s in &report.schemes {
            print!("  {:>15}", s.scheme.name);
        }
        println!();
        for k in 0..DEPTH {
            print!("{:>5}", k + 1);
            for s in &report.schemes {
                print!("  {:>15.3e}", get(&s.layers[k]));
            }
            println!();
        }
    }
    println!("\nshare of saturated tanh units (|a| > 0.99) / of zero ReLU outputs, last layer");
    for s in &report.schemes {
        let last = s.layers[DEPTH - 1];
        let (what, share) = match s.scheme.activation {
            Activation::Tanh => ("saturated", last.saturated),
            Activation::Relu => ("zero", last.zero),
        };
        println!("  {:<16} {what:<9} {:>6.1} %", s.scheme.name, 100.0 * share);
    }

    println!(
        "\nPart 2: 64-{HIDDEN}-{HIDDEN}-10 sigmoid network on the digits, SGD lr {LR} momentum 0.9, {EPOCHS} epochs"
    );
    println!(
        "init     distinct units (h1, h2)   largest difference between units (h1, h2)   ‖W1‖    ‖W2‖    ‖W3‖   test acc."
    );
    for s in &report.symmetry {
        println!(
            "{:<8} {:>9} {:>5} {:>27.2e} {:>9.2e} {:>14.3} {:>7.3} {:>7.3} {:>8.2} %",
            s.name,
            s.distinct[0],
            s.distinct[1],
            s.spread[0],
            s.spread[1],
            s.weight_norm[0],
            s.weight_norm[1],
            s.weight_norm[2],
            100.0 * s.accuracy
        );
    }

    println!("\nfigures:");
    for f in files {
        println!("  {f}");
    }
    Ok(())
}
