"""Mapping between our EFI 2.0 classes and S2 (EN 50491-12-2, PyPI ``s2-python``), where one exists.

EFI's successor S2 has the same roles (Resource Manager, CEM) and control types that correspond to
EFI's categories. This module maps what has a counterpart:

=====================  ======================================================================
EFI                    S2
=====================  ======================================================================
storage                FRBC: SystemDescription (+ LeakageBehaviour), StorageStatus +
                       ActuatorStatus + TimerStatus, FillLevelTargetProfile, Instruction (both ways)
adjustable             OMBC: SystemDescription, Status + TimerStatus, Instruction (both ways)
shiftable              PPBC: PowerProfileDefinition, ScheduleInstruction (both ways)
inflexible             PEBC: PowerConstraints (curtailment options), Instruction (curtailment)
inflexible forecast    PowerForecast; storage usage forecast: FRBC.UsageForecast
generic                InstructionStatusUpdate (both ways), Measurement -> PowerMeasurement,
                       InstructionRevoke -> RevokeObject
=====================  ======================================================================

S2 identifies everything by UUID where EFI uses strings and small integers; :class:`S2Ids` derives
stable UUIDs (uuid5) from the EFI identifiers and remembers them, so an S2 instruction that comes back
maps to the EFI ids it was made from. Units: both count consumption positive; power W; EFI gas and
heat flow rates are m³/s, S2's l/s (times 1000); durations become milliseconds. What is lost is listed in
docs/efi-binding.md ("Mapping to S2").
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from s2python import common as s2
from s2python import frbc, ombc, pebc, ppbc
from s2python.generated.gen_s2 import (
    Commodity as S2Commodity,
)
from s2python.generated.gen_s2 import (
    CommodityQuantity,
    PEBCPowerEnvelopeConsequenceType,
    PEBCPowerEnvelopeLimitType,
    RevokableObjects,
)
from s2python.generated.gen_s2 import (
    InstructionStatus as S2Status,
)
from s2python.s2_validation_error import S2ValidationError

from .adjustable import (
    AdjustableContinuousRunningMode,
    AdjustableInstruction,
    AdjustableStatus,
    AdjustableSystemDescription,
)
from .enums import CurtailmentQuantity, InstructionStatus
from .inflexible import (
    CurtailmentProfile,
    CurtailmentProfileElement,
    InflexibleCurtailmentOptions,
    InflexibleForecast,
    InflexibleInstruction,
)
from .messages import InstructionRevoke, InstructionStatusUpdate, Measurement
from .profiles import ProbabilityAttributes, ProbabilityElement, ProfileContainer
from .running_modes import CommodityValues, Timer, Transition
from .shiftable import SequentialProfileInstruction, ShiftableInstruction, ShiftableUpdate
from .storage import (
    ActuatorInstruction,
    ActuatorStatus,
    StorageContinuousRunningMode,
    StorageFillLevelTargetProfile,
    StorageInstruction,
    StorageRegistration,
    StorageStatus,
    StorageSystemDescription,
    StorageUsageForecast,
)

__all__ = [
    "NotMappable",
    "S2Ids",
    "curtailment_of",
    "frbc_instruction_to_efi",
    "frbc_instructions",
    "frbc_status",
    "frbc_system_description",
    "frbc_target_profile",
    "frbc_usage_forecast",
    "instruction_status_from_s2",
    "instruction_status_to_s2",
    "ombc_instruction",
    "ombc_instruction_to_efi",
    "ombc_status",
    "ombc_system_description",
    "pebc_instruction",
    "pebc_power_constraints",
    "power_forecast",
    "power_measurement",
    "ppbc_power_profile",
    "ppbc_schedule_instructions",
    "ppbc_schedule_to_efi",
    "revoke_objects",
]

#: 1000 litres per cubic metre: EFI flow rates are m³/s, S2's l/s
_L_PER_M3 = 1000.0
F = TypeVar("F", bound=Callable)
_NS = uuid.UUID("6f2b6c43-3f0e-5a8e-9c53-9e5a1e2f0c11")  # our uuid5 namespace for EFI ids


class NotMappable(ValueError):
    """An EFI message (or part of one) that S2 cannot express."""


def _s2_rules(mapper: F) -> F:
    """S2's own validators (s2-python) have the last word on what S2 can express: a message they
    refuse is NotMappable, with their reason."""

    @functools.wraps(mapper)
    def wrapper(*args, **kwargs):
        try:
            return mapper(*args, **kwargs)
        except S2ValidationError as exc:
            raise NotMappable(f"S2 refuses it: {exc}") from None

    return wrapper  # type: ignore[return-value]


@dataclass
class S2Ids:
    """Stable UUIDs for EFI identifiers, and the way back."""

    resource: str
    _back: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)
    #: operation modes whose S2 factor runs the other way round (see ``_power_ranges``)
    mirrored: set[uuid.UUID] = field(default_factory=set)

    def of(self, kind: str, efi_id: object) -> uuid.UUID:
        """UUID of an EFI id of some kind (``"actuator"``, ``"mode:0"``, ``"instruction"``, ...)."""
        key = f"{self.resource}/{kind}/{efi_id}"
        value = uuid.uuid5(_NS, key)
        self._back[value] = (kind, str(efi_id))
        return value

    def back(self, value: uuid.UUID, kind: str) -> str:
        """The EFI id a UUID was made from; NotMappable when it was not made here."""
        found = self._back.get(value)
        if found is None or found[0] != kind:
            raise NotMappable(f"{value} is not a known {kind} of {self.resource!r}")
        return found[1]

    def message_id(self, *parts: object) -> uuid.UUID:
        return uuid.uuid5(_NS, "/".join((self.resource, "message", *map(str, parts))))


def _litres(cubic_metres: float) -> float:
    value = cubic_metres * _L_PER_M3
    if not math.isfinite(value):
        raise NotMappable(f"{cubic_metres} m3/s is too large for S2 in l/s")
    return value


def _ms(value: timedelta) -> s2.Duration:
    return s2.Duration.from_timedelta(value)


# -- generic ------------------------------------------------------------------------------------

_STATUS_TO_S2 = {s: S2Status(s.value) for s in InstructionStatus}
_STATUS_FROM_S2 = {**{v: k for k, v in _STATUS_TO_S2.items()}, S2Status.REVOKED: InstructionStatus.ABORTED}


@_s2_rules
def instruction_status_to_s2(update: InstructionStatusUpdate, ids: S2Ids) -> s2.InstructionStatusUpdate:
    return s2.InstructionStatusUpdate(
        message_id=ids.message_id("status", update.instruction_id, update.status.value),
        instruction_id=ids.of("instruction", update.instruction_id), status_type=_STATUS_TO_S2[update.status],
        timestamp=update.timestamp,
    )


@_s2_rules
def instruction_status_from_s2(update: s2.InstructionStatusUpdate, ids: S2Ids) -> InstructionStatusUpdate:
    """S2's REVOKED becomes ABORTED (EFI has no REVOKED); NEW has no EFI counterpart."""
    if update.status_type not in _STATUS_FROM_S2:
        raise NotMappable(f"S2 status {update.status_type.value} has no EFI counterpart")
    return InstructionStatusUpdate(
        efi_resource_id=ids.resource, timestamp=update.timestamp,
        instruction_id=ids.back(update.instruction_id, "instruction"), status=_STATUS_FROM_S2[update.status_type],
    )


