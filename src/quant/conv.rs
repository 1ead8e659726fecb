//! The integer kernels of convolutions and pooling, as TensorFlow Lite's int8 reference
//! kernels compute them (`reference_integer_ops::ConvPerChannel`,
//! `DepthwiseConvPerChannel`, `MaxPool`, `AveragePool`), on staticnn's channel-first
//! tensors: a sample is a column of `C · H · W` values, channel slowest, then row, then
//! column.
//!
//! They work on slices with the geometry given at run time ([`Window`]), so that the
//! generated networks can keep their tensors in arrays of any size; a slice of the wrong
//! length is a [`QuantError::Shape`], never a panic.
//!
//! - Convolutions: `acc = b_o + Σ w · (x − zp_in)` over the window's points inside the
//!   input (padding is the zero point: those points add nothing), requantised per output
//!   channel, `+ zp_out`, clamped to the fused range. The requantisation rounds twice
//!   ([`multiply_by_quantized_multiplier_double_rounding`]), unlike `FULLY_CONNECTED`'s
//!   single rounding: on `tests/int8_tflite_cnn.rs`'s fixture (TensorFlow 2.21's
//!   interpreter, reference kernels) single rounding puts 3 of the first convolution's 676
//!   outputs 1 LSB low and 62 of the 250 final outputs off, double rounding none. Weights `[O][I][KH][KW]` (a `Conv2d`'s layout), depthwise `[C][KH][KW]`
//!   (channel multiplier 1: `groups == channels`), grouped `[O][I / groups][KH][KW]`
//!   ([`grouped_conv2d`], any other groups), with one multiplier per output channel.
//! - Pooling keeps the input's scale and zero point (the converter gives both tensors the
//!   same): the maximum, or the sum of the points inside the input divided by their count,
//!   rounded half away from zero, then clamped.

use nalgebra::SMatrix;

use super::fixed::{multiply_by_quantized_multiplier_double_rounding, quantize_multiplier};
use super::layers::{fused_range, i32_at};
use super::{Fused, QLayer, QParams, QuantError};
use crate::Scalar;
use crate::layers::conv::{ConvShape, Geom};
use crate::layers::pool::PoolShape;
use crate::layers::{
    AvgPool1d, AvgPool2d, BatchNormParams, BatchNormState, Conv1d, Conv2d, ConvParams,
    GlobalAvgPool, MaxPool1d, MaxPool2d, SpatialBatchNorm,
};

/// The geometry of a 2-D window operation (convolution or pooling): input and output
/// sizes, kernel, stride, padding before the first row and column (TensorFlow Lite's
/// `padding_values`; the padding after is whatever the output size implies), dilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Input rows.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Output rows.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
    /// Kernel rows.
    pub k_h: usize,
    /// Kernel columns.
    pub k_w: usize,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Rows of padding above the input.
    pub pad_top: usize,
    /// Columns of padding left of the input.
    pub pad_left: usize,
    /// Vertical dilation (1: none).
    pub dil_h: usize,
    /// Horizontal dilation (1: none).
    pub dil_w: usize,
}

impl Window {
    /// The input positions `(row, column)` of window point `(ky, kx)` for output
    /// `(oy, ox)`, or `None` when the point is in the padding.
    /// (Wrapping arithmetic: a geometry too large for `usize` gives points outside the
    /// input, not a panic.)
    #[inline(always)]
    fn at(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let y = (oy.wrapping_mul(self.stride_h))
            .wrapping_add(ky.wrapping_mul(self.dil_h))
            .checked_sub(self.pad_top)?;
        let x = (ox.wrapping_mul(self.stride_w))
            .wrapping_add(kx.wrapping_mul(self.dil_w))
            .checked_sub(self.pad_left)?;
        (y < self.in_h && x < self.in_w).then_some((y, x))
    }

    fn check(&self, x: usize, in_c: usize, y: usize, out_c: usize) -> Result<(), QuantError> {
        let size = |a: usize, b: usize, c: usize| a.checked_mul(b)?.checked_mul(c);
        let ok = size(in_c, self.in_h, self.in_w) == Some(x)
            && size(out_c, self.out_h, self.out_w) == Some(y)
            && self.stride_h > 0
            && self.stride_w > 0;
        if ok { Ok(()) } else { Err(QuantError::Shape) }
    }

    /// Whether `len` is `a · b · k_h · k_w` (without overflow).
    fn kernels(&self, len: usize, a: usize, b: usize) -> Result<(), QuantError> {
        let n = a
            .checked_mul(b)
            .and_then(|n| n.checked_mul(self.k_h))
            .and_then(|n| n.checked_mul(self.k_w));
        if n == Some(len) {
            Ok(())
        } else {
            Err(QuantError::Shape)
        }
    }
}

/// The per-output-channel requantisation of a convolution: biases (at `s_in · s_w,o`),
/// fixed-point multipliers and shifts of `s_in · s_w,o / s_out` (see
/// [`quantize_multiplier`]), the output's zero point,
/// and the fused activation's range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Requantize<'a> {
    /// Biases, one per output channel.
    pub bias: &'a [i32],
    /// Multipliers (Q0.31), one per output channel.
    pub multiplier: &'a [i32],
    /// Shifts, one per output channel.
    pub shift: &'a [i32],
    /// The input's zero point.
    pub input_zero_point: i32,
    /// The output's zero point.
    pub output_zero_point: i32,
    /// The lowest output (the fused activation's floor).
    pub min: i8,
    /// The highest output.
    pub max: i8,
}

