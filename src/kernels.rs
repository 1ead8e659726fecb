//! Slice kernels for the dense products of forward and backward.
//!
//! All matrices are column-major, as nalgebra stores them. Each product is computed by a
//! register-blocked micro-kernel: a small tile of the result is held in local accumulators
//! (fixed-size arrays the compiler keeps in vector registers) while the inner loop runs over
//! the shared dimension with contiguous loads; edges fall back to narrower tiles.
//!
//! - `W · X` (forward): tiles of `MR` output rows × `NR` samples; per input `k`, one
//!   contiguous slice of `W`'s column `k` times `NR` broadcast inputs.
//! - `dY · Xᵀ` (weight gradient): tiles of `MR` rows × `NC` columns of `dW`, loaded from and
//!   stored back to `dW`; per sample, one contiguous slice of `dY`'s column times `NC`
//!   contiguous inputs.
//! - `Wᵀ · dY` (input gradient): tiles of `NC` columns of `W` × `NB` columns of `dY`, each a
//!   dot product kept in `L` lanes and summed at the end.
//!
//! Every output of `W · X` and `dY · Xᵀ` is accumulated in the same order as a plain loop
//! over the shared dimension, so results do not depend on the tile sizes or the vector
//! width. With the `std` feature, x86-64 builds detect AVX2 at run time and run the same
//! code compiled for it (twice the vector width of the SSE2 baseline); `-C
//! target-cpu=native` gets the same without detection. No kernel allocates.
//!
//! Targets without a vector unit worth blocking for (anything but x86, x86-64 and AArch64:
//! the Cortex-M firmware) keep the plain column-major loops of `simple`, whose code and
//! stack are smallest and whose summation order the firmware's bit-for-bit comparison with
//! the host relies on.

// Microcontrollers use the plain loops of `simple` only.
#![cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")),
    allow(dead_code)
)]

use crate::Scalar;

/// Rows of a forward / weight-gradient tile: two AVX vectors of `f32` or `f64`.
const fn rows<T>() -> usize {
    if size_of::<T>() == 4 { 16 } else { 8 }
}

/// Runs `$body` (an expression generic over the scalar type, calling `*_impl` kernels)
/// compiled for AVX2 when the CPU has it (detected at run time, `std` only).
macro_rules! dispatch {
    ($avx:ident, $portable:ident, ($($arg:expr),*)) => {{
        #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
        {
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { $avx($($arg),*) };
            }
        }
        $portable($($arg),*)
    }};
}

/// The plain column-major loops, for targets without a vector unit worth blocking for
/// (microcontrollers): the smallest code and stack, and the summation order the embedded
/// firmware's bit-for-bit comparison with the host was recorded with. On other targets
/// they serve as the tests' reference.
#[cfg_attr(
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"),
    allow(dead_code)
)]
mod simple {
    use crate::Scalar;

    /// `y[:, b] = bias + W · x[:, b]` for every column `b`; `W` is `o × i`.
    #[inline]
    pub(super) fn affine<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
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
    pub(super) fn affine_input_grad<T: Scalar>(
        w: &[T],
        dy: &[T],
        dx: &mut [T],
        i: usize,
        o: usize,
    ) {
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
}

/// `y[:, b] = bias + W · x[:, b]` for every column `b`; `W` is `o × i`.
#[inline]
pub(crate) fn affine<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
    debug_assert_eq!(w.len(), o * i);
    debug_assert_eq!(bias.len(), o);
    debug_assert_eq!(x.len() / i.max(1), y.len() / o.max(1));
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    {
        // One sample: nothing to block over; the plain loop inlines into the caller.
        if y.len() == o {
            return simple::affine(w, bias, x, y, i, o);
        }
        dispatch!(affine_avx2, affine_impl, (w, bias, x, y, i, o));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
    simple::affine(w, bias, x, y, i, o);
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
#[target_feature(enable = "avx2")]
fn affine_avx2<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
    affine_impl(w, bias, x, y, i, o);
}

/// Inputs per pass of the forward product. Wider inputs are taken in several passes, each
/// starting from the partial sums in `y`, which bounds the working set of a tile. On the
/// machine of BENCHMARKS.md a pass of 256 inputs measured no better than a single pass for
/// 784 inputs (without packing, a panel of `W` strided by `o` does not stay in L1), so only
/// very wide layers are split.
const KC: usize = 1024;

#[inline(always)]
fn affine_impl<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
    if o == 0 {
        return;
    }
    let n = y.len() / o;
    if i == 0 {
        for yc in y.chunks_exact_mut(o) {
            yc.copy_from_slice(bias);
        }
        return;
    }
    let x = &x[..n * i];
    // Passes over the inputs in blocks of `KC`; the first starts from the bias, the others
    // from the partial sums in `y`, so every output is summed in input order.
    let mut k0 = 0;
    while k0 < i {
        let p = Pass {
            k0,
            kc: KC.min(i - k0),
            i,
            o,
            n,
        };
        let mut r0 = 0;
        if rows::<T>() == 16 {
            while r0 + 16 <= o {
                affine_rows::<T, 16>(w, bias, x, y, &p, r0);
                r0 += 16;
            }
        }
        while r0 + 8 <= o {
            affine_rows::<T, 8>(w, bias, x, y, &p, r0);
            r0 += 8;
        }
        while r0 + 4 <= o {
            affine_rows::<T, 4>(w, bias, x, y, &p, r0);
            r0 += 4;
        }
        while r0 < o {
            affine_rows::<T, 1>(w, bias, x, y, &p, r0);
            r0 += 1;
        }
        k0 += p.kc;
    }
}

