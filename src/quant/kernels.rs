//! Vector kernels of the int8 layers on x86-64: `acc = b_o + Σ_k w_ok · (x_k − zp)` for
//! every output channel `o` and column of a batch, then the requantisation, in AVX-512
//! VNNI (`vpdpbusd`: 64 products of an unsigned and a signed byte per instruction, summed
//! four by four into 32-bit lanes).
//!
//! The layers keep their own loops (the portable code of the microcontrollers, and the
//! AVX2 code of [`QLinear`](super::QLinear)); [`linear`] and [`conv2d`] take a product when
//! this CPU runs the kernels and say whether they did ([`pool`], plain loops without the
//! reference's per-point checks, does the same for pooling without padding). The results
//! are the same integers on every path:
//!
//! - `vpdpbusd` multiplies unsigned bytes by signed ones, so the weights enter as
//!   `u = w + 128` (`w ^ 0x80`, in `[0, 255]`) and the columns as they are; four products
//!   of at most `255 · 128` in magnitude sum exactly in 32 bits. The correction is exact
//!   modulo 2³², as the reference's wrapping sums:
//!   `Σ w·(x − zp) = Σ u·x − 128·Σ x − zp·Σ u + 128·zp·I`, with `Σ u` per output channel
//!   (computed as the weights are packed) and `Σ x` per column;
//! - the requantisation runs on 16 channels at once in 64-bit lanes, the same formulas
//!   as [`fixed`](super::fixed), single or double rounding.
//!
//! The weights of 16 output channels are packed for each call (`[k / 4][16][4]`, a gather
//! per four inputs) into a 16 KiB stack array: layers with more than [`MAX_INPUTS`] inputs
//! take the layers' own loops. A convolution offsets the input rather than the weights
//! (see [`conv2d`]). Nothing allocates.

/// Inputs per output channel that the packed panel holds (16 KiB on the stack).
pub(crate) const MAX_INPUTS: usize = 1024;

/// Columns whose sums are computed before the weights are packed: a batch of at most
/// this many columns packs each weight once.
const COLUMNS: usize = 256;

/// The requantisation of each output channel: `y = clamp(zp_out + M_o · (b_o + acc))`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Requant<'a> {
    /// Biases, one per output channel.
    pub bias: &'a [i32],
    /// Fixed-point multipliers (Q0.31), one per output channel.
    pub multiplier: &'a [i32],
    /// Their shifts, one per output channel.
    pub shift: &'a [i32],
    /// The output's zero point.
    pub output_zero_point: i32,
    /// The lowest output.
    pub min: i8,
    /// The highest output.
    pub max: i8,
    /// Double rounding
    /// ([`multiply_by_quantized_multiplier_double_rounding`](super::fixed::multiply_by_quantized_multiplier_double_rounding),
    /// the convolutions') rather than single rounding (`FULLY_CONNECTED`'s).
    pub double: bool,
}

/// Whether the VNNI kernels run: the dense products' path ([`crate::kernels::path`],
/// capped by `STATICNN_KERNELS`) is AVX-512 and the CPU has AVX-512 VNNI, BW and VL.
#[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
#[inline]
pub(crate) fn vnni() -> bool {
    use crate::kernels::{Path, path};
    if path() < Path::Avx512 {
        return false;
    }
    #[cfg(all(
        target_feature = "avx512vnni",
        target_feature = "avx512bw",
        target_feature = "avx512vl"
    ))]
    return true;
    #[cfg(not(all(
        target_feature = "avx512vnni",
        target_feature = "avx512bw",
        target_feature = "avx512vl"
    )))]
    {
        #[cfg(feature = "std")]
        return std::is_x86_feature_detected!("avx512vnni")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl");
        #[cfg(not(feature = "std"))]
        return false;
    }
}

/// `y[b · o + r] = requantised(bias_r + Σ_k w[r · i + k] · (x[b · i + k] − zp))` for the
/// `o` output channels and the `x.len() / i` columns, on the VNNI kernels. Returns `false`
/// (and writes nothing) when they do not run here ([`vnni()`]), when `i` is 0 or above
/// [`MAX_INPUTS`], or when a slice's length does not match.
#[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
#[inline]
pub(crate) fn linear(
    w: &[i8],
    x: &[i8],
    zp: i32,
    rq: &Requant<'_>,
    y: &mut [i8],
    i: usize,
    o: usize,
) -> bool {
    if i == 0 || i > MAX_INPUTS || o == 0 || !vnni() {
        return false;
    }
    let n = x.len() / i;
    let shapes = w.len() == o * i
        && x.len() == n * i
        && y.len() == n * o
        && rq.bias.len() == o
        && rq.multiplier.len() == o
        && rq.shift.len() == o;
    if !shapes {
        return false;
    }
    // SAFETY: `vnni` says that the CPU runs AVX-512 F, BW, VL and VNNI; the lengths are
    // checked above.
    unsafe { vnni::linear(w, x, zp, rq, y, i, o, n, (o, 1)) };
    true
}

/// Bytes of a convolution's packed weights (32 KiB on the stack).
const PANEL_BYTES: usize = 32 * 1024;

/// Bytes of a sample's padded channel-last input (16 KiB on the stack).
const IMAGE_BYTES: usize = 16 * 1024;

/// Output channels of a convolution on the VNNI kernels, at most.
const MAX_CHANNELS: usize = 1024;

/// A convolution (groups 1) of a batch of `x.len() / in_c·in_h·in_w` samples, as
/// [`conv2d`](super::conv::conv2d) computes each, on the VNNI kernels, without patches:
///
/// - the weights are packed once for the batch, 16 output channels by 4 input channels
///   of one kernel point (`[k_h][k_w][in_c / 4][16][4]`, channels padded to a multiple of
///   4 with zero weights), signed;
/// - each sample is copied once, channel-last, as `x + 128` (unsigned), into an image with
///   its padding (the input's zero point, which adds nothing) around it;
/// - the window of an output position is then 4 bytes at a fixed offset per weight group
///   from the position's corner: `vpdpbusd` of those bytes (broadcast) with the packed
///   weights, and `Σ w·(x − zp) = Σ w·(x + 128) − (128 + zp)·Σ w`, per output channel.
///
/// Returns `false` (and writes nothing) when the kernels do not run here, when a length
/// does not match the geometry, when the input's zero point is outside int8, or when the
/// packed weights or a sample's image would not fit their stack arrays
/// ([`PANEL_BYTES`], [`IMAGE_BYTES`]).
#[allow(clippy::too_many_arguments)]
#[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
pub(crate) fn conv2d(
    win: &super::conv::Window,
    in_c: usize,
    x: &[i8],
    weight: &[i8],
    rq: &Requant<'_>,
    zp: i32,
    y: &mut [i8],
) -> bool {
    let Some(g) = Geometry::new(win, in_c, rq.bias.len()) else {
        return false;
    };
    let (ni, no) = (in_c * win.in_h * win.in_w, g.o * g.positions);
    // No input rows or columns (a hand-edited window, all padding): declined, not divided.
    let Some(samples) = x.len().checked_div(ni) else {
        return false;
    };
    let ok = (-128..=127).contains(&zp)
        && samples * ni == x.len()
        && samples.checked_mul(no) == Some(y.len())
        && g.o.checked_mul(in_c * win.k_h * win.k_w) == Some(weight.len())
        && rq.multiplier.len() == g.o
        && rq.shift.len() == g.o
        && vnni();
    if !ok {
        return false;
    }
    // SAFETY: `vnni` says that the CPU runs the kernels; the lengths are checked above and
    // by `Geometry::new`.
    unsafe { vnni::conv(win, &g, x, weight, rq, zp, y) };
    true
}