impl Requantize<'_> {
    fn check(&self, channels: usize) -> Result<(), QuantError> {
        let ok = self.bias.len() == channels
            && self.multiplier.len() == channels
            && self.shift.len() == channels;
        if ok { Ok(()) } else { Err(QuantError::Shape) }
    }

    /// The same requantisation for the vector kernels.
    #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
    fn kernels(&self) -> super::kernels::Requant<'_> {
        super::kernels::Requant {
            bias: self.bias,
            multiplier: self.multiplier,
            shift: self.shift,
            output_zero_point: self.output_zero_point,
            min: self.min,
            max: self.max,
            double: true,
        }
    }

    #[inline(always)]
    fn apply(&self, o: usize, acc: i32) -> i8 {
        // Wrapping, as the C code on two's complement: no field value panics.
        let acc = acc.wrapping_add(self.bias[o]);
        let v = multiply_by_quantized_multiplier_double_rounding(
            acc,
            self.multiplier[o],
            self.shift[o],
        )
        .saturating_add(self.output_zero_point);
        v.max(i32::from(self.min)).min(i32::from(self.max)) as i8
    }
}

/// A 2-D convolution of one sample `x` (`[in_c][in_h][in_w]`) with per-channel weights
/// `[out_c][in_c][k_h][k_w]` into `y` (`[out_c][out_h][out_w]`), as TensorFlow Lite's
/// `ConvPerChannel`: [`grouped_conv2d`] with one group.
///
/// # Errors
///
/// [`QuantError::Shape`] when a slice's length does not match the geometry, or a stride
/// is 0.
pub fn conv2d(
    win: &Window,
    in_c: usize,
    x: &[i8],
    weight: &[i8],
    rq: &Requantize<'_>,
    y: &mut [i8],
) -> Result<(), QuantError> {
    grouped_conv2d(win, in_c, 1, x, weight, rq, y)
}

/// A depthwise convolution (`groups == channels`, one filter per channel) of one sample
/// `x` (`[c][in_h][in_w]`) with weights `[c][k_h][k_w]` into `y` (`[c][out_h][out_w]`), as
/// TensorFlow Lite's `DepthwiseConvPerChannel` with depth multiplier 1 (its filter
/// `[1][k_h][k_w][c]`, transposed); one multiplier per channel.
///
/// # Errors
///
/// [`QuantError::Shape`] when a slice's length does not match the geometry, or a stride
/// is 0.
pub fn depthwise_conv2d(
    win: &Window,
    x: &[i8],
    weight: &[i8],
    rq: &Requantize<'_>,
    y: &mut [i8],
) -> Result<(), QuantError> {
    let c = rq.bias.len();
    win.check(x.len(), c, y.len(), c)?;
    rq.check(c)?;
    win.kernels(weight.len(), c, 1)?;
    let (plane, kernel) = (win.in_h * win.in_w, win.k_h * win.k_w);
    let zp = rq.input_zero_point;
    for ch in 0..c {
        let (x_c, w_c) = (&x[ch * plane..(ch + 1) * plane], &weight[ch * kernel..]);
        for oy in 0..win.out_h {
            for ox in 0..win.out_w {
                let mut acc = 0i32;
                for ky in 0..win.k_h {
                    for kx in 0..win.k_w {
                        if let Some((iy, ix)) = win.at(oy, ox, ky, kx) {
                            let v = i32::from(x_c[iy * win.in_w + ix]);
                            let w = i32::from(w_c[ky * win.k_w + kx]);
                            acc = acc.wrapping_add(w.wrapping_mul(v.wrapping_sub(zp)));
                        }
                    }
                }
                y[(ch * win.out_h + oy) * win.out_w + ox] = rq.apply(ch, acc);
            }
        }
    }
    Ok(())
}

