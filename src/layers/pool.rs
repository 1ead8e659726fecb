//! Pooling over `[C, L]` or `[C, H, W]` samples: `nn.MaxPool1d/2d`, `nn.AvgPool1d/2d`,
//! `nn.AdaptiveAvgPool1d/2d(1)` ([`GlobalAvgPool`]), and [`Flatten`].
//!
//! Like the convolutions, each layer's shape is given by const generic parameters and tied
//! to the flat widths `I` and `O` of [`Layer`] by assertions evaluated when it is used. A
//! 1-D layer is the 2-D one over a single row.

#[cfg(target_arch = "x86_64")]
use super::pool_avx512;
use crate::layers::ReLU;
use crate::layers::conv::{Geom, out_len};
use crate::{Layer, SMatrix, Scalar};

/// Types whose constants give a pooling window's [`Geom`] (`ci = co`, dilation 1).
pub(crate) trait PoolShape {
    /// The geometry.
    const GEOM: Geom;
}

impl Geom {
    /// Panics (at compile time, from a `const` block) unless the geometry is a valid pooling
    /// window from `i` to `o` features, with PyTorch's rules (padding at most half the
    /// kernel, floor mode).
    const fn check_pool(&self, i: usize, o: usize) {
        assert!(
            self.sh >= 1 && self.sw >= 1,
            "pooling: a stride must be at least 1"
        );
        assert!(
            2 * self.ph <= self.kh && 2 * self.pw <= self.kw,
            "pooling: the padding must be at most half the kernel size"
        );
        assert!(
            i == self.ci * self.hi * self.wi,
            "pooling: the input width I is not C·H·W (C·L)"
        );
        assert!(
            o == self.co * self.ho * self.wo,
            "pooling: the output width O is not C·H·W (C·L) of the output"
        );
        assert!(
            self.ho >= 1 && self.ho == out_len(self.hi, self.kh, self.sh, self.ph, 1),
            "pooling: the output height (length) is not (in + 2p − k)/s + 1"
        );
        assert!(
            self.wo >= 1 && self.wo == out_len(self.wi, self.kw, self.sw, self.pw, 1),
            "pooling: the output width (length) is not (in + 2p − k)/s + 1"
        );
    }
}

/// Asserts at compile time that `S`'s geometry is a valid pooling from `I` to `O` features.
#[inline(always)]
fn check<S: PoolShape, const I: usize, const O: usize>() {
    const { S::GEOM.check_pool(I, O) }
}

/// Calls `f(output index, window)` for every output of one sample, where the window is the
/// ranges of input rows and columns inside the image.
#[inline(always)]
fn windows(g: &Geom, mut f: impl FnMut(usize, usize, (usize, usize), (usize, usize))) {
    let plane = g.hi * g.wi;
    for c in 0..g.co {
        for oh in 0..g.ho {
            // Input rows oh·sh − ph + k for the k < kh inside [0, hi).
            let top = oh * g.sh;
            let rows = (top.max(g.ph) - g.ph, (top + g.kh).min(g.hi + g.ph) - g.ph);
            for ow in 0..g.wo {
                let left = ow * g.sw;
                let cols = (left.max(g.pw) - g.pw, (left + g.kw).min(g.wi + g.pw) - g.pw);
                f((c * g.ho + oh) * g.wo + ow, c * plane, rows, cols);
            }
        }
    }
}

/// Whether the windows tile the input exactly: stride equal to the kernel, no padding, and
/// every input row and column inside a window (no remainder dropped by the floor).
const fn tiles_input(g: &Geom) -> bool {
    g.sh == g.kh
        && g.sw == g.kw
        && g.ph == 0
        && g.pw == 0
        && g.ho * g.kh == g.hi
        && g.wo * g.kw == g.wi
}

/// A max pooling that runs together with the `ReLU` before it, for the code `network!`
/// writes (through [`crate::__private`]): one pass over the image where the two layers
/// take three (the `ReLU` reads the convolution's output and writes its own, the pooling
/// reads that; backward, the pooling writes a gradient that the `ReLU` reads with its
/// input). The same bits as the two layers one after the other, and the same tape: the
/// `ReLU`'s output is written too.
pub trait ReluMaxPool<T: Scalar, const I: usize, const O: usize>: Layer<T, I, O> {
    /// The `ReLU`'s forward on `x` into `r`, then the pooling's on `r` into `y`.
    fn relu_forward<const B: usize>(
        &self,
        x: &SMatrix<T, I, B>,
        r: &mut SMatrix<T, I, B>,
        y: &mut SMatrix<T, O, B>,
    );

