"""Shiftable category (specification chapter 5): a program (e.g. a washing machine's) whose start can be
shifted, possibly split into sequential profiles with a pause of bounded length between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from .enums import Commodity
from .messages import FlexibilityRegistration, FlexibilityUpdate, Instruction
from .profiles import ProfileContainer

__all__ = [
    "SequentialProfile",
    "SequentialProfileAlternative",
    "SequentialProfileInstruction",
    "ShiftableInstruction",
    "ShiftableRegistration",
    "ShiftableUpdate",
]


@dataclass(slots=True, kw_only=True)
class ShiftableRegistration(FlexibilityRegistration):
    """Registers a shiftable device and the commodities it uses."""

    TAG: ClassVar[str] = "ShiftableRegistration"

    supported_commodities: tuple[Commodity, ...]


@dataclass(slots=True, kw_only=True)
class SequentialProfileAlternative:
    """One way to run a program phase; its profiles start when the CEM starts the phase."""

    alternative_nr: int
    profiles: ProfileContainer


@dataclass(slots=True, kw_only=True)
class SequentialProfile:
    """A program phase: at most ``max_interval_before`` after the previous one ends."""

    sequence_nr: int
    max_interval_before: timedelta
    alternatives: tuple[SequentialProfileAlternative, ...]


@dataclass(slots=True, kw_only=True)
class ShiftableUpdate(FlexibilityUpdate):
    """The program: every phase must have finished before ``end_before``."""

    TAG: ClassVar[str] = "ShiftableUpdate"

    end_before: datetime
    sequential_profiles: tuple[SequentialProfile, ...]


@dataclass(slots=True, kw_only=True)
class SequentialProfileInstruction:
    """Start phase ``sequence_nr`` with alternative ``alternative_nr`` at ``start_time``."""

    sequence_nr: int
    alternative_nr: int
    start_time: datetime


@dataclass(slots=True, kw_only=True)
class ShiftableInstruction(Instruction):
    """When to start each phase, and with which alternative."""

    TAG: ClassVar[str] = "ShiftableInstruction"

    sequential_profile_instructions: tuple[SequentialProfileInstruction, ...]
