//! 03 — The whole path, without glue code: CSV in, standardisation inside the model,
//! training with early stopping, a self-describing file, reloading it in another process,
//! evaluating the deployed form, plots.
//!
//! The Wisconsin diagnostic breast cancer data in `data/breast_cancer/` (569 masses, 30
//! features in very different ranges, malignant or benign) is read with
//! `staticnn::data::load_csv` (label column by name) and split, stratified and with a fixed
//! seed, 3 : 1 : 1 into training, validation and test rows. The network's first layer is
//! `Normalize`: its mean and standard deviation are fitted on the training rows only
//! (`fit_normalize`) and are saved and loaded with the weights, so nobody standardises
//! anything by hand. `Fit` trains it with Adam and early stopping on the validation loss,
//! printing one line per epoch. The trained network is saved as safetensors (the file
//! records its naming and layers). Then the example runs itself again as a child process
//! (`--evaluate <file>`): the child loads the file into a fresh network, builds the
//! inference twin (`to_inference()`: `Normalize` and batch norm folded into the `Linear`
//! layers, dropout gone), evaluates it on the test rows and prints the confusion matrix with
//! precision, recall and F1. The parent checks that the child's figures equal, bit for bit,
//! its own evaluation of the deployed form. With the `plot` feature the learning curves and
//! the confusion matrix are written to `target/staticnn-examples/breast_cancer/` as SVG.
//!
//! Run it with `cargo run --release --example breast_cancer --features std,safetensors,plot`.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

use staticnn::data::split_stratified;
use staticnn::data::{Csv, DataError, Dataset, LabelColumn, Loader, Ratio, Remainder, load_csv};
use staticnn::fit::{Batch, EarlyStopping, EpochStats, Evaluation, Fit, FitReport, Workspace};
use staticnn::fit::{each_epoch, evaluate};
use staticnn::io::{LoadOptions, Naming, load_safetensors, save_safetensors};
use staticnn::layers::NormalizeState;
use staticnn::metrics::Confusion;
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

/// Features per sample: the 30 measurement columns of the CSV file.
pub const FEATURES: usize = 30;
/// Classes: 0 = malignant, 1 = benign.
pub const CLASSES: usize = 2;
/// The classes' names, by class number.
pub const CLASS_NAMES: [&str; CLASSES] = ["malignant", "benign"];

network! {
    /// Diagnoses a breast mass from the 30 raw features of its image; standardises them itself.
    pub struct CancerNet {
        input: FEATURES,
        norm: Normalize,
        fc1: Linear(32, init = he_normal, bias = zeros),
        bn1: BatchNorm,
        act1: ReLU,
        drop1: Dropout(0.3),
        fc2: Linear(16, init = he_normal, bias = zeros),
        act2: ReLU,
        out: Linear(CLASSES),
        loss: SoftmaxCrossEntropy,
    }
}

/// Mini-batch size.
const BATCH: usize = 16;
/// Adam's learning rate.
const LR: f32 = 2e-3;
/// Most epochs of training.
pub const EPOCHS: usize = 100;
/// Epochs without a better validation loss before stopping.
const PATIENCE: usize = 12;
/// Seed of the split and of the training run.
pub const SEED: u64 = 569;
/// The data file.
pub const CSV_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/breast_cancer/breast_cancer.csv"
);
/// The argument that makes the example the evaluating child process.
pub const EVALUATE: &str = "--evaluate";
/// The prefix of the child's machine-readable result line.
const RESULT: &str = "deployed-evaluation:";

/// What a run produced.
pub struct Report {
    /// Training, validation and test rows.
    pub sizes: [usize; 3],
    /// Per-epoch figures of training.
    pub curves: Vec<EpochStats>,
    /// When training stopped and where the validation loss was best.
    pub fit: FitReport,
    /// The parent's evaluation of the deployed form (`to_inference`) on the test rows.
    pub deployed: Evaluated,
    /// The child process's evaluation of the deployed form rebuilt from the saved file.
    pub reloaded: Evaluated,
    /// The saved file.
    pub file: PathBuf,
    /// The `Normalize` layer's fitted statistics, saved with the weights.
    pub normalize: NormalizeState<f32, FEATURES>,
}

/// Test-set figures of a deployed network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluated {
    /// Mean loss and accuracy.
    pub evaluation: Evaluation,
    /// Confusion matrix (rows: true class, columns: predicted).
    pub confusion: Confusion<CLASSES>,
}

/// Reads the CSV file (the label column by name).
pub fn load() -> Result<Csv<f32, FEATURES>, Box<dyn Error>> {
    Ok(load_csv::<f32, FEATURES>(
        CSV_PATH,
        LabelColumn::Name("diagnosis"),
    )?)
}

