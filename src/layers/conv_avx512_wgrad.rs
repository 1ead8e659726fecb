//! The weight and bias gradients of the direct AVX-512 convolution (`f32`, stride 1,
//! undilated, one group: where [`conv_avx512::applies`](super::conv_avx512::applies)):
//! `dW[o][j][kh][kw] += Σ_s Σ_(oh, ow) dy[s][o][oh][ow] · x[s][j][oh + kh − PH][ow + kw − PW]`
//! (no term where the input is padding) and `db[o] += Σ dy[s][o]`.
//!
//! Three kernels, the geometry choosing one at compile time ([`Kind`]):
//!
//! - [`Kind::Channels`], 16 output channels to a vector (LeNet-5's second convolution: 16
//!   channels, rows 10 wide). Each sample's `dy` is transposed into a stack buffer
//!   `[position][channel]` (16 channels a vector, zeros past `CO`) and its input copied
//!   into a stack buffer with zero columns for the padding. Accumulators: one vector per
//!   kernel tap of a block of kernel rows (at most [`TILE`]), for `Q` neighbouring
//!   positions of an output row at a time: the `Q` vectors of `dy` stay in registers and
//!   each input value, broadcast once, feeds the `Q` taps it meets (`KW + Q − 1` broadcasts
//!   for `Q · KW` multiply-adds);
//! - [`Kind::Rows`], 16 output positions of a row to a vector (LeNet-5's first
//!   convolution: 6 channels, rows 28 wide). The sample's input goes into a stack buffer
//!   whose rows are wide enough for every shifted vector (`16 · ⌈WO/16⌉ + KW − 1`, rounded
//!   up to a cache line, zeros around the data), so that no load of the input is masked,
//!   and each channel's `dy` into an aligned buffer of whole vectors (zeros past `WO`: the
//!   lanes past a row's end add `0 · x`). The accumulators are one vector per tap of a
//!   block of kernel rows of one output channel; each step is one input row: its `KW`
//!   shifted vectors loaded once, times the `dy` vector of every kernel row's output row
//!   (`KW` loads and as many of `dy` for `KH · KW` multiply-adds); the next channel's `dy`
//!   is prefetched while one channel's products run;
//! - [`Kind::Direct`], the first kernel of session 9, for geometries whose buffers would
//!   not fit on the stack: accumulators for a block of output channels × the kernel
//!   columns of one kernel row, kept over the whole batch, the input loads masked.
//!
//! The first two keep each sample's tile accumulators in registers and add them into a
//! stack array of vectors once per sample and tile (`dy` and the input of a sample stay in
//! L1); the lanes are summed into `dW` once per call; the bias gradient is summed from the
//! `dy` vectors they copy (two sums, not one chain of dependent additions). A padding
//! input multiplies its `dy` as a zero, as PyTorch's im2col does (an infinite `dy` there
//! gives NaN, where the direct loops skip the term). Sums run in another order than the
//! direct loops' (tolerances, not bits), one rounding per fused multiply-add.

use core::arch::x86_64::{
    __m512, __mmask16, _MM_HINT_T0, _mm_prefetch, _mm512_add_ps, _mm512_fmadd_ps, _mm512_load_ps,
    _mm512_loadu_ps, _mm512_mask_i32gather_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
    _mm512_mullo_epi32, _mm512_reduce_add_ps, _mm512_set_epi32, _mm512_set1_epi32, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_storeu_ps,
};
use core::mem::MaybeUninit;

use super::conv::{ConvShape, Geom};
use super::conv_avx512::{Blocks, L, MAX_KW, WGRAD_BLOCK, lanes, tap_lanes};

/// The most accumulators of one tile (kernel taps of a block of kernel rows): with the
/// `dy` vectors and a broadcast (or one `dy` vector), the rest of the 32 registers.
pub(super) const TILE: usize = 25;
/// The most scalars of a sample's input in the padded stack buffer (16 KiB).
const XPAD_MAX: usize = 4096;
/// [`XPAD_MAX`] in vectors.
const XPAD_V: usize = XPAD_MAX / L;
/// The most scalars of a sample's transposed output gradient (16 KiB).
const DYT_MAX: usize = 4096;
/// [`DYT_MAX`] in vectors.
const DYT_V: usize = DYT_MAX / L;
/// The most accumulator vectors of a call (16 KiB).
const ACC_MAX: usize = 256;
/// Neighbouring positions of [`Kind::Channels`]' steps (the rest of a row one at a time).
const Q: usize = 2;

/// Which weight-gradient kernel a geometry runs (see the module's notes).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    /// Output channels in the lanes.
    Channels,
    /// Output positions of a row in the lanes, the input from a padded buffer.
    Rows,
    /// Output positions of a row in the lanes, the input loads masked.
    Direct,
}

