"""Generation, training and benchmarks for the taxonomy bot.

Everything here may import torch; keep it out of `bot validate`'s import path.
"""
