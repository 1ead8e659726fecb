//! Convolutions `nn.Conv1d` and `nn.Conv2d`: zero padding, stride, dilation, groups, bias.
//!
//! One implementation serves both: a 1-D convolution is a 2-D one over a single row. The
//! layer's shape is given by const generic parameters (the `network!` macro computes them),
//! tied to the flat widths `I` and `O` of [`Layer`] by assertions evaluated when the layer is
//! instantiated (a wrong shape fails the build, naming the broken rule).
//!
//! Five ways of computing, chosen per layer at compile time (the first at run time too):
//! - `f32` where the kernel path is AVX-512, stride-1 ungrouped convolutions (LeNet-5's):
//!   the direct vector kernels of `conv_avx512` along the output rows, no patches (and
//!   otherwise one of the four below);
//! - direct loops over the kernel taps, each tap a run over a row of outputs (where the
//!   `Linear` kernels are the plain loops, on microcontrollers, and for the backward of
//!   every convolution with fewer than four output channels per group, such as depthwise
//!   ones);
//! - where the vector kernels exist, the forward of those convolutions with stride 1 over a
//!   zero-padded copy of each input plane on the stack (at most 1024 scalars): each tap is
//!   then one run over the whole output plane, not one per output row (5 wide in DS-CNN);
//! - pointwise convolutions (1 × 1, stride 1, no padding, one group, at most 512 positions
//!   per sample): one dense product per sample straight on the input and output columns,
//!   a sample's `[C, L]` block being the `L × C` matrix of its patches;
//! - elsewhere, the dense kernels of [`crate::kernels`] over the patches of a chunk of
//!   output positions at a time, the batch's positions end to end (im2col into a stack
//!   buffer of `chunk × KK` scalars, the chunk 256, 128 or 64 positions so that the buffer
//!   stays within 64 KiB where it can, and no larger than the batch needs): `Y = P·W` for
//!   the output, `dW += Pᵀ·dY` and `dP = dY·Wᵀ` (scattered back into `dx`) for the
//!   gradients. Each layer type has its own copy of these loops, its geometry a constant
//!   in them, so that no division by a width or a stride is left.

use bytemuck::{Pod, Zeroable};
use rand::Rng;

#[cfg(target_arch = "x86_64")]
use super::conv_avx512;
use crate::init::{Draw, Fans, RoundedF64};
use crate::io::Tensor;
use crate::kernels;
use crate::layout::Segment;
use crate::{Init, Layer, SMatrix, SVector, Scalar};

/// The geometry of a convolution or a pooling window over `[C, H, W]` (a 1-D layer has
/// `H = 1` and a kernel of height 1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geom {
    pub ci: usize,
    pub hi: usize,
    pub wi: usize,
    pub co: usize,
    pub ho: usize,
    pub wo: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
    pub g: usize,
}

/// PyTorch's output size `(n + 2p − d(k − 1) − 1) / s + 1`, or 0 when the dilated kernel
/// does not fit in the padded input (or a factor is 0).
pub(crate) const fn out_len(n: usize, k: usize, s: usize, p: usize, d: usize) -> usize {
    if k == 0 || s == 0 || d == 0 || n + 2 * p < d * (k - 1) + 1 {
        0
    } else {
        (n + 2 * p - d * (k - 1) - 1) / s + 1
    }
}

impl Geom {
    /// Input channels per group.
    #[inline(always)]
    pub const fn cig(&self) -> usize {
        self.ci / self.g
    }
    /// Output channels per group.
    #[inline(always)]
    pub const fn cog(&self) -> usize {
        self.co / self.g
    }
    /// Weights per output channel: `ci/g · kh · kw`.
    #[inline(always)]
    pub const fn kk(&self) -> usize {
        self.cig() * self.kh * self.kw
    }
    /// Output positions per channel.
    #[inline(always)]
    pub const fn l(&self) -> usize {
        self.ho * self.wo
    }

    /// Panics (at compile time, where it is called from a `const` block) unless the
    /// geometry is a valid convolution from `i` to `o` features with `kk` weights per output
    /// channel and `nb` biases.
    pub const fn check_conv(&self, i: usize, o: usize, kk: usize, nb: usize) {
        assert!(self.g >= 1, "convolution: groups must be at least 1");
        assert!(
            self.ci.is_multiple_of(self.g),
            "convolution: groups must divide the input channels"
        );
        assert!(
            self.co.is_multiple_of(self.g),
            "convolution: groups must divide the output channels"
        );
        assert!(self.co >= 1, "convolution: no output channels");
        assert!(
            self.sh >= 1 && self.sw >= 1,
            "convolution: a stride must be at least 1"
        );
        assert!(
            self.dh >= 1 && self.dw >= 1,
            "convolution: a dilation must be at least 1"
        );
        assert!(
            i == self.ci * self.hi * self.wi,
            "convolution: the input width I is not C·H·W (C·L)"
        );
        assert!(
            o == self.co * self.ho * self.wo,
            "convolution: the output width O is not C·H·W (C·L) of the output"
        );
        assert!(
            kk == self.kk(),
            "convolution: KK is not in_channels/groups · kernel size"
        );
        assert!(
            nb == self.co || nb == 0,
            "convolution: NB (biases) must be the output channels or 0"
        );
        assert!(
            self.ho >= 1 && self.ho == out_len(self.hi, self.kh, self.sh, self.ph, self.dh),
            "convolution: the output height (length) is not (in + 2p − d(k − 1) − 1)/s + 1"
        );
        assert!(
            self.wo >= 1 && self.wo == out_len(self.wi, self.kw, self.sw, self.pw, self.dw),
            "convolution: the output width (length) is not (in + 2p − d(k − 1) − 1)/s + 1"
        );
    }
}

/// The output positions `t < n_out` whose input index `t·s + off − p` lies in `[0, n_in)`:
/// the range `lo..hi` (empty when there is none).
#[inline(always)]
pub(crate) fn valid(n_out: usize, n_in: usize, s: usize, off: usize, p: usize) -> (usize, usize) {
    let lo = if off >= p { 0 } else { (p - off).div_ceil(s) };
    let top = n_in + p;
    let hi = if top <= off {
        0
    } else {
        ((top - off - 1) / s + 1).min(n_out)
    };
    (lo.min(hi), hi)
}

/// Types whose constants give a convolution's [`Geom`].
pub(crate) trait ConvShape {
    /// The geometry.
    const GEOM: Geom;
}

/// Fans of a convolution weight as `nn.init` computes them: `fan_in = FI` (in/groups ×
/// kernel size) and `fan_out = CO · KH · KW` (out channels × kernel size).
struct ConvFans<const FI: usize, const CO: usize, const KH: usize, const KW: usize>;

