"""What the training phases share: the model as loaded for training (attention, QLoRA),
the SFT loop's resume decision, optimizer and schedule under accelerate, the step log,
and when to save.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainer.train import checkpoint as ckpt
from trainer.train.config import TrainConfig
from trainer.train.plan import Plan
from trainer.train.schedule import lr_factor, warmup_steps

LOG = "train_log.jsonl"


class TrainError(RuntimeError):
    """A phase cannot run (bad data, nothing to resume, changed plan); said for humans."""


def resume_point(out: Path, phase: str, plan: Plan, resume: bool) -> ckpt.Checkpoint | None:
    """The checkpoint to continue from, or None for a fresh start; refuses to mix runs."""
    done = ckpt.checkpoints(out)
    if not done:
        return None
    last = done[-1]
    if not resume:
        raise TrainError(
            f"{out} already holds checkpoints of phase {phase}; resume it "
            "(resume=True) or choose another output folder"
        )
    if last.meta.plan != plan.digest or not last.resumable:
        raise TrainError(
            f"cannot resume phase {phase} from {last.path}: "
            + ("its data or settings changed" if last.resumable else "no training state")
            + "; start it again in a new --out"
        )
    return last


@dataclass
class Session:
    accelerator: Any
    model: Any
    optimizer: Any
    schedule: Any
    first_step: int  # steps already done (0 for a fresh start)
    samples: int  # samples already trained on
    tokens: int  # real tokens already processed


def attention_implementation(cfg: TrainConfig) -> str:
    """The transformers attention for `train.attention`, or a TrainError saying why it cannot
    run here. Packed rows reach every implementation the same way (position ids restarting
    at each example, no mask, no KV cache): transformers turns the restarts into a
    block-diagonal causal mask for sdpa and eager, and into cu_seqlens for flash-attention."""
    flash = _flash_attention()
    if cfg.attention == "auto":
        # flash-attention splits only a single flattened row at the restarts
        one_row = cfg.micro_batch_rows == 1 or not cfg.packing
        return flash if flash and one_row else "sdpa"
    if cfg.attention == "varlen":
        if not flash:
            raise TrainError(
                "train.attention: varlen needs flash-attention on a CUDA GPU ("
                + ("flash-attn is not installed" if torch.cuda.is_available() else "no CUDA GPU")
                + "); use attention: auto, sdpa or eager"
            )
        return flash
    return cfg.attention


def _flash_attention() -> str | None:
    from transformers.utils.import_utils import (
        is_flash_attn_2_available,
        is_flash_attn_3_available,
    )

    if is_flash_attn_3_available():
        return "flash_attention_3"
    return "flash_attention_2" if is_flash_attn_2_available() else None


def check_hardware(cfg: TrainConfig) -> None:
    """Refuse, before any work, settings this machine cannot train with."""
    attention_implementation(cfg)
    if cfg.quantize == "4bit":
        from transformers.utils.import_utils import is_bitsandbytes_available

        missing = [
            what
            for what, ok in (
                ("a CUDA GPU", torch.cuda.is_available()),
                ("bitsandbytes (pip install bitsandbytes)", is_bitsandbytes_available()),
            )
            if not ok
        ]
        if missing:
            raise TrainError(
                "train.quantize: 4bit (QLoRA) needs "
                + " and ".join(missing)
                + ", which this machine lacks; use quantize: none (lora: true still trains "
                "adapters, on a full-precision base)"
            )


def load_for_training(base: Path, cfg: TrainConfig) -> Any:
    """The model a phase trains: fp32 weights (autocast gives bf16 on GPU), the attention
    `train.attention` names, no KV cache; with `quantize: 4bit`, an NF4 base (QLoRA) ready
    for adapters."""
    from transformers import AutoModelForCausalLM

    check_hardware(cfg)
    kwargs: dict[str, Any] = {"attn_implementation": attention_implementation(cfg)}
    if cfg.quantize == "4bit":
        from accelerate import PartialState
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["device_map"] = {"": PartialState().local_process_index}
        kwargs["dtype"] = torch.bfloat16
    else:
        kwargs["dtype"] = torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True, **kwargs)
    model.config.use_cache = False
    if cfg.quantize == "4bit":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
            model, use_gradient_checkpointing=False
        )
    return model


def open_session(
    base: Path,
    cfg: TrainConfig,
    plan: Plan,
    start_from: ckpt.Checkpoint | None,
    *,
    wrap: Callable[[Any], Any] | None = None,
) -> Session:
    """Load `base`, wrap it (e.g. LoRA), prepare it with accelerate (bf16 autocast on GPU),
    then load the saved state when resuming."""
    from accelerate import Accelerator

    cuda = torch.cuda.is_available()
    precision = cfg.mixed_precision if cfg.mixed_precision != "auto" else ("bf16" if cuda else "no")
    accelerator = Accelerator(mixed_precision=precision, cpu=not cuda)
    torch.manual_seed(cfg.seed)
    model = load_for_training(base, cfg)
    if wrap is not None:
        model = wrap(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = len(plan.steps)
    factor = lr_factor(cfg.schedule, warmup_steps(cfg.warmup_steps, total), total)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(schedule)
    session = Session(accelerator, model, optimizer, schedule, 0, 0, 0)
    if start_from:
        accelerator.load_state(str(start_from.path / ckpt.STATE))
        session.first_step = start_from.meta.step
        session.samples, session.tokens = start_from.meta.samples, start_from.meta.tokens
    return session


def save_points(plan: Plan, cfg: TrainConfig) -> set[int]:
    """Steps after which to checkpoint: every `save_every`, else each epoch's end; always
    the last."""
    n = len(plan.steps)
    if cfg.save_every:
        points = set(range(cfg.save_every, n + 1, cfg.save_every))
    else:
        points = {
            i + 1
            for i, s in enumerate(plan.steps)
            if i + 1 == n or plan.steps[i + 1].epoch != s.epoch
        }
    return points | {n}


class RunLog:
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

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps({"phase": self.phase, **row}) + "\n")


def main_process() -> bool:
    """True in the process that writes shared files (the only one without a launcher)."""
    from accelerate import PartialState

    return bool(PartialState().is_main_process)


def barrier() -> None:
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def write_on_main(path: Path, text: str) -> None:
    """Write a shared file once, atomically, and let every process continue after it."""
    from trainer.sdg.store import write_atomic

    if main_process():
        write_atomic(path, text)
    barrier()
