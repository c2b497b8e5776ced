"""Fit the decision rules of haven-matching on ranked lists (see SCORING.md).

Input: files written by the population example with `--lists FILE` (tuning
seed only; never the held-out seed):

* `T matchable score:label:w1,...,w10, ...` per sought child, best first,
  after sibling assignment, with the candidate's evidence weight per field
  (given, family, chain, other names, sex, birth, age, place, parent,
  sibling);
* `D i j score label sibling w1,...,w10,` per duplicate-check candidate.

Prints

1. the ranked `likely` rule of `Thresholds::bands_for`: the best candidate is
   `likely` when `log2odds(score) + share * min(margin, cap) >=
   log2odds(likely) + lead`, where margin is its log2-odds lead over the
   second; later candidates are `likely` only then, and from `later` up. Grid search for the highest
   `likely` recall with precision >= 0.955 and false `likely` <= 1.7 % on
   every file (a little inside the targets, for the held-out seed);
2. the field multipliers and intercept of `duplicate_probability`: logistic
   regression (Newton's method) of the true-duplicate label on the
   per-field evidence, split into its agreeing and disagreeing part, of
   every pair scoring at least 0.01; the intercept is then moved so that
   the threshold with the best F1 falls on 0.50.

Usage: python tests/eval/fit_bands.py LISTS [LISTS ...]   (needs numpy)
"""

import math
import sys

import numpy as np

FIELDS = ["given", "family", "chain", "other", "sex", "birth", "age", "place", "parent", "sibling"]


def log2_odds(p):
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))


def load(path):
    tracing, pairs = [], {}
    for line in open(path):
        f = line.split()
        if f[0] == "T":
            cands = []
            for item in f[2:]:
                s, label, _ = item.split(":")
                cands.append((float(s), int(label)))
            tracing.append((int(f[1]), cands))
        elif f[0] == "D":
            i, j, s, label, sib = int(f[1]), int(f[2]), float(f[3]), int(f[4]), int(f[5])
            w = [float(v) for v in f[6].strip(",").split(",")]
            key = (min(i, j), max(i, j))
            if key not in pairs or pairs[key][0] < s:
                pairs[key] = (s, label, sib, w)
    return tracing, pairs


def ranked_likely(cands, share, cap, lead, later, likely=0.8):
    """The candidates `Thresholds::bands_for` calls `likely`."""
    if not cands:
        return set()
    s1 = cands[0][0]
    s2 = cands[1][0] if len(cands) > 1 else 0.0
    margin = log2_odds(s1) - log2_odds(s2)
    if log2_odds(s1) + share * min(margin, cap) < log2_odds(likely) + lead:
        return set()
    return {0} | {i for i, (s, _) in enumerate(cands) if i > 0 and s >= later}


def tracing_figures(tracing, rule):
    predicted = hits = true_pairs = unmatched = false_likely = 0
    for matchable, cands in tracing:
        chosen = rule(cands)
        predicted += len(chosen)
        hits += sum(cands[i][1] for i in chosen)
        if matchable:
            true_pairs += max(1, sum(label for _, label in cands))
        else:
            unmatched += 1
            false_likely += bool(chosen)
    return hits / max(predicted, 1), hits / max(true_pairs, 1), false_likely / max(unmatched, 1)


def ranked_arrays(tracing):
    """Per sought child: log2 odds of the best, its lead, whether it is
    true, true later candidates from 0.80 / 0.90 up, all later ones from
    0.80 / 0.90 up, matchable, true pairs."""
    rows = []
    for matchable, cands in tracing:
        if cands:
            s1 = cands[0][0]
            s2 = cands[1][0] if len(cands) > 1 else 0.0
            later = cands[1:]
            rows.append([
                log2_odds(s1), log2_odds(s1) - log2_odds(s2), cands[0][1],
                sum(l for s, l in later if s >= 0.8), sum(l for s, l in later if s >= 0.9),
                sum(1 for s, _ in later if s >= 0.8), sum(1 for s, _ in later if s >= 0.9),
                matchable, max(1, sum(l for _, l in cands)) if matchable else 0,
            ])
        else:
            rows.append([-99.0, 0.0, 0, 0, 0, 0, 0, matchable, 1 if matchable else 0])
    return np.array(rows, dtype=float)


