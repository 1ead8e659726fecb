//! Writes the generated files of `staticnn-digits`:
//!
//! * `digits/src/trained.rs`: the digits CNN trained here on the host with the recipe of
//!   `examples/digits_cnn.rs` (the same split, seed, optimiser, schedule, augmentation and
//!   early stopping), folded into its inference form (`to_inference()`), as a `const`
//!   struct literal, with its accuracy on the example's 355 test images;
//! * `digits/src/data.rs`: the per-pixel standardisation fitted on the training images,
//!   [`TESTS`] test digits (the first of each class of the test split, then the first
//!   ones the network misclassifies) as raw pixels,
//!   their labels, and the classes and outputs the host computes for them with that network
//!   through [`staticnn_digits::classify`], the function the firmware runs;
//! * `digits/src/trained.i8.snnb` and `digits/src/int8.rs`: that network quantised to int8
//!   (as `DigitCnnFolded`, calibrated on 200 training images) as an int8 blob, the source
//!   that makes it a `const` (`staticnn::int8_network_from_blob!`), the per-pixel input
//!   table and the host int8 twin's outputs for the shipped digits.
//!
//! `cargo run -p staticnn-digits-export --release` (from `embedded/`) trains and writes both
//! files (4 to 9 minutes on two shared cores: the host takes the library's plain loops, as
//! the firmware does). With `-- --data` it writes the files from the compiled `TRAINED`
//! without training (after a change of the shipped digits). With `-- --check` it trains nothing: it verifies that `data.rs` is what the compiled
//! `TRAINED` gives for the data set today and that `trained.rs` is that network in the
//! exporter's form, and exits with status 1 when a file is out of date.

#[path = "../../../examples/common/digits.rs"]
mod digits;

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use staticnn::data::{
    Dataset, Loader, Preprocess, RandomTranslate, Ratio, Remainder, Standardise, split_stratified,
};
use staticnn::fit::{EarlyStopping, EpochStats, Fit, Workspace, each_epoch};
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::schedule::CosineAnnealing;
use staticnn_digits::{
    CLASSES, Deployed, DeployedInt8, DigitCnn, DigitCnnTape, FEATURES, MAX_PIXEL, TESTS, classify,
};

/// The example's training settings (`examples/digits_cnn.rs`).
const BATCH: usize = 32;
const LR: f64 = 3e-3;
const EPOCHS: usize = 40;
const PATIENCE: usize = 10;
const SEED: u64 = 2026;
/// Shipped test digits of each class (the rest of `TESTS` are misclassified ones).
const PER_CLASS: usize = 1;

fn main() -> ExitCode {
    let mode = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => Mode::Train,
        [flag] if flag == "--data" => Mode::Data,
        [flag] if flag == "--check" => Mode::Check,
        _ => {
            eprintln!("usage: staticnn-digits-export [--data | --check]");
            return ExitCode::from(2);
        }
    };
    match run(mode) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("staticnn-digits-export: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the exporter does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Train the network and write both files.
    Train,
    /// Write `data.rs` (and `trained.rs`) from the compiled `TRAINED`, without training.
    Data,
    /// Write nothing: compare both files with what the compiled `TRAINED` gives.
    Check,
}

