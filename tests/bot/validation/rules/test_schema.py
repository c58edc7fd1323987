from __future__ import annotations

from pathlib import Path

import pytest

from bot.taxonomy.find import place
from bot.validation.check import Options, check_file
from tests.conftest import LeafWriter, dump, knowledge_doc, skill_doc


def problems(path: Path, **opts: object) -> list[tuple[str, int, int, str]]:
    res = check_file(place(path), Options(repo_root=path.parents[3], **opts))  # type: ignore[arg-type]
    return [(p.rule, p.line, p.column, p.message) for p in res.problems]


def rule_ids(path: Path) -> list[str]:
    return [p[0] for p in problems(path)]


@pytest.mark.parametrize("version", [1, 2, 3])
def test_valid_skills_pass(write_leaf: LeafWriter, version: int) -> None:
    assert problems(write_leaf("compositional_skills/a", skill_doc(version))) == []


def test_valid_grounded_and_foundational_pass(write_leaf: LeafWriter) -> None:
    assert problems(write_leaf("compositional_skills/grounded/a", skill_doc(grounded=True))) == []
    assert problems(write_leaf("foundational_skills/b", skill_doc(seed=1))) == []


def test_valid_knowledge_passes(write_leaf: LeafWriter) -> None:
    assert problems(write_leaf("knowledge/a", knowledge_doc())) == []


def test_v1_allows_one_example_and_empty_description(write_leaf: LeafWriter) -> None:
    doc = skill_doc(1, n=1)
    doc["task_description"] = ""
    assert problems(write_leaf("compositional_skills/a", doc, attribution=False)) == []


def test_unknown_key_located_with_suggestion(write_leaf: LeafWriter) -> None:
    text = dump(skill_doc()).replace("seed_examples:", "seed_exampels:")
    found = problems(write_leaf("compositional_skills/a", text))
    [(rule, line, col, msg)] = [p for p in found if "unknown key" in p[3]]
    rest = [p for p in found if "unknown key" not in p[3]]
    assert rule == "schema" and "unknown key 'seed_exampels'" in msg
    assert "did you mean 'seed_examples'" in msg
    assert (line, col) == (4, 1)
    assert any("missing required key 'seed_examples'" in p[3] for p in rest)


def test_wrong_type_and_empty_string(write_leaf: LeafWriter) -> None:
    doc = skill_doc()
    doc["created_by"] = 42
    doc["seed_examples"][2]["answer"] = ""
    found = problems(write_leaf("compositional_skills/a", doc))
    msgs = [p[3] for p in found]
    assert "created_by must be a string, not an integer" in msgs
    assert "seed_examples[2].answer must not be empty" in msgs


def test_minimum_examples_and_uniqueness(write_leaf: LeafWriter) -> None:
    doc = skill_doc(n=4)
    doc["seed_examples"].append(dict(doc["seed_examples"][0]))
    msgs = [p[3] for p in problems(write_leaf("compositional_skills/a", doc))]
    assert any("seed_examples[4] repeats seed_examples[0]" in m for m in msgs)
    doc = skill_doc(n=3)
    msgs = [p[3] for p in problems(write_leaf("compositional_skills/b", doc))]
    assert "seed_examples needs at least 5 items (it has 3)" in msgs


def test_version_rules(write_leaf: LeafWriter) -> None:
    doc = skill_doc()
    doc["version"] = 7
    assert rule_ids(write_leaf("compositional_skills/a", doc)) == ["version"]
    doc = knowledge_doc()
    del doc["version"]
    assert rule_ids(write_leaf("knowledge/a", doc)) == ["knowledge-version"]
    doc = knowledge_doc()
    doc["task_description"] = "x"
    found = problems(write_leaf("knowledge/b", doc))
    assert [p[0] for p in found] == ["schema"]
    assert "knowledge leaves (version 3) do not use task_description" in found[0][3]


def test_require_version(write_leaf: LeafWriter) -> None:
    path = write_leaf("compositional_skills/a", skill_doc(2))
    assert [p[0] for p in problems(path, require_version=3)] == ["version-required"]


def test_top_level_not_mapping(write_leaf: LeafWriter) -> None:
    assert rule_ids(write_leaf("compositional_skills/a", "- a\n- b\n")) == ["schema"]


def test_document_needs_repo_and_commit_together(write_leaf: LeafWriter) -> None:
    doc = knowledge_doc(document={"repo": "https://example.org/x", "patterns": ["*.md"]})
    found = problems(write_leaf("knowledge/a", doc))
    assert [p[0] for p in found] == ["schema"]
    assert "go together" in found[0][3]
