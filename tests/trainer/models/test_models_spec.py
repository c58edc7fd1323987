"""Spec strings: every accepted form, round trips, and the errors users will see."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainer.models import (
    EmbeddedSpec,
    HFSpec,
    OpenAISpec,
    SpecError,
    VLLMSpec,
    parse_spec,
)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("embedded", EmbeddedSpec()),
        (" embedded\n", EmbeddedSpec()),
        ("hf:/models/x", HFSpec(Path("/models/x"))),
        ("/models/x", HFSpec(Path("/models/x"))),
        ("./x", HFSpec(Path("x"))),
        ("org/name", HFSpec(Path("org/name"))),  # resolved (and refused) at load time
        ("hf:~/m", HFSpec(Path.home() / "m")),
        ("openai:http://127.0.0.1:8000/v1", OpenAISpec("http://127.0.0.1:8000/v1")),
        ("openai:https://h/v1/#big-model", OpenAISpec("https://h/v1", "big-model")),
        ("vllm:org/name", VLLMSpec("org/name")),
    ],
)
def test_accepted(text: str, spec: object) -> None:
    assert parse_spec(text) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty model spec"),
        ("gpt2", "unknown model spec 'gpt2'.*needs a '/'"),
        ("ollama:llama3", "unknown model backend 'ollama'"),
        ("hf:", "hf: needs a directory"),
        ("vllm: ", "vllm: needs a model"),
        ("openai:localhost:8000", "http\\(s\\) URL"),
        ("openai:ftp://h/v1", "http\\(s\\) URL"),
        ("openai:http:///v1", "http\\(s\\) URL"),
        ("openai:http://h:port/v1", "bad port"),
        ("openai:http://h/v1?x=1", "query string"),
        ("openai:http://h/v1#", "followed by a model name"),
    ],
)
def test_rejected(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(text)


names = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#"),
    min_size=1,
    max_size=20,
)


@given(
    st.one_of(
        st.just(EmbeddedSpec()),
        st.builds(lambda n: HFSpec(Path("/m") / n.replace("/", "_")), names),
        st.builds(
            lambda host, port, model: OpenAISpec(f"http://{host}:{port}/v1", model),
            st.sampled_from(["127.0.0.1", "teacher.internal", "[::1]"]),
            st.integers(1, 65535),
            st.none() | names,
        ),
        st.builds(VLLMSpec, names.filter(lambda n: n.strip() == n)),
    )
)
def test_round_trip(spec: object) -> None:
    assert parse_spec(str(spec)) == spec
