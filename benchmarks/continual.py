"""The continual-learning benchmark: merge the starter leaves one at a time through the real
retrain path and record what each merge does to every leaf.

    .venv/bin/python benchmarks/continual.py                        # laptop profile, 6 merges
    .venv/bin/python benchmarks/continual.py --leaves 9 --variants replay,no-replay,joint
    BOT_CONFIG=runners/bot.gpu.yaml .venv/bin/python benchmarks/continual.py --leaves 9 \
        --out benchmarks/results/continual-gpu                       # the GPU profile

For each variant, a workspace whose taxonomy starts empty gets one leaf per merge (knowledge
and skills alternating); each merge runs generate and the retrain stage (bot/stages/), which
continues from the last model:

- replay: the profile as it is (new leaves plus a replay sample of earlier ones);
- no-replay: replay_ratio and knowledge_replay_ratio 0 (new leaves only);
- joint: one retrain from the base model on every leaf at once, after the last merge: what
  training on everything together reaches, the reference for the others;
- disperse (not run by default: it trains K times): the replay variant with
  disperse-then-merge, 2 sub-models on topic clusters of each phase, averaged.

After each merge the model is scored on every leaf's held-out items (trainer/evaluation/:
merged and future leaves alike), with NLL per token as the metric. With
a[i][j] = NLL_base(j) - NLL(model after merge i, leaf j), the gain over the base model
(higher is better), the accuracy matrix R = a gives (Lopez-Paz & Ranzato 2017; Chaudhry
et al. 2018):

- average gain ACC = mean_j a[T][j] after the last merge T;
- backward transfer BWT = mean_{j<T} (a[T][j] - a[j][j]): below zero, earlier leaves lost
  what their own merge gave them (forgetting);
- forgetting F = mean_{j<T} (max_{i<T} a[i][j] - a[T][j]);
- plasticity P = mean_j a[j][j]: what a merge gives its own leaf.

The same figures on the knowledge leaves' validation facts (bot/stages/generate.py: ranked
after the reported facts, never in a report; skills have none) are recorded beside them
under "validation": what tuning the profile may look at (issue 16 point 7). The held-out
figures are what is reported; a setting is never chosen on them, and a run with `--tuning`
prints only the validation table (the JSON keeps both).

Intervals: 95% percentile intervals from resampling each leaf's items (the same resample for
every model, so the comparison stays paired), 2,000 times. Replay against no replay is
compared the same way, item by item: each figure's difference with its own interval
(`replay_minus_no_replay` in the JSON, printed after the tables). Beside them, the A/A
noise band of one leaf (bot.yaml evaluate.noise_band) where one is measured. Writes `<out>.json` and
`<out>.png` (one heatmap of a per variant) and prints the tables. The replay variant's
reports are kept in `<work>/evaluate/history/`, so `bot site --work <work>/evaluate` shows
this run's merges leaf by leaf. A variant's models (about 19 GB on the laptop profile) are
deleted once it is scored; `--keep` keeps them.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pygit2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.report.progress import RichProgress  # noqa: E402
from bot.site.archive import HistoryNote  # noqa: E402
from bot.stages.benchmark import BenchmarkRequest, benchmark  # noqa: E402
from bot.stages.generate import GenerateRequest, generate, validation_facts  # noqa: E402
from bot.stages.train import RetrainRequest, retrain  # noqa: E402
from bot.workspace import Workspace  # noqa: E402
from trainer.evaluation.chooser import CHOOSER_SETTINGS  # noqa: E402
from trainer.evaluation.compare import item_metrics  # noqa: E402
from trainer.evaluation.continual import (  # noqa: E402
    Score,
    Scores,
    difference,
    intervals,
    matrix,
    summary,
)
from trainer.evaluation.noise import NoiseError, load_bands  # noqa: E402
from trainer.evaluation.run import run_model  # noqa: E402
from trainer.models.cache import write_atomic  # noqa: E402

VARIANTS = ("replay", "no-replay", "joint", "disperse")
DEFAULT_VARIANTS = "replay,no-replay,joint"


PROGRESS = RichProgress()  # stderr: bars while each stage works


def say(line: str) -> None:
    PROGRESS.console.print(line)


def leaf_order(n: int) -> list[str]:
    """The starter leaves, knowledge and skills alternating, in a fixed order."""
    ws = Workspace.open(ROOT)
    paths = sorted(str(f.parent.relative_to(ws.taxonomy)) for f in ws.leaf_files())
    knowledge = [p for p in paths if p.startswith("knowledge/")]
    skills = [p for p in paths if not p.startswith("knowledge/")]
    mixed = [p for pair in zip(knowledge, skills, strict=False) for p in pair]
    mixed += [p for p in paths if p not in mixed]
    return mixed[:n]


def variant_workspace(out: Path, name: str, store: Path) -> Workspace:
    """An empty taxonomy with this repository's settings; one generation store for all."""
    root = out / name / "repo"
    if root.exists():
        shutil.rmtree(root)
    (root / "taxonomy").mkdir(parents=True)
    profile = os.environ.get("BOT_CONFIG")
    shutil.copy(ROOT / (profile or "bot.yaml"), root / "bot.yaml")
    work = out / name / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    store.mkdir(parents=True, exist_ok=True)
    (work / "generate").symlink_to(store, target_is_directory=True)
    return Workspace.open(root, work=work)


