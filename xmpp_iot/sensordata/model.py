"""XEP-0323 as plain values: fields, field-type and QoS flags, readout requests and failures.

No XMPP here: devices, the sensor-data component and applications all speak in these values,
and :mod:`xmpp_iot.sensordata.stanza` turns them into the wire format of XEP-0323 v0.6.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from elementpath.datatypes import Duration as XsDuration

from ..discovery.model import NodeRef
from ..measurement.model import QualityFlag
from ..trust import Tokens
from .values import INT_RANGE, LONG_RANGE, format_value

__all__ = [
    "FIELD_TYPES",
    "HISTORICAL_TYPES",
    "NO_TOKENS",
    "NS",
    "QOS_FLAGS",
    "THIS_DEVICE",
    "VALUE_TYPES",
    "EnumValue",
    "Field",
    "NodeRef",
    "ReadoutError",
    "ReadoutRequest",
    "Tokens",
    "ValueType",
]

NS = "urn:xmpp:iot:sensordata"

#: the node of a device that is its own JID (no nodeId), and "no tokens"
THIS_DEVICE = NodeRef()
NO_TOKENS = Tokens()

#: field types in the order of the schema's ``fieldTypes`` attribute group
HISTORICAL_TYPES = (
    "historicalSecond",
    "historicalMinute",
    "historicalHour",
    "historicalDay",
    "historicalWeek",
    "historicalMonth",
    "historicalQuarter",
    "historicalYear",
    "historicalOther",
)
FIELD_TYPES = ("momentary", "peak", "status", "computed", "identity", *HISTORICAL_TYPES)

#: QoS flags in the XEP's order of importance
QOS_FLAGS = tuple(flag.value for flag in QualityFlag)


class ValueType(enum.StrEnum):
    """The field value elements of XEP-0323 (element name = value)."""

    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "dateTime"
    DURATION = "duration"
    ENUM = "enum"
    INT = "int"
    LONG = "long"
    NUMERIC = "numeric"
    STRING = "string"
    TIME = "time"


VALUE_TYPES = tuple(v.value for v in ValueType)

_FIELD_TYPE_SET = frozenset(FIELD_TYPES)
_QOS_SET = frozenset(QOS_FLAGS)


@dataclass(frozen=True, slots=True)
class EnumValue:
    """An enum field's value: the symbol and the enumeration type it belongs to (``dataType``)."""

    value: str
    data_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """One field of a readout: name, typed value, timestamp, node, field types and QoS flags.

    ``unit`` and ``nr_decimals`` only for numeric fields (the XEP keeps precision in the number of
    decimals written, so ``nr_decimals`` is carried through every hop); ``value`` is an
    :class:`EnumValue` for enum fields. ``writable`` says whether a XEP-0325 parameter of the same
    name exists (None = not said).
    """

    name: str
    type: ValueType
    value: object
    timestamp: datetime
    node: NodeRef = THIS_DEVICE
    unit: str = ""
    nr_decimals: int | None = None
    types: frozenset[str] = frozenset({"momentary"})
    qos: frozenset[str] = frozenset({"automaticReadout"})
    writable: bool | None = None
    module: str = ""
    string_ids: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.type, ValueType):
            object.__setattr__(self, "type", ValueType(self.type))
        if not self.name:
            raise ValueError("a field needs a name")
        if not self.types <= _FIELD_TYPE_SET:
            raise ValueError(f"unknown field types {sorted(self.types - _FIELD_TYPE_SET)}")
        if not self.qos <= _QOS_SET:
            raise ValueError(f"unknown QoS flags {sorted(self.qos - _QOS_SET)}")
        python_type = _PYTHON_TYPES[self.type]
        value = self.value
        if not isinstance(value, python_type) or (isinstance(value, bool) and python_type is not bool) or (
                python_type is date and isinstance(value, datetime)):
            if self.type is ValueType.NUMERIC and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, "value", float(value))
            elif self.type is ValueType.DURATION and isinstance(value, XsDuration):
                pass
            else:
                raise ValueError(f"{self.type.value} field {self.name!r}: {type(value).__name__} value {value!r}")
        if python_type is int:
            low, high = INT_RANGE if self.type is ValueType.INT else LONG_RANGE
            if not low <= value <= high:  # type: ignore[operator]
                raise ValueError(f"{value} is out of the {self.type.value} range [{low}, {high}]")

    @classmethod
    def unchecked(cls, name: str, type: ValueType, value: object, timestamp: datetime, node: NodeRef, unit: str,
                  nr_decimals: int | None, types: frozenset[str], qos: frozenset[str], writable: bool | None,
                  module: str, string_ids: str) -> Field:
        """A field from values already checked (by the wire parser): no ``__post_init__`` pass.
        Every attribute is given, in declaration order."""
        f = object.__new__(cls)
        for setter, v in zip(_SLOT_SETTERS, (name, type, value, timestamp, node, unit, nr_decimals, types, qos,
                                             writable, module, string_ids), strict=True):
            setter(f, v)
        return f

    @classmethod
    def of(cls, name: str, value: object, timestamp: datetime | None = None, **kwargs: object) -> Field:
        """A field whose value type follows from the Python value: bool → boolean, int → int (long when
        it needs 64 bits), float → numeric, str → string, datetime/date/time/timedelta → dateTime/date/
        time/duration, EnumValue → enum."""
        return cls(name=name, type=value_type_of(value), value=value,
                   timestamp=timestamp or datetime.now(UTC), **kwargs)  # type: ignore[arg-type]

    @property
    def historical(self) -> bool:
        return any(t in HISTORICAL_TYPES for t in self.types)

    @property
    def lexical(self) -> str:
        """The value as written on the wire."""
        if isinstance(self.value, EnumValue):
            return self.value.value
        return format_value(self.type.value, self.value, self.nr_decimals)


