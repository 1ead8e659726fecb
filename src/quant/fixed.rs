//! Fixed-point requantisation, with TensorFlow Lite's reference rounding.
//!
//! A real multiplier `m > 0` is a 32-bit significand `q` (Q0.31, in `[2³⁰, 2³¹)`) and a
//! power of two: `m = q · 2^(shift − 31)` ([`quantize_multiplier`]). TensorFlow Lite has two
//! ways to rescale an accumulator `x` by it, chosen when it is compiled:
//!
//! - single rounding ([`multiply_by_quantized_multiplier`], `TFLITE_SINGLE_ROUNDING`):
//!   `(x · q + 2^(30 − shift)) >> (31 − shift)` in 64 bits, one rounding half up. The
//!   interpreter of TensorFlow 2.21 (`tf.lite.Interpreter`, also with the reference
//!   kernels) is built this way, and the int8 layers use it: the fixtures of
//!   `tests/int8_tflite.rs` agree with it on every output, and with double rounding on
//!   all but 43 of their 1 862 outputs (1 LSB each);
//! - double rounding ([`multiply_by_quantized_multiplier_double_rounding`], the default
//!   of older builds and of gemmlowp):
//!   `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x · 2^left, q), right)` with
//!   `left = max(shift, 0)` and `right = max(−shift, 0)`: the first rounds ties up, the
//!   second away from zero.
//!
//! Either way the result is the same integer on every platform.
//!
//! Everything here is total: no input panics, in debug builds either (out-of-range shifts
//! are clamped, overflowing products wrap as the C code's would on two's complement).

/// `round(a · b / 2³¹)` with ties rounded up (towards +∞: gemmlowp's nudge), saturating the one overflowing case
/// (`a = b = i32::MIN`) to `i32::MAX`: the high half of the doubled 64-bit product.
#[inline]
pub const fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Division truncating towards zero, as C's.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent`, rounded to nearest with ties away from zero (`exponent` is clamped
/// to `0..=31`).
#[inline]
pub const fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let e = if exponent < 0 {
        0
    } else if exponent > 31 {
        31
    } else {
        exponent
    };
    let mask = ((1i64 << e) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + if x < 0 { 1 } else { 0 };
    (x >> e) + if remainder > threshold { 1 } else { 0 }
}

/// `x · q · 2^(shift − 31)` rounded once, half up, as TensorFlow Lite built with
/// `TFLITE_SINGLE_ROUNDING` (see the module docs); `shift` is clamped to `−31..=30` and the
/// result saturates to `i32`.
#[inline]
pub const fn multiply_by_quantized_multiplier(x: i32, q: i32, shift: i32) -> i32 {
    let shift = if shift < -31 {
        -31
    } else if shift > 30 {
        30
    } else {
        shift
    };
    let total = 31 - shift as i64;
    let r = (x as i64 * q as i64 + (1i64 << (total - 1))) >> total;
    if r > i32::MAX as i64 {
        i32::MAX
    } else if r < i32::MIN as i64 {
        i32::MIN
    } else {
        r as i32
    }
}

/// `x · q · 2^(shift − 31)` with TensorFlow Lite's two roundings (see the module docs).
#[inline]
pub const fn multiply_by_quantized_multiplier_double_rounding(x: i32, q: i32, shift: i32) -> i32 {
    let left = if shift > 0 {
        if shift > 31 { 31 } else { shift }
    } else {
        0
    };
    let right = if shift > 0 { 0 } else { shift.wrapping_neg() };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_mul(1i32.wrapping_shl(left as u32)), q),
        right,
    )
}

/// Splits a real multiplier into TensorFlow Lite's `(q, shift)`: `m = q · 2^(shift − 31)`,
/// `q` rounded half away from zero from the significand of `frexp(m)`. Zero, negative,
/// non-finite and tiny (`shift < −31`) multipliers give `(0, 0)`; one too large for a
/// shift of 30 saturates to `(i32::MAX, 30)`.
///
/// This runs when a network is quantised (on the host), not in the forward pass.
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if m.is_nan() || m <= 0.0 {
        return (0, 0);
    }
    if m.is_infinite() {
        return (i32::MAX, 30);
    }
    let (significand, mut shift) = frexp(m);
    let mut q = libm::round(significand * (1u64 << 31) as f64) as i64;
    if q == 1 << 31 {
        q /= 2;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    if shift > 30 {
        return (i32::MAX, 30);
    }
    (q as i32, shift)
}