fn run(mode: Mode) -> Result<bool, Box<dyn Error>> {
    let check = mode == Mode::Check;
    let raw = digits::load();
    let norm = Standardise::fit(&Dataset::new(&raw.train_x, &raw.train_y)?)?;

    let trained = if mode != Mode::Train {
        staticnn_digits::TRAINED
    } else {
        let t = std::time::Instant::now();
        let net = train(&raw, &norm)?;
        println!("trained on the host in {:.1} s", t.elapsed().as_secs_f64());
        net
    };

    // The accuracy of the deployed network on the example's whole test split.
    let mut test_x = raw.test_x.clone();
    norm.apply_all(&mut test_x);
    let wrong: Vec<usize> = (0..test_x.len())
        .filter(|&i| {
            let x = SVector::<f32, FEATURES>::from_column_slice(&test_x[i][..]);
            let [p] = trained.classify(&x);
            p != raw.test_y[i]
        })
        .collect();
    let correct = test_x.len() - wrong.len();
    println!(
        "deployed network: {correct} of {} test images correct ({:.2} %)",
        test_x.len(),
        100.0 * correct as f64 / test_x.len() as f64
    );

    // The shipped digits: the first test image of each class, in class order, then the
    // first images the network gets wrong (the check compares with the host's prediction,
    // right or wrong), as many as fill `TESTS`.
    let mut picked = Vec::new();
    for class in 0..CLASSES {
        picked.extend(
            (0..raw.test_y.len())
                .filter(|&i| raw.test_y[i] == class)
                .take(PER_CLASS),
        );
    }
    let extra: Vec<usize> = wrong
        .iter()
        .copied()
        .filter(|i| !picked.contains(i))
        .take(TESTS - picked.len())
        .collect();
    picked.extend(extra);
    if picked.len() != TESTS {
        return Err(format!("found {} of the {TESTS} test digits to ship", picked.len()).into());
    }
    let pixels: Vec<[u8; FEATURES]> = picked
        .iter()
        .map(|&i| raw.test_x[i].map(|v| (v * MAX_PIXEL) as u8))
        .collect();
    for (&i, p) in picked.iter().zip(&pixels) {
        assert!(
            p.iter()
                .zip(&raw.test_x[i])
                .all(|(&q, &v)| f32::from(q) / MAX_PIXEL == v),
            "raw pixels do not round-trip"
        );
    }
    let labels: Vec<usize> = picked.iter().map(|&i| raw.test_y[i]).collect();

    // The host's predictions with the code the firmware runs; the data compiled into
    // staticnn-digits must be these for `classify` to see the same inputs.
    let rows: Vec<(usize, [u32; CLASSES])> = pixels
        .iter()
        .map(|p| {
            let mut x = SVector::zeros();
            staticnn_digits::write_image(&norm, p, &mut x);
            let y = trained.predict(&x);
            let [class] = staticnn::metrics::argmax(&y);
            (class, y.map(f32::to_bits).into())
        })
        .collect();
    let right = rows
        .iter()
        .zip(&labels)
        .filter(|((c, _), l)| c == *l)
        .count();
    println!("shipped digits: the host classifies {right} of {TESTS} correctly");

    let trained_rs = render_trained(&trained, correct, test_x.len());
    let data_rs = render_data(&norm, &pixels, &labels, &rows);
    let ok = sync("trained.rs", trained_rs.as_bytes(), check)
        & sync("data.rs", data_rs.as_bytes(), check)
        & export_int8(&raw, &norm, &trained, &pixels, &labels, check)?;
    if ok && !check {
        println!("run the exporter again with `-- --check` to verify the compiled files");
    } else if ok {
        // The compiled data must give what was just rendered: the firmware compares with it.
        let compiled = (0..TESTS).all(|i| {
            classify(&trained, &staticnn_digits::PIXELS[i]) == rows[i].0
                && usize::from(staticnn_digits::HOST_CLASSES[i]) == rows[i].0
        });
        if !compiled {
            eprintln!("staticnn-digits was compiled with other data: run the exporter again");
            return Ok(false);
        }
    }
    Ok(ok)
}

/// Training images in the int8 network's calibration (issue 17: 200 training images).
const CALIBRATION: usize = 200;

