"""Our SFT loop against TRL's SFTTrainer, side by side, on the same rows and model.

    .venv/bin/python benchmarks/sft_trainer_compare.py [--data .bot/data] [--model embedded]
        [--steps 3] [--batch-size 4] [--pack-tokens 512] [--rounds 2] [--json-out FILE]

Both sides train the same rows (train_speed.py's `rows_from`: the exported generation data,
else the starter taxonomy's seed examples) on the same model, full weights, fp32 on CPU,
AdamW at the same constant learning rate (1e-5, no warm-up), clipping at 1.0, seed 0:
  a. ours: `trainer.train.loop.train_phase` (render through the chat template, best-fit
     decreasing packing into rows of `--pack-tokens` with position ids restarting at each
     example, one row per forward pass, steps of >= `--batch-size` samples);
  b. trl: `SFTTrainer` with `packing=True, packing_strategy="bfd"` (padding-free, position
     ids restarting at each example) and `max_length=--pack-tokens`, one packed row per
     forward pass and as many rows per optimizer step (gradient accumulation) as ours uses
     on average. SmolLM2's chat template has no `{% generation %}` markers and TRL cannot
     patch it, so `assistant_only_loss=True` is refused; the rows go in as TRL's
     conversational prompt-completion format (the messages before the last, then the
     last) with `completion_only_loss=True`, TRL's way of putting the loss on the reply.
Each side runs in a fresh process (wall time includes interpreter start-up and imports;
peak RSS is that process's), writes one resumable checkpoint at the end (timed apart from
training), and the sides alternate (order swapped every round) for `--rounds`; each keeps
its fastest training tokens/s. Training time is the steps' time: collation, forward,
backward, optimizer step, logging; not the model load, data preparation or checkpoint.

The loss masks are compared on every row (TRL's prepared rows against ours), and the
untrained model's loss on our first step's examples is computed under both masks in one
forward pass (a third process), so a difference in first-step loss can be put down to the
mask alone. INFO only: no targets, exit 0 unless a side fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

START = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LR = 1e-5
SEED = 0


@dataclass
class SideRun:
    side: str
    wall_s: float = 0.0  # the whole subprocess, interpreter start-up included (parent's clock)
    import_s: float = 0.0  # the side's imports (torch, transformers, trl / trainer.*)
    setup_s: float = 0.0  # tokenizer, data preparation, packing, model load, optimizer
    train_s: float = 0.0  # the steps
    save_s: float = 0.0  # the final checkpoint
    steps: int = 0
    samples: int = 0
    tokens: int = 0  # real tokens in the trained rows
    loss_tokens: int = 0  # tokens the loss falls on
    losses: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.train_s if self.train_s else 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------- the sides (child processes)


def run_ours(job: dict[str, Any]) -> SideRun:
    t = time.perf_counter()
    import accelerate  # noqa: F401 - what train_phase imports on first use, timed as imports
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

    from trainer.train.config import TrainConfig
    from trainer.train.loop import PhaseJob, StepEvent, train_phase

    run = SideRun("ours", import_s=time.perf_counter() - t)
    cfg = TrainConfig(**job["config"])
    events: list[tuple[float, StepEvent]] = []
    with tempfile.TemporaryDirectory(prefix="sft-compare-ours-") as out:
        t = time.perf_counter()
        res = train_phase(
            PhaseJob("ours", Path(job["base"]), Path(job["data"]), Path(out), cfg),
            lambda e: events.append((time.perf_counter(), e)),
        )
        done = time.perf_counter()
    run.train_s = res.tokens / res.tokens_per_s  # the steps' own time (train_phase's)
    # StepEvent.elapsed counts from the first step's start, after the model load
    run.setup_s = events[0][0] - t - events[0][1].elapsed
    run.save_s = done - events[-1][0]  # the final checkpoint (the last step saves)
    run.steps, run.samples, run.tokens = res.steps, res.samples, res.tokens
    run.losses = [e.loss for _, e in events]
    run.loss_tokens = job["ours_loss_tokens"]
    return run


def run_trl(job: dict[str, Any]) -> SideRun:
    t = time.perf_counter()
    import datasets
    from transformers.utils import logging as hf_logging
    from trl.trainer.sft_trainer import SFTTrainer  # noqa: F401 - timed as imports

    from trainer.train import session  # noqa: F401 - timed as imports too

    run = SideRun("trl", import_s=time.perf_counter() - t)
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    t = time.perf_counter()
    out = tempfile.mkdtemp(prefix="sft-compare-trl-")
    trainer = trl_trainer(job, out)
    if job.get("dump_rows"):
        dump_trl_rows(trainer, Path(job["dump_rows"]))
    count_batches(trainer, run)
    trainer.add_callback(trl_timer(run, t))
    trainer.train()
    run.steps = int(trainer.state.global_step)
    saved = sorted(Path(out).glob("checkpoint-*"))
    if not saved:
        sys.exit("FAIL: trl wrote no checkpoint")
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    return run


def trl_trainer(job: dict[str, Any], out: str) -> Any:
    """TRL's SFTTrainer on the job's rows, as prompt-completion pairs, set up like ours."""
    from datasets import Dataset
    from transformers import AutoTokenizer, PrinterCallback
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    from trainer.train.config import TrainConfig
    from trainer.train.session import load_for_training

    base = Path(job["base"])
    rows = [json.loads(line) for line in Path(job["data"]).read_text().splitlines() if line]
    pairs = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in rows]
    args = SFTConfig(
        output_dir=out,
        learning_rate=LR,
        per_device_train_batch_size=1,
        gradient_accumulation_steps=job["accumulation"],
        max_steps=job["steps"],
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        seed=SEED,
        bf16=False,
        use_cpu=True,
        activation_checkpointing=False,
        packing=True,
        packing_strategy="bfd",
        max_length=job["pack_tokens"],
        completion_only_loss=True,
        save_strategy="steps",
        save_steps=job["steps"],
        save_total_limit=1,
        logging_steps=1,
        report_to=[],
        disable_tqdm=True,
    )
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = load_for_training(base, TrainConfig(**job["config"]))
    trainer: Any = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(pairs),
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)
    return trainer


def dump_trl_rows(trainer: Any, path: Path) -> None:
    """Each prepared example (ids, labels) from the packed rows, for the mask comparison."""
    found = []
    for packed in trainer.train_dataset:
        at = 0
        for n in packed["seq_lengths"]:
            found.append([packed["input_ids"][at : at + n], packed["labels"][at : at + n]])
            at += n
    path.write_text(json.dumps(found))


def count_batches(trainer: Any, run: SideRun) -> None:
    """Count what each collated batch trains (samples, real tokens, loss tokens) into run."""
    inner = trainer.data_collator

    def counting(examples: list[dict[str, Any]]) -> Any:
        batch = inner(examples)
        run.samples += sum(len(e["seq_lengths"]) for e in examples)
        run.tokens += sum(len(e["input_ids"]) for e in examples)
        run.loss_tokens += int((batch["labels"] != -100).sum())
        return batch

    trainer.data_collator = counting


def trl_timer(run: SideRun, setup_start: float) -> Any:
    """A callback that splits the trainer's time into setup, steps and saves, and logs losses."""
    from transformers import TrainerCallback

    clock = {"mark": 0.0}

    class Timer(TrainerCallback):
        def on_train_begin(self, *a: Any, **kw: Any) -> None:
            run.setup_s = time.perf_counter() - setup_start
            clock["mark"] = time.perf_counter()

        def on_step_end(self, *a: Any, **kw: Any) -> None:
            run.train_s += time.perf_counter() - clock["mark"]
            clock["mark"] = time.perf_counter()

        def on_log(self, *a: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                run.losses.append(float(logs["loss"]))

        def on_save(self, *a: Any, **kw: Any) -> None:
            run.save_s += time.perf_counter() - clock["mark"]
            clock["mark"] = time.perf_counter()

    return Timer()


def run_mask(job: dict[str, Any]) -> dict[str, Any]:
    """Our render against TRL's prepared rows, per example; then the untrained model's mean
    loss on our first step's examples under each mask, from one forward pass."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoTokenizer

    from trainer.data.pack import collate
    from trainer.data.render import IGNORE, Rendered, render
    from trainer.train.config import TrainConfig
    from trainer.train.loop import forward_logits
    from trainer.train.session import load_for_training

    base = Path(job["base"])
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    rows = [json.loads(line) for line in Path(job["data"]).read_text().splitlines() if line]
    ours = [render(tokenizer, r["messages"]) for r in rows]
    theirs = {tuple(ids): labels for ids, labels in json.loads(Path(job["trl_rows"]).read_text())}
    same_ids, extra, missing = 0, 0, 0
    extra_text: dict[str, int] = {}
    trl_for: list[Rendered | None] = []
    for ex in ours:
        labels = theirs.get(tuple(ex.input_ids))
        if labels is None:
            trl_for.append(None)
            continue
        same_ids += 1
        trl_for.append(Rendered(ex.input_ids, labels))
        for i, (a, b) in enumerate(zip(ex.labels, labels, strict=True)):
            if a == IGNORE and b != IGNORE:
                extra += 1
                key = repr(tokenizer.decode([ex.input_ids[i]]))
                extra_text[key] = extra_text.get(key, 0) + 1
            elif a != IGNORE and b == IGNORE:
                missing += 1
    first = job["first_step"]  # micro-batches -> rows -> example indices
    if any(trl_for[i] is None for mb in first for row in mb for i in row):
        return {"rows": len(rows), "same_ids": same_ids, "extra": extra, "missing": missing}
    model = load_for_training(base, TrainConfig(**job["config"]))
    model.eval()
    pad = tokenizer.pad_token_id or 0
    sums = {"ours": 0.0, "trl": 0.0}
    counts = {"ours": 0, "trl": 0}
    with torch.no_grad():
        for mb in first:
            batches = {
                "ours": collate([[ours[i] for i in row] for row in mb], pad),
                "trl": collate([[trl_for[i] for i in row] for row in mb], pad),
            }
            logits = forward_logits(model, batches["ours"], torch.device("cpu"))[:, :-1].float()
            for name, b in batches.items():
                nll = F.cross_entropy(
                    logits.transpose(1, 2), b.labels[:, 1:], ignore_index=IGNORE, reduction="sum"
                )
                sums[name] += float(nll)
                counts[name] += b.trained_tokens
    return {
        "rows": len(rows),
        "same_ids": same_ids,
        "extra": extra,
        "missing": missing,
        "extra_text": extra_text,
        "first_loss": {k: sums[k] / max(counts[k], 1) for k in sums},
        "first_tokens": counts,
    }


def child(side: str, job_file: Path, result: Path) -> None:
    job = json.loads(job_file.read_text())
    if side == "mask":
        result.write_text(json.dumps(run_mask(job)))
        return
    run = run_ours(job) if side == "ours" else run_trl(job)
    run.peak_rss_mb = peak_rss_mb()
    result.write_text(json.dumps(asdict(run)))


# ---------------------------------------------------------------- the parent


def spawn(side: str, job: dict[str, Any], work: Path) -> tuple[dict[str, Any], float]:
    job_file, result = work / f"{side}-job.json", work / f"{side}-result.json"
    job_file.write_text(json.dumps(job))
    result.unlink(missing_ok=True)
    env = dict(os.environ, TQDM_DISABLE="1", TOKENIZERS_PARALLELISM="false")
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", side, str(job_file), str(result)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0 or not result.exists():
        sys.exit(f"FAIL: side {side} failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(result.read_text())
    return out, wall


def plan_ours(
    base: Path, data: Path, config: dict[str, Any]
) -> tuple[list[list[list[list[int]]]], int]:
    """Our plan's steps (micro-batch -> row -> example) and the loss tokens they hold."""
    from transformers import AutoTokenizer

    from trainer.train.config import TrainConfig
    from trainer.train.loop import read_examples
    from trainer.train.plan import make_plan

    cfg = TrainConfig(**config)
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    examples, _, _, digest = read_examples(data, tokenizer, cfg.max_tokens)
    plan = make_plan([len(e.input_ids) for e in examples], cfg, digest)
    steps = [[[list(row) for row in mb] for mb in s.micro_batches] for s in plan.steps]
    loss_tokens = sum(examples[i].trained_tokens for s in plan.steps for i in s.examples)
    return steps, loss_tokens


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / ".bot" / "data")
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--pack-tokens", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json-out", type=Path)
    return ap.parse_args(argv)


