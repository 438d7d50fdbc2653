"""XML Schema lexical forms of the values EFI and our measurement payload use.

Shared by both codecs. Parsing trusts that schema validation already checked the lexical form; what is
left to reject here is what Python cannot represent (years beyond 9999, calendar months in a duration)
and what our model forbids (naive datetimes, non-finite numbers). Errors are :class:`LexicalError`, which
the codecs turn into a :class:`~xmpp_iot.efi.errors.PayloadValidationError` naming the element.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

__all__ = [
    "LexicalError",
    "format_datetime",
    "format_decimal",
    "format_double",
    "format_duration",
    "parse_bool",
    "parse_datetime",
    "parse_decimal",
    "parse_double",
    "parse_duration",
]


class LexicalError(ValueError):
    """A value whose lexical form cannot become the model's Python value."""


_DURATION = re.compile(
    r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?|\.\d+)S)?)?"
)
_DURATION_CACHE: dict[str, timedelta] = {}
_DURATION_CACHE_MAX = 4096


def parse_duration(text: str) -> timedelta:
    """xs:duration → timedelta. Years and months have no fixed length, so only zero ones are accepted."""
    cached = _DURATION_CACHE.get(text)
    if cached is not None:
        return cached
    m = _DURATION.fullmatch(text.strip())
    if m is None or text.strip() in ("P", "-P") or text.strip().endswith("T"):
        raise LexicalError(f"{text!r} is not an xs:duration")
    sign, years, months, days, hours, minutes, seconds = m.groups()
    if (years and int(years)) or (months and int(months)):
        raise LexicalError(
            f"duration {text!r} uses years or months, which have no fixed length; use days (P30D) instead"
        )
    try:
        value = timedelta(
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=float(seconds) if seconds and "." in seconds else int(seconds or 0),
        )
    except OverflowError as exc:
        raise LexicalError(f"duration {text!r} is too long") from exc
    if sign:
        value = -value
    if len(_DURATION_CACHE) < _DURATION_CACHE_MAX and len(text) <= 64:
        _DURATION_CACHE[text] = value
    return value


def format_duration(value: timedelta) -> str:
    """timedelta → canonical xs:duration (days, hours, minutes, seconds; sign in front)."""
    if value < timedelta(0):
        return "-" + format_duration(-value)
    days = value.days
    secs = value.seconds
    micros = value.microseconds
    hours, rest = divmod(secs, 3600)
    minutes, seconds = divmod(rest, 60)
    out = ["P"]
    if days:
        out.append(f"{days}D")
    if hours or minutes or seconds or micros or not days:
        out.append("T")
        if hours:
            out.append(f"{hours}H")
        if minutes:
            out.append(f"{minutes}M")
        if micros:
            out.append(f"{seconds}.{micros:06d}".rstrip("0") + "S")
        elif seconds or not (hours or minutes):
            out.append(f"{seconds}S")
    return "".join(out)


def parse_datetime(text: str, assume_tz: tzinfo | None = None) -> datetime:
    """xs:dateTime → datetime. Without an offset the value is naive unless ``assume_tz`` is given."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise LexicalError(f"dateTime {text!r} cannot be represented (year 1..9999, hour 0..23)") from exc
    if value.tzinfo is None and assume_tz is not None:
        value = value.replace(tzinfo=assume_tz)
    return value


def format_datetime(value: datetime) -> str:
    """Aware datetime → xs:dateTime with its offset (UTC written as ``Z``); naive is refused."""
    offset = value.utcoffset() if value.tzinfo is not None else None
    if offset is None:
        raise LexicalError("datetime has no timezone; EFI times must be timezone-aware")
    text = value.isoformat()
    if offset == timedelta(0) and text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def is_naive(value: datetime) -> bool:
    """True when a datetime carries no usable offset."""
    return value.tzinfo is None or value.utcoffset() is None


def parse_double(text: str) -> float:
    """xs:double → finite float (INF and NaN are lexically valid but meaningless as power or level)."""
    value = float(text)
    if not math.isfinite(value):
        raise LexicalError(f"{text.strip()!r} is not a finite number")
    return value


def format_double(value: float) -> str:
    """Finite float → shortest xs:double form that reads back to the same float."""
    if not math.isfinite(value):
        raise LexicalError(f"{value!r} is not a finite number")
    return repr(float(value))


def parse_decimal(text: str) -> Decimal:
    """xs:decimal → Decimal (exact, as money should be)."""
    return Decimal(text.strip())


def format_decimal(value: Decimal) -> str:
    """Decimal → xs:decimal (no exponent)."""
    if not value.is_finite():
        raise LexicalError(f"{value!r} is not a finite decimal")
    return format(value, "f")


def parse_bool(text: str) -> bool:
    """xs:boolean → bool."""
    return text.strip() in ("true", "1")


UTC_ZONE = UTC
