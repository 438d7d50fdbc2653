"""Hand-written mapping from a schema-valid EFI 2.0 lxml tree to the message classes.

The hot path of :func:`xmpp_iot.efi.codec.decode`: the schema has already fixed the order and
cardinality of children, so each mapper walks children once, compares Clark-notation tags and reads
attributes by their qualified names, without reflection. What the schema cannot refuse
(unrepresentable or naive datetimes, non-finite numbers, calendar durations) is raised here as
:class:`EfiValidationError` with the element's path.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from lxml import etree

from . import adjustable as adj
from . import inflexible as inf
from . import messages as gen
from . import profiles as pro
from . import running_modes as rm
from . import shiftable as shi
from . import storage as sto
from .enums import Commodity, Currency, CurtailmentQuantity, DeviceClass, InstructionStatus
from .errors import EfiValidationError
from .lexical import _DURATION_CACHE, LexicalError, parse_datetime, parse_duration

__all__ = ["EFI_NS", "Decoder"]

EFI_NS = "http://www.flexiblepower.org/efi-2"
_P = "{" + EFI_NS + "}"

# element tags
T_HEADER = _P + "header"
T_ELEMENT = _P + "element"
T_ELECTRICITY_PROFILE = _P + "electricityProfile"
T_ELECTRICITY_PROB = _P + "electricityProbabilityProfile"
T_GAS_PROFILE = _P + "gasProfile"
T_GAS_PROB = _P + "gasProbabilityProfile"
T_HEAT_PROFILE = _P + "heatProfile"
T_HEAT_PROB = _P + "heatProbabilityProfile"
T_TEMPERATURE = _P + "temperature"
T_FLOW_RATE = _P + "flowRate"
T_THERMAL_POWER = _P + "thermalPower"
T_SERIAL = _P + "serialNumber"
T_LABEL = _P + "label"
T_CURRENCY = _P + "currency"
T_DEBUG = _P + "debugInformation"
T_ELECTRICITY_MEASUREMENT = _P + "electricityMeasurement"
T_GAS_MEASUREMENT = _P + "gasMeasurement"
T_HEAT_MEASUREMENT = _P + "heatMeasurement"
T_CURTAILMENT_OPTIONS = _P + "curtailmentOptions"
T_DISCRETE = _P + "discreteRunningMode"
T_TIMERS = _P + "timers"
T_START_TIMERS = _P + "startTimers"
T_BLOCKING_TIMERS = _P + "blockingTimers"
T_LEAKAGE = _P + "leakageBehaviour"
T_RUNNING_COST = _P + "runningCost"
T_ELECTRICAL_POWER = _P + "electricalPower"
T_GAS_FLOW_RATE = _P + "gasFlowRate"
T_HEAT_TEMPERATURE = _P + "heatTemperature"
T_HEAT_FLOW_RATE = _P + "heatFlowRate"
T_HEAT_THERMAL_POWER = _P + "heatThermalPower"
T_RUNNING_MODE_FACTOR = _P + "runningModeFactor"
T_PREVIOUS_RUNNING_MODE = _P + "previousRunningModeId"
T_TRANSITION_TIMESTAMP = _P + "transitionTimestamp"
T_TIMER_UPDATES = _P + "timerUpdates"
T_USAGE_PROFILE = _P + "usageProfile"

# attribute names (EFI qualifies attributes)
A_DURATION = _P + "duration"
A_POWER = _P + "power"
A_FLOW_RATE = _P + "flowRate"
A_TEMPERATURE = _P + "temperature"
A_THERMAL_POWER = _P + "thermalPower"
A_68L = _P + "the68PPRLower"
A_95L = _P + "the95PPRLower"
A_EXP = _P + "expected"
A_95U = _P + "the95PPRUpper"
A_68U = _P + "the68PPRUpper"
A_QUANTITY = _P + "curtailmentQuantity"
A_MIN_DURATION = _P + "minimalCurtailmentDuration"
A_LOWER = _P + "lowerBound"
A_UPPER = _P + "upperBound"
A_START_TIME = _P + "startTime"
A_VALUE = _P + "value"
A_SEQUENCE_NR = _P + "sequenceNr"
A_ALTERNATIVE_NR = _P + "alternativeNr"
A_ID = _P + "id"
A_LABEL = _P + "label"
A_TIMER_ID = _P + "timerId"
A_FROM = _P + "fromRunningModeId"
A_TO = _P + "toRunningModeId"
A_COST = _P + "transitionCost"
A_TRANSITION_DURATION = _P + "transitionDuration"
A_ACTUATOR_ID = _P + "actuatorId"
A_FILL_LOWER = _P + "fillLevelLowerBound"
A_FILL_UPPER = _P + "fillLevelUpperBound"
A_LEAKAGE_RATE = _P + "leakageRate"
A_USAGE_RATE = _P + "usageRate"

_isfinite = math.isfinite
_object_new = object.__new__


def _electricity_element(duration: timedelta, power: float) -> pro.ElectricityProfileElement:
    """The most frequent element of all, without the dataclass __init__'s keyword matching."""
    e = _object_new(pro.ElectricityProfileElement)
    e.duration = duration
    e.power = power
    return e


