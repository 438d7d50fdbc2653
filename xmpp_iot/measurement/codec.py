"""encode / decode of the measurement payload (``urn:xmpp-iot:measurement:1``), validated both ways.

Same pipeline as the EFI codec: size limit, secure parse, namespace check, our
``schemas/measurement-1.0.xsd``, a hand-written mapper, then the rules the schema leaves out (unit of
each quantity, quantities allowed per payload, phasors only for V and I, one value per quantity, phase
and type, timezone-aware times, finite numbers).
"""

from __future__ import annotations

import dataclasses
import math
import xml.etree.ElementTree as ET

from lxml import etree

from ..efi.lexical import LexicalError, format_datetime, parse_datetime
from ..xmlcodec import XmlCodec
from .errors import MeasurementValidationError
from .model import (
    METER_QUANTITIES,
    PHASOR_QUANTITIES,
    PMU_QUANTITIES,
    QUANTITY_UNITS,
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
)

__all__ = ["MEASUREMENT_NS", "SCHEMA_FILE", "MeasurementCodec", "decode", "decode_element", "encode", "encode_element"]

MEASUREMENT_NS = "urn:xmpp-iot:measurement:1"
SCHEMA_FILE = "measurement-1.0.xsd"
_P = "{" + MEASUREMENT_NS + "}"
_T_READING = _P + "reading"
_T_PHASOR = _P + "phasor"
_ROOTS: dict[str, type[PmuFrame] | type[MeterReadout]] = {_P + "pmuFrame": PmuFrame, _P + "meterReadout": MeterReadout}
_ALLOWED = {PmuFrame: PMU_QUANTITIES, MeterReadout: METER_QUANTITIES}
_QUANTITY = {q.value: q for q in Quantity}
_UNIT = {u.value: u for u in Unit}
_PHASE = {p.value: p for p in Phase}
_QUALITY = {q.value: q for q in Quality}
_FLAG = {f.value: f for f in QualityFlag}
_TYPE = {t.value: t for t in FieldType}
_NO_FLAGS: frozenset[QualityFlag] = frozenset()
_GOOD = Quality.GOOD
_ALLOWED_NAMES = {cls: frozenset(q.value for q in quantities) for cls, quantities in _ALLOWED.items()}
_UNIT_NAME = {q.value: u.value for q, u in QUANTITY_UNITS.items()}
_PHASOR_NAMES = frozenset(q.value for q in PHASOR_QUANTITIES)
_READING_FIELDS = ("quantity", "value", "unit", "timestamp", "phase", "quality", "flags", "field_type")


#: attributes of xs:token-derived types, whose surrounding whitespace the schema ignores
_TOKEN_ATTRIBUTES = frozenset({"quantity", "unit", "phase", "type", "quality"})


def _new_reading(quantity, value, unit, timestamp, phase, quality, flags, field_type) -> Reading:
    """Reading(...) without the keyword matching of the dataclass __init__ (half the cost; 14 per
    meter readout). Only valid while Reading has exactly these fields: checked below."""
    r = _object_new(Reading)
    r.quantity = quantity
    r.value = value
    r.unit = unit
    r.timestamp = timestamp
    r.phase = phase
    r.quality = quality
    r.flags = flags
    r.field_type = field_type
    return r


def _kw_reading(quantity, value, unit, timestamp, phase, quality, flags, field_type) -> Reading:
    return Reading(quantity=quantity, value=value, unit=unit, timestamp=timestamp, phase=phase, quality=quality,
                   flags=flags, field_type=field_type)


_object_new = object.__new__
if tuple(f.name for f in dataclasses.fields(Reading)) != _READING_FIELDS:  # the model grew: stay correct
    _new_reading = _kw_reading
_isfinite = math.isfinite

Payload = PmuFrame | MeterReadout


