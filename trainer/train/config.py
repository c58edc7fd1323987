"""Training knobs: one frozen dataclass, its defaults documented (bot.yaml `train:`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-4  # peak learning rate (LAB used 2e-5 at 7B; small models take more)
    warmup_steps: int = 5  # linear warm-up from 0, then the schedule
    schedule: Literal["constant", "cosine"] = "constant"  # LAB: constant after warm-up
    batch_size: int = 8  # samples per optimizer step (gradient accumulation reaches it)
    max_tokens: int = 2048  # longest example trained on; longer ones are dropped, counted
    pack_tokens: int = 512  # tokens per packed row (a longer example gets a row of its own)
    micro_batch_rows: int = 1  # rows per forward pass (>1 pads the shorter rows)
    epochs: int = 1
    # A phase whose data makes fewer optimizer steps trains more epochs (up to max_epochs):
    # one merged leaf's rows make 1-2 steps, which teach its format and not its content.
    min_steps: int = 0
    max_epochs: int = 8  # caps only what min_steps adds: `epochs` above it stand
    # LAB's knowledge phase: examples with at most short_tokens trained (answer) tokens
    # first, every epoch of them, then the longer ones. 0: one shuffled pool.
    short_tokens: int = 0
    max_steps: int | None = None  # stop early (after this many optimizer steps in the phase)
    save_every: int = 0  # optimizer steps between checkpoints; 0: at the end of each epoch
    keep_checkpoints: int = 3  # older checkpoints are deleted; the latest keeps full state
    choose_checkpoint: bool = True  # with several checkpoints, pick by benchmark (LAB)
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    packing: bool = True  # False: the padded baseline (one example per row)
    # How packed rows attend (session.attention_implementation): sdpa and eager get the
    # block-diagonal causal mask from the restarting position ids; varlen is flash-attention's
    # variable-length kernel (CUDA + flash-attn); auto: varlen where it can run, else sdpa.
    attention: Literal["auto", "sdpa", "eager", "varlen"] = "auto"
    mixed_precision: Literal["auto", "no", "bf16"] = "auto"  # auto: bf16 on GPU, fp32 on CPU
    lora: bool = False  # train low-rank adapters (peft) instead of all weights
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    quantize: Literal["none", "4bit"] = "none"  # 4bit: QLoRA, an NF4 base (CUDA, bitsandbytes)
    disperse: int = 1  # > 1: disperse-then-merge, K sub-models on K shards of each phase
    merge_method: Literal["average", "ties"] = "average"  # how the K sub-models are merged
    # cluster: K topic clusters of the rows (Disperse-then-Merge); leaf: each leaf spread evenly
    disperse_by: Literal["cluster", "leaf"] = "cluster"
    dpo_lr: float = 5e-6  # the `dpo` phase's own peak learning rate (DPO wants far less than SFT)
    dpo_beta: float = 0.1  # the `dpo` phase (SPIN pairs: own replies rejected)
    dpo_rpo_alpha: float = 1.0  # weight of the NLL on chosen replies (RPO); 0: plain DPO
    dpo_max_pairs: int = 64  # prompts drawn from the last SFT phase's data
    dpo_max_new_tokens: int = 128  # budget of the model's own (rejected) replies

    def __post_init__(self) -> None:
        positive = ("batch_size", "max_tokens", "pack_tokens", "micro_batch_rows", "epochs")
        for name in (*positive, "max_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1")
        if self.lr <= 0 or self.warmup_steps < 0 or self.keep_checkpoints < 1:
            raise ValueError("train.lr must be > 0, warmup_steps >= 0, keep_checkpoints >= 1")
        if self.disperse < 1 or self.dpo_max_pairs < 1 or self.dpo_max_new_tokens < 1:
            raise ValueError("train.disperse, dpo_max_pairs, dpo_max_new_tokens must be >= 1")
        if self.dpo_beta <= 0 or self.dpo_lr <= 0 or self.dpo_rpo_alpha < 0:
            raise ValueError("train.dpo_beta and dpo_lr must be > 0, dpo_rpo_alpha >= 0")
        if self.quantize != "none" and not self.lora:
            raise ValueError(
                f"train.quantize: {self.quantize} trains LoRA adapters; set lora: true"
            )
        if self.attention == "varlen" and self.packing and self.micro_batch_rows > 1:
            # flash-attention splits one flattened row at each position restart; a batch of
            # several rows would be read as one sequence per row, its examples seeing each other
            raise ValueError(
                "train.attention: varlen packs one row per forward pass; set micro_batch_rows: 1"
            )
        if self.min_steps < 0 or self.short_tokens < 0:
            raise ValueError("train.min_steps and short_tokens must be >= 0")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("train.max_steps must be >= 1")
