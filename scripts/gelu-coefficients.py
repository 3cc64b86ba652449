#!/usr/bin/env python3
"""The polynomial coefficients of native/core/gelu/gelu_simd.inc, fitted here (numpy + mpmath).

Each polynomial is a least-squares fit on Chebyshev nodes of its interval, its coefficients rounded to float32 one at
a time from the highest degree down, the lower ones refitted after each rounding. Prints them as C hex floats with the
largest absolute error of the rounded polynomial on a fine grid.
  P(s) = erf(sqrt s) / sqrt s - 1           s in [0, 0.875^2]          (erf(z) = z + z P(z^2))
  G(u) = log(erfc(t)) + t^2, t = u + 2.4375  t in [0.875, 4]            (erfc(t) = exp(G(t - 2.4375) - t^2))
  E(f) = (exp(f) - 1 - f) / f^2             f in [-ln2/2, ln2/2]       (exp(f) = 1 + f + f^2 E(f))
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40


def nodes(a, b, n=3000):
    k = np.arange(n)
    return np.cos(np.pi * (k + 0.5) / n) * (b - a) / 2 + (a + b) / 2


def horner(c, x):
    r = np.zeros_like(x)
    for ci in c[::-1]:
        r = r * x + ci
    return r


def fit(f, a, b, deg):
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
    return c, float(np.max(np.abs(horner(np.array(c), grid) - ref)))


small, big, mid = 0.875, 4.0, 2.4375
P = lambda s: (mp.erf(mp.sqrt(s)) / mp.sqrt(s) - 1) if s > 0 else 2 / mp.sqrt(mp.pi) - 1
G = lambda u: mp.log(mp.erfc(u + mid)) + (u + mid) ** 2
L2 = float(mp.log(2)) / 2
E = lambda f: (mp.exp(f) - 1 - f) / (f * f) if f != 0 else mp.mpf(0.5)
for name, f, a, b, deg in [('kP', P, 0.0, small * small, 6), ('kG', G, small - mid, big - mid, 8), ('kE', E, -L2, L2, 4)]:
    c, err = fit(f, a, b, deg)
    print(f'{name} (max error {err:.3g}):', ', '.join(float.hex(x).replace('0000000p', 'p').replace('00000p', 'p') + 'f' for x in c))
