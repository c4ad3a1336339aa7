"""Forward+backward cost of a recurrent core over sequences with episode starts inside.

Compares, in the same run, three ways to run a [T, B] batch whose envs reset mid-sequence:
- ``core``: ``RecurrentCore.forward`` (pieces zero-padded, one plain kernel call)
- ``packed``: the same pieces as a packed sequence (``pack_padded_sequence``), the baseline
- ``loop``: one ``RecurrentCore.step`` per time step in Python

Usage: ``PYTHONPATH=. python bench/bench_core_resets.py [--steps 64 --batch 64 --reset-prob 0.02]``
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence

from rnn_control.models import RecurrentCore, reset_state


def packed_forward(core: RecurrentCore, x: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """Baseline: every piece between episode starts as one packed sequence (zero initial state)."""
    T, B = start.shape
    starts = start.clone()
    starts[0] = True
    seg_in_env = starts.long().cumsum(0) - 1
    n_seg = seg_in_env[-1] + 1
    seg_id = seg_in_env + (torch.cumsum(n_seg, 0) - n_seg)
    t_idx = torch.arange(T).unsqueeze(1).expand(T, B)
    pos = t_idx - torch.cummax(torch.where(starts, t_idx, torch.zeros_like(t_idx)), 0).values
    n = int(n_seg.sum())
    lengths = torch.bincount(seg_id.reshape(-1), minlength=n)
    x_pad = x.new_zeros(int(lengths.max()), n, x.shape[-1])
    x_pad[pos, seg_id] = x
    y, _ = core.rnn(pack_padded_sequence(x_pad, lengths, enforce_sorted=False))
    y_pad, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=x_pad.shape[0])
    return y_pad[pos, seg_id]


def loop_forward(core: RecurrentCore, x: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    state, ys = core.initial_state(x.shape[1]), []
    for t in range(x.shape[0]):
        state = reset_state(state, start[t])
        y, state = core.step(x[t], state)
        ys.append(y)
    return torch.stack(ys)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--reset-prob", type=float, default=0.02)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"T={args.steps} B={args.batch} hidden={args.hidden} reset p={args.reset_prob}, 1 thread, fwd+bwd")
    print("| cell | core ms | packed ms | loop ms | packed / core | loop / core |")
    print("|---|---|---|---|---|---|")
    for cell in ("gru", "lstm", "rnn"):
        core = RecurrentCore(4, args.hidden, 1, cell)
        x = torch.randn(args.steps, args.batch, 4)
        start = torch.rand(args.steps, args.batch) < args.reset_prob
        ways = {
            "core": lambda core, x, start: core(x, None, start)[0],
            "packed": packed_forward,
            "loop": loop_forward,
        }
        ms = {}
        for name, fn in ways.items():
            fn(core, x, start).square().mean().backward()  # warm-up
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                fn(core, x, start).square().mean().backward()
            ms[name] = (time.perf_counter() - t0) / args.repeats * 1e3
        print(
            f"| {cell} | {ms['core']:.1f} | {ms['packed']:.1f} | {ms['loop']:.1f} | "
            f"{ms['packed'] / ms['core']:.1f}x | {ms['loop'] / ms['core']:.1f}x |"
        )


if __name__ == "__main__":
    main()
