//! Batch normalisation by hand: what each mode computes and what a train-mode forward does to
//! the running statistics, against formulas written out here in f64 (PyTorch's
//! `nn.BatchNorm1d`: biased batch variance to normalise, unbiased in the running average).
//! `tests/torch_vectors.rs` compares the same things with PyTorch's own numbers, and
//! `tests/gradcheck.rs` the gradients with finite differences.
//!
//! Values computed two ways in f64 agree to within a few roundings; the tolerance is
//! `TOL · max(1, |expected|)` with `TOL = 1e-14`, some 45 units in the last place.

use staticnn::block;
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

/// Largest difference accepted between two f64 computations of one value, relative with a
/// floor of 1.
const TOL: f64 = 1e-14;

network! {
    /// One batch norm with options far from the defaults, so that using the wrong `eps` or
    /// `momentum` shows.
    struct Norm {
        input: 3,
        bn: BatchNorm(eps = 0.25, momentum = 0.3),
    }
}

/// The options of [`Norm`].
const EPS: f64 = 0.25;
const MOMENTUM: f64 = 0.3;

network! {
    /// A batch norm with the default options.
    struct DefaultNorm {
        input: 3,
        BatchNorm(3),
    }
}

fn assert_near(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= TOL * expected.abs().max(1.0),
        "{what}: got {actual:e}, expected {expected:e}"
    );
}

/// A `Norm` with `γ`, `β` and the running statistics set to arbitrary values.
fn norm() -> Norm<f64> {
    let mut net = Norm::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    net.params.bn.weight = SVector::from([1.5, -0.5, 2.0]);
    net.params.bn.bias = SVector::from([0.25, 1.0, -3.0]);
    net.state.bn.running_mean = SVector::from([0.5, -1.0, 4.0]);
    net.state.bn.running_var = SVector::from([2.0, 0.5, 9.0]);
    net
}

/// A batch of 5 samples.
fn batch() -> SMatrix<f64, 3, 5> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    SMatrix::from_fn(|r, _| rng.random_range(-2.0..2.0) + r as f64)
}

/// Batch mean and biased batch variance of each feature.
fn batch_statistics<const N: usize, const B: usize>(
    x: &SMatrix<f64, N, B>,
) -> ([f64; N], [f64; N]) {
    let mean: [f64; N] = core::array::from_fn(|i| x.row(i).iter().sum::<f64>() / B as f64);
    let var = core::array::from_fn(|i| {
        x.row(i).iter().map(|v| (v - mean[i]).powi(2)).sum::<f64>() / B as f64
    });
    (mean, var)
}

/// A fresh batch norm has `γ = 1`, `β = 0`, running mean 0 and running variance 1, as
/// PyTorch's; in eval mode it then divides by `√(1 + ε)`.
#[test]
fn initial_values_are_pytorchs() {
    let net = DefaultNorm::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    assert_eq!(net.params.layer0.weight, SVector::from([1.0; 3]));
    assert_eq!(net.params.layer0.bias, SVector::from([0.0; 3]));
    assert_eq!(net.state.layer0.running_mean, SVector::from([0.0; 3]));
    assert_eq!(net.state.layer0.running_var, SVector::from([1.0; 3]));
    let x = batch();
    let y = net.forward(&x);
    for (a, e) in y.iter().zip(x.iter()) {
        assert_near("fresh eval output", *a, e / (1.0 + 1e-5f64).sqrt());
    }
}

/// Eval mode normalises with the running statistics, not the batch's:
/// `y = γ·(x − μ_run)/√(σ²_run + ε) + β`, sample by sample, so a sample's output does not
/// depend on the other samples of its batch, and a batch of one is allowed.
#[test]
fn eval_mode_uses_running_statistics() {
    let net = norm();
    let x = batch();
    let y = net.forward(&x);
    let (p, s) = (&net.params.bn, &net.state.bn);
    for b in 0..5 {
        for i in 0..3 {
            let expected = p.weight[i] * (x[(i, b)] - s.running_mean[i])
                / (s.running_var[i] + EPS).sqrt()
                + p.bias[i];
            assert_near(
                &format!("eval output {i} of sample {b}"),
                y[(i, b)],
                expected,
            );
        }
        let alone = net.forward(&x.fixed_columns::<1>(b).into_owned());
        assert_eq!(
            alone.as_slice(),
            y.column(b).as_slice(),
            "sample {b} alone gives a different eval output"
        );
    }
}

