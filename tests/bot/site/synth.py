"""A plausible workspace for the project site: generation records, exported samples, a
history of retrain reports (schema v2, one of an older format), releases with manifests,
changelogs, model cards and a release benchmark. Used by the site's tests, the screenshot
(`python -m tests.bot.site.screenshot`) and benchmarks/site_speed.py.

The numbers follow what the benchmark reports: NLL per token, a leaf gains 0.1-0.4 nats
over the base when its merge trains it, drifts a little afterwards, and now and then an
earlier leaf is forgotten.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import yaml

from bot.site.archive import HistoryNote, keep
from bot.site.model import V2
from trainer.sdg.store import Store, StoreKey

BAND = 0.04


def _test(ref: float, cand: float, band: float | None, rng: random.Random) -> dict[str, Any]:
    delta = cand - ref
    half = 0.02 + rng.random() * 0.03
    significant = abs(delta) > half and (band is None or abs(delta) > band)
    verdict = ("improved" if delta < 0 else "regressed") if significant else "no significant change"
    return {
        "metric": "nll",
        "better": "lower",
        "n": 12,
        "clusters": 6,
        "reference": round(ref, 4),
        "candidate": round(cand, 4),
        "delta": round(delta, 4),
        "ci": [round(delta - half, 4), round(delta + half, 4)],
        "p": 0.01 if significant else 0.4,
        "method": "sign-flip",
        "p_adjusted": 0.02 if significant else 0.6,
        "verdict": verdict,
        "reason": "",
        "noise_band": [-band, band] if band is not None else None,
    }


def _group(
    suite: str, path: str, kind: str, base: float, prev: float, cand: float, rng: random.Random
) -> dict[str, Any]:
    primary = _test(prev, cand, BAND, rng)
    vs_base = _test(base, cand, None, rng)
    for key in ("p_adjusted", "verdict", "reason", "noise_band"):
        vs_base.pop(key)
    return {
        "suite": suite,
        "path": path,
        "kind": kind,
        "items": {"seed": 4, "fact": 8},
        "verdict": primary["verdict"],
        "primary": primary,
        "placebo": None,
        "vs_base": vs_base,
        "descriptive": [],
    }


def report(
    gains: dict[str, float],
    previous: dict[str, float],
    trained: set[str],
    rng: random.Random,
    candidate: str = "hf:runs/model",
    created: str = "2026-11-01T12:00:00Z",
) -> dict[str, Any]:
    """A v2 report: every leaf in `gains` (gain over the base now; `previous`: before)."""
    leaves = []
    for path, gain in gains.items():
        base = 2.4 + (sum(map(ord, path)) % 50) / 100
        suite = "branch" if path in trained else "regression"
        kind = "general" if path.startswith("general") else "skill"
        leaves.append(
            _group(suite, path, kind, base, base - previous.get(path, 0.0), base - gain, rng)
        )
    mean = sum(gains.values()) / max(1, len(gains))
    before = sum(previous.get(p, 0.0) for p in gains) / max(1, len(gains))
    suites = [
        _group(s, s, "suite", 2.6, 2.6 - before, 2.6 - mean, rng) for s in ("branch", "regression")
    ]
    for s in suites:
        s["primary"]["noise_band"] = [-0.02, 0.02]
    return {
        "schema": V2,
        "created": created,
        "base": {
            "spec": "embedded",
            "fingerprint": "base0",
            "items_scored": 0,
            "items_cached": 0,
            "seconds": 1.0,
        },
        "previous": {
            "spec": "hf:runs/previous",
            "fingerprint": "prev",
            "items_scored": 0,
            "items_cached": 0,
            "seconds": 1.0,
        },
        "candidate": {
            "spec": candidate,
            "fingerprint": f"fp-{created}",
            "items_scored": 10,
            "items_cached": 0,
            "seconds": 1.0,
        },
        "judge": None,
        "selection": {"mode": "paths"},
        "settings": {"primary_metric": "nll"},
        "metrics": {},
        "provenance": {"items_sha256": f"items-{len(gains)}"},
        "summary": {
            "exit_code": 0,
            "failed": False,
            "items": 12 * len(gains),
            "compared_with": "previous",
            "branch_leaves": {},
            "regression_leaves": {},
        },
        "suites": suites,
        "leaves": leaves,
        "skipped": [],
        "failures": [],
        "items": [],
    }


def history(work: Path, leaves: list[str], merges: int, seed: int = 0, older: bool = True) -> None:
    """`merges` retrains, a week apart; each trains its share of `leaves`, in order. The
    second report is of an older format (v1)."""
    rng = random.Random(seed)
    when = dt.datetime(2026, 9, 20, 10, tzinfo=dt.UTC)
    gains: dict[str, float] = {"general-v1": 0.0}
    for k in range(merges):
        previous = dict(gains)
        trained = {leaf for i, leaf in enumerate(leaves) if i * merges // len(leaves) == k}
        for leaf in list(gains):
            drift = rng.gauss(0.0, 0.015)
            if leaf not in trained and rng.random() < 0.03:
                drift -= 0.12 + rng.random() * 0.1  # forgotten
            gains[leaf] = round(gains[leaf] + drift, 4)
        for leaf in trained:
            gains[leaf] = round(0.08 + rng.random() * 0.32, 4)
        created = (when + dt.timedelta(days=7 * k)).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc = report(gains, previous, trained, rng, f"hf:runs/{k + 1:03d}", created)
        if older and k == 1:
            doc = {"schema": "taxonomy-bot/benchmark-report/v1", "leaves": []}
        sha = f"{rng.getrandbits(160):040x}"
        keep(work / "history", doc, HistoryNote(sha, tuple(sorted(trained))))
    last = work / "report"
    last.mkdir(parents=True, exist_ok=True)
    rng2 = random.Random(seed + 1)
    (last / "report.json").write_text(json.dumps(report(gains, gains, set(), rng2)), "utf-8")


def generation(work: Path, leaves: list[str], seed: int = 0, samples: int = 3) -> None:
    """A store entry (with a yield) and an exported file per leaf."""
    rng = random.Random(seed)
    store = Store(work / "generate")
    for leaf in leaves:
        kept = rng.randint(4, 12)
        dropped = {
            "duplicates": rng.randint(0, 6),
            "judged_out_pair": rng.randint(0, 5),
            "parse_failed": rng.randint(0, 2),
            "duplicates_of_seeds": rng.randint(0, 2),
        }
        stats = {"generated": kept + sum(dropped.values()), "kept": kept, **dropped}
        rows = [_row(leaf, i) for i in range(samples)]
        key = StoreKey(leaf, f"h-{leaf}", "embedded", "lab-v1", kept, 0)
        store.put(key, rows, stats)
        store.set_current(key)
        out = work / "data" / f"{leaf}.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


def _row(leaf: str, i: int) -> dict[str, Any]:
    topic = leaf.rsplit("/", 1)[-1].replace("_", " ")
    return {
        "messages": [
            {"role": "user", "content": f"Give an example of {topic}, number {i + 1}."},
            {"role": "assistant", "content": f"Here is {topic} example {i + 1}, written plainly."},
        ],
        "metadata": {"source": "generated", "leaf": leaf},
    }


def releases(root: Path, work: Path, leaves: list[str], seed: int = 0) -> None:
    """0.1.0 (the manifest's summary only) and 0.2.0 (with its benchmark report)."""
    rng = random.Random(seed)
    for n, version in enumerate(("0.1.0", "0.2.0")):
        folder = root / "releases" / version
        folder.mkdir(parents=True, exist_ok=True)
        half = leaves[: len(leaves) // 2] if n == 0 else leaves
        manifest = {
            "format": 1,
            "version": version,
            "tag": f"v{version}",
            "created": f"2026-1{n}-15T09:00:00Z",
            "taxonomy_commit": f"{rng.getrandbits(160):040x}",
            "previous": {"version": "0.1.0", "tag": "v0.1.0"} if n else None,
            "base_model": {"spec": "embedded", "digest": "sha256-base"},
            "model": {
                "digest": f"sha256-{rng.getrandbits(64):016x}",
                "started_from": "embedded",
                "mode": "full",
            },
            "leaves": {leaf: f"{rng.getrandbits(64):016x}" for leaf in half},
            "changes": {
                "added": half if n == 0 else leaves[len(leaves) // 2 :],
                "changed": [],
                "removed": [],
            },
            "benchmark": {
                "baseline": "embedded",
                "failed": False,
                "items": 240,
                "suites": {
                    "branch": {"verdict": "improved", "deltas": {"nll": -0.21}},
                    "regression": {"verdict": "no significant change", "deltas": {"nll": 0.004}},
                },
                "failures": [],
            },
        }
        (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=True), "utf-8")
        (folder / "CHANGELOG.md").write_text(
            f"# Changelog\n\n## v{version}\n\n- added {len(manifest['changes']['added'])} leaves "
            "(NLL -0.21 on their items)\n",
            "utf-8",
        )
        (folder / "MODEL_CARD.md").write_text(
            "---\nlicense: apache-2.0\nlibrary_name: transformers\n---\n\n"
            f"# taxonomy student v{version}\n\nTrained by taxonomy-bot on this taxonomy. "
            "See [the base model](https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct).\n",
            "utf-8",
        )
    gains = {leaf: 0.1 + rng.random() * 0.3 for leaf in leaves}
    bench = work / "release" / "0.2.0" / "benchmark"
    bench.mkdir(parents=True, exist_ok=True)
    doc = report(gains, {}, set(leaves), rng, "hf:releases/sha256-abc", "2026-11-15T09:00:00Z")
    doc["previous"], doc["summary"]["compared_with"] = None, "base"
    (bench / "report.json").write_text(json.dumps(doc), "utf-8")


def workspace(root: Path, work: Path, leaves: list[str], merges: int = 8, seed: int = 0) -> None:
    """All of the above for the leaves (taxonomy paths) of the repository at `root`."""
    generation(work, leaves, seed)
    history(work, leaves, merges, seed)
    releases(root, work, leaves, seed)