/// A grouped convolution of one sample `x` (`[in_c][in_h][in_w]`) with weights
/// `[out_c][in_c / groups][k_h][k_w]` into `y` (`[out_c][out_h][out_w]`): output channel
/// `o` sees the `in_c / groups` input channels of its group `o / (out_c / groups)`, as
/// PyTorch's `groups`. Groups 1 is [`conv2d`], groups = channels [`depthwise_conv2d`]
/// (the same integers: the sums wrap, so their order does not matter).
///
/// # Errors
///
/// [`QuantError::Shape`] when `groups` is 0 or does not divide both channel counts, a
/// slice's length does not match the geometry, or a stride is 0.
pub fn grouped_conv2d(
    win: &Window,
    in_c: usize,
    groups: usize,
    x: &[i8],
    weight: &[i8],
    rq: &Requantize<'_>,
    y: &mut [i8],
) -> Result<(), QuantError> {
    let out_c = rq.bias.len();
    if groups == 0 || !in_c.is_multiple_of(groups) || !out_c.is_multiple_of(groups) {
        return Err(QuantError::Shape);
    }
    let (per_in, per_out) = (in_c / groups, out_c / groups);
    win.check(x.len(), in_c, y.len(), out_c)?;
    rq.check(out_c)?;
    win.kernels(weight.len(), out_c, per_in)?;
    let (plane, kernel) = (win.in_h * win.in_w, win.k_h * win.k_w);
    let zp = rq.input_zero_point;
    for o in 0..out_c {
        let w_o = &weight[o * per_in * kernel..(o + 1) * per_in * kernel];
        let first = (o / per_out) * per_in;
        let x_g = &x[first * plane..(first + per_in) * plane];
        for oy in 0..win.out_h {
            for ox in 0..win.out_w {
                let mut acc = 0i32;
                for ky in 0..win.k_h {
                    for kx in 0..win.k_w {
                        let Some((iy, ix)) = win.at(oy, ox, ky, kx) else {
                            continue;
                        };
                        for i in 0..per_in {
                            let v = i32::from(x_g[i * plane + iy * win.in_w + ix]);
                            let w = i32::from(w_o[i * kernel + ky * win.k_w + kx]);
                            acc = acc.wrapping_add(w.wrapping_mul(v.wrapping_sub(zp)));
                        }
                    }
                }
                y[(o * win.out_h + oy) * win.out_w + ox] = rq.apply(o, acc);
            }
        }
    }
    Ok(())
}

/// Which reduction a pooling window makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// The largest value.
    Max,
    /// The mean of the values inside the input, rounded half away from zero (TensorFlow
    /// Lite's `AVERAGE_POOL_2D`).
    Average,
    /// The mean over the whole window, padding counted as real 0 (`zero_point`), rounded
    /// half away from zero: PyTorch's `count_include_pad = True`, staticnn's average
    /// pooling with padding (TensorFlow Lite has no such kernel).
    AverageWithPadding {
        /// The tensor's zero point: the value of a padded point.
        zero_point: i32,
    },
}

/// Max or average pooling of one sample `x` (`[c][in_h][in_w]`) into `y`
/// (`[c][out_h][out_w]`), output clamped to `[min, max]`, as TensorFlow Lite's int8
/// `MaxPool` and `AveragePool`: only the window's points inside the input count (a
/// window entirely in the padding gives the zero of the sum, 0, as no real window does).
///
/// # Errors
///
/// [`QuantError::Shape`] when a slice's length does not match the geometry, or a stride
/// is 0.
pub fn pool2d(
    win: &Window,
    pool: Pool,
    c: usize,
    x: &[i8],
    (min, max): (i8, i8),
    y: &mut [i8],
) -> Result<(), QuantError> {
    win.check(x.len(), c, y.len(), c)?;
    let plane = win.in_h * win.in_w;
    for ch in 0..c {
        let x_c = &x[ch * plane..(ch + 1) * plane];
        for oy in 0..win.out_h {
            for ox in 0..win.out_w {
                let (mut best, mut sum, mut count) = (i32::MIN, 0i32, 0i32);
                for ky in 0..win.k_h {
                    for kx in 0..win.k_w {
                        if let Some((iy, ix)) = win.at(oy, ox, ky, kx) {
                            let v = i32::from(x_c[iy * win.in_w + ix]);
                            best = best.max(v);
                            sum = sum.wrapping_add(v);
                            count = count.wrapping_add(1);
                        }
                    }
                }
                // The whole window, for the mean that counts the padding.
                let window = (win.k_h.wrapping_mul(win.k_w)).min(i32::MAX as usize) as i32;
                let (sum, count) = match pool {
                    Pool::AverageWithPadding { zero_point } => (
                        sum.wrapping_add(window.wrapping_sub(count).wrapping_mul(zero_point)),
                        window,
                    ),
                    _ => (sum, count),
                };
                let v = match pool {
                    _ if count <= 0 => 0,
                    Pool::Max => best,
                    // Half away from zero, as TensorFlow Lite rounds the mean.
                    _ if sum > 0 => (sum + count / 2) / count,
                    _ => (sum - count / 2) / count,
                };
                y[(ch * win.out_h + oy) * win.out_w + ox] =
                    v.max(i32::from(min)).min(i32::from(max)) as i8;
            }
        }
    }
    Ok(())
}

/// The geometry of a float convolution or pooling layer type (1-D or 2-D, a 1-D layer being
/// the 2-D one over a single row): what its int8 form needs (the generated twin names it
/// through this trait). The convolutions and pooling layers take it from the geometry the
/// float layers compute with (`layers::conv::Geom`), so the two cannot differ.
pub trait Geometry {
    /// The window.
    const WINDOW: Window;
    /// Input channels.
    const IN_C: usize;
    /// Output channels.
    const OUT_C: usize;
    /// Groups (1 for pooling).
    const GROUPS: usize;
    /// Weights per output channel (`IN_C / GROUPS · k_h · k_w`; 0 for pooling).
    const KK: usize;
}

impl From<Geom> for Window {
    fn from(g: Geom) -> Self {
        window_of(&g)
    }
}

