"""How long `bot benchmark` takes on the starter taxonomy with the embedded model, and how
its cost grows with the number of items.

    .venv/bin/python benchmarks/benchmark_speed.py                 # full run + scaling
    .venv/bin/python benchmarks/benchmark_speed.py --two-models    # also a distinct candidate
    .venv/bin/python benchmarks/benchmark_speed.py --json-out bench.json

Parts (each a fresh `bot benchmark` process with --no-cache, in a temporary copy of the
starter taxonomy, so nothing is read from an earlier run):

a. full: every leaf as the branch suite plus the regression suite (general set), base =
   candidate = embedded. Identical fingerprints mean the items are scored once: this is the
   cost of one model, which is also what a pull request pays once the base's scores are in
   the cache. Target: < 180 s wall, interpreter start-up included.
b. two models (--two-models): the candidate is a copy of the embedded weights with one
   weight nudged by 1e-6 (a different fingerprint), so both models are scored.
c. scaling: the scoring engine (`trainer.evaluation.run.score_items`, one loaded model) on N
   and 2N items of the same mix: the first N of the general set, then those plus the same
   questions prefixed "Please answer: " (distinct content, so nothing is shared between the
   halves; a copied taxonomy would not do: identical prompts are scored once). Seconds per
   item at both sizes; linear cost means about the same figure twice.

Ends with one PASS/FAIL line per target (exit 1 on a FAIL).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 180.0


def taxonomy(dest: Path) -> Path:
    (dest / ".git").mkdir(parents=True)  # marks the root for `bot`; no history needed
    shutil.copytree(ROOT / "taxonomy", dest / "taxonomy")
    return dest


def scaling(n: int) -> dict[str, Any]:
    from dataclasses import replace

    from trainer.evaluation.run import ScoreSettings, score_items
    from trainer.evaluation.suites import general_items
    from trainer.models import load_model

    base = general_items()[:n]
    more = [
        replace(
            i,
            question=f"Please answer: {i.question}",
            prompt=f"Please answer: {i.prompt}",
            mc_prompt=f"Please answer: {i.mc_prompt}",
        )
        for i in base
    ]
    out = {}
    with load_model("embedded") as model:
        for label, items in (("1x", base), ("2x", base + more)):
            started = time.monotonic()
            score_items(model, items, ScoreSettings())
            seconds = time.monotonic() - started
            out[label] = {
                "items": len(items),
                "seconds": round(seconds, 1),
                "s_per_item": round(seconds / len(items), 3),
            }
    return out


def nudged_copy(dest: Path) -> Path:
    """The embedded model saved as a folder with one weight changed by 1e-6."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.models import local_model_dir

    src = local_model_dir("embedded")
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-6
    model.save_pretrained(dest)
    AutoTokenizer.from_pretrained(src).save_pretrained(dest)
    return dest


def bench(repo: Path, *args: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bot", "benchmark", "--format", "json", "--no-cache", *args]
    cmd += ["--work", str(repo / ".bot")]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode not in (0, 3):
        raise SystemExit(f"bot benchmark failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    scored = doc["base"]["items_scored"] + doc["candidate"]["items_scored"]
    return {
        "items": doc["summary"]["items"],
        "items_scored": scored,
        "wall_s": round(wall, 1),
        "inside_s": doc["summary"]["seconds"],
        "s_per_scored_item": round(doc["summary"]["seconds"] / scored, 3),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--two-models", action="store_true", help="also time a distinct candidate")
    p.add_argument("--no-scaling", action="store_true", help="skip part c")
    p.add_argument("--no-full", action="store_true", help="skip part a")
    p.add_argument("--scaling-items", type=int, default=48, metavar="N")
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()
    load = os.getloadavg()
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)"
    )
    results: dict[str, Any] = {"load_start": load}
    with tempfile.TemporaryDirectory() as tmp:
        one = taxonomy(Path(tmp) / "x1")
        if not args.no_full:
            results["full"] = bench(one, "--model", "embedded")
            print("a. full, one model:", results["full"])
        if args.two_models:
            cand = nudged_copy(Path(tmp) / "candidate")
            results["two_models"] = bench(one, "--model", f"hf:{cand}")
            print("b. full, two models:", results["two_models"])
        if not args.no_scaling:
            results["scaling"] = scaling(args.scaling_items)
            print("c. scaling:", results["scaling"])
    results["load_end"] = os.getloadavg()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in results['load_end'])}")
    if max(results["load_start"][0], results["load_end"][0]) > (os.cpu_count() or 1) / 2:
        print("warning: the machine was busy; wall times are inflated")
    ok = True
    if "full" in results:
        ok = results["full"]["wall_s"] < TARGET_S
        print(
            f"{'PASS' if ok else 'FAIL'}: full benchmark of the starter taxonomy "
            f"{results['full']['wall_s']} s (target < {TARGET_S:.0f} s)"
        )
    if "scaling" in results:
        a, b = results["scaling"]["1x"], results["scaling"]["2x"]
        ratio = b["s_per_item"] / a["s_per_item"]
        linear = 0.7 < ratio < 1.3
        print(
            f"{'PASS' if linear else 'FAIL'}: per-item cost {a['s_per_item']} s at "
            f"{a['items']} items, {b['s_per_item']} s at {b['items']} "
            f"(ratio {ratio:.2f}, linear within 30%)"
        )
        ok = ok and linear
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
