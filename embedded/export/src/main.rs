//! Writes the generated files of `staticnn-sine`:
//!
//! * `sine/src/data.rs`: the training set (`sin x` at [`SAMPLES`] points of `[−π, π]`,
//!   interleaved into [`BATCHES`] mini-batches) and the test points, computed in `f64` with
//!   `libm` (the same on every host) and rounded to `f32`;
//! * `sine/src/trained.snnb` and `sine/src/trained.rs`: the network that
//!   [`staticnn_sine::train`] produces, run here on the host with the very code the training
//!   firmware runs, as a staticnn blob (`staticnn::io::to_bytes`), and the source that makes
//!   it a `const` (`staticnn::network_from_blob!`, checked against the architecture when
//!   the firmware is compiled), with the epochs, loss and worst test error the host saw;
//! * `sine/src/trained.i8.snnb` and `sine/src/int8.rs`: that network quantised to int8
//!   (calibrated on the training inputs) as an int8 blob (`staticnn::io::int8_to_bytes`),
//!   the source that makes it a `const` (`staticnn::int8_network_from_blob!`), and the test
//!   points and the host's int8 outputs for them.
//!
//! `cargo run -p staticnn-sine-export --release` (from `embedded/`) writes the files; with
//! `-- --check` it only compares and exits with status 1 when a file is out of date, or when
//! the `TRAINED` compiled into `staticnn-sine` is not the network trained here, bit for bit.
//! The training uses the data compiled into `staticnn-sine`, so after the data changes the
//! program asks to be run once more.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn_sine::{
    BATCH, BATCHES, SAMPLES, Sine, Start, TEST_X, TEST_Y, TESTS, TOLERANCE, TRAINED, Tape, Trained,
    X, Y, train_from, worst_error,
};

/// The first and last test point.
const TEST_RANGE: (f64, f64) = (-3.0, 3.0);

