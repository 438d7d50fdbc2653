"""Measurement payloads (``urn:xmpp-iot:measurement:1``): PMU frames and smart-meter readouts.

One :class:`Reading` model (quantity, value or phasor, SI unit, phase, timestamp, quality and XEP-0323
QoS flags) shared with XEP-0323 sensor-data readouts; see :func:`to_xep0323_fields`.
"""

from .codec import MEASUREMENT_NS, MeasurementCodec, check, decode, decode_element, encode, encode_element
from .errors import MeasurementValidationError, PayloadError, PayloadValidationError
from .model import (
    METER_QUANTITIES,
    PHASOR_QUANTITIES,
    PMU_QUANTITIES,
    QUANTITY_UNITS,
    FieldType,
    MeterReadout,
    Phase,
    Phasor,
    PmuFrame,
    Quality,
    QualityFlag,
    Quantity,
    Reading,
    Unit,
    Xep0323Field,
    to_xep0323_fields,
)

__all__ = [
    "MEASUREMENT_NS",
    "METER_QUANTITIES",
    "PHASOR_QUANTITIES",
    "PMU_QUANTITIES",
    "QUANTITY_UNITS",
    "FieldType",
    "MeasurementCodec",
    "MeasurementValidationError",
    "MeterReadout",
    "PayloadError",
    "PayloadValidationError",
    "Phase",
    "Phasor",
    "PmuFrame",
    "Quality",
    "QualityFlag",
    "Quantity",
    "Reading",
    "Unit",
    "Xep0323Field",
    "check",
    "decode",
    "decode_element",
    "encode",
    "encode_element",
    "to_xep0323_fields",
]
