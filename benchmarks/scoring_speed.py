"""Log-likelihood scoring with and without shared prefixes, on the embedded model (CPU).

    .venv/bin/python benchmarks/scoring_speed.py [--repeats 1] [--row-tokens 512]
        [--device cpu] [--json-out FILE]

The requests are those `bot benchmark` scores for the starter taxonomy (every leaf as the
branch suite plus the general set): each (prompt, continuation) pair once, in the chunks
`trainer.evaluation.run` sends to `loglikelihood`. One loaded model scores them all through
`score_tokens`, one chunk per call, with prefix sharing off (a row per request) and on (a
trie per row, trainer/models/prefix.py), in turn; with --repeats N each keeps its fastest
pass. Tokens/s counts the requests' tokens (what an unshared pass computes). Prints wall
and CPU seconds, the ratio, the largest difference between the two paths' log-probs, and
the load average before and after. Ends with a PASS/FAIL line: sharing must be faster and
agree within 1e-4; exit 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4


def requests(model: Any) -> list[list[tuple[list[int], int]]]:
    """Token requests of the starter taxonomy's benchmark, in `score_items`' chunks."""
    from bot.taxonomy.leaves import Leaves
    from trainer.evaluation.run import ll_chunks
    from trainer.evaluation.suites import build

    files = sorted((ROOT / "taxonomy").rglob("qna.yaml"))
    with tempfile.TemporaryDirectory() as cache:
        leaves = Leaves(files, ROOT, Path(cache))
        plan = build(leaves.paths, leaves)
    pairs: dict[tuple[str, str], None] = {}
    for item in plan.items:
        if item.type == "qa":
            pairs.setdefault((item.prompt, item.answer))
        if item.has_mc:
            for option in item.options:
                pairs.setdefault((item.mc_prompt or "", option))
    tok = model.tokenizer
    chunks = []
    for chunk in ll_chunks(pairs):
        out = []
        for prompt, continuation in chunk:
            prefix = tok.encode_chat([{"role": "user", "content": prompt}])
            out.append(([*prefix, *tok.encode(continuation)], len(prefix)))
        chunks.append([r for r in out if len(r[0]) > r[1]])
    return chunks


def timed(model: Any, chunks: list[list[tuple[list[int], int]]], share: bool) -> dict[str, Any]:
    model.share_prefixes = share
    cpu, started = time.process_time(), time.monotonic()
    scores = [model.score_tokens(chunk) for chunk in chunks]
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    tokens = sum(len(ids) for chunk in chunks for ids, _ in chunk)
    return {"wall_s": wall, "cpu_s": cpu, "tokens_per_s": tokens / wall, "scores": scores}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--row-tokens", type=int, help="trie nodes per row (prefix.ROW_TOKENS)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()

    import trainer.models.prefix as prefix
    from trainer.models import load_model
    from trainer.models.hf import HFChatModel

    if args.row_tokens:
        prefix.ROW_TOKENS = args.row_tokens
    model = load_model("embedded", device=args.device)
    assert isinstance(model, HFChatModel)
    chunks = requests(model)
    n = sum(len(c) for c in chunks)
    tokens = sum(len(ids) for c in chunks for ids, _ in c)
    rows = sum(len(prefix.plan_rows(c, prefix.ROW_TOKENS)) for c in chunks)
    nodes = sum(len(r) for c in chunks for r in prefix.plan_rows(c, prefix.ROW_TOKENS))
    load = os.getloadavg()
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)"
    )
    print(
        f"{n} requests, {tokens} tokens in {len(chunks)} calls; shared: {rows} rows of "
        f"<= {prefix.ROW_TOKENS} nodes, {nodes} nodes ({nodes / tokens:.0%} of the tokens)"
    )
    model.score_tokens(chunks[0][:4])  # warm-up
    best: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeats):
        for label, share in (("off", False), ("on", True)):
            run = timed(model, chunks, share)
            if label not in best or run["wall_s"] < best[label]["wall_s"]:
                best[label] = run
    diff = max(
        abs(a.logprob - b.logprob)
        for chunk_off, chunk_on in zip(best["off"]["scores"], best["on"]["scores"], strict=True)
        for req_off, req_on in zip(chunk_off, chunk_on, strict=True)
        for a, b in zip(req_off, req_on, strict=True)
    )
    same_shape = all(
        len(x) == len(y) and [t.is_greedy for t in x] == [t.is_greedy for t in y]
        for co, cn in zip(best["off"]["scores"], best["on"]["scores"], strict=True)
        for x, y in zip(co, cn, strict=True)
    )
    end = os.getloadavg()
    print(f"{'sharing':<8} {'wall s':>8} {'cpu s':>8} {'tokens/s':>9}")
    for label in ("off", "on"):
        r = best[label]
        print(f"{label:<8} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {r['tokens_per_s']:9.0f}")
    ratio = best["off"]["wall_s"] / best["on"]["wall_s"]
    cpu_ratio = best["off"]["cpu_s"] / best["on"]["cpu_s"]
    print(f"speed-up: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU; max |logprob diff| {diff:.2e}")
    print(f"load average at end: {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    ok = ratio > 1 and diff <= TOLERANCE and same_shape
    if args.json_out:
        doc = {
            "requests": n,
            "tokens": tokens,
            "rows": rows,
            "nodes": nodes,
            "row_tokens": prefix.ROW_TOKENS,
            "load_start": load,
            "load_end": end,
            "max_diff": diff,
            **{
                label: {k: round(v, 2) for k, v in best[label].items() if k != "scores"}
                for label in best
            },
        }
        args.json_out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"{'PASS' if ok else 'FAIL'}: sharing {ratio:.2f}x faster, agrees within {TOLERANCE:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
