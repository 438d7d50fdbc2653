"""Aggregation resolutions of the historian and the bucket each instant falls into.

XEP-0323 names the historical field types by period (historicalSecond ... historicalYear).
Each period is one :class:`Resolution`; a bucket is identified by the UTC instant it starts at,
in microseconds since the epoch, so that rollups are plain integer keys in SQLite. Weeks start on
Monday (ISO 8601); months, quarters and years are calendar periods in UTC.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

__all__ = ["RAW", "Resolution", "bucket_start", "parse_duration"]

US = 1_000_000
_DAY_US = 86_400 * US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RAW = "raw"


class Resolution(enum.Enum):
    """One aggregation period; the value is the XEP-0323 field-type attribute."""

    SECOND = "historicalSecond"
    MINUTE = "historicalMinute"
    HOUR = "historicalHour"
    DAY = "historicalDay"
    WEEK = "historicalWeek"
    MONTH = "historicalMonth"
    QUARTER = "historicalQuarter"
    YEAR = "historicalYear"

    @property
    def short(self) -> str:
        """The name used on the command line and in the store (``second`` ... ``year``)."""
        return self.name.lower()

    @property
    def code(self) -> int:
        return _CODES[self]

    @classmethod
    def from_short(cls, name: str) -> Resolution:
        return cls[name.upper()]


_CODES = {r: i for i, r in enumerate(Resolution, 1)}
_FIXED = {
    Resolution.SECOND: US,
    Resolution.MINUTE: 60 * US,
    Resolution.HOUR: 3600 * US,
    Resolution.DAY: _DAY_US,
}


def bucket_start(ts_us: int, resolution: Resolution) -> int:
    """The start (µs since the epoch, UTC) of the bucket of ``resolution`` holding ``ts_us``."""
    size = _FIXED.get(resolution)
    if size is not None:
        return ts_us - ts_us % size
    if resolution is Resolution.WEEK:  # 1970-01-01 was a Thursday: shift so buckets start on Monday
        shifted = ts_us + 3 * _DAY_US
        return shifted - shifted % (7 * _DAY_US) - 3 * _DAY_US
    t = _EPOCH + timedelta(microseconds=ts_us)
    if resolution is Resolution.MONTH:
        start = datetime(t.year, t.month, 1, tzinfo=UTC)
    elif resolution is Resolution.QUARTER:
        start = datetime(t.year, t.month - (t.month - 1) % 3, 1, tzinfo=UTC)
    else:
        start = datetime(t.year, 1, 1, tzinfo=UTC)
    return to_us(start)


def to_us(t: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact, unlike float seconds)."""
    delta = t - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def from_us(ts_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ts_us)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400, "y": 365 * 86_400}


def parse_duration(text: str) -> float | None:
    """``90s``, ``15m``, ``36h``, ``30d``, ``8w``, ``10y`` → seconds; ``forever`` or ``0`` → None (keep all)."""
    text = text.strip().lower()
    if text in ("forever", "0", "none"):
        return None
    number, unit = text[:-1], text[-1:]
    if unit.isdigit():
        number, unit = text, "s"
    try:
        value = float(number)
    except ValueError:
        raise ValueError(
            f"expected a duration like 90s, 15m, 36h, 30d, 8w, 10y or 'forever', got {text!r}"
        ) from None
    if unit not in _UNITS or value <= 0:
        raise ValueError(f"expected a duration like 90s, 15m, 36h, 30d, 8w, 10y or 'forever', got {text!r}")
    return value * _UNITS[unit]
