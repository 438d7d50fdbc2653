"""Property: every valid message of every EFI 2.0 type survives encode → decode unchanged, and what we
send validates against FAN's own schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

import xmpp_iot.efi as efi

FAN_XSD = Path(__file__).resolve().parents[3] / "shared" / "reference" / "efi" / "efi-2.0" / "efi-2.0.xsd"

ids = st.from_regex(r"[a-zA-Z0-9\-_:]{2,64}", fullmatch=True)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])
times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=zones)
numbers = st.floats(allow_nan=False, allow_infinity=False)
opt_numbers = st.none() | numbers
small_ints = st.integers(-(2**31), 2**31 - 1)
factors = st.floats(0.0, 1.0)
slot_durations = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400))
non_negative = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400))
costs = st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**9), max_value=10**9)


def tup(strategy, min_size: int = 1, max_size: int = 4, **kw):
    return st.lists(strategy, min_size=min_size, max_size=max_size, **kw).map(tuple)


@st.composite
def bounds(draw):
    a, b = draw(numbers), draw(numbers)
    return (a, b) if a <= b else (b, a)


header = {"efi_resource_id": ids, "timestamp": times}
update = {**header, "flexibility_update_id": ids, "valid_from": times}
instruction = {
    **header,
    "instruction_id": ids,
    "flexibility_update_id": ids,
    "is_emergency_instruction": st.booleans(),
}
registration = {
    **header,
    "instruction_processing_delay": non_negative,
    "device_description": st.builds(
        efi.DeviceDescription,
        device_class=st.sampled_from(efi.DeviceClass),
        serial_number=st.none() | text,
        label=st.none() | text,
    ),
    "currency": st.none() | st.sampled_from(efi.Currency),
}
commodities = tup(st.sampled_from(efi.Commodity))

probability = st.builds(
    efi.ProbabilityAttributes,
    the68_ppr_lower=numbers,
    the95_ppr_lower=numbers,
    expected=numbers,
    the95_ppr_upper=numbers,
    the68_ppr_upper=numbers,
)
probability_elements = tup(st.builds(efi.ProbabilityElement, duration=slot_durations, value=probability))
heat_element = st.builds(
    efi.HeatProfileElement,
    duration=slot_durations,
    temperature=opt_numbers,
    flow_rate=opt_numbers,
    thermal_power=opt_numbers,
)
heat_probability_element = st.builds(
    efi.HeatProbabilityProfileElement,
    duration=slot_durations,
    temperature=st.none() | probability,
    flow_rate=st.none() | probability,
    thermal_power=st.none() | probability,
)
profile_container = st.builds(
    efi.ProfileContainer,
    electricity=st.none()
    | st.builds(
        efi.ElectricityProfile,
        elements=tup(st.builds(efi.ElectricityProfileElement, duration=slot_durations, power=numbers)),
    )
    | st.builds(efi.ElectricityProbabilityProfile, elements=probability_elements),
    gas=st.none()
    | st.builds(
        efi.GasProfile,
        elements=tup(st.builds(efi.GasProfileElement, duration=slot_durations, flow_rate=numbers)),
    )
    | st.builds(efi.GasProbabilityProfile, elements=probability_elements),
    heat=st.none()
    | st.builds(efi.HeatProfile, elements=tup(heat_element))
    | st.builds(efi.HeatProbabilityProfile, elements=tup(heat_probability_element)),
)


@st.composite
def curtailment_option(draw):
    ranges = tuple(efi.CurtailmentRange(lower_bound=lo, upper_bound=hi) for lo, hi in draw(tup(bounds())))
    return efi.CurtailmentOption(
        curtailment_quantity=draw(st.sampled_from(efi.CurtailmentQuantity)),
        curtailment_ranges=ranges,
        minimal_curtailment_duration=draw(non_negative),
    )


@st.composite
def shiftable_update(draw):
    valid_from = draw(times)
    profiles = []
    for nr in draw(st.lists(small_ints, min_size=1, max_size=3, unique=True)):
        alternatives = tuple(
            efi.SequentialProfileAlternative(alternative_nr=a, profiles=draw(profile_container))
            for a in draw(st.lists(small_ints, min_size=1, max_size=3, unique=True))
        )
        profiles.append(
            efi.SequentialProfile(
                sequence_nr=nr, max_interval_before=draw(non_negative), alternatives=alternatives
            )
        )
    return efi.ShiftableUpdate(
        **{k: draw(v) for k, v in header.items()},
        flexibility_update_id=draw(ids),
        valid_from=valid_from,
        end_before=valid_from + draw(non_negative),
        sequential_profiles=tuple(profiles),
    )


commodity_values = {
    "running_cost": st.none() | costs,
    "electrical_power": opt_numbers,
    "gas_flow_rate": opt_numbers,
    "heat_temperature": opt_numbers,
    "heat_flow_rate": opt_numbers,
    "heat_thermal_power": opt_numbers,
}


@st.composite
def timers_and_transitions(draw, mode_ids: list[int]):
    timer_ids = draw(st.lists(small_ints, max_size=3, unique=True))
    timers = tuple(
        efi.Timer(
            id=t,
            label=draw(text),
            duration=draw(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=30))),
        )
        for t in timer_ids
    )
    refs = st.lists(st.sampled_from(timer_ids), max_size=2).map(tuple) if timer_ids else st.just(())
    transitions = tuple(
        efi.Transition(
            from_running_mode_id=draw(st.sampled_from(mode_ids)),
            to_running_mode_id=draw(st.sampled_from(mode_ids)),
            start_timers=draw(refs),
            blocking_timers=draw(refs),
            transition_cost=draw(opt_numbers),
            transition_duration=draw(st.none() | non_negative),
        )
        for _ in range(draw(st.integers(1, 3)))
    )
    return timers, transitions


def storage_point():
    return st.builds(efi.StorageOperatingPoint, filling_rate=numbers, **commodity_values)


@st.composite
def storage_mode(draw, mode_id: int):
    label = draw(text)
    lo, hi = draw(bounds())
    if draw(st.booleans()):
        elements = tuple(
            efi.StorageDiscreteRunningModeElement(
                fill_level_lower_bound=lo,
                fill_level_upper_bound=hi,
                filling_rate=draw(numbers),
                **{k: draw(v) for k, v in commodity_values.items()},
            )
            for _ in range(draw(st.integers(1, 2)))
        )
        return efi.StorageDiscreteRunningMode(id=mode_id, label=label, elements=elements)
    elements = tuple(
        efi.StorageContinuousRunningModeElement(
            fill_level_lower_bound=lo,
            fill_level_upper_bound=hi,
            lower_bound=draw(storage_point()),
            upper_bound=draw(storage_point()),
        )
        for _ in range(draw(st.integers(1, 2)))
    )
    return efi.StorageContinuousRunningMode(id=mode_id, label=label, elements=elements)


@st.composite
def storage_system_description(draw):
    behaviours = []
    for actuator_id in draw(st.lists(small_ints, min_size=1, max_size=2, unique=True)):
        mode_ids = draw(st.lists(small_ints, min_size=1, max_size=3, unique=True))
        timers, transitions = draw(timers_and_transitions(mode_ids))
        behaviours.append(
            efi.ActuatorBehaviour(
                actuator_id=actuator_id,
                running_modes=tuple(draw(storage_mode(m)) for m in mode_ids),
                timers=timers,
                transitions=transitions,
            )
        )
    leakage = tuple(
        efi.LeakageElement(fill_level_lower_bound=lo, fill_level_upper_bound=hi, leakage_rate=draw(numbers))
        for lo, hi in draw(tup(bounds(), min_size=0, max_size=2))
    )
    return efi.StorageSystemDescription(
        **{k: draw(v) for k, v in update.items()},
        actuator_behaviours=tuple(behaviours),
        leakage_behaviour=leakage,
    )


@st.composite
def adjustable_system_description(draw):
    mode_ids = draw(st.lists(small_ints, min_size=1, max_size=4, unique=True))
    modes = []
    for m in mode_ids:
        if draw(st.booleans()):
            modes.append(
                efi.AdjustableDiscreteRunningMode(
                    id=m, label=draw(text), **{k: draw(v) for k, v in commodity_values.items()}
                )
            )
        else:
            modes.append(
                efi.AdjustableContinuousRunningMode(
                    id=m,
                    label=draw(text),
                    lower_bound=draw(st.builds(efi.CommodityValues, **commodity_values)),
                    upper_bound=draw(st.builds(efi.CommodityValues, **commodity_values)),
                )
            )
    timers, transitions = draw(timers_and_transitions(mode_ids))
    return efi.AdjustableSystemDescription(
        **{k: draw(v) for k, v in update.items()},
        running_modes=tuple(modes),
        timers=timers,
        transitions=transitions,
    )


timer_updates = tup(st.builds(efi.TimerUpdate, timer_id=small_ints, finished_at=times), min_size=0)
status_optional = {
    "running_mode_factor": st.none() | factors,
    "previous_running_mode_id": st.none() | small_ints,
    "transition_timestamp": st.none() | times,
}


@st.composite
def target_profile(draw):
    elements = tuple(
        efi.TargetProfileElement(
            duration=draw(slot_durations), fill_level_lower_bound=lo, fill_level_upper_bound=hi
        )
        for lo, hi in draw(tup(bounds()))
    )
    return efi.TargetProfile(elements=elements)


@st.composite
def measurement(draw):
    electricity = draw(st.none() | st.builds(efi.ElectricityMeasurement, power=numbers))
    gas = draw(st.none() | st.builds(efi.GasMeasurement, flow_rate=numbers))
    heat = draw(
        st.none()
        | st.builds(efi.HeatValues, temperature=numbers, flow_rate=opt_numbers, thermal_power=opt_numbers)
    )
    if electricity is None and gas is None and heat is None:
        electricity = efi.ElectricityMeasurement(power=draw(numbers))
    return efi.Measurement(
        **{k: draw(v) for k, v in header.items()},
        measurement_timestamp=draw(times),
        electricity=electricity,
        gas=gas,
        heat=heat,
    )


STRATEGIES = {
    "InflexibleRegistration": st.builds(
        efi.InflexibleRegistration, **registration, supported_commodities=commodities
    ),
    "ShiftableRegistration": st.builds(
        efi.ShiftableRegistration, **registration, supported_commodities=commodities
    ),
    "AdjustableRegistration": st.builds(
        efi.AdjustableRegistration, **registration, supported_commodities=commodities
    ),
    "StorageRegistration": st.builds(
        efi.StorageRegistration,
        **registration,
        fill_level_label=text,
        fill_level_unit=text,
        actuators=st.lists(small_ints, min_size=1, max_size=3, unique=True).flatmap(
            lambda ids_: st.tuples(
                *[
                    st.builds(
                        efi.Actuator, id=st.just(i), supported_commodities=commodities, label=st.none() | text
                    )
                    for i in ids_
                ]
            )
        ),
    ),
    "InflexibleForecast": st.builds(efi.InflexibleForecast, **update, forecast_profiles=profile_container),
    "InflexibleCurtailmentOptions": st.builds(
        efi.InflexibleCurtailmentOptions,
        **update,
        curtailment_options=st.none() | tup(curtailment_option(), min_size=0),
    ),
    "InflexibleInstruction": st.builds(
        efi.InflexibleInstruction,
        **instruction,
        curtailment_profile=st.builds(
            efi.CurtailmentProfile,
            curtailment_quantity=st.sampled_from(efi.CurtailmentQuantity),
            start_time=times,
            elements=tup(st.builds(efi.CurtailmentProfileElement, duration=slot_durations, value=numbers)),
        ),
    ),
    "ShiftableUpdate": shiftable_update(),
    "ShiftableInstruction": st.builds(
        efi.ShiftableInstruction,
        **instruction,
        sequential_profile_instructions=tup(
            st.builds(
                efi.SequentialProfileInstruction,
                sequence_nr=small_ints,
                alternative_nr=small_ints,
                start_time=times,
            )
        ),
    ),
    "StorageSystemDescription": storage_system_description(),
    "StorageStatus": st.builds(
        efi.StorageStatus,
        **update,
        current_fill_level=numbers,
        actuator_statuses=st.lists(small_ints, max_size=3, unique=True).flatmap(
            lambda ids_: st.tuples(
                *[
                    st.builds(
                        efi.ActuatorStatus,
                        actuator_id=st.just(i),
                        current_running_mode=small_ints,
                        timer_updates=st.none() | timer_updates,
                        **status_optional,
                    )
                    for i in ids_
                ]
            )
        ),
    ),
    "StorageFillLevelTargetProfile": st.builds(
        efi.StorageFillLevelTargetProfile, **update, target_profile=target_profile()
    ),
    "StorageUsageForecast": st.builds(
        efi.StorageUsageForecast,
        **update,
        usage_forecast=st.builds(
            efi.StorageUsageProfile,
            elements=tup(st.builds(efi.StorageUsageElement, duration=slot_durations, usage_rate=numbers)),
        )
        | st.builds(efi.StorageUsageProbabilityProfile, elements=probability_elements),
    ),
    "StorageInstruction": st.builds(
        efi.StorageInstruction,
        **instruction,
        actuator_instructions=st.lists(small_ints, min_size=1, max_size=3, unique=True).flatmap(
            lambda ids_: st.tuples(
                *[
                    st.builds(
                        efi.ActuatorInstruction,
                        actuator_id=st.just(i),
                        running_mode_id=small_ints,
                        start_time=times,
                        running_mode_factor=st.none() | factors,
                    )
                    for i in ids_
                ]
            )
        ),
    ),
    "AdjustableSystemDescription": adjustable_system_description(),
    "AdjustableStatus": st.builds(
        efi.AdjustableStatus,
        **update,
        current_running_mode_id=small_ints,
        timer_updates=timer_updates,
        **status_optional,
    ),
    "AdjustableInstruction": st.builds(
        efi.AdjustableInstruction,
        **instruction,
        running_mode_id=small_ints,
        start_time=times,
        running_mode_factor=st.none() | factors,
    ),
    "InstructionStatusUpdate": st.builds(
        efi.InstructionStatusUpdate,
        **header,
        instruction_id=ids,
        status=st.sampled_from(efi.InstructionStatus),
        debug_information=st.none() | text,
    ),
    "FlexibilityRevoke": st.builds(efi.FlexibilityRevoke, **header),
    "InstructionRevoke": st.builds(efi.InstructionRevoke, **header, instruction_id=ids),
    "Measurement": measurement(),
}


def test_every_message_type_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(efi.MESSAGE_CLASSES)


@pytest.fixture(scope="module")
def fan_schema():
    if not FAN_XSD.exists():
        pytest.skip(f"FAN's schema not found at {FAN_XSD}")
    return etree.XMLSchema(etree.parse(str(FAN_XSD)))


@pytest.mark.parametrize("tag", sorted(STRATEGIES))
def test_round_trip(tag: str, fan_schema) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(STRATEGIES[tag])
    def check(msg: efi.EfiMessage) -> None:
        assert msg.TAG == tag
        data = efi.encode(msg)
        assert efi.decode(data) == msg
        assert fan_schema.validate(etree.fromstring(data)), fan_schema.error_log.last_error
        assert efi.decode_element(efi.encode_element(msg)) == msg

    check()


def test_decimal_running_cost_is_exact() -> None:
    mode = efi.AdjustableDiscreteRunningMode(id=0, label="on", running_cost=Decimal("0.000001"))
    msg = efi.AdjustableSystemDescription(
        efi_resource_id="gen-1",
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        flexibility_update_id="u1",
        valid_from=datetime(2024, 1, 1, tzinfo=UTC),
        running_modes=(mode,),
        transitions=(efi.Transition(from_running_mode_id=0, to_running_mode_id=0),),
    )
    data = efi.encode(msg)
    assert b"<efi:runningCost>0.000001</efi:runningCost>" in data
    assert efi.decode(data).running_modes[0].running_cost == Decimal("0.000001")