if tuple(f.name for f in dataclasses.fields(pro.ElectricityProfileElement)) != ("duration", "power"):
    def _electricity_element(duration: timedelta, power: float) -> pro.ElectricityProfileElement:
        return pro.ElectricityProfileElement(duration=duration, power=power)


def _electricity_profile(elements: tuple[pro.ElectricityProfileElement, ...]) -> pro.ElectricityProfile:
    p = _object_new(pro.ElectricityProfile)
    p.elements = elements
    return p


def _electricity_only(profile: pro.ElectricityProfile) -> pro.ProfileContainer:
    c = _object_new(pro.ProfileContainer)
    c.electricity = profile
    c.gas = c.heat = None
    return c


if (tuple(f.name for f in dataclasses.fields(pro.ElectricityProfile)) != ("elements",)
        or tuple(f.name for f in dataclasses.fields(pro.ProfileContainer)) != ("electricity", "gas", "heat")):
    def _electricity_profile(elements: tuple[pro.ElectricityProfileElement, ...]) -> pro.ElectricityProfile:
        return pro.ElectricityProfile(elements=elements)

    def _electricity_only(profile: pro.ElectricityProfile) -> pro.ProfileContainer:
        return pro.ProfileContainer(electricity=profile)


def _alternative(alternative_nr: int, profiles: pro.ProfileContainer) -> shi.SequentialProfileAlternative:
    a = _object_new(shi.SequentialProfileAlternative)
    a.alternative_nr = alternative_nr
    a.profiles = profiles
    return a


def _sequential(sequence_nr: int, max_interval_before: timedelta, alternatives: tuple) -> shi.SequentialProfile:
    sp = _object_new(shi.SequentialProfile)
    sp.sequence_nr = sequence_nr
    sp.max_interval_before = max_interval_before
    sp.alternatives = alternatives
    return sp


if (tuple(f.name for f in dataclasses.fields(shi.SequentialProfileAlternative)) != ("alternative_nr", "profiles")
        or tuple(f.name for f in dataclasses.fields(shi.SequentialProfile))
        != ("sequence_nr", "max_interval_before", "alternatives")):
    def _alternative(alternative_nr: int, profiles: pro.ProfileContainer) -> shi.SequentialProfileAlternative:
        return shi.SequentialProfileAlternative(alternative_nr=alternative_nr, profiles=profiles)

    def _sequential(sequence_nr: int, max_interval_before: timedelta, alternatives: tuple) -> shi.SequentialProfile:
        return shi.SequentialProfile(
            sequence_nr=sequence_nr, max_interval_before=max_interval_before, alternatives=alternatives
        )


_COMMODITY = {c.value: c for c in Commodity}
_CURRENCY = {c.value: c for c in Currency}
_QUANTITY = {c.value: c for c in CurtailmentQuantity}
_DEVICE_CLASS = {c.value: c for c in DeviceClass}
_STATUS = {c.value: c for c in InstructionStatus}


def _path(el: etree._Element, attribute: str | None = None) -> str:
    path = el.getroottree().getpath(el) if el.getparent() is not None else "/" + etree.QName(el).localname
    path = path.replace(_P, "efi:")
    if attribute is not None:
        path += "/@" + etree.QName(attribute).localname
    return path


