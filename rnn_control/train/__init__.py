"""Training in simulation, one subpackage per pipeline: ``common/`` (checkpoints, the metrics
log, progress, the run frame and result every trainer shares), ``policy/`` (recurrent PPO,
BC/DAgger, rollout storage, evaluation, experts) and ``dynamics/`` (exploration rollouts, BPTT
sequence batches, the trainer, open-loop evaluation, the gradient-flow diagnostic)."""