/// One pass of the forward product over inputs `k0 .. k0 + kc`.
struct Pass {
    k0: usize,
    kc: usize,
    i: usize,
    o: usize,
    n: usize,
}

/// Rows `r0 .. r0 + MR` of the forward product, every column, one pass.
#[inline(always)]
fn affine_rows<T: Scalar, const MR: usize>(
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
    p: &Pass,
    r0: usize,
) {
    let mut b0 = 0;
    while b0 + 4 <= p.n {
        affine_tile::<T, MR, 4>(w, bias, x, y, p, r0, b0);
        b0 += 4;
    }
    while b0 < p.n {
        affine_tile::<T, MR, 1>(w, bias, x, y, p, r0, b0);
        b0 += 1;
    }
}

/// One `MR × NR` tile of the forward product: rows `r0 ..`, columns `b0 ..`, one pass.
#[inline(always)]
fn affine_tile<T: Scalar, const MR: usize, const NR: usize>(
    w: &[T],
    bias: &[T],
    x: &[T],
    y: &mut [T],
    p: &Pass,
    r0: usize,
    b0: usize,
) {
    let (i, o) = (p.i, p.o);
    let mut acc: [[T; MR]; NR] = core::array::from_fn(|j| {
        let start: &[T] = if p.k0 == 0 {
            &bias[r0..r0 + MR]
        } else {
            &y[(b0 + j) * o + r0..][..MR]
        };
        start.try_into().expect("tile inside y")
    });
    let xs: [&[T]; NR] = core::array::from_fn(|j| &x[(b0 + j) * i + p.k0..][..p.kc]);
    let panel = &w[p.k0 * o..(p.k0 + p.kc) * o];
    for (k, wc) in panel.chunks_exact(o).enumerate() {
        let wk: &[T; MR] = wc[r0..r0 + MR].try_into().expect("tile inside W");
        for (a, xc) in acc.iter_mut().zip(&xs) {
            let xv = xc[k];
            for (av, &wv) in a.iter_mut().zip(wk) {
                *av += wv * xv;
            }
        }
    }
    for (j, a) in acc.iter().enumerate() {
        y[(b0 + j) * o + r0..][..MR].copy_from_slice(a);
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
    debug_assert_eq!(dw.len(), o * i);
    debug_assert_eq!(db.len(), o);
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    dispatch!(affine_grads_avx2, affine_grads_impl, (dw, db, x, dy, i, o));
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
    simple::affine_grads(dw, db, x, dy, i, o);
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
#[target_feature(enable = "avx2")]
fn affine_grads_avx2<T: Scalar>(dw: &mut [T], db: &mut [T], x: &[T], dy: &[T], i: usize, o: usize) {
    affine_grads_impl(dw, db, x, dy, i, o);
}

#[inline(always)]
fn affine_grads_impl<T: Scalar>(dw: &mut [T], db: &mut [T], x: &[T], dy: &[T], i: usize, o: usize) {
    if o == 0 {
        return;
    }
    for dyc in dy.chunks_exact(o) {
        for (dbv, &g) in db.iter_mut().zip(dyc) {
            *dbv += g;
        }
    }
    if i == 0 {
        return;
    }
    let n = dy.len() / o;
    let x = &x[..n * i];
    let dy = &dy[..n * o];
    let mut c0 = 0;
    while c0 + 4 <= i {
        grads_cols::<T, 4>(dw, x, dy, i, o, c0);
        c0 += 4;
    }
    while c0 < i {
        grads_cols::<T, 1>(dw, x, dy, i, o, c0);
        c0 += 1;
    }
}

/// Columns `c0 .. c0 + NC` of the weight gradient, all rows.
#[inline(always)]
fn grads_cols<T: Scalar, const NC: usize>(
    dw: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
    c0: usize,
) {
    let mut r0 = 0;
    if rows::<T>() == 16 {
        while r0 + 16 <= o {
            grads_tile::<T, 16, NC>(dw, x, dy, i, o, r0, c0);
            r0 += 16;
        }
    }
    while r0 + 8 <= o {
        grads_tile::<T, 8, NC>(dw, x, dy, i, o, r0, c0);
        r0 += 8;
    }
    while r0 + 4 <= o {
        grads_tile::<T, 4, NC>(dw, x, dy, i, o, r0, c0);
        r0 += 4;
    }
    while r0 < o {
        grads_tile::<T, 1, NC>(dw, x, dy, i, o, r0, c0);
        r0 += 1;
    }
}

/// One `MR × NC` tile of `dW`: rows `r0 ..`, columns `c0 ..`.
#[inline(always)]
fn grads_tile<T: Scalar, const MR: usize, const NC: usize>(
    dw: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
    r0: usize,
    c0: usize,
) {
    let mut acc: [[T; MR]; NC] = core::array::from_fn(|j| {
        dw[(c0 + j) * o + r0..][..MR]
            .try_into()
            .expect("tile inside dW")
    });
    for (xc, dyc) in x.chunks_exact(i).zip(dy.chunks_exact(o)) {
        let g: &[T; MR] = dyc[r0..r0 + MR].try_into().expect("tile inside dY");
        let xv: &[T; NC] = xc[c0..c0 + NC].try_into().expect("tile inside X");
        for (a, &xj) in acc.iter_mut().zip(xv) {
            for (av, &gv) in a.iter_mut().zip(g) {
                *av += gv * xj;
            }
        }
    }
    for (j, a) in acc.iter().enumerate() {
        dw[(c0 + j) * o + r0..][..MR].copy_from_slice(a);
    }
}

/// `dX = Wᵀ · dY`; `W` is `o × i`.
#[inline]
pub(crate) fn affine_input_grad<T: Scalar>(w: &[T], dy: &[T], dx: &mut [T], i: usize, o: usize) {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    dispatch!(input_grad_avx2, input_grad_impl, (w, dy, dx, i, o, false));
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
    simple::affine_input_grad(w, dy, dx, i, o);
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
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    dispatch!(input_grad_avx2, input_grad_impl, (w, dy, dx, i, o, true));
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
    simple::affine_input_grad_acc(w, dy, dx, i, o);
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
#[target_feature(enable = "avx2")]
fn input_grad_avx2<T: Scalar>(w: &[T], dy: &[T], dx: &mut [T], i: usize, o: usize, add: bool) {
    input_grad_impl(w, dy, dx, i, o, add);
}

#[inline(always)]
fn input_grad_impl<T: Scalar>(w: &[T], dy: &[T], dx: &mut [T], i: usize, o: usize, add: bool) {
    if i == 0 {
        return;
    }
    if o == 0 {
        if !add {
            dx.fill(T::zero());
        }
        return;
    }
    let n = dx.len() / i;
    if size_of::<T>() == 4 {
        input_grad_blocks::<T, 8>(w, dy, dx, i, o, n, add);
    } else {
        input_grad_blocks::<T, 4>(w, dy, dx, i, o, n, add);
    }
}

#[inline(always)]
fn input_grad_blocks<T: Scalar, const L: usize>(
    w: &[T],
    dy: &[T],
    dx: &mut [T],
    i: usize,
    o: usize,
    n: usize,
    add: bool,
) {
    // Columns of `W` outer (they stay in L1), samples inner.
    let mut c0 = 0;
    while c0 + 4 <= i {
        input_grad_cols::<T, L, 4>(w, dy, dx, i, o, n, c0, add);
        c0 += 4;
    }
    while c0 < i {
        input_grad_cols::<T, L, 1>(w, dy, dx, i, o, n, c0, add);
        c0 += 1;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn input_grad_cols<T: Scalar, const L: usize, const NC: usize>(
    w: &[T],
    dy: &[T],
    dx: &mut [T],
    i: usize,
    o: usize,
    n: usize,
    c0: usize,
    add: bool,
) {
    let mut b0 = 0;
    while b0 + 3 <= n {
        let dys: [&[T]; 3] = core::array::from_fn(|j| &dy[(b0 + j) * o..][..o]);
        input_grad_tile::<T, L, NC, 3>(w, &dys, dx, i, o, c0, b0, add);
        b0 += 3;
    }
    while b0 < n {
        let dys: [&[T]; 1] = [&dy[b0 * o..][..o]];
        input_grad_tile::<T, L, NC, 1>(w, &dys, dx, i, o, c0, b0, add);
        b0 += 1;
    }
}

/// One `NC × NB` tile of `dX`: inputs `c0 ..`, samples `b0 ..`; each entry is the dot
/// product of a column of `W` and a column of `dY`, kept in `L` lanes.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn input_grad_tile<T: Scalar, const L: usize, const NC: usize, const NB: usize>(
    w: &[T],
    dys: &[&[T]; NB],
    dx: &mut [T],
    i: usize,
    o: usize,
    c0: usize,
    b0: usize,
    add: bool,
) {
    let ws: [&[T]; NC] = core::array::from_fn(|c| &w[(c0 + c) * o..][..o]);
    let mut acc = [[[T::zero(); L]; NB]; NC];
    let full = o / L * L;
    let mut r = 0;
    // Plain index loops over the constant tile sizes: the compiler unrolls them completely
    // and keeps `acc` in vector registers.
    while r + L <= full {
        let mut wv = [[T::zero(); L]; NC];
        for c in 0..NC {
            wv[c].copy_from_slice(&ws[c][r..r + L]);
        }
        let mut gv = [[T::zero(); L]; NB];
        for b in 0..NB {
            gv[b].copy_from_slice(&dys[b][r..r + L]);
        }
        for c in 0..NC {
            for b in 0..NB {
                for l in 0..L {
                    acc[c][b][l] += wv[c][l] * gv[b][l];
                }
            }
        }
        r += L;
    }
    for (c, ac) in acc.iter().enumerate() {
        for (b, a) in ac.iter().enumerate() {
            let mut s = sum_lanes(a);
            for (&wl, &gl) in ws[c][full..].iter().zip(&dys[b][full..]) {
                s += wl * gl;
            }
            let d = &mut dx[(b0 + b) * i + c0 + c];
            if add {
                *d += s;
            } else {
                *d = s;
            }
        }
    }
}

/// Pairwise sum of the lanes.
#[inline(always)]
fn sum_lanes<T: Scalar, const L: usize>(a: &[T; L]) -> T {
    let mut v = *a;
    let mut width = L;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            let u = v[k + width];
            v[k] += u;
        }
    }
    v[0]
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

    /// Every tile size and edge: the kernels against plain triple loops.
    #[test]
    fn kernels_match_plain_loops_on_every_edge() {
        fn check<T: Scalar>(tol: f64) {
            let v = |k: usize| T::of(((k * 37 + 11) % 23) as f64 / 7.0 - 1.5);
            for o in [1, 3, 4, 7, 8, 9, 16, 17, 21, 33] {
                for i in [1, 2, 4, 5, 9, 13] {
                    for n in [1, 2, 3, 4, 5, 7, 9] {
                        let w: [T; 33 * 13] = core::array::from_fn(v);
                        let w = &w[..o * i];
                        let x: [T; 13 * 9] = core::array::from_fn(|k| v(k + 5));
                        let x = &x[..i * n];
                        let g: [T; 33 * 9] = core::array::from_fn(|k| v(k + 9));
                        let g = &g[..o * n];
                        let bias: [T; 33] = core::array::from_fn(|k| v(k + 3));
                        let bias = &bias[..o];
                        let close = |a: T, b: f64| (a.as_f64() - b).abs() <= tol * (1.0 + b.abs());

                        let mut y = [T::zero(); 33 * 9];
                        affine(w, bias, x, &mut y[..o * n], i, o);
                        for b in 0..n {
                            for r in 0..o {
                                let mut e = bias[r].as_f64();
                                for k in 0..i {
                                    e += w[k * o + r].as_f64() * x[b * i + k].as_f64();
                                }
                                assert!(close(y[b * o + r], e), "affine o={o} i={i} n={n}");
                            }
                        }

                        let mut dw: [T; 33 * 13] = core::array::from_fn(|k| v(k + 1));
                        let dw0 = dw;
                        let mut db = [T::one(); 33];
                        affine_grads(&mut dw[..o * i], &mut db[..o], x, g, i, o);
                        for c in 0..i {
                            for r in 0..o {
                                let mut e = dw0[c * o + r].as_f64();
                                for b in 0..n {
                                    e += g[b * o + r].as_f64() * x[b * i + c].as_f64();
                                }
                                assert!(close(dw[c * o + r], e), "grads o={o} i={i} n={n}");
                            }
                        }
                        for r in 0..o {
                            let e: f64 = 1.0 + (0..n).map(|b| g[b * o + r].as_f64()).sum::<f64>();
                            assert!(close(db[r], e), "bias grads o={o} i={i} n={n}");
                        }

                        let mut dx = [T::one(); 13 * 9];
                        affine_input_grad(w, g, &mut dx[..i * n], i, o);
                        let mut dx2 = [T::one(); 13 * 9];
                        affine_input_grad_acc(w, g, &mut dx2[..i * n], i, o);
                        for b in 0..n {
                            for c in 0..i {
                                let e: f64 = (0..o)
                                    .map(|r| w[c * o + r].as_f64() * g[b * o + r].as_f64())
                                    .sum();
                                assert!(close(dx[b * i + c], e), "input grad o={o} i={i} n={n}");
                                assert!(close(dx2[b * i + c], 1.0 + e), "acc o={o} i={i} n={n}");
                            }
                        }
                    }
                }
            }
        }
        check::<f64>(1e-12);
        check::<f32>(1e-5);
    }

    /// A forward product wider than one pass (`KC` inputs) sums in input order too.
    #[test]
    fn affine_in_several_passes() {
        const I: usize = 2 * KC + 37;
        const O: usize = 9;
        const N: usize = 5;
        let v = |k: usize| ((k * 37 + 11) % 23) as f64 / 7.0 - 1.5;
        let w: [f64; O * I] = core::array::from_fn(v);
        let x: [f64; I * N] = core::array::from_fn(|k| v(k + 5));
        let bias: [f64; O] = core::array::from_fn(|k| v(k + 3));
        let mut y = [0.0; O * N];
        affine(&w, &bias, &x, &mut y, I, O);
        for b in 0..N {
            for r in 0..O {
                let mut e = bias[r];
                for k in 0..I {
                    e += w[k * O + r] * x[b * I + k];
                }
                assert_eq!(y[b * O + r], e, "row {r} column {b}");
            }
        }
    }

    /// The plain loops (the microcontroller path) agree with the blocked kernels.
    #[test]
    fn plain_loops_agree() {
        const O: usize = 21;
        const I: usize = 13;
        const N: usize = 7;
        let v = |k: usize| ((k * 37 + 11) % 23) as f64 / 7.0 - 1.5;
        let w: [f64; O * I] = core::array::from_fn(v);
        let x: [f64; I * N] = core::array::from_fn(|k| v(k + 5));
        let g: [f64; O * N] = core::array::from_fn(|k| v(k + 9));
        let bias: [f64; O] = core::array::from_fn(|k| v(k + 3));
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-12);

        let (mut y1, mut y2) = ([0.0; O * N], [0.0; O * N]);
        affine(&w, &bias, &x, &mut y1, I, O);
        simple::affine(&w, &bias, &x, &mut y2, I, O);
        assert!(close(&y1, &y2));

        let (mut dw1, mut db1) = ([0.5; O * I], [0.25; O]);
        let (mut dw2, mut db2) = ([0.5; O * I], [0.25; O]);
        affine_grads(&mut dw1, &mut db1, &x, &g, I, O);
        simple::affine_grads(&mut dw2, &mut db2, &x, &g, I, O);
        assert!(close(&dw1, &dw2) && close(&db1, &db2));

        let (mut dx1, mut dx2) = ([1.0; I * N], [1.0; I * N]);
        affine_input_grad_acc(&w, &g, &mut dx1, I, O);
        simple::affine_input_grad_acc(&w, &g, &mut dx2, I, O);
        assert!(close(&dx1, &dx2));
        affine_input_grad(&w, &g, &mut dx1, I, O);
        simple::affine_input_grad(&w, &g, &mut dx2, I, O);
        assert!(close(&dx1, &dx2));
    }
}
