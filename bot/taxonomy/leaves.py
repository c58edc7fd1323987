"""Read a leaf into the trainer's record (trainer/leaves.py): seed examples (held-out ones
apart), documents, and the content hash.

Reading goes through the validator, so an invalid leaf is refused with the same
located diagnostics `bot validate` prints. No torch here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.taxonomy.find import LeafFile, place
from bot.taxonomy.yamlload import load
from bot.validation.check import Options, check_file
from bot.validation.problems import Problem, Severity
from bot.validation.rules.documents import MARKDOWN, fetch, glob_match, repo_url, tree_files
from trainer.leaves import Document, Kind, LeafData, SeedExample, content_hash
from trainer.sdg.holdout import split


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


def read_leaf(path: Path, root: Path, cache: Path) -> LeafData:
    """Validate and read one leaf (path to its qna.yaml); `cache` keeps fetched documents."""
    leaf = place(path)
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


class Leaves:
    """A taxonomy's leaves by taxonomy path, each read (and validated) on first use.

    The evaluation's leaf source (trainer.evaluation.suites.LeafSource): the trainer gets
    records and reasons, never files."""

    def __init__(
        self, files: Iterable[Path], root: Path, cache: Path, items: Path | None = None
    ) -> None:
        self.root, self.cache, self.items = root, cache, items
        self.files: dict[str, Path] = {}
        self._read: dict[str, LeafData | LeafError] = {}
        for f in files:
            self.add(f)

    @property
    def paths(self) -> list[str]:
        return list(self.files)

    def add(self, file: Path) -> str:
        """Make `file` known (if it is not already); returns its taxonomy path."""
        path = taxonomy_path(place(file))
        self.files.setdefault(path, file)
        return path

    def record(self, path: str) -> LeafData | LeafError:
        if path not in self._read:
            try:
                self._read[path] = read_leaf(self.files[path], self.root, self.cache)
            except LeafError as exc:
                self._read[path] = exc
        return self._read[path]

    def teacher_items(self, path: str) -> list[SeedExample]:
        """Evaluation items the teacher wrote from the leaf's held-out seeds (`bot generate`
        exports them to the `items` folder), or none."""
        from trainer.sdg.evalitems import read_items

        return read_items(self.items, path) if self.items else []

    def read(self, path: str) -> LeafData | str:
        """The record, or the first line of why it cannot be read."""
        found = self.record(path)
        if isinstance(found, LeafError):
            return str(found).splitlines()[0] if str(found) else "invalid leaf"
        return found
