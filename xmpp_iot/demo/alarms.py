"""Grid alarms as pub/sub payloads (``urn:xmpp-iot:alarm:0``), published by state estimation.

    <alarm xmlns='urn:xmpp-iot:alarm:0' area='feeder1' kind='congestion' state='raised'
           value='1.23' limit='1.0' excessW='21000' direction='import' at='2026-...Z'/>

One item per alarm kind (item id = kind), so the ``alarms/<area>`` node always holds the current
state of each and an app that starts late catches up by fetching the items.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

__all__ = ["ALARM_NS", "Alarm", "AlarmCodec", "AlarmError"]

ALARM_NS = "urn:xmpp-iot:alarm:0"
KINDS = ("congestion", "undervoltage", "overvoltage")
STATES = ("raised", "cleared")


class AlarmError(ValueError):
    """An alarm element that cannot be read (pub/sub helpers drop such items, with a log line)."""


@dataclass(frozen=True, slots=True)
class Alarm:
    area: str
    kind: str  # congestion | undervoltage | overvoltage
    state: str  # raised | cleared
    value: float  # loading (fraction of rating) or voltage (per unit)
    limit: float
    at: datetime
    excess_w: float = 0.0  # congestion: how much import (or export) must go to relieve it
    direction: str = "import"  # congestion: import (load) or export (PV)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AlarmError(f"alarm kind {self.kind!r} is not one of {KINDS}")
        if self.state not in STATES:
            raise AlarmError(f"alarm state {self.state!r} is not one of {STATES}")
        if self.direction not in ("import", "export"):
            raise AlarmError(f"direction {self.direction!r} is not import or export")
        if not (math.isfinite(self.value) and math.isfinite(self.limit) and math.isfinite(self.excess_w)):
            raise AlarmError("alarm values must be finite numbers")
        if self.at.tzinfo is None:
            raise AlarmError("alarm time needs a timezone")


class AlarmCodec:
    """encode_element/decode_element, the codec shape :class:`xmpp_iot.pubsub.PubSub` takes."""

    def encode_element(self, alarm: Alarm) -> ET.Element:
        return ET.Element(f"{{{ALARM_NS}}}alarm", {
            "area": alarm.area, "kind": alarm.kind, "state": alarm.state, "value": repr(alarm.value),
            "limit": repr(alarm.limit), "excessW": repr(alarm.excess_w), "direction": alarm.direction,
            "at": alarm.at.isoformat()})

    def decode_element(self, element: ET.Element) -> Alarm:
        if element.tag != f"{{{ALARM_NS}}}alarm":
            raise AlarmError(f"not an alarm: {element.tag}")
        a = element.attrib
        try:
            return Alarm(area=a["area"], kind=a["kind"], state=a["state"], value=float(a["value"]),
                         limit=float(a["limit"]), at=datetime.fromisoformat(a["at"]),
                         excess_w=float(a.get("excessW", "0")), direction=a.get("direction", "import"))
        except KeyError as exc:
            raise AlarmError(f"alarm: missing attribute {exc.args[0]}") from None
        except ValueError as exc:
            raise AlarmError(f"alarm: {exc}") from None
