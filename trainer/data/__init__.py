"""Training data: phase mixing, the replay buffer, self-distillation and rendering for SFT."""
