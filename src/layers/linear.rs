//! Fully connected layer `y = W x + b`.

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use crate::init::{Draw, RoundedF64};
use crate::io::Tensor;
use crate::kernels;
use crate::layout::Segment;
use crate::{Init, Layer, SMatrix, SVector, Scalar};

/// Fully connected layer `y = W x + b`, PyTorch's `nn.Linear`.
///
/// `W` is `O × I` (PyTorch's `[out, in]`), `b` has `O` entries. Both are initialised with
/// [`Init::TorchDefault`] unless the declaration says otherwise
/// (`Linear(128, init = he_normal, bias = zeros)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linear {
    /// Initialisation of the weight matrix.
    pub weight: Init,
    /// Initialisation of the bias.
    pub bias: Init,
}

impl Default for Linear {
    fn default() -> Self {
        Linear {
            weight: Init::TorchDefault,
            bias: Init::TorchDefault,
        }
    }
}

/// Parameters of a [`Linear`] layer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearParams<T: Scalar, const I: usize, const O: usize> {
    /// Weight matrix, `O × I`.
    pub weight: SMatrix<T, O, I>,
    /// Bias, `O` entries.
    pub bias: SVector<T, O>,
}

// SAFETY: `#[repr(C)]`, both fields are `Pod` blocks of `T` with `T`'s alignment, so there is
// no padding and every bit pattern is valid.
unsafe impl<T: Scalar, const I: usize, const O: usize> Zeroable for LinearParams<T, I, O> {}
// SAFETY: as above.
unsafe impl<T: Scalar, const I: usize, const O: usize> Pod for LinearParams<T, I, O> {}

impl<T: Scalar, const I: usize, const O: usize> Layer<T, I, O> for Linear {
    type Params = LinearParams<T, I, O>;
    type State = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Linear";
    const FLOPS: usize = 2 * I * O;
    const SEGMENTS: &'static [Segment] = &[Segment::weights(O, I, 1), Segment::bias(O)];
    /// `weight` `[O, I]` (stored column-major) and `bias` `[O]`, as in `nn.Linear`.
    const TENSORS: &'static [Tensor] = &[
        Tensor::params("weight", 0, &[O, I]).column_major(),
        Tensor::params("bias", O * I, &[O]),
    ];

    fn init_params<R: Rng + ?Sized>(&self, p: &mut Self::Params, s: &mut (), rng: &mut R) {
        self.init_params_with(RoundedF64, p, s, rng)
    }

    #[inline(always)]
    fn init_params_with<D: Draw, R: Rng + ?Sized>(
        &self,
        draw: D,
        p: &mut Self::Params,
        _: &mut (),
        rng: &mut R,
    ) {
        (self.weight).fill_with::<D, T, R, I, O>(draw, p.weight.as_mut_slice(), rng);
        (self.bias).fill_with::<D, T, R, I, O>(draw, p.bias.as_mut_slice(), rng);
    }

    // Always inlined where the vector kernels exist, as `kernels::affine` is: a single
    // sample through a small layer is then loops specialised for the call site (also in
    // the generated forward's AVX2 copy), whatever else the crate declares.
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
        p: &Self::Params,
        _: &(),
        x: &SMatrix<T, I, B>,
        y: &mut SMatrix<T, O, B>,
    ) {
        kernels::affine(
            p.weight.as_slice(),
            p.bias.as_slice(),
            x.as_slice(),
            y.as_mut_slice(),
            I,
            O,
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
        linear_backward(p, x, dy, dx, g, Grads::Add);
    }

    #[inline]
    fn backward_overwrite<const B: usize>(
        &self,
        p: &Self::Params,
        x: &SMatrix<T, I, B>,
        _: &SMatrix<T, O, B>,
        _: &(),
        dy: &SMatrix<T, O, B>,
        dx: Option<&mut SMatrix<T, I, B>>,
        g: &mut Self::Params,
    ) {
        linear_backward(p, x, dy, dx, g, Grads::Set);
    }

    #[inline]
    fn backward_overwrite_finite<const B: usize>(
        &self,
        p: &Self::Params,
        x: &SMatrix<T, I, B>,
        _: &SMatrix<T, O, B>,
        _: &(),
        dy: &SMatrix<T, O, B>,
        dx: Option<&mut SMatrix<T, I, B>>,
        g: &mut Self::Params,
    ) -> bool {
        linear_backward(p, x, dy, dx, g, Grads::SetFinite)
    }
}

/// What [`linear_backward`] does with the parameter gradients.
#[derive(Clone, Copy)]
enum Grads {
    /// Adds them to `g` (`backward`).
    Add,
    /// Writes them into `g` (`backward_overwrite`).
    Set,
    /// Writes them and checks that they are finite (`backward_overwrite_finite`).
    SetFinite,
}

/// The backward pass of [`Linear`]: the parameter gradients added to or written into `g`,
/// and the input gradient written into `dx` when asked. Returns whether the gradients are
/// finite with [`Grads::SetFinite`], `true` otherwise.
#[inline(always)]
fn linear_backward<T: Scalar, const I: usize, const O: usize, const B: usize>(
    p: &LinearParams<T, I, O>,
    x: &SMatrix<T, I, B>,
    dy: &SMatrix<T, O, B>,
    dx: Option<&mut SMatrix<T, I, B>>,
    g: &mut LinearParams<T, I, O>,
    grads: Grads,
) -> bool {
    let (dw, db) = (g.weight.as_mut_slice(), g.bias.as_mut_slice());
    let (xs, dys) = (x.as_slice(), dy.as_slice());
    let finite = match grads {
        Grads::Add => {
            kernels::affine_grads(dw, db, xs, dys, I, O);
            true
        }
        Grads::Set => {
            kernels::affine_grads_set(dw, db, xs, dys, I, O);
            true
        }
        Grads::SetFinite => kernels::affine_grads_set_finite(dw, db, xs, dys, I, O),
    };
    if let Some(dx) = dx {
        kernels::affine_input_grad(p.weight.as_slice(), dys, dx.as_mut_slice(), I, O);
    }
    finite
}
