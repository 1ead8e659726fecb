//! Slice kernels for the dense products of forward and backward.
//!
//! All matrices are column-major, as nalgebra stores them. The loops are written so that the
//! innermost one runs down a column (contiguous memory), which the compiler vectorises.

use crate::Scalar;

/// `y[:, b] = bias + W · x[:, b]` for every column `b`; `W` is `o × i`.
#[inline]
pub(crate) fn affine<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
    debug_assert_eq!(w.len(), o * i);
    for (xc, yc) in x.chunks_exact(i).zip(y.chunks_exact_mut(o)) {
        yc.copy_from_slice(bias);
        for (wc, &xv) in w.chunks_exact(o).zip(xc) {
            for (yv, &wv) in yc.iter_mut().zip(wc) {
                *yv += wv * xv;
            }
        }
    }
}

/// `dW += dY · Xᵀ` and `db += Σ_b dY[:, b]`; `dW` is `o × i`.
#[inline]
pub(crate) fn affine_grads<T: Scalar>(
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
pub(crate) fn affine_input_grad<T: Scalar>(w: &[T], dy: &[T], dx: &mut [T], i: usize, o: usize) {
    for (dyc, dxc) in dy.chunks_exact(o).zip(dx.chunks_exact_mut(i)) {
        for (d, wc) in dxc.iter_mut().zip(w.chunks_exact(o)) {
            *d = dot(wc, dyc);
        }
    }
}

/// Adds `Wᵀ · dY` into `dX`.
#[inline]
pub(crate) fn affine_input_grad_acc<T: Scalar>(
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
pub(crate) fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