#: slot descriptors' setters: they bypass the frozen __setattr__ (for Field.unchecked)
_SLOT_SETTERS = tuple(getattr(Field, name).__set__ for name in Field.__slots__)

_PYTHON_TYPES: dict[ValueType, type | tuple[type, ...]] = {
    ValueType.BOOLEAN: bool,
    ValueType.DATE: date,
    ValueType.DATETIME: datetime,
    ValueType.DURATION: timedelta,
    ValueType.ENUM: EnumValue,
    ValueType.INT: int,
    ValueType.LONG: int,
    ValueType.NUMERIC: float,
    ValueType.STRING: str,
    ValueType.TIME: time,
}


def value_type_of(value: object) -> ValueType:
    """The XEP-0323 value type a Python value is sent as."""
    if isinstance(value, bool):
        return ValueType.BOOLEAN
    if isinstance(value, int):
        return ValueType.INT if INT_RANGE[0] <= value <= INT_RANGE[1] else ValueType.LONG
    if isinstance(value, float):
        return ValueType.NUMERIC
    if isinstance(value, str):
        return ValueType.STRING
    if isinstance(value, EnumValue):
        return ValueType.ENUM
    if isinstance(value, datetime):
        return ValueType.DATETIME
    if isinstance(value, date):
        return ValueType.DATE
    if isinstance(value, time):
        return ValueType.TIME
    if isinstance(value, timedelta):
        return ValueType.DURATION
    raise ValueError(f"no XEP-0323 value type for {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class ReadoutError:
    """A failure the device met while reading a node (one ``<error/>`` of a ``<failure/>``)."""

    node: NodeRef
    message: str
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutRequest:
    """A ``<req/>`` as the device sees it.

    ``types`` is already expanded: ``all`` and ``historical`` become the flags they stand for, and
    a request with no flag at all asks for every type (our reading of an empty hint). ``nodes`` empty
    means the device itself / every node; ``field_names`` empty means every field.
    """

    requester: str
    seqnr: int
    nodes: tuple[NodeRef, ...] = ()
    field_names: tuple[str, ...] = ()
    types: frozenset[str] = frozenset(FIELD_TYPES)
    from_: datetime | None = None
    to: datetime | None = None
    when: datetime | None = None
    tokens: Tokens = NO_TOKENS

    @property
    def wants_historical(self) -> bool:
        return any(t in HISTORICAL_TYPES for t in self.types)

    @property
    def wants_current(self) -> bool:
        """Anything but historical values (momentary, peak, status, computed, identity)."""
        return any(t not in HISTORICAL_TYPES for t in self.types)

    def wants(self, f: Field) -> bool:
        """Whether a field matches the request (union of asked types; time window for historical ones)."""
        if self.field_names and f.name not in self.field_names:
            return False
        if self.nodes and not any(_same_node(f.node, n) for n in self.nodes):
            return False
        if not (f.types & self.types) and not (not f.types and "momentary" in self.types):
            return False
        if f.historical:
            ts = _aware(f.timestamp)
            if self.from_ is not None and ts < _aware(self.from_):
                return False
            if self.to is not None and ts > _aware(self.to):
                return False
        return True


def _same_node(a: NodeRef, b: NodeRef) -> bool:
    """nodeId decides; sourceId and cacheType narrow only when both sides give them (XEP-0323 §7.5)."""
    if a.node_id != b.node_id:
        return False
    if a.source_id and b.source_id and a.source_id != b.source_id:
        return False
    return not (a.cache_type and b.cache_type and a.cache_type != b.cache_type)


def _aware(ts: datetime) -> datetime:
    """Compare naive timestamps as UTC (the XEP leaves their zone undefined)."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


same_node = _same_node