def prepare(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], str]:
    """The job both sides get (our plan's steps decide TRL's accumulation) and a summary line."""
    from benchmarks.train_speed import rows_from
    from trainer.models.loader import local_model_dir

    rows, source = rows_from(args.data)
    base = local_model_dir(args.model)
    data = work / "data.jsonl"
    data.write_text("".join(json.dumps({"messages": r["messages"]}) + "\n" for r in rows))
    config = dict(
        lr=LR,
        warmup_steps=0,
        batch_size=args.batch_size,
        pack_tokens=args.pack_tokens,
        max_steps=args.steps,
        keep_checkpoints=1,
        seed=SEED,
        packing=True,
        micro_batch_rows=1,
        attention="sdpa",
    )
    steps, ours_loss_tokens = plan_ours(base, data, config)
    rows_per_step = sum(len(s) for s in steps) / len(steps)
    accumulation = max(1, round(rows_per_step))
    job = {
        "base": str(base),
        "data": str(data),
        "config": config,
        "steps": args.steps,
        "pack_tokens": args.pack_tokens,
        "accumulation": accumulation,
        "ours_loss_tokens": ours_loss_tokens,
        "dump_rows": str(work / "trl-rows.json"),
        "first_step": steps[0],
        "rows": len(rows),
        "source": source,
    }
    line = (
        f"data: {source}; {len(rows)} rows; model {args.model}; {args.steps} steps; ours: "
        f">= {args.batch_size} samples a step, {rows_per_step:.2f} packed rows a step on "
        f"average; trl: {accumulation} packed rows a step"
    )
    return job, line


