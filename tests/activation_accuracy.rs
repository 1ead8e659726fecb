//! The accuracy bound of `staticnn::math` (the `f32` tanh and sigmoid of the `Tanh` and
//! `Sigmoid` layers), checked against `libm`'s `f64` functions.
//!
//! The errors are in ulp of the exact result (the `f64` reference) at its own binade, the
//! usual definition; `BOUND_ULP` is the documented bound. The default tests cover every bit
//! pattern of the ranges where the approximations change form or round to the extremes and
//! every `STRIDE`-th bit pattern elsewhere, both signs; `every_f32` (ignored by default,
//! 22 minutes in release mode on a loaded 2-vCPU machine) covers every bit pattern:
//!
//! ```sh
//! cargo test --release --test activation_accuracy -- --ignored --nocapture
//! ```

use staticnn::math;
use staticnn::prelude::*;

/// The documented bound, in ulp.
const BOUND_ULP: f64 = 2.0;
/// Every `STRIDE`-th bit pattern outside the dense ranges (prime, so that the samples fall
/// on every residue of the low mantissa bits): 16 481 in every binade.
const STRIDE: u32 = 509;

/// The spacing of `f32` values at the binade of `exact` (subnormal spacing below 2⁻¹²⁶).
fn ulp(exact: f64) -> f64 {
    let e = exact.abs();
    if e < f64::from(f32::MIN_POSITIVE) {
        return 2f64.powi(-149);
    }
    let exponent = ((e.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    2f64.powi(exponent - 23)
}

/// `f32` tanh's exact value.
fn tanh_ref(x: f32) -> f64 {
    libm::tanh(f64::from(x))
}

/// `f32` sigmoid's exact value.
fn sigmoid_ref(x: f32) -> f64 {
    1.0 / (1.0 + libm::exp(-f64::from(x)))
}

/// The largest error in ulp over the bit patterns, and where; NaN results fail at once.
struct Worst {
    ulp: f64,
    at: f32,
}

fn worst(f: fn(f32) -> f32, exact: fn(f32) -> f64, bits: impl Iterator<Item = u32>) -> Worst {
    let mut w = Worst { ulp: 0.0, at: 0.0 };
    for b in bits {
        let x = f32::from_bits(b);
        if !x.is_finite() {
            continue;
        }
        let (got, want) = (f(x), exact(x));
        assert!(!got.is_nan(), "NaN at x = {x:e} ({b:#010x})");
        let err = (f64::from(got) - want).abs() / ulp(want);
        if err > w.ulp {
            w = Worst { ulp: err, at: x };
        }
    }
    w
}

/// The bit patterns of the `f32` values in `[lo, hi]`, both positive.
fn span(lo: f32, hi: f32) -> core::ops::RangeInclusive<u32> {
    lo.to_bits()..=hi.to_bits()
}

fn check(name: &str, w: Worst) {
    println!("{name}: {:.3} ulp at x = {:e}", w.ulp, w.at);
    assert!(
        w.ulp <= BOUND_ULP,
        "{name}: error {} ulp at x = {:e} ({:#010x}) exceeds {BOUND_ULP} ulp",
        w.ulp,
        w.at,
        w.at.to_bits()
    );
}

#[test]
fn tanh_is_odd_and_within_bound() {
    // Odd by construction (an odd polynomial and `copysign`), so the positive half is
    // measured and the negative half compared with it.
    for b in (0..0x7f80_0000u32).step_by(STRIDE as usize) {
        let x = f32::from_bits(b);
        assert_eq!(
            math::tanh(-x).to_bits(),
            (-math::tanh(x)).to_bits(),
            "tanh(-{x:e})"
        );
    }
    let sampled = (0..0x7f80_0000u32).step_by(STRIDE as usize);
    check("tanh, every 509th", worst(math::tanh, tanh_ref, sampled));
    // Around the switch from the polynomial (|x| < 0.875) to the exponential form, where
    // both are least accurate.
    check(
        "tanh, [0.8, 1]",
        worst(math::tanh, tanh_ref, span(0.8, 1.0)),
    );
}

#[test]
fn tanh_saturates_exactly() {
    // From about 9.01 on, tanh rounds to 1 in f32; the approximation must give 1 exactly
    // there (and within the bound just below).
    check(
        "tanh, [8, 10]",
        worst(math::tanh, tanh_ref, span(8.0, 10.0)),
    );
    for b in span(9.1, f32::MAX).step_by(STRIDE as usize) {
        let x = f32::from_bits(b);
        assert_eq!(math::tanh(x), 1.0, "tanh({x:e})");
        assert_eq!(math::tanh(-x), -1.0, "tanh(-{x:e})");
    }
    assert_eq!(math::tanh(f32::MAX), 1.0);
    assert_eq!(math::tanh(f32::INFINITY), 1.0);
    assert_eq!(math::tanh(f32::NEG_INFINITY), -1.0);
}

#[test]
fn tanh_special_values() {
    assert_eq!(math::tanh(0.0).to_bits(), 0.0f32.to_bits());
    assert_eq!(math::tanh(-0.0).to_bits(), (-0.0f32).to_bits());
    // Subnormals and the smallest normals: tanh x = x in f32.
    for b in (1..0x0100_0000u32).step_by(STRIDE as usize) {
        let x = f32::from_bits(b);
        assert_eq!(math::tanh(x).to_bits(), x.to_bits(), "tanh({x:e})");
        assert_eq!(math::tanh(-x).to_bits(), (-x).to_bits(), "tanh(-{x:e})");
    }
    for nan in [f32::NAN, -f32::NAN, f32::from_bits(0x7f80_0001)] {
        assert!(math::tanh(nan).is_nan());
    }
}

#[test]
fn sigmoid_within_bound() {
    let all = |bits: u32| (bits..0x7f80_0000u32).step_by(STRIDE as usize);
    let neg = |x: f32| math::sigmoid(-x);
    let neg_ref = |x: f32| sigmoid_ref(-x);
    check(
        "sigmoid(x ≥ 0), every 509th",
        worst(math::sigmoid, sigmoid_ref, all(0)),
    );
    check("sigmoid(x < 0), every 509th", worst(neg, neg_ref, all(1)));
    // Where 1 + e^{−|x|} is largest and its rounding weighs most, and across the subnormal
    // results (x < −87.3), where the scale 2ⁿ is split in two.
    check(
        "sigmoid, [0.5, 0.75]",
        worst(math::sigmoid, sigmoid_ref, span(0.5, 0.75)),
    );
    check(
        "sigmoid, [-0.75, -0.5]",
        worst(neg, neg_ref, span(0.5, 0.75)),
    );
    check(
        "sigmoid, [-104, -80]",
        worst(neg, neg_ref, span(80.0, 104.0)),
    );
}

#[test]
fn sigmoid_special_values() {
    assert_eq!(math::sigmoid(0.0), 0.5);
    assert_eq!(math::sigmoid(-0.0), 0.5);
    assert_eq!(math::sigmoid(f32::INFINITY), 1.0);
    assert_eq!(math::sigmoid(f32::NEG_INFINITY).to_bits(), 0);
    assert_eq!(math::sigmoid(f32::MAX), 1.0);
    assert_eq!(math::sigmoid(-f32::MAX).to_bits(), 0);
    // The smallest subnormal, e^{−103.28}, and the underflow to zero below ln 2⁻¹⁵⁰.
    assert_eq!(math::sigmoid(-103.28), f32::from_bits(1));
    assert_eq!(math::sigmoid(-104.0).to_bits(), 0);
    for nan in [f32::NAN, -f32::NAN] {
        assert!(math::sigmoid(nan).is_nan());
    }
}

#[test]
fn slices_and_layers_use_the_same_functions() {
    let x: [f32; 37] = core::array::from_fn(|k| (k as f32 - 18.0) * 0.61);
    let mut y = [0.0f32; 37];
    math::tanh_slice(&x, &mut y);
    for (xv, yv) in x.iter().zip(&y) {
        assert_eq!(
            yv.to_bits(),
            math::tanh(*xv).to_bits(),
            "tanh_slice at {xv}"
        );
    }
    math::sigmoid_slice(&x, &mut y);
    for (xv, yv) in x.iter().zip(&y) {
        assert_eq!(
            yv.to_bits(),
            math::sigmoid(*xv).to_bits(),
            "sigmoid_slice at {xv}"
        );
    }

    // The layers: f32 through `math`, f64 through the scalar's own functions (libm).
    let xm = SMatrix::<f32, 37, 1>::from_column_slice(&x);
    let mut ym = SMatrix::<f32, 37, 1>::zeros();
    <Tanh as Layer<f32, 37, 37>>::forward(&Tanh, &(), &(), &xm, &mut ym);
    assert!(xm.iter().zip(ym.iter()).all(|(a, b)| math::tanh(*a) == *b));
    <Sigmoid as Layer<f32, 37, 37>>::forward(&Sigmoid, &(), &(), &xm, &mut ym);
    assert!(
        xm.iter()
            .zip(ym.iter())
            .all(|(a, b)| math::sigmoid(*a) == *b)
    );
    let xd = xm.map(f64::from);
    let mut yd = SMatrix::<f64, 37, 1>::zeros();
    <Tanh as Layer<f64, 37, 37>>::forward(&Tanh, &(), &(), &xd, &mut yd);
    assert!(xd.iter().zip(yd.iter()).all(|(&a, &b)| libm::tanh(a) == b));
    <Sigmoid as Layer<f64, 37, 37>>::forward(&Sigmoid, &(), &(), &xd, &mut yd);
    assert!(
        xd.iter()
            .zip(yd.iter())
            .all(|(&a, &b)| 1.0 / (1.0 + libm::exp(-a)) == b)
    );
}

/// Every `f32` bit pattern; prints the largest errors. Release mode: minutes.
#[test]
#[ignore = "exhaustive: run with --release -- --ignored"]
fn every_f32() {
    check("tanh, every f32", worst(math::tanh, tanh_ref, 0..=u32::MAX));
    check(
        "sigmoid, every f32",
        worst(math::sigmoid, sigmoid_ref, 0..=u32::MAX),
    );
}
