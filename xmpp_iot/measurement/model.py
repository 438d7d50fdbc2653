"""One representation of a measured value, shared by our measurement payload and XEP-0323 readouts.

A :class:`Reading` is one value of one quantity on one phase at one instant, with its SI unit, its
quality and the QoS flags of XEP-0323. It maps to one XEP-0323 numeric field (:meth:`Reading.field_name`,
:func:`to_xep0323_fields`); a phasor maps to two (magnitude and angle). Payloads group readings of one
device: :class:`PmuFrame` (synchrophasor unit) and :class:`MeterReadout` (smart meter).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "METER_QUANTITIES",
    "PHASOR_QUANTITIES",
    "PMU_QUANTITIES",
    "QUANTITY_UNITS",
    "FieldType",
    "MeterReadout",
    "Phase",
    "Phasor",
    "PmuFrame",
    "Quality",
    "QualityFlag",
    "Quantity",
    "Reading",
    "Unit",
    "Xep0323Field",
    "to_xep0323_fields",
]


class Quantity(enum.Enum):
    """What is measured; the value is the name on the wire and in XEP-0323 field names."""

    VOLTAGE = "voltage"
    CURRENT = "current"
    ACTIVE_POWER = "active_power"
    REACTIVE_POWER = "reactive_power"
    APPARENT_POWER = "apparent_power"
    POWER_FACTOR = "power_factor"
    FREQUENCY = "frequency"
    ROCOF = "rocof"
    PHASE_ANGLE = "phase_angle"
    ENERGY_IMPORT = "energy_import"
    ENERGY_EXPORT = "energy_export"
    REACTIVE_ENERGY_IMPORT = "reactive_energy_import"
    REACTIVE_ENERGY_EXPORT = "reactive_energy_export"


class Unit(enum.Enum):
    """SI units (and the SI-accepted var, VA, Wh, degree) in the spelling of XEP-0323 fields."""

    VOLT = "V"
    AMPERE = "A"
    WATT = "W"
    VAR = "var"
    VOLT_AMPERE = "VA"
    ONE = "1"
    HERTZ = "Hz"
    HERTZ_PER_SECOND = "Hz/s"
    DEGREE = "deg"
    WATT_HOUR = "Wh"
    VAR_HOUR = "varh"


#: the one unit each quantity is expressed in (no kW/kWh on the wire: scale is the reader's business)
QUANTITY_UNITS: dict[Quantity, Unit] = {
    Quantity.VOLTAGE: Unit.VOLT,
    Quantity.CURRENT: Unit.AMPERE,
    Quantity.ACTIVE_POWER: Unit.WATT,
    Quantity.REACTIVE_POWER: Unit.VAR,
    Quantity.APPARENT_POWER: Unit.VOLT_AMPERE,
    Quantity.POWER_FACTOR: Unit.ONE,
    Quantity.FREQUENCY: Unit.HERTZ,
    Quantity.ROCOF: Unit.HERTZ_PER_SECOND,
    Quantity.PHASE_ANGLE: Unit.DEGREE,
    Quantity.ENERGY_IMPORT: Unit.WATT_HOUR,
    Quantity.ENERGY_EXPORT: Unit.WATT_HOUR,
    Quantity.REACTIVE_ENERGY_IMPORT: Unit.VAR_HOUR,
    Quantity.REACTIVE_ENERGY_EXPORT: Unit.VAR_HOUR,
}

#: quantities that may be given as a phasor (magnitude + angle)
PHASOR_QUANTITIES = frozenset({Quantity.VOLTAGE, Quantity.CURRENT})

#: what a PMU frame carries: phasors per phase, frequency and its rate of change
PMU_QUANTITIES = frozenset({Quantity.VOLTAGE, Quantity.CURRENT, Quantity.FREQUENCY, Quantity.ROCOF,
                            Quantity.PHASE_ANGLE})

#: what a smart-meter readout carries: P, Q, S, V, I, PF per phase, frequency and energy registers
METER_QUANTITIES = frozenset(set(Quantity) - {Quantity.ROCOF, Quantity.PHASE_ANGLE})


class Phase(enum.Enum):
    """Conductor a reading belongs to; TOTAL is the sum or the three-phase value."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    N = "N"
    TOTAL = "total"


class Quality(enum.Enum):
    """Overall trust in a value (IEC 61850 validity: good / questionable / invalid)."""

    GOOD = "good"
    QUESTIONABLE = "questionable"
    INVALID = "invalid"