    /// The pooling's forward on the `ReLU` of `x` into `y`, the `ReLU`'s output not kept
    /// (what the generated eval `forward` runs, on x86-64).
    fn relu_forward_eval<const B: usize>(&self, x: &SMatrix<T, I, B>, y: &mut SMatrix<T, O, B>);

    /// The pooling's backward (its input `r`, the `ReLU`'s output, and its output `y`),
    /// then the `ReLU`'s: writes into `dx` the gradient of the `ReLU`'s input, `dy · 1` or
    /// `dy · 0` of the pooling's input gradient by whether `r > 0` (where the `ReLU`'s input
    /// is `> 0`, as its backward asks).
    fn relu_backward<const B: usize>(
        &self,
        r: &SMatrix<T, I, B>,
        y: &SMatrix<T, O, B>,
        dy: &SMatrix<T, O, B>,
        dx: &mut SMatrix<T, I, B>,
    );
}

/// The index of the window's maximum in PyTorch's scan order: the first strict maximum,
/// or the last NaN (padding is `−∞`: never chosen), and its value.
#[inline(always)]
fn window_max<T: Scalar>(
    g: &Geom,
    x: &[T],
    base: usize,
    rows: (usize, usize),
    cols: (usize, usize),
) -> (usize, T) {
    let mut best = T::of(f64::NEG_INFINITY);
    let mut at = base + rows.0 * g.wi + cols.0;
    for ih in rows.0..rows.1 {
        for iw in cols.0..cols.1 {
            let i = base + ih * g.wi + iw;
            let v = x[i];
            #[allow(clippy::eq_op)]
            if v > best || v != v {
                best = v;
                at = i;
            }
        }
    }
    (at, best)
}

/// The maximum of the window's `ReLU`s, [`window_max`] of `max(0, v)` (`v > 0 ? v : +0`)
/// without a buffer for them: every `ReLU` is `+0` or positive, never NaN, so the scan's
/// value is the largest, `+0` when none is positive (a window always holds an input).
#[inline(always)]
fn window_max_relu<T: Scalar>(
    g: &Geom,
    x: &[T],
    base: usize,
    rows: (usize, usize),
    cols: (usize, usize),
) -> T {
    let mut best = T::zero();
    for ih in rows.0..rows.1 {
        for iw in cols.0..cols.1 {
            let v = x[base + ih * g.wi + iw];
            if v > best {
                best = v;
            }
        }
    }
    best
}

/// Max pooling's backward for one sample where the windows tile the input
/// ([`tiles_input`]) and hold at most 64 inputs: each input is in exactly one window, so it is written once, with no
/// clearing pass (`0 + dy` at the window's maximum, as adding into zeros gives, `0`
/// elsewhere). The input that takes the gradient is [`window_max`]'s (the first maximum
/// in scan order, or the last NaN), found without a branch on the data: the window's
/// maximum first, then a bit mask of the inputs equal to it (of the NaNs when it is NaN),
/// its lowest (highest) set bit. On real data which input of a window wins is
/// unpredictable, and the branches of a scan made this backward six times slower than
/// the forward.
#[inline(always)]
fn max_backward_tiled<T: Scalar>(g: &Geom, xs: &[T], dys: &[T], dxs: &mut [T]) {
    let plane = g.hi * g.wi;
    let lo = g.ho * g.wo;
    let n = g.kh * g.kw;
    for c in 0..g.co {
        let xc = &xs[c * plane..][..plane];
        let dxc = &mut dxs[c * plane..][..plane];
        let dyc = &dys[c * lo..][..lo];
        for oh in 0..g.ho {
            for ow in 0..g.wo {
                let base = oh * g.kh * g.wi + ow * g.kw;
                let at = |k: usize| base + k / g.kw * g.wi + k % g.kw;
                let mut best = T::of(f64::NEG_INFINITY);
                for k in 0..n {
                    let v = xc[at(k)];
                    #[allow(clippy::eq_op)]
                    if v > best || v != v {
                        best = v;
                    }
                }
                let mut hits = 0u64;
                #[allow(clippy::eq_op)]
                let k = if best != best {
                    for k in 0..n {
                        let v = xc[at(k)];
                        hits |= u64::from(v != v) << k;
                    }
                    63 - hits.leading_zeros() as usize
                } else {
                    for k in 0..n {
                        hits |= u64::from(xc[at(k)] == best) << k;
                    }
                    // Not empty: `best` is one of the values (or −∞, when they all are).
                    hits.trailing_zeros() as usize
                };
                for k in 0..n {
                    dxc[at(k)] = T::zero();
                }
                dxc[at(k)] = T::zero() + dyc[oh * g.wo + ow];
            }
        }
    }
}

