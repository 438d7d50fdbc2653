"""The generic EFI 2.0 messages (specification chapter 3) and their common bases.

Every message carries the header fields flattened (``efi_resource_id``, ``timestamp``): the Resource
Manager that sends or receives it, and when it was made. Category messages derive from the bases here.
Times are timezone-aware ``datetime``; the codec refuses naive ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from .enums import Currency, DeviceClass, InstructionStatus
from .units import CubicMetresPerSecond, DegreesCelsius, Watt

__all__ = [
    "DeviceDescription",
    "EfiMessage",
    "ElectricityMeasurement",
    "FlexibilityRegistration",
    "FlexibilityRevoke",
    "FlexibilityUpdate",
    "GasMeasurement",
    "HeatValues",
    "Instruction",
    "InstructionRevoke",
    "InstructionStatusUpdate",
    "Measurement",
]


@dataclass(slots=True, kw_only=True)
class EfiMessage:
    """Base of every EFI message: the resource it concerns and when it was created."""

    TAG: ClassVar[str] = ""

    efi_resource_id: str
    timestamp: datetime


@dataclass(slots=True, kw_only=True)
class DeviceDescription:
    """What kind of device the Resource Manager manages (informational only)."""

    device_class: DeviceClass
    serial_number: str | None = None
    label: str | None = None


@dataclass(slots=True, kw_only=True)
class FlexibilityRegistration(EfiMessage):
    """First message of a Resource Manager: its category (the subclass), device and reaction time."""

    instruction_processing_delay: timedelta
    device_description: DeviceDescription
    currency: Currency | None = None


@dataclass(slots=True, kw_only=True)
class FlexibilityUpdate(EfiMessage):
    """Flexibility valid from ``valid_from``; profiles in it start at that moment."""

    flexibility_update_id: str
    valid_from: datetime


@dataclass(slots=True, kw_only=True)
class Instruction(EfiMessage):
    """The CEM's answer to the FlexibilityUpdate named by ``flexibility_update_id``."""

    instruction_id: str
    flexibility_update_id: str
    is_emergency_instruction: bool = False


@dataclass(slots=True, kw_only=True)
class InstructionStatusUpdate(EfiMessage):
    """Progress of an Instruction; allowed sequences are in :mod:`xmpp_iot.efi.status`."""

    TAG: ClassVar[str] = "InstructionStatusUpdate"

    instruction_id: str
    status: InstructionStatus
    debug_information: str | None = None


@dataclass(slots=True, kw_only=True)
class FlexibilityRevoke(EfiMessage):
    """Invalidates every FlexibilityUpdate the resource sent before; the registration stays."""

    TAG: ClassVar[str] = "FlexibilityRevoke"


@dataclass(slots=True, kw_only=True)
class InstructionRevoke(EfiMessage):
    """The CEM withdraws an Instruction it sent earlier."""

    TAG: ClassVar[str] = "InstructionRevoke"

    instruction_id: str


@dataclass(slots=True, kw_only=True)
class ElectricityMeasurement:
    """Measured electric power in W (consumption positive)."""

    power: Watt


@dataclass(slots=True, kw_only=True)
class GasMeasurement:
    """Measured gas flow rate in m3/s (consumption positive)."""

    flow_rate: CubicMetresPerSecond


@dataclass(slots=True, kw_only=True)
class HeatValues:
    """Heat described by any of temperature (degrees Celsius), flow rate (m3/s), thermal power (W)."""

    temperature: DegreesCelsius | None = None
    flow_rate: CubicMetresPerSecond | None = None
    thermal_power: Watt | None = None


@dataclass(slots=True, kw_only=True)
class Measurement(EfiMessage):
    """What the device actually did at ``measurement_timestamp``; at least one commodity is present."""

    TAG: ClassVar[str] = "Measurement"

    measurement_timestamp: datetime
    electricity: ElectricityMeasurement | None = None
    gas: GasMeasurement | None = None
    heat: HeatValues | None = None
