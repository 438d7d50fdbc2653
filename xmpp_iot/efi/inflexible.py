"""Inflexible category (specification chapter 4): devices that follow their own profile (PV, wind,
brown goods), whose only flexibility is curtailment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from .enums import Commodity, CurtailmentQuantity
from .messages import FlexibilityRegistration, FlexibilityUpdate, Instruction
from .profiles import Profile, ProfileContainer

__all__ = [
    "CurtailmentOption",
    "CurtailmentProfile",
    "CurtailmentProfileElement",
    "CurtailmentRange",
    "InflexibleCurtailmentOptions",
    "InflexibleForecast",
    "InflexibleInstruction",
    "InflexibleRegistration",
]


@dataclass(slots=True, kw_only=True)
class InflexibleRegistration(FlexibilityRegistration):
    """Registers an inflexible device and the commodities it uses."""

    TAG: ClassVar[str] = "InflexibleRegistration"

    supported_commodities: tuple[Commodity, ...]


@dataclass(slots=True, kw_only=True)
class InflexibleForecast(FlexibilityUpdate):
    """Forecast of consumption/production; its profiles start at ``valid_from``."""

    TAG: ClassVar[str] = "InflexibleForecast"

    forecast_profiles: ProfileContainer


@dataclass(slots=True, kw_only=True)
class CurtailmentRange:
    """A range the curtailed quantity may be limited to (unit: the option's quantity's unit)."""

    lower_bound: float
    upper_bound: float


@dataclass(slots=True, kw_only=True)
class CurtailmentOption:
    """How one quantity can be curtailed, and for how long at least once started."""

    curtailment_quantity: CurtailmentQuantity
    curtailment_ranges: tuple[CurtailmentRange, ...]
    minimal_curtailment_duration: timedelta = timedelta(0)


@dataclass(slots=True, kw_only=True)
class InflexibleCurtailmentOptions(FlexibilityUpdate):
    """The curtailment a device offers. ``None``: element absent; ``()``: present and empty."""

    TAG: ClassVar[str] = "InflexibleCurtailmentOptions"

    curtailment_options: tuple[CurtailmentOption, ...] | None = None


@dataclass(slots=True, kw_only=True)
class CurtailmentProfileElement:
    """Limit during ``duration``: consumption stays in [0, value] (value > 0) or production in
    [value, 0] (value < 0)."""

    duration: timedelta
    value: float


@dataclass(slots=True, kw_only=True)
class CurtailmentProfile(Profile[CurtailmentProfileElement]):
    """Curtailment limits over time; unlike forecasts it starts at its own ``start_time``."""

    curtailment_quantity: CurtailmentQuantity
    start_time: datetime


@dataclass(slots=True, kw_only=True)
class InflexibleInstruction(Instruction):
    """Asks the device to stay within a curtailment profile."""

    TAG: ClassVar[str] = "InflexibleInstruction"

    curtailment_profile: CurtailmentProfile
