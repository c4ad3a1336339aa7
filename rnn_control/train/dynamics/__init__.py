"""Dynamics-model training: exploration rollouts, BPTT sequence batches, the trainer,
open-loop evaluation and the gradient-flow diagnostic."""
