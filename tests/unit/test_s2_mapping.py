"""EFI <-> S2 (s2-python) for the categories where S2 has a counterpart; every S2 message we make
must parse back with s2-python's own parser."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from s2python.s2_parser import S2Parser

import xmpp_iot.efi as efi
from xmpp_iot.efi import s2 as m
from xmpp_iot.efi import samples as s

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def valid_s2(message):
    """The JSON we produce is an S2 message s2-python accepts, equal to what we made."""
    parsed = S2Parser.parse_as_any_message(message.to_json())
    assert parsed.to_json() == message.to_json()
    return parsed


def test_storage_maps_to_frbc():
    ids = m.S2Ids("hp-1")
    description, leakage = m.frbc_system_description(s.heat_pump_registration("hp-1", NOW),
                                                     s.heat_pump_system("hp-1", NOW, "sys-1"), ids)
    valid_s2(description)
    valid_s2(leakage)
    [actuator] = description.actuators
    assert actuator.diagnostic_label == "compressor"
    off, on = actuator.operation_modes
    assert (off.diagnostic_label, on.diagnostic_label) == ("off", "on")
    [element] = on.elements
    assert element.fill_rate.start_of_range == element.fill_rate.end_of_range == 0.001
    assert element.power_ranges[0].start_of_range == 1800.0
    assert description.storage.fill_level_range.start_of_range == 35.0
    assert description.storage.fill_level_range.end_of_range == 60.0
    [timer] = actuator.timers
    assert timer.duration.to_timedelta() == timedelta(minutes=10)
    switch_on = actuator.transitions[0]
    assert (switch_on.from_, switch_on.to, switch_on.start_timers) == (off.id, on.id, [timer.id])
    assert leakage.elements[0].leakage_rate == 0.0002

    storage_status, actuator_status = m.frbc_status(s.heat_pump_status("hp-1", NOW, "st-1", 41.5, running=True), ids)
    assert valid_s2(storage_status).present_fill_level == 41.5
    assert valid_s2(actuator_status).active_operation_mode_id == on.id

    instruction = s.heat_pump_instruction("hp-1", NOW, "i-1", "st-1")
    [s2_instruction] = m.frbc_instructions(instruction, ids)
    valid_s2(s2_instruction)
    assert (s2_instruction.actuator_id, s2_instruction.operation_mode) == (actuator.id, on.id)
    back = m.frbc_instruction_to_efi(s2_instruction, ids, flexibility_update_id="st-1", timestamp=NOW)
    # EFI's absent factor becomes S2's mandatory 0.0: the one difference on the way back
    assert back == replace(instruction, actuator_instructions=(
        replace(instruction.actuator_instructions[0], running_mode_factor=0.0),))
    efi.decode(efi.encode(back))


def test_fill_level_target_profile():
    ids = m.S2Ids("hp-1")
    target = efi.StorageFillLevelTargetProfile(
        efi_resource_id="hp-1", timestamp=NOW, flexibility_update_id="tp-1", valid_from=NOW,
        target_profile=efi.TargetProfile(elements=(efi.TargetProfileElement(
            duration=timedelta(hours=2), fill_level_lower_bound=45.0, fill_level_upper_bound=55.0),)))
    profile = valid_s2(m.frbc_target_profile(target, ids))
    assert profile.start_time == NOW
    assert profile.elements[0].duration.to_timedelta() == timedelta(hours=2)


def test_shiftable_maps_to_ppbc_and_back():
    ids = m.S2Ids("wm-1")
    program = valid_s2(m.ppbc_power_profile(s.washer_update("wm-1", NOW, "wash-1"), ids))
    assert program.end_time == NOW + timedelta(hours=8)
    heating, washing = program.power_sequences_containers
    assert [e.power_values[0].value_expected for e in heating.power_sequences[0].elements] == [2000.0, 2000.0]
    assert washing.power_sequences[0].max_pause_before.to_timedelta() == timedelta(hours=1)

    start = s.washer_start("wm-1", NOW, "go-1", "wash-1", NOW + timedelta(hours=3))
    schedule = m.ppbc_schedule_instructions(start, ids)
    for instruction in schedule:
        valid_s2(instruction)
    assert schedule[0].power_profile_id == program.id
    assert schedule[1].sequence_container_id == washing.id
    assert m.ppbc_schedule_to_efi(schedule, ids, timestamp=NOW) == start


def test_inflexible_curtailment_maps_to_pebc():
    ids = m.S2Ids("pv-1")
    constraints = valid_s2(m.pebc_power_constraints(s.pv_options("pv-1", NOW, "curt-1"), ids))
    assert {r.range_boundary.start_of_range for r in constraints.allowed_limit_ranges} == {-5000.0}
    instruction = valid_s2(m.pebc_instruction(s.pv_curtailment("pv-1", NOW, "c-1", "curt-1", limit=-2000.0), ids))
    [element] = instruction.power_envelopes[0].power_envelope_elements
    assert (element.lower_limit, element.upper_limit) == (-2000.0, 0.0)  # production limited to 2 kW
    assert instruction.power_constraints_id == constraints.id
    assert m.curtailment_of(instruction) == s.pv_curtailment("pv-1", NOW, "c", "curt-1", limit=-2000.0) \
        .curtailment_profile.elements


@pytest.mark.parametrize("status", list(efi.InstructionStatus))
def test_instruction_status_both_ways(status):
    ids = m.S2Ids("hp-1")
    update = efi.InstructionStatusUpdate(efi_resource_id="hp-1", timestamp=NOW, instruction_id="i-1", status=status)
    s2_update = valid_s2(m.instruction_status_to_s2(update, ids))
    assert s2_update.status_type.value == status.value
    assert m.instruction_status_from_s2(s2_update, ids) == update


def test_s2_only_statuses():
    ids = m.S2Ids("hp-1")
    update = m.instruction_status_to_s2(efi.InstructionStatusUpdate(
        efi_resource_id="hp-1", timestamp=NOW, instruction_id="i-1", status=efi.InstructionStatus.ACCEPTED), ids)
    revoked = update.model_copy(update={"status_type": type(update.status_type)("REVOKED")})
    assert m.instruction_status_from_s2(revoked, ids).status is efi.InstructionStatus.ABORTED
    new = update.model_copy(update={"status_type": type(update.status_type)("NEW")})
    with pytest.raises(m.NotMappable):
        m.instruction_status_from_s2(new, ids)


def test_measurement_units():
    ids = m.S2Ids("chp-1")
    measurement = efi.Measurement(efi_resource_id="chp-1", timestamp=NOW, measurement_timestamp=NOW,
                                  electricity=efi.ElectricityMeasurement(power=-900.0),
                                  gas=efi.GasMeasurement(flow_rate=0.0001))
    values = {v.commodity_quantity.value: v.value for v in valid_s2(m.power_measurement(measurement, ids)).values}
    assert values["ELECTRIC.POWER.3_PHASE_SYMMETRIC"] == -900.0
    assert values["NATURAL_GAS.FLOW_RATE"] == pytest.approx(0.1)  # m³/s -> l/s


def test_what_s2_cannot_express():
    ids = m.S2Ids("x-1")
    gas_curtailment = efi.InflexibleCurtailmentOptions(
        efi_resource_id="x-1", timestamp=NOW, flexibility_update_id="u-1", valid_from=NOW,
        curtailment_options=(efi.CurtailmentOption(curtailment_quantity=efi.CurtailmentQuantity.GAS_FLOWRATE,
                                                   curtailment_ranges=(efi.CurtailmentRange(lower_bound=0.0,
                                                                                            upper_bound=1.0),)),))
    with pytest.raises(m.NotMappable):
        m.pebc_power_constraints(gas_curtailment, ids)
    update = s.washer_update("x-1", NOW)
    heat_only = replace(update, sequential_profiles=(replace(update.sequential_profiles[0], alternatives=(
        efi.SequentialProfileAlternative(alternative_nr=0, profiles=efi.ProfileContainer(heat=efi.HeatProfile(
            elements=(efi.HeatProfileElement(duration=timedelta(minutes=5), thermal_power=100.0),)))),)),))
    with pytest.raises(m.NotMappable):
        m.ppbc_power_profile(heat_only, ids)
    with pytest.raises(m.NotMappable):
        ids.back(m.S2Ids("other").of("actuator", 0), "actuator")


def micro_chp() -> tuple[efi.AdjustableSystemDescription, efi.AdjustableStatus]:
    """A generator (adjustable): off, or on between 500 and 1000 W of production."""
    system = efi.AdjustableSystemDescription(
        efi_resource_id="chp-1", timestamp=NOW, flexibility_update_id="sys-1", valid_from=NOW,
        running_modes=(
            efi.AdjustableDiscreteRunningMode(id=0, label="off", electrical_power=0.0),
            efi.AdjustableContinuousRunningMode(
                id=1, label="on", lower_bound=efi.CommodityValues(electrical_power=-500.0),
                upper_bound=efi.CommodityValues(electrical_power=-1000.0)),
        ),
        timers=(efi.Timer(id=0, label="min on", duration=timedelta(minutes=30)),),
        transitions=(efi.Transition(from_running_mode_id=0, to_running_mode_id=1, start_timers=(0,)),
                     efi.Transition(from_running_mode_id=1, to_running_mode_id=0, blocking_timers=(0,))),
    )
    status = efi.AdjustableStatus(
        efi_resource_id="chp-1", timestamp=NOW, flexibility_update_id="st-1", valid_from=NOW,
        current_running_mode_id=1, running_mode_factor=0.5, previous_running_mode_id=0, transition_timestamp=NOW,
        timer_updates=(efi.TimerUpdate(timer_id=0, finished_at=NOW + timedelta(minutes=30)),),
    )
    return system, status


def test_adjustable_maps_to_ombc():
    ids = m.S2Ids("chp-1")
    system, status = micro_chp()
    description = valid_s2(m.ombc_system_description(system, ids))
    _off, on = description.operation_modes
    [power] = on.power_ranges
    # S2 ranges run upwards: the mode is mirrored, and so is its factor (EFI 0.5 -> S2 0.5, 0.8 -> 0.2)
    assert (power.start_of_range, power.end_of_range) == (-1000.0, -500.0)
    assert description.transitions[0].start_timers == [description.timers[0].id]
    s2_status, timer = m.ombc_status(status, ids)
    assert str(valid_s2(s2_status).active_operation_mode_id.root) == str(on.id)
    assert valid_s2(timer).timer_id == description.timers[0].id

    instruction = efi.AdjustableInstruction(efi_resource_id="chp-1", timestamp=NOW, instruction_id="run-1",
                                            flexibility_update_id="st-1", running_mode_id=1, start_time=NOW,
                                            running_mode_factor=0.8)
    s2_instruction = valid_s2(m.ombc_instruction(instruction, ids))
    assert s2_instruction.operation_mode_id == on.id
    assert s2_instruction.operation_mode_factor == pytest.approx(0.2)
    back = m.ombc_instruction_to_efi(s2_instruction, ids, flexibility_update_id="st-1", timestamp=NOW)
    assert back.running_mode_factor == pytest.approx(0.8)
    assert replace(back, running_mode_factor=0.8) == instruction


@pytest.mark.parametrize(("lower", "upper"), [
    (efi.CommodityValues(electrical_power=-500.0), efi.CommodityValues(gas_flow_rate=0.0001)),
    # a CHP: more production (more negative power) burns more gas: opposite directions
    (efi.CommodityValues(electrical_power=-500.0, gas_flow_rate=0.00005),
     efi.CommodityValues(electrical_power=-1000.0, gas_flow_rate=0.0001)),
])
def test_modes_s2_cannot_express(lower, upper):
    system, _ = micro_chp()
    odd = replace(system, running_modes=(efi.AdjustableContinuousRunningMode(
        id=1, label="on", lower_bound=lower, upper_bound=upper),), transitions=(), timers=())
    with pytest.raises(m.NotMappable):
        m.ombc_system_description(odd, m.S2Ids("chp-1"))



def test_forecasts():
    ids = m.S2Ids("pv-1")
    forecast = valid_s2(m.power_forecast(s.pv_forecast("pv-1", NOW, "fc-1"), ids))
    assert forecast.start_time == NOW
    assert [e.power_values[0].value_expected for e in forecast.elements] == [-4200.0, -4400.0, -4500.0, -4300.0]
    assert forecast.elements[0].duration.to_timedelta() == timedelta(minutes=15)

    band = efi.ProbabilityAttributes(the95_ppr_lower=-0.2, the68_ppr_lower=-0.1, expected=0.0, the68_ppr_upper=0.1,
                                     the95_ppr_upper=0.2)
    slot = timedelta(minutes=30)
    gas_and_power = efi.InflexibleForecast(
        efi_resource_id="chp-1", timestamp=NOW, flexibility_update_id="fc-2", valid_from=NOW,
        forecast_profiles=efi.ProfileContainer(
            electricity=efi.ElectricityProbabilityProfile(elements=(efi.ProbabilityElement(duration=slot, value=band),)),
            gas=efi.GasProfile(elements=(efi.GasProfileElement(duration=slot, flow_rate=0.0002),))))
    [element] = valid_s2(m.power_forecast(gas_and_power, ids)).elements
    power, gas = element.power_values
    assert (power.value_lower_95PPR, power.value_upper_68PPR) == (-0.2, 0.1)
    assert gas.value_expected == pytest.approx(0.2)  # l/s
    uneven = replace(gas_and_power, forecast_profiles=replace(gas_and_power.forecast_profiles, gas=efi.GasProfile(
        elements=(efi.GasProfileElement(duration=timedelta(minutes=15), flow_rate=0.0002),))))
    with pytest.raises(m.NotMappable, match="share their timeslots"):
        m.power_forecast(uneven, ids)

    usage = efi.StorageUsageForecast(
        efi_resource_id="hp-1", timestamp=NOW, flexibility_update_id="use-1", valid_from=NOW,
        usage_forecast=efi.StorageUsageProfile(elements=(efi.StorageUsageElement(duration=slot, usage_rate=0.0004),)))
    assert valid_s2(m.frbc_usage_forecast(usage, m.S2Ids("hp-1"))).elements[0].usage_rate_expected == 0.0004


def test_an_instruction_revoke_revokes_every_s2_instruction_made_from_it():
    ids = m.S2Ids("wm-1")
    sent = m.ppbc_schedule_instructions(s.washer_start("wm-1", NOW, "go-1", "wash-1", NOW), ids)
    revokes = m.revoke_objects(efi.InstructionRevoke(efi_resource_id="wm-1", timestamp=NOW, instruction_id="go-1"),
                               sent, ids)
    assert [valid_s2(r).object_id for r in revokes] == [i.id for i in sent]
    assert {r.object_type.value for r in revokes} == {"PPBC.ScheduleInstruction"}

# Random valid EFI messages (the round-trip property test's strategies): each either maps to S2 messages
# that s2-python accepts, or raises NotMappable: never anything else.
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.unit.test_efi_roundtrip_property import STRATEGIES  # noqa: E402

MAPPERS = {
    "StorageSystemDescription": lambda msg, ids: m.frbc_system_description(
        s.heat_pump_registration(msg.efi_resource_id, NOW), msg, ids),
    "StorageStatus": m.frbc_status,
    "StorageFillLevelTargetProfile": m.frbc_target_profile,
    "StorageInstruction": m.frbc_instructions,
    "ShiftableUpdate": m.ppbc_power_profile,
    "ShiftableInstruction": m.ppbc_schedule_instructions,
    "InflexibleCurtailmentOptions": m.pebc_power_constraints,
    "InflexibleInstruction": m.pebc_instruction,
    "AdjustableSystemDescription": m.ombc_system_description,
    "AdjustableStatus": m.ombc_status,
    "AdjustableInstruction": m.ombc_instruction,
    "InstructionStatusUpdate": m.instruction_status_to_s2,
    "Measurement": m.power_measurement,
    "InflexibleForecast": m.power_forecast,
    "StorageUsageForecast": m.frbc_usage_forecast,
}


def _messages(result) -> list:
    if isinstance(result, tuple | list):
        return [x for r in result for x in _messages(r)]
    return [] if result is None else [result]


@pytest.mark.parametrize("tag", sorted(MAPPERS))
def test_random_messages_map_or_refuse(tag):
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(STRATEGIES[tag])
    def check(msg):
        try:
            result = MAPPERS[tag](msg, m.S2Ids(msg.efi_resource_id))
        except m.NotMappable:
            return
        for message in _messages(result):
            valid_s2(message)

    check()


def test_every_mapper_has_a_strategy():
    assert set(MAPPERS) <= set(STRATEGIES)
    assert st  # imported for readers who extend the strategies here
