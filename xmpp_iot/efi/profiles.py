"""Profiles: timeslots laid end to end, starting at the ``valid_from`` of their FlexibilityUpdate.

A profile has no start time of its own (specification 4.5.2); :meth:`Profile.timeslots` places the
elements on the time axis. Every element lasts at least one second. Probability profiles give, per
timeslot, the expected value and the bounds within which 68 % and 95 % of outcomes fall.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from .units import CubicMetresPerSecond, DegreesCelsius, Watt

__all__ = [
    "ElectricityProbabilityProfile",
    "ElectricityProfile",
    "ElectricityProfileElement",
    "GasProbabilityProfile",
    "GasProfile",
    "GasProfileElement",
    "HeatProbabilityProfile",
    "HeatProbabilityProfileElement",
    "HeatProfile",
    "HeatProfileElement",
    "ProbabilityAttributes",
    "ProbabilityElement",
    "Profile",
    "ProfileContainer",
    "Timeslot",
]

E = TypeVar("E")


@dataclass(slots=True, frozen=True)
class Timeslot(Generic[E]):
    """One profile element placed on the time axis."""

    start: datetime
    end: datetime
    element: E


@dataclass(slots=True, kw_only=True)
class Profile(Generic[E]):
    """Elements with a ``duration`` each, back to back from the start of the update."""

    elements: tuple[E, ...]

    def timeslots(self, start: datetime) -> Iterator[Timeslot[E]]:
        """Yield each element with its start and end, the first starting at ``start`` (= validFrom)."""
        t = start
        for element in self.elements:
            end = t + element.duration  # type: ignore[attr-defined]
            yield Timeslot(t, end, element)
            t = end

    def total_duration(self) -> timedelta:
        """Sum of the element durations."""
        return sum((e.duration for e in self.elements), timedelta(0))  # type: ignore[attr-defined]


@dataclass(slots=True, kw_only=True)
class ProbabilityAttributes:
    """Expected value and the 68 % / 95 % probability ranges around it, in the profile's unit."""

    the68_ppr_lower: float
    the95_ppr_lower: float
    expected: float
    the95_ppr_upper: float
    the68_ppr_upper: float


@dataclass(slots=True, kw_only=True)
class ProbabilityElement:
    """A timeslot of a probability profile (wire: ProbabilityAttributesWithDuration)."""

    duration: timedelta
    value: ProbabilityAttributes


@dataclass(slots=True, kw_only=True)
class ElectricityProfileElement:
    """Power in W during ``duration`` (consumption positive)."""

    duration: timedelta
    power: Watt


@dataclass(slots=True, kw_only=True)
class ElectricityProfile(Profile[ElectricityProfileElement]):
    """Electric power over time (W)."""


@dataclass(slots=True, kw_only=True)
class ElectricityProbabilityProfile(Profile[ProbabilityElement]):
    """Electric power over time with uncertainty (W)."""


@dataclass(slots=True, kw_only=True)
class GasProfileElement:
    """Gas flow rate in m3/s during ``duration``."""

    duration: timedelta
    flow_rate: CubicMetresPerSecond


@dataclass(slots=True, kw_only=True)
class GasProfile(Profile[GasProfileElement]):
    """Gas flow rate over time (m3/s)."""


@dataclass(slots=True, kw_only=True)
class GasProbabilityProfile(Profile[ProbabilityElement]):
    """Gas flow rate over time with uncertainty (m3/s)."""


@dataclass(slots=True, kw_only=True)
class HeatProfileElement:
    """Heat during ``duration``: temperature (degrees Celsius), flow rate (m3/s), thermal power (W)."""

    duration: timedelta
    temperature: DegreesCelsius | None = None
    flow_rate: CubicMetresPerSecond | None = None
    thermal_power: Watt | None = None


@dataclass(slots=True, kw_only=True)
class HeatProfile(Profile[HeatProfileElement]):
    """Heat over time."""


@dataclass(slots=True, kw_only=True)
class HeatProbabilityProfileElement:
    """Heat during ``duration`` with uncertainty per quantity."""

    duration: timedelta
    temperature: ProbabilityAttributes | None = None
    flow_rate: ProbabilityAttributes | None = None
    thermal_power: ProbabilityAttributes | None = None


@dataclass(slots=True, kw_only=True)
class HeatProbabilityProfile(Profile[HeatProbabilityProfileElement]):
    """Heat over time with uncertainty."""


@dataclass(slots=True, kw_only=True)
class ProfileContainer:
    """At most one profile (plain or probability) per commodity."""

    electricity: ElectricityProfile | ElectricityProbabilityProfile | None = None
    gas: GasProfile | GasProbabilityProfile | None = None
    heat: HeatProfile | HeatProbabilityProfile | None = None
