//! Register-blocked kernels in portable Rust, generic over the scalar type: the path of
//! AArch64, of x86 CPUs without AVX2 and FMA, and of scalar types other than `f32` and
//! `f64`. A small tile of the result is held in local accumulators (fixed-size arrays the
//! compiler keeps in vector registers) while the inner loop runs over the shared dimension
//! with contiguous loads; edges fall back to narrower tiles.
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
//! width.

use crate::Scalar;

/// Rows of a forward / weight-gradient tile: two AVX vectors of `f32` or `f64`.
const fn rows<T>() -> usize {
    if size_of::<T>() == 4 { 16 } else { 8 }
}

/// Inputs per pass of the forward product. Wider inputs are taken in several passes, each
/// starting from the partial sums in `y`, which bounds the working set of a tile. On the
/// machine of BENCHMARKS.md a pass of 256 inputs measured no better than a single pass for
/// 784 inputs (without packing, a panel of `W` strided by `o` does not stay in L1), so only
/// very wide layers are split.
const KC: usize = 1024;

/// `y[:, b] = bias + W · x[:, b]` for every column `b`; `W` is `o × i`.
#[inline]
pub(super) fn affine<T: Scalar>(w: &[T], bias: &[T], x: &[T], y: &mut [T], i: usize, o: usize) {
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
pub(super) fn affine_grads<T: Scalar>(
    dw: &mut [T],
    db: &mut [T],
    x: &[T],
    dy: &[T],
    i: usize,
    o: usize,
) {
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

/// `dX = Wᵀ · dY`, or `dX += Wᵀ · dY` when `add`; `W` is `o × i`.
#[inline]
pub(super) fn input_grad<T: Scalar>(
    w: &[T],
    dy: &[T],
    dx: &mut [T],
    i: usize,
    o: usize,
    add: bool,
) {
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
