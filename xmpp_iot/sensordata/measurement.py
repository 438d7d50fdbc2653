"""Our measurement model (:mod:`xmpp_iot.measurement`) as XEP-0323 fields, and back.

A device publishes :class:`~xmpp_iot.measurement.MeterReadout`/:class:`~xmpp_iot.measurement.PmuFrame`
payloads on pub/sub and answers readouts with the same readings: one representation, two transports.
The forward direction is the measurement package's own :func:`~xmpp_iot.measurement.to_xep0323_fields`;
this module adds the XEP-0323 details (node, precision, field-type names) and the way back.

Mapping: field name ``quantity`` or ``quantity.phase`` (``voltage.L1``), a phasor as ``name`` (magnitude)
plus ``name.angle`` (degrees); quality ``questionable``/``invalid`` ↔ QoS ``warning``/``error``;
field type ``historical`` ↔ ``historicalOther``. ``automaticReadout`` is what a field without QoS flags
means (XEP-0323 §7.8), so a reading without flags gets it on the wire and loses it on the way back.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..measurement import (
    FieldType,
    MeterReadout,
    Phase,
    Phasor,
    PmuFrame,
    Quality,
    QualityFlag,
    Quantity,
    Reading,
    Unit,
    to_xep0323_fields,
)
from .model import HISTORICAL_TYPES, THIS_DEVICE, Field, NodeRef, ValueType

__all__ = ["fields_from_payload", "fields_from_reading", "readings_from_fields"]

_TO_XEP_TYPE = {"historical": "historicalOther"}
_QUALITY_FLAGS = {f.value for f in QualityFlag}
#: carried by Reading.quality, or the XEP's default when no QoS flag is given (§7.8)
_NOT_FLAGS = ("warning", "error", "automaticReadout")


def fields_from_reading(reading: Reading, node: NodeRef = THIS_DEVICE, nr_decimals: int | None = None) -> list[Field]:
    """One numeric field per reading (two for a phasor)."""
    out = []
    for f in to_xep0323_fields(reading):
        out.append(Field(name=f.name, type=ValueType.NUMERIC, value=float(f.value), timestamp=f.timestamp,
                         node=node, unit=f.unit, nr_decimals=nr_decimals,
                         types=frozenset({_TO_XEP_TYPE.get(f.field_type, f.field_type)}),
                         qos=frozenset(f.qos) or frozenset({"automaticReadout"})))
    return out


def fields_from_payload(payload: MeterReadout | PmuFrame, node: NodeRef = THIS_DEVICE,
                        nr_decimals: int | None = None) -> list[Field]:
    """Every reading of a meter readout or PMU frame as fields."""
    return [f for r in payload.readings for f in fields_from_reading(r, node, nr_decimals)]


def readings_from_fields(fields: Iterable[Field]) -> list[Reading]:
    """Readings back from numeric fields named after our quantities; other fields are skipped."""
    fields = list(fields)
    angles = {(f.node, f.timestamp, f.name[: -len(".angle")]): f for f in fields if f.name.endswith(".angle")}
    out = []
    for f in fields:
        if f.type is not ValueType.NUMERIC or f.name.endswith(".angle"):
            continue
        quantity_name, _, phase_name = f.name.partition(".")
        try:
            quantity = Quantity(quantity_name)
            phase = Phase(phase_name) if phase_name else None
            unit = Unit(f.unit)
        except ValueError:
            continue
        angle = angles.get((f.node, f.timestamp, f.name))
        value: float | Phasor = Phasor(float(f.value), float(angle.value)) if angle else float(f.value)  # type: ignore[arg-type]
        quality = Quality.INVALID if "error" in f.qos else Quality.QUESTIONABLE if "warning" in f.qos else Quality.GOOD
        flags = frozenset(QualityFlag(q) for q in f.qos if q in _QUALITY_FLAGS and q not in _NOT_FLAGS)
        field_type = _field_type(f.types)
        out.append(Reading(quantity=quantity, value=value, unit=unit, timestamp=f.timestamp, phase=phase,
                           quality=quality, flags=flags, field_type=field_type))
    return out


def _field_type(types: frozenset[str]) -> FieldType:
    if any(t in HISTORICAL_TYPES for t in types):
        return FieldType.HISTORICAL
    for ft in (FieldType.MOMENTARY, FieldType.PEAK, FieldType.STATUS, FieldType.COMPUTED):
        if ft.value in types:
            return ft
    return FieldType.MOMENTARY
