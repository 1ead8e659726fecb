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
}

impl Scalar for f32 {
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
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
}