/// Quantises `trained` (as [`staticnn_digits::DigitCnnFolded`]) with the first
/// [`CALIBRATION`] training images, standardised, as calibration data, and writes its blob
/// (`trained.i8.snnb`) and `int8.rs`: the `const` read from the blob, the per-pixel input
/// table, the int8 twin's outputs and classes for the shipped digits, its accuracy on the
/// test split. With `check`, also checks that the compiled files are these. False when a
/// file is out of date or a check failed.
fn export_int8(
    raw: &digits::Digits,
    norm: &Standardise<f32, FEATURES>,
    trained: &Deployed,
    pixels: &[[u8; FEATURES]],
    labels: &[usize],
    check: bool,
) -> Result<bool, Box<dyn Error>> {
    let folded = staticnn_digits::folded(trained);
    let mut calibration: Vec<[f32; FEATURES]> = raw.train_x[..CALIBRATION].to_vec();
    norm.apply_all(&mut calibration);
    let units = vec![(); CALIBRATION];
    let q = folded.quantize(Dataset::new(&calibration, &units)?)?;

    // Per pixel, the int8 input for each raw value: `write_image` of an image of that value
    // everywhere (the same `f32` operations per pixel), then the input's quantisation.
    let mut table = [[0i8; 17]; FEATURES];
    for v in 0..=16u8 {
        let mut x = SVector::zeros();
        staticnn_digits::write_image(norm, &[v; FEATURES], &mut x);
        for (row, &xv) in table.iter_mut().zip(x.iter()) {
            row[usize::from(v)] = q.input.quantize(xv);
        }
    }
    let image = |p: &[u8; FEATURES]| {
        let mut x = SVector::zeros();
        staticnn_digits::write_image(norm, p, &mut x);
        x
    };
    let mut outputs = Vec::new();
    for p in pixels {
        let x = image(p);
        // The folded network is the deployed one, bit for bit.
        let (a, b) = (folded.predict(&x), trained.predict(&x));
        if a.iter()
            .zip(b.iter())
            .any(|(a, b)| a.to_bits() != b.to_bits())
        {
            return Err("the folded network differs from the deployed one".into());
        }
        let xq = q.quantize_input(&x);
        let mut xt = staticnn::SMatrix::<i8, FEATURES, 1>::zeros();
        staticnn_digits::write_image_int8(&table, p, &mut xt);
        if xq != xt {
            return Err("the input table differs from quantize_input".into());
        }
        let y = q.forward_int8(&xq);
        let [class] = q.classify(&x);
        outputs.push((class, <[i8; CLASSES]>::from(y)));
    }
    // The int8 twin on the example's whole test split.
    let mut test_x = raw.test_x.clone();
    norm.apply_all(&mut test_x);
    let (mut correct_f32, mut correct_i8) = (0, 0);
    for (x, &label) in test_x.iter().zip(&raw.test_y) {
        let x = SVector::<f32, FEATURES>::from_column_slice(&x[..]);
        correct_f32 += usize::from(trained.classify(&x) == [label]);
        correct_i8 += usize::from(q.classify(&x) == [label]);
    }
    let total = test_x.len();
    let pct = |c: usize| 100.0 * c as f64 / total as f64;
    println!(
        "test split: f32 {correct_f32} of {total} ({:.2} %), int8 {correct_i8} of {total} ({:.2} %)",
        pct(correct_f32),
        pct(correct_i8)
    );
    let right = outputs
        .iter()
        .zip(labels)
        .filter(|((c, _), l)| c == *l)
        .count();
    println!("shipped digits: the host int8 twin classifies {right} of {TESTS} correctly");

    let mut blob = vec![0u8; DeployedInt8::BLOB_BYTES];
    staticnn::io::int8_to_bytes(&q, &mut blob)?;
    println!(
        "int8 network: {} B ({} B blob); f32: {} B",
        size_of::<DeployedInt8>(),
        blob.len(),
        size_of::<Deployed>()
    );
    let int8_rs = render_int8(&table, &outputs, correct_i8, total, blob.len());
    let ok = sync("trained.i8.snnb", &blob, check) & sync("int8.rs", int8_rs.as_bytes(), check);
    if ok && check {
        let mut compiled = vec![0u8; DeployedInt8::BLOB_BYTES];
        staticnn::io::int8_to_bytes(&staticnn_digits::TRAINED_INT8, &mut compiled)?;
        let same = compiled == blob
            && staticnn_digits::INPUT_I8 == table
            && (0..TESTS).all(|i| {
                staticnn_digits::forward_int8(&staticnn_digits::TRAINED_INT8, &pixels[i])
                    == staticnn::SMatrix::<i8, CLASSES, 1>::from(outputs[i].1)
                    && staticnn_digits::classify_int8(&staticnn_digits::TRAINED_INT8, &pixels[i])
                        == outputs[i].0
            });
        if !same {
            eprintln!(
                "staticnn-digits was compiled with another int8 network: run the exporter again"
            );
            return Ok(false);
        }
    }
    Ok(ok)
}