/// [`Window`] from a float layer's geometry (what `From` does, in `const`).
const fn window_of(g: &Geom) -> Window {
    Window {
        in_h: g.hi,
        in_w: g.wi,
        out_h: g.ho,
        out_w: g.wo,
        k_h: g.kh,
        k_w: g.kw,
        stride_h: g.sh,
        stride_w: g.sw,
        pad_top: g.ph,
        pad_left: g.pw,
        dil_h: g.dh,
        dil_w: g.dw,
    }
}

/// Implements [`Geometry`] for a layer type from its `ConvShape::GEOM` (convolutions) or
/// `PoolShape::GEOM` (pooling: groups 1, no weights).
macro_rules! geometry {
    (conv $ty:ident<$($gen:ident),*>) => {
        impl<$(const $gen: usize),*> Geometry for $ty<$($gen),*> {
            const WINDOW: Window = window_of(&<Self as ConvShape>::GEOM);
            const IN_C: usize = <Self as ConvShape>::GEOM.ci;
            const OUT_C: usize = <Self as ConvShape>::GEOM.co;
            const GROUPS: usize = <Self as ConvShape>::GEOM.g;
            const KK: usize = <Self as ConvShape>::GEOM.kk();
        }
    };
    (pool $ty:ident<$($gen:ident),*>) => {
        impl<$(const $gen: usize),*> Geometry for $ty<$($gen),*> {
            const WINDOW: Window = window_of(&<Self as PoolShape>::GEOM);
            const IN_C: usize = <Self as PoolShape>::GEOM.ci;
            const OUT_C: usize = <Self as PoolShape>::GEOM.co;
            const GROUPS: usize = 1;
            const KK: usize = 0;
        }
    };
}
geometry!(conv Conv2d<CI, HI, WI, CO, HO, WO, KH, KW, SH, SW, PH, PW, DH, DW, G, KK, NB>);
geometry!(conv Conv1d<CI, LI, CO, LO, K, S, P, D, G, KK, NB>);
geometry!(pool MaxPool2d<C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW>);
geometry!(pool AvgPool2d<C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW>);
geometry!(pool MaxPool1d<C, LI, LO, K, S, P>);
geometry!(pool AvgPool1d<C, LI, LO, K, S, P>);

/// `S` positions per channel: one window of `1 × S`.
impl<const C: usize, const S: usize> Geometry for GlobalAvgPool<C, S> {
    const WINDOW: Window = Window {
        in_h: 1,
        in_w: S,
        out_h: 1,
        out_w: 1,
        k_h: 1,
        k_w: S,
        stride_h: 1,
        stride_w: 1,
        pad_top: 0,
        pad_left: 0,
        dil_h: 1,
        dil_w: 1,
    };
    const IN_C: usize = C;
    const OUT_C: usize = C;
    const GROUPS: usize = 1;
    const KK: usize = 0;
}

/// A batch norm the inference form keeps (not folded) as a depthwise `1 × 1` convolution:
/// `C` channels of `S` positions (a flat batch norm of `N` features is
/// `SpatialBatchNorm<N, 1>`), one weight per channel.
impl<const C: usize, const S: usize> Geometry for SpatialBatchNorm<C, S> {
    const WINDOW: Window = Window {
        in_h: S,
        in_w: 1,
        out_h: S,
        out_w: 1,
        k_h: 1,
        k_w: 1,
        stride_h: 1,
        stride_w: 1,
        pad_top: 0,
        pad_left: 0,
        dil_h: 1,
        dil_w: 1,
    };
    const IN_C: usize = C;
    const OUT_C: usize = C;
    const GROUPS: usize = C;
    const KK: usize = 1;
}

/// The fingerprint entries of a window (kernel, stride, padding, dilation), so that two
/// geometries with the same widths do not share blobs.
pub const fn window_prints(w: &Window) -> [(u8, usize, usize); 4] {
    [
        (0, w.k_h, w.k_w),
        (0, w.stride_h, w.stride_w),
        (0, w.pad_top, w.pad_left),
        (0, w.dil_h, w.dil_w),
    ]
}

/// A `Conv2d` in integers (groups 1, depthwise: groups = input = output channels, or any
/// groups dividing both):
/// [`conv2d`] or [`depthwise_conv2d`] on each column of a batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QConv2d<const KK: usize, const CO: usize> {
    /// Weights, one row of `KK` per output channel (`[in/groups][k_h][k_w]`).
    pub weight: [[i8; KK]; CO],
    /// Biases at `s_in · s_w,o`.
    pub bias: [i32; CO],
    /// Per output channel: the significand of `s_in · s_w,o / s_out` (Q0.31).
    pub multiplier: [i32; CO],
    /// Per output channel: its power of two.
    pub shift: [i32; CO],
    /// The input's zero point.
    pub input_zero_point: i32,
    /// The output's scale and zero point.
    pub output: QParams,
    /// The lowest output (the fused activation's floor).
    pub min: i8,
    /// The highest output.
    pub max: i8,
    /// The geometry (from the float layer's type; not in the blob).
    pub window: Window,
    /// Input channels.
    pub in_c: usize,
    /// Whether this is a depthwise convolution (groups = input = output channels).
    pub depthwise: bool,
    /// Groups (1, the channels for a depthwise convolution, or any common divisor of the
    /// input and output channels).
    pub groups: usize,
}

