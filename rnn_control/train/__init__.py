"""Training in simulation: rollouts, BPTT sequence batching, trainers, checkpoints, diagnostics."""
