"""Benchmarks and deltas: base vs candidate on the same items, per leaf, with intervals.

See docs/benchmark.md. Entry points: `run_benchmark` + `write_reports` (what `bot benchmark`
does), and `chooser.choose_checkpoint` for the trainer.
"""
