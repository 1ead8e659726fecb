//! The integer layers of a quantised network: each is one entry (a type with its
//! parameters, its `forward` in integers, and its bytes in a blob), so that convolutions,
//! depthwise convolutions and pooling can be added as further entries.

use nalgebra::{SMatrix, SVector};

use super::fixed::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_double_rounding,
    quantize_multiplier,
};
use super::{QParams, QuantError};

/// One integer layer as a blob stores it: a kind tag (part of the network's fingerprint),
/// its bytes, and a check of those bytes before they are read.
pub trait QLayer {
    /// The layer kind in a fingerprint (`1` parameters of a tensor, `2` fully connected,
    /// `3` lookup table). A kind whose values alone do not say what it computes gives the
    /// fingerprint a finer tag instead ([`QTable::TANH`], [`QTable::SIGMOID`]).
    const KIND: u8;
    /// Bytes of the layer in a blob.
    const BYTES: usize;
    /// Writes the layer into `out` (exactly [`BYTES`](Self::BYTES) long), little-endian.
    fn write(&self, out: &mut [u8]);
    /// Whether `bytes` (exactly [`BYTES`](Self::BYTES) long) hold a valid layer: values
    /// that the forward pass could not use (a non-positive scale, a shift out of range, an
    /// empty output range) are refused.
    fn check(bytes: &[u8]) -> bool;
    /// Reads the layer from `bytes`, which [`check`](Self::check) accepted.
    fn read(&mut self, bytes: &[u8]);
}

/// An activation fused into a [`QLinear`] layer's output range, as TensorFlow Lite fuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fused {
    /// No activation: the whole int8 range.
    None,
    /// ReLU: the range starts at the zero point.
    Relu,
    /// ReLU6: from the zero point to `6` quantised.
    Relu6,
}

pub(super) fn i32_at(bytes: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    i32::from_le_bytes(b)
}

impl QLayer for QParams {
    const KIND: u8 = 1;
    const BYTES: usize = 8;
    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.scale.to_bits().to_le_bytes());
        out[4..8].copy_from_slice(&self.zero_point.to_le_bytes());
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        self.scale = f32::from_bits(i32_at(bytes, 0) as u32);
        self.zero_point = i32_at(bytes, 4);
    }
}

/// A fully connected layer in integers, TensorFlow Lite's `FULLY_CONNECTED` with per-channel
/// weights: `y = clamp(zp_out + M_o · (b_o + Σ_i w_oi · (x_i − zp_in)))`, `M_o` the fixed-point
/// multiplier `s_in · s_w,o / s_out`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QLinear<const I: usize, const O: usize> {
    /// Weights, one row of `I` per output channel, symmetric (zero point 0).
    pub weight: [[i8; I]; O],
    /// Biases at scale `s_in · s_w,o` (zero point 0).
    pub bias: [i32; O],
    /// Per output channel: the significand of `s_in · s_w,o / s_out` (Q0.31).
    pub multiplier: [i32; O],
    /// Per output channel: its power of two (`M = multiplier · 2^(shift − 31)`).
    pub shift: [i32; O],
    /// The input's zero point.
    pub input_zero_point: i32,
    /// The output's scale and zero point.
    pub output: QParams,
    /// The lowest output (the fused activation's floor).
    pub min: i8,
    /// The highest output.
    pub max: i8,
}

