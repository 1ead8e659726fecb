//! Direct convolution kernels for `f32` on AVX-512F (x86-64): the forward, the weight
//! gradient and the input gradient of a stride-1, undilated, ungrouped convolution, with
//! no patch matrix.
//!
//! LeNet-5's convolutions have 6 and 16 output channels and 25 or 150 weights each: on the
//! im2col path their products are narrow (6 or 16 columns), and copying the patches out and
//! the input gradient's patches back in cost as much as the products. Here every kernel
//! runs along the rows of the output, 16 positions to a vector (the row's last vector, and
//! the taps that reach into the zero padding, masked: a masked-off lane reads nothing and
//! holds zero):
//!
//! - forward: for a block of output channels, one accumulator per channel (and per vector
//!   of a two-vector row, or per row of a pair of one-vector rows, where the block has at
//!   most 8 channels, or both, where it has at most 4: more independent chains of fused
//!   multiply-adds), started from the
//!   bias; each tap loads the input's row once, shifted by the tap, and multiplies it into
//!   every channel of the block with the tap's weight broadcast from memory (unpadded
//!   convolutions with a multiple of 16 output channels run vectorised over the channels
//!   instead: [`conv_avx512_oc`](super::conv_avx512_oc));
//! - weight and bias gradients: in [`conv_avx512_wgrad`](super::conv_avx512_wgrad), 16
//!   output channels or 16 positions of a row to a vector, whichever fills more lanes;
//! - input gradient: the forward kernel on the output gradient, with the kernel flipped
//!   and the input and output channels swapped, padding `K − 1 − P`: the "full"
//!   correlation, which writes every input gradient once (nothing to clear, no scatter);
//!   unpadded convolutions with a multiple of 16 output channels and narrow input rows
//!   run vectorised over the output channels instead:
//!   [`conv_avx512_dx`](super::conv_avx512_dx).
//!
//! Each kernel is compiled once per layer type, its geometry a constant, for AVX-512F; the
//! layer calls it when [`applies`] and the run-time kernel path is
//! [`Path::Avx512`](crate::kernels::Path) (so `STATICNN_KERNELS=avx2` or a CPU without
//! AVX-512 keep the im2col path). Sums run in another order than the direct loops'
//! (lanes, then across them), with one rounding per fused multiply-add.

use core::any::TypeId;
use core::arch::x86_64::{
    __mmask16, _mm512_fmadd_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps,
    _mm512_setzero_ps,
};

use super::conv::{ConvShape, Geom};
use super::conv_avx512_dx as dxk;
use super::conv_avx512_oc as oc;
use super::conv_avx512_wgrad as wgrad;
use crate::Scalar;
use crate::kernels::{self, Path};

/// Lanes of an `f32` vector.
pub(super) const L: usize = 16;
/// The most output channels the forward kernel keeps in registers at once (and the most
/// accumulators of a block).
const FWD_BLOCK: usize = 16;
/// The most output channels × kernel columns the weight-gradient kernel keeps in
/// registers (with the kernel row's inputs and one output gradient: 32 registers).
const WGRAD_REGS: usize = 31;
/// The most output channels in one block of the weight-gradient kernel.
pub(super) const WGRAD_BLOCK: usize = 15;
/// The widest kernel the weight-gradient kernel takes.
pub(super) const MAX_KW: usize = 7;

/// Whether a convolution runs on these kernels where the path is AVX-512: stride 1,
/// dilation 1, one group, padding below the kernel (so that the input gradient is the
/// full correlation), a kernel at most [`MAX_KW`] wide, at least two output channels (a
/// single channel stays on the direct loops), and channel counts that split into blocks
/// wide enough to reuse each load (at least 4 channels of the forward's and the input
/// gradient's, 2 of the weight gradient's, where there are that many: a prime number of
/// channels above 16 takes the other paths).
pub(crate) const fn applies(g: &Geom) -> bool {
    kernels::BLOCKED
        && g.sh == 1
        && g.sw == 1
        && g.dh == 1
        && g.dw == 1
        && g.g == 1
        && g.co >= 2
        && g.ph < g.kh
        && g.pw < g.kw
        && g.kw <= MAX_KW
        && (g.co < 4 || divisor_at_most(g.co, FWD_BLOCK) >= 4)
        && (g.ci < 4 || divisor_at_most(g.ci, FWD_BLOCK) >= 4)
        && divisor_at_most(g.co, wgrad_block(g.kw)) >= 2
}

