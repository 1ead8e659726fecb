//! Vector micro-kernels for x86-64: AVX2 + FMA (`f32` 8 lanes, `f64` 4) and AVX-512F
//! (`f32` 16 lanes, `f64` 8), one generic code over the instruction set ([`Lanes`]).
//!
//! They run when the CPU has the instructions: known at compile time (`-C
//! target-cpu=native`), or detected at run time under `std` ([`cpu_path`], cached with the
//! path in use by [`super::path`]). Each entry point returns `false` (and does nothing) when
//! no vector path runs or the scalar type is neither `f32` nor `f64`, and the caller takes
//! the portable path.
//!
//! All three products run one micro-kernel, `Y = init + A · X` on a tile of 2 vectors of
//! rows × up to 6 columns (12 accumulators in registers, one fused multiply-add per vector
//! of `A` and broadcast entry of `X`), over a panel of `A` packed into a stack array: two
//! vectors of rows per step of the shared dimension, contiguous, zero past the last row.
//! With AVX-512 a tile is 32 rows of `f32` (16 of `f64`) × 6 columns, its edges loaded and
//! stored through mask registers; the code is the AVX2 tile's, with the other [`Lanes`].
//! With AVX-512's 32 registers the forward product's full row tiles are four vectors (64
//! rows of `f32`) × six columns, 24 accumulators ([`wide_tiles`]), in passes of at most
//! `KC / 2` steps so that their panel fits the same buffer.
//! The shared dimension is taken in passes of `KC` steps, so that the panel stays in L1
//! while it serves every column tile (a panel read in place, strided by `o`, does not: its
//! lines fall into a few cache sets). The forward product packs `W`'s panel in the first
//! column tile of each full row tile, which reads `W` in place and stores each step into the
//! panel as it multiplies: `W` comes from L2 or L3 (the optimiser has just written it), and
//! there its loads overlap with the multiply-adds instead of stalling a packing loop (W3's
//! step about 2 % faster). With AVX-512, the wide tiles also prefetch the next row tile's
//! panel of `W` into L2 while they run ([`wide_tiles`]), so that this packing tile does not
//! wait for L3 (W5's forward product 4–6 % faster in its step). The weight gradient's whole
//! four-vector row tiles run the same wide tiles, `dY` as `A` (packed by the first column
//! tile), `Xᵀ` as `X` ([`grads_tiles`]). So do the input gradient's, over a panel of `W`'s 64
//! columns transposed before the tile runs, while its column tiles prefetch the next panel's
//! columns into L2 ([`wide_row`]: W5's `Wᵀ·dY` about 5 % faster alone, 4 % in its step).
//! A pass that packs its panels first packs as many row tiles' panels side by side as the
//! stack array holds, then runs each column tile down all of them, so that the columns of
//! `X` it reads come from L1 for all but the first.
//!
//! The bulk tiles (two vectors of rows × five or six columns) take two steps per trip, and
//! every tile reads strided columns of `X` (the forward and input-gradient products) from
//! two bases with the stride as a scaled index (`STRIDED`): 22 instructions per step of 12
//! multiply-adds, where it took 29. That counts on a core shared with another hardware
//! thread, where the instructions, not the multiply-adds, set the pace.
//!
//! - `W · X` (forward): `A` = rows of `W`, `X` = the inputs, started from the bias (first
//!   pass) or from the partial sums in `y` (later passes).
//! - `dY · Xᵀ` (weight gradient): `A` = rows of `dY` over the samples (the bias gradient is
//!   summed while packing), `X` = `Xᵀ`, started from `dW`.
//! - `Wᵀ · dY` (input gradient): `A` = columns of `W`, transposed while packing, `X` = `dY`,
//!   started from zero or from `dX`.
//!
//! Rows that do not fill a vector are loaded and stored with masks, so the kernels never
//! touch memory outside the matrices. Every output of the three products is accumulated in
//! the order of the shared dimension, as the plain loops do, but with one rounding per
//! fused multiply-add, and the bias gradient sample by sample: the tiles' shape, the
//! passes and the vector width change which outputs are computed together, never the
//! operations that make one output. So AVX2 and AVX-512 give the same bits, for every shape
//! (`kernels::tests::vector_paths_agree_bit_for_bit`).
//!
//! Bounds: the safe entry points assert the lengths of every slice against `i`, `o` and
//! the batch; the micro-kernels then work on raw pointers inside those bounds.

use core::any::TypeId;
use core::arch::x86_64::{
    __m256, __m256d, __m256i, __m512, __m512d, __mmask8, __mmask16, _MM_HINT_T1, _mm_prefetch,
    _mm256_add_pd, _mm256_add_ps, _mm256_and_pd, _mm256_and_ps, _mm256_broadcast_sd,
    _mm256_broadcast_ss, _mm256_castsi256_pd, _mm256_castsi256_ps, _mm256_cmpgt_epi32,
    _mm256_cmpgt_epi64, _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps,
    _mm256_maskload_pd, _mm256_maskload_ps, _mm256_maskstore_pd, _mm256_maskstore_ps,
    _mm256_max_pd, _mm256_max_ps, _mm256_mul_pd, _mm256_mul_ps, _mm256_permute2f128_pd,
    _mm256_permute2f128_ps, _mm256_set1_epi32, _mm256_set1_epi64x, _mm256_setr_epi32,
    _mm256_setr_epi64x, _mm256_setzero_pd, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_pd,
    _mm256_storeu_ps, _mm256_sub_pd, _mm256_sub_ps, _mm256_unpackhi_pd, _mm256_unpackhi_ps,
    _mm256_unpacklo_pd, _mm256_unpacklo_ps, _mm512_add_pd, _mm512_add_ps, _mm512_fmadd_pd,
    _mm512_fmadd_ps, _mm512_loadu_pd, _mm512_loadu_ps, _mm512_mask_storeu_pd,
    _mm512_mask_storeu_ps, _mm512_maskz_loadu_pd, _mm512_maskz_loadu_ps, _mm512_maskz_mov_pd,
    _mm512_maskz_mov_ps, _mm512_max_pd, _mm512_max_ps, _mm512_mul_pd, _mm512_mul_ps,
    _mm512_set1_pd, _mm512_set1_ps, _mm512_setzero_pd, _mm512_setzero_ps, _mm512_storeu_pd,
    _mm512_storeu_ps, _mm512_sub_pd, _mm512_sub_ps,
};
use core::marker::PhantomData;
use core::mem::MaybeUninit;

use super::{Path, SgdCheck};
use crate::Scalar;

/// The widest vector path this CPU runs: AVX-512 when it has AVX-512F (with AVX2 and FMA),
/// AVX2 when it has AVX2 and FMA, else the portable kernels. Known at compile time when the
/// target enables the features; detected at run time (once: `std` caches the CPU's answer)
/// under `std`; without either, the portable kernels.
#[inline]
pub fn cpu_path() -> Path {
    #[cfg(all(
        target_feature = "avx512f",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    return Path::Avx512;
    #[cfg(not(all(
        target_feature = "avx512f",
        target_feature = "avx2",
        target_feature = "fma"
    )))]
    {
        #[cfg(feature = "std")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return if std::is_x86_feature_detected!("avx512f") {
                Path::Avx512
            } else {
                Path::Avx2
            };
        }
        if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
            Path::Avx2
        } else {
            Path::Portable
        }
    }
}

/// AVX2 + FMA: 256-bit vectors, 16 registers, edges through vector masks.
pub(super) struct Avx2;
/// AVX-512F: 512-bit vectors, 32 registers, edges through mask registers.
pub(super) struct Avx512;

/// The element type of a vector register of the instruction set `I`: `f32` or `f64`.
///
/// Every method is an instruction of `I`: callers must run on a CPU that has them
/// ([`cpu_path`]) and be compiled with the features enabled (the entry points below), so
/// that the methods inline.
trait Lanes<I>: Scalar {
    /// One vector register of lanes.
    type V: Copy;
    /// A mask selecting lanes: a vector for AVX2, a mask register for AVX-512.
    type M: Copy;
    /// Lanes per vector.
    const L: usize;
    /// Vector registers of the instruction set: 32 lets a tile keep four vectors of rows ×
    /// six columns (24 accumulators) in registers ([`affine_tiles`]'s wide tiles).
    const REGS: usize;
    /// Loads `L` elements from `p`.
    unsafe fn load(p: *const Self) -> Self::V;
    /// Loads the lanes of `p` selected by `m` (zero elsewhere, never touching them).
    unsafe fn load_masked(p: *const Self, m: Self::M) -> Self::V;
    /// Stores `L` elements to `p`.
    unsafe fn store(p: *mut Self, v: Self::V);
    /// Stores the lanes selected by `m`.
    unsafe fn store_masked(p: *mut Self, m: Self::M, v: Self::V);
    /// Broadcasts `*p` to every lane.
    unsafe fn broadcast(p: *const Self) -> Self::V;
    /// `a · b + c`, rounded once.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    unsafe fn plus(a: Self::V, b: Self::V) -> Self::V;
    /// `a − b`.
    unsafe fn minus(a: Self::V, b: Self::V) -> Self::V;
    /// `a · b`, rounded.
    unsafe fn times(a: Self::V, b: Self::V) -> Self::V;
    /// Zero in every lane.
    unsafe fn zeros() -> Self::V;
    /// `v` in the lanes selected by `m`, zero elsewhere.
    unsafe fn keep(v: Self::V, m: Self::M) -> Self::V;
    /// Whether every lane of `v` is zero (a NaN lane is not).
    #[inline(always)]
    unsafe fn all_zero(v: Self::V) -> bool {
        let mut lanes = [Self::zero(); 16];
        // SAFETY: `lanes` holds a vector of `L ≤ 16` lanes; the caller guarantees `I`.
        unsafe { Self::store(lanes.as_mut_ptr(), v) };
        lanes[..Self::L].iter().all(|&x| x == Self::zero())
    }
    /// `x` where `x > 0`, else `+0` (NaN and `−0` included): the `ReLU` layer's value.
    unsafe fn relu(v: Self::V) -> Self::V;
    /// The larger of `a` and `b` lane by lane (`b` where either is NaN).
    unsafe fn larger(a: Self::V, b: Self::V) -> Self::V;
    /// The mask selecting the first `n` lanes (`n ≤ L`).
    unsafe fn mask(n: usize) -> Self::M;
    /// Transposes an `L × L` block into a panel whose steps are `step` elements apart: lane
    /// `c` of the vector at `dst + k·step` is `src[c·stride + k]`, for `k, c < L` (`L`
    /// columns of `L` consecutive elements each).
    unsafe fn transpose_block(src: *const Self, stride: usize, dst: *mut Self, step: usize);
}