/// Kernel rows per tile for `kw` kernel columns (at least 1).
const fn tile_rows(kh: usize, kw: usize) -> usize {
    let kw = if kw == 0 { 1 } else { kw };
    let most = if TILE / kw == 0 { 1 } else { TILE / kw };
    if kh < most { kh } else { most }
}

/// Vectors of 16 output channels.
const fn channel_blocks(g: &Geom) -> usize {
    g.co.div_ceil(L)
}

/// Vectors of 16 outputs along a row.
const fn row_vectors(g: &Geom) -> usize {
    g.wo.div_ceil(L)
}

/// The row length of [`Kind::Rows`]' input buffer: every shifted vector inside.
const fn rows_width(g: &Geom) -> usize {
    row_vectors(g) * L + g.kw - 1
}

/// Whether [`Kind::Channels`]' buffers fit on the stack.
const fn channels_fit(g: &Geom) -> bool {
    g.ci * g.hi * (g.wi + 2 * g.pw) <= XPAD_MAX
        && g.l() * channel_blocks(g) * L <= DYT_MAX
        && g.kk() * channel_blocks(g) <= ACC_MAX
}

/// Whether [`Kind::Rows`]' buffers fit on the stack.
const fn rows_fit(g: &Geom) -> bool {
    g.ci * g.hi * rows_stride(g) <= XPAD_MAX
        && g.ho * row_vectors(g) * L <= DYT_MAX
        && g.kk() * g.co <= ACC_MAX
}

/// The kernel for `g` (a geometry where `conv_avx512::applies`): the one whose lanes hold
/// more useful values (channels on a tie: fewer loads per multiply-add), of those whose
/// buffers fit.
pub(super) const fn kind(g: &Geom) -> Kind {
    let ch = channels_fit(g);
    let rows = rows_fit(g);
    // Useful lanes: co / (16 · blocks) against wo / (16 · vectors), cross-multiplied.
    let ch_better = g.co * row_vectors(g) >= g.wo * channel_blocks(g);
    if ch && (ch_better || !rows) {
        Kind::Channels
    } else if rows {
        Kind::Rows
    } else {
        Kind::Direct
    }
}

/// Adds the weight gradient of `S` over a batch to `dw` with the kernel [`kind`] chooses,
/// and the bias gradient to `db` unless it is empty (summed as the kernel copies `dy`, or
/// by [`bias_grad`] for [`Kind::Direct`]).
///
/// # Safety
///
/// The CPU has AVX-512F; `x` and `dy` hold the same whole number of `S`'s input and output
/// samples, `dw` is `S`'s kernel (`KK · CO`), `db` empty or `CO` long, `S`'s geometry is
/// one where `conv_avx512::applies`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn weight_grad<S: ConvShape>(
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    assert!(db.is_empty() || db.len() == S::GEOM.co);
    // SAFETY: the caller's conditions are each kernel's.
    unsafe {
        match const { kind(&S::GEOM) } {
            Kind::Channels => channels::<S>(x, dy, dw, db),
            Kind::Rows => rows::<S>(x, dy, dw, db),
            Kind::Direct => {
                if !db.is_empty() {
                    bias_grad(S::GEOM.co, S::GEOM.l(), dy, db);
                }
                direct::<S>(x, dy, dw)
            }
        }
    }
}

/// Panics unless `x`, `dy` and `dw` match `g` (whole samples, as many of each).
fn check(g: &Geom, x: &[f32], dy: &[f32], dw: &[f32]) -> usize {
    let (ni, no) = (g.ci * g.hi * g.wi, g.co * g.l());
    assert!(
        ni > 0
            && no > 0
            && dw.len() == g.kk() * g.co
            && x.len().is_multiple_of(ni)
            && dy.len().is_multiple_of(no)
            && x.len() / ni == dy.len() / no,
        "convolution weight gradient: slice lengths do not match the geometry"
    );
    x.len() / ni
}

