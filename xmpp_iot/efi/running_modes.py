"""Running modes, timers and transitions, shared by the Storage and Adjustable categories.

A running mode is an operating point (discrete) or a range of them (continuous) with the commodity
values it causes. Transitions between running modes may start timers and may be blocked by running
timers (e.g. minimum on/off times).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from .units import CubicMetresPerSecond, DegreesCelsius, Watt

__all__ = ["CommodityValues", "Timer", "TimerUpdate", "Transition"]


@dataclass(slots=True, kw_only=True)
class CommodityValues:
    """Commodity values of an operating point (consumption positive).

    ``running_cost`` is per second in the registration's currency, exact as a Decimal.
    """

    running_cost: Decimal | None = None
    electrical_power: Watt | None = None
    gas_flow_rate: CubicMetresPerSecond | None = None
    heat_temperature: DegreesCelsius | None = None
    heat_flow_rate: CubicMetresPerSecond | None = None
    heat_thermal_power: Watt | None = None


@dataclass(slots=True, kw_only=True)
class Timer:
    """A timer that transitions start or are blocked by (e.g. a minimum run time)."""

    id: int
    label: str
    duration: timedelta


@dataclass(slots=True, kw_only=True)
class Transition:
    """An allowed change of running mode, its cost (in currency) and how long it takes."""

    from_running_mode_id: int
    to_running_mode_id: int
    start_timers: tuple[int, ...] = ()
    blocking_timers: tuple[int, ...] = ()
    transition_cost: float | None = None
    transition_duration: timedelta | None = None


@dataclass(slots=True, kw_only=True)
class TimerUpdate:
    """A timer that is running and when it finishes."""

    timer_id: int
    finished_at: datetime
