"""The feeder model: voltage falls with load along the feeder, congestion at the head."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmpp_iot.demo.config import FeederConfig
from xmpp_iot.demo.grid import solve_feeder

FEEDER = FeederConfig(rated_current_a=80.0)


def test_no_load_means_nominal_voltage_everywhere() -> None:
    state = solve_feeder(FEEDER, [0.0] * 5)
    assert state.voltages == (230.0,) * 6
    assert state.loading == 0.0 and not state.congested


def test_load_lowers_voltage_along_the_feeder_and_export_raises_it() -> None:
    loaded = solve_feeder(FEEDER, [10_000.0] * 5)
    assert all(a > b for a, b in zip(loaded.voltages, loaded.voltages[1:], strict=False))
    exporting = solve_feeder(FEEDER, [-5_000.0] * 5)
    assert all(a < b for a, b in zip(exporting.voltages, exporting.voltages[1:], strict=False))
    assert exporting.currents[0] < 0  # reverse flow


def test_head_current_and_congestion() -> None:
    # 3 x 23 kW = 69 kW three-phase -> 23 kW per phase / 230 V = 100 A > 80 A
    state = solve_feeder(FEEDER, [23_000.0, 23_000.0, 23_000.0])
    assert state.head_current_a == pytest.approx(100.0, rel=1e-9)
    assert state.loading == pytest.approx(1.25)
    assert state.congested
    assert state.head_power_w == 69_000.0


def test_voltage_band_violations_are_found() -> None:
    weak = FeederConfig(segment_resistance_ohm=0.5)
    state = solve_feeder(weak, [15_000.0] * 4)
    assert state.voltage_violations() and min(state.voltage_violations()) > 0


def test_bad_loads_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        solve_feeder(FEEDER, [math.nan])
    with pytest.raises(ValueError, match="one value per household"):
        solve_feeder(FEEDER, [1.0, 2.0], [0.0])


@given(st.lists(st.floats(min_value=-20_000, max_value=20_000), min_size=1, max_size=50))
def test_more_load_never_raises_the_far_end_voltage(loads: list[float]) -> None:
    base = solve_feeder(FEEDER, loads)
    more = solve_feeder(FEEDER, [p + 1_000.0 for p in loads])
    assert more.voltages[-1] <= base.voltages[-1] + 1e-9
