"""The sensor-data component on the wire: the library's XEP-0323 responder over the historian,
plus the pub/sub feed that fills it.

Trust is decided per device inside :class:`~.service.Historian` (a readout may name nodes of
several devices, each with its own owner and rules), so the responder itself gets an open gate.
With a provisioning server, each device's gate is a ``DelegatedGate``: ``canRead`` asked on the
device's behalf, which the server answers only for its ``--trusted-service`` JIDs.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import xmpp_iot.sensordata  # noqa: F401 - registers the iot_sensordata plugin
from xmpp_iot.component import IotComponent
from xmpp_iot.provisioning.device import DelegatedGate
from xmpp_iot.sensordata import NS as SENSORDATA_NS
from xmpp_iot.sensordata import OpenGate

from .feed import MeasurementFeed
from .ingest import Ingestor
from .service import GateFor, Historian, Limits
from .source import HistorianSource
from .store import SeriesStore

__all__ = ["CONCENTRATOR_NS", "SensorDataComponent"]

log = logging.getLogger("xmpp_iot.sensordata")
CONCENTRATOR_NS = "urn:xmpp:iot:concentrators"


class SensorDataComponent(IotComponent):
    """Subscribes to measurement nodes, stores their items and answers readouts about them."""

    identity_name = "xmpp-iot sensor-data historian"
    features = (SENSORDATA_NS,)

    def __init__(
        self,
        jid: str,
        secret: str,
        host: str,
        port: int,
        store: SeriesStore,
        executor: ThreadPoolExecutor,
        *,
        pubsub: str,
        nodes: list[str] | None = None,
        discover: bool = True,
        discover_interval: float = 60.0,
        catch_up: int = 1000,
        gate_for: GateFor | None = None,
        provisioning: str | None = None,
        limits: Limits | None = None,
        max_batch: int = 2000,
        batch_delay: float = 0.05,
        raw_retention: float | None = None,
        allowed_domains: list[str] | None = None,
    ) -> None:
        super().__init__(jid, secret, host, port, allowed_domains=allowed_domains)
        self.store = store
        limits = limits or Limits()
        self.ingestor = Ingestor(
            store, executor, max_batch=max_batch, max_delay=batch_delay, raw_retention=raw_retention
        )
        if provisioning:  # ask the provisioning server as if each device asked (it must trust this JID)
            gate_for = lambda device: DelegatedGate(self, provisioning, device)  # noqa: E731
        self.historian = Historian(
            store,
            executor,
            self.ingestor,
            gate_for=gate_for,
            limits=limits,
            allowed_domains=self.allowed_domains,
        )  # the library's responder does not go through IotComponent.handle_iq: check the domain here
        self.feed = MeasurementFeed(
            self, pubsub, self.ingestor, nodes=nodes, discover=discover,
            discover_interval=discover_interval, catch_up=catch_up, node_owner=provisioning,
        )  # fmt: skip
        self.register_plugin("iot_sensordata", {"max_nodes": limits.max_nodes})
        self.plugin["iot_sensordata"].serve(HistorianSource(self.historian), OpenGate())
        self.add_event_handler("session_start", lambda _e: self.ingestor.start())