class Decoder:
    """Maps one schema-valid EFI root element to its message object.

    ``assume_tz``: zone given to dateTimes written without an offset (FAN's own examples have none);
    ``None`` refuses them.
    """

    __slots__ = ("_by_tag", "assume_tz")

    def __init__(self, assume_tz: tzinfo | None = None) -> None:
        self.assume_tz = assume_tz
        self._by_tag: dict[str, Callable[[etree._Element], gen.EfiMessage]] = {
            _P + "InflexibleRegistration": self._inflexible_registration,
            _P + "ShiftableRegistration": self._shiftable_registration,
            _P + "AdjustableRegistration": self._adjustable_registration,
            _P + "StorageRegistration": self._storage_registration,
            _P + "InflexibleForecast": self._inflexible_forecast,
            _P + "InflexibleCurtailmentOptions": self._curtailment_options,
            _P + "InflexibleInstruction": self._inflexible_instruction,
            _P + "ShiftableUpdate": self._shiftable_update,
            _P + "ShiftableInstruction": self._shiftable_instruction,
            _P + "StorageSystemDescription": self._storage_system_description,
            _P + "StorageStatus": self._storage_status,
            _P + "StorageFillLevelTargetProfile": self._storage_target_profile,
            _P + "StorageUsageForecast": self._storage_usage_forecast,
            _P + "StorageInstruction": self._storage_instruction,
            _P + "AdjustableSystemDescription": self._adjustable_system_description,
            _P + "AdjustableStatus": self._adjustable_status,
            _P + "AdjustableInstruction": self._adjustable_instruction,
            _P + "InstructionStatusUpdate": self._instruction_status_update,
            _P + "FlexibilityRevoke": self._flexibility_revoke,
            _P + "InstructionRevoke": self._instruction_revoke,
            _P + "Measurement": self._measurement,
        }

    def tags(self) -> frozenset[str]:
        """Clark names of the root elements this decoder knows."""
        return frozenset(self._by_tag)

    def decode(self, root: etree._Element) -> gen.EfiMessage:
        """Map ``root`` (already schema-valid) to its message."""
        mapper = self._by_tag.get(root.tag)
        if mapper is None:
            raise EfiValidationError(_path(root), "not an EFI 2.0 message element")
        return mapper(root)

    # -- values -------------------------------------------------------------------------------

    def _dt(self, el: etree._Element, attribute: str | None = None) -> datetime:
        text = el.text if attribute is None else el.get(attribute)
        try:
            value = parse_datetime(text, self.assume_tz)  # type: ignore[arg-type]
        except LexicalError as exc:
            raise EfiValidationError(_path(el, attribute), str(exc)) from None
        if value.tzinfo is None:
            raise EfiValidationError(
                _path(el, attribute),
                f"dateTime {text!r} has no timezone offset; write it as UTC (Z) or with +hh:mm",
            )
        return value

    @staticmethod
    def _dur(el: etree._Element, attribute: str | None = None) -> timedelta:
        text = el.text if attribute is None else el.get(attribute)
        try:
            return parse_duration(text)  # type: ignore[arg-type]
        except LexicalError as exc:
            raise EfiValidationError(_path(el, attribute), str(exc)) from None

    @staticmethod
    def _num(el: etree._Element, attribute: str | None = None) -> float:
        text = el.text if attribute is None else el.get(attribute)
        try:
            value = float(text)  # type: ignore[arg-type]
        except ValueError:  # libxml2 lets a few non-doubles through, e.g. "1.0e"
            raise EfiValidationError(_path(el, attribute), f"{text!r} is not an xs:double") from None
        if not _isfinite(value):
            raise EfiValidationError(_path(el, attribute), "number is not finite (INF or NaN)")
        return value

    def _opt_num(self, el: etree._Element, attribute: str) -> float | None:
        return None if el.get(attribute) is None else self._num(el, attribute)

    # -- generic messages ---------------------------------------------------------------------

    def _header(self, root: etree._Element) -> tuple[str, datetime]:
        header = root[0]
        return header[0].text, self._dt(header[1])  # type: ignore[return-value]

    def _registration_fields(self, root: etree._Element) -> tuple[dict, list[etree._Element]]:
        resource, ts = self._header(root)
        children = list(root)
        desc_el = children[2]
        serial = label = None
        for c in desc_el[1:]:
            if c.tag == T_SERIAL:
                serial = c.text or ""
            else:
                label = c.text or ""
        description = gen.DeviceDescription(
            device_class=_DEVICE_CLASS[desc_el[0].text], serial_number=serial, label=label
        )
        rest = children[3:]
        currency = None
        if rest and rest[0].tag == T_CURRENCY:
            currency = _CURRENCY[rest[0].text]
            rest = rest[1:]
        fields = {
            "efi_resource_id": resource,
            "timestamp": ts,
            "instruction_processing_delay": self._dur(children[1]),
            "device_description": description,
            "currency": currency,
        }
        return fields, rest

    def _commodity_registration(self, root: etree._Element, cls: type) -> gen.EfiMessage:
        fields, rest = self._registration_fields(root)
        return cls(supported_commodities=tuple(_COMMODITY[c.text] for c in rest[0]), **fields)

    def _inflexible_registration(self, root: etree._Element) -> gen.EfiMessage:
        return self._commodity_registration(root, inf.InflexibleRegistration)

    def _shiftable_registration(self, root: etree._Element) -> gen.EfiMessage:
        return self._commodity_registration(root, shi.ShiftableRegistration)

    def _adjustable_registration(self, root: etree._Element) -> gen.EfiMessage:
        return self._commodity_registration(root, adj.AdjustableRegistration)

    def _storage_registration(self, root: etree._Element) -> gen.EfiMessage:
        fields, rest = self._registration_fields(root)
        actuators = tuple(
            sto.Actuator(
                id=int(a.get(A_ID)),
                label=a.get(A_LABEL),
                supported_commodities=tuple(_COMMODITY[c.text] for c in a),
            )
            for a in rest[2]
        )
        return sto.StorageRegistration(
            fill_level_label=rest[0].text or "", fill_level_unit=rest[1].text or "", actuators=actuators, **fields
        )

    def _instruction_status_update(self, root: etree._Element) -> gen.EfiMessage:
        resource, ts = self._header(root)
        debug = (root[3].text or "") if len(root) > 3 else None
        return gen.InstructionStatusUpdate(
            efi_resource_id=resource,
            timestamp=ts,
            instruction_id=root[1].text,
            status=_STATUS[root[2].text],
            debug_information=debug,
        )

    def _flexibility_revoke(self, root: etree._Element) -> gen.EfiMessage:
        resource, ts = self._header(root)
        return gen.FlexibilityRevoke(efi_resource_id=resource, timestamp=ts)

    def _instruction_revoke(self, root: etree._Element) -> gen.EfiMessage:
        resource, ts = self._header(root)
        return gen.InstructionRevoke(efi_resource_id=resource, timestamp=ts, instruction_id=root[1].text)

    def _heat_values(self, el: etree._Element) -> gen.HeatValues:
        return gen.HeatValues(
            temperature=self._opt_num(el, A_TEMPERATURE),
            flow_rate=self._opt_num(el, A_FLOW_RATE),
            thermal_power=self._opt_num(el, A_THERMAL_POWER),
        )

    def _measurement(self, root: etree._Element) -> gen.EfiMessage:
        resource, ts = self._header(root)
        electricity = gas = heat = None
        for c in root[2:]:
            tag = c.tag
            if tag == T_ELECTRICITY_MEASUREMENT:
                electricity = gen.ElectricityMeasurement(power=self._num(c, A_POWER))
            elif tag == T_GAS_MEASUREMENT:
                gas = gen.GasMeasurement(flow_rate=self._num(c, A_FLOW_RATE))
            else:
                heat = self._heat_values(c)
        return gen.Measurement(
            efi_resource_id=resource,
            timestamp=ts,
            measurement_timestamp=self._dt(root[1]),
            electricity=electricity,
            gas=gas,
            heat=heat,
        )

    def _update_fields(self, root: etree._Element) -> dict:
        resource, ts = self._header(root)
        return {
            "efi_resource_id": resource,
            "timestamp": ts,
            "flexibility_update_id": root[1].text,
            "valid_from": self._dt(root[2]),
        }

    def _instruction_fields(self, root: etree._Element) -> dict:
        resource, ts = self._header(root)
        return {
            "efi_resource_id": resource,
            "timestamp": ts,
            "instruction_id": root[1].text,
            "flexibility_update_id": root[2].text,
            "is_emergency_instruction": root[3].text.strip() in ("true", "1"),
        }

    # -- profiles -----------------------------------------------------------------------------

    def _probability(self, el: etree._Element) -> pro.ProbabilityAttributes:
        num = self._num
        return pro.ProbabilityAttributes(
            the68_ppr_lower=num(el, A_68L),
            the95_ppr_lower=num(el, A_95L),
            expected=num(el, A_EXP),
            the95_ppr_upper=num(el, A_95U),
            the68_ppr_upper=num(el, A_68U),
        )

    def _probability_elements(self, el: etree._Element) -> tuple[pro.ProbabilityElement, ...]:
        return tuple(pro.ProbabilityElement(duration=self._dur(e, A_DURATION), value=self._probability(e)) for e in el)

    def _profile_container(self, el: etree._Element, cls: type = pro.ProfileContainer, **extra: object):
        if len(el) == 1:  # the common case: one electricity profile
            only = el[0]
            if only.tag == T_ELECTRICITY_PROFILE:
                return _electricity_only(_electricity_profile(self._electricity_elements(only)))
        electricity = gas = heat = None
        dur, num = self._dur, self._num
        for p in el:
            tag = p.tag
            if tag == T_ELECTRICITY_PROFILE:
                electricity = pro.ElectricityProfile(elements=self._electricity_elements(p))
            elif tag == T_ELECTRICITY_PROB:
                electricity = pro.ElectricityProbabilityProfile(elements=self._probability_elements(p))
            elif tag == T_GAS_PROFILE:
                gas = pro.GasProfile(
                    elements=tuple(
                        pro.GasProfileElement(duration=dur(e, A_DURATION), flow_rate=num(e, A_FLOW_RATE)) for e in p
                    )
                )
            elif tag == T_GAS_PROB:
                gas = pro.GasProbabilityProfile(elements=self._probability_elements(p))
            elif tag == T_HEAT_PROFILE:
                heat = pro.HeatProfile(
                    elements=tuple(
                        pro.HeatProfileElement(
                            duration=dur(e, A_DURATION),
                            temperature=self._opt_num(e, A_TEMPERATURE),
                            flow_rate=self._opt_num(e, A_FLOW_RATE),
                            thermal_power=self._opt_num(e, A_THERMAL_POWER),
                        )
                        for e in p
                    )
                )
            else:
                heat = pro.HeatProbabilityProfile(elements=tuple(self._heat_probability_element(e) for e in p))
        return pro.ProfileContainer(electricity=electricity, gas=gas, heat=heat)

    def _electricity_elements(self, p: etree._Element) -> tuple[pro.ElectricityProfileElement, ...]:
        """The most common profile, inlined: cached duration lookup, float, finiteness."""
        cache = _DURATION_CACHE
        out = []
        append, new = out.append, _electricity_element
        for e in p:
            # The schema allows exactly two attributes here, duration and power, in either order;
            # every xs:duration contains a 'P' and no xs:double does. values() is one lxml call.
            first, second = e.values()
            duration, text = (first, second) if "P" in first else (second, first)
            d = cache.get(duration)
            if d is None:
                d = self._dur(e, A_DURATION)
            try:
                power = float(text)
            except ValueError:
                power = self._num(e, A_POWER)  # raises with the element's path
            if not _isfinite(power):
                self._num(e, A_POWER)
            append(new(d, power))
        return tuple(out)

    def _heat_probability_element(self, el: etree._Element) -> pro.HeatProbabilityProfileElement:
        values: dict[str, pro.ProbabilityAttributes] = {}
        for c in el:
            tag = c.tag
            key = "temperature" if tag == T_TEMPERATURE else "flow_rate" if tag == T_FLOW_RATE else "thermal_power"
            values[key] = self._probability(c)
        return pro.HeatProbabilityProfileElement(duration=self._dur(el, A_DURATION), **values)

    # -- inflexible ---------------------------------------------------------------------------

    def _inflexible_forecast(self, root: etree._Element) -> gen.EfiMessage:
        return inf.InflexibleForecast(forecast_profiles=self._profile_container(root[3]), **self._update_fields(root))

    def _curtailment_options(self, root: etree._Element) -> gen.EfiMessage:
        options = None
        if len(root) > 3:
            options = tuple(
                inf.CurtailmentOption(
                    curtailment_quantity=_QUANTITY[o.get(A_QUANTITY)],
                    minimal_curtailment_duration=(
                        timedelta(0) if o.get(A_MIN_DURATION) is None else self._dur(o, A_MIN_DURATION)
                    ),
                    curtailment_ranges=tuple(
                        inf.CurtailmentRange(lower_bound=self._num(r, A_LOWER), upper_bound=self._num(r, A_UPPER))
                        for r in o
                    ),
                )
                for o in root[3]
            )
        return inf.InflexibleCurtailmentOptions(curtailment_options=options, **self._update_fields(root))

    def _inflexible_instruction(self, root: etree._Element) -> gen.EfiMessage:
        p = root[4]
        profile = inf.CurtailmentProfile(
            curtailment_quantity=_QUANTITY[p.get(A_QUANTITY)],
            start_time=self._dt(p, A_START_TIME),
            elements=tuple(
                inf.CurtailmentProfileElement(duration=self._dur(e, A_DURATION), value=self._num(e, A_VALUE))
                for e in p
            ),
        )
        return inf.InflexibleInstruction(curtailment_profile=profile, **self._instruction_fields(root))

    # -- shiftable ----------------------------------------------------------------------------

    def _shiftable_update(self, root: etree._Element) -> gen.EfiMessage:
        header, update_id, valid_from, end_before, sequence = root  # fixed by the schema
        resource, ts = header
        dur, container = self._dur, self._profile_container
        alternative, sequential = _alternative, _sequential
        profiles = []
        for sp in sequence:
            interval, alternatives = sp
            profiles.append(sequential(
                int(sp.get(A_SEQUENCE_NR)),
                dur(interval),
                tuple([alternative(int(alt.get(A_ALTERNATIVE_NR)), container(alt)) for alt in alternatives]),
            ))
        return shi.ShiftableUpdate(
            efi_resource_id=resource.text,
            timestamp=self._dt(ts),
            flexibility_update_id=update_id.text,
            valid_from=self._dt(valid_from),
            end_before=self._dt(end_before),
            sequential_profiles=tuple(profiles),
        )

    def _shiftable_instruction(self, root: etree._Element) -> gen.EfiMessage:
        instructions = tuple(
            shi.SequentialProfileInstruction(
                sequence_nr=int(i[0].text), alternative_nr=int(i[1].text), start_time=self._dt(i[2])
            )
            for i in root[4]
        )
        return shi.ShiftableInstruction(sequential_profile_instructions=instructions, **self._instruction_fields(root))

    # -- running modes ------------------------------------------------------------------------

    def _commodity_values(self, children, values: dict) -> dict:
        for c in children:
            tag = c.tag
            if tag == T_RUNNING_COST:
                values["running_cost"] = Decimal(c.text.strip())
            elif tag == T_ELECTRICAL_POWER:
                values["electrical_power"] = self._num(c)
            elif tag == T_GAS_FLOW_RATE:
                values["gas_flow_rate"] = self._num(c)
            elif tag == T_HEAT_TEMPERATURE:
                values["heat_temperature"] = self._num(c)
            elif tag == T_HEAT_FLOW_RATE:
                values["heat_flow_rate"] = self._num(c)
            elif tag == T_HEAT_THERMAL_POWER:
                values["heat_thermal_power"] = self._num(c)
        return values

    def _timers(self, el: etree._Element) -> tuple[rm.Timer, ...]:
        return tuple(
            rm.Timer(id=int(t.get(A_ID)), label=t.get(A_LABEL), duration=self._dur(t, A_DURATION)) for t in el
        )

    def _transitions(self, el: etree._Element) -> tuple[rm.Transition, ...]:
        out = []
        for t in el:
            start: tuple[int, ...] = ()
            blocking: tuple[int, ...] = ()
            for refs in t:
                ids = tuple(int(r.get(A_TIMER_ID)) for r in refs)
                if refs.tag == T_START_TIMERS:
                    start = ids
                else:
                    blocking = ids
            out.append(
                rm.Transition(
                    from_running_mode_id=int(t.get(A_FROM)),
                    to_running_mode_id=int(t.get(A_TO)),
                    start_timers=start,
                    blocking_timers=blocking,
                    transition_cost=self._opt_num(t, A_COST),
                    transition_duration=None if t.get(A_TRANSITION_DURATION) is None else self._dur(
                        t, A_TRANSITION_DURATION
                    ),
                )
            )
        return tuple(out)

    def _timer_updates(self, el: etree._Element) -> tuple[rm.TimerUpdate, ...]:
        return tuple(rm.TimerUpdate(timer_id=int(u.get(A_TIMER_ID)), finished_at=self._dt(u[0])) for u in el)

    def _status_fields(self, children) -> dict:
        """Optional runningModeFactor / previousRunningModeId / transitionTimestamp / timerUpdates."""
        fields: dict = {}
        for c in children:
            tag = c.tag
            if tag == T_RUNNING_MODE_FACTOR:
                fields["running_mode_factor"] = self._num(c)
            elif tag == T_PREVIOUS_RUNNING_MODE:
                fields["previous_running_mode_id"] = int(c.text)
            elif tag == T_TRANSITION_TIMESTAMP:
                fields["transition_timestamp"] = self._dt(c)
            elif tag == T_TIMER_UPDATES:
                fields["timer_updates"] = self._timer_updates(c)
        return fields

    # -- storage ------------------------------------------------------------------------------

    def _storage_point(self, el: etree._Element) -> sto.StorageOperatingPoint:
        return sto.StorageOperatingPoint(
            filling_rate=self._num(el[0]), **self._commodity_values(el[1:], {})
        )

    def _storage_running_mode(self, el: etree._Element):
        if el.tag == T_DISCRETE:
            elements = tuple(
                sto.StorageDiscreteRunningModeElement(
                    fill_level_lower_bound=self._num(e, A_FILL_LOWER),
                    fill_level_upper_bound=self._num(e, A_FILL_UPPER),
                    filling_rate=self._num(e[0]),
                    **self._commodity_values(e[1:], {}),
                )
                for e in el
            )
            return sto.StorageDiscreteRunningMode(id=int(el.get(A_ID)), label=el.get(A_LABEL), elements=elements)
        elements_c = tuple(
            sto.StorageContinuousRunningModeElement(
                fill_level_lower_bound=self._num(e, A_FILL_LOWER),
                fill_level_upper_bound=self._num(e, A_FILL_UPPER),
                lower_bound=self._storage_point(e[0]),
                upper_bound=self._storage_point(e[1]),
            )
            for e in el
        )
        return sto.StorageContinuousRunningMode(id=int(el.get(A_ID)), label=el.get(A_LABEL), elements=elements_c)

    def _actuator_behaviour(self, el: etree._Element) -> sto.ActuatorBehaviour:
        timers: tuple[rm.Timer, ...] = ()
        transitions_el = el[-1]
        if len(el) == 3:
            timers = self._timers(el[1])
        return sto.ActuatorBehaviour(
            actuator_id=int(el.get(A_ACTUATOR_ID)),
            running_modes=tuple(self._storage_running_mode(m) for m in el[0]),
            timers=timers,
            transitions=self._transitions(transitions_el),
        )

    def _storage_system_description(self, root: etree._Element) -> gen.EfiMessage:
        leakage: tuple[sto.LeakageElement, ...] = ()
        if len(root) > 4:
            leakage = tuple(
                sto.LeakageElement(
                    fill_level_lower_bound=self._num(e, A_FILL_LOWER),
                    fill_level_upper_bound=self._num(e, A_FILL_UPPER),
                    leakage_rate=self._num(e, A_LEAKAGE_RATE),
                )
                for e in root[4]
            )
        return sto.StorageSystemDescription(
            actuator_behaviours=tuple(self._actuator_behaviour(b) for b in root[3]),
            leakage_behaviour=leakage,
            **self._update_fields(root),
        )

    def _storage_status(self, root: etree._Element) -> gen.EfiMessage:
        statuses: tuple[sto.ActuatorStatus, ...] = ()
        if len(root) > 4:
            statuses = tuple(
                sto.ActuatorStatus(
                    actuator_id=int(s.get(A_ACTUATOR_ID)),
                    current_running_mode=int(s[0].text),
                    **self._status_fields(s[1:]),
                )
                for s in root[4]
            )
        return sto.StorageStatus(
            current_fill_level=self._num(root[3]), actuator_statuses=statuses, **self._update_fields(root)
        )

    def _storage_target_profile(self, root: etree._Element) -> gen.EfiMessage:
        elements = tuple(
            sto.TargetProfileElement(
                duration=self._dur(e, A_DURATION),
                fill_level_lower_bound=self._num(e, A_FILL_LOWER),
                fill_level_upper_bound=self._num(e, A_FILL_UPPER),
            )
            for e in root[3]
        )
        return sto.StorageFillLevelTargetProfile(
            target_profile=sto.TargetProfile(elements=elements), **self._update_fields(root)
        )

    def _storage_usage_forecast(self, root: etree._Element) -> gen.EfiMessage:
        p = root[3][0]
        forecast: sto.StorageUsageProfile | sto.StorageUsageProbabilityProfile
        if p.tag == T_USAGE_PROFILE:
            forecast = sto.StorageUsageProfile(
                elements=tuple(
                    sto.StorageUsageElement(duration=self._dur(e, A_DURATION), usage_rate=self._num(e, A_USAGE_RATE))
                    for e in p
                )
            )
        else:
            forecast = sto.StorageUsageProbabilityProfile(elements=self._probability_elements(p))
        return sto.StorageUsageForecast(usage_forecast=forecast, **self._update_fields(root))

    def _storage_instruction(self, root: etree._Element) -> gen.EfiMessage:
        instructions = []
        for a in root[4]:
            factor = None
            if len(a) == 3:
                factor = self._num(a[1])
            instructions.append(
                sto.ActuatorInstruction(
                    actuator_id=int(a.get(A_ACTUATOR_ID)),
                    running_mode_id=int(a[0].text),
                    running_mode_factor=factor,
                    start_time=self._dt(a[-1]),
                )
            )
        return sto.StorageInstruction(actuator_instructions=tuple(instructions), **self._instruction_fields(root))

    # -- adjustable ---------------------------------------------------------------------------

    def _adjustable_system_description(self, root: etree._Element) -> gen.EfiMessage:
        modes = []
        for m in root[3]:
            mode_id, label = int(m.get(A_ID)), m.get(A_LABEL)
            if m.tag == T_DISCRETE:
                modes.append(adj.AdjustableDiscreteRunningMode(id=mode_id, label=label, **self._commodity_values(m, {})))
            else:
                modes.append(
                    adj.AdjustableContinuousRunningMode(
                        id=mode_id,
                        label=label,
                        lower_bound=rm.CommodityValues(**self._commodity_values(m[0], {})),
                        upper_bound=rm.CommodityValues(**self._commodity_values(m[1], {})),
                    )
                )
        timers: tuple[rm.Timer, ...] = ()
        if len(root) > 5:
            timers = self._timers(root[4])
        return adj.AdjustableSystemDescription(
            running_modes=tuple(modes), timers=timers, transitions=self._transitions(root[-1]), **self._update_fields(root)
        )

    def _adjustable_status(self, root: etree._Element) -> gen.EfiMessage:
        return adj.AdjustableStatus(
            current_running_mode_id=int(root[3].text), **self._status_fields(root[4:]), **self._update_fields(root)
        )

    def _adjustable_instruction(self, root: etree._Element) -> gen.EfiMessage:
        factor = self._num(root[5]) if len(root) > 6 else None
        return adj.AdjustableInstruction(
            running_mode_id=int(root[4].text),
            running_mode_factor=factor,
            start_time=self._dt(root[-1]),
            **self._instruction_fields(root),
        )
