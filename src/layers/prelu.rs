//! Parametric ReLU with one learned slope.

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use crate::io::Tensor;
use crate::layout::Segment;
use crate::{Layer, SMatrix, Scalar};

/// Parametric ReLU `max(0, x) + a·min(0, x)` with one learned slope `a` shared by all
/// features (PyTorch's `nn.PReLU()` with `num_parameters = 1`, initial slope 0.25).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PReLU {
    /// Initial slope.
    pub init: f64,
}

impl Default for PReLU {
    fn default() -> Self {
        PReLU { init: 0.25 }
    }
}

/// Parameters of a [`PReLU`] layer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PReLUParams<T: Scalar> {
    /// The learned slope for negative inputs.
    pub slope: T,
}

// SAFETY: `#[repr(C)]` with a single `T` field.
unsafe impl<T: Scalar> Zeroable for PReLUParams<T> {}
// SAFETY: as above.
unsafe impl<T: Scalar> Pod for PReLUParams<T> {}

impl<T: Scalar, const N: usize> Layer<T, N, N> for PReLU {
    type Params = PReLUParams<T>;
    type State = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "PReLU";
    const FLOPS: usize = 2 * N;
    const SEGMENTS: &'static [Segment] = &[Segment::other(1)];
    /// `weight` of shape `[1]`, as in `nn.PReLU()`.
    const TENSORS: &'static [Tensor] = &[Tensor::params("weight", 0, &[1])];

    fn init_params<R: Rng + ?Sized>(&self, p: &mut Self::Params, _: &mut (), _: &mut R) {
        p.slope = T::of(self.init);
    }

    #[inline]
    fn forward<const B: usize>(
        &self,
        p: &Self::Params,
        _: &(),
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        for (yv, &xv) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
            *yv = if xv > T::zero() { xv } else { p.slope * xv };
        }
    }

    #[inline]
    fn backward<const B: usize>(
        &self,
        p: &Self::Params,
        x: &SMatrix<T, N, B>,
        _: &SMatrix<T, N, B>,
        _: &(),
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        g: &mut Self::Params,
    ) {
        let mut ds = T::zero();
        for (&xv, &gv) in x.as_slice().iter().zip(dy.as_slice()) {
            if xv <= T::zero() {
                ds += gv * xv;
            }
        }
        g.slope += ds;
        if let Some(dx) = dx {
            for (d, (&xv, &gv)) in dx
                .as_mut_slice()
                .iter_mut()
                .zip(x.as_slice().iter().zip(dy.as_slice()))
            {
                *d = if xv > T::zero() { gv } else { p.slope * gv };
            }
        }
    }
}
