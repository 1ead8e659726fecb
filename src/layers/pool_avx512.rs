//! Max pooling over 2 × 2 windows with stride 2 that tile the input (LeNet-5's), for `f32`
//! on AVX-512F (x86-64): 16 windows to a vector.
//!
//! Each output row reads its two input rows 32 columns at a time and splits them into the
//! even and odd columns (one permutation of two vectors each), giving the four inputs of
//! 16 windows in scan order: top left, top right, bottom left, bottom right. The scan of
//! [`super::pool`]'s `window_max` is then done lane by lane with compares and blends: an
//! input takes over when it is greater than the best so far or NaN. So the forward gives
//! the scan's value, bit for bit, and the backward sends `0 + dy` to the scan's input and
//! `+0` to the three others, as the scalar code does, then interleaves the columns back.
//! The last vector of a row is masked.
//!
//! The same kernels fuse the `ReLU` before the pooling (`RELU`): forward, each input is
//! first made `x > 0 ? x : +0` (the `ReLU` layer's formula) and stored to the `ReLU`'s
//! output as well; backward, each input gradient is then multiplied by `1` or `0` as the
//! `ReLU`'s backward does, from the sign of the pooling's input (the `ReLU`'s output, which
//! is `> 0` exactly where the `ReLU`'s input is). The same bits as the two layers one after
//! the other, in one pass over the image instead of three. The eval forward does the same
//! without keeping the `ReLU`'s output.

use core::any::TypeId;
use core::arch::x86_64::{
    __m512, __m512i, __mmask16, _CMP_EQ_OQ, _CMP_GT_OQ, _CMP_NGT_UQ, _CMP_UNORD_Q, _mm512_add_ps,
    _mm512_cmp_ps_mask, _mm512_loadu_si512, _mm512_mask_blend_ps, _mm512_mask_mov_ps,
    _mm512_mask_mul_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_maskz_mov_ps,
    _mm512_max_ps, _mm512_permutex2var_ps, _mm512_set1_ps, _mm512_setzero_ps,
};

use super::conv::Geom;
use crate::Scalar;
use crate::kernels::{self, Path};

/// Whether `g` is a max pooling these kernels take where the path is AVX-512: 2 × 2
/// windows, stride 2, no padding, tiling the input.
pub(crate) const fn applies(g: &Geom) -> bool {
    kernels::BLOCKED
        && g.kh == 2
        && g.kw == 2
        && g.sh == 2
        && g.sw == 2
        && g.ph == 0
        && g.pw == 0
        && g.hi == 2 * g.ho
        && g.wi == 2 * g.wo
}

/// Whether these kernels run now for `T`: AVX-512 in use, `T` is `f32`.
#[inline(always)]
fn runs<T: Scalar>() -> bool {
    TypeId::of::<T>() == TypeId::of::<f32>() && kernels::path() == Path::Avx512
}

/// The forward of a batch (whole samples in `x` and `y`) when the kernels run, on the
/// `ReLU` of each input when `RELU` (the `ReLU`'s output is not kept); `false` (nothing
/// done) otherwise.
#[inline(always)]
pub(crate) fn forward<T: Scalar, const RELU: bool>(g: &Geom, x: &[T], y: &mut [T]) -> bool {
    if !runs::<T>() {
        return false;
    }
    let (x, y): (&[f32], &mut [f32]) = (bytemuck::cast_slice(x), bytemuck::cast_slice_mut(y));
    check(g, x.len(), y.len());
    // SAFETY: the path is AVX-512, so the CPU has AVX-512F; the lengths are checked.
    unsafe { run::<false, RELU>(g, x, y, &[], &mut [], &mut []) };
    true
}

/// The `ReLU` and the forward of a batch in one pass when the kernels run: `r` (the
/// `ReLU`'s output, the pooling's input) and `y` written from `x`; `false` (nothing done)
/// otherwise.
#[inline(always)]
pub(crate) fn relu_forward<T: Scalar>(g: &Geom, x: &[T], r: &mut [T], y: &mut [T]) -> bool {
    if !runs::<T>() {
        return false;
    }
    let (x, y): (&[f32], &mut [f32]) = (bytemuck::cast_slice(x), bytemuck::cast_slice_mut(y));
    let r: &mut [f32] = bytemuck::cast_slice_mut(r);
    check(g, x.len(), y.len());
    assert!(r.len() == x.len());
    // SAFETY: as in `forward`.
    unsafe { run::<false, true>(g, x, y, &[], &mut [], r) };
    true
}

