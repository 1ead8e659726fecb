//! The input gradient of a stride-1, unpadded, ungrouped `f32` convolution vectorised over
//! its output channels, for AVX-512F (x86-64): LeNet-5's second convolution (16 output
//! channels, inputs rows of 14).
//!
//! The row kernels of [`conv_avx512`](super::conv_avx512) compute the input gradient as the
//! forward of the output gradient with the kernel flipped and padding `K − 1`: on LeNet-5's
//! 10 × 10 output gradients, most of the lanes read that padding or lie past the row. Here a
//! vector holds the 16 output channels of one output-gradient position instead (the
//! sample's gradient transposed to `[position][channel]` in a stack tile, the weights once
//! per call to `[input channel][tap][channel]` in the caller's buffer), and the
//! accumulators are the input positions of one input row: each output-gradient vector
//! multiplies into the `KW` positions it reaches, the kernel rows clipped at the image's
//! top and bottom edges, so every lane of every fused multiply-add is a term of the
//! gradient. The row's accumulators are then summed across their lanes together, 16 at a
//! time, by a tree of shuffles and adds into one vector of the row's gradients.
//!
//! Sums run in another order than the direct loops' (per lane, then across the lanes).
//! Stack: the tile, `16 · (DX_MAX_V + 16)` `f32` (17 KiB), and one row of accumulators.

use core::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_castpd_ps, _mm512_castps_pd, _mm512_fmadd_ps, _mm512_loadu_ps,
    _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_setzero_ps, _mm512_shuffle_f32x4,
    _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd, _mm512_unpacklo_ps,
};

use super::conv::{ConvShape, Geom};
use super::conv_avx512::{L, MAX_KW, lanes};
use super::conv_avx512_oc::transpose16;

/// The most vectors of a sample's transposed output gradient (`CO / 16 · HO · WO`): the
/// stack tile's size.
const DX_MAX_V: usize = 256;

/// Whether the channel-vectorised input gradient takes a convolution that the row kernels
/// take (`row_kernels`): output channels a multiple of 16, no padding, input rows at most
/// 16 wide (one row's accumulators summed in one tree), and at most [`DX_MAX_V`] vectors of
/// output gradient a sample.
pub(super) const fn applies(g: &Geom, row_kernels: bool) -> bool {
    row_kernels
        && g.co.is_multiple_of(L)
        && g.co >= L
        && g.ph == 0
        && g.pw == 0
        && g.wi >= 1
        && g.wi <= L
        && g.ho >= 1
        && g.wo >= 1
        && g.co / L * g.ho * g.wo <= DX_MAX_V
}

/// The sums across the lanes of 16 vectors: lane `i` of the result is the sum of the lanes
/// of `v[i]`. Four levels, each halving the vectors: 256-bit halves, 128-bit lanes, pairs
/// of `f32`, single `f32`.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn hsum16(v: &[__m512; L]) -> __m512 {
    // The tree leaves lane 4j + t holding input 4t + j: feed it the vectors in that order.
    let mut a = [_mm512_setzero_ps(); L];
    for j in 0..4 {
        for t in 0..4 {
            a[4 * t + j] = v[4 * j + t];
        }
    }
    // 16 -> 8: [a_2k's 8 partials, a_2k+1's 8 partials].
    let mut b = [_mm512_setzero_ps(); 8];
    for k in 0..8 {
        let (x, y) = (a[2 * k], a[2 * k + 1]);
        b[k] = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(x, y),
            _mm512_shuffle_f32x4::<0xee>(x, y),
        );
    }
    // 8 -> 4: 128-bit lane q of c[m] holds 4 partials of a[4m + q].
    let mut c = [_mm512_setzero_ps(); 4];
    for m in 0..4 {
        let (x, y) = (b[2 * m], b[2 * m + 1]);
        c[m] = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(x, y),
            _mm512_shuffle_f32x4::<0xdd>(x, y),
        );
    }
    // 4 -> 2: lane q of d[0] is [a_q, a_4+q, a_q, a_4+q] (two partials each), of d[1] the
    // same for a_8+q, a_12+q.
    let d0 = _mm512_add_ps(
        _mm512_unpacklo_ps(c[0], c[1]),
        _mm512_unpackhi_ps(c[0], c[1]),
    );
    let d1 = _mm512_add_ps(
        _mm512_unpacklo_ps(c[2], c[3]),
        _mm512_unpackhi_ps(c[2], c[3]),
    );
    // 2 -> 1: lane q is [a_q, a_4+q, a_8+q, a_12+q].
    let (d0, d1) = (_mm512_castps_pd(d0), _mm512_castps_pd(d1));
    _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(d0, d1)),
        _mm512_castpd_ps(_mm512_unpackhi_pd(d0, d1)),
    )
}

