//! The classic backpropagation example of Stanford's CS231n notes: one sigmoid neuron
//! `f = σ(w0·x0 + w1·x1 + w2)` with `w = (2, −3, −3)` and `x = (−1, −2)`, which outputs 0.73
//! and has the gradients `(w0, x0, w1, x1, w2) = (−0.20, 0.39, −0.39, −0.59, 0.20)`.

use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    /// One neuron: a weighted sum of two inputs plus a bias, squashed by a sigmoid.
    struct Neuron {
        input: 2,
        Linear(1),
        Sigmoid,
    }
}

/// The neuron's output and its gradients with respect to the weights, the bias and the
/// inputs, after one forward and one backward with `df = 1`.
struct Results {
    f: f64,
    dw: [f64; 2],
    db: f64,
    dx: [f64; 2],
}

/// Runs the example through `Network::forward_train` and `Network::backward`.
fn run() -> Results {
    let mut net = Neuron::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    net.params.layer0.weight = SMatrix::<f64, 1, 2>::new(2.0, -3.0);
    net.params.layer0.bias = SVector::<f64, 1>::new(-3.0);
    let x = SMatrix::<f64, 2, 1>::new(-1.0, -2.0);

    let mut tape = Neuron::<f64>::tape::<1>();
    let f = net.forward_train(&x, &mut tape, &mut Xoshiro128PlusPlus::seed_from_u64(0))[0];
    let mut grads = Neuron::<f64>::gradients();
    let mut dx = SMatrix::<f64, 2, 1>::zeros();
    net.backward(
        &x,
        &mut tape,
        &SMatrix::<f64, 1, 1>::new(1.0),
        &mut grads,
        Some(&mut dx),
    );
    Results {
        f,
        dw: [grads.layer0.weight[(0, 0)], grads.layer0.weight[(0, 1)]],
        db: grads.layer0.bias[0],
        dx: [dx[0], dx[1]],
    }
}

/// Asserts that `value` rounds to `expected` at two decimals.
fn assert_2dp(what: &str, value: f64, expected: f64) {
    assert!(
        (value - expected).abs() <= 0.005,
        "{what} = {value}, expected {expected} to two decimals"
    );
}

/// The values quoted in the notes, to their two decimals.
#[test]
fn matches_the_quoted_values() {
    let r = run();
    assert_2dp("f", r.f, 0.73);
    assert_2dp("df/dw0", r.dw[0], -0.20);
    assert_2dp("df/dx0", r.dx[0], 0.39);
    assert_2dp("df/dw1", r.dw[1], -0.39);
    assert_2dp("df/dx1", r.dx[1], -0.59);
    assert_2dp("df/dw2", r.db, 0.20);
}

/// The analytic values to the last bits: the weighted sum is exactly 1, so `f = σ(1)`, and
/// every gradient is `σ(1)(1 − σ(1))` times the other factor of its product
/// (`df/dw_i = x_i·σ'`, `df/dx_i = w_i·σ'`, `df/dw2 = σ'`). Allows 2 ulps, so that a
/// reordering of the same arithmetic inside the library does not fail the test.
#[test]
fn matches_the_analytic_formula() {
    let r = run();
    let s = 1.0 / (1.0 + f64::exp(-1.0));
    let ds = s * (1.0 - s);
    let close = |what: &str, value: f64, exact: f64| {
        assert!(
            (value - exact).abs() <= 2.0 * f64::EPSILON * exact.abs(),
            "{what} = {value:e}, analytically {exact:e}"
        );
    };
    close("f", r.f, s);
    close("df/dw0", r.dw[0], -ds);
    close("df/dx0", r.dx[0], 2.0 * ds);
    close("df/dw1", r.dw[1], -2.0 * ds);
    close("df/dx1", r.dx[1], -3.0 * ds);
    close("df/dw2", r.db, ds);
}
