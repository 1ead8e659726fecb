//! Gradient checks of the convolutional layers against central finite differences, in f64:
//! every option of `Conv1d` and `Conv2d` (stride, padding, dilation, groups, depthwise,
//! no bias, rectangular kernels, more output positions than one im2col chunk, both the
//! direct loops and the dense-kernel path), max and average pooling in 1-D and 2-D, global
//! average pooling, `Flatten`, and the per-channel batch norm in train mode.
//!
//! The objective is `J = ⟨c, y⟩` for a fixed random `c` over a batch of three samples (one
//! for a batch norm with several positions); backward with `dy = c` gives `∂J/∂θ` and
//! `∂J/∂x`, compared with `(J(θ + h) − J(θ − h)) / 2h`, `h = 1e-4` (see [`STEP`]), by
//! `|num − ana| / max(|num| + |ana|, 1e-2) ≤ 1e-6` (the criterion of `tests/gradcheck.rs`,
//! which explains the floor). Backward is checked to *add* the parameter gradients (they
//! start at 1) and to *write* the input gradient (it starts as NaN). Max pooling inputs are
//! drawn again until every window's maximum leads its runner-up by at least 1e-3, far beyond
//! the step, so that no tie or near-tie makes `J` non-smooth.

use staticnn::block;
use staticnn::prelude::*;
use staticnn::rand::{RngExt, SeedableRng, rngs::Xoshiro128PlusPlus};

/// Finite-difference step: larger than `tests/gradcheck.rs`'s 1e-6 because convolutions and
/// average pooling are linear in both their parameters and their input (no truncation error
/// at any step) while the rounding of `J`, a sum over hundreds of outputs, is divided by the
/// step: at 1e-6 it reached 8e-7 of the tolerance's 1e-6. Batch norm's truncation error at
/// 1e-4 is of order 1e-9, and max pooling's windows are 1e-2 clear of ties.
const STEP: f64 = 1e-4;
/// Largest relative error accepted.
const TOL: f64 = 1e-6;
/// Below this magnitude derivatives are compared in absolute terms.
const FLOOR: f64 = 1e-2;
/// Samples per batch.
const B: usize = 3;

/// `J = ⟨c, y⟩` of a train-mode forward (on a copy of the state).
fn objective<L: Layer<f64, I, O>, const I: usize, const O: usize, const N: usize>(
    layer: &L,
    p: &L::Params,
    s: &L::State,
    x: &SMatrix<f64, I, N>,
    c: &SMatrix<f64, O, N>,
) -> f64 {
    let mut s = *s;
    let mut tape = bytemuck::allocation::zeroed_box::<L::Tape<N>>();
    let mut y = SMatrix::<f64, O, N>::zeros();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    layer.forward_train(p, &mut s, x, &mut y, &mut tape, &mut rng);
    y.component_mul(c).sum()
}

