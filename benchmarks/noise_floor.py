"""The A/A noise floor: how far the benchmark moves between two trainings of the same data
that differ only in their seeds, and how often it would claim a change that is not there.

    .venv/bin/python benchmarks/noise_floor.py                  # the laptop profile (bot.yaml)
    .venv/bin/python benchmarks/noise_floor.py --seeds 0,1,2 --check 3,4 \
        --out benchmarks/results/noise-laptop.json
    BOT_CONFIG=runners/bot.gpu.yaml .venv/bin/python benchmarks/noise_floor.py \
        --out benchmarks/results/noise-gpu.json                 # the GPU profile

Through the real stages (bot/stages/): generate once (the store under --work is reused),
then retrain from the base model once per seed (train.seed and mix.seed both set, an empty
replay buffer, every leaf new), then benchmark pairs of those models against each other
with every leaf in the branch suite:

1. calibration pairs (every pair of --seeds): the per-leaf and per-suite deltas of the
   primary metric (and of the placebo difference) give the noise bands, the 95% quantile
   of |delta| (trainer/evaluation/noise.py);
2. check pairs (every pair of --check, seeds the bands never saw): the share of leaf
   verdicts that claim a change, without the bands and with them. Both models learnt the
   same data, so every claimed change is a false positive; the target is at most 5%.
   With the bands a change counts only when its whole interval clears the band
   (trainer/evaluation/compare.py).

Writes the band file bot.yaml's `evaluate.noise_band` names, with the command, the date,
the deltas and the false-positive rates, and prints both as tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.report.progress import RichProgress  # noqa: E402
from bot.stages.benchmark import BenchmarkRequest, benchmark  # noqa: E402
from bot.stages.generate import GenerateRequest, generate  # noqa: E402
from bot.stages.train import RetrainRequest, retrain  # noqa: E402
from bot.workspace import Workspace  # noqa: E402
from trainer.evaluation.noise import band_document, symmetric_band  # noqa: E402

KEYS = (("leaf", "primary"), ("leaf", "placebo"), ("suite", "primary"), ("suite", "placebo"))


PROGRESS = RichProgress()  # stderr: bars while each stage works


def say(line: str) -> None:
    PROGRESS.console.print(line)


def workspace(work: Path) -> Workspace:
    """This repository's taxonomy and settings, raw: no noise band applied."""
    profile = os.environ.get("BOT_CONFIG")
    ws = Workspace.open(ROOT, work=work, config_file=Path(profile) if profile else None)
    evaluate = dataclasses.replace(ws.config.evaluate, noise_band=None)
    return dataclasses.replace(ws, config=dataclasses.replace(ws.config, evaluate=evaluate))


def train(ws: Workspace, base: str, seed: int) -> Path:
    cfg = ws.config
    req = RetrainRequest(
        base_model=base,
        start=base,
        out=ws.layout.work / "aa" / f"seed-{seed}",
        update_replay=False,
        record=False,
        train=dataclasses.replace(cfg.train, seed=seed),
        mix=dataclasses.replace(cfg.mix, seed=seed),
    )
    empty = dataclasses.replace(ws.layout, replay_from=ws.layout.work / "aa" / "no-replay")
    say(f"A/A: training seed {seed}")
    return retrain(dataclasses.replace(ws, layout=empty), req, PROGRESS).model


def compare(ws: Workspace, a: Path, b: Path, name: str, bands: dict[str, Any]) -> dict[str, Any]:
    evaluate = dataclasses.replace(ws.config.evaluate, noise_band=bands.get("file"))
    ws = dataclasses.replace(ws, config=dataclasses.replace(ws.config, evaluate=evaluate))
    req = BenchmarkRequest(
        model=f"hf:{b}",
        base_model=f"hf:{a}",
        out=ws.layout.work / "aa" / "reports" / name,
        regression=False,
        general=False,
    )
    say(f"A/A: benchmark {name}")
    return benchmark(ws, req, PROGRESS).doc


