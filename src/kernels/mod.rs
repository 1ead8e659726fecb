//! Slice kernels for the dense products of forward and backward: `W · X` (`affine`, with
//! the bias), `dY · Xᵀ` (`affine_grads`, with the bias gradient) and `Wᵀ · dY`
//! (`affine_input_grad[_acc]`).
//!
//! All matrices are column-major, as nalgebra stores them. Three implementations, chosen
//! per call:
//!
//! - [`fma`] (x86-64): vector micro-kernels for `f32` and `f64`, AVX-512F or AVX2 + FMA,
//!   the widest the CPU has — detected at run time under `std`, or known at compile time
//!   (`-C target-cpu=native`). One generic code over the instruction set; both give the
//!   same bits. [`path`] says which runs, and the environment variable `STATICNN_KERNELS`
//!   (`avx512`, `avx2` or `portable`, read once under `std`) caps it, so that a test suite
//!   or a benchmark can run each path the machine has.
//! - [`blocked`]: register-blocked kernels in portable Rust, for AArch64, x86 CPUs without
//!   FMA, builds without `std` that cannot detect it, and other scalar types.
//! - [`simple`]: the plain column-major loops, the only path on targets without a vector
//!   unit worth blocking for (the Cortex-M firmware), and the path of a single sample
//!   through a small layer elsewhere (inlined into the caller: the fastest for it).
//!
//! No kernel allocates: every tile lives in registers and local arrays.
//!
//! Building with `RUSTFLAGS="--cfg staticnn_portable"` makes every target take the plain
//! loops, so that a host computes bit for bit what a microcontroller computes (the sine
//! exporter in `embedded/` trains that way). It is a `cfg`, not a feature, so that
//! `--all-features` builds keep the fast kernels.

// Microcontrollers (and portable builds) use the plain loops of `simple` only.
#![cfg_attr(
    any(
        staticnn_portable,
        not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))
    ),
    allow(dead_code)
)]

use crate::Scalar;

#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
mod blocked;
#[cfg(target_arch = "x86_64")]
mod fma;
mod simple;

/// A set of kernels for the dense products, from the portable ones to the widest vectors.
/// Ordered: a path runs on a CPU that runs a later one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    /// The portable kernels (register-blocked Rust, or the plain loops): no vector
    /// instructions of their own, one rounding per multiply and per add.
    Portable = 1,
    /// AVX2 + FMA micro-kernels (x86-64), 256-bit vectors.
    Avx2 = 2,
    /// AVX-512F micro-kernels (x86-64), 512-bit vectors: the same bits as [`Path::Avx2`].
    Avx512 = 3,
}

impl Path {
    /// The path's name, as `STATICNN_KERNELS` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::Avx2 => "avx2",
            Path::Avx512 => "avx512",
        }
    }

    /// The instructions the path's products run on (x86-64; the vector kernels are
    /// compiled for them whatever the target's baseline).
    pub const fn instructions(self) -> &'static str {
        match self {
            Path::Portable => "baseline target (SSE2 on x86-64), separate multiply and add",
            Path::Avx2 => "AVX2 + FMA, 256-bit (8 f32 lanes), fused multiply-add",
            Path::Avx512 => "AVX-512F, 512-bit (16 f32 lanes), fused multiply-add",
        }
    }

    /// The path named `name` (as [`Path::name`] spells it).
    pub fn from_name(name: &str) -> Option<Path> {
        [Path::Portable, Path::Avx2, Path::Avx512]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// The widest path this CPU (and target) runs.
#[inline]
pub fn cpu_path() -> Path {
    #[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
    return fma::cpu_path();
    #[cfg(not(all(target_arch = "x86_64", not(staticnn_portable))))]
    return Path::Portable;
}

/// The path in use, 0 before the first call of [`path`] (under `std`).
#[cfg(feature = "std")]
static CHOSEN: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// The path the products take: the widest this CPU runs, capped by the environment variable
/// `STATICNN_KERNELS` (`avx512`, `avx2` or `portable`; an unknown value caps nothing), read
/// once under `std`, or by [`set_path`]. Without `std`: the widest path the target enables
/// at compile time. (The read, at the first product, allocates nothing when the variable
/// is not set; when it is, its value is copied to the heap once per process.)
#[inline]
pub fn path() -> Path {
    #[cfg(feature = "std")]
    {
        match CHOSEN.load(core::sync::atomic::Ordering::Relaxed) {
            1 => Path::Portable,
            2 => Path::Avx2,
            3 => Path::Avx512,
            _ => first_path(),
        }
    }
    #[cfg(not(feature = "std"))]
    cpu_path()
}

/// [`path`] on its first call: the CPU's, capped by `STATICNN_KERNELS`.
#[cfg(feature = "std")]
#[cold]
fn first_path() -> Path {
    let cap = std::env::var("STATICNN_KERNELS")
        .ok()
        .and_then(|v| Path::from_name(v.trim()));
    set_path(cap)
}

/// Makes the products take `cap` (`None`: the widest path), or the widest path this CPU
/// runs when it does not run `cap`; returns the path now in use. For tests and benchmarks
/// that compare the paths in one process: it changes the path of every thread.
#[cfg(feature = "std")]
pub fn set_path(cap: Option<Path>) -> Path {
    let cpu = cpu_path();
    let p = cap.map_or(cpu, |c| c.min(cpu));
    CHOSEN.store(p as u8, core::sync::atomic::Ordering::Relaxed);
    p
}

/// Whether the blocked kernels run on this target (the others take the plain loops).
pub(crate) const BLOCKED: bool = cfg!(all(
    not(staticnn_portable),
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64"
    )
));

/// Whether `affine_grads_set_finite` checks the gradients as its vector kernels store them
/// (x86-64). Elsewhere it checks them afterwards, and a training step is as quick, and on a
/// microcontroller smaller, when it checks the whole gradient block once instead.
pub(crate) const FUSED_FINITE_CHECK: bool = BLOCKED && cfg!(target_arch = "x86_64");

/// Below this many weights, a single sample takes the plain loops (inlined into the caller,
/// no dispatch): W1's 16 × 16 layers and W2's 64 × 64 measured fastest that way.
const SMALL_GEMV: usize = 64 * 64 + 1;

/// `y[:, b] = bias + W · x[:, b]` for every column `b`; `W` is `o × i`.
///
/// Always inlined where the vector kernels exist, whatever else the crate declares: at a
/// layer's call site the widths and the batch are constants, so the choice of path folds
/// away, and a single sample through a small layer becomes the plain loops specialised for
/// its widths, with no call. (Left to LLVM's judgement, this function was called out of
/// line in a program that declared several networks, and W1's `predict` took twice as
/// long as in a program of W1 alone: issue #20.) Everything else is one call to
/// `affine_large`. On the other targets (the firmware) it stays `#[inline]`.
#[cfg_attr(
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"),
    inline(always)
)]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")),
    inline
)]
pub fn affine<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
    debug_assert_eq!(w.len(), o * i);
    debug_assert_eq!(bias.len(), o);
    debug_assert_eq!(x.len() / i.max(1), y.len() / o.max(1));
    if !BLOCKED || small_single_sample(y.len(), i, o) {
        simple::affine(w, bias, x, y, i, o);
    } else {
        affine_large::<T, false>(w, bias, x, y, i, o);
    }
}

