"""A DPO phase after SFT (the LIONs / OpenBezoar order), on SPIN-style pairs (pairs.py).

Per pair, with log-probabilities summed over the response tokens only:

    loss = -log sigmoid(beta * ((pi(chosen) - ref(chosen)) - (pi(rejected) - ref(rejected))))

`beta * (pi - ref)` is a side's implicit reward; a step reports the mean loss, the share of
pairs whose chosen reward beats the rejected one (accuracy) and the mean reward margin.

The reference is the SFT checkpoint the phase starts from, and it stays frozen, so its
log-probs are computed once, before the first step, by the policy itself (still equal to
it): no second model in memory. Responses are rendered through `render` like SFT rows, so
the scored tokens are exactly those SFT trained on (the reply and its end-of-turn token).
Chosen and rejected sides of a micro-batch go through the model as one padded batch.

Conventions follow loop.py: TrainConfig (batch_size counts pairs, micro_batch_rows pairs per
forward pass, each pair two sequences; packing does not apply), the plan, checkpoints,
resume and the JSONL log. Every process computes every reference log-prob (cheap next to
training; splitting them would need a gather).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from trainer.data.pack import Batch, collate_padded
from trainer.data.render import IGNORE, Rendered, RenderError, render
from trainer.data.rows import DataError
from trainer.train import checkpoint as ckpt
from trainer.train.config import TrainConfig
from trainer.train.loop import token_nll
from trainer.train.pairs import Pair, read_pairs
from trainer.train.plan import Step, make_plan
from trainer.train.session import LOG, RunLog, TrainError, open_session, resume_point, save_points

Example = tuple[Rendered, Rendered]  # (chosen, rejected), each prompt + response


class DPOLoss(NamedTuple):
    losses: torch.Tensor  # per pair
    chosen_rewards: torch.Tensor  # beta * (policy - reference) log-prob of the chosen side
    rejected_rewards: torch.Tensor


@dataclass(frozen=True)
class DPOJob:
    name: str
    base: Path  # the SFT checkpoint: the policy starts here, and it is the frozen reference
    data: Path  # JSONL pairs (trainer.train.pairs)
    out: Path
    config: TrainConfig
    beta: float = 0.1
    resume: bool = False


@dataclass(frozen=True)
class DPOStepEvent:
    phase: str
    step: int  # 1-based, of `total`
    total: int
    loss: float
    lr: float
    tokens: int
    tokens_per_s: float
    elapsed: float
    accuracy: float  # share of pairs with chosen reward > rejected reward (before the update)
    margin: float  # mean reward margin, chosen minus rejected
    chosen_reward: float
    rejected_reward: float


@dataclass(frozen=True)
class DPOResult:
    name: str
    samples: int  # pairs trained on (including repeats over epochs)
    tokens: int  # real tokens processed, both sides
    steps: int
    final_loss: float
    final_accuracy: float  # of the last step run here (nan when a resume had none left)
    final_margin: float
    tokens_per_s: float
    checkpoint: str
    dropped_too_long: int
    seconds: float


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
) -> DPOLoss:
    """The sigmoid DPO loss per pair from summed response log-probs (Rafailov et al.)."""
    chosen = beta * (policy_chosen - reference_chosen)
    rejected = beta * (policy_rejected - reference_rejected)
    return DPOLoss(-F.logsigmoid(chosen - rejected), chosen.detach(), rejected.detach())


def final_reply(example: Rendered) -> Rendered:
    """Labels on the last assistant turn only: in DPO, earlier turns are prompt."""
    labels = example.labels
    end = max((i for i, label in enumerate(labels) if label != IGNORE), default=-1) + 1
    start = end
    while start > 0 and labels[start - 1] != IGNORE:
        start -= 1
    if start == end:
        raise RenderError("the response renders to no trained tokens")
    kept = [IGNORE] * start + list(labels[start:end]) + [IGNORE] * (len(labels) - end)
    return Rendered(example.input_ids, kept)


def render_pair(tokenizer: Any, pair: Pair) -> Example:
    def side(text: str) -> Rendered:
        return final_reply(
            render(tokenizer, [*pair.prompt, {"role": "assistant", "content": text}])
        )

    return side(pair.chosen), side(pair.rejected)


def read_pair_examples(
    path: Path, tokenizer: Any, max_tokens: int
) -> tuple[list[Example], int, str]:
    """Rendered pairs (those with a side over max_tokens dropped and counted), and a digest
    of the file; a bad pair fails with its file:line."""
    try:
        numbered = read_pairs(path)
    except DataError as exc:
        raise TrainError(str(exc)) from exc
    examples, dropped = [], 0
    for n, pair in numbered:
        try:
            example = render_pair(tokenizer, pair)
        except RenderError as exc:
            raise TrainError(f"{path}:{n}: cannot train on this pair: {exc}") from exc
        if max(len(e.input_ids) for e in example) > max_tokens:
            dropped += 1
        else:
            examples.append(example)
    if not examples:
        raise TrainError(f"{path}: no trainable pairs (dropped {dropped} over {max_tokens} tokens)")
    return examples, dropped, hashlib.sha256(path.read_bytes()).hexdigest()


def sequence_logps(model: Any, batch: Batch, device: torch.device) -> torch.Tensor:
    """Summed log-probability of each row's labelled tokens."""
    return -token_nll(model, batch, device).sum(dim=1)


