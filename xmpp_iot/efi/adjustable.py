"""Adjustable category (specification chapter 6): devices whose running mode can be changed at any
time within timer constraints (generators, dimmable loads, heat pumps without a modelled buffer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .enums import Commodity
from .messages import FlexibilityRegistration, FlexibilityUpdate, Instruction
from .running_modes import CommodityValues, Timer, TimerUpdate, Transition

__all__ = [
    "AdjustableContinuousRunningMode",
    "AdjustableDiscreteRunningMode",
    "AdjustableInstruction",
    "AdjustableRegistration",
    "AdjustableStatus",
    "AdjustableSystemDescription",
]


@dataclass(slots=True, kw_only=True)
class AdjustableRegistration(FlexibilityRegistration):
    """Registers an adjustable device and the commodities it uses."""

    TAG: ClassVar[str] = "AdjustableRegistration"

    supported_commodities: tuple[Commodity, ...]


@dataclass(slots=True, kw_only=True)
class AdjustableDiscreteRunningMode(CommodityValues):
    """A mode with one operating point."""

    id: int
    label: str


@dataclass(slots=True, kw_only=True)
class AdjustableContinuousRunningMode:
    """A mode settable anywhere between two operating points (``running_mode_factor`` 0..1)."""

    id: int
    label: str
    lower_bound: CommodityValues
    upper_bound: CommodityValues


AdjustableRunningMode = AdjustableDiscreteRunningMode | AdjustableContinuousRunningMode


@dataclass(slots=True, kw_only=True)
class AdjustableSystemDescription(FlexibilityUpdate):
    """Running modes, timers (empty = element absent) and allowed transitions."""

    TAG: ClassVar[str] = "AdjustableSystemDescription"

    running_modes: tuple[AdjustableRunningMode, ...]
    transitions: tuple[Transition, ...]
    timers: tuple[Timer, ...] = ()


@dataclass(slots=True, kw_only=True)
class AdjustableStatus(FlexibilityUpdate):
    """Current running mode and running timers."""

    TAG: ClassVar[str] = "AdjustableStatus"

    current_running_mode_id: int
    timer_updates: tuple[TimerUpdate, ...] = ()
    running_mode_factor: float | None = None
    previous_running_mode_id: int | None = None
    transition_timestamp: datetime | None = None


@dataclass(slots=True, kw_only=True)
class AdjustableInstruction(Instruction):
    """Switch to a running mode (at ``running_mode_factor`` in its range) at ``start_time``."""

    TAG: ClassVar[str] = "AdjustableInstruction"

    running_mode_id: int
    start_time: datetime
    running_mode_factor: float | None = None