impl<const FI: usize, const CO: usize, const KH: usize, const KW: usize> Fans
    for ConvFans<FI, CO, KH, KW>
{
    const FAN_IN: usize = FI;
    const FAN_OUT: usize = CO * KH * KW;
}

/// 2-D convolution, PyTorch's `nn.Conv2d` with `padding_mode = "zeros"`.
///
/// For each sample, output channel `o` in group `g = o / (CO/G)` and position `(y, x)`:
///
/// `out[o, y, x] = bias[o] + Σ_{j < CI/G} Σ_{i < KH} Σ_{k < KW}
///     weight[o, j, i, k] · in[g·CI/G + j, y·SH − PH + i·DH, x·SW − PW + k·DW]`,
///
/// with `in` zero outside the input. The output shape is `[CO, HO, WO]`,
/// `HO = (HI + 2·PH − DH·(KH − 1) − 1) / SH + 1` (floor), likewise `WO`.
///
/// # Type parameters
///
/// The input shape `[CI, HI, WI]`, the output shape `[CO, HO, WO]`, the kernel `KH × KW`,
/// the stride `SH, SW`, the zero padding `PH, PW`, the dilation `DH, DW`, the groups `G`
/// (`G = CI = CO` is a depthwise convolution), `KK = CI/G · KH · KW` (the weights of one
/// output channel) and `NB`, the number of biases: `CO` with a bias, `0` without. The layer
/// implements [`Layer<T, I, O>`] for `I = CI·HI·WI` and `O = CO·HO·WO` only; every relation
/// above is asserted when the layer is used (a build error otherwise).
///
/// # Layout and initialisation
///
/// A sample is `CI·HI·WI` values in PyTorch's order (channel, row, column). The weight is
/// stored as PyTorch's `[CO, CI/G, KH, KW]` in row-major order ([`ConvParams::weight`] is
/// `KK × CO`, one output channel per column); the bias is `[CO]`. Both start as PyTorch's
/// default (`kaiming_uniform(a = √5)`, i.e. uniform on `±1/√fan_in`, and the bias on
/// `±1/√fan_in`, `fan_in = KK`); every [`Init`] scheme uses PyTorch's fans for a
/// convolution: `fan_in = KK`, `fan_out = CO·KH·KW`.
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::layers::{Conv2d, ConvParams};
///
/// // 1 → 2 channels, 3 × 3 kernel, padding 1, on a 4 × 4 image: [1, 4, 4] → [2, 4, 4].
/// let conv = Conv2d::<1, 4, 4, 2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 9, 2>::default();
/// let mut p = ConvParams::<f64, 9, 2, 2>::zeroed();
/// p.weight[(4, 0)] = 1.0; // channel 0: the identity (centre tap)
/// p.weight.column_mut(1).fill(1.0); // channel 1: the sum of the 3 × 3 neighbourhood
/// let x = SMatrix::<f64, 16, 1>::from_fn(|i, _| i as f64);
/// let mut y = SMatrix::<f64, 32, 1>::zeros();
/// Layer::<f64, 16, 32>::forward(&conv, &p, &(), &x, &mut y);
/// assert_eq!(y[5], 5.0);
/// assert_eq!(y[16], 0.0 + 1.0 + 4.0 + 5.0); // top-left corner of channel 1
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2d<
    const CI: usize,
    const HI: usize,
    const WI: usize,
    const CO: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const DH: usize,
    const DW: usize,
    const G: usize,
    const KK: usize,
    const NB: usize,
> {
    /// Initialisation of the weight.
    pub weight: Init,
    /// Initialisation of the bias (unused when `NB = 0`).
    pub bias: Init,
}

/// 1-D convolution, PyTorch's `nn.Conv1d` with `padding_mode = "zeros"`:
///
/// `out[o, t] = bias[o] + Σ_{j < CI/G} Σ_{k < K} weight[o, j, k] · in[g·CI/G + j, t·S − P + k·D]`,
///
/// on `[CI, LI]` → `[CO, LO]`, `LO = (LI + 2·P − D·(K − 1) − 1) / S + 1`. Type parameters,
/// layout and initialisation as [`Conv2d`]'s with one spatial axis: `KK = CI/G · K`, `NB`
/// is `CO` with a bias and `0` without, and the weight is PyTorch's `[CO, CI/G, K]`.
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::layers::{Conv1d, ConvParams};
///
/// // 1 → 1 channel, kernel 2, stride 2, no bias: [1, 6] → [1, 3].
/// let conv = Conv1d::<1, 6, 1, 3, 2, 2, 0, 1, 1, 2, 0>::default();
/// let mut p = ConvParams::<f32, 2, 1, 0>::zeroed();
/// p.weight.fill(0.5); // the mean of each pair
/// let x = SMatrix::<f32, 6, 1>::from_column_slice(&[1.0, 3.0, 5.0, 7.0, 0.0, 2.0]);
/// let mut y = SMatrix::<f32, 3, 1>::zeros();
/// Layer::<f32, 6, 3>::forward(&conv, &p, &(), &x, &mut y);
/// assert_eq!(y.as_slice(), &[2.0, 6.0, 1.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv1d<
    const CI: usize,
    const LI: usize,
    const CO: usize,
    const LO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const D: usize,
    const G: usize,
    const KK: usize,
    const NB: usize,
> {
    /// Initialisation of the weight.
    pub weight: Init,
    /// Initialisation of the bias (unused when `NB = 0`).
    pub bias: Init,
}

/// Parameters of a convolution: `KK` weights for each of `CO` output channels and `NB`
/// biases (`CO`, or 0 for a convolution without bias).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvParams<T: Scalar, const KK: usize, const CO: usize, const NB: usize> {
    /// `KK × CO`, column `o` the weights of output channel `o` in PyTorch's order
    /// (`[in/groups, kh, kw]` row-major): the whole matrix is PyTorch's `[CO, CI/G, KH, KW]`
    /// row-major.
    pub weight: SMatrix<T, KK, CO>,
    /// One bias per output channel (none when `NB = 0`).
    pub bias: SVector<T, NB>,
}

impl<T: Scalar, const KK: usize, const CO: usize, const NB: usize> ConvParams<T, KK, CO, NB> {
    /// All zeros.
    pub fn zeroed() -> Self {
        Zeroable::zeroed()
    }
}

// SAFETY: `#[repr(C)]`, both fields are `Pod` blocks of `T` with `T`'s alignment (the bias
// possibly empty), so there is no padding and every bit pattern is valid.
unsafe impl<T: Scalar, const KK: usize, const CO: usize, const NB: usize> Zeroable
    for ConvParams<T, KK, CO, NB>
{
}
// SAFETY: as above.
unsafe impl<T: Scalar, const KK: usize, const CO: usize, const NB: usize> Pod
    for ConvParams<T, KK, CO, NB>
{
}

impl<
    const CI: usize,
    const HI: usize,
    const WI: usize,
    const CO: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const DH: usize,
    const DW: usize,
    const G: usize,
    const KK: usize,
    const NB: usize,
