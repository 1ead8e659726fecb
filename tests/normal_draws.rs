//! The library's standard normal sampler ([`standard_normal_pair`], Marsaglia's polar
//! method) draws the standard normal distribution: over 2²⁰ draws in `f64` and in `f32`, the
//! Kolmogorov–Smirnov distance to Φ, the first four moments, the tails beyond 2, 3 and 4, and
//! the correlation of the two values of a pair are within what chance allows (bounds at
//! about four standard errors, or the KS test at the 0.1 % level).

use staticnn::Scalar;
use staticnn::init::standard_normal_pair;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

const N: usize = 1 << 20;

/// Φ, the standard normal distribution function.
fn phi(x: f64) -> f64 {
    0.5 * (1.0 + libm::erf(x / core::f64::consts::SQRT_2))
}

/// `N` draws in `T` from the seed, as `f64`, and the correlation of the pairs' two values.
fn draws<T: Scalar + Into<f64>>(seed: u64) -> (Vec<f64>, f64) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut z = Vec::with_capacity(N);
    let mut sxy = 0.0;
    for _ in 0..N / 2 {
        let [a, b] = standard_normal_pair::<T, _>(&mut rng);
        let (a, b): (f64, f64) = (a.into(), b.into());
        sxy += a * b;
        z.push(a);
        z.push(b);
    }
    (z, sxy / (N / 2) as f64)
}

fn check(what: &str, (mut z, corr): (Vec<f64>, f64)) {
    let n = N as f64;
    let se = 1.0 / n.sqrt();
    let mean = z.iter().sum::<f64>() / n;
    let m = |k: i32| z.iter().map(|x| (x - mean).powi(k)).sum::<f64>() / n;
    let (var, skew, kurt) = (m(2), m(3), m(4));
    // Standard errors: mean 1/√n, variance √2/√n, third moment √15/√n, fourth √96/√n.
    assert!(mean.abs() < 4.0 * se, "{what}: mean {mean}");
    assert!(
        (var - 1.0).abs() < 4.0 * 2f64.sqrt() * se,
        "{what}: variance {var}"
    );
    assert!(
        skew.abs() < 4.0 * 15f64.sqrt() * se,
        "{what}: third moment {skew}"
    );
    assert!(
        (kurt - 3.0).abs() < 4.0 * 96f64.sqrt() * se,
        "{what}: fourth moment {kurt}"
    );
    // The two values of a pair are independent: correlation within 4/√(n/2).
    assert!(
        corr.abs() < 4.0 / (n / 2.0).sqrt(),
        "{what}: pair correlation {corr}"
    );
    // Tails: the count beyond t is binomial(n, p).
    for t in [2.0, 3.0, 4.0] {
        let p = 2.0 * (1.0 - phi(t));
        let count = z.iter().filter(|x| x.abs() > t).count() as f64;
        let sd = (n * p * (1.0 - p)).sqrt();
        assert!(
            (count - n * p).abs() < 4.0 * sd,
            "{what}: {count} beyond ±{t}, expected {:.1} ± {sd:.1}",
            n * p
        );
    }
    assert!(z.iter().all(|x| x.is_finite()), "{what}: non-finite draw");
    // Kolmogorov–Smirnov: sup |F_n − Φ| below the 0.1 % critical value 1.95/√n.
    z.sort_by(f64::total_cmp);
    let d = z
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = phi(x);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max);
    assert!(
        d < 1.95 * se,
        "{what}: KS distance {d} (critical {})",
        1.95 * se
    );
}

#[test]
fn f64_draws_are_standard_normal() {
    check("f64", draws::<f64>(7));
}

#[test]
fn f32_draws_are_standard_normal() {
    check("f32", draws::<f32>(8));
}

/// A sampler that is wrong with the right mean and variance must fail the checks: the same
/// directions, but a radius drawn from the exponential distribution (`E r² = 2`, so each
/// value still has mean 0 and variance 1) instead of the Rayleigh one.
#[test]
#[should_panic(expected = "f64-wrong")]
fn a_wrong_sampler_fails() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
    let mut z = Vec::with_capacity(N);
    for _ in 0..N / 2 {
        let [a, b] = standard_normal_pair::<f64, _>(&mut rng);
        let r = (a * a + b * b).sqrt();
        // exp(−r²/2) is uniform on (0, 1) for a normal pair; −ln of it is exponential.
        let e = r * r / 2.0;
        z.push(a / r * e);
        z.push(b / r * e);
    }
    check("f64-wrong", (z, 0.0));
}
