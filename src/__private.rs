//! Support for the code `network!` writes. Not part of the public API; may change at any time.

pub use bytemuck::{Pod, Zeroable};
pub use core::marker::PhantomData;
pub use core::option::Option::{None, Some};
pub use rand::Rng;

use crate::{SMatrix, Scalar};

/// The slice kernels of the dense products, for the benchmarks' per-product cases, and the
/// choice of their path (instruction set), for the benchmarks and tests that compare paths.
pub mod kernels {
    #[cfg(feature = "std")]
    pub use crate::kernels::set_path;
    pub use crate::kernels::{Path, affine, affine_grads, affine_input_grad, cpu_path, path};
}

/// The max pooling layers' fused `ReLU` + pooling, which the generated train-mode forward
/// and backward call for a `ReLU` followed by a max pooling.
pub use crate::layers::pool::ReluMaxPool;

/// Whether a training step has each layer check the gradients it writes (the vector kernels
/// check them as they store them) rather than checking the whole gradient block afterwards.
pub const FUSED_FINITE_CHECK: bool = crate::kernels::FUSED_FINITE_CHECK;

/// Whether the generated `Network::forward_train_bounded` checks each layer's parameters
/// after its forward ([`params_bounded`]): where the vector kernels check the gradients as
/// they store them, so that a training step with plain SGD reads the gradients and the
/// parameters once, in the update. Elsewhere (microcontrollers) it says `false`, which
/// leaves the check to the optimiser, as before.
pub const BOUNDS_IN_FORWARD: bool = crate::kernels::FUSED_FINITE_CHECK;

/// Whether every scalar of `block` is finite and at most `MAX/4` in magnitude: the bound
/// under which plain SGD with `|lr| ≤ 1/4` cannot overflow on finite gradients
/// (`kernels::bounded` of the block's scalars, always inlined).
#[inline(always)]
pub fn params_bounded<T: Scalar, P: Pod>(block: &P) -> bool {
    crate::kernels::bounded(crate::block::as_slice::<T, P>(block))
}

/// A `Linear` layer's train-mode forward (its eval forward) and [`params_bounded`] of its
/// parameters, in one: what the generated `Network::forward_train_bounded` calls for a
/// `Linear` layer. Where the AVX-512 wide tiles run the product, the weights are bounded as
/// the product packs them (`kernels::affine_bounded`), not read a second time. The same
/// bits as the layer's forward; `true` only when [`params_bounded`] would say so.
#[inline(always)]
pub fn linear_bounded<T: Scalar, const I: usize, const O: usize, const B: usize>(
    p: &crate::layers::LinearParams<T, I, O>,
    x: &SMatrix<T, I, B>,
    y: &mut SMatrix<T, O, B>,
) -> bool {
    crate::kernels::affine_bounded(
        p.weight.as_slice(),
        p.bias.as_slice(),
        x.as_slice(),
        y.as_mut_slice(),
        I,
        O,
    )
}

/// What the generated `Network::backward_sgd` did: updated the parameters (the step is
/// done), or declined before changing anything (the training step then takes its usual
/// passes, which decide as before).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedSgd {
    /// Every layer's weights and biases took the plain SGD update.
    Updated,
    /// Nothing was changed but the tape's backward buffers.
    Declined,
}

/// Whether plain SGD can run inside the backward pass here (`Network::backward_sgd`): the
/// vector kernels that apply it as the weight gradients are computed run for `T`.
#[inline(always)]
pub fn fused_sgd_runs<T: Scalar>() -> bool {
    crate::kernels::fused_sgd_runs::<T>()
}

/// A `Linear` layer's input gradient `dX = Wᵀ · dY`, the layer's backward bits.
#[inline(always)]
pub fn linear_input_grad<T: Scalar, const I: usize, const O: usize, const B: usize>(
    p: &crate::layers::LinearParams<T, I, O>,
    dy: &SMatrix<T, O, B>,
    dx: &mut SMatrix<T, I, B>,
) {
    crate::kernels::affine_input_grad(p.weight.as_slice(), dy.as_slice(), dx.as_mut_slice(), I, O);
}

