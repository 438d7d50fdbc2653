"""Subscribe to the measurement nodes on the pub/sub service and feed their items to the ingestor.

Nodes are found two ways: by name on the command line (``--node meas/dev@example.org``) and by
asking the pub/sub service for its nodes (disco#items) at start and every ``discover_interval``
seconds. For each new ``meas/<bare jid>`` node the component subscribes (with its own JID) and
fetches the items the node still holds, so that what was published while it was down is caught up
(the store ignores items it already has). Notifications are only believed when they come from the
configured pub/sub service: anyone can send a message that looks like one.

Who may write into a device's history: a node is named after a device, but whoever created it
decides who publishes to it. With ``node_owner`` (the provisioning JID, ``--provisioning``) a node is
followed only if that JID is among its owners, read from the node's public meta-data
(``pubsub#owner`` in disco#info, ejabberd) or else from its owner affiliations (only owners and
service admins without a node affiliation of their own may read those; Prosody 0.12 publishes no
owner in the meta-data). A node owned by someone else is never followed. A node whose owner cannot be
read (Prosody, where provisioning made this component a ``member`` of a whitelist node) is followed
in *publisher-checked* mode: only items the service marks as published by the device are stored,
which needs Prosody's ``expose_publisher = true``. In every mode, an item whose ``publisher``
attribute (ejabberd: with ``pubsub#itemreply`` = publisher) is not the device is dropped.

Notifications are taken off the stream in an incoming *filter*, before slixmpp matches the stanza
against every registered handler: at thousands of items per second that matching, not the decoding,
was the largest cost.
"""

from __future__ import annotations

import asyncio
import logging

from slixmpp import JID, ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import StanzaBase

from xmpp_iot.nodes import MEASUREMENT_PREFIX, device_of

from .ingest import Ingestor

__all__ = ["MeasurementFeed"]

log = logging.getLogger(__name__)

_EVENT = "{http://jabber.org/protocol/pubsub#event}event"
_ITEMS = "{http://jabber.org/protocol/pubsub#event}items"
_ITEM = "{http://jabber.org/protocol/pubsub#event}item"
_X_FIELD = "{jabber:x:data}field"
_AFFILIATION = "{http://jabber.org/protocol/pubsub#owner}affiliation"
_SLIXMPP_EVENT_HANDLERS = (
    "Pubsub Event: Items",
    "Pubsub Event: Purge",
    "Pubsub Event: Delete",
    "Pubsub Event: Configuration",
    "Pubsub Event: Subscription",
)


