"""Models and how they learn: architectures, the training loops, checkpoints, devices."""
