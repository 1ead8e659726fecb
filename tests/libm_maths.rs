//! Results do not depend on unrelated dependencies: every exponential, logarithm, tanh and
//! power the library computes is `libm`'s, even in a build in which some crate enables
//! `num-traits/std`, which switches `nalgebra`'s `RealField`/`ComplexField` maths (and
//! `num_traits::Float`) to the standard library's functions.
//!
//! This test build is such a build: the dev-dependency `plotters` enables `num-traits/std`
//! (checked first, so that the test is known to be able to fail). For each layer, loss and
//! initialisation that uses a transcendental function, the test searches a range of inputs
//! for those on which the standard library's function and `libm`'s give different results
//! (about one input in ten for `exp`, `ln` and `pow`, one in fifty for `tanh`), requires that
//! it found some, and asserts that the library's outputs on them are the `libm` ones, bit
//! for bit. The expected values are computed here from `libm` with the library's documented
//! formulas, not recorded.

use staticnn::init::Native;
use staticnn::layers::{ELU, Sigmoid, Softmax, Tanh};
use staticnn::loss::{BceWithLogits, SoftmaxCrossEntropy};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{Rng, SeedableRng};

/// Inputs to search per case.
const TRIES: usize = 200_000;
/// Differing inputs to keep per case (the batch width of the layer checks).
const KEEP: usize = 16;

/// A reproducible stream of values in `[lo, hi)`.
fn values(lo: f64, hi: f64, seed: u64) -> impl Iterator<Item = f64> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    (0..TRIES).map(move |_| lo + (hi - lo) * (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
}

/// The first `KEEP` values of `xs` on which `std_form` and `libm_form` differ in their bits;
/// fails when there are fewer (the case could not tell the two apart).
fn differing<T: Copy + core::fmt::Debug>(
    what: &str,
    xs: impl Iterator<Item = T>,
    std_form: impl Fn(T) -> u64,
    libm_form: impl Fn(T) -> u64,
) -> [T; KEEP] {
    let found: Vec<T> = xs
        .filter(|&x| std_form(x) != libm_form(x))
        .take(KEEP)
        .collect();
    assert_eq!(
        found.len(),
        KEEP,
        "{what}: std and libm agree on all but {} of {TRIES} inputs",
        found.len()
    );
    found.try_into().unwrap()
}

fn b32(v: f32) -> u64 {
    u64::from(v.to_bits())
}

fn b64(v: f64) -> u64 {
    v.to_bits()
}

/// The premise: in this build, `RealField`'s functions are the standard library's, and they
/// differ from `libm`'s (otherwise the tests below could not fail).
#[test]
#[allow(
    clippy::disallowed_methods,
    reason = "checks that the feature-dependent forms are std's in this build"
)]
fn this_build_has_num_traits_std() {
    use staticnn::nalgebra::ComplexField;
    let mut differ = 0;
    for x in values(-20.0, 20.0, 1) {
        assert_eq!(ComplexField::exp(x).to_bits(), x.exp().to_bits());
        let y = x as f32;
        assert_eq!(ComplexField::tanh(y).to_bits(), y.tanh().to_bits());
        differ += usize::from(x.exp().to_bits() != libm::exp(x).to_bits());
    }
    assert!(differ > TRIES / 100, "{differ}");
}

#[test]
fn tanh_f64_is_libm() {
    let xs = differing(
        "tanh",
        values(-4.0, 4.0, 2),
        |x: f64| b64(x.tanh()),
        |x| b64(libm::tanh(x)),
    );
    let x = SMatrix::<f64, KEEP, 1>::from_column_slice(&xs);
    let mut y = SMatrix::<f64, KEEP, 1>::zeros();
    <Tanh as Layer<f64, KEEP, KEEP>>::forward(&Tanh, &(), &(), &x, &mut y);
    for (&x, &y) in xs.iter().zip(y.iter()) {
        assert_eq!(y.to_bits(), libm::tanh(x).to_bits(), "tanh({x:e})");
    }
}

