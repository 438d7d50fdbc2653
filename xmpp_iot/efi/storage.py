"""Storage category (specification chapter 7): devices with a buffer (boiler, battery, fridge) whose
fill level bounds their flexibility. Fill levels are in the registration's ``fill_level_unit``, rates
in that unit per second."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from .enums import Commodity
from .messages import FlexibilityRegistration, FlexibilityUpdate, Instruction
from .profiles import ProbabilityElement, Profile
from .running_modes import CommodityValues, Timer, TimerUpdate, Transition
from .units import FillLevel, FillLevelPerSecond

__all__ = [
    "Actuator",
    "ActuatorBehaviour",
    "ActuatorInstruction",
    "ActuatorStatus",
    "LeakageElement",
    "StorageContinuousRunningMode",
    "StorageContinuousRunningModeElement",
    "StorageDiscreteRunningMode",
    "StorageDiscreteRunningModeElement",
    "StorageFillLevelTargetProfile",
    "StorageInstruction",
    "StorageOperatingPoint",
    "StorageRegistration",
    "StorageStatus",
    "StorageSystemDescription",
    "StorageUsageElement",
    "StorageUsageForecast",
    "StorageUsageProbabilityProfile",
    "StorageUsageProfile",
    "TargetProfile",
    "TargetProfileElement",
]


@dataclass(slots=True, kw_only=True)
class Actuator:
    """A part of the device that can be controlled on its own (e.g. a burner)."""

    id: int
    supported_commodities: tuple[Commodity, ...]
    label: str | None = None


@dataclass(slots=True, kw_only=True)
class StorageRegistration(FlexibilityRegistration):
    """Registers a storage device: what its fill level means and its actuators."""

    TAG: ClassVar[str] = "StorageRegistration"

    fill_level_label: str
    fill_level_unit: str
    actuators: tuple[Actuator, ...]


@dataclass(slots=True, kw_only=True)
class StorageOperatingPoint(CommodityValues):
    """Filling rate (fill-level unit per second) and the commodity values that cause it."""

    filling_rate: FillLevelPerSecond


@dataclass(slots=True, kw_only=True)
class StorageDiscreteRunningModeElement(StorageOperatingPoint):
    """The operating point of a discrete mode while the fill level is within the bounds."""

    fill_level_lower_bound: FillLevel
    fill_level_upper_bound: FillLevel


@dataclass(slots=True, kw_only=True)
class StorageContinuousRunningModeElement:
    """The operating range of a continuous mode while the fill level is within the bounds."""

    fill_level_lower_bound: FillLevel
    fill_level_upper_bound: FillLevel
    lower_bound: StorageOperatingPoint
    upper_bound: StorageOperatingPoint


@dataclass(slots=True, kw_only=True)
class StorageDiscreteRunningMode:
    """A mode with one operating point per fill-level range."""

    id: int
    label: str
    elements: tuple[StorageDiscreteRunningModeElement, ...]


@dataclass(slots=True, kw_only=True)
class StorageContinuousRunningMode:
    """A mode that can be set anywhere between two operating points (``running_mode_factor``)."""

    id: int
    label: str
    elements: tuple[StorageContinuousRunningModeElement, ...]


StorageRunningMode = StorageDiscreteRunningMode | StorageContinuousRunningMode


@dataclass(slots=True, kw_only=True)
class ActuatorBehaviour:
    """Running modes, timers and transitions of one actuator."""

    actuator_id: int
    running_modes: tuple[StorageRunningMode, ...]
    transitions: tuple[Transition, ...]
    timers: tuple[Timer, ...] = ()


@dataclass(slots=True, kw_only=True)
class LeakageElement:
    """Leakage per second within a fill-level range; positive means the fill level drops."""

    fill_level_lower_bound: FillLevel
    fill_level_upper_bound: FillLevel
    leakage_rate: FillLevelPerSecond


@dataclass(slots=True, kw_only=True)
class StorageSystemDescription(FlexibilityUpdate):
    """How the storage behaves: actuator running modes and leakage (empty = element absent)."""

    TAG: ClassVar[str] = "StorageSystemDescription"

    actuator_behaviours: tuple[ActuatorBehaviour, ...]
    leakage_behaviour: tuple[LeakageElement, ...] = ()


@dataclass(slots=True, kw_only=True)
class ActuatorStatus:
    """Current running mode of one actuator. ``timer_updates`` None: element absent."""

    actuator_id: int
    current_running_mode: int
    running_mode_factor: float | None = None
    previous_running_mode_id: int | None = None
    transition_timestamp: datetime | None = None
    timer_updates: tuple[TimerUpdate, ...] | None = None


@dataclass(slots=True, kw_only=True)
class StorageStatus(FlexibilityUpdate):
    """Current fill level and actuator states (empty ``actuator_statuses`` = element absent)."""

    TAG: ClassVar[str] = "StorageStatus"

    current_fill_level: FillLevel
    actuator_statuses: tuple[ActuatorStatus, ...] = ()


@dataclass(slots=True, kw_only=True)
class TargetProfileElement:
    """Fill level wanted during ``duration``: between the bounds."""

    duration: timedelta
    fill_level_lower_bound: FillLevel
    fill_level_upper_bound: FillLevel


@dataclass(slots=True, kw_only=True)
class TargetProfile(Profile[TargetProfileElement]):
    """Fill-level targets over time, starting at ``valid_from``."""


@dataclass(slots=True, kw_only=True)
class StorageFillLevelTargetProfile(FlexibilityUpdate):
    """What the user wants the fill level to be, over time."""

    TAG: ClassVar[str] = "StorageFillLevelTargetProfile"

    target_profile: TargetProfile


@dataclass(slots=True, kw_only=True)
class StorageUsageElement:
    """Expected usage (fill level lost per second) during ``duration``."""

    duration: timedelta
    usage_rate: FillLevelPerSecond


@dataclass(slots=True, kw_only=True)
class StorageUsageProfile(Profile[StorageUsageElement]):
    """Expected usage over time, starting at ``valid_from``."""


@dataclass(slots=True, kw_only=True)
class StorageUsageProbabilityProfile(Profile[ProbabilityElement]):
    """Expected usage over time with uncertainty (fill-level unit per second)."""


@dataclass(slots=True, kw_only=True)
class StorageUsageForecast(FlexibilityUpdate):
    """Forecast of how the user will drain the storage."""

    TAG: ClassVar[str] = "StorageUsageForecast"

    usage_forecast: StorageUsageProfile | StorageUsageProbabilityProfile


@dataclass(slots=True, kw_only=True)
class ActuatorInstruction:
    """Switch an actuator to a running mode (at ``running_mode_factor`` in its range) at a time."""

    actuator_id: int
    running_mode_id: int
    start_time: datetime
    running_mode_factor: float | None = None


@dataclass(slots=True, kw_only=True)
class StorageInstruction(Instruction):
    """Running-mode changes for one or more actuators."""

    TAG: ClassVar[str] = "StorageInstruction"

    actuator_instructions: tuple[ActuatorInstruction, ...]