/// The input gradient of `S` over a batch, vectorised over the output channels (see the
/// module's notes): writes every element of `dx`. `wv` is scratch for the rearranged
/// kernel (`KK · CO` scalars).
///
/// # Safety
///
/// The CPU has AVX-512F; [`applies`] holds for `S`; `w` is `S`'s kernel, `dy` and `dx` the
/// same whole number of output and input samples.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn input_grad<S: ConvShape>(
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    wv: &mut [f32],
) {
    let g = &S::GEOM;
    let (plane, l, kk, khw) = (g.hi * g.wi, g.l(), g.kk(), g.kh * g.kw);
    let (ni, no, nb) = (g.ci * plane, g.co * l, g.co / L);
    assert!(applies(g, true) && w.len() == kk * g.co && wv.len() == w.len());
    assert!(dx.len().is_multiple_of(ni) && dy.len().is_multiple_of(no));
    assert!(dx.len() / ni == dy.len() / no);
    let samples = dx.len() / ni;
    // wv[((cb·CI + j)·KH·KW + t)·16 + o]: tap t of input channel j, output channel
    // cb·16 + o.
    for cb in 0..nb {
        for j in 0..g.ci {
            for t in 0..khw {
                for o in 0..L {
                    wv[((cb * g.ci + j) * khw + t) * L + o] = w[(cb * L + o) * kk + j * khw + t];
                }
            }
        }
    }
    let (wvp, dyp, dxp) = (wv.as_ptr(), dy.as_ptr(), dx.as_mut_ptr());
    // tile[cb·L + p]: output channels cb·16 .. cb·16 + 16 of position p (16 vectors of
    // slack: the last 16 × 16 block of a channel block is stored whole).
    let mut tile = [_mm512_setzero_ps(); DX_MAX_V + L];
    let row_mask = lanes(0, g.wi as isize);
    for s in 0..samples {
        for cb in 0..nb {
            for p0 in (0..l).step_by(L) {
                let m = lanes(0, (l - p0) as isize);
                let mut blk = [_mm512_setzero_ps(); L];
                for (o, v) in blk.iter_mut().enumerate() {
                    // SAFETY: the lanes of `m` are positions p0.. < l of channel cb·16 + o
                    // of sample s: inside `dy`.
                    *v = unsafe {
                        _mm512_maskz_loadu_ps(m, dyp.add(s * no + (cb * L + o) * l + p0))
                    };
                }
                transpose16(&mut blk);
                tile[cb * l + p0..][..L].copy_from_slice(&blk);
            }
        }
        let tp = tile.as_ptr();
        for j in 0..g.ci {
            for y in 0..g.hi {
                let mut acc = [_mm512_setzero_ps(); L];
                // Kernel rows a with output row y − a inside: y + 1 − HO <= a <= y.
                let (a0, a1) = ((y + 1).saturating_sub(g.ho), g.kh.min(y + 1));
                for cb in 0..nb {
                    for a in a0..a1 {
                        let wrow = wvp.wrapping_add(((cb * g.ci + j) * khw + a * g.kw) * L);
                        let drow = tp.wrapping_add(cb * l + (y - a) * g.wo);
                        let mut wk = [_mm512_setzero_ps(); MAX_KW];
                        for (b, wk) in wk.iter_mut().enumerate().take(g.kw) {
                            // SAFETY: tap a·KW + b of channel block cb, input channel j:
                            // inside `wv`.
                            *wk = unsafe { _mm512_loadu_ps(wrow.add(b * L)) };
                        }
                        for ox in 0..g.wo {
                            // SAFETY: position (y − a, ox) of channel block cb, inside the
                            // tile (y − a < HO).
                            let d = unsafe { *drow.add(ox) };
                            for (b, wk) in wk.iter().enumerate().take(g.kw) {
                                // Input column ox + b < WO + KW − 1 = WI <= 16.
                                acc[ox + b] = _mm512_fmadd_ps(d, *wk, acc[ox + b]);
                            }
                        }
                    }
                }
                let r = hsum16(&acc);
                // SAFETY: the lanes of `row_mask` are row y of input channel j of sample s.
                unsafe {
                    _mm512_mask_storeu_ps(dxp.add(s * ni + j * plane + y * g.wi), row_mask, r)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;

    /// The tree of shuffles and adds sums each vector's lanes into its lane of the result.
    #[test]
    fn hsum16_sums_each_vector() {
        if !std::is_x86_feature_detected!("avx512f") {
            std::eprintln!("no AVX-512F: not run");
            return;
        }
        let mut r = [[0.0f32; L]; L];
        for (i, r) in r.iter_mut().enumerate() {
            for (j, v) in r.iter_mut().enumerate() {
                // Distinct sums, exact in f32: 2^j · (i + 1).
                *v = (1u32 << j) as f32 * (i + 1) as f32;
            }
        }
        // SAFETY: a vector is 16 `f32`.
        let v: [__m512; L] = unsafe { core::mem::transmute(r) };
        // SAFETY: the CPU has AVX-512F.
        let s: [f32; L] = unsafe { core::mem::transmute(hsum16(&v)) };
        for (i, &s) in s.iter().enumerate() {
            assert_eq!(s, 65535.0 * (i + 1) as f32, "lane {i}");
        }
    }
}
