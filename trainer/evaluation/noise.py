"""Noise bands: how far the primary metric moves between two trainings of the same data
that differ only in their seeds (an A/A comparison, benchmarks/noise_floor.py).

Seeds move fine-tuning results as much as many method changes do, and an item-level test
cannot see that: its intervals describe the items, not the training. A change inside the
band is therefore no change, whatever its p-value (compare.py). A band is measured per
profile (model, settings, taxonomy) and stored as JSON:

    {"schema": "taxonomy-bot/noise-band/v1", "measured": "2026-12-02", "command": "...",
     "bands": {"leaf:nll": [-0.04, 0.04], "suite:nll": [...], "leaf:nll_vs_placebo": [...]},
     ...}

Keys are "<level>:<metric>", level "leaf" (one leaf's items) or "suite" (a suite's pooled
items).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SCHEMA = "taxonomy-bot/noise-band/v1"
Bands = dict[str, tuple[float, float]]


class NoiseError(Exception):
    """A noise band file that is missing or malformed."""


def load_bands(path: Path) -> Bands:
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise NoiseError(f"{path} does not exist (run benchmarks/noise_floor.py)") from None
    except (OSError, ValueError) as exc:
        raise NoiseError(f"{path}: unreadable ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise NoiseError(f"{path}: not a noise band file ({SCHEMA})")
    bands: Bands = {}
    for key, value in (doc.get("bands") or {}).items():
        ok = isinstance(value, list) and len(value) == 2
        if not ok or not all(isinstance(v, int | float) and math.isfinite(v) for v in value):
            raise NoiseError(f"{path}: band {key!r} must be [low, high], not {value!r}")
        if value[0] > value[1]:
            raise NoiseError(f"{path}: band {key!r} has low > high")
        bands[str(key)] = (float(value[0]), float(value[1]))
    return bands


def symmetric_band(deltas: Iterable[float], coverage: float = 0.95) -> tuple[float, float]:
    """±q, q the `coverage` quantile of |delta| (linear interpolation): A/A deltas have no
    direction, so both signs count alike."""
    import numpy as np

    values = np.abs(np.asarray(list(deltas), dtype=np.float64))
    if values.size == 0:
        raise ValueError("no A/A deltas to measure a band from")
    q = float(np.quantile(values, coverage))
    return (-q, q)


def band_document(bands: Mapping[str, tuple[float, float]], **about: Any) -> dict[str, Any]:
    """The JSON document a band file holds (`about`: measured, command, profile, ...)."""
    return {
        "schema": SCHEMA,
        **about,
        "bands": {k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in sorted(bands.items())},
    }
