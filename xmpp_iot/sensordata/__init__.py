"""XEP-0323 Sensor Data (v0.6, ``urn:xmpp:iot:sensordata``): fields, readouts, responder and reader.

- :mod:`.model`: plain values (:class:`Field`, :class:`ReadoutRequest`, flags);
- :mod:`.stanza`: the wire format; :mod:`.values`: the XML Schema value types shared with XEP-0325;
- :mod:`.source`: :class:`ReadoutSource` (what a responder reads from) and :class:`DeviceSource`;
- :mod:`.plugin`: slixmpp plugin ``iot_sensordata`` (``serve`` on devices/components, ``read`` in apps);
- :mod:`.policy`: :class:`LocalPolicyGate`, the friends-only trust gate without provisioning;
- :mod:`.measurement`: :class:`~xmpp_iot.measurement.Reading` ↔ fields, so pub/sub and readouts agree.
"""

from .measurement import fields_from_payload, fields_from_reading, readings_from_fields
from .model import (
    FIELD_TYPES,
    HISTORICAL_TYPES,
    NS,
    QOS_FLAGS,
    VALUE_TYPES,
    EnumValue,
    Field,
    NodeRef,
    ReadoutError,
    ReadoutRequest,
    Tokens,
    ValueType,
)
from .plugin import XEP_0323, PendingReadout, Readout
from .policy import LocalPolicyGate, OpenGate
from .source import DeviceSource, FieldSpec, LocalHistory, ReadoutSource

__all__ = [
    "FIELD_TYPES",
    "HISTORICAL_TYPES",
    "NS",
    "QOS_FLAGS",
    "VALUE_TYPES",
    "XEP_0323",
    "DeviceSource",
    "EnumValue",
    "Field",
    "FieldSpec",
    "LocalHistory",
    "LocalPolicyGate",
    "NodeRef",
    "OpenGate",
    "PendingReadout",
    "Readout",
    "ReadoutError",
    "ReadoutRequest",
    "ReadoutSource",
    "Tokens",
    "ValueType",
    "fields_from_payload",
    "fields_from_reading",
    "readings_from_fields",
]
