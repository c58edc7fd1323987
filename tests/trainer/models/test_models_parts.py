"""Pure parts: batch planning, seeds, parameters, stop strings, retry timing, cache files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainer.models import GenerationParams, ModelError, load_model, local_model_dir
from trainer.models.base import GREEDY, derive_seeds, find_stop, sampling_fields
from trainer.models.batching import plan_batches
from trainer.models.embedded import MARKER, _read_marker, gguf_path
from trainer.models.openai import OpenAIChatModel


@given(st.lists(st.integers(1, 300), max_size=60), st.integers(1, 2000), st.integers(0, 64))
def test_plan_batches_partitions_within_budget(lengths: list[int], budget: int, extra: int) -> None:
    batches = plan_batches(lengths, budget, extra=extra)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        cost = len(batch) * (max(lengths[i] for i in batch) + extra)
        assert cost <= budget or len(batch) == 1
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat, reverse=True)  # longest first: memory errors surface early


def test_plan_batches_packs_and_respects_widths() -> None:
    assert plan_batches([10, 10, 10, 10], 40) == [[0, 1, 2, 3]]
    assert plan_batches([10, 10, 10, 10], 40, extra=10) == [[0, 1], [2, 3]]
    assert plan_batches([5, 30, 5], 40) == [[1], [0, 2]]
    assert plan_batches([10, 10, 10], 100, widths=[4, 4, 9], width_budget=10) == [[0, 1], [2]]
    assert plan_batches([], 10) == []
    with pytest.raises(ValueError):
        plan_batches([1], 0)


def test_derived_seeds_depend_on_content_not_neighbours() -> None:
    a = [{"role": "user", "content": "a"}]
    b = [{"role": "user", "content": "b"}]
    seeds = derive_seeds([a, b, a], 0)
    assert derive_seeds([b, a], 0) == [seeds[1], seeds[0]]
    assert seeds[0] != seeds[2]  # a repeated conversation gets a fresh stream
    assert derive_seeds([a], 1) != derive_seeds([a], 0)
    assert all(0 <= s < 2**63 for s in seeds)


def test_generation_params_validation() -> None:
    assert GenerationParams(stop=["x"]).stop == ("x",)  # type: ignore[arg-type]
    for bad in (
        {"max_new_tokens": 0},
        {"temperature": -1},
        {"top_p": 0},
        {"stop": "x"},
        {"stop": ("",)},
    ):
        with pytest.raises(ValueError):
            GenerationParams(**bad)  # type: ignore[arg-type]


def test_one_set_of_sampling_fields_for_openai_and_vllm() -> None:
    params = GenerationParams(max_new_tokens=7, temperature=0.5, top_p=0.9, stop=("x",))
    fields = sampling_fields(params, 3)
    assert fields == {
        "n": 1,
        "max_tokens": 7,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 3,
        "stop": ["x"],
    }
    assert "stop" not in sampling_fields(GREEDY, 0)  # vLLM's default (None), the API's too
    server = SimpleNamespace(model="m")
    chat = [{"role": "user", "content": "hi"}]
    body = OpenAIChatModel._chat_body(server, chat, params, 3)  # type: ignore[arg-type]
    assert body == {"model": "m", "messages": chat, **fields}


def test_find_stop() -> None:
    assert find_stop("abc\n\nUser:", ["User:", "\n\n"]) == 3
    assert find_stop("abc", ["x"]) is None
    assert find_stop("abc", []) is None


def test_half_written_conversion_is_not_used(tmp_path: Path) -> None:
    source = gguf_path()
    target = tmp_path / "models" / "smollm2-135m-instruct"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    assert _read_marker(target, source) is None  # no marker: a killed conversion
    marker = {
        "format": 1,
        "source_name": source.name,
        "source_size": source.stat().st_size,
        "weights_id": "w",
    }
    (target / MARKER).write_text(json.dumps(marker))
    assert _read_marker(target, source) == marker
    (target / MARKER).write_text(json.dumps({**marker, "source_size": 1}))
    assert _read_marker(target, source) is None  # a different wheel version: redo


def test_backends_that_cannot_run_here_say_so() -> None:
    if importlib.util.find_spec("vllm") is None:
        with pytest.raises(ModelError, match=r"vLLM is not installed.*taxonomy-bot\[gpu\]"):
            load_model("vllm:org/name")
    with pytest.raises(ModelError, match="training needs embedded or hf:DIR"):
        local_model_dir("openai:http://127.0.0.1:1/v1")