> Default for Conv2d<CI, HI, WI, CO, HO, WO, KH, KW, SH, SW, PH, PW, DH, DW, G, KK, NB>
{
    fn default() -> Self {
        Conv2d {
            weight: Init::TorchDefault,
            bias: Init::TorchDefault,
        }
    }
}

impl<
    const CI: usize,
    const LI: usize,
    const CO: usize,
    const LO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const D: usize,
    const G: usize,
    const KK: usize,
    const NB: usize,
> Default for Conv1d<CI, LI, CO, LO, K, S, P, D, G, KK, NB>
{
    fn default() -> Self {
        Conv1d {
            weight: Init::TorchDefault,
            bias: Init::TorchDefault,
        }
    }
}

impl<
    const CI: usize,
    const HI: usize,
    const WI: usize,
    const CO: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const DH: usize,
    const DW: usize,
    const G: usize,
    const KK: usize,
    const NB: usize,
> ConvShape for Conv2d<CI, HI, WI, CO, HO, WO, KH, KW, SH, SW, PH, PW, DH, DW, G, KK, NB>
{
    const GEOM: Geom = Geom {
        ci: CI,
        hi: HI,
        wi: WI,
        co: CO,
        ho: HO,
        wo: WO,
        kh: KH,
        kw: KW,
        sh: SH,
        sw: SW,
        ph: PH,
        pw: PW,
        dh: DH,
        dw: DW,
        g: G,
    };
}

impl<
    const CI: usize,
    const LI: usize,
    const CO: usize,
    const LO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const D: usize,
    const G: usize,
    const KK: usize,
    const NB: usize,
> ConvShape for Conv1d<CI, LI, CO, LO, K, S, P, D, G, KK, NB>
{
    const GEOM: Geom = Geom {
        ci: CI,
        hi: 1,
        wi: LI,
        co: CO,
        ho: 1,
        wo: LO,
        kh: 1,
        kw: K,
        sh: 1,
        sw: S,
        ph: 0,
        pw: P,
        dh: 1,
        dw: D,
        g: G,
    };
}

/// `a / b`, 0 when `b` is 0 (which the shape assertions reject): a division that cannot
/// panic, so that the tensor shapes can be `'static` constants.
const fn quot(a: usize, b: usize) -> usize {
    match a.checked_div(b) {
        Some(q) => q,
        None => 0,
    }
}

/// The first `n` entries of `all`.
const fn first<T>(all: &'static [T], n: usize) -> &'static [T] {
    all.split_at(n).0
}

/// Implements [`Layer`] for a convolution type whose [`ConvShape`] is given; `$weight_shape`
/// is PyTorch's weight shape.
macro_rules! conv_layer {
    ($kind:literal, $ty:ty, [$($gen:ident),*], $weight_shape:expr, $kh:tt, $kw:tt) => {
        impl<T: Scalar, const I: usize, const O: usize, $(const $gen: usize),*> Layer<T, I, O>
            for $ty
        {
            type Params = ConvParams<T, KK, CO, NB>;
            type State = ();
            type Tape<const B: usize> = ();
            const KIND: &'static str = $kind;
            const FLOPS: usize = 2 * KK * O;
            /// `CO` weight matrices of `1 × KK` (each output channel's filter is one unit's
            /// incoming weights, for max-norm) and the `NB` biases.
            const SEGMENTS: &'static [Segment] = first(
                &[Segment::weights(1, KK, CO), Segment::bias(NB)],
                if NB == 0 { 1 } else { 2 },
            );
            /// `weight` `[CO, CI/G, K…]` (row-major, as stored) and, with a bias, `bias`
            /// `[CO]`, as in PyTorch.
            const TENSORS: &'static [Tensor] = first(
                &[
                    Tensor::params("weight", 0, $weight_shape),
                    Tensor::params("bias", KK * CO, &[NB]),
                ],
                if NB == 0 { 1 } else { 2 },
            );

            fn init_params<R: Rng + ?Sized>(&self, p: &mut Self::Params, s: &mut (), rng: &mut R) {
                <Self as Layer<T, I, O>>::init_params_with(self, RoundedF64, p, s, rng)
            }

            #[inline(always)]
            fn init_params_with<D2: Draw, R: Rng + ?Sized>(
                &self,
                draw: D2,
                p: &mut Self::Params,
                _: &mut (),
                rng: &mut R,
            ) {
                check::<Self, I, O, KK, NB>();
                (self.weight).fill_fans::<D2, T, R, ConvFans<KK, CO, $kh, $kw>>(
                    draw,
                    p.weight.as_mut_slice(),
                    rng,
                );
                (self.bias).fill_fans::<D2, T, R, ConvFans<KK, CO, $kh, $kw>>(
                    draw,
                    p.bias.as_mut_slice(),
                    rng,
                );
            }

            #[inline]
            fn forward<const B: usize>(
                &self,
                p: &Self::Params,
                _: &(),
                x: &SMatrix<T, I, B>,
                y: &mut SMatrix<T, O, B>,
            ) {
                check::<Self, I, O, KK, NB>();
                conv_forward::<T, Self, KK, CO, B>(
                    p.weight.as_slice(),
                    p.bias.as_slice(),
                    x.as_slice(),
                    y.as_mut_slice(),
                );
            }

            #[inline]
            fn backward<const B: usize>(
                &self,
                p: &Self::Params,
                x: &SMatrix<T, I, B>,
                _: &SMatrix<T, O, B>,
                _: &(),
                dy: &SMatrix<T, O, B>,
                dx: Option<&mut SMatrix<T, I, B>>,
                g: &mut Self::Params,
            ) {
                check::<Self, I, O, KK, NB>();
                conv_backward::<T, Self, KK, CO, B>(
                    p.weight.as_slice(),
                    x.as_slice(),
                    dy.as_slice(),
                    g.weight.as_mut_slice(),
                    g.bias.as_mut_slice(),
                    dx.map(|dx| dx.as_mut_slice()),
                );
            }
        }
    };
}

conv_layer!(
    "Conv2d",
    Conv2d<CI, HI, WI, CO, HO, WO, KH, KW, SH, SW, PH, PW, DH, DW, G, KK, NB>,
    [CI, HI, WI, CO, HO, WO, KH, KW, SH, SW, PH, PW, DH, DW, G, KK, NB],
    &[CO, quot(CI, G), KH, KW],
    KH,
    KW
);

conv_layer!(
    "Conv1d",
    Conv1d<CI, LI, CO, LO, K, S, P, D, G, KK, NB>,
    [CI, LI, CO, LO, K, S, P, D, G, KK, NB],
    &[CO, quot(CI, G), K],
    1,
    K
);

