"""Per-step latency of the runtime against PyTorch eager, a plain ``session.run`` loop and a
hand-written numpy cell step (the floor for Python-level overhead), plus fp16/int8 parity and
speed on CPU. All baselines are measured in the same process, interleaved in rounds.

    PYTHONPATH=. python bench/bench_runtime.py                 # GRU/LSTM x hidden 64/256
    PYTHONPATH=. python bench/bench_runtime.py --steps 2000    # quick look

The model is a random-weight stand-in following the policy inference contract (normaliser ->
recurrent core -> linear head; tests/bundles.py): latency depends on shapes, not on training.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rnn_control.export.onnx_graph import save_model, set_metadata
from rnn_control.export.parity import Rollout, replay_parity
from rnn_control.export.variants import to_fp16, to_int8
from rnn_control.runtime import Controller, Stepper, read_bundle_metadata
from rnn_control.runtime.session import session_options
from tests.bundles import TinyPolicy, make_policy_bundle


def sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


class NumpyCell:
    """Hand-written numpy step of the same model (normaliser, 1-layer GRU or LSTM, linear head),
    with preallocated buffers: the least Python work a step can do."""

    def __init__(self, model: TinyPolicy) -> None:
        sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
        self.lstm = model.core.cell == "lstm"
        self.mean = sd["normalizer.mean"]
        self.inv_std = (1.0 / np.sqrt(sd["normalizer.var"] + model.normalizer.eps)).astype(np.float32)
        self.clip = model.normalizer.clip
        self.w_ih, self.w_hh = sd["core.rnn.weight_ih_l0"], sd["core.rnn.weight_hh_l0"]
        self.b_ih, self.b_hh = sd["core.rnn.bias_ih_l0"], sd["core.rnn.bias_hh_l0"]
        self.w_out, self.b_out = sd["head.weight"], sd["head.bias"]
        H = model.core.hidden_size
        self.H = H
        self.h = np.zeros(H, np.float32)
        self.c = np.zeros(H, np.float32)
        self.x = np.zeros(self.mean.shape, np.float32)
        self.gi = np.zeros(self.w_ih.shape[0], np.float32)
        self.gh = np.zeros(self.w_hh.shape[0], np.float32)
        self.tmp = np.zeros(self.w_ih.shape[0], np.float32)
        self.out = np.zeros(self.b_out.shape, np.float32)

    def step(self, obs: np.ndarray) -> np.ndarray:
        x, H = self.x, self.H
        np.subtract(obs, self.mean, out=x)
        x *= self.inv_std
        np.clip(x, -self.clip, self.clip, out=x)
        np.dot(self.w_ih, x, out=self.gi)
        self.gi += self.b_ih
        np.dot(self.w_hh, self.h, out=self.gh)
        self.gh += self.b_hh
        if self.lstm:  # gates i, f, g, o
            g = self.gi
            g += self.gh
            sigmoid(g, self.tmp)
            i, f, o = self.tmp[:H], self.tmp[H : 2 * H], self.tmp[3 * H :]
            gg = np.tanh(g[2 * H : 3 * H])
            self.c *= f
            self.c += i * gg
            np.multiply(o, np.tanh(self.c), out=self.h)
        else:  # gates r, z, n
            s = self.tmp[: 2 * H]
            np.add(self.gi[: 2 * H], self.gh[: 2 * H], out=s)
            sigmoid(s, s)
            r, z = s[:H], s[H:]
            n = self.gi[2 * H :]
            n += r * self.gh[2 * H :]
            np.tanh(n, out=n)
            self.h -= n
            self.h *= z
            self.h += n
        np.dot(self.w_out, self.h, out=self.out)
        self.out += self.b_out
        return self.out


def time_steps(step, observations: np.ndarray, steps: int) -> np.ndarray:
    clock = time.perf_counter_ns
    out = np.empty(steps, np.int64)
    n = len(observations)
    for i in range(steps):
        x = observations[i % n]
        t0 = clock()
        step(x)
        out[i] = clock() - t0
    return out


def stats(ns: np.ndarray) -> dict[str, float]:
    us = ns / 1e3
    return {"p50": float(np.percentile(us, 50)), "p99": float(np.percentile(us, 99)), "max": float(us.max())}


def contenders(path: Path, model: TinyPolicy) -> dict[str, object]:
    """name -> step callable, each carrying its own recurrent state."""
    policy = Stepper.load(path, providers="cpu")
    controller = Controller(Stepper.load(path, providers="cpu"))
    sess = ort.InferenceSession(str(path), session_options(1), providers=["CPUExecutionProvider"])
    lstm = model.core.cell == "lstm"
    zeros = policy.state
    feed = {"h_in": zeros[0].copy()}
    if lstm:
        feed["c_in"] = zeros[1].copy()

    def session_run(x):
        feed["obs"] = x.reshape(1, -1)
        out = sess.run(None, feed)
        feed["h_in"] = out[1]
        if lstm:
            feed["c_in"] = out[2]
        return out[0]

    state = [model.core.initial_state(1)]

    def torch_eager(x):
        with torch.no_grad():
            a, state[0] = model.act_inference(torch.from_numpy(x).view(1, -1), state[0])
        return a

    return {
        "runtime Stepper.step": policy.step,
        "runtime Controller.step": controller.step,
        "plain session.run": session_run,
        "numpy floor": NumpyCell(model).step,
        "PyTorch eager": torch_eager,
    }


def bench_config(
    cell: str, hidden: int, obs_dim: int, act_dim: int, steps: int, rounds: int, tmp: Path
) -> dict:
    path, model = make_policy_bundle(
        tmp,
        cell=cell,
        hidden=hidden,
        obs_dim=obs_dim,
        act_dim=act_dim,
        name=f"{cell}{hidden}",
        return_model=True,
    )
    rng = np.random.default_rng(0)
    observations = rng.normal(0, 1, (1000, obs_dim)).astype(np.float32)
    steppers = contenders(path, model)
    # sanity: all contenders compute the same thing
    ref = steppers["PyTorch eager"](observations[0]).numpy().reshape(-1)
    for name in ("runtime Stepper.step", "plain session.run", "numpy floor"):
        got = np.asarray(steppers[name](observations[0])).reshape(-1)
        assert np.abs(got - ref).max() < 1e-4, (name, got, ref)
    samples: dict[str, list[np.ndarray]] = {k: [] for k in steppers}
    for step in steppers.values():  # warm-up
        time_steps(step, observations, 300)
    per_round = steps // rounds
    for _ in range(rounds):  # interleaved rounds: machine load hits every contender alike
        for name, step in steppers.items():
            samples[name].append(time_steps(step, observations, per_round))
    res = {name: stats(np.concatenate(v)) for name, v in samples.items()}
    return {"cell": cell, "hidden": hidden, "path": str(path), "latency": res, "model": model}


def bench_variants(path: Path, steps: int, rounds: int, tmp: Path) -> dict:
    import onnx

    meta = read_bundle_metadata(path)
    proto = onnx.load(str(path))
    rng = np.random.default_rng(1)
    rollout = Rollout(
        inputs=[rng.normal(0, 1, meta.obs_dim).astype(np.float32) for _ in range(1000)],
        resets=[500],
        dts=[meta.control_period] * 1000,
    )
    out = {}
    paths = {"fp32": path}
    for name, convert in (("fp16", to_fp16), ("int8", to_int8)):
        var = convert(proto)
        set_metadata(var, meta)
        paths[name] = save_model(var, tmp / f"{path.stem}.{name}.onnx")
    policies = {k: Stepper.load(p, providers="cpu") for k, p in paths.items()}
    observations = np.stack(rollout.inputs)
    samples: dict[str, list[np.ndarray]] = {k: [] for k in policies}
    for p in policies.values():
        time_steps(p.step, observations, 300)
    for _ in range(rounds):
        for k, p in policies.items():
            samples[k].append(time_steps(p.step, observations, steps // rounds))
    for k in policies:
        out[k] = {
            "size_kib": paths[k].stat().st_size / 1024,
            "latency": stats(np.concatenate(samples[k])),
            "parity_vs_fp32": None if k == "fp32" else replay_parity(paths["fp32"], paths[k], rollout),
        }
    return out


def export_parity_table(cells: list[str], hidden: int, tmp: Path) -> None:
    """``rnn-control export --fp16 --int8`` of an (untrained) RecurrentActorCritic for each cell on
    pendulum_novel: parity figures as stored in the bundles, and the export time."""
    from rnn_control.envs import make_env
    from rnn_control.export.exporter import ExportOptions, export_checkpoint
    from rnn_control.scenario import load_scenario
    from rnn_control.train.common.checkpoint import save_checkpoint
    from rnn_control.train.policy.setup import build_policy, checkpoint_payload, describe_spaces

    print(f"\n### Export parity (RecurrentActorCritic hidden {hidden}, pendulum_novel, 1000 steps)\n")
    print(
        "| cell | torch vs ORT output | state | episodes | fp16 vs fp32 | int8 vs fp32 "
        "| KiB fp32/fp16/int8 | export s |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for cell in cells:
        sc = load_scenario("pendulum_novel", {"model": {"cell": cell, "hidden_size": hidden}})
        env = make_env(sc.env, seed=0)
        spaces = describe_spaces(env.observation_space, env.action_space)
        model, name, kwargs = build_policy(sc, spaces)
        with torch.no_grad():  # untrained weights, but a non-trivial normaliser and actor head
            model.normalizer.update(torch.randn(256, spaces["observation"]["shape"][0]) * 0.7 + 0.2)
            for p in model.actor_head.parameters():
                p.normal_(0, 0.5)
        ckpt = save_checkpoint(
            tmp / f"{cell}.pt", checkpoint_payload(sc, model, name, kwargs, spaces, env, 0)
        )
        env.close()
        t0 = time.perf_counter()
        res = export_checkpoint(ckpt, tmp / f"{cell}.onnx", ExportOptions(fp16=True, int8=True))
        seconds = time.perf_counter() - t0
        p = res.metadata.parity["torch_vs_onnxruntime"]
        f16, i8 = res.variant_parity["fp16"], res.variant_parity["int8"]
        sizes = "/".join(f"{q.stat().st_size / 1024:.0f}" for q in (res.path, *res.variants.values()))
        print(
            f"| {cell} | {p['max_abs_diff_output']:.1e} | {p['max_abs_diff_state']:.1e} | {p['episodes']} | "
            f"{f16['max_abs_diff_output']:.1e} | {i8['max_abs_diff_output']:.1e} | {sizes} | {seconds:.1f} |"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10000, help="timed steps per contender (default 10000)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--obs-dim", type=int, default=8)
    ap.add_argument("--act-dim", type=int, default=2)
    ap.add_argument("--configs", default="gru:64,lstm:64,gru:256,lstm:256")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    ap.add_argument("--export-parity", action="store_true", help="also export every cell and report parity")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(
        f"onnxruntime {ort.__version__}, torch {torch.__version__}, numpy {np.__version__}; "
        f"obs {args.obs_dim} -> act {args.act_dim}, 1 layer, {args.steps} steps per contender, batch 1, "
        f"1 thread everywhere"
    )
    results = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for item in args.configs.split(","):
            cell, hidden = item.split(":")
            r = bench_config(cell, int(hidden), args.obs_dim, args.act_dim, args.steps, args.rounds, tmp)
            lat = r["latency"]
            floor, eager, rt = (
                lat["numpy floor"]["p50"],
                lat["PyTorch eager"]["p50"],
                lat["runtime Stepper.step"],
            )
            print(f"\n### {cell.upper()} hidden {hidden}\n")
            print("| contender | p50 us | p99 us | max us | p99/p50 | p50 / numpy floor | vs PyTorch |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for name, s in lat.items():
                p50, p99 = s["p50"], s["p99"]
                print(
                    f"| {name} | {p50:.1f} | {p99:.1f} | {s['max']:.0f} | {p99 / p50:.2f} | "
                    f"{p50 / floor:.2f}x | {eager / p50:.1f}x faster |"
                )
            goals = {
                "p50 <= numpy floor": rt["p50"] <= floor,
                ">= 5x faster than PyTorch eager": eager / rt["p50"] >= 5,
                "p99 within 2x of p50": rt["p99"] <= 2 * rt["p50"],
                "Controller.step <= 2x Stepper.step (p50)": lat["runtime Controller.step"]["p50"]
                <= 2 * rt["p50"],
            }
            ctl_ratio = lat["runtime Controller.step"]["p50"] / rt["p50"]
            print(f"\nController.step / Stepper.step at p50: {ctl_ratio:.2f}x (IO spec + safety filter)")
            print("\ngoals: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in goals.items()))
            var = bench_variants(Path(r["path"]), args.steps, args.rounds, tmp)
            print(
                f"\nPrecision variants ({cell.upper()} {hidden}, CPU, replay of 1000 random observations):\n"
            )
            print("| bundle | size KiB | p50 us | p99 us | max abs diff vs fp32 (output / state) |")
            print("|---|---:|---:|---:|---|")
            for k, v in var.items():
                par = v["parity_vs_fp32"]
                diff = (
                    "-"
                    if par is None
                    else f"{par['max_abs_diff_output']:.1e} / {par['max_abs_diff_state']:.1e}"
                )
                lat_k = v["latency"]
                print(f"| {k} | {v['size_kib']:.0f} | {lat_k['p50']:.1f} | {lat_k['p99']:.1f} | {diff} |")
            r.pop("model")
            results.append({**r, "goals": goals, "variants": var})
        if args.export_parity:
            export_parity_table(["gru", "lstm", "rnn", "tgru"], 64, tmp)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