/// The fixed split, stratified by class: rows for training, validation and test. Parent
/// and child compute the same one.
pub fn split_rows(labels: &[usize]) -> Result<[Vec<usize>; 3], Box<dyn Error>> {
    let mut rows = vec![0usize; labels.len()];
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let ratio = Ratio {
        train: 3,
        validation: 1,
        test: 1,
    };
    let s = split_stratified::<CLASSES>(labels, &mut rows, ratio, &mut rng)?;
    Ok([s.train.to_vec(), s.validation.to_vec(), s.test.to_vec()])
}

/// Evaluates a deployed network on `test`.
fn score(
    deployed: &impl Network<f32, FEATURES, CLASSES>,
    test: Dataset<'_, f32, FEATURES, usize>,
) -> Result<Evaluated, DataError> {
    Ok(Evaluated {
        evaluation: evaluate(deployed, test, SoftmaxCrossEntropy, Batch::<BATCH>)?,
        confusion: Confusion::of(deployed, test, Batch::<BATCH>)?,
    })
}

/// The child process: loads `file` into a fresh network, deploys it, evaluates it on the
/// test rows, prints the confusion matrix with precision, recall and F1, and a last line
/// the parent reads.
pub fn evaluate_file(file: &Path) -> Result<Evaluated, Box<dyn Error>> {
    let csv = load()?;
    let [_, _, test_rows] = split_rows(&csv.labels)?;
    let test = csv.dataset()?.select(&test_rows)?;
    // Other initial weights than the parent's: everything must come from the file.
    let mut net = CancerNet::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(!SEED));
    let bytes = std::fs::read(file)?;
    // Default options: the file says how it names its tensors.
    load_safetensors(&mut net, &bytes, &LoadOptions::new())?;
    let deployed = net.to_inference();
    let e = score(&deployed, test)?;
    let c = &e.confusion;
    println!(
        "[child {}] loaded {} ({} bytes), deployed, evaluated on {} test rows",
        std::process::id(),
        file.display(),
        bytes.len(),
        e.evaluation.samples
    );
    println!("{}\n", deployed.summary());
    println!("{c}");
    println!("class       precision  recall     F1");
    for (k, name) in CLASS_NAMES.iter().enumerate() {
        println!(
            "{k} {name:<9}    {:.4}  {:.4}  {:.4}",
            c.precision(k),
            c.recall(k),
            c.f1(k)
        );
    }
    println!(
        "macro          {:.4}  {:.4}  {:.4}",
        c.macro_precision(),
        c.macro_recall(),
        c.macro_f1()
    );
    println!(
        "accuracy {:.2} %, mean loss {:.4}",
        100.0 * c.accuracy(),
        e.evaluation.loss
    );
    println!("{}", result_line(&e));
    Ok(e)
}

/// The machine-readable line: every figure exactly (floats as their bits).
fn result_line(e: &Evaluated) -> String {
    let counts: Vec<String> = e
        .confusion
        .counts
        .iter()
        .flatten()
        .map(u32::to_string)
        .collect();
    format!(
        "{RESULT} samples={} loss={:016x} accuracy={:016x} counts={}",
        e.evaluation.samples,
        e.evaluation.loss.to_bits(),
        e.evaluation.accuracy.unwrap_or(f64::NAN).to_bits(),
        counts.join(",")
    )
}

/// Reads [`result_line`]'s figures back from the child's output.
fn parse_result(stdout: &str) -> Result<Evaluated, Box<dyn Error>> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT))
        .ok_or("the child printed no result line")?;
    let mut e = Evaluated {
        evaluation: Evaluation::default(),
        confusion: Confusion::new(),
    };
    for field in line.split_whitespace() {
        let (key, value) = field.split_once('=').ok_or("malformed result field")?;
        match key {
            "samples" => e.evaluation.samples = value.parse()?,
            "loss" => e.evaluation.loss = f64::from_bits(u64::from_str_radix(value, 16)?),
            "accuracy" => {
                let a = f64::from_bits(u64::from_str_radix(value, 16)?);
                e.evaluation.accuracy = (!a.is_nan()).then_some(a);
            }
            "counts" => {
                let n: Vec<u32> = value.split(',').map(str::parse).collect::<Result<_, _>>()?;
                if n.len() != CLASSES * CLASSES {
                    return Err("wrong number of confusion counts".into());
                }
                for (i, v) in n.into_iter().enumerate() {
                    e.confusion.counts[i / CLASSES][i % CLASSES] = v;
                }
            }
            _ => return Err(format!("unknown result field {key}").into()),
        }
    }
    Ok(e)
}

