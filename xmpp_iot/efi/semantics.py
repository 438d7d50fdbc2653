"""Rules of EFI 2.0 that the XML Schema cannot express, checked on decoded and to-be-encoded messages.

Each rule comes from the specification's prose:

* profile elements (forecast, curtailment, target, usage) last at least 1 s (tables 13, 15, 20, ...);
* other durations are not negative, timers last longer than zero;
* lower bounds do not exceed upper bounds (fill-level ranges, curtailment ranges);
* a Measurement carries at least one commodity, a heatMeasurement at least one value (3.9);
* a ShiftableUpdate's endBefore is not before its validFrom (5.3);
* ids are unique where they identify something (running modes, timers, actuators, sequence and
  alternative numbers) and transitions refer to running modes and timers that exist.

Violations raise :class:`EfiValidationError` whose ``element`` is the path of the offending value.
Rules that need history (unknown flexibilityUpdateId, status transitions) live in :mod:`.ledger`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

from . import adjustable as adj
from . import inflexible as inf
from . import messages as gen
from . import profiles as pro
from . import running_modes as rm
from . import shiftable as shi
from . import storage as sto
from .errors import EfiValidationError

__all__ = ["MIN_PROFILE_ELEMENT_DURATION", "check"]

#: the shortest timeslot the specification allows in any profile
MIN_PROFILE_ELEMENT_DURATION = timedelta(seconds=1)
_ZERO = timedelta(0)


def check(msg: gen.EfiMessage) -> None:
    """Raise :class:`EfiValidationError` if ``msg`` breaks a rule the schema cannot express."""
    rule = _RULES.get(type(msg))
    if rule is not None:
        rule(msg, msg.TAG)


# -- building blocks --------------------------------------------------------------------------


def _fail(path: str, reason: str) -> None:
    raise EfiValidationError(path, reason)


def _profile_durations(elements: Iterable, path: str, name: str = "element") -> None:
    for i, e in enumerate(elements, 1):
        if e.duration < MIN_PROFILE_ELEMENT_DURATION:
            _fail(
                f"{path}/{name}[{i}]/@duration",
                f"profile element lasts {e.duration.total_seconds():g} s; the shortest allowed is 1 s",
            )


def _not_negative(value: timedelta | None, path: str) -> None:
    if value is not None and value < _ZERO:
        _fail(path, f"duration is negative ({value})")


def _bounds(lower: float, upper: float, path: str, what: str) -> None:
    if lower > upper:
        _fail(path, f"{what} lower bound {lower:g} is above its upper bound {upper:g}")


def _unique(values: Iterable[int], path: str, what: str) -> set[int]:
    seen: set[int] = set()
    for v in values:
        if v in seen:
            _fail(path, f"{what} {v} is used more than once")
        seen.add(v)
    return seen


def _profile_container(c: pro.ProfileContainer, path: str) -> None:
    if c.electricity is not None:
        if isinstance(c.electricity, pro.ElectricityProfile):
            _profile_durations(c.electricity.elements, path + "/electricityProfile")
        else:
            _profile_durations(c.electricity.elements, path + "/electricityProbabilityProfile", "powerElement")
    if c.gas is not None:
        if isinstance(c.gas, pro.GasProfile):
            _profile_durations(c.gas.elements, path + "/gasProfile")
        else:
            _profile_durations(c.gas.elements, path + "/gasProbabilityProfile", "flowRateElement")
    if c.heat is not None:
        name = "heatProfile" if isinstance(c.heat, pro.HeatProfile) else "heatProbabilityProfile"
        _profile_durations(c.heat.elements, f"{path}/{name}")


def _timers_and_transitions(
    mode_ids: set[int], timers: tuple[rm.Timer, ...], transitions: tuple[rm.Transition, ...], path: str
) -> None:
    timer_ids = _unique((t.id for t in timers), path + "/timers", "timer id")
    for i, t in enumerate(timers, 1):
        if t.duration <= _ZERO:
            _fail(f"{path}/timers/timer[{i}]/@duration", f"timer {t.id} must last longer than zero")
    for i, tr in enumerate(transitions, 1):
        where = f"{path}/transitions/transition[{i}]"
        for attr, mode in (("fromRunningModeId", tr.from_running_mode_id), ("toRunningModeId", tr.to_running_mode_id)):
            if mode not in mode_ids:
                _fail(f"{where}/@{attr}", f"running mode {mode} is not described")
        _not_negative(tr.transition_duration, where + "/@transitionDuration")
        for name, refs in (("startTimers", tr.start_timers), ("blockingTimers", tr.blocking_timers)):
            for timer_id in refs:
                if timer_id not in timer_ids:
                    _fail(f"{where}/{name}", f"timer {timer_id} is not described")


# -- rules per message ------------------------------------------------------------------------


def _registration(msg: gen.FlexibilityRegistration, path: str) -> None:
    _not_negative(msg.instruction_processing_delay, path + "/instructionProcessingDelay")


def _storage_registration(msg: sto.StorageRegistration, path: str) -> None:
    _registration(msg, path)
    _unique((a.id for a in msg.actuators), path + "/actuators", "actuator id")


def _measurement(msg: gen.Measurement, path: str) -> None:
    if msg.electricity is None and msg.gas is None and msg.heat is None:
        _fail(path, "a Measurement must contain an electricity, gas or heat measurement")
    h = msg.heat
    if h is not None and h.temperature is None and h.flow_rate is None and h.thermal_power is None:
        _fail(path + "/heatMeasurement", "needs at least one of temperature, flowRate, thermalPower")


def _inflexible_forecast(msg: inf.InflexibleForecast, path: str) -> None:
    _profile_container(msg.forecast_profiles, path + "/forecastProfiles")


def _curtailment_options(msg: inf.InflexibleCurtailmentOptions, path: str) -> None:
    for i, o in enumerate(msg.curtailment_options or (), 1):
        where = f"{path}/curtailmentOptions/curtailmentOption[{i}]"
        _not_negative(o.minimal_curtailment_duration, where + "/@minimalCurtailmentDuration")
        for j, r in enumerate(o.curtailment_ranges, 1):
            _bounds(r.lower_bound, r.upper_bound, f"{where}/curtailmentRange[{j}]", "curtailment range")


def _inflexible_instruction(msg: inf.InflexibleInstruction, path: str) -> None:
    _profile_durations(msg.curtailment_profile.elements, path + "/curtailmentProfile", "curtailmentProfileElement")


def _shiftable_update(msg: shi.ShiftableUpdate, path: str) -> None:
    """Checked without building element paths; only a message that breaks a rule gets them."""
    if not _shiftable_update_ok(msg):
        _shiftable_update_error(msg, path)


def _shiftable_update_ok(msg: shi.ShiftableUpdate) -> bool:
    if msg.end_before < msg.valid_from:
        return False
    profiles = msg.sequential_profiles
    if len({sp.sequence_nr for sp in profiles}) != len(profiles):
        return False
    shortest = MIN_PROFILE_ELEMENT_DURATION
    for sp in profiles:
        if sp.max_interval_before is not None and sp.max_interval_before < _ZERO:
            return False
        alternatives = sp.alternatives
        if len({a.alternative_nr for a in alternatives}) != len(alternatives):
            return False
        for alt in alternatives:
            c = alt.profiles
            for profile in (c.electricity, c.gas, c.heat):
                if profile is not None:
                    for e in profile.elements:
                        if e.duration < shortest:
                            return False
    return True


def _shiftable_update_error(msg: shi.ShiftableUpdate, path: str) -> None:
    """The precise error (the same rules as :func:`_shiftable_update_ok`, with element paths)."""
    if msg.end_before < msg.valid_from:
        _fail(path + "/endBefore", f"endBefore {msg.end_before.isoformat()} is before validFrom")
    _unique((sp.sequence_nr for sp in msg.sequential_profiles), path + "/sequentialProfiles", "sequenceNr")
    for i, sp in enumerate(msg.sequential_profiles, 1):
        where = f"{path}/sequentialProfiles/sequentialProfile[{i}]"
        _not_negative(sp.max_interval_before, where + "/maxIntervalBefore")
        _unique((a.alternative_nr for a in sp.alternatives), where, "alternativeNr")
        for j, alt in enumerate(sp.alternatives, 1):
            _profile_container(alt.profiles, f"{where}/sequentialProfileAlternatives/sequentialProfileAlternative[{j}]")


def _storage_system_description(msg: sto.StorageSystemDescription, path: str) -> None:
    _unique((b.actuator_id for b in msg.actuator_behaviours), path + "/actuatorBehaviours", "actuatorId")
    for i, b in enumerate(msg.actuator_behaviours, 1):
        where = f"{path}/actuatorBehaviours/actuatorBehaviour[{i}]"
        mode_ids = _unique((m.id for m in b.running_modes), where + "/runningModes", "running mode id")
        for j, m in enumerate(b.running_modes, 1):
            kind = "discrete" if isinstance(m, sto.StorageDiscreteRunningMode) else "continuous"
            for k, e in enumerate(m.elements, 1):
                _bounds(
                    e.fill_level_lower_bound,
                    e.fill_level_upper_bound,
                    f"{where}/runningModes/{kind}RunningMode[{j}]/{kind}RunningModeElement[{k}]",
                    "fill level",
                )
        _timers_and_transitions(mode_ids, b.timers, b.transitions, where)
    for i, e in enumerate(msg.leakage_behaviour, 1):
        _bounds(e.fill_level_lower_bound, e.fill_level_upper_bound, f"{path}/leakageBehaviour/leakageElement[{i}]", "fill level")


def _storage_status(msg: sto.StorageStatus, path: str) -> None:
    _unique((s.actuator_id for s in msg.actuator_statuses), path + "/actuatorStatuses", "actuatorId")


def _storage_target_profile(msg: sto.StorageFillLevelTargetProfile, path: str) -> None:
    where = path + "/targetProfile"
    _profile_durations(msg.target_profile.elements, where)
    for i, e in enumerate(msg.target_profile.elements, 1):
        _bounds(e.fill_level_lower_bound, e.fill_level_upper_bound, f"{where}/element[{i}]", "fill level")


def _storage_usage_forecast(msg: sto.StorageUsageForecast, path: str) -> None:
    f = msg.usage_forecast
    if isinstance(f, sto.StorageUsageProfile):
        _profile_durations(f.elements, path + "/usageForecast/usageProfile")
    else:
        _profile_durations(f.elements, path + "/usageForecast/usageProbabilityProfile", "usageRateElement")


def _storage_instruction(msg: sto.StorageInstruction, path: str) -> None:
    _unique((a.actuator_id for a in msg.actuator_instructions), path + "/actuatorInstructions", "actuatorId")


def _adjustable_system_description(msg: adj.AdjustableSystemDescription, path: str) -> None:
    mode_ids = _unique((m.id for m in msg.running_modes), path + "/runningModes", "running mode id")
    _timers_and_transitions(mode_ids, msg.timers, msg.transitions, path)


_RULES: dict[type, Callable] = {
    inf.InflexibleRegistration: _registration,
    shi.ShiftableRegistration: _registration,
    adj.AdjustableRegistration: _registration,
    sto.StorageRegistration: _storage_registration,
    gen.Measurement: _measurement,
    inf.InflexibleForecast: _inflexible_forecast,
    inf.InflexibleCurtailmentOptions: _curtailment_options,
    inf.InflexibleInstruction: _inflexible_instruction,
    shi.ShiftableUpdate: _shiftable_update,
    sto.StorageSystemDescription: _storage_system_description,
    sto.StorageStatus: _storage_status,
    sto.StorageFillLevelTargetProfile: _storage_target_profile,
    sto.StorageUsageForecast: _storage_usage_forecast,
    sto.StorageInstruction: _storage_instruction,
    adj.AdjustableSystemDescription: _adjustable_system_description,
}
