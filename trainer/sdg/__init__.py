"""Synthetic data generation (LAB): a teacher model expands each leaf's seed examples."""
