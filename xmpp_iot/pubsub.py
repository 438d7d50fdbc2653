"""Thin, typed helpers over slixmpp's XEP-0060 plugin for our payloads.

Devices publish validated payloads to their nodes (:mod:`xmpp_iot.nodes`), applications and
components subscribe and get *decoded objects*, never raw XML:

    ps = PubSub(client.xmpp)                       # pub/sub service found by disco (or given)
    await ps.publish_payload(measurement_node(jid), readout, measurement_codec)
    await ps.subscribe(flexibility_node(device))
    ps.on_payload(FLEXIBILITY_PREFIX, efi_codec, handle)   # handle(PayloadItem) per notification
    current = await ps.fetch_payloads(node, efi_codec)      # what a late subscriber catches up on

A notification that does not decode is logged and dropped: a pub/sub event cannot be answered
with an error, and one bad item must not stop the others. A notification that does not come from
*this* object's pub/sub service (bare service JID, no resource) is dropped too: any account can send
a message that looks like one. Every IQ failure is raised as our
:class:`~xmpp_iot.errors.ProtocolError` family. A component passes ``ifrom`` (its own JID), which
ejabberd requires on every outgoing IQ.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from slixmpp import JID, Message
from slixmpp.basexmpp import BaseXMPP
from slixmpp.exceptions import IqError, IqTimeout

from .errors import ItemNotFound, ProtocolError, from_iq_error

__all__ = ["PayloadCodec", "PayloadItem", "PubSub", "stream_safe"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class PayloadCodec(Protocol[T]):  # type: ignore[misc]
    """What the payload codecs (EFI, measurement) offer: validated element <-> object."""

    def encode_element(self, payload: Any) -> ET.Element: ...

    def decode_element(self, element: ET.Element) -> Any: ...


@dataclass(frozen=True, slots=True)
class PayloadItem(Generic[T]):
    """One decoded pub/sub item: where it came from and what it says."""

    node: str
    item_id: str
    payload: T


PayloadHandler = Callable[[PayloadItem[Any]], Awaitable[None] | None]


class PubSub:
    """Publish, subscribe and fetch on one pub/sub service for one stream (client or component)."""

    def __init__(self, xmpp: BaseXMPP, service: str | None = None, *, ifrom: str | None = None,
                 timeout: float = 10.0) -> None:
        self.xmpp = xmpp
        self.ifrom = ifrom
        self.timeout = timeout
        self._service = service
        self._handlers: list[tuple[str, PayloadCodec[Any], PayloadHandler]] = []
        self._listening = False

    # -- the service ----------------------------------------------------------------------------
    async def service(self) -> str:
        """The pub/sub service JID: as configured, else the first ``pubsub/service`` item of the
        server's disco#items, else ``pubsub.<domain>`` (the usual name on both servers)."""
        if self._service:
            return self._service
        domain = self.xmpp.boundjid.domain
        if "." in domain and getattr(self.xmpp, "is_component", False):
            domain = domain.partition(".")[2]
        disco = self.xmpp.plugin["xep_0030"]
        try:
            items = await disco.get_items(jid=domain, ifrom=self.ifrom, timeout=self.timeout)
            jids = sorted((str(jid) for jid, _node, _name in items["disco_items"]["items"]),
                          key=lambda j: not j.startswith("pubsub."))  # the likely one first
        except (IqError, IqTimeout) as exc:
            log.info("%s: disco#items of %s failed (%s)", self.xmpp.boundjid, domain, exc)
            jids = []
        for jid in jids:
            try:
                info = await disco.get_info(jid=jid, ifrom=self.ifrom, timeout=self.timeout)
            except (IqError, IqTimeout):
                continue  # e.g. a component that is not connected
            if any(cat == "pubsub" and typ == "service" for cat, typ, _l, _n in info["disco_info"]["identities"]):
                self._service = jid
                return jid
        log.info("%s: no pub/sub service found by disco; assuming pubsub.%s", self.xmpp.boundjid, domain)
        self._service = f"pubsub.{domain}"
        return self._service

    # -- publishing ---------------------------------------------------------------------------
    async def publish(self, node: str, element: ET.Element, item_id: str | None = None) -> str:
        """Publish one element as an item; returns the item id (the service's, when not given)."""
        service = await self.service()
        try:
            result = await self.xmpp.plugin["xep_0060"].publish(
                service, node, id=item_id, payload=stream_safe(element), ifrom=self.ifrom, timeout=self.timeout
            )
        except (IqError, IqTimeout) as exc:
            raise _error(exc, f"publish to {node}") from None
        return result["pubsub"]["publish"]["item"]["id"] or item_id or ""

    async def publish_payload(self, node: str, payload: object, codec: PayloadCodec[Any],
                              item_id: str | None = None) -> str:
        """Encode (and so validate) ``payload`` with ``codec``, then publish it."""
        return await self.publish(node, codec.encode_element(payload), item_id)

    async def retract(self, node: str, item_id: str) -> None:
        service = await self.service()
        try:
            await self.xmpp.plugin["xep_0060"].retract(service, node, item_id, ifrom=self.ifrom,
                                                       timeout=self.timeout)
        except (IqError, IqTimeout) as exc:
            raise _error(exc, f"retract {item_id} from {node}") from None

    # -- subscribing --------------------------------------------------------------------------
    async def subscribe(self, node: str, *, wait_approval: float = 0.0) -> str:
        """Subscribe this account (bare JID: every available session gets the notifications).

        Returns the state the service reports: ``subscribed``, or ``pending`` while the node owner
        (provisioning, with the ``authorize`` access model) has not decided. With ``wait_approval``
        a pending subscription is waited for (XEP-0060 §8.6 notification) up to that many seconds.
        """
        service = await self.service()
        decided: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_subscription(msg: Message) -> None:
            sub = msg["pubsub_event"]["subscription"]
            if sub["node"] == node and sub["subscription"] != "pending" and not decided.done():
                decided.set_result(sub["subscription"])

        self.xmpp.add_event_handler("pubsub_subscription", on_subscription)  # before asking: no race
        try:
            try:
                result = await self.xmpp.plugin["xep_0060"].subscribe(service, node, ifrom=self.ifrom,
                                                                      timeout=self.timeout)
            except (IqError, IqTimeout) as exc:
                raise _error(exc, f"subscribe to {node}") from None
            state = result["pubsub"]["subscription"]["subscription"] or "subscribed"
            if state == "pending" and wait_approval > 0:
                try:
                    state = await asyncio.wait_for(decided, wait_approval)
                except TimeoutError:
                    pass
            return state
        finally:
            self.xmpp.del_event_handler("pubsub_subscription", on_subscription)

    async def unsubscribe(self, node: str) -> None:
        service = await self.service()
        try:
            await self.xmpp.plugin["xep_0060"].unsubscribe(service, node, ifrom=self.ifrom,
                                                           timeout=self.timeout)
        except (IqError, IqTimeout) as exc:
            raise _error(exc, f"unsubscribe from {node}") from None

    def on_payload(self, node_prefix: str, codec: PayloadCodec[T],
                   handler: Callable[[PayloadItem[T]], Awaitable[None] | None]) -> None:
        """Call ``handler`` with each decoded item published to a node whose name starts with
        ``node_prefix`` (``""``: every node). Items that do not decode are logged and dropped."""
        self._handlers.append((node_prefix, codec, handler))
        if not self._listening:
            self.xmpp.add_event_handler("pubsub_publish", self._on_publish)
            self._listening = True

    async def fetch(self, node: str, max_items: int | None = None) -> list[tuple[str, ET.Element]]:
        """The items a node holds now, as (item id, payload element)."""
        service = await self.service()
        try:
            result = await self.xmpp.plugin["xep_0060"].get_items(
                service, node, max_items=max_items, ifrom=self.ifrom, timeout=self.timeout
            )
        except (IqError, IqTimeout) as exc:
            raise _error(exc, f"items of {node}") from None
        out = []
        for item in result["pubsub"]["items"]:
            payload = item.get_payload()
            if payload is not None:
                out.append((item["id"], payload))
        return out

    async def fetch_payloads(self, node: str, codec: PayloadCodec[T]) -> list[PayloadItem[T]]:
        """The items a node holds now, decoded; items that do not decode are logged and skipped."""
        out: list[PayloadItem[T]] = []
        for item_id, element in await self.fetch(node):
            decoded = _decode(codec, node, item_id, element)
            if decoded is not None:
                out.append(PayloadItem(node, item_id, decoded))
        return out

    # -- notifications ------------------------------------------------------------------------
    async def _on_publish(self, msg: Message) -> None:
        # Anyone can send a message that looks like a notification: only the service this object
        # publishes to and subscribes at is believed (a stranger must not plant an EFI revoke).
        sender = msg["from"]
        service = self._service or await self.service()
        if sender.bare != JID(service).bare or sender.resource:
            log.warning("%s: ignoring pub/sub event from %s (not the pub/sub service %s)", self.xmpp.boundjid,
                        sender, service)
            return
        items = msg["pubsub_event"]["items"]
        node = items["node"]
        for item in items:
            if item.name != "item":
                continue
            element = item.get_payload()
            if element is None:
                continue
            for prefix, codec, handler in self._handlers:
                if not node.startswith(prefix):
                    continue
                decoded = _decode(codec, node, item["id"], element)
                if decoded is None:
                    continue
                try:
                    result = handler(PayloadItem(node, item["id"], decoded))
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("%s: handler for %s failed", self.xmpp.boundjid, node)


