"""Reading rosbag2 recordings into episodes: real bags written by rosbags (MCAP and sqlite3, zstd
too), alignment and resampling against hand-computed values, gaps, stamps out of order or going
back, the time-ordered held-out split, and every kind of bad input with its message."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_control.bags import load_bags
from rnn_control.bags.align import sample
from rnn_control.config import from_dict
from rnn_control.errors import BagError, ConfigError
from rnn_control.scenario.bag import BagConfig
from tests.bagtools import ARR, F64, JS, T0, S, config, joint_state, regular, write_bag

MS = 1_000_000


def _commands(n: int, period: float = 0.1, offset: int = 20 * MS):
    """Command i sent ``offset`` after sensor message i (a controller's reply), value 10 * i."""
    step = round(period * S)
    return [(T0 + i * step + offset, 10.0 * i) for i in range(n)]


@pytest.mark.parametrize(
    "storage,compression", [("mcap", "none"), ("mcap", "zstd"), ("sqlite3", "none"), ("sqlite3", "zstd")]
)
def test_both_storages_compressed_or_not_read_to_the_same_episodes(tmp_path, storage, compression):
    bag = write_bag(tmp_path / "bag", regular(50), _commands(50), storage=storage, compression=compression)
    if storage == "mcap" and compression == "zstd":  # the chunks really are zstd-compressed
        import mcap.reader

        with open(bag / "bag.mcap", "rb") as f:
            chunks = {c.compression for c in mcap.reader.make_reader(f).get_summary().chunk_indexes}
        assert chunks == {"zstd"}
    data = load_bags([bag], config())
    (ep,) = data.train
    # the grid is in phase with the sensor stamps (T0 + k * 0.1 s)
    assert ep.t[0] == pytest.approx(T0 / 1e9)
    np.testing.assert_allclose(ep.obs[:, 0], np.arange(50))
    # command_at end: the command in force just before the step ends = the reply to its observation
    np.testing.assert_allclose(ep.act[:, 0], 10.0 * np.arange(49))
    assert data.report.topics["/joint_states"].messages == 50


def test_a_single_mcap_file_and_the_period_inferred(tmp_path):
    bag = write_bag(tmp_path / "b", regular(30), _commands(30))
    data = load_bags([bag / "b.mcap"], config(period=None))
    assert data.period == pytest.approx(0.1)
    assert data.report.period_inferred
    assert data.train[0].steps == 29


def test_sensors_interpolated_commands_held_on_a_coarser_grid(tmp_path):
    # sensor at 100 Hz with position = seconds since T0 (linear: interpolation is exact),
    # command at 10 Hz; the 50 ms grid falls between sensor samples when offset by 5 ms
    sensor = [
        (T0 + i * 10 * MS + 5 * MS + MS, T0 + i * 10 * MS + 5 * MS, (i * 10 + 5) / 1000) for i in range(100)
    ]
    command = [(T0 + i * 100 * MS + 7 * MS, float(i)) for i in range(10)]
    bag = write_bag(tmp_path / "b", sensor, command)
    cfg = config(period=0.05, reference_topic="/joint_states")
    (ep,) = load_bags([bag], cfg).train
    # grid: from the first sensor stamp (5 ms), every 50 ms
    np.testing.assert_allclose(ep.t - T0 / 1e9, 0.005 + 0.05 * np.arange(len(ep.t)), atol=1e-6)
    np.testing.assert_allclose(ep.obs[:, 0], ep.t - T0 / 1e9, atol=1e-6)
    # step k ends at 0.055 + 0.05 k: the latest command (sent at 7 ms + 0.1 s j) strictly before that
    ends = 0.055 + 0.05 * np.arange(ep.steps)
    np.testing.assert_allclose(ep.act[:, 0], np.floor((ends - 0.007) / 0.1))
    # command_at start: the command at the step's start (none yet at 5 ms: the episode starts at 55 ms)
    (ep2,) = load_bags([bag], config(period=0.05, command_at="start")).train
    assert ep2.t[0] - T0 / 1e9 == pytest.approx(0.055, abs=1e-6)
    starts = ep2.t[:-1] - T0 / 1e9
    np.testing.assert_allclose(ep2.act[:, 0], np.floor((starts - 0.007) / 0.1))


def test_sample_by_hand():
    t = np.array([0, 10, 20, 40], dtype=np.int64)
    v = np.array([[0.0], [1.0], [3.0], [5.0]])
    at = np.array([-1, 0, 5, 10, 15, 30, 40, 41], dtype=np.int64)
    lin, ok = sample(t, v, at, "linear", gap_ns=15)
    np.testing.assert_allclose(lin[ok, 0], [0.0, 0.5, 1.0, 2.0, 5.0])
    assert ok.tolist() == [False, True, True, True, True, False, True, False]  # 20..40 is a gap > 15
    zoh, ok = sample(t, v, at, "zoh", gap_ns=15)
    assert ok.tolist() == [False, True, True, True, True, True, True, True]
    np.testing.assert_allclose(zoh[ok, 0], [0, 0, 1, 1, 3, 5, 5])
    strict, ok = sample(t, v, at, "zoh", gap_ns=15, strict=True)  # strictly before (40: 20 is too old)
    assert ok.tolist() == [False, False, True, True, True, True, False, True]
    np.testing.assert_allclose(strict[ok, 0], [0, 0, 1, 3, 5])
    near, ok = sample(t, v, at, "nearest", gap_ns=12)
    assert ok.tolist() == [True, True, True, True, True, False, True, True]
    np.testing.assert_allclose(near[ok, 0], [0, 0, 0, 1, 1, 5, 5])


def test_a_gap_longer_than_max_gap_splits_the_episodes(tmp_path):
    sensor = [m for m in regular(60) if not 20 <= (m[1] - T0) // (S // 10) < 25]  # 0.5 s without sensors
    bag = write_bag(tmp_path / "b", sensor, _commands(60))
    data = load_bags([bag], config(max_gap=3))
    assert [e.steps for e in data.train] == [19, 34]  # 0..19, then 25..59
    assert data.report.topics["/joint_states"].gaps == 1
    # a gap of 5 periods is allowed with max_gap 6: one episode, interpolated across it
    (one,) = load_bags([bag], config(max_gap=6)).train
    np.testing.assert_allclose(one.obs[:, 0], np.arange(60), atol=1e-9)


def test_out_of_order_and_duplicate_stamps_are_sorted_dropped_and_counted(tmp_path):
    sensor = regular(40)
    sensor[10], sensor[11] = (sensor[10][0], sensor[11][1], 11.0), (sensor[11][0], sensor[10][1], 10.0)
    sensor.insert(20, (sensor[20][0] + 1, sensor[20][1], 999.0))  # same stamp again: dropped
    data = load_bags([write_bag(tmp_path / "b", sensor, _commands(40))], config())
    stats = data.report.topics["/joint_states"]
    assert (stats.out_of_order, stats.duplicates) == (1, 1)
    np.testing.assert_allclose(data.train[0].obs[:, 0], np.arange(40))


def test_time_going_back_splits_the_recording_or_stops_with_a_message(tmp_path):
    # a simulator restart: after 30 steps the header stamps start again from T0 (log time goes on);
    # the command is the JointState's effort, stamped like the sensors
    from rnn_control.bags.writer import BagWriter

    with BagWriter(tmp_path / "b") as bag:
        js = bag.topic("/joint_states", JS)
        for k in range(60):
            log, stamp = T0 + k * S // 10 + MS, T0 + (k % 30) * S // 10
            msg = joint_state(bag, stamp, [100.0 * (k // 30) + k % 30])
            msg.effort = np.array([float(k)])
            bag.write(js, log, msg)
    cfg = config(
        time_base="header",
        action=[{"topic": "/joint_states", "field": "joint/hinge", "command_field": "effort"}],
    )
    data = load_bags([tmp_path / "b"], cfg)
    assert [e.steps for e in data.train] == [29, 29]
    assert data.train[1].obs[0, 0] == 100.0
    # command_at end with a held command: the step's command is the one before its end (same message)
    np.testing.assert_allclose(data.train[1].act[:, 0], np.arange(30, 59))
    assert len(data.report.topics["/joint_states"].time_reversals) == 1
    assert any("time went back 1x" in line for line in data.report.lines())
    cfg.on_time_reversal = "error"
    with pytest.raises(BagError, match=r"/joint_states: time goes back by 2.9 s at message 30"):
        load_bags([tmp_path / "b"], cfg)


def test_episode_topic_ends_episodes(tmp_path):
    def marker(bag):
        conn = bag.topic("/episode_end", F64)
        bag.write(conn, T0 + 25 * S // 10 + 50 * MS, bag.message(F64, data=1.0))

    bag = write_bag(tmp_path / "b", regular(50), _commands(50), extra=marker)
    data = load_bags([bag], config(episode_topic="/episode_end"))
    assert [e.steps for e in data.train] == [25, 23]  # observations 0..25 | 26..49


def test_heldout_is_the_last_part_in_time(tmp_path):
    bags = [
        write_bag(
            tmp_path / f"b{k}",
            regular(50, start=T0 + k * 100 * S),
            [(T0 + k * 100 * S + i * S // 10 + 20 * MS, 1.0) for i in range(50)],
        )
        for k in (1, 0)
    ]
    data = load_bags(bags, config(heldout_fraction=0.3))
    last_train = max(e.t[-1] for e in data.train)
    assert min(e.t[0] for e in data.heldout) > last_train
    steps = sum(e.steps for e in data.train + data.heldout)
    assert sum(e.steps for e in data.heldout) == pytest.approx(0.3 * steps, abs=2)
    assert data.train[0].t[0] < T0 / 1e9 + 1  # the bag given second is older: it comes first


def test_last_action_is_the_previous_command(tmp_path):
    bag = write_bag(tmp_path / "b", regular(20), _commands(20))
    cfg = config(
        observation=[
            {"topic": "/joint_states", "field": "joint_state/position/hinge"},
            {"field": "last_action/0"},
        ]
    )
    (ep,) = load_bags([bag], cfg).train
    assert ep.obs[0, 1] == 0.0
    np.testing.assert_allclose(ep.obs[1:, 1], ep.act[:, 0])


# ---------------------------------------------------------------------------- bad input
def test_a_missing_topic_lists_the_bags_topics(tmp_path):
    bag = write_bag(tmp_path / "b", regular(5), _commands(5))
    cfg = config(action=[{"topic": "/effort_controller/commands", "field": "vector/0"}])
    with pytest.raises(
        BagError,
        match=r"topic /effort_controller/commands not in the bag; it has: "
        r"/cmd \(std_msgs/msg/Float64MultiArray, 5 messages\), /joint_states \(",
    ):
        load_bags([bag], cfg)


def test_a_topic_of_the_wrong_type(tmp_path):
    bag = write_bag(tmp_path / "b", regular(5), _commands(5))
    cfg = config(observation=[{"topic": "/cmd", "field": "joint_state/position/hinge"}])
    with pytest.raises(
        BagError, match=f"topic /cmd carries {ARR}, but joint_state/position/hinge is read from {JS}"
    ):
        load_bags([bag], cfg)


def test_a_field_missing_from_the_messages(tmp_path):
    bag = write_bag(tmp_path / "b", regular(5), _commands(5))
    cfg = config(observation=[{"topic": "/joint_states", "field": "joint_state/position/knee"}])
    with pytest.raises(
        BagError,
        match=r"joint_state/position/knee: missing from all 5 messages on "
        r"/joint_states .*joints \['hinge'\]",
    ):
        load_bags([bag], cfg)
    with pytest.raises(BagError, match=r"vector/3: missing from all 5 messages on /cmd .*1 data elements"):
        load_bags([bag], config(action=[{"topic": "/cmd", "field": "vector/3"}]))


def test_a_bag_truncated_mid_chunk_is_read_up_to_the_damage(tmp_path):
    n = 20000  # several 1 MiB chunks
    bag = write_bag(tmp_path / "b", regular(n), _commands(n), compression="zstd")
    whole = load_bags([bag], config())
    mcap = bag / "b.mcap"
    data = mcap.read_bytes()
    mcap.write_bytes(data[: int(len(data) * 0.7)])
    cut = load_bags([bag], config())
    got = cut.report.topics["/joint_states"].messages
    assert 0.3 * n < got < n
    damage = "\n".join(cut.report.damage)
    assert "b.mcap: truncated at byte" in damage and "messages read before it" in damage
    # what was read is what the whole bag has up to there
    np.testing.assert_allclose(cut.train[0].obs[:, 0], whole.train[0].obs[: len(cut.train[0].obs), 0])
    # a recorder that died before writing metadata.yaml: the folder's .mcap is still read
    (bag / "metadata.yaml").unlink()
    again = load_bags([bag], config())
    assert again.report.topics["/joint_states"].messages == got
    assert any("no metadata.yaml" in d for d in again.report.damage)


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_a_sqlite3_bag_cut_short_is_read_from_its_intact_pages(tmp_path, compression):
    n = 3000
    # 600-element commands (4.8 KB) spill into overflow pages, uncompressed
    wide = [(log, np.full(600, v)) for log, v in _commands(n)]
    bag = write_bag(tmp_path / "b", regular(n), wide, storage="sqlite3", compression=compression)
    whole = load_bags([bag], config())
    db = bag / "b.db3"
    data = db.read_bytes()
    db.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(Exception, match="malformed"):  # what sqlite itself makes of it
        import sqlite3

        sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("SELECT count(*) FROM messages").fetchall()
    cut = load_bags([bag], config())
    got = cut.report.topics["/joint_states"].messages
    assert 0.3 * n < got < n, got
    damage = "\n".join(cut.report.damage)
    assert "b.db3: " in damage and "bytes short of the size its header gives" in damage, damage
    assert "recovered from its intact pages" in damage, damage
    (ep,) = cut.train  # no message lost in between: one episode, the whole bag's up to the damage
    np.testing.assert_allclose(ep.obs, whole.train[0].obs[: len(ep.obs)])
    # (the large commands reach less far into the file than the sensor readings: the last is held)
    np.testing.assert_allclose(ep.act[:-5], whole.train[0].act[: len(ep.act) - 5])


def test_an_empty_bag(tmp_path):
    from rnn_control.bags.writer import BagWriter

    with BagWriter(tmp_path / "empty") as bag:
        bag.topic("/joint_states", JS)
        bag.topic("/cmd", ARR)
    with pytest.raises(BagError, match=r"the bag is empty"):
        load_bags([tmp_path / "empty"], config())
    with BagWriter(tmp_path / "none"):
        pass
    with pytest.raises(
        BagError, match=r"topic /cmd, /joint_states not in the bag; it has: none \(the bag is empty\)"
    ):
        load_bags([tmp_path / "none"], config())


def test_not_a_bag(tmp_path):
    with pytest.raises(BagError, match="no such bag"):
        load_bags([tmp_path / "nothing"], config())
    (tmp_path / "dir").mkdir()
    with pytest.raises(BagError, match="not a rosbag2 recording"):
        load_bags([tmp_path / "dir"], config())


def test_a_bag_without_definitions_needs_a_named_type_store(tmp_path):
    bag = write_bag(tmp_path / "b", regular(10), _commands(10), storage="sqlite3", embed=False)
    with pytest.raises(BagError, match=r"no message definition for .*bag.typestore: ros2_humble"):
        load_bags([bag], config())
    data = load_bags([bag], config(typestore="humble"))
    assert data.train[0].steps == 9
    with pytest.raises(BagError, match="unknown type store 'rolling'"):
        load_bags([bag], config(typestore="rolling"))


def test_the_bag_section_is_validated():
    with pytest.raises(
        ConfigError, match=r"observation\[0\].field: source 'joint_state/pos/hinge' is not valid"
    ):
        from_dict(
            BagConfig,
            {
                "observation": [{"topic": "/js", "field": "joint_state/pos/hinge"}],
                "action": [{"topic": "/c", "field": "vector/0"}],
            },
            "bag",
        )
    with pytest.raises(ConfigError, match=r"action\[0\].topic: name the topic"):
        from_dict(
            BagConfig,
            {"observation": [{"topic": "/js", "field": "vector/0"}], "action": [{"field": "vector/0"}]},
            "bag",
        )
    with pytest.raises(ConfigError, match=r"observation\[1\].field: last_action/2 names command 2"):
        config(observation=[{"topic": "/joint_states", "field": "vector/0"}, {"field": "last_action/2"}])
