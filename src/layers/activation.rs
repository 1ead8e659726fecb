//! Element-wise activation functions.

use core::any::TypeId;

use rand::Rng;

use crate::{Layer, SMatrix, Scalar, math};

/// The two slices as `f32` when `T` is `f32`, for the vectorised functions of [`math`].
#[inline(always)]
fn as_f32<'a, T: Scalar>(x: &'a [T], y: &'a mut [T]) -> Option<(&'a [f32], &'a mut [f32])> {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        Some((bytemuck::cast_slice(x), bytemuck::cast_slice_mut(y)))
    } else {
        None
    }
}

/// Implements `Layer<T, N, N>` for an element-wise activation from its value `f(x)` and its
/// derivative written in terms of the input `x` and the output `y`.
///
/// With `f32 = path`, `f32` networks compute the forward with that slice function (of
/// [`math`]) instead of `f(x)`.
macro_rules! elementwise {
    ($ty:ty, $kind:literal, $flops:literal, |$s:ident, $x:ident| $f:expr, |$s2:ident, $xx:ident, $y:ident| $df:expr) => {
        elementwise!(
            $ty,
            $kind,
            $flops,
            |$s, $x| $f,
            |$s2, $xx, $y| $df,
            f32 = None::<fn(&[f32], &mut [f32])>
        );
    };
    ($ty:ty, $kind:literal, $flops:literal, |$s:ident, $x:ident| $f:expr, |$s2:ident, $xx:ident, $y:ident| $df:expr, f32 = $fast:expr) => {
        impl<T: Scalar, const N: usize> Layer<T, N, N> for $ty {
            type Params = ();
            type State = ();
            type Tape<const B: usize> = ();
            const KIND: &'static str = $kind;
            const FLOPS: usize = $flops * N;
            const SEGMENTS: &'static [crate::layout::Segment] = &[];

            fn init_params<R: Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}

            // Always inlined where the vector kernels exist, as `Linear`'s forward is.
            #[cfg_attr(
                any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"),
                inline(always)
            )]
            #[cfg_attr(
                not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")),
                inline
            )]
            fn forward<const B: usize>(
                &self,
                _: &(),
                _: &(),
                x: &SMatrix<T, N, B>,
                y: &mut SMatrix<T, N, B>,
            ) {
                if let Some(fast) = $fast {
                    if let Some((x, y)) = as_f32(x.as_slice(), y.as_mut_slice()) {
                        return fast(x, y);
                    }
                }
                let $s = self;
                for (yv, &$x) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
                    *yv = $f;
                }
            }

            #[inline]
            fn backward<const B: usize>(
                &self,
                _: &(),
                x: &SMatrix<T, N, B>,
                y: &SMatrix<T, N, B>,
                _: &(),
                dy: &SMatrix<T, N, B>,
                dx: Option<&mut SMatrix<T, N, B>>,
                _: &mut (),
            ) {
                let $s2 = self;
                if let Some(dx) = dx {
                    let it = x.as_slice().iter().zip(y.as_slice()).zip(dy.as_slice());
                    for (d, ((&$xx, &$y), &g)) in dx.as_mut_slice().iter_mut().zip(it) {
                        *d = g * ($df);
                    }
                }
            }
        }
    };
}

/// Logistic sigmoid `σ(x) = 1 / (1 + e^{−x})`; `σ'(x) = σ(x)(1 − σ(x))`, computed from the
/// saved output.
///
/// `f32` uses [`math::sigmoid`], within 2 ulp of the exact value over every `f32` and
/// vectorised; `f64` computes the formula with `libm`'s `exp`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sigmoid;

/// Hyperbolic tangent; `tanh'(x) = 1 − tanh²(x)`, computed from the saved output.
///
/// `f32` uses [`math::tanh`], within 2 ulp of the exact value over every `f32` and
/// vectorised; `f64` uses `libm`'s `tanh`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tanh;

/// Rectified linear unit `max(0, x)`; the derivative at 0 is taken as 0 (as PyTorch does).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReLU;

/// Leaky ReLU `max(0, x) + slope·min(0, x)`, PyTorch's `nn.LeakyReLU` (default slope 0.01).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    /// Slope for negative inputs.
    pub slope: f64,
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU { slope: 0.01 }
    }
}

/// Exponential linear unit: `x` for `x > 0`, `α(e^x − 1)` otherwise (PyTorch's `nn.ELU`,
/// default α = 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ELU {
    /// Saturation value for large negative inputs is `−alpha`.
    pub alpha: f64,
}

impl Default for ELU {
    fn default() -> Self {
        ELU { alpha: 1.0 }
    }
}

elementwise!(
    Sigmoid,
    "Sigmoid",
    4,
    |_s, x| T::one() / (T::one() + (-x).exp_libm()),
    |_s, _x, y| y * (T::one() - y),
    f32 = Some(math::sigmoid_slice)
);
elementwise!(
    Tanh,
    "Tanh",
    4,
    |_s, x| x.tanh_libm(),
    |_s, _x, y| T::one() - y * y,
    f32 = Some(math::tanh_slice)
);
elementwise!(
    ReLU,
    "ReLU",
    1,
    |_s, x| if x > T::zero() { x } else { T::zero() },
    |_s, x, _y| if x > T::zero() { T::one() } else { T::zero() }
);
elementwise!(
    LeakyReLU,
    "LeakyReLU",
    2,
    |s, x| if x > T::zero() { x } else { T::of(s.slope) * x },
    |s, x, _y| if x > T::zero() {
        T::one()
    } else {
        T::of(s.slope)
    }
);
elementwise!(
    ELU,
    "ELU",
    4,
    |s, x| if x > T::zero() {
        x
    } else {
        T::of(s.alpha) * (x.exp_libm() - T::one())
    },
    |s, x, y| if x > T::zero() {
        T::one()
    } else {
        y + T::of(s.alpha)
    }
);
