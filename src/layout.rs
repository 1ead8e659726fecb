//! What the scalars of a parameter block are: the layout optimisers and regularisers read.
//!
//! A network's parameter block is the concatenation of its layers' `Params`, each described
//! by [`Layer::SEGMENTS`](crate::Layer::SEGMENTS): runs of weight matrices, biases,
//! normalisation parameters and others. [`ParamBlock`] gives the whole block's layout, so
//! code written once (an optimiser, weight decay, a max-norm constraint) can tell a weight
//! from a bias without knowing the network.

use bytemuck::Pod;

use crate::Scalar;
use crate::summary::LayerInfo;

/// What a run of parameters is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Entries of weight matrices (decayed and max-norm constrained by default).
    Weight,
    /// Biases.
    Bias,
    /// Scale and shift of a normalisation layer.
    Norm,
    /// Anything else (a learned activation slope, a custom layer's parameters).
    Other,
}

/// A run of scalars of one [`Role`] inside a layer's parameters.
///
/// For [`Role::Weight`] the run holds `len / (rows·cols)` matrices of `rows × cols`, each
/// stored column-major; row `o` of a matrix is the incoming weight vector of unit `o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    /// What the scalars are for.
    pub role: Role,
    /// Number of scalars.
    pub len: usize,
    /// Rows of each matrix (outputs); 0 unless `role` is `Weight`.
    pub rows: usize,
    /// Columns of each matrix (inputs); 0 unless `role` is `Weight`.
    pub cols: usize,
}

impl Segment {
    /// `count` weight matrices of `rows × cols`.
    pub const fn weights(rows: usize, cols: usize, count: usize) -> Self {
        Segment {
            role: Role::Weight,
            len: rows * cols * count,
            rows,
            cols,
        }
    }

    /// `len` biases.
    pub const fn bias(len: usize) -> Self {
        Segment {
            role: Role::Bias,
            len,
            rows: 0,
            cols: 0,
        }
    }

    /// `len` normalisation parameters.
    pub const fn norm(len: usize) -> Self {
        Segment {
            role: Role::Norm,
            len,
            rows: 0,
            cols: 0,
        }
    }

    /// `len` other parameters.
    pub const fn other(len: usize) -> Self {
        Segment {
            role: Role::Other,
            len,
            rows: 0,
            cols: 0,
        }
    }
}

/// A parameter block whose layout is known: every network's `Params` type, and plain
/// arrays (all weights of one column).
pub trait ParamBlock<T: Scalar>: Pod {
    /// The layers whose parameters make up the block, in storage order.
    const LAYERS: &'static [LayerInfo];

    /// Scalars at the end of the block that belong to no layer: the padding of a block that
    /// `network!` generates to whole cache lines (see [`block`](crate::block)), zero for
    /// any other block. Optimisers and regularisers leave them out.
    const PADDING: usize = 0;

    /// Every segment with its offset in the block, in storage order.
    fn segments() -> impl Iterator<Item = (usize, Segment)> {
        Self::LAYERS
            .iter()
            .flat_map(|l| l.segments.iter())
            .scan(0, |offset, s| {
                let at = *offset;
                *offset += s.len;
                Some((at, *s))
            })
    }
}

/// The scalars of a block that belong to layers: all but its [`PADDING`](ParamBlock::PADDING).
#[inline]
pub(crate) fn learned<T: Scalar, P: ParamBlock<T>>(block: &P) -> &[T] {
    let all = crate::block::as_slice::<T, P>(block);
    if P::PADDING == 0 {
        // Every block off x86-64: the whole slice, with no bound to check (firmware size).
        return all;
    }
    &all[..all.len() - P::PADDING]
}

/// [`learned`], mutable.
#[inline]
pub(crate) fn learned_mut<T: Scalar, P: ParamBlock<T>>(block: &mut P) -> &mut [T] {
    let all = crate::block::as_mut_slice::<T, P>(block);
    if P::PADDING == 0 {
        return all;
    }
    let n = all.len() - P::PADDING;
    &mut all[..n]
}

impl<T: Scalar, const N: usize> ParamBlock<T> for [T; N] {
    const LAYERS: &'static [LayerInfo] = &[LayerInfo {
        name: "array",
        kind: "array",
        inputs: 1,
        outputs: N,
        in_shape: &[1],
        out_shape: &[N],
        params: N,
        flops: 0,
        segments: &[Segment::weights(N, 1, 1)],
        state: 0,
        named: false,
        path: "0",
        tensors: &[crate::io::Tensor::params("array", 0, &[N])],
    }];
}

impl<T: Scalar> ParamBlock<T> for () {
    const LAYERS: &'static [LayerInfo] = &[];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_blocks_are_one_weight_column() {
        let segs: [(usize, Segment); 1] = {
            let mut it = <[f32; 3] as ParamBlock<f32>>::segments();
            [it.next().unwrap()]
        };
        assert_eq!(segs[0], (0, Segment::weights(3, 1, 1)));
    }
}