/// Whether these kernels run now for `T`: AVX-512 in use, `T` is `f32`.
#[inline(always)]
pub(crate) fn runs<T: Scalar>() -> bool {
    TypeId::of::<T>() == TypeId::of::<f32>() && kernels::path() == Path::Avx512
}

/// The geometry of the input gradient as a convolution of the output gradient:
/// channels and sizes swapped, padding `K − 1 − P` (see the module's notes).
const fn flipped(g: &Geom) -> Geom {
    Geom {
        ci: g.co,
        hi: g.ho,
        wi: g.wo,
        co: g.ci,
        ho: g.hi,
        wo: g.wi,
        kh: g.kh,
        kw: g.kw,
        sh: 1,
        sw: 1,
        // Saturating: the geometry is only used where `applies` (P < K), but it is
        // evaluated for every convolution type.
        ph: g.kh.saturating_sub(1 + g.ph),
        pw: g.kw.saturating_sub(1 + g.pw),
        dh: 1,
        dw: 1,
        g: 1,
    }
}

/// The flipped geometry of `S` as a [`ConvShape`] (a type only: never built).
struct Flipped<S>(core::marker::PhantomData<S>);

impl<S: ConvShape> ConvShape for Flipped<S> {
    const GEOM: Geom = flipped(&S::GEOM);
}

/// The largest divisor of `n` that is at most `most` (1 at least).
const fn divisor_at_most(n: usize, most: usize) -> usize {
    let mut d = if most < n { most } else { n };
    while d > 1 && !n.is_multiple_of(d) {
        d -= 1;
    }
    if d == 0 { 1 } else { d }
}

/// How many output channels of accumulators for `kw` kernel columns fit in
/// [`WGRAD_REGS`] registers besides the `kw` inputs (0 when none; `kw = 0` counts as 1).
const fn wgrad_most(kw: usize) -> usize {
    let kw = if kw == 0 { 1 } else { kw };
    WGRAD_REGS.saturating_sub(kw) / kw
}

/// The most output channels of a block of the weight gradient for `kw` kernel columns.
/// Saturating and at least 1: evaluated for every convolution type, also where the kernel
/// is wider than [`MAX_KW`] (and the kernels do not run).
const fn wgrad_block(kw: usize) -> usize {
    let most = wgrad_most(kw);
    if most < WGRAD_BLOCK {
        most
    } else {
        WGRAD_BLOCK
    }
}

/// Vectors of an output row `wo` wide per block of the forward with `ob` channels (see
/// [`Blocks::FWD_V`]): both vectors of a two-vector row share each tap's weights, and
/// their `2 · ob` accumulators stay within [`FWD_BLOCK`] registers.
const fn fwd_vecs(wo: usize, ob: usize) -> usize {
    if wo > L && wo <= 2 * L && 2 * ob <= FWD_BLOCK {
        2
    } else {
        1
    }
}

/// The blocks of output channels of the kernels for `S`: constants that divide the
/// channels, so that every block has the same size and its loops unroll into registers.
pub(super) trait Blocks: ConvShape {
    /// Output channels per block of the forward.
    const FWD_OB: usize = divisor_at_most(Self::GEOM.co, FWD_BLOCK);
    /// Vectors of an output row per block of the forward: 2 where a row is exactly two
    /// vectors long (17 to 32 outputs) and the block has at most 8 channels, else 1.
    const FWD_V: usize = fwd_vecs(Self::GEOM.wo, Self::FWD_OB);
    /// Output rows per block of the forward: 2 where the block's `2 · FWD_OB · FWD_V`
    /// accumulators fit in [`FWD_BLOCK`] (one vector a row and at most 8 channels, or two
    /// vectors a row and at most 4 channels), else 1. Conv 1 → 6 on rows of 28 keeps one
    /// row of two vectors: two rows (24 accumulators) measured 5–6 % slower.
    const FWD_R: usize = if Self::GEOM.ho >= 2 && 2 * Self::FWD_OB * Self::FWD_V <= FWD_BLOCK {
        2
    } else {
        1
    };
    /// Output channels per block of the weight gradient: with one accumulator per kernel
    /// column, and the kernel row's inputs and an output gradient, in 32 registers.
    const WGRAD_OB: usize = divisor_at_most(Self::GEOM.co, wgrad_block(Self::GEOM.kw));
}

