"""Disperse-then-merge: split a phase's rows into K shards, train K sub-models from one base,
merge them back into one ordinary Hugging Face checkpoint.

Two merges: `average` (the uniform or weighted mean of the weights, what the
Disperse-then-Merge paper uses) and `ties` (TIES-Merging, peft's implementation: task
vectors trimmed to their largest entries, a sign elected per parameter, and only the entries
agreeing with it averaged, so sub-models that moved a weight in opposite directions do not
cancel out into noise). The reading, streaming and writing stay here: peft and mergekit
merge whole loaded models or adapters, not checkpoints tensor by tensor.

Checkpoints are read tensor by tensor through safetensors' `safe_open`, so memory holds the
merged model plus one tensor per input. The merged folder is written under a temporary name
and renamed into place once complete, with `merge.json` recording the method, its
parameters and the sha256 of every input's weight files.

Tied weights stay tied: `save_pretrained` stores a tied `lm_head.weight` only as
`model.embed_tokens.weight` (SmolLM2, and any config with `tie_word_embeddings`), and the
merge writes exactly the tensor names its inputs hold, with the first input's config.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from trainer.data.rows import Row
from trainer.models.cache import WEIGHT_SUFFIXES, file_sha256
from trainer.train.topics import topic_clusters

WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"
RECORD = "merge.json"
# Files of an input that describe its training, not the merged model.
NOT_COPIED = {INDEX, RECORD, "checkpoint.json", "train_log.jsonl"}

MergeMethod = Literal["average", "ties"]
ShardBy = Literal["leaf", "cluster"]  # how disperse-then-merge splits a phase


class MergeError(ValueError):
    """Inputs that cannot be merged; the message starts with the file or folder at fault."""


@dataclass(frozen=True)
class MergeConfig:
    method: MergeMethod = "average"
    weights: tuple[float, ...] | None = None  # average: one per input; None: uniform
    density: float = 0.2  # ties: fraction of each task vector's entries kept (by magnitude)
    scale: float = 1.0  # ties: lambda, the merged task vector's scale

    def __post_init__(self) -> None:
        if self.method not in ("average", "ties"):
            raise ValueError(f"merge method must be average or ties, not {self.method!r}")
        if self.weights is not None and (
            any(w < 0 for w in self.weights) or not sum(self.weights) > 0
        ):
            raise ValueError("merge weights must be >= 0 with a positive sum")
        if not 0 < self.density <= 1:
            raise ValueError("ties density must be in (0, 1]")


@dataclass(frozen=True)
class MergeResult:
    path: Path
    method: MergeMethod
    inputs: int
    tensors: int
    parameters: int  # elements merged (non-float tensors are copied, not counted)
    seconds: float


def average(
    tensors: Sequence[torch.Tensor], weights: Sequence[float] | None = None
) -> torch.Tensor:
    """The weighted mean sum(w_i * t_i) / sum(w_i), computed in float64: the mean of K
    identical tensors is then exactly that tensor once cast back."""
    w = list(weights) if weights is not None else [1.0] * len(tensors)
    total = torch.zeros(tensors[0].shape, dtype=torch.float64)
    for wi, t in zip(w, tensors, strict=True):
        total += wi * t.to(torch.float64)
    return total / sum(w)


def trim(delta: torch.Tensor, density: float) -> torch.Tensor:
    """`delta` with all but its int(density * n) largest-magnitude entries zeroed (peft's
    magnitude pruning, the trim step of its TIES)."""
    from peft.utils.merge_utils import magnitude_based_pruning

    return delta if density >= 1 else magnitude_based_pruning(delta, density)


def ties(
    base: torch.Tensor, tensors: Sequence[torch.Tensor], density: float = 0.2, scale: float = 1.0
) -> torch.Tensor:
    """TIES-Merging of one tensor (Yadav et al., 2023) by peft's `ties`, in float64.

    1. task vectors: each input minus the base; 2. trim each to its top `density` entries;
    3. elect a sign per entry, that of the sum of the trimmed vectors; 4. disjoint mean:
    average only the trimmed entries whose sign equals the elected one (zeros abstain);
    5. base + scale * that mean. Steps 2-4 are peft's (equal weights); trimming is per
    tensor (the paper trims whole task vectors), which is what streaming allows.
    """
    from peft.utils.merge_utils import ties as peft_ties

    origin = base.to(torch.float64)
    deltas = [t.to(torch.float64) - origin for t in tensors]
    merged = peft_ties(deltas, torch.ones(len(deltas), dtype=torch.float64), density)
    return origin + scale * merged


def shard_rows(rows: Sequence[Row], k: int, seed: int, by: ShardBy = "leaf") -> list[list[Row]]:
    """K disjoint shards covering every row once, the same for the same rows and seed, with
    sizes differing by at most one. Within a shard, rows keep their input order.

    by="cluster": shards are topic clusters of the rows' text (trainer/train/topics.py),
    Disperse-then-Merge's split: each sub-model learns one part of the data.
    by="leaf": every leaf spread evenly over the shards. Rows are grouped by leaf
    (`row["metadata"]["leaf"]`; rows without one form one group), each group shuffled with a
    seed of its own, and dealt round-robin with the dealer's turn carried from group to
    group: every leaf with at least K rows reaches every sub-model.
    """
    if k < 1:
        raise ValueError("the number of shards must be >= 1")
    if by == "cluster" and len(rows) >= k:
        clusters = topic_clusters([_text(row) for row in rows], k, seed)
        return [[rows[i] for i in cluster] for cluster in clusters]
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(_leaf(row), []).append(i)
    shards: list[list[int]] = [[] for _ in range(k)]
    turn = 0
    for leaf in sorted(groups):
        members = groups[leaf]
        random.Random(f"{seed}\0{leaf}").shuffle(members)
        for i in members:
            shards[turn % k].append(i)
            turn += 1
    return [[rows[i] for i in sorted(shard)] for shard in shards]


def _text(row: Row) -> str:
    turns = row.get("messages") if isinstance(row, dict) else None
    if not isinstance(turns, list):
        return ""
    return "\n".join(str(t.get("content", "")) for t in turns if isinstance(t, dict))


def _leaf(row: Row) -> str:
    meta = row.get("metadata") if isinstance(row, dict) else None
    leaf = meta.get("leaf") if isinstance(meta, dict) else None
    return leaf if isinstance(leaf, str) else ""


class _Weights:
    """The tensors of one checkpoint folder (one safetensors file or a sharded index), read
    one at a time."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack) -> None:
        from safetensors import safe_open

        self.folder = folder
        index = folder / INDEX
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
                self.files = {str(k): folder / str(v) for k, v in weight_map.items()}
            except (ValueError, KeyError, AttributeError) as exc:
                raise MergeError(f"{index}: not a safetensors index ({exc})") from exc
        elif (folder / WEIGHTS).is_file():
            self.files = {}
        else:
            raise MergeError(
                f"{folder}: no {WEIGHTS} or {INDEX} (only safetensors checkpoints can be merged)"
            )
        self.handles: dict[Path, Any] = {}
        for path in sorted(set(self.files.values())) or [folder / WEIGHTS]:
            try:
                self.handles[path] = stack.enter_context(safe_open(str(path), framework="pt"))
            except Exception as exc:  # safetensors raises its own error types
                raise MergeError(f"{path}: cannot read ({exc})") from exc
        if not self.files:
            (path, handle), *_ = self.handles.items()
            self.files = {str(k): path for k in handle.keys()}  # noqa: SIM118 - not a dict

    def describe(self, key: str) -> tuple[list[int], str]:
        view = self.handles[self.files[key]].get_slice(key)
        return list(view.get_shape()), str(view.get_dtype())

    def get(self, key: str) -> torch.Tensor:
        tensor: torch.Tensor = self.handles[self.files[key]].get_tensor(key)
        return tensor

    def digests(self) -> dict[str, str]:
        return {p.name: file_sha256(p) for p in sorted(self.handles)}


