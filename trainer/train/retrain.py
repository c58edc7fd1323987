"""One retrain, end to end: mix the phase datasets (new leaves + replay), train the phases,
then absorb the trained leaves into the replay buffer.

The buffer changes only after every phase has finished, so a killed retrain resumes over
the same mixed data (kept in `<out>/mix/`) and a failed one leaves the buffer as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trainer.data import replay as buffers
from trainer.data.config import MixConfig, ReplayConfig
from trainer.data.mix import build_phases, phases, read_phase, write_phase
from trainer.data.rows import DataError, load_exported
from trainer.train.config import TrainConfig
from trainer.train.loop import StepEvent, TrainError
from trainer.train.phases import SUMMARY, Chooser, PhaseOutcome, PhasePlan, RunSpec, run_phases
from trainer.train.session import barrier, check_hardware, main_process, write_on_main


@dataclass(frozen=True)
class RetrainJob:
    base: Path  # Hugging Face folder of the model to continue from
    base_spec: str  # as the user named it, for the summary
    buffer: Path  # the replay buffer's folder
    data: Path  # exported generation data: <leaf>.jsonl files
    out: Path
    phases: tuple[str, ...] | None = None  # None: every phase of the mix
    train: TrainConfig = field(default_factory=TrainConfig)
    mix: MixConfig = field(default_factory=MixConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    resume: bool = False
    update_replay: bool = True
    new_leaves: tuple[str, ...] | None = None  # None: what the buffer has not absorbed


@dataclass(frozen=True)
class RetrainResult:
    phases: list[PhaseOutcome]
    final: Path
    mixed: dict[str, dict[str, Any]] = field(default_factory=dict)  # phase -> manifest summary
    replay_version: str | None = None


def _mix(job: RetrainJob) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Write (or, resuming, reuse) `<out>/mix/<phase>/`; returns manifests and new leaves."""
    folder = job.out / "mix"
    names = [s.name for s in phases(job.mix)]
    if job.resume and all((folder / n / "manifest.json").is_file() for n in names):
        manifests = {n: read_phase(folder / n) for n in names}
    else:
        current = load_exported(job.data)
        if not current:
            raise TrainError(f"{job.data}: no training data; run `bot generate` first")
        buffer = buffers.load(job.buffer)
        # Self-data distillation: replay in the words of the model this retrain continues
        # (job.base is the start model, the last retrain's when continuing a lineage).
        if job.mix.distill_replay:
            from trainer.data.distill import DistillConfig, replay_transform
            from trainer.models import load_model

            with load_model(f"hf:{job.base}") as model:
                transform, name = replay_transform(model, DistillConfig(seed=job.mix.seed))
                built = build_phases(
                    current,
                    buffer,
                    job.mix,
                    new_leaves=job.new_leaves,
                    transform=transform,
                    transform_name=name,
                )
        else:
            built = build_phases(current, buffer, job.mix, new_leaves=job.new_leaves)
        manifests = {}
        for phase in built:
            write_phase(folder, phase)
            manifests[phase.manifest.phase] = phase.manifest
    new = {leaf for m in manifests.values() for leaf, c in m.leaves.items() if c.new}
    return {
        n: {
            "rows": m.rows,
            "new_rows": m.new_rows,
            "replay_rows": m.replay_rows,
            "leaves": len(m.leaves),
            "sha256": m.output_sha256,
        }
        for n, m in manifests.items()
    }, new


DPO = "dpo"  # the optional preference phase after SFT (SPIN-style pairs)


def _plans(job: RetrainJob, wanted: tuple[str, ...], sft: list[str]) -> tuple[PhasePlan, ...]:
    """Each wanted phase with its data and trainer. DPO takes its prompts and reference
    answers from the last SFT phase's data."""
    from trainer.train.options import disperse, spin_dpo

    cfg = job.train
    plans = []
    for name in wanted:
        if name == DPO:
            source = next((p for p in reversed(sft) if p in wanted), sft[-1])
            dpo = spin_dpo(cfg.dpo_max_pairs, cfg.dpo_max_new_tokens, cfg.seed)
            plans.append(PhasePlan(name, job.out / "mix" / source / "data.jsonl", dpo))
            continue
        split = (
            disperse(cfg.disperse, cfg.merge_method, cfg.seed, cfg.disperse_by)
            if cfg.disperse > 1
            else None
        )
        data = job.out / "mix" / name / "data.jsonl"
        plans.append(PhasePlan(name, data, split, short_then_long=name == "knowledge"))
    return tuple(plans)


def retrain(
    job: RetrainJob,
    *,
    on_step: Callable[[StepEvent], None] | None = None,
    on_phase: Callable[[str, str], None] | None = None,
    chooser: Chooser | None = None,
) -> RetrainResult:
    if not job.resume and ((job.out / SUMMARY).exists() or (job.out / "mix").exists()):
        raise TrainError(
            f"{job.out} already holds a training run; resume it (resume=True: continue "
            "or reuse it) or choose another output folder"
        )
    check_hardware(job.train)  # before mixing: distillation alone can take minutes
    barrier()  # every process has checked before the main one writes
    try:
        if main_process():
            mixed, new = _mix(job)
        barrier()
        if not main_process():  # read what the main process wrote
            mixed, new = _mix(replace(job, resume=True))
    except (DataError, buffers.ReplayError, ValueError) as exc:
        raise TrainError(str(exc)) from exc
    wanted = job.phases or tuple(mixed)
    known = [*mixed, DPO]
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise TrainError(f"unknown phase(s) {', '.join(unknown)}; phases: {', '.join(known)}")
    spec = RunSpec(job.base, _plans(job, wanted, list(mixed)), job.out, job.train, job.resume)
    outcomes = run_phases(spec, on_step=on_step, on_phase=on_phase, chooser=chooser)
    version = None
    if job.update_replay and new and main_process():
        current = load_exported(job.data)
        buffer = buffers.load(job.buffer)
        updated = buffers.update(buffer, current, job.replay, trained=sorted(new & set(current)))
        version = buffers.save(job.buffer, updated, job.replay).version
    final = Path(outcomes[-1].checkpoint) if outcomes else job.base
    summary = json.loads((job.out / SUMMARY).read_text())
    summary.update(base=job.base_spec, mix=mixed, replay_version=version, new_leaves=sorted(new))
    write_on_main(job.out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return RetrainResult(outcomes, final, mixed, version)
