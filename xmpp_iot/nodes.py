"""Names of the pub/sub nodes the platform uses, in one place.

The provisioning server creates and owns these nodes; devices publish to them, applications
and the sensor-data component subscribe. Everyone derives the names from the device's bare
JID with these functions, so no one has to be told them.

=====================  ===================================================  ================
node                   payloads                                             publisher
=====================  ===================================================  ================
``meas/<bare jid>``    measurement payloads (``urn:xmpp-iot:measurement``)   the device
``efi/<bare jid>``     EFI registrations, flexibility updates, instruction  the device
                       status updates, EFI measurements
``alarms/<area>``      alarms of the state-estimation app                   the app
=====================  ===================================================  ================
"""

from __future__ import annotations

from slixmpp import JID

MEASUREMENT_PREFIX = "meas/"
FLEXIBILITY_PREFIX = "efi/"
ALARM_PREFIX = "alarms/"


def _bare(jid: str | JID) -> str:
    bare = JID(str(jid)).bare
    if not bare:
        raise ValueError(f"not a JID: {jid!r}")
    return bare


def measurement_node(device: str | JID) -> str:
    """The node a device publishes its measurements to."""
    return MEASUREMENT_PREFIX + _bare(device)


def flexibility_node(device: str | JID) -> str:
    """The node an appliance driver publishes its EFI flexibility and instruction status to."""
    return FLEXIBILITY_PREFIX + _bare(device)


def alarm_node(area: str) -> str:
    """The node alarms for one grid area (a feeder) are published to."""
    if not area or "/" in area:
        raise ValueError(f"area must be a non-empty name without '/': {area!r}")
    return ALARM_PREFIX + area


def device_of(node: str) -> str | None:
    """The device's bare JID for a measurement or flexibility node, else None."""
    for prefix in (MEASUREMENT_PREFIX, FLEXIBILITY_PREFIX):
        if node.startswith(prefix) and len(node) > len(prefix):
            return node[len(prefix):]
    return None