/// The `ReLU`'s backward in place: `g ← g · (x > 0 ? 1 : 0)` with `x` the `ReLU`'s input,
/// the layer's own formula and bits.
#[inline(always)]
pub fn relu_backward_in_place<T: Scalar, const R: usize, const C: usize>(
    x: &SMatrix<T, R, C>,
    g: &mut SMatrix<T, R, C>,
) {
    for (g, &x) in g.as_mut_slice().iter_mut().zip(x.as_slice()) {
        *g *= if x > T::zero() { T::one() } else { T::zero() };
    }
}

/// Whether plain SGD (`|lr| ≤ 1/4`) applied to a `Linear` layer whose parameters are at
/// most `MAX/4` (the training step's forward checked them) gives finite parameters, for
/// its input `x` and output gradient `dy`, proven before anything is written: every value
/// finite and `B · max|dY| · max|X| ≤ MAX/8` and `B · max|dY| ≤ MAX/8` bound every weight
/// and bias gradient by `MAX/8` times the rounding's growth over `B` sums (at most
/// `e^{1/4}` with `B · ε ≤ 1/4`), so that `|p − lr·g| < MAX/4 + MAX/16·1.3`. `false` when
/// the bound cannot vouch: the step then takes the usual passes, whose check decides.
#[inline]
pub fn sgd_bounded<T: Scalar, const I: usize, const O: usize, const B: usize>(
    x: &SMatrix<T, I, B>,
    dy: &SMatrix<T, O, B>,
) -> bool {
    let (Some(mx), Some(mdy)) = (
        crate::kernels::max_abs(x.as_slice()),
        crate::kernels::max_abs(dy.as_slice()),
    ) else {
        return false;
    };
    let (max, eps) = if core::mem::size_of::<T>() == 4 {
        (f64::from(f32::MAX), f64::from(f32::EPSILON) / 2.0)
    } else {
        (f64::MAX, f64::EPSILON / 2.0)
    };
    let n = B as f64;
    let (mx, mdy) = (mx.as_f64(), mdy.as_f64());
    n * eps <= 0.25 && n * mdy <= max / 8.0 && n * mdy * mx <= max / 8.0
}

/// Plain SGD on a `Linear` layer as its parameter gradients are computed: the weights by
/// the vector kernels as each tile of `dW` is finished (`dW` never stored, `g.weight` is
/// scratch), then the biases from their gradient, which is written into `g.bias`. The
/// bits of the layer's backward followed by `Sgd`'s update.
#[inline(always)]
pub fn linear_sgd<T: Scalar, const I: usize, const O: usize, const B: usize>(
    p: &mut crate::layers::LinearParams<T, I, O>,
    g: &mut crate::layers::LinearParams<T, I, O>,
    x: &SMatrix<T, I, B>,
    dy: &SMatrix<T, O, B>,
    lr: T,
) {
    crate::kernels::affine_grads_sgd(
        p.weight.as_mut_slice(),
        g.weight.as_mut_slice(),
        g.bias.as_mut_slice(),
        x.as_slice(),
        dy.as_slice(),
        I,
        O,
        lr,
    );
    for (b, &d) in p.bias.as_mut_slice().iter_mut().zip(g.bias.as_slice()) {
        *b -= lr * d;
    }
}

/// Whether the generated `Network::forward` runs its copy compiled for AVX2 + FMA: on
/// x86-64 when the products' [`path`](crate::kernels::path) is AVX2 or wider (so
/// `STATICNN_KERNELS=portable` runs the baseline copy) and the target does not enable AVX2
/// already (then the baseline copy is that code). Under `std` one relaxed load per network
/// call, not one check per layer; without `std` a constant.
#[inline(always)]
pub fn avx2_forward() -> bool {
    #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
    {
        !cfg!(target_feature = "avx2") && crate::kernels::path() >= crate::kernels::Path::Avx2
    }
    #[cfg(not(all(target_arch = "x86_64", not(staticnn_portable))))]
    {
        false
    }
}

/// The eval forward of a `Linear` layer and the `ReLU` after it, in one pass: what the
/// generated `forward` calls for such a pair (same bits as the two layers one after the
/// other). Always inlined where the vector kernels exist, as `Linear`'s forward is.
#[cfg_attr(
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"),
    inline(always)
)]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")),
    inline
)]
pub fn linear_relu<T: Scalar, const I: usize, const O: usize, const B: usize>(
    p: &crate::layers::LinearParams<T, I, O>,
    x: &SMatrix<T, I, B>,
    y: &mut SMatrix<T, O, B>,
) {
    crate::kernels::affine_relu(
        p.weight.as_slice(),
        p.bias.as_slice(),
        x.as_slice(),
        y.as_mut_slice(),
        I,
        O,
    );
}

