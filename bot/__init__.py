"""The taxonomy bot: validate leaves, orchestrate generation, training and benchmarks.

Everything reachable from `bot validate` imports no torch: it must start in
well under a quarter of a second so it can run as a pre-commit hook.
"""

__version__ = "0.1.0"