@_s2_rules
def power_measurement(msg: Measurement, ids: S2Ids) -> s2.PowerMeasurement:
    """EFI's single electric power is taken as symmetric over three phases (EFI does not say)."""
    values = []
    if msg.electricity is not None:
        values.append(s2.PowerValue(commodity_quantity=CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC,
                                    value=msg.electricity.power))
    if msg.gas is not None:
        values.append(s2.PowerValue(commodity_quantity=CommodityQuantity.NATURAL_GAS_FLOW_RATE,
                                    value=_litres(msg.gas.flow_rate)))
    if msg.heat is not None:
        for quantity, value in _heat_values(msg.heat.temperature, msg.heat.flow_rate, msg.heat.thermal_power):
            values.append(s2.PowerValue(commodity_quantity=quantity, value=value))
    return s2.PowerMeasurement(message_id=ids.message_id("measurement", msg.measurement_timestamp.isoformat()),
                               measurement_timestamp=msg.measurement_timestamp, values=values)


def _heat_values(temperature, flow_rate, thermal_power) -> list[tuple[CommodityQuantity, float]]:
    out = []
    if temperature is not None:
        out.append((CommodityQuantity.HEAT_TEMPERATURE, temperature))
    if flow_rate is not None:
        out.append((CommodityQuantity.HEAT_FLOW_RATE, _litres(flow_rate)))
    if thermal_power is not None:
        out.append((CommodityQuantity.HEAT_THERMAL_POWER, thermal_power))
    return out


def _power_values(values: CommodityValues) -> list[tuple[CommodityQuantity, float]]:
    out = []
    if values.electrical_power is not None:
        out.append((CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC, values.electrical_power))
    if values.gas_flow_rate is not None:
        out.append((CommodityQuantity.NATURAL_GAS_FLOW_RATE, _litres(values.gas_flow_rate)))
    return out + _heat_values(values.heat_temperature, values.heat_flow_rate, values.heat_thermal_power)