/// Max or average pooling without padding of a batch of `x.len() / (c · in_h · in_w)`
/// samples, as [`pool2d`](super::conv::pool2d) computes it when every window is inside
/// the input (then every window has `k_h · k_w` points), in loops without its per-point
/// checks: for each output row, each window point's input row is folded into the whole
/// output row at once. Returns `false` (and writes nothing) on the portable path (which
/// keeps `pool2d`), with padding, when a window reaches past the input, a length does not
/// match, or an output row is longer than 1 024 (the average's sums are on the stack).
#[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
pub(crate) fn pool(win: &super::conv::Window, max: bool, c: usize, x: &[i8], y: &mut [i8]) -> bool {
    use crate::kernels::{Path, path};
    const ROW: usize = 1024;
    let reach = |out: usize, s: usize, k: usize, d: usize, n: usize| {
        let last = out
            .checked_sub(1)
            .and_then(|o| o.checked_mul(s))
            .and_then(|v| v.checked_add(k.checked_sub(1)?.checked_mul(d)?));
        last.is_some_and(|l| l < n)
    };
    let plane = win.in_h.checked_mul(win.in_w);
    let out_plane = win.out_h.checked_mul(win.out_w);
    let (Some(ni), Some(no)) = (
        plane.and_then(|p| p.checked_mul(c)),
        out_plane.and_then(|p| p.checked_mul(c)),
    ) else {
        return false;
    };
    let count = win.k_h.saturating_mul(win.k_w);
    let ok = path() > Path::Portable
        && win.pad_top == 0
        && win.pad_left == 0
        && win.stride_h > 0
        && win.stride_w > 0
        && win.out_w <= ROW
        && (1..=i32::MAX as usize).contains(&count)
        && ni > 0
        && no > 0
        && x.len().is_multiple_of(ni)
        && (x.len() / ni).checked_mul(no) == Some(y.len())
        && reach(win.out_h, win.stride_h, win.k_h, win.dil_h, win.in_h)
        && reach(win.out_w, win.stride_w, win.k_w, win.dil_w, win.in_w);
    if !ok {
        return false;
    }
    let (plane, out_plane) = (ni / c, no / c);
    let mut sums = [0i32; ROW];
    for (xc, yc) in x.chunks_exact(plane).zip(y.chunks_exact_mut(out_plane)) {
        for oy in 0..win.out_h {
            let out = &mut yc[oy * win.out_w..(oy + 1) * win.out_w];
            let sums = &mut sums[..win.out_w];
            if max {
                out.fill(i8::MIN);
            } else {
                sums.fill(0);
            }
            for ky in 0..win.k_h {
                let iy = oy * win.stride_h + ky * win.dil_h;
                let row = &xc[iy * win.in_w..(iy + 1) * win.in_w];
                for kx in 0..win.k_w {
                    let points = row[kx * win.dil_w..].iter().step_by(win.stride_w);
                    if max {
                        for (d, &v) in out.iter_mut().zip(points) {
                            *d = (*d).max(v);
                        }
                    } else {
                        for (d, &v) in sums.iter_mut().zip(points) {
                            *d = d.wrapping_add(i32::from(v));
                        }
                    }
                }
            }
            if !max {
                let n = count as i32;
                for (d, &s) in out.iter_mut().zip(sums.iter()) {
                    // Half away from zero, as `pool2d`.
                    let v = if s > 0 {
                        (s + n / 2) / n
                    } else {
                        (s - n / 2) / n
                    };
                    *d = v.clamp(-128, 127) as i8;
                }
            }
        }
    }
    true
}

/// The sizes of [`conv2d`]'s arrays.
#[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
struct Geometry {
    /// Input channels.
    in_c: usize,
    /// Output channels.
    o: usize,
    /// Input channels rounded up to a multiple of 4.
    c4: usize,
    /// Groups of 4 weights per output channel (`k_h · k_w · c4 / 4`).
    groups: usize,
    /// Output positions per sample.
    positions: usize,
    /// The padded image's rows and columns.
    rows: usize,
    cols: usize,
}

#[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
impl Geometry {
    fn new(win: &super::conv::Window, in_c: usize, o: usize) -> Option<Self> {
        if o == 0 || in_c == 0 || win.stride_h == 0 || win.stride_w == 0 {
            return None;
        }
        let c4 = in_c.checked_next_multiple_of(4)?;
        let groups = win.k_h.checked_mul(win.k_w)?.checked_mul(c4 / 4)?;
        let positions = win.out_h.checked_mul(win.out_w)?;
        // The image spans every point a window reaches, padding before and after included.
        let reach = |out: usize, s: usize, k: usize, d: usize| -> Option<usize> {
            out.checked_sub(1)?
                .checked_mul(s)?
                .checked_add(k.checked_sub(1)?.checked_mul(d)?)?
                .checked_add(1)
        };
        let rows = reach(win.out_h, win.stride_h, win.k_h, win.dil_h)?
            .max(win.in_h.checked_add(win.pad_top)?);
        let cols = reach(win.out_w, win.stride_w, win.k_w, win.dil_w)?
            .max(win.in_w.checked_add(win.pad_left)?);
        let image = rows.checked_mul(cols)?.checked_mul(c4)?;
        let panel = o.div_ceil(16).checked_mul(groups)?.checked_mul(64)?;
        let fits = image <= IMAGE_BYTES && panel <= PANEL_BYTES && o <= MAX_CHANNELS;
        (positions > 0 && (1..=MAX_INPUTS).contains(&groups) && fits).then_some(Self {
            in_c,
            o,
            c4,
            groups,
            positions,
            rows,
            cols,
        })
    }
}

#[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
mod vnni {
    use super::{COLUMNS, MAX_INPUTS, Requant};
    use core::arch::x86_64::*;
    use core::mem::MaybeUninit;

    /// The per-channel constants of the requantisation of 16 channels, in 64-bit lanes:
    /// `e` for the even channels, `o` for the odd ones (each in the low half of its lane).
    struct Consts {
        q_e: __m512i,
        q_o: __m512i,
        /// Single rounding: `31 − shift`. Double: the right shift.
        s_e: __m512i,
        s_o: __m512i,
        /// Single rounding: `2^(30 − shift)`. Double: unused.
        r_e: __m512i,
        r_o: __m512i,
        /// Double rounding: the left shift, in 32-bit lanes.
        left: __m512i,
        zp: __m512i,
        min: __m512i,
        max: __m512i,
        double: bool,
    }

