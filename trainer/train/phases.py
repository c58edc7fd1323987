"""Phases in sequence (default: knowledge, then skills), each starting from the checkpoint
chosen in the phase before it.

A phase's outcome is recorded in `<out>/<phase>/result.json` beside its checkpoints; a
re-run with `resume` reuses a finished phase whose data has not changed and continues an
unfinished one from its latest checkpoint, so a killed run never repeats finished work.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainer.train import checkpoint as ckpt
from trainer.train.config import TrainConfig
from trainer.train.loop import PhaseJob, PhaseResult, StepEvent, TrainError, train_phase
from trainer.train.session import write_on_main

SUMMARY = "train_summary.json"
RESULT = "result.json"

# Picks a phase's checkpoint (the benchmarks' chooser); by default the last one.
Chooser = Callable[[str, list[ckpt.Checkpoint]], ckpt.Checkpoint]
# Trains one phase from a job (plain SFT, disperse-then-merge, DPO, ...).
PhaseTrainer = Callable[[PhaseJob, Callable[[StepEvent], None] | None], "PhaseOutcome"]


@dataclass(frozen=True)
class PhaseOutcome:
    name: str
    samples: int
    tokens: int
    steps: int
    final_loss: float
    tokens_per_s: float
    packing_efficiency: float
    checkpoint: str  # the chosen checkpoint: where the next phase starts
    data_sha256: str
    seconds: float
    dropped_too_long: int = 0
    last_checkpoint: str = ""
    chosen_by: str = "last"
    sub_models: list[dict[str, Any]] = field(default_factory=list)  # disperse-then-merge
    epochs: int = 1
    leaves: dict[str, dict[str, int]] = field(default_factory=dict)  # plan.leaf_exposure


@dataclass(frozen=True)
class PhasePlan:
    name: str
    data: Path  # JSONL rows this phase trains on
    trainer: PhaseTrainer | None = None  # None: plain SFT (with the chooser)
    short_then_long: bool = False  # LAB's knowledge phase: short answers first


@dataclass(frozen=True)
class RunSpec:
    base: Path  # Hugging Face folder the first phase starts from
    phases: tuple[PhasePlan, ...]
    out: Path
    config: TrainConfig = field(default_factory=TrainConfig)
    resume: bool = False


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path) -> int:
    return sum(1 for line in path.read_text("utf-8").splitlines() if line.strip())


def _finished(folder: Path, data_sha: str) -> PhaseOutcome | None:
    try:
        found = PhaseOutcome(**json.loads((folder / RESULT).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if found.data_sha256 != data_sha or not Path(found.checkpoint).is_dir():
        return None
    return found


def outcome(result: PhaseResult, data_sha: str, chosen: ckpt.Checkpoint, by: str) -> PhaseOutcome:
    return PhaseOutcome(
        name=result.name,
        samples=result.samples,
        tokens=result.tokens,
        steps=result.steps,
        final_loss=result.final_loss,
        tokens_per_s=result.tokens_per_s,
        packing_efficiency=result.packing_efficiency,
        checkpoint=str(chosen.path),
        data_sha256=data_sha,
        seconds=result.seconds,
        dropped_too_long=result.dropped_too_long,
        last_checkpoint=result.checkpoint,
        chosen_by=by,
        epochs=result.epochs,
        leaves=result.leaves,
    )


def run_phases(
    spec: RunSpec,
    *,
    on_step: Callable[[StepEvent], None] | None = None,
    on_phase: Callable[[str, str], None] | None = None,
    chooser: Chooser | None = None,
) -> list[PhaseOutcome]:
    """Train every phase in order and write `<out>/train_summary.json`.

    `on_phase(name, status)` reports "start", "reused" or "skipped: <why>".
    """
    start = spec.base
    outcomes: list[PhaseOutcome] = []
    if not spec.resume and (spec.out / SUMMARY).exists():
        raise TrainError(
            f"{spec.out} already holds a training run; resume it (resume=True: continue "
            "or reuse it) or choose another output folder"
        )
    for phase in spec.phases:
        name, data = phase.name, phase.data
        if not data.is_file() or _rows(data) == 0:
            if on_phase:
                on_phase(name, "skipped: no data for this phase")
            continue
        sha = _digest(data)
        folder = spec.out / name
        reused = _finished(folder, sha) if spec.resume else None
        if reused is None:
            if on_phase:
                on_phase(name, "start")
            job = PhaseJob(
                name, start, data, folder, spec.config, spec.resume, phase.short_then_long
            )
            done = (phase.trainer or _single(chooser))(job, on_step)
            write_on_main(folder / RESULT, json.dumps(asdict(done), indent=2) + "\n")
        else:
            done = reused
            if on_phase:
                on_phase(name, "reused")
        outcomes.append(done)
        start = Path(done.checkpoint)
    summary = {
        "base": str(spec.base),
        "final": str(start),
        "phases": [asdict(o) for o in outcomes],
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_on_main(spec.out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return outcomes


def _single(
    chooser: Chooser | None,
) -> Callable[[PhaseJob, Callable[[StepEvent], None] | None], PhaseOutcome]:
    def train(job: PhaseJob, on_step: Callable[[StepEvent], None] | None) -> PhaseOutcome:
        result = train_phase(job, on_step)
        sha = _digest(job.data)
        found = ckpt.checkpoints(job.out)
        if chooser is None or len(found) < 2:
            return outcome(result, sha, found[-1], "last")
        try:
            return outcome(result, sha, chooser(job.name, found), "benchmark")
        except ValueError as exc:  # e.g. no held-out items to judge by: say so, keep the last
            return outcome(result, sha, found[-1], f"last ({exc})")

    return train
