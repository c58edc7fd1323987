"""Build a tiny random Llama (the models' test fixture) for tests outside tests/trainer/models."""

from tests.trainer.models.conftest import build_tiny_model

__all__ = ["build_tiny_model"]