/// `y[:, b] = ReLU(bias + W · x[:, b])`: a `Linear` layer and the `ReLU` after it in one
/// pass over `y` where the vector kernels run (they apply the `ReLU` as they store), else
/// [`affine`] and then the `ReLU` in place. The same bits either way, and the same as the
/// `ReLU` layer: `v` where `v > 0`, else `+0` (NaN included). Inlined as [`affine`] is.
#[cfg_attr(
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"),
    inline(always)
)]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")),
    inline
)]
pub fn affine_relu<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
    if !BLOCKED || small_single_sample(y.len(), i, o) {
        simple::affine(w, bias, x, y, i, o);
        relu_in_place(y);
    } else {
        affine_large::<T, true>(w, bias, x, y, i, o);
    }
}

/// [`affine`] (then the `ReLU` when `RELU`) of a batch or a large layer, on the vector
/// kernels of [`path`] or the portable blocked ones: out of line, one call per product.
#[inline(never)]
fn affine_large<T: Scalar, const RELU: bool>(
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
    i: usize,
    o: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if fma::affine::<T, RELU>(path(), w, bias, x, y, i, o) {
        return;
    }
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    blocked::affine(w, bias, x, y, i, o);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
    simple::affine(w, bias, x, y, i, o);
    if RELU {
        relu_in_place(y);
    }
}

/// [`affine`] in a training step whose optimiser wants to know whether every weight and
/// bias is finite and at most `MAX/4` in magnitude ([`bounded`]; plain SGD then writes in
/// one pass): the same product, the same bits, and that answer. Where the AVX-512 wide
/// tiles run the product, the tile that packs `W` bounds every weight as it loads it
/// (`fma::affine_bounded`), so `W` is not read again: W5's first layer's weights come from
/// L3 in a step, and a pass of its own over them cost 2–3.5 % of the step. Elsewhere, or
/// when that bound fails, [`bounded`] of the weights after the product. A `true` is always
/// right; a `false` may be too cautious (a weight above `√MAX` that the packing's sums of
/// squares cannot bound), which only costs the optimiser its full check.
#[inline(always)]
pub fn affine_bounded<T: Scalar>(
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
    i: usize,
    o: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if BLOCKED
        && !small_single_sample(y.len(), i, o)
        && let Some(packed) = fma::affine_bounded(path(), w, bias, x, y, i, o)
    {
        return (packed || bounded(w)) && bounded(bias);
    }
    affine(w, bias, x, y, i, o);
    bounded(w) && bounded(bias)
}

/// Whether every value is finite and at most `MAX/4` in magnitude (`4·v` finite: a
/// power-of-two scaling, exact): the bound under which plain SGD with `|lr| ≤ 1/4` cannot
/// overflow on finite gradients (see [`SgdCheck`]). Sums of `4·v·0` (zero for a finite
/// `4·v`, NaN otherwise) in 16 accumulators, which vectorise; always inlined, so that it
/// runs on the vectors of the forward copy it is in.
#[inline(always)]
pub(crate) fn bounded<T: Scalar>(values: &[T]) -> bool {
    let four = T::of(4.0);
    let chunks = values.chunks_exact(16);
    let rest = chunks.remainder();
    let mut acc = [T::zero(); 16];
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v * four * T::zero();
        }
    }
    acc.iter().all(|&a| a == T::zero()) && rest.iter().all(|&v| (v * four).is_finite())
}

/// Whether a forward product is a single sample through few enough weights that the plain
/// loops take it ([`SMALL_GEMV`]); `y_len` is the length of its output.
#[inline(always)]
fn small_single_sample(y_len: usize, i: usize, o: usize) -> bool {
    y_len == o && o * i < SMALL_GEMV
}

/// The `ReLU` layer's value in place: `v` where `v > 0`, else `+0` (NaN and `−0` included).
#[inline]
fn relu_in_place<T: Scalar>(y: &mut [T]) {
    for v in y.iter_mut() {
        *v = if *v > T::zero() { *v } else { T::zero() };
    }
}

/// `dW += dY · Xᵀ` and `db += Σ_b dY[:, b]`; `dW` is `o × i`.
#[inline]
pub fn affine_grads<T: Scalar>(dw: &mut [T], db: &mut [T], x: &[T], dy: &[T], i: usize, o: usize) {
    weight_grads::<T, false>(dw, db, x, dy, i, o, true);
}

/// `dW = dY · Xᵀ` and `db = Σ_b dY[:, b]` (overwriting both); `dW` is `o × i`.
#[inline]
pub fn affine_grads_set<T: Scalar>(
    dw: &mut [T],
    db: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
) {
    weight_grads::<T, false>(dw, db, x, dy, i, o, false);
}

/// As [`affine_grads_set`], and returns whether every value written to `dW` and `db` is
/// finite. The vector kernels check the values as they store them (no second pass over
/// `dW`); the other paths check the slices afterwards.
#[inline]
pub fn affine_grads_set_finite<T: Scalar>(
    dw: &mut [T],
    db: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
) -> bool {
    weight_grads::<T, true>(dw, db, x, dy, i, o, false)
}

/// `dW (+)= dY · Xᵀ` and `db (+)= Σ_b dY[:, b]`: added when `add`, written otherwise.
/// Returns, with `CHECK`, whether every value of `dW` and `db` is finite; `true` without.
#[inline(always)]
fn weight_grads<T: Scalar, const CHECK: bool>(
    dw: &mut [T],
    db: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
    add: bool,
) -> bool {
    debug_assert_eq!(dw.len(), o * i);
    debug_assert_eq!(db.len(), o);
    #[cfg(target_arch = "x86_64")]
    if BLOCKED && let Some(finite) = fma::affine_grads(path(), dw, db, x, dy, i, o, add) {
        return finite || !CHECK;
    }
    if !BLOCKED {
        if add {
            simple::affine_grads::<T, true>(dw, db, x, dy, i, o)
        } else {
            simple::affine_grads::<T, false>(dw, db, x, dy, i, o)
        }
    } else {
        // The portable blocked kernels add: start them from zero.
        if !add {
            dw.fill(T::zero());
            db.fill(T::zero());
        }
        #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
        blocked::affine_grads(dw, db, x, dy, i, o);
    }
    !CHECK || (crate::block::slice_all_finite(dw) && crate::block::slice_all_finite(db))
}

/// `dX = Wᵀ · dY`; `W` is `o × i`.
#[inline]
pub fn affine_input_grad<T: Scalar>(w: &[T], dy: &[T], dx: &mut [T], i: usize, o: usize) {
    input_grad(w, dy, dx, i, o, false);
}

/// Adds `Wᵀ · dY` into `dX`.
#[inline]
pub fn affine_input_grad_acc<T: Scalar>(w: &[T], dy: &[T], dx: &mut [T], i: usize, o: usize) {
    input_grad(w, dy, dx, i, o, true);
}

