//! The forward of a stride-1, unpadded, ungrouped `f32` convolution vectorised over its
//! output channels, for AVX-512F (x86-64): LeNet-5's second convolution (6 → 16 channels,
//! rows of 10 outputs).
//!
//! The kernels of [`conv_avx512`](super::conv_avx512) put 16 positions of an output row in
//! a vector: a row of 10 fills 62.5 % of the lanes. Here a vector holds 16 output channels
//! of one position instead, every lane busy whatever the row's width. Per sample and block
//! of 16 output channels, the accumulators are the positions of a block of whole output
//! rows (at most [`OC_ACC`] positions), started from the bias; each tap loads its
//! 16-channel weight vector once (the weights transposed once per call to
//! `[tap][channel]`) and multiplies into every position the input value that position
//! reads, broadcast from memory. The sample's positions, `[position][channel]` in a stack
//! tile, are then transposed 16 × 16 at a time into the output's `[channel][position]`
//! columns.
//!
//! Sums run in another order than the direct loops' (one rounding per fused multiply-add,
//! the taps in the same order as the row kernels').

use core::arch::x86_64::{
    __m512, _mm512_castpd_ps, _mm512_castps_pd, _mm512_fmadd_ps, _mm512_loadu_ps,
    _mm512_mask_storeu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_shuffle_f32x4,
    _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd, _mm512_unpacklo_ps,
};

use super::conv::{ConvShape, Geom};
use super::conv_avx512::{L, lanes};

/// The most positions (accumulators) of a block: with the tap's weight vector, in 32
/// registers with some to spare.
pub(super) const OC_ACC: usize = 28;
/// The most taps (`CI · KH · KW`) of a convolution these kernels take: the transposed
/// weights of a block of 16 channels are a stack buffer of `16 · OC_MAX_TAPS` scalars.
const OC_MAX_TAPS: usize = 320;
/// The most output positions (`HO · WO`) of a convolution these kernels take: a sample's
/// `[position][channel]` tile is a stack buffer of this many vectors.
const OC_MAX_L: usize = 256;

/// Whether the channel-vectorised forward takes a convolution that the row kernels take
/// (`row_kernels`): output channels a multiple of 16, no padding, rows at most
/// [`OC_ACC`] outputs wide, at most [`OC_MAX_TAPS`] taps and [`OC_MAX_L`] positions.
pub(super) const fn applies(g: &Geom, row_kernels: bool) -> bool {
    row_kernels
        && g.co.is_multiple_of(L)
        && g.ph == 0
        && g.pw == 0
        && g.wo >= 1
        && g.wo <= OC_ACC
        && g.ho >= 1
        && g.kk() <= OC_MAX_TAPS
        && g.ho * g.wo <= OC_MAX_L
}

/// Output rows per block: the largest divisor of `HO` whose rows fit in [`OC_ACC`]
/// accumulators (1 at least).
const fn rows_per_block(g: &Geom) -> usize {
    let mut r = match OC_ACC.checked_div(g.wo) {
        Some(r) => r,
        None => 1,
    };
    if r > g.ho {
        r = g.ho;
    }
    while r > 1 && !g.ho.is_multiple_of(r) {
        r -= 1;
    }
    if r == 0 { 1 } else { r }
}

/// The block of [`forward`] for `S`: output rows per block.
trait OcBlocks: ConvShape {
    /// Output rows per block.
    const RO: usize = rows_per_block(&Self::GEOM);
}

impl<S: ConvShape> OcBlocks for S {}