/// Copies sample `s` of `x` into `buf`: channel `j`, row `ih` at
/// `(j · HI + ih) · width + PW`; the columns around the data are left as they are (zeros).
///
/// # Safety
///
/// The CPU has AVX-512F; `x` holds sample `s`; `buf` holds `CI · HI · width` scalars,
/// `width ≥ WI + PW`.
#[inline(always)]
unsafe fn copy_sample(g: &Geom, x: &[f32], s: usize, buf: &mut [f32], width: usize) {
    let ni = g.ci * g.hi * g.wi;
    debug_assert!(x.len() >= (s + 1) * ni && buf.len() >= g.ci * g.hi * width);
    let (xp, bp) = (x.as_ptr(), buf.as_mut_ptr());
    for r in 0..g.ci * g.hi {
        let (from, to) = (s * ni + r * g.wi, r * width + g.pw);
        let mut c = 0;
        while c < g.wi {
            let m = lanes(0, (g.wi - c) as isize);
            // SAFETY: lanes c .. min(c + 16, WI) of row r of sample s, and of row r of
            // `buf` from its column PW (WI + PW ≤ width).
            unsafe {
                let v = _mm512_maskz_loadu_ps(m, xp.add(from + c));
                _mm512_mask_storeu_ps(bp.add(to + c), m, v);
            }
            c += L;
        }
    }
}

/// Adds the lane sums of `acc` (`CO · KK` vectors, tap-major per channel: `acc[o·KK + t]`)
/// or of the channel blocks (`acc[t · blocks + b]`, lane `o − 16b`) into `dw`.
///
/// # Safety
///
/// The CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn add_rows_acc(acc: &[__m512], dw: &mut [f32]) {
    for (d, a) in dw.iter_mut().zip(acc) {
        *d += _mm512_reduce_add_ps(*a);
    }
}

/// A stack buffer of `N` vectors (`16 · N` scalars), aligned to a cache line.
type Buffer<const N: usize> = MaybeUninit<[__m512; N]>;

/// The first `n` scalars of `buf`, zeroed (the rest is not touched: a small convolution
/// does not clear 16 KiB it does not use).
#[inline(always)]
fn zeroed<const N: usize>(buf: &mut Buffer<N>, n: usize) -> &mut [f32] {
    assert!(n <= N * L);
    let p = buf.as_mut_ptr().cast::<f32>();
    // SAFETY: the first n ≤ 16·N scalars of the buffer, all written (zero is a valid f32)
    // before the slice is made, and borrowed from `buf` for its lifetime.
    unsafe {
        core::ptr::write_bytes(p, 0, n);
        core::slice::from_raw_parts_mut(p, n)
    }
}

/// The first `n` vectors of `buf`, zeroed.
#[inline(always)]
fn zeroed_vectors<const N: usize>(buf: &mut Buffer<N>, n: usize) -> &mut [__m512] {
    assert!(n <= N);
    let p = buf.as_mut_ptr().cast::<__m512>();
    // SAFETY: as in `zeroed` (all-zero bits are sixteen 0.0 lanes).
    unsafe {
        core::ptr::write_bytes(p, 0, n);
        core::slice::from_raw_parts_mut(p, n)
    }
}

/// One input row `ih` of [`Kind::Rows`] for channel `o`, input channel `j` and the kernel
/// rows `kh0 .. kh0 + khb`: for each vector of the row, the `KW` shifted input vectors
/// loaded once, each valid kernel row's `dy` vector (output row `ih + PH − kh`) times
/// them (`ALL`: every kernel row of the tile has its output row).
///
/// # Safety
///
/// The CPU has AVX-512F; `xq` is the sample's input buffer (`CI · HI` rows of
/// `rows_stride`), `dq` its channel `o`'s `dy` (`HO` rows of `16 · vectors`, aligned).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_step<const ALL: bool>(
    g: &Geom,
    khb: usize,
    t: &mut [__m512; TILE],
    xq: *const f32,
    dq: *const f32,
    (j, kh0, ih): (usize, usize, usize),
) {
    let (xs, ds) = (rows_stride(g), row_vectors(g) * L);
    for v in 0..row_vectors(g) {
        // SAFETY (every intrinsic below): the CPU has AVX-512F.
        let mut xv = [unsafe { _mm512_setzero_ps() }; MAX_KW];
        let row = (j * g.hi + ih) * xs + v * L;
        for (b, xv) in xv.iter_mut().enumerate().take(g.kw) {
            // SAFETY: row + b + 16 ≤ (j·HI + ih)·xs + 16·vectors + KW − 1 ≤ the buffer.
            *xv = unsafe { _mm512_loadu_ps(xq.add(row + b)) };
        }
        for a in 0..khb {
            let kh = kh0 + a;
            let oh = (ih + g.ph).wrapping_sub(kh);
            if !ALL && (kh >= g.kh || oh >= g.ho) {
                continue;
            }
            // SAFETY: output row oh < HO (of channel o), vector v.
            let d = unsafe { _mm512_load_ps(dq.add(oh * ds + v * L)) };
            for (b, xv) in xv.iter().enumerate().take(g.kw) {
                let k = a * g.kw + b;
                t[k] = unsafe { _mm512_fmadd_ps(d, *xv, t[k]) };
            }
        }
    }
}