impl<S: ConvShape> Blocks for S {}

/// `&[T]` as `&[f32]` (the caller checked that `T` is `f32`).
#[inline(always)]
fn f32s<T: Scalar>(s: &[T]) -> &[f32] {
    bytemuck::cast_slice(s)
}

/// `&mut [T]` as `&mut [f32]` (the caller checked that `T` is `f32`).
#[inline(always)]
fn f32s_mut<T: Scalar>(s: &mut [T]) -> &mut [f32] {
    bytemuck::cast_slice_mut(s)
}

/// The forward of a batch (`x` and `y` whole columns) when the kernels run; `false`
/// (nothing done) otherwise.
#[inline(always)]
pub(crate) fn forward<T: Scalar, S: ConvShape>(w: &[T], bias: &[T], x: &[T], y: &mut [T]) -> bool {
    if !runs::<T>() {
        return false;
    }
    let (w, bias, x, y) = (f32s(w), f32s(bias), f32s(x), f32s_mut(y));
    check_lengths(&S::GEOM, w, x, y);
    assert!(bias.is_empty() || bias.len() == S::GEOM.co);
    // SAFETY: the path is AVX-512, so the CPU has AVX-512F; the lengths are checked.
    unsafe { forward_any::<S>(w, bias, x, y) };
    true
}

/// Whether the forward of `S` runs on the channel-vectorised kernel of
/// [`conv_avx512_oc`](super::conv_avx512_oc) rather than along the rows.
const fn by_channels(g: &Geom) -> bool {
    oc::applies(g, applies(g))
}

/// The forward of `S` on the kernel that takes it: vectorised over the output channels
/// where [`by_channels`], along the rows otherwise.
///
/// # Safety
///
/// As [`forward_of`].
#[target_feature(enable = "avx512f")]
unsafe fn forward_any<S: ConvShape>(w: &[f32], bias: &[f32], x: &[f32], y: &mut [f32]) {
    if const { by_channels(&S::GEOM) } {
        // SAFETY: `by_channels` implies `oc::applies`; lengths as checked by the callers.
        unsafe { oc::forward::<S>(w, bias, x, y) }
    } else {
        // SAFETY: as this function's.
        unsafe { forward_of::<S>(w, bias, x, y) }
    }
}

/// The backward of a batch when the kernels run: adds the weight and bias gradients,
/// writes `dx` when given; `false` (nothing done) otherwise. `wbuf` holds the flipped
/// (or, for [`conv_avx512_dx`](super::conv_avx512_dx), rearranged) kernel (`KK · CO`
/// scalars).
#[inline(always)]
pub(crate) fn backward<T: Scalar, S: ConvShape>(
    w: &[T],
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    db: &mut [T],
    dx: Option<&mut [T]>,
    wbuf: &mut [T],
) -> bool {
    if !runs::<T>() {
        return false;
    }
    let g = &S::GEOM;
    let (w, x, dy, dw, db) = (f32s(w), f32s(x), f32s(dy), f32s_mut(dw), f32s_mut(db));
    check_lengths(g, w, x, dy);
    assert!(dw.len() == w.len() && (db.is_empty() || db.len() == g.co));
    // SAFETY: as in `forward`.
    unsafe {
        wgrad::weight_grad::<S>(x, dy, dw, db);
    }
    if let Some(dx) = dx {
        let (dx, wf) = (f32s_mut(dx), f32s_mut(wbuf));
        assert!(wf.len() == w.len() && dx.len() == x.len());
        if const { dxk::applies(&S::GEOM, applies(&S::GEOM)) } {
            // SAFETY: as in `forward`; `dxk::applies` holds; `wbuf` is `KK · CO` scalars.
            unsafe { dxk::input_grad::<S>(w, dy, dx, wf) };
            return true;
        }
        // wf[j][o][KH−1−kh][KW−1−kw] = w[o][j][kh][kw].
        let (kh, kw, kk) = (g.kh, g.kw, g.kk());
        let kkf = g.co * kh * kw;
        for o in 0..g.co {
            for j in 0..g.ci {
                for a in 0..kh {
                    for b in 0..kw {
                        wf[j * kkf + (o * kh + kh - 1 - a) * kw + kw - 1 - b] =
                            w[o * kk + (j * kh + a) * kw + b];
                    }
                }
            }
        }
        // SAFETY: as in `forward`; `flipped` is a valid convolution from `dy`'s sample
        // width to `dx`'s.
        unsafe { forward_any::<Flipped<S>>(wf, &[], dy, dx) };
    }
    true
}

