//! Branch-free `f32` exponential, tanh and sigmoid, written so that loops over slices
//! vectorise.
//!
//! [`Tanh`](crate::layers::Tanh) and [`Sigmoid`](crate::layers::Sigmoid) use these for `f32`;
//! `f64` keeps `libm`, whose results the gradient checks and the PyTorch vectors (compared
//! to 1e-12) were recorded with.
//!
//! Every function is a straight line of additions, multiplications, divisions,
//! comparisons turned into selects and integer operations on the bits: no branch, no
//! table, no call and no `f64`. A loop over a slice therefore compiles to SIMD code in a
//! default build (SSE2 on x86-64, NEON on AArch64), four or more values per instruction,
//! and to a few hundred bytes of plain single-precision code on microcontrollers.
//!
//! # Accuracy
//!
//! Measured against `libm`'s `f64` functions, with the error in units in the last place
//! (ulp) of the exact result at its own binade:
//!
//! | function | bound | largest error measured | over |
//! | --- | --- | --- | --- |
//! | [`tanh`] | 2 ulp | 1.271 ulp (at `|x|` = 0.8896131) | every `f32` bit pattern |
//! | [`sigmoid`] | 2 ulp | 1.473 ulp (at `x` = −5.8711243) | every `f32` bit pattern |
//!
//! A relative error of 2 ulp is at most 2 · 2⁻²³ ≈ 2.4·10⁻⁷. `tests/activation_accuracy.rs`
//! checks the bound on every bit pattern of the ranges where the approximations change form
//! or round to the extremes and on every 509th elsewhere, both signs; its ignored test
//! `every_f32` checks every bit pattern (`cargo test --release --test activation_accuracy
//! -- --ignored`). Special values are exact: `tanh(±0) = ±0` and `tanh(x) = x` for
//! subnormal `x`, `tanh(x) = ±1` for `|x| ≥ 9.1` and `±∞`, `sigmoid(+∞) = 1`,
//! `sigmoid(−∞) = 0`, results down to the smallest subnormal, and NaN gives NaN.
//!
//! # How
//!
//! - `eᶻ` for `z ≤ 0`: `z = n·ln 2 + r` with `n = round(z / ln 2)` (rounded by adding and
//!   subtracting 1.5·2²³, which leaves `n` in the low bits) and `r = z − n·ln 2` computed
//!   with `ln 2` split in a high part whose product with `n` is exact and a small rest;
//!   then `eʳ ≈ 1 + u`, `u = r + r²·Q(r)` on `|r| ≤ 0.35`, kept as the rounded sum and its
//!   exact rounding error, and the scale `2ⁿ` is built from the bits as two factors
//!   `2^⌊n/2⌋ · 2^⌈n/2⌉`, so that results down to the subnormals round only once.
//! - `tanh x = x + x³·P(x²)` for `|x| < 0.875`, `tanh x = ±(1 − 2m / (1 + m))` with
//!   `m = e^{−2|x|}` above (1 selected past `|x|` = 10); the sign is applied last. Its
//!   `eᶻ` is the one above without the clamp and with one scaling by `2ⁿ` (exact for
//!   `z ≥ −20`), which gives the same bits on a shorter chain of dependent operations: a
//!   single sample's layer waits for that chain (W1).
//! - `sigmoid x = 1 / (1 + m)` for `x ≥ 0` and `m / (1 + m)` for `x < 0`, with
//!   `m = e^{−|x|}`, so that neither side loses accuracy to cancellation; this is PyTorch's
//!   `1 / (1 + e^{−x})` rewritten.
//! - For the sigmoid, the rounding errors of `eʳ` and of `1 + m` are carried (exactly, by
//!   the two-sum of a number and a smaller one) into a first-order correction of the
//!   quotient, so that the result has little more than the final division's rounding. Tanh
//!   does without: its exponential form starts where those errors are damped.
//!
//! `Q` and `P` are minimax fits of the relative error (Remez exchange), made by
//! `scripts/fit_activations.py` and rounded to `f32`.

use core::f32::consts::LOG2_E;

/// The high part of `ln 2`, 0.693115234375: 12 significant bits, so `n · LN2_HI` is exact
/// for `|n| < 2¹²`.
const LN2_HI: f32 = f32::from_bits(0x3f31_7000);
/// `ln 2 − LN2_HI`, rounded.
const LN2_LO: f32 = 3.194_618_3e-5;
/// 1.5·2²³: adding it rounds an `f32` of magnitude below 2²² to an integer, which then sits
/// in the low bits of the sum.
const ROUND: f32 = 12_582_912.0;
/// Below this, `eᶻ` rounds to zero in `f32` (`ln 2⁻¹⁵⁰ ≈ −103.97`).
const EXP_MIN: f32 = -104.0;
/// `Q` of `eʳ ≈ 1 + r + r²·Q(r)`, lowest degree first.
const EXP_Q: [f32; 5] = [
    4.999_999_4e-1,
    1.666_651_5e-1,
    4.166_845_6e-2,
    8.369_41e-3,
    1.381_316_1e-3,
];
/// Where tanh switches from its odd polynomial to its exponential form.
const TANH_SMALL: f32 = 0.875;
/// Past this `|x|`, tanh rounds to ±1 (from about 9.01 on); its argument is clamped here.
const TANH_CLAMP: f32 = 10.0;
/// `P` of `tanh x ≈ x + x³·P(x²)`, lowest degree first.
const TANH_P: [f32; 6] = [
    -3.333_324_2e-1,
    1.333_097_5e-1,
    -5.376_16e-2,
    2.101_710_4e-2,
    -7.003_251_5e-3,
    1.370_989_8e-3,
];