/// Max pooling over `[C, HI, WI]`, PyTorch's `nn.MaxPool2d(kernel, stride, padding)`
/// (dilation 1, floor mode): `out[c, y, x] = max over the window
/// in[c, y·SH − PH + i, x·SW − PW + j]`, `i < KH`, `j < KW`, padding is `−∞`.
///
/// The output is `[C, HO, WO]`, `HO = (HI + 2·PH − KH) / SH + 1`; PyTorch's stride defaults
/// to the kernel, and it requires `2·PH ≤ KH` (asserted). The gradient of each output goes to
/// the first maximum of its window in row-major scan order (a NaN propagates, as in
/// PyTorch); backward finds it again from the input instead of keeping indices in a tape.
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::layers::MaxPool2d;
///
/// // [1, 2, 4] → [1, 1, 2] with 2 × 2 windows.
/// let pool = MaxPool2d::<1, 2, 4, 1, 2, 2, 2, 2, 2, 0, 0>;
/// let x = SMatrix::<f32, 8, 1>::from_column_slice(&[1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 7.0]);
/// let mut y = SMatrix::<f32, 2, 1>::zeros();
/// Layer::<f32, 8, 2>::forward(&pool, &(), &(), &x, &mut y);
/// assert_eq!(y.as_slice(), &[5.0, 8.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MaxPool2d<
    const C: usize,
    const HI: usize,
    const WI: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
>;

/// Max pooling over `[C, LI]`, PyTorch's `nn.MaxPool1d(K, S, P)`: `[C, LO]`,
/// `LO = (LI + 2·P − K) / S + 1`; otherwise as [`MaxPool2d`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MaxPool1d<
    const C: usize,
    const LI: usize,
    const LO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
>;

/// Average pooling over `[C, HI, WI]`, PyTorch's `nn.AvgPool2d(kernel, stride, padding)`
/// with its default `count_include_pad = True` (floor mode): the sum of the window's values
/// inside the image divided by `KH·KW`, padding counted as zeros. Shapes as
/// [`MaxPool2d`]'s.
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::layers::AvgPool2d;
///
/// // [1, 2, 2] → [1, 3, 3]: 2 × 2 windows, stride 1, padding 1 (the centre sees all four
/// // values, a corner one).
/// let pool = AvgPool2d::<1, 2, 2, 3, 3, 2, 2, 1, 1, 1, 1>;
/// let x = SMatrix::<f64, 4, 1>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
/// let mut y = SMatrix::<f64, 9, 1>::zeros();
/// Layer::<f64, 4, 9>::forward(&pool, &(), &(), &x, &mut y);
/// assert_eq!(y[0], 1.0 / 4.0); // corner: one value, divided by 4
/// assert_eq!(y[4], 10.0 / 4.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AvgPool2d<
    const C: usize,
    const HI: usize,
    const WI: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
>;

/// Average pooling over `[C, LI]`, PyTorch's `nn.AvgPool1d(K, S, P)` with
/// `count_include_pad = True`: `[C, LO]`, `LO = (LI + 2·P − K) / S + 1`; otherwise as
/// [`AvgPool2d`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AvgPool1d<
    const C: usize,
    const LI: usize,
    const LO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
>;

macro_rules! pool_shape {
    ($ty:ty, [$($gen:ident),*], $geom:expr) => {
        impl<$(const $gen: usize),*> PoolShape for $ty {
            const GEOM: Geom = $geom;
        }
    };
}

/// The geometry of a 2-D pooling layer.
const fn geom2(c: usize, hw: [usize; 4], k: [usize; 2], s: [usize; 2], p: [usize; 2]) -> Geom {
    Geom {
        ci: c,
        hi: hw[0],
        wi: hw[1],
        co: c,
        ho: hw[2],
        wo: hw[3],
        kh: k[0],
        kw: k[1],
        sh: s[0],
        sw: s[1],
        ph: p[0],
        pw: p[1],
        dh: 1,
        dw: 1,
        g: c,
    }
}

pool_shape!(
    MaxPool2d<C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW>,
    [C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW],
    geom2(C, [HI, WI, HO, WO], [KH, KW], [SH, SW], [PH, PW])
);
pool_shape!(
    AvgPool2d<C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW>,
    [C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW],
    geom2(C, [HI, WI, HO, WO], [KH, KW], [SH, SW], [PH, PW])
);
pool_shape!(
    MaxPool1d<C, LI, LO, K, S, P>,
    [C, LI, LO, K, S, P],
    geom2(C, [1, LI, 1, LO], [1, K], [1, S], [0, P])
);
pool_shape!(
    AvgPool1d<C, LI, LO, K, S, P>,
    [C, LI, LO, K, S, P],
    geom2(C, [1, LI, 1, LO], [1, K], [1, S], [0, P])
);

