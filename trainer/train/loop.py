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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from trainer.data.pack import Batch, MaskMode, collate, collate_padded
from trainer.data.render import IGNORE, Rendered, RenderError, render
from trainer.train import checkpoint as ckpt
from trainer.train.config import TrainConfig
from trainer.train.plan import Plan, Step, make_plan
from trainer.train.schedule import lr_factor

LOG = "train_log.jsonl"


class TrainError(RuntimeError):
    """A phase cannot run (bad data, nothing to resume, changed plan); said for humans."""


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


@dataclass(frozen=True)
class PhaseJob:
    name: str
    base: Path  # Hugging Face model folder to start from
    data: Path  # JSONL of {"messages": [...]} rows
    out: Path
    config: TrainConfig
    resume: bool = False


def read_examples(path: Path, tokenizer: Any, max_tokens: int) -> tuple[list[Rendered], int, str]:
    """Rendered rows (too-long ones dropped and counted) and a digest of the file."""
    raw = path.read_bytes()
    examples, dropped = [], 0
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
    if not examples:
        raise TrainError(f"{path}: no trainable rows (dropped {dropped} over {max_tokens} tokens)")
    return examples, dropped, hashlib.sha256(raw).hexdigest()


def with_lora(model: Any, cfg: TrainConfig) -> Any:
    """Low-rank adapters on every linear layer (OpenBezoar's recipe); the base stays frozen."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def _mask_mode(config: TrainConfig, model: Any) -> MaskMode:
    if config.attention != "auto":
        return config.attention
    impl = getattr(model.config, "_attn_implementation", "")
    return "varlen" if str(impl).startswith("flash_attention") else "block"


def _batch(
    examples: list[Rendered],
    rows: tuple[tuple[int, ...], ...],
    pad: int,
    mode: MaskMode,
    packing: bool,
) -> Batch:
    if packing:
        return collate([[examples[i] for i in row] for row in rows], pad, mode)
    return collate_padded([examples[row[0]] for row in rows], pad)


def _loss_sum(model: Any, batch: Batch, device: torch.device) -> torch.Tensor:
    kwargs = {
        "input_ids": batch.input_ids.to(device),
        "position_ids": batch.position_ids.to(device),
    }
    if batch.attention_mask is not None:
        kwargs["attention_mask"] = batch.attention_mask.to(device)
    logits = model(**kwargs).logits[:, :-1].float()
    targets = batch.labels[:, 1:].to(device)
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )


def train_phase(job: PhaseJob, on_step: Callable[[StepEvent], None] | None = None) -> PhaseResult:
    from accelerate import Accelerator
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = job.config
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(job.base, local_files_only=True)
    examples, dropped, digest = read_examples(job.data, tokenizer, cfg.max_tokens)
    plan = make_plan([len(e.input_ids) for e in examples], cfg, digest)
    done = ckpt.checkpoints(job.out)
    start_from = done[-1] if done else None
    if start_from and not job.resume:
        raise TrainError(
            f"{job.out} already holds checkpoints of phase {job.name}; pass --resume to "
            "continue it, or choose another --out"
        )
    if start_from and (start_from.meta.plan != plan.digest or not start_from.resumable):
        raise TrainError(
            f"cannot resume phase {job.name} from {start_from.path}: "
            + ("its data or settings changed" if start_from.resumable else "no training state")
            + "; start it again in a new --out"
        )
    cuda = torch.cuda.is_available()
    precision = cfg.mixed_precision if cfg.mixed_precision != "auto" else ("bf16" if cuda else "no")
    accelerator = Accelerator(mixed_precision=precision, cpu=not cuda)
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(
        job.base, local_files_only=True, dtype=torch.float32
    )
    model.config.use_cache = False
    if cfg.lora:
        model = with_lora(model, cfg)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_factor(cfg.schedule, cfg.warmup_steps, len(plan.steps))
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(schedule)
    first, totals = 0, {"samples": 0, "tokens": 0}
    if start_from:
        accelerator.load_state(str(start_from.path / ckpt.STATE))
        first = start_from.meta.step
        totals = {"samples": start_from.meta.samples, "tokens": start_from.meta.tokens}
    log = _Log(job.out / LOG, job.name, first)
    mode = _mask_mode(cfg, accelerator.unwrap_model(model))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    saves = _save_points(plan, cfg)
    model.train()
    loss = start_from.meta.loss if start_from else float("nan")
    processed, real, t0 = 0, 0, time.perf_counter()
    last: ckpt.Checkpoint | None = start_from
    for index in range(first, len(plan.steps)):
        step = plan.steps[index]
        tick = time.perf_counter()
        loss, tokens, seen = _step(model, optimizer, accelerator, examples, step, pad, mode, cfg)
        lr = float(optimizer.param_groups[0]["lr"])  # the rate this step used
        schedule.step()
        processed += seen
        real += tokens
        totals["samples"] += len(step.examples)
        totals["tokens"] += tokens
        now = time.perf_counter()
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
        log.write(event, step)
        if on_step:
            on_step(event)
        if index + 1 in saves:
            meta = ckpt.CheckpointMeta(
                index + 1, step.epoch, totals["samples"], totals["tokens"], loss, plan.digest
            )
            last = ckpt.save(job.out, meta, model, tokenizer, accelerator, cfg.keep_checkpoints)
    if last is None:
        raise TrainError(f"phase {job.name}: the plan has no steps")
    wall = time.perf_counter() - t0
    return PhaseResult(
        name=job.name,
        samples=plan.samples,
        tokens=totals["tokens"],
        processed_tokens=processed,
        steps=len(plan.steps),
        final_loss=last.meta.loss,
        tokens_per_s=real / wall if real else 0.0,
        packing_efficiency=real / processed if processed else _efficiency(examples, plan, cfg),
        checkpoint=str(last.path),
        dropped_too_long=dropped,
        seconds=time.perf_counter() - started,
    )


def _save_points(plan: Plan, cfg: TrainConfig) -> set[int]:
    n = len(plan.steps)
    if cfg.save_every:
        points = set(range(cfg.save_every, n + 1, cfg.save_every))
    else:  # the last step of every epoch
        points = {
            i + 1
            for i, s in enumerate(plan.steps)
            if i + 1 == n or plan.steps[i + 1].epoch != s.epoch
        }
    return points | {n}


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
    mode: MaskMode,
    cfg: TrainConfig,
) -> tuple[float, int, int]:
    """One optimizer step; returns (mean loss per trained token, real tokens, processed)."""
    batches = [_batch(examples, mb, pad, mode, cfg.packing) for mb in step.micro_batches]
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


class _Log:
    """The JSONL step log; on resume, lines past the checkpoint (lost work) are dropped,
    so the log lists exactly the samples the saved model has seen, each once."""

    def __init__(self, path: Path, phase: str, resume_step: int) -> None:
        self.path, self.phase = path, phase
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    if json.loads(line).get("step", 0) <= resume_step:
                        kept.append(line)
                except ValueError:
                    break  # a torn last line from a kill
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        tmp.replace(path)

    def write(self, event: StepEvent, step: Step) -> None:
        row = {
            "phase": self.phase,
            "step": event.step,
            "epoch": step.epoch,
            "loss": event.loss,
            "lr": event.lr,
            "tokens": event.tokens,
            "tokens_per_s": round(event.tokens_per_s, 1),
            "elapsed": round(event.elapsed, 3),
            "samples": step.examples,
        }
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
