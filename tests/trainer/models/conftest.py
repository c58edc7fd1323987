"""The tests' tiny random Llama (trainer/models/tiny.py) and a server for it.

Weights are drawn with a large init scale so next-token distributions are peaked: greedy
choices then never hinge on float noise, which the batched-vs-single tests rely on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tiny import build_tiny_model
from trainer.models import ChatModel, load_model
from trainer.models.server import ModelServer, make_server


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny(tiny_dir: Path) -> Iterator[ChatModel]:
    model = load_model(f"hf:{tiny_dir}", device="cpu")
    yield model
    model.close()


@pytest.fixture(scope="session")
def tiny_server(tiny: ChatModel) -> Iterator[ModelServer]:
    """`bot serve`'s server for the tiny model on a free loopback port, in a thread."""
    server = make_server(tiny, "127.0.0.1", 0, model_id="tiny")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.close()
    thread.join(timeout=10)


CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name three colours, then count from one to ten."},
    ],
    [{"role": "user", "content": "Hi"}],
    [
        {"role": "user", "content": "Rivers flow into the sea."},
        {"role": "assistant", "content": "And mountains rise."},
        {"role": "user", "content": "Tell me about a taxonomy of knowledge and skills."},
    ],
    [
        {"role": "user", "content": "The quick brown fox"},
        {"role": "assistant", "content": "jumps over"},
    ],  # continued, not answered
]
