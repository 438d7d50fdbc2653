"""encode / decode of the measurement payload (``urn:xmpp-iot:measurement:1``), validated both ways.

Same pipeline as the EFI codec: size limit, secure parse, namespace check, our
``schemas/measurement-1.0.xsd``, a hand-written mapper, then the rules the schema leaves out (unit of
each quantity, quantities allowed per payload, phasors only for V and I, one value per quantity, phase
and type, timezone-aware times, finite numbers).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import tzinfo

from lxml import etree

from ..efi.lexical import LexicalError, format_datetime, parse_datetime
from ..efi.xmldoc import (
    DEFAULT_MAX_BYTES,
    compiled_schema,
    etree_size,
    from_etree,
    parse_secure,
    raise_schema_error,
)
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
_isfinite = math.isfinite

Payload = PmuFrame | MeterReadout


class MeasurementCodec:
    """Encoder and decoder of PMU frames and meter readouts with one policy (see EfiCodec)."""

    __slots__ = ("assume_tz", "max_bytes")

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, assume_tz: tzinfo | None = None) -> None:
        self.max_bytes = max_bytes
        self.assume_tz = assume_tz

    # -- decode -------------------------------------------------------------------------------

    def decode(self, xml: bytes | str) -> Payload:
        """Bytes of one measurement document → PmuFrame or MeterReadout."""
        return self.decode_tree(parse_secure(xml, self.max_bytes, MeasurementValidationError))

    def decode_element(self, element: ET.Element | etree._Element) -> Payload:
        """A payload element already parsed (xml.etree from slixmpp, or lxml) → payload object."""
        if isinstance(element, etree._Element):
            return self.decode(etree.tostring(element))
        size = etree_size(element)
        if size > self.max_bytes:
            raise MeasurementValidationError("(document)", f"element is about {size} bytes, more than the limit of {self.max_bytes} bytes")
        return self.decode_tree(from_etree(element, {None: MEASUREMENT_NS}))

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
        schema = compiled_schema(SCHEMA_FILE)
        if not schema.validate(root):
            raise_schema_error(schema, {MEASUREMENT_NS: "m"}, MeasurementValidationError, root)
        ts = self._dt(root, root.get("timestamp"))
        readings = []
        new_reading = Reading
        for i, el in enumerate(root, 1):
            quantity = unit = phase = number = magnitude = angle = own_ts = None
            fields: dict = {}
            for name, text in el.items():
                if name == "value":
                    number = float(text)
                elif name == "quantity":
                    quantity = _QUANTITY[text]
                elif name == "unit":
                    unit = _UNIT[text]
                elif name == "phase":
                    phase = _PHASE[text]
                elif name == "magnitude":
                    magnitude = float(text)
                elif name == "angle":
                    angle = float(text)
                elif name == "timestamp":
                    own_ts = self._dt(el, text, i)
                elif name == "flags":
                    fields["flags"] = _flags(text)
                elif name == "quality":
                    fields["quality"] = _QUALITY[text]
                elif name == "type":
                    fields["field_type"] = _TYPE[text]
            if number is not None:
                if not _isfinite(number):
                    self._not_finite(el, i, "value")
                value: float | Phasor = number
            else:
                if not (_isfinite(magnitude) and _isfinite(angle)):  # type: ignore[arg-type]
                    self._not_finite(el, i, "magnitude" if not _isfinite(magnitude) else "angle")  # type: ignore[arg-type]
                value = Phasor(magnitude, angle)  # type: ignore[arg-type]
            readings.append(
                new_reading(
                    quantity=quantity, value=value, unit=unit, timestamp=ts if own_ts is None else own_ts, phase=phase,
                    **fields,
                )
            )
        payload = cls(device=root.get("device"), timestamp=ts, readings=tuple(readings))
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
        schema = compiled_schema(SCHEMA_FILE)
        if not schema.validate(root):
            raise_schema_error(schema, {MEASUREMENT_NS: "m"}, MeasurementValidationError, root)
        return root

    def encode(self, payload: Payload) -> bytes:
        """Payload → UTF-8 bytes (no XML declaration)."""
        return etree.tostring(self.encode_tree(payload))

    def encode_element(self, payload: Payload) -> ET.Element:
        """Payload → ``xml.etree`` element for a slixmpp stanza."""
        return ET.fromstring(self.encode(payload))

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