    /// `0xFFFF_FFFF` in each 64-bit lane.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    fn low32() -> __m512i {
        _mm512_set1_epi64(0xFFFF_FFFF)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    fn consts(rq: &Requant<'_>, r0: usize, mask: __mmask16) -> Consts {
        // SAFETY: the masked loads read lanes `r0..r0 + popcount(mask)`, within the slices
        // (`r0 + rows ≤ o`, their length).
        let (q, shift) = unsafe {
            (
                _mm512_maskz_loadu_epi32(mask, rq.multiplier.as_ptr().add(r0)),
                _mm512_maskz_loadu_epi32(mask, rq.shift.as_ptr().add(r0)),
            )
        };
        let (s, r, left) = if rq.double {
            let zero = _mm512_setzero_si512();
            let left = _mm512_min_epi32(_mm512_max_epi32(shift, zero), _mm512_set1_epi32(31));
            let right = _mm512_min_epi32(
                _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero),
                _mm512_set1_epi32(31),
            );
            (right, zero, left)
        } else {
            let shift = _mm512_min_epi32(
                _mm512_max_epi32(shift, _mm512_set1_epi32(-31)),
                _mm512_set1_epi32(30),
            );
            let total = _mm512_sub_epi32(_mm512_set1_epi32(31), shift);
            let half = _mm512_sub_epi32(total, _mm512_set1_epi32(1));
            (total, half, _mm512_setzero_si512())
        };
        let (s_e, s_o) = (_mm512_and_si512(s, low32()), _mm512_srli_epi64::<32>(s));
        let one = _mm512_set1_epi64(1);
        let (r_e, r_o) = if rq.double {
            (r, r)
        } else {
            (
                _mm512_sllv_epi64(one, _mm512_and_si512(r, low32())),
                _mm512_sllv_epi64(one, _mm512_srli_epi64::<32>(r)),
            )
        };
        Consts {
            q_e: q,
            q_o: _mm512_srli_epi64::<32>(q),
            s_e,
            s_o,
            r_e,
            r_o,
            left,
            zp: _mm512_set1_epi64(i64::from(rq.output_zero_point)),
            min: _mm512_set1_epi64(i64::from(rq.min)),
            max: _mm512_set1_epi64(i64::from(rq.max)),
            double: rq.double,
        }
    }

    /// The output of 16 channels (in the low dwords of the 64-bit lanes, even channels in
    /// `a`, odd ones in `b`) from their 32-bit accumulators, as
    /// [`fixed`](crate::quant::fixed) computes it one by one.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    fn half(a: __m512i, q: __m512i, s: __m512i, r: __m512i, c: &Consts) -> __m512i {
        let i32_min = _mm512_set1_epi64(i64::from(i32::MIN));
        let i32_max = _mm512_set1_epi64(i64::from(i32::MAX));
        let zero = _mm512_setzero_si512();
        let v = if c.double {
            // Saturating rounding doubling high multiply: `(a·q + nudge) / 2³¹`, truncating
            // towards zero; only `a = q = i32::MIN` exceeds `i32::MAX`.
            let ab = _mm512_mul_epi32(a, q);
            let neg = _mm512_cmplt_epi64_mask(ab, zero);
            let nudge = _mm512_mask_blend_epi64(
                neg,
                _mm512_set1_epi64(1 << 30),
                _mm512_set1_epi64(1 - (1 << 30)),
            );
            let t = _mm512_add_epi64(ab, nudge);
            let neg = _mm512_cmplt_epi64_mask(t, zero);
            let t = _mm512_mask_add_epi64(t, neg, t, _mm512_set1_epi64((1 << 31) - 1));
            let t = _mm512_min_epi64(_mm512_srai_epi64::<31>(t), i32_max);
            // Rounding divide by 2^s, ties away from zero.
            let mask = _mm512_sub_epi64(
                _mm512_sllv_epi64(_mm512_set1_epi64(1), s),
                _mm512_set1_epi64(1),
            );
            let rem = _mm512_and_si512(t, mask);
            let neg = _mm512_cmplt_epi64_mask(t, zero);
            let threshold = _mm512_mask_add_epi64(
                _mm512_srai_epi64::<1>(mask),
                neg,
                _mm512_srai_epi64::<1>(mask),
                _mm512_set1_epi64(1),
            );
            let up = _mm512_cmpgt_epi64_mask(rem, threshold);
            let v = _mm512_srav_epi64(t, s);
            _mm512_mask_add_epi64(v, up, v, _mm512_set1_epi64(1))
        } else {
            // `(a·q + 2^(s−1)) >> s` in 64 bits, saturated to `i32`.
            let v = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, q), r), s);
            _mm512_min_epi64(_mm512_max_epi64(v, i32_min), i32_max)
        };
        // `+ zp` saturating, then max and min: the range is within int8, so the sum in 64
        // bits clamped to it is the same.
        let v = _mm512_max_epi64(_mm512_add_epi64(v, c.zp), c.min);
        _mm512_min_epi64(v, c.max)
    }

    /// Requantises 16 accumulators into 16 bytes.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    fn requantize(acc: __m512i, c: &Consts) -> __m128i {
        let acc = if c.double {
            _mm512_sllv_epi32(acc, c.left)
        } else {
            acc
        };
        let e = half(acc, c.q_e, c.s_e, c.r_e, c);
        let o = half(_mm512_srli_epi64::<32>(acc), c.q_o, c.s_o, c.r_o, c);
        let v = _mm512_mask_blend_epi32(0xAAAA, e, _mm512_slli_epi64::<32>(o));
        _mm512_cvtepi32_epi8(v)
    }

    /// The four bytes of a column at `k` (`k + 4 ≤ i`) as one `i32`, or the last `i % 4`
    /// bytes padded with zeros (a masked load, which reads only the bytes it keeps).
    ///
    /// # Safety
    ///
    /// `col` points to `i` readable bytes and `k < i`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn quad(col: *const i8, k: usize, i: usize) -> i32 {
        if k + 4 <= i {
            // SAFETY: `k + 4 ≤ i`.
            unsafe { col.add(k).cast::<i32>().read_unaligned() }
        } else {
            let m: __mmask16 = (1u16 << (i - k)) - 1;
            // SAFETY: the mask keeps bytes `k..i`, which are readable.
            _mm_cvtsi128_si32(unsafe { _mm_maskz_loadu_epi8(m, col.add(k)) })
        }
    }

    /// `Σ_k x[k]` of a column of `i` bytes, wrapping.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    fn column_sum(col: &[i8]) -> i32 {
        let flip = _mm512_set1_epi8(-128);
        let mut acc = _mm512_setzero_si512();
        let mut k = 0;
        while k < col.len() {
            let m: __mmask64 = if col.len() - k >= 64 {
                !0
            } else {
                (1u64 << (col.len() - k)) - 1
            };
            // SAFETY: the mask covers bytes `k..col.len()` at most.
            let v = unsafe { _mm512_maskz_loadu_epi8(m, col.as_ptr().add(k)) };
            // `x + 128` as unsigned bytes, summed in eight 64-bit lanes.
            let v = masked_flip(m, v, flip);
            acc = _mm512_add_epi64(acc, _mm512_sad_epu8(v, _mm512_setzero_si512()));
            k += 64;
        }
        let s = _mm512_reduce_add_epi64(acc);
        (s as i32).wrapping_sub((col.len() as i32).wrapping_mul(128))
    }

    /// `v ^ flip` in the bytes of `m`, zero elsewhere.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    fn masked_flip(m: __mmask64, v: __m512i, flip: __m512i) -> __m512i {
        _mm512_maskz_mov_epi8(m, _mm512_xor_si512(v, flip))
    }

    /// See [`super::linear`].
    ///
    /// # Safety
    ///
    /// The CPU runs AVX-512 F, BW, VL and VNNI; `0 < i ≤ MAX_INPUTS`, `w.len() = o · i`,
    /// `x.len() = n · i`, the requantisation's slices hold `o` values; output `r` of column
    /// `b` goes to `y[b · strides.0 + r · strides.1]`, within `y`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(super) unsafe fn linear(
        w: &[i8],
        x: &[i8],
        zp: i32,
        rq: &Requant<'_>,
        y: &mut [i8],
        i: usize,
        o: usize,
        n: usize,
        strides: (usize, usize),
    ) {
        let groups = i.div_ceil(4);
        let full = i / 4;
        let mut panel = [MaybeUninit::<__m512i>::uninit(); MAX_INPUTS / 4];
        let mut sums = [0i32; COLUMNS];
        // `128·zp·I`, wrapping.
        let zp_i = (zp.wrapping_mul(128)).wrapping_mul(i as i32);
        let flip = _mm512_set1_epi32(0x8080_8080u32 as i32);
        let ones = _mm512_set1_epi32(0x0101_0101);
        let offsets = _mm512_mullo_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32(i as i32),
        );
        let mut b0 = 0;
        while b0 < n {
            let nb = (n - b0).min(COLUMNS);
            for (c, s) in sums.iter_mut().enumerate().take(nb) {
                let k = (b0 + c) * i;
                *s = column_sum(&x[k..k + i]).wrapping_mul(128);
            }
            let mut r0 = 0;
            while r0 < o {
                let rows = (o - r0).min(16);
                let mask: __mmask16 = ((1u32 << rows) - 1) as u16;
                // Pack: lane r of entry g holds `w[r0 + r][4g..4g + 4] ^ 0x80`; the padding
                // (rows past `o`, inputs past `i`) is 0, which adds nothing.
                let mut usum = _mm512_setzero_si512();
                let base = w[r0 * i..].as_ptr();
                for (g, slot) in panel.iter_mut().enumerate().take(full) {
                    // SAFETY: lane r reads `w[(r0 + r)·i + 4g..+4]`, within `w` for the
                    // rows of the mask (`r0 + r < o`, `4g + 4 ≤ i`).
                    let v = unsafe {
                        _mm512_mask_i32gather_epi32::<1>(
                            _mm512_setzero_si512(),
                            mask,
                            offsets,
                            base.add(4 * g).cast(),
                        )
                    };
                    let v = _mm512_maskz_xor_epi32(mask, v, flip);
                    usum = _mm512_dpbusd_epi32(usum, v, ones);
                    slot.write(v);
                }
                if groups > full {
                    let mut lanes = [0i32; 16];
                    for (r, l) in lanes.iter_mut().enumerate().take(rows) {
                        // SAFETY: row `r0 + r` has `i` bytes; `4·full < i`.
                        let q = unsafe { quad(w[(r0 + r) * i..].as_ptr(), 4 * full, i) };
                        // Flip only the bytes that are weights: the padding stays 0.
                        let real = (1u64 << (8 * (i - 4 * full))) - 1;
                        *l = ((q as u32) ^ (0x8080_8080 & real as u32)) as i32;
                    }
                    // SAFETY: 16 `i32` in a local array.
                    let v = unsafe { _mm512_loadu_si512(lanes.as_ptr().cast()) };
                    usum = _mm512_dpbusd_epi32(usum, v, ones);
                    panel[full].write(v);
                }
                // SAFETY: entries `0..groups` were written above.
                let panel: &[__m512i] =
                    unsafe { core::slice::from_raw_parts(panel.as_ptr().cast(), groups) };
                // `b − zp·Σu + 128·zp·I` per channel.
                // SAFETY: the mask covers `r0..r0 + rows ≤ o`.
                let bias = unsafe { _mm512_maskz_loadu_epi32(mask, rq.bias.as_ptr().add(r0)) };
                let base = _mm512_add_epi32(
                    _mm512_sub_epi32(bias, _mm512_mullo_epi32(usum, _mm512_set1_epi32(zp))),
                    _mm512_set1_epi32(zp_i),
                );
                let c = consts(rq, r0, mask);
                let mut b = 0;
                while b < nb {
                    let t = Tile {
                        panel,
                        x,
                        i,
                        base,
                        sums: &sums[b..],
                        c: &c,
                        mask,
                        r0,
                        strides,
                        rows,
                        b: b0 + b,
                    };
                    // SAFETY: the CPU runs this function's features (the caller's); the
                    // tile's columns `b0 + b .. b0 + b + C` exist (`C ≤ nb − b`, the match)
                    // and the lengths are `linear`'s.
                    b += match nb - b {
                        1 => unsafe { t.run::<1>(y) },
                        2 => unsafe { t.run::<2>(y) },
                        3 => unsafe { t.run::<3>(y) },
                        4 => unsafe { t.run::<4>(y) },
                        5 => unsafe { t.run::<5>(y) },
                        6 => unsafe { t.run::<6>(y) },
                        7 => unsafe { t.run::<7>(y) },
                        _ => unsafe { t.run::<8>(y) },
                    };
                }
                r0 += 16;
            }
            b0 += nb;
        }
    }

    /// See [`super::conv2d`].
    ///
    /// # Safety
    ///
    /// The CPU runs AVX-512 F, BW, VL and VNNI; `g` is `win`'s geometry, and the lengths
    /// match it as [`super::conv2d`] checks.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(super) unsafe fn conv(
        win: &crate::quant::conv::Window,
        g: &super::Geometry,
        x: &[i8],
        weight: &[i8],
        rq: &Requant<'_>,
        zp: i32,
        y: &mut [i8],
    ) {
        use super::{IMAGE_BYTES, MAX_CHANNELS, PANEL_BYTES};
        let (in_c, kernel) = (g.in_c, win.k_h * win.k_w);
        let (ni, no) = (in_c * win.in_h * win.in_w, g.o * g.positions);
        let tiles = g.o.div_ceil(16);
        // Pack the weights, signed: lane r of group (ky, kx, c4) of tile t holds
        // `w[16t + r][4·c4..4·c4 + 4][ky][kx]` (0 past the channels); and `Σ w` per channel.
        let used = tiles * g.groups * 16;
        let mut buffer = [MaybeUninit::<u32>::uninit(); PANEL_BYTES / 4];
        for v in &mut buffer[..used] {
            v.write(0);
        }
        // SAFETY: the first `used` lanes were written just above.
        let panel: &mut [u32] =
            unsafe { core::slice::from_raw_parts_mut(buffer.as_mut_ptr().cast(), used) };
        let mut wsum = [0i32; MAX_CHANNELS];
        let cg = g.c4 / 4;
        let zeros = [0i8; MAX_INPUTS];
        for o in 0..g.o {
            let (t, r) = (o / 16, o % 16);
            let w_o = &weight[o * in_c * kernel..(o + 1) * in_c * kernel];
            wsum[o] = w_o.iter().map(|&v| i32::from(v)).sum();
            let lanes = &mut panel[t * g.groups * 16..(t + 1) * g.groups * 16];
            // Channels `4·c4..4·c4 + 4` of each kernel point: one lane of group
            // `point · c4s + c4` (channels past `in_c` are zero weights).
            for c4 in 0..cg {
                let ch = |j: usize| {
                    let c = 4 * c4 + j;
                    if c < in_c {
                        &w_o[c * kernel..(c + 1) * kernel]
                    } else {
                        &zeros[..kernel]
                    }
                };
                let (a, b, c, d) = (ch(0), ch(1), ch(2), ch(3));
                let dst = lanes[c4 * 16 + r..].iter_mut().step_by(cg * 16);
                for ((((l, &a), &b), &c), &d) in dst.zip(a).zip(b).zip(c).zip(d) {
                    *l = u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]);
                }
            }
        }
        // The offset of each group from a window's corner in the image (`[row][col][c4]`).
        let mut offsets = [0u32; super::MAX_INPUTS];
        let mut k = 0;
        for ky in 0..win.k_h {
            for kx in 0..win.k_w {
                for c4 in 0..g.c4 / 4 {
                    offsets[k] =
                        ((ky * win.dil_h * g.cols + kx * win.dil_w) * g.c4 + 4 * c4) as u32;
                    k += 1;
                }
            }
        }
        let pad = ((zp as i8) as u8 ^ 0x80) as i8;
        let pixels = g.rows * g.cols * g.c4;
        let mut buffer = [MaybeUninit::<i8>::uninit(); IMAGE_BYTES];
        for v in &mut buffer[..pixels] {
            v.write(pad);
        }
        // SAFETY: the first `pixels` bytes were written just above.
        let image: &mut [i8] =
            unsafe { core::slice::from_raw_parts_mut(buffer.as_mut_ptr().cast(), pixels) };
        for (xs, ys) in x.chunks_exact(ni).zip(y.chunks_exact_mut(no)) {
            // The sample, channel-last, `x + 128`, inside its padding (already `pad`: the
            // inside is overwritten by each sample, the padding never).
            for c in 0..in_c {
                let plane = &xs[c * win.in_h * win.in_w..(c + 1) * win.in_h * win.in_w];
                for iy in 0..win.in_h {
                    let at = ((iy + win.pad_top) * g.cols + win.pad_left) * g.c4 + c;
                    let dst = image[at..].iter_mut().step_by(g.c4);
                    for (d, &v) in dst.zip(&plane[iy * win.in_w..(iy + 1) * win.in_w]) {
                        *d = ((v as u8) ^ 0x80) as i8;
                    }
                }
            }
            for t in 0..tiles {
                let r0 = t * 16;
                let rows = (g.o - r0).min(16);
                let mask: __mmask16 = ((1u32 << rows) - 1) as u16;
                // SAFETY: the masked loads read channels `r0..r0 + rows`, within the slices.
                let (bias, sum) = unsafe {
                    (
                        _mm512_maskz_loadu_epi32(mask, rq.bias.as_ptr().add(r0)),
                        _mm512_maskz_loadu_epi32(mask, wsum.as_ptr().add(r0)),
                    )
                };
                let base = _mm512_sub_epi32(
                    bias,
                    _mm512_mullo_epi32(sum, _mm512_set1_epi32(zp.wrapping_add(128))),
                );
                let c = consts(rq, r0, mask);
                let w = &panel[t * g.groups * 16..(t + 1) * g.groups * 16];
                let mut p = 0;
                while p < g.positions {
                    let t = ConvTile {
                        panel: w,
                        offsets: &offsets[..g.groups],
                        image,
                        win,
                        cols: g.cols,
                        c4: g.c4,
                        base,
                        c: &c,
                        r0,
                        rows,
                        positions: g.positions,
                        p,
                    };
                    // SAFETY: the CPU runs this function's features (the caller's);
                    // positions `p .. p + C` exist (`C ≤ positions − p`, the match), and
                    // `conv`'s lengths and image hold.
                    p += match g.positions - p {
                        1 => unsafe { t.run::<1>(ys) },
                        2 => unsafe { t.run::<2>(ys) },
                        3 => unsafe { t.run::<3>(ys) },
                        4 => unsafe { t.run::<4>(ys) },
                        5 => unsafe { t.run::<5>(ys) },
                        6 => unsafe { t.run::<6>(ys) },
                        7 => unsafe { t.run::<7>(ys) },
                        _ => unsafe { t.run::<8>(ys) },
                    };
                }
            }
        }
    }

    /// One tile of a convolution: 16 output channels by `C` output positions.
    struct ConvTile<'a> {
        panel: &'a [u32],
        offsets: &'a [u32],
        image: &'a [i8],
        win: &'a crate::quant::conv::Window,
        cols: usize,
        c4: usize,
        base: __m512i,
        c: &'a Consts,
        r0: usize,
        rows: usize,
        positions: usize,
        /// The first position.
        p: usize,
    }

    impl ConvTile<'_> {
        /// Positions `p..p + C` of the 16 channels; returns `C`.
        ///
        /// # Safety
        ///
        /// As [`conv`]; positions `p..p + C` exist.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
        unsafe fn run<const C: usize>(&self, y: &mut [i8]) -> usize {
            let w = self.win;
            let corner: [usize; C] = core::array::from_fn(|c| {
                let (oy, ox) = ((self.p + c) / w.out_w, (self.p + c) % w.out_w);
                (oy * w.stride_h * self.cols + ox * w.stride_w) * self.c4
            });
            let mut acc = [self.base; C];
            for (k, &off) in self.offsets.iter().enumerate() {
                // SAFETY: group `k` of the tile's panel (`groups · 16` lanes).
                let wv = unsafe { _mm512_loadu_si512(self.panel.as_ptr().add(16 * k).cast()) };
                for (a, &at) in acc.iter_mut().zip(&corner) {
                    // SAFETY: a window's points are inside the image (its size covers the
                    // reach of every window), and 4 bytes from a group's offset are channels
                    // of one point (`c4` is a multiple of 4).
                    let xv = unsafe {
                        self.image
                            .as_ptr()
                            .add(at + off as usize)
                            .cast::<i32>()
                            .read_unaligned()
                    };
                    *a = _mm512_dpbusd_epi32(*a, _mm512_set1_epi32(xv), wv);
                }
            }
            for (c, a) in acc.into_iter().enumerate() {
                let v = requantize(a, self.c);
                let mut bytes = [0i8; 16];
                // SAFETY: 16 bytes into a local array.
                unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), v) };
                for (r, &b) in bytes.iter().enumerate().take(self.rows) {
                    y[(self.r0 + r) * self.positions + self.p + c] = b;
                }
            }
            C
        }
    }

    /// One tile: 16 output channels (a packed panel) by `C` columns.
    struct Tile<'a> {
        panel: &'a [__m512i],
        x: &'a [i8],
        i: usize,
        base: __m512i,
        /// `128 · Σ x` of the tile's columns.
        sums: &'a [i32],
        c: &'a Consts,
        mask: __mmask16,
        r0: usize,
        /// Where outputs go: `y[b · strides.0 + r · strides.1]`.
        strides: (usize, usize),
        /// Channels of the tile (`r0..r0 + rows`).
        rows: usize,
        /// The first column.
        b: usize,
    }

    impl Tile<'_> {
        /// Columns `b..b + C` of the 16 channels; returns `C`.
        ///
        /// # Safety
        ///
        /// As [`linear`], and columns `b..b + C` exist.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
        unsafe fn run<const C: usize>(&self, y: &mut [i8]) -> usize {
            let i = self.i;
            let x0 = self.x[self.b * i..].as_ptr();
            let mut acc = [self.base; C];
            for (a, &s) in acc.iter_mut().zip(self.sums) {
                *a = _mm512_sub_epi32(*a, _mm512_set1_epi32(s));
            }
            let full = i / 4;
            for (g, &wv) in self.panel[..full].iter().enumerate() {
                for (c, a) in acc.iter_mut().enumerate() {
                    // SAFETY: `4g + 4 ≤ i`: inside column `b + c`.
                    let xv = unsafe { x0.add(c * i + 4 * g).cast::<i32>().read_unaligned() };
                    *a = _mm512_dpbusd_epi32(*a, wv, _mm512_set1_epi32(xv));
                }
            }
            if self.panel.len() > full {
                let wv = self.panel[full];
                for (c, a) in acc.iter_mut().enumerate() {
                    // SAFETY: the column has `i` bytes and `4·full < i`.
                    let xv = unsafe { quad(x0.add(c * i), 4 * full, i) };
                    *a = _mm512_dpbusd_epi32(*a, wv, _mm512_set1_epi32(xv));
                }
            }
            for (c, a) in acc.into_iter().enumerate() {
                let v = requantize(a, self.c);
                let (cs, rs) = self.strides;
                let at = (self.b + c) * cs + self.r0 * rs;
                if rs == 1 {
                    // SAFETY: the mask covers channels `r0..r0 + rows` of column `b + c`,
                    // which are in `y`.
                    unsafe { _mm_mask_storeu_epi8(y[at..].as_mut_ptr(), self.mask, v) };
                } else {
                    // Channel-first outputs (a convolution's): one byte per channel.
                    let mut bytes = [0i8; 16];
                    // SAFETY: 16 bytes into a local array.
                    unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), v) };
                    for (r, &b) in bytes.iter().enumerate().take(self.rows) {
                        y[at + r * rs] = b;
                    }
                }
            }
            C
        }
    }
}

