"""Recurrent cores: one interface over Elman RNN, LSTM, GRU and a time-aware GRU.

Shapes (time-major, like ``torch.nn.GRU``):

- sequence input ``x``: ``[T, B, input_size]``
- ``episode_start``: ``[T, B]`` bool, True where a new episode begins *at* that step: the
  state is reset to zero before that input is processed
- ``dt``: ``[T, B, 1]`` seconds since the previous step (time-aware cell only)
- state: a tuple of tensors ``[num_layers, B, hidden]``: ``(h,)`` for rnn/gru/tgru,
  ``(h, c)`` for lstm

``forward`` runs a whole sequence through the fused torch kernel. Resets inside the sequence do
not fall back to a Python loop: the sequence is cut at episode boundaries and the pieces run
side by side, zero-padded, in *one* kernel call, each piece starting from the carried state
(first piece) or zeros. ``step`` is the one-tick path used at deployment; the two
agree to float tolerance (tested).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from rnn_control.scenario.model import CELLS, ModelConfig

State = tuple[Tensor, ...]


class RecurrentCore(nn.Module):
    """A stack of recurrent layers selected by name (``rnn``, ``lstm``, ``gru``, ``tgru``)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        cell: str = "gru",
        nominal_dt: float = 0.05,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell '{cell}'; choose one of: {', '.join(CELLS)}")
        self.cell = cell
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.nominal_dt = nominal_dt
        if cell == "tgru":
            self.rnn: nn.Module = TimeAwareGRU(input_size, hidden_size, num_layers, nominal_dt)
        else:
            kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
            extra = {"nonlinearity": "tanh"} if cell == "rnn" else {}
            self.rnn = kind(input_size, hidden_size, num_layers, **extra)

    @classmethod
    def from_config(cls, input_size: int, cfg: ModelConfig) -> RecurrentCore:
        return cls(input_size, cfg.hidden_size, cfg.num_layers, cfg.cell, cfg.nominal_dt)

    @property
    def is_lstm(self) -> bool:
        return self.cell == "lstm"

    @property
    def time_aware(self) -> bool:
        return self.cell == "tgru"

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h", "c") if self.is_lstm else ("h",)

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """Zero state for ``batch_size`` parallel sequences."""
        shape = (self.num_layers, batch_size, self.hidden_size)
        device = device if device is not None else next(self.parameters()).device
        return tuple(torch.zeros(shape, device=device) for _ in self.state_names)

    def forward(
        self,
        x: Tensor,
        state: State | None = None,
        episode_start: Tensor | None = None,
        dt: Tensor | None = None,
    ) -> tuple[Tensor, State]:
        """Run a sequence ``x [T, B, in]``; returns outputs ``[T, B, hidden]`` and the final state."""
        T, B = x.shape[:2]
        if state is None:
            state = self.initial_state(B, x.device)
        if self.time_aware:
            if dt is None:
                dt = torch.full((T, B, 1), self.nominal_dt, device=x.device)
            return self.rnn(x, state, episode_start, dt)
        if episode_start is None or not bool(episode_start[1:].any()):
            if episode_start is not None:
                state = reset_state(state, episode_start[0])
            y, new = self.rnn(x, _to_torch_state(state, self.is_lstm))
            return y, _from_torch_state(new)
        return self._forward_segmented(x, state, episode_start)

    def step(self, x: Tensor, state: State | None = None, dt: Tensor | None = None) -> tuple[Tensor, State]:
        """One tick: ``x [B, in]`` (and ``dt [B, 1]``) -> output ``[B, hidden]``, next state."""
        y, state = self.forward(x.unsqueeze(0), state, None, None if dt is None else dt.unsqueeze(0))
        return y.squeeze(0), state

    def _forward_segmented(self, x: Tensor, state: State, episode_start: Tensor) -> tuple[Tensor, State]:
        """Cut ``x`` at episode boundaries and run all pieces side by side in one kernel call.

        Pieces are left-aligned and zero-padded to the longest one, so every output at a valid
        position is exact (padding only ever follows a piece). The padded batch goes through the
        plain fused kernel: on CPU its backward pass is about 10x faster than through a packed
        sequence. Only the final state needs care, because the kernel's last state has run over
        the padding: for single-layer rnn/gru it is the output at each env's last valid step;
        otherwise each env's last piece is re-run packed (forward only, unless a loss uses the
        final state).
        """
        T, B = x.shape[:2]
        device = x.device
        starts = episode_start.to(torch.bool).clone()
        starts[0] = True
        seg_in_env = starts.long().cumsum(0) - 1  # [T, B] piece index within each env
        n_seg = seg_in_env[-1] + 1  # [B]
        first_seg = torch.cumsum(n_seg, 0) - n_seg  # [B] id of each env's first piece
        last_seg = first_seg + n_seg - 1  # [B] id of each env's last piece
        seg_id = seg_in_env + first_seg  # [T, B] global piece id
        t_idx = torch.arange(T, device=device).unsqueeze(1).expand(T, B)
        seg_start_t = torch.cummax(torch.where(starts, t_idx, torch.zeros_like(t_idx)), dim=0).values
        pos = t_idx - seg_start_t  # [T, B] position inside the piece
        n_total = int(n_seg.sum())
        lengths = torch.bincount(seg_id.reshape(-1), minlength=n_total)
        x_pad = x.new_zeros(int(lengths.max()), n_total, x.shape[-1])
        x_pad[pos, seg_id] = x
        # Initial state: carried state for each env's first piece unless it starts an episode.
        carry = (~episode_start[0].to(torch.bool)).view(1, B, 1)
        init = []
        for s in state:
            s0 = s.new_zeros(s.shape[0], n_total, s.shape[-1])
            s0[:, first_seg] = s * carry.to(s.dtype)
            init.append(s0)
        y_pad, _ = self.rnn(x_pad, _to_torch_state(tuple(init), self.is_lstm))
        y = y_pad[pos, seg_id]
        if not self.is_lstm and self.num_layers == 1:
            return y, (y_pad[lengths[last_seg] - 1, last_seg].unsqueeze(0),)
        packed = pack_padded_sequence(x_pad[:, last_seg], lengths[last_seg].cpu(), enforce_sorted=False)
        _, final = self.rnn(packed, _to_torch_state(tuple(s[:, last_seg] for s in init), self.is_lstm))
        return y, _from_torch_state(final)


