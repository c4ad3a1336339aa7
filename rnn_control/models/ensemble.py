"""An ensemble of recurrent dynamics models trained side by side in one batched pass.

``EnsembleDynamicsModel(members=E)`` holds E recurrent cores and heads as stacked weights
(``[E, ...]``) and steps them together with batched matrix products, so one update trains every
member. The batch is split member-major: of ``B = E * b`` sequences, rows ``e*b .. (e+1)*b - 1``
go through member ``e`` (the trainer samples ``b`` windows per member, so each member sees its
own data: a bootstrap in the spirit of PETS). The normalisers are shared.

- ``forward`` / ``step``: member-major batches (``B`` a multiple of E);
- ``rollout`` (open-loop evaluation): every member on every sequence, the members' mean returned
  (std: the members' spread and their own, combined);
- :meth:`member_models`: the members as plain :class:`RecurrentDynamicsModel` modules (what the
  planning export and its parity check use). An ensemble exports as a planning bundle only.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn

from rnn_control.models.cores import State
from rnn_control.models.dynamics import DynamicsModel, RecurrentDynamicsModel
from rnn_control.models.registry import register_model

GATES = {"gru": 3, "lstm": 4, "rnn": 1}


def _uniform(shape: tuple[int, ...], bound: float) -> nn.Parameter:
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


class _Core:
    """The attributes the exporter reads off a model's ``core`` (cell, sizes)."""

    def __init__(self, cell: str, hidden_size: int, num_layers: int) -> None:
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.time_aware = False
        self.is_lstm = cell == "lstm"