/// The row length of [`Kind::Rows`]' input buffer: every shifted vector inside, rounded
/// up to a cache line.
const fn rows_stride(g: &Geom) -> usize {
    rows_width(g).div_ceil(L) * L
}

/// [`Kind::Rows`] (see the module's notes).
///
/// # Safety
///
/// As [`weight_grad`], and [`rows_fit`] for `S`'s geometry.
#[target_feature(enable = "avx512f")]
unsafe fn rows<S: ConvShape>(x: &[f32], dy: &[f32], dw: &mut [f32], db: &mut [f32]) {
    let g = &S::GEOM;
    let samples = check(g, x, dy, dw);
    let (kk, no) = (g.kk(), g.co * g.l());
    let (stride, vectors) = (rows_stride(g), row_vectors(g));
    let khb = const { tile_rows(S::GEOM.kh, S::GEOM.kw) };
    assert!(rows_fit(g) && g.kw <= MAX_KW && khb * g.kw <= TILE);
    let (mut xb, mut db_, mut ab) = (
        Buffer::<XPAD_V>::uninit(),
        Buffer::<DYT_V>::uninit(),
        Buffer::<ACC_MAX>::uninit(),
    );
    let xbuf = zeroed(&mut xb, g.ci * g.hi * stride);
    // Rows of 16 · vectors, zeros past WO.
    let dbuf = zeroed(&mut db_, g.ho * vectors * L);
    let acc = zeroed_vectors(&mut ab, kk * g.co);
    for s in 0..samples {
        // SAFETY: sample s of x; CI·HI·stride ≤ XPAD_MAX and WI + PW ≤ stride.
        unsafe { copy_sample(g, x, s, xbuf, stride) };
        let xq = xbuf.as_ptr();
        // Input rows whose every kernel row of a whole tile has its output row:
        // 0 ≤ ih + PH − kh < HO for kh in 0 .. KH.
        let lo = (g.kh - 1).saturating_sub(g.ph).min(g.hi);
        let hi = g.ho.saturating_sub(g.ph).min(g.hi).max(lo);
        let (lo, hi) = if khb == g.kh { (lo, hi) } else { (0, 0) };
        for o in 0..g.co {
            // Two sums (even and odd vectors), so that the additions do not all wait on
            // each other.
            let (mut even, mut odd) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for r in 0..g.ho {
                let (from, to) = (s * no + (o * g.ho + r) * g.wo, r * vectors * L);
                for v in 0..vectors {
                    let m = lanes(0, (g.wo - v * L) as isize);
                    // SAFETY: the lanes of `m` are outputs of row r of channel o of sample
                    // s, and inside row r of `dbuf` (HO·16·vectors ≤ DYT_MAX); the others
                    // stay zero.
                    unsafe {
                        let d = _mm512_maskz_loadu_ps(m, dy.as_ptr().add(from + v * L));
                        _mm512_mask_storeu_ps(dbuf.as_mut_ptr().add(to + v * L), m, d);
                        if v % 2 == 0 {
                            even = _mm512_add_ps(even, d);
                        } else {
                            odd = _mm512_add_ps(odd, d);
                        }
                    }
                }
            }
            if let Some(db) = db.get_mut(o) {
                *db += _mm512_reduce_add_ps(_mm512_add_ps(even, odd));
            }
            // The next channel's `dy` (the next `HO·WO` scalars, also across samples),
            // on its way from L2 while this one's products run.
            let next = dy.as_ptr().wrapping_add(s * no + (o + 1) * g.l());
            for k in (0..g.l()).step_by(L) {
                _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(k).cast());
            }
            let dq = dbuf.as_ptr();
            for j in 0..g.ci {
                let mut kh0 = 0;
                while kh0 < g.kh {
                    let mut t = [_mm512_setzero_ps(); TILE];
                    // SAFETY (the three loops): input rows of the sample.
                    for ih in 0..lo {
                        unsafe { rows_step::<false>(g, khb, &mut t, xq, dq, (j, kh0, ih)) };
                    }
                    for ih in lo..hi {
                        unsafe { rows_step::<true>(g, khb, &mut t, xq, dq, (j, kh0, ih)) };
                    }
                    for ih in hi..g.hi {
                        unsafe { rows_step::<false>(g, khb, &mut t, xq, dq, (j, kh0, ih)) };
                    }
                    for a in 0..khb {
                        let kh = kh0 + a;
                        if kh >= g.kh {
                            break;
                        }
                        for b in 0..g.kw {
                            let i = o * kk + (j * g.kh + kh) * g.kw + b;
                            acc[i] = _mm512_add_ps(acc[i], t[a * g.kw + b]);
                        }
                    }
                    kh0 += khb;
                }
            }
        }
    }
    // SAFETY: AVX-512F.
    unsafe { add_rows_acc(acc, dw) };
}

