//! `Softmax` in integers: [`QSoftmax`], TensorFlow Lite's int8 `SOFTMAX` reference kernel.
//!
//! The kernel works in gemmlowp's fixed point (a raw `i32` `r` with `I` integer bits is
//! `r / 2^(31 − I)`): each input's difference from the column's maximum is rescaled to
//! Q5.26 by a multiplier `β · s_in · 2²⁶` (`input_multiplier`, `input_left_shift`),
//! `exp` of it is evaluated in Q0.31 (a polynomial on `[−¼, 0)` and a barrel shifter of
//! constant factors for the rest), the exponentials are summed in Q12.19, the sum's
//! reciprocal is found by Newton–Raphson in Q2.29, and each output is
//! `exp · (1 / sum)` rounded to 8 bits, minus 128: output scale 1/256, zero point −128.
//! Differences below `diff_min` (those whose rescaled value would overflow) count as 0.

use super::fixed::{multiply_by_quantized_multiplier, saturating_rounding_doubling_high_mul};
use super::fixed::{quantize_multiplier, rounding_divide_by_pot};
use super::{QLayer, QParams};
use crate::SMatrix;

/// Integer bits of the rescaled differences (Q5.26).
const DIFF_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (Q12.19).
const SUM_BITS: i32 = 12;

/// `x · 2^e` for `e ≥ 0`, saturating (gemmlowp's `SaturatingRoundingMultiplyByPOT` with
/// a positive exponent).
const fn saturating_shift_left(x: i32, e: u32) -> i32 {
    let threshold = (1i32 << (31 - e)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << e
    }
}

/// `exp(a)` for `a` in Q0.31 on `[−¼, 0)`, in Q0.31: the Taylor series around −⅛ to the
/// fourth power, as gemmlowp evaluates it.
const fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    let mul = saturating_rounding_doubling_high_mul;
    let constant_term: i32 = 1_895_147_668; // exp(−1/8)
    let constant_1_over_3 = 715_827_883;
    let x = a.wrapping_add(1 << 28); // a + 1/8
    let x2 = mul(x, x);
    let x3 = mul(x2, x);
    let x4 = mul(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    let poly = rounding_divide_by_pot(
        mul(x4_over_4.wrapping_add(x3), constant_1_over_3).wrapping_add(x2),
        1,
    );
    constant_term.wrapping_add(mul(constant_term, x.wrapping_add(poly)))
}

/// `exp(a)` for `a ≤ 0` in Q5.26, in Q0.31 (gemmlowp's `exp_on_negative_values` with 5
/// integer bits).
pub const fn exp_on_negative_values(a: i32) -> i32 {
    const FRACTIONAL: u32 = (31 - DIFF_BITS) as u32;
    let quarter = 1i32 << (FRACTIONAL - 2);
    let mask = quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_shift_left(a_mod_quarter_minus_one_quarter, DIFF_BITS as u32),
    );
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    // exp(−2^k) in Q0.31, for the bits k = −2..=4 of the remainder.
    const FACTORS: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    let mut k = 0;
    while k < FACTORS.len() {
        let (exponent, factor) = FACTORS[k];
        if DIFF_BITS > exponent {
            let bit = 1i32 << (FRACTIONAL as i32 + exponent);
            if remainder & bit != 0 {
                result = saturating_rounding_doubling_high_mul(result, factor);
            }
        }
        k += 1;
    }
    if a == 0 { i32::MAX } else { result }
}

/// `1 / (1 + x)` for `x` in Q0.31 on `[0, 1)`, in Q0.31 (gemmlowp's
/// `one_over_one_plus_x_for_x_in_0_1`: three Newton–Raphson steps in Q2.29).
const fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let mul = saturating_rounding_doubling_high_mul;
    // RoundingHalfSum(a, 1): (a + one ± 1) / 2 in 64 bits, truncating.
    let sum = a as i64 + i32::MAX as i64;
    let half_denominator = ((sum + if sum >= 0 { 1 } else { -1 }) / 2) as i32;
    let constant_48_over_17: i32 = 1_515_870_810;
    let constant_neg_32_over_17 = -1_010_580_540;
    let one = 1i32 << 29; // 1 in Q2.29
    let mut x = constant_48_over_17.wrapping_add(mul(half_denominator, constant_neg_32_over_17));
    let mut i = 0;
    while i < 3 {
        let half_denominator_times_x = mul(half_denominator, x);
        let one_minus = one.wrapping_sub(half_denominator_times_x);
        x = x.wrapping_add(saturating_shift_left(mul(x, one_minus), 2));
        i += 1;
    }
    // x / 2, from Q1.30 back to Q0.31.
    saturating_shift_left(x, 1)
}