impl<const KK: usize, const CO: usize> QConv2d<KK, CO> {
    /// Quantises the float layer `L` with parameters `params`: each output channel's
    /// weights symmetric to `[−127, 127]` with scale `max |w| / 127`, biases
    /// `round(b / (s_in · s_w))` (0 without bias), multipliers `s_in · s_w / s_out`.
    ///
    /// # Errors
    ///
    /// [`QuantError::NonFinite`] for a non-finite weight or bias;
    /// [`QuantError::Unsupported`] (naming `layer`) for groups that do not divide the
    /// channels (no float layer has them).
    pub fn quantize<L: Geometry, const NB: usize>(
        params: &ConvParams<f32, KK, CO, NB>,
        layer: &'static str,
        input: QParams,
        output: QParams,
        fused: Fused,
    ) -> Result<Self, QuantError> {
        let groups = L::GROUPS;
        if groups == 0 || !L::IN_C.is_multiple_of(groups) || !CO.is_multiple_of(groups) {
            return Err(QuantError::Unsupported {
                layer,
                kind: "Conv2d (groups that do not divide the channels)",
            });
        }
        let depthwise = groups != 1 && groups == L::IN_C && groups == CO;
        if params
            .weight
            .iter()
            .chain(params.bias.iter())
            .any(|v| !v.is_finite())
        {
            return Err(QuantError::NonFinite);
        }
        let mut weight = [[0i8; KK]; CO];
        let mut bias = [0i32; CO];
        let mut multiplier = [0i32; CO];
        let mut shift = [0i32; CO];
        for o in 0..CO {
            let col = params.weight.column(o);
            let absmax = col.iter().fold(0f64, |m, w| m.max(f64::from(*w).abs()));
            let scale = if absmax > 0.0 { absmax / 127.0 } else { 1.0 };
            for (q, w) in weight[o].iter_mut().zip(col.iter()) {
                *q = libm::round(f64::from(*w) / scale).clamp(-127.0, 127.0) as i8;
            }
            let s_w = scale as f32;
            let b = params.bias.get(o).copied().unwrap_or(0.0);
            let bias_scale = f64::from(input.scale) * f64::from(s_w);
            bias[o] = libm::round(f64::from(b) / bias_scale)
                .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
            let m = f64::from(input.scale) * f64::from(s_w) / f64::from(output.scale);
            (multiplier[o], shift[o]) = quantize_multiplier(m);
        }
        let (min, max) = fused_range(output, fused);
        Ok(Self {
            weight,
            bias,
            multiplier,
            shift,
            input_zero_point: input.zero_point,
            output,
            min,
            max,
            window: L::WINDOW,
            in_c: L::IN_C,
            depthwise,
            groups,
        })
    }

    /// An eval-mode batch norm that no layer before it takes (`eps`, `params`, `state`) as
    /// this depthwise `1 × 1` convolution (`L` is `SpatialBatchNorm<CO, S>`, see
    /// [`Geometry`]): channel `c`'s weight `a_c = γ_c / √(σ²_c + ε)` and bias
    /// `β_c − a_c · μ_c`, quantised as [`quantize`](Self::quantize) does.
    ///
    /// # Errors
    ///
    /// [`QuantError::NonFinite`] for a non-finite `a_c` or bias (a zero `σ² + ε`, say).
    pub fn batch_norm<L: Geometry>(
        eps: f64,
        params: &BatchNormParams<f32, CO>,
        state: &BatchNormState<f32, CO>,
        layer: &'static str,
        input: QParams,
        output: QParams,
        fused: Fused,
    ) -> Result<Self, QuantError> {
        let mut affine = ConvParams::<f32, KK, CO, CO>::zeroed();
        for c in 0..CO {
            let a = params.weight[c] / (state.running_var[c] + f32::of(eps)).sqrt_correct();
            affine.weight.column_mut(c).fill(a);
            affine.bias[c] = params.bias[c] - a * state.running_mean[c];
        }
        Self::quantize::<L, CO>(&affine, layer, input, output, fused)
    }

    /// The layer on a batch of `B` columns (`NI = in_c · in_h · in_w`,
    /// `NO = CO · out_h · out_w`). Integers only. A geometry that does not match the
    /// widths (only a hand-edited `window` can give one) leaves `y` unchanged.
    pub fn forward<const NI: usize, const NO: usize, const B: usize>(
        &self,
        x: &SMatrix<i8, NI, B>,
        y: &mut SMatrix<i8, NO, B>,
    ) {
        let rq = Requantize {
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
            input_zero_point: self.input_zero_point,
            output_zero_point: self.output.zero_point,
            min: self.min,
            max: self.max,
        };
        let w = self.weight.as_flattened();
        #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
        if self.groups == 1
            && super::kernels::conv2d(
                &self.window,
                self.in_c,
                x.as_slice(),
                w,
                &rq.kernels(),
                rq.input_zero_point,
                y.as_mut_slice(),
            )
        {
            return;
        }
        for (xc, yc) in x
            .as_slice()
            .chunks_exact(NI.max(1))
            .zip(y.as_mut_slice().chunks_exact_mut(NO.max(1)))
        {
            let _ = if self.depthwise {
                depthwise_conv2d(&self.window, xc, w, &rq, yc)
            } else {
                grouped_conv2d(&self.window, self.in_c, self.groups, xc, w, &rq, yc)
            };
        }
    }
}

