"""trainer/evaluation/significance.py beside the library alternatives: speed, memory, calibration.

    .venv/bin/python benchmarks/significance_speed.py [--reps 5] [--scipy-max-n 20]
        [--heavy] [--calibration] [--sims 2000] [--json-out FILE]

a. exact sign-flip p at n = 10, 15, 20 independent items: this module's meet-in-the-middle
   count (p alone, and `paired_test`, which adds the inverted-test interval), a doubling
   enumeration of all 2**n signed sums (the textbook hand-written way), and
   scipy.stats.permutation_test (permutation_type "samples", every pattern), up to
   --scipy-max-n (n = 20 takes about a minute and over 1 GB). Fastest of --reps, and the
   tracemalloc peak; the p-values must agree.
b. cluster bootstrap at G = 21, 50, 200 sources of 3 items, 10,000 resamples: `paired_test`
   with its resampling-count cache cleared (cold) and filled (warm, as for a second metric of
   the same leaf), and scipy.stats.bootstrap on the sources' sums and sizes as paired samples
   (which resamples sources), percentile and BCa. scipy gives intervals only, no p-value.
c. a report: 50 leaves x 3 metrics (20 leaves of 20 items, 15 of 40 items from 10 sources,
   15 of 60 items from 30 sources), every `paired_test` cold, then `decide` per metric.
   Target: under 1 s.
d. Holm: statsmodels' multipletests as is (it calls gc.collect()) and through the module's
   `_holm` (collector frozen), on 50 p-values; --heavy imports torch and transformers first,
   as a benchmark process has.
e. --calibration: null rejection rate at 5% and 95% coverage of 0 at G = 21 independent
   items (normal, t3) and 21 sources of 3 Laplace items with a shared source effect
   (sd 1), --sims each, 1,999 resamples: scipy.stats.bootstrap's percentile interval (reject
   when 0 is outside) beside this module's bootstrap-t.

Ends with PASS/FAIL lines; exit 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np

from trainer.evaluation import significance as sig
from trainer.evaluation.metrics import Better


def seq(a: np.ndarray) -> Sequence[float]:
    """An array as the sequence paired_test reads (it indexes and sums, nothing else)."""
    return cast("Sequence[float]", a)


def module_test_p(d: np.ndarray) -> Any:
    return sig.paired_test("x", seq(0 * d), seq(d)).p


def module_test_ci(d: np.ndarray, labels: list[int]) -> Any:
    return sig.paired_test("x", seq(0 * d), seq(d), labels).ci


def measure(fn: Callable[[], Any], reps: int) -> tuple[float, float, Any]:
    """(fastest seconds of reps, tracemalloc peak MB of one more call, its result)."""
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return best, peak, result


def doubling_p(d: np.ndarray) -> float:
    signed = np.zeros(1)
    for x in d:
        signed = np.concatenate([signed + x, signed - x])
    observed = abs(d.sum())
    return float(np.count_nonzero(np.abs(signed) >= observed * (1 - 1e-12))) / len(signed)


def module_p(d: np.ndarray) -> float:
    sizes = np.ones_like(d)
    up, down = sig._SubsetCounter(d, sizes, 0.0), sig._SubsetCounter(-d, sizes, 0.0)
    return min(1.0, 2 * min(up.count(0.0), down.count(0.0)) / 2.0 ** len(d))


def scipy_p(d: np.ndarray) -> float:
    from scipy import stats

    res = stats.permutation_test(
        (d,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
        n_resamples=np.inf, vectorized=True,
    )  # fmt: skip
    return float(res.pvalue)


def part_exact(reps: int, scipy_max_n: int) -> list[dict[str, Any]]:
    rows = []
    rng = np.random.default_rng(1)
    for n in (10, 15, 20):
        d = rng.normal(0.3, 1, n)
        ways: dict[str, Callable[[], Any]] = {
            "module p (meet-in-the-middle)": partial(module_p, d),
            "module paired_test (p + interval)": partial(module_test_p, d),
            "doubling enumeration": partial(doubling_p, d),
        }
        if n <= scipy_max_n:
            ways["scipy permutation_test"] = partial(scipy_p, d)
        for name, fn in ways.items():
            sec, mb, p = measure(fn, 1 if "scipy" in name else reps)
            rows.append({"n": n, "way": name, "ms": sec * 1e3, "peak_mb": mb, "p": p})
            print(f"  n={n:<3} {name:<36} {sec * 1e3:10.2f} ms {mb:9.2f} MB  p={p:.6f}")
    return rows


def sources(g: int, per: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    d = np.repeat(rng.normal(0, 1, g), per) + rng.laplace(0, 1, g * per) + 0.2
    return d, [i // per for i in range(g * per)]


def part_bootstrap(reps: int) -> list[dict[str, Any]]:
    from scipy import stats

    rows = []
    rng = np.random.default_rng(2)
    for g in (21, 50, 200):
        d, labels = sources(g, 3, rng)
        sums = np.bincount(labels, weights=d)
        sizes = np.bincount(labels).astype(float)

        def cold(d: np.ndarray = d, labels: list[int] = labels) -> Any:
            sig._resample_counts.cache_clear()
            return module_test_ci(d, labels)

        def library(method: str, s: np.ndarray = sums, n: np.ndarray = sizes) -> Any:
            return stats.bootstrap(
                (s, n), lambda a, b, axis: a.sum(axis) / b.sum(axis), paired=True,
                vectorized=True, n_resamples=10_000, method=method,
                rng=np.random.default_rng(0),
            ).confidence_interval  # fmt: skip

        ways: dict[str, Callable[[], Any]] = {
            "module bootstrap-t, cold": cold,
            "module bootstrap-t, warm": partial(module_test_ci, d, labels),
            "scipy bootstrap percentile": partial(library, "percentile"),
            "scipy bootstrap BCa": partial(library, "BCa"),
        }
        for name, fn in ways.items():
            sec, mb, ci = measure(fn, reps)
            lo, hi = (float(x) for x in ci)
            rows.append({"G": g, "way": name, "ms": sec * 1e3, "peak_mb": mb, "ci": [lo, hi]})
            print(f"  G={g:<4} {name:<30} {sec * 1e3:9.2f} ms {mb:8.2f} MB  [{lo:+.3f}, {hi:+.3f}]")
    return rows


def part_report(reps: int) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    shapes = [(20, 1)] * 20 + [(10, 4)] * 15 + [(30, 2)] * 15  # (sources, items per source)
    leaves = [sources(g, per, rng) for g, per in shapes]
    better: dict[str, Better] = {"nll": "lower", "mc_acc": "higher", "rouge_l": "higher"}

    def report() -> int:
        sig._resample_counts.cache_clear()
        decisions = 0
        for metric in better:
            tests = [sig.paired_test(metric, seq(0 * d), seq(d), labels) for d, labels in leaves]
            decisions += len(sig.decide(tests, better))
        return decisions

    sec, mb, count = measure(report, reps)
    print(f"  {count} tests and 3 decide calls: {sec:.3f} s, peak {mb:.1f} MB")
    return {"seconds": sec, "peak_mb": mb, "tests": count}


def part_holm(reps: int) -> dict[str, Any]:
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(4).random(50)
    raw, _, _ = measure(lambda: multipletests(p, alpha=0.05, method="holm"), reps)
    frozen, _, _ = measure(lambda: sig._holm(list(p), 0.05), reps)
    print(f"  multipletests as is: {raw * 1e3:.2f} ms; through _holm: {frozen * 1e3:.2f} ms")
    return {"multipletests_ms": raw * 1e3, "holm_ms": frozen * 1e3}


def part_calibration(sims: int) -> dict[str, Any]:
    from scipy import stats

    draws: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, list[int]]]] = {
        "21 normal items": lambda r: (r.normal(0, 1, 21), list(range(21))),
        "21 t3 items": lambda r: (r.standard_t(3, 21), list(range(21))),
        "21 sources x 3 Laplace items": lambda r: sources(21, 3, r),
    }
    out = {}
    for name, draw in draws.items():
        rng = np.random.default_rng(5)
        pct = t_rej = t_cover = 0
        for i in range(sims):
            d, labels = draw(rng)
            d = d - (0.2 if "sources" in name else 0.0)  # sources() adds 0.2: back to the null
            s, n = np.bincount(labels, weights=d), np.bincount(labels).astype(float)
            ci = stats.bootstrap(
                (s, n), lambda a, b, axis: a.sum(axis) / b.sum(axis), paired=True,
                vectorized=True, n_resamples=1999, method="percentile",
                rng=np.random.default_rng(i),
            ).confidence_interval  # fmt: skip
            pct += not ci.low <= 0 <= ci.high
            t = sig.paired_test("x", seq(0 * d), seq(d), labels, resamples=1999, seed=i % 8)
            t_rej += t.p is not None and t.p <= 0.05
            t_cover += t.ci is not None and t.ci[0] <= 0 <= t.ci[1]
        row = {"percentile": pct / sims, "bootstrap_t": t_rej / sims, "t_cover": t_cover / sims}
        out[name] = row
        print(
            f"  {name:<30} rejects at 5%: percentile {row['percentile']:.3f}, "
            f"bootstrap-t {row['bootstrap_t']:.3f}; coverage: percentile "
            f"{1 - row['percentile']:.3f}, bootstrap-t {row['t_cover']:.3f}"
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scipy-max-n", type=int, default=20)
    ap.add_argument("--heavy", action="store_true", help="import torch and transformers first")
    ap.add_argument("--calibration", action="store_true")
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    if args.heavy:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} ({os.cpu_count()} CPUs)")
    doc: dict[str, Any] = {"load_start": load}
    print("a. exact sign-flip p")
    doc["exact"] = part_exact(args.reps, args.scipy_max_n)
    print("b. cluster bootstrap (10,000 resamples)")
    doc["bootstrap"] = part_bootstrap(args.reps)
    print("c. a report: 50 leaves x 3 metrics")
    doc["report"] = part_report(args.reps)
    print(f"d. Holm on 50 p-values{' (torch and transformers loaded)' if args.heavy else ''}")
    doc["holm"] = part_holm(args.reps)
    if args.calibration:
        print(f"e. calibration at G = 21, {args.sims} null simulations each")
        doc["calibration"] = part_calibration(args.sims)
    doc["load_end"] = os.getloadavg()
    print(f"load average at end: {doc['load_end'][0]:.2f}")
    agree = all(
        abs(r["p"] - next(x["p"] for x in doc["exact"] if x["n"] == r["n"])) < 1e-12
        for r in doc["exact"]
    )
    checks = {
        "exact p-values agree across the ways": agree,
        "a 50-leaf x 3-metric report in under 1 s": doc["report"]["seconds"] < 1.0,
    }
    if args.calibration:
        checks["bootstrap-t rejects at most 6.5% of nulls (2,000 sims: 5% + 3 sd)"] = all(
            row["bootstrap_t"] <= 0.065 for row in doc["calibration"].values()
        )
    for label, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}: {label}")
    if args.json_out:
        args.json_out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