class QualityFlag(enum.Enum):
    """The QoS flags of XEP-0323 fields, spelled and ordered as there (the one list of them)."""

    MISSING = "missing"
    IN_PROGRESS = "inProgress"
    AUTOMATIC_ESTIMATE = "automaticEstimate"
    MANUAL_ESTIMATE = "manualEstimate"
    MANUAL_READOUT = "manualReadout"
    AUTOMATIC_READOUT = "automaticReadout"
    TIME_OFFSET = "timeOffset"
    WARNING = "warning"
    ERROR = "error"
    SIGNED = "signed"
    INVOICED = "invoiced"
    END_OF_SERIES = "endOfSeries"
    POWER_FAILURE = "powerFailure"
    INVOICE_CONFIRMED = "invoiceConfirmed"


class FieldType(enum.Enum):
    """XEP-0323 field type of a reading (most meter and PMU values are momentary)."""

    MOMENTARY = "momentary"
    PEAK = "peak"
    STATUS = "status"
    COMPUTED = "computed"
    HISTORICAL = "historical"


@dataclass(slots=True, frozen=True)
class Phasor:
    """A phasor: RMS magnitude in the quantity's unit and angle in degrees (-180, 180]."""

    magnitude: float
    angle: float


@dataclass(slots=True, kw_only=True)
class Reading:
    """One value of one quantity (per phase, or none) at ``timestamp``.

    ``unit`` is always the quantity's SI unit (:data:`QUANTITY_UNITS`); it is carried so that a reader
    needs no table, and the codec refuses any other. Sign convention: import (consumption) positive.
    """

    quantity: Quantity
    value: float | Phasor
    unit: Unit
    timestamp: datetime
    phase: Phase | None = None
    quality: Quality = Quality.GOOD
    flags: frozenset[QualityFlag] = frozenset()
    field_type: FieldType = FieldType.MOMENTARY

    @classmethod
    def of(
        cls,
        quantity: Quantity,
        value: float | Phasor,
        timestamp: datetime,
        phase: Phase | None = None,
        **kwargs: object,
    ) -> Reading:
        """A reading in the quantity's SI unit (saves looking the unit up)."""
        return cls(quantity=quantity, value=value, unit=QUANTITY_UNITS[quantity], timestamp=timestamp,
                   phase=phase, **kwargs)  # type: ignore[arg-type]

    @property
    def field_name(self) -> str:
        """XEP-0323 field name: the quantity, then ``.`` and the phase if there is one."""
        return self.quantity.value if self.phase is None else f"{self.quantity.value}.{self.phase.value}"


@dataclass(slots=True, kw_only=True)
class _Payload:
    device: str
    timestamp: datetime
    readings: tuple[Reading, ...]

    def reading(self, quantity: Quantity, phase: Phase | None = None) -> Reading | None:
        """The reading of ``quantity`` on ``phase`` (None if absent)."""
        for r in self.readings:
            if r.quantity is quantity and r.phase is phase:
                return r
        return None


@dataclass(slots=True, kw_only=True)
class PmuFrame(_Payload):
    """One reporting instant of a phasor measurement unit: V and I phasors, frequency, ROCOF."""

    TAG = "pmuFrame"


@dataclass(slots=True, kw_only=True)
class MeterReadout(_Payload):
    """One readout of a smart meter: P, Q, V, I per phase and the energy registers."""

    TAG = "meterReadout"


@dataclass(slots=True, frozen=True)
class Xep0323Field:
    """The XEP-0323 numeric field a reading becomes (the sensor-data plugin serialises it)."""

    name: str
    value: float
    unit: str
    timestamp: datetime
    field_type: str
    qos: frozenset[str]


def to_xep0323_fields(reading: Reading) -> tuple[Xep0323Field, ...]:
    """A reading as XEP-0323 numeric field(s): one, or two for a phasor (``name`` and ``name.angle``).

    Quality maps onto the QoS flags: ``questionable`` adds ``warning``, ``invalid`` adds ``error``.
    """
    qos = {f.value for f in reading.flags}
    if reading.quality is Quality.QUESTIONABLE:
        qos.add(QualityFlag.WARNING.value)
    elif reading.quality is Quality.INVALID:
        qos.add(QualityFlag.ERROR.value)
    frozen = frozenset(qos)
    name, kind, ts = reading.field_name, reading.field_type.value, reading.timestamp
    v = reading.value
    if isinstance(v, Phasor):
        return (
            Xep0323Field(name=name, value=v.magnitude, unit=reading.unit.value, timestamp=ts, field_type=kind, qos=frozen),
            Xep0323Field(name=name + ".angle", value=v.angle, unit=Unit.DEGREE.value, timestamp=ts, field_type=kind,
                         qos=frozen),
        )
    return (Xep0323Field(name=name, value=v, unit=reading.unit.value, timestamp=ts, field_type=kind, qos=frozen),)
