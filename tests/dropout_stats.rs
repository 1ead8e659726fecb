//! Dropout's randomness, checked statistically with a seeded RNG, and its exact properties:
//! kept units scaled by exactly `1/(1 − p)` (in f64; in f32 by one factor within f32
//! precision of it), `p = 0` and eval mode the identity bit for bit,
//! the same seed the same mask, and the mask the documented function of the RNG's 32-bit
//! draws.
//!
//! # Tolerances
//!
//! Each unit is kept independently with probability `q = 1 − p`. (Exactly: a unit is kept
//! when a uniform 32-bit draw is at least `round(p·2³²)`, so `q` differs from `1 − p` by at
//! most `2⁻³³ ≈ 1.2e-10`, which is negligible below.) Over `n` units the kept fraction `k/n`
//! is binomial with mean `q` and standard error `√(p·q/n)`, so it is required to lie within
//! [`Z`]` = 5` standard errors of `q`. For `n = 200 000` that is ±3.4e-3 at `p = 0.1` and
//! `p = 0.9` and ±5.6e-3 at `p = 0.5`; a correct implementation lands outside with
//! probability 5.7e-7 (two-sided normal tail at 5σ), and the seed is fixed, so the result
//! never changes from run to run.
//!
//! The output `y = x·M/q` (`M` the 0/1 keep indicator) has mean `x`. The mean of `y − x`
//! over the units has standard error `√(Σ x²·p/q) / n` and is required to lie within `Z` of
//! those of 0. For inputs `x` uniform in [0.5, 1.5] (`E[x²] = 13/12`) that is, relative to
//! the mean input, ±3.9e-3 at `p = 0.1`, ±1.2e-2 at `p = 0.5` and ±3.5e-2 at `p = 0.9`.
//! Each test prints what it measured (`cargo test --test dropout_stats -- --nocapture`).

use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{Rng, RngExt, SeedableRng};

/// Units per sample.
const N: usize = 100;
/// Samples per batch.
const B: usize = 50;
/// Train-mode forwards per statistic: `N·B·PASSES = 200 000` units.
const PASSES: usize = 40;
/// How many standard errors a statistic may lie from its expected value.
const Z: f64 = 5.0;

network! { struct Drop10 { input: 100, Dropout(0.1) } }
network! { struct Drop50 { input: 100, Dropout(p = 0.5) } }
network! { struct Drop90 { input: 100, Dropout(0.9) } }
network! { struct Drop0 { input: 100, Dropout(0.0) } }
network! {
    /// Dropout inside a network, to check eval mode and the inference form end to end.
    struct Regularised {
        input: 6,
        fc: Linear(8),
        drop: Dropout(0.5),
        out: Linear(3),
    }
}

/// A batch of inputs uniform in `[0.5, 1.5)`.
fn inputs(rng: &mut Xoshiro128PlusPlus) -> SMatrix<f64, N, B> {
    SMatrix::from_fn(|_, _| rng.random_range(0.5..1.5))
}

/// Inputs that a copy or a multiplication by 1 could tell apart from a bit-for-bit copy:
/// both zeros, NaN, infinities, subnormals, extremes, and ordinary values.
fn awkward() -> SMatrix<f64, N, B> {
    let special = [
        0.0,
        -0.0,
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE / 3.0,
        -5e-324,
        f64::MAX,
        f64::MIN,
        1.0,
        -0.1,
        std::f64::consts::PI,
    ];
    SMatrix::from_fn(|r, c| special[(r + 7 * c) % special.len()])
}

fn bits<const R: usize, const C: usize>(m: &SMatrix<f64, R, C>) -> Vec<u64> {
    m.iter().map(|v| v.to_bits()).collect()
}

