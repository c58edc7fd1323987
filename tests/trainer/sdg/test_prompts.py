"""Prompt templates: headers, fields, rendering, and the version hash over their bytes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trainer.sdg import prompts
from trainer.sdg.pipeline import PIPELINE_VERSION

EXPECTED = {
    "skills_instructions": {"task", "examples", "count"},
    "grounded_context": {"task", "examples"},
    "grounded_instructions": {"task", "examples", "count", "context"},
    "skills_judge_instruction": {"task", "instruction", "context_block"},
    "skills_response": {"task", "examples", "instruction", "context_block"},
    "skills_judge_pair": {"task", "instruction", "response", "context_block"},
    "knowledge_qa": {"domain", "outline", "examples", "chunk", "count"},
    "knowledge_faithfulness": {"chunk", "question", "answer"},
    "knowledge_question": {"chunk", "question"},
    "knowledge_relevance": {"question", "answer"},
    "knowledge_fact_questions": {"chunk", "fact", "count"},
    "knowledge_rephrase": {"chunk", "entity"},
}


def test_every_template_loads_with_its_fields() -> None:
    names = {p.stem for p in prompts.PROMPT_DIR.glob("*.txt")}
    assert names == set(EXPECTED)
    for name, fields in EXPECTED.items():
        prompt = prompts.load(name)
        assert prompt.fields == fields
        assert prompt.version >= 1
        text = prompt.render(**{f: f"<{f}>" for f in fields})
        assert not text.startswith("#")  # the header is not sent
        assert all(f"<{f}>" in text for f in fields)


def test_render_checks_fields_and_keeps_dollars_in_values() -> None:
    prompt = prompts.load("knowledge_faithfulness")
    with pytest.raises(KeyError, match="missing"):
        prompt.render(chunk="c", question="q")
    with pytest.raises(KeyError, match="unexpected"):
        prompt.render(chunk="c", question="q", answer="a", extra="x")
    assert "$5 and ${x}" in prompt.render(chunk="c", question="q", answer="$5 and ${x}")


def test_header_is_required() -> None:
    with pytest.raises(ValueError, match="first line"):
        prompts.parse_prompt("x", "no header\nbody $a")
    with pytest.raises(ValueError, match="first line"):
        prompts.parse_prompt("x", "# y v1: wrong name\nbody")
    with pytest.raises(ValueError, match="placeholder"):
        prompts.parse_prompt("x", "# x v1: bad\ncosts $ 5")


def test_version_changes_when_any_template_changes(tmp_path: Path) -> None:
    copy = tmp_path / "prompts"
    shutil.copytree(prompts.PROMPT_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    base = prompts.prompts_hash(copy)
    assert base == prompts.prompts_hash()
    assert base[:12] in PIPELINE_VERSION
    target = copy / "skills_judge_pair.txt"
    target.write_text(target.read_text("utf-8") + " Be strict.", "utf-8")
    edited = prompts.prompts_hash(copy)
    assert edited != base
    (copy / "new_prompt.txt").write_text("# new_prompt v1: added\nhello", "utf-8")
    assert prompts.prompts_hash(copy) not in (base, edited)
