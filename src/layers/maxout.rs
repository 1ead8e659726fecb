//! Maxout: the element-wise maximum of `K` affine pieces.

use bytemuck::{Pod, Zeroable};
use rand::Rng;

use crate::init::{Draw, RoundedF64};
use crate::io::Tensor;
use crate::kernels;
use crate::layout::Segment;
use crate::{Init, Layer, SMatrix, SVector, Scalar};

/// Maxout unit (Goodfellow et al. 2013): `y_o = max_k (W_k x + b_k)_o` over `K` affine pieces.
///
/// Each piece is initialised like a [`Linear`](crate::layers::Linear) layer (default
/// [`Init::TorchDefault`]). Ties go to the lowest piece index. `K` is at most 255.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Maxout<const K: usize> {
    /// Initialisation of each piece's weight matrix.
    pub weight: Init,
    /// Initialisation of each piece's bias.
    pub bias: Init,
}

impl<const K: usize> Default for Maxout<K> {
    fn default() -> Self {
        Maxout {
            weight: Init::TorchDefault,
            bias: Init::TorchDefault,
        }
    }
}

/// Parameters of a [`Maxout`] layer: `K` affine pieces, all weights first, then all biases.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxoutParams<T: Scalar, const I: usize, const O: usize, const K: usize> {
    /// The weight matrix of each piece, `O × I`.
    pub weight: [SMatrix<T, O, I>; K],
    /// The bias of each piece, `O` entries.
    pub bias: [SVector<T, O>; K],
}

// SAFETY: `#[repr(C)]` array of `Pod` blocks of `T`; no padding.
unsafe impl<T: Scalar, const I: usize, const O: usize, const K: usize> Zeroable
    for MaxoutParams<T, I, O, K>
{
}
// SAFETY: as above.
unsafe impl<T: Scalar, const I: usize, const O: usize, const K: usize> Pod
    for MaxoutParams<T, I, O, K>
{
}

/// Which piece won, per output and sample.
#[derive(Clone, Copy, Debug)]
pub struct MaxoutTape<const O: usize, const B: usize> {
    winner: [[u8; O]; B],
}

// SAFETY: arrays of `u8`.
unsafe impl<const O: usize, const B: usize> Zeroable for MaxoutTape<O, B> {}

impl<const K: usize> Maxout<K> {
    fn pieces<T: Scalar, const I: usize, const O: usize, const B: usize>(
        p: &MaxoutParams<T, I, O, K>,
        x: &SMatrix<T, I, B>,
        y: &mut SMatrix<T, O, B>,
        mut record: impl FnMut(usize, usize, u8),
    ) {
        const { assert!(K >= 1 && K <= 255, "maxout needs 1 to 255 pieces") };
        let mut z = SMatrix::<T, O, B>::zeros();
        for (k, (w, bias)) in p.weight.iter().zip(&p.bias).enumerate() {
            kernels::affine(
                w.as_slice(),
                bias.as_slice(),
                x.as_slice(),
                z.as_mut_slice(),
                I,
                O,
            );
            for b in 0..B {
                for o in 0..O {
                    if k == 0 || z[(o, b)] > y[(o, b)] {
                        y[(o, b)] = z[(o, b)];
                        record(b, o, k as u8);
                    }
                }
            }
        }
    }
}

impl<T: Scalar, const I: usize, const O: usize, const K: usize> Layer<T, I, O> for Maxout<K> {
    type Params = MaxoutParams<T, I, O, K>;
    type State = ();
    type Tape<const B: usize> = MaxoutTape<O, B>;
    const KIND: &'static str = "Maxout";
    const FLOPS: usize = 2 * I * O * K + O * K;
    const SEGMENTS: &'static [Segment] = &[Segment::weights(O, I, K), Segment::bias(O * K)];
    /// PyTorch has no maxout module; staticnn names its tensors `weight` `[K, O, I]` (piece
    /// `k`'s matrix is `weight[k]`, each stored column-major) and `bias` `[K, O]`, as a
    /// `nn.Linear(I, K·O)` whose weight and bias are viewed as `[K, O, I]` and `[K, O]`.
    const TENSORS: &'static [Tensor] = &[
        Tensor::params("weight", 0, &[K, O, I]).column_major(),
        Tensor::params("bias", K * O * I, &[K, O]),
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
        for (w, b) in p.weight.iter_mut().zip(&mut p.bias) {
            (self.weight).fill_with::<D, T, R, I, O>(draw, w.as_mut_slice(), rng);
            (self.bias).fill_with::<D, T, R, I, O>(draw, b.as_mut_slice(), rng);
        }
    }

    fn forward<const B: usize>(
        &self,
        p: &Self::Params,
        _: &(),
        x: &SMatrix<T, I, B>,
        y: &mut SMatrix<T, O, B>,
    ) {
        Self::pieces(p, x, y, |_, _, _| {});
    }

    fn forward_train<const B: usize, R: Rng + ?Sized>(
        &self,
        p: &Self::Params,
        _: &mut (),
        x: &SMatrix<T, I, B>,
        y: &mut SMatrix<T, O, B>,
        tape: &mut Self::Tape<B>,
        _: &mut R,
    ) {
        Self::pieces(p, x, y, |b, o, k| tape.winner[b][o] = k);
    }

    fn backward<const B: usize>(
        &self,
        p: &Self::Params,
        x: &SMatrix<T, I, B>,
        _: &SMatrix<T, O, B>,
        tape: &Self::Tape<B>,
        dy: &SMatrix<T, O, B>,
        dx: Option<&mut SMatrix<T, I, B>>,
        g: &mut Self::Params,
    ) {
        let mut dx = dx;
        if let Some(dx) = dx.as_deref_mut() {
            dx.fill(T::zero());
        }
        // Route each output's gradient to the piece that won it.
        let pieces = g.weight.iter_mut().zip(&mut g.bias).zip(&p.weight);
        for (k, ((gw, gb), pw)) in pieces.enumerate() {
            let mut routed = SMatrix::<T, O, B>::zeros();
            for b in 0..B {
                for o in 0..O {
                    if tape.winner[b][o] as usize == k {
                        routed[(o, b)] = dy[(o, b)];
                    }
                }
            }
            kernels::affine_grads(
                gw.as_mut_slice(),
                gb.as_mut_slice(),
                x.as_slice(),
                routed.as_slice(),
                I,
                O,
            );
            if let Some(dx) = dx.as_deref_mut() {
                kernels::affine_input_grad_acc(
                    pw.as_slice(),
                    routed.as_slice(),
                    dx.as_mut_slice(),
                    I,
                    O,
                );
            }
        }
    }
}
