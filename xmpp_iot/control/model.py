"""XEP-0325 as plain values: parameter declarations with validation, typed values, colours, errors.

A device declares :class:`Parameter` objects (type, range or options, how to read and write the
hardware); requests carry :class:`ParameterValue` objects. Validation lives here, apart from the wire
format, so the device can check every parameter of a request before it touches any of them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import ClassVar
from xml.etree.ElementTree import Element

from ..discovery.model import NodeRef
from ..errors import BadRequest, ItemNotFound
from ..sensordata.values import INT_RANGE, format_value, parse_value

__all__ = [
    "NS",
    "PARAMETER_TYPES",
    "Color",
    "ParamError",
    "Parameter",
    "ParameterValue",
    "UnknownParameter",
    "parameter_type_of",
]

NS = "urn:xmpp:iot:control"
PARAMETER_TYPES = ("boolean", "color", "date", "dateTime", "double", "duration", "int", "long", "string", "time")
THIS_DEVICE = NodeRef()

_COLOR = re.compile(r"[0-9a-fA-F]{6}([0-9a-fA-F]{2})?")


@dataclass(frozen=True, slots=True)
class Color:
    """An RGB colour with optional alpha, written RRGGBB or RRGGBBAA (XEP-0325 ``color``)."""

    red: int
    green: int
    blue: int
    alpha: int | None = None

    def __post_init__(self) -> None:
        for part in (self.red, self.green, self.blue, 0 if self.alpha is None else self.alpha):
            if not 0 <= part <= 255:
                raise ValueError(f"colour component {part} is outside 0..255")

    @classmethod
    def from_hex(cls, text: str) -> Color:
        if not _COLOR.fullmatch(text.strip()):
            raise ValueError(f"{text!r} is not a colour RRGGBB or RRGGBBAA")
        t = text.strip()
        parts = [int(t[i : i + 2], 16) for i in range(0, len(t), 2)]
        return cls(*parts)  # type: ignore[arg-type]

    @property
    def hex(self) -> str:
        text = f"{self.red:02X}{self.green:02X}{self.blue:02X}"
        return text if self.alpha is None else text + f"{self.alpha:02X}"

    def __str__(self) -> str:
        return self.hex


class ParamError(BadRequest):
    """bad-request with ``<paramError var=''>`` naming the offending parameter (XEP-0325 §3.1.3)."""

    condition: ClassVar[str] = "bad-request"

    def __init__(self, var: str, text: str) -> None:
        el = Element(f"{{{NS}}}paramError", {"var": var})
        el.text = text
        super().__init__(f"{var}: {text}", extra=el)
        self.var = var


class UnknownParameter(ItemNotFound):
    """item-not-found with ``<paramError/>``: the device has no such parameter (XEP-0325 §5.1)."""

    def __init__(self, var: str, text: str = "Unknown parameter.") -> None:
        el = Element(f"{{{NS}}}paramError", {"var": var})
        el.text = text
        super().__init__(f"{var}: {text}", extra=el)
        self.var = var


@dataclass(frozen=True, slots=True)
class ParameterValue:
    """One typed value of a ``set``: name, XEP-0325 type and Python value."""

    name: str
    type: str
    value: object

    @classmethod
    def of(cls, name: str, value: object) -> ParameterValue:
        return cls(name, parameter_type_of(value), value)

    @property
    def lexical(self) -> str:
        if self.type == "color":
            return self.value.hex if isinstance(self.value, Color) else Color.from_hex(str(self.value)).hex
        return format_value(self.type, self.value)


def parameter_type_of(value: object) -> str:
    """The XEP-0325 type a Python value is sent as (int → long when it needs 64 bits)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int" if INT_RANGE[0] <= value <= INT_RANGE[1] else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, Color):
        return "color"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "dateTime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, timedelta):
        return "duration"
    raise ValueError(f"no XEP-0325 parameter type for {type(value).__name__}")


Getter = Callable[[], object | Awaitable[object]]
Setter = Callable[[object], object | Awaitable[object]]


@dataclass(slots=True)
class Parameter:
    """A control parameter a device declares.

    ``minimum``/``maximum`` bound ordered types (numbers, dates, times, durations); ``options`` lists the
    allowed strings (shown as a list in the form). ``write`` is called with the validated Python value;
    ``read`` gives the current value for the form (and for rollback if a later write fails).
    """

    name: str
    type: str
    write: Setter
    read: Getter | None = None
    label: str = ""
    description: str = ""
    minimum: object = None
    maximum: object = None
    options: tuple[str, ...] = ()
    page: str = ""
    _check: Callable[[object], str | None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.type not in PARAMETER_TYPES:
            raise ValueError(f"{self.type!r} is not a XEP-0325 parameter type {PARAMETER_TYPES}")
        for bound in (self.minimum, self.maximum):
            if bound is not None:
                self._checked(bound)

    def parse(self, text: str) -> object:
        """A lexical value (typed element or form field) → validated Python value, or ParamError."""
        try:
            value = Color.from_hex(text) if self.type == "color" else parse_value(self.type, text)
        except ValueError as exc:
            raise ParamError(self.name, f"Invalid parameter value: {exc}") from None
        return self.validate(value)

    def validate(self, value: object) -> object:
        """Check type, range and options of a Python value; returns it (colours normalised)."""
        try:
            value = self._checked(value)
        except ValueError as exc:
            raise ParamError(self.name, f"Invalid parameter type: {exc}") from None
        try:
            if self.minimum is not None and value < self.minimum:  # type: ignore[operator]
                raise ParamError(self.name, f"Invalid parameter value: below the minimum {self.minimum}")
            if self.maximum is not None and value > self.maximum:  # type: ignore[operator]
                raise ParamError(self.name, f"Invalid parameter value: above the maximum {self.maximum}")
        except TypeError:  # e.g. a naive datetime against an aware bound
            raise ParamError(self.name, "Invalid parameter value: not comparable with the allowed range") from None
        if self.options and value not in self.options:
            raise ParamError(self.name, f"Invalid parameter value: not one of {', '.join(self.options)}")
        if self._check is not None and (problem := self._check(value)):
            raise ParamError(self.name, f"Invalid parameter value: {problem}")
        return value

    def _checked(self, value: object) -> object:
        if self.type == "color":
            if isinstance(value, str):
                return Color.from_hex(value)
            if not isinstance(value, Color):
                raise ValueError(f"colour expected, got {type(value).__name__}")
            return value
        if self.type == "double" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        format_value(self.type, value)  # raises ValueError on a wrong Python type or int/long range
        return value


def check_unique(values: Iterable[ParameterValue]) -> None:
    seen: set[str] = set()
    for v in values:
        if v.name in seen:
            raise ParamError(v.name, "Parameter given twice.")
        seen.add(v.name)