/// Implements [`Layer`] for a max pooling type.
macro_rules! max_pool_layer {
    ($kind:literal, $ty:ty, [$($gen:ident),*]) => {
        impl<T: Scalar, const I: usize, const O: usize, $(const $gen: usize),*> Layer<T, I, O>
            for $ty
        {
            type Params = ();
            type State = ();
            type Tape<const B: usize> = ();
            const KIND: &'static str = $kind;
            const FLOPS: usize = O * <Self as PoolShape>::GEOM.kh * <Self as PoolShape>::GEOM.kw;

            fn init_params<R: rand::Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}

            #[inline]
            fn forward<const B: usize>(
                &self,
                _: &(),
                _: &(),
                x: &SMatrix<T, I, B>,
                y: &mut SMatrix<T, O, B>,
            ) {
                check::<Self, I, O>();
                let g = <Self as PoolShape>::GEOM;
                #[cfg(target_arch = "x86_64")]
                if const { pool_avx512::applies(&<Self as PoolShape>::GEOM) }
                    && pool_avx512::forward::<T, false>(&g, x.as_slice(), y.as_mut_slice())
                {
                    return;
                }
                for (xs, ys) in x.as_slice().chunks_exact(I).zip(y.as_mut_slice().chunks_exact_mut(O)) {
                    windows(&g, |o, base, rows, cols| {
                        ys[o] = window_max(&g, xs, base, rows, cols).1;
                    });
                }
            }

            #[inline]
            fn backward<const B: usize>(
                &self,
                _: &(),
                x: &SMatrix<T, I, B>,
                _: &SMatrix<T, O, B>,
                _: &(),
                dy: &SMatrix<T, O, B>,
                dx: Option<&mut SMatrix<T, I, B>>,
                _: &mut (),
            ) {
                check::<Self, I, O>();
                let Some(dx) = dx else { return };
                let g = <Self as PoolShape>::GEOM;
                #[cfg(target_arch = "x86_64")]
                if const { pool_avx512::applies(&<Self as PoolShape>::GEOM) }
                    && pool_avx512::backward::<T, false>(&g, x.as_slice(), dy.as_slice(), dx.as_mut_slice())
                {
                    return;
                }
                let cols = x.as_slice().chunks_exact(I).zip(dy.as_slice().chunks_exact(O));
                if const { tiles_input(&<Self as PoolShape>::GEOM) && <Self as PoolShape>::GEOM.kh * <Self as PoolShape>::GEOM.kw <= 64 } {
                    for ((xs, dys), dxs) in cols.zip(dx.as_mut_slice().chunks_exact_mut(I)) {
                        max_backward_tiled(&g, xs, dys, dxs);
                    }
                    return;
                }
                dx.as_mut_slice().fill(T::zero());
                for ((xs, dys), dxs) in cols.zip(dx.as_mut_slice().chunks_exact_mut(I)) {
                    windows(&g, |o, base, rows, cols| {
                        dxs[window_max(&g, xs, base, rows, cols).0] += dys[o];
                    });
                }
            }
        }

        impl<T: Scalar, const I: usize, const O: usize, $(const $gen: usize),*>
            ReluMaxPool<T, I, O> for $ty
        {
            #[inline]
            fn relu_forward<const B: usize>(
                &self,
                x: &SMatrix<T, I, B>,
                r: &mut SMatrix<T, I, B>,
                y: &mut SMatrix<T, O, B>,
            ) {
                check::<Self, I, O>();
                #[cfg(target_arch = "x86_64")]
                if const { pool_avx512::applies(&<Self as PoolShape>::GEOM) }
                    && pool_avx512::relu_forward(
                        &<Self as PoolShape>::GEOM,
                        x.as_slice(),
                        r.as_mut_slice(),
                        y.as_mut_slice(),
                    )
                {
                    return;
                }
                Layer::<T, I, I>::forward(&ReLU, &(), &(), x, r);
                Layer::<T, I, O>::forward(self, &(), &(), r, y);
            }

            #[inline]
            fn relu_forward_eval<const B: usize>(
                &self,
                x: &SMatrix<T, I, B>,
                y: &mut SMatrix<T, O, B>,
            ) {
                check::<Self, I, O>();
                let g = <Self as PoolShape>::GEOM;
                #[cfg(target_arch = "x86_64")]
                if const { pool_avx512::applies(&<Self as PoolShape>::GEOM) }
                    && pool_avx512::forward::<T, true>(&g, x.as_slice(), y.as_mut_slice())
                {
                    return;
                }
                for (xs, ys) in x.as_slice().chunks_exact(I).zip(y.as_mut_slice().chunks_exact_mut(O)) {
                    windows(&g, |o, base, rows, cols| {
                        ys[o] = window_max_relu(&g, xs, base, rows, cols);
                    });
                }
            }

            #[inline]
            fn relu_backward<const B: usize>(
                &self,
                r: &SMatrix<T, I, B>,
                y: &SMatrix<T, O, B>,
                dy: &SMatrix<T, O, B>,
                dx: &mut SMatrix<T, I, B>,
            ) {
                check::<Self, I, O>();
                #[cfg(target_arch = "x86_64")]
                if const { pool_avx512::applies(&<Self as PoolShape>::GEOM) }
                    && pool_avx512::backward::<T, true>(
                        &<Self as PoolShape>::GEOM,
                        r.as_slice(),
                        dy.as_slice(),
                        dx.as_mut_slice(),
                    )
                {
                    return;
                }
                Layer::<T, I, O>::backward(self, &(), r, y, &(), dy, Some(&mut *dx), &mut ());
                // The `ReLU`'s backward, `g · (x > 0 ? 1 : 0)`, on its output: `r > 0`
                // exactly where its input `x > 0` (`r` is `x` there, `+0` elsewhere).
                for (d, &v) in dx.as_mut_slice().iter_mut().zip(r.as_slice()) {
                    *d *= if v > T::zero() { T::one() } else { T::zero() };
                }
            }
        }
    };
}

