"""Phase datasets: which rows each training phase sees, with a manifest that proves it.

LAB trains in phases: knowledge first (with foundational skills), then compositional
skills while replaying the knowledge data. On top of that, every retrain replays a sample
of earlier leaves from the replay buffer so a pull request's new leaves do not wash out
the old ones. Everything here is a pure function of its inputs and the seed: the same
exported files, buffer snapshot and config give byte-identical `data.jsonl` and manifest.

Ratio: `replay_ratio` r is the share of replay rows in the phase. With N new rows the
phase wants round(N * r / (1 - r)) replay rows, drawn without repetition (replay is only
ever downsampled, never repeated) and stratified evenly by leaf; when the pool holds fewer,
all of it is used, and the manifest records the achieved share beside the requested one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainer.data import replay as replay_buffer
from trainer.data.config import MixConfig
from trainer.data.rows import DataError, LeafRows, Row, branch_of, jsonl, load_exported, sha256
from trainer.data.rowschema import stable_row
from trainer.data.sampling import derive_seed, rng, stratified_sample
from trainer.models.cache import write_atomic

MANIFEST_FORMAT = 1
ReplayTransform = Callable[[list[Row]], list[Row]]  # e.g. self-distillation of replay rows


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    branches: tuple[str, ...]  # new rows of these branches train in this phase
    replay_ratio: float  # share of the phase's rows that are replayed
    replay_phases: tuple[str, ...] = ()  # earlier phases of this run whose new rows replay here
    replay_branches: tuple[str, ...] = ()  # buffer leaves of these branches replay here


def phases(config: MixConfig) -> tuple[PhaseSpec, ...]:
    knowledge = (
        ("knowledge", "foundational_skills") if config.foundational_in_knowledge else ("knowledge",)
    )
    skills = tuple(b for b in ("foundational_skills", "compositional_skills") if b not in knowledge)
    every = ("knowledge", "foundational_skills", "compositional_skills")
    return (
        PhaseSpec("knowledge", knowledge, config.knowledge_replay_ratio, (), knowledge),
        PhaseSpec("skills", skills, config.replay_ratio, ("knowledge",), every),
    )


@dataclass(frozen=True)
class Source:
    name: str  # "data/<leaf>.jsonl", "replay/objects/..jsonl", "replay/versions/<id>.json"
    sha256: str
    rows: int


@dataclass(frozen=True)
class LeafCount:
    new: int = 0
    replay: int = 0


@dataclass(frozen=True)
class Manifest:
    phase: str
    seed: int
    replay_ratio: float  # requested share of replay rows
    replay_ratio_actual: float  # achieved share
    new_rows: int
    replay_wanted: int  # round(new_rows * r / (1 - r))
    replay_pool: int  # rows the replay sources held for this phase
    replay_rows: int  # min(replay_wanted, replay_pool)
    rows: int
    output_sha256: str  # of data.jsonl
    inputs: tuple[Source, ...]
    leaves: Mapping[str, LeafCount]
    replay_transform: str | None = None  # e.g. "distilled:<model fingerprint>"
    note: str = ""
    format: int = MANIFEST_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data: dict[str, Any] = json.loads(text)
        data["inputs"] = tuple(Source(**s) for s in data["inputs"])
        data["leaves"] = {k: LeafCount(**v) for k, v in data["leaves"].items()}
        return cls(**data)


@dataclass(frozen=True)
class Phase:
    manifest: Manifest
    data: str = field(repr=False)  # the JSONL text of data.jsonl
    new: Mapping[str, LeafRows] = field(repr=False)  # the new rows, for later phases' replay


def replay_wanted(new_rows: int, ratio: float) -> int:
    """Replay rows that make up `ratio` of a phase with `new_rows` new rows."""
    return round(new_rows * ratio / (1 - ratio))


def build_phase(
    spec: PhaseSpec,
    new: Mapping[str, LeafRows],
    pool: Mapping[str, Sequence[Row]],
    seed: int,
    *,
    salt: Mapping[str, str] | None = None,
    inputs: Sequence[Source] = (),
    transform: ReplayTransform | None = None,
    transform_name: str | None = None,
) -> Phase:
    """One phase: all of `new`, plus a stratified sample of `pool` at the spec's ratio,
    shuffled. `inputs` are listed in the manifest beside the new leaves' own files."""
    new_rows = [r for leaf in sorted(new) for r in new[leaf].rows]
    available = sum(len(rows) for rows in pool.values())
    wanted = replay_wanted(len(new_rows), spec.replay_ratio)
    drawn = stratified_sample(pool, wanted, derive_seed(seed, spec.name), salt=salt)
    replayed = [r for rows in drawn.values() for r in rows]
    if transform is not None and replayed:
        replayed = transform(replayed)
    # One row schema for every phase file: buffer rows from before it, distilled rows.
    rows = [stable_row(r) for r in new_rows + replayed]
    rng(seed, spec.name, "shuffle").shuffle(rows)
    text = jsonl(rows).decode("utf-8")
    new_counts = Counter(r["metadata"]["leaf"] for r in new_rows)
    replay_counts = Counter(r["metadata"]["leaf"] for r in replayed)
    leaves = {
        leaf: LeafCount(new_counts[leaf], replay_counts[leaf])
        for leaf in sorted({*new_counts, *replay_counts})
    }
    sources = [Source(d.source, d.sha256, len(d.rows)) for _, d in sorted(new.items())]
    actual = len(replayed) / len(rows) if rows else 0.0
    manifest = Manifest(
        phase=spec.name,
        seed=seed,
        replay_ratio=spec.replay_ratio,
        replay_ratio_actual=round(actual, 6),
        new_rows=len(new_rows),
        replay_wanted=wanted,
        replay_pool=available,
        replay_rows=len(replayed),
        rows=len(rows),
        output_sha256=sha256(text.encode("utf-8")),
        inputs=tuple(sorted({*sources, *inputs}, key=lambda s: s.name)),
        leaves=leaves,
        replay_transform=transform_name if transform is not None else None,
        note=_note(spec.replay_ratio, len(new_rows), wanted, available, len(replayed), actual),
    )
    return Phase(manifest, text, dict(new))


