//! Residual blocks in int8 against TensorFlow Lite's int8 reference kernels
//! (`OpResolverType.BUILTIN_REF`), on the fixture that `scripts/make_int8_fixtures.py
//! resnet` wrote into `tests/fixtures/int8/resnet.txt`: a small ResNet-style CNN (a
//! convolution, a block with the identity as its skip path and a ReLU after the sum, fused
//! into TFLite's `ADD`, a block with a 1×1 projection and none, global average pooling and
//! a final Linear), every tensor channel-first.
//!
//! The kernels alone are checked first, op by op, on the traced cases (so that a difference
//! names its op); then the converter's parameters are loaded into the generated twin
//! `ResNetInt8` of the same network declared with `Residual(...)`, and every input must
//! give the interpreter's output exactly (0 LSB).

use std::collections::HashMap;

use staticnn::data::Dataset;
use staticnn::nalgebra::SMatrix;
use staticnn::prelude::*;
use staticnn::quant::conv::{QConv2d, QGlobalAvgPool, Requantize, Window, conv2d};
use staticnn::quant::fixed::quantize_multiplier;
use staticnn::quant::{Fused, QAdd, QLinear, QParams};
use staticnn::rand::{RngExt, SeedableRng, rngs::Xoshiro128PlusPlus};

const RESNET: &str = include_str!("fixtures/int8/resnet.txt");

network! {
    /// The fixture's network: Keras's `padding="same"` is padding 1 for a 3×3 kernel.
    struct ResNet {
        input: [2, 6, 6],
        stem: Conv2d(4, kernel = 3, padding = 1),
        ReLU,
        block: Residual(
            Conv2d(4, kernel = 3, padding = 1),
            ReLU,
            Conv2d(4, kernel = 3, padding = 1),
        ),
        ReLU,
        proj: Residual(
            Conv2d(6, kernel = 3, padding = 1),
            ReLU,
            Conv2d(6, kernel = 3, padding = 1);
            projection = Conv2d(6, kernel = 1),
        ),
        gap: GlobalAvgPool,
        Flatten,
        out: Linear(3),
    }
}

fn f32s(words: &[&str]) -> Vec<f32> {
    words
        .iter()
        .map(|w| f32::from_bits(u32::from_str_radix(w, 16).unwrap()))
        .collect()
}

fn ints<T: core::str::FromStr>(words: &[&str]) -> Vec<T>
where
    T::Err: core::fmt::Debug,
{
    words.iter().map(|w| w.parse().unwrap()).collect()
}

fn params(words: &[&str]) -> QParams {
    QParams {
        scale: f32s(&words[1..2])[0],
        zero_point: words[2].parse().unwrap(),
    }
}

/// A convolution of the fixture (stride 1, no dilation), as the converter quantised it.
#[derive(Clone)]
struct Conv {
    in_c: usize,
    win: Window,
    weight: Vec<i8>,
    scales: Vec<f32>,
    bias: Vec<i32>,
    relu: bool,
}

/// One op: its kind, input tensors, output tensor and its parameters.
#[derive(Clone)]
enum Kind {
    Conv(Conv),
    Add {
        relu: bool,
    },
    Gap {
        positions: usize,
    },
    Flatten,
    Linear {
        weight: Vec<i8>,
        scales: Vec<f32>,
        bias: Vec<i32>,
    },
}

#[derive(Clone)]
struct Op {
    kind: Kind,
    inputs: Vec<usize>,
    output: usize,
}

struct Fixture {
    input: usize,
    tensors: HashMap<usize, QParams>,
    ops: Vec<Op>,
    cases: Vec<(Vec<i8>, Vec<i8>)>,
    /// The interpreter's output of each op on the first cases: (tensor, values).
    trace: Vec<(usize, Vec<i8>)>,
}