/// Checks the parameter and input gradients of `layer` at random parameters (the layer's
/// initialisation, then shifted so that batch norm's `γ` and `β` are not 1 and 0) and at `x`.
fn check<L: Layer<f64, I, O>, const I: usize, const O: usize, const N: usize>(
    name: &str,
    layer: &L,
    x: SMatrix<f64, I, N>,
    rng: &mut Xoshiro128PlusPlus,
) {
    let mut p: L::Params = bytemuck::Zeroable::zeroed();
    let mut s: L::State = bytemuck::Zeroable::zeroed();
    layer.init_params(&mut p, &mut s, rng);
    for v in block::as_mut_slice::<f64, _>(&mut p) {
        *v += rng.random_range(-0.5..0.5);
    }
    let c = SMatrix::<f64, O, N>::from_fn(|_, _| rng.random_range(-1.0..1.0));

    let mut st = s;
    let mut tape = bytemuck::allocation::zeroed_box::<L::Tape<N>>();
    let mut y = SMatrix::<f64, O, N>::zeros();
    let mut r0 = Xoshiro128PlusPlus::seed_from_u64(0);
    layer.forward_train(&p, &mut st, &x, &mut y, &mut tape, &mut r0);
    let mut g: L::Params = bytemuck::Zeroable::zeroed();
    block::as_mut_slice::<f64, _>(&mut g).fill(1.0);
    let mut dx = SMatrix::<f64, I, N>::from_element(f64::NAN);
    layer.backward(&p, &x, &y, &tape, &c, Some(&mut dx), &mut g);

    let mut worst = (0.0, String::new());
    let mut compare = |what: String, num: f64, ana: f64| {
        let e = (num - ana).abs() / (num.abs() + ana.abs()).max(FLOOR);
        if e > worst.0 {
            worst = (e, format!("{what}: numerical {num:e}, analytic {ana:e}"));
        }
    };
    let n = block::len::<f64, L::Params>();
    for i in 0..n {
        let mut plus = p;
        block::as_mut_slice::<f64, _>(&mut plus)[i] += STEP;
        let mut minus = p;
        block::as_mut_slice::<f64, _>(&mut minus)[i] -= STEP;
        let num = (objective(layer, &plus, &s, &x, &c) - objective(layer, &minus, &s, &x, &c))
            / (2.0 * STEP);
        let ana = block::as_slice::<f64, _>(&g)[i] - 1.0;
        compare(format!("parameter {i}"), num, ana);
    }
    for i in 0..I * N {
        let (mut plus, mut minus) = (x, x);
        plus[i] += STEP;
        minus[i] -= STEP;
        let num = (objective(layer, &p, &s, &plus, &c) - objective(layer, &p, &s, &minus, &c))
            / (2.0 * STEP);
        compare(format!("input {i}"), num, dx[i]);
    }
    assert!(worst.0 <= TOL, "{name}: worst {worst:?}");
    println!(
        "{name}: {} parameters, {} inputs, worst {:.1e} ({})",
        n,
        I * N,
        worst.0,
        worst.1
    );
}

/// A batch uniform in `[−2, 2)`.
fn input<const I: usize, const N: usize>(rng: &mut Xoshiro128PlusPlus) -> SMatrix<f64, I, N> {
    SMatrix::from_fn(|_, _| rng.random_range(-2.0..2.0))
}

/// A batch whose values within a sample are 1e-2 apart from each other (so every pooling
/// window's maximum leads its runner-up by at least that): a random permutation of
/// `k · 0.01 − I · 0.005`, `k < I`.
fn distinct<const I: usize, const N: usize>(rng: &mut Xoshiro128PlusPlus) -> SMatrix<f64, I, N> {
    let mut m = SMatrix::<f64, I, N>::zeros();
    for b in 0..N {
        let mut v: Vec<f64> = (0..I).map(|k| k as f64 * 0.01 - I as f64 * 0.005).collect();
        for i in (1..I).rev() {
            let j = rng.random_range(0..=i);
            v.swap(i, j);
        }
        for (i, x) in v.into_iter().enumerate() {
            m[(i, b)] = x;
        }
    }
    m
}

#[test]
fn conv2d_every_option() {
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(16);
    // 3 × 3, padding 1, bias; 5 output channels (dense-kernel path on x86-64).
    let l = Conv2d::<2, 5, 6, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 18, 5>::default();
    check::<_, 60, 150, B>("conv2d 3x3 pad 1", &l, input(rng), rng);
    // Rectangular 3 × 2 kernel, stride (2, 1), padding (1, 2), dilation (2, 1), no bias.
    // HO = (7 + 2 − 4 − 1)/2 + 1 = 3, WO = (5 + 4 − 1 − 1)/1 + 1 = 8.
    let l = Conv2d::<2, 7, 5, 4, 3, 8, 3, 2, 2, 1, 1, 2, 2, 1, 1, 12, 0>::default();
    check::<_, 70, 96, B>(
        "conv2d rect stride pad dilation, no bias",
        &l,
        input(rng),
        rng,
    );
    // Groups 2 with 4 output channels per group, stride (2, 1).
    // HO = (6 − 3)/2 + 1 = 2, WO = (4 − 3)/1 + 1 = 2.
    let l = Conv2d::<4, 6, 4, 8, 2, 2, 3, 3, 2, 1, 0, 0, 1, 1, 2, 18, 8>::default();
    check::<_, 96, 32, B>("conv2d groups 2", &l, input(rng), rng);
    // Groups 3, one output channel per group (direct loops), dilation 2, padding 2.
    let l = Conv2d::<6, 5, 5, 3, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2, 3, 18, 3>::default();
    check::<_, 150, 75, B>("conv2d groups 3, dilation 2", &l, input(rng), rng);
    // Depthwise 3 × 3, stride 2, padding 1.
    let l = Conv2d::<3, 6, 5, 3, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 3, 9, 3>::default();
    check::<_, 90, 27, B>("conv2d depthwise stride 2", &l, input(rng), rng);
    // Two output channels (direct loops), 2 × 3 kernel, stride (1, 2), padding (0, 1),
    // dilation (1, 2): HO = 4 − 1 = 3, WO = (7 + 2 − 4 − 1)/2 + 1 = 3.
    let l = Conv2d::<2, 4, 7, 2, 3, 3, 2, 3, 1, 2, 0, 1, 1, 2, 1, 12, 2>::default();
    check::<_, 56, 18, B>("conv2d direct rect", &l, input(rng), rng);
    // 90 output positions: more than one chunk of patches.
    let l = Conv2d::<1, 10, 9, 4, 10, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 9, 4>::default();
    check::<_, 90, 360, B>("conv2d two chunks", &l, input(rng), rng);
}

