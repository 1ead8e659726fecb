//! staticnn's int8 networks against TensorFlow Lite's int8 reference kernels
//! (`OpResolverType.BUILTIN_REF`), on the fixtures that `scripts/make_int8_fixtures.py`
//! wrote into `tests/fixtures/int8/` (format: `tests/fixtures/int8/README.md`).
//!
//! Each fixture's quantisation parameters (the converter's scales and zero points, int8
//! weights, int32 biases) are loaded into the generated `NameInt8`, and every input must
//! give the interpreter's output exactly (0 LSB). Separately, staticnn quantises the same
//! float weights with the same calibration samples itself, and its choices are compared with
//! the converter's.

use staticnn::data::Dataset;
use staticnn::nalgebra::SVector;
use staticnn::prelude::*;
use staticnn::quant::{Fused, QLinear, QParams, QSoftmax, QTable, QuantError};
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

network! {
    /// `mlp_relu`: two ReLU layers (fused), linear output.
    struct MlpRelu { input: 8, fc1: Linear(16), act1: ReLU, fc2: Linear(12), act2: ReLU, fc3: Linear(4) }
}
network! {
    /// `mlp_tanh_sigmoid`: tanh and sigmoid tables between linear layers.
    struct MlpTanhSigmoid { input: 6, fc1: Linear(10), act1: Tanh, fc2: Linear(8), act2: Sigmoid, fc3: Linear(3) }
}
network! {
    /// `mlp_sigmoid_out`: ReLU, tanh, and a sigmoid output.
    struct MlpSigmoidOut { input: 5, fc1: Linear(9), act1: ReLU, fc2: Linear(7), act2: Tanh, fc3: Linear(2), act3: Sigmoid }
}

network! {
    /// `mlp_normalized`: a `Normalize` first, which the int8 twin folds into `fc1` as
    /// `to_inference()` does.
    struct MlpNormalized {
        input: 8,
        norm: Normalize,
        fc1: Linear(12),
        act1: ReLU,
        fc2: Linear(6),
        act2: Tanh,
        fc3: Linear(3),
    }
}

network! {
    /// `mlp_leaky`: LeakyReLU after two layers (TensorFlow Lite's `LEAKY_RELU`).
    struct MlpLeaky {
        input: 6,
        fc1: Linear(10),
        act1: LeakyReLU(slope = 0.2),
        fc2: Linear(8),
        act2: LeakyReLU(slope = 0.2),
        fc3: Linear(3),
    }
}

network! {
    /// `mlp_softmax`: two layers and a softmax (TensorFlow Lite's int8 `SOFTMAX`).
    struct MlpSoftmax { input: 6, fc1: Linear(12), act1: ReLU, fc2: Linear(5), sm: Softmax }
}

network! {
    /// `mlp_wide`: digits-sized input (48), 64 ReLU, 32 tanh, 10 outputs.
    struct MlpWide { input: 48, fc1: Linear(64), act1: ReLU, fc2: Linear(32), act2: Tanh, fc3: Linear(10) }
}

/// One fully connected layer of a fixture.
struct Dense {
    inputs: usize,
    outputs: usize,
    relu: bool,
    weight: Vec<f32>, // [out][in]
    bias: Vec<f32>,
    weight_scales: Vec<f32>,
    weight_q: Vec<i8>,
    bias_q: Vec<i32>,
    output: QParams,
    /// The output's range in TFLite's float kernels over the calibration samples.
    float_range: (f32, f32),
}

enum Op {
    Dense(Dense),
    Tanh(QParams),
    Sigmoid(QParams),
    /// `LEAKY_RELU` with its slope, and its output.
    Leaky(f32, QParams),
    /// `SOFTMAX`, and its output.
    Softmax(QParams),
}

struct Fixture {
    name: String,
    /// `mlp_normalized`'s extra lines by key: μ, σ, the first layer's unfolded weights and
    /// biases.
    extra: std::collections::HashMap<String, Vec<f32>>,
    input: QParams,
    ops: Vec<Op>,
    calibration: Vec<f32>,
    cases: Vec<(Vec<i8>, Vec<i8>)>,
}

