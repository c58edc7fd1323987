"""The SFT loop of one phase: render, plan, then step through the plan with accelerate.

The loss of an optimizer step is the mean over every trained (assistant) token of all its
micro-batches, however they were packed: each micro-batch's summed cross-entropy is divided
by the step's total trained tokens before backward, so gradient accumulation, packing and
the padded baseline all optimise the same objective.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from trainer.data.pack import Batch, collate, collate_padded
from trainer.data.render import IGNORE, Rendered, RenderError, render
from trainer.train import checkpoint as ckpt
from trainer.train.config import TrainConfig
from trainer.train.plan import Plan, Step, leaf_exposure, make_plan
from trainer.train.session import (
    LOG,
    RunLog,
    Session,
    TrainError,
    open_session,
    resume_point,
    save_points,
)

__all__ = ["LOG", "PhaseJob", "PhaseResult", "StepEvent", "TrainError", "train_phase"]


@dataclass(frozen=True)
class StepEvent:
    phase: str
    step: int  # 1-based, of `total`
    total: int
    loss: float
    lr: float
    tokens: int  # real tokens this step
    tokens_per_s: float  # this step's real tokens over its wall time
    elapsed: float  # seconds since the phase (or its resumption) started


@dataclass(frozen=True)
class PhaseResult:
    name: str
    samples: int  # trained samples (including repeats over epochs)
    tokens: int  # real tokens processed
    processed_tokens: int  # including padding
    steps: int
    final_loss: float
    tokens_per_s: float
    packing_efficiency: float  # real tokens / tokens processed including padding
    checkpoint: str
    dropped_too_long: int
    seconds: float
    epochs: int = 1  # passes over the phase's data (train.min_steps may raise them)
    leaves: dict[str, dict[str, int]] = field(default_factory=dict)  # plan.leaf_exposure


@dataclass(frozen=True)
class PhaseJob:
    name: str
    base: Path  # Hugging Face model folder to start from
    data: Path  # JSONL of {"messages": [...]} rows
    out: Path
    config: TrainConfig
    resume: bool = False
    short_then_long: bool = False  # short answers first (train.short_tokens), then the rest


def read_examples(
    path: Path, tokenizer: Any, max_tokens: int
) -> tuple[list[Rendered], list[str], int, str]:
    """Rendered rows (too-long ones dropped and counted), each one's leaf ("" when the row
    names none) and a digest of the file."""
    raw = path.read_bytes()
    examples, leaves, dropped = [], [], 0
    for n, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ex = render(tokenizer, row["messages"])
        except (ValueError, KeyError, TypeError) as exc:
            why = exc if isinstance(exc, RenderError | KeyError) else f"not JSON ({exc})"
            raise TrainError(f"{path}:{n}: cannot train on this row: {why}") from exc
        if len(ex.input_ids) > max_tokens:
            dropped += 1
        else:
            examples.append(ex)
            meta = row.get("metadata")
            leaves.append(str(meta.get("leaf", "")) if isinstance(meta, dict) else "")
    if not examples:
        raise TrainError(f"{path}: no trainable rows (dropped {dropped} over {max_tokens} tokens)")
    return examples, leaves, dropped, hashlib.sha256(raw).hexdigest()


def lora_config(cfg: TrainConfig) -> Any:
    """Low-rank adapters on every linear layer (OpenBezoar's recipe); the base stays frozen.
    peft's "all-linear" leaves the output layer out."""
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def with_lora(model: Any, cfg: TrainConfig) -> Any:
    from peft import get_peft_model

    with warnings.catch_warnings():
        # peft asks the model for `is_gradient_checkpointing`, which transformers 5 renamed
        # and warns about on every read; the one read is peft's own, so it is silenced here
        # and only here (tests/trainer/train/test_quiet.py checks that nothing else is).
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        return get_peft_model(model, lora_config(cfg))


def _batch(
    examples: list[Rendered], rows: tuple[tuple[int, ...], ...], pad: int, packing: bool
) -> Batch:
    if packing:
        return collate([[examples[i] for i in row] for row in rows], pad)
    return collate_padded([examples[row[0]] for row in rows], pad)


def forward_logits(model: Any, batch: Batch, device: torch.device) -> torch.Tensor:
    """(rows, T, vocab) logits of a batch. No KV cache: with one, transformers would not read
    the restarting position ids of a packed row as example boundaries (pack.py)."""
    kwargs = {
        "input_ids": batch.input_ids.to(device),
        "position_ids": batch.position_ids.to(device),
        "use_cache": False,
    }
    if batch.attention_mask is not None:
        kwargs["attention_mask"] = batch.attention_mask.to(device)
    logits: torch.Tensor = model(**kwargs).logits
    return logits


def token_nll(model: Any, batch: Batch, device: torch.device) -> torch.Tensor:
    """Per-position negative log-likelihood of each next token, (rows, T - 1); 0 where no
    loss applies."""
    logits = forward_logits(model, batch, device)[:, :-1].float()
    targets = batch.labels[:, 1:].to(device)
    return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE, reduction="none")


def _loss_sum(model: Any, batch: Batch, device: torch.device) -> torch.Tensor:
    return token_nll(model, batch, device).sum()


