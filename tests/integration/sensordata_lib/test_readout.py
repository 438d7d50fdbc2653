"""XEP-0323 readouts between a real device and a real application, on Prosody and ejabberd."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.helpers import error_of
from xmpp_iot.errors import Forbidden, ItemNotFound, RemoteServerTimeout
from xmpp_iot.sensordata import EnumValue, NodeRef
from xmpp_iot.trust import ControlDecision, ControlRequest, ReadDecision, ReadRequest

pytestmark = pytest.mark.integration

EVERY_TYPE = {
    "Temperature": (21.57, {"type": "numeric", "unit": "°C", "nr_decimals": 2}),
    "Label": ("Kitchen <east> & 'west'", {}),
    "Relay": (True, {"types": ("momentary", "status")}),
    "Installed": (date(2024, 3, 1), {"types": ("identity",)}),
    "LastService": (datetime(2025, 6, 30, 12, 15, 30, 250000, tzinfo=UTC), {"types": ("status",)}),
    "Runtime": (timedelta(days=3, hours=4, seconds=5.5), {"types": ("status",)}),
    "Mode": (EnumValue("eco", "HeatPumpMode"), {"type": "enum", "data_type": "HeatPumpMode"}),
    "Pulses": (123456, {}),
    "EnergyCounter": (2**40 + 7, {"type": "long", "unit": ""}),
    "WakeUp": (time(6, 30), {}),
}


def declare_every_type(source) -> None:
    for name, (value, opts) in EVERY_TYPE.items():
        source.add_field(name, lambda v=value: v, **opts)


async def test_every_value_type_arrives_typed(pair):
    declare_every_type(pair.source)
    readout = await pair.sd.read(pair.target, timeout=10)
    got = readout.by_name()
    assert set(got) == set(EVERY_TYPE)
    for name, (value, _) in EVERY_TYPE.items():
        assert got[name].value == value, name
    assert got["Temperature"].unit == "°C" and got["Temperature"].nr_decimals == 2
    assert got["Mode"].value.data_type == "HeatPumpMode"
    assert got["Installed"].types == {"identity"}
    assert got["Relay"].types == {"momentary", "status"}
    assert all(f.qos == {"automaticReadout"} for f in readout.fields)


async def test_field_and_type_filters(pair):
    declare_every_type(pair.source)
    readout = await pair.sd.read(pair.target, fields=["Temperature", "Relay"], types=["momentary"])
    assert sorted(f.name for f in readout.fields) == ["Relay", "Temperature"]
    status = await pair.sd.read(pair.target, types=["status"])
    assert {f.name for f in status.fields} == {"Relay", "LastService", "Runtime"}


async def test_nodes_behind_one_jid(pair):
    for node_id, volts in (("Meter1", 230.1), ("Meter2", 229.4), ("Meter3", 231.0)):
        pair.source.add_field("voltage.L1", lambda v=volts: v, node=NodeRef(node_id), unit="V", nr_decimals=1)
    readout = await pair.sd.read(pair.target, nodes=["Meter1", "Meter3"])
    assert {(f.node.node_id, f.value) for f in readout.fields} == {("Meter1", 230.1), ("Meter3", 231.0)}


async def test_queued_readout_sends_started_then_done(pair):
    pair.source.add_field("Power", lambda: 1500.0, unit="W")
    when = datetime.now(UTC) + timedelta(seconds=1)
    pending = await pair.sd.request(pair.target, when=when)
    assert pending.readout.queued
    assert not pending.started.is_set()
    readout = await pending.result(timeout=10)
    assert readout.started and readout.value("Power") == 1500.0
    assert datetime.now(UTC) >= when


async def test_cancel_a_queued_readout(pair):
    pair.source.add_field("Power", lambda: 1500.0, unit="W")
    pending = await pair.sd.request(pair.target, when=datetime.now(UTC) + timedelta(seconds=30))
    await pending.cancel()
    # the device forgot it: a second cancel is item-not-found
    again = await pair.sd.request(pair.target, when=datetime.now(UTC) + timedelta(seconds=30))
    await again.cancel()
    err = await error_of(again.cancel())
    assert isinstance(err, ItemNotFound)


async def test_historical_readout_from_local_history(pair):
    values = iter([10.0, 11.0, 12.0, 13.0])
    pair.source.add_field("Flow", lambda: next(values), unit="l/s", nr_decimals=1)
    pair.source.history.max_per_field = 3
    pair.source.history.period = "historicalSecond"
    stamps = []
    for _ in range(4):
        sampled = await pair.source.sample()
        stamps.append(sampled[0].timestamp)
        await asyncio.sleep(0.01)
    readout = await pair.sd.read(pair.target, types=["historical"])
    assert [f.value for f in readout.fields] == [11.0, 12.0, 13.0]  # bounded: the oldest fell off
    assert all(f.types == {"historicalSecond"} for f in readout.fields)
    window = await pair.sd.read(pair.target, types=["historicalSecond"], from_=stamps[2], to=stamps[3])
    assert [f.value for f in window.fields] == [12.0, 13.0]


async def test_failing_sensor_gives_failure_not_silence(pair):
    def broken() -> float:
        raise OSError("i2c bus timeout")

    pair.source.add_field("Humidity", broken, unit="%")
    pair.source.add_field("Power", lambda: 5.0, unit="W")
    readout = await pair.sd.read(pair.target)
    assert readout.errors and "i2c bus timeout" in readout.errors[0].message


async def test_stranger_is_refused(pair, make_client):
    from tests.integration.sensordata_lib.conftest import enable

    pair.source.add_field("Power", lambda: 5.0, unit="W")
    stranger = enable(await make_client("stranger", registry=None))
    err = await error_of(stranger.xmpp.plugin["iot_sensordata"].read(pair.target, timeout=5))
    assert isinstance(err, Forbidden)


async def test_timeout_cancels(pair):
    async def slow() -> float:
        await asyncio.sleep(5)
        return 1.0

    pair.source.add_field("Slow", slow, unit="W")
    err = await error_of(pair.sd.read(pair.target, timeout=1))
    assert isinstance(err, RemoteServerTimeout)


async def test_device_stops_a_readout_that_runs_too_long(pair):
    async def stuck() -> float:
        await asyncio.sleep(30)
        return 1.0

    pair.source.add_field("Stuck", stuck, unit="W")
    pair.device.xmpp.plugin["iot_sensordata"].max_readout_seconds = 0.5
    readout = await pair.sd.read(pair.target, timeout=10)
    assert readout.fields == []
    assert "took longer than 0.5 s" in readout.errors[0].message


async def test_device_advertises_both_features(pair):
    info = await pair.app.xmpp.plugin["xep_0030"].get_info(jid=pair.target, timeout=10)
    features = info["disco_info"]["features"]
    assert "urn:xmpp:iot:sensordata" in features and "urn:xmpp:iot:control" in features


class SubsetGate:
    """Allows one node and momentary values only, as a provisioning server restricting a reader would."""

    async def is_friend(self, jid: str) -> bool:
        return True

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        return ReadDecision(allowed=True, nodes=(NodeRef("Meter1"),), field_types=frozenset({"momentary"}))

    async def can_control(self, request: ControlRequest) -> ControlDecision:
        return ControlDecision(allowed=False)


async def test_restricted_nodes_and_types_are_honoured(pair):
    for node_id in ("Meter1", "Meter2"):
        pair.source.add_field("voltage.L1", lambda: 230.0, node=NodeRef(node_id), unit="V")
        pair.source.add_field("SerialNumber", lambda n=node_id: n, node=NodeRef(node_id), types=("identity",))
    pair.device.xmpp.plugin["iot_sensordata"].gate = SubsetGate()
    readout = await pair.sd.read(pair.target)  # asks for everything
    assert [(f.node.node_id, f.name) for f in readout.fields] == [("Meter1", "voltage.L1")]
    err = await error_of(pair.sd.read(pair.target, nodes=["Meter2"]))
    assert isinstance(err, Forbidden)
    err = await error_of(pair.sd.read(pair.target, types=["identity"]))
    assert isinstance(err, Forbidden)