#[test]
fn sigmoid_f64_is_libm() {
    let xs = differing(
        "sigmoid",
        values(-30.0, 30.0, 3),
        |x: f64| b64(1.0 / (1.0 + (-x).exp())),
        |x| b64(1.0 / (1.0 + libm::exp(-x))),
    );
    let x = SMatrix::<f64, KEEP, 1>::from_column_slice(&xs);
    let mut y = SMatrix::<f64, KEEP, 1>::zeros();
    <Sigmoid as Layer<f64, KEEP, KEEP>>::forward(&Sigmoid, &(), &(), &x, &mut y);
    for (&x, &y) in xs.iter().zip(y.iter()) {
        assert_eq!(
            y.to_bits(),
            (1.0 / (1.0 + libm::exp(-x))).to_bits(),
            "σ({x:e})"
        );
    }
}

#[test]
fn elu_is_libm() {
    let elu = ELU { alpha: 1.5 };
    let xs = differing(
        "ELU f32",
        values(-12.0, 0.0, 4).map(|v| v as f32),
        |x: f32| b32(1.5 * (x.exp() - 1.0)),
        |x| b32(1.5 * (libm::expf(x) - 1.0)),
    );
    let x = SMatrix::<f32, KEEP, 1>::from_column_slice(&xs);
    let mut y = SMatrix::<f32, KEEP, 1>::zeros();
    <ELU as Layer<f32, KEEP, KEEP>>::forward(&elu, &(), &(), &x, &mut y);
    for (&x, &y) in xs.iter().zip(y.iter()) {
        assert_eq!(
            y.to_bits(),
            (1.5 * (libm::expf(x) - 1.0)).to_bits(),
            "{x:e}"
        );
    }
    let xs = differing(
        "ELU f64",
        values(-12.0, 0.0, 5),
        |x: f64| b64(1.5 * (x.exp() - 1.0)),
        |x| b64(1.5 * (libm::exp(x) - 1.0)),
    );
    let x = SMatrix::<f64, KEEP, 1>::from_column_slice(&xs);
    let mut y = SMatrix::<f64, KEEP, 1>::zeros();
    <ELU as Layer<f64, KEEP, KEEP>>::forward(&elu, &(), &(), &x, &mut y);
    for (&x, &y) in xs.iter().zip(y.iter()) {
        assert_eq!(y.to_bits(), (1.5 * (libm::exp(x) - 1.0)).to_bits(), "{x:e}");
    }
}

/// Softmax of one column of three: `eˣ⁻ᵐ` each, times the reciprocal of their sum.
fn softmax3(x: [f32; 3], exp: impl Fn(f32) -> f32) -> [f32; 3] {
    let m = x
        .iter()
        .copied()
        .fold(x[0], |a, b| if b > a { b } else { a });
    let e = x.map(|v| exp(v - m));
    let inv = 1.0 / (e[0] + e[1] + e[2]);
    e.map(|v| v * inv)
}

/// Columns of three logits from a stream.
fn triples(seed: u64) -> impl Iterator<Item = [f32; 3]> {
    let mut it = values(-8.0, 8.0, seed).map(|v| v as f32);
    core::iter::from_fn(move || Some([it.next()?, it.next()?, it.next()?]))
}

#[test]
fn softmax_is_libm() {
    let bits = |y: [f32; 3]| y.iter().fold(0u64, |h, v| h.rotate_left(21) ^ b32(*v));
    let cols = differing(
        "softmax",
        triples(6),
        |x| bits(softmax3(x, f32::exp)),
        |x| bits(softmax3(x, libm::expf)),
    );
    let x = SMatrix::<f32, 3, KEEP>::from_fn(|r, c| cols[c][r]);
    let mut y = SMatrix::<f32, 3, KEEP>::zeros();
    <Softmax as Layer<f32, 3, 3>>::forward(&Softmax, &(), &(), &x, &mut y);
    for (c, col) in cols.iter().enumerate() {
        let expected = softmax3(*col, libm::expf);
        for r in 0..3 {
            assert_eq!(y[(r, c)].to_bits(), expected[r].to_bits(), "{col:?}");
        }
    }
}