/// `dX = Wᵀ · dY`, or `dX += Wᵀ · dY` when `add`.
// On targets without the vector kernels the early `return` is the last statement.
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")),
    allow(clippy::needless_return)
)]
#[inline(always)]
fn input_grad<T: Scalar>(w: &[T], dy: &[T], dx: &mut [T], i: usize, o: usize, add: bool) {
    debug_assert_eq!(w.len(), o * i);
    if !BLOCKED {
        return if add {
            simple::affine_input_grad::<T, true>(w, dy, dx, i, o)
        } else {
            simple::affine_input_grad::<T, false>(w, dy, dx, i, o)
        };
    }
    #[cfg(target_arch = "x86_64")]
    if fma::input_grad(path(), w, dy, dx, i, o, add) {
        return;
    }
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    blocked::input_grad(w, dy, dx, i, o, add);
}

/// Whether [`affine_grads_sgd`] and [`max_abs`] run vector kernels for `T` here: the
/// training step applies plain SGD inside its backward pass only where they do
/// (`Network::backward_sgd`), and keeps its two passes elsewhere.
#[inline]
pub(crate) fn fused_sgd_runs<T: Scalar>() -> bool {
    use core::any::TypeId;
    let float =
        TypeId::of::<T>() == TypeId::of::<f32>() || TypeId::of::<T>() == TypeId::of::<f64>();
    cfg!(target_arch = "x86_64") && BLOCKED && float && path() != Path::Portable
}

/// Plain SGD applied to a weight matrix as its gradient is computed: `W ← W − lr·dW` with
/// `dW = dY · Xᵀ` (`o × i`), and `db = Σ_b dY[:, b]` written. The bits of
/// [`affine_grads_set`] followed by [`sgd`] on `W`, but the vector kernels never store
/// `dW` (one pass over `W` instead of three over `W` and `dW`): `dw` is scratch, left
/// holding partial sums or what it held. Elsewhere (or without samples) `dW` is written
/// into `dw` and then applied.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn affine_grads_sgd<T: Scalar>(
    w: &mut [T],
    dw: &mut [T],
    db: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
    lr: T,
) {
    #[cfg(target_arch = "x86_64")]
    if BLOCKED && fma::affine_grads_sgd(path(), w, dw, db, x, dy, (i, o), lr) {
        return;
    }
    weight_grads::<T, false>(dw, db, x, dy, i, o, false);
    for (p, &g) in w.iter_mut().zip(dw.iter()) {
        *p -= lr * g;
    }
}

/// The largest `|v|` of `s` (0 when it is empty), or `None` when a value is NaN or
/// infinite.
#[inline]
pub(crate) fn max_abs<T: Scalar>(s: &[T]) -> Option<T> {
    #[cfg(target_arch = "x86_64")]
    if BLOCKED && let Some(m) = fma::max_abs(path(), s) {
        return m;
    }
    let mut top = T::zero();
    for &v in s {
        if !v.is_finite() {
            return None;
        }
        let a = if v < T::zero() { -v } else { v };
        if a > top {
            top = a;
        }
    }
    Some(top)
}

/// What the SGD update checks before it writes anything (see [`sgd`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SgdCheck {
    /// Nothing: the update is written whatever it gives (`Optimizer::step`).
    None,
    /// Every new value, in a read-only pass over the parameters and the gradients.
    Full,
    /// As `Full`, for gradients the caller knows to be finite, which lets the check read
    /// only the parameters when `|lr| ≤ 1/4`: if every `4·p` is finite (`|p| ≤ MAX/4`, a
    /// power-of-two scaling, exact) and `|g| ≤ MAX`, then `|lr·g| ≤ MAX/4` (rounded no
    /// higher, `MAX/4` being a value of `T`) and `|p − lr·g| ≤ MAX/2`: every new value is
    /// finite. Where that bound fails (a huge or non-finite parameter, a large learning
    /// rate) the `Full` check decides, so the answer is always exactly `Full`'s.
    FiniteGrads,
    /// As `FiniteGrads`, for parameters the caller has also found within that bound
    /// (`__private::params_bounded`): nothing is read before the update when
    /// `|lr| ≤ 1/4`; otherwise the `Full` check decides.
    Bounded,
}

impl SgdCheck {
    /// Whether the check may stop at the bounds of [`SgdCheck::FiniteGrads`]: the learning
    /// rate within `±1/4` (not NaN), the gradients known finite, and `bounded()` (run
    /// only when needed) or the caller's word that the parameters are within theirs.
    #[inline(always)]
    pub(crate) fn quick<T: Scalar>(self, lr: T, bounded: impl FnOnce() -> bool) -> bool {
        let quarter = T::of(0.25);
        let lr_ok = lr <= quarter && -quarter <= lr;
        match self {
            SgdCheck::None | SgdCheck::Full => false,
            SgdCheck::FiniteGrads => lr_ok && bounded(),
            SgdCheck::Bounded => lr_ok,
        }
    }
}