fn hexf(s: &str) -> f32 {
    f32::from_bits(u32::from_str_radix(s, 16).expect("hex float"))
}

fn params(words: &[&str]) -> QParams {
    QParams {
        scale: hexf(words[0]),
        zero_point: words[1].parse().expect("zero point"),
    }
}

fn load(name: &str) -> Fixture {
    let path = format!(
        "{}/tests/fixtures/int8/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    let mut f = Fixture {
        name: name.to_string(),
        extra: Default::default(),
        input: QParams {
            scale: 0.0,
            zero_point: 0,
        },
        ops: Vec::new(),
        calibration: Vec::new(),
        cases: Vec::new(),
    };
    fn dense(f: &mut Fixture) -> &mut Dense {
        match f.ops.last_mut() {
            Some(Op::Dense(d)) => d,
            _ => panic!("{}: a dense line outside a dense layer", f.name),
        }
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        let key = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        match key {
            "model" | "inputs" | "" => {}
            "input" => f.input = params(&rest),
            "linear" => f.ops.push(Op::Dense(Dense {
                inputs: rest[0].parse().unwrap(),
                outputs: rest[1].parse().unwrap(),
                relu: rest[2] == "relu",
                weight: Vec::new(),
                bias: Vec::new(),
                weight_scales: Vec::new(),
                weight_q: Vec::new(),
                bias_q: Vec::new(),
                output: QParams {
                    scale: 0.0,
                    zero_point: 0,
                },
                float_range: (f32::NAN, f32::NAN),
            })),
            "tanh" => f.ops.push(Op::Tanh(QParams::TANH)),
            "sigmoid" => f.ops.push(Op::Sigmoid(QParams::SIGMOID)),
            "softmax" => f.ops.push(Op::Softmax(QParams::SOFTMAX)),
            "leaky_relu" => f.ops.push(Op::Leaky(
                hexf(rest[0]),
                QParams {
                    scale: 0.0,
                    zero_point: 0,
                },
            )),
            "weight" => dense(&mut f).weight = rest.iter().map(|s| hexf(s)).collect(),
            "bias" => dense(&mut f).bias = rest.iter().map(|s| hexf(s)).collect(),
            "weight_scales" => dense(&mut f).weight_scales = rest.iter().map(|s| hexf(s)).collect(),
            "weight_zero_points" => assert!(rest.iter().all(|z| *z == "0"), "symmetric weights"),
            "weight_q" => {
                dense(&mut f).weight_q = rest.iter().map(|s| s.parse().unwrap()).collect()
            }
            "bias_scales" => {}
            "normalize_mean" | "normalize_std" | "unfolded_weight" | "unfolded_bias" => {
                f.extra
                    .insert(key.to_string(), rest.iter().map(|s| hexf(s)).collect());
            }
            "float_range" => dense(&mut f).float_range = (hexf(rest[0]), hexf(rest[1])),
            "bias_q" => dense(&mut f).bias_q = rest.iter().map(|s| s.parse().unwrap()).collect(),
            "output" => {
                let p = params(&rest);
                match f.ops.last_mut().expect("an op") {
                    Op::Dense(d) => d.output = p,
                    Op::Tanh(q) | Op::Sigmoid(q) | Op::Softmax(q) => {
                        assert_eq!(*q, p, "{name}: fixed output parameters")
                    }
                    Op::Leaky(_, q) => *q = p,
                }
            }
            "calibration" => f.calibration = rest[1..].iter().map(|s| hexf(s)).collect(),
            "case" => {
                let split = rest.iter().position(|w| *w == ";").expect("`;`");
                let ints = |w: &[&str]| w.iter().map(|s| s.parse().unwrap()).collect();
                f.cases
                    .push((ints(&rest[..split]), ints(&rest[split + 1..])));
            }
            other => panic!("{name}: unknown line `{other}`"),
        }
    }
    assert!(!f.cases.is_empty() && !f.calibration.is_empty());
    f
}