def _power_ranges(low: CommodityValues, high: CommodityValues,
                  extra: tuple[float, float] | None = None) -> tuple[list[s2.PowerRange], bool]:
    """S2 power ranges from a mode's two operating points (the same point twice for a discrete mode),
    and whether the mode had to be mirrored.

    S2 ranges run from low to high and the operation-mode factor moves every range of a mode together
    (0 = start, 1 = end). EFI's bounds are two operating points in any order: if every value falls
    from the first to the second point the mode is mirrored (S2 factor = 1 - EFI factor); values that
    move in opposite directions (``extra``: FRBC's fill rate, too) cannot be expressed.
    """
    lows, highs = dict(_power_values(low)), dict(_power_values(high))
    if lows.keys() != highs.keys():
        raise NotMappable("a continuous running mode gives different commodities at its two bounds")
    if not lows:
        raise NotMappable("an S2 operation mode needs at least one power value; this running mode has none")
    pairs = [(lows[q], highs[q]) for q in lows] + ([extra] if extra else [])
    rising = all(a <= b for a, b in pairs)
    falling = all(a >= b for a, b in pairs)
    if not (rising or falling):
        raise NotMappable("a running mode whose values move in opposite directions has no S2 operation mode")
    mirrored = not rising
    ranges = [s2.PowerRange(commodity_quantity=q, start_of_range=min(lows[q], highs[q]),
                            end_of_range=max(lows[q], highs[q])) for q in lows]
    return ranges, mirrored


_COMMODITY_OF = {
    CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC: S2Commodity.ELECTRICITY,
    CommodityQuantity.NATURAL_GAS_FLOW_RATE: S2Commodity.GAS,
    CommodityQuantity.HEAT_TEMPERATURE: S2Commodity.HEAT,
    CommodityQuantity.HEAT_FLOW_RATE: S2Commodity.HEAT,
    CommodityQuantity.HEAT_THERMAL_POWER: S2Commodity.HEAT,
}


def _cost_range(low: CommodityValues, high: CommodityValues) -> s2.NumberRange | None:
    if low.running_cost is None or high.running_cost is None:
        return None
    a, b = sorted((float(low.running_cost), float(high.running_cost)))
    return s2.NumberRange(start_of_range=a, end_of_range=b)


def _factor(factor: float | None, mode: uuid.UUID, ids: S2Ids) -> float:
    """EFI running-mode factor (absent: 0) → S2 operation-mode factor, and back (an involution)."""
    value = 0.0 if factor is None else factor
    return 1.0 - value if mode in ids.mirrored else value


# -- storage <-> FRBC ---------------------------------------------------------------------------

@_s2_rules
def frbc_system_description(registration: StorageRegistration, system: StorageSystemDescription,
                            ids: S2Ids) -> tuple[frbc.FRBCSystemDescription, frbc.FRBCLeakageBehaviour | None]:
    """The registration's actuators with the system description's running modes, as S2 describes them.

    A discrete EFI mode becomes an operation mode whose ranges are single points; a continuous one keeps
    its lower and upper operating points as the ranges (S2 interpolates the same way, by a factor).
    """
    actuators = []
    levels: list[float] = []
    for behaviour in system.actuator_behaviours:
        aid = behaviour.actuator_id
        modes = []
        for mode in behaviour.running_modes:
            elements = []
            mode_id = ids.of(f"mode:{aid}", mode.id)
            for el in mode.elements:
                levels += [el.fill_level_lower_bound, el.fill_level_upper_bound]
                if isinstance(mode, StorageContinuousRunningMode):
                    low, high = el.lower_bound, el.upper_bound
                else:
                    low = high = el
                powers, mirrored = _power_ranges(low, high, (low.filling_rate, high.filling_rate))
                if mirrored:
                    ids.mirrored.add(mode_id)
                    low, high = high, low
                costs = _cost_range(low, high)
                elements.append(frbc.FRBCOperationModeElement(
                    fill_level_range=s2.NumberRange(start_of_range=el.fill_level_lower_bound,
                                                    end_of_range=el.fill_level_upper_bound),
                    fill_rate=s2.NumberRange(start_of_range=low.filling_rate, end_of_range=high.filling_rate),
                    power_ranges=powers, running_costs=costs,
                ))
            modes.append(frbc.FRBCOperationMode(id=mode_id, diagnostic_label=mode.label,
                                                elements=elements, abnormal_condition_only=False))
        used = {_COMMODITY_OF[r.commodity_quantity] for mode in modes for el in mode.elements for r in el.power_ranges}
        actuators.append(frbc.FRBCActuatorDescription(
            id=ids.of("actuator", aid), diagnostic_label=next(
                (a.label for a in registration.actuators if a.id == aid), None),
            supported_commodities=sorted(used, key=lambda c: c.value),
            operation_modes=modes,
            transitions=[_transition(t, aid, ids) for t in behaviour.transitions],
            timers=[_timer(t, aid, ids) for t in behaviour.timers],
        ))
    storage = frbc.FRBCStorageDescription(
        diagnostic_label=registration.fill_level_unit, fill_level_label=registration.fill_level_label,
        provides_leakage_behaviour=bool(system.leakage_behaviour), provides_fill_level_target_profile=True,
        provides_usage_forecast=True,
        fill_level_range=s2.NumberRange(start_of_range=min(levels), end_of_range=max(levels)),
    )
    description = frbc.FRBCSystemDescription(
        message_id=ids.message_id("system", system.flexibility_update_id), valid_from=system.valid_from,
        actuators=actuators, storage=storage,
    )
    leakage = None
    if system.leakage_behaviour:
        leakage = frbc.FRBCLeakageBehaviour(
            message_id=ids.message_id("leakage", system.flexibility_update_id), valid_from=system.valid_from,
            elements=[frbc.FRBCLeakageBehaviourElement(
                fill_level_range=s2.NumberRange(start_of_range=e.fill_level_lower_bound,
                                                end_of_range=e.fill_level_upper_bound),
                leakage_rate=e.leakage_rate) for e in system.leakage_behaviour],
        )
    return description, leakage


