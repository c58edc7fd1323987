"""Batched generation vs one prompt at a time, on the embedded model (SmolLM2-135M, CPU).

    .venv/bin/python benchmarks/generation_speed.py [--prompts 32] [--max-new-tokens 64]
        [--repeats 1] [--device cpu] [--json-out FILE]

Same prompts, greedy decoding, same settings for every row, in one process:
  a. transformers `model.generate()` called once per prompt (the naive loop; baseline)
  b. `ChatModel.generate([one])` called once per prompt (our decoder without batching)
  c. `ChatModel.generate(all)` (token-budget batches, finished rows dropped)
Tokens/s counts generated tokens (up to and including end-of-turn). One warm-up call
first; with --repeats N the three run in turn N times and each row keeps its fastest pass
(other work on a shared machine only ever slows a pass down). The load average before and
after is printed: compare figures only from quiet runs. Ends with a PASS/FAIL line for the
target (c >= 4x a); exit 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from trainer.models import GenerationParams, load_model
from trainer.models.hf import HFChatModel

TARGET = 4.0
TOPICS = [
    "rivers",
    "volcanoes",
    "the moon",
    "bread",
    "bees",
    "chess",
    "glaciers",
    "trains",
    "photosynthesis",
    "the ocean",
    "libraries",
    "bicycles",
    "tea",
    "clouds",
    "maps",
    "music",
]
TEMPLATES = [
    "Write two sentences about {}.",
    "Give three facts about {}.",
    "Explain {} to a child in one short paragraph.",
    "What is interesting about {}?",
]


def prompts(n: int) -> list[list[dict[str, str]]]:
    texts = [t.format(topic) for topic in TOPICS for t in TEMPLATES]
    return [[{"role": "user", "content": texts[(i * 5) % len(texts)]}] for i in range(n)]


def hf_loop(
    model: HFChatModel, conversations: list[list[dict[str, str]]], params: GenerationParams
) -> tuple[list[str], int]:
    import torch

    texts, tokens = [], 0
    for conversation in conversations:
        ids = torch.tensor([model.tokenizer.encode_chat(conversation)], device=model.device)
        with torch.inference_mode():
            out = model.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=params.max_new_tokens,
                do_sample=False,
                pad_token_id=model.tokenizer.pad_id,
            )
        new = out[0, ids.shape[1] :].tolist()
        tokens += len(new)
        texts.append(model.tokenizer.decode(new, skip_special_tokens=True))
    return texts, tokens


Run = Callable[[], tuple[list[str], int]]


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json-out", type=Path)
    return ap.parse_args()


def ways(
    model: HFChatModel, conversations: list[list[dict[str, str]]], params: GenerationParams
) -> list[tuple[str, Run, Callable[[], object]]]:
    """(name, the timed run, its warm-up) of each way of generating."""
    warm = conversations[:1], GenerationParams(max_new_tokens=4)

    def ours_single() -> tuple[list[str], int]:
        out = [model.generate([c], params)[0] for c in conversations]
        return [g.text for g in out], sum(g.completion_tokens for g in out)

    def ours_batched() -> tuple[list[str], int]:
        out = model.generate(conversations, params)
        return [g.text for g in out], sum(g.completion_tokens for g in out)

    return [
        (
            "a. transformers generate(), one prompt at a time",
            lambda: hf_loop(model, conversations, params),
            lambda: hf_loop(model, *warm),
        ),
        (
            "b. ChatModel.generate(), one prompt at a time",
            ours_single,
            lambda: model.generate(*warm),
        ),
        ("c. ChatModel.generate(), batched", ours_batched, lambda: model.generate(*warm)),
    ]


def measure(
    runs: list[tuple[str, Run, Callable[[], object]]], repeats: int, con: Console
) -> list[dict[str, Any]]:
    """Each way warmed up, then timed `repeats` times in turn: its fastest pass."""
    rows: list[dict[str, Any]] = [{"method": name} for name, _, _ in runs]
    for _, _, warm_up in runs:
        warm_up()
    for repeat in range(repeats):
        for row, (name, run, _) in zip(rows, runs, strict=True):
            con.print(f"  pass {repeat + 1}/{repeats}: {name} ...")
            start = time.perf_counter()
            texts, tokens = run()
            seconds = time.perf_counter() - start
            if seconds < row.get("seconds", float("inf")):
                row |= {
                    "seconds": seconds,
                    "tokens": tokens,
                    "tokens_per_s": tokens / seconds,
                    "texts": texts,
                }
    return rows


def speed_table(rows: list[dict[str, Any]], title: str) -> Table:
    """The rows against the first (its speed-up and how many texts match it), tabled."""
    base = rows[0]
    table = Table(title=title)
    for col in ("method", "seconds", "tokens", "tokens/s", "vs a", "same text as a"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for row in rows:
        row["speedup"] = row["tokens_per_s"] / base["tokens_per_s"]
        row["same_text"] = sum(x == y for x, y in zip(row["texts"], base["texts"], strict=True))
        table.add_row(
            row["method"],
            f"{row['seconds']:.1f}",
            str(row["tokens"]),
            f"{row['tokens_per_s']:.1f}",
            f"{row['speedup']:.2f}x",
            f"{row['same_text']}/{len(base['texts'])}",
        )
    return table


def main() -> int:
    args = parse()
    con = Console(highlight=False, width=max(shutil.get_terminal_size().columns, 120))
    con.print(f"Loading the embedded model on {args.device} ...")
    model = load_model("embedded", device=args.device)
    assert isinstance(model, HFChatModel)
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    load_before = os.getloadavg()
    rows = measure(ways(model, prompts(args.prompts), params), args.repeats, con)
    load_after = os.getloadavg()
    title = (
        f"Generation speed: {args.prompts} prompts, greedy, max_new_tokens="
        f"{args.max_new_tokens}, {args.device}, max_batch_tokens={model.max_batch_tokens}"
    )
    con.print(speed_table(rows, title))
    con.print(
        f"load average (1, 5, 15 min) before {_load(load_before)}, after "
        f"{_load(load_after)}; {os.cpu_count()} CPUs"
    )
    ok = rows[2]["speedup"] >= TARGET
    if args.json_out:
        doc = {
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "python": platform.python_version(),
            },
            "settings": vars(args) | {"json_out": str(args.json_out)},
            "load_average": {"before": load_before, "after": load_after},
            "rows": [{k: v for k, v in r.items() if k != "texts"} for r in rows],
        }
        args.json_out.write_text(json.dumps(doc, indent=2))
    verdict = "PASS" if ok else "FAIL"
    con.print(
        f"{verdict}: batched generation {rows[2]['speedup']:.2f}x the one-at-a-time "
        f"transformers loop (target >= {TARGET:.0f}x)"
    )
    return 0 if ok else 1


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