/// The eval forward of a `ReLU` on the output of the layer before it, in place: what the
/// generated `forward` calls after any layer but a `Linear` (which has
/// [`linear_relu`]), so that the activation needs no second scratch buffer. The `ReLU`
/// layer's own formula, `if v > 0 { v } else { 0 }` (NaN to `+0`), so the same bits.
///
/// Where the CPU has vector units (x86, x86-64, AArch64) every value is stored, without a
/// branch: the loop vectorises, and a branch on the sign of each value mispredicts about
/// half the time on a convolution's output (W7's generated `forward` spent a third of its
/// time there). Elsewhere (microcontrollers) only the values that change are stored: 40 B
/// less flash on a Cortex-M4F.
#[inline]
pub fn relu_in_place<T: Scalar, const R: usize, const C: usize>(y: &mut SMatrix<T, R, C>) {
    for v in y.as_mut_slice() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
        {
            *v = if *v > T::zero() { *v } else { T::zero() };
        }
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
        #[allow(
            clippy::neg_cmp_op_on_partial_ord,
            reason = "NaN must become 0 as in the ReLU layer"
        )]
        if !(*v > T::zero()) {
            *v = T::zero();
        }
    }
}

/// A floating-point option given as a `const` item: the identity on `f64`, so an item of any
/// other type is a type error on the user's token (and an `f64` one needs no cast).
pub const fn float_option(value: f64) -> f64 {
    value
}

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

/// Rows of inference scratch for a chain of layers: the largest over the layers of what
/// must be alive while the layer runs, its input width plus its output width. `pairs` holds
/// these sums, with the first layer counting only its output (it reads the caller's input)
/// and the last only its input (it writes the returned matrix).
pub const fn scratch_rows(pairs: &[usize]) -> usize {
    max_width(pairs)
}

/// A scratch buffer of `A + G + Z` rows and `C` columns (column-major, so the scalars of the
/// matrices follow one another) seen as three matrices: `A` rows at the front, a gap of `G`,
/// and `Z` rows at the back.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Split<T, const A: usize, const G: usize, const Z: usize, const C: usize> {
    /// The front.
    pub a: SMatrix<T, A, C>,
    /// What lies between.
    pub gap: SMatrix<T, G, C>,
    /// The back.
    pub z: SMatrix<T, Z, C>,
}

// SAFETY: `#[repr(C)]` of three matrices of the same scalar, each an array of `T` with `T`'s
// alignment, so there is no padding and every bit pattern of `T` values is valid.
#[allow(unsafe_code)]
unsafe impl<T: Scalar, const A: usize, const G: usize, const Z: usize, const C: usize> Zeroable
    for Split<T, A, G, Z, C>
{
}
// SAFETY: as above.
#[allow(unsafe_code)]
unsafe impl<T: Scalar, const A: usize, const G: usize, const Z: usize, const C: usize> Pod
    for Split<T, A, G, Z, C>
{
}

/// `buf`, of `M = A + G + Z` rows, seen as a [`Split`]. The sizes and alignments agree by
/// construction (checked at compile time), so the cast compiles to nothing.
#[inline(always)]
fn split<
    T: Scalar,
    const A: usize,
    const G: usize,
    const Z: usize,
    const C: usize,
    const M: usize,
>(
    buf: &mut SMatrix<T, M, C>,
) -> &mut Split<T, A, G, Z, C> {
    const { assert!(A + G + Z == M) };
    bytemuck::cast_mut(buf)
}

/// The first `R` rows' worth of scalars (`R·C`) of a scratch buffer of `M = R + G` rows, seen
/// as an `R × C` matrix.
#[inline(always)]
pub fn front<T: Scalar, const R: usize, const G: usize, const C: usize, const M: usize>(
    buf: &SMatrix<T, M, C>,
) -> &SMatrix<T, R, C> {
    const { assert!(R + G == M) };
    &bytemuck::cast_ref::<SMatrix<T, M, C>, Split<T, R, G, 0, C>>(buf).a
}