impl<const I: usize, const O: usize> QLinear<I, O> {
    /// Quantises a float layer (`weight` as a `Linear` layer stores it, `[O, I]`): each
    /// output channel's weights symmetrically to `[−127, 127]` with scale `max |w| / 127`,
    /// its bias to `round(b / (s_in · s_w))` in `i32`, then the multipliers and the output
    /// range as [`from_quantized`](Self::from_quantized).
    ///
    /// # Errors
    ///
    /// [`QuantError::NonFinite`] for a non-finite weight or bias.
    pub fn quantize(
        weight: &SMatrix<f32, O, I>,
        bias: &SVector<f32, O>,
        input: QParams,
        output: QParams,
        fused: Fused,
    ) -> Result<Self, QuantError> {
        if weight.iter().chain(bias.iter()).any(|v| !v.is_finite()) {
            return Err(QuantError::NonFinite);
        }
        let mut q = [[0i8; I]; O];
        let mut b = [0i32; O];
        let mut scales = [0f32; O];
        for o in 0..O {
            let absmax = (0..I).fold(0f64, |m, i| m.max(f64::from(weight[(o, i)]).abs()));
            // A channel of zeros keeps scale 1 (its weights are 0 whatever the scale).
            let scale = if absmax > 0.0 { absmax / 127.0 } else { 1.0 };
            scales[o] = scale as f32;
            for i in 0..I {
                let v = libm::round(f64::from(weight[(o, i)]) / scale);
                q[o][i] = v.clamp(-127.0, 127.0) as i8;
            }
            let bias_scale = f64::from(input.scale) * f64::from(scales[o]);
            let v = libm::round(f64::from(bias[o]) / bias_scale);
            b[o] = v.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
        }
        Ok(Self::from_quantized(q, b, &scales, input, output, fused))
    }

    /// A layer from weights and biases already quantised (by staticnn or by another tool):
    /// the multipliers `s_in · s_w,o / s_out` computed in `f64` from the `f32` scales and
    /// split by [`quantize_multiplier`], and the fused activation's range, as TensorFlow
    /// Lite's kernels prepare them.
    pub fn from_quantized(
        weight: [[i8; I]; O],
        bias: [i32; O],
        weight_scales: &[f32; O],
        input: QParams,
        output: QParams,
        fused: Fused,
    ) -> Self {
        let mut multiplier = [0i32; O];
        let mut shift = [0i32; O];
        for o in 0..O {
            let m = f64::from(input.scale) * f64::from(weight_scales[o]) / f64::from(output.scale);
            (multiplier[o], shift[o]) = quantize_multiplier(m);
        }
        let (min, max) = fused_range(output, fused);
        Self {
            weight,
            bias,
            multiplier,
            shift,
            input_zero_point: input.zero_point,
            output,
            min,
            max,
        }
    }

    /// The layer on a batch of `B` int8 columns. Integers only.
    ///
    /// On x86-64 CPUs with AVX2 (when the dense products take the AVX2 path or a wider
    /// one), the same code compiled for AVX2, whose 16-bit multiply-adds take 16 products
    /// per instruction; the integers are the same.
    #[inline]
    pub fn forward<const B: usize>(&self, x: &SMatrix<i8, I, B>, y: &mut SMatrix<i8, O, B>) {
        #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
        if super::kernels::linear(
            self.weight.as_flattened(),
            x.as_slice(),
            self.input_zero_point,
            &self.requant(),
            y.as_mut_slice(),
            I,
            O,
        ) {
            return;
        }
        #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
        if crate::kernels::path() >= crate::kernels::Path::Avx2 {
            // SAFETY: the path says that this CPU runs AVX2 (`kernels::cpu_path` detected
            // it, or the target enables it).
            unsafe { self.forward_avx2(x, y) };
            return;
        }
        self.forward_with(x, y, dot4_i16);
    }

    /// [`forward`](Self::forward) compiled for AVX2.
    ///
    /// # Safety
    ///
    /// The CPU must run AVX2.
    #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
    #[target_feature(enable = "avx2")]
    unsafe fn forward_avx2<const B: usize>(
        &self,
        x: &SMatrix<i8, I, B>,
        y: &mut SMatrix<i8, O, B>,
    ) {
        self.forward_with(x, y, |w, s| dot4_avx2(w, s));
    }

