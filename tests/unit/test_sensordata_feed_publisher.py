"""The historian files an item under a device only if the service does not say someone else published it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from slixmpp import ComponentXMPP, Message

from components.sensordata.feed import MeasurementFeed

PUBSUB = "pubsub.example.org"
EVENT = "http://jabber.org/protocol/pubsub#event"


class Recorder:
    def __init__(self) -> None:
        self.accepted: list[tuple[str, str]] = []

    def accept(self, device, payload, item_id="") -> bool:
        self.accepted.append((device, item_id))
        return True


def _event(node: str, items: list[tuple[str, str | None]]) -> Message:
    msg = Message()
    msg["from"] = PUBSUB
    msg["to"] = "sensordata.example.org"
    event = ET.SubElement(msg.xml, f"{{{EVENT}}}event")
    el = ET.SubElement(event, f"{{{EVENT}}}items", node=node)
    for item_id, publisher in items:
        item = ET.SubElement(el, f"{{{EVENT}}}item", id=item_id)
        if publisher:
            item.set("publisher", publisher)
        ET.SubElement(item, "{urn:example}x")
    return msg


def _feed(node_owner: str | None = None) -> tuple[MeasurementFeed, Recorder]:
    recorder = Recorder()
    xmpp = ComponentXMPP("sensordata.example.org", "secret", "127.0.0.1", 9)
    return MeasurementFeed(xmpp, PUBSUB, recorder, node_owner=node_owner), recorder  # type: ignore[arg-type]


def test_items_published_by_someone_else_are_dropped() -> None:
    feed, recorder = _feed()
    node = "meas/meter1@example.org"
    feed._take_items(_event(node, [("a", "meter1@example.org/x"), ("b", "mallory@example.org/m"), ("c", None)]))
    assert recorder.accepted == [("meter1@example.org", "a"), ("meter1@example.org", "c")]


def test_a_node_whose_owner_is_unknown_needs_the_publisher_attribute() -> None:
    feed, recorder = _feed("provisioning.example.org")
    node = "meas/meter1@example.org"
    feed.verified.add(node)
    feed.publisher_checked.add(node)
    feed._take_items(_event(node, [("a", None), ("b", "meter1@example.org/x"), ("c", "mallory@example.org")]))
    assert recorder.accepted == [("meter1@example.org", "b")]


def test_with_a_node_owner_only_verified_nodes_are_taken() -> None:
    feed, recorder = _feed("provisioning.example.org")
    node = "meas/meter1@example.org"
    feed._take_items(_event(node, [("a", None)]))
    assert recorder.accepted == []
    feed.verified.add(node)
    feed._take_items(_event(node, [("b", None)]))
    assert recorder.accepted == [("meter1@example.org", "b")]
