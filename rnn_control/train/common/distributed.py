"""Data-parallel training on ``torch.distributed``: one process per device, started by torchrun.

The same code path runs with one process and with many; with one, every collective below is a
no-op. Under ``torchrun --nproc_per_node N -m rnn_control train-policy ...``:

- each rank builds its own environments with its own seeds (:meth:`Distributed.rank_seed`);
- rank 0's parameters are broadcast at start (:meth:`Distributed.broadcast_module`);
- gradients are averaged by all-reduce before every optimiser step (:meth:`average_gradients`);
- normaliser statistics are merged from every rank's batch moments, in rank order, so every
  rank holds the same numbers (:func:`update_normalizer`);
- scalar decisions (learning rate, KL early stop, stop at target) are agreed (:meth:`mean`,
  :meth:`broadcast_object`);
- rank 0 alone logs, evaluates and writes checkpoints (:attr:`is_main`); the per-rank states a
  bit-exact resume needs are gathered into rank 0's checkpoint (:meth:`gather_objects`).

Backends: gloo on CPU, nccl on CUDA. A rank that dies makes the others' next collective fail
(gloo sees the closed connection) or time out after :data:`TIMEOUT_ENV` seconds; torchrun then
stops the whole group, so nothing hangs forever.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from rnn_control.errors import CheckpointError, ConfigError, TrainingError

LAUNCH_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")  # what torchrun sets
TIMEOUT_ENV = "RNN_CONTROL_COLLECTIVE_TIMEOUT_S"  # seconds a collective waits for the other ranks
DEFAULT_TIMEOUT_S = 600.0
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class LaunchEnv:
    """What torchrun told this process: its place in the group and where to meet the others."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


def read_launch_env(environ: Mapping[str, str] | None = None) -> LaunchEnv | None:
    """The torchrun variables, checked; ``None`` for a plain single-process start.

    Raises :class:`ConfigError` naming the variable when they are set inconsistently (some of
    them missing, not integers, a rank outside the world size).
    """
    env = os.environ if environ is None else environ
    present = [k for k in LAUNCH_KEYS if k in env]
    if not present:
        return None
    missing = [k for k in LAUNCH_KEYS if k not in env]
    if missing:
        raise ConfigError(
            f"torch.distributed launch: {', '.join(present)} set but {', '.join(missing)} missing; "
            "start data-parallel training with torchrun (e.g. torchrun --standalone --nproc_per_node 2 "
            "-m rnn_control train-policy ...), which sets all of them"
        )
    values: dict[str, int] = {}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"):
        try:
            values[key] = int(env[key])
        except ValueError:
            raise ConfigError(f"torch.distributed launch: {key}={env[key]!r} is not an integer") from None
    rank, world, local = values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"]
    if world < 1:
        raise ConfigError(f"torch.distributed launch: WORLD_SIZE={world} must be >= 1")
    if not 0 <= rank < world:
        raise ConfigError(f"torch.distributed launch: RANK={rank} is outside 0..WORLD_SIZE-1 ({world - 1})")
    local_world = int(env.get("LOCAL_WORLD_SIZE", world))
    if not 0 <= local < local_world:
        raise ConfigError(
            f"torch.distributed launch: LOCAL_RANK={local} is outside "
            f"0..LOCAL_WORLD_SIZE-1 ({local_world - 1})"
        )
    return LaunchEnv(rank, world, local, env["MASTER_ADDR"], values["MASTER_PORT"])


def choose_device(request: str, local_rank: int = 0) -> tuple[torch.device, str]:
    """The training device for ``request`` (``auto | cpu | cuda``) and the reason it was chosen.

    ``cuda`` without a usable GPU is a :class:`ConfigError`; a rank uses GPU ``local_rank``.
    """
    if request not in DEVICES:
        raise ConfigError(f"device: must be one of {', '.join(DEVICES)}, got {request!r}")
    if request == "cpu":
        return torch.device("cpu"), "requested"
    available = torch.cuda.is_available()
    if request == "cuda" and not available:
        built = torch.version.cuda or "no"
        raise ConfigError(
            f"device: cuda requested, but torch sees no CUDA device (torch {torch.__version__}, "
            f"built with CUDA: {built}); use device: cpu or auto"
        )
    if available:
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise ConfigError(f"device: local rank {local_rank} needs GPU {local_rank}; {count} visible")
        why = "requested" if request == "cuda" else f"auto: {count} CUDA device(s) visible"
        return torch.device("cuda", local_rank), why
    return torch.device("cpu"), "auto: no CUDA device visible"