    /// [`forward`](Self::forward) with `dot4` for the dot products of a weight row with four
    /// columns (inlined into the callers, so each compiles it for its own instructions).
    #[inline(always)]
    fn forward_with<const B: usize>(
        &self,
        x: &SMatrix<i8, I, B>,
        y: &mut SMatrix<i8, O, B>,
        dot4: impl Fn(&[i8; I], &[[i16; I]; 4]) -> [i32; 4],
    ) {
        let zp = self.input_zero_point;
        let (xs, ys) = (x.as_slice(), y.as_mut_slice());
        if !(-128..=127).contains(&zp) {
            // A hand-made layer's zero point: the products in 32 bits.
            for b in 0..B {
                let col = &xs[b * I..(b + 1) * I];
                for o in 0..O {
                    ys[b * O + o] = self.requantize(o, dot_wrapping(&self.weight[o], col, zp));
                }
            }
            return;
        }
        // Columns minus the zero point in 16 bits (exact for an int8 zero point:
        // `|x − zp| ≤ 255`), four at a time, so that each weight row is widened once for
        // four columns.
        let mut shifted = [[0i16; I]; 4];
        let mut b0 = 0;
        while b0 < B {
            let n = (B - b0).min(4);
            for (c, s) in shifted.iter_mut().enumerate().take(n) {
                let col = &xs[(b0 + c) * I..(b0 + c + 1) * I];
                for (d, &v) in s.iter_mut().zip(col) {
                    *d = i16::from(v) - zp as i16;
                }
            }
            for o in 0..O {
                let w = &self.weight[o];
                if n == 4 {
                    let dots = dot4(w, &shifted);
                    for (c, dot) in dots.into_iter().enumerate() {
                        ys[(b0 + c) * O + o] = self.requantize(o, dot);
                    }
                } else {
                    for (c, s) in shifted.iter().enumerate().take(n) {
                        ys[(b0 + c) * O + o] = self.requantize(o, dot_i16(w, s));
                    }
                }
            }
            b0 += n;
        }
    }

    /// The layer's requantisation, for the vector kernels.
    #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
    fn requant(&self) -> super::kernels::Requant<'_> {
        super::kernels::Requant {
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
            output_zero_point: self.output.zero_point,
            min: self.min,
            max: self.max,
            double: false,
        }
    }

    /// Output channel `o`'s int8 value for the dot product `dot` of its weights with the
    /// input minus its zero point.
    #[inline(always)]
    fn requantize(&self, o: usize, dot: i32) -> i8 {
        // Wrapping, as the C code on two's complement: no field value panics.
        let acc = self.bias[o].wrapping_add(dot);
        let v = multiply_by_quantized_multiplier(acc, self.multiplier[o], self.shift[o])
            .saturating_add(self.output.zero_point);
        // max, then min, as TensorFlow Lite (no panic on an empty range: `clamp` would).
        v.max(i32::from(self.min)).min(i32::from(self.max)) as i8
    }
}

/// `Σ w·s` for `s = x − zp` of an int8 zero point: each product of 16-bit operands
/// (`|s| ≤ 255`, `|w| ≤ 128`: at most 32 640 in magnitude, exact), summed in `i32` wrapping,
/// the pattern that vectorises into 16-bit multiply-adds (`pmaddwd`).
#[inline(always)]
fn dot_i16(w: &[i8], s: &[i16]) -> i32 {
    w.iter()
        .zip(s)
        .map(|(&w, &s)| i32::from(i16::from(w)) * i32::from(s))
        .fold(0i32, i32::wrapping_add)
}

/// [`dot_i16`] of one weight row with four columns at once (the row read once).
#[inline(always)]
fn dot4_i16<const I: usize>(w: &[i8; I], s: &[[i16; I]; 4]) -> [i32; 4] {
    let (mut a0, mut a1, mut a2, mut a3) = (0i32, 0i32, 0i32, 0i32);
    for i in 0..I {
        let wi = i32::from(w[i]);
        a0 = a0.wrapping_add(wi * i32::from(s[0][i]));
        a1 = a1.wrapping_add(wi * i32::from(s[1][i]));
        a2 = a2.wrapping_add(wi * i32::from(s[2][i]));
        a3 = a3.wrapping_add(wi * i32::from(s[3][i]));
    }
    [a0, a1, a2, a3]
}