#[test]
fn softmax_cross_entropy_is_libm() {
    // One column, class 1: m + ln Σ eˣ⁻ᵐ − x₁ (divided by the batch of one).
    let loss = |x: [f32; 3], exp: &dyn Fn(f32) -> f32, ln: &dyn Fn(f32) -> f32| {
        let m = x
            .iter()
            .copied()
            .fold(x[0], |a, b| if b > a { b } else { a });
        let s = x.iter().fold(0.0f32, |s, &v| s + exp(v - m));
        (m + ln(s) - x[1]) / 1.0
    };
    let cols = differing(
        "cross-entropy",
        triples(7),
        |x| b32(loss(x, &f32::exp, &f32::ln)),
        |x| b32(loss(x, &libm::expf, &libm::logf)),
    );
    let target = [ClassIndex::<3>::new(1).unwrap()];
    for col in cols {
        let y = SMatrix::<f32, 3, 1>::from_column_slice(&col);
        let got = SoftmaxCrossEntropy.loss(&y, &target);
        let expected = loss(col, &libm::expf, &libm::logf);
        assert_eq!(got.to_bits(), expected.to_bits(), "{col:?}");
        let mut dy = SMatrix::<f32, 3, 1>::zeros();
        let got = SoftmaxCrossEntropy.loss_and_grad(&y, &target, &mut dy);
        assert_eq!(got.to_bits(), expected.to_bits(), "{col:?}");
    }
}

#[test]
fn bce_with_logits_is_libm() {
    // One logit z, target 1: max(z, 0) − z + ln(1 + e^−|z|).
    let loss = |z: f64, exp: &dyn Fn(f64) -> f64, ln_1p: &dyn Fn(f64) -> f64| {
        let relu = if z > 0.0 { z } else { 0.0 };
        (0.0 + (relu - z * 1.0 + ln_1p(exp(-z.abs())))) / 1.0
    };
    let zs = differing(
        "BCE with logits",
        values(-40.0, 40.0, 8),
        |z| b64(loss(z, &f64::exp, &f64::ln_1p)),
        |z| b64(loss(z, &libm::exp, &libm::log1p)),
    );
    let t = SMatrix::<f64, 1, 1>::new(1.0);
    for z in zs {
        let y = SMatrix::<f64, 1, 1>::new(z);
        let got = BceWithLogits.loss(&y, &t);
        assert_eq!(
            got.to_bits(),
            loss(z, &libm::exp, &libm::log1p).to_bits(),
            "{z:e}"
        );
    }
    // Its gradient, σ(z) − t, divided by the count.
    let zs = differing(
        "BCE gradient",
        values(-40.0, 40.0, 9),
        |z: f64| b64(1.0 / (1.0 + (-z).exp()) - 1.0),
        |z| b64(1.0 / (1.0 + libm::exp(-z)) - 1.0),
    );
    for z in zs {
        let y = SMatrix::<f64, 1, 1>::new(z);
        let mut dy = SMatrix::<f64, 1, 1>::zeros();
        BceWithLogits.loss_and_grad(&y, &t, &mut dy);
        assert_eq!(
            dy[0].to_bits(),
            ((1.0 / (1.0 + libm::exp(-z)) - 1.0) * 1.0).to_bits(),
            "{z:e}"
        );
    }
}

/// The single-precision normal draws of `Init::Normal` with [`Native`] (Marsaglia's polar
/// method: `u, v` uniform in the unit disc, `s = u² + v²`, then `u·f` and `v·f` with
/// `f = √(−2 ln s / s)`), recomputed with the given logarithm.
fn polar(n: usize, seed: u64, ln: impl Fn(f32) -> f32) -> Vec<f32> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut unit = || (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let (u, v, s) = loop {
            let u = 2.0 * unit() - 1.0;
            let v = 2.0 * unit() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                break (u, v, s);
            }
        };
        let f = libm::sqrtf(-2.0 * ln(s) / s);
        out.push(0.0 + 1.0 * u * f);
        out.push(0.0 + 1.0 * v * f);
    }
    out.truncate(n);
    out
}