fn parse(text: &str) -> Fixture {
    let lines: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let mut f = Fixture {
        input: 0,
        tensors: HashMap::new(),
        ops: Vec::new(),
        cases: Vec::new(),
        trace: Vec::new(),
    };
    let mut k = 0;
    while k < lines.len() {
        let l = &lines[k];
        let n = |j: usize| -> usize { l[j].parse().unwrap() };
        let (kind, inputs, output, extra) = match l[0] {
            "model" | "input_shape" => {
                k += 1;
                continue;
            }
            "input" => {
                f.input = n(1);
                f.tensors.insert(n(1), params(&l[1..]));
                k += 1;
                continue;
            }
            "conv" => {
                let win = Window {
                    // Stride 1, "same": the input's size is the output's.
                    in_h: n(13),
                    in_w: n(14),
                    out_h: n(13),
                    out_w: n(14),
                    k_h: n(5),
                    k_w: n(6),
                    stride_h: n(7),
                    stride_w: n(8),
                    pad_top: n(9),
                    pad_left: n(10),
                    dil_h: 1,
                    dil_w: 1,
                };
                let conv = Conv {
                    in_c: n(3),
                    win,
                    weight: ints(&lines[k + 1][1..]),
                    scales: f32s(&lines[k + 2][1..]),
                    bias: ints(&lines[k + 3][1..]),
                    relu: l[15] == "relu",
                };
                assert_eq!(conv.bias.len(), n(4));
                (Kind::Conv(conv), vec![n(1)], n(2), 3)
            }
            "add" => (
                Kind::Add {
                    relu: l[4] == "relu",
                },
                vec![n(1), n(2)],
                n(3),
                0,
            ),
            "gap" => (
                Kind::Gap {
                    positions: n(4) * n(5),
                },
                vec![n(1)],
                n(2),
                0,
            ),
            "flatten" => (Kind::Flatten, vec![n(1)], n(2), 0),
            "linear" => {
                assert_eq!(l[5], "none");
                let kind = Kind::Linear {
                    weight: ints(&lines[k + 1][1..]),
                    scales: f32s(&lines[k + 2][1..]),
                    bias: ints(&lines[k + 3][1..]),
                };
                (kind, vec![n(1)], n(2), 3)
            }
            "case" => {
                let split = l.iter().position(|w| *w == ";").unwrap();
                f.cases.push((ints(&l[1..split]), ints(&l[split + 1..])));
                k += 1;
                continue;
            }
            "trace" => {
                f.trace.push((n(1), ints(&l[2..])));
                k += 1;
                continue;
            }
            other => panic!("unknown fixture line {other}"),
        };
        f.tensors.insert(output, params(&lines[k + extra + 1]));
        f.ops.push(Op {
            kind,
            inputs,
            output,
        });
        k += extra + 2;
    }
    f
}

fn fused(relu: bool) -> Fused {
    if relu { Fused::Relu } else { Fused::None }
}

/// The converter's multipliers of a convolution from `input` to `output`.
fn multipliers(scales: &[f32], input: QParams, output: QParams) -> (Vec<i32>, Vec<i32>) {
    scales
        .iter()
        .map(|s| {
            quantize_multiplier(f64::from(input.scale) * f64::from(*s) / f64::from(output.scale))
        })
        .unzip()
}

/// The fixture's graph on one input with the kernels alone: every tensor's values.
fn run_kernels(f: &Fixture, x: &[i8]) -> HashMap<usize, Vec<i8>> {
    let mut values = HashMap::from([(f.input, x.to_vec())]);
    for op in &f.ops {
        let p = |t: usize| f.tensors[&t];
        let (x, out) = (&values[&op.inputs[0]], p(op.output));
        let y = match &op.kind {
            Kind::Conv(c) => {
                let input = p(op.inputs[0]);
                let (multiplier, shift) = multipliers(&c.scales, input, out);
                let rq = Requantize {
                    bias: &c.bias,
                    multiplier: &multiplier,
                    shift: &shift,
                    input_zero_point: input.zero_point,
                    output_zero_point: out.zero_point,
                    min: if c.relu { out.zero_point as i8 } else { -128 },
                    max: 127,
                };
                let mut y = vec![0i8; c.bias.len() * c.win.out_h * c.win.out_w];
                conv2d(&c.win, c.in_c, x, &c.weight, &rq, &mut y).unwrap();
                y
            }
            Kind::Add { relu } => {
                let add = QAdd::new(p(op.inputs[0]), p(op.inputs[1]), out, fused(*relu));
                let mut y = vec![0i8; x.len()];
                add.add_slices(x, &values[&op.inputs[1]], &mut y).unwrap();
                y
            }
            Kind::Gap { positions } => {
                let gap = QGlobalAvgPool::new(p(op.inputs[0]), out, *positions);
                let mut y = vec![0i8; x.len() / positions];
                gap.forward_sample(x, &mut y).unwrap();
                y
            }
            Kind::Flatten => x.clone(),
            Kind::Linear {
                weight,
                scales,
                bias,
            } => {
                let l = linear::<6, 3>(weight, bias, scales, p(op.inputs[0]), out);
                let mut y = SMatrix::<i8, 3, 1>::zeros();
                l.forward(&SMatrix::<i8, 6, 1>::from_column_slice(x), &mut y);
                y.as_slice().to_vec()
            }
        };
        values.insert(op.output, y);
    }
    values
}

fn linear<const I: usize, const O: usize>(
    w: &[i8],
    bias: &[i32],
    scales: &[f32],
    input: QParams,
    output: QParams,
) -> QLinear<I, O> {
    QLinear::from_quantized(
        core::array::from_fn(|o| core::array::from_fn(|i| w[o * I + i])),
        bias.try_into().unwrap(),
        scales.try_into().unwrap(),
        input,
        output,
        Fused::None,
    )
}

fn kinds(f: &Fixture) -> Vec<String> {
    f.ops
        .iter()
        .map(|op| {
            let k = match &op.kind {
                Kind::Conv(c) if c.relu => "conv+relu",
                Kind::Conv(_) => "conv",
                Kind::Add { relu: true } => "add+relu",
                Kind::Add { .. } => "add",
                Kind::Gap { .. } => "gap",
                Kind::Flatten => "flatten",
                Kind::Linear { .. } => "linear",
            };
            format!("{k} {:?} -> {}", op.inputs, op.output)
        })
        .collect()
}