/// Asserts at compile time that `S`'s geometry is a valid convolution from `I` to `O`
/// features with `KK` weights per output channel and `NB` biases.
#[inline(always)]
fn check<S: ConvShape, const I: usize, const O: usize, const KK: usize, const NB: usize>() {
    const { S::GEOM.check_conv(I, O, KK, NB) }
}

/// Whether the convolution runs on the dense kernels over patches (im2col) rather than in
/// direct loops: where the kernels are not the plain loops, and with at least four output
/// channels per group (a depthwise convolution has one: its patches would be copied for a
/// product with a single column).
const fn use_gemm(g: &Geom) -> bool {
    kernels::BLOCKED && g.cog() >= 4
}

/// Output positions per dense product on the im2col path, for `n` positions in the whole
/// batch: the most of 256, 128 and 64 whose patch buffer (`positions × KK` scalars) fits in
/// 64 KiB (64 beyond), measured on LeNet-5 and DS-CNN layers (larger buffers, leaving L1
/// and half of L2, were slower); no more than the smallest power of two from 16 that
/// holds the `n` positions, so that a small batch does not clear a large buffer.
const fn chunk<T>(kk: usize, n: usize) -> usize {
    let bytes = kk * core::mem::size_of::<T>();
    let most = if 256 * bytes <= 64 << 10 {
        256
    } else if 128 * bytes <= 64 << 10 {
        128
    } else {
        64
    };
    let mut c = 16;
    while c < n && c < most {
        c *= 2;
    }
    c
}

/// The most output positions of one sample that the pointwise path takes (its stack
/// buffers hold this many scalars).
const POINTWISE_MAX: usize = 512;

/// Whether the convolution is pointwise (1 × 1, stride 1, no padding, one group) and runs
/// as one dense product per sample straight on the input and output columns: a sample's
/// `[CI, L]` block is the `L × CI` matrix of its patches, and its `[CO, L]` output the
/// `L × CO` product, so no patch is copied.
const fn use_pointwise(g: &Geom) -> bool {
    kernels::BLOCKED
        && g.kh == 1
        && g.kw == 1
        && g.sh == 1
        && g.sw == 1
        && g.ph == 0
        && g.pw == 0
        && g.g == 1
        && g.cog() >= 4
        && g.l() <= POINTWISE_MAX
}

/// The most scalars of a zero-padded input plane on the padded-plane path.
const PLANE_MAX: usize = 1024;

/// Whether the direct forward runs over zero-padded copies of the input planes (stride 1,
/// where the vector kernels exist): each kernel tap is then one run of multiply-adds over
/// the whole output plane (computed on the padded width, the extra columns dropped),
/// rather than a short run per output row, the rows of a depthwise DS-CNN layer being 5
/// wide.
const fn use_padded_plane(g: &Geom) -> bool {
    kernels::BLOCKED
        && !use_gemm(g)
        && g.sh == 1
        && g.sw == 1
        && (g.hi + 2 * g.ph) * (g.wi + 2 * g.pw) <= PLANE_MAX
}

/// Whether the convolution runs on the direct AVX-512 kernels of [`conv_avx512`] where the
/// CPU has them and `T` is `f32` (stride 1, one group: LeNet-5's convolutions), its
/// flipped kernel for the input gradient at most 64 KiB on the stack. Pointwise
/// convolutions keep their dense product.
#[cfg(target_arch = "x86_64")]
const fn use_direct_avx512<T>(g: &Geom) -> bool {
    conv_avx512::applies(g)
        && !use_pointwise(g)
        && g.kk() * g.co * core::mem::size_of::<T>() <= 64 << 10
}

/// Forward over a batch (`x` and `y` hold `B` whole columns).
#[inline]
fn conv_forward<T: Scalar, S: ConvShape, const KK: usize, const CO: usize, const B: usize>(
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
) {
    let g = S::GEOM;
    if const { use_pointwise(&S::GEOM) } {
        return pointwise_forward::<T, S, KK, CO>(w, bias, x, y);
    }
    #[cfg(target_arch = "x86_64")]
    if const { use_direct_avx512::<T>(&S::GEOM) } && conv_avx512::forward::<T, S>(w, bias, x, y) {
        return;
    }
    if const { use_gemm(&S::GEOM) } {
        match const { chunk::<T>(KK, B * S::GEOM.l()) } {
            256 => gemm_forward_of::<T, S, KK, CO, 256>(w, bias, x, y),
            128 => gemm_forward_of::<T, S, KK, CO, 128>(w, bias, x, y),
            64 => gemm_forward_of::<T, S, KK, CO, 64>(w, bias, x, y),
            32 => gemm_forward_of::<T, S, KK, CO, 32>(w, bias, x, y),
            _ => gemm_forward_of::<T, S, KK, CO, 16>(w, bias, x, y),
        }
        return;
    }
    if const { use_padded_plane(&S::GEOM) } {
        return padded_plane_forward::<T, S>(w, bias, x, y);
    }
    let (ni, no) = (g.ci * g.hi * g.wi, g.co * g.l());
    for (xs, ys) in x.chunks_exact(ni).zip(y.chunks_exact_mut(no)) {
        direct_forward(&g, w, bias, xs, ys);
    }
}

/// Backward over a batch: adds the weight and bias gradients, writes `dx` when given.
#[inline]
fn conv_backward<T: Scalar, S: ConvShape, const KK: usize, const CO: usize, const B: usize>(
    w: &[T],
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    db: &mut [T],
    mut dx: Option<&mut [T]>,
) {
    let g = S::GEOM;
    if const { use_pointwise(&S::GEOM) } {
        return pointwise_backward::<T, S, KK, CO>(w, x, dy, dw, db, dx);
    }
    #[cfg(target_arch = "x86_64")]
    if const { use_direct_avx512::<T>(&S::GEOM) } && conv_avx512::runs::<T>() {
        // The flipped kernel of the input gradient.
        let mut wbuf = [[T::zero(); KK]; CO];
        let wbuf = wbuf.as_flattened_mut();
        if conv_avx512::backward::<T, S>(w, x, dy, dw, db, dx.as_deref_mut(), wbuf) {
            return;
        }
    }
    if let Some(dx) = dx.as_deref_mut() {
        dx.fill(T::zero());
    }
    if const { use_gemm(&S::GEOM) } {
        match const { chunk::<T>(KK, B * S::GEOM.l()) } {
            256 => gemm_backward_of::<T, S, KK, CO, 256>(w, x, dy, dw, db, dx),
            128 => gemm_backward_of::<T, S, KK, CO, 128>(w, x, dy, dw, db, dx),
            64 => gemm_backward_of::<T, S, KK, CO, 64>(w, x, dy, dw, db, dx),
            32 => gemm_backward_of::<T, S, KK, CO, 32>(w, x, dy, dw, db, dx),
            _ => gemm_backward_of::<T, S, KK, CO, 16>(w, x, dy, dw, db, dx),
        }
        return;
    }
    let (ni, no) = (g.ci * g.hi * g.wi, g.co * g.l());
    for (b, (xs, dys)) in x.chunks_exact(ni).zip(dy.chunks_exact(no)).enumerate() {
        let dxs = dx.as_deref_mut().map(|d| &mut d[b * ni..(b + 1) * ni]);
        direct_backward(&g, w, xs, dys, dw, db, dxs);
    }
}

