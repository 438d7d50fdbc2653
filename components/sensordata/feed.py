"""Subscribe to the measurement nodes on the pub/sub service and feed their items to the ingestor.

Nodes are found two ways: by name on the command line (``--node meas/dev@example.org``) and by
asking the pub/sub service for its nodes (disco#items) at start and every ``discover_interval``
seconds. For each new ``meas/<bare jid>`` node the component subscribes (with its own JID) and
fetches the items the node still holds, so that what was published while it was down is caught up
(the store ignores items it already has). Notifications are only believed when they come from the
configured pub/sub service: anyone can send a message that looks like one.

Notifications are taken off the stream in an incoming *filter*, before slixmpp matches the stanza
against every registered handler: at thousands of items per second that matching, not the decoding,
was the largest cost.
"""

from __future__ import annotations

import asyncio
import logging

from slixmpp import ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import StanzaBase

from xmpp_iot.nodes import MEASUREMENT_PREFIX, device_of

from .ingest import Ingestor

__all__ = ["MeasurementFeed"]

log = logging.getLogger(__name__)

_EVENT = "{http://jabber.org/protocol/pubsub#event}event"
_ITEMS = "{http://jabber.org/protocol/pubsub#event}items"
_ITEM = "{http://jabber.org/protocol/pubsub#event}item"
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
        for item in items.iterfind(_ITEM):
            self.ingestor.accept(device, item[0] if len(item) else None, item.get("id", ""))
        return None

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
        new = [n for n in dict.fromkeys(wanted) if n not in self.subscribed]
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
                self.ingestor.accept(device, item["payload"], item["id"])
        return True


def _reason(exc: Exception) -> str:
    if isinstance(exc, IqError):
        return f"{exc.condition} {exc.text}".strip()
    return "timeout"