fn main() -> ExitCode {
    let check = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            eprintln!("usage: staticnn-sine-export [--check]");
            return ExitCode::from(2);
        }
    };

    // The data set, and whether the library was compiled with it.
    let (x, y, tx, ty) = data();
    let data_rs = render_data(&x, &y, &tx, &ty);
    let compiled = bits(X.iter().flat_map(|m| m.iter().copied()))
        == bits(x.iter().flatten().copied())
        && bits(Y.iter().flat_map(|m| m.iter().copied())) == bits(y.iter().flatten().copied())
        && bits(TEST_X.iter().copied()) == bits(tx.iter().copied())
        && bits(TEST_Y.iter().copied()) == bits(ty.iter().copied());
    if !sync("data.rs", data_rs.as_bytes(), check) {
        return ExitCode::FAILURE;
    }
    if !compiled {
        eprintln!(
            "staticnn-sine was compiled with other data: run the exporter again to train on the new data"
        );
        return ExitCode::FAILURE;
    }

    // Train exactly as the firmware does; `train` initialises the network from its own seed,
    // so any starting value will do.
    let mut net = Sine::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    let mut grads = Sine::<f32>::gradients();
    let mut tape: Tape = Sine::<f32>::tape::<BATCH>();
    let mut runs = Vec::new();
    for start in [Start::Native, Start::Rounded] {
        match train_from(start, &mut net, &mut grads, &mut tape) {
            Ok(t) => {
                println!(
                    "trained on the host from {start:?}: loss {} after {} epochs",
                    t.loss, t.epochs
                );
                runs.push(t);
            }
            Err(e) => {
                eprintln!("training from {start:?} failed: {e:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    // The network trained from the library's default initialisation is the one exported.
    let worst = worst_error(&net);
    println!("{}", net.summary());
    println!("worst test error {worst} (tolerance {TOLERANCE})");
    if worst.is_nan() || worst >= TOLERANCE {
        eprintln!("the trained network misses the tolerance of the inference check");
        return ExitCode::FAILURE;
    }
    let mut blob = vec![0u8; Sine::<f32>::BLOB_BYTES];
    staticnn::io::to_bytes(&net, &mut blob).expect("the buffer is BLOB_BYTES long");
    let trained_rs = render_trained(runs[1], runs[0], worst);
    if !sync("trained.snnb", &blob, check) || !sync("trained.rs", trained_rs.as_bytes(), check) {
        return ExitCode::FAILURE;
    }
    // The `const` the firmware flashes, read from the blob at compile time, is this network.
    let mut compiled = vec![0u8; Sine::<f32>::BLOB_BYTES];
    staticnn::io::to_bytes(&TRAINED, &mut compiled).expect("the buffer is BLOB_BYTES long");
    if compiled != blob {
        eprintln!(
            "staticnn-sine was compiled with another trained network: run the exporter again"
        );
        return ExitCode::FAILURE;
    }
    if !export_int8(&net, check) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Quantises `net` to int8 with the training inputs as calibration data, writes its blob
/// (`trained.i8.snnb`) and `int8.rs` (the `const` read from it, the test points in int8
/// and what the host's int8 network computes for them), and checks that the compiled
/// `TRAINED_INT8` is this network. False when a check failed.
fn export_int8(net: &Sine<f32>, check: bool) -> bool {
    use staticnn::data::Dataset;
    use staticnn_sine::{SineInt8, TRAINED_INT8};

    let calibration: Vec<[f32; 1]> = X.iter().flat_map(|m| m.iter().map(|&v| [v])).collect();
    let labels = vec![(); calibration.len()];
    let q = match net.quantize(Dataset::new(&calibration, &labels).expect("equal lengths")) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("quantising the sine network failed: {e}");
            return false;
        }
    };
    let (input, output) = (q.input, q.output_params());
    let tx = TEST_X.map(|v| input.quantize(v));
    let ty = TEST_Y.map(|v| output.quantize(v));
    let hy = tx.map(|x| q.forward_int8(&staticnn::SMatrix::<i8, 1, 1>::new(x))[0]);
    // The tolerance in output steps: the whole steps within `TOLERANCE`.
    let tolerance = (TOLERANCE / output.scale) as i32;
    let worst_steps = hy
        .iter()
        .zip(&ty)
        .map(|(&y, &t)| (i32::from(y) - i32::from(t)).abs())
        .max()
        .unwrap_or(0);
    let worst = TEST_X
        .iter()
        .zip(&TEST_Y)
        .map(|(&x, &t)| (q.forward(&staticnn::SMatrix::<f32, 1, 1>::new(x))[0] - t).abs())
        .fold(0f32, f32::max);
    println!(
        "int8: worst |net(x) - sin x| {worst} ({worst_steps} of {tolerance} allowed output steps of {})",
        output.scale
    );
    if worst_steps > tolerance || worst >= TOLERANCE {
        eprintln!("the int8 network misses the tolerance of the inference check");
        return false;
    }
    let mut blob = vec![0u8; SineInt8::BLOB_BYTES];
    staticnn::io::int8_to_bytes(&q, &mut blob).expect("the buffer is BLOB_BYTES long");
    let int8_rs = render_int8(&tx, &ty, &hy, tolerance, worst, blob.len());
    if !sync("trained.i8.snnb", &blob, check) || !sync("int8.rs", int8_rs.as_bytes(), check) {
        return false;
    }
    let mut compiled = vec![0u8; SineInt8::BLOB_BYTES];
    staticnn::io::int8_to_bytes(&TRAINED_INT8, &mut compiled).expect("BLOB_BYTES long");
    if compiled != blob {
        eprintln!("staticnn-sine was compiled with another int8 network: run the exporter again");
        return false;
    }
    true
}

/// The source of `TRAINED_INT8` and the int8 test data.
fn render_int8(
    tx: &[i8],
    ty: &[i8],
    hy: &[i8],
    tolerance: i32,
    worst: f32,
    bytes: usize,
) -> String {
    let ints = |v: &[i8]| v.iter().map(i8::to_string).collect::<Vec<_>>().join(", ");
    let mut s = String::from(HEADER);
    write!(
        s,
        "
use crate::{{SineInt8, TESTS}};

/// [`crate::TRAINED`] quantised to int8 on the host (`Sine::<f32>::quantize`, calibrated on
/// the 32 training inputs), read at compile time from the blob `trained.i8.snnb` ({bytes}
/// bytes, written by `staticnn::io::int8_to_bytes`) by `staticnn::int8_network_from_blob!`,
/// which checks it against `SineInt8` when this is compiled.
pub const TRAINED_INT8: SineInt8 =
    staticnn::int8_network_from_blob!(SineInt8, include_bytes!(\"trained.i8.snnb\"));

/// The test inputs quantised with [`TRAINED_INT8`]'s input parameters.
pub static TEST_X_I8: [i8; TESTS] = [{tx}];
/// `sin x` at the test points quantised with [`TRAINED_INT8`]'s output parameters.
pub static TEST_Y_I8: [i8; TESTS] = [{ty}];
/// The host's int8 outputs for [`TEST_X_I8`]: the device must give these, bit for bit.
pub static HOST_Y_I8: [i8; TESTS] = [{hy}];
/// `TOLERANCE` in whole output steps: the largest `|y - TEST_Y_I8|` the check accepts.
pub const TOLERANCE_I8: i32 = {tolerance};
/// The largest error of [`TRAINED_INT8`] on the test points, dequantised on the host
/// ({worst:?}).
pub const HOST_WORST_ERROR_INT8: f32 = f32::from_bits({worst_bits:#010x});
",
        tx = ints(tx),
        ty = ints(ty),
        hy = ints(hy),
        worst_bits = worst.to_bits(),
    )
    .unwrap();
    s
}

/// Compares the file `file` of `sine/src/` with `text`; writes it unless `check`. False when
/// the check failed or the file could not be written.
fn sync(file: &str, text: &[u8], check: bool) -> bool {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sine/src")
        .join(file);
    let old = std::fs::read(&path).unwrap_or_default();
    let name = format!("embedded/sine/src/{file}");
    if old == text {
        println!("{name}: up to date");
        return true;
    }
    if check {
        eprintln!(
            "{name} is out of date: run `cargo run -p staticnn-sine-export --release` in embedded/"
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

fn bits(values: impl Iterator<Item = f32>) -> Vec<u32> {
    values.map(f32::to_bits).collect()
}

type Batches = [[f32; BATCH]; BATCHES];

/// Sample `i` of `SAMPLES` at `−π + 2π (i + ½) / SAMPLES` goes to batch `i % BATCHES`, so that
/// every batch spans the whole interval. Targets are the sine of the rounded `x`.
fn data() -> (Batches, Batches, [f32; TESTS], [f32; TESTS]) {
    use std::f64::consts::PI;
    let mut x = [[0.0; BATCH]; BATCHES];
    let mut y = [[0.0; BATCH]; BATCHES];
    for i in 0..SAMPLES {
        let xi = (-PI + 2.0 * PI * (i as f64 + 0.5) / SAMPLES as f64) as f32;
        x[i % BATCHES][i / BATCHES] = xi;
        y[i % BATCHES][i / BATCHES] = libm::sin(f64::from(xi)) as f32;
    }
    let (lo, hi) = TEST_RANGE;
    let tx: [f32; TESTS] =
        std::array::from_fn(|k| (lo + (hi - lo) * k as f64 / (TESTS - 1) as f64) as f32);
    let ty = tx.map(|v| libm::sin(f64::from(v)) as f32);
    (x, y, tx, ty)
}

const HEADER: &str = "// @generated by `cargo run -p staticnn-sine-export --release` in embedded/ \
(embedded/export/src/main.rs).\n// Do not edit: change the exporter or the model and run it again; \
`-- --check` verifies this file.\n";

fn list(values: impl IntoIterator<Item = f32>) -> String {
    values
        .into_iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_data(x: &Batches, y: &Batches, tx: &[f32], ty: &[f32]) -> String {
    let mut s = String::from(HEADER);
    s.push_str("\nuse staticnn::SMatrix;\n\nuse crate::{BATCH, BATCHES, TESTS, row};\n");
    for (name, doc, batches) in [
        ("X", "Inputs of the training set, one mini-batch a row.", x),
        ("Y", "Targets of the training set: `sin x`.", y),
    ] {
        writeln!(
            s,
            "\n/// {doc}\npub static {name}: [SMatrix<f32, 1, BATCH>; BATCHES] = ["
        )
        .unwrap();
        for b in batches {
            writeln!(s, "    row([{}]),", list(b.iter().copied())).unwrap();
        }
        s.push_str("];\n");
    }
    writeln!(
        s,
        "\n/// Inputs of the inference check.\npub static TEST_X: [f32; TESTS] = [{}];",
        list(tx.iter().copied())
    )
    .unwrap();
    writeln!(
        s,
        "\n/// Expected outputs of the inference check: `sin x`.\npub static TEST_Y: [f32; TESTS] = [{}];",
        list(ty.iter().copied())
    )
    .unwrap();
    s
}

/// The source of `TRAINED`: no code per layer, the blob beside it read in `const`
/// evaluation by `network_from_blob!`.
fn render_trained(host: Trained, host_f32: Trained, worst: f32) -> String {
    let mut s = String::from(HEADER);
    write!(
        s,
        "
use crate::{{Sine, Trained}};

/// How training from the library's default initialisation (`f64`, rounded) ended on the
/// host (loss {loss:?}).
pub const HOST: Trained = Trained {{ epochs: {epochs}, loss: f32::from_bits({loss_bits:#010x}) }};
/// How training from the library's `f32` initialisation (`init_with(Native, …)`) ended on
/// the host (loss {loss_f32:?}).
pub const HOST_NATIVE: Trained = Trained {{ epochs: {epochs_f32}, loss: f32::from_bits({loss_f32_bits:#010x}) }};
/// The largest error of [`TRAINED`] on the test points ({worst:?}).
pub const HOST_WORST_ERROR: f32 = f32::from_bits({worst_bits:#010x});

/// The sine network trained on the host from the library's default initialisation: {count}
/// parameters, read at compile time from the blob `trained.snnb` (written by
/// `staticnn::io::to_bytes`), whose checksums, scalar width and architecture fingerprint are
/// checked against `Sine<f32>` when this is compiled. As a `const` it costs nothing until
/// used; a `static` initialised from it is placed in read-only memory.
pub const TRAINED: Sine<f32> =
    staticnn::network_from_blob!(Sine<f32>, include_bytes!(\"trained.snnb\"));
",
        epochs = host.epochs,
        loss = host.loss,
        loss_bits = host.loss.to_bits(),
        epochs_f32 = host_f32.epochs,
        loss_f32 = host_f32.loss,
        loss_f32_bits = host_f32.loss.to_bits(),
        worst_bits = worst.to_bits(),
        count = Sine::<f32>::PARAMS,
    )
    .unwrap();
    s
}