/// The reciprocal of a positive `x` with `integer_bits` integer bits: the Q0.31 value
/// `2^k / x` in `[½, 1)` and the `k` (TensorFlow Lite's `GetReciprocal`).
const fn reciprocal(x: i32, integer_bits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros() as i32;
    let num_bits_over_unit = integer_bits - headroom_plus_one;
    let shifted_sum_minus_one =
        ((x as u32).wrapping_shl(headroom_plus_one as u32)).wrapping_sub(1u32 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

/// A `Softmax` over each column in integers, as TensorFlow Lite's int8 `SOFTMAX` reference
/// kernel computes it (see the module docs). Its output parameters are fixed: scale 1/256,
/// zero point −128 ([`QParams::SOFTMAX`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QSoftmax {
    /// The significand of `β · s_in · 2²⁶` (Q0.31).
    pub input_multiplier: i32,
    /// Its power of two, `≥ 0`.
    pub input_left_shift: i32,
    /// The most negative difference from the maximum that is not taken as `exp = 0`.
    pub diff_min: i32,
    /// The output's parameters (1/256, −128).
    pub output: QParams,
}

impl QParams {
    /// The output of a `Softmax`: scale 1/256, zero point −128.
    pub const SOFTMAX: QParams = QParams {
        scale: 1.0 / 256.0,
        zero_point: -128,
    };
}

impl QSoftmax {
    /// The kernel's parameters for an input with parameters `input` and `β = 1`, as
    /// TensorFlow Lite prepares them (`PreprocessSoftmaxScaling` and
    /// `CalculateInputRadius`, in `f64`).
    pub fn new(input: QParams) -> Self {
        // Built with single rounding, TensorFlow Lite caps the real multiplier at 2³⁰ − 1.
        let real = (f64::from(input.scale) * f64::from(1u32 << (31 - DIFF_BITS)))
            .min(f64::from((1u32 << 30) - 1));
        let (input_multiplier, shift) = quantize_multiplier(real);
        let input_left_shift = shift.max(0);
        let radius = f64::from((1i32 << DIFF_BITS) - 1) * f64::from(1u32 << (31 - DIFF_BITS))
            / (1u64 << input_left_shift) as f64;
        QSoftmax {
            input_multiplier,
            input_left_shift,
            diff_min: -(libm::floor(radius) as i32),
            output: QParams::SOFTMAX,
        }
    }

    /// `exp(x − max)` in Q0.31, or `None` below `diff_min`.
    #[inline]
    fn exp(&self, diff: i32) -> Option<i32> {
        if diff < self.diff_min {
            return None;
        }
        let rescaled =
            multiply_by_quantized_multiplier(diff, self.input_multiplier, self.input_left_shift);
        Some(exp_on_negative_values(rescaled))
    }

    /// The softmax of each column of `x`. Integers only, nothing allocated.
    pub fn forward<const N: usize, const B: usize>(
        &self,
        x: &SMatrix<i8, N, B>,
        y: &mut SMatrix<i8, N, B>,
    ) {
        for (xc, yc) in x
            .as_slice()
            .chunks_exact(N)
            .zip(y.as_mut_slice().chunks_exact_mut(N))
        {
            let max = i32::from(xc.iter().copied().max().unwrap_or(i8::MIN));
            let mut sum = 0i32; // Q12.19
            for &v in xc {
                if let Some(e) = self.exp(i32::from(v) - max) {
                    sum = sum.wrapping_add(rounding_divide_by_pot(e, SUM_BITS));
                }
            }
            let (scale, bits_over_unit) = reciprocal(sum, SUM_BITS);
            let exponent = bits_over_unit + 31 - 8;
            for (d, &v) in yc.iter_mut().zip(xc) {
                *d = match self.exp(i32::from(v) - max) {
                    Some(e) => {
                        let q = rounding_divide_by_pot(
                            saturating_rounding_doubling_high_mul(scale, e),
                            exponent,
                        );
                        q.saturating_sub(128).clamp(-128, 127) as i8
                    }
                    None => i8::MIN,
                };
            }
        }
    }
}

impl QLayer for QSoftmax {
    const KIND: u8 = 19;
    const BYTES: usize = 12 + QParams::BYTES;
    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.input_multiplier.to_le_bytes());
        out[4..8].copy_from_slice(&self.input_left_shift.to_le_bytes());
        out[8..12].copy_from_slice(&self.diff_min.to_le_bytes());
        self.output.write(&mut out[12..]);
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        *self = Self::from_blob_bytes(bytes);
    }
}

const fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl QSoftmax {
    /// Whether `bytes` (multiplier, left shift, `diff_min`, the output's parameters) hold
    /// a usable layer: a non-negative multiplier, a left shift in `0..=30`, a `diff_min`
    /// not above 0, valid output parameters.
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        let shift = i32_at(bytes, 4);
        i32_at(bytes, 0) >= 0
            && 0 <= shift
            && shift <= 30
            && i32_at(bytes, 8) <= 0
            && QParams::valid_bytes(bytes.split_at(12).1)
    }

    /// The layer in `bytes`.
    pub const fn from_blob_bytes(bytes: &[u8]) -> Self {
        QSoftmax {
            input_multiplier: i32_at(bytes, 0),
            input_left_shift: i32_at(bytes, 4),
            diff_min: i32_at(bytes, 8),
            output: QParams::from_blob_bytes(bytes.split_at(12).1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_exp_and_reciprocal_follow_the_real_functions() {
        // exp on Q5.26 inputs in [−32, 0], in Q0.31.
        let mut worst = 0f64;
        for k in 0..=4096 {
            let a = -((k as i64 * (32i64 << 26)) / 4096) as i32;
            let want = libm::exp(f64::from(a) / f64::from(1u32 << 26));
            let got = f64::from(exp_on_negative_values(a)) / 2f64.powi(31);
            worst = worst.max((got - want).abs());
        }
        assert!(worst < 1e-6, "exp: {worst}");
        assert_eq!(exp_on_negative_values(0), i32::MAX);
        // 1 / x for sums in Q12.19 from 1 to 4095.
        for k in 1..4096i64 {
            let x = ((k << 19) - 1) as i32;
            let (r, bits) = reciprocal(x, SUM_BITS);
            let got = f64::from(r) / 2f64.powi(31) / 2f64.powi(bits);
            let want = 1.0 / (f64::from(x) / f64::from(1u32 << 19));
            assert!((got / want - 1.0).abs() < 1e-8, "1/{k}: {got} vs {want}");
        }
    }

    #[test]
    fn no_field_value_makes_forward_panic() {
        let x = SMatrix::<i8, 3, 4>::from_column_slice(&[
            -128, -128, -128, 127, 127, 127, -128, 0, 127, 5, -7, 5,
        ]);
        let mut y = SMatrix::<i8, 3, 4>::zeros();
        for (m, shift, diff_min) in [
            (i32::MAX, 30, 0),
            (0, 0, i32::MIN),
            (i32::MIN, -40, 1000),
            (1 << 30, 100, -1),
        ] {
            let s = QSoftmax {
                input_multiplier: m,
                input_left_shift: shift,
                diff_min,
                output: QParams::SOFTMAX,
            };
            s.forward(&x, &mut y);
        }
        // Equal inputs share the mass; a clear winner takes nearly all of it.
        let s = QSoftmax::new(QParams {
            scale: 0.1,
            zero_point: 0,
        });
        s.forward(&x, &mut y);
        assert_eq!(y.column(0), y.column(1));
        let share = i32::from(y[(0, 0)]) + 128;
        assert!((84..=86).contains(&share), "{share}");
        assert_eq!(y[(2, 2)], 127);
        assert_eq!(y[(0, 3)], y[(2, 3)]);
    }
}
