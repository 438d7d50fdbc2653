"""Small helpers for integration tests: raw IQs, waiting for events."""

from __future__ import annotations

import asyncio
from xml.etree import ElementTree as ET

from slixmpp import Iq
from slixmpp.exceptions import IqError, IqTimeout

from xmpp_iot.client import IotClient
from xmpp_iot.errors import ProtocolError, from_iq_error


async def send_raw(client: IotClient, to: str, payload: str, itype: str = "set", timeout: float = 10) -> Iq:
    """Send an IQ with an arbitrary XML payload; raise our ProtocolError on an error reply."""
    iq = client.xmpp.make_iq(ito=to, itype=itype)
    iq.xml.append(ET.fromstring(payload))
    try:
        return await iq.send(timeout=timeout)
    except (IqError, IqTimeout) as exc:
        raise from_iq_error(exc) from None


async def error_of(coro) -> ProtocolError:
    """Await `coro` and return the ProtocolError it raised (fail if it succeeded)."""
    try:
        result = await coro
    except ProtocolError as exc:
        return exc
    raise AssertionError(f"expected a stanza error, got {result!r}")


class EventRecorder:
    """Collect slixmpp events of one name, and wait for the n-th."""

    def __init__(self, client: IotClient, event: str) -> None:
        self.items: list[object] = []
        self._changed = asyncio.Event()
        client.xmpp.add_event_handler(event, self._record)

    def _record(self, item: object) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[object]:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.items
