"""Shared fixtures: real Prosody and ejabberd servers, our components as subprocesses, clients.

Integration tests run once per server kind. Set XMPP_IOT_TEST_SERVERS=prosody (or ejabberd)
to run against one kind only while developing.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from xmpp_iot.client import IotClient
from xmpp_iot.connection import Endpoint, Security
from xmpp_iot.devserver import DevServer, ServerInfo, make_devserver
from xmpp_iot.devserver.processes import ComponentProcess

SERVER_KINDS = [k for k in os.environ.get("XMPP_IOT_TEST_SERVERS", "prosody,ejabberd").split(",") if k]
# registry/provisioning/sensordata are the shared instances; scratch ones are for tests that
# kill or restart their own component (Prosody refuses two connections with one name).
TEST_COMPONENTS = ("registry", "provisioning", "sensordata", *(f"scratch{i}" for i in range(1, 10)))

ClientFactory = Callable[..., Awaitable[IotClient]]


@pytest.fixture(scope="session", params=SERVER_KINDS)
def xmpp_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevServer]:
    """A real XMPP server of each kind, started once per test session."""
    kind = request.param
    server = make_devserver(kind, tmp_path_factory.mktemp(kind), components=TEST_COMPONENTS)
    server.start(timeout=60)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def server_info(xmpp_server: DevServer) -> ServerInfo:
    return xmpp_server.info


@pytest.fixture(scope="session")
def registry_process(xmpp_server: DevServer) -> Iterator[ComponentProcess]:
    """The shared registry component, started through the CLI like an operator would."""
    info = xmpp_server.info
    workdir = Path(info.workdir)
    process = ComponentProcess(
        "registry",
        info,
        jid=info.component_jid("registry"),
        db=workdir / "registry.sqlite3",
        log_path=workdir / "registry.log",
        extra_args=["--provisioning", info.component_jid("provisioning")],  # the ownership feed
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def provisioning_process(xmpp_server: DevServer) -> Iterator[ComponentProcess]:
    """The shared provisioning server (XEP-0324): owners come from the shared registry, it owns
    the nodes on the server's pub/sub service, and owner questions time out after 3 s."""
    info = xmpp_server.info
    workdir = Path(info.workdir)
    process = ComponentProcess(
        "provisioning",
        info,
        jid=info.component_jid("provisioning"),
        db=workdir / "provisioning.sqlite3",
        log_path=workdir / "provisioning.log",
        extra_args=[
            "--registry", info.component_jid("registry"),
            "--registry", info.component_jid("scratch4"),
            "--pubsub", info.pubsub_jid,
            "--trusted-service", info.component_jid("sensordata"),
            "--question-timeout", "3",
        ],
    )  # fmt: skip
    process.start()
    try:
        yield process
    finally:
        process.stop()


def plaintext_endpoint(info: ServerInfo) -> Endpoint:
    """Tests opt out of TLS explicitly (loopback only); TLS itself is tested separately."""
    return Endpoint(info.host, info.c2s_port, Security.insecure_plaintext())


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def make_client(server_info: ServerInfo) -> AsyncIterator[ClientFactory]:
    """Create connected clients with fresh accounts (in-band registration); closed after the test."""
    made: list[IotClient] = []

    async def factory(
        prefix: str = "user",
        *,
        user: str | None = None,
        password: str | None = None,
        registry: str | None = "registry",
        endpoint: Endpoint | None = None,
        connect: bool = True,
    ) -> IotClient:
        name = user or unique_name(prefix)
        client = IotClient(
            f"{name}@{server_info.domain}/{prefix}",
            password or f"pw-{name}",
            endpoint or plaintext_endpoint(server_info),
            create_account=True,
            registry=server_info.component_jid(registry) if registry else None,
        )
        made.append(client)
        if connect:
            await client.connect()
        return client

    yield factory
    await asyncio.gather(*(c.close() for c in made), return_exceptions=True)
