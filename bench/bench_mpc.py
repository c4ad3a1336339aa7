"""Model-predictive control with a recurrent dynamics model: solve time, graph variants, the peer
(pytorch_mppi), the compute floor, control quality, and the MPC node's rate over ROS.

    PYTHONPATH=. python bench/bench_mpc.py timing                  # solve time per tick (random GRU-64)
    PYTHONPATH=. python bench/bench_mpc.py quality --checkpoint runs/pend-gru/checkpoint.pt \
        [--policy runs/pendulum/checkpoint.onnx]                    # 20 seeds: learned vs oracle vs PPO
    PYTHONPATH=. python bench/bench_mpc.py shards                  # the rollout split over threads
    PYTHONPATH=. python bench/bench_mpc.py fused                   # onnxruntime's GRU operator instead
    PYTHONPATH=. python bench/bench_mpc.py node [--shards 1,2]     # mpc_node at 100 Hz, K=512, H=30

``timing``: one tick of our MPPI (MpcController.step: sampling, one batched rollout of K x H in one
onnxruntime call, cost, weights, safety filter) for K in {256, 1024}, H = 30, a GRU-64 dynamics
model on PendulumNoVel's fields, with 1 and 2 threads; beside it the rollout alone in the three
graph forms (unrolled, ONNX Loop, one call per step), pytorch_mppi with the same model in torch
(state = [observation, GRU state], one MPPI iteration per command, same K, H, noise), and the
floor: H x one [K x (hidden + obs + act)] @ [(hidden + obs + act) x 3 hidden] product, measured
here with numpy. Latency needs shapes, not training: the model has random weights.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rnn_control.export.planning import PlanningExportOptions, export_planning, member_weights, members_of
from rnn_control.export.planning_graph import _Builder, _Graph
from rnn_control.models import build_model
from rnn_control.runtime.mpc import MpcController
from rnn_control.runtime.planning import PlanningModel
from rnn_control.runtime.session import session_options
from rnn_control.train.common.checkpoint import load_checkpoint
from tests.host_load import HostLoad
from tests.mpc_support import dynamics_checkpoint

H = 30
SECTION = {
    "planner": "mppi", "samples": 0, "horizon": 0, "iterations": 1, "deadline": 0.0, "noise_std": 0.6,
    "noise_beta": 1.0, "temperature": 0.5,
    "cost": {"terms": [{"kind": "angle", "fields": ["cos_theta", "sin_theta"]},
                       {"kind": "rate", "fields": ["cos_theta", "sin_theta"], "weight": 0.1},
                       {"kind": "quadratic", "field": "torque", "weight": 0.001}]},
}  # fmt: skip


def pct(ts: list[float]) -> tuple[float, float]:
    a = np.array(ts) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def timed(fn, n: int, warm: int = 5) -> list[float]:
    for _ in range(warm):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def floor_ms(k: int, width: int, hidden: int, n: int) -> float:
    """H x the median of one [K x width] @ [width x 3 hidden] product (numpy, this thread count)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, width), dtype=np.float32)
    b = rng.standard_normal((width, 3 * hidden), dtype=np.float32)
    out = np.empty((k, 3 * hidden), np.float32)
    return H * float(np.median(timed(lambda: np.matmul(a, b, out=out), n * 4))) * 1e3


def gate_floor_ms(k: int, hidden: int, n: int) -> float:
    """H x the median of a GRU step's gate nonlinearities alone, in one onnxruntime call on this
    thread count: sigmoid over [K x 2 hidden] (reset and update gates) and tanh over [K x hidden]
    (the candidate). An exact GRU pays these beside the products: the floor of the cell's math."""
    from onnx import TensorProto, helper

    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Sigmoid", ["a"], ["sa"]), helper.make_node("Tanh", ["b"], ["tb"])], "gates",
        [vi("a", TensorProto.FLOAT, [k, 2 * hidden]), vi("b", TensorProto.FLOAT, [k, hidden])],
        [vi("sa", TensorProto.FLOAT, [k, 2 * hidden]), vi("tb", TensorProto.FLOAT, [k, hidden])],
    )  # fmt: skip
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    proto.ir_version = min(proto.ir_version, 10)
    options = session_options(torch.get_num_threads())
    sess = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {"a": rng.standard_normal((k, 2 * hidden), dtype=np.float32),
             "b": rng.standard_normal((k, hidden), dtype=np.float32)}  # fmt: skip
    return H * float(np.median(timed(lambda: sess.run(None, feeds), n * 4))) * 1e3