/// [`dot4_i16`] in AVX2 intrinsics: sixteen weights widened to 16 bits once, then one
/// 16-bit multiply-add (`vpmaddwd`, eight pairs into eight `i32` sums, exact as in
/// [`dot_i16`]) per column; the sums wrap as [`dot_i16`]'s, so the results are the same.
#[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
#[target_feature(enable = "avx2")]
fn dot4_avx2<const I: usize>(w: &[i8; I], s: &[[i16; I]; 4]) -> [i32; 4] {
    use core::arch::x86_64::{
        __m128i, __m256i, _mm_add_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_shuffle_epi32,
        _mm256_add_epi32, _mm256_castsi256_si128, _mm256_cvtepi8_epi16, _mm256_extracti128_si256,
        _mm256_loadu_si256, _mm256_madd_epi16, _mm256_setzero_si256,
    };
    let full = I / 16 * 16;
    let mut acc = [_mm256_setzero_si256(); 4];
    let mut i = 0;
    while i < full {
        // SAFETY: `i + 16 ≤ I`: 16 bytes of `w` and 16 `i16` of each column are in bounds;
        // unaligned loads need nothing more.
        let wv =
            unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(w.as_ptr().add(i).cast::<__m128i>())) };
        for (a, col) in acc.iter_mut().zip(s) {
            // SAFETY: as above.
            let sv = unsafe { _mm256_loadu_si256(col.as_ptr().add(i).cast::<__m256i>()) };
            *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wv, sv));
        }
        i += 16;
    }
    let mut out = [0i32; 4];
    for ((o, a), col) in out.iter_mut().zip(acc).zip(s) {
        let v = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256::<1>(a));
        let v = _mm_add_epi32(v, _mm_shuffle_epi32::<0b01_00_11_10>(v));
        let v = _mm_add_epi32(v, _mm_shuffle_epi32::<0b10_11_00_01>(v));
        *o = _mm_cvtsi128_si32(v).wrapping_add(dot_i16(&w[full..], &col[full..]));
    }
    out
}

/// `Σ w·(x − zp)` for any zero point (a hand-made layer's), wrapping as the C code would.
#[inline(always)]
fn dot_wrapping(w: &[i8], x: &[i8], zp: i32) -> i32 {
    w.iter().zip(x).fold(0i32, |acc, (&w, &x)| {
        acc.wrapping_add(i32::from(w).wrapping_mul(i32::from(x).wrapping_sub(zp)))
    })
}

/// The output range of a fused activation, as TensorFlow Lite's
/// `CalculateActivationRangeQuantized`: `zp + round(v / scale)` in `f32`, within int8.
pub(super) fn fused_range(output: QParams, fused: Fused) -> (i8, i8) {
    let q = |v: f32| output.zero_point + libm::roundf(v / output.scale) as i32;
    let (lo, hi) = match fused {
        Fused::None => (-128, 127),
        Fused::Relu => (q(0.0).max(-128), 127),
        Fused::Relu6 => (q(0.0).max(-128), q(6.0).min(127)),
    };
    (lo.clamp(-128, 127) as i8, hi.clamp(-128, 127) as i8)
}

impl<const I: usize, const O: usize> QLayer for QLinear<I, O> {
    const KIND: u8 = 2;
    const BYTES: usize = I * O + 12 * O + 4 + QParams::BYTES + 2;
    fn write(&self, out: &mut [u8]) {
        let (w, rest) = out.split_at_mut(I * O);
        for (dst, src) in w.iter_mut().zip(self.weight.iter().flatten()) {
            *dst = *src as u8;
        }
        let mut at = 0;
        for v in self.bias.iter().chain(&self.multiplier).chain(&self.shift) {
            rest[at..at + 4].copy_from_slice(&v.to_le_bytes());
            at += 4;
        }
        rest[at..at + 4].copy_from_slice(&self.input_zero_point.to_le_bytes());
        at += 4;
        self.output.write(&mut rest[at..at + QParams::BYTES]);
        at += QParams::BYTES;
        rest[at] = self.min as u8;
        rest[at + 1] = self.max as u8;
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        let (w, rest) = bytes.split_at(I * O);
        for (dst, src) in self.weight.iter_mut().flatten().zip(w) {
            *dst = *src as i8;
        }
        let mut at = 0;
        for v in self
            .bias
            .iter_mut()
            .chain(&mut self.multiplier)
            .chain(&mut self.shift)
        {
            *v = i32_at(rest, at);
            at += 4;
        }
        self.input_zero_point = i32_at(rest, at);
        at += 4;
        self.output.read(&rest[at..at + QParams::BYTES]);
        at += QParams::BYTES;
        self.min = rest[at] as i8;
        self.max = rest[at + 1] as i8;
    }
}