/// Panics unless `x` and `y` hold the same whole number of `g`'s input and output samples
/// and `w` is `g`'s kernel.
fn check_lengths(g: &Geom, w: &[f32], x: &[f32], y: &[f32]) {
    let (ni, no) = (g.ci * g.hi * g.wi, g.co * g.l());
    assert!(
        w.len() == g.kk() * g.co
            && x.len().is_multiple_of(ni)
            && y.len().is_multiple_of(no)
            && x.len() / ni == y.len() / no,
        "convolution kernel: slice lengths do not match the geometry"
    );
}

/// Lanes `lo .. hi` of a mask (empty when `hi <= lo`).
#[inline(always)]
pub(super) fn lanes(lo: isize, hi: isize) -> __mmask16 {
    let (lo, hi) = (
        lo.clamp(0, L as isize) as u32,
        hi.clamp(0, L as isize) as u32,
    );
    if hi <= lo {
        0
    } else {
        ((((1u32 << (hi - lo)) - 1) << lo) & 0xffff) as __mmask16
    }
}

/// For the vector of outputs `ow0 .. ow0 + 16` of a row and the kernel column `kw`: the
/// lanes whose output is in the row and whose input column `ow + kw − PW` is in the image.
#[inline(always)]
pub(super) fn tap_lanes(g: &Geom, ow0: usize, kw: usize) -> __mmask16 {
    // Input column of lane t: ow0 + t + kw − pw, inside for t in [pw − kw − ow0, wi + pw − kw − ow0).
    let shift = ow0 as isize + kw as isize - g.pw as isize;
    let lo = -shift;
    let hi = (g.wi as isize - shift).min(g.wo as isize - ow0 as isize);
    lanes(lo, hi)
}

