"""The tiny random Llama `bot simulate --fast` plays the lifecycle with
(trainer/models/tiny.py), trained on nothing: it says nothing sensible."""

from __future__ import annotations

from pathlib import Path

TEXT = [
    "A taxonomy is a tree of leaves; each leaf teaches the model a skill or some knowledge.",
    "Question: what is the opposite of hot? Answer: the opposite of hot is cold.",
    "Convert 3 kilometres to metres: 3 km is 3000 m. One hour has 60 minutes.",
] * 10


def build(out: Path, seed: int = 0) -> Path:
    """Write the model folder (once; an existing one is reused) and return it."""
    from trainer.models.tiny import build_tiny_model

    return build_tiny_model(out, TEXT, seed=seed, vocab_size=400, max_positions=2048)