/// Train mode normalises with the batch mean and *biased* batch variance, and moves the
/// running statistics towards the batch's by `momentum`, using the *unbiased* variance:
/// `μ_run ← (1 − m)·μ_run + m·μ_B`, `σ²_run ← (1 − m)·σ²_run + m·σ²_B·B/(B − 1)`.
/// A second forward moves them again from there.
#[test]
fn train_mode_uses_batch_statistics_and_updates_running_ones() {
    let mut net = norm();
    let x = batch();
    let (mean, var) = batch_statistics(&x);
    let p = net.params.bn;
    let mut expected_mean: [f64; 3] = net.state.bn.running_mean.into();
    let mut expected_var: [f64; 3] = net.state.bn.running_var.into();
    let mut tape = Norm::<f64>::tape::<5>();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    for pass in 1..=2 {
        let y = *net.forward_train(&x, &mut tape, &mut rng);
        for b in 0..5 {
            for i in 0..3 {
                let expected =
                    p.weight[i] * (x[(i, b)] - mean[i]) / (var[i] + EPS).sqrt() + p.bias[i];
                assert_near(
                    &format!("train output {i} of sample {b}"),
                    y[(i, b)],
                    expected,
                );
            }
        }
        for i in 0..3 {
            expected_mean[i] = (1.0 - MOMENTUM) * expected_mean[i] + MOMENTUM * mean[i];
            expected_var[i] = (1.0 - MOMENTUM) * expected_var[i] + MOMENTUM * var[i] * 5.0 / 4.0;
            assert_near(
                &format!("running mean {i} after {pass} forward(s)"),
                net.state.bn.running_mean[i],
                expected_mean[i],
            );
            assert_near(
                &format!("running variance {i} after {pass} forward(s)"),
                net.state.bn.running_var[i],
                expected_var[i],
            );
        }
    }
    assert_eq!(net.params.bn, p, "a forward does not change γ or β");
}

/// A batch whose samples are all equal has zero variance in every feature: the outputs are
/// `β` exactly (every `x̂` is 0), the gradients are finite (`∂J/∂γ = 0`, `∂J/∂β = Σ dy`,
/// and the input gradient is `γ/√ε · (dy − mean(dy))`), the running variance only decays,
/// and in eval mode the same network is finite too.
#[test]
fn identical_samples_give_finite_outputs_and_gradients() {
    let mut net = norm();
    let sample = SVector::<f64, 3>::from([0.3, -7.0, 12.0]);
    let x = SMatrix::<f64, 3, 4>::from_columns(&[sample; 4]);
    let dy = SMatrix::<f64, 3, 4>::from_fn(|r, c| (r as f64 + 1.0) * (c as f64 - 1.0));
    let before = net.state.bn;

    let mut tape = Norm::<f64>::tape::<4>();
    let y = *net.forward_train(&x, &mut tape, &mut Xoshiro128PlusPlus::seed_from_u64(0));
    for b in 0..4 {
        assert_eq!(y.column(b), net.params.bn.bias, "sample {b}");
    }
    let mut grads = Norm::<f64>::gradients();
    let mut dx = SMatrix::<f64, 3, 4>::repeat(f64::NAN);
    net.backward(&x, &mut tape, &dy, &mut grads, Some(&mut dx));
    assert!(
        block::as_slice::<f64, _>(&grads)
            .iter()
            .chain(dx.iter())
            .all(|v| v.is_finite()),
        "non-finite gradient: {grads:?}, dx = {dx}"
    );
    for i in 0..3 {
        let sum: f64 = dy.row(i).iter().sum();
        assert_eq!(grads.bn.weight[i], 0.0, "∂J/∂γ[{i}]");
        assert_near(&format!("∂J/∂β[{i}]"), grads.bn.bias[i], sum);
        for b in 0..4 {
            let expected = net.params.bn.weight[i] / EPS.sqrt() * (dy[(i, b)] - sum / 4.0);
            assert_near(&format!("∂J/∂x[{i}, {b}]"), dx[(i, b)], expected);
        }
        assert_near(
            &format!("running mean {i}"),
            net.state.bn.running_mean[i],
            (1.0 - MOMENTUM) * before.running_mean[i] + MOMENTUM * sample[i],
        );
        assert_near(
            &format!("running variance {i}"),
            net.state.bn.running_var[i],
            (1.0 - MOMENTUM) * before.running_var[i],
        );
    }
    assert!(net.forward(&x).iter().all(|v| v.is_finite()));
}

/// The same in f32, with the default `ε = 1e-5`, where `1/√ε ≈ 316` scales the gradient:
/// still finite.
#[test]
fn identical_samples_are_finite_in_f32() {
    let mut net = DefaultNorm::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    let x = SMatrix::<f32, 3, 2>::from_columns(&[SVector::from([1e6, -3.5, 0.0]); 2]);
    let dy = SMatrix::<f32, 3, 2>::from_column_slice(&[1.0, -2.0, 0.5, 3.0, 0.25, -1.0]);
    let mut tape = DefaultNorm::<f32>::tape::<2>();
    let y = *net.forward_train(&x, &mut tape, &mut Xoshiro128PlusPlus::seed_from_u64(0));
    let mut grads = DefaultNorm::<f32>::gradients();
    let mut dx = SMatrix::<f32, 3, 2>::zeros();
    net.backward(&x, &mut tape, &dy, &mut grads, Some(&mut dx));
    assert!(y.iter().all(|v| v.is_finite()), "{y}");
    assert!(dx.iter().all(|v| v.is_finite()), "{dx}");
    assert!(
        block::as_slice::<f32, _>(&grads)
            .iter()
            .all(|v| v.is_finite()),
        "{grads:?}"
    );
}
