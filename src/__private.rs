//! Support for the code `network!` writes. Not part of the public API; may change at any time.

pub use bytemuck::{Pod, Zeroable};
pub use core::marker::PhantomData;
pub use core::option::Option::{None, Some};
pub use rand::Rng;

use crate::{SMatrix, Scalar};

/// A width carried in a type, for readable width-mismatch errors.
pub struct Width<const N: usize>;

/// Holds when the layer marked by `Self`, declared to take `N` inputs, is fed the width `W`
/// (a [`Width`]). The check reports through [`Feeds`], whose message can show both numbers.
///
/// The macro spans the marker (`Self`) on the user's width token, and rustc points at the
/// `Self` argument of a failed bound, so the error lands on that token.
pub trait FedBy<W, const N: usize> {}

impl<L, const P: usize, const N: usize> FedBy<Width<P>, N> for L where (): Feeds<P, N> {}

/// Holds when a layer declared to take `N` inputs receives `P`, that is when `P == N`.
///
/// Implemented for every type, so that rustc offers no "but it is implemented for …" hint;
/// the self type of the failing bound is `()`, not the marker, so that rustc reports this
/// trait's message rather than the generic "trait bound not satisfied" of [`FedBy`].
#[diagnostic::on_unimplemented(
    message = "this layer takes {N} inputs, but receives {P}",
    label = "this width is {N}",
    note = "each layer's input width must equal the output width of the layer before it (for the first layer, the network's `input`)"
)]
pub trait Feeds<const P: usize, const N: usize> {}

impl<S: ?Sized, const N: usize> Feeds<N, N> for S {}

/// Compile-time check that the width `W` feeds the layer marked `L`, which takes `N` inputs.
pub const fn assert_feeds<W, L: FedBy<W, N>, const N: usize>() {}

/// The largest of the widths.
pub const fn max_width(widths: &[usize]) -> usize {
    let mut m = 0;
    let mut i = 0;
    while i < widths.len() {
        if widths[i] > m {
            m = widths[i];
        }
        i += 1;
    }
    m
}

/// The first `R·C` scalars of a scratch buffer, seen as an `R × C` matrix.
#[inline(always)]
pub fn view<T: Scalar, const R: usize, const C: usize, const M: usize>(
    buf: &SMatrix<T, M, C>,
) -> &SMatrix<T, R, C> {
    const { assert!(R <= M) };
    &bytemuck::cast_slice::<T, SMatrix<T, R, C>>(&buf.as_slice()[..R * C])[0]
}

/// The first `R·C` scalars of a scratch buffer, seen as a mutable `R × C` matrix.
#[inline(always)]
pub fn view_mut<T: Scalar, const R: usize, const C: usize, const M: usize>(
    buf: &mut SMatrix<T, M, C>,
) -> &mut SMatrix<T, R, C> {
    const { assert!(R <= M) };
    &mut bytemuck::cast_slice_mut::<T, SMatrix<T, R, C>>(&mut buf.as_mut_slice()[..R * C])[0]
}

/// The number of scalars in a layer's parameter block (for the layer table).
pub const fn param_count<T, P>() -> usize {
    crate::block::len::<T, P>()
}