def evaluation_workspace(work: Path) -> Workspace:
    """Every leaf of this repository, with every leaf's training data exported: the items
    are filtered against all of it once, so every merge is scored on the same items."""
    folder = work / "evaluate"
    folder.mkdir(parents=True, exist_ok=True)
    store = work / "store"
    store.mkdir(parents=True, exist_ok=True)
    if not (folder / "generate").exists():
        (folder / "generate").symlink_to(store, target_is_directory=True)
    profile = os.environ.get("BOT_CONFIG")
    ws = Workspace.open(ROOT, work=folder, config_file=Path(profile) if profile else None)
    generate(ws, GenerateRequest(), PROGRESS)  # every leaf once; the variants reuse the store
    return ws


def merge(ws: Workspace, leaf: str) -> None:
    shutil.copytree(ROOT / "taxonomy" / leaf, ws.taxonomy / leaf)
    done = generate(ws, GenerateRequest(), PROGRESS)
    if done.failed:
        raise SystemExit(f"generation failed: {done.failed[0].path}: {done.failed[0].reason}")


def no_replay(ws: Workspace) -> Workspace:
    mix = dataclasses.replace(ws.config.mix, replay_ratio=0.0, knowledge_replay_ratio=0.0)
    return dataclasses.replace(ws, config=dataclasses.replace(ws.config, mix=mix))


def score(
    evaluator: Workspace, model: Path, base: str, name: str, note: HistoryNote | None = None
) -> Scores:
    """Every leaf's items: item id -> {"leaf", "model", "base"} NLL per token. With a note,
    the report is kept in the evaluation workspace's history (what `bot site` shows)."""
    req = BenchmarkRequest(
        model=f"hf:{model}",
        base_model=base,
        out=evaluator.layout.work / "reports" / name,
        regression=False,
        general=False,
        answers=False,
        history=note,
    )
    doc = benchmark(evaluator, req, PROGRESS).doc
    items = {}
    for item in doc["items"]:
        if item["suite"] == "branch" and "nll" in item["candidate"] and "nll" in item["base"]:
            items[item["id"]] = Score(item["group"], item["candidate"]["nll"], item["base"]["nll"])
    return items


class ValidationScorer:
    """NLL per token on every knowledge leaf's validation facts; the base scored once."""

    def __init__(self, evaluator: Workspace, base: str) -> None:
        self.items = validation_facts(evaluator)
        self.base = self._nll(base)

    def _nll(self, spec: str) -> dict[str, float]:
        run = run_model(spec, self.items, CHOOSER_SETTINGS)
        return {i.id: item_metrics(i, run.scores[i.id])["nll"] for i in self.items}

    def __call__(self, model: Path) -> Scores:
        found = self._nll(f"hf:{model}")
        return {i.id: Score(i.group, found[i.id], self.base[i.id]) for i in self.items}


def dispersed(ws: Workspace, k: int = 2) -> Workspace:
    train = dataclasses.replace(ws.config.train, disperse=k, disperse_by="cluster")
    return dataclasses.replace(ws, config=dataclasses.replace(ws.config, train=train))


