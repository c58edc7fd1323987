"""Models on the knowledge leaves' validation facts: what a choice of settings may look at.

    .venv/bin/python benchmarks/validation_facts.py --root . RUN_A/.../checkpoint RUN_B/...

The validation facts (bot/stages/generate.py `validation_facts`) are ranked after the facts
a report shows and never reported; the checkpoint chooser uses them, and so may anyone
comparing two settings (issue 16 point 7: never tune on the reported items). For each model
folder: the NLL gain per token over the base model on the true answers, the same on their
placebo twins (facts in no document), and true minus placebo (knowledge beyond the answers'
form), each with a 95% interval from resampling the items (the same resample for every
model, so models compare paired). The taxonomy and settings are those of `--root`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.stages.generate import validation_facts  # noqa: E402
from bot.workspace import Workspace  # noqa: E402
from trainer.evaluation.chooser import CHOOSER_SETTINGS  # noqa: E402
from trainer.evaluation.compare import item_metrics  # noqa: E402
from trainer.evaluation.items import Item  # noqa: E402
from trainer.evaluation.run import run_model  # noqa: E402

RESAMPLES = 2000


def scores(spec: str, items: list[Item]) -> dict[str, dict[str, float]]:
    run = run_model(spec, items, CHOOSER_SETTINGS)
    return {i.id: item_metrics(i, run.scores[i.id]) for i in items}


def interval(x: np.ndarray, draws: np.ndarray) -> str:
    means = x[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return f"{x.mean():+.3f} [{low:+.3f}, {high:+.3f}]"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("models", nargs="+", type=Path, help="model folders (a checkpoint each)")
    p.add_argument("--root", type=Path, default=ROOT, help="the repository whose leaves count")
    p.add_argument("--base-model", default="embedded")
    args = p.parse_args()
    items = validation_facts(Workspace.open(args.root.resolve()))
    base = scores(args.base_model, items)
    found = {m: scores(f"hf:{m.resolve()}", items) for m in args.models}
    ids = [i.id for i in items if all("placebo_nll" in s[i.id] for s in (base, *found.values()))]
    draws = np.random.default_rng(0).integers(0, len(ids), (RESAMPLES, len(ids)))
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"validation facts ({len(ids)} items), gain over {args.base_model}")
    for col in ("model", "true answers", "placebo twins", "true minus placebo"):
        table.add_column(col, overflow="fold")
    for model, got in found.items():
        true = np.array([base[i]["nll"] - got[i]["nll"] for i in ids])
        twin = np.array([base[i]["placebo_nll"] - got[i]["placebo_nll"] for i in ids])
        cells = (interval(true, draws), interval(twin, draws), interval(true - twin, draws))
        table.add_row(str(model), *cells)
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
