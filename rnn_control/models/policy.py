"""Actor-critic policies: a recurrent one (the product) and a feed-forward one (a baseline).

Both take raw observations (normalised inside by a :class:`RunningNormalizer` whose statistics
are buffers, so they travel with checkpoints and exported graphs) and act in env units:

- Box actions: a Gaussian over the *normalised* action ``u`` in ``[-1, 1]`` nominal range with a
  state-independent log-std; the env action is ``offset + scale * u`` with ``scale``/``offset``
  from the action bounds. No tanh squashing: the runtime and the evaluator clip at the bounds.
- Discrete actions: a categorical over ``n`` logits; the deterministic action is the argmax.

Shapes are time-major like the cores: ``obs [T, B, obs_dim]``, ``episode_start [T, B]``,
``dt [T, B, 1]``. ``act_inference`` is the one-tick, traceable deployment path.

Asymmetric actor-critic (``privileged_dim > 0``): the critic also reads ``privileged_dim``
privileged entries (the simulator's full observation, in training only), appended to the
observation: ``obs [T, B, obs_dim + privileged_dim]``. The actor reads the first ``obs_dim``,
and ``act_inference`` (the deployed path) takes only those.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Normal

from rnn_control.models.cores import RecurrentCore, State
from rnn_control.models.layers import mlp
from rnn_control.models.normalizer import RunningNormalizer
from rnn_control.models.registry import register_model


class ActorCriticBase(nn.Module):
    """Normaliser, action distribution and heads; subclasses supply the feature extractor."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        action_type: str,
        action_low: list[float] | None,
        action_high: list[float] | None,
        feature_size: int,
        critic_feature_size: int,
        head_hidden: list[int],
        init_log_std: float,
        privileged_dim: int = 0,
    ) -> None:
        super().__init__()
        if action_type not in ("box", "discrete"):
            raise ValueError(f"action_type must be 'box' or 'discrete', got {action_type!r}")
        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self.action_type = action_type
        self.privileged_dim = int(privileged_dim)
        self.normalizer = RunningNormalizer(obs_dim)
        # the privileged entries' own statistics (training only: never part of a bundle)
        self.critic_normalizer = RunningNormalizer(privileged_dim) if privileged_dim else None
        n_out = act_dim
        self.actor_head = mlp([feature_size, *head_hidden, n_out], out_gain=0.01)
        self.critic_head = mlp([critic_feature_size, *head_hidden, 1], out_gain=1.0)
        if action_type == "box":
            low = torch.as_tensor(action_low, dtype=torch.float32)
            high = torch.as_tensor(action_high, dtype=torch.float32)
            finite = torch.isfinite(low) & torch.isfinite(high)
            scale = torch.where(finite, (high - low) / 2, torch.ones_like(low))
            offset = torch.where(finite, (high + low) / 2, torch.zeros_like(low))
            self.register_buffer("action_scale", scale)
            self.register_buffer("action_offset", offset)
            self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    # -- subclasses -----------------------------------------------------------------------------
    def initial_state(self, batch_size: int) -> State:
        raise NotImplementedError

    def features(
        self,
        obs_n: Tensor,
        critic_n: Tensor,
        state: State,
        episode_start: Tensor | None,
        dt: Tensor | None,
        need_state: bool = True,
    ) -> tuple[Tensor, Tensor, State]:
        """Normalised actor obs ``[T, B, obs]`` and critic input ``[T, B, obs + privileged]`` ->
        actor features, critic features, new state (``need_state=False``: training pass, the
        returned state is meaningless but it is faster)."""
        raise NotImplementedError

    def normalizer_inputs(self, obs: Tensor) -> list[tuple[RunningNormalizer, Tensor]]:
        """Each running normaliser with its part of a batch of model inputs ``[..., obs_dim +
        privileged_dim]`` (what a trainer merges into the statistics)."""
        parts = [(self.normalizer, obs[..., : self.obs_dim])]
        if self.critic_normalizer is not None:
            parts.append((self.critic_normalizer, obs[..., self.obs_dim :]))
        return parts

    def _critic_input(self, obs: Tensor, obs_n: Tensor) -> Tensor:
        """The critic's normalised input; without the privileged entries (an actor-only input, e.g.
        in evaluation) they count as zeros: the value is then not meaningful, the action is."""
        if self.critic_normalizer is None:
            return obs_n
        if obs.shape[-1] == self.obs_dim:
            return torch.cat([obs_n, obs_n.new_zeros(*obs_n.shape[:-1], self.privileged_dim)], -1)
        return torch.cat([obs_n, self.critic_normalizer(obs[..., self.obs_dim :])], -1)

    # -- shared ---------------------------------------------------------------------------------
    def forward(
        self,
        obs: Tensor,
        state: State,
        episode_start: Tensor | None = None,
        dt: Tensor | None = None,
        need_state: bool = True,
    ) -> tuple[Tensor, Tensor, State]:
        """Sequence pass: raw ``obs [T, B, obs_dim]`` -> (actor output, value ``[T, B]``, state).

        The actor output is the mean of the normalised action (Box) or the logits (Discrete).
        ``need_state=False`` (training updates) skips computing the final state, which lets
        sequences with episode starts inside run through the fast padded kernel path.
        """
        obs_n = self.normalizer(obs[..., : self.obs_dim])
        critic_n = self._critic_input(obs, obs_n)
        fa, fc, state = self.features(obs_n, critic_n, state, episode_start, dt, need_state)
        return self.actor_head(fa), self.critic_head(fc).squeeze(-1), state

    def distribution(self, actor_out: Tensor) -> Normal | Categorical:
        if self.action_type == "box":
            return Normal(actor_out, self.log_std.exp().expand_as(actor_out))
        return Categorical(logits=actor_out)

    def log_prob(self, dist: Normal | Categorical, action: Tensor) -> Tensor:
        """Log-probability of stored actions (normalised units for Box, index for Discrete)."""
        if self.action_type == "box":
            return dist.log_prob(action).sum(-1)
        return dist.log_prob(action.squeeze(-1).long())

    def entropy(self, dist: Normal | Categorical) -> Tensor:
        return dist.entropy().sum(-1) if self.action_type == "box" else dist.entropy()

    def deterministic(self, actor_out: Tensor) -> Tensor:
        """Env-unit deterministic action (unclipped Box mean; argmax index as float)."""
        if self.action_type == "box":
            return self.action_offset + self.action_scale * actor_out
        return actor_out.argmax(-1, keepdim=True).to(actor_out.dtype)

    def to_env_action(self, action: Tensor) -> Tensor:
        """Stored (normalised / index) action -> env units (unclipped)."""
        if self.action_type == "box":
            return self.action_offset + self.action_scale * action
        return action

    def act_inference(self, obs: Tensor, state: State, dt: Tensor | None = None) -> tuple[Tensor, State]:
        """Deployment path: raw ``obs [B, obs_dim]`` -> (env-unit action ``[B, act]``, next state)."""
        out, _, state = self.forward(obs.unsqueeze(0), state, None, None if dt is None else dt.unsqueeze(0))
        return self.deterministic(out.squeeze(0)), state


