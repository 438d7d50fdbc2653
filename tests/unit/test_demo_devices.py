"""The simulated devices and the demand-response planner, without a server.

Every payload a device produces must pass the codecs (what a real peer would validate), and the
planner must cover the excess with the gentlest steps, in the order a DSO would ask for them.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import xmpp_iot.efi as efi
import xmpp_iot.measurement as measurement
from xmpp_iot.demo.alarms import Alarm, AlarmCodec, AlarmError
from xmpp_iot.demo.config import load_config
from xmpp_iot.demo.devices import InstructionRejected, build_neighbourhood
from xmpp_iot.demo.display import Display, Stats
from xmpp_iot.demo.events import parse
from xmpp_iot.demo.grid import solve_feeder
from xmpp_iot.efi.binding import DeviceView

NOW = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)


def load_example(name: str):
    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def peak_neighbourhood(households: int = 3):
    config = load_config().replace(households={"count": households})
    hood = build_neighbourhood(config)
    for device in hood.devices:
        device.start_peak()
    for t in range(3):
        for device in hood.devices:
            device.step(float(t), 1.0, NOW)
    return config, hood


def test_every_payload_passes_the_codecs() -> None:
    config, hood = peak_neighbourhood()
    state = solve_feeder(config.feeder, hood.loads_w())
    kinds = set()
    for device in hood.devices:
        kinds.add(device.kind)
        if (reg := device.registration(NOW)) is not None:
            assert efi.decode(efi.encode(reg)) == reg
        for update in device.flexibility(NOW):
            assert efi.decode(efi.encode(update)) == update
        if (m := device.measurement(NOW, state)) is not None:
            assert measurement.decode(measurement.encode(m)) == m
    assert kinds == {"pmu", "meter", "pv", "heat_pump", "battery", "ev_charger", "washing_machine"}


def test_the_evening_peak_congests_the_default_feeder() -> None:
    config = load_config()
    hood = build_neighbourhood(config)
    before = solve_feeder(config.feeder, hood.loads_w())
    config, hood = peak_neighbourhood(config.households.count)
    after = solve_feeder(config.feeder, hood.loads_w())
    assert not before.congested and after.congested


def test_meter_reports_its_household_and_pmu_the_head_current() -> None:
    config, hood = peak_neighbourhood()
    state = solve_feeder(config.feeder, hood.loads_w())
    house = hood.households[0]
    meter = next(d for d in house.devices if d.kind == "meter")
    readout = meter.measurement(NOW, state)
    p = sum(r.value for r in readout.readings if r.quantity is measurement.Quantity.ACTIVE_POWER)
    assert p == pytest.approx(house.power_w(), abs=1.0)
    head = next(p for p in hood.pmus if p.bus == 0)
    frame = head.measurement(NOW, state)
    current = frame.reading(measurement.Quantity.CURRENT, measurement.Phase.L1).value.magnitude
    assert current == pytest.approx(state.head_current_a, abs=0.01)
    assert {t.name: t.value for t in head.tags()}["IRATED"] == config.feeder.rated_current_a


def test_storage_instruction_switches_mode_and_is_released_after_hold() -> None:
    _config, hood = peak_neighbourhood(1)
    ev = next(d for d in hood.devices if d.kind == "ev_charger")
    assert ev.power_w() == 11_000.0
    ev.statuses.clear()
    ev.apply(efi.StorageInstruction(efi_resource_id=ev.name, timestamp=NOW, instruction_id="i1",
                                    flexibility_update_id="u", actuator_instructions=(
                                        efi.ActuatorInstruction(actuator_id=0, running_mode_id=2, start_time=NOW),)),
             NOW)
    assert ev.power_w() == 4_140.0
    assert [s.status for s in ev.statuses] == [efi.InstructionStatus.ACCEPTED, efi.InstructionStatus.STARTED]
    ev.step(ev.t + ev.hold_s + 1, 1.0, NOW)
    assert ev.statuses[-1].status is efi.InstructionStatus.SUCCEEDED and ev.power_w() == 11_000.0
    with pytest.raises(InstructionRejected, match="no running mode 9"):
        ev.apply(efi.StorageInstruction(efi_resource_id=ev.name, timestamp=NOW, instruction_id="i2",
                                        flexibility_update_id="u", actuator_instructions=(
                                            efi.ActuatorInstruction(actuator_id=0, running_mode_id=9, start_time=NOW),)),
                 NOW)


def test_ev_charger_current_cap_is_a_control_parameter() -> None:
    _config, hood = peak_neighbourhood(1)
    ev = next(d for d in hood.devices if d.kind == "ev_charger")
    ev.set_max_current(10)
    assert ev.power_w() == 4_140.0  # below 16 A it charges in its 6 A mode
    ev.set_max_current(16)
    assert ev.power_w() == 11_000.0
    with pytest.raises(ValueError, match=r"6\.\.16 A"):
        ev.set_max_current(32)


def test_washing_machine_waits_for_the_instructed_start() -> None:
    _config, hood = peak_neighbourhood(1)
    wm = next(d for d in hood.devices if d.kind == "washing_machine")
    (update,) = wm.flexibility(NOW)
    wm.apply(efi.ShiftableInstruction(
        efi_resource_id=wm.name, timestamp=NOW, instruction_id="s1", flexibility_update_id=update.flexibility_update_id,
        sequential_profile_instructions=(efi.SequentialProfileInstruction(
            sequence_nr=0, alternative_nr=0, start_time=NOW + timedelta(seconds=30)),)), NOW)
    for t in range(3, 20):
        wm.step(float(t), 1.0, NOW)
    assert wm.power_w() == 0.0  # it would have started on its own after 8 s
    wm.step(wm.start_at, 1.0, NOW)
    assert wm.power_w() == 2_000.0 and wm.statuses[-1].status is efi.InstructionStatus.STARTED


def test_planner_covers_the_excess_gently_and_in_order() -> None:
    dr = load_example("demand_response")
    _config, hood = peak_neighbourhood(3)
    appliances = []
    for device in hood.devices:
        reg = device.registration(NOW)
        if reg is None:
            continue
        view = DeviceView(device.name, registration=reg, updates={u.TAG: u for u in device.flexibility(NOW)})
        appliances.append(dr.Appliance(device.name, device.efi_category, view))
    alarm = Alarm(area="feeder1", kind="congestion", state="raised", value=1.5, limit=1.0, at=NOW, excess_w=12_000)
    steps = dr.plan_steps(appliances, alarm, timedelta(seconds=60), NOW)
    assert sum(s.saving_w for s in steps) >= 12_000 * dr.MARGIN
    kinds = [type(s.instruction).__name__ for s in steps]
    assert kinds[:3] == ["ShiftableInstruction"] * 3  # waiting washes go first
    assert "InflexibleInstruction" not in kinds  # no PV curtailment for import congestion
    ev_steps = [s for s in steps if "ev_charger" in s.appliance.jid]
    assert ev_steps and all(s.what == "running mode -> charge 6A" for s in ev_steps)  # throttle, not stop
    export = Alarm(area="feeder1", kind="congestion", state="raised", value=1.2, limit=1.0, at=NOW,
                   excess_w=100_000, direction="export")
    assert any(isinstance(s.instruction, efi.InflexibleInstruction)
               for s in dr.plan_steps(appliances, export, timedelta(seconds=60), NOW))


def test_alarm_codec_round_trip_and_bad_alarms() -> None:
    codec = AlarmCodec()
    alarm = Alarm(area="feeder1", kind="undervoltage", state="cleared", value=0.93, limit=0.9, at=NOW)
    assert codec.decode_element(codec.encode_element(alarm)) == alarm
    element = codec.encode_element(alarm)
    element.set("kind", "meteor")
    with pytest.raises(AlarmError, match="meteor"):
        codec.decode_element(element)
    del element.attrib["value"]
    with pytest.raises(AlarmError, match="missing attribute value"):
        codec.decode_element(element)


def test_stats_and_plain_display_from_events(capsys) -> None:
    stats = Stats(devices=2)
    display = Display(stats, tty=False)
    for line in ['{"ev": "registered"}', '{"ev": "claimed"}', '{"ev": "alarm_raised", "kind": "congestion", '
                 '"value": 1.4, "limit": 1.0, "excess_w": 500}', "garbage", '{"ev": "instruction_outcome", '
                 '"device": "h01-pv", "instruction": "i1", "status": "ACCEPTED", "info": ""}', '{"ev": "alarm_cleared", "kind": "congestion", "value": 0.9}']:
        event = parse(line)
        if event is not None:
            display.event_line(stats.feed(event, "test"))
    display.print_summary()
    out = capsys.readouterr().out
    assert "congestion RAISED (1.4 > limit 1.0, excess 500 W)" in out
    assert "violations         1 detected, 1 relieved" in out
    assert "h01-pv: i1 ACCEPTED" in out
    summary = stats.summary()
    assert summary["registered"] == summary["claimed"] == 1 and summary["instruction_outcomes"] == {"ACCEPTED": 1}
