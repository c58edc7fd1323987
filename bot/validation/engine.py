"""`bot validate` as a library call: files in, a Report out (no printing here)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.taxonomy.find import LeafFile
from bot.validation.check import FileResult, Options, check_file
from bot.validation.problems import Problem, Severity

# Below this many files a worker pool costs more than it saves.
PARALLEL_FROM = 400


@dataclass
class Report:
    files: list[FileResult]
    deleted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why not validated)

    def count(self, severity: Severity) -> int:
        return sum(p.severity is severity for f in self.files for p in f.problems)

    @property
    def errors(self) -> int:
        return self.count(Severity.ERROR)

    @property
    def warnings(self) -> int:
        return self.count(Severity.WARNING)


def _run_one(args: tuple[LeafFile, Options]) -> FileResult:
    return check_file(*args)


def check_all(leaves: list[LeafFile], opts: Options, jobs: int | None = None) -> list[FileResult]:
    jobs = jobs or os.cpu_count() or 1
    if len(leaves) < PARALLEL_FROM or jobs == 1:
        return [check_file(leaf, opts) for leaf in leaves]
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(jobs) as pool:
        chunk = max(8, len(leaves) // (jobs * 8))
        return pool.map(_run_one, [(leaf, opts) for leaf in leaves], chunksize=chunk)


def cross_leaf(
    results: list[FileResult], focus: set[str] | None = None, extra: Iterable[FileResult] = ()
) -> None:
    """Add duplicate-across-leaves warnings in place (needs shingles on the results)."""
    every = (*results, *extra)
    if len(every) < 2:
        return  # nothing to compare across
    from array import array

    from bot.validation.rules.duplicates import CROSS_LEAF_KINDS, across_leaves
    from trainer.text.shingles import Entry

    entries, sets = [], []
    for r in every:
        for (path, line, kind), blob in zip(r.units, r.shingles, strict=False):
            if kind not in CROSS_LEAF_KINDS:
                continue
            entries.append(Entry(r.path, path, line, kind))
            hashes: array[int] = array("q")
            hashes.frombytes(blob)
            sets.append(hashes)
    found = across_leaves(entries, sets, focus)
    for r in results:
        r.problems.extend(found.get(r.path, []))


def finish(results: list[FileResult], disabled: set[str]) -> list[FileResult]:
    for r in results:
        kept: list[Problem] = [p for p in r.problems if p.rule not in disabled]
        kept.sort(key=lambda p: (p.line, p.column, p.severity is not Severity.ERROR))
        r.problems = kept
    return results