def _check_compatible(first: _Weights, others: Sequence[_Weights]) -> None:
    keys = set(first.files)
    for other in others:
        missing, extra = keys - set(other.files), set(other.files) - keys
        if missing or extra:
            what = f"lacks {sorted(missing)[:3]}" if missing else f"has extra {sorted(extra)[:3]}"
            raise MergeError(
                f"{other.folder}: tensor names differ from {first.folder}: {what} "
                "(merge needs checkpoints of one architecture)"
            )
        for key in sorted(keys):
            mine, theirs = first.describe(key), other.describe(key)
            if mine[0] != theirs[0] or _is_float(mine[1]) != _is_float(theirs[1]):
                raise MergeError(
                    f"{other.folder / other.files[key].name}: tensor {key} is "
                    f"{theirs[1]}{theirs[0]} but {mine[1]}{mine[0]} in {first.folder}"
                )


def _is_float(dtype: str) -> bool:
    return dtype.startswith(("F", "BF"))


def merge_checkpoints(
    inputs: Sequence[Path],
    out: Path,
    config: MergeConfig | None = None,
    *,
    base: Path | None = None,
) -> MergeResult:
    """Merge checkpoints fine-tuned from one base into a new folder `out` (which must not
    exist). `base` (the checkpoint they started from) is needed by `ties` only. The config,
    tokenizer and chat template are copied from the first input."""
    cfg = config or MergeConfig()
    started = time.perf_counter()
    if not inputs:
        raise MergeError("nothing to merge: no input checkpoints")
    if cfg.method == "ties" and base is None:
        raise MergeError("ties merging needs the base checkpoint the inputs were trained from")
    if cfg.weights is not None and len(cfg.weights) != len(inputs):
        raise MergeError(f"{len(cfg.weights)} merge weights for {len(inputs)} checkpoints")
    if out.exists():
        raise MergeError(f"{out}: already exists; merge into a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".tmp-{out.name}-"))
    try:
        with contextlib.ExitStack() as stack:
            readers = [_Weights(Path(p), stack) for p in inputs]
            origin = _Weights(base, stack) if cfg.method == "ties" and base else None
            _check_compatible(readers[0], readers[1:] + ([origin] if origin else []))
            tensors, parameters = _write_weights(readers, origin, cfg, tmp)
            record = {
                "method": cfg.method,
                "parameters": _parameters(cfg, len(readers)),
                "inputs": [{"path": str(r.folder), "sha256": r.digests()} for r in readers],
                "base": {"path": str(origin.folder), "sha256": origin.digests()}
                if origin
                else None,
            }
        _copy_metadata(Path(inputs[0]), tmp)
        (tmp / RECORD).write_text(json.dumps(record, indent=2) + "\n")
        os.rename(tmp, out)  # fails, rather than replacing, if `out` appeared meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return MergeResult(
        out, cfg.method, len(inputs), tensors, parameters, time.perf_counter() - started
    )


