"""The registry side of the ownership feed (`xmpp_iot.ownership`): push, retry, answer queries.

The store queues every claim, disown and remove for each configured provisioning peer in the
same transaction as the change. `OwnershipFeed` sends a peer its queue in seq order, one
push at a time, and drops a change from the queue only when the peer acknowledged it. A
peer that does not answer (offline, restarting) is retried with capped exponential backoff,
at once when it shows up (presence), and at start-up.
"""

from __future__ import annotations

import asyncio
import logging

from slixmpp import Iq
from slixmpp.exceptions import IqError, IqTimeout

from xmpp_iot.errors import BadRequest, Forbidden, ItemNotFound
from xmpp_iot.ownership import OwnerElement, OwnershipRecord

log = logging.getLogger(__name__)

PUSH_TIMEOUT = 10.0
FIRST_RETRY = 1.0
MAX_RETRY = 60.0


class OwnershipFeed:
    """Delivers the durable ownership outbox to each provisioning peer, in order."""

    def __init__(self, component, peers: tuple[str, ...]) -> None:
        self.component = component
        self.store = component.store
        self.peers = peers
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._retry: dict[str, asyncio.TimerHandle] = {}
        self._backoff: dict[str, float] = {}
        self._again: set[str] = set()

    def kick(self, peer: str | None = None) -> None:
        """Try to deliver now (after a change, on the peer's presence, at start-up)."""
        for p in (peer,) if peer else self.peers:
            if p not in self.peers:
                continue
            if p in self._draining:
                self._again.add(p)  # the running drain reads the outbox once more before it ends
                continue
            timer = self._retry.pop(p, None)
            if timer is not None:
                timer.cancel()
            self._draining[p] = asyncio.ensure_future(self._drain(p))

    async def _drain(self, peer: str) -> None:
        try:
            while True:
                self._again.discard(peer)
                queue = self.store.ownership_outbox(peer)
                if not queue and peer not in self._again:
                    self._backoff.pop(peer, None)
                    return
                for record in queue:
                    if not await self._push(peer, record):
                        self._schedule_retry(peer)
                        return
                    self.store.ack_ownership(peer, record.seq)
        finally:
            del self._draining[peer]  # at once, not in a done-callback: a kick must never be lost

    async def _push(self, peer: str, record: OwnershipRecord) -> bool:
        iq = self.component.make_iq_set(ito=peer, ifrom=self.component.boundjid)
        iq["iot_owner"]["record"] = record
        try:
            await iq.send(timeout=PUSH_TIMEOUT)
        except (IqError, IqTimeout) as exc:
            reason = exc.iq["error"]["condition"] if isinstance(exc, IqError) else "timeout"
            log.info("ownership feed: %s did not take seq %d (%s); will retry", peer, record.seq, reason)
            return False
        log.info("ownership feed: %s has seq %d for %s", peer, record.seq, record.thing)
        return True

    def _schedule_retry(self, peer: str) -> None:
        delay = self._backoff.get(peer, FIRST_RETRY)
        self._backoff[peer] = min(MAX_RETRY, delay * 2)
        loop = asyncio.get_running_loop()
        self._retry[peer] = loop.call_later(delay, self.kick, peer)

    # -- queries from provisioning ----------------------------------------------------------
    def answer(self, iq: Iq) -> Iq:
        """`<owner thing='...'/>` get: the current record, for configured peers only."""
        if iq["from"].bare not in self.peers:
            raise Forbidden("ownership records are only for the configured provisioning servers")
        element: OwnerElement = iq["iot_owner"]
        thing = element.xml.get("thing", "")
        if not thing:
            raise BadRequest("owner: the thing attribute is required")
        asked = element["record"]
        record = self.store.ownership_of(asked.thing, asked.node)
        if record is None:
            raise ItemNotFound("no such thing in the registry")
        reply = iq.reply(clear=True)
        reply["iot_owner"]["record"] = record
        return reply