class MeasurementCodec(XmlCodec[Payload]):
    """Encoder and decoder of PMU frames and meter readouts with one policy (see EfiCodec)."""

    __slots__ = ()

    error = MeasurementValidationError
    schema_file = SCHEMA_FILE
    prefixes = {MEASUREMENT_NS: "m"}
    element_nsmap = {None: MEASUREMENT_NS}

    def decode_tree(self, root: etree._Element) -> Payload:
        """A root element from the secure parser → payload object."""
        cls = _ROOTS.get(root.tag) if isinstance(root.tag, str) else None
        if cls is None:
            q = etree.QName(root) if isinstance(root.tag, str) else None
            raise MeasurementValidationError(
                "/" + (q.localname if q else "?"),
                f"root element {{{q.namespace if q else None}}}{q.localname if q else '?'} is not a "
                f"pmuFrame or meterReadout in namespace {MEASUREMENT_NS!r}",
            )
        self.validate(root)
        ts = self._dt(root, root.get("timestamp"))
        # The rules are checked on the attribute strings (hashing a str is cached, an Enum's is not):
        # a document that breaks one is rebuilt and handed to _check_rules for the precise error.
        allowed = _ALLOWED_NAMES[cls]
        seen: set[tuple] = set()
        suspicious = False
        readings = []
        new_reading = _new_reading
        for i, el in enumerate(root, 1):
            attrs = dict(el.items())  # one call into lxml instead of one per attribute
            for name in _TOKEN_ATTRIBUTES.intersection(attrs):
                attrs[name] = attrs[name].strip()  # xs:token: surrounding whitespace is allowed, means nothing
            get = attrs.get
            q = get("quantity")
            unit = get("unit")
            phase = get("phase")
            kind = get("type") or "momentary"
            key = (q, phase, kind)
            if q not in allowed or _UNIT_NAME[q] != unit or key in seen:
                suspicious = True
            seen.add(key)
            text = get("value")
            if text is not None:
                number = self._double(el, i, "value", text)
                if not _isfinite(number):
                    self._not_finite(el, i, "value")
                value: float | Phasor = number
            else:
                magnitude = self._double(el, i, "magnitude", get("magnitude"))
                angle = self._double(el, i, "angle", get("angle"))
                if not (_isfinite(magnitude) and _isfinite(angle)):
                    self._not_finite(el, i, "magnitude" if not _isfinite(magnitude) else "angle")
                if q not in _PHASOR_NAMES or magnitude < 0:
                    suspicious = True
                value = Phasor(magnitude, angle)
            own = get("timestamp")
            flags = get("flags")
            quality = get("quality")
            readings.append(new_reading(
                _QUANTITY[q], value, _UNIT[unit], ts if own is None else self._dt(el, own, i),
                None if phase is None else _PHASE[phase], _GOOD if quality is None else _QUALITY[quality],
                _NO_FLAGS if flags is None else _flags(flags), _TYPE[kind],
            ))
        payload = cls(device=root.get("device"), timestamp=ts, readings=tuple(readings))
        if suspicious or not readings:
            _check_rules(payload)
        return payload

    def _dt(self, el: etree._Element, text: str, index: int | None = None):
        where = "/@timestamp" if index is None else f"/{etree.QName(el).localname}[{index}]/@timestamp"
        try:
            value = parse_datetime(text, self.assume_tz)
        except LexicalError as exc:
            raise MeasurementValidationError(where, str(exc)) from None
        if value.tzinfo is None:
            raise MeasurementValidationError(where, f"dateTime {text!r} has no timezone offset")
        return value

    @staticmethod
    def _double(el: etree._Element, index: int, name: str, text: str) -> float:
        try:
            return float(text)
        except ValueError:  # libxml2 lets a few non-doubles through, e.g. "1.0e"
            raise MeasurementValidationError(
                f"/{etree.QName(el).localname}[{index}]/@{name}", f"{text!r} is not an xs:double"
            ) from None

    @staticmethod
    def _not_finite(el: etree._Element, index: int, name: str) -> None:
        raise MeasurementValidationError(
            f"/{etree.QName(el).localname}[{index}]/@{name}",
            "number is not finite (INF or NaN)",
        )

    # -- encode -------------------------------------------------------------------------------

    def encode_tree(self, payload: Payload) -> etree._Element:
        """Payload → validated lxml element."""
        check(payload)
        try:
            root = self._build(payload)
        except (LexicalError, TypeError, ValueError, AttributeError) as exc:
            raise MeasurementValidationError(getattr(payload, "TAG", "(payload)"), f"cannot encode: {exc}") from None
        self.validate(root)
        return root

    @staticmethod
    def _build(payload: Payload) -> etree._Element:
        ts = payload.timestamp
        root = etree.Element(
            _P + payload.TAG, {"device": payload.device, "timestamp": format_datetime(ts)}, nsmap={None: MEASUREMENT_NS}
        )
        sub = etree.SubElement
        for r in payload.readings:
            attrs = {"quantity": r.quantity.value}
            if r.phase is not None:
                attrs["phase"] = r.phase.value
            attrs["unit"] = r.unit.value
            if r.timestamp != ts or r.timestamp.utcoffset() != ts.utcoffset():
                attrs["timestamp"] = format_datetime(r.timestamp)
            if r.quality is not Quality.GOOD:
                attrs["quality"] = r.quality.value
            if r.flags:
                attrs["flags"] = " ".join(sorted(f.value for f in r.flags))
            if r.field_type is not FieldType.MOMENTARY:
                attrs["type"] = r.field_type.value
            v = r.value
            if isinstance(v, Phasor):
                attrs["magnitude"] = repr(float(v.magnitude))
                attrs["angle"] = repr(float(v.angle))
                sub(root, _T_PHASOR, attrs)
            else:
                attrs["value"] = repr(float(v))
                sub(root, _T_READING, attrs)
        return root