/// Implements [`Layer`] for an average pooling type.
macro_rules! avg_pool_layer {
    ($kind:literal, $ty:ty, [$($gen:ident),*]) => {
        impl<T: Scalar, const I: usize, const O: usize, $(const $gen: usize),*> Layer<T, I, O>
            for $ty
        {
            type Params = ();
            type State = ();
            type Tape<const B: usize> = ();
            const KIND: &'static str = $kind;
            const FLOPS: usize = O * <Self as PoolShape>::GEOM.kh * <Self as PoolShape>::GEOM.kw;

            fn init_params<R: rand::Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}

            #[inline]
            fn forward<const B: usize>(
                &self,
                _: &(),
                _: &(),
                x: &SMatrix<T, I, B>,
                y: &mut SMatrix<T, O, B>,
            ) {
                check::<Self, I, O>();
                let g = <Self as PoolShape>::GEOM;
                let inv = T::one() / T::of((g.kh * g.kw) as f64);
                for (xs, ys) in x.as_slice().chunks_exact(I).zip(y.as_mut_slice().chunks_exact_mut(O)) {
                    windows(&g, |o, base, rows, cols| {
                        let mut s = T::zero();
                        for ih in rows.0..rows.1 {
                            for &v in &xs[base + ih * g.wi + cols.0..base + ih * g.wi + cols.1] {
                                s += v;
                            }
                        }
                        ys[o] = s * inv;
                    });
                }
            }

            #[inline]
            fn backward<const B: usize>(
                &self,
                _: &(),
                _: &SMatrix<T, I, B>,
                _: &SMatrix<T, O, B>,
                _: &(),
                dy: &SMatrix<T, O, B>,
                dx: Option<&mut SMatrix<T, I, B>>,
                _: &mut (),
            ) {
                check::<Self, I, O>();
                let Some(dx) = dx else { return };
                let g = <Self as PoolShape>::GEOM;
                let inv = T::one() / T::of((g.kh * g.kw) as f64);
                dx.as_mut_slice().fill(T::zero());
                for (dys, dxs) in dy.as_slice().chunks_exact(O).zip(dx.as_mut_slice().chunks_exact_mut(I)) {
                    windows(&g, |o, base, rows, cols| {
                        let d = dys[o] * inv;
                        for ih in rows.0..rows.1 {
                            for v in &mut dxs[base + ih * g.wi + cols.0..base + ih * g.wi + cols.1] {
                                *v += d;
                            }
                        }
                    });
                }
            }
        }
    };
}

max_pool_layer!(
    "MaxPool2d",
    MaxPool2d<C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW>,
    [C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW]
);
max_pool_layer!("MaxPool1d", MaxPool1d<C, LI, LO, K, S, P>, [C, LI, LO, K, S, P]);
avg_pool_layer!(
    "AvgPool2d",
    AvgPool2d<C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW>,
    [C, HI, WI, HO, WO, KH, KW, SH, SW, PH, PW]
);
avg_pool_layer!("AvgPool1d", AvgPool1d<C, LI, LO, K, S, P>, [C, LI, LO, K, S, P]);

