"""Incremental generation over many leaves: plan (cache hit or miss, and why), run the
pipeline for the misses, store each leaf atomically, export the training files.

A leaf is regenerated exactly when its store key changes: its content or documents,
the teacher, the pipeline/prompt version or the settings. Everything else is read
back from the store with zero model calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from trainer.leaves import LeafData
from trainer.models.base import ModelError
from trainer.sdg.pipeline import PIPELINE_VERSION, PipelineConfig, ProgressEvent, run_pipeline
from trainer.sdg.store import Store, StoreKey
from trainer.sdg.teacher import Teacher

Status = Literal["cached", "generated", "failed", "pending"]


@dataclass
class LeafJob:
    path: str  # taxonomy path (the leaf's record path, or where an unreadable leaf sits)
    leaf: LeafData | None = None
    key: StoreKey | None = None
    status: Status = "pending"
    reason: str = ""  # why it is (re)generated, cached, or failed
    generated: int = 0
    kept: int = 0
    rows: int = 0
    model_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    output: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


# A leaf to generate for: (taxonomy path, its record or why it could not be read).
LeafInput = tuple[str, LeafData | str]


def plan(
    leaves: Sequence[LeafInput], store: Store, teacher: Teacher, config: PipelineConfig
) -> list[LeafJob]:
    """Decide for every leaf, without any model call, what to do."""
    jobs = []
    for path, record in leaves:
        job = LeafJob(path)
        jobs.append(job)
        if isinstance(record, str):
            job.status, job.reason = "failed", f"invalid leaf:\n{record}"
            continue
        job.leaf = record
        job.key = StoreKey(
            job.leaf.path,
            job.leaf.content_hash,
            teacher.fingerprint,
            f"{PIPELINE_VERSION}/settings.{config.key()}",
            config.samples,
            config.seed,
        )
        state = store.status(job.key)
        if state == "cached":
            entry = store.get(job.key)
            assert entry is not None
            job.status, job.reason, job.output = "cached", "unchanged", str(entry.data)
            _fill(job, entry.record)
            continue
        job.reason = _why(store, job.key, state)
    return jobs


def _why(store: Store, key: StoreKey, state: str) -> str:
    if state == "corrupt":
        return "stored entry is damaged or incomplete"
    current = store.current(key.leaf)
    if current is None:
        return "new leaf"
    old = current.key
    changes = [
        what
        for what, a, b in (
            ("leaf content", old.leaf_hash, key.leaf_hash),
            ("teacher", old.teacher, key.teacher),
            ("pipeline or settings", old.pipeline, key.pipeline),
            ("samples", old.samples, key.samples),
            ("seed", old.seed, key.seed),
        )
        if a != b
    ]
    return "changed: " + ", ".join(changes) if changes else "not generated yet"


def _fill(job: LeafJob, record: dict[str, Any]) -> None:
    stats = record.get("stats", {})
    job.stats = stats
    job.rows = int(record.get("rows", 0))
    job.generated = int(stats.get("generated", 0))
    job.kept = int(stats.get("kept", 0))


def run(
    jobs: list[LeafJob],
    store: Store,
    teacher: Teacher,
    config: PipelineConfig,
    progress: Callable[[LeafJob, ProgressEvent], None] | None = None,
) -> None:
    """Generate the pending jobs in order; each finished leaf is stored at once."""
    pending = [j for j in jobs if j.status == "pending"]
    for i, job in enumerate(pending):
        assert job.leaf is not None and job.key is not None
        started = time.monotonic()

        def report(ev: ProgressEvent, job: LeafJob = job) -> None:
            if progress is not None:
                progress(job, ev)

        try:
            model = teacher.model()
            result = run_pipeline(job.leaf, model, config, report)
        except ModelError as exc:
            # The teacher itself is unusable (unreachable, missing): the rest would fail the
            # same way, so stop here; everything stored so far stays valid.
            for rest in pending[i:]:
                rest.status, rest.reason = "failed", f"teacher error: {exc}"
            return
        stats = result.stats.to_dict()
        entry = store.put(job.key, result.rows, stats)
        store.set_current(job.key)
        job.status, job.output = "generated", str(entry.data)
        job.model_calls = result.stats.model_calls
        job.tokens = result.stats.prompt_tokens + result.stats.completion_tokens
        job.seconds = time.monotonic() - started
        _fill(job, entry.record)
    for job in jobs:
        if job.status == "cached" and job.key is not None:
            store.set_current(job.key)
