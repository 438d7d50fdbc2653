"""The same plugins work in an external component (XEP-0114): a component reads and controls a device
(the sensor-data component polls devices this way), and a component answers readouts and control."""

from __future__ import annotations

import pytest

from tests.helpers import error_of
from xmpp_iot.component import IotComponent
from xmpp_iot.connection import start_session, stop_session
from xmpp_iot.control import ControlDevice
from xmpp_iot.sensordata import DeviceSource, LocalPolicyGate, NodeRef

pytestmark = pytest.mark.integration


@pytest.fixture
async def component(server_info):
    jid = server_info.component_jid("scratch8")
    comp = IotComponent(jid, server_info.components[jid], server_info.host, server_info.port_for(jid))
    comp.register_plugin("iot_sensordata")
    comp.register_plugin("iot_control")
    await start_session(comp)
    try:
        yield comp
    finally:
        await stop_session(comp)


async def test_component_reads_and_controls_a_device(pair, component):
    pair.source.add_field("Power", lambda: 42.0, unit="W")
    level = {"v": 0}
    pair.controls.add_parameter("Level", "int", write=lambda v: level.__setitem__("v", v), minimum=0, maximum=9)
    pair.gate.allow.add(component.boundjid.bare)
    readout = await component.plugin["iot_sensordata"].read(pair.target, timeout=10)
    assert readout.value("Power") == 42.0
    await component.plugin["iot_control"].set(pair.target, {"Level": 7})
    assert level["v"] == 7
    err = await error_of(component.plugin["iot_control"].set(pair.target, {"Level": 70}))
    assert err.condition == "bad-request"


async def test_component_answers_readouts_and_control(pair, component):
    source = DeviceSource()
    source.add_field("voltage.L1", lambda: 230.5, node=NodeRef("Meter7"), unit="V", nr_decimals=1)
    controls = ControlDevice()
    state = {"Output": False}
    controls.add_parameter("Output", "boolean", write=lambda v: state.__setitem__("Output", v),
                           node=NodeRef("Meter7"))
    gate = LocalPolicyGate(component, allow=[pair.app.jid.bare])  # no roster in a component: the list only
    component.plugin["iot_sensordata"].serve(source, gate)
    component.plugin["iot_control"].serve(controls, gate)
    target = component.boundjid.bare
    readout = await pair.sd.read(target, nodes=["Meter7"], timeout=10)
    assert readout.value("voltage.L1") == 230.5
    await pair.ctl.set(target, {"Output": True}, nodes=["Meter7"])
    assert state["Output"] is True