/// One step of [`Kind::Channels`]: `P` neighbouring positions `(oh, ow0 + p)` of channel
/// block `b`, the taps of kernel rows `kh0 ..` of input channel `j` in `t`.
///
/// # Safety
///
/// The CPU has AVX-512F; the positions are outputs; `xq` is the sample's padded input
/// (`CI · HI · (WI + 2·PW)`), `dq` its transposed `dy` (`L_out · blocks · 16`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn channels_step<const P: usize>(
    g: &Geom,
    khb: usize,
    t: &mut [__m512; TILE],
    xq: *const f32,
    dq: *const f32,
    blocks: usize,
    (b, j, kh0, oh, ow0): (usize, usize, usize, usize, usize),
) {
    let width = g.wi + 2 * g.pw;
    // SAFETY (every intrinsic below): the CPU has AVX-512F.
    let mut d = [unsafe { _mm512_setzero_ps() }; P];
    for (p, d) in d.iter_mut().enumerate() {
        // SAFETY: position oh·WO + ow0 + p < L_out, block b < blocks.
        *d = unsafe { _mm512_loadu_ps(dq.add(((oh * g.wo + ow0 + p) * blocks + b) * L)) };
    }
    for a in 0..khb {
        let kh = kh0 + a;
        let ih = (oh + kh).wrapping_sub(g.ph);
        if kh >= g.kh || ih >= g.hi {
            continue;
        }
        // Padded column ow + kw of output ow and tap kw.
        let row = (j * g.hi + ih) * width + ow0;
        for c in 0..g.kw + P - 1 {
            // SAFETY: column ow0 + c ≤ WO − 1 + KW − 1 < WI + 2·PW of row ih of channel j.
            let xb = unsafe { _mm512_set1_ps(*xq.add(row + c)) };
            for (p, d) in d.iter().enumerate() {
                // Tap c − p of position ow0 + p.
                if c >= p && c - p < g.kw {
                    let k = a * g.kw + c - p;
                    // SAFETY: AVX-512F.
                    t[k] = unsafe { _mm512_fmadd_ps(*d, xb, t[k]) };
                }
            }
        }
    }
}