def run_variant(
    name: str,
    order: list[str],
    out: Path,
    store: Path,
    base: str,
    evaluator: Workspace,
    validate: ValidationScorer,
) -> tuple[list[Scores], list[Scores]]:
    """Held-out and validation scores after each merge (the joint variant: the last only)."""
    ws = variant_workspace(out, name, store)
    ws = no_replay(ws) if name == "no-replay" else ws
    ws = dispersed(ws) if name == "disperse" else ws
    rows, checks = [], []
    for i, leaf in enumerate(order):
        merge(ws, leaf)
        if name == "joint" and i < len(order) - 1:
            continue
        req = RetrainRequest(base_model=base)
        if name == "joint":
            req = dataclasses.replace(req, start=base, new_leaves=tuple(order), update_replay=False)
        trained = retrain(ws, req, PROGRESS)
        say(f"{name}: merge {i + 1}/{len(order)} ({leaf}): {trained.model}")
        note = (
            HistoryNote(f"merge {i + 1}: {leaf.rsplit('/', 1)[-1]}", (leaf,))
            if name == "replay"
            else None
        )
        rows.append(score(evaluator, trained.model, base, f"{name}-{i + 1}", note))
        checks.append(validate(trained.model))
    return rows, checks


def figures(rows: list[Scores], order: list[str]) -> dict[str, Any]:
    a = matrix(rows, order)
    return {
        "matrix": [[None if np.isnan(x) else round(float(x), 5) for x in row] for row in a],
        "summary": summary(a),
        "intervals": intervals(rows, order),
    }