@register_model
class RecurrentActorCritic(ActorCriticBase):
    """Recurrent core -> actor head (and critic head on the same or on its own core)."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        action_type: str = "box",
        action_low: list[float] | None = None,
        action_high: list[float] | None = None,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        head_hidden: list[int] | None = None,
        nominal_dt: float = 0.05,
        shared_core: bool = True,
        init_log_std: float = 0.0,
        privileged_dim: int = 0,
    ) -> None:
        super().__init__(
            obs_dim,
            act_dim,
            action_type,
            action_low,
            action_high,
            hidden_size,
            hidden_size,
            list(head_hidden or []),
            init_log_std,
            privileged_dim,
        )
        if privileged_dim and shared_core:
            raise ValueError("a privileged critic needs its own core (shared_core=False)")
        self.shared_core = shared_core
        self.core = RecurrentCore(obs_dim, hidden_size, num_layers, cell, nominal_dt)
        critic_in = obs_dim + privileged_dim
        self.critic_core = (
            None if shared_core else RecurrentCore(critic_in, hidden_size, num_layers, cell, nominal_dt)
        )

    @property
    def time_aware(self) -> bool:
        return self.core.time_aware

    def initial_state(self, batch_size: int) -> State:
        """Actor state (then critic state when the critic has its own core)."""
        state = self.core.initial_state(batch_size)
        if self.critic_core is not None:
            state = state + self.critic_core.initial_state(batch_size)
        return state

    def features(self, obs_n, critic_n, state, episode_start, dt, need_state=True):
        n = len(self.core.state_names)
        fa, actor_state = self.core(obs_n, state[:n], episode_start, dt)
        if self.critic_core is None:
            return fa, fa, actor_state if need_state else ()
        fc, critic_state = self.critic_core(critic_n, state[n:], episode_start, dt)
        return fa, fc, actor_state + critic_state if need_state else ()

    def act_inference(self, obs: Tensor, state: State, dt: Tensor | None = None) -> tuple[Tensor, State]:
        """Deployment path (actor core only): ``obs [B, obs_dim]`` raw -> (action, next state).

        ``state`` is the actor core's state (``(h,)`` or ``(h, c)``).
        """
        n = len(self.core.state_names)
        y, new = self.core(
            self.normalizer(obs).unsqueeze(0), state[:n], None, None if dt is None else dt.unsqueeze(0)
        )
        return self.deterministic(self.actor_head(y.squeeze(0))), new


@register_model
class MlpActorCritic(ActorCriticBase):
    """Feed-forward baseline with the same interface (its "state" is an empty tuple)."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        action_type: str = "box",
        action_low: list[float] | None = None,
        action_high: list[float] | None = None,
        hidden_size: int = 64,
        num_layers: int = 2,
        head_hidden: list[int] | None = None,
        init_log_std: float = 0.0,
        privileged_dim: int = 0,
        **_ignored,
    ) -> None:
        super().__init__(
            obs_dim,
            act_dim,
            action_type,
            action_low,
            action_high,
            hidden_size,
            hidden_size,
            list(head_hidden or []),
            init_log_std,
            privileged_dim,
        )
        self.actor_body = mlp([obs_dim] + [hidden_size] * num_layers, out_gain=1.0)
        self.critic_body = mlp([obs_dim + privileged_dim] + [hidden_size] * num_layers, out_gain=1.0)
        self.time_aware = False

    def initial_state(self, batch_size: int) -> State:
        return ()

    def features(self, obs_n, critic_n, state, episode_start, dt, need_state=True):
        return torch.tanh(self.actor_body(obs_n)), torch.tanh(self.critic_body(critic_n)), ()
