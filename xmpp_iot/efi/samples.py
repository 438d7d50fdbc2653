"""Typical EFI messages of three appliances: a heat pump with a buffer tank (storage), a washing
machine (shiftable) and a PV inverter (inflexible, curtailable).

The examples, the demo neighbourhood and the tests use these so that they all speak about the same,
realistic devices. Every function takes the moment ``now`` (timezone-aware) and returns a valid message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .enums import Commodity, Currency, CurtailmentQuantity, DeviceClass
from .inflexible import (
    CurtailmentOption,
    CurtailmentProfile,
    CurtailmentProfileElement,
    CurtailmentRange,
    InflexibleCurtailmentOptions,
    InflexibleForecast,
    InflexibleInstruction,
    InflexibleRegistration,
)
from .messages import DeviceDescription, ElectricityMeasurement, HeatValues, Measurement
from .profiles import ElectricityProfile, ElectricityProfileElement, ProfileContainer
from .running_modes import Timer, Transition
from .shiftable import (
    SequentialProfile,
    SequentialProfileAlternative,
    SequentialProfileInstruction,
    ShiftableInstruction,
    ShiftableRegistration,
    ShiftableUpdate,
)
from .storage import (
    Actuator,
    ActuatorBehaviour,
    ActuatorInstruction,
    ActuatorStatus,
    LeakageElement,
    StorageDiscreteRunningMode,
    StorageDiscreteRunningModeElement,
    StorageInstruction,
    StorageRegistration,
    StorageStatus,
    StorageSystemDescription,
)

__all__ = [
    "heat_pump_instruction",
    "heat_pump_measurement",
    "heat_pump_registration",
    "heat_pump_status",
    "heat_pump_system",
    "pv_curtailment",
    "pv_forecast",
    "pv_options",
    "pv_registration",
    "washer_registration",
    "washer_start",
    "washer_update",
]

HEAT_PUMP_OFF, HEAT_PUMP_ON = 0, 1


def heat_pump_registration(resource: str, now: datetime) -> StorageRegistration:
    """A heat pump heating a 200 l buffer tank; the fill level is the tank temperature."""
    return StorageRegistration(
        efi_resource_id=resource, timestamp=now, instruction_processing_delay=timedelta(seconds=2),
        device_description=DeviceDescription(device_class=DeviceClass.HEATPUMP, label="heat pump + buffer"),
        currency=Currency.EUR, fill_level_label="buffer temperature", fill_level_unit="Degrees Celsius",
        actuators=(Actuator(id=0, label="compressor", supported_commodities=(Commodity.ELECTRICITY,)),),
    )


def heat_pump_system(resource: str, now: datetime, update_id: str = "sys-1") -> StorageSystemDescription:
    """Off or on (1.8 kW electric, heating the tank 0.001 °C/s) between 35 and 60 °C; a 10-minute
    minimum run time; the tank loses 0.0002 °C/s."""

    def mode(mode_id: int, label: str, power: float, rate: float) -> StorageDiscreteRunningMode:
        return StorageDiscreteRunningMode(id=mode_id, label=label, elements=(StorageDiscreteRunningModeElement(
            fill_level_lower_bound=35.0, fill_level_upper_bound=60.0, filling_rate=rate, electrical_power=power),))

    return StorageSystemDescription(
        efi_resource_id=resource, timestamp=now, flexibility_update_id=update_id, valid_from=now,
        actuator_behaviours=(ActuatorBehaviour(
            actuator_id=0,
            running_modes=(mode(HEAT_PUMP_OFF, "off", 0.0, 0.0), mode(HEAT_PUMP_ON, "on", 1800.0, 0.001)),
            timers=(Timer(id=0, label="minimum run time", duration=timedelta(minutes=10)),),
            transitions=(
                Transition(from_running_mode_id=HEAT_PUMP_OFF, to_running_mode_id=HEAT_PUMP_ON, start_timers=(0,)),
                Transition(from_running_mode_id=HEAT_PUMP_ON, to_running_mode_id=HEAT_PUMP_OFF, blocking_timers=(0,)),
            ),
        ),),
        leakage_behaviour=(LeakageElement(fill_level_lower_bound=35.0, fill_level_upper_bound=60.0,
                                          leakage_rate=0.0002),),
    )


def heat_pump_status(resource: str, now: datetime, update_id: str, temperature: float,
                     running: bool = False) -> StorageStatus:
    return StorageStatus(
        efi_resource_id=resource, timestamp=now, flexibility_update_id=update_id, valid_from=now,
        current_fill_level=temperature,
        actuator_statuses=(ActuatorStatus(actuator_id=0,
                                          current_running_mode=HEAT_PUMP_ON if running else HEAT_PUMP_OFF),),
    )


def heat_pump_instruction(resource: str, now: datetime, instruction_id: str, update_id: str,
                          mode: int = HEAT_PUMP_ON, start: datetime | None = None) -> StorageInstruction:
    return StorageInstruction(
        efi_resource_id=resource, timestamp=now, instruction_id=instruction_id, flexibility_update_id=update_id,
        actuator_instructions=(ActuatorInstruction(actuator_id=0, running_mode_id=mode, start_time=start or now),),
    )


def heat_pump_measurement(resource: str, now: datetime, power: float, temperature: float) -> Measurement:
    return Measurement(efi_resource_id=resource, timestamp=now, measurement_timestamp=now,
                       electricity=ElectricityMeasurement(power=power), heat=HeatValues(temperature=temperature))


def washer_registration(resource: str, now: datetime) -> ShiftableRegistration:
    return ShiftableRegistration(
        efi_resource_id=resource, timestamp=now, instruction_processing_delay=timedelta(seconds=5),
        device_description=DeviceDescription(device_class=DeviceClass.WASHING_MACHINE),
        supported_commodities=(Commodity.ELECTRICITY,),
    )


def washer_update(resource: str, now: datetime, update_id: str = "wash-1",
                  deadline: timedelta = timedelta(hours=8)) -> ShiftableUpdate:
    """A 40 °C program: 30 minutes of heating at 2 kW, then within an hour 45 minutes of washing and
    spinning at 300-500 W, all done before ``now + deadline``."""

    def phase(nr: int, pause: timedelta, steps: list[tuple[int, float]]) -> SequentialProfile:
        profile = ElectricityProfile(elements=tuple(
            ElectricityProfileElement(duration=timedelta(minutes=m), power=p) for m, p in steps))
        return SequentialProfile(sequence_nr=nr, max_interval_before=pause, alternatives=(
            SequentialProfileAlternative(alternative_nr=0, profiles=ProfileContainer(electricity=profile)),))

    return ShiftableUpdate(
        efi_resource_id=resource, timestamp=now, flexibility_update_id=update_id, valid_from=now,
        end_before=now + deadline,
        sequential_profiles=(phase(0, timedelta(0), [(15, 2000.0), (15, 2000.0)]),
                             phase(1, timedelta(hours=1), [(30, 300.0), (15, 500.0)])),
    )


def washer_start(resource: str, now: datetime, instruction_id: str, update_id: str,
                 start: datetime) -> ShiftableInstruction:
    """Start heating at ``start`` and washing right after it."""
    return ShiftableInstruction(
        efi_resource_id=resource, timestamp=now, instruction_id=instruction_id, flexibility_update_id=update_id,
        sequential_profile_instructions=(
            SequentialProfileInstruction(sequence_nr=0, alternative_nr=0, start_time=start),
            SequentialProfileInstruction(sequence_nr=1, alternative_nr=0, start_time=start + timedelta(minutes=30)),
        ),
    )


def pv_registration(resource: str, now: datetime) -> InflexibleRegistration:
    return InflexibleRegistration(
        efi_resource_id=resource, timestamp=now, instruction_processing_delay=timedelta(seconds=1),
        device_description=DeviceDescription(device_class=DeviceClass.PV_PANEL, label="roof PV 5 kWp"),
        supported_commodities=(Commodity.ELECTRICITY,),
    )


def pv_forecast(resource: str, now: datetime, update_id: str = "pv-fc-1") -> InflexibleForecast:
    """Production (negative) for the next hour in 15-minute slots."""
    return InflexibleForecast(
        efi_resource_id=resource, timestamp=now, flexibility_update_id=update_id, valid_from=now,
        forecast_profiles=ProfileContainer(electricity=ElectricityProfile(elements=tuple(
            ElectricityProfileElement(duration=timedelta(minutes=15), power=p)
            for p in (-4200.0, -4400.0, -4500.0, -4300.0)))),
    )


def pv_options(resource: str, now: datetime, update_id: str = "pv-curt-1") -> InflexibleCurtailmentOptions:
    """Production can be limited anywhere between 0 and 5 kW, for at least 15 minutes."""
    return InflexibleCurtailmentOptions(
        efi_resource_id=resource, timestamp=now, flexibility_update_id=update_id, valid_from=now,
        curtailment_options=(CurtailmentOption(
            curtailment_quantity=CurtailmentQuantity.ELECTRICITY_POWER,
            curtailment_ranges=(CurtailmentRange(lower_bound=-5000.0, upper_bound=0.0),),
            minimal_curtailment_duration=timedelta(minutes=15)),),
    )


def pv_curtailment(resource: str, now: datetime, instruction_id: str, update_id: str,
                   limit: float = -2000.0, duration: timedelta = timedelta(minutes=30)) -> InflexibleInstruction:
    """Limit production to ``-limit`` W from ``now`` for ``duration``."""
    return InflexibleInstruction(
        efi_resource_id=resource, timestamp=now, instruction_id=instruction_id, flexibility_update_id=update_id,
        curtailment_profile=CurtailmentProfile(
            curtailment_quantity=CurtailmentQuantity.ELECTRICITY_POWER, start_time=now,
            elements=(CurtailmentProfileElement(duration=duration, value=limit),)),
    )
