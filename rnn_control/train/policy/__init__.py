"""Policy training: recurrent PPO, behaviour cloning / DAgger, evaluation, experts."""