def _transition(t: Transition, actuator: int, ids: S2Ids) -> s2.Transition:
    return s2.Transition(
        id=ids.of(f"transition:{actuator}", f"{t.from_running_mode_id}-{t.to_running_mode_id}"),
        from_=ids.of(f"mode:{actuator}", t.from_running_mode_id), to=ids.of(f"mode:{actuator}", t.to_running_mode_id),
        start_timers=[ids.of(f"timer:{actuator}", i) for i in t.start_timers],
        blocking_timers=[ids.of(f"timer:{actuator}", i) for i in t.blocking_timers],
        transition_costs=t.transition_cost,
        transition_duration=None if t.transition_duration is None else _ms(t.transition_duration),
        abnormal_condition_only=False,
    )


def _timer(t: Timer, actuator: int, ids: S2Ids) -> s2.Timer:
    return s2.Timer(id=ids.of(f"timer:{actuator}", t.id), diagnostic_label=t.label, duration=_ms(t.duration))


@_s2_rules
def frbc_status(status: StorageStatus, ids: S2Ids) -> list:
    """StorageStatus → FRBC.StorageStatus, one FRBC.ActuatorStatus per actuator and one
    FRBC.TimerStatus per running timer (a continuous mode without a factor is at factor 0)."""
    out: list = [frbc.FRBCStorageStatus(message_id=ids.message_id("storage-status", status.flexibility_update_id),
                                        present_fill_level=status.current_fill_level)]
    for a in status.actuator_statuses:
        out.append(_actuator_status(a, status, ids))
        for t in a.timer_updates or ():
            out.append(frbc.FRBCTimerStatus(
                message_id=ids.message_id("timer-status", status.flexibility_update_id, a.actuator_id, t.timer_id),
                timer_id=ids.of(f"timer:{a.actuator_id}", t.timer_id), actuator_id=ids.of("actuator", a.actuator_id),
                finished_at=t.finished_at))
    return out


def _actuator_status(a: ActuatorStatus, status: StorageStatus, ids: S2Ids) -> frbc.FRBCActuatorStatus:
    aid = a.actuator_id
    return frbc.FRBCActuatorStatus(
        message_id=ids.message_id("actuator-status", status.flexibility_update_id, aid),
        actuator_id=ids.of("actuator", aid), active_operation_mode_id=ids.of(f"mode:{aid}", a.current_running_mode),
        operation_mode_factor=_factor(a.running_mode_factor, ids.of(f"mode:{aid}", a.current_running_mode), ids),
        previous_operation_mode_id=(None if a.previous_running_mode_id is None
                                    else ids.of(f"mode:{aid}", a.previous_running_mode_id)),
        transition_timestamp=a.transition_timestamp,
    )


@_s2_rules
def frbc_target_profile(msg: StorageFillLevelTargetProfile, ids: S2Ids) -> frbc.FRBCFillLevelTargetProfile:
    return frbc.FRBCFillLevelTargetProfile(
        message_id=ids.message_id("target", msg.flexibility_update_id), start_time=msg.valid_from,
        elements=[frbc.FRBCFillLevelTargetProfileElement(
            duration=_ms(e.duration), fill_level_range=s2.NumberRange(start_of_range=e.fill_level_lower_bound,
                                                                      end_of_range=e.fill_level_upper_bound))
            for e in msg.target_profile.elements],
    )


