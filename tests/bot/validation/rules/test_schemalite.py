"""schemalite must agree with the jsonschema library (the oracle) on every input."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from bot.validation.rules.schema import load_schema, schema_dir
from bot.validation.rules.schemalite import check_supported, iter_errors
from tests.conftest import knowledge_doc, skill_doc

KINDS = [("skill", 1), ("skill", 2), ("skill", 3), ("knowledge", 3)]
ROOT = Path(__file__).resolve().parents[3]


def ours(kind: str, version: int, doc: Any) -> Counter[tuple[tuple[Any, ...], str]]:
    return Counter((e.path, e.keyword) for e in iter_errors(load_schema(kind, version), doc))


def oracle(kind: str, version: int, doc: Any) -> Counter[tuple[tuple[Any, ...], str]]:
    v = Draft202012Validator(load_schema(kind, version))
    out: Counter[tuple[tuple[Any, ...], str]] = Counter()
    for e in v.iter_errors(doc):  # like ours, one `required` error per missing key
        out[(tuple(e.absolute_path), str(e.validator))] += 1
    return out


@pytest.mark.parametrize(("kind", "version"), KINDS)
def test_schemas_are_valid_2020_12(kind: str, version: int) -> None:
    Draft202012Validator.check_schema(load_schema(kind, version))


def test_all_schema_files_are_known() -> None:
    files = sorted(p.relative_to(schema_dir()).as_posix() for p in schema_dir().rglob("*.json"))
    assert files == sorted(f"v{v}/{k}.json" for k, v in KINDS)


def test_unsupported_keyword_fails_loudly() -> None:
    with pytest.raises(ValueError, match="pattern"):
        check_supported({"properties": {"a": {"type": "string", "pattern": "x"}}})


def test_starter_taxonomy_agrees() -> None:
    for path in (ROOT / "taxonomy").rglob("qna.yaml"):
        doc = yaml.safe_load(path.read_text())
        kind = "knowledge" if "/knowledge/" in str(path) else "skill"
        assert ours(kind, doc["version"], doc) == oracle(kind, doc["version"], doc) == Counter()


def _mutations() -> st.SearchStrategy[Any]:
    leaf = st.sampled_from(["x", "", " ", 0, 1.0, True, None, [], {}, ["a", "a"], {"k": "v"}])
    return leaf


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(KINDS), st.data())
def test_mutated_documents_agree(kv: tuple[str, int], data: st.DataObject) -> None:
    kind, version = kv
    doc: Any = knowledge_doc() if kind == "knowledge" else skill_doc(version)
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 4))):
        # Walk to a random container and mutate one of its entries.
        node = doc
        for _depth in range(data.draw(st.integers(0, 4))):
            children = (
                list(node.values())
                if isinstance(node, dict)
                else (node if isinstance(node, list) else [])
            )
            children = [c for c in children if isinstance(c, dict | list)]
            if not children:
                break
            node = data.draw(st.sampled_from(children))
        action = data.draw(st.sampled_from(["set", "delete", "add", "duplicate"]))
        if isinstance(node, dict) and node:
            key = data.draw(st.sampled_from(sorted(node)))
            if action == "delete":
                del node[key]
            elif action == "add":
                node[data.draw(st.sampled_from(["extra", "contxt", key + "s"]))] = "v"
            else:
                node[key] = data.draw(_mutations())
        elif isinstance(node, list) and node:
            i = data.draw(st.integers(0, len(node) - 1))
            if action == "delete":
                del node[i]
            elif action == "duplicate":
                node.append(copy.deepcopy(node[i]))
            else:
                node[i] = data.draw(_mutations())
    assert ours(kind, version, doc) == oracle(kind, version, doc)
