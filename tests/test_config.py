"""Scenario loading: unknown keys, wrong types and bad env ids get clear messages."""

from __future__ import annotations

import pytest

from rnn_control.envs import make_env
from rnn_control.errors import ConfigError
from rnn_control.scenario import available_scenarios, load_scenario


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"modle": {}}, "unknown key 'modle' (did you mean 'model'?)"),
        ({"model": {"cell": "grux"}}, "model.cell: 'grux' is not allowed; choose one of: 'rnn', 'lstm'"),
        ({"model": {"hidden_size": "big"}}, "model.hidden_size: expected an integer, got 'big' (str)"),
        ({"model": {"hidden_size": 0}}, "hidden_size: must be >= 1"),
        ({"env": {"wrappers": [{"mask_velocty": {}}]}}, "unknown wrapper 'mask_velocty'"),
        ({"env": {"wrappers": [{"mask_velocity": {"kep": [0]}}]}}, "unknown key 'kep'"),
    ],
)
def test_bad_scenarios_name_the_problem(override, message):
    with pytest.raises(ConfigError) as err:
        load_scenario("pendulum_novel", override)
    assert message in str(err.value)


def test_unknown_env_id_is_named_before_any_env_is_built():
    # The scenario schema is a leaf (no gymnasium): the id is checked against the installed envs
    # where envs are built, and by `rnn-control scenarios --check`.
    sc = load_scenario("pendulum_novel", {"env": {"id": "Pendulum-v9"}})
    with pytest.raises(ConfigError) as err:
        make_env(sc.env)
    assert "unknown Gymnasium env 'Pendulum-v9'; did you mean Pendulum-v1" in str(err.value)


def test_unknown_scenario_lists_choices():
    with pytest.raises(ConfigError, match=r"available: .*pendulum_novel"):
        load_scenario("no_such_scenario")


@pytest.mark.parametrize("name", available_scenarios())
def test_every_shipped_scenario_loads(name):
    sc = load_scenario(name)
    assert sc.name == name
