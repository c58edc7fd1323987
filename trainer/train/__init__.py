"""Supervised fine-tuning in phases: plan the data order, run the loop, checkpoint, resume."""
