"""The row helpers every reader of generated data shares."""

from __future__ import annotations

import json

from trainer.data.rowschema import generated_turns


def line(source: str) -> str:
    messages = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    return json.dumps({"messages": messages, "metadata": {"source": source}})


def test_generated_turns_reads_only_generated_rows() -> None:
    assert generated_turns(line("generated")) == ("Q", "A")
    assert generated_turns(line("seed")) is None
    assert generated_turns("not json") is None
    assert generated_turns("[1, 2]") is None