/// [`gemm_forward`] for the geometry of `S`, a constant there: out of line, one copy per
/// layer type, with every division by a stride or a width folded.
#[inline(never)]
fn gemm_forward_of<T: Scalar, S: ConvShape, const KK: usize, const CO: usize, const C: usize>(
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
) {
    gemm_forward::<T, KK, CO, C>(&S::GEOM, w, bias, x, y)
}

/// [`gemm_backward`] for the geometry of `S` (see [`gemm_forward_of`]).
#[inline(never)]
fn gemm_backward_of<T: Scalar, S: ConvShape, const KK: usize, const CO: usize, const C: usize>(
    w: &[T],
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    db: &mut [T],
    dx: Option<&mut [T]>,
) {
    gemm_backward::<T, KK, CO, C>(&S::GEOM, w, x, dy, dw, db, dx)
}

/// The pointwise forward ([`use_pointwise`]): per sample `Y = X · W` on the dense kernels
/// (`X`: the sample's `L × CI` block, `W`: `CI × CO`), then the bias.
#[inline(never)]
fn pointwise_forward<T: Scalar, S: ConvShape, const KK: usize, const CO: usize>(
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
) {
    let l = S::GEOM.l();
    let zeros = [T::zero(); POINTWISE_MAX];
    for (xs, ys) in x.chunks_exact(KK * l).zip(y.chunks_exact_mut(CO * l)) {
        kernels::affine(xs, &zeros[..l], w, ys, KK, l);
        if !bias.is_empty() {
            for (yo, &b) in ys.chunks_exact_mut(l).zip(bias) {
                yo.iter_mut().for_each(|v| *v += b);
            }
        }
    }
}

/// The pointwise backward ([`use_pointwise`]): per sample `dW += Xᵀ · dY`, the bias
/// gradient, and `dX = dY · Wᵀ` written straight into the sample's input gradient.
#[inline(never)]
fn pointwise_backward<T: Scalar, S: ConvShape, const KK: usize, const CO: usize>(
    w: &[T],
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    db: &mut [T],
    mut dx: Option<&mut [T]>,
) {
    let l = S::GEOM.l();
    let mut junk = [T::zero(); POINTWISE_MAX];
    for (s, (xs, dys)) in x
        .chunks_exact(KK * l)
        .zip(dy.chunks_exact(CO * l))
        .enumerate()
    {
        for (dyo, d) in dys.chunks_exact(l).zip(db.iter_mut()) {
            let mut sum = T::zero();
            for &v in dyo {
                sum += v;
            }
            *d += sum;
        }
        // dW (CI × CO) += Xᵀ · dY: the kernels' `Wᵀ · dY` with `X` as `W`.
        kernels::affine_input_grad_acc(xs, dys, dw, KK, l);
        if let Some(dx) = dx.as_deref_mut() {
            // dX (L × CI) = dY · Wᵀ: the kernels' `dY · Xᵀ` with `W` as `X`.
            let dxs = &mut dx[s * KK * l..(s + 1) * KK * l];
            kernels::affine_grads_set(dxs, &mut junk[..l], w, dys, KK, l);
        }
    }
}

/// The forward over zero-padded planes ([`use_padded_plane`]): for each sample, output
/// channel and input channel of its group, the input plane is copied into the middle of a
/// zeroed `(HI + 2·PH) × (WI + 2·PW)` buffer, and each tap adds `w · plane` shifted by the
/// tap's offset over the output plane laid out on the padded width. The taps are added in
/// the order of the direct loops, from the bias; a tap in the padding adds `w · 0`.
#[inline(never)]
fn padded_plane_forward<T: Scalar, S: ConvShape>(w: &[T], bias: &[T], x: &[T], y: &mut [T]) {
    let g = &S::GEOM;
    let (l, cig, cog, kk) = (g.l(), g.cig(), g.cog(), g.kk());
    let (hp, wp) = (g.hi + 2 * g.ph, g.wi + 2 * g.pw);
    let plane = g.hi * g.wi;
    // The output plane on the padded width, its last row cut at WO: every tap's run then
    // stays inside the padded plane.
    let n = (g.ho - 1) * wp + g.wo;
    let mut pad = [T::zero(); PLANE_MAX];
    let mut acc = [T::zero(); PLANE_MAX];
    let pad = &mut pad[..hp * wp];
    let acc = &mut acc[..n];
    let (ni, no) = (g.ci * plane, g.co * l);
    for (xs, ys) in x.chunks_exact(ni).zip(y.chunks_exact_mut(no)) {
        for o in 0..g.co {
            acc.fill(if bias.is_empty() { T::zero() } else { bias[o] });
            let grp = o / cog;
            for j in 0..cig {
                let xc = &xs[(grp * cig + j) * plane..][..plane];
                // Only the middle is written: the border stays zero.
                for (r, src) in xc.chunks_exact(g.wi).enumerate() {
                    pad[(r + g.ph) * wp + g.pw..][..g.wi].copy_from_slice(src);
                }
                for kh in 0..g.kh {
                    for kw in 0..g.kw {
                        let wv = w[o * kk + (j * g.kh + kh) * g.kw + kw];
                        let src = &pad[kh * g.dh * wp + kw * g.dw..][..n];
                        for (a, &v) in acc.iter_mut().zip(src) {
                            *a += wv * v;
                        }
                    }
                }
            }
            for oh in 0..g.ho {
                ys[o * l + oh * g.wo..][..g.wo].copy_from_slice(&acc[oh * wp..][..g.wo]);
            }
        }
    }
}

/// One sample's forward in direct loops: each kernel tap adds `w · x` along the rows of
/// outputs whose input lies inside the image.
#[inline]
pub(super) fn direct_forward<T: Scalar>(g: &Geom, w: &[T], bias: &[T], x: &[T], y: &mut [T]) {
    let (l, cig, cog, kk) = (g.l(), g.cig(), g.cog(), g.kk());
    let plane = g.hi * g.wi;
    for o in 0..g.co {
        let yo = &mut y[o * l..(o + 1) * l];
        yo.fill(if bias.is_empty() { T::zero() } else { bias[o] });
        let grp = o / cog;
        for j in 0..cig {
            let xc = &x[(grp * cig + j) * plane..][..plane];
            for kh in 0..g.kh {
                let (oh_lo, oh_hi) = valid(g.ho, g.hi, g.sh, kh * g.dh, g.ph);
                for kw in 0..g.kw {
                    let (ow_lo, ow_hi) = valid(g.wo, g.wi, g.sw, kw * g.dw, g.pw);
                    let wv = w[o * kk + (j * g.kh + kh) * g.kw + kw];
                    for oh in oh_lo..oh_hi {
                        let xr = &xc[(oh * g.sh + kh * g.dh - g.ph) * g.wi..][..g.wi];
                        let yr = &mut yo[oh * g.wo..][..g.wo];
                        for ow in ow_lo..ow_hi {
                            yr[ow] += wv * xr[ow * g.sw + kw * g.dw - g.pw];
                        }
                    }
                }
            }
        }
    }
}