def stream_safe(element: ET.Element) -> ET.Element:
    """A copy of ``element`` that slixmpp serialises correctly, when it has namespaced attributes.

    slixmpp 1.17's serialiser drops an attribute whose namespace has no prefix in the stream's
    ``namespace_map`` (EFI's ``efi:efiVersion``), and mapping a namespace there breaks the element
    names of that namespace (``<efi:efi:X>``). So such a tree is rewritten with literal prefixes
    (``efi:X``, ``efi:efiVersion``) and the prefixes declared on its root, which slixmpp copies
    verbatim; receivers parse the same namespaced document. Elements without namespaced
    attributes (measurements) are returned unchanged.
    """
    if not any(name.startswith("{") for el in element.iter() for name in el.attrib):
        return element
    prefixes: dict[str, str] = {}

    def qualify(name: str) -> str:
        if not name.startswith("{"):
            return name
        ns, _, local = name[1:].partition("}")
        prefix = prefixes.setdefault(ns, _PREFERRED.get(ns) or f"ns{len(prefixes)}")
        return f"{prefix}:{local}"

    def copy(source: ET.Element) -> ET.Element:
        target = ET.Element(qualify(source.tag), {qualify(k): v for k, v in source.attrib.items()})
        target.text, target.tail = source.text, source.tail
        target.extend(copy(child) for child in source if isinstance(child.tag, str))
        return target

    root = copy(element)
    for ns, prefix in prefixes.items():
        root.set(f"xmlns:{prefix}", ns)
    return root


_PREFERRED = {"http://www.flexiblepower.org/efi-2": "efi"}


def _decode(codec: PayloadCodec[T], node: str, item_id: str, element: ET.Element) -> T | None:
    try:
        return codec.decode_element(element)
    except ValueError as exc:  # PayloadValidationError is a ValueError
        log.warning("dropping item %s of %s: %s", item_id, node, exc)
        return None


def _error(exc: IqError | IqTimeout, what: str) -> ProtocolError:
    err = from_iq_error(exc)
    err.args = (f"{what}: {err.text or err.condition}",)
    if isinstance(err, ItemNotFound):
        err.text = err.text or f"{what}: no such node"
    return err