/// The last `R·C` scalars of a scratch buffer of `M = G + R` rows, seen as an `R × C` matrix.
#[inline(always)]
pub fn back<T: Scalar, const R: usize, const G: usize, const C: usize, const M: usize>(
    buf: &SMatrix<T, M, C>,
) -> &SMatrix<T, R, C> {
    const { assert!(R + G == M) };
    &bytemuck::cast_ref::<SMatrix<T, M, C>, Split<T, 0, G, R, C>>(buf).z
}

/// The first `R·C` scalars of a scratch buffer of `M = R + G` rows, seen as a mutable
/// `R × C` matrix.
#[inline(always)]
pub fn front_mut<T: Scalar, const R: usize, const G: usize, const C: usize, const M: usize>(
    buf: &mut SMatrix<T, M, C>,
) -> &mut SMatrix<T, R, C> {
    &mut split::<T, R, G, 0, C, M>(buf).a
}

/// A layer's input (`I` rows) at the front of a scratch buffer of `M = I + G + O` rows and
/// its output (`O` rows) at the back: disjoint borrows of one buffer.
#[inline(always)]
pub fn front_to_back<
    T: Scalar,
    const I: usize,
    const G: usize,
    const O: usize,
    const C: usize,
    const M: usize,
>(
    buf: &mut SMatrix<T, M, C>,
) -> (&SMatrix<T, I, C>, &mut SMatrix<T, O, C>) {
    let s = split::<T, I, G, O, C, M>(buf);
    (&s.a, &mut s.z)
}

/// A layer's input (`I` rows) at the back of a scratch buffer of `M = O + G + I` rows and
/// its output (`O` rows) at the front: disjoint borrows of one buffer.
#[inline(always)]
pub fn back_to_front<
    T: Scalar,
    const I: usize,
    const G: usize,
    const O: usize,
    const C: usize,
    const M: usize,
>(
    buf: &mut SMatrix<T, M, C>,
) -> (&SMatrix<T, I, C>, &mut SMatrix<T, O, C>) {
    let s = split::<T, O, G, I, C, M>(buf);
    (&s.z, &mut s.a)
}

/// The value whose bytes are all zero, in a `const` context (generated `const fn zeroed`).
pub const fn zeroed<Z: Zeroable>() -> Z {
    // SAFETY: `Zeroable` promises that all-zero bytes are a valid `Z`.
    #[allow(unsafe_code)]
    unsafe {
        core::mem::zeroed()
    }
}

/// Scalars of padding after `count` scalars of a generated parameter or state block, so
/// that the block fills whole cache lines: on x86-64, where the blocks are aligned to 64 bytes
/// so that the vector kernels' loads and stores do not straddle two lines, as many as make
/// the count a multiple of 16 (64 bytes of `f32`, 128 of `f64`); elsewhere none, so that
/// firmware spends no memory on it.
pub const fn line_pad(count: usize) -> usize {
    if cfg!(target_arch = "x86_64") {
        (16 - count % 16) % 16
    } else {
        0
    }
}

/// The number of scalars in a layer's parameter block (for the layer table).
pub const fn param_count<T, P>() -> usize {
    crate::block::len::<T, P>()
}

/// The summary of a network declared with `network!`, whose eval-mode scratch is
/// `scratch_rows` (the generated `SCRATCH`).
pub fn summary<T: Scalar, N: crate::Network<T, IN, OUT>, const IN: usize, const OUT: usize>(
    scratch_rows: usize,
) -> crate::Summary {
    crate::Summary::new::<T, N::Params, N::State, N::Tape<1>>(N::NAME, N::LAYERS, scratch_rows)
}

/// The summary of an inference-only form (`NameInference`): no training tape, parameter
/// and state bytes without the blocks' padding; `scratch_rows` is the generated `SCRATCH`.
pub fn deployed_summary<
    T: Scalar,
    N: crate::Network<T, IN, OUT>,
    const IN: usize,
    const OUT: usize,
>(
    scratch_rows: usize,
) -> crate::Summary {
    crate::Summary::deployed::<T, N::Params, N::State>(N::NAME, N::LAYERS, scratch_rows)
}
