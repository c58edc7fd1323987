"""The tests' tiny random Llama (trainer/models/tiny.py): the test corpus, peaked next-token
distributions (a large init scale), built in seconds."""

from __future__ import annotations

from pathlib import Path

from trainer.models import tiny
from trainer.models.tiny import CHATML

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? The capital of France is Paris.",
    "Rivers flow into the sea; mountains rise above the clouds.",
    "Name three colours: red, green and blue. Numbers: 1 2 3 4 5 6 7 8 9 10.",
    "A taxonomy organises knowledge and skills into a tree of leaves.",
] * 20


def build_tiny_model(
    out: Path, *, seed: int = 0, chat_template: str | None = CHATML, max_positions: int = 256
) -> Path:
    return tiny.build_tiny_model(
        out,
        CORPUS,
        seed=seed,
        max_positions=max_positions,
        init_range=0.5,
        chat_template=chat_template,
    )
