"""Fixtures for the XEP-0323/0325 library tests: a device and an application as real clients."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import xmpp_iot.control
import xmpp_iot.sensordata  # noqa: F401  (registers the iot_sensordata plugin)
from xmpp_iot.client import IotClient
from xmpp_iot.control import ControlDevice
from xmpp_iot.sensordata import DeviceSource, LocalPolicyGate
from xmpp_iot.sensordata.plugin import XEP_0323


@dataclass
class Pair:
    """A device and an application the device's local policy allows."""

    device: IotClient
    app: IotClient
    source: DeviceSource
    controls: ControlDevice
    gate: LocalPolicyGate

    @property
    def sd(self) -> XEP_0323:
        return self.app.xmpp.plugin["iot_sensordata"]

    @property
    def ctl(self):
        return self.app.xmpp.plugin["iot_control"]

    @property
    def target(self) -> str:
        return str(self.device.jid)


def enable(client: IotClient) -> IotClient:
    client.xmpp.register_plugin("iot_sensordata")
    client.xmpp.register_plugin("iot_control")
    return client


@pytest.fixture
async def pair(make_client) -> Pair:
    app = enable(await make_client("app", registry=None))
    device = enable(await make_client("dev", registry=None))
    source = DeviceSource()
    controls = ControlDevice()
    gate = LocalPolicyGate(device.xmpp, allow=[app.jid.bare])
    device.xmpp.plugin["iot_sensordata"].serve(source, gate)
    device.xmpp.plugin["iot_control"].serve(controls, gate)
    return Pair(device, app, source, controls, gate)