@_s2_rules
def frbc_instructions(msg: StorageInstruction, ids: S2Ids) -> list[frbc.FRBCInstruction]:
    """One FRBC.Instruction per actuator instruction (S2 instructs one actuator at a time); their ids
    are derived from the EFI instruction id and the actuator."""
    return [
        frbc.FRBCInstruction(
            message_id=ids.message_id("instruction", msg.instruction_id, a.actuator_id),
            id=ids.of("instruction", msg.instruction_id if len(msg.actuator_instructions) == 1
                      else f"{msg.instruction_id}#{a.actuator_id}"),
            actuator_id=ids.of("actuator", a.actuator_id),
            operation_mode=ids.of(f"mode:{a.actuator_id}", a.running_mode_id),
            operation_mode_factor=_factor(a.running_mode_factor, ids.of(f"mode:{a.actuator_id}", a.running_mode_id),
                                          ids),
            execution_time=a.start_time, abnormal_condition=msg.is_emergency_instruction,
        )
        for a in msg.actuator_instructions
    ]


@_s2_rules
def frbc_instruction_to_efi(instruction: frbc.FRBCInstruction, ids: S2Ids, *, flexibility_update_id: str,
                            timestamp: datetime) -> StorageInstruction:
    """An S2 instruction (made by :func:`frbc_instructions` or with ids from :func:`frbc_system_description`)
    as EFI; S2 does not name the flexibility it answers, so the caller does."""
    actuator = int(ids.back(instruction.actuator_id, "actuator"))
    mode = int(ids.back(instruction.operation_mode, f"mode:{actuator}"))
    try:
        instruction_id = ids.back(instruction.id, "instruction").partition("#")[0]
    except NotMappable:
        instruction_id = str(instruction.id)
    return StorageInstruction(
        efi_resource_id=ids.resource, timestamp=timestamp, instruction_id=instruction_id[:64],
        flexibility_update_id=flexibility_update_id, is_emergency_instruction=instruction.abnormal_condition,
        actuator_instructions=(ActuatorInstruction(actuator_id=actuator, running_mode_id=mode,
                                                   start_time=instruction.execution_time,
                                                   running_mode_factor=_factor(
                                                       instruction.operation_mode_factor, instruction.operation_mode,
                                                       ids)),),
    )


# -- shiftable <-> PPBC -------------------------------------------------------------------------

@_s2_rules
def ppbc_power_profile(msg: ShiftableUpdate, ids: S2Ids) -> ppbc.PPBCPowerProfileDefinition:
    """Each sequential profile is a power sequence container, each alternative a power sequence.
    Only electricity profiles map (PPBC's elements carry all commodities with one duration)."""
    containers = []
    for sp in msg.sequential_profiles:
        sequences = []
        for alt in sp.alternatives:
            profiles = alt.profiles
            if profiles.gas is not None or profiles.heat is not None or profiles.electricity is None:
                raise NotMappable("only electricity profiles map to PPBC power sequences")
            elements = []
            for el in profiles.electricity.elements:
                expected = getattr(el, "power", None)
                if expected is None:
                    raise NotMappable("probability profiles of a shiftable program do not map to PPBC")
                elements.append(ppbc.PPBCPowerSequenceElement(duration=_ms(el.duration), power_values=[
                    s2.PowerForecastValue(value_expected=expected,
                                          commodity_quantity=CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC)]))
            sequences.append(ppbc.PPBCPowerSequence(
                id=ids.of(f"alternative:{sp.sequence_nr}", alt.alternative_nr), elements=elements,
                is_interruptible=False, max_pause_before=_ms(sp.max_interval_before), abnormal_condition_only=False))
        containers.append(ppbc.PPBCPowerSequenceContainer(id=ids.of("sequence", sp.sequence_nr),
                                                          power_sequences=sequences))
    return ppbc.PPBCPowerProfileDefinition(
        message_id=ids.message_id("profile", msg.flexibility_update_id), id=ids.of("update", msg.flexibility_update_id),
        start_time=msg.valid_from, end_time=msg.end_before, power_sequences_containers=containers,
    )


@_s2_rules
def ppbc_schedule_instructions(msg: ShiftableInstruction, ids: S2Ids) -> list[ppbc.PPBCScheduleInstruction]:
    """One ScheduleInstruction per sequential profile instruction (ids: instruction id + sequence nr)."""
    return [
        ppbc.PPBCScheduleInstruction(
            message_id=ids.message_id("schedule", msg.instruction_id, step.sequence_nr),
            id=ids.of("instruction", f"{msg.instruction_id}#{step.sequence_nr}"),
            power_profile_id=ids.of("update", msg.flexibility_update_id),
            sequence_container_id=ids.of("sequence", step.sequence_nr),
            power_sequence_id=ids.of(f"alternative:{step.sequence_nr}", step.alternative_nr),
            execution_time=step.start_time, abnormal_condition=msg.is_emergency_instruction,
        )
        for step in msg.sequential_profile_instructions
    ]