/// An element-wise function as a 256-entry table of int8 to int8, as TensorFlow Lite's
/// reference kernels run `TANH` and `LOGISTIC` on int8 tensors: the table is built once
/// (in `f32`, when the network is quantised), the forward pass only looks up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QTable {
    /// The output for each input, indexed by the input's byte (`x as u8`).
    pub table: [i8; 256],
    /// The output's scale and zero point.
    pub output: QParams,
}

impl QTable {
    /// The fingerprint tag of a `tanh` table: a blob's table is data, so the tag is what
    /// keeps a `tanh` table from loading into a `sigmoid` one.
    pub const TANH: u8 = 3;
    /// The fingerprint tag of a `sigmoid` table.
    pub const SIGMOID: u8 = 4;

    /// `tanh`, output at scale 1/128, zero point 0 (TensorFlow Lite's fixed choice).
    pub fn tanh(input: QParams) -> Self {
        Self::build(input, QParams::TANH, libm::tanhf)
    }

    /// The logistic sigmoid `1 / (1 + e^−x)`, output at scale 1/256, zero point −128.
    pub fn sigmoid(input: QParams) -> Self {
        Self::build(input, QParams::SIGMOID, |v| 1.0 / (1.0 + libm::expf(-v)))
    }

    /// The fingerprint tag of an `ELU` table.
    pub const ELU: u8 = 13;
    /// The fingerprint tag of a `LeakyReLU` table.
    pub const LEAKY_RELU: u8 = 14;
    /// The fingerprint tag of a `ReLU` table (a `ReLU` not fused into the layer before it).
    pub const RELU: u8 = 15;
    /// The fingerprint tag of a `PReLU` table.
    pub const PRELU: u8 = 16;

    /// `ELU` with `alpha`: `x` for `x ≥ 0`, `alpha · (eˣ − 1)` below, as TensorFlow Lite's
    /// int8 `ELU` (a table of `expf(x) − 1` for `alpha = 1`, its only one).
    pub fn elu(input: QParams, output: QParams, alpha: f32) -> Self {
        Self::build(input, output, |v| {
            if v < 0.0 {
                alpha * (libm::expf(v) - 1.0)
            } else {
                v
            }
        })
    }

    /// `LeakyReLU` with slope `alpha`, as TensorFlow Lite's int8 `LEAKY_RELU` computes it
    /// (`QuantizeLeakyRelu`): `x − zp_in` rescaled by `s_in / s_out` when it is not
    /// negative, by `s_in · alpha / s_out` (each multiplier computed in `f32`, as its
    /// `Prepare`) when it is, `+ zp_out`, clamped. The kernel is element-wise on int8, so
    /// its 256 results are this table. The rescaling rounds twice, as the interpreter's
    /// convolutions (`tests/int8_tflite.rs`, `mlp_leaky`: single rounding puts 95 of its
    /// 294 outputs off by up to 2 LSB, double rounding none).
    pub fn leaky_relu(input: QParams, output: QParams, alpha: f32) -> Self {
        let alpha_m = quantize_multiplier(f64::from(input.scale * alpha / output.scale));
        let identity_m = quantize_multiplier(f64::from(input.scale / output.scale));
        Self::from_integers(output, |v| {
            let x = v - input.zero_point;
            let (q, shift) = if x >= 0 { identity_m } else { alpha_m };
            multiply_by_quantized_multiplier_double_rounding(x, q, shift)
                .saturating_add(output.zero_point)
        })
    }

