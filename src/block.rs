//! Parameter blocks: plain structs of scalars seen as one contiguous slice.
//!
//! Every network's parameters, gradients and optimiser state are `#[repr(C)]` structs that
//! hold nothing but scalars of one type. [`as_slice`] and [`as_mut_slice`] view such a block as
//! `&[T]`, so an optimiser is one loop over a slice, written once for every network.
//!
//! On x86-64 the blocks `network!` generates (parameters, hence gradients and optimiser
//! state, persistent state and the training tape) are aligned to 64-byte cache lines, and
//! the parameter and state blocks end with up to 15 scalars of zero padding that fill their
//! last line. The vector kernels' loads and stores of a matrix whose rows fill whole lines
//! then never straddle two (unaligned, W3's training step is about 2 % slower). The padding
//! is nobody's parameter: it stays zero, optimisers leave it at zero, and blobs do not store
//! it, so a blob is the same on every target. Elsewhere (microcontrollers) there is neither
//! alignment nor padding. A network with a custom layer is not aligned either.

use bytemuck::Pod;

use crate::Scalar;

/// Views a block of scalars as a slice.
///
/// `P` must consist of `T` values only (as every `Params` type of a [`Layer`](crate::Layer)
/// does); a block whose size is not a multiple of `T`'s is rejected at compile time.
///
/// ```
/// let block = [[1.0f32, 2.0], [3.0, 4.0]];
/// assert_eq!(staticnn::block::as_slice::<f32, _>(&block), &[1.0, 2.0, 3.0, 4.0]);
/// ```
#[inline]
pub fn as_slice<T: Scalar, P: Pod>(block: &P) -> &[T] {
    const {
        assert!(
            size_of::<P>().is_multiple_of(size_of::<T>()),
            "a parameter block must hold only scalars"
        )
    };
    if size_of::<P>() == 0 {
        return &[];
    }
    bytemuck::cast_slice(core::slice::from_ref(block))
}

/// Views a block of scalars as a mutable slice; see [`as_slice`].
#[inline]
pub fn as_mut_slice<T: Scalar, P: Pod>(block: &mut P) -> &mut [T] {
    const {
        assert!(
            size_of::<P>().is_multiple_of(size_of::<T>()),
            "a parameter block must hold only scalars"
        )
    };
    if size_of::<P>() == 0 {
        return &mut [];
    }
    bytemuck::cast_slice_mut(core::slice::from_mut(block))
}

/// Whether every scalar of a block is finite (neither NaN nor infinite).
///
/// `0 · v` is zero for a finite `v` and NaN otherwise; on targets with vector units the
/// check sums it into 16 independent accumulators, which the compiler turns into vector
/// instructions (the training step runs this over every gradient), and looks at them once
/// at the end.
///
/// ```
/// assert!(staticnn::block::all_finite::<f32, _>(&[1.0f32, -2.0, 0.0]));
/// assert!(!staticnn::block::all_finite::<f32, _>(&[1.0f32, f32::NAN]));
/// assert!(!staticnn::block::all_finite::<f64, _>(&[f64::NEG_INFINITY, 1.0]));
/// ```
#[inline]
pub fn all_finite<T: Scalar, P: Pod>(block: &P) -> bool {
    slice_all_finite(as_slice::<T, P>(block))
}

/// Whether every scalar of `values` is finite: [`all_finite`] on a slice.
#[inline]
pub(crate) fn slice_all_finite<T: Scalar>(values: &[T]) -> bool {
    // Targets without a vector unit (microcontrollers) keep the plain loop: the 16
    // accumulators would be 16 scalars of stack there, for nothing.
    let vector = cfg!(all(
        not(staticnn_portable),
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "aarch64"
        )
    ));
    if !vector {
        return values.iter().all(|v| v.is_finite());
    }
    let chunks = values.chunks_exact(16);
    let rest = chunks.remainder();
    let mut acc = [T::zero(); 16];
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v * T::zero();
        }
    }
    acc.iter().chain(rest).all(|&v| v * T::zero() == T::zero())
}

/// Number of scalars in a block of type `P`.
pub const fn len<T, P>() -> usize {
    size_of::<P>() / size_of::<T>()
}

/// Sets every scalar of a block to zero, in place (no temporary on the stack).
#[inline]
pub fn zero<P: Pod>(block: &mut P) {
    bytemuck::bytes_of_mut(block).fill(0);
}

/// A zeroed block on the heap, for blocks too large for the stack.
///
/// Never passes the value through the stack: the memory is allocated zeroed.
#[cfg(feature = "alloc")]
pub fn zeroed_box<P: bytemuck::Zeroable>() -> alloc::boxed::Box<P> {
    bytemuck::zeroed_box()
}
