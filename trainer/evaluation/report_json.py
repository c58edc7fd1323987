"""report.json: the machine-readable result (schema in docs/benchmark.md).

report.md and deltas.png are rendered from this document alone, so either can be
re-rendered from a stored report.json.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict
from typing import Any

from trainer.evaluation.benchmark import BenchResult
from trainer.evaluation.compare import PLACEBO, PRIMARY, GroupResult, item_metrics
from trainer.evaluation.heldout import HELDOUT_VERSION
from trainer.evaluation.metrics import METRICS
from trainer.evaluation.run import SCORER_VERSION, ModelRun
from trainer.evaluation.significance import Decision, PairedTest
from trainer.evaluation.suites import GENERAL_SET, REGRESSION_LEAVES, REGRESSION_SAMPLE

SCHEMA = "taxonomy-bot/benchmark-report/v2"
EXIT_OK, EXIT_REGRESSION = 0, 3
VERDICTS = ("regressed", "improved", "no significant change", "too few items")
DESCRIPTIONS = {
    "nll": "primary: mean negative log-likelihood per token of the reference answer (nats)",
    "nll_vs_placebo": "knowledge beyond form: the reference answer's nll change minus its "
    "placebo twin's (a fact in no document)",
    "mc_acc": "descriptive: multiple choice in cloze form, reference vs 3 other answers",
    "doc_mc_acc": "memorization: multiple choice on sentences of the leaf's own documents",
    "rouge_l": "descriptive: ROUGE-L F1 of the greedy answer against the reference",
    "exact": "descriptive: the greedy answer has exactly the reference's words",
    "judge": "descriptive: the judge model's rating, 1-10",
}


def _test(t: PairedTest) -> dict[str, Any]:
    return {
        "metric": t.metric,
        "better": METRICS.get(t.metric, "lower"),
        "n": t.n,
        "clusters": t.clusters,
        "reference": t.base,
        "candidate": t.candidate,
        "delta": t.delta,
        "ci": list(t.ci) if t.ci else None,
        "p": t.p,
        "method": t.method,
    }


def _decision(d: Decision | None, band: tuple[float, float] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        **_test(d.test),
        "p_adjusted": d.p_adjusted,
        "verdict": d.verdict,
        "reason": d.reason,
        "noise_band": list(band) if band else None,
    }


def _group(g: GroupResult, result: BenchResult, level: str) -> dict[str, Any]:
    noise = result.config.stats.noise
    return {
        "suite": g.suite,
        "path": g.name,
        "kind": g.kind,
        "items": g.origins,
        "verdict": g.verdict if g.suite in ("branch", "regression") else None,
        "primary": _decision(g.primary, noise.get(f"{level}:{PRIMARY}")),
        "placebo": _decision(g.placebo, noise.get(f"{level}:{PLACEBO}")),
        "vs_base": _test(g.vs_base) if g.vs_base else None,
        "descriptive": [_test(t) for t in g.descriptive],
    }


def _model(run: ModelRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "spec": run.spec,
        "fingerprint": run.fingerprint,
        "items_scored": run.scored,
        "items_cached": run.cached,
        "seconds": round(run.seconds, 3),
    }


def exit_code(result: BenchResult) -> int:
    return EXIT_REGRESSION if result.comparison.failures else EXIT_OK


def _items(result: BenchResult) -> list[dict[str, Any]]:
    """Every item with its provenance and what each model scored (and answered)."""
    judged = result.judge.ratings if result.judge else {}
    models = {"base": result.base, "previous": result.previous, "candidate": result.candidate}
    rows = []
    for item in result.plan.items:
        row: dict[str, Any] = {
            "id": item.id,
            "suite": item.suite,
            "group": item.group,
            "origin": item.origin,
            "source": item.source,
            "question": item.question,
            "prompt": item.prompt,
            "answer": item.answer,
        }
        if item.placebo is not None:
            row["placebo"] = item.placebo
        if item.has_mc:
            row["options"], row["correct"] = list(item.options), item.correct
        for role, run in models.items():
            if run is None:
                continue
            scores = run.scores[item.id]
            row[role] = item_metrics(item, scores)
            if scores.generation is not None:
                row[role]["answer"] = scores.generation
        if item.id in judged:
            row["judge"] = [r.value for r in judged[item.id]]
        rows.append(row)
    return rows


def _judge(result: BenchResult) -> dict[str, Any] | None:
    """The judge (descriptive) and how often its replies could not be read."""
    if not result.judge:
        return None
    pairs = list(result.judge.ratings.values())
    fails = {
        "reference": sum(r.value is None for r, _ in pairs),
        "candidate": sum(c.value is None for _, c in pairs),
    }
    return {
        "spec": result.judge.spec,
        "fingerprint": result.judge.fingerprint,
        "max_new_tokens": result.config.judge_settings.max_new_tokens,
        "answers_rated": {"reference": len(pairs), "candidate": len(pairs)},
        "parse_failures": fails,
        "parse_failure_rate": {k: (v / len(pairs) if pairs else 0.0) for k, v in fails.items()},
    }


def provenance(result: BenchResult) -> dict[str, Any]:
    """Which item set was scored: its version, a digest of the item ids, counts by origin."""
    ids = sorted({i.id for i in result.plan.items})
    by_origin: dict[str, int] = {}
    for item in {i.id: i for i in result.plan.items}.values():
        by_origin[item.origin] = by_origin.get(item.origin, 0) + 1
    return {
        "heldout_version": HELDOUT_VERSION,
        "items_sha256": hashlib.sha256(json.dumps(ids).encode()).hexdigest(),
        "by_origin": dict(sorted(by_origin.items())),
    }


def _settings(result: BenchResult) -> dict[str, Any]:
    cfg = result.config
    return {
        "primary_metric": PRIMARY,
        "alpha": cfg.stats.alpha,
        "correction": "holm (across the leaves of a suite)",
        "seed": cfg.stats.seed,
        "resamples": cfg.stats.resamples,
        "max_regression": dict(cfg.stats.max_regression),
        "noise": {k: list(v) for k, v in sorted(cfg.stats.noise.items())},
        "scorer": SCORER_VERSION,
        "max_new_tokens": cfg.score.max_new_tokens,
        "short_new_tokens": cfg.score.short_new_tokens,
        "facts_per_leaf": cfg.facts,
        "doc_mc_per_leaf": cfg.doc_mc_per_leaf,
        "regression_sample": REGRESSION_SAMPLE if cfg.regression else None,
        "regression_leaves": REGRESSION_LEAVES,
        "general_set": GENERAL_SET if cfg.general else None,
    }


def _summary(result: BenchResult) -> dict[str, Any]:
    comp = result.comparison
    n_items = len({i.id for i in result.plan.items})

    def count(suite: str) -> dict[str, int]:
        verdicts = [g.verdict for g in comp.groups if g.suite == suite]
        return {v: verdicts.count(v) for v in VERDICTS}

    return {
        "exit_code": exit_code(result),
        "failed": bool(comp.failures),
        "items": n_items,
        "compared_with": "previous" if result.previous else "base",
        "branch_leaves": count("branch"),
        "regression_leaves": count("regression"),
        "seconds": round(result.seconds, 3),
        "seconds_per_item": round(result.seconds / n_items, 4) if n_items else None,
    }


def to_json(result: BenchResult) -> dict[str, Any]:
    comp = result.comparison
    return {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "base": _model(result.base),
        "previous": _model(result.previous),
        "candidate": _model(result.candidate),
        "judge": _judge(result),
        "selection": result.selection,
        "settings": _settings(result),
        "metrics": {m: {"better": b, "description": DESCRIPTIONS[m]} for m, b in METRICS.items()},
        "summary": _summary(result),
        "provenance": provenance(result),
        "suites": [_group(s, result, "suite") for s in comp.suites],
        "leaves": [_group(g, result, "leaf") for g in comp.groups],
        "skipped": [asdict(s) for s in result.plan.skipped],
        "failures": [asdict(f) for f in comp.failures],
        "items": _items(result),
    }