#[test]
fn native_normal_init_is_libm() {
    const N: usize = 4096;
    let with_libm = polar(N, 10, libm::logf);
    let with_std = polar(N, 10, f32::ln);
    let differ = with_libm
        .iter()
        .zip(&with_std)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert!(differ > 0, "std and libm agree on all {N} draws");
    let mut drawn = vec![0.0f32; N];
    Init::Normal {
        mean: 0.0,
        std: 1.0,
    }
    .fill_with::<Native, f32, _, 1, 1>(
        Native,
        &mut drawn,
        &mut Xoshiro128PlusPlus::seed_from_u64(10),
    );
    let drawn: Vec<u32> = drawn.iter().map(|v| v.to_bits()).collect();
    let expected: Vec<u32> = with_libm.iter().map(|v| v.to_bits()).collect();
    assert!(
        drawn == expected,
        "{differ} of {N} draws differ between std and libm"
    );
}

/// `n` standard normal values by the polar method in `f64` (53-bit uniforms), as
/// `standard_normal_pair` documents, with the given logarithm.
fn polar64(n: usize, seed: u64, ln: impl Fn(f64) -> f64) -> Vec<f64> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let (u, v, s) = loop {
            let u = 2.0 * unit() - 1.0;
            let v = 2.0 * unit() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                break (u, v, s);
            }
        };
        let f = libm::sqrt(-2.0 * ln(s) / s);
        out.push(u * f);
        out.push(v * f);
    }
    out.truncate(n);
    out
}

/// The libm and std forms of the `f64` draws of a seed, after checking that they differ.
fn polar64_forms(n: usize, seed: u64) -> Vec<f64> {
    let with_libm = polar64(n, seed, libm::log);
    let with_std = polar64(n, seed, f64::ln);
    let differ = with_libm
        .iter()
        .zip(&with_std)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert!(differ > 0, "std and libm agree on all {n} draws");
    with_libm
}

/// The default (`RoundedF64`) normal schemes draw in `f64` with `libm`'s logarithm, for
/// `f64` networks and, rounded, for `f32` ones (an odd length uses half of the last pair).
#[test]
fn rounded_normal_init_is_libm() {
    const N: usize = 4095;
    let z = polar64_forms(N, 11);
    let (mean, std) = (0.5, 2.0);
    let init = Init::Normal { mean, std };
    let mut d64 = vec![0.0f64; N];
    init.fill(&mut d64, 1, 1, &mut Xoshiro128PlusPlus::seed_from_u64(11));
    let mut d32 = vec![0.0f32; N];
    init.fill(&mut d32, 1, 1, &mut Xoshiro128PlusPlus::seed_from_u64(11));
    for (k, &z) in z.iter().enumerate() {
        let v = mean + std * z;
        assert_eq!(d64[k].to_bits(), v.to_bits(), "draw {k}");
        assert_eq!(d32[k].to_bits(), (v as f32).to_bits(), "draw {k}");
    }
}

/// `GaussianNoise` draws its noise the same way, in `f64`, one value per feature.
#[test]
fn gaussian_noise_is_libm() {
    use staticnn::data::{Augment, GaussianNoise};
    const N: usize = 4096;
    let z = polar64_forms(N, 12);
    let noise = GaussianNoise { std: 0.3 };
    let mut x64 = [1.0f64; N];
    noise.augment(&mut x64, &mut Xoshiro128PlusPlus::seed_from_u64(12));
    let mut x32 = [1.0f32; N];
    noise.augment(&mut x32, &mut Xoshiro128PlusPlus::seed_from_u64(12));
    for (k, &z) in z.iter().enumerate() {
        assert_eq!(x64[k].to_bits(), (1.0 + 0.3 * z).to_bits(), "feature {k}");
        assert_eq!(
            x32[k].to_bits(),
            (1.0 + (0.3 * z) as f32).to_bits(),
            "feature {k}"
        );
    }
}