/// Runs `PASSES` train-mode forwards of `Net` (a dropout with probability `p`) and checks the
/// keep rate, the scaling of kept units and the mean output.
fn check_statistics<Net>(p: f64, seed: u64)
where
    Net: Network<f64, N, N>,
{
    let mut net = Net::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut data = Xoshiro128PlusPlus::seed_from_u64(seed + 1);
    let mut tape = Net::tape::<B>();
    let q = 1.0 - p;
    let scale = 1.0 / (1.0 - p);
    let (mut kept, mut units) = (0usize, 0usize);
    let (mut sum_diff, mut sum_sq) = (0.0f64, 0.0f64);
    let mut sum_x = 0.0f64;
    for pass in 0..PASSES {
        let x = inputs(&mut data);
        let y = *net.forward_train(&x, &mut tape, &mut rng);
        for (i, (&yv, &xv)) in y.iter().zip(x.iter()).enumerate() {
            units += 1;
            sum_x += xv;
            sum_sq += xv * xv;
            sum_diff += yv - xv;
            if yv != 0.0 {
                kept += 1;
                assert_eq!(
                    yv.to_bits(),
                    (xv * scale).to_bits(),
                    "p = {p}, pass {pass}, unit {i}: kept {xv} became {yv}, not {xv}·1/(1 − p) = {}",
                    xv * scale
                );
            }
        }
    }
    assert_eq!(units, 200_000);
    let n = units as f64;

    let rate = kept as f64 / n;
    let rate_se = (p * q / n).sqrt();
    let rate_z = (rate - q) / rate_se;
    println!(
        "p = {p}: kept {kept} of {units} = {rate:.5} (expected {q}, standard error {rate_se:.2e}, {rate_z:+.2} SE)"
    );
    assert!(
        rate_z.abs() <= Z,
        "p = {p}: keep rate {rate} is {rate_z:+.2} standard errors ({rate_se:e}) from {q}"
    );

    let mean_diff = sum_diff / n;
    let mean_se = (sum_sq * p / q).sqrt() / n;
    let mean_z = mean_diff / mean_se;
    let mean_x = sum_x / n;
    println!(
        "p = {p}: mean output − mean input = {mean_diff:+.3e} (standard error {mean_se:.2e}, {mean_z:+.2} SE; {:+.2e} of the mean input {mean_x:.4}, allowed ±{:.2e})",
        mean_diff / mean_x,
        Z * mean_se / mean_x
    );
    assert!(
        mean_z.abs() <= Z,
        "p = {p}: mean output differs from mean input by {mean_diff:e}, {mean_z:+.2} standard errors ({mean_se:e})"
    );
}

/// p = 0.1: about 90 % kept, kept units scaled by exactly 1/0.9, mean preserved.
#[test]
fn keep_rate_scale_and_mean_at_p_0_1() {
    check_statistics::<Drop10<f64>>(0.1, 101);
}

/// p = 0.5: about half kept, kept units doubled exactly, mean preserved.
#[test]
fn keep_rate_scale_and_mean_at_p_0_5() {
    check_statistics::<Drop50<f64>>(0.5, 105);
}

/// p = 0.9: about 10 % kept, kept units scaled by exactly 1/0.1 (in f64), mean preserved.
#[test]
fn keep_rate_scale_and_mean_at_p_0_9() {
    check_statistics::<Drop90<f64>>(0.9, 109);
}

/// The one factor by which a train-mode forward of `Net` (a dropout with probability `p`)
/// scales every kept unit of an f32 batch, as a signed distance in units in the last place
/// from the correctly rounded `1/(1 − p)`; `None` when no factor within 16 ulp explains every
/// kept unit.
fn f32_factor_ulps<Net: Network<f32, N, N>>(p: f64) -> Option<i32> {
    let mut net = Net::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
    let mut data = Xoshiro128PlusPlus::seed_from_u64(8);
    let x = SMatrix::<f32, N, B>::from_fn(|_, _| data.random_range(0.5f32..1.5));
    let mut tape = Net::tape::<B>();
    let y = *net.forward_train(&x, &mut tape, &mut rng);
    let kept: Vec<(f32, f32)> = x
        .iter()
        .zip(y.iter())
        .filter(|(_, yv)| **yv != 0.0)
        .map(|(&xv, &yv)| (xv, yv))
        .collect();
    assert!(kept.len() > 100, "p = {p}: too few kept units");
    let correct = (1.0 / (1.0 - p)) as f32;
    (-16i32..=16).find(|&ulps| {
        let s = f32::from_bits(correct.to_bits().wrapping_add_signed(ulps));
        kept.iter()
            .all(|&(xv, yv)| (xv * s).to_bits() == yv.to_bits())
    })
}