def step_graph_session(ckpt: Path, k: int, threads: int):
    """A one-step graph (state in/out) of the same model: the 'one call per step' variant."""
    import onnx
    from onnx import TensorProto, helper

    model = build_model(load_checkpoint(ckpt)).float()
    weights = [member_weights(m) for m in members_of(model)]
    g = _Graph()
    b = _Builder(g, weights)
    o, hd = model.obs_dim, weights[0].hidden
    act_n = b.normalise("a", "act")
    hs, _, pred = b.step(["h"], [None], "o", act_n, o)
    g.nodes.append(helper.make_node("Identity", [hs[0]], ["h_next"]))
    g.nodes.append(helper.make_node("Identity", [pred], ["o_next"]))
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        g.nodes, "step", [vi("h", TensorProto.FLOAT, [k, hd]), vi("o", TensorProto.FLOAT, [k, o]),
                          vi("a", TensorProto.FLOAT, [k, 1])],
        [vi("h_next", TensorProto.FLOAT, [k, hd]), vi("o_next", TensorProto.FLOAT, [k, o])], g.inits,
    )  # fmt: skip
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    proto.ir_version = min(proto.ir_version, 10)
    onnx.checker.check_model(proto)
    sess = ort.InferenceSession(
        proto.SerializeToString(), session_options(threads), providers=["CPUExecutionProvider"]
    )
    bufs = [(np.zeros((k, hd), np.float32), np.zeros((k, o), np.float32)) for _ in range(2)]
    acts = np.random.default_rng(0).uniform(-2, 2, (H, k, 1)).astype(np.float32)
    bindings = []
    for phase in (0, 1):
        bind = sess.io_binding()
        bind.bind_cpu_input("h", bufs[phase][0])
        bind.bind_cpu_input("o", bufs[phase][1])
        bind.bind_output("h_next", "cpu", 0, np.float32, [k, hd], bufs[1 - phase][0].ctypes.data)
        bind.bind_output("o_next", "cpu", 0, np.float32, [k, o], bufs[1 - phase][1].ctypes.data)
        bindings.append(bind)

    def plan() -> None:
        for t in range(H):
            bind = bindings[t % 2]
            bind.bind_cpu_input("a", acts[t])
            sess.run_with_iobinding(bind)

    return plan