impl<const KK: usize, const CO: usize> QLayer for QConv2d<KK, CO> {
    const KIND: u8 = 5;
    const BYTES: usize = KK * CO + 12 * CO + 4 + QParams::BYTES + 2;
    fn write(&self, out: &mut [u8]) {
        let (w, rest) = out.split_at_mut(KK * CO);
        for (d, s) in w.iter_mut().zip(self.weight.as_flattened()) {
            *d = *s as u8;
        }
        let mut at = 0;
        for v in self.bias.iter().chain(&self.multiplier).chain(&self.shift) {
            rest[at..at + 4].copy_from_slice(&v.to_le_bytes());
            at += 4;
        }
        rest[at..at + 4].copy_from_slice(&self.input_zero_point.to_le_bytes());
        self.output.write(&mut rest[at + 4..at + 12]);
        rest[at + 12] = self.min as u8;
        rest[at + 13] = self.max as u8;
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        let (w, rest) = bytes.split_at(KK * CO);
        for (d, s) in self.weight.as_flattened_mut().iter_mut().zip(w) {
            *d = *s as i8;
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
        self.output.read(&rest[at + 4..at + 12]);
        self.min = rest[at + 12] as i8;
        self.max = rest[at + 13] as i8;
    }
}

/// `MaxPool2d` or `AvgPool2d` in integers: [`pool2d`] on each column, the output keeping
/// the input's scale and zero point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QPool {
    /// Max or average.
    pub pool: Pool,
    /// The geometry (from the float layer's type; not in the blob).
    pub window: Window,
    /// Channels.
    pub channels: usize,
    /// The output's (= the input's) scale and zero point.
    pub output: QParams,
}

impl QPool {
    /// The int8 form of the float pooling layer `L` whose input has parameters `input`.
    ///
    /// Average pooling with padding divides by the whole window, as staticnn's float layer
    /// (PyTorch's `count_include_pad`): [`Pool::AverageWithPadding`] (TensorFlow Lite's
    /// divides by the points inside the input).
    ///
    /// # Errors
    ///
    /// None today (the `Result` is for layers of `L` that have no int8 form; `layer`
    /// names it).
    pub fn new<L: Geometry>(
        pool: Pool,
        layer: &'static str,
        input: QParams,
    ) -> Result<Self, QuantError> {
        let _ = layer;
        let w = L::WINDOW;
        let pool = match pool {
            Pool::Average if w.pad_top != 0 || w.pad_left != 0 => Pool::AverageWithPadding {
                zero_point: input.zero_point,
            },
            other => other,
        };
        Ok(Self {
            pool,
            window: w,
            channels: L::IN_C,
            output: input,
        })
    }

    /// The layer on a batch of `B` columns. Integers only; a geometry that does not match
    /// the widths leaves `y` unchanged.
    pub fn forward<const NI: usize, const NO: usize, const B: usize>(
        &self,
        x: &SMatrix<i8, NI, B>,
        y: &mut SMatrix<i8, NO, B>,
    ) {
        #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
        if super::kernels::pool(
            &self.window,
            self.pool == Pool::Max,
            self.channels,
            x.as_slice(),
            y.as_mut_slice(),
        ) {
            return;
        }
        // A padded point is real 0: the zero point of the tensor (a blob may have set it).
        let pool = match self.pool {
            Pool::AverageWithPadding { .. } => Pool::AverageWithPadding {
                zero_point: self.output.zero_point,
            },
            other => other,
        };
        for (xc, yc) in x
            .as_slice()
            .chunks_exact(NI.max(1))
            .zip(y.as_mut_slice().chunks_exact_mut(NO.max(1)))
        {
            let _ = pool2d(&self.window, pool, self.channels, xc, (-128, 127), yc);
        }
    }
}

impl QLayer for QPool {
    /// `7`; the fingerprint tags max pooling 7 and average pooling 8.
    const KIND: u8 = 7;
    const BYTES: usize = QParams::BYTES;
    fn write(&self, out: &mut [u8]) {
        self.output.write(out);
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        self.output.read(bytes);
    }
}

/// `GlobalAvgPool` in integers, as TensorFlow Lite's int8 `MEAN` over rows and columns:
/// per channel `acc = Σ (x − zp_in)` over the `n` positions, times `s_in / (n · s_out)` —
/// the multiplier of `s_in / s_out` shifted left by `k = ⌊log₂ n⌋` (at most 32, and at
/// most `31 + shift`), divided by `n` truncating, its shift lowered by `k` — with double
/// rounding, `+ zp_out`, clamped to int8. (`tests/int8_tflite_cnn.rs`: 0 LSB on 50 cases;
/// dividing the rescaled sum by `n` afterwards, as older TensorFlow Lite did, was 1 LSB off
/// on 2 of them.)
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QGlobalAvgPool {
    /// The significand of `s_in / s_out` (Q0.31).
    pub multiplier: i32,
    /// Its power of two.
    pub shift: i32,
    /// The input's zero point.
    pub input_zero_point: i32,
    /// The output's scale and zero point.
    pub output: QParams,
    /// Positions per channel (from the float layer's type; not in the blob).
    pub positions: usize,
}

