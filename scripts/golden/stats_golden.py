#!/usr/bin/env python3
"""Golden values for src/lib/core/stats.ts, computed with scipy (and an independent numpy DeLong).

Writes tests/fixtures/stats-golden.json. Run from the repository root:

    python3 scripts/golden/stats_golden.py

Needs numpy and scipy >= 1.11 (false_discovery_control); generated with the versions recorded in the output.
Non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity" because JSON has no literal for them.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
from decimal import Decimal, localcontext
from fractions import Fraction
import warnings

import numpy as np
import scipy
from scipy import stats

SEED = 20240611
LEVEL = 0.95
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "stats-golden.json"


def enc(x: float) -> float | str:
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def delong_ci(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float]:
    """DeLong (1988) CI by brute force: psi(a_i, b_j) for every pair, O(n1*n2), in row chunks.

    Deliberately unlike the TS implementation (merged pass over sorted samples) so it checks it independently.
    Degenerate conventions mirror stats.ts: n < 2 in a set -> NaN; zero variance -> [auc, auc].
    """
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return math.nan, math.nan
    v10 = np.empty(n1)
    v01 = np.zeros(n2)
    for start in range(0, n1, 256):
        block = a[start : start + 256, None]
        psi = (block > b[None, :]).astype(np.float64) + 0.5 * (block == b[None, :])
        v10[start : start + 256] = psi.mean(axis=1)
        v01 += psi.sum(axis=0)
    v01 /= n1
    auc = v10.mean()
    var = v10.var(ddof=1) / n1 + v01.var(ddof=1) / n2
    if var <= 0:
        return auc, auc
    z = stats.norm.ppf(1 - (1 - level) / 2)
    half = z * math.sqrt(var)
    return max(0.0, auc - half), min(1.0, auc + half)


def welch_exact(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Welch t and df in exact rational arithmetic (t via a 40-digit square root): the reference for t and df.

    scipy's float64 t loses digits when the sets share a large offset; this is what the TS code is held to.
    """
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    fa = [Fraction(float(x)) for x in a]
    fb = [Fraction(float(x)) for x in b]
    ma, mb = sum(fa) / len(fa), sum(fb) / len(fb)
    vn1 = sum((x - ma) ** 2 for x in fa) / (len(fa) - 1) / len(fa)
    vn2 = sum((x - mb) ** 2 for x in fb) / (len(fb) - 1) / len(fb)
    if vn1 + vn2 == 0:
        return math.nan, math.nan
    df = (vn1 + vn2) ** 2 / (vn1**2 / (len(fa) - 1) + vn2**2 / (len(fb) - 1))
    with localcontext() as ctx:
        ctx.prec = 40
        t2 = Decimal(((ma - mb) ** 2).numerator) / Decimal(((ma - mb) ** 2).denominator)
        den = Decimal((vn1 + vn2).numerator) / Decimal((vn1 + vn2).denominator)
        t = (t2 / den).sqrt()
    return float(t) * (1 if ma >= mb else -1), float(df)


def case(name: str, a, b) -> dict:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    mw = stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=True)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # scipy warns about precision loss for the large-offset case; the values are still what it returns.
        warnings.simplefilter("ignore", RuntimeWarning)
        tt = stats.ttest_ind(a, b, equal_var=False)
    lo, hi = delong_ci(a, b, LEVEL)
    t_exact, df_exact = welch_exact(a, b)
    return {
        "name": name,
        "a": [enc(x) for x in a],
        "b": [enc(x) for x in b],
        "auroc": enc(mw.statistic / (len(a) * len(b))),
        "mannWhitneyP": enc(mw.pvalue),
        "welch": {"t": enc(tt.statistic), "df": enc(tt.df), "p": enc(tt.pvalue)},
        "welchExact": {"t": enc(t_exact), "df": enc(df_exact)},
        "ci": {"level": LEVEL, "lo": enc(lo), "hi": enc(hi)},
    }