def torch_mppi(ckpt: Path, k: int, threads: int):
    """pytorch_mppi over the same model in torch: state = [obs, h], dynamics = one model step."""
    from pytorch_mppi import MPPI

    model = build_model(load_checkpoint(ckpt)).float().eval()
    o, hd = model.obs_dim, model.core.hidden_size
    dt = 0.05

    def dynamics(state: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        obs, h = state[:, :o], state[:, o:]
        mean, log_std, new = model.step(obs, u, (h.unsqueeze(0).contiguous(),))
        return torch.cat([model.to_raw(obs, mean, log_std)[0], new[0][0]], dim=1)

    prev = {"theta": None}

    def cost(state: torch.Tensor, u: torch.Tensor) -> torch.Tensor:  # the same terms as SECTION
        theta = torch.atan2(state[:, 1], state[:, 0])
        wrapped = (theta + torch.pi) % (2 * torch.pi) - torch.pi
        last = prev["theta"] if prev["theta"] is not None and prev["theta"].shape == theta.shape else theta
        rate = ((theta - last + torch.pi) % (2 * torch.pi) - torch.pi) / dt
        prev["theta"] = theta
        return wrapped**2 + 0.1 * rate**2 + 0.001 * u[:, 0] ** 2

    ctrl = MPPI(dynamics, cost, o + hd, torch.tensor([[1.2**2]]), num_samples=k, horizon=H, lambda_=0.5,
                u_min=torch.tensor([-2.0]), u_max=torch.tensor([2.0]))  # fmt: skip
    state = torch.zeros(o + hd)
    state[0] = -1.0

    def tick() -> None:
        with torch.no_grad():
            ctrl.command(state)

    return tick


def timing(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_mpc_"))
    ckpt = dynamics_checkpoint(tmp, hidden=64)
    width = 64 + 2 + 1
    rows = []
    for k in (256, 1024):
        bundles = {}
        for graph in ("unrolled", "loop"):
            bundles[graph] = tmp / f"plan{k}{graph}.onnx"
            export_planning(
                ckpt, bundles[graph], PlanningExportOptions(batch=k, horizon=H, graph=graph, parity_ticks=2)
            )
        for threads in (1, 2):
            torch.set_num_threads(threads)
            n = args.ticks
            ctrl = MpcController.load(bundles["unrolled"], SECTION, intra_op_threads=threads)
            rng = np.random.default_rng(0)
            obs = [[np.cos(a), np.sin(a)] for a in rng.uniform(-3, 3, 64)]
            ours = timed(lambda c=ctrl, o=obs, i=iter(range(10**9)): c.step(o[next(i) % 64]), n)
            sharded = None  # two threads used the other way: 2 shards of one-thread calls
            if threads == 2:
                split = MpcController.load(bundles["unrolled"], SECTION, shards=2)
                sharded = timed(lambda c=split, o=obs, i=iter(range(10**9)): c.step(o[next(i) % 64]), n)
            roll = {}
            for graph, path in bundles.items():
                pm = PlanningModel.load(path, intra_op_threads=threads)
                pm.begin([1.0, 0.0])
                pm.actions[:] = rng.uniform(-2, 2, pm.actions.shape)
                roll[graph] = timed(pm.rollout, n)
            roll["per-step calls"] = timed(step_graph_session(ckpt, k, threads), n)
            peer = timed(torch_mppi(ckpt, k, threads), max(10, n // 2))
            floor = floor_ms(k, width, 64, n) if threads == 1 else float("nan")
            gates = gate_floor_ms(k, 64, n) if threads == 1 else float("nan")
            rolls = {g: pct(t) for g, t in roll.items()}
            rows.append((k, threads, pct(ours), rolls, pct(peer), (floor, gates), sharded and pct(sharded)))
            p50, p99 = pct(ours)
            two = f" (2 shards {pct(sharded)[0]:.2f})" if sharded else ""
            print(f"K={k:5d} threads={threads}: MPC tick p50 {p50:7.2f} ms{two}  p99 {p99:7.2f} ms | "
                  + " | ".join(f"{g} {v[0]:.2f}" for g, v in rows[-1][3].items())
                  + f" | pytorch_mppi p50 {pct(peer)[0]:.2f} ms", flush=True)  # fmt: skip
    floors = {k: f for k, t, *_, f, _ in rows if t == 1}
    print(
        "\n| K | threads | our tick p50 / p99 (ms) | our tick, 2 shards x 1 thread p50 / p99 (ms) | "
        "rollout unrolled / Loop / per-step p50 (ms) | pytorch_mppi p50 / p99 (ms) | floor: products / "
        "+ gates (ms, 1 thread) | ours / floor (products / + gates) | pytorch_mppi / ours (best) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for k, threads, (p50, p99), roll, (q50, q99), _, two in rows:
        f, g = floors[k]
        r = " / ".join(f"{roll[name][0]:.2f}" for name in ("unrolled", "loop", "per-step calls"))
        ratios = f"{p50 / f:.2f}x / {p50 / (f + g):.2f}x"
        best = min(p50, two[0]) if two else p50
        shard_col = f"{two[0]:.2f} / {two[1]:.2f}" if two else "-"
        print(f"| {k} | {threads} | {p50:.2f} / {p99:.2f} | {shard_col} | {r} | {q50:.2f} / {q99:.2f} | "
              f"{f:.2f} / {f + g:.2f} | {ratios} | {q50 / best:.2f}x |")  # fmt: skip


def shards(args: argparse.Namespace) -> None:
    """The rollout alone (``PlanningModel.rollout``, K x 30 steps) in one call, with 2 intra-op
    threads, and split into 2 and 4 concurrent shards of one-thread calls."""
    tmp = Path(tempfile.mkdtemp(prefix="bench_mpc_shards_"))
    ckpt = dynamics_checkpoint(tmp, hidden=64)
    rng = np.random.default_rng(0)
    print("| K | one call | 2 intra-op threads | 2 shards | 4 shards (p50, ms) | one call / 2 shards |")
    print("|---|---|---|---|---|---|")
    for k in (256, 512, 1024):
        path = tmp / f"plan{k}.onnx"
        export_planning(ckpt, path, PlanningExportOptions(batch=k, horizon=H, parity_ticks=1))
        p50 = []
        for n_shards, threads in ((1, 1), (1, 2), (2, 1), (4, 1)):
            pm = PlanningModel.load(path, intra_op_threads=threads, shards=n_shards)
            pm.begin([1.0, 0.0])
            pm.actions[:] = rng.uniform(-2, 2, pm.actions.shape)
            p50.append(pct(timed(pm.rollout, args.ticks))[0])
        print(f"| {k} | " + " | ".join(f"{v:.2f}" for v in p50) + f" | {p50[0] / p50[2]:.2f}x |", flush=True)


class _FusedGruBuilder(_Builder):
    """The planning graph's GRU layers as onnxruntime's fused ``GRU`` operator (seq_length 1 per
    step, ``linear_before_reset`` as PyTorch) instead of the gate products: a variant to measure."""

    def cell_step(self, layer, h, c, inputs):
        from onnx import helper

        if self.cell != "gru" or self.ensemble:
            return super().cell_step(layer, h, c, inputs)
        g, hd = self.g, self.hidden
        w_ih, w_hh, b_ih, b_hh = self.members[0].layers[layer]

        def zrh(a: np.ndarray) -> np.ndarray:  # PyTorch's r, z, n blocks -> ONNX's z, r, h
            return np.concatenate([a[hd : 2 * hd], a[:hd], a[2 * hd :]])

        key = f"fused{layer}"
        if key not in self._consts:
            self._consts[key] = (g.const(zrh(w_ih)[None]), g.const(zrh(w_hh)[None]),
                                 g.const(np.concatenate([zrh(b_ih), zrh(b_hh)])[None]))  # fmt: skip
        w, r, b = self._consts[key]
        x = inputs[0] if len(inputs) == 1 else g.op("Concat", *inputs, axis=-1)
        x3, h3, y_h = g.op("Unsqueeze", x, g.ints([0])), g.op("Unsqueeze", h, g.ints([0])), g.name("gru_h")
        g.nodes.append(helper.make_node("GRU", [x3, w, r, b, "", h3], ["", y_h], hidden_size=hd,
                                        linear_before_reset=1))  # fmt: skip
        return g.op("Squeeze", y_h, g.ints([0])), None


def fused(args: argparse.Namespace) -> None:
    """The rollout alone, one call, 1 thread: the exported graph (gate products) against the same
    model with onnxruntime's fused GRU operator per step (both pass the export's parity check),
    interleaved call by call so both see the same machine."""
    from rnn_control.export import planning_graph

    tmp = Path(tempfile.mkdtemp(prefix="bench_mpc_fused_"))
    ckpt = dynamics_checkpoint(tmp, hidden=64)
    rng = np.random.default_rng(0)
    host = HostLoad()
    print("| K | gate products (ms, p50) | fused GRU operator (ms, p50) | fused / products |")
    print("|---|---|---|---|")
    for k in (256, 512, 1024):
        models = []
        for name, builder in (("products", _Builder), ("fused", _FusedGruBuilder)):
            path = tmp / f"plan{k}_{name}.onnx"
            planning_graph._Builder = builder  # the exporter builds with this class
            try:
                export_planning(ckpt, path, PlanningExportOptions(batch=k, horizon=H, parity_ticks=2))
            finally:
                planning_graph._Builder = _Builder
            pm = PlanningModel.load(path, intra_op_threads=1)
            pm.begin([1.0, 0.0])
            pm.actions[:] = rng.uniform(-2, 2, pm.actions.shape)
            models.append(pm)
        times: list[list[float]] = [[], []]
        for _ in range(args.ticks):
            for i, pm in enumerate(models):
                t = time.perf_counter()
                pm.rollout()
                times[i].append(time.perf_counter() - t)
        a, b = (pct(ts)[0] for ts in times)
        print(f"| {k} | {a:.2f} | {b:.2f} | {b / a:.2f}x |", flush=True)
    print(host.line())


def quality(args: argparse.Namespace) -> None:
    from rnn_control.envs.bundle_returns import bundle_returns
    from rnn_control.envs.mpc_returns import mpc_returns, oracle_returns
    from rnn_control.scenario import load_scenario, scenario_from_dict

    torch.set_num_threads(1)
    ckpt = Path(args.checkpoint)
    stored = scenario_from_dict(load_checkpoint(ckpt, kind="dynamics")["config"])
    scenario = load_scenario(args.scenario)  # its mpc section: the planner and cost for both
    section = {**scenario.to_dict()["mpc"], "deadline": 0.0}
    k, h = scenario.mpc.samples or 256, scenario.mpc.horizon or 30
    bundle = ckpt.with_name(f"plan{k}x{h}.onnx")
    export_planning(ckpt, bundle, PlanningExportOptions(batch=k, horizon=h))
    seeds = f"{args.seed}..{args.seed + args.episodes - 1}"
    env = f"{stored.env.id} {[list(w) for w in stored.env.wrappers]}"
    print(f"{args.episodes} episodes, seeds {seeds}, {section['planner']} K={k} H={h}, env {env}")
    results = {}
    t = time.perf_counter()
    results["MPC, learned GRU model"] = mpc_returns(bundle, args.episodes, args.seed, section)
    print(f"  learned: {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    results["MPC, oracle (true simulator)"] = oracle_returns(scenario, args.episodes, args.seed)
    print(f"  oracle: {time.perf_counter() - t:.0f} s", flush=True)
    if args.policy:
        results["PPO policy"] = bundle_returns(args.policy, args.episodes, args.seed)
    oracle = np.mean(results["MPC, oracle (true simulator)"])
    print("\n| controller | mean return | std | min | vs oracle |\n|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {np.mean(r):.1f} | {np.std(r):.1f} | {np.min(r):.1f} | {np.mean(r) / oracle:.2f}x |"
        )


def node(args: argparse.Namespace) -> None:
    """mpc_node in timer mode at 100 Hz with K=512, H=30 fed by an observation publisher, once per
    ``--shards`` value (the same bundle, one node process after the other)."""
    import os

    import rclpy
    import yaml

    from tests.ros_support import Probe

    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(50 + os.getpid() % 40))
    tmp = Path(tempfile.mkdtemp(prefix="bench_mpc_node_"))
    ckpt = dynamics_checkpoint(tmp, hidden=64)
    bundle = tmp / "plan512.onnx"
    export_planning(ckpt, bundle, PlanningExportOptions(batch=512, horizon=H, parity_ticks=2))
    section = tmp / "section.yaml"
    section.write_text(yaml.safe_dump({"mpc": {**SECTION, "deadline": args.deadline}}))
    rclpy.init()
    probe = Probe("bench_probe")
    probe.watch_diagnostics()
    results = {}
    try:
        for shards in args.shards:
            host = HostLoad()
            r = _node_run(probe, tmp, bundle, section, shards, args.seconds, args.realtime_priority)
            results[shards] = r
            print(
                f"mpc_node K=512 H=30, 100 Hz timer, deadline {args.deadline:g}, {shards} shard(s), "
                f"{args.seconds:.0f} s: rate "
                f"{r['rate']:.1f} Hz (min {r['min_rate']:.1f}), solve p50 {r['p50']:.2f} ms, "
                f"p99 {r['p99']:.2f} ms, deadline misses {r['misses']} of {r['ticks']} ticks, "
                f"late ticks {r['late']}, {r['commands']} commands received; {host.line()}", flush=True,
            )  # fmt: skip
    finally:
        probe.close()
        rclpy.try_shutdown()
    base = results[args.shards[0]]
    for shards, r in results.items():
        if shards != args.shards[0]:
            print(f"{shards} shards / {args.shards[0]}: solve p50 {base['p50'] / r['p50']:.2f}x faster, "
                  f"rate {r['rate']:.1f} vs {base['rate']:.1f} Hz")  # fmt: skip


def _node_run(
    probe, tmp: Path, bundle: Path, section: Path, shards: int, seconds: float, priority: int = 0
) -> dict:
    import signal

    from std_msgs.msg import Float64MultiArray

    from rnn_control.ros.common import qos_profile
    from tests.ros_support import NodeProcess

    ns = f"/bench{shards}"
    params = {"bundle": bundle, "mpc_scenario": section, "autostart": True, "mode": "timer", "fade_in": 0.0,
              "control_period": 0.01, "diagnostics_period": 1.0, "watchdog_periods": 20.0,
              "planning_shards": shards, "realtime_priority": priority}  # fmt: skip
    proc = NodeProcess("mpc_node", params, tmp, namespace=ns)
    pub = probe.node.create_publisher(Float64MultiArray, f"{ns}/observation", qos_profile("sensor_data", 5))
    commands = probe.collect(Float64MultiArray, f"{ns}/command", qos_profile("reliable", 100))
    try:
        probe.spin_until(lambda: pub.get_subscription_count() > 0, 60, "the node")
        t_end, last, diags = time.monotonic() + seconds, None, []
        while time.monotonic() < t_end:
            th = time.monotonic()
            pub.publish(Float64MultiArray(data=[float(np.cos(th)), float(np.sin(th))]))
            probe.spin_for(0.01)
            d = probe.diag(f"{ns}/mpc_node")
            if d is not None and d is not last:
                diags.append(dict(d))
                last = d
    finally:
        proc.stop(signal.SIGINT)
    steady = diags[2:] or diags
    rate = [float(d["rate_hz"]) for d in steady]
    final = steady[-1]
    return {
        "rate": float(np.mean(rate)), "min_rate": float(np.min(rate)),
        "p50": float(np.median([float(d["solve_time_p50_us"]) for d in steady]) / 1e3),
        "p99": float(np.max([float(d["solve_time_p99_us"]) for d in steady]) / 1e3),
        "misses": int(final["deadline_misses"]), "ticks": int(final["ticks"]),
        "late": int(final["late_ticks"]),
        "commands": len(commands),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("timing")
    t.add_argument("--ticks", type=int, default=200)
    sh = sub.add_parser("shards")
    sh.add_argument("--ticks", type=int, default=100)
    f = sub.add_parser("fused")
    f.add_argument("--ticks", type=int, default=100)
    q = sub.add_parser("quality")
    q.add_argument("--checkpoint", required=True, help="dynamics checkpoint (trained on the scenario)")
    q.add_argument("--policy", help="a policy bundle to compare (e.g. the PPO one)")
    q.add_argument("--scenario", default="pendulum_novel")
    q.add_argument("--episodes", type=int, default=20)
    q.add_argument("--seed", type=int, default=1000)
    n = sub.add_parser("node")
    n.add_argument("--seconds", type=float, default=20.0)
    n.add_argument("--shards", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2],
                   help="planning_shards values to run, comma-separated (the first is the baseline)")
    n.add_argument("--deadline", type=float, default=0.8, help="fraction of the period a solve may take")
    n.add_argument("--realtime-priority", type=int, default=0,
                   help="the node's realtime_priority (SCHED_FIFO; needs CAP_SYS_NICE); 0: normal")
    args = parser.parse_args()
    {"timing": timing, "shards": shards, "fused": fused, "quality": quality, "node": node}[args.what](args)


if __name__ == "__main__":
    main()