/// One sample's backward in direct loops: adds into `dw` and `db` (when the layer has a
/// bias), adds into `dx` (zeroed by the caller) when given.
#[inline]
pub(super) fn direct_backward<T: Scalar>(
    g: &Geom,
    w: &[T],
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    db: &mut [T],
    mut dx: Option<&mut [T]>,
) {
    let (l, cig, cog, kk) = (g.l(), g.cig(), g.cog(), g.kk());
    let plane = g.hi * g.wi;
    for o in 0..g.co {
        let dyo = &dy[o * l..(o + 1) * l];
        if !db.is_empty() {
            let mut s = T::zero();
            for &v in dyo {
                s += v;
            }
            db[o] += s;
        }
        let grp = o / cog;
        for j in 0..cig {
            let c = grp * cig + j;
            let xc = &x[c * plane..][..plane];
            for kh in 0..g.kh {
                let (oh_lo, oh_hi) = valid(g.ho, g.hi, g.sh, kh * g.dh, g.ph);
                for kw in 0..g.kw {
                    let (ow_lo, ow_hi) = valid(g.wo, g.wi, g.sw, kw * g.dw, g.pw);
                    let wi = o * kk + (j * g.kh + kh) * g.kw + kw;
                    let wv = w[wi];
                    let mut acc = T::zero();
                    for oh in oh_lo..oh_hi {
                        let ih = oh * g.sh + kh * g.dh - g.ph;
                        let xr = &xc[ih * g.wi..][..g.wi];
                        let dyr = &dyo[oh * g.wo..][..g.wo];
                        for ow in ow_lo..ow_hi {
                            acc += dyr[ow] * xr[ow * g.sw + kw * g.dw - g.pw];
                        }
                        if let Some(dx) = dx.as_deref_mut() {
                            let dxr = &mut dx[c * plane + ih * g.wi..][..g.wi];
                            for ow in ow_lo..ow_hi {
                                dxr[ow * g.sw + kw * g.dw - g.pw] += wv * dyr[ow];
                            }
                        }
                    }
                    dw[wi] += acc;
                }
            }
        }
    }
}

/// Visits the patches of the chunk `q0 .. q0 + rem` of group `grp` (output positions
/// counted over the whole batch, `q = sample · HO·WO + position`), laid out `rem × KK`
/// column-major (for each weight index `k`, one value per position): for each piece of the
/// chunk that lies in one output row and each weight index, `inside(p_index, x_index, len)`
/// for the `len` values whose inputs lie in the image (input index advancing by the stride
/// `SW`), `outside(p_index, len)` for those in the zero padding. Plain loops, pieces outer
/// (one division per piece), so that with a constant geometry everything folds.
#[inline(always)]
fn taps(
    g: &Geom,
    grp: usize,
    q0: usize,
    rem: usize,
    mut inside: impl FnMut(usize, usize, usize),
    mut outside: impl FnMut(usize, usize),
) {
    let plane = g.hi * g.wi;
    let (ni, l) = (g.ci * plane, g.l());
    let mut r = 0;
    while r < rem {
        let q = q0 + r;
        let (s, pos) = (q / l, q % l);
        let (oh, ow0) = (pos / g.wo, pos % g.wo);
        let len = (g.wo - ow0).min(rem - r);
        let end = ow0 + len;
        let mut k = 0;
        for j in 0..g.cig() {
            let base = s * ni + (grp * g.cig() + j) * plane;
            for kh in 0..g.kh {
                let ih = (oh * g.sh + kh * g.dh).wrapping_sub(g.ph);
                for kw in 0..g.kw {
                    let pi = k * rem + r;
                    k += 1;
                    let (lo, hi) = valid(g.wo, g.wi, g.sw, kw * g.dw, g.pw);
                    let (a, b) = (lo.clamp(ow0, end), hi.clamp(ow0, end));
                    if ih >= g.hi || a >= b {
                        outside(pi, len);
                        continue;
                    }
                    if a > ow0 {
                        outside(pi, a - ow0);
                    }
                    let xi = base + ih * g.wi + a * g.sw + kw * g.dw - g.pw;
                    inside(pi + a - ow0, xi, b - a);
                    if end > b {
                        outside(pi + b - ow0, end - b);
                    }
                }
            }
        }
        r += len;
    }
}

/// The patches of the chunk `q0 .. q0 + rem` of group `grp` into `p` (see [`taps`]).
#[inline(always)]
fn gather<T: Scalar>(g: &Geom, grp: usize, q0: usize, rem: usize, x: &[T], p: &mut [T]) {
    let p = core::cell::Cell::from_mut(p).as_slice_of_cells();
    taps(
        g,
        grp,
        q0,
        rem,
        |pi, xi, len| {
            if g.sw == 1 {
                for (d, v) in p[pi..pi + len].iter().zip(&x[xi..xi + len]) {
                    d.set(*v);
                }
            } else {
                for (t, d) in p[pi..pi + len].iter().enumerate() {
                    d.set(x[xi + t * g.sw]);
                }
            }
        },
        |pi, len| p[pi..pi + len].iter().for_each(|d| d.set(T::zero())),
    );
}

/// Adds the patches `p` of the chunk `q0 .. q0 + rem` of group `grp` into the input
/// positions they came from in `dx`: weight index by weight index, each over the chunk's
/// row pieces in order (the order of the additions into each input, which [`taps`]'s
/// pieces-outer walk would change).
#[inline(always)]
fn scatter_add<T: Scalar>(g: &Geom, grp: usize, q0: usize, rem: usize, p: &[T], dx: &mut [T]) {
    let plane = g.hi * g.wi;
    let (ni, l) = (g.ci * plane, g.l());
    let mut k = 0;
    for j in 0..g.cig() {
        for kh in 0..g.kh {
            for kw in 0..g.kw {
                let (lo, hi) = valid(g.wo, g.wi, g.sw, kw * g.dw, g.pw);
                let mut r = 0;
                while r < rem {
                    let q = q0 + r;
                    let (s, pos) = (q / l, q % l);
                    let (oh, ow0) = (pos / g.wo, pos % g.wo);
                    let len = (g.wo - ow0).min(rem - r);
                    let end = ow0 + len;
                    let ih = (oh * g.sh + kh * g.dh).wrapping_sub(g.ph);
                    let (a, b) = (lo.clamp(ow0, end), hi.clamp(ow0, end));
                    if ih < g.hi && a < b {
                        let pi = k * rem + r + a - ow0;
                        let base = s * ni + (grp * g.cig() + j) * plane;
                        let xi = base + ih * g.wi + a * g.sw + kw * g.dw - g.pw;
                        let n = b - a;
                        if g.sw == 1 {
                            for (d, v) in dx[xi..xi + n].iter_mut().zip(&p[pi..pi + n]) {
                                *d += *v;
                            }
                        } else {
                            for (t, v) in p[pi..pi + n].iter().enumerate() {
                                dx[xi + t * g.sw] += *v;
                            }
                        }
                    }
                    r += len;
                }
                k += 1;
            }
        }
    }
}