/// In f32, every kept unit is its input times one factor, rounded once, and that factor is
/// `1/(1 − p)` to within f32 precision (a relative error below 1e-6, a few units in the last
/// place). Prints how far the factor is from the correctly rounded `1/(1 − p)`.
#[test]
fn kept_units_scaled_by_one_factor_in_f32() {
    for (p, ulps) in [
        (0.1, f32_factor_ulps::<Drop10<f32>>(0.1)),
        (0.5, f32_factor_ulps::<Drop50<f32>>(0.5)),
        (0.9, f32_factor_ulps::<Drop90<f32>>(0.9)),
    ] {
        let ulps =
            ulps.unwrap_or_else(|| panic!("p = {p}: kept units are not all scaled by one factor"));
        let correct = (1.0 / (1.0 - p)) as f32;
        let factor = f32::from_bits(correct.to_bits().wrapping_add_signed(ulps));
        let rel = (f64::from(factor) - 1.0 / (1.0 - p)).abs() * (1.0 - p);
        println!(
            "f32, p = {p}: factor {factor:e}, {ulps:+} ulp from the correctly rounded {correct:e}, relative error {rel:.1e}"
        );
        assert!(rel < 1e-6, "p = {p}: factor {factor} is not 1/(1 − p)");
    }
}

/// In f32, the factor is the correctly rounded `1/(1 − p)`, as in f64 (and as PyTorch's
/// `1/(1 − p)`, computed in double and rounded once).
#[test]
fn kept_units_scaled_by_correctly_rounded_factor_in_f32() {
    assert_eq!(f32_factor_ulps::<Drop10<f32>>(0.1), Some(0), "p = 0.1");
    assert_eq!(f32_factor_ulps::<Drop50<f32>>(0.5), Some(0), "p = 0.5");
    assert_eq!(f32_factor_ulps::<Drop90<f32>>(0.9), Some(0), "p = 0.9");
}

/// The mask is the documented function of the RNG: unit by unit in storage order (feature
/// within sample), one 32-bit draw each, kept when the draw is at least `round(p·2³²)`.
#[test]
fn mask_follows_the_documented_draws() {
    fn check<Net: Network<f64, N, N>>(p: f64) {
        let mut net = Net::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(31);
        let mut replay = rng.clone();
        let x = inputs(&mut Xoshiro128PlusPlus::seed_from_u64(32));
        let mut tape = Net::tape::<B>();
        let y = *net.forward_train(&x, &mut tape, &mut rng);
        let threshold = (p * 4294967296.0).round() as u64;
        for (i, yv) in y.as_slice().iter().enumerate() {
            let keep = u64::from(replay.next_u32()) >= threshold;
            assert_eq!(
                *yv != 0.0,
                keep,
                "p = {p}: unit {i} of the column-major batch"
            );
        }
        assert_eq!(
            rng.next_u64(),
            replay.next_u64(),
            "p = {p}: the forward must draw exactly one 32-bit number per unit"
        );
    }
    check::<Drop10<f64>>(0.1);
    check::<Drop50<f64>>(0.5);
    check::<Drop90<f64>>(0.9);
}

