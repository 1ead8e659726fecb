//! Residual blocks: `Residual(...)` in `network!`, with and without a projection, nested,
//! first and last in a network.
//!
//! - Gradients against f64 central finite differences of `J = ⟨c, y⟩` over a batch of
//!   three, through train-mode forward (batch norm with batch statistics) and `backward`:
//!   every parameter and the input, with the criterion of `tests/conv_gradcheck.rs`. The
//!   layers are smooth (`Tanh`, not `ReLU`), so no kink lies between the two evaluations.
//! - Eval-mode `forward` (scratch slots) against the train-mode forward (the tape) where the
//!   two agree, and small blocks against the sum written out by hand.
//! - The layer table, the summary, the weight-file keys, the inference form's folding.

use staticnn::block;
use staticnn::prelude::*;
use staticnn::rand::{RngExt, SeedableRng, rngs::Xoshiro128PlusPlus};

const STEP: f64 = 1e-5;
const TOL: f64 = 1e-6;
const FLOOR: f64 = 1e-2;
const B: usize = 3;

network! {
    /// A block without projection between two layers.
    struct Identity {
        input: [2, 5, 5],
        Conv2d(3, kernel = 3, padding = 1),
        Residual(
            Conv2d(3, kernel = 3, padding = 1),
            BatchNorm,
            Tanh,
            Conv2d(3, kernel = 3, padding = 1),
            BatchNorm,
        ),
        Tanh,
        GlobalAvgPool,
        Flatten,
        Linear(4),
    }
}

network! {
    /// A block with a strided projection, first in the network (so the input gradient sums
    /// both paths into the caller's `dx`).
    struct Projected {
        input: [2, 6, 6],
        Residual(
            Conv2d(4, kernel = 3, stride = 2, padding = 1),
            BatchNorm,
            Tanh,
            Conv2d(4, kernel = 3, padding = 1);
            projection = Conv2d(4, kernel = 1, stride = 2), BatchNorm
        ),
        Tanh,
        Flatten,
        Linear(3),
    }
}

network! {
    /// Flat features, a block nested in a block, a `Linear` projection, and a block last.
    struct Nested {
        input: 6,
        Residual(Linear(6), Tanh, Residual(Linear(6), Tanh), Linear(6)),
        Residual(Linear(4), Tanh; projection = Linear(4)),
        Residual(Tanh, Linear(4)),
    }
}

/// `J = ⟨c, y⟩` of a train-mode forward of a copy of `net`.
fn objective<N: Network<f64, I, O> + Copy, const I: usize, const O: usize>(
    net: &N,
    x: &SMatrix<f64, I, B>,
    c: &SMatrix<f64, O, B>,
) -> f64 {
    let mut net = *net;
    let mut tape = block::zeroed_box::<N::Tape<B>>();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let y = net.forward_train(x, &mut tape, &mut rng);
    y.component_mul(c).sum()
}

/// Checks every parameter gradient and the input gradient of `net` at `x`.
fn check<N: Network<f64, I, O> + Copy, const I: usize, const O: usize>(name: &str, seed: u64) {
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = N::new(rng);
    for v in block::as_mut_slice::<f64, _>(net.params_mut()) {
        *v += rng.random_range(-0.3..0.3);
    }
    let x = SMatrix::<f64, I, B>::from_fn(|_, _| rng.random_range(-2.0..2.0));
    let c = SMatrix::<f64, O, B>::from_fn(|_, _| rng.random_range(-1.0..1.0));

    let mut copy = net;
    let mut tape = block::zeroed_box::<N::Tape<B>>();
    let mut r0 = Xoshiro128PlusPlus::seed_from_u64(0);
    copy.forward_train(&x, &mut tape, &mut r0);
    let mut g = block::zeroed_box::<N::Params>();
    block::as_mut_slice::<f64, _>(&mut *g).fill(1.0);
    let mut dx = SMatrix::<f64, I, B>::from_element(f64::NAN);
    copy.backward(&x, &mut tape, &c, &mut g, Some(&mut dx));

    let mut worst = (0.0, String::new());
    let mut compare = |what: String, num: f64, ana: f64| {
        let e = (num - ana).abs() / (num.abs() + ana.abs()).max(FLOOR);
        if !(e <= worst.0) {
            worst = (e, format!("{what}: numerical {num:e}, analytic {ana:e}"));
        }
    };
    let n: usize = N::LAYERS.iter().map(|l| l.params).sum();
    for i in 0..n {
        let (mut plus, mut minus) = (net, net);
        block::as_mut_slice::<f64, _>(plus.params_mut())[i] += STEP;
        block::as_mut_slice::<f64, _>(minus.params_mut())[i] -= STEP;
        let num = (objective(&plus, &x, &c) - objective(&minus, &x, &c)) / (2.0 * STEP);
        compare(
            format!("parameter {i}"),
            num,
            block::as_slice::<f64, _>(&*g)[i] - 1.0,
        );
    }
    for i in 0..I * B {
        let (mut plus, mut minus) = (x, x);
        plus[i] += STEP;
        minus[i] -= STEP;
        let num = (objective(&net, &plus, &c) - objective(&net, &minus, &c)) / (2.0 * STEP);
        compare(format!("input {i}"), num, dx[i]);
    }
    assert!(worst.0 <= TOL, "{name}: worst {worst:?}");
    println!(
        "{name}: {n} parameters, {} inputs, worst {:.1e}",
        I * B,
        worst.0
    );
}

#[test]
fn gradients_without_projection() {
    check::<Identity<f64>, 50, 4>("identity block", 1);
}

#[test]
fn gradients_with_projection() {
    check::<Projected<f64>, 72, 3>("projected block, first layer", 2);
}

#[test]
fn gradients_nested_and_last() {
    check::<Nested<f64>, 6, 4>("nested blocks, block last", 3);
}
