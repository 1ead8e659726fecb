//! The element types a network can compute in.

use nalgebra::RealField;

/// A floating-point element type: `f32` for deployment, `f64` for gradient checks.
///
/// # Transcendental functions
///
/// Every exponential, logarithm, tanh and power the library computes goes through the
/// methods below ([`exp_libm`](Self::exp_libm), [`ln_libm`](Self::ln_libm),
/// [`ln_1p_libm`](Self::ln_1p_libm), [`tanh_libm`](Self::tanh_libm),
/// [`powf_libm`](Self::powf_libm)), which call the `libm` crate directly (`expf`/`exp`,
/// `logf`/`log`, …), and every square root through [`sqrt_correct`](Self::sqrt_correct).
/// Not through [`nalgebra::RealField`]'s methods of the same names: those call `num-traits`,
/// which takes `libm` in a `no_std` build but the standard library's functions as soon as any
/// crate in the build enables `num-traits/std` (plotters does), and the two differ in the
/// last bit for some inputs. So the same seed and the same code give the same bits whatever
/// else is in the dependency graph: those of `libm`, the functions a `no_std` build of
/// staticnn has always used (`tests/libm_maths.rs` checks it; `clippy.toml` forbids the
/// `RealField` forms in the crate). The `f32` tanh and sigmoid layers use staticnn's own
/// vectorisable functions instead (`src/math.rs`, within 2 ulp of the correctly rounded
/// result), which depend on no library at all.
pub trait Scalar: RealField + Copy + bytemuck::Pod + Default + PartialOrd {
    /// Converts from `f64`, rounding to nearest.
    fn of(v: f64) -> Self;
    /// Converts to `f64` exactly.
    fn as_f64(self) -> f64;
    /// `eˣ`, by `libm` (`expf` or `exp`) whatever the features of the build.
    fn exp_libm(self) -> Self;
    /// The natural logarithm, by `libm` (`logf` or `log`).
    fn ln_libm(self) -> Self;
    /// `ln(1 + x)`, by `libm` (`log1pf` or `log1p`).
    fn ln_1p_libm(self) -> Self;
    /// The hyperbolic tangent, by `libm` (`tanhf` or `tanh`).
    fn tanh_libm(self) -> Self;
    /// `selfⁿ`, by `libm` (`powf` or `pow`).
    fn powf_libm(self, n: Self) -> Self;
    /// The correctly rounded square root, in a form the compiler can vectorise: with the
    /// `std` feature, the standard library's (an LLVM intrinsic), otherwise `libm`'s, which
    /// LLVM keeps scalar (the loops of Adam and RMSprop are bound by it). IEEE 754 requires
    /// the square root to be correctly rounded and both are, so the bits are the same either
    /// way (tested against `libm` below).
    #[doc(hidden)]
    fn sqrt_correct(self) -> Self;
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
    #[inline(always)]
    fn exp_libm(self) -> Self {
        libm::expf(self)
    }
    #[inline(always)]
    fn ln_libm(self) -> Self {
        libm::logf(self)
    }
    #[inline(always)]
    fn ln_1p_libm(self) -> Self {
        libm::log1pf(self)
    }
    #[inline(always)]
    fn tanh_libm(self) -> Self {
        libm::tanhf(self)
    }
    #[inline(always)]
    fn powf_libm(self, n: Self) -> Self {
        libm::powf(self, n)
    }
    #[cfg(feature = "std")]
    #[inline(always)]
    fn sqrt_correct(self) -> Self {
        std::primitive::f32::sqrt(self)
    }
    #[cfg(not(feature = "std"))]
    #[inline(always)]
    fn sqrt_correct(self) -> Self {
        libm::sqrtf(self)
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
    #[inline(always)]
    fn exp_libm(self) -> Self {
        libm::exp(self)
    }
    #[inline(always)]
    fn ln_libm(self) -> Self {
        libm::log(self)
    }
    #[inline(always)]
    fn ln_1p_libm(self) -> Self {
        libm::log1p(self)
    }
    #[inline(always)]
    fn tanh_libm(self) -> Self {
        libm::tanh(self)
    }
    #[inline(always)]
    fn powf_libm(self, n: Self) -> Self {
        libm::pow(self, n)
    }
    #[cfg(feature = "std")]
    #[inline(always)]
    fn sqrt_correct(self) -> Self {
        std::primitive::f64::sqrt(self)
    }
    #[cfg(not(feature = "std"))]
    #[inline(always)]
    fn sqrt_correct(self) -> Self {
        libm::sqrt(self)
    }
}

/// Displays an `f64` in a short form, for error messages: as `{}` does (the shortest
/// decimal that reads back as the same value) for magnitudes from 10⁻⁴ to below 10¹⁶, for
/// zero and for NaN and the infinities, and in scientific notation otherwise (`1e300`, not
/// the 301 digits `{}` gives; `1e-300`, not 300 zeros).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ShortFloat(pub f64);

impl core::fmt::Display for ShortFloat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let a = self.0.abs();
        if a == 0.0 || !a.is_finite() || (1e-4..1e16).contains(&a) {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{:e}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ShortFloat` as text, written into a fixed buffer (the library is `no_std`).
    fn short(v: f64) -> ([u8; 64], usize) {
        struct Buf([u8; 64], usize);
        impl core::fmt::Write for Buf {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                let end = self.1 + s.len();
                self.0
                    .get_mut(self.1..end)
                    .ok_or(core::fmt::Error)?
                    .copy_from_slice(s.as_bytes());
                self.1 = end;
                Ok(())
            }
        }
        let mut b = Buf([0; 64], 0);
        core::fmt::write(&mut b, format_args!("{}", ShortFloat(v))).unwrap();
        (b.0, b.1)
    }

    #[test]
    fn short_float_is_short() {
        for (v, text) in [
            (1e300, "1e300"),
            (-1e300, "-1e300"),
            (1e-300, "1e-300"),
            (f64::MAX, "1.7976931348623157e308"),
            (f64::from(f32::MAX), "3.4028234663852886e38"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (1e16, "1e16"),
            (9999999999999998.0, "9999999999999998"),
            (0.0001, "0.0001"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "NaN"),
        ] {
            let (buf, len) = short(v);
            assert_eq!(core::str::from_utf8(&buf[..len]).unwrap(), text);
        }
    }

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