def train_phase(job: PhaseJob, on_step: Callable[[StepEvent], None] | None = None) -> PhaseResult:
    from transformers import AutoTokenizer

    cfg = job.config
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(job.base, local_files_only=True)
    examples, leaves, dropped, digest = read_examples(job.data, tokenizer, cfg.max_tokens)
    short_first = job.short_then_long and cfg.short_tokens > 0
    short = [e.trained_tokens <= cfg.short_tokens for e in examples] if short_first else []
    plan = make_plan([len(e.input_ids) for e in examples], cfg, digest, short)
    start_from = resume_point(job.out, job.name, plan, job.resume)
    wrap = (lambda m: with_lora(m, cfg)) if cfg.lora else None
    run = open_session(job.base, cfg, plan, start_from, wrap=wrap)
    model, optimizer, accelerator = run.model, run.optimizer, run.accelerator
    log = RunLog(job.out / LOG, job.name, run.first_step)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    saves = save_points(plan, cfg)
    model.train()
    processed, real, t0, busy = 0, 0, time.perf_counter(), 0.0
    last: ckpt.Checkpoint | None = start_from
    for index in range(run.first_step, len(plan.steps)):
        step = plan.steps[index]
        tick = time.perf_counter()
        loss, tokens, seen = _step(model, optimizer, accelerator, examples, step, pad, cfg)
        lr = float(optimizer.param_groups[0]["lr"])  # the rate this step used
        run.schedule.step()
        processed += seen
        real += tokens
        run.samples += len(step.examples)
        run.tokens += tokens
        now = time.perf_counter()
        busy += now - tick  # training time only: checkpoint writes are not throughput
        event = StepEvent(
            job.name,
            index + 1,
            len(plan.steps),
            loss,
            lr,
            tokens,
            tokens / max(now - tick, 1e-9),
            now - t0,
        )
        log.write(_log_row(event, step))
        if on_step:
            on_step(event)
        if index + 1 in saves:
            last = _save(job, run, plan, index, loss, tokenizer)
    if last is None:
        raise TrainError(f"phase {job.name}: the plan has no steps")
    return PhaseResult(
        name=job.name,
        samples=plan.samples,
        tokens=run.tokens,
        processed_tokens=processed,
        steps=len(plan.steps),
        final_loss=last.meta.loss,
        tokens_per_s=real / busy if real else 0.0,
        packing_efficiency=real / processed if processed else _efficiency(examples, plan, cfg),
        checkpoint=str(last.path),
        dropped_too_long=dropped,
        seconds=time.perf_counter() - started,
        epochs=plan.epochs,
        leaves=leaf_exposure(plan, leaves, cfg),
    )


def _save(
    job: PhaseJob, run: Session, plan: Plan, index: int, loss: float, tokenizer: Any
) -> ckpt.Checkpoint:
    """The checkpoint after step `index` (0-based), older ones pruned."""
    cfg = job.config
    meta = ckpt.CheckpointMeta(
        index + 1, plan.steps[index].epoch, run.samples, run.tokens, loss, plan.digest
    )
    full = job.base if cfg.quantize != "none" else None  # QLoRA: merge into full precision
    return ckpt.save(
        job.out, meta, run.model, tokenizer, run.accelerator, cfg.keep_checkpoints, full_base=full
    )


def _log_row(event: StepEvent, step: Step) -> dict[str, Any]:
    return {
        "step": event.step,
        "epoch": step.epoch,
        "loss": event.loss,
        "lr": event.lr,
        "tokens": event.tokens,
        "tokens_per_s": round(event.tokens_per_s, 1),
        "elapsed": round(event.elapsed, 3),
        "samples": step.examples,
    }


def _efficiency(examples: list[Rendered], plan: Plan, cfg: TrainConfig) -> float:
    """Packing efficiency from the plan, for a resumed phase with no steps left to run."""
    real = sum(len(examples[i].input_ids) for s in plan.steps for i in s.examples)
    processed = 0
    for s in plan.steps:
        for mb in s.micro_batches:
            widths = [sum(len(examples[i].input_ids) for i in row) for row in mb]
            processed += max(widths) * len(widths)
    return real / processed if processed else 0.0


def _step(
    model: Any,
    optimizer: Any,
    accelerator: Any,
    examples: list[Rendered],
    step: Step,
    pad: int,
    cfg: TrainConfig,
) -> tuple[float, int, int]:
    """One optimizer step; returns (mean loss per trained token, real tokens, processed)."""
    batches = [_batch(examples, mb, pad, cfg.packing) for mb in step.micro_batches]
    trained = sum(b.trained_tokens for b in batches)
    world = accelerator.num_processes
    mine = batches[accelerator.process_index :: world]
    # Every process must run the same number of backward passes (DDP/FSDP synchronise on
    # them); one with fewer micro-batches repeats its first with zero weight.
    rounds = -(-len(batches) // world)
    padded = mine + [mine[0] if mine else batches[0]] * (rounds - len(mine))
    total = torch.zeros((), device=accelerator.device)
    for k, batch in enumerate(padded):
        weight = 0.0 if k >= len(mine) else world / max(trained, 1)
        sync = k == len(padded) - 1
        ctx = accelerator.no_sync(model) if not sync else contextlib.nullcontext()
        with ctx, accelerator.autocast():
            summed = _loss_sum(model, batch, accelerator.device)
            accelerator.backward(summed * weight)
        if weight:
            total += summed.detach()
    if cfg.max_grad_norm:
        accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    total = accelerator.reduce(total, reduction="sum")
    tokens = sum(b.tokens for b in batches)
    processed = sum(b.processed_tokens for b in batches)
    return float(total) / max(trained, 1), tokens, processed
