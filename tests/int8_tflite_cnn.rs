//! The integer convolution and pooling kernels (`staticnn::quant::conv`) against TensorFlow
//! Lite's int8 reference kernels (`OpResolverType.BUILTIN_REF`), on the CNN fixture that
//! `scripts/make_int8_fixtures.py cnn` wrote into `tests/fixtures/int8/cnn.txt`: Conv2d
//! (padding, stride 2), depthwise Conv2d, MaxPool2d, AvgPool2d with edge windows, Flatten and
//! a final Linear, every tensor in staticnn's channel-first layout (the script transposed
//! Keras's NHWC). The converter's parameters are loaded into the kernels, and every input
//! must give the interpreter's output exactly (0 LSB).

use staticnn::nalgebra::SMatrix;
use staticnn::quant::conv::{
    Pool, QGlobalAvgPool, Requantize, Window, conv2d, depthwise_conv2d, pool2d,
};
use staticnn::quant::fixed::quantize_multiplier;
use staticnn::quant::{Fused, QLinear, QParams};

const CNN: &str = include_str!("fixtures/int8/cnn.txt");
const CNN_GAP: &str = include_str!("fixtures/int8/cnn_gap.txt");

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

/// One op of the fixture, with its parameters as the kernels take them.
enum Op {
    Conv {
        depthwise: bool,
        in_c: usize,
        win: Window,
        weight: Vec<i8>,
        bias: Vec<i32>,
        multiplier: Vec<i32>,
        shift: Vec<i32>,
        input_zp: i32,
        output: QParams,
        relu: bool,
    },
    Pool {
        pool: Pool,
        c: usize,
        win: Window,
    },
    Gap(QGlobalAvgPool),
    Flatten,
    Linear(Linear),
}

/// A fixture's final fully connected layer, of either fixture's widths.
enum Linear {
    Cnn(Box<QLinear<96, 5>>),
    Gap(Box<QLinear<4, 3>>),
}

fn linear<const I: usize, const O: usize>(
    w: &[i8],
    bias: Vec<i32>,
    scales: Vec<f32>,
    input: QParams,
    output: QParams,
) -> Box<QLinear<I, O>> {
    let weight = core::array::from_fn(|o| core::array::from_fn(|i| w[o * I + i]));
    Box::new(QLinear::from_quantized(
        weight,
        bias.try_into().unwrap(),
        &scales.try_into().unwrap(),
        input,
        output,
        Fused::None,
    ))
}

struct Cnn {
    input: QParams,
    input_len: usize,
    ops: Vec<Op>,
    cases: Vec<(Vec<i8>, Vec<i8>)>,
    /// The interpreter's output of every op with a 4-D output on the first case.
    trace: Vec<(String, Vec<i8>)>,
}

fn params(words: &[&str]) -> QParams {
    QParams {
        scale: f32s(&words[1..2])[0],
        zero_point: words[2].parse().unwrap(),
    }
}

/// `[n, k, stride, pad, dil, out]` per axis into a window.
#[allow(clippy::too_many_arguments)]
fn window(
    in_hw: (usize, usize),
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    d: (usize, usize),
    out: (usize, usize),
) -> Window {
    Window {
        in_h: in_hw.0,
        in_w: in_hw.1,
        out_h: out.0,
        out_w: out.1,
        k_h: k.0,
        k_w: k.1,
        stride_h: s.0,
        stride_w: s.1,
        pad_top: p.0,
        pad_left: p.1,
        dil_h: d.0,
        dil_w: d.1,
    }
}

