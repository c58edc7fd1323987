"""Profiles compared on the continual benchmark's validation facts only: what tuning the
laptop profile may look at (issue 16 point 7: never the reported items).

    .venv/bin/python benchmarks/continual_tuning.py benchmarks/results/tuning/*.json

Each input is one `continual.py` output, run with another profile:

    BOT_CONFIG=my-profile.yaml .venv/bin/python benchmarks/continual.py --variants replay \
        --out benchmarks/results/tuning/continual-<setting>

Prints one row per file, named by the file (its setting): the replay variant's figures on
the knowledge leaves' validation facts (ACC, BWT, forgetting, plasticity, each with its 95%
interval from resampling the items) and each knowledge leaf's gain at its own merge, beside
one leaf's A/A noise band. The held-out figures in the same files are not shown: a setting
chosen by them would make them a tuning set. Writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

KEYS = ("ACC", "BWT", "forgetting", "plasticity")


def own_merge(doc: dict[str, Any], variant: str) -> list[tuple[str, float]]:
    """(leaf, gain at its own merge) for each leaf that has validation facts."""
    matrix = doc["variants"][variant]["validation"]["matrix"]
    leaves = doc["leaves"]
    return [
        (leaves[i].rsplit("/", 1)[-1], row[i]) for i, row in enumerate(matrix) if row[i] is not None
    ]


def table(docs: dict[str, dict[str, Any]], variant: str) -> Any:
    from rich.table import Table

    first = next(iter(docs.values()))
    leaves = [leaf for leaf, _ in own_merge(first, variant)]
    out = Table(title=f"{variant} variant on the validation facts (never reported)")
    for col in ("setting", *KEYS, *(f"{leaf} (own merge)" for leaf in leaves), "time"):
        out.add_column(col)
    for name, doc in docs.items():
        found = doc["variants"][variant]
        figures = found["validation"]
        cells = []
        for key in KEYS:
            lo, hi = figures["intervals"][key]
            cells.append(f"{figures['summary'][key]:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        cells += [f"{gain:+.3f}" for _, gain in own_merge(doc, variant)]
        out.add_row(name, *cells, f"{found['seconds']:.0f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="continual.py outputs (.json)")
    p.add_argument("--variant", default="replay")
    args = p.parse_args(argv)
    docs = {path.stem: json.loads(path.read_text()) for path in args.runs}
    if missing := [n for n, d in docs.items() if args.variant not in d["variants"]]:
        p.error(f"no {args.variant} variant in {', '.join(missing)}")
    console = Console()
    console.print(table(docs, args.variant))
    bands = {tuple(d["noise_band_leaf_nll"] or ()) for d in docs.values()}
    for band in sorted(bands):
        if band:
            console.print(f"one leaf's A/A noise band: ±{band[1]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