/// Global average pooling: the mean of each channel over its `S` positions, `[C, S…]` →
/// `[C]`. PyTorch's `nn.AdaptiveAvgPool1d(1)` on `[C, L]` (`S = L`) and
/// `nn.AdaptiveAvgPool2d(1)` on `[C, H, W]` (`S = H·W`), followed by the free flatten of
/// `[C, 1(, 1)]` to `[C]`. Implements [`Layer<T, I, O>`] for `I = C·S`, `O = C` (asserted).
///
/// ```
/// use staticnn::prelude::*;
///
/// let pool = GlobalAvgPool::<2, 3>;
/// let x = SMatrix::<f64, 6, 1>::from_column_slice(&[1.0, 2.0, 3.0, 10.0, 20.0, 30.0]);
/// let mut y = SMatrix::<f64, 2, 1>::zeros();
/// Layer::<f64, 6, 2>::forward(&pool, &(), &(), &x, &mut y);
/// assert_eq!(y.as_slice(), &[2.0, 20.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GlobalAvgPool<const C: usize, const S: usize>;

impl<T: Scalar, const I: usize, const O: usize, const C: usize, const S: usize> Layer<T, I, O>
    for GlobalAvgPool<C, S>
{
    type Params = ();
    type State = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "GlobalAvgPool";
    const FLOPS: usize = I;

    fn init_params<R: rand::Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}

    #[inline]
    fn forward<const B: usize>(
        &self,
        _: &(),
        _: &(),
        x: &SMatrix<T, I, B>,
        y: &mut SMatrix<T, O, B>,
    ) {
        const {
            assert!(S >= 1, "global average pooling: no positions");
            assert!(
                I == C * S && O == C,
                "global average pooling: I must be C·S and O = C"
            );
        }
        let inv = T::one() / T::of(S as f64);
        for (xs, ys) in x
            .as_slice()
            .chunks_exact(I)
            .zip(y.as_mut_slice().chunks_exact_mut(O))
        {
            for (yc, xc) in ys.iter_mut().zip(xs.chunks_exact(S)) {
                let mut s = T::zero();
                for &v in xc {
                    s += v;
                }
                *yc = s * inv;
            }
        }
    }

    #[inline]
    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &SMatrix<T, I, B>,
        _: &SMatrix<T, O, B>,
        _: &(),
        dy: &SMatrix<T, O, B>,
        dx: Option<&mut SMatrix<T, I, B>>,
        _: &mut (),
    ) {
        let Some(dx) = dx else { return };
        let inv = T::one() / T::of(S as f64);
        for (dys, dxs) in dy
            .as_slice()
            .chunks_exact(O)
            .zip(dx.as_mut_slice().chunks_exact_mut(I))
        {
            for (&d, dxc) in dys.iter().zip(dxs.chunks_exact_mut(S)) {
                dxc.fill(d * inv);
            }
        }
    }
}

/// `nn.Flatten`: the identity on the data. A sample is already stored in PyTorch's
/// flattened order (channel, then row, then column), so a `Linear` after `Flatten` sees
/// exactly what PyTorch's does; the layer exists so that a declaration can say where a
/// shape becomes a width.
///
/// ```
/// use staticnn::prelude::*;
///
/// let x = SMatrix::<f32, 4, 1>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
/// let mut y = SMatrix::<f32, 4, 1>::zeros();
/// Layer::<f32, 4, 4>::forward(&Flatten, &(), &(), &x, &mut y);
/// assert_eq!(x, y);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Flatten;

impl<T: Scalar, const N: usize> Layer<T, N, N> for Flatten {
    type Params = ();
    type State = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Flatten";
    const FLOPS: usize = 0;