/// Transposes a 16 × 16 block of `f32` in registers: `r[i]` lane `j` becomes `r[j]` lane
/// `i`.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn transpose16(r: &mut [__m512; L]) {
    let mut t = [_mm512_setzero_ps(); L];
    // Pairs of rows interleaved by 32 bits, then by 64 bits: each 128-bit lane of t
    // holds a 4 × 4 block transposed.
    for k in 0..8 {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for k in 0..4 {
        let (a, b, c, d) = (t[4 * k], t[4 * k + 1], t[4 * k + 2], t[4 * k + 3]);
        let (a, b, c, d) = (
            _mm512_castps_pd(a),
            _mm512_castps_pd(b),
            _mm512_castps_pd(c),
            _mm512_castps_pd(d),
        );
        r[4 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * k + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * k + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    // Then the 128-bit lanes: from rows 4 apart, then 8 apart.
    for k in 0..4 {
        t[k] = _mm512_shuffle_f32x4::<0x88>(r[k], r[k + 4]);
        t[k + 4] = _mm512_shuffle_f32x4::<0xdd>(r[k], r[k + 4]);
        t[k + 8] = _mm512_shuffle_f32x4::<0x88>(r[k + 8], r[k + 12]);
        t[k + 12] = _mm512_shuffle_f32x4::<0xdd>(r[k + 8], r[k + 12]);
    }
    for k in 0..8 {
        r[k] = _mm512_shuffle_f32x4::<0x88>(t[k], t[k + 8]);
        r[k + 8] = _mm512_shuffle_f32x4::<0xdd>(t[k], t[k + 8]);
    }
}

/// The forward of `S` over a batch, vectorised over the output channels (see the module's
/// notes): `y = bias + conv(x)`.
///
/// # Safety
///
/// The CPU has AVX-512F; [`applies`] holds for `S`; `w` is `S`'s kernel, `bias` empty or
/// one per output channel, `x` and `y` the same whole number of input and output samples.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn forward<S: ConvShape>(w: &[f32], bias: &[f32], x: &[f32], y: &mut [f32]) {
    let g = &S::GEOM;
    let (plane, l, kk) = (g.hi * g.wi, g.l(), g.kk());
    let (ni, no) = (g.ci * plane, g.co * l);
    assert!(kk <= OC_MAX_TAPS && l <= OC_MAX_L && g.co.is_multiple_of(L) && g.wo <= OC_ACC);
    assert!(w.len() == kk * g.co && x.len().is_multiple_of(ni) && y.len().is_multiple_of(no));
    assert!(x.len() / ni == y.len() / no && (bias.is_empty() || bias.len() == g.co));
    let ro = S::RO;
    let samples = x.len() / ni;
    let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
    // wt[t·16 + o]: weight of tap t of channel o0 + o.
    let mut wt = [0.0f32; OC_MAX_TAPS * L];
    // tile[p]: the 16 channels of position p of a sample (rounded up to whole 16 × 16
    // blocks; the positions past `l` are never stored).
    let mut tile = [_mm512_setzero_ps(); OC_MAX_L + L];
    // The taps' column count, as the compiler does not know it: the tap loop stays rolled
    // (its iterations interleaved would need more registers than there are).
    let kws = core::hint::black_box(g.kw);
    for o0 in (0..g.co).step_by(L) {
        for o in 0..L {
            for t in 0..kk {
                wt[t * L + o] = w[(o0 + o) * kk + t];
            }
        }
        let b = if bias.is_empty() {
            _mm512_setzero_ps()
        } else {
            // SAFETY: o0 + 16 <= co = bias.len().
            unsafe { _mm512_loadu_ps(bias.as_ptr().add(o0)) }
        };
        let wtp = wt.as_ptr();
        for s in 0..samples {
            for oh0 in (0..g.ho).step_by(ro) {
                let mut acc = [b; OC_ACC];
                for j in 0..g.ci {
                    for kh in 0..g.kh {
                        // Input row oh0 + kh of channel j: position (oh0 + r, c) reads
                        // x[row + r·WI + c + kw], inside the sample (no padding:
                        // oh0 + r + kh < HO + KH − 1 = HI, c + kw < WI).
                        let row = xp.wrapping_add(s * ni + j * plane + (oh0 + kh) * g.wi);
                        let t0 = (j * g.kh + kh) * g.kw;
                        for kw in 0..kws {
                            // SAFETY: tap t0 + kw < KK <= OC_MAX_TAPS.
                            let wv = unsafe { _mm512_loadu_ps(wtp.add((t0 + kw) * L)) };
                            let at = row.wrapping_add(kw);
                            for r in 0..ro {
                                for c in 0..g.wo {
                                    // SAFETY: inside the sample's channel j (see above).
                                    let v = _mm512_set1_ps(unsafe { *at.add(r * g.wi + c) });
                                    let a = &mut acc[r * g.wo + c];
                                    *a = _mm512_fmadd_ps(v, wv, *a);
                                }
                            }
                        }
                    }
                }
                tile[oh0 * g.wo..][..ro * g.wo].copy_from_slice(&acc[..ro * g.wo]);
            }
            // The tile's 16 × 16 blocks into the output's columns: channel o0 + o of
            // sample s holds positions p0 .. p0 + 16 at s·NO + (o0 + o)·L + p0.
            for p0 in (0..l).step_by(L) {
                let mut blk = [_mm512_setzero_ps(); L];
                blk.copy_from_slice(&tile[p0..p0 + L]);
                transpose16(&mut blk);
                let m = lanes(0, (l - p0) as isize);
                for (o, v) in blk.iter().enumerate() {
                    let at = s * no + (o0 + o) * l + p0;
                    // SAFETY: the lanes of `m` are positions p0.. < l of channel o0 + o
                    // of sample s: inside `y`.
                    unsafe { _mm512_mask_storeu_ps(yp.add(at), m, *v) };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::conv_avx512::tests::{assert_close, direct};
    use super::super::conv_avx512::{backward, runs};
    use super::*;
    use crate::layers::Conv2d;
    use alloc::vec;
    use alloc::vec::Vec;
    use rand::rngs::Xoshiro128PlusPlus;
    use rand::{RngExt, SeedableRng};

    extern crate alloc;
    extern crate std;

    /// The 16 × 16 transpose swaps rows and lanes.
    #[test]
    fn transpose16_transposes() {
        if !std::is_x86_feature_detected!("avx512f") {
            std::eprintln!("no AVX-512F: not run");
            return;
        }
        let mut r = [[0.0f32; L]; L];
        for (i, r) in r.iter_mut().enumerate() {
            for (j, v) in r.iter_mut().enumerate() {
                *v = (i * L + j) as f32;
            }
        }
        // SAFETY: a vector is 16 `f32`.
        let mut v: [__m512; L] = unsafe { core::mem::transmute(r) };
        // SAFETY: the CPU has AVX-512F.
        unsafe { transpose16(&mut v) };
        // SAFETY: as above.
        let t: [[f32; L]; L] = unsafe { core::mem::transmute(v) };
        for (i, t) in t.iter().enumerate() {
            for (j, &t) in t.iter().enumerate() {
                assert_eq!(t, (j * L + i) as f32, "row {i} lane {j}");
            }
        }
    }

    /// The layer's AVX-512 forward (on this kernel: asserted) and backward compute what
    /// the direct loops compute in `f64`, to `f32` rounding, over `b` samples; with and
    /// without a bias.
    fn agrees<S: ConvShape>(b: usize) {
        let g = S::GEOM;
        assert!(applies(&g, super::super::conv_avx512::applies(&g)), "{g:?}");
        let rng = &mut Xoshiro128PlusPlus::seed_from_u64(b as u64);
        let mut rand =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let (ni, no, kk) = (g.ci * g.hi * g.wi, g.co * g.l(), g.kk());
        let (w, x, dy) = (rand(kk * g.co), rand(ni * b), rand(no * b));
        for bias in [rand(g.co), Vec::new()] {
            let wide = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
            let (e_y, e_dw, e_db, e_dx) =
                direct(&g, &wide(&w), &wide(&bias), &wide(&x), &wide(&dy));
            let mut y = vec![f32::NAN; no * b];
            assert!(super::super::conv_avx512::forward::<f32, S>(
                &w, &bias, &x, &mut y
            ));
            let (mut dw, mut db) = (vec![0.0f32; w.len()], vec![0.0f32; bias.len()]);
            let (mut dx, mut wbuf) = (vec![f32::NAN; ni * b], vec![0.0f32; w.len()]);
            assert!(backward::<f32, S>(
                &w,
                &x,
                &dy,
                &mut dw,
                &mut db,
                Some(&mut dx),
                &mut wbuf
            ));
            assert_close(&g, "y", &y, &e_y, 0.0);
            assert_close(&g, "dw", &dw, &e_dw, 0.0);
            assert_close(&g, "db", &db, &e_db, 0.0);
            assert_close(&g, "dx", &dx, &e_dx, 0.0);
        }
    }

    #[test]
    fn channel_kernel_matches_direct_loops() {
        if !runs::<f32>() {
            std::eprintln!("the AVX-512 path is not in use (CPU or STATICNN_KERNELS): not run");
            return;
        }
        // LeNet-5's second convolution (rows of 10, blocks of two rows), at B = 1, 3, 32.
        type LeNetC2 = Conv2d<6, 14, 14, 16, 10, 10, 5, 5, 1, 1, 0, 0, 1, 1, 1, 150, 16>;
        agrees::<LeNetC2>(1);
        agrees::<LeNetC2>(3);
        agrees::<LeNetC2>(32);
        // 32 output channels (two blocks of 16), odd rows of 7 (blocks of 4 rows of 7 = 28
        // positions), a rectangular kernel; 49 positions (a last 16 × 16 block of one).
        agrees::<Conv2d<3, 9, 9, 32, 7, 7, 3, 3, 1, 1, 0, 0, 1, 1, 1, 27, 32>>(3);
        agrees::<Conv2d<2, 8, 11, 16, 6, 7, 3, 5, 1, 1, 0, 0, 1, 1, 1, 30, 16>>(1);
        // Rows of 28 (the widest: one row a block), 7 rows, one input channel.
        agrees::<Conv2d<1, 9, 30, 16, 7, 28, 3, 3, 1, 1, 0, 0, 1, 1, 1, 9, 16>>(2);
        // One output column, a 1 × 1 kernel (a pointwise convolution of a column), 48
        // channels.
        agrees::<Conv2d<4, 5, 1, 48, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 4, 48>>(3);
        // Input rows of 16 (the widest the channel-vectorised input gradient takes), and a
        // 7 × 7 kernel on rows of 16.
        agrees::<Conv2d<2, 6, 16, 16, 4, 12, 3, 5, 1, 1, 0, 0, 1, 1, 1, 30, 16>>(2);
        agrees::<Conv2d<1, 9, 16, 16, 3, 10, 7, 7, 1, 1, 0, 0, 1, 1, 1, 49, 16>>(1);
        // The input gradients of these cases run vectorised over the output channels
        // (`conv_avx512_dx`); padding, rows of 17, 8 channels or more than 256 vectors of
        // output gradient a sample do not.
        const {
            use super::super::conv_avx512::applies as rows;
            use super::super::conv_avx512_dx::applies as dx;
            macro_rules! dx_takes {
                ($($t:ty => $v:expr),* $(,)?) => {$({
                    let g = <$t as ConvShape>::GEOM;
                    assert!(dx(&g, rows(&g)) == $v);
                })*};
            }
            dx_takes! {
                LeNetC2 => true,
                Conv2d<3, 9, 9, 32, 7, 7, 3, 3, 1, 1, 0, 0, 1, 1, 1, 27, 32> => true,
                Conv2d<2, 8, 11, 16, 6, 7, 3, 5, 1, 1, 0, 0, 1, 1, 1, 30, 16> => true,
                Conv2d<4, 5, 1, 48, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 4, 48> => true,
                Conv2d<2, 6, 16, 16, 4, 12, 3, 5, 1, 1, 0, 0, 1, 1, 1, 30, 16> => true,
                Conv2d<1, 9, 16, 16, 3, 10, 7, 7, 1, 1, 0, 0, 1, 1, 1, 49, 16> => true,
                Conv2d<1, 9, 30, 16, 7, 28, 3, 3, 1, 1, 0, 0, 1, 1, 1, 9, 16> => false,
                Conv2d<1, 9, 17, 16, 7, 15, 3, 3, 1, 1, 0, 0, 1, 1, 1, 9, 16> => false,
                Conv2d<6, 14, 14, 16, 14, 14, 5, 5, 1, 1, 2, 2, 1, 1, 1, 150, 16> => false,
                Conv2d<6, 14, 14, 8, 10, 10, 5, 5, 1, 1, 0, 0, 1, 1, 1, 150, 8> => false,
                Conv2d<2, 12, 12, 48, 10, 10, 3, 3, 1, 1, 0, 0, 1, 1, 1, 18, 48> => false,
            }
        };
        // Padding, rows of 29 or a 16 × 17 output take the row kernels.
        const {
            let g = <Conv2d<6, 14, 14, 16, 14, 14, 5, 5, 1, 1, 2, 2, 1, 1, 1, 150, 16> as ConvShape>::GEOM;
            assert!(!applies(&g, true));
            let g =
                <Conv2d<1, 3, 31, 16, 1, 29, 3, 3, 1, 1, 0, 0, 1, 1, 1, 9, 16> as ConvShape>::GEOM;
            assert!(!applies(&g, true));
            let g = <Conv2d<1, 18, 19, 16, 16, 17, 3, 3, 1, 1, 0, 0, 1, 1, 1, 9, 16> as ConvShape>::GEOM;
            assert!(!applies(&g, true));
        };
    }
}
