//! Square roots of a run of values at once, for the optimisers' denominators.
//!
//! `libm`'s `sqrt` is a scalar instruction behind inline assembly on x86-64, which keeps a
//! loop that calls it from vectorising. IEEE square roots are correctly rounded, so the SSE
//! instructions used here give exactly the bits `libm` gives: the optimisers' results do
//! not change, only their speed.

#[cfg(target_arch = "x86_64")]
use core::any::TypeId;

use crate::Scalar;

/// `x[k] ← √x[k]` for every element, correctly rounded.
#[inline]
pub(crate) fn sqrt_in_place<T: Scalar>(x: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            return sse::sqrt_f32(bytemuck::cast_slice_mut(x));
        }
        if TypeId::of::<T>() == TypeId::of::<f64>() {
            return sse::sqrt_f64(bytemuck::cast_slice_mut(x));
        }
    }
    for v in x {
        *v = v.sqrt();
    }
}

/// SSE and SSE2, which every x86-64 CPU has.
#[cfg(target_arch = "x86_64")]
mod sse {
    use core::arch::x86_64::{__m128, __m128d, _mm_sqrt_pd, _mm_sqrt_ps};

    /// Four `f32` per instruction.
    #[inline]
    pub(super) fn sqrt_f32(x: &mut [f32]) {
        let mut quads = x.chunks_exact_mut(4);
        for q in &mut quads {
            let v: __m128 = bytemuck::cast([q[0], q[1], q[2], q[3]]);
            // SAFETY: SSE is part of every x86-64 CPU (the target's baseline).
            let r = unsafe { _mm_sqrt_ps(v) };
            q.copy_from_slice(&bytemuck::cast::<__m128, [f32; 4]>(r));
        }
        for v in quads.into_remainder() {
            *v = libm::sqrtf(*v);
        }
    }

    /// Two `f64` per instruction.
    #[inline]
    pub(super) fn sqrt_f64(x: &mut [f64]) {
        let mut pairs = x.chunks_exact_mut(2);
        for p in &mut pairs {
            let v: __m128d = bytemuck::cast([p[0], p[1]]);
            // SAFETY: SSE2 is part of every x86-64 CPU (the target's baseline).
            let r = unsafe { _mm_sqrt_pd(v) };
            p.copy_from_slice(&bytemuck::cast::<__m128d, [f64; 2]>(r));
        }
        for v in pairs.into_remainder() {
            *v = libm::sqrt(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sqrt_in_place;

    /// Bit for bit `libm`'s square root, on ordinary values, the edges and every remainder
    /// length.
    #[test]
    fn same_bits_as_libm() {
        const N: usize = 1005;
        let specials = [
            0.0,
            -0.0,
            1.0,
            2.0,
            f64::MIN_POSITIVE,
            5e-324,
            1e300,
            f64::INFINITY,
        ];
        let mut values = [0.0f64; N];
        values[..specials.len()].copy_from_slice(&specials);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for v in &mut values[specials.len()..] {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *v = f64::from_bits(seed >> 2); // positive, any exponent
        }
        for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, N] {
            let mut d = values;
            sqrt_in_place(&mut d[..n]);
            for (r, &v) in d[..n].iter().zip(&values) {
                assert_eq!(r.to_bits(), libm::sqrt(v).to_bits(), "sqrt({v:e})");
            }
            let mut s = values.map(|v| v as f32);
            sqrt_in_place(&mut s[..n]);
            for (r, &v) in s[..n].iter().zip(&values) {
                let want = libm::sqrtf(v as f32);
                assert_eq!(r.to_bits(), want.to_bits(), "sqrtf({:e})", v as f32);
            }
        }
        let mut odd = [-1.0f32, f32::NAN, 4.0, -0.0, -5.0];
        sqrt_in_place(&mut odd);
        assert!(odd[0].is_nan() && odd[1].is_nan() && odd[4].is_nan());
        assert_eq!(odd[2], 2.0);
        assert_eq!(odd[3].to_bits(), (-0.0f32).to_bits());
    }
}
