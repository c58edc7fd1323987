"""The DPO phase after SFT (the LIONs / OpenBezoar order) on TRL's `DPOTrainer`, over the
SPIN-style pairs of pairs.py.

TRL does the preference optimisation: the sigmoid DPO loss on response log-probabilities
(`dpo_beta`), plus `dpo_rpo_alpha` times the mean NLL of the chosen replies (RPO, TRL's
`loss_type=["sigmoid", "sft"]`). Plain DPO only asks the chosen reply to beat the rejected
one, which it can do by pushing both down; with SPIN pairs, whose rejected side is the
model's own reply, that lowers the likelihood of the good answers too. The NLL term keeps
them rising. The phase has its own learning rate (`dpo_lr`); with `lora` TRL trains peft
adapters and the reference is the base with adapters off; with `quantize: 4bit`, QLoRA.

The reference log-probs are computed once, before the first step (TRL's
`precompute_ref_log_probs`), from the model as loaded: no second model in memory, and a
resumed run scores against the same reference.

What stays here is the phase's contract: located errors for bad pair rows, pairs with a
side over `max_tokens` dropped and counted (never cut), TrainConfig's batch size (pairs per
optimizer step, reached by gradient accumulation), the step log and progress events,
resume from TRL's checkpoints (refused over changed data or settings), and the final
checkpoint as a Hugging Face folder under `<out>/checkpoints/` like every phase's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from trainer.data.render import RenderError, render
from trainer.data.rows import DataError
from trainer.train import checkpoint as ckpt
from trainer.train.config import TrainConfig
from trainer.train.pairs import Pair, read_pairs
from trainer.train.schedule import warmup_steps
from trainer.train.session import LOG, RunLog, TrainError, load_for_training, write_on_main

TRAINER = "trainer"  # TRL's own checkpoints (resume state) under the phase folder
STAMP = "dpo_plan.json"  # what the checkpoints in TRAINER were trained on


@dataclass(frozen=True)
class DPOJob:
    name: str
    base: Path  # the SFT checkpoint: the policy starts here, and it is the frozen reference
    data: Path  # JSONL pairs (trainer.train.pairs)
    out: Path
    config: TrainConfig  # dpo_lr, dpo_beta, dpo_rpo_alpha, batch_size, epochs, lora, ...
    resume: bool = False


@dataclass(frozen=True)
class DPOStepEvent:
    phase: str
    step: int  # 1-based, of `total`
    total: int
    loss: float  # DPO loss plus dpo_rpo_alpha times the chosen replies' NLL
    lr: float
    tokens: int
    tokens_per_s: float
    elapsed: float
    accuracy: float  # share of pairs with chosen reward > rejected reward (before the update)
    margin: float  # mean reward margin, chosen minus rejected
    chosen_reward: float
    rejected_reward: float
    chosen_logp: float  # mean summed log-prob of the chosen replies under the policy
    rejected_logp: float


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


@dataclass(frozen=True)
class PairRows:
    rows: list[dict[str, Any]]  # TRL's conversational preference format
    dropped: int  # pairs with a side over max_tokens
    digest: str  # of the pairs file


def trl_row(pair: Pair) -> dict[str, Any]:
    """A pair in TRL's conversational format: the prompt's messages, then one assistant
    message per side (TRL renders each through the model's chat template)."""
    return {
        "prompt": pair.prompt,
        "chosen": [{"role": "assistant", "content": pair.chosen}],
        "rejected": [{"role": "assistant", "content": pair.rejected}],
    }


def read_pair_rows(path: Path, tokenizer: Any, max_tokens: int) -> PairRows:
    """The pairs of a file for TRL; a pair that cannot be rendered fails with its
    file:line, and one with a side over `max_tokens` is dropped and counted."""
    try:
        numbered = read_pairs(path)
    except DataError as exc:
        raise TrainError(str(exc)) from exc
    rows, dropped = [], 0
    for n, pair in numbered:
        try:
            sides = [
                render(tokenizer, [*pair.prompt, {"role": "assistant", "content": text}])
                for text in (pair.chosen, pair.rejected)
            ]
        except RenderError as exc:
            raise TrainError(f"{path}:{n}: cannot train on this pair: {exc}") from exc
        if max(len(side.input_ids) for side in sides) > max_tokens:
            dropped += 1
        else:
            rows.append(trl_row(pair))
    if not rows:
        raise TrainError(f"{path}: no trainable pairs (dropped {dropped} over {max_tokens} tokens)")
    return PairRows(rows, dropped, hashlib.sha256(path.read_bytes()).hexdigest())


@dataclass(frozen=True)
class Batches:
    """How TrainConfig's batch size maps onto TRL's: pairs per forward pass and process,
    gradient accumulation up to at least `batch_size` pairs per optimizer step."""

    per_device: int
    accumulation: int
    steps: int  # optimizer steps in the phase
    samples: int  # pairs trained on, over every epoch

    @classmethod
    def plan(cls, pairs: int, cfg: TrainConfig, world: int) -> Batches:
        per_device = cfg.micro_batch_rows
        accumulation = math.ceil(cfg.batch_size / (per_device * world))
        batches = math.ceil(pairs / (per_device * world))  # per process and epoch
        per_epoch = math.ceil(batches / accumulation)  # as transformers' Trainer counts
        steps = per_epoch * cfg.epochs
        if cfg.max_steps is not None:
            steps = min(steps, cfg.max_steps)
        full, rest = divmod(steps, per_epoch)
        samples = full * pairs + min(rest * accumulation * per_device * world, pairs)
        return cls(per_device, accumulation, steps, samples)


def dpo_trainer(job: DPOJob, rows: list[dict[str, Any]], callbacks: list[Any]) -> Any:
    """TRL's DPOTrainer for the phase (the reference log-probs computed on construction)."""
    from accelerate import PartialState
    from datasets import Dataset
    from transformers import AutoTokenizer, PrinterCallback
    from trl.trainer.dpo_config import DPOConfig
    from trl.trainer.dpo_trainer import DPOTrainer

    cfg = job.config
    cuda = torch.cuda.is_available()
    precision = cfg.mixed_precision if cfg.mixed_precision != "auto" else ("bf16" if cuda else "no")
    batches = Batches.plan(len(rows), cfg, PartialState().num_processes)
    args = DPOConfig(
        output_dir=str(job.out / TRAINER),
        learning_rate=cfg.dpo_lr,
        beta=cfg.dpo_beta,
        loss_type=["sigmoid", "sft"] if cfg.dpo_rpo_alpha else ["sigmoid"],
        loss_weights=[1.0, cfg.dpo_rpo_alpha] if cfg.dpo_rpo_alpha else None,
        per_device_train_batch_size=batches.per_device,
        gradient_accumulation_steps=batches.accumulation,
        max_steps=batches.steps,
        lr_scheduler_type="cosine" if cfg.schedule == "cosine" else "constant_with_warmup",
        warmup_steps=warmup_steps(cfg.warmup_steps, batches.steps),
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm or 0.0,
        seed=cfg.seed,
        bf16=precision == "bf16",
        use_cpu=not cuda,
        activation_checkpointing=False,
        precompute_ref_log_probs=True,
        max_length=None,  # over-long pairs were dropped and counted, never cut
        save_strategy="steps" if cfg.save_every else "epoch",  # as SFT: 0 = each epoch's end
        save_steps=cfg.save_every or 500,
        save_total_limit=cfg.keep_checkpoints,
        logging_steps=1,
        report_to=[],
        disable_tqdm=True,
    )
    peft_config = None
    if cfg.lora:
        from trainer.train.loop import lora_config

        peft_config = lora_config(cfg)
    tokenizer = AutoTokenizer.from_pretrained(job.base, local_files_only=True)
    trainer = DPOTrainer(
        model=load_for_training(job.base, cfg),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # prints every log dict to stdout
    return trainer


def _plan_stamp(job: DPOJob, digest: str) -> str:
    body = json.dumps([digest, asdict(job.config)], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _resume_step(job: DPOJob, stamp: str) -> int:
    """The optimizer step TRL's latest checkpoint holds (0: a fresh start); refuses to
    continue another run's checkpoints, or to overwrite them without resume."""
    found = sorted(
        (int(p.name.split("-")[1]), p) for p in (job.out / TRAINER).glob("checkpoint-[0-9]*")
    )
    if not found:
        return 0
    step, last = found[-1]
    if not job.resume:
        raise TrainError(
            f"{job.out} already holds checkpoints of phase {job.name}; resume it "
            "(resume=True) or choose another output folder"
        )
    recorded = job.out / STAMP
    if not recorded.is_file() or recorded.read_text() != stamp:
        raise TrainError(
            f"cannot resume phase {job.name} from {last}: its data or settings changed; "
            "start it again in a new --out"
        )
    return step


def train_dpo(job: DPOJob, on_step: Callable[[DPOStepEvent], None] | None = None) -> DPOResult:
    from transformers import AutoTokenizer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(job.base, local_files_only=True)
    pairs = read_pair_rows(job.data, tokenizer, job.config.max_tokens)
    stamp = _plan_stamp(job, pairs.digest)
    first = _resume_step(job, stamp)
    write_on_main(job.out / STAMP, stamp)
    steps = _Steps(job.name, RunLog(job.out / LOG, job.name, first), on_step)
    with _quiet():
        trainer = dpo_trainer(job, pairs.rows, [steps.callback()])
        trainer.train(resume_from_checkpoint=True if first else None)
    total = int(trainer.state.max_steps)
    logged = [json.loads(line) for line in (job.out / LOG).read_text().splitlines()]
    meta = ckpt.CheckpointMeta(
        step=total,
        epoch=max(0, math.ceil(trainer.state.epoch or 0) - 1),
        samples=Batches.plan(
            len(pairs.rows), job.config, trainer.accelerator.num_processes
        ).samples,
        tokens=sum(int(row["tokens"]) for row in logged),
        loss=float(logged[-1]["loss"]) if logged else float("nan"),
        plan=stamp,
    )
    full = job.base if job.config.quantize != "none" else None
    last = ckpt.save(
        job.out,
        meta,
        trainer.model_wrapped,
        tokenizer,
        trainer.accelerator,
        job.config.keep_checkpoints,
        full_base=full,
        state=False,  # TRL's checkpoints under TRAINER hold the resume state
    )
    return DPOResult(
        name=job.name,
        samples=meta.samples,
        tokens=meta.tokens,
        steps=total,
        final_loss=meta.loss,
        final_accuracy=steps.last.accuracy if steps.last else float("nan"),
        final_margin=steps.last.margin if steps.last else float("nan"),
        tokens_per_s=steps.tokens / steps.busy if steps.busy else 0.0,
        checkpoint=str(last.path),
        dropped_too_long=pairs.dropped,
        seconds=time.perf_counter() - started,
    )


class _Steps:
    """TRL's per-step logs as DPOStepEvents and lines of the phase's step log."""

    def __init__(
        self, phase: str, log: RunLog, on_step: Callable[[DPOStepEvent], None] | None
    ) -> None:
        self.phase, self.log, self.on_step = phase, log, on_step
        self.t0 = time.perf_counter()
        self.tick = self.t0
        self.seen = 0  # TRL's running token count (restarts at 0 in each process)
        self.tokens, self.busy = 0, 0.0
        self.last: DPOStepEvent | None = None

    def callback(self) -> Any:
        from transformers import TrainerCallback

        steps = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                steps.tick = time.perf_counter()

            def on_log(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                logs = kw.get("logs") or {}
                if "rewards/margins" in logs:
                    steps.record(state, logs)

        return Callback()

    def record(self, state: Any, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        tokens = int(logs["num_tokens"]) - self.seen
        self.seen = int(logs["num_tokens"])
        self.tokens += tokens
        self.busy += now - self.tick
        event = DPOStepEvent(
            self.phase,
            int(state.global_step),
            int(state.max_steps),
            float(logs["loss"]),
            float(logs["learning_rate"]),
            tokens,
            tokens / max(now - self.tick, 1e-9),
            now - self.t0,
            float(logs["rewards/accuracies"]),
            float(logs["rewards/margins"]),
            float(logs["rewards/chosen"]),
            float(logs["rewards/rejected"]),
            float(logs["logps/chosen"]),
            float(logs["logps/rejected"]),
        )
        self.last = event
        if state.is_world_process_zero:
            row = asdict(event)
            del row["phase"], row["total"]
            self.log.write({**row, "tokens_per_s": round(event.tokens_per_s, 1)})
        if self.on_step:
            self.on_step(event)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No progress bars from datasets, TRL or transformers: the bot reports progress."""
    import datasets
    from transformers.utils import logging as hf_logging

    bars = datasets.utils.logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"  # TRL's reference log-prob pass reads it
    # "mtime may not be reliable": said whenever two checkpoints are under 1 s apart
    ordering = logging.getLogger("transformers.trainer_utils")
    level = ordering.level
    ordering.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # TRL's own call of a name transformers 5 renamed: nothing a user can change
            warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated")
            yield
    finally:
        ordering.setLevel(level)
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before
        if bars:
            datasets.enable_progress_bars()


__all__ = ["DPOJob", "DPOResult", "DPOStepEvent", "read_pair_rows", "train_dpo"]
