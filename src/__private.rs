//! Support for the code `network!` writes. Not part of the public API; may change at any time.

pub use bytemuck::{Pod, Zeroable};
pub use core::marker::PhantomData;
pub use core::option::Option::{None, Some};
pub use rand::Rng;

use crate::{SMatrix, Scalar};

/// A width carried in a type, for readable width-mismatch errors.
pub struct Width<const N: usize>;

/// Holds when a layer declared to take `N` inputs follows a layer that produces `N`.
#[diagnostic::on_unimplemented(
    message = "layer `{L}` takes {N} inputs, but the layer before it produces `{Self}`",
    label = "this layer expects {N} inputs",
    note = "the output width of each layer must equal the input width of the next"
)]
pub trait Feeds<L, const N: usize> {}

impl<L, const N: usize> Feeds<L, N> for Width<N> {}

/// Compile-time check that `W` feeds a layer `L` taking `N` inputs.
pub const fn assert_feeds<W: Feeds<L, N>, L, const N: usize>() {}

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
pub fn view<T: Scalar, const R: usize, const C: usize, const M: usize>(buf: &SMatrix<T, M, C>) -> &SMatrix<T, R, C> {
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
