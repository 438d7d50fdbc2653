"""A stand-in provisioning server: an in-process slixmpp component that records ownership pushes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from slixmpp import ComponentXMPP, Iq
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from xmpp_iot.connection import start_session, stop_session
from xmpp_iot.devserver import ServerInfo
from xmpp_iot.ownership import OwnershipRecord


class FakeProvisioning(ComponentXMPP):
    """Acknowledges every `<owner/>` push and remembers it, in arrival order."""

    def __init__(self, info: ServerInfo, name: str) -> None:
        jid = info.component_jid(name)
        super().__init__(jid, info.components[jid], info.host, info.port_for(jid), fix_error_ns=True)
        self.pushes: list[OwnershipRecord] = []
        self._arrived = asyncio.Event()
        self.register_handler(Callback("owner push", StanzaPath("iq@type=set/iot_owner"), self._on_push))

    def _on_push(self, iq: Iq) -> None:
        self.pushes.append(iq["iot_owner"]["record"])
        iq.reply(clear=True).send()
        self._arrived.set()

    async def wait_pushes(self, count: int, timeout: float = 15.0) -> list[OwnershipRecord]:
        async with asyncio.timeout(timeout):
            while len(self.pushes) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.pushes

    async def wait_record(
        self, wanted: Callable[[OwnershipRecord], bool], timeout: float = 15.0
    ) -> OwnershipRecord:
        async with asyncio.timeout(timeout):
            while True:
                for record in self.pushes:
                    if wanted(record):
                        return record
                self._arrived.clear()
                await self._arrived.wait()

    async def query(self, registry: str, thing: str) -> OwnershipRecord:
        iq = self.make_iq_get(ito=registry, ifrom=self.boundjid)
        iq["iot_owner"].xml.set("thing", thing)
        reply = await iq.send(timeout=10)
        return reply["iot_owner"]["record"]


FakeFactory = Callable[[str], Awaitable[FakeProvisioning]]


@pytest.fixture
async def fake_provisioning(server_info: ServerInfo) -> AsyncIterator[FakeFactory]:
    """Connect stand-in provisioning components by scratch name; disconnected after the test."""
    made: list[FakeProvisioning] = []

    async def factory(name: str) -> FakeProvisioning:
        component = FakeProvisioning(server_info, name)
        await start_session(component, timeout=15)
        made.append(component)
        return component

    yield factory
    await stop_session(*made)