/// The forward of `S` over a batch: `y = bias + conv(x)` (see the module's notes).
///
/// A block is [`Blocks::FWD_OB`] output channels × [`Blocks::FWD_V`] vectors of an output
/// row (both vectors of a row of 17 to 32 outputs where the channels are few): each tap
/// loads the row's shifted input vectors once and multiplies each into every channel of
/// the block, the weights broadcast from memory.
///
/// # Safety
///
/// The CPU has AVX-512F, and the slices' lengths match `S`'s geometry
/// ([`check_lengths`]; `bias` empty or one per output channel).
#[target_feature(enable = "avx512f")]
unsafe fn forward_of<S: ConvShape>(w: &[f32], bias: &[f32], x: &[f32], y: &mut [f32]) {
    let g = &S::GEOM;
    let (plane, l, kk) = (g.hi * g.wi, g.l(), g.kk());
    let (ni, no) = (g.ci * plane, g.co * l);
    let (ob, rb, vb) = (S::FWD_OB, S::FWD_R, S::FWD_V);
    let samples = x.len() / ni;
    let (wp, bp, xp, yp) = (w.as_ptr(), bias.as_ptr(), x.as_ptr(), y.as_mut_ptr());
    // The taps of kernel row `$kh` into `$acc`, for the rows of the block that read
    // inside the image: row 0 where `$r0`, row 1 where `$r1` (literals).
    macro_rules! fwd_taps {
        ($acc:ident, $s:ident, $o0:ident, $oh0:ident, $ow0:ident, $kh:ident, $r0:literal, $r1:literal) => {
            for j in 0..g.ci {
                for kw in 0..g.kw {
                    let t = (j * g.kh + $kh) * g.kw + kw;
                    for r in 0..rb {
                        if !((r == 0 && $r0) || (r == 1 && $r1)) {
                            continue;
                        }
                        let ih = ($oh0 + r + $kh).wrapping_sub(g.ph);
                        let row = $s * ni + j * plane + ih * g.wi;
                        for c in 0..vb {
                            let ow = $ow0 + c * L;
                            let m = tap_lanes(g, ow, kw);
                            // The lanes in `m` read x[row + ow + t + kw − pw], inside the
                            // row; the others read nothing.
                            let at = xp.wrapping_add(row + ow + kw).wrapping_sub(g.pw);
                            // SAFETY: masked load, every lane read in bounds.
                            let v = unsafe { _mm512_maskz_loadu_ps(m, at) };
                            for o in 0..ob {
                                // SAFETY: (o0 + o)·KK + t < CO·KK = w.len().
                                let wv = _mm512_set1_ps(unsafe { *wp.add(($o0 + o) * kk + t) });
                                let a = &mut $acc[(o * rb + r) * vb + c];
                                *a = _mm512_fmadd_ps(wv, v, *a);
                            }
                        }
                    }
                }
            }
        };
    }
    for s in 0..samples {
        for o0 in (0..g.co).step_by(ob) {
            for oh0 in (0..g.ho).step_by(rb) {
                let mut ow0 = 0;
                while ow0 < g.wo {
                    // acc[(o · R + r) · V + c]: channel o0 + o, row oh0 + r, vector c
                    // (outputs ow0 + 16c ..).
                    let mut acc = [_mm512_setzero_ps(); FWD_BLOCK];
                    if !bias.is_empty() {
                        for o in 0..ob {
                            // SAFETY: o0 + o < co = bias.len().
                            let b = _mm512_set1_ps(unsafe { *bp.add(o0 + o) });
                            for a in &mut acc[o * rb * vb..][..rb * vb] {
                                *a = b;
                            }
                        }
                    }
                    for kh in 0..g.kh {
                        // Which rows of the block read an input row inside the image
                        // (and are inside the output): the taps for each case, with the
                        // rows known to the compiler (no branch in the tap loop).
                        let inside = |r: usize| {
                            let oh = oh0 + r;
                            oh < g.ho && (oh + kh).wrapping_sub(g.ph) < g.hi
                        };
                        match (inside(0), rb > 1 && inside(1)) {
                            (true, true) => fwd_taps!(acc, s, o0, oh0, ow0, kh, true, true),
                            (true, false) => fwd_taps!(acc, s, o0, oh0, ow0, kh, true, false),
                            (false, true) => fwd_taps!(acc, s, o0, oh0, ow0, kh, false, true),
                            (false, false) => {}
                        }
                    }
                    for o in 0..ob {
                        for r in 0..rb {
                            let oh = oh0 + r;
                            if oh >= g.ho {
                                break;
                            }
                            for c in 0..vb {
                                let ow = ow0 + c * L;
                                let m = lanes(0, g.wo as isize - ow as isize);
                                let at = s * no + (o0 + o) * l + oh * g.wo + ow;
                                // SAFETY: the lanes of `m` are outputs of row `oh` of
                                // channel o0 + o of sample s: inside `y`.
                                let a = acc[(o * rb + r) * vb + c];
                                unsafe { _mm512_mask_storeu_ps(yp.add(at), m, a) };
                            }
                        }
                    }
                    ow0 += vb * L;
                }
            }
        }
    }
}

#[cfg(test)]
pub(in crate::layers) mod tests {
    use super::super::conv::{direct_backward, direct_forward};
    use super::*;
    use crate::layers::Conv2d;
    use alloc::vec;
    use alloc::vec::Vec;
    use rand::rngs::Xoshiro128PlusPlus;
    use rand::{RngExt, SeedableRng};

    extern crate alloc;

    /// The direct loops over a batch in `f64`: output, weight and bias gradients (from
    /// zero; no bias gradient without a bias), input gradient. Shared by the tests of the
    /// other AVX-512 convolution kernels.
    pub(in crate::layers) fn direct(
        g: &Geom,
        w: &[f64],
        bias: &[f64],
        x: &[f64],
        dy: &[f64],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let (ni, no) = (g.ci * g.hi * g.wi, g.co * g.l());
        let b = x.len() / ni;
        let mut y = vec![0.0; no * b];
        let (mut dw, mut db) = (vec![0.0; w.len()], vec![0.0; g.co]);
        let mut dx = vec![0.0; ni * b];
        for s in 0..b {
            let (xs, ys) = (&x[s * ni..][..ni], &mut y[s * no..][..no]);
            direct_forward(g, w, bias, xs, ys);
            let (dys, dxs) = (&dy[s * no..][..no], &mut dx[s * ni..][..ni]);
            direct_backward(g, w, xs, dys, &mut dw, &mut db, Some(dxs));
        }
        if bias.is_empty() {
            db.clear();
        }
        (y, dw, db, dx)
    }