#[cfg(all(test, target_arch = "x86_64", not(staticnn_portable)))]
mod tests {
    use super::*;
    use crate::quant::fixed::{
        multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_double_rounding,
    };

    /// The reference loop: one output at a time, 32-bit wrapping products, the scalar
    /// requantisation of `fixed`.
    #[allow(clippy::too_many_arguments)]
    fn reference(w: &[i8], x: &[i8], zp: i32, rq: &Requant<'_>, y: &mut [i8], i: usize, o: usize) {
        for b in 0..x.len() / i {
            for r in 0..o {
                let mut acc = rq.bias[r];
                for k in 0..i {
                    let d = i32::from(x[b * i + k]).wrapping_sub(zp);
                    acc = acc.wrapping_add(i32::from(w[r * i + k]).wrapping_mul(d));
                }
                let v = if rq.double {
                    multiply_by_quantized_multiplier_double_rounding(
                        acc,
                        rq.multiplier[r],
                        rq.shift[r],
                    )
                } else {
                    multiply_by_quantized_multiplier(acc, rq.multiplier[r], rq.shift[r])
                };
                let v = v.saturating_add(rq.output_zero_point);
                y[b * o + r] = v.max(i32::from(rq.min)).min(i32::from(rq.max)) as i8;
            }
        }
    }