class MeasurementFeed:
    """Keeps the component subscribed to every measurement node it should follow."""

    def __init__(
        self,
        component: ComponentXMPP,
        pubsub: str,
        ingestor: Ingestor,
        *,
        nodes: list[str] | None = None,
        discover: bool = True,
        discover_interval: float = 60.0,
        catch_up: int = 1000,
        timeout: float = 30.0,
        node_owner: str | None = None,
    ) -> None:
        self.xmpp = component
        self.pubsub = pubsub
        self.ingestor = ingestor
        self.configured = [n for n in (nodes or []) if n.startswith(MEASUREMENT_PREFIX)]
        self.discover = discover
        self.discover_interval = discover_interval
        self.catch_up = catch_up
        self.timeout = timeout
        self.subscribed: set[str] = set()
        self.node_owner = JID(node_owner).bare if node_owner else None
        self.verified: set[str] = set()  # nodes whose owner was checked (node_owner mode)
        self.rejected: set[str] = set()  # nodes not owned by node_owner: never followed
        self.publisher_checked: set[str] = set()  # owner unreadable: items need publisher == device
        self._unmarked: set[str] = set()  # publisher-checked nodes already warned about
        self._task: asyncio.Task[None] | None = None
        component.register_plugin("xep_0060")
        for name in _SLIXMPP_EVENT_HANDLERS:  # they only re-raise events nobody here listens to
            component.remove_handler(name)
        component.add_filter("in", self._take_items)
        component.add_event_handler("session_start", self._on_session_start)
        component.add_event_handler("disconnected", self._on_disconnected)

    # -- notifications ----------------------------------------------------------------------
    def _take_items(self, stanza: StanzaBase) -> StanzaBase | None:
        """Consume pub/sub item notifications (return None); let every other stanza through."""
        xml = stanza.xml
        if not xml.tag.endswith("}message"):
            return stanza
        event = xml.find(_EVENT)
        items = event.find(_ITEMS) if event is not None else None
        if items is None:
            return stanza
        sender = stanza["from"]
        if sender.bare != self.pubsub:
            log.warning("ignoring pub/sub event from %s (not the pub/sub service %s)", sender, self.pubsub)
            return None
        node = items.get("node", "")
        device = device_of(node)
        if device is None or not node.startswith(MEASUREMENT_PREFIX):
            return None
        if self.node_owner and node not in self.verified:
            return None  # e.g. a subscription left from a run without --provisioning
        for item in items.iterfind(_ITEM):
            if self._by_device(device, item.get("publisher"), item.get("id", ""), node in self.publisher_checked):
                self.ingestor.accept(device, item[0] if len(item) else None, item.get("id", ""))
        return None

    def _by_device(self, device: str, publisher: str | None, item_id: str, strict: bool = False) -> bool:
        """False for an item the service says someone other than the device published, and (``strict``)
        for an item the service does not mark with its publisher."""
        if publisher is None and strict:
            if device not in self._unmarked:
                self._unmarked.add(device)
                log.warning("ignoring items of meas/%s without a publisher attribute: its owner could not be "
                            "verified (Prosody: set expose_publisher = true on the pub/sub component)", device)
            return False
        if publisher is None or JID(publisher).bare == device:
            return True
        log.warning("ignoring item %r of meas/%s: published by %s, not by the device", item_id, device, publisher)
        return False

    # -- subscriptions ----------------------------------------------------------------------
    def _on_session_start(self, _event: object) -> None:
        self.subscribed.clear()  # subscriptions may not have survived a server restart: check again
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._follow(), name="sensordata-feed")

    def _on_disconnected(self, _event: object) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _follow(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception(
                    "node discovery on %s failed; retrying in %.0f s", self.pubsub, self.discover_interval
                )
            if not self.discover:
                return
            await asyncio.sleep(self.discover_interval)

    async def refresh(self) -> list[str]:
        """Subscribe to measurement nodes not followed yet; return the new ones."""
        wanted = list(self.configured)
        if self.discover:
            wanted += await self._discovered()
        new = [n for n in dict.fromkeys(wanted) if n not in self.subscribed and n not in self.rejected]
        existing = await self._my_subscriptions() if new else set()
        for node in new:
            if await self._subscribe(node, already=node in existing):
                self.subscribed.add(node)
        return new

    async def _my_subscriptions(self) -> set[str]:
        """Nodes this component is already subscribed to (they survive our restarts; subscribing again
        could give a second subscription, and every item twice, on services that allow several)."""
        try:
            reply = await self.xmpp.plugin["xep_0060"].get_subscriptions(
                self.pubsub, ifrom=self.xmpp.boundjid, timeout=self.timeout
            )
        except (IqError, IqTimeout) as exc:
            log.info(
                "cannot list our subscriptions on %s (%s); subscribing anyway", self.pubsub, _reason(exc)
            )
            return set()
        me = self.xmpp.boundjid.bare
        return {
            sub["node"] for sub in reply["pubsub"]["subscriptions"]
            if sub["subscription"] == "subscribed" and sub["jid"].bare == me
        }  # fmt: skip

    async def _discovered(self) -> list[str]:
        reply = await self.xmpp.plugin["xep_0030"].get_items(
            jid=self.pubsub, ifrom=self.xmpp.boundjid, timeout=self.timeout
        )
        return [
            node for _jid, node, _name in reply["disco_items"]["items"]
            if node and node.startswith(MEASUREMENT_PREFIX) and device_of(node)
        ]  # fmt: skip

    async def _subscribe(self, node: str, already: bool = False) -> bool:
        device = device_of(node)
        assert device is not None
        ps = self.xmpp.plugin["xep_0060"]
        me = self.xmpp.boundjid
        if self.node_owner and node not in self.verified:
            owners = await self._owners(node)
            if owners is None:
                log.warning("cannot read the owner of %s: following it, storing only items the service marks as "
                            "published by %s", node, device)
                self.publisher_checked.add(node)
            elif self.node_owner not in owners:
                log.warning("not following %s: not owned by %s (owners: %s)", node, self.node_owner,
                            ", ".join(sorted(owners)) or "none")
                self.rejected.add(node)
                return False
            self.verified.add(node)
        if not already:
            try:
                await ps.subscribe(self.pubsub, node, subscribee=me.bare, ifrom=me, timeout=self.timeout)
            except (IqError, IqTimeout) as exc:
                log.warning("cannot subscribe to %s on %s: %s", node, self.pubsub, _reason(exc))
                return False
        self.ingestor.add_nodes([device])
        log.info("following %s on %s", node, self.pubsub)
        if self.catch_up:
            try:
                reply = await ps.get_items(
                    self.pubsub, node, max_items=self.catch_up, ifrom=me, timeout=self.timeout
                )
            except (IqError, IqTimeout) as exc:
                log.warning("cannot fetch the items of %s: %s", node, _reason(exc))
                return True
            for item in reply["pubsub"]["items"]:
                if self._by_device(device, item.xml.get("publisher"), item["id"], node in self.publisher_checked):
                    self.ingestor.accept(device, item["payload"], item["id"])
        return True

    async def _owners(self, node: str) -> set[str] | None:
        """Bare JIDs owning ``node``: from its public meta-data, else its owner affiliations; None if
        neither is available to this component."""
        me = self.xmpp.boundjid
        try:
            info = await self.xmpp.plugin["xep_0030"].get_info(
                jid=self.pubsub, node=node, ifrom=me, timeout=self.timeout
            )
            owners = [
                value.text or "" for field in info.xml.iter(_X_FIELD) if field.get("var") == "pubsub#owner"
                for value in field if value.tag == "{jabber:x:data}value"
            ]  # fmt: skip
            if owners:
                return {JID(o).bare for o in owners if o}
        except (IqError, IqTimeout) as exc:
            log.info("disco#info of %s failed: %s", node, _reason(exc))
        try:
            reply = await self.xmpp.plugin["xep_0060"].get_node_affiliations(
                self.pubsub, node, ifrom=me, timeout=self.timeout
            )
        except (IqError, IqTimeout) as exc:
            log.info("cannot read the affiliations of %s: %s", node, _reason(exc))
            return None
        return {JID(a.get("jid")).bare for a in reply.xml.iter(_AFFILIATION) if a.get("affiliation") == "owner"}


def _reason(exc: Exception) -> str:
    if isinstance(exc, IqError):
        return f"{exc.condition} {exc.text}".strip()
    return "timeout"
