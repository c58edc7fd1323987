"""Packed vs padded training on the same data, side by side, with the embedded model.

    .venv/bin/python benchmarks/train_speed.py [--data .bot/data] [--model embedded]
        [--steps 3] [--batch-size 8] [--pack-tokens 512] [--rounds 2] [--json-out FILE]

Both sides run the real `bot train` loop (`trainer.train.loop.train_phase`) on the same
rows, the same number of optimizer steps and the same samples per step:
  a. padded baseline: one example per row, `--batch-size` rows per forward pass, each
     padded to the longest in it (what a plain SFT data collator does);
  b. packed: examples packed into rows of `--pack-tokens` by best-fit decreasing, one row
     per forward pass (the default), a block-diagonal causal mask keeping examples apart.
Reported per side: packing efficiency (real tokens / tokens processed including padding)
and training tokens/s (real tokens over training time; checkpoint writes excluded). The
sides alternate for `--rounds` rounds and each keeps its fastest (a shared machine only
ever slows a pass down). Also: this machine's fp32 matmul FLOP/s (the CPU's practical
limit), and the achieved training FLOP/s of the packed side as a fraction of it
(6 x parameters x tokens, plus attention).

Data: the exported generation data (`bot generate` writes `.bot/data/`); without it, the
starter taxonomy's seed examples, and the output says so.
Targets: packed efficiency >= 0.95; packed tokens/s >= 1.5x padded. Exit 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._common import verdict  # noqa: E402
from trainer.models.loader import local_model_dir  # noqa: E402
from trainer.train.config import TrainConfig  # noqa: E402
from trainer.train.loop import PhaseJob, PhaseResult, train_phase  # noqa: E402


def rows_from(data: Path) -> tuple[list[dict[str, Any]], str]:
    files = sorted(data.rglob("*.jsonl")) if data.is_dir() else []
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines() if line]
    if rows:
        return rows, f"generated data: {len(files)} leaves in {data}"
    from bot.taxonomy.find import LEAF_NAME, walk
    from bot.taxonomy.leaves import read_leaf
    from trainer.sdg.pipeline import user_message

    for leaf in sorted(p for p in walk(ROOT / "taxonomy") if p.name == LEAF_NAME):
        found = read_leaf(leaf, ROOT, ROOT / ".bot" / "cache")
        for ex in found.seeds + found.heldout:
            rows.append(
                {
                    "messages": [
                        {"role": "user", "content": user_message(ex.question, ex.context)},
                        {"role": "assistant", "content": ex.answer},
                    ]
                }
            )
    return rows, f"seed examples of the starter taxonomy ({data} has no generated data)"


def matmul_flops(seconds: float = 3.0, n: int = 1024) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.matmul(a, b)
        done += 1
    return 2 * n**3 * done / (time.perf_counter() - start)


def train_flops(model_dir: Path, tokens: int, mean_len: float) -> float:
    """6 x weights x tokens (forward + backward) plus attention scores, 12 x layers x hidden
    x context per token. With tied embeddings the stored matrix is the output layer's."""
    from safetensors import safe_open

    cfg = json.loads((model_dir / "config.json").read_text())
    params = 0
    for f in model_dir.glob("*.safetensors"):
        with safe_open(str(f), "pt") as st:
            for key in st.keys():  # noqa: SIM118 - safe_open is not iterable
                params += _numel(st.get_slice(key).get_shape())
    attention = 12 * cfg["num_hidden_layers"] * cfg["hidden_size"] * mean_len
    return float((6 * params + attention) * tokens)


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def run_side(base: Path, data: Path, cfg: TrainConfig, name: str) -> PhaseResult:
    with tempfile.TemporaryDirectory(prefix=f"train-speed-{name}-") as out:
        return train_phase(PhaseJob(name, base, data, Path(out), cfg))


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / ".bot" / "data")
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--pack-tokens", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json-out", type=Path)
    return ap.parse_args(argv)


def race(
    base: Path, data: Path, sides: dict[str, TrainConfig], rounds: int, console: Console
) -> dict[str, PhaseResult]:
    """Each side `rounds` times, in turn: the fastest run of each."""
    best: dict[str, PhaseResult] = {}
    for r in range(rounds):
        for name, cfg in sides.items():
            res = run_side(base, data, cfg, name)
            console.print(
                f"round {r + 1} {name}: {res.tokens_per_s:,.1f} tok/s, "
                f"efficiency {res.packing_efficiency:.3f}"
            )
            if name not in best or res.tokens_per_s > best[name].tokens_per_s:
                best[name] = res
    return best


def throughput_table(best: dict[str, PhaseResult]) -> Table:
    table = Table(title="training throughput, same rows and steps")
    for col in ("side", "samples", "real tokens", "processed", "efficiency", "tok/s"):
        table.add_column(col, justify="left" if col == "side" else "right")
    for name in ("padded", "packed"):
        res = best[name]
        table.add_row(
            name,
            str(res.samples),
            f"{res.tokens:,}",
            f"{res.processed_tokens:,}",
            f"{res.packing_efficiency:.3f}",
            f"{res.tokens_per_s:,.1f}",
        )
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    console = Console(highlight=False)
    load_before = os.getloadavg()[0]
    rows, source = rows_from(args.data)
    base = local_model_dir(args.model)
    data = Path(tempfile.mkdtemp(prefix="train-speed-")) / "data.jsonl"
    data.write_text("".join(json.dumps({"messages": r["messages"]}) + "\n" for r in rows))
    common = dict(
        lr=1e-5,
        warmup_steps=0,
        batch_size=args.batch_size,
        pack_tokens=args.pack_tokens,
        max_steps=args.steps,
        keep_checkpoints=1,
    )
    sides = {
        "padded": TrainConfig(**common, packing=False, micro_batch_rows=args.batch_size),
        "packed": TrainConfig(**common, packing=True, micro_batch_rows=1),
    }
    console.print(
        f"data: {source}; {len(rows)} rows; model {args.model}; "
        f"{args.steps} steps x {args.batch_size} samples per side"
    )
    best = race(base, data, sides, args.rounds, console)
    peak = matmul_flops()
    packed, padded = best["packed"], best["padded"]
    mean_len = packed.tokens / max(packed.samples, 1)
    achieved = train_flops(base, packed.tokens, mean_len) / (packed.tokens / packed.tokens_per_s)
    speedup = packed.tokens_per_s / padded.tokens_per_s
    console.print(throughput_table(best))
    console.print(f"tokens/s packed / padded: {speedup:.2f}x")
    console.print(
        f"fp32 matmul: {peak / 1e9:,.1f} GFLOP/s; training (packed): "
        f"{achieved / 1e9:,.2f} GFLOP/s = {achieved / peak:.1%} of it"
    )
    load_after = os.getloadavg()[0]
    console.print(
        f"load average: {load_before:.2f} before, {load_after:.2f} after ({os.cpu_count()} CPUs)"
    )
    checks = {
        "packed efficiency >= 0.95": packed.packing_efficiency >= 0.95,
        "packed tokens/s >= 1.5x padded": speedup >= 1.5,
    }
    for what, ok in checks.items():
        console.print(f"{verdict(ok)}: {what}")
    if args.json_out:
        doc = {
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "source": source,
            "rows": len(rows),
            "load": [load_before, load_after],
            "sides": {k: v.__dict__ for k, v in best.items()},
            "speedup": speedup,
            "matmul_flops": peak,
            "train_flops": achieved,
            "mfu_vs_matmul": achieved / peak,
            "checks": checks,
        }
        args.json_out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
