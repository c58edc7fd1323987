"""Check one leaf file: every per-file rule, in the order a reader would fix them.

A pure function of the file system and the options, so files can be checked
in parallel worker processes; cross-leaf rules run afterwards in validate.py.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bot.taxonomy.find import LeafFile
from bot.taxonomy.yamlload import MAX_BYTES, Loaded, load
from bot.validation.problems import Problem, error
from bot.validation.rules import content, duplicates, layout, schema
from bot.validation.rules.documents import check_documents
from trainer.text.shingles import shingles


@dataclass(frozen=True)
class Options:
    repo_root: Path
    window: int = 4096
    tokenizer: str | None = None  # path to a tokenizer.json; None: count words
    require_version: int | None = None
    documents: bool = False
    cache_dir: Path | None = None
    shingles: bool = False  # keep shingle hashes for the cross-leaf rule


@dataclass
class FileResult:
    path: str
    problems: list[Problem] = field(default_factory=list)
    kind: str | None = None
    branch: str | None = None
    version: int | None = None
    units: list[tuple[tuple[str | int, ...], int, str]] = field(default_factory=list)
    shingles: list[bytes] = field(default_factory=list)  # per unit: array("q") bytes


@cache
def _token_counter(path: str) -> Any:
    from tokenizers import Tokenizer  # a Rust library: no torch on this path

    tok = Tokenizer.from_file(path)
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def _read(leaf: LeafFile, res: FileResult) -> bytes | None:
    try:
        size = leaf.path.stat().st_size
        if size > MAX_BYTES:
            res.problems.append(
                error(
                    "file-size",
                    f"file is {size:,} bytes; the limit is "
                    f"{MAX_BYTES:,}. Split the leaf or shorten its examples.",
                )
            )
            return None
        return leaf.path.read_bytes()
    except IsADirectoryError:
        res.problems.append(error("file-name", "this is a folder, not a qna.yaml file"))
    except OSError as exc:
        res.problems.append(error("encoding", f"cannot read the file: {exc.strerror}"))
    return None


def check_file(leaf: LeafFile, opts: Options) -> FileResult:
    res = FileResult(str(leaf.path), branch=leaf.branch)
    res.problems += layout.file_name(leaf)
    if links := layout.symlink(leaf, opts.repo_root):
        res.problems += links
        return res
    res.problems += layout.branch(leaf)
    res.problems += layout.nesting(leaf)
    raw = _read(leaf, res)
    if raw is None:
        return res
    doc = load(raw)
    res.problems += doc.problems
    if doc.data is None:
        return res
    kind = leaf.kind
    if leaf.branch is None and isinstance(doc.data, dict) and "document" in doc.data:
        kind = "knowledge"
    res.kind = kind
    version, vproblems = schema.declared_version(doc)
    res.problems += vproblems
    if version is None:
        return res
    res.version = version
    if opts.require_version and version < opts.require_version:
        res.problems.append(
            error(
                "version-required",
                f"new and changed leaves must declare version {opts.require_version} or "
                f"later (this one is {version})",
                *doc.where(("version",)),
            )
        )
    if stop := _unreadable_shape(doc, kind, version):
        res.problems.append(stop)
        return res
    _check_content(leaf, doc, kind, version, opts, res)
    return res


def _unreadable_shape(doc: Loaded, kind: str, version: int) -> Problem | None:
    """The error that makes the rest of the checks meaningless, if any."""
    if kind == "knowledge" and version < 3:
        return error(
            "knowledge-version",
            f"knowledge leaves need `version: 3` (this file is version {version}); add "
            "it, with the keys domain, document_outline and document",
            *doc.where(("version",)),
        )
    if not isinstance(doc.data, dict):
        return error(
            "schema",
            "the top level must be a mapping of keys (created_by, seed_examples, ...), "
            f"not {schema._type_name(doc.data)}",
        )
    return None


def _check_content(
    leaf: LeafFile, doc: Loaded, kind: str, version: int, opts: Options, res: FileResult
) -> None:
    """Schema, content, sizes and within-leaf duplicates of a readable leaf, into `res`."""
    res.problems += layout.attribution(leaf, version)
    res.problems += schema.check(doc, kind, version)
    res.problems += content.blank_text(doc, version)
    if kind == "knowledge":
        res.problems += content.unknown_qa_keys(doc)
        res.problems += content.document(doc)
        if opts.documents:
            res.problems += check_documents(doc, leaf, opts.cache_dir)
    if opts.tokenizer:
        count, unit = _token_counter(opts.tokenizer), "tokens"
    else:
        count, unit = content.words_as_tokens, "tokens (estimated from words)"
    res.problems += content.sizes(doc, kind, content.Limits(opts.window), count, unit)
    items = duplicates.units(doc.data, kind)
    sets = [shingles(u.text) for u in items]
    res.problems += duplicates.within_leaf(doc, items, sets, legacy=version == 1)
    res.units = [(u.path, doc.where(u.path)[0], u.kind) for u in items]
    if opts.shingles:  # for the cross-leaf join; b"" for the kinds it does not compare
        res.shingles = [
            array("q", sorted(s)).tobytes() if u.kind in duplicates.CROSS_LEAF_KINDS else b""
            for u, s in zip(items, sets, strict=True)
        ]
