"""The neighbourhood file: the shipped default is valid, and every mistake names its key."""

from __future__ import annotations

import pytest

from xmpp_iot.demo.config import DEFAULT_CONFIG, ConfigError, load_config, parse_config
from xmpp_iot.demo.orchestrator import dump_toml


def test_shipped_default_has_one_feeder_and_every_device_kind() -> None:
    config = load_config()
    assert config.feeder.name == "feeder1"
    assert set(config.households.devices) == {"meter", "pv", "heat_pump", "battery", "ev_charger", "washing_machine"}
    names = config.device_names()
    assert len(names) == len(set(names)) == config.pmus.count + config.households.count * 6
    assert DEFAULT_CONFIG.name == "neighbourhood.toml"


@pytest.mark.parametrize("text, key, problem", [
    ("[households]\ncount = 'x'", "households.count", "must be an integer, not a string ('x')"),
    ("[households]\ncount = true", "households.count", "must be an integer, not a boolean"),
    ("[households]\ncount = 0", "households.count", "must be between 1 and 100000"),
    ("[households]\ncont = 3", "households.cont", "unknown key; known keys here"),
    ("[households]\ndevices = ['toaster']", "households.devices", "unknown device kind(s) ['toaster']"),
    ("[households]\ndevices = 'meter'", "households.devices", "must be a list"),
    ("[households]\ndevices = ['meter', 'meter']", "households.devices", "lists a device kind twice"),
    ("[feeder]\nrated_current_a = -1", "feeder.rated_current_a", "must be > 0"),
    ("[feeder]\nvoltage_min_pu = 1.2", "feeder.voltage_min_pu", "need 0 < voltage_min_pu < 1 < voltage_max_pu"),
    ("[feeder]\nname = 'a/b'", "feeder.name", "without '/'"),
    ("feeder = 3", "feeder", "must be a table"),
    ("[weather]\nsun = 1", "weather", "unknown key"),
    ("[scenario]\ncrash_device = 'h99-pv'", "scenario.crash_device", "no device named 'h99-pv'"),
    ("[scenario]\nstep_s = 0", "scenario.step_s", "must be > 0"),
])
def test_mistakes_name_the_key_and_the_problem(text: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "my.toml")
    assert caught.value.key == key
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"my.toml: {key}: ")


def test_invalid_toml_and_missing_file_are_explained(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[households\n", "x.toml")
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "nope.toml")


def test_integers_are_accepted_for_numbers_and_overrides_are_checked() -> None:
    config = parse_config("[feeder]\nrated_current_a = 60")
    assert config.feeder.rated_current_a == 60.0
    assert config.replace(households={"count": 3}).households.count == 3
    with pytest.raises(ConfigError, match=r"households\.count"):
        config.replace(households={"count": -3})


def test_effective_config_round_trips_through_toml() -> None:
    config = load_config().replace(households={"count": 4}, scenario={"crash_device": "h02-pv"})
    assert parse_config(dump_toml(config)) == config
