"""Everything the site shows, read from what the repository and the workspace hold:

- the taxonomy: every leaf, its validation (the validate stage's report), version, seeds;
- the generation store (`<work>/generate/`): each leaf's yield; the exported data
  (`<work>/data/`): a few generated samples;
- the history archive (`<work>/history/`, bot/site/archive.py): one report per retrain;
- releases: `releases/<version>/` in the repository (manifest, changelog, model card) and
  the release benchmark in `<work>/release/<version>/benchmark/report.json`;
- the last `bot run`'s report (`<work>/report/report.json`).

Nothing here raises on bad data: whatever cannot be read becomes a note on the page and a
line in `SiteData.problems`.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any, get_args

import yaml

from bot.site.archive import folders
from bot.site.model import (
    V2,
    Evaluation,
    Group,
    Leaf,
    Merge,
    Release,
    Sample,
    SiteData,
    Test,
    Yield,
)
from bot.workspace import Workspace
from trainer.data.rowschema import generated_turns
from trainer.sdg.config import Bucket

SAMPLES = 3  # generated samples shown per leaf
BUCKETS = tuple(b for b in get_args(Bucket) if b != "kept")  # why candidates were dropped
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def collect(ws: Workspace, report: Any, title: str = "") -> SiteData:
    """The site's data. `report`: the validate stage's Report for the whole taxonomy."""
    data = SiteData(title or ws.root.name, [], [], [])
    data.leaves = leaves(ws, report, data.problems)
    data.merges = merges(ws.layout.history, data.problems)
    data.releases = releases(ws, data.problems)
    latest = ws.layout.report / "report.json"
    if latest.is_file():
        found = read_report(latest)
        if isinstance(found, Evaluation):
            data.latest = found
        else:
            data.latest_note = f"the last run's report: {found}"
            data.problems.append(f"{ws.relative(latest)}: {found}")
    return data


# --- the taxonomy ---------------------------------------------------------------------------


def leaves(ws: Workspace, report: Any, problems: list[str]) -> list[Leaf]:
    from bot.taxonomy.find import place
    from bot.taxonomy.leaves import taxonomy_path
    from trainer.sdg.store import Store

    store = Store(ws.layout.store)
    found: list[Leaf] = []
    for result in sorted(report.files, key=lambda r: r.path):
        file = Path(result.path)
        absolute = file if file.is_absolute() else ws.root / file
        leaf = Leaf(taxonomy_path(place(absolute)), ws.relative(absolute))
        leaf.kind = "knowledge" if result.branch == "knowledge" else "skill"
        leaf.version = result.version
        for p in result.problems:
            line = f"{leaf.file}:{p.line}:{p.column} {p.rule} {p.message}"
            (leaf.errors if p.severity.value == "error" else leaf.warnings).append(line)
        _describe(leaf, absolute)
        _generation(leaf, store, problems)
        leaf.samples = samples(ws.layout.data / f"{leaf.path}.jsonl")
        found.append(leaf)
    return found


def _describe(leaf: Leaf, path: Path) -> None:
    """Seed count and description, read leniently (the validator has said what is wrong)."""
    try:
        doc = yaml.load(path.read_bytes(), Loader=_Loader)
    except (OSError, yaml.YAMLError):
        return
    if not isinstance(doc, dict):
        return
    text = doc.get("task_description") or doc.get("document_outline") or ""
    leaf.description = str(text).strip()[:300]
    examples = doc.get("seed_examples")
    if isinstance(examples, list):
        if leaf.kind == "knowledge":
            leaf.seeds = sum(
                len(ex.get("questions_and_answers") or [])
                for ex in examples
                if isinstance(ex, dict) and isinstance(ex.get("questions_and_answers"), list)
            )
        else:
            leaf.seeds = len(examples)


def _generation(leaf: Leaf, store: Any, problems: list[str]) -> None:
    ref = store.root / "leaves" / f"{leaf.path}.json"
    if not ref.is_file():
        return
    entry = store.current(leaf.path)
    if entry is None:
        leaf.gen_note = (
            "the store's entry for this leaf is missing or damaged (regenerated next run)"
        )
        problems.append(f"{leaf.path}: {leaf.gen_note}")
        return
    stats = entry.record.get("stats")
    if not isinstance(stats, dict):
        leaf.gen_note = "the store's record has no statistics"
        return
    dropped = {b: _int(stats.get(b)) for b in BUCKETS if _int(stats.get(b))}
    teacher = str((entry.record.get("key") or {}).get("teacher", ""))
    leaf.gen = Yield(
        _int(stats.get("generated")), _int(stats.get("kept")), entry.rows, dropped, teacher
    )
    leaf.gen_note = ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def samples(path: Path, limit: int = SAMPLES) -> list[Sample]:
    """The first `limit` generated rows of an exported leaf file (seed rows skipped)."""
    found: list[Sample] = []
    try:
        with path.open(encoding="utf-8", errors="replace") as rows:
            for line in rows:
                pair = generated_turns(line)
                sample = Sample(*pair) if pair else None
                if sample is not None:
                    found.append(sample)
                    if len(found) == limit:
                        break
    except OSError:
        return found
    return found


# --- reports --------------------------------------------------------------------------------


def read_report(path: Path) -> Evaluation | str:
    """The report, or why it cannot be shown."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return "no report"
    except (OSError, ValueError) as exc:
        return f"unreadable ({type(exc).__name__})"
    return evaluation(doc)