@register_model
class EnsembleDynamicsModel(DynamicsModel):
    """E recurrent dynamics models (rnn / lstm / gru) with stacked weights."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        members: int = 5,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        head_hidden: list[int] | None = None,
        nominal_dt: float = 0.05,
        log_std_min: float = -6.0,
        log_std_max: float = 1.0,
    ) -> None:
        super().__init__(obs_dim, act_dim, log_std_min, log_std_max)
        if cell not in GATES:
            raise ValueError(f"an ensemble member's cell must be one of {', '.join(GATES)}, got '{cell}'")
        self.members, self.cell, self.hidden_size, self.num_layers = members, cell, hidden_size, num_layers
        self.head_hidden, self.nominal_dt = list(head_hidden or []), nominal_dt
        self.core = _Core(cell, hidden_size, num_layers)
        g, bound = GATES[cell] * hidden_size, 1.0 / math.sqrt(hidden_size)
        self.w_ih, self.w_hh = nn.ParameterList(), nn.ParameterList()
        self.b_ih, self.b_hh = nn.ParameterList(), nn.ParameterList()
        for layer in range(num_layers):
            width = obs_dim + act_dim if layer == 0 else hidden_size
            self.w_ih.append(_uniform((members, g, width), bound))
            self.w_hh.append(_uniform((members, g, hidden_size), bound))
            self.b_ih.append(_uniform((members, g), bound))
            self.b_hh.append(_uniform((members, g), bound))
        sizes = [hidden_size, *self.head_hidden, 2 * obs_dim]
        self.head_w, self.head_b = nn.ParameterList(), nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            self.head_w.append(_uniform((members, fan_out, fan_in), 1.0 / math.sqrt(fan_in)))
            self.head_b.append(_uniform((members, fan_out), 1.0 / math.sqrt(fan_in)))
        self.head = nn.Identity()  # features() already returns the head's output

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """Zero state ``[layers, batch, hidden]`` (``(h, c)`` for LSTM members)."""
        device = device if device is not None else self.w_ih[0].device
        shape = (self.num_layers, batch_size, self.hidden_size)
        return tuple(torch.zeros(shape, device=device) for _ in range(2 if self.cell == "lstm" else 1))

    def _split(self, t: Tensor) -> Tensor:
        """``[..., B, d]`` -> ``[..., E, B / E, d]`` (member-major)."""
        b = t.shape[-2]
        if b % self.members:
            raise ValueError(
                f"an ensemble of {self.members} needs a batch that is a multiple of {self.members} "
                f"(rows e*b..(e+1)*b-1 go through member e), got {b}"
            )
        return t.reshape(*t.shape[:-2], self.members, b // self.members, t.shape[-1])

    def _cell(self, layer: int, x: Tensor, h: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """One step of every member: ``x [E, b, in]``, ``h [E, b, H]``."""
        gi = torch.baddbmm(self.b_ih[layer].unsqueeze(1), x, self.w_ih[layer].transpose(1, 2))
        gh = torch.baddbmm(self.b_hh[layer].unsqueeze(1), h, self.w_hh[layer].transpose(1, 2))
        if self.cell == "rnn":
            return torch.tanh(gi + gh), None
        if self.cell == "lstm":
            i, f, g, o = (gi + gh).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        ir, iz, inn = gi.chunk(3, dim=-1)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        n = torch.tanh(inn + r * hn)
        return (1 - z) * n + z * h, None

    def features(
        self, x: Tensor, state: State | None, episode_start: Tensor | None, dt: Tensor | None
    ) -> tuple[Tensor, State]:
        """Normalised inputs ``[T, B, o+a]`` -> head outputs ``[T, B, 2o]`` and the new state."""
        T, B = x.shape[:2]
        if state is None:
            state = self.initial_state(B, x.device)
        xs = self._split(x)  # [T, E, b, in]
        hs = list(self._split(state[0]).unbind(0))  # L x [E, b, H]
        cs = list(self._split(state[1]).unbind(0)) if self.cell == "lstm" else [None] * self.num_layers
        starts = None if episode_start is None else self._split(episode_start.unsqueeze(-1).float())
        outs = []
        for t in range(T):
            if starts is not None:
                keep = 1.0 - starts[t]
                hs = [h * keep for h in hs]
                cs = [c * keep if c is not None else None for c in cs]
            inp = xs[t]
            for layer in range(self.num_layers):
                hs[layer], cs[layer] = self._cell(layer, inp, hs[layer], cs[layer])
                inp = hs[layer]
            y = inp
            for j, (w, b) in enumerate(zip(self.head_w, self.head_b)):
                y = torch.baddbmm(b.unsqueeze(1), y, w.transpose(1, 2))
                if j < len(self.head_w) - 1:
                    y = torch.tanh(y)
            outs.append(y.reshape(B, -1))
        new_state = (torch.stack([h.reshape(B, -1) for h in hs]),)
        if self.cell == "lstm":
            new_state += (torch.stack([c.reshape(B, -1) for c in cs]),)
        return torch.stack(outs), new_state

    @torch.no_grad()
    def rollout(
        self, history_obs: Tensor, history_act: Tensor, planned_actions: Tensor, state: State | None = None
    ) -> tuple[Tensor, Tensor]:
        """Open-loop prediction of the whole ensemble: every member on every sequence; returns the
        members' mean and the combined std ``[H, B, o]`` (see :meth:`DynamicsModel.rollout`)."""
        b, e = history_obs.shape[1], self.members

        def tile(t: Tensor) -> Tensor:
            return t.unsqueeze(-3).expand(*t.shape[:-2], e, b, t.shape[-1]).reshape(*t.shape[:-2], e * b, -1)

        mean, std = super().rollout(tile(history_obs), tile(history_act), tile(planned_actions), state)
        mean, std = mean.reshape(mean.shape[0], e, b, -1), std.reshape(std.shape[0], e, b, -1)
        centre = mean.mean(1)
        spread = (std.pow(2).mean(1) + mean.var(1, unbiased=False)).sqrt()
        return centre, spread

    def predict_inference(self, obs_act: Tensor, state: State, dt: Tensor | None = None):
        """Not available: an ensemble has no single-model bundle."""
        raise NotImplementedError(
            "an ensemble exports as a planning bundle only: rnn-control export CHECKPOINT --planning"
        )

    def member_models(self) -> list[RecurrentDynamicsModel]:
        """Every member as a :class:`RecurrentDynamicsModel` with its weights (eval mode)."""
        out = []
        for e in range(self.members):
            m = RecurrentDynamicsModel(
                self.obs_dim, self.act_dim, self.cell, self.hidden_size, self.num_layers,
                self.head_hidden or None, self.nominal_dt, self.log_std_min, self.log_std_max,
            )  # fmt: skip
            with torch.no_grad():
                for layer in range(self.num_layers):
                    for name, params in (("weight_ih", self.w_ih), ("weight_hh", self.w_hh),
                                         ("bias_ih", self.b_ih), ("bias_hh", self.b_hh)):  # fmt: skip
                        getattr(m.core.rnn, f"{name}_l{layer}").copy_(params[layer][e])
                linears = [mod for mod in m.head if isinstance(mod, nn.Linear)]
                for lin, w, b in zip(linears, self.head_w, self.head_b):
                    lin.weight.copy_(w[e])
                    lin.bias.copy_(b[e])
                for name in ("obs_norm", "act_norm", "delta_norm"):
                    getattr(m, name).load_state_dict(getattr(self, name).state_dict())
                m.delta_active.copy_(self.delta_active)
            out.append(m.to(self.w_ih[0].device).eval())
        return out
