"""A tiny Llama and small JSONL data sets for training tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tiny import build_tiny_model


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base"))


def conversation(i: int) -> dict[str, object]:
    return {
        "messages": [
            {"role": "user", "content": f"What is the capital of France? ({i})"},
            {"role": "assistant", "content": "The capital of France is Paris." + " red" * (i % 4)},
        ]
    }


def write_rows(path: Path, n: int, start: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(conversation(start + i)) + "\n" for i in range(n)))
    return path