def _parameters(cfg: MergeConfig, n: int) -> dict[str, Any]:
    if cfg.method == "ties":
        return {"density": cfg.density, "lambda": cfg.scale}
    weights = cfg.weights or (1.0,) * n
    return {"weights": [w / sum(weights) for w in weights]}


def _write_weights(
    readers: Sequence[_Weights], origin: _Weights | None, cfg: MergeConfig, tmp: Path
) -> tuple[int, int]:
    """Merge every tensor, writing the first input's file layout; returns (tensors,
    merged elements). One output file is held in memory at a time."""
    from safetensors.torch import save_file

    first = readers[0]
    layout: dict[str, list[str]] = {}
    for key, path in first.files.items():
        layout.setdefault(path.name, []).append(key)
    parameters = 0
    for name, keys in sorted(layout.items()):
        merged: dict[str, torch.Tensor] = {}
        for key in sorted(keys):
            parts = [r.get(key) for r in readers]
            if not parts[0].is_floating_point():
                # Integer/bool buffers (masks, ids) cannot be averaged; fine-tuning never
                # changes them, so they must agree.
                for r, t in zip(readers[1:], parts[1:], strict=True):
                    if not torch.equal(t, parts[0]):
                        raise MergeError(
                            f"{r.folder / r.files[key].name}: non-float tensor {key} differs "
                            f"from {first.folder}; it cannot be merged"
                        )
                merged[key] = parts[0]
                continue
            if cfg.method == "ties" and origin is not None:
                value = ties(origin.get(key), parts, cfg.density, cfg.scale)
            else:
                value = average(parts, cfg.weights)
            merged[key] = value.to(parts[0].dtype).contiguous()
            parameters += value.numel()
        save_file(merged, str(tmp / name), metadata={"format": "pt"})
    if (first.folder / INDEX).is_file():
        shutil.copyfile(first.folder / INDEX, tmp / INDEX)
    return len(first.files), parameters


def _copy_metadata(source: Path, dest: Path) -> None:
    """Config, generation config, tokenizer and chat template: every plain file of the first
    input except weights and training records (optimizer state folders are skipped)."""
    for path in sorted(source.iterdir()):
        if path.is_file() and path.suffix not in WEIGHT_SUFFIXES and path.name not in NOT_COPIED:
            shutil.copy2(path, dest / path.name)