    fn init_params<R: rand::Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}

    #[inline]
    fn forward<const B: usize>(
        &self,
        _: &(),
        _: &(),
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        y.copy_from(x);
    }

    #[inline]
    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &SMatrix<T, N, B>,
        _: &SMatrix<T, N, B>,
        _: &(),
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            dx.copy_from(dy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Max pooling whose windows tile the input (its own backward path) sends each output's
    /// gradient to the input the window scan picks: the first strict maximum, or the last
    /// NaN; ties, `±0`, `−∞` and NaNs included. Bit for bit against the scan.
    #[test]
    fn tiling_max_pool_backward_follows_the_scan() {
        type Pool = MaxPool2d<2, 4, 6, 2, 3, 2, 2, 2, 2, 0, 0>;
        const { assert!(tiles_input(&<Pool as PoolShape>::GEOM)) };
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        #[rustfmt::skip]
        let x0: [f64; 48] = [
            1.0, 2.0,   3.0, 3.0,   0.0, -0.0,
            2.0, 0.5,   1.0, 3.0,   -0.0, 0.0,
            -inf, -inf, nan, 1.0,   5.0, nan,
            -inf, -inf, 2.0, nan,   nan, 4.0,
            // channel 1
            -1.0, -2.0, 7.0, -7.0,  nan, nan,
            -1.0, -1.0, 7.0, 7.0,   nan, nan,
            0.0, 0.0,   -inf, 2.0,  -3.0, -4.0,
            0.0, 0.0,   inf, inf,   -5.0, -3.0,
        ];
        let x = SMatrix::<f64, 48, 3>::from_fn(|i, b| match b {
            0 => x0[i],
            1 => -x0[i],
            _ => x0[47 - i],
        });
        scan_agrees::<f64, Pool, 48, 12>(&x);
        // A row of 35 windows of 1 × 2 (past one run of 32): ties, NaNs, ±∞ and ±0.
        type Wide = MaxPool2d<1, 1, 70, 1, 35, 1, 2, 1, 2, 0, 0>;
        const { assert!(tiles_input(&<Wide as PoolShape>::GEOM)) };
        let specials = [nan, -inf, 0.0, -0.0, inf];
        let x = SMatrix::<f64, 70, 3>::from_fn(|i, b| match (i * 7 + b * 3) % 11 {
            0 => specials[(i + b) % 5],
            1 | 2 => 1.5,
            k => (k as f64 - 5.0) * (1.0 + b as f64),
        });
        scan_agrees::<f64, Wide, 70, 35>(&x);
    }

    /// The same in `f32`, where 2 × 2 windows of stride 2 take the AVX-512 kernels (when
    /// the CPU has them): forward and backward against the scan, bit for bit; rows of 28
    /// and of 70 inputs (a last vector of 14 and of 3 windows), a lone row pair, and rows
    /// packed several to a vector.
    #[test]
    fn tiling_max_pool_in_f32_follows_the_scan() {
        let (inf, nan) = (f32::INFINITY, f32::NAN);
        let specials = [nan, -inf, 0.0, -0.0, inf, 1.5, 1.5, -2.0];
        let value = |i: usize, b: usize| match (i * 7 + b * 3) % 13 {
            0..=2 => specials[(i / 3 + b) % 8],
            k => (k as f32 - 6.0) * (1.0 + b as f32) * if i.is_multiple_of(5) { -1.0 } else { 1.0 },
        };
        type Lenet = MaxPool2d<2, 28, 28, 14, 14, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Lenet, 1568, 392>(&SMatrix::from_fn(value));
        type Wide = MaxPool2d<1, 4, 70, 2, 35, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Wide, 280, 70>(&SMatrix::from_fn(value));
        type Pair = MaxPool2d<3, 2, 4, 1, 2, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Pair, 24, 6>(&SMatrix::from_fn(value));
        // Rows of 16 windows (both loads whole), 8 (the second load empty), 9 (two lanes
        // in it), 48 (three whole vectors) and one window (a lone lane).
        type Exact = MaxPool2d<1, 2, 32, 1, 16, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Exact, 64, 16>(&SMatrix::from_fn(value));
        type Eight = MaxPool2d<2, 2, 16, 1, 8, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Eight, 64, 16>(&SMatrix::from_fn(value));
        type Nine = MaxPool2d<2, 4, 18, 2, 9, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Nine, 144, 36>(&SMatrix::from_fn(value));
        type Three = MaxPool2d<1, 2, 96, 1, 48, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Three, 192, 48>(&SMatrix::from_fn(value));
        type One = MaxPool2d<3, 2, 2, 1, 1, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, One, 12, 3>(&SMatrix::from_fn(value));
        // Rows of at most 8 windows, several to a vector: LeNet-5's second pooling (rows
        // of 5, three to a vector), rows of 6 with a last vector of one row, rows of 3
        // (five to a vector) with a last vector of four, and of 7 (two).
        type Lenet2 = MaxPool2d<16, 10, 10, 5, 5, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Lenet2, 1600, 400>(&SMatrix::from_fn(value));
        type Six = MaxPool2d<5, 2, 12, 1, 6, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Six, 120, 30>(&SMatrix::from_fn(value));
        type Threes = MaxPool2d<1, 6, 6, 3, 3, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Threes, 36, 9>(&SMatrix::from_fn(value));
        type Sevens = MaxPool2d<2, 4, 14, 2, 7, 2, 2, 2, 2, 0, 0>;
        scan_agrees::<f32, Sevens, 112, 28>(&SMatrix::from_fn(value));
        #[cfg(target_arch = "x86_64")]
        const {
            assert!(pool_avx512::applies(&<Lenet as PoolShape>::GEOM))
        };
    }

    /// [`ReluMaxPool`]'s forward (train and eval) and backward against `ReLU` then `P`, bit
    /// for bit, on `x`
    /// (as the `ReLU`'s input) and output gradients with infinities (`∞ · 0` is NaN in the
    /// `ReLU`'s backward) and negative values (`−g · 0` is `−0`).
    fn fused_agrees<T: Scalar, P, const I: usize, const O: usize>(x: &SMatrix<T, I, 3>)
    where
        P: ReluMaxPool<T, I, O, Params = (), State = ()> + Default,
    {
        let p = P::default();
        let dy = SMatrix::<T, O, 3>::from_fn(|i, b| match (i + b) % 7 {
            0 => T::of(f64::INFINITY),
            1 => T::of(f64::NEG_INFINITY),
            k => T::of((k as f64 - 3.5) * (i + 1) as f64),
        });
        let (mut r, mut y) = (SMatrix::<T, I, 3>::zeros(), SMatrix::<T, O, 3>::zeros());
        Layer::<T, I, I>::forward(&ReLU, &(), &(), x, &mut r);
        Layer::<T, I, O>::forward(&p, &(), &(), &r, &mut y);
        let (mut dp, mut dx) = (SMatrix::<T, I, 3>::zeros(), SMatrix::<T, I, 3>::zeros());
        let tape = bytemuck::Zeroable::zeroed();
        p.backward(&(), &r, &y, &tape, &dy, Some(&mut dp), &mut ());
        Layer::<T, I, I>::backward(&ReLU, &(), x, &r, &(), &dp, Some(&mut dx), &mut ());
        let nan = T::of(f64::NAN);
        let (mut rf, mut yf) = (SMatrix::from_element(nan), SMatrix::from_element(nan));
        let mut dxf = SMatrix::<T, I, 3>::from_element(nan);
        p.relu_forward(x, &mut rf, &mut yf);
        p.relu_backward(&rf, &yf, &dy, &mut dxf);
        let mut ye = SMatrix::<T, O, 3>::from_element(nan);
        p.relu_forward_eval(x, &mut ye);
        for (what, a, e) in [
            ("eval", ye.as_slice(), y.as_slice()),
            ("relu", rf.as_slice(), r.as_slice()),
            ("pool", yf.as_slice(), y.as_slice()),
            ("dx", dxf.as_slice(), dx.as_slice()),
        ] {
            for (i, (a, e)) in a.iter().zip(e.iter()).enumerate() {
                assert_eq!(
                    a.as_f64().to_bits(),
                    e.as_f64().to_bits(),
                    "fused {what}[{i}] = {a}, the layers give {e}"
                );
            }
        }
    }

    /// `P`'s backward against the window scan, bit for bit, on the batch `x` (the output
    /// given to backward is not read: zeros), and its forward; then `P` fused with the
    /// `ReLU` before it ([`ReluMaxPool`]) against the two layers one after the other.
    fn scan_agrees<T: Scalar, P, const I: usize, const O: usize>(x: &SMatrix<T, I, 3>)
    where
        P: ReluMaxPool<T, I, O, Params = (), State = ()> + PoolShape + Default,
    {
        fused_agrees::<T, P, I, O>(x);
        let dy = SMatrix::<T, O, 3>::from_fn(|i, b| T::of((i + 1) as f64 * (1.0 - b as f64)));
        let mut y = SMatrix::<T, O, 3>::zeros();
        let mut dx = SMatrix::<T, I, 3>::from_element(T::of(f64::NAN));
        let tape = bytemuck::Zeroable::zeroed();
        P::default().backward(&(), x, &y, &tape, &dy, Some(&mut dx), &mut ());
        P::default().forward(&(), &(), x, &mut y);
        let g = P::GEOM;
        let mut expected = SMatrix::<T, I, 3>::zeros();
        let mut expected_y = SMatrix::<T, O, 3>::zeros();
        for b in 0..3 {
            let xs = x.column(b);
            let xs = xs.as_slice();
            windows(&g, |o, base, rows, cols| {
                let (at, v) = window_max(&g, xs, base, rows, cols);
                expected[(at, b)] += dy[(o, b)];
                expected_y[(o, b)] = v;
            });
        }
        for (what, a, e) in [
            ("dx", dx.as_slice(), expected.as_slice()),
            ("y", y.as_slice(), expected_y.as_slice()),
        ] {
            for (i, (a, e)) in a.iter().zip(e.iter()).enumerate() {
                assert_eq!(
                    a.as_f64().to_bits(),
                    e.as_f64().to_bits(),
                    "{what}[{i}] = {a}, the scan gives {e}"
                );
            }
        }
    }
}