def main() -> None:
    rng = np.random.default_rng(SEED)
    cases: list[dict] = []
    add = lambda name, a, b: cases.append(case(name, a, b))  # noqa: E731

    # Hand-derivable and degenerate.
    add("perfect-small", [1, 2, 3], [0])
    add("identical-pairs", [1, 2], [1, 2])
    add("all-ties", [5, 5, 5], [5, 5])
    add("constant-sets-apart", [2, 2, 2], [1, 1])
    add("reverse-perfect", [0, 1, 2], [3, 4, 5, 6])
    add("single-a", [1.5], [0, 1, 2, 3])
    add("half-overlap", [1, 2, 3, 4], [3, 4, 5, 6])
    # Integer-valued and heavily tied.
    add("integers-0-4", rng.integers(0, 5, 20), rng.integers(0, 5, 25))
    add("integers-shifted", rng.integers(0, 10, 60), rng.integers(2, 12, 45))
    add("binary", rng.integers(0, 2, 40), rng.integers(0, 2, 30))
    add("rounded-normals", np.round(rng.normal(0.3, 1, 80), 1), np.round(rng.normal(0, 1, 70), 1))
    # Continuous, small to medium.
    add("normals-n5", rng.normal(0.5, 1, 5), rng.normal(0, 1, 6))
    add("normals-n30", rng.normal(0.5, 1, 30), rng.normal(0, 1, 40))
    add("normals-n200-shift0.2", rng.normal(0.2, 1, 200), rng.normal(0, 1, 150))
    add("unequal-variance", rng.normal(0.1, 3, 120), rng.normal(0, 0.5, 90))
    add("welch-tiny-df", rng.normal(1, 5, 2), rng.normal(0, 1, 50))
    add("unbalanced-3-vs-1000", rng.normal(1, 1, 3), rng.normal(0, 1, 1000))
    add("negative-scores", -np.abs(rng.normal(0, 1, 50)), -np.abs(rng.normal(0, 2, 55)))
    add("cosine-like-float32", rng.normal(0.25, 0.02, 300).astype(np.float32), rng.normal(0.245, 0.02, 280).astype(np.float32))
    add("large-offset", 1e6 + rng.normal(0, 1e-3, 40), 1e6 + rng.normal(5e-4, 1e-3, 40))
    same = rng.normal(0, 1, 100)
    add("equal-sets", same, same.copy())
    # Extreme separation: tiny p-values (MW z ~ 17 and ~ 36, Welch p ~ 1e-100 and below).
    add("extreme-n50", rng.normal(10, 1, 50), rng.normal(0, 1, 50))
    add("extreme-perfect-n200", rng.normal(20, 1, 200), rng.normal(0, 1, 200))
    add("extreme-perfect-n900", rng.uniform(2, 3, 900), rng.uniform(0, 1, 900))
    add("strong-overlap-n400", rng.normal(1.5, 1, 400), rng.normal(0, 1, 380))
    add("moderate-shift-n150", rng.normal(0.9, 1, 150), rng.normal(0, 1, 150))
    # Large: the ranker's default cap. Rounded so the fixture stays small (and ties appear).
    add("large-n5000", np.round(rng.normal(0.05, 1, 5000), 4), np.round(rng.normal(0, 1, 5000), 4))
    add("large-n5000-vs-4000-clear", np.round(rng.normal(0.6, 1, 5000), 3), np.round(rng.normal(0, 1, 4000), 3))

    bh_inputs = {
        "uniform-20": rng.uniform(0, 1, 20),
        "small-and-ties": np.array([0.01, 0.01, 0.02, 0.5, 0.04, 0.04, 0.001, 1.0, 0.0, 0.03]),
        "tiny": np.array([1e-300, 1e-200, 1e-12, 0.2, 0.9]),
        "single": np.array([0.3]),
        "case-mw-p": np.array([c["mannWhitneyP"] for c in cases], dtype=np.float64),
    }
    bh = [{"name": k, "p": [enc(x) for x in v], "q": [enc(x) for x in stats.false_discovery_control(v, method="bh")]} for k, v in bh_inputs.items()]

    special = {
        "normalCdf": [
            {"x": x, "value": enc(stats.norm.cdf(x))}
            for x in [-37.5, -30, -20, -10, -8.3, -5, -3, -1.96, -1, -0.7, -0.3, -1e-3, 0, 0.5, 1, 2.5, 6, 9]
        ],
        "normalQuantile": [
            {"p": p, "value": enc(stats.norm.ppf(p))}
            for p in [1e-300, 1e-100, 1e-20, 1e-10, 1e-4, 0.001, 0.01, 0.02425, 0.025, 0.1, 0.3, 0.5, 0.7, 0.975, 0.999, 1 - 1e-10]
        ],
        "studentTSf": [
            {"t": t, "df": df, "value": enc(stats.t.sf(t, df))}
            for df in [1, 2, 2.5, 3, 7.7, 30, 57.3, 1000, 9998, 1e6]
            for t in [-3, -0.5, 0, 0.1, 1, 1.96, 4, 10, 30, 100, 1e4]
        ],
    }

    doc = {
        "generator": "scripts/golden/stats_golden.py",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__},
        "seed": SEED,
        "cases": cases,
        "bh": bh,
        "special": special,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB, {len(cases)} cases)")


if __name__ == "__main__":
    main()
