"""``policy:`` section of a scenario: recurrent PPO / behaviour cloning / DAgger settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rnn_control.errors import ConfigError


@dataclass
class PolicyConfig:
    """Settings for ``rnn-control train-policy``.

    Steps are environment steps summed over the parallel envs. ``num_envs`` defaults to the
    ``env.num_envs`` of the scenario.
    """

    algorithm: Literal["ppo", "bc", "dagger"] = "ppo"
    # recurrent: the scenario's model.cell core; mlp: a feed-forward baseline (no memory).
    architecture: Literal["recurrent", "mlp"] = "recurrent"
    total_steps: int = 100_000
    # Actor/critic MLP head sizes on top of the core; null: the model section's head_hidden.
    head_hidden: list[int] | None = None
    num_envs: int | None = None
    num_threads: int = 1
    # Training device: auto (a CUDA GPU where torch sees one, else the CPU), cpu or cuda. Under
    # torchrun every rank uses its LOCAL_RANK's GPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"

    # --- PPO -------------------------------------------------------------------------------
    rollout_steps: int = 128  # per env per iteration
    chunk_length: int = 32  # BPTT sequence length; rollouts are cut into chunks of this many steps
    num_minibatches: int = 4
    epochs: int = 10
    learning_rate: float = 1e-3
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    normalize_advantage: bool = True
    normalize_reward: bool = True
    init_log_std: float = 0.0
    # True: actor and critic share one recurrent core (half the compute); False: two cores.
    shared_core: bool = True
    # What the PPO critic reads: the policy's own observation, or also the simulator's full one
    # (``privileged``: an asymmetric actor-critic; needs the privileged_obs wrapper first in
    # env.wrappers and shared_core: false). The actor and the bundle never read it.
    critic_obs: Literal["policy", "privileged"] = "policy"
    target_kl: float | None = None

    # --- behaviour cloning / DAgger ----------------------------------------------------------
    expert: str | None = None  # name in rnn_control.train.policy.experts.EXPERTS; default: by env id
    dagger_iterations: int = 6  # bc: 1 round of expert data; dagger: this many rounds
    bc_epochs: int = 30  # passes over the aggregated data set per round
    bc_batch_sequences: int = 16
    bc_window: int = 32  # training sequences: episode pieces of at most this many steps

    # --- evaluation, checkpoints -------------------------------------------------------------
    eval_every: int = 10_000  # steps; 0 = only at the end
    eval_episodes: int = 10
    target_return: float | None = None  # report the time it was first reached
    stop_at_target: bool = False
    checkpoint_every: int = 20_000  # steps

    def validate(self) -> None:
        positive = (
            "total_steps",
            "num_threads",
            "rollout_steps",
            "chunk_length",
            "num_minibatches",
            "epochs",
            "dagger_iterations",
            "bc_epochs",
            "bc_batch_sequences",
            "bc_window",
            "eval_episodes",
            "checkpoint_every",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.num_envs is not None and self.num_envs < 1:
            raise ConfigError(f"num_envs: must be >= 1, got {self.num_envs}")
        if self.rollout_steps % self.chunk_length:
            raise ConfigError(
                f"chunk_length: must divide rollout_steps ({self.rollout_steps}), got {self.chunk_length}"
            )
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}: must be in [0, 1], got {getattr(self, name)}")
        for name in ("learning_rate", "clip_range", "max_grad_norm"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.critic_obs == "privileged" and self.shared_core and self.architecture == "recurrent":
            raise ConfigError(
                "critic_obs: privileged needs the critic's own core; set shared_core: false"
            )
        if self.eval_every < 0:
            raise ConfigError(f"eval_every: must be >= 0 steps, got {self.eval_every}")
