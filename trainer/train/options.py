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
from trainer.train.loop import PhaseJob, StepEvent, train_phase
from trainer.train.phases import PhaseOutcome, PhaseTrainer
from trainer.train.session import TrainError, barrier, main_process, write_on_main

if TYPE_CHECKING:
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
        subs: list[dict[str, Any]] = []
        lasts: list[Path] = []
        totals = {"samples": 0, "tokens": 0, "processed": 0, "steps": 0, "seconds": 0.0}
        loss = 0.0
        leaves: dict[str, dict[str, int]] = {}  # summed over the sub-models
        for i, shard in enumerate(shard_rows(rows, k, seed, by)):
            data = job.out / "shards" / f"{i}.jsonl"
            text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in shard)
            if not data.is_file() or data.read_text("utf-8") != text:
                write_on_main(data, text)
            sub = replace(job, name=f"{job.name}[{i + 1}/{k}]", data=data, out=job.out / f"sub-{i}")
            result = train_phase(sub, on_step)  # resuming a finished sub-run is instant
            last = ckpt.checkpoints(sub.out)[-1]
            lasts.append(last.path)
            subs.append(
                {
                    "shard": i,
                    "rows": len(shard),
                    "checkpoint": str(last.path),
                    "loss": last.meta.loss,
                }
            )
            loss += last.meta.loss / k
            totals["samples"] += result.samples
            totals["tokens"] += result.tokens
            totals["processed"] += result.processed_tokens
            totals["steps"] += result.steps
            totals["seconds"] += result.seconds
            for leaf, counts in result.leaves.items():
                mine = leaves.setdefault(leaf, dict.fromkeys(counts, 0))
                for key, n in counts.items():
                    mine[key] += n
        try:
            merged = merge_checkpoints(
                lasts,
                job.out / "merged",
                MergeConfig(method=method),
                base=job.base if method == "ties" else None,
            )
        except MergeError as exc:
            raise TrainError(f"phase {job.name}: merging the sub-models failed: {exc}") from exc
        tps = totals["tokens"] / totals["seconds"] if totals["seconds"] else 0.0
        eff = totals["tokens"] / totals["processed"] if totals["processed"] else 1.0
        return PhaseOutcome(
            name=job.name,
            samples=int(totals["samples"]),
            tokens=int(totals["tokens"]),
            steps=int(totals["steps"]),
            final_loss=loss,
            tokens_per_s=tps,
            packing_efficiency=eff,
            checkpoint=str(merged.path),
            data_sha256=_sha(job.data),
            seconds=totals["seconds"],
            last_checkpoint=str(merged.path),
            chosen_by=f"merge:{method}",
            sub_models=subs,
            epochs=result.epochs,
            leaves=leaves,
        )

    return train


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
