#!/usr/bin/env python3
"""Fit the polynomial coefficients of src/math.rs (f32 exp, tanh, sigmoid).

Plain Python, no dependencies: a Remez exchange on a weighted polynomial fit, in double
precision, against Python's own ``math.exp``/``math.tanh``/``math.expm1`` (accurate to a
few double ulps, far below the f32 errors that matter). Each fit minimises the largest
*relative* error of the function it serves:

- ``exp(r) ≈ 1 + r + r²·Q(r)`` on the reduced range ``|r| ≤ 0.35`` (just over ln 2 / 2,
  for the rounding slop of the range reduction): ``Q`` of degree 4 fits
  ``g(r) = (eʳ − 1 − r) / r²`` with weight ``r² / eʳ``.
- ``tanh(x) ≈ x + x³·P(x²)`` on ``|x| ≤ SMALL``: ``P`` of degree 5 fits
  ``g(s) = (tanh √s − √s) / s^{3/2}`` with weight ``s^{3/2} / tanh √s``, ``s = x²``.

It prints the coefficients rounded to f32 as Rust literals, lowest degree first, together
with the ln 2 split of the range reduction (a high part with trailing zeros, so that
``n · LN2_HI`` is exact for the ``|n| < 2⁹`` that occur, and the rest). The errors it
prints are those of the real-number fit; what the f32 code achieves is measured by
``tests/activation_accuracy.rs``.

Usage::

    python3 scripts/fit_activations.py
"""

import math
import struct

# The boundary between tanh's odd polynomial and its exponential form; src/math.rs uses the
# same value.
SMALL = 0.875


def f32(v):
    """Rounds a double to the nearest f32 (returned as a double)."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def solve(a, b):
    """Gaussian elimination with partial pivoting; a is n×n, b has n entries."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for k in range(c, n + 1):
                m[r][k] -= f * m[c][k]
    x = [0.0] * n
    for r in reversed(range(n)):
        x[r] = (m[r][n] - sum(m[r][k] * x[k] for k in range(r + 1, n))) / m[r][r]
    return x


def poly(c, t):
    acc = 0.0
    for v in reversed(c):
        acc = acc * t + v
    return acc


def remez(g, w, lo, hi, degree, grid=20000, rounds=30):
    """Coefficients of the polynomial of `degree` minimising max |w(t)·(P(t) − g(t))|."""
    n = degree + 2
    ref = [
        lo + (hi - lo) * (1 - math.cos(math.pi * k / (n - 1))) / 2 for k in range(n)
    ]
    ts = [lo + (hi - lo) * k / grid for k in range(grid + 1)]
    gs = [g(t) for t in ts]
    ws = [w(t) for t in ts]
    coef = None
    for _ in range(rounds):
        rows = [[t**j for j in range(degree + 1)] + [(-1) ** i / w(t)] for i, t in enumerate(ref)]
        sol = solve(rows, [g(t) for t in ref])
        coef = sol[:-1]
        err = [wv * (poly(coef, t) - gv) for t, gv, wv in zip(ts, gs, ws)]
        # The extremum of each run of equal sign, then trimmed to n alternating points.
        ext = []
        start = 0
        for k in range(1, len(err) + 1):
            if k == len(err) or (err[k] > 0) != (err[start] > 0):
                best = max(range(start, k), key=lambda j: abs(err[j]))
                ext.append(best)
                start = k
        while len(ext) > n:
            if abs(err[ext[0]]) < abs(err[ext[-1]]):
                ext.pop(0)
            else:
                ext.pop()
        if len(ext) < n:
            break
        ref = [ts[j] for j in ext]
    err = max(abs(wv * (poly(coef, t) - gv)) for t, gv, wv in zip(ts, gs, ws))
    return coef, err


def exp_g(r):
    if abs(r) < 1e-3:
        # Series of (eʳ − 1 − r) / r².
        return 1 / 2 + r / 6 + r * r / 24 + r**3 / 120 + r**4 / 720
    return (math.expm1(r) - r) / (r * r)


def tanh_g(s):
    if s < 1e-4:
        # Series of (tanh x − x) / x³ in s = x².
        return -1 / 3 + 2 / 15 * s - 17 / 315 * s * s + 62 / 2835 * s**3
    x = math.sqrt(s)
    return (math.tanh(x) - x) / (s * x)


def tanh_w(s):
    if s == 0:
        return 0.0
    x = math.sqrt(s)
    return s * x / math.tanh(x)


def literal(v):
    """The shortest decimal that rounds to the same f32."""
    v = f32(v)
    for digits in range(6, 12):
        text = f"{v:.{digits}e}"
        if f32(float(text)) == v:
            break
    mant, exp = text.split("e")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}e{int(exp)}"


def main():
    bits = struct.unpack("<I", struct.pack("<f", math.log(2)))[0] & ~0xFFF
    ln2_hi = struct.unpack("<f", struct.pack("<I", bits))[0]
    ln2_lo = f32(math.log(2) - ln2_hi)
    print(f"LN2_HI = {ln2_hi!r} (0x{bits:08x}); LN2_LO = {literal(ln2_lo)}")
    print(f"LOG2_E = {literal(1 / math.log(2))}")

    q, e = remez(exp_g, lambda r: r * r / math.exp(r), -0.35, 0.35, 4)
    print(f"exp: Q = [{', '.join(literal(c) for c in q)}]; relative error {e:.3g}")

    p, e = remez(tanh_g, tanh_w, 1e-9, SMALL * SMALL, 5)
    print(f"tanh (|x| < {SMALL}): P = [{', '.join(literal(c) for c in p)}]; relative error {e:.3g}")


if __name__ == "__main__":
    main()
