"""The embedded SmolLM2 model end to end: conversion into a fresh cache, then real answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from trainer.models import GenerationParams, load_model, local_model_dir, model_fingerprint
from trainer.models.embedded import MARKER, embedded_model_dir

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One fresh cache for the module: the ~30 s conversion happens once, in the first test."""
    return tmp_path_factory.mktemp("embedded-cache")


def test_convert_once_then_answer(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_CACHE", str(cache))
    before = model_fingerprint("embedded", device="cpu")  # known before any conversion
    assert not (cache / "models").exists()
    path, weights_id = embedded_model_dir()
    assert "GGUF tensors" not in capfd.readouterr().err  # no tqdm bar of transformers' own
    assert path == cache / "models" / "smollm2-135m-instruct"
    assert (path / MARKER).is_file() and (path / "tokenizer.json").is_file()
    assert (path / "model.safetensors").is_file() and (path / "chat_template.jinja").is_file()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    start = time.monotonic()
    assert local_model_dir("embedded") == path  # cached: no second conversion
    model = load_model("embedded", device="cpu")
    assert time.monotonic() - start < 15
    assert model.fingerprint == f"transformers:float32:{weights_id}" == before
    assert model_fingerprint("embedded", device="cpu") == before

    [answer] = model.generate([QUESTION], GenerationParams(max_new_tokens=24))
    assert "Paris" in answer.text and answer.finish_reason == "stop"
    paris, london = model.loglikelihood(
        [
            (QUESTION, "The capital of France is Paris."),
            (QUESTION, "The capital of France is London."),
        ]
    )
    assert paris.logprob > london.logprob and paris.is_greedy


def test_batched_answers_match_single_ones(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_CACHE", str(cache))
    model = load_model("embedded", device="cpu")
    questions = [
        [{"role": "user", "content": q}]
        for q in (
            "Name three primary colours.",
            "What is 2 + 2?",
            "Write one sentence about rivers.",
        )
    ]
    params = GenerationParams(max_new_tokens=24)
    assert model.generate(questions, params) == [model.generate([q], params)[0] for q in questions]