#[test]
fn conv1d_every_option() {
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(1);
    // Kernel 3, stride 2, padding 1, dilation 2, bias: LO = (11 + 2 − 4 − 1)/2 + 1 = 5.
    let l = Conv1d::<2, 11, 4, 5, 3, 2, 1, 2, 1, 6, 4>::default();
    check::<_, 22, 20, B>("conv1d stride dilation", &l, input(rng), rng);
    // Kernel 4, padding 3, no bias, two output channels (direct): LO = 6 + 6 − 3 = 9.
    let l = Conv1d::<2, 6, 2, 9, 4, 1, 3, 1, 1, 8, 0>::default();
    check::<_, 12, 18, B>("conv1d padding 3, no bias", &l, input(rng), rng);
    // Depthwise, kernel 3, padding 1.
    let l = Conv1d::<4, 8, 4, 8, 3, 1, 1, 1, 4, 3, 4>::default();
    check::<_, 32, 32, B>("conv1d depthwise", &l, input(rng), rng);
    // Groups 2, eight output channels per group.
    let l = Conv1d::<4, 7, 16, 5, 3, 1, 0, 1, 2, 6, 16>::default();
    check::<_, 28, 80, B>("conv1d groups 2", &l, input(rng), rng);
    // 100 positions: two chunks of patches.
    let l = Conv1d::<1, 100, 4, 100, 5, 1, 2, 1, 1, 5, 4>::default();
    check::<_, 100, 400, B>("conv1d two chunks", &l, input(rng), rng);
}

#[test]
fn pooling_and_flatten() {
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(2);
    // 3 × 2 windows, stride (2, 1), padding (1, 1): HO = (7 + 2 − 3)/2 + 1 = 4,
    // WO = (5 + 2 − 2) + 1 = 6.
    let l = MaxPool2d::<2, 7, 5, 4, 6, 3, 2, 2, 1, 1, 1>;
    check::<_, 70, 48, B>("max pool 2d", &l, distinct(rng), rng);
    let l = MaxPool1d::<3, 9, 5, 3, 2, 1>;
    check::<_, 27, 15, B>("max pool 1d", &l, distinct(rng), rng);
    // 2 × 3 windows, stride (1, 2), padding (1, 1): HO = 5 + 2 − 2 + 1 = 6,
    // WO = (6 + 2 − 3)/2 + 1 = 3.
    let l = AvgPool2d::<2, 5, 6, 6, 3, 2, 3, 1, 2, 1, 1>;
    check::<_, 60, 36, B>("avg pool 2d", &l, input(rng), rng);
    let l = AvgPool1d::<2, 10, 5, 3, 2, 1>;
    check::<_, 20, 10, B>("avg pool 1d", &l, input(rng), rng);
    check::<_, 18, 3, B>("global avg pool", &GlobalAvgPool::<3, 6>, input(rng), rng);
    check::<_, 12, 12, B>("flatten", &Flatten, input(rng), rng);
}