def check(payload: Payload) -> None:
    """Raise :class:`MeasurementValidationError` if the payload breaks a rule the schema leaves out."""
    if type(payload) not in _ALLOWED:
        raise MeasurementValidationError(type(payload).__name__, "not a PmuFrame or MeterReadout")
    tag = payload.TAG
    _aware(payload.timestamp, f"/{tag}/@timestamp")
    for i, r in enumerate(payload.readings, 1):
        if isinstance(r.value, Phasor):
            _finite(r.value.magnitude, f"/{tag}/phasor[{i}]/@magnitude")
            _finite(r.value.angle, f"/{tag}/phasor[{i}]/@angle")
        else:
            _finite(r.value, f"/{tag}/reading[{i}]/@value")
        _aware(r.timestamp, f"/{tag}/reading[{i}]/@timestamp")
    _check_rules(payload)


def _check_rules(payload: Payload) -> None:
    """The rules on decoded values (finite numbers and aware times are already guaranteed)."""
    allowed = _ALLOWED[type(payload)]
    tag = payload.TAG
    if not payload.readings:
        raise MeasurementValidationError(f"/{tag}", "a payload needs at least one reading")
    seen: set[tuple] = set()
    for i, r in enumerate(payload.readings, 1):
        quantity = r.quantity
        is_phasor = isinstance(r.value, Phasor)
        if (
            quantity not in allowed
            or r.unit is not QUANTITY_UNITS[quantity]
            or (is_phasor and (quantity not in PHASOR_QUANTITIES or r.value.magnitude < 0))  # type: ignore[union-attr]
        ):
            _reading_error(payload, i, r)
        key = (quantity, r.phase, r.field_type)
        if key in seen:
            where = f"/{tag}/{'phasor' if is_phasor else 'reading'}[{i}]"
            raise MeasurementValidationError(where, f"{r.field_name} ({r.field_type.value}) appears more than once")
        seen.add(key)


def _reading_error(payload: Payload, i: int, r: Reading) -> None:
    tag = payload.TAG
    where = f"/{tag}/{'phasor' if isinstance(r.value, Phasor) else 'reading'}[{i}]"
    if r.quantity not in _ALLOWED[type(payload)]:
        raise MeasurementValidationError(where + "/@quantity", f"{r.quantity.value} does not belong in a {tag}")
    expected = QUANTITY_UNITS[r.quantity]
    if r.unit is not expected:
        raise MeasurementValidationError(
            where + "/@unit", f"{r.quantity.value} is expressed in {expected.value}, not {r.unit.value}"
        )
    if r.quantity not in PHASOR_QUANTITIES:
        raise MeasurementValidationError(where, f"{r.quantity.value} cannot be a phasor")
    raise MeasurementValidationError(where + "/@magnitude", "phasor magnitude is negative")


_FLAG_CACHE: dict[str, frozenset[QualityFlag]] = {}


def _flags(text: str) -> frozenset[QualityFlag]:
    flags = _FLAG_CACHE.get(text)
    if flags is None:
        flags = frozenset(_FLAG[f] for f in text.split())
        if len(_FLAG_CACHE) < 1024:
            _FLAG_CACHE[text] = flags
    return flags


def _finite(value: float, where: str) -> None:
    try:
        ok = _isfinite(value)
    except TypeError:
        raise MeasurementValidationError(where, f"expected a number, got {value!r}") from None
    if not ok:
        raise MeasurementValidationError(where, f"number is not finite ({value!r})")


def _aware(value, where: str) -> None:
    if getattr(value, "tzinfo", None) is None or value.utcoffset() is None:
        raise MeasurementValidationError(where, f"datetime {value!r} has no timezone; times must be timezone-aware")


_default = MeasurementCodec()


def decode(xml: bytes | str, *, codec: MeasurementCodec | None = None) -> Payload:
    """Decode one measurement document with the default (strict) policy or ``codec``."""
    return (codec or _default).decode(xml)


def decode_element(element: ET.Element | etree._Element, *, codec: MeasurementCodec | None = None) -> Payload:
    """Decode a payload element already parsed (xml.etree or lxml)."""
    return (codec or _default).decode_element(element)


def encode(payload: Payload, *, codec: MeasurementCodec | None = None) -> bytes:
    """Encode one payload to bytes, validated against our schema."""
    return (codec or _default).encode(payload)


def encode_element(payload: Payload, *, codec: MeasurementCodec | None = None) -> ET.Element:
    """Encode one payload to an ``xml.etree`` element."""
    return (codec or _default).encode_element(payload)