/// Plain SGD, `p ← p − lr·g` for every element, on the vector kernels of [`path`], with
/// the bits of the portable loop (a multiplication, then a subtraction). With a `check`,
/// nothing is written unless every new value is finite. `None` where no vector path runs
/// (the caller takes its own loop); otherwise whether the update was written.
#[inline]
pub(crate) fn sgd<T: Scalar>(
    params: &mut [T],
    grads: &[T],
    lr: T,
    check: SgdCheck,
) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    if BLOCKED {
        return fma::sgd(path(), params, grads, lr, check);
    }
    let _ = (params, grads, lr, check);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `affine(w, bias, x, y, i, o)`.
    type AffineFn<T> = fn(&[T], &[T], &[T], &mut [T], usize, usize);
    /// `affine_grads(dw, db, x, dy, i, o, add)`.
    type GradsFn<T> = fn(&mut [T], &mut [T], &[T], &[T], usize, usize, bool);
    /// `input_grad(w, dy, dx, i, o, add)`.
    type InputGradFn<T> = fn(&[T], &[T], &mut [T], usize, usize, bool);

    /// The products of one implementation.
    struct Kernels<T> {
        name: &'static str,
        affine: AffineFn<T>,
        grads: GradsFn<T>,
        input_grad: InputGradFn<T>,
    }

    /// The vector path numbered `p` (as `Path as u8`): a const parameter of [`vector`]'s
    /// plain functions.
    #[cfg(target_arch = "x86_64")]
    const fn vector_path(p: u8) -> Path {
        if p == Path::Avx512 as u8 {
            Path::Avx512
        } else {
            Path::Avx2
        }
    }

    /// The vector kernels of `p`, when this CPU runs them.
    #[cfg(target_arch = "x86_64")]
    fn vector<T: Scalar>(p: Path) -> Option<Kernels<T>> {
        fn on<T: Scalar, const P: u8>() -> Kernels<T> {
            Kernels {
                name: vector_path(P).name(),
                affine: |w, b, x, y, i, o| {
                    assert!(fma::affine::<T, false>(vector_path(P), w, b, x, y, i, o))
                },
                grads: |dw, db, x, dy, i, o, add| {
                    let p = vector_path(P);
                    assert!(fma::affine_grads(p, dw, db, x, dy, i, o, add).is_some())
                },
                input_grad: |w, dy, dx, i, o, add| {
                    assert!(fma::input_grad(vector_path(P), w, dy, dx, i, o, add))
                },
            }
        }
        match p {
            _ if p > cpu_path() => None,
            Path::Avx2 => Some(on::<T, { Path::Avx2 as u8 }>()),
            Path::Avx512 => Some(on::<T, { Path::Avx512 as u8 }>()),
            Path::Portable => None,
        }
    }

    /// Every implementation this target and CPU can run: the dispatching entry points, the
    /// plain loops, the portable blocked kernels and the vector kernels of each instruction
    /// set the CPU has (whatever `STATICNN_KERNELS` says: the tests compare them all).
    fn implementations<T: Scalar>() -> [Option<Kernels<T>>; 5] {
        #[cfg(target_arch = "x86_64")]
        let (avx2, avx512) = (vector::<T>(Path::Avx2), vector::<T>(Path::Avx512));
        #[cfg(not(target_arch = "x86_64"))]
        let (avx2, avx512) = (None, None);
        #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
        let blocked = Some(Kernels {
            name: "blocked",
            affine: blocked::affine,
            grads: |dw, db, x, dy, i, o, add| {
                if !add {
                    dw.fill(T::zero());
                    db.fill(T::zero());
                }
                blocked::affine_grads(dw, db, x, dy, i, o)
            },
            input_grad: blocked::input_grad,
        });
        #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
        let blocked = None;
        [
            Some(Kernels {
                name: "dispatch",
                affine,
                grads: |dw, db, x, dy, i, o, add| {
                    if add {
                        affine_grads(dw, db, x, dy, i, o)
                    } else {
                        affine_grads_set(dw, db, x, dy, i, o)
                    }
                },
                input_grad: |w, dy, dx, i, o, add| {
                    if add {
                        affine_input_grad_acc(w, dy, dx, i, o)
                    } else {
                        affine_input_grad(w, dy, dx, i, o)
                    }
                },
            }),
            Some(Kernels {
                name: "simple",
                affine: simple::affine,
                grads: |dw, db, x, dy, i, o, add| {
                    if add {
                        simple::affine_grads::<T, true>(dw, db, x, dy, i, o)
                    } else {
                        simple::affine_grads::<T, false>(dw, db, x, dy, i, o)
                    }
                },
                input_grad: |w, dy, dx, i, o, add| {
                    if add {
                        simple::affine_input_grad::<T, true>(w, dy, dx, i, o)
                    } else {
                        simple::affine_input_grad::<T, false>(w, dy, dx, i, o)
                    }
                },
            }),
            blocked,
            avx2,
            avx512,
        ]
    }

    /// Whether the implementation `name` runs vector kernels here (one rounding per
    /// multiply-add): `avx2` and `avx512`, and `dispatch` when its path is one of them.
    fn fused(name: &str) -> bool {
        name == "avx2" || name == "avx512" || (name == "dispatch" && path() > Path::Portable)
    }

    #[test]
    fn affine_matches_nalgebra() {
        let w = nalgebra::SMatrix::<f64, 3, 2>::from_fn(|r, c| (r * 2 + c) as f64 - 1.5);
        let b = nalgebra::SVector::<f64, 3>::new(0.5, -1.0, 2.0);
        let x = nalgebra::SMatrix::<f64, 2, 4>::from_fn(|r, c| (r + 3 * c) as f64 * 0.25);
        let mut y = nalgebra::SMatrix::<f64, 3, 4>::zeros();
        affine(
            w.as_slice(),
            b.as_slice(),
            x.as_slice(),
            y.as_mut_slice(),
            2,
            3,
        );
        let expected = w * x + b * nalgebra::SMatrix::<f64, 1, 4>::repeat(1.0);
        assert!((y - expected).norm() < 1e-12);

        let dy = nalgebra::SMatrix::<f64, 3, 4>::from_fn(|r, c| (r as f64) - (c as f64) * 0.5);
        let mut dw = nalgebra::SMatrix::<f64, 3, 2>::zeros();
        let mut db = nalgebra::SVector::<f64, 3>::zeros();
        affine_grads(
            dw.as_mut_slice(),
            db.as_mut_slice(),
            x.as_slice(),
            dy.as_slice(),
            2,
            3,
        );
        assert!((dw - dy * x.transpose()).norm() < 1e-12);
        assert!((db - dy.column_sum()).norm() < 1e-12);

        let mut dx = nalgebra::SMatrix::<f64, 2, 4>::zeros();
        affine_input_grad(w.as_slice(), dy.as_slice(), dx.as_mut_slice(), 2, 3);
        assert!((dx - w.transpose() * dy).norm() < 1e-12);
        affine_input_grad_acc(w.as_slice(), dy.as_slice(), dx.as_mut_slice(), 2, 3);
        assert!((dx - 2.0 * w.transpose() * dy).norm() < 1e-12);
    }

    /// Checks the three products of `k` on one shape against plain triple loops in `f64`.
    /// The buffers hold at least `o·i`, `i·n` and `o·n` elements.
    #[allow(clippy::too_many_arguments)]
    fn check_shape<T: Scalar>(
        k: &Kernels<T>,
        tol: f64,
        (o, i, n): (usize, usize, usize),
        w: &[T],
        x: &[T],
        g: &[T],
        bias: &[T],
        out: &mut [T],
        grads: &mut [T],
    ) {
        let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
        let (w, x, g, bias) = (&w[..o * i], &x[..i * n], &g[..o * n], &bias[..o]);
        let close = |a: T, b: f64| (a.as_f64() - b).abs() <= tol * (1.0 + b.abs());
        let name = k.name;

        let y = &mut out[..o * n];
        y.fill(T::of(f64::NAN));
        (k.affine)(w, bias, x, y, i, o);
        for b in 0..n {
            for r in 0..o {
                let mut e = bias[r].as_f64();
                for c in 0..i {
                    e += w[c * o + r].as_f64() * x[b * i + c].as_f64();
                }
                assert!(close(y[b * o + r], e), "{name} affine o={o} i={i} n={n}");
            }
        }

        for add in [true, false] {
            // Without `add`, whatever `dW` and `db` held must not count.
            let start = |c: usize| if add { v(c + 1).as_f64() } else { 0.0 };
            let dw = &mut grads[..o * i];
            for (c, d) in dw.iter_mut().enumerate() {
                *d = v(c + 1);
            }
            let mut db = [T::one(); 128];
            let db = &mut db[..o];
            (k.grads)(dw, db, x, g, i, o, add);
            for c in 0..i {
                for r in 0..o {
                    let mut e = start(c * o + r);
                    for b in 0..n {
                        e += g[b * o + r].as_f64() * x[b * i + c].as_f64();
                    }
                    let at = "o={o} i={i} n={n} add={add}";
                    assert!(close(dw[c * o + r], e), "{name} grads {at}");
                }
            }
            for r in 0..o {
                let e0 = if add { 1.0 } else { 0.0 };
                let e: f64 = e0 + (0..n).map(|b| g[b * o + r].as_f64()).sum::<f64>();
                assert!(
                    close(db[r], e),
                    "{name} bias grads o={o} i={i} n={n} add={add}"
                );
            }
        }

        for add in [false, true] {
            let dx = &mut out[..i * n];
            dx.fill(T::one());
            (k.input_grad)(w, g, dx, i, o, add);
            for b in 0..n {
                for c in 0..i {
                    let e: f64 = (0..o)
                        .map(|r| w[c * o + r].as_f64() * g[b * o + r].as_f64())
                        .sum();
                    let e = if add { 1.0 + e } else { e };
                    assert!(
                        close(dx[b * i + c], e),
                        "{name} input grad (add: {add}) o={o} i={i} n={n}"
                    );
                }
            }
        }
    }

    /// Every tile size and edge of every implementation: the kernels against plain triple
    /// loops. Row counts around the vector widths (4 and 8) and the tiles (8 and 16), input
    /// counts around the tiles (3, 4 and 6), batches from one sample to past two tiles.
    #[test]
    fn kernels_match_plain_loops_on_every_edge() {
        fn check<T: Scalar>(tol: f64) {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            let w: [T; 40 * 14] = core::array::from_fn(v);
            let x: [T; 14 * 13] = core::array::from_fn(|k| v(k + 5));
            let g: [T; 40 * 13] = core::array::from_fn(|k| v(k + 9));
            let bias: [T; 40] = core::array::from_fn(|k| v(k + 3));
            let mut out = [T::zero(); 40 * 13];
            let mut grads = [T::zero(); 40 * 14];
            for k in implementations::<T>().iter().flatten() {
                for o in [1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 21, 24, 31, 33, 40] {
                    for i in [1, 2, 3, 4, 5, 6, 7, 9, 13, 14] {
                        for n in [1, 2, 3, 4, 5, 6, 7, 9, 12, 13] {
                            let s = (o, i, n);
                            check_shape(k, tol, s, &w, &x, &g, &bias, &mut out, &mut grads);
                        }
                    }
                }
            }
        }
        check::<f64>(1e-12);
        check::<f32>(1e-5);
    }

    /// Large shapes, wider than a pass of the FMA forward kernel, a sample at a time and in
    /// a batch; and passes that take their row tiles in groups (as many panels as fit side
    /// by side), over several groups and a last, partial one: 100 × 80 by 100 samples has
    /// the weight gradient in groups of two row tiles (100 rows, passes of 100 samples) and
    /// the input gradient too (80 rows, 100 outputs).
    #[test]
    fn kernels_match_plain_loops_on_large_shapes() {
        let shapes = [
            (67, 600, 19),
            (67, 600, 1),
            (64, 64, 1),
            (65, 64, 1),
            (67, 64, 19),
            (100, 80, 100),
        ];
        let most = |f: fn(&(usize, usize, usize)) -> usize| shapes.iter().map(f).max().unwrap_or(0);
        let (o, oi, in_, on) = (
            most(|s| s.0),
            most(|s| s.0 * s.1),
            most(|s| s.1 * s.2),
            most(|s| s.0 * s.2),
        );
        let v = |k: usize| ((k * 37 + 11) % 23) as f32 / 7.0 - 1.5;
        let w: std::vec::Vec<f32> = (0..oi).map(v).collect();
        let x: std::vec::Vec<f32> = (0..in_).map(|k| v(k + 5)).collect();
        let g: std::vec::Vec<f32> = (0..on).map(|k| v(k + 9)).collect();
        let bias: std::vec::Vec<f32> = (0..o).map(|k| v(k + 3)).collect();
        let mut out = std::vec![0.0; in_.max(on)];
        let mut grads = std::vec![0.0; oi];
        for k in implementations::<f32>().iter().flatten() {
            for s in shapes {
                check_shape(k, 1e-4, s, &w, &x, &g, &bias, &mut out, &mut grads);
            }
        }
    }

    /// `affine_grads_set_finite` writes what `affine_grads_set` writes, bit for bit, and says
    /// whether all of it is finite exactly when reading it back would: on every edge of the
    /// tiles (masked rows, one to six columns), over several passes of the batch, with a
    /// NaN, an infinity or an overflowing product placed anywhere in `x` or `dY`.
    #[test]
    fn weight_grads_check_what_they_store() {
        fn check<T: Scalar>(big: f64) {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            let mut x = std::vec![T::zero(); 13 * 300];
            let mut g = std::vec![T::zero(); 65 * 300];
            let (mut dw, mut dw_set) =
                (std::vec![T::zero(); 65 * 13], std::vec![T::zero(); 65 * 13]);
            let (mut db, mut db_set) = ([T::zero(); 65], [T::zero(); 65]);
            let bad = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, big];
            let mut trial = 0usize;
            // 64 and 65 rows (and 32, 33 for `f64`) with 6 or 12 inputs (first column tile
            // six wide): the wide tiles of AVX-512, with and without rows past them.
            for o in [1, 3, 8, 9, 16, 17, 33, 64, 65] {
                for i in [1, 5, 6, 7, 12, 13] {
                    for n in [1, 4, 7, 300] {
                        for case in 0..7 {
                            trial += 1;
                            let (x, g) = (&mut x[..i * n], &mut g[..o * n]);
                            x.iter_mut().enumerate().for_each(|(k, e)| *e = v(k + 5));
                            g.iter_mut().enumerate().for_each(|(k, e)| *e = v(k + 9));
                            // Case 0 stays finite; the others spoil one value of `x` or `dY`.
                            // A huge one, times the other operand set to 2, overflows its
                            // products to infinity: finite inputs, gradients that are not.
                            if case > 0 {
                                let value = T::of(bad[case % 4]);
                                let spot = trial * 7919;
                                let (spoilt, other) = if case < 4 {
                                    (&mut x[..], &mut g[..])
                                } else {
                                    (&mut g[..], &mut x[..])
                                };
                                if case % 4 == 3 {
                                    other.fill(T::of(2.0));
                                }
                                spoilt[spot % spoilt.len()] = value;
                            }
                            let (dw, db) = (&mut dw[..o * i], &mut db[..o]);
                            let (dw_set, db_set) = (&mut dw_set[..o * i], &mut db_set[..o]);
                            dw.fill(T::of(f64::NAN));
                            db.fill(T::of(f64::NAN));
                            let finite = affine_grads_set_finite(dw, db, x, g, i, o);
                            affine_grads_set(dw_set, db_set, x, g, i, o);
                            let same = |a: &[T], b: &[T]| {
                                a.iter()
                                    .zip(b)
                                    .all(|(p, q)| p.as_f64().to_bits() == q.as_f64().to_bits())
                            };
                            assert!(same(dw, dw_set), "o={o} i={i} n={n} case={case}: dW");
                            assert!(same(db, db_set), "o={o} i={i} n={n} case={case}: db");
                            let truth = crate::block::slice_all_finite(dw)
                                && crate::block::slice_all_finite(db);
                            assert_eq!(finite, truth, "o={o} i={i} n={n} case={case}");
                            assert_eq!(
                                truth,
                                case == 0,
                                "o={o} i={i} n={n} case={case}: spoilt or not"
                            );
                        }
                    }
                }
            }
        }
        check::<f32>(3e38);
        check::<f64>(1e308);
    }

    /// A layer with few outputs and a batch of samples (tiles over the samples on the FMA
    /// path) gives the bits of fused multiply-adds in input order from the bias, with every
    /// edge of its tiles: 1 to 15 outputs, batches that fill or do not fill a vector.
    #[test]
    fn few_outputs_sum_in_input_order() {
        fn check<T: Scalar>(fma: fn(T, T, T) -> T) {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            let w: [T; 15 * 256] = core::array::from_fn(v);
            let x: [T; 256 * 40] = core::array::from_fn(|k| v(k + 5));
            let bias: [T; 15] = core::array::from_fn(|k| v(k + 3));
            let mut y = [T::zero(); 15 * 40];
            for k in implementations::<T>().iter().flatten() {
                if !fused(k.name) {
                    continue;
                }
                for o in 1..=15 {
                    for i in [1, 7, 64, 200, 256] {
                        for n in [8, 9, 16, 17, 23, 32, 40] {
                            let (w, x, y) = (&w[..o * i], &x[..i * n], &mut y[..o * n]);
                            y.fill(T::of(f64::NAN));
                            (k.affine)(w, &bias[..o], x, y, i, o);
                            for b in 0..n {
                                for r in 0..o {
                                    let mut e = bias[r];
                                    for c in 0..i {
                                        e = fma(w[c * o + r], x[b * i + c], e);
                                    }
                                    let got = y[b * o + r];
                                    assert!(
                                        got.as_f64().to_bits() == e.as_f64().to_bits(),
                                        "{} o={o} i={i} n={n}: Y[{r}, {b}] = {got:?}, not {e:?}",
                                        k.name
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        check::<f32>(libm::fmaf);
        check::<f64>(libm::fma);
    }

    /// `affine_relu` gives the bits of `affine` followed by the `ReLU` layer's formula, on
    /// every path it takes: plain loops for a small single sample, tiles over the outputs in
    /// one or several passes (only the last applies the `ReLU`), tiles over the samples for
    /// few outputs; with negative sums, `−0` biases and NaN inputs among them.
    #[cfg(feature = "std")]
    #[test]
    fn affine_relu_is_affine_then_relu() {
        fn check<T: Scalar>() {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            let w: std::vec::Vec<T> = (0..67 * 600).map(v).collect();
            let mut x: std::vec::Vec<T> = (0..600 * 40).map(|k| v(k + 5)).collect();
            x[7] = T::of(f64::NAN);
            let mut bias: std::vec::Vec<T> = (0..67).map(|k| v(k + 3)).collect();
            bias[1] = T::of(-0.0);
            let shapes = [
                (5, 5, 1),
                (64, 64, 1),
                (67, 64, 1),
                (10, 64, 32),
                (7, 200, 17),
                (67, 600, 19),
                (16, 1, 9),
                (40, 300, 40),
            ];
            for (o, i, n) in shapes {
                let (w, x, bias) = (&w[..o * i], &x[..i * n], &bias[..o]);
                let mut fused = std::vec![T::of(f64::NAN); o * n];
                let mut plain = std::vec![T::of(f64::NAN); o * n];
                affine_relu(w, bias, x, &mut fused, i, o);
                affine(w, bias, x, &mut plain, i, o);
                let mut negatives = 0;
                for (k, (&f, &p)) in fused.iter().zip(&plain).enumerate() {
                    negatives += usize::from(p <= T::zero() || p != p);
                    let e = if p > T::zero() { p } else { T::zero() };
                    assert!(
                        f.as_f64().to_bits() == e.as_f64().to_bits(),
                        "o={o} i={i} n={n}: value {k} is {f:?}, not {e:?}"
                    );
                }
                assert!(
                    negatives > 0,
                    "o={o} i={i} n={n}: the ReLU has nothing to do"
                );
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// The AVX2 and AVX-512 kernels give the same bits: every output is the same chain of
    /// fused multiply-adds in the order of the shared dimension (and the bias gradient the
    /// same additions sample by sample), whatever tile, pass or vector width computes it.
    /// All three products, writing and adding, the fused `ReLU` and the finite check, on
    /// every edge of both tile shapes (rows around 4, 8, 16 and 32, one to past two column
    /// tiles), with tiles over the samples (few outputs), several passes and grouped row
    /// tiles. Needs a CPU with AVX-512: elsewhere there is one vector path and it says so.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_paths_agree_bit_for_bit() {
        if cpu_path() < Path::Avx512 {
            std::println!("no AVX-512 on this CPU: one vector path, nothing to compare");
            return;
        }
        fn check<T: Scalar>() {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            let mut shapes = std::vec::Vec::new();
            for o in [1, 3, 4, 8, 9, 15, 16, 17, 31, 32, 33, 40, 64, 65] {
                for i in [1, 3, 6, 7, 13, 16, 17] {
                    for n in [1, 2, 5, 6, 7, 13, 31, 32, 33, 40] {
                        shapes.push((o, i, n));
                    }
                }
            }
            shapes.extend([
                (67, 600, 19),
                (100, 80, 100),
                (128, 784, 64),
                (10, 64, 64),
                (10, 300, 40),
                (40, 300, 40),
                (64, 128, 64),
                (80, 300, 40),
                (130, 200, 31),
                // LeNet-5's Linear layers at batch 32 (the input gradient's tiles over the
                // samples on AVX-512, over the inputs on AVX2).
                (120, 400, 32),
                (84, 120, 32),
                (10, 84, 32),
                // Weight gradients over several passes of samples (two of 150), with wide
                // forward tiles (six columns each) and a row tail of one.
                (65, 17, 300),
                // Three full row tiles of the weight gradient (a pair and one alone) and a
                // forward of two wide passes with a whole two-vector tile after them.
                (96, 200, 12),
                // Weight gradients that pack `X` by blocks (four full row tiles and a row
                // tail; three blocks of columns in `f32`, four in `f64`; two passes of
                // samples), and one block of columns alone.
                (260, 200, 150),
                (256, 60, 20),
                // No columns, with inputs and outputs over several passes: nothing to do.
                (300, 600, 0),
                (70, 300, 0),
            ]);
            let bits = |a: &[T]| -> std::vec::Vec<u64> {
                a.iter().map(|x| x.as_f64().to_bits()).collect()
            };
            for (o, i, n) in shapes {
                let w: std::vec::Vec<T> = (0..o * i).map(v).collect();
                let x: std::vec::Vec<T> = (0..i * n).map(|k| v(k + 5)).collect();
                let g: std::vec::Vec<T> = (0..o * n).map(|k| v(k + 9)).collect();
                let bias: std::vec::Vec<T> = (0..o).map(|k| v(k + 3)).collect();
                let mut results = std::vec::Vec::new();
                for p in [Path::Avx2, Path::Avx512] {
                    let mut y = std::vec![T::of(f64::NAN); o * n];
                    let mut y_relu = y.clone();
                    assert!(fma::affine::<T, false>(p, &w, &bias, &x, &mut y, i, o));
                    assert!(fma::affine::<T, true>(p, &w, &bias, &x, &mut y_relu, i, o));
                    let mut dw: std::vec::Vec<T> = (0..o * i).map(|k| v(k + 1)).collect();
                    let mut db: std::vec::Vec<T> = (0..o).map(|k| v(k + 2)).collect();
                    let added = fma::affine_grads(p, &mut dw, &mut db, &x, &g, i, o, true);
                    let (mut dw_set, mut db_set) = (dw.clone(), db.clone());
                    let set = fma::affine_grads(p, &mut dw_set, &mut db_set, &x, &g, i, o, false);
                    let mut dx = std::vec![T::of(f64::NAN); i * n];
                    assert!(fma::input_grad(p, &w, &g, &mut dx, i, o, false));
                    let mut dx_acc: std::vec::Vec<T> = (0..i * n).map(|k| v(k + 4)).collect();
                    assert!(fma::input_grad(p, &w, &g, &mut dx_acc, i, o, true));
                    results.push((
                        [y, y_relu, dw, db, dw_set, db_set, dx, dx_acc].map(|r| bits(&r)),
                        added,
                        set,
                    ));
                }
                let names = [
                    "W·X",
                    "ReLU(W·X)",
                    "dW +=",
                    "db +=",
                    "dW =",
                    "db =",
                    "dX =",
                    "dX +=",
                ];
                for (k, name) in names.iter().enumerate() {
                    assert!(
                        results[0].0[k] == results[1].0[k],
                        "{name} o={o} i={i} n={n}: AVX2 and AVX-512 differ"
                    );
                }
                assert_eq!(results[0].1, results[1].1, "finite check o={o} i={i} n={n}");
                assert_eq!(results[0].2, results[1].2, "finite check o={o} i={i} n={n}");
                assert_eq!(results[0].1, Some(true));
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// `affine_bounded`: `affine`'s product, bit for bit, on every path the CPU runs; on
    /// AVX-512's wide tiles the packing tile bounds every weight it loads (`Some(true)`,
    /// no second pass), and one weight anywhere that its sums of squares cannot bound
    /// (NaN, infinite, huge, and `MAX/4` too) makes it say nothing (`Some(false)`), where
    /// `kernels::affine_bounded` checks the weights itself: its answer is `bounded`'s.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_forward_bounds_the_weights_as_it_packs_them() {
        fn check<T: Scalar>(huge: f64) {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            let bits = |a: &[T]| -> std::vec::Vec<u64> {
                a.iter().map(|x| x.as_f64().to_bits()).collect()
            };
            let quarter = T::of(huge / 4.0);
            let f32s = core::mem::size_of::<T>() == 4;
            // (o, i, n, whether AVX-512's wide tiles pack every row): several passes of
            // inputs (300, 784), several row tiles, and layouts they do not cover (a row
            // tail of two-vector tiles in `f32`, a first column tile of four, few outputs).
            let shapes = [
                (64, 8, 12, true),
                (128, 784, 64, true),
                (512, 300, 128, true),
                (96, 200, 12, !f32s),
                (64, 8, 7, false),
                (10, 64, 64, false),
                (40, 300, 40, false),
            ];
            for (o, i, n, wide) in shapes {
                let w0: std::vec::Vec<T> = (0..o * i).map(v).collect();
                let x: std::vec::Vec<T> = (0..i * n).map(|k| v(k + 5)).collect();
                let bias: std::vec::Vec<T> = (0..o).map(|k| v(k + 3)).collect();
                // First and last weight, the last input's first, a middle one, one of the
                // second pass (inputs from 128 for 300 inputs, from 196 for 784).
                let spots = [
                    0,
                    o - 1,
                    o * i - 1,
                    o * (i / 2) + o / 2,
                    o * (i - 1),
                    200 * o + 3,
                ];
                let mut cases = std::vec![(w0.clone(), true)];
                for &at in spots.iter().filter(|&&at| at < o * i) {
                    for (bad, bounded) in [
                        (T::of(f64::NAN), false),
                        (T::of(f64::INFINITY), false),
                        (T::of(f64::NEG_INFINITY), false),
                        (T::of(huge * 0.75), false),
                        (quarter, true),
                        (T::zero() - quarter, true),
                        (T::of(1e20), true),
                    ] {
                        let mut w = w0.clone();
                        w[at] = bad;
                        cases.push((w, bounded));
                    }
                }
                for (w, bounded) in cases {
                    // What the packing bounds: sums of squares, finite while every square is
                    // (`1e20²` is not in `f32`; `MAX/4`'s never).
                    let squares = w.iter().all(|&x| (x * x).is_finite());
                    assert_eq!(super::bounded(&w), bounded);
                    for p in [Path::Avx2, Path::Avx512] {
                        if p > cpu_path() {
                            continue;
                        }
                        let mut y = std::vec![T::of(f64::NAN); o * n];
                        let mut y_plain = y.clone();
                        let packed = fma::affine_bounded(p, &w, &bias, &x, &mut y, i, o);
                        assert!(fma::affine::<T, false>(
                            p,
                            &w,
                            &bias,
                            &x,
                            &mut y_plain,
                            i,
                            o
                        ));
                        assert_eq!(bits(&y), bits(&y_plain), "{o}×{i}×{n} on {p:?}");
                        let expected = p == Path::Avx512 && wide && squares;
                        assert_eq!(packed, Some(expected), "{o}×{i}×{n} on {p:?}");
                    }
                    let mut y = std::vec![T::of(f64::NAN); o * n];
                    let mut y_plain = y.clone();
                    assert_eq!(affine_bounded(&w, &bias, &x, &mut y, i, o), bounded);
                    affine(&w, &bias, &x, &mut y_plain, i, o);
                    assert_eq!(bits(&y), bits(&y_plain));
                    let mut nan_bias = bias.clone();
                    nan_bias[o - 1] = T::of(f64::NAN);
                    assert!(!affine_bounded(&w, &nan_bias, &x, &mut y, i, o));
                }
            }
        }
        check::<f32>(f32::MAX as f64);
        check::<f64>(f64::MAX);
    }

    /// The vector kernels' largest `|v|` is the plain loop's, for every length of a tail and
    /// of whole trips, and `None` wherever a NaN or infinity sits (`f32`, `f64`).
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn max_abs_is_the_loops() {
        fn check<T: Scalar>() {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            for p in [Path::Avx2, Path::Avx512] {
                if p > cpu_path() {
                    continue;
                }
                for n in (0..=70).chain([127, 128, 129]) {
                    let s: std::vec::Vec<T> = (0..n).map(v).collect();
                    let top = s.iter().map(|&x| x.as_f64().abs()).fold(0.0, f64::max);
                    assert_eq!(
                        fma::max_abs(p, &s).map(|m| m.map(T::as_f64)),
                        Some(Some(top))
                    );
                    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                        for at in 0..n {
                            let mut w = s.clone();
                            w[at] = T::of(bad);
                            assert_eq!(fma::max_abs(p, &w), Some(None), "{p:?} n={n} at={at}");
                        }
                    }
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// The weight gradient applied as it is computed (`fma::affine_grads_sgd`) is the
    /// gradient of `fma::affine_grads` followed by the update's loop, bit for bit, and
    /// writes its bias gradient: whole and partial row tiles (AVX-512's wide ones, its
    /// packed `X` from four of them), one and several passes of samples, `f32` and `f64`,
    /// whatever its scratch held.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn grads_sgd_is_the_gradient_then_the_update() {
        fn check<T: Scalar>() {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            let bits = |s: &[T]| {
                s.iter()
                    .map(|x| x.as_f64().to_bits())
                    .collect::<std::vec::Vec<_>>()
            };
            for p in [Path::Avx2, Path::Avx512] {
                if p > cpu_path() {
                    continue;
                }
                for (o, i, n) in [
                    (1, 1, 1),
                    (5, 3, 2),
                    (64, 6, 7),
                    (70, 20, 129),
                    (300, 17, 128),
                    (300, 131, 200),
                    (16, 64, 257),
                ] {
                    let x: std::vec::Vec<T> = (0..i * n).map(v).collect();
                    let dy: std::vec::Vec<T> = (0..o * n).map(|k| v(k + 5) * T::of(0.1)).collect();
                    let w0: std::vec::Vec<T> = (0..o * i).map(|k| v(k + 9)).collect();
                    for lr in [0.0137, -0.25].map(T::of) {
                        let (mut dw, mut db) =
                            (std::vec![T::zero(); o * i], std::vec![T::zero(); o]);
                        let done = fma::affine_grads(p, &mut dw, &mut db, &x, &dy, i, o, false);
                        assert_eq!(done, Some(true));
                        let want: std::vec::Vec<T> =
                            w0.iter().zip(&dw).map(|(&w, &g)| w - lr * g).collect();
                        let mut w = w0.clone();
                        let mut scratch = std::vec![T::of(f64::NAN); o * i];
                        let mut db2 = std::vec![T::of(f64::NAN); o];
                        let ran = fma::affine_grads_sgd(
                            p,
                            &mut w,
                            &mut scratch,
                            &mut db2,
                            &x,
                            &dy,
                            (i, o),
                            lr,
                        );
                        assert!(ran, "{p:?} {o}x{i} n={n}");
                        assert_eq!(bits(&w), bits(&want), "{p:?} {o}x{i} n={n}");
                        assert_eq!(bits(&db2), bits(&db), "{p:?} {o}x{i} n={n}");
                    }
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// The vector SGD update gives the portable loop's bits (`p − lr·g`, two roundings) on
    /// every vector path this CPU runs, every check and every length around the vectors'
    /// edges, and with a check writes nothing when one new value (in a whole vector or in
    /// the masked tail) overflows or is NaN. `SgdCheck::FiniteGrads` (finite gradients
    /// only) answers as `Full` does: where its bound on the parameters holds (at its edge
    /// too), and where it does not (a huge, infinite or NaN parameter, `|lr| > 1/4`);
    /// `SgdCheck::Bounded` too, where the parameters are within the bound.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sgd_update_has_the_loops_bits() {
        fn check<T: Scalar>(big: f64, max: f64) {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            let same = |a: &[T], b: &[T]| {
                a.iter()
                    .zip(b)
                    .all(|(a, b)| a.as_f64().to_bits() == b.as_f64().to_bits())
            };
            // `Bounded` only where the parameters are within its bound (its contract).
            let checks = [
                SgdCheck::None,
                SgdCheck::Full,
                SgdCheck::FiniteGrads,
                SgdCheck::Bounded,
            ];
            for p in [Path::Avx2, Path::Avx512] {
                if p > cpu_path() {
                    continue;
                }
                for n in (0..=70).chain([127, 128, 129, 1000]) {
                    let g: std::vec::Vec<T> = (0..n).map(|k| v(k + 3)).collect();
                    let start: std::vec::Vec<T> = (0..n).map(v).collect();
                    for lr in [0.0137, -0.25, 0.3, 3.0].map(T::of) {
                        let loop_: std::vec::Vec<T> =
                            start.iter().zip(&g).map(|(&p, &g)| p - lr * g).collect();
                        for c in checks {
                            let mut params = start.clone();
                            assert_eq!(fma::sgd(p, &mut params, &g, lr, c), Some(true));
                            assert!(same(&params, &loop_), "{c:?} n={n}");
                        }
                    }
                    let lr = T::of(0.0137);
                    for spot in [0, n / 2, n.saturating_sub(1)]
                        .into_iter()
                        .filter(|_| n > 0)
                    {
                        // One value that overflows or is NaN, anywhere: nothing written.
                        // The first two gradients are not finite (`Full` only).
                        let bad = [
                            (big, -big / 0.0137, false),
                            (big, f64::NAN, false),
                            (max, -max, true),
                            (f64::NAN, 1.0, true),
                            (f64::INFINITY, 0.0, true),
                        ];
                        for (bp, bg, finite) in bad {
                            for c in [SgdCheck::Full, SgdCheck::FiniteGrads] {
                                if c == SgdCheck::FiniteGrads && !finite {
                                    continue;
                                }
                                let mut g = g.clone();
                                let mut params = start.clone();
                                params[spot] = T::of(bp);
                                g[spot] = T::of(bg);
                                let before = params.clone();
                                assert_eq!(fma::sgd(p, &mut params, &g, lr, c), Some(false));
                                assert!(same(&params, &before), "{c:?} n={n} spot={spot}");
                            }
                        }
                        // Past the bound but finite (the full check decides: written), and
                        // at the bound's edge (|p| = MAX/4, |g| = MAX, |lr| = 1/4).
                        let fine = [(big, 1.0, 0.0137), (max / 4.0, -max, 0.25)];
                        for (bp, bg, lr) in fine {
                            let lr = T::of(lr);
                            let mut g = g.clone();
                            let mut params = start.clone();
                            params[spot] = T::of(bp);
                            g[spot] = T::of(bg);
                            let loop_: std::vec::Vec<T> =
                                params.iter().zip(&g).map(|(&p, &g)| p - lr * g).collect();
                            assert!(loop_.iter().all(|v| v.is_finite()));
                            for c in checks {
                                if c == SgdCheck::Bounded && bp.abs() > max / 4.0 {
                                    continue;
                                }
                                let mut q = params.clone();
                                assert_eq!(fma::sgd(p, &mut q, &g, lr, c), Some(true));
                                assert!(same(&q, &loop_), "{c:?} n={n} spot={spot}");
                            }
                        }
                    }
                }
            }
        }
        check::<f32>(3e38, f32::MAX as f64);
        check::<f64>(1.7e308, f64::MAX);
    }

    /// `path` is capped by what the CPU runs, and `set_path` by the CPU too; the products
    /// give the same bits on every vector path and the portable kernels' own bits there.
    #[cfg(feature = "std")]
    #[test]
    fn path_is_capped_by_the_cpu() {
        let cpu = cpu_path();
        assert!(path() <= cpu);
        assert_eq!(Path::from_name("avx512"), Some(Path::Avx512));
        assert_eq!(Path::from_name("sse9"), None);
        for p in [Path::Portable, Path::Avx2, Path::Avx512] {
            assert_eq!(Path::from_name(p.name()), Some(p));
            assert!(p.instructions().len() > 10);
        }
    }

    /// A forward product wider than one pass sums in input order on every path: with one
    /// rounding per multiply and add on the portable paths, with fused multiply-adds on the
    /// FMA path.
    #[test]
    fn affine_in_several_passes() {
        const I: usize = 2085;
        const O: usize = 9;
        const N: usize = 5;
        let v = |k: usize| ((k * 37 + 11) % 23) as f64 / 7.0 - 1.5;
        let w: [f64; O * I] = core::array::from_fn(v);
        let x: [f64; I * N] = core::array::from_fn(|k| v(k + 5));
        let bias: [f64; O] = core::array::from_fn(|k| v(k + 3));
        for k in implementations::<f64>().iter().flatten() {
            let fused = fused(k.name);
            let mut y = [0.0; O * N];
            (k.affine)(&w, &bias, &x, &mut y, I, O);
            for b in 0..N {
                for r in 0..O {
                    let mut e = bias[r];
                    for c in 0..I {
                        let (p, q) = (w[c * O + r], x[b * I + c]);
                        e = if fused { libm::fma(p, q, e) } else { e + p * q };
                    }
                    assert_eq!(y[b * O + r], e, "{} row {r} column {b}", k.name);
                }
            }
        }
    }
}
