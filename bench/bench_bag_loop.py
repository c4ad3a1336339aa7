"""The loop over real DDS: a sim bridge and a controller write a bag (MCAP); a dynamics model is
trained from the bag and compared with the same model trained on in-process rollouts of the same
episodes.

1. ``sim_bridge_node`` (realtime, ``pendulum_monitor``: Pendulum-v1 with its full observation,
   200-step episodes, episode ``e`` reset with seed ``seed + e``), a controller node in this
   process answering observation ``k`` of episode ``e`` with the pre-drawn pink-noise torque
   ``u[e][k]``, and ``bag_recorder`` (a separate process) recording ``/observation``,
   ``/command`` and ``/sim_bridge/episode_return`` to MCAP.
2. The same episodes in process: ``env.reset(seed=seed + e)`` then ``u[e][k]`` step by step.
3. ``load_bags`` with a ``bag:`` section (log time, the bridge's period, episode topic) -> episodes;
   the last 25 % in time held out, the in-process episodes split the same way.
4. Two GRU dynamics models with the scenario's settings, one per data set; open-loop nRMSE at
   10/50/100 steps of both on the in-process held-out episodes (the ground truth) and on the
   bag's. Goal: the bag-trained model within 10 % of the in-process one.

    PYTHONPATH=. python bench/bench_bag_loop.py                      # ~4 min on 2 cores
    PYTHONPATH=. python bench/bench_bag_loop.py --episodes 12 --updates 300   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


def torques(episodes: int, steps: int, seed: int) -> np.ndarray:
    """Pink-noise torques ``[episodes, steps]`` (the controller's and the in-process commands)."""
    from rnn_control.train.dynamics.exploration import make_exploration

    out = np.zeros((episodes, steps))
    for e in range(episodes):
        pol = make_exploration(
            "pink", "Pendulum-v1", np.array([-2.0]), np.array([2.0]), 1, seed + e, 0.6, 1.0, 0.15, 0.05
        )
        pol.reset(np.ones(1, dtype=bool))
        out[e] = [pol.act(np.zeros((1, 3)))[0, 0] for _ in range(steps)]
    return out.astype(np.float32)


def in_process(scenario, u: np.ndarray, seed: int, steps: int):
    from rnn_control.envs import make_env
    from rnn_control.train.dynamics.rollouts import EpisodeDataset

    env = make_env(scenario.env, seed=seed)
    parts: dict[str, list] = {
        k: [] for k in ("obs", "act", "next_obs", "episode_start", "terminated", "truncated")
    }
    for e in range(len(u)):
        obs, _ = env.reset(seed=seed + e)
        for k in range(steps):
            nxt, *_ = env.step(u[e, k : k + 1])
            for key, v in zip(parts, (obs, u[e, k : k + 1], nxt, k == 0, False, k == steps - 1)):
                parts[key].append(v)
            obs = nxt
    env.close()
    return EpisodeDataset(
        **{
            k: np.asarray(v, dtype=np.float32 if k in ("obs", "act", "next_obs") else bool)
            for k, v in parts.items()
        }
    )


def record(u: np.ndarray, seed: int, period: float, out: Path, log_dir: Path) -> dict:
    """Run bridge + controller + recorder until the bridge's last episode; returns counts."""
    import rclpy
    from std_msgs.msg import Float64, Float64MultiArray

    from rnn_control.ros.common import qos_profile, result_qos
    from tests.ros_support import NodeProcess, Probe

    topics = ["/observation", "/command", "/sim_bridge/episode_return"]
    recorder = NodeProcess("bag_recorder", {"output": str(out), "topics": topics}, log_dir)
    bridge = NodeProcess(
        "sim_bridge_node",
        {
            "scenario": "pendulum_monitor",
            "mode": "realtime",
            "seed": seed,
            "control_period": period,
            "max_episodes": len(u),
            "connect_timeout": 60.0,
        },
        log_dir,
    )
    rclpy.init()
    probe = Probe("bench_controller")
    state = {"episode": 0, "k": 0, "late": 0}
    cmd = probe.node.create_publisher(Float64MultiArray, "/command", qos_profile("reliable", 10))

    def on_obs(msg: Float64MultiArray) -> None:
        e, k = state["episode"], state["k"]
        value = float(u[min(e, len(u) - 1), min(k, u.shape[1] - 1)])
        cmd.publish(Float64MultiArray(data=[value]))
        state["k"] += 1

    def on_return(msg: Float64) -> None:
        state["episode"] += 1
        state["k"] = 0

    probe.node.create_subscription(Float64MultiArray, "/observation", on_obs, qos_profile("sensor_data", 10))
    probe.node.create_subscription(Float64, "/sim_bridge/episode_return", on_return, result_qos())
    t0 = time.monotonic()
    try:
        probe.spin_until(
            lambda: not bridge.alive(), 120 + len(u) * u.shape[1] * period * 3, "the bridge's episodes"
        )
        probe.spin_for(1.0)
    finally:
        probe.close()
        rclpy.try_shutdown()
        bridge.stop()
        recorder.stop(signal.SIGINT)
    return {
        "episodes_seen": state["episode"],
        "wall_s": time.monotonic() - t0,
        "recorder_log": recorder.log()[-600:],
    }


def train(scenario, train_data, heldout, run_dir: Path, updates: int):
    from rnn_control.train.dynamics.trainer import DynamicsTrainer

    trainer = DynamicsTrainer(
        scenario, run_dir, data=(train_data, heldout), progress=False, tensorboard=False, resume=False
    )
    trainer.cfg.total_updates = updates
    trainer.train()
    return trainer.model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--period", type=float, default=0.01, help="the bridge's wall-clock tick (s)")
    ap.add_argument("--updates", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--train-seeds", type=int, default=3, help="models trained per data set (seeds 0..N-1)")
    ap.add_argument("--out", default="", help="keep the bag here (default: a temporary folder)")
    ap.add_argument(
        "--max-gap",
        type=float,
        default=10.0,
        help="periods between observations that split an episode (a late tick of the bridge "
        "delays a step; it does not lose one)",
    )
    ap.add_argument(
        "--resample",
        choices=("reference", "grid"),
        default="reference",
        help="reference: one step per observation message; grid: every --period seconds",
    )
    args = ap.parse_args()

    from rnn_control.bags import load_bags
    from rnn_control.config import from_dict
    from rnn_control.scenario import load_scenario
    from rnn_control.scenario.bag import BagConfig
    from rnn_control.train.common.bag_data import to_dataset
    from rnn_control.train.dynamics.open_loop import evaluate_open_loop

    if "ROS_DOMAIN_ID" not in os.environ:
        from rnn_control.demo.ros_domain import pick_free_domain

        os.environ["ROS_DOMAIN_ID"] = str(pick_free_domain())
    scenario = load_scenario("pendulum_monitor")
    steps = int(scenario.env.max_episode_steps or 200)
    u = torques(args.episodes, steps, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bag = Path(args.out) if args.out else tmp / "loop_bag"
        rec = record(u, args.seed, args.period, bag, tmp)
        section = from_dict(
            BagConfig,
            {
                "time_base": "log_time",
                "period": args.period,
                "episode_topic": "/sim_bridge/episode_return",
                "heldout_fraction": 0.25,
                "min_episode_steps": 50,
                "resample": args.resample,
                "max_gap": args.max_gap,
                "observation": [{"topic": "/observation", "field": f"vector/{i}"} for i in range(3)],
                "action": [{"topic": "/command", "field": "vector/0", "low": -2.0, "high": 2.0}],
            },
            "bag",
        )
        data = load_bags([bag], section)
        print("\n".join(data.report.lines()))
        from rnn_control.bags import Episode

        bag_eps = data.train + data.heldout
        n_bag = len(bag_eps)
        # the same episodes in process (each cut to the 199 steps the bridge publishes: it never
        # sends the observation after an episode's last step), split by episode as the bag is by
        # time: its held-out quarter is the last quarter of the episodes
        ref = in_process(scenario, u, args.seed, steps)
        ref_eps = [ref.episode(i) for i in range(ref.num_episodes)]
        ref_eps = [Episode(o[:steps], a[: steps - 1], np.arange(steps) * 0.05) for o, a in ref_eps]
        n_held = round(len(ref_eps) * 0.25)
        ref_train, ref_held = to_dataset(ref_eps[:-n_held]), to_dataset(ref_eps[-n_held:])
        # how much of the bag is exactly the in-process rollout (a command that reached the bridge
        # after its tick was applied one step late there: the trajectories part)
        where = {tuple(np.round(o, 6)): (e, k) for e, ep in enumerate(ref_eps) for k, o in enumerate(ep.obs)}
        same = 0
        for b in bag_eps:
            hit = where.get(tuple(np.round(b.obs[0], 6)))
            if hit is not None:
                e, k = hit
                o = ref_eps[e].obs[k:]
                n = min(len(o), len(b.obs))
                bad = np.flatnonzero(np.abs(b.obs[:n] - o[:n]).max(1) > 1e-5)
                same += int(bad[0]) if len(bad) else n
        length = int(np.median([e.steps for e in bag_eps]))
        bag_train, bag_held = to_dataset(data.train), to_dataset(data.heldout)
        horizons = [10, 50, 100]
        runs: dict[str, list] = {"trained on the bag": [], "trained in process": []}
        for seed in range(args.train_seeds):  # training seeds: the spread says what a difference means
            sc = load_scenario("pendulum_monitor", {"seed": seed})
            for name, (tr, he) in (
                ("trained on the bag", (bag_train, bag_held)),
                ("trained in process", (ref_train, ref_held)),
            ):
                model = train(sc, tr, he, tmp / f"{name[11:14]}{seed}", args.updates)
                runs[name].append(
                    {
                        "in-process held-out": evaluate_open_loop(model, ref_held, horizons, 32).rmse,
                        "bag held-out": evaluate_open_loop(model, bag_held, horizons, 32).rmse,
                    }
                )
        rows = {
            n: {w: {h: float(np.mean([r[w][h] for r in rs])) for h in horizons} for w in rs[0]}
            for n, rs in runs.items()
        }
        spread = {
            n: {h: float(np.std([r["in-process held-out"][h] for r in rs])) for h in horizons}
            for n, rs in runs.items()
        }
        print(
            f"\nDDS loop: {args.episodes} episodes at {1 / args.period:.0f} Hz wall, {rec['wall_s']:.0f} s; "
            f"bag episodes {n_bag} ({len(data.train)} train / {len(data.heldout)} held out), "
            f"median {length} steps, "
            f"resample {args.resample}"
        )
        total = sum(len(e.obs) for e in bag_eps)
        print(
            f"bag observations identical to the in-process rollout (1e-5): {same}/{total} "
            f"({same / total:.0%})"
        )
        print(
            f"\nmean over {args.train_seeds} training seeds (std on the in-process held-out: "
            + "; ".join(f"{n}: " + ", ".join(f"{spread[n][h]:.3f}" for h in horizons) for n in spread)
            + ")"
        )
        print("\n| model | evaluated on | nRMSE 10 | nRMSE 50 | nRMSE 100 |")
        print("|---|---|---|---|---|")
        for name, r in rows.items():
            for where, rmse in r.items():
                print(f"| {name} | {where} | " + " | ".join(f"{rmse[h]:.4f}" for h in horizons) + " |")
        ratio = {
            h: rows["trained on the bag"]["in-process held-out"][h]
            / rows["trained in process"]["in-process held-out"][h]
            for h in horizons
        }
        print(
            "\nbag-trained / in-process-trained error on the in-process held-out episodes: "
            + ", ".join(f"{h} steps {ratio[h]:.3f}" for h in horizons)
            + " (goal <= 1.10)"
        )
        print(json.dumps({"ratio": ratio, "rows": rows, "runs": runs}))


if __name__ == "__main__":
    main()
