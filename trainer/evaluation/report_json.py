"""report.json: the machine-readable result (schema in docs/benchmark.md).

report.md and deltas.png are rendered from this document alone, so either can be
re-rendered from a stored report.json.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from trainer.evaluation.benchmark import BenchResult
from trainer.evaluation.compare import item_metrics
from trainer.evaluation.metrics import METRICS
from trainer.evaluation.run import SCORER_VERSION, ModelRun
from trainer.evaluation.stats import CONFIDENCE, Delta
from trainer.evaluation.suites import (
    GENERAL_SET,
    REGRESSION_LEAVES,
    REGRESSION_PER_LEAF,
    REGRESSION_SAMPLE,
)

SCHEMA = "taxonomy-bot/benchmark-report/v1"
EXIT_OK, EXIT_REGRESSION = 0, 3
DESCRIPTIONS = {
    "nll": "mean negative log-likelihood per token of the reference answer (nats)",
    "mc_acc": "multiple-choice accuracy, reference vs 3 distractor answers (acc_norm)",
    "doc_mc_acc": "multiple-choice accuracy on sentences from the leaf's documents",
    "rouge_l": "ROUGE-L F1 of the greedy answer against the reference",
    "judge": "judge model's rating, 1-10",
}


def _delta(d: Delta) -> dict[str, Any]:
    return {
        "metric": d.metric,
        "better": METRICS[d.metric],
        "n": d.n,
        "base": d.base,
        "candidate": d.candidate,
        "delta": d.delta,
        "ci": list(d.ci) if d.ci else None,
        "verdict": d.verdict,
        "note": d.note,
    }


def _model(run: ModelRun) -> dict[str, Any]:
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
    """Every item with what each model scored (and answered, and was rated)."""
    judged = result.judge.ratings if result.judge else {}
    items = []
    for item in result.plan.items:
        row: dict[str, Any] = {
            "id": item.id,
            "suite": item.suite,
            "group": item.group,
            "type": item.type,
            "question": item.question,
            "answer": item.answer,
        }
        if item.has_mc:
            row["options"], row["correct"] = list(item.options), item.correct
        for side, run in (("base", result.base), ("candidate", result.candidate)):
            scores = run.scores[item.id]
            row[side] = item_metrics(item, scores)
            if scores.generation is not None:
                row[side]["answer"] = scores.generation
            if item.id in judged:
                rating = judged[item.id][0 if side == "base" else 1]
                row[side]["judge"] = rating.value
        items.append(row)
    return items


def _judge(result: BenchResult) -> dict[str, Any] | None:
    if not result.judge:
        return None
    pairs = list(result.judge.ratings.values())
    fails = {
        "base": sum(b.value is None for b, _ in pairs),
        "candidate": sum(c.value is None for _, c in pairs),
    }
    return {
        "spec": result.judge.spec,
        "fingerprint": result.judge.fingerprint,
        "max_new_tokens": result.config.judge_settings.max_new_tokens,
        "answers_rated": {"base": len(pairs), "candidate": len(pairs)},
        "parse_failures": fails,
        "parse_failure_rate": {k: (v / len(pairs) if pairs else 0.0) for k, v in fails.items()},
    }


def _settings(result: BenchResult) -> dict[str, Any]:
    cfg = result.config
    return {
        "seed": cfg.stats.seed,
        "resamples": cfg.stats.resamples,
        "confidence": CONFIDENCE,
        "min_items": cfg.stats.min_items,
        "max_regression": dict(cfg.stats.max_regression),
        "scorer": SCORER_VERSION,
        "max_new_tokens": cfg.score.max_new_tokens,
        "short_new_tokens": cfg.score.short_new_tokens,
        "doc_mc_per_leaf": cfg.doc_mc_per_leaf,
        "regression_sample": REGRESSION_SAMPLE if cfg.regression else None,
        "regression_leaves": REGRESSION_LEAVES,
        "regression_per_leaf": REGRESSION_PER_LEAF,
        "general_set": GENERAL_SET if cfg.general else None,
    }


def _summary(result: BenchResult) -> dict[str, Any]:
    comp = result.comparison
    verdicts = [g.verdict for g in comp.groups if g.suite == "branch"]
    n_items = len({i.id for i in result.plan.items})
    return {
        "exit_code": exit_code(result),
        "failed": bool(comp.failures),
        "items": n_items,
        "branch_leaves": {
            v: verdicts.count(v) for v in ("regressed", "improved", "no significant change")
        },
        "seconds": round(result.seconds, 3),
        "seconds_per_item": round(result.seconds / n_items, 4) if n_items else None,
    }


def to_json(result: BenchResult) -> dict[str, Any]:
    comp = result.comparison
    return {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "base": _model(result.base),
        "candidate": _model(result.candidate),
        "judge": _judge(result),
        "selection": result.selection,
        "settings": _settings(result),
        "metrics": {m: {"better": b, "description": DESCRIPTIONS[m]} for m, b in METRICS.items()},
        "summary": _summary(result),
        "suites": [
            {
                "name": s.name,
                "groups": s.groups,
                "items": s.items,
                "verdict": s.verdict,
                "metrics": [_delta(d) for d in s.deltas],
            }
            for s in comp.suites
        ],
        "leaves": [
            {
                "suite": g.suite,
                "path": g.name,
                "kind": g.kind,
                "verdict": g.verdict,
                "metrics": [_delta(d) for d in g.deltas],
            }
            for g in comp.groups
        ],
        "skipped": [asdict(s) for s in result.plan.skipped],
        "failures": [asdict(f) for f in comp.failures],
        "items": _items(result),
    }