    /// Asserts that `got` (the kernels', `f32`) is what the direct loops computed in `f64`
    /// plus `add` (what a gradient buffer held before the kernels added to it), to `f32`
    /// rounding over a sum of `kk` terms: within `1e-5 · max(1, |e|) · √kk`.
    pub(in crate::layers) fn assert_close(g: &Geom, what: &str, got: &[f32], e: &[f64], add: f64) {
        assert_eq!(got.len(), e.len(), "{g:?}: {what}");
        let tol = 1e-5 * (g.kk() as f64).sqrt();
        for (i, (&a, &e)) in got.iter().zip(e).enumerate() {
            let e = e + add;
            assert!(
                (f64::from(a) - e).abs() <= tol * e.abs().max(1.0),
                "{g:?}: {what}[{i}] = {a}, direct loops (f64) {e}"
            );
        }
    }

    /// These kernels compute what the direct loops compute in `f64`, to `f32` rounding:
    /// output, weight and bias gradients, input gradient, over `b` samples.
    fn agrees<S: ConvShape>(b: usize) {
        let g = S::GEOM;
        assert!(applies(&g));
        let rng = &mut Xoshiro128PlusPlus::seed_from_u64(9);
        let mut rand =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let (ni, no, kk) = (g.ci * g.hi * g.wi, g.co * g.l(), g.kk());
        let (w, bias, x, dy) = (rand(kk * g.co), rand(g.co), rand(ni * b), rand(no * b));
        let wide = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        let (e_y, e_dw, e_db, e_dx) = direct(&g, &wide(&w), &wide(&bias), &wide(&x), &wide(&dy));
        let mut y = vec![f32::NAN; no * b];
        let (mut dw, mut db) = (vec![0.5f32; kk * g.co], vec![0.5f32; g.co]);
        let mut dx = vec![f32::NAN; ni * b];
        let mut wbuf = vec![0.0f32; kk * g.co];
        assert!(forward::<f32, S>(&w, &bias, &x, &mut y));
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
        assert_close(&g, "dw", &dw, &e_dw, 0.5);
        assert_close(&g, "db", &db, &e_db, 0.5);
        assert_close(&g, "dx", &dx, &e_dx, 0.0);
    }

    #[test]
    fn kernels_match_direct_loops() {
        if !runs::<f32>() {
            std::eprintln!("the AVX-512 path is not in use (CPU or STATICNN_KERNELS): not run");
            return;
        }
        // LeNet-5's two convolutions (padding 2 on 28 × 28: two vectors per row).
        agrees::<Conv2d<1, 28, 28, 6, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1, 1, 25, 6>>(3);
        agrees::<Conv2d<6, 14, 14, 16, 10, 10, 5, 5, 1, 1, 0, 0, 1, 1, 1, 150, 16>>(2);
        // A rectangular kernel, unequal padding, rows of 37 (three vectors), 20 channels
        // (two blocks of the forward, several of the weight gradient).
        agrees::<Conv2d<3, 6, 37, 20, 6, 37, 3, 7, 1, 1, 1, 3, 1, 1, 1, 63, 20>>(2);
        // 17 output channels (prime, above 16: blocks of one) take the other paths.
        type Prime = Conv2d<2, 5, 5, 17, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 18, 17>;
        const { assert!(!applies(&<Prime as ConvShape>::GEOM)) };
        // Two output channels, 1 × 1 rows of 3 (a 1-D shape), padding 1.
        agrees::<Conv2d<2, 1, 3, 2, 1, 3, 1, 3, 1, 1, 0, 1, 1, 1, 1, 6, 2>>(4);
        // Rows of exactly one vector (16: every lane stored, taps masked only at the
        // padding), and of 17 (a last vector of one lane; the input gradient's rows of 21).
        agrees::<Conv2d<2, 3, 16, 4, 3, 16, 3, 5, 1, 1, 1, 2, 1, 1, 1, 30, 4>>(2);
        agrees::<Conv2d<4, 4, 21, 6, 2, 17, 3, 5, 1, 1, 0, 0, 1, 1, 1, 60, 6>>(2);
        // Rows of two whole vectors, a 2 × 1 kernel, 15 output channels: the weight
        // gradient's largest block (15 channels × 1 column) and a forward block of 15.
        agrees::<Conv2d<8, 3, 32, 15, 2, 32, 2, 1, 1, 1, 0, 0, 1, 1, 1, 16, 15>>(2);
        // Columns one wide (a 3 × 1 kernel, padding above and below) and three channels.
        agrees::<Conv2d<4, 5, 1, 3, 5, 1, 3, 1, 1, 1, 1, 0, 1, 1, 1, 12, 3>>(3);
        // 16 channels in and out: a whole forward block both ways.
        agrees::<Conv2d<16, 4, 5, 16, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 144, 16>>(2);
    }