def race(
    job: dict[str, Any], work: Path, rounds: int, console: Any
) -> tuple[dict[str, SideRun], dict[str, float]]:
    """The sides in alternating order, `rounds` times: each side's fastest run and wall."""
    best: dict[str, SideRun] = {}
    walls: dict[str, float] = {}
    for r in range(rounds):
        order = ("ours", "trl") if r % 2 == 0 else ("trl", "ours")
        for side in order:
            out, wall = spawn(side, job, work)
            run = SideRun(**out)
            run.wall_s = wall
            console.print(
                f"round {r + 1} {side}: {run.tokens_per_s:,.1f} tok/s, train {run.train_s:.1f} s, "
                f"wall {wall:.1f} s, load {os.getloadavg()[0]:.2f}"
            )
            if side not in best or run.tokens_per_s > best[side].tokens_per_s:
                best[side] = run
            walls[side] = min(walls.get(side, wall), wall)
        job.pop("dump_rows", None)  # TRL's prepared rows are the same every round
    return best, walls


def side_table(best: dict[str, SideRun], walls: dict[str, float]) -> Any:
    from rich.table import Table

    table = Table(title="SFT, same rows, model, steps and learning rate (fastest of each side)")
    table.add_column("", justify="left")
    for side in ("ours", "trl"):
        table.add_column(side, justify="right")

    def row(what: str, fmt: str, key: str) -> None:
        table.add_row(what, *(fmt.format(getattr(best[s], key)) for s in ("ours", "trl")))

    row("optimizer steps", "{}", "steps")
    row("samples trained", "{}", "samples")
    row("real tokens", "{:,}", "tokens")
    row("loss tokens", "{:,}", "loss_tokens")
    row("training tokens/s", "{:,.1f}", "tokens_per_s")
    row("training s", "{:.1f}", "train_s")
    row("imports s", "{:.1f}", "import_s")
    row("setup s (data, model load)", "{:.1f}", "setup_s")
    row("checkpoint s", "{:.1f}", "save_s")
    table.add_row("wall s (fastest, whole process)", *(f"{walls[s]:.1f}" for s in ("ours", "trl")))
    row("peak RSS MB", "{:,.0f}", "peak_rss_mb")
    table.add_row("loss, first step", *(f"{best[s].losses[0]:.4f}" for s in ("ours", "trl")))
    table.add_row("loss, last step", *(f"{best[s].losses[-1]:.4f}" for s in ("ours", "trl")))
    return table


