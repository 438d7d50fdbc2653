"""Hand-written mapping from the message classes to an EFI 2.0 lxml tree.

The mirror of :mod:`.decoder`: children in schema order, qualified attributes, doubles in their
shortest round-tripping form, durations canonical (``PT5S``, ``P1D``), times with their offset (``Z``
for UTC). Values the wire cannot carry (naive datetimes, non-finite numbers) raise
:class:`EfiValidationError` naming the element.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from lxml import etree

from . import adjustable as adj
from . import inflexible as inf
from . import messages as gen
from . import profiles as pro
from . import running_modes as rm
from . import shiftable as shi
from . import storage as sto
from .decoder import EFI_NS
from .errors import EfiValidationError
from .lexical import LexicalError, format_datetime, format_decimal, format_duration

__all__ = ["Encoder"]

_P = "{" + EFI_NS + "}"
_NSMAP = {"efi": EFI_NS}
_VERSION = {_P + "efiVersion": "2.0"}
_Sub = etree.SubElement
_isfinite = math.isfinite


def _path(el: etree._Element, name: str | None) -> str:
    path = el.getroottree().getpath(el).replace(_P, "efi:")
    if name is not None and not name.startswith("<"):
        path += "/@" + name
    elif name is not None:
        path += "/efi:" + name[1:]
    return path


def _dt(value: datetime, el: etree._Element, name: str | None = None) -> str:
    try:
        return format_datetime(value)
    except (LexicalError, AttributeError, TypeError) as exc:
        raise EfiValidationError(_path(el, name), f"{exc} (got {value!r})") from None


def _dur(value: timedelta, el: etree._Element, name: str | None = None) -> str:
    try:
        return format_duration(value)
    except (AttributeError, TypeError) as exc:
        raise EfiValidationError(_path(el, name), f"expected a timedelta, got {value!r}") from exc


def _num(value: float, el: etree._Element, name: str | None = None) -> str:
    try:
        if _isfinite(value):
            return repr(float(value))
    except TypeError:
        raise EfiValidationError(_path(el, name), f"expected a number, got {value!r}") from None
    raise EfiValidationError(_path(el, name), f"number is not finite ({value!r})")


def _text(parent: etree._Element, name: str, text: str) -> etree._Element:
    el = _Sub(parent, _P + name)
    el.text = text
    return el


class Encoder:
    """Builds the lxml tree of one message."""

    __slots__ = ("_by_type",)

    def __init__(self) -> None:
        self._by_type: dict[type, Callable[[etree._Element, gen.EfiMessage], None]] = {
            inf.InflexibleRegistration: self._commodity_registration,
            shi.ShiftableRegistration: self._commodity_registration,
            adj.AdjustableRegistration: self._commodity_registration,
            sto.StorageRegistration: self._storage_registration,
            inf.InflexibleForecast: self._inflexible_forecast,
            inf.InflexibleCurtailmentOptions: self._curtailment_options,
            inf.InflexibleInstruction: self._inflexible_instruction,
            shi.ShiftableUpdate: self._shiftable_update,
            shi.ShiftableInstruction: self._shiftable_instruction,
            sto.StorageSystemDescription: self._storage_system_description,
            sto.StorageStatus: self._storage_status,
            sto.StorageFillLevelTargetProfile: self._storage_target_profile,
            sto.StorageUsageForecast: self._storage_usage_forecast,
            sto.StorageInstruction: self._storage_instruction,
            adj.AdjustableSystemDescription: self._adjustable_system_description,
            adj.AdjustableStatus: self._adjustable_status,
            adj.AdjustableInstruction: self._adjustable_instruction,
            gen.InstructionStatusUpdate: self._instruction_status_update,
            gen.FlexibilityRevoke: self._nothing,
            gen.InstructionRevoke: self._instruction_revoke,
            gen.Measurement: self._measurement,
        }

    def encode(self, msg: gen.EfiMessage) -> etree._Element:
        """Message → root element (not yet schema-validated)."""
        build = self._by_type.get(type(msg))
        if build is None:
            raise EfiValidationError(type(msg).__name__, "not an EFI 2.0 message class")
        root = etree.Element(_P + msg.TAG, _VERSION, nsmap=_NSMAP)
        header = _Sub(root, _P + "header")
        _text(header, "efiResourceId", msg.efi_resource_id)
        ts = _Sub(header, _P + "timestamp")
        ts.text = _dt(msg.timestamp, ts)
        build(root, msg)
        return root

    # -- generic ------------------------------------------------------------------------------

    def _nothing(self, root: etree._Element, msg: gen.EfiMessage) -> None:
        return None

    def _registration(self, root: etree._Element, msg: gen.FlexibilityRegistration) -> None:
        el = _Sub(root, _P + "instructionProcessingDelay")
        el.text = _dur(msg.instruction_processing_delay, el)
        desc = _Sub(root, _P + "deviceDescription")
        d = msg.device_description
        _text(desc, "deviceClass", d.device_class.value)
        if d.serial_number is not None:
            _text(desc, "serialNumber", d.serial_number)
        if d.label is not None:
            _text(desc, "label", d.label)
        if msg.currency is not None:
            _text(root, "currency", msg.currency.value)

    def _commodity_registration(self, root: etree._Element, msg) -> None:
        self._registration(root, msg)
        sc = _Sub(root, _P + "supportedCommodities")
        for c in msg.supported_commodities:
            _text(sc, "commodityType", c.value)

    def _storage_registration(self, root: etree._Element, msg: sto.StorageRegistration) -> None:
        self._registration(root, msg)
        _text(root, "fillLevelLabel", msg.fill_level_label)
        _text(root, "fillLevelUnit", msg.fill_level_unit)
        actuators = _Sub(root, _P + "actuators")
        for a in msg.actuators:
            attrs = {_P + "id": str(int(a.id))}
            if a.label is not None:
                attrs[_P + "label"] = a.label
            el = _Sub(actuators, _P + "actuator", attrs)
            for c in a.supported_commodities:
                _text(el, "supportedCommodity", c.value)

    def _instruction_status_update(self, root: etree._Element, msg: gen.InstructionStatusUpdate) -> None:
        _text(root, "instructionId", msg.instruction_id)
        _text(root, "status", msg.status.value)
        if msg.debug_information is not None:
            _text(root, "debugInformation", msg.debug_information)

    def _instruction_revoke(self, root: etree._Element, msg: gen.InstructionRevoke) -> None:
        _text(root, "instructionId", msg.instruction_id)

    def _heat_attrs(self, el: etree._Element, h) -> None:
        if h.temperature is not None:
            el.set(_P + "temperature", _num(h.temperature, el, "temperature"))
        if h.flow_rate is not None:
            el.set(_P + "flowRate", _num(h.flow_rate, el, "flowRate"))
        if h.thermal_power is not None:
            el.set(_P + "thermalPower", _num(h.thermal_power, el, "thermalPower"))

    def _measurement(self, root: etree._Element, msg: gen.Measurement) -> None:
        el = _Sub(root, _P + "measurementTimestamp")
        el.text = _dt(msg.measurement_timestamp, el)
        if msg.electricity is not None:
            el = _Sub(root, _P + "electricityMeasurement")
            el.set(_P + "power", _num(msg.electricity.power, el, "power"))
        if msg.gas is not None:
            el = _Sub(root, _P + "gasMeasurement")
            el.set(_P + "flowRate", _num(msg.gas.flow_rate, el, "flowRate"))
        if msg.heat is not None:
            self._heat_attrs(_Sub(root, _P + "heatMeasurement"), msg.heat)

    def _update(self, root: etree._Element, msg: gen.FlexibilityUpdate) -> None:
        _text(root, "flexibilityUpdateId", msg.flexibility_update_id)
        el = _Sub(root, _P + "validFrom")
        el.text = _dt(msg.valid_from, el)

    def _instruction(self, root: etree._Element, msg: gen.Instruction) -> None:
        _text(root, "instructionId", msg.instruction_id)
        _text(root, "flexibilityUpdateId", msg.flexibility_update_id)
        _text(root, "isEmergencyInstruction", "true" if msg.is_emergency_instruction else "false")

    # -- profiles -----------------------------------------------------------------------------

    def _probability(self, el: etree._Element, p: pro.ProbabilityAttributes) -> None:
        el.set(_P + "the68PPRLower", _num(p.the68_ppr_lower, el, "the68PPRLower"))
        el.set(_P + "the95PPRLower", _num(p.the95_ppr_lower, el, "the95PPRLower"))
        el.set(_P + "expected", _num(p.expected, el, "expected"))
        el.set(_P + "the95PPRUpper", _num(p.the95_ppr_upper, el, "the95PPRUpper"))
        el.set(_P + "the68PPRUpper", _num(p.the68_ppr_upper, el, "the68PPRUpper"))

    def _probability_elements(self, parent: etree._Element, tag: str, elements) -> None:
        for e in elements:
            el = _Sub(parent, tag)
            self._probability(el, e.value)
            el.set(_P + "duration", _dur(e.duration, el, "duration"))

    def _profile_container(self, parent: etree._Element, c: pro.ProfileContainer) -> None:
        p = c.electricity
        if isinstance(p, pro.ElectricityProfile):
            pel = _Sub(parent, _P + "electricityProfile")
            for e in p.elements:
                el = _Sub(pel, _P + "element")
                el.set(_P + "duration", _dur(e.duration, el, "duration"))
                el.set(_P + "power", _num(e.power, el, "power"))
        elif p is not None:
            self._probability_elements(_Sub(parent, _P + "electricityProbabilityProfile"), _P + "powerElement", p.elements)
        g = c.gas
        if isinstance(g, pro.GasProfile):
            pel = _Sub(parent, _P + "gasProfile")
            for e in g.elements:
                el = _Sub(pel, _P + "element")
                el.set(_P + "duration", _dur(e.duration, el, "duration"))
                el.set(_P + "flowRate", _num(e.flow_rate, el, "flowRate"))
        elif g is not None:
            self._probability_elements(_Sub(parent, _P + "gasProbabilityProfile"), _P + "flowRateElement", g.elements)
        h = c.heat
        if isinstance(h, pro.HeatProfile):
            pel = _Sub(parent, _P + "heatProfile")
            for e in h.elements:
                el = _Sub(pel, _P + "element")
                el.set(_P + "duration", _dur(e.duration, el, "duration"))
                self._heat_attrs(el, e)
        elif h is not None:
            pel = _Sub(parent, _P + "heatProbabilityProfile")
            for e in h.elements:
                el = _Sub(pel, _P + "element")
                el.set(_P + "duration", _dur(e.duration, el, "duration"))
                if e.temperature is not None:
                    self._probability(_Sub(el, _P + "temperature"), e.temperature)
                if e.flow_rate is not None:
                    self._probability(_Sub(el, _P + "flowRate"), e.flow_rate)
                if e.thermal_power is not None:
                    self._probability(_Sub(el, _P + "thermalPower"), e.thermal_power)

    # -- inflexible ---------------------------------------------------------------------------

    def _inflexible_forecast(self, root: etree._Element, msg: inf.InflexibleForecast) -> None:
        self._update(root, msg)
        self._profile_container(_Sub(root, _P + "forecastProfiles"), msg.forecast_profiles)

    def _curtailment_options(self, root: etree._Element, msg: inf.InflexibleCurtailmentOptions) -> None:
        self._update(root, msg)
        if msg.curtailment_options is None:
            return
        options = _Sub(root, _P + "curtailmentOptions")
        for o in msg.curtailment_options:
            el = _Sub(options, _P + "curtailmentOption", {_P + "curtailmentQuantity": o.curtailment_quantity.value})
            el.set(_P + "minimalCurtailmentDuration", _dur(o.minimal_curtailment_duration, el, "minimalCurtailmentDuration"))
            for r in o.curtailment_ranges:
                rel = _Sub(el, _P + "curtailmentRange")
                rel.set(_P + "lowerBound", _num(r.lower_bound, rel, "lowerBound"))
                rel.set(_P + "upperBound", _num(r.upper_bound, rel, "upperBound"))

    def _inflexible_instruction(self, root: etree._Element, msg: inf.InflexibleInstruction) -> None:
        self._instruction(root, msg)
        p = msg.curtailment_profile
        pel = _Sub(root, _P + "curtailmentProfile", {_P + "curtailmentQuantity": p.curtailment_quantity.value})
        pel.set(_P + "startTime", _dt(p.start_time, pel, "startTime"))
        for e in p.elements:
            el = _Sub(pel, _P + "curtailmentProfileElement")
            el.set(_P + "duration", _dur(e.duration, el, "duration"))
            el.set(_P + "value", _num(e.value, el, "value"))

    # -- shiftable ----------------------------------------------------------------------------

    def _shiftable_update(self, root: etree._Element, msg: shi.ShiftableUpdate) -> None:
        self._update(root, msg)
        el = _Sub(root, _P + "endBefore")
        el.text = _dt(msg.end_before, el)
        profiles = _Sub(root, _P + "sequentialProfiles")
        for sp in msg.sequential_profiles:
            spel = _Sub(profiles, _P + "sequentialProfile", {_P + "sequenceNr": str(int(sp.sequence_nr))})
            el = _Sub(spel, _P + "maxIntervalBefore")
            el.text = _dur(sp.max_interval_before, el)
            alts = _Sub(spel, _P + "sequentialProfileAlternatives")
            for alt in sp.alternatives:
                ael = _Sub(alts, _P + "sequentialProfileAlternative", {_P + "alternativeNr": str(int(alt.alternative_nr))})
                self._profile_container(ael, alt.profiles)

    def _shiftable_instruction(self, root: etree._Element, msg: shi.ShiftableInstruction) -> None:
        self._instruction(root, msg)
        parent = _Sub(root, _P + "sequentialProfileInstructions")
        for i in msg.sequential_profile_instructions:
            iel = _Sub(parent, _P + "sequentialProfileInstruction")
            _text(iel, "sequenceNr", str(int(i.sequence_nr)))
            _text(iel, "alternativeNr", str(int(i.alternative_nr)))
            el = _Sub(iel, _P + "startTime")
            el.text = _dt(i.start_time, el)

    # -- running modes ------------------------------------------------------------------------

    def _commodity_values(self, parent: etree._Element, v: rm.CommodityValues) -> None:
        if v.running_cost is not None:
            el = _Sub(parent, _P + "runningCost")
            try:
                el.text = format_decimal(Decimal(v.running_cost))
            except (LexicalError, ArithmeticError, TypeError, ValueError) as exc:
                raise EfiValidationError(_path(el, None), f"runningCost is not a finite decimal: {exc}") from None
        for name, value in (
            ("electricalPower", v.electrical_power),
            ("gasFlowRate", v.gas_flow_rate),
            ("heatTemperature", v.heat_temperature),
            ("heatFlowRate", v.heat_flow_rate),
            ("heatThermalPower", v.heat_thermal_power),
        ):
            if value is not None:
                el = _Sub(parent, _P + name)
                el.text = _num(value, el)

    def _timers(self, parent: etree._Element, timers: tuple[rm.Timer, ...]) -> None:
        if not timers:
            return
        tel = _Sub(parent, _P + "timers")
        for t in timers:
            el = _Sub(tel, _P + "timer", {_P + "id": str(int(t.id)), _P + "label": t.label})
            el.set(_P + "duration", _dur(t.duration, el, "duration"))

    def _transitions(self, parent: etree._Element, transitions: tuple[rm.Transition, ...]) -> None:
        tel = _Sub(parent, _P + "transitions")
        for t in transitions:
            el = _Sub(
                tel,
                _P + "transition",
                {_P + "fromRunningModeId": str(int(t.from_running_mode_id)), _P + "toRunningModeId": str(int(t.to_running_mode_id))},
            )
            if t.transition_cost is not None:
                el.set(_P + "transitionCost", _num(t.transition_cost, el, "transitionCost"))
            if t.transition_duration is not None:
                el.set(_P + "transitionDuration", _dur(t.transition_duration, el, "transitionDuration"))
            for name, ids in (("startTimers", t.start_timers), ("blockingTimers", t.blocking_timers)):
                if ids:
                    refs = _Sub(el, _P + name)
                    for timer_id in ids:
                        _Sub(refs, _P + "timerReference", {_P + "timerId": str(int(timer_id))})

    def _timer_updates(self, parent: etree._Element, updates: tuple[rm.TimerUpdate, ...]) -> None:
        uel = _Sub(parent, _P + "timerUpdates")
        for u in updates:
            el = _Sub(uel, _P + "timerUpdate", {_P + "timerId": str(int(u.timer_id))})
            fel = _Sub(el, _P + "finishedAt")
            fel.text = _dt(u.finished_at, fel)

    def _status_fields(self, parent: etree._Element, s, timer_updates_required: bool) -> None:
        if s.running_mode_factor is not None:
            el = _Sub(parent, _P + "runningModeFactor")
            el.text = _num(s.running_mode_factor, el)
        if s.previous_running_mode_id is not None:
            _text(parent, "previousRunningModeId", str(int(s.previous_running_mode_id)))
        if s.transition_timestamp is not None:
            el = _Sub(parent, _P + "transitionTimestamp")
            el.text = _dt(s.transition_timestamp, el)
        if s.timer_updates is not None:
            self._timer_updates(parent, s.timer_updates)
        elif timer_updates_required:
            _Sub(parent, _P + "timerUpdates")

    # -- storage ------------------------------------------------------------------------------

    def _storage_point(self, parent: etree._Element, p: sto.StorageOperatingPoint) -> None:
        el = _Sub(parent, _P + "fillingRate")
        el.text = _num(p.filling_rate, el)
        self._commodity_values(parent, p)

    def _fill_bounds(self, el: etree._Element, lower: float, upper: float) -> None:
        el.set(_P + "fillLevelLowerBound", _num(lower, el, "fillLevelLowerBound"))
        el.set(_P + "fillLevelUpperBound", _num(upper, el, "fillLevelUpperBound"))

    def _storage_system_description(self, root: etree._Element, msg: sto.StorageSystemDescription) -> None:
        self._update(root, msg)
        behaviours = _Sub(root, _P + "actuatorBehaviours")
        for b in msg.actuator_behaviours:
            bel = _Sub(behaviours, _P + "actuatorBehaviour", {_P + "actuatorId": str(int(b.actuator_id))})
            modes = _Sub(bel, _P + "runningModes")
            for m in b.running_modes:
                attrs = {_P + "id": str(int(m.id)), _P + "label": m.label}
                if isinstance(m, sto.StorageDiscreteRunningMode):
                    mel = _Sub(modes, _P + "discreteRunningMode", attrs)
                    for e in m.elements:
                        el = _Sub(mel, _P + "discreteRunningModeElement")
                        self._fill_bounds(el, e.fill_level_lower_bound, e.fill_level_upper_bound)
                        self._storage_point(el, e)
                else:
                    mel = _Sub(modes, _P + "continuousRunningMode", attrs)
                    for e in m.elements:
                        el = _Sub(mel, _P + "continuousRunningModeElement")
                        self._fill_bounds(el, e.fill_level_lower_bound, e.fill_level_upper_bound)
                        self._storage_point(_Sub(el, _P + "lowerBound"), e.lower_bound)
                        self._storage_point(_Sub(el, _P + "upperBound"), e.upper_bound)
            self._timers(bel, b.timers)
            self._transitions(bel, b.transitions)
        if msg.leakage_behaviour:
            lel = _Sub(root, _P + "leakageBehaviour")
            for e in msg.leakage_behaviour:
                el = _Sub(lel, _P + "leakageElement")
                self._fill_bounds(el, e.fill_level_lower_bound, e.fill_level_upper_bound)
                el.set(_P + "leakageRate", _num(e.leakage_rate, el, "leakageRate"))

    def _storage_status(self, root: etree._Element, msg: sto.StorageStatus) -> None:
        self._update(root, msg)
        el = _Sub(root, _P + "currentFillLevel")
        el.text = _num(msg.current_fill_level, el)
        if msg.actuator_statuses:
            parent = _Sub(root, _P + "actuatorStatuses")
            for s in msg.actuator_statuses:
                sel = _Sub(parent, _P + "actuatorStatus", {_P + "actuatorId": str(int(s.actuator_id))})
                _text(sel, "currentRunningMode", str(int(s.current_running_mode)))
                self._status_fields(sel, s, timer_updates_required=False)

    def _storage_target_profile(self, root: etree._Element, msg: sto.StorageFillLevelTargetProfile) -> None:
        self._update(root, msg)
        pel = _Sub(root, _P + "targetProfile")
        for e in msg.target_profile.elements:
            el = _Sub(pel, _P + "element")
            el.set(_P + "duration", _dur(e.duration, el, "duration"))
            self._fill_bounds(el, e.fill_level_lower_bound, e.fill_level_upper_bound)

    def _storage_usage_forecast(self, root: etree._Element, msg: sto.StorageUsageForecast) -> None:
        self._update(root, msg)
        fel = _Sub(root, _P + "usageForecast")
        f = msg.usage_forecast
        if isinstance(f, sto.StorageUsageProfile):
            pel = _Sub(fel, _P + "usageProfile")
            for e in f.elements:
                el = _Sub(pel, _P + "element")
                el.set(_P + "duration", _dur(e.duration, el, "duration"))
                el.set(_P + "usageRate", _num(e.usage_rate, el, "usageRate"))
        else:
            self._probability_elements(_Sub(fel, _P + "usageProbabilityProfile"), _P + "usageRateElement", f.elements)

    def _storage_instruction(self, root: etree._Element, msg: sto.StorageInstruction) -> None:
        self._instruction(root, msg)
        parent = _Sub(root, _P + "actuatorInstructions")
        for a in msg.actuator_instructions:
            ael = _Sub(parent, _P + "actuatorInstruction", {_P + "actuatorId": str(int(a.actuator_id))})
            _text(ael, "runningModeId", str(int(a.running_mode_id)))
            if a.running_mode_factor is not None:
                el = _Sub(ael, _P + "runningModeFactor")
                el.text = _num(a.running_mode_factor, el)
            el = _Sub(ael, _P + "startTime")
            el.text = _dt(a.start_time, el)

    # -- adjustable ---------------------------------------------------------------------------

    def _adjustable_system_description(self, root: etree._Element, msg: adj.AdjustableSystemDescription) -> None:
        self._update(root, msg)
        modes = _Sub(root, _P + "runningModes")
        for m in msg.running_modes:
            attrs = {_P + "id": str(int(m.id)), _P + "label": m.label}
            if isinstance(m, adj.AdjustableDiscreteRunningMode):
                self._commodity_values(_Sub(modes, _P + "discreteRunningMode", attrs), m)
            else:
                mel = _Sub(modes, _P + "continuousRunningMode", attrs)
                self._commodity_values(_Sub(mel, _P + "lowerBound"), m.lower_bound)
                self._commodity_values(_Sub(mel, _P + "upperBound"), m.upper_bound)
        self._timers(root, msg.timers)
        self._transitions(root, msg.transitions)

    def _adjustable_status(self, root: etree._Element, msg: adj.AdjustableStatus) -> None:
        self._update(root, msg)
        _text(root, "currentRunningModeId", str(int(msg.current_running_mode_id)))
        self._status_fields(root, msg, timer_updates_required=True)

    def _adjustable_instruction(self, root: etree._Element, msg: adj.AdjustableInstruction) -> None:
        self._instruction(root, msg)
        _text(root, "runningModeId", str(int(msg.running_mode_id)))
        if msg.running_mode_factor is not None:
            el = _Sub(root, _P + "runningModeFactor")
            el.text = _num(msg.running_mode_factor, el)
        el = _Sub(root, _P + "startTime")
        el.text = _dt(msg.start_time, el)
