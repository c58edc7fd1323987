"""What the project site shows, as plain data: collect.py fills it, the page modules render it.

Every field that may be missing says why in a note beside it (`None` plus a reason), so a
page can show "no evaluation for this release" instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

V2 = "taxonomy-bot/benchmark-report/v2"


@dataclass(frozen=True)
class Yield:
    """What generation made of a leaf: candidates proposed, kept, and why the rest went."""

    proposed: int
    kept: int
    rows: int  # rows in the stored entry (seed rows included)
    dropped: dict[str, int]  # bucket (duplicates, judged_out_pair, ...) -> count, non-zero only
    teacher: str = ""


@dataclass(frozen=True)
class Sample:
    question: str
    answer: str


@dataclass
class Leaf:
    path: str  # taxonomy path: compositional_skills/writing/freeform/haiku
    file: str  # relative to the repository root: taxonomy/.../qna.yaml
    kind: str = "skill"  # knowledge | skill
    version: int | None = None
    seeds: int | None = None  # seed examples (knowledge: question-answer pairs)
    description: str = ""
    errors: list[str] = field(default_factory=list)  # "file:line:col rule message"
    warnings: list[str] = field(default_factory=list)
    gen: Yield | None = None
    gen_note: str = "not generated yet"  # why `gen` is None
    samples: list[Sample] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "invalid" if self.errors else "warnings" if self.warnings else "valid"


@dataclass(frozen=True)
class Test:
    """One comparison of the primary metric (or another), as report.json's tests hold it."""

    metric: str
    reference: float | None
    candidate: float | None
    delta: float | None  # candidate - reference; for nll lower is better
    ci: tuple[float, float] | None = None
    band: tuple[float, float] | None = None  # the noise band it was read against
    verdict: str | None = None
    n: int = 0


@dataclass(frozen=True)
class Group:
    """A suite or a leaf of a v2 report."""

    suite: str
    path: str
    kind: str
    items: int
    verdict: str | None
    primary: Test | None
    vs_base: Test | None


@dataclass(frozen=True)
class Evaluation:
    """A benchmark report (schema v2) as the site reads it."""

    created: str
    reference: str  # the model compared with (previous, else base)
    base: str
    candidate: str
    compared_with: str  # previous | base
    failed: bool
    items: int
    suites: list[Group]
    leaves: list[Group]


@dataclass
class Merge:
    """One kept retrain report: a column of the accuracy matrix."""

    seq: str  # the archive folder's name
    label: str
    created: str
    trained: tuple[str, ...]  # leaves trained as new (empty: not known)
    evaluation: Evaluation | None
    note: str = ""  # why `evaluation` is None ("older format", "unreadable: ...")


@dataclass
class Release:
    version: str
    created: str = ""
    tag: str = ""
    manifest: dict[str, object] | None = None
    manifest_note: str = ""
    changelog: str | None = None
    card: str | None = None
    evaluation: Evaluation | None = None
    summary: dict[str, object] | None = None  # the manifest's benchmark summary
    evaluation_note: str = "no evaluation for this release"


@dataclass
class SiteData:
    title: str
    leaves: list[Leaf]
    merges: list[Merge]
    releases: list[Release]  # newest first
    latest: Evaluation | None = None  # the last `bot run`'s report
    latest_note: str = "no benchmark report in this workspace yet"
    problems: list[str] = field(default_factory=list)  # data the site could not read
    notes: list[str] = field(default_factory=list)