/// Horner's rule, highest degree last in `c`.
#[inline(always)]
fn horner<const N: usize>(c: &[f32; N], t: f32) -> f32 {
    let mut acc = c[N - 1];
    for &v in c[..N - 1].iter().rev() {
        acc = acc * t + v;
    }
    acc
}

/// `2^k` for `−126 ≤ k ≤ 127`, from the bits.
#[inline(always)]
fn pow2(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32) << 23)
}

/// `eᶻ` for `z ≤ 0` (or NaN) as an unevaluated sum `hi + lo` carrying about 30 bits; below
/// −104 the result is 0.
#[inline(always)]
fn exp_nonpositive(z: f32) -> (f32, f32) {
    // A select rather than `max`, so that NaN passes through (and SSE's `maxps` serves).
    let z = if z < EXP_MIN { EXP_MIN } else { z };
    let t = z * LOG2_E + ROUND;
    let nf = t - ROUND;
    let n = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = (z - nf * LN2_HI) - nf * LN2_LO;
    let u = r + r * r * horner(&EXP_Q, r);
    // `1 + u = p + p_lo` exactly (`|u| < 1`).
    let p = 1.0 + u;
    let p_lo = u - (p - 1.0);
    // `n` is in −151 ..= 0: both halves of the scale are normal, `p · 2^{n₁}` is exact and
    // the second product rounds once, also into the subnormals.
    let n1 = n >> 1;
    let (s1, s2) = (pow2(n1), pow2(n.wrapping_sub(n1)));
    (p * s1 * s2, p_lo * s1 * s2)
}

/// Hyperbolic tangent, within 2 ulp of the exact result (see the [module](self) docs).
///
/// Branch-free: a loop of it over a slice vectorises, as [`tanh_slice`] does.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let s = a * a;
    let small = a + a * s * horner(&TANH_P, s);
    // tanh a = 1 − w with w = 2m / (1 + m), m = e^{−2a} ≤ 0.18. The errors of m and of
    // 1 + m reach the result damped by w / (1 − w) ≤ 0.39, so unlike the sigmoid it needs
    // no correction (which measured 0.1 ulp better and cost a second division).
    let m = exp_tanh(a);
    let large = 1.0 - (m + m) / (1.0 + m);
    // Past TANH_CLAMP the result is 1 (`m` is then meaningless); NaN fails both comparisons
    // and takes the polynomial, which keeps it NaN; the sign is put back last, so that
    // tanh(−0) = −0.
    let large = if a > TANH_CLAMP { 1.0 } else { large };
    (if a >= TANH_SMALL { large } else { small }).copysign(x)
}

/// `e^{−2a}` for `TANH_SMALL ≤ a ≤ TANH_CLAMP`, the first part of [`exp_nonpositive`]`(−2a)`
/// with the same bits, on a shorter chain of dependent operations: no clamp first (the
/// caller selects 1 past `TANH_CLAMP`), `t` straight from `a` (`(−2a)·log₂e` and
/// `a·(−2·log₂e)` are the same product, scaled by 2), and one scaling by `2ⁿ`
/// (`−29 ≤ n ≤ −3`: exact, as the two factors are). Outside that range the result is
/// meaningless but computed without a panic.
#[inline(always)]
fn exp_tanh(a: f32) -> f32 {
    let z = -2.0 * a;
    let t = a * (-2.0 * LOG2_E) + ROUND;
    let nf = t - ROUND;
    let n = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = (z - nf * LN2_HI) - nf * LN2_LO;
    let u = r + r * r * horner(&EXP_Q, r);
    (1.0 + u) * pow2(n)
}

/// Logistic sigmoid `1 / (1 + e^{−x})`, within 2 ulp of the exact result (see the
/// [module](self) docs).
///
/// Branch-free: a loop of it over a slice vectorises, as [`sigmoid_slice`] does.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    // σ(x) = num / (1 + m) with m = e^{−|x|} = mh + ml, num = 1 for x ≥ 0 and m below;
    // 1 + m = d + e.
    let (mh, ml) = exp_nonpositive(-x.abs());
    let d = 1.0 + mh;
    let e = (mh - (d - 1.0)) + ml;
    let neg = x < 0.0;
    let num = if neg { mh } else { 1.0 };
    let num_lo = if neg { ml } else { 0.0 };
    let q = num / d;
    q + (num_lo - q * e) / d
}

/// `y[k] = tanh(x[k])` for the common length of the two slices.
///
/// With the `std` feature on x86-64, a copy compiled for AVX2 (8 values per instruction)
/// runs when the CPU has it; it gives the same bits (no fused multiply-add).
#[cfg_attr(
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"),
    inline(always)
)]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")),
    inline
)]
pub fn tanh_slice(x: &[f32], y: &mut [f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { tanh_slice_avx2(x, y) };
    }
    tanh_loop(x, y);
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
#[target_feature(enable = "avx2")]
#[inline]
fn tanh_slice_avx2(x: &[f32], y: &mut [f32]) {
    tanh_loop(x, y);
}

#[inline(always)]
fn tanh_loop(x: &[f32], y: &mut [f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv = tanh(xv);
    }
}

/// `y[k] = sigmoid(x[k])` for the common length of the two slices.
#[inline]
pub fn sigmoid_slice(x: &[f32], y: &mut [f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv = sigmoid(xv);
    }
}
