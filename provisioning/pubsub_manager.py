"""The provisioning server owns the things' pub/sub nodes on the stock pub/sub service.

When a thing gets an owner, the server creates ``meas/<thing>`` and ``efi/<thing>``
(:mod:`xmpp_iot.nodes`), makes the thing their publisher, and from then on decides who may
subscribe, with the same rules as ``canRead``:

* **authorize** (XEP-0060 §8.6; ejabberd): the pub/sub service asks the node owner (this
  component) with a ``pubsub#subscribe_authorization`` form for every subscription request;
  we answer ``pubsub#allow`` from the rules (asking the thing's owner if no rule decides).
* **whitelist** fallback (Prosody 0.12, whose mod_pubsub accepts only the ``open`` and
  ``whitelist`` access models): readers allowed by the rules get the ``member`` affiliation
  ahead of time, so their subscription succeeds; everybody else is refused by the service.

The mode is found by trying: a service that refuses ``authorize`` gets ``whitelist``. In
both modes a withdrawn read rule removes the reader's subscription (and membership).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from slixmpp import Message
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.xep_0004 import Form

from xmpp_iot.nodes import flexibility_node, measurement_node
from xmpp_iot.trust import Tokens

from .rules import Subset
from .service import ProvisioningService

log = logging.getLogger(__name__)

AUTH_FORM_TYPE = "http://jabber.org/protocol/pubsub#subscribe_authorization"
TIMEOUT = 15.0

AskOwner = Callable[[str, str, str], Awaitable[bool]]


class PubSubManager:
    def __init__(self, xmpp, service: ProvisioningService, pubsub_jid: str, ask_owner: AskOwner) -> None:
        self.xmpp = xmpp
        self.service = service
        self.jid = pubsub_jid
        self.ask_owner = ask_owner
        self.mode: str | None = None  # "authorize" or "whitelist", found on the first node
        self._lock = asyncio.Lock()

    @property
    def ps(self):
        return self.xmpp.plugin["xep_0060"]

    @staticmethod
    def nodes_of(thing: str) -> tuple[str, str]:
        return measurement_node(thing), flexibility_node(thing)

    # -- nodes --------------------------------------------------------------------------------------
    async def provision(self, thing: str) -> None:
        """Create the thing's nodes (if missing) and set the affiliations the rules call for."""
        async with self._lock:
            for node in self.nodes_of(thing):
                await self._create(node)
            owner = self.service.owner_of(thing)
            members = set(self.service.trusted) | ({owner} if owner else set())
            if self.mode == "whitelist":
                members |= self.readers(thing)
            affiliations = [(thing, "publisher")] + [(m, "member") for m in sorted(members)]
            for node in self.nodes_of(thing):
                await self.ps.modify_affiliations(self.jid, node, affiliations, ifrom=self.xmpp.boundjid,
                                                  timeout=TIMEOUT)  # fmt: skip
            log.info("nodes of %s ready (%s): publisher %s", thing, self.mode, thing)

    async def _create(self, node: str) -> None:
        modes = [self.mode] if self.mode else ["authorize", "whitelist"]
        for mode in modes:
            try:
                await self.ps.create_node(self.jid, node, config=_config(mode), ifrom=self.xmpp.boundjid,
                                          timeout=TIMEOUT)  # fmt: skip
            except IqError as exc:
                condition = exc.iq["error"]["condition"]
                if condition == "conflict":  # exists: we made it before a restart, or someone was first
                    self.mode = self.mode or await self._access_model(node)
                    return
                if mode == "authorize" and len(modes) > 1:
                    log.info("%s refuses access_model=authorize (%s): using whitelist + member affiliations",
                             self.jid, condition)  # fmt: skip
                    continue
                raise
            self.mode = mode
            log.info("created node %s on %s (access model %s)", node, self.jid, mode)
            return

    async def _access_model(self, node: str) -> str:
        """The access model of a node we made before (a restart); error if the node is not ours."""
        try:
            config = await self.ps.get_node_config(self.jid, node, ifrom=self.xmpp.boundjid, timeout=TIMEOUT)
        except IqError as exc:
            log.error("node %s exists but is not ours (%s): someone created it first; restrict node "
                      "creation on %s to the components", node, exc.iq["error"]["condition"], self.jid)  # fmt: skip
            raise
        values = config["pubsub_owner"]["configure"]["form"].get_values()
        model = str(_value(values.get("pubsub#access_model", "")))
        return "authorize" if model == "authorize" else "whitelist"

    async def area_node(self, node: str, publishers: list[str], readers: list[str]) -> None:
        """An area node (``alarms/<area>``): listed publishers; listed readers only (whitelist +
        member on every service, so no approval round trip). With no readers listed nobody but
        the publishers and the trusted services may subscribe: never ``open``, which on a
        federated server would let any remote JID read the alarms."""
        model = "whitelist"
        try:
            await self.ps.create_node(self.jid, node, config=_config(model), ifrom=self.xmpp.boundjid,
                                      timeout=TIMEOUT)  # fmt: skip
        except IqError as exc:
            if exc.iq["error"]["condition"] != "conflict":
                raise
            await self.ps.set_node_config(
                self.jid, node, _config(model), ifrom=self.xmpp.boundjid, timeout=TIMEOUT
            )
        members = set(readers) | set(self.service.trusted)
        affiliations = [(p, "publisher") for p in publishers] + [(m, "member") for m in sorted(members)]
        if affiliations:
            await self.ps.modify_affiliations(
                self.jid, node, affiliations, ifrom=self.xmpp.boundjid, timeout=TIMEOUT
            )
        log.info("area node %s ready (%s): publishers %s", node, model, ", ".join(publishers) or "none")

    def readers(self, thing: str) -> set[str]:
        """Bare JIDs the rules let read the whole stream (a node carries every field, so a
        reader allowed only some fields must not become a member)."""
        return self.service.stream_readers(thing)

    # -- rule changes ---------------------------------------------------------------------------------
    async def readers_changed(self, thing: str, gained: Iterable[str], lost: Iterable[str]) -> None:
        if not self.service.owner_of(thing):
            return
        if self.mode is None:  # restarted since the nodes were made: ask the service
            try:
                self.mode = await self._access_model(self.nodes_of(thing)[0])
            except (IqError, IqTimeout) as exc:
                log.warning("cannot tell the access model of the nodes of %s: %s", thing, exc)
                return
        gained, lost = list(gained), list(lost)
        for node in self.nodes_of(thing):
            for jid in lost:  # one at a time: a reader who never subscribed makes the service say so
                await self._try(self.ps.modify_subscriptions, node, [(jid, "none")])
            affiliations = [(j, "none") for j in lost]
            if self.mode == "whitelist":
                affiliations += [(j, "member") for j in gained]
            if affiliations:
                await self._try(self.ps.modify_affiliations, node, affiliations)
        if lost:
            log.info("withdrew the subscriptions of %s to the nodes of %s", ", ".join(lost), thing)

    async def _try(self, method, node: str, changes: list[tuple[str, str]]) -> None:
        try:
            await method(self.jid, node, changes, ifrom=self.xmpp.boundjid, timeout=TIMEOUT)
        except (IqError, IqTimeout) as exc:
            log.debug("%s on %s %s: %s", method.__name__, node, changes, exc)

    # -- authorize: the pub/sub service asks us --------------------------------------------------------
    def is_authorization_request(self, msg: Message) -> bool:
        return (
            msg["from"].bare == self.jid
            and _value(msg["form"].get_values().get("FORM_TYPE")) == AUTH_FORM_TYPE
        )

    async def on_authorization_request(self, msg: Message) -> None:
        values = {k: _value(v) for k, v in msg["form"].get_values().items()}
        node, subscriber = str(values.get("pubsub#node", "")), str(values.get("pubsub#subscriber_jid", ""))
        allow = await self.may_subscribe(node, subscriber)
        answer = self.xmpp.Message()
        answer["to"] = msg["from"]
        answer["from"] = self.xmpp.boundjid
        form: Form = answer["form"]
        form["type"] = "submit"
        form.add_field("FORM_TYPE", ftype="hidden", value=AUTH_FORM_TYPE)
        for var in ("pubsub#subid", "pubsub#node", "pubsub#subscriber_jid"):
            if values.get(var):
                form.add_field(var, value=str(values[var]))
        form.add_field("pubsub#allow", ftype="boolean", value=allow)
        answer.send()
        log.info("subscription of %s to %s: %s", subscriber, node, "approved" if allow else "denied")

    async def may_subscribe(self, node: str, subscriber: str) -> bool:
        thing = next((node[len(p) :] for p in ("meas/", "efi/") if node.startswith(p)), "")
        if not thing or not subscriber:
            return False
        answer = self.service.can_read(thing, subscriber, (), (), Tokens())
        if answer is None:
            await self.ask_owner(thing, subscriber, "read")  # the answer becomes a rule: decide again
            answer = self.service.can_read(thing, subscriber, (), (), Tokens())
        return answer == Subset()  # the node carries every field: a restricted reader may not subscribe


def _config(access_model: str) -> Form:
    form = Form()
    form["type"] = "submit"
    form.add_field("pubsub#access_model", value=access_model)
    form.add_field("pubsub#publish_model", value="publishers")
    form.add_field("pubsub#persist_items", ftype="boolean", value=True)
    form.add_field("pubsub#max_items", value="100")
    return form


def _value(value: object) -> object:
    if isinstance(value, list):
        return value[0] if value else ""
    return value