/// [`Kind::Channels`] (see the module's notes).
///
/// # Safety
///
/// As [`weight_grad`], and [`channels_fit`] for `S`'s geometry.
#[target_feature(enable = "avx512f")]
unsafe fn channels<S: ConvShape>(x: &[f32], dy: &[f32], dw: &mut [f32], db: &mut [f32]) {
    let g = &S::GEOM;
    let samples = check(g, x, dy, dw);
    let (l, kk, no) = (g.l(), g.kk(), g.co * g.l());
    let blocks = channel_blocks(g);
    let width = g.wi + 2 * g.pw;
    let khb = const { tile_rows(S::GEOM.kh, S::GEOM.kw) };
    assert!(channels_fit(g) && khb * g.kw <= TILE);
    let (mut xb, mut dyb, mut ab) = (
        Buffer::<XPAD_V>::uninit(),
        Buffer::<DYT_V>::uninit(),
        Buffer::<ACC_MAX>::uninit(),
    );
    let xbuf = zeroed(&mut xb, g.ci * g.hi * width);
    let dyt = zeroed(&mut dyb, g.l() * blocks * L);
    let acc = zeroed_vectors(&mut ab, kk * blocks);
    // One pointer to `dyt` for its writes and reads.
    let dp = dyt.as_mut_ptr();
    let dq = dp.cast_const();
    for s in 0..samples {
        // SAFETY: sample s of x; CI·HI·width ≤ XPAD_MAX.
        unsafe { copy_sample(g, x, s, xbuf, width) };
        let xq = xbuf.as_ptr();
        // dyt[p][b·16 + lane] = dy[s][b·16 + lane][p], one gather a vector.
        let idx = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32(l as i32),
        );
        for b in 0..blocks {
            let m = lanes(0, (g.co - b * L) as isize);
            let base = dy.as_ptr().wrapping_add(s * no + b * L * l);
            let (mut even, mut odd) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for p in 0..l {
                // SAFETY: the lanes of `m` read channels b·16 + lane < CO of sample s at
                // position p (and l·16 < 2³¹: DYT_MAX bounds l).
                let v = unsafe {
                    _mm512_mask_i32gather_ps::<4>(
                        _mm512_setzero_ps(),
                        m,
                        idx,
                        base.wrapping_add(p).cast(),
                    )
                };
                // SAFETY: (p · blocks + b + 1) · 16 ≤ DYT_MAX.
                unsafe { _mm512_storeu_ps(dp.add((p * blocks + b) * L), v) };
                if p % 2 == 0 {
                    even = _mm512_add_ps(even, v);
                } else {
                    odd = _mm512_add_ps(odd, v);
                }
            }
            if !db.is_empty() {
                let sum = _mm512_add_ps(even, odd);
                let mut lanes_of = [0.0f32; L];
                // SAFETY: 16 scalars.
                unsafe { _mm512_storeu_ps(lanes_of.as_mut_ptr(), sum) };
                for (d, v) in db[b * L..].iter_mut().zip(lanes_of) {
                    *d += v;
                }
            }
        }
        for b in 0..blocks {
            for j in 0..g.ci {
                let mut kh0 = 0;
                while kh0 < g.kh {
                    let mut t = [_mm512_setzero_ps(); TILE];
                    for oh in 0..g.ho {
                        let mut ow0 = 0;
                        while ow0 + Q <= g.wo {
                            // SAFETY: positions ow0 .. ow0 + Q of row oh are outputs.
                            unsafe {
                                channels_step::<Q>(
                                    g,
                                    khb,
                                    &mut t,
                                    xq,
                                    dq,
                                    blocks,
                                    (b, j, kh0, oh, ow0),
                                )
                            };
                            ow0 += Q;
                        }
                        while ow0 < g.wo {
                            // SAFETY: as above, one position.
                            unsafe {
                                channels_step::<1>(
                                    g,
                                    khb,
                                    &mut t,
                                    xq,
                                    dq,
                                    blocks,
                                    (b, j, kh0, oh, ow0),
                                )
                            };
                            ow0 += 1;
                        }
                    }
                    for a in 0..khb {
                        let kh = kh0 + a;
                        if kh >= g.kh {
                            break;
                        }
                        for c in 0..g.kw {
                            let i = ((j * g.kh + kh) * g.kw + c) * blocks + b;
                            acc[i] = _mm512_add_ps(acc[i], t[a * g.kw + c]);
                        }
                    }
                    kh0 += khb;
                }
            }
        }
    }
    let mut lanes_of = [0.0f32; L];
    for t in 0..kk {
        for b in 0..blocks {
            // SAFETY: 16 scalars.
            unsafe { _mm512_storeu_ps(lanes_of.as_mut_ptr(), acc[t * blocks + b]) };
            for (lane, &v) in lanes_of.iter().enumerate().take(g.co - b * L) {
                dw[(b * L + lane) * kk + t] += v;
            }
        }
    }
}

/// [`Kind::Direct`] (see the module's notes).
///
/// # Safety
///
/// As [`weight_grad`].
#[target_feature(enable = "avx512f")]
unsafe fn direct<S: ConvShape>(x: &[f32], dy: &[f32], dw: &mut [f32]) {
    let g = &S::GEOM;
    let samples = check(g, x, dy, dw);
    let (plane, l, kk) = (g.hi * g.wi, g.l(), g.kk());
    let (ni, no) = (g.ci * plane, g.co * l);
    let ob = S::WGRAD_OB;
    let (xp, dyp) = (x.as_ptr(), dy.as_ptr());
    for j in 0..g.ci {
        for kh in 0..g.kh {
            for o0 in (0..g.co).step_by(ob) {
                let mut acc = [[_mm512_setzero_ps(); MAX_KW]; WGRAD_BLOCK];
                for s in 0..samples {
                    for oh in 0..g.ho {
                        let ih = (oh + kh).wrapping_sub(g.ph);
                        if ih >= g.hi {
                            continue;
                        }
                        let row = s * ni + j * plane + ih * g.wi;
                        let mut ow0 = 0;
                        while ow0 < g.wo {
                            let mut xv = [_mm512_setzero_ps(); MAX_KW];
                            for (kw, v) in xv.iter_mut().enumerate().take(g.kw) {
                                let m = tap_lanes(g, ow0, kw);
                                let at = xp.wrapping_add(row + ow0 + kw).wrapping_sub(g.pw);
                                // SAFETY: masked load, every lane read in bounds.
                                *v = unsafe { _mm512_maskz_loadu_ps(m, at) };
                            }
                            let m = lanes(0, (g.wo - ow0) as isize);
                            for (o, a) in acc.iter_mut().enumerate().take(ob) {
                                let at = s * no + (o0 + o) * l + oh * g.wo + ow0;
                                // SAFETY: the lanes of `m` are in row `oh` of channel
                                // o0 + o of sample s.
                                let d = unsafe { _mm512_maskz_loadu_ps(m, dyp.add(at)) };
                                for (kw, a) in a.iter_mut().enumerate().take(g.kw) {
                                    *a = _mm512_fmadd_ps(d, xv[kw], *a);
                                }
                            }
                            ow0 += L;
                        }
                    }
                }
                for (o, a) in acc.iter().enumerate().take(ob) {
                    for (kw, a) in a.iter().enumerate().take(g.kw) {
                        dw[(o0 + o) * kk + (j * g.kh + kh) * g.kw + kw] += _mm512_reduce_add_ps(*a);
                    }
                }
            }
        }
    }
}