def _note(ratio: float, new: int, wanted: int, pool: int, drawn: int, actual: float) -> str:
    head = (
        f"replay_ratio {ratio:g}: replay rows are to be {ratio:.0%} of the phase, "
        f"i.e. {wanted} beside {new} new rows;"
    )
    if drawn < wanted:
        return f"{head} the replay pool held {pool}, so all were used ({actual:.1%})"
    return f"{head} drawn without repetition from {pool}, evenly by leaf ({actual:.1%})"


def build_phases(
    current: Mapping[str, LeafRows],
    buffer: replay_buffer.Buffer,
    config: MixConfig,
    *,
    specs: Sequence[PhaseSpec] | None = None,
    new_leaves: Collection[str] | None = None,
    transform: ReplayTransform | None = None,
    transform_name: str | None = None,
) -> list[Phase]:
    """Every phase of one retrain, in order.

    New rows: the leaves in `new_leaves` (default: those the buffer has not absorbed, i.e.
    added or rewritten since the last retrain; everything when the buffer is empty).
    Replay pool of a phase: the new rows of its `replay_phases` plus the buffer's rows of
    unchanged leaves in its `replay_branches`. `transform` (self-distillation) applies to
    rows drawn from the buffer only: this run's rows are the teacher's fresh targets.
    """
    specs = phases(config) if specs is None else specs
    fresh = replay_buffer.new_leaves(buffer, current) if new_leaves is None else set(new_leaves)
    unknown = sorted(fresh - set(current))
    if unknown:
        raise ValueError(f"new leaves not in the current data: {', '.join(unknown)}")
    old = {
        leaf: b
        for leaf, b in replay_buffer.replayable(buffer, current).items()
        if leaf not in fresh
    }
    done: dict[str, Phase] = {}
    for spec in specs:
        missing = [p for p in spec.replay_phases if p not in done]
        if missing:
            raise ValueError(f"phase {spec.name} replays {missing}, which do not come before it")
        new = {
            leaf: current[leaf] for leaf in sorted(fresh) if current[leaf].branch in spec.branches
        }
        pool: dict[str, Sequence[Row]] = {}
        salt: dict[str, str] = {}
        inputs: list[Source] = []
        for name in spec.replay_phases:
            for leaf, data in done[name].new.items():
                pool[leaf], salt[leaf] = data.rows, data.leaf_hash or ""
                inputs.append(Source(data.source, data.sha256, len(data.rows)))
        from_buffer = {
            leaf: b for leaf, b in old.items() if b.rows and branch_of(leaf) in spec.replay_branches
        }
        for leaf, b in from_buffer.items():
            pool[leaf], salt[leaf] = b.rows, b.leaf_hash
            inputs.append(_buffer_source(b))
        if from_buffer and buffer.version is not None:
            snapshot = f"replay/versions/{buffer.version}.json"
            inputs.append(Source(snapshot, buffer.version, buffer.total_rows))
        step = None if transform is None else _only_leaves(set(from_buffer), transform)
        done[spec.name] = build_phase(
            spec,
            new,
            pool,
            config.seed,
            salt=salt,
            inputs=inputs,
            transform=step,
            transform_name=transform_name,
        )
    return list(done.values())