    /// `max(x, 0)` requantised to `output` (a `ReLU` that does not follow a layer it can be
    /// fused into).
    pub fn relu(input: QParams, output: QParams) -> Self {
        Self::build(input, output, |v| v.max(0.0))
    }

    /// `PReLU` with its learned `slope`: `x` for `x ≥ 0`, `slope · x` below.
    ///
    /// # Errors
    ///
    /// [`QuantError::NonFinite`] for a slope that is not finite.
    pub fn prelu(input: QParams, output: QParams, slope: f32) -> Result<Self, QuantError> {
        if !slope.is_finite() {
            return Err(QuantError::NonFinite);
        }
        Ok(Self::build(input, output, |v| {
            if v < 0.0 { slope * v } else { v }
        }))
    }

    /// The table of an integer function of the int8 input (clamped to int8).
    fn from_integers(output: QParams, f: impl Fn(i32) -> i32) -> Self {
        let mut table = [0i8; 256];
        for v in -128i32..=127 {
            table[usize::from(v as i8 as u8)] = f(v).clamp(-128, 127) as i8;
        }
        Self { table, output }
    }

    /// The table of `f`: each int8 input dequantised, `f` in `f32`, requantised with
    /// rounding half away from zero and clamped, as TensorFlow Lite's
    /// `PopulateLookupTable`.
    pub fn build(input: QParams, output: QParams, f: impl Fn(f32) -> f32) -> Self {
        let mut table = [0i8; 256];
        let inverse = 1.0 / output.scale;
        for v in -128i32..=127 {
            let x = input.scale * (v - input.zero_point) as f32;
            let r = libm::roundf(f(x) * inverse);
            let q = (r + output.zero_point as f32) as i32;
            table[usize::from(v as i8 as u8)] = q.clamp(-128, 127) as i8;
        }
        Self { table, output }
    }

    /// The table on a batch. Integers only.
    pub fn forward<const N: usize, const B: usize>(
        &self,
        x: &SMatrix<i8, N, B>,
        y: &mut SMatrix<i8, N, B>,
    ) {
        for (d, s) in y.iter_mut().zip(x.iter()) {
            *d = self.table[usize::from(*s as u8)];
        }
    }
}