@_s2_rules
def ppbc_schedule_to_efi(instructions: list[ppbc.PPBCScheduleInstruction], ids: S2Ids, *,
                         timestamp: datetime) -> ShiftableInstruction:
    """S2 schedule instructions for one power profile → one EFI ShiftableInstruction."""
    if not instructions:
        raise NotMappable("no schedule instructions")
    profiles = {i.power_profile_id for i in instructions}
    if len(profiles) != 1:
        raise NotMappable("EFI instructs one ShiftableUpdate at a time")
    steps = []
    for i in instructions:
        sequence = int(ids.back(i.sequence_container_id, "sequence"))
        steps.append(SequentialProfileInstruction(
            sequence_nr=sequence, alternative_nr=int(ids.back(i.power_sequence_id, f"alternative:{sequence}")),
            start_time=i.execution_time))
    first = ids.back(instructions[0].id, "instruction").partition("#")[0]
    return ShiftableInstruction(
        efi_resource_id=ids.resource, timestamp=timestamp, instruction_id=first,
        flexibility_update_id=ids.back(profiles.pop(), "update"),
        is_emergency_instruction=any(i.abnormal_condition for i in instructions),
        sequential_profile_instructions=tuple(sorted(steps, key=lambda s: s.sequence_nr)),
    )


# -- inflexible -> PEBC -------------------------------------------------------------------------

def _electric_only(quantity: CurtailmentQuantity) -> None:
    if quantity is not CurtailmentQuantity.ELECTRICITY_POWER:
        raise NotMappable(f"PEBC constrains electric power only, not {quantity.value}")


@_s2_rules
def pebc_power_constraints(msg: InflexibleCurtailmentOptions, ids: S2Ids) -> pebc.PEBCPowerConstraints:
    """Electric-power curtailment ranges as allowed limit ranges (both an upper and a lower limit may be
    set anywhere in each range); curtailed energy is lost (VANISH), as with curtailed PV."""
    ranges = []
    for option in msg.curtailment_options or ():
        _electric_only(option.curtailment_quantity)
        for r in option.curtailment_ranges:
            for limit in (PEBCPowerEnvelopeLimitType.UPPER_LIMIT, PEBCPowerEnvelopeLimitType.LOWER_LIMIT):
                ranges.append(pebc.PEBCAllowedLimitRange(
                    commodity_quantity=CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC, limit_type=limit,
                    range_boundary=s2.NumberRange(start_of_range=r.lower_bound, end_of_range=r.upper_bound),
                    abnormal_condition_only=False))
    if not ranges:
        raise NotMappable("no electric-power curtailment options")
    return pebc.PEBCPowerConstraints(
        message_id=ids.message_id("constraints", msg.flexibility_update_id),
        id=ids.of("update", msg.flexibility_update_id), valid_from=msg.valid_from, valid_until=None,
        consequence_type=PEBCPowerEnvelopeConsequenceType.VANISH, allowed_limit_ranges=ranges,
    )


@_s2_rules
def pebc_instruction(msg: InflexibleInstruction, ids: S2Ids) -> pebc.PEBCInstruction:
    """A curtailment profile as a power envelope: production limited to [value, 0] (value < 0) or
    consumption to [0, value] (value > 0), as EFI defines the curtailment value."""
    profile: CurtailmentProfile = msg.curtailment_profile
    _electric_only(profile.curtailment_quantity)
    elements = [pebc.PEBCPowerEnvelopeElement(duration=_ms(e.duration), lower_limit=min(e.value, 0.0),
                                              upper_limit=max(e.value, 0.0)) for e in profile.elements]
    envelope = pebc.PEBCPowerEnvelope(id=str(ids.of("envelope", msg.instruction_id)),
                                      commodity_quantity=CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC,
                                      power_envelope_elements=elements)
    return pebc.PEBCInstruction(
        message_id=ids.message_id("pebc-instruction", msg.instruction_id), id=ids.of("instruction", msg.instruction_id),
        execution_time=profile.start_time, abnormal_condition=msg.is_emergency_instruction,
        power_constraints_id=ids.of("update", msg.flexibility_update_id), power_envelopes=[envelope],
    )