impl QGlobalAvgPool {
    /// The int8 form of the float layer `L` (a `GlobalAvgPool`).
    pub fn of<L: Geometry>(input: QParams, output: QParams) -> Self {
        Self::new(input, output, L::WINDOW.in_w)
    }

    /// The layer from its input's and output's parameters, over `positions` values per
    /// channel.
    pub fn new(input: QParams, output: QParams, positions: usize) -> Self {
        let (multiplier, shift) =
            quantize_multiplier(f64::from(input.scale) / f64::from(output.scale));
        Self {
            multiplier,
            shift,
            input_zero_point: input.zero_point,
            output,
            positions,
        }
    }

    /// The layer on one sample: `x` is `[c][positions]`, `y` is `[c]`.
    ///
    /// # Errors
    ///
    /// [`QuantError::Shape`] when the lengths do not match.
    pub fn forward_sample(&self, x: &[i8], y: &mut [i8]) -> Result<(), QuantError> {
        let n = self.positions;
        if n == 0 || y.len().checked_mul(n) != Some(x.len()) {
            return Err(QuantError::Shape);
        }
        let count = i64::try_from(n).map_err(|_| QuantError::Shape)?;
        // 1/n folded into the multiplier: `q · 2^k / n` (truncated) with `k = ⌊log₂ n⌋`
        // capped so that the product stays in 32 bits and the shift in range.
        let k = (63 - (n as u64).leading_zeros() as i32)
            .min(32)
            .min(31 + self.shift)
            .max(0);
        let multiplier = ((i64::from(self.multiplier) << k) / count) as i32;
        let shift = self.shift - k;
        for (d, xs) in y.iter_mut().zip(x.chunks_exact(n)) {
            let acc = xs.iter().fold(0i32, |a, &v| {
                a.wrapping_add(i32::from(v).wrapping_sub(self.input_zero_point))
            });
            let acc = multiply_by_quantized_multiplier_double_rounding(acc, multiplier, shift);
            *d = acc.saturating_add(self.output.zero_point).clamp(-128, 127) as i8;
        }
        Ok(())
    }

    /// The layer on a batch of `B` columns; a geometry that does not match the widths
    /// leaves `y` unchanged.
    pub fn forward<const NI: usize, const NO: usize, const B: usize>(
        &self,
        x: &SMatrix<i8, NI, B>,
        y: &mut SMatrix<i8, NO, B>,
    ) {
        for (xc, yc) in x
            .as_slice()
            .chunks_exact(NI.max(1))
            .zip(y.as_mut_slice().chunks_exact_mut(NO.max(1)))
        {
            let _ = self.forward_sample(xc, yc);
        }
    }
}