def mask_lines(mask: dict[str, Any], ours_first_loss: float) -> list[str]:
    lines = [
        f"masks: {mask['same_ids']} of {mask['rows']} rows tokenized to the same ids; TRL "
        f"trains {mask['extra']} tokens ours does not {mask.get('extra_text', {})}, and "
        f"leaves out {mask['missing']} that ours trains"
    ]
    if "first_loss" in mask:
        fl, ft = mask["first_loss"], mask["first_tokens"]
        lines.append(
            f"untrained model on ours' first-step examples: {fl['ours']:.4f} over "
            f"{ft['ours']:,} tokens with our mask, {fl['trl']:.4f} over {ft['trl']:,} with "
            f"TRL's (difference {fl['trl'] - fl['ours']:+.4f}); ours logged "
            f"{ours_first_loss:.4f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1], Path(argv[2]), Path(argv[3]))
        return 0
    from rich.console import Console

    from benchmarks._common import busy

    args = parse(argv)
    console = Console(highlight=False)
    load_before = os.getloadavg()[0]
    if warning := busy():
        console.print(f"[yellow]warning: {warning}[/yellow]")
    work = Path(tempfile.mkdtemp(prefix="sft-compare-"))
    job, line = prepare(args, work)
    console.print(f"{line}; load average {load_before:.2f}")
    best, walls = race(job, work, args.rounds, console)
    mask, _ = spawn("mask", {**job, "trl_rows": str(work / "trl-rows.json")}, work)
    console.print(side_table(best, walls))
    ratio = best["trl"].tokens_per_s / best["ours"].tokens_per_s
    console.print(f"training tokens/s trl / ours: {ratio:.2f}x")
    for text in mask_lines(mask, best["ours"].losses[0]):
        console.print(text)
    load_after = os.getloadavg()[0]
    if warning := busy():
        console.print(f"[yellow]warning: {warning}[/yellow]")
    console.print(
        f"load average: {load_before:.2f} before, {load_after:.2f} after ({os.cpu_count()} CPUs); "
        f"total {time.perf_counter() - START:.0f} s"
    )
    if args.json_out:
        doc = {
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "source": job["source"],
            "rows": job["rows"],
            "load": [load_before, load_after],
            "sides": {k: {**asdict(v), "tokens_per_s": v.tokens_per_s} for k, v in best.items()},
            "wall_fastest": walls,
            "mask": mask,
            "accumulation": job["accumulation"],
        }
        args.json_out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