#[test]
fn residual_kernels_match_tflite_add_bit_for_bit() {
    let f = parse(RESNET);
    assert_eq!(f.cases.len(), 50);
    assert!(
        f.ops
            .iter()
            .any(|op| matches!(op.kind, Kind::Add { relu: true }))
    );
    assert!(
        f.ops
            .iter()
            .any(|op| matches!(op.kind, Kind::Add { relu: false }))
    );
    // Op by op on the traced cases.
    let per_case = f.ops.len();
    assert_eq!(f.trace.len(), 4 * per_case);
    for (c, traced) in f.trace.chunks(per_case).enumerate() {
        let ours = run_kernels(&f, &f.cases[c].0);
        for (t, expected) in traced {
            let d = expected
                .iter()
                .zip(&ours[t])
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(
                d,
                0,
                "case {c}, tensor {t}: {d} of {} differ",
                expected.len()
            );
        }
    }
    let out = f.ops.last().unwrap().output;
    let differing: usize = f
        .cases
        .iter()
        .map(|(x, y)| {
            let ours = &run_kernels(&f, x)[&out];
            ours.iter().zip(y).filter(|(a, b)| a != b).count()
        })
        .sum();
    assert_eq!(differing, 0, "outputs that differ from TensorFlow Lite's");
}

/// The converter's convolution `c` from `input` into a twin's layer.
fn set_conv<const KK: usize, const CO: usize>(q: &mut QConv2d<KK, CO>, f: &Fixture, op: &Op) {
    let Kind::Conv(c) = &op.kind else {
        panic!("not a convolution")
    };
    let (input, output) = (f.tensors[&op.inputs[0]], f.tensors[&op.output]);
    assert_eq!((q.window, q.in_c, q.depthwise), (c.win, c.in_c, false));
    let (multiplier, shift) = multipliers(&c.scales, input, output);
    for o in 0..CO {
        q.weight[o].copy_from_slice(&c.weight[o * KK..(o + 1) * KK]);
    }
    q.bias.copy_from_slice(&c.bias);
    q.multiplier.copy_from_slice(&multiplier);
    q.shift.copy_from_slice(&shift);
    q.input_zero_point = input.zero_point;
    q.output = output;
    (q.min, q.max) = (
        if c.relu {
            output.zero_point as i8
        } else {
            -128
        },
        127,
    );
}

#[test]
fn residual_twin_matches_tflite_bit_for_bit() {
    let f = parse(RESNET);
    // The graph, in the interpreter's order: the tensors are the blocks' wiring.
    assert_eq!(
        kinds(&f),
        [
            "conv+relu [0] -> 19",
            "conv+relu [19] -> 20",
            "conv [20] -> 21",
            "add+relu [21, 19] -> 22",
            "conv+relu [22] -> 23",
            "conv [23] -> 24",
            "conv [22] -> 25",
            "add [24, 25] -> 26",
            "gap [26] -> 27",
            "flatten [27] -> 31",
            "linear [31] -> 32",
        ]
    );
    // A twin with the right geometry from staticnn's own quantisation, then every
    // parameter replaced by the converter's.
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let net = ResNet::<f32>::new(&mut rng);
    let images: Vec<[f32; 72]> = (0..8)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>()))
        .collect();
    let labels = vec![(); images.len()];
    let mut q = net
        .quantize(Dataset::new(&images, &labels).unwrap())
        .unwrap();
    let t = |k: usize| f.tensors[&k];
    q.input = t(0);
    set_conv(&mut q.stem, &f, &f.ops[0]);
    set_conv(&mut q.block_body0, &f, &f.ops[1]);
    set_conv(&mut q.block_body2, &f, &f.ops[2]);
    q.block = QAdd::new(t(21), t(19), t(22), Fused::Relu);
    set_conv(&mut q.proj_body0, &f, &f.ops[4]);
    set_conv(&mut q.proj_body2, &f, &f.ops[5]);
    set_conv(&mut q.proj_projection0, &f, &f.ops[6]);
    q.proj = QAdd::new(t(24), t(25), t(26), Fused::None);
    q.gap = QGlobalAvgPool::new(t(26), t(27), 36);
    let Kind::Linear {
        weight,
        scales,
        bias,
    } = &f.ops[10].kind
    else {
        panic!("not a linear layer")
    };
    q.out = linear(weight, bias, scales, t(31), t(32));

    // A batch of every case at once.
    let x = SMatrix::<i8, 72, 50>::from_iterator(f.cases.iter().flat_map(|c| c.0.clone()));
    let y = q.forward_int8(&x);
    let mut differing = 0;
    for (b, (_, expected)) in f.cases.iter().enumerate() {
        differing += y
            .column(b)
            .iter()
            .zip(expected)
            .filter(|(a, b)| a != b)
            .count();
    }
    assert_eq!(differing, 0, "outputs that differ from TensorFlow Lite's");
}