/// Adds to `db[o]` the sum of channel `o` of every sample of `dy` (`co` channels of `l`
/// positions a sample): in four vector accumulators (a scalar sum is one chain of
/// dependent additions, four cycles each).
///
/// # Safety
///
/// The CPU has AVX-512F; `db` holds `co` values, `dy` whole samples.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn bias_grad(co: usize, l: usize, dy: &[f32], db: &mut [f32]) {
    assert!(db.len() == co && dy.len().is_multiple_of(co * l));
    let dyp = dy.as_ptr();
    let samples = dy.len() / (co * l);
    for (o, d) in db.iter_mut().enumerate() {
        let mut acc = [_mm512_setzero_ps(); 4];
        for s in 0..samples {
            let base = (s * co + o) * l;
            let mut t = 0;
            while t + 4 * L <= l {
                for (k, a) in acc.iter_mut().enumerate() {
                    // SAFETY: positions t + 16k .. t + 16k + 16 <= l of channel o.
                    *a = _mm512_add_ps(*a, unsafe { _mm512_loadu_ps(dyp.add(base + t + k * L)) });
                }
                t += 4 * L;
            }
            while t < l {
                let m: __mmask16 = lanes(0, (l - t) as isize);
                // SAFETY: the lanes of `m` are positions t.. < l of channel o of sample s.
                let v = unsafe { _mm512_maskz_loadu_ps(m, dyp.add(base + t)) };
                acc[0] = _mm512_add_ps(acc[0], v);
                t += L;
            }
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        *d += _mm512_reduce_add_ps(sum);
    }
}

#[cfg(test)]
mod tests {
    use super::super::conv::direct_backward;
    use super::super::conv_avx512::{applies, runs};
    use super::*;
    use crate::layers::Conv2d;
    use alloc::vec;
    use alloc::vec::Vec;
    use rand::rngs::Xoshiro128PlusPlus;
    use rand::{RngExt, SeedableRng};

    extern crate alloc;

    /// Whether `kind`'s buffers fit `g`.
    fn fits(g: &Geom, kind: Kind) -> bool {
        match kind {
            Kind::Channels => channels_fit(g),
            Kind::Rows => rows_fit(g),
            Kind::Direct => true,
        }
    }

    /// Each of `kinds` (which must fit `S`), and the kernel [`kind`] chooses (`chosen`),
    /// adds to `dW` and `db` what the direct loops add in `f64` over `b` samples, to `f32`
    /// rounding: within 64 ε of the sum of the terms' magnitudes (one missing or wrong
    /// term is at least about 1/(B·HO·WO) of it).
    fn agree<S: ConvShape>(b: usize, chosen: Kind, kinds: &[Kind]) {
        let g = S::GEOM;
        assert!(applies(&g), "{g:?}");
        assert_eq!(kind(&g), chosen, "{g:?}");
        let rng = &mut Xoshiro128PlusPlus::seed_from_u64(b as u64 + 11);
        let mut rand =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let (ni, no, kk) = (g.ci * g.hi * g.wi, g.co * g.l(), g.kk());
        let (x, dy) = (rand(ni * b), rand(no * b));
        let wide = |v: &[f32], abs: bool| -> Vec<f64> {
            v.iter()
                .map(|&v| {
                    if abs {
                        f64::from(v).abs()
                    } else {
                        f64::from(v)
                    }
                })
                .collect()
        };
        // Expected sums, and the sums of the terms' magnitudes.
        let mut e = [
            (vec![0.0; kk * g.co], vec![0.0; g.co]),
            (vec![0.0; kk * g.co], vec![0.0; g.co]),
        ];
        for (abs, (dw, db)) in [false, true].into_iter().zip(e.iter_mut()) {
            let (x, dy, w) = (wide(&x, abs), wide(&dy, abs), vec![0.0; kk * g.co]);
            for s in 0..b {
                direct_backward(
                    &g,
                    &w,
                    &x[s * ni..][..ni],
                    &dy[s * no..][..no],
                    dw,
                    db,
                    None,
                );
            }
        }
        let [(e_dw, e_db), (m_dw, m_db)] = e;
        let close = |what: &str, got: &[f32], e: &[f64], m: &[f64]| {
            for (i, ((&a, &e), &m)) in got.iter().zip(e).zip(m).enumerate() {
                let e = e + 0.5;
                assert!(
                    (f64::from(a) - e).abs() <= 64.0 * f64::from(f32::EPSILON) * (m + 0.5),
                    "{g:?} {what}[{i}] = {a}, direct loops (f64) {e}"
                );
            }
        };
        for &k in kinds.iter().chain([&chosen]) {
            assert!(fits(&g, k), "{k:?} {g:?}");
            let (mut dw, mut db) = (vec![0.5f32; kk * g.co], vec![0.5f32; g.co]);
            // SAFETY: the path is AVX-512 (checked by the callers), the lengths match, the
            // kernel fits.
            unsafe {
                match k {
                    Kind::Channels => channels::<S>(&x, &dy, &mut dw, &mut db),
                    Kind::Rows => rows::<S>(&x, &dy, &mut dw, &mut db),
                    Kind::Direct => bias_grad(g.co, g.l(), &dy, &mut db),
                }
                if k == Kind::Direct {
                    direct::<S>(&x, &dy, &mut dw);
                }
            }
            close(&alloc::format!("{k:?} dw"), &dw, &e_dw, &m_dw);
            close(&alloc::format!("{k:?} db"), &db, &e_db, &m_db);
            // Without a bias: the same weight gradient.
            let mut dw0 = vec![0.5f32; kk * g.co];
            // SAFETY: as above.
            unsafe { weight_grad::<S>(&x, &dy, &mut dw0, &mut []) };
            if k == chosen {
                assert_eq!(dw0, dw);
            }
        }
    }