fn parse(fixture: &str) -> Cnn {
    let lines: Vec<Vec<&str>> = fixture
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let mut input = None;
    let mut shape = (0, 0, 0);
    let mut input_len = 0;
    let mut ops = Vec::new();
    let mut cases = Vec::new();
    let mut trace = Vec::new();
    let mut prev = None::<QParams>;
    let mut k = 0;
    while k < lines.len() {
        let l = &lines[k];
        let n = |j: usize| -> usize { l[j].parse().unwrap() };
        match l[0] {
            "model" => {}
            "input_shape" => {
                shape = (n(1), n(2), n(3));
                input_len = n(1) * n(2) * n(3);
            }
            "input" => {
                input = Some(params(l));
                prev = input;
            }
            "conv" | "depthwise" => {
                let depthwise = l[0] == "depthwise";
                let o = usize::from(!depthwise); // the fields after `in_c`
                let (in_c, out_c) = if depthwise {
                    (n(1), n(1))
                } else {
                    (n(1), n(2))
                };
                let win = window(
                    (shape.1, shape.2),
                    (n(2 + o), n(3 + o)),
                    (n(4 + o), n(5 + o)),
                    (n(6 + o), n(7 + o)),
                    (n(8 + o), n(9 + o)),
                    (n(10 + o), n(11 + o)),
                );
                let relu = l[12 + o] == "relu";
                let weight = ints(&lines[k + 1][1..]);
                let scales = f32s(&lines[k + 2][1..]);
                let bias = ints(&lines[k + 3][1..]);
                let output = params(&lines[k + 4]);
                let p = prev.unwrap();
                let (multiplier, shift) = scales
                    .iter()
                    .map(|s| {
                        quantize_multiplier(
                            f64::from(p.scale) * f64::from(*s) / f64::from(output.scale),
                        )
                    })
                    .unzip();
                assert_eq!(scales.len(), out_c);
                ops.push(Op::Conv {
                    depthwise,
                    in_c,
                    win,
                    weight,
                    bias,
                    multiplier,
                    shift,
                    input_zp: p.zero_point,
                    output,
                    relu,
                });
                shape = (out_c, win.out_h, win.out_w);
                prev = Some(output);
                k += 4;
            }
            "maxpool" | "avgpool" => {
                let pool = if l[0] == "maxpool" {
                    Pool::Max
                } else {
                    Pool::Average
                };
                let win = window(
                    (shape.1, shape.2),
                    (n(2), n(3)),
                    (n(4), n(5)),
                    (n(6), n(7)),
                    (1, 1),
                    (n(8), n(9)),
                );
                // The converter keeps the input's parameters through pooling.
                assert_eq!(params(&lines[k + 1]), prev.unwrap());
                ops.push(Op::Pool { pool, c: n(1), win });
                shape = (n(1), win.out_h, win.out_w);
                k += 1;
            }
            "flatten" => {
                assert_eq!(params(&lines[k + 1]), prev.unwrap());
                ops.push(Op::Flatten);
                k += 1;
            }
            "gap" => {
                let output = params(&lines[k + 1]);
                ops.push(Op::Gap(QGlobalAvgPool::new(
                    prev.unwrap(),
                    output,
                    n(2) * n(3),
                )));
                shape = (n(1), 1, 1);
                prev = Some(output);
                k += 1;
            }
            "linear" => {
                assert_eq!(l[3], "none");
                let w: Vec<i8> = ints(&lines[k + 1][1..]);
                let scales = f32s(&lines[k + 2][1..]);
                let bias: Vec<i32> = ints(&lines[k + 3][1..]);
                let output = params(&lines[k + 4]);
                let p = prev.unwrap();
                ops.push(Op::Linear(match (n(1), n(2)) {
                    (96, 5) => Linear::Cnn(linear(&w, bias, scales, p, output)),
                    (4, 3) => Linear::Gap(linear(&w, bias, scales, p, output)),
                    other => panic!("no test layer of widths {other:?}"),
                }));
                k += 4;
            }
            "case" => {
                let split = l.iter().position(|w| *w == ";").unwrap();
                cases.push((ints(&l[1..split]), ints(&l[split + 1..])));
            }
            "trace" => trace.push((l[1].to_string(), ints(&l[2..]))),
            other => panic!("unknown fixture line {other}"),
        }
        k += 1;
    }
    Cnn {
        input: input.unwrap(),
        input_len,
        ops,
        cases,
        trace,
    }
}