@_s2_rules
def curtailment_of(instruction: pebc.PEBCInstruction) -> tuple[CurtailmentProfileElement, ...]:
    """The EFI curtailment elements of a PEBC envelope (the limit that is not 0 is the EFI value)."""
    out = []
    for envelope in instruction.power_envelopes:
        for e in envelope.power_envelope_elements:
            value = e.lower_limit if e.lower_limit < 0 else e.upper_limit
            out.append(CurtailmentProfileElement(duration=timedelta(milliseconds=e.duration.root), value=value))
    return tuple(out)


# -- adjustable <-> OMBC ------------------------------------------------------------------------
# OMBC has no actuators: the adjustable device is one, and its ids use actuator number 0.

@_s2_rules
def ombc_system_description(msg: AdjustableSystemDescription, ids: S2Ids) -> ombc.OMBCSystemDescription:
    modes = []
    for mode in msg.running_modes:
        if isinstance(mode, AdjustableContinuousRunningMode):
            low, high = mode.lower_bound, mode.upper_bound
        else:
            low = high = mode
        mode_id = ids.of("mode:0", mode.id)
        powers, mirrored = _power_ranges(low, high)
        if mirrored:
            ids.mirrored.add(mode_id)
            low, high = high, low
        costs = _cost_range(low, high)
        modes.append(ombc.OMBCOperationMode(id=mode_id, diagnostic_label=mode.label,
                                            power_ranges=powers, running_costs=costs, abnormal_condition_only=False))
    return ombc.OMBCSystemDescription(
        message_id=ids.message_id("system", msg.flexibility_update_id), valid_from=msg.valid_from,
        operation_modes=modes, transitions=[_transition(t, 0, ids) for t in msg.transitions],
        timers=[_timer(t, 0, ids) for t in msg.timers],
    )


@_s2_rules
def ombc_status(msg: AdjustableStatus, ids: S2Ids) -> list:
    """AdjustableStatus → OMBC.Status and one OMBC.TimerStatus per running timer."""
    out: list = [ombc.OMBCStatus(
        message_id=ids.message_id("status", msg.flexibility_update_id),
        active_operation_mode_id=str(ids.of("mode:0", msg.current_running_mode_id)),
        operation_mode_factor=_factor(msg.running_mode_factor, ids.of("mode:0", msg.current_running_mode_id), ids),
        previous_operation_mode_id=(None if msg.previous_running_mode_id is None
                                    else str(ids.of("mode:0", msg.previous_running_mode_id))),
        transition_timestamp=msg.transition_timestamp,
    )]
    for t in msg.timer_updates:
        out.append(ombc.OMBCTimerStatus(message_id=ids.message_id("timer-status", msg.flexibility_update_id, t.timer_id),
                                        timer_id=ids.of("timer:0", t.timer_id), finished_at=t.finished_at))
    return out


@_s2_rules
def ombc_instruction(msg: AdjustableInstruction, ids: S2Ids) -> ombc.OMBCInstruction:
    return ombc.OMBCInstruction(
        message_id=ids.message_id("ombc-instruction", msg.instruction_id), id=ids.of("instruction", msg.instruction_id),
        execution_time=msg.start_time, operation_mode_id=ids.of("mode:0", msg.running_mode_id),
        operation_mode_factor=_factor(msg.running_mode_factor, ids.of("mode:0", msg.running_mode_id), ids),
        abnormal_condition=msg.is_emergency_instruction,
    )


@_s2_rules
def ombc_instruction_to_efi(instruction: ombc.OMBCInstruction, ids: S2Ids, *, flexibility_update_id: str,
                            timestamp: datetime) -> AdjustableInstruction:
    """An OMBC instruction as EFI; as for FRBC, the caller names the flexibility it answers."""
    try:
        instruction_id = ids.back(instruction.id, "instruction")
    except NotMappable:
        instruction_id = str(instruction.id)
    return AdjustableInstruction(
        efi_resource_id=ids.resource, timestamp=timestamp, instruction_id=instruction_id[:64],
        flexibility_update_id=flexibility_update_id, is_emergency_instruction=instruction.abnormal_condition,
        running_mode_id=int(ids.back(instruction.operation_mode_id, "mode:0")), start_time=instruction.execution_time,
        running_mode_factor=_factor(instruction.operation_mode_factor, instruction.operation_mode_id, ids),
    )


# -- forecasts ----------------------------------------------------------------------------------

def _forecast_value(quantity: CommodityQuantity, value: float | ProbabilityAttributes,
                    scale: float = 1.0) -> s2.PowerForecastValue:
    if isinstance(value, ProbabilityAttributes):
        return s2.PowerForecastValue(
            commodity_quantity=quantity, value_expected=_scaled(value.expected, scale),
            value_lower_68PPR=_scaled(value.the68_ppr_lower, scale), value_upper_68PPR=_scaled(value.the68_ppr_upper, scale),
            value_lower_95PPR=_scaled(value.the95_ppr_lower, scale), value_upper_95PPR=_scaled(value.the95_ppr_upper, scale),
        )
    return s2.PowerForecastValue(commodity_quantity=quantity, value_expected=_scaled(value, scale))


