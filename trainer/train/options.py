"""The seed papers' options as phase trainers that `run_phases` plugs in.

- disperse-then-merge: K sub-models, each trained on one shard of the phase's data (a topic
  cluster, or an even share of every leaf), merged by weight averaging or TIES into one
  normal checkpoint;
- SPIN-style DPO: pairs whose rejected side is the phase's starting model's own reply to
  each prompt, then DPO against that model on TRL's DPOTrainer (LIONs / OpenBezoar order:
  SFT, then DPO; dpo.py).

Both write their intermediate files under the phase folder atomically and reuse finished
pieces on resume (shard files, sub-models, pairs), so a kill costs at most one sub-run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.sdg.store import write_atomic
from trainer.train import checkpoint as ckpt
from trainer.train.loop import PhaseJob, PhaseResult, StepEvent, train_phase
from trainer.train.phases import PhaseOutcome, PhaseTrainer
from trainer.train.session import TrainError, barrier, main_process, write_on_main

if TYPE_CHECKING:
    from trainer.data.rows import Row
    from trainer.train.merge import MergeMethod, ShardBy


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def disperse(
    k: int, method: MergeMethod = "average", seed: int = 0, by: ShardBy = "cluster"
) -> PhaseTrainer:
    from trainer.data.rows import parse_jsonl
    from trainer.train.merge import MergeConfig, MergeError, merge_checkpoints, shard_rows

    def train(job: PhaseJob, on_step: Callable[[StepEvent], None] | None) -> PhaseOutcome:
        rows = parse_jsonl(job.data.read_bytes(), job.data)
        if len(rows) < k:
            raise TrainError(f"phase {job.name}: {len(rows)} rows cannot make {k} shards")
        shards = shard_rows(rows, k, seed, by)
        runs = [_train_shard(job, i, k, shard, on_step) for i, shard in enumerate(shards)]
        try:
            merged = merge_checkpoints(
                [last.path for _, last in runs],
                job.out / "merged",
                MergeConfig(method=method),
                base=job.base if method == "ties" else None,
            )
        except MergeError as exc:
            raise TrainError(f"phase {job.name}: merging the sub-models failed: {exc}") from exc
        results = [result for result, _ in runs]
        tokens = sum(r.tokens for r in results)
        processed = sum(r.processed_tokens for r in results)
        seconds = sum(r.seconds for r in results)
        return PhaseOutcome(
            name=job.name,
            samples=sum(r.samples for r in results),
            tokens=tokens,
            steps=sum(r.steps for r in results),
            final_loss=sum(last.meta.loss for _, last in runs) / k,
            tokens_per_s=tokens / seconds if seconds else 0.0,
            packing_efficiency=tokens / processed if processed else 1.0,
            checkpoint=str(merged.path),
            data_sha256=_sha(job.data),
            seconds=seconds,
            last_checkpoint=str(merged.path),
            chosen_by=f"merge:{method}",
            sub_models=[
                {"shard": i, "rows": n, "checkpoint": str(last.path), "loss": last.meta.loss}
                for i, (n, (_, last)) in enumerate(zip(map(len, shards), runs, strict=True))
            ],
            epochs=results[-1].epochs,
            leaves=_summed_exposure(results),
        )

    return train


def _train_shard(
    job: PhaseJob,
    i: int,
    k: int,
    shard: list[Row],
    on_step: Callable[[StepEvent], None] | None,
) -> tuple[PhaseResult, ckpt.Checkpoint]:
    """Sub-model i of k on its shard; resuming a finished sub-run is instant."""
    data = job.out / "shards" / f"{i}.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in shard)
    if not data.is_file() or data.read_text("utf-8") != text:
        write_on_main(data, text)
    sub = replace(job, name=f"{job.name}[{i + 1}/{k}]", data=data, out=job.out / f"sub-{i}")
    result = train_phase(sub, on_step)
    return result, ckpt.checkpoints(sub.out)[-1]


def _summed_exposure(results: list[PhaseResult]) -> dict[str, dict[str, int]]:
    """Each leaf's rows, epochs and steps summed over the sub-models."""
    leaves: dict[str, dict[str, int]] = {}
    for result in results:
        for leaf, counts in result.leaves.items():
            mine = leaves.setdefault(leaf, dict.fromkeys(counts, 0))
            for key, n in counts.items():
                mine[key] += n
    return leaves


def spin_dpo(max_pairs: int, max_new_tokens: int, seed: int = 0) -> PhaseTrainer:
    """DPO on SPIN pairs: the rows' reference answers are chosen, the starting model's own
    greedy replies rejected. The job's TrainConfig gives the DPO settings (dpo_lr,
    dpo_beta, dpo_rpo_alpha, lora, quantize)."""
    from trainer.models import load_model
    from trainer.train.dpo import DPOJob, train_dpo
    from trainer.train.pairs import PairConfig, build_pairs, read_sft_rows, write_pairs

    def train(job: PhaseJob, on_step: Callable[[StepEvent], None] | None) -> PhaseOutcome:
        pairs_file = job.out / "pairs.jsonl"
        stamp = job.out / "pairs.source"
        source = f"{_sha(job.data)}:{job.base}:{max_pairs}:{max_new_tokens}:{seed}"
        fresh = pairs_file.is_file() and stamp.is_file() and stamp.read_text() == source
        if not fresh and main_process():  # one process generates; the others wait below
            rows = read_sft_rows(job.data)[:max_pairs]
            with load_model(f"hf:{job.base}") as model:
                built = build_pairs(
                    rows, model, PairConfig(max_new_tokens=max_new_tokens, seed=seed)
                )
            if not built.pairs:
                raise TrainError(
                    f"phase {job.name}: no preference pairs (the model's replies "
                    "equal the references)"
                )
            write_pairs(pairs_file, built.pairs)
            write_atomic(stamp, source)
        barrier()
        result = train_dpo(
            DPOJob(job.name, job.base, pairs_file, job.out, job.config, job.resume),
            None if on_step is None else lambda e: on_step(_as_step(e)),
        )
        last = ckpt.checkpoints(job.out)[-1]
        return PhaseOutcome(
            name=job.name,
            samples=result.samples,
            tokens=result.tokens,
            steps=result.steps,
            final_loss=result.final_loss,
            tokens_per_s=result.tokens_per_s,
            packing_efficiency=0.0,  # DPO pads each pair; it does not pack
            checkpoint=str(last.path),
            data_sha256=_sha(job.data),
            seconds=result.seconds,
            dropped_too_long=result.dropped_too_long,
            last_checkpoint=str(last.path),
            chosen_by="last",
        )

    return train


def _as_step(e: Any) -> StepEvent:
    """A DPO step as the progress display's StepEvent (its DPO-only fields are logged)."""
    return StepEvent(e.phase, e.step, e.total, e.loss, e.lr, e.tokens, e.tokens_per_s, e.elapsed)


__all__ = ["disperse", "spin_dpo"]