/// The backward of a batch when the kernels run: writes every input gradient, or with
/// `RELU` that of the `ReLU` before the pooling (`x`, the pooling's input, is then the
/// `ReLU`'s output), into `dx`; `false` (nothing done) otherwise.
#[inline(always)]
pub(crate) fn backward<T: Scalar, const RELU: bool>(
    g: &Geom,
    x: &[T],
    dy: &[T],
    dx: &mut [T],
) -> bool {
    if !runs::<T>() {
        return false;
    }
    let (x, dy): (&[f32], &[f32]) = (bytemuck::cast_slice(x), bytemuck::cast_slice(dy));
    let dx: &mut [f32] = bytemuck::cast_slice_mut(dx);
    check(g, x.len(), dy.len());
    assert!(dx.len() == x.len());
    // SAFETY: as in `forward`.
    unsafe { run::<true, RELU>(g, x, &mut [], dy, dx, &mut []) };
    true
}

/// Panics unless `x` and `y` hold the same whole number of `g`'s samples.
fn check(g: &Geom, nx: usize, ny: usize) {
    let (ni, no) = (g.ci * g.hi * g.wi, g.co * g.ho * g.wo);
    assert!(
        applies(g) && g.ci == g.co && nx.is_multiple_of(ni) && ny.is_multiple_of(no),
        "max pooling kernel: slice lengths do not match the geometry"
    );
    assert!(nx / ni == ny / no);
}

/// The first `n` lanes (at most 16).
#[inline(always)]
fn first(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// Lane indices for `_mm512_permutex2var_ps`: the even columns of 32, the odd ones, and
/// the two halves of the interleaving of two vectors.
static EVEN: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
static ODD: [i32; 16] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31];
static LOW: [i32; 16] = [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23];
static HIGH: [i32; 16] = [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31];

/// The `ReLU` layer's `x > 0 ? x : +0`: `vmaxps` returns its second operand unless the
/// first is greater, so NaN and `−0` become `+0` too.
#[inline]
#[target_feature(enable = "avx512f")]
fn relu(v: __m512) -> __m512 {
    _mm512_max_ps(v, _mm512_setzero_ps())
}

/// The `ReLU`'s backward on the gradients `d` of its outputs `v`: `d · 1` (that is `d`)
/// where `v > 0`, `d · 0` elsewhere (NaN for an infinite `d`, `−0` for a negative one), as
/// the layer computes it.
#[inline]
#[target_feature(enable = "avx512f")]
fn relu_back(d: __m512, v: __m512) -> __m512 {
    let zero = _mm512_setzero_ps();
    _mm512_mask_mul_ps(d, _mm512_cmp_ps_mask::<_CMP_NGT_UQ>(v, zero), d, zero)
}

/// The maximum of the four corners of `ReLU` outputs (never NaN, every zero `+0`): the
/// value of the window scan, whichever corner it picks.
#[inline]
#[target_feature(enable = "avx512f")]
fn max4(a: __m512, b: __m512, c: __m512, d: __m512) -> __m512 {
    _mm512_max_ps(_mm512_max_ps(a, b), _mm512_max_ps(c, d))
}

/// [`max2x2_packed`] for rows of at most 8 windows, [`max2x2`] otherwise.
///
/// # Safety
///
/// As [`max2x2`].
#[inline(always)]
unsafe fn run<const BACK: bool, const RELU: bool>(
    g: &Geom,
    x: &[f32],
    y: &mut [f32],
    dy: &[f32],
    dx: &mut [f32],
    r: &mut [f32],
) {
    // SAFETY: the caller's.
    unsafe {
        if g.wo <= 8 {
            max2x2_packed::<BACK, RELU>(g, x, y, dy, dx, r);
        } else {
            max2x2::<BACK, RELU>(g, x, y, dy, dx, r);
        }
    }
}