class TimeAwareGRU(nn.Module):
    """GRU layers that know how much time passed since the previous step.

    Before each update the state decays towards zero with a learned per-unit rate,
    ``h <- h * exp(-softplus(rate) * dt)`` (as in GRU-D), and the first layer also sees
    ``dt / nominal_dt`` as an extra input. A model trained with jittered ``dt`` therefore
    keeps working when sensor messages arrive late or early on a robot.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, nominal_dt: float) -> None:
        super().__init__()
        self.nominal_dt = nominal_dt
        self.cells = nn.ModuleList(
            nn.GRUCell(input_size + 1 if i == 0 else hidden_size, hidden_size) for i in range(num_layers)
        )
        # softplus(-3) ~ 0.05/s: slow decay at initialisation.
        self.decay_rate = nn.Parameter(torch.full((num_layers, hidden_size), -3.0))

    def forward(
        self, x: Tensor, state: State, episode_start: Tensor | None, dt: Tensor
    ) -> tuple[Tensor, State]:
        h = state[0]
        layers = list(h.unbind(0))
        rates = nn.functional.softplus(self.decay_rate)  # [L, H]
        outputs = []
        for t in range(x.shape[0]):
            if episode_start is not None:
                keep = (~episode_start[t].to(torch.bool)).to(x.dtype).unsqueeze(-1)
                layers = [hl * keep for hl in layers]
            dt_t = dt[t]  # [B, 1]
            inp = torch.cat([x[t], dt_t / self.nominal_dt], dim=-1)
            for i, cell in enumerate(self.cells):
                decayed = layers[i] * torch.exp(-rates[i] * dt_t)
                layers[i] = cell(inp, decayed)
                inp = layers[i]
            outputs.append(inp)
        return torch.stack(outputs), (torch.stack(layers),)


def reset_state(state: State, mask: Tensor) -> State:
    """Zero the state of every sequence where ``mask [B]`` is True."""
    keep = (~mask.to(torch.bool)).view(1, -1, 1)
    return tuple(s * keep.to(s.dtype) for s in state)


def _to_torch_state(state: State, is_lstm: bool) -> Tensor | tuple[Tensor, Tensor]:
    return (state[0].contiguous(), state[1].contiguous()) if is_lstm else state[0].contiguous()


def _from_torch_state(state: Tensor | tuple[Tensor, ...]) -> State:
    return tuple(state) if isinstance(state, tuple) else (state,)