/// The source of `TRAINED_INT8`, the input table and the host int8 twin's results.
fn render_int8(
    table: &[[i8; 17]; FEATURES],
    outputs: &[(usize, [i8; CLASSES])],
    correct: usize,
    total: usize,
    bytes: usize,
) -> String {
    let mut s = String::from(HEADER);
    write!(
        s,
        "
use crate::{{CLASSES, DeployedInt8, FEATURES, TESTS}};

/// [`crate::TRAINED`] quantised to int8 on the host (`DigitCnnFolded::<f32>::quantize`,
/// calibrated on the first {CALIBRATION} training images of the example's split), read at
/// compile time from the blob `trained.i8.snnb` ({bytes} bytes, written by
/// `staticnn::io::int8_to_bytes`) by `staticnn::int8_network_from_blob!`, which checks it
/// against `DeployedInt8` when this is compiled.
pub const TRAINED_INT8: DeployedInt8 =
    staticnn::int8_network_from_blob!(DeployedInt8, include_bytes!(\"trained.i8.snnb\"));

/// Test images of the example's split (of `HOST_TEST_TOTAL`) that the host's int8 twin
/// classifies correctly ({pct:.2} %).
pub const HOST_TEST_CORRECT_I8: usize = {correct};

/// The int8 input for each pixel and raw value `0..=16`: the value divided by 16,
/// standardised by [`crate::NORM`] and quantised with [`TRAINED_INT8`]'s input parameters,
/// as `quantize_input(image(pixels))` computes it on the host.
pub static INPUT_I8: [[i8; 17]; FEATURES] = [
",
        pct = 100.0 * correct as f64 / total as f64,
    )
    .unwrap();
    for row in table {
        writeln!(s, "    [{}],", list(row.iter())).unwrap();
    }
    s.push_str("];\n");
    writeln!(
        s,
        "\n/// The class the host's int8 twin predicts for each shipped digit.\npub static HOST_CLASSES_I8: [u8; TESTS] = [{}];",
        list(outputs.iter().map(|r| r.0))
    )
    .unwrap();
    s.push_str(
        "\n/// The host int8 twin's ten outputs for each shipped digit.\npub static HOST_OUTPUTS_I8: [[i8; CLASSES]; TESTS] = [\n",
    );
    for (_, y) in outputs {
        writeln!(s, "    [{}],", list(y.iter())).unwrap();
    }
    s.push_str("];\n");
    s
}

/// Trains [`DigitCnn`] as `examples/digits_cnn.rs` does and returns its inference form.
fn train(
    raw: &digits::Digits,
    norm: &Standardise<f32, FEATURES>,
) -> Result<Deployed, Box<dyn Error>> {
    let mut train_x = raw.train_x.clone();
    norm.apply_all(&mut train_x);
    let all = Dataset::new(&train_x, &raw.train_y)?;
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut rows = vec![0usize; raw.train_y.len()];
    let split = split_stratified::<CLASSES>(
        &raw.train_y,
        &mut rows,
        Ratio {
            train: 6,
            validation: 1,
            test: 0,
        },
        &mut rng,
    )?;
    let (train, val) = (all.select(split.train)?, all.select(split.validation)?);
    // What `DigitCnn::new_boxed` does (the same draws), without the library's `alloc`.
    let mut net = zeroed_box::<DigitCnn<f32>>();
    net.init(&mut rng);
    // What `Workspace::boxed` does, without the library's `alloc`.
    let mut work = zeroed_box::<
        Workspace<DigitCnn<f32>, DigitCnnTape<f32, BATCH>, staticnn_digits::DigitCnnParams<f32>>,
    >();
    work.best = *net;
    let mut adam = Adam::new(LR as f32);
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop)?;
    let mut epochs = 0;
    let count = |stats: &EpochStats| epochs = stats.epoch;
    Fit::new(EPOCHS)
        // The optimiser's rate in full: the cosine schedule computes from it.
        .learning_rate(LR)
        .schedule(CosineAnnealing {
            t_max: EPOCHS as u32,
            eta_min: 0.0,
        })
        .early_stopping(EarlyStopping::new(PATIENCE))
        .augment(RandomTranslate::<1, 8, 8>::new(1, 1))
        .callback(each_epoch(count))
        .run(&mut *net, &mut adam, &mut loader, val, &mut *work, &mut rng)?;
    println!("trained for {epochs} epochs");
    Ok(net.to_inference())
}

/// A zeroed `T` on the heap, never on the stack (a tape of 32 images is megabytes).
fn zeroed_box<T: bytemuck::Zeroable>() -> Box<T> {
    // SAFETY: `T: Zeroable`: all-zero bytes are a valid `T`.
    unsafe { Box::<T>::new_zeroed().assume_init() }
}

/// Compares the file `file` of `digits/src/` with `text`; writes it unless `check`. False
/// when the check failed or the file could not be written.
fn sync(file: &str, text: &[u8], check: bool) -> bool {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../digits/src")
        .join(file);
    let old = std::fs::read(&path).unwrap_or_default();
    let name = format!("embedded/digits/src/{file}");
    if old == text {
        println!("{name}: up to date");
        return true;
    }
    if check {
        eprintln!(
            "{name} is out of date: run `cargo run -p staticnn-digits-export --release` in embedded/"
        );
        return false;
    }
    match std::fs::write(&path, text) {
        Ok(()) => {
            println!("{name}: written");
            true
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            false
        }
    }
}

const HEADER: &str = "// @generated by `cargo run -p staticnn-digits-export --release` in embedded/ \
(embedded/digits-export/src/main.rs).\n// Do not edit: change the exporter or the model and run it again; \
`-- --check` verifies this file.\n";

fn list<V: std::fmt::Debug>(values: impl IntoIterator<Item = V>) -> String {
    values
        .into_iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A matrix with `rows` rows from its column-major values, as a `const` expression.
fn matrix(values: &[f32], rows: usize, indent: &str) -> String {
    let mut s = String::from("SMatrix::from_array_storage(ArrayStorage([\n");
    for column in values.chunks_exact(rows) {
        writeln!(s, "{indent}    [{}],", list(column.iter().copied())).unwrap();
    }
    write!(s, "{indent}]))").unwrap();
    s
}

fn render_trained(net: &Deployed, correct: usize, total: usize) -> String {
    assert_eq!(
        Deployed::STATE_BYTES,
        0,
        "the exporter writes stateless networks"
    );
    let count = Deployed::PARAMS;
    let flat = &staticnn::block::as_slice::<f32, _>(&net.params)[..count];
    let mut rest = flat;
    let mut params = String::new();
    let mut state = String::new();
    let mut weight_shapes = Vec::new();
    for layer in <Deployed as Network<f32, FEATURES, CLASSES>>::LAYERS {
        let name = layer.name;
        write!(state, "{name}: (), ").unwrap();
        let segments = layer.segments.len();
        match (layer.kind, layer.params) {
            ("Linear", _) => {
                let (o, i) = (layer.outputs, layer.inputs);
                let (w, r) = rest.split_at(o * i);
                let (b, r) = r.split_at(o);
                rest = r;
                writeln!(
                    params,
                    "        {name}: LinearParams {{\n            weight: {},\n            bias: {},\n        }},",
                    matrix(w, o, "            "),
                    matrix(b, o, "            "),
                )
                .unwrap();
                weight_shapes.push(format!("{name} {o} × {i} + {o}"));
            }
            ("Conv2d", n) => {
                // Weights `KK × CO` (one output channel a column) and `CO` biases.
                let co = layer.out_shape[0];
                assert_eq!(segments, 2, "{name}: a folded convolution has a bias");
                let kk = (n - co) / co;
                let (w, r) = rest.split_at(kk * co);
                let (b, r) = r.split_at(co);
                rest = r;
                writeln!(
                    params,
                    "        {name}: ConvParams {{\n            weight: {},\n            bias: {},\n        }},",
                    matrix(w, kk, "            "),
                    matrix(b, co, "            "),
                )
                .unwrap();
                weight_shapes.push(format!("{name} {co} × {kk} + {co}"));
            }
            (_, 0) => writeln!(params, "        {name}: (),").unwrap(),
            (kind, _) => panic!("the exporter does not write {kind} layers"),
        }
    }
    assert!(rest.is_empty());
    let mut s = String::from(HEADER);
    write!(
        s,
        "
use staticnn::SMatrix;
use staticnn::layers::{{ConvParams, LinearParams}};
use staticnn::nalgebra::ArrayStorage;

use crate::{{DigitCnnInference, DigitCnnInferenceParams, DigitCnnInferenceState}};

/// Test images of the example's split (of [`HOST_TEST_TOTAL`]) that the host classifies
/// correctly with [`TRAINED`] ({pct:.2} %).
pub const HOST_TEST_CORRECT: usize = {correct};
/// Test images of the example's split.
pub const HOST_TEST_TOTAL: usize = {total};

/// The digits CNN trained on the host with the recipe of `examples/digits_cnn.rs`, in its
/// inference form (batch norms folded into the convolutions, dropout removed): {count}
/// parameters ({shapes}), written out exactly. As a `const` it costs nothing until used;
/// a `static` initialised from it is placed in read-only memory.
pub const TRAINED: DigitCnnInference<f32> = DigitCnnInference {{
    params: DigitCnnInferenceParams {{
{params}        ..DigitCnnInferenceParams::zeroed()
    }},
    state: DigitCnnInferenceState {{ {state}..DigitCnnInferenceState::zeroed() }},
}};
",
        pct = 100.0 * correct as f64 / total as f64,
        shapes = weight_shapes.join(", "),
    )
    .unwrap();
    s
}

fn render_data(
    norm: &Standardise<f32, FEATURES>,
    pixels: &[[u8; FEATURES]],
    labels: &[usize],
    rows: &[(usize, [u32; CLASSES])],
) -> String {
    let mut s = String::from(HEADER);
    s.push_str(
        "\nuse staticnn::data::Standardise;\n\nuse crate::{CLASSES, FEATURES, TESTS, norm};\n",
    );
    writeln!(
        s,
        "\n/// The per-pixel standardisation fitted on the training images of the example's split\n\
         /// (mean, then standard deviation, of each pixel divided by 16).\n\
         pub static NORM: Standardise<f32, FEATURES> = norm(\n    [{}],\n    [{}],\n);",
        list(norm.mean),
        list(norm.std)
    )
    .unwrap();
    s.push_str(
        "\n/// The shipped test digits, raw pixels in `0..=16`, row by row: the first image of\n\
         /// each class of the example's test split, in class order, then the first ones\n\
         /// [`crate::TRAINED`] misclassifies.\npub static PIXELS: [[u8; FEATURES]; TESTS] = [\n",
    );
    for p in pixels {
        writeln!(s, "    [{}],", list(p.iter())).unwrap();
    }
    s.push_str("];\n");
    writeln!(
        s,
        "\n/// The true class of each shipped digit.\npub static LABELS: [u8; TESTS] = [{}];",
        list(labels.iter())
    )
    .unwrap();
    writeln!(
        s,
        "\n/// The class the host predicts for each shipped digit with [`crate::TRAINED`].\npub static HOST_CLASSES: [u8; TESTS] = [{}];",
        list(rows.iter().map(|r| r.0))
    )
    .unwrap();
    s.push_str(
        "\n/// The bits of the host's ten outputs for each shipped digit.\npub static HOST_LOGITS: [[u32; CLASSES]; TESTS] = [\n",
    );
    for (_, bits) in rows {
        let hex: Vec<String> = bits.iter().map(|b| format!("{b:#010x}")).collect();
        writeln!(s, "    [{}],", hex.join(", ")).unwrap();
    }
    s.push_str("];\n");
    s
}