/// The whole path. The trained network is saved in `dir`; `child` makes the command that
/// evaluates a saved file in another process (the example runs itself with
/// [`EVALUATE`]). With `verbose`, prints progress and the child's output.
pub fn run(
    verbose: bool,
    dir: &Path,
    child: &dyn Fn(&Path) -> Command,
) -> Result<Report, Box<dyn Error>> {
    // CSV in.
    let csv = load()?;
    let [train_rows, val_rows, test_rows] = split_rows(&csv.labels)?;
    let all = csv.dataset()?;
    let (train, val, test) = (
        all.select(&train_rows)?,
        all.select(&val_rows)?,
        all.select(&test_rows)?,
    );
    if verbose {
        println!(
            "{}: {} rows, {} features, label `{}`; {} training, {} validation, {} test rows",
            CSV_PATH.rsplit('/').next().unwrap_or(CSV_PATH),
            csv.labels.len(),
            csv.features.len(),
            csv.label,
            train.len(),
            val.len(),
            test.len()
        );
    }

    // Standardisation inside the model, fitted on the training rows only.
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut net = CancerNet::<f32>::new(&mut rng);
    net.fit_normalize(&train)?;

    // Train with early stopping, one line per epoch.
    let mut work = Workspace::new(&net, Batch::<BATCH>);
    let mut adam = Adam::new(LR);
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
    let mut curves = Vec::new();
    let fit = Fit::new(EPOCHS)
        .early_stopping(EarlyStopping::new(PATIENCE))
        .callback(each_epoch(|s: &EpochStats| {
            if verbose {
                println!(
                    "epoch {:>3}  train loss {:.4} acc {:5.1} %  val loss {:.4} acc {:5.1} %",
                    s.epoch,
                    s.train_loss,
                    100.0 * s.train_accuracy.unwrap_or(0.0),
                    s.val_loss,
                    100.0 * s.val_accuracy.unwrap_or(0.0)
                );
            }
            curves.push(*s);
        }))
        .run(&mut net, &mut adam, &mut loader, val, &mut work, &mut rng)?;
    if verbose {
        println!(
            "{} after {} epochs; best validation loss {:.4} at epoch {} (restored)\n",
            if fit.stopped_early {
                "stopped early"
            } else {
                "finished"
            },
            fit.epochs_run,
            fit.best_val_loss,
            fit.best_epoch
        );
        println!("{}\n", net.summary());
    }

    // Save: a safetensors file that records its naming and layers, with the `Normalize`
    // statistics next to the weights.
    std::fs::create_dir_all(dir)?;
    let file = dir.join("breast_cancer.safetensors");
    std::fs::write(&file, save_safetensors(&net, Naming::Names))?;

    // The deployed form, evaluated here.
    let deployed = score(&net.to_inference(), test)?;

    // Reload in another process and evaluate there.
    let output = child(&file).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the evaluating child failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    if verbose {
        println!(
            "saved {}; evaluating it in a child process:",
            file.display()
        );
        for line in stdout.lines().filter(|l| !l.starts_with(RESULT)) {
            println!("  | {line}");
        }
    }
    let reloaded = parse_result(&stdout)?;

    Ok(Report {
        sizes: [train.len(), val.len(), test.len()],
        curves,
        fit,
        deployed,
        reloaded,
        file,
        normalize: net.state.norm,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, file] = &args[..]
        && flag == EVALUATE
    {
        evaluate_file(Path::new(file))?;
        return Ok(());
    }

    let exe = std::env::current_exe()?;
    let dir = PathBuf::from("target/staticnn-examples/breast_cancer");
    let report = run(true, &dir, &|file| {
        let mut c = Command::new(&exe);
        c.arg(EVALUATE).arg(file);
        c
    })?;
    if report.reloaded != report.deployed {
        return Err("the reloaded network's evaluation differs from the deployed one's".into());
    }
    println!(
        "\nthe child's figures equal the parent's evaluation of the deployed form: \
         test accuracy {:.2} %, mean loss {:.4}",
        100.0 * report.deployed.confusion.accuracy(),
        report.deployed.evaluation.loss
    );

    #[cfg(feature = "plot")]
    {
        staticnn::plot::history(dir.join("learning-curves.svg"), &report.curves)?;
        staticnn::plot::confusion(dir.join("confusion.svg"), &report.deployed.confusion)?;
        println!("learning curves and confusion matrix: {}", dir.display());
    }
    Ok(())
}