/// With `p = 0` train mode is the identity bit for bit, even for NaN, infinities and −0,
/// and so is its backward.
#[test]
fn p_zero_is_the_identity_in_train_mode() {
    let mut net = Drop0::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let x = awkward();
    let mut tape = Drop0::<f64>::tape::<B>();
    let y = *net.forward_train(&x, &mut tape, &mut rng);
    assert_eq!(bits(&y), bits(&x));
    let ordinary = inputs(&mut rng);
    let y = *net.forward_train(&ordinary, &mut tape, &mut rng);
    assert_eq!(bits(&y), bits(&ordinary));
    let mut grads = Drop0::<f64>::gradients();
    let mut dx = SMatrix::<f64, N, B>::zeros();
    let dy = awkward();
    net.backward(&ordinary, &mut tape, &dy, &mut grads, Some(&mut dx));
    assert_eq!(bits(&dx), bits(&dy));
}

/// Eval mode is the identity bit for bit for every `p`, in the network and in its inference
/// form.
#[test]
fn eval_mode_is_the_identity() {
    let x = awkward();
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(0);
    assert_eq!(bits(&Drop10::<f64>::new(rng).forward(&x)), bits(&x));
    assert_eq!(bits(&Drop50::<f64>::new(rng).forward(&x)), bits(&x));
    assert_eq!(bits(&Drop90::<f64>::new(rng).forward(&x)), bits(&x));
    assert_eq!(bits(&Drop0::<f64>::new(rng).forward(&x)), bits(&x));
    assert_eq!(
        bits(&Drop90::<f64>::new(rng).to_inference().forward(&x)),
        bits(&x)
    );

    // Inside a network: eval mode is as if the dropout were not there, and a train-mode
    // forward in between changes nothing.
    let mut net = Regularised::<f64>::new(rng);
    let x = SMatrix::<f64, 6, 4>::from_fn(|_, _| rng.random_range(-1.0..1.0));
    let (fc, out) = (&net.params.fc, &net.params.out);
    let hidden = fc.weight * x + SMatrix::<f64, 8, 4>::from_columns(&[fc.bias; 4]);
    let by_hand = out.weight * hidden + SMatrix::<f64, 3, 4>::from_columns(&[out.bias; 4]);
    let before = net.forward(&x);
    for (a, e) in before.iter().zip(by_hand.iter()) {
        assert!(
            (a - e).abs() <= 1e-14 * e.abs().max(1.0),
            "{before} vs {by_hand}"
        );
    }
    let mut tape = Regularised::<f64>::tape::<4>();
    net.forward_train(&x, &mut tape, rng);
    assert_eq!(bits(&net.forward(&x)), bits(&before));
    assert_eq!(bits(&net.to_inference().forward(&x)), bits(&before));
}

/// The same seed gives the same mask (and output, bit for bit); another seed, or the next
/// forward with the same RNG, gives another mask; and f32 and f64 networks draw the same mask
/// from the same seed.
#[test]
fn same_seed_same_mask() {
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(0);
    let mut net = Drop50::<f64>::new(rng);
    let mut net32 = Drop50::<f32>::new(rng);
    let x = inputs(&mut Xoshiro128PlusPlus::seed_from_u64(9));
    let x32 = x.map(|v| v as f32);
    let mut tape = Drop50::<f64>::tape::<B>();
    let mut tape32 = Drop50::<f32>::tape::<B>();
    let mut run = |seed: u64| {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
        let first = *net.forward_train(&x, &mut tape, &mut rng);
        let second = *net.forward_train(&x, &mut tape, &mut rng);
        (first, second)
    };
    let (a, a_next) = run(42);
    let (b, _) = run(42);
    let (c, _) = run(43);
    assert_eq!(bits(&a), bits(&b), "same seed, different output");
    let mask = |y: &SMatrix<f64, N, B>| y.map(|v| v != 0.0);
    assert_ne!(mask(&a), mask(&c), "seeds 42 and 43 gave the same mask");
    assert_ne!(mask(&a), mask(&a_next), "two forwards drew the same mask");

    let y32 = *net32.forward_train(
        &x32,
        &mut tape32,
        &mut Xoshiro128PlusPlus::seed_from_u64(42),
    );
    assert_eq!(
        y32.map(|v| v != 0.0),
        mask(&a),
        "f32 and f64 draw different masks from one seed"
    );
}
