"""Lexical forms of the value types XEP-0323 fields and XEP-0325 parameters share.

Both XEPs spell values as XML Schema types (``xs:boolean``, ``xs:date``, ``xs:dateTime``,
``xs:duration``, ``xs:int``, ``xs:long``, ``xs:double``, ``xs:time``); XEP-0323 §"Harmonization"
says the element names match between the two. One module turns them into Python values and back,
so a readout field and a control parameter of the same name read the same way. Malformed input
raises :class:`ValueError` with a message fit for an XMPP error text.

Python types: boolean → ``bool``, date → ``datetime.date``, dateTime → ``datetime.datetime`` (naive
when the text has no offset: the XEP says the zone is then "undefined"), time → ``datetime.time``,
duration → ``datetime.timedelta`` (or :class:`elementpath.datatypes.Duration` when it counts years or
months, which have no fixed length), int/long → ``int`` (range-checked), double/numeric → ``float``.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta

from elementpath.datatypes import Duration as XsDuration

from ..efi.lexical import format_duration as _format_timedelta

__all__ = [
    "INT_RANGE",
    "LONG_RANGE",
    "decimals_of",
    "format_value",
    "parse_value",
]

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)

_BOOL = {"true": True, "1": True, "false": False, "0": False}
_INTEGER = re.compile(r"[+-]?\d+")
_DOUBLE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?INF|NaN")
_TZ = r"(Z|[+-]\d{2}:\d{2})?"
_DATE = re.compile(r"(-?\d{4,})-(\d{2})-(\d{2})" + _TZ)
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(\.\d+)?" + _TZ)
_DATETIME = re.compile(r"(-?\d{4,}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?" + _TZ)
_DURATION = re.compile(r"-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")


def parse_value(kind: str, text: str) -> object:
    """The Python value of ``text`` read as the XEP value type ``kind`` (element name)."""
    text = text.strip()
    try:
        parser = _PARSERS[kind]
    except KeyError:
        raise ValueError(f"unknown value type {kind!r}") from None
    return parser(text)


def format_value(kind: str, value: object, nr_decimals: int | None = None) -> str:
    """The lexical form of ``value`` as the XEP value type ``kind``; checks the Python type and range."""
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"boolean expected, got {type(value).__name__}")
        return "true" if value else "false"
    if kind in ("int", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{kind} expected, got {type(value).__name__}")
        _check_range(kind, value)
        return str(value)
    if kind in ("numeric", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"number expected, got {type(value).__name__}")
        number = float(value)
        if not math.isfinite(number):
            return "NaN" if math.isnan(number) else ("INF" if number > 0 else "-INF")
        if nr_decimals is not None:
            return f"{number:.{nr_decimals}f}"
        text = repr(number)
        return text[:-2] if text.endswith(".0") and "e" not in text else text
    if kind in ("string", "enum", "color"):
        if not isinstance(value, str):
            raise ValueError(f"string expected, got {type(value).__name__}")
        return value
    if kind == "dateTime":
        if not isinstance(value, datetime):
            raise ValueError(f"datetime expected, got {type(value).__name__}")
        return _iso_with_z(value.isoformat())
    if kind == "date":
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValueError(f"date expected, got {type(value).__name__}")
        return value.isoformat()
    if kind == "time":
        if not isinstance(value, time):
            raise ValueError(f"time expected, got {type(value).__name__}")
        return _iso_with_z(value.isoformat())
    if kind == "duration":
        if isinstance(value, timedelta):
            return _format_timedelta(value)
        if isinstance(value, XsDuration):
            return str(value)
        raise ValueError(f"timedelta expected, got {type(value).__name__}")
    raise ValueError(f"unknown value type {kind!r}")


def decimals_of(text: str) -> int | None:
    """Number of decimals a numeric value was written with ("23.40" → 2); None for exponent forms."""
    text = text.strip()
    if "e" in text or "E" in text or not _DOUBLE.fullmatch(text) or text.endswith(("INF", "NaN")):
        return None
    _, dot, fraction = text.partition(".")
    return len(fraction) if dot else 0


# -- parsers ---------------------------------------------------------------------------------------
def _parse_bool(text: str) -> bool:
    try:
        return _BOOL[text]
    except KeyError:
        raise ValueError(f"{text!r} is not a boolean (true/false/1/0)") from None


def _parse_integer(kind: str):
    def parse(text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"{text!r} is not an integer")
        value = int(text)
        _check_range(kind, value)
        return value

    return parse


def _parse_double(text: str) -> float:
    if not _DOUBLE.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    return float(text.replace("INF", "inf"))


def _parse_string(text: str) -> str:
    return text


def _parse_datetime(text: str) -> datetime:
    m = _DATETIME.fullmatch(text)
    if not m:
        raise ValueError(f"{text!r} is not an xs:dateTime")
    day, clock, fraction, tz = m.groups()
    iso = f"{day}T{clock}{(fraction or '')[:7]}{_offset(tz)}"
    try:
        return datetime.fromisoformat(iso)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid dateTime: {exc}") from None


def _parse_date(text: str) -> date:
    m = _DATE.fullmatch(text)
    if not m:
        raise ValueError(f"{text!r} is not an xs:date")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date: {exc}") from None


def _parse_time(text: str) -> time:
    m = _TIME.fullmatch(text)
    if not m:
        raise ValueError(f"{text!r} is not an xs:time")
    hh, mm, ss, fraction, tz = m.groups()
    try:
        return time.fromisoformat(f"{hh}:{mm}:{ss}{(fraction or '')[:7]}{_offset(tz)}")
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid time: {exc}") from None


def _parse_duration(text: str) -> timedelta | XsDuration:
    if not _DURATION.fullmatch(text):
        raise ValueError(f"{text!r} is not an xs:duration")
    value = XsDuration.fromstring(text)
    if value.months:
        return value
    seconds = value.seconds
    return timedelta(seconds=int(seconds)) + timedelta(microseconds=round((seconds - int(seconds)) * 10**6))


def _parse_color(text: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{6}([0-9a-fA-F]{2})?", text):
        raise ValueError(f"{text!r} is not a colour RRGGBB or RRGGBBAA")
    return text.upper()


_PARSERS = {
    "boolean": _parse_bool,
    "int": _parse_integer("int"),
    "long": _parse_integer("long"),
    "numeric": _parse_double,
    "double": _parse_double,
    "string": _parse_string,
    "enum": _parse_string,
    "dateTime": _parse_datetime,
    "date": _parse_date,
    "time": _parse_time,
    "duration": _parse_duration,
    "color": _parse_color,
}


def _check_range(kind: str, value: int) -> None:
    low, high = INT_RANGE if kind == "int" else LONG_RANGE
    if not low <= value <= high:
        raise ValueError(f"{value} is out of the {kind} range [{low}, {high}]")


def _offset(tz: str | None) -> str:
    return "+00:00" if tz == "Z" else (tz or "")


def _iso_with_z(text: str) -> str:
    return text[:-6] + "Z" if text.endswith("+00:00") else text