    /// The forward's blocks (see [`Blocks`]) on every geometry they newly cover, each
    /// against the direct loops (forward, weight, bias and input gradients).
    #[test]
    fn forward_blocks_match_direct_loops() {
        if !runs::<f32>() {
            std::eprintln!("the AVX-512 path is not in use (CPU or STATICNN_KERNELS): not run");
            return;
        }
        type C1 = Conv2d<1, 28, 28, 6, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1, 1, 25, 6>;
        type C2 = Conv2d<6, 14, 14, 16, 10, 10, 5, 5, 1, 1, 0, 0, 1, 1, 1, 150, 16>;
        const {
            // LeNet-5: both vectors of one of conv1's rows of 28 (6 channels: 12
            // accumulators); conv2's input gradient (6 channels, rows of 14) two rows a
            // block; conv1's (one channel, rows of 28) both vectors of two rows.
            assert!(<C1 as Blocks>::FWD_V == 2 && <C1 as Blocks>::FWD_R == 1);
            assert!(<Flipped<C2> as Blocks>::FWD_OB == 6 && <Flipped<C2> as Blocks>::FWD_R == 2);
            assert!(<Flipped<C1> as Blocks>::FWD_OB == 1 && <Flipped<C1> as Blocks>::FWD_V == 2);
            assert!(<Flipped<C1> as Blocks>::FWD_R == 2);
        };
        // B = 1 and 3 of both (the input gradient of C1 has one output channel).
        agrees::<C1>(1);
        agrees::<C2>(1);
        agrees::<C2>(3);
        // Rows of 17 (a second vector of one lane) and 32 (two whole vectors), padding
        // reaching both vectors, 2 and 8 channels.
        agrees::<Conv2d<3, 5, 17, 2, 5, 17, 3, 5, 1, 1, 1, 2, 1, 1, 1, 45, 2>>(3);
        agrees::<Conv2d<2, 4, 32, 8, 4, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 18, 8>>(1);
        // Two rows a block: an odd number of rows (the last block one row), padding
        // above and below (blocks with one row inside, or neither for a kernel row),
        // 4 channels, odd widths (and the input gradients: 5 channels, rows of 9; 4
        // channels, rows of 11).
        agrees::<Conv2d<5, 7, 9, 4, 7, 9, 5, 3, 1, 1, 2, 1, 1, 1, 1, 75, 4>>(3);
        agrees::<Conv2d<4, 3, 11, 6, 5, 13, 3, 3, 1, 1, 2, 2, 1, 1, 1, 36, 6>>(2);
        // Two rows of two vectors a block: an odd number of rows with padding above and
        // below, 4 channels (16 accumulators) and rows of 20; rows of 29, a 5 × 5 kernel
        // with padding 2 on 5 rows (kernel rows inside for one row of a block only).
        type W1 = Conv2d<2, 7, 20, 4, 7, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 18, 4>;
        type W2 = Conv2d<1, 5, 29, 3, 5, 29, 5, 5, 1, 1, 2, 2, 1, 1, 1, 25, 3>;
        const {
            assert!(<W1 as Blocks>::FWD_R == 2 && <W1 as Blocks>::FWD_V == 2);
            assert!(<W2 as Blocks>::FWD_R == 2 && <W2 as Blocks>::FWD_V == 2);
        };
        agrees::<W1>(3);
        agrees::<W2>(2);
        // 32 output channels with padding (blocks of 16, one row and vector a block;
        // not the channel kernel), 16 and 1 input channels.
        agrees::<Conv2d<16, 6, 6, 32, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 144, 32>>(3);
        agrees::<Conv2d<1, 9, 20, 32, 9, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 9, 32>>(1);
    }
}