/// [`max2x2`] for rows of at most 8 windows (LeNet-5's second pooling has 5), where one
/// row to a vector would leave most lanes empty: `m = 16 / wo` rows of windows to a
/// vector. The windows tile the input, so the batch is a sequence of row pairs of `2·wi`
/// inputs, each giving `wo` outputs, and `m` of them are `4·m·wo ≤ 64` consecutive inputs:
/// four vectors. Each corner of the windows (in scan order) is gathered from them by two
/// two-vector permutations and a blend, and the gradients go back the same way (each input
/// takes the gradient of its window's corner of its row and column parity). The scan, its
/// bits and the `ReLU` are [`max2x2`]'s.
///
/// # Safety
///
/// As [`max2x2`].
#[target_feature(enable = "avx512f")]
unsafe fn max2x2_packed<const BACK: bool, const RELU: bool>(
    g: &Geom,
    x: &[f32],
    y: &mut [f32],
    dy: &[f32],
    dx: &mut [f32],
    r: &mut [f32],
) {
    let (wi, wo) = (g.wi, g.wo);
    let m = 16 / wo;
    let per = m * wo;
    let span = 2 * wi;
    let pairs = x.len() / span;
    // Lane l (window l of a vector): its top left input, l's row pair times `span` plus
    // twice its column; the other corners are 1, `wi` and `wi + 1` further. Lanes past
    // the last window repeat it (their results are not stored).
    let mut corner = [[0i32; 16]; 4];
    let mut upper = [0 as __mmask16; 4];
    for ((lanes, up), off) in corner.iter_mut().zip(&mut upper).zip([0, 1, wi, wi + 1]) {
        for (l, lane) in lanes.iter_mut().enumerate() {
            let w = l.min(per - 1);
            let at = (w / wo) * span + 2 * (w % wo) + off;
            *lane = at as i32;
            *up |= u16::from(at >= 32) << l;
        }
    }
    // Input lane i of vector k, at `16k + i` in the vectors: its window (plus 16 for an odd
    // column, the second operand of the permutation), and whether it is in a bottom row.
    let mut source = [[0i32; 16]; 4];
    let mut bottom = [0 as __mmask16; 4];
    for (k, (src, bot)) in source.iter_mut().zip(&mut bottom).enumerate() {
        for (i, s) in src.iter_mut().enumerate() {
            let at = (16 * k + i).min(4 * per - 1);
            let (pair, rem) = (at / span, at % span);
            let (row, col) = (rem / wi, rem % wi);
            *s = (pair * wo + col / 2 + 16 * (col & 1)) as i32;
            *bot |= u16::from(row == 1) << i;
        }
    }
    // SAFETY: 64-byte reads of 16 `i32`.
    let idx = |t: &[i32; 16]| unsafe { _mm512_loadu_si512(t.as_ptr().cast::<__m512i>()) };
    let corners = [
        idx(&corner[0]),
        idx(&corner[1]),
        idx(&corner[2]),
        idx(&corner[3]),
    ];
    let sources = [
        idx(&source[0]),
        idx(&source[1]),
        idx(&source[2]),
        idx(&source[3]),
    ];
    let (xp, yp, dyp, dxp) = (x.as_ptr(), y.as_mut_ptr(), dy.as_ptr(), dx.as_mut_ptr());
    let (rp, keep) = (r.as_mut_ptr(), !r.is_empty());
    let zero = _mm512_setzero_ps();
    let mut p0 = 0;
    while p0 < pairs {
        let rows = (pairs - p0).min(m);
        let (n_in, n_out) = (rows * span, rows * wo);
        let (base, out) = (p0 * span, p0 * wo);
        let masks = [0, 1, 2, 3].map(|k| first(n_in.saturating_sub(16 * k)));
        // SAFETY: masked loads of the `n_in` inputs of these row pairs (no lane read past
        // them; the addresses of empty vectors are not dereferenced).
        let mut v = [0, 1, 2, 3]
            .map(|k| unsafe { _mm512_maskz_loadu_ps(masks[k], xp.wrapping_add(base + 16 * k)) });
        if RELU && !BACK {
            for (k, v) in v.iter_mut().enumerate() {
                *v = relu(*v);
                if keep {
                    // SAFETY: masked stores of the `ReLU` outputs, where the inputs are.
                    unsafe {
                        _mm512_mask_storeu_ps(rp.wrapping_add(base + 16 * k), masks[k], *v);
                    }
                }
            }
        }
        let gather = |c: usize| {
            _mm512_mask_blend_ps(
                upper[c],
                _mm512_permutex2var_ps(v[0], corners[c], v[1]),
                _mm512_permutex2var_ps(v[2], corners[c], v[3]),
            )
        };
        let mut best = _mm512_set1_ps(f32::NEG_INFINITY);
        let mut at = _mm512_setzero_ps();
        if RELU && !BACK {
            best = max4(gather(0), gather(1), gather(2), gather(3));
        } else {
            for c in 0..4 {
                let u = gather(c);
                let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(u, best)
                    | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(u, u);
                best = _mm512_mask_mov_ps(best, take, u);
                at = _mm512_mask_mov_ps(at, take, _mm512_set1_ps(c as f32));
            }
        }
        let mo = first(n_out);
        if !BACK {
            // SAFETY: the `n_out` outputs of these windows.
            unsafe { _mm512_mask_storeu_ps(yp.add(out), mo, best) };
        } else {
            // `0 + dy`, as the scalar code adds into zero.
            // SAFETY: the `n_out` output gradients of these windows.
            let d = _mm512_add_ps(zero, unsafe { _mm512_maskz_loadu_ps(mo, dyp.add(out)) });
            let grad = |c: f32| -> __m512 {
                _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(at, _mm512_set1_ps(c)), d)
            };
            let (g00, g01, g10, g11) = (grad(0.0), grad(1.0), grad(2.0), grad(3.0));
            for k in 0..4 {
                let mut o = _mm512_mask_blend_ps(
                    bottom[k],
                    _mm512_permutex2var_ps(g00, sources[k], g01),
                    _mm512_permutex2var_ps(g10, sources[k], g11),
                );
                if RELU {
                    o = relu_back(o, v[k]);
                }
                // SAFETY: masked stores of the input gradients of these row pairs.
                unsafe { _mm512_mask_storeu_ps(dxp.wrapping_add(base + 16 * k), masks[k], o) };
            }
        }
        p0 += rows;
    }
}

