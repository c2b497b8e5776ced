"""Fit the ranked `likely` decision of haven-matching (`LIKELY` in
src/decide.rs; SCORING.md, "Decisions on ranked lists", round 3).

Input: files written by the population example with `--lists FILE` on the
tuning seed (never the held-out one). Lines used:

* `T true_records score:label:w1,...,w10, ...`: a sought child's ranked list
  after sibling assignment, with each candidate's evidence per field (given,
  family, chain, other names, sex, birth, age, place, parent, sibling);
* `G p1 p2 ...`: for each later candidate, `Index::same_child` of it and the
  first (the probability that both records are one child).

Fits by logistic regression (Newton's method, a little ridge) whether the
first candidate is the child, on: its log2-odds score, its lead over the best
rival (capped at 10 bits; a rival is a candidate among the next four that is
not the same child at 0.7, or any later one), and the agreeing and the
disagreeing part of its evidence per field. Then chooses the lowest
threshold with precision >= 0.955 and false `likely` <= 1.7 % on every file,
as `Index::bands_for` decides: a first candidate under 0.20 never committed;
one with no parent or place evidence committed also by round 2's rule
(log2odds(s1) + min(lead, 8) >= log2odds(0.80) + 4.75); later candidates
`likely` only when the same child, from 0.05. Prints the weights
and the figures per file, and a two-fold check (fit on half of each file,
measured on the other half).

Usage: python fit_likely.py LISTS [LISTS ...]   (needs numpy)
"""

import math
import random
import sys

import numpy as np

SAME = 0.7
LOOKAHEAD = 4
CAP = 10.0
SAME_FLOOR = 0.05
POSSIBLE = 0.20
FAR_AHEAD_MARGIN = 4.75


def log2_odds(p):
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))


def load(path):
    lists = []
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "T":
            cands = []
            for item in f[2:]:
                s, label, w = item.split(":")
                cands.append((float(s), int(label), [float(v) for v in w.strip(",").split(",")]))
            lists.append([int(f[1]), cands, []])
        elif f[0] == "G" and lists:
            lists[-1][2] = [float(v) for v in f[1:]]
    return lists


def same_child(same, k):
    return 1 <= k <= LOOKAHEAD and k - 1 < len(same) and same[k - 1] >= SAME


def features(cands, same):
    rival = next((k for k in range(1, len(cands)) if not same_child(same, k)), None)
    s1 = cands[0][0]
    s2 = cands[rival][0] if rival is not None else 0.0
    w = cands[0][2]
    lead = min(log2_odds(s1) - log2_odds(s2), CAP)
    return [1.0, log2_odds(s1), lead] + [max(x, 0.0) for x in w] + [min(x, 0.0) for x in w]


def prepare(lists):
    """Per list: (true records, features or None, first is true, committed count, committed true)."""
    out = []
    for n, cands, same in lists:
        if not cands:
            out.append((n, None, 0, 0, 0, 0.0))
            continue
        later = [
            k
            for k in range(1, len(cands))
            if same_child(same, k) and cands[k][0] >= SAME_FLOOR
        ]
        hits = cands[0][1] + sum(cands[k][1] for k in later)
        out.append((n, np.array(features(cands, same)), cands[0][1], 1 + len(later), hits, cands[0][0]))
    return out


def fit(rows, ridge=1.0, steps=30):
    X = np.array([r[1] for r in rows if r[1] is not None])
    y = np.array([r[2] for r in rows if r[1] is not None], dtype=float)
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(X @ w)))
        grad = X.T @ (p - y) + ridge * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + ridge * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def lead_rule(f, s1):
    """Round 2's rule on the same lead: log2odds(s1) + min(lead, 8) >= log2odds(0.80) + 4.75."""
    return f[1] + min(f[2], 8.0) >= log2_odds(0.80) + FAR_AHEAD_MARGIN


def no_household(f):
    """The first candidate has neither place nor parent evidence."""
    return f[3 + 7] == 0 and f[3 + 8] == 0 and f[13 + 7] == 0 and f[13 + 8] == 0


def figures(rows, w, threshold):
    predicted = hits = true_pairs = unmatched = false_likely = 0
    for n, f, _, count, hit, s1 in rows:
        true_pairs += n
        unmatched += n == 0
        if f is None or s1 < POSSIBLE:
            continue
        if f @ w < threshold and not (no_household(f) and lead_rule(f, s1)):
            continue
        predicted += count
        hits += hit
        false_likely += n == 0
    return hits / max(predicted, 1), hits / max(true_pairs, 1), false_likely / max(unmatched, 1)


def choose(files, w):
    for threshold in [x / 8 for x in range(-16, 80)]:
        if all(
            figures(rows, w, threshold)[0] >= 0.955 and figures(rows, w, threshold)[2] <= 0.017
            for rows in files
        ):
            return threshold
    return None


def show(files, w, threshold):
    return ", ".join("P %.3f R %.3f FL %.3f" % figures(rows, w, threshold) for rows in files)


def main(paths):
    data = [load(p) for p in paths]
    random.seed(0)
    halves = []
    for lists in data:
        order = list(range(len(lists)))
        random.shuffle(order)
        half = len(order) // 2
        halves.append(([lists[i] for i in order[:half]], [lists[i] for i in order[half:]]))
    for a, b in [(0, 1), (1, 0)]:
        train = [prepare(h[a]) for h in halves]
        test = [prepare(h[b]) for h in halves]
        w = fit([r for rows in train for r in rows])
        threshold = choose(train, w)
        print("two-fold: threshold", threshold, "| fit half:", show(train, w, threshold), "| other half:", show(test, w, threshold))
    files = [prepare(lists) for lists in data]
    w = fit([r for rows in files for r in rows])
    threshold = choose(files, w)
    print("all: threshold", threshold, "|", show(files, w, threshold))
    names = ["given", "family", "chain", "other", "sex", "birth", "age", "place", "parent", "sibling"]
    print("intercept %.4f score %.4f lead %.4f" % tuple(w[:3]))
    print("agree   ", ", ".join("%s %.4f" % (n, v) for n, v in zip(names, w[3:13])))
    print("disagree", ", ".join("%s %.4f" % (n, v) for n, v in zip(names, w[13:23])))


if __name__ == "__main__":
    main(sys.argv[1:])
