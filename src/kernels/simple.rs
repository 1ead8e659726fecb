//! The plain column-major loops: the path of targets without a vector unit worth blocking
//! for (microcontrollers), with the smallest code and stack, and the summation order the
//! embedded firmware's bit-for-bit comparison with the host was recorded with. Elsewhere
//! they run single samples of small layers (inlined into the caller) and serve as the
//! tests' reference.
use crate::Scalar;

/// `y[:, b] = bias + W · x[:, b]` for every column `b`; `W` is `o × i`.
#[inline]
pub(super) fn affine<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
    debug_assert_eq!(w.len(), o * i);
    for (xc, yc) in x.chunks_exact(i).zip(y.chunks_exact_mut(o)) {
        let mut columns = w.chunks_exact(o).zip(xc);
        // The bias enters with the first input (`b + w·x`, the same sum in the same order
        // as starting from a copy of the bias), so no `memcpy` is linked on a
        // microcontroller for it.
        if let Some((wc, &xv)) = columns.next() {
            for ((yv, &wv), &b) in yc.iter_mut().zip(wc).zip(bias) {
                *yv = b + wv * xv;
            }
        }
        for (wc, &xv) in columns {
            for (yv, &wv) in yc.iter_mut().zip(wc) {
                *yv += wv * xv;
            }
        }
    }
}

/// `dW += dY · Xᵀ` and `db += Σ_b dY[:, b]`; `dW` is `o × i`.
#[inline]
pub(super) fn affine_grads<T: Scalar>(
    dw: &mut [T],
    db: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
) {
    for (xc, dyc) in x.chunks_exact(i).zip(dy.chunks_exact(o)) {
        for (dbv, &g) in db.iter_mut().zip(dyc) {
            *dbv += g;
        }
        for (dwc, &xv) in dw.chunks_exact_mut(o).zip(xc) {
            for (d, &g) in dwc.iter_mut().zip(dyc) {
                *d += g * xv;
            }
        }
    }
}

/// `dX = Wᵀ · dY`; `W` is `o × i`.
#[inline]
pub(super) fn affine_input_grad<T: Scalar>(w: &[T], dy: &[T], dx: &mut [T], i: usize, o: usize) {
    for (dyc, dxc) in dy.chunks_exact(o).zip(dx.chunks_exact_mut(i)) {
        for (d, wc) in dxc.iter_mut().zip(w.chunks_exact(o)) {
            *d = dot(wc, dyc);
        }
    }
}

/// Adds `Wᵀ · dY` into `dX`.
#[inline]
pub(super) fn affine_input_grad_acc<T: Scalar>(
    w: &[T],
    dy: &[T],
    dx: &mut [T],
    i: usize,
    o: usize,
) {
    for (dyc, dxc) in dy.chunks_exact(o).zip(dx.chunks_exact_mut(i)) {
        for (d, wc) in dxc.iter_mut().zip(w.chunks_exact(o)) {
            *d += dot(wc, dyc);
        }
    }
}

/// Dot product with four independent accumulators.
#[inline]
fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 4];
    let (a4, ar) = a.split_at(a.len() / 4 * 4);
    let (b4, br) = b.split_at(a4.len());
    for (ac, bc) in a4.chunks_exact(4).zip(b4.chunks_exact(4)) {
        for k in 0..4 {
            acc[k] += ac[k] * bc[k];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (&x, &y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}