def _forward(
    model: Any, examples: Sequence[Example], pairs: Sequence[int], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(chosen log-probs, rejected log-probs, real tokens) of some pairs, in one batch."""
    batch = collate_padded([examples[i][0] for i in pairs] + [examples[i][1] for i in pairs], pad)
    logps = sequence_logps(model, batch, device)
    return logps[: len(pairs)], logps[len(pairs) :], batch.tokens


def reference_logps(
    model: Any, accelerator: Any, examples: Sequence[Example], pad: int, rows: int
) -> torch.Tensor:
    """(pairs, 2) log-probs of chosen and rejected under the model as it is now."""
    out = torch.empty((len(examples), 2), dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(examples), rows):
            idx = list(range(start, min(start + rows, len(examples))))
            with accelerator.autocast():
                chosen, rejected, _ = _forward(model, examples, idx, pad, accelerator.device)
            out[idx, 0] = chosen.double().cpu()
            out[idx, 1] = rejected.double().cpu()
    model.train()
    return out


def train_dpo(job: DPOJob, on_step: Callable[[DPOStepEvent], None] | None = None) -> DPOResult:
    from transformers import AutoTokenizer

    cfg = job.config
    started = time.perf_counter()
    if job.beta <= 0:
        raise TrainError(f"phase {job.name}: DPO beta must be > 0, not {job.beta}")
    tokenizer = AutoTokenizer.from_pretrained(job.base, local_files_only=True)
    examples, dropped, digest = read_pair_examples(job.data, tokenizer, cfg.max_tokens)
    # One row per pair; beta is part of the data digest, so a resume cannot change it.
    lengths = [max(len(c.input_ids), len(r.input_ids)) for c, r in examples]
    plan = make_plan(lengths, replace(cfg, packing=False), f"dpo:{job.beta!r}:{digest}")
    start_from = resume_point(job.out, job.name, plan, job.resume)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    reference: list[torch.Tensor] = []

    def keep_reference(model: Any, accelerator: Any) -> None:
        # Before any resumed state is loaded: the weights are still the reference's.
        reference.append(reference_logps(model, accelerator, examples, pad, cfg.micro_batch_rows))

    run = open_session(job.base, cfg, plan, start_from, before_resume=keep_reference)
    model, optimizer, accelerator = run.model, run.optimizer, run.accelerator
    first, samples, tokens_total = run.first_step, run.samples, run.tokens
    log = RunLog(job.out / LOG, job.name, first)  # drops log lines past the checkpoint
    saves = save_points(plan, cfg)
    real, t0 = 0, time.perf_counter()
    last: ckpt.Checkpoint | None = start_from
    stats: Mapping[str, float] = {}
    for index in range(first, len(plan.steps)):
        step = plan.steps[index]
        tick = time.perf_counter()
        stats = _step(
            model, optimizer, accelerator, examples, reference[0], step, pad, job.beta, cfg
        )
        lr = float(optimizer.param_groups[0]["lr"])
        run.schedule.step()
        tokens = int(stats["tokens"])
        real += tokens
        samples += len(step.examples)
        tokens_total += tokens
        event = _event(job.name, index, len(plan.steps), stats, lr, tick, t0)
        log.write(_log_line(event, step))
        if on_step:
            on_step(event)
        if index + 1 in saves:
            meta = ckpt.CheckpointMeta(
                index + 1, step.epoch, samples, tokens_total, event.loss, plan.digest
            )
            last = ckpt.save(job.out, meta, model, tokenizer, accelerator, cfg.keep_checkpoints)
    if last is None:
        raise TrainError(f"phase {job.name}: the plan has no steps")
    wall = time.perf_counter() - t0
    return DPOResult(
        name=job.name,
        samples=plan.samples,
        tokens=tokens_total,
        steps=len(plan.steps),
        final_loss=last.meta.loss,
        final_accuracy=stats.get("accuracy", float("nan")),
        final_margin=stats.get("margin", float("nan")),
        tokens_per_s=real / wall if real else 0.0,
        checkpoint=str(last.path),
        dropped_too_long=dropped,
        seconds=time.perf_counter() - started,
    )


def _event(
    name: str,
    index: int,
    steps: int,
    stats: Mapping[str, float],
    lr: float,
    tick: float,
    t0: float,
) -> DPOStepEvent:
    now = time.perf_counter()
    tokens = int(stats["tokens"])
    return DPOStepEvent(
        name,
        index + 1,
        steps,
        stats["loss"],
        lr,
        tokens,
        tokens / max(now - tick, 1e-9),
        now - t0,
        stats["accuracy"],
        stats["margin"],
        stats["chosen"],
        stats["rejected"],
    )


def _log_line(event: DPOStepEvent, step: Any) -> dict[str, Any]:
    return {
        "step": event.step,
        "epoch": step.epoch,
        "loss": event.loss,
        "lr": event.lr,
        "tokens": event.tokens,
        "tokens_per_s": round(event.tokens_per_s, 1),
        "elapsed": round(event.elapsed, 3),
        "accuracy": event.accuracy,
        "margin": event.margin,
        "chosen_reward": event.chosen_reward,
        "rejected_reward": event.rejected_reward,
        "samples": step.examples,
    }


def _step(
    model: Any,
    optimizer: Any,
    accelerator: Any,
    examples: Sequence[Example],
    reference: torch.Tensor,
    step: Step,
    pad: int,
    beta: float,
    cfg: TrainConfig,
) -> dict[str, float]:
    """One optimizer step on the mean loss over the step's pairs; returns its statistics."""
    micro = [[row[0] for row in mb] for mb in step.micro_batches]
    n_pairs = sum(len(mb) for mb in micro)
    world = accelerator.num_processes
    mine = micro[accelerator.process_index :: world]
    # Every process runs the same number of backward passes (see loop._step).
    rounds = -(-len(micro) // world)
    padded = mine + [mine[0] if mine else micro[0]] * (rounds - len(mine))
    device = accelerator.device
    # loss, correct, margin, chosen, rejected (sums over pairs), tokens
    totals = torch.zeros(6, dtype=torch.float64, device=device)
    for k, pairs in enumerate(padded):
        weight = 0.0 if k >= len(mine) else world / n_pairs
        ctx = accelerator.no_sync(model) if k < len(padded) - 1 else contextlib.nullcontext()
        with ctx, accelerator.autocast():
            chosen, rejected, tokens = _forward(model, examples, pairs, pad, device)
            ref = reference[pairs].to(device)
            out = dpo_loss(chosen, rejected, ref[:, 0], ref[:, 1], beta)
            accelerator.backward(out.losses.sum() * weight)
        if weight:
            margins = (out.chosen_rewards - out.rejected_rewards).double()
            totals += torch.stack(
                [
                    out.losses.detach().double().sum(),
                    (margins > 0).double().sum(),
                    margins.sum(),
                    out.chosen_rewards.double().sum(),
                    out.rejected_rewards.double().sum(),
                    torch.tensor(float(tokens), dtype=torch.float64, device=device),
                ]
            )
    if cfg.max_grad_norm:
        accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    loss, correct, margin, chosen_sum, rejected_sum, tokens_sum = accelerator.reduce(
        totals, reduction="sum"
    ).tolist()
    return {
        "loss": loss / n_pairs,
        "accuracy": correct / n_pairs,
        "margin": margin / n_pairs,
        "chosen": chosen_sum / n_pairs,
        "rejected": rejected_sum / n_pairs,
        "tokens": tokens_sum,
    }