class Distributed:
    """This process's view of the training group (a group of one without torchrun)."""

    def __init__(self, rank: int, world_size: int, device: torch.device, why: str) -> None:
        self.rank, self.world_size, self.device, self.device_reason = rank, world_size, device, why
        self.backend = ("nccl" if device.type == "cuda" else "gloo") if world_size > 1 else None

    @classmethod
    def start(cls, device: str = "auto", environ: Mapping[str, str] | None = None) -> Distributed:
        """Join the group torchrun started (or a group of one) on the device ``device`` asks for."""
        launch = read_launch_env(environ)
        rank, world, local = (launch.rank, launch.world_size, launch.local_rank) if launch else (0, 1, 0)
        dev, why = choose_device(device, local)
        group = cls(rank, world, dev, why)
        if world > 1 and not dist.is_initialized():
            if dev.type == "cuda":
                torch.cuda.set_device(dev)
            dist.init_process_group(group.backend, timeout=timedelta(seconds=collective_timeout()))
        return group

    # --- who does what ------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs, evaluates and writes checkpoints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process takes part."""
        return self.world_size > 1

    def describe(self) -> str:
        """One line for the user: ranks, backend, device and why."""
        ranks = f"{self.world_size} ranks ({self.backend})" if self.active else "1 process"
        return f"training on {ranks}, device {self.device} ({self.device_reason})"

    def rank_seed(self, seed: int, stride: int) -> int:
        """Rank ``r``'s seed for ``stride`` consecutively seeded things (e.g. the envs of a vector
        env): ``seed + r * stride``, so the ranks' envs together are those of one process with
        ``world_size * stride`` envs."""
        return seed + self.rank * stride

    # --- collectives (no-ops for a group of one) -----------------------------------------------
    def broadcast_module(self, module: nn.Module) -> None:
        """Give every rank rank 0's parameters and buffers."""
        if not self.active:
            return
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                _collective(dist.broadcast, t.data, src=0)

    def average_gradients(self, module: nn.Module) -> None:
        """Replace every gradient with its mean over the ranks (one flat all-reduce)."""
        if not self.active:
            return
        params = [p for p in module.parameters() if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        _collective(dist.all_reduce, flat)
        flat /= self.world_size
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[offset : offset + n].view_as(p)
            offset += n

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the ranks."""
        if not self.active:
            return value
        return float(self.sum(torch.tensor([float(value)], dtype=torch.float64)).item()) / self.world_size

    def sum(self, t: Tensor) -> Tensor:
        """The element-wise sum of ``t`` over the ranks (a new tensor; ``t`` is left alone)."""
        if not self.active:
            return t.clone()
        out = t.clone().to(self._comm_device)
        _collective(dist.all_reduce, out)
        return out.to(t.device)

    def minimum(self, value: int) -> int:
        """The smallest ``value`` over the ranks."""
        if not self.active:
            return value
        t = torch.tensor([int(value)], dtype=torch.int64, device=self._comm_device)
        _collective(dist.all_reduce, t, op=dist.ReduceOp.MIN)
        return int(t.item())

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (a decision every rank must take the same way)."""
        if not self.active:
            return obj
        box = [obj]
        _collective(dist.broadcast_object_list, box, src=0)
        return box[0]

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world_size
        _collective(dist.all_gather_object, out, obj)
        return out

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.active:
            _collective(dist.barrier)

    def close(self) -> None:
        """Leave the group (call once training is over)."""
        if self.active and dist.is_initialized():
            dist.destroy_process_group()

    @property
    def _comm_device(self) -> torch.device:
        return self.device if self.backend == "nccl" else torch.device("cpu")


def quiet_unless_rank_zero(environ: Mapping[str, str] | None = None) -> bool:
    """Under torchrun, send the standard output of every rank but 0 to ``/dev/null`` (rank 0
    reports for the group; errors still reach standard error, with torchrun's rank prefix).
    Returns True on rank 0 (and without torchrun)."""
    import sys

    env = os.environ if environ is None else environ
    if env.get("RANK", "0") == "0":
        return True
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the rest of the process)
    return False


def collective_timeout() -> float:
    """Seconds a collective waits for the other ranks (:data:`TIMEOUT_ENV`, default 600)."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r} must be > 0 seconds")
    return value


def _collective(fn, *args, **kwargs) -> Any:
    """Run a collective; a lost or silent peer becomes a :class:`TrainingError` saying so."""
    try:
        return fn(*args, **kwargs)
    except (RuntimeError, dist.DistBackendError) as exc:
        rank = dist.get_rank() if dist.is_initialized() else "?"
        raise TrainingError(
            f"rank {rank}: lost contact with the other ranks during {fn.__name__} ({exc}); "
            "another rank has probably died (see its output). Stopping this rank."
        ) from exc


def update_normalizer(group: Distributed, normalizer: nn.Module, x: Tensor) -> None:
    """Merge every rank's batch ``x`` into ``normalizer`` (a ``RunningNormalizer``), in rank
    order: every rank ends with the statistics of the union of the ranks' batches."""
    for n, mean, var in group.gather_objects(normalizer.moments(x)):
        normalizer.merge(n, mean, var)


def check_world_size(checkpoint: Mapping[str, Any], world_size: int, where: str) -> None:
    """Refuse to resume a checkpoint written by a group of another size (its per-rank
    environments, seeds and statistics would not line up)."""
    stored = int(checkpoint.get("world_size", 1))
    if stored != world_size:
        how = "without torchrun" if stored == 1 else f"under torchrun with {stored} processes in all"
        raise CheckpointError(
            f"{where}: written by a {stored}-process run, resumed with {world_size}; resume it "
            f"{how} (--nnodes x --nproc_per_node = {stored}), or start a new --run-dir"
        )