impl Fixture {
    fn dense(&self, k: usize) -> &Dense {
        self.ops
            .iter()
            .filter_map(|o| match o {
                Op::Dense(d) => Some(d),
                _ => None,
            })
            .nth(k)
            .expect("dense layer")
    }

    /// The input parameters of the `k`-th dense layer (the output of the op before it).
    fn dense_input(&self, k: usize) -> QParams {
        let mut prev = self.input;
        let mut seen = 0;
        for op in &self.ops {
            match op {
                Op::Dense(d) if seen == k => return prev,
                Op::Dense(d) => {
                    seen += 1;
                    prev = d.output;
                }
                Op::Tanh(p) | Op::Sigmoid(p) | Op::Leaky(_, p) | Op::Softmax(p) => prev = *p,
            }
        }
        unreachable!()
    }
}

/// The converter's layer, as staticnn's `QLinear`.
fn converter_linear<const I: usize, const O: usize>(f: &Fixture, k: usize) -> QLinear<I, O> {
    let d = f.dense(k);
    assert_eq!((d.inputs, d.outputs), (I, O));
    let weight = core::array::from_fn(|o| core::array::from_fn(|i| d.weight_q[o * I + i]));
    let bias = core::array::from_fn(|o| d.bias_q[o]);
    let scales = core::array::from_fn(|o| d.weight_scales[o]);
    let fused = if d.relu { Fused::Relu } else { Fused::None };
    QLinear::from_quantized(weight, bias, &scales, f.dense_input(k), d.output, fused)
}

/// Copies the fixture's float weights into a `Linear` layer's parameters.
fn set_float<const I: usize, const O: usize>(
    p: &mut staticnn::layers::LinearParams<f32, I, O>,
    d: &Dense,
) {
    p.weight = SMatrix::<f32, O, I>::from_fn(|o, i| d.weight[o * I + i]);
    p.bias = SVector::<f32, O>::from_fn(|o, _| d.bias[o]);
}

/// Runs every case through `forward` and counts the outputs that differ from TensorFlow
/// Lite's; returns (cases, outputs differing, largest difference in LSB).
fn run_cases<const IN: usize, const OUT: usize>(
    f: &Fixture,
    forward: impl Fn(&SMatrix<i8, IN, 1>) -> SMatrix<i8, OUT, 1>,
) -> (usize, usize, i32) {
    let (mut differing, mut worst) = (0, 0);
    for (x, want) in &f.cases {
        let y = forward(&SMatrix::<i8, IN, 1>::from_column_slice(x));
        for (g, w) in y.iter().zip(want) {
            let d = (i32::from(*g) - i32::from(*w)).abs();
            if d > 0 {
                differing += 1;
                worst = worst.max(d);
            }
        }
    }
    (f.cases.len(), differing, worst)
}

/// Whether two scales are within 4 ulp of each other.
fn close(a: f32, b: f32) -> bool {
    (a.to_bits() as i64 - b.to_bits() as i64).abs() <= 4
}

/// Compares staticnn's own quantisation of a dense layer with the converter's: the int8
/// weights, the biases and the zero points must be the same, the scales within 4 ulp
/// (the hidden layers' ranges come from each side's own float forward pass, whose sums may
/// round differently). Returns the differences found, for the report.
fn compare_linear<const I: usize, const O: usize>(
    f: &Fixture,
    k: usize,
    ours: &QLinear<I, O>,
    ours_in: QParams,
) -> Vec<String> {
    let d = f.dense(k);
    let theirs = converter_linear::<I, O>(f, k);
    let mut out = Vec::new();
    for (what, a, b) in [
        ("input", ours_in, f.dense_input(k)),
        ("output", ours.output, d.output),
    ] {
        assert_eq!(
            a.zero_point, b.zero_point,
            "{}: dense {k} {what} zero point",
            f.name
        );
        assert!(
            close(a.scale, b.scale),
            "{}: dense {k} {what}: {a:?} vs {b:?}",
            f.name
        );
        if a != b {
            let ulp = a.scale.to_bits() as i64 - b.scale.to_bits() as i64;
            out.push(format!(
                "dense {k} {what} scale: {} vs converter {} ({ulp:+} ulp)",
                a.scale, b.scale
            ));
        }
    }
    assert_eq!(
        ours.weight, theirs.weight,
        "{}: dense {k} int8 weights",
        f.name
    );
    assert_eq!(ours.bias, theirs.bias, "{}: dense {k} int32 biases", f.name);
    out
}

