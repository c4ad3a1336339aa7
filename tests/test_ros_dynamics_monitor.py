"""The dynamics monitor as a real process: its predictions match the runtime's, a world that behaves
as predicted keeps /diagnostics OK, and a persistent surprise (a "changed payload") raises ERROR."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("rclpy")

import rclpy
from std_msgs.msg import Float64, Float64MultiArray
from std_srvs.srv import Trigger

from rnn_control.ros.common import qos_profile
from rnn_control.runtime import Stepper
from tests.bundles import make_dynamics_bundle
from tests.ros_support import NodeProcess, Probe, wait_inputs_matched

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]
RELIABLE = qos_profile("reliable", 100)
# the probe publishes readings as fast as it goes, not at the bundle's control period: no interval
# is a lost reading (the gap test sets its own)
PROBE_PACED = {"gap_factor": 0.0}


def _wait_for_the_monitor(probe, proc, obs_pub, cmd_pub, output_topic: str) -> None:
    """Until the monitor process subscribes to both inputs and publishes ``output_topic``."""
    probe.spin_until(
        lambda: (obs_pub.get_subscription_count() > 0 and cmd_pub.get_subscription_count() > 0
        and probe.node.count_publishers(output_topic) > 0) or not proc.alive(),
        20, "the monitor",
    )  # fmt: skip
    assert proc.alive(), proc.log()
    wait_inputs_matched(probe, output_topic.rsplit("/", 1)[0], ("vector", "command"))


@contextmanager
def _monitor_over_dds(tmp_path, ns: str, params: dict):
    """A monitor process in namespace ``ns`` and a probe with reliable observation and command
    publishers, the scored errors and /diagnostics: ``(probe, send_reading, send_command, errors)``,
    each send spinning 10 ms. The monitor must exit cleanly."""
    proc = NodeProcess("dynamics_monitor_node", {"sensor_qos": "reliable", "diagnostics_period": 0.1,
                                                 **params}, tmp_path, namespace=ns)  # fmt: skip
    rclpy.init()
    probe = Probe(f"{ns.strip('/')}_probe")
    probe.watch_diagnostics()
    pubs = [probe.node.create_publisher(Float64MultiArray, f"{ns}/{topic}", RELIABLE)
            for topic in ("observation", "command")]  # fmt: skip
    errors = probe.collect(Float64, f"{ns}/dynamics_monitor/prediction_error", RELIABLE)

    def sender(pub):
        def send(data) -> None:
            pub.publish(Float64MultiArray(data=[float(v) for v in data]))
            probe.spin_for(0.01)

        return send

    try:
        _wait_for_the_monitor(probe, proc, *pubs, f"{ns}/dynamics_monitor/prediction_error")
        yield probe, sender(pubs[0]), sender(pubs[1]), errors
    finally:
        probe.close()
        rclpy.try_shutdown()
        assert proc.stop() == 0, proc.log()


def test_monitor_predicts_and_flags_persistent_errors(tmp_path):
    bundle = make_dynamics_bundle(tmp_path, obs_dim=3, act_dim=1)
    # command_margin 0: this loop publishes faster than any robot, so a command may be within the
    # default 5 ms of the next reading, and the monitor would (rightly) try the one before it too
    params = {"bundle": bundle, **PROBE_PACED, "sensor_qos": "reliable", "error_window": 5,
              "error_threshold": 3.0, "diagnostics_period": 0.1, "command_margin": 0.0}  # fmt: skip
    proc = NodeProcess("dynamics_monitor_node", params, tmp_path, namespace="/dyn")
    rclpy.init()
    probe = Probe("dyn_probe")
    probe.watch_diagnostics()
    obs_pub = probe.node.create_publisher(Float64MultiArray, "/dyn/observation", RELIABLE)
    cmd_pub = probe.node.create_publisher(Float64MultiArray, "/dyn/command", RELIABLE)
    predictions = probe.collect(Float64MultiArray, "/dyn/dynamics_monitor/prediction", RELIABLE)
    errors = probe.collect(Float64, "/dyn/dynamics_monitor/prediction_error", RELIABLE)
    try:
        _wait_for_the_monitor(probe, proc, obs_pub, cmd_pub, "/dyn/dynamics_monitor/prediction")
        reference = Stepper.load(bundle)
        rng = np.random.default_rng(0)
        obs = rng.normal(size=3)

        def run(steps: int, surprise: float) -> None:
            nonlocal obs
            for _ in range(steps):
                n = len(predictions)
                command = rng.normal(size=1)
                obs_pub.publish(Float64MultiArray(data=obs.tolist()))
                cmd_pub.publish(Float64MultiArray(data=command.tolist()))
                probe.spin_until(lambda n=n: len(predictions) > n, 5, "a prediction")
                mean = np.asarray(
                    reference.step(np.concatenate([obs, command]).astype(np.float32)), dtype=float
                )
                std = np.asarray(reference.last_std, dtype=float)
                got = np.asarray(predictions[-1].data)
                np.testing.assert_allclose(got[:3], mean, atol=1e-4)
                np.testing.assert_allclose(got[3:], std, atol=1e-4)
                obs = mean + surprise * std  # the next reading: as predicted, or many std off

        run(12, surprise=0.0)
        probe.spin_for(0.4)
        assert max(e.data for e in errors) < 1e-3
        assert probe.level("/dyn/dynamics_monitor") == 0
        run(12, surprise=20.0)
        probe.spin_until(lambda: probe.level("/dyn/dynamics_monitor") == 2, 5, "an ERROR diagnostic")
        assert errors[-1].data == pytest.approx(20.0, rel=1e-3)
        assert int(probe.diag("/dyn/dynamics_monitor")["anomaly_events"]) >= 1
        assert "persistent prediction error" in proc.log()
    finally:
        probe.close()
        rclpy.try_shutdown()
        assert proc.stop() == 0, proc.log()


def test_a_late_command_is_paired_with_the_command_the_robot_held(tmp_path):
    """Every third answer comes after the next reading (it missed the robot's tick, so the robot
    held the previous command over that step): the monitor steps with the held command, and a world
    that follows the model exactly scores no error. Pairing each reading with its own answer instead
    (what the robot did not do) would score the late steps far off."""
    bundle = make_dynamics_bundle(tmp_path, obs_dim=3, act_dim=1)
    params = {"bundle": bundle, **PROBE_PACED, "sensor_qos": "reliable", "command_margin": 0.0,
              "diagnostics_period": 0.1}
    proc = NodeProcess("dynamics_monitor_node", params, tmp_path, namespace="/late")
    rclpy.init()
    probe = Probe("late_probe")
    probe.watch_diagnostics()
    obs_pub = probe.node.create_publisher(Float64MultiArray, "/late/observation", RELIABLE)
    cmd_pub = probe.node.create_publisher(Float64MultiArray, "/late/command", RELIABLE)
    error_topic = "/late/dynamics_monitor/prediction_error"
    errors = probe.collect(Float64, error_topic, RELIABLE)
    try:
        _wait_for_the_monitor(probe, proc, obs_pub, cmd_pub, error_topic)
        world, wrong = Stepper.load(bundle), Stepper.load(bundle)
        rng = np.random.default_rng(1)
        obs, held, late, gaps = rng.normal(size=3), None, 0, []

        def send(pub, data, pause: float = 0.01):
            pub.publish(Float64MultiArray(data=[float(v) for v in data]))
            probe.spin_for(pause)


        send(obs_pub, obs)
        for k in range(24):
            answer = rng.normal(size=1) * 4.0
            on_time = k % 3 != 2
            if on_time:  # the next reading follows at once: the monitor takes the command after it
                send(cmd_pub, answer, pause=0.0)  # was published, so only publish times order them
            applied = answer if on_time or held is None else held
            state = world.state
            nxt = np.asarray(world.step(np.concatenate([obs, applied]).astype(np.float32)), dtype=float)
            if not on_time and held is not None:  # what pairing the reading with its own answer predicts
                wrong.set_state(state)
                alt = np.asarray(wrong.step(np.concatenate([obs, answer]).astype(np.float32)), dtype=float)
                gaps.append(float(np.sqrt(np.mean(((nxt - alt) / np.asarray(wrong.last_std)) ** 2))))
                late += 1
            obs, held = nxt, applied
            send(obs_pub, obs)
            if not on_time:
                send(cmd_pub, answer)  # after the reading it should have come before
                held = answer  # the robot applies it from the next tick on
        send(cmd_pub, rng.normal(size=1))  # settles the last interval
        probe.spin_until(lambda: len(errors) >= 24, 5, "24 scored predictions")
        assert min(gaps) > 0.005, gaps  # the wrong pairing would be visible
        probe.spin_for(0.3)
        got = probe.diag("/late/dynamics_monitor") or {}
        assert max(e.data for e in errors) < 1e-4, ([e.data for e in errors], got)
        probe.spin_until(
            lambda: int((probe.diag("/late/dynamics_monitor") or {}).get("late_commands", -1)) == late, 5,
            "the late commands on /diagnostics",
        )
    finally:
        probe.close()
        rclpy.try_shutdown()
        assert proc.stop() == 0, proc.log()


def test_a_reset_starts_the_next_episode_from_the_zero_state_and_scores_no_jump(tmp_path):
    """The sim bridge calls ``~/reset`` between episodes: the jump from one episode's last reading
    to the next one's first is not scored, nor a reading still pending from before the reset, and
    the model starts again from the zero state, as a world that follows it exactly does. Without
    the reset the jump scores a large error and the state carries over."""
    bundle = make_dynamics_bundle(tmp_path, obs_dim=3, act_dim=1)
    rng = np.random.default_rng(3)
    with _monitor_over_dds(tmp_path, "/ep", {"bundle": bundle, **PROBE_PACED, "command_margin": 0.0}) as (
        probe, send_reading, send_command, errors,
    ):  # fmt: skip

        def episode(world: Stepper, steps: int) -> None:
            """``steps`` readings of a world that follows the model, each answered: ``steps - 1`` scored."""
            obs = rng.normal(size=3)
            for _ in range(steps):
                send_reading(obs)
                command = rng.normal(size=1)
                send_command(command)
                obs = np.asarray(world.step(np.concatenate([obs, command]).astype(np.float32)), dtype=float)

        world = Stepper.load(bundle)
        episode(world, 10)
        probe.spin_until(lambda: len(errors) >= 9, 5, "the first episode's 9 scored predictions")
        send_reading(rng.normal(size=3) * 50)  # still pending (unanswered) when the reset comes
        assert probe.call(Trigger, "/ep/dynamics_monitor/reset").success
        world.reset()
        episode(world, 10)
        probe.spin_until(lambda: len(errors) >= 18, 5, "the second episode's 9 scored predictions")
        probe.spin_for(0.3)
        assert len(errors) == 18, [e.data for e in errors]  # nothing scored across the reset
        assert max(e.data for e in errors) < 1e-4, [e.data for e in errors]
        resets = lambda: (probe.diag("/ep/dynamics_monitor") or {}).get("resets")  # noqa: E731
        probe.spin_until(lambda: resets() == "1", 5, "resets: 1 on /diagnostics")


def test_a_lost_reading_is_stepped_over_and_not_scored(tmp_path):
    """A reading lost on a best-effort link leaves an interval of two control periods, over which
    the robot held its command: the monitor steps over it (``gaps``) instead of scoring a one-step
    prediction against two steps of motion, which would look like a fault."""
    bundle = make_dynamics_bundle(tmp_path, obs_dim=3, act_dim=1, control_period=0.2)  # a gap: > 0.36 s
    rng = np.random.default_rng(4)
    with _monitor_over_dds(tmp_path, "/gap", {"bundle": bundle, "command_margin": 0.0}) as (
        probe, send_reading, send_command, errors,
    ):  # fmt: skip
        world = Stepper.load(bundle)
        step = lambda o, c: np.asarray(world.step(np.concatenate([o, c]).astype(np.float32)), dtype=float)  # noqa: E731
        obs = rng.normal(size=3)
        send_reading(obs)
        for k in range(10):  # 11 readings, 10 intervals, one of them two periods long
            command = rng.normal(size=1)
            send_command(command)
            nxt = step(obs, command)
            if k == 4:  # this reading is lost: the robot holds the command over a second period
                one_step, std = nxt, np.asarray(world.last_std)
                nxt = step(nxt, command)
                scored_as_one_step = float(np.sqrt(np.mean(((nxt - one_step) / std) ** 2)))
                probe.spin_for(0.6)
            obs = nxt
            send_reading(obs)
        send_command(rng.normal(size=1))  # settles the last interval
        probe.spin_until(lambda: len(errors) >= 9, 5, "9 scored predictions")
        probe.spin_for(0.3)
        assert len(errors) == 9, [e.data for e in errors]  # not the gap
        assert max(e.data for e in errors[:4]) < 1e-4, [e.data for e in errors]
        assert scored_as_one_step > 0.05  # what scoring the gap would have added
        gaps = lambda: (probe.diag("/gap/dynamics_monitor") or {}).get("gaps")  # noqa: E731
        probe.spin_until(lambda: gaps() == "1", 5, "gaps: 1 on /diagnostics")


def test_step_on_sensor_predicts_from_each_reading_and_the_command_held_then(tmp_path):
    bundle = make_dynamics_bundle(tmp_path, obs_dim=3, act_dim=1)
    params = {"bundle": bundle, "sensor_qos": "reliable", "step_on": "sensor", "diagnostics_period": 0.1}
    proc = NodeProcess("dynamics_monitor_node", params, tmp_path, namespace="/sens")
    rclpy.init()
    probe = Probe("sens_probe")
    obs_pub = probe.node.create_publisher(Float64MultiArray, "/sens/observation", RELIABLE)
    cmd_pub = probe.node.create_publisher(Float64MultiArray, "/sens/command", RELIABLE)
    predictions = probe.collect(Float64MultiArray, "/sens/dynamics_monitor/prediction", RELIABLE)
    try:
        _wait_for_the_monitor(probe, proc, obs_pub, cmd_pub, "/sens/dynamics_monitor/prediction")
        reference = Stepper.load(bundle)
        rng = np.random.default_rng(2)
        for _ in range(8):
            command, obs = rng.normal(size=1), rng.normal(size=3)
            cmd_pub.publish(Float64MultiArray(data=command.tolist()))
            probe.spin_for(0.02)  # the command is in before the reading that triggers the step
            n = len(predictions)
            obs_pub.publish(Float64MultiArray(data=obs.tolist()))
            probe.spin_until(lambda n=n: len(predictions) > n, 5, "a prediction")
            want = reference.step(np.concatenate([obs, command]).astype(np.float32))
            np.testing.assert_allclose(np.asarray(predictions[-1].data)[:3], want, atol=1e-4)
    finally:
        probe.close()
        rclpy.try_shutdown()
        assert proc.stop() == 0, proc.log()
