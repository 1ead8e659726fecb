//! Softmax output layer.

use rand::Rng;

use crate::{Layer, SMatrix, Scalar};

/// Softmax over the features of each sample: `y_k = e^{x_k} / Σ_j e^{x_j}`, computed stably
/// (the maximum is subtracted first).
///
/// Use it as the output of a network that must emit probabilities. To *train* a classifier,
/// use the [`SoftmaxCrossEntropy`](crate::loss::SoftmaxCrossEntropy) loss on the logits
/// instead: it applies softmax itself, stably, and `network!` rejects the two together.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Softmax;

/// Writes the softmax of `x` into `y`, column by column.
pub(crate) fn softmax_columns<T: Scalar>(x: &[T], y: &mut [T], n: usize) {
    for (xc, yc) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
        let m = xc
            .iter()
            .copied()
            .fold(xc[0], |a, b| if b > a { b } else { a });
        let mut sum = T::zero();
        for (yv, &xv) in yc.iter_mut().zip(xc) {
            *yv = (xv - m).exp_libm();
            sum += *yv;
        }
        let inv = T::one() / sum;
        for yv in yc.iter_mut() {
            *yv *= inv;
        }
    }
}

impl<T: Scalar, const N: usize> Layer<T, N, N> for Softmax {
    type Params = ();
    type State = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Softmax";
    const FLOPS: usize = 4 * N;
    const SEGMENTS: &'static [crate::layout::Segment] = &[];

    fn init_params<R: Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}

    #[inline]
    fn forward<const B: usize>(
        &self,
        _: &(),
        _: &(),
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        softmax_columns(x.as_slice(), y.as_mut_slice(), N);
    }

    /// `dx = y ⊙ (dy − ⟨dy, y⟩)` per sample.
    #[inline]
    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &SMatrix<T, N, B>,
        y: &SMatrix<T, N, B>,
        _: &(),
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            for b in 0..B {
                let (yc, gc) = (y.column(b), dy.column(b));
                let s = yc.dot(&gc);
                for k in 0..N {
                    dx[(k, b)] = yc[k] * (gc[k] - s);
                }
            }
        }
    }
}