fn report(f: &Fixture, cases: (usize, usize, i32), ours: (usize, usize, i32), diffs: &[String]) {
    eprintln!(
        "{}: {} cases; converter's parameters: {} outputs differ (max {} LSB); staticnn's own calibration: {} differ (max {} LSB)",
        f.name, cases.0, cases.1, cases.2, ours.1, ours.2
    );
    for d in diffs {
        eprintln!("  {d}");
    }
}

/// staticnn's own quantisation of a float network (`quantize`) with the fixture's
/// calibration samples.
fn own<const IN: usize, Q>(
    f: &Fixture,
    quantize: impl FnOnce(Dataset<'_, f32, IN, ()>) -> Result<Q, QuantError>,
) -> Q {
    let labels = vec![(); f.calibration.len() / IN];
    quantize(Dataset::from_flat(&f.calibration, &labels).unwrap()).unwrap()
}

/// What every fixture's test ends with: both integer networks on every case (`exact` with
/// the converter's parameters, `ours` with staticnn's own), the report, and the verdicts:
/// 0 LSB with the converter's parameters, at most 1 with staticnn's own calibration.
fn check_fixture<const IN: usize, const OUT: usize>(
    f: &Fixture,
    exact: impl Fn(&SMatrix<i8, IN, 1>) -> SMatrix<i8, OUT, 1>,
    ours: impl Fn(&SMatrix<i8, IN, 1>) -> SMatrix<i8, OUT, 1>,
    diffs: &[String],
) {
    let (exact, own) = (run_cases(f, exact), run_cases(f, ours));
    report(f, exact, own, diffs);
    assert_eq!(exact.1, 0, "outputs differing from TensorFlow Lite");
    assert!(own.2 <= 1, "staticnn's own calibration: {} LSB", own.2);
}

/// The end of the test of a fixture whose model is three dense layers `fc1`, `fc2`, `fc3`
/// (with activations between them): the float network `$float` (input width `$in`) with the
/// fixture's float weights, staticnn's own quantisation of it on the fixture's calibration
/// samples, its weights and biases against the converter's (`fc2` reads `$before2`'s output,
/// `fc3` `$before3`'s), then [`check_fixture`] with `$net`, the twin holding the
/// converter's parameters.
macro_rules! three_dense_layers {
    ($f:ident, $net:ident, $float:ident, $in:literal, $before2:ident, $before3:ident) => {{
        let mut float = $float::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
        set_float(&mut float.params.fc1, $f.dense(0));
        set_float(&mut float.params.fc2, $f.dense(1));
        set_float(&mut float.params.fc3, $f.dense(2));
        let ours = own::<$in, _>(&$f, |d| float.quantize(d));
        let diffs = [
            compare_linear(&$f, 0, &ours.fc1, ours.input),
            compare_linear(&$f, 1, &ours.fc2, ours.$before2.output),
            compare_linear(&$f, 2, &ours.fc3, ours.$before3.output),
        ]
        .concat();
        check_fixture(
            &$f,
            |x| $net.forward_int8(x),
            |x| ours.forward_int8(x),
            &diffs,
        );
    }};
}

#[test]
fn mlp_relu_is_bit_exact_with_tflite() {
    let f = load("mlp_relu");
    let net = MlpReluInt8 {
        input: f.input,
        fc1: converter_linear(&f, 0),
        fc2: converter_linear(&f, 1),
        fc3: converter_linear(&f, 2),
    };
    three_dense_layers!(f, net, MlpRelu, 8, fc1, fc2);
}

#[test]
fn mlp_tanh_sigmoid_is_bit_exact_with_tflite() {
    let f = load("mlp_tanh_sigmoid");
    let fc1 = converter_linear::<6, 10>(&f, 0);
    let act1 = QTable::tanh(fc1.output);
    let fc2 = converter_linear::<10, 8>(&f, 1);
    let act2 = QTable::sigmoid(fc2.output);
    let fc3 = converter_linear::<8, 3>(&f, 2);
    let net = MlpTanhSigmoidInt8 {
        input: f.input,
        fc1,
        act1,
        fc2,
        act2,
        fc3,
    };
    three_dense_layers!(f, net, MlpTanhSigmoid, 6, act1, act2);
}

#[test]
fn mlp_sigmoid_out_is_bit_exact_with_tflite() {
    let f = load("mlp_sigmoid_out");
    let fc1 = converter_linear::<5, 9>(&f, 0);
    let fc2 = converter_linear::<9, 7>(&f, 1);
    let act2 = QTable::tanh(fc2.output);
    let fc3 = converter_linear::<7, 2>(&f, 2);
    let act3 = QTable::sigmoid(fc3.output);
    let net = MlpSigmoidOutInt8 {
        input: f.input,
        fc1,
        fc2,
        act2,
        fc3,
        act3,
    };
    three_dense_layers!(f, net, MlpSigmoidOut, 5, fc1, act2);
}

#[test]
fn mlp_wide_is_bit_exact_with_tflite() {
    let f = load("mlp_wide");
    let fc1 = converter_linear::<48, 64>(&f, 0);
    let fc2 = converter_linear::<64, 32>(&f, 1);
    let act2 = QTable::tanh(fc2.output);
    let fc3 = converter_linear::<32, 10>(&f, 2);
    let net = MlpWideInt8 {
        input: f.input,
        fc1,
        fc2,
        act2,
        fc3,
    };
    three_dense_layers!(f, net, MlpWide, 48, fc1, act2);
}

/// `LeakyReLU` as a table of TensorFlow Lite's int8 `LEAKY_RELU` kernel (two multipliers,
/// `s_in / s_out` and `s_in · α / s_out`), with the converter's output parameters.
#[test]
fn mlp_leaky_is_bit_exact_with_tflite() {
    let f = load("mlp_leaky");
    let leaky: Vec<(f32, QParams)> = f
        .ops
        .iter()
        .filter_map(|o| match o {
            Op::Leaky(a, p) => Some((*a, *p)),
            _ => None,
        })
        .collect();
    assert_eq!(leaky.len(), 2);
    let fc1 = converter_linear::<6, 10>(&f, 0);
    let act1 = QTable::leaky_relu(fc1.output, leaky[0].1, leaky[0].0);
    let fc2 = converter_linear::<10, 8>(&f, 1);
    let act2 = QTable::leaky_relu(fc2.output, leaky[1].1, leaky[1].0);
    let fc3 = converter_linear::<8, 3>(&f, 2);
    let net = MlpLeakyInt8 {
        input: f.input,
        fc1,
        act1,
        fc2,
        act2,
        fc3,
    };
    three_dense_layers!(f, net, MlpLeaky, 6, act1, act2);
}

/// Softmax as the last layer: TensorFlow Lite's int8 `SOFTMAX` reference kernel (fixed
/// point exp, Newton–Raphson reciprocal; output scale 1/256, zero point −128), its
/// parameters from the input's scale alone.
#[test]
fn mlp_softmax_is_bit_exact_with_tflite() {
    let f = load("mlp_softmax");
    assert!(matches!(f.ops.last(), Some(Op::Softmax(_))));
    let fc1 = converter_linear::<6, 12>(&f, 0);
    let fc2 = converter_linear::<12, 5>(&f, 1);
    let sm = QSoftmax::new(fc2.output);
    let net = MlpSoftmaxInt8 {
        input: f.input,
        fc1,
        fc2,
        sm,
    };
    assert_eq!(net.output_params(), QParams::SOFTMAX);
    let mut float = MlpSoftmax::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    set_float(&mut float.params.fc1, f.dense(0));
    set_float(&mut float.params.fc2, f.dense(1));
    let ours = own::<6, _>(&f, |d| float.quantize(d));
    assert_eq!(ours.sm, QSoftmax::new(ours.fc2.output));
    let diffs = [
        compare_linear(&f, 0, &ours.fc1, ours.input),
        compare_linear(&f, 1, &ours.fc2, ours.fc1.output),
    ]
    .concat();
    // The outputs use the range: some columns put most of their mass on one class.
    assert!(f.cases.iter().any(|(_, y)| y.iter().any(|&v| v > 64)));
    check_fixture(
        &f,
        |x| net.forward_int8(x),
        |x| ours.forward_int8(x),
        &diffs,
    );
}

/// A leading `Normalize` folded into the first Linear layer: the fixture's model is the
/// folded network in Keras (its dyadic weights and statistics make the fold exact, so that
/// `to_inference()`'s folded weights are the script's bit for bit). The twin of the network
/// declared with `Normalize` has no entry for it (`fc1` reads the raw input), matches
/// TensorFlow Lite bit for bit with the converter's parameters, and staticnn's own
/// quantisation of the unfolded network chooses the converter's weights and biases.
#[test]
fn mlp_normalized_is_bit_exact_with_tflite() {
    let f = load("mlp_normalized");
    let fc1 = converter_linear::<8, 12>(&f, 0);
    let fc2 = converter_linear::<12, 6>(&f, 1);
    let act2 = QTable::tanh(fc2.output);
    let fc3 = converter_linear::<6, 3>(&f, 2);
    let net = MlpNormalizedInt8 {
        input: f.input,
        fc1,
        fc2,
        act2,
        fc3,
    };

    let mut float = MlpNormalized::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    float.state.norm.mean = SVector::from_column_slice(&f.extra["normalize_mean"]);
    float.state.norm.std = SVector::from_column_slice(&f.extra["normalize_std"]);
    let (w, b) = (&f.extra["unfolded_weight"], &f.extra["unfolded_bias"]);
    float.params.fc1.weight = SMatrix::from_fn(|o, i| w[o * 8 + i]);
    float.params.fc1.bias = SVector::from_column_slice(b);
    set_float(&mut float.params.fc2, f.dense(1));
    set_float(&mut float.params.fc3, f.dense(2));
    // The fold is the script's, exactly.
    let folded = float.to_inference();
    let d = f.dense(0);
    assert!(
        folded
            .params
            .fc1
            .weight
            .iter()
            .eq(&SMatrix::<f32, 12, 8>::from_fn(|o, i| d.weight[o * 8 + i]))
    );
    assert_eq!(folded.params.fc1.bias.as_slice(), &d.bias[..]);
    let ours = own::<8, _>(&f, |d| float.quantize(d));
    let diffs = [
        compare_linear(&f, 0, &ours.fc1, ours.input),
        compare_linear(&f, 1, &ours.fc2, ours.fc1.output),
        compare_linear(&f, 2, &ours.fc3, ours.act2.output),
    ]
    .concat();
    check_fixture(
        &f,
        |x| net.forward_int8(x),
        |x| ours.forward_int8(x),
        &diffs,
    );
}

/// staticnn's rule from a range to a scale and zero point is the converter's: the input's
/// parameters from the calibration samples' range, and every dense layer's output
/// parameters from the range TFLite's own float kernels give over them, are the
/// converter's exactly (staticnn's float forward pass may round a hidden range differently,
/// which is the only source of the ulp differences the other tests report).
#[test]
fn calibration_rules_are_the_converters() {
    let mut tensors = 0;
    for name in [
        "mlp_relu",
        "mlp_tanh_sigmoid",
        "mlp_sigmoid_out",
        "mlp_wide",
    ] {
        let f = load(name);
        let (min, max) = f
            .calibration
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        assert_eq!(
            QParams::from_min_max(min, max),
            Ok(f.input),
            "{name}: input"
        );
        tensors += 1;
        for op in &f.ops {
            if let Op::Dense(d) = op {
                let (min, max) = d.float_range;
                assert_eq!(QParams::from_min_max(min, max), Ok(d.output), "{name}");
                tensors += 1;
            }
        }
    }
    assert_eq!(tensors, 16);
}