/// `m = s · 2^e` with `s` in `[0.5, 1)` for a finite positive `m`, as C's `frexp`.
fn frexp(m: f64) -> (f64, i32) {
    let bits = m.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (s, e) = frexp(m * (1u64 << 54) as f64);
        return (s, e - 54);
    }
    let s = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (s, exp - 1022)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_mul_rounds_ties_up() {
        // 2^30 · 2^30 · 2 / 2^32 = 2^29 exactly.
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        // 3 · 2^30 / 2^31 = 1.5 → 2; −1.5 → −1; ±0.5 → 1, 0 (ties up).
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(1, 1 << 30), 1);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 30), -2);
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
    }

    #[test]
    fn divide_by_pot_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 3), 1);
        assert_eq!(rounding_divide_by_pot(3, 3), 0);
        assert_eq!(rounding_divide_by_pot(-4, 3), -1);
        assert_eq!(rounding_divide_by_pot(-3, 3), 0);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }

    #[test]
    fn multipliers_split_as_frexp() {
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        assert_eq!(quantize_multiplier(-1.0), (0, 0));
        // Significand rounding up to 2^31 moves to the next power.
        let just_below_one = 1.0 - f64::EPSILON / 4.0;
        assert_eq!(quantize_multiplier(just_below_one), (1 << 30, 1));
        let (q, s) = quantize_multiplier(0.000_123);
        let back = f64::from(q) * libm::exp2(f64::from(s - 31));
        assert!((back - 0.000_123).abs() < 1e-12);
        assert_eq!(quantize_multiplier(f64::MIN_POSITIVE), (0, 0));
        assert_eq!(quantize_multiplier(1e300), (i32::MAX, 30));
    }

    #[test]
    fn rescaling_matches_the_real_product_within_one() {
        for &m in &[0.3, 0.0071, 0.99, 1.7, 12.5] {
            let (q, s) = quantize_multiplier(m);
            for x in [-100_000, -777, -1, 0, 1, 2, 999, 123_456] {
                let want = f64::from(x) * m;
                for got in [
                    multiply_by_quantized_multiplier(x, q, s),
                    multiply_by_quantized_multiplier_double_rounding(x, q, s),
                ] {
                    assert!((f64::from(got) - want).abs() <= 1.0, "{x} · {m}: {got}");
                }
            }
        }
    }

    #[test]
    fn the_two_roundings_differ_on_ties() {
        // 0.5 · 2^-1 = 0.25 exactly: x = 6 → 1.5. Single rounding: half up → 2. Double
        // rounding: 6 · 2^30 / 2^31 = 3 exactly, then 3 / 2 = 1.5 → 2 (away from zero).
        let (q, s) = quantize_multiplier(0.25);
        assert_eq!(multiply_by_quantized_multiplier(6, q, s), 2);
        assert_eq!(multiply_by_quantized_multiplier_double_rounding(6, q, s), 2);
        // Negative ties: −1.5 → −1 (half up) against −2 (away from zero).
        assert_eq!(multiply_by_quantized_multiplier(-6, q, s), -1);
        assert_eq!(
            multiply_by_quantized_multiplier_double_rounding(-6, q, s),
            -2
        );
        // A multiplier that is not a power of two: the first rounding of the double one
        // can move a value across the second one's tie.
        let (q, s) = (1_431_655_765, -1); // ≈ 1/3 · 2^31 · 2^-1 ⇒ m ≈ 1/6
        let differ = (-3000..3000).any(|x| {
            multiply_by_quantized_multiplier(x, q, s)
                != multiply_by_quantized_multiplier_double_rounding(x, q, s)
        });
        assert!(differ);
    }

    #[test]
    fn out_of_range_shifts_do_not_panic() {
        for s in [-100, -32, 31, 100] {
            let _ = multiply_by_quantized_multiplier(i32::MAX, i32::MAX, s);
            let _ = multiply_by_quantized_multiplier_double_rounding(i32::MIN, i32::MAX, s);
        }
        assert_eq!(
            multiply_by_quantized_multiplier(i32::MAX, i32::MAX, 30),
            i32::MAX
        );
    }
}
