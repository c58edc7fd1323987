"""releases/<version>/manifest.yaml: what a release is made of, hash by hash."""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from bot.config import Config
from bot.release.collect import Collected

FORMAT = 1


def _deltas(group: dict[str, Any]) -> dict[str, float | None]:
    """A group's deltas: the primary metric's, the placebo difference's, the descriptive ones."""
    tests = [t for key in ("primary", "placebo") if (t := group.get(key))]
    return {t["metric"]: _round(t["delta"]) for t in [*tests, *group.get("descriptive", [])]}


def benchmark_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The part of report.json a release keeps: suite verdicts and deltas, the failures."""
    reference = doc.get("previous") or doc["base"]
    return {
        "baseline": reference["spec"],
        "failed": bool(doc["summary"]["failed"]),
        "items": doc["summary"]["items"],
        "suites": {
            s["suite"]: {"verdict": s["verdict"], "deltas": _deltas(s)} for s in doc["suites"]
        },
        "failures": [
            {
                "suite": f["suite"],
                "metric": f["metric"],
                "delta": _round(f["delta"]),
                "threshold": f["threshold"],
            }
            for f in doc.get("failures", [])
        ],
    }


def leaf_deltas(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-leaf (branch suite) verdict and metric deltas, keyed by taxonomy path."""
    return {
        g["path"]: {"verdict": g["verdict"], "deltas": _deltas(g)}
        for g in doc["leaves"]
        if g["suite"] == "branch"
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def build(
    collected: Collected,
    created: str,
    config: Config,
    trained: dict[str, Any],
    bench: dict[str, Any],
    tool: str,
) -> dict[str, Any]:
    prev = collected.previous
    return {
        "format": FORMAT,
        "version": collected.version,
        "tag": collected.tag,
        "created": created,
        "tool": tool,
        "taxonomy_commit": collected.commit,
        "previous": {"version": prev.version, "tag": prev.name} if prev else None,
        "base_model": {"spec": trained["base"], "digest": trained["base_digest"]},
        "model": {
            "digest": trained["digest"],
            "started_from": trained["start"],
            "mode": trained["mode"],
        },
        "leaves": dict(collected.leaves),
        "changes": {
            "added": collected.added,
            "changed": collected.changed,
            "removed": collected.removed,
        },
        "datasets": {
            "phases": trained["datasets"],
            "replay_buffer_version": trained["replay_version"],
        },
        "training": {
            "train": _plain(config.train),
            "mix": _plain(config.mix),
            "replay": _plain(config.replay),
            "new_leaves": trained["new_leaves"],
        },
        "benchmark": bench,
    }


def _plain(section: Any) -> dict[str, Any]:
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(section).items()
    }


def dump(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest, sort_keys=True, allow_unicode=True, width=100)
