"""When two EFI documents say the same thing ("equivalent"), independent of our decoder.

Two documents are equivalent when their *normalised trees* are equal. Normalising:

* names are compared as namespace + local name (prefixes do not matter);
* ``xsi:schemaLocation`` / ``xsi:noNamespaceSchemaLocation`` hints, comments, processing instructions
  and whitespace between elements are dropped;
* attributes the schema defaults are filled in (``minimalCurtailmentDuration="PT0S"``);
* each value is compared in its XML Schema value space, by the type the EFI schema gives it:
  dateTime as an instant (a dateTime without offset is read as UTC, the interpretation our codec
  uses for FAN's examples), duration as a length of time (``PT60S`` = ``PT1M``), double as a float
  (``500`` = ``500.0``), decimal exactly (``0.00010`` = ``0.0001``), int as an integer, boolean
  (``1`` = ``true``); strings exactly;
* the order of children is kept (order is meaningful in every EFI sequence).

This is what the round-trip tests of the FAN examples use: decode → encode → equivalent to the
original.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from lxml import etree

from .decoder import EFI_NS
from .lexical import parse_datetime, parse_duration

__all__ = ["equivalent", "normalise"]

_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"

_DATETIME = {"timestamp", "validFrom", "endBefore", "startTime", "measurementTimestamp",
             "transitionTimestamp", "finishedAt"}
_DURATION = {"duration", "instructionProcessingDelay", "maxIntervalBefore", "minimalCurtailmentDuration",
             "transitionDuration"}
_DECIMAL = {"runningCost"}
_INT = {"id", "actuatorId", "timerId", "sequenceNr", "alternativeNr", "runningModeId", "currentRunningModeId",
        "currentRunningMode", "previousRunningModeId", "fromRunningModeId", "toRunningModeId"}
_BOOL = {"isEmergencyInstruction"}
_STRING = {"efiResourceId", "flexibilityUpdateId", "instructionId", "deviceClass", "serialNumber", "label",
           "currency", "commodityType", "supportedCommodity", "status", "debugInformation", "fillLevelLabel",
           "fillLevelUnit", "curtailmentQuantity", "efiVersion"}
_DEFAULTS = {"curtailmentOption": {"minimalCurtailmentDuration": "PT0S"}}


def _value(name: str, text: str) -> object:
    if name in _STRING:
        return text
    text = text.strip()
    if name in _DATETIME:
        return parse_datetime(text, UTC).astimezone(UTC)
    if name in _DURATION:
        return parse_duration(text)
    if name in _DECIMAL:
        return Decimal(text).normalize()
    if name in _INT:
        return int(text)
    if name in _BOOL:
        return text in ("true", "1")
    return float(text)  # every other EFI leaf value is an xs:double


def _node(el: etree._Element) -> tuple:
    q = etree.QName(el)
    attrs = {}
    for key, text in el.attrib.items():
        if key.startswith(_XSI):
            continue
        aq = etree.QName(key)
        attrs[(aq.namespace, aq.localname)] = _value(aq.localname, text)
    for local, default in _DEFAULTS.get(q.localname, {}).items():
        attrs.setdefault((EFI_NS, local), _value(local, default))
    children = tuple(_node(c) for c in el if isinstance(c.tag, str))
    text = None
    if not children and el.text is not None and (el.text.strip() or q.localname in _STRING):
        text = _value(q.localname, el.text)
    return (q.namespace, q.localname, tuple(sorted(attrs.items())), text, children)


def normalise(xml: bytes | etree._Element) -> tuple:
    """The comparable form of one document (see the module docstring)."""
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True)) if isinstance(
        xml, bytes | str
    ) else xml
    return _node(root)


def equivalent(a: bytes | etree._Element, b: bytes | etree._Element) -> bool:
    """True when the two EFI documents are equivalent."""
    return normalise(a) == normalise(b)