/// The network on `x`: its output, and each convolution's and pooling's output.
fn run(cnn: &Cnn, x: &[i8]) -> (Vec<i8>, Vec<Vec<i8>>) {
    let mut cur = x.to_vec();
    let mut trace = Vec::new();
    for op in &cnn.ops {
        cur = match op {
            Op::Conv {
                depthwise,
                in_c,
                win,
                weight,
                bias,
                multiplier,
                shift,
                input_zp,
                output,
                relu,
            } => {
                let rq = Requantize {
                    bias,
                    multiplier,
                    shift,
                    input_zero_point: *input_zp,
                    output_zero_point: output.zero_point,
                    // ReLU fused: from the zero point (TensorFlow Lite's
                    // `CalculateActivationRangeQuantized`).
                    min: if *relu { output.zero_point as i8 } else { -128 },
                    max: 127,
                };
                let mut y = vec![0i8; bias.len() * win.out_h * win.out_w];
                if *depthwise {
                    depthwise_conv2d(win, &cur, weight, &rq, &mut y).unwrap();
                } else {
                    conv2d(win, *in_c, &cur, weight, &rq, &mut y).unwrap();
                }
                y
            }
            Op::Pool { pool, c, win } => {
                let mut y = vec![0i8; c * win.out_h * win.out_w];
                pool2d(win, *pool, *c, &cur, (-128, 127), &mut y).unwrap();
                y
            }
            Op::Flatten => cur,
            Op::Gap(g) => {
                let mut y = vec![0i8; cur.len() / g.positions];
                g.forward_sample(&cur, &mut y).unwrap();
                y
            }
            Op::Linear(Linear::Cnn(l)) => {
                let x = SMatrix::<i8, 96, 1>::from_column_slice(&cur);
                let mut y = SMatrix::<i8, 5, 1>::zeros();
                l.forward(&x, &mut y);
                y.as_slice().to_vec()
            }
            Op::Linear(Linear::Gap(l)) => {
                let x = SMatrix::<i8, 4, 1>::from_column_slice(&cur);
                let mut y = SMatrix::<i8, 3, 1>::zeros();
                l.forward(&x, &mut y);
                y.as_slice().to_vec()
            }
        };
        if let Op::Conv { .. } | Op::Pool { .. } | Op::Gap(_) = op {
            trace.push(cur.clone());
        }
    }
    (cur, trace)
}

fn kinds(cnn: &Cnn) -> Vec<&'static str> {
    cnn.ops
        .iter()
        .map(|op| match op {
            Op::Conv {
                depthwise: true, ..
            } => "depthwise",
            Op::Conv { .. } => "conv",
            Op::Pool {
                pool: Pool::Max, ..
            } => "maxpool",
            Op::Pool { .. } => "avgpool",
            Op::Gap(_) => "gap",
            Op::Flatten => "flatten",
            Op::Linear(_) => "linear",
        })
        .collect()
}

/// Every case of `cnn` gives the interpreter's output (after checking the first case op by
/// op, so that a difference names its op).
fn check(cnn: &Cnn) {
    assert_eq!(cnn.cases.len(), 50);
    // Op by op on the traced cases, so that a difference names its op.
    let per_case = run(cnn, &cnn.cases[0].0).1.len();
    assert!(!cnn.trace.is_empty() && cnn.trace.len().is_multiple_of(per_case));
    for (c, traced) in cnn.trace.chunks(per_case).enumerate() {
        let (_, ours) = run(cnn, &cnn.cases[c].0);
        for ((name, expected), ours) in traced.iter().zip(&ours) {
            let d = expected.iter().zip(ours).filter(|(a, b)| a != b).count();
            assert_eq!(
                d,
                0,
                "case {c}, {name}: {d} of {} values differ",
                expected.len()
            );
        }
    }
    let mut differing = 0;
    for (x, expected) in &cnn.cases {
        assert_eq!(x.len(), cnn.input_len);
        let (y, _) = run(cnn, x);
        differing += y.iter().zip(expected).filter(|(a, b)| a != b).count();
    }
    assert_eq!(differing, 0, "outputs that differ from TensorFlow Lite's");
}

#[test]
fn global_average_pooling_matches_tflite_mean_bit_for_bit() {
    let cnn = parse(CNN_GAP);
    assert_eq!(kinds(&cnn), ["conv", "gap", "flatten", "linear"]);
    check(&cnn);
}

#[test]
fn cnn_kernels_match_tflite_reference_bit_for_bit() {
    let cnn = parse(CNN);
    assert!(cnn.input.scale > 0.0);
    assert_eq!(
        kinds(&cnn),
        [
            "conv",
            "depthwise",
            "conv",
            "maxpool",
            "conv",
            "avgpool",
            "flatten",
            "linear"
        ]
    );
    check(&cnn);
}