/// Calls `f(r, len, at)` for each run of the chunk `q0 .. q0 + rem` that lies in one
/// sample: `len` positions from row `r` of the chunk, starting at index `at` of channel 0
/// of that sample's output (add `o · HO·WO` for channel `o`).
#[inline(always)]
fn runs(g: &Geom, q0: usize, rem: usize, mut f: impl FnMut(usize, usize, usize)) {
    let (l, no) = (g.l(), g.co * g.l());
    let mut r = 0;
    while r < rem {
        let q = q0 + r;
        let (s, p) = (q / l, q % l);
        let len = (l - p).min(rem - r);
        f(r, len, s * no + p);
        r += len;
    }
}

/// The forward over a batch on the dense kernels: for each group and each chunk of `C`
/// output positions (spanning samples), `Y = P · W_g` (`P`: the patches, `rem × KK`;
/// `W_g`: the group's `KK × CO/G` weights), then the bias.
#[inline(always)]
fn gemm_forward<T: Scalar, const KK: usize, const CO: usize, const C: usize>(
    g: &Geom,
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
) {
    let mut pbuf = [[T::zero(); C]; KK];
    let mut ybuf = [[T::zero(); C]; CO];
    let zeros = [T::zero(); C];
    let (l, cog) = (g.l(), g.cog());
    let total = y.len() / (g.co * l) * l;
    for grp in 0..g.g {
        let wg = &w[grp * cog * KK..(grp + 1) * cog * KK];
        let mut q0 = 0;
        while q0 < total {
            let rem = C.min(total - q0);
            let p = &mut pbuf.as_flattened_mut()[..rem * KK];
            gather(g, grp, q0, rem, x, p);
            let yc = &mut ybuf.as_flattened_mut()[..rem * cog];
            kernels::affine(p, &zeros[..rem], wg, yc, KK, rem);
            for c in 0..cog {
                let o = grp * cog + c;
                let b = if bias.is_empty() { T::zero() } else { bias[o] };
                let src = &yc[c * rem..(c + 1) * rem];
                runs(g, q0, rem, |r, len, at| {
                    let dst = &mut y[at + o * l..][..len];
                    for (d, &v) in dst.iter_mut().zip(&src[r..r + len]) {
                        *d = v + b;
                    }
                });
            }
            q0 += rem;
        }
    }
}

