"""Fixtures of the sensor-data component tests: the component as a real subprocess, a pub/sub
admin (scratch6) that creates measurement nodes, and helpers to publish measurements."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pytest
from slixmpp import ComponentXMPP

import xmpp_iot.sensordata  # noqa: F401 - registers the iot_sensordata plugin
from xmpp_iot.client import IotClient
from xmpp_iot.connection import start_session, stop_session
from xmpp_iot.devserver import DevServer, ServerInfo
from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.measurement import MeterReadout, Phase, Quantity, Reading, encode_element
from xmpp_iot.nodes import measurement_node

T = TypeVar("T")
NODE_ADMIN = "scratch6"
BASE_ARGS = [
    "--discover-interval",
    "0.3",
    "--batch-delay",
    "0.02",
    "--max-values",
    "500",
    "--catch-up",
    "1000",
]


class SensordataRunner:
    """The shared component process; tests may restart it (SIGKILL, other options) on the same db."""

    def __init__(self, info: ServerInfo) -> None:
        self.info = info
        self.jid = info.component_jid("sensordata")
        workdir = Path(info.workdir)
        self.db = workdir / "sensordata.sqlite3"
        self.log_path = workdir / "sensordata.log"
        self.process: ComponentProcess | None = None
        self.extra_args: list[str] = []

    def start(self, extra_args: list[str] | None = None) -> ComponentProcess:
        """Start with ``extra_args``; with neither --provisioning nor --reader, explicitly open to the domain
        (the component refuses to start without a read policy)."""
        self.extra_args = list(extra_args or [])
        policy = [] if {"--provisioning", "--reader"} & set(self.extra_args) else ["--open-to-domain"]
        self.process = ComponentProcess(
            "sensordata", self.info, jid=self.jid, db=self.db, log_path=self.log_path,
            extra_args=["--pubsub", self.info.pubsub_jid, *BASE_ARGS, *policy, *self.extra_args],
        ).start()  # fmt: skip
        return self.process

    def stop(self) -> int | None:
        return self.process.stop() if self.process else None

    def log(self) -> str:
        return self.process.log() if self.process else ""


@pytest.fixture(scope="session")
def sensordata(xmpp_server: DevServer) -> Iterator[SensordataRunner]:
    runner = SensordataRunner(xmpp_server.info)
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


@pytest.fixture
def sensordata_default(sensordata: SensordataRunner) -> SensordataRunner:
    """The shared component, restarted with the default options if a test changed them."""
    if sensordata.process is None or not sensordata.process.running or sensordata.extra_args:
        sensordata.stop()
        sensordata.start()
    return sensordata


class NodeAdmin:
    """An in-process component that is a pub/sub admin: creates meas/<device> nodes for devices."""

    def __init__(self, xmpp: ComponentXMPP, pubsub: str) -> None:
        self.xmpp = xmpp
        self.pubsub = pubsub

    async def create_measurement_node(self, device: str) -> str:
        node = measurement_node(device)
        ps = self.xmpp.plugin["xep_0060"]
        form = self.xmpp.plugin["xep_0004"].make_form("submit")
        form.add_field("FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#node_config")
        form.add_field("pubsub#max_items", value="500")  # Prosody memory storage refuses the 1000th item
        await ps.create_node(self.pubsub, node, config=form, ifrom=self.xmpp.boundjid)
        await ps.modify_affiliations(
            self.pubsub, node, affiliations=[(device, "publisher")], ifrom=self.xmpp.boundjid
        )
        return node


@pytest.fixture
async def node_admin(server_info: ServerInfo) -> AsyncIterator[NodeAdmin]:
    jid = server_info.component_jid(NODE_ADMIN)
    xmpp = ComponentXMPP(
        jid, server_info.secret(jid), server_info.host, server_info.port_for(jid), fix_error_ns=True
    )
    for plugin in ("xep_0030", "xep_0004", "xep_0060"):
        xmpp.register_plugin(plugin)
    await start_session(xmpp, timeout=15)
    try:
        yield NodeAdmin(xmpp, server_info.pubsub_jid)
    finally:
        await stop_session(xmpp)


def meter_readout(device: str, t: datetime, power: float, energy: float) -> MeterReadout:
    return MeterReadout(
        device=device,
        timestamp=t,
        readings=(
            Reading.of(Quantity.ACTIVE_POWER, power, t, Phase.TOTAL),
            Reading.of(Quantity.ENERGY_IMPORT, energy, t),
        ),
    )


async def publish(device: IotClient, pubsub: str, payload: MeterReadout, item_id: str | None = None) -> None:
    await device.xmpp.plugin["xep_0060"].publish(
        pubsub, measurement_node(device.jid.bare), id=item_id, payload=encode_element(payload), timeout=15
    )


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 15.0, every: float = 0.2) -> T:
    """Retry ``check`` until it returns without raising (AssertionError or a protocol error)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(every)