def deltas(docs: list[dict[str, Any]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for doc in docs:
        for level, key in KEYS:
            groups = doc["leaves"] if level == "leaf" else doc["suites"]
            for g in groups:
                test = g.get(key)
                if g["suite"] == "branch" and test:
                    metric = test["metric"]
                    out.setdefault(f"{level}:{metric}", []).append(test["delta"])
    return out


def claims(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Leaf verdicts that claim a change, out of the testable ones, and which they were."""
    found = [
        (g["path"], g["primary"])
        for doc in docs
        for g in doc["leaves"]
        if g["suite"] == "branch" and g.get("primary")
    ]
    testable = [(leaf, p) for leaf, p in found if p["verdict"] != "too few items"]
    wrong = [
        {"leaf": leaf, "verdict": p["verdict"], "delta": p["delta"], "ci": p.get("ci")}
        for leaf, p in testable
        if p["verdict"] in ("improved", "regressed")
    ]
    return {
        "leaves": len(found),
        "testable": len(testable),
        "claimed_change": len(wrong),
        "rate": len(wrong) / len(testable) if testable else None,
        "claims": wrong,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", default="0,1,2", help="calibration seeds (every pair)")
    p.add_argument("--check", default="3,4", help="check seeds, never used for the bands")
    p.add_argument("--base-model", default="embedded")
    p.add_argument("--work", type=Path, default=ROOT / ".bot" / "noise-floor")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/noise-laptop.json")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    check = [int(s) for s in args.check.split(",")]
    started = time.monotonic()
    ws = workspace(args.work.absolute())
    generate(ws, GenerateRequest(), PROGRESS)
    models = {s: train(ws, args.base_model, s) for s in [*seeds, *check]}
    calib = [
        compare(ws, models[a], models[b], f"{a}-{b}", {})
        for a, b in itertools.combinations(seeds, 2)
    ]
    found = deltas(calib)
    bands = {key: symmetric_band(values) for key, values in found.items()}
    doc = band_document(
        bands,
        measured=dt.date.today().isoformat(),
        command=" ".join(["benchmarks/noise_floor.py", *map(shlex.quote, sys.argv[1:])]),
        profile=os.environ.get("BOT_CONFIG") or "bot.yaml",
        base_model=args.base_model,
        calibration_seeds=seeds,
        check_seeds=check,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    pairs = list(itertools.combinations(check, 2))
    raw = [compare(ws, models[a], models[b], f"check-{a}-{b}", {}) for a, b in pairs]
    banded = [
        compare(ws, models[a], models[b], f"check-band-{a}-{b}", {"file": str(args.out)})
        for a, b in pairs
    ]
    doc |= {
        "deltas": {k: [round(x, 6) for x in v] for k, v in found.items()},
        "false_positives": {
            "calibration_pairs_without_bands": claims(calib),
            "check_pairs_without_bands": claims(raw),
            "check_pairs_with_bands": claims(banded),
        },
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    report(doc)
    rate = doc["false_positives"]["check_pairs_with_bands"]["rate"]
    ok = rate is not None and rate <= 0.05
    print(f"{'PASS' if ok else 'FAIL'}: false-positive rate on the check pairs with the bands "
          f"{rate if rate is None else f'{rate:.1%}'} (target <= 5%)")  # fmt: skip
    return 0 if ok else 1


def report(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"A/A noise bands ({doc['measured']}, {doc['profile']})")
    for col in ("band", "deltas", "±"):
        table.add_column(col)
    for key, (_lo, hi) in doc["bands"].items():
        table.add_row(key, str(len(doc["deltas"].get(key, []))), f"{hi:.4f}")
    console.print(table)
    table = Table(title="claimed changes between two trainings of the same data")
    for col in ("pairs", "testable leaf verdicts", "claimed a change", "rate"):
        table.add_column(col)
    for name, c in doc["false_positives"].items():
        rate = "-" if c["rate"] is None else f"{c['rate']:.1%}"
        table.add_row(name.replace("_", " "), str(c["testable"]), str(c["claimed_change"]), rate)
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
