//! The sum that ends a residual block, as TensorFlow Lite's int8 `ADD` computes it
//! (`reference_integer_ops::Add`, same shapes, no broadcasting).
//!
//! Both inputs are brought to a common scale before they are added: with
//! `t = 2 · max(s₁, s₂)`, each input minus its zero point is shifted left by 20 bits and
//! rescaled by `sᵢ / t` (a multiplier below one), the two are summed in `i32`, and the sum
//! is rescaled by `t / (2²⁰ · s_out)`, `+ zp_out`, clamped to the fused activation's range.
//! The three multipliers are `QuantizeMultiplier`'s (computed in `f64` from the `f32`
//! scales, as the kernel's `Prepare`). Each rescaling rounds twice
//! ([`multiply_by_quantized_multiplier_double_rounding`]), as the same interpreter's
//! convolutions and `LEAKY_RELU` measurably do. (On the ADD's outputs the two roundings have
//! not been told apart: `tests/int8_tflite_residual.rs` is 0 LSB either way, and so were
//! 76 800 random input pairs of a probe model with another set of scales; with 20 bits of
//! headroom a tie is rare.)

use nalgebra::SMatrix;

use super::fixed::{multiply_by_quantized_multiplier_double_rounding, quantize_multiplier};
use super::layers::{fused_range, i32_at};
use super::{Fused, QLayer, QParams, QuantError};

/// The bits each input is shifted left by before its rescaling (`left_shift` of TensorFlow
/// Lite's int8 `ADD`).
pub const LEFT_SHIFT: i32 = 20;

/// The int8 sum of two tensors of the same shape (a residual block's body and skip path).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QAdd {
    /// The first input's zero point.
    pub zero_point_a: i32,
    /// The second input's zero point.
    pub zero_point_b: i32,
    /// The first input's multiplier `s_a / t` (Q0.31) and shift (`≤ 0`).
    pub multiplier_a: (i32, i32),
    /// The second input's multiplier `s_b / t` and shift.
    pub multiplier_b: (i32, i32),
    /// The sum's multiplier `t / (2²⁰ · s_out)` and shift.
    pub multiplier_out: (i32, i32),
    /// The output's scale and zero point.
    pub output: QParams,
    /// The lowest output (the fused activation's floor).
    pub min: i8,
    /// The highest output.
    pub max: i8,
}

impl QAdd {
    /// The sum of tensors with parameters `a` and `b` into `output`, with `fused` applied,
    /// prepared as TensorFlow Lite's `ADD` prepares it.
    pub fn new(a: QParams, b: QParams, output: QParams, fused: Fused) -> Self {
        let twice_max = 2.0 * f64::from(a.scale.max(b.scale));
        let real_out = twice_max / (f64::from(1u32 << LEFT_SHIFT) * f64::from(output.scale));
        let (min, max) = fused_range(output, fused);
        Self {
            zero_point_a: a.zero_point,
            zero_point_b: b.zero_point,
            multiplier_a: quantize_multiplier(f64::from(a.scale) / twice_max),
            multiplier_b: quantize_multiplier(f64::from(b.scale) / twice_max),
            multiplier_out: quantize_multiplier(real_out),
            output,
            min,
            max,
        }
    }

    /// One output value from one value of each input. Integers only; wrapping and
    /// saturating as the C code, so no field value panics.
    #[inline(always)]
    pub fn add(&self, a: i8, b: i8) -> i8 {
        let scaled = |v: i8, zp: i32, (q, shift): (i32, i32)| {
            let v = i32::from(v)
                .wrapping_sub(zp)
                .wrapping_shl(LEFT_SHIFT as u32);
            multiply_by_quantized_multiplier_double_rounding(v, q, shift)
        };
        let sum = scaled(a, self.zero_point_a, self.multiplier_a).wrapping_add(scaled(
            b,
            self.zero_point_b,
            self.multiplier_b,
        ));
        let (q, shift) = self.multiplier_out;
        let v = multiply_by_quantized_multiplier_double_rounding(sum, q, shift)
            .saturating_add(self.output.zero_point);
        v.max(i32::from(self.min)).min(i32::from(self.max)) as i8
    }

    /// The sum of two slices of the same length into `y`.
    ///
    /// # Errors
    ///
    /// [`QuantError::Shape`] when the three lengths differ.
    pub fn add_slices(&self, a: &[i8], b: &[i8], y: &mut [i8]) -> Result<(), QuantError> {
        if a.len() != b.len() || a.len() != y.len() {
            return Err(QuantError::Shape);
        }
        for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
            *y = self.add(a, b);
        }
        Ok(())
    }

    /// The sum of two batches of `B` columns. The two widths must be equal; like
    /// [`Residual::join`](crate::layers::Residual::join), this is asserted at compile time
    /// rather than by the types, so that a declaration whose block shapes (given by
    /// `const` items) differ is one error: the declaration's.
    pub fn forward<const N: usize, const M: usize, const B: usize>(
        &self,
        a: &SMatrix<i8, N, B>,
        b: &SMatrix<i8, M, B>,
        y: &mut SMatrix<i8, N, B>,
    ) {
        const { assert!(N == M, "a residual block adds two values of the same width") };
        for ((y, &a), &b) in y.iter_mut().zip(a.iter()).zip(b.iter()) {
            *y = self.add(a, b);
        }
    }
}

impl QLayer for QAdd {
    const KIND: u8 = 10;
    const BYTES: usize = 8 + 24 + QParams::BYTES + 2;
    fn write(&self, out: &mut [u8]) {
        let words = [
            self.zero_point_a,
            self.zero_point_b,
            self.multiplier_a.0,
            self.multiplier_a.1,
            self.multiplier_b.0,
            self.multiplier_b.1,
            self.multiplier_out.0,
            self.multiplier_out.1,
        ];
        for (k, w) in words.iter().enumerate() {
            out[4 * k..4 * k + 4].copy_from_slice(&w.to_le_bytes());
        }
        self.output.write(&mut out[32..40]);
        out[40] = self.min as u8;
        out[41] = self.max as u8;
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        self.zero_point_a = i32_at(bytes, 0);
        self.zero_point_b = i32_at(bytes, 4);
        self.multiplier_a = (i32_at(bytes, 8), i32_at(bytes, 12));
        self.multiplier_b = (i32_at(bytes, 16), i32_at(bytes, 20));
        self.multiplier_out = (i32_at(bytes, 24), i32_at(bytes, 28));
        self.output.read(&bytes[32..40]);
        self.min = bytes[40] as i8;
        self.max = bytes[41] as i8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_follow_the_real_sum_within_one_step() {
        let a = QParams {
            scale: 0.05,
            zero_point: -10,
        };
        let b = QParams {
            scale: 0.02,
            zero_point: 7,
        };
        let out = QParams {
            scale: 0.06,
            zero_point: 3,
        };
        let add = QAdd::new(a, b, out, Fused::None);
        for x in (-128..=127).step_by(5) {
            for y in (-128..=127).step_by(3) {
                let (x, y) = (x as i8, y as i8);
                let real = a.dequantize(x) + b.dequantize(y);
                let want = out.quantize(real);
                let got = add.add(x, y);
                assert!((i32::from(got) - i32::from(want)).abs() <= 1, "{x} {y}");
            }
        }
        // A fused ReLU clamps at the output's zero point.
        let relu = QAdd::new(a, b, out, Fused::Relu);
        assert_eq!(relu.add(-128, -128), 3);
        let mut y = [0i8; 2];
        assert_eq!(
            relu.add_slices(&[0, 1], &[0], &mut y),
            Err(QuantError::Shape)
        );
    }
}
