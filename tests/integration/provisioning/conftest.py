"""Fixtures for the provisioning tests: the shared provisioning process, an ownership feed
(a scratch component standing in for the registry) and devices that delegate trust."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from xml.etree.ElementTree import SubElement

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from slixmpp import ComponentXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

import xmpp_iot.provisioning.device  # noqa: F401 - registers the iot_provisioning plugin
from xmpp_iot.client import IotClient
from xmpp_iot.connection import start_session, stop_session
from xmpp_iot.devserver import ServerInfo
from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.errors import ItemNotFound, reply_error
from xmpp_iot.ownership import NS as OWNERSHIP_NS
from xmpp_iot.ownership import OwnershipRecord

FEED = "scratch4"


class OwnershipFeed:
    """Sends registry-style ownership pushes to the provisioning server."""

    def __init__(self, xmpp: ComponentXMPP, provisioning: str) -> None:
        self.xmpp = xmpp
        self.provisioning = provisioning

    def answer_queries(self, owners: dict[str, str]) -> None:
        """Answer the provisioning server's ownership queries like the registry would."""

        def on_query(iq) -> None:
            thing = iq.xml[0].get("thing", "")
            if thing not in owners:
                reply_error(iq, ItemNotFound("unknown thing")).send()
                return
            reply = iq.reply()
            reply["iot_owner"]["record"] = OwnershipRecord(
                thing=thing, owner=owners[thing], seq=time.time_ns()
            )
            reply.send()

        self.xmpp.register_handler(Callback("owner queries", StanzaPath("iq@type=get/iot_owner"), on_query))

    async def push(self, thing: str, owner: str, seq: int | None = None, to: str | None = None) -> None:
        iq = self.xmpp.make_iq_set(ito=to or self.provisioning, ifrom=self.xmpp.boundjid)
        SubElement(
            iq.xml, f"{{{OWNERSHIP_NS}}}owner",
            thing=thing, owner=owner, public="true", seq=str(seq if seq is not None else time.time_ns()),
        )  # fmt: skip
        await iq.send(timeout=10)


@pytest.fixture
async def ownership_feed(server_info: ServerInfo, provisioning_process) -> AsyncIterator[OwnershipFeed]:
    jid = server_info.component_jid(FEED)
    xmpp = ComponentXMPP(jid, server_info.secret(FEED), server_info.host, server_info.port_for(jid),
                         fix_error_ns=True)  # fmt: skip
    await start_session(xmpp, timeout=10)
    try:
        yield OwnershipFeed(xmpp, provisioning_process.jid)
    finally:
        await stop_session(xmpp)


DeviceFactory = Callable[..., Awaitable[IotClient]]


@pytest.fixture
def make_device(make_client, provisioning_process) -> DeviceFactory:
    """A connected client with the iot_provisioning plugin, trusting the shared server."""

    async def factory(prefix: str = "meter", *, server: str | None = "default", **kwargs) -> IotClient:
        client = await make_client(prefix, connect=False, **kwargs)
        jid = provisioning_process.jid if server == "default" else server
        client.xmpp.register_plugin("iot_provisioning", pconfig={"server": jid})
        await client.connect()
        await client.xmpp.plugin["iot_provisioning"].find_server()
        return client

    return factory


@pytest.fixture
def provisioning_jid(provisioning_process) -> str:
    return provisioning_process.jid


OWN = "scratch5"
ADMIN = "provadmin"


@pytest.fixture
def signing_key_pem(tmp_path) -> tuple[Path, ed25519.Ed25519PrivateKey]:
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "signing-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path, key


def _own_process(server_info: ServerInfo, tmp_path: Path, key_path: Path, *extra: str) -> ComponentProcess:
    return ComponentProcess(
        "provisioning", server_info, jid=server_info.component_jid(OWN), db=tmp_path / "own.sqlite3",
        log_path=tmp_path / "own.log",
        extra_args=["--registry", server_info.component_jid(FEED), "--signing-key", str(key_path),
                    "--trusted-service", server_info.component_jid(FEED),
                    "--token-lifetime", "4", "--question-timeout", "1",
                    "--admin", f"{ADMIN}@{server_info.domain}", *extra],
    )  # fmt: skip


@pytest.fixture
def own_provisioning(server_info: ServerInfo, tmp_path, signing_key_pem) -> Iterator[ComponentProcess]:
    """A provisioning process of this test's own (scratch5): known signing key, 4 s tokens,
    so it can be killed, restarted and attacked without touching the shared one."""
    process = _own_process(server_info, tmp_path, signing_key_pem[0]).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def challenging_provisioning(
    server_info: ServerInfo, tmp_path, signing_key_pem
) -> Iterator[ComponentProcess]:
    """Like own_provisioning, but it challenges every certificate token it is shown."""
    process = _own_process(server_info, tmp_path, signing_key_pem[0], "--challenge-tokens").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def pubsub_provisioning(server_info: ServerInfo, tmp_path, signing_key_pem) -> Iterator[ComponentProcess]:
    """Like own_provisioning, owning nodes on the server's pub/sub service."""
    process = _own_process(
        server_info, tmp_path, signing_key_pem[0], "--pubsub", server_info.pubsub_jid
    ).start()
    try:
        yield process
    finally:
        process.stop()