def evaluation(doc: Any) -> Evaluation | str:
    """A report.json document as an Evaluation; a string says why not (older format, ...)."""
    if not isinstance(doc, dict):
        return "not a benchmark report"
    schema = str(doc.get("schema", ""))
    if schema != V2:
        version = schema.rsplit("/", 1)[-1] if schema.startswith("taxonomy-bot/") else "v1"
        return f"older format (report format {version}): not shown"
    try:
        summary = doc["summary"]
        reference = doc.get("previous") or doc["base"]
        return Evaluation(
            created=str(doc.get("created", "")),
            reference=str(reference["spec"]),
            base=str(doc["base"]["spec"]),
            candidate=str(doc["candidate"]["spec"]),
            compared_with=str(summary.get("compared_with", "base")),
            failed=bool(summary.get("failed")),
            items=int(summary.get("items", 0)),
            suites=[_group(g) for g in doc.get("suites", [])],
            leaves=[_group(g) for g in doc.get("leaves", [])],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"unreadable report: {type(exc).__name__} {exc}"


def _group(g: dict[str, Any]) -> Group:
    items = g.get("items") or {}
    return Group(
        suite=str(g["suite"]),
        path=str(g["path"]),
        kind=str(g.get("kind", "")),
        items=sum(v for v in items.values() if isinstance(v, int))
        if isinstance(items, dict)
        else 0,
        verdict=g.get("verdict"),
        primary=_test(g.get("primary")),
        vs_base=_test(g.get("vs_base")),
    )


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list) and len(value) == 2 and all(_num(v) is not None for v in value):
        return float(value[0]), float(value[1])
    return None


def _test(t: Any) -> Test | None:
    if not isinstance(t, dict):
        return None
    return Test(
        metric=str(t.get("metric", "")),
        reference=_num(t.get("reference")),
        candidate=_num(t.get("candidate")),
        delta=_num(t.get("delta")),
        ci=_pair(t.get("ci")),
        band=_pair(t.get("noise_band")),
        verdict=t.get("verdict") if isinstance(t.get("verdict"), str) else None,
        n=int(t.get("n") or 0),
    )


# --- history and releases -------------------------------------------------------------------


def merges(history: Path, problems: list[str]) -> list[Merge]:
    out: list[Merge] = []
    for folder in folders(history):
        meta = _json(folder / "meta.json")
        meta = meta if isinstance(meta, dict) else {}
        found = read_report(folder / "report.json")
        listed = meta.get("trained")
        trained = listed if isinstance(listed, list) else []
        merge = Merge(
            seq=folder.name,
            label=str(meta.get("label") or f"retrain {folder.name.lstrip('0') or '0'}"),
            created=str(meta.get("kept", "")),
            trained=tuple(str(t) for t in trained),
            evaluation=found if isinstance(found, Evaluation) else None,
            note="" if isinstance(found, Evaluation) else str(found),
        )
        if merge.evaluation is not None:
            merge.created = merge.evaluation.created or merge.created
        elif not merge.note.startswith("older format"):
            problems.append(f"history/{folder.name}/report.json: {merge.note}")
        out.append(merge)
    return out


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def releases(ws: Workspace, problems: list[str]) -> list[Release]:
    root = ws.root / "releases"
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if p.is_dir() and _VERSION.match(p.name)]
    return [_release(ws, root / v, problems) for v in sorted(names, key=_semver, reverse=True)]


def _release(ws: Workspace, folder: Path, problems: list[str]) -> Release:
    rel = Release(folder.name)
    try:
        doc = yaml.load((folder / "manifest.yaml").read_bytes(), Loader=_Loader)
        if not isinstance(doc, dict):
            raise ValueError("not a mapping")
        rel.manifest = doc
        rel.created, rel.tag = str(doc.get("created", "")), str(doc.get("tag", ""))
        bench = doc.get("benchmark")
        rel.summary = bench if isinstance(bench, dict) else None
    except FileNotFoundError:
        rel.manifest_note = "no manifest.yaml"
    except (OSError, ValueError, yaml.YAMLError) as exc:
        rel.manifest_note = f"manifest.yaml unreadable: {str(exc).splitlines()[0][:200]}"
        problems.append(f"releases/{rel.version}: {rel.manifest_note}")
    for name, attr in (("CHANGELOG.md", "changelog"), ("MODEL_CARD.md", "card")):
        with contextlib.suppress(OSError):
            setattr(rel, attr, (folder / name).read_text("utf-8", errors="replace"))
    found = read_report(ws.layout.release(rel.version) / "benchmark" / "report.json")
    if isinstance(found, Evaluation):
        rel.evaluation, rel.evaluation_note = found, ""
    elif found != "no report":
        rel.evaluation_note = f"the release benchmark's report: {found}"
    elif rel.summary is not None:
        rel.evaluation_note = (
            "the manifest's summary only (the full report is not in this workspace)"
        )
    return rel