def ranked_figures(a, share, cap, lead, later, likely=0.8):
    commit = a[:, 0] + share * np.minimum(a[:, 1], cap) >= log2_odds(likely) + lead
    k = 0 if later < 0.85 else 1
    hits = (commit * (a[:, 2] + a[:, 3 + k])).sum()
    predicted = (commit * (1 + a[:, 5 + k])).sum()
    unmatched = a[:, 7] == 0
    return (hits / max(predicted, 1), hits / max(a[:, 8].sum(), 1),
            commit[unmatched].mean() if unmatched.any() else 0.0)


def fit_ranked(files):
    arrays = [ranked_arrays(t) for t, _ in files]
    best = None
    for share in [0.0, 0.25, 0.5, 0.75, 1.0]:
        for cap in [4.0, 6.0, 8.0]:
            for lead in np.arange(-2.0, 5.01, 0.25):
                for later in [0.8, 0.9]:
                    figures = [ranked_figures(a, share, cap, lead, later) for a in arrays]
                    if all(p >= 0.955 and f <= 0.017 for p, _, f in figures):
                        recall = min(r for _, r, _ in figures)
                        if best is None or recall > best[0]:
                            best = (recall, share, cap, lead, later, figures)
    print("ranked likely: share {1} cap {2} lead {3} later {4}".format(*best))
    for figures in best[5]:
        print("  precision {:.3f} recall {:.3f} false likely {:.3f}".format(*figures))
    plain = [tracing_figures(t, lambda c: {i for i, (s, _) in enumerate(c) if s >= 0.8}) for t, _ in files]
    for figures in plain:
        print("  (score >= 0.80 alone: precision {:.3f} recall {:.3f} false likely {:.3f})".format(*figures))


def signed(w):
    """Per-field evidence split into its agreeing and disagreeing part."""
    w = w[:9]
    return [max(v, 0.0) for v in w] + [min(v, 0.0) for v in w]


def fit_duplicates(files, true_counts):
    rows, labels = [], []
    for (_, pairs) in files:
        for s, label, _, w in pairs.values():
            if s >= 0.01:
                rows.append(signed(w))
                labels.append(label)
    x = np.column_stack([np.array(rows), np.ones(len(rows))]) * np.log(2.0)
    y = np.array(labels, dtype=float)
    coef = np.ones(x.shape[1])
    coef[-1] = -8.0
    for _ in range(200):
        z = np.clip(x @ coef, -60, 60)
        p = 1.0 / (1.0 + np.exp(-z))
        gradient = x.T @ (y - p) - 1e-3 * coef
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-3 * np.eye(len(coef))
        step = np.linalg.solve(hessian, gradient)
        step *= min(1.0, 2.0 / max(np.abs(step).max(), 1e-12))
        coef += step
        if np.abs(step).max() < 1e-9:
            break
    best = None
    for threshold in [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6]:
        line, f1s = [], []
        for (_, pairs), total in zip(files, true_counts):
            tp = fp = sib = 0
            for s, label, sibling, w in pairs.values():
                z = min(max(float(np.dot(coef[:-1], signed(w)) + coef[-1]), -60.0), 60.0)
                if s >= 0.01 and 1.0 / (1.0 + 2.0 ** -z) >= threshold:
                    tp += label
                    fp += 1 - label
                    sib += sibling * (1 - label)
            precision = tp / max(tp + fp, 1)
            recall = tp / max(total, 1)
            f1 = 2 * precision * recall / max(precision + recall, 1e-9)
            f1s.append(f1)
            line.append(f"P {precision:.3f} R {recall:.3f} F1 {f1:.3f} siblings {sib / max(fp, 1):.2f}")
        print(f"  threshold {threshold}: " + " | ".join(line))
        if best is None or min(f1s) > best[0]:
            best = (min(f1s), threshold)
    # The intercept is moved so that the best threshold falls on 0.50, the
    # `likely` of `Thresholds::duplicate()`.
    shift = -log2_odds(best[1])
    print("duplicate agree multipliers: " + ", ".join(f"{c:.3f}" for c in coef[:9]))
    print("duplicate disagree multipliers: " + ", ".join(f"{c:.3f}" for c in coef[9:18]))
    print(f"duplicate intercept (log2), best threshold {best[1]} moved to 0.50: {coef[-1] + shift:.3f}")


def main(paths):
    files = [load(p) for p in paths]
    fit_ranked([f for f in files if f[0]])
    with_pairs = [f for f in files if f[1]]
    if with_pairs:
        # True pairs that never reached a candidate list still count as missed.
        counts = [sum(label for _, label, _, _ in f[1].values()) for f in with_pairs]
        fit_duplicates(with_pairs, counts)


if __name__ == "__main__":
    main(sys.argv[1:])
