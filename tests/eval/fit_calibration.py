"""Fit the score calibration of haven-matching (see crates/matching/SCORING.md).

Input: dumps written by the population example with `--dump FILE`, one line per
top-ten candidate: evidence sum (log2, without the prior), log2 of the registry
size, true match 0/1, rank. Fits

    P(match) = 1 / (1 + 2^-(scale * evidence + prior + size_slope * log2(N / 5000)))

by maximum likelihood (Newton's method) and prints the three numbers.

Usage: python tests/eval/fit_calibration.py DUMP [DUMP ...]   (needs numpy)
"""

import sys

import numpy as np

REFERENCE = np.log2(5000.0)


def main(paths):
    rows = np.vstack([np.loadtxt(p, ndmin=2) for p in paths])
    evidence, size, label = rows[:, 0], rows[:, 1], rows[:, 2]
    x = np.column_stack(
        [evidence, np.ones_like(evidence), np.maximum(size - REFERENCE, 0.0)]
    ) * np.log(2.0)
    w = np.array([1.0, -12.5, -1.0])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (label - p)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(3)
        step = np.linalg.solve(hessian, gradient)
        w += step
        if np.abs(step).max() < 1e-9:
            break
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    loss = -np.mean(label * np.log(p + 1e-12) + (1 - label) * np.log(1 - p + 1e-12))
    print(f"rows {len(label)}, matches {int(label.sum())}, log loss {loss:.4f}")
    print(f"scale {w[0]:.3f} prior {w[1]:.2f} size_slope {w[2]:.3f}")
    for lo, hi in [(0, 0.05), (0.05, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.01)]:
        sel = (p >= lo) & (p < hi)
        if sel.any():
            print(f"  p in [{lo:.2f}, {hi:.2f}): {sel.sum():6d} pairs, observed {label[sel].mean():.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