#[test]
fn spatial_batch_norm_train_mode() {
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(3);
    let l = SpatialBatchNorm::<3, 5>::default();
    check::<_, 15, 15, B>("batch norm [3, 5]", &l, input(rng), rng);
    // One sample of several positions is a valid batch for a per-channel batch norm.
    check::<_, 15, 15, 1>("batch norm [3, 5], one sample", &l, input(rng), rng);
    let l = SpatialBatchNorm::<2, 12>::default();
    check::<_, 24, 24, B>("batch norm [2, 3, 4]", &l, input(rng), rng);
}

/// A max pooling window's gradient goes to its first maximum in scan order, as PyTorch's
/// does on ties, and padding never wins even when every value is below zero.
#[test]
fn max_pool_ties_and_padding() {
    // One channel 2 × 2, windows 2 × 2, stride 1, padding 1: a 3 × 3 output.
    let pool = MaxPool2d::<1, 2, 2, 3, 3, 2, 2, 1, 1, 1, 1>;
    let x = SMatrix::<f64, 4, 1>::from_column_slice(&[-3.0, -3.0, -3.0, -5.0]);
    let mut y = SMatrix::<f64, 9, 1>::zeros();
    Layer::<f64, 4, 9>::forward(&pool, &(), &(), &x, &mut y);
    assert_eq!(
        y.as_slice(),
        &[-3.0, -3.0, -3.0, -3.0, -3.0, -3.0, -3.0, -3.0, -5.0]
    );
    let dy = SMatrix::<f64, 9, 1>::from_fn(|i, _| (1 << i) as f64);
    let mut dx = SMatrix::<f64, 4, 1>::zeros();
    Layer::<f64, 4, 9>::backward(&pool, &(), &x, &y, &(), &dy, Some(&mut dx), &mut ());
    // Window (0, 0) sees only x0; (0, 1) x0 and x1 → x0; (1, 1) all four → x0; (1, 2) x1, x3
    // → x1; (2, 1) x2, x3 → x2; (2, 2) only x3.
    let expected = [
        1.0 + 2.0 + 8.0 + 16.0, // windows (0,0), (0,1), (1,0), (1,1)
        4.0 + 32.0,             // (0,2), (1,2)
        64.0 + 128.0,           // (2,0), (2,1)
        256.0,                  // (2,2)
    ];
    assert_eq!(dx.as_slice(), &expected);
}

/// The initialisation schemes see PyTorch's fans of a convolution weight
/// `[out, in/groups, kh, kw]`: `fan_in = in/groups · kh · kw`, `fan_out = out · kh · kw`,
/// whether drawn in f64 (`init_params`) or in the scalar itself (`Native`).
#[test]
fn init_uses_conv_fans() {
    use staticnn::init::Native;
    // in 4, out 6, groups 2, 3 × 3: fan_in = 2·9 = 18, fan_out = 6·9 = 54.
    type C = Conv2d<4, 5, 5, 6, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 2, 18, 6>;
    let bounds = |w: &[f32]| w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(4);
    for native in [false, true] {
        let draw = |conv: C, rng: &mut Xoshiro128PlusPlus| {
            let mut p = ConvParams::<f32, 18, 6, 6>::zeroed();
            if native {
                Layer::<f32, 100, 54>::init_params_with(&conv, Native, &mut p, &mut (), rng);
            } else {
                Layer::<f32, 100, 54>::init_params(&conv, &mut p, &mut (), rng);
            }
            p
        };
        // PyTorch's default: weight and bias uniform on ±1/√18.
        let p = draw(C::default(), rng);
        let a = 1.0 / 18f32.sqrt();
        for (what, w) in [("weight", p.weight.as_slice()), ("bias", p.bias.as_slice())] {
            let m = bounds(w);
            assert!(
                m <= a && m > 0.5 * a,
                "default {what}: max |w| = {m}, bound {a}"
            );
        }
        let m = bounds(p.weight.as_slice());
        assert!(m > 0.9 * a, "default weight: max |w| = {m}, bound {a}");
        // Xavier uniform: ±√(6 / (18 + 54)).
        let xavier = C {
            weight: Init::XavierUniform { gain: 1.0 },
            bias: Init::Zeros,
        };
        let p = draw(xavier, rng);
        let a = (6.0f32 / 72.0).sqrt();
        let m = bounds(p.weight.as_slice());
        assert!(m <= a && m > 0.9 * a, "xavier: max |w| = {m}, bound {a}");
        assert_eq!(bounds(p.bias.as_slice()), 0.0);
    }
}
