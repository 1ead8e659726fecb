//! The element types a network can compute in.

use nalgebra::RealField;

/// A floating-point element type: `f32` for deployment, `f64` for gradient checks.
///
/// The maths (`exp`, `tanh`, `ln`, …) comes from [`nalgebra::RealField`], which `staticnn`
/// builds on `libm`, so results do not depend on the platform's C library; the `f32` tanh and
/// sigmoid layers use staticnn's own vectorisable functions instead (`src/math.rs`, within 2
/// ulp of the correctly rounded result).
pub trait Scalar: RealField + Copy + bytemuck::Pod + Default + PartialOrd {
    /// Converts from `f64`, rounding to nearest.
    fn of(v: f64) -> Self;
    /// Converts to `f64` exactly.
    fn as_f64(self) -> f64;
    /// The correctly rounded square root, as `ComplexField::sqrt`, but in a form the compiler
    /// can vectorise: with the `std` feature, the standard library's (an LLVM intrinsic),
    /// not `libm`'s, which LLVM keeps scalar (the loops of Adam and RMSprop are bound by it).
    /// Same bits either way.
    #[doc(hidden)]
    #[inline(always)]
    fn sqrt_correct(self) -> Self {
        self.sqrt()
    }
}

impl Scalar for f32 {
    #[cfg(feature = "std")]
    #[inline(always)]
    fn sqrt_correct(self) -> Self {
        std::primitive::f32::sqrt(self)
    }
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Scalar for f64 {
    #[cfg(feature = "std")]
    #[inline(always)]
    fn sqrt_correct(self) -> Self {
        std::primitive::f64::sqrt(self)
    }
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sqrt_correct` is `libm`'s square root (what `ComplexField::sqrt` runs in a build
    /// without `std`) bit for bit: zeros, subnormals, normals, the largest values,
    /// infinities, negatives and NaN.
    #[test]
    fn sqrt_correct_is_sqrt() {
        let mut bits = 0u32;
        while bits < u32::MAX - 40_009 {
            let x = f32::from_bits(bits);
            let (a, b) = (x.sqrt_correct(), libm::sqrtf(x));
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{x:e}"
            );
            let y = f64::from(x) * 1.000_000_1;
            let (a, b) = (y.sqrt_correct(), libm::sqrt(y));
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{y:e}"
            );
            bits += 40_009;
        }
        for x in [
            0.0f32,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN_POSITIVE,
        ] {
            assert_eq!(
                x.sqrt_correct().to_bits(),
                libm::sqrtf(x).to_bits(),
                "{x:e}"
            );
        }
    }
}
