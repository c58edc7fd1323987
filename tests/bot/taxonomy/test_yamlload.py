from __future__ import annotations

import datetime

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.taxonomy.yamlload import MAX_BYTES, MAX_DEPTH, load


def rules(raw: bytes) -> list[tuple[str, int, int]]:
    return [(p.rule, p.line, p.column) for p in load(raw).problems]


def test_values_and_locations() -> None:
    doc = load(b"a: 1\nb:\n  - x: 'y'\n    when: 2024-01-02\n")
    assert doc.data == {"a": 1, "b": [{"x": "y", "when": datetime.date(2024, 1, 2)}]}
    assert doc.values[("b", 0, "x")] == (3, 8)
    assert doc.keys[("b", 0, "when")] == (4, 5)
    assert doc.problems == []


def test_scalars_resolve_like_safe_load() -> None:
    text = b"a: 0x1F\nb: 1_000\nc: yes\nd: ~\ne: '3'\nf: 1.5e3\ng: .nan\n"
    loaded = load(text).data
    expected = yaml.safe_load(text)
    assert {k: v for k, v in loaded.items() if k != "g"} == {
        k: v for k, v in expected.items() if k != "g"
    }
    assert loaded["g"] != loaded["g"]  # NaN


def test_duplicate_key_is_located_and_first_value_kept() -> None:
    doc = load(b"a: 1\nb: 2\na: 3\n")
    assert [(p.rule, p.line, p.column) for p in doc.problems] == [("yaml-duplicate-key", 3, 1)]
    assert "line 1" in doc.problems[0].message
    assert doc.data == {"a": 1, "b": 2}


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 30)]
    doc = load("\n".join(lines).encode() + b"\n")
    assert doc.data is None
    assert rules("\n".join(lines).encode() + b"\n") == [("yaml-anchors", 1, 5)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", [("yaml-empty", 1, 1)]),
        (b"   \n\n", [("yaml-empty", 1, 1)]),
        (b"# only a comment\n", [("yaml-empty", 1, 1)]),
        (b"a: [1, 2\n", [("yaml-syntax", 2, 1)]),
        (b"a: 1\n b: 2\n", [("yaml-syntax", 2, 3)]),
        (b"a:\n\t- b\n", [("yaml-tabs", 2, 1), ("yaml-syntax", 2, 1)]),
        (b"a: 1 \n", [("yaml-trailing-spaces", 1, 5)]),
        (b"a: 1", [("yaml-final-newline", 1, 5)]),
        (b"\xef\xbb\xbfa: 1\n", [("encoding", 1, 1)]),
        (b"a: caf\xe9\n", [("encoding", 1, 7)]),
        (b"\xff\xfea\x00:\x00", [("encoding", 1, 1)]),
        (b"a: 1\nb: \x00\x01\x02\n", [("encoding", 2, 4)]),
        (b"a: !!python/object:os.system 1\n", [("yaml-tags", 1, 4)]),
        (b"a: !custom [1]\n", [("yaml-tags", 1, 4)]),
        (b"a: 1\n---\nb: 2\n", [("yaml-syntax", 2, 1)]),
        (b"? [a, b]\n: 1\n", [("yaml-syntax", 1, 3)]),
        (b"a: 2024-13-45\n", [("yaml-syntax", 1, 4)]),
        (b"a: \x07\n", [("yaml-syntax", 1, 1)]),
    ],
)
def test_bad_input_gives_located_problem(raw: bytes, expected: list[tuple[str, int, int]]) -> None:
    assert rules(raw) == expected


def test_size_limit() -> None:
    assert rules(b"a: " + b"x" * MAX_BYTES + b"\n")[0][0] == "file-size"


def test_depth_limit() -> None:
    deep = b"a: " + b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5) + b"\n"
    assert rules(deep) == [("yaml-limits", 1, 3 + MAX_DEPTH)]


def test_top_level_list_loads() -> None:
    assert load(b"- 1\n- 2\n").data == [1, 2]


yaml_text = st.text(
    alphabet=st.sampled_from(list("ab:- \n\t'\"[]{}&*!#|>?,.%@`0123é\x00\x85")), max_size=200
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yaml_text)
def test_random_text_never_raises(text: str) -> None:
    doc = load(text.encode("utf-8"))
    assert doc.data is not None or doc.problems


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(raw: bytes) -> None:
    load(raw)


VALID = (
    b"version: 3\ncreated_by: me\ntask_description: t\nseed_examples:\n"
    b"  - question: q\n    answer: |\n      a\n      b\n"
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID)), st.integers(0, 3), st.binary(max_size=4))
def test_mutated_leaf_never_raises(pos: int, cut: int, insert: bytes) -> None:
    doc = load(VALID[:pos] + insert + VALID[pos + cut :])
    for p in doc.problems:
        assert p.line >= 1 and p.column >= 1 and p.message