    /// Every weight-gradient kernel matches the direct loops, on the geometries each takes.
    #[test]
    fn kernels_match_direct_loops() {
        if !runs::<f32>() {
            std::eprintln!("the AVX-512 path is not in use (CPU or STATICNN_KERNELS): not run");
            return;
        }
        use Kind::{Channels, Direct, Rows};
        for b in [1, 3] {
            // LeNet-5's: 6 channels on rows of 28 (two vectors, padding 2) take the rows;
            // 16 channels on rows of 10 the channels.
            agree::<Conv2d<1, 28, 28, 6, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1, 1, 25, 6>>(
                b,
                Rows,
                &[Direct],
            );
            agree::<Conv2d<6, 14, 14, 16, 10, 10, 5, 5, 1, 1, 0, 0, 1, 1, 1, 150, 16>>(
                b,
                Channels,
                &[Direct],
            );
            // 20 channels (a second block of 4 lanes), rows of 7 (three pairs and one
            // position), padding 1 around.
            agree::<Conv2d<3, 6, 7, 20, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 27, 20>>(
                b,
                Channels,
                &[Direct],
            );
            // Two whole blocks of 16, rows of 5 (one pair short of a multiple of 2).
            agree::<Conv2d<4, 4, 5, 32, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 36, 32>>(
                b,
                Channels,
                &[Direct],
            );
            // Rows of 37 (three vectors, odd), unequal padding, a 3 × 5 kernel.
            agree::<Conv2d<2, 5, 37, 6, 5, 37, 3, 5, 1, 1, 1, 2, 1, 1, 1, 30, 6>>(
                b,
                Rows,
                &[Channels, Direct],
            );
            // A 5 × 7 kernel: tiles of 3 and 2 kernel rows (no row without a check).
            agree::<Conv2d<2, 6, 20, 2, 6, 20, 5, 7, 1, 1, 2, 3, 1, 1, 1, 70, 2>>(
                b,
                Rows,
                &[Direct],
            );
            // A 1-D shape (one row of 3, padding 1), and one input row with a kernel of 3
            // rows padded by 1 (every input row an edge).
            agree::<Conv2d<2, 1, 3, 2, 1, 3, 1, 3, 1, 1, 0, 1, 1, 1, 1, 6, 2>>(
                b,
                Rows,
                &[Channels, Direct],
            );
            agree::<Conv2d<4, 1, 8, 4, 1, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 36, 4>>(b, Rows, &[Direct]);
            // Rows of exactly 16 (every lane an output) and 12 channels take the rows; 14
            // channels on rows of 12, the channels.
            agree::<Conv2d<2, 3, 16, 12, 3, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 18, 12>>(
                b,
                Rows,
                &[Channels, Direct],
            );
            agree::<Conv2d<2, 3, 12, 14, 3, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 18, 14>>(
                b,
                Channels,
                &[Rows, Direct],
            );
            // A plane too large for the stack buffers keeps the first kernel.
            agree::<Conv2d<1, 64, 64, 4, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 9, 4>>(b, Direct, &[]);
        }
    }
}
