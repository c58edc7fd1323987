"""Rules over the values of a leaf that the schema cannot express: blank-text,
unknown-key, document-commit, document-patterns, size-limit."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.taxonomy.yamlload import Loaded
from bot.taxonomy.yamlload import Path as YPath
from bot.validation.problems import Problem, error, warning
from bot.validation.rules.schema import dotted

_SHA = re.compile(r"[0-9a-f]{40}")


def blank_paths(data: Any, path: YPath = ()) -> list[YPath]:
    """Where the non-empty strings made only of whitespace are, in document order."""
    out: list[YPath] = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for k, v in items:
        if isinstance(v, str):
            if v.isspace():
                out.append((*path, k))
        elif isinstance(v, dict | list):
            out += blank_paths(v, (*path, k))
    return out


def blank_text(doc: Loaded, version: int) -> list[Problem]:
    out = []
    for path in blank_paths(doc.data):
        if version == 1 and path == ("task_description",):
            continue
        out.append(
            error(
                "blank-text",
                f"{dotted(path)} is only whitespace; write the text or remove the key",
                *doc.where(path),
            )
        )
    return out


def unknown_qa_keys(doc: Loaded) -> list[Problem]:
    out = []
    for i, ex in enumerate(_list(doc.data, "seed_examples")):
        for j, qa in enumerate(_list(ex, "questions_and_answers")):
            if isinstance(qa, dict):
                for key in qa:
                    if key not in ("question", "answer"):
                        p = ("seed_examples", i, "questions_and_answers", j, key)
                        out.append(
                            warning(
                                "unknown-key",
                                f"key '{key}' in {dotted(p[:-1])} is "
                                "ignored by generation and training; remove it",
                                *doc.where(p, key=True),
                            )
                        )
    return out


def _list(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


def document(doc: Loaded) -> list[Problem]:
    d = doc.data.get("document") if isinstance(doc.data, dict) else None
    if not isinstance(d, dict):
        return []
    out = []
    commit = d.get("commit")
    if isinstance(commit, str) and commit and not _SHA.fullmatch(commit.strip()):
        out.append(
            error(
                "document-commit",
                f"document.commit '{commit}' is not a full commit id "
                "(40 lowercase hex digits); branch and tag names move, so pin the exact "
                "commit (`git rev-parse HEAD` in the document repository)",
                *doc.where(("document", "commit")),
            )
        )
    for i, pat in enumerate(_list(d, "patterns")):
        if not isinstance(pat, str) or not pat:
            continue  # the schema reports it
        p = ("document", "patterns", i)
        why = None
        if not pat.strip():
            why = "is blank"
        elif pat.startswith("/"):
            why = "is absolute; patterns are relative to the document repository (or leaf folder)"
        elif ".." in pat.split("/"):
            why = "leaves its tree with '..'"
        elif not (pat.endswith(("*", ".md", ".markdown", "]", "}"))):
            why = "cannot match a markdown (.md) document, the only kind used"
        if why:
            out.append(error("document-patterns", f"document pattern '{pat}' {why}", *doc.where(p)))
    return out


@dataclass(frozen=True)
class Limits:
    """Size limits in tokens, derived from the student's context window.

    guidance_*: fractions matching InstructLab's word guidance at a 4,096-token
    window (about 2,300 words per skill example, 500 per knowledge context, 250
    per Q&A); past `window` an example cannot fit in a prompt at all.
    """

    window: int = 4096

    @property
    def skill_example(self) -> int:
        return self.window * 3 // 4

    @property
    def knowledge_context(self) -> int:
        return self.window // 6

    @property
    def knowledge_qa(self) -> int:
        return self.window // 12


Counter = Callable[[str], int]


def words_as_tokens(text: str) -> int:
    """Without a tokenizer: English averages about 0.75 words per token."""
    return (len(text.split()) * 4 + 2) // 3


def sizes(doc: Loaded, kind: str, limits: Limits, count: Counter, unit: str) -> list[Problem]:
    out: list[Problem] = []

    def check(path: YPath, n: int, limit: int, what: str) -> None:
        if n > limits.window:
            out.append(
                error(
                    "size-limit",
                    f"{what} {dotted(path)} is about {n:,} {unit}; it "
                    f"cannot fit in the student's {limits.window:,}-token context "
                    "window. Shorten it or split it",
                    *doc.where(path),
                )
            )
        elif n > limit:
            out.append(
                warning(
                    "size-limit",
                    f"{what} {dotted(path)} is about {n:,} {unit}; "
                    f"keep it under {limit:,} so prompts fit the student's "
                    f"{limits.window:,}-token window",
                    *doc.where(path),
                )
            )

    for i, ex in enumerate(_list(doc.data, "seed_examples")):
        if not isinstance(ex, dict):
            continue
        if kind == "skill":
            text = " ".join(
                v for k in ("context", "question", "answer") if isinstance(v := ex.get(k), str)
            )
            check(("seed_examples", i), count(text), limits.skill_example, "seed example")
            continue
        if isinstance(ctx := ex.get("context"), str):
            check(("seed_examples", i, "context"), count(ctx), limits.knowledge_context, "context")
        for j, qa in enumerate(_list(ex, "questions_and_answers")):
            if isinstance(qa, dict):
                text = " ".join(
                    v for k in ("question", "answer") if isinstance(v := qa.get(k), str)
                )
                check(
                    ("seed_examples", i, "questions_and_answers", j),
                    count(text),
                    limits.knowledge_qa,
                    "Q&A",
                )
    return out
