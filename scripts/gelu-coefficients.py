#!/usr/bin/env python3
"""The coefficients of native/core/gelu/gelu_simd.inc, fitted here (numpy + mpmath).

  erf(x/sqrt 2) = x N(x^2) / D(x^2), D(0) = 1    x in [0, 5.6], degrees 6 / 4 in x^2
      A linearized weighted least-squares fit (x N - erf D = 0, weights 1/D of the previous pass) on Chebyshev
      nodes, in u = (x / 5.6)^2 for conditioning, then Lawson reweighting toward the minimax error; the
      coefficients are converted to x^2 and rounded to float32. The kernel clamps x to 5.8, where the rational
      exceeds 1 by about 1e-6, and the result to [-1, 1].
  E(f) = (exp(f) - 1 - f) / f^2                 f in [-ln2/2, ln2/2], degree 4 (the tanh form's exp)
      A least-squares fit on Chebyshev nodes, coefficients rounded to float32 from the highest degree down, the
      lower ones refitted after each rounding.
Prints C hex floats and the largest error of the float32 coefficients evaluated in double on a fine grid.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40


def nodes(a, b, n=3000):
    k = np.arange(n)
    return np.cos(np.pi * (k + 0.5) / n) * (b - a) / 2 + (a + b) / 2


def hexf(v):
    return float.hex(float(np.float32(v))).replace('0000000p', 'p').replace('00000p', 'p') + 'f'


def fit_erf_rational(end=5.6, p=6, q=4, passes=200):
    xs = nodes(0.0, end)
    fs = np.array([float(mp.erf(mp.mpf(x) / mp.sqrt(2))) for x in xs])
    u = (xs / end) ** 2
    d_prev, lawson = np.ones_like(xs), np.ones_like(xs)
    for it in range(passes):
        cols = [xs * u**j for j in range(p + 1)] + [-fs * u**j for j in range(1, q + 1)]
        w = np.sqrt(lawson) / d_prev
        sol, *_ = np.linalg.lstsq(np.stack(cols, 1) * w[:, None], fs * w, rcond=None)
        num, den = sol[: p + 1], np.concatenate([[1.0], sol[p + 1 :]])
        d_prev = np.polyval(den[::-1], u)
        err = xs * np.polyval(num[::-1], u) / d_prev - fs
        if it >= 20:
            lawson = lawson * np.abs(err)
            lawson /= lawson.sum()
    n = [np.float32(num[j] / end ** (2 * j)) for j in range(p + 1)]
    d = [np.float32(den[j] / end ** (2 * j)) for j in range(q + 1)]
    grid = np.linspace(0.0, end, 20001)
    ref = np.array([float(mp.erf(mp.mpf(x) / mp.sqrt(2))) for x in grid])
    s = grid * grid
    got = grid * np.polyval(np.array(n, np.float64)[::-1], s) / np.polyval(np.array(d, np.float64)[::-1], s)
    return n, d, float(np.max(np.abs(got - ref)))


def fit_poly(f, a, b, deg):
    xs = nodes(a, b)
    ys = np.array([float(f(mp.mpf(x))) for x in xs])
    c = [None] * (deg + 1)
    for k in range(deg, -1, -1):
        fixed = sum(c[j] * xs**j for j in range(k + 1, deg + 1))
        A = np.stack([xs**j for j in range(k + 1)], 1)
        sol, *_ = np.linalg.lstsq(A, ys - fixed, rcond=None)
        c[k] = float(np.float32(sol[k]))
    grid = np.linspace(a, b, 40001)
    ref = np.array([float(f(mp.mpf(x))) for x in grid])
    got = np.polyval(np.array(c)[::-1], grid)
    return c, float(np.max(np.abs(got - ref)))


n, d, err = fit_erf_rational()
print(f'kN, kD (max error {err:.3g}):')
print('  kN:', ', '.join(hexf(v) for v in n))
print('  kD:', ', '.join(hexf(v) for v in d))
L2 = float(mp.log(2)) / 2
E = lambda f: (mp.exp(f) - 1 - f) / (f * f) if f != 0 else mp.mpf(0.5)
c, err = fit_poly(E, -L2, L2, 4)
print(f'kE (max error {err:.3g}):', ', '.join(hexf(v) for v in c))
