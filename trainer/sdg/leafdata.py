"""A leaf as generation and benchmarks see it: seed examples (held-out ones apart),
documents, and a content hash that changes exactly when generation's inputs change.

Reading goes through the validator, so an invalid leaf is refused with the same
located diagnostics `bot validate` prints. No torch here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.check import Options, check_file
from bot.problems import Problem, Severity
from bot.rules.documents import MARKDOWN, fetch, glob_match, repo_url, tree_files
from bot.taxonomy.find import LeafFile, place
from bot.taxonomy.yamlload import load
from trainer.sdg.holdout import split

Kind = Literal["knowledge", "freeform_skill", "grounded_skill"]
HASH_VERSION = "leaf-v1"


@dataclass(frozen=True)
class SeedExample:
    question: str
    answer: str
    context: str | None = None


@dataclass(frozen=True)
class Document:
    name: str  # path within its repository, or relative to the leaf folder
    text: str


@dataclass(frozen=True)
class LeafData:
    path: str  # taxonomy path, e.g. "compositional_skills/writing/freeform/haiku"
    kind: Kind
    branch: str
    task_description: str  # skills; for knowledge the document outline
    domain: str | None
    seeds: list[SeedExample]  # usable in generation prompts
    heldout: list[SeedExample]  # kept out of prompts, for the benchmarks
    documents: list[Document] = field(default_factory=list)
    content_hash: str = ""


class LeafError(Exception):
    """An invalid leaf or unreadable documents; `problems` are the validator's diagnostics."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path, self.problems = path, problems
        lines = [
            f"{path}:{p.line}:{p.column}: {p.severity.value} [{p.rule}] {p.message}"
            for p in problems
        ]
        super().__init__("\n".join(lines))


def taxonomy_path(leaf: LeafFile) -> str:
    return "/".join(leaf.taxonomy_path[:-1])


def _examples(data: dict[str, Any], knowledge: bool) -> list[SeedExample]:
    out = []
    for ex in data["seed_examples"]:
        if knowledge:
            out += [
                SeedExample(qa["question"].strip(), qa["answer"].strip(), ex["context"].strip())
                for qa in ex["questions_and_answers"]
            ]
        else:
            ctx = ex.get("context")
            out.append(
                SeedExample(
                    ex["question"].strip(), ex["answer"].strip(), ctx.strip() if ctx else None
                )
            )
    return out


def read_documents(data: dict[str, Any], leaf: LeafFile, root: Path, cache: Path) -> list[Document]:
    d = data["document"]
    patterns = [p for p in d["patterns"] if p.strip()]
    if "repo" not in d:
        base = leaf.leaf_dir
        return [
            Document(str(p.relative_to(base)), p.read_text("utf-8"))
            for p in sorted(base.rglob("*"))
            if p.is_file()
            and p.name.endswith(MARKDOWN)
            and any(glob_match(pat, str(p.relative_to(base))) for pat in patterns)
        ]
    import pygit2

    commit = fetch(repo_url(d["repo"], root), d["commit"].strip(), cache / "documents")
    if commit is None:
        raise ValueError(f"commit {d['commit']} not found in {d['repo']}")
    tree = commit.peel(pygit2.Tree)
    names = [
        n
        for n in tree_files(tree)
        if n.endswith(MARKDOWN) and any(glob_match(p, n) for p in patterns)
    ]
    return [Document(n, tree[n].data.decode("utf-8", errors="replace")) for n in sorted(names)]


def content_hash(raw: bytes, documents: list[Document]) -> str:
    h = hashlib.sha256(HASH_VERSION.encode())
    for part in (raw, *(f"{d.name}\0{d.text}".encode() for d in documents)):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def read_leaf(path: Path, root: Path, cache: Path | None = None) -> LeafData:
    """Validate and read one leaf (path to its qna.yaml)."""
    leaf = place(path)
    cache = cache or root / ".bot" / "cache"
    result = check_file(leaf, Options(repo_root=root, cache_dir=cache))
    errors = [p for p in result.problems if p.severity is Severity.ERROR]
    if errors:
        raise LeafError(str(path), errors)
    raw = path.read_bytes()
    data = load(raw).data
    knowledge = result.kind == "knowledge"
    docs: list[Document] = []
    if knowledge:
        try:
            docs = read_documents(data, leaf, root, cache)
        except Exception as exc:  # pygit2, I/O and decoding errors all end the same way
            raise LeafError(str(path), [Problem(1, 1, "document-fetch", str(exc))]) from exc
        if not docs:
            raise LeafError(
                str(path),
                [Problem(1, 1, "document-fetch", "no markdown document matches the patterns")],
            )
    tpath = taxonomy_path(leaf)
    examples = _examples(data, knowledge)
    kept, heldout = split(tpath, examples)
    kind: Kind = (
        "knowledge"
        if knowledge
        else ("grounded_skill" if any(e.context for e in examples) else "freeform_skill")
    )
    return LeafData(
        path=tpath,
        kind=kind,
        branch=leaf.branch or "compositional_skills",
        task_description=str(data.get("task_description") or data.get("document_outline") or ""),
        domain=data.get("domain"),
        seeds=kept,
        heldout=heldout,
        documents=docs,
        content_hash=content_hash(raw, docs),
    )
