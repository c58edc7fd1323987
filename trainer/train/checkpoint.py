"""Checkpoints: a Hugging Face model folder (safetensors) any tool can load, plus, in the
latest one only, the full training state (optimizer, schedule, RNG) needed to resume.
LoRA checkpoints hold the merged weights (so the next phase and the benchmarks load them
like any model) and the adapter alone under `adapter/`. Under QLoRA the adapter is merged
into the base's own full-precision weights, not into its 4-bit copy (re-rounding the sum to
4 bits would wash most of the update out).

A checkpoint is written under a temporary name and renamed into place once complete, so a
kill mid-write leaves the previous checkpoint as the latest, never a half-written one.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

META = "checkpoint.json"
STATE = "state"
# accelerate's logger that warns, on every save of a model with tied embeddings (SmolLM2),
# "[RANK 0] Removed shared tensor {'lm_head.weight'} while saving": expected (safetensors
# stores a tied tensor once; loading ties it again), so noise on every checkpoint.
ACCELERATE_SAVE_LOGGER = "accelerate.utils.other"
SHARED_TENSOR_NOTE = "Removed shared tensor"


@dataclass(frozen=True)
class CheckpointMeta:
    step: int  # optimizer steps completed
    epoch: int
    samples: int  # samples trained on so far in this phase
    tokens: int  # real tokens processed so far
    loss: float  # of the last step
    plan: str  # digest of the data plan (trainer.train.plan)


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    meta: CheckpointMeta

    @property
    def resumable(self) -> bool:
        return (self.path / STATE).is_dir()


def checkpoints(out: Path) -> list[Checkpoint]:
    """Complete checkpoints of a phase, oldest first."""
    found = []
    for d in sorted((out / "checkpoints").glob("step-*")):
        try:
            meta = CheckpointMeta(**json.loads((d / META).read_text()))
        except (OSError, ValueError, TypeError):
            continue  # not complete: the meta file is written last
        found.append(Checkpoint(d, meta))
    return sorted(found, key=lambda c: c.meta.step)


def save(
    out: Path,
    meta: CheckpointMeta,
    model: Any,
    tokenizer: Any,
    accelerator: Any,
    keep: int,
    *,
    full_base: Path | None = None,
    state: bool = True,
) -> Checkpoint:
    """Write the checkpoint; `full_base` (QLoRA) is the full-precision folder the adapter
    is merged into; `state=False` leaves out the resume state (a trainer that keeps its own,
    like TRL's)."""
    final = out / "checkpoints" / f"step-{meta.step:06d}"
    tmp = final.with_name(f".tmp-{final.name}")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    state_dict = accelerator.get_state_dict(model)  # gathers FSDP shards on every process
    if state:
        with _without_shared_tensor_note():
            accelerator.save_state(str(tmp / STATE))
    if accelerator.is_main_process:
        inner = accelerator.unwrap_model(model)
        if hasattr(inner, "merge_and_unload"):  # LoRA: the adapter, and merged full weights
            inner.save_pretrained(tmp / "adapter", safe_serialization=True)
            merged = _merged(inner, tmp / "adapter", full_base)
            merged.save_pretrained(tmp, safe_serialization=True)
        else:
            inner.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / META).write_text(json.dumps(asdict(meta), indent=2) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        _prune(out, keep, final)
    accelerator.wait_for_everyone()
    return Checkpoint(final, meta)


def _merged(inner: Any, adapter: Path, full_base: Path | None) -> Any:
    if full_base is None:
        return copy.deepcopy(inner).merge_and_unload()
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(full_base, local_files_only=True, dtype="auto")
    return PeftModel.from_pretrained(base, adapter).merge_and_unload()


def _drop_shared_tensor_note(record: logging.LogRecord) -> bool:
    return SHARED_TENSOR_NOTE not in record.getMessage()


@contextlib.contextmanager
def _without_shared_tensor_note() -> Iterator[None]:
    """accelerate's shared-tensor warning filtered out (that message only) for the block."""
    logger = logging.getLogger(ACCELERATE_SAVE_LOGGER)
    logger.addFilter(_drop_shared_tensor_note)
    try:
        yield
    finally:
        logger.removeFilter(_drop_shared_tensor_note)


def _prune(out: Path, keep: int, latest: Path) -> None:
    """Older checkpoints keep their weights (the chooser may pick them) but not the resume
    state; beyond `keep`, they go."""
    done = checkpoints(out)
    for c in done:
        if c.path != latest:
            shutil.rmtree(c.path / STATE, ignore_errors=True)
    for c in done[:-keep]:
        shutil.rmtree(c.path, ignore_errors=True)
    for stale in (out / "checkpoints").glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
