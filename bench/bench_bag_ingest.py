"""Ingest speed of :func:`rnn_control.bags.load_bags` against rosbags' bare iteration over the
same bag, in the same run, each in a fresh process (so each peak RSS is its own).

The bag: a robot log written with rosbags (MCAP, zstd chunks by default): ``/joint_states``
(sensor_msgs/JointState, 12 joints, position+velocity+effort) at 500 Hz and
``/effort_controller/commands`` (Float64MultiArray, 12 elements) at 100 Hz, for ``--minutes``.

- bare: ``Reader.messages()`` + ``typestore.deserialize_cdr`` of every message of both topics
  (the least any reader built on rosbags must do);
- ours: ``load_bags`` with a ``bag:`` section mapping the 12 positions and velocities and the 12
  commands, resampled to 100 Hz (decode, extract, clean, align, cut episodes, split).

    PYTHONPATH=. python bench/bench_bag_ingest.py                 # 20 minutes of log (~720k messages)
    PYTHONPATH=. python bench/bench_bag_ingest.py --minutes 2     # quick look
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JOINTS = [f"j{i}" for i in range(12)]


def write(path: Path, minutes: float, compression: str) -> dict:
    from rnn_control.bags.writer import BagWriter, header

    t0 = 1_700_000_000 * 10**9
    n = int(minutes * 60 * 500)
    rng = np.random.default_rng(0)
    with BagWriter(path, compression=compression) as bag:
        ts = bag.typestore
        js = bag.topic("/joint_states", "sensor_msgs/msg/JointState")
        cmd = bag.topic("/effort_controller/commands", "std_msgs/msg/Float64MultiArray")
        layout = ts.types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
        for i in range(n):
            t = t0 + i * 2_000_000
            q = np.sin(i * 0.002 + np.arange(12)) + rng.normal(0, 1e-3, 12)
            msg = bag.message(
                "sensor_msgs/msg/JointState",
                header=header(ts, t),
                name=JOINTS,
                position=q,
                velocity=np.cos(i * 0.002 + np.arange(12)),
                effort=rng.normal(size=12),
            )
            bag.write(js, t + 300_000, msg)
            if i % 5 == 0:
                u = bag.message("std_msgs/msg/Float64MultiArray", layout=layout, data=rng.normal(size=12))
                bag.write(cmd, t + 1_000_000, u)
    size = sum(f.stat().st_size for f in path.iterdir())
    return {"messages": n + n // 5 + (1 if n % 5 else 0), "bytes": size}


def bare(path: str) -> dict:
    from rosbags.rosbag2 import Reader

    from rnn_control.bags.source import Recording

    t = time.perf_counter()
    with Recording(path) as rec:  # only to get the embedded types registered the same way
        rec.register(set(rec.topics.values()))
        decode = rec._decoders
    n = 0
    with Reader(path) as reader:
        for conn, _, raw in reader.messages():
            decode[conn.msgtype](raw, conn.msgtype)
            n += 1
    return {"messages": n, "seconds": time.perf_counter() - t}


def ours(path: str) -> dict:
    from rnn_control.bags import load_bags
    from rnn_control.config import from_dict
    from rnn_control.scenario.bag import BagConfig

    cfg = from_dict(
        BagConfig,
        {
            "period": 0.01,
            "heldout_fraction": 0.2,
            "observation": [
                {"topic": "/joint_states", "field": f"joint_state/{k}/{j}"}
                for k in ("position", "velocity")
                for j in JOINTS
            ],
            "action": [
                {"topic": "/effort_controller/commands", "field": f"joint/{j}", "joints": JOINTS}
                for j in JOINTS
            ],
        },
        "bag",
    )
    t = time.perf_counter()
    data = load_bags([path], cfg)
    seconds = time.perf_counter() - t
    steps = sum(e.steps for e in data.train + data.heldout)
    return {
        "messages": sum(s.messages for s in data.report.topics.values()),
        "seconds": seconds,
        "steps": steps,
        "episodes": data.report.episodes,
    }


def child(kind: str, path: str) -> None:
    out = bare(path) if kind == "bare" else ours(path)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--compression", choices=("none", "zstd"), default="zstd")
    ap.add_argument("--repeat", type=int, default=2, help="alternating runs of each; the best is reported")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "robot_log"
        t = time.perf_counter()
        info = write(path, args.minutes, args.compression)
        print(
            f"wrote {info['messages']} messages, {info['bytes'] / 1e6:.1f} MB ({args.compression}) "
            f"in {time.perf_counter() - t:.0f} s"
        )
        runs: dict[str, list[dict]] = {"bare": [], "ours": []}
        for _ in range(args.repeat):
            for kind in ("bare", "ours"):
                done = subprocess.run(
                    [sys.executable, __file__, "--child", kind, str(path)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[kind].append(json.loads(done.stdout.strip().splitlines()[-1]))
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
        mb = info["bytes"] / 1e6
        print("| reader | messages | s | messages/s | MB/s | peak RSS MB |")
        print("|---|---|---|---|---|---|")
        for kind, r in best.items():
            print(
                f"| {kind} | {r['messages']} | {r['seconds']:.2f} | {r['messages'] / r['seconds']:,.0f} | "
                f"{mb / r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |"
            )
        print(
            f"ours / bare speed: {best['bare']['seconds'] / best['ours']['seconds']:.2f}x (goal >= 0.5x); "
            f"{best['ours']['episodes']} episodes, {best['ours']['steps']} steps at 100 Hz"
        )


if __name__ == "__main__":
    main()