def _buffer_source(b: replay_buffer.BufferLeaf) -> Source:
    # The buffer stores each leaf's rows as a content-addressed object: this is its file.
    digest = sha256(jsonl(b.rows))
    return Source(f"replay/objects/{digest[:2]}/{digest}.jsonl", digest, len(b.rows))


def _only_leaves(leaves: set[str], transform: ReplayTransform) -> ReplayTransform:
    def apply(rows: list[Row]) -> list[Row]:
        picked = [i for i, r in enumerate(rows) if r["metadata"]["leaf"] in leaves]
        out = list(rows)
        done = transform([rows[i] for i in picked]) if picked else []
        if len(done) != len(picked):
            raise ValueError("a replay transform must return one row per row")
        for i, row in zip(picked, done, strict=True):
            out[i] = row
        return out

    return apply


def write_phase(out_dir: Path, phase: Phase) -> Path:
    """`<out>/<phase>/data.jsonl` then `manifest.json`, each written atomically.

    The manifest goes last and carries the data's hash, so a crash between the two leaves
    a pair that `read_phase` rejects rather than a mix of runs that passes for one.
    """
    folder = out_dir / phase.manifest.phase
    write_atomic(folder / "data.jsonl", phase.data)
    write_atomic(folder / "manifest.json", phase.manifest.to_json())
    return folder


def read_phase(folder: Path) -> Manifest:
    """The manifest of a written phase, after checking data.jsonl still matches it."""
    path = folder / "manifest.json"
    try:
        manifest = Manifest.from_json(path.read_text("utf-8"))
        data = (folder / "data.jsonl").read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(path, 0, f"unreadable phase manifest or data ({e})") from None
    if sha256(data) != manifest.output_sha256:
        raise DataError(folder / "data.jsonl", 0, "does not match manifest.json (stale or damaged)")
    return manifest


def mix(
    work: Path,
    config: MixConfig,
    *,
    out_dir: Path | None = None,
    new_leaves: Collection[str] | None = None,
    transform: ReplayTransform | None = None,
    transform_name: str | None = None,
) -> list[Manifest]:
    """Build and write every phase from `<work>/data/` and the buffer in `<work>/replay/`
    into `<work>/mix/` (or `out_dir`)."""
    current = load_exported(work / "data")
    buffer = replay_buffer.load(work / "replay")
    built = build_phases(
        current,
        buffer,
        config,
        new_leaves=new_leaves,
        transform=transform,
        transform_name=transform_name,
    )
    out = work / "mix" if out_dir is None else out_dir
    for phase in built:
        write_phase(out, phase)
    return [p.manifest for p in built]