impl Lanes<Avx2> for f32 {
    type V = __m256;
    type M = __m256i;
    const L: usize = 8;
    const REGS: usize = 16;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees 8 readable elements at `p` and AVX.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, m: __m256i) -> __m256 {
        // SAFETY: the caller guarantees the selected lanes readable and AVX.
        unsafe { _mm256_maskload_ps(p, m) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        // SAFETY: the caller guarantees 8 writable elements at `p` and AVX.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, m: __m256i, v: __m256) {
        // SAFETY: the caller guarantees the selected lanes writable and AVX.
        unsafe { _mm256_maskstore_ps(p, m, v) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees `*p` readable and AVX.
        unsafe { _mm256_broadcast_ss(&*p) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: the caller guarantees FMA.
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn plus(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn minus(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn times(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn zeros() -> __m256 {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn larger(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(v: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX. `max(v, 0)` returns its second operand, `+0`,
        // when `v` is NaN and when both are zeros: `+0` for `−0`, as `if v > 0 { v } else { 0 }`.
        unsafe { _mm256_max_ps(v, _mm256_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn keep(v: __m256, m: __m256i) -> __m256 {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_and_ps(v, _mm256_castsi256_ps(m)) }
    }
    #[inline(always)]
    unsafe fn mask(n: usize) -> __m256i {
        // SAFETY: the caller guarantees AVX2.
        unsafe {
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        }
    }
    #[inline(always)]
    unsafe fn transpose_block(src: *const f32, stride: usize, dst: *mut f32, step: usize) {
        // SAFETY: the caller's bounds.
        unsafe { transpose_8x8(src, stride, dst, step) }
    }
}

/// Transposes 8 columns of 8 consecutive `f32` at `src` (column `c` at `src + c·stride`)
/// into 8 rows at `dst` (row `k` at `dst + k·step`): lane `c` of row `k` is
/// `src[c·stride + k]`.
///
/// # Safety
/// The 8 columns readable, the 8 rows of 8 writable; AVX.
#[inline(always)]
unsafe fn transpose_8x8(src: *const f32, stride: usize, dst: *mut f32, step: usize) {
    // SAFETY: the caller's.
    unsafe {
        let r: [__m256; 8] = core::array::from_fn(|c| _mm256_loadu_ps(src.add(c * stride)));
        // Pairs of columns interleaved, then quadruples, then the 128-bit halves swapped:
        // the classic 8 × 8 transpose in 24 shuffles.
        let t: [__m256; 8] = core::array::from_fn(|q| {
            let (a, b) = (r[q / 2 * 2], r[q / 2 * 2 + 1]);
            if q % 2 == 0 {
                _mm256_unpacklo_ps(a, b)
            } else {
                _mm256_unpackhi_ps(a, b)
            }
        });
        let u: [__m256; 8] = core::array::from_fn(|q| {
            // q = 4·g + 2·h + s: group g of four columns, unpack half h, shuffle s.
            let (g, h, lo) = (q / 4, (q / 2) % 2, q % 2 == 0);
            let (a, b) = (t[4 * g + h], t[4 * g + 2 + h]);
            if lo {
                _mm256_shuffle_ps::<0x44>(a, b)
            } else {
                _mm256_shuffle_ps::<0xEE>(a, b)
            }
        });
        // u[4g + 2h + s] holds steps 2h + s (low half) and 4 + 2h + s (high half) of
        // columns 4g .. 4g + 4.
        for k in 0..4 {
            let (a, b) = (u[k], u[4 + k]);
            _mm256_storeu_ps(dst.add(k * step), _mm256_permute2f128_ps::<0x20>(a, b));
            _mm256_storeu_ps(
                dst.add((k + 4) * step),
                _mm256_permute2f128_ps::<0x31>(a, b),
            );
        }
    }
}

/// Transposes 4 columns of 4 consecutive `f64` at `src` (column `c` at `src + c·stride`)
/// into 4 rows at `dst` (row `k` at `dst + k·step`): lane `c` of row `k` is
/// `src[c·stride + k]`.
///
/// # Safety
/// The 4 columns readable, the 4 rows of 4 writable; AVX.
#[inline(always)]
unsafe fn transpose_4x4(src: *const f64, stride: usize, dst: *mut f64, step: usize) {
    // SAFETY: the caller's.
    unsafe {
        let r: [__m256d; 4] = core::array::from_fn(|c| _mm256_loadu_pd(src.add(c * stride)));
        // t0 = steps 0 and 2 of columns 0, 1; t1 = steps 1 and 3; t2, t3 of columns 2, 3.
        let t = [
            _mm256_unpacklo_pd(r[0], r[1]),
            _mm256_unpackhi_pd(r[0], r[1]),
            _mm256_unpacklo_pd(r[2], r[3]),
            _mm256_unpackhi_pd(r[2], r[3]),
        ];
        for k in 0..2 {
            let (a, b) = (t[k], t[2 + k]);
            _mm256_storeu_pd(dst.add(k * step), _mm256_permute2f128_pd::<0x20>(a, b));
            _mm256_storeu_pd(
                dst.add((k + 2) * step),
                _mm256_permute2f128_pd::<0x31>(a, b),
            );
        }
    }
}

impl Lanes<Avx2> for f64 {
    type V = __m256d;
    type M = __m256i;
    const L: usize = 4;
    const REGS: usize = 16;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m256d {
        // SAFETY: the caller guarantees 4 readable elements at `p` and AVX.
        unsafe { _mm256_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f64, m: __m256i) -> __m256d {
        // SAFETY: the caller guarantees the selected lanes readable and AVX.
        unsafe { _mm256_maskload_pd(p, m) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m256d) {
        // SAFETY: the caller guarantees 4 writable elements at `p` and AVX.
        unsafe { _mm256_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f64, m: __m256i, v: __m256d) {
        // SAFETY: the caller guarantees the selected lanes writable and AVX.
        unsafe { _mm256_maskstore_pd(p, m, v) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f64) -> __m256d {
        // SAFETY: the caller guarantees `*p` readable and AVX.
        unsafe { _mm256_broadcast_sd(&*p) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        // SAFETY: the caller guarantees FMA.
        unsafe { _mm256_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn plus(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn minus(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_sub_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn times(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_mul_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn zeros() -> __m256d {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn larger(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_max_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(v: __m256d) -> __m256d {
        // SAFETY: the caller guarantees AVX. `max(v, 0)` returns its second operand, `+0`,
        // when `v` is NaN and when both are zeros: `+0` for `−0`, as `if v > 0 { v } else { 0 }`.
        unsafe { _mm256_max_pd(v, _mm256_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn keep(v: __m256d, m: __m256i) -> __m256d {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_and_pd(v, _mm256_castsi256_pd(m)) }
    }
    #[inline(always)]
    unsafe fn mask(n: usize) -> __m256i {
        // SAFETY: the caller guarantees AVX2.
        unsafe { _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), _mm256_setr_epi64x(0, 1, 2, 3)) }
    }
    #[inline(always)]
    unsafe fn transpose_block(src: *const f64, stride: usize, dst: *mut f64, step: usize) {
        // SAFETY: the caller's bounds.
        unsafe { transpose_4x4(src, stride, dst, step) }
    }
}

impl Lanes<Avx512> for f32 {
    type V = __m512;
    type M = __mmask16;
    const L: usize = 16;
    const REGS: usize = 32;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees 16 readable elements at `p` and AVX-512F.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, m: __mmask16) -> __m512 {
        // SAFETY: the caller guarantees the selected lanes readable and AVX-512F (the
        // others are not accessed: masked lanes raise no fault).
        unsafe { _mm512_maskz_loadu_ps(m, p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: the caller guarantees 16 writable elements at `p` and AVX-512F.
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, m: __mmask16, v: __m512) {
        // SAFETY: the caller guarantees the selected lanes writable and AVX-512F.
        unsafe { _mm512_mask_storeu_ps(p, m, v) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees `*p` readable and AVX-512F. (LLVM folds the load
        // into a broadcast operand of the multiply-add.)
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn plus(a: __m512, b: __m512) -> __m512 {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn minus(a: __m512, b: __m512) -> __m512 {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn times(a: __m512, b: __m512) -> __m512 {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn zeros() -> __m512 {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn larger(a: __m512, b: __m512) -> __m512 {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(v: __m512) -> __m512 {
        // SAFETY: the caller guarantees AVX-512F. `vmaxps` returns its second operand, `+0`,
        // when `v` is NaN and when both are zeros, as with AVX2.
        unsafe { _mm512_max_ps(v, _mm512_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn keep(v: __m512, m: __mmask16) -> __m512 {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_maskz_mov_ps(m, v) }
    }
    #[inline(always)]
    unsafe fn mask(n: usize) -> __mmask16 {
        ((1u32 << n.min(16)) - 1) as __mmask16
    }
    #[inline(always)]
    unsafe fn transpose_block(src: *const f32, stride: usize, dst: *mut f32, step: usize) {
        // SAFETY: the caller guarantees 16 columns of 16 readable elements at `src` and 16
        // steps of 16 writable elements at `dst`, `step` apart; AVX-512F implies AVX. Four
        // 8 × 8 blocks: columns `8·cb ..` and steps `8·kb ..` land in lanes `8·cb ..` of
        // steps `8·kb ..`.
        unsafe {
            for (cb, kb) in [(0, 0), (0, 8), (8, 0), (8, 8)] {
                transpose_8x8(
                    src.add(cb * stride + kb),
                    stride,
                    dst.add(kb * step + cb),
                    step,
                );
            }
        }
    }
}

impl Lanes<Avx512> for f64 {
    type V = __m512d;
    type M = __mmask8;
    const L: usize = 8;
    const REGS: usize = 32;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m512d {
        // SAFETY: the caller guarantees 8 readable elements at `p` and AVX-512F.
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f64, m: __mmask8) -> __m512d {
        // SAFETY: the caller guarantees the selected lanes readable and AVX-512F (the
        // others are not accessed: masked lanes raise no fault).
        unsafe { _mm512_maskz_loadu_pd(m, p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m512d) {
        // SAFETY: the caller guarantees 8 writable elements at `p` and AVX-512F.
        unsafe { _mm512_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f64, m: __mmask8, v: __m512d) {
        // SAFETY: the caller guarantees the selected lanes writable and AVX-512F.
        unsafe { _mm512_mask_storeu_pd(p, m, v) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f64) -> __m512d {
        // SAFETY: the caller guarantees `*p` readable and AVX-512F.
        unsafe { _mm512_set1_pd(*p) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn plus(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn minus(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_sub_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn times(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_mul_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn zeros() -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn larger(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_max_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(v: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F; `vmaxpd` as `vmaxps` above.
        unsafe { _mm512_max_pd(v, _mm512_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn keep(v: __m512d, m: __mmask8) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_maskz_mov_pd(m, v) }
    }
    #[inline(always)]
    unsafe fn mask(n: usize) -> __mmask8 {
        ((1u32 << n.min(8)) - 1) as __mmask8
    }
    #[inline(always)]
    unsafe fn transpose_block(src: *const f64, stride: usize, dst: *mut f64, step: usize) {
        // SAFETY: the caller guarantees 8 columns of 8 readable elements at `src` and 8
        // steps of 8 writable elements at `dst`, `step` apart; AVX-512F implies AVX. Four
        // 4 × 4 blocks, as for `f32`.
        unsafe {
            for (cb, kb) in [(0, 0), (0, 4), (4, 0), (4, 4)] {
                transpose_4x4(
                    src.add(cb * stride + kb),
                    stride,
                    dst.add(kb * step + cb),
                    step,
                );
            }
        }
    }
}

/// Loads vector `v` of a tile whose last vector is masked when `MASK`.
#[inline(always)]
unsafe fn load_row<I, S: Lanes<I>, const MV: usize, const MASK: bool>(
    p: *const S,
    v: usize,
    m: S::M,
) -> S::V {
    // SAFETY: the caller guarantees the tile's rows readable and `I`.
    unsafe {
        if MASK && v + 1 == MV {
            S::load_masked(p.add(v * S::L), m)
        } else {
            S::load(p.add(v * S::L))
        }
    }
}

/// Stores vector `v` of a tile whose last vector is masked when `MASK`.
#[inline(always)]
unsafe fn store_row<I, S: Lanes<I>, const MV: usize, const MASK: bool>(
    p: *mut S,
    v: usize,
    m: S::M,
    x: S::V,
) {
    // SAFETY: the caller guarantees the tile's rows writable and `I`.
    unsafe {
        if MASK && v + 1 == MV {
            S::store_masked(p.add(v * S::L), m, x)
        } else {
            S::store(p.add(v * S::L), x)
        }
    }
}

/// Reinterprets a slice of `T` as a slice of `S` when they are the same type.
#[inline(always)]
fn same<T: Scalar, S: Scalar>(s: &[T]) -> Option<&[S]> {
    (TypeId::of::<T>() == TypeId::of::<S>()).then(|| bytemuck::cast_slice(s))
}

/// Reinterprets a mutable slice of `T` as a slice of `S` when they are the same type.
#[inline(always)]
fn same_mut<T: Scalar, S: Scalar>(s: &mut [T]) -> Option<&mut [S]> {
    (TypeId::of::<T>() == TypeId::of::<S>()).then(|| bytemuck::cast_slice_mut(s))
}

// ---------------------------------------------------------------------------------------
// The entry points for `f32` and `f64` and each instruction set, compiled once, in this
// crate.
//
// The kernels are generic (over the instruction set, the lanes, the tile shape and its
// mode), and a generic function is compiled by every crate that instantiates it. These
// plain functions stop that at the boundary: the generic entry points above them only cast
// the slices and call here, so a crate that declares a network compiles none of the kernels
// again (the calls cannot be inlined anyway: the callers are not compiled for AVX2). Each is
// compiled for its instruction set, into which the generic code inlines.

macro_rules! entry_points {
    ($t:ty, $isa:ty, $features:literal, $affine:ident, $grads:ident, $input_grad:ident) => {
        /// [`affine_tiles`] for this type and instruction set, the `ReLU` after it when
        /// `relu`; with `bound`, whether its packing found every weight bounded.
        ///
        /// # Safety
        /// The CPU has the instruction set; the slice lengths are those asserted by
        /// [`affine`].
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = $features)]
        #[inline(never)]
        unsafe fn $affine(
            w: &[$t],
            bias: &[$t],
            x: &[$t],
            y: &mut [$t],
            i: usize,
            o: usize,
            relu: bool,
            bound: bool,
        ) -> bool {
            // SAFETY: the caller's.
            unsafe { affine_tiles::<$isa, $t>(w, bias, x, y, i, o, relu, bound) }
        }

        /// [`grads_tiles`] for this type and instruction set: whether every value it stored
        /// is finite.
        ///
        /// # Safety
        /// The CPU has the instruction set; the slice lengths are those asserted by
        /// [`affine_grads`].
        #[target_feature(enable = $features)]
        #[inline(never)]
        unsafe fn $grads(
            dw: &mut [$t],
            db: &mut [$t],
            x: &[$t],
            dy: &[$t],
            i: usize,
            o: usize,
            add: bool,
        ) -> bool {
            // SAFETY: the caller's.
            unsafe { grads_tiles::<$isa, $t>(dw, db, x, dy, i, o, add, core::ptr::null_mut(), 0.0) }
        }

        /// [`input_grad_tiles`] for this type and instruction set.
        ///
        /// # Safety
        /// The CPU has the instruction set; the slice lengths are those asserted by
        /// [`input_grad`].
        #[target_feature(enable = $features)]
        #[inline(never)]
        unsafe fn $input_grad(w: &[$t], dy: &[$t], dx: &mut [$t], i: usize, o: usize, add: bool) {
            // SAFETY: the caller's.
            unsafe { input_grad_tiles::<$isa, $t>(w, dy, dx, i, o, add) }
        }
    };
}

entry_points!(
    f32,
    Avx2,
    "avx2,fma",
    affine_f32_avx2,
    grads_f32_avx2,
    input_grad_f32_avx2
);
entry_points!(
    f64,
    Avx2,
    "avx2,fma",
    affine_f64_avx2,
    grads_f64_avx2,
    input_grad_f64_avx2
);
entry_points!(
    f32,
    Avx512,
    "avx512f,avx2,fma",
    affine_f32_avx512,
    grads_f32_avx512,
    input_grad_f32_avx512
);
entry_points!(
    f64,
    Avx512,
    "avx512f,avx2,fma",
    affine_f64_avx512,
    grads_f64_avx512,
    input_grad_f64_avx512
);

/// Whether `path` is a vector path that this CPU runs.
#[inline(always)]
fn runs(path: Path) -> bool {
    path != Path::Portable && path <= cpu_path()
}

// ---------------------------------------------------------------------------------------
// The shared micro-kernel: a tile of `Y = init + A · X` with `A` packed.

/// Entries of the shared dimension per pass: a packed panel of two vectors of rows over
/// `KC` entries (16 KiB in `f32` and in `f64`) stays in L1 while it serves every column tile
/// of the pass.
pub(super) const KC: usize = 256;

/// Steps per pass over a shared dimension of `k`: as few passes of at most `KC` as cover it,
/// of equal length (784 inputs: 4 × 196, not 3 × 256 and a short pass of 16).
#[inline(always)]
fn pass_len(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1))
}

/// Bytes of the packed panel, a stack array: `KC` steps of two vectors of at most 64 bytes
/// (AVX-512; AVX2 uses the first half, as before the AVX-512 kernels).
const PANEL_BYTES: usize = 128 * KC;

/// The packed panel's storage, aligned to a cache line so that no vector load from it
/// straddles two lines.
#[repr(C, align(64))]
struct Aligned([u8; PANEL_BYTES]);

/// The packed panel: up to `KC` steps of two vectors, on the stack. It is not zeroed (that
/// would cost a 16 or 32 KiB `memset` per call, a sizeable part of a small product): every
/// packing function writes each step it fills before the micro-kernel reads it.
struct Panel<I, S> {
    buf: MaybeUninit<Aligned>,
    of: PhantomData<(I, S)>,
}

impl<I, S: Lanes<I>> Panel<I, S> {
    #[inline(always)]
    fn new() -> Self {
        Panel {
            buf: MaybeUninit::uninit(),
            of: PhantomData,
        }
    }

    /// Where step `k < KC` starts (`2·L` elements).
    #[inline(always)]
    fn step(&mut self, k: usize) -> *mut S {
        assert!(k < KC);
        // SAFETY: `(k·2·L + 2·L)·size_of::<S>() ≤ KC·2·64 = PANEL_BYTES` (a vector is at most
        // 64 bytes): inside the buffer, aligned for `S`.
        unsafe { self.buf.as_mut_ptr().cast::<S>().add(k * 2 * S::L) }
    }
}

/// What a tile does besides its product, and how it reads `X` ([`tile`]'s `MODE`, a set of
/// these flags; none: a plain product of adjacent columns).
///
/// Checks the values it stores ([`tile`]).
const CHECKED: u8 = 1;
/// Writes its rows strided and its columns contiguous, starting every row from the same
/// `init[j]` ([`Pass`]): the forward product of a layer with few outputs, whose tiles run
/// over the samples ([`affine_few_outputs`]).
const TRANSPOSED: u8 = 2;
/// Stores `max(v, 0)` (0 for NaN), as the `ReLU` layer computes it: the last pass of the
/// forward product of a `Linear` followed by a `ReLU` ([`affine`]'s `relu`).
const RELU: u8 = 4;
/// `X`'s columns are a run-time stride `xj` apart (the forward and input-gradient
/// products; the weight gradient's are adjacent). The tile reads its six columns from two
/// moving bases, three columns each, with the stride as a scaled index: six broadcasts and
/// no address arithmetic per step, where a chain of additions from one base cost five more
/// instructions per step. On a core shared with another hardware thread, the loop's
/// instructions, not its multiply-adds, set the pace (the FMA peak loop, whose few
/// instructions all multiply-add, keeps its speed there); the forward product ran 1.09× as
/// fast at the median, and 1.21× with two steps per trip, in a harness that alternated the
/// variants call by call.
const STRIDED: u8 = 8;
/// Prefetches one line into L2 per trip of two steps, from [`Pass`]'s `pf`, `pf_step` apart:
/// the forward product's wide tiles fetch the next row tile's panel of `W` while they run
/// on this one ([`wide_tiles`]).
const PREFETCH: u8 = 16;
/// The tile that packs the panel also sums the squares of the values it packs, in two
/// accumulators beside its multiply-adds, and returns `Σ (s − s)` over them ([`tile`]):
/// zero when both sums are finite, which bounds every packed value by `√MAX`, far below
/// the `MAX/4` that plain SGD needs (see [`affine_bounded`]). Only for the packing tile of
/// the forward's wide tiles, whose loads of `W` are already in registers.
const BOUNDED: u8 = 32;
/// `X` is a weight gradient's block of columns packed tile by tile ([`pack_x_block`]):
/// the tile of columns `j0 ..` (`width` wide) reads step `k` of its column `j` at
/// `x + j0·kc + k·width + j` (`wide_tiles` sets each tile's base and stride).
const XPACKED: u8 = 64;
/// Writes `W[r, j] − lr·v` into [`Pass`]'s `upd` instead of storing the tile's value `v`
/// into `y`: the last pass of a weight gradient that plain SGD applies as it is computed
/// ([`affine_grads_sgd`]), the update's bits (a multiplication, then a subtraction, as
/// [`sgd`] computes it). The weight gradient itself is never stored.
const SGD: u8 = 128;

/// One pass of a product `Y[r, j] = init[r, j] + Σ_k A[r, k] · X[k, j]` over a packed panel
/// of `A` (two vectors of rows per step `k`, zero past the last row) and `kc` steps.
#[derive(Clone, Copy)]
struct Pass<S> {
    /// `X[0, 0]` of the pass; `X[k, j]` is at `x + k·xk + j·xj`.
    x: *const S,
    xk: usize,
    xj: usize,
    /// `Y[0, 0]`; `Y[r, j]` is at `y + r + j·ys` (`TRANSPOSED`: at `y + r·ys + j`).
    y: *mut S,
    ys: usize,
    /// Rows of `Y` in all: the pass runs their row tiles (and `TRANSPOSED` stores them one by
    /// one, so it must know where they end).
    rows: usize,
    /// Where the accumulators start: `init[r, j]` is at `init + r·init_rows + j·init_step`
    /// (`init_step` 0 for a bias, both 0 for zeros; `TRANSPOSED`: at `init + j·init_step`
    /// for every `r`, `init_step` 1 for a bias, 0 for zeros).
    init: *const S,
    init_rows: usize,
    init_step: usize,
    kc: usize,
    /// `A` in place, when the first tile of each full row tile packs the panel as it runs
    /// (null: the pass's `pack` packs every panel first): `A[r, k]` is at `a + r + k·a_step`.
    a: *const S,
    a_step: usize,
    /// `PREFETCH`: the line that a tile's first trip prefetches into L2, and the distance
    /// to the next trip's (a hint: never read, so it may point anywhere).
    pf: *const S,
    pf_step: usize,
    /// `SGD`: the parameters that the pass updates, `W[r, j]` at `upd + r + j·ys` (the
    /// layout of `y`), and the learning rate.
    upd: *mut S,
    lr: S,
}

/// Runs `tile` on the column tiles of `n` columns of the last row tile of a pass, when it
/// is not full: as few tiles of at most six as cover them, of sizes differing by at most one
/// (32 columns: 6, 6, 5, 5, 5, 5), so that no tile is left with too few columns to hide the
/// latency of its multiply-adds. Returns the sum of the tiles' checks (see [`tile`]).
///
/// # Safety
/// As [`tile`], for every column `0 .. n`.
#[inline(always)]
unsafe fn row_of_tiles<I, S: Lanes<I>, const MV: usize, const MASK: bool, const MODE: u8>(
    p: &Pass<S>,
    panel: *mut S,
    r0: usize,
    n: usize,
    m: S::M,
) -> S::V {
    let tiles = n.div_ceil(6);
    let mut j0 = 0;
    // SAFETY: `I` (the caller).
    let mut check = unsafe { S::zeros() };
    for t in 0..tiles {
        let width = tile_width(n, t);
        // SAFETY: columns `j0 .. j0 + width` lie inside `0 .. n`.
        unsafe {
            let c = tile_of_width::<I, S, MV, MASK, MODE>(width, false, p, panel, r0, j0, m);
            if MODE & CHECKED != 0 {
                check = S::plus(check, c);
            }
        }
        j0 += width;
    }
    check
}

/// [`tile`] with `width ≤ 6` columns from `j0` (`pack`: the six-column tile that packs the
/// panel as it runs, for two full vectors of rows). Returns its check.
///
/// # Safety
/// As [`tile`]; `pack` only with `width` 6, `MV` 2 and no mask.
#[inline(always)]
unsafe fn tile_of_width<I, S: Lanes<I>, const MV: usize, const MASK: bool, const MODE: u8>(
    width: usize,
    pack: bool,
    p: &Pass<S>,
    panel: *mut S,
    r0: usize,
    j0: usize,
    m: S::M,
) -> S::V {
    // SAFETY: the caller's bounds.
    unsafe {
        match width {
            6 if pack => tile::<I, S, 2, false, MODE, 6, true>(p, panel, r0, j0, m),
            6 => tile::<I, S, MV, MASK, MODE, 6, false>(p, panel, r0, j0, m),
            5 => tile::<I, S, MV, MASK, MODE, 5, false>(p, panel, r0, j0, m),
            4 => tile::<I, S, MV, MASK, MODE, 4, false>(p, panel, r0, j0, m),
            3 => tile::<I, S, MV, MASK, MODE, 3, false>(p, panel, r0, j0, m),
            2 => tile::<I, S, MV, MASK, MODE, 2, false>(p, panel, r0, j0, m),
            _ => tile::<I, S, MV, MASK, MODE, 1, false>(p, panel, r0, j0, m),
        }
    }
}

/// Columns of column tile `t` of `n` (see [`row_of_tiles`]): `n` in `⌈n / 6⌉` tiles, the
/// first `n mod tiles` of them one column wider.
#[inline(always)]
fn tile_width(n: usize, t: usize) -> usize {
    let tiles = n.div_ceil(6).max(1);
    n / tiles + usize::from(t < n % tiles)
}

/// Step `k` of a tile: the panel's two vectors of rows at `a` (`PACK`: loaded from `A` in
/// place at `src` and stored into the panel at `a`), times the tile's columns of `X` at this
/// step, added into `acc`. Column `j` is at `x0 + j·xj`, or (`STRIDED`, `j ≥ 3`) at
/// `x3 + (j − 3)·xj`. With `PACK` and [`BOUNDED`], also adds the squares of the packed
/// vectors into `bnd` (even vectors into the first, odd into the second).
///
/// # Safety
/// the instruction set `I`; the panel step, `A`'s rows (`PACK`) and the tile's columns of `X` at this
/// step are inside their buffers.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn step<
    I,
    S: Lanes<I>,
    const MV: usize,
    const NR: usize,
    const PACK: bool,
    const MODE: u8,
>(
    acc: &mut [[S::V; MV]; NR],
    bnd: &mut [S::V; 2],
    a: *mut S,
    src: *const S,
    x0: *const S,
    x3: *const S,
    xj: usize,
) {
    // SAFETY: the caller's bounds.
    unsafe {
        // Vector `v` of the step in the panel, whose steps are `max(MV, 2)` vectors.
        let at = |v: usize| v * S::L;
        let av: [S::V; MV] = if PACK {
            // Rows `r0 ..` of `A` at this step, stored into the panel for the other tiles.
            let av = core::array::from_fn(|v| S::load(src.add(v * S::L)));
            for (v, &x) in av.iter().enumerate() {
                S::store(a.add(at(v)), x);
            }
            if MODE & BOUNDED != 0 {
                // Two chains of `MV / 2` multiply-adds per step: short beside the tile's.
                // One factor is read back from the panel (just stored: forwarded, in L1) by
                // a volatile load, which neither moves past the barrier between a trip's
                // two steps nor folds into the register: with both factors in registers,
                // LLVM sank the first step's multiply-adds past it, kept its four vectors
                // live through the second, and the tile spilled its accumulators to the
                // stack every step. (The panel's steps are vector-aligned: `Aligned`.)
                for (v, &x) in av.iter().enumerate() {
                    let y = a.add(at(v)).cast::<S::V>().read_volatile();
                    bnd[v % 2] = S::fmadd(x, y, bnd[v % 2]);
                }
            }
            av
        } else {
            core::array::from_fn(|v| S::load(a.add(at(v))))
        };
        for (j, accj) in acc.iter_mut().enumerate() {
            let xp = if MODE & STRIDED != 0 && j >= 3 {
                x3.add((j - 3) * xj)
            } else {
                x0.add(j * xj)
            };
            let xb = S::broadcast(xp);
            for (c, &avv) in accj.iter_mut().zip(&av) {
                *c = S::fmadd(avv, xb, *c);
            }
        }
    }
}

/// One tile: rows `r0 ..` (`MV` vectors, the last one's rows selected by `m` when `MASK`)
/// × columns `j0 .. j0 + NR`, accumulated in registers over the pass.
///
/// `CHECKED`: returns `Σ (v − v)` over the values it stored (masked lanes cleared): zero in
/// every lane when they are all finite, NaN in some lane otherwise. The subtractions and
/// additions run on the adder pipes, beside the multiply-adds, so the check costs next to
/// nothing where a separate pass would read the whole result again. Otherwise zero.
/// `TRANSPOSED`: starts every row of column `j` from `init[j]` and stores the tile value by
/// value, rows strided by `ys` (see [`Pass`]).
///
/// # Safety
/// the instruction set `I`; `panel` holds `kc` steps of `max(MV, 2)·L` elements; the tile's rows and columns of
/// `init` and `y`, and its columns of `x` over `kc` steps, are inside their matrices. `PACK`
/// (with `MV = 2`, no mask): rows `r0 .. r0 + 2·L` of `p.a` over `kc` steps are inside `A`,
/// and the tile writes the panel's `kc` steps from them before any other tile reads them.
#[inline(always)]
#[allow(clippy::pointers_in_nomem_asm_block)]
unsafe fn tile<
    I,
    S: Lanes<I>,
    const MV: usize,
    const MASK: bool,
    const MODE: u8,
    const NR: usize,
    const PACK: bool,
>(
    p: &Pass<S>,
    panel: *mut S,
    r0: usize,
    j0: usize,
    m: S::M,
) -> S::V {
    // SAFETY: the caller's bounds.
    unsafe {
        let mut acc: [[S::V; MV]; NR] = if MODE & TRANSPOSED != 0 {
            core::array::from_fn(|j| [S::broadcast(p.init.add((j0 + j) * p.init_step)); MV])
        } else {
            let init = p.init.add(r0 * p.init_rows + j0 * p.init_step);
            core::array::from_fn(|j| {
                core::array::from_fn(|v| {
                    load_row::<I, S, MV, MASK>(init.add(j * p.init_step), v, m)
                })
            })
        };
        // `STRIDED`: columns 0, 1, 2 of the tile are read at `xk + j·xj` and columns 3, 4, 5
        // at `xk3 + (j − 3)·xj`, two moving bases and one stride (see `STRIDED`). The empty
        // `asm!` hides that `xk3` is `xk` plus a multiple of the stride, from which LLVM
        // would rebuild a chain of additions, one per column and step. (`xk3` lies outside
        // `X` in a tile of three columns or fewer, which never reads it: hence `wrapping_add`.)
        let mut xk = p.x.add(j0 * p.xj);
        let mut xk3 = xk.wrapping_add(3 * p.xj);
        if MODE & STRIDED != 0 {
            // The statement neither reads nor writes through the pointer: it only hides its
            // value (hiding the offset `3·xj` instead left LLVM moving every base). Hence
            // `tile`'s `allow(clippy::pointers_in_nomem_asm_block)`.
            core::arch::asm!(
                "/* {0} */",
                inout(reg) xk3,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        // Elements per step: four vectors in the wide panel, else two.
        let ps = MV.max(2) * S::L;
        let mut a = panel;
        let mut src = if PACK { p.a.add(r0) } else { p.a };
        // Two steps per trip in the tiles that carry the products' bulk (two full vectors of
        // rows, five or six columns): half the loop's own instructions (counter, pointers,
        // branch), which matter when the core is shared (see `STRIDED`). The others take one
        // step per trip: unrolled, their copies of the step doubled the library's build time.
        // The empty `asm!` between the two steps (a compiler barrier, no instruction) keeps
        // LLVM from scheduling them as one: it then moved each column's base separately
        // (five more additions per trip) or, in some tiles, kept the accumulators on the
        // stack.
        let pairs = if MV >= 2 && !MASK && NR >= 5 {
            p.kc / 2
        } else {
            0
        };
        let mut pf = p.pf;
        let mut bnd = [S::zeros(); 2];
        for _ in 0..pairs {
            if MODE & PREFETCH != 0 {
                _mm_prefetch::<_MM_HINT_T1>(pf.cast());
                pf = pf.wrapping_add(p.pf_step);
            }
            step::<I, S, MV, NR, PACK, MODE>(&mut acc, &mut bnd, a, src, xk, xk3, p.xj);
            core::arch::asm!("", options(nostack, preserves_flags));
            step::<I, S, MV, NR, PACK, MODE>(
                &mut acc,
                &mut bnd,
                a.add(ps),
                src.wrapping_add(p.a_step),
                xk.wrapping_add(p.xk),
                xk3.wrapping_add(p.xk),
                p.xj,
            );
            a = a.add(2 * ps);
            src = src.wrapping_add(2 * p.a_step);
            xk = xk.wrapping_add(2 * p.xk);
            xk3 = xk3.wrapping_add(2 * p.xk);
        }
        for _ in 2 * pairs..p.kc {
            step::<I, S, MV, NR, PACK, MODE>(&mut acc, &mut bnd, a, src, xk, xk3, p.xj);
            a = a.add(ps);
            src = src.wrapping_add(p.a_step);
            xk = xk.wrapping_add(p.xk);
            xk3 = xk3.wrapping_add(p.xk);
        }
        if MODE & RELU != 0 {
            // Two plain loops: LLVM unrolls them, where it may leave a loop over
            // `iter_mut().flatten()` rolled and then keep every accumulator in memory through
            // the whole tile (and `map` would call a function without AVX).
            for accj in &mut acc {
                for c in accj {
                    *c = S::relu(*c);
                }
            }
        }
        let mut check = S::zeros();
        if PACK && MODE & BOUNDED != 0 {
            check = S::plus(S::minus(bnd[0], bnd[0]), S::minus(bnd[1], bnd[1]));
        }
        if MODE & TRANSPOSED != 0 {
            // Column `j` of the tile is `Y[r0 .., j0 + j]`, one value every `ys`: through a
            // buffer of the tile's rows, the rows that exist.
            let rows = (p.rows - r0).min(MV * S::L);
            let mut lanes = [S::zero(); 32];
            for (j, accj) in acc.iter().enumerate() {
                for (v, &c) in accj.iter().enumerate() {
                    S::store(lanes.as_mut_ptr().add(v * S::L), c);
                }
                let yj = p.y.add(r0 * p.ys + j0 + j);
                for (r, &value) in lanes[..rows].iter().enumerate() {
                    yj.add(r * p.ys).write(value);
                }
            }
            return check;
        }
        if MODE & SGD != 0 {
            // The update instead of the value: `W − lr·v`, the rows that exist (masks).
            let lr = S::broadcast(&p.lr);
            for (j, accj) in acc.iter().enumerate() {
                let uj = p.upd.add(r0 + (j0 + j) * p.ys);
                for (v, &c) in accj.iter().enumerate() {
                    let w = load_row::<I, S, MV, MASK>(uj, v, m);
                    store_row::<I, S, MV, MASK>(uj, v, m, S::minus(w, S::times(lr, c)));
                }
            }
            return check;
        }
        for (j, accj) in acc.iter().enumerate() {
            let yj = p.y.add(r0 + (j0 + j) * p.ys);
            for (v, &c) in accj.iter().enumerate() {
                store_row::<I, S, MV, MASK>(yj, v, m, c);
                if MODE & CHECKED != 0 {
                    let d = S::minus(c, c);
                    let d = if MASK && v + 1 == MV {
                        S::keep(d, m)
                    } else {
                        d
                    };
                    check = S::plus(check, d);
                }
            }
        }
        check
    }
}

/// Fills the panel of a row tile for [`pass`]: `pack(r0, rows_in_tile, panel, at)` from the
/// panel's step `at`. A trait rather than a closure: its `#[inline(always)]` methods are
/// inlined into the entry point compiled for `I`, with the intrinsics they call, whereas a
/// closure is a function of its own, compiled without AVX; when LLVM leaves it out of line
/// (it did in programs declaring several layers), it calls every load and store intrinsic
/// as a function (a single sample through a 400 × 120 layer took several times as long).
trait Pack<I, S: Lanes<I>> {
    /// Packs rows `r0 .. r0 + h` of the tile into `panel` from its step `at`.
    fn pack(&mut self, r0: usize, h: usize, panel: &mut Panel<I, S>, at: usize);
}

/// [`pack_columns`] of `kc` steps of `src`, `stride` apart, from row `r0`.
struct Columns<'a, S> {
    src: &'a [S],
    stride: usize,
    kc: usize,
}

impl<I, S: Lanes<I>> Pack<I, S> for Columns<'_, S> {
    #[inline(always)]
    fn pack(&mut self, r0: usize, h: usize, panel: &mut Panel<I, S>, at: usize) {
        pack_columns(&self.src[r0..], self.stride, h, self.kc, panel, at);
    }
}

/// [`pack_transposed`] of `kc` steps from step `k0` of the columns of `src` (`stride`
/// apart) from column `r0`.
struct Transposed<'a, S> {
    src: &'a [S],
    stride: usize,
    k0: usize,
    kc: usize,
}

impl<I, S: Lanes<I>> Pack<I, S> for Transposed<'_, S> {
    #[inline(always)]
    fn pack(&mut self, r0: usize, h: usize, panel: &mut Panel<I, S>, at: usize) {
        pack_transposed(
            self.src,
            self.stride,
            (r0, self.k0),
            h,
            self.kc,
            panel,
            at,
            2,
        );
    }
}

/// The panel of a weight gradient's row tile ([`grads_tiles`]): rows `r0 .. r0 + h` of
/// `kc` columns of `dY` (`o` apart), in order; and the bias gradient of those rows, summed
/// sample by sample as the plain loops do, from the panel (from `db`'s values when
/// `from_dw`, from zero otherwise), its check added into `check_db` on the `last` pass.
struct GradsPanel<'a, I, S: Lanes<I>> {
    dy: &'a [S],
    o: usize,
    kc: usize,
    db: &'a mut [S],
    zeros: &'a [S; 64],
    from_dw: bool,
    last: bool,
    check_db: &'a mut S::V,
}

impl<I, S: Lanes<I>> Pack<I, S> for GradsPanel<'_, I, S> {
    #[inline(always)]
    fn pack(&mut self, r0: usize, h: usize, panel: &mut Panel<I, S>, at: usize) {
        let kc = self.kc;
        pack_columns(&self.dy[r0..], self.o, h, kc, panel, at);
        let dbt = &mut self.db[r0..r0 + h];
        for v in 0..h.div_ceil(S::L) {
            let len = (h - v * S::L).min(S::L);
            // SAFETY: the mask selects `len` lanes, inside `dbt` from `v·L`; the panel
            // holds `kc` steps of two vectors; the callers run with `I`.
            unsafe {
                let m = S::mask(len);
                let d = dbt.as_mut_ptr().add(v * S::L);
                let mut acc = if self.from_dw {
                    S::load_masked(d, m)
                } else {
                    S::load_masked(self.zeros.as_ptr(), m)
                };
                let steps = panel.step(at).add(v * S::L);
                for k in 0..kc {
                    acc = S::plus(acc, S::load(steps.add(k * 2 * S::L)));
                }
                S::store_masked(d, m, acc);
                if self.last {
                    *self.check_db = S::plus(*self.check_db, S::keep(S::minus(acc, acc), m));
                }
            }
        }
    }
}

/// Runs the row tiles of a pass over its `p.rows` rows, and returns the sum of the tiles'
/// checks (see [`tile`]). `pack(r0, rows_in_tile, panel, at)` fills the panel of a row tile
/// from the panel's step `at` (the panel is on the caller's stack).
///
/// A pass that packs every panel first (`p.a` null) takes its full row tiles in groups of
/// as many as the panel holds side by side (`KC / kc`: four for W3's weight gradient, whose
/// passes are the 64 samples), packs a group, then runs each column tile down the group
/// ([`tiles_down`]): the columns of `X` that a column tile reads are then loaded from L2 once
/// per group, and from L1 by the group's other row tiles, instead of once per row tile. A
/// pass that packs in its first column tile ([`Pass`]'s `a`) runs its full row tiles one by
/// one (groups of one), and the last row tile, when it is not full, runs alone
/// ([`row_of_tiles`]). The order changes no value: every tile computes the same sums.
///
/// # Safety
/// the instruction set `I`; `pack` writes all `2·L` elements of the `kc` steps of the panel from `at`;
/// the pass's bounds as in [`tile`].
#[inline(always)]
unsafe fn pass<I, S: Lanes<I>, const MODE: u8>(
    p: &Pass<S>,
    n: usize,
    panel: &mut Panel<I, S>,
    mut pack: impl Pack<I, S>,
) -> S::V {
    let l = S::L;
    let rows = p.rows;
    let grouped = p.a.is_null();
    let group = KC / p.kc.max(1);
    // The fused packing runs in a first column tile of six columns.
    let six = tile_width(n, 0) == 6;
    // SAFETY: `I` (the caller).
    let mut check = unsafe { S::zeros() };
    let mut r0 = 0;
    // Each round runs a group of full row tiles, or one row tile.
    while r0 < rows {
        let full = (rows - r0) / (2 * l);
        let tiles = if grouped && full > 0 {
            full.min(group)
        } else {
            1
        };
        let h = (rows - r0).min(2 * l);
        // A full row tile of a pass that has `A` in place packs its panel in its first
        // column tile, where the loads overlap with the multiply-adds.
        let pack_first = !grouped && h == 2 * l && six;
        if !pack_first {
            for t in 0..tiles {
                pack.pack(r0 + t * 2 * l, h, panel, t * p.kc);
            }
        }
        // SAFETY: the round's rows `r0 .. r0 + tiles·h` lie inside `0 .. rows`, their panels
        // are packed (or the first column tile packs them); the mask selects the rows of the
        // last vector; the instruction set `I` (the caller).
        let c = unsafe {
            let whole = h.is_multiple_of(l);
            let m = S::mask(if whole { l } else { h % l });
            let pp = panel.step(0);
            let t0 = r0 / (2 * l);
            match (h == 2 * l, h > l, whole) {
                (true, ..) => tiles_down::<I, S, MODE>(p, panel, t0..t0 + tiles, n, m, pack_first),
                (false, true, _) => row_of_tiles::<I, S, 2, true, MODE>(p, pp, r0, n, m),
                (false, false, true) => row_of_tiles::<I, S, 1, false, MODE>(p, pp, r0, n, m),
                (false, false, false) => row_of_tiles::<I, S, 1, true, MODE>(p, pp, r0, n, m),
            }
        };
        if MODE & CHECKED != 0 {
            // SAFETY: `I` (the caller).
            check = unsafe { S::plus(check, c) };
        }
        r0 += tiles * h;
    }
    check
}

/// Runs every column tile of the `n` columns (sized as in [`row_of_tiles`]) down the full
/// row tiles `tiles`, whose panels lie side by side in `panel` (row tile `t` from step
/// `(t − tiles.start)·kc`). With `pack_first` (one row tile, `A` in place, a first column
/// tile of six columns), the first column tile packs the panel as it runs. Returns the sum
/// of the tiles' checks.
///
/// # Safety
/// As [`tile`] for each of these tiles; `m` selects every lane.
#[inline(always)]
unsafe fn tiles_down<I, S: Lanes<I>, const MODE: u8>(
    p: &Pass<S>,
    panel: &mut Panel<I, S>,
    tiles: core::ops::Range<usize>,
    n: usize,
    m: S::M,
    pack_first: bool,
) -> S::V {
    // SAFETY: `I` (the caller).
    let mut check = unsafe { S::zeros() };
    let mut j0 = 0;
    // (With 32 registers, the weight gradient's whole four-vector row tiles do not come
    // here: they run the forward product's wide tiles, see [`grads_tiles`].)
    for ct in 0..n.div_ceil(6) {
        let width = tile_width(n, ct);
        for t in tiles.clone() {
            let pp = panel.step((t - tiles.start) * p.kc);
            let r0 = t * 2 * S::L;
            // SAFETY: rows `r0 .. r0 + 2·L` and columns `j0 .. j0 + width` lie inside the
            // pass (the caller).
            unsafe {
                let pack = pack_first && ct == 0;
                let c = tile_of_width::<I, S, 2, false, MODE>(width, pack, p, pp, r0, j0, m);
                if MODE & CHECKED != 0 {
                    check = S::plus(check, c);
                }
            }
        }
        j0 += width;
    }
    check
}

/// Packs `kc` steps of `h ≤ 2·L` rows into the panel from its step `at`: step `k` copies
/// `src[k·stride ..][..h]` into the panel's two vectors of step `at + k`, zero past `h`.
#[inline(always)]
fn pack_columns<I, S: Lanes<I>>(
    src: &[S],
    stride: usize,
    h: usize,
    kc: usize,
    panel: &mut Panel<I, S>,
    at: usize,
) {
    assert!(h <= 2 * S::L && at + kc <= KC && (kc == 0 || (kc - 1) * stride + h <= src.len()));
    if kc == 0 {
        return;
    }
    if h < 2 * S::L {
        for k in 0..kc {
            // SAFETY: a step of the panel holds two vectors; the callers run with `I`.
            unsafe { copy_rows(&src[k * stride..][..h], panel.step(at + k)) };
        }
        return;
    }
    let to = panel.step(at);
    // SAFETY: step `k < kc` reads `2·L` elements from `k·stride`, inside `src` (asserted),
    // and writes the panel's `2·L` elements of step `at + k < KC`; the callers run with `I`.
    unsafe {
        let (mut from, mut to) = (src.as_ptr(), to);
        for _ in 0..kc {
            S::store(to, S::load(from));
            S::store(to.add(S::L), S::load(from.add(S::L)));
            from = from.add(stride);
            to = to.add(2 * S::L);
        }
    }
}

/// Copies `src` (at most two vectors) into the two vectors at `dst`, zero past its end.
///
/// # Safety
/// `dst` is valid for writing `2·L` elements (a step of a [`Panel`]); `I`.
#[inline(always)]
unsafe fn copy_rows<I, S: Lanes<I>>(src: &[S], dst: *mut S) {
    assert!(src.len() <= 2 * S::L);
    for v in 0..2 {
        let start = (v * S::L).min(src.len());
        let len = (src.len() - start).min(S::L);
        // SAFETY: the mask selects `len` lanes, inside `src` from `start`; `dst` holds two
        // vectors (the caller); `I` (the caller).
        unsafe {
            let x = S::load_masked(src.as_ptr().add(start), S::mask(len));
            S::store(dst.add(v * S::L), x);
        }
    }
}

/// Packs `kc` steps of `h ≤ vecs·L` columns of `src` (column `c` starts at `src[c·stride]`),
/// transposed, into a panel of `vecs` vectors a step (two, or four for the wide tiles) from
/// its step `at`: lane `c` of step `at + k` is `src[(c0 + c)·stride + k0 + k]`, zero past `h`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pack_transposed<I, S: Lanes<I>>(
    src: &[S],
    stride: usize,
    (c0, k0): (usize, usize),
    h: usize,
    kc: usize,
    panel: &mut Panel<I, S>,
    at: usize,
    vecs: usize,
) {
    let l = S::L;
    let ps = vecs * l;
    // The panel holds `KC` steps of two vectors: `KC·2·L` elements.
    assert!((vecs == 2 || vecs == 4) && h <= ps && (at + kc) * ps <= KC * 2 * l);
    if kc == 0 {
        return;
    }
    let to = panel.step(0).wrapping_add(at * ps);
    // SAFETY: the `kc` steps of the panel from `at` (`(at + kc)·ps ≤ KC·2·L`, asserted), `ps`
    // elements each, are all written: with fewer than `ps` columns zero first; then, in each
    // whole block of `L` columns, steps `0 .. ks` by the transposed blocks (inside `src`:
    // asserted) and the rest element by element; the columns past the whole blocks element by
    // element. `I` (the callers).
    unsafe {
        if h < ps {
            core::ptr::write_bytes(to, 0, kc * ps);
        }
        // Whole blocks of `L` columns × `L` steps by in-register transposes, in each vector
        // of the panel that `h` fills.
        let blocks = h / l;
        let ks = if blocks > 0 { kc / l * l } else { 0 };
        for v in 0..blocks {
            let from = &src[(c0 + v * l) * stride + k0..];
            assert!((l - 1) * stride + ks <= from.len());
            for k in (0..ks).step_by(l) {
                S::transpose_block(from.as_ptr().add(k), stride, to.add(k * ps + v * l), ps);
            }
        }
        // The rest element by element.
        for c in 0..h {
            let from = &src[(c0 + c) * stride + k0..][..kc];
            let skip = if c < blocks * l { ks } else { 0 };
            for (k, &v) in from.iter().enumerate().skip(skip) {
                to.add(k * ps + c).write(v);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// W · X

/// `y[:, b] = bias + W · x[:, b]` for every column `b`, followed by `ReLU` when `RELU_AFTER` (the
/// last pass stores `max(v, 0)`); `W` is `o × i`, on the vector `path`. Returns `false`
/// (nothing done) when `path` is not a vector path this CPU runs, or `T` is neither `f32`
/// nor `f64`.
pub(super) fn affine<T: Scalar, const RELU_AFTER: bool>(
    path: Path,
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
    i: usize,
    o: usize,
) -> bool {
    affine_on(path, w, bias, x, y, i, o, RELU_AFTER, false).is_some()
}

/// [`affine`] without the `ReLU`, in a training step whose optimiser wants to know whether
/// every weight is within `MAX/4` (`__private::params_bounded`): `Some(true)` when the
/// product ran and the packing of its wide tiles read every weight and bounded it (the sums
/// of their squares are finite, so each is at most `√MAX`); `Some(false)` when it ran but
/// says nothing of the weights (another layout, or a value too large: the caller checks
/// them); `None` when it did not run (as [`affine`]'s `false`).
///
/// W5's first layer's weights are read from L3 in a step (they do not fit L2 beside the
/// rest): a pass of its own over them took 2–3.5 % of the step, where the packing tile has
/// them in registers already.
pub(super) fn affine_bounded<T: Scalar>(
    path: Path,
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
    i: usize,
    o: usize,
) -> Option<bool> {
    affine_on(path, w, bias, x, y, i, o, false, true)
}

/// [`affine`] (`relu`) and [`affine_bounded`] (`bound`): `None` when the product did not
/// run, else whether `bound` found every weight bounded (`false` without `bound`, and for
/// no columns: nothing was read).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn affine_on<T: Scalar>(
    path: Path,
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
    i: usize,
    o: usize,
    relu: bool,
    bound: bool,
) -> Option<bool> {
    if o == 0 || !runs(path) {
        return None;
    }
    let n = y.len() / o;
    assert!(w.len() == o * i && bias.len() == o && x.len() == i * n && y.len() == o * n);
    if n == 0 {
        // No columns: nothing to write (and the passes' pointers into the empty `x`, past
        // the first, would lie outside it).
        return Some(false);
    }
    let wide = path == Path::Avx512;
    if let (Some(w), Some(bias), Some(x), Some(y)) = (same(w), same(bias), same(x), same_mut(y)) {
        // SAFETY: the CPU runs `path` (`runs`); the lengths asserted above.
        Some(unsafe {
            if wide {
                affine_f32_avx512(w, bias, x, y, i, o, relu, bound)
            } else {
                affine_f32_avx2(w, bias, x, y, i, o, relu, bound)
            }
        })
    } else if let (Some(w), Some(bias), Some(x), Some(y)) =
        (same(w), same(bias), same(x), same_mut(y))
    {
        // SAFETY: as above.
        Some(unsafe {
            if wide {
                affine_f64_avx512(w, bias, x, y, i, o, relu, bound)
            } else {
                affine_f64_avx2(w, bias, x, y, i, o, relu, bound)
            }
        })
    } else {
        None
    }
}

/// With `bound` (and not `relu`), returns whether the wide tiles' packing read every
/// weight and found the sums of their squares finite ([`BOUNDED`]); `false` says nothing
/// (another layout, or a value too large).
///
/// # Safety
/// The CPU has the instruction set `I`, and the caller is compiled for it; the slice
/// lengths are those asserted by [`affine`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn affine_tiles<I, S: Lanes<I>>(
    w: &[S],
    bias: &[S],
    x: &[S],
    y: &mut [S],
    i: usize,
    o: usize,
    relu: bool,
    bound: bool,
) -> bool {
    let n = y.len() / o;
    if i == 0 {
        for yc in y.chunks_exact_mut(o) {
            yc.copy_from_slice(bias);
        }
        if relu {
            super::relu_in_place(y);
        }
        return false;
    }
    if few_outputs::<I, S>(o, i, n) {
        // SAFETY: the slice lengths of `affine`; the instruction set `I` (the caller).
        unsafe { affine_few_outputs::<I, S>(w, bias, x, y, i, o, relu) };
        return false;
    }
    let mut panel = Panel::new();
    let panel = &mut panel;
    let mut k0 = 0;
    // With 32 vector registers, the full row tiles are four vectors of rows (64 rows of
    // `f32`) × six columns: 24 accumulators, and each broadcast of `X` serves four
    // multiply-adds instead of two. Their panel (four vectors a step) holds half the steps,
    // so the passes are at most `KC / 2` long; the rows past the last wide tile run the
    // two-vector tiles. Only when the first column tile has six columns (it packs the
    // panel as it runs) and every other one five or six.
    let wide = S::REGS >= 32 && o >= 4 * S::L && tile_width(n, 0) == 6;
    let o4 = if wide { o / (4 * S::L) * (4 * S::L) } else { 0 };
    let step = if wide {
        i.div_ceil(i.div_ceil(KC / 2))
    } else {
        pass_len(i)
    };
    // SAFETY: the instruction set `I` (the caller).
    let mut bounds = unsafe { S::zeros() };
    while k0 < i {
        let kc = step.min(i - k0);
        let last = k0 + kc == i;
        if wide {
            let p = Pass {
                // SAFETY: `k0 < i`: inside `x` (`i · n`).
                x: unsafe { x.as_ptr().add(k0) },
                xk: 1,
                xj: i,
                y: y.as_mut_ptr(),
                ys: o,
                rows: o4,
                init: if k0 == 0 { bias.as_ptr() } else { y.as_ptr() },
                init_rows: 1,
                init_step: if k0 == 0 { 0 } else { o },
                kc,
                // SAFETY: `k0 < i`: inside `w` (`o · i`).
                a: unsafe { w.as_ptr().add(k0 * o) },
                a_step: o,
                pf: core::ptr::null(),
                pf_step: 0,
                upd: core::ptr::null_mut(),
                lr: S::zero(),
            };
            // Where the next pass's first panel starts: `W`'s rows from 0, inputs `k0 + kc ..`
            // (none after the last pass).
            let next = if last {
                core::ptr::null()
            } else {
                // SAFETY: `k0 + kc < i`: inside `w` (`o · i`).
                unsafe { w.as_ptr().add((k0 + kc) * o) }
            };
            // SAFETY: rows `0 .. o4` (whole wide tiles), columns `0 .. n` (tiles of five or
            // six: `wide`), inputs `k0 .. k0 + kc` of `W`, `x` and `y`; the panel holds
            // `kc ≤ KC / 2` steps of four vectors; the instruction set `I` (the caller).
            unsafe {
                if relu && last {
                    const R: u8 = RELU | STRIDED;
                    wide_tiles::<I, S, R, { R | PREFETCH }, R>(&p, n, panel.step(0), next);
                } else if bound {
                    const M: u8 = STRIDED;
                    let c = wide_tiles::<I, S, M, { M | PREFETCH }, { M | BOUNDED }>(
                        &p,
                        n,
                        panel.step(0),
                        next,
                    );
                    bounds = S::plus(bounds, c);
                } else {
                    const M: u8 = STRIDED;
                    wide_tiles::<I, S, M, { M | PREFETCH }, M>(&p, n, panel.step(0), next);
                }
            };
        }
        if o4 < o {
            // SAFETY: `o4 < o`, `k0 + kc ≤ i`, `kc ≤ KC`; the caller's bounds and `I`.
            unsafe { affine_pass(w, bias, x, y, (i, o, o4), (k0, kc), relu && last, panel) };
        }
        k0 += kc;
    }
    // SAFETY: the instruction set `I` (the caller).
    bound && !relu && wide && o4 == o && unsafe { S::all_zero(bounds) }
}

/// The wide tiles of a pass of the forward product or of the weight gradient: every full row
/// tile of four vectors (`p.rows` rows, a multiple of `4·L`) × column tiles of five or six
/// columns (the first of six, which packs the panel from `p.a` as it runs). Returns the sum
/// of the tiles' checks (`CHECKED`, see [`tile`]).
///
/// # Safety
/// As [`tile`] for each tile, `panel` holding `p.kc` steps of four vectors; the column tiles
/// of `n` are five or six columns wide, the first six.
///
/// The first column tile of each row tile packs its panel from `W` in place, and `W` is in
/// L3 in a training step (the optimiser has just written it, and W5's 2.4 MB of weights do
/// not fit L2): its loads waited there, 12–16 % of W5's forward time for 4.7 % of its
/// multiply-adds (`perf`, W5's step). So while a row tile runs, its column tiles 1 to 8 run
/// as `MODE_PF` (`MODE` and [`PREFETCH`]) and fetch the next row tile's panel into L2 (rows
/// `r0 + 4·L ..` of this pass, or rows `0 ..` of `next`, the next pass's first input; `null`
/// after the last pass): tile `1 + 2·v + h` fetches the lines of vector `v` over half `h` of
/// the steps, one line per trip. That panel's tile then took 6 % of the forward's time, and
/// the forward 4–6 % less against the unchanged weight gradient in the same profiles. The
/// other tiles carry no prefetch (with one in every tile, their loops slowed as much as the
/// packing tile gained).
#[inline(always)]
unsafe fn wide_tiles<I, S: Lanes<I>, const MODE: u8, const MODE_PF: u8, const MODE_PACK: u8>(
    p: &Pass<S>,
    n: usize,
    panel: *mut S,
    next: *const S,
) -> S::V {
    // SAFETY: the caller's bounds; `m` is unused by tiles without a mask.
    unsafe {
        let m = S::mask(S::L);
        let mut check = S::zeros();
        let trips = p.kc / 2;
        for r0 in (0..p.rows).step_by(4 * S::L) {
            let mut j0 = 0;
            // Where the next row tile's panel starts in `W` (a hint, never read).
            let base = if r0 + 4 * S::L < p.rows {
                p.a.wrapping_add(r0 + 4 * S::L)
            } else {
                next
            };
            let mut q = *p;
            for ct in 0..n.div_ceil(6) {
                let width = tile_width(n, ct);
                if MODE & XPACKED != 0 {
                    // The tile's packed columns: `x + j0·kc`, `width` a step (the tile adds
                    // `j0·xj` to its base, hence the `- j0`: a pointer never read there).
                    q.x = p.x.wrapping_add(j0 * p.kc).wrapping_sub(j0);
                    q.xk = width;
                    q.xj = 1;
                }
                let (v, h) = (ct.wrapping_sub(1) / 2, ct.wrapping_sub(1) % 2);
                let fetch = ct >= 1 && v < 4 && !base.is_null();
                if fetch {
                    q.pf = base.wrapping_add(v * S::L + h * trips * p.a_step);
                    q.pf_step = p.a_step;
                }
                let q = &q;
                let c = match (width, fetch) {
                    (6, _) if ct == 0 => {
                        tile::<I, S, 4, false, MODE_PACK, 6, true>(q, panel, r0, j0, m)
                    }
                    (6, false) => tile::<I, S, 4, false, MODE, 6, false>(q, panel, r0, j0, m),
                    (6, true) => tile::<I, S, 4, false, MODE_PF, 6, false>(q, panel, r0, j0, m),
                    _ => tile::<I, S, 4, false, MODE, 5, false>(q, panel, r0, j0, m),
                };
                if (MODE | MODE_PACK) & (CHECKED | BOUNDED) != 0 {
                    check = S::plus(check, c);
                }
                j0 += width;
            }
        }
        check
    }
}

/// One pass of the two-vector forward tiles over rows `r0 .. o` of `W` and `y` and inputs
/// `k0 .. k0 + kc` (see [`affine_tiles`]), the `ReLU` stored when `relu`.
///
/// # Safety
/// As [`affine_tiles`]; `r0 < o`, `k0 + kc ≤ i`, `kc ≤ KC`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn affine_pass<I, S: Lanes<I>>(
    w: &[S],
    bias: &[S],
    x: &[S],
    y: &mut [S],
    (i, o, r0): (usize, usize, usize),
    (k0, kc): (usize, usize),
    relu: bool,
    panel: &mut Panel<I, S>,
) {
    let n = y.len() / o;
    assert!(r0 < o && k0 + kc <= i && kc <= KC && w.len() == o * i && y.len() == o * n);
    let p = Pass {
        // SAFETY: `k0 < i`: inside `x` (`i · n`).
        x: unsafe { x.as_ptr().add(k0) },
        xk: 1,
        xj: i,
        // SAFETY: `r0 < o`: inside `y` (`o · n`, `n ≥ 1`: `affine` returns early without
        // columns).
        y: unsafe { y.as_mut_ptr().add(r0) },
        ys: o,
        rows: o - r0,
        // The first pass starts from the bias, the others from the partial sums in `y`,
        // so every output is summed in input order.
        // SAFETY: `r0 < o`: inside `bias` and `y`.
        init: unsafe {
            if k0 == 0 {
                bias.as_ptr().add(r0)
            } else {
                y.as_ptr().add(r0)
            }
        },
        init_rows: 1,
        init_step: if k0 == 0 { 0 } else { o },
        kc,
        // SAFETY: `k0 < i`, `r0 < o`: inside `w` (`o · i`).
        a: unsafe { w.as_ptr().add(k0 * o + r0) },
        a_step: o,
        pf: core::ptr::null(),
        pf_step: 0,
        upd: core::ptr::null_mut(),
        lr: S::zero(),
    };
    // The panel: rows `r0 + r .. r0 + r + h` of `W`'s columns `k0 .. k0 + kc`, in order.
    let pack = Columns {
        src: &w[k0 * o + r0..],
        stride: o,
        kc,
    };
    // SAFETY: the pass covers rows `r0 .. o`, columns `0 .. n` and inputs `k0 .. k0 + kc`
    // of `W`, `x` and `y`; the CPU has the instruction set `I`. Only the last pass applies
    // the `ReLU` (`relu`): the others store partial sums.
    unsafe {
        if relu {
            pass::<I, S, { RELU | STRIDED }>(&p, n, panel, pack)
        } else {
            pass::<I, S, STRIDED>(&p, n, panel, pack)
        }
    };
}

/// Whether `W · X` runs its tiles over the samples ([`affine_few_outputs`]): when the
/// outputs would leave more of a tile's lanes empty than the samples would (10 outputs fill
/// 10 of 16 rows; 32 samples fill all of theirs), and the inputs fit one pass.
#[inline(always)]
fn few_outputs<I, S: Lanes<I>>(o: usize, i: usize, n: usize) -> bool {
    let filled = |rows: usize| rows * 64 / rows.next_multiple_of(S::L).max(1);
    o < 2 * S::L && i <= KC && n >= 2 * S::L && filled(o) < filled(n)
}

/// `Y = bias + W · X` for a layer with few outputs: `Yᵀ = Xᵀ · Wᵀ`, tiles of two vectors of
/// samples × up to six outputs, over a panel of `X` transposed while packing; the entries of
/// `W` are broadcast from its columns (`W[j, k]` at `w + k·o + j`), and every output starts
/// from its bias. Each output is summed in input order with one fused multiply-add per
/// input, as in [`affine_tiles`]'s tiles over the outputs: the same bits.
///
/// # Safety
/// the instruction set `I`; the slice lengths of [`affine`], and `i ≤ KC` (one pass).
#[inline(always)]
unsafe fn affine_few_outputs<I, S: Lanes<I>>(
    w: &[S],
    bias: &[S],
    x: &[S],
    y: &mut [S],
    i: usize,
    o: usize,
    relu: bool,
) {
    let mut panel = Panel::new();
    let panel = &mut panel;
    let n = y.len() / o;
    assert!(i <= KC && w.len() == o * i && bias.len() == o && x.len() == i * n);
    let p = Pass {
        x: w.as_ptr(),
        xk: o,
        xj: 1,
        y: y.as_mut_ptr(),
        ys: o,
        rows: n,
        init: bias.as_ptr(),
        init_rows: 0,
        init_step: 1,
        kc: i,
        a: core::ptr::null(),
        a_step: 0,
        pf: core::ptr::null(),
        pf_step: 0,
        upd: core::ptr::null_mut(),
        lr: S::zero(),
    };
    // The panel: samples `r0 .. r0 + h` of `X`, transposed.
    let pack = Transposed {
        src: x,
        stride: i,
        k0: 0,
        kc: i,
    };
    // SAFETY: the pass covers samples `0 .. n` (rows of `Yᵀ`) and outputs `0 .. o` (its
    // columns) over inputs `0 .. i`; the instruction set `I` (the caller).
    unsafe { pass::<I, S, TRANSPOSED>(&p, o, panel, pack) };
    // The `ReLU` after it, in place: these layers are small (fewer than 16 outputs), and one
    // instantiation of the transposed tiles is compiled instead of two.
    if relu {
        super::relu_in_place(y);
    }
}

// ---------------------------------------------------------------------------------------
// dY · Xᵀ

/// `dW += dY · Xᵀ` and `db += Σ_b dY[:, b]` when `add`, `dW = dY · Xᵀ` and
/// `db = Σ_b dY[:, b]` otherwise; `dW` is `o × i`. Returns `None` (nothing done) when the
/// kernels cannot run for `T` on this CPU; otherwise whether every value of `dW` and `db` is
/// finite, checked as the kernel stores them (a few additions per tile on the adder pipes,
/// so it is always done and one copy of the kernel is compiled).
#[allow(clippy::too_many_arguments)]
pub(super) fn affine_grads<T: Scalar>(
    path: Path,
    dw: &mut [T],
    db: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
    add: bool,
) -> Option<bool> {
    if o == 0 || !runs(path) {
        return None;
    }
    let n = dy.len() / o;
    assert!(dw.len() == o * i && db.len() == o && x.len() == i * n && dy.len() == o * n);
    let wide = path == Path::Avx512;
    if let (Some(dw), Some(db), Some(x), Some(dy)) = (same_mut(dw), same_mut(db), same(x), same(dy))
    {
        // SAFETY: the CPU runs `path` (`runs`).
        Some(unsafe {
            if wide {
                grads_f32_avx512(dw, db, x, dy, i, o, add)
            } else {
                grads_f32_avx2(dw, db, x, dy, i, o, add)
            }
        })
    } else if let (Some(dw), Some(db), Some(x), Some(dy)) =
        (same_mut(dw), same_mut(db), same(x), same(dy))
    {
        // SAFETY: as above.
        Some(unsafe {
            if wide {
                grads_f64_avx512(dw, db, x, dy, i, o, add)
            } else {
                grads_f64_avx2(dw, db, x, dy, i, o, add)
            }
        })
    } else {
        None
    }
}

/// Bytes of a block of `X` packed for the weight gradient's wide tiles ([`XBlock`]).
const X_BLOCK_BYTES: usize = 64 * 1024;

/// Columns of `X` per block of the weight gradient's wide tiles: as many as `KC / 2` steps
/// of them fill [`X_BLOCK_BYTES`] (128 in `f32`, 64 in `f64`). The blocks of a gradient
/// share its columns evenly, so with more than one, each has more than half of this: at
/// least 32, whose column tiles are five or six wide, the first six, as the wide tiles
/// need (a block of 25 would be five tiles of five).
const fn x_block<S>() -> usize {
    X_BLOCK_BYTES / (KC / 2 * core::mem::size_of::<S>())
}

const _: () = assert!(x_block::<f64>() >= 52 && x_block::<f32>() >= 52);

/// Full row tiles from which the weight gradient packs `X` ([`pack_x_block`]): each row
/// tile reads all of `X` once, so packing pays where several do: W5's train step (eight
/// row tiles in both of its wide layers) ran 1.00–1.06× as fast packed (median 1.02×, nine
/// alternated runs of the bench), W3's (two row tiles and one) 0.94×.
const X_PACK_ROW_TILES: usize = 4;

/// The storage of a block of `X` packed for the weight gradient ([`pack_x_block`]), on the
/// stack, aligned to a cache line. Not zeroed: the packing writes every value the tiles read.
#[repr(C, align(64))]
struct XBlock(MaybeUninit<[u8; X_BLOCK_BYTES]>);

impl XBlock {
    #[inline(always)]
    fn new() -> Self {
        XBlock(MaybeUninit::uninit())
    }
}

/// Packs columns `c0 .. c0 + cw` of samples `b0 .. b0 + kc` of `X` (`i × n`, sample `b` at
/// `b·i`) into `block`, column tile by column tile (the tiles of [`tile_width`] of `cw`):
/// the tile of columns `j0 ..` (`width` wide) holds step `k` at `j0·kc + k·width`, its
/// `width` values adjacent. Returns the block's start, for [`XPACKED`] tiles.
///
/// The weight gradient's tiles read `X` with the samples `i` apart: a tile's six columns
/// lie on a new line at every step (128 lines for W5's 128 samples, each shared by at most
/// three tiles), and beside the tile's 32 KiB panel they overflowed L1 (48 KiB). Packed,
/// a tile reads 3 KiB in order.
///
/// # Safety
/// `b0 + kc ≤ n`, `c0 + cw ≤ i`, `kc · cw` values fit `X_BLOCK_BYTES`; the instruction set `I`.
#[inline(always)]
unsafe fn pack_x_block<I, S: Lanes<I>>(
    x: &[S],
    i: usize,
    (b0, kc): (usize, usize),
    (c0, cw): (usize, usize),
    block: &mut XBlock,
) -> *const S {
    assert!(kc * cw * core::mem::size_of::<S>() <= X_BLOCK_BYTES && c0 + cw <= i);
    assert!((b0 + kc) * i <= x.len());
    let dst = block.0.as_mut_ptr().cast::<S>();
    let mut j0 = 0;
    for t in 0..cw.div_ceil(6) {
        let width = tile_width(cw, t);
        // SAFETY: `width ≤ 6 ≤ L` lanes: the masked loads read columns `c0 + j0 ..
        // c0 + j0 + width ≤ c0 + cw ≤ i` of samples `b0 .. b0 + kc` (asserted inside `x`),
        // the masked stores write `j0·kc .. (j0 + width)·kc` of the block (asserted inside
        // it); `I` (the caller).
        unsafe {
            let m = S::mask(width);
            let mut src = x.as_ptr().add(b0 * i + c0 + j0);
            let mut d = dst.add(j0 * kc);
            for _ in 0..kc {
                S::store_masked(d, m, S::load_masked(src, m));
                src = src.wrapping_add(i);
                d = d.add(width);
            }
        }
        j0 += width;
    }
    dst
}

/// `dW` (`o × i`) (+)= `dY` (`o × n`, packed by rows) · `Xᵀ` (`X` is `i × n`): the shared
/// dimension is the batch, and the bias gradient is summed while packing `dY`. Without
/// `add`, the first pass starts from zero instead of reading `dW` and `db`. The last pass
/// checks the values it stores, and the result says whether all are finite (a sum that is
/// not finite after an early pass stays so: no later addition makes it finite again).
///
/// # Safety
/// The CPU has the instruction set `I`, and the caller is compiled for it; the slice
/// lengths are those asserted by [`affine_grads`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn grads_tiles<I, S: Lanes<I>>(
    dw: &mut [S],
    db: &mut [S],
    x: &[S],
    dy: &[S],
    i: usize,
    o: usize,
    add: bool,
    upd: *mut S,
    lr: S,
) -> bool {
    let n = dy.len() / o;
    let zeros = [S::zero(); 64];
    let mut panel = Panel::new();
    let panel = &mut panel;
    let mut b0 = 0;
    let step = pass_len(n);
    // The checks of the last pass: `dW`'s from the tiles, `db`'s from its sums.
    // SAFETY: the CPU has `I` (the caller).
    let (mut check, mut check_db) = unsafe { (S::zeros(), S::zeros()) };
    if n == 0 {
        // No samples: the gradients are the zeros (or what `dW` and `db` held, when adding).
        if !add {
            dw.fill(S::zero());
            db.fill(S::zero());
        }
        return crate::block::slice_all_finite(dw) && crate::block::slice_all_finite(db);
    }
    // With 32 registers, the rows of whole four-vector tiles run the forward product's wide
    // tiles (`wide_tiles`): `dY` is `A`, read in place by the first column tile of each row
    // tile, which packs it into a panel of four vectors a step, and `Xᵀ` is `X`, its columns
    // adjacent. Their bias gradient is summed apart ([`bias_grad`]); the rows past them run
    // the two-vector tiles below. In W3's and W5's steps (`perf`, shares against the
    // unchanged forward product and update) this ran 2–5 % faster than pairs of the grouped
    // two-vector row tiles run as one tile over their two panels side by side, which it
    // replaces. The forward's prefetch of the next row tile's panel comes with it.
    let wide = S::REGS >= 32 && o >= 4 * S::L && tile_width(i, 0) == 6;
    let o4 = if wide { o / (4 * S::L) * (4 * S::L) } else { 0 };
    if wide {
        let step = n.div_ceil(n.div_ceil(KC / 2));
        let mut xblock = XBlock::new();
        while b0 < n {
            let kc = step.min(n - b0);
            let from_dw = add || b0 > 0;
            // With `upd`, the last pass updates the parameters (`SGD`); the others store
            // their partial sums in `dW`, as without.
            let update = !upd.is_null() && b0 + kc == n;
            // Every pass checks, the last one's verdict counts: the sum over its blocks.
            // SAFETY: `I` (the caller).
            check = unsafe { S::zeros() };
            let mut c0 = 0;
            // `X` packed by blocks of columns where enough row tiles read it (see
            // `X_PACK_ROW_TILES`), else read in place, all of it a block. (Worked out here,
            // in the pass: hoisted out of the loop, LLVM kept the wide tiles' accumulators
            // on the stack, and W5's step ran at half its speed.)
            let packed = o4 >= X_PACK_ROW_TILES * 4 * S::L;
            let blocks = if packed {
                i.div_ceil(x_block::<S>())
            } else {
                1
            };
            for blk in 0..blocks {
                let cw = i / blocks + usize::from(blk < i % blocks);
                // SAFETY: samples `b0 .. b0 + kc ≤ n`, columns `c0 .. c0 + cw ≤ i` of `x`;
                // `kc ≤ KC / 2` steps of `cw ≤ x_block` columns fit the block. In place:
                // `b0 < n`, inside `x` (`i · n`).
                let xp = unsafe {
                    if packed {
                        pack_x_block::<I, S>(x, i, (b0, kc), (c0, cw), &mut xblock)
                    } else {
                        x.as_ptr().add(b0 * i)
                    }
                };
                let p = Pass {
                    x: xp,
                    xk: i,
                    xj: 1,
                    // SAFETY: `c0 < i`: inside `dW` (`o · i`).
                    y: unsafe { dw.as_mut_ptr().add(c0 * o) },
                    ys: o,
                    rows: o4,
                    init: if from_dw {
                        // SAFETY: as above.
                        unsafe { dw.as_ptr().add(c0 * o) }
                    } else {
                        zeros.as_ptr()
                    },
                    init_rows: usize::from(from_dw),
                    init_step: if from_dw { o } else { 0 },
                    kc,
                    // SAFETY: `b0 < n`: inside `dY` (`o · n`).
                    a: unsafe { dy.as_ptr().add(b0 * o) },
                    a_step: o,
                    pf: core::ptr::null(),
                    pf_step: 0,
                    // SAFETY: `c0 < i`: inside the parameters (`o · i`, as `dW`).
                    upd: if update {
                        unsafe { upd.add(c0 * o) }
                    } else {
                        core::ptr::null_mut()
                    },
                    lr,
                };
                // The first panel after this block's last row tile: the same pass's first
                // rows for the next block, else the next pass's (none after the last).
                let next = if c0 + cw < i {
                    p.a
                } else if b0 + kc < n {
                    // SAFETY: `b0 + kc < n`: inside `dY` (`o · n`).
                    unsafe { dy.as_ptr().add((b0 + kc) * o) }
                } else {
                    core::ptr::null()
                };
                // SAFETY: rows `0 .. o4` (whole wide tiles), columns `c0 .. c0 + cw` of `dW`
                // (tiles of five or six, the first six: `wide` when the block is all of
                // `i`, and blocks of more than 25 columns otherwise), samples `b0 .. b0 + kc`
                // of `X` (packed) and `dY`; the panel holds `KC / 2` steps of four vectors;
                // `I` (the caller).
                let c = unsafe {
                    match (packed, update) {
                        (true, false) => {
                            const M: u8 = CHECKED | XPACKED;
                            wide_tiles::<I, S, M, { M | PREFETCH }, M>(&p, cw, panel.step(0), next)
                        }
                        (false, false) => {
                            const M: u8 = CHECKED;
                            wide_tiles::<I, S, M, { M | PREFETCH }, M>(&p, cw, panel.step(0), next)
                        }
                        (true, true) => {
                            const M: u8 = SGD | XPACKED;
                            wide_tiles::<I, S, M, { M | PREFETCH }, M>(&p, cw, panel.step(0), next)
                        }
                        (false, true) => {
                            const M: u8 = SGD;
                            wide_tiles::<I, S, M, { M | PREFETCH }, M>(&p, cw, panel.step(0), next)
                        }
                    }
                };
                // SAFETY: `I` (the caller).
                check = unsafe { S::plus(check, c) };
                c0 += cw;
            }
            b0 += kc;
        }
        // SAFETY: `o4 ≤ o`, a multiple of `4·L`; `I` (the caller).
        check_db = unsafe { bias_grad::<I, S>(&mut db[..o4], dy, o, add) };
        b0 = 0;
    }
    let rest = o - o4;
    // SAFETY: as above.
    let (mut check_rest, mut check_db_rest) = unsafe { (S::zeros(), S::zeros()) };
    while rest > 0 && b0 < n {
        let kc = step.min(n - b0);
        let last = b0 + kc == n;
        let update = !upd.is_null() && last;
        let from_dw = add || b0 > 0;
        let p = Pass {
            // SAFETY: `b0 < n`: inside `x` (`i · n`).
            x: unsafe { x.as_ptr().add(b0 * i) },
            xk: i,
            xj: 1,
            // SAFETY: `o4 < o`: inside `dW` (`o · i`, `i ≥ 1`: `tile_width` of 0 is 0).
            y: unsafe { dw.as_mut_ptr().add(o4) },
            ys: o,
            rows: rest,
            // SAFETY: as above.
            init: if from_dw {
                unsafe { dw.as_ptr().add(o4) }
            } else {
                zeros.as_ptr()
            },
            init_rows: usize::from(from_dw),
            init_step: if from_dw { o } else { 0 },
            kc,
            a: core::ptr::null(),
            a_step: 0,
            pf: core::ptr::null(),
            pf_step: 0,
            // SAFETY: `o4 < o`: inside the parameters (`o · i`, as `dW`).
            upd: if update {
                unsafe { upd.add(o4) }
            } else {
                core::ptr::null_mut()
            },
            lr,
        };
        // The panel: rows `o4 + r0 .. o4 + r0 + h` of `dY`'s columns `b0 .. b0 + kc`, in
        // order, and the bias gradient of those rows.
        let pack = GradsPanel {
            dy: &dy[b0 * o + o4..],
            o,
            kc,
            db: &mut db[o4..],
            zeros: &zeros,
            from_dw,
            last,
            check_db: &mut check_db_rest,
        };
        // SAFETY: the pass covers rows `o4 .. o` and columns `0 .. i` of `dW`, and samples
        // `b0 .. b0 + kc` of `x`; the CPU has the instruction set `I`. Every pass checks (one
        // instantiation of the tiles), the last one's verdict counts.
        let c = unsafe {
            if update {
                pass::<I, S, SGD>(&p, i, panel, pack)
            } else {
                pass::<I, S, CHECKED>(&p, i, panel, pack)
            }
        };
        if last {
            check_rest = c;
        }
        b0 += kc;
    }
    // SAFETY: as above.
    unsafe {
        S::all_zero(S::plus(
            S::plus(check, check_db),
            S::plus(check_rest, check_db_rest),
        ))
    }
}

/// The bias gradient of the first `db.len()` rows (a multiple of `4·L`): `db` (+)= the sum
/// of `dY`'s columns (`o` apart), sample by sample in order, as [`GradsPanel`] sums it (four
/// vectors of rows at a time: four chains of additions in flight). Returns the check of the
/// sums (zero in every lane when they are all finite, see [`tile`]).
///
/// # Safety
/// `dy` holds `n` columns of `o ≥ db.len()` rows; `I`.
#[inline(always)]
unsafe fn bias_grad<I, S: Lanes<I>>(db: &mut [S], dy: &[S], o: usize, add: bool) -> S::V {
    let (l, rows) = (S::L, db.len());
    let n = dy.len() / o;
    assert!(rows.is_multiple_of(4 * l) && rows <= o && dy.len() == o * n);
    // SAFETY: rows `r .. r + 4·L ≤ rows ≤ o` of `db` and of each column of `dy`; `I`.
    unsafe {
        let mut check = S::zeros();
        for r in (0..rows).step_by(4 * l) {
            let d = db.as_mut_ptr().add(r);
            let mut acc: [S::V; 4] = core::array::from_fn(|v| {
                if add {
                    S::load(d.add(v * l))
                } else {
                    S::zeros()
                }
            });
            let mut col = dy.as_ptr().add(r);
            for _ in 0..n {
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = S::plus(*a, S::load(col.add(v * l)));
                }
                col = col.wrapping_add(o);
            }
            for (v, &a) in acc.iter().enumerate() {
                S::store(d.add(v * l), a);
                check = S::plus(check, S::minus(a, a));
            }
        }
        check
    }
}

// ---------------------------------------------------------------------------------------
// Wᵀ · dY

/// `dX = Wᵀ · dY`, or `dX += Wᵀ · dY` when `add`; `W` is `o × i`. Returns `false` (nothing
/// done) when the kernels cannot run for `T` on this CPU.
pub(super) fn input_grad<T: Scalar>(
    path: Path,
    w: &[T],
    dy: &[T],
    dx: &mut [T],
    i: usize,
    o: usize,
    add: bool,
) -> bool {
    if i == 0 || o == 0 || !runs(path) {
        return false;
    }
    let n = dx.len() / i;
    assert!(w.len() == o * i && dy.len() == o * n && dx.len() == i * n);
    if n == 0 {
        // No columns: nothing to write (as in `affine`).
        return true;
    }
    let wide = path == Path::Avx512;
    if let (Some(w), Some(dy), Some(dx)) = (same(w), same(dy), same_mut(dx)) {
        // SAFETY: the CPU runs `path` (`runs`).
        unsafe {
            if wide {
                input_grad_f32_avx512(w, dy, dx, i, o, add)
            } else {
                input_grad_f32_avx2(w, dy, dx, i, o, add)
            }
        };
    } else if let (Some(w), Some(dy), Some(dx)) = (same(w), same(dy), same_mut(dx)) {
        // SAFETY: as above.
        unsafe {
            if wide {
                input_grad_f64_avx512(w, dy, dx, i, o, add)
            } else {
                input_grad_f64_avx2(w, dy, dx, i, o, add)
            }
        };
    } else {
        return false;
    }
    true
}

/// `dX` (`i × n`) (+)= `Wᵀ` (`i × o`, packed from the columns of `W`) · `dY` (`o × n`).
///
/// # Safety
/// The CPU has the instruction set `I`, and the caller is compiled for it; the slice
/// lengths are those asserted by [`input_grad`].
#[inline(always)]
unsafe fn input_grad_tiles<I, S: Lanes<I>>(
    w: &[S],
    dy: &[S],
    dx: &mut [S],
    i: usize,
    o: usize,
    add: bool,
) {
    let n = dx.len() / i;
    if !add && few_samples::<I, S>(n, o) {
        // SAFETY: the slice lengths of `input_grad`, `o ≤ KC`; the instruction set `I`.
        unsafe { input_grad_few_samples::<I, S>(w, dy, dx, i, o) };
        return;
    }
    let zeros = [S::zero(); 64];
    let mut panel = Panel::new();
    let panel = &mut panel;
    // With 32 vector registers, the whole row tiles of four vectors (64 rows of `dX` in
    // `f32`) run the forward product's wide tiles (24 accumulators), each over a panel of
    // `W`'s 64 columns transposed (four vectors a step, so passes of at most `KC / 2` steps):
    // each broadcast of `dY` serves four multiply-adds instead of two. Only when the column
    // tiles are five or six wide; the rows past the last wide tile run the two-vector tiles.
    let wide = S::REGS >= 32 && i >= 4 * S::L && tile_width(n, 0) == 6;
    let i4 = if wide { i / (4 * S::L) * (4 * S::L) } else { 0 };
    if wide {
        let step = o.div_ceil(o.div_ceil(KC / 2));
        let mut k0 = 0;
        while k0 < o {
            let kc = step.min(o - k0);
            let from_dx = add || k0 > 0;
            let p = Pass {
                // SAFETY: `k0 < o`: inside `dY` (`o · n`).
                x: unsafe { dy.as_ptr().add(k0) },
                xk: 1,
                xj: o,
                y: dx.as_mut_ptr(),
                ys: i,
                rows: i4,
                init: if from_dx { dx.as_ptr() } else { zeros.as_ptr() },
                init_rows: usize::from(from_dx),
                init_step: if from_dx { i } else { 0 },
                kc,
                a: core::ptr::null(),
                a_step: 0,
                pf: core::ptr::null(),
                pf_step: 0,
                upd: core::ptr::null_mut(),
                lr: S::zero(),
            };
            for r0 in (0..i4).step_by(4 * S::L) {
                // `W`'s rows `k0 .. k0 + kc` of columns `r0 .. r0 + 4·L`, transposed.
                pack_transposed(w, o, (r0, k0), 4 * S::L, kc, panel, 0, 4);
                // Where the next row tile's panel starts in `W` (a hint, never read): columns
                // `r0 + 4·L ..` of this pass, or columns `0 ..` of the next pass.
                let next = if r0 + 4 * S::L < i4 {
                    w.as_ptr().wrapping_add((r0 + 4 * S::L) * o + k0)
                } else if k0 + kc < o {
                    w.as_ptr().wrapping_add(k0 + kc)
                } else {
                    core::ptr::null()
                };
                // SAFETY: rows `r0 .. r0 + 4·L ≤ i4` and columns `0 .. n` (tiles of five or
                // six: `wide`) of `dX`, rows `k0 .. k0 + kc` of `dY`; the panel holds `kc ≤
                // KC / 2` steps of four vectors; the instruction set `I` (the caller).
                unsafe {
                    wide_row::<I, S, STRIDED, { STRIDED | PREFETCH }>(
                        &p,
                        n,
                        panel.step(0),
                        r0,
                        (next, o),
                    )
                };
            }
            k0 += kc;
        }
    }
    if i4 == i {
        return;
    }
    let mut k0 = 0;
    let step = pass_len(o);
    while k0 < o {
        let kc = step.min(o - k0);
        let from_dx = add || k0 > 0;
        let p = Pass {
            // SAFETY: `k0 < o`: inside `dY` (`o · n`).
            x: unsafe { dy.as_ptr().add(k0) },
            xk: 1,
            xj: o,
            // SAFETY: `i4 < i`: inside `dX` (`i · n`, `n ≥ 1`).
            y: unsafe { dx.as_mut_ptr().add(i4) },
            ys: i,
            rows: i - i4,
            // SAFETY: as `y`.
            init: if from_dx {
                unsafe { dx.as_ptr().add(i4) }
            } else {
                zeros.as_ptr()
            },
            init_rows: usize::from(from_dx),
            init_step: if from_dx { i } else { 0 },
            kc,
            a: core::ptr::null(),
            a_step: 0,
            pf: core::ptr::null(),
            pf_step: 0,
            upd: core::ptr::null_mut(),
            lr: S::zero(),
        };
        // The panel: `W`'s rows `k0 .. k0 + kc` of columns `i4 + c0 .. i4 + c0 + h`,
        // transposed.
        let pack = Transposed {
            src: &w[i4 * o..],
            stride: o,
            k0,
            kc,
        };
        // SAFETY: the pass covers rows `i4 .. i` and columns `0 .. n` of `dX`, and rows
        // `k0 .. k0 + kc` of `dY`; the CPU has the instruction set `I`.
        unsafe { pass::<I, S, STRIDED>(&p, n, panel, pack) };
        k0 += kc;
    }
}

/// Whether `dX = Wᵀ · dY` runs its tiles over the samples ([`input_grad_few_samples`]):
/// whole row tiles of two vectors of samples (LeNet-5's batch of 32 in `f32`), at most
/// [`FEW_SAMPLE_TILES`] of them, and `W`'s rows in one pass, at least four vectors of them (LeNet-5's last layer,
/// 10 outputs, ran at 0.69× the speed of the tiles over the inputs this way: each value
/// stored one by one for only 10 multiply-adds).
#[inline(always)]
fn few_samples<I, S: Lanes<I>>(n: usize, o: usize) -> bool {
    n.is_multiple_of(2 * S::L) && n <= 2 * S::L * FEW_SAMPLE_TILES && (4 * S::L..=KC).contains(&o)
}

/// The most row tiles of samples [`input_grad_few_samples`] takes.
const FEW_SAMPLE_TILES: usize = 1;

/// `dX = Wᵀ · dY` for a small batch: `dXᵀ = dYᵀ · W`, tiles of two vectors of samples × up
/// to six inputs over a panel of `dY` transposed while packing (`o · n` elements, where the
/// tiles over the inputs transpose all of `W`'s `o · i`: at 32 samples that copy took a
/// large share of the product); the entries of `W` are broadcast from its columns
/// (`W[k, j]` at `w + k + j·o`, read as the forward product reads `X`). Each value of `dX`
/// is summed from zero in the order of `W`'s rows with one fused multiply-add per row, as
/// in [`input_grad_tiles`]' tiles over the inputs: the same bits.
///
/// # Safety
/// the instruction set `I`; the slice lengths of [`input_grad`], and `o ≤ KC` (one pass).
#[inline(always)]
unsafe fn input_grad_few_samples<I, S: Lanes<I>>(
    w: &[S],
    dy: &[S],
    dx: &mut [S],
    i: usize,
    o: usize,
) {
    let zero = [S::zero(); 1];
    let mut panel = Panel::new();
    let panel = &mut panel;
    let n = dx.len() / i;
    assert!(o <= KC && w.len() == o * i && dy.len() == o * n && dx.len() == i * n);
    let p = Pass {
        x: w.as_ptr(),
        xk: 1,
        xj: o,
        y: dx.as_mut_ptr(),
        ys: i,
        rows: n,
        init: zero.as_ptr(),
        init_rows: 0,
        init_step: 0,
        kc: o,
        a: core::ptr::null(),
        a_step: 0,
        pf: core::ptr::null(),
        pf_step: 0,
        upd: core::ptr::null_mut(),
        lr: S::zero(),
    };
    // The panel: samples `r0 .. r0 + h` of `dY`, transposed.
    let pack = Transposed {
        src: dy,
        stride: o,
        k0: 0,
        kc: o,
    };
    // SAFETY: the pass covers samples `0 .. n` (rows of `dXᵀ`) and inputs `0 .. i` (its
    // columns) over `W`'s rows `0 .. o`; the instruction set `I` (the caller).
    unsafe { pass::<I, S, { TRANSPOSED | STRIDED }>(&p, i, panel, pack) };
}

/// The wide tiles of one row tile of four vectors from row `r0`, over a packed panel (four
/// vectors a step): column tiles of five or six columns, as in [`wide_tiles`] but with the
/// panel packed beforehand ([`input_grad_tiles`]).
///
/// `next` is where the next row tile's panel starts in `W` and the distance between its
/// columns (`o`), or null: its `⌈kc·size / 64⌉` lines per column are fetched into L2 while
/// this one runs, column tile `1 + l` (as `MODE_PF`) fetching line `l` of one column per
/// trip, so that the packing of that panel does not wait for L3.
///
/// # Safety
/// As [`tile`] for each tile, `panel` holding `p.kc` steps of four vectors; the column tiles
/// of `n` are five or six columns wide.
#[inline(always)]
unsafe fn wide_row<I, S: Lanes<I>, const MODE: u8, const MODE_PF: u8>(
    p: &Pass<S>,
    n: usize,
    panel: *mut S,
    r0: usize,
    (next, column): (*const S, usize),
) {
    // SAFETY: the caller's bounds; `m` is unused by tiles without a mask.
    unsafe {
        let m = S::mask(S::L);
        let lines = (p.kc * core::mem::size_of::<S>()).div_ceil(64);
        let mut q = *p;
        q.pf_step = column;
        let mut j0 = 0;
        for ct in 0..n.div_ceil(6) {
            let width = tile_width(n, ct);
            let line = ct.wrapping_sub(1);
            let fetch = ct >= 1 && line < lines && !next.is_null();
            if fetch {
                q.pf = next.wrapping_add(line * 64 / core::mem::size_of::<S>());
            }
            match (width, fetch) {
                (6, false) => tile::<I, S, 4, false, MODE, 6, false>(&q, panel, r0, j0, m),
                (6, true) => tile::<I, S, 4, false, MODE_PF, 6, false>(&q, panel, r0, j0, m),
                (_, false) => tile::<I, S, 4, false, MODE, 5, false>(&q, panel, r0, j0, m),
                (_, true) => tile::<I, S, 4, false, MODE_PF, 5, false>(&q, panel, r0, j0, m),
            };
            j0 += width;
        }
    }
}

// ---------------------------------------------------------------------------------------
// θ ← θ − γ·g

/// Plain SGD, `p ← p − lr·g` for every element (a multiplication, then a subtraction: the
/// portable loop's two roundings, so its bits), on the vector `path`. With a `check`, a
/// read-only pass first makes sure that every new value is finite (see [`SgdCheck`]); if
/// one is not, nothing is written and the result is `Some(false)`. Returns `None` (nothing
/// done) when `path` is not a vector path this CPU runs, or `T` is neither `f32` nor `f64`.
///
/// The portable loop is compiled for the target's baseline (SSE2 on x86-64: 4 `f32` a
/// vector); this one takes 16 with AVX-512 (W3's step spent 19 % of its time in the update).
pub(super) fn sgd<T: Scalar>(
    path: Path,
    params: &mut [T],
    grads: &[T],
    lr: T,
    check: SgdCheck,
) -> Option<bool> {
    if !runs(path) {
        return None;
    }
    assert_eq!(params.len(), grads.len());
    let wide = path == Path::Avx512;
    let lr = core::slice::from_ref(&lr);
    if let (Some(p), Some(g), Some(lr)) = (same_mut(params), same(grads), same(lr)) {
        // SAFETY: the CPU runs `path` (`runs`).
        Some(unsafe {
            if wide {
                sgd_f32_avx512(p, g, lr[0], check)
            } else {
                sgd_f32_avx2(p, g, lr[0], check)
            }
        })
    } else if let (Some(p), Some(g), Some(lr)) = (same_mut(params), same(grads), same(lr)) {
        // SAFETY: as above.
        Some(unsafe {
            if wide {
                sgd_f64_avx512(p, g, lr[0], check)
            } else {
                sgd_f64_avx2(p, g, lr[0], check)
            }
        })
    } else {
        None
    }
}

/// Whether `value(k)` is finite for every `k` of `0 .. whole` (steps of `l`) and, when
/// `whole < n`, in the lanes `m` of `tail()`: four vectors a trip into four sums of
/// `v − v` (zero for a finite `v`, NaN otherwise), added up once at the end.
///
/// # Safety
/// The instruction set `I` (the caller is compiled for it); `value` and `tail` may do what
/// the caller's bounds allow.
#[inline(always)]
unsafe fn lanes_finite<I, S: Lanes<I>>(
    n: usize,
    m: S::M,
    value: impl Fn(usize) -> S::V,
    tail: impl Fn() -> S::V,
) -> bool {
    let l = S::L;
    let whole = n / l * l;
    let quads = n / (4 * l) * (4 * l);
    // SAFETY: the instruction set `I` (the caller).
    unsafe {
        let mut acc = [S::zeros(); 4];
        for k in (0..quads).step_by(4 * l) {
            for (q, a) in acc.iter_mut().enumerate() {
                let v = value(k + q * l);
                *a = S::plus(*a, S::minus(v, v));
            }
        }
        for k in (quads..whole).step_by(l) {
            let v = value(k);
            acc[0] = S::plus(acc[0], S::minus(v, v));
        }
        if whole < n {
            let v = tail();
            acc[0] = S::plus(acc[0], S::keep(S::minus(v, v), m));
        }
        S::all_zero(S::plus(S::plus(acc[0], acc[1]), S::plus(acc[2], acc[3])))
    }
}

/// [`sgd`] on the instruction set `I`: the check (when asked), then the update. After a
/// checking pass, which runs from the start, the update runs from the end of the block to
/// its start, so that it first meets the values the check read last, still in the cache;
/// without one, from the start, where a training step wrote its last gradients (each
/// element is independent of the others: the order changes no bit). With
/// [`SgdCheck::FiniteGrads`] the check reads only the parameters when it can, with
/// [`SgdCheck::Bounded`] nothing (see there).
///
/// # Safety
/// The CPU has the instruction set `I`, and the caller is compiled for it; `p` and `g` have
/// the same length.
#[inline(always)]
unsafe fn sgd_lanes<I, S: Lanes<I>>(p: &mut [S], g: &[S], lr: S, check: SgdCheck) -> bool {
    assert_eq!(p.len(), g.len());
    let l = S::L;
    let n = p.len();
    let whole = n / l * l;
    let (pp, gp) = (p.as_mut_ptr(), g.as_ptr());
    // SAFETY: every access below is inside `p` and `g` (`k + l ≤ whole ≤ n`, the tail
    // through the mask of its `n − whole` lanes); the instruction set `I` (the caller).
    unsafe {
        let m = S::mask(n - whole);
        let lrv = S::broadcast(&lr);
        let new = |k: usize| S::minus(S::load(pp.add(k)), S::times(lrv, S::load(gp.add(k))));
        let new_tail = || {
            S::minus(
                S::load_masked(pp.add(whole), m),
                S::times(lrv, S::load_masked(gp.add(whole), m)),
            )
        };
        let mut read = false;
        if check != SgdCheck::None {
            // The bounds of `SgdCheck`: `|lr| ≤ 1/4`, and every `4·p` finite (checked
            // here for `FiniteGrads`, known for `Bounded`).
            let quick = check.quick(lr, || {
                let four = S::broadcast(&S::of(4.0));
                lanes_finite::<I, S>(
                    n,
                    m,
                    |k| S::times(four, S::load(pp.add(k))),
                    || S::times(four, S::load_masked(pp.add(whole), m)),
                )
            });
            if !quick && !lanes_finite::<I, S>(n, m, new, new_tail) {
                return false;
            }
            // A pass ran from the start: write from the end, what it read last first.
            read = !(quick && check == SgdCheck::Bounded);
        }
        if read {
            if whole < n {
                S::store_masked(pp.add(whole), m, new_tail());
            }
            for k in (0..whole).step_by(l).rev() {
                S::store(pp.add(k), new(k));
            }
        } else {
            // No pass: from the start, where a training step's backward pass wrote the
            // gradients last (those of the first layer).
            for k in (0..whole).step_by(l) {
                S::store(pp.add(k), new(k));
            }
            if whole < n {
                S::store_masked(pp.add(whole), m, new_tail());
            }
        }
    }
    true
}

/// The entry points of [`sgd`], compiled for their instruction sets.
macro_rules! sgd_entry_points {
    ($t:ty, $isa:ty, $features:literal, $name:ident) => {
        /// # Safety
        /// The CPU has the instruction set; `p` and `g` have the same length.
        #[target_feature(enable = $features)]
        #[inline(never)]
        unsafe fn $name(p: &mut [$t], g: &[$t], lr: $t, check: SgdCheck) -> bool {
            // SAFETY: the caller's.
            unsafe { sgd_lanes::<$isa, $t>(p, g, lr, check) }
        }
    };
}

/// The entry points of [`affine_grads_sgd`] and [`max_abs`], compiled for their
/// instruction sets.
macro_rules! fused_entry_points {
    ($t:ty, $isa:ty, $features:literal, $grads_sgd:ident, $max_abs:ident) => {
        /// [`grads_tiles`] updating `w` in its last pass (`SGD`).
        ///
        /// # Safety
        /// The CPU has the instruction set; the slice lengths are those asserted by
        /// [`affine_grads_sgd`].
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = $features)]
        #[inline(never)]
        unsafe fn $grads_sgd(
            w: &mut [$t],
            dw: &mut [$t],
            db: &mut [$t],
            x: &[$t],
            dy: &[$t],
            i: usize,
            o: usize,
            lr: $t,
        ) {
            // SAFETY: the caller's; `w` has the length of `dw` (`o · i`).
            unsafe {
                grads_tiles::<$isa, $t>(dw, db, x, dy, i, o, false, w.as_mut_ptr(), lr);
            }
        }

        /// [`max_abs_lanes`] for this type and instruction set.
        ///
        /// # Safety
        /// The CPU has the instruction set.
        #[target_feature(enable = $features)]
        #[inline(never)]
        unsafe fn $max_abs(s: &[$t]) -> Option<$t> {
            // SAFETY: the caller's.
            unsafe { max_abs_lanes::<$isa, $t>(s) }
        }
    };
}

fused_entry_points!(f32, Avx2, "avx2,fma", grads_sgd_f32_avx2, max_abs_f32_avx2);
fused_entry_points!(f64, Avx2, "avx2,fma", grads_sgd_f64_avx2, max_abs_f64_avx2);
fused_entry_points!(
    f32,
    Avx512,
    "avx512f,avx2,fma",
    grads_sgd_f32_avx512,
    max_abs_f32_avx512
);
fused_entry_points!(
    f64,
    Avx512,
    "avx512f,avx2,fma",
    grads_sgd_f64_avx512,
    max_abs_f64_avx512
);

/// `W ← W − lr·(dY · Xᵀ)` for a weight matrix `W` (`o × i`) whose gradient is computed by
/// the tiles of [`affine_grads`] (the same bits, every output summed in sample order) and
/// applied as each tile finishes, the update's bits ([`sgd`]'s: a multiplication, then a
/// subtraction), and `db = Σ_b dY[:, b]`. The weight gradient is not stored: `dw` holds
/// the partial sums between passes of samples (more than `KC / 2` of them), and is
/// otherwise left as it was. Returns `false` (nothing done) when `path` is not a vector
/// path this CPU runs, `T` is neither `f32` nor `f64`, or there are no samples.
#[allow(clippy::too_many_arguments)]
pub(super) fn affine_grads_sgd<T: Scalar>(
    path: Path,
    w: &mut [T],
    dw: &mut [T],
    db: &mut [T],
    x: &[T],
    dy: &[T],
    (i, o): (usize, usize),
    lr: T,
) -> bool {
    if o == 0 || !runs(path) {
        return false;
    }
    let n = dy.len() / o;
    assert!(
        w.len() == o * i
            && dw.len() == o * i
            && db.len() == o
            && x.len() == i * n
            && dy.len() == o * n
    );
    if n == 0 {
        return false;
    }
    let wide = path == Path::Avx512;
    let lr = core::slice::from_ref(&lr);
    if let (Some(w), Some(dw), Some(db), Some(x), Some(dy), Some(lr)) = (
        same_mut(w),
        same_mut(dw),
        same_mut(db),
        same(x),
        same(dy),
        same(lr),
    ) {
        // SAFETY: the CPU runs `path` (`runs`); the lengths asserted above.
        unsafe {
            if wide {
                grads_sgd_f32_avx512(w, dw, db, x, dy, i, o, lr[0])
            } else {
                grads_sgd_f32_avx2(w, dw, db, x, dy, i, o, lr[0])
            }
        }
        true
    } else if let (Some(w), Some(dw), Some(db), Some(x), Some(dy), Some(lr)) = (
        same_mut(w),
        same_mut(dw),
        same_mut(db),
        same(x),
        same(dy),
        same(lr),
    ) {
        // SAFETY: as above.
        unsafe {
            if wide {
                grads_sgd_f64_avx512(w, dw, db, x, dy, i, o, lr[0])
            } else {
                grads_sgd_f64_avx2(w, dw, db, x, dy, i, o, lr[0])
            }
        }
        true
    } else {
        false
    }
}

/// The largest `|v|` of `s` (0 when empty), or `None` if a value is not finite; `None`
/// (outer) when `path` is not a vector path this CPU runs or `T` is neither `f32` nor
/// `f64`. (`T` is the type of the slice: `T::of` of the `f32` or `f64` is exact.)
pub(super) fn max_abs<T: Scalar>(path: Path, s: &[T]) -> Option<Option<T>> {
    if !runs(path) {
        return None;
    }
    let wide = path == Path::Avx512;
    if let Some(s) = same::<T, f32>(s) {
        // SAFETY: the CPU runs `path` (`runs`).
        let m = unsafe {
            if wide {
                max_abs_f32_avx512(s)
            } else {
                max_abs_f32_avx2(s)
            }
        };
        Some(m.map(|v| T::of(f64::from(v))))
    } else if let Some(s) = same::<T, f64>(s) {
        // SAFETY: as above.
        let m = unsafe {
            if wide {
                max_abs_f64_avx512(s)
            } else {
                max_abs_f64_avx2(s)
            }
        };
        Some(m.map(T::of))
    } else {
        None
    }
}

/// [`max_abs`]'s loop: four vectors a trip into four running maxima of `max(v, −v)` and
/// four sums of `v − v` (zero while every value is finite, NaN from the first that is not),
/// the tail through a mask (zeros elsewhere).
///
/// # Safety
/// The CPU has the instruction set `I`, and the caller is compiled for it.
#[inline(always)]
unsafe fn max_abs_lanes<I, S: Lanes<I>>(s: &[S]) -> Option<S> {
    let (l, n) = (S::L, s.len());
    let p = s.as_ptr();
    // SAFETY: every load is inside `s` (`k + 4·L ≤ n`, then `k + L ≤ n`, the tail through
    // the mask of its `n − k` lanes); the instruction set `I` (the caller).
    unsafe {
        let mut top = [S::zeros(); 4];
        let mut bad = [S::zeros(); 4];
        let mut k = 0;
        while k + 4 * l <= n {
            for v in 0..4 {
                let x = S::load(p.add(k + v * l));
                top[v] = S::larger(top[v], S::larger(x, S::minus(S::zeros(), x)));
                bad[v] = S::plus(bad[v], S::minus(x, x));
            }
            k += 4 * l;
        }
        while k < n {
            let x = if k + l <= n {
                S::load(p.add(k))
            } else {
                S::load_masked(p.add(k), S::mask(n - k))
            };
            top[0] = S::larger(top[0], S::larger(x, S::minus(S::zeros(), x)));
            bad[0] = S::plus(bad[0], S::minus(x, x));
            k += l;
        }
        let bad = S::plus(S::plus(bad[0], bad[1]), S::plus(bad[2], bad[3]));
        if !S::all_zero(bad) {
            return None;
        }
        let top = S::larger(S::larger(top[0], top[1]), S::larger(top[2], top[3]));
        let mut lanes = [S::zero(); 16];
        S::store(lanes.as_mut_ptr(), top);
        Some(
            lanes[..l]
                .iter()
                .fold(S::zero(), |m, &t| if t > m { t } else { m }),
        )
    }
}

sgd_entry_points!(f32, Avx2, "avx2,fma", sgd_f32_avx2);
sgd_entry_points!(f64, Avx2, "avx2,fma", sgd_f64_avx2);
sgd_entry_points!(f32, Avx512, "avx512f,avx2,fma", sgd_f32_avx512);
sgd_entry_points!(f64, Avx512, "avx512f,avx2,fma", sgd_f64_avx512);