impl QLayer for QTable {
    const KIND: u8 = 3;
    const BYTES: usize = 256 + QParams::BYTES;
    fn write(&self, out: &mut [u8]) {
        for (d, s) in out.iter_mut().zip(&self.table) {
            *d = *s as u8;
        }
        self.output.write(&mut out[256..]);
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        for (d, s) in self.table.iter_mut().zip(bytes) {
            *d = *s as i8;
        }
        self.output.read(&bytes[256..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_field_value_makes_forward_panic() {
        let x = SMatrix::<i8, 3, 2>::from_fn(|r, c| if (r + c) % 2 == 0 { -128 } else { 127 });
        let mut y = SMatrix::<i8, 2, 2>::zeros();
        for (zp, bias, q, shift) in [
            (i32::MIN, i32::MAX, i32::MAX, 100),
            (i32::MAX, i32::MIN, i32::MIN, -100),
            (0, i32::MAX, i32::MAX, 30),
        ] {
            let layer = QLinear::<3, 2> {
                weight: [[-128, 127, -128], [127, 127, 127]],
                bias: [bias; 2],
                multiplier: [q; 2],
                shift: [shift; 2],
                input_zero_point: zp,
                output: QParams {
                    scale: 1.0,
                    zero_point: zp,
                },
                min: 5,
                max: -5,
            };
            layer.forward(&x, &mut y);
        }
    }

    /// `y = clamp(zp_out + M · (b + Σ w·(x − zp_in)))` as TensorFlow Lite's reference
    /// loop writes it: one output at a time, the products in 32 bits.
    fn reference<const I: usize, const O: usize, const B: usize>(
        l: &QLinear<I, O>,
        x: &SMatrix<i8, I, B>,
    ) -> SMatrix<i8, O, B> {
        SMatrix::from_fn(|o, b| {
            let mut acc = l.bias[o];
            for i in 0..I {
                let xi = i32::from(x[(i, b)]).wrapping_sub(l.input_zero_point);
                acc = acc.wrapping_add(i32::from(l.weight[o][i]).wrapping_mul(xi));
            }
            let v = multiply_by_quantized_multiplier(acc, l.multiplier[o], l.shift[o])
                .saturating_add(l.output.zero_point);
            v.max(i32::from(l.min)).min(i32::from(l.max)) as i8
        })
    }

    fn check_paths<const I: usize, const O: usize, const B: usize>(seed: &mut u64) {
        let mut next = || {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) as i32
        };
        for zp in [-128, -3, 0, 127, 300, i32::MIN] {
            let mut weight = [[0i8; I]; O];
            weight.iter_mut().flatten().for_each(|w| *w = next() as i8);
            let layer = QLinear::<I, O> {
                weight,
                bias: core::array::from_fn(|_| next() % 100_000),
                multiplier: core::array::from_fn(|_| (1 << 30) + next() % (1 << 30)),
                shift: core::array::from_fn(|_| -(next() % 12)),
                input_zero_point: zp,
                output: QParams {
                    scale: 1.0,
                    zero_point: next() % 20,
                },
                min: -100,
                max: 120,
            };
            let x = SMatrix::<i8, I, B>::from_fn(|_, _| next() as i8);
            let expected = reference(&layer, &x);
            let mut y = SMatrix::<i8, O, B>::zeros();
            layer.forward(&x, &mut y);
            assert_eq!(y, expected, "dispatched, I={I} O={O} B={B} zp={zp}");
            let mut y = SMatrix::<i8, O, B>::zeros();
            layer.forward_with(&x, &mut y, dot4_i16);
            assert_eq!(y, expected, "portable, I={I} O={O} B={B} zp={zp}");
            #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
            if std::is_x86_feature_detected!("avx2") {
                let mut y = SMatrix::<i8, O, B>::zeros();
                // SAFETY: the CPU runs AVX2.
                unsafe { layer.forward_avx2(&x, &mut y) };
                assert_eq!(y, expected, "avx2, I={I} O={O} B={B} zp={zp}");
            }
        }
    }

    #[test]
    fn every_path_is_the_reference_loop() {
        let mut seed = 17;
        check_paths::<1, 3, 1>(&mut seed);
        check_paths::<15, 4, 3>(&mut seed);
        check_paths::<16, 5, 4>(&mut seed);
        check_paths::<17, 2, 5>(&mut seed);
        check_paths::<48, 7, 9>(&mut seed);
        check_paths::<100, 3, 32>(&mut seed);
    }

    #[test]
    fn fused_ranges_follow_the_output_parameters() {
        let out = QParams {
            scale: 0.05,
            zero_point: -20,
        };
        assert_eq!(fused_range(out, Fused::None), (-128, 127));
        assert_eq!(fused_range(out, Fused::Relu), (-20, 127));
        // 6 / 0.05 = 120 steps above the zero point: 100.
        assert_eq!(fused_range(out, Fused::Relu6), (-20, 100));
        let wide = QParams {
            scale: 0.01,
            zero_point: -128,
        };
        assert_eq!(fused_range(wide, Fused::Relu6), (-128, 127));
    }

    #[test]
    fn tables_index_by_the_input_byte() {
        let input = QParams {
            scale: 0.1,
            zero_point: 0,
        };
        let t = QTable::tanh(input);
        let x = SMatrix::<i8, 3, 1>::new(0, 127, -128);
        let mut y = SMatrix::<i8, 3, 1>::zeros();
        t.forward(&x, &mut y);
        // tanh(0) = 0; tanh(12.7) · 128 rounds to 128, clamped to 127; tanh(−12.8) → −128.
        assert_eq!(y, SMatrix::<i8, 3, 1>::new(0, 127, -128));
        let s = QTable::sigmoid(input);
        s.forward(&x, &mut y);
        // sigmoid(0) = 0.5 → 128 steps above −128 = 0.
        assert_eq!(y[0], 0);
        assert_eq!((y[1], y[2]), (127, -128));
    }
}