def heatmap(results: dict[str, Any], leaves: list[str], path: Path) -> None:
    """One panel per variant, rows = after merge i, columns = leaves in merge order; the
    framed cell of each row is the leaf that merge brought (its plasticity)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    shown = [v for v in results if results[v]["matrix"]]
    fig, axes = plt.subplots(
        1, len(shown), figsize=(3.6 * len(shown) + 2, 0.5 * len(leaves) + 3.4), squeeze=False,
        layout="constrained", sharey=True,
    )  # fmt: skip
    values = [x for v in shown for row in results[v]["matrix"] for x in row if x is not None]
    lim = max(abs(min(values)), abs(max(values))) if values else 1.0
    names = [f"{j + 1}. {leaf.rsplit('/', 1)[-1][:22]}" for j, leaf in enumerate(leaves)]
    for k, (ax, name) in enumerate(zip(axes[0], shown, strict=True)):
        a = np.full((len(leaves), len(leaves)), np.nan)
        rows = [[np.nan if x is None else x for x in row] for row in results[name]["matrix"]]
        joint = len(rows) == 1
        a[-len(rows) :] = rows  # the joint model exists only after the last merge
        im = ax.imshow(a, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_title(f"{name} (after all merges)" if joint else name, fontsize=10)
        ax.set_xticks(range(len(leaves)), names, rotation=55, ha="right", fontsize=7)
        ax.set_yticks(range(len(leaves)), [f"after merge {i + 1}" for i in range(len(leaves))])
        ax.tick_params(axis="y", labelsize=7, labelleft=k == 0)
        for (i, j), x in np.ndenumerate(a):
            if not np.isnan(x):
                ax.text(j, i, f"{x:+.2f}", ha="center", va="center", fontsize=6)
            if i == j and not joint:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.2))
    fig.colorbar(im, ax=axes[0].tolist(), label="NLL gain over the base (nats/token)")
    fig.suptitle(
        "Continual learning: gain on each leaf's held-out items after each merge "
        "(framed: the merge's own leaf)",
        fontsize=10,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--leaves", type=int, default=6, help="merges (one leaf each), at least 6")
    p.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"of {', '.join(VARIANTS)}")
    p.add_argument("--base-model", default="embedded")
    p.add_argument("--work", type=Path, default=ROOT / ".bot" / "continual")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "continual-laptop")
    p.add_argument("--replot", action="store_true", help="redraw <out>.png from <out>.json")
    p.add_argument(
        "--tuning", action="store_true",
        help="print the validation figures only (the held-out ones still go to <out>.json)",
    )  # fmt: skip
    p.add_argument(
        "--keep", action="store_true",
        help="keep each variant's models (about 19 GB a variant); default: delete once scored",
    )  # fmt: skip
    args = p.parse_args()
    if args.replot:
        doc = json.loads(out_file(args.out, ".json").read_text())
        heatmap(doc["variants"], doc["leaves"], out_file(args.out, ".png"))
        report(doc, tuning=args.tuning)
        return 0
    variants = [v for v in args.variants.split(",") if v]
    if unknown := set(variants) - set(VARIANTS):
        p.error(f"unknown variant(s) {', '.join(sorted(unknown))}")
    started = time.monotonic()
    order = leaf_order(args.leaves)
    work = args.work.absolute()
    evaluator = evaluation_workspace(work)
    validate = ValidationScorer(evaluator, args.base_model)
    results: dict[str, Any] = {}
    scored: dict[str, tuple[list[Scores], list[Scores]]] = {}
    for name in variants:
        t0 = time.monotonic()
        rows, checks = scored[name] = run_variant(
            name, order, work, work / "store", args.base_model, evaluator, validate
        )
        results[name] = {
            **figures(rows, order),
            "validation": figures(checks, order),
            "seconds": round(time.monotonic() - t0, 1),
        }
        if not args.keep:  # its scores are taken; the checkpoints would fill a laptop disk
            shutil.rmtree(work / name, ignore_errors=True)
    band = None
    try:
        bands = load_bands(ROOT / (Workspace.open(ROOT).config.evaluate.noise_band or ""))
        band = bands.get("leaf:nll")
    except (NoiseError, IsADirectoryError):
        pass
    doc = {
        "measured": dt.date.today().isoformat(),
        "command": " ".join(["benchmarks/continual.py", *sys.argv[1:]]),
        "profile": os.environ.get("BOT_CONFIG") or "bot.yaml",
        "commit": head_commit(),
        "tuning": args.tuning,
        "base_model": args.base_model,
        "leaves": order,
        "metric": "gain = NLL_base - NLL_model per token on held-out items (higher is better)",
        "noise_band_leaf_nll": list(band) if band else None,
        "variants": results,
        "replay_minus_no_replay": replay_gain(scored, order),
        "seconds": round(time.monotonic() - started, 1),
    }
    write_atomic(out_file(args.out, ".json"), json.dumps(doc, indent=2) + "\n")
    heatmap(results, order, out_file(args.out, ".png"))
    report(doc, tuning=args.tuning)
    return 0


def out_file(out: Path, ext: str) -> Path:
    """<out><ext>: appended, since a name like continual-lr1.25e-5 has no suffix to replace."""
    return out.with_name(out.name + ext)


def head_commit() -> str | None:
    """The commit measured (short id, "+dirty" with uncommitted changes), for the record."""
    try:
        repo = pygit2.Repository(str(ROOT))
        dirty = bool(repo.status(untracked_files="no"))
        return str(repo.head.target)[:7] + ("+dirty" if dirty else "")
    except pygit2.GitError:
        return None


def replay_gain(
    scored: dict[str, tuple[list[Scores], list[Scores]]], order: list[str]
) -> dict[str, Any] | None:
    """Replay's figures minus no-replay's, paired item by item (held-out and validation)."""
    if "replay" not in scored or "no-replay" not in scored:
        return None
    (rows, checks), (rows_b, checks_b) = scored["replay"], scored["no-replay"]
    return {
        "held_out": difference(rows, rows_b, order),
        "validation": difference(checks, checks_b, order),
    }


def report(doc: dict[str, Any], tuning: bool = False) -> None:
    """The tables; a tuning run shows only what a setting may be chosen on."""
    from rich.console import Console

    console = Console()
    merges = len(doc["leaves"])
    title = f"continual learning, {merges} merges ({doc['measured']}, {doc['profile']})"
    if tuning:
        console.print(f"{title}: a tuning run, the held-out figures are not shown")
    else:
        console.print(summary_table(title + ": held-out items (reported)", doc["variants"]))
    checks = {n: r["validation"] for n, r in doc["variants"].items() if "validation" in r}
    if checks:  # runs before the validation split existed have none
        name = "validation facts (knowledge leaves; what tuning may look at)"
        console.print(summary_table(name, checks))
    if (gain := doc.get("replay_minus_no_replay")) and not tuning:
        cells = [
            f"{k} {d['delta']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]"
            for k, d in gain["held_out"].items()
        ]
        console.print("replay minus no-replay, paired by item (held-out): " + "; ".join(cells))
    if doc["noise_band_leaf_nll"]:
        console.print(f"one leaf's A/A noise band: ±{doc['noise_band_leaf_nll'][1]:.3f}")


def summary_table(title: str, variants: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for col in ("variant", "ACC", "BWT", "forgetting", "plasticity", "time"):
        table.add_column(col)
    for name, r in variants.items():
        cells = []
        for key in ("ACC", "BWT", "forgetting", "plasticity"):
            if key in r["summary"]:
                lo, hi = r["intervals"][key]
                cells.append(f"{r['summary'][key]:+.3f} [{lo:+.3f}, {hi:+.3f}]")
            else:
                cells.append("-")
        seconds = r.get("seconds")
        table.add_row(name, *cells, f"{seconds:.0f} s" if seconds is not None else "")
    return table


if __name__ == "__main__":
    sys.exit(main())