/// The forward (`BACK = false`: `y` written, `dy` and `dx` empty) or the backward (`dx`
/// written from `dy`, `y` empty) over every sample and channel. With `RELU`, the forward
/// takes the `ReLU` of each input first and writes it to `r` (as long as `x`, or empty:
/// not kept), and the
/// backward applies the `ReLU`'s backward to `dx` (`x` is then the `ReLU`'s output);
/// otherwise `r` is empty.
///
/// # Safety
///
/// The CPU has AVX-512F; the lengths were checked by [`check`].
#[target_feature(enable = "avx512f")]
unsafe fn max2x2<const BACK: bool, const RELU: bool>(
    g: &Geom,
    x: &[f32],
    y: &mut [f32],
    dy: &[f32],
    dx: &mut [f32],
    r: &mut [f32],
) {
    // SAFETY: 64-byte reads of the 16 `i32` of each table.
    let idx = |t: &[i32; 16]| unsafe { _mm512_loadu_si512(t.as_ptr().cast::<__m512i>()) };
    let (even, odd, low, high) = (idx(&EVEN), idx(&ODD), idx(&LOW), idx(&HIGH));
    let (xp, yp, dyp, dxp) = (x.as_ptr(), y.as_mut_ptr(), dy.as_ptr(), dx.as_mut_ptr());
    let (rp, keep) = (r.as_mut_ptr(), !r.is_empty());
    let planes = x.len() / (g.hi * g.wi);
    for c in 0..planes {
        for oh in 0..g.ho {
            let r0 = c * g.hi * g.wi + 2 * oh * g.wi;
            let r1 = r0 + g.wi;
            let o = (c * g.ho + oh) * g.wo;
            let mut ow0 = 0;
            while ow0 < g.wo {
                let n = (g.wo - ow0).min(16);
                let (ma, mb) = (first(2 * n), first((2 * n).saturating_sub(16)));
                let a = 2 * ow0;
                // SAFETY: masked loads of the 2n inputs of these windows, in the rows (the
                // address of an empty second half, which may be past the end, is not
                // dereferenced: `wrapping_add`).
                let (mut p, mut q, mut s, mut t) = unsafe {
                    (
                        _mm512_maskz_loadu_ps(ma, xp.wrapping_add(r0 + a)),
                        _mm512_maskz_loadu_ps(mb, xp.wrapping_add(r0 + a + 16)),
                        _mm512_maskz_loadu_ps(ma, xp.wrapping_add(r1 + a)),
                        _mm512_maskz_loadu_ps(mb, xp.wrapping_add(r1 + a + 16)),
                    )
                };
                if RELU && !BACK {
                    (p, q, s, t) = (relu(p), relu(q), relu(s), relu(t));
                }
                if RELU && !BACK && keep {
                    // SAFETY: masked stores of the 2n `ReLU` outputs, where the inputs are.
                    unsafe {
                        _mm512_mask_storeu_ps(rp.wrapping_add(r0 + a), ma, p);
                        _mm512_mask_storeu_ps(rp.wrapping_add(r0 + a + 16), mb, q);
                        _mm512_mask_storeu_ps(rp.wrapping_add(r1 + a), ma, s);
                        _mm512_mask_storeu_ps(rp.wrapping_add(r1 + a + 16), mb, t);
                    }
                }
                let (v00, v01, v10, v11) = (
                    _mm512_permutex2var_ps(p, even, q),
                    _mm512_permutex2var_ps(p, odd, q),
                    _mm512_permutex2var_ps(s, even, t),
                    _mm512_permutex2var_ps(s, odd, t),
                );
                let mut best = _mm512_set1_ps(f32::NEG_INFINITY);
                let mut at = _mm512_setzero_ps();
                if RELU && !BACK {
                    best = max4(v00, v01, v10, v11);
                } else {
                    for (k, v) in [v00, v01, v10, v11].into_iter().enumerate() {
                        let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best)
                            | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                        best = _mm512_mask_mov_ps(best, take, v);
                        at = _mm512_mask_mov_ps(at, take, _mm512_set1_ps(k as f32));
                    }
                }
                let m = first(n);
                if !BACK {
                    // SAFETY: the n outputs of these windows.
                    unsafe { _mm512_mask_storeu_ps(yp.add(o + ow0), m, best) };
                } else {
                    // `0 + dy`, as the scalar code adds into zero.
                    // SAFETY: the n output gradients of these windows.
                    let d = _mm512_add_ps(_mm512_setzero_ps(), unsafe {
                        _mm512_maskz_loadu_ps(m, dyp.add(o + ow0))
                    });
                    let grad = |k: f32| -> __m512 {
                        let hit = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(at, _mm512_set1_ps(k));
                        _mm512_maskz_mov_ps(hit, d)
                    };
                    let (g00, g01, g10, g11) = (grad(0.0), grad(1.0), grad(2.0), grad(3.0));
                    let mut d = [
                        _mm512_permutex2var_ps(g00, low, g01),
                        _mm512_permutex2var_ps(g00, high, g01),
                        _mm512_permutex2var_ps(g10, low, g11),
                        _mm512_permutex2var_ps(g10, high, g11),
                    ];
                    if RELU {
                        // `g · 1` or `g · 0`, as the `ReLU`'s backward computes it.
                        for (d, v) in d.iter_mut().zip([p, q, s, t]) {
                            *d = relu_back(*d, v);
                        }
                    }
                    // SAFETY: masked stores of the 2n inputs of these windows.
                    unsafe {
                        let (at0, at1) = (dxp.wrapping_add(r0 + a), dxp.wrapping_add(r1 + a));
                        _mm512_mask_storeu_ps(at0, ma, d[0]);
                        _mm512_mask_storeu_ps(at0.wrapping_add(16), mb, d[1]);
                        _mm512_mask_storeu_ps(at1, ma, d[2]);
                        _mm512_mask_storeu_ps(at1.wrapping_add(16), mb, d[3]);
                    }
                }
                ow0 += 16;
            }
        }
    }
}