impl QLayer for QGlobalAvgPool {
    const KIND: u8 = 9;
    const BYTES: usize = 12 + QParams::BYTES;
    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.multiplier.to_le_bytes());
        out[4..8].copy_from_slice(&self.shift.to_le_bytes());
        out[8..12].copy_from_slice(&self.input_zero_point.to_le_bytes());
        self.output.write(&mut out[12..]);
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        self.multiplier = i32_at(bytes, 0);
        self.shift = i32_at(bytes, 4);
        self.input_zero_point = i32_at(bytes, 8);
        self.output.read(&bytes[12..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn win(n: usize, k: usize, stride: usize, pad: usize, dil: usize, out: usize) -> Window {
        Window {
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
        }
    }

    #[test]
    fn dilation_and_padding_pick_the_right_points() {
        // One channel 4×4 holding 0..16, kernel 2×2 dilated by 2, padding 1: output (0, 0)
        // sees (−1, −1), (−1, 1), (1, −1), (1, 1): only x[1][1] = 5 is inside.
        let x: [i8; 16] = core::array::from_fn(|k| k as i8);
        let w = [1i8; 4];
        let rq = Requantize {
            bias: &[0],
            multiplier: &[1 << 30],
            shift: &[1], // × 1
            input_zero_point: 0,
            output_zero_point: 0,
            min: -128,
            max: 127,
        };
        let geometry = win(4, 2, 1, 1, 2, 3);
        let mut y = [0i8; 9];
        conv2d(&geometry, 1, &x, &w, &rq, &mut y).unwrap();
        assert_eq!(y[0], 5);
        // Output (1, 1) sees (0, 0), (0, 2), (2, 0), (2, 2): 0 + 2 + 8 + 10.
        assert_eq!(y[4], 20);
        let mut d = [0i8; 9];
        depthwise_conv2d(&geometry, &x, &w, &rq, &mut d).unwrap();
        assert_eq!(d, y);
    }

    #[test]
    fn average_pooling_rounds_half_away_from_zero() {
        // One row of two values, one window of both.
        let pair = Window {
            in_h: 1,
            in_w: 2,
            out_h: 1,
            out_w: 1,
            k_h: 1,
            k_w: 2,
            ..win(1, 1, 1, 0, 1, 1)
        };
        let mut y = [0i8; 1];
        let cases = [
            ([3i8, 4], 4),
            ([-3, -4], -4),
            ([1, 2], 2),
            ([-1, -2], -2),
            ([5, 5], 5),
        ];
        for (x, mean) in cases {
            pool2d(&pair, Pool::Average, 1, &x, (-128, 127), &mut y).unwrap();
            assert_eq!(y[0], mean, "{x:?}");
        }
        // A window half in the padding averages the one value inside.
        let padded = Window {
            in_w: 1,
            pad_left: 1,
            ..pair
        };
        pool2d(&padded, Pool::Average, 1, &[-7], (-128, 127), &mut y).unwrap();
        assert_eq!(y[0], -7);
        pool2d(&padded, Pool::Max, 1, &[-7], (-5, 127), &mut y).unwrap();
        assert_eq!(y[0], -5);
    }

    #[test]
    fn wrong_lengths_are_typed_errors() {
        let g = win(3, 2, 1, 0, 1, 2);
        let rq = Requantize {
            bias: &[0, 0],
            multiplier: &[1 << 30, 1 << 30],
            shift: &[0, 0],
            input_zero_point: 0,
            output_zero_point: 0,
            min: -128,
            max: 127,
        };
        let (x, w) = ([0i8; 9], [0i8; 8]);
        let mut y = [0i8; 8];
        assert_eq!(conv2d(&g, 1, &x, &w, &rq, &mut y), Ok(()));
        assert_eq!(
            conv2d(&g, 1, &x[1..], &w, &rq, &mut y),
            Err(QuantError::Shape)
        );
        assert_eq!(
            conv2d(&g, 1, &x, &w[1..], &rq, &mut y),
            Err(QuantError::Shape)
        );
        assert_eq!(
            conv2d(&g, 1, &x, &w, &rq, &mut y[1..]),
            Err(QuantError::Shape)
        );
        let short = Requantize { shift: &[0], ..rq };
        assert_eq!(
            conv2d(&g, 1, &x, &w, &short, &mut y),
            Err(QuantError::Shape)
        );
        let still = Window { stride_h: 0, ..g };
        assert_eq!(
            pool2d(&still, Pool::Max, 1, &x, (-128, 127), &mut y[..4]),
            Err(QuantError::Shape)
        );
        assert_eq!(
            depthwise_conv2d(&g, &x, &w[..4], &rq, &mut y),
            Err(QuantError::Shape)
        );
    }

    /// A grouped convolution is the full convolution whose weights are 0 outside each
    /// output channel's group; groups 1 and groups = channels are `conv2d` and
    /// `depthwise_conv2d` exactly; groups that do not divide the channels are `Shape`.
    #[test]
    fn grouped_convolution_is_the_block_diagonal_full_one() {
        let (c_in, c_out, g, k) = (6usize, 4usize, 2usize, 3usize);
        let geometry = win(5, k, 2, 1, 1, 3);
        let x: [i8; 150] = core::array::from_fn(|i| ((i * 37 + 11) % 251) as i8);
        let kernel = k * k;
        let per_in = c_in / g;
        let w: [i8; 4 * 3 * 9] = core::array::from_fn(|i| ((i * 53 + 7) % 255) as i8);
        let mut full = [0i8; 4 * 6 * 9];
        for o in 0..c_out {
            let first = (o / (c_out / g)) * per_in;
            for i in 0..per_in {
                for t in 0..kernel {
                    full[(o * c_in + first + i) * kernel + t] = w[(o * per_in + i) * kernel + t];
                }
            }
        }
        let rq = Requantize {
            bias: &[100, -50, 7, 0],
            multiplier: &[1 << 30, 1_500_000_000, 1 << 29, 2_000_000_000],
            shift: &[-6, -7, -5, -8],
            input_zero_point: -3,
            output_zero_point: 5,
            min: -128,
            max: 127,
        };
        let (mut a, mut b) = ([0i8; 36], [0i8; 36]);
        grouped_conv2d(&geometry, c_in, g, &x, &w, &rq, &mut a).unwrap();
        conv2d(&geometry, c_in, &x, &full, &rq, &mut b).unwrap();
        assert_eq!(a, b);
        assert!(a.iter().any(|v| *v != a[0]), "{a:?}");
        // Groups = channels: the depthwise kernel.
        let rq4 = Requantize {
            bias: &rq.bias[..4],
            ..rq
        };
        let x4 = &x[..4 * 25];
        let w4 = &w[..4 * 9];
        grouped_conv2d(&geometry, 4, 4, x4, w4, &rq4, &mut a).unwrap();
        depthwise_conv2d(&geometry, x4, w4, &rq4, &mut b).unwrap();
        assert_eq!(a, b);
        for bad in [0, 3, 4] {
            assert_eq!(
                grouped_conv2d(&geometry, c_in, bad, &x, &w, &rq, &mut a),
                Err(QuantError::Shape)
            );
        }
    }
}
