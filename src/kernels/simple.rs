//! The plain column-major loops: the path of targets without a vector unit worth blocking
//! for (microcontrollers), with the smallest code and stack, and the summation order the
//! embedded firmware's bit-for-bit comparison with the host was recorded with. Elsewhere
//! they run single samples of small layers (inlined into the caller) and serve as the
//! tests' reference.
//!
//! They are written as index loops over one column at a time, the next column of `W` split
//! off the rest with `split_at(o)`, rather than as chains of `chunks_exact` and `zip`: on a
//! Cortex-M, where they are not inlined, every live iterator of such a chain is several
//! words of state that ends up in the stack frame (`affine_input_grad` had a 232-byte frame
//! on thumbv7em-none-eabihf, 72 B with these loops), while an offset and a column length fit
//! in registers. Splitting (rather than slicing at `c * o`) also leaves no bounds check that
//! the compiler turns into a division, so ARMv6-M links no software divider for them. Each
//! output element is summed in the same order as with the iterator chains, so the results
//! are the same bit for bit (`embedded/FOOTPRINT.md`, "Stack").
use crate::Scalar;

/// `y[:, b] = bias + W · x[:, b]` for every column `b`; `W` is `o × i`.
///
/// Always inlined where the vector kernels exist (there it runs single samples of small
/// layers, at call sites whose widths are constants: see [`super::affine`]); `#[inline]`
/// on the firmware's targets, as it was.
#[cfg_attr(
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"),
    inline(always)
)]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")),
    inline
)]
pub(super) fn affine<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
    debug_assert_eq!(w.len(), o * i);
    let bias = &bias[..o];
    let (mut xo, mut yo) = (0, 0);
    while yo < y.len() {
        let xc = &x[xo..xo + i];
        let yc = &mut y[yo..yo + o];
        // The bias enters with the first input (`b + w·x`, the same sum in the same order
        // as starting from a copy of the bias), so no `memcpy` is linked on a
        // microcontroller for it.
        let (w0, mut wr) = w.split_at(o);
        let x0 = xc[0];
        for r in 0..o {
            yc[r] = bias[r] + w0[r] * x0;
        }
        for &xv in &xc[1..] {
            let (wc, rest) = wr.split_at(o);
            for r in 0..o {
                yc[r] += wc[r] * xv;
            }
            wr = rest;
        }
        xo += i;
        yo += o;
    }
}

/// `dW += dY · Xᵀ` and `db += Σ_b dY[:, b]` when `ADD`; `dW = dY · Xᵀ` and
/// `db = Σ_b dY[:, b]` otherwise (the first sample's terms are written as `0 + term`, the
/// same bits as adding them to a zeroed block, without a pass to zero it); `dW` is `o × i`.
#[inline]
pub(super) fn affine_grads<T: Scalar, const ADD: bool>(
    dw: &mut [T],
    db: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
) {
    let db = &mut db[..o];
    if !ADD && dy.is_empty() {
        dw.fill(T::zero());
        db.fill(T::zero());
    }
    let (mut xo, mut go) = (0, 0);
    while go < dy.len() {
        let xc = &x[xo..xo + i];
        let g = &dy[go..go + o];
        let first = !ADD && go == 0;
        for r in 0..o {
            db[r] = if first { T::zero() } else { db[r] } + g[r];
        }
        let mut dwr = &mut *dw;
        for &xv in xc {
            let (dwc, rest) = dwr.split_at_mut(o);
            for r in 0..o {
                dwc[r] = if first { T::zero() } else { dwc[r] } + g[r] * xv;
            }
            dwr = rest;
        }
        xo += i;
        go += o;
    }
}

/// `dX += Wᵀ · dY` when `ADD`, `dX = Wᵀ · dY` otherwise; `W` is `o × i`.
#[inline]
pub(super) fn affine_input_grad<T: Scalar, const ADD: bool>(
    w: &[T],
    dy: &[T],
    dx: &mut [T],
    i: usize,
    o: usize,
) {
    let (mut xo, mut go) = (0, 0);
    while go < dy.len() {
        let g = &dy[go..go + o];
        let dxc = &mut dx[xo..xo + i];
        let mut wr = w;
        for d in dxc {
            let (wc, rest) = wr.split_at(o);
            *d = if ADD { *d + dot(wc, g) } else { dot(wc, g) };
            wr = rest;
        }
        xo += i;
        go += o;
    }
}

/// Dot product with four independent accumulators.
#[inline]
fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    let n = a.len();
    let b = &b[..n];
    let n4 = n / 4 * 4;
    let (mut a0, mut a1, mut a2, mut a3) = (T::zero(), T::zero(), T::zero(), T::zero());
    let mut k = 0;
    while k < n4 {
        let (ac, bc) = (&a[k..k + 4], &b[k..k + 4]);
        a0 += ac[0] * bc[0];
        a1 += ac[1] * bc[1];
        a2 += ac[2] * bc[2];
        a3 += ac[3] * bc[3];
        k += 4;
    }
    let mut s = (a0 + a1) + (a2 + a3);
    while k < n {
        s += a[k] * b[k];
        k += 1;
    }
    s
}