def _scaled(value: float, scale: float) -> float:
    return _litres(value) if scale != 1.0 else value


def _profile_columns(profiles: ProfileContainer) -> list[list[tuple[timedelta, list[s2.PowerForecastValue]]]]:
    """Each commodity profile as a list of (duration, S2 values) slots."""
    columns = []
    if profiles.electricity is not None:
        columns.append([(e.duration, [_forecast_value(CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC,
                                                      e.value if isinstance(e, ProbabilityElement) else e.power)])
                        for e in profiles.electricity.elements])
    if profiles.gas is not None:
        columns.append([(e.duration, [_forecast_value(CommodityQuantity.NATURAL_GAS_FLOW_RATE,
                                                      e.value if isinstance(e, ProbabilityElement) else e.flow_rate,
                                                      _L_PER_M3)])
                        for e in profiles.gas.elements])
    if profiles.heat is not None:
        heat = []
        for e in profiles.heat.elements:
            values = []
            for quantity, value, scale in ((CommodityQuantity.HEAT_TEMPERATURE, e.temperature, 1.0),
                                           (CommodityQuantity.HEAT_FLOW_RATE, e.flow_rate, _L_PER_M3),
                                           (CommodityQuantity.HEAT_THERMAL_POWER, e.thermal_power, 1.0)):
                if value is not None:
                    values.append(_forecast_value(quantity, value, scale))
            heat.append((e.duration, values))
        columns.append(heat)
    return columns


@_s2_rules
def power_forecast(msg: InflexibleForecast, ids: S2Ids) -> s2.PowerForecast:
    """An inflexible forecast as S2's PowerForecast, starting at ``valid_from``. S2 gives every element
    one duration for all commodities, so the commodity profiles must share their timeslots."""
    columns = _profile_columns(msg.forecast_profiles)
    if not columns:
        raise NotMappable("the forecast has no profile")
    durations = [d for d, _ in columns[0]]
    if any([d for d, _ in column] != durations for column in columns[1:]):
        raise NotMappable("S2 needs the commodity profiles of a forecast to share their timeslots")
    elements = [s2.PowerForecastElement(duration=_ms(d), power_values=[v for column in columns for v in column[i][1]])
                for i, d in enumerate(durations)]
    return s2.PowerForecast(message_id=ids.message_id("forecast", msg.flexibility_update_id), start_time=msg.valid_from,
                            elements=elements)


@_s2_rules
def frbc_usage_forecast(msg: StorageUsageForecast, ids: S2Ids) -> frbc.FRBCUsageForecast:
    """Usage rates (fill-level unit per second), with the probability ranges when EFI gives them."""
    elements = []
    for e in msg.usage_forecast.elements:
        if isinstance(e, ProbabilityElement):
            v = e.value
            elements.append(frbc.FRBCUsageForecastElement(
                duration=_ms(e.duration), usage_rate_expected=v.expected,
                usage_rate_lower_68PPR=v.the68_ppr_lower, usage_rate_upper_68PPR=v.the68_ppr_upper,
                usage_rate_lower_95PPR=v.the95_ppr_lower, usage_rate_upper_95PPR=v.the95_ppr_upper))
        else:
            elements.append(frbc.FRBCUsageForecastElement(duration=_ms(e.duration), usage_rate_expected=e.usage_rate))
    return frbc.FRBCUsageForecast(message_id=ids.message_id("usage", msg.flexibility_update_id),
                                  start_time=msg.valid_from, elements=elements)


_REVOKABLE = {
    "FRBC.Instruction": RevokableObjects.FRBC_Instruction,
    "PPBC.ScheduleInstruction": RevokableObjects.PPBC_ScheduleInstruction,
    "PEBC.Instruction": RevokableObjects.PEBC_Instruction,
    "OMBC.Instruction": RevokableObjects.OMBC_Instruction,
}


@_s2_rules
def revoke_objects(msg: InstructionRevoke, sent: list, ids: S2Ids) -> list[s2.RevokeObject]:
    """An InstructionRevoke as one S2 RevokeObject per S2 instruction made from that EFI instruction
    (``sent``: what :func:`frbc_instructions` and friends returned for it)."""
    return [
        s2.RevokeObject(message_id=ids.message_id("revoke", msg.instruction_id, i),
                        object_type=_REVOKABLE[instruction.message_type], object_id=instruction.id)
        for i, instruction in enumerate(sent)
    ]