/// The backward over a batch on the dense kernels: for each group and chunk,
/// `dW_g += Pᵀ · dY` and, when `dx` is given, `dP = dY · W_gᵀ` scattered into `dx` (zeroed
/// by the caller).
#[inline(always)]
fn gemm_backward<T: Scalar, const KK: usize, const CO: usize, const C: usize>(
    g: &Geom,
    w: &[T],
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    db: &mut [T],
    mut dx: Option<&mut [T]>,
) {
    let mut pbuf = [[T::zero(); C]; KK];
    let mut dybuf = [[T::zero(); C]; CO];
    let mut junk = [T::zero(); C];
    let (l, cog) = (g.l(), g.cog());
    let total = dy.len() / (g.co * l) * l;
    for grp in 0..g.g {
        let wg = &w[grp * cog * KK..(grp + 1) * cog * KK];
        let dwg = &mut dw[grp * cog * KK..(grp + 1) * cog * KK];
        let mut q0 = 0;
        while q0 < total {
            let rem = C.min(total - q0);
            let p = &mut pbuf.as_flattened_mut()[..rem * KK];
            gather(g, grp, q0, rem, x, p);
            let dyc = &mut dybuf.as_flattened_mut()[..rem * cog];
            for c in 0..cog {
                let o = grp * cog + c;
                let dst = &mut dyc[c * rem..(c + 1) * rem];
                runs(g, q0, rem, |r, len, at| {
                    dst[r..r + len].copy_from_slice(&dy[at + o * l..][..len]);
                });
                if !db.is_empty() {
                    let mut s = T::zero();
                    for &v in dst.iter() {
                        s += v;
                    }
                    db[o] += s;
                }
            }
            // dW_g (KK × CO/G) += Pᵀ · dY: the kernels' `Wᵀ · dY` with `P` as `W`.
            kernels::affine_input_grad_acc(p, dyc, dwg, KK, rem);
            if let Some(dx) = dx.as_deref_mut() {
                // dP (rem × KK) = dY · W_gᵀ: the kernels' `dY · Xᵀ` with `W_g` as `X`.
                kernels::affine_grads_set(p, &mut junk[..rem], wg, dyc, KK, rem);
                scatter_add(g, grp, q0, rem, p, dx);
            }
            q0 += rem;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use rand::rngs::Xoshiro128PlusPlus;
    use rand::{RngExt, SeedableRng};

    extern crate alloc;

    /// The dense-kernel path computes what the direct loops compute (to rounding) for the
    /// geometry `g` with `KK` weights per output and `CO` outputs, over `b` samples: output,
    /// weight and bias gradients, input gradient.
    fn same<const KK: usize, const CO: usize, const C: usize>(g: Geom, b: usize) {
        assert_eq!(KK, g.kk());
        assert_eq!(CO, g.co);
        let rng = &mut Xoshiro128PlusPlus::seed_from_u64(7);
        let mut rand =
            |n: usize| -> Vec<f64> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let (ni, no) = (g.ci * g.hi * g.wi, g.co * g.l());
        g.check_conv(ni, no, KK, CO);
        let (w, bias, x, dy) = (rand(KK * CO), rand(CO), rand(ni * b), rand(no * b));
        let mut y = [Vec::new(), Vec::new()];
        let mut dw = [Vec::new(), Vec::new()];
        let mut db = [Vec::new(), Vec::new()];
        let mut dx = [Vec::new(), Vec::new()];
        for path in 0..2 {
            let (yp, dwp, dbp, dxp) = (&mut y[path], &mut dw[path], &mut db[path], &mut dx[path]);
            yp.resize(no * b, f64::NAN);
            dwp.resize(KK * CO, 0.5);
            dbp.resize(CO, 0.5);
            dxp.resize(ni * b, 0.0);
            if path == 0 {
                for s in 0..b {
                    let (xs, ys) = (&x[s * ni..][..ni], &mut yp[s * no..][..no]);
                    direct_forward(&g, &w, &bias, xs, ys);
                    let (dys, dxs) = (&dy[s * no..][..no], &mut dxp[s * ni..][..ni]);
                    direct_backward(&g, &w, xs, dys, dwp, dbp, Some(dxs));
                }
            } else {
                gemm_forward::<f64, KK, CO, C>(&g, &w, &bias, &x, yp);
                gemm_backward::<f64, KK, CO, C>(&g, &w, &x, &dy, dwp, dbp, Some(dxp));
            }
        }
        for (what, a, e) in [
            ("y", &y[1], &y[0]),
            ("dw", &dw[1], &dw[0]),
            ("db", &db[1], &db[0]),
            ("dx", &dx[1], &dx[0]),
        ] {
            for (i, (a, e)) in a.iter().zip(e.iter()).enumerate() {
                assert!(
                    (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                    "{g:?}: {what}[{i}] = {a}, direct {e}"
                );
            }
        }
    }

    /// The pointwise and padded-plane paths of the layer type `S` compute what the direct
    /// loops compute (to rounding) over `b` samples: the output, and with `backward` (the
    /// pointwise path) the weight, bias and input gradients.
    fn fast_path_same<S: ConvShape, const KK: usize, const CO: usize>(b: usize, backward: bool) {
        let g = S::GEOM;
        let rng = &mut Xoshiro128PlusPlus::seed_from_u64(11);
        let mut rand =
            |n: usize| -> Vec<f64> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let (ni, no) = (g.ci * g.hi * g.wi, g.co * g.l());
        let (w, bias, x, dy) = (rand(KK * CO), rand(CO), rand(ni * b), rand(no * b));
        let (mut y0, mut y1) = (vec![f64::NAN; no * b], vec![f64::NAN; no * b]);
        let (mut dw0, mut dw1) = (vec![0.5; KK * CO], vec![0.5; KK * CO]);
        let (mut db0, mut db1) = (vec![0.5; CO], vec![0.5; CO]);
        let (mut dx0, mut dx1) = (vec![0.0; ni * b], vec![f64::NAN; ni * b]);
        for s in 0..b {
            let (xs, ys) = (&x[s * ni..][..ni], &mut y0[s * no..][..no]);
            direct_forward(&g, &w, &bias, xs, ys);
            let (dys, dxs) = (&dy[s * no..][..no], &mut dx0[s * ni..][..ni]);
            direct_backward(&g, &w, xs, dys, &mut dw0, &mut db0, Some(dxs));
        }
        if backward {
            pointwise_forward::<f64, S, KK, CO>(&w, &bias, &x, &mut y1);
            pointwise_backward::<f64, S, KK, CO>(&w, &x, &dy, &mut dw1, &mut db1, Some(&mut dx1));
        } else {
            padded_plane_forward::<f64, S>(&w, &bias, &x, &mut y1);
        }
        let mut pairs = vec![("y", &y1, &y0)];
        if backward {
            pairs.extend([("dw", &dw1, &dw0), ("db", &db1, &db0), ("dx", &dx1, &dx0)]);
        }
        for (what, a, e) in pairs {
            for (i, (a, e)) in a.iter().zip(e.iter()).enumerate() {
                assert!(
                    (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                    "{g:?}: {what}[{i}] = {a}, direct {e}"
                );
            }
        }
    }

    #[test]
    fn pointwise_path_matches_direct_loops() {
        type Pointwise = Conv2d<8, 3, 5, 6, 3, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, 8, 6>;
        const { assert!(use_pointwise(&Pointwise::GEOM) == kernels::BLOCKED) };
        fast_path_same::<Pointwise, 8, 6>(3, true);
        // One output row of 40 (1-D), 5 → 4 channels.
        type Pointwise1d = Conv1d<5, 40, 4, 40, 1, 1, 0, 1, 1, 5, 4>;
        fast_path_same::<Pointwise1d, 5, 4>(2, true);
    }

    #[test]
    fn padded_plane_path_matches_direct_loops() {
        // Depthwise 3 × 3, padding 1 (the DS-CNN's blocks).
        type Depthwise = Conv2d<4, 6, 5, 4, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 4, 9, 4>;
        const { assert!(use_padded_plane(&Depthwise::GEOM) == kernels::BLOCKED) };
        fast_path_same::<Depthwise, 9, 4>(2, false);
        // Two groups of two channels, dilation (2, 1), padding (2, 1), a 3 × 2 kernel.
        type Grouped = Conv2d<4, 7, 6, 4, 7, 7, 3, 2, 1, 1, 2, 1, 2, 1, 2, 12, 4>;
        fast_path_same::<Grouped, 12, 4>(3, false);
        // 1-D depthwise, kernel 5, padding 2, no bias.
        type Depthwise1d = Conv1d<3, 20, 3, 20, 5, 1, 2, 1, 3, 5, 0>;
        fast_path_same::<Depthwise1d, 5, 3>(2, false);
    }

    const fn geom(
        c: [usize; 2],
        hw: [usize; 4],
        k: [usize; 2],
        s: [usize; 2],
        p: [usize; 2],
        d: [usize; 2],
        g: usize,
    ) -> Geom {
        Geom {
            ci: c[0],
            hi: hw[0],
            wi: hw[1],
            co: c[1],
            ho: hw[2],
            wo: hw[3],
            kh: k[0],
            kw: k[1],
            sh: s[0],
            sw: s[1],
            ph: p[0],
            pw: p[1],
            dh: d[0],
            dw: d[1],
            g,
        }
    }

    #[test]
    fn dense_path_matches_direct_loops() {
        // Padding 2, 5 × 5: chunks of 64 cut rows and samples.
        same::<25, 6, 64>(
            geom([1, 6], [9, 7, 9, 7], [5, 5], [1, 1], [2, 2], [1, 1], 1),
            3,
        );
        // Stride (2, 3), padding (1, 2), dilation (2, 1), rectangular kernel.
        same::<12, 4, 64>(
            geom([2, 4], [9, 11, 4, 5], [3, 2], [2, 3], [1, 2], [2, 1], 1),
            4,
        );
        // Groups 2, padding larger than the dilated kernel's reach in one direction.
        same::<18, 8, 128>(
            geom([4, 8], [5, 6, 7, 3], [3, 3], [1, 2], [2, 1], [1, 1], 2),
            2,
        );
        // One row (1-D), long: chunks of 256 over two samples.
        same::<6, 5, 256>(
            geom([2, 5], [1, 300, 1, 150], [1, 3], [1, 2], [0, 1], [1, 1], 1),
            2,
        );
    }
}