    /// The VNNI kernels give the reference's integers on every edge: inputs not a multiple
    /// of 4 or of 64, channels not a multiple of 16, one to past eight columns and past a
    /// chunk of column sums, any zero point, multipliers and shifts at their extremes
    /// (negative, out of range), extreme biases, empty and int8-wide output ranges, both
    /// roundings. Needs a CPU with AVX-512 VNNI: elsewhere it says so and checks nothing.
    #[test]
    fn vnni_is_the_reference_loop() {
        if !vnni() {
            std::println!("no AVX-512 VNNI on this path or CPU: nothing to compare");
            return;
        }
        let mut seed = 29u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i32
        };
        let shapes = [
            (1, 1, 1),
            (3, 5, 2),
            (4, 16, 8),
            (5, 17, 9),
            (63, 10, 32),
            (64, 64, 32),
            (65, 33, 7),
            (72, 8, 300),
            (130, 31, 13),
            (1024, 3, 2),
        ];
        let mut compared = 0;
        for (case, &(i, o, n)) in shapes.iter().cycle().take(shapes.len() * 6).enumerate() {
            let w: std::vec::Vec<i8> = (0..o * i).map(|_| next() as i8).collect();
            let mut x: std::vec::Vec<i8> = (0..n * i).map(|_| next() as i8).collect();
            x[0] = -128;
            let zp = [-128, 0, 127, 5, i32::MIN, i32::MAX][case % 6];
            let bias: std::vec::Vec<i32> = (0..o)
                .map(|r| match r % 5 {
                    0 => i32::MAX - next() % 4,
                    1 => i32::MIN + next() % 4,
                    _ => next() % 200_000 - 100_000,
                })
                .collect();
            let multiplier: std::vec::Vec<i32> = (0..o)
                .map(|r| match r % 7 {
                    0 => i32::MIN,
                    1 => i32::MAX,
                    2 => -(next() % (1 << 30)),
                    _ => (1 << 30) + next() % (1 << 30),
                })
                .collect();
            let shift: std::vec::Vec<i32> = (0..o)
                .map(|r| match r % 6 {
                    0 => 40,
                    1 => -40,
                    2 => i32::MIN,
                    3 => 30,
                    _ => -(next() % 20),
                })
                .collect();
            for double in [false, true] {
                for (min, max) in [(-128, 127), (-20, 100), (5, -5)] {
                    let rq = Requant {
                        bias: &bias,
                        multiplier: &multiplier,
                        shift: &shift,
                        output_zero_point: [0, -128, 127, i32::MAX][case % 4],
                        min,
                        max,
                        double,
                    };
                    let mut expected = std::vec![0i8; n * o];
                    reference(&w, &x, zp, &rq, &mut expected, i, o);
                    let mut y = std::vec![0x55i8; n * o];
                    assert!(linear(&w, &x, zp, &rq, &mut y, i, o));
                    assert_eq!(y, expected, "i={i} o={o} n={n} zp={zp} double={double}");
                    compared += y.len();
                }
            }
        }
        assert!(compared > 100_000);
        // Too many inputs, or lengths that do not match: not taken, nothing written.
        let rq = Requant {
            bias: &[0],
            multiplier: &[1 << 30],
            shift: &[0],
            output_zero_point: 0,
            min: -128,
            max: 127,
            double: false,
        };
        let mut y = [7i8; 1];
        assert!(!linear(&[0; 1025], &[0; 1025], 0, &rq, &mut y, 1025, 1));
        assert!(!linear(&[0; 4], &[0; 4], 0, &rq, &mut y[..0], 4, 1));
        assert_eq!(y, [7]);
    }

    /// The pooling loops give `conv::pool2d`'s integers (max and average, strides,
    /// dilation, windows that do not tile the input, one to three samples), and leave the
    /// padded geometries to it.
    #[test]
    fn pooling_is_the_reference() {
        use crate::quant::conv::{Pool, Window, pool2d};
        if crate::kernels::path() == crate::kernels::Path::Portable {
            std::println!("portable path: pool2d itself runs");
            return;
        }
        let mut seed = 37u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i8
        };
        // (channels, in_h, in_w, kernel, stride, dilation)
        for (c, h, w, k, s, d) in [
            (32, 8, 8, 2, 2, 1),
            (3, 7, 9, 2, 2, 1),
            (5, 9, 6, 3, 1, 1),
            (2, 10, 11, 3, 2, 2),
            (1, 4, 4, 4, 4, 1),
        ] {
            let out = |n: usize| (n - d * (k - 1) - 1) / s + 1;
            let win = Window {
                in_h: h,
                in_w: w,
                out_h: out(h),
                out_w: out(w),
                k_h: k,
                k_w: k,
                stride_h: s,
                stride_w: s,
                pad_top: 0,
                pad_left: 0,
                dil_h: d,
                dil_w: d,
            };
            let (ni, no) = (c * h * w, c * out(h) * out(w));
            for samples in 1..=3 {
                let x: std::vec::Vec<i8> = (0..samples * ni).map(|_| next()).collect();
                for kind in [Pool::Max, Pool::Average] {
                    let mut expected = std::vec![0i8; samples * no];
                    for (xs, ys) in x.chunks_exact(ni).zip(expected.chunks_exact_mut(no)) {
                        pool2d(&win, kind, c, xs, (-128, 127), ys).unwrap();
                    }
                    let mut y = std::vec![0x55i8; samples * no];
                    assert!(pool(&win, kind == Pool::Max, c, &x, &mut y));
                    assert_eq!(y, expected, "{kind:?} c={c} {h}x{w} k={k} s={s} d={d}");
                }
            }
            let padded = Window { pad_top: 1, ..win };
            let mut y = std::vec![0i8; no];
            assert!(!pool(&padded, true, c, &std::vec![0; ni], &mut y));
        }
    }

    /// A window with no input rows or columns (a hand-edited `QConv2d::window`: its windows
    /// see only padding) is declined, on every CPU, without a panic: the sample size is 0,
    /// and the batch is not divided by it.
    #[test]
    fn empty_input_window_is_declined() {
        use crate::quant::conv::Window;
        let (bias, multiplier, shift) = ([7i32; 2], [1i32 << 30; 2], [0i32; 2]);
        let rq = Requant {
            bias: &bias,
            multiplier: &multiplier,
            shift: &shift,
            output_zero_point: 0,
            min: -128,
            max: 127,
            double: true,
        };
        for (in_h, in_w) in [(0, 4), (4, 0), (0, 0)] {
            let win = Window {
                in_h,
                in_w,
                out_h: 2,
                out_w: 2,
                k_h: 1,
                k_w: 1,
                stride_h: 1,
                stride_w: 1,
                pad_top: 1,
                pad_left: 1,
                dil_h: 1,
                dil_w: 1,
            };
            let mut y = [0x55i8; 8];
            assert!(!conv2d(&win, 3, &[], &[1i8; 6], &rq, 0, &mut y));
            assert!(y.iter().all(|&v| v == 0x55));
        }
    }

    /// The same on windows that are not square: rows and columns of different sizes,
    /// kernels, strides, paddings and dilations; padding after the input on one side only;
    /// a one-column input; a single output position. One sample, then a batch of two.
    #[test]
    fn vnni_rectangular_convolution_is_the_reference() {
        use crate::quant::conv::{Requantize, Window, conv2d as reference_conv};
        if !vnni() {
            std::println!("no AVX-512 VNNI on this path or CPU: nothing to compare");
            return;
        }
        let mut seed = 37u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i32
        };
        let win = |(in_h, in_w),
                   (k_h, k_w),
                   (stride_h, stride_w),
                   (pad_top, pad_left),
                   (dil_h, dil_w)| {
            // The output the padding before implies with as much padding after (TensorFlow
            // Lite's SAME), at least one position.
            let out = |n: usize, k: usize, s: usize, p: usize, d: usize| {
                (n + 2 * p).saturating_sub(d * (k - 1) + 1) / s + 1
            };
            Window {
                in_h,
                in_w,
                out_h: out(in_h, k_h, stride_h, pad_top, dil_h),
                out_w: out(in_w, k_w, stride_w, pad_left, dil_w),
                k_h,
                k_w,
                stride_h,
                stride_w,
                pad_top,
                pad_left,
                dil_h,
                dil_w,
            }
        };
        // (in_c, out_c, window)
        let cases = [
            (5, 20, win((5, 11), (2, 3), (1, 2), (0, 1), (2, 1))),
            (3, 2, win((6, 1), (3, 1), (1, 1), (1, 0), (1, 1))),
            (7, 33, win((9, 4), (1, 4), (3, 1), (0, 2), (1, 1))),
            (4, 16, win((3, 3), (3, 3), (1, 1), (0, 0), (1, 1))),
            (2, 9, win((4, 13), (3, 2), (2, 3), (2, 0), (1, 3))),
        ];
        for (case, &(ci, co, win)) in cases.iter().enumerate() {
            let (ni, no) = (ci * win.in_h * win.in_w, co * win.out_h * win.out_w);
            let x: std::vec::Vec<i8> = (0..2 * ni).map(|_| next() as i8).collect();
            let w: std::vec::Vec<i8> = (0..co * ci * win.k_h * win.k_w)
                .map(|_| next() as i8)
                .collect();
            let bias: std::vec::Vec<i32> = (0..co).map(|_| next() % 100_000).collect();
            let multiplier: std::vec::Vec<i32> =
                (0..co).map(|_| (1 << 30) + next() % (1 << 30)).collect();
            let shift: std::vec::Vec<i32> = (0..co).map(|_| -(next() % 14)).collect();
            for zp in [-128, 3, 127] {
                let rq = Requantize {
                    bias: &bias,
                    multiplier: &multiplier,
                    shift: &shift,
                    input_zero_point: zp,
                    output_zero_point: next() % 30,
                    min: -120,
                    max: 127,
                };
                let mut expected = std::vec![0i8; 2 * no];
                for (xs, ys) in x.chunks_exact(ni).zip(expected.chunks_exact_mut(no)) {
                    reference_conv(&win, ci, xs, &w, &rq, ys).unwrap();
                }
                let vq = Requant {
                    bias: &bias,
                    multiplier: &multiplier,
                    shift: &shift,
                    output_zero_point: rq.output_zero_point,
                    min: rq.min,
                    max: rq.max,
                    double: true,
                };
                let mut y = std::vec![0x55i8; no];
                assert!(
                    conv2d(&win, ci, &x[..ni], &w, &vq, zp, &mut y),
                    "case {case}"
                );
                assert_eq!(y, expected[..no], "case {case} zp={zp}: {win:?}");
                let mut ys = std::vec![0x55i8; 2 * no];
                assert!(conv2d(&win, ci, &x, &w, &vq, zp, &mut ys), "case {case}");
                assert_eq!(ys, expected, "case {case} zp={zp}, batch of 2: {win:?}");
            }
        }
    }

    /// The VNNI convolution at the limits of its stack arrays: the packed weights exactly
    /// [`PANEL_BYTES`] (2 048 input channels, one tile of 16 outputs), [`MAX_CHANNELS`]
    /// outputs, an image of exactly [`IMAGE_BYTES`]: taken, and `conv::conv2d`'s integers;
    /// one step past each: declined, nothing written.
    #[test]
    fn vnni_convolution_at_its_limits() {
        use crate::quant::conv::{Requantize, Window, conv2d as reference_conv};
        if !vnni() {
            std::println!("no AVX-512 VNNI on this path or CPU: nothing to compare");
            return;
        }
        let mut seed = 41u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i32
        };
        let square = |n: usize, k: usize| Window {
            in_h: n,
            in_w: n,
            out_h: n + 1 - k,
            out_w: n + 1 - k,
            k_h: k,
            k_w: k,
            stride_h: 1,
            stride_w: 1,
            pad_top: 0,
            pad_left: 0,
            dil_h: 1,
            dil_w: 1,
        };
        // (in_c, out_c, window, taken)
        let cases = [
            (2048, 16, square(2, 1), true),
            (2052, 16, square(2, 1), false),
            (2048, 17, square(2, 1), false),
            (3, 1024, square(4, 1), true),
            (3, 1025, square(4, 1), false),
            (4, 4, square(64, 3), true),
            (
                4,
                4,
                Window {
                    in_w: 65,
                    out_w: 63,
                    ..square(64, 3)
                },
                false,
            ),
        ];
        for (ci, co, win, taken) in cases {
            let (ni, no) = (ci * win.in_h * win.in_w, co * win.out_h * win.out_w);
            let x: std::vec::Vec<i8> = (0..ni).map(|_| next() as i8).collect();
            let w: std::vec::Vec<i8> = (0..co * ci * win.k_h * win.k_w)
                .map(|_| next() as i8)
                .collect();
            let bias: std::vec::Vec<i32> = (0..co).map(|_| next() % 100_000).collect();
            let multiplier: std::vec::Vec<i32> =
                (0..co).map(|_| (1 << 30) + next() % (1 << 30)).collect();
            let shift: std::vec::Vec<i32> = (0..co).map(|_| -(8 + next() % 6)).collect();
            let rq = Requantize {
                bias: &bias,
                multiplier: &multiplier,
                shift: &shift,
                input_zero_point: -3,
                output_zero_point: 2,
                min: -128,
                max: 127,
            };
            let vq = Requant {
                bias: &bias,
                multiplier: &multiplier,
                shift: &shift,
                output_zero_point: 2,
                min: -128,
                max: 127,
                double: true,
            };
            let mut y = std::vec![0x55i8; no];
            assert_eq!(
                conv2d(&win, ci, &x, &w, &vq, -3, &mut y),
                taken,
                "{ci} → {co}: {win:?}"
            );
            if taken {
                let mut expected = std::vec![0i8; no];
                reference_conv(&win, ci, &x, &w, &rq, &mut expected).unwrap();
                assert_eq!(y, expected, "{ci} → {co}: {win:?}");
            } else {
                assert!(y.iter().all(|&v| v == 0x55));
            }
        }
    }

    /// The VNNI convolution gives `conv::conv2d`'s integers: padding (the input's zero
    /// point), strides, dilation, one to 40 channels in and out (not multiples of 4 or 16),
    /// one sample and a batch.
    #[test]
    fn vnni_convolution_is_the_reference() {
        use crate::quant::conv::{Requantize, Window, conv2d as reference_conv};
        if !vnni() {
            std::println!("no AVX-512 VNNI on this path or CPU: nothing to compare");
            return;
        }
        let mut seed = 31u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i32
        };
        // (in_c, out_c, size, kernel, stride, padding, dilation)
        let cases = [
            (1, 16, 8, 3, 1, 1, 1),
            (16, 32, 8, 3, 1, 1, 1),
            (3, 5, 9, 2, 2, 0, 1),
            (2, 17, 7, 3, 2, 2, 2),
            (40, 3, 5, 1, 1, 0, 1),
            (1, 6, 28, 5, 1, 2, 1),
            (20, 4, 20, 3, 1, 1, 1),
            (20, 4, 30, 3, 1, 1, 1),
        ];
        for (case, &(ci, co, n, k, stride, pad, dil)) in cases.iter().enumerate() {
            let out = (n + 2 * pad - dil * (k - 1) - 1) / stride + 1;
            let win = Window {
                in_h: n,
                in_w: n,
                out_h: out,
                out_w: out,
                k_h: k,
                k_w: k,
                stride_h: stride,
                stride_w: stride,
                pad_top: pad,
                pad_left: pad,
                dil_h: dil,
                dil_w: dil,
            };
            let x: std::vec::Vec<i8> = (0..ci * n * n).map(|_| next() as i8).collect();
            let x2: std::vec::Vec<i8> = (0..ci * n * n).map(|_| next() as i8).collect();
            let w: std::vec::Vec<i8> = (0..co * ci * k * k).map(|_| next() as i8).collect();
            let bias: std::vec::Vec<i32> = (0..co).map(|_| next() % 100_000).collect();
            let multiplier: std::vec::Vec<i32> =
                (0..co).map(|_| (1 << 30) + next() % (1 << 30)).collect();
            let shift: std::vec::Vec<i32> = (0..co).map(|_| -(next() % 14)).collect();
            for zp in [-128, 0, 127, -7 + case as i32] {
                let rq = Requantize {
                    bias: &bias,
                    multiplier: &multiplier,
                    shift: &shift,
                    input_zero_point: zp,
                    output_zero_point: next() % 30,
                    min: -100,
                    max: 110,
                };
                let mut expected = std::vec![0i8; co * out * out];
                reference_conv(&win, ci, &x, &w, &rq, &mut expected).unwrap();
                let vq = Requant {
                    bias: &bias,
                    multiplier: &multiplier,
                    shift: &shift,
                    output_zero_point: rq.output_zero_point,
                    min: rq.min,
                    max: rq.max,
                    double: true,
                };
                // One sample, then a batch of three (the image's padding kept between).
                let mut y = std::vec![0x55i8; co * out * out];
                if ci * (n + 2 * pad).pow(2) > IMAGE_BYTES {
                    // An image too large for the stack array: not taken, nothing written.
                    assert!(!conv2d(&win, ci, &x, &w, &vq, zp, &mut y));
                    assert!(y.iter().all(|&v| v == 0x55));
                    continue;
                }
                assert!(conv2d(&win, ci, &x, &w, &vq, zp, &mut y));
                assert_eq!(y, expected, "case {case} zp={zp}");
                let xs: std::vec::Vec<i8> = x.iter().chain(&x2).chain(&x).copied().collect();
                let mut expected2 = std::vec![0i8; co * out * out];
                reference_conv(&win, ci, &x2, &w, &rq, &mut expected2).unwrap();
                let mut ys = std::vec![0x55i8; 3 * co * out * out];
                assert!(conv2d(&win, ci, &xs, &w, &vq, zp, &mut ys));
                let y: std::vec::Vec<i8> = expected
                    .iter()
                    .chain(&expected2)
                    .chain(&expected)
                    .copied()
                    .collect();
                assert_eq!(ys, y, "case {case} zp={zp}, batch of 3");
            }
        }
    }
}
