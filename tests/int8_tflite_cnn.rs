//! The integer convolution and pooling kernels (`staticnn::quant::conv`) against TensorFlow
//! Lite's int8 reference kernels (`OpResolverType.BUILTIN_REF`), on the CNN fixture that
//! `scripts/make_int8_fixtures.py cnn` wrote into `tests/fixtures/int8/cnn.txt`: Conv2d
//! (padding, stride 2), depthwise Conv2d, MaxPool2d, AvgPool2d with edge windows, Flatten and
//! a final Linear, every tensor in staticnn's channel-first layout (the script transposed
//! Keras's NHWC). The converter's parameters are loaded into the kernels, and every input
//! must give the interpreter's output exactly (0 LSB).

use staticnn::nalgebra::SMatrix;
use staticnn::quant::conv::{Pool, Requantize, Window, conv2d, depthwise_conv2d, pool2d};
use staticnn::quant::fixed::quantize_multiplier;
use staticnn::quant::{Fused, QLinear, QParams};

const FIXTURE: &str = include_str!("fixtures/int8/cnn.txt");

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
    Flatten,
    Linear(Box<QLinear<96, 5>>),
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

fn parse() -> Cnn {
    let lines: Vec<Vec<&str>> = FIXTURE
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
            "linear" => {
                assert_eq!((n(1), n(2), l[3]), (96, 5, "none"));
                let w: Vec<i8> = ints(&lines[k + 1][1..]);
                let scales = f32s(&lines[k + 2][1..]);
                let bias: Vec<i32> = ints(&lines[k + 3][1..]);
                let output = params(&lines[k + 4]);
                let weight = core::array::from_fn(|o| core::array::from_fn(|i| w[o * 96 + i]));
                ops.push(Op::Linear(Box::new(QLinear::from_quantized(
                    weight,
                    bias.try_into().unwrap(),
                    &scales.try_into().unwrap(),
                    prev.unwrap(),
                    output,
                    Fused::None,
                ))));
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
            Op::Linear(l) => {
                let x = SMatrix::<i8, 96, 1>::from_column_slice(&cur);
                let mut y = SMatrix::<i8, 5, 1>::zeros();
                l.forward(&x, &mut y);
                y.as_slice().to_vec()
            }
        };
        if let Op::Conv { .. } | Op::Pool { .. } = op {
            trace.push(cur.clone());
        }
    }
    (cur, trace)
}

#[test]
fn cnn_kernels_match_tflite_reference_bit_for_bit() {
    let cnn = parse();
    assert!(cnn.input.scale > 0.0);
    let kinds: Vec<&str> = cnn
        .ops
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
            Op::Flatten => "flatten",
            Op::Linear(_) => "linear",
        })
        .collect();
    assert_eq!(
        kinds,
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
    assert_eq!(cnn.cases.len(), 50);
    // Op by op on the first case, so that a difference names its op.
    let (_, trace) = run(&cnn, &cnn.cases[0].0);
    assert_eq!(trace.len(), cnn.trace.len());
    for ((name, expected), ours) in cnn.trace.iter().zip(&trace) {
        let d = expected.iter().zip(ours).filter(|(a, b)| a != b).count();
        for (k, (a, b)) in expected.iter().zip(ours).enumerate() {
            if a != b {
                eprintln!("{name} [{k}]: tflite {a} ours {b}");
            }
        }
        assert_eq!(d, 0, "{name}: {d} of {} values differ", expected.len());
    }
    let mut differing = 0;
    for (x, expected) in &cnn.cases {
        assert_eq!(x.len(), cnn.input_len);
        let (y, _) = run(&cnn, x);
        differing += y.iter().zip(expected).filter(|(a, b)| a != b).count();
    }
    assert_eq!(differing, 0, "outputs that differ from TensorFlow Lite's");
}
