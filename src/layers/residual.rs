//! [`Residual`]: the sum at the end of a residual block.

use crate::{Layer, SMatrix, Scalar};

/// The sum that ends a residual block declared with `Residual(...)` in
/// [`network!`](macro@crate::network): the block's output is its body's output plus its
/// input (or, with `; projection = …`, plus the projection's output).
///
/// The generated network runs the body and the projection on the block's input and calls
/// [`Residual::join`] (forward) and [`Residual::join_grad`] (backward: the gradient of the
/// sum flows unchanged into both paths, and the two input gradients are summed). As a
/// [`Layer`] on its own it is the sum with a zero second path, the identity; its row in the
/// layer table stands for the block (kind `Residual`, `N` additions per sample), and the
/// layers of its body and projection follow it there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Residual;

impl Residual {
    /// `out = body + skip`, element by element. The two widths must be equal (`network!`
    /// checks it at the declaration; this function asserts it at compile time, so that a
    /// block whose shapes, given by `const` items, differ is one error: the declaration's).
    #[inline]
    pub fn join<T: Scalar, const N: usize, const M: usize, const B: usize>(
        body: &SMatrix<T, N, B>,
        skip: &SMatrix<T, M, B>,
        out: &mut SMatrix<T, N, B>,
    ) {
        const { assert!(N == M, "a residual block adds two values of the same width") };
        for ((o, &a), &b) in out
            .as_mut_slice()
            .iter_mut()
            .zip(body.as_slice())
            .zip(skip.as_slice())
        {
            *o = a + b;
        }
    }

    /// `acc += other`, element by element: the gradient of the block's input from its two
    /// paths.
    #[inline]
    pub fn join_grad<T: Scalar, const N: usize, const B: usize>(
        acc: &mut SMatrix<T, N, B>,
        other: &SMatrix<T, N, B>,
    ) {
        for (a, &b) in acc.as_mut_slice().iter_mut().zip(other.as_slice()) {
            *a += b;
        }
    }
}

impl<T: Scalar, const N: usize> Layer<T, N, N> for Residual {
    type Params = ();
    type State = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Residual";
    const FLOPS: usize = N;

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
